/* server.c -- the RESP server: listener, loop thread, cron, statistics; resp.h's contract.
 *
 * One net_loop thread owns the listener and every connection (conn.c). The server keeps
 * its own copy of the configuration (CONFIG SET changes the copy only) and the Redis-named
 * settings derived from it (resp_settings, cmd_server.c).
 *
 * The cron runs every 100 ms on the loop thread, like Redis's serverCron at hz 10: it
 * samples the command rate for instantaneous_ops_per_sec and, once a second, closes idle
 * connections (timeout) and those past the soft output-buffer limit.
 *
 * Shutdown (resp_server_free): on the loop thread, stop listening and close every conn;
 * then stop the loop, which runs the flushes already posted; then, under the hub's mutex,
 * forget the loop so that completions arriving later (the client may still be retrying
 * requests of closed conns) free their requests instead of posting. */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/assert.h"
#include "common/log.h"
#include "resp/conn_int.h"

#define CRON_MS 100
#define MAX_ERRSTATS 128

int64_t resp_now_ms(void);

/* ---- configuration copy --------------------------------------------------------------- */

/* bs_config has no copy function; its dump is a TOML document that loads back to the same
 * values, which makes a deep copy that cannot miss a field. */
static int copy_config(const bs_config *src, bs_config *dst, bs_err *err)
{
    bs_config_defaults(dst);
    if (!src)
        return BS_OK;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return bs_err_setf(err, BS_EIO, "open_memstream: %s", strerror(errno));
    int rc = bs_config_dump(src, f, err);
    if (fclose(f) != 0 && rc == BS_OK)
        rc = bs_err_setf(err, BS_EIO, "config copy: %s", strerror(errno));
    if (rc == BS_OK)
        rc = bs_config_load_buffer(dst, "(config copy)", text, len, err);
    free(text); /* open_memstream's buffer comes from malloc */
    return rc;
}

/* ---- listening ------------------------------------------------------------------------ */

/* "host:port", "[v6]:port" or ":port" -> host (may be "") and port. */
static int split_addr(const char *addr, char *host, size_t hcap, char *port, size_t pcap,
                      bs_err *err)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon[1] == '\0')
        return bs_err_setf(err, BS_EINVAL, "redis address \"%s\": expected host:port", addr);
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= hcap || strlen(colon + 1) >= pcap)
        return bs_err_setf(err, BS_EINVAL, "redis address \"%s\" is too long", addr);
    memcpy(host, h, hl);
    host[hl] = '\0';
    snprintf(port, pcap, "%s", colon + 1);
    char *end;
    long p = strtol(port, &end, 10);
    if (*end != '\0' || p < 0 || p > 65535)
        return bs_err_setf(err, BS_EINVAL, "redis address \"%s\": bad port", addr);
    return BS_OK;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    (void)l;
    resp_conn_accept(arg, fd, sa, salen);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    (void)l;
    (void)arg;
    /* EMFILE and friends: libevent keeps listening; the peer sees a reset. */
    BS_LOG_WARN("accept failed", "error=%s", strerror(errno));
}

static int listen_on(resp_server *s, const char *addr, bs_err *err)
{
    char host[64], port[16];
    int rc = split_addr(addr, host, sizeof host, port, sizeof port, err);
    if (rc != BS_OK)
        return rc;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gai != 0)
        return bs_err_setf(err, BS_EINVAL, "redis address \"%s\": %s", addr, gai_strerror(gai));
    int fd = -1;
    int last_errno = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int yes = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 511) == 0)
            break;
        last_errno = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return bs_err_setf(err, BS_EIO, "redis listen on %s: %s", addr, strerror(last_errno));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    snprintf(s->host, sizeof s->host, "%s", host);
    s->listener = evconnlistener_new(net_loop_base(s->loop), on_accept, s,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
    if (!s->listener) {
        close(fd);
        return bs_err_setf(err, BS_EINTERNAL, "libevent: evconnlistener_new failed");
    }
    evconnlistener_set_error_cb(s->listener, on_accept_error);
    return BS_OK;
}

/* ---- cron --------------------------------------------------------------------------------- */

static void cron_cb(void *arg)
{
    resp_server *s = arg;
    int64_t now = resp_now_ms();
    /* instantaneous_ops_per_sec: the mean of the last 16 samples, as Redis. */
    uint64_t mono_ms = (uint64_t)(resp_mono_us() / 1000);
    if (s->ops_sample_ms && mono_ms > s->ops_sample_ms) {
        uint64_t ops = s->stat_commands - s->ops_sample_cmds;
        s->ops_samples[s->ops_sample_idx] = ops * 1000 / (mono_ms - s->ops_sample_ms);
        s->ops_sample_idx = (s->ops_sample_idx + 1) % 16;
    }
    s->ops_sample_ms = mono_ms;
    s->ops_sample_cmds = s->stat_commands;
    static const int64_t every = 1000 / CRON_MS;
    if (++s->cron_loops % every == 0) {
        resp_conn *next;
        for (resp_conn *c = s->conns; c; c = next) {
            next = c->next;
            resp_conn_cron(c, now);
        }
    }
    net_timer_arm(s->cron, CRON_MS);
}

/* ---- statistics ----------------------------------------------------------------------- */

void resp_server_count_error(resp_server *s, const uint8_t *reply, size_t len)
{
    s->stat_errors++;
    /* The code is the first word after '-'. */
    size_t n = 0;
    while (1 + n < len && n < sizeof s->errstats[0].code - 1 && reply[1 + n] != ' ' &&
           reply[1 + n] != '\r')
        n++;
    for (size_t i = 0; i < s->nerrstats; i++)
        if (strlen(s->errstats[i].code) == n && memcmp(s->errstats[i].code, reply + 1, n) == 0) {
            s->errstats[i].count++;
            return;
        }
    if (s->nerrstats >= MAX_ERRSTATS)
        return; /* Redis stops tracking new codes too */
    if (s->nerrstats == s->errstats_cap) {
        s->errstats_cap = s->errstats_cap ? s->errstats_cap * 2 : 8;
        s->errstats = bs_realloc(s->errstats, s->errstats_cap * sizeof *s->errstats);
    }
    resp_errstat *e = &s->errstats[s->nerrstats++];
    memcpy(e->code, reply + 1, n);
    e->code[n] = '\0';
    e->count = 1;
}

void resp_server_reset_stats(resp_server *s)
{
    s->stat_conns = s->stat_rejected_conns = s->stat_commands = 0;
    s->stat_net_in = s->stat_net_out = 0;
    s->stat_errors = s->stat_obuf_disconnects = s->stat_qbuf_disconnects = 0;
    s->ops_sample_cmds = 0;
    memset(s->ops_samples, 0, sizeof s->ops_samples);
    memset(s->cmd_stats, 0, resp_commands_count() * sizeof *s->cmd_stats);
    s->nerrstats = 0;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static void mark_loop_thread(void *arg)
{
    resp_tls_hub = arg;
}

static void random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[64];
    size_t want = (n + 1) / 2;
    BS_ASSERT(want <= sizeof buf);
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, buf, want) : -1;
    if (fd >= 0)
        close(fd);
    if (got != (ssize_t)want) {
        /* Only a run id: the clock is random enough when urandom is missing. */
        uint64_t x = (uint64_t)resp_mono_us() ^ ((uint64_t)getpid() << 32);
        for (size_t i = 0; i < want; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[i] = (unsigned char)(x >> 56);
        }
    }
    for (size_t i = 0; i < n; i++)
        out[i] = hex[(buf[i / 2] >> ((i % 2) ? 0 : 4)) & 0xf];
    out[n] = '\0';
}

int resp_server_start(const resp_server_options *opts, resp_server **out, bs_err *err)
{
    *out = NULL;
    resp_commands_init();
    resp_server *s = bs_calloc(1, sizeof *s);
    s->client = opts->client;
    s->start_ms = resp_now_ms();
    random_hex(s->run_id, 40);
    s->cmd_stats = bs_calloc(resp_commands_count(), sizeof *s->cmd_stats);
    int rc = copy_config(opts->config, &s->cfg, err);
    if (rc != BS_OK) {
        bs_config_free(&s->cfg);
        bs_free(s->cmd_stats);
        bs_free(s);
        return rc;
    }
    resp_settings_init(s);
    s->hub = bs_calloc(1, sizeof *s->hub);
    pthread_mutex_init(&s->hub->mu, NULL);
    s->hub->refs = 1;
    s->loop = net_loop_new("resp", err);
    if (!s->loop) {
        resp_server_free(s);
        return err ? err->code : BS_EINTERNAL;
    }
    s->hub->loop = s->loop;
    /* Until the thread starts, this thread counts as the loop's (net.h). */
    rc = listen_on(s, opts->addr ? opts->addr : s->cfg.redis.addr, err);
    if (rc == BS_OK) {
        s->cron = net_timer_new(s->loop, cron_cb, s);
        net_timer_arm(s->cron, CRON_MS);
        rc = net_loop_start(s->loop, err);
    }
    if (rc == BS_OK)
        rc = net_loop_run_sync(s->loop, mark_loop_thread, s->hub);
    if (rc != BS_OK) {
        resp_server_free(s);
        return rc;
    }
    BS_LOG_INFO("RESP server listening", "addr=%s port=%u", s->host, (unsigned)s->port);
    *out = s;
    return BS_OK;
}

uint16_t resp_server_port(const resp_server *s)
{
    return s->port;
}

bool resp_server_shutdown_requested(const resp_server *s)
{
    return __atomic_load_n(&s->shutdown_requested, __ATOMIC_ACQUIRE) != 0;
}

static void close_all(void *arg)
{
    resp_server *s = arg;
    if (s->listener) {
        evconnlistener_free(s->listener);
        s->listener = NULL;
    }
    net_timer_free(s->cron);
    s->cron = NULL;
    resp_sleeps_cancel(s);
    while (s->conns)
        resp_conn_close(s->conns);
    while (s->free_reqs) {
        conn_req *r = s->free_reqs;
        s->free_reqs = r->free_next;
        bs_buf_free(&r->req.out);
        bs_free(r);
    }
    s->nfree_reqs = 0;
    resp_tls_hub = NULL;
}

void resp_server_free(resp_server *s)
{
    if (!s)
        return;
    if (s->loop) {
        /* Runs on the loop thread, or here when it never started. */
        (void)net_loop_run_sync(s->loop, close_all, s);
        net_loop_stop(s->loop);
        pthread_mutex_lock(&s->hub->mu);
        s->hub->loop = NULL;
        pthread_mutex_unlock(&s->hub->mu);
        /* Flushes posted before the stop have run; nothing else uses the conns' server. */
        while (s->free_reqs) {
            conn_req *r = s->free_reqs;
            s->free_reqs = r->free_next;
            bs_buf_free(&r->req.out);
            bs_free(r);
        }
        net_loop_free(s->loop);
    }
    resp_settings_free(&s->set);
    bs_config_free(&s->cfg);
    bs_free(s->cmd_stats);
    bs_free(s->errstats);
    if (s->hub && __atomic_sub_fetch(&s->hub->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        pthread_mutex_destroy(&s->hub->mu);
        bs_free(s->hub);
    }
    bs_free(s);
}
