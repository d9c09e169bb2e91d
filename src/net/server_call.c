/* server_call.c -- the server side of gRPC streams: one net_call per HTTP/2 stream.
 *
 * A request stream goes: HEADERS (collected into the call) -> validation (POST,
 * content-type application/grpc, known :path, identity encoding, grpc-timeout) -> the
 * method's on_start -> DATA deframed into on_message -> END_STREAM -> on_half_close. The
 * response goes: HEADERS with the first message, DATA from the call's queue through an
 * nghttp2 data provider (which defers while the queue is empty and is resumed by
 * net_call_send), then trailers with grpc-status / grpc-message. A call finished before
 * anything was sent gets one Trailers-Only HEADERS frame (grpc/grpc PROTOCOL-HTTP2.md).
 *
 * Flags on a call and their meaning (the lifetime rules of net.h follow from them):
 *   started      on_start ran; the handler knows the pointer.
 *   ended        the final status is decided; sends are refused.
 *   handler_done net_call_finish ran (or the call never started).
 *   conn == NULL the stream is gone (closed, reset, or its connection destroyed).
 * The call is freed when handler_done and conn == NULL both hold -- by the stream-close
 * path or by net_call_finish, whichever comes second. on_cancel runs once, when a started
 * call ends without the handler (ended by net or by the peer). */
#include <stdio.h>
#include <string.h>

#include "common/assert.h"
#include "net/net_int.h"

#define MAX_HDR_BYTES (16u * 1024u)
#define MAX_HDR_COUNT 128

typedef struct hdr_ent {
    char *name;
    char *value;
    size_t vlen;
} hdr_ent;

struct net_call {
    net_loop *loop;
    h2_conn *conn; /* NULL once detached from its stream */
    int32_t stream_id;
    net_call *prev, *next; /* conn->calls list, while attached */
    net_method m;          /* the method's callbacks (copied: the server may go first) */
    uint32_t max_recv;
    hdr_ent *hdrs;
    size_t n_hdrs, hdr_bytes;
    bool hdr_overflow;
    net_deframer defr;
    net_outq outq;
    net_timer *deadline;
    void *user;
    bool started, ended, handler_done, cancelled;
    bool headers_sent, data_deferred, trailers_pending, remote_closed, above_high;
    int status;
    bs_buf message; /* percent-encoded, NUL-terminated, for the trailers */
};

static net_server *conn_server(const h2_conn *c)
{
    return c->owner;
}

/* ---- lifetime ----------------------------------------------------------------------- */

static net_call *call_new(h2_conn *c, int32_t stream_id)
{
    net_call *call = bs_calloc(1, sizeof *call);
    call->loop = c->loop;
    call->conn = c;
    call->stream_id = stream_id;
    call->max_recv = conn_server(c)->max_recv_msg;
    net_deframer_init(&call->defr);
    net_outq_init(&call->outq);
    bs_buf_init(&call->message);
    call->next = c->calls;
    if (call->next)
        call->next->prev = call;
    c->calls = call;
    return call;
}

static void call_free(net_call *call)
{
    BS_DASSERT(call->conn == NULL);
    for (size_t i = 0; i < call->n_hdrs; i++) {
        bs_free(call->hdrs[i].name);
        bs_free(call->hdrs[i].value);
    }
    bs_free(call->hdrs);
    net_deframer_deinit(&call->defr);
    net_outq_deinit(&call->outq);
    net_timer_free(call->deadline);
    bs_buf_free(&call->message);
    bs_free(call);
}

static void call_unlink(net_call *call)
{
    h2_conn *c = call->conn;
    if (call->prev)
        call->prev->next = call->next;
    else
        c->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    call->prev = call->next = NULL;
    call->conn = NULL;
}

/* The stream is gone: detach, tell the handler if it still owned the call, free when
 * nobody holds it. */
static void call_detach(net_call *call)
{
    h2_conn *c = call->conn;
    if (c->session)
        (void)nghttp2_session_set_stream_user_data(c->session, call->stream_id, NULL);
    call_unlink(call);
    if (call->deadline)
        net_timer_disarm(call->deadline);
    bool notify = call->started && !call->ended;
    if (notify)
        call->ended = call->cancelled = true;
    if (!call->started || call->handler_done) {
        call_free(call);
        return;
    }
    if (notify && call->m.on_cancel)
        call->m.on_cancel(call, call->m.arg); /* may call net_call_finish, which frees */
}

/* ---- responses ---------------------------------------------------------------------- */

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE             \
    }

static ssize_t data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user_data);

static void submit_trailers(net_call *call)
{
    char st[16];
    snprintf(st, sizeof st, "%d", call->status);
    nghttp2_nv nv[2] = {NV("grpc-status", st), NV("grpc-message", "")};
    size_t n = 1;
    if (call->message.len > 1) {
        nv[1].value = call->message.ptr;
        nv[1].valuelen = call->message.len - 1;
        n = 2;
    }
    if (nghttp2_submit_trailer(call->conn->session, call->stream_id, nv, n) != 0)
        (void)nghttp2_submit_rst_stream(call->conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
                                        NGHTTP2_INTERNAL_ERROR); /* best effort */
}

static void submit_trailers_only(net_call *call)
{
    char st[16];
    snprintf(st, sizeof st, "%d", call->status);
    nghttp2_nv nv[5] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                        NV("grpc-status", st), NV("grpc-accept-encoding", "identity"),
                        NV("grpc-message", "")};
    size_t n = 4;
    if (call->message.len > 1) {
        nv[4].value = call->message.ptr;
        nv[4].valuelen = call->message.len - 1;
        n = 5;
    }
    if (nghttp2_submit_response(call->conn->session, call->stream_id, nv, n, NULL) != 0)
        (void)nghttp2_submit_rst_stream(call->conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
                                        NGHTTP2_INTERNAL_ERROR);
    call->headers_sent = true;
}

static int submit_headers(net_call *call)
{
    nghttp2_nv nv[3] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                        NV("grpc-accept-encoding", "identity")};
    nghttp2_data_provider dp = {.source.ptr = call, .read_callback = data_read};
    if (nghttp2_submit_response(call->conn->session, call->stream_id, nv, 3, &dp) != 0)
        return BS_EINTERNAL;
    call->headers_sent = true;
    return BS_OK;
}

/* Decides the final status and queues what carries it. */
static void call_end(net_call *call, int status, const char *message, bool drop_queue)
{
    call->ended = true;
    if (call->deadline)
        net_timer_disarm(call->deadline);
    call->status = status;
    bs_buf_reset(&call->message);
    net_percent_encode(message ? message : "", &call->message);
    if (drop_queue)
        net_outq_clear(&call->outq);
    if (!call->headers_sent) {
        submit_trailers_only(call);
        return;
    }
    call->trailers_pending = true;
    if (call->data_deferred) {
        call->data_deferred = false;
        (void)nghttp2_session_resume_data(call->conn->session, call->stream_id);
    }
}

/* net ends a started call by itself (limits, deadline, bad input). */
static void call_fail(net_call *call, int status, const char *message)
{
    if (call->ended)
        return;
    call_end(call, status, message, true);
    if (!call->started)
        return;
    call->cancelled = true;
    if (call->m.on_cancel)
        call->m.on_cancel(call, call->m.arg); /* attached: finish here only marks it */
}

static ssize_t data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    net_call *call = source->ptr;
    size_t n = net_outq_pop(&call->outq, buf, length);
    if (net_outq_len(&call->outq) == 0 && call->trailers_pending) {
        call->trailers_pending = false;
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        submit_trailers(call);
        return (ssize_t)n;
    }
    if (n == 0) {
        call->data_deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

/* ---- public call API ---------------------------------------------------------------- */

int net_call_send(net_call *call, const void *msg, size_t len)
{
    BS_DASSERT(net_loop_in_thread(call->loop));
    BS_ASSERT(!call->handler_done);
    if (call->ended || !call->conn)
        return BS_ESTATE;
    if (len > UINT32_MAX)
        return BS_ETOOLARGE;
    net_outq_push_msg(&call->outq, msg, len);
    if (net_outq_len(&call->outq) > NET_CALL_HIGH_WATER)
        call->above_high = true;
    if (!call->headers_sent) {
        if (submit_headers(call) != BS_OK) {
            call_fail(call, NET_GRPC_INTERNAL, "cannot submit response headers");
            h2_conn_flush(call->conn);
            return BS_ESTATE;
        }
    } else if (call->data_deferred) {
        call->data_deferred = false;
        (void)nghttp2_session_resume_data(call->conn->session, call->stream_id);
    }
    h2_conn_flush(call->conn);
    return BS_OK;
}

bool net_call_writable(const net_call *call)
{
    return net_outq_len(&call->outq) <= NET_CALL_HIGH_WATER;
}

size_t net_call_queued(const net_call *call)
{
    return net_outq_len(&call->outq);
}

void net_call_finish(net_call *call, int status, const char *message)
{
    BS_DASSERT(net_loop_in_thread(call->loop));
    BS_ASSERT(!call->handler_done);
    call->handler_done = true;
    if (!call->conn) {
        call_free(call);
        return;
    }
    if (call->ended)
        return; /* freed when the stream closes */
    call_end(call, status, message, false);
    h2_conn_flush(call->conn);
}

const char *net_call_header(const net_call *call, const char *name, size_t *len)
{
    for (size_t i = 0; i < call->n_hdrs; i++) {
        if (strcmp(call->hdrs[i].name, name) == 0) {
            if (len)
                *len = call->hdrs[i].vlen;
            return call->hdrs[i].value;
        }
    }
    return NULL;
}

const char *net_call_path(const net_call *call)
{
    const char *p = net_call_header(call, ":path", NULL);
    return p ? p : "";
}

net_loop *net_call_loop(const net_call *call)
{
    return call->loop;
}

void net_call_set_user(net_call *call, void *user)
{
    call->user = user;
}

void *net_call_user(const net_call *call)
{
    return call->user;
}

bool net_call_cancelled(const net_call *call)
{
    return call->cancelled;
}

/* ---- request path ------------------------------------------------------------------- */

static void deadline_fire(void *arg)
{
    net_call *call = arg;
    h2_conn *c = call->conn;
    if (!c)
        return;
    call_fail(call, NET_GRPC_DEADLINE_EXCEEDED, "Deadline Exceeded");
    h2_conn_flush(c);
}

static void reject_http(net_call *call, const char *status)
{
    nghttp2_nv nv[1] = {NV(":status", status)};
    call->ended = true;
    call->headers_sent = true;
    if (nghttp2_submit_response(call->conn->session, call->stream_id, nv, 1, NULL) != 0)
        (void)nghttp2_submit_rst_stream(call->conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
                                        NGHTTP2_INTERNAL_ERROR);
}

static const net_method_ent *find_method(const net_server *s, const char *path)
{
    for (size_t i = 0; i < s->n_methods; i++)
        if (strcmp(s->methods[i].path, path) == 0)
            return &s->methods[i];
    return NULL;
}

static void start_call(net_call *call)
{
    size_t len;
    const char *v;
    if (call->hdr_overflow) {
        call_end(call, NET_GRPC_RESOURCE_EXHAUSTED, "request headers too large", true);
        return;
    }
    v = net_call_header(call, ":method", NULL);
    if (!v || strcmp(v, "POST") != 0) {
        reject_http(call, "405");
        return;
    }
    v = net_call_header(call, "content-type", &len);
    if (!v || !net_is_grpc_content_type((const uint8_t *)v, len)) {
        reject_http(call, "415");
        return;
    }
    const char *path = net_call_header(call, ":path", NULL);
    const net_method_ent *me = path ? find_method(conn_server(call->conn), path) : NULL;
    if (!me) {
        char msg[160];
        snprintf(msg, sizeof msg, "unknown method %.120s", path ? path : "");
        call_end(call, NET_GRPC_UNIMPLEMENTED, msg, true);
        return;
    }
    v = net_call_header(call, "grpc-encoding", NULL);
    if (v && strcmp(v, "identity") != 0) {
        call_end(call, NET_GRPC_UNIMPLEMENTED, "unsupported grpc-encoding", true);
        return;
    }
    int64_t timeout_ms = -1;
    v = net_call_header(call, "grpc-timeout", &len);
    if (v && net_parse_grpc_timeout(v, len, &timeout_ms) != BS_OK) {
        call_end(call, NET_GRPC_INTERNAL, "malformed grpc-timeout", true);
        return;
    }
    call->m = me->m;
    call->started = true;
    if (timeout_ms >= 0) {
        call->deadline = net_timer_new(call->loop, deadline_fire, call);
        net_timer_arm(call->deadline, timeout_ms);
    }
    call->m.on_start(call, call->m.arg);
}

static int on_deframed(void *ctx, uint8_t flag, const uint8_t *msg, size_t len)
{
    net_call *call = ctx;
    if (call->ended)
        return 1;
    if (flag != 0) {
        /* No grpc-encoding was accepted, so a compressed message is a protocol error. */
        call_fail(call, NET_GRPC_INTERNAL, "compressed message without grpc-encoding");
        return 1;
    }
    if (call->m.on_message)
        call->m.on_message(call, bs_slice_make(msg, len), call->m.arg);
    return call->ended ? 1 : 0;
}

static void remote_half_close(net_call *call)
{
    call->remote_closed = true;
    if (!call->started || call->ended)
        return;
    if (net_deframer_partial(&call->defr)) {
        call_fail(call, NET_GRPC_INTERNAL, "stream ended inside a message");
        return;
    }
    if (call->m.on_half_close)
        call->m.on_half_close(call, call->m.arg);
}

/* ---- nghttp2 callbacks -------------------------------------------------------------- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    h2_conn *c = ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    net_call *call = call_new(c, frame->hd.stream_id);
    if (nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, call) != 0) {
        call_unlink(call);
        call_free(call);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* request trailers carry nothing gRPC defines */
    net_call *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!call || call->hdr_overflow)
        return 0;
    call->hdr_bytes += namelen + valuelen + 32;
    if (call->hdr_bytes > MAX_HDR_BYTES || call->n_hdrs >= MAX_HDR_COUNT ||
        memchr(name, 0, namelen) || memchr(value, 0, valuelen)) {
        call->hdr_overflow = true;
        return 0;
    }
    call->hdrs = bs_realloc(call->hdrs, (call->n_hdrs + 1) * sizeof *call->hdrs);
    hdr_ent *h = &call->hdrs[call->n_hdrs++];
    h->name = bs_malloc(namelen + 1);
    memcpy(h->name, name, namelen);
    h->name[namelen] = 0;
    h->value = bs_malloc(valuelen + 1);
    memcpy(h->value, value, valuelen);
    h->value[valuelen] = 0;
    h->vlen = valuelen;
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    h2_conn *c = ud;
    h2_conn_on_frame_recv(c, frame);
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    net_call *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!call)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        start_call(call);
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
        remote_half_close(call);
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *ud)
{
    net_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!call || !call->started || call->ended)
        return 0;
    int rc = net_deframer_feed(&call->defr, data, len, call->max_recv, on_deframed, call);
    if (rc == BS_ETOOLARGE) {
        char msg[128];
        snprintf(msg, sizeof msg, "received message larger than max (%u vs. %u)", call->defr.need,
                 call->max_recv);
        call_fail(call, NET_GRPC_RESOURCE_EXHAUSTED, msg);
    } else if (rc != BS_OK) {
        call_fail(call, NET_GRPC_INTERNAL, "malformed message prefix");
    }
    return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    net_call *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!call)
        return 0;
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        /* Our side is done; a client still sending is told to stop (PROTOCOL-HTTP2.md:
         * RST_STREAM NO_ERROR after the trailers). */
        if (!call->remote_closed)
            (void)nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                            NGHTTP2_NO_ERROR);
        return 0;
    }
    if (frame->hd.type == NGHTTP2_DATA && call->above_high && !call->ended &&
        net_outq_len(&call->outq) <= NET_CALL_HIGH_WATER / 2) {
        call->above_high = false;
        if (call->m.on_writable)
            call->m.on_writable(call, call->m.arg);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *ud)
{
    h2_conn *c = ud;
    net_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!call)
        return 0;
    (void)c;
    call_detach(call); /* after GOAWAY, the last close makes want_read false: h2_conn closes */
    return 0;
}

static int server_session_new(h2_conn *c)
{
    net_server *s = conn_server(c);
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    int rv = nghttp2_session_server_new(&c->session, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HDR_BYTES},
    };
    if (nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 3) != 0 ||
        nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, 16 << 20) != 0) {
        nghttp2_session_del(c->session);
        c->session = NULL;
        return -1;
    }
    return 0;
}

static void server_conn_closed(h2_conn *c)
{
    while (c->calls)
        call_detach(c->calls);
    net_server_conn_gone(conn_server(c), c);
}

const h2_role net_server_role = {
    .session_new = server_session_new,
    .on_close = server_conn_closed,
};
