/* check_txn_status.c -- what a lock resolver learns about a txn from its primary key.
 *
 * A reader blocked by a lock asks the primary: committed (commit_ts), rolled back, or
 * alive (lock_ttl, lock_info). The primary decides the txn, so this is also where a dead
 * txn is declared dead: a lock whose TTL ran out (physical(start_ts) + ttl <
 * physical(current_ts), TSO physical ms) is rolled back with a protected rollback, and a
 * primary that was never locked gets a protected rollback too when rollback_if_not_exist,
 * so the txn can never commit afterwards. For a live lock with min_commit_ts the reader's
 * caller_start_ts is pushed below it (min_commit_ts = max(caller_start_ts + 1,
 * current_ts)), so the txn commits above the reader and the reader may skip the lock.
 * Async-commit locks are never rolled back here (CheckSecondaryLocks decides them).
 * Mirrors TiKV src/storage/txn/actions/check_txn_status.rs and
 * commands/check_txn_status.rs, including its max_ts update. */
#include <string.h>

#include "common/assert.h"
#include "txn/txn_int.h"

static void set_uncommitted(txn_kv_result *res, bs_slice primary, const kv_lock *l,
                            bool pushed)
{
    res->lock_ttl = l->ttl;
    res->action = pushed ? TXN_ACTION_MIN_COMMIT_TS_PUSHED : TXN_ACTION_NO_ACTION;
    res->has_lock_info = true;
    txn_lock_info_from_lock(&res->lock_info, primary, l);
}

static int lock_exists(txn_act *a, const txn_check_txn_status_req *req, kv_lock *l,
                       txn_kv_result *res)
{
    bs_slice key = req->primary_key;
    if (l->use_async_commit && !req->force_sync_commit) {
        set_uncommitted(res, key, l, false);
        return BS_OK;
    }
    if (txn_ts_physical(l->start_ts) + l->ttl < txn_ts_physical(req->current_ts)) {
        if (req->resolving_pessimistic_lock && l->type == KV_LOCK_PESSIMISTIC) {
            txn_mvcc_unlock(a, key); /* a pessimistic primary: just released */
            res->action = TXN_ACTION_TTL_EXPIRE_PESSIMISTIC_ROLLBACK;
            return BS_OK;
        }
        int rc = txn_rollback_lock(a, key, l, true, true);
        if (rc == BS_OK)
            res->action = TXN_ACTION_TTL_EXPIRE_ROLLBACK;
        return rc;
    }
    /* min_commit_ts 0 marks a txn whose committer may not know min_commit_ts (TiKV keeps
     * old clients working by never pushing those). */
    if (l->min_commit_ts && req->caller_start_ts != UINT64_MAX &&
        req->caller_start_ts >= l->min_commit_ts) {
        l->min_commit_ts = req->caller_start_ts + 1;
        if (l->min_commit_ts < req->current_ts)
            l->min_commit_ts = req->current_ts;
        txn_mvcc_put_lock(a, key, l);
    }
    bool pushed = (req->caller_start_ts != 0 && l->min_commit_ts > req->caller_start_ts) ||
                  req->caller_start_ts == UINT64_MAX;
    set_uncommitted(res, key, l, pushed);
    return BS_OK;
}

int txn_check_txn_status(txn_act *a, const txn_check_txn_status_req *req, txn_kv_result *res,
                         txn_key_error *ke)
{
    bs_slice key = req->primary_key;
    uint64_t max_ts = req->lock_ts;
    txn_lock_rec lr;
    txn_status st;
    bool found;
    int rc;
    /* The caller reads at caller_start_ts (and current_ts is a fresh TSO): later writes,
     * including a pushed commit, must land above them. */
    if (req->current_ts != UINT64_MAX && req->current_ts > max_ts)
        max_ts = req->current_ts;
    if (req->caller_start_ts != UINT64_MAX && req->caller_start_ts > max_ts)
        max_ts = req->caller_start_ts;
    txn_cm_update_max_ts(a->cm, max_ts);

    txn_lock_rec_init(&lr);
    rc = txn_reader_load_lock(&a->r, key, &lr, &found);
    if (rc != BS_OK)
        goto out;
    if (found && lr.lock.start_ts == req->lock_ts) {
        if (req->verify_is_primary && !bs_slice_eq(lr.lock.primary, key))
            rc = txn_ke_primary_mismatch(ke, key, &lr.lock);
        else
            rc = lock_exists(a, req, &lr.lock, res);
        goto out;
    }
    rc = txn_check_txn_status_missing_lock(
        a, key, req->lock_ts, found ? &lr.lock : NULL,
        req->rollback_if_not_exist ? TXN_MISSING_PROTECTED_ROLLBACK : TXN_MISSING_RETURN_ERROR,
        req->resolving_pessimistic_lock, &st, ke);
    if (rc != BS_OK)
        goto out;
    switch (st.kind) {
    case TXN_ST_COMMITTED:
        res->commit_ts = st.commit_ts;
        break;
    case TXN_ST_ROLLED_BACK:
        res->action = TXN_ACTION_NO_ACTION; /* lock_ttl 0, commit_ts 0: rolled back */
        break;
    case TXN_ST_LOCK_NOT_EXIST:
        res->action = TXN_ACTION_LOCK_NOT_EXIST_ROLLBACK;
        break;
    case TXN_ST_LOCK_NOT_EXIST_DO_NOTHING:
        res->action = TXN_ACTION_LOCK_NOT_EXIST_DO_NOTHING;
        break;
    default:
        BS_UNREACHABLE(); /* the missing-lock path reports only the kinds above */
    }
out:
    txn_lock_rec_deinit(&lr);
    return rc;
}
