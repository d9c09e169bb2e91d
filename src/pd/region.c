/* region.c -- region routing: heartbeats that keep the table current, and the lookups
 * clients route by (GetRegion, GetPrevRegion, GetRegionByID, ScanRegions, QueryRegion).
 *
 * The staleness rule is PD's (pkg/core/region.go): a region report loses to what PD knows
 * when its version or conf_ver is below the known epoch of the same id, its raft term is
 * behind, or its version is below that of any other region overlapping its range. A report
 * that wins replaces the same id and every region it overlaps. Only changes of meta (range,
 * epoch, peers) are written to the meta store, unsynced: regions are soft state that the
 * leaders' heartbeats rebuild within seconds, as in PD. Leaders and stats stay in memory. */
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "pd/pd_int.h"

static int set_etype(pd_error_type *etype, pd_error_type t, int rc)
{
    if (etype)
        *etype = t;
    return rc;
}

static bool same_meta(const pd_region *a, const pd_region *b)
{
    if (!bs_slice_eq(bs_buf_slice(&a->start_key), bs_buf_slice(&b->start_key)) ||
        !bs_slice_eq(bs_buf_slice(&a->end_key), bs_buf_slice(&b->end_key)) ||
        a->epoch.conf_ver != b->epoch.conf_ver || a->epoch.version != b->epoch.version ||
        a->n_peers != b->n_peers)
        return false;
    for (size_t i = 0; i < a->n_peers; i++)
        if (a->peers[i].id != b->peers[i].id || a->peers[i].store_id != b->peers[i].store_id ||
            a->peers[i].role != b->peers[i].role ||
            a->peers[i].is_witness != b->peers[i].is_witness)
            return false;
    return true;
}

/* Decides whether ri may replace what the tree holds. BS_OK, or BS_EINVAL (stale). */
static int check_stale(const pd_region_tree *t, const pd_region_info *ri,
                       const pd_region_info *origin, size_t lo, size_t hi, bs_err *err)
{
    const pd_region *r = &ri->region;
    for (size_t i = lo; i < hi; i++) {
        const pd_region *o = &t->by_key[i]->region;
        if (o->id != r->id && r->epoch.version < o->epoch.version)
            return bs_err_setf(err, BS_EINVAL,
                               "region is stale: region %llu version %llu overlaps region "
                               "%llu version %llu",
                               (unsigned long long)r->id, (unsigned long long)r->epoch.version,
                               (unsigned long long)o->id, (unsigned long long)o->epoch.version);
    }
    if (origin) {
        const pd_region_epoch *o = &origin->region.epoch;
        if (r->epoch.version < o->version || r->epoch.conf_ver < o->conf_ver ||
            (ri->term > 0 && ri->term < origin->term))
            return bs_err_setf(err, BS_EINVAL,
                               "region is stale: region %llu epoch {conf_ver %llu, version "
                               "%llu} term %llu, known {conf_ver %llu, version %llu} term %llu",
                               (unsigned long long)r->id, (unsigned long long)r->epoch.conf_ver,
                               (unsigned long long)r->epoch.version, (unsigned long long)ri->term,
                               (unsigned long long)o->conf_ver, (unsigned long long)o->version,
                               (unsigned long long)origin->term);
    }
    return BS_OK;
}

/* Installs ri. persist: write meta changes (with sync) before changing memory. */
static int put_region(pd_core *pd, const pd_region_info *ri, bool persist, bool sync, bool *stale,
                      bs_err *err)
{
    pd_region_tree *t = &pd->regions;
    const pd_region *r = &ri->region;
    pd_region_info *origin = pd_rt_get(t, r->id);
    size_t lo, hi;
    pd_rt_overlaps(t, bs_buf_slice(&r->start_key), bs_buf_slice(&r->end_key), &lo, &hi);
    *stale = false;
    int rc = check_stale(t, ri, origin, lo, hi, err);
    if (rc != BS_OK) {
        *stale = true;
        return rc;
    }
    bool meta_changed = !origin || !same_meta(&origin->region, r);
    if (!meta_changed) {
        /* Same range, so the only overlap is the origin itself: update in place. */
        BS_ASSERT(hi - lo == 1 && t->by_key[lo] == origin);
        pd_region_info_copy(origin, ri);
        return BS_OK;
    }
    if (persist) {
        size_t n_ops = 0;
        pd_meta_op *ops = bs_calloc(hi - lo + 1, sizeof(*ops));
        bs_buf *keys = bs_calloc(hi - lo + 1, sizeof(*keys));
        bs_buf val = BS_BUF_INIT;
        for (size_t i = lo; i < hi; i++) {
            uint64_t id = t->by_key[i]->region.id;
            if (id == r->id)
                continue; /* overwritten by the put below */
            pd_meta_id_key(&keys[n_ops], PD_PREFIX_REGION, id);
            ops[n_ops] = (pd_meta_op){PD_META_DEL, bs_buf_slice(&keys[n_ops]), BS_SLICE_NULL};
            n_ops++;
        }
        pd_meta_id_key(&keys[n_ops], PD_PREFIX_REGION, r->id);
        pd_region_encode(r, &val);
        ops[n_ops] = (pd_meta_op){PD_META_PUT, bs_buf_slice(&keys[n_ops]), bs_buf_slice(&val)};
        n_ops++;
        rc = pd_meta_write(pd->ms, ops, n_ops, sync, err);
        for (size_t i = 0; i < n_ops; i++)
            bs_buf_free(&keys[i]);
        bs_free(keys);
        bs_free(ops);
        bs_buf_free(&val);
        if (rc != BS_OK)
            return pd_wrapf(rc, err, "save region %llu", (unsigned long long)r->id);
    }
    /* Remove back to front so the indices of the ones not yet removed stay valid. */
    for (size_t i = hi; i > lo; i--) {
        pd_region_info *old = pd_rt_remove(t, t->by_key[i - 1]);
        if (old == origin)
            origin = NULL;
        pd_region_info_deinit(old);
        bs_free(old);
    }
    if (origin) { /* moved to a range that does not overlap its old one */
        pd_rt_remove(t, origin);
        pd_region_info_deinit(origin);
        bs_free(origin);
    }
    pd_region_info *copy = bs_malloc(sizeof(*copy));
    pd_region_info_init(copy);
    pd_region_info_copy(copy, ri);
    pd_rt_insert(t, copy);
    BS_DASSERT(pd_rt_check(t));
    return BS_OK;
}

int pd_region_put_locked(pd_core *pd, const pd_region_info *ri, bool sync, bool *stale, bs_err *err)
{
    return put_region(pd, ri, true, sync, stale, err);
}

static int load_one(void *arg, bs_slice key, bs_slice value, bs_err *err)
{
    pd_core *pd = arg;
    pd_region_info ri;
    pd_region_info_init(&ri);
    int rc = pd_region_decode(value, &ri.region, err);
    if (rc == BS_OK && key.len != strlen(PD_PREFIX_REGION) + 8)
        rc = bs_err_setf(err, BS_ECORRUPT, "region record under a malformed key");
    if (rc == BS_OK && ri.region.n_peers == 1 && ri.region.peers[0].role == PD_PEER_VOTER) {
        /* Leaders are not persisted, but a one-voter region can only be led by that voter;
         * knowing it at once spares a standalone server's clients a retry after a restart. */
        ri.has_leader = true;
        ri.leader = ri.region.peers[0];
    }
    if (rc == BS_OK) {
        bool stale;
        /* Records are written in atomic batches, so they never overlap; if they somehow
         * do, the same rule as for heartbeats picks the survivor. */
        rc = put_region(pd, &ri, false, false, &stale, err);
        if (stale)
            rc = BS_OK;
    }
    pd_region_info_deinit(&ri);
    return rc;
}

int pd_regions_load(pd_core *pd, bs_err *err)
{
    int rc = pd_meta_scan(pd->ms, bs_slice_from_str(PD_PREFIX_REGION), load_one, pd, err);
    return rc == BS_OK ? BS_OK : pd_wrapf(rc, err, "load regions");
}

static int not_bootstrapped(bs_err *err)
{
    return bs_err_setf(err, BS_ESTATE, "cluster is not bootstrapped");
}

int pd_region_heartbeat(pd_core *pd, const pd_region_info *hb, pd_error_type *etype, bs_err *err)
{
    int rc = pd_region_validate(&hb->region, err);
    if (rc != BS_OK)
        return set_etype(etype, PD_ERR_UNKNOWN, rc);
    bool leader_ok = false;
    for (size_t i = 0; hb->has_leader && i < hb->region.n_peers; i++)
        leader_ok |= hb->region.peers[i].id == hb->leader.id &&
                     hb->region.peers[i].store_id == hb->leader.store_id;
    if (!leader_ok)
        return set_etype(etype, PD_ERR_UNKNOWN,
                         bs_err_setf(err, BS_EINVAL, "region %llu: invalid request leader",
                                     (unsigned long long)hb->region.id));
    pthread_mutex_lock(&pd->mu);
    if (!pd->bootstrapped) {
        pthread_mutex_unlock(&pd->mu);
        return set_etype(etype, PD_ERR_NOT_BOOTSTRAPPED, not_bootstrapped(err));
    }
    bool stale;
    rc = pd_region_put_locked(pd, hb, false, &stale, err);
    pthread_mutex_unlock(&pd->mu);
    return set_etype(etype, rc == BS_OK ? PD_ERR_OK : PD_ERR_UNKNOWN, rc);
}

/* ---- lookups ---------------------------------------------------------------------------- */

static int lookup(pd_core *pd, const pd_region_info *(*find)(pd_core *, const void *),
                  const void *arg, pd_region_info *out, bs_err *err)
{
    int rc = BS_OK;
    pthread_mutex_lock(&pd->mu);
    if (!pd->bootstrapped) {
        rc = not_bootstrapped(err);
    } else {
        const pd_region_info *ri = find(pd, arg);
        if (ri)
            pd_region_info_copy(out, ri);
        else
            rc = BS_NOTFOUND;
    }
    pthread_mutex_unlock(&pd->mu);
    return rc;
}

static const pd_region_info *find_by_key(pd_core *pd, const void *arg)
{
    return pd_rt_search(&pd->regions, *(const bs_slice *)arg);
}

static const pd_region_info *find_prev(pd_core *pd, const void *arg)
{
    return pd_rt_search_prev(&pd->regions, *(const bs_slice *)arg);
}

static const pd_region_info *find_by_id(pd_core *pd, const void *arg)
{
    return pd_rt_get(&pd->regions, *(const uint64_t *)arg);
}

int pd_get_region(pd_core *pd, bs_slice key, pd_region_info *out, bs_err *err)
{
    return lookup(pd, find_by_key, &key, out, err);
}

int pd_get_prev_region(pd_core *pd, bs_slice key, pd_region_info *out, bs_err *err)
{
    return lookup(pd, find_prev, &key, out, err);
}

int pd_get_region_by_id(pd_core *pd, uint64_t region_id, pd_region_info *out, bs_err *err)
{
    return lookup(pd, find_by_id, &region_id, out, err);
}

int pd_scan_regions(pd_core *pd, bs_slice start_key, bs_slice end_key, int32_t limit,
                    pd_region_list *out, bs_err *err)
{
    pd_region_list_deinit(out);
    pthread_mutex_lock(&pd->mu);
    if (!pd->bootstrapped) {
        pthread_mutex_unlock(&pd->mu);
        return not_bootstrapped(err);
    }
    const pd_region_tree *t = &pd->regions;
    size_t lo, hi;
    pd_rt_overlaps(t, start_key, end_key, &lo, &hi);
    size_t n = hi - lo;
    if (limit > 0 && (size_t)limit < n)
        n = (size_t)limit;
    if (n) {
        out->v = bs_malloc(n * sizeof(*out->v));
        for (size_t i = 0; i < n; i++) {
            pd_region_info_init(&out->v[i]);
            pd_region_info_copy(&out->v[i], t->by_key[lo + i]);
        }
    }
    out->n = n;
    pthread_mutex_unlock(&pd->mu);
    return BS_OK;
}

static int cmp_by_id(const void *a, const void *b)
{
    uint64_t x = (*(const pd_region_info *const *)a)->region.id;
    uint64_t y = (*(const pd_region_info *const *)b)->region.id;
    return (x > y) - (x < y);
}

int pd_query_region(pd_core *pd, const bs_slice *keys, size_t n_keys, const bs_slice *prev_keys,
                    size_t n_prev, const uint64_t *ids, size_t n_ids, pd_query_result *out,
                    bs_err *err)
{
    pd_query_result_deinit(out);
    pthread_mutex_lock(&pd->mu);
    if (!pd->bootstrapped) {
        pthread_mutex_unlock(&pd->mu);
        return not_bootstrapped(err);
    }
    const pd_region_tree *t = &pd->regions;
    size_t total = n_keys + n_prev + n_ids, n_found = 0;
    const pd_region_info **found = total ? bs_malloc(total * sizeof(*found)) : NULL;
    out->key_ids = n_keys ? bs_calloc(n_keys, sizeof(uint64_t)) : NULL;
    out->prev_key_ids = n_prev ? bs_calloc(n_prev, sizeof(uint64_t)) : NULL;
    for (size_t i = 0; i < n_keys; i++) {
        const pd_region_info *ri = pd_rt_search(t, keys[i]);
        if (ri) {
            out->key_ids[i] = ri->region.id;
            found[n_found++] = ri;
        }
    }
    for (size_t i = 0; i < n_prev; i++) {
        const pd_region_info *ri = pd_rt_search_prev(t, prev_keys[i]);
        if (ri) {
            out->prev_key_ids[i] = ri->region.id;
            found[n_found++] = ri;
        }
    }
    for (size_t i = 0; i < n_ids; i++) {
        const pd_region_info *ri = pd_rt_get(t, ids[i]);
        if (ri)
            found[n_found++] = ri;
    }
    if (n_found)
        qsort(found, n_found, sizeof(*found), cmp_by_id);
    size_t n_unique = 0;
    for (size_t i = 0; i < n_found; i++)
        if (n_unique == 0 || found[n_unique - 1] != found[i])
            found[n_unique++] = found[i];
    if (n_unique) {
        out->regions.v = bs_malloc(n_unique * sizeof(*out->regions.v));
        for (size_t i = 0; i < n_unique; i++) {
            pd_region_info_init(&out->regions.v[i]);
            pd_region_info_copy(&out->regions.v[i], found[i]);
        }
    }
    out->regions.n = n_unique;
    pthread_mutex_unlock(&pd->mu);
    bs_free(found);
    return BS_OK;
}

size_t pd_region_count(pd_core *pd)
{
    pthread_mutex_lock(&pd->mu);
    size_t n = pd->regions.n;
    pthread_mutex_unlock(&pd->mu);
    return n;
}
