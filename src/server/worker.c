/* worker.c -- the node's background thread: TSO fetches, PD's periodic ticks and GC.
 *
 * Why a thread of its own: pd_tso_alloc may persist a new TSO window (a synced write to
 * PD's RocksDB), and the causal ts source asks for timestamps from wherever a write runs
 * out of them -- a network thread, or the raftstore thread when a peer becomes leader.
 * Neither may wait on a disk, so fetches are queued here and answered asynchronously, the
 * way a real PD client answers over the network. The same thread runs what PD's and TiKV's
 * background loops run:
 *   - pd_tso_tick every tso_tick_ms (50 ms, PD's updateTimestamp loop), so the TSO window
 *     is persisted ahead of need and pd_tso_alloc rarely touches the disk;
 *   - pd_gc_tick every gc_tick_ms (10 s): PD advances the GC safe point by itself; the
 *     compaction filter's safe point follows it, and a GC sweep starts when it moved and
 *     the last one started at least [gc] run-interval ago;
 *   - the sweep: bounded chunks (gc.c: raw versions, then the resolution of locks below the
 *     safe point, then CF write records), one at a time: the next chunk starts
 *     only when every proposal of the previous one is done, so GC never floods the
 *     raftstore and a failure stops the sweep until the next tick.
 * Fetches always go first: a write waiting for timestamps matters more than GC. It also
 * is the txn store's timer (srv_worker_after): a raw write blocked by a live transaction's
 * lock re-checks it when its timer fires, in any phase; srv_worker_cancel_timers fires
 * them all cancelled before the store closes.
 *
 * Phases (srv_int.h) let the owner stop the periodic jobs before it closes the store and
 * stop the thread only after the store is closed: fetches keep being answered until then. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "server/srv_int.h"

static void serve_fetch(srv_node *n, srv_tso_req *r)
{
    uint64_t ts = 0;
    bs_err err;
    bs_err_clear(&err);
    int rc = pd_tso_alloc(n->pd, r->count, &ts, &err);
    if (rc == BS_OK) {
        atomic_fetch_add(&n->st_tso_fetches, 1);
    } else {
        atomic_fetch_add(&n->st_tso_fetch_errors, 1);
        BS_LOG_WARN("TSO fetch failed", "count=%u err=%s", r->count, err.msg);
    }
    r->done(r->done_arg, rc, ts);
    bs_free(r);
}

void srv_worker_tso_fetch(void *arg, uint32_t count, txn_tso_done_fn done, void *done_arg)
{
    srv_node *n = arg;
    srv_worker *w = &n->worker;
    srv_tso_req *r = bs_calloc(1, sizeof(*r));
    r->count = count;
    r->done = done;
    r->done_arg = done_arg;
    pthread_mutex_lock(&w->mu);
    bool accept = w->phase != SRV_WORKER_STOPPED;
    if (accept) {
        if (w->tail)
            w->tail->next = r;
        else
            w->head = r;
        w->tail = r;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    if (!accept) {
        /* The node is closing and nothing will serve it: fail it here, as a PD client
         * fails calls on a closed connection. */
        bs_free(r);
        done(done_arg, BS_ESTATE, 0);
    }
}

/* ---- periodic jobs (RUNNING only; called without w->mu) --------------------------------- */

static void tso_tick(srv_node *n)
{
    bs_err err;
    if (pd_tso_tick(n->pd, &err) != BS_OK)
        BS_LOG_WARN("TSO tick failed", "err=%s", err.msg);
}

/* PD's GC tick, then the compaction filter follows PD's safe point. Starts a sweep when the
 * safe point moved past the last sweep's (or when forced). */
static void gc_tick(srv_node *n, bool force)
{
    srv_worker *w = &n->worker;
    bs_err err;
    uint64_t sp = 0;
    if (pd_gc_tick(n->pd, bs_clock_wall_ms(), &sp, &err) != BS_OK) {
        BS_LOG_WARN("PD GC tick failed", "err=%s", err.msg);
        sp = pd_get_gc_safe_point(n->pd);
    }
    uint64_t cur = atomic_load(&n->gc_filter.safe_point);
    while (sp > cur && !atomic_compare_exchange_weak(&n->gc_filter.safe_point, &cur, sp))
        ;
    /* A sweep reads every key, so it runs at most once per [gc] run-interval (TiDB's GC
     * worker period) unless forced; the compaction filter has the new safe point anyway. */
    int64_t now = bs_clock_mono_ms();
    bool due = now >= w->next_sweep_ms;
    if (!w->sweeping && sp > 0 && (force || (sp > w->sweep_safe_point && due))) {
        w->next_sweep_ms = now + w->run_interval_ms;
        w->sweeping = true;
        w->sweep_last_chunk = false;
        w->sweep_safe_point = sp;
        bs_buf_reset(&w->cursor);
        BS_LOG_DEBUG("GC sweep started", "safe_point=%llu", (unsigned long long)sp);
    }
}

/* One chunk of the current sweep. */
static void gc_step(srv_node *n)
{
    srv_worker *w = &n->worker;
    int proposed = 0;
    bool more = false;
    bs_err err;
    bs_err_clear(&err);
    int rc = srv_gc_run_pass(n, w->sweep_safe_point, &proposed, &more, &err);
    if (rc != BS_OK) {
        atomic_fetch_add(&n->st_gc_errors, 1);
        BS_LOG_WARN("GC pass failed; retried at the next GC tick", "err=%s", err.msg);
        w->sweeping = false;
        w->sweep_last_chunk = false;
        w->sweep_safe_point = 0; /* retry the same safe point next tick */
        w->next_sweep_ms = 0;
        return;
    }
    (void)proposed; /* already counted in gc_inflight by srv_gc_run_pass */
    if (!more)
        w->sweep_last_chunk = true; /* finished once its proposals are done */
}

/* The last chunk's proposals are all done: the sweep is over. */
static void gc_finish(srv_node *n)
{
    srv_worker *w = &n->worker;
    w->sweeping = false;
    w->sweep_last_chunk = false;
    atomic_fetch_add(&n->st_gc_sweeps, 1);
    BS_LOG_DEBUG("GC sweep finished", "safe_point=%llu",
                 (unsigned long long)w->sweep_safe_point);
}

void srv_gc_proposal_done(srv_node *n, int code, size_t deletes, const bs_err *err)
{
    srv_worker *w = &n->worker;
    if (code == BS_OK) {
        atomic_fetch_add(&n->st_gc_deletes, deletes);
        atomic_fetch_add(&n->st_gc_proposals, 1);
    } else {
        atomic_fetch_add(&n->st_gc_errors, 1);
        BS_LOG_WARN("GC proposal failed", "code=%s err=%s", bs_errname(code),
                    err ? err->msg : "");
    }
    pthread_mutex_lock(&w->mu);
    BS_ASSERT(w->gc_inflight > 0);
    w->gc_inflight--;
    if (code != BS_OK)
        w->sweep_safe_point = 0; /* the sweep goes on; the next tick sweeps again */
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* ---- timers (the txn store's lock waits) ------------------------------------------------- */

void srv_worker_after(void *arg, uint64_t ms, txn_timer_fn fn, void *fn_arg)
{
    srv_node *n = arg;
    srv_worker *w = &n->worker;
    srv_timer *t = bs_calloc(1, sizeof(*t));
    if (ms > INT32_MAX)
        ms = INT32_MAX;
    t->due_ms = bs_clock_mono_ms() + (int64_t)ms;
    t->fn = fn;
    t->fn_arg = fn_arg;
    pthread_mutex_lock(&w->mu);
    srv_timer **pp = &w->timers;
    while (*pp && (*pp)->due_ms <= t->due_ms)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Fires a list of timers taken off the queue, without w->mu. */
static void fire_timers(srv_timer *t, bool cancelled)
{
    while (t) {
        srv_timer *next = t->next;
        t->fn(t->fn_arg, cancelled);
        bs_free(t);
        t = next;
    }
}

void srv_worker_cancel_timers(srv_node *n)
{
    srv_worker *w = &n->worker;
    pthread_mutex_lock(&w->mu);
    w->timers_closed = true;
    srv_timer *t = w->timers;
    w->timers = NULL;
    pthread_mutex_unlock(&w->mu);
    fire_timers(t, true);
}

/* ---- the thread ---------------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    srv_node *n = arg;
    srv_worker *w = &n->worker;
    int64_t now = bs_clock_mono_ms();
    w->next_tso_tick_ms = now + n->opts.tso_tick_ms;
    w->next_gc_tick_ms = now + n->opts.gc_tick_ms;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        /* 1. Fetches first, in arrival order, without the lock (done may fetch again). */
        if (w->head) {
            srv_tso_req *r = w->head;
            w->head = r->next;
            if (!w->head)
                w->tail = NULL;
            pthread_mutex_unlock(&w->mu);
            serve_fetch(n, r);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        /* 1b. Timers that are due (or all of them once cancelled), one at a time. */
        if (w->timers && (w->timers_closed || w->timers->due_ms <= bs_clock_mono_ms())) {
            srv_timer *t = w->timers;
            w->timers = t->next;
            t->next = NULL;
            bool cancelled = w->timers_closed;
            pthread_mutex_unlock(&w->mu);
            fire_timers(t, cancelled);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        /* 2. Acknowledge the phase (the queue is empty now, so STOPPING may exit). */
        if (w->seen != w->phase) {
            w->seen = w->phase;
            pthread_cond_broadcast(&w->seen_cv);
        }
        if (w->phase == SRV_WORKER_STOPPING)
            break;
        if (w->phase != SRV_WORKER_RUNNING) {
            if (w->timers)
                (void)bs_cond_wait_mono_ms(&w->cv, &w->mu, w->timers->due_ms - bs_clock_mono_ms());
            else
                pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        /* 3. Periodic jobs, one at a time, re-checking the queue and phase between them. */
        now = bs_clock_mono_ms();
        bool force = w->gc_trigger;
        if (now >= w->next_tso_tick_ms) {
            w->next_tso_tick_ms = now + n->opts.tso_tick_ms;
            pthread_mutex_unlock(&w->mu);
            tso_tick(n);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        if ((now >= w->next_gc_tick_ms || force) && !w->sweeping && w->gc_inflight == 0) {
            w->next_gc_tick_ms = now + n->opts.gc_tick_ms;
            w->gc_trigger = false;
            pthread_mutex_unlock(&w->mu);
            gc_tick(n, force);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        if (w->sweeping && w->gc_inflight == 0) {
            pthread_mutex_unlock(&w->mu);
            if (w->sweep_last_chunk)
                gc_finish(n);
            else
                gc_step(n);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        int64_t next = w->next_tso_tick_ms;
        if (!w->sweeping && w->gc_inflight == 0 && w->next_gc_tick_ms < next)
            next = w->next_gc_tick_ms;
        if (w->timers && w->timers->due_ms < next)
            next = w->timers->due_ms;
        (void)bs_cond_wait_mono_ms(&w->cv, &w->mu, next - now);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int srv_worker_start(srv_node *n, bs_err *err)
{
    srv_worker *w = &n->worker;
    BS_ASSERT(!w->started);
    pthread_mutex_lock(&w->mu);
    w->phase = SRV_WORKER_IDLE;
    w->seen = SRV_WORKER_STOPPED;
    pthread_mutex_unlock(&w->mu);
    int rc = pthread_create(&w->thread, NULL, worker_main, n);
    if (rc != 0) {
        w->phase = SRV_WORKER_STOPPED;
        return bs_err_setf(err, BS_EINTERNAL, "cannot start the background thread: %s",
                           strerror(rc));
    }
    w->started = true;
    (void)pthread_setname_np(w->thread, "srv-worker"); /* cosmetic */
    return BS_OK;
}

void srv_worker_set_phase(srv_node *n, srv_worker_phase phase)
{
    srv_worker *w = &n->worker;
    BS_ASSERT(phase != SRV_WORKER_STOPPED);
    if (!w->started)
        return;
    pthread_mutex_lock(&w->mu);
    w->phase = phase;
    pthread_cond_signal(&w->cv);
    while (w->seen != phase)
        pthread_cond_wait(&w->seen_cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    if (phase == SRV_WORKER_STOPPING) {
        pthread_join(w->thread, NULL);
        w->started = false;
        pthread_mutex_lock(&w->mu);
        /* A fetch that slipped in after the thread's last look is answered inline. */
        srv_tso_req *r = w->head;
        w->head = w->tail = NULL;
        w->phase = w->seen = SRV_WORKER_STOPPED;
        /* So are timers that slipped in: nothing will fire them now. */
        srv_timer *t = w->timers;
        w->timers = NULL;
        w->timers_closed = true;
        pthread_mutex_unlock(&w->mu);
        fire_timers(t, true);
        while (r) {
            srv_tso_req *next = r->next;
            serve_fetch(n, r);
            r = next;
        }
    }
}

void srv_worker_trigger_gc(srv_node *n)
{
    srv_worker *w = &n->worker;
    pthread_mutex_lock(&w->mu);
    w->gc_trigger = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void srv_worker_deinit(srv_node *n)
{
    srv_worker *w = &n->worker;
    BS_ASSERT(!w->started && !w->head && !w->timers);
    bs_buf_free(&w->cursor);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->seen_cv);
    pthread_mutex_destroy(&w->mu);
}
