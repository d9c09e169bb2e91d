/* txn.h -- the store-side RawKV (API v2) layer: raw reads, raw writes, compare-and-swap,
 * the closed set of single-key read-modify-writes the RESP front end needs, latches, the
 * concurrency manager, the causal timestamp source and MVCC garbage collection.
 *
 * Nothing here knows about Raft or the network. A write command runs in three steps:
 *   1. take the latches of its keys (callback-based: a command that must wait is queued on
 *      the first busy slot and resumed by whoever releases it, so no thread ever blocks);
 *   2. read (a snapshot of the engine, or the pending value of a key whose previous write
 *      is proposed but not yet applied), pick a timestamp, and build a kv_batch;
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
 * thread releasing a latch, or the proposer's completion thread. Callbacks must not block. */
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
    TXN_ERR_CHAIN_BROKEN,       /* a write this one read from failed to apply */
    TXN_ERR_STORAGE,            /* engine I/O or corrupt data */
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

/* Creates a source that prefetches `batch` (>= 1) TSOs at a time from fetch(arg, ...) and
 * starts a first fetch. arg is borrowed and must outlive the source. Caller owns; free with
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
 *  - It may call done before returning (a synchronous proposer) and must not block on
 *    disk or on the network on the caller's thread. */
typedef int (*txn_propose_fn)(void *arg, kv_batch *batch, txn_proposal_done_fn done,
                              void *done_arg, bs_err *err);

/* A txn_propose_fn over a local store (cluster_proposer.c): arg is the cluster_store
 * (borrowed; outlives the txn store). Routes the batch to the Region of its first key, at
 * that Region's current epoch, through cluster_store_propose; region errors come back as
 * their codes with err's text. Thread affinity: any thread; done runs on the raftstore
 * thread. */
int txn_cluster_propose(void *arg, kv_batch *batch, txn_proposal_done_fn done, void *done_arg,
                        bs_err *err);

typedef struct txn_store_config {
    kv_engine *engine;       /* borrowed; outlives the store */
    txn_causal_ts *causal_ts; /* borrowed; outlives the store */
    txn_propose_fn propose;
    void *propose_arg;       /* borrowed */
    size_t latch_slots;      /* 0 = 2048 (TiKV's default scheduler concurrency) */
} txn_store_config;

typedef struct txn_store txn_store;

/* Creates a store (its own latches and concurrency manager). cfg is copied. Caller owns;
 * txn_store_free() once every command's callback has run. */
txn_store *txn_store_new(const txn_store_config *cfg);
void txn_store_free(txn_store *s); /* s may be NULL */
txn_cm *txn_store_cm(txn_store *s);           /* borrowed; lives as long as s */
txn_latches *txn_store_latches(txn_store *s); /* borrowed */
kv_engine *txn_store_engine(txn_store *s);     /* borrowed: the configured engine */

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

/* ---- reads (synchronous: a point read or a bounded scan; fine on a network thread) ---- */

/* Every read takes read_ts: when non-zero it first raises max_ts to read_ts, then fails
 * with BS_EBUSY (kind TXN_ERR_KEY_BEING_WRITTEN) if a write at a ts <= read_ts is pending
 * on a key it would read; the caller retries after txn_cm_wait_key(). read_ts 0 reads the
 * latest applied state without consulting the lock table.
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
 * Validation failures are reported through cb too (before the call returns). */

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
 * write nothing are reported once every pending write they read from has applied. */
void txn_raw_rmw(txn_store *s, bs_slice key, const txn_rmw_params *p, txn_done_fn cb,
                 void *arg);

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

/* One bounded GC pass over RawKV keys from *cursor (empty = the start): returns in *out a
 * new batch (caller owns; propose it through Raft) of deletes for
 *   - every version of a key whose newest version is deleted or expired at now_ms and has
 *     ts <= safe_point;
 *   - every version with ts <= safe_point shadowed by a newer version with ts <= safe_point.
 * Stops after about `limit` deletes (0 = no limit; a key's versions are never split) and
 * sets *cursor (opaque bytes, caller owns) to where the next pass resumes, or empties it
 * when this pass reached the end. Reads through a snapshot of e. Returns BS_OK, or
 * BS_EIO / BS_ECORRUPT with err set (then *out is untouched). Any thread. */
int txn_gc_pass(kv_engine *e, uint64_t safe_point, uint64_t now_ms, size_t limit,
                bs_buf *cursor, kv_batch **out, bs_err *err);

#endif
