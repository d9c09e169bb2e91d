/* test_frame.c -- gRPC's framing and header formats (src/net/frame.c, outq.c): messages
 * split at every byte boundary, limits, bad flags, grpc-timeout units, grpc-message
 * percent-encoding and status names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "net/net_int.h"

typedef struct got {
    int n;
    bs_buf all; /* messages joined with '|' */
    int stop_after;
} got;

static int collect(void *ctx, uint8_t flag, const uint8_t *msg, size_t len)
{
    got *g = ctx;
    g->n++;
    bs_buf_append(&g->all, msg, len);
    bs_buf_append_byte(&g->all, '|');
    return g->stop_after && g->n >= g->stop_after;
}

static void frame(bs_buf *out, const char *s)
{
    uint8_t h[5];
    net_frame_header(h, 0, (uint32_t)strlen(s));
    bs_buf_append(out, h, 5);
    bs_buf_append(out, s, strlen(s));
}

static void test_deframe_every_split(void **state)
{
    bs_buf wire = BS_BUF_INIT;
    frame(&wire, "alpha");
    frame(&wire, "");
    frame(&wire, "a much longer third message");
    for (size_t step = 1; step <= wire.len; step++) {
        net_deframer d;
        net_deframer_init(&d);
        got g = {0};
        bs_buf_init(&g.all);
        for (size_t off = 0; off < wire.len; off += step) {
            size_t n = wire.len - off < step ? wire.len - off : step;
            assert_int_equal(net_deframer_feed(&d, wire.ptr + off, n, 1024, collect, &g), BS_OK);
        }
        assert_int_equal(g.n, 3);
        assert_false(net_deframer_partial(&d));
        const char *want = "alpha||a much longer third message|";
        assert_int_equal(g.all.len, strlen(want));
        assert_memory_equal(g.all.ptr, want, g.all.len);
        bs_buf_free(&g.all);
        net_deframer_deinit(&d);
    }
    bs_buf_free(&wire);
}

static void test_deframe_limits_and_flags(void **state)
{
    net_deframer d;
    got g = {0};
    bs_buf_init(&g.all);
    uint8_t h[5];

    net_deframer_init(&d);
    net_frame_header(h, 0, 1025);
    assert_int_equal(net_deframer_feed(&d, h, 5, 1024, collect, &g), BS_ETOOLARGE);
    net_deframer_deinit(&d);

    net_deframer_init(&d);
    net_frame_header(h, 2, 1);
    assert_int_equal(net_deframer_feed(&d, h, 5, 1024, collect, &g), BS_ECORRUPT);
    net_deframer_deinit(&d);

    /* Flag 1 (compressed) is passed up: the caller decides. */
    net_deframer_init(&d);
    net_frame_header(h, 1, 0);
    assert_int_equal(net_deframer_feed(&d, h, 5, 1024, collect, &g), BS_OK);
    assert_int_equal(g.n, 1);
    /* Partial state is visible. */
    assert_int_equal(net_deframer_feed(&d, h, 3, 1024, collect, &g), BS_OK);
    assert_true(net_deframer_partial(&d));
    net_deframer_deinit(&d);

    /* A callback that stops the feed. */
    bs_buf wire = BS_BUF_INIT;
    frame(&wire, "a");
    frame(&wire, "b");
    net_deframer_init(&d);
    got g2 = {.stop_after = 1};
    bs_buf_init(&g2.all);
    assert_int_equal(net_deframer_feed(&d, wire.ptr, wire.len, 1024, collect, &g2), BS_OK);
    assert_int_equal(g2.n, 1);
    net_deframer_deinit(&d);
    bs_buf_free(&g2.all);
    bs_buf_free(&wire);
    bs_buf_free(&g.all);
}

static void test_grpc_timeout(void **state)
{
    int64_t ms = 0;
    struct {
        const char *v;
        int64_t ms;
    } ok[] = {{"1H", 3600000}, {"2M", 120000}, {"3S", 3000}, {"150m", 150},
              {"1500u", 2},    {"1n", 1},      {"0m", 1},    {"99999999m", 99999999}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(net_parse_grpc_timeout(ok[i].v, strlen(ok[i].v), &ms), BS_OK);
        assert_int_equal(ms, ok[i].ms);
    }
    const char *bad[] = {"", "m", "10", "10x", "-1m", "123456789m", "1 m", "1.5S"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(net_parse_grpc_timeout(bad[i], strlen(bad[i]), &ms), BS_EINVAL);
    char out[16];
    int64_t vals[] = {1, 2500, 99999999, 100000000, 5000000000000LL};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        net_format_grpc_timeout(vals[i], out);
        assert_int_equal(net_parse_grpc_timeout(out, strlen(out), &ms), BS_OK);
        assert_true(ms >= vals[i]); /* never shorter than asked */
    }
}

static void test_percent_encoding(void **state)
{
    bs_buf e = BS_BUF_INIT, d = BS_BUF_INIT;
    net_percent_encode("a b%c\n\xc3\xa9~", &e);
    assert_string_equal((char *)e.ptr, "a b%25c%0A%C3%A9~");
    net_percent_decode(e.ptr, e.len - 1, &d);
    assert_string_equal((char *)d.ptr, "a b%c\n\xc3\xa9~");
    /* Malformed escapes pass through literally. */
    bs_buf_reset(&d);
    net_percent_decode((const uint8_t *)"100%", 4, &d);
    assert_string_equal((char *)d.ptr, "100%");
    bs_buf_reset(&d);
    net_percent_decode((const uint8_t *)"%zz%4", 5, &d);
    assert_string_equal((char *)d.ptr, "%zz%4");
    bs_buf_reset(&d);
    net_percent_decode((const uint8_t *)"%00", 3, &d); /* never an early NUL */
    assert_int_equal(strlen((char *)d.ptr), 1);
    bs_buf_free(&e);
    bs_buf_free(&d);
}

static void test_content_type_and_names(void **state)
{
    const char *yes[] = {"application/grpc", "application/grpc+proto", "application/grpc;x=1",
                         "Application/GRPC"};
    const char *no[] = {"application/json", "application/grpcx", "application/grp", ""};
    for (size_t i = 0; i < 4; i++)
        assert_true(net_is_grpc_content_type((const uint8_t *)yes[i], strlen(yes[i])));
    for (size_t i = 0; i < 4; i++)
        assert_false(net_is_grpc_content_type((const uint8_t *)no[i], strlen(no[i])));
    assert_string_equal(net_grpc_status_name(NET_GRPC_OK), "OK");
    assert_string_equal(net_grpc_status_name(NET_GRPC_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
    assert_string_equal(net_grpc_status_name(NET_GRPC_UNAUTHENTICATED), "UNAUTHENTICATED");
    assert_string_equal(net_grpc_status_name(17), "UNKNOWN_STATUS");
}

static void test_outq(void **state)
{
    net_outq q;
    net_outq_init(&q);
    uint8_t buf[64];
    for (int round = 0; round < 100; round++) {
        net_outq_push_msg(&q, "hello", 5);
        assert_int_equal(net_outq_len(&q), 10);
        assert_int_equal(net_outq_pop(&q, buf, 3), 3);
        assert_memory_equal(buf, "\0\0\0", 3);
        net_outq_push_msg(&q, "x", 1);
        assert_int_equal(net_outq_pop(&q, buf, sizeof buf), 13);
        assert_memory_equal(buf, "\0\5hello\0\0\0\0\1x", 13);
        assert_int_equal(net_outq_len(&q), 0);
    }
    net_outq_deinit(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deframe_every_split),
        cmocka_unit_test(test_deframe_limits_and_flags),
        cmocka_unit_test(test_grpc_timeout),
        cmocka_unit_test(test_percent_encoding),
        cmocka_unit_test(test_content_type_and_names),
        cmocka_unit_test(test_outq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
