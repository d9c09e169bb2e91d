/* raw_read.c -- the raw read commands: RawGet, RawBatchGet, RawScan, RawGetKeyTTL and
 * RawChecksum (TiKV src/storage/raw/, Storage::raw_*).
 *
 * Reads are synchronous: a point read or a bounded scan over a fresh engine snapshot is
 * cheap enough for a network thread (DESIGN.md). A read at read_ts first raises max_ts, so
 * every write that picks its ts later lands above read_ts, then refuses to answer while a
 * write at or below read_ts is still pending in the lock table: answering from the engine
 * would miss it. Expired and deleted keys read as absent everywhere.
 *
 * Percolator locks (txn.h, "Percolator locks on the raw path"): through the same snapshot,
 * a point read of CF lock per key (a range read for scans: over the span the scan covered,
 * which a limit may cut short). A Put or Delete lock fails the read with
 * TXN_ERR_KEY_IS_LOCKED after starting the lock's resolution (raw_lock.c); the read itself
 * never waits, since it runs on the caller's (network) thread. */
#include <string.h>

#include "common/assert.h"
#include "common/clock.h"
#include "txn/txn_int.h"

static kv_engine *engine_of(txn_store *s)
{
    return txn_store_engine(s);
}

/* max_ts + lock table check for one key or a range; BS_OK or BS_EBUSY with e set. */
static int check_pending(txn_store *s, bs_slice key, bs_slice end, bool range, uint64_t read_ts,
                         txn_error *e)
{
    int rc;
    if (read_ts == 0)
        return BS_OK;
    txn_cm_update_max_ts(txn_store_cm(s), read_ts);
    rc = range ? txn_cm_check_range(txn_store_cm(s), key, end, read_ts)
               : txn_cm_check_read(txn_store_cm(s), key, read_ts);
    if (rc != BS_OK)
        return txn_error_set(e, BS_EBUSY, TXN_ERR_KEY_BEING_WRITTEN, NULL);
    return BS_OK;
}

/* Key mode, max_ts raise and lock table check of every key. Runs BEFORE the snapshot is
 * taken: a write that applies and leaves the lock table between a snapshot and the check
 * would otherwise be missed at read_ts. */
static int check_keys(txn_store *s, const bs_slice *keys, size_t n, uint64_t read_ts,
                      txn_error *e)
{
    for (size_t i = 0; i < n; i++) {
        int rc = txn_check_raw_key(keys[i], e);
        if (rc == BS_OK)
            rc = check_pending(s, keys[i], BS_SLICE_NULL, false, read_ts, e);
        if (rc != BS_OK)
            return rc;
    }
    return BS_OK;
}

/* The outcome of a lock lookup (rc from txn_raw_lock_get / _scan) for a read: BS_OK when
 * nothing blocks; a blocking lock starts its resolution and fails the read with BS_EBUSY /
 * TXN_ERR_KEY_IS_LOCKED; anything else is a storage error. */
static int lock_outcome(txn_store *s, int rc, const txn_lock_info *li, const bs_err *err,
                        txn_error *e)
{
    if (rc == BS_NOTFOUND)
        return BS_OK;
    if (rc != BS_OK)
        return txn_error_from_bs(e, err);
    txn_raw_lock_kick(s, li);
    return txn_raw_lock_error(e, li);
}

/* Percolator locks on keys[0..n), read through snap (see the file comment). */
static int check_locks(txn_store *s, kv_snapshot *snap, const bs_slice *keys, size_t n,
                       txn_error *e)
{
    txn_lock_info li;
    bs_err err;
    int rc = BS_OK;
    txn_lock_info_init(&li);
    bs_err_clear(&err);
    for (size_t i = 0; i < n && rc == BS_OK; i++)
        rc = lock_outcome(s, txn_raw_lock_get(engine_of(s), snap, keys[i], false, &li, &err), &li,
                          &err, e);
    txn_lock_info_deinit(&li);
    return rc;
}

/* The same for every key in [lo, hi) (API v2 keys; empty = the end of the 'r' space). */
static int check_range_locks(txn_store *s, kv_snapshot *snap, bs_slice lo, bs_slice hi,
                             txn_error *e)
{
    txn_lock_info li;
    bs_err err;
    txn_lock_info_init(&li);
    bs_err_clear(&err);
    int rc = lock_outcome(s, txn_raw_lock_scan(engine_of(s), snap, lo, hi, false, &li, &err),
                          &li, &err, e);
    txn_lock_info_deinit(&li);
    return rc;
}

/* key's newest version (locks already checked). */
static int read_one(txn_store *s, kv_snapshot *snap, bs_slice key, txn_cur *cur, txn_error *e)
{
    bs_err err;
    bs_err_clear(&err);
    int rc = txn_mvcc_read_newest(engine_of(s), snap, key, (uint64_t)bs_clock_wall_ms(), cur,
                              &err);
    if (rc != BS_OK)
        return txn_error_from_bs(e, &err);
    return cur->exists ? BS_OK : BS_NOTFOUND;
}

int txn_raw_get(txn_store *s, bs_slice key, uint64_t read_ts, bs_buf *value, txn_error *e)
{
    int rc = check_keys(s, &key, 1, read_ts, e);
    if (rc != BS_OK)
        return rc;
    kv_snapshot *snap = kv_snapshot_new(engine_of(s));
    txn_cur cur;
    txn_cur_init(&cur);
    rc = check_locks(s, snap, &key, 1, e);
    if (rc == BS_OK)
        rc = read_one(s, snap, key, &cur, e);
    if (rc == BS_OK) { /* hand the value over rather than copy it */
        bs_buf old = *value;
        *value = cur.value;
        cur.value = old;
    }
    txn_cur_deinit(&cur);
    kv_snapshot_free(snap);
    return rc;
}

void txn_pairs_init(txn_pairs *p)
{
    memset(p, 0, sizeof(*p));
}

void txn_pairs_free(txn_pairs *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        bs_buf_free(&p->v[i].key);
        bs_buf_free(&p->v[i].value);
    }
    bs_free(p->v);
    txn_pairs_init(p);
}

static void pairs_push(txn_pairs *p, bs_slice key, bs_slice value)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->v = bs_realloc(p->v, p->cap * sizeof(txn_pair));
    }
    p->v[p->n].key = (bs_buf)BS_BUF_INIT;
    p->v[p->n].value = (bs_buf)BS_BUF_INIT;
    bs_buf_append_slice(&p->v[p->n].key, key);
    bs_buf_append_slice(&p->v[p->n].value, value);
    p->n++;
}

int txn_raw_batch_get(txn_store *s, const bs_slice *keys, size_t n, uint64_t read_ts,
                      txn_pairs *out, txn_error *e)
{
    int rc = check_keys(s, keys, n, read_ts, e);
    if (rc != BS_OK)
        return rc;
    kv_snapshot *snap = kv_snapshot_new(engine_of(s));
    txn_cur cur;
    txn_cur_init(&cur);
    /* Every lock before any pair is appended: a locked batch leaves *out untouched. */
    rc = check_locks(s, snap, keys, n, e);
    for (size_t i = 0; i < n && rc == BS_OK; i++) {
        rc = read_one(s, snap, keys[i], &cur, e);
        if (rc == BS_OK)
            pairs_push(out, keys[i], bs_buf_slice(&cur.value));
        else if (rc == BS_NOTFOUND)
            rc = BS_OK;
        else
            break;
    }
    txn_cur_deinit(&cur);
    kv_snapshot_free(snap);
    return rc;
}

/* Frees the pairs appended after the first n. */
static void pairs_truncate(txn_pairs *p, size_t n)
{
    BS_ASSERT(n <= p->n);
    while (p->n > n) {
        p->n--;
        bs_buf_free(&p->v[p->n].key);
        bs_buf_free(&p->v[p->n].value);
    }
}

/* Range requests: both bounds (when non-empty) must be RawKV keys; an end may also be the
 * first key after the 'r' space ("s\0\0\0"), as clients send for an unbounded end. */
static int check_range(bs_slice lo, bs_slice hi, txn_error *e)
{
    if ((lo.len && lo.ptr[0] != KV_MODE_RAW) ||
        (hi.len && hi.ptr[0] != KV_MODE_RAW && hi.ptr[0] != KV_MODE_RAW + 1))
        return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_KEY_MODE, NULL);
    return BS_OK;
}

typedef struct scan_ctx {
    txn_pairs *out;
    uint32_t limit;
    bool key_only;
} scan_ctx;

static bool scan_one(void *arg, bs_slice key, const kv_raw_value *v)
{
    scan_ctx *sc = arg;
    pairs_push(sc->out, key, sc->key_only ? BS_SLICE_NULL : v->value);
    return sc->limit == 0 || sc->out->n < sc->limit;
}

int txn_raw_scan(txn_store *s, const txn_scan_req *req, txn_pairs *out, txn_error *e)
{
    /* Forward: [start, end); reverse: [end, start). */
    bs_slice lo = req->reverse ? req->end : req->start;
    bs_slice hi = req->reverse ? req->start : req->end;
    size_t base = out->n;
    scan_ctx sc = {out, req->limit ? (uint32_t)(req->limit + base) : 0, req->key_only};
    bs_err err;
    int rc = check_range(lo, hi, e);
    if (rc == BS_OK)
        rc = check_pending(s, lo, hi, true, req->read_ts, e);
    if (rc != BS_OK)
        return rc;
    kv_snapshot *snap = kv_snapshot_new(engine_of(s));
    bs_err_clear(&err);
    rc = txn_mvcc_walk(engine_of(s), snap, lo, hi, req->reverse, (uint64_t)bs_clock_wall_ms(),
                       scan_one, &sc, &err);
    if (rc != BS_OK) {
        kv_snapshot_free(snap);
        return txn_error_from_bs(e, &err);
    }
    /* The span the answer covers: the whole range, or up to (and including) the last key
     * when the limit cut the walk. A lock in it may change the answer; one past it cannot. */
    bs_buf edge = BS_BUF_INIT;
    if (req->limit && out->n - base >= req->limit) {
        BS_ASSERT(out->n > base);
        const bs_buf *last = &out->v[out->n - 1].key;
        bs_buf_set(&edge, last->ptr, last->len);
        if (req->reverse) {
            lo = bs_buf_slice(&edge);
        } else {
            bs_buf_append(&edge, (const uint8_t *)"", 1); /* last ‖ 0x00: just past last */
            hi = bs_buf_slice(&edge);
        }
    }
    rc = check_range_locks(s, snap, lo, hi, e);
    bs_buf_free(&edge);
    kv_snapshot_free(snap);
    if (rc != BS_OK)
        pairs_truncate(out, base); /* a refused scan appends nothing */
    return rc;
}

int txn_raw_get_key_ttl(txn_store *s, bs_slice key, uint64_t read_ts, uint64_t *ttl_ms,
                        txn_error *e)
{
    uint64_t expire_ms;
    return txn_raw_get_key_expiry(s, key, read_ts, &expire_ms, ttl_ms, e);
}

int txn_raw_get_key_expiry(txn_store *s, bs_slice key, uint64_t read_ts, uint64_t *expire_ms,
                           uint64_t *ttl_ms, txn_error *e)
{
    int rc = check_keys(s, &key, 1, read_ts, e);
    if (rc != BS_OK)
        return rc;
    kv_snapshot *snap = kv_snapshot_new(engine_of(s));
    uint64_t now = (uint64_t)bs_clock_wall_ms();
    txn_cur cur;
    txn_cur_init(&cur);
    rc = check_locks(s, snap, &key, 1, e);
    if (rc == BS_OK)
        rc = read_one(s, snap, key, &cur, e);
    if (rc == BS_OK) {
        *expire_ms = cur.has_expire ? cur.expire_ms : 0;
        if (ttl_ms)
            *ttl_ms = cur.has_expire ? cur.expire_ms - now : 0; /* live: expire_ms > now */
    }
    txn_cur_deinit(&cur);
    kv_snapshot_free(snap);
    return rc;
}

static bool checksum_one(void *arg, bs_slice key, const kv_raw_value *v)
{
    txn_checksum *cs = arg;
    uint64_t crc = txn_crc64(0, key);
    /* crc64 of key ‖ value: continue the same digest over the value. */
    crc = txn_crc64(crc, v->value);
    cs->checksum ^= crc;
    cs->total_kvs++;
    cs->total_bytes += key.len + v->value.len;
    return true;
}

int txn_raw_checksum(txn_store *s, const txn_scan_req *ranges, size_t n, uint64_t read_ts,
                     txn_checksum *out, txn_error *e)
{
    int rc = BS_OK;
    memset(out, 0, sizeof(*out));
    /* Every range is checked before the snapshot is taken (see check_keys). */
    for (size_t i = 0; i < n && rc == BS_OK; i++) {
        rc = check_range(ranges[i].start, ranges[i].end, e);
        if (rc == BS_OK)
            rc = check_pending(s, ranges[i].start, ranges[i].end, true, read_ts, e);
    }
    if (rc != BS_OK)
        return rc;
    kv_snapshot *snap = kv_snapshot_new(engine_of(s));
    for (size_t i = 0; i < n && rc == BS_OK; i++)
        rc = check_range_locks(s, snap, ranges[i].start, ranges[i].end, e);
    for (size_t i = 0; i < n && rc == BS_OK; i++) {
        bs_err err;
        bs_err_clear(&err);
        rc = txn_mvcc_walk(engine_of(s), snap, ranges[i].start, ranges[i].end, false,
                           (uint64_t)bs_clock_wall_ms(), checksum_one, out, &err);
        if (rc != BS_OK)
            rc = txn_error_from_bs(e, &err);
    }
    kv_snapshot_free(snap);
    return rc;
}
