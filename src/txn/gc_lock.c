/* gc_lock.c -- the first half of transactional GC: every lock below the safe point is
 * resolved before any record below it is removed.
 *
 * Why first: a txn's fate lives in its primary's records. If GC removed a committed
 * primary's commit record while one of its secondaries were still locked, the next
 * resolver of that secondary would find neither lock nor record on the primary, roll the
 * primary back (rollback_if_not_exist) and then the secondary with it: a committed txn
 * would lose a key. TiKV avoids this the same way: TiDB's GC worker resolves every lock
 * with start_ts <= safe point across the whole key space before it lets the stores
 * collect records (client-go's BatchResolveLocks).
 *
 * Why force: the safe point is bounded by the oldest start_ts of every running txn (the
 * coordinator registers it with PD as a service safe point), so a lock below it belongs
 * to a txn whose coordinator is gone. Its TTL is not waited for: CheckTxnStatus runs with
 * current_ts UINT64_MAX, which counts every lock as expired, as client-go's GC does. A
 * primary that is still locked afterwards can only be an async-commit lock, which
 * CheckTxnStatus never rolls back; Basalt never writes one, so that is reported as a
 * failure and the records wait for a later sweep.
 *
 * Every state change is one of the store's own Percolator commands (latched, proposed,
 * applied), one key per ResolveLock because a txn's keys may lie in different Regions and a
 * Raft entry belongs to one. The run is a small state machine driven by command callbacks;
 * callbacks that complete before the command returns (a synchronous proposer) are turned
 * into iterations of the driver's loop instead of recursion, so a long run does not grow
 * the stack. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/log.h"
#include "txn/txn_int.h"

/* ---- the scan ------------------------------------------------------------------------------ */

typedef struct scan_ctx {
    uint64_t safe_point;
    size_t limit;
    txn_lock_infos *out;
    size_t taken;
    bs_buf *cursor;
} scan_ctx;

static bool collect(void *arg, bs_slice key, const kv_lock *l)
{
    scan_ctx *c = arg;
    if (l->start_ts > c->safe_point)
        return true; /* a txn that may still be running: not GC's business */
    if (c->limit && c->taken == c->limit) {
        bs_buf_set(c->cursor, key.ptr, key.len); /* the next scan starts here */
        return false;
    }
    txn_lock_info_from_lock(txn_lock_infos_push(c->out), key, l);
    c->taken++;
    return true;
}

int txn_gc_scan_locks(kv_engine *e, uint64_t safe_point, size_t limit, bs_buf *cursor,
                      txn_lock_infos *out, bs_err *err)
{
    bs_buf start = BS_BUF_INIT;
    txn_reader r;
    scan_ctx c = {safe_point, limit, out, 0, cursor};
    bs_buf_set(&start, cursor->ptr, cursor->len);
    bs_buf_reset(cursor);
    kv_snapshot *snap = kv_snapshot_new(e);
    txn_reader_init(&r, e, snap, 0, err);
    int rc = txn_scan_locks(&r, bs_buf_slice(&start), BS_SLICE_NULL, collect, &c);
    kv_snapshot_free(snap);
    bs_buf_free(&start);
    if (rc != BS_OK)
        bs_buf_reset(cursor);
    return rc;
}

/* ---- the resolution ------------------------------------------------------------------------ */

typedef struct gc_resolver {
    txn_store *s;
    txn_lock_info *locks; /* n, sorted by (start_ts, primary, key); owned */
    size_t n;
    size_t i, end;        /* the txn at work: locks[i..end); Invariant: i <= end <= n */
    bool status_known;    /* its primary has answered */
    uint64_t commit_ts;   /* when status_known: its commit ts, 0 = rolled back */
    size_t k;             /* the next key of the txn to resolve; Invariant: i <= k <= end */
    size_t resolved;
    int code;             /* the first failure (BS_OK until then) */
    char msg[BS_ERR_MSG_MAX];
    /* The driver: exactly one thread issues commands at a time (driving); a callback that
     * arrives while it does sets kick instead of recursing. */
    pthread_mutex_t mu;
    bool driving, kick;
    txn_gc_resolve_done_fn done;
    void *arg;
} gc_resolver;

static int lock_cmp(const void *a, const void *b)
{
    const txn_lock_info *x = a, *y = b;
    if (x->lock_version != y->lock_version)
        return x->lock_version < y->lock_version ? -1 : 1;
    int c = bs_slice_cmp(bs_buf_slice(&x->primary), bs_buf_slice(&y->primary));
    return c ? c : bs_slice_cmp(bs_buf_slice(&x->key), bs_buf_slice(&y->key));
}

static bool same_txn(const txn_lock_info *a, const txn_lock_info *b)
{
    return a->lock_version == b->lock_version &&
           bs_slice_eq(bs_buf_slice(&a->primary), bs_buf_slice(&b->primary));
}

static void fail(gc_resolver *r, int code, const char *step, const char *detail)
{
    BS_ASSERT(code != BS_OK);
    if (r->code != BS_OK)
        return;
    r->code = code;
    uint64_t ts = r->i < r->n ? r->locks[r->i].lock_version : 0;
    snprintf(r->msg, sizeof r->msg, "GC lock resolution, %s of txn %llu: %.180s", step,
             (unsigned long long)ts, detail);
}

/* A command's answer: false (and r failed) unless it succeeded without key errors. */
static bool command_ok(gc_resolver *r, const txn_kv_result *res, const char *step)
{
    if (res->code != BS_OK) {
        fail(r, res->code, step, res->error.msg);
        return false;
    }
    if (res->n_errors) {
        /* The primary decided the txn: a key refusing it means records that contradict
         * each other (or a lock that was not what CF lock said). */
        fail(r, BS_ESTATE, step, res->errors[0].msg);
        return false;
    }
    return true;
}

static void drive(gc_resolver *r);

static void on_status(void *arg, const txn_kv_result *res)
{
    gc_resolver *r = arg;
    if (command_ok(r, res, "check_txn_status")) {
        if (res->commit_ts == 0 && res->has_lock_info) {
            fail(r, BS_EBUSY, "check_txn_status",
                 "the primary stays locked (async commit); records wait for a later sweep");
        } else {
            r->status_known = true;
            r->commit_ts = res->commit_ts;
            r->k = r->i;
        }
    }
    drive(r);
}

static void on_resolved(void *arg, const txn_kv_result *res)
{
    gc_resolver *r = arg;
    if (command_ok(r, res, "resolve_lock"))
        r->resolved++;
    drive(r);
}

static void finish(gc_resolver *r)
{
    if (r->code == BS_OK && r->resolved)
        BS_LOG_DEBUG("GC resolved locks below the safe point", "keys=%zu", r->resolved);
    r->done(r->arg, r->code, r->resolved, r->code == BS_OK ? "" : r->msg);
    for (size_t i = 0; i < r->n; i++)
        txn_lock_info_deinit(&r->locks[i]);
    bs_free(r->locks);
    pthread_mutex_destroy(&r->mu);
    bs_free(r);
}

/* Issues the next command, or finishes r (then returns false: r is gone). */
static bool issue_next(gc_resolver *r)
{
    for (;;) {
        if (r->code != BS_OK || r->i == r->n) {
            finish(r);
            return false;
        }
        const txn_lock_info *first = &r->locks[r->i];
        if (!r->status_known) {
            r->end = r->i + 1;
            while (r->end < r->n && same_txn(first, &r->locks[r->end]))
                r->end++;
            txn_check_txn_status_req q;
            memset(&q, 0, sizeof(q));
            q.primary_key = bs_buf_slice(&first->primary);
            q.lock_ts = first->lock_version;
            q.caller_start_ts = 0;        /* nothing to push: the txn is to be settled */
            q.current_ts = UINT64_MAX;    /* every lock counts as expired */
            q.rollback_if_not_exist = true;
            txn_kv_check_txn_status(r->s, &q, on_status, r);
            return true;
        }
        BS_ASSERT(r->i <= r->k && r->k <= r->end);
        /* CheckTxnStatus settled the primary itself (rolled back, or found it resolved). */
        while (r->k < r->end && bs_slice_eq(bs_buf_slice(&r->locks[r->k].key),
                                            bs_buf_slice(&r->locks[r->k].primary))) {
            r->resolved++;
            r->k++;
        }
        if (r->k == r->end) {
            r->i = r->end;
            r->status_known = false;
            continue;
        }
        const txn_lock_info *l = &r->locks[r->k++];
        txn_kv_resolve_key(r->s, bs_buf_slice(&l->key), l->lock_version, r->commit_ts,
                           on_resolved, r);
        return true;
    }
}

static void drive(gc_resolver *r)
{
    pthread_mutex_lock(&r->mu);
    if (r->driving) {
        r->kick = true; /* the driver is inside issue_next on another frame or thread */
        pthread_mutex_unlock(&r->mu);
        return;
    }
    r->driving = true;
    for (;;) {
        r->kick = false;
        pthread_mutex_unlock(&r->mu);
        if (!issue_next(r))
            return; /* finished: r is freed */
        pthread_mutex_lock(&r->mu);
        if (!r->kick) {
            /* The command is in flight; its callback drives on. Nothing of r may be touched
             * after the unlock: that callback may finish and free it. */
            r->driving = false;
            pthread_mutex_unlock(&r->mu);
            return;
        }
    }
}

void txn_gc_resolve_locks(txn_store *s, const txn_lock_infos *locks,
                          txn_gc_resolve_done_fn done, void *arg)
{
    BS_ASSERT(done);
    gc_resolver *r = bs_calloc(1, sizeof(*r));
    r->s = s;
    r->done = done;
    r->arg = arg;
    pthread_mutex_init(&r->mu, NULL);
    r->n = locks->n;
    r->locks = bs_calloc(r->n ? r->n : 1, sizeof(txn_lock_info));
    for (size_t i = 0; i < r->n; i++) {
        txn_lock_info_init(&r->locks[i]);
        txn_lock_info_copy(&r->locks[i], &locks->v[i]);
        if (r->locks[i].lock_version == 0 || r->locks[i].primary.len == 0)
            fail(r, BS_ECORRUPT, "scan", "a lock has no start ts or primary"); /* input */
    }
    if (r->code == BS_OK)
        qsort(r->locks, r->n, sizeof(txn_lock_info), lock_cmp);
    drive(r);
}
