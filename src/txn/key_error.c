/* key_error.c -- the Percolator domain errors (kvrpcpb.KeyError) and lock infos.
 *
 * Why a file of its own: every action reports its outcome as data the client acts on --
 * KeyIsLocked carries the LockInfo the lock resolver needs, WriteConflict the conflicting
 * commit, CommitTsExpired the min_commit_ts to retry above (STYLE.md §4: domain errors carry
 * what is needed to act on them). One constructor per kind keeps the fields TiKV fills for
 * each kind (src/storage/errors.rs, extract_key_error) in one place, and the messages in
 * TiKV's wording where a text field (retryable / abort) carries them. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/assert.h"
#include "txn/txn_int.h"

int txn_check_pct_key(bs_slice key, txn_error *e)
{
    if (key.len < KV_PREFIX_LEN || (key.ptr[0] != KV_MODE_RAW && key.ptr[0] != KV_MODE_TXN))
        return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_KEY_MODE, NULL);
    return BS_OK;
}

/* ---- lock infos ------------------------------------------------------------------------ */

void txn_lock_info_init(txn_lock_info *li)
{
    memset(li, 0, sizeof(*li));
}

void txn_lock_info_deinit(txn_lock_info *li)
{
    if (!li)
        return;
    bs_buf_free(&li->primary);
    bs_buf_free(&li->key);
    txn_lock_info_init(li);
}

void txn_lock_info_copy(txn_lock_info *dst, const txn_lock_info *src)
{
    bs_buf p = dst->primary, k = dst->key;
    *dst = *src;
    dst->primary = p;
    dst->key = k;
    bs_buf_set(&dst->primary, src->primary.ptr, src->primary.len);
    bs_buf_set(&dst->key, src->key.ptr, src->key.len);
}

static txn_op op_of_lock_type(kv_lock_type t)
{
    switch (t) {
    case KV_LOCK_PUT:
        return TXN_OP_PUT;
    case KV_LOCK_DELETE:
        return TXN_OP_DEL;
    case KV_LOCK_LOCK:
        return TXN_OP_LOCK;
    case KV_LOCK_PESSIMISTIC:
        return TXN_OP_PESSIMISTIC_LOCK;
    }
    BS_UNREACHABLE(); /* kv_lock_decode accepts only these four */
}

void txn_lock_info_from_lock(txn_lock_info *out, bs_slice key, const kv_lock *l)
{
    bs_buf_set(&out->primary, l->primary.ptr, l->primary.len);
    bs_buf_set(&out->key, key.ptr, key.len);
    out->lock_version = l->start_ts;
    out->lock_ttl = l->ttl;
    out->txn_size = l->txn_size;
    out->lock_type = op_of_lock_type(l->type);
    out->lock_for_update_ts = l->for_update_ts;
    out->use_async_commit = l->use_async_commit;
    out->min_commit_ts = l->min_commit_ts;
}

void txn_lock_infos_init(txn_lock_infos *l)
{
    memset(l, 0, sizeof(*l));
}

void txn_lock_infos_free(txn_lock_infos *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        txn_lock_info_deinit(&l->v[i]);
    bs_free(l->v);
    txn_lock_infos_init(l);
}

txn_lock_info *txn_lock_infos_push(txn_lock_infos *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = bs_realloc(l->v, l->cap * sizeof(*l->v));
    }
    txn_lock_info_init(&l->v[l->n]);
    return &l->v[l->n++];
}

/* ---- key errors -------------------------------------------------------------------------- */

void txn_key_error_init(txn_key_error *ke)
{
    memset(ke, 0, sizeof(*ke));
}

void txn_key_error_deinit(txn_key_error *ke)
{
    if (!ke)
        return;
    bs_buf_free(&ke->key);
    bs_buf_free(&ke->primary);
    txn_lock_info_deinit(&ke->lock);
    txn_key_error_init(ke);
}

/* Starts a key error of kind about key (previous contents dropped). */
static void begin(txn_key_error *ke, txn_key_error_kind kind, bs_slice key, uint64_t start_ts)
{
    txn_key_error_deinit(ke);
    ke->kind = kind;
    ke->start_ts = start_ts;
    bs_buf_set(&ke->key, key.ptr, key.len);
}

int txn_ke_locked(txn_key_error *ke, bs_slice key, const kv_lock *l)
{
    begin(ke, TXN_KEY_ERR_LOCKED, key, 0);
    txn_lock_info_from_lock(&ke->lock, key, l);
    snprintf(ke->msg, sizeof(ke->msg), "key is locked (lock_version %llu)",
             (unsigned long long)l->start_ts);
    return TXN_KEY_ERROR;
}

int txn_ke_write_conflict(txn_key_error *ke, uint64_t start_ts, uint64_t conflict_start_ts,
                          uint64_t conflict_commit_ts, bs_slice key, bs_slice primary,
                          txn_conflict_reason reason)
{
    begin(ke, TXN_KEY_ERR_WRITE_CONFLICT, key, start_ts);
    ke->conflict_start_ts = conflict_start_ts;
    ke->conflict_commit_ts = conflict_commit_ts;
    ke->reason = reason;
    bs_buf_set(&ke->primary, primary.ptr, primary.len);
    /* TiKV's retryable text for a write conflict. */
    snprintf(ke->msg, sizeof(ke->msg),
             "Write conflict, start_ts: %llu, conflict_start_ts: %llu, conflict_commit_ts: %llu",
             (unsigned long long)start_ts, (unsigned long long)conflict_start_ts,
             (unsigned long long)conflict_commit_ts);
    return TXN_KEY_ERROR;
}

int txn_ke_already_exist(txn_key_error *ke, bs_slice key)
{
    begin(ke, TXN_KEY_ERR_ALREADY_EXIST, key, 0);
    snprintf(ke->msg, sizeof(ke->msg), "key already exists");
    return TXN_KEY_ERROR;
}

int txn_ke_commit_ts_expired(txn_key_error *ke, uint64_t start_ts, uint64_t commit_ts,
                             bs_slice key, uint64_t min_commit_ts)
{
    begin(ke, TXN_KEY_ERR_COMMIT_TS_EXPIRED, key, start_ts);
    ke->commit_ts = commit_ts;
    ke->min_commit_ts = min_commit_ts;
    snprintf(ke->msg, sizeof(ke->msg),
             "commit_ts expired, start_ts: %llu, commit_ts: %llu, min_commit_ts: %llu",
             (unsigned long long)start_ts, (unsigned long long)commit_ts,
             (unsigned long long)min_commit_ts);
    return TXN_KEY_ERROR;
}

int txn_ke_txn_not_found(txn_key_error *ke, uint64_t start_ts, bs_slice key)
{
    begin(ke, TXN_KEY_ERR_TXN_NOT_FOUND, key, start_ts);
    snprintf(ke->msg, sizeof(ke->msg), "txn not found, start_ts: %llu",
             (unsigned long long)start_ts);
    return TXN_KEY_ERROR;
}

int txn_ke_txn_lock_not_found(txn_key_error *ke, uint64_t start_ts, uint64_t commit_ts,
                              bs_slice key)
{
    begin(ke, TXN_KEY_ERR_TXN_LOCK_NOT_FOUND, key, start_ts);
    ke->commit_ts = commit_ts;
    snprintf(ke->msg, sizeof(ke->msg),
             "txn lock not found, start_ts: %llu, commit_ts: %llu",
             (unsigned long long)start_ts, (unsigned long long)commit_ts);
    return TXN_KEY_ERROR;
}

int txn_ke_committed(txn_key_error *ke, uint64_t start_ts, uint64_t commit_ts, bs_slice key)
{
    begin(ke, TXN_KEY_ERR_COMMITTED, key, start_ts);
    ke->commit_ts = commit_ts;
    snprintf(ke->msg, sizeof(ke->msg), "txn already committed, start_ts: %llu, commit_ts: %llu",
             (unsigned long long)start_ts, (unsigned long long)commit_ts);
    return TXN_KEY_ERROR;
}

int txn_ke_assertion_failed(txn_key_error *ke, uint64_t start_ts, bs_slice key,
                            txn_assertion assertion, uint64_t existing_start_ts,
                            uint64_t existing_commit_ts)
{
    begin(ke, TXN_KEY_ERR_ASSERTION_FAILED, key, start_ts);
    ke->assertion = assertion;
    ke->conflict_start_ts = existing_start_ts;
    ke->conflict_commit_ts = existing_commit_ts;
    snprintf(ke->msg, sizeof(ke->msg), "assertion failed, start_ts: %llu",
             (unsigned long long)start_ts);
    return TXN_KEY_ERROR;
}

int txn_ke_primary_mismatch(txn_key_error *ke, bs_slice key, const kv_lock *l)
{
    begin(ke, TXN_KEY_ERR_PRIMARY_MISMATCH, key, l->start_ts);
    txn_lock_info_from_lock(&ke->lock, key, l);
    snprintf(ke->msg, sizeof(ke->msg), "primary mismatch");
    return TXN_KEY_ERROR;
}

int txn_ke_abort(txn_key_error *ke, bs_slice key, uint64_t start_ts, const char *fmt, ...)
{
    va_list ap;
    begin(ke, TXN_KEY_ERR_ABORT, key, start_ts);
    va_start(ap, fmt);
    vsnprintf(ke->msg, sizeof(ke->msg), fmt, ap);
    va_end(ap);
    return TXN_KEY_ERROR;
}
