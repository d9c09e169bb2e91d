/* grpc_convert.c -- metapb and errorpb messages <-> the plain structs of pd/ and cluster/.
 *
 * protobuf-c types stay at the wire edge (DESIGN.md): PD's core and the store speak
 * pd_region / pd_store / cluster_region_error, and these functions are the only place that
 * maps their fields to message fields. Messages going out are built in an arena and borrow
 * the bytes of the struct they describe; messages coming in are copied into owned structs,
 * with every length checked (the bytes are untrusted). */
#include <stdio.h>
#include <string.h>

#include "server/grpc_int.h"

Metapb__Peer *srv_grpc_peer_to_pb(srv_grpc_arena *a, const pd_peer *p)
{
    Metapb__Peer *m = SRV_GRPC_NEW(a, Metapb__Peer);
    metapb__peer__init(m);
    m->id = p->id;
    m->store_id = p->store_id;
    m->role = (Metapb__PeerRole)p->role;
    m->is_witness = p->is_witness;
    return m;
}

void srv_grpc_peer_from_pb(const Metapb__Peer *m, pd_peer *out)
{
    memset(out, 0, sizeof(*out));
    if (!m)
        return;
    out->id = m->id;
    out->store_id = m->store_id;
    out->role = (m->role >= 0 && m->role <= 3) ? (pd_peer_role)m->role : PD_PEER_VOTER;
    out->is_witness = m->is_witness;
}

Metapb__Region *srv_grpc_region_to_pb(srv_grpc_arena *a, const pd_region *r)
{
    Metapb__Region *m = SRV_GRPC_NEW(a, Metapb__Region);
    metapb__region__init(m);
    m->id = r->id;
    m->start_key = srv_grpc_pb_bytes(bs_buf_slice(&r->start_key));
    m->end_key = srv_grpc_pb_bytes(bs_buf_slice(&r->end_key));
    m->region_epoch = SRV_GRPC_NEW(a, Metapb__RegionEpoch);
    metapb__region_epoch__init(m->region_epoch);
    m->region_epoch->conf_ver = r->epoch.conf_ver;
    m->region_epoch->version = r->epoch.version;
    m->n_peers = r->n_peers;
    m->peers = SRV_GRPC_NEWN(a, Metapb__Peer *, r->n_peers);
    for (size_t i = 0; i < r->n_peers; i++)
        m->peers[i] = srv_grpc_peer_to_pb(a, &r->peers[i]);
    return m;
}

int srv_grpc_region_from_pb(const Metapb__Region *m, pd_region *out, bs_err *err)
{
    if (!m)
        return bs_err_setf(err, BS_EINVAL, "region is missing");
    if (m->id == 0)
        return bs_err_setf(err, BS_EINVAL, "region id is 0");
    pd_region_epoch ep = {0, 0};
    if (m->region_epoch) {
        ep.conf_ver = m->region_epoch->conf_ver;
        ep.version = m->region_epoch->version;
    }
    pd_peer *peers = bs_calloc(m->n_peers ? m->n_peers : 1, sizeof(pd_peer));
    for (size_t i = 0; i < m->n_peers; i++)
        srv_grpc_peer_from_pb(m->peers[i], &peers[i]);
    pd_region_set(out, m->id, srv_grpc_bytes(m->start_key), srv_grpc_bytes(m->end_key), ep, peers,
                  m->n_peers);
    bs_free(peers);
    return BS_OK;
}

Metapb__Store *srv_grpc_store_to_pb(srv_grpc_arena *a, const pd_store *s)
{
    Metapb__Store *m = SRV_GRPC_NEW(a, Metapb__Store);
    metapb__store__init(m);
    m->id = s->id;
    m->address = (char *)s->address;
    m->state = (Metapb__StoreState)s->state;
    m->version = (char *)s->version;
    m->peer_address = (char *)s->peer_address;
    m->status_address = (char *)s->status_address;
    m->git_hash = (char *)s->git_hash;
    m->start_timestamp = s->start_timestamp;
    m->deploy_path = (char *)s->deploy_path;
    m->last_heartbeat = s->last_heartbeat;
    m->physically_destroyed = s->physically_destroyed;
    m->node_state = (Metapb__NodeState)s->node_state;
    return m;
}

static int copy_str(char *dst, size_t cap, const char *src, const char *what, bs_err *err)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        return bs_err_setf(err, BS_EINVAL, "store %s is too long (%zu bytes, limit %zu)", what, n,
                           cap - 1);
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
    return BS_OK;
}

int srv_grpc_store_from_pb(const Metapb__Store *m, pd_store *out, bs_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!m)
        return bs_err_setf(err, BS_EINVAL, "store is missing");
    out->id = m->id;
    int rc = copy_str(out->address, sizeof out->address, m->address, "address", err);
    if (rc == BS_OK)
        rc = copy_str(out->peer_address, sizeof out->peer_address, m->peer_address, "peer address",
                      err);
    if (rc == BS_OK)
        rc = copy_str(out->status_address, sizeof out->status_address, m->status_address,
                      "status address", err);
    if (rc == BS_OK)
        rc = copy_str(out->version, sizeof out->version, m->version, "version", err);
    if (rc == BS_OK)
        rc = copy_str(out->git_hash, sizeof out->git_hash, m->git_hash, "git hash", err);
    if (rc == BS_OK)
        rc =
            copy_str(out->deploy_path, sizeof out->deploy_path, m->deploy_path, "deploy path", err);
    if (rc != BS_OK)
        return rc;
    out->state = (m->state >= 0 && m->state <= 2) ? (pd_store_state)m->state : PD_STORE_UP;
    out->node_state = (m->node_state >= 0 && m->node_state <= 3) ? (pd_node_state)m->node_state
                                                                 : PD_NODE_PREPARING;
    out->start_timestamp = m->start_timestamp;
    out->last_heartbeat = m->last_heartbeat;
    out->physically_destroyed = m->physically_destroyed;
    return BS_OK;
}

Errorpb__Error *srv_grpc_region_error_to_pb(srv_grpc_arena *a, const cluster_region_error *e,
                                            const char *message)
{
    Errorpb__Error *m = SRV_GRPC_NEW(a, Errorpb__Error);
    errorpb__error__init(m);
    m->message = srv_grpc_arena_strdup(a, message);
    switch (e->kind) {
    case CLUSTER_RERR_NONE:
        break;
    case CLUSTER_RERR_NOT_LEADER:
        m->not_leader = SRV_GRPC_NEW(a, Errorpb__NotLeader);
        errorpb__not_leader__init(m->not_leader);
        m->not_leader->region_id = e->region_id;
        if (e->has_leader)
            m->not_leader->leader = srv_grpc_peer_to_pb(a, &e->leader);
        break;
    case CLUSTER_RERR_REGION_NOT_FOUND:
        m->region_not_found = SRV_GRPC_NEW(a, Errorpb__RegionNotFound);
        errorpb__region_not_found__init(m->region_not_found);
        m->region_not_found->region_id = e->region_id;
        break;
    case CLUSTER_RERR_KEY_NOT_IN_REGION:
        m->key_not_in_region = SRV_GRPC_NEW(a, Errorpb__KeyNotInRegion);
        errorpb__key_not_in_region__init(m->key_not_in_region);
        m->key_not_in_region->key = srv_grpc_pb_bytes(bs_buf_slice(&e->key));
        m->key_not_in_region->region_id = e->region_id;
        m->key_not_in_region->start_key = srv_grpc_pb_bytes(bs_buf_slice(&e->start_key));
        m->key_not_in_region->end_key = srv_grpc_pb_bytes(bs_buf_slice(&e->end_key));
        break;
    case CLUSTER_RERR_EPOCH_NOT_MATCH:
        m->epoch_not_match = SRV_GRPC_NEW(a, Errorpb__EpochNotMatch);
        errorpb__epoch_not_match__init(m->epoch_not_match);
        m->epoch_not_match->n_current_regions = e->n_regions;
        m->epoch_not_match->current_regions = SRV_GRPC_NEWN(a, Metapb__Region *, e->n_regions);
        for (size_t i = 0; i < e->n_regions; i++)
            m->epoch_not_match->current_regions[i] = srv_grpc_region_to_pb(a, &e->regions[i]);
        break;
    case CLUSTER_RERR_SERVER_IS_BUSY:
        m->server_is_busy = SRV_GRPC_NEW(a, Errorpb__ServerIsBusy);
        errorpb__server_is_busy__init(m->server_is_busy);
        m->server_is_busy->reason =
            srv_grpc_arena_strdup(a, e->reason[0] ? e->reason : "server is busy");
        break;
    case CLUSTER_RERR_STALE_COMMAND:
        m->stale_command = SRV_GRPC_NEW(a, Errorpb__StaleCommand);
        errorpb__stale_command__init(m->stale_command);
        break;
    case CLUSTER_RERR_RAFT_ENTRY_TOO_LARGE:
        m->raft_entry_too_large = SRV_GRPC_NEW(a, Errorpb__RaftEntryTooLarge);
        errorpb__raft_entry_too_large__init(m->raft_entry_too_large);
        m->raft_entry_too_large->region_id = e->region_id;
        m->raft_entry_too_large->entry_size = e->entry_size;
        break;
    }
    return m;
}
