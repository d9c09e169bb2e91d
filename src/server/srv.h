/* srv.h -- the server module's contract: a store node assembled from the layers below
 * (srv_node), its status reports (/status JSON, /metrics), and the small helpers the
 * binaries share (address parsing). main_server.c is the only caller in the tree; tests and
 * benchmarks use srv_node to get a complete standalone store in one call.
 *
 * A standalone node (DESIGN.md "Standalone mode") is, bottom-up:
 *   <data-dir>/db   the store's RocksDB (kv_engine): data CFs and CF raft; CF default runs
 *                   txn's GC compaction filter with the node's txn_gc_filter;
 *   <data-dir>/pd   PD's meta store (pd_kvstore_open) under an embedded pd_core;
 *   cluster_store   the raftstore over the engine and the in-process PD (no transport: a
 *                   one-store cluster; the store bootstraps the first Region on first open);
 *   txn_causal_ts   raw-write timestamps prefetched from PD's TSO, flushed on every leader
 *                   change (TiKV's leader-change rule: the batch is dropped, a fresh one is
 *                   fetched and max_ts raised to its first timestamp);
 *   txn_store       the raw API over the engine, proposing through txn_cluster_propose;
 *   a background thread ("srv-bg") that owns every call that may write PD's RocksDB and
 *                   every periodic job: TSO fetches for the causal ts source (never on the
 *                   raftstore thread), pd_tso_tick every 50 ms, pd_gc_tick every 10 s, the
 *                   GC safe point of the compaction filter, and bounded GC passes whose
 *                   deletes are split by Region and proposed through Raft.
 *
 * Thread affinity: srv_node_open/srv_node_close on one thread (the owner's), never
 * concurrently with other calls on the node and never from a callback of the node's store
 * or txn layer. Every other srv_node_* function may be called from any thread while the
 * node is open. The accessors hand out BORROWED pointers that are valid until
 * srv_node_close(); everything built on them (a client, a RESP server) must be freed
 * before the node is closed. */
#ifndef BASALT_SERVER_SRV_H
#define BASALT_SERVER_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "common/buf.h"
#include "common/err.h"
#include "pd/pd.h"
#include "storage/kv.h"
#include "txn/txn.h"

struct bs_config;

/* Basalt's own version, and the TiKV version the store reports to PD and clients. */
#define SRV_VERSION "0.1.0"
#define SRV_TIKV_VERSION "8.5.0"

/* ======================================================================================
 * Addresses
 * ==================================================================================== */

#define SRV_HOST_MAX 256

/* Splits "host:port" (or "[v6-host]:port") into host (NUL-terminated, at most
 * SRV_HOST_MAX - 1 bytes, brackets removed) and port (0..65535; 0 = pick a free port).
 * An empty host (":6379") is accepted and means every interface. addr borrowed.
 * Returns BS_OK, or BS_EINVAL with err naming the address and the reason. */
int srv_addr_parse(const char *addr, char host[SRV_HOST_MAX], uint16_t *port, bs_err *err);

/* ======================================================================================
 * Node
 * ==================================================================================== */

typedef struct srv_node srv_node;

typedef struct srv_node_options {
    /* Borrowed for srv_node_open only (values are copied): [storage] data-dir, [server]
     * addr (the address registered with PD), [raftstore], [coprocessor], [gc] life-time
     * and run-interval, [storage.block-cache] and [rocksdb.*]. Required. */
    const struct bs_config *config;
    int64_t tso_tick_ms;      /* pd_tso_tick period; default 50 (PD's update loop) */
    int64_t gc_tick_ms;       /* pd_gc_tick period (a sweep also waits for [gc]
                               * run-interval); default 10000 */
    size_t gc_pass_limit;     /* deletes per GC pass (one Raft entry per Region); 4096 */
    uint32_t causal_ts_batch; /* timestamps prefetched per TSO fetch; default 8192 */
} srv_node_options;

/* Fills the defaults above (config NULL). */
void srv_node_options_init(srv_node_options *o);

/* Opens the node on the config's data dir (created, with parents, when missing): engine,
 * PD, store, causal ts, txn store, background thread, in that order. A directory whose
 * engine is held by another process (or another node of this process) is refused with
 * BS_EBUSY: "data directory <dir> is in use by another basalt-server ...".
 * Returns BS_OK and *out (caller owns; srv_node_close), BS_EINVAL (no config, bad options,
 * [pd] endpoints set: joining a PD cluster is not supported yet), BS_EBUSY, or the failing
 * layer's error with err saying which step failed. On error nothing is left open. */
int srv_node_open(const srv_node_options *opts, srv_node **out, bs_err *err);

/* Clean, ordered shutdown, the reverse of open: stops the background jobs, closes the store
 * (pending proposals fail with BS_EPROPOSAL_DROPPED, their callbacks run inside), stops the
 * background thread after it answered every queued TSO fetch, frees the txn store and the
 * causal ts source, closes PD, its meta store and the engine. No callback of the node runs
 * after it returns. n may be NULL. */
void srv_node_close(srv_node *n);

/* Waits (bounded by timeout_ms, polling) until the node can serve: every local Region has
 * a known leader, every Region this store leads has run the leader-change rule for its
 * current leadership (causal ts flushed, max_ts synced), and the causal ts source has
 * timestamps. BS_OK, or BS_EBUSY with err saying what was still missing. */
int srv_node_wait_ready(srv_node *n, int64_t timeout_ms, bs_err *err);

/* Borrowed; valid until srv_node_close. */
kv_engine *srv_node_engine(srv_node *n);
pd_core *srv_node_pd(srv_node *n);
cluster_store *srv_node_store(srv_node *n);
txn_store *srv_node_txn(srv_node *n);
const char *srv_node_data_dir(const srv_node *n);

/* Every Region of the store in key order, with its leader as this store sees it.
 * *out is a new array of *n entries (caller owns: srv_region_infos_free). */
typedef struct srv_region_info {
    cluster_region region; /* owned copy */
    uint64_t leader_peer_id; /* 0 = unknown */
    bool local_leader;       /* this store's peer leads */
} srv_region_info;
void srv_node_regions(srv_node *n, srv_region_info **out, size_t *count);
void srv_region_infos_free(srv_region_info *v, size_t count);

typedef struct srv_node_stats {
    uint64_t tso_fetches;      /* fetches served for the causal ts source */
    uint64_t tso_fetch_errors;
    uint64_t role_changes;     /* on_role_change calls (becoming leader flushes the ts) */
    uint64_t gc_safe_point;    /* the compaction filter's safe point */
    uint64_t gc_sweeps;        /* whole sweeps (raw versions, lock resolution, CF write
                                * records: gc.c) whose proposals are all done */
    uint64_t gc_deletes;       /* version deletes proposed by GC and applied */
    uint64_t gc_proposals;     /* GC proposals applied (one per Region per pass) */
    uint64_t gc_errors;        /* passes or proposals that failed (sweep retried later) */
} srv_node_stats;
void srv_node_get_stats(srv_node *n, srv_node_stats *out);

/* Asks the background thread to run pd_gc_tick and a full GC sweep now instead of at the
 * next gc tick (tests, operators). Returns at once; watch srv_node_stats.gc_sweeps. */
void srv_node_trigger_gc(srv_node *n);

/* ======================================================================================
 * Status reports (status.c)
 * ==================================================================================== */

/* The addresses a server reports in /status. Strings borrowed; NULL or "" = not served. */
typedef struct srv_addrs {
    const char *redis;  /* RESP, the bound address */
    const char *status; /* status HTTP, the bound address */
    const char *grpc;   /* TiKV gRPC, the bound address */
    const char *pd;     /* embedded PD, the bound address */
} srv_addrs;

/* Refreshes the node's gauges (Regions, leaders, RocksDB sizes per CF, raftstore stats,
 * GC) in the process-wide registry, then appends bs_metrics_render()'s Prometheus text to
 * out. Any thread. */
void srv_metrics_render(srv_node *n, bs_buf *out);

/* Appends the /status JSON document to out:
 *   {"version":"0.1.0","tikv_version":"8.5.0","store_id":N,"cluster_id":N,
 *    "data_dir":"...","uptime_ms":N,
 *    "addresses":{"redis":"...","status":"...","grpc":"...","pd":"...",
 *                 "grpc_served":false,"pd_served":false},
 *    "regions":[{"id":N,"start_key":"<hex>","end_key":"<hex>","epoch":{...},
 *                "leader":{"peer_id":N,"store_id":N},"local_leader":true}, ...],
 *    "raftstore":{...cluster_store_stats...},"gc":{...}}
 * Region keys are the store's encoded region keys in upper-case hex ("" = unbounded), as
 * pd-ctl prints them. addrs borrowed. Any thread. */
void srv_status_json(srv_node *n, const srv_addrs *addrs, bs_buf *out);

#endif
