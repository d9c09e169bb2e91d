/* fuzz_grpc_frames.c -- arbitrary bytes into the gRPC server side, as if from a socket.
 *
 * Each input becomes one server connection on a memory transport (no socket, no thread):
 * the bytes are fed to h2_conn in chunks, through nghttp2 and server_call.c into a small
 * echo service, and the connection is then destroyed, which cancels whatever calls are
 * left. The server, its loop and the service persist across inputs, so a call or a
 * connection that outlives its input shows up as a leak at exit. Output frames are
 * discarded (their byte count is kept so the compiler cannot drop the work).
 *
 * Input layout: byte 0 selects options -- bit 0: prepend the HTTP/2 client preface (so
 * mutations reach frame parsing without rediscovering the magic); bits 1-3: chunk size
 * class for feeding. The rest is the byte stream. Seeds in
 * tests/fuzz/corpus/fuzz_grpc_frames/ are request sequences captured from an HTTP/2
 * client: preface, SETTINGS, HEADERS, DATA, RST_STREAM, PING, WINDOW_UPDATE. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/net_int.h"

static net_loop *loop;
static net_server *srv;
static size_t out_bytes;

static void sink(void *arg, const uint8_t *p, size_t n)
{
    out_bytes += n;
}

static void start_noop(net_call *call, void *arg)
{
}

static void echo(net_call *call, bs_slice msg, void *arg)
{
    (void)net_call_send(call, msg.ptr, msg.len); /* BS_ESTATE after an end is fine */
}

static void finish_ok(net_call *call, void *arg)
{
    net_call_finish(call, NET_GRPC_OK, NULL);
}

static void finish_cancelled(net_call *call, void *arg)
{
    net_call_finish(call, NET_GRPC_CANCELLED, NULL);
}

static void start_fail(net_call *call, void *arg)
{
    size_t len = 0;
    const char *v = net_call_header(call, "x-why", &len);
    net_call_finish(call, NET_GRPC_FAILED_PRECONDITION, v ? v : "no \xff reason");
}

static void count_msg(net_call *call, bs_slice msg, void *arg)
{
    net_call_set_user(call, (void *)((uintptr_t)net_call_user(call) + 1));
    if ((uintptr_t)net_call_user(call) == 3)
        net_call_finish(call, NET_GRPC_OK, "three is enough");
}

static void count_cancel(net_call *call, void *arg)
{
    if ((uintptr_t)net_call_user(call) != 3)
        net_call_finish(call, NET_GRPC_CANCELLED, NULL);
}

static void count_half_close(net_call *call, void *arg)
{
    if ((uintptr_t)net_call_user(call) != 3)
        net_call_finish(call, NET_GRPC_OK, NULL);
}

static const net_method methods[] = {
    {"/f.Echo/Unary", start_noop, echo, finish_ok, finish_cancelled, NULL, NULL},
    {"/f.Echo/Bidi", start_noop, echo, finish_ok, finish_cancelled, NULL, NULL},
    {"/f.Echo/Fail", start_fail, NULL, NULL, NULL, NULL, NULL},
    {"/f.Echo/Count", start_noop, count_msg, count_half_close, count_cancel, NULL, NULL},
    {"/f.Echo/Hang", start_noop, NULL, NULL, finish_cancelled, NULL, NULL},
};

static void setup(void)
{
    bs_err err;
    loop = net_loop_new("fuzz", &err);
    if (!loop)
        __builtin_trap();
    net_server_options o = {.max_recv_msg = 64 * 1024, .keepalive_ms = -1};
    srv = net_server_new(loop, &o, &err);
    if (!srv)
        __builtin_trap();
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (net_server_add_method(srv, &methods[i], &err) != BS_OK)
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv)
        setup();
    if (size < 1)
        return 0;
    uint8_t opt = data[0];
    data++;
    size--;
    static const size_t chunks[8] = {1, 3, 9, 17, 64, 1000, 16384, SIZE_MAX};
    size_t chunk = chunks[(opt >> 1) & 7];
    h2_mem_transport mem = {.write = sink};
    h2_conn *c = net_server_adopt(srv, NULL, &mem);
    if (!c)
        __builtin_trap();
    if (opt & 1) {
        static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        h2_conn_feed(c, (const uint8_t *)preface, sizeof preface - 1);
    }
    size_t off = 0;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        h2_conn_feed(c, data + off, n);
        off += n;
    }
    h2_conn_destroy(c); /* cancels every call still open */
    return 0;
}
