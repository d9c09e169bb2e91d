/* raw_lock.c -- the raw path honours Percolator locks (DESIGN.md "Data model"; txn.h,
 * "Percolator locks on the raw path").
 *
 * Why: MULTI/EXEC runs Percolator over RawKV keys, so a raw key can carry a lock in CF lock
 * between an EXEC's prewrite and its commit. A raw read that ignored it could return the
 * old value after the EXEC replied (primary committed, this key not yet); a raw write under
 * it would slip between the EXEC's read and its commit. Redis clients cannot resolve locks,
 * so the store does it for them with the steps of a lock resolver (client-go's
 * txnkv/txnlock/lock_resolver.go): CheckTxnStatus on the primary, then ResolveLock of the
 * key -- through the store's own Percolator commands (txn_command.c), so every state change
 * is latched, proposed and applied like any other, and nothing here writes CF lock or CF
 * write itself.
 *
 * What lives here: finding the lock (a point read of CF lock, or one iterator for a range),
 * the resolution (a small state machine over two command callbacks), the reads'
 * fire-and-forget resolutions (at most one per key at a time, so a hot key read by many
 * clients costs one CheckTxnStatus, not one per read), and the writes' bounded wait
 * (growing delays on the owner's timer, summed against lock_wait_ms: the bound is what was
 * asked of the timer, so it does not depend on clocks and tests can fire it by hand).
 * command.c and multi.c decide when to look and when to run again.
 *
 * A resolution holds no latch of its own across steps, and the raw command that starts one
 * has released its latches first, so resolution and command never wait on each other.
 *
 * Limits. The primary's status is read from this store's engine and changed through this
 * store's proposer. A primary in a Region this store does not lead therefore looks alive
 * (a replica may lag; never wrong in the unsafe direction: committed and rolled back are
 * facts once applied) or fails the resolution with that Region's error, and the raw command
 * fails retryably; resolving across stores is the job of client/'s lock resolver. A scan
 * resolves the first lock of its span per attempt. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/assert.h"
#include "common/log.h"
#include "txn/txn_int.h"

struct txn_raw_locks {
    pthread_mutex_t mu;
    size_t in_flight; /* resolutions started and not finished */
    bs_buf *kicked;   /* keys whose kicked resolution is running; Invariant: unique */
    size_t n_kicked, cap_kicked;
};

txn_raw_locks *txn_raw_locks_new(void)
{
    txn_raw_locks *l = bs_calloc(1, sizeof(*l));
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

void txn_raw_locks_free(txn_raw_locks *l)
{
    if (!l)
        return;
    /* A resolution is a chain of commands: the store must outlive it (txn_store_free). */
    BS_ASSERT(l->in_flight == 0 && l->n_kicked == 0);
    pthread_mutex_destroy(&l->mu);
    bs_free(l->kicked);
    bs_free(l);
}

/* ---- finding the lock ---------------------------------------------------------------------- */

/* A Lock-type (or pessimistic) lock changes no value: only writes must not pass it. */
static bool blocks(const kv_lock *l, bool for_write)
{
    return for_write || l->type == KV_LOCK_PUT || l->type == KV_LOCK_DELETE;
}

int txn_raw_lock_get(kv_engine *e, kv_snapshot *snap, bs_slice key, bool for_write,
                     txn_lock_info *out, bs_err *err)
{
    txn_reader r;
    txn_lock_rec lr;
    bool found = false;
    txn_reader_init(&r, e, snap, 0, err);
    txn_lock_rec_init(&lr);
    int rc = txn_reader_load_lock(&r, key, &lr, &found); /* one point read */
    if (rc == BS_OK && found && blocks(&lr.lock, for_write))
        txn_lock_info_from_lock(out, key, &lr.lock);
    else if (rc == BS_OK)
        rc = BS_NOTFOUND;
    txn_lock_rec_deinit(&lr);
    return rc;
}

typedef struct scan_ctx {
    bool for_write;
    txn_lock_info *out;
    bool found;
} scan_ctx;

static bool first_blocking(void *arg, bs_slice key, const kv_lock *l)
{
    scan_ctx *c = arg;
    if (!blocks(l, c->for_write))
        return true;
    txn_lock_info_from_lock(c->out, key, l);
    c->found = true;
    return false;
}

int txn_raw_lock_scan(kv_engine *e, kv_snapshot *snap, bs_slice lo, bs_slice hi,
                      bool for_write, txn_lock_info *out, bs_err *err)
{
    /* Unbounded raw ranges stop at the 'r' space: 'x' locks are TxnKV's business. */
    static const uint8_t raw_start[1] = {KV_MODE_RAW}, raw_end[1] = {KV_MODE_RAW + 1};
    txn_reader r;
    scan_ctx c = {for_write, out, false};
    if (lo.len == 0)
        lo = bs_slice_make(raw_start, 1);
    if (hi.len == 0)
        hi = bs_slice_make(raw_end, 1);
    txn_reader_init(&r, e, snap, 0, err);
    int rc = txn_scan_locks(&r, lo, hi, first_blocking, &c);
    if (rc != BS_OK)
        return rc;
    return c.found ? BS_OK : BS_NOTFOUND;
}

int txn_raw_lock_error(txn_error *e, const txn_lock_info *lock)
{
    char detail[BS_ERR_MSG_MAX];
    snprintf(detail, sizeof detail, "%s (lock_version %llu, ttl %llu ms)",
             txn_error_kind_text(TXN_ERR_KEY_IS_LOCKED), (unsigned long long)lock->lock_version,
             (unsigned long long)lock->lock_ttl);
    return txn_error_set(e, BS_EBUSY, TXN_ERR_KEY_IS_LOCKED, detail);
}

/* ---- one resolution ------------------------------------------------------------------------ */

typedef struct resolution {
    txn_store *s;
    txn_lock_info lock; /* owned copy of the lock found */
    bool kicked;        /* started by txn_raw_lock_kick: its key is in kicked[] */
    txn_raw_lock_done_fn done; /* NULL when kicked */
    void *arg;
} resolution;

static void forget_kicked(txn_raw_locks *l, bs_slice key)
{
    for (size_t i = 0; i < l->n_kicked; i++) {
        if (!bs_slice_eq(bs_buf_slice(&l->kicked[i]), key))
            continue;
        bs_buf_free(&l->kicked[i]);
        l->kicked[i] = l->kicked[--l->n_kicked];
        return;
    }
    BS_UNREACHABLE(); /* a kicked resolution's key stays listed until it finishes */
}

/* Ends r with code (kind says which failure; TXN_ERR_KEY_IS_LOCKED: the txn is alive). */
static void finish(resolution *r, int code, txn_error_kind kind, const char *detail)
{
    txn_raw_locks *l = txn_store_raw_locks(r->s);
    txn_error e;
    txn_error_clear(&e);
    if (kind == TXN_ERR_KEY_IS_LOCKED)
        (void)txn_raw_lock_error(&e, &r->lock);
    else if (code != BS_OK)
        (void)txn_error_set(&e, code, kind, detail);
    pthread_mutex_lock(&l->mu);
    BS_ASSERT(l->in_flight > 0);
    l->in_flight--;
    if (r->kicked)
        forget_kicked(l, bs_buf_slice(&r->lock.key));
    pthread_mutex_unlock(&l->mu);
    if (kind == TXN_ERR_STORAGE)
        BS_LOG_WARN("raw path: resolving a transaction's lock failed",
                    "lock_version=%llu err=\"%s\"", (unsigned long long)r->lock.lock_version,
                    e.msg);
    if (r->done)
        r->done(r->arg, code, &e);
    txn_lock_info_deinit(&r->lock);
    bs_free(r);
}

/* A command's failure as a resolution outcome. */
static bool command_failed(resolution *r, const txn_kv_result *res, const char *step)
{
    char detail[BS_ERR_MSG_MAX];
    if (res->code != BS_OK) {
        finish(r, res->code, res->error.kind, res->error.msg);
        return true;
    }
    if (res->n_errors == 0)
        return false;
    /* The primary's word decided this step, so a key error here means the txn's records
     * contradict each other (or the lock was not what it said). */
    snprintf(detail, sizeof detail, "%s of a raw key's lock: %.200s", step, res->errors[0].msg);
    finish(r, BS_ECORRUPT, TXN_ERR_STORAGE, detail);
    return true;
}

static void on_resolved(void *arg, const txn_kv_result *res)
{
    resolution *r = arg;
    if (!command_failed(r, res, "resolve"))
        finish(r, BS_OK, TXN_ERR_NONE, NULL);
}

/* The txn's fate is known: commit (commit_ts > 0) or roll back the lock's key. */
static void resolve_key(resolution *r, uint64_t commit_ts)
{
    if (bs_slice_eq(bs_buf_slice(&r->lock.key), bs_buf_slice(&r->lock.primary))) {
        /* CheckTxnStatus settled the primary itself (rolled it back, or it was committed or
         * rolled back already): this txn's lock is gone from the key. */
        finish(r, BS_OK, TXN_ERR_NONE, NULL);
        return;
    }
    txn_kv_resolve_key(r->s, bs_buf_slice(&r->lock.key), r->lock.lock_version, commit_ts,
                       on_resolved, r);
}

static void on_status(void *arg, const txn_kv_result *res)
{
    resolution *r = arg;
    if (res->code == BS_OK && res->n_errors == 1 &&
        res->errors[0].kind == TXN_KEY_ERR_TXN_NOT_FOUND) {
        /* No lock and no record on the primary, and our lock has not expired (else the
         * primary would have been rolled back): its prewrite may still be on the way. */
        finish(r, BS_EBUSY, TXN_ERR_KEY_IS_LOCKED, NULL);
        return;
    }
    if (command_failed(r, res, "check txn status"))
        return;
    if (res->commit_ts) {
        resolve_key(r, res->commit_ts);
        return;
    }
    if (res->has_lock_info) { /* the primary is locked and alive */
        finish(r, BS_EBUSY, TXN_ERR_KEY_IS_LOCKED, NULL);
        return;
    }
    /* Rolled back: now for an expired TTL or a missing primary, or earlier. */
    resolve_key(r, 0);
}

/* Expired as CheckTxnStatus judges a TTL (TSO physical ms), without overflowing. */
static bool lock_expired(const txn_lock_info *l, uint64_t current_ts)
{
    uint64_t born = txn_ts_physical(l->lock_version), now = txn_ts_physical(current_ts);
    return now > born && now - born > l->lock_ttl;
}

static void start(txn_store *s, const txn_lock_info *lock, bool kicked,
                  txn_raw_lock_done_fn done, void *arg)
{
    resolution *r = bs_calloc(1, sizeof(*r));
    uint64_t ts;
    r->s = s;
    r->kicked = kicked;
    r->done = done;
    r->arg = arg;
    txn_lock_info_init(&r->lock);
    txn_lock_info_copy(&r->lock, lock);
    if (r->lock.lock_version == 0 || r->lock.primary.len == 0) { /* read from disk: input */
        finish(r, BS_ECORRUPT, TXN_ERR_STORAGE, "a raw key's lock has no start ts or primary");
        return;
    }
    /* current_ts decides the TTL; like any write's ts it comes from the causal source. A
     * batch fetched a while ago makes the lock look younger, never older: safe. */
    if (txn_causal_ts_get(txn_store_get_config(s)->causal_ts, &ts) != BS_OK) {
        finish(r, BS_EBUSY, TXN_ERR_TS_NOT_READY, NULL);
        return;
    }
    txn_check_txn_status_req q;
    memset(&q, 0, sizeof(q));
    q.primary_key = bs_buf_slice(&r->lock.primary);
    q.lock_ts = r->lock.lock_version;
    q.caller_start_ts = 0; /* a raw access reads the latest: nothing to push */
    q.current_ts = ts;
    /* A primary that never got locked can be rolled back once the txn is past its TTL, so
     * it can never commit afterwards (client-go does the same). */
    q.rollback_if_not_exist = lock_expired(&r->lock, ts);
    txn_kv_check_txn_status(s, &q, on_status, r);
}

static void count_in(txn_store *s)
{
    txn_raw_locks *l = txn_store_raw_locks(s);
    pthread_mutex_lock(&l->mu);
    l->in_flight++;
    pthread_mutex_unlock(&l->mu);
}

void txn_raw_lock_resolve(txn_store *s, const txn_lock_info *lock, txn_raw_lock_done_fn done,
                          void *arg)
{
    BS_ASSERT(done);
    count_in(s);
    start(s, lock, false, done, arg);
}

void txn_raw_lock_kick(txn_store *s, const txn_lock_info *lock)
{
    txn_raw_locks *l = txn_store_raw_locks(s);
    bs_slice key = bs_buf_slice(&lock->key);
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->n_kicked; i++)
        if (bs_slice_eq(bs_buf_slice(&l->kicked[i]), key)) {
            pthread_mutex_unlock(&l->mu);
            return; /* one is running: its effect is what this read would wait for */
        }
    if (l->n_kicked == l->cap_kicked) {
        l->cap_kicked = l->cap_kicked ? l->cap_kicked * 2 : 8;
        l->kicked = bs_realloc(l->kicked, l->cap_kicked * sizeof(bs_buf));
    }
    l->kicked[l->n_kicked] = (bs_buf)BS_BUF_INIT;
    bs_buf_set(&l->kicked[l->n_kicked++], key.ptr, key.len);
    l->in_flight++;
    pthread_mutex_unlock(&l->mu);
    start(s, lock, true, NULL, NULL);
}

/* ---- the write path's wait ------------------------------------------------------------------ */

void txn_lock_wait_init(txn_lock_wait *w)
{
    memset(w, 0, sizeof(*w));
    txn_lock_info_init(&w->lock);
}

void txn_lock_wait_deinit(txn_lock_wait *w)
{
    txn_lock_info_deinit(&w->lock);
    memset(w, 0, sizeof(*w));
}

bool txn_lock_wait_next_round(txn_lock_wait *w)
{
    BS_ASSERT(w->rounds <= TXN_LOCK_MAX_ROUNDS);
    if (w->rounds == TXN_LOCK_MAX_ROUNDS)
        return false;
    w->rounds++;
    return true;
}

bool txn_lock_wait_park(txn_store *s, txn_lock_wait *w, txn_timer_fn fn, void *arg)
{
    const txn_store_timer *t = txn_store_get_timer(s);
    uint64_t budget = t->lock_wait_ms;
    BS_ASSERT(budget > 0);
    if (!t->after || w->waited_ms >= budget)
        return false;
    uint64_t d = w->next_ms ? w->next_ms : TXN_LOCK_FIRST_WAIT_MS;
    if (d > budget - w->waited_ms)
        d = budget - w->waited_ms;
    w->waited_ms += d;
    w->next_ms = d * 2;
    BS_ASSERT(w->waited_ms <= budget && d > 0);
    t->after(t->after_arg, d, fn, arg);
    return true;
}
