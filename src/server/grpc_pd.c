/* grpc_pd.c -- pdpb.PD for standalone mode: the unary methods, over an in-process pd_core.
 *
 * Each handler decodes its request, applies PD's validateRequest (header.cluster_id must be
 * PD's, else gRPC FAILED_PRECONDITION "mismatch cluster id, need X but got Y"; GetMembers is
 * exempt: clients learn the id from it), calls pd_core, and maps the result as PD's
 * server/srv_grpc_service.go does: typed failures go into the response header (pdpb.Error),
 * never into a gRPC status, so clients read NOT_BOOTSTRAPPED, ALREADY_BOOTSTRAPPED, ... the
 * way they do from PD. A single-node PD is always the leader: GetMembers lists itself as
 * member, leader and etcd leader with a full "http://" client URL (PROTOCOL.md §3.2).
 *
 * The streams are in grpc_pd_stream.c, keyspace/etcd/health in grpc_meta.c. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/assert.h"
#include "server/grpc_int.h"

#define UNPACK(type, desc)                                                                         \
    type *rq = (type *)srv_grpc_unpack(&(desc), req, msg, cap);                                    \
    if (!rq)                                                                                       \
        return NET_GRPC_INTERNAL;

/* ---- shared helpers -------------------------------------------------------------------- */

void srv_grpc_pd_client_url(const srv_grpc_pd *svc, char *out, size_t cap)
{
    if (svc->client_url[0]) {
        snprintf(out, cap, "%s", svc->client_url);
        return;
    }
    bool v6 = strchr(svc->advertise_host, ':') != NULL; /* an IPv6 literal needs brackets */
    snprintf(out, cap, "http://%s%s%s:%u", v6 ? "[" : "", svc->advertise_host, v6 ? "]" : "",
             (unsigned)net_server_port(svc->server));
}

int srv_grpc_pd_check_header(const srv_grpc_pd *svc, const Pdpb__RequestHeader *h, char *msg,
                             size_t cap)
{
    uint64_t want = pd_cluster_id(svc->pd), got = h ? h->cluster_id : 0;
    if (got == want)
        return NET_GRPC_OK;
    snprintf(msg, cap, "mismatch cluster id, need %" PRIu64 " but got %" PRIu64, want, got);
    return NET_GRPC_FAILED_PRECONDITION;
}

Pdpb__ResponseHeader *srv_grpc_pd_header(srv_grpc_arena *a, const srv_grpc_pd *svc,
                                         pd_error_type type, const char *message)
{
    Pdpb__ResponseHeader *h = SRV_GRPC_NEW(a, Pdpb__ResponseHeader);
    pdpb__response_header__init(h);
    h->cluster_id = pd_cluster_id(svc->pd);
    if (type != PD_ERR_OK) {
        h->error = SRV_GRPC_NEW(a, Pdpb__Error);
        pdpb__error__init(h->error);
        h->error->type = (Pdpb__ErrorType)type;
        h->error->message =
            srv_grpc_arena_strdup(a, message && *message ? message : pd_error_type_name(type));
    }
    return h;
}

static Pdpb__ResponseHeader *header_of(srv_grpc_arena *a, const srv_grpc_pd *svc, int rc,
                                       pd_error_type type, const bs_err *err)
{
    if (rc == BS_OK)
        return srv_grpc_pd_header(a, svc, PD_ERR_OK, NULL);
    if (type == PD_ERR_OK)
        type = pd_error_type_of(rc);
    return srv_grpc_pd_header(a, svc, type, err->msg);
}

void srv_grpc_pd_region_parts(srv_grpc_arena *a, const pd_region_info *ri, Metapb__Region **region,
                              Metapb__Peer **leader, size_t *n_down, Pdpb__PeerStats ***down,
                              size_t *n_pending, Metapb__Peer ***pending)
{
    *region = srv_grpc_region_to_pb(a, &ri->region);
    if (ri->has_leader) {
        *leader = srv_grpc_peer_to_pb(a, &ri->leader);
    } else {
        *leader = SRV_GRPC_NEW(a, Metapb__Peer);
        metapb__peer__init(*leader);
    }
    *n_down = ri->n_down_peers;
    *down = SRV_GRPC_NEWN(a, Pdpb__PeerStats *, ri->n_down_peers);
    for (size_t i = 0; i < ri->n_down_peers; i++) {
        Pdpb__PeerStats *ps = SRV_GRPC_NEW(a, Pdpb__PeerStats);
        pdpb__peer_stats__init(ps);
        ps->peer = srv_grpc_peer_to_pb(a, &ri->down_peers[i].peer);
        ps->down_seconds = ri->down_peers[i].down_seconds;
        (*down)[i] = ps;
    }
    *n_pending = ri->n_pending_peers;
    *pending = SRV_GRPC_NEWN(a, Metapb__Peer *, ri->n_pending_peers);
    for (size_t i = 0; i < ri->n_pending_peers; i++)
        (*pending)[i] = srv_grpc_peer_to_pb(a, &ri->pending_peers[i]);
}

static Pdpb__Member *self_member(srv_grpc_arena *a, const srv_grpc_pd *svc)
{
    char url[SRV_GRPC_URL_MAX];
    srv_grpc_pd_client_url(svc, url, sizeof url);
    Pdpb__Member *m = SRV_GRPC_NEW(a, Pdpb__Member);
    pdpb__member__init(m);
    m->name = srv_grpc_arena_strdup(a, svc->name);
    m->member_id = svc->member_id;
    m->n_peer_urls = 1;
    m->peer_urls = SRV_GRPC_NEWN(a, char *, 1);
    m->peer_urls[0] = srv_grpc_arena_strdup(a, url);
    m->n_client_urls = 1;
    m->client_urls = SRV_GRPC_NEWN(a, char *, 1);
    m->client_urls[0] = srv_grpc_arena_strdup(a, url);
    m->binary_version = srv_grpc_arena_strdup(a, svc->cluster_version);
    return m;
}

/* ---- members, bootstrap, ids ----------------------------------------------------------- */

static int h_get_members(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__GetMembersRequest, pdpb__get_members_request__descriptor);
    /* No cluster id check: clients learn the id from this call. */
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    Pdpb__GetMembersResponse r = PDPB__GET_MEMBERS_RESPONSE__INIT;
    Pdpb__Member *self = self_member(&a, svc);
    r.header = srv_grpc_pd_header(&a, svc, PD_ERR_OK, NULL);
    r.n_members = 1;
    r.members = &self;
    r.leader = self;
    r.etcd_leader = self;
    srv_grpc_pack(&r.base, resp);
    srv_grpc_arena_free(&a);
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return NET_GRPC_OK;
}

static int h_is_bootstrapped(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__IsBootstrappedRequest, pdpb__is_bootstrapped_request__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__IsBootstrappedResponse r = PDPB__IS_BOOTSTRAPPED_RESPONSE__INIT;
        r.header = srv_grpc_pd_header(&a, svc, PD_ERR_OK, NULL);
        r.bootstrapped = pd_is_bootstrapped(svc->pd);
        srv_grpc_pack(&r.base, resp);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

static int h_bootstrap(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__BootstrapRequest, pdpb__bootstrap_request__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__BootstrapResponse r = PDPB__BOOTSTRAP_RESPONSE__INIT;
        pd_store store;
        pd_region region;
        pd_region_init(&region);
        bs_err err;
        bs_err_clear(&err);
        pd_error_type et = PD_ERR_OK;
        int rc = srv_grpc_store_from_pb(rq->store, &store, &err);
        if (rc == BS_OK)
            rc = srv_grpc_region_from_pb(rq->region, &region, &err);
        if (rc == BS_OK)
            rc = pd_bootstrap(svc->pd, &store, &region, &et, &err);
        else
            et = PD_ERR_UNKNOWN;
        r.header = header_of(&a, svc, rc, et, &err);
        srv_grpc_pack(&r.base, resp);
        pd_region_deinit(&region);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

static int h_alloc_id(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__AllocIDRequest, pdpb__alloc_idrequest__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__AllocIDResponse r = PDPB__ALLOC_IDRESPONSE__INIT;
        bs_err err;
        bs_err_clear(&err);
        uint64_t last = 0;
        int rc = pd_alloc_id(svc->pd, rq->count, &last, &err);
        r.header = header_of(&a, svc, rc, PD_ERR_UNKNOWN, &err);
        if (rc == BS_OK) {
            r.id = last;
            r.count = rq->count > 1 ? rq->count : 0; /* echoed only for a block */
        }
        srv_grpc_pack(&r.base, resp);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

static int h_get_cluster_config(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__GetClusterConfigRequest, pdpb__get_cluster_config_request__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__GetClusterConfigResponse r = PDPB__GET_CLUSTER_CONFIG_RESPONSE__INIT;
        bs_err err;
        bs_err_clear(&err);
        uint32_t max_peers = 0;
        int rc = pd_get_cluster_config(svc->pd, &max_peers, &err);
        r.header = header_of(&a, svc, rc, PD_ERR_OK, &err);
        if (rc == BS_OK) {
            r.cluster = SRV_GRPC_NEW(&a, Metapb__Cluster);
            metapb__cluster__init(r.cluster);
            r.cluster->id = pd_cluster_id(svc->pd);
            r.cluster->max_peer_count = max_peers;
        }
        srv_grpc_pack(&r.base, resp);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

/* ---- stores ---------------------------------------------------------------------------- */

static Pdpb__StoreStats *stats_to_pb(srv_grpc_arena *a, uint64_t store_id, const pd_store_stats *s)
{
    Pdpb__StoreStats *m = SRV_GRPC_NEW(a, Pdpb__StoreStats);
    pdpb__store_stats__init(m);
    m->store_id = store_id;
    m->capacity = s->capacity;
    m->available = s->available;
    m->used_size = s->used_size;
    m->region_count = s->region_count;
    m->sending_snap_count = s->sending_snap_count;
    m->receiving_snap_count = s->receiving_snap_count;
    m->applying_snap_count = s->applying_snap_count;
    m->start_time = s->start_time;
    m->is_busy = s->is_busy;
    m->bytes_written = s->bytes_written;
    m->keys_written = s->keys_written;
    m->bytes_read = s->bytes_read;
    m->keys_read = s->keys_read;
    if (s->interval_start || s->interval_end) {
        m->interval = SRV_GRPC_NEW(a, Pdpb__TimeInterval);
        pdpb__time_interval__init(m->interval);
        m->interval->start_timestamp = s->interval_start;
        m->interval->end_timestamp = s->interval_end;
    }
    return m;
}

static void stats_from_pb(const Pdpb__StoreStats *m, pd_store_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->capacity = m->capacity;
    s->available = m->available;
    s->used_size = m->used_size;
    s->region_count = m->region_count;
    s->sending_snap_count = m->sending_snap_count;
    s->receiving_snap_count = m->receiving_snap_count;
    s->applying_snap_count = m->applying_snap_count;
    s->start_time = m->start_time;
    s->is_busy = m->is_busy;
    s->bytes_written = m->bytes_written;
    s->keys_written = m->keys_written;
    s->bytes_read = m->bytes_read;
    s->keys_read = m->keys_read;
    if (m->interval) {
        s->interval_start = m->interval->start_timestamp;
        s->interval_end = m->interval->end_timestamp;
    }
}

static int h_get_store(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__GetStoreRequest, pdpb__get_store_request__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__GetStoreResponse r = PDPB__GET_STORE_RESPONSE__INIT;
        pd_store s;
        bs_err err;
        bs_err_clear(&err);
        pd_error_type et = PD_ERR_OK;
        int rc = pd_get_store(svc->pd, rq->store_id, &s, &et, &err);
        r.header = header_of(&a, svc, rc, et, &err);
        if (rc == BS_OK) {
            r.store = srv_grpc_store_to_pb(&a, &s);
            r.stats = stats_to_pb(&a, s.id, &s.stats);
        }
        srv_grpc_pack(&r.base, resp);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

static int h_put_store(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__PutStoreRequest, pdpb__put_store_request__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__PutStoreResponse r = PDPB__PUT_STORE_RESPONSE__INIT;
        pd_store s;
        bs_err err;
        bs_err_clear(&err);
        pd_error_type et = PD_ERR_UNKNOWN;
        int rc = srv_grpc_store_from_pb(rq->store, &s, &err);
        if (rc == BS_OK)
            rc = pd_put_store(svc->pd, &s, &et, &err);
        r.header = header_of(&a, svc, rc, et, &err);
        srv_grpc_pack(&r.base, resp);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

static int h_get_all_stores(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__GetAllStoresRequest, pdpb__get_all_stores_request__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__GetAllStoresResponse r = PDPB__GET_ALL_STORES_RESPONSE__INIT;
        pd_store *stores = NULL;
        size_t n = 0;
        bs_err err;
        bs_err_clear(&err);
        pd_error_type et = PD_ERR_OK;
        int rc = pd_get_all_stores(svc->pd, rq->exclude_tombstone_stores, &stores, &n, &et, &err);
        r.header = header_of(&a, svc, rc, et, &err);
        if (rc == BS_OK) {
            r.n_stores = n;
            r.stores = SRV_GRPC_NEWN(&a, Metapb__Store *, n);
            for (size_t i = 0; i < n; i++)
                r.stores[i] = srv_grpc_store_to_pb(&a, &stores[i]);
        }
        srv_grpc_pack(&r.base, resp);
        bs_free(stores);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

static int h_store_heartbeat(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__StoreHeartbeatRequest, pdpb__store_heartbeat_request__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK && !rq->stats) {
        /* PD returns this as a plain error, which grpc-go sends as UNKNOWN. */
        snprintf(msg, cap, "invalid store heartbeat command, stats are missing");
        st = NET_GRPC_UNKNOWN;
    }
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__StoreHeartbeatResponse r = PDPB__STORE_HEARTBEAT_RESPONSE__INIT;
        pd_store_stats stats;
        stats_from_pb(rq->stats, &stats);
        bs_err err;
        bs_err_clear(&err);
        pd_error_type et = PD_ERR_OK;
        pd_node_state ns = PD_NODE_SERVING;
        int rc = pd_store_heartbeat(svc->pd, rq->stats->store_id, &stats, &ns, &et, &err);
        r.header = header_of(&a, svc, rc, et, &err);
        r.cluster_version = svc->cluster_version;
        if (rc == BS_OK)
            r.state = (Metapb__NodeState)ns;
        srv_grpc_pack(&r.base, resp);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

/* ---- regions --------------------------------------------------------------------------- */

/* A GetRegionResponse from a lookup's result (BS_NOTFOUND: OK header, no region). */
static void region_response(const srv_grpc_pd *svc, int rc, const pd_region_info *ri,
                            const bs_err *err, bs_buf *resp)
{
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    Pdpb__GetRegionResponse r = PDPB__GET_REGION_RESPONSE__INIT;
    r.header = header_of(&a, svc, rc == BS_NOTFOUND ? BS_OK : rc, PD_ERR_OK, err);
    if (rc == BS_OK)
        srv_grpc_pd_region_parts(&a, ri, &r.region, &r.leader, &r.n_down_peers, &r.down_peers,
                                 &r.n_pending_peers, &r.pending_peers);
    srv_grpc_pack(&r.base, resp);
    srv_grpc_arena_free(&a);
}

static int get_region_common(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap,
                             bool prev)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__GetRegionRequest, pdpb__get_region_request__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        pd_region_info ri;
        pd_region_info_init(&ri);
        bs_err err;
        bs_err_clear(&err);
        int rc = prev ? pd_get_prev_region(svc->pd, srv_grpc_bytes(rq->region_key), &ri, &err)
                      : pd_get_region(svc->pd, srv_grpc_bytes(rq->region_key), &ri, &err);
        region_response(svc, rc, &ri, &err, resp);
        pd_region_info_deinit(&ri);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

static int h_get_region(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    return get_region_common(arg, req, resp, msg, cap, false);
}

static int h_get_prev_region(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    return get_region_common(arg, req, resp, msg, cap, true);
}

static int h_get_region_by_id(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__GetRegionByIDRequest, pdpb__get_region_by_idrequest__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        pd_region_info ri;
        pd_region_info_init(&ri);
        bs_err err;
        bs_err_clear(&err);
        int rc = pd_get_region_by_id(svc->pd, rq->region_id, &ri, &err);
        region_response(svc, rc, &ri, &err, resp);
        pd_region_info_deinit(&ri);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

static int h_scan_regions(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__ScanRegionsRequest, pdpb__scan_regions_request__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__ScanRegionsResponse r = PDPB__SCAN_REGIONS_RESPONSE__INIT;
        pd_region_list l;
        pd_region_list_init(&l);
        bs_err err;
        bs_err_clear(&err);
        int rc = pd_scan_regions(svc->pd, srv_grpc_bytes(rq->start_key),
                                 srv_grpc_bytes(rq->end_key), rq->limit, &l, &err);
        r.header = header_of(&a, svc, rc, PD_ERR_OK, &err);
        if (rc == BS_OK) {
            /* Both the old (region_metas + leaders) and the new (regions) form. */
            r.n_region_metas = r.n_leaders = r.n_regions = l.n;
            r.region_metas = SRV_GRPC_NEWN(&a, Metapb__Region *, l.n);
            r.leaders = SRV_GRPC_NEWN(&a, Metapb__Peer *, l.n);
            r.regions = SRV_GRPC_NEWN(&a, Pdpb__Region *, l.n);
            for (size_t i = 0; i < l.n; i++) {
                Pdpb__Region *pr = SRV_GRPC_NEW(&a, Pdpb__Region);
                pdpb__region__init(pr);
                srv_grpc_pd_region_parts(&a, &l.v[i], &pr->region, &pr->leader, &pr->n_down_peers,
                                         &pr->down_peers, &pr->n_pending_peers, &pr->pending_peers);
                r.regions[i] = pr;
                r.region_metas[i] = pr->region;
                r.leaders[i] = pr->leader;
            }
        }
        srv_grpc_pack(&r.base, resp);
        pd_region_list_deinit(&l);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

static int h_ask_batch_split(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__AskBatchSplitRequest, pdpb__ask_batch_split_request__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__AskBatchSplitResponse r = PDPB__ASK_BATCH_SPLIT_RESPONSE__INIT;
        pd_region region;
        pd_region_init(&region);
        pd_split_ids ids;
        pd_split_ids_init(&ids);
        bs_err err;
        bs_err_clear(&err);
        pd_error_type et = PD_ERR_UNKNOWN;
        int rc = srv_grpc_region_from_pb(rq->region, &region, &err);
        if (rc == BS_OK)
            rc = pd_ask_batch_split(svc->pd, &region, rq->split_count, &ids, &et, &err);
        r.header = header_of(&a, svc, rc, et, &err);
        if (rc == BS_OK) {
            r.n_ids = ids.count;
            r.ids = SRV_GRPC_NEWN(&a, Pdpb__SplitID *, ids.count);
            for (size_t k = 0; k < ids.count; k++) {
                Pdpb__SplitID *sid = SRV_GRPC_NEW(&a, Pdpb__SplitID);
                pdpb__split_id__init(sid);
                sid->new_region_id = ids.region_ids[k];
                sid->n_new_peer_ids = ids.peers_per_split;
                sid->new_peer_ids = &ids.peer_ids[k * ids.peers_per_split];
                r.ids[k] = sid;
            }
        }
        srv_grpc_pack(&r.base, resp);
        pd_split_ids_deinit(&ids);
        pd_region_deinit(&region);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

static int h_report_batch_split(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__ReportBatchSplitRequest, pdpb__report_batch_split_request__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__ReportBatchSplitResponse r = PDPB__REPORT_BATCH_SPLIT_RESPONSE__INIT;
        size_t n = rq->n_regions;
        pd_region *regions = bs_calloc(n ? n : 1, sizeof(pd_region));
        bs_err err;
        bs_err_clear(&err);
        pd_error_type et = PD_ERR_UNKNOWN;
        int rc = BS_OK;
        for (size_t i = 0; i < n; i++)
            pd_region_init(&regions[i]);
        for (size_t i = 0; i < n && rc == BS_OK; i++)
            rc = srv_grpc_region_from_pb(rq->regions[i], &regions[i], &err);
        if (rc == BS_OK)
            rc = pd_report_batch_split(svc->pd, regions, n, &et, &err);
        r.header = header_of(&a, svc, rc, et, &err);
        srv_grpc_pack(&r.base, resp);
        for (size_t i = 0; i < n; i++)
            pd_region_deinit(&regions[i]);
        bs_free(regions);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

/* ---- GC -------------------------------------------------------------------------------- */

/* PD answers the GC calls NOT_BOOTSTRAPPED before bootstrap (no raft cluster yet). */
static bool gc_ready(const srv_grpc_pd *svc, srv_grpc_arena *a, Pdpb__ResponseHeader **h)
{
    if (pd_is_bootstrapped(svc->pd)) {
        *h = srv_grpc_pd_header(a, svc, PD_ERR_OK, NULL);
        return true;
    }
    *h = srv_grpc_pd_header(a, svc, PD_ERR_NOT_BOOTSTRAPPED, "cluster is not bootstrapped");
    return false;
}

static int h_get_gc_safe_point(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__GetGCSafePointRequest, pdpb__get_gcsafe_point_request__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__GetGCSafePointResponse r = PDPB__GET_GCSAFE_POINT_RESPONSE__INIT;
        if (gc_ready(svc, &a, &r.header))
            r.safe_point = pd_get_gc_safe_point(svc->pd);
        srv_grpc_pack(&r.base, resp);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

static int h_update_gc_safe_point(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__UpdateGCSafePointRequest, pdpb__update_gcsafe_point_request__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__UpdateGCSafePointResponse r = PDPB__UPDATE_GCSAFE_POINT_RESPONSE__INIT;
        if (gc_ready(svc, &a, &r.header)) {
            bs_err err;
            bs_err_clear(&err);
            uint64_t sp = 0;
            int rc = pd_update_gc_safe_point(svc->pd, rq->safe_point, &sp, &err);
            r.header = header_of(&a, svc, rc, PD_ERR_UNKNOWN, &err);
            if (rc == BS_OK)
                r.new_safe_point = sp;
        }
        srv_grpc_pack(&r.base, resp);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

static int h_update_service_gc_safe_point(void *arg, bs_slice req, bs_buf *resp, char *msg,
                                          size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__UpdateServiceGCSafePointRequest,
           pdpb__update_service_gcsafe_point_request__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__UpdateServiceGCSafePointResponse r = PDPB__UPDATE_SERVICE_GCSAFE_POINT_RESPONSE__INIT;
        if (gc_ready(svc, &a, &r.header)) {
            bs_err err;
            bs_err_clear(&err);
            uint64_t min_sp = 0;
            int rc = pd_update_service_gc_safe_point(svc->pd, srv_grpc_bytes(rq->service_id),
                                                     rq->ttl, rq->safe_point, &min_sp, &err);
            r.header = header_of(&a, svc, rc, PD_ERR_UNKNOWN, &err);
            if (rc == BS_OK) {
                r.service_id = rq->service_id;
                r.ttl = rq->ttl;
                r.min_safe_point = min_sp;
            }
        }
        srv_grpc_pack(&r.base, resp);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

static int h_get_gc_state(void *arg, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = arg;
    UNPACK(Pdpb__GetGCStateRequest, pdpb__get_gcstate_request__descriptor);
    int st = srv_grpc_pd_check_header(svc, rq->header, msg, cap);
    if (st == NET_GRPC_OK) {
        /* One safe point for the whole cluster: Basalt's PD advances it itself and has no
         * separate txn safe point or keyspace-level GC (gc_safe_point <= txn_safe_point
         * holds trivially). The scope is echoed, the null keyspace included. */
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Pdpb__GetGCStateResponse r = PDPB__GET_GCSTATE_RESPONSE__INIT;
        Pdpb__GCState gs = PDPB__GCSTATE__INIT;
        Pdpb__KeyspaceScope scope = PDPB__KEYSPACE_SCOPE__INIT;
        if (rq->keyspace_scope)
            scope = *rq->keyspace_scope;
        uint64_t sp = pd_get_gc_safe_point(svc->pd);
        gs.keyspace_scope = &scope;
        gs.txn_safe_point = sp;
        gs.gc_safe_point = sp;
        r.header = srv_grpc_pd_header(&a, svc, PD_ERR_OK, NULL);
        r.gc_state = &gs;
        srv_grpc_pack(&r.base, resp);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

/* ---- registration ---------------------------------------------------------------------- */

srv_grpc_binding *srv_grpc_pd_binding(srv_grpc_pd *svc, srv_grpc_sync_fn fn)
{
    BS_ASSERT(svc->n_b < SRV_GRPC_PD_MAX_BINDINGS);
    srv_grpc_binding *b = &svc->b[svc->n_b++];
    memset(b, 0, sizeof(*b));
    b->sync = fn;
    b->svc = svc;
    return b;
}

static const struct {
    const char *path;
    srv_grpc_sync_fn fn;
} pd_unary[] = {
    {"/pdpb.PD/GetMembers", h_get_members},
    {"/pdpb.PD/IsBootstrapped", h_is_bootstrapped},
    {"/pdpb.PD/Bootstrap", h_bootstrap},
    {"/pdpb.PD/AllocID", h_alloc_id},
    {"/pdpb.PD/GetClusterConfig", h_get_cluster_config},
    {"/pdpb.PD/GetStore", h_get_store},
    {"/pdpb.PD/PutStore", h_put_store},
    {"/pdpb.PD/GetAllStores", h_get_all_stores},
    {"/pdpb.PD/StoreHeartbeat", h_store_heartbeat},
    {"/pdpb.PD/GetRegion", h_get_region},
    {"/pdpb.PD/GetPrevRegion", h_get_prev_region},
    {"/pdpb.PD/GetRegionByID", h_get_region_by_id},
    {"/pdpb.PD/ScanRegions", h_scan_regions},
    {"/pdpb.PD/AskBatchSplit", h_ask_batch_split},
    {"/pdpb.PD/ReportBatchSplit", h_report_batch_split},
    {"/pdpb.PD/GetGCSafePoint", h_get_gc_safe_point},
    {"/pdpb.PD/UpdateGCSafePoint", h_update_gc_safe_point},
    {"/pdpb.PD/UpdateServiceGCSafePoint", h_update_service_gc_safe_point},
    {"/pdpb.PD/GetGCState", h_get_gc_state},
};

void srv_grpc_pd_options_init(srv_grpc_pd_options *o)
{
    memset(o, 0, sizeof(*o));
}

static int set_opt(char *dst, size_t cap, const char *v, const char *dflt, const char *what,
                   bs_err *err)
{
    const char *s = v && *v ? v : dflt;
    if (strlen(s) >= cap)
        return bs_err_setf(err, BS_EINVAL, "PD %s is too long (limit %zu bytes)", what, cap - 1);
    snprintf(dst, cap, "%s", s);
    return BS_OK;
}

int srv_grpc_pd_register(net_server *s, pd_core *pd, const srv_grpc_pd_options *opts,
                         srv_grpc_pd **out, bs_err *err)
{
    srv_grpc_pd_options dflt;
    srv_grpc_pd_options_init(&dflt);
    if (!opts)
        opts = &dflt;
    srv_grpc_pd *svc = bs_calloc(1, sizeof(*svc));
    svc->server = s;
    svc->pd = pd;
    /* A stable, non-zero member id derived from the cluster id (PD draws one at random and
     * persists it; the only requirement clients have is non-zero and stable). */
    svc->member_id = (pd_cluster_id(pd) * 0x9E3779B97F4A7C15ull) | 1;
    int rc = set_opt(svc->name, sizeof svc->name, opts->name, "pd", "name", err);
    if (rc == BS_OK)
        rc = set_opt(svc->client_url, sizeof svc->client_url, opts->client_url, "", "client URL",
                     err);
    if (rc == BS_OK)
        rc = set_opt(svc->advertise_host, sizeof svc->advertise_host, opts->advertise_host,
                     "127.0.0.1", "advertise host", err);
    if (rc == BS_OK)
        rc = set_opt(svc->cluster_version, sizeof svc->cluster_version, opts->cluster_version,
                     "8.5.0", "cluster version", err);
    for (size_t i = 0; rc == BS_OK && i < sizeof pd_unary / sizeof pd_unary[0]; i++)
        rc = srv_grpc_add_unary_sync(s, pd_unary[i].path, srv_grpc_pd_binding(svc, pd_unary[i].fn),
                                     err);
    if (rc == BS_OK)
        rc = srv_grpc_pd_streams_register(svc, s, err);
    if (rc == BS_OK)
        rc = srv_grpc_meta_register(svc, s, err);
    if (rc == BS_OK)
        rc = srv_grpc_health_register(s, err);
    /* On failure too: methods already registered point at svc, so it must outlive the
     * server; the caller frees both. */
    *out = svc;
    return rc;
}

void srv_grpc_pd_free(srv_grpc_pd *svc)
{
    bs_free(svc);
}
