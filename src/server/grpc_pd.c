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
 * Every method is a row of a table (srv_grpc_pd_method) served by one wrapper, pd_dispatch:
 * the decode, the cluster id check, the response header, packing and freeing happen there
 * once, so a row's serve function holds only what differs: the pd_core call and the fields
 * of its answer. The streams' rows are in grpc_pd_stream.c, keyspace/etcd in grpc_meta.c,
 * health (not PD's) in grpc_meta.c as a plain handler. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/assert.h"
#include "server/grpc_int.h"

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

/* ---- the wrapper ------------------------------------------------------------------------ */

struct srv_grpc_pd_defer {
    srv_grpc_pd_defer *next;
    void (*fn)(void *arg);
    void *arg;
};

void srv_grpc_pd_defer_fn(srv_grpc_pd_call *c, void (*fn)(void *arg), void *arg)
{
    srv_grpc_pd_defer *d = SRV_GRPC_NEW(c->a, srv_grpc_pd_defer);
    d->fn = fn;
    d->arg = arg;
    d->next = c->deferred;
    c->deferred = d;
}

/* Field 1 of messages of desc when it is a message of type `type`, else NULL. */
static const ProtobufCFieldDescriptor *header_field(const ProtobufCMessageDescriptor *desc,
                                                    const ProtobufCMessageDescriptor *type)
{
    const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(desc, 1);
    return fd && fd->type == PROTOBUF_C_TYPE_MESSAGE && fd->descriptor == type ? fd : NULL;
}

static int pd_dispatch(const srv_grpc_binding *b, bs_slice req, bs_buf *resp, char *msg, size_t cap)
{
    srv_grpc_pd *svc = b->svc;
    const srv_grpc_pd_method *m = b->extra;
    ProtobufCMessage *rq = srv_grpc_unpack(m->req_desc, req, msg, cap);
    if (!rq)
        return NET_GRPC_INTERNAL;
    int st = NET_GRPC_OK;
    if (!(m->flags & SRV_GRPC_PD_ANY_CLUSTER_ID)) {
        const ProtobufCFieldDescriptor *hf =
            header_field(m->req_desc, &pdpb__request_header__descriptor);
        st = srv_grpc_pd_check_header(
            svc, hf ? *(const Pdpb__RequestHeader **)((const char *)rq + hf->offset) : NULL, msg,
            cap);
    }
    if (st == NET_GRPC_OK) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        ProtobufCMessage *r = srv_grpc_arena_alloc(&a, m->resp_desc->sizeof_message);
        m->resp_desc->message_init(r);
        srv_grpc_pd_call c = {.svc = svc,
                              .req = rq,
                              .resp = r,
                              .a = &a,
                              .rc = BS_OK,
                              .et = PD_ERR_OK,
                              .msg = msg,
                              .cap = cap};
        bs_err_clear(&c.err);
        if ((m->flags & SRV_GRPC_PD_BOOTSTRAPPED) && !pd_is_bootstrapped(svc->pd)) {
            c.et = PD_ERR_NOT_BOOTSTRAPPED;
            c.rc = bs_err_setf(&c.err, BS_ESTATE, "cluster is not bootstrapped");
        } else {
            st = m->serve(&c);
        }
        if (st == NET_GRPC_OK) {
            const ProtobufCFieldDescriptor *hf =
                header_field(m->resp_desc, &pdpb__response_header__descriptor);
            Pdpb__ResponseHeader **h =
                hf ? (Pdpb__ResponseHeader **)((char *)r + hf->offset) : NULL;
            if (h && !*h)
                *h = header_of(&a, svc, c.rc, c.et, &c.err);
            srv_grpc_pack(r, resp);
        }
        for (srv_grpc_pd_defer *d = c.deferred; d; d = d->next)
            d->fn(d->arg);
        srv_grpc_arena_free(&a);
    }
    protobuf_c_message_free_unpacked(rq, NULL);
    return st;
}

int srv_grpc_pd_add_methods(srv_grpc_pd *svc, net_server *s, const srv_grpc_pd_method *rows,
                            size_t n, bs_err *err)
{
    int rc = BS_OK;
    for (size_t i = 0; rc == BS_OK && i < n; i++) {
        BS_ASSERT(svc->n_b < SRV_GRPC_PD_MAX_BINDINGS);
        srv_grpc_binding *b = &svc->b[svc->n_b++];
        memset(b, 0, sizeof(*b));
        b->sync = pd_dispatch;
        b->svc = svc;
        b->extra = &rows[i];
        rc = (rows[i].flags & SRV_GRPC_PD_STREAM)
                 ? srv_grpc_add_stream_sync(s, rows[i].path, b, err)
                 : srv_grpc_add_unary_sync(s, rows[i].path, b, err);
    }
    return rc;
}

#define REQ(type) const type *rq = c->req
#define RESP(type) type *r = c->resp

/* ---- members, bootstrap, ids ----------------------------------------------------------- */

static int h_get_members(srv_grpc_pd_call *c)
{
    RESP(Pdpb__GetMembersResponse);
    Pdpb__Member *self = self_member(c->a, c->svc);
    r->n_members = 1;
    r->members = SRV_GRPC_NEWN(c->a, Pdpb__Member *, 1);
    r->members[0] = self;
    r->leader = self;
    r->etcd_leader = self;
    return NET_GRPC_OK;
}

static int h_is_bootstrapped(srv_grpc_pd_call *c)
{
    RESP(Pdpb__IsBootstrappedResponse);
    r->bootstrapped = pd_is_bootstrapped(c->svc->pd);
    return NET_GRPC_OK;
}

static void region_deinit(void *arg)
{
    pd_region_deinit(arg);
}

static int h_bootstrap(srv_grpc_pd_call *c)
{
    REQ(Pdpb__BootstrapRequest);
    pd_store store;
    pd_region *region = SRV_GRPC_NEW(c->a, pd_region);
    pd_region_init(region);
    srv_grpc_pd_defer_fn(c, region_deinit, region);
    c->rc = srv_grpc_store_from_pb(rq->store, &store, &c->err);
    if (c->rc == BS_OK)
        c->rc = srv_grpc_region_from_pb(rq->region, region, &c->err);
    if (c->rc == BS_OK)
        c->rc = pd_bootstrap(c->svc->pd, &store, region, &c->et, &c->err);
    else
        c->et = PD_ERR_UNKNOWN;
    return NET_GRPC_OK;
}

static int h_alloc_id(srv_grpc_pd_call *c)
{
    REQ(Pdpb__AllocIDRequest);
    RESP(Pdpb__AllocIDResponse);
    uint64_t last = 0;
    c->et = PD_ERR_UNKNOWN;
    c->rc = pd_alloc_id(c->svc->pd, rq->count, &last, &c->err);
    if (c->rc == BS_OK) {
        r->id = last;
        r->count = rq->count > 1 ? rq->count : 0; /* echoed only for a block */
    }
    return NET_GRPC_OK;
}

static int h_get_cluster_config(srv_grpc_pd_call *c)
{
    RESP(Pdpb__GetClusterConfigResponse);
    uint32_t max_peers = 0;
    c->rc = pd_get_cluster_config(c->svc->pd, &max_peers, &c->err);
    if (c->rc == BS_OK) {
        r->cluster = SRV_GRPC_NEW(c->a, Metapb__Cluster);
        metapb__cluster__init(r->cluster);
        r->cluster->id = pd_cluster_id(c->svc->pd);
        r->cluster->max_peer_count = max_peers;
    }
    return NET_GRPC_OK;
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

static int h_get_store(srv_grpc_pd_call *c)
{
    REQ(Pdpb__GetStoreRequest);
    RESP(Pdpb__GetStoreResponse);
    pd_store *st = SRV_GRPC_NEW(c->a, pd_store); /* the response borrows its strings */
    c->rc = pd_get_store(c->svc->pd, rq->store_id, st, &c->et, &c->err);
    if (c->rc == BS_OK) {
        r->store = srv_grpc_store_to_pb(c->a, st);
        r->stats = stats_to_pb(c->a, st->id, &st->stats);
    }
    return NET_GRPC_OK;
}

static int h_put_store(srv_grpc_pd_call *c)
{
    REQ(Pdpb__PutStoreRequest);
    pd_store st;
    c->et = PD_ERR_UNKNOWN;
    c->rc = srv_grpc_store_from_pb(rq->store, &st, &c->err);
    if (c->rc == BS_OK)
        c->rc = pd_put_store(c->svc->pd, &st, &c->et, &c->err);
    return NET_GRPC_OK;
}

static int h_get_all_stores(srv_grpc_pd_call *c)
{
    REQ(Pdpb__GetAllStoresRequest);
    RESP(Pdpb__GetAllStoresResponse);
    pd_store *stores = NULL;
    size_t n = 0;
    c->rc =
        pd_get_all_stores(c->svc->pd, rq->exclude_tombstone_stores, &stores, &n, &c->et, &c->err);
    if (c->rc == BS_OK) {
        srv_grpc_pd_defer_fn(c, bs_free, stores); /* the response borrows their strings */
        r->n_stores = n;
        r->stores = SRV_GRPC_NEWN(c->a, Metapb__Store *, n);
        for (size_t i = 0; i < n; i++)
            r->stores[i] = srv_grpc_store_to_pb(c->a, &stores[i]);
    }
    return NET_GRPC_OK;
}

static int h_store_heartbeat(srv_grpc_pd_call *c)
{
    REQ(Pdpb__StoreHeartbeatRequest);
    RESP(Pdpb__StoreHeartbeatResponse);
    if (!rq->stats) {
        /* PD returns this as a plain error, which grpc-go sends as UNKNOWN. */
        snprintf(c->msg, c->cap, "invalid store heartbeat command, stats are missing");
        return NET_GRPC_UNKNOWN;
    }
    pd_store_stats stats;
    stats_from_pb(rq->stats, &stats);
    pd_node_state ns = PD_NODE_SERVING;
    c->rc = pd_store_heartbeat(c->svc->pd, rq->stats->store_id, &stats, &ns, &c->et, &c->err);
    r->cluster_version = c->svc->cluster_version;
    if (c->rc == BS_OK)
        r->state = (Metapb__NodeState)ns;
    return NET_GRPC_OK;
}

/* ---- regions --------------------------------------------------------------------------- */

static void region_info_deinit(void *arg)
{
    pd_region_info_deinit(arg);
}

/* A GetRegionResponse from a lookup into *ri (BS_NOTFOUND: OK header, no region). */
static int region_reply(srv_grpc_pd_call *c, int rc, const pd_region_info *ri)
{
    RESP(Pdpb__GetRegionResponse);
    c->rc = rc == BS_NOTFOUND ? BS_OK : rc;
    if (rc == BS_OK)
        srv_grpc_pd_region_parts(c->a, ri, &r->region, &r->leader, &r->n_down_peers, &r->down_peers,
                                 &r->n_pending_peers, &r->pending_peers);
    return NET_GRPC_OK;
}

static pd_region_info *region_info_new(srv_grpc_pd_call *c)
{
    pd_region_info *ri = SRV_GRPC_NEW(c->a, pd_region_info); /* the response borrows it */
    pd_region_info_init(ri);
    srv_grpc_pd_defer_fn(c, region_info_deinit, ri);
    return ri;
}

static int h_get_region(srv_grpc_pd_call *c)
{
    REQ(Pdpb__GetRegionRequest);
    pd_region_info *ri = region_info_new(c);
    return region_reply(c, pd_get_region(c->svc->pd, srv_grpc_bytes(rq->region_key), ri, &c->err),
                        ri);
}

static int h_get_prev_region(srv_grpc_pd_call *c)
{
    REQ(Pdpb__GetRegionRequest);
    pd_region_info *ri = region_info_new(c);
    return region_reply(
        c, pd_get_prev_region(c->svc->pd, srv_grpc_bytes(rq->region_key), ri, &c->err), ri);
}

static int h_get_region_by_id(srv_grpc_pd_call *c)
{
    REQ(Pdpb__GetRegionByIDRequest);
    pd_region_info *ri = region_info_new(c);
    return region_reply(c, pd_get_region_by_id(c->svc->pd, rq->region_id, ri, &c->err), ri);
}

static void region_list_deinit(void *arg)
{
    pd_region_list_deinit(arg);
}

static int h_scan_regions(srv_grpc_pd_call *c)
{
    REQ(Pdpb__ScanRegionsRequest);
    RESP(Pdpb__ScanRegionsResponse);
    pd_region_list *l = SRV_GRPC_NEW(c->a, pd_region_list); /* the response borrows it */
    pd_region_list_init(l);
    srv_grpc_pd_defer_fn(c, region_list_deinit, l);
    c->rc = pd_scan_regions(c->svc->pd, srv_grpc_bytes(rq->start_key), srv_grpc_bytes(rq->end_key),
                            rq->limit, l, &c->err);
    if (c->rc != BS_OK)
        return NET_GRPC_OK;
    /* Both the old (region_metas + leaders) and the new (regions) form. */
    r->n_region_metas = r->n_leaders = r->n_regions = l->n;
    r->region_metas = SRV_GRPC_NEWN(c->a, Metapb__Region *, l->n);
    r->leaders = SRV_GRPC_NEWN(c->a, Metapb__Peer *, l->n);
    r->regions = SRV_GRPC_NEWN(c->a, Pdpb__Region *, l->n);
    for (size_t i = 0; i < l->n; i++) {
        Pdpb__Region *pr = SRV_GRPC_NEW(c->a, Pdpb__Region);
        pdpb__region__init(pr);
        srv_grpc_pd_region_parts(c->a, &l->v[i], &pr->region, &pr->leader, &pr->n_down_peers,
                                 &pr->down_peers, &pr->n_pending_peers, &pr->pending_peers);
        r->regions[i] = pr;
        r->region_metas[i] = pr->region;
        r->leaders[i] = pr->leader;
    }
    return NET_GRPC_OK;
}

static void split_ids_deinit(void *arg)
{
    pd_split_ids_deinit(arg);
}

static int h_ask_batch_split(srv_grpc_pd_call *c)
{
    REQ(Pdpb__AskBatchSplitRequest);
    RESP(Pdpb__AskBatchSplitResponse);
    pd_region *region = SRV_GRPC_NEW(c->a, pd_region);
    pd_region_init(region);
    srv_grpc_pd_defer_fn(c, region_deinit, region);
    pd_split_ids *ids = SRV_GRPC_NEW(c->a, pd_split_ids); /* the response borrows the peer ids */
    pd_split_ids_init(ids);
    srv_grpc_pd_defer_fn(c, split_ids_deinit, ids);
    c->et = PD_ERR_UNKNOWN;
    c->rc = srv_grpc_region_from_pb(rq->region, region, &c->err);
    if (c->rc == BS_OK)
        c->rc = pd_ask_batch_split(c->svc->pd, region, rq->split_count, ids, &c->et, &c->err);
    if (c->rc != BS_OK)
        return NET_GRPC_OK;
    r->n_ids = ids->count;
    r->ids = SRV_GRPC_NEWN(c->a, Pdpb__SplitID *, ids->count);
    for (size_t k = 0; k < ids->count; k++) {
        Pdpb__SplitID *sid = SRV_GRPC_NEW(c->a, Pdpb__SplitID);
        pdpb__split_id__init(sid);
        sid->new_region_id = ids->region_ids[k];
        sid->n_new_peer_ids = ids->peers_per_split;
        sid->new_peer_ids = &ids->peer_ids[k * ids->peers_per_split];
        r->ids[k] = sid;
    }
    return NET_GRPC_OK;
}

static int h_report_batch_split(srv_grpc_pd_call *c)
{
    REQ(Pdpb__ReportBatchSplitRequest);
    size_t n = rq->n_regions;
    pd_region *regions = SRV_GRPC_NEWN(c->a, pd_region, n);
    for (size_t i = 0; i < n; i++) {
        pd_region_init(&regions[i]);
        srv_grpc_pd_defer_fn(c, region_deinit, &regions[i]);
    }
    c->et = PD_ERR_UNKNOWN;
    for (size_t i = 0; i < n && c->rc == BS_OK; i++)
        c->rc = srv_grpc_region_from_pb(rq->regions[i], &regions[i], &c->err);
    if (c->rc == BS_OK)
        c->rc = pd_report_batch_split(c->svc->pd, regions, n, &c->et, &c->err);
    return NET_GRPC_OK;
}

/* ---- GC (but GetGCState: SRV_GRPC_PD_BOOTSTRAPPED rows, as PD answers them) ------------ */

static int h_get_gc_safe_point(srv_grpc_pd_call *c)
{
    RESP(Pdpb__GetGCSafePointResponse);
    r->safe_point = pd_get_gc_safe_point(c->svc->pd);
    return NET_GRPC_OK;
}

static int h_update_gc_safe_point(srv_grpc_pd_call *c)
{
    REQ(Pdpb__UpdateGCSafePointRequest);
    RESP(Pdpb__UpdateGCSafePointResponse);
    c->et = PD_ERR_UNKNOWN;
    c->rc = pd_update_gc_safe_point(c->svc->pd, rq->safe_point, &r->new_safe_point, &c->err);
    if (c->rc != BS_OK)
        r->new_safe_point = 0;
    return NET_GRPC_OK;
}

static int h_update_service_gc_safe_point(srv_grpc_pd_call *c)
{
    REQ(Pdpb__UpdateServiceGCSafePointRequest);
    RESP(Pdpb__UpdateServiceGCSafePointResponse);
    c->et = PD_ERR_UNKNOWN;
    c->rc = pd_update_service_gc_safe_point(c->svc->pd, srv_grpc_bytes(rq->service_id), rq->ttl,
                                            rq->safe_point, &r->min_safe_point, &c->err);
    if (c->rc != BS_OK) {
        r->min_safe_point = 0;
        return NET_GRPC_OK;
    }
    r->service_id = rq->service_id;
    r->ttl = rq->ttl;
    return NET_GRPC_OK;
}

static int h_get_gc_state(srv_grpc_pd_call *c)
{
    REQ(Pdpb__GetGCStateRequest);
    RESP(Pdpb__GetGCStateResponse);
    /* One safe point for the whole cluster: Basalt's PD advances it itself and has no
     * separate txn safe point or keyspace-level GC (gc_safe_point <= txn_safe_point holds
     * trivially). The scope is echoed, the null keyspace included. */
    Pdpb__GCState *gs = SRV_GRPC_NEW(c->a, Pdpb__GCState);
    pdpb__gcstate__init(gs);
    gs->keyspace_scope = SRV_GRPC_NEW(c->a, Pdpb__KeyspaceScope);
    pdpb__keyspace_scope__init(gs->keyspace_scope);
    if (rq->keyspace_scope)
        *gs->keyspace_scope = *rq->keyspace_scope;
    gs->txn_safe_point = gs->gc_safe_point = pd_get_gc_safe_point(c->svc->pd);
    r->gc_state = gs;
    return NET_GRPC_OK;
}

/* ---- the table ------------------------------------------------------------------------- */

static const srv_grpc_pd_method pd_unary[] = {
#define PDF(m, req, resp, flags, fn)                                                               \
    {                                                                                              \
        "/pdpb.PD/" m, &pdpb__##req##__descriptor, &pdpb__##resp##__descriptor, flags, fn          \
    }
#define PD(m, req, resp, fn) PDF(m, req, resp, 0, fn)
#define PD_GC(m, req, resp, fn) PDF(m, req, resp, SRV_GRPC_PD_BOOTSTRAPPED, fn)
    /* GetMembers skips the cluster id check: clients learn the id from it. */
    PDF("GetMembers", get_members_request, get_members_response, SRV_GRPC_PD_ANY_CLUSTER_ID,
        h_get_members),
    PD("IsBootstrapped", is_bootstrapped_request, is_bootstrapped_response, h_is_bootstrapped),
    PD("Bootstrap", bootstrap_request, bootstrap_response, h_bootstrap),
    PD("AllocID", alloc_idrequest, alloc_idresponse, h_alloc_id),
    PD("GetClusterConfig", get_cluster_config_request, get_cluster_config_response,
       h_get_cluster_config),
    PD("GetStore", get_store_request, get_store_response, h_get_store),
    PD("PutStore", put_store_request, put_store_response, h_put_store),
    PD("GetAllStores", get_all_stores_request, get_all_stores_response, h_get_all_stores),
    PD("StoreHeartbeat", store_heartbeat_request, store_heartbeat_response, h_store_heartbeat),
    PD("GetRegion", get_region_request, get_region_response, h_get_region),
    PD("GetPrevRegion", get_region_request, get_region_response, h_get_prev_region),
    PD("GetRegionByID", get_region_by_idrequest, get_region_response, h_get_region_by_id),
    PD("ScanRegions", scan_regions_request, scan_regions_response, h_scan_regions),
    PD("AskBatchSplit", ask_batch_split_request, ask_batch_split_response, h_ask_batch_split),
    PD("ReportBatchSplit", report_batch_split_request, report_batch_split_response,
       h_report_batch_split),
    PD_GC("GetGCSafePoint", get_gcsafe_point_request, get_gcsafe_point_response,
          h_get_gc_safe_point),
    PD_GC("UpdateGCSafePoint", update_gcsafe_point_request, update_gcsafe_point_response,
          h_update_gc_safe_point),
    PD_GC("UpdateServiceGCSafePoint", update_service_gcsafe_point_request,
          update_service_gcsafe_point_response, h_update_service_gc_safe_point),
    PD("GetGCState", get_gcstate_request, get_gcstate_response, h_get_gc_state),
#undef PD_GC
#undef PD
#undef PDF
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
    if (rc == BS_OK)
        rc = srv_grpc_pd_add_methods(svc, s, pd_unary, sizeof pd_unary / sizeof pd_unary[0], err);
    if (rc == BS_OK)
        rc = srv_grpc_pd_add_methods(svc, s, srv_grpc_pd_stream_methods,
                                     srv_grpc_pd_stream_method_count, err);
    if (rc == BS_OK)
        rc =
            srv_grpc_pd_add_methods(svc, s, srv_grpc_meta_methods, srv_grpc_meta_method_count, err);
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
