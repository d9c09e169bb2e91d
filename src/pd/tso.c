/* tso.c -- the timestamp oracle: (physical_ms << 18 | logical), strictly increasing forever.
 *
 * Invariants, each asserted where it is established:
 *   1. Every issued ts is larger than the previous one (last_ts).
 *   2. Every issued ts has physical < window_end, and window_end is durable in the meta
 *      store before any ts below it is issued. After a restart the physical part starts at
 *      max(now, persisted window_end), so no ts from before the restart can be repeated,
 *      whatever the wall clock says.
 *   3. logical < 2^18. A block that would overflow moves to the next millisecond instead
 *      (ahead of the wall clock if need be; invariant 2 still bounds how far).
 * The wall clock only pulls the physical part forward: when it goes backwards PD keeps its
 * physical part and spends logical values, then milliseconds of its own.
 *
 * The window is saved with the TSO lock dropped, one save at a time (`saving`), so other
 * requests keep being served below the old bound meanwhile; pd_tso_tick saves ahead of need
 * so the request path, in steady state, never waits on the disk. Mirrors PD's pkg/tso
 * (timestamp_oracle.go: saveInterval 3 s, update loop every 50 ms). */
#include "common/assert.h"
#include "pd/pd_int.h"

#define PD_TSO_MAX_PHYSICAL ((INT64_C(1) << (64 - PD_TSO_LOGICAL_BITS)) - 1)

/* Persists target as the new window bound. Called and returns with tso.mu held; drops it
 * during the write. Precondition: no save in flight and target > window_end, so persisted
 * values only grow. */
static int save_window(pd_core *pd, int64_t target, bs_err *err)
{
    pd_tso *t = &pd->tso;
    BS_ASSERT(!t->saving && target > t->window_end && target <= PD_TSO_MAX_PHYSICAL + 1);
    t->saving = true;
    pthread_mutex_unlock(&t->mu);
    int rc = pd_meta_put_u64(pd->ms, PD_KEY_TSO_WINDOW, (uint64_t)target, true, err);
    pthread_mutex_lock(&t->mu);
    t->saving = false;
    if (rc == BS_OK) {
        BS_ASSERT(target > t->window_end);
        t->window_end = target;
    }
    pthread_cond_broadcast(&t->saved);
    return rc;
}

static int64_t window_target(const pd_core *pd, int64_t base)
{
    int64_t target = base + pd->opts.tso_save_interval_ms;
    return target > PD_TSO_MAX_PHYSICAL + 1 ? PD_TSO_MAX_PHYSICAL + 1 : target;
}

int pd_tso_open(pd_core *pd, bs_err *err)
{
    pd_tso *t = &pd->tso;
    uint64_t saved = 0;
    int rc = pd_meta_get_u64(pd->ms, PD_KEY_TSO_WINDOW, &saved, err);
    if (rc == BS_NOTFOUND)
        saved = 0;
    else if (rc != BS_OK)
        return pd_wrapf(rc, err, "load tso window");
    else if (saved > (uint64_t)PD_TSO_MAX_PHYSICAL)
        return bs_err_setf(err, BS_ECORRUPT, "tso window %llu out of range",
                           (unsigned long long)saved);
    int64_t now = pd_now_ms(pd);
    int64_t floor = now > (int64_t)saved ? now : (int64_t)saved;
    if (floor > PD_TSO_MAX_PHYSICAL - 1)
        return bs_err_setf(err, BS_ERANGE, "tso physical time %lld out of range", (long long)floor);
    /* Nothing is issued at `floor` yet: everything before the restart was below `saved`. */
    t->physical = floor;
    t->logical = 0;
    t->last_ts = pd_ts_compose(floor, 0);
    t->window_end = (int64_t)saved;
    t->saving = false;
    pthread_mutex_lock(&t->mu);
    rc = save_window(pd, window_target(pd, floor), err);
    pthread_mutex_unlock(&t->mu);
    if (rc != BS_OK)
        return pd_wrapf(rc, err, "save tso window");
    BS_ASSERT(t->physical < t->window_end);
    return BS_OK;
}

int pd_tso_alloc(pd_core *pd, uint32_t count, uint64_t *ts_out, bs_err *err)
{
    if (count == 0 || count >= PD_TSO_MAX_LOGICAL)
        return bs_err_setf(err, BS_EINVAL, "tso count %u out of range 1..%u", count,
                           PD_TSO_MAX_LOGICAL - 1);
    pd_tso *t = &pd->tso;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        int64_t now = pd_now_ms(pd);
        int64_t phys = t->physical;
        uint32_t logical = t->logical;
        if (now > phys) {
            phys = now;
            logical = 0;
        }
        if (logical + count >= PD_TSO_MAX_LOGICAL) {
            BS_TESTCASE(now <= t->physical);
            phys++;
            logical = 0;
        }
        if (phys > PD_TSO_MAX_PHYSICAL - 1) {
            pthread_mutex_unlock(&t->mu);
            return bs_err_setf(err, BS_ERANGE, "tso physical time %lld out of range",
                               (long long)phys);
        }
        if (phys < t->window_end) {
            uint64_t ts = pd_ts_compose(phys, logical + count);
            BS_ASSERT(ts > t->last_ts);
            t->physical = phys;
            t->logical = logical + count;
            BS_ASSERT(t->logical < PD_TSO_MAX_LOGICAL);
            t->last_ts = ts;
            pthread_mutex_unlock(&t->mu);
            *ts_out = ts;
            return BS_OK;
        }
        if (t->saving) {
            pthread_cond_wait(&t->saved, &t->mu);
            continue;
        }
        int rc = save_window(pd, window_target(pd, phys), err);
        if (rc != BS_OK) {
            pthread_mutex_unlock(&t->mu);
            return pd_wrapf(rc, err, "tso: save window");
        }
        /* Re-read the clock: the save may have taken a while. */
    }
}

int pd_tso_tick(pd_core *pd, bs_err *err)
{
    pd_tso *t = &pd->tso;
    int rc = BS_OK;
    pthread_mutex_lock(&t->mu);
    if (!t->saving) {
        int64_t now = pd_now_ms(pd);
        int64_t base = now > t->physical ? now : t->physical;
        if (base <= PD_TSO_MAX_PHYSICAL - 1 &&
            t->window_end - base < pd->opts.tso_save_interval_ms / 2 &&
            window_target(pd, base) > t->window_end)
            rc = save_window(pd, window_target(pd, base), err);
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int64_t pd_tso_window_end(pd_core *pd)
{
    pthread_mutex_lock(&pd->tso.mu);
    int64_t v = pd->tso.window_end;
    pthread_mutex_unlock(&pd->tso.mu);
    return v;
}
