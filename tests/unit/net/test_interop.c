/* test_interop.c -- src/net/ against a real gRPC implementation (Debian's python3-grpcio):
 * grpcio's client calls our server, and our client calls a grpcio server. The python side
 * is tests/unit/net/grpc_peer.py, run with /usr/bin/python3; every wait is bounded and the
 * child is stopped by pid. Skipped when that interpreter has no grpc module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "netutil.h"

#define PY "/usr/bin/python3"
#define PEER "tests/unit/net/grpc_peer.py"

static bool have_grpcio(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execl(PY, PY, "-c", "import grpc", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return false;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Waits up to timeout_ms for pid; kills it (by pid) when it overstays. Returns the exit
 * status, or -1 when it had to be killed. */
static int wait_child(pid_t pid, int64_t timeout_ms)
{
    int64_t end = bs_clock_mono_ms() + timeout_ms;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0 && errno != EINTR)
            return -1;
        if (bs_clock_mono_ms() > end) {
            kill(pid, SIGKILL);
            (void)waitpid(pid, &st, 0);
            return -1;
        }
        usleep(10 * 1000);
    }
}

static void test_python_client_c_server(void **state)
{
    if (!have_grpcio())
        skip();
    tsrv s;
    tsrv_start(&s, NULL);
    char port[8];
    snprintf(port, sizeof port, "%u", s.port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(PY, PY, PEER, "client", port, (char *)NULL);
        _exit(127);
    }
    int rc = wait_child(pid, 90000);
    tsrv_stop(&s);
    assert_int_equal(rc, 0);
}

typedef struct pyserver {
    pid_t pid;
    int in_fd; /* its stdin: closing it stops the server */
    uint16_t port;
} pyserver;

static void pyserver_start(pyserver *p)
{
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl(PY, PY, PEER, "server", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p->in_fd = in[1];
    char line[64];
    size_t len = 0;
    int64_t end = bs_clock_mono_ms() + 30000;
    while (len < sizeof line - 1 && !memchr(line, '\n', len) && bs_clock_mono_ms() < end) {
        struct pollfd pf = {.fd = out[0], .events = POLLIN};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        ssize_t n = read(out[0], line + len, sizeof line - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    line[len] = 0;
    close(out[0]);
    unsigned port = 0;
    if (sscanf(line, "PORT %u", &port) != 1 || port == 0 || port > 65535) {
        kill(p->pid, SIGKILL);
        (void)waitpid(p->pid, NULL, 0);
        fail_msg("python server did not report a port: '%s'", line);
    }
    p->port = (uint16_t)port;
}

static void pyserver_stop(pyserver *p)
{
    close(p->in_fd);
    int rc = wait_child(p->pid, 15000);
    assert_int_equal(rc, 0);
}

static void test_c_client_python_server(void **state)
{
    if (!have_grpcio())
        skip();
    pyserver p;
    pyserver_start(&p);
    tcli c;
    tcli_start(&c, p.port, NULL);

    /* Unary, with metadata. */
    net_metadata md[] = {{"x-basalt-meta", "m1"}};
    sjob u = {
        .path = "/test.Py/Unary", .first_msg = "abc", .md = md, .md_count = 1, .timeout_ms = 10000};
    assert_true(sjob_run(&c, &u, 15000));
    assert_int_equal(u.status, NET_GRPC_OK);
    assert_int_equal(u.first.len, strlen("py:abc|m1"));
    assert_memory_equal(u.first.ptr, "py:abc|m1", u.first.len);
    sjob_free(&u);

    /* Blocking wrapper. */
    bs_buf resp = BS_BUF_INIT;
    int status = -1;
    char msg[256];
    assert_int_equal(net_client_unary_sync(c.cli, "/test.Py/Unary", bs_slice_make("z", 1), 10000,
                                           &resp, &status, msg, sizeof msg, NULL),
                     BS_OK);
    assert_int_equal(status, NET_GRPC_OK);
    assert_int_equal(resp.len, 4);
    assert_memory_equal(resp.ptr, "py:z", 4);

    /* Error status with a percent-encoded message. */
    bs_buf_reset(&resp);
    assert_int_equal(net_client_unary_sync(c.cli, "/test.Py/Fail", bs_slice_make("z", 1), 10000,
                                           &resp, &status, msg, sizeof msg, NULL),
                     BS_OK);
    assert_int_equal(status, NET_GRPC_FAILED_PRECONDITION);
    assert_string_equal(msg, "nope \xc3\xa9 100%");

    /* Unknown method on a real server. */
    assert_int_equal(net_client_unary_sync(c.cli, "/test.Py/Nope", bs_slice_make("z", 1), 10000,
                                           &resp, &status, msg, sizeof msg, NULL),
                     BS_OK);
    assert_int_equal(status, NET_GRPC_UNIMPLEMENTED);

    /* Deadline against a server that takes 5 s. */
    assert_int_equal(net_client_unary_sync(c.cli, "/test.Py/Slow", bs_slice_make("z", 1), 300,
                                           &resp, &status, msg, sizeof msg, NULL),
                     BS_OK);
    assert_int_equal(status, NET_GRPC_DEADLINE_EXCEEDED);
    bs_buf_free(&resp);

    /* Server streaming. */
    sjob ss = {.path = "/test.Py/ServerStream", .first_msg = "200", .timeout_ms = 20000};
    assert_true(sjob_run(&c, &ss, 25000));
    assert_int_equal(ss.status, NET_GRPC_OK);
    assert_int_equal(ss.nrecv, 200);
    assert_int_equal(ss.bytes, (size_t)200 * 1004);
    sjob_free(&ss);

    /* Bidi, 10,000 messages. */
    sjob b = {.path = "/test.Py/Bidi", .nsend = 10000, .timeout_ms = 60000};
    assert_true(sjob_run(&c, &b, 65000));
    assert_int_equal(b.status, NET_GRPC_OK);
    assert_int_equal(b.nrecv, 10000);
    assert_true(b.in_order);
    sjob_free(&b);

    /* A 3 MiB message each way. */
    sjob big = {.path = "/test.Py/Bidi", .nsend = 1, .payload = 3u << 20, .timeout_ms = 20000};
    assert_true(sjob_run(&c, &big, 25000));
    assert_int_equal(big.status, NET_GRPC_OK);
    assert_int_equal(big.bytes, (size_t)3 << 20);
    sjob_free(&big);

    tcli_stop(&c);
    pyserver_stop(&p);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_client_c_server),
        cmocka_unit_test(test_c_client_python_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
