/* split.c -- AskBatchSplit and ReportBatchSplit: ids for a split, then its result.
 *
 * A leader that wants to split asks PD for ids: one new region id per new region and, for
 * each, one peer id per existing peer (in region.peers order), all from the one id space.
 * After applying the split it reports every resulting region, left to right; PD installs
 * them as heartbeats would (PD proper waits for the heartbeats; installing at once lets
 * clients route to the new regions immediately). In TiKV the original id keeps the
 * right-most range and every resulting region gets version + number of new regions
 * (PROTOCOL.md §3.5). */
#include <string.h>

#include "common/assert.h"
#include "pd/pd_int.h"

#define MAX_SPLIT_COUNT 10000

static int set_etype(pd_error_type *etype, pd_error_type t, int rc)
{
    if (etype)
        *etype = t;
    return rc;
}

int pd_ask_batch_split(pd_core *pd, const pd_region *region, uint32_t split_count,
                       pd_split_ids *out, pd_error_type *etype, bs_err *err)
{
    int rc = pd_region_validate(region, err);
    if (rc != BS_OK)
        return set_etype(etype, PD_ERR_UNKNOWN, rc);
    if (split_count == 0 || split_count > MAX_SPLIT_COUNT || region->n_peers == 0)
        return set_etype(etype, PD_ERR_UNKNOWN,
                         bs_err_setf(err, BS_EINVAL,
                                     "invalid split request: split_count %u, %zu peers",
                                     split_count, region->n_peers));
    pthread_mutex_lock(&pd->mu);
    if (!pd->bootstrapped) {
        pthread_mutex_unlock(&pd->mu);
        return set_etype(etype, PD_ERR_NOT_BOOTSTRAPPED,
                         bs_err_setf(err, BS_ESTATE, "cluster is not bootstrapped"));
    }
    const pd_region_info *cur = pd_rt_search(&pd->regions, bs_buf_slice(&region->start_key));
    if (!cur || cur->region.id != region->id) {
        pthread_mutex_unlock(&pd->mu);
        return set_etype(
            etype, PD_ERR_REGION_NOT_FOUND,
            bs_err_setf(err, BS_NOTFOUND, "region %llu not found", (unsigned long long)region->id));
    }
    /* A request older than PD's view comes from a deposed leader or a stale retry; a newer
     * one only means PD has not seen the latest heartbeat yet, and the ids are fine. */
    const pd_region_epoch *known = &cur->region.epoch;
    if (region->epoch.version < known->version || region->epoch.conf_ver < known->conf_ver) {
        pthread_mutex_unlock(&pd->mu);
        return set_etype(
            etype, PD_ERR_UNKNOWN,
            bs_err_setf(err, BS_EINVAL,
                        "invalid region epoch: request {conf_ver %llu, version %llu}, current "
                        "{conf_ver %llu, version %llu}",
                        (unsigned long long)region->epoch.conf_ver,
                        (unsigned long long)region->epoch.version,
                        (unsigned long long)known->conf_ver, (unsigned long long)known->version));
    }
    uint64_t per = 1 + region->n_peers, total = (uint64_t)split_count * per, last = 0;
    rc = pd_alloc_id_locked(pd, total, &last, err);
    pthread_mutex_unlock(&pd->mu);
    if (rc != BS_OK)
        return set_etype(etype, PD_ERR_UNKNOWN, rc);
    pd_split_ids_deinit(out);
    out->count = split_count;
    out->peers_per_split = region->n_peers;
    out->region_ids = bs_malloc(split_count * sizeof(uint64_t));
    out->peer_ids = bs_malloc(split_count * region->n_peers * sizeof(uint64_t));
    uint64_t next = last - total + 1;
    for (size_t k = 0; k < split_count; k++) {
        out->region_ids[k] = next++;
        for (size_t j = 0; j < region->n_peers; j++)
            out->peer_ids[k * region->n_peers + j] = next++;
    }
    BS_ASSERT(next == last + 1);
    return set_etype(etype, PD_ERR_OK, BS_OK);
}

static int check_report(const pd_region *regions, size_t n, bs_err *err)
{
    if (n < 2)
        return bs_err_setf(err, BS_EINVAL, "invalid split report: %zu regions", n);
    for (size_t i = 0; i < n; i++) {
        int rc = pd_region_validate(&regions[i], err);
        if (rc != BS_OK)
            return rc;
        if (regions[i].n_peers == 0)
            return bs_err_setf(err, BS_EINVAL, "invalid split report: region %llu has no peers",
                               (unsigned long long)regions[i].id);
        if (i + 1 < n &&
            (regions[i].end_key.len == 0 || !bs_slice_eq(bs_buf_slice(&regions[i].end_key),
                                                         bs_buf_slice(&regions[i + 1].start_key))))
            return bs_err_setf(
                err, BS_EINVAL, "invalid split report: regions %llu and %llu are not adjacent",
                (unsigned long long)regions[i].id, (unsigned long long)regions[i + 1].id);
        for (size_t j = 0; j < i; j++)
            if (regions[j].id == regions[i].id)
                return bs_err_setf(err, BS_EINVAL, "invalid split report: region %llu twice",
                                   (unsigned long long)regions[i].id);
    }
    return BS_OK;
}

/* The store of the leader of whichever reported region PD already knows with a leader
 * (the split region keeps its id); 0 when none. */
static uint64_t split_leader_store(pd_core *pd, const pd_region *regions, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const pd_region_info *known = pd_rt_get(&pd->regions, regions[i].id);
        if (known && known->has_leader)
            return known->leader.store_id;
    }
    return 0;
}

int pd_report_batch_split(pd_core *pd, const pd_region *regions, size_t n, pd_error_type *etype,
                          bs_err *err)
{
    int rc = check_report(regions, n, err);
    if (rc != BS_OK)
        return set_etype(etype, PD_ERR_UNKNOWN, rc);
    pthread_mutex_lock(&pd->mu);
    if (!pd->bootstrapped) {
        pthread_mutex_unlock(&pd->mu);
        return set_etype(etype, PD_ERR_NOT_BOOTSTRAPPED,
                         bs_err_setf(err, BS_ESTATE, "cluster is not bootstrapped"));
    }
    uint64_t leader_store = split_leader_store(pd, regions, n);
    pd_region_info ri;
    pd_region_info_init(&ri);
    for (size_t i = 0; i < n && rc == BS_OK; i++) {
        const pd_region_info *known = pd_rt_get(&pd->regions, regions[i].id);
        pd_region_info_deinit(&ri);
        pd_region_copy(&ri.region, &regions[i]);
        if (known)
            ri.term = known->term;
        for (size_t j = 0; j < regions[i].n_peers; j++)
            if (regions[i].peers[j].store_id == leader_store) {
                ri.has_leader = true;
                ri.leader = regions[i].peers[j];
            }
        bool stale;
        rc = pd_region_put_locked(pd, &ri, false, &stale, err);
        if (stale) {
            rc = BS_OK; /* a newer view of this range already won */
            bs_err_clear(err);
        }
    }
    pd_region_info_deinit(&ri);
    pthread_mutex_unlock(&pd->mu);
    return set_etype(etype, rc == BS_OK ? PD_ERR_OK : PD_ERR_UNKNOWN, rc);
}
