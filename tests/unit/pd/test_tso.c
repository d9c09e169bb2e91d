/* test_tso.c -- the TSO never goes backwards: within one run, across logical overflow,
 * across restarts with the wall clock moved backwards, and never above the persisted
 * window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/assert.h"

#include "pd/pd_int.h"
#include "pd_test.h"

#define T0 INT64_C(1790000000000) /* a Unix ms in 2026 */

/* xorshift64*: deterministic and good enough to vary counts and clock steps. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

/* Allocates and checks the block against everything before: strictly above *last, the
 * same physical part for the whole block, and below the window persisted in ms. */
static void alloc_check(pd_core *pd, pd_meta_store *ms, uint32_t count, uint64_t *last)
{
    uint64_t ts = 0;
    bs_err err;
    int rc = pd_tso_alloc(pd, count, &ts, &err);
    if (rc != BS_OK)
        fail_msg("tso alloc: %s", err.msg);
    uint64_t first = ts - count + 1;
    assert_true(first > *last);
    assert_true(pd_ts_logical(first) >= 1);
    assert_int_equal(pd_ts_physical(first), pd_ts_physical(ts));
    assert_true(pd_ts_physical(ts) < (int64_t)meta_u64(ms, PD_KEY_TSO_WINDOW));
    *last = ts;
}

static void test_tso_million_strictly_increasing(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    uint64_t last = 0, seed = 42;
    for (int i = 0; i < 1000000; i++) {
        uint64_t r = rnd(&seed);
        uint32_t count = 1;
        switch (r % 16) {
        case 0:
            count = 1 + (uint32_t)(r >> 20) % 1000;
            break;
        case 1:
            count = PD_TSO_MAX_LOGICAL - 1 - (uint32_t)(r >> 20) % 100; /* forces overflow */
            break;
        default:
            break;
        }
        /* The clock mostly stands still, sometimes steps forward or back. */
        if (r % 997 == 0)
            clk.now_ms += (int64_t)((r >> 32) % 50);
        else if (r % 1999 == 0)
            clk.now_ms -= (int64_t)((r >> 32) % 5000);
        alloc_check(pd, ms, count, &last);
        if (i % 10000 == 0)
            assert_int_equal(pd_tso_tick(pd, NULL), BS_OK);
    }
    pd_close(pd);
    pd_meta_store_free(ms);
}

static void test_tso_logical_overflow_in_one_ms(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    uint64_t last = 0;
    /* With the clock frozen, a full block per call moves the physical part one ms on. */
    for (int i = 0; i < 10000; i++) {
        alloc_check(pd, ms, PD_TSO_MAX_LOGICAL - 1, &last);
        assert_int_equal(pd_ts_logical(last), PD_TSO_MAX_LOGICAL - 1);
        assert_int_equal(pd_ts_physical(last), T0 + i);
    }
    /* 10 s ahead of a frozen clock: the window was pushed several times on the way. */
    assert_true(pd_tso_window_end(pd) > T0 + 10000);
    /* Single allocations fill a ms up to the last logical value, then move on. */
    clk.now_ms = T0 + 20000;
    for (uint32_t i = 1; i < PD_TSO_MAX_LOGICAL; i++) {
        alloc_check(pd, ms, 1, &last);
        assert_int_equal(pd_ts_logical(last), i);
    }
    alloc_check(pd, ms, 1, &last);
    assert_int_equal(pd_ts_physical(last), T0 + 20001);
    assert_int_equal(pd_ts_logical(last), 1);
    pd_close(pd);
    pd_meta_store_free(ms);
}

static void test_tso_restart_with_clock_backwards(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    uint64_t last = 0, seed = 7;
    for (int round = 0; round < 20; round++) {
        pd_core *pd = must_open(ms, &clk);
        for (int i = 0; i < 5000; i++) {
            uint64_t r = rnd(&seed);
            if (r % 100 == 0)
                clk.now_ms += 1;
            alloc_check(pd, ms, 1 + (uint32_t)(r % 5000), &last);
        }
        pd_close(pd);
        /* The machine comes back with its clock an hour (or a ms) behind. */
        clk.now_ms -= round % 2 ? 3600 * 1000 : 1;
    }
    /* And once far ahead, then back again. */
    clk.now_ms = T0 + 86400000;
    pd_core *pd = must_open(ms, &clk);
    alloc_check(pd, ms, 1, &last);
    assert_int_equal(pd_ts_physical(last), T0 + 86400000);
    pd_close(pd);
    clk.now_ms = T0;
    pd = must_open(ms, &clk);
    alloc_check(pd, ms, 1, &last);
    assert_true(pd_ts_physical(last) >= T0 + 86400000);
    pd_close(pd);
    pd_meta_store_free(ms);
}

static void test_tso_persist_failure_issues_nothing(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    uint64_t last = 0, ts = 0;
    alloc_check(pd, ms, 1, &last);
    int64_t window = pd_tso_window_end(pd);
    pd_memstore_set_fail_writes(ms, true);
    /* Inside the window the disk is not needed. */
    clk.now_ms = window - 1;
    alloc_check(pd, ms, 1, &last);
    /* At the bound a new window must be saved first; it fails, so nothing is issued. */
    clk.now_ms = window;
    bs_err err;
    assert_int_equal(pd_tso_alloc(pd, 1, &ts, &err), BS_EIO);
    assert_int_not_equal(pd_tso_tick(pd, NULL), BS_OK);
    assert_int_equal(pd_tso_window_end(pd), window);
    /* A restart while the disk is broken fails too (it must push the window first). */
    pd_core *pd2 = NULL;
    assert_int_equal(pd_open(NULL, ms, &pd2, NULL), BS_EIO);
    pd_memstore_set_fail_writes(ms, false);
    alloc_check(pd, ms, 1, &last);
    assert_int_equal(pd_ts_physical(last), window);
    pd_close(pd);
    pd_meta_store_free(ms);
}

static void test_tso_tick_saves_ahead(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    uint64_t last = 0;
    /* Ticking every 50 ms keeps at least half a window ahead, so allocations between
     * ticks never write. */
    for (int i = 0; i < 2000; i++) {
        clk.now_ms += 50;
        assert_int_equal(pd_tso_tick(pd, NULL), BS_OK);
        assert_true(pd_tso_window_end(pd) - clk.now_ms >= 1500);
        uint64_t before = pd_memstore_sync_writes(ms);
        for (int j = 0; j < 10; j++)
            alloc_check(pd, ms, 10, &last);
        assert_int_equal(pd_memstore_sync_writes(ms), before);
    }
    pd_close(pd);
    pd_meta_store_free(ms);
}

static void test_tso_rejects_bad_count(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    uint64_t ts = 123;
    assert_int_equal(pd_tso_alloc(pd, 0, &ts, NULL), BS_EINVAL);
    assert_int_equal(pd_tso_alloc(pd, PD_TSO_MAX_LOGICAL, &ts, NULL), BS_EINVAL);
    assert_int_equal(ts, 123);
    assert_int_equal(pd_tso_alloc(pd, PD_TSO_MAX_LOGICAL - 1, &ts, NULL), BS_OK);
    assert_int_equal(pd_ts_compose(pd_ts_physical(ts), pd_ts_logical(ts)), ts);
    pd_close(pd);
    pd_meta_store_free(ms);
}

#define THREADS 4
#define PER_THREAD 50000

typedef struct worker {
    pd_core *pd;
    uint64_t *out;
} worker;

static void *tso_worker(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++)
        BS_ASSERT(pd_tso_alloc(w->pd, 1, &w->out[i], NULL) == BS_OK);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int64_t real_clock(void *arg)
{
    (void)arg;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void test_tso_concurrent_unique(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    pd_options o;
    pd_options_init(&o);
    o.clock = real_clock;
    o.tso_save_interval_ms = 5; /* many window saves while threads race */
    pd_core *pd = NULL;
    assert_int_equal(pd_open(&o, ms, &pd, NULL), BS_OK);
    uint64_t *all = calloc(THREADS * PER_THREAD, sizeof(uint64_t));
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){pd, all + i * PER_THREAD};
        assert_int_equal(pthread_create(&th[i], NULL, tso_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    /* Each thread sees its own sequence strictly increasing... */
    for (int i = 0; i < THREADS; i++)
        for (int j = 1; j < PER_THREAD; j++)
            assert_true(w[i].out[j] > w[i].out[j - 1]);
    /* ...and no timestamp was handed out twice. */
    qsort(all, THREADS * PER_THREAD, sizeof(uint64_t), cmp_u64);
    for (int i = 1; i < THREADS * PER_THREAD; i++)
        assert_true(all[i] > all[i - 1]);
    assert_true(pd_ts_physical(all[THREADS * PER_THREAD - 1]) <
                (int64_t)meta_u64(ms, PD_KEY_TSO_WINDOW));
    free(all);
    pd_close(pd);
    pd_meta_store_free(ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tso_million_strictly_increasing),
        cmocka_unit_test(test_tso_logical_overflow_in_one_ms),
        cmocka_unit_test(test_tso_restart_with_clock_backwards),
        cmocka_unit_test(test_tso_persist_failure_issues_nothing),
        cmocka_unit_test(test_tso_tick_saves_ahead),
        cmocka_unit_test(test_tso_rejects_bad_count),
        cmocka_unit_test(test_tso_concurrent_unique),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
