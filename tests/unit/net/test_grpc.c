/* test_grpc.c -- gRPC server and client of src/net/ against each other, in process, on
 * 127.0.0.1 with free ports: every call shape, limits, deadlines, asynchronous handlers,
 * cancellation on disconnect, keepalive and graceful shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "netutil.h"

typedef struct fixture {
    tsrv s;
    tcli c;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    tsrv_start(&f->s, NULL);
    tcli_start(&f->c, f->s.port, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tcli_stop(&f->c);
    tsrv_stop(&f->s);
    free(f);
    return 0;
}

static int unary(fixture *f, const char *path, const void *req, size_t len, int64_t tmo,
                 bs_buf *resp, char *msg, size_t cap)
{
    int status = -1;
    bs_err err;
    bs_err_clear(&err);
    int rc = net_client_unary_sync(f->c.cli, path, bs_slice_make(req, len), tmo, resp, &status, msg,
                                   cap, &err);
    assert_int_equal(rc, BS_OK);
    return status;
}

static void test_unary_echo(void **state)
{
    fixture *f = *state;
    bs_buf resp = BS_BUF_INIT;
    char msg[256];
    static const char req[] = "hello\0world";
    assert_int_equal(unary(f, "/test.Echo/Unary", req, sizeof req, 5000, &resp, msg, sizeof msg),
                     NET_GRPC_OK);
    assert_int_equal(resp.len, sizeof req);
    assert_memory_equal(resp.ptr, req, sizeof req);
    /* An empty message is a message too. */
    bs_buf_reset(&resp);
    assert_int_equal(unary(f, "/test.Echo/Unary", "", 0, 5000, &resp, msg, sizeof msg),
                     NET_GRPC_OK);
    assert_int_equal(resp.len, 0);
    /* Many calls reuse one connection. */
    for (int i = 0; i < 200; i++) {
        bs_buf_reset(&resp);
        char m[16];
        int n = snprintf(m, sizeof m, "r%d", i);
        assert_int_equal(unary(f, "/test.Echo/Unary", m, (size_t)n, 5000, &resp, msg, sizeof msg),
                         NET_GRPC_OK);
        assert_int_equal(resp.len, (size_t)n);
    }
    bs_buf_free(&resp);
}

static void test_status_and_message(void **state)
{
    fixture *f = *state;
    bs_buf resp = BS_BUF_INIT;
    char msg[256];
    assert_int_equal(unary(f, "/test.Echo/Fail", "x", 1, 5000, &resp, msg, sizeof msg),
                     NET_GRPC_INVALID_ARGUMENT);
    assert_string_equal(msg, FAIL_MESSAGE); /* percent-encoded on the wire, decoded here */
    assert_int_equal(resp.len, 0);
    bs_buf_free(&resp);
}

static void test_unknown_method(void **state)
{
    fixture *f = *state;
    bs_buf resp = BS_BUF_INIT;
    char msg[256];
    assert_int_equal(unary(f, "/test.Echo/Nope", "x", 1, 5000, &resp, msg, sizeof msg),
                     NET_GRPC_UNIMPLEMENTED);
    assert_non_null(strstr(msg, "/test.Echo/Nope"));
    bs_buf_free(&resp);
}

static void test_server_streaming(void **state)
{
    fixture *f = *state;
    atomic_store(&stream_max_queued, 0);
    /* 300 x 64 KiB = 19 MiB: far above the flow-control windows and the high water. */
    sjob job = {.path = "/test.Echo/ServerStream", .first_msg = "300 65536", .timeout_ms = 30000};
    assert_true(sjob_run(&f->c, &job, 30000));
    assert_int_equal(job.status, NET_GRPC_OK);
    assert_int_equal(job.nrecv, 300);
    assert_int_equal(job.bytes, (size_t)300 * 65536);
    /* Back-pressure: the handler never had much more than the high water queued. */
    assert_true(atomic_load(&stream_max_queued) <= NET_CALL_HIGH_WATER + 65536 + 5);
    sjob_free(&job);
}

static void test_client_streaming(void **state)
{
    fixture *f = *state;
    sjob job = {
        .path = "/test.Echo/ClientStream", .nsend = 1000, .payload = 100, .timeout_ms = 10000};
    assert_true(sjob_run(&f->c, &job, 10000));
    assert_int_equal(job.status, NET_GRPC_OK);
    assert_int_equal(job.nrecv, 1);
    assert_int_equal(job.first.len, strlen("count=1000 bytes=100000"));
    assert_memory_equal(job.first.ptr, "count=1000 bytes=100000", job.first.len);
    sjob_free(&job);
}

static void test_bidi_10000(void **state)
{
    fixture *f = *state;
    sjob job = {.path = "/test.Echo/Bidi", .nsend = 10000, .timeout_ms = 30000};
    assert_true(sjob_run(&f->c, &job, 30000));
    assert_int_equal(job.status, NET_GRPC_OK);
    assert_int_equal(job.nrecv, 10000);
    assert_true(job.in_order);
    sjob_free(&job);
}

static void test_big_message(void **state)
{
    fixture *f = *state;
    size_t n = 3u << 20;
    uint8_t *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 7 + 3);
    bs_buf resp = BS_BUF_INIT;
    char msg[256];
    assert_int_equal(unary(f, "/test.Echo/Unary", big, n, 10000, &resp, msg, sizeof msg),
                     NET_GRPC_OK);
    assert_int_equal(resp.len, n);
    assert_memory_equal(resp.ptr, big, n);
    bs_buf_free(&resp);
    free(big);
}

static void test_over_limit(void **state)
{
    fixture *f = *state;
    size_t n = (4u << 20) + 1;
    uint8_t *big = calloc(1, n);
    bs_buf resp = BS_BUF_INIT;
    char msg[256];
    assert_int_equal(unary(f, "/test.Echo/Unary", big, n, 10000, &resp, msg, sizeof msg),
                     NET_GRPC_RESOURCE_EXHAUSTED);
    /* The connection is still good. */
    bs_buf_reset(&resp);
    assert_int_equal(unary(f, "/test.Echo/Unary", "ok", 2, 5000, &resp, msg, sizeof msg),
                     NET_GRPC_OK);
    bs_buf_free(&resp);
    free(big);
}

static void test_deadline_client_side(void **state)
{
    fixture *f = *state;
    int before = atomic_load(&echo_cancels);
    bs_buf resp = BS_BUF_INIT;
    char msg[256];
    assert_int_equal(unary(f, "/test.Echo/Hang", "x", 1, 200, &resp, msg, sizeof msg),
                     NET_GRPC_DEADLINE_EXCEEDED);
    /* The server saw the end too (its own timer or our RST_STREAM) and cancelled. */
    assert_true(wait_int_at_least(&echo_cancels, before + 1, 3000));
    bs_buf_free(&resp);
}

static void test_deadline_server_side(void **state)
{
    fixture *f = *state;
    int before = atomic_load(&echo_cancels);
    /* No local deadline: only the grpc-timeout the server reads can end this call. */
    net_metadata md[] = {{"grpc-timeout", "150m"}};
    sjob job = {.path = "/test.Echo/Hang", .first_msg = "x", .md = md, .md_count = 1};
    assert_true(sjob_run(&f->c, &job, 5000));
    assert_int_equal(job.status, NET_GRPC_DEADLINE_EXCEEDED);
    assert_true(wait_int_at_least(&echo_cancels, before + 1, 3000));
    sjob_free(&job);
    /* The header reaches handlers as sent; our client formats its own. */
    sjob j2 = {.path = "/test.Echo/Deadline", .first_msg = "x", .timeout_ms = 2500};
    assert_true(sjob_run(&f->c, &j2, 5000));
    assert_int_equal(j2.status, NET_GRPC_OK);
    assert_int_equal(j2.first.len, 5);
    assert_memory_equal(j2.first.ptr, "2500m", 5);
    sjob_free(&j2);
}

static void test_metadata(void **state)
{
    fixture *f = *state;
    net_metadata md[] = {{"x-basalt-meta", "v=1; region 7"}};
    sjob job = {
        .path = "/test.Echo/Meta", .first_msg = "x", .md = md, .md_count = 1, .timeout_ms = 5000};
    assert_true(sjob_run(&f->c, &job, 5000));
    assert_int_equal(job.status, NET_GRPC_OK);
    assert_int_equal(job.first.len, strlen("v=1; region 7"));
    assert_memory_equal(job.first.ptr, "v=1; region 7", job.first.len);
    sjob_free(&job);
}

static void test_async_completion(void **state)
{
    fixture *f = *state;
    bs_buf resp = BS_BUF_INIT;
    char msg[256];
    assert_int_equal(unary(f, "/test.Echo/Async", "later", 5, 5000, &resp, msg, sizeof msg),
                     NET_GRPC_OK);
    assert_int_equal(resp.len, 5);
    assert_memory_equal(resp.ptr, "later", 5);
    bs_buf_free(&resp);
}

static void test_local_cancel(void **state)
{
    fixture *f = *state;
    int before = atomic_load(&echo_cancels);
    sjob job = {.path = "/test.Echo/Bidi",
                .nsend = 5,
                .keep_open = true,
                .cancel_after_first = true,
                .timeout_ms = 5000};
    assert_true(sjob_run(&f->c, &job, 5000));
    assert_int_equal(job.status, NET_GRPC_CANCELLED);
    assert_true(wait_int_at_least(&echo_cancels, before + 1, 3000));
    sjob_free(&job);
}

static void test_peer_disconnect_cancels(void **state)
{
    fixture *f = *state;
    int before = atomic_load(&echo_cancels);
    sjob job = {.path = "/test.Echo/Hang", .first_msg = "x", .keep_open = true};
    sjob_start(&f->c, &job);
    /* Make sure the server has the call, then drop the client (and its connection). */
    assert_true(wait_int_at_least(&echo_cancels, before, 100));
    usleep(100 * 1000);
    tcli_stop(&f->c);
    assert_true(atomic_load(&job.done));
    assert_int_equal(job.status, NET_GRPC_CANCELLED);
    assert_true(wait_int_at_least(&echo_cancels, before + 1, 3000));
    sjob_free(&job);
    tcli_start(&f->c, f->s.port, NULL); /* for teardown */
}

static void test_graceful_shutdown(void **state)
{
    fixture *f = *state;
    sjob job = {.path = "/test.Echo/Slow", .first_msg = "x", .timeout_ms = 5000};
    sjob_start(&f->c, &job);
    usleep(100 * 1000); /* the call is in flight on the server */
    net_server_shutdown(f->s.srv, 5000);
    /* Shutdown let the in-flight call finish: a cut call would end UNAVAILABLE. */
    assert_true(sjob_wait(&job, 3000));
    assert_int_equal(job.status, NET_GRPC_OK);
    assert_int_equal(job.first.len, 4);
    sjob_free(&job);
    /* No new connections are accepted. */
    bs_buf resp = BS_BUF_INIT;
    char msg[256];
    tcli_stop(&f->c);
    tcli_start(&f->c, f->s.port, NULL);
    assert_int_equal(unary(f, "/test.Echo/Unary", "x", 1, 2000, &resp, msg, sizeof msg),
                     NET_GRPC_UNAVAILABLE);
    bs_buf_free(&resp);
}

static void test_shutdown_grace_expires(void **state)
{
    fixture *f = *state;
    int before = atomic_load(&echo_cancels);
    sjob job = {.path = "/test.Echo/Hang", .first_msg = "x", .keep_open = true};
    sjob_start(&f->c, &job);
    usleep(100 * 1000);
    int64_t t0 = bs_clock_mono_ms();
    net_server_shutdown(f->s.srv, 200);
    int64_t took = bs_clock_mono_ms() - t0;
    /* A lower bound only (a monotonic clock cannot run short): shutdown gave the hanging
     * call its grace period before cutting it, rather than closing at once. */
    assert_true(took >= 150);
    assert_true(wait_int_at_least(&echo_cancels, before + 1, 3000));
    assert_true(sjob_wait(&job, 3000));
    assert_int_equal(job.status, NET_GRPC_UNAVAILABLE);
    sjob_free(&job);
}

/* A peer that speaks HTTP/2's preface but never answers PINGs is closed by keepalive. */
static void test_keepalive_closes_dead_peer(void **state)
{
    tsrv s;
    net_server_options o = {.keepalive_ms = 100, .keepalive_timeout_ms = 200};
    tsrv_start(&s, &o);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(s.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    static const uint8_t settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
    assert_int_equal(write(fd, preface, sizeof preface - 1), (ssize_t)(sizeof preface - 1));
    assert_int_equal(write(fd, settings, sizeof settings), (ssize_t)sizeof settings);
    int64_t t0 = bs_clock_mono_ms();
    bool closed = false;
    uint8_t buf[4096];
    while (bs_clock_mono_ms() - t0 < 3000) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
            closed = true;
            break;
        }
    }
    close(fd);
    assert_true(closed);
    tsrv_stop(&s);
}

static void test_unary_to_dead_port(void **state)
{
    /* A port nobody listens on: the call fails UNAVAILABLE, quickly. */
    tsrv s;
    tsrv_start(&s, NULL);
    uint16_t port = s.port;
    tsrv_stop(&s);
    fixture f = {0};
    tcli_start(&f.c, port, NULL);
    bs_buf resp = BS_BUF_INIT;
    char msg[256];
    assert_int_equal(unary(&f, "/test.Echo/Unary", "x", 1, 2000, &resp, msg, sizeof msg),
                     NET_GRPC_UNAVAILABLE);
    bs_buf_free(&resp);
    tcli_stop(&f.c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unary_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_and_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_streaming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_streaming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bidi_10000, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_over_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_client_side, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_server_side, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_disconnect_cancels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graceful_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_grace_expires, setup, teardown),
        cmocka_unit_test(test_keepalive_closes_dead_peer),
        cmocka_unit_test(test_unary_to_dead_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
