/* client.h -- the cluster client: the API front ends (resp/, ctl/, tests, benchmarks) use to
 * read and write RawKV data without knowing about Regions, Raft or leaders.
 *
 * A request names a keyspace and user keys; the client builds API v2 keys ('r' ‖ keyspace[3]
 * ‖ key, PROTOCOL.md §4.2), finds each key's Region in its region cache (filled from PD),
 * sends the request to the Region's leader and, on a region error (NotLeader, EpochNotMatch,
 * RegionNotFound, KeyNotInRegion, ServerIsBusy, StaleCommand) or a transient store condition
 * (a key being written, causal timestamps not ready), refreshes its cache and retries with
 * backoff, as client-go does, until the request's backoff budget is spent. When the leader is
 * the local store, the call goes in-process (no serialization); remote leaders come with the
 * multi-store work.
 *
 * Reads are linearizable: served on the leader under a valid lease, otherwise after a
 * ReadIndex. Writes are acknowledged only once applied (hence durable: every Raft entry is
 * fsynced before it commits).
 *
 * Retries (client-go's rules): region errors, a busy store and causal timestamps not yet
 * synced mean nothing was done; the request is retried with backoff (2 ms doubling to
 * 500 ms) until max_backoff_ms of sleeping is spent, then fails with the last error. A
 * write whose proposal was accepted and then dropped (BS_EPROPOSAL_DROPPED: leadership
 * lost, store closing) may still commit under the next leader: put, delete, MSET and
 * delete_all are retried (applying them twice changes nothing), but read-modify-writes,
 * CAS and the other multi-key ops fail with code BS_EPROPOSAL_DROPPED and a msg starting
 * "write outcome unknown", since a blind retry could apply them twice or report a wrong
 * result.
 *
 * Every call is asynchronous: done(arg, res) is called exactly once, on the caller's thread
 * before the call returns (lease reads, validation errors), on the store's raftstore thread,
 * or on the client's retry thread (retries, reads after a ReadIndex, scans with a limit
 * above 256 and client_count, which must not run on a network thread). Callbacks must not
 * block. res is owned by the client and valid only during the callback; the callback may
 * move buffers out of it, leaving them empty (take res->value and set it to BS_BUF_INIT;
 * take res->pairs and txn_pairs_init() it).
 *
 * Thread affinity: a client may be used from any number of threads at once. */
#ifndef BASALT_CLIENT_CLIENT_H
#define BASALT_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "common/buf.h"
#include "common/err.h"
#include "pd/pd.h"
#include "txn/txn.h"

/* The largest keyspace id (24 bits). */
#define CLIENT_KEYSPACE_MAX 0xFFFFFFu

typedef struct client client;

typedef struct client_options {
    pd_core *pd;          /* borrowed; in-process PD (embedded); outlives the client */
    cluster_store *store; /* borrowed; the local store */
    txn_store *txn;       /* borrowed; the local store's raw layer over `store` */
    /* Total time one request may spend backing off before it fails with the last error
     * (client-go's raw client uses 20 s for most paths). */
    uint32_t max_backoff_ms; /* default 20000 */
} client_options;

/* Fills the defaults (pointers NULL). */
void client_options_init(client_options *o);

/* Creates a client (starts its retry thread; its transaction layer starts with the first
 * client_txns_of). opts is copied. BS_OK and *out (caller owns; client_free), or
 * BS_EINVAL. */
int client_new(const client_options *opts, client **out, bs_err *err);
/* Frees the transaction layer it owns (waiting for its background commits; every
 * client_txn of it must have been freed), fails requests still backing off
 * (BS_EPROPOSAL_DROPPED, "client closed"), waits for every
 * callback in flight to return, stops the retry thread and frees. c may be NULL. Must not be
 * called from a client callback. The store, txn store and PD must still be open: requests
 * inside the store call back from it. Calls made meanwhile (from callbacks) fail with
 * "client closed"; calls after it returned are a use after free. */
void client_free(client *c);

/* ---- results ------------------------------------------------------------------------- */

typedef struct client_result {
    /* BS_OK; BS_NOTFOUND for a get / get_ttl of a missing, deleted or expired key; or the
     * error. kind says which txn error it was (TXN_ERR_NONE for region / client errors);
     * msg is the reply text (Redis's text for the Redis kinds, without the "ERR " prefix;
     * "" when ok). */
    int code;
    txn_error_kind kind;
    char msg[BS_ERR_MSG_MAX];

    bs_buf value;      /* get: the value */
    uint64_t ttl_ms;   /* get_ttl: remaining milliseconds, 0 = no TTL */
    uint64_t expire_ms; /* get_ttl and client_txn_get of a live key: its absolute expiry
                         * (Unix ms of common/clock.h's wall clock), 0 = no TTL */
    txn_pairs pairs;   /* batch_get, scan: USER keys (prefix stripped) and values */
    uint64_t count;    /* count: live keys; multi DEL/EXISTS-style ops: keys affected */
    txn_rmw_result rmw; /* rmw: what the read-modify-write did */
    bool succeed;       /* cas */
    bool previous_not_exist;
    bs_buf previous_value;
    bool applied;       /* multi: the condition held and the write was done */
} client_result;

typedef void (*client_done_fn)(void *arg, client_result *res);

/* ---- reads ----------------------------------------------------------------------------- */

/* GET: value, or BS_NOTFOUND. */
void client_get(client *c, uint32_t keyspace, bs_slice key, client_done_fn done, void *arg);

/* TTL: remaining ms (0 = persistent) in res->ttl_ms and the expiry as stored in
 * res->expire_ms, or BS_NOTFOUND. */
void client_get_ttl(client *c, uint32_t keyspace, bs_slice key, client_done_fn done,
                    void *arg);

/* MGET: the live keys among keys[0..n) in res->pairs, in request order (missing keys
 * omitted; a key asked twice appears twice). Keys may span Regions (not atomic across
 * Regions: each Region is read at its own point in time; a transaction's
 * client_txn_batch_get is). */
void client_batch_get(client *c, uint32_t keyspace, const bs_slice *keys, size_t n,
                      client_done_fn done, void *arg);

/* Whether the region cache puts every key of keys[0..n) in one Region (false when a key's
 * Region is not cached). A hint for choosing between the one-Region fast paths (client_multi,
 * client_batch_get) and a transaction: the cache may be stale. Synchronous; any thread. */
bool client_keys_one_region(client *c, uint32_t keyspace, const bs_slice *keys, size_t n);

typedef struct client_scan_req {
    uint32_t keyspace;
    /* Forward: user keys in [start, end) ascending; reverse: [end, start) descending, as
     * RawScan. An empty end (has_end false) is the end of the keyspace; in reverse an empty
     * start is the end of the keyspace. */
    bs_slice start;
    bs_slice end;
    bool has_end;
    uint32_t limit; /* > 0 */
    bool key_only;
    bool reverse;
} client_scan_req;

/* SCAN: up to limit live pairs in order across every Region of the range (each Region's
 * part is clipped to the Region). */
void client_scan(client *c, const client_scan_req *req, client_done_fn done, void *arg);

/* DBSIZE: the number of live keys in the keyspace in res->count. */
void client_count(client *c, uint32_t keyspace, client_done_fn done, void *arg);

/* ---- single-key writes ------------------------------------------------------------------ */

/* SET key value with expiry now + ttl_ms (0 = none). */
void client_put(client *c, uint32_t keyspace, bs_slice key, bs_slice value, uint64_t ttl_ms,
                client_done_fn done, void *arg);

/* Single-key delete (writes the delete marker even for an absent key). */
void client_delete(client *c, uint32_t keyspace, bs_slice key, client_done_fn done,
                   void *arg);

/* The closed set of single-key read-modify-writes (txn.h's txn_rmw_params), executed on
 * the leader under the key's latch. res->rmw reports the outcome; Redis errors (not an
 * integer, overflow...) come back with their kind and text. */
void client_rmw(client *c, uint32_t keyspace, bs_slice key, const txn_rmw_params *p,
                client_done_fn done, void *arg);

/* Compare-and-swap (txn.h's txn_cas_req; key is a user key). */
void client_cas(client *c, uint32_t keyspace, const txn_cas_req *req, client_done_fn done,
                void *arg);

/* ---- multi-key writes ------------------------------------------------------------------- */

/* Multi-key operations Redis makes atomic. Until transactions span Regions, every key of one
 * call must lie in ONE Region: otherwise nothing is done and the call fails with
 * code BS_ERANGE, kind TXN_ERR_INVALID_ARGUMENT and msg "-CROSSREGION Keys in request don't
 * hash to the same region" (a Redis-cluster-style error a client can recognise; a msg that
 * starts with '-' carries its own error code). Within a
 * Region the operation runs under the latches of all its keys as one Raft entry (txn.h's
 * txn_raw_multi). Expired keys count as absent. */
typedef enum client_multi_op {
    CLIENT_MULTI_MSET,     /* keys[i] = values[i] for all i (TTL cleared) */
    CLIENT_MULTI_MSETNX,   /* the same, only if no key exists: applied */
    CLIENT_MULTI_DEL,      /* delete all; count = keys that existed (a key named twice counts
                            * once); delete markers are written only for live keys */
    CLIENT_MULTI_EXISTS,   /* count = live keys (a key named twice counts twice); no write */
    CLIENT_MULTI_RENAME,   /* keys[0] → keys[1] with its TTL; BS_NOTFOUND "no such key";
                            * RENAME k k of a live k: OK, nothing written */
    CLIENT_MULTI_RENAMENX, /* the same unless keys[1] exists: applied (RENAMENX k k: false) */
    CLIENT_MULTI_COPY,     /* keys[0] copied to keys[1] with its TTL unless keys[1] exists
                            * (or CLIENT_MULTI_REPLACE): applied; absent keys[0]: false;
                            * keys[0] == keys[1]: BS_EINVAL, kind TXN_ERR_INVALID_ARGUMENT,
                            * "source and destination objects are the same" (Redis 7) */
} client_multi_op;

#define CLIENT_MULTI_REPLACE 0x01u

typedef struct client_multi_req {
    client_multi_op op;
    uint32_t keyspace;
    const bs_slice *keys;   /* n keys (RENAME/RENAMENX/COPY: exactly 2) */
    const bs_slice *values; /* MSET/MSETNX: n values; otherwise NULL */
    size_t n;
    unsigned flags;         /* CLIENT_MULTI_REPLACE */
} client_multi_req;

void client_multi(client *c, const client_multi_req *req, client_done_fn done, void *arg);

/* Deletes every key of the keyspace (FLUSHDB), or of every RawKV keyspace when keyspace is
 * CLIENT_ALL_KEYSPACES (FLUSHALL), Region by Region. res->code BS_OK when all are gone. */
#define CLIENT_ALL_KEYSPACES UINT32_MAX
void client_delete_all(client *c, uint32_t keyspace, client_done_fn done, void *arg);

/* ---- observability ------------------------------------------------------------------------ */

typedef struct client_store_info {
    uint64_t store_id, cluster_id;
    size_t regions, leaders; /* Regions on the store; those of PD's Regions it leads */
    cluster_store_stats stats; /* raft and apply counters of the local store */
    uint64_t requests, retries, region_errors; /* the client's own counters */
    uint64_t read_indexes; /* reads (and checks before RMW/CAS/multi) that needed a ReadIndex
                            * because the leader's lease was not valid */
} client_store_info;

/* Synchronous snapshot of the local store's figures (INFO's basalt section). */
void client_store_info_get(client *c, client_store_info *out);


/* ======================================================================================
 * Transactions: Percolator over RawKV keys (MULTI/EXEC/WATCH; multi-key atomic commands)
 *   txn_client.c txn_tso.c txn_call.c txn_lock_resolver.c txn_buffer.c txn_snapshot.c
 *   txn_committer.c
 * ==================================================================================== */

/* The coordinator half of DESIGN.md "Data model" (the store half is txn.h's last section).
 * A transaction reads the snapshot at start_ts (a TSO timestamp) overlaid with its own
 * buffered writes, and commits as client-go's twoPhaseCommitter does: prewrite every key
 * (one request per Region part, all parts at once; one-phase commit when the whole txn
 * lies in one Region), take commit_ts from TSO, commit the primary key (the txn is
 * committed from that moment), reply, then commit the other keys in the background.
 * Committed versions are ordinary RawKV versions: client_get sees them.
 *
 * Objects:
 *   client_txns  one per client: the TSO client (concurrent timestamp requests share one
 *                pd_tso_alloc, made on the TSO thread because it may write PD's meta
 *                store), the registry of running txns (their oldest start_ts is
 *                registered with PD as a service GC safe point, so GC never removes a
 *                version a running txn may read), the lock resolver, counters.
 *   client_txn   one transaction: start_ts, write buffer, read and watch sets, and the
 *                locks its snapshot may skip (pushed by the lock resolver).
 *
 * Reads meet other txns' locks. The lock resolver asks the lock's primary
 * (CheckTxnStatus with a fresh TSO ts): committed -> commit the lock; rolled back or its
 * TTL expired -> roll it back; alive -> a reader pushes the txn's min_commit_ts above its
 * start_ts and reads past the lock, a writer backs off until the owner finishes or its
 * TTL runs out. Then the request runs again. Region errors, busy stores and lock waits
 * are retried with the client's backoff and budget (client.h's top comment).
 *
 * Isolation: snapshot isolation. With client_txn_options.serializable every key the txn
 * read from the store joins the prewrite as a Lock mutation when the txn writes anything,
 * so a txn that wrote one of those keys after start_ts makes the commit fail with a write
 * conflict: no write skew, as Redis's serial EXEC. Phantoms (a key inserted into a range
 * the txn scanned) are not detected. A txn that writes nothing prewrites none of its read
 * keys: a snapshot is consistent by itself.
 *
 * WATCH: client_watch_get() reads a key's newest version at a fresh TSO ts;
 * client_txn_watch() makes the commit assert that nothing newer was written and that a
 * key live then has not expired since (TXN_OP_CHECK_NOT_MODIFIED, or the watch flag on the
 * key's own mutation). A failed assertion is CLIENT_TXN_ERR_WATCH: EXEC replies nil.
 *
 * Callbacks run exactly once, on the caller's thread (before the call returns), the TSO
 * thread, the store's raftstore thread or the client's worker thread; they must not
 * block. Results and messages passed to them are borrowed for the call.
 *
 * Thread affinity: client_txns functions may be called from any thread. A client_txn is
 * used by one caller at a time with at most one call in flight (the next call may be made
 * from the previous one's callback). */

typedef struct client_txns client_txns;
typedef struct client_txn client_txn;

typedef struct client_txns_options {
    uint64_t lock_ttl_ms;  /* TTL written into every lock (TiKV's default 3000) */
    bool one_pc;           /* commit in one phase when all keys share a Region (default true) */
    uint32_t gc_update_ms; /* period of the GC safe point registration (default 10000) */
    int64_t gc_ttl_s;      /* TTL of that registration (default 600): a crashed client
                            * stops holding GC back after it */
    char gc_service_id[64]; /* PD service id; "" = "basalt-client-<store id>" */
} client_txns_options;

/* Fills the defaults. */
void client_txns_options_init(client_txns_options *o);

/* The transaction layer c owns, with the default options: created at the first call
 * (starting its TSO thread), freed by client_free. Borrowed, valid as long as c. NULL when
 * it cannot start (logged) or c is closing. What front ends use; tests may still create
 * their own with client_txns_new. Any thread. */
client_txns *client_txns_of(client *c);

/* Creates the transaction layer of c (starts the TSO thread). c is borrowed and must
 * outlive it; opts (may be NULL: defaults) is copied. BS_OK and *out (caller owns;
 * client_txns_free), BS_EINVAL, or BS_EINTERNAL when the thread cannot start. */
int client_txns_new(client *c, const client_txns_options *opts, client_txns **out,
                    bs_err *err);
/* Waits until every call in flight and every background commit has called back or
 * finished, withdraws the GC registration, stops the TSO thread and frees. t may be NULL.
 * Every client_txn must have been freed. Call before client_free(t's client); never from
 * a callback. */
void client_txns_free(client_txns *t);

/* ---- timestamps ------------------------------------------------------------------------- */

/* Called once with BS_OK and a TSO timestamp (strictly above every one issued before), or
 * PD's error, or BS_EPROPOSAL_DROPPED when t is closing (ts 0). */
typedef void (*client_tso_fn)(void *arg, int code, uint64_t ts);
/* Asks for one timestamp. Requests waiting together share one PD call; they are answered
 * in the order they were made, on the TSO thread. */
void client_tso_get(client_txns *t, client_tso_fn done, void *arg);

/* ---- a transaction ---------------------------------------------------------------------- */

typedef struct client_txn_options {
    bool serializable; /* read keys join the prewrite as Lock mutations (see above) */
} client_txn_options;

/* Called once: BS_OK with txn (caller owns; client_txn_free), or an error with txn NULL
 * and msg saying why (TSO failure, "client closed"). */
typedef void (*client_txn_begin_fn)(void *arg, int code, client_txn *txn, const char *msg);
/* Starts a txn at a fresh start_ts. opts may be NULL (defaults). */
void client_txn_begin(client_txns *t, const client_txn_options *opts, client_txn_begin_fn done,
                      void *arg);
uint64_t client_txn_start_ts(const client_txn *txn);
/* Frees txn. Allowed before commit (nothing was written: the buffer is dropped) and after
 * the commit's callback (secondaries may still be committed in the background; they do
 * not need the handle). Not while a call on txn is in flight. txn may be NULL. */
void client_txn_free(client_txn *txn);

/* Reads at start_ts, overlaid with the txn's buffered writes. Results as client_get /
 * client_batch_get / client_scan (user keys; BS_NOTFOUND for a missing key of a get; a
 * get also reports the value's expiry in res->expire_ms); req->keyspace / keyspace name
 * the keyspace, so one txn may span RESP databases.
 * Failures: BS_ESTATE (the txn is committing or done), the client's errors. */
void client_txn_get(client_txn *txn, uint32_t keyspace, bs_slice key, client_done_fn done,
                    void *arg);
void client_txn_batch_get(client_txn *txn, uint32_t keyspace, const bs_slice *keys, size_t n,
                          client_done_fn done, void *arg);
void client_txn_scan(client_txn *txn, const client_scan_req *req, client_done_fn done,
                     void *arg);

/* Buffered writes (synchronous; nothing reaches the store before commit). A later write of
 * a key replaces an earlier one. expire_ms: absolute Unix ms of common/clock.h's wall
 * clock (now + TTL), 0 = none. BS_OK, BS_EINVAL (keyspace out of range), BS_ESTATE (the txn
 * is committing or done). */
int client_txn_put(client_txn *txn, uint32_t keyspace, bs_slice key, bs_slice value,
                   uint64_t expire_ms, bs_err *err);
int client_txn_delete(client_txn *txn, uint32_t keyspace, bs_slice key, bs_err *err);
/* Makes key join the prewrite as a Lock mutation if the txn writes anything, as a read in
 * serializable mode does. Same returns. */
int client_txn_lock_key(client_txn *txn, uint32_t keyspace, bs_slice key, bs_err *err);

/* What WATCH saw of a key. */
typedef struct client_watch {
    uint64_t ts; /* commit ts of the key's newest version (deleted or expired ones
                  * included); 0 = the key never had one */
    bool live;   /* the key had a live value */
} client_watch;

/* Called once: BS_OK with *w, or the read's error (msg). */
typedef void (*client_watch_fn)(void *arg, int code, const client_watch *w, const char *msg);
/* WATCH: reads key's newest version at a fresh TSO ts (resolving locks as a read does). */
void client_watch_get(client_txns *t, uint32_t keyspace, bs_slice key, client_watch_fn done,
                      void *arg);
/* Adds a watch assertion: the commit fails with CLIENT_TXN_ERR_WATCH if key has a version
 * newer than w->ts, or w->live and the key is no longer live. Same returns as put. */
int client_txn_watch(client_txn *txn, uint32_t keyspace, bs_slice key, const client_watch *w,
                     bs_err *err);

/* ---- commit --------------------------------------------------------------------------- */

typedef enum client_txn_error {
    CLIENT_TXN_OK = 0,
    CLIENT_TXN_ERR_CONFLICT, /* a write conflict, or the txn was rolled back by another's
                              * lock resolution: nothing was committed; run the txn again
                              * with a fresh start_ts (Redis never fails EXEC for this) */
    CLIENT_TXN_ERR_WATCH,    /* a watched key changed: nothing was committed (EXEC: nil) */
    CLIENT_TXN_ERR_UNKNOWN,  /* the outcome is unknown (a one-phase commit or the primary's
                              * commit was dropped and could not be confirmed): do not
                              * re-run blindly */
    CLIENT_TXN_ERR_FAILED,   /* any other failure: nothing was committed (code, msg) */
} client_txn_error;

typedef struct client_txn_result {
    int code;                /* BS_OK iff error == CLIENT_TXN_OK */
    client_txn_error error;
    uint64_t commit_ts;      /* committed: its ts; 0 when nothing had to be written */
    bool one_pc;             /* committed in one phase */
    char msg[BS_ERR_MSG_MAX]; /* "" when ok */
} client_txn_result;

typedef void (*client_txn_commit_fn)(void *arg, const client_txn_result *res);
/* Commits txn's buffered writes (with its Lock mutations and watch assertions). On
 * failure every lock the txn left is rolled back before done is called (except with
 * CLIENT_TXN_ERR_UNKNOWN). After this call txn accepts only client_txn_free, and that
 * only once done has been called. */
void client_txn_commit(client_txn *txn, client_txn_commit_fn done, void *arg);

/* ---- observability ------------------------------------------------------------------------ */

typedef struct client_txns_stats {
    uint64_t tso_requests, tso_batches;  /* timestamps handed out; PD calls made for them */
    uint64_t begun, committed, one_pc;   /* txns started, committed (one_pc of them) */
    uint64_t conflicts, watch_failures, failures; /* commits failed, by kind */
    uint64_t locks_resolved;             /* locks committed or rolled back by the resolver */
    uint64_t commit_ts_renewed;          /* fresh commit_ts after CommitTsExpired (a reader
                                          * pushed the primary past the first one) */
    uint64_t gc_safe_point;              /* the last safe point registered with PD (0: none) */
    size_t running;                      /* txns begun and not freed */
} client_txns_stats;

void client_txns_stats_get(client_txns *t, client_txns_stats *out);

#endif
