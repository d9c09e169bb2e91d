/* pd.h -- the Placement Driver's core: timestamps, ids, cluster metadata, GC safe points.
 *
 * This is PD as plain C structs and functions. It knows nothing of protobuf or the network:
 * the pdpb.PD gRPC service and the in-process PD client of a standalone basalt-server are
 * thin layers that translate messages into these calls and results back into messages
 * (PROTOCOL.md §1.1, §3.2). What lives here:
 *   - TSO: strictly increasing timestamps (physical_ms << 18 | logical) that never go
 *     backwards, across restarts and wall-clock steps (a window of time is persisted ahead
 *     of every issued timestamp, as PD does);
 *   - one id space for store, region and peer ids, persisted in batches;
 *   - the cluster id, bootstrap, store metadata and stats, region routing (key → region,
 *     previous region, scans, by-id lookups), region heartbeats, batch split;
 *   - the GC safe point. PD advances it by itself (pd_gc_tick: now − [gc] life-time,
 *     never past the oldest live service safe point), so Basalt needs no external GC worker:
 *     stores read the safe point and collect below it.
 *
 * State is persisted through pd_meta_store, a small synchronous key-value interface (below)
 * so the core does not depend on RocksDB; an in-memory implementation serves tests, and an
 * adapter over the storage engine gives PD its own durable directory.
 *
 * Thread affinity: every pd_* function on a pd handle may be called from any thread.
 * Metadata (ids, stores, regions, GC) sits behind one mutex; the TSO has its own small lock
 * so a timestamp request never queues behind a region heartbeat, and it touches the meta
 * store only once per persisted window (pd_tso_tick extends the window ahead of need, so in
 * steady state the request path is arithmetic only). pd_open/pd_close must not race with
 * other calls on the same handle.
 *
 * Errors: functions return a code from common/err.h and fill the optional bs_err. Where the
 * pdpb service must answer with a typed header error, the function also takes an optional
 * `pd_error_type *etype` and sets it (PD_ERR_OK on success). For functions without it,
 * pd_error_type_of() gives the mapping: BS_ESTATE always means "not bootstrapped". */
#ifndef BASALT_PD_PD_H
#define BASALT_PD_PD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* ==== Typed errors for response headers (mirrors pdpb.ErrorType) ======================= */

typedef enum pd_error_type {
    PD_ERR_OK = 0,
    PD_ERR_UNKNOWN = 1,
    PD_ERR_NOT_BOOTSTRAPPED = 2,
    PD_ERR_STORE_TOMBSTONE = 3,
    PD_ERR_ALREADY_BOOTSTRAPPED = 4,
    PD_ERR_INCOMPATIBLE_VERSION = 5,
    PD_ERR_REGION_NOT_FOUND = 6,
    PD_ERR_GLOBAL_CONFIG_NOT_FOUND = 7,
    PD_ERR_DUPLICATED_ENTRY = 8,
    PD_ERR_ENTRY_NOT_FOUND = 9,
    PD_ERR_INVALID_VALUE = 10,
    PD_ERR_DATA_COMPACTED = 11,
    PD_ERR_REGIONS_NOT_CONTAIN_ALL_KEY_RANGE = 12,
} pd_error_type;

/* The header error type for a return code of a function that has no etype parameter:
 * BS_OK → OK, BS_ESTATE → NOT_BOOTSTRAPPED, BS_EEXIST → ALREADY_BOOTSTRAPPED, anything
 * else → UNKNOWN (the message in bs_err says what). */
pd_error_type pd_error_type_of(int rc);

/* The enum name without prefix ("NOT_BOOTSTRAPPED"); static, borrowed. */
const char *pd_error_type_name(pd_error_type t);

/* ==== Persistence interface ============================================================ */

/* A synchronous, ordered byte key-value store that PD keeps all of its state in. Keys and
 * values are arbitrary bytes; order is bytewise (bs_slice_cmp). With sync = true a write is
 * durable when the call returns (fsync'd WAL); with sync = false it is durable at the next
 * synced write or flush. Implementations must be safe to call from several threads. */
typedef struct pd_meta_store pd_meta_store;

typedef enum pd_meta_op_type { PD_META_PUT = 0, PD_META_DEL = 1 } pd_meta_op_type;

typedef struct pd_meta_op {
    pd_meta_op_type type;
    bs_slice key;   /* borrowed for the duration of the write call */
    bs_slice value; /* PUT only; borrowed */
} pd_meta_op;

/* Called once per key of a prefix scan, in ascending key order. key and value are borrowed
 * for the duration of the call. Return BS_OK to continue; any other code stops the scan and
 * is returned by scan_prefix. The callback must not call into the same store. */
typedef int (*pd_meta_scan_fn)(void *arg, bs_slice key, bs_slice value, bs_err *err);

typedef struct pd_meta_store_vtbl {
    /* BS_OK with *value replaced by the stored bytes (caller owns the buffer), BS_NOTFOUND
     * (value untouched), or an error (BS_EIO...) with err set. */
    int (*get)(pd_meta_store *ms, bs_slice key, bs_buf *value, bs_err *err);
    /* BS_OK, or an error with nothing written. */
    int (*put)(pd_meta_store *ms, bs_slice key, bs_slice value, bool sync, bs_err *err);
    /* BS_OK (also when the key did not exist), or an error with nothing deleted. */
    int (*del)(pd_meta_store *ms, bs_slice key, bool sync, bs_err *err);
    /* Applies ops in order, atomically: all or none. BS_OK or an error (none applied). */
    int (*write)(pd_meta_store *ms, const pd_meta_op *ops, size_t n, bool sync, bs_err *err);
    /* Calls fn for every key that starts with prefix. BS_OK, fn's code, or an error. */
    int (*scan_prefix)(pd_meta_store *ms, bs_slice prefix, pd_meta_scan_fn fn, void *arg,
                       bs_err *err);
    /* Releases the store (it is no longer used by anyone). */
    void (*destroy)(pd_meta_store *ms);
} pd_meta_store_vtbl;

/* Implementations embed this as their first member. */
struct pd_meta_store {
    const pd_meta_store_vtbl *vt;
};

/* Destroys a store through its vtable. ms may be NULL. */
void pd_meta_store_free(pd_meta_store *ms);

/* An in-memory pd_meta_store for tests (memstore.c). Survives pd_close, so closing and
 * reopening a pd on the same memstore is a restart. Caller owns; free with
 * pd_meta_store_free(). Thread-safe. */
pd_meta_store *pd_memstore_new(void);

/* The real store: PD's state in a RocksDB database of its own at dir (created if missing).
 * A directory already open (by this or another process) is refused with BS_EBUSY.
 * Returns BS_OK and *out (caller owns; pd_meta_store_free closes the database), or the
 * storage error with err set. Thread-safe. (kvstore.c) */
int pd_kvstore_open(const char *dir, pd_meta_store **out, bs_err *err);

/* Test hook: while fail is true every write (put, del, write) of this memstore fails with
 * BS_EIO and changes nothing; reads keep working. ms must come from pd_memstore_new(). */
void pd_memstore_set_fail_writes(pd_meta_store *ms, bool fail);

/* Number of successful writes with sync = true so far (test observability). */
uint64_t pd_memstore_sync_writes(pd_meta_store *ms);

/* ==== Options, open, close ============================================================== */

/* Wall-clock source in Unix milliseconds. Injected so tests move time at will, backwards
 * too. Must be callable from any thread. */
typedef int64_t (*pd_clock_fn)(void *arg);

typedef struct pd_options {
    pd_clock_fn clock;            /* NULL: bs_clock_wall_ms() */
    void *clock_arg;              /* passed to clock; borrowed */
    int64_t tso_save_interval_ms; /* window persisted ahead of time; default 3000, > 0 */
    uint64_t id_step;             /* ids persisted ahead per batch; default 1000, > 0 */
    int64_t gc_life_time_ms;      /* [gc] life-time; default 10 min, >= 0 */
    uint32_t max_replicas;        /* metapb.Cluster.max_peer_count; default 3, > 0 */
} pd_options;

/* Fills o with the defaults above. */
void pd_options_init(pd_options *o);

typedef struct pd_core pd_core;

/* Opens PD over ms: loads (or on first open creates and persists) the cluster id, the
 * persisted TSO window, the id allocator bound, the bootstrap flag, stores, regions and GC
 * state, and persists a fresh TSO window ahead of every timestamp issued before.
 * opts: borrowed, copied (NULL = defaults). ms: borrowed; must outlive the pd, and only one
 * pd may use it at a time.
 * Returns BS_OK and *out (caller owns; pd_close), BS_EINVAL for bad options, BS_ECORRUPT
 * for undecodable persisted state, or the store's error. */
int pd_open(const pd_options *opts, pd_meta_store *ms, pd_core **out, bs_err *err);

/* Releases the handle (state is already persisted; nothing is written). pd may be NULL. */
void pd_close(pd_core *pd);

/* The cluster id: non-zero, generated once as (unix_seconds << 32) + random u32. */
uint64_t pd_cluster_id(const pd_core *pd);

/* ==== TSO ============================================================================== */

#define PD_TSO_LOGICAL_BITS 18
#define PD_TSO_MAX_LOGICAL (1u << PD_TSO_LOGICAL_BITS) /* logical < this */

static inline uint64_t pd_ts_compose(int64_t physical_ms, uint32_t logical)
{
    return ((uint64_t)physical_ms << PD_TSO_LOGICAL_BITS) | logical;
}
static inline int64_t pd_ts_physical(uint64_t ts)
{
    return (int64_t)(ts >> PD_TSO_LOGICAL_BITS);
}
static inline uint32_t pd_ts_logical(uint64_t ts)
{
    return (uint32_t)(ts & (PD_TSO_MAX_LOGICAL - 1));
}

/* Allocates count consecutive timestamps and stores the LARGEST in *ts_out; the caller
 * hands out ts_out − count + 1 … ts_out (all with the same physical part), as a
 * TsoResponse's timestamp does. Every timestamp is larger than any issued before by this
 * cluster, including before a restart and if the clock went backwards. When the logical
 * part would overflow within one millisecond, the physical part advances by one instead of
 * waiting. count: 1 … PD_TSO_MAX_LOGICAL − 1.
 * Returns BS_OK, BS_EINVAL (bad count; *ts_out untouched), BS_ERANGE (physical time past
 * 2^46 ms), or the meta store's error when a new window could not be persisted (nothing
 * issued). */
int pd_tso_alloc(pd_core *pd, uint32_t count, uint64_t *ts_out, bs_err *err);

/* Persists the next TSO window early, when less than half of it remains ahead of
 * max(now, newest issued physical part), so pd_tso_alloc rarely waits on the disk. Call it
 * periodically (every ~50 ms, as PD's update loop runs). Returns BS_OK or the meta store's
 * error (state kept). */
int pd_tso_tick(pd_core *pd, bs_err *err);

/* The persisted upper bound of the TSO window (ms): every issued timestamp has a physical
 * part below it. For tests and metrics. */
int64_t pd_tso_window_end(pd_core *pd);

/* ==== ID allocator ===================================================================== */

/* Allocates the contiguous block [*last_id − n + 1, *last_id], n = (count == 0 ? 1 : count),
 * from the one id space of stores, regions and peers. Ids start at 1 and are never reused,
 * across restarts too (a bound is persisted before ids below it are handed out).
 * Returns BS_OK, BS_ERANGE (id space exhausted), or the meta store's error (nothing
 * allocated). */
int pd_alloc_id(pd_core *pd, uint32_t count, uint64_t *last_id, bs_err *err);

/* ==== Stores =========================================================================== */

typedef enum pd_store_state {
    PD_STORE_UP = 0,
    PD_STORE_OFFLINE = 1,
    PD_STORE_TOMBSTONE = 2,
} pd_store_state;

typedef enum pd_node_state {
    PD_NODE_PREPARING = 0,
    PD_NODE_SERVING = 1,
    PD_NODE_REMOVING = 2,
    PD_NODE_REMOVED = 3,
} pd_node_state;

#define PD_ADDR_MAX 256   /* addresses, deploy path: NUL-terminated, < this many bytes */
#define PD_VERSION_MAX 64 /* version, git hash */

/* StoreStats: the fields PD keeps from a store heartbeat. */
typedef struct pd_store_stats {
    uint64_t capacity, available, used_size;
    uint32_t region_count;
    uint32_t sending_snap_count, receiving_snap_count, applying_snap_count;
    uint32_t start_time; /* Unix seconds the store started */
    bool is_busy;
    uint64_t bytes_written, keys_written, bytes_read, keys_read;
    uint64_t interval_start, interval_end; /* Unix seconds */
} pd_store_stats;

/* metapb.Store plus the latest stats. Plain value type: copy with `=`. */
typedef struct pd_store {
    uint64_t id;                    /* non-zero */
    char address[PD_ADDR_MAX];      /* "host:port" of the gRPC service */
    char peer_address[PD_ADDR_MAX]; /* "" = same as address */
    char status_address[PD_ADDR_MAX];
    char version[PD_VERSION_MAX]; /* semver, e.g. "8.5.0" */
    char git_hash[PD_VERSION_MAX];
    char deploy_path[PD_ADDR_MAX];
    pd_store_state state;
    pd_node_state node_state;
    int64_t start_timestamp; /* Unix seconds */
    int64_t last_heartbeat;  /* Unix nanoseconds, set by PD */
    bool physically_destroyed;
    pd_store_stats stats; /* soft state: from heartbeats, not persisted */
} pd_store;

/* PutStore. store: borrowed. A new store is registered Up/Serving; a known one keeps its
 * state and takes the new addresses, version, git hash, start time and deploy path.
 * last_heartbeat is set to now. Persisted (synced) before returning.
 * Returns BS_OK; BS_ESTATE (NOT_BOOTSTRAPPED) before bootstrap; BS_EINVAL (UNKNOWN) for id
 * 0 or an empty address; BS_EEXIST (UNKNOWN) when another live store has that address;
 * BS_ESTATE (STORE_TOMBSTONE) when the store was removed; or the meta store's error. */
int pd_put_store(pd_core *pd, const pd_store *store, pd_error_type *etype, bs_err *err);

/* GetStore. Copies the store (with stats) into *out. Returns BS_OK, BS_ESTATE
 * (NOT_BOOTSTRAPPED), or BS_NOTFOUND (UNKNOWN, "invalid store ID N, not found"). */
int pd_get_store(pd_core *pd, uint64_t store_id, pd_store *out, pd_error_type *etype, bs_err *err);

/* GetAllStores, ordered by id. *out is a new array of *n stores (caller owns; bs_free; NULL
 * when *n == 0). Tombstone stores are left out when exclude_tombstone.
 * Returns BS_OK or BS_ESTATE (NOT_BOOTSTRAPPED). */
int pd_get_all_stores(pd_core *pd, bool exclude_tombstone, pd_store **out, size_t *n,
                      pd_error_type *etype, bs_err *err);

/* StoreHeartbeat: records stats (borrowed) for store_id and sets last_heartbeat to now;
 * stores the store's node state in *node_state (may be NULL) for the response.
 * Returns BS_OK, BS_ESTATE (NOT_BOOTSTRAPPED), BS_NOTFOUND (UNKNOWN), or BS_ESTATE
 * (STORE_TOMBSTONE). Nothing is persisted: stats are soft state. */
int pd_store_heartbeat(pd_core *pd, uint64_t store_id, const pd_store_stats *stats,
                       pd_node_state *node_state, pd_error_type *etype, bs_err *err);

/* Operator action (pd-ctl store delete / up): Up ⇄ Offline, and → Tombstone once no region
 * has a peer on the store. Node state follows (Serving, Removing, Removed). Persisted
 * (synced). Setting the current state again is a no-op.
 * Returns BS_OK, BS_ESTATE (not bootstrapped), BS_NOTFOUND, BS_EINVAL (a transition out of
 * Tombstone, or → Tombstone while the store holds peers), or the meta store's error. */
int pd_set_store_state(pd_core *pd, uint64_t store_id, pd_store_state state, bs_err *err);

/* ==== Regions: value types ============================================================== */

typedef enum pd_peer_role {
    PD_PEER_VOTER = 0,
    PD_PEER_LEARNER = 1,
    PD_PEER_INCOMING_VOTER = 2,
    PD_PEER_DEMOTING_VOTER = 3,
} pd_peer_role;

typedef struct pd_peer {
    uint64_t id;       /* non-zero */
    uint64_t store_id; /* non-zero */
    pd_peer_role role;
    bool is_witness;
} pd_peer;

typedef struct pd_region_epoch {
    uint64_t conf_ver; /* +1 per peer change */
    uint64_t version;  /* +1 per split or merge */
} pd_region_epoch;

/* metapb.Region. Keys are opaque region keys in the store's encoded form (PROTOCOL.md
 * §4.3), compared bytewise; an empty end_key means +∞.
 * Invariant (checked on input): end_key empty or start_key < end_key.
 * Owns its keys and peers: pd_region_init / pd_region_deinit / pd_region_copy. */
typedef struct pd_region {
    uint64_t id; /* non-zero */
    bs_buf start_key;
    bs_buf end_key;
    pd_region_epoch epoch;
    pd_peer *peers; /* n_peers entries, owned; NULL when n_peers == 0 */
    size_t n_peers;
} pd_region;

/* Caller-allocated; init before use, deinit to free what it owns. */
void pd_region_init(pd_region *r);
void pd_region_deinit(pd_region *r); /* frees keys and peers, re-initialises; r may be NULL */
/* Deep copy: dst (initialised; its old contents are freed) becomes a copy of src
 * (borrowed); dst != src. */
void pd_region_copy(pd_region *dst, const pd_region *src);
/* Convenience for callers and tests: replaces r's id, epoch, keys (copied from the slices,
 * which must not point into r's own keys) and peers (copied from peers[0..n)). */
void pd_region_set(pd_region *r, uint64_t id, bs_slice start_key, bs_slice end_key,
                   pd_region_epoch epoch, const pd_peer *peers, size_t n);

typedef struct pd_peer_stats {
    pd_peer peer;
    uint64_t down_seconds;
} pd_peer_stats;

/* A region as PD knows it: meta, leader and what the last heartbeat reported.
 * Owns everything it points to: pd_region_info_init / _deinit / _copy. */
typedef struct pd_region_info {
    pd_region region;
    bool has_leader;           /* false until a leader heartbeat or a split report names one */
    pd_peer leader;            /* valid when has_leader */
    uint64_t term;             /* raft term of the last heartbeat; 0 = unknown */
    pd_peer_stats *down_peers; /* n_down_peers entries, owned */
    size_t n_down_peers;
    pd_peer *pending_peers; /* n_pending_peers entries, owned */
    size_t n_pending_peers;
    uint64_t approximate_size; /* MiB */
    uint64_t approximate_keys;
    uint64_t bytes_written, bytes_read, keys_written, keys_read;
} pd_region_info;

/* Same lifecycle as pd_region: init, deinit (frees everything owned; ri may be NULL), and a
 * deep copy into an initialised dst != src. */
void pd_region_info_init(pd_region_info *ri);
void pd_region_info_deinit(pd_region_info *ri);
void pd_region_info_copy(pd_region_info *dst, const pd_region_info *src);

/* An owned array of region infos (scan and query results). */
typedef struct pd_region_list {
    pd_region_info *v; /* n entries, owned; NULL when n == 0 */
    size_t n;
} pd_region_list;

/* init makes it empty; deinit frees every entry and the array (l may be NULL). */
void pd_region_list_init(pd_region_list *l);
void pd_region_list_deinit(pd_region_list *l);

/* ==== Bootstrap ========================================================================= */

/* Bootstrap: records the first store and the first region (one peer on that store, empty
 * start and end keys), atomically with the bootstrapped flag (one synced batch).
 * store, first_region: borrowed, copied.
 * Returns BS_OK; BS_EEXIST (ALREADY_BOOTSTRAPPED) on every call after the first success;
 * BS_EINVAL (UNKNOWN) for a zero id, non-empty keys, not exactly one peer, or a peer on
 * another store; or the meta store's error (not bootstrapped). */
int pd_bootstrap(pd_core *pd, const pd_store *store, const pd_region *first_region,
                 pd_error_type *etype, bs_err *err);

/* IsBootstrapped. Never fails. */
bool pd_is_bootstrapped(pd_core *pd);

/* GetClusterConfig: max_peer_count. Returns BS_OK or BS_ESTATE (not bootstrapped). */
int pd_get_cluster_config(pd_core *pd, uint32_t *max_peer_count, bs_err *err);

/* ==== Region routing ==================================================================== */

/* All lookups copy into caller-owned results and hold the metadata lock only while
 * copying. Region keys are compared as opaque bytes. Each returns BS_ESTATE (NOT_BOOTSTRAPPED)
 * before bootstrap. */

/* GetRegion: the region with start_key <= key < end_key. *out (initialised by the caller)
 * is replaced. Returns BS_OK, BS_NOTFOUND (no region covers key; PD answers an OK header
 * without a region) or BS_ESTATE. */
int pd_get_region(pd_core *pd, bs_slice key, pd_region_info *out, bs_err *err);

/* GetPrevRegion: the region just before the one that contains key, only if the two are
 * adjacent (its end_key equals that region's start_key). BS_OK, BS_NOTFOUND or BS_ESTATE. */
int pd_get_prev_region(pd_core *pd, bs_slice key, pd_region_info *out, bs_err *err);

/* GetRegionByID. BS_OK, BS_NOTFOUND or BS_ESTATE. */
int pd_get_region_by_id(pd_core *pd, uint64_t region_id, pd_region_info *out, bs_err *err);

/* ScanRegions: in key order, the regions overlapping [start_key, end_key) (an empty end_key
 * means +∞), at most limit of them (limit <= 0: unlimited). *out (initialised) is replaced.
 * Returns BS_OK (possibly with out->n == 0) or BS_ESTATE. */
int pd_scan_regions(pd_core *pd, bs_slice start_key, bs_slice end_key, int32_t limit,
                    pd_region_list *out, bs_err *err);

/* QueryRegion, one request of the stream, answered from one consistent view:
 *   key_ids[i]      = id of the region containing keys[i], 0 if none (n_keys entries);
 *   prev_key_ids[i] = id of GetPrevRegion(prev_keys[i]), 0 if none (n_prev entries);
 *   regions         = every region named by key_ids, prev_key_ids and the known ones of
 *                     ids[], once each, ordered by id.
 * Inputs borrowed (arrays may be NULL when their count is 0). */
typedef struct pd_query_result {
    uint64_t *key_ids;      /* owned */
    uint64_t *prev_key_ids; /* owned */
    pd_region_list regions;
} pd_query_result;

/* init makes it empty; deinit frees everything owned (q may be NULL). */
void pd_query_result_init(pd_query_result *q);
void pd_query_result_deinit(pd_query_result *q);

/* Returns BS_OK or BS_ESTATE. *out (initialised) is replaced. */
int pd_query_region(pd_core *pd, const bs_slice *keys, size_t n_keys, const bs_slice *prev_keys,
                    size_t n_prev, const uint64_t *ids, size_t n_ids, pd_query_result *out,
                    bs_err *err);

/* Number of regions in the routing table. Never fails (0 before bootstrap). */
size_t pd_region_count(pd_core *pd);

/* ==== Region heartbeat and split ======================================================== */

/* RegionHeartbeat from a region leader. hb: borrowed; hb->region and hb->leader required
 * (has_leader true, the leader one of the region's peers).
 * PD's staleness rule: the heartbeat is rejected when its version or conf_ver is below
 * what PD knows for the same region id, its term is below the known term, or its version is
 * below that of any other region overlapping its range. Otherwise it replaces the region
 * and every overlapping region. Meta changes (range, epoch, peers) are persisted (not
 * synced: regions are soft state that heartbeats rebuild); leader and stats live in memory.
 * Returns BS_OK; BS_ESTATE (NOT_BOOTSTRAPPED); BS_EINVAL (UNKNOWN) for malformed input or a
 * stale epoch (message "region is stale ..."); or the meta store's error (nothing changed).
 * A static cluster gets no operators, so there is no response payload yet. */
int pd_region_heartbeat(pd_core *pd, const pd_region_info *hb, pd_error_type *etype, bs_err *err);

/* AskBatchSplit result: for split k in 0 … count−1, region_ids[k] and peer_ids[k *
 * peers_per_split + j] for the j-th peer of the asking region (in region.peers order). */
typedef struct pd_split_ids {
    size_t count;
    size_t peers_per_split;
    uint64_t *region_ids; /* owned */
    uint64_t *peer_ids;   /* owned */
} pd_split_ids;

/* init makes it empty; deinit frees both arrays (s may be NULL). */
void pd_split_ids_init(pd_split_ids *s);
void pd_split_ids_deinit(pd_split_ids *s);

/* AskBatchSplit: allocates split_count new region ids, each with one new peer id per peer
 * of region (borrowed), from the id allocator, as one contiguous block (region id, then its
 * peer ids, split after split). The region must be the one PD routes its start key to, and
 * its epoch must not be older than PD's (a newer one only means PD has not seen the latest
 * heartbeat yet; PD proper demands equality).
 * Returns BS_OK and *out (initialised by the caller, replaced); BS_ESTATE
 * (NOT_BOOTSTRAPPED); BS_EINVAL (UNKNOWN) for split_count 0 or above 10000, no peers, or an
 * older epoch; BS_NOTFOUND (REGION_NOT_FOUND) when PD does not route the start key to that
 * region; or the allocator's error. */
int pd_ask_batch_split(pd_core *pd, const pd_region *region, uint32_t split_count,
                       pd_split_ids *out, pd_error_type *etype, bs_err *err);

/* ReportBatchSplit: regions[0..n) (borrowed) are the result of one split, left to right
 * (each end_key equals the next start_key). Each is installed as a heartbeat without
 * stats would be (stale ones are skipped: a newer view already won). A new region's leader
 * is taken to be its peer on the store of the split region's leader, as TiKV places it.
 * Returns BS_OK; BS_ESTATE (NOT_BOOTSTRAPPED); BS_EINVAL (UNKNOWN) for fewer than 2 regions,
 * non-adjacent ranges or malformed regions; or the meta store's error (the regions before
 * the failing one stay installed). */
int pd_report_batch_split(pd_core *pd, const pd_region *regions, size_t n, pd_error_type *etype,
                          bs_err *err);

/* ==== GC safe points ==================================================================== */

/* GetGCSafePoint. Never fails; 0 until the first advance. (PD answers NOT_BOOTSTRAPPED
 * before bootstrap; the service checks pd_is_bootstrapped if it wants that.) */
uint64_t pd_get_gc_safe_point(pd_core *pd);

/* UpdateGCSafePoint: stores max(current, safe_point) (synced) and returns it in *new_sp.
 * Returns BS_OK or the meta store's error (unchanged). */
int pd_update_gc_safe_point(pd_core *pd, uint64_t safe_point, uint64_t *new_sp, bs_err *err);

/* UpdateServiceGCSafePoint. service_id: borrowed bytes, non-empty.
 * ttl_s <= 0 removes the service's safe point. Otherwise the service's point becomes
 * safe_point until now + ttl_s (a TTL too large to add means forever), unless safe_point is
 * below the current GC safe point (data it wants kept may be gone: not registered).
 * Expired service points are dropped first. *min_sp receives the minimum safe point over
 * live services afterwards, or the GC safe point when none is live.
 * Returns BS_OK, BS_EINVAL (empty id or longer than 1 KiB) or the meta store's error. */
int pd_update_service_gc_safe_point(pd_core *pd, bs_slice service_id, int64_t ttl_s,
                                    uint64_t safe_point, uint64_t *min_sp, bs_err *err);

/* PD advancing GC by itself (call periodically, e.g. every 10 s, with the wall clock):
 * drops expired service points, then sets the GC safe point to
 *   max(current, min(ts(now_ms − gc_life_time_ms, 0), min live service safe point))
 * and persists it when it moved. *new_sp (may be NULL) receives the result.
 * Returns BS_OK or the meta store's error. */
int pd_gc_tick(pd_core *pd, int64_t now_ms, uint64_t *new_sp, bs_err *err);

#endif
