/* main_server.c -- basalt-server: one store node with its front ends, in standalone mode.
 *
 * Startup, in order (each step needs the ones before it; a failure prints
 * "basalt-server: <reason>" and exits 1 after undoing what was started):
 *   1. flags; --help and --version answer and exit 0;
 *   2. configuration: defaults, then --config's TOML file, then flags (bs_config_set, so a
 *      flag is checked exactly as the same key in the file would be), then cross-checks;
 *   3. logging (level, file, redaction) from the effective configuration;
 *   4. address checks: every address must parse; [pd] endpoints must be empty (joining a PD
 *      cluster comes with cluster mode);
 *   5. the node (srv_node: engine, PD, store, txn), then the cluster client over it, the
 *      RESP server, the embedded PD's gRPC port (pdpb.PD on its own loop, since its
 *      handlers persist PD state synchronously), the TiKV gRPC port (tikvpb.Tikv) and the
 *      status HTTP server (GET /metrics, GET /status);
 *   6. one line per listening address on stdout and in the log, with the real port when
 *      port 0 asked for a free one ("RESP listening on 127.0.0.1:6379").
 * SIGINT and SIGTERM are blocked in every thread and taken by the main thread with
 * sigtimedwait, which also polls resp_server_shutdown_requested() (Redis's SHUTDOWN). Either
 * way the server stops accepting, frees everything in reverse order and exits 0. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "cluster/cluster.h"
#include "common/config.h"
#include "common/log.h"
#include "net/net.h"
#include "pd/pd.h"
#include "resp/resp.h"
#include "server/srv.h"
#include "server/srv_grpc.h"

#define PROG "basalt-server"
/* How long startup waits for the store's Regions to elect leaders and for the first TSO
 * batch. A lone voter campaigns at once, so this is only reached when something is wrong. */
#define READY_TIMEOUT_MS 30000

typedef struct flags {
    const char *config;
    const char *data_dir;
    const char *addr;
    const char *redis_addr;
    const char *status_addr;
    const char *pd;
    const char *pd_addr;
    const char *log_file;
    const char *log_level;
} flags;

/* Everything the running server owns, freed in reverse order by server_stop(). */
typedef struct server {
    bs_config cfg;
    srv_node *node;
    client *client;
    resp_server *resp;
    net_loop *status_loop;
    net_http_server *status;
    net_loop *pd_loop, *grpc_loop;
    net_server *pd_server, *grpc_server;
    srv_grpc_pd *pd_svc;
    srv_grpc_tikv *tikv_svc;
    char redis_bound[SRV_HOST_MAX + 8];
    char grpc_bound[SRV_HOST_MAX + 8];
    char pd_bound[SRV_HOST_MAX + 8];
    char status_bound[SRV_HOST_MAX + 8];
    srv_addrs addrs; /* points into the fields above and cfg */
} server;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: " PROG " [flags]\n"
            "\n"
            "Runs a Basalt store node. Without --pd it is a complete standalone database: the\n"
            "store, an embedded PD, the Redis-protocol front end and a status HTTP port.\n"
            "\n"
            "Flags (each overrides the same setting of the --config file):\n"
            "  -C, --config FILE        TOML configuration (conf/basalt.toml lists every key)\n"
            "  -s, --data-dir DIR       [storage] data-dir: RocksDB under DIR/db, PD under DIR/pd\n"
            "  -A, --addr HOST:PORT     [server] addr: TiKV gRPC address (tikvpb.Tikv)\n"
            "                           default 127.0.0.1:20160\n"
            "      --redis-addr H:P     [redis] addr: RESP front end, default 127.0.0.1:6379\n"
            "      --status-addr H:P    [server] status-addr: GET /metrics and /status,\n"
            "                           default 127.0.0.1:20180; \"\" disables it\n"
            "      --pd H:P[,H:P...]    [pd] endpoints: join a PD cluster (not supported yet)\n"
            "      --pd-addr H:P        [pd-server] addr: embedded PD (pdpb.PD),\n"
            "                           default 127.0.0.1:2379\n"
            "      --log-file FILE      [log.file] filename; default stderr\n"
            "  -L, --log-level LEVEL    [log] level: trace, debug, info, warn, error, fatal\n"
            "  -h, --help               this text\n"
            "  -V, --version            the version\n"
            "\n"
            "Port 0 in any listening address picks a free port; the ports actually bound are\n"
            "printed at startup (\"RESP listening on 127.0.0.1:6379\").\n"
            "SIGINT or SIGTERM (or SHUTDOWN from a Redis client) stops the server cleanly.\n");
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* Returns 0 to go on, 1 for an error (printed), 2 for --help/--version (printed). */
static int parse_flags(int argc, char **argv, flags *f)
{
    enum { OPT_REDIS = 1000, OPT_STATUS, OPT_PD, OPT_PD_ADDR, OPT_LOG_FILE };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'C'},
        {"data-dir", required_argument, NULL, 's'},
        {"addr", required_argument, NULL, 'A'},
        {"redis-addr", required_argument, NULL, OPT_REDIS},
        {"status-addr", required_argument, NULL, OPT_STATUS},
        {"pd", required_argument, NULL, OPT_PD},
        {"pd-endpoints", required_argument, NULL, OPT_PD},
        {"pd-addr", required_argument, NULL, OPT_PD_ADDR},
        {"log-file", required_argument, NULL, OPT_LOG_FILE},
        {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    memset(f, 0, sizeof(*f));
    opterr = 0; /* our own messages */
    optind = 1;
    for (;;) {
        int prev = optind;
        int c = getopt_long(argc, argv, ":C:s:A:L:hV", longopts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'C': f->config = optarg; break;
        case 's': f->data_dir = optarg; break;
        case 'A': f->addr = optarg; break;
        case OPT_REDIS: f->redis_addr = optarg; break;
        case OPT_STATUS: f->status_addr = optarg; break;
        case OPT_PD: f->pd = optarg; break;
        case OPT_PD_ADDR: f->pd_addr = optarg; break;
        case OPT_LOG_FILE: f->log_file = optarg; break;
        case 'L': f->log_level = optarg; break;
        case 'h':
            usage(stdout);
            return 2;
        case 'V':
            printf(PROG " %s (TiKV-compatible %s, API v2)\n", SRV_VERSION, SRV_TIKV_VERSION);
            return 2;
        case ':':
            fail("flag %s needs a value (see --help)", argv[prev < argc ? prev : argc - 1]);
            return 1;
        default:
            fail("unknown flag %s (see --help)", argv[prev < argc ? prev : argc - 1]);
            return 1;
        }
    }
    if (optind < argc) {
        fail("unexpected argument \"%s\" (see --help)", argv[optind]);
        return 1;
    }
    return 0;
}

/* Applies one flag through the config schema, so it is checked like the file's key. */
static int set_flag(bs_config *cfg, const char *flag, const char *path, const char *v)
{
    if (!v)
        return 0;
    bs_err err;
    if (bs_config_set(cfg, path, v, &err) != BS_OK)
        return fail("--%s: %s", flag, err.msg);
    return 0;
}

static int load_config(const flags *f, bs_config *cfg)
{
    bs_err err;
    bs_config_defaults(cfg);
    if (f->config && bs_config_load(cfg, f->config, &err) != BS_OK)
        return fail("%s", err.msg);
    if (set_flag(cfg, "data-dir", "storage.data-dir", f->data_dir) ||
        set_flag(cfg, "addr", "server.addr", f->addr) ||
        set_flag(cfg, "redis-addr", "redis.addr", f->redis_addr) ||
        set_flag(cfg, "status-addr", "server.status-addr", f->status_addr) ||
        set_flag(cfg, "pd", "pd.endpoints", f->pd) ||
        set_flag(cfg, "pd-addr", "pd-server.addr", f->pd_addr) ||
        set_flag(cfg, "log-file", "log.file.filename", f->log_file) ||
        set_flag(cfg, "log-level", "log.level", f->log_level))
        return 1;
    if (bs_config_validate(cfg, &err) != BS_OK)
        return fail("%s", err.msg);
    if (cfg->pd.endpoints.n > 0)
        return fail("joining a PD cluster is not supported yet (--pd / [pd] endpoints = \"%s\"); "
                    "start without it to run standalone with an embedded PD",
                    cfg->pd.endpoints.v[0]);
    return 0;
}

static int setup_log(const bs_config *cfg)
{
    bs_log_set_level((bs_log_level)cfg->log.level);
    bs_log_set_redact(cfg->security.redact_info_log);
    if (cfg->log.file_filename && cfg->log.file_filename[0]) {
        bs_err err;
        if (bs_log_open_file(cfg->log.file_filename, &err) != BS_OK)
            return fail("--log-file: %s", err.msg);
    }
    return 0;
}

static int check_addr(const char *what, const char *addr)
{
    char host[SRV_HOST_MAX];
    uint16_t port;
    bs_err err;
    if (srv_addr_parse(addr, host, &port, &err) != BS_OK)
        return fail("%s: %s", what, err.msg);
    return 0;
}

static void format_bound(char *out, size_t cap, const char *addr, uint16_t port)
{
    char host[SRV_HOST_MAX];
    uint16_t want;
    if (srv_addr_parse(addr, host, &want, NULL) != BS_OK || !host[0])
        snprintf(host, sizeof host, "0.0.0.0");
    if (strchr(host, ':'))
        snprintf(out, cap, "[%s]:%u", host, (unsigned)port);
    else
        snprintf(out, cap, "%s:%u", host, (unsigned)port);
}

/* A line for people (stdout) and for the log. */
static void announce(const char *what, const char *addr)
{
    printf("%s listening on %s\n", what, addr);
    fflush(stdout);
    BS_LOG_INFO("listening", "service=%s addr=%s", what, addr);
}

/* ---- status HTTP ----------------------------------------------------------------------- */

static void status_handler(void *arg, const char *path, net_http_reply *rep)
{
    server *s = arg;
    if (strcmp(path, "/metrics") == 0) {
        rep->content_type = "text/plain; version=0.0.4; charset=utf-8";
        srv_metrics_render(s->node, &rep->body);
    } else if (strcmp(path, "/status") == 0) {
        rep->content_type = "application/json";
        srv_status_json(s->node, &s->addrs, &rep->body);
        bs_buf_append_byte(&rep->body, '\n');
    } else if (strcmp(path, "/") == 0) {
        static const char idx[] = "basalt-server status: GET /metrics, GET /status\n";
        bs_buf_append(&rep->body, idx, sizeof idx - 1);
    } else {
        static const char nf[] = "not found: try /metrics or /status\n";
        rep->status = 404;
        bs_buf_append(&rep->body, nf, sizeof nf - 1);
    }
}

static int start_status(server *s)
{
    const char *addr = s->cfg.server.status_addr;
    if (!addr || !addr[0]) {
        BS_LOG_INFO("status server disabled ([server] status-addr is empty)");
        return 0;
    }
    char host[SRV_HOST_MAX];
    uint16_t port;
    bs_err err;
    if (srv_addr_parse(addr, host, &port, &err) != BS_OK)
        return fail("--status-addr: %s", err.msg);
    s->status_loop = net_loop_new("status", &err);
    if (!s->status_loop)
        return fail("status server: %s", err.msg);
    if (net_loop_start(s->status_loop, &err) != BS_OK)
        return fail("status server: %s", err.msg);
    if (net_http_server_start(s->status_loop, host, port, status_handler, s, &s->status,
                              &err) != BS_OK)
        return fail("status server: %s", err.msg);
    format_bound(s->status_bound, sizeof s->status_bound, addr,
                 net_http_server_port(s->status));
    s->addrs.status = s->status_bound;
    return 0;
}

/* ---- gRPC ports ---------------------------------------------------------------------------- */

/* A gRPC server on its own loop thread at addr; *bound gets the address actually bound. */
static int grpc_listen(server *s, const char *what, const char *addr, net_loop **loop,
                       net_server **srv)
{
    char host[SRV_HOST_MAX];
    uint16_t port;
    bs_err err;
    if (srv_addr_parse(addr, host, &port, &err) != BS_OK)
        return fail("%s: %s", what, err.msg);
    *loop = net_loop_new(what, &err);
    if (!*loop || net_loop_start(*loop, &err) != BS_OK)
        return fail("%s: %s", what, err.msg);
    net_server_options o;
    memset(&o, 0, sizeof(o));
    o.host = host[0] ? host : NULL;
    o.port = port;
    o.tls.ca_path = s->cfg.security.ca_path[0] ? s->cfg.security.ca_path : NULL;
    o.tls.cert_path = s->cfg.security.cert_path[0] ? s->cfg.security.cert_path : NULL;
    o.tls.key_path = s->cfg.security.key_path[0] ? s->cfg.security.key_path : NULL;
    *srv = net_server_new(*loop, &o, &err);
    if (!*srv)
        return fail("%s: %s", what, err.msg);
    return 0;
}

/* The store registered [server] addr with PD when it opened, before the gRPC port was
 * bound; with port 0 that names no port at all. Clients route through PD's GetStore, so
 * PD must hold the address actually bound: put the store again with it. */
static int register_bound_address(server *s)
{
    if (strcmp(s->grpc_bound, s->cfg.server.addr) == 0)
        return 0;
    bs_err err;
    pd_store st;
    uint64_t id = cluster_store_id(srv_node_store(s->node));
    if (pd_get_store(srv_node_pd(s->node), id, &st, NULL, &err) != BS_OK)
        return fail("store %llu is not in PD: %s", (unsigned long long)id, err.msg);
    size_t len = strlen(s->grpc_bound);
    if (len >= sizeof st.address)
        return fail("gRPC address %s is too long for PD", s->grpc_bound);
    memcpy(st.address, s->grpc_bound, len + 1);
    if (pd_put_store(srv_node_pd(s->node), &st, NULL, &err) != BS_OK)
        return fail("registering %s with PD: %s", s->grpc_bound, err.msg);
    BS_LOG_INFO("store address registered", "store_id=%llu addr=%s", (unsigned long long)id,
                s->grpc_bound);
    return 0;
}

static int start_grpc(server *s)
{
    bs_err err;
    const bs_config *cfg = &s->cfg;

    /* Embedded PD: only in standalone mode, which is the only mode for now. */
    if (grpc_listen(s, "pd-grpc", cfg->pd_server.addr, &s->pd_loop, &s->pd_server) != 0)
        return 1;
    if (srv_grpc_pd_register(s->pd_server, srv_node_pd(s->node), NULL, &s->pd_svc, &err) !=
            BS_OK ||
        net_server_start(s->pd_server, &err) != BS_OK)
        return fail("embedded PD on %s: %s", cfg->pd_server.addr, err.msg);
    format_bound(s->pd_bound, sizeof s->pd_bound, cfg->pd_server.addr,
                 net_server_port(s->pd_server));

    if (grpc_listen(s, "tikv-grpc", cfg->server.addr, &s->grpc_loop, &s->grpc_server) != 0)
        return 1;
    srv_grpc_tikv_options ko;
    srv_grpc_tikv_options_init(&ko);
    ko.pd = srv_node_pd(s->node); /* GetStoreSafeTS's fresh TSO */
    if (srv_grpc_tikv_register(s->grpc_server, srv_node_store(s->node), srv_node_txn(s->node),
                               &ko, &s->tikv_svc, &err) != BS_OK ||
        net_server_start(s->grpc_server, &err) != BS_OK)
        return fail("gRPC on %s: %s", cfg->server.addr, err.msg);
    format_bound(s->grpc_bound, sizeof s->grpc_bound, cfg->server.addr,
                 net_server_port(s->grpc_server));
    s->addrs.grpc = s->grpc_bound;
    s->addrs.pd = s->pd_bound;
    return register_bound_address(s);
}

/* ---- start / stop -------------------------------------------------------------------------- */

static void stop_loop(net_loop *loop)
{
    if (loop)
        net_loop_stop(loop);
}

static void server_stop(server *s)
{
    /* Front ends first (stop accepting, drop connections), then what they use. */
    net_http_server_free(s->status);
    s->status = NULL;
    if (s->status_loop) {
        net_loop_stop(s->status_loop);
        net_loop_free(s->status_loop);
        s->status_loop = NULL;
    }
    resp_server_free(s->resp);
    s->resp = NULL;
    client_free(s->client);
    s->client = NULL;
    /* srv_grpc.h's order: servers, their loops, the store service's workers, the store, the
     * services, the loops. */
    net_server_free(s->grpc_server);
    net_server_free(s->pd_server);
    s->grpc_server = s->pd_server = NULL;
    stop_loop(s->grpc_loop);
    stop_loop(s->pd_loop);
    srv_grpc_tikv_stop(s->tikv_svc); /* its workers read the store */
    srv_node_close(s->node);
    s->node = NULL;
    srv_grpc_tikv_free(s->tikv_svc);
    srv_grpc_pd_free(s->pd_svc);
    s->tikv_svc = NULL;
    s->pd_svc = NULL;
    net_loop_free(s->grpc_loop);
    net_loop_free(s->pd_loop);
    s->grpc_loop = s->pd_loop = NULL;
}

static int server_start(server *s)
{
    bs_err err;
    const bs_config *cfg = &s->cfg;

    srv_node_options no;
    srv_node_options_init(&no);
    no.config = cfg;
    if (srv_node_open(&no, &s->node, &err) != BS_OK)
        return fail("%s", err.msg);
    if (srv_node_wait_ready(s->node, READY_TIMEOUT_MS, &err) != BS_OK)
        BS_LOG_WARN("store is not ready; requests will retry until it is", "err=%s",
                    err.msg);

    client_options co;
    client_options_init(&co);
    co.pd = srv_node_pd(s->node);
    co.store = srv_node_store(s->node);
    co.txn = srv_node_txn(s->node);
    if (client_new(&co, &s->client, &err) != BS_OK)
        return fail("cluster client: %s", err.msg);

    resp_server_options ro;
    memset(&ro, 0, sizeof(ro));
    ro.client = s->client;
    ro.config = cfg;
    ro.addr = cfg->redis.addr;
    if (resp_server_start(&ro, &s->resp, &err) != BS_OK)
        return fail("RESP server on %s: %s", cfg->redis.addr, err.msg);
    format_bound(s->redis_bound, sizeof s->redis_bound, cfg->redis.addr,
                 resp_server_port(s->resp));
    s->addrs.redis = s->redis_bound;
    if (start_grpc(s) != 0)
        return 1;
    if (start_status(s) != 0)
        return 1;

    announce("RESP", s->redis_bound);
    announce("gRPC", s->grpc_bound);
    announce("PD", s->pd_bound);
    if (s->status)
        announce("status", s->status_bound);
    BS_LOG_INFO("basalt-server started", "version=%s data_dir=%s", SRV_VERSION,
                srv_node_data_dir(s->node));
    return 0;
}

/* Waits for SIGINT/SIGTERM (blocked in every thread) or a SHUTDOWN command. */
static const char *wait_for_stop(server *s, const sigset_t *set)
{
    for (;;) {
        struct timespec ts = {0, 100 * 1000000L};
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig == SIGTERM)
            return "SIGTERM";
        if (sig == SIGINT)
            return "SIGINT";
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            return "sigtimedwait failed";
        if (s->resp && resp_server_shutdown_requested(s->resp))
            return "SHUTDOWN command";
    }
}

int main(int argc, char **argv)
{
    flags f;
    int rc = parse_flags(argc, argv, &f);
    if (rc != 0)
        return rc == 2 ? 0 : 1;

    static server s; /* static: the status handler borrows it until the end */
    memset(&s, 0, sizeof(s));
    if (load_config(&f, &s.cfg) != 0) {
        bs_config_free(&s.cfg);
        return 1;
    }
    if (setup_log(&s.cfg) != 0 || check_addr("--addr ([server] addr)", s.cfg.server.addr) ||
        check_addr("--pd-addr ([pd-server] addr)", s.cfg.pd_server.addr) ||
        check_addr("--redis-addr ([redis] addr)", s.cfg.redis.addr) ||
        (s.cfg.server.status_addr[0] &&
         check_addr("--status-addr ([server] status-addr)", s.cfg.server.status_addr))) {
        bs_config_free(&s.cfg);
        return 1;
    }

    /* Block the stop signals before any thread exists, so every thread inherits the mask
     * and only the main thread's sigtimedwait takes them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
        bs_config_free(&s.cfg);
        return fail("cannot block SIGINT/SIGTERM");
    }

    if (server_start(&s) != 0) {
        server_stop(&s);
        BS_LOG_ERROR("basalt-server failed to start");
        bs_config_free(&s.cfg);
        return 1;
    }
    const char *why = wait_for_stop(&s, &set);
    BS_LOG_INFO("basalt-server stopping", "reason=%s", why);
    printf("basalt-server stopping (%s)\n", why);
    fflush(stdout);
    server_stop(&s);
    BS_LOG_INFO("basalt-server stopped");
    bs_config_free(&s.cfg);
    return 0;
}
