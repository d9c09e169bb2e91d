/* test_memconn.c -- a server connection on the memory transport (no socket, no loop
 * thread), the way the fuzz target drives it: a captured request sequence in, the echo
 * reply out, and destruction with calls still open cancels them; a RST_STREAM for a stream
 * the server never saw (grpcio cancelling a call before its HEADERS left) is ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "net/net_int.h"

static bs_buf out;
static int cancels;

static void sink(void *arg, const uint8_t *p, size_t n)
{
    bs_buf_append(&out, p, n);
}

static void start_noop(net_call *call, void *arg)
{
}

static void echo(net_call *call, bs_slice msg, void *arg)
{
    assert_int_equal(net_call_send(call, msg.ptr, msg.len), BS_OK);
}

static void finish_ok(net_call *call, void *arg)
{
    net_call_finish(call, NET_GRPC_OK, NULL);
}

static void on_cancel(net_call *call, void *arg)
{
    cancels++;
    net_call_finish(call, NET_GRPC_CANCELLED, NULL);
}

static bs_buf read_seed(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fuzz/corpus/fuzz_grpc_frames/%s", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    bs_buf b = BS_BUF_INIT;
    uint8_t tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        bs_buf_append(&b, tmp, n);
    fclose(f);
    return b;
}

/* A server with /f.Echo/Unary and /f.Echo/Hang on a loop that never runs (the memory
 * transport needs no thread); output goes to `out`, emptied here. */
static net_server *mem_server(net_loop **loop)
{
    bs_err err;
    *loop = net_loop_new("mem", &err);
    net_server_options o = {.keepalive_ms = -1};
    net_server *s = net_server_new(*loop, &o, &err);
    net_method m = {"/f.Echo/Unary", start_noop, echo, finish_ok, on_cancel, NULL, NULL};
    assert_int_equal(net_server_add_method(s, &m, &err), BS_OK);
    net_method hang = {"/f.Echo/Hang", start_noop, NULL, NULL, on_cancel, NULL, NULL};
    assert_int_equal(net_server_add_method(s, &hang, &err), BS_OK);
    bs_buf_init(&out);
    return s;
}

static const h2_mem_transport mem = {.write = sink};

static void test_seed_roundtrip(void **state)
{
    net_loop *loop;
    net_server *s = mem_server(&loop);
    h2_conn *c = net_server_adopt(s, NULL, &mem);
    assert_non_null(c);
    bs_buf seed = read_seed("seed_unary"); /* byte 0 is the fuzz option byte */
    for (size_t i = 1; i < seed.len; i++)
        h2_conn_feed(c, seed.ptr + i, 1); /* byte by byte */
    static const uint8_t reply[] = {0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
    assert_non_null(memmem(out.ptr, out.len, reply, sizeof reply));
    h2_conn_destroy(c);
    bs_buf_free(&seed);

    /* A call left open is cancelled when its connection goes. */
    cancels = 0;
    c = net_server_adopt(s, NULL, &mem);
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    h2_conn_feed(c, (const uint8_t *)preface, sizeof preface - 1);
    seed = read_seed("seed_rst"); /* Hang + RST_STREAM: cancelled by the peer */
    h2_conn_feed(c, seed.ptr + 1, seed.len - 1);
    assert_int_equal(cancels, 1);
    h2_conn_destroy(c);
    bs_buf_free(&seed);

    net_server_free(s);
    net_loop_free(loop);
    bs_buf_free(&out);
}

/* Does the server's output hold a GOAWAY frame? Walks the frames after our own reads. */
static bool has_goaway(const bs_buf *b)
{
    size_t i = 0;
    while (i + 9 <= b->len) {
        uint32_t len = (uint32_t)b->ptr[i] << 16 | (uint32_t)b->ptr[i + 1] << 8 | b->ptr[i + 2];
        if (b->ptr[i + 3] == 0x7)
            return true;
        i += 9 + len;
    }
    return false;
}

static void put_frame(bs_buf *b, uint8_t type, uint8_t flags, uint32_t stream, const void *p,
                      uint32_t len)
{
    uint8_t h[9] = {(uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, type, flags,
                    (uint8_t)(stream >> 24), (uint8_t)(stream >> 16), (uint8_t)(stream >> 8),
                    (uint8_t)stream};
    bs_buf_append(b, h, sizeof h);
    bs_buf_append(b, p, len);
}

static void test_rst_for_unknown_stream_is_ignored(void **state)
{
    net_loop *loop;
    net_server *s = mem_server(&loop);
    h2_conn *c = net_server_adopt(s, NULL, &mem);
    assert_non_null(c);

    /* The unary seed opens stream 1. Before it: RST_STREAM(CANCEL) on idle stream 7 (odd:
     * a client stream never opened) and on even stream 2 (a server stream, never used),
     * each fed one byte at a time so the filter sees split headers too. */
    bs_buf seed = read_seed("seed_unary"); /* byte 0 is the fuzz option byte */
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    assert_true(seed.len > sizeof preface);
    assert_memory_equal(seed.ptr + 1, preface, sizeof preface - 1);
    bs_buf in = BS_BUF_INIT;
    bs_buf_append(&in, preface, sizeof preface - 1);
    put_frame(&in, 0x4, 0, 0, NULL, 0); /* SETTINGS */
    static const uint8_t cancel[4] = {0, 0, 0, 8};
    put_frame(&in, 0x3, 0, 7, cancel, 4);
    put_frame(&in, 0x3, 0, 2, cancel, 4);
    for (size_t i = 0; i < in.len; i++)
        h2_conn_feed(c, in.ptr + i, 1);
    assert_false(has_goaway(&out));

    /* The connection still serves a call. */
    h2_conn_feed(c, seed.ptr + sizeof preface, seed.len - sizeof preface);
    static const uint8_t reply[] = {0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
    assert_non_null(memmem(out.ptr, out.len, reply, sizeof reply));
    assert_false(has_goaway(&out));

    /* A RST_STREAM for the finished stream 1 is no error either (nghttp2 ignores it), but
     * one on stream 0 is a protocol error: the connection ends with GOAWAY. */
    bs_buf_reset(&in);
    put_frame(&in, 0x3, 0, 1, cancel, 4);
    h2_conn_feed(c, in.ptr, in.len);
    assert_false(has_goaway(&out));
    bs_buf_reset(&in);
    put_frame(&in, 0x3, 0, 0, cancel, 4);
    h2_conn_feed(c, in.ptr, in.len);
    assert_true(has_goaway(&out));

    h2_conn_destroy(c);
    bs_buf_free(&seed);
    bs_buf_free(&in);
    net_server_free(s);
    net_loop_free(loop);
    bs_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_roundtrip),
        cmocka_unit_test(test_rst_for_unknown_stream_is_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
