/* iter.c -- snapshots and bounded iterators over one column family.
 *
 * A kv_snapshot pins a RocksDB sequence number so reads and scans through it see one
 * consistent state. A kv_iter owns its read options and COPIES of its bounds: RocksDB keeps
 * only pointers to the bound bytes, which must outlive the iterator (small ones are kept in
 * the kv_iter itself). Keys and values handed out are RocksDB's own buffers, borrowed until
 * the next move. */
#include <string.h>

#include "common/assert.h"
#include "common/codec.h"
#include "storage/kv_int.h"

kv_snapshot *kv_snapshot_new(kv_engine *e)
{
    kv_snapshot *s = bs_calloc(1, sizeof(*s));
    s->e = e;
    s->snap = rocksdb_create_snapshot(e->db);
    s->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_snapshot(s->ro, s->snap);
    return s;
}

void kv_snapshot_free(kv_snapshot *s)
{
    if (!s)
        return;
    rocksdb_readoptions_destroy(s->ro);
    rocksdb_release_snapshot(s->e->db, s->snap);
    bs_free(s);
}

int kv_snapshot_get(kv_snapshot *s, kv_cf cf, bs_slice key, bs_buf *out, bs_err *err)
{
    return kv_get_with(s->e, s->ro, cf, key, out, err);
}

/* Bounds up to this many bytes (both together) are copied into the iterator itself: a
 * point read's two MVCC bounds fit, and a GET then makes no allocation for them. */
#define ITER_INLINE_BOUNDS 96

struct kv_iter {
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *ro;
    uint8_t *bounds; /* lower then upper, copied: RocksDB points into them. Either
                      * inline_bounds or owned */
    uint8_t inline_bounds[ITER_INLINE_BOUNDS];
};

/* Are [lower, upper) the bounds of one key's versions in CF default: two MVCC keys of the
 * same MCE(key)? Every key between them then has that prefix too, because MCE is
 * self-delimiting and CF default holds MVCC keys only (kv.h). */
static bool one_key_versions(kv_cf cf, bs_slice lower, bs_slice upper)
{
    size_t n = 0;
    if (cf != KV_CF_DEFAULT || lower.len <= KV_TS_LEN || lower.len != upper.len)
        return false;
    if (bs_mce_field_len(lower, &n) != BS_OK || n != lower.len - KV_TS_LEN)
        return false;
    return memcmp(lower.ptr, upper.ptr, n) == 0;
}

static kv_iter *iter_new(kv_engine *e, kv_snapshot *snap, kv_cf cf, bs_slice lower,
                         bs_slice upper, bool fill_cache)
{
    BS_ASSERT(cf < KV_CF_COUNT);
    BS_ASSERT(!snap || snap->e == e);
    kv_iter *it = bs_calloc(1, sizeof(*it));
    size_t nb = lower.len + upper.len;
    it->bounds = nb <= sizeof(it->inline_bounds) ? it->inline_bounds : bs_malloc(nb);
    it->ro = rocksdb_readoptions_create();
    if (!fill_cache)
        rocksdb_readoptions_set_fill_cache(it->ro, 0);
    if (snap)
        rocksdb_readoptions_set_snapshot(it->ro, snap->snap);
    /* CF default has a prefix extractor (engine.c). One key's versions are read in prefix
     * mode, where its blooms skip memtables and files without the key; any other range
     * must see keys of every prefix, in order. */
    if (one_key_versions(cf, lower, upper))
        rocksdb_readoptions_set_prefix_same_as_start(it->ro, 1);
    else
        rocksdb_readoptions_set_total_order_seek(it->ro, 1);
    if (lower.len) {
        memcpy(it->bounds, lower.ptr, lower.len);
        rocksdb_readoptions_set_iterate_lower_bound(it->ro, (const char *)it->bounds,
                                                    lower.len);
    }
    if (upper.len) {
        memcpy(it->bounds + lower.len, upper.ptr, upper.len);
        rocksdb_readoptions_set_iterate_upper_bound(it->ro, (const char *)it->bounds + lower.len,
                                                    upper.len);
    }
    it->it = rocksdb_create_iterator_cf(e->db, it->ro, e->cf[cf]);
    return it;
}

kv_iter *kv_iter_new(kv_engine *e, kv_snapshot *snap, kv_cf cf, bs_slice lower, bs_slice upper)
{
    return iter_new(e, snap, cf, lower, upper, true);
}

kv_iter *kv_iter_new_sweep(kv_engine *e, kv_snapshot *snap, kv_cf cf, bs_slice lower,
                           bs_slice upper)
{
    return iter_new(e, snap, cf, lower, upper, false);
}

void kv_iter_free(kv_iter *it)
{
    if (!it)
        return;
    rocksdb_iter_destroy(it->it);
    rocksdb_readoptions_destroy(it->ro);
    if (it->bounds != it->inline_bounds)
        bs_free(it->bounds);
    bs_free(it);
}

void kv_iter_seek_to_first(kv_iter *it)
{
    rocksdb_iter_seek_to_first(it->it);
}

void kv_iter_seek_to_last(kv_iter *it)
{
    rocksdb_iter_seek_to_last(it->it);
}

void kv_iter_seek(kv_iter *it, bs_slice key)
{
    rocksdb_iter_seek(it->it, key.len ? (const char *)key.ptr : "", key.len);
}

void kv_iter_seek_for_prev(kv_iter *it, bs_slice key)
{
    rocksdb_iter_seek_for_prev(it->it, key.len ? (const char *)key.ptr : "", key.len);
}

void kv_iter_next(kv_iter *it)
{
    BS_ASSERT(rocksdb_iter_valid(it->it));
    rocksdb_iter_next(it->it);
}

void kv_iter_prev(kv_iter *it)
{
    BS_ASSERT(rocksdb_iter_valid(it->it));
    rocksdb_iter_prev(it->it);
}

bool kv_iter_valid(const kv_iter *it)
{
    return rocksdb_iter_valid(it->it) != 0;
}

bs_slice kv_iter_key(const kv_iter *it)
{
    size_t n = 0;
    const char *p = rocksdb_iter_key(it->it, &n);
    return bs_slice_make(p, n);
}

bs_slice kv_iter_value(const kv_iter *it)
{
    size_t n = 0;
    const char *p = rocksdb_iter_value(it->it, &n);
    return bs_slice_make(p, n);
}

int kv_iter_status(const kv_iter *it, bs_err *err)
{
    char *rerr = NULL;
    rocksdb_iter_get_error(it->it, &rerr);
    if (rerr)
        return kv_rocks_err(err, BS_EIO, rerr, "rocksdb iterator");
    return BS_OK;
}
