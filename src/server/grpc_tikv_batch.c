/* grpc_tikv_batch.c -- tikvpb.Tikv/BatchCommands: client-go's one long-lived stream per
 * connection that carries every request with a BatchCommands number (PROTOCOL.md §3.4).
 *
 * A BatchCommandsRequest is `repeated Request requests = 1; repeated uint64 request_ids = 2`
 * and each Request is a oneof whose field number names the command. The wrapper is read by
 * hand (srv_grpc_wire_next), so each command's bytes go straight to the op that decodes them
 * with its own descriptor, exactly as a unary call's would; the answer is written by hand
 * too: Response{<same field number>: response bytes}, paired with its request id. Answers
 * are sent as they complete, in any order; those that complete while one request message
 * is being dispatched (lease reads, errors) leave together in one BatchCommandsResponse.
 *
 * Commands Basalt does not serve (pessimistic locking, Coprocessor, ...) are answered in
 * their own slot with a region error carrying only a message, which every response type
 * has at field 1: client-go drops its region cache entry and retries, then gives up with
 * that message, and the stream and the other requests on it are unaffected. More than
 * MAX_INFLIGHT commands in flight on one stream get ServerIsBusy the same way. An undecodable
 * wrapper or command ends the stream with INTERNAL; a wrong Context.cluster_id ends it with
 * INVALID_ARGUMENT (the unary calls refuse the same way).
 *
 * Stream lifetime: the stream state lives until the call is finished AND no command is in
 * flight. Finishing happens at half-close once everything answered (OK), at the first
 * refusal, or when the call is cancelled (CANCELLED, at once: in-flight commands still
 * complete, their answers are dropped). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/codec.h"
#include "common/log.h"
#include "server/grpc_int.h"
#include "tikvpb.pb-c.h"

#define EMPTY_CMD 255
#define MAX_EMPTY_DELAY_MS 60000
/* Commands in flight on one stream before new ones are turned away with ServerIsBusy
 * (client-go keeps at most 128 per batch and a few batches in flight). */
#define MAX_INFLIGHT 8192

typedef struct srv_tikv_bstream {
    struct srv_tikv_bstream *prev, *next; /* svc->streams */
    srv_grpc_tikv *svc;
    net_call *call; /* valid while !done */
    int inflight;   /* commands started and not yet answered */
    bool half_closed;
    bool done;        /* the call is finished */
    bool dispatching; /* inside on_message: keep the state, batch the answers */
    bs_buf out;       /* encoded `responses` fields waiting to be sent */
    bs_buf ids;       /* their request ids, packed varints */
    size_t n_out;
} bstream;

/* ---- stream state ------------------------------------------------------------------------ */

static void bstream_free(bstream *bs)
{
    if (bs->prev)
        bs->prev->next = bs->next;
    else
        bs->svc->streams = bs->next;
    if (bs->next)
        bs->next->prev = bs->prev;
    bs_buf_free(&bs->out);
    bs_buf_free(&bs->ids);
    bs_free(bs);
}

void srv_tikv_batch_drop_all(srv_grpc_tikv *svc)
{
    while (svc->streams)
        bstream_free(svc->streams);
}

static void bstream_free_if_idle(bstream *bs)
{
    if (!bs->done || bs->inflight > 0 || bs->dispatching)
        return;
    bstream_free(bs);
}

static void flush(bstream *bs)
{
    if (bs->done || bs->n_out == 0)
        return;
    bs_buf m = BS_BUF_INIT;
    bs_buf_append_slice(&m, bs_buf_slice(&bs->out));
    srv_grpc_wire_bytes(&m, 2, bs_buf_slice(&bs->ids)); /* request_ids, packed */
    (void)net_call_send(bs->call, m.ptr, m.len);        /* BS_ESTATE: the peer left */
    bs_buf_free(&m);
    bs_buf_reset(&bs->out);
    bs_buf_reset(&bs->ids);
    bs->n_out = 0;
}

static void end_call(bstream *bs, int status, const char *msg)
{
    if (bs->done)
        return;
    if (status == NET_GRPC_OK)
        flush(bs);
    bs->done = true;
    net_call_set_user(bs->call, NULL);
    net_call_finish(bs->call, status, msg);
    bs->call = NULL;
}

static void maybe_end(bstream *bs)
{
    if (!bs->done && bs->half_closed && bs->inflight == 0 && !bs->dispatching)
        end_call(bs, NET_GRPC_OK, NULL);
    bstream_free_if_idle(bs);
}

/* Queues Response{cmd: resp} for request id. */
static void add_answer(bstream *bs, uint32_t cmd, bs_slice resp, uint64_t id)
{
    if (bs->done)
        return;
    bs_buf r = BS_BUF_INIT;
    if (cmd != 0) /* 0: a Response with no member */
        srv_grpc_wire_bytes(&r, cmd, resp);
    srv_grpc_wire_bytes(&bs->out, 1, bs_buf_slice(&r));
    bs_buf_free(&r);
    bs_varint_append(&bs->ids, id);
    bs->n_out++;
}

/* One command answered (loop thread). */
static void answered(bstream *bs)
{
    bs->inflight--;
    if (!bs->dispatching)
        flush(bs);
    maybe_end(bs);
}

/* ---- commands ----------------------------------------------------------------------------- */

static void batch_sink(srv_tikv_op *op)
{
    bstream *bs = op->sink_arg;
    if (op->status != NET_GRPC_OK)
        end_call(bs, op->status, op->status_msg);
    else
        add_answer(bs, op->def->batch_no, bs_buf_slice(&op->resp), op->request_id);
    srv_tikv_op_free(op);
    answered(bs);
}

typedef struct empty_cmd {
    bstream *bs;
    uint64_t id, test_id;
} empty_cmd;

static void empty_answer(empty_cmd *ec)
{
    Tikvpb__BatchCommandsEmptyResponse r = TIKVPB__BATCH_COMMANDS_EMPTY_RESPONSE__INIT;
    r.test_id = ec->test_id;
    bs_buf b = BS_BUF_INIT;
    srv_grpc_pack(&r.base, &b);
    add_answer(ec->bs, EMPTY_CMD, bs_buf_slice(&b), ec->id);
    bs_buf_free(&b);
    bstream *bs = ec->bs;
    bs_free(ec);
    answered(bs);
}

static void empty_fire(void *arg)
{
    empty_answer(arg);
}

static void empty_drop(void *arg)
{
    bs_free(arg); /* shutdown: the stream's state is dropped after the timers */
}

/* Starts one command of the stream. Returns BS_OK, or BS_ECORRUPT (the stream is ended). */
static int start_command(bstream *bs, uint32_t cmd, bs_slice body, uint64_t id)
{
    bs->inflight++;
    if (cmd == EMPTY_CMD) {
        Tikvpb__BatchCommandsEmptyRequest *rq =
            (Tikvpb__BatchCommandsEmptyRequest *)srv_grpc_unpack(
                &tikvpb__batch_commands_empty_request__descriptor, body, NULL, 0);
        if (!rq) {
            bs->inflight--;
            end_call(bs, NET_GRPC_INTERNAL,
                     "grpc: error unmarshalling request: malformed "
                     "BatchCommandsEmptyRequest");
            return BS_ECORRUPT;
        }
        empty_cmd *ec = bs_calloc(1, sizeof(*ec));
        ec->bs = bs;
        ec->id = id;
        ec->test_id = rq->test_id;
        uint64_t delay = rq->delay_time;
        protobuf_c_message_free_unpacked(&rq->base, NULL);
        if (delay == 0) {
            empty_answer(ec);
        } else {
            srv_tikv_timer_start(bs->svc, net_call_loop(bs->call),
                                 delay > MAX_EMPTY_DELAY_MS ? MAX_EMPTY_DELAY_MS : (int64_t)delay,
                                 empty_fire, empty_drop, ec);
        }
        return BS_OK;
    }
    const srv_tikv_cmd_def *def = srv_tikv_cmd_by_batch_no(cmd);
    if (!def || bs->inflight > MAX_INFLIGHT) {
        /* Not served (yet), or too much in flight: a region error in the command's own slot
         * (message only, or ServerIsBusy so the client backs off and retries). */
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Errorpb__Error *e = SRV_GRPC_NEW(&a, Errorpb__Error);
        errorpb__error__init(e);
        char m[128];
        if (def) {
            snprintf(m, sizeof m, "too many requests in flight on this BatchCommands stream");
            e->server_is_busy = SRV_GRPC_NEW(&a, Errorpb__ServerIsBusy);
            errorpb__server_is_busy__init(e->server_is_busy);
            e->server_is_busy->reason = m;
        } else {
            snprintf(m, sizeof m, "BatchCommands command %" PRIu32 " is not supported by Basalt",
                     cmd);
        }
        e->message = m;
        bs_buf eb = BS_BUF_INIT, resp = BS_BUF_INIT;
        srv_grpc_pack(&e->base, &eb);
        srv_grpc_wire_bytes(&resp, 1, bs_buf_slice(&eb));
        add_answer(bs, cmd, bs_buf_slice(&resp), id);
        bs_buf_free(&eb);
        bs_buf_free(&resp);
        srv_grpc_arena_free(&a);
        answered(bs);
        return BS_OK;
    }
    srv_tikv_op *op = srv_tikv_op_new(bs->svc, def, body, net_call_loop(bs->call), batch_sink, bs);
    op->request_id = id;
    srv_tikv_op_start(op);
    return BS_OK;
}

/* The oneof member set last wins, as protobuf parsers do; no member gives cmd 0 (answered
 * with an empty Response, as TiKV answers an invalid request). */
int srv_tikv_batch_parse_request(bs_slice req, uint32_t *cmd, bs_slice *body)
{
    uint32_t f;
    int wt;
    uint64_t num;
    bs_slice b;
    int rc;
    *cmd = 0;
    *body = BS_SLICE_NULL;
    while ((rc = srv_grpc_wire_next(&req, &f, &wt, &num, &b)) == BS_OK) {
        if (wt != SRV_GRPC_WIRE_LEN)
            return BS_ECORRUPT; /* every member is a message */
        *cmd = f;
        *body = b;
    }
    return rc == BS_NOTFOUND ? BS_OK : BS_ECORRUPT;
}

int srv_tikv_batch_parse(bs_slice msg, bs_slice **reqs, size_t *n_reqs, uint64_t **ids,
                         size_t *n_ids)
{
    size_t cap_r = 0, cap_i = 0;
    uint32_t f;
    int wt;
    uint64_t num;
    bs_slice b;
    int rc;
    *reqs = NULL;
    *ids = NULL;
    *n_reqs = *n_ids = 0;
    while ((rc = srv_grpc_wire_next(&msg, &f, &wt, &num, &b)) == BS_OK) {
        if (f == 1) {
            if (wt != SRV_GRPC_WIRE_LEN)
                return BS_ECORRUPT;
            if (*n_reqs == cap_r) {
                cap_r = cap_r ? 2 * cap_r : 16;
                *reqs = bs_realloc(*reqs, cap_r * sizeof(bs_slice));
            }
            (*reqs)[(*n_reqs)++] = b;
        } else if (f == 2) {
            /* Packed (what Go and Rust send) or one varint per field. */
            bs_slice p = b;
            bool packed = wt == SRV_GRPC_WIRE_LEN;
            if (!packed && wt != SRV_GRPC_WIRE_VARINT)
                return BS_ECORRUPT;
            while (packed ? p.len > 0 : true) {
                uint64_t v = num;
                if (packed && bs_varint_read(&p, &v) != BS_OK)
                    return BS_ECORRUPT;
                if (*n_ids == cap_i) {
                    cap_i = cap_i ? 2 * cap_i : 16;
                    *ids = bs_realloc(*ids, cap_i * sizeof(uint64_t));
                }
                (*ids)[(*n_ids)++] = v;
                if (!packed)
                    break;
            }
        }
        /* 3 (client_send_time_ns) and unknown fields are skipped. */
    }
    return rc == BS_NOTFOUND ? BS_OK : BS_ECORRUPT;
}

/* ---- net callbacks -------------------------------------------------------------------------- */

static void on_start(net_call *call, void *arg)
{
    srv_grpc_binding *b = arg;
    bstream *bs = bs_calloc(1, sizeof(*bs));
    bs->svc = b->svc;
    bs->call = call;
    bs->next = bs->svc->streams;
    if (bs->next)
        bs->next->prev = bs;
    bs->svc->streams = bs;
    net_call_set_user(call, bs);
}

static void on_message(net_call *call, bs_slice msg, void *arg)
{
    bstream *bs = net_call_user(call);
    if (!bs)
        return;
    bs_slice *reqs = NULL;
    uint64_t *ids = NULL;
    size_t n_reqs = 0, n_ids = 0;
    bs->dispatching = true;
    if (srv_tikv_batch_parse(msg, &reqs, &n_reqs, &ids, &n_ids) != BS_OK) {
        end_call(bs, NET_GRPC_INTERNAL,
                 "grpc: error unmarshalling request: malformed BatchCommandsRequest");
    } else {
        /* TiKV zips requests with ids: extra entries on either side are ignored. */
        size_t n = n_reqs < n_ids ? n_reqs : n_ids;
        for (size_t i = 0; i < n && !bs->done; i++) {
            uint32_t cmd;
            bs_slice body;
            if (srv_tikv_batch_parse_request(reqs[i], &cmd, &body) != BS_OK) {
                end_call(
                    bs, NET_GRPC_INTERNAL,
                    "grpc: error unmarshalling request: malformed BatchCommandsRequest.Request");
                break;
            }
            if (cmd == 0) {
                add_answer(bs, 0, BS_SLICE_NULL, ids[i]);
                continue;
            }
            if (start_command(bs, cmd, body, ids[i]) != BS_OK)
                break;
        }
    }
    bs_free(reqs);
    bs_free(ids);
    bs->dispatching = false;
    flush(bs);
    maybe_end(bs);
}

static void on_half_close(net_call *call, void *arg)
{
    bstream *bs = net_call_user(call);
    if (!bs)
        return;
    bs->half_closed = true;
    maybe_end(bs);
}

static void on_cancel(net_call *call, void *arg)
{
    bstream *bs = net_call_user(call);
    if (!bs) {
        net_call_finish(call, NET_GRPC_CANCELLED, NULL);
        return;
    }
    end_call(bs, NET_GRPC_CANCELLED, NULL);
    bstream_free_if_idle(bs);
}

int srv_tikv_batch_register(srv_grpc_tikv *svc, net_server *s, bs_err *err)
{
    svc->batch_binding.svc = svc;
    net_method m = {
        "/tikvpb.Tikv/BatchCommands", on_start, on_message, on_half_close, on_cancel, NULL,
        &svc->batch_binding};
    return net_server_add_method(s, &m, err);
}
