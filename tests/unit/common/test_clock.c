/* test_clock.c -- monotonic and wall clocks, and the wall-clock test hooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "common/clock.h"

static void test_mono_never_goes_back(void **state)
{
    (void)state;
    int64_t prev = bs_clock_mono_ns();
    for (int i = 0; i < 10000; i++) {
        int64_t now = bs_clock_mono_ns();
        assert_true(now >= prev);
        prev = now;
    }
    int64_t a = bs_clock_mono_ms();
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    int64_t b = bs_clock_mono_ms();
    assert_true(b - a >= 19);
    assert_true(b - a < 10000);
}

static void test_wall_matches_system_time(void **state)
{
    (void)state;
    int64_t ms = bs_clock_wall_ms();
    int64_t us = bs_clock_wall_us();
    time_t t = time(NULL);
    assert_true(ms / 1000 >= (int64_t)t - 2 && ms / 1000 <= (int64_t)t + 2);
    assert_true(us / 1000 >= ms && us / 1000 - ms < 1000);
}

static void test_wall_override_and_offset(void **state)
{
    (void)state;
    bs_clock_set_wall_override(1795276980123);
    assert_int_equal(bs_clock_wall_ms(), 1795276980123);
    assert_int_equal(bs_clock_wall_us(), 1795276980123000);
    bs_clock_set_wall_offset(5000); /* ignored while pinned */
    assert_int_equal(bs_clock_wall_ms(), 1795276980123);
    bs_clock_set_wall_override(-1);
    int64_t real = (int64_t)time(NULL) * 1000;
    int64_t shifted = bs_clock_wall_ms();
    assert_true(shifted - real >= 5000 - 2000 && shifted - real <= 5000 + 2000);
    bs_clock_set_wall_offset(-3600 * 1000);
    assert_true(bs_clock_wall_ms() < real);
    bs_clock_set_wall_offset(0);
    /* The monotonic clock ignores the hooks. */
    bs_clock_set_wall_override(0);
    assert_int_equal(bs_clock_wall_ms(), 0);
    assert_true(bs_clock_mono_ms() > 0);
    bs_clock_set_wall_override(-1);
    assert_true(bs_clock_wall_ms() > 1700000000000);
}

/* bs_cond_wait_mono_ms: times out without a signal (a negative wait too), and a signal
 * sent before the deadline wakes the waiter with 0. */
typedef struct cv_pair {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int flag;
} cv_pair;

static void *signaller(void *arg)
{
    cv_pair *p = arg;
    pthread_mutex_lock(&p->mu);
    p->flag = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void test_cond_wait_mono(void **state)
{
    (void)state;
    cv_pair p = {.flag = 0};
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p.cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&p.mu, NULL);

    pthread_mutex_lock(&p.mu);
    assert_int_equal(bs_cond_wait_mono_ms(&p.cv, &p.mu, -5), ETIMEDOUT);
    while (bs_cond_wait_mono_ms(&p.cv, &p.mu, 20) != ETIMEDOUT) {
    } /* spurious wake-ups retry; nobody signals, so the deadline ends it */

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, signaller, &p), 0);
    /* A generous bound: the signal, not the deadline, ends this wait. */
    while (!p.flag)
        (void)bs_cond_wait_mono_ms(&p.cv, &p.mu, 60000);
    pthread_mutex_unlock(&p.mu);
    pthread_join(th, NULL);
    assert_int_equal(p.flag, 1);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mono_never_goes_back),
        cmocka_unit_test(test_wall_matches_system_time),
        cmocka_unit_test(test_wall_override_and_offset),
        cmocka_unit_test(test_cond_wait_mono),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
