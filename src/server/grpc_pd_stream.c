/* grpc_pd_stream.c -- the bidirectional streams of pdpb.PD: Tso, RegionHeartbeat and
 * QueryRegion.
 *
 * Rows of grpc_pd.c's method table (decode, cluster id check, header and packing happen in
 * its wrapper). All three answer each request synchronously inside on_message, so
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

#define REQ(type) const type *rq = c->req
#define RESP(type) type *r = c->resp

static int h_tso(srv_grpc_pd_call *c)
{
    REQ(Pdpb__TsoRequest);
    RESP(Pdpb__TsoResponse);
    if (rq->count == 0) {
        snprintf(c->msg, c->cap, "tso count should be positive");
        return NET_GRPC_UNKNOWN;
    }
    uint64_t ts = 0;
    if (pd_tso_alloc(c->svc->pd, rq->count, &ts, &c->err) != BS_OK) {
        snprintf(c->msg, c->cap, "tso allocation failed: %s", c->err.msg);
        return NET_GRPC_UNKNOWN;
    }
    r->timestamp = SRV_GRPC_NEW(c->a, Pdpb__Timestamp);
    pdpb__timestamp__init(r->timestamp);
    r->timestamp->physical = pd_ts_physical(ts);
    r->timestamp->logical = pd_ts_logical(ts); /* the largest of the block */
    r->count = rq->count;
    return NET_GRPC_OK;
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

/* A good heartbeat gets no answer; a rejected one an error addressed to its region. */
static int h_region_heartbeat(srv_grpc_pd_call *c)
{
    REQ(Pdpb__RegionHeartbeatRequest);
    RESP(Pdpb__RegionHeartbeatResponse);
    pd_region_info hb;
    pd_region_info_init(&hb);
    if (!rq->leader || rq->leader->id == 0)
        c->rc = bs_err_setf(&c->err, BS_EINVAL, "invalid request leader");
    else if (!rq->region || rq->region->id == 0)
        c->rc = bs_err_setf(&c->err, BS_EINVAL, "invalid request region");
    if (c->rc == BS_OK)
        c->rc = srv_grpc_region_from_pb(rq->region, &hb.region, &c->err);
    if (c->rc == BS_OK) {
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
        c->rc = pd_region_heartbeat(c->svc->pd, &hb, &et, &c->err);
    }
    pd_region_info_deinit(&hb);
    if (c->rc == BS_OK)
        return SRV_GRPC_NO_REPLY;
    c->et = PD_ERR_UNKNOWN;
    if (rq->region) {
        r->region_id = rq->region->id;
        r->region_epoch = rq->region->region_epoch; /* borrowed from the request */
    }
    r->target_peer = rq->leader;
    return NET_GRPC_OK;
}

static void query_result_deinit(void *arg)
{
    pd_query_result_deinit(arg);
}

static int h_query_region(srv_grpc_pd_call *c)
{
    REQ(Pdpb__QueryRegionRequest);
    RESP(Pdpb__QueryRegionResponse);
    bs_slice *keys = SRV_GRPC_NEWN(c->a, bs_slice, rq->n_keys);
    bs_slice *prev = SRV_GRPC_NEWN(c->a, bs_slice, rq->n_prev_keys);
    for (size_t i = 0; i < rq->n_keys; i++)
        keys[i] = srv_grpc_bytes(rq->keys[i]);
    for (size_t i = 0; i < rq->n_prev_keys; i++)
        prev[i] = srv_grpc_bytes(rq->prev_keys[i]);
    pd_query_result *q = SRV_GRPC_NEW(c->a, pd_query_result); /* the response borrows it */
    pd_query_result_init(q);
    srv_grpc_pd_defer_fn(c, query_result_deinit, q);
    c->rc = pd_query_region(c->svc->pd, keys, rq->n_keys, prev, rq->n_prev_keys, rq->ids, rq->n_ids,
                            q, &c->err);
    if (c->rc != BS_OK)
        return NET_GRPC_OK;
    r->n_key_id_map = rq->n_keys;
    r->key_id_map = q->key_ids;
    r->n_prev_key_id_map = rq->n_prev_keys;
    r->prev_key_id_map = q->prev_key_ids;
    r->n_regions_by_id = q->regions.n;
    r->regions_by_id =
        SRV_GRPC_NEWN(c->a, Pdpb__QueryRegionResponse__RegionsByIdEntry *, q->regions.n);
    for (size_t i = 0; i < q->regions.n; i++) {
        Pdpb__QueryRegionResponse__RegionsByIdEntry *e =
            SRV_GRPC_NEW(c->a, Pdpb__QueryRegionResponse__RegionsByIdEntry);
        pdpb__query_region_response__regions_by_id_entry__init(e);
        Pdpb__RegionResponse *rr = SRV_GRPC_NEW(c->a, Pdpb__RegionResponse);
        pdpb__region_response__init(rr);
        srv_grpc_pd_region_parts(c->a, &q->regions.v[i], &rr->region, &rr->leader,
                                 &rr->n_down_peers, &rr->down_peers, &rr->n_pending_peers,
                                 &rr->pending_peers);
        e->key = q->regions.v[i].region.id;
        e->value = rr;
        r->regions_by_id[i] = e;
    }
    return NET_GRPC_OK;
}

const srv_grpc_pd_method srv_grpc_pd_stream_methods[] = {
    {"/pdpb.PD/Tso", &pdpb__tso_request__descriptor, &pdpb__tso_response__descriptor,
     SRV_GRPC_PD_STREAM, h_tso},
    {"/pdpb.PD/RegionHeartbeat", &pdpb__region_heartbeat_request__descriptor,
     &pdpb__region_heartbeat_response__descriptor, SRV_GRPC_PD_STREAM, h_region_heartbeat},
    {"/pdpb.PD/QueryRegion", &pdpb__query_region_request__descriptor,
     &pdpb__query_region_response__descriptor, SRV_GRPC_PD_STREAM, h_query_region},
};

const size_t srv_grpc_pd_stream_method_count =
    sizeof srv_grpc_pd_stream_methods / sizeof srv_grpc_pd_stream_methods[0];
