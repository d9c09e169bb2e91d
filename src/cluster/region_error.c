/* region_error.c -- the region-level errors a store returns (errorpb.Error's variants).
 *
 * One struct carries the data a client needs to react (PROTOCOL.md §3.3): the leader to
 * retry on, the current Regions to refresh its cache with, the bounds a key missed. The
 * kind-to-code table lives here so propose, read check and the future gRPC mapping agree. */
#include <string.h>

#include "cluster/cluster_int.h"

void cluster_region_error_init(cluster_region_error *e)
{
    memset(e, 0, sizeof(*e));
}

void cluster_region_error_deinit(cluster_region_error *e)
{
    if (!e)
        return;
    bs_buf_free(&e->key);
    bs_buf_free(&e->start_key);
    bs_buf_free(&e->end_key);
    for (size_t i = 0; i < e->n_regions; i++)
        pd_region_deinit(&e->regions[i]);
    bs_free(e->regions);
    cluster_region_error_init(e);
}

int cluster_region_error_code(cluster_region_error_kind k)
{
    switch (k) {
    case CLUSTER_RERR_NONE:
        return BS_OK;
    case CLUSTER_RERR_NOT_LEADER:
        return BS_ENOT_LEADER;
    case CLUSTER_RERR_REGION_NOT_FOUND:
        return BS_NOTFOUND;
    case CLUSTER_RERR_KEY_NOT_IN_REGION:
        return BS_ERANGE;
    case CLUSTER_RERR_EPOCH_NOT_MATCH:
        return BS_ESTATE;
    case CLUSTER_RERR_SERVER_IS_BUSY:
        return BS_EBUSY;
    case CLUSTER_RERR_STALE_COMMAND:
        return BS_EPROPOSAL_DROPPED;
    case CLUSTER_RERR_RAFT_ENTRY_TOO_LARGE:
        return BS_ETOOLARGE;
    }
    return BS_EINTERNAL;
}

const char *cluster_region_error_kind_name(cluster_region_error_kind k)
{
    static const char *const names[] = {
        "None",          "NotLeader",    "RegionNotFound", "KeyNotInRegion",
        "EpochNotMatch", "ServerIsBusy", "StaleCommand",   "RaftEntryTooLarge",
    };
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "Unknown";
}
