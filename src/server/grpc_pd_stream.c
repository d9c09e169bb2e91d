/* grpc_pd_stream.c -- the bidirectional streams of pdpb.PD: Tso, RegionHeartbeat and
 * QueryRegion.
 *
 * All three answer each request synchronously inside on_message (srv_grpc_add_stream_sync), so
 * replies leave in request order and a stream holds no state of its own. That is what both
 * TSO client styles need: client-go keeps one long-lived Tso stream and pipelines requests
 * on it; client-c opens a stream per request and half-closes it. Timestamps come from
 * pd_tso_alloc, which never goes backwards (PD's persisted window), whatever the stream.
 *
 * Failures follow PD's srv_grpc_service.go: a bad cluster id ends the stream with
 * FAILED_PRECONDITION; a TSO allocation failure ends it with UNKNOWN (grpc-go's code for a
 * plain error); a rejected region heartbeat is answered with a header error and the stream
 * goes on (PD's hbStreams.SendErr); a good heartbeat gets no reply (a static cluster has no
 * operators to push). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "server/grpc_int.h"

static int h_tso(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    Pdpb__TsoRequest *rq =
        (Pdpb__TsoRequest *)srv_grpc_unpack(&pdpb__tso_request__descriptor, req, msg, cap);
    if (!rq)
        return NET_GRPC_INTERNAL;
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK && rq->count == 0) {
        snprintf(msg, cap, "tso count should be positive");
        st = NET_GRPC_UNKNOWN;
    }
    uint64_t ts = 0;
    if (st == NET_GRPC_OK) {
        bs_err err;
        bs_err_clear(&err);
        if (pd_tso_alloc(svc->pd, rq->count, &ts, &err) != BS_OK) {
            snprintf(msg, cap, "tso allocation failed: %s", err.msg);
            st = NET_GRPC_UNKNOWN;
        }
    }
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__TsoResponse r = PDPB__TSO_RESPONSE__INIT;
        Pdpb__Timestamp t = PDPB__TIMESTAMP__INIT;
        t.physical = pd_ts_physical(ts);
        t.logical = pd_ts_logical(ts); /* the largest of the block */
        r.header = srv_grpc_pd_header(&a, svc, PD_ERR_OK, NULL);
        r.count = rq->count;
        r.timestamp = &t;
        srv_grpc_pack(&r.base, resp);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

/* An error reply of the heartbeat stream, addressed to the reporting region. */
static void heartbeat_error(const srv_grpc_pd *svc, const Pdpb__RegionHeartbeatRequest *rq,
                            const char *message, bs_buf *resp)
{
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    Pdpb__RegionHeartbeatResponse r = PDPB__REGION_HEARTBEAT_RESPONSE__INIT;
    r.header = srv_grpc_pd_header(&a, svc, PD_ERR_UNKNOWN, message);
    if (rq->region) {
        r.region_id = rq->region->id;
        r.region_epoch = rq->region->region_epoch;
    }
    r.target_peer = rq->leader;
    srv_grpc_pack(&r.base, resp);
    srv_grpc_arena_free(&a);
}

static void peer_stats_from_pb(Pdpb__PeerStats *const *v, size_t n, pd_peer_stats **out,
                               size_t *n_out)
{
    *out = n ? bs_calloc(n, sizeof(pd_peer_stats)) : NULL;
    *n_out = n;
    for (size_t i = 0; i < n; i++) {
        srv_grpc_peer_from_pb(v[i]->peer, &(*out)[i].peer);
        (*out)[i].down_seconds = v[i]->down_seconds;
    }
}

static int h_region_heartbeat(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    Pdpb__RegionHeartbeatRequest *rq = (Pdpb__RegionHeartbeatRequest *)srv_grpc_unpack(
        &pdpb__region_heartbeat_request__descriptor, req, msg, cap);
    if (!rq)
        return NET_GRPC_INTERNAL;
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st != NET_GRPC_OK) {
        protobuf_c_message_free_unpacked(&rq->base, NULL);
        return st;
    }
    pd_region_info hb;
    pd_region_info_init(&hb);
    bs_err err;
    bs_err_clear(&err);
    int rc = BS_OK;
    if (!rq->leader || rq->leader->id == 0)
        rc = bs_err_setf(&err, BS_EINVAL, "invalid request leader");
    else if (!rq->region || rq->region->id == 0)
        rc = bs_err_setf(&err, BS_EINVAL, "invalid request region");
    if (rc == BS_OK)
        rc = srv_grpc_region_from_pb(rq->region, &hb.region, &err);
    if (rc == BS_OK) {
        hb.has_leader = true;
        srv_grpc_peer_from_pb(rq->leader, &hb.leader);
        hb.term = rq->term;
        peer_stats_from_pb(rq->down_peers, rq->n_down_peers, &hb.down_peers, &hb.n_down_peers);
        hb.n_pending_peers = rq->n_pending_peers;
        hb.pending_peers =
            rq->n_pending_peers ? bs_calloc(rq->n_pending_peers, sizeof(pd_peer)) : NULL;
        for (size_t i = 0; i < rq->n_pending_peers; i++)
            srv_grpc_peer_from_pb(rq->pending_peers[i], &hb.pending_peers[i]);
        hb.approximate_size = rq->approximate_size;
        hb.approximate_keys = rq->approximate_keys;
        hb.bytes_written = rq->bytes_written;
        hb.bytes_read = rq->bytes_read;
        hb.keys_written = rq->keys_written;
        hb.keys_read = rq->keys_read;
        pd_error_type et = PD_ERR_OK;
        rc = pd_region_heartbeat(svc->pd, &hb, &et, &err);
    }
    if (rc != BS_OK) {
        heartbeat_error(svc, rq, err.msg, resp);
        st = NET_GRPC_OK;
    } else {
        st = SRV_GRPC_NO_REPLY;
    }
    pd_region_info_deinit(&hb);
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

static int h_query_region(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    Pdpb__QueryRegionRequest *rq = (Pdpb__QueryRegionRequest *)srv_grpc_unpack(
        &pdpb__query_region_request__descriptor, req, msg, cap);
    if (!rq)
        return NET_GRPC_INTERNAL;
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__QueryRegionResponse r = PDPB__QUERY_REGION_RESPONSE__INIT;
        bs_slice *keys = SRV_GRPC_NEWN(&a, bs_slice, rq->n_keys);
        bs_slice *prev = SRV_GRPC_NEWN(&a, bs_slice, rq->n_prev_keys);
        for (size_t i = 0; i < rq->n_keys; i++)
            keys[i] = srv_grpc_bytes(rq->keys[i]);
        for (size_t i = 0; i < rq->n_prev_keys; i++)
            prev[i] = srv_grpc_bytes(rq->prev_keys[i]);
        pd_query_result q;
        pd_query_result_init(&q);
        bs_err err;
        bs_err_clear(&err);
        int rc = pd_query_region(svc->pd, keys, rq->n_keys, prev, rq->n_prev_keys, rq->ids,
                                 rq->n_ids, &q, &err);
        if (rc == BS_OK) {
            r.header = srv_grpc_pd_header(&a, svc, PD_ERR_OK, NULL);
            r.n_key_id_map = rq->n_keys;
            r.key_id_map = q.key_ids;
            r.n_prev_key_id_map = rq->n_prev_keys;
            r.prev_key_id_map = q.prev_key_ids;
            r.n_regions_by_id = q.regions.n;
            r.regions_by_id =
                SRV_GRPC_NEWN(&a, Pdpb__QueryRegionResponse__RegionsByIdEntry *, q.regions.n);
            for (size_t i = 0; i < q.regions.n; i++) {
                Pdpb__QueryRegionResponse__RegionsByIdEntry *e =
                    SRV_GRPC_NEW(&a, Pdpb__QueryRegionResponse__RegionsByIdEntry);
                pdpb__query_region_response__regions_by_id_entry__init(e);
                Pdpb__RegionResponse *rr = SRV_GRPC_NEW(&a, Pdpb__RegionResponse);
                pdpb__region_response__init(rr);
                srv_grpc_pd_region_parts(&a, &q.regions.v[i], &rr->region, &rr->leader,
                                         &rr->n_down_peers, &rr->down_peers, &rr->n_pending_peers,
                                         &rr->pending_peers);
                e->key = q.regions.v[i].region.id;
                e->value = rr;
                r.regions_by_id[i] = e;
            }
        } else {
            pd_error_type et = pd_error_type_of(rc);
            r.header = srv_grpc_pd_header(&a, svc, et, err.msg);
        }
        srv_grpc_pack(&r.base, resp);
        pd_query_result_deinit(&q);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

int srv_grpc_pd_streams_register(srv_grpc_pd *svc, net_server *s, bs_err *err)
{
    int rc = srv_grpc_add_stream_sync(s, "/pdpb.PD/Tso", srv_grpc_pd_binding(svc, h_tso), err);
    if (rc == BS_OK)
        rc = srv_grpc_add_stream_sync(s, "/pdpb.PD/RegionHeartbeat",
                                      srv_grpc_pd_binding(svc, h_region_heartbeat), err);
    if (rc == BS_OK)
        rc = srv_grpc_add_stream_sync(s, "/pdpb.PD/QueryRegion",
                                      srv_grpc_pd_binding(svc, h_query_region), err);
    return rc;
}
