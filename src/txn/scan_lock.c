/* scan_lock.c -- walking CF lock over a key range: KvScanLock, and the read phase of
 * ResolveLock (resolve_lock.c).
 *
 * CF lock holds one entry per locked key, keyed MCE(key) without a timestamp, so a range
 * of API v2 keys [start, end) is the encoded range [MCE(start), MCE(end)) (MCE preserves
 * order). Each entry's key is decoded back to the API v2 key the client sent. Locks of both
 * layouts live here; a range decides which it sees. ScanLock is a read at max_version
 * (TiKV storage.scan_lock raises max_ts to it) and returns the locks that may block such a
 * read: start_ts <= max_version. */
#include <string.h>

#include "common/codec.h"
#include "txn/txn_int.h"

int txn_scan_locks(txn_reader *r, bs_slice start, bs_slice end, txn_lock_visit_fn fn,
                   void *arg)
{
    bs_buf lo = BS_BUF_INIT, hi = BS_BUF_INIT, key = BS_BUF_INIT;
    int rc = BS_OK;
    bool stop = false;
    if (start.len)
        bs_mce_append(&lo, start);
    if (end.len)
        bs_mce_append(&hi, end);
    kv_iter *it = kv_iter_new(r->e, r->snap, KV_CF_LOCK, bs_buf_slice(&lo), bs_buf_slice(&hi));
    for (kv_iter_seek_to_first(it); kv_iter_valid(it) && !stop; kv_iter_next(it)) {
        bs_slice enc = kv_iter_key(it);
        kv_lock l;
        bs_buf_reset(&key);
        if (bs_mce_read(&enc, &key) != BS_OK || enc.len != 0) {
            rc = bs_err_setf(r->err, BS_ECORRUPT, "lock key is not a memcomparable key");
            break;
        }
        rc = kv_lock_decode(kv_iter_value(it), &l, r->err);
        if (rc != BS_OK)
            break;
        stop = !fn(arg, bs_buf_slice(&key), &l);
    }
    if (rc == BS_OK && !stop)
        rc = kv_iter_status(it, r->err);
    kv_iter_free(it);
    bs_buf_free(&lo);
    bs_buf_free(&hi);
    bs_buf_free(&key);
    return rc;
}

typedef struct scan_lock_ctx {
    uint64_t max_version;
    uint32_t limit;
    txn_lock_infos *out;
    size_t base;
} scan_lock_ctx;

static bool collect(void *arg, bs_slice key, const kv_lock *l)
{
    scan_lock_ctx *c = arg;
    if (l->start_ts > c->max_version)
        return true;
    txn_lock_info_from_lock(txn_lock_infos_push(c->out), key, l);
    return c->limit == 0 || c->out->n - c->base < c->limit;
}

int txn_kv_scan_lock(txn_store *s, uint64_t max_version, bs_slice start, bs_slice end,
                     uint32_t limit, txn_lock_infos *out, txn_error *e)
{
    kv_engine *eng = txn_store_engine(s);
    scan_lock_ctx c = {max_version, limit, out, out->n};
    txn_reader r;
    bs_err err;
    if (start.len && end.len && bs_slice_cmp(start, end) > 0)
        return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "start key is above end key");
    txn_cm_update_max_ts(txn_store_cm(s), max_version);
    bs_err_clear(&err);
    kv_snapshot *snap = kv_snapshot_new(eng);
    txn_reader_init(&r, eng, snap, 0, &err);
    int rc = txn_scan_locks(&r, start, end, collect, &c);
    kv_snapshot_free(snap);
    return rc == BS_OK ? BS_OK : txn_error_from_bs(e, &err);
}
