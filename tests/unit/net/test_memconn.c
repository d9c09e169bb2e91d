/* test_memconn.c -- a server connection on the memory transport (no socket, no loop
 * thread), the way the fuzz target drives it: a captured request sequence in, the echo
 * reply out, and destruction with calls still open cancels them. */
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

static void test_seed_roundtrip(void **state)
{
    bs_err err;
    net_loop *loop = net_loop_new("mem", &err);
    net_server_options o = {.keepalive_ms = -1};
    net_server *s = net_server_new(loop, &o, &err);
    net_method m = {"/f.Echo/Unary", start_noop, echo, finish_ok, on_cancel, NULL, NULL};
    assert_int_equal(net_server_add_method(s, &m, &err), BS_OK);
    net_method hang = {"/f.Echo/Hang", start_noop, NULL, NULL, on_cancel, NULL, NULL};
    assert_int_equal(net_server_add_method(s, &hang, &err), BS_OK);

    h2_mem_transport mem = {.write = sink};
    bs_buf_init(&out);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
