/* test_gc.c -- GC safe point rules: UpdateGCSafePoint keeps the maximum, service safe
 * points expire by TTL and are removed by TTL <= 0, and PD advances the safe point by
 * itself to now − life-time without passing a live service safe point. All of it durable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pd/pd_int.h"
#include "pd_test.h"

#define T0 INT64_C(1790000000000)
#define MIN10 (10 * 60 * 1000)

static uint64_t ts_at(int64_t ms)
{
    return pd_ts_compose(ms, 0);
}

static void test_gc_update_keeps_max(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    uint64_t sp = 0;
    assert_int_equal(pd_get_gc_safe_point(pd), 0);
    assert_int_equal(pd_update_gc_safe_point(pd, 100, &sp, NULL), BS_OK);
    assert_int_equal(sp, 100);
    assert_int_equal(pd_update_gc_safe_point(pd, 50, &sp, NULL), BS_OK);
    assert_int_equal(sp, 100); /* never backwards */
    assert_int_equal(pd_update_gc_safe_point(pd, 200, &sp, NULL), BS_OK);
    assert_int_equal(sp, 200);
    pd_memstore_set_fail_writes(ms, true);
    assert_int_equal(pd_update_gc_safe_point(pd, 300, &sp, NULL), BS_EIO);
    assert_int_equal(pd_get_gc_safe_point(pd), 200);
    pd_memstore_set_fail_writes(ms, false);
    pd_close(pd);
    pd = must_open(ms, &clk);
    assert_int_equal(pd_get_gc_safe_point(pd), 200);
    pd_close(pd);
    pd_meta_store_free(ms);
}

static void test_gc_service_safe_points(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    uint64_t min = 0, sp = 0;
    bs_slice a = bs_slice_from_str("svc-a"), b = bs_slice_make("svc\0b", 5);

    /* No services: the minimum is the GC safe point itself. */
    assert_int_equal(pd_update_gc_safe_point(pd, 10, &sp, NULL), BS_OK);
    assert_int_equal(pd_update_service_gc_safe_point(pd, a, 0, 50, &min, NULL), BS_OK);
    assert_int_equal(min, 10);

    assert_int_equal(pd_update_service_gc_safe_point(pd, a, 60, 100, &min, NULL), BS_OK);
    assert_int_equal(min, 100);
    assert_int_equal(pd_update_service_gc_safe_point(pd, b, 120, 80, &min, NULL), BS_OK);
    assert_int_equal(min, 80);
    /* A service may move its own point either way while above the GC safe point. */
    assert_int_equal(pd_update_service_gc_safe_point(pd, a, 60, 70, &min, NULL), BS_OK);
    assert_int_equal(min, 70);
    assert_int_equal(pd_update_service_gc_safe_point(pd, a, 60, 150, &min, NULL), BS_OK);
    assert_int_equal(min, 80);
    /* Below the GC safe point: not registered; the answer tells the caller so. */
    assert_int_equal(
        pd_update_service_gc_safe_point(pd, bs_slice_from_str("late"), 60, 5, &min, NULL), BS_OK);
    assert_int_equal(min, 80);
    /* Bad ids. */
    assert_int_equal(pd_update_service_gc_safe_point(pd, BS_SLICE_NULL, 60, 5, &min, NULL),
                     BS_EINVAL);

    /* Survives a restart. */
    pd_close(pd);
    pd = must_open(ms, &clk);
    assert_int_equal(pd_update_service_gc_safe_point(pd, bs_slice_from_str("q"), 0, 0, &min, NULL),
                     BS_OK);
    assert_int_equal(min, 80);

    /* TTL expiry: after 60 s a is gone... */
    clk.now_ms = T0 + 60 * 1000;
    assert_int_equal(pd_update_service_gc_safe_point(pd, bs_slice_from_str("q"), 0, 0, &min, NULL),
                     BS_OK);
    assert_int_equal(min, 80); /* b remains */
    /* ...TTL <= 0 removes b... */
    assert_int_equal(pd_update_service_gc_safe_point(pd, b, -1, 0, &min, NULL), BS_OK);
    assert_int_equal(min, 10);
    /* ...and the removal is durable. */
    pd_close(pd);
    pd = must_open(ms, &clk);
    assert_int_equal(pd_update_service_gc_safe_point(pd, bs_slice_from_str("q"), 0, 0, &min, NULL),
                     BS_OK);
    assert_int_equal(min, 10);
    /* A TTL too large to add is "forever". */
    assert_int_equal(pd_update_service_gc_safe_point(pd, a, INT64_MAX, 90, &min, NULL), BS_OK);
    clk.now_ms = INT64_MAX / 2;
    assert_int_equal(pd_update_service_gc_safe_point(pd, bs_slice_from_str("q"), 0, 0, &min, NULL),
                     BS_OK);
    assert_int_equal(min, 90);
    pd_close(pd);
    pd_meta_store_free(ms);
}

static void test_gc_tick_advances_by_life_time(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    uint64_t sp = 0, min = 0;

    /* Default life time: 10 minutes. */
    assert_int_equal(pd_gc_tick(pd, T0, &sp, NULL), BS_OK);
    assert_int_equal(sp, ts_at(T0 - MIN10));
    /* Time going backwards never moves it back. */
    assert_int_equal(pd_gc_tick(pd, T0 - 5000, &sp, NULL), BS_OK);
    assert_int_equal(sp, ts_at(T0 - MIN10));

    /* A service holding an older snapshot stops GC at its point... */
    uint64_t held = ts_at(T0 - MIN10 + 1000);
    assert_int_equal(
        pd_update_service_gc_safe_point(pd, bs_slice_from_str("backup"), 300, held, &min, NULL),
        BS_OK);
    assert_int_equal(pd_gc_tick(pd, T0 + 60000, &sp, NULL), BS_OK);
    assert_int_equal(sp, held);
    /* ...and the bound holds across a restart... */
    pd_close(pd);
    pd = must_open(ms, &clk);
    assert_int_equal(pd_get_gc_safe_point(pd), held);
    assert_int_equal(pd_gc_tick(pd, T0 + 120000, &sp, NULL), BS_OK);
    assert_int_equal(sp, held);
    /* ...until the TTL runs out (at T0 + 300 s), then GC catches up. */
    assert_int_equal(pd_gc_tick(pd, T0 + 300000, &sp, NULL), BS_OK);
    assert_int_equal(sp, ts_at(T0 + 300000 - MIN10));
    pd_close(pd);

    /* A configured life time; a clock before the life time gives 0, not a wrap. */
    pd_options o;
    pd_options_init(&o);
    o.gc_life_time_ms = 1000;
    pd_meta_store *ms2 = pd_memstore_new();
    pd = must_open_opts(ms2, &clk, &o);
    assert_int_equal(pd_gc_tick(pd, 500, &sp, NULL), BS_OK);
    assert_int_equal(sp, 0);
    assert_int_equal(pd_gc_tick(pd, T0, &sp, NULL), BS_OK);
    assert_int_equal(sp, ts_at(T0 - 1000));
    /* A failed write leaves the safe point where it was. */
    pd_memstore_set_fail_writes(ms2, true);
    assert_int_equal(pd_gc_tick(pd, T0 + 5000, &sp, NULL), BS_EIO);
    pd_memstore_set_fail_writes(ms2, false);
    assert_int_equal(pd_get_gc_safe_point(pd), ts_at(T0 - 1000));
    pd_close(pd);
    pd_meta_store_free(ms2);
    pd_meta_store_free(ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gc_update_keeps_max),
        cmocka_unit_test(test_gc_service_safe_points),
        cmocka_unit_test(test_gc_tick_advances_by_life_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
