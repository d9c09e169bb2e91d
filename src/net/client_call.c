/* client_call.c -- the client side of gRPC streams: one net_ccall per HTTP/2 stream.
 *
 * A call submits its request HEADERS at once (:method POST, :scheme, :path, :authority,
 * te: trailers, content-type application/grpc, grpc-timeout when it has a deadline, then
 * the caller's metadata); messages leave through an nghttp2 data provider fed by the
 * call's queue, and close_send ends the stream after the queue. Response HEADERS, DATA
 * (deframed into on_message) and trailers come back; the status is taken from
 * grpc-status, or derived from the HTTP status or the RST_STREAM code when the server
 * sent none (grpc/grpc doc/http-grpc-status-mapping.md).
 *
 * on_finish runs exactly once per call, and the call is freed right after it -- unless
 * the call is inside one of its own callbacks (busy > 0), in which case the free waits
 * until that callback has returned. Local endings (deadline, cancel, an over-limit
 * message) reset the stream with CANCEL and finish the call immediately. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "net/net_int.h"

struct net_ccall {
    net_loop *loop;
    net_client *client;
    h2_conn *conn; /* NULL once detached */
    int32_t stream_id;
    net_ccall *prev, *next; /* conn->calls, while attached */
    net_ccall_ops ops;
    uint32_t max_recv;
    net_deframer defr;
    net_outq outq;
    net_timer *timer; /* the deadline, or an immediate failure */
    int busy;         /* nesting depth of our callbacks; the free waits for 0 */
    bool send_closed, data_deferred, finished, free_pending;
    bool early; /* on client->early (no stream), prev/next link that list */
    int http_status;
    bool got_status;
    int grpc_status;
    bs_buf grpc_message; /* raw (still percent-encoded) */
    int early_status;    /* status for a call that failed before it had a stream */
    char early_msg[128];
};

static void ccall_free(net_ccall *cc)
{
    net_deframer_deinit(&cc->defr);
    net_outq_deinit(&cc->outq);
    net_timer_free(cc->timer);
    bs_buf_free(&cc->grpc_message);
    bs_free(cc);
}

static void ccall_unlink(net_ccall *cc)
{
    if (cc->early) {
        if (cc->prev)
            cc->prev->next = cc->next;
        else
            cc->client->early = cc->next;
        if (cc->next)
            cc->next->prev = cc->prev;
        cc->prev = cc->next = NULL;
        cc->early = false;
        return;
    }
    h2_conn *c = cc->conn;
    if (!c)
        return;
    if (c->session && cc->stream_id > 0)
        (void)nghttp2_session_set_stream_user_data(c->session, cc->stream_id, NULL);
    if (cc->prev)
        cc->prev->next = cc->next;
    else
        c->calls = cc->next;
    if (cc->next)
        cc->next->prev = cc->prev;
    cc->prev = cc->next = NULL;
    cc->conn = NULL;
}

static void ccall_finish(net_ccall *cc, int status, const char *msg)
{
    if (cc->finished)
        return;
    cc->finished = true;
    ccall_unlink(cc);
    if (cc->timer)
        net_timer_disarm(cc->timer);
    cc->busy++;
    if (cc->ops.on_finish)
        cc->ops.on_finish(cc, status, msg ? msg : "", cc->ops.arg);
    cc->busy--;
    if (cc->busy > 0)
        cc->free_pending = true;
    else
        ccall_free(cc);
}

/* Ends the call locally: reset the stream, report status. */
static void ccall_abort(net_ccall *cc, int status, const char *msg)
{
    h2_conn *c = cc->conn;
    if (c && c->session && cc->stream_id > 0)
        (void)nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, cc->stream_id,
                                        NGHTTP2_CANCEL);
    ccall_finish(cc, status, msg);
    if (c)
        h2_conn_flush(c);
}

static void timer_fire(void *arg)
{
    net_ccall *cc = arg;
    if (cc->early_status != 0)
        ccall_finish(cc, cc->early_status, cc->early_msg);
    else
        ccall_abort(cc, NET_GRPC_DEADLINE_EXCEEDED, "Deadline Exceeded");
}

static ssize_t req_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                        uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    /* The stream's user data, not source->ptr: a call finished locally (cancel,
     * deadline) is freed while its RST_STREAM is still queued, and unlinking clears the
     * user data. */
    net_ccall *cc = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!cc)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t n = net_outq_pop(&cc->outq, buf, length);
    if (net_outq_len(&cc->outq) == 0 && cc->send_closed) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)n;
    }
    if (n == 0) {
        cc->data_deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

#define NVS(n, v)                                                                                  \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE                 \
    }

/* The call cannot get a stream: report it on a later loop turn (never inside start). */
static void fail_early(net_ccall *cc, int status)
{
    net_client *c = cc->client;
    cc->early_status = status;
    cc->early = true;
    cc->prev = NULL;
    cc->next = c->early;
    if (cc->next)
        cc->next->prev = cc;
    c->early = cc;
    net_timer_arm(cc->timer, 0);
}

void net_ccalls_fail_early(net_client *c, int status, const char *msg)
{
    while (c->early)
        ccall_finish(c->early, status, msg);
}

net_ccall *net_client_start(net_client *c, const char *path, int64_t timeout_ms,
                            const net_metadata *md, size_t md_count, const net_ccall_ops *ops,
                            bs_err *err)
{
    BS_DASSERT(net_loop_in_thread(c->loop));
    if (!path || path[0] != '/' || !ops || !ops->on_finish || timeout_ms < 0 ||
        (md_count > 0 && !md)) {
        bs_err_setf(err, BS_EINVAL, "grpc client: bad call arguments");
        return NULL;
    }
    net_ccall *cc = bs_calloc(1, sizeof *cc);
    cc->loop = c->loop;
    cc->client = c;
    cc->ops = *ops;
    cc->max_recv = c->max_recv_msg;
    net_deframer_init(&cc->defr);
    net_outq_init(&cc->outq);
    bs_buf_init(&cc->grpc_message);
    cc->timer = net_timer_new(c->loop, timer_fire, cc);

    h2_conn *conn = net_client_get_conn(c, cc->early_msg, sizeof cc->early_msg);
    if (!conn) {
        fail_early(cc, NET_GRPC_UNAVAILABLE);
        return cc;
    }
    char tmo[16];
    nghttp2_nv *nv = bs_malloc((9 + md_count) * sizeof *nv);
    size_t n = 0;
    nv[n++] = (nghttp2_nv)NVS(":method", "POST");
    nv[n++] = (nghttp2_nv)NVS(":scheme", c->ssl_ctx ? "https" : "http");
    nv[n++] = (nghttp2_nv)NVS(":path", path);
    nv[n++] = (nghttp2_nv)NVS(":authority", c->authority);
    nv[n++] = (nghttp2_nv)NVS("te", "trailers");
    nv[n++] = (nghttp2_nv)NVS("content-type", "application/grpc");
    nv[n++] = (nghttp2_nv)NVS("user-agent", "grpc-c-basalt/0.1");
    if (timeout_ms > 0) {
        net_format_grpc_timeout(timeout_ms, tmo);
        nv[n++] = (nghttp2_nv)NVS("grpc-timeout", tmo);
    }
    for (size_t i = 0; i < md_count; i++)
        nv[n++] = (nghttp2_nv)NVS(md[i].name, md[i].value);
    nghttp2_data_provider dp = {.source.ptr = NULL, .read_callback = req_read};
    int32_t id = nghttp2_submit_request(conn->session, NULL, nv, n, &dp, cc);
    bs_free(nv);
    if (id < 0) {
        snprintf(cc->early_msg, sizeof cc->early_msg, "submit request: %s", nghttp2_strerror(id));
        fail_early(cc, NET_GRPC_UNAVAILABLE);
        return cc;
    }
    cc->stream_id = id;
    cc->conn = conn;
    cc->next = conn->calls;
    if (cc->next)
        cc->next->prev = cc;
    conn->calls = cc;
    if (timeout_ms > 0)
        net_timer_arm(cc->timer, timeout_ms);
    h2_conn_flush(conn);
    return cc;
}

int net_ccall_send(net_ccall *cc, const void *msg, size_t len)
{
    BS_DASSERT(net_loop_in_thread(cc->loop));
    if (cc->finished || cc->send_closed)
        return BS_ESTATE;
    if (len > UINT32_MAX)
        return BS_ETOOLARGE;
    net_outq_push_msg(&cc->outq, msg, len);
    if (cc->conn && cc->data_deferred) {
        cc->data_deferred = false;
        (void)nghttp2_session_resume_data(cc->conn->session, cc->stream_id);
    }
    if (cc->conn)
        h2_conn_flush(cc->conn);
    return BS_OK;
}

void net_ccall_close_send(net_ccall *cc)
{
    BS_DASSERT(net_loop_in_thread(cc->loop));
    if (cc->finished || cc->send_closed)
        return;
    cc->send_closed = true;
    if (cc->conn && cc->data_deferred) {
        cc->data_deferred = false;
        (void)nghttp2_session_resume_data(cc->conn->session, cc->stream_id);
    }
    if (cc->conn)
        h2_conn_flush(cc->conn);
}

void net_ccall_cancel(net_ccall *cc)
{
    BS_DASSERT(net_loop_in_thread(cc->loop));
    BS_ASSERT(!cc->finished);
    ccall_abort(cc, NET_GRPC_CANCELLED, "Cancelled");
}

size_t net_ccall_queued(const net_ccall *cc)
{
    return net_outq_len(&cc->outq);
}

net_ccall *net_client_unary(net_client *c, const char *path, bs_slice req, int64_t timeout_ms,
                            const net_ccall_ops *ops, bs_err *err)
{
    net_ccall *cc = net_client_start(c, path, timeout_ms, NULL, 0, ops, err);
    if (!cc)
        return NULL;
    if (net_ccall_send(cc, req.ptr, req.len) != BS_OK) {
        /* Only an early-failed call refuses; its on_finish is already scheduled. */
        return cc;
    }
    net_ccall_close_send(cc);
    return cc;
}

/* ---- nghttp2 callbacks -------------------------------------------------------------- */

static int status_from_http(int http)
{
    switch (http) {
    case 400:
        return NET_GRPC_INTERNAL;
    case 401:
        return NET_GRPC_UNAUTHENTICATED;
    case 403:
        return NET_GRPC_PERMISSION_DENIED;
    case 404:
        return NET_GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return NET_GRPC_UNAVAILABLE;
    default:
        return NET_GRPC_UNKNOWN;
    }
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    net_ccall *cc = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!cc)
        return 0;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        int v = 0;
        for (size_t i = 0; i < valuelen && i < 4; i++)
            v = v * 10 + (value[i] >= '0' && value[i] <= '9' ? value[i] - '0' : 0);
        cc->http_status = v;
    } else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        int v = 0;
        bool ok = valuelen > 0 && valuelen <= 3;
        for (size_t i = 0; ok && i < valuelen; i++) {
            if (value[i] < '0' || value[i] > '9')
                ok = false;
            else
                v = v * 10 + (value[i] - '0');
        }
        cc->got_status = true;
        cc->grpc_status = ok ? v : NET_GRPC_UNKNOWN;
    } else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
        bs_buf_reset(&cc->grpc_message);
        bs_buf_append(&cc->grpc_message, value, valuelen > 1024 ? 1024 : valuelen);
    }
    return 0;
}

static int on_message(void *ctx, uint8_t flag, const uint8_t *msg, size_t len)
{
    net_ccall *cc = ctx;
    if (cc->finished)
        return 1;
    if (flag != 0) {
        ccall_abort(cc, NET_GRPC_INTERNAL, "compressed message without grpc-encoding");
        return 1;
    }
    if (cc->ops.on_message)
        cc->ops.on_message(cc, bs_slice_make(msg, len), cc->ops.arg);
    return cc->finished ? 1 : 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *ud)
{
    net_ccall *cc = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!cc || cc->finished)
        return 0;
    cc->busy++;
    int rc = net_deframer_feed(&cc->defr, data, len, cc->max_recv, on_message, cc);
    if (rc == BS_ETOOLARGE)
        ccall_abort(cc, NET_GRPC_RESOURCE_EXHAUSTED, "received message larger than max");
    else if (rc != BS_OK)
        ccall_abort(cc, NET_GRPC_INTERNAL, "malformed message prefix");
    cc->busy--;
    if (cc->busy == 0 && cc->free_pending)
        ccall_free(cc);
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    h2_conn_on_frame_recv(ud, frame);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *ud)
{
    net_ccall *cc = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!cc)
        return 0;
    int status;
    bs_buf msg = BS_BUF_INIT;
    if (cc->got_status) {
        status = cc->grpc_status;
        net_percent_decode(cc->grpc_message.ptr, cc->grpc_message.len, &msg);
    } else if (cc->http_status != 0 && cc->http_status != 200) {
        status = status_from_http(cc->http_status);
        char t[48];
        snprintf(t, sizeof t, "HTTP status %d", cc->http_status);
        bs_buf_append(&msg, t, strlen(t) + 1);
    } else if (error_code == NGHTTP2_REFUSED_STREAM) {
        status = NET_GRPC_UNAVAILABLE;
        bs_buf_append(&msg, "stream refused", 15);
    } else if (error_code == NGHTTP2_CANCEL) {
        status = NET_GRPC_CANCELLED;
        bs_buf_append(&msg, "stream cancelled by server", 27);
    } else {
        status = NET_GRPC_INTERNAL;
        const char *t = error_code ? "stream reset by server" : "stream closed without grpc-status";
        bs_buf_append(&msg, t, strlen(t) + 1);
    }
    ccall_finish(cc, status, (const char *)msg.ptr);
    bs_buf_free(&msg);
    return 0;
}

static int client_session_new(h2_conn *c)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    int rv = nghttp2_session_client_new(&c->session, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20},
    };
    if (nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
        nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, 16 << 20) != 0) {
        nghttp2_session_del(c->session);
        c->session = NULL;
        return -1;
    }
    return 0;
}

void net_ccalls_fail_all(h2_conn *conn, int status, const char *msg)
{
    while (conn->calls) {
        net_ccall *cc = conn->calls;
        ccall_unlink(cc);
        ccall_finish(cc, status, msg);
    }
}

static void client_conn_closed(h2_conn *c)
{
    net_client_conn_gone(c->owner, c); /* first, so on_finish cannot pick this conn */
    net_ccalls_fail_all(c, NET_GRPC_UNAVAILABLE, "connection closed");
}

const h2_role net_client_role = {
    .session_new = client_session_new,
    .on_close = client_conn_closed,
};
