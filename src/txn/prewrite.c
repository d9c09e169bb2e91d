/* prewrite.c -- Percolator prewrite of one mutation.
 *
 * Checks for a conflicting lock or a newer committed write at or after start_ts, then adds
 * a lock carrying the value (CF lock) to the caller's write batch. Nothing here writes to
 * the engine: the batch is proposed through the Region's raft group by cluster/, so a
 * prewrite is durable exactly when its raft entry is applied.
 * Mirrors TiKV src/storage/txn/actions/prewrite.rs (optimistic transactions), with two
 * Basalt additions:
 *   - 'r' keys: raw writes leave no write record, so a raw version newer than start_ts is
 *     a write conflict too (checked always: skip_constraint_check is for TiDB's 'x' keys),
 *     and the lock carries the whole RawKV value (with its expiry) in the 'V' field, so
 *     commit can write it at commit_ts unchanged;
 *   - the watch check of Redis's WATCH: a data version newer than the one seen at WATCH,
 *     or a value that was live at WATCH and has expired since, is a conflict.
 * Order of checks (TiKV's): this key's lock (another txn's -> KeyIsLocked; ours -> the
 * request is a retry and nothing is written), then the newest write record (newer ->
 * WriteConflict; our own rollback -> SelfRolledBack), existence constraints, assertions.
 * With one_pc_commit_ts the would-be lock is committed on the spot (commit.c). */
#include <string.h>

#include "common/assert.h"
#include "common/log.h"
#include "txn/txn_int.h"

static kv_lock_type lock_type_of(txn_op op)
{
    switch (op) {
    case TXN_OP_PUT:
    case TXN_OP_INSERT:
        return KV_LOCK_PUT;
    case TXN_OP_DEL:
        return KV_LOCK_DELETE;
    case TXN_OP_LOCK:
        return KV_LOCK_LOCK;
    default:
        BS_UNREACHABLE(); /* the command layer admits only the ops handled above and the
                           * check-only ops, which never reach here */
    }
}

/* The newest write record against start_ts: newer -> WriteConflict; a rollback of this
 * very txn -> SelfRolledBack (a late prewrite after a cleanup must not resurrect it). */
static int check_for_newer_write(txn_act *a, const txn_prewrite_props *p, bs_slice key,
                                 txn_key_error *ke)
{
    txn_write_rec w;
    bool found;
    txn_write_rec_init(&w);
    int rc = txn_reader_seek_write(&a->r, key, UINT64_MAX, &w, &found);
    if (rc == BS_OK && found) {
        if (w.commit_ts > p->start_ts)
            rc = txn_ke_write_conflict(ke, p->start_ts, w.w.start_ts, w.commit_ts, key,
                                       p->primary, TXN_CONFLICT_OPTIMISTIC);
        else if (w.commit_ts == p->start_ts &&
                 (w.w.type == KV_WRITE_ROLLBACK || w.w.has_overlapped_rollback))
            rc = txn_ke_write_conflict(ke, p->start_ts, w.w.start_ts, w.commit_ts, key,
                                       p->primary, TXN_CONFLICT_SELF_ROLLED_BACK);
    }
    txn_write_rec_deinit(&w);
    return rc;
}

/* Constraint, assertion and watch checks over the newest data version v. */
static int check_data(const txn_prewrite_props *p, const txn_mutation *m, bool check_newer,
                      const txn_version *v, txn_key_error *ke)
{
    bs_slice key = m->key;
    if (txn_key_is_raw(key) && v->found && v->commit_ts > p->start_ts)
        return txn_ke_write_conflict(ke, p->start_ts, v->start_ts, v->commit_ts, key,
                                     p->primary, TXN_CONFLICT_OPTIMISTIC);
    if (check_newer && (m->op == TXN_OP_INSERT || m->op == TXN_OP_CHECK_NOT_EXISTS) && v->live)
        return txn_ke_already_exist(ke, key);
    if (p->assertion_level != TXN_ASSERT_OFF) {
        if (m->assertion == TXN_ASSERT_EXIST && !v->live)
            return txn_ke_assertion_failed(ke, p->start_ts, key, m->assertion, v->start_ts,
                                           v->commit_ts);
        if (m->assertion == TXN_ASSERT_NOT_EXIST && v->live)
            return txn_ke_assertion_failed(ke, p->start_ts, key, m->assertion, v->start_ts,
                                           v->commit_ts);
    }
    if (m->watch && ((v->found && v->commit_ts > m->watch_ts) || (m->watch_live && !v->live)))
        return txn_ke_write_conflict(ke, p->start_ts, v->start_ts, v->commit_ts, key,
                                     p->primary, TXN_CONFLICT_WATCH);
    return BS_OK;
}

/* Adds the lock (or, 1PC, its commit). */
static int write_lock(txn_act *a, const txn_prewrite_props *p, const txn_mutation *m)
{
    bs_buf raw_value = BS_BUF_INIT;
    kv_lock l;
    kv_lock_init(&l);
    l.type = lock_type_of(m->op);
    l.primary = p->primary;
    l.start_ts = p->start_ts;
    l.ttl = p->lock_ttl;
    l.txn_size = p->txn_size;
    l.min_commit_ts = p->min_commit_ts;
    if (l.type == KV_LOCK_PUT) {
        if (txn_key_is_raw(m->key)) {
            /* The exact RawKV version commit will write, expiry included. */
            kv_raw_value_encode(&raw_value, m->value, m->expire_ms, false);
            l.has_basalt_value = true;
            l.basalt_value = bs_buf_slice(&raw_value);
        } else if (m->value.len <= KV_SHORT_VALUE_MAX) {
            l.has_short_value = true;
            l.short_value = m->value;
        } else {
            txn_mvcc_put_value(a, m->key, p->start_ts, m->value);
        }
    }
    int rc = BS_OK;
    if (p->one_pc_commit_ts)
        rc = txn_commit_lock(a, m->key, &l, p->one_pc_commit_ts);
    else
        txn_mvcc_put_lock(a, m->key, &l);
    bs_buf_free(&raw_value);
    return rc;
}

int txn_prewrite(txn_act *a, const txn_prewrite_props *p, const txn_mutation *m,
                 txn_prewrite_status *st, txn_key_error *ke)
{
    bs_slice key = m->key;
    bool raw = txn_key_is_raw(key), found;
    bool check_newer = raw || !p->skip_constraint_check;
    txn_lock_rec lr;
    txn_version v;
    int rc;
    BS_ASSERT(p->start_ts > 0 && (!p->one_pc_commit_ts || p->one_pc_commit_ts > p->start_ts));
    *st = TXN_PREWRITE_WRITTEN;
    txn_lock_rec_init(&lr);
    txn_version_init(&v);

    rc = txn_reader_load_lock(&a->r, key, &lr, &found);
    if (rc != BS_OK)
        goto out;
    if (found) {
        if (lr.lock.start_ts != p->start_ts) {
            rc = txn_ke_locked(ke, key, &lr.lock);
        } else if (lr.lock.type == KV_LOCK_PESSIMISTIC) {
            /* An optimistic prewrite over a pessimistic lock of the same ts: TiKV's
             * LockTypeNotMatch. Basalt never writes 'S' locks itself. */
            rc = txn_ke_abort(ke, key, p->start_ts,
                              "LockTypeNotMatch: optimistic prewrite over a pessimistic lock");
        } else {
            *st = TXN_PREWRITE_DUPLICATE; /* a retried request: keep the lock as it is */
        }
        goto out;
    }

    if (check_newer) {
        rc = check_for_newer_write(a, p, key, ke);
        if (rc != BS_OK)
            goto out;
    }
    bool need_version = raw || m->watch || m->op == TXN_OP_INSERT ||
                        m->op == TXN_OP_CHECK_NOT_EXISTS ||
                        (p->assertion_level != TXN_ASSERT_OFF && m->assertion != TXN_ASSERT_NONE);
    if (need_version) {
        rc = txn_reader_newest_version(&a->r, key, UINT64_MAX, false, &v);
        if (rc == BS_OK)
            rc = check_data(p, m, check_newer, &v, ke);
        if (rc != BS_OK)
            goto out;
    }

    if (m->op == TXN_OP_CHECK_NOT_EXISTS || m->op == TXN_OP_CHECK_NOT_MODIFIED) {
        /* A check is a read at start_ts: later writes must land above it (TiKV). */
        txn_cm_update_max_ts(a->cm, p->start_ts);
        *st = TXN_PREWRITE_CHECKED;
        goto out;
    }
    rc = write_lock(a, p, m);
out:
    txn_version_deinit(&v);
    txn_lock_rec_deinit(&lr);
    return rc;
}
