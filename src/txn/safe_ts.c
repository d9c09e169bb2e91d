/* safe_ts.c -- the safe ts of a key range: the answer to GetStoreSafeTS, which client-go
 * polls to decide how stale a stale read may be (TiKV computes it per Region from its
 * resolved ts: a TSO from PD, capped below the locks the resolver tracks).
 *
 * The bound B we start from is the next timestamp of the store's causal ts source (taken
 * from it, so no write ever uses it), or PD's fresh TSO when that is lower or the source
 * lags it by more than CAUSAL_LAG_MS. Why not always the fresh TSO: max_ts must be raised
 * to B, and a fresh TSO lies above the source's prefetched batch, so every raw write would
 * take max_ts + 1, run past its batch and wait for a new one (MaxTimestampNotSynced): a
 * client polling every 2 s would stall the writes of a busy store every 2 s. Under load
 * the batch is milliseconds old, so B loses little; an idle store's batch may be old, and
 * there the fresh TSO costs at most one refetch.
 *
 * A new version at ts <= T can appear in a range after we answer T only from:
 *   1. a raw write or one-phase commit whose ts is chosen later: it takes a ts above
 *      max_ts, which we raise to B first, and (raw writes) a ts from the causal source,
 *      which is above B when B came from it;
 *   2. a raw write or one-phase commit that chose its ts earlier and is not applied yet: it
 *      sits in the in-memory lock table with that ts (or is still choosing it);
 *   3. a two-phase commit: if its prewrite is not applied yet, the client asks PD for the
 *      commit_ts only after the prewrite answered, so it lands above T; otherwise its lock
 *      is in CF lock and the commit_ts lies above the lock's start_ts.
 * So T is capped below every ts pending in (2) and every start_ts in (3); a write still
 * choosing its ts gives no bound at all, and the caller keeps its previous answer.
 *
 * The order matters as it does for reads: max_ts is raised before the lock table is
 * looked at (concurrency_manager.c's rule: one of the two sides always sees the other),
 * and CF lock is read after both, so a prewrite applied in between is seen. */
#include "common/clock.h"
#include "txn/txn_int.h"

/* How far (ms of TSO physical time) the causal source's next ts may trail PD's fresh TSO
 * and still be the bound: about TiKV's resolved-ts advance interval, the staleness a safe
 * ts has there anyway. */
#define CAUSAL_LAG_MS 1000
#define TSO_PHYSICAL_SHIFT 18 /* txn.h: physical ms << 18 | logical */

/* The bound B (see the top). BS_OK, or BS_EBUSY when the source cannot hand out a ts now
 * (not synced after a leader change, or its batch ran out): raising max_ts to the fresh
 * TSO then would only make the writes wait longer. */
static int safe_bound(txn_store *s, uint64_t fresh_ts, uint64_t *bound)
{
    txn_causal_ts *c = txn_store_get_config(s)->causal_ts;
    uint64_t t = 0;
    *bound = fresh_ts;
    if (!c)
        return BS_OK;
    if (txn_causal_ts_get(c, &t) != BS_OK)
        return BS_EBUSY;
    if (t < fresh_ts &&
        (fresh_ts >> TSO_PHYSICAL_SHIFT) - (t >> TSO_PHYSICAL_SHIFT) <= CAUSAL_LAG_MS)
        *bound = t;
    return BS_OK;
}

/* The smallest ts pending in the in-memory lock table for [start, end), if <= hi:
 * txn_cm_check_range reports whether any pending write has ts <= x, so this bisects.
 * Returns BS_OK with *min (hi + 1 when none), or BS_EBUSY when a write there is still
 * choosing its ts. */
static int min_pending_ts(txn_cm *cm, bs_slice start, bs_slice end, uint64_t hi, uint64_t *min)
{
    /* read_ts 0 is below every ts, so only a write still choosing blocks it */
    if (txn_cm_check_range(cm, start, end, 0) != BS_OK)
        return BS_EBUSY;
    if (txn_cm_check_range(cm, start, end, hi) == BS_OK) {
        *min = hi + 1;
        return BS_OK;
    }
    /* Invariant: nothing pending at <= lo; something pending at <= up. A write that starts
     * choosing meanwhile blocks every probe, which only lowers the answer. */
    uint64_t lo = 0, up = hi;
    while (up - lo > 1) {
        uint64_t mid = lo + (up - lo) / 2;
        if (txn_cm_check_range(cm, start, end, mid) == BS_OK)
            lo = mid;
        else
            up = mid;
    }
    *min = up;
    return BS_OK;
}

static bool min_lock_start(void *arg, bs_slice key, const kv_lock *l)
{
    uint64_t *min = arg;
    if (l->start_ts < *min)
        *min = l->start_ts;
    return true;
}

int txn_store_safe_ts(txn_store *s, uint64_t fresh_ts, bs_slice start, bs_slice end, uint64_t *out,
                      bs_err *err)
{
    if (fresh_ts == 0)
        return bs_err_setf(err, BS_EINVAL, "safe ts: no timestamp from PD");
    txn_cm *cm = txn_store_cm(s);
    uint64_t bound;
    int rc = safe_bound(s, fresh_ts, &bound);
    if (rc != BS_OK)
        return rc; /* BS_EBUSY: no error text, the caller keeps its previous answer */
    txn_cm_update_max_ts(cm, bound);

    uint64_t safe = bound, pending;
    rc = min_pending_ts(cm, start, end, bound, &pending);
    if (rc != BS_OK)
        return rc; /* BS_EBUSY: no error text, the caller keeps its previous answer */
    if (pending <= safe)
        safe = pending - 1;

    uint64_t lock_min = UINT64_MAX;
    kv_snapshot *snap = kv_snapshot_new(txn_store_engine(s));
    txn_reader r;
    txn_reader_init(&r, txn_store_engine(s), snap, (uint64_t)bs_clock_wall_ms(), err);
    rc = txn_scan_locks(&r, start, end, min_lock_start, &lock_min);
    kv_snapshot_free(snap);
    if (rc != BS_OK)
        return bs_err_wrapf(err, "safe ts: scan locks");
    if (lock_min != UINT64_MAX && lock_min <= safe)
        safe = lock_min ? lock_min - 1 : 0;
    *out = safe;
    return BS_OK;
}
