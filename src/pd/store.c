/* store.c -- store metadata (PutStore, GetStore, GetAllStores) and store heartbeats.
 *
 * Stores are few, so they sit in an array sorted by id. Metadata (addresses, version,
 * state) is persisted with sync on every change; heartbeat stats and last_heartbeat are
 * soft state, refreshed every ~10 s by the store itself, and are not written. A Tombstone
 * store is never brought back: PutStore and heartbeats from it get STORE_TOMBSTONE, which
 * tells a removed TiKV-style store to stop. Mirrors PD's server/cluster PutMetaStore and
 * HandleStoreHeartbeat. */
#include <string.h>

#include "common/assert.h"
#include "pd/pd_int.h"

static int set_etype(pd_error_type *etype, pd_error_type t, int rc)
{
    if (etype)
        *etype = t;
    return rc;
}

static int not_bootstrapped(pd_error_type *etype, bs_err *err)
{
    return set_etype(etype, PD_ERR_NOT_BOOTSTRAPPED,
                     bs_err_setf(err, BS_ESTATE, "cluster is not bootstrapped"));
}

pd_store *pd_store_find_locked(pd_core *pd, uint64_t id)
{
    size_t lo = 0, hi = pd->n_stores;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pd->stores[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < pd->n_stores && pd->stores[lo].id == id ? &pd->stores[lo] : NULL;
}

void pd_store_upsert_locked(pd_core *pd, const pd_store *s)
{
    pd_store *old = pd_store_find_locked(pd, s->id);
    if (old) {
        *old = *s;
        return;
    }
    if (pd->n_stores == pd->cap_stores) {
        pd->cap_stores = pd->cap_stores ? pd->cap_stores * 2 : 8;
        pd->stores = bs_realloc(pd->stores, pd->cap_stores * sizeof(*pd->stores));
    }
    size_t i = pd->n_stores;
    while (i > 0 && pd->stores[i - 1].id > s->id) {
        pd->stores[i] = pd->stores[i - 1];
        i--;
    }
    pd->stores[i] = *s;
    pd->n_stores++;
}

static int load_one(void *arg, bs_slice key, bs_slice value, bs_err *err)
{
    pd_core *pd = arg;
    pd_store s;
    int rc = pd_store_decode(value, &s, err);
    if (rc != BS_OK)
        return rc;
    if (key.len != strlen(PD_PREFIX_STORE) + 8 || pd_store_find_locked(pd, s.id))
        return bs_err_setf(err, BS_ECORRUPT, "store record %llu under a wrong or repeated key",
                           (unsigned long long)s.id);
    pd_store_upsert_locked(pd, &s);
    return BS_OK;
}

int pd_stores_load(pd_core *pd, bs_err *err)
{
    int rc = pd_meta_scan(pd->ms, bs_slice_from_str(PD_PREFIX_STORE), load_one, pd, err);
    return rc == BS_OK ? BS_OK : pd_wrapf(rc, err, "load stores");
}

void pd_stores_free(pd_core *pd)
{
    bs_free(pd->stores);
    pd->stores = NULL;
    pd->n_stores = pd->cap_stores = 0;
}

static int persist_store(pd_core *pd, const pd_store *s, bs_err *err)
{
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    pd_meta_id_key(&k, PD_PREFIX_STORE, s->id);
    pd_store_encode(s, &v);
    int rc = pd_meta_put(pd->ms, bs_buf_slice(&k), bs_buf_slice(&v), true, err);
    bs_buf_free(&k);
    bs_buf_free(&v);
    return rc == BS_OK ? BS_OK : pd_wrapf(rc, err, "save store %llu", (unsigned long long)s->id);
}

static bool str_ok(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

int pd_put_store(pd_core *pd, const pd_store *store, pd_error_type *etype, bs_err *err)
{
    if (store->id == 0 || !str_ok(store->address, sizeof(store->address)) ||
        store->address[0] == '\0' || !str_ok(store->peer_address, PD_ADDR_MAX) ||
        !str_ok(store->status_address, PD_ADDR_MAX) || !str_ok(store->version, PD_VERSION_MAX) ||
        !str_ok(store->git_hash, PD_VERSION_MAX) || !str_ok(store->deploy_path, PD_ADDR_MAX))
        return set_etype(etype, PD_ERR_UNKNOWN,
                         bs_err_setf(err, BS_EINVAL, "invalid put store request"));
    pthread_mutex_lock(&pd->mu);
    int rc;
    if (!pd->bootstrapped) {
        rc = not_bootstrapped(etype, err);
        goto out;
    }
    for (size_t i = 0; i < pd->n_stores; i++) {
        const pd_store *o = &pd->stores[i];
        if (o->id != store->id && o->state != PD_STORE_TOMBSTONE &&
            strcmp(o->address, store->address) == 0) {
            rc = set_etype(etype, PD_ERR_UNKNOWN,
                           bs_err_setf(err, BS_EEXIST,
                                       "duplicated store address: %s, already registered by "
                                       "store %llu",
                                       store->address, (unsigned long long)o->id));
            goto out;
        }
    }
    pd_store s;
    const pd_store *old = pd_store_find_locked(pd, store->id);
    if (old && old->state == PD_STORE_TOMBSTONE) {
        rc = set_etype(etype, PD_ERR_STORE_TOMBSTONE,
                       bs_err_setf(err, BS_ESTATE, "store %llu has been removed",
                                   (unsigned long long)store->id));
        goto out;
    }
    if (old) {
        s = *old; /* keeps state, stats and the destroyed flag */
        memcpy(s.address, store->address, sizeof(s.address));
        memcpy(s.peer_address, store->peer_address, sizeof(s.peer_address));
        memcpy(s.status_address, store->status_address, sizeof(s.status_address));
        memcpy(s.version, store->version, sizeof(s.version));
        memcpy(s.git_hash, store->git_hash, sizeof(s.git_hash));
        memcpy(s.deploy_path, store->deploy_path, sizeof(s.deploy_path));
        s.start_timestamp = store->start_timestamp;
    } else {
        s = *store;
        s.state = PD_STORE_UP;
        s.node_state = PD_NODE_SERVING;
        s.physically_destroyed = false;
        memset(&s.stats, 0, sizeof(s.stats));
    }
    s.last_heartbeat = pd_now_ms(pd) * 1000000;
    rc = persist_store(pd, &s, err);
    if (rc != BS_OK) {
        set_etype(etype, PD_ERR_UNKNOWN, rc);
        goto out;
    }
    pd_store_upsert_locked(pd, &s);
    set_etype(etype, PD_ERR_OK, BS_OK);
out:
    pthread_mutex_unlock(&pd->mu);
    return rc;
}

int pd_get_store(pd_core *pd, uint64_t store_id, pd_store *out, pd_error_type *etype, bs_err *err)
{
    int rc = BS_OK;
    pthread_mutex_lock(&pd->mu);
    const pd_store *s = pd->bootstrapped ? pd_store_find_locked(pd, store_id) : NULL;
    if (!pd->bootstrapped)
        rc = not_bootstrapped(etype, err);
    else if (!s)
        rc = set_etype(etype, PD_ERR_UNKNOWN,
                       bs_err_setf(err, BS_NOTFOUND, "invalid store ID %llu, not found",
                                   (unsigned long long)store_id));
    else {
        *out = *s;
        set_etype(etype, PD_ERR_OK, BS_OK);
    }
    pthread_mutex_unlock(&pd->mu);
    return rc;
}

int pd_get_all_stores(pd_core *pd, bool exclude_tombstone, pd_store **out, size_t *n,
                      pd_error_type *etype, bs_err *err)
{
    pthread_mutex_lock(&pd->mu);
    if (!pd->bootstrapped) {
        pthread_mutex_unlock(&pd->mu);
        return not_bootstrapped(etype, err);
    }
    pd_store *v = pd->n_stores ? bs_malloc(pd->n_stores * sizeof(*v)) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < pd->n_stores; i++)
        if (!exclude_tombstone || pd->stores[i].state != PD_STORE_TOMBSTONE)
            v[k++] = pd->stores[i];
    pthread_mutex_unlock(&pd->mu);
    if (k == 0) {
        bs_free(v);
        v = NULL;
    }
    *out = v;
    *n = k;
    return set_etype(etype, PD_ERR_OK, BS_OK);
}

int pd_store_heartbeat(pd_core *pd, uint64_t store_id, const pd_store_stats *stats,
                       pd_node_state *node_state, pd_error_type *etype, bs_err *err)
{
    int rc = BS_OK;
    pthread_mutex_lock(&pd->mu);
    pd_store *s = pd->bootstrapped ? pd_store_find_locked(pd, store_id) : NULL;
    if (!pd->bootstrapped)
        rc = not_bootstrapped(etype, err);
    else if (!s)
        rc = set_etype(
            etype, PD_ERR_UNKNOWN,
            bs_err_setf(err, BS_NOTFOUND, "store %llu not found", (unsigned long long)store_id));
    else if (s->state == PD_STORE_TOMBSTONE)
        rc = set_etype(etype, PD_ERR_STORE_TOMBSTONE,
                       bs_err_setf(err, BS_ESTATE, "store %llu has been removed",
                                   (unsigned long long)store_id));
    else {
        s->stats = *stats;
        s->last_heartbeat = pd_now_ms(pd) * 1000000;
        if (node_state)
            *node_state = s->node_state;
        set_etype(etype, PD_ERR_OK, BS_OK);
    }
    pthread_mutex_unlock(&pd->mu);
    return rc;
}

static bool store_has_peers_locked(pd_core *pd, uint64_t store_id)
{
    for (size_t i = 0; i < pd->regions.n; i++) {
        const pd_region *r = &pd->regions.by_key[i]->region;
        for (size_t j = 0; j < r->n_peers; j++)
            if (r->peers[j].store_id == store_id)
                return true;
    }
    return false;
}

int pd_set_store_state(pd_core *pd, uint64_t store_id, pd_store_state state, bs_err *err)
{
    int rc = BS_OK;
    pthread_mutex_lock(&pd->mu);
    pd_store *cur = pd->bootstrapped ? pd_store_find_locked(pd, store_id) : NULL;
    if (!pd->bootstrapped) {
        rc = bs_err_setf(err, BS_ESTATE, "cluster is not bootstrapped");
    } else if (!cur) {
        rc = bs_err_setf(err, BS_NOTFOUND, "store %llu not found", (unsigned long long)store_id);
    } else if ((unsigned)state > PD_STORE_TOMBSTONE ||
               (cur->state == PD_STORE_TOMBSTONE && state != PD_STORE_TOMBSTONE)) {
        rc = bs_err_setf(err, BS_EINVAL, "store %llu: invalid state transition",
                         (unsigned long long)store_id);
    } else if (state == PD_STORE_TOMBSTONE && cur->state != PD_STORE_TOMBSTONE &&
               store_has_peers_locked(pd, store_id)) {
        rc = bs_err_setf(err, BS_EINVAL, "store %llu still holds region peers",
                         (unsigned long long)store_id);
    } else if (cur->state != state) {
        pd_store s = *cur;
        s.state = state;
        s.node_state = state == PD_STORE_UP        ? PD_NODE_SERVING
                       : state == PD_STORE_OFFLINE ? PD_NODE_REMOVING
                                                   : PD_NODE_REMOVED;
        rc = persist_store(pd, &s, err);
        if (rc == BS_OK)
            *cur = s;
    }
    pthread_mutex_unlock(&pd->mu);
    return rc;
}
