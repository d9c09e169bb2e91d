/* grpc_tikv_raw.c -- the RawKV family of tikvpb.Tikv, and the command table of the store
 * service's raw commands (srv_tikv_raw_cmds: method, BatchCommands number, types, handler).
 *
 * Every handler follows TiKV's order (src/storage/mod.rs raw_*, src/server/service/kv.rs):
 * API version and key mode, cf, key size for writes, then the Context against the Region
 * (grpc_tikv.c), then the keys against the Region's range, then the read or the write.
 *
 * Units and shapes at this edge (PROTOCOL.md §2.2): TTLs are seconds on the wire and
 * milliseconds in txn/ (RawGetKeyTTL rounds the remaining time up); keys are full API V2
 * keys both ways; RawBatchGet omits missing keys; scans return live keys only, values empty
 * with key_only, and limit 0 returns nothing (TiKV's loop stops at `pairs.len() < limit`).
 * A scan is clipped to the Region: a forward scan runs from start_key (which must be in the
 * Region) to min(end_key, Region end); a reverse scan from start_key (at most the Region
 * end) down to max(end_key, Region start). client-go relies on that clipping for scans
 * that span Regions. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/codec.h"
#include "common/log.h"
#include "server/grpc_int.h"

#define REQ(type) type *rq = (type *)op->req

static uint64_t ttl_ms(uint64_t secs)
{
    return secs > UINT64_MAX / 1000 ? UINT64_MAX : secs * 1000;
}

/* TiKV's check_key_size: every written key at most max-key-size bytes. */
static bool check_key_size(srv_tikv_op *op, const bs_slice *keys, size_t n)
{
    size_t lim = op->svc->opts.max_key_size;
    for (size_t i = 0; i < n; i++) {
        if (keys[i].len <= lim)
            continue;
        char m[96];
        snprintf(m, sizeof m, "max key size exceeded, size: %zu, limit: %zu", keys[i].len, lim);
        srv_tikv_op_reply_error(op, m);
        return false;
    }
    return true;
}

/* Response pairs from txn pairs (borrowed: p must outlive the packing). */
static Kvrpcpb__KvPair **pairs_to_pb(srv_grpc_arena *a, const txn_pairs *p, bool key_only)
{
    Kvrpcpb__KvPair **v = SRV_GRPC_NEWN(a, Kvrpcpb__KvPair *, p->n);
    for (size_t i = 0; i < p->n; i++) {
        Kvrpcpb__KvPair *kp = SRV_GRPC_NEW(a, Kvrpcpb__KvPair);
        kvrpcpb__kv_pair__init(kp);
        kp->key = srv_grpc_pb_bytes(bs_buf_slice(&p->v[i].key));
        if (!key_only)
            kp->value = srv_grpc_pb_bytes(bs_buf_slice(&p->v[i].value));
        v[i] = kp;
    }
    return v;
}

/* A raw range end as txn/ takes it: an end past the 'r' space ("s...") means the end of it. */
static bs_slice txn_end(bs_slice end)
{
    if (end.len && end.ptr[0] != KV_MODE_RAW)
        return BS_SLICE_NULL;
    return end;
}

/* max(a, b) of two range starts where empty means -inf. */
static bs_slice max_start(bs_slice a, bs_slice b)
{
    return bs_slice_cmp(a, b) >= 0 ? a : b;
}

/* ---- RawGet ----------------------------------------------------------------------------- */

static void read_raw_get(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawGetRequest);
    bs_buf v = BS_BUF_INIT;
    txn_error e;
    txn_error_clear(&e);
    int rc = txn_raw_get(op->svc->txn, srv_grpc_bytes(rq->key), 0, &v, &e);
    if (rc != BS_OK && rc != BS_NOTFOUND) {
        srv_tikv_reply_txn_error(op, &e);
    } else {
        Kvrpcpb__RawGetResponse r = KVRPCPB__RAW_GET_RESPONSE__INIT;
        if (rc == BS_OK)
            r.value = srv_grpc_pb_bytes(bs_buf_slice(&v));
        else
            r.not_found = true;
        srv_tikv_op_reply(op, &r.base);
    }
    bs_buf_free(&v);
}

static void run_raw_get(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawGetRequest);
    bs_slice key = srv_grpc_bytes(rq->key);
    if (srv_tikv_check_keys(op, &key, 1) && srv_tikv_check_cf(op, rq->cf) &&
        srv_tikv_check_context(op) && srv_tikv_check_key_in_region(op, key, false))
        srv_tikv_read(op, read_raw_get);
}

/* ---- RawBatchGet -------------------------------------------------------------------------- */

static void read_raw_batch_get(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawBatchGetRequest);
    bs_slice *keys = srv_tikv_slices_of(rq->keys, rq->n_keys);
    txn_pairs p;
    txn_pairs_init(&p);
    txn_error e;
    txn_error_clear(&e);
    int rc = rq->n_keys ? txn_raw_batch_get(op->svc->txn, keys, rq->n_keys, 0, &p, &e) : BS_OK;
    if (rc != BS_OK) {
        srv_tikv_reply_txn_error(op, &e);
    } else {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Kvrpcpb__RawBatchGetResponse r = KVRPCPB__RAW_BATCH_GET_RESPONSE__INIT;
        r.n_pairs = p.n;
        r.pairs = pairs_to_pb(&a, &p, false);
        srv_tikv_op_reply(op, &r.base);
        srv_grpc_arena_free(&a);
    }
    txn_pairs_free(&p);
    bs_free(keys);
}

static void run_raw_batch_get(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawBatchGetRequest);
    bs_slice *keys = srv_tikv_slices_of(rq->keys, rq->n_keys);
    bool go = srv_tikv_check_keys(op, keys, rq->n_keys) && srv_tikv_check_cf(op, rq->cf) &&
              srv_tikv_check_context(op) && srv_tikv_check_keys_in_region(op, keys, rq->n_keys);
    bs_free(keys);
    if (go) { /* (a failed check has finished and freed op) */
        op->offload = rq->n_keys > SRV_TIKV_INLINE_KEYS;
        srv_tikv_read(op, read_raw_batch_get);
    }
}

/* ---- writes without a payload in the reply ------------------------------------------------ */

/* RawPut/RawBatchPut/RawDelete/RawBatchDelete/RawDeleteRange responses are region_error +
 * error only; success is the empty message. */
static void reply_empty_ok(srv_tikv_op *op)
{
    bs_buf_reset(&op->resp);
    op->sink(op);
}

static void run_raw_put(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawPutRequest);
    bs_slice key = srv_grpc_bytes(rq->key);
    if (!srv_tikv_check_keys(op, &key, 1) || !srv_tikv_check_cf(op, rq->cf) ||
        !check_key_size(op, &key, 1) || !srv_tikv_check_context(op) ||
        !srv_tikv_check_key_in_region(op, key, false))
        return;
    op->cont = reply_empty_ok;
    txn_raw_put(op->svc->txn, key, srv_grpc_bytes(rq->value), ttl_ms(rq->ttl), srv_tikv_write_done,
                op);
}

static void run_raw_batch_put(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawBatchPutRequest);
    size_t n = rq->n_pairs;
    bs_slice *keys = bs_calloc(n ? n : 1, sizeof(bs_slice));
    txn_kv *kvs = bs_calloc(n ? n : 1, sizeof(txn_kv));
    uint64_t *ttls = bs_calloc(rq->n_ttls ? rq->n_ttls : 1, sizeof(uint64_t));
    for (size_t i = 0; i < n; i++) {
        keys[i] = kvs[i].key = srv_grpc_bytes(rq->pairs[i]->key);
        kvs[i].value = srv_grpc_bytes(rq->pairs[i]->value);
    }
    for (size_t i = 0; i < rq->n_ttls; i++)
        ttls[i] = ttl_ms(rq->ttls[i]);
    bool go = srv_tikv_check_keys(op, keys, n) && srv_tikv_check_cf(op, rq->cf) &&
              check_key_size(op, keys, n);
    if (go && rq->n_ttls > 1 && rq->n_ttls != n) {
        srv_tikv_op_reply_error(op, "The length of ttls does not equal to the length of pairs");
        go = false;
    }
    go = go && srv_tikv_check_context(op) && srv_tikv_check_keys_in_region(op, keys, n);
    if (go) {
        op->cont = reply_empty_ok;
        if (n == 0)
            reply_empty_ok(op);
        else /* copies keys, values and ttls before returning */
            txn_raw_batch_put(op->svc->txn, kvs, n, ttls, rq->n_ttls, srv_tikv_write_done, op);
    }
    bs_free(keys);
    bs_free(kvs);
    bs_free(ttls);
}

static void run_raw_delete(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawDeleteRequest);
    bs_slice key = srv_grpc_bytes(rq->key);
    if (!srv_tikv_check_keys(op, &key, 1) || !srv_tikv_check_cf(op, rq->cf) ||
        !check_key_size(op, &key, 1) || !srv_tikv_check_context(op) ||
        !srv_tikv_check_key_in_region(op, key, false))
        return;
    op->cont = reply_empty_ok;
    txn_raw_delete(op->svc->txn, key, srv_tikv_write_done, op);
}

static void run_raw_batch_delete(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawBatchDeleteRequest);
    bs_slice *keys = srv_tikv_slices_of(rq->keys, rq->n_keys);
    bool go = srv_tikv_check_keys(op, keys, rq->n_keys) && srv_tikv_check_cf(op, rq->cf) &&
              check_key_size(op, keys, rq->n_keys) && srv_tikv_check_context(op) &&
              srv_tikv_check_keys_in_region(op, keys, rq->n_keys);
    if (go) {
        op->cont = reply_empty_ok;
        if (rq->n_keys == 0)
            reply_empty_ok(op);
        else
            txn_raw_batch_delete(op->svc->txn, keys, rq->n_keys, srv_tikv_write_done, op);
    }
    bs_free(keys);
}

static void run_raw_delete_range(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawDeleteRangeRequest);
    bs_slice start = srv_grpc_bytes(rq->start_key), end = srv_grpc_bytes(rq->end_key);
    bs_slice both[2] = {start, end};
    if (!srv_tikv_check_ranges(op, &start, &end, 1) || !srv_tikv_check_cf(op, rq->cf) ||
        !check_key_size(op, both, 2))
        return;
    if (bs_slice_cmp(start, end) >= 0) {
        /* TiKV's apply refuses it too (RocksDB cannot delete a reversed range). */
        srv_tikv_op_reply_error(op,
                                "invalid delete range command, start_key must be below end_key");
        return;
    }
    /* TiKV's apply: start in the Region, end at most the Region's end. */
    if (!srv_tikv_check_context(op) || !srv_tikv_check_key_in_region(op, start, false) ||
        !srv_tikv_check_key_in_region(op, end, true))
        return;
    op->cont = reply_empty_ok;
    txn_raw_delete_range(op->svc->txn, start, txn_end(end), srv_tikv_write_done, op);
}

/* ---- RawScan and RawBatchScan --------------------------------------------------------- */

/* Appends one scan of [start, end) (or the reverse) clipped to the Region to *out.
 * rs/re: the Region's raw bounds. */
static int scan_clipped(srv_tikv_op *op, bs_slice start, bs_slice end, bool reverse, uint32_t limit,
                        bool key_only, bs_slice rs, bs_slice re, txn_pairs *out, txn_error *e)
{
    txn_scan_req q;
    memset(&q, 0, sizeof q);
    q.start = start;
    q.end = reverse ? max_start(end, rs) : txn_end(srv_tikv_min_end(end, re));
    q.limit = limit;
    q.key_only = key_only;
    q.reverse = reverse;
    q.read_ts = 0;
    return txn_raw_scan(op->svc->txn, &q, out, e);
}

static void reply_pairs(srv_tikv_op *op, const txn_pairs *p, bool key_only, bool batch)
{
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    if (batch) {
        Kvrpcpb__RawBatchScanResponse r = KVRPCPB__RAW_BATCH_SCAN_RESPONSE__INIT;
        r.n_kvs = p->n;
        r.kvs = pairs_to_pb(&a, p, key_only);
        srv_tikv_op_reply(op, &r.base);
    } else {
        Kvrpcpb__RawScanResponse r = KVRPCPB__RAW_SCAN_RESPONSE__INIT;
        r.n_kvs = p->n;
        r.kvs = pairs_to_pb(&a, p, key_only);
        srv_tikv_op_reply(op, &r.base);
    }
    srv_grpc_arena_free(&a);
}

static void read_raw_scan(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawScanRequest);
    bs_buf rs = BS_BUF_INIT, re = BS_BUF_INIT;
    txn_pairs p;
    txn_pairs_init(&p);
    if (srv_tikv_region_raw_bounds(op, &rs, &re) == BS_OK) {
        txn_error e;
        txn_error_clear(&e);
        int rc = scan_clipped(op, srv_grpc_bytes(rq->start_key), srv_grpc_bytes(rq->end_key),
                              rq->reverse, rq->limit, rq->key_only, bs_buf_slice(&rs),
                              bs_buf_slice(&re), &p, &e);
        if (rc != BS_OK)
            srv_tikv_reply_txn_error(op, &e);
        else
            reply_pairs(op, &p, rq->key_only, false);
    }
    txn_pairs_free(&p);
    bs_buf_free(&rs);
    bs_buf_free(&re);
}

static void run_raw_scan(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawScanRequest);
    bs_slice start = srv_grpc_bytes(rq->start_key), end = srv_grpc_bytes(rq->end_key);
    if (!srv_tikv_check_ranges(op, &start, &end, 1) || !srv_tikv_check_cf(op, rq->cf) ||
        !srv_tikv_check_context(op) || !srv_tikv_check_key_in_region(op, start, rq->reverse))
        return;
    if (rq->limit == 0) {
        txn_pairs none;
        txn_pairs_init(&none);
        reply_pairs(op, &none, false, false);
        return;
    }
    op->offload = rq->limit > SRV_TIKV_INLINE_KEYS;
    srv_tikv_read(op, read_raw_scan);
}

/* A range's end in a batch scan: its own, or (when empty) the next range's start. */
static bs_slice batch_range_end(const Kvrpcpb__RawBatchScanRequest *rq, size_t i)
{
    bs_slice e = srv_grpc_bytes(rq->ranges[i]->end_key);
    if (e.len == 0 && i + 1 < rq->n_ranges)
        e = srv_grpc_bytes(rq->ranges[i + 1]->start_key);
    return e;
}

static void read_raw_batch_scan(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawBatchScanRequest);
    bs_buf rs = BS_BUF_INIT, re = BS_BUF_INIT;
    txn_pairs p;
    txn_pairs_init(&p);
    if (srv_tikv_region_raw_bounds(op, &rs, &re) == BS_OK) {
        int rc = BS_OK;
        txn_error e;
        txn_error_clear(&e);
        for (size_t i = 0; rc == BS_OK && i < rq->n_ranges; i++)
            rc = scan_clipped(op, srv_grpc_bytes(rq->ranges[i]->start_key), batch_range_end(rq, i),
                              rq->reverse, rq->each_limit, rq->key_only, bs_buf_slice(&rs),
                              bs_buf_slice(&re), &p, &e);
        if (rc != BS_OK)
            srv_tikv_reply_txn_error(op, &e);
        else
            reply_pairs(op, &p, rq->key_only, true);
    }
    txn_pairs_free(&p);
    bs_buf_free(&rs);
    bs_buf_free(&re);
}

/* TiKV's check_key_ranges: every range is non-empty in its direction. */
static bool key_ranges_valid(const Kvrpcpb__RawBatchScanRequest *rq)
{
    for (size_t i = 0; i < rq->n_ranges; i++) {
        bs_slice s = srv_grpc_bytes(rq->ranges[i]->start_key), e = batch_range_end(rq, i);
        if (e.len && (rq->reverse ? bs_slice_cmp(s, e) <= 0 : bs_slice_cmp(s, e) >= 0))
            return false;
    }
    return true;
}

static void run_raw_batch_scan(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawBatchScanRequest);
    size_t n = rq->n_ranges;
    bs_slice *s = bs_calloc(n ? n : 1, sizeof(bs_slice)),
             *e = bs_calloc(n ? n : 1, sizeof(bs_slice));
    for (size_t i = 0; i < n; i++) {
        s[i] = srv_grpc_bytes(rq->ranges[i]->start_key);
        e[i] = srv_grpc_bytes(rq->ranges[i]->end_key);
    }
    bool go = srv_tikv_check_ranges(op, s, e, n);
    if (go && !key_ranges_valid(rq)) {
        srv_tikv_op_reply_error(op, "Invalid KeyRanges");
        go = false;
    }
    go = go && srv_tikv_check_cf(op, rq->cf) && srv_tikv_check_context(op);
    for (size_t i = 0; go && i < n; i++)
        go = srv_tikv_check_key_in_region(op, s[i], rq->reverse);
    bs_free(s);
    bs_free(e);
    if (!go)
        return;
    if (rq->each_limit == 0 || n == 0) {
        txn_pairs none;
        txn_pairs_init(&none);
        reply_pairs(op, &none, false, true);
        return;
    }
    op->offload = (uint64_t)rq->each_limit * n > SRV_TIKV_INLINE_KEYS;
    srv_tikv_read(op, read_raw_batch_scan);
}

/* ---- RawGetKeyTTL ----------------------------------------------------------------------- */

static void read_raw_get_key_ttl(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawGetKeyTTLRequest);
    uint64_t ms = 0;
    txn_error e;
    txn_error_clear(&e);
    int rc = txn_raw_get_key_ttl(op->svc->txn, srv_grpc_bytes(rq->key), 0, &ms, &e);
    if (rc != BS_OK && rc != BS_NOTFOUND) {
        srv_tikv_reply_txn_error(op, &e);
        return;
    }
    Kvrpcpb__RawGetKeyTTLResponse r = KVRPCPB__RAW_GET_KEY_TTLRESPONSE__INIT;
    if (rc == BS_NOTFOUND)
        r.not_found = true;
    else
        r.ttl = ms / 1000 + (ms % 1000 != 0); /* seconds, rounded up */
    srv_tikv_op_reply(op, &r.base);
}

static void run_raw_get_key_ttl(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawGetKeyTTLRequest);
    bs_slice key = srv_grpc_bytes(rq->key);
    if (srv_tikv_check_keys(op, &key, 1) && srv_tikv_check_cf(op, rq->cf) &&
        srv_tikv_check_context(op) && srv_tikv_check_key_in_region(op, key, false))
        srv_tikv_read(op, read_raw_get_key_ttl);
}

/* ---- RawCompareAndSwap ---------------------------------------------------------------- */

static void reply_cas(srv_tikv_op *op)
{
    Kvrpcpb__RawCASResponse r = KVRPCPB__RAW_CASRESPONSE__INIT;
    r.succeed = op->cas_succeed;
    r.previous_not_exist = op->cas_prev_not_exist;
    if (!op->cas_prev_not_exist)
        r.previous_value = srv_grpc_pb_bytes(bs_buf_slice(&op->cas_prev_value));
    srv_tikv_op_reply(op, &r.base);
}

static void run_raw_cas(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawCASRequest);
    bs_slice key = srv_grpc_bytes(rq->key);
    if (!srv_tikv_check_keys(op, &key, 1) || !srv_tikv_check_cf(op, rq->cf) ||
        !check_key_size(op, &key, 1) || !srv_tikv_check_context(op) ||
        !srv_tikv_check_key_in_region(op, key, false))
        return;
    txn_cas_req q;
    memset(&q, 0, sizeof q);
    q.key = key;
    q.previous_not_exist = rq->previous_not_exist;
    q.previous_value = srv_grpc_bytes(rq->previous_value);
    q.delete_ = rq->delete_;
    q.value = srv_grpc_bytes(rq->value);
    q.ttl_ms = ttl_ms(rq->ttl);
    op->cont = reply_cas;
    txn_raw_cas(op->svc->txn, &q, srv_tikv_write_done, op);
}

/* ---- RawChecksum ----------------------------------------------------------------------- */

static void read_raw_checksum(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawChecksumRequest);
    bs_buf rs = BS_BUF_INIT, re = BS_BUF_INIT;
    if (srv_tikv_region_raw_bounds(op, &rs, &re) == BS_OK) {
        size_t n = rq->n_ranges;
        txn_scan_req *ranges = bs_calloc(n ? n : 1, sizeof(txn_scan_req));
        for (size_t i = 0; i < n; i++) {
            ranges[i].start = srv_grpc_bytes(rq->ranges[i]->start_key);
            ranges[i].end = txn_end(
                srv_tikv_min_end(srv_grpc_bytes(rq->ranges[i]->end_key), bs_buf_slice(&re)));
        }
        txn_checksum sum;
        memset(&sum, 0, sizeof sum);
        txn_error e;
        txn_error_clear(&e);
        int rc = n ? txn_raw_checksum(op->svc->txn, ranges, n, 0, &sum, &e) : BS_OK;
        if (rc != BS_OK) {
            srv_tikv_reply_txn_error(op, &e);
        } else {
            Kvrpcpb__RawChecksumResponse r = KVRPCPB__RAW_CHECKSUM_RESPONSE__INIT;
            r.checksum = sum.checksum;
            r.total_kvs = sum.total_kvs;
            r.total_bytes = sum.total_bytes;
            srv_tikv_op_reply(op, &r.base);
        }
        bs_free(ranges);
    }
    bs_buf_free(&rs);
    bs_buf_free(&re);
}

static void run_raw_checksum(srv_tikv_op *op)
{
    REQ(Kvrpcpb__RawChecksumRequest);
    size_t n = rq->n_ranges;
    if (rq->algorithm != KVRPCPB__CHECKSUM_ALGORITHM__Crc64_Xor) {
        char m[64];
        snprintf(m, sizeof m, "unknown checksum algorithm %d", (int)rq->algorithm);
        srv_tikv_op_reply_error(op, m);
        return;
    }
    bs_slice *s = bs_calloc(n ? n : 1, sizeof(bs_slice)),
             *e = bs_calloc(n ? n : 1, sizeof(bs_slice));
    for (size_t i = 0; i < n; i++) {
        s[i] = srv_grpc_bytes(rq->ranges[i]->start_key);
        e[i] = srv_grpc_bytes(rq->ranges[i]->end_key);
    }
    bool go = srv_tikv_check_ranges(op, s, e, n) && srv_tikv_check_context(op);
    for (size_t i = 0; go && i < n; i++)
        go = srv_tikv_check_key_in_region(op, s[i], false);
    bs_free(s);
    bs_free(e);
    if (go) {
        op->offload = true; /* reads every key of its ranges */
        srv_tikv_read(op, read_raw_checksum);
    }
}

/* ---- store-level calls ------------------------------------------------------------------ */

/* GetStoreSafeTS, as TiKV answers it: the minimum safe ts over the Regions this store
 * leads that overlap key_range (API v2 keys; empty bounds = unbounded), 0 when it leads
 * none there. A Region's safe ts covers all of the Region, not only the part of it the
 * range asked about, so each is computed over the Region's own bounds: a fresh TSO capped
 * below every write still pending there (txn_store_safe_ts says why that is honest).
 *
 * Answers never go below the last whole-key-space answer, which was safe for every range
 * and stays so (nothing can appear at or below a safe ts later), so a moment when a write
 * is still choosing its ts (BS_EBUSY) repeats that answer instead of dropping to 0.
 * Without a PD to take a TSO from, 0: no stale read is safe. Failures are answered with the
 * floor too and logged: client-go only logs this call's errors anyway.
 *
 * Runs on the pool: the TSO may wait for PD to persist its window, and each Region costs a
 * scan of its CF lock. Regions are walked left to right by their bounds; a key with no
 * local Region ends the walk (standalone stores hold every Region). */
typedef struct safe_ts_walk {
    int rc;       /* BS_OK, or the first failure (BS_EBUSY: a write choosing its ts) */
    size_t led;   /* overlapping Regions led here */
    bool all_led; /* every Region met is led here, with no gap */
    uint64_t min; /* of their safe ts */
} safe_ts_walk;

/* Adds Region r to w: its safe ts when it is led here. */
static void safe_ts_region(srv_tikv_op *op, const cluster_region *r, uint64_t fresh,
                           safe_ts_walk *w, bs_err *err)
{
    cluster_peer_status ps;
    if (cluster_store_peer_status(op->svc->store, r->id, &ps) != BS_OK || !ps.is_leader) {
        w->all_led = false;
        return;
    }
    bs_buf rs = BS_BUF_INIT, re = BS_BUF_INIT;
    bs_slice s = bs_buf_slice(&r->start_key), e = bs_buf_slice(&r->end_key);
    uint64_t safe = 0;
    int rc = BS_OK;
    if ((s.len && bs_mce_read(&s, &rs) != BS_OK) || (e.len && bs_mce_read(&e, &re) != BS_OK))
        rc = bs_err_setf(err, BS_ECORRUPT,
                         "region %" PRIu64 " has a bound that is not "
                         "memcomparable",
                         r->id);
    if (rc == BS_OK)
        rc = txn_store_safe_ts(op->svc->txn, fresh, bs_buf_slice(&rs), bs_buf_slice(&re), &safe,
                               err);
    if (rc == BS_OK) {
        w->led++;
        if (safe < w->min)
            w->min = safe;
    } else if (w->rc == BS_OK) {
        w->rc = rc;
    }
    bs_buf_free(&rs);
    bs_buf_free(&re);
}

static void serve_get_store_safe_ts(srv_tikv_op *op)
{
    REQ(Kvrpcpb__StoreSafeTSRequest);
    srv_grpc_tikv *svc = op->svc;
    bs_slice start = BS_SLICE_NULL, end = BS_SLICE_NULL;
    if (rq->key_range) {
        start = srv_grpc_bytes(rq->key_range->start_key);
        end = srv_grpc_bytes(rq->key_range->end_key);
    }
    uint64_t floor = atomic_load(&svc->safe_ts_floor), fresh = 0;
    safe_ts_walk w = {BS_OK, 0, true, UINT64_MAX};
    bs_err err;
    bs_err_clear(&err);
    int rc = pd_tso_alloc(svc->opts.pd, 1, &fresh, &err);
    bs_buf at = BS_BUF_INIT, stop = BS_BUF_INIT; /* region keys */
    if (start.len)
        kv_region_key_append(&at, start);
    if (end.len)
        kv_region_key_append(&stop, end);
    cluster_region r;
    pd_region_init(&r);
    while (rc == BS_OK) {
        if (cluster_store_region_by_key(svc->store, bs_buf_slice(&at), &r) != BS_OK) {
            w.all_led = false; /* a gap: no local Region there */
            break;
        }
        safe_ts_region(op, &r, fresh, &w, &err);
        bs_slice re = bs_buf_slice(&r.end_key);
        if (re.len == 0 || (stop.len && bs_slice_cmp(re, bs_buf_slice(&stop)) >= 0))
            break;
        bs_buf_set(&at, re.ptr, re.len);
    }
    pd_region_deinit(&r);
    bs_buf_free(&at);
    bs_buf_free(&stop);
    if (rc == BS_OK)
        rc = w.rc;
    uint64_t safe = 0;
    if (rc == BS_OK && w.led > 0)
        safe = w.min > floor ? w.min : floor;
    else if (rc != BS_OK)
        safe = floor;
    if (rc != BS_OK && rc != BS_EBUSY)
        BS_LOG_WARN("get store safe ts failed", "err=\"%s\"", err.msg);
    /* A whole-key-space answer from Regions all led here raises the floor (atomic max:
     * several workers never lower it). */
    if (rc == BS_OK && w.all_led && w.led > 0 && start.len == 0 && end.len == 0)
        while (floor < safe && !atomic_compare_exchange_weak(&svc->safe_ts_floor, &floor, safe))
            ;
    Kvrpcpb__StoreSafeTSResponse resp = KVRPCPB__STORE_SAFE_TSRESPONSE__INIT;
    resp.safe_ts = safe;
    srv_tikv_op_reply(op, &resp.base);
}

static void run_get_store_safe_ts(srv_tikv_op *op)
{
    if (!op->svc->opts.pd) {
        Kvrpcpb__StoreSafeTSResponse r = KVRPCPB__STORE_SAFE_TSRESPONSE__INIT;
        srv_tikv_op_reply(op, &r.base);
        return;
    }
    srv_tikv_offload(op, serve_get_store_safe_ts);
}

static _Atomic uint64_t feedback_seq;

static void run_get_health_feedback(srv_tikv_op *op)
{
    Kvrpcpb__GetHealthFeedbackResponse r = KVRPCPB__GET_HEALTH_FEEDBACK_RESPONSE__INIT;
    Kvrpcpb__HealthFeedback hf = KVRPCPB__HEALTH_FEEDBACK__INIT;
    hf.store_id = cluster_store_id(op->svc->store);
    hf.feedback_seq_no = atomic_fetch_add(&feedback_seq, 1) + 1;
    hf.slow_score = 1; /* TiKV's score of a healthy store */
    r.health_feedback = &hf;
    srv_tikv_op_reply(op, &r.base);
}

/* ---- the table ------------------------------------------------------------------------- */

const srv_tikv_cmd_def srv_tikv_raw_cmds[] = {
#define RAW(m, no, req, resp, kind, place, run)                                                    \
    {                                                                                              \
        m, no, &kvrpcpb__##req##__descriptor, &kvrpcpb__##resp##__descriptor, kind, false,         \
            SRV_TIKV_ERR_##place, 2, run                                                           \
    }
    RAW("RawGet", 13, raw_get_request, raw_get_response, "raw_get", STRING, run_raw_get),
    RAW("RawBatchGet", 14, raw_batch_get_request, raw_batch_get_response, "raw_batch_get", KVPAIR,
        run_raw_batch_get),
    RAW("RawPut", 15, raw_put_request, raw_put_response, "raw_put", STRING, run_raw_put),
    RAW("RawBatchPut", 16, raw_batch_put_request, raw_batch_put_response, "raw_batch_put", STRING,
        run_raw_batch_put),
    RAW("RawDelete", 17, raw_delete_request, raw_delete_response, "raw_delete", STRING,
        run_raw_delete),
    RAW("RawBatchDelete", 18, raw_batch_delete_request, raw_batch_delete_response,
        "raw_batch_delete", STRING, run_raw_batch_delete),
    RAW("RawScan", 19, raw_scan_request, raw_scan_response, "raw_scan", KVPAIR, run_raw_scan),
    RAW("RawDeleteRange", 20, raw_delete_range_request, raw_delete_range_response,
        "raw_delete_range", STRING, run_raw_delete_range),
    RAW("RawBatchScan", 21, raw_batch_scan_request, raw_batch_scan_response, "raw_batch_scan",
        KVPAIR, run_raw_batch_scan),
    RAW("RawGetKeyTTL", 0, raw_get_key_ttlrequest, raw_get_key_ttlresponse, "raw_get_key_ttl",
        STRING, run_raw_get_key_ttl),
    RAW("RawCompareAndSwap", 0, raw_casrequest, raw_casresponse, "raw_compare_and_swap", STRING,
        run_raw_cas),
    RAW("RawChecksum", 0, raw_checksum_request, raw_checksum_response, "raw_checksum", STRING,
        run_raw_checksum),
    /* Neither has an error field: nothing in them can fail at the key level. */
    RAW("GetStoreSafeTS", 0, store_safe_tsrequest, store_safe_tsresponse, "get_store_safe_ts",
        STRING, run_get_store_safe_ts),
    RAW("GetHealthFeedback", 39, get_health_feedback_request, get_health_feedback_response,
        "get_health_feedback", STRING, run_get_health_feedback),
    /* SplitRegionResponse has no `error` string: failures go to errors (100) as KeyErrors */
    {"SplitRegion", 0, &kvrpcpb__split_region_request__descriptor,
     &kvrpcpb__split_region_response__descriptor, "split_region", false, SRV_TIKV_ERR_KEYERROR, 100,
     srv_tikv_run_split_region},
#undef RAW
};

const size_t srv_tikv_raw_cmd_count = sizeof srv_tikv_raw_cmds / sizeof srv_tikv_raw_cmds[0];

size_t srv_tikv_cmd_count(void)
{
    return srv_tikv_raw_cmd_count + srv_tikv_txn_cmd_count;
}

const srv_tikv_cmd_def *srv_tikv_cmd_at(size_t i)
{
    return i < srv_tikv_raw_cmd_count ? &srv_tikv_raw_cmds[i]
                                      : &srv_tikv_txn_cmds[i - srv_tikv_raw_cmd_count];
}

const srv_tikv_cmd_def *srv_tikv_cmd_by_batch_no(uint32_t no)
{
    for (size_t i = 0; no && i < srv_tikv_cmd_count(); i++)
        if (srv_tikv_cmd_at(i)->batch_no == no)
            return srv_tikv_cmd_at(i);
    return NULL;
}
