/* id.c -- the one id space of stores, regions and peers.
 *
 * Ids are handed out from memory below a persisted bound: when a request would pass the
 * bound, a new bound (at least id_step further) is written with sync before any id below it
 * is returned. After a restart allocation resumes above the old bound, so at most one step
 * of ids is skipped and none is ever reused. Mirrors PD's pkg/id/id.go (step 1000). */
#include "common/assert.h"
#include "pd/pd_int.h"

int pd_ids_load(pd_core *pd, bs_err *err)
{
    uint64_t end = 0;
    int rc = pd_meta_get_u64(pd->ms, PD_KEY_ID_END, &end, err);
    if (rc == BS_NOTFOUND)
        end = 0;
    else if (rc != BS_OK)
        return pd_wrapf(rc, err, "load id allocator");
    pd->ids.last = end;
    pd->ids.end = end;
    return BS_OK;
}

int pd_alloc_id_locked(pd_core *pd, uint64_t count, uint64_t *last_id, bs_err *err)
{
    pd_ids *ids = &pd->ids;
    BS_ASSERT(count > 0 && ids->last <= ids->end);
    if (count > UINT64_MAX - ids->last)
        return bs_err_setf(err, BS_ERANGE, "id space exhausted");
    uint64_t want = ids->last + count;
    if (want > ids->end) {
        uint64_t step = pd->opts.id_step;
        uint64_t end = step > UINT64_MAX - ids->last ? UINT64_MAX : ids->last + step;
        if (end < want)
            end = want;
        int rc = pd_meta_put_u64(pd->ms, PD_KEY_ID_END, end, true, err);
        if (rc != BS_OK)
            return pd_wrapf(rc, err, "alloc id");
        ids->end = end;
    }
    ids->last = want;
    BS_ASSERT(ids->last <= ids->end);
    *last_id = want;
    return BS_OK;
}

int pd_alloc_id(pd_core *pd, uint32_t count, uint64_t *last_id, bs_err *err)
{
    pthread_mutex_lock(&pd->mu);
    int rc = pd_alloc_id_locked(pd, count == 0 ? 1 : count, last_id, err);
    pthread_mutex_unlock(&pd->mu);
    return rc;
}
