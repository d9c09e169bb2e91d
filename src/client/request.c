/* request.c -- the life of one client request: finding Regions, checking that a read may
 * be served, classifying failures and retrying with backoff, as client-go's region request
 * sender and backoffer do.
 *
 * Retry rules.
 *   - Region errors (NotLeader, RegionNotFound, KeyNotInRegion, EpochNotMatch,
 *     ServerIsBusy, StaleCommand) and causal timestamps not ready: nothing was done, so the
 *     request is retried after backoff (2 ms doubling to 500 ms) until the client's
 *     max_backoff_ms budget is spent; then it fails with the last error. EpochNotMatch
 *     installs the Regions the store reported; it and the other Region-shaped errors drop
 *     the cached Region and make the next lookup ask the local store first, then PD (PD
 *     learns of a split only when the store reports it, so it may lag).
 *   - A write whose proposal was accepted and then dropped (BS_EPROPOSAL_DROPPED: leadership
 *     lost, store closing, or a chained write it read from failed) may still commit under
 *     the next leader: its outcome is unknown. Idempotent writes (put, delete, MSET,
 *     delete-range) are retried, since applying them twice leaves the same state; the
 *     others (read-modify-writes, CAS, counting multi-key ops) fail with the code and a
 *     message saying the outcome is unknown, because a blind retry could apply them twice
 *     or report a wrong result.
 *   - A key locked by a live transaction (TXN_ERR_KEY_IS_LOCKED) is ServerIsBusy: nothing
 *     was done; reads and writes are retried after backoff. A chained write failed with its
 *     predecessor's region error never applied and is retried like a refused write.
 *   - A read that finds a key being written waits for the apply and runs again without
 *     backoff (the client reads at read_ts 0, so it only happens if that changes).
 *   - Anything else (storage errors, Redis errors, RaftEntryTooLarge) is final. */
#include <stdio.h>
#include <string.h>

#include "client/client_int.h"
#include "common/assert.h"
#include "common/codec.h"

/* ---- keys -------------------------------------------------------------------------------- */

void client_raw_key(bs_buf *out, uint32_t keyspace, bs_slice user)
{
    bs_buf_reset(out);
    kv_key_v2_append(out, KV_MODE_RAW, keyspace, user);
}

int client_region_key_decode(bs_slice rk, bs_buf *out)
{
    bs_slice in = rk;
    bs_buf_reset(out);
    if (bs_mce_read(&in, out) != BS_OK || in.len != 0)
        return BS_ECORRUPT;
    return BS_OK;
}

void client_req_set_keys(creq *r, uint32_t keyspace, const bs_slice *user, size_t n)
{
    BS_ASSERT(r->n == 0 && keyspace <= CLIENT_KEYSPACE_MAX);
    r->keyspace = keyspace;
    r->n = n;
    if (n == 1) {
        r->keys = &r->key1;
        r->rkeys = &r->rkey1;
    } else {
        r->keys = bs_calloc(n ? n : 1, sizeof(bs_buf));
        r->rkeys = bs_calloc(n ? n : 1, sizeof(bs_buf));
    }
    for (size_t i = 0; i < n; i++) {
        client_raw_key(&r->keys[i], keyspace, user[i]);
        kv_region_key_append(&r->rkeys[i], bs_buf_slice(&r->keys[i]));
    }
}

void client_req_set_range(creq *r, bs_slice lo, bs_slice hi)
{
    bs_buf_set(&r->lo, lo.ptr, lo.len);
    bs_buf_set(&r->hi, hi.ptr, hi.len);
    bs_buf_reset(&r->lo_rk);
    bs_buf_reset(&r->hi_rk);
    kv_region_key_append(&r->lo_rk, lo);
    kv_region_key_append(&r->hi_rk, hi);
    if (r->reverse)
        bs_buf_set(&r->cursor, hi.ptr, hi.len);
    else
        bs_buf_set(&r->cursor, lo.ptr, lo.len);
}

bool client_region_has(const cluster_region *region, bs_slice rk)
{
    return bs_slice_cmp(bs_buf_slice(&region->start_key), rk) <= 0 &&
           (region->end_key.len == 0 || bs_slice_cmp(rk, bs_buf_slice(&region->end_key)) < 0);
}

/* ---- life cycle ------------------------------------------------------------------------------ */

creq *client_req_new(client *c, creq_kind kind, creq_attempt_fn attempt, client_done_fn done,
                     void *arg)
{
    pthread_mutex_lock(&c->mu);
    creq *r = c->free_reqs;
    if (r) {
        c->free_reqs = r->free_next;
        c->n_free_reqs--;
    }
    pthread_mutex_unlock(&c->mu);
    if (r) {
        /* Everything starts zeroed but the kept buffers, emptied. */
        bs_buf k1 = r->key1, rk1 = r->rkey1, v1 = r->value1;
        cluster_region reg = r->region;
        memset(r, 0, sizeof(*r));
        r->key1 = k1;
        r->rkey1 = rk1;
        r->value1 = v1;
        bs_buf_reset(&r->key1);
        bs_buf_reset(&r->rkey1);
        bs_buf_reset(&r->value1);
        pd_region_init(&r->region);
        r->region.start_key = reg.start_key;
        r->region.end_key = reg.end_key;
        bs_buf_reset(&r->region.start_key);
        bs_buf_reset(&r->region.end_key);
        r->region.peers = reg.peers; /* n_peers 0; pd_region_set replaces it */
    } else {
        r = bs_calloc(1, sizeof(*r));
        pd_region_init(&r->region);
    }
    r->c = c;
    r->kind = kind;
    r->attempt = attempt;
    r->done = done;
    r->arg = arg;
    txn_pairs_init(&r->res.pairs);
    atomic_fetch_add(&c->requests, 1);
    pthread_mutex_lock(&c->mu);
    /* A call made while client_free waits (from another request's callback) is refused
     * when it runs; one made after client_free returned is a use after free. */
    BS_ASSERT(!c->stop);
    r->refused = c->closing;
    c->in_flight++;
    pthread_mutex_unlock(&c->mu);
    return r;
}

static void res_free(client_result *res)
{
    bs_buf_free(&res->value);
    txn_pairs_free(&res->pairs);
    bs_buf_free(&res->rmw.old_value);
    bs_buf_free(&res->rmw.new_value);
    bs_buf_free(&res->previous_value);
}

/* Frees a kept buffer that grew past CLIENT_KEEP_BUF (a pooled creq must not pin it). */
static void trim_kept(bs_buf *b)
{
    if (b->cap > CLIENT_KEEP_BUF)
        bs_buf_free(b);
}

/* Frees what r owns except the kept buffers (key1, rkey1, value1, region), which only
 * shrink to CLIENT_KEEP_BUF: req_free_kept frees them when r is not pooled. */
static void req_free(creq *r)
{
    bool one = r->keys == &r->key1;
    for (size_t i = 0; i < r->n; i++) {
        if (!one) {
            bs_buf_free(&r->keys[i]);
            bs_buf_free(&r->rkeys[i]);
        }
        if (r->values && r->values != &r->value1)
            bs_buf_free(&r->values[i]);
        if (r->vals)
            bs_buf_free(&r->vals[i]);
    }
    if (!one) {
        bs_free(r->keys);
        bs_free(r->rkeys);
    }
    if (r->values != &r->value1)
        bs_free(r->values);
    trim_kept(&r->key1);
    trim_kept(&r->rkey1);
    trim_kept(&r->value1);
    trim_kept(&r->region.start_key);
    trim_kept(&r->region.end_key);
    bs_free(r->vals);
    bs_free(r->resolved);
    bs_free(r->found);
    bs_buf_free(&r->rmw_arg);
    bs_buf_free(&r->cas_prev);
    bs_buf_free(&r->cas_value);
    bs_buf_free(&r->lo);
    bs_buf_free(&r->hi);
    bs_buf_free(&r->lo_rk);
    bs_buf_free(&r->hi_rk);
    bs_buf_free(&r->cursor);
    bs_buf_free(&r->part_end);
    res_free(&r->res);
}

void client_req_free_kept(creq *r)
{
    bs_buf_free(&r->key1);
    bs_buf_free(&r->rkey1);
    bs_buf_free(&r->value1);
    pd_region_deinit(&r->region);
    bs_free(r);
}

void client_req_finish(creq *r)
{
    client *c = r->c;
    if (r->res.code == BS_OK)
        r->res.msg[0] = '\0';
    r->done(r->arg, &r->res);
    req_free(r);
    /* Last touch of c: client_free may free it as soon as in_flight reaches 0. */
    pthread_mutex_lock(&c->mu);
    if (c->n_free_reqs < CLIENT_FREE_REQS_MAX) {
        r->free_next = c->free_reqs;
        c->free_reqs = r;
        c->n_free_reqs++;
        r = NULL;
    }
    BS_ASSERT(c->in_flight > 0);
    if (--c->in_flight == 0)
        pthread_cond_broadcast(&c->idle);
    pthread_mutex_unlock(&c->mu);
    if (r) /* not pooled */
        client_req_free_kept(r);
}

creq_step client_req_fail(creq *r, int code, txn_error_kind kind, const char *msg)
{
    BS_ASSERT(code != BS_OK);
    r->res.code = code;
    r->res.kind = kind;
    snprintf(r->res.msg, sizeof(r->res.msg), "%s", msg ? msg : "");
    return STEP_DONE;
}

void client_req_reject(creq *r, int code, txn_error_kind kind, const char *msg)
{
    (void)client_req_fail(r, code, kind, msg);
    client_req_finish(r);
}

void client_req_note(creq *r, int code, txn_error_kind kind, const char *msg)
{
    BS_ASSERT(code != BS_OK);
    r->last_code = code;
    r->last_kind = kind;
    snprintf(r->last_msg, sizeof(r->last_msg), "%s", msg && *msg ? msg : bs_strerror(code));
}

void client_req_retry_later(creq *r)
{
    client *c = r->c;
    uint32_t d = r->next_backoff_ms ? r->next_backoff_ms : CLIENT_BACKOFF_BASE_MS;
    BS_ASSERT(r->last_code != BS_OK); /* a retry always has a reason */
    if ((uint64_t)r->spent_ms + d > c->o.max_backoff_ms) {
        (void)client_req_fail(r, r->last_code, r->last_kind, r->last_msg);
        client_req_finish(r);
        return;
    }
    r->spent_ms += d;
    r->next_backoff_ms = d * 2 > CLIENT_BACKOFF_CAP_MS ? CLIENT_BACKOFF_CAP_MS : d * 2;
    if (!client_worker_post(c, r, d, true)) {
        (void)client_req_fail(r, BS_EPROPOSAL_DROPPED, TXN_ERR_NONE, "client closed");
        client_req_finish(r);
    }
}

void client_req_run(creq *r)
{
    if (r->refused) {
        client_req_reject(r, BS_EPROPOSAL_DROPPED, TXN_ERR_NONE, "client closed");
        return;
    }
    switch (r->attempt(r)) {
    case STEP_DONE:
        client_req_finish(r);
        return;
    case STEP_ASYNC:
        return; /* r may already be gone */
    case STEP_RETRY:
        client_req_retry_later(r);
        return;
    case STEP_WORKER:
        BS_ASSERT(!r->on_worker);
        (void)client_worker_post(r->c, r, 0, false); /* continuations are never refused */
        return;
    }
    BS_UNREACHABLE();
}

/* ---- locating Regions -------------------------------------------------------------------- */

bool client_req_locate(creq *r, bs_slice rk, bool before, creq_step *s)
{
    client *c = r->c;
    if (!r->ask_store && client_cache_find(&c->cache, rk, before, &r->region))
        return true;
    if (r->ask_store) {
        /* before: the store's Region of rk serves only if rk is inside it, not its start
         * (the store has no "previous Region" lookup; PD has). */
        r->ask_store = false;
        if (cluster_store_region_by_key(c->o.store, rk, &r->region) == BS_OK &&
            (!before || bs_slice_cmp(bs_buf_slice(&r->region.start_key), rk) < 0)) {
            client_cache_put(&c->cache, &r->region);
            return true;
        }
    }
    pd_region_info ri;
    bs_err err;
    pd_region_info_init(&ri);
    bs_err_clear(&err);
    int rc = pd_get_region(c->o.pd, rk, &ri, &err);
    if (rc == BS_OK && before && bs_slice_cmp(bs_buf_slice(&ri.region.start_key), rk) >= 0)
        rc = BS_NOTFOUND; /* rk starts that Region: the one before it holds the keys below */
    if (rc == BS_NOTFOUND && before)
        rc = pd_get_prev_region(c->o.pd, rk, &ri, &err);
    if (rc == BS_OK) {
        pd_region_copy(&r->region, &ri.region);
        client_cache_put(&c->cache, &ri.region);
    }
    pd_region_info_deinit(&ri);
    if (rc == BS_OK)
        return true;
    atomic_fetch_add(&c->region_errors, 1);
    client_req_note(r, rc == BS_ESTATE ? BS_ESTATE : BS_NOTFOUND, TXN_ERR_NONE,
                    err.msg[0] ? err.msg : "no region for key");
    *s = STEP_RETRY;
    return false;
}

/* ---- region errors ----------------------------------------------------------------------- */

creq_step client_req_region_error(creq *r, int code, const cluster_region_error *rerr,
                                  const char *msg)
{
    client *c = r->c;
    cluster_region_error_kind k = rerr ? rerr->kind : CLUSTER_RERR_NONE;
    if (k == CLUSTER_RERR_NONE) { /* no detail: infer the kind from the code */
        switch (code) {
        case BS_ENOT_LEADER: k = CLUSTER_RERR_NOT_LEADER; break;
        case BS_NOTFOUND: k = CLUSTER_RERR_REGION_NOT_FOUND; break;
        case BS_ERANGE: k = CLUSTER_RERR_KEY_NOT_IN_REGION; break;
        case BS_ESTATE: k = CLUSTER_RERR_EPOCH_NOT_MATCH; break;
        case BS_EBUSY: k = CLUSTER_RERR_SERVER_IS_BUSY; break;
        case BS_EPROPOSAL_DROPPED: k = CLUSTER_RERR_STALE_COMMAND; break;
        case BS_ETOOLARGE: k = CLUSTER_RERR_RAFT_ENTRY_TOO_LARGE; break;
        default: break;
        }
    }
    atomic_fetch_add(&c->region_errors, 1);
    switch (k) {
    case CLUSTER_RERR_EPOCH_NOT_MATCH:
        client_cache_drop(&c->cache, r->region.id);
        for (size_t i = 0; rerr && i < rerr->n_regions; i++)
            client_cache_put(&c->cache, &rerr->regions[i]);
        /* The reported Regions may not cover the key (it moved to a new Region of the
         * split): ask the store next rather than a PD that may not know the split yet. */
        r->ask_store = true;
        break;
    case CLUSTER_RERR_REGION_NOT_FOUND:
    case CLUSTER_RERR_KEY_NOT_IN_REGION:
        client_cache_drop(&c->cache, r->region.id);
        r->ask_store = true;
        break;
    case CLUSTER_RERR_NOT_LEADER:      /* the leader is elsewhere or being elected: wait */
    case CLUSTER_RERR_SERVER_IS_BUSY:
    case CLUSTER_RERR_STALE_COMMAND:
        break;
    case CLUSTER_RERR_RAFT_ENTRY_TOO_LARGE:
    case CLUSTER_RERR_NONE:
        return client_req_fail(r, code, TXN_ERR_NONE, msg);
    }
    client_req_note(r, code, TXN_ERR_NONE, msg);
    return STEP_RETRY;
}

/* ---- reads: lease or ReadIndex ------------------------------------------------------------ */

static void on_read_index(void *arg, int code, const bs_err *err)
{
    creq *r = arg; /* raftstore thread: only hand r over */
    if (code == BS_OK) {
        r->ri_ok = true;
        (void)client_worker_post(r->c, r, 0, false);
        return;
    }
    if (client_req_region_error(r, code, NULL, err ? err->msg : NULL) == STEP_RETRY)
        client_req_retry_later(r);
    else
        client_req_finish(r);
}

bool client_req_readable(creq *r, bs_slice rk, creq_step *s)
{
    client *c = r->c;
    if (r->ri_ok) {
        r->ri_ok = false;
        if (r->ri_region_id == r->region.id && r->ri_version == r->region.epoch.version)
            return true; /* the ReadIndex of this Region completed just before this attempt */
    }
    cluster_region_error rerr;
    bs_err err;
    cluster_region_error_init(&rerr);
    bs_err_clear(&err);
    int rc = cluster_store_read_check(c->o.store, r->region.id, &r->region.epoch, rk, &rerr,
                                      &err);
    if (rc == BS_EBUSY && rerr.kind == CLUSTER_RERR_NONE) {
        /* Leader without a valid lease: confirm leadership with a ReadIndex, then read. */
        r->ri_region_id = r->region.id;
        r->ri_version = r->region.epoch.version;
        atomic_fetch_add(&c->read_indexes, 1);
        cluster_region_error_deinit(&rerr);
        cluster_region_error_init(&rerr);
        rc = cluster_store_read_index(c->o.store, r->region.id, &r->region.epoch,
                                      on_read_index, r, &rerr, &err);
        if (rc == BS_OK) {
            cluster_region_error_deinit(&rerr);
            *s = STEP_ASYNC; /* r belongs to on_read_index now */
            return false;
        }
    }
    if (rc == BS_OK) {
        cluster_region_error_deinit(&rerr);
        return true;
    }
    *s = client_req_region_error(r, rc, &rerr, err.msg);
    cluster_region_error_deinit(&rerr);
    return false;
}

/* ---- txn failures ------------------------------------------------------------------------ */

static void on_key_free(void *arg)
{
    creq *r = arg; /* the completing writer's thread: hand r over */
    (void)client_worker_post(r->c, r, 0, false);
}

creq_step client_req_read_failed(creq *r, const txn_error *e, bs_slice key)
{
    if (e->kind == TXN_ERR_KEY_IS_LOCKED) { /* the store is resolving a txn's lock: back off */
        atomic_fetch_add(&r->c->region_errors, 1);
        client_req_note(r, e->code, e->kind, e->msg);
        return STEP_RETRY;
    }
    if (e->kind == TXN_ERR_KEY_BEING_WRITTEN) {
        if (key.len) {
            txn_cm_wait_key(txn_store_cm(r->c->o.txn), key, on_key_free, r);
            return STEP_ASYNC;
        }
        client_req_note(r, e->code, e->kind, e->msg);
        return STEP_RETRY;
    }
    return client_req_fail(r, e->code, e->kind, e->msg);
}

static bool region_code(int code)
{
    return code == BS_ENOT_LEADER || code == BS_NOTFOUND || code == BS_ERANGE ||
           code == BS_ESTATE || code == BS_EBUSY;
}

void client_req_write_failed(creq *r, int code, const txn_error *e)
{
    BS_ASSERT(code != BS_OK);
    if (e->kind == TXN_ERR_TS_NOT_READY || /* nothing proposed; a new leader is syncing */
        e->kind == TXN_ERR_KEY_IS_LOCKED) { /* a live txn's lock: nothing written (ServerIsBusy) */
        client_req_note(r, code, e->kind, e->msg);
        client_req_retry_later(r);
        return;
    }
    if ((e->kind == TXN_ERR_PROPOSAL_FAILED || e->kind == TXN_ERR_CHAIN_BROKEN) &&
        code == BS_EPROPOSAL_DROPPED) {
        atomic_fetch_add(&r->c->region_errors, 1);
        if (r->idempotent) {
            client_req_note(r, code, e->kind, e->msg);
            client_req_retry_later(r);
            return;
        }
        char msg[BS_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "write outcome unknown: %.200s", e->msg);
        (void)client_req_fail(r, code, e->kind, msg);
        client_req_finish(r);
        return;
    }
    if ((e->kind == TXN_ERR_PROPOSAL_FAILED || e->kind == TXN_ERR_CHAIN_BROKEN) &&
        region_code(code)) {
        /* Refused before it was proposed (or an epoch change skipped it at apply): nothing
         * was written, any op may run again. A chained write failed with its predecessor's
         * region error did not apply either (txn.h, "Chained writes"). */
        if (client_req_region_error(r, code, NULL, e->msg) == STEP_RETRY) {
            r->last_kind = e->kind;
            client_req_retry_later(r);
            return;
        }
        client_req_finish(r);
        return;
    }
    (void)client_req_fail(r, code, e->kind, e->msg);
    client_req_finish(r);
}

/* ---- batch reads ------------------------------------------------------------------------- */

bool client_req_next_part(creq *r, bs_slice **keys, size_t **idx, size_t *m, creq_step *s)
{
    size_t first = 0;
    while (first < r->n && r->resolved[first])
        first++;
    if (first == r->n) {
        *s = STEP_DONE;
        return false;
    }
    bs_slice rk = bs_buf_slice(&r->rkeys[first]);
    if (!client_req_locate(r, rk, false, s) || !client_req_readable(r, rk, s))
        return false;
    *idx = bs_calloc(r->n, sizeof(size_t));
    *keys = bs_calloc(r->n, sizeof(bs_slice));
    *m = 0;
    for (size_t i = first; i < r->n; i++)
        if (!r->resolved[i] && client_region_has(&r->region, bs_buf_slice(&r->rkeys[i]))) {
            (*idx)[*m] = i;
            (*keys)[(*m)++] = bs_buf_slice(&r->keys[i]);
        }
    BS_ASSERT(*m > 0 && (*idx)[0] == first);
    return true;
}

void client_req_take_found(creq *r)
{
    txn_pairs *p = &r->res.pairs;
    for (size_t i = 0; i < r->n; i++) {
        if (!r->found[i])
            continue;
        if (p->n == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 8;
            p->v = bs_realloc(p->v, p->cap * sizeof(txn_pair));
        }
        txn_pair *x = &p->v[p->n++];
        bs_slice k = bs_buf_slice(&r->keys[i]);
        x->key = (bs_buf)BS_BUF_INIT;
        bs_buf_append(&x->key, k.ptr + KV_PREFIX_LEN, k.len - KV_PREFIX_LEN);
        x->value = r->vals[i];
        r->vals[i] = (bs_buf)BS_BUF_INIT;
    }
    r->res.code = BS_OK;
}
