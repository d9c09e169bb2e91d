/* grpc_bench.c -- RawPut and RawGet against a running basalt-server over its native TiKV
 * gRPC port, driven the way client-go drives a store, on src/net's gRPC client:
 *   - routing from PD: GetMembers for the cluster id, GetRegion(memcomparable key) for the
 *     Region, its epoch and leader, GetStore for the store's address (unless --store);
 *     every request carries that kvrpcpb.Context (API v2, keyspace 0);
 *   - "unary": one HTTP/2 stream per request (tikvpb.Tikv/RawPut, /RawGet);
 *   - "batch": one BatchCommands stream; the requests that become due while a response
 *     message is handled leave together in one BatchCommandsRequest, as client-go's batch
 *     loop sends whatever is pending.
 * A closed loop keeps --inflight requests outstanding until --requests have completed.
 * A region error (a split moved the key, the epoch changed) drops the cached Region,
 * fetches it again from PD and resends, as client-go does; the latency of a request counts
 * from its first send to its final answer.
 *
 *   grpc_bench --pd HOST:PORT [--store HOST:PORT] [--mode unary|batch|both]
 *              [--op put|get|both] [--requests N] [--inflight N] [--value-size N]
 *              [--keyspace N] [--prefix STR]
 *
 * Prints one line per phase:
 *   grpc mode=batch op=put requests=N inflight=64 ops_per_sec=X p50_ms=X p99_ms=X errors=N
 *        retries=N misses=N
 * and exits 1 when a phase could not run (connection refused, a stream that failed, the
 * phase bound of 10 minutes passed). Request errors (a non-empty `error`) are counted, not
 * fatal; GET misses count keys that were not found (run a put phase first). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/codec.h"
#include "net/net.h"
#include "storage/kv.h"

#include "kvrpcpb.pb-c.h"
#include "pdpb.pb-c.h"
#include "tikvpb.pb-c.h"

#define CALL_TIMEOUT_MS 30000
#define PHASE_BOUND_S 600
#define MAX_TRIES 20
#define MAX_INFLIGHT 4096

enum { OP_PUT, OP_GET };
enum { MODE_UNARY, MODE_BATCH };

typedef struct region {
    uint64_t id, conf_ver, version, peer_id, store_id;
    bs_buf start, end; /* memcomparable; empty end = +inf */
} region;

typedef struct slot {
    uint64_t seq;   /* request number of the phase */
    uint64_t id;    /* BatchCommands request id of its current send */
    int64_t t0;     /* first send, ns */
    int tries;
    bool busy;
    struct slot *next_wait; /* in bench.wait_route */
} slot;

typedef struct bench {
    /* fixed by the options and the setup; read-only once a phase runs */
    net_loop *loop;
    net_client *pd, *kv;
    uint64_t cluster_id;
    int inflight;
    uint64_t keyspace;
    size_t value_size;
    const char *prefix;
    uint8_t *value;

    /* phase state: loop thread only, then read by main after `finished` */
    int next_op, next_mode; /* written by main before it posts phase_start */
    uint64_t next_total;
    uint64_t phase; /* counts phases; a unary call of an older phase is ignored */
    int op, mode;
    uint64_t total, issued, done, errors, retries, misses;
    uint32_t *lat_us; /* total entries */
    slot slots[MAX_INFLIGHT];
    uint64_t next_id;
    region *regions;
    size_t n_regions;
    slot *wait_route; /* slots waiting for a Region from PD */
    bool routing;     /* a GetRegion is in flight */
    net_ccall *stream;
    bs_buf pending; /* encoded `requests` fields of the next BatchCommandsRequest */
    bs_buf pending_ids;
    char fatal[256];

    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool finished; /* guarded by mu */
} bench;

/* One unary call: its slot may be reused by the next request before this call's
 * on_finish runs, so the call keeps its own record of whether it was answered. */
typedef struct ucall {
    bench *b;
    slot *s;
    uint64_t phase;
    bool answered;
} ucall;

static void die(const char *fmt, const char *a)
{
    fprintf(stderr, "grpc_bench: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n");
    exit(1);
}

/* ---- keys and routing ---------------------------------------------------------------- */

static void user_key(const bench *b, uint64_t seq, bs_buf *out)
{
    char u[96];
    int n = snprintf(u, sizeof u, "%s%010llu", b->prefix, (unsigned long long)(seq % b->keyspace));
    bs_buf_reset(out);
    kv_key_v2_append(out, KV_MODE_RAW, 0, bs_slice_make(u, (size_t)n));
}

static bool region_covers(const region *r, bs_slice mk)
{
    if (bs_slice_cmp(mk, bs_buf_slice(&r->start)) < 0)
        return false;
    return r->end.len == 0 || bs_slice_cmp(mk, bs_buf_slice(&r->end)) < 0;
}

static region *lookup(bench *b, bs_slice key)
{
    bs_buf mk = BS_BUF_INIT;
    bs_mce_append(&mk, key);
    region *found = NULL;
    for (size_t i = 0; i < b->n_regions && !found; i++)
        if (region_covers(&b->regions[i], bs_buf_slice(&mk)))
            found = &b->regions[i];
    bs_buf_free(&mk);
    return found;
}

static void region_drop(bench *b, size_t i)
{
    bs_buf_free(&b->regions[i].start);
    bs_buf_free(&b->regions[i].end);
    b->regions[i] = b->regions[--b->n_regions];
}

static void region_drop_id(bench *b, uint64_t id)
{
    for (size_t i = 0; i < b->n_regions; i++)
        if (b->regions[i].id == id) {
            region_drop(b, i);
            return;
        }
}

/* Adds a Region from a GetRegionResponse; cached Regions it overlaps are stale. Returns
 * false (with b->fatal set) when the response has no usable Region. */
static bool region_add(bench *b, const Pdpb__GetRegionResponse *r)
{
    if (r->header && r->header->error) {
        snprintf(b->fatal, sizeof b->fatal, "GetRegion: PD error %s", r->header->error->message);
        return false;
    }
    if (!r->region || !r->leader || !r->region->region_epoch) {
        snprintf(b->fatal, sizeof b->fatal, "GetRegion: no region or leader in the response");
        return false;
    }
    const Metapb__Region *m = r->region;
    bs_slice s = bs_slice_make(m->start_key.data, m->start_key.len);
    bs_slice e = bs_slice_make(m->end_key.data, m->end_key.len);
    for (size_t i = 0; i < b->n_regions;) {
        region *c = &b->regions[i];
        bool before = e.len && bs_slice_cmp(bs_buf_slice(&c->start), e) >= 0;
        bool after = c->end.len && bs_slice_cmp(bs_buf_slice(&c->end), s) <= 0;
        if (!before && !after)
            region_drop(b, i);
        else
            i++;
    }
    b->regions = realloc(b->regions, (b->n_regions + 1) * sizeof *b->regions);
    if (!b->regions)
        abort();
    region *n = &b->regions[b->n_regions++];
    memset(n, 0, sizeof *n);
    n->id = m->id;
    n->conf_ver = m->region_epoch->conf_ver;
    n->version = m->region_epoch->version;
    n->peer_id = r->leader->id;
    n->store_id = r->leader->store_id;
    bs_buf_set(&n->start, s.ptr, s.len);
    bs_buf_set(&n->end, e.ptr, e.len);
    return true;
}

static void get_region_request(const bench *b, bs_slice key, bs_buf *out)
{
    bs_buf mk = BS_BUF_INIT;
    bs_mce_append(&mk, key);
    Pdpb__RequestHeader h = PDPB__REQUEST_HEADER__INIT;
    h.cluster_id = b->cluster_id;
    Pdpb__GetRegionRequest rq = PDPB__GET_REGION_REQUEST__INIT;
    rq.header = &h;
    rq.region_key.data = mk.ptr;
    rq.region_key.len = mk.len;
    bs_buf_reset(out);
    bs_buf_reserve(out, protobuf_c_message_get_packed_size(&rq.base));
    out->len = protobuf_c_message_pack(&rq.base, out->ptr);
    bs_buf_free(&mk);
}

/* ---- one phase, on the loop thread ------------------------------------------------------ */

static void phase_end(bench *b)
{
    pthread_mutex_lock(&b->mu);
    b->finished = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void fail(bench *b, const char *what, const char *detail)
{
    if (b->fatal[0] == 0)
        snprintf(b->fatal, sizeof b->fatal, "%s: %s", what, detail);
    if (b->stream) {
        net_ccall *s = b->stream;
        b->stream = NULL;
        net_ccall_cancel(s);
    }
    phase_end(b);
}

static bool phase_over(const bench *b)
{
    return b->fatal[0] != 0 || b->done == b->total;
}

static void send(bench *b, slot *s);
static void issue(bench *b, slot *s);

static void flush_batch(bench *b)
{
    if (b->mode != MODE_BATCH || b->pending.len == 0 || !b->stream)
        return;
    bs_buf m = BS_BUF_INIT;
    bs_buf_append_slice(&m, bs_buf_slice(&b->pending));
    /* request_ids (field 2), packed */
    bs_buf_append_byte(&m, (2 << 3) | 2);
    bs_varint_append(&m, b->pending_ids.len);
    bs_buf_append_slice(&m, bs_buf_slice(&b->pending_ids));
    if (net_ccall_send(b->stream, m.ptr, m.len) != BS_OK)
        fail(b, "BatchCommands", "the stream refused a message");
    bs_buf_free(&m);
    bs_buf_reset(&b->pending);
    bs_buf_reset(&b->pending_ids);
}

/* A request is over: record it and start the next one in its slot. */
static void complete(bench *b, slot *s)
{
    b->lat_us[b->done++] = (uint32_t)((bs_clock_mono_ns() - s->t0) / 1000);
    s->busy = false;
    if (b->done == b->total) {
        if (b->stream)
            net_ccall_close_send(b->stream); /* on_finish ends the phase */
        else
            phase_end(b);
        return;
    }
    if (b->issued < b->total)
        issue(b, s);
}

static void route_done(net_ccall *cc, int status, const char *message, void *arg);
static void route_msg(net_ccall *cc, bs_slice msg, void *arg);

static void start_routing(bench *b)
{
    if (b->routing || !b->wait_route || phase_over(b))
        return;
    bs_buf key = BS_BUF_INIT, rq = BS_BUF_INIT;
    user_key(b, b->wait_route->seq, &key);
    get_region_request(b, bs_buf_slice(&key), &rq);
    net_ccall_ops ops = {.on_message = route_msg, .on_finish = route_done, .arg = b};
    bs_err err;
    bs_err_clear(&err);
    b->routing = true;
    if (!net_client_unary(b->pd, "/pdpb.PD/GetRegion", bs_buf_slice(&rq), CALL_TIMEOUT_MS, &ops, &err)) {
        b->routing = false;
        fail(b, "GetRegion", err.msg);
    }
    bs_buf_free(&key);
    bs_buf_free(&rq);
}

static void route_msg(net_ccall *cc, bs_slice msg, void *arg)
{
    bench *b = arg;
    Pdpb__GetRegionResponse *r = pdpb__get_region_response__unpack(NULL, msg.len, msg.ptr);
    if (!r) {
        snprintf(b->fatal, sizeof b->fatal, "GetRegion: undecodable response");
        return;
    }
    (void)region_add(b, r); /* false: b->fatal says why; route_done reports it */
    pdpb__get_region_response__free_unpacked(r, NULL);
}

static void route_done(net_ccall *cc, int status, const char *message, void *arg)
{
    bench *b = arg;
    b->routing = false;
    if (status != NET_GRPC_OK || b->fatal[0]) {
        fail(b, "GetRegion", b->fatal[0] ? b->fatal : net_grpc_status_name(status));
        return;
    }
    slot *w = b->wait_route;
    b->wait_route = NULL;
    while (w) {
        slot *next = w->next_wait;
        send(b, w); /* back onto wait_route when still not covered */
        w = next;
    }
    flush_batch(b);
    start_routing(b);
}

/* A region error: forget the Region, route again, resend (bounded). */
static void retry(bench *b, slot *s, uint64_t region_id)
{
    region_drop_id(b, region_id);
    b->retries++;
    if (++s->tries >= MAX_TRIES) {
        b->errors++;
        complete(b, s);
        return;
    }
    send(b, s);
}

static void unary_msg(net_ccall *cc, bs_slice msg, void *arg);
static void unary_done(net_ccall *cc, int status, const char *message, void *arg);

/* Handles one decoded answer for slot s; region_error, error and found as in the response. */
static void answer(bench *b, slot *s, const Errorpb__Error *re, const char *error, bool not_found,
                   uint64_t region_id)
{
    if (re) {
        retry(b, s, region_id);
        return;
    }
    if (error && error[0])
        b->errors++;
    if (not_found)
        b->misses++;
    complete(b, s);
}

/* Encodes the request of slot s for region r into out. */
static void encode_request(bench *b, slot *s, const region *r, bs_slice key, bs_buf *out)
{
    Metapb__RegionEpoch ep = METAPB__REGION_EPOCH__INIT;
    ep.conf_ver = r->conf_ver;
    ep.version = r->version;
    Metapb__Peer peer = METAPB__PEER__INIT;
    peer.id = r->peer_id;
    peer.store_id = r->store_id;
    Kvrpcpb__Context c = KVRPCPB__CONTEXT__INIT;
    c.region_id = r->id;
    c.region_epoch = &ep;
    c.peer = &peer;
    c.api_version = KVRPCPB__APIVERSION__V2;
    c.cluster_id = b->cluster_id;
    c.keyspace_case = KVRPCPB__CONTEXT__KEYSPACE_KEYSPACE_ID;
    c.keyspace_id = 0;
    Kvrpcpb__RawPutRequest put = KVRPCPB__RAW_PUT_REQUEST__INIT;
    Kvrpcpb__RawGetRequest get = KVRPCPB__RAW_GET_REQUEST__INIT;
    ProtobufCMessage *m;
    if (b->op == OP_PUT) {
        put.context = &c;
        put.key.data = (uint8_t *)key.ptr;
        put.key.len = key.len;
        put.value.data = b->value;
        put.value.len = b->value_size;
        m = &put.base;
    } else {
        get.context = &c;
        get.key.data = (uint8_t *)key.ptr;
        get.key.len = key.len;
        m = &get.base;
    }
    bs_buf_reset(out);
    bs_buf_reserve(out, protobuf_c_message_get_packed_size(m));
    out->len = protobuf_c_message_pack(m, out->ptr);
}

static void send(bench *b, slot *s)
{
    if (phase_over(b))
        return;
    bs_buf key = BS_BUF_INIT, rq = BS_BUF_INIT;
    user_key(b, s->seq, &key);
    region *r = lookup(b, bs_buf_slice(&key));
    if (!r) {
        s->next_wait = b->wait_route;
        b->wait_route = s;
        start_routing(b);
        bs_buf_free(&key);
        return;
    }
    encode_request(b, s, r, bs_buf_slice(&key), &rq);
    if (b->mode == MODE_UNARY) {
        ucall *u = calloc(1, sizeof *u);
        if (!u)
            abort();
        u->b = b;
        u->s = s;
        u->phase = b->phase;
        net_ccall_ops ops = {.on_message = unary_msg, .on_finish = unary_done, .arg = u};
        bs_err err;
        bs_err_clear(&err);
        const char *path = b->op == OP_PUT ? "/tikvpb.Tikv/RawPut" : "/tikvpb.Tikv/RawGet";
        if (!net_client_unary(b->kv, path, bs_buf_slice(&rq), CALL_TIMEOUT_MS, &ops, &err)) {
            free(u);
            fail(b, path, err.msg);
        }
    } else {
        /* requests (field 1): Request{raw_put = 15 | raw_get = 13: bytes} */
        uint32_t field = b->op == OP_PUT ? TIKVPB__BATCH_COMMANDS_REQUEST__REQUEST__CMD_RAW_PUT
                                         : TIKVPB__BATCH_COMMANDS_REQUEST__REQUEST__CMD_RAW_GET;
        bs_buf inner = BS_BUF_INIT;
        bs_varint_append(&inner, ((uint64_t)field << 3) | 2);
        bs_varint_append(&inner, rq.len);
        bs_buf_append_slice(&inner, bs_buf_slice(&rq));
        bs_buf_append_byte(&b->pending, (1 << 3) | 2);
        bs_varint_append(&b->pending, inner.len);
        bs_buf_append_slice(&b->pending, bs_buf_slice(&inner));
        bs_buf_free(&inner);
        s->id = b->next_id++ * (uint64_t)b->inflight + (uint64_t)(s - b->slots);
        bs_varint_append(&b->pending_ids, s->id);
    }
    bs_buf_free(&key);
    bs_buf_free(&rq);
}

static void issue(bench *b, slot *s)
{
    s->seq = b->issued++;
    s->t0 = bs_clock_mono_ns();
    s->tries = 0;
    s->busy = true;
    send(b, s);
}

/* ---- unary answers ---------------------------------------------------------------------- */

/* Region id of the request slot s last sent: the cache entry covering its key (a region
 * error drops exactly that entry). 0 when the key is not covered any more. */
static uint64_t region_of(bench *b, const slot *s)
{
    bs_buf key = BS_BUF_INIT;
    user_key(b, s->seq, &key);
    region *r = lookup(b, bs_buf_slice(&key));
    bs_buf_free(&key);
    return r ? r->id : 0;
}

static void handle_answer(bench *b, slot *s, uint32_t cmd, bs_slice msg)
{
    if (cmd == TIKVPB__BATCH_COMMANDS_REQUEST__REQUEST__CMD_RAW_PUT) {
        Kvrpcpb__RawPutResponse *r = kvrpcpb__raw_put_response__unpack(NULL, msg.len, msg.ptr);
        if (!r) {
            fail(b, "RawPut", "undecodable response");
            return;
        }
        answer(b, s, r->region_error, r->error, false, region_of(b, s));
        kvrpcpb__raw_put_response__free_unpacked(r, NULL);
    } else {
        Kvrpcpb__RawGetResponse *r = kvrpcpb__raw_get_response__unpack(NULL, msg.len, msg.ptr);
        if (!r) {
            fail(b, "RawGet", "undecodable response");
            return;
        }
        answer(b, s, r->region_error, r->error, r->not_found, region_of(b, s));
        kvrpcpb__raw_get_response__free_unpacked(r, NULL);
    }
}

static void unary_msg(net_ccall *cc, bs_slice msg, void *arg)
{
    ucall *u = arg;
    bench *b = u->b;
    if (u->answered || u->phase != b->phase || phase_over(b))
        return;
    u->answered = true;
    uint32_t cmd = b->op == OP_PUT ? TIKVPB__BATCH_COMMANDS_REQUEST__REQUEST__CMD_RAW_PUT
                                   : TIKVPB__BATCH_COMMANDS_REQUEST__REQUEST__CMD_RAW_GET;
    handle_answer(b, u->s, cmd, msg);
}

static void unary_done(net_ccall *cc, int status, const char *message, void *arg)
{
    ucall *u = arg;
    bench *b = u->b;
    if (u->phase == b->phase && !phase_over(b) && (status != NET_GRPC_OK || !u->answered)) {
        char d[200];
        snprintf(d, sizeof d, "%s %s", status == NET_GRPC_OK ? "OK without a response" :
                 net_grpc_status_name(status), message);
        fail(b, b->op == OP_PUT ? "RawPut" : "RawGet", d);
    }
    free(u);
}

/* ---- the BatchCommands stream ------------------------------------------------------------- */

static void batch_msg(net_ccall *cc, bs_slice msg, void *arg)
{
    bench *b = arg;
    if (phase_over(b))
        return;
    Tikvpb__BatchCommandsResponse *r = tikvpb__batch_commands_response__unpack(NULL, msg.len, msg.ptr);
    if (!r || r->n_responses != r->n_request_ids) {
        if (r)
            tikvpb__batch_commands_response__free_unpacked(r, NULL);
        fail(b, "BatchCommands", "undecodable response or ids that do not pair with responses");
        return;
    }
    for (size_t i = 0; i < r->n_responses && !phase_over(b); i++) {
        uint64_t id = r->request_ids[i];
        slot *s = &b->slots[id % (uint64_t)b->inflight];
        const Tikvpb__BatchCommandsResponse__Response *a = r->responses[i];
        if (!s->busy || s->id != id) {
            fail(b, "BatchCommands", "an answer for a request id not in flight");
            break;
        }
        if (b->op == OP_PUT && a->cmd_case == TIKVPB__BATCH_COMMANDS_RESPONSE__RESPONSE__CMD_RAW_PUT)
            answer(b, s, a->rawput->region_error, a->rawput->error, false, region_of(b, s));
        else if (b->op == OP_GET && a->cmd_case == TIKVPB__BATCH_COMMANDS_RESPONSE__RESPONSE__CMD_RAW_GET)
            answer(b, s, a->rawget->region_error, a->rawget->error, a->rawget->not_found,
                   region_of(b, s));
        else {
            fail(b, "BatchCommands", "an answer of another command");
            break;
        }
    }
    tikvpb__batch_commands_response__free_unpacked(r, NULL);
    flush_batch(b);
}

static void batch_done(net_ccall *cc, int status, const char *message, void *arg)
{
    bench *b = arg;
    bool was_open = b->stream != NULL;
    b->stream = NULL;
    if (b->done == b->total && status == NET_GRPC_OK) {
        phase_end(b);
        return;
    }
    if (was_open) {
        char d[200];
        snprintf(d, sizeof d, "stream ended early: %s %s", net_grpc_status_name(status), message);
        fail(b, "BatchCommands", d);
    }
}

/* ---- phase driver --------------------------------------------------------------------------- */

/* Resets the phase state and starts the first --inflight requests. On the loop thread, so
 * stray callbacks of the previous phase (a unary on_finish) never race with the reset. */
static void phase_start(void *arg)
{
    bench *b = arg;
    b->phase++;
    b->mode = b->next_mode;
    b->op = b->next_op;
    b->total = b->next_total;
    b->issued = b->done = b->errors = b->retries = b->misses = 0;
    b->fatal[0] = 0;
    b->wait_route = NULL;
    b->routing = false;
    memset(b->slots, 0, sizeof b->slots);
    if (b->mode == MODE_BATCH) {
        net_ccall_ops ops = {.on_message = batch_msg, .on_finish = batch_done, .arg = b};
        bs_err err;
        bs_err_clear(&err);
        b->stream = net_client_start(b->kv, "/tikvpb.Tikv/BatchCommands", 0, NULL, 0, &ops, &err);
        if (!b->stream) {
            fail(b, "BatchCommands", err.msg);
            return;
        }
    }
    for (int i = 0; i < b->inflight && b->issued < b->total && !phase_over(b); i++)
        issue(b, &b->slots[i]);
    flush_batch(b);
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, c = *(const uint32_t *)y;
    return a < c ? -1 : a > c;
}

static int run_phase(bench *b, int mode, int op, uint64_t total)
{
    b->next_mode = mode;
    b->next_op = op;
    b->next_total = total;
    b->finished = false;
    free(b->lat_us);
    b->lat_us = calloc(total, sizeof *b->lat_us);
    if (!b->lat_us)
        abort();
    int64_t t0 = bs_clock_mono_ns();
    if (net_loop_post(b->loop, phase_start, b) != BS_OK)
        die("%s", "the event loop stopped");
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += PHASE_BOUND_S;
    pthread_mutex_lock(&b->mu);
    int rc = 0;
    while (!b->finished && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&b->cv, &b->mu, &until);
    bool finished = b->finished;
    pthread_mutex_unlock(&b->mu);
    if (!finished)
        die("%s", "a phase ran past its bound of 10 minutes");
    double secs = (double)(bs_clock_mono_ns() - t0) / 1e9;
    /* the loop is quiet now except for stray answers, which phase_over() ignores */
    const char *mname = mode == MODE_BATCH ? "batch" : "unary";
    const char *oname = op == OP_PUT ? "put" : "get";
    if (b->fatal[0]) {
        fprintf(stderr, "grpc_bench: mode=%s op=%s failed after %llu of %llu requests: %s\n", mname,
                oname, (unsigned long long)b->done, (unsigned long long)total, b->fatal);
        return 1;
    }
    qsort(b->lat_us, b->done, sizeof *b->lat_us, cmp_u32);
    double p50 = b->lat_us[(size_t)(0.50 * (double)(b->done - 1))] / 1000.0;
    double p99 = b->lat_us[(size_t)(0.99 * (double)(b->done - 1))] / 1000.0;
    printf("grpc mode=%s op=%s requests=%llu inflight=%d ops_per_sec=%.0f p50_ms=%.3f p99_ms=%.3f "
           "errors=%llu retries=%llu misses=%llu\n",
           mname, oname, (unsigned long long)total, b->inflight, (double)b->done / secs, p50, p99,
           (unsigned long long)b->errors, (unsigned long long)b->retries,
           (unsigned long long)b->misses);
    fflush(stdout);
    return 0;
}

/* ---- setup ------------------------------------------------------------------------------------ */

static void parse_hostport(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *c = strrchr(s, ':');
    char *end;
    if (!c || c == s || (size_t)(c - s) >= cap)
        die("bad address %s (want HOST:PORT)", s);
    long p = strtol(c + 1, &end, 10);
    if (*end || p <= 0 || p > 65535)
        die("bad port in %s", s);
    memcpy(host, s, (size_t)(c - s));
    host[c - s] = 0;
    *port = (uint16_t)p;
}

static void sync_call(net_client *c, const char *path, const ProtobufCMessage *rq, bs_buf *resp)
{
    bs_buf req = BS_BUF_INIT;
    bs_buf_reserve(&req, protobuf_c_message_get_packed_size(rq));
    req.len = protobuf_c_message_pack(rq, req.ptr);
    int status = 0;
    char msg[256];
    bs_err err;
    bs_err_clear(&err);
    if (net_client_unary_sync(c, path, bs_buf_slice(&req), CALL_TIMEOUT_MS, resp, &status, msg,
                              sizeof msg, &err) != BS_OK)
        die("%s failed", path);
    if (status != NET_GRPC_OK) {
        fprintf(stderr, "grpc_bench: %s: %s %s\n", path, net_grpc_status_name(status), msg);
        exit(1);
    }
    bs_buf_free(&req);
}

static void setup_pd(bench *b, char *store_host, size_t cap, uint16_t *store_port)
{
    bs_buf resp = BS_BUF_INIT;
    Pdpb__RequestHeader h0 = PDPB__REQUEST_HEADER__INIT;
    Pdpb__GetMembersRequest gm = PDPB__GET_MEMBERS_REQUEST__INIT;
    gm.header = &h0;
    sync_call(b->pd, "/pdpb.PD/GetMembers", &gm.base, &resp);
    Pdpb__GetMembersResponse *m = pdpb__get_members_response__unpack(NULL, resp.len, resp.ptr);
    if (!m || !m->header || m->header->cluster_id == 0)
        die("%s", "GetMembers: no cluster id in the response");
    b->cluster_id = m->header->cluster_id;
    pdpb__get_members_response__free_unpacked(m, NULL);

    /* The Region of the first key: its leader names the store (client-go's routing). */
    bs_buf key = BS_BUF_INIT, rq = BS_BUF_INIT;
    user_key(b, 0, &key);
    get_region_request(b, bs_buf_slice(&key), &rq);
    bs_buf_reset(&resp);
    int status = 0;
    char msg[256];
    bs_err err;
    bs_err_clear(&err);
    if (net_client_unary_sync(b->pd, "/pdpb.PD/GetRegion", bs_buf_slice(&rq), CALL_TIMEOUT_MS, &resp,
                              &status, msg, sizeof msg, &err) != BS_OK ||
        status != NET_GRPC_OK)
        die("GetRegion failed: %s", msg);
    Pdpb__GetRegionResponse *gr = pdpb__get_region_response__unpack(NULL, resp.len, resp.ptr);
    if (!gr || !region_add(b, gr))
        die("%s", gr ? b->fatal : "GetRegion: undecodable response");
    uint64_t store_id = gr->leader->store_id;
    pdpb__get_region_response__free_unpacked(gr, NULL);
    bs_buf_free(&key);
    bs_buf_free(&rq);

    if (store_host[0] == 0) {
        Pdpb__RequestHeader h = PDPB__REQUEST_HEADER__INIT;
        h.cluster_id = b->cluster_id;
        Pdpb__GetStoreRequest gs = PDPB__GET_STORE_REQUEST__INIT;
        gs.header = &h;
        gs.store_id = store_id;
        bs_buf_reset(&resp);
        sync_call(b->pd, "/pdpb.PD/GetStore", &gs.base, &resp);
        Pdpb__GetStoreResponse *st = pdpb__get_store_response__unpack(NULL, resp.len, resp.ptr);
        if (!st || !st->store || !st->store->address || !st->store->address[0])
            die("%s", "GetStore: no store address in the response");
        parse_hostport(st->store->address, store_host, cap, store_port);
        if (*store_port == 0)
            die("PD knows the store as %s: pass --store HOST:PORT", st->store->address);
        pdpb__get_store_response__free_unpacked(st, NULL);
    }
    bs_buf_free(&resp);
}

static uint64_t num_arg(const char *name, const char *v, uint64_t min, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || !*v || n < min || n > max) {
        fprintf(stderr, "grpc_bench: %s wants a number in [%llu, %llu], got %s\n", name,
                (unsigned long long)min, (unsigned long long)max, v);
        exit(2);
    }
    return n;
}

static void usage(void)
{
    fprintf(stderr, "usage: grpc_bench --pd HOST:PORT [--store HOST:PORT] [--mode unary|batch|both]\n"
                    "                  [--op put|get|both] [--requests N] [--inflight N]\n"
                    "                  [--value-size N] [--keyspace N] [--prefix STR]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static bench b;
    const char *pd_addr = NULL, *store_addr = NULL, *mode = "both", *op = "both";
    uint64_t requests = 50000;
    b.inflight = 64;
    b.value_size = 100;
    b.keyspace = 0;
    b.prefix = "grpc-bench:";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--pd"))
            pd_addr = v;
        else if (!strcmp(a, "--store"))
            store_addr = v;
        else if (!strcmp(a, "--mode"))
            mode = v;
        else if (!strcmp(a, "--op"))
            op = v;
        else if (!strcmp(a, "--requests"))
            requests = num_arg(a, v, 1, 100000000);
        else if (!strcmp(a, "--inflight"))
            b.inflight = (int)num_arg(a, v, 1, MAX_INFLIGHT);
        else if (!strcmp(a, "--value-size"))
            b.value_size = (size_t)num_arg(a, v, 0, 1 << 20);
        else if (!strcmp(a, "--keyspace"))
            b.keyspace = num_arg(a, v, 1, 1000000000);
        else if (!strcmp(a, "--prefix") && strlen(v) < 64)
            b.prefix = v;
        else
            usage();
    }
    if (!pd_addr)
        usage();
    bool modes[2] = {!strcmp(mode, "unary") || !strcmp(mode, "both"),
                     !strcmp(mode, "batch") || !strcmp(mode, "both")};
    bool ops[2] = {!strcmp(op, "put") || !strcmp(op, "both"), !strcmp(op, "get") || !strcmp(op, "both")};
    if (!(modes[0] || modes[1]) || !(ops[0] || ops[1]))
        usage();
    if (b.keyspace == 0)
        b.keyspace = requests; /* every GET reads a key the PUT phase wrote */
    b.value = malloc(b.value_size + 1);
    if (!b.value)
        abort();
    memset(b.value, 'v', b.value_size);
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);

    char pd_host[256], store_host[256] = "";
    uint16_t pd_port, store_port = 0;
    parse_hostport(pd_addr, pd_host, sizeof pd_host, &pd_port);
    if (store_addr)
        parse_hostport(store_addr, store_host, sizeof store_host, &store_port);

    bs_err err;
    bs_err_clear(&err);
    b.loop = net_loop_new("grpc-bench", &err);
    if (!b.loop || net_loop_start(b.loop, &err) != BS_OK)
        die("event loop: %s", err.msg);
    net_client_options po = {.host = pd_host, .port = pd_port};
    b.pd = net_client_new(b.loop, &po, &err);
    if (!b.pd)
        die("PD client: %s", err.msg);
    setup_pd(&b, store_host, sizeof store_host, &store_port);
    net_client_options ko = {.host = store_host, .port = store_port};
    b.kv = net_client_new(b.loop, &ko, &err);
    if (!b.kv)
        die("store client: %s", err.msg);

    int rc = 0;
    for (int m = 0; m < 2 && rc == 0; m++) {
        if (!modes[m])
            continue;
        for (int o = 0; o < 2 && rc == 0; o++)
            if (ops[o])
                rc = run_phase(&b, m == 0 ? MODE_UNARY : MODE_BATCH, o == 0 ? OP_PUT : OP_GET, requests);
    }

    net_client_free(b.kv);
    net_client_free(b.pd);
    net_loop_stop(b.loop);
    net_loop_free(b.loop);
    for (size_t i = 0; i < b.n_regions; i++) {
        bs_buf_free(&b.regions[i].start);
        bs_buf_free(&b.regions[i].end);
    }
    free(b.regions);
    free(b.lat_us);
    free(b.value);
    bs_buf_free(&b.pending);
    bs_buf_free(&b.pending_ids);
    return rc;
}
