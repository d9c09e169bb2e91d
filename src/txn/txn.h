/* txn.h -- the store-side RawKV (API v2) layer: raw reads, raw writes, compare-and-swap,
 * the closed set of single-key read-modify-writes the RESP front end needs, latches, the
 * concurrency manager, the causal timestamp source and MVCC garbage collection.
 *
 * Nothing here knows about Raft or the network. A write command runs in three steps:
 *   1. take the latches of its keys (callback-based: a command that must wait is queued on
 *      the first busy slot and resumed by whoever releases it, so no thread ever blocks);
 *   2. read (a snapshot of the engine, or the pending value of a key whose previous write
 *      is proposed but not yet applied), pick a timestamp, and build a kv_batch -- once no
 *      Percolator lock sits on its keys ("Percolator locks on the raw path");
 *   3. hand the batch to the PROPOSER supplied by the caller (the raftstore proposes it
 *      through the Region's Raft group; tests write it to the engine) and release the
 *      latches. The key stays in the in-memory lock table until the proposer reports the
 *      batch applied (or failed); only then does the command's callback run.
 *
 * Keys are API v2 keys exactly as clients send them: 'r' ‖ keyspace[3] ‖ user key
 * (PROTOCOL.md §4.2); results carry the same full keys. Values on disk are RawKV v2 values
 * with millisecond expiry (kv.h, flag 0x04). Expired and deleted versions are never
 * returned; "now" is bs_clock_wall_ms(), so tests can move time.
 *
 * Errors: functions return BS_OK or a bs_err code (common/err.h) and describe failures in a
 * txn_error, which also carries the exact text a front end replies with (TiKV's
 * RawXxxResponse.error, or Redis's error text for read-modify-writes).
 *
 * Thread affinity: a txn_store and everything it owns may be used from any thread at once
 * (the network threads issue commands; the apply thread reports applies). Callbacks run on
 * whichever thread completes the command: the caller's (before the call returns), the
 * thread releasing a latch, the proposer's completion thread, or the timer's
 * (txn_store_set_timer). Callbacks must not block. */
#ifndef BASALT_TXN_TXN_H
#define BASALT_TXN_TXN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "storage/kv.h"

/* ======================================================================================
 * Errors
 * ==================================================================================== */

typedef enum txn_error_kind {
    TXN_ERR_NONE = 0,
    TXN_ERR_INVALID_KEY_MODE,   /* "invalid key mode" (key not 'r' ‖ ks ‖ …) */
    TXN_ERR_INVALID_ARGUMENT,   /* malformed request (ttls length, bad range, options) */
    TXN_ERR_KEY_BEING_WRITTEN,  /* a write at ts <= read ts is not applied yet: retry */
    TXN_ERR_TS_NOT_READY,       /* causal ts not synced after leader change, or exhausted */
    TXN_ERR_NOT_INTEGER,        /* "value is not an integer or out of range" */
    TXN_ERR_OVERFLOW,           /* "increment or decrement would overflow" */
    TXN_ERR_NOT_FLOAT,          /* "value is not a valid float" */
    TXN_ERR_NAN_OR_INF,         /* "increment would produce NaN or Infinity" */
    TXN_ERR_STRING_TOO_LONG,    /* "string exceeds maximum allowed size (proto-max-bulk-len)" */
    TXN_ERR_SYNTAX,             /* "syntax error" (incompatible option flags) */
    TXN_ERR_PROPOSAL_FAILED,    /* the proposer failed (not leader, dropped) */
    TXN_ERR_CHAIN_BROKEN,       /* a write this one read from failed to apply; code is that
                                 * write's failure code (see "Chained writes" below) */
    TXN_ERR_STORAGE,            /* engine I/O or corrupt data */
    TXN_ERR_KEY_IS_LOCKED,      /* "key is locked by a transaction": BS_EBUSY, a live MULTI/EXEC
                                 * txn holds a Percolator lock on the key; nothing was done,
                                 * retry after a backoff (ServerIsBusy) */
} txn_error_kind;

typedef struct txn_error {
    int code;            /* BS_OK or a BS_E* code */
    txn_error_kind kind; /* TXN_ERR_NONE when code == BS_OK */
    char msg[BS_ERR_MSG_MAX]; /* the reply text: Redis's text for the Redis kinds (without
                               * "ERR "), TiKV-style text otherwise; "" when ok */
} txn_error;

/* Resets *e to ok. e may be NULL. */
void txn_error_clear(txn_error *e);
/* Sets *e (when non-NULL) to code/kind with the kind's canonical text (the Redis string for
 * the Redis kinds), or with detail when detail is a non-empty C string. Returns code. */
int txn_error_set(txn_error *e, int code, txn_error_kind kind, const char *detail);
/* The canonical text of a kind; static, borrowed. */
const char *txn_error_kind_text(txn_error_kind kind);

/* ======================================================================================
 * CRC-64/XZ (checksum.c) -- RawChecksum's Crc64_Xor digest of one pair
 * ==================================================================================== */

/* Continues a CRC-64/XZ (ECMA-182 polynomial, reflected, init and xorout all ones) over
 * data. Start with crc = 0; txn_crc64(0, "123456789") == 0x995DC9BBDF1939FA. Pure. */
uint64_t txn_crc64(uint64_t crc, bs_slice data);

/* ======================================================================================
 * Causal timestamp source (causal_ts.c)
 * ==================================================================================== */

/* Called by the provider when a batch fetch finishes: code BS_OK with last_ts = the
 * highest of `count` consecutive TSOs reserved for the caller ([last_ts-count+1, last_ts]),
 * or an error code. May be called on any thread, also before fetch returns. */
typedef void (*txn_tso_done_fn)(void *done_arg, int code, uint64_t last_ts);
/* The TSO provider (PD's TSO in the server): reserve `count` timestamps and report through
 * done(done_arg, ...) exactly once. Must not block the calling thread on the network. */
typedef void (*txn_tso_fetch_fn)(void *arg, uint32_t count, txn_tso_done_fn done,
                                 void *done_arg);

typedef struct txn_causal_ts txn_causal_ts;

/* Prefetch sizing (causal_ts.c): a prefetch doubles when the previous one's half batch
 * lasted less than GROW_MS, never above MAX_BATCH (PD hands out fewer than 2^18 TSOs per
 * call); a batch older than RENEW_MS is renewed on its next use at half the size, never
 * below the configured batch. */
#define TXN_CAUSAL_TS_MAX_BATCH (1u << 17)
#define TXN_CAUSAL_TS_GROW_MS 1000
#define TXN_CAUSAL_TS_RENEW_MS 3000

/* Creates a source that prefetches at least `batch` (>= 1) TSOs at a time from
 * fetch(arg, ...), more as the write rate asks (above), and starts a first fetch of
 * `batch`. arg is borrowed and must outlive the source. Caller owns; free with
 * txn_causal_ts_free() once no fetch is in flight (the provider has called back). */
txn_causal_ts *txn_causal_ts_new(txn_tso_fetch_fn fetch, void *arg, uint32_t batch);
void txn_causal_ts_free(txn_causal_ts *c); /* c may be NULL */

/* Takes the next timestamp, strictly above every timestamp taken or observed before.
 * Returns BS_OK with *ts, or BS_EBUSY when no batch is available (a fetch is in flight or
 * failed; one is started) or the source is being flushed (not synced after a leader
 * change): the write is retried later. Prefetches when the batch runs low. Any thread. */
int txn_causal_ts_get(txn_causal_ts *c, uint64_t *ts);
/* Records that ts was used (e.g. a write took a ts above the batch because of max_ts), so
 * later txn_causal_ts_get() results are above it. Any thread. */
void txn_causal_ts_observe(txn_causal_ts *c, uint64_t ts);
/* Discards the current batch and fetches a fresh one; until it arrives, get returns
 * BS_EBUSY. Call when a peer becomes leader (TiKV flushes its causal ts provider then).
 * The fresh batch has the configured size `batch`.
 * done (may be NULL) is called once with the fetch's code and the new batch's last ts, so
 * the caller can raise max_ts to it. Any thread. */
void txn_causal_ts_flush(txn_causal_ts *c, txn_tso_done_fn done, void *done_arg);

/* ======================================================================================
 * Latches (latches.c)
 * ==================================================================================== */

typedef struct txn_latches txn_latches;

/* Called when a waiting txn_latch_lock has acquired every slot; runs on the thread that
 * released the last blocking slot. */
typedef void (*txn_latch_ready_fn)(void *arg);

/* The latch request of one command: the sorted, de-duplicated slot indices of its keys.
 * Caller-allocated; txn_latch_lock_init()/deinit(). One command, one lock; not shared. */
typedef struct txn_latch_lock {
    uint32_t *slots;     /* owned; sorted ascending, unique */
    size_t n_slots;
    size_t owned;        /* Invariant: owned <= n_slots; slots[0..owned) are held */
    struct txn_latch_waiter *nodes; /* owned; one queue node per slot */
    txn_latch_ready_fn ready;
    void *ready_arg;
} txn_latch_lock;

/* Creates a latch table of at least `slots` slots (rounded up to a power of two, minimum
 * 16). Caller owns; txn_latches_free(). Thread-safe. */
txn_latches *txn_latches_new(size_t slots);
void txn_latches_free(txn_latches *l); /* l may be NULL; no lock may be held or waiting */

/* Fills *lk with the slots of keys (borrowed for the call). ready/ready_arg are called when
 * a queued acquisition completes. */
void txn_latch_lock_init(txn_latch_lock *lk, const txn_latches *l, const bs_slice *keys,
                         size_t n_keys, txn_latch_ready_fn ready, void *ready_arg);
void txn_latch_lock_deinit(txn_latch_lock *lk); /* lk must not hold or wait */

/* Tries to take every slot of lk in ascending order (so two commands never wait on each
 * other in a cycle). Returns true when all are held. Otherwise lk is queued on the first
 * busy slot, false is returned, and lk->ready(ready_arg) will be called when it holds them
 * all (the releaser's thread calls it; the caller must not call acquire again). */
bool txn_latches_acquire(txn_latches *l, txn_latch_lock *lk);
/* Releases every slot lk holds (all of them: call only after acquisition completed) and
 * resumes waiters that were next in line; their ready callbacks may run before this
 * returns, on this thread. */
void txn_latches_release(txn_latches *l, txn_latch_lock *lk);

/* ======================================================================================
 * Concurrency manager (concurrency_manager.c): max_ts and the in-memory lock table
 * ==================================================================================== */

typedef struct txn_cm txn_cm;

/* Creates an empty manager with max_ts 0. Caller owns; txn_cm_free(). Thread-safe. */
txn_cm *txn_cm_new(void);
void txn_cm_free(txn_cm *cm); /* cm may be NULL; the table must be empty */

uint64_t txn_cm_max_ts(const txn_cm *cm);
/* Raises max_ts to at least ts (atomic max). Every read at ts calls this first. */
void txn_cm_update_max_ts(txn_cm *cm, uint64_t ts);

/* Checks the lock table for key (API v2 key, borrowed) on behalf of a read at read_ts:
 * BS_OK when no write at a ts <= read_ts (or whose ts is still being chosen) is pending,
 * else BS_EBUSY ("key is being written"; retry after the apply, see txn_cm_wait_key). */
int txn_cm_check_read(txn_cm *cm, bs_slice key, uint64_t read_ts);
/* The same for every key in [start, end) (end empty = unbounded). Linear in the table. */
int txn_cm_check_range(txn_cm *cm, bs_slice start, bs_slice end, uint64_t read_ts);
/* Calls cb(arg) once key has no pending write (immediately, on this thread, if it has none
 * now; otherwise on the thread that completes the last pending write). */
void txn_cm_wait_key(txn_cm *cm, bs_slice key, void (*cb)(void *arg), void *arg);
/* Number of keys in the lock table (tests, metrics). */
size_t txn_cm_table_size(txn_cm *cm);

/* ======================================================================================
 * The store: commands over an engine, a proposer and a causal ts source (command.c)
 * ==================================================================================== */

/* Called by the proposer exactly once per accepted proposal: code BS_OK once the batch has
 * been applied to the engine (visible to snapshots taken afterwards), or an error (e.g.
 * BS_ENOT_LEADER, BS_EPROPOSAL_DROPPED) when it never will be; err (may be NULL) is
 * borrowed for the call. Any thread; must be called without holding the proposer's locks
 * that a new proposal would take (the callback may propose again). */
typedef void (*txn_proposal_done_fn)(void *done_arg, int code, const bs_err *err);

/* The proposer. Contract:
 *  - On BS_OK it takes ownership of batch and will call done(done_arg, …) exactly once.
 *  - On any other return, nothing was proposed, the caller keeps the batch, done is never
 *    called, and err describes why.
 *  - Batches accepted in a sequence are applied in that order (Raft log order), and when
 *    one fails every batch accepted after it fails too (for lost leadership, the Raft log
 *    matching property gives this). Read-modify-write chaining relies on both.
 *  - It may call done for the batch being proposed before returning (a synchronous
 *    proposer); done of any other batch is called on another thread, without holding a
 *    lock that propose takes (the failure of a batch may wait, inside done, for a propose
 *    call in progress on another thread: see txn_cm_pending_fail in txn_int.h). It must
 *    not block on disk or on the network on the caller's thread. */
typedef int (*txn_propose_fn)(void *arg, kv_batch *batch, txn_proposal_done_fn done,
                              void *done_arg, bs_err *err);

/* A txn_propose_fn over a local store (cluster_proposer.c): arg is the cluster_store
 * (borrowed; outlives the txn store). Routes the batch to the Region of its first key, at
 * that Region's current epoch, through cluster_store_propose; region errors come back as
 * their codes with err's text. Thread affinity: any thread; done runs on the raftstore
 * thread. */
int txn_cluster_propose(void *arg, kv_batch *batch, txn_proposal_done_fn done, void *done_arg,
                        bs_err *err);

/* Called exactly once per txn_after_fn request: cancelled = false about `ms` after the
 * request, true when the timer stops first (its owner shuts down: the waiting command then
 * answers at once, without proposing). Must not block. */
typedef void (*txn_timer_fn)(void *fn_arg, bool cancelled);
/* The owner's timer (the server's worker loop; tests fire it by hand): calls fn(fn_arg, …)
 * once as above, on any thread, never before returning. Every pending fn must have been
 * called (cancelled, if need be) before the proposer goes away. Must not block. */
typedef void (*txn_after_fn)(void *arg, uint64_t ms, txn_timer_fn fn, void *fn_arg);

#define TXN_LOCK_WAIT_MS_DEFAULT 200 /* a raw write's wait for a live transaction's lock */

typedef struct txn_store_config {
    kv_engine *engine;       /* borrowed; outlives the store */
    txn_causal_ts *causal_ts; /* borrowed; outlives the store */
    txn_propose_fn propose;
    void *propose_arg;       /* borrowed */
    size_t latch_slots;      /* 0 = 2048 (TiKV's default scheduler concurrency) */
} txn_store_config;

typedef struct txn_store txn_store;

/* Creates a store (its own latches and concurrency manager). cfg is copied. Caller owns;
 * txn_store_free() once every command's callback has run (which includes the lock
 * resolutions raw reads start by themselves: they end once the proposer has answered every
 * batch). */
txn_store *txn_store_new(const txn_store_config *cfg);
void txn_store_free(txn_store *s); /* s may be NULL */
/* Gives s a timer, so that a raw write meeting the lock of a live transaction re-checks it
 * after growing delays for up to lock_wait_ms in total (0 = TXN_LOCK_WAIT_MS_DEFAULT)
 * instead of failing at once (see "Percolator locks on the raw path"). after_arg is
 * borrowed. Call before the first command; without it, writes do not wait. */
void txn_store_set_timer(txn_store *s, txn_after_fn after, void *after_arg,
                         uint64_t lock_wait_ms);
/* Lets raw puts and deletes of s skip the read of each key's newest version and take
 * their ts from the causal ts source alone (command.c, "Blind writes"). Turn it on only
 * when every version the engine can hold was written at a ts the source has handed out or
 * observed, or at most 2 above a TSO that PD issued before the source's current batch:
 * true of a standalone store (one store leads every Region, and a Region's writes wait for
 * the causal ts sync of its leadership). Call before the first command; off by default. */
void txn_store_set_blind_writes(txn_store *s, bool on);
bool txn_store_blind_writes(const txn_store *s);
txn_cm *txn_store_cm(txn_store *s);           /* borrowed; lives as long as s */

txn_latches *txn_store_latches(txn_store *s); /* borrowed */
kv_engine *txn_store_engine(txn_store *s);     /* borrowed: the configured engine */

/* Safe ts of the keys [start, end) of store s (API v2 keys, borrowed; end empty =
 * unbounded), for stale reads (safe_ts.c): a timestamp at or below which no new version can
 * appear there. fresh_ts must be a timestamp PD has issued (a TSO taken now). The bound is
 * the next ts of the causal source (consumed; fresh_ts when lower or when the source lags
 * it by over a second): max_ts is raised to it, so every raw write and one-phase commit
 * chosen afterwards lands above it without leaving its causal batch, and a two-phase
 * commit not yet prewritten gets a commit_ts from PD above it. *out is then that bound,
 * capped below the ts of every write pending in the in-memory lock table and the start_ts
 * of every Percolator lock in range. Returns BS_OK; BS_EBUSY when a write in range is still
 * choosing its ts, or the causal source has no ts to give (ask again, keep the previous
 * answer); or a storage error (err set). Any thread. */
int txn_store_safe_ts(txn_store *s, uint64_t fresh_ts, bs_slice start, bs_slice end, uint64_t *out,
                      bs_err *err);

/* ---- results -------------------------------------------------------------------------- */

typedef struct txn_pair {
    bs_buf key;   /* full API v2 key */
    bs_buf value; /* user value (empty for key-only scans) */
} txn_pair;

typedef struct txn_pairs {
    txn_pair *v; /* owned */
    size_t n, cap;
} txn_pairs;

void txn_pairs_init(txn_pairs *p);
void txn_pairs_free(txn_pairs *p); /* frees every pair; re-initialises; p may be NULL */

/* What a read-modify-write did (see txn_rmw_op for which fields each op sets). */
typedef struct txn_rmw_result {
    bool applied;       /* SET, SETNX, EXPIRE, PERSIST: the condition held and it was done */
    bool old_exists;    /* the key was live before */
    bs_buf old_value;   /* its value (GET-style ops, SET with GET, GETSET, GETDEL, GETEX) */
    int64_t integer;    /* INCRBY: new value; APPEND/SETRANGE: new length */
    bs_buf new_value;   /* INCRBYFLOAT: the formatted new value */
} txn_rmw_result;

/* The outcome of a write command, borrowed by the callback for its duration. */
typedef struct txn_result {
    int code;        /* BS_OK, or the failure (error says which) */
    txn_error error;
    uint64_t ts;     /* the version's timestamp when something was written, else 0 */
    /* compare-and-swap */
    bool succeed;
    bool previous_not_exist;
    bs_buf previous_value;
    /* read-modify-write */
    txn_rmw_result rmw;
} txn_result;

/* Called exactly once per write command with its result (borrowed for the call). */
typedef void (*txn_done_fn)(void *arg, const txn_result *res);

/* ---- Percolator locks on the raw path (raw_lock.c) ------------------------------------- */

/* MULTI/EXEC prewrites RawKV keys (CF lock, see the Percolator section below). A raw read
 * or write of a locked key must neither read past the lock (the txn may have committed its
 * primary and replied already) nor write under it (the txn read or will overwrite the key),
 * so every raw command first looks up the key's lock -- one point read of CF lock, a range
 * read for scans; nothing more when there is none:
 *   - reads are blocked by Put and Delete locks (Lock-type locks change no value), writes
 *     by every lock (a Lock mutation is an EXEC's read: writing under it would break the
 *     EXEC's serializability);
 *   - the store then resolves the lock as a lock resolver does: CheckTxnStatus on the
 *     lock's primary with current_ts from the causal ts source (rollback_if_not_exist once
 *     the lock's TTL has run out); a committed txn is rolled forward (this key committed at
 *     the primary's commit_ts), a rolled back or expired one rolled back (ResolveLock of
 *     this key);
 *   - a write command runs again once the lock is gone. While the owner is alive it waits:
 *     re-checks after 2, 4, 8, ... ms (on the timer of txn_store_set_timer; without one it
 *     does not wait) until lock_wait_ms of waits are spent, then fails with BS_EBUSY /
 *     TXN_ERR_KEY_IS_LOCKED, for the client to treat as ServerIsBusy (back off, retry).
 *     Nothing was written. Multi-key commands (txn_raw_multi) do the same;
 *   - a read never waits (reads are synchronous, on network threads): it starts the
 *     resolution (at most one per key at a time; its outcome is only its effect) and fails
 *     at once with BS_EBUSY / TXN_ERR_KEY_IS_LOCKED, so the client's backoff is its wait.
 * RawDeleteRange ignores locks, as it ignores latches. */

/* ---- reads (synchronous: a point read or a bounded scan; fine on a network thread) ---- */

/* Every read takes read_ts: when non-zero it first raises max_ts to read_ts, then fails
 * with BS_EBUSY (kind TXN_ERR_KEY_BEING_WRITTEN) if a write at a ts <= read_ts is pending
 * on a key it would read; the caller retries after txn_cm_wait_key(). read_ts 0 reads the
 * latest applied state without consulting the lock table.
 * A key with a Put or Delete Percolator lock fails the read with BS_EBUSY (kind
 * TXN_ERR_KEY_IS_LOCKED) after starting its resolution: retry after a backoff. A scan
 * honours the locks of the span it covered (up to its last key when the limit cut it).
 * Common returns: BS_EINVAL (kind TXN_ERR_INVALID_KEY_MODE) for a key outside RawKV v2,
 * BS_EIO / BS_ECORRUPT (TXN_ERR_STORAGE). */

/* RawGet: BS_OK with the user value replacing *value (caller owns), or BS_NOTFOUND when the
 * key is absent, deleted or expired. */
int txn_raw_get(txn_store *s, bs_slice key, uint64_t read_ts, bs_buf *value, txn_error *e);

/* RawBatchGet: appends the live keys to *out in request order (missing keys omitted).
 * keys borrowed. */
int txn_raw_batch_get(txn_store *s, const bs_slice *keys, size_t n, uint64_t read_ts,
                      txn_pairs *out, txn_error *e);

typedef struct txn_scan_req {
    /* As RawScanRequest: forward covers [start, end); reverse covers [end, start) in
     * descending order. An empty bound is unbounded (the end of RawKV's 'r' range). */
    bs_slice start, end;
    uint32_t limit; /* 0 = no limit */
    bool key_only;
    bool reverse;
    uint64_t read_ts;
} txn_scan_req;

/* RawScan: appends the newest live version of each key in range to *out (caller owns). */
int txn_raw_scan(txn_store *s, const txn_scan_req *req, txn_pairs *out, txn_error *e);

/* RawGetKeyTTL: BS_OK with the remaining milliseconds (0 = no TTL), or BS_NOTFOUND when
 * the key is absent, deleted or expired. */
int txn_raw_get_key_ttl(txn_store *s, bs_slice key, uint64_t read_ts, uint64_t *ttl_ms,
                        txn_error *e);
/* The same, also giving the absolute expiry as stored (Unix ms; 0 = no TTL) in *expire_ms;
 * both come from one read of the clock. ttl_ms may be NULL. */
int txn_raw_get_key_expiry(txn_store *s, bs_slice key, uint64_t read_ts, uint64_t *expire_ms,
                           uint64_t *ttl_ms, txn_error *e);

typedef struct txn_checksum {
    uint64_t checksum;    /* XOR of crc64(key ‖ value) over the live pairs */
    uint64_t total_kvs;
    uint64_t total_bytes; /* Σ key length + value length */
} txn_checksum;

/* RawChecksum (Crc64_Xor) over the ranges [start, end) (ranges[i] as a txn_scan_req's
 * forward bounds; only start/end are read). */
int txn_raw_checksum(txn_store *s, const txn_scan_req *ranges, size_t n, uint64_t read_ts,
                     txn_checksum *out, txn_error *e);

/* ---- writes (asynchronous; cb is called exactly once, maybe before return) ------------- */

/* Every write command copies what it needs from its arguments (borrowed for the call).
 * Validation failures are reported through cb too (before the call returns). A locked key
 * is resolved first, or waited for ("Percolator locks on the raw path"); failures of that
 * step: BS_EBUSY / TXN_ERR_KEY_IS_LOCKED, BS_EBUSY / TXN_ERR_TS_NOT_READY, or the code of
 * the resolving command's proposal with TXN_ERR_PROPOSAL_FAILED; nothing was written. */

/* RawPut: writes value with expiry now + ttl_ms (ttl_ms 0 = none) at a new ts. */
void txn_raw_put(txn_store *s, bs_slice key, bs_slice value, uint64_t ttl_ms, txn_done_fn cb,
                 void *arg);

typedef struct txn_kv {
    bs_slice key, value;
} txn_kv;

/* RawBatchPut: n pairs at one ts; ttls_ms has 0 entries (no TTL), 1 (for all) or n.
 * Another length fails with BS_EINVAL / TXN_ERR_INVALID_ARGUMENT. */
void txn_raw_batch_put(txn_store *s, const txn_kv *pairs, size_t n, const uint64_t *ttls_ms,
                       size_t n_ttls, txn_done_fn cb, void *arg);

/* RawDelete: writes the deleted marker at a new ts (also for an absent key, as TiKV). */
void txn_raw_delete(txn_store *s, bs_slice key, txn_done_fn cb, void *arg);
void txn_raw_batch_delete(txn_store *s, const bs_slice *keys, size_t n, txn_done_fn cb,
                          void *arg);

/* RawDeleteRange: physically deletes every version of every key in [start, end) (end
 * empty = the end of RawKV's 'r' range). Takes no latches, as TiKV's. */
void txn_raw_delete_range(txn_store *s, bs_slice start, bs_slice end, txn_done_fn cb,
                          void *arg);

typedef struct txn_cas_req {
    bs_slice key;
    bool previous_not_exist; /* expect the key absent … */
    bs_slice previous_value; /* … or live with exactly this value */
    bool delete_;            /* on success delete the key instead of writing value */
    bs_slice value;
    uint64_t ttl_ms;         /* 0 = none */
} txn_cas_req;

/* RawCAS under the key's latch: res->succeed, previous_not_exist and previous_value report
 * the value before (always), as PROTOCOL.md §2.2 says. */
void txn_raw_cas(txn_store *s, const txn_cas_req *req, txn_done_fn cb, void *arg);

/* ---- single-key read-modify-write (rmw.c) ----------------------------------------------- */

typedef enum txn_rmw_op {
    TXN_RMW_INCRBY,      /* incr; integer = new value; TTL kept */
    TXN_RMW_INCRBYFLOAT, /* arg = increment text; new_value = formatted result; TTL kept */
    TXN_RMW_APPEND,      /* arg appended; integer = new length; TTL kept */
    TXN_RMW_SETRANGE,    /* arg written at offset (zero padding); integer = new length */
    TXN_RMW_GETSET,      /* old_value; sets arg, clears TTL */
    TXN_RMW_GETDEL,      /* old_value; deletes */
    TXN_RMW_GETEX,       /* old_value; expire_at_ms set (has_expire) or PERSIST flag */
    TXN_RMW_SETNX,       /* applied = set because absent */
    TXN_RMW_SET,         /* flags TXN_SET_*; has_expire/expire_at_ms; applied; old_value */
    TXN_RMW_EXPIRE,      /* absolute expire_at_ms with TXN_EXPIRE_* flags; applied */
    TXN_RMW_PERSIST,     /* applied = a TTL was removed */
} txn_rmw_op;

#define TXN_SET_NX 0x01u
#define TXN_SET_XX 0x02u
#define TXN_SET_GET 0x04u
#define TXN_SET_KEEPTTL 0x08u
#define TXN_EXPIRE_NX 0x10u
#define TXN_EXPIRE_XX 0x20u
#define TXN_EXPIRE_GT 0x40u
#define TXN_EXPIRE_LT 0x80u
#define TXN_GETEX_PERSIST 0x100u

#define TXN_PROTO_MAX_BULK_LEN (512ull * 1024 * 1024) /* Redis's proto-max-bulk-len */

typedef struct txn_rmw_params {
    txn_rmw_op op;
    int64_t incr;         /* INCRBY */
    bs_slice arg;         /* INCRBYFLOAT increment, APPEND/SETRANGE/GETSET/SETNX/SET value */
    uint64_t offset;      /* SETRANGE */
    unsigned flags;       /* TXN_SET_* / TXN_EXPIRE_* / TXN_GETEX_PERSIST */
    bool has_expire;      /* SET, GETEX, EXPIRE: expire_at_ms is given */
    int64_t expire_at_ms; /* absolute Unix ms; <= now means "already expired": delete */
} txn_rmw_params;

/* Executes p on key under the key's latch. When an earlier write of key is proposed but not
 * applied, the operation reads that pending value and proposes right after it (chaining);
 * if the earlier write fails, this one fails with TXN_ERR_CHAIN_BROKEN. Outcomes that
 * write nothing are reported once every pending write they read from has applied.
 *
 * Chained writes (every raw write command chains, not only read-modify-writes): when the
 * write this one read from (or was ordered behind) fails with code X, this one fails with
 * kind TXN_ERR_CHAIN_BROKEN and code X, whatever state it was in:
 *   - not yet handed to the proposer (still choosing its ts, or writing nothing): it never
 *     will be;
 *   - proposed: it was accepted after the failed write, so the proposer fails it too (its
 *     own later outcome is not reported again), and it fails for X's reason: X = a region
 *     error (BS_ENOT_LEADER, BS_ESTATE, BS_NOTFOUND, BS_ERANGE, BS_EBUSY) means the failed
 *     write was refused or skipped and never applied, and neither did anything behind it
 *     in the log (an epoch change skips every later entry of the old epoch; a batch the
 *     proposer fails before Raft saw it fails everything queued behind it).
 * So a chained failure with a region error certainly did not apply and may be retried as
 * is, read-modify-writes included; BS_EPROPOSAL_DROPPED leaves its outcome unknown, as for
 * the failed write itself. */
void txn_raw_rmw(txn_store *s, bs_slice key, const txn_rmw_params *p, txn_done_fn cb,
                 void *arg);

/* ---- multi-key operations (multi.c) ------------------------------------------------------ */

/* The multi-key commands Redis makes atomic, run on ONE store as one command: the latches
 * of all keys are taken together (sorted slots: no deadlock), the command waits (holding
 * them, without blocking a thread) until no key has a pending unapplied write, reads every
 * key from one engine snapshot, and writes its outcome as ONE batch at one ts (above the
 * causal ts, max_ts and every key's newest version), holding the written keys in the lock
 * table until the proposer reports the apply. Hence the command is atomic and
 * serializable against every other latched command on those keys, and its answer reflects
 * every write acknowledged before it started. Expired keys count as absent everywhere. A
 * key named twice is one key (DEL k k deletes once and counts 1; MSET k a k b leaves b),
 * except that EXISTS counts each occurrence, as Redis does.
 * All keys must lie in one Region when the proposer is txn_cluster_propose (the client
 * checks; a batch spanning Regions fails with KeyNotInRegion, BS_ERANGE). Outcomes that
 * write nothing (EXISTS, a refused MSETNX/RENAMENX/COPY, DEL of absent keys, RENAME k k)
 * are answered without proposing. */
typedef enum txn_multi_op {
    TXN_MULTI_MSET,     /* keys[i] = values[i], TTL cleared; applied = true */
    TXN_MULTI_MSETNX,   /* the same only if no key is live; applied says whether */
    TXN_MULTI_DEL,      /* count = distinct live keys; delete markers only for those */
    TXN_MULTI_EXISTS,   /* count = live keys, each occurrence counted; never writes */
    TXN_MULTI_RENAME,   /* keys[0] -> keys[1] keeping keys[0]'s expiry; dst overwritten;
                         * absent src: BS_NOTFOUND "no such key"; src == dst: no write */
    TXN_MULTI_RENAMENX, /* the same unless keys[1] is live (or src == dst): applied */
    TXN_MULTI_COPY,     /* keys[1] = keys[0] with its expiry unless keys[1] is live (without
                         * TXN_MULTI_REPLACE) or keys[0] is absent: applied; src == dst:
                         * BS_EINVAL "source and destination objects are the same" */
} txn_multi_op;

#define TXN_MULTI_REPLACE 0x01u /* COPY only */

typedef struct txn_multi_req {
    txn_multi_op op;
    const bs_slice *keys;   /* n API v2 keys; borrowed for the call */
    const bs_slice *values; /* MSET/MSETNX: n values (borrowed); NULL otherwise */
    size_t n;               /* >= 1; RENAME/RENAMENX/COPY: exactly 2 */
    unsigned flags;         /* TXN_MULTI_REPLACE with COPY; 0 otherwise */
} txn_multi_req;

typedef struct txn_multi_result {
    int code;        /* BS_OK, or the failure (error says which) */
    txn_error error;
    uint64_t ts;     /* the batch's ts when something was written, else 0 */
    uint64_t count;  /* DEL, EXISTS */
    bool applied;    /* MSET, RENAME: true on BS_OK; MSETNX, RENAMENX, COPY: the condition
                      * held and the write was done; DEL, EXISTS: count > 0 */
} txn_multi_result;

/* Called exactly once per multi command with its result (borrowed for the call); on the
 * caller's thread (validation, or everything when nothing is pending), the thread that
 * released a latch or completed the last pending write of a key, or the proposer's
 * completion thread. Must not block. */
typedef void (*txn_multi_done_fn)(void *arg, const txn_multi_result *res);

/* Runs req (copied: the request is borrowed for the call only). Validation failures
 * (before anything runs): BS_EINVAL with TXN_ERR_INVALID_KEY_MODE for a key outside RawKV
 * v2, TXN_ERR_INVALID_ARGUMENT for n == 0, a wrong key count, missing values or a flag the
 * op does not take, and COPY with src == dst. Later failures: BS_NOTFOUND (RENAME of an
 * absent key), BS_EBUSY / TXN_ERR_TS_NOT_READY (nothing proposed: retry), BS_EBUSY /
 * TXN_ERR_KEY_IS_LOCKED (a live txn's lock on a key, see above: retry), the proposer's
 * code with TXN_ERR_PROPOSAL_FAILED (a synchronous refusal means nothing was proposed; a
 * failure reported after acceptance, e.g. BS_EPROPOSAL_DROPPED, may leave the outcome
 * unknown), TXN_ERR_STORAGE for engine errors. Any thread. */
void txn_raw_multi(txn_store *s, const txn_multi_req *req, txn_multi_done_fn cb, void *arg);

/* ======================================================================================
 * Garbage collection (gc.c)
 * ==================================================================================== */

typedef struct txn_gc_filter {
    _Atomic uint64_t safe_point; /* the server raises it as PD's GC safe point advances */
} txn_gc_filter;

/* The compaction filter for CF default (install with arg = a txn_gc_filter that outlives
 * the engine): removes a RawKV version only when a NEWER version of the same key, with
 * ts <= safe point, was kept just before it in the same compaction; everything else
 * (including every non-raw key) is kept. Called by RocksDB's threads. */
kv_filter_decision txn_gc_compaction_filter(void *arg, kv_cf cf, int level, bs_slice key,
                                            bs_slice value);

/* A GC pass also stops (between two keys) once it read limit * TXN_GC_READS_PER_DELETE
 * versions, so a pass over a store with little garbage stays short: the worker running it
 * serves TSO fetches between passes. */
#define TXN_GC_READS_PER_DELETE 4

/* One bounded GC pass over RawKV keys from *cursor (empty = the start): returns in *out a
 * new batch (caller owns; propose it through Raft) of deletes for
 *   - every version of a key whose newest version is deleted or expired at now_ms and has
 *     ts <= safe_point;
 *   - every version with ts <= safe_point shadowed by a newer version with ts <= safe_point.
 * Stops after about `limit` deletes or limit * TXN_GC_READS_PER_DELETE versions read (0 = no
 * limit; a key's versions are never split) and sets *cursor (opaque bytes, caller owns) to
 * where the next pass resumes, or empties it when this pass reached the end. Reads through a snapshot of e. Returns BS_OK, or
 * BS_EIO / BS_ECORRUPT with err set (then *out is untouched). Any thread. */
int txn_gc_pass(kv_engine *e, uint64_t safe_point, uint64_t now_ms, size_t limit,
                bs_buf *cursor, kv_batch **out, bs_err *err);

/* ---- GC of Percolator records (gc_lock.c, gc_write.c) ---------------------------------
 * TiKV's order: first every lock with start_ts <= safe point is resolved (its txn's fate
 * read from its primary), and only then are records below the safe point removed. Removing
 * a primary's commit record while a secondary of that txn is still locked would make the
 * next resolver of the secondary find "no record" and roll back a committed txn. */

struct txn_lock_infos; /* the Percolator section below */

/* Appends to *out (caller owns) the locks of both layouts with start_ts <= safe_point in
 * CF lock from *cursor (an API v2 key, inclusive; empty = the start), at most limit of them
 * (0 = no limit), in key order. Sets *cursor (caller owns) to the first such lock left
 * over, or empties it when the scan reached the end. Reads a snapshot of e. BS_OK, or
 * BS_EIO / BS_ECORRUPT with err set (*cursor emptied; *out keeps what was appended). */
int txn_gc_scan_locks(kv_engine *e, uint64_t safe_point, size_t limit, bs_buf *cursor,
                      struct txn_lock_infos *out, bs_err *err);

/* Called once by txn_gc_resolve_locks: code BS_OK when every lock was resolved (resolved =
 * keys committed or rolled back, primaries included), else the first failure with msg (a
 * C string, borrowed for the call); locks after a failure were not tried. */
typedef void (*txn_gc_resolve_done_fn)(void *arg, int code, size_t resolved, const char *msg);

/* Resolves locks (copied; any order) as a GC worker does (client-go's BatchResolveLocks):
 * per txn (start_ts, primary), CheckTxnStatus on the primary with current_ts UINT64_MAX
 * (every lock counts as expired: nothing below the safe point may still be running) and
 * rollback_if_not_exist, then ResolveLock of each other key, one command per key (keys may
 * lie in different Regions), committing at the txn's commit ts or rolling back. A primary
 * that stays locked (an async-commit lock) fails with BS_EBUSY; a command's failure
 * (region error, engine error, a key error) ends the run with its code. Every step is a
 * txn command through s's proposer: done(arg, ...) runs once, maybe before returning, else
 * on the thread completing the last command; s must outlive it. Any thread. */
void txn_gc_resolve_locks(txn_store *s, const struct txn_lock_infos *locks,
                          txn_gc_resolve_done_fn done, void *arg);

/* One bounded GC pass over CF write from *cursor (opaque, caller owns; empty = the start)
 * at safe_point. Returns in *out a new batch (caller owns; propose it) of deletes:
 *   'x' keys (TiKV's gc action, per key, among records with commit_ts <= safe_point): the
 *       Rollback and Lock records newer than the newest Put/Delete; every record older than
 *       it, with the CF default value of each Put without a short value; the newest Put is
 *       kept with its value; the newest Delete goes too, but only in the pass that deletes
 *       the last record older than it (so the key's versions go together, or its newest
 *       data stays);
 *   'r' keys: every record with commit_ts <= safe_point (their values are raw versions in
 *       CF default, collected by txn_gc_pass; gc_write.c says why no request needs them).
 * Records above safe_point are never touched, nor keys of other modes. Call only once no
 * lock with start_ts <= safe_point is left (txn_gc_scan_locks / txn_gc_resolve_locks).
 * Stops after about `limit` deletes (0 = no limit), possibly inside a key, or between two
 * keys once it read limit * TXN_GC_READS_PER_DELETE records: *cursor then names that key
 * and the next pass walks it again from its newest record, so apply (or fail) this batch
 * first. *cursor is emptied when the pass reached the end. BS_OK, or
 * BS_EIO / BS_ECORRUPT with err set (*out untouched, *cursor emptied). Any thread. */
int txn_gc_write_pass(kv_engine *e, uint64_t safe_point, size_t limit, bs_buf *cursor,
                      kv_batch **out, bs_err *err);

/* ======================================================================================
 * Percolator transactions: TxnKV (mode 'x') and MULTI/EXEC over RawKV keys (mode 'r')
 *   mvcc_reader.c mvcc_txn.c key_error.c prewrite.c commit.c rollback.c
 *   check_txn_status.c check_secondary_locks.c resolve_lock.c scan_lock.c
 *   txn_heart_beat.c txn_kv.c txn_command.c
 * ==================================================================================== */

/* The store side of Percolator, with TiKV's semantics (src/storage/txn/actions/). The
 * coordinator (TSO, 2PC committer, lock resolver) lives in client/.
 *
 * Two layouts, chosen per key by its mode byte (every key of one request must share it):
 *   'x' TiKV's own: CF lock MCE(key) -> lock (values <= 255 bytes inline, longer ones in CF
 *       default at key@start_ts); commit writes CF write key@commit_ts {type, start_ts,
 *       short value}; rollback writes a Rollback record at key@start_ts.
 *   'r' RawKV keys in a transaction (DESIGN.md "Data model"): the lock carries the RawKV v2
 *       value to write (value, expiry, flags) in Basalt's 'V' lock field, of any size;
 *       commit writes that value into CF default at key@commit_ts -- exactly the version a
 *       raw write at commit_ts would leave, so raw reads see it unchanged -- plus a commit
 *       record {type, start_ts} in CF write (no value); Delete commits the deleted marker.
 *       Write conflicts also count raw versions newer than start_ts.
 *
 * Commands (txn_kv_prewrite ... txn_kv_resolve_lock) run one action per key under the
 * latches of their keys, held from the snapshot read until the proposer reports the batch
 * applied (TiKV's scheduler does the same), so two commands on one key never interleave.
 * Before reading, a command waits until no raw write of its keys is pending in the lock
 * table. Raw versions a command writes at commit_ts ('r' commits, and 1PC in both layouts)
 * sit in the lock table as pending writes until applied, so raw reads and txn reads at
 * ts >= commit_ts wait for them instead of missing them.
 *
 * max_ts (TiKV's rules): reads raise it to read_ts; CheckTxnStatus to max(lock_ts,
 * caller_start_ts, current_ts); CheckSecondaryLocks to start_ts; Cleanup to current_ts;
 * ScanLock to max_version; CheckNotExists / watch-only mutations to start_ts. A one-phase
 * commit takes commit_ts > max_ts (after linking its keys in the lock table).
 *
 * The raw path and Percolator locks: what the lock table holds for raw readers is the
 * committed data versions above (so a raw read at ts >= commit_ts waits for the apply);
 * prewritten locks themselves live only in CF lock, where raw reads and raw writes look
 * them up and resolve them ("Percolator locks on the raw path" above; DESIGN.md "the raw
 * path honours locks").
 *
 * Not served: pessimistic transactions (no PessimisticLock command; 'S' locks are handled
 * where TiKV handles them) and async commit (a prewrite never writes 'a' and answers
 * min_commit_ts 0, which makes TiKV clients fall back to 2PC, PROTOCOL.md §5.4). MVCC GC
 * of CF write (old commit and rollback records, 'x' versions) is txn_gc_write_pass's, after
 * txn_gc_resolve_locks.
 *
 * Timestamps are TSO values: physical ms << 18 | logical. Lock TTLs are ms.
 * Thread affinity: as the raw API (any thread; callbacks on the caller's thread, a latch
 * releaser's, or the proposer's completion thread; callbacks must not block). */

/* kvrpcpb.Op values; TXN_OP_CHECK_NOT_MODIFIED is Basalt's own (WATCH). */
typedef enum txn_op {
    TXN_OP_PUT = 0,
    TXN_OP_DEL = 1,
    TXN_OP_LOCK = 2,
    TXN_OP_INSERT = 4,            /* Put that fails with AlreadyExist when the key exists */
    TXN_OP_PESSIMISTIC_LOCK = 5,  /* only in lock infos ('S' locks) */
    TXN_OP_CHECK_NOT_EXISTS = 6,  /* AlreadyExist check; writes no lock */
    TXN_OP_CHECK_NOT_MODIFIED = 64, /* the watch check alone (requires watch); no lock */
} txn_op;

typedef enum txn_assertion { TXN_ASSERT_NONE = 0, TXN_ASSERT_EXIST = 1, TXN_ASSERT_NOT_EXIST = 2 } txn_assertion;
typedef enum txn_assertion_level { TXN_ASSERT_OFF = 0, TXN_ASSERT_FAST = 1, TXN_ASSERT_STRICT = 2 } txn_assertion_level;

/* kvrpcpb.LockInfo. Owned buffers; txn_lock_info_init()/deinit(). */
typedef struct txn_lock_info {
    bs_buf primary;
    bs_buf key;
    uint64_t lock_version; /* the lock's start_ts */
    uint64_t lock_ttl;     /* ms */
    uint64_t txn_size;
    txn_op lock_type;      /* PUT, DEL, LOCK or PESSIMISTIC_LOCK */
    uint64_t lock_for_update_ts;
    bool use_async_commit;
    uint64_t min_commit_ts;
} txn_lock_info;

void txn_lock_info_init(txn_lock_info *li);
void txn_lock_info_deinit(txn_lock_info *li); /* li may be NULL */
void txn_lock_info_copy(txn_lock_info *dst, const txn_lock_info *src); /* dst initialised */

typedef struct txn_lock_infos {
    txn_lock_info *v; /* owned */
    size_t n, cap;
} txn_lock_infos;

void txn_lock_infos_init(txn_lock_infos *l);
void txn_lock_infos_free(txn_lock_infos *l); /* frees every entry; re-initialises; may be NULL */
txn_lock_info *txn_lock_infos_push(txn_lock_infos *l); /* a new initialised entry (borrowed) */

/* Which kvrpcpb.KeyError field a key error fills. */
typedef enum txn_key_error_kind {
    TXN_KEY_ERR_NONE = 0,
    TXN_KEY_ERR_LOCKED,           /* locked = lock */
    TXN_KEY_ERR_WRITE_CONFLICT,   /* conflict {start_ts, conflict_ts, conflict_commit_ts,
                                   * key, primary, reason} + retryable = msg */
    TXN_KEY_ERR_ALREADY_EXIST,    /* already_exist {key} */
    TXN_KEY_ERR_COMMIT_TS_EXPIRED, /* commit_ts_expired {start_ts, attempted_commit_ts =
                                    * commit_ts, key, min_commit_ts} */
    TXN_KEY_ERR_TXN_NOT_FOUND,    /* txn_not_found {start_ts, primary_key = key} */
    TXN_KEY_ERR_TXN_LOCK_NOT_FOUND, /* txn_lock_not_found {key} + retryable = msg */
    TXN_KEY_ERR_COMMITTED,        /* abort = msg: rollback of a txn committed at commit_ts */
    TXN_KEY_ERR_ASSERTION_FAILED, /* assertion_failed {start_ts, key, assertion,
                                   * existing_start_ts, existing_commit_ts} */
    TXN_KEY_ERR_PRIMARY_MISMATCH, /* primary_mismatch {lock_info = lock} */
    TXN_KEY_ERR_ABORT,            /* abort = msg (invalid txn tso, lock type mismatch, ...) */
} txn_key_error_kind;

/* kvrpcpb.WriteConflict.Reason; TXN_CONFLICT_WATCH is Basalt's own: a watched key changed. */
typedef enum txn_conflict_reason {
    TXN_CONFLICT_UNKNOWN = 0,
    TXN_CONFLICT_OPTIMISTIC = 1,
    TXN_CONFLICT_SELF_ROLLED_BACK = 3,
    TXN_CONFLICT_WATCH = 64,
} txn_conflict_reason;

/* One kvrpcpb.KeyError. Owned buffers; txn_key_error_init()/deinit(). */
typedef struct txn_key_error {
    txn_key_error_kind kind;
    bs_buf key;              /* the key concerned */
    bs_buf primary;          /* WRITE_CONFLICT: the txn's primary */
    txn_lock_info lock;      /* LOCKED, PRIMARY_MISMATCH */
    uint64_t start_ts;       /* the request's txn */
    uint64_t conflict_start_ts, conflict_commit_ts; /* WRITE_CONFLICT; ASSERTION_FAILED:
                                                     * the existing version's */
    txn_conflict_reason reason;
    uint64_t commit_ts;      /* COMMIT_TS_EXPIRED: attempted; COMMITTED: the commit ts */
    uint64_t min_commit_ts;  /* COMMIT_TS_EXPIRED */
    txn_assertion assertion; /* ASSERTION_FAILED */
    char msg[BS_ERR_MSG_MAX]; /* human text (TiKV's wording where a text field carries it) */
} txn_key_error;

void txn_key_error_init(txn_key_error *ke);
void txn_key_error_deinit(txn_key_error *ke); /* ke may be NULL; re-initialises */

/* ---- reads: KvGet, KvBatchGet, KvScan, KvScanLock (txn_kv.c, scan_lock.c) ---------------- */

typedef struct txn_read_opts {
    uint64_t read_ts;                /* the snapshot (GetRequest.version); > 0 */
    const uint64_t *resolved_locks;  /* Context.resolved_locks: locks to ignore; borrowed */
    size_t n_resolved;
    const uint64_t *committed_locks; /* Context.committed_locks: read the lock's value */
    size_t n_committed;
} txn_read_opts;

typedef struct txn_kv_pair {
    bs_buf key;          /* full API v2 key */
    bs_buf value;        /* user value (empty when key_only or has_error) */
    uint64_t commit_ts;  /* the version's commit ts (GetResponse.commit_ts) */
    uint64_t expire_ms;  /* 'r' live values: the absolute expiry (Unix ms), 0 = none; always
                          * 0 for 'x' keys (MULTI/EXEC's TTL, PTTL and KEEPTTL need it) */
    bool has_error;      /* the key is locked: error.kind == TXN_KEY_ERR_LOCKED */
    txn_key_error error;
} txn_kv_pair;

typedef struct txn_kv_pairs {
    txn_kv_pair *v; /* owned */
    size_t n, cap;
} txn_kv_pairs;

void txn_kv_pair_init(txn_kv_pair *p);
void txn_kv_pair_deinit(txn_kv_pair *p);
void txn_kv_pairs_init(txn_kv_pairs *p);
void txn_kv_pairs_free(txn_kv_pairs *p); /* frees every pair; re-initialises; may be NULL */

/* Every read first raises max_ts to read_ts, then fails with BS_EBUSY (kind
 * TXN_ERR_KEY_BEING_WRITTEN) while a write at ts <= read_ts of a key it reads is pending in
 * the lock table (retry after txn_cm_wait_key), as raw reads do. A Percolator lock blocks
 * the read when lock.start_ts <= read_ts, its type is Put or Delete, min_commit_ts <=
 * read_ts and its start_ts is not in resolved_locks (PROTOCOL.md §5.2; with read_ts
 * UINT64_MAX the lock of a primary key is ignored). Raw ('r') values that are deleted or
 * expired at the wall clock read as absent. Common failures: BS_EINVAL
 * (TXN_ERR_INVALID_KEY_MODE: key not 'r'/'x' ‖ keyspace ‖ …; TXN_ERR_INVALID_ARGUMENT:
 * read_ts 0), BS_EIO / BS_ECORRUPT (TXN_ERR_STORAGE). Synchronous; any thread. */

/* KvGet: BS_OK with out filled (key, value, commit_ts) when the key has a visible value,
 * or with out->has_error when a lock blocks; BS_NOTFOUND when absent at read_ts. out must
 * be initialised; its previous contents are replaced. */
int txn_kv_get(txn_store *s, bs_slice key, const txn_read_opts *o, txn_kv_pair *out,
               txn_error *e);

/* KvBatchGet: appends found and locked keys to *out in request order (absent keys are
 * omitted). On failure *out keeps what was appended before. */
int txn_kv_batch_get(txn_store *s, const bs_slice *keys, size_t n, const txn_read_opts *o,
                     txn_kv_pairs *out, txn_error *e);

typedef struct txn_kv_scan_req {
    /* As ScanRequest: forward covers [start, end); reverse covers [end, start) descending.
     * The non-empty bound(s) give the mode; an empty end (forward) or empty start (reverse)
     * means the end of that mode's key space. At least one bound must be non-empty. */
    bs_slice start, end;
    uint32_t limit;   /* 0 = none; locked keys count */
    bool key_only;
    bool reverse;
    txn_read_opts read;
} txn_kv_scan_req;

/* KvScan: appends visible keys (and locked keys, with their error) in scan order. */
int txn_kv_scan(txn_store *s, const txn_kv_scan_req *req, txn_kv_pairs *out, txn_error *e);

/* KvScanLock: appends the locks with start_ts <= max_version in [start, end) (an empty
 * bound is unbounded on that side; locks of both modes are seen) to *out in key order, at
 * most limit (0 = none) of them. Raises max_ts to max_version. */
int txn_kv_scan_lock(txn_store *s, uint64_t max_version, bs_slice start, bs_slice end,
                     uint32_t limit, txn_lock_infos *out, txn_error *e);

/* The Percolator lock on key, for the raw path ("a raw read or write of a locked key
 * resolves the lock first"): BS_OK with *out filled, BS_NOTFOUND when the key has no lock,
 * or a storage error. Reads the engine's latest state. */
int txn_kv_load_lock(txn_store *s, bs_slice key, txn_lock_info *out, txn_error *e);

/* ---- write commands (txn_command.c) ---------------------------------------------------- */

/* kvrpcpb.CheckTxnStatusResponse.action */
typedef enum txn_status_action {
    TXN_ACTION_NO_ACTION = 0,
    TXN_ACTION_TTL_EXPIRE_ROLLBACK = 1,
    TXN_ACTION_LOCK_NOT_EXIST_ROLLBACK = 2,
    TXN_ACTION_MIN_COMMIT_TS_PUSHED = 3,
    TXN_ACTION_TTL_EXPIRE_PESSIMISTIC_ROLLBACK = 4,
    TXN_ACTION_LOCK_NOT_EXIST_DO_NOTHING = 5,
} txn_status_action;

/* The outcome of a write command; owned by the command, borrowed by the callback for the
 * call. code != BS_OK means the command failed as a whole (error says why: invalid key or
 * argument, engine error, TXN_ERR_PROPOSAL_FAILED -- the region error of a response) and
 * nothing else is meaningful. With code == BS_OK, key errors are the response's KeyErrors:
 * a prewrite may report several (locks are accumulated), every other command at most one;
 * when any key error is reported nothing was written. */
typedef struct txn_kv_result {
    int code;
    txn_error error;
    txn_key_error *errors; /* n_errors entries */
    size_t n_errors;
    uint64_t min_commit_ts;    /* prewrite: always 0 (no async commit) */
    uint64_t one_pc_commit_ts; /* prewrite: the commit ts when it committed in one phase */
    uint64_t commit_ts;        /* commit: commit_version; cleanup: when already committed;
                                * batch_rollback: with a COMMITTED error; check_txn_status:
                                * commit_version;
                                * check_secondary_locks: the txn's commit ts (0 = not known
                                * committed) */
    uint64_t lock_ttl;         /* check_txn_status, txn_heart_beat */
    txn_status_action action;  /* check_txn_status */
    bool has_lock_info;        /* check_txn_status: the primary is still locked */
    txn_lock_info lock_info;
    txn_lock_infos locks;      /* check_secondary_locks: every key still locked (all of them
                                * locked, commit_ts 0) or none */
} txn_kv_result;

typedef void (*txn_kv_done_fn)(void *arg, const txn_kv_result *res);

/* Every command copies its request (borrowed for the call) and calls cb exactly once:
 * before returning for validation failures (BS_EINVAL with TXN_ERR_INVALID_KEY_MODE for a
 * key outside 'r'/'x' ‖ keyspace ‖ …, or keys of mixed modes; TXN_ERR_INVALID_ARGUMENT),
 * otherwise once the latches were taken, the action ran and its batch (if any) applied.
 * A key listed twice is processed once (a prewrite mutating one key twice is refused). */

typedef struct txn_mutation {
    txn_op op;
    bs_slice key;       /* API v2 key; borrowed for the call */
    bs_slice value;     /* PUT / INSERT: the user value */
    uint64_t expire_ms; /* PUT / INSERT of an 'r' key: absolute Unix ms expiry, 0 = none;
                         * must be 0 for 'x' keys */
    txn_assertion assertion;
    /* WATCH (any op): fail with WriteConflict reason TXN_CONFLICT_WATCH when the key has a
     * data version newer than watch_ts, or watch_live and the key is no longer live (it
     * expired since). A foreign lock gives KeyIsLocked as for any mutation. */
    bool watch;
    uint64_t watch_ts;  /* the newest version's ts seen at WATCH (0 = none) */
    bool watch_live;    /* the key was live at WATCH */
} txn_mutation;

typedef struct txn_prewrite_req {
    const txn_mutation *mutations; /* >= 1; borrowed */
    size_t n_mutations;
    bs_slice primary;        /* the txn's primary key (same mode) */
    uint64_t start_ts;       /* > 0 */
    uint64_t lock_ttl;       /* ms */
    uint64_t txn_size;
    uint64_t min_commit_ts;  /* written into each lock (0 = none) */
    bool skip_constraint_check; /* 'x' only: skip the newer-version check (ignored for 'r') */
    txn_assertion_level assertion_level;
    /* One-phase commit: set only when this request carries the whole txn (one Region).
     * Commits at max(max_ts + 1, start_ts + 1, min_commit_ts) without locks, unless that
     * exceeds max_commit_ts (non-zero), which falls back to a normal prewrite. */
    bool try_one_pc;
    uint64_t max_commit_ts;
} txn_prewrite_req;

/* KvPrewrite. Per mutation (TiKV prewrite.rs): a foreign lock -> KeyIsLocked (collected
 * over every mutation); this txn's lock -> duplicate, nothing written; a write record newer
 * than start_ts ('r': also a raw version) -> WriteConflict (Optimistic); a Rollback at
 * start_ts -> WriteConflict (SelfRolledBack); INSERT / CHECK_NOT_EXISTS of an existing key
 * -> AlreadyExist; assertions -> AssertionFailed; watch -> WriteConflict (Watch). Any
 * error but KeyIsLocked stops the request. res->one_pc_commit_ts is set when it committed
 * in one phase. */
void txn_kv_prewrite(txn_store *s, const txn_prewrite_req *req, txn_kv_done_fn cb, void *arg);

/* KvCommit: each key's lock of start_ts becomes a commit record at commit_ts ('r': plus the
 * raw version). Already committed -> ok (idempotent); no lock and no commit record ->
 * TxnLockNotFound; commit_ts < lock.min_commit_ts -> CommitTsExpired; commit_ts <= start_ts
 * -> ABORT "invalid txn tso". res->commit_ts = commit_ts on success. */
void txn_kv_commit(txn_store *s, const bs_slice *keys, size_t n, uint64_t start_ts,
                   uint64_t commit_ts, txn_kv_done_fn cb, void *arg);

/* KvBatchRollback: removes each key's lock of start_ts (and its long value) and leaves a
 * Rollback record at start_ts, protected when the key is the lock's primary; with no lock a
 * (non-protected) Rollback is written anyway so a late prewrite fails. A committed key ->
 * COMMITTED (res->commit_ts set). */
void txn_kv_batch_rollback(txn_store *s, const bs_slice *keys, size_t n, uint64_t start_ts,
                           txn_kv_done_fn cb, void *arg);

/* KvCleanup: rolls back key's txn start_ts (protected rollback). With current_ts != 0 a
 * lock that has not expired (physical(start_ts) + ttl >= physical(current_ts)) is answered
 * with KeyIsLocked. Already committed: no key error, res->commit_ts set (TiKV answers
 * CleanupResponse.commit_version). Raises max_ts to current_ts. */
void txn_kv_cleanup(txn_store *s, bs_slice key, uint64_t start_ts, uint64_t current_ts,
                    txn_kv_done_fn cb, void *arg);

typedef struct txn_check_txn_status_req {
    bs_slice primary_key;
    uint64_t lock_ts;
    uint64_t caller_start_ts;
    uint64_t current_ts;
    bool rollback_if_not_exist;
    bool force_sync_commit;
    bool resolving_pessimistic_lock;
    bool verify_is_primary;
} txn_check_txn_status_req;

/* KvCheckTxnStatus (PROTOCOL.md §5.3): lock present -> lock_ttl/lock_info, rolled back when
 * expired (TTL_EXPIRE_ROLLBACK), min_commit_ts pushed past caller_start_ts
 * (MIN_COMMIT_TS_PUSHED); lock absent -> commit_ts when committed, NO_ACTION when rolled
 * back, LOCK_NOT_EXIST_ROLLBACK (protected rollback written) with rollback_if_not_exist,
 * else TxnNotFound. verify_is_primary on a secondary's lock -> PrimaryMismatch. */
void txn_kv_check_txn_status(txn_store *s, const txn_check_txn_status_req *req,
                             txn_kv_done_fn cb, void *arg);

/* KvCheckSecondaryLocks: res->locks lists every key's lock of start_ts when all are locked;
 * stops at the first committed key (res->commit_ts) or rolled-back / missing key (a
 * protected rollback is written for a missing one; locks empty, commit_ts 0). */
void txn_kv_check_secondary_locks(txn_store *s, const bs_slice *keys, size_t n,
                                  uint64_t start_ts, txn_kv_done_fn cb, void *arg);

/* KvTxnHeartBeat: ttl = max(ttl, advise_lock_ttl) on the primary's lock of start_ts;
 * res->lock_ttl. No such lock -> TxnNotFound. */
void txn_kv_txn_heart_beat(txn_store *s, bs_slice primary, uint64_t start_ts,
                           uint64_t advise_lock_ttl, txn_kv_done_fn cb, void *arg);

typedef struct txn_resolve_txn {
    uint64_t start_ts;
    uint64_t commit_ts; /* 0 = roll back */
} txn_resolve_txn;

typedef struct txn_resolve_lock_req {
    const txn_resolve_txn *txns; /* >= 1 (ResolveLockRequest's start/commit_version or its
                                  * txn_infos); borrowed */
    size_t n_txns;
    const bs_slice *keys;        /* non-empty: resolve only these keys (one txn) */
    size_t n_keys;
    bs_slice start, end;         /* without keys: the range scanned for locks (empty bound =
                                  * unbounded; the caller passes the Region's range) */
} txn_resolve_lock_req;

/* KvResolveLock: commits (commit_ts > 0) or rolls back every lock of the listed txns in
 * the range (or keys), in batches of TXN_RESOLVE_BATCH keys, each batch latched and applied
 * before the next is scanned. Errors as KvCommit / KvBatchRollback (commit_ts <= start_ts:
 * ABORT "invalid txn tso"). */
#define TXN_RESOLVE_BATCH 256
void txn_kv_resolve_lock(txn_store *s, const txn_resolve_lock_req *req, txn_kv_done_fn cb,
                         void *arg);
/* txn_kv_resolve_lock of one key (borrowed) of the txn start_ts: commit at commit_ts, or
 * roll back when commit_ts is 0. What a lock resolver does once the primary decided. */
void txn_kv_resolve_key(txn_store *s, bs_slice key, uint64_t start_ts, uint64_t commit_ts,
                        txn_kv_done_fn cb, void *arg);

/* ---- read-modify-writes inside a transaction (rmw_apply.c) ------------------------------ */

/* What a read-modify-write decided to write. */
typedef enum txn_rmw_write {
    TXN_RMW_WRITE_NONE = 0, /* nothing */
    TXN_RMW_WRITE_PUT,      /* value with expire_ms */
    TXN_RMW_WRITE_DELETE,   /* delete the key */
} txn_rmw_write;

typedef struct txn_rmw_outcome {
    txn_rmw_write write;
    bs_buf value;        /* PUT: the new user value (owned) */
    uint64_t expire_ms;  /* PUT: absolute Unix ms, 0 = none */
    txn_rmw_result r;    /* what txn_raw_rmw would report (owned buffers) */
} txn_rmw_outcome;

/* Zeroes *o; txn_rmw_outcome_free() releases its buffers (and zeroes it again). */
void txn_rmw_outcome_init(txn_rmw_outcome *o);
void txn_rmw_outcome_free(txn_rmw_outcome *o);

/* The pure core of txn_raw_rmw, for a coordinator that runs the operation inside a
 * transaction (MULTI/EXEC): p applied at now_ms to a key that is live with value and
 * expire_ms (absolute Unix ms, 0 = none) when exists, absent otherwise. Exactly the rules of
 * txn_raw_rmw (Redis 7's texts in *e), so a key gets the same value and reply on both paths.
 * BS_OK with *out filled (initialised by the caller; previous contents replaced), or the
 * error code with *e set and out->write NONE. value is borrowed for the call. Pure; any
 * thread. */
int txn_rmw_apply(const txn_rmw_params *p, bool exists, bs_slice value, uint64_t expire_ms,
                  uint64_t now_ms, txn_rmw_outcome *out, txn_error *e);

#endif
