/* grpc_meta.c -- the small services clients expect next to pdpb.PD: keyspacepb.Keyspace,
 * the two etcd calls client-go makes against the PD address, and grpc.health.v1.Health.
 *
 * Keyspaces (PROTOCOL.md §1.2). Basalt has one keyspace registry entry: id 0, "DEFAULT",
 * ENABLED (the keyspace an API V2 client uses when given none). Any other name or id is
 * ENTRY_NOT_FOUND in the header, as PD answers for a keyspace it does not know.
 *
 * etcd (PROTOCOL.md §1.3). Real PD embeds etcd, and client-go reads the GC safe point from
 * it: KV/Range of "/tidb/store/gcworker/saved_safe_point" (or its per-keyspace twin
 * "/keyspaces/tidb/<id>/tidb/store/gcworker/saved_safe_point") whose value is the decimal
 * timestamp; no key means 0. Basalt's PD keeps one safe point, so both keys answer it.
 * Every other key reads as absent. Cluster/MemberList lists PD itself; client-go's etcd
 * client replaces its endpoints with the member's clientURLs, so they carry the scheme.
 *
 * Health: SERVING for "" and the services Basalt serves; NOT_FOUND for other names (grpc's
 * health service does the same), so a probe of an unknown service never looks healthy. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "etcdserverpb.pb-c.h"
#include "health.pb-c.h"
#include "keyspacepb.pb-c.h"
#include "mvccpb.pb-c.h"
#include "server/grpc_int.h"

#define SAFE_POINT_KEY "/tidb/store/gcworker/saved_safe_point"
#define KEYSPACE_KEY_PREFIX "/keyspaces/tidb/"
#define DEFAULT_KEYSPACE "DEFAULT"

#define REQ(type) const type *rq = c->req
#define RESP(type) type *r = c->resp

/* ---- keyspaces ------------------------------------------------------------------------- */

/* The DEFAULT keyspace when found, else ENTRY_NOT_FOUND naming what was asked for. */
static int keyspace_reply(srv_grpc_pd_call *c, bool found, const char *what)
{
    RESP(Keyspacepb__LoadKeyspaceResponse);
    if (!found) {
        c->et = PD_ERR_ENTRY_NOT_FOUND;
        c->rc = bs_err_setf(&c->err, BS_NOTFOUND, "keyspace %s does not exist", what);
        return NET_GRPC_OK;
    }
    Keyspacepb__KeyspaceMeta *meta = SRV_GRPC_NEW(c->a, Keyspacepb__KeyspaceMeta);
    keyspacepb__keyspace_meta__init(meta);
    meta->keyspace_case = KEYSPACEPB__KEYSPACE_META__KEYSPACE_ID;
    meta->id = 0; /* a oneof member: sent even though it is 0 */
    meta->name = (char *)DEFAULT_KEYSPACE;
    meta->state = KEYSPACEPB__KEYSPACE_STATE__ENABLED;
    r->keyspace = meta;
    return NET_GRPC_OK;
}

static int h_load_keyspace(srv_grpc_pd_call *c)
{
    REQ(Keyspacepb__LoadKeyspaceRequest);
    char what[80];
    snprintf(what, sizeof what, "\"%.64s\"", rq->name ? rq->name : "");
    return keyspace_reply(c, rq->name && strcmp(rq->name, DEFAULT_KEYSPACE) == 0, what);
}

static int h_load_keyspace_by_id(srv_grpc_pd_call *c)
{
    REQ(Keyspacepb__LoadKeyspaceByIDRequest);
    uint32_t id =
        rq->keyspace_case == KEYSPACEPB__LOAD_KEYSPACE_BY_IDREQUEST__KEYSPACE_ID ? rq->id : 0;
    char what[32];
    snprintf(what, sizeof what, "id %" PRIu32, id);
    return keyspace_reply(c, id == 0, what);
}

/* ---- etcd ------------------------------------------------------------------------------ */

static Etcdserverpb__ResponseHeader *etcd_header(srv_grpc_arena *a, const srv_grpc_pd *svc)
{
    Etcdserverpb__ResponseHeader *h = SRV_GRPC_NEW(a, Etcdserverpb__ResponseHeader);
    etcdserverpb__response_header__init(h);
    h->cluster_id = pd_cluster_id(svc->pd);
    h->member_id = svc->member_id;
    h->revision = 1;
    h->raft_term = 1;
    return h;
}

/* "/keyspaces/tidb/<decimal id>/tidb/store/gcworker/saved_safe_point". */
static bool is_keyspace_safe_point_key(bs_slice k)
{
    const size_t pl = strlen(KEYSPACE_KEY_PREFIX), sl = strlen(SAFE_POINT_KEY);
    if (k.len <= pl + sl || memcmp(k.ptr, KEYSPACE_KEY_PREFIX, pl) != 0 ||
        memcmp(k.ptr + k.len - sl, SAFE_POINT_KEY, sl) != 0)
        return false;
    size_t digits = k.len - pl - sl;
    if (digits > 10)
        return false;
    for (size_t i = 0; i < digits; i++)
        if (k.ptr[pl + i] < '0' || k.ptr[pl + i] > '9')
            return false;
    return true;
}

/* Does the request cover key? range_end empty: exactly key; "\0": every key >= key;
 * otherwise [key, range_end). */
static bool range_covers(const Etcdserverpb__RangeRequest *rq, bs_slice key)
{
    bs_slice lo = srv_grpc_bytes(rq->key), hi = srv_grpc_bytes(rq->range_end);
    if (hi.len == 0)
        return bs_slice_eq(lo, key);
    if (bs_slice_cmp(key, lo) < 0)
        return false;
    if (hi.len == 1 && hi.ptr[0] == 0)
        return true;
    return bs_slice_cmp(key, hi) < 0;
}

static int h_etcd_range(srv_grpc_pd_call *c)
{
    REQ(Etcdserverpb__RangeRequest);
    RESP(Etcdserverpb__RangeResponse);
    r->header = etcd_header(c->a, c->svc);
    bs_slice key = BS_SLICE_NULL;
    if (range_covers(rq, bs_slice_from_str(SAFE_POINT_KEY)))
        key = bs_slice_from_str(SAFE_POINT_KEY);
    else if (rq->range_end.len == 0 && is_keyspace_safe_point_key(srv_grpc_bytes(rq->key)))
        key = srv_grpc_bytes(rq->key);
    uint64_t sp = key.len ? pd_get_gc_safe_point(c->svc->pd) : 0;
    if (sp == 0) /* a safe point of 0 was never saved: no key, as etcd would answer */
        return NET_GRPC_OK;
    r->count = 1;
    if (rq->count_only)
        return NET_GRPC_OK;
    char val[24];
    int n = snprintf(val, sizeof val, "%" PRIu64, sp);
    Mvccpb__KeyValue *kv = SRV_GRPC_NEW(c->a, Mvccpb__KeyValue);
    mvccpb__key_value__init(kv);
    kv->key = srv_grpc_arena_bytes(c->a, key);
    kv->create_revision = 1;
    kv->mod_revision = 1;
    kv->version = 1;
    if (!rq->keys_only)
        kv->value = srv_grpc_arena_bytes(c->a, bs_slice_make(val, (size_t)n));
    r->n_kvs = 1;
    r->kvs = SRV_GRPC_NEWN(c->a, Mvccpb__KeyValue *, 1);
    r->kvs[0] = kv;
    return NET_GRPC_OK;
}

static int h_etcd_member_list(srv_grpc_pd_call *c)
{
    RESP(Etcdserverpb__MemberListResponse);
    char url[SRV_GRPC_URL_MAX];
    srv_grpc_pd_client_url(c->svc, url, sizeof url);
    char **urls = SRV_GRPC_NEWN(c->a, char *, 1);
    urls[0] = srv_grpc_arena_strdup(c->a, url);
    Etcdserverpb__Member *m = SRV_GRPC_NEW(c->a, Etcdserverpb__Member);
    etcdserverpb__member__init(m);
    m->id = c->svc->member_id;
    m->name = c->svc->name;
    m->n_peerurls = 1;
    m->peerurls = urls;
    m->n_clienturls = 1;
    m->clienturls = urls;
    m->islearner = false;
    r->header = etcd_header(c->a, c->svc);
    r->n_members = 1;
    r->members = SRV_GRPC_NEWN(c->a, Etcdserverpb__Member *, 1);
    r->members[0] = m;
    return NET_GRPC_OK;
}

/* Rows of grpc_pd.c's method table. The etcd calls carry etcd's header, not PD's: no
 * cluster id check, and the wrapper leaves their response header to them. */
const srv_grpc_pd_method srv_grpc_meta_methods[] = {
    {"/keyspacepb.Keyspace/LoadKeyspace", &keyspacepb__load_keyspace_request__descriptor,
     &keyspacepb__load_keyspace_response__descriptor, 0, h_load_keyspace},
    {"/keyspacepb.Keyspace/LoadKeyspaceByID", &keyspacepb__load_keyspace_by_idrequest__descriptor,
     &keyspacepb__load_keyspace_response__descriptor, 0, h_load_keyspace_by_id},
    {"/etcdserverpb.KV/Range", &etcdserverpb__range_request__descriptor,
     &etcdserverpb__range_response__descriptor, SRV_GRPC_PD_ANY_CLUSTER_ID, h_etcd_range},
    {"/etcdserverpb.Cluster/MemberList", &etcdserverpb__member_list_request__descriptor,
     &etcdserverpb__member_list_response__descriptor, SRV_GRPC_PD_ANY_CLUSTER_ID,
     h_etcd_member_list},
};

const size_t srv_grpc_meta_method_count =
    sizeof srv_grpc_meta_methods / sizeof srv_grpc_meta_methods[0];

/* ---- health ---------------------------------------------------------------------------- */

static const char *const served_services[] = {
    "pdpb.PD",     "keyspacepb.Keyspace",   "etcdserverpb.KV", "etcdserverpb.Cluster",
    "tikvpb.Tikv", "grpc.health.v1.Health",
};

static int h_health_check(const srv_grpc_binding *b, bs_slice req, bs_buf *resp, char *msg,
                          size_t cap)
{
    Grpc__Health__V1__HealthCheckRequest *rq =
        (Grpc__Health__V1__HealthCheckRequest *)srv_grpc_unpack(
            &grpc__health__v1__health_check_request__descriptor, req, msg, cap);
    if (!rq)
        return NET_GRPC_INTERNAL;
    bool known = !rq->service || !*rq->service;
    for (size_t i = 0; !known && i < sizeof served_services / sizeof served_services[0]; i++)
        known = strcmp(rq->service, served_services[i]) == 0;
    int st = NET_GRPC_OK;
    if (known) {
        Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
        r.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
        srv_grpc_pack(&r.base, resp);
    } else {
        snprintf(msg, cap, "unknown service");
        st = NET_GRPC_NOT_FOUND;
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
    return st;
}

/* Shared by every server: stateless, never freed. */
static srv_grpc_binding health_binding = {h_health_check, NULL, NULL, NULL};

int srv_grpc_health_register(net_server *s, bs_err *err)
{
    bs_err e2;
    bs_err_clear(&e2);
    int rc = srv_grpc_add_unary_sync(s, "/grpc.health.v1.Health/Check", &health_binding, &e2);
    if (rc == BS_EEXIST)
        return BS_OK; /* the other bundle registered it on this server already */
    if (rc != BS_OK && err)
        *err = e2;
    return rc;
}
