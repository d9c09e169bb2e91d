/* clock.c -- clock_gettime wrappers and the wall-clock test hooks (see clock.h). */
#include "common/clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <time.h>

#include "common/assert.h"

/* -1: no pinned time. Atomics so a test thread can move time under running workers. */
static _Atomic int64_t wall_fixed_ms = -1;
static _Atomic int64_t wall_offset_ms = 0;
/* Only grows (bs_clock_advance_mono), so the monotonic clock stays monotonic. */
static _Atomic int64_t mono_skew_ns = 0;

static int64_t read_ns(clockid_t id)
{
    struct timespec ts;
    /* clock_gettime cannot fail for these clocks on Linux; a failure means a broken
     * platform, not bad input. */
    int rc = clock_gettime(id, &ts);
    BS_ASSERT(rc == 0);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bs_clock_mono_ns(void)
{
    return read_ns(CLOCK_MONOTONIC) + atomic_load_explicit(&mono_skew_ns, memory_order_relaxed);
}

int64_t bs_clock_mono_ms(void)
{
    return bs_clock_mono_ns() / 1000000;
}

void bs_clock_advance_mono(int64_t ms)
{
    BS_ASSERT(ms >= 0);
    atomic_fetch_add_explicit(&mono_skew_ns, ms * 1000000, memory_order_relaxed);
}

int64_t bs_clock_wall_us(void)
{
    int64_t fixed = atomic_load_explicit(&wall_fixed_ms, memory_order_relaxed);
    if (fixed >= 0)
        return fixed * 1000;
    int64_t off = atomic_load_explicit(&wall_offset_ms, memory_order_relaxed);
    return read_ns(CLOCK_REALTIME) / 1000 + off * 1000;
}

int64_t bs_clock_wall_ms(void)
{
    int64_t fixed = atomic_load_explicit(&wall_fixed_ms, memory_order_relaxed);
    if (fixed >= 0)
        return fixed;
    int64_t off = atomic_load_explicit(&wall_offset_ms, memory_order_relaxed);
    return read_ns(CLOCK_REALTIME) / 1000000 + off;
}

void bs_clock_set_wall_override(int64_t ms)
{
    atomic_store_explicit(&wall_fixed_ms, ms < 0 ? -1 : ms, memory_order_relaxed);
}

void bs_clock_set_wall_offset(int64_t offset_ms)
{
    atomic_store_explicit(&wall_offset_ms, offset_ms, memory_order_relaxed);
}

int bs_cond_wait_mono_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ms < 0)
        ms = 0;
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    int rc = pthread_cond_timedwait(cv, mu, &ts);
    BS_ASSERT(rc == 0 || rc == ETIMEDOUT);
    return rc;
}
