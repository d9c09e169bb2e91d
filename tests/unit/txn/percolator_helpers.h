/* percolator_helpers.h -- helpers for the Percolator tests that read like TiKV's
 * (src/storage/txn/actions/tests.rs, src/storage/mvcc/mod.rs): must_prewrite_put,
 * must_locked, must_written, must_commit, must_rollback, must_get, ... over the txn
 * harness (harness.h). Every helper runs a command through the real command layer with the
 * harness's proposer (applied at once unless the test holds proposals) and fails the test
 * on a mismatch. Keys are user keys as C strings in keyspace 0 of the current layout
 * (pt_mode: KV_MODE_TXN or KV_MODE_RAW), so one test body covers both layouts. */
#ifndef BASALT_TESTS_TXN_PERCOLATOR_HELPERS_H
#define BASALT_TESTS_TXN_PERCOLATOR_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/kv.h"
#include "txn/harness.h"
#include "txn/txn.h"

extern uint8_t pt_mode; /* the layout the current test runs in */

/* cmocka setups: a fresh harness in the 'x' / 'r' layout, the wall clock pinned at PT_NOW. */
#define PT_NOW TH_NOW
int pt_setup_txn(void **state);
int pt_setup_raw(void **state);
int pt_teardown(void **state);

/* Two cmocka entries for test t: one per layout, named "t [x]" and "t [r]". */
#define PT_BOTH(t)                                                             \
    {#t " [x]", t, pt_setup_txn, pt_teardown, NULL},                           \
        {#t " [r]", t, pt_setup_raw, pt_teardown, NULL}

/* A TSO timestamp from physical ms and logical. */
static inline uint64_t pt_ts(uint64_t physical, uint64_t logical)
{
    return (physical << 18) | logical;
}

/* The full key of user in the current layout. Slices live in a ring of 32 buffers, so a
 * test can hold several at once (valid until 32 more pt_key calls). */
bs_slice pt_key(const char *user);
/* A value of n bytes 'v' (long values: > 255 bytes); from a ring of 8 buffers. */
bs_slice pt_long_value(size_t n);

/* A txn_kv_result copied out of the callback. */
typedef struct pt_res {
    int calls;
    int code;
    txn_error_kind kind;
    size_t n_errors;
    txn_key_error errors[8]; /* the first 8 */
    uint64_t one_pc_commit_ts, commit_ts, lock_ttl;
    txn_status_action action;
    bool has_lock_info;
    txn_lock_info lock_info;
    txn_lock_infos locks;
} pt_res;

void pt_res_init(pt_res *r);
void pt_res_free(pt_res *r);
void pt_cb(void *arg, const txn_kv_result *res);

/* A mutation of the current layout (key from pt_key, value borrowed). */
txn_mutation pt_mut(txn_op op, const char *key, bs_slice value);
/* A prewrite request of one txn (primary from pt_key); mutations borrowed. */
txn_prewrite_req pt_req(const txn_mutation *m, size_t n, const char *primary, uint64_t start_ts);

/* Runs a prewrite and applies it (unless the harness holds proposals); fills *r. */
void pt_prewrite(th *h, const txn_prewrite_req *req, pt_res *r);

void must_prewrite_put(th *h, const char *key, bs_slice value, const char *primary,
                       uint64_t ts);
void must_prewrite_put_ttl(th *h, const char *key, bs_slice value, const char *primary,
                           uint64_t ts, uint64_t lock_ttl, uint64_t min_commit_ts);
void must_prewrite_delete(th *h, const char *key, const char *primary, uint64_t ts);
void must_prewrite_lock(th *h, const char *key, const char *primary, uint64_t ts);
/* The prewrite of one Put must fail; returns the first key error's kind and copies the
 * error into *ke when non-NULL (caller deinits). */
txn_key_error_kind must_prewrite_put_err(th *h, const char *key, bs_slice value,
                                         const char *primary, uint64_t ts, txn_key_error *ke);
txn_key_error_kind must_prewrite_mut_err(th *h, const txn_mutation *m, const char *primary,
                                         uint64_t ts, txn_key_error *ke);

void must_commit(th *h, const char *key, uint64_t start_ts, uint64_t commit_ts);
txn_key_error_kind must_commit_err(th *h, const char *key, uint64_t start_ts,
                                   uint64_t commit_ts, txn_key_error *ke);
void must_rollback(th *h, const char *key, uint64_t start_ts);
txn_key_error_kind must_rollback_err(th *h, const char *key, uint64_t start_ts,
                                     txn_key_error *ke);
/* Cleanup; returns res.commit_ts (0 unless the txn was committed). */
uint64_t must_cleanup(th *h, const char *key, uint64_t start_ts, uint64_t current_ts);
txn_key_error_kind must_cleanup_err(th *h, const char *key, uint64_t start_ts,
                                    uint64_t current_ts, txn_key_error *ke);

/* The lock on key must have start_ts; returns it decoded into *out (caller deinits with
 * pt_lock_free) when out is non-NULL. */
typedef struct pt_lock {
    bs_buf raw;
    kv_lock lock;
} pt_lock;
void must_locked(th *h, const char *key, uint64_t start_ts, pt_lock *out);
void pt_lock_free(pt_lock *l);
void must_unlocked(th *h, const char *key);
/* The write record at key@commit_ts must exist with start_ts and type. */
void must_written(th *h, const char *key, uint64_t start_ts, uint64_t commit_ts,
                  kv_write_type type);
/* Reads the write record at key@commit_ts; returns false when absent. */
bool pt_get_write(th *h, const char *key, uint64_t commit_ts, bs_buf *raw, kv_write *w);
void must_get_rollback(th *h, const char *key, uint64_t start_ts, bool protected_);
void must_get_no_write(th *h, const char *key, uint64_t commit_ts);
/* CF default key@ts exists / does not. */
bool pt_has_default(th *h, const char *key, uint64_t ts);

/* KvGet at ts. */
void must_get(th *h, const char *key, uint64_t ts, bs_slice value);
void must_get_none(th *h, const char *key, uint64_t ts);
/* The read must be blocked by a lock of lock_ts. */
void must_get_locked(th *h, const char *key, uint64_t ts, uint64_t lock_ts);

/* Writes a lock record straight into the engine (for states the commands never create:
 * pessimistic locks, rollback_ts lists). */
void pt_put_lock(th *h, const char *key, const kv_lock *l);
/* pt_put_lock of a pessimistic lock on key, its own primary, at start_ts = for_update_ts =
 * ts with lock TTL ttl. */
void pt_put_pessimistic_lock(th *h, const char *key, uint64_t ts, uint64_t ttl);

#endif
