/* gc.c -- one bounded MVCC GC pass, its deletes proposed through Raft Region by Region.
 *
 * A sweep at one safe point runs three stages, one bounded pass per call, and the worker's
 * cursor says where it is (a stage byte, then the stage's own cursor):
 *   'd' raw versions in CF default (txn_gc_pass), independent of transactions;
 *   'l' every lock with start_ts <= safe point is resolved (txn_gc_scan_locks, then
 *       txn_gc_resolve_locks through the txn store's commands): a batch of locks per pass;
 *   'w' commit and rollback records below the safe point, and 'x' values
 *       (txn_gc_write_pass).
 * Stage 'w' starts only after stage 'l' walked all of CF lock with every resolution done
 * (the worker starts a pass only once everything of the previous one is done) and none
 * failed: removing a committed primary's record while a secondary is still locked would
 * let a later resolver roll that secondary back (gc_lock.c). A failed resolution or 'w'
 * proposal marks the sweep (gc_txn_failed) and the next 'w' pass ends it with an error, so
 * the worker retries the whole sweep at its next tick; in particular a 'w' pass never
 * resumes inside a key whose previous deletes did not apply (gc_write.c re-walks that key
 * and relies on them). New locks at or below the safe point do not appear meanwhile: the
 * safe point is below every running txn's start_ts.
 *
 * A Raft entry belongs to one Region (cluster_store_propose refuses keys outside it), so a
 * pass's batch is split here: its operations come in key order, each goes to the batch of
 * the Region that contains it, and each Region's batch is proposed on its own through
 * txn_cluster_propose (which routes by the first key, at the Region's current epoch). GC's
 * invariant -- a key's versions are deleted together, never only the newer ones -- survives
 * the split because a Region boundary never falls between two versions of one key, in any
 * CF (DESIGN.md "Data model"): a key's CF write records and 'x' values land in one entry. If
 * one Region's proposal fails, the others may still apply: each of them deletes whole
 * version tails, so that is safe, and a later sweep finds what is left. */
#include <string.h>

#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "server/srv_int.h"

#define STAGE_RAW 'd'
#define STAGE_LOCKS 'l'
#define STAGE_WRITE 'w'

typedef struct gc_part {
    uint64_t region_id;
    bs_buf start, end; /* the Region's bounds (end empty = +inf) */
    kv_batch *batch;
    size_t deletes;
} gc_part;

typedef struct gc_split {
    srv_node *n;
    gc_part *parts;
    size_t n_parts, cap;
    int rc;
    bs_err *err;
} gc_split;

typedef struct gc_done_arg {
    srv_node *n;
    size_t deletes;
    bool write_stage; /* a failure must stop the sweep's CF write removal */
} gc_done_arg;

static bool part_contains(const gc_part *p, bs_slice key)
{
    /* Data keys are MCE(key) ‖ ts and bounds are MCE(key): memcomparable encodings are
     * prefix-free, so comparing the whole data key against a bound orders it exactly as
     * its MCE part is ordered (a Region holds every version of its keys). */
    if (bs_slice_cmp(key, bs_buf_slice(&p->start)) < 0)
        return false;
    return p->end.len == 0 || bs_slice_cmp(key, bs_buf_slice(&p->end)) < 0;
}

static int split_op(void *arg, const kv_op *op)
{
    gc_split *s = arg;
    /* The GC passes write only point deletes of MVCC keys in CF default and CF write. */
    if (op->type != KV_OP_DELETE || (op->cf != KV_CF_DEFAULT && op->cf != KV_CF_WRITE)) {
        s->rc = bs_err_setf(s->err, BS_EINTERNAL, "GC batch holds an unexpected operation");
        return 1;
    }
    gc_part *p = s->n_parts ? &s->parts[s->n_parts - 1] : NULL;
    if (!p || !part_contains(p, op->key)) {
        cluster_region r;
        pd_region_init(&r);
        if (cluster_store_region_by_key(s->n->store, op->key, &r) != BS_OK) {
            pd_region_deinit(&r);
            s->rc = bs_err_setf(s->err, BS_NOTFOUND, "GC: no local Region holds a key");
            return 1;
        }
        /* Operations come in key order, so a Region is never revisited. */
        for (size_t i = 0; i < s->n_parts; i++)
            BS_ASSERT(s->parts[i].region_id != r.id);
        if (s->n_parts == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 4;
            s->parts = bs_realloc(s->parts, s->cap * sizeof(*s->parts));
        }
        p = &s->parts[s->n_parts++];
        memset(p, 0, sizeof(*p));
        p->region_id = r.id;
        bs_buf_set(&p->start, r.start_key.ptr, r.start_key.len);
        bs_buf_set(&p->end, r.end_key.ptr, r.end_key.len);
        p->batch = kv_batch_new();
        pd_region_deinit(&r);
        BS_ASSERT(part_contains(p, op->key));
    }
    kv_batch_delete(p->batch, op->cf, op->key);
    p->deletes++;
    return BS_OK;
}

/* Marks the sweep failed for stage 'w' (any thread). */
static void mark_txn_failed(srv_node *n)
{
    pthread_mutex_lock(&n->worker.mu);
    n->worker.gc_txn_failed = true;
    pthread_mutex_unlock(&n->worker.mu);
}

static void gc_proposal_done(void *arg, int code, const bs_err *err)
{
    gc_done_arg *a = arg;
    if (code != BS_OK && a->write_stage)
        mark_txn_failed(a->n);
    srv_gc_proposal_done(a->n, code, a->deletes, err);
    bs_free(a);
}

static void inflight_add(srv_worker *w, int d)
{
    pthread_mutex_lock(&w->mu);
    w->gc_inflight += d;
    BS_ASSERT(w->gc_inflight >= 0);
    pthread_mutex_unlock(&w->mu);
}

/* Splits b (consumed) by Region and proposes each part. */
static int propose_split(srv_node *n, kv_batch *b, bool write_stage, int *proposed,
                         bs_err *err)
{
    srv_worker *w = &n->worker;
    gc_split s;
    memset(&s, 0, sizeof(s));
    s.n = n;
    s.err = err;
    (void)kv_batch_iterate(b, split_op, &s); /* split_op reports through s.rc */
    kv_batch_free(b);
    int rc = s.rc;
    for (size_t i = 0; i < s.n_parts; i++) {
        gc_part *p = &s.parts[i];
        if (rc == BS_OK) {
            gc_done_arg *a = bs_calloc(1, sizeof(*a));
            a->n = n;
            a->deletes = p->deletes;
            a->write_stage = write_stage;
            /* Counted before proposing: done may run on the raftstore thread before
             * txn_cluster_propose returns. */
            inflight_add(w, 1);
            rc = txn_cluster_propose(n->store, p->batch, gc_proposal_done, a, err);
            if (rc == BS_OK) {
                p->batch = NULL; /* the store owns it now */
                (*proposed)++;
            } else {
                inflight_add(w, -1);
                bs_free(a);
                bs_err_wrapf(err, "GC proposal to region %llu",
                             (unsigned long long)p->region_id);
            }
        }
        kv_batch_free(p->batch);
        bs_buf_free(&p->start);
        bs_buf_free(&p->end);
    }
    bs_free(s.parts);
    if (rc != BS_OK && write_stage)
        mark_txn_failed(n);
    return rc;
}

/* The end of one lock resolution run (the raftstore thread, or the worker's). */
static void resolve_done(void *arg, int code, size_t resolved, const char *msg)
{
    srv_node *n = arg;
    srv_worker *w = &n->worker;
    if (code != BS_OK) {
        atomic_fetch_add(&n->st_gc_errors, 1);
        BS_LOG_WARN("GC lock resolution failed; CF write GC waits for the next sweep",
                    "code=%s resolved=%zu err=\"%s\"", bs_errname(code), resolved, msg);
    } else {
        BS_LOG_INFO("GC resolved locks below the safe point", "keys=%zu", resolved);
    }
    pthread_mutex_lock(&w->mu);
    if (code != BS_OK) {
        w->gc_txn_failed = true;
        w->sweep_safe_point = 0; /* the next tick sweeps again */
    }
    BS_ASSERT(w->gc_inflight > 0);
    w->gc_inflight--;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Sets the worker's cursor to stage ‖ pos. */
static void set_cursor(srv_worker *w, uint8_t stage, const bs_buf *pos)
{
    bs_buf_reset(&w->cursor);
    bs_buf_append(&w->cursor, &stage, 1);
    bs_buf_append(&w->cursor, pos->ptr, pos->len);
}

int srv_gc_run_pass(srv_node *n, uint64_t safe_point, int *proposed, bool *more, bs_err *err)
{
    srv_worker *w = &n->worker;
    bs_buf pos = BS_BUF_INIT;
    kv_batch *b = NULL;
    uint8_t stage = STAGE_RAW;
    int rc = BS_OK;
    *proposed = 0;
    *more = false;
    if (w->cursor.len == 0) {
        /* A new sweep. */
        pthread_mutex_lock(&w->mu);
        w->gc_txn_failed = false;
        pthread_mutex_unlock(&w->mu);
    } else {
        stage = w->cursor.ptr[0];
        bs_buf_set(&pos, w->cursor.ptr + 1, w->cursor.len - 1);
    }
    bs_buf_reset(&w->cursor);
    switch (stage) {
    case STAGE_RAW:
        rc = txn_gc_pass(n->engine, safe_point, (uint64_t)bs_clock_wall_ms(),
                         n->opts.gc_pass_limit, &pos, &b, err);
        if (rc != BS_OK) {
            bs_err_wrapf(err, "GC pass over raw versions");
            break;
        }
        rc = propose_split(n, b, false, proposed, err);
        if (rc == BS_OK)
            set_cursor(w, pos.len ? STAGE_RAW : STAGE_LOCKS, &pos);
        break;
    case STAGE_LOCKS: {
        txn_lock_infos locks;
        txn_lock_infos_init(&locks);
        rc = txn_gc_scan_locks(n->engine, safe_point, n->opts.gc_pass_limit, &pos, &locks,
                               err);
        if (rc != BS_OK) {
            bs_err_wrapf(err, "GC scan of locks");
        } else {
            if (locks.n) {
                inflight_add(w, 1); /* resolve_done may run before this returns */
                txn_gc_resolve_locks(n->txn, &locks, resolve_done, n);
                (*proposed)++;
            }
            set_cursor(w, pos.len ? STAGE_LOCKS : STAGE_WRITE, &pos);
        }
        txn_lock_infos_free(&locks);
        break;
    }
    case STAGE_WRITE: {
        pthread_mutex_lock(&w->mu);
        bool failed = w->gc_txn_failed;
        pthread_mutex_unlock(&w->mu);
        if (failed) {
            rc = bs_err_setf(err, BS_ESTATE,
                             "a lock resolution or CF write GC proposal of this sweep failed; "
                             "CF write records are collected by a later sweep");
            break;
        }
        rc = txn_gc_write_pass(n->engine, safe_point, n->opts.gc_pass_limit, &pos, &b, err);
        if (rc != BS_OK) {
            bs_err_wrapf(err, "GC pass over CF write");
            break;
        }
        rc = propose_split(n, b, true, proposed, err);
        if (rc == BS_OK && pos.len)
            set_cursor(w, STAGE_WRITE, &pos);
        break;
    }
    default:
        BS_UNREACHABLE(); /* only this file writes the cursor */
    }
    bs_buf_free(&pos);
    if (rc != BS_OK)
        bs_buf_reset(&w->cursor);
    *more = w->cursor.len > 0;
    return rc;
}
