/* multi.c -- the multi-key raw commands Redis makes atomic (MSET, MSETNX, DEL, EXISTS,
 * RENAME, RENAMENX, COPY), run on one store as one command.
 *
 * Why not chain like single-key commands (command.c)? A multi-key command reads several
 * keys and would have to overlay several pending chains and fail when any of them breaks,
 * and its answers (DEL's count, MSETNX's refusal) would rest on values that may vanish.
 * Instead it waits: holding the latches of all its keys it asks the lock table to call it
 * back once each key's chain is empty (txn_cm_wait_key). No new record can join those chains
 * while the latches are held, so from then on the engine holds every acknowledged write of
 * the keys, one snapshot gives a consistent view of all of them, and the command's own
 * records are always the heads of their chains: nobody but the command itself unlinks them.
 * Waiting is a continuation, never a blocked thread: the wait completes on the thread that
 * applied the last pending write.
 *
 * Life of a command (multi_cmd):
 *   start    validate, copy the request, map request keys to distinct keys (sorted), queue
 *            on the latches of the distinct keys;
 *   wait     (latches held) one txn_cm_wait_key per distinct key, in order;
 *   run      look for a Percolator lock on every key (one point read each; EXISTS minds
 *            only Put/Delete locks, as a read): if there is one, release the latches,
 *            resolve it or wait for its live txn (raw_lock.c), and start over from the
 *            latches -- the stopped run changed nothing. Otherwise
 *            read every key from one snapshot, evaluate the op over the keys' states in
 *            request order (so DEL k k sees its own delete), then either answer (nothing to
 *            write) or link one record per written key, pick ts above the causal ts, max_ts
 *            and every key's newest version (MSET with blind writes reads nothing: its ts
 *            comes from the causal ts alone, command.c), and propose one batch;
 *   release  the latches, as soon as the proposer has the batch (the records keep the
 *            written keys from readers and let later single-key commands chain on them);
 *   done     the proposer reports the apply or the failure; the records leave the table and
 *            the result is delivered.
 *
 * Lifetime: refs counts the run in progress (or the lock resolution or wait standing in for
 * the next one) and an outstanding proposal. Latch wake-ups and
 * wait completions re-enter through the trampoline (txn_int.h), so a queue
 * of multi commands on one key never recurses. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/clock.h"
#include "txn/txn_int.h"

typedef struct mkey {
    bs_buf key;      /* owned API v2 key */
    txn_cur cur;     /* the key's state: read from the snapshot, then evolved by the op */
    txn_write w;     /* what the command writes to the key (NONE: nothing) */
    txn_pending rec; /* the lock-table record while w is pending */
} mkey;

typedef struct multi_cmd {
    txn_store *s;
    txn_multi_op op;
    unsigned flags;
    size_t n;        /* request keys */
    size_t *idx;     /* request key i is distinct key idx[i] */
    bs_buf *values;  /* MSET/MSETNX: n values (owned) */
    mkey *k;         /* distinct keys, in key order */
    size_t nk;
    txn_latch_lock latch;
    txn_lock_wait lock;   /* a Percolator lock met by a run, and the wait for it */
    size_t wait_i;        /* next distinct key to wait for; Invariant: wait_i <= nk */
    atomic_int wait_turn; /* two-party hand-off of one txn_cm_wait_key (see step) */
    txn_multi_result res;
    txn_multi_done_fn cb;
    void *cb_arg;
    atomic_int refs;
    atomic_bool delivered;
    txn_tramp tramp; /* latch wake-ups and wait completions (txn_int.h) */
} multi_cmd;

/* ---- command objects ------------------------------------------------------------------ */

static void cmd_free(multi_cmd *m)
{
    for (size_t i = 0; i < m->nk; i++) {
        BS_ASSERT(!m->k[i].rec.linked);
        bs_buf_free(&m->k[i].key);
        txn_cur_deinit(&m->k[i].cur);
        txn_write_deinit(&m->k[i].w);
        txn_write_deinit(&m->k[i].rec.write);
    }
    for (size_t i = 0; m->values && i < m->n; i++)
        bs_buf_free(&m->values[i]);
    txn_latch_lock_deinit(&m->latch);
    txn_lock_wait_deinit(&m->lock);
    bs_free(m->values);
    bs_free(m->idx);
    bs_free(m->k);
    bs_free(m);
}

static void cmd_unref(multi_cmd *m)
{
    if (atomic_fetch_sub(&m->refs, 1) == 1)
        cmd_free(m);
}

/* Delivers the result exactly once; code != BS_OK turns it into that error. */
static void deliver(multi_cmd *m, int code, txn_error_kind kind, const char *detail)
{
    BS_ASSERT(!atomic_exchange(&m->delivered, true));
    if (code != BS_OK) {
        m->res.code = txn_error_set(&m->res.error, code, kind, detail);
        m->res.ts = 0;
        m->res.count = 0;
        m->res.applied = false;
    }
    m->cb(m->cb_arg, &m->res);
}

/* Validation failure: the command never started (no latch, no record). */
static void reject(txn_multi_done_fn cb, void *arg, int code, txn_error_kind kind,
                   const char *detail)
{
    txn_multi_result res;
    memset(&res, 0, sizeof(res));
    res.code = txn_error_set(&res.error, code, kind, detail);
    cb(arg, &res);
}

/* ---- the lock table ------------------------------------------------------------------------ */

/* Our records head their chains (see the file comment), so the manager never hands one
 * back to us: only this command unlinks them. */
static void on_record(void *owner, txn_pending *rec, bool ok)
{
    (void)owner;
    (void)rec;
    (void)ok;
    BS_UNREACHABLE();
}

/* Takes every linked record of m out of the table: code BS_OK = the batch applied, else
 * its failure, which single-key commands chained behind us fail with (txn.h). */
static void unlink_all(multi_cmd *m, int code)
{
    txn_cm *cm = txn_store_cm(m->s);
    for (size_t i = 0; i < m->nk; i++) {
        if (!m->k[i].rec.linked)
            continue;
        bool unlinked = code == BS_OK ? txn_cm_pending_done(cm, &m->k[i].rec, true)
                                      : txn_cm_pending_fail(cm, &m->k[i].rec, code);
        BS_ASSERT(unlinked);
    }
}

static void on_proposal_done(void *arg, int code, const bs_err *err)
{
    multi_cmd *m = arg;
    unlink_all(m, code);
    deliver(m, code, TXN_ERR_PROPOSAL_FAILED, code == BS_OK || !err ? NULL : err->msg);
    cmd_unref(m); /* the proposal's ref */
}

/* ---- evaluation: the keys' states -> writes and result ------------------------------------ */

static void put_value(mkey *k, bs_slice value, uint64_t expire_ms)
{
    k->w.kind = TXN_WRITE_PUT;
    bs_buf_set(&k->w.value, value.ptr, value.len);
    k->w.expire_ms = expire_ms;
}

static uint64_t expire_of(const txn_cur *c)
{
    return c->has_expire ? c->expire_ms : 0;
}

/* Decides the writes and the result from the keys' current states. BS_OK, or an error with
 * nothing to write. */
static int eval(multi_cmd *m)
{
    switch (m->op) {
    case TXN_MULTI_MSETNX:
        for (size_t i = 0; i < m->nk; i++)
            if (m->k[i].cur.exists)
                return BS_OK; /* applied stays false */
        /* fall through */
    case TXN_MULTI_MSET:
        for (size_t i = 0; i < m->n; i++) /* request order: the last value of a key wins */
            put_value(&m->k[m->idx[i]], bs_buf_slice(&m->values[i]), 0);
        m->res.applied = true;
        return BS_OK;
    case TXN_MULTI_DEL:
        for (size_t i = 0; i < m->n; i++) {
            mkey *k = &m->k[m->idx[i]];
            if (!k->cur.exists)
                continue;
            k->cur.exists = false; /* a second DEL of the key in this command finds it gone */
            k->w.kind = TXN_WRITE_DELETE;
            m->res.count++;
        }
        m->res.applied = m->res.count > 0;
        return BS_OK;
    case TXN_MULTI_EXISTS:
        for (size_t i = 0; i < m->n; i++)
            m->res.count += m->k[m->idx[i]].cur.exists ? 1 : 0;
        m->res.applied = m->res.count > 0;
        return BS_OK;
    case TXN_MULTI_RENAME:
    case TXN_MULTI_RENAMENX: {
        mkey *src = &m->k[m->idx[0]], *dst = &m->k[m->idx[1]];
        if (!src->cur.exists)
            return txn_error_set(&m->res.error, BS_NOTFOUND, TXN_ERR_NONE, "no such key");
        if (src == dst) { /* Redis: OK for RENAME, 0 for RENAMENX, nothing written */
            m->res.applied = m->op == TXN_MULTI_RENAME;
            return BS_OK;
        }
        if (m->op == TXN_MULTI_RENAMENX && dst->cur.exists)
            return BS_OK;
        put_value(dst, bs_buf_slice(&src->cur.value), expire_of(&src->cur));
        src->w.kind = TXN_WRITE_DELETE;
        m->res.applied = true;
        return BS_OK;
    }
    case TXN_MULTI_COPY: {
        mkey *src = &m->k[m->idx[0]], *dst = &m->k[m->idx[1]];
        BS_ASSERT(src != dst); /* refused at validation */
        if (!src->cur.exists || (dst->cur.exists && !(m->flags & TXN_MULTI_REPLACE)))
            return BS_OK;
        put_value(dst, bs_buf_slice(&src->cur.value), expire_of(&src->cur));
        m->res.applied = true;
        return BS_OK;
    }
    }
    BS_UNREACHABLE();
}

/* ---- run: snapshot, evaluate, propose (latches held, chains empty) ------------------------- */

/* Looks for a Percolator lock on m's keys: BS_OK with m->lock.lock filled, BS_NOTFOUND,
 * or a storage error with err set. */
static int find_lock(multi_cmd *m, kv_engine *e, kv_snapshot *snap, bs_err *err)
{
    bool for_write = m->op != TXN_MULTI_EXISTS;
    for (size_t i = 0; i < m->nk; i++) {
        int rc = txn_raw_lock_get(e, snap, bs_buf_slice(&m->k[i].key), for_write, &m->lock.lock,
                                  err);
        if (rc != BS_NOTFOUND)
            return rc;
    }
    return BS_NOTFOUND;
}

static void run(multi_cmd *m)
{
    const txn_store_config *cfg = txn_store_get_config(m->s);
    txn_cm *cm = txn_store_cm(m->s);
    uint64_t now = (uint64_t)bs_clock_wall_ms(), floor = 0, ts = 0;
    kv_snapshot *snap = kv_snapshot_new(cfg->engine);
    bs_err err;
    bs_err_clear(&err);
    /* Locks first: under our latches no txn command can change them, and stopping here
     * touches nothing, so the next run starts from the request as it came. */
    int rc = find_lock(m, cfg->engine, snap, &err);
    if (rc == BS_OK) {
        kv_snapshot_free(snap);
        m->lock.locked = true; /* resolved once the latches are released (step) */
        return;
    }
    rc = rc == BS_NOTFOUND ? BS_OK : rc;
    /* MSET writes whatever the keys hold: with blind writes its ts needs no newest version
     * either (command.c, "Blind writes"; the keys' chains are empty, so there is no pending
     * version to stay above). */
    bool blind = m->op == TXN_MULTI_MSET && txn_store_blind_writes(m->s);
    for (size_t i = 0; i < m->nk && rc == BS_OK && !blind; i++) {
        rc = txn_mvcc_read_newest(cfg->engine, snap, bs_buf_slice(&m->k[i].key), now,
                                  &m->k[i].cur, &err);
        if (m->k[i].cur.newest_ts > floor)
            floor = m->k[i].cur.newest_ts;
    }
    kv_snapshot_free(snap);
    if (rc != BS_OK) {
        txn_error e;
        (void)txn_error_from_bs(&e, &err);
        deliver(m, e.code, e.kind, e.msg);
        return;
    }
    rc = eval(m);
    if (rc != BS_OK) {
        txn_error e = m->res.error; /* deliver() rewrites res.error from the copy */
        deliver(m, rc, e.kind, e.msg);
        return;
    }
    size_t writes = 0;
    for (size_t i = 0; i < m->nk; i++) {
        if (m->k[i].w.kind == TXN_WRITE_NONE)
            continue;
        /* Link before choosing the ts: a reader raises max_ts before it looks at the table,
         * so either it sees our record or we see its max_ts (concurrency_manager.c). */
        txn_pending_view prev;
        m->k[i].rec.owner = m;
        m->k[i].rec.notify = on_record;
        txn_cm_pending_link(cm, bs_buf_slice(&m->k[i].key), &m->k[i].rec, &prev);
        BS_ASSERT(!prev.present); /* the chain was empty and we hold the key's latch */
        txn_write_deinit(&prev.write);
        writes++;
    }
    if (writes == 0) { /* everything before us has applied: the answer is final now */
        deliver(m, BS_OK, TXN_ERR_NONE, NULL);
        return;
    }
    if (txn_choose_write_ts(cfg->causal_ts, cm, floor, &ts) != BS_OK) {
        unlink_all(m, BS_EBUSY);
        deliver(m, BS_EBUSY, TXN_ERR_TS_NOT_READY, NULL);
        return;
    }
    kv_batch *b = kv_batch_new();
    for (size_t i = 0; i < m->nk; i++) {
        if (m->k[i].w.kind == TXN_WRITE_NONE)
            continue;
        txn_cm_pending_propose(cm, &m->k[i].rec, ts, &m->k[i].w);
        txn_write_to_batch(b, bs_buf_slice(&m->k[i].key), ts, &m->k[i].w);
    }
    m->res.ts = ts;
    atomic_fetch_add(&m->refs, 1); /* the proposal's ref */
    bs_err_clear(&err);
    rc = cfg->propose(cfg->propose_arg, b, on_proposal_done, m, &err);
    if (rc != BS_OK) { /* refused: nothing was proposed, the batch is still ours */
        kv_batch_free(b);
        unlink_all(m, rc);
        deliver(m, rc, TXN_ERR_PROPOSAL_FAILED, err.msg);
        cmd_unref(m);
    }
}

/* ---- scheduling: latches, waits and the trampoline ---------------------------------------- */


static void schedule(multi_cmd *m);
static void lock_resolve(multi_cmd *m);

/* The wait for m->k[m->wait_i] is over. Whichever of the issuer (step) and this callback
 * arrives second continues the command, so a wait that completes at once costs no
 * recursion and one that completes later resumes on the completing thread. */
static void on_key_free(void *arg)
{
    multi_cmd *m = arg;
    if (atomic_fetch_add(&m->wait_turn, 1) == 0)
        return; /* step() has not returned from txn_cm_wait_key yet: it goes on */
    m->wait_i++;
    schedule(m);
}

/* Advances m (latches held): waits for each key's chain to empty, then runs and releases. */
static void step(multi_cmd *m)
{
    while (m->wait_i < m->nk) {
        atomic_store(&m->wait_turn, 0);
        txn_cm_wait_key(txn_store_cm(m->s), bs_buf_slice(&m->k[m->wait_i].key), on_key_free, m);
        if (atomic_fetch_add(&m->wait_turn, 1) == 0)
            return; /* on_key_free will resume m */
        m->wait_i++;
    }
    run(m);
    txn_latches_release(txn_store_latches(m->s), &m->latch); /* may schedule() others */
    if (m->lock.locked)
        lock_resolve(m); /* after the release: the resolution latches the key too */
    cmd_unref(m); /* the run's ref */
}

static void step_tramp(txn_tramp *t)
{
    step((multi_cmd *)((char *)t - offsetof(multi_cmd, tramp)));
}

static void schedule(multi_cmd *m)
{
    m->tramp.run = step_tramp;
    txn_tramp_schedule(&m->tramp);
}

static void on_latched(void *arg)
{
    schedule(arg);
}

/* Queues m for a run, waits included; the caller's ref on m becomes the run's. */
static void queue_run(multi_cmd *m)
{
    m->wait_i = 0; /* a new run waits for every chain again */
    if (txn_latches_acquire(txn_store_latches(m->s), &m->latch))
        schedule(m);
}

/* ---- Percolator locks: resolve, wait, run again (txn.h, raw_lock.c) ------------------------- */

static void deliver_locked(multi_cmd *m)
{
    txn_error e;
    (void)txn_raw_lock_error(&e, &m->lock.lock);
    deliver(m, e.code, e.kind, e.msg);
}

static void on_wait_over(void *arg, bool cancelled)
{
    multi_cmd *m = arg;
    if (!cancelled) {
        queue_run(m); /* the wait's ref becomes the run's */
        return;
    }
    deliver_locked(m); /* the timer stops (shutdown): nothing was written */
    cmd_unref(m);
}

static void on_lock_resolved(void *arg, int code, const txn_error *e)
{
    multi_cmd *m = arg;
    if (code == BS_OK) {
        queue_run(m); /* the lock is gone: the resolution's ref becomes the run's */
        return;
    }
    if (e->kind == TXN_ERR_KEY_IS_LOCKED && txn_lock_wait_park(m->s, &m->lock, on_wait_over, m))
        return; /* the ref waits with it */
    deliver(m, code, e->kind, e->msg);
    cmd_unref(m);
}

/* m's last run stopped at a lock (latches released): resolve it, then run again. */
static void lock_resolve(multi_cmd *m)
{
    BS_ASSERT(m->lock.locked);
    m->lock.locked = false;
    if (!txn_lock_wait_next_round(&m->lock)) { /* a new lock every time: let the client back off */
        deliver_locked(m);
        return;
    }
    atomic_fetch_add(&m->refs, 1); /* the resolution's */
    txn_raw_lock_resolve(m->s, &m->lock.lock, on_lock_resolved, m);
}

/* ---- entry point ----------------------------------------------------------------------------- */

typedef struct key_ref {
    bs_slice key;
    size_t i;
} key_ref;

static int key_ref_cmp(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    int c = bs_slice_cmp(x->key, y->key);
    return c ? c : (x->i < y->i ? -1 : x->i > y->i);
}

static int validate(const txn_multi_req *req, txn_error *e)
{
    bool two = req->op == TXN_MULTI_RENAME || req->op == TXN_MULTI_RENAMENX ||
               req->op == TXN_MULTI_COPY;
    bool vals = req->op == TXN_MULTI_MSET || req->op == TXN_MULTI_MSETNX;
    if ((unsigned)req->op > TXN_MULTI_COPY)
        return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "unknown multi-key op");
    if (req->n == 0 || (two && req->n != 2))
        return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "wrong number of keys");
    if (vals != (req->values != NULL))
        return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT,
                             vals ? "values missing" : "values given to an op without values");
    if (req->flags & ~(req->op == TXN_MULTI_COPY ? TXN_MULTI_REPLACE : 0u))
        return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "unsupported flags");
    for (size_t i = 0; i < req->n; i++)
        if (txn_check_raw_key(req->keys[i], e) != BS_OK)
            return e->code;
    if (req->op == TXN_MULTI_COPY && bs_slice_eq(req->keys[0], req->keys[1]))
        return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT,
                             "source and destination objects are the same");
    return BS_OK;
}

void txn_raw_multi(txn_store *s, const txn_multi_req *req, txn_multi_done_fn cb, void *arg)
{
    txn_error e;
    txn_error_clear(&e);
    if (validate(req, &e) != BS_OK) {
        reject(cb, arg, e.code, e.kind, e.msg);
        return;
    }
    multi_cmd *m = bs_calloc(1, sizeof(*m));
    m->s = s;
    m->op = req->op;
    m->flags = req->flags;
    m->n = req->n;
    m->cb = cb;
    m->cb_arg = arg;
    txn_error_clear(&m->res.error);
    txn_lock_wait_init(&m->lock);
    atomic_init(&m->refs, 1); /* the run's ref */
    atomic_init(&m->delivered, false);
    atomic_init(&m->wait_turn, 0);
    if (req->values) {
        m->values = bs_calloc(req->n, sizeof(bs_buf));
        for (size_t i = 0; i < req->n; i++)
            bs_buf_append_slice(&m->values[i], req->values[i]);
    }
    /* Distinct keys in key order: one latch slot set, one record and one read per key. */
    key_ref *refs = bs_calloc(req->n, sizeof(key_ref));
    for (size_t i = 0; i < req->n; i++)
        refs[i] = (key_ref){req->keys[i], i};
    qsort(refs, req->n, sizeof(key_ref), key_ref_cmp);
    m->idx = bs_calloc(req->n, sizeof(size_t));
    m->k = bs_calloc(req->n, sizeof(mkey));
    for (size_t i = 0; i < req->n; i++) {
        if (i == 0 || !bs_slice_eq(refs[i].key, refs[i - 1].key)) {
            mkey *k = &m->k[m->nk++];
            bs_buf_append_slice(&k->key, refs[i].key);
            txn_cur_init(&k->cur);
            txn_write_init(&k->w);
        }
        m->idx[refs[i].i] = m->nk - 1;
    }
    bs_slice *keys = bs_calloc(m->nk, sizeof(bs_slice));
    for (size_t i = 0; i < m->nk; i++)
        keys[i] = bs_buf_slice(&m->k[i].key);
    txn_latch_lock_init(&m->latch, txn_store_latches(s), keys, m->nk, on_latched, m);
    bs_free(keys);
    bs_free(refs);
    queue_run(m);
}
