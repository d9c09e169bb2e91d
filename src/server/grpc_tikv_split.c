/* grpc_tikv_split.c -- tikvpb.Tikv/SplitRegion: client-go's SplitRegions (and tikv-ctl's
 * manual split) on the store that leads the Region.
 *
 * The split keys are the keys requests carry (API v2, raw or txn alike: is_raw_kv changes
 * nothing in Basalt, whose Region bounds are MCE(key) for both modes, PROTOCOL.md §4.3).
 * They are sorted and de-duplicated here, as TiKV does, then handed to the store, which asks
 * PD for ids and proposes one BatchSplit. The answer waits for the split to apply and lists
 * the resulting Regions left to right; with right-derive the request's Region id keeps the
 * right-most one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/grpc_int.h"

#define REQ(type) type *rq = (type *)op->req

static int cmp_slice(const void *a, const void *b)
{
    return bs_slice_cmp(*(const bs_slice *)a, *(const bs_slice *)b);
}

/* The Regions that now tile the request Region's old range [start, end of the current
 * Region), left to right. */
static void reply_regions(srv_tikv_op *op)
{
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    Kvrpcpb__SplitRegionResponse r = KVRPCPB__SPLIT_REGION_RESPONSE__INIT;
    cluster_region cur;
    pd_region_init(&cur);
    bs_buf at = BS_BUF_INIT;
    bs_buf_set(&at, op->region.start_key.ptr, op->region.start_key.len);
    size_t cap = 0;
    /* Walk from the old start: each Region's end is the next one's start, until the
     * Region the request named (the right-most piece) is reached. */
    while (cluster_store_region_by_key(op->svc->store, bs_buf_slice(&at), &cur) == BS_OK) {
        if (r.n_regions == cap) {
            size_t ncap = cap ? 2 * cap : 4;
            Metapb__Region **v = SRV_GRPC_NEWN(&a, Metapb__Region *, ncap);
            if (r.n_regions)
                memcpy(v, r.regions, r.n_regions * sizeof(*v));
            r.regions = v;
            cap = ncap;
        }
        r.regions[r.n_regions++] = srv_grpc_region_to_pb(&a, &cur);
        if (cur.id == op->region.id || cur.end_key.len == 0)
            break;
        bs_buf_set(&at, cur.end_key.ptr, cur.end_key.len);
    }
    if (r.n_regions >= 2) { /* the deprecated pair: the two sides of the first split key */
        r.left = r.regions[0];
        r.right = r.regions[1];
    }
    srv_tikv_op_reply(op, &r.base);
    bs_buf_free(&at);
    pd_region_deinit(&cur);
    srv_grpc_arena_free(&a);
}

static void split_resume(void *arg)
{
    srv_tikv_op *op = arg;
    if (op->async_code == BS_OK) {
        reply_regions(op);
        return;
    }
    /* The store's codes map to region errors (EpochNotMatch when the Region changed
     * first, NotLeader, StaleCommand); anything else (PD gave no ids) is the error text. */
    txn_error e;
    txn_error_clear(&e);
    e.code = op->async_code;
    e.kind = TXN_ERR_PROPOSAL_FAILED;
    snprintf(e.msg, sizeof e.msg, "split region: %.200s", op->async_msg);
    srv_tikv_reply_txn_error(op, &e);
}

static void split_done(void *arg, int code, const bs_err *err)
{
    srv_tikv_op *op = arg;
    op->async_code = code;
    snprintf(op->async_msg, sizeof op->async_msg, "%s", code != BS_OK && err ? err->msg : "");
    srv_tikv_op_post(op, split_resume);
}

void srv_tikv_run_split_region(srv_tikv_op *op)
{
    REQ(Kvrpcpb__SplitRegionRequest);
    size_t n = rq->n_split_keys ? rq->n_split_keys : (rq->split_key.len ? 1 : 0);
    if (n == 0) {
        srv_tikv_op_reply_error(op, "split region: no split key");
        return;
    }
    bs_slice *keys = bs_calloc(n, sizeof(*keys));
    for (size_t i = 0; i < n; i++)
        keys[i] = srv_grpc_bytes(rq->n_split_keys ? rq->split_keys[i] : rq->split_key);
    /* API v2 keys of the mode the request names: TiKV's SplitRegion checks is_raw_kv's
     * mode the same way. */
    uint8_t mode = rq->is_raw_kv ? 'r' : 'x';
    for (size_t i = 0; i < n; i++)
        if (keys[i].len < 4 || keys[i].ptr[0] != mode) {
            srv_tikv_op_reply_error(op, rq->is_raw_kv ? "split region: a split key is not a RawKV key"
                                                      : "split region: a split key is not a TxnKV key");
            bs_free(keys);
            return;
        }
    if (!srv_tikv_check_context(op)) {
        bs_free(keys);
        return;
    }
    qsort(keys, n, sizeof(*keys), cmp_slice);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || !bs_slice_eq(keys[u - 1], keys[i]))
            keys[u++] = keys[i];
    bs_buf *rk = bs_calloc(u, sizeof(*rk));
    bs_slice *rks = bs_calloc(u, sizeof(*rks));
    for (size_t i = 0; i < u; i++) {
        kv_region_key_append(&rk[i], keys[i]);
        rks[i] = bs_buf_slice(&rk[i]);
    }
    cluster_region_error rerr;
    cluster_region_error_init(&rerr);
    bs_err err;
    bs_err_clear(&err);
    int rc = cluster_store_split_region(op->svc->store, op->region.id, &op->region.epoch, rks, u,
                                        split_done, op, &rerr, &err);
    if (rc != BS_OK) {
        if (rerr.kind != CLUSTER_RERR_NONE) {
            srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
            srv_tikv_op_reply_region_error(op, srv_grpc_region_error_to_pb(&a, &rerr, err.msg));
            srv_grpc_arena_free(&a);
        } else {
            srv_tikv_op_reply_error(op, err.msg);
        }
    }
    cluster_region_error_deinit(&rerr);
    for (size_t i = 0; i < u; i++)
        bs_buf_free(&rk[i]);
    bs_free(rk);
    bs_free(rks);
    bs_free(keys);
}
