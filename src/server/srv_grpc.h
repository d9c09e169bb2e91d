/* srv_grpc.h -- the native gRPC services: what official TiKV clients (client-go,
 * client-rust, client-java, client-c) call on a PD address and on a store address.
 *
 * Two bundles, each registered on a net_server (src/net) before it starts:
 *   PD port    pdpb.PD over an in-process pd_core (standalone mode), keyspacepb.Keyspace,
 *              the etcd subset client-go needs (etcdserverpb.KV/Range for the GC safe
 *              point key, etcdserverpb.Cluster/MemberList) and grpc.health.v1.Health;
 *   store port tikvpb.Tikv over the local store (cluster_store + txn_store): the Raw family,
 *              the Kv* (Percolator) family, BatchCommands, GetStoreSafeTS,
 *              GetHealthFeedback, and Health.
 * PROTOCOL.md is the specification (§1 methods, §3.2 PD conventions, §3.3 store checks,
 * §3.4 BatchCommands). Methods Basalt does not serve are simply not registered: net/ then
 * answers gRPC UNIMPLEMENTED, which every client treats as "not supported" (GetClusterInfo,
 * the keyspace-level GC calls, pessimistic locking, KvDeleteRange, Coprocessor).
 *
 * Errors travel as TiKV and PD put them: PD errors in the response header (pdpb.Error);
 * region-level store errors in region_error inside a gRPC-OK response; raw key errors in the
 * response's `error` string with TiKV's wording. Only refusals a real server gives as a gRPC
 * status use one: a request that does not decode (INTERNAL, as grpc-go and grpcio do), a
 * wrong PD cluster id (FAILED_PRECONDITION "mismatch cluster id, need X but got Y"), a wrong
 * kvrpcpb.Context.cluster_id (INVALID_ARGUMENT).
 *
 * Threads. Every handler starts on the loop thread of the server it is registered on. PD
 * handlers are synchronous (pd_core is thread-safe; a call that persists PD state waits for
 * PD's meta store on that thread, so give the PD server a loop of its own). Store point
 * reads and short scans (at most 256 keys) run on the loop thread (a lease read, or after
 * an asynchronous ReadIndex); longer or unbounded reads (RawScan, RawBatchScan, RawBatchGet,
 * KvScan, KvBatchGet and KvScanLock past that bound, RawChecksum, a KvResolveLock without
 * keys, GetStoreSafeTS with its TSO and lock scans) run on the store service's own worker
 * threads and post their reply back to the call's loop. Store writes are handed to
 * txn_store and complete from its callback, which posts back too (net_loop_post), so the
 * loop never waits for Raft, for the disk beyond a point read, or for a long scan.
 *
 * Lifetime. A service object borrows everything it is given. Shut down in this order: stop
 * serving (net_server_free, or net_server_shutdown then free), stop the server's loop
 * (net_loop_stop: closures already posted run first), stop the store service's workers
 * (srv_grpc_tikv_stop: they read the store), close the store and free the txn store (their
 * callbacks have all run afterwards), free the service objects (on the thread that owns the
 * loop: a request that completed after the loop stopped has its call finished there), and
 * only then free the loop. */
#ifndef BASALT_SERVER_SRV_GRPC_H
#define BASALT_SERVER_SRV_GRPC_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "common/err.h"
#include "net/net.h"
#include "pd/pd.h"
#include "txn/txn.h"

/* ======================================================================================
 * PD port
 * ==================================================================================== */

typedef struct srv_grpc_pd_options {
    /* PD member name (pdpb.Member.name, etcd Member.name); NULL or "" = "pd". */
    const char *name;
    /* The URL clients are told to use, with scheme: "http://host:port" (PROTOCOL.md §3.2).
     * NULL or "" = "http://<advertise_host>:<the server's bound port>", computed at request
     * time, so a server started on port 0 advertises the port it got. */
    const char *client_url;
    /* Host part of the default client URL; NULL or "" = "127.0.0.1". */
    const char *advertise_host;
    /* pdpb.StoreHeartbeatResponse.cluster_version; NULL or "" = "8.5.0". */
    const char *cluster_version;
} srv_grpc_pd_options;

/* Fills the defaults above (all NULL). */
void srv_grpc_pd_options_init(srv_grpc_pd_options *o);

typedef struct srv_grpc_pd srv_grpc_pd;

/* Registers on s (before net_server_start): pdpb.PD (GetMembers, Tso, Bootstrap,
 * IsBootstrapped, AllocID, GetStore, PutStore, GetAllStores, StoreHeartbeat,
 * RegionHeartbeat, GetRegion, GetPrevRegion, GetRegionByID, QueryRegion, ScanRegions,
 * AskBatchSplit, ReportBatchSplit, GetClusterConfig, GetGCSafePoint, UpdateGCSafePoint,
 * UpdateServiceGCSafePoint, GetGCState), keyspacepb.Keyspace (LoadKeyspace,
 * LoadKeyspaceByID: keyspace 0 "DEFAULT", ENABLED; any other is ENTRY_NOT_FOUND),
 * etcdserverpb.KV/Range, etcdserverpb.Cluster/MemberList and grpc.health.v1.Health/Check
 * (the last is skipped, not an error, when s already has it).
 * s, pd: borrowed; must outlive the returned object. opts: borrowed for the call (copied);
 * NULL = defaults. Returns BS_OK and *out (caller owns; srv_grpc_pd_free after s is freed),
 * BS_EINVAL for an option too long, or net_server_add_method's error (BS_EEXIST when a PD
 * method is registered already, BS_ESTATE after start). On an error *out is set as well:
 * the methods added before the failure stay registered and point at it, so free the server
 * first, then *out. Any thread; not concurrently with other calls on s. */
int srv_grpc_pd_register(net_server *s, pd_core *pd, const srv_grpc_pd_options *opts,
                         srv_grpc_pd **out, bs_err *err);

/* Frees the service. Call after the net_server it was registered on is freed. NULL ok. */
void srv_grpc_pd_free(srv_grpc_pd *svc);

/* ======================================================================================
 * Store port
 * ==================================================================================== */

typedef struct srv_grpc_tikv_options {
    /* TiKV's [storage] max-key-size: a raw write of a longer key (prefix included) is
     * refused with "max key size exceeded, size: N, limit: M". 0 = 8192 (TiKV's default). */
    size_t max_key_size;
    /* Where GetStoreSafeTS takes its fresh timestamp (TiKV asks PD for one per resolved-ts
     * round). Borrowed; must outlive the service. NULL: GetStoreSafeTS answers 0, the
     * conservative "no stale read is safe". */
    pd_core *pd;
    /* Worker threads for long reads (see "Threads"); 0 = 2. Their queue holds 64 jobs per
     * thread; past that a long read is answered ServerIsBusy, which clients retry. */
    size_t worker_threads;
} srv_grpc_tikv_options;

/* Fills the defaults above. */
void srv_grpc_tikv_options_init(srv_grpc_tikv_options *o);

typedef struct srv_grpc_tikv srv_grpc_tikv;

/* Registers on s (before net_server_start): tikvpb.Tikv RawGet, RawBatchGet, RawPut,
 * RawBatchPut, RawDelete, RawBatchDelete, RawScan, RawBatchScan, RawDeleteRange,
 * RawGetKeyTTL, RawCompareAndSwap, RawChecksum, KvGet, KvScan, KvBatchGet, KvScanLock,
 * KvPrewrite, KvCommit, KvBatchRollback, KvCleanup, KvCheckTxnStatus,
 * KvCheckSecondaryLocks, KvTxnHeartBeat, KvResolveLock, SplitRegion, GetStoreSafeTS,
 * GetHealthFeedback
 * and BatchCommands, plus grpc.health.v1.Health/Check (skipped when s already has it).
 *
 * Every region request is checked as TiKV checks it (PROTOCOL.md §3.3, §4.1), in this
 * order: Context.cluster_id (non-zero and not the store's: gRPC INVALID_ARGUMENT), the API
 * version and key mode (this store is API V2: a V1/V1TTL raw request gets TiKV's
 * "Api version in request does not match with TiKV storage, ..."; a key outside the
 * command's key space -- 'r' for Raw*, 'x' for Kv* -- gets "Key mode mismatched with the
 * request mode, ..."; in `error`, or in KeyError.abort for Kv*), the column family (only
 * "" or "default"), then the region: StoreNotMatch, RegionNotFound, NotLeader (with the
 * leader when known), MismatchPeerId, StaleCommand (term), EpochNotMatch (with the current
 * region), KeyNotInRegion. Reads are served under the leader's lease, or after a ReadIndex;
 * writes go through txn_store and report raft-level failures (NotLeader, StaleCommand,
 * ServerIsBusy, RaftEntryTooLarge, MaxTimestampNotSynced...) as region errors. Kv* key
 * errors (locked, write conflict, txn not found, ...) are kvrpcpb.KeyError as TiKV fills
 * them. Pessimistic transactions are not served (txn/ has no pessimistic lock), and async
 * commit falls back to two-phase commit (min_commit_ts 0).
 *
 * BatchCommands carries every command above that has a BatchCommands number (PROTOCOL.md
 * §1.4) and Empty (255); any other command is answered in its own oneof slot with a region
 * error whose message says it is not supported, so the stream and its other requests go
 * on.
 *
 * s, st, txn: borrowed; must outlive the returned object (see "Lifetime" above).
 * opts: copied; NULL = defaults. Returns BS_OK and *out (caller owns; srv_grpc_tikv_free),
 * BS_EINTERNAL when the worker threads cannot start, or net_server_add_method's error, with
 * *out set as for srv_grpc_pd_register. Any thread; not concurrently with other calls on
 * s. */
int srv_grpc_tikv_register(net_server *s, cluster_store *st, txn_store *txn,
                           const srv_grpc_tikv_options *opts, srv_grpc_tikv **out, bs_err *err);

/* Stops the worker threads (see "Lifetime": after the server's loop stopped, before the
 * store closes): a long read running on one completes (its reply is kept for
 * srv_grpc_tikv_free), queued ones never start and end CANCELLED. Blocks while a running read
 * finishes. Idempotent; srv_grpc_tikv_free calls it too. NULL ok. Any thread. */
void srv_grpc_tikv_stop(srv_grpc_tikv *svc);

/* Frees the service (see "Lifetime": after the server is freed, its loop stopped, the
 * workers stopped and the store closed; before the loop is freed; on the loop's owner
 * thread). Calls of requests
 * that completed after the loop stopped are finished CANCELLED here, requests still parked
 * on the loop (a delayed BatchCommands Empty, a read waiting for a write to apply) are
 * dropped. NULL ok. */
void srv_grpc_tikv_free(srv_grpc_tikv *svc);

/* ======================================================================================
 * Health alone
 * ==================================================================================== */

/* Registers grpc.health.v1.Health/Check on s: SERVING for service "" and for the services
 * Basalt serves ("pdpb.PD", "tikvpb.Tikv", ...), gRPC NOT_FOUND for any other name (as
 * grpc's health service does). Both register functions call it. BS_OK (also when s already
 * has the method), or net_server_add_method's error. */
int srv_grpc_health_register(net_server *s, bs_err *err);

#endif
