/* txn_int.h -- declarations shared by the files of src/txn/ and by its unit tests; no
 * other module includes this. It holds the MVCC read helpers (one key's newest version,
 * range walks), the pure actions (request + current value -> what to write), and the
 * pending-write records of the in-memory lock table that chaining is built on. */
#ifndef BASALT_TXN_TXN_INT_H
#define BASALT_TXN_TXN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "storage/kv.h"
#include "txn/txn.h"

/* ---- keys (raw_keys.c) ------------------------------------------------------------------ */

/* BS_OK when key is a RawKV v2 key ('r' ‖ keyspace[3] ‖ user key), else BS_EINVAL with
 * kind TXN_ERR_INVALID_KEY_MODE. */
int txn_check_raw_key(bs_slice key, txn_error *e);
/* Sets *lo and *hi to the MVCC-key bounds [MCE(key) ‖ ~MAX, MCE(key) ‖ ~0) of all
 * versions of key (ts 0 is never written), both held in *both (replaced): they are valid
 * while *both is unchanged. */
void txn_version_bounds(bs_slice key, bs_buf *both, bs_slice *lo, bs_slice *hi);
/* Replaces *out with MCE of the bound (an empty bound means the end of 'r': MCE("s")). */
void txn_range_bound(bs_slice bound, bool is_end, bs_buf *out);
/* Copies a bs_err into a txn_error with kind TXN_ERR_STORAGE; returns the code. */
int txn_error_from_bs(txn_error *e, const bs_err *err);

/* ---- the value a command sees for one key ------------------------------------------------ */

typedef struct txn_cur {
    bool exists;        /* live: present, not deleted, not expired at now */
    bs_buf value;       /* user value when exists (owned) */
    bool has_expire;
    uint64_t expire_ms; /* meaningful iff has_expire */
    uint64_t newest_ts; /* ts of the newest version, live or not (0 = none) */
} txn_cur;

void txn_cur_init(txn_cur *c);
void txn_cur_deinit(txn_cur *c);

/* ---- MVCC reads (mvcc_read.c) ------------------------------------------------------------ */

/* Reads key's newest version through snap into *cur (exists false when absent, deleted or
 * expired at now_ms). BS_OK, or BS_EIO / BS_ECORRUPT with err set. */
int txn_mvcc_read_newest(kv_engine *e, kv_snapshot *snap, bs_slice key, uint64_t now_ms,
                         txn_cur *cur, bs_err *err);

/* Called for each key's newest live version in a walk, in walk order; key is the full
 * API v2 key and value the user value (both borrowed for the call). Return false to stop. */
typedef bool (*txn_walk_fn)(void *arg, bs_slice key, const kv_raw_value *v);

/* Walks the newest version of every key in [lo, hi) (API v2 keys; empty = unbounded),
 * forward or backward, skipping deleted and expired ones. */
int txn_mvcc_walk(kv_engine *e, kv_snapshot *snap, bs_slice lo, bs_slice hi, bool reverse,
                  uint64_t now_ms, txn_walk_fn fn, void *arg, bs_err *err);

/* ---- actions (pure: current value + request -> write + result) --------------------------- */

typedef enum txn_write_kind {
    TXN_WRITE_NONE = 0, /* nothing to write */
    TXN_WRITE_PUT,
    TXN_WRITE_DELETE,   /* a deleted marker */
} txn_write_kind;

typedef struct txn_write {
    txn_write_kind kind;
    bs_buf value;       /* PUT: user value (owned) */
    uint64_t expire_ms; /* PUT: Unix ms, 0 = no TTL */
} txn_write;

void txn_write_init(txn_write *w);
void txn_write_deinit(txn_write *w);

/* Appends the MVCC put of w for key at ts to b (CF default). w->kind != NONE. */
void txn_write_to_batch(kv_batch *b, bs_slice key, uint64_t ts, const txn_write *w);

/* now + ttl, saturating; 0 when ttl_ms is 0. */
uint64_t txn_expire_from_ttl(uint64_t now_ms, uint64_t ttl_ms);

/* CAS (raw_cas.c): decides the write and fills res's previous/succeed fields. */
void txn_cas_eval(const txn_cas_req *req, const txn_cur *cur, uint64_t now_ms, txn_write *w,
                  txn_result *res);

/* Read-modify-write (rmw.c): decides the write and fills *r. Returns BS_OK, or an error
 * code with *e set (then w->kind is NONE). */
int txn_rmw_eval(const txn_rmw_params *p, const txn_cur *cur, uint64_t now_ms, txn_write *w,
                 txn_rmw_result *r, txn_error *e);

void txn_rmw_result_init(txn_rmw_result *r);
void txn_rmw_result_deinit(txn_rmw_result *r);

/* Redis number helpers (rmw_num.c). */
/* Redis's string2ll: strict base-10 int64, no spaces, no '+', no leading zeros. */
bool txn_parse_ll(bs_slice s, int64_t *out);
/* Redis's string2ld: strtold over the whole string; no leading space, no NaN. */
bool txn_parse_ld(bs_slice s, long double *out);
/* Appends Redis's human long double formatting (%.17Lf, trailing zeros and '.' trimmed,
 * "-0" as "0") to out. */
void txn_format_ld(bs_buf *out, long double v);
/* Appends the decimal text of v. */
void txn_format_ll(bs_buf *out, int64_t v);

/* ---- pending writes in the lock table (concurrency_manager.c) ----------------------------- */

typedef enum txn_pending_state {
    TXN_PENDING_CHOOSING = 0, /* linked; ts not chosen yet (readers must assume it is low) */
    TXN_PENDING_PROPOSED,     /* a write at ts is proposed, not yet applied */
    TXN_PENDING_NOOP,         /* writes nothing; completes when its predecessors applied */
} txn_pending_state;

typedef struct txn_pending txn_pending;

/* Called (outside the manager's mutex) for a record that left the table: ok = its
 * predecessors and (for a write) itself applied; !ok = a predecessor failed, with its code
 * in rec->fail_code. Only PROPOSED and NOOP records are ever handed back: a CHOOSING record
 * belongs to a command that is running, which learns of the failure from rec->broken. */
typedef void (*txn_pending_notify_fn)(void *owner, txn_pending *rec, bool ok);

/* One key's pending raw write (or no-op read) in the chain of that key. Owned by the
 * command (owner) that links it; the manager only links, flags and unlinks it. Every field
 * below owner/notify is written under the manager's mutex. */
struct txn_pending {
    txn_pending *next;         /* next record of the same key (chain order = log order) */
    struct txn_mem_lock *lock; /* the key's table entry while linked */
    bool linked;               /* under the manager's mutex */
    txn_pending_state state;
    uint64_t ts;               /* PROPOSED: the version's ts */
    txn_write write;           /* PROPOSED: what it writes (read by chained successors) */
    void *owner;
    txn_pending_notify_fn notify;
    /* A predecessor failed while this record was CHOOSING. The record stays linked (its
     * command is running under the key's latch and unlinks it itself) and the command must
     * not propose: txn_cm_pending_propose_begin / txn_cm_pending_settle_noop report it.
     * Invariant: broken implies linked and state == TXN_PENDING_CHOOSING. */
    bool broken;
    int fail_code;             /* broken, or notified !ok: the failed predecessor's code */
    /* Non-NULL from txn_cm_pending_propose_begin to _end: the owner is handing the batch to
     * the proposer on the thread this token names (see txn_cm_pending_fail). */
    const void *flight;
};

/* What the previous record of a chain will leave behind once applied. */
typedef struct txn_pending_view {
    bool present;   /* a write is pending before the new record */
    uint64_t ts;    /* highest pending ts on the key */
    txn_write write; /* the newest pending write (copied) */
} txn_pending_view;

/* Links rec (zeroed except owner/notify) at the tail of key's chain in CHOOSING state and
 * copies the newest pending write before it into *prev (caller deinits prev->write). */
void txn_cm_pending_link(txn_cm *cm, bs_slice key, txn_pending *rec, txn_pending_view *prev);
/* Sets rec PROPOSED at ts writing w (copied). For records nothing precedes (the caller
 * waited for the chain to empty): asserts rec is not broken. Chained commands use
 * txn_cm_pending_propose_begin instead. */
void txn_cm_pending_propose(txn_cm *cm, txn_pending *rec, uint64_t ts, const txn_write *w);
/* Marks rec NOOP; when nothing precedes it, it is unlinked and notified ok. Asserts rec is
 * not broken (chained commands use txn_cm_pending_settle_noop). */
void txn_cm_pending_noop(txn_cm *cm, txn_pending *rec);
/* Reports rec's apply (ok) or failure. ok: unlinks rec and completes the NOOP records that
 * now head the chain. !ok: txn_cm_pending_fail(cm, rec, BS_EPROPOSAL_DROPPED).
 * rec's own notify is NOT called (the caller knows). Returns true when this call unlinked
 * rec, false when it was not linked (someone else already did, and notified its owner). */
bool txn_cm_pending_done(txn_cm *cm, txn_pending *rec, bool ok);
/* Reports that rec failed with code (!= BS_OK): unlinks rec; every PROPOSED or NOOP record
 * behind it is unlinked and notified !ok with fail_code = code; a CHOOSING one (always the
 * tail: its command holds the key's latch) is flagged broken instead. If a record behind
 * rec is between propose_begin and _end on another thread, this first waits (on a condition
 * variable, for the length of one proposer call) until it is not: so a failure is never
 * reported between a successor's check that it is not broken and the proposer's acceptance
 * of its batch, which is what lets the proposer's own ordering (a batch accepted after a
 * failed one fails too) cover every chained successor. Returns as txn_cm_pending_done. */
bool txn_cm_pending_fail(txn_cm *cm, txn_pending *rec, int code);
/* Chained commands: moves recs[0..n) (linked, CHOOSING, all of one command) to PROPOSED at
 * ts writing writes[i] (copied), atomically, and marks them in flight on this thread.
 * Returns BS_OK, or -- changing nothing -- the fail_code of a record that a predecessor's
 * failure broke: the command must not propose (its records are still linked; fail them).
 * After BS_OK the caller hands the batch to the proposer and then, whatever the proposer
 * answered, calls txn_cm_pending_propose_end on the same thread. */
int txn_cm_pending_propose_begin(txn_cm *cm, txn_pending *recs, const txn_write *writes,
                                 size_t n, uint64_t ts);
/* Ends the flight begun above (records may have been unlinked meanwhile). */
void txn_cm_pending_propose_end(txn_cm *cm, txn_pending *recs, size_t n);
/* Chained commands: marks rec NOOP as txn_cm_pending_noop does and returns BS_OK, or
 * returns the fail_code of a broken rec, changing nothing (the caller fails it). */
int txn_cm_pending_settle_noop(txn_cm *cm, txn_pending *rec);

/* ---- the store's configuration (command.c) ------------------------------------------------ */

/* The configuration s was created with (engine, causal ts, proposer); borrowed, lives as
 * long as s. For commands implemented outside command.c (multi.c). */
const txn_store_config *txn_store_get_config(const txn_store *s);

/* The timer of txn_store_set_timer (after NULL: none) and the wait budget in ms. */
typedef struct txn_store_timer {
    txn_after_fn after;
    void *after_arg;
    uint64_t lock_wait_ms; /* > 0 */
} txn_store_timer;
const txn_store_timer *txn_store_get_timer(const txn_store *s);

/* ---- Percolator locks on the raw path (raw_lock.c; txn.h says what the raw path does) ---- */

typedef struct txn_raw_locks txn_raw_locks;

/* The store's lock-resolution state (resolutions in flight, keys being resolved for
 * reads). txn_raw_locks_free asserts that no resolution is in flight; l may be NULL. */
txn_raw_locks *txn_raw_locks_new(void);
void txn_raw_locks_free(txn_raw_locks *l);
txn_raw_locks *txn_store_raw_locks(txn_store *s); /* command.c; borrowed */

/* The lock on key (API v2) that a raw read (for_write false: Put and Delete locks) or
 * write (for_write true: any lock) must not pass, read through snap with one point read:
 * BS_OK with *out (initialised) replaced, BS_NOTFOUND, or BS_EIO / BS_ECORRUPT with err. */
int txn_raw_lock_get(kv_engine *e, kv_snapshot *snap, bs_slice key, bool for_write,
                     txn_lock_info *out, bs_err *err);
/* The same for the first such lock in [lo, hi) (API v2 keys; an empty lo is the start of
 * the 'r' space, an empty hi its end): one iterator over CF lock. */
int txn_raw_lock_scan(kv_engine *e, kv_snapshot *snap, bs_slice lo, bs_slice hi,
                      bool for_write, txn_lock_info *out, bs_err *err);
/* Fills *e with BS_EBUSY / TXN_ERR_KEY_IS_LOCKED naming lock's txn; returns BS_EBUSY. */
int txn_raw_lock_error(txn_error *e, const txn_lock_info *lock);

/* One resolution's outcome: BS_OK = the lock is gone (its txn committed or rolled back,
 * this key resolved here or by someone else); BS_EBUSY with TXN_ERR_KEY_IS_LOCKED = the
 * txn is alive; anything else a failure (BS_EBUSY / TXN_ERR_TS_NOT_READY, a proposal's
 * code with TXN_ERR_PROPOSAL_FAILED, BS_EIO / BS_ECORRUPT, BS_EINTERNAL for an answer
 * the protocol does not allow). e is borrowed for the call. */
typedef void (*txn_raw_lock_done_fn)(void *arg, int code, const txn_error *e);
/* Resolves lock (copied) once: CheckTxnStatus on its primary, then ResolveLock of its key
 * (see txn.h). Calls done(arg, ...) exactly once, maybe before returning, else on the
 * thread completing the last step (inside a txn command's callback, latches of that
 * command still held: done must not wait). The caller holds no latch. */
void txn_raw_lock_resolve(txn_store *s, const txn_lock_info *lock, txn_raw_lock_done_fn done,
                          void *arg);
/* For synchronous reads: starts txn_raw_lock_resolve(lock) unless a kicked resolution of
 * the same key is still running, and drops the outcome (its effect is what counts). */
void txn_raw_lock_kick(txn_store *s, const txn_lock_info *lock);

/* A write command's wait for locks across its runs (command.c, multi.c). */
#define TXN_LOCK_MAX_ROUNDS 32 /* resolutions per command before it gives up (BS_EBUSY) */
#define TXN_LOCK_FIRST_WAIT_MS 2

typedef struct txn_lock_wait {
    bool locked;        /* the last run stopped at `lock` */
    txn_lock_info lock; /* owned */
    unsigned rounds;    /* resolutions started; Invariant: rounds <= TXN_LOCK_MAX_ROUNDS */
    uint64_t waited_ms; /* the delays asked of the timer so far (the wait's bound) */
    uint64_t next_ms;   /* the next delay (doubles) */
} txn_lock_wait;

void txn_lock_wait_init(txn_lock_wait *w);
void txn_lock_wait_deinit(txn_lock_wait *w);
/* Counts a resolution round: false when the command has used them all. */
bool txn_lock_wait_next_round(txn_lock_wait *w);
/* The txn is alive: asks the store's timer to call fn(arg, cancelled) after the next
 * delay (2, 4, 8 ... ms, cut to what is left of lock_wait_ms) and returns true; returns
 * false (nothing scheduled) when the store has no timer or the budget is spent. */
bool txn_lock_wait_park(txn_store *s, txn_lock_wait *w, txn_timer_fn fn, void *arg);

/* ---- test seams (command.c) ------------------------------------------------------------------ */

typedef void (*txn_fp_fn)(void *arg);
/* Process-wide fail point for tests (NULL = off, the default): every raw write command in
 * command.c calls fn(arg) with its latches held, its lock-table records linked and its keys
 * read, just before it settles them (proposes, or completes as a no-op). */
void txn_fp_set_before_settle(txn_fp_fn fn, void *arg);

/* ---- timestamps ---------------------------------------------------------------------------- */

/* The ts for a write: above the causal source's next ts, above max_ts and above floor (the
 * newest version or pending write of every key it writes). BS_OK, or BS_EBUSY when the
 * causal source has no timestamp ready. */
int txn_choose_write_ts(txn_causal_ts *c, txn_cm *cm, uint64_t floor, uint64_t *ts);

/* ======================================================================================
 * Percolator internals: the snapshot reader, the batch writers, key errors and the actions
 * (mvcc_reader.c, mvcc_txn.c, key_error.c, prewrite.c, commit.c, rollback.c,
 * check_txn_status.c, check_secondary_locks.c, resolve_lock.c, scan_lock.c,
 * txn_heart_beat.c), shared with txn_command.c, txn_kv.c and the unit tests.
 * ==================================================================================== */

/* An action's domain outcome: its txn_key_error was filled (not a failure of the store). */
#define TXN_KEY_ERROR BS_ESTATE

/* TSO timestamps are physical ms << 18 | logical (PD's TSO). */
#define TXN_TSO_LOGICAL_BITS 18
static inline uint64_t txn_ts_physical(uint64_t ts)
{
    return ts >> TXN_TSO_LOGICAL_BITS;
}

static inline bool txn_key_is_raw(bs_slice key)
{
    return key.len > 0 && key.ptr[0] == KV_MODE_RAW;
}

/* BS_OK when key is a Percolator key ('r' or 'x' ‖ keyspace[3] ‖ user key), else BS_EINVAL
 * with TXN_ERR_INVALID_KEY_MODE. */
int txn_check_pct_key(bs_slice key, txn_error *e);

/* ---- the snapshot reader (mvcc_reader.c; TiKV's SnapshotReader) ------------------------ */

typedef struct txn_reader {
    kv_engine *e;
    kv_snapshot *snap; /* borrowed; every read goes through it */
    uint64_t now_ms;   /* raw values expire against it */
    bs_err *err;       /* storage failures are described here (borrowed) */
} txn_reader;

void txn_reader_init(txn_reader *r, kv_engine *e, kv_snapshot *snap, uint64_t now_ms,
                     bs_err *err);

/* A decoded lock with the bytes it borrows from. */
typedef struct txn_lock_rec {
    bs_buf raw;   /* the CF lock value (owned) */
    kv_lock lock; /* borrows from raw */
} txn_lock_rec;

void txn_lock_rec_init(txn_lock_rec *l);
void txn_lock_rec_deinit(txn_lock_rec *l);

/* key's lock: BS_OK with *found (out filled when true), or BS_EIO / BS_ECORRUPT. */
int txn_reader_load_lock(txn_reader *r, bs_slice key, txn_lock_rec *out, bool *found);

/* A decoded write record with the bytes it borrows from. */
typedef struct txn_write_rec {
    bs_buf raw;         /* the CF write value (owned) */
    kv_write w;         /* borrows from raw */
    uint64_t commit_ts; /* from the record's key */
} txn_write_rec;

void txn_write_rec_init(txn_write_rec *w);
void txn_write_rec_deinit(txn_write_rec *w);

/* The newest write record of key with commit_ts <= ts (TiKV seek_write). */
int txn_reader_seek_write(txn_reader *r, bs_slice key, uint64_t ts, txn_write_rec *out,
                          bool *found);

/* What the write CF says about txn start_ts on key (TiKV get_txn_commit_record): scans the
 * records with commit_ts >= start_ts, newest first. */
typedef enum txn_record_kind {
    TXN_RECORD_NONE = 0,            /* no record of this txn */
    TXN_RECORD_SINGLE,              /* rec: this txn's commit or rollback record */
    TXN_RECORD_OVERLAPPED_ROLLBACK, /* another txn committed at start_ts and carries our
                                     * rollback as has_overlapped_rollback */
} txn_record_kind;

typedef struct txn_commit_record {
    txn_record_kind kind;
    bool has_overlapped; /* NONE: rec is another txn's record at commit_ts == start_ts */
    txn_write_rec rec;
} txn_commit_record;

void txn_commit_record_init(txn_commit_record *c);
void txn_commit_record_deinit(txn_commit_record *c);
int txn_reader_get_txn_commit_record(txn_reader *r, bs_slice key, uint64_t start_ts,
                                     txn_commit_record *out);

/* The newest data version of key at ts: 'x' the newest Put/Delete record (Lock and
 * Rollback are skipped), 'r' the newest raw version in CF default. */
typedef struct txn_version {
    bool found;         /* a data version exists at ts */
    uint64_t commit_ts; /* its ts */
    uint64_t start_ts;  /* 'x': its txn's start_ts; 'r': commit_ts */
    bool live;          /* a value: a Put, and ('r') not deleted nor expired at now */
    bs_buf value;       /* the user value when live and want_value (owned) */
    uint64_t expire_ms; /* 'r', live: the expiry (0 = none) */
} txn_version;

void txn_version_init(txn_version *v);
void txn_version_deinit(txn_version *v);
int txn_reader_newest_version(txn_reader *r, bs_slice key, uint64_t ts, bool want_value,
                              txn_version *out);

/* The value a lock of key would commit (Context.committed_locks): *kind says whether it
 * writes a value (TXN_WRITE_PUT, value filled; 'r': expired reads as DELETE), deletes
 * (TXN_WRITE_DELETE) or changes nothing (TXN_WRITE_NONE: Lock and Pessimistic locks). */
int txn_reader_lock_value(txn_reader *r, bs_slice key, const kv_lock *l, txn_write_kind *kind,
                          bs_buf *value);

/* ---- an action's output (mvcc_txn.c; TiKV's MvccTxn) ------------------------------------ */

/* A data version an action writes at a ts that readers must not miss before it applies
 * ('r' commits; 1PC in both layouts): the command layer holds it in the lock table. */
typedef struct txn_guard_spec {
    bs_buf key;
    uint64_t ts;
    txn_write write; /* PUT (value, expire) or DELETE */
    size_t idx;      /* the mutation index it came from (txn_act.cur_idx) */
} txn_guard_spec;

typedef struct txn_act {
    txn_reader r;
    bs_err err;          /* r.err points here */
    kv_batch *b;         /* additions; owned until txn_act_take_batch() */
    txn_cm *cm;          /* borrowed: max_ts raises */
    txn_guard_spec *guards;
    size_t n_guards, cap_guards;
    bool guard_txn_keys; /* 1PC: guard 'x' versions too (else only 'r' versions) */
    size_t cur_idx;
} txn_act;

/* snap borrowed (may be NULL until txn_act_set_snapshot); cm borrowed. */
void txn_act_init(txn_act *a, kv_engine *e, kv_snapshot *snap, txn_cm *cm, uint64_t now_ms);
void txn_act_deinit(txn_act *a);
/* Forgets every addition and guard (a request that failed or restarts). */
void txn_act_reset(txn_act *a);
/* The batch (caller owns; free with kv_batch_free); a new empty one replaces it. */
kv_batch *txn_act_take_batch(txn_act *a);

void txn_mvcc_put_lock(txn_act *a, bs_slice key, const kv_lock *l);
void txn_mvcc_unlock(txn_act *a, bs_slice key);
void txn_mvcc_put_write(txn_act *a, bs_slice key, uint64_t commit_ts, const kv_write *w);
void txn_mvcc_delete_write(txn_act *a, bs_slice key, uint64_t commit_ts);
/* CF default key@ts = value (bytes as given: a 'x' long value or an 'r' encoded value). */
void txn_mvcc_put_value(txn_act *a, bs_slice key, uint64_t ts, bs_slice value);
void txn_mvcc_delete_value(txn_act *a, bs_slice key, uint64_t ts);
/* Records a guard for the data version key@ts (w copied). */
void txn_act_guard(txn_act *a, bs_slice key, uint64_t ts, const txn_write *w);

/* ---- key errors (key_error.c): each fills *ke and returns TXN_KEY_ERROR ----------------- */

void txn_lock_info_from_lock(txn_lock_info *out, bs_slice key, const kv_lock *l);
int txn_ke_locked(txn_key_error *ke, bs_slice key, const kv_lock *l);
int txn_ke_write_conflict(txn_key_error *ke, uint64_t start_ts, uint64_t conflict_start_ts,
                          uint64_t conflict_commit_ts, bs_slice key, bs_slice primary,
                          txn_conflict_reason reason);
int txn_ke_already_exist(txn_key_error *ke, bs_slice key);
int txn_ke_commit_ts_expired(txn_key_error *ke, uint64_t start_ts, uint64_t commit_ts,
                             bs_slice key, uint64_t min_commit_ts);
int txn_ke_txn_not_found(txn_key_error *ke, uint64_t start_ts, bs_slice key);
int txn_ke_txn_lock_not_found(txn_key_error *ke, uint64_t start_ts, uint64_t commit_ts,
                              bs_slice key);
int txn_ke_committed(txn_key_error *ke, uint64_t start_ts, uint64_t commit_ts, bs_slice key);
int txn_ke_assertion_failed(txn_key_error *ke, uint64_t start_ts, bs_slice key,
                            txn_assertion assertion, uint64_t existing_start_ts,
                            uint64_t existing_commit_ts);
int txn_ke_primary_mismatch(txn_key_error *ke, bs_slice key, const kv_lock *l);
int txn_ke_abort(txn_key_error *ke, bs_slice key, uint64_t start_ts, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- actions: (reader, request) -> (additions to a->b, result) -------------------------
 * Each returns BS_OK, TXN_KEY_ERROR with *ke filled (the caller discards the additions),
 * or BS_EIO / BS_ECORRUPT with a->err set. Keys are validated by the caller. */

typedef struct txn_prewrite_props {
    bs_slice primary;
    uint64_t start_ts, lock_ttl, txn_size, min_commit_ts;
    bool skip_constraint_check;
    txn_assertion_level assertion_level;
    uint64_t one_pc_commit_ts; /* != 0: write commit records at this ts instead of locks */
} txn_prewrite_props;

typedef enum txn_prewrite_status {
    TXN_PREWRITE_WRITTEN = 0, /* a lock (or, 1PC, a commit) was added */
    TXN_PREWRITE_DUPLICATE,   /* this txn's lock is already there: nothing added */
    TXN_PREWRITE_CHECKED,     /* CHECK_NOT_EXISTS / CHECK_NOT_MODIFIED passed: no lock */
} txn_prewrite_status;

/* prewrite.c: one mutation. */
int txn_prewrite(txn_act *a, const txn_prewrite_props *p, const txn_mutation *m,
                 txn_prewrite_status *st, txn_key_error *ke);

/* commit.c: commits key's lock of start_ts at commit_ts (idempotent). */
int txn_commit(txn_act *a, bs_slice key, uint64_t start_ts, uint64_t commit_ts,
               txn_key_error *ke);
/* Adds the commit of lock l at commit_ts (record, raw version, guard) without the unlock:
 * shared by commit and 1PC. */
int txn_commit_lock(txn_act *a, bs_slice key, const kv_lock *l, uint64_t commit_ts);

/* rollback.c (TiKV cleanup.rs and the rollback half of check_txn_status.rs). */
typedef enum txn_missing_lock_action {
    TXN_MISSING_ROLLBACK = 0,       /* write a non-protected rollback, collapse the previous */
    TXN_MISSING_PROTECTED_ROLLBACK, /* write a protected rollback */
    TXN_MISSING_RETURN_ERROR,       /* TxnNotFound */
} txn_missing_lock_action;

typedef enum txn_status_kind {
    TXN_ST_ROLLED_BACK = 0,
    TXN_ST_TTL_EXPIRE,
    TXN_ST_LOCK_NOT_EXIST,
    TXN_ST_COMMITTED,
    TXN_ST_UNCOMMITTED,
    TXN_ST_PESSIMISTIC_ROLLBACK,
    TXN_ST_LOCK_NOT_EXIST_DO_NOTHING,
} txn_status_kind;

typedef struct txn_status {
    txn_status_kind kind;
    uint64_t commit_ts; /* COMMITTED */
} txn_status;

int txn_cleanup(txn_act *a, bs_slice key, uint64_t start_ts, uint64_t current_ts,
                bool protect_rollback, txn_key_error *ke);
/* Removes l (this txn's lock on key) and leaves the rollback record. */
int txn_rollback_lock(txn_act *a, bs_slice key, const kv_lock *l, bool protected_,
                      bool collapse);
/* Leaves the rollback record of start_ts on key (TiKV make_rollback): cr (from
 * txn_reader_get_txn_commit_record) says whether another txn's commit record occupies
 * key@start_ts, in which case a protected rollback becomes its overlapped-rollback flag. */
int txn_put_rollback(txn_act *a, bs_slice key, uint64_t start_ts, bool protected_,
                     const txn_commit_record *cr);
/* Deletes the newest non-protected rollback record below start_ts. */
int txn_collapse_prev_rollback(txn_act *a, bs_slice key, uint64_t start_ts);
/* Records start_ts in another txn's (async-commit) lock l on key, so its commit at that ts
 * keeps our protected rollback as a flag. */
void txn_mark_rollback_on_mismatching_lock(txn_act *a, bs_slice key, const kv_lock *l,
                                           uint64_t start_ts, bool protected_);
/* The lock of start_ts is not on key (mismatch: another txn's lock there, or NULL). */
int txn_check_txn_status_missing_lock(txn_act *a, bs_slice key, uint64_t start_ts,
                                      const kv_lock *mismatch, txn_missing_lock_action act,
                                      bool resolving_pessimistic, txn_status *st,
                                      txn_key_error *ke);

/* check_txn_status.c: fills res->lock_ttl, commit_ts, action, lock_info. */
int txn_check_txn_status(txn_act *a, const txn_check_txn_status_req *req, txn_kv_result *res,
                         txn_key_error *ke);

/* check_secondary_locks.c: fills res->locks / res->commit_ts. */
int txn_check_secondary_locks(txn_act *a, const bs_slice *keys, size_t n, uint64_t start_ts,
                              txn_kv_result *res, txn_key_error *ke);

/* txn_heart_beat.c */
int txn_heart_beat(txn_act *a, bs_slice primary, uint64_t start_ts, uint64_t advise_ttl,
                   uint64_t *lock_ttl, txn_key_error *ke);

/* resolve_lock.c: one key of txn start_ts: commit at commit_ts, or roll back when 0. */
int txn_resolve_lock(txn_act *a, bs_slice key, uint64_t start_ts, uint64_t commit_ts,
                     txn_key_error *ke);
/* The read phase of ResolveLock over [start, end): appends to *keys (caller owns the
 * buffers and the array; *n_keys entries) up to limit keys whose lock belongs to one of
 * txns, in key order, with each lock's start_ts in *lock_ts (same indexing). *more is set
 * when it stopped at limit: resume at the last key ‖ 0x00. */
int txn_resolve_lock_scan(txn_reader *r, bs_slice start, bs_slice end,
                          const txn_resolve_txn *txns, size_t n_txns, size_t limit,
                          bs_buf **keys, uint64_t **lock_ts, size_t *n_keys, bool *more);

/* scan_lock.c: walks the locks of [start, end) (API v2 keys; empty = unbounded) in key
 * order and calls fn for each (key and lock borrowed for the call) until fn returns false.
 * BS_OK, or BS_EIO / BS_ECORRUPT with r->err set. */
/* ---- the trampoline (latches.c) --------------------------------------------------------
 *
 * Latch wake-ups and key-wait completions run the woken command on the thread that
 * released the latch or freed the key, inside the call that did it. A chain of commands
 * (each run releasing a latch that wakes the next) would recurse without bound, so runs go
 * through a thread-local FIFO instead: the outermost schedule on a thread drains it, and a
 * schedule from inside a run only queues. One queue serves every command kind (command.c,
 * multi.c, txn_command.c); t is embedded in the command, which outlives its run. */
typedef struct txn_tramp {
    struct txn_tramp *next;
    void (*run)(struct txn_tramp *t);
} txn_tramp;
/* Calls t->run(t) on this thread: now, or when the run in progress on this thread returns.
 * t->run must be set. */
void txn_tramp_schedule(txn_tramp *t);

typedef bool (*txn_lock_visit_fn)(void *arg, bs_slice key, const kv_lock *l);
int txn_scan_locks(txn_reader *r, bs_slice start, bs_slice end, txn_lock_visit_fn fn,
                   void *arg);

#endif
