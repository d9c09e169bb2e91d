/* write.c -- the write operations: SET, DEL, the single-key read-modify-writes, CAS, the
 * multi-key operations and FLUSHDB/FLUSHALL.
 *
 * Each is one txn command on the local store (txn.h), which latches its keys, picks the
 * timestamp, proposes one Raft entry through txn_cluster_propose (the Region of the first
 * key, at its current epoch) and calls back once the entry is applied. The client only
 * locates the Region (so a region error can drop the right cache entry, and so routing to
 * remote leaders can slot in later), and for commands that may answer without writing
 * (read-modify-writes, CAS, multi-key ops) first makes sure the store still leads the
 * Region under a valid lease (or a ReadIndex): a deposed leader must not answer "SETNX
 * refused" from stale data. Retries and the handling of unknown outcomes are request.c's. */
#include <string.h>

#include "client/client_int.h"
#include "common/assert.h"

static bool keyspace_valid(creq *r, uint32_t keyspace)
{
    if (keyspace <= CLIENT_KEYSPACE_MAX)
        return true;
    client_req_reject(r, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "keyspace id out of range");
    return false;
}

/* A single-key txn write completed (caller's, latch releaser's or raftstore thread). */
static void on_txn_done(void *arg, const txn_result *res)
{
    creq *r = arg;
    if (res->code != BS_OK) {
        client_req_write_failed(r, res->code, &res->error);
        return;
    }
    if (r->kind == CREQ_RMW) {
        const txn_rmw_result *x = &res->rmw;
        r->res.rmw.applied = x->applied;
        r->res.rmw.old_exists = x->old_exists;
        r->res.rmw.integer = x->integer;
        bs_buf_set(&r->res.rmw.old_value, x->old_value.ptr, x->old_value.len);
        bs_buf_set(&r->res.rmw.new_value, x->new_value.ptr, x->new_value.len);
    } else if (r->kind == CREQ_CAS) {
        r->res.succeed = res->succeed;
        r->res.previous_not_exist = res->previous_not_exist;
        bs_buf_set(&r->res.previous_value, res->previous_value.ptr, res->previous_value.len);
    }
    r->res.code = BS_OK;
    client_req_finish(r);
}

/* ---- SET, DEL ------------------------------------------------------------------------------ */

static creq_step attempt_single(creq *r)
{
    creq_step s;
    bs_slice key = bs_buf_slice(&r->keys[0]), rk = bs_buf_slice(&r->rkeys[0]);
    if (!client_req_locate(r, rk, false, &s))
        return s;
    switch (r->kind) {
    case CREQ_PUT:
        txn_raw_put(r->c->o.txn, key, bs_buf_slice(&r->values[0]), r->ttl_ms, on_txn_done, r);
        return STEP_ASYNC;
    case CREQ_DELETE:
        txn_raw_delete(r->c->o.txn, key, on_txn_done, r);
        return STEP_ASYNC;
    default:
        break;
    }
    /* Read-modify-writes and CAS may answer without writing: lead first. */
    if (!client_req_readable(r, rk, &s))
        return s;
    if (r->kind == CREQ_RMW)
        txn_raw_rmw(r->c->o.txn, key, &r->rmw, on_txn_done, r);
    else
        txn_raw_cas(r->c->o.txn, &r->cas, on_txn_done, r);
    return STEP_ASYNC;
}

static creq *single_new(client *c, creq_kind kind, uint32_t keyspace, bs_slice key,
                        client_done_fn done, void *arg)
{
    creq *r = client_req_new(c, kind, attempt_single, done, arg);
    if (!keyspace_valid(r, keyspace))
        return NULL;
    client_req_set_keys(r, keyspace, &key, 1);
    return r;
}

void client_put(client *c, uint32_t keyspace, bs_slice key, bs_slice value, uint64_t ttl_ms,
                client_done_fn done, void *arg)
{
    creq *r = single_new(c, CREQ_PUT, keyspace, key, done, arg);
    if (!r)
        return;
    r->idempotent = true;
    r->values = &r->value1;
    bs_buf_append_slice(&r->values[0], value);
    r->ttl_ms = ttl_ms;
    client_req_run(r);
}

void client_delete(client *c, uint32_t keyspace, bs_slice key, client_done_fn done, void *arg)
{
    creq *r = single_new(c, CREQ_DELETE, keyspace, key, done, arg);
    if (!r)
        return;
    r->idempotent = true;
    client_req_run(r);
}

void client_rmw(client *c, uint32_t keyspace, bs_slice key, const txn_rmw_params *p,
                client_done_fn done, void *arg)
{
    creq *r = single_new(c, CREQ_RMW, keyspace, key, done, arg);
    if (!r)
        return;
    r->rmw = *p;
    bs_buf_append_slice(&r->rmw_arg, p->arg);
    r->rmw.arg = bs_buf_slice(&r->rmw_arg);
    client_req_run(r);
}

void client_cas(client *c, uint32_t keyspace, const txn_cas_req *req, client_done_fn done,
                void *arg)
{
    creq *r = single_new(c, CREQ_CAS, keyspace, req->key, done, arg);
    if (!r)
        return;
    r->cas = *req;
    bs_buf_append_slice(&r->cas_prev, req->previous_value);
    bs_buf_append_slice(&r->cas_value, req->value);
    r->cas.key = bs_buf_slice(&r->keys[0]); /* the API v2 key */
    r->cas.previous_value = bs_buf_slice(&r->cas_prev);
    r->cas.value = bs_buf_slice(&r->cas_value);
    client_req_run(r);
}

/* ---- multi-key operations ------------------------------------------------------------------ */

static void on_multi_done(void *arg, const txn_multi_result *res)
{
    creq *r = arg;
    if (res->code != BS_OK) {
        client_req_write_failed(r, res->code, &res->error);
        return;
    }
    r->res.code = BS_OK;
    r->res.count = res->count;
    r->res.applied = res->applied;
    client_req_finish(r);
}

static creq_step attempt_multi(creq *r)
{
    creq_step s;
    bs_slice rk = bs_buf_slice(&r->rkeys[0]);
    if (!client_req_locate(r, rk, false, &s))
        return s;
    for (size_t i = 1; i < r->n; i++)
        if (!client_region_has(&r->region, bs_buf_slice(&r->rkeys[i])))
            return client_req_fail(r, BS_ERANGE, TXN_ERR_INVALID_ARGUMENT,
                                   CLIENT_CROSSREGION_MSG);
    if (!client_req_readable(r, rk, &s))
        return s;
    bs_slice *keys = bs_calloc(r->n, sizeof(bs_slice));
    bs_slice *values = r->values ? bs_calloc(r->n, sizeof(bs_slice)) : NULL;
    for (size_t i = 0; i < r->n; i++) {
        keys[i] = bs_buf_slice(&r->keys[i]);
        if (values)
            values[i] = bs_buf_slice(&r->values[i]);
    }
    txn_multi_req q = {r->mop, keys, values, r->n, r->mflags};
    /* txn_raw_multi copies q before anything can complete: r may be gone on return, the
     * slice arrays are ours. */
    txn_raw_multi(r->c->o.txn, &q, on_multi_done, r);
    bs_free(keys);
    bs_free(values);
    return STEP_ASYNC;
}

static txn_multi_op multi_op(client_multi_op op)
{
    switch (op) {
    case CLIENT_MULTI_MSET: return TXN_MULTI_MSET;
    case CLIENT_MULTI_MSETNX: return TXN_MULTI_MSETNX;
    case CLIENT_MULTI_DEL: return TXN_MULTI_DEL;
    case CLIENT_MULTI_EXISTS: return TXN_MULTI_EXISTS;
    case CLIENT_MULTI_RENAME: return TXN_MULTI_RENAME;
    case CLIENT_MULTI_RENAMENX: return TXN_MULTI_RENAMENX;
    case CLIENT_MULTI_COPY: return TXN_MULTI_COPY;
    }
    return (txn_multi_op)-1; /* refused by the caller */
}

void client_multi(client *c, const client_multi_req *req, client_done_fn done, void *arg)
{
    creq *r = client_req_new(c, CREQ_MULTI, attempt_multi, done, arg);
    if (!keyspace_valid(r, req->keyspace))
        return;
    if (req->n == 0 || (unsigned)req->op > CLIENT_MULTI_COPY ||
        (req->flags & ~CLIENT_MULTI_REPLACE)) {
        client_req_reject(r, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "invalid multi-key request");
        return;
    }
    client_req_set_keys(r, req->keyspace, req->keys, req->n);
    r->mop = multi_op(req->op);
    r->mflags = req->flags & CLIENT_MULTI_REPLACE ? TXN_MULTI_REPLACE : 0;
    /* Only MSET may run twice after an unknown outcome; EXISTS never proposes. */
    r->idempotent = req->op == CLIENT_MULTI_MSET;
    if (req->values) {
        r->values = bs_calloc(req->n, sizeof(bs_buf));
        for (size_t i = 0; i < req->n; i++)
            bs_buf_append_slice(&r->values[i], req->values[i]);
    }
    client_req_run(r);
}

/* ---- FLUSHDB / FLUSHALL -------------------------------------------------------------------- */

static creq_step attempt_delete_all(creq *r);

static void on_range_deleted(void *arg, const txn_result *res)
{
    creq *r = arg;
    if (res->code != BS_OK) {
        client_req_write_failed(r, res->code, &res->error);
        return;
    }
    bs_buf_set(&r->cursor, r->part_end.ptr, r->part_end.len);
    if (bs_slice_cmp(bs_buf_slice(&r->cursor), bs_buf_slice(&r->hi)) >= 0) {
        r->res.code = BS_OK;
        client_req_finish(r);
        return;
    }
    (void)client_worker_post(r->c, r, 0, false); /* the next Region, off this thread */
}

/* One Region's part per attempt: RawDeleteRange clipped to the Region (the store checks
 * only the start; the part must not cross the Region's end). */
static creq_step attempt_delete_all(creq *r)
{
    if (bs_slice_cmp(bs_buf_slice(&r->cursor), bs_buf_slice(&r->hi)) >= 0) {
        r->res.code = BS_OK;
        return STEP_DONE;
    }
    bs_buf plo = BS_BUF_INIT, phi = BS_BUF_INIT;
    creq_step s;
    bool last;
    if (!client_range_part(r, &plo, &phi, &last, false, &s)) {
        bs_buf_free(&plo);
        bs_buf_free(&phi);
        return s;
    }
    bs_buf_set(&r->part_end, phi.ptr, phi.len);
    txn_raw_delete_range(r->c->o.txn, bs_buf_slice(&plo), bs_buf_slice(&phi), on_range_deleted,
                         r);
    bs_buf_free(&plo);
    bs_buf_free(&phi);
    return STEP_ASYNC;
}

void client_delete_all(client *c, uint32_t keyspace, client_done_fn done, void *arg)
{
    creq *r = client_req_new(c, CREQ_DELETE_ALL, attempt_delete_all, done, arg);
    uint8_t lo[KV_PREFIX_LEN], hi[KV_PREFIX_LEN];
    if (keyspace == CLIENT_ALL_KEYSPACES) {
        /* Every RawKV keyspace: ['r' 00 00 00, 's' 00 00 00). */
        kv_prefix_put(lo, KV_MODE_RAW, 0);
        kv_prefix_put(hi, KV_MODE_RAW + 1, 0);
    } else {
        if (!keyspace_valid(r, keyspace))
            return;
        kv_keyspace_range(KV_MODE_RAW, keyspace, lo, hi);
    }
    r->keyspace = keyspace;
    r->idempotent = true; /* deleting a range twice deletes the same keys */
    client_req_set_range(r, bs_slice_make(lo, KV_PREFIX_LEN), bs_slice_make(hi, KV_PREFIX_LEN));
    client_req_run(r);
}
