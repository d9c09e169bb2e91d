/* test_tls.c -- gRPC over TLS (ALPN h2) with TiKV-style mutual authentication: our
 * client and grpcio's client against our server, plus the failures that must stay
 * failures (no client certificate, plaintext to a TLS port, bad files). Certificates are
 * made for each run with the openssl command under TMPDIR; the test skips without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "netutil.h"

static char dir[512];
static char ca[600], srv_cert[600], srv_key[600], cli_cert[600], cli_key[600];

static int sh(const char *cmd)
{
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static int make_certs(void **state)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/basalt-net-tls-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(srv_cert, sizeof srv_cert, "%s/server.pem", dir);
    snprintf(srv_key, sizeof srv_key, "%s/server.key", dir);
    snprintf(cli_cert, sizeof cli_cert, "%s/client.pem", dir);
    snprintf(cli_key, sizeof cli_key, "%s/client.key", dir);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && {"
             " printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext &&"
             " openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
             "  -keyout ca.key -out ca.pem -days 2 -subj /CN=basalt-test-ca &&"
             " openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
             "  -keyout server.key -out server.csr -subj /CN=127.0.0.1 &&"
             " openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
             "  -out server.pem -days 2 -extfile san.ext &&"
             " openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
             "  -keyout client.key -out client.csr -subj /CN=basalt-client &&"
             " openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
             "  -out client.pem -days 2; } >/dev/null 2>&1",
             dir);
    *state = (void *)(intptr_t)(sh(cmd) == 0);
    return 0;
}

static int remove_certs(void **state)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)sh(cmd); /* best effort: the directory is under the run's TMPDIR */
    return 0;
}

static net_server_options tls_server_opts(void)
{
    net_server_options o = {.tls = {.ca_path = ca, .cert_path = srv_cert, .key_path = srv_key}};
    return o;
}

static int call(tcli *c, const char *path, const char *req, bs_buf *resp)
{
    int status = -1;
    char msg[256];
    assert_int_equal(net_client_unary_sync(c->cli, path, bs_slice_make(req, strlen(req)), 5000,
                                           resp, &status, msg, sizeof msg, NULL),
                     BS_OK);
    return status;
}

static void test_mutual_tls(void **state)
{
    if (!*state)
        skip();
    tsrv s;
    net_server_options o = tls_server_opts();
    tsrv_start(&s, &o);
    net_tls_config good = {.ca_path = ca, .cert_path = cli_cert, .key_path = cli_key};
    tcli c;
    tcli_start(&c, s.port, &good);
    bs_buf resp = BS_BUF_INIT;
    assert_int_equal(call(&c, "/test.Echo/Unary", "over tls", &resp), NET_GRPC_OK);
    assert_int_equal(resp.len, 8);
    assert_memory_equal(resp.ptr, "over tls", 8);
    sjob b = {.path = "/test.Echo/Bidi", .nsend = 2000, .timeout_ms = 20000};
    assert_true(sjob_run(&c, &b, 25000));
    assert_int_equal(b.status, NET_GRPC_OK);
    assert_int_equal(b.nrecv, 2000);
    assert_true(b.in_order);
    sjob_free(&b);
    tcli_stop(&c);

    /* Without a client certificate the handshake fails: UNAVAILABLE. */
    net_tls_config anon = {.ca_path = ca};
    tcli_start(&c, s.port, &anon);
    bs_buf_reset(&resp);
    assert_int_equal(call(&c, "/test.Echo/Unary", "x", &resp), NET_GRPC_UNAVAILABLE);
    tcli_stop(&c);

    /* Plaintext h2c to a TLS port fails too. */
    tcli_start(&c, s.port, NULL);
    assert_int_equal(call(&c, "/test.Echo/Unary", "x", &resp), NET_GRPC_UNAVAILABLE);
    tcli_stop(&c);
    bs_buf_free(&resp);
    tsrv_stop(&s);
}

static void test_bad_tls_config(void **state)
{
    if (!*state)
        skip();
    bs_err err;
    net_loop *loop = net_loop_new("t", &err);
    net_server_options o = {.tls = {.cert_path = srv_cert}}; /* key missing */
    assert_null(net_server_new(loop, &o, &err));
    assert_int_equal(err.code, BS_ECONFIG);
    o.tls.key_path = "/nonexistent/key.pem";
    assert_null(net_server_new(loop, &o, &err));
    assert_int_equal(err.code, BS_ECONFIG);
    o.tls.key_path = cli_key; /* does not match the certificate */
    assert_null(net_server_new(loop, &o, &err));
    assert_int_equal(err.code, BS_ECONFIG);
    net_client_options co = {.host = "127.0.0.1", .port = 1, .tls = {.ca_path = "/nonexistent"}};
    assert_null(net_client_new(loop, &co, &err));
    assert_int_equal(err.code, BS_ECONFIG);
    net_loop_free(loop);
}

static void test_python_tls_client(void **state)
{
    if (!*state || sh("/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1") != 0)
        skip();
    tsrv s;
    net_server_options o = tls_server_opts();
    tsrv_start(&s, &o);
    char port[8];
    snprintf(port, sizeof port, "%u", s.port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/usr/bin/python3", "/usr/bin/python3", "tests/unit/net/grpc_peer.py", "tlsclient",
              port, ca, cli_cert, cli_key, (char *)NULL);
        _exit(127);
    }
    int64_t end = bs_clock_mono_ms() + 60000;
    int st = 0, rc = -1;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
            break;
        }
        if (bs_clock_mono_ms() > end) {
            kill(pid, SIGKILL);
            (void)waitpid(pid, &st, 0);
            break;
        }
        usleep(10 * 1000);
    }
    tsrv_stop(&s);
    assert_int_equal(rc, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutual_tls),
        cmocka_unit_test(test_bad_tls_config),
        cmocka_unit_test(test_python_tls_client),
    };
    return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
