/* test_clock.c -- monotonic and wall clocks, and the wall-clock test hooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mono_never_goes_back),
        cmocka_unit_test(test_wall_matches_system_time),
        cmocka_unit_test(test_wall_override_and_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
