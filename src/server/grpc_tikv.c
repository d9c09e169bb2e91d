/* grpc_tikv.c -- tikvpb.Tikv over the local store: the life of one store request ("op"), the
 * checks TiKV applies before serving it, and how its outcome becomes a response.
 *
 * An op is one decoded request of one command (a row of srv_tikv_raw_cmds or srv_tikv_txn_cmds),
 * whether it came as
 * a unary call or inside BatchCommands. It ends exactly once in its sink (the unary call,
 * or the BatchCommands stream), on the loop thread of the call it came from:
 *
 *   srv_tikv_op_new      decode (a malformed message: gRPC INTERNAL, as grpc-go/grpcio answer)
 *   srv_tikv_op_start    Context.cluster_id (mismatch: gRPC INVALID_ARGUMENT), then def->run:
 *     run            API version / key mode / cf (TiKV's Storage::check_api_version*; an
 *                    error goes in the response's `error`), the Context against the Region
 *                    (srv_tikv_check_context, keys: srv_tikv_check_key_in_region; region_error),
 *                    then either
 *       srv_tikv_read    a lease read now, or a ReadIndex whose completion (raftstore thread)
 *                    posts the read back to the loop; or
 *       txn_raw_*    a write whose callback (any thread) copies the result and posts the
 *                    reply back to the loop (srv_tikv_write_done).
 *
 * Region errors (PROTOCOL.md §3.3) come from three places: the checks here (with the
 * Context's data), cluster/'s read check and ReadIndex (cluster_region_error), and a
 * write's asynchronous failure (only a code: the current Region is looked up again to fill
 * NotLeader's leader or EpochNotMatch's regions). Key-level raw errors use TiKV's texts
 * (src/storage/errors.rs, ErrorInner's Display) so a client shows what TiKV would. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/assert.h"
#include "common/codec.h"
#include "common/log.h"
#include "server/grpc_int.h"

#define API_V1 KVRPCPB__APIVERSION__V1
#define API_V2 KVRPCPB__APIVERSION__V2

const char *srv_tikv_api_version_name(int v)
{
    switch (v) {
    case KVRPCPB__APIVERSION__V1:
        return "V1";
    case KVRPCPB__APIVERSION__V1TTL:
        return "V1ttl"; /* kvproto's Rust spelling, as TiKV prints it */
    case KVRPCPB__APIVERSION__V2:
        return "V2";
    case KVRPCPB__APIVERSION__V3:
        return "V3";
    }
    return "Unknown";
}

/* ---- op lifecycle ---------------------------------------------------------------------- */

static Kvrpcpb__Context *context_of(ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(m->descriptor, 1);
    if (!fd || fd->type != PROTOBUF_C_TYPE_MESSAGE ||
        fd->descriptor != &kvrpcpb__context__descriptor)
        return NULL;
    return *(Kvrpcpb__Context **)((char *)m + fd->offset);
}

srv_tikv_op *srv_tikv_op_new(srv_grpc_tikv *svc, const srv_tikv_cmd_def *def, bs_slice req,
                             net_loop *loop, srv_tikv_sink_fn sink, void *sink_arg)
{
    srv_tikv_op *op = bs_calloc(1, sizeof(*op));
    op->svc = svc;
    op->def = def;
    op->loop = loop;
    op->sink = sink;
    op->sink_arg = sink_arg;
    pd_region_init(&op->region);
    atomic_fetch_add(&svc->ops_live, 1);
    op->req = srv_grpc_unpack(def->req_desc, req, op->status_msg, sizeof op->status_msg);
    if (!op->req)
        op->status = NET_GRPC_INTERNAL;
    else
        op->ctx = context_of(op->req);
    return op;
}

void srv_tikv_op_free(srv_tikv_op *op)
{
    if (!op)
        return;
    if (op->req)
        protobuf_c_message_free_unpacked(op->req, NULL);
    pd_region_deinit(&op->region);
    bs_buf_free(&op->resp);
    bs_buf_free(&op->cas_prev_value);
    atomic_fetch_sub(&op->svc->ops_live, 1);
    bs_free(op);
}

static void sink_on_loop(void *arg)
{
    srv_tikv_op *op = arg;
    op->sink(op);
}

/* Every reply ends here. Sinks touch the call (loop-thread only), so an op finished on a
 * pool thread goes back to its loop first. */
static void finish(srv_tikv_op *op)
{
    if (op->on_worker) {
        op->on_worker = false;
        srv_tikv_op_post(op, sink_on_loop);
        return;
    }
    op->sink(op);
}

void srv_tikv_op_start(srv_tikv_op *op)
{
    if (op->status != NET_GRPC_OK) {
        finish(op);
        return;
    }
    uint64_t mine = cluster_store_cluster_id(op->svc->store);
    if (op->ctx && op->ctx->cluster_id != 0 && op->ctx->cluster_id != mine) {
        char m[160];
        snprintf(m, sizeof m,
                 "cluster id mismatch: request cluster id %" PRIu64 ", store cluster id %" PRIu64,
                 op->ctx->cluster_id, mine);
        srv_tikv_op_refuse(op, NET_GRPC_INVALID_ARGUMENT, m);
        return;
    }
    op->def->run(op);
}

/* ---- replies --------------------------------------------------------------------------- */

void srv_tikv_op_reply(srv_tikv_op *op, const ProtobufCMessage *resp)
{
    bs_buf_reset(&op->resp);
    srv_grpc_pack(resp, &op->resp);
    finish(op);
}

void srv_tikv_op_reply_error(srv_tikv_op *op, const char *text)
{
    bs_buf_reset(&op->resp);
    uint32_t f = op->def->err_field;
    if (op->def->err_place == SRV_TIKV_ERR_STRING) {
        srv_grpc_wire_bytes(&op->resp, f, bs_slice_from_str(text)); /* error */
    } else {
        /* KeyError{abort}, alone or inside a KvPair (TiKV's extract_key_error for an error
         * that is not one of the typed key errors; extract_kv_pairs wraps it in a pair). */
        bs_buf ke = BS_BUF_INIT, kp = BS_BUF_INIT;
        srv_grpc_wire_bytes(&ke, 3, bs_slice_from_str(text)); /* KeyError.abort */
        if (op->def->err_place == SRV_TIKV_ERR_KVPAIR) {
            srv_grpc_wire_bytes(&kp, 1, bs_buf_slice(&ke)); /* KvPair.error */
            srv_grpc_wire_bytes(&op->resp, f, bs_buf_slice(&kp));
        } else {
            srv_grpc_wire_bytes(&op->resp, f, bs_buf_slice(&ke));
        }
        bs_buf_free(&ke);
        bs_buf_free(&kp);
    }
    finish(op);
}

void srv_tikv_op_reply_region_error(srv_tikv_op *op, const Errorpb__Error *e)
{
    bs_buf eb = BS_BUF_INIT;
    srv_grpc_pack(&e->base, &eb);
    bs_buf_reset(&op->resp);
    srv_grpc_wire_bytes(&op->resp, 1, bs_buf_slice(&eb)); /* region_error is field 1 everywhere */
    bs_buf_free(&eb);
    finish(op);
}

void srv_tikv_op_refuse(srv_tikv_op *op, int status, const char *msg)
{
    op->status = status;
    snprintf(op->status_msg, sizeof op->status_msg, "%s", msg ? msg : "");
    finish(op);
}

static void reply_rerr(srv_tikv_op *op, const cluster_region_error *e, const char *message)
{
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    srv_tikv_op_reply_region_error(op, srv_grpc_region_error_to_pb(&a, e, message));
    srv_grpc_arena_free(&a);
}

/* ---- API version, key mode, cf (TiKV Storage::check_api_version*) ----------------------- */

static int req_api(const srv_tikv_op *op)
{
    return op->ctx ? (int)op->ctx->api_version : API_V1;
}

static void hex_upper(bs_buf *out, bs_slice s)
{
    static const char hx[] = "0123456789ABCDEF";
    for (size_t i = 0; i < s.len; i++) {
        bs_buf_append_byte(out, (uint8_t)hx[s.ptr[i] >> 4]);
        bs_buf_append_byte(out, (uint8_t)hx[s.ptr[i] & 15]);
    }
}

static void reply_text(srv_tikv_op *op, bs_buf *text)
{
    bs_buf_append_byte(text, 0);
    srv_tikv_op_reply_error(op, (const char *)text->ptr);
    bs_buf_free(text);
}

static void reply_api_mismatch(srv_tikv_op *op)
{
    char m[256];
    snprintf(m, sizeof m,
             "Api version in request does not match with TiKV storage, cmd: %s, storage: V2, "
             "request: %s",
             op->def->cmd_kind, srv_tikv_api_version_name(req_api(op)));
    srv_tikv_op_reply_error(op, m);
}

/* The key mode a request of this command and API version must use (ApiV2::parse_key_mode's
 * values), or 0 when the API version is refused outright. A V2 store takes V2 raw
 * requests on 'r' keys, V2 txn requests on 'x' keys and, for TiDB, V1 txn requests on 'm'
 * and 't' keys (TiKV's Storage::check_api_version). */
enum { MODE_RAW = 1, MODE_TXN, MODE_TIDB };

static int wanted_mode(const srv_tikv_op *op)
{
    int api = req_api(op);
    if (api == API_V2)
        return op->def->txn ? MODE_TXN : MODE_RAW;
    if (api == API_V1 && op->def->txn)
        return MODE_TIDB;
    return 0;
}

static int key_mode(bs_slice k)
{
    if (k.len < KV_PREFIX_LEN)
        return 0;
    switch (k.ptr[0]) {
    case KV_MODE_RAW:
        return MODE_RAW;
    case KV_MODE_TXN:
        return MODE_TXN;
    case 'm':
    case 't':
        return MODE_TIDB;
    }
    return 0;
}

bool srv_tikv_check_keys(srv_tikv_op *op, const bs_slice *keys, size_t n)
{
    int want = wanted_mode(op);
    if (!want) {
        reply_api_mismatch(op);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (key_mode(keys[i]) == want)
            continue;
        bs_buf t = BS_BUF_INIT;
        char head[160];
        snprintf(head, sizeof head,
                 "Key mode mismatched with the request mode, cmd: %s, storage: V2, key: ",
                 op->def->cmd_kind);
        bs_buf_append(&t, head, strlen(head));
        hex_upper(&t, keys[i]);
        reply_text(op, &t);
        return false;
    }
    return true;
}

/* ApiV2::parse_range_mode: both bounds present, the same mode byte (or the end is the
 * single byte after it, "" .. "" of a mode); the mode is the start's. An empty bound is
 * None. */
static int range_mode(bs_slice s, bs_slice e)
{
    if (s.len == 0 || e.len == 0)
        return 0;
    if (!(s.ptr[0] == e.ptr[0] || (e.len == 1 && e.ptr[0] == (uint8_t)(s.ptr[0] + 1))))
        return 0;
    return key_mode(s);
}

static void debug_opt_hex(bs_buf *t, bs_slice k)
{
    if (k.len == 0) {
        bs_buf_append(t, "None", 4);
        return;
    }
    bs_buf_append(t, "Some(\"", 6);
    hex_upper(t, k);
    bs_buf_append(t, "\")", 2);
}

bool srv_tikv_check_ranges(srv_tikv_op *op, const bs_slice *starts, const bs_slice *ends, size_t n)
{
    int want = wanted_mode(op);
    if (!want) {
        reply_api_mismatch(op);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (range_mode(starts[i], ends[i]) == want)
            continue;
        bs_buf t = BS_BUF_INIT;
        char head[160];
        snprintf(head, sizeof head,
                 "Key mode mismatched with the request mode, cmd: %s, storage: V2, range: (",
                 op->def->cmd_kind);
        bs_buf_append(&t, head, strlen(head));
        debug_opt_hex(&t, starts[i]);
        bs_buf_append(&t, ", ", 2);
        debug_opt_hex(&t, ends[i]);
        bs_buf_append_byte(&t, ')');
        reply_text(op, &t);
        return false;
    }
    return true;
}

bool srv_tikv_check_cf(srv_tikv_op *op, const char *cf)
{
    if (!cf || !*cf || strcmp(cf, "default") == 0)
        return true;
    char m[160];
    snprintf(m, sizeof m, "cf is deprecated in API V2, cf name: %.100s", cf);
    srv_tikv_op_reply_error(op, m);
    return false;
}

/* ---- the Context against the Region ------------------------------------------------------ */

static const cluster_peer *peer_by_id(const cluster_region *r, uint64_t id)
{
    for (size_t i = 0; id && i < r->n_peers; i++)
        if (r->peers[i].id == id)
            return &r->peers[i];
    return NULL;
}

static const cluster_peer *peer_on_store(const cluster_region *r, uint64_t store_id)
{
    for (size_t i = 0; i < r->n_peers; i++)
        if (r->peers[i].store_id == store_id)
            return &r->peers[i];
    return NULL;
}

/* EpochNotMatch's current_regions: every Region that now covers what the request's Region
 * covered at the request's epoch, so a client refreshes its cache in one step, as TiKV
 * attaches the split's sibling. The store's own check with the request's epoch knows the
 * Regions a split carved out since (cluster/propose.c); when it cannot say (leadership
 * moved meanwhile, no epoch in the request), the current Region alone. */
static void epoch_regions(srv_tikv_op *op, const cluster_region *cur, cluster_region_error *e)
{
    const Kvrpcpb__Context *ctx = op->ctx;
    if (ctx && ctx->region_epoch) {
        cluster_epoch old = {.conf_ver = ctx->region_epoch->conf_ver,
                             .version = ctx->region_epoch->version};
        cluster_region_error chk;
        cluster_region_error_init(&chk);
        int rc = cluster_store_read_check(op->svc->store, cur->id, &old, BS_SLICE_NULL, &chk, NULL);
        if (rc != BS_OK && chk.kind == CLUSTER_RERR_EPOCH_NOT_MATCH && chk.n_regions > 0) {
            e->regions = chk.regions; /* moved */
            e->n_regions = chk.n_regions;
            chk.regions = NULL;
            chk.n_regions = 0;
            cluster_region_error_deinit(&chk);
            return;
        }
        cluster_region_error_deinit(&chk);
    }
    e->regions = bs_calloc(1, sizeof(cluster_region));
    pd_region_init(&e->regions[0]);
    pd_region_copy(&e->regions[0], cur);
    e->n_regions = 1;
}

/* A region error of kind k about op->region (refreshed from the store), with the data a
 * client needs: NotLeader's leader, EpochNotMatch's current region, KeyNotInRegion's
 * bounds. Used when only a code is known (a write's asynchronous failure, a ReadIndex). */
static void reply_kind_reason(srv_tikv_op *op, cluster_region_error_kind k, const char *message,
                              const char *reason)
{
    cluster_region_error e;
    cluster_region_error_init(&e);
    e.kind = k;
    e.region_id = op->region.id;
    cluster_region cur;
    pd_region_init(&cur);
    bool have = cluster_store_region_by_id(op->svc->store, op->region.id, &cur) == BS_OK;
    if (!have && (k == CLUSTER_RERR_EPOCH_NOT_MATCH || k == CLUSTER_RERR_NOT_LEADER))
        e.kind = k = CLUSTER_RERR_REGION_NOT_FOUND;
    if (k == CLUSTER_RERR_NOT_LEADER) {
        cluster_peer_status ps;
        if (cluster_store_peer_status(op->svc->store, cur.id, &ps) == BS_OK) {
            const cluster_peer *l = peer_by_id(&cur, ps.leader_peer_id);
            if (l && !ps.is_leader) {
                e.has_leader = true;
                e.leader = *l;
            }
        }
    } else if (k == CLUSTER_RERR_EPOCH_NOT_MATCH) {
        epoch_regions(op, &cur, &e);
    } else if (k == CLUSTER_RERR_KEY_NOT_IN_REGION && have) {
        bs_buf_set(&e.start_key, cur.start_key.ptr, cur.start_key.len);
        bs_buf_set(&e.end_key, cur.end_key.ptr, cur.end_key.len);
    } else if (k == CLUSTER_RERR_SERVER_IS_BUSY) {
        snprintf(e.reason, sizeof e.reason, "%s",
                 reason && *reason     ? reason
                 : message && *message ? message
                                       : "server is busy");
    }
    reply_rerr(op, &e, message);
    pd_region_deinit(&cur);
    cluster_region_error_deinit(&e);
}

static void reply_kind(srv_tikv_op *op, cluster_region_error_kind k, const char *message)
{
    reply_kind_reason(op, k, message, NULL);
}

bool srv_tikv_check_context(srv_tikv_op *op)
{
    cluster_store *st = op->svc->store;
    const Kvrpcpb__Context *ctx = op->ctx;
    uint64_t region_id = ctx ? ctx->region_id : 0, store_id = cluster_store_id(st);
    char m[200];

    /* StoreNotMatch. A request without a peer is let through: TiKV would refuse it, but
     * tools that only set region id and epoch are common and the other checks suffice. */
    if (ctx && ctx->peer && ctx->peer->store_id != store_id) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Errorpb__Error *e = SRV_GRPC_NEW(&a, Errorpb__Error);
        errorpb__error__init(e);
        snprintf(m, sizeof m, "store not match, request store id %" PRIu64 ", actual %" PRIu64,
                 ctx->peer->store_id, store_id);
        e->message = m;
        e->store_not_match = SRV_GRPC_NEW(&a, Errorpb__StoreNotMatch);
        errorpb__store_not_match__init(e->store_not_match);
        e->store_not_match->request_store_id = ctx->peer->store_id;
        e->store_not_match->actual_store_id = store_id;
        srv_tikv_op_reply_region_error(op, e);
        srv_grpc_arena_free(&a);
        return false;
    }
    if (cluster_store_region_by_id(st, region_id, &op->region) != BS_OK) {
        op->region.id = region_id;
        snprintf(m, sizeof m, "region %" PRIu64 " is not found", region_id);
        reply_kind(op, CLUSTER_RERR_REGION_NOT_FOUND, m);
        return false;
    }
    cluster_peer_status ps;
    if (cluster_store_peer_status(st, region_id, &ps) != BS_OK || !ps.is_leader) {
        snprintf(m, sizeof m, "peer is not leader for region %" PRIu64, region_id);
        reply_kind(op, CLUSTER_RERR_NOT_LEADER, m);
        return false;
    }
    const cluster_peer *mine = peer_on_store(&op->region, store_id);
    if (ctx && ctx->peer && mine && ctx->peer->id != mine->id) {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Errorpb__Error *e = SRV_GRPC_NEW(&a, Errorpb__Error);
        errorpb__error__init(e);
        snprintf(m, sizeof m, "mismatch peer id %" PRIu64 " != %" PRIu64, ctx->peer->id, mine->id);
        e->message = m;
        e->mismatch_peer_id = SRV_GRPC_NEW(&a, Errorpb__MismatchPeerId);
        errorpb__mismatch_peer_id__init(e->mismatch_peer_id);
        e->mismatch_peer_id->request_peer_id = ctx->peer->id;
        e->mismatch_peer_id->store_peer_id = mine->id;
        srv_tikv_op_reply_region_error(op, e);
        srv_grpc_arena_free(&a);
        return false;
    }
    /* TiKV's check_term: a request from an older term than current - 1 is stale. */
    if (ctx && ctx->term != 0 && ps.term > ctx->term + 1) {
        snprintf(m, sizeof m, "stale command: request term %" PRIu64 ", current term %" PRIu64,
                 ctx->term, ps.term);
        reply_kind(op, CLUSTER_RERR_STALE_COMMAND, m);
        return false;
    }
    /* Normal reads and writes compare the version only (TiKV's check_region_epoch). */
    uint64_t ver = ctx && ctx->region_epoch ? ctx->region_epoch->version : 0;
    if (ver != op->region.epoch.version) {
        snprintf(m, sizeof m,
                 "epoch not match: request version %" PRIu64 ", current version %" PRIu64, ver,
                 op->region.epoch.version);
        reply_kind(op, CLUSTER_RERR_EPOCH_NOT_MATCH, m);
        return false;
    }
    return true;
}

bool srv_tikv_check_key_in_region(srv_tikv_op *op, bs_slice key, bool inclusive)
{
    bs_buf rk = BS_BUF_INIT;
    kv_region_key_append(&rk, key);
    bs_slice k = bs_buf_slice(&rk), s = bs_buf_slice(&op->region.start_key),
             e = bs_buf_slice(&op->region.end_key);
    bool ok = bs_slice_cmp(k, s) >= 0 &&
              (e.len == 0 || (inclusive ? bs_slice_cmp(k, e) <= 0 : bs_slice_cmp(k, e) < 0));
    if (!ok) {
        cluster_region_error er;
        cluster_region_error_init(&er);
        er.kind = CLUSTER_RERR_KEY_NOT_IN_REGION;
        er.region_id = op->region.id;
        bs_buf_set(&er.key, k.ptr, k.len);
        bs_buf_set(&er.start_key, s.ptr, s.len);
        bs_buf_set(&er.end_key, e.ptr, e.len);
        char m[96];
        snprintf(m, sizeof m, "key is not in region %" PRIu64, op->region.id);
        reply_rerr(op, &er, m);
        cluster_region_error_deinit(&er);
    }
    bs_buf_free(&rk);
    return ok;
}

bool srv_tikv_check_keys_in_region(srv_tikv_op *op, const bs_slice *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!srv_tikv_check_key_in_region(op, keys[i], false))
            return false;
    return true;
}

bs_slice *srv_tikv_slices_of(const ProtobufCBinaryData *v, size_t n)
{
    bs_slice *s = bs_calloc(n ? n : 1, sizeof(bs_slice));
    for (size_t i = 0; i < n; i++)
        s[i] = srv_grpc_bytes(v[i]);
    return s;
}

bs_slice srv_tikv_min_end(bs_slice a, bs_slice b)
{
    if (a.len == 0)
        return b;
    if (b.len == 0)
        return a;
    return bs_slice_cmp(a, b) <= 0 ? a : b;
}

int srv_tikv_region_raw_bounds(srv_tikv_op *op, bs_buf *start, bs_buf *end)
{
    bs_buf_reset(start);
    bs_buf_reset(end);
    bs_slice s = bs_buf_slice(&op->region.start_key), e = bs_buf_slice(&op->region.end_key);
    if ((s.len && bs_mce_read(&s, start) != BS_OK) || (e.len && bs_mce_read(&e, end) != BS_OK)) {
        char m[96];
        snprintf(m, sizeof m, "region %" PRIu64 " has a bound that is not memcomparable",
                 op->region.id);
        srv_tikv_op_reply_error(op, m);
        return BS_ECORRUPT;
    }
    return BS_OK;
}

/* ---- errors from cluster/ and txn/ ------------------------------------------------------ */

/* The region error kind a code from a proposal or ReadIndex stands for (NONE: not one). */
static cluster_region_error_kind kind_of_code(int code)
{
    switch (code) {
    case BS_ENOT_LEADER:
        return CLUSTER_RERR_NOT_LEADER;
    case BS_NOTFOUND:
        return CLUSTER_RERR_REGION_NOT_FOUND;
    case BS_ERANGE:
        return CLUSTER_RERR_KEY_NOT_IN_REGION;
    case BS_ESTATE:
        return CLUSTER_RERR_EPOCH_NOT_MATCH;
    case BS_EBUSY:
        return CLUSTER_RERR_SERVER_IS_BUSY;
    case BS_EPROPOSAL_DROPPED:
        return CLUSTER_RERR_STALE_COMMAND;
    case BS_ETOOLARGE:
        return CLUSTER_RERR_RAFT_ENTRY_TOO_LARGE;
    }
    return CLUSTER_RERR_NONE;
}

static void reply_max_ts_not_synced(srv_tikv_op *op, const char *message)
{
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    Errorpb__Error *e = SRV_GRPC_NEW(&a, Errorpb__Error);
    errorpb__error__init(e);
    e->message = srv_grpc_arena_strdup(&a, message);
    e->max_timestamp_not_synced = SRV_GRPC_NEW(&a, Errorpb__MaxTimestampNotSynced);
    errorpb__max_timestamp_not_synced__init(e->max_timestamp_not_synced);
    srv_tikv_op_reply_region_error(op, e);
    srv_grpc_arena_free(&a);
}

void srv_tikv_reply_txn_error(srv_tikv_op *op, const txn_error *e)
{
    switch (e->kind) {
    case TXN_ERR_TS_NOT_READY:
        reply_max_ts_not_synced(op, e->msg);
        return;
    case TXN_ERR_KEY_BEING_WRITTEN:
        /* A Kv read at a ts above a write that is proposed but not applied yet: wait for
         * the apply (raw reads use read_ts 0 and never see this). */
        if (op->reading) {
            srv_tikv_read_retry_later(op);
            return;
        }
        reply_kind(op, CLUSTER_RERR_SERVER_IS_BUSY, e->msg);
        return;
    case TXN_ERR_KEY_IS_LOCKED:
        /* A live transaction's Percolator lock on the key: nothing was done. ServerIsBusy
         * makes the client back off and retry; the message keeps the lock's details. */
        reply_kind_reason(op, CLUSTER_RERR_SERVER_IS_BUSY, e->msg,
                          txn_error_kind_text(TXN_ERR_KEY_IS_LOCKED));
        return;
    case TXN_ERR_PROPOSAL_FAILED:
    case TXN_ERR_CHAIN_BROKEN: {
        /* A chained write fails with the code of the write it followed: a region error
         * there means neither applied (retry as is); a dropped proposal is StaleCommand. */
        cluster_region_error_kind k = kind_of_code(e->code);
        if (k == CLUSTER_RERR_NONE && e->kind == TXN_ERR_CHAIN_BROKEN)
            k = CLUSTER_RERR_STALE_COMMAND;
        if (k != CLUSTER_RERR_NONE) {
            reply_kind(op, k, e->msg);
            return;
        }
        break;
    }
    default:
        /* Any other "busy" (a live transaction's lock on a raw key, ...): nothing was done,
         * the client backs off and retries, as TiKV's ServerIsBusy asks. */
        if (e->code == BS_EBUSY) {
            reply_kind(op, CLUSTER_RERR_SERVER_IS_BUSY, e->msg);
            return;
        }
        break;
    }
    srv_tikv_op_reply_error(op, e->msg[0] ? e->msg : txn_error_kind_text(e->kind));
}

/* ---- posting back to the loop ------------------------------------------------------------ */

void srv_tikv_op_post(srv_tikv_op *op, net_fn fn)
{
    if (net_loop_post(op->loop, fn, op) == BS_OK)
        return;
    /* The loop is stopping (shutdown): only its owner may finish the call now, which
     * srv_grpc_tikv_free does. */
    srv_grpc_tikv *svc = op->svc;
    pthread_mutex_lock(&svc->orphan_mu);
    op->orphan_next = svc->orphans;
    svc->orphans = op;
    pthread_mutex_unlock(&svc->orphan_mu);
}

/* ---- reads ------------------------------------------------------------------------------- */

static void serve_read(srv_tikv_op *op);

static void read_index_resume(void *arg)
{
    srv_tikv_op *op = arg;
    if (op->async_code == BS_OK) {
        serve_read(op);
        return;
    }
    cluster_region_error_kind k = kind_of_code(op->async_code);
    if (k == CLUSTER_RERR_NONE || k == CLUSTER_RERR_SERVER_IS_BUSY)
        k = CLUSTER_RERR_STALE_COMMAND; /* the read index did not complete: retry */
    reply_kind(op, k, op->async_msg);
}

static void read_index_done(void *arg, int code, const bs_err *err)
{
    srv_tikv_op *op = arg;
    op->async_code = code;
    snprintf(op->async_msg, sizeof op->async_msg, "%s", code != BS_OK && err ? err->msg : "");
    srv_tikv_op_post(op, read_index_resume);
}

#define MAX_BUSY_RETRIES 2000

static void timer_fire(void *arg)
{
    srv_tikv_timer *tt = arg;
    srv_grpc_tikv *svc = tt->svc;
    if (tt->prev)
        tt->prev->next = tt->next;
    else
        svc->timers = tt->next;
    if (tt->next)
        tt->next->prev = tt->prev;
    net_timer_free(tt->t);
    void (*fire)(void *) = tt->fire;
    void *farg = tt->arg;
    bs_free(tt);
    fire(farg);
}

void srv_tikv_timer_start(srv_grpc_tikv *svc, net_loop *loop, int64_t delay_ms,
                          void (*fire)(void *arg), void (*drop)(void *arg), void *arg)
{
    srv_tikv_timer *tt = bs_calloc(1, sizeof(*tt));
    tt->svc = svc;
    tt->fire = fire;
    tt->drop = drop;
    tt->arg = arg;
    tt->next = svc->timers;
    if (svc->timers)
        svc->timers->prev = tt;
    svc->timers = tt;
    tt->t = net_timer_new(loop, timer_fire, tt);
    net_timer_arm(tt->t, delay_ms);
}

static void retry_fire(void *arg)
{
    srv_tikv_op *op = arg;
    srv_tikv_read(op, op->cont); /* the Region may have changed meanwhile: check again */
}

static void retry_drop(void *arg)
{
    srv_tikv_op_free(arg); /* shutdown: its call is gone with the server */
}

static void retry_arm(void *arg)
{
    srv_tikv_op *op = arg;
    if (++op->busy_retries > MAX_BUSY_RETRIES) {
        reply_kind(op, CLUSTER_RERR_SERVER_IS_BUSY, "key is being written");
        return;
    }
    srv_tikv_timer_start(op->svc, op->loop, op->busy_retries < 20 ? 1 : 5, retry_fire, retry_drop,
                         op);
}

void srv_tikv_read_retry_later(srv_tikv_op *op)
{
    if (op->on_worker) { /* timers are the loop's */
        op->on_worker = false;
        srv_tikv_op_post(op, retry_arm);
        return;
    }
    retry_arm(op);
}

/* ---- long requests on the pool ------------------------------------------------------------ */

static void offload_run(void *arg)
{
    srv_tikv_op *op = arg;
    op->on_worker = true;
    op->cont(op); /* op may be gone once this returns */
}

static void offload_drop(void *arg)
{
    srv_tikv_op *op = arg; /* never started: the service is stopping */
    op->status = NET_GRPC_CANCELLED;
    snprintf(op->status_msg, sizeof op->status_msg, "server shutting down");
    srv_tikv_op_post(op, sink_on_loop);
}

/* The command's response has errorpb.Error region_error at field 1 (all but the
 * store-level calls). */
static bool has_region_error(const srv_tikv_cmd_def *def)
{
    const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(def->resp_desc, 1);
    return fd && fd->type == PROTOBUF_C_TYPE_MESSAGE &&
           fd->descriptor == &errorpb__error__descriptor;
}

void srv_tikv_offload(srv_tikv_op *op, void (*fn)(srv_tikv_op *op))
{
    op->cont = fn;
    int rc = srv_grpc_pool_submit(op->svc->pool, offload_run, offload_drop, op);
    if (rc == BS_EBUSY && !has_region_error(op->def)) {
        /* GetStoreSafeTS: its all-default answer (safe ts 0) is the honest "not now" */
        bs_buf_reset(&op->resp);
        finish(op);
    } else if (rc == BS_EBUSY) {
        reply_kind_reason(op, CLUSTER_RERR_SERVER_IS_BUSY, "too many long requests queued",
                          "store read pool is full");
    } else if (rc != BS_OK)
        srv_tikv_op_refuse(op, NET_GRPC_CANCELLED, "server shutting down");
}

/* A read whose Region check passed: here, or on the pool when it may take long. */
static void serve_read(srv_tikv_op *op)
{
    if (op->offload)
        srv_tikv_offload(op, op->cont);
    else
        op->cont(op);
}

void srv_tikv_read(srv_tikv_op *op, void (*read)(srv_tikv_op *op))
{
    op->reading = true;
    op->cont = read;
    cluster_region_error rerr;
    cluster_region_error_init(&rerr);
    bs_err err;
    bs_err_clear(&err);
    int rc = cluster_store_read_check(op->svc->store, op->region.id, &op->region.epoch,
                                      BS_SLICE_NULL, &rerr, &err);
    if (rc == BS_OK) {
        cluster_region_error_deinit(&rerr);
        serve_read(op);
        return;
    }
    if (rc == BS_EBUSY && rerr.kind == CLUSTER_RERR_NONE) {
        /* Leader without a valid lease: confirm leadership with a ReadIndex first. */
        rc = cluster_store_read_index(op->svc->store, op->region.id, &op->region.epoch,
                                      read_index_done, op, &rerr, &err);
        if (rc == BS_OK) {
            cluster_region_error_deinit(&rerr);
            return;
        }
    }
    if (rerr.kind != CLUSTER_RERR_NONE)
        reply_rerr(op, &rerr, err.msg);
    else
        reply_kind(op, CLUSTER_RERR_STALE_COMMAND, err.msg);
    cluster_region_error_deinit(&rerr);
}

/* ---- writes ------------------------------------------------------------------------------ */

static void write_resume(void *arg)
{
    srv_tikv_op *op = arg;
    if (op->async_code == BS_OK) {
        op->cont(op);
        return;
    }
    txn_error e;
    e.code = op->async_code;
    e.kind = op->txn_kind;
    snprintf(e.msg, sizeof e.msg, "%s", op->async_msg);
    srv_tikv_reply_txn_error(op, &e);
}

void srv_tikv_write_done(void *arg, const txn_result *res)
{
    srv_tikv_op *op = arg;
    op->async_code = res->code;
    op->txn_kind = res->error.kind;
    snprintf(op->async_msg, sizeof op->async_msg, "%s", res->code != BS_OK ? res->error.msg : "");
    op->cas_succeed = res->succeed;
    op->cas_prev_not_exist = res->previous_not_exist;
    bs_buf_set(&op->cas_prev_value, res->previous_value.ptr, res->previous_value.len);
    srv_tikv_op_post(op, write_resume);
}

/* ---- unary calls ------------------------------------------------------------------------ */

static void unary_sink(srv_tikv_op *op)
{
    net_call *call = op->sink_arg;
    if (op->status == NET_GRPC_OK) {
        (void)net_call_send(call, op->resp.ptr, op->resp.len); /* BS_ESTATE: peer left */
        net_call_finish(call, NET_GRPC_OK, NULL);
    } else {
        net_call_finish(call, op->status, op->status_msg);
    }
    srv_tikv_op_free(op);
}

static void unary_handler(srv_grpc_binding *b, net_call *call, bs_slice req)
{
    srv_tikv_op *op = srv_tikv_op_new(b->svc, b->extra, req, net_call_loop(call), unary_sink, call);
    srv_tikv_op_start(op);
}

/* ---- registration ------------------------------------------------------------------------ */

void srv_grpc_tikv_options_init(srv_grpc_tikv_options *o)
{
    memset(o, 0, sizeof(*o));
    o->max_key_size = 8192;
}

int srv_grpc_tikv_register(net_server *s, cluster_store *st, txn_store *txn,
                           const srv_grpc_tikv_options *opts, srv_grpc_tikv **out, bs_err *err)
{
    srv_grpc_tikv *svc = bs_calloc(1, sizeof(*svc));
    svc->server = s;
    svc->store = st;
    svc->txn = txn;
    srv_grpc_tikv_options_init(&svc->opts);
    if (opts)
        svc->opts = *opts;
    if (svc->opts.max_key_size == 0)
        svc->opts.max_key_size = 8192;
    atomic_init(&svc->ops_live, 0);
    if (svc->opts.worker_threads == 0)
        svc->opts.worker_threads = 2;
    atomic_init(&svc->safe_ts_floor, 0);
    pthread_mutex_init(&svc->orphan_mu, NULL);
    svc->bindings = bs_calloc(srv_tikv_cmd_count(), sizeof(srv_grpc_binding));
    *out = svc; /* on failure too: registered methods point at it (see srv_grpc.h) */
    int rc = srv_grpc_pool_new("tikv-read", svc->opts.worker_threads, 64 * svc->opts.worker_threads,
                               &svc->pool, err);
    for (size_t i = 0; rc == BS_OK && i < srv_tikv_cmd_count(); i++) {
        srv_grpc_binding *b = &svc->bindings[svc->n_bindings++];
        b->async = unary_handler;
        b->svc = svc;
        b->extra = srv_tikv_cmd_at(i);
        char path[96];
        snprintf(path, sizeof path, "/tikvpb.Tikv/%s", srv_tikv_cmd_at(i)->method);
        rc = srv_grpc_add_unary_async(s, path, b, err);
    }
    if (rc == BS_OK)
        rc = srv_tikv_batch_register(svc, s, err);
    if (rc == BS_OK)
        rc = srv_grpc_health_register(s, err);
    return rc;
}

void srv_grpc_tikv_stop(srv_grpc_tikv *svc)
{
    if (svc)
        srv_grpc_pool_stop(svc->pool);
}

void srv_grpc_tikv_free(srv_grpc_tikv *svc)
{
    if (!svc)
        return;
    /* Normally stopped already, before the store closed; a no-op then. */
    srv_grpc_tikv_stop(svc);
    /* The loop has stopped: what waits on it never runs. Finish the unary calls of ops that
     * completed too late (the owner of a stopped loop counts as its thread), drop the
     * timers, then the streams. */
    for (srv_tikv_op *op = svc->orphans, *next; op; op = next) {
        next = op->orphan_next;
        if (op->sink == unary_sink)
            net_call_finish(op->sink_arg, NET_GRPC_CANCELLED, "server shutting down");
        srv_tikv_op_free(op);
    }
    svc->orphans = NULL;
    while (svc->timers) {
        srv_tikv_timer *tt = svc->timers;
        svc->timers = tt->next;
        net_timer_free(tt->t);
        tt->drop(tt->arg);
        bs_free(tt);
    }
    srv_tikv_batch_drop_all(svc);
    pthread_mutex_destroy(&svc->orphan_mu);
    int64_t live = atomic_load(&svc->ops_live);
    if (live != 0)
        BS_LOG_WARN("gRPC store service freed with requests in flight", "ops=%lld",
                    (long long)live);
    srv_grpc_pool_free(svc->pool);
    bs_free(svc->bindings);
    bs_free(svc);
}
