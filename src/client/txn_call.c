/* txn_call.c -- one Percolator command (prewrite, commit, rollback, resolve, check status)
 * sent to the Region(s) holding its keys, as client-go's region request sender and
 * batch executor do.
 *
 * The store's commands take keys of one Region only (the proposer routes a batch to the
 * Region of its first key and refuses keys outside it), so a command is cut into parts
 * along Region bounds. Keys are sorted by region key, hence the keys of one Region form a
 * run: a part's attempt locates the Region of its first key, keeps the run that Region
 * holds (at most CLIENT_TXN_BATCH_KEYS keys) and splits the rest off as a new part, queued
 * on the worker thread, before sending its own. Parts therefore run concurrently, and a
 * split seen through a region error on retry just cuts the part again. The fan-out (tfan)
 * gathers the parts' outcomes and calls back once the last one finished.
 *
 * Retries are request.c's: region errors and busy stores back off; a dropped proposal is
 * retried because these commands are idempotent (a prewrite finding its own lock, a
 * commit finding its commit record), except a one-phase prewrite, whose retry would see
 * its own commit as a write conflict: its outcome is reported unknown. A prewrite part that
 * meets other txns' locks resolves them as a writer and runs again, right away when they
 * were resolved, after backoff while their owners are alive.
 *
 * Parts of a prewrite and check status make sure the store still leads the Region under a
 * lease first: they may answer without proposing (watch checks, a live lock), and a
 * deposed leader must not answer from stale data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "common/assert.h"

typedef struct tfan {
    client_txns *t;
    client_tcall_params p;
    bs_buf primary;         /* p.primary points here */
    pthread_mutex_t mu;
    size_t pending;         /* parts not finished; Invariant: > 0 until done is called */
    bool split;             /* cut into several parts: no part may commit in one phase */
    client_tcall_out out;
    client_tcall_done_fn done;
    void *arg;
} tfan;

typedef struct tpart {
    tfan *f;
    client_tcall_key *keys; /* n keys, owned; Invariant: sorted by rk, distinct, n >= 1 */
    size_t n;
    bool one_pc;            /* the last send had try_one_pc */
    bool unknown;           /* a one-phase send was dropped after acceptance */
    /* The response, kept until the part finishes. */
    txn_key_error *errors;
    size_t n_errors;
    uint64_t one_pc_commit_ts, commit_ts, lock_ttl;
    txn_status_action action;
    bool has_lock_info;
} tpart;

/* ---- keys -------------------------------------------------------------------------------- */

client_tcall_key *client_tcall_keys_new(size_t n)
{
    client_tcall_key *k = bs_calloc(n ? n : 1, sizeof(*k));
    for (size_t i = 0; i < n; i++) {
        bs_buf_init(&k[i].key);
        bs_buf_init(&k[i].rk);
        bs_buf_init(&k[i].value);
    }
    return k;
}

void client_tcall_key_set(client_tcall_key *k, bs_slice key)
{
    bs_buf_set(&k->key, key.ptr, key.len);
    bs_buf_reset(&k->rk);
    kv_region_key_append(&k->rk, key);
}

void client_tcall_keys_free(client_tcall_key *keys, size_t n)
{
    if (!keys)
        return;
    for (size_t i = 0; i < n; i++) {
        bs_buf_free(&keys[i].key);
        bs_buf_free(&keys[i].rk);
        bs_buf_free(&keys[i].value);
    }
    bs_free(keys);
}

static int key_cmp(const void *a, const void *b)
{
    const client_tcall_key *x = a, *y = b;
    return bs_slice_cmp(bs_buf_slice(&x->rk), bs_buf_slice(&y->rk));
}

size_t client_tcall_keys_sort(client_tcall_key *keys, size_t n)
{
    /* qsort is not stable: "the first kept" holds for the callers, which only pass
     * repeats that are identical (the same key met in several locks). */
    qsort(keys, n, sizeof(*keys), key_cmp);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && bs_slice_eq(bs_buf_slice(&keys[w - 1].rk), bs_buf_slice(&keys[i].rk))) {
            bs_buf_free(&keys[i].key);
            bs_buf_free(&keys[i].rk);
            bs_buf_free(&keys[i].value);
            continue;
        }
        keys[w++] = keys[i];
    }
    return w;
}

/* ---- key errors ----------------------------------------------------------------------------- */

static void key_error_copy(txn_key_error *dst, const txn_key_error *src)
{
    txn_key_error_init(dst);
    dst->kind = src->kind;
    bs_buf_set(&dst->key, src->key.ptr, src->key.len);
    bs_buf_set(&dst->primary, src->primary.ptr, src->primary.len);
    txn_lock_info_copy(&dst->lock, &src->lock);
    dst->start_ts = src->start_ts;
    dst->conflict_start_ts = src->conflict_start_ts;
    dst->conflict_commit_ts = src->conflict_commit_ts;
    dst->reason = src->reason;
    dst->commit_ts = src->commit_ts;
    dst->min_commit_ts = src->min_commit_ts;
    dst->assertion = src->assertion;
    memcpy(dst->msg, src->msg, sizeof(dst->msg));
}

static void key_errors_free(txn_key_error *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        txn_key_error_deinit(&v[i]);
    bs_free(v);
}

/* ---- parts ----------------------------------------------------------------------------------- */

static creq_step part_attempt(creq *r);
static void part_done(void *arg, client_result *res);

static void part_free(tpart *pt)
{
    client_tcall_keys_free(pt->keys, pt->n);
    key_errors_free(pt->errors, pt->n_errors);
    bs_free(pt);
}

/* Moves keys[m..n) of r's part into a new part, queued on the worker thread. */
static void split_off(creq *r, tpart *pt, size_t m)
{
    tfan *f = pt->f;
    BS_ASSERT(m > 0 && m < pt->n);
    tpart *np = bs_calloc(1, sizeof(*np));
    np->f = f;
    np->n = pt->n - m;
    np->keys = bs_calloc(np->n, sizeof(client_tcall_key));
    memcpy(np->keys, pt->keys + m, np->n * sizeof(client_tcall_key));
    pt->n = m; /* the moved keys now belong to np */
    pthread_mutex_lock(&f->mu);
    BS_ASSERT(f->pending > 0);
    f->pending++;
    f->split = true;
    pthread_mutex_unlock(&f->mu);
    creq *nr = client_req_new(r->c, CREQ_TXN, part_attempt, part_done, np);
    /* A continuation, never refused: a client closing fails it when it runs. */
    (void)client_worker_post(r->c, nr, 0, false);
}

static void on_kv_done(void *arg, const txn_kv_result *res);

/* Sends r's part to the store (r belongs to the command from here on). */
static void send(creq *r, tpart *pt)
{
    tfan *f = pt->f;
    const client_tcall_params *p = &f->p;
    txn_store *s = r->c->o.txn;
    bs_slice *keys = bs_calloc(pt->n, sizeof(bs_slice));
    for (size_t i = 0; i < pt->n; i++)
        keys[i] = bs_buf_slice(&pt->keys[i].key);
    switch (p->kind) {
    case CLIENT_TCALL_PREWRITE: {
        txn_mutation *muts = bs_calloc(pt->n, sizeof(txn_mutation));
        for (size_t i = 0; i < pt->n; i++) {
            muts[i] = pt->keys[i].m;
            muts[i].key = keys[i];
            muts[i].value = bs_buf_slice(&pt->keys[i].value);
        }
        pthread_mutex_lock(&f->mu);
        pt->one_pc = p->try_one_pc && !f->split;
        pthread_mutex_unlock(&f->mu);
        r->idempotent = !pt->one_pc;
        txn_prewrite_req q;
        memset(&q, 0, sizeof(q));
        q.mutations = muts;
        q.n_mutations = pt->n;
        q.primary = p->primary;
        q.start_ts = p->start_ts;
        q.lock_ttl = p->lock_ttl;
        q.txn_size = p->txn_size;
        q.min_commit_ts = p->min_commit_ts;
        q.assertion_level = TXN_ASSERT_OFF;
        q.try_one_pc = pt->one_pc;
        /* The command copies q before anything can complete: r may be gone on return,
         * the arrays are ours. */
        txn_kv_prewrite(s, &q, on_kv_done, r);
        bs_free(muts);
        break;
    }
    case CLIENT_TCALL_COMMIT:
        r->idempotent = true;
        txn_kv_commit(s, keys, pt->n, p->start_ts, p->commit_ts, on_kv_done, r);
        break;
    case CLIENT_TCALL_ROLLBACK:
        r->idempotent = true;
        txn_kv_batch_rollback(s, keys, pt->n, p->start_ts, on_kv_done, r);
        break;
    case CLIENT_TCALL_RESOLVE: {
        txn_resolve_txn tx = {p->start_ts, p->commit_ts};
        txn_resolve_lock_req q;
        memset(&q, 0, sizeof(q));
        q.txns = &tx;
        q.n_txns = 1;
        q.keys = keys;
        q.n_keys = pt->n;
        r->idempotent = true;
        txn_kv_resolve_lock(s, &q, on_kv_done, r);
        break;
    }
    case CLIENT_TCALL_CHECK_STATUS: {
        BS_ASSERT(pt->n == 1);
        txn_check_txn_status_req q;
        memset(&q, 0, sizeof(q));
        q.primary_key = keys[0];
        q.lock_ts = p->start_ts;
        q.caller_start_ts = p->caller_start_ts;
        q.current_ts = p->current_ts;
        q.rollback_if_not_exist = p->rollback_if_not_exist;
        /* A repeat finds the same state or the rollback it wrote. */
        r->idempotent = true;
        txn_kv_check_txn_status(s, &q, on_kv_done, r);
        break;
    }
    }
    bs_free(keys);
}

static creq_step part_attempt(creq *r)
{
    tpart *pt = r->arg;
    tfan *f = pt->f;
    creq_step s;
    bs_slice rk0 = bs_buf_slice(&pt->keys[0].rk);
    if (!client_req_locate(r, rk0, false, &s))
        return s;
    size_t m = 1;
    while (m < pt->n && m < CLIENT_TXN_BATCH_KEYS &&
           client_region_has(&r->region, bs_buf_slice(&pt->keys[m].rk)))
        m++;
    if (m < pt->n)
        split_off(r, pt, m);
    bool may_answer_unwritten =
        f->p.kind == CLIENT_TCALL_PREWRITE || f->p.kind == CLIENT_TCALL_CHECK_STATUS;
    if (may_answer_unwritten && !client_req_readable(r, rk0, &s))
        return s;
    send(r, pt);
    return STEP_ASYNC;
}

/* A prewrite part's locks were looked at (any thread): run again or give up. */
static void on_part_resolved(void *arg, int code, const char *msg, bool wait,
                             const uint64_t *pushed, size_t n_pushed)
{
    creq *r = arg;
    (void)pushed;
    BS_ASSERT(n_pushed == 0); /* a writer pushes nobody */
    if (code != BS_OK) {
        (void)client_req_fail(r, code, TXN_ERR_NONE, msg);
        client_req_finish(r);
    } else if (wait) {
        client_req_note(r, BS_EBUSY, TXN_ERR_NONE, "key is locked by a running transaction");
        client_req_retry_later(r);
    } else {
        (void)client_worker_post(r->c, r, 0, false);
    }
}

static void on_kv_done(void *arg, const txn_kv_result *res)
{
    creq *r = arg;
    tpart *pt = r->arg;
    const client_tcall_params *p = &pt->f->p;
    if (res->code != BS_OK) {
        if (pt->one_pc && res->code == BS_EPROPOSAL_DROPPED &&
            (res->error.kind == TXN_ERR_PROPOSAL_FAILED || res->error.kind == TXN_ERR_CHAIN_BROKEN))
            pt->unknown = true; /* request.c fails it: a one-phase send is not idempotent */
        client_req_write_failed(r, res->code, &res->error);
        return;
    }
    if (p->kind == CLIENT_TCALL_PREWRITE && res->n_errors > 0 &&
        res->errors[0].kind == TXN_KEY_ERR_LOCKED) {
        /* Locks come alone (any other key error is reported by itself). */
        txn_lock_info *locks = bs_calloc(res->n_errors, sizeof(txn_lock_info));
        for (size_t i = 0; i < res->n_errors; i++) {
            BS_ASSERT(res->errors[i].kind == TXN_KEY_ERR_LOCKED);
            txn_lock_info_init(&locks[i]);
            txn_lock_info_copy(&locks[i], &res->errors[i].lock);
        }
        size_t n = res->n_errors;
        client_resolve_locks(pt->f->t, locks, n, 0, on_part_resolved, r);
        for (size_t i = 0; i < n; i++)
            txn_lock_info_deinit(&locks[i]);
        bs_free(locks);
        return;
    }
    key_errors_free(pt->errors, pt->n_errors);
    pt->errors = NULL;
    pt->n_errors = res->n_errors;
    if (res->n_errors) {
        pt->errors = bs_calloc(res->n_errors, sizeof(txn_key_error));
        for (size_t i = 0; i < res->n_errors; i++)
            key_error_copy(&pt->errors[i], &res->errors[i]);
    }
    pt->one_pc_commit_ts = pt->one_pc ? res->one_pc_commit_ts : 0;
    pt->commit_ts = res->commit_ts;
    pt->lock_ttl = res->lock_ttl;
    pt->action = res->action;
    pt->has_lock_info = res->has_lock_info;
    r->res.code = BS_OK;
    client_req_finish(r);
}

/* The creq of a part finished (any thread): fold its outcome into the fan-out. */
static void part_done(void *arg, client_result *res)
{
    tpart *pt = arg;
    tfan *f = pt->f;
    client_tcall_out *o = &f->out;
    pthread_mutex_lock(&f->mu);
    o->parts++;
    o->unknown |= pt->unknown;
    o->one_pc_tried |= pt->one_pc;
    if (res->code != BS_OK) {
        if (o->code == BS_OK) {
            o->code = res->code;
            o->kind = res->kind;
            snprintf(o->msg, sizeof(o->msg), "%s", res->msg[0] ? res->msg : bs_strerror(res->code));
        }
    } else {
        if (pt->n_errors) {
            o->errors = bs_realloc(o->errors, (o->n_errors + pt->n_errors) * sizeof(txn_key_error));
            memcpy(o->errors + o->n_errors, pt->errors, pt->n_errors * sizeof(txn_key_error));
            o->n_errors += pt->n_errors;
            bs_free(pt->errors); /* the entries moved */
            pt->errors = NULL;
            pt->n_errors = 0;
        }
        if (pt->one_pc_commit_ts)
            o->one_pc_commit_ts = pt->one_pc_commit_ts;
        if (f->p.kind == CLIENT_TCALL_CHECK_STATUS) {
            o->commit_ts = pt->commit_ts;
            o->lock_ttl = pt->lock_ttl;
            o->action = pt->action;
            o->has_lock_info = pt->has_lock_info;
        }
    }
    BS_ASSERT(f->pending > 0);
    bool last = --f->pending == 0;
    pthread_mutex_unlock(&f->mu);
    part_free(pt);
    if (!last)
        return;
    /* A one-phase commit needs the whole txn in one request. */
    BS_ASSERT(!o->one_pc_commit_ts || o->parts == 1);
    f->done(f->arg, o);
    key_errors_free(o->errors, o->n_errors);
    bs_buf_free(&f->primary);
    pthread_mutex_destroy(&f->mu);
    bs_free(f);
}

void client_tcall_start(client_txns *t, const client_tcall_params *p, client_tcall_key *keys,
                        size_t n, client_tcall_done_fn done, void *arg)
{
    BS_ASSERT(n >= 1);
    for (size_t i = 1; i < n; i++) /* Invariant of a part: sorted, distinct */
        BS_DASSERT(bs_slice_cmp(bs_buf_slice(&keys[i - 1].rk), bs_buf_slice(&keys[i].rk)) < 0);
    BS_ASSERT(p->kind != CLIENT_TCALL_CHECK_STATUS || n == 1);
    tfan *f = bs_calloc(1, sizeof(*f));
    f->t = t;
    f->p = *p;
    bs_buf_init(&f->primary);
    bs_buf_append_slice(&f->primary, p->primary);
    f->p.primary = bs_buf_slice(&f->primary);
    pthread_mutex_init(&f->mu, NULL);
    f->pending = 1;
    f->done = done;
    f->arg = arg;
    tpart *pt = bs_calloc(1, sizeof(*pt));
    pt->f = f;
    pt->keys = keys;
    pt->n = n;
    creq *r = client_req_new(t->c, CREQ_TXN, part_attempt, part_done, pt);
    client_req_run(r);
}
