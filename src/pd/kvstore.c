/* kvstore.c -- the real pd_meta_store: PD's state in its own RocksDB directory.
 *
 * PD keeps its metadata apart from the store's data (DESIGN.md: "PD state lives in its own
 * RocksDB directory under the data dir"), so a store's column families and compactions never
 * mix with the TSO window and id bound that must survive every restart. Everything lives in
 * the default column family; keys are PD's own (pd_int.h). Writes go through one storage
 * batch each, so pd_meta_op lists are atomic, and sync writes fsync the WAL before returning.
 * The engine is thread-safe, so this adapter needs no lock of its own. */
#include <string.h>

#include "common/assert.h"
#include "pd/pd.h"
#include "storage/kv.h"

typedef struct kvstore {
    pd_meta_store base; /* first member: the vtable pointer */
    kv_engine *engine;  /* owned */
} kvstore;

static kvstore *as_kv(pd_meta_store *ms)
{
    return (kvstore *)ms;
}

static int ks_get(pd_meta_store *ms, bs_slice key, bs_buf *value, bs_err *err)
{
    return kv_get(as_kv(ms)->engine, KV_CF_DEFAULT, key, value, err);
}

static int ks_write(pd_meta_store *ms, const pd_meta_op *ops, size_t n, bool sync, bs_err *err)
{
    kv_batch *b = kv_batch_new();
    for (size_t i = 0; i < n; i++) {
        if (ops[i].type == PD_META_PUT)
            kv_batch_put(b, KV_CF_DEFAULT, ops[i].key, ops[i].value);
        else
            kv_batch_delete(b, KV_CF_DEFAULT, ops[i].key);
    }
    int rc = kv_engine_write(as_kv(ms)->engine, b, sync, err);
    kv_batch_free(b);
    return rc;
}

static int ks_put(pd_meta_store *ms, bs_slice key, bs_slice value, bool sync, bs_err *err)
{
    pd_meta_op op = {PD_META_PUT, key, value};
    return ks_write(ms, &op, 1, sync, err);
}

static int ks_del(pd_meta_store *ms, bs_slice key, bool sync, bs_err *err)
{
    pd_meta_op op = {PD_META_DEL, key, BS_SLICE_NULL};
    return ks_write(ms, &op, 1, sync, err);
}

/* The smallest key greater than every key with this prefix: the prefix with its last
 * non-0xFF byte incremented and the rest dropped. Empty when the prefix is all 0xFF (no
 * upper bound). */
static void prefix_end(bs_slice prefix, bs_buf *out)
{
    bs_buf_set(out, prefix.ptr, prefix.len);
    while (out->len > 0 && out->ptr[out->len - 1] == 0xFF)
        out->len--;
    if (out->len > 0)
        out->ptr[out->len - 1]++;
}

static int ks_scan_prefix(pd_meta_store *ms, bs_slice prefix, pd_meta_scan_fn fn, void *arg,
                          bs_err *err)
{
    bs_buf end = BS_BUF_INIT;
    prefix_end(prefix, &end);
    kv_iter *it = kv_iter_new(as_kv(ms)->engine, NULL, KV_CF_DEFAULT, prefix, bs_buf_slice(&end));
    int rc = BS_OK;
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it)) {
        rc = fn(arg, kv_iter_key(it), kv_iter_value(it), err);
        if (rc != BS_OK)
            break;
    }
    if (rc == BS_OK)
        rc = kv_iter_status(it, err);
    kv_iter_free(it);
    bs_buf_free(&end);
    return rc;
}

static void ks_destroy(pd_meta_store *ms)
{
    kvstore *k = as_kv(ms);
    kv_engine_close(k->engine);
    bs_free(k);
}

static const pd_meta_store_vtbl kvstore_vtbl = {
    .get = ks_get,
    .put = ks_put,
    .del = ks_del,
    .write = ks_write,
    .scan_prefix = ks_scan_prefix,
    .destroy = ks_destroy,
};

int pd_kvstore_open(const char *dir, pd_meta_store **out, bs_err *err)
{
    kv_options o;
    kv_options_init(&o);
    /* PD's state is a few kilobytes: small buffers, no compression worth its CPU. */
    o.block_cache_size = 8u << 20;
    o.write_buffer_size = 4u << 20;
    kv_engine *e = NULL;
    int rc = kv_engine_open(dir, &o, &e, err);
    if (rc != BS_OK)
        return bs_err_wrapf(err, "open PD meta store");
    kvstore *k = bs_calloc(1, sizeof(*k));
    k->base.vt = &kvstore_vtbl;
    k->engine = e;
    *out = &k->base;
    return BS_OK;
}
