/* grpc_util.c -- plumbing shared by the gRPC services: how a net_method becomes a unary or
 * streaming handler, the arena response messages are built in, and the few protobuf wire
 * primitives the services encode by hand (BatchCommands wrappers, generic error replies).
 *
 * Unary calls. net/ delivers on_start, on_message (per message), on_half_close. A unary
 * handler wants exactly one request, so the wrapper keeps the bytes of the first message
 * on the call (net_call_set_user) and dispatches at half-close, as grpc servers do; a
 * second message ends the call (INTERNAL), and so does a half-close without one. While the
 * bytes wait, user != NULL and a cancel frees them and finishes the call. Once dispatched,
 * user is NULL and the handler owns the finish: a cancel with user == NULL does nothing
 * (the asynchronous handler finishes the call when its work completes, and net_call_send
 * then just reports the call ended).
 *
 * Synchronous streams (Tso, RegionHeartbeat, QueryRegion) answer every message inside
 * on_message, so they need no state at all. */
#include <stdio.h>
#include <string.h>

#include "common/codec.h"
#include "common/log.h"
#include "server/grpc_int.h"

/* ---- arena ---------------------------------------------------------------------------- */

struct srv_grpc_arena_blk {
    srv_grpc_arena_blk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define ARENA_BLOCK 4096

void *srv_grpc_arena_alloc(srv_grpc_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    srv_grpc_arena_blk *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        b = bs_malloc(sizeof(*b) + cap);
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *srv_grpc_arena_strdup(srv_grpc_arena *a, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    char *d = srv_grpc_arena_alloc(a, n + 1);
    memcpy(d, s, n);
    return d;
}

ProtobufCBinaryData srv_grpc_arena_bytes(srv_grpc_arena *a, bs_slice s)
{
    ProtobufCBinaryData b = {s.len, NULL};
    if (s.len) {
        b.data = srv_grpc_arena_alloc(a, s.len);
        memcpy(b.data, s.ptr, s.len);
    }
    return b;
}

void srv_grpc_arena_free(srv_grpc_arena *a)
{
    while (a->head) {
        srv_grpc_arena_blk *b = a->head;
        a->head = b->next;
        bs_free(b);
    }
}

/* ---- packing ------------------------------------------------------------------------------ */

void srv_grpc_pack(const ProtobufCMessage *m, bs_buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    if (n == 0)
        return; /* an all-default message packs to nothing */
    bs_buf_reserve(out, n);
    size_t w = protobuf_c_message_pack(m, out->ptr + out->len);
    out->len += w;
}

ProtobufCMessage *srv_grpc_unpack(const ProtobufCMessageDescriptor *desc, bs_slice bytes, char *msg,
                                  size_t msg_cap)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, bytes.len, bytes.ptr);
    if (!m && msg && msg_cap)
        snprintf(msg, msg_cap, "grpc: error unmarshalling request: malformed %s (%zu bytes)",
                 desc->name, bytes.len);
    return m;
}

void srv_grpc_wire_key(bs_buf *b, uint32_t field, int wire_type)
{
    bs_varint_append(b, ((uint64_t)field << 3) | (uint64_t)wire_type);
}

void srv_grpc_wire_bytes(bs_buf *b, uint32_t field, bs_slice bytes)
{
    srv_grpc_wire_key(b, field, SRV_GRPC_WIRE_LEN);
    bs_varint_append(b, bytes.len);
    bs_buf_append_slice(b, bytes);
}

int srv_grpc_wire_next(bs_slice *in, uint32_t *field, int *wire_type, uint64_t *num,
                       bs_slice *bytes)
{
    if (in->len == 0)
        return BS_NOTFOUND;
    bs_slice p = *in;
    uint64_t key = 0;
    if (bs_varint_read(&p, &key) != BS_OK)
        return BS_ECORRUPT;
    uint64_t f = key >> 3;
    int wt = (int)(key & 7);
    if (f == 0 || f > 0x1FFFFFFF)
        return BS_ECORRUPT;
    *num = 0;
    *bytes = BS_SLICE_NULL;
    switch (wt) {
    case SRV_GRPC_WIRE_VARINT:
        if (bs_varint_read(&p, num) != BS_OK)
            return BS_ECORRUPT;
        break;
    case SRV_GRPC_WIRE_I64:
        if (p.len < 8)
            return BS_ECORRUPT;
        for (int i = 7; i >= 0; i--)
            *num = (*num << 8) | p.ptr[i];
        p.ptr += 8;
        p.len -= 8;
        break;
    case SRV_GRPC_WIRE_I32:
        if (p.len < 4)
            return BS_ECORRUPT;
        for (int i = 3; i >= 0; i--)
            *num = (*num << 8) | p.ptr[i];
        p.ptr += 4;
        p.len -= 4;
        break;
    case SRV_GRPC_WIRE_LEN: {
        uint64_t n = 0;
        if (bs_varint_read(&p, &n) != BS_OK || n > p.len)
            return BS_ECORRUPT;
        *bytes = bs_slice_make(p.ptr, (size_t)n);
        p.ptr += n;
        p.len -= (size_t)n;
        break;
    }
    default: /* groups (3, 4) and 6, 7 are not valid in proto3 */
        return BS_ECORRUPT;
    }
    *field = (uint32_t)f;
    *wire_type = wt;
    *in = p;
    return BS_OK;
}

/* ---- unary calls ---------------------------------------------------------------------- */

/* The bytes of a unary call's request until its handler runs. */
typedef struct unary_wait {
    bs_buf req;
    bool have;
} unary_wait;

static void unary_start(net_call *call, void *arg)
{
    unary_wait *w = bs_calloc(1, sizeof(*w));
    net_call_set_user(call, w);
}

static void unary_drop(net_call *call)
{
    unary_wait *w = net_call_user(call);
    if (w) {
        bs_buf_free(&w->req);
        bs_free(w);
        net_call_set_user(call, NULL);
    }
}

static void unary_collect(net_call *call, bs_slice msg)
{
    unary_wait *w = net_call_user(call);
    if (!w)
        return;
    if (w->have) {
        unary_drop(call);
        net_call_finish(call, NET_GRPC_INTERNAL,
                        "grpc: more than one request message on a unary call");
        return;
    }
    w->have = true;
    bs_buf_set(&w->req, msg.ptr, msg.len);
}

static void unary_message(net_call *call, bs_slice msg, void *arg)
{
    unary_collect(call, msg);
}

/* Takes the request out of the call (caller frees *req); false (and the call finished)
 * when there is none. */
static bool unary_take(net_call *call, bs_buf *req)
{
    unary_wait *w = net_call_user(call);
    if (!w)
        return false; /* already finished by unary_collect */
    bool have = w->have;
    *req = w->req;
    w->req = BS_BUF_INIT;
    unary_drop(call);
    if (!have) {
        bs_buf_free(req);
        net_call_finish(call, NET_GRPC_INTERNAL, "grpc: no request message on a unary call");
        return false;
    }
    return true;
}

static void unary_sync_half_close(net_call *call, void *arg)
{
    srv_grpc_binding *b = arg;
    bs_buf req = BS_BUF_INIT, resp = BS_BUF_INIT;
    if (!unary_take(call, &req))
        return;
    char msg[BS_ERR_MSG_MAX] = "";
    int st = b->sync(b, bs_buf_slice(&req), &resp, msg, sizeof msg);
    if (st == NET_GRPC_OK)
        (void)net_call_send(call, resp.ptr, resp.len); /* BS_ESTATE: the peer left */
    net_call_finish(call, st == SRV_GRPC_NO_REPLY ? NET_GRPC_OK : st,
                    st == NET_GRPC_OK ? NULL : msg);
    bs_buf_free(&req);
    bs_buf_free(&resp);
}

static void unary_async_half_close(net_call *call, void *arg)
{
    srv_grpc_binding *b = arg;
    bs_buf req = BS_BUF_INIT;
    if (!unary_take(call, &req))
        return;
    b->async(b, call, bs_buf_slice(&req)); /* owns the finish from here */
    bs_buf_free(&req);
}

static void unary_cancel(net_call *call, void *arg)
{
    if (!net_call_user(call))
        return; /* an asynchronous handler owns the call and will finish it */
    unary_drop(call);
    net_call_finish(call, NET_GRPC_CANCELLED, NULL);
}

int srv_grpc_add_unary_sync(net_server *s, const char *path, srv_grpc_binding *b, bs_err *err)
{
    net_method m = {path, unary_start, unary_message, unary_sync_half_close, unary_cancel, NULL, b};
    return net_server_add_method(s, &m, err);
}

int srv_grpc_add_unary_async(net_server *s, const char *path, srv_grpc_binding *b, bs_err *err)
{
    net_method m = {path, unary_start, unary_message, unary_async_half_close, unary_cancel, NULL,
                    b};
    return net_server_add_method(s, &m, err);
}

/* ---- synchronous streams ------------------------------------------------------------------ */

static void stream_start(net_call *call, void *arg)
{
}

static void stream_message(net_call *call, bs_slice msg, void *arg)
{
    srv_grpc_binding *b = arg;
    bs_buf resp = BS_BUF_INIT;
    char emsg[BS_ERR_MSG_MAX] = "";
    int st = b->sync(b, msg, &resp, emsg, sizeof emsg);
    if (st == NET_GRPC_OK)
        (void)net_call_send(call, resp.ptr, resp.len);
    else if (st != SRV_GRPC_NO_REPLY)
        net_call_finish(call, st, emsg); /* net delivers nothing more after a finish */
    bs_buf_free(&resp);
}

static void stream_half_close(net_call *call, void *arg)
{
    net_call_finish(call, NET_GRPC_OK, NULL);
}

static void stream_cancel(net_call *call, void *arg)
{
    net_call_finish(call, NET_GRPC_CANCELLED, NULL);
}

int srv_grpc_add_stream_sync(net_server *s, const char *path, srv_grpc_binding *b, bs_err *err)
{
    net_method m = {path, stream_start, stream_message, stream_half_close, stream_cancel, NULL, b};
    return net_server_add_method(s, &m, err);
}
