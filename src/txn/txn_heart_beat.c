/* txn_heart_beat.c -- a long txn keeps its primary lock alive.
 *
 * Resolvers roll back a primary whose TTL has run out (check_txn_status.c); a committer
 * that needs longer than its initial lock_ttl raises the TTL of its primary lock before it
 * expires. The TTL only grows (ttl = max(ttl, advise)), so a late, smaller heartbeat never
 * shortens it. A missing lock (committed, rolled back or never written) is TxnNotFound: the
 * committer must stop and find out what happened. Mirrors TiKV
 * src/storage/txn/commands/txn_heart_beat.rs. */
#include "txn/txn_int.h"

int txn_heart_beat(txn_act *a, bs_slice primary, uint64_t start_ts, uint64_t advise_ttl,
                   uint64_t *lock_ttl, txn_key_error *ke)
{
    txn_lock_rec lr;
    bool found;
    txn_lock_rec_init(&lr);
    int rc = txn_reader_load_lock(&a->r, primary, &lr, &found);
    if (rc == BS_OK && (!found || lr.lock.start_ts != start_ts))
        rc = txn_ke_txn_not_found(ke, start_ts, primary);
    if (rc == BS_OK) {
        if (lr.lock.ttl < advise_ttl) {
            lr.lock.ttl = advise_ttl;
            txn_mvcc_put_lock(a, primary, &lr.lock);
        }
        *lock_ttl = lr.lock.ttl;
    }
    txn_lock_rec_deinit(&lr);
    return rc;
}
