/* commit.c -- Percolator commit of one key: this txn's lock becomes a commit record.
 *
 * A lock of start_ts turns into write[key@commit_ts] = {type, start_ts, short value} and is
 * deleted, in one batch. For an 'r' key the lock's pending RawKV value is also written to
 * CF default at key@commit_ts, so the committed value is indistinguishable from a raw write
 * at commit_ts for every raw reader (mvcc_read.c looks at CF default only); a Delete writes
 * the raw deleted marker. Commit is idempotent: without the lock, a commit record of this
 * txn means a retried request succeeded already; a rollback or nothing means the lock was
 * resolved away (TxnLockNotFound) and the client must not report success.
 * commit_ts below the lock's min_commit_ts is refused (CommitTsExpired): a reader already
 * pushed the lock past it through CheckTxnStatus and relies on not seeing this txn.
 * Mirrors TiKV src/storage/txn/actions/commit.rs. */
#include <string.h>

#include "common/assert.h"
#include "common/log.h"
#include "txn/txn_int.h"

static kv_write_type write_type_of(kv_lock_type t)
{
    switch (t) {
    case KV_LOCK_PUT:
        return KV_WRITE_PUT;
    case KV_LOCK_DELETE:
        return KV_WRITE_DELETE;
    case KV_LOCK_LOCK:
    case KV_LOCK_PESSIMISTIC: /* a leftover pessimistic lock commits as Lock (TiKV) */
        return KV_WRITE_LOCK;
    }
    BS_UNREACHABLE();
}

/* The raw version an 'r' lock commits and its guard. */
static int commit_raw_value(txn_act *a, bs_slice key, const kv_lock *l, uint64_t commit_ts)
{
    bs_buf marker = BS_BUF_INIT;
    txn_write w;
    txn_write_init(&w);
    if (l->type == KV_LOCK_PUT) {
        kv_raw_value v;
        if (!l->has_basalt_value)
            return bs_err_setf(&a->err, BS_ECORRUPT, "raw put lock without a pending value");
        int rc = kv_raw_value_decode(l->basalt_value, &v, &a->err);
        if (rc != BS_OK)
            return rc;
        txn_mvcc_put_value(a, key, commit_ts, l->basalt_value);
        w.kind = v.deleted ? TXN_WRITE_DELETE : TXN_WRITE_PUT;
        w.expire_ms = v.has_expire ? v.expire_ms : 0;
        bs_buf_set(&w.value, v.value.ptr, v.value.len);
    } else {
        BS_ASSERT(l->type == KV_LOCK_DELETE);
        kv_raw_value_encode(&marker, BS_SLICE_NULL, 0, true);
        txn_mvcc_put_value(a, key, commit_ts, bs_buf_slice(&marker));
        w.kind = TXN_WRITE_DELETE;
    }
    txn_act_guard(a, key, commit_ts, &w);
    txn_write_deinit(&w);
    bs_buf_free(&marker);
    return BS_OK;
}

int txn_commit_lock(txn_act *a, bs_slice key, const kv_lock *l, uint64_t commit_ts)
{
    kv_write w;
    BS_ASSERT(commit_ts > l->start_ts);
    kv_write_init(&w);
    w.type = write_type_of(l->type);
    w.start_ts = l->start_ts;
    if (!txn_key_is_raw(key) && l->has_short_value) {
        w.has_short_value = true;
        w.short_value = l->short_value;
    }
    /* A rollback of another txn at exactly commit_ts was recorded on this lock because it
     * could not have its own record (same key and ts): keep it as a flag on ours. */
    for (size_t i = 0; i < l->n_rollback_ts; i++)
        if (kv_lock_rollback_ts_at(l, i) == commit_ts)
            w.has_overlapped_rollback = true;
    txn_mvcc_put_write(a, key, commit_ts, &w);
    if (w.type == KV_WRITE_LOCK)
        return BS_OK; /* no data changes */
    if (txn_key_is_raw(key))
        return commit_raw_value(a, key, l, commit_ts);
    if (a->guard_txn_keys) {
        /* 1PC on an 'x' key: readers at >= commit_ts must wait for the apply. Only raw
         * commands read a guard's value, and they never touch 'x' keys. */
        txn_write g;
        txn_write_init(&g);
        g.kind = w.type == KV_WRITE_PUT ? TXN_WRITE_PUT : TXN_WRITE_DELETE;
        txn_act_guard(a, key, commit_ts, &g);
        txn_write_deinit(&g);
    }
    return BS_OK;
}

int txn_commit(txn_act *a, bs_slice key, uint64_t start_ts, uint64_t commit_ts,
               txn_key_error *ke)
{
    txn_lock_rec lr;
    txn_commit_record cr;
    bool found;
    int rc;
    BS_ASSERT(commit_ts > start_ts); /* validated by the command layer */
    txn_lock_rec_init(&lr);
    txn_commit_record_init(&cr);
    rc = txn_reader_load_lock(&a->r, key, &lr, &found);
    if (rc != BS_OK)
        goto out;
    if (found && lr.lock.start_ts == start_ts) {
        if (commit_ts < lr.lock.min_commit_ts) {
            rc = txn_ke_commit_ts_expired(ke, start_ts, commit_ts, key, lr.lock.min_commit_ts);
            goto out;
        }
        rc = txn_commit_lock(a, key, &lr.lock, commit_ts);
        if (rc == BS_OK)
            txn_mvcc_unlock(a, key);
        goto out;
    }
    rc = txn_reader_get_txn_commit_record(&a->r, key, start_ts, &cr);
    if (rc != BS_OK)
        goto out;
    if (cr.kind == TXN_RECORD_SINGLE && cr.rec.w.type != KV_WRITE_ROLLBACK)
        goto out; /* committed before: a retry */
    char kb[BS_LOG_KEY_CAP];
    BS_LOG_INFO("txn conflict (lock not found)", "key=%s start_ts=%llu commit_ts=%llu",
                bs_log_key(key, kb, sizeof kb), (unsigned long long)start_ts,
                (unsigned long long)commit_ts);
    rc = txn_ke_txn_lock_not_found(ke, start_ts, commit_ts, key);
out:
    txn_commit_record_deinit(&cr);
    txn_lock_rec_deinit(&lr);
    return rc;
}
