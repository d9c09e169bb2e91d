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
/* Replaces *lo and *hi with the MVCC-key bounds [MCE(key) ‖ ~MAX, MCE(key) ‖ ~0) of all
 * versions of key (ts 0 is never written). */
void txn_version_bounds(bs_slice key, bs_buf *lo, bs_buf *hi);
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
 * predecessors and (for a write) itself applied; !ok = it or a predecessor failed. */
typedef void (*txn_pending_notify_fn)(void *owner, txn_pending *rec, bool ok);

/* One key's pending raw write (or no-op read) in the chain of that key. Owned by the
 * command (owner) that links it; the manager only links and unlinks it. */
struct txn_pending {
    txn_pending *next;         /* next record of the same key (chain order = log order) */
    struct txn_mem_lock *lock; /* the key's table entry while linked */
    bool linked;               /* under the manager's mutex */
    txn_pending_state state;
    uint64_t ts;               /* PROPOSED: the version's ts */
    txn_write write;           /* PROPOSED: what it writes (read by chained successors) */
    void *owner;
    txn_pending_notify_fn notify;
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
/* Sets rec PROPOSED at ts writing w (copied). */
void txn_cm_pending_propose(txn_cm *cm, txn_pending *rec, uint64_t ts, const txn_write *w);
/* Marks rec NOOP; when nothing precedes it, it is unlinked and notified ok. */
void txn_cm_pending_noop(txn_cm *cm, txn_pending *rec);
/* Reports rec's apply (ok) or failure. ok: unlinks rec and completes the NOOP records that
 * now head the chain. !ok: unlinks rec and every record after it, notifying them !ok.
 * rec's own notify is NOT called (the caller knows). Returns true when this call unlinked
 * rec, false when it was not linked (someone else already did, and notified its owner). */
bool txn_cm_pending_done(txn_cm *cm, txn_pending *rec, bool ok);

/* ---- timestamps ---------------------------------------------------------------------------- */

/* The ts for a write: above the causal source's next ts, above max_ts and above floor (the
 * newest version or pending write of every key it writes). BS_OK, or BS_EBUSY when the
 * causal source has no timestamp ready. */
int txn_choose_write_ts(txn_causal_ts *c, txn_cm *cm, uint64_t floor, uint64_t *ts);

#endif
