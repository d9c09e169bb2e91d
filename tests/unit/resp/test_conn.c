/* test_conn.c -- the connection layer over real sockets, without a store.
 *
 * A resp_server runs on 127.0.0.1 with a free port and no client: only commands that do not
 * touch the store (PING, ECHO, HELLO, CLIENT, CONFIG, COMMAND, INFO, DEBUG SLEEP...) are
 * used. The tests speak raw RESP so that every byte of the replies is checked, and cover
 * what the Tcl suite cannot see from outside as precisely: ordering of replies finished out
 * of order, close-after-reply, half-closed peers, a conn closed with a request in flight,
 * shutdown with requests pending. Reads are bounded (10 s) so a hang fails instead of
 * blocking; nothing asserts on how long anything takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "resp/resp.h"

#define WAIT_MS 10000

static resp_server *srv;
static bs_config cfg;

/* Starts a server with the defaults plus (path, value) pairs, NULL-terminated. */
static void start(const char *first, ...)
{
    bs_config_defaults(&cfg);
    va_list ap;
    va_start(ap, first);
    for (const char *k = first; k; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        assert_int_equal(bs_config_set(&cfg, k, v, NULL), BS_OK);
    }
    va_end(ap);
    resp_server_options o = {.client = NULL, .config = &cfg, .addr = "127.0.0.1:0"};
    bs_err err;
    assert_int_equal(resp_server_start(&o, &srv, &err), BS_OK);
    assert_true(resp_server_port(srv) > 0);
}

static void stop(void)
{
    resp_server_free(srv);
    srv = NULL;
    bs_config_free(&cfg);
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(resp_server_port(srv))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        c += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

/* Reads exactly n bytes (bounded wait). Returns the number read: < n on EOF. */
static size_t read_n(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, WAIT_MS);
        assert_true(pr == 1); /* a timeout here means the server never answered */
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r == 0)
            break;
        if (r < 0 && errno == ECONNRESET)
            break;
        assert_true(r > 0);
        got += (size_t)r;
    }
    return got;
}

/* Reads strlen(want) bytes and compares (want may not contain NUL; see expect_mem). */
static void expect_mem(int fd, const char *want, size_t n)
{
    char *buf = malloc(n + 1);
    size_t got = read_n(fd, buf, n);
    buf[got] = '\0';
    if (got != n || memcmp(buf, want, n) != 0)
        fail_msg("expected %zu bytes \"%.*s\", got %zu: \"%.*s\"", n, (int)(n > 200 ? 200 : n),
                 want, got, (int)(got > 200 ? 200 : got), buf);
    free(buf);
}

static void expect(int fd, const char *want)
{
    expect_mem(fd, want, strlen(want));
}

/* True once the server closed the connection (bounded wait). */
static bool closed_by_server(int fd)
{
    char c;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, WAIT_MS) != 1)
        return false;
    ssize_t r = recv(fd, &c, 1, 0);
    return r == 0 || (r < 0 && errno == ECONNRESET);
}

/* Reads one line (up to CRLF, included) into buf. */
static void read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        assert_int_equal(read_n(fd, buf + n, 1), 1);
        n++;
        if (n >= 2 && buf[n - 2] == '\r' && buf[n - 1] == '\n')
            break;
    }
    buf[n] = '\0';
}

/* Reads a bulk or verbatim reply's payload (caller frees). */
static char *read_bulk(int fd, size_t *len)
{
    char line[64];
    read_line(fd, line, sizeof line);
    assert_true(line[0] == '$' || line[0] == '=');
    long n = strtol(line + 1, NULL, 10);
    assert_true(n >= 0);
    char *b = malloc((size_t)n + 3);
    assert_int_equal(read_n(fd, b, (size_t)n + 2), (size_t)n + 2);
    b[n] = '\0';
    *len = (size_t)n;
    return b;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_ping_echo_inline_and_binary(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    send_str(fd, "PING\r\n");
    expect(fd, "+PONG\r\n");
    send_str(fd, "ping hello\r\n");
    expect(fd, "$5\r\nhello\r\n");
    static const char echo[] = "*2\r\n$4\r\nECHO\r\n$5\r\na\0\r\nb\r\n";
    send_all(fd, echo, sizeof echo - 1);
    expect_mem(fd, "$5\r\na\0\r\nb\r\n", 11);
    close(fd);
    stop();
}

static void test_errors_as_redis(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    send_str(fd, "FOO bar 'baz qux'\r\n");
    expect(fd, "-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz qux' \r\n");
    send_str(fd, "ECHO\r\n");
    expect(fd, "-ERR wrong number of arguments for 'echo' command\r\n");
    send_str(fd, "CLIENT\r\n");
    expect(fd, "-ERR wrong number of arguments for 'client' command\r\n");
    send_str(fd, "client foo\r\n");
    expect(fd, "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n");
    send_str(fd, "CLIENT ID x\r\n");
    expect(fd, "-ERR wrong number of arguments for 'client|id' command\r\n");
    send_str(fd, "SELECT 16\r\nSELECT x\r\nSELECT 15\r\n");
    expect(fd, "-ERR DB index is out of range\r\n-ERR value is not an integer or out of range\r\n"
               "+OK\r\n");
    /* Arguments are cut at 128 bytes in total, as Redis does. */
    char cmd[400];
    memset(cmd, 'a', sizeof cmd);
    memcpy(cmd, "nosuch ", 7);
    memcpy(cmd + sizeof cmd - 2, "\r\n", 2);
    send_all(fd, cmd, sizeof cmd);
    char want[300];
    snprintf(want, sizeof want,
             "-ERR unknown command 'nosuch', with args beginning with: '%.128s' \r\n", cmd + 7);
    expect(fd, want);
    close(fd);
    stop();
}

/* Thousands of pipelined commands in one write come back complete and in order. */
static void test_pipeline_order(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    enum { N = 20000 };
    bs_buf req = BS_BUF_INIT, want = BS_BUF_INIT;
    char tmp[64];
    for (int i = 0; i < N; i++) {
        int n = snprintf(tmp, sizeof tmp, "*2\r\n$4\r\nECHO\r\n$%d\r\n%d\r\n",
                         snprintf(NULL, 0, "%d", i), i);
        bs_buf_append(&req, tmp, (size_t)n);
        n = snprintf(tmp, sizeof tmp, "$%d\r\n%d\r\n", snprintf(NULL, 0, "%d", i), i);
        bs_buf_append(&want, tmp, (size_t)n);
    }
    send_all(fd, req.ptr, req.len);
    expect_mem(fd, (const char *)want.ptr, want.len);
    bs_buf_free(&req);
    bs_buf_free(&want);
    close(fd);
    stop();
}

/* DEBUG SLEEP finishes later than the PING after it; the replies keep request order. */
static void test_out_of_order_completion(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    send_str(fd, "DEBUG SLEEP 0.05\r\nPING\r\nDEBUG SLEEP 0\r\nECHO x\r\n");
    expect(fd, "+OK\r\n+PONG\r\n+OK\r\n$1\r\nx\r\n");
    close(fd);
    stop();
}

static void test_protocol_error_replies_then_closes(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    send_str(fd, "PING\r\n*1\r\n$x\r\nPING\r\n");
    expect(fd, "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
    assert_true(closed_by_server(fd));
    close(fd);
    /* Earlier slow replies still come first. */
    fd = dial();
    send_str(fd, "DEBUG SLEEP 0.02\r\n*abc\r\n");
    expect(fd, "+OK\r\n-ERR Protocol error: invalid multibulk length\r\n");
    assert_true(closed_by_server(fd));
    close(fd);
    fd = dial();
    send_str(fd, "\"unbalanced\r\n");
    expect(fd, "-ERR Protocol error: unbalanced quotes in request\r\n");
    assert_true(closed_by_server(fd));
    close(fd);
    stop();
}

static void test_quit_and_half_close(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    send_str(fd, "PING\r\nQUIT\r\nPING\r\n");
    expect(fd, "+PONG\r\n+OK\r\n");
    assert_true(closed_by_server(fd));
    close(fd);
    /* A peer that stops sending still gets every reply it asked for. */
    fd = dial();
    send_str(fd, "DEBUG SLEEP 0.02\r\nPING\r\n");
    shutdown(fd, SHUT_WR);
    expect(fd, "+OK\r\n+PONG\r\n");
    assert_true(closed_by_server(fd));
    close(fd);
    stop();
}

static void test_hello_resp3(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    send_str(fd, "HELLO 3\r\n");
    char want[256];
    snprintf(want, sizeof want,
             "%%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.0\r\n"
             "$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
             "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n");
    expect(fd, want);
    send_str(fd, "CLIENT GETNAME\r\nHELLO 2 SETNAME me\r\n");
    expect(fd, "_\r\n*14\r\n");
    char line[128];
    for (int i = 0; i < 25; i++)
        read_line(fd, line, sizeof line); /* the rest of the RESP2 map */
    send_str(fd, "CLIENT GETNAME\r\nHELLO 4\r\nHELLO x\r\nHELLO 3 foo\r\n");
    expect(fd, "$2\r\nme\r\n-NOPROTO unsupported protocol version\r\n"
               "-ERR Protocol version is not an integer or out of range\r\n"
               "-ERR Syntax error in HELLO option 'foo'\r\n");
    close(fd);
    stop();
}

static void test_auth(void **state)
{
    (void)state;
    start("redis.requirepass", "s3cret", NULL);
    int fd = dial();
    send_str(fd, "PING\r\nAUTH x\r\nAUTH bob s3cret\r\nHELLO 3\r\n");
    expect(fd, "-NOAUTH Authentication required.\r\n"
               "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
               "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
               "-NOAUTH HELLO must be called with the client already authenticated, otherwise "
               "the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the "
               "client and select the RESP protocol version at the same time\r\n");
    /* Unknown commands are reported as such even before AUTH, as in Redis. */
    send_str(fd, "NOSUCH\r\nAUTH s3cret\r\nPING\r\nRESET\r\nPING\r\n");
    expect(fd, "-ERR unknown command 'NOSUCH', with args beginning with: \r\n+OK\r\n+PONG\r\n"
               "+RESET\r\n-NOAUTH Authentication required.\r\n");
    send_str(fd, "AUTH default s3cret\r\nPING\r\n");
    expect(fd, "+OK\r\n+PONG\r\n");
    close(fd);
    /* Before AUTH, big requests are a protocol error (Redis 7). */
    fd = dial();
    send_str(fd, "*20\r\n");
    expect(fd, "-ERR Protocol error: unauthenticated multibulk length\r\n");
    assert_true(closed_by_server(fd));
    close(fd);
    stop();
    start(NULL);
    fd = dial();
    send_str(fd, "AUTH x\r\nAUTH default anything\r\n");
    expect(fd, "-ERR AUTH <password> called without any password configured for the default "
               "user. Are you sure your configuration is correct?\r\n+OK\r\n");
    close(fd);
    stop();
}

static void test_maxclients(void **state)
{
    (void)state;
    start("redis.maxclients", "1", NULL);
    int a = dial();
    send_str(a, "PING\r\n");
    expect(a, "+PONG\r\n");
    int b = dial();
    expect(b, "-ERR max number of clients reached\r\n");
    assert_true(closed_by_server(b));
    close(b);
    close(a);
    stop();
}

static void test_client_reply(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    send_str(fd, "CLIENT REPLY OFF\r\nPING\r\nECHO a\r\nCLIENT REPLY ON\r\nECHO b\r\n");
    expect(fd, "+OK\r\n$1\r\nb\r\n");
    send_str(fd, "CLIENT REPLY SKIP\r\nECHO c\r\nECHO d\r\nCLIENT REPLY maybe\r\n");
    expect(fd, "$1\r\nd\r\n-ERR syntax error\r\n");
    close(fd);
    stop();
}

static void test_client_list_name_kill(void **state)
{
    (void)state;
    start(NULL);
    int a = dial(), b = dial();
    send_str(a, "CLIENT SETNAME alpha\r\nCLIENT SETNAME \"a b\"\r\nCLIENT ID\r\n");
    expect(a, "+OK\r\n-ERR Client names cannot contain spaces, newlines or special "
              "characters.\r\n:1\r\n");
    send_str(b, "CLIENT ID\r\nCLIENT LIST\r\n");
    expect(b, ":2\r\n");
    size_t len;
    char *list = read_bulk(b, &len);
    assert_non_null(strstr(list, "id=1 addr=127.0.0.1:"));
    assert_non_null(strstr(list, " name=alpha age="));
    assert_non_null(strstr(list, " flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf="));
    assert_non_null(
        strstr(list, "cmd=client|list user=default redir=-1 resp=2 lib-name= lib-ver=\n"));
    free(list);
    send_str(b, "CLIENT KILL ID 1\r\nCLIENT KILL ID 1\r\nCLIENT KILL 1.2.3.4:5\r\n");
    expect(b, ":1\r\n:0\r\n-ERR No such client\r\n");
    assert_true(closed_by_server(a));
    close(a);
    /* Killing oneself: the reply comes, then the close. */
    send_str(b, "CLIENT KILL ID 2 SKIPME no\r\nPING\r\n");
    expect(b, ":1\r\n");
    assert_true(closed_by_server(b));
    close(b);
    stop();
}

static void test_config(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    send_str(fd, "CONFIG GET maxclients\r\n");
    expect(fd, "*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n");
    send_str(fd, "CONFIG SET timeout 5 maxclients 7\r\nCONFIG GET timeout\r\n");
    expect(fd, "+OK\r\n*2\r\n$7\r\ntimeout\r\n$1\r\n5\r\n");
    send_str(fd,
             "CONFIG SET foo bar\r\nCONFIG SET maxclients abc\r\nCONFIG SET timeout 1 timeout 2\r\n"
             "CONFIG SET databases 3\r\nCONFIG SET proto-max-bulk-len 1.5mb\r\n");
    expect(fd, "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n"
               "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument "
               "couldn't be parsed into an integer\r\n"
               "-ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate "
               "parameter\r\n"
               "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set "
               "immutable config\r\n"
               "-ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - "
               "argument must be a memory value\r\n");
    /* Atomic: a bad pair leaves the good one unapplied. */
    send_str(fd, "CONFIG SET timeout 9 maxclients 0\r\nCONFIG GET timeout\r\n");
    expect(fd, "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument "
               "must be between 1 and 4294967295 inclusive\r\n*2\r\n$7\r\ntimeout\r\n$1\r\n5\r\n");
    /* Aliases share a value. */
    send_str(fd,
             "CONFIG SET hash-max-ziplist-entries 77\r\nCONFIG GET hash-max-listpack-entries\r\n");
    expect(fd, "+OK\r\n*2\r\n$25\r\nhash-max-listpack-entries\r\n$2\r\n77\r\n");
    close(fd);
    stop();
}

static void test_big_bulk(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    size_t n = 20u * 1024 * 1024;
    char *v = malloc(n);
    for (size_t i = 0; i < n; i++)
        v[i] = (char)(i * 7);
    char head[64];
    int hl = snprintf(head, sizeof head, "*2\r\n$4\r\nECHO\r\n$%zu\r\n", n);
    send_all(fd, head, (size_t)hl);
    send_all(fd, v, n);
    send_str(fd, "\r\n");
    hl = snprintf(head, sizeof head, "$%zu\r\n", n);
    expect_mem(fd, head, (size_t)hl);
    char *got = malloc(n + 2);
    assert_int_equal(read_n(fd, got, n + 2), n + 2);
    assert_memory_equal(got, v, n);
    free(got);
    free(v);
    close(fd);
    stop();
}

/* Requests still running when their conn goes, or when the server is freed, are freed
 * exactly once (ASan checks the rest). */
static void test_close_with_requests_in_flight(void **state)
{
    (void)state;
    start(NULL);
    int a = dial();
    send_str(a, "DEBUG SLEEP 0.05\r\nPING\r\n");
    close(a);
    int b = dial();
    send_str(b, "DEBUG SLEEP 30\r\n");
    int c = dial();
    send_str(c, "PING\r\n");
    expect(c, "+PONG\r\n");
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL); /* let a's sleep fire on its closed conn; no assertion on it */
    stop();               /* b's sleep is still pending */
    close(b);
    close(c);
}

static void test_idle_timeout(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    send_str(fd, "CONFIG SET timeout 1\r\n");
    expect(fd, "+OK\r\n");
    assert_true(closed_by_server(fd)); /* the cron closes it a second or two later */
    close(fd);
    stop();
}

static void test_info_time_command(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    send_str(fd, "INFO\r\n");
    size_t len;
    char *info = read_bulk(fd, &len);
    assert_true(strncmp(info, "# Server\r\nredis_version:7.2.0\r\n", 31) == 0);
    assert_non_null(strstr(info, "\r\n\r\n# Clients\r\nconnected_clients:1\r\n"));
    assert_non_null(strstr(info, "\r\n\r\n# Keyspace\r\n"));
    assert_non_null(strstr(info, "# Basalt\r\nbasalt_version:"));
    assert_null(strstr(info, "# Commandstats"));
    free(info);
    send_str(fd, "INFO commandstats\r\n");
    info = read_bulk(fd, &len);
    assert_non_null(strstr(info, "cmdstat_info:calls=1,"));
    free(info);
    send_str(fd, "INFO nosuchsection\r\nCOMMAND COUNT x\r\nCOMMAND INFO nosuch\r\n"
                 "COMMAND GETKEYS ping x\r\nCOMMAND GETKEYS nosuch x\r\n");
    expect(fd, "$0\r\n\r\n-ERR wrong number of arguments for 'command|count' command\r\n"
               "*1\r\n$-1\r\n-ERR The command has no key arguments\r\n"
               "-ERR Invalid command specified\r\n");
    send_str(fd, "TIME\r\n");
    char line[64];
    read_line(fd, line, sizeof line);
    assert_string_equal(line, "*2\r\n");
    free(read_bulk(fd, &len));
    free(read_bulk(fd, &len));
    close(fd);
    stop();
}

static void test_shutdown_flag(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    send_str(fd, "SHUTDOWN ABORT\r\nSHUTDOWN NOSAVE SAVE\r\n");
    expect(fd, "-ERR No shutdown in progress.\r\n-ERR syntax error\r\n");
    assert_false(resp_server_shutdown_requested(srv));
    /* No reply: the connection closes, as when Redis exits. */
    send_str(fd, "SHUTDOWN\r\nPING\r\n");
    assert_true(closed_by_server(fd));
    assert_true(resp_server_shutdown_requested(srv));
    close(fd);
    stop();
}

/* ---- MULTI/EXEC without a store: queueing, errors, connection commands ------------------ */

static void test_multi_errors(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    send_str(fd, "EXEC\r\nDISCARD\r\nMULTI\r\nMULTI\r\nWATCH k\r\nPING\r\nEXEC\r\n");
    expect(fd, "-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n+OK\r\n"
               "-ERR MULTI calls can not be nested\r\n-ERR WATCH inside MULTI is not allowed\r\n"
               "+QUEUED\r\n*1\r\n+PONG\r\n");
    /* Refused while queueing: the transaction is discarded at EXEC. */
    send_str(fd, "MULTI\r\nPING\r\nNOSUCH\r\nECHO\r\nSHUTDOWN\r\nPING\r\nEXEC\r\nPING\r\n");
    expect(fd, "+OK\r\n+QUEUED\r\n"
               "-ERR unknown command 'NOSUCH', with args beginning with: \r\n"
               "-ERR wrong number of arguments for 'echo' command\r\n"
               "-ERR Command not allowed inside a transaction\r\n+QUEUED\r\n"
               "-EXECABORT Transaction discarded because of previous errors.\r\n+PONG\r\n");
    /* DISCARD, then EXEC; RESET leaves MULTI too. */
    send_str(fd, "MULTI\r\nPING\r\nDISCARD\r\nEXEC\r\nMULTI\r\nPING\r\nRESET\r\nEXEC\r\n");
    expect(fd, "+OK\r\n+QUEUED\r\n+OK\r\n-ERR EXEC without MULTI\r\n+OK\r\n+QUEUED\r\n"
               "+RESET\r\n-ERR EXEC without MULTI\r\n");
    /* A data command needs the store: without one EXEC fails as a whole. */
    send_str(fd, "MULTI\r\nGET k\r\nEXEC\r\nWATCH k\r\n");
    expect(fd, "+OK\r\n+QUEUED\r\n"
               "-ERR cannot begin the transaction: no cluster client\r\n"
               "-ERR WATCH needs the cluster client\r\n");
    close(fd);
    stop();
}

/* Connection commands run inside EXEC, and the commands pipelined after it see what they
 * did (SELECT): EXEC holds them back until its reply. */
static void test_multi_connection_commands(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    send_str(fd, "MULTI\r\nPING\r\nECHO x\r\nSELECT 3\r\nSELECT 99\r\nEXEC\r\nCLIENT INFO\r\n");
    expect(fd, "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n"
               "*4\r\n+PONG\r\n$1\r\nx\r\n+OK\r\n-ERR DB index is out of range\r\n");
    size_t n;
    char *info = read_bulk(fd, &n);
    assert_non_null(strstr(info, " db=3 "));
    assert_non_null(strstr(info, " multi=-1 "));
    free(info);
    /* Inside MULTI, CLIENT LIST shows the queue's length. */
    send_str(fd, "MULTI\r\nPING\r\nPING\r\n");
    expect(fd, "+OK\r\n+QUEUED\r\n+QUEUED\r\n");
    int other = dial();
    send_str(other, "CLIENT LIST\r\n");
    char *list = read_bulk(other, &n);
    assert_non_null(strstr(list, " multi=2 "));
    free(list);
    send_str(fd, "EXEC\r\n");
    expect(fd, "*2\r\n+PONG\r\n+PONG\r\n");
    close(other);
    close(fd);
    stop();
}

/* A connection command that finishes later (DEBUG SLEEP) inside EXEC: the rest waits for
 * it, in order; and a conn closed (or a server stopped) meanwhile frees everything once. */
static void test_multi_async_and_close(void **state)
{
    (void)state;
    start(NULL);
    int fd = dial();
    send_str(fd, "MULTI\r\nDEBUG SLEEP 0.05\r\nECHO a\r\nDEBUG SLEEP 0\r\nEXEC\r\nPING\r\n");
    expect(fd, "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n$1\r\na\r\n+OK\r\n"
               "+PONG\r\n");
    close(fd);
    int a = dial();
    send_str(a, "MULTI\r\nDEBUG SLEEP 0.05\r\nPING\r\nEXEC\r\n");
    expect(a, "+OK\r\n+QUEUED\r\n+QUEUED\r\n");
    close(a); /* EXEC still sleeping */
    int b = dial();
    send_str(b, "MULTI\r\nDEBUG SLEEP 30\r\nEXEC\r\n");
    expect(b, "+OK\r\n+QUEUED\r\n");
    int c = dial();
    send_str(c, "PING\r\n");
    expect(c, "+PONG\r\n");
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL); /* a's sleep fires on its closed conn */
    stop();               /* b's EXEC is still sleeping */
    close(b);
    close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_echo_inline_and_binary),
        cmocka_unit_test(test_errors_as_redis),
        cmocka_unit_test(test_pipeline_order),
        cmocka_unit_test(test_out_of_order_completion),
        cmocka_unit_test(test_protocol_error_replies_then_closes),
        cmocka_unit_test(test_quit_and_half_close),
        cmocka_unit_test(test_hello_resp3),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_maxclients),
        cmocka_unit_test(test_client_reply),
        cmocka_unit_test(test_client_list_name_kill),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_big_bulk),
        cmocka_unit_test(test_close_with_requests_in_flight),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_info_time_command),
        cmocka_unit_test(test_shutdown_flag),
        cmocka_unit_test(test_multi_errors),
        cmocka_unit_test(test_multi_connection_commands),
        cmocka_unit_test(test_multi_async_and_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
