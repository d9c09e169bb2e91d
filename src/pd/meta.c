/* meta.c -- PD's thin layer over its pd_meta_store: calls through the vtable, u64 values,
 * id-suffixed keys.
 *
 * Every persisted piece of PD state goes through these helpers, so adding context to
 * errors ("pd meta put tso/window: ...") and the encoding of fixed values live in one
 * place. Fixed values are u64 big-endian (common/codec.h), as TiKV writes its own. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/codec.h"
#include "pd/pd_int.h"

int pd_wrapf(int rc, bs_err *err, const char *fmt, ...)
{
    if (!err)
        return rc;
    char ctx[128];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(ctx, sizeof(ctx), fmt, ap); /* truncated context is still useful */
    va_end(ap);
    bs_err_wrapf(err, "%s", ctx);
    err->code = rc;
    return rc;
}

void pd_meta_store_free(pd_meta_store *ms)
{
    if (ms)
        ms->vt->destroy(ms);
}

int pd_meta_get(pd_meta_store *ms, bs_slice key, bs_buf *value, bs_err *err)
{
    int rc = ms->vt->get(ms, key, value, err);
    if (rc != BS_OK && rc != BS_NOTFOUND)
        return pd_wrapf(rc, err, "pd meta get");
    return rc;
}

int pd_meta_put(pd_meta_store *ms, bs_slice key, bs_slice value, bool sync, bs_err *err)
{
    int rc = ms->vt->put(ms, key, value, sync, err);
    if (rc != BS_OK)
        return pd_wrapf(rc, err, "pd meta put");
    return rc;
}

int pd_meta_del(pd_meta_store *ms, bs_slice key, bool sync, bs_err *err)
{
    int rc = ms->vt->del(ms, key, sync, err);
    if (rc != BS_OK)
        return pd_wrapf(rc, err, "pd meta delete");
    return rc;
}

int pd_meta_write(pd_meta_store *ms, const pd_meta_op *ops, size_t n, bool sync, bs_err *err)
{
    int rc = ms->vt->write(ms, ops, n, sync, err);
    if (rc != BS_OK)
        return pd_wrapf(rc, err, "pd meta write batch");
    return rc;
}

int pd_meta_scan(pd_meta_store *ms, bs_slice prefix, pd_meta_scan_fn fn, void *arg, bs_err *err)
{
    return ms->vt->scan_prefix(ms, prefix, fn, arg, err);
}

int pd_meta_get_u64(pd_meta_store *ms, const char *key, uint64_t *v, bs_err *err)
{
    bs_buf b = BS_BUF_INIT;
    int rc = pd_meta_get(ms, bs_slice_from_str(key), &b, err);
    if (rc == BS_OK) {
        if (b.len != 8)
            rc = bs_err_setf(err, BS_ECORRUPT, "pd meta %s: %zu bytes, want 8", key, b.len);
        else
            *v = bs_u64_be_get(b.ptr);
    }
    bs_buf_free(&b);
    return rc;
}

int pd_meta_put_u64(pd_meta_store *ms, const char *key, uint64_t v, bool sync, bs_err *err)
{
    uint8_t raw[8];
    bs_u64_be_put(raw, v);
    int rc = pd_meta_put(ms, bs_slice_from_str(key), bs_slice_make(raw, 8), sync, err);
    if (rc != BS_OK)
        return pd_wrapf(rc, err, "%s", key);
    return rc;
}

void pd_meta_id_key(bs_buf *out, const char *prefix, uint64_t id)
{
    bs_buf_set(out, prefix, strlen(prefix));
    bs_u64_be_append(out, id);
}
