/* gc.c -- the GC safe point, service safe points, and PD advancing GC by itself.
 *
 * The GC safe point is the timestamp below which stores may drop MVCC versions that a newer
 * version shadows; it never moves backwards. Services that need old versions kept (the
 * cluster client for long reads, backup, a long EXEC) register a service safe point with a
 * TTL; GC never passes the oldest live one. Unlike TiKV deployments, where an external GC
 * worker (TiDB's, or client-go's) computes and pushes the safe point, PD advances it here:
 * pd_gc_tick sets it to now − [gc] life-time, bounded by the live service safe points. So
 * Basalt needs no external GC worker; UpdateGCSafePoint is still served for clients that
 * push one (client-rust's gc()). Every change is persisted with sync before it is visible:
 * a safe point that went backwards after a restart could let a store keep serving reads
 * that GC has already made wrong. Mirrors PD's pkg/gc/safepoint.go. */
#include <string.h>

#include "common/assert.h"
#include "common/codec.h"
#include "pd/pd_int.h"

#define MAX_SERVICE_ID 1024

static void svc_key(bs_buf *out, bs_slice id)
{
    bs_buf_set(out, PD_PREFIX_SERVICE, strlen(PD_PREFIX_SERVICE));
    bs_buf_append_slice(out, id);
}

static size_t svc_find(const pd_gc *gc, bs_slice id, bool *found)
{
    size_t lo = 0, hi = gc->n_svc;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (bs_slice_cmp(bs_buf_slice(&gc->svc[mid].id), id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < gc->n_svc && bs_slice_eq(bs_buf_slice(&gc->svc[lo].id), id);
    return lo;
}

static void svc_upsert(pd_gc *gc, bs_slice id, uint64_t sp, int64_t expire_at)
{
    bool found;
    size_t i = svc_find(gc, id, &found);
    if (!found) {
        if (gc->n_svc == gc->cap_svc) {
            gc->cap_svc = gc->cap_svc ? gc->cap_svc * 2 : 4;
            gc->svc = bs_realloc(gc->svc, gc->cap_svc * sizeof(*gc->svc));
        }
        memmove(&gc->svc[i + 1], &gc->svc[i], (gc->n_svc - i) * sizeof(*gc->svc));
        gc->n_svc++;
        bs_buf_init(&gc->svc[i].id);
        bs_buf_set(&gc->svc[i].id, id.ptr, id.len);
    }
    gc->svc[i].safe_point = sp;
    gc->svc[i].expire_at_ms = expire_at;
}

static void svc_remove_at(pd_gc *gc, size_t i)
{
    bs_buf_free(&gc->svc[i].id);
    memmove(&gc->svc[i], &gc->svc[i + 1], (gc->n_svc - i - 1) * sizeof(*gc->svc));
    gc->n_svc--;
}

static int load_svc(void *arg, bs_slice key, bs_slice value, bs_err *err)
{
    pd_core *pd = arg;
    bs_slice id =
        bs_slice_make(key.ptr + strlen(PD_PREFIX_SERVICE), key.len - strlen(PD_PREFIX_SERVICE));
    uint64_t sp = 0, exp = 0;
    if (value.len != 16 || id.len == 0 || bs_u64_be_read(&value, &sp) != BS_OK ||
        bs_u64_be_read(&value, &exp) != BS_OK)
        return bs_err_setf(err, BS_ECORRUPT, "service safe point record malformed");
    svc_upsert(&pd->gc, id, sp, (int64_t)exp);
    return BS_OK;
}

int pd_gc_load(pd_core *pd, bs_err *err)
{
    uint64_t sp = 0;
    int rc = pd_meta_get_u64(pd->ms, PD_KEY_GC_SAFE_POINT, &sp, err);
    if (rc == BS_NOTFOUND)
        sp = 0;
    else if (rc != BS_OK)
        return pd_wrapf(rc, err, "load gc safe point");
    pd->gc.safe_point = sp;
    rc = pd_meta_scan(pd->ms, bs_slice_from_str(PD_PREFIX_SERVICE), load_svc, pd, err);
    return rc == BS_OK ? BS_OK : pd_wrapf(rc, err, "load service safe points");
}

void pd_gc_free(pd_core *pd)
{
    for (size_t i = 0; i < pd->gc.n_svc; i++)
        bs_buf_free(&pd->gc.svc[i].id);
    bs_free(pd->gc.svc);
    memset(&pd->gc, 0, sizeof(pd->gc));
}

/* Deletes (durably, then in memory) every service point expired at now. */
static int drop_expired_locked(pd_core *pd, int64_t now, bs_err *err)
{
    pd_gc *gc = &pd->gc;
    size_t n = 0;
    for (size_t i = 0; i < gc->n_svc; i++)
        n += gc->svc[i].expire_at_ms <= now;
    if (n == 0)
        return BS_OK;
    pd_meta_op *ops = bs_calloc(n, sizeof(*ops));
    bs_buf *keys = bs_calloc(n, sizeof(*keys));
    size_t k = 0;
    for (size_t i = 0; i < gc->n_svc; i++) {
        if (gc->svc[i].expire_at_ms > now)
            continue;
        svc_key(&keys[k], bs_buf_slice(&gc->svc[i].id));
        ops[k] = (pd_meta_op){PD_META_DEL, bs_buf_slice(&keys[k]), BS_SLICE_NULL};
        k++;
    }
    int rc = pd_meta_write(pd->ms, ops, n, true, err);
    for (size_t i = 0; i < n; i++)
        bs_buf_free(&keys[i]);
    bs_free(keys);
    bs_free(ops);
    if (rc != BS_OK)
        return pd_wrapf(rc, err, "drop expired service safe points");
    for (size_t i = gc->n_svc; i > 0; i--)
        if (gc->svc[i - 1].expire_at_ms <= now)
            svc_remove_at(gc, i - 1);
    return BS_OK;
}

/* Minimum over live services; false when there is none. */
static bool min_service_locked(const pd_core *pd, uint64_t *min)
{
    bool any = false;
    for (size_t i = 0; i < pd->gc.n_svc; i++) {
        if (!any || pd->gc.svc[i].safe_point < *min)
            *min = pd->gc.svc[i].safe_point;
        any = true;
    }
    return any;
}

static int set_safe_point_locked(pd_core *pd, uint64_t sp, bs_err *err)
{
    BS_ASSERT(sp >= pd->gc.safe_point);
    if (sp == pd->gc.safe_point)
        return BS_OK;
    int rc = pd_meta_put_u64(pd->ms, PD_KEY_GC_SAFE_POINT, sp, true, err);
    if (rc != BS_OK)
        return pd_wrapf(rc, err, "save gc safe point");
    pd->gc.safe_point = sp;
    return BS_OK;
}

uint64_t pd_get_gc_safe_point(pd_core *pd)
{
    pthread_mutex_lock(&pd->mu);
    uint64_t sp = pd->gc.safe_point;
    pthread_mutex_unlock(&pd->mu);
    return sp;
}

int pd_update_gc_safe_point(pd_core *pd, uint64_t safe_point, uint64_t *new_sp, bs_err *err)
{
    pthread_mutex_lock(&pd->mu);
    uint64_t sp = safe_point > pd->gc.safe_point ? safe_point : pd->gc.safe_point;
    int rc = set_safe_point_locked(pd, sp, err);
    if (rc == BS_OK)
        *new_sp = pd->gc.safe_point;
    pthread_mutex_unlock(&pd->mu);
    return rc;
}

int pd_update_service_gc_safe_point(pd_core *pd, bs_slice service_id, int64_t ttl_s,
                                    uint64_t safe_point, uint64_t *min_sp, bs_err *err)
{
    if (service_id.len == 0 || service_id.len > MAX_SERVICE_ID)
        return bs_err_setf(err, BS_EINVAL, "service id of %zu bytes", service_id.len);
    pthread_mutex_lock(&pd->mu);
    pd_gc *gc = &pd->gc;
    int64_t now = pd_now_ms(pd);
    int rc = drop_expired_locked(pd, now, err);
    bs_buf key = BS_BUF_INIT;
    svc_key(&key, service_id);
    if (rc == BS_OK && ttl_s <= 0) {
        bool found;
        size_t i = svc_find(gc, service_id, &found);
        if (found) {
            rc = pd_meta_del(pd->ms, bs_buf_slice(&key), true, err);
            if (rc == BS_OK)
                svc_remove_at(gc, i);
        }
    } else if (rc == BS_OK && safe_point >= gc->safe_point) {
        /* now + ttl in ms, saturating: a TTL too large to add means "forever". */
        int64_t expire = ttl_s > (INT64_MAX - now) / 1000 ? INT64_MAX : now + ttl_s * 1000;
        uint8_t val[16];
        bs_u64_be_put(val, safe_point);
        bs_u64_be_put(val + 8, (uint64_t)expire);
        rc = pd_meta_put(pd->ms, bs_buf_slice(&key), bs_slice_make(val, 16), true, err);
        if (rc == BS_OK)
            svc_upsert(gc, service_id, safe_point, expire);
    }
    /* else: below the GC safe point, not registered; the caller sees min > its request. */
    if (rc == BS_OK) {
        uint64_t min = 0;
        *min_sp = min_service_locked(pd, &min) ? min : gc->safe_point;
    }
    pthread_mutex_unlock(&pd->mu);
    bs_buf_free(&key);
    return rc;
}

int pd_gc_tick(pd_core *pd, int64_t now_ms, uint64_t *new_sp, bs_err *err)
{
    pthread_mutex_lock(&pd->mu);
    int rc = drop_expired_locked(pd, now_ms, err);
    if (rc == BS_OK) {
        int64_t phys = now_ms - pd->opts.gc_life_time_ms;
        uint64_t target = phys > 0 ? pd_ts_compose(phys, 0) : 0;
        uint64_t min = 0;
        if (min_service_locked(pd, &min) && min < target)
            target = min;
        if (target > pd->gc.safe_point)
            rc = set_safe_point_locked(pd, target, err);
    }
    if (rc == BS_OK && new_sp)
        *new_sp = pd->gc.safe_point;
    pthread_mutex_unlock(&pd->mu);
    return rc;
}
