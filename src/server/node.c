/* node.c -- srv_node: one standalone store assembled from the layers, opened and closed in
 * a fixed order.
 *
 * Open order (each step needs the ones before it):
 *   1. <data-dir>/db: the engine, with txn's GC compaction filter on CF default. RocksDB's
 *      LOCK makes this the step that refuses a data dir already in use;
 *   2. <data-dir>/pd: PD's meta store and the embedded pd_core;
 *   3. the background worker in phase IDLE (it only answers TSO fetches yet);
 *   4. the causal ts source, whose first fetch goes to the worker;
 *   5. the cluster store (bootstraps the cluster on a fresh dir, reloads Regions on a
 *      restart), with on_role_change wired to the causal ts flush;
 *   6. the txn store proposing through txn_cluster_propose; then the causal ts is flushed
 *      and max_ts raised from the fresh batch, because a Region may have become leader
 *      (step 5) before the txn store existed;
 *   7. the worker moves to RUNNING: TSO window ticks, PD GC ticks, GC passes.
 * Close runs the same steps backwards; node_teardown says why the order is what it is.
 *
 * Leader changes (TiKV's causal-ts observer, components/causal_ts/src/observer.rs): when a
 * peer of this store becomes leader, the old leader may have written versions at
 * timestamps this store never handed out, so the prefetched batch is dropped and a fresh
 * one fetched; max_ts is raised to the first timestamp of that batch (a TSO issued after
 * the change), so a write after the change can never take a timestamp below one a reader
 * has already used. srv_node_wait_ready reports a local leader ready only once this ran
 * for its current leadership. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/assert.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "server/srv_int.h"

void srv_node_options_init(srv_node_options *o)
{
    memset(o, 0, sizeof(*o));
    o->tso_tick_ms = 50;
    o->gc_tick_ms = 10000;
    o->gc_pass_limit = 4096;
    /* TiKV's renew-batch-max-size. The source prefetches at half a batch, so a write rate
     * R leaves 4096 / R seconds for the fetch, which waits on the worker thread behind GC
     * passes and split checks: 1024 ran dry (MaxTimestampNotSynced retries) at 50k
     * writes/s under load. A TSO carries 2^18 logical ts per ms, so a batch costs nothing. */
    o->causal_ts_batch = 8192;
}

/* mkdir -p: creates path and every missing parent (mode 0755). */
static int mkdir_p(const char *path, bs_err *err)
{
    char *p = bs_strdup(path);
    size_t len = strlen(p);
    int rc = BS_OK;
    while (len > 1 && p[len - 1] == '/')
        p[--len] = '\0';
    for (char *s = p + 1;; s++) {
        bool last = *s == '\0';
        if (*s == '/' || last) {
            char saved = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                rc = bs_err_setf(err, BS_EIO, "cannot create directory %s: %s", p,
                                 strerror(errno));
                break;
            }
            *s = saved;
        }
        if (last)
            break;
    }
    if (rc == BS_OK) {
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = bs_err_setf(err, BS_EIO, "data directory %s is not a directory", path);
    }
    bs_free(p);
    return rc;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = bs_malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* ---- leader changes ------------------------------------------------------------------- */

/* One flush in flight, for the Region whose role change asked for it (0: the flush that
 * open does itself). */
typedef struct role_flush {
    srv_node *n;
    uint64_t region_id;
    uint64_t gen;
} role_flush;

/* Index of region_id in n->leaders, or n_leaders. Caller holds leaders_mu. */
static size_t leader_find(srv_node *n, uint64_t region_id)
{
    size_t i = 0;
    while (i < n->n_leaders && n->leaders[i].region_id != region_id)
        i++;
    return i;
}

/* The flush's fetch finished (worker thread, or inline once the worker stopped). The new
 * batch is [last_ts - batch + 1, last_ts], every one of them a TSO that PD issued after the
 * flush began. max_ts is raised to the FIRST of them: that is a fresh TSO, which is all the
 * rule asks, and it leaves the rest of the batch usable (raising max_ts to last_ts would
 * push every write above the batch and throw it away). */
static void role_flush_done(void *arg, int code, uint64_t last_ts)
{
    role_flush *rf = arg;
    srv_node *n = rf->n;
    if (code != BS_OK) {
        /* The source stays unsynced and refetches on the next get: writes see
         * TS_NOT_READY and retry, which is the safe outcome. The Region stays unsynced
         * for srv_node_wait_ready until a later leader change succeeds. */
        BS_LOG_WARN("causal ts flush after leader change failed", "region_id=%llu code=%s",
                    (unsigned long long)rf->region_id, bs_errname(code));
        bs_free(rf);
        return;
    }
    BS_ASSERT(last_ts >= n->opts.causal_ts_batch);
    uint64_t first = last_ts - n->opts.causal_ts_batch + 1;
    txn_store *t = atomic_load(&n->txn_live);
    if (t)
        txn_cm_update_max_ts(txn_store_cm(t), first);
    pthread_mutex_lock(&n->leaders_mu);
    size_t i = leader_find(n, rf->region_id);
    if (rf->region_id && i < n->n_leaders && n->leaders[i].gen == rf->gen)
        n->leaders[i].synced = true;
    pthread_mutex_unlock(&n->leaders_mu);
    bs_free(rf);
}

/* cluster_store_options.on_role_change: raftstore thread, must not block. The flush only
 * queues a fetch for the worker. */
static void on_role_change(void *arg, uint64_t region_id, bool is_leader)
{
    srv_node *n = arg;
    atomic_fetch_add(&n->st_role_changes, 1);
    BS_LOG_INFO("region role changed", "region_id=%llu is_leader=%s",
                (unsigned long long)region_id, is_leader ? "true" : "false");
    pthread_mutex_lock(&n->leaders_mu);
    size_t i = leader_find(n, region_id);
    role_flush *rf = NULL;
    if (is_leader) {
        if (i == n->n_leaders) {
            if (n->n_leaders == n->cap_leaders) {
                n->cap_leaders = n->cap_leaders ? 2 * n->cap_leaders : 8;
                n->leaders = bs_realloc(n->leaders, n->cap_leaders * sizeof(*n->leaders));
            }
            n->n_leaders++;
        }
        n->leaders[i].region_id = region_id;
        n->leaders[i].gen = ++n->leader_gen;
        n->leaders[i].synced = false;
        rf = bs_calloc(1, sizeof(*rf));
        rf->n = n;
        rf->region_id = region_id;
        rf->gen = n->leaders[i].gen;
    } else if (i < n->n_leaders) {
        n->leaders[i] = n->leaders[--n->n_leaders];
    }
    pthread_mutex_unlock(&n->leaders_mu);
    if (rf)
        txn_causal_ts_flush(n->cts, role_flush_done, rf);
}

/* ---- open / close ------------------------------------------------------------------------ */

/* Closes whatever is open, in reverse order. Used by close and by a failed open.
 *  - The worker stops its periodic jobs first: a GC pass proposes into the store, so none
 *    may run once the store starts closing. Its timers (the txn store's lock waits) are
 *    cancelled too: a fired wait may propose.
 *  - The store closes next: its thread stops (no more role changes) and pending proposals
 *    fail, running their callbacks (txn's and GC's) inside cluster_store_close.
 *  - The worker then drains its queue (answering every queued fetch; PD is still open) and
 *    exits. Only then may the causal ts source be freed: it asserts no fetch in flight.
 *  - The txn store is unpublished before it is freed, so a late flush callback does not
 *    touch it; PD, its meta store and the engine close last. */
static void node_teardown(srv_node *n)
{
    srv_worker_set_phase(n, SRV_WORKER_IDLE);
    /* Lock waits end (cancelled: they answer without proposing) before the proposer goes
     * away, as txn_store_set_timer requires; later ones are cancelled at once. */
    srv_worker_cancel_timers(n);
    cluster_store_close(n->store);
    n->store = NULL;
    srv_worker_set_phase(n, SRV_WORKER_STOPPING);
    BS_ASSERT(n->worker.gc_inflight == 0);
    atomic_store(&n->txn_live, NULL);
    txn_store_free(n->txn);
    n->txn = NULL;
    txn_causal_ts_free(n->cts);
    n->cts = NULL;
    pd_close(n->pd);
    n->pd = NULL;
    pd_meta_store_free(n->pd_ms);
    n->pd_ms = NULL;
    kv_engine_close(n->engine);
    n->engine = NULL;
    srv_worker_deinit(n);
    bs_free(n->leaders);
    pthread_mutex_destroy(&n->leaders_mu);
    bs_free(n->data_dir);
    bs_free(n->db_dir);
    bs_free(n->pd_dir);
    bs_free(n->address);
    bs_free(n);
}

static int open_engine(srv_node *n, const bs_config *cfg, bs_err *err)
{
    kv_options ko;
    kv_options_init(&ko);
    int rc = kv_options_from_config(cfg, &ko, err);
    if (rc != BS_OK)
        return bs_err_wrapf(err, "storage options");
    ko.create_if_missing = true;
    ko.compaction_filter[KV_CF_DEFAULT].fn = txn_gc_compaction_filter;
    ko.compaction_filter[KV_CF_DEFAULT].arg = &n->gc_filter;
    rc = kv_engine_open(n->db_dir, &ko, &n->engine, err);
    if (rc == BS_EBUSY)
        return bs_err_setf(err, BS_EBUSY,
                           "data directory %s is in use by another basalt-server "
                           "(%s/db is locked); stop it or choose another --data-dir",
                           n->data_dir, n->data_dir);
    if (rc != BS_OK)
        return bs_err_wrapf(err, "open engine %s", n->db_dir);
    return BS_OK;
}

static int open_pd(srv_node *n, const bs_config *cfg, bs_err *err)
{
    int rc = pd_kvstore_open(n->pd_dir, &n->pd_ms, err);
    if (rc == BS_EBUSY)
        return bs_err_setf(err, BS_EBUSY,
                           "data directory %s is in use by another basalt-server "
                           "(%s/pd is locked)", n->data_dir, n->data_dir);
    if (rc != BS_OK)
        return bs_err_wrapf(err, "open PD meta store %s", n->pd_dir);
    pd_options po;
    pd_options_init(&po);
    po.gc_life_time_ms = (int64_t)cfg->gc.life_time;
    /* A standalone node is a one-store cluster: one replica per Region is all it can
     * place, so PD must not ask for more. Cluster mode will take [replication]. */
    po.max_replicas = 1;
    rc = pd_open(&po, n->pd_ms, &n->pd, err);
    if (rc != BS_OK)
        return bs_err_wrapf(err, "open embedded PD");
    return BS_OK;
}

static int open_store(srv_node *n, const bs_config *cfg, bs_err *err)
{
    cluster_store_options co;
    cluster_store_options_init(&co);
    cluster_store_options_from_config(&co, cfg);
    co.engine = n->engine;
    co.pd = n->pd;
    co.transport = NULL; /* one store: no peers to talk to */
    co.address = n->address;
    co.bootstrap = true;
    co.on_role_change = on_role_change;
    co.role_change_arg = n;
    int rc = cluster_store_open(&co, &n->store, err);
    if (rc != BS_OK)
        return bs_err_wrapf(err, "open store");
    return BS_OK;
}

static void open_txn(srv_node *n)
{
    txn_store_config tc;
    memset(&tc, 0, sizeof(tc));
    tc.engine = n->engine;
    tc.causal_ts = n->cts;
    tc.propose = txn_cluster_propose;
    tc.propose_arg = n->store;
    n->txn = txn_store_new(&tc);
    /* Raw writes blocked by a live transaction's lock wait with backoff on the worker. */
    txn_store_set_timer(n->txn, srv_worker_after, n, 0);
    /* Standalone: one store leads every Region, and writes wait for the causal ts sync of
     * open_txn and of every leader change, which is what txn.h asks. Cluster mode must
     * also make a new leader's writes wait for its own sync before turning this on. */
    txn_store_set_blind_writes(n->txn, true);
    atomic_store(&n->txn_live, n->txn);
    /* A Region may have become leader while the store opened, before the txn store (and
     * its max_ts) existed, so that role change synced nothing: do what it would have done.
     * Writes wait (TS_NOT_READY) until the fresh batch lands; srv_node_wait_ready waits
     * for it too. */
    role_flush *rf = bs_calloc(1, sizeof(*rf));
    rf->n = n;
    txn_causal_ts_flush(n->cts, role_flush_done, rf);
}

int srv_node_open(const srv_node_options *opts, srv_node **out, bs_err *err)
{
    if (!opts || !opts->config)
        return bs_err_setf(err, BS_EINVAL, "srv_node_open: no configuration");
    const bs_config *cfg = opts->config;
    if (opts->tso_tick_ms <= 0 || opts->gc_tick_ms <= 0 || opts->causal_ts_batch == 0 ||
        opts->causal_ts_batch >= PD_TSO_MAX_LOGICAL)
        return bs_err_setf(err, BS_EINVAL, "srv_node_open: bad options");
    if (cfg->pd.endpoints.n > 0)
        return bs_err_setf(err, BS_EINVAL,
                           "joining a PD cluster is not supported yet ([pd] endpoints); "
                           "leave it empty to run standalone with an embedded PD");
    if (!cfg->storage.data_dir || !cfg->storage.data_dir[0])
        return bs_err_setf(err, BS_EINVAL, "[storage] data-dir is empty");

    srv_node *n = bs_calloc(1, sizeof(*n));
    n->opts = *opts;
    n->opts.config = NULL; /* borrowed for open only */
    n->open_mono_ms = bs_clock_mono_ms();
    n->worker.run_interval_ms = (int64_t)cfg->gc.run_interval;
    n->data_dir = bs_strdup(cfg->storage.data_dir);
    n->db_dir = path_join(n->data_dir, "db");
    n->pd_dir = path_join(n->data_dir, "pd");
    n->address = bs_strdup(cfg->server.addr);
    atomic_init(&n->gc_filter.safe_point, 0);
    atomic_init(&n->txn_live, NULL);
    pthread_mutex_init(&n->leaders_mu, NULL);
    pthread_mutex_init(&n->worker.mu, NULL);
    /* The worker's timed waits run on the monotonic clock: a wall-clock step must not
     * stall or race the TSO ticks. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    BS_ASSERT(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0);
    pthread_cond_init(&n->worker.cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&n->worker.seen_cv, NULL);
    n->worker.phase = SRV_WORKER_STOPPED; /* until started */
    n->worker.seen = SRV_WORKER_STOPPED;
    bs_buf_init(&n->worker.cursor);

    int rc = mkdir_p(n->data_dir, err);
    if (rc == BS_OK)
        rc = open_engine(n, cfg, err);
    if (rc == BS_OK)
        rc = open_pd(n, cfg, err);
    if (rc == BS_OK)
        rc = srv_worker_start(n, err);
    if (rc == BS_OK) {
        n->cts = txn_causal_ts_new(srv_worker_tso_fetch, n, opts->causal_ts_batch);
        rc = open_store(n, cfg, err);
    }
    if (rc == BS_OK)
        open_txn(n);
    if (rc != BS_OK) {
        node_teardown(n);
        return rc;
    }
    /* The filter starts from the persisted safe point; the worker raises it. */
    atomic_store(&n->gc_filter.safe_point, pd_get_gc_safe_point(n->pd));
    srv_worker_set_phase(n, SRV_WORKER_RUNNING);
    BS_LOG_INFO("node opened", "data_dir=%s store_id=%llu cluster_id=%llu regions=%zu",
                n->data_dir, (unsigned long long)cluster_store_id(n->store),
                (unsigned long long)cluster_store_cluster_id(n->store),
                cluster_store_region_count(n->store));
    *out = n;
    return BS_OK;
}

void srv_node_close(srv_node *n)
{
    if (!n)
        return;
    BS_LOG_INFO("node closing", "data_dir=%s", n->data_dir);
    node_teardown(n);
}

/* ---- readiness, accessors, stats ------------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* BS_OK when ready, else BS_EBUSY with the reason in err. */
static int check_ready(srv_node *n, bs_err *err)
{
    srv_region_info *v = NULL;
    size_t cnt = 0;
    int rc = BS_OK;
    srv_node_regions(n, &v, &cnt);
    if (cnt == 0)
        rc = bs_err_setf(err, BS_EBUSY, "the store has no Region");
    for (size_t i = 0; rc == BS_OK && i < cnt; i++) {
        uint64_t rid = v[i].region.id;
        if (v[i].leader_peer_id == 0) {
            rc = bs_err_setf(err, BS_EBUSY, "region %llu has no leader yet",
                             (unsigned long long)rid);
        } else if (v[i].local_leader) {
            /* A local leader serves writes only once the leader-change rule ran. */
            pthread_mutex_lock(&n->leaders_mu);
            size_t j = leader_find(n, rid);
            bool synced = j < n->n_leaders && n->leaders[j].synced;
            pthread_mutex_unlock(&n->leaders_mu);
            if (!synced)
                rc = bs_err_setf(err, BS_EBUSY,
                                 "region %llu: new leader has not synced max_ts from TSO yet",
                                 (unsigned long long)rid);
        }
    }
    srv_region_infos_free(v, cnt);
    uint64_t ts;
    /* Taking one timestamp only leaves a gap in the sequence; later ones stay above it. */
    if (rc == BS_OK && txn_causal_ts_get(n->cts, &ts) != BS_OK)
        rc = bs_err_setf(err, BS_EBUSY, "causal timestamps not fetched from TSO yet");
    return rc;
}

int srv_node_wait_ready(srv_node *n, int64_t timeout_ms, bs_err *err)
{
    int64_t deadline = bs_clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        int rc = check_ready(n, err);
        if (rc == BS_OK || bs_clock_mono_ms() >= deadline)
            return rc == BS_OK ? BS_OK : bs_err_wrapf(err, "node not ready after %lld ms",
                                                      (long long)timeout_ms);
        sleep_ms(5);
    }
}

kv_engine *srv_node_engine(srv_node *n)
{
    return n->engine;
}

pd_core *srv_node_pd(srv_node *n)
{
    return n->pd;
}

cluster_store *srv_node_store(srv_node *n)
{
    return n->store;
}

txn_store *srv_node_txn(srv_node *n)
{
    return n->txn;
}

const char *srv_node_data_dir(const srv_node *n)
{
    return n->data_dir;
}

void srv_node_regions(srv_node *n, srv_region_info **out, size_t *count)
{
    /* Regions tile the key space on a standalone store: walk them by end key. A gap (a
     * Region of another store in cluster mode) ends the walk. */
    srv_region_info *v = NULL;
    size_t cnt = 0, cap = 0;
    bs_buf key = BS_BUF_INIT;
    size_t limit = cluster_store_region_count(n->store);
    for (;;) {
        cluster_region r;
        pd_region_init(&r);
        if (cnt > limit || cluster_store_region_by_key(n->store, bs_buf_slice(&key), &r) != BS_OK) {
            pd_region_deinit(&r);
            break;
        }
        if (cnt == cap) {
            cap = cap ? 2 * cap : 4;
            v = bs_realloc(v, cap * sizeof(*v));
        }
        srv_region_info *ri = &v[cnt++];
        memset(ri, 0, sizeof(*ri));
        ri->region = r; /* moves ownership */
        cluster_peer_status st;
        if (cluster_store_peer_status(n->store, r.id, &st) == BS_OK) {
            ri->local_leader = st.is_leader;
            ri->leader_peer_id = st.leader_peer_id;
        }
        if (r.end_key.len == 0)
            break;
        bs_buf_set(&key, r.end_key.ptr, r.end_key.len);
    }
    bs_buf_free(&key);
    *out = v;
    *count = cnt;
}

void srv_region_infos_free(srv_region_info *v, size_t count)
{
    for (size_t i = 0; i < count; i++)
        pd_region_deinit(&v[i].region);
    bs_free(v);
}

void srv_node_get_stats(srv_node *n, srv_node_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->tso_fetches = atomic_load(&n->st_tso_fetches);
    out->tso_fetch_errors = atomic_load(&n->st_tso_fetch_errors);
    out->role_changes = atomic_load(&n->st_role_changes);
    out->gc_safe_point = atomic_load(&n->gc_filter.safe_point);
    out->gc_sweeps = atomic_load(&n->st_gc_sweeps);
    out->gc_deletes = atomic_load(&n->st_gc_deletes);
    out->gc_proposals = atomic_load(&n->st_gc_proposals);
    out->gc_errors = atomic_load(&n->st_gc_errors);
}

void srv_node_trigger_gc(srv_node *n)
{
    srv_worker_trigger_gc(n);
}
