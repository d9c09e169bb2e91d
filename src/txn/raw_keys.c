/* raw_keys.c -- the key shapes the raw commands read and write.
 *
 * A raw request key is the API v2 key a client sends ('r' ‖ keyspace ‖ user key); on disk
 * each version is MCE(key) ‖ ~ts in CF default (PROTOCOL.md §4.5). Because MCE is
 * order-preserving and prefix-free, the versions of one key form one contiguous run that
 * starts at MCE(key) (newest first), and MCE(a) < MCE(b) bounds whole runs, which is what
 * range reads and RawDeleteRange rely on. */
#include <string.h>

#include "common/assert.h"
#include "common/codec.h"
#include "txn/txn_int.h"

int txn_check_raw_key(bs_slice key, txn_error *e)
{
    if (key.len < KV_PREFIX_LEN || key.ptr[0] != KV_MODE_RAW)
        return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_KEY_MODE, NULL);
    return BS_OK;
}

void txn_version_bounds(bs_slice key, bs_buf *both, bs_slice *lo, bs_slice *hi)
{
    bs_buf_reset(both);
    bs_buf_reserve(both, 2 * (bs_mce_encoded_len(key.len) + KV_TS_LEN)); /* one allocation */
    kv_mvcc_key_append(both, key, UINT64_MAX);
    size_t n = both->len;
    kv_mvcc_key_append(both, key, 0);
    *lo = bs_slice_make(both->ptr, n);
    *hi = bs_slice_make(both->ptr + n, both->len - n);
}

void txn_range_bound(bs_slice bound, bool is_end, bs_buf *out)
{
    static const uint8_t raw_end[1] = {KV_MODE_RAW + 1};
    static const uint8_t raw_start[1] = {KV_MODE_RAW};
    bs_buf_reset(out);
    if (bound.len == 0)
        bound = is_end ? bs_slice_make(raw_end, 1) : bs_slice_make(raw_start, 1);
    bs_mce_append(out, bound);
}

uint64_t txn_expire_from_ttl(uint64_t now_ms, uint64_t ttl_ms)
{
    if (ttl_ms == 0)
        return 0;
    return ttl_ms > UINT64_MAX - now_ms ? UINT64_MAX : now_ms + ttl_ms;
}

void txn_write_init(txn_write *w)
{
    memset(w, 0, sizeof(*w));
}

void txn_write_deinit(txn_write *w)
{
    bs_buf_free(&w->value);
    w->kind = TXN_WRITE_NONE;
}

void txn_write_to_batch(kv_batch *b, bs_slice key, uint64_t ts, const txn_write *w)
{
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    BS_ASSERT(w->kind == TXN_WRITE_PUT || w->kind == TXN_WRITE_DELETE);
    kv_mvcc_key_append(&k, key, ts);
    if (w->kind == TXN_WRITE_DELETE)
        kv_raw_value_encode(&v, BS_SLICE_NULL, 0, true);
    else
        kv_raw_value_encode(&v, bs_buf_slice(&w->value), w->expire_ms, false);
    kv_batch_put(b, KV_CF_DEFAULT, bs_buf_slice(&k), bs_buf_slice(&v));
    bs_buf_free(&k);
    bs_buf_free(&v);
}

void txn_cur_init(txn_cur *c)
{
    memset(c, 0, sizeof(*c));
}

void txn_cur_deinit(txn_cur *c)
{
    bs_buf_free(&c->value);
    c->exists = false;
}
