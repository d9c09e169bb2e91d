/* txn_client.c -- client_txns, the transaction layer of one client: creation and shutdown,
 * the holds that let shutdown wait for work in flight, the registry of running txns and
 * the GC safe point derived from it, counters.
 *
 * GC (DESIGN.md: PD advances the safe point by itself, bounded by the oldest start_ts
 * services register): the safe point registered is the oldest start_ts of a txn begun and
 * not freed, or, when none runs, the newest ts the TSO client handed out (every txn begun
 * later starts above it). A txn joins the registry on the TSO thread, in the callback that
 * hands it its start_ts, and the registration runs on that same thread, so no start_ts can
 * slip between the two. The registration carries a TTL (gc_ttl_s) so a crashed client
 * stops holding GC back; it is renewed every gc_update_ms and withdrawn at free. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client/client_int.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"

void client_txns_options_init(client_txns_options *o)
{
    memset(o, 0, sizeof(*o));
    o->lock_ttl_ms = 3000;
    o->one_pc = true;
    o->gc_update_ms = 10000;
    o->gc_ttl_s = 600;
}

int client_txns_new(client *c, const client_txns_options *opts, client_txns **out,
                    bs_err *err)
{
    client_txns_options o;
    if (!c)
        return bs_err_setf(err, BS_EINVAL, "client txns: a client is required");
    if (opts)
        o = *opts;
    else
        client_txns_options_init(&o);
    if (o.lock_ttl_ms == 0 || o.gc_update_ms == 0 || o.gc_ttl_s <= 0)
        return bs_err_setf(err, BS_EINVAL,
                           "client txns: lock ttl, gc update period and gc ttl must be > 0");
    o.gc_service_id[sizeof(o.gc_service_id) - 1] = '\0';
    if (o.gc_service_id[0] == '\0')
        snprintf(o.gc_service_id, sizeof(o.gc_service_id), "basalt-client-%llu",
                 (unsigned long long)cluster_store_id(c->o.store));
    client_txns *t = bs_calloc(1, sizeof(*t));
    t->c = c;
    t->o = o;
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_cond_init(&t->changed, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&t->tso_requests, 0);
    atomic_init(&t->tso_batches, 0);
    atomic_init(&t->begun, 0);
    atomic_init(&t->committed, 0);
    atomic_init(&t->one_pc, 0);
    atomic_init(&t->conflicts, 0);
    atomic_init(&t->watch_failures, 0);
    atomic_init(&t->failures, 0);
    atomic_init(&t->locks_resolved, 0);
    atomic_init(&t->commit_ts_renewed, 0);
    atomic_init(&t->gc_safe_point, 0);
    t->next_gc_ms = bs_clock_mono_ms() + o.gc_update_ms;
    int rc = client_tso_start(t, err);
    if (rc != BS_OK) {
        pthread_cond_destroy(&t->cv);
        pthread_cond_destroy(&t->changed);
        pthread_mutex_destroy(&t->mu);
        bs_free(t);
        return rc;
    }
    *out = t;
    return BS_OK;
}

void client_txns_free(client_txns *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->closing = true;
    while (t->busy > 0)
        pthread_cond_wait(&t->changed, &t->mu);
    /* A handle outliving t would unregister into freed memory. */
    BS_ASSERT(t->n_live == 0 && t->live == NULL);
    pthread_mutex_unlock(&t->mu);
    client_tso_stop(t);
    /* Withdraw the registration: nothing of ours runs any more. */
    bs_err err;
    uint64_t min_sp = 0;
    bs_err_clear(&err);
    if (atomic_load(&t->gc_safe_point) != 0 &&
        pd_update_service_gc_safe_point(t->c->o.pd, bs_slice_from_str(t->o.gc_service_id), 0, 0,
                                        &min_sp, &err) != BS_OK)
        BS_LOG_WARN("cannot withdraw the service gc safe point", "service=%s err=\"%s\"",
                    t->o.gc_service_id, err.msg);
    pthread_cond_destroy(&t->cv);
    pthread_cond_destroy(&t->changed);
    pthread_mutex_destroy(&t->mu);
    bs_free(t);
}

/* ---- holds ------------------------------------------------------------------------------- */

bool client_txns_hold(client_txns *t)
{
    pthread_mutex_lock(&t->mu);
    bool ok = !t->closing;
    if (ok)
        t->busy++;
    pthread_mutex_unlock(&t->mu);
    return ok;
}

void client_txns_release(client_txns *t)
{
    pthread_mutex_lock(&t->mu);
    BS_ASSERT(t->busy > 0);
    /* Last touch of t by this operation: client_txns_free may go on once busy is 0. */
    if (--t->busy == 0)
        pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->mu);
}

static bool wait_until(client_txns *t, int64_t deadline_ms)
{
    int64_t left = deadline_ms - bs_clock_mono_ms();
    if (left <= 0)
        return false;
    (void)bs_cond_wait_mono_ms(&t->changed, &t->mu, left);
    return true;
}

bool client_txns_wait_idle(client_txns *t, int64_t timeout_ms)
{
    int64_t deadline = bs_clock_mono_ms() + timeout_ms;
    pthread_mutex_lock(&t->mu);
    while (t->busy > 0 && wait_until(t, deadline)) {
    }
    bool idle = t->busy == 0;
    pthread_mutex_unlock(&t->mu);
    return idle;
}

/* ---- the registry and GC -------------------------------------------------------------------- */

void client_txns_register(client_txns *t, client_txn *txn)
{
    pthread_mutex_lock(&t->mu);
    txn->prev = NULL;
    txn->next = t->live;
    if (t->live)
        t->live->prev = txn;
    t->live = txn;
    t->n_live++;
    pthread_mutex_unlock(&t->mu);
}

void client_txns_unregister(client_txns *t, client_txn *txn)
{
    pthread_mutex_lock(&t->mu);
    BS_ASSERT(t->n_live > 0);
    if (txn->prev)
        txn->prev->next = txn->next;
    else
        t->live = txn->next;
    if (txn->next)
        txn->next->prev = txn->prev;
    txn->prev = txn->next = NULL;
    t->n_live--;
    pthread_mutex_unlock(&t->mu);
}

void client_txns_gc_update(client_txns *t)
{
    pthread_mutex_lock(&t->mu);
    uint64_t sp = t->last_ts;
    for (client_txn *x = t->live; x; x = x->next)
        if (x->start_ts < sp)
            sp = x->start_ts;
    pthread_mutex_unlock(&t->mu);
    if (sp != 0) { /* 0: no ts handed out yet, so no txn can be running */
        bs_err err;
        uint64_t min_sp = 0;
        bs_err_clear(&err);
        int rc = pd_update_service_gc_safe_point(t->c->o.pd, bs_slice_from_str(t->o.gc_service_id),
                                                 t->o.gc_ttl_s, sp, &min_sp, &err);
        if (rc != BS_OK)
            BS_LOG_WARN("cannot register the service gc safe point", "service=%s err=\"%s\"",
                        t->o.gc_service_id, err.msg);
        else if (min_sp > sp)
            /* PD refused: its safe point already passed a running txn (one older than the
             * GC life time whose registration came too late). Its reads may miss data. */
            BS_LOG_WARN("gc safe point is above a running txn", "service=%s start_ts=%llu "
                        "safe_point=%llu", t->o.gc_service_id, (unsigned long long)sp,
                        (unsigned long long)min_sp);
        else
            atomic_store(&t->gc_safe_point, sp);
    }
    pthread_mutex_lock(&t->mu);
    t->gc_rounds++;
    pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->mu);
}

void client_txns_gc_now(client_txns *t)
{
    pthread_mutex_lock(&t->mu);
    uint64_t want = t->gc_rounds + 1;
    t->gc_asked = true;
    pthread_cond_signal(&t->cv);
    while (t->gc_rounds < want)
        pthread_cond_wait(&t->changed, &t->mu);
    pthread_mutex_unlock(&t->mu);
}

void client_txns_stats_get(client_txns *t, client_txns_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->tso_requests = atomic_load(&t->tso_requests);
    out->tso_batches = atomic_load(&t->tso_batches);
    out->begun = atomic_load(&t->begun);
    out->committed = atomic_load(&t->committed);
    out->one_pc = atomic_load(&t->one_pc);
    out->conflicts = atomic_load(&t->conflicts);
    out->watch_failures = atomic_load(&t->watch_failures);
    out->failures = atomic_load(&t->failures);
    out->locks_resolved = atomic_load(&t->locks_resolved);
    out->commit_ts_renewed = atomic_load(&t->commit_ts_renewed);
    out->gc_safe_point = atomic_load(&t->gc_safe_point);
    pthread_mutex_lock(&t->mu);
    out->running = t->n_live;
    pthread_mutex_unlock(&t->mu);
}
