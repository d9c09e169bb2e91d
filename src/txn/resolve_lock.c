/* resolve_lock.c -- ResolveLock: once a resolver knows a txn's fate (from its primary), it
 * commits or rolls back every lock that txn left in a Region.
 *
 * Two phases, as TiKV's ResolveLockReadPhase / ResolveLock: a read phase scans CF lock
 * without latches for locks of the listed txns (at most TXN_RESOLVE_BATCH keys, so one
 * batch never grows without bound), then a write phase latches exactly those keys and runs
 * commit (commit_ts > 0) or a non-protected rollback (commit_ts 0) on each. The write phase
 * re-reads each lock under the latch, so a lock resolved by someone else in between is
 * handled by commit's and rollback's own idempotence. commit_ts <= start_ts is refused as an
 * invalid txn tso. Mirrors TiKV src/storage/txn/commands/resolve_lock.rs and
 * resolve_lock_lite.rs (the keys-only form runs the write phase directly). */
#include <string.h>

#include "common/assert.h"
#include "txn/txn_int.h"

int txn_resolve_lock(txn_act *a, bs_slice key, uint64_t start_ts, uint64_t commit_ts,
                     txn_key_error *ke)
{
    if (commit_ts == 0)
        return txn_cleanup(a, key, start_ts, 0, false, ke);
    if (commit_ts > start_ts)
        return txn_commit(a, key, start_ts, commit_ts, ke);
    return txn_ke_abort(ke, key, start_ts, "invalid txn tso with start_ts:%llu, commit_ts:%llu",
                        (unsigned long long)start_ts, (unsigned long long)commit_ts);
}

typedef struct resolve_scan {
    const txn_resolve_txn *txns;
    size_t n_txns;
    size_t limit;
    bs_buf *keys;
    uint64_t *ts;
    size_t n, cap;
    bool more;
} resolve_scan;

static bool wanted(const resolve_scan *rs, uint64_t ts)
{
    for (size_t i = 0; i < rs->n_txns; i++)
        if (rs->txns[i].start_ts == ts)
            return true;
    return false;
}

static bool visit(void *arg, bs_slice key, const kv_lock *l)
{
    resolve_scan *rs = arg;
    if (!wanted(rs, l->start_ts))
        return true;
    if (rs->n == rs->limit) {
        rs->more = true; /* another matching lock exists past this batch */
        return false;
    }
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 16;
        rs->keys = bs_realloc(rs->keys, rs->cap * sizeof(bs_buf));
        rs->ts = bs_realloc(rs->ts, rs->cap * sizeof(uint64_t));
    }
    rs->keys[rs->n] = (bs_buf)BS_BUF_INIT;
    bs_buf_set(&rs->keys[rs->n], key.ptr, key.len);
    rs->ts[rs->n++] = l->start_ts;
    return true;
}

int txn_resolve_lock_scan(txn_reader *r, bs_slice start, bs_slice end,
                          const txn_resolve_txn *txns, size_t n_txns, size_t limit,
                          bs_buf **keys, uint64_t **lock_ts, size_t *n_keys, bool *more)
{
    resolve_scan rs = {txns, n_txns, limit, NULL, NULL, 0, 0, false};
    BS_ASSERT(limit > 0);
    int rc = txn_scan_locks(r, start, end, visit, &rs);
    *keys = rs.keys;
    *lock_ts = rs.ts;
    *n_keys = rs.n;
    *more = rc == BS_OK && rs.more;
    return rc;
}
