/* store_bench.c -- a whole standalone store in one process (srv_node: RocksDB, embedded PD,
 * the raftstore with group commit, the txn raw layer), driven without any network:
 *   - durable raw puts (each acknowledged only after its Raft entry was fsynced and
 *     applied) with 1, 16 and 256 in flight;
 *   - raw point gets (engine reads, no Raft) from 1, 16 and 256 threads.
 * For each phase: ops/s, p50 and p99 latency, and for puts the fsyncs per second and
 * puts per fsync from the store's counters (what group commit buys).
 *
 *   store_bench [seconds-per-phase] [value-bytes]       (defaults 2 and 100)
 *
 * The data directory is a fresh temp dir under $TMPDIR (or /tmp), removed at the end; the
 * numbers are those of that file system's fsync. */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "server/srv.h"

#define KEYSPACE 100000

/* Keys written so far (puts take bench-0, bench-1, ... wrapping at KEYSPACE), so gets read
 * only keys that exist. Touched by the driver thread only. */
static uint64_t next_seq;

typedef struct lat {
    uint32_t *v; /* microseconds */
    size_t n, cap;
} lat;

static void lat_add(lat *l, int64_t ns)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 4096;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (!l->v)
            abort();
    }
    int64_t us = ns / 1000;
    l->v[l->n++] = (uint32_t)(us > UINT32_MAX ? UINT32_MAX : us);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t lat_q(lat *l, double q)
{
    if (!l->n)
        return 0;
    size_t i = (size_t)(q * (double)(l->n - 1));
    return l->v[i];
}

static void make_key(bs_buf *k, uint64_t i)
{
    char u[32];
    int len = snprintf(u, sizeof u, "bench-%08llu", (unsigned long long)(i % KEYSPACE));
    bs_buf_reset(k);
    kv_key_v2_append(k, KV_MODE_RAW, 0, bs_slice_make(u, (size_t)len));
}

/* ---- puts ----------------------------------------------------------------------------------- */

typedef struct put_phase {
    srv_node *n;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight;
    uint64_t ok, retried, failed;
    lat l;
} put_phase;

typedef struct put_req {
    put_phase *ph;
    int64_t start_ns;
} put_req;

static void put_cb(void *arg, const txn_result *res)
{
    put_req *r = arg;
    put_phase *ph = r->ph;
    int64_t now = bs_clock_mono_ns();
    pthread_mutex_lock(&ph->mu);
    if (res->code == BS_OK) {
        ph->ok++;
        lat_add(&ph->l, now - r->start_ns);
    } else if (res->error.kind == TXN_ERR_TS_NOT_READY || res->code == BS_EBUSY) {
        ph->retried++;
    } else {
        ph->failed++;
    }
    ph->inflight--;
    pthread_cond_signal(&ph->cv);
    pthread_mutex_unlock(&ph->mu);
    free(r);
}

static void run_puts(srv_node *n, int depth, double secs, size_t vlen)
{
    put_phase ph;
    memset(&ph, 0, sizeof(ph));
    ph.n = n;
    pthread_mutex_init(&ph.mu, NULL);
    pthread_cond_init(&ph.cv, NULL);
    uint8_t *val = malloc(vlen);
    for (size_t i = 0; i < vlen; i++)
        val[i] = (uint8_t)('a' + i % 26);
    bs_buf k = BS_BUF_INIT;
    cluster_store_stats before, after;
    cluster_store_get_stats(srv_node_store(n), &before);
    int64_t t0 = bs_clock_mono_ns(), end = t0 + (int64_t)(secs * 1e9);
    for (;;) {
        pthread_mutex_lock(&ph.mu);
        while (ph.inflight >= depth)
            pthread_cond_wait(&ph.cv, &ph.mu);
        bool more = bs_clock_mono_ns() < end;
        if (more)
            ph.inflight++;
        pthread_mutex_unlock(&ph.mu);
        if (!more)
            break;
        put_req *r = malloc(sizeof(*r));
        r->ph = &ph;
        r->start_ns = bs_clock_mono_ns();
        make_key(&k, next_seq++);
        txn_raw_put(srv_node_txn(n), bs_buf_slice(&k), bs_slice_make(val, vlen), 0, put_cb, r);
    }
    pthread_mutex_lock(&ph.mu);
    while (ph.inflight > 0)
        pthread_cond_wait(&ph.cv, &ph.mu);
    pthread_mutex_unlock(&ph.mu);
    double el = (double)(bs_clock_mono_ns() - t0) / 1e9;
    cluster_store_get_stats(srv_node_store(n), &after);
    uint64_t fs = after.fsyncs - before.fsyncs;
    qsort(ph.l.v, ph.l.n, sizeof(*ph.l.v), cmp_u32);
    printf("put  in-flight %3d: %9.0f ops/s  p50 %7u us  p99 %7u us  fsyncs/s %7.0f  "
           "puts/fsync %6.1f%s\n",
           depth, (double)ph.ok / el, lat_q(&ph.l, 0.50), lat_q(&ph.l, 0.99), (double)fs / el,
           fs ? (double)ph.ok / (double)fs : 0.0,
           ph.failed ? "  (some puts FAILED)" : "");
    if (ph.retried)
        printf("     (%llu puts retried: causal timestamps not ready)\n",
               (unsigned long long)ph.retried);
    fflush(stdout);
    free(ph.l.v);
    free(val);
    bs_buf_free(&k);
}

/* ---- gets ------------------------------------------------------------------------------------ */

typedef struct get_thread {
    srv_node *n;
    int64_t end_ns;
    uint64_t keys; /* read keys [0, keys) */
    uint64_t seed, ok, missing;
    lat l;
} get_thread;

static void *get_main(void *arg)
{
    get_thread *t = arg;
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    txn_error e;
    while (bs_clock_mono_ns() < t->end_ns) {
        t->seed = t->seed * 6364136223846793005ull + 1442695040888963407ull;
        make_key(&k, (t->seed >> 33) % t->keys);
        int64_t s = bs_clock_mono_ns();
        int rc = txn_raw_get(srv_node_txn(t->n), bs_buf_slice(&k), 0, &v, &e);
        lat_add(&t->l, bs_clock_mono_ns() - s);
        if (rc == BS_OK)
            t->ok++;
        else
            t->missing++;
    }
    bs_buf_free(&k);
    bs_buf_free(&v);
    return NULL;
}

static void run_gets(srv_node *n, int threads, double secs)
{
    get_thread *ts = calloc((size_t)threads, sizeof(*ts));
    pthread_t *th = calloc((size_t)threads, sizeof(*th));
    int64_t t0 = bs_clock_mono_ns();
    for (int i = 0; i < threads; i++) {
        ts[i].n = n;
        ts[i].end_ns = t0 + (int64_t)(secs * 1e9);
        ts[i].seed = (uint64_t)i * 2654435761u + 1;
        ts[i].keys = next_seq < KEYSPACE ? (next_seq ? next_seq : 1) : KEYSPACE;
        if (pthread_create(&th[i], NULL, get_main, &ts[i]) != 0)
            abort();
    }
    lat all;
    memset(&all, 0, sizeof(all));
    uint64_t ok = 0, missing = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        ok += ts[i].ok;
        missing += ts[i].missing;
        for (size_t j = 0; j < ts[i].l.n; j++) {
            if (all.n == all.cap) {
                all.cap = all.cap ? 2 * all.cap : 4096;
                all.v = realloc(all.v, all.cap * sizeof(*all.v));
            }
            all.v[all.n++] = ts[i].l.v[j];
        }
        free(ts[i].l.v);
    }
    double el = (double)(bs_clock_mono_ns() - t0) / 1e9;
    qsort(all.v, all.n, sizeof(*all.v), cmp_u32);
    printf("get  threads   %3d: %9.0f ops/s  p50 %7u us  p99 %7u us  (%.0f%% hits)\n", threads,
           (double)(ok + missing) / el, lat_q(&all, 0.50), lat_q(&all, 0.99),
           ok + missing ? 100.0 * (double)ok / (double)(ok + missing) : 0.0);
    fflush(stdout);
    free(all.v);
    free(ts);
    free(th);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    size_t vlen = argc > 2 ? (size_t)atol(argv[2]) : 100;
    if (secs <= 0 || vlen == 0) {
        fprintf(stderr, "usage: store_bench [seconds-per-phase] [value-bytes]\n");
        return 2;
    }
    bs_log_set_level(BS_LOG_LEVEL_WARN);
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/basalt-store-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    bs_config cfg;
    bs_config_defaults(&cfg);
    bs_err err;
    if (bs_config_set(&cfg, "storage.data-dir", dir, &err) != BS_OK ||
        bs_config_set(&cfg, "storage.block-cache.capacity", "256MiB", &err) != BS_OK) {
        fprintf(stderr, "config: %s\n", err.msg);
        return 1;
    }
    srv_node_options o;
    srv_node_options_init(&o);
    o.config = &cfg;
    srv_node *n = NULL;
    if (srv_node_open(&o, &n, &err) != BS_OK || srv_node_wait_ready(n, 30000, &err) != BS_OK) {
        fprintf(stderr, "store_bench: %s\n", err.msg);
        return 1;
    }
    bs_config_free(&cfg);
    printf("store_bench: %.1f s per phase, %zu-byte values, %d keys, data in %s\n", secs, vlen,
           KEYSPACE, dir);
    int depths[] = {1, 16, 256};
    for (size_t i = 0; i < 3; i++)
        run_puts(n, depths[i], secs, vlen);
    for (size_t i = 0; i < 3; i++)
        run_gets(n, depths[i], secs);
    srv_node_close(n);
    (void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); /* best effort cleanup */
    return 0;
}
