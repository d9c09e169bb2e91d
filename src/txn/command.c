/* command.c -- the command layer around the raw actions: latches, the lock table, the
 * timestamp choice and the proposer (TiKV's scheduler, src/storage/txn/scheduler.rs, cut
 * down to what raw commands need).
 *
 * Life of a write command (txn_cmd):
 *   start   copy the request; queue on the latches of its keys (latches.c);
 *   run     (latches held) link one pending record per key in the lock table, then take
 *           the engine snapshot (in that order: see read_current) and look for a
 *           Percolator lock on each key (one point read each; raw_lock.c): if there is
 *           one, unlink again, release the latches, resolve it and run again (or wait for
 *           a live txn, then give up with TXN_ERR_KEY_IS_LOCKED). Otherwise read the
 *           current value (the newest pending write of the key when there is one, else
 *           the snapshot), run the action, pick ts above the causal ts, max_ts
 *           and every version seen; move the records to PROPOSED with the value they will
 *           write -- unless a predecessor failed meanwhile -- and hand the batch to the
 *           proposer;
 *   release the latches as soon as the proposer has the batch. The lock-table records,
 *           not the latches, protect the key until apply: that is what lets the next
 *           read-modify-write of a hot key read the pending value and propose right behind
 *           it instead of waiting for the apply (chaining; DESIGN.md "Data model");
 *   done    the proposer reports apply (records unlinked, result delivered) or failure
 *           (records and every record chained behind them unlinked; their commands fail
 *           with TXN_ERR_CHAIN_BROKEN and the failure's code, txn.h "Chained writes").
 * A command that writes nothing (a failed CAS, SETNX on a live key, an INCR error) leaves
 * a NOOP record and answers once everything ahead of it applied.
 *
 * A predecessor may fail at any point of a run: the lock table then flags our CHOOSING
 * records broken instead of unlinking them under our feet, and the settle step (propose or
 * noop) reports it, so the run fails the command itself (concurrency_manager.c).
 *
 * Lifetime: refs counts the run in progress (or the lock resolution or wait standing in
 * for the next run), an outstanding proposal and each linked record; whoever unlinks a
 * record (the owner through txn_cm_pending_done/fail returning true, or the manager
 * through notify) drops its ref. The result is delivered exactly once (atomic flag).
 *
 * Latch wake-ups run the woken command on the releasing thread through the trampoline
 * (txn_int.h), which turns what would be recursion (a run releases latches, which runs the
 * next command, which releases...) into a loop, so a queue of 10 000 commands on one key
 * needs no deep stack. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "txn/txn_int.h"

struct txn_store {
    txn_store_config cfg;
    txn_store_timer timer; /* set before the first command, read-only afterwards */
    bool blind_writes;     /* the same */
    txn_cm *cm;
    txn_latches *latches;
    txn_raw_locks *locks;
};

/* Freed commands kept for reuse (see cmd_new): a command is allocated on the network
 * thread and usually freed on the raftstore thread, and malloc pays for both the size and
 * the hand-over between arenas. The pool is the process's, not a store's: a command's last
 * reference may drop after its store was freed (its result was delivered). Up to
 * CMD_POOL_MAX commands; a pooled single-key command keeps its key and value buffers up to
 * CMD_KEEP_BUF bytes. */
#define CMD_POOL_MAX 1024u
#define CMD_KEEP_BUF 8192u
static pthread_mutex_t cmd_pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct txn_cmd *cmd_pool;  /* guarded by cmd_pool_mu */
static size_t cmd_pool_n;         /* guarded by cmd_pool_mu; Invariant: <= CMD_POOL_MAX */

typedef enum cmd_kind { CMD_WRITE, CMD_CAS, CMD_RMW, CMD_DELETE_RANGE } cmd_kind;

typedef struct txn_cmd {
    txn_store *s;
    cmd_kind kind;
    size_t n;
    bs_buf *keys;      /* n keys */
    txn_write *writes; /* CMD_WRITE: per key; expire_ms holds the TTL until run */
    txn_cas_req cas;   /* slices point into keys[0], cas_prev, cas_value */
    bs_buf cas_prev, cas_value;
    txn_rmw_params rmw; /* arg points into rmw_arg */
    bs_buf rmw_arg;
    bs_buf range_end; /* CMD_DELETE_RANGE: keys[0] is the start */
    txn_latch_lock latch;
    bool latch_inited;
    txn_pending *recs; /* n records */
    txn_lock_wait wait; /* a Percolator lock met by a run, and the wait for it */
    txn_result res;
    txn_done_fn cb;
    void *cb_arg;
    _Atomic int refs;
    atomic_bool delivered;
    txn_tramp tramp; /* latch wake-ups (txn_int.h) */
    /* Storage of a single-key command (keys, writes, recs point here when n == 1); key1
     * and write1.value keep their buffers while the command sits in the pool. */
    bs_buf key1;
    txn_write write1;
    txn_pending rec1;
    struct txn_cmd *pool_next;
} txn_cmd;

txn_store *txn_store_new(const txn_store_config *cfg)
{
    txn_store *s = bs_calloc(1, sizeof(*s));
    BS_ASSERT(cfg->engine && cfg->causal_ts && cfg->propose);
    s->cfg = *cfg;
    s->timer.lock_wait_ms = TXN_LOCK_WAIT_MS_DEFAULT;
    s->cm = txn_cm_new();
    s->latches = txn_latches_new(cfg->latch_slots ? cfg->latch_slots : 2048);
    s->locks = txn_raw_locks_new();
    return s;
}

void txn_store_free(txn_store *s)
{
    if (!s)
        return;
    txn_raw_locks_free(s->locks);
    txn_latches_free(s->latches);
    txn_cm_free(s->cm);
    bs_free(s);
}

void txn_store_set_blind_writes(txn_store *s, bool on)
{
    s->blind_writes = on;
}

bool txn_store_blind_writes(const txn_store *s)
{
    return s->blind_writes;
}

txn_cm *txn_store_cm(txn_store *s)
{
    return s->cm;
}

txn_latches *txn_store_latches(txn_store *s)
{
    return s->latches;
}

kv_engine *txn_store_engine(txn_store *s)
{
    return s->cfg.engine;
}

const txn_store_config *txn_store_get_config(const txn_store *s)
{
    return &s->cfg;
}

txn_raw_locks *txn_store_raw_locks(txn_store *s)
{
    return s->locks;
}

void txn_store_set_timer(txn_store *s, txn_after_fn after, void *after_arg,
                         uint64_t lock_wait_ms)
{
    s->timer.after = after;
    s->timer.after_arg = after_arg;
    s->timer.lock_wait_ms = lock_wait_ms ? lock_wait_ms : TXN_LOCK_WAIT_MS_DEFAULT;
}

const txn_store_timer *txn_store_get_timer(const txn_store *s)
{
    return &s->timer;
}

/* ---- the test seam ---------------------------------------------------------------------- */

static _Atomic(txn_fp_fn) fp_before_settle;
static _Atomic(void *) fp_before_settle_arg;

void txn_fp_set_before_settle(txn_fp_fn fn, void *arg)
{
    atomic_store(&fp_before_settle_arg, arg);
    atomic_store(&fp_before_settle, fn);
}

static void fp_run_before_settle(void)
{
    txn_fp_fn fn = atomic_load(&fp_before_settle);
    if (fn)
        fn(atomic_load(&fp_before_settle_arg));
}

/* ---- command objects ------------------------------------------------------------------ */

static txn_cmd *cmd_new(txn_store *s, cmd_kind kind, size_t n, txn_done_fn cb, void *arg)
{
    pthread_mutex_lock(&cmd_pool_mu);
    txn_cmd *c = cmd_pool;
    if (c) {
        cmd_pool = c->pool_next;
        cmd_pool_n--;
    }
    pthread_mutex_unlock(&cmd_pool_mu);
    if (c) { /* zeroed but for the kept buffers, emptied */
        bs_buf k1 = c->key1, v1 = c->write1.value;
        memset(c, 0, sizeof(*c));
        c->key1 = k1;
        c->write1.value = v1;
        bs_buf_reset(&c->key1);
        bs_buf_reset(&c->write1.value);
    } else {
        c = bs_calloc(1, sizeof(*c));
    }
    c->s = s;
    c->kind = kind;
    c->n = n;
    if (n == 1) {
        c->keys = &c->key1;
        c->writes = &c->write1;
        c->recs = &c->rec1;
    } else {
        c->keys = bs_calloc(n ? n : 1, sizeof(bs_buf));
        c->writes = bs_calloc(n ? n : 1, sizeof(txn_write));
        c->recs = bs_calloc(n ? n : 1, sizeof(txn_pending));
    }
    c->cb = cb;
    c->cb_arg = arg;
    txn_lock_wait_init(&c->wait);
    txn_error_clear(&c->res.error);
    txn_rmw_result_init(&c->res.rmw);
    atomic_init(&c->refs, 1);
    atomic_init(&c->delivered, false);
    return c;
}

/* Frees a pooled or unpoolable command's kept buffers and the command. */
static void cmd_destroy(txn_cmd *c)
{
    bs_buf_free(&c->key1);
    bs_buf_free(&c->write1.value);
    bs_free(c);
}

static void trim_kept(bs_buf *b)
{
    if (b->cap > CMD_KEEP_BUF)
        bs_buf_free(b);
}

static void cmd_free(txn_cmd *c)
{
    bool one = c->keys == &c->key1;
    for (size_t i = 0; i < c->n; i++) {
        BS_ASSERT(!c->recs[i].linked);
        if (!one) {
            bs_buf_free(&c->keys[i]);
            txn_write_deinit(&c->writes[i]);
        }
        txn_write_deinit(&c->recs[i].write);
    }
    if (c->latch_inited)
        txn_latch_lock_deinit(&c->latch);
    txn_lock_wait_deinit(&c->wait);
    if (!one) {
        bs_free(c->keys);
        bs_free(c->writes);
        bs_free(c->recs);
    }
    trim_kept(&c->key1);
    trim_kept(&c->write1.value);
    bs_buf_free(&c->cas_prev);
    bs_buf_free(&c->cas_value);
    bs_buf_free(&c->rmw_arg);
    bs_buf_free(&c->range_end);
    bs_buf_free(&c->res.previous_value);
    txn_rmw_result_deinit(&c->res.rmw);
    /* Into the process pool: c->s may be gone by now (see CMD_POOL_MAX). */
    pthread_mutex_lock(&cmd_pool_mu);
    if (cmd_pool_n < CMD_POOL_MAX) {
        c->pool_next = cmd_pool;
        cmd_pool = c;
        cmd_pool_n++;
        c = NULL;
    }
    pthread_mutex_unlock(&cmd_pool_mu);
    if (c)
        cmd_destroy(c);
}

static void cmd_ref(txn_cmd *c)
{
    atomic_fetch_add(&c->refs, 1);
}

static void cmd_unref(txn_cmd *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1)
        cmd_free(c);
}

/* Delivers the result once. With code != BS_OK the result becomes that error. Returns
 * false when it had been delivered already. */
static bool deliver(txn_cmd *c, int code, txn_error_kind kind, const char *detail)
{
    if (atomic_exchange(&c->delivered, true))
        return false;
    if (code != BS_OK) {
        c->res.code = txn_error_set(&c->res.error, code, kind, detail);
        c->res.ts = 0;
    }
    c->cb(c->cb_arg, &c->res);
    return true;
}

/* Delivers a copy of e (e may be c->res.error itself). */
static void deliver_error(txn_cmd *c, const txn_error *e)
{
    txn_error copy = *e;
    (void)deliver(c, copy.code, copy.kind, copy.msg);
}

/* Fails c because a write it chained on failed with code (txn.h "Chained writes"). */
static void deliver_chain_broken(txn_cmd *c, int code)
{
    char detail[BS_ERR_MSG_MAX];
    BS_ASSERT(code != BS_OK);
    snprintf(detail, sizeof detail, "%s (%s)", txn_error_kind_text(TXN_ERR_CHAIN_BROKEN),
             bs_strerror(code));
    (void)deliver(c, code, TXN_ERR_CHAIN_BROKEN, detail);
}

/* Takes every record of c still linked out of the table, dropping their refs: code BS_OK
 * = the batch applied, else its failure (passed on to whatever chained behind). */
static void unlink_all(txn_cmd *c, int code)
{
    for (size_t i = 0; i < c->n; i++) {
        bool unlinked = code == BS_OK ? txn_cm_pending_done(c->s->cm, &c->recs[i], true)
                                      : txn_cm_pending_fail(c->s->cm, &c->recs[i], code);
        if (unlinked)
            cmd_unref(c);
    }
}

/* The lock table reports a record of c that left it because of others. */
static void on_record(void *owner, txn_pending *rec, bool ok)
{
    txn_cmd *c = owner;
    if (ok) {
        BS_ASSERT(rec->state == TXN_PENDING_NOOP); /* only NOOPs complete through here */
        (void)deliver(c, BS_OK, TXN_ERR_NONE, NULL); /* a NOOP whose predecessors applied */
    } else {
        /* A CHOOSING record is flagged broken instead: our run reports that itself. */
        BS_ASSERT(rec->state != TXN_PENDING_CHOOSING && rec->fail_code != BS_OK);
        int code = rec->fail_code;
        unlink_all(c, code); /* our other keys: what chained on them fails the same way */
        deliver_chain_broken(c, code);
    }
    cmd_unref(c); /* the record's ref */
}

static void on_proposal_done(void *arg, int code, const bs_err *err)
{
    txn_cmd *c = arg;
    if (code == BS_OK) {
        unlink_all(c, BS_OK);
        if (!deliver(c, BS_OK, TXN_ERR_NONE, NULL))
            BS_LOG_ERROR("chained raw write applied after an earlier write of its key failed",
                         "ts=%llu", (unsigned long long)c->res.ts);
    } else {
        unlink_all(c, code);
        (void)deliver(c, code, TXN_ERR_PROPOSAL_FAILED, err ? err->msg : NULL);
    }
    cmd_unref(c); /* the proposal's ref */
}

/* Hands b to the proposer; on refusal fails c. Takes ownership of b either way. Unless c
 * is a delete-range, its records are in flight (txn_cm_pending_propose_begin) and this
 * ends the flight once the proposer has answered. */
static void propose(txn_cmd *c, kv_batch *b)
{
    bs_err err;
    int rc;
    bs_err_clear(&err);
    cmd_ref(c); /* the proposal's ref */
    rc = c->s->cfg.propose(c->s->cfg.propose_arg, b, on_proposal_done, c, &err);
    if (c->kind != CMD_DELETE_RANGE) /* the run's ref keeps c (and recs) alive here */
        txn_cm_pending_propose_end(c->s->cm, c->recs, c->n);
    if (rc != BS_OK) {
        kv_batch_free(b);
        unlink_all(c, rc);
        (void)deliver(c, rc, TXN_ERR_PROPOSAL_FAILED, err.msg);
        cmd_unref(c);
    }
}

/* Links c's record of key i at the tail of the key's chain; *prev receives the newest
 * pending write before it (caller deinits prev->write). */
static void link_record(txn_cmd *c, size_t i, txn_pending_view *prev)
{
    cmd_ref(c); /* the record's ref */
    c->recs[i].owner = c;
    c->recs[i].notify = on_record;
    txn_cm_pending_link(c->s->cm, bs_buf_slice(&c->keys[i]), &c->recs[i], prev);
}

/* The current value of key i for c: the newest pending write before its record (prev),
 * else the engine's newest. snap must be taken after the record was linked: a write that
 * applied and left the chain before the link is then in the snapshot, one still in the
 * chain is in prev, so no acknowledged write is missed. */
static int read_current(txn_cmd *c, kv_snapshot *snap, size_t i, const txn_pending_view *prev,
                        uint64_t now, txn_cur *cur, uint64_t *floor)
{
    bs_err err;
    bs_err_clear(&err);
    int rc = txn_mvcc_read_newest(c->s->cfg.engine, snap, bs_buf_slice(&c->keys[i]), now, cur,
                                  &err);
    if (rc != BS_OK)
        return txn_error_from_bs(&c->res.error, &err);
    if (cur->newest_ts > *floor)
        *floor = cur->newest_ts;
    if (prev->present) {
        const txn_write *w = &prev->write;
        if (prev->ts > *floor)
            *floor = prev->ts;
        cur->exists = w->kind == TXN_WRITE_PUT && !(w->expire_ms && w->expire_ms <= now);
        cur->has_expire = cur->exists && w->expire_ms != 0;
        cur->expire_ms = w->expire_ms;
        bs_buf_set(&cur->value, w->value.ptr, cur->exists ? w->value.len : 0);
    }
    return BS_OK;
}

static void run_delete_range(txn_cmd *c)
{
    bs_buf lo = BS_BUF_INIT, hi = BS_BUF_INIT;
    kv_batch *b = kv_batch_new();
    txn_range_bound(bs_buf_slice(&c->keys[0]), false, &lo);
    txn_range_bound(bs_buf_slice(&c->range_end), true, &hi);
    kv_batch_delete_range(b, KV_CF_DEFAULT, bs_buf_slice(&lo), bs_buf_slice(&hi));
    bs_buf_free(&lo);
    bs_buf_free(&hi);
    propose(c, b);
}

/* Looks for a Percolator lock on c's keys: BS_OK with c->wait.lock filled, BS_NOTFOUND,
 * or a storage error with c->res.error set. */
static int find_lock(txn_cmd *c, kv_snapshot *snap)
{
    bs_err err;
    bs_err_clear(&err);
    for (size_t i = 0; i < c->n; i++) {
        int rc = txn_raw_lock_get(c->s->cfg.engine, snap, bs_buf_slice(&c->keys[i]), true,
                                  &c->wait.lock, &err);
        if (rc == BS_OK)
            return BS_OK;
        if (rc != BS_NOTFOUND)
            return txn_error_from_bs(&c->res.error, &err);
    }
    return BS_NOTFOUND;
}

/* Blind writes (txn_store_set_blind_writes). A put or delete needs the key's newest
 * version only for its ts: the new version must sort above every existing one, or a read
 * would keep returning the old value. The causal ts source makes that read redundant:
 *   1. A version written while the source's current batch is in use took a ts from
 *      txn_choose_write_ts (which observes it into the source's floor) or is a Percolator
 *      commit, observed into the floor before it is proposed (txn_command.c,
 *      guard_versions). Either way its ts <= floor, and txn_causal_ts_get answers above
 *      floor.
 *   2. A version written before (by a previous process on the data dir, or by an earlier
 *      leader) has a ts at most 2 above a TSO issued before the batch the source fetched
 *      when it last synced (causal_ts.c, fetch_done), since a Region's writes wait for that
 *      sync (TS_NOT_READY) and PD's TSO never repeats or goes back (pd/tso.c, across
 *      restarts too). The sync raised floor to that batch's first ts + 1, so again every
 *      ts handed out is above it.
 *   3. A pending write of the key still in the lock table (prev) is covered by 1, and its
 *      ts is taken into the floor anyway.
 * The ts chosen is also above max_ts, as for every write. What is not covered: a read ts
 * or commit ts from a client that PD never issued, written before a restart (TiKV trusts
 * client timestamps the same way). Read-modify-writes and CAS read the value anyway, so they
 * keep taking the newest version into their floor. MSET (multi.c) is blind the same way. */

/* Runs c with its latches held. */
static void cmd_run(txn_cmd *c)
{
    uint64_t now = (uint64_t)bs_clock_wall_ms(), floor = 0, ts = 0;
    txn_pending_view *prev = bs_calloc(c->n ? c->n : 1, sizeof(*prev));
    txn_cur cur;
    bool writes = false;
    for (size_t i = 0; i < c->n; i++)
        link_record(c, i, &prev[i]);
    kv_snapshot *snap = kv_snapshot_new(c->s->cfg.engine); /* after the links: read_current */
    /* Percolator locks before anything is read. Under our latches no txn command can add or
     * remove one, and stopping here changes nothing but our (tail, CHOOSING) records, which
     * leave again: a later run starts from the request as it came. */
    int rc = find_lock(c, snap);
    if (rc != BS_NOTFOUND) {
        for (size_t i = 0; i < c->n; i++)
            txn_write_deinit(&prev[i].write);
        bs_free(prev);
        kv_snapshot_free(snap);
        unlink_all(c, BS_OK); /* nothing is behind them; a broken flag no longer matters */
        if (rc == BS_OK)
            c->wait.locked = true; /* resolved once the latches are released (schedule) */
        else
            deliver_error(c, &c->res.error);
        return;
    }
    rc = BS_OK;
    txn_cur_init(&cur);
    bool blind = c->kind == CMD_WRITE && c->s->blind_writes;
    for (size_t i = 0; i < c->n && rc == BS_OK; i++) {
        if (blind) { /* see "Blind writes" above */
            if (prev[i].present && prev[i].ts > floor)
                floor = prev[i].ts;
        } else {
            rc = read_current(c, snap, i, &prev[i], now, &cur, &floor);
        }
        if (rc != BS_OK)
            break;
        if (c->kind == CMD_WRITE) {
            c->writes[i].expire_ms =
                c->writes[i].kind == TXN_WRITE_PUT ? txn_expire_from_ttl(now, c->writes[i].expire_ms) : 0;
            writes = true;
        } else if (c->kind == CMD_CAS) {
            txn_cas_eval(&c->cas, &cur, now, &c->writes[0], &c->res);
            writes = c->writes[0].kind != TXN_WRITE_NONE;
        } else {
            txn_error e;
            txn_error_clear(&e);
            if (txn_rmw_eval(&c->rmw, &cur, now, &c->writes[0], &c->res.rmw, &e) != BS_OK) {
                c->res.code = e.code;
                c->res.error = e;
            }
            writes = c->writes[0].kind != TXN_WRITE_NONE;
        }
    }
    for (size_t i = 0; i < c->n; i++)
        txn_write_deinit(&prev[i].write);
    bs_free(prev);
    txn_cur_deinit(&cur);
    kv_snapshot_free(snap);
    if (rc != BS_OK) {
        unlink_all(c, rc);
        deliver_error(c, &c->res.error);
        return;
    }
    fp_run_before_settle();
    if (!writes) { /* single-key: answer once what it read from has applied */
        BS_ASSERT(c->n == 1);
        int code = txn_cm_pending_settle_noop(c->s->cm, &c->recs[0]);
        if (code != BS_OK) { /* what it read failed meanwhile: its answer may be wrong */
            unlink_all(c, code);
            deliver_chain_broken(c, code);
        }
        return;
    }
    if (txn_choose_write_ts(c->s->cfg.causal_ts, c->s->cm, floor, &ts) != BS_OK) {
        unlink_all(c, BS_EBUSY);
        (void)deliver(c, BS_EBUSY, TXN_ERR_TS_NOT_READY, NULL);
        return;
    }
    int code = txn_cm_pending_propose_begin(c->s->cm, c->recs, c->writes, c->n, ts);
    if (code != BS_OK) { /* a write it read from failed: this batch must never exist */
        unlink_all(c, code);
        deliver_chain_broken(c, code);
        return;
    }
    kv_batch *b = kv_batch_new();
    for (size_t i = 0; i < c->n; i++)
        txn_write_to_batch(b, bs_buf_slice(&c->keys[i]), ts, &c->writes[i]);
    c->res.ts = ts;
    propose(c, b);
}

/* ---- scheduling: latches and the trampoline ------------------------------------------- */

static void lock_resolve(txn_cmd *c);

/* One run under the latches (the trampoline's run function). */
static void run_latched(txn_tramp *t)
{
    txn_cmd *x = (txn_cmd *)((char *)t - offsetof(txn_cmd, tramp));
    cmd_run(x);
    txn_latches_release(x->s->latches, &x->latch); /* may schedule more */
    if (x->wait.locked)
        lock_resolve(x); /* after the release: the resolution latches the key too */
    cmd_unref(x); /* the run's ref */
}

static void schedule(txn_cmd *c)
{
    c->tramp.run = run_latched;
    txn_tramp_schedule(&c->tramp);
}

static void on_latched(void *arg)
{
    schedule(arg);
}

/* Queues c for a run (latches first); the caller's ref on c becomes the run's. */
static void queue_run(txn_cmd *c)
{
    if (txn_latches_acquire(c->s->latches, &c->latch))
        schedule(c);
}

/* ---- Percolator locks: resolve, wait, run again (txn.h, raw_lock.c) ---------------------- */

static void deliver_locked(txn_cmd *c)
{
    txn_error e;
    (void)txn_raw_lock_error(&e, &c->wait.lock);
    deliver_error(c, &e);
}

static void on_wait_over(void *arg, bool cancelled)
{
    txn_cmd *c = arg;
    if (!cancelled) {
        queue_run(c); /* the wait's ref becomes the run's */
        return;
    }
    deliver_locked(c); /* the timer stops (shutdown): nothing was written */
    cmd_unref(c);
}

static void on_lock_resolved(void *arg, int code, const txn_error *e)
{
    txn_cmd *c = arg;
    if (code == BS_OK) {
        queue_run(c); /* the lock is gone: the resolution's ref becomes the run's */
        return;
    }
    if (e->kind == TXN_ERR_KEY_IS_LOCKED && txn_lock_wait_park(c->s, &c->wait, on_wait_over, c))
        return; /* the ref waits with it */
    deliver_error(c, e);
    cmd_unref(c);
}

/* c's last run stopped at a lock (latches released): resolve it, then run again. */
static void lock_resolve(txn_cmd *c)
{
    BS_ASSERT(c->wait.locked);
    c->wait.locked = false;
    if (!txn_lock_wait_next_round(&c->wait)) { /* a new lock every time: let the client back off */
        deliver_locked(c);
        return;
    }
    cmd_ref(c); /* the resolution's */
    txn_raw_lock_resolve(c->s, &c->wait.lock, on_lock_resolved, c);
}

static void cmd_start(txn_cmd *c)
{
    if (c->kind == CMD_DELETE_RANGE) {
        run_delete_range(c);
        cmd_unref(c);
        return;
    }
    bs_slice *keys = bs_calloc(c->n ? c->n : 1, sizeof(bs_slice));
    for (size_t i = 0; i < c->n; i++)
        keys[i] = bs_buf_slice(&c->keys[i]);
    txn_latch_lock_init(&c->latch, c->s->latches, keys, c->n, on_latched, c);
    c->latch_inited = true;
    bs_free(keys);
    queue_run(c);
}

/* Fails c before it started (validation), and frees it. */
static void cmd_reject(txn_cmd *c, int code, txn_error_kind kind, const char *detail)
{
    (void)deliver(c, code, kind, detail);
    cmd_unref(c);
}

static bool keys_valid(txn_cmd *c)
{
    txn_error e;
    for (size_t i = 0; i < c->n; i++)
        if (txn_check_raw_key(bs_buf_slice(&c->keys[i]), &e) != BS_OK) {
            cmd_reject(c, e.code, e.kind, NULL);
            return false;
        }
    return true;
}

/* ---- the write commands ---------------------------------------------------------------- */

void txn_raw_batch_put(txn_store *s, const txn_kv *pairs, size_t n, const uint64_t *ttls_ms,
                       size_t n_ttls, txn_done_fn cb, void *arg)
{
    txn_cmd *c = cmd_new(s, CMD_WRITE, n, cb, arg);
    if (n_ttls > 1 && n_ttls != n) {
        cmd_reject(c, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT,
                   "the number of ttls does not match the number of pairs");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        bs_buf_append_slice(&c->keys[i], pairs[i].key);
        c->writes[i].kind = TXN_WRITE_PUT;
        bs_buf_append_slice(&c->writes[i].value, pairs[i].value);
        c->writes[i].expire_ms = n_ttls == 0 ? 0 : ttls_ms[n_ttls == 1 ? 0 : i];
    }
    if (keys_valid(c))
        cmd_start(c);
}

void txn_raw_put(txn_store *s, bs_slice key, bs_slice value, uint64_t ttl_ms, txn_done_fn cb,
                 void *arg)
{
    txn_kv kv = {key, value};
    txn_raw_batch_put(s, &kv, 1, &ttl_ms, 1, cb, arg);
}

void txn_raw_batch_delete(txn_store *s, const bs_slice *keys, size_t n, txn_done_fn cb,
                          void *arg)
{
    txn_cmd *c = cmd_new(s, CMD_WRITE, n, cb, arg);
    for (size_t i = 0; i < n; i++) {
        bs_buf_append_slice(&c->keys[i], keys[i]);
        c->writes[i].kind = TXN_WRITE_DELETE;
    }
    if (keys_valid(c))
        cmd_start(c);
}

void txn_raw_delete(txn_store *s, bs_slice key, txn_done_fn cb, void *arg)
{
    txn_raw_batch_delete(s, &key, 1, cb, arg);
}

void txn_raw_delete_range(txn_store *s, bs_slice start, bs_slice end, txn_done_fn cb,
                          void *arg)
{
    txn_cmd *c = cmd_new(s, CMD_DELETE_RANGE, 1, cb, arg);
    bs_buf_append_slice(&c->keys[0], start);
    bs_buf_append_slice(&c->range_end, end);
    if ((start.len && start.ptr[0] != KV_MODE_RAW) || (end.len && end.ptr[0] != KV_MODE_RAW &&
                                                      !(end.len == 4 && end.ptr[0] == KV_MODE_RAW + 1))) {
        cmd_reject(c, BS_EINVAL, TXN_ERR_INVALID_KEY_MODE, NULL);
        return;
    }
    if (start.len && end.len && bs_slice_cmp(start, end) > 0) {
        cmd_reject(c, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "start key is above end key");
        return;
    }
    cmd_start(c);
}

void txn_raw_cas(txn_store *s, const txn_cas_req *req, txn_done_fn cb, void *arg)
{
    txn_cmd *c = cmd_new(s, CMD_CAS, 1, cb, arg);
    bs_buf_append_slice(&c->keys[0], req->key);
    bs_buf_append_slice(&c->cas_prev, req->previous_value);
    bs_buf_append_slice(&c->cas_value, req->value);
    c->cas = *req;
    c->cas.key = bs_buf_slice(&c->keys[0]);
    c->cas.previous_value = bs_buf_slice(&c->cas_prev);
    c->cas.value = bs_buf_slice(&c->cas_value);
    if (keys_valid(c))
        cmd_start(c);
}

void txn_raw_rmw(txn_store *s, bs_slice key, const txn_rmw_params *p, txn_done_fn cb, void *arg)
{
    txn_cmd *c = cmd_new(s, CMD_RMW, 1, cb, arg);
    bs_buf_append_slice(&c->keys[0], key);
    bs_buf_append_slice(&c->rmw_arg, p->arg);
    c->rmw = *p;
    c->rmw.arg = bs_buf_slice(&c->rmw_arg);
    if (keys_valid(c))
        cmd_start(c);
}
