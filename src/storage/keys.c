/* keys.c -- every key layout Basalt writes, in one place: CF names, API v2 prefixes,
 * MVCC keys and region-bound keys (as tikv components/keys and txn_types::Key do).
 *
 * Invariants the layouts give (tested in tests/unit/storage/test_keys.c):
 *   - MCE preserves bytewise order and no MCE is a prefix of another, so all versions of
 *     one user key are contiguous and ordered by key first;
 *   - the ts suffix is ~ts big-endian, so within a key the newest version sorts first;
 *   - a region bound MCE(k) (no ts) sorts before every version of k, so a split at a
 *     region bound never separates two versions of one key. */
#include <string.h>

#include "common/assert.h"
#include "common/codec.h"
#include "storage/kv.h"

static const char *const cf_names[KV_CF_COUNT] = {"default", "lock", "write", "raft"};

const char *kv_cf_name(kv_cf cf)
{
    BS_ASSERT(cf < KV_CF_COUNT);
    return cf_names[cf];
}

int kv_cf_from_name(const char *name, kv_cf *out)
{
    for (int i = 0; i < KV_CF_COUNT; i++) {
        if (strcmp(name, cf_names[i]) == 0) {
            *out = (kv_cf)i;
            return BS_OK;
        }
    }
    return BS_NOTFOUND;
}

void kv_prefix_put(uint8_t dst[KV_PREFIX_LEN], uint8_t mode, uint32_t keyspace)
{
    BS_ASSERT(keyspace <= KV_KEYSPACE_MAX);
    dst[0] = mode;
    dst[1] = (uint8_t)(keyspace >> 16);
    dst[2] = (uint8_t)(keyspace >> 8);
    dst[3] = (uint8_t)keyspace;
}

void kv_key_v2_append(bs_buf *out, uint8_t mode, uint32_t keyspace, bs_slice user_key)
{
    uint8_t p[KV_PREFIX_LEN];
    kv_prefix_put(p, mode, keyspace);
    bs_buf_reserve(out, KV_PREFIX_LEN + user_key.len);
    bs_buf_append(out, p, KV_PREFIX_LEN);
    bs_buf_append_slice(out, user_key);
}

int kv_key_v2_split(bs_slice key, uint8_t *mode, uint32_t *keyspace, bs_slice *user)
{
    if (key.len < KV_PREFIX_LEN)
        return BS_EINVAL;
    if (key.ptr[0] != KV_MODE_RAW && key.ptr[0] != KV_MODE_TXN)
        return BS_EINVAL;
    *mode = key.ptr[0];
    *keyspace = ((uint32_t)key.ptr[1] << 16) | ((uint32_t)key.ptr[2] << 8) | key.ptr[3];
    *user = bs_slice_make(key.ptr + KV_PREFIX_LEN, key.len - KV_PREFIX_LEN);
    return BS_OK;
}

void kv_keyspace_range(uint8_t mode, uint32_t keyspace, uint8_t start[KV_PREFIX_LEN],
                       uint8_t end[KV_PREFIX_LEN])
{
    kv_prefix_put(start, mode, keyspace);
    /* +1 on the 4 bytes as a big-endian u32; mode is never 0xFF, so no wrap. */
    uint32_t v = bs_u32_be_get(start);
    BS_ASSERT(v != UINT32_MAX);
    bs_u32_be_put(end, v + 1);
}

void kv_ts_suffix_append(bs_buf *out, uint64_t ts)
{
    bs_u64_be_append(out, ~ts);
}

void kv_mvcc_key_append(bs_buf *out, bs_slice key, uint64_t ts)
{
    bs_buf_reserve(out, bs_mce_encoded_len(key.len) + KV_TS_LEN);
    bs_mce_append(out, key);
    kv_ts_suffix_append(out, ts);
}

int kv_mvcc_key_split(bs_slice mvcc_key, bs_slice *encoded_key, uint64_t *ts, bs_err *err)
{
    size_t n = 0;
    if (bs_mce_field_len(mvcc_key, &n) != BS_OK)
        return bs_err_setf(err, BS_ECORRUPT, "mvcc key: malformed memcomparable key");
    if (mvcc_key.len - n != KV_TS_LEN)
        return bs_err_setf(err, BS_ECORRUPT, "mvcc key: %zu bytes after the key, want 8",
                           mvcc_key.len - n);
    *encoded_key = bs_slice_make(mvcc_key.ptr, n);
    if (ts)
        *ts = ~bs_u64_be_get(mvcc_key.ptr + n);
    return BS_OK;
}

int kv_mvcc_key_decode(bs_slice mvcc_key, bs_buf *user_key, uint64_t *ts, bs_err *err)
{
    bs_slice enc;
    int rc = kv_mvcc_key_split(mvcc_key, &enc, ts, err);
    if (rc != BS_OK)
        return rc;
    bs_buf_reset(user_key);
    /* Validated by kv_mvcc_key_split, so this cannot fail. */
    rc = bs_mce_read(&enc, user_key);
    BS_ASSERT(rc == BS_OK && enc.len == 0);
    return BS_OK;
}

void kv_region_key_append(bs_buf *out, bs_slice key)
{
    bs_mce_append(out, key);
}
