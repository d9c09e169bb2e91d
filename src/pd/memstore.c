/* memstore.c -- an in-memory pd_meta_store, for tests.
 *
 * A sorted array of (key, value) pairs behind a mutex; binary search for point access, a
 * linear walk from the first key >= prefix for scans. Every write is "durable" the moment it
 * returns, so closing and reopening a pd over the same memstore models a clean restart. A
 * write-failure switch lets tests check that PD issues nothing it could not persist.
 * The real store is an adapter over the storage engine in PD's own directory. */
#include <pthread.h>
#include <string.h>

#include "common/assert.h"
#include "pd/pd.h"

typedef struct mem_kv {
    bs_buf key, value;
} mem_kv;

typedef struct memstore {
    pd_meta_store base; /* first member: the vtable pointer */
    pthread_mutex_t mu;
    mem_kv *kv; /* Invariant: keys strictly increasing (bytewise) */
    size_t n, cap;
    bool fail_writes;
    uint64_t sync_writes;
} memstore;

/* Index of the first key >= key; *found tells whether it is equal. */
static size_t lower_bound(const memstore *m, bs_slice key, bool *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (bs_slice_cmp(bs_buf_slice(&m->kv[mid].key), key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < m->n && bs_slice_eq(bs_buf_slice(&m->kv[lo].key), key);
    return lo;
}

static void apply_put(memstore *m, bs_slice key, bs_slice value)
{
    bool found;
    size_t i = lower_bound(m, key, &found);
    if (!found) {
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 16;
            m->kv = bs_realloc(m->kv, m->cap * sizeof(*m->kv));
        }
        memmove(&m->kv[i + 1], &m->kv[i], (m->n - i) * sizeof(*m->kv));
        m->n++;
        bs_buf_init(&m->kv[i].key);
        bs_buf_init(&m->kv[i].value);
        bs_buf_set(&m->kv[i].key, key.ptr, key.len);
    }
    bs_buf_set(&m->kv[i].value, value.ptr, value.len);
}

static void apply_del(memstore *m, bs_slice key)
{
    bool found;
    size_t i = lower_bound(m, key, &found);
    if (!found)
        return;
    bs_buf_free(&m->kv[i].key);
    bs_buf_free(&m->kv[i].value);
    memmove(&m->kv[i], &m->kv[i + 1], (m->n - i - 1) * sizeof(*m->kv));
    m->n--;
}

static int mem_get(pd_meta_store *ms, bs_slice key, bs_buf *value, bs_err *err)
{
    memstore *m = (memstore *)ms;
    pthread_mutex_lock(&m->mu);
    bool found;
    size_t i = lower_bound(m, key, &found);
    if (found)
        bs_buf_set(value, m->kv[i].value.ptr, m->kv[i].value.len);
    pthread_mutex_unlock(&m->mu);
    return found ? BS_OK : BS_NOTFOUND;
}

static int mem_write(pd_meta_store *ms, const pd_meta_op *ops, size_t n, bool sync, bs_err *err)
{
    memstore *m = (memstore *)ms;
    pthread_mutex_lock(&m->mu);
    if (m->fail_writes) {
        pthread_mutex_unlock(&m->mu);
        return bs_err_setf(err, BS_EIO, "memstore: injected write failure");
    }
    for (size_t i = 0; i < n; i++) {
        if (ops[i].type == PD_META_PUT)
            apply_put(m, ops[i].key, ops[i].value);
        else
            apply_del(m, ops[i].key);
    }
    if (sync)
        m->sync_writes++;
    pthread_mutex_unlock(&m->mu);
    return BS_OK;
}

static int mem_put(pd_meta_store *ms, bs_slice key, bs_slice value, bool sync, bs_err *err)
{
    pd_meta_op op = {PD_META_PUT, key, value};
    return mem_write(ms, &op, 1, sync, err);
}

static int mem_del(pd_meta_store *ms, bs_slice key, bool sync, bs_err *err)
{
    pd_meta_op op = {PD_META_DEL, key, BS_SLICE_NULL};
    return mem_write(ms, &op, 1, sync, err);
}

static int mem_scan_prefix(pd_meta_store *ms, bs_slice prefix, pd_meta_scan_fn fn, void *arg,
                           bs_err *err)
{
    memstore *m = (memstore *)ms;
    int rc = BS_OK;
    pthread_mutex_lock(&m->mu);
    bool found;
    for (size_t i = lower_bound(m, prefix, &found); i < m->n; i++) {
        bs_slice k = bs_buf_slice(&m->kv[i].key);
        if (!bs_slice_starts_with(k, prefix))
            break;
        rc = fn(arg, k, bs_buf_slice(&m->kv[i].value), err);
        if (rc != BS_OK)
            break;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static void mem_destroy(pd_meta_store *ms)
{
    memstore *m = (memstore *)ms;
    for (size_t i = 0; i < m->n; i++) {
        bs_buf_free(&m->kv[i].key);
        bs_buf_free(&m->kv[i].value);
    }
    bs_free(m->kv);
    pthread_mutex_destroy(&m->mu);
    bs_free(m);
}

static const pd_meta_store_vtbl memstore_vtbl = {
    .get = mem_get,
    .put = mem_put,
    .del = mem_del,
    .write = mem_write,
    .scan_prefix = mem_scan_prefix,
    .destroy = mem_destroy,
};

pd_meta_store *pd_memstore_new(void)
{
    memstore *m = bs_calloc(1, sizeof(*m));
    m->base.vt = &memstore_vtbl;
    pthread_mutex_init(&m->mu, NULL);
    return &m->base;
}

void pd_memstore_set_fail_writes(pd_meta_store *ms, bool fail)
{
    BS_ASSERT(ms->vt == &memstore_vtbl);
    memstore *m = (memstore *)ms;
    pthread_mutex_lock(&m->mu);
    m->fail_writes = fail;
    pthread_mutex_unlock(&m->mu);
}

uint64_t pd_memstore_sync_writes(pd_meta_store *ms)
{
    BS_ASSERT(ms->vt == &memstore_vtbl);
    memstore *m = (memstore *)ms;
    pthread_mutex_lock(&m->mu);
    uint64_t v = m->sync_writes;
    pthread_mutex_unlock(&m->mu);
    return v;
}
