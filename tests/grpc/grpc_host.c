/* grpc_host.c -- a one-store Basalt with the native gRPC services, for tests/grpc/.
 *
 *   grpc_host --dir DIR [--max-seconds N] [--log-level LEVEL]
 *
 * Opens, under DIR: a RocksDB engine (DIR/db), an in-memory PD (pd_memstore), a
 * cluster_store that bootstraps the first Region, a causal timestamp source fed by PD's TSO
 * and a txn_store proposing through Raft; then one net loop with two servers on 127.0.0.1
 * (free ports): the PD port (srv_grpc_pd_register) and the store port
 * (srv_grpc_tikv_register). Once the Region has a leader it prints
 *     PD_PORT <n>
 *     STORE_PORT <n>
 *     READY
 * on stdout and serves until SIGTERM or SIGINT (or --max-seconds, default 600, so a
 * forgotten host never lingers), then shuts down in srv_grpc.h's order and exits 0.
 * Errors go to stderr with exit status 1.
 *
 * This stands in for bin/basalt-server until main wires the gRPC ports; the test suite only
 * needs the two ports. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "common/log.h"
#include "net/net.h"
#include "pd/pd.h"
#include "server/srv_grpc.h"
#include "storage/kv.h"
#include "txn/txn.h"

typedef struct host {
    pd_core *pd;
    txn_causal_ts *cts;
    _Atomic(txn_store *) txn; /* set once it exists; read by the role-change callback */
} host;

static void die(const char *what, const bs_err *err)
{
    fprintf(stderr, "grpc_host: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

/* The causal ts source's TSO: PD is in-process, so the fetch answers at once. */
static void tso_fetch(void *arg, uint32_t count, txn_tso_done_fn done, void *done_arg)
{
    host *h = arg;
    uint64_t ts = 0;
    int rc = pd_tso_alloc(h->pd, count, &ts, NULL);
    done(done_arg, rc, ts);
}

static void flushed(void *arg, int code, uint64_t last_ts)
{
    host *h = arg;
    txn_store *t = atomic_load(&h->txn);
    if (code == BS_OK && t)
        txn_cm_update_max_ts(txn_store_cm(t), last_ts);
}

/* TiKV's leader-change rule: a new leader renews its causal ts batch and raises max_ts. */
static void on_role_change(void *arg, uint64_t region_id, bool is_leader)
{
    host *h = arg;
    if (is_leader && h->cts)
        txn_causal_ts_flush(h->cts, flushed, h);
}

static bool has_leader(cluster_store *st)
{
    cluster_region r;
    pd_region_init(&r);
    bool ok = false;
    if (cluster_store_region_by_key(st, BS_SLICE_NULL, &r) == BS_OK) {
        cluster_peer_status ps;
        ok = cluster_store_peer_status(st, r.id, &ps) == BS_OK && ps.is_leader;
    }
    pd_region_deinit(&r);
    return ok;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    long max_seconds = 600;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--max-seconds") == 0 && i + 1 < argc)
            max_seconds = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            bs_log_level lv;
            if (bs_log_parse_level(argv[++i], &lv) != BS_OK) {
                fprintf(stderr, "grpc_host: bad --log-level %s\n", argv[i]);
                return 2;
            }
            bs_log_set_level(lv);
        } else {
            fprintf(stderr, "usage: grpc_host --dir DIR [--max-seconds N] [--log-level LEVEL]\n");
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "usage: grpc_host --dir DIR [--max-seconds N] [--log-level LEVEL]\n");
        return 2;
    }

    /* Every thread created from here on inherits the blocked set; main waits for them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    bs_err err;
    bs_err_clear(&err);
    host h;
    memset(&h, 0, sizeof h);

    char path[4096];
    snprintf(path, sizeof path, "%s/db", dir);
    kv_options ko;
    kv_options_init(&ko);
    ko.block_cache_size = 8 << 20;
    ko.write_buffer_size = 4 << 20;
    kv_engine *engine = NULL;
    if (kv_engine_open(path, &ko, &engine, &err) != BS_OK)
        die("engine open", &err);

    pd_meta_store *ms = pd_memstore_new();
    if (pd_open(NULL, ms, &h.pd, &err) != BS_OK)
        die("pd open", &err);

    cluster_store_options so;
    cluster_store_options_init(&so);
    so.engine = engine;
    so.pd = h.pd;
    so.address = "127.0.0.1:0"; /* replaced in PD once the store port is bound */
    so.tick_interval_ms = 100;
    so.on_role_change = on_role_change;
    so.role_change_arg = &h;
    h.cts = txn_causal_ts_new(tso_fetch, &h, 1024);
    cluster_store *store = NULL;
    if (cluster_store_open(&so, &store, &err) != BS_OK)
        die("store open", &err);

    txn_store_config tc;
    memset(&tc, 0, sizeof tc);
    tc.engine = engine;
    tc.causal_ts = h.cts;
    tc.propose = txn_cluster_propose;
    tc.propose_arg = store;
    txn_store *txn = txn_store_new(&tc);
    atomic_store(&h.txn, txn);

    net_loop *loop = net_loop_new("grpc-host", &err);
    if (!loop)
        die("loop", &err);
    net_server_options no;
    memset(&no, 0, sizeof no);
    no.host = "127.0.0.1";
    net_server *pd_srv = net_server_new(loop, &no, &err);
    net_server *kv_srv = pd_srv ? net_server_new(loop, &no, &err) : NULL;
    if (!kv_srv)
        die("server", &err);
    srv_grpc_pd *pd_svc = NULL;
    srv_grpc_tikv *kv_svc = NULL;
    if (srv_grpc_pd_register(pd_srv, h.pd, NULL, &pd_svc, &err) != BS_OK)
        die("register PD services", &err);
    srv_grpc_tikv_options kvo;
    srv_grpc_tikv_options_init(&kvo);
    kvo.pd = h.pd; /* GetStoreSafeTS takes its fresh TSO here */
    if (srv_grpc_tikv_register(kv_srv, store, txn, &kvo, &kv_svc, &err) != BS_OK)
        die("register store services", &err);
    if (net_loop_start(loop, &err) != BS_OK || net_server_start(pd_srv, &err) != BS_OK ||
        net_server_start(kv_srv, &err) != BS_OK)
        die("start", &err);

    /* Tell PD where the store really listens (PutStore updates a known store). */
    pd_store ps;
    if (pd_get_store(h.pd, cluster_store_id(store), &ps, NULL, &err) != BS_OK)
        die("get store", &err);
    snprintf(ps.address, sizeof ps.address, "127.0.0.1:%u", (unsigned)net_server_port(kv_srv));
    snprintf(ps.version, sizeof ps.version, "8.5.0");
    if (pd_put_store(h.pd, &ps, NULL, &err) != BS_OK)
        die("put store", &err);

    for (int i = 0; i < 600 && !has_leader(store); i++)
        sleep_ms(50);
    if (!has_leader(store))
        die("no leader for the first Region", NULL);

    printf("PD_PORT %u\nSTORE_PORT %u\nREADY\n", (unsigned)net_server_port(pd_srv),
           (unsigned)net_server_port(kv_srv));
    fflush(stdout);

    struct timespec limit = {max_seconds > 0 ? max_seconds : 600, 0};
    int sig = sigtimedwait(&sigs, NULL, &limit);
    if (sig < 0)
        fprintf(stderr, "grpc_host: --max-seconds reached, shutting down\n");

    /* srv_grpc.h's order: stop serving, stop the loop, the store service's workers, close the
     * store, then the services. */
    net_server_free(pd_srv);
    net_server_free(kv_srv);
    net_loop_stop(loop);
    srv_grpc_tikv_stop(kv_svc); /* its workers read the store */
    cluster_store_close(store);
    atomic_store(&h.txn, NULL);
    txn_store_free(txn);
    srv_grpc_tikv_free(kv_svc);
    srv_grpc_pd_free(pd_svc);
    net_loop_free(loop);
    txn_causal_ts_free(h.cts);
    pd_close(h.pd);
    pd_meta_store_free(ms);
    kv_engine_close(engine);
    return 0;
}
