/* rollback.c -- Percolator rollback: KvBatchRollback and KvCleanup of one key, and the
 * rollback half shared with CheckTxnStatus and CheckSecondaryLocks.
 *
 * A rollback removes this txn's lock (and a 'x' long value at key@start_ts) and leaves a
 * Rollback record at write[key@start_ts], even when there was no lock: a prewrite that
 * arrives late (after the txn was declared dead by a resolver) must find it and fail with
 * SelfRolledBack instead of resurrecting the txn. Protected rollbacks (short value "p")
 * guard primary keys and survive collapsing; non-protected ones are collapsed (an older
 * non-protected rollback is deleted when a new one is written) so a key that is rolled back
 * often does not pile up records. When another txn committed exactly at our start_ts the
 * record slot is taken: a protected rollback then becomes the has_overlapped_rollback flag on
 * that commit record, a non-protected one is simply dropped. 'r' keys never have data in CF
 * default before commit, so only their lock and records change.
 * Mirrors TiKV src/storage/txn/actions/cleanup.rs and check_txn_status.rs (rollback_lock,
 * check_txn_status_missing_lock, collapse_prev_rollback, make_rollback); the rollback of a
 * primary key is always protected, whatever the txn's kind. */
#include <string.h>

#include "common/assert.h"
#include "common/log.h"
#include "txn/txn_int.h"

/* Deletes the newest record at or below start_ts when it is a non-protected rollback of an
 * earlier txn (the record at start_ts itself is this rollback's slot and is left alone). */
int txn_collapse_prev_rollback(txn_act *a, bs_slice key, uint64_t start_ts)
{
    txn_write_rec w;
    bool found;
    txn_write_rec_init(&w);
    int rc = txn_reader_seek_write(&a->r, key, start_ts, &w, &found);
    if (rc == BS_OK && found && w.commit_ts < start_ts && w.w.type == KV_WRITE_ROLLBACK &&
        !kv_write_is_protected_rollback(&w.w))
        txn_mvcc_delete_write(a, key, w.commit_ts);
    txn_write_rec_deinit(&w);
    return rc;
}

/* Leaves the rollback record of start_ts (TiKV make_rollback). cr says whether another
 * txn's commit record occupies key@start_ts. */
int txn_put_rollback(txn_act *a, bs_slice key, uint64_t start_ts, bool protected_,
                     const txn_commit_record *cr)
{
    kv_write w;
    if (cr->has_overlapped) {
        if (cr->rec.w.start_ts >= start_ts)
            return bs_err_setf(&a->err, BS_ECORRUPT,
                               "commit record at %llu has start_ts %llu",
                               (unsigned long long)start_ts,
                               (unsigned long long)cr->rec.w.start_ts);
        if (!protected_)
            return BS_OK; /* a non-protected rollback may be lost; keep their record */
        w = cr->rec.w;
        w.has_overlapped_rollback = true;
        txn_mvcc_put_write(a, key, start_ts, &w);
        return BS_OK;
    }
    kv_write_init_rollback(&w, start_ts, protected_);
    txn_mvcc_put_write(a, key, start_ts, &w);
    return BS_OK;
}

int txn_rollback_lock(txn_act *a, bs_slice key, const kv_lock *l, bool protected_,
                      bool collapse)
{
    txn_commit_record cr;
    int rc;
    txn_commit_record_init(&cr);
    rc = txn_reader_get_txn_commit_record(&a->r, key, l->start_ts, &cr);
    if (rc != BS_OK)
        goto out;
    if (cr.kind == TXN_RECORD_SINGLE && cr.rec.w.type != KV_WRITE_ROLLBACK) {
        /* Committed and still locked: prewrite refuses to lock over a newer commit record
         * of its own txn, so only damaged data gets here. */
        rc = bs_err_setf(&a->err, BS_ECORRUPT, "lock of start_ts %llu over its own commit record",
                         (unsigned long long)l->start_ts);
        goto out;
    }
    if (cr.kind == TXN_RECORD_NONE) {
        if (!txn_key_is_raw(key) && l->type == KV_LOCK_PUT && !l->has_short_value)
            txn_mvcc_delete_value(a, key, l->start_ts);
        rc = txn_put_rollback(a, key, l->start_ts, protected_, &cr);
        if (rc == BS_OK && collapse)
            rc = txn_collapse_prev_rollback(a, key, l->start_ts);
        if (rc != BS_OK)
            goto out;
    }
    /* else already rolled back: only the lock is left to remove */
    txn_mvcc_unlock(a, key);
out:
    txn_commit_record_deinit(&cr);
    return rc;
}

/* Another txn's lock sits on the key we write a protected rollback for. Only an
 * async-commit txn can commit at a computed ts equal to our start_ts, so only then is our
 * ts remembered in its lock (TiKV mark_rollback_on_mismatching_lock). Basalt writes no
 * async-commit locks, but a TiKV-written one is honoured. */
void txn_mark_rollback_on_mismatching_lock(txn_act *a, bs_slice key, const kv_lock *l,
                                           uint64_t start_ts, bool protected_)
{
    BS_ASSERT(l->start_ts != start_ts);
    if (!protected_ || start_ts < l->min_commit_ts || !l->use_async_commit)
        return;
    uint64_t *ts = bs_calloc(l->n_rollback_ts + 1, sizeof(uint64_t));
    for (size_t i = 0; i < l->n_rollback_ts; i++)
        ts[i] = kv_lock_rollback_ts_at(l, i);
    ts[l->n_rollback_ts] = start_ts;
    kv_lock nl = *l;
    nl.rollback_ts = ts;
    nl.n_rollback_ts = l->n_rollback_ts + 1;
    txn_mvcc_put_lock(a, key, &nl);
    bs_free(ts);
}

int txn_check_txn_status_missing_lock(txn_act *a, bs_slice key, uint64_t start_ts,
                                      const kv_lock *mismatch, txn_missing_lock_action act,
                                      bool resolving_pessimistic, txn_status *st,
                                      txn_key_error *ke)
{
    txn_commit_record cr;
    int rc;
    txn_commit_record_init(&cr);
    memset(st, 0, sizeof(*st));
    rc = txn_reader_get_txn_commit_record(&a->r, key, start_ts, &cr);
    if (rc != BS_OK)
        goto out;
    switch (cr.kind) {
    case TXN_RECORD_SINGLE:
        if (cr.rec.w.type == KV_WRITE_ROLLBACK) {
            st->kind = TXN_ST_ROLLED_BACK;
        } else {
            st->kind = TXN_ST_COMMITTED;
            st->commit_ts = cr.rec.commit_ts;
        }
        goto out;
    case TXN_RECORD_OVERLAPPED_ROLLBACK:
        st->kind = TXN_ST_ROLLED_BACK;
        goto out;
    case TXN_RECORD_NONE:
        break;
    }
    if (act == TXN_MISSING_RETURN_ERROR) {
        rc = txn_ke_txn_not_found(ke, start_ts, key);
        goto out;
    }
    if (resolving_pessimistic) {
        st->kind = TXN_ST_LOCK_NOT_EXIST_DO_NOTHING;
        goto out;
    }
    bool protected_ = act == TXN_MISSING_PROTECTED_ROLLBACK;
    if (!protected_) {
        rc = txn_collapse_prev_rollback(a, key, start_ts);
        if (rc != BS_OK)
            goto out;
    }
    if (mismatch && !cr.has_overlapped)
        txn_mark_rollback_on_mismatching_lock(a, key, mismatch, start_ts, protected_);
    /* The tombstone a late prewrite of this txn will trip over. */
    rc = txn_put_rollback(a, key, start_ts, protected_, &cr);
    st->kind = TXN_ST_LOCK_NOT_EXIST;
out:
    txn_commit_record_deinit(&cr);
    return rc;
}

int txn_cleanup(txn_act *a, bs_slice key, uint64_t start_ts, uint64_t current_ts,
                bool protect_rollback, txn_key_error *ke)
{
    txn_lock_rec lr;
    txn_status st;
    bool found;
    int rc;
    txn_lock_rec_init(&lr);
    rc = txn_reader_load_lock(&a->r, key, &lr, &found);
    if (rc != BS_OK)
        goto out;
    if (found && lr.lock.start_ts == start_ts) {
        /* With current_ts, only an expired lock may be rolled back: its owner may be alive. */
        if (current_ts &&
            txn_ts_physical(lr.lock.start_ts) + lr.lock.ttl >= txn_ts_physical(current_ts)) {
            rc = txn_ke_locked(ke, key, &lr.lock);
            goto out;
        }
        bool is_primary = bs_slice_eq(lr.lock.primary, key);
        rc = txn_rollback_lock(a, key, &lr.lock, protect_rollback || is_primary,
                               !protect_rollback);
        goto out;
    }
    rc = txn_check_txn_status_missing_lock(
        a, key, start_ts, found ? &lr.lock : NULL,
        protect_rollback ? TXN_MISSING_PROTECTED_ROLLBACK : TXN_MISSING_ROLLBACK, false, &st,
        ke);
    if (rc == BS_OK && st.kind == TXN_ST_COMMITTED) {
        char kb[BS_LOG_KEY_CAP];
        BS_LOG_INFO("rollback of a committed txn", "key=%s start_ts=%llu commit_ts=%llu",
                    bs_log_key(key, kb, sizeof kb), (unsigned long long)start_ts,
                    (unsigned long long)st.commit_ts);
        rc = txn_ke_committed(ke, start_ts, st.commit_ts, key);
    }
    /* ROLLED_BACK (a retry) and LOCK_NOT_EXIST (tombstone written) are both fine. */
out:
    txn_lock_rec_deinit(&lr);
    return rc;
}
