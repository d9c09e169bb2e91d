/* h2_conn.c -- one HTTP/2 connection: moves bytes between a transport and nghttp2.
 *
 * nghttp2 is used in its memory mode: received bytes go in with nghttp2_session_mem_recv,
 * frames to send come out of nghttp2_session_mem_send and are appended to the
 * bufferevent's output buffer -- but only while that buffer holds less than OUT_HIGH
 * bytes. When the socket drains it below OUT_LOW the write callback pulls more. So the
 * memory a connection holds is bounded by the kernel, OUT_HIGH and the per-stream queues
 * (which handlers bound with net_call_writable); nghttp2's flow-control windows decide
 * which stream's DATA goes next.
 *
 * Closing never frees anything under a caller: h2_conn_close() only stops I/O and arms a
 * zero-delay timer, and the connection (with the cancel callbacks of its calls) is torn
 * down on a fresh loop turn. The memory transport (fuzz target) has no socket: its output
 * goes to a function and it is torn down explicitly with h2_conn_destroy().
 *
 * Keepalive: every ka_interval_ms the connection sends a PING; if its ACK does not arrive
 * within ka_timeout_ms the peer is presumed dead and the connection is closed. Incoming
 * PINGs are acknowledged by nghttp2 itself, and no ping rate is ever policed (TiKV
 * clients ping every 10 s). */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <string.h>

#include "common/assert.h"
#include "common/log.h"
#include "net/net_int.h"

#define OUT_HIGH (256u * 1024u)
#define OUT_LOW (64u * 1024u)

static void ka_fire(void *arg);

static void close_fire(void *arg)
{
    h2_conn_destroy(arg);
}

static void maybe_idle(h2_conn *c)
{
    if (c->closing || !c->session)
        return;
    if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session))
        h2_conn_close_when_idle(c);
}

void h2_conn_flush(h2_conn *c)
{
    if (c->closing || c->in_session > 0 || !c->session)
        return;
    c->in_session++;
    for (;;) {
        if (c->bev && evbuffer_get_length(bufferevent_get_output(c->bev)) >= OUT_HIGH)
            break;
        const uint8_t *data = NULL;
        ssize_t n = nghttp2_session_mem_send(c->session, &data);
        if (n < 0) {
            c->in_session--;
            h2_conn_close(c);
            return;
        }
        if (n == 0)
            break;
        if (c->bev) {
            if (bufferevent_write(c->bev, data, (size_t)n) != 0) {
                c->in_session--;
                h2_conn_close(c);
                return;
            }
        } else if (c->mem.write) {
            c->mem.write(c->mem.arg, data, (size_t)n);
        }
    }
    c->in_session--;
    maybe_idle(c);
}

/* Is stream id idle (never opened by either side)? RFC 9113 §5.1 makes any frame but
 * HEADERS/PRIORITY on an idle stream a connection error, and nghttp2 enforces it. */
static bool stream_idle(h2_conn *c, uint32_t id)
{
    if (id == 0)
        return false; /* the connection itself: nghttp2 judges it */
    bool server = c->role == &net_server_role;
    bool peer_stream = (id & 1) == (server ? 1u : 0u); /* clients open odd streams */
    if (!peer_stream) /* ours: idle unless we opened it (servers never open streams) */
        return server || id >= (uint32_t)nghttp2_session_get_next_stream_id(c->session);
    return (int32_t)id > nghttp2_session_get_last_proc_stream_id(c->session);
}

/* Hands bytes to nghttp2. Returns false after a connection error (already handled). */
static bool recv_bytes(h2_conn *c, const uint8_t *p, size_t n)
{
    if (n == 0)
        return true;
    c->in_session++;
    ssize_t rv = nghttp2_session_mem_recv(c->session, p, n);
    c->in_session--;
    if (rv < 0) {
        BS_LOG_DEBUG("http2 connection error", "err=%s", nghttp2_strerror((int)rv));
        /* A connection error: nghttp2 has queued GOAWAY where it could; send what we can
         * and close. */
        h2_conn_flush(c);
        h2_conn_close_when_idle(c);
        return false;
    }
    return !c->closing && !c->flush_then_close && c->session;
}

/* Received bytes go to nghttp2 frame by frame, except a RST_STREAM for an idle stream:
 * grpcio sends one when a call is cancelled before its HEADERS went out, and to nghttp2
 * that is a connection error that would kill every other call on the connection. gRPC
 * servers ignore it (nothing is running on that stream), so it is dropped here. */
void h2_conn_feed(h2_conn *c, const uint8_t *p, size_t n)
{
    if (c->closing || c->flush_then_close || !c->session)
        return;
    while (n > 0) {
        size_t take;
        if (c->preface_left || c->pass) { /* pass-through runs */
            uint32_t *left = c->preface_left ? &c->preface_left : &c->pass;
            take = n < *left ? n : *left;
            if (!recv_bytes(c, p, take))
                return;
            *left -= (uint32_t)take;
        } else if (c->skip) {
            take = n < c->skip ? n : c->skip;
            c->skip -= (uint32_t)take;
        } else {
            take = 9 - c->hdr_have;
            if (take > n)
                take = n;
            memcpy(c->hdr + c->hdr_have, p, take);
            c->hdr_have += (uint32_t)take;
            if (c->hdr_have == 9) {
                uint32_t len = (uint32_t)c->hdr[0] << 16 | (uint32_t)c->hdr[1] << 8 | c->hdr[2];
                uint32_t id = ((uint32_t)c->hdr[5] << 24 | (uint32_t)c->hdr[6] << 16 |
                               (uint32_t)c->hdr[7] << 8 | c->hdr[8]) & 0x7fffffffu;
                c->hdr_have = 0;
                if (c->hdr[3] == NGHTTP2_RST_STREAM && len == 4 && stream_idle(c, id)) {
                    BS_LOG_DEBUG("ignoring RST_STREAM for an idle stream", "stream_id=%u", id);
                    c->skip = len;
                } else {
                    if (!recv_bytes(c, c->hdr, 9))
                        return;
                    c->pass = len;
                }
            }
        }
        p += take;
        n -= take;
    }
    h2_conn_flush(c);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    h2_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (!c->closing && !c->flush_then_close && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        size_t len = v.iov_len;
        h2_conn_feed(c, v.iov_base, len);
        evbuffer_drain(in, len);
    }
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    h2_conn *c = arg;
    if (c->flush_then_close) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            h2_conn_close(c);
        return;
    }
    h2_conn_flush(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    h2_conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        bufferevent_set_timeouts(bev, NULL, NULL); /* the connect timeout is over */
        h2_conn_flush(c);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        h2_conn_close(c);
}

h2_conn *h2_conn_new(net_loop *loop, const h2_role *role, void *owner, struct bufferevent *bev,
                     const h2_mem_transport *mem, int64_t ka_interval_ms, int64_t ka_timeout_ms)
{
    h2_conn *c = bs_calloc(1, sizeof *c);
    c->loop = loop;
    c->role = role;
    c->owner = owner;
    c->bev = bev;
    if (mem)
        c->mem = *mem;
    c->ka_interval_ms = ka_interval_ms;
    c->ka_timeout_ms = ka_timeout_ms > 0 ? ka_timeout_ms : 3000;
    /* A server first reads the client's 24-byte preface, which is not a frame. */
    c->preface_left = role == &net_server_role ? 24 : 0;
    c->close_timer = net_timer_new(loop, close_fire, c);
    if (role->session_new(c) != 0) {
        if (bev)
            bufferevent_free(bev);
        net_timer_free(c->close_timer);
        bs_free(c);
        return NULL;
    }
    if (bev) {
        bufferevent_setcb(bev, read_cb, write_cb, event_cb, c);
        bufferevent_setwatermark(bev, EV_WRITE, OUT_LOW, 0);
        if (bufferevent_enable(bev, EV_READ | EV_WRITE) != 0) {
            c->closing = true;
            net_timer_arm(c->close_timer, 0);
            return c;
        }
    }
    if (ka_interval_ms > 0) {
        c->ka_timer = net_timer_new(loop, ka_fire, c);
        net_timer_arm(c->ka_timer, ka_interval_ms);
    }
    return c;
}

void h2_conn_close(h2_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->bev)
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    if (c->ka_timer)
        net_timer_disarm(c->ka_timer);
    net_timer_arm(c->close_timer, 0);
}

void h2_conn_close_when_idle(h2_conn *c)
{
    if (c->closing || c->flush_then_close)
        return;
    if (!c->bev || evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        h2_conn_close(c);
        return;
    }
    c->flush_then_close = true;
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

void h2_conn_destroy(h2_conn *c)
{
    c->closing = true;
    net_timer_free(c->ka_timer);
    c->ka_timer = NULL;
    net_timer_free(c->close_timer);
    c->close_timer = NULL;
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    if (c->session) {
        nghttp2_session_del(c->session);
        c->session = NULL;
    }
    c->role->on_close(c); /* cancels calls and unlinks c from its owner */
    bs_free(c);
}

static void ka_fire(void *arg)
{
    h2_conn *c = arg;
    if (c->closing || !c->session)
        return;
    if (c->ping_outstanding) {
        BS_LOG_INFO("grpc connection keepalive timeout", "timeout_ms=%lld",
                    (long long)c->ka_timeout_ms);
        h2_conn_close(c); /* no PING ACK within ka_timeout_ms */
        return;
    }
    if (nghttp2_submit_ping(c->session, NGHTTP2_FLAG_NONE, NULL) != 0) {
        h2_conn_close(c);
        return;
    }
    c->ping_outstanding = true;
    net_timer_arm(c->ka_timer, c->ka_timeout_ms);
    h2_conn_flush(c);
}

void h2_conn_on_frame_recv(h2_conn *c, const nghttp2_frame *f)
{
    if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK)) {
        if (c->ping_outstanding && c->ka_timer) {
            c->ping_outstanding = false;
            net_timer_arm(c->ka_timer, c->ka_interval_ms);
        }
    } else if (f->hd.type == NGHTTP2_GOAWAY) {
        c->goaway_recv = true;
    }
}
