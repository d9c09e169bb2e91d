/* test_reply.c -- the bytes of every reply type under RESP2 and RESP3, as Redis 7 sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "resp/proto.h"

/* One output per protocol version, reset before each check. */
static bs_buf out2, out3;
static resp_out o2, o3;

static int setup(void **state)
{
    (void)state;
    bs_buf_init(&out2);
    bs_buf_init(&out3);
    resp_out_init_buf(&o2, &out2, 2);
    resp_out_init_buf(&o3, &out3, 3);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bs_buf_free(&out2);
    bs_buf_free(&out3);
    return 0;
}

static void reset(void)
{
    bs_buf_reset(&out2);
    bs_buf_reset(&out3);
}

/* Compares a buffer with a literal that may contain NUL bytes. */
#define must_be(buf, lit)                                                                  \
    do {                                                                                   \
        assert_int_equal((buf).len, sizeof(lit) - 1);                                      \
        assert_memory_equal((buf).ptr, (lit), sizeof(lit) - 1);                            \
        bs_buf_reset(&(buf));                                                              \
    } while (0)

static void test_simple_string(void **state)
{
    (void)state;
    resp_reply_ok(&o2);
    must_be(out2, "+OK\r\n");
    resp_reply_simple_str(&o3, "PONG");
    must_be(out3, "+PONG\r\n");
    resp_reply_simple(&o2, "", 0);
    must_be(out2, "+\r\n");
    /* A status may never break the line. */
    resp_reply_simple(&o2, "a\r\nb\n", 5);
    must_be(out2, "+a  b \r\n");
}

static void test_error_adds_err_unless_code_given(void **state)
{
    (void)state;
    resp_reply_error_str(&o2, "unknown command 'foo'");
    must_be(out2, "-ERR unknown command 'foo'\r\n");
    resp_reply_error_str(&o3, "-WRONGTYPE Operation against a key holding the wrong kind of value");
    must_be(out3, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    resp_reply_error_str(&o2, "-NOAUTH Authentication required.");
    must_be(out2, "-NOAUTH Authentication required.\r\n");
    resp_reply_error_str(&o2, "-EXECABORT Transaction discarded because of previous errors.");
    must_be(out2, "-EXECABORT Transaction discarded because of previous errors.\r\n");
    /* The caller's word "ERR" without '-' is text, as in Redis. */
    resp_reply_error_str(&o2, "Protocol error: invalid bulk length");
    must_be(out2, "-ERR Protocol error: invalid bulk length\r\n");
    resp_reply_error(&o2, "", 0);
    must_be(out2, "-ERR \r\n");
}

static void test_error_newlines_become_spaces(void **state)
{
    (void)state;
    resp_reply_error_str(&o2, "\r\nbad\r\nthing\nhere\r\n");
    must_be(out2, "-ERR bad  thing here\r\n");
    /* Trimming happens before the code check, as addReplyErrorFormat() does. */
    resp_reply_error_str(&o2, "\n-MOVED 3999 127.0.0.1:6381\n");
    must_be(out2, "-MOVED 3999 127.0.0.1:6381\r\n");
    resp_reply_error(&o2, "\r\n", 2);
    must_be(out2, "-ERR \r\n");
    resp_reply_errorf(&o3, "wrong number of arguments for '%s' command", "get");
    must_be(out3, "-ERR wrong number of arguments for 'get' command\r\n");
    resp_reply_errorf(&o3, "line1\nline2 %d", 7);
    must_be(out3, "-ERR line1 line2 7\r\n");
    resp_reply_error_code(&o2, "WRONGTYPE",
                          "Operation against a key holding the wrong kind of value");
    must_be(out2, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    resp_reply_error_code(&o2, "BUSYKEY", "Target key\r\nname already exists.\n");
    must_be(out2, "-BUSYKEY Target key  name already exists.\r\n");
}

static void test_errorf_truncates_long_text(void **state)
{
    (void)state;
    char big[6000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    resp_reply_errorf(&o2, "%s", big);
    assert_int_equal(out2.len, 5 + 4096 + 2);
    assert_memory_equal(out2.ptr, "-ERR xxx", 8);
    reset();
}

static void test_integer(void **state)
{
    (void)state;
    resp_reply_int(&o2, 0);
    must_be(out2, ":0\r\n");
    resp_reply_int(&o3, -1);
    must_be(out3, ":-1\r\n");
    resp_reply_int(&o2, LLONG_MAX);
    must_be(out2, ":9223372036854775807\r\n");
    resp_reply_int(&o2, LLONG_MIN);
    must_be(out2, ":-9223372036854775808\r\n");
}

static void test_bulk(void **state)
{
    (void)state;
    resp_reply_bulk(&o2, "", 0);
    must_be(out2, "$0\r\n\r\n");
    resp_reply_bulk(&o2, NULL, 0);
    must_be(out2, "$0\r\n\r\n");
    resp_reply_bulk(&o3, "a\0\r\nb", 5);
    must_be(out3, "$5\r\na\0\r\nb\r\n");
    resp_reply_bulk_slice(&o2, bs_slice_make("bar", 3));
    must_be(out2, "$3\r\nbar\r\n");
    resp_reply_bulk_str(&o2, "hello");
    must_be(out2, "$5\r\nhello\r\n");
    resp_reply_bulk_int(&o2, -42);
    must_be(out2, "$3\r\n-42\r\n");
    resp_reply_raw(&o2, ":1\r\n", 4);
    must_be(out2, ":1\r\n");
}

static void test_nulls_depend_on_protocol_and_context(void **state)
{
    (void)state;
    resp_reply_null_bulk(&o2);
    must_be(out2, "$-1\r\n");
    resp_reply_null_array(&o2);
    must_be(out2, "*-1\r\n");
    resp_reply_null_bulk(&o3);
    must_be(out3, "_\r\n");
    resp_reply_null_array(&o3);
    must_be(out3, "_\r\n");
}

static void test_aggregates(void **state)
{
    (void)state;
    resp_reply_array(&o2, 0);
    must_be(out2, "*0\r\n");
    resp_reply_array(&o3, 3);
    must_be(out3, "*3\r\n");
    resp_reply_map(&o2, 2);
    must_be(out2, "*4\r\n");
    resp_reply_map(&o3, 2);
    must_be(out3, "%2\r\n");
    resp_reply_set(&o2, 5);
    must_be(out2, "*5\r\n");
    resp_reply_set(&o3, 5);
    must_be(out3, "~5\r\n");
    resp_reply_push(&o2, 3);
    must_be(out2, "*3\r\n");
    resp_reply_push(&o3, 3);
    must_be(out3, ">3\r\n");
}

static void test_double(void **state)
{
    (void)state;
    resp_reply_double(&o3, 1.5);
    must_be(out3, ",1.5\r\n");
    resp_reply_double(&o2, 1.5);
    must_be(out2, "$3\r\n1.5\r\n");
    resp_reply_double(&o3, 0.1);
    must_be(out3, ",0.10000000000000001\r\n");
    resp_reply_double(&o2, 0.1);
    must_be(out2, "$19\r\n0.10000000000000001\r\n");
    resp_reply_double(&o3, 3.0);
    must_be(out3, ",3\r\n");
    resp_reply_double(&o3, -0.0);
    must_be(out3, ",-0\r\n");
    resp_reply_double(&o3, 1e300);
    must_be(out3, ",1.0000000000000001e+300\r\n");
    resp_reply_double(&o3, INFINITY);
    must_be(out3, ",inf\r\n");
    resp_reply_double(&o3, -INFINITY);
    must_be(out3, ",-inf\r\n");
    resp_reply_double(&o2, INFINITY);
    must_be(out2, "$3\r\ninf\r\n");
    resp_reply_double(&o2, -INFINITY);
    must_be(out2, "$4\r\n-inf\r\n");
    resp_reply_double(&o3, NAN);
    must_be(out3, ",nan\r\n");
    resp_reply_double(&o3, -NAN);
    must_be(out3, ",nan\r\n");
    resp_reply_double(&o2, NAN);
    must_be(out2, "$3\r\nnan\r\n");
}

static void test_bool(void **state)
{
    (void)state;
    resp_reply_bool(&o3, true);
    must_be(out3, "#t\r\n");
    resp_reply_bool(&o3, false);
    must_be(out3, "#f\r\n");
    resp_reply_bool(&o2, true);
    must_be(out2, ":1\r\n");
    resp_reply_bool(&o2, false);
    must_be(out2, ":0\r\n");
}

static void test_verbatim(void **state)
{
    (void)state;
    resp_reply_verbatim(&o3, "txt", "Some string", 11);
    must_be(out3, "=15\r\ntxt:Some string\r\n");
    resp_reply_verbatim(&o2, "txt", "Some string", 11);
    must_be(out2, "$11\r\nSome string\r\n");
    resp_reply_verbatim(&o3, "mkd", "", 0);
    must_be(out3, "=4\r\nmkd:\r\n");
}

/* A HELLO-style reply: a map of mixed types, in both versions. */
static void emit_hello(resp_out *o)
{
    resp_reply_map(o, 3);
    resp_reply_bulk_str(o, "server");
    resp_reply_bulk_str(o, "redis");
    resp_reply_bulk_str(o, "proto");
    resp_reply_int(o, o->proto);
    resp_reply_bulk_str(o, "modules");
    resp_reply_array(o, 0);
}

static void test_composed_map(void **state)
{
    (void)state;
    emit_hello(&o2);
    must_be(out2, "*6\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:2\r\n"
                  "$7\r\nmodules\r\n*0\r\n");
    emit_hello(&o3);
    must_be(out3, "%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n"
                  "$7\r\nmodules\r\n*0\r\n");
}

static void append_cb(void *ctx, const void *p, size_t n)
{
    bs_buf_append(ctx, p, n);
}

static void test_callback_output_matches_buffer_output(void **state)
{
    (void)state;
    bs_buf via_cb = BS_BUF_INIT;
    for (int proto = 2; proto <= 3; proto++) {
        resp_out cb;
        resp_out_init_fn(&cb, append_cb, &via_cb, proto);
        resp_out *bo = proto == 2 ? &o2 : &o3;
        bs_buf *bb = proto == 2 ? &out2 : &out3;
        resp_out *both[2] = {bo, &cb};
        for (int i = 0; i < 2; i++) {
            resp_out *o = both[i];
            emit_hello(o);
            resp_reply_error_str(o, "x\ny");
            resp_reply_simple_str(o, "a\rb");
            resp_reply_double(o, 2.5);
            resp_reply_bool(o, true);
            resp_reply_null_bulk(o);
            resp_reply_null_array(o);
            resp_reply_set(o, 1);
            resp_reply_bulk(o, "\0", 1);
            resp_reply_verbatim(o, "txt", "v", 1);
            resp_reply_push(o, 0);
        }
        assert_int_equal(via_cb.len, bb->len);
        assert_memory_equal(via_cb.ptr, bb->ptr, bb->len);
        bs_buf_reset(&via_cb);
        reset();
    }
    bs_buf_free(&via_cb);
}

static void test_protocol_may_change_between_replies(void **state)
{
    (void)state;
    bs_buf b = BS_BUF_INIT;
    resp_out o;
    resp_out_init_buf(&o, &b, 2);
    resp_reply_null_bulk(&o);
    o.proto = 3; /* HELLO 3 */
    resp_reply_null_bulk(&o);
    must_be(b, "$-1\r\n_\r\n");
    bs_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_simple_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_adds_err_unless_code_given, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_newlines_become_spaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errorf_truncates_long_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_integer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bulk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nulls_depend_on_protocol_and_context, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_aggregates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_double, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verbatim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_composed_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_output_matches_buffer_output, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_protocol_may_change_between_replies, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
