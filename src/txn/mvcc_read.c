/* mvcc_read.c -- reading RawKV v2 versions: the newest version of one key, and walks over
 * the newest live version of every key in a range, forward or backward.
 *
 * Raw reads see the newest version only (PROTOCOL.md §4.5): a key is live when its newest
 * version is neither the deleted marker nor expired. Older versions are never returned,
 * even when the newest is deleted or expired; they wait for GC. A forward walk reads the
 * first entry of each key's run (newest first) and seeks past the run; a backward walk
 * lands on a run's last (oldest) entry, so it re-seeks to the run's start to read the
 * newest, then seeks before the run. */
#include <string.h>

#include "common/assert.h"
#include "common/codec.h"
#include "txn/txn_int.h"

int txn_mvcc_read_newest(kv_engine *e, kv_snapshot *snap, bs_slice key, uint64_t now_ms,
                         txn_cur *cur, bs_err *err)
{
    kv_iter *it;
    int rc = BS_OK;
    cur->exists = false;
    cur->has_expire = false;
    cur->expire_ms = 0;
    cur->newest_ts = 0;
    bs_buf_reset(&cur->value);
    bs_buf b = BS_BUF_INIT;
    bs_slice lo, hi;
    txn_version_bounds(key, &b, &lo, &hi);
    it = kv_iter_new(e, snap, KV_CF_DEFAULT, lo, hi); /* copies the bounds */
    bs_buf_free(&b);
    kv_iter_seek_to_first(it);
    if (kv_iter_valid(it)) {
        kv_raw_value v;
        bs_slice enc;
        rc = kv_mvcc_key_split(kv_iter_key(it), &enc, &cur->newest_ts, err);
        if (rc == BS_OK)
            rc = kv_raw_value_decode(kv_iter_value(it), &v, err);
        if (rc == BS_OK && !v.deleted && !kv_raw_value_is_expired(&v, now_ms)) {
            cur->exists = true;
            cur->has_expire = v.has_expire;
            cur->expire_ms = v.expire_ms;
            bs_buf_set(&cur->value, v.value.ptr, v.value.len);
        }
    } else {
        rc = kv_iter_status(it, err);
    }
    kv_iter_free(it);
    return rc;
}

/* Decodes the current entry and reports it to fn when live. *stop is set when fn says so. */
static int visit(kv_iter *it, bs_buf *key, uint64_t now_ms, txn_walk_fn fn, void *arg,
                 bool *stop, bs_err *err)
{
    kv_raw_value v;
    uint64_t ts;
    int rc = kv_mvcc_key_decode(kv_iter_key(it), key, &ts, err);
    if (rc == BS_OK)
        rc = kv_raw_value_decode(kv_iter_value(it), &v, err);
    if (rc == BS_OK && !v.deleted && !kv_raw_value_is_expired(&v, now_ms))
        *stop = !fn(arg, bs_buf_slice(key), &v);
    return rc;
}

int txn_mvcc_walk(kv_engine *e, kv_snapshot *snap, bs_slice lo, bs_slice hi, bool reverse,
                  uint64_t now_ms, txn_walk_fn fn, void *arg, bs_err *err)
{
    bs_buf blo = BS_BUF_INIT, bhi = BS_BUF_INIT, key = BS_BUF_INIT, run = BS_BUF_INIT;
    bool stop = false;
    int rc = BS_OK;
    txn_range_bound(lo, false, &blo);
    txn_range_bound(hi, true, &bhi);
    kv_iter *it = kv_iter_new(e, snap, KV_CF_DEFAULT, bs_buf_slice(&blo), bs_buf_slice(&bhi));
    if (!reverse)
        kv_iter_seek_to_first(it);
    else
        kv_iter_seek_to_last(it);
    while (rc == BS_OK && !stop && kv_iter_valid(it)) {
        bs_slice enc;
        rc = kv_mvcc_key_split(kv_iter_key(it), &enc, NULL, err);
        if (rc != BS_OK)
            break;
        bs_buf_set(&run, enc.ptr, enc.len); /* MCE(key): the start of the key's run */
        if (reverse) {
            kv_iter_seek(it, bs_buf_slice(&run)); /* the newest version */
            BS_ASSERT(kv_iter_valid(it));
        }
        rc = visit(it, &key, now_ms, fn, arg, &stop, err);
        if (rc != BS_OK || stop)
            break;
        if (!reverse) {
            /* Past the run: MCE(key) ‖ FF×8 is above every version (ts 0 is never used). */
            static const uint8_t ones[KV_TS_LEN] = {0xFF, 0xFF, 0xFF, 0xFF,
                                                    0xFF, 0xFF, 0xFF, 0xFF};
            bs_buf_append(&run, ones, sizeof(ones));
            kv_iter_seek(it, bs_buf_slice(&run));
            if (kv_iter_valid(it) && bs_slice_eq(kv_iter_key(it), bs_buf_slice(&run)))
                kv_iter_next(it);
        } else {
            kv_iter_seek_for_prev(it, bs_buf_slice(&run)); /* below every version of key */
        }
    }
    if (rc == BS_OK && !stop)
        rc = kv_iter_status(it, err);
    kv_iter_free(it);
    bs_buf_free(&blo);
    bs_buf_free(&bhi);
    bs_buf_free(&key);
    bs_buf_free(&run);
    return rc;
}
