/* check_secondary_locks.c -- the async-commit half of lock resolution: are all the
 * secondaries of txn start_ts still locked?
 *
 * An async-commit txn is committed once every key is prewritten, so a resolver that finds
 * its primary still locked asks the secondaries. Each key answers "locked" (the lock info
 * is collected), "committed at ts" (the resolver commits everything there) or "rolled back".
 * A key with neither lock nor record gets a protected rollback on the spot, so the answer
 * cannot change afterwards: a delayed prewrite will fail with SelfRolledBack. A pessimistic
 * lock of the txn counts as rolled back (it was never prewritten) and is removed.
 * Basalt does not serve async commit itself, but TiKV clients may call this for locks they
 * see; it works on any lock. Mirrors TiKV src/storage/txn/commands/check_secondary_locks.rs
 * (which raises max_ts to start_ts first). */
#include <string.h>

#include "common/assert.h"
#include "txn/txn_int.h"

typedef enum sec_status { SEC_LOCKED, SEC_COMMITTED, SEC_ROLLED_BACK } sec_status;

/* One key: its status, and the rollback written when its fate was still open. */
static int check_one(txn_act *a, bs_slice key, uint64_t start_ts, txn_kv_result *res,
                     sec_status *status)
{
    txn_lock_rec lr;
    txn_commit_record cr;
    bool found, need_rollback = false;
    const kv_lock *mismatch = NULL;
    int rc;
    txn_lock_rec_init(&lr);
    txn_commit_record_init(&cr);
    rc = txn_reader_load_lock(&a->r, key, &lr, &found);
    if (rc != BS_OK)
        goto out;
    if (found && lr.lock.start_ts == start_ts) {
        if (lr.lock.type != KV_LOCK_PESSIMISTIC) {
            *status = SEC_LOCKED;
            txn_lock_info_from_lock(txn_lock_infos_push(&res->locks), key, &lr.lock);
            goto out;
        }
        txn_mvcc_unlock(a, key);
        rc = txn_reader_get_txn_commit_record(&a->r, key, start_ts, &cr);
        *status = SEC_ROLLED_BACK;
        need_rollback = cr.kind == TXN_RECORD_NONE;
    } else {
        mismatch = found ? &lr.lock : NULL;
        rc = txn_reader_get_txn_commit_record(&a->r, key, start_ts, &cr);
        if (rc != BS_OK)
            goto out;
        switch (cr.kind) {
        case TXN_RECORD_SINGLE:
            /* A record is final: a commit cannot change, a rollback was either protected by
             * an earlier check or written by the txn's own client giving up. */
            if (cr.rec.w.type == KV_WRITE_ROLLBACK) {
                *status = SEC_ROLLED_BACK;
            } else {
                *status = SEC_COMMITTED;
                res->commit_ts = cr.rec.commit_ts;
            }
            break;
        case TXN_RECORD_OVERLAPPED_ROLLBACK:
            *status = SEC_ROLLED_BACK;
            break;
        case TXN_RECORD_NONE:
            *status = SEC_ROLLED_BACK;
            need_rollback = true;
            break;
        }
    }
    if (rc != BS_OK || !need_rollback)
        goto out;
    if (mismatch && !cr.has_overlapped)
        txn_mark_rollback_on_mismatching_lock(a, key, mismatch, start_ts, true);
    /* Protected: a collapsed rollback would let a stale prewrite succeed again. */
    rc = txn_put_rollback(a, key, start_ts, true, &cr);
    if (rc == BS_OK)
        rc = txn_collapse_prev_rollback(a, key, start_ts);
out:
    txn_commit_record_deinit(&cr);
    txn_lock_rec_deinit(&lr);
    return rc;
}

int txn_check_secondary_locks(txn_act *a, const bs_slice *keys, size_t n, uint64_t start_ts,
                              txn_kv_result *res, txn_key_error *ke)
{
    (void)ke; /* every outcome is a status, never a key error */
    txn_cm_update_max_ts(a->cm, start_ts);
    res->commit_ts = 0;
    for (size_t i = 0; i < n; i++) {
        sec_status st = SEC_LOCKED;
        int rc = check_one(a, keys[i], start_ts, res, &st);
        if (rc != BS_OK)
            return rc;
        if (st != SEC_LOCKED) {
            /* Committed or rolled back decides the txn: the locks seen so far are moot. */
            txn_lock_infos_free(&res->locks);
            return BS_OK;
        }
    }
    return BS_OK;
}
