/* clock.h -- the process's clocks: monotonic time for intervals, wall time for TTLs and logs.
 *
 * Intervals (timeouts, ticks, latencies) must use the monotonic clock so a wall clock step
 * (NTP, an operator) cannot fire or starve them. Expiry times (Redis PX/EXPIRE, RawKV TTL)
 * and log timestamps are wall time. Tests of TTL need to move wall time at will, so the
 * wall clock carries a test hook: a fixed time or an offset, both held in atomics.
 *
 * Thread affinity: every function may be called from any thread. The overrides are
 * process-wide; setting them is meant for tests and is not synchronised with readers beyond
 * each value being read and written atomically (a reader sees the old or the new value). */
#ifndef BASALT_COMMON_CLOCK_H
#define BASALT_COMMON_CLOCK_H

#include <pthread.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds / milliseconds. Never goes backwards; unrelated to wall
 * time; not affected by the wall overrides. */
int64_t bs_clock_mono_ns(void);
int64_t bs_clock_mono_ms(void);

/* Waits on cv (created with CLOCK_MONOTONIC; the caller holds mu) for at most ms
 * milliseconds of real monotonic time (ms <= 0: a timed wait that returns at once).
 * Returns 0 when signalled (or woken spuriously) and ETIMEDOUT when the time ran out;
 * anything else is asserted away. */
int bs_cond_wait_mono_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms);

/* Test hook: every later monotonic reading is ms (>= 0) further on, as if that much time
 * had passed at once (intervals that would take seconds to wait for). Forward only. */
void bs_clock_advance_mono(int64_t ms);

/* CLOCK_REALTIME as milliseconds / microseconds since the Unix epoch, after the test hooks:
 * when a fixed time is set, it is returned (wall_us = fixed_ms * 1000); otherwise the real
 * time plus the offset. */
int64_t bs_clock_wall_ms(void);
int64_t bs_clock_wall_us(void);

/* Test hook: pin wall time at ms since the epoch; ms < 0 removes the pin. */
void bs_clock_set_wall_override(int64_t ms);

/* Test hook: add offset_ms (may be negative) to the real wall time; 0 removes it.
 * Ignored while a fixed time is pinned. */
void bs_clock_set_wall_offset(int64_t offset_ms);

#endif
