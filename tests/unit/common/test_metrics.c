/* test_metrics.c -- registry rules, concurrent updates and the Prometheus text format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "common/metrics.h"

static int reset(void **state)
{
    (void)state;
    bs_metrics_reset_registry();
    return 0;
}

static void test_register_twice_returns_same(void **state)
{
    (void)state;
    bs_counter *a = bs_counter_register("basalt_x_total", "x", "");
    bs_counter *b = bs_counter_register("basalt_x_total", "x", "");
    bs_counter *c = bs_counter_register("basalt_x_total", "x", "cf=\"lock\"");
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
    bs_counter_add(a, 3);
    bs_counter_inc(b);
    assert_int_equal(bs_counter_get(a), 4);
    assert_int_equal(bs_counter_get(c), 0);
}

static bs_counter *shared;
static bs_histogram *shared_h;

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        bs_counter_inc(shared);
        bs_histogram_observe(shared_h, 0.001);
    }
    return NULL;
}

static void test_concurrent_updates_are_not_lost(void **state)
{
    (void)state;
    double bounds[4];
    bs_histogram_exp_bounds(0.0005, 2, 4, bounds);
    shared = bs_counter_register("basalt_hammer_total", "h", "");
    shared_h = bs_histogram_register("basalt_hammer_seconds", "h", "", bounds, 4);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(bs_counter_get(shared), 400000);
    assert_int_equal(bs_histogram_count(shared_h), 400000);
    /* 0.001 falls in the (0.0005, 0.001] bucket. */
    assert_true(fabs(bs_histogram_quantile(shared_h, 0.99) - 0.001) < 1e-12);
}

static void test_prometheus_text(void **state)
{
    (void)state;
    double bounds[2] = {0.01, 0.1};
    bs_counter *c = bs_counter_register("basalt_fsync_total", "Syncs of the raft log.", "");
    bs_gauge *g1 = bs_gauge_register("basalt_regions", "Regions.", "role=\"leader\"");
    bs_gauge *g2 = bs_gauge_register("basalt_regions", "Regions.", "role=\"follower\"");
    bs_histogram *h =
        bs_histogram_register("basalt_apply_seconds", "Apply latency.", "", bounds, 2);
    bs_counter_add(c, 7);
    bs_gauge_set(g1, 2);
    bs_gauge_add(g2, -1);
    bs_histogram_observe(h, 0.005);
    bs_histogram_observe(h, 0.05);
    bs_histogram_observe(h, 5);
    bs_buf out = BS_BUF_INIT;
    bs_metrics_render(&out);
    bs_buf_append_byte(&out, 0);
    const char *want = "# HELP basalt_fsync_total Syncs of the raft log.\n"
                       "# TYPE basalt_fsync_total counter\n"
                       "basalt_fsync_total 7\n"
                       "# HELP basalt_regions Regions.\n"
                       "# TYPE basalt_regions gauge\n"
                       "basalt_regions{role=\"leader\"} 2\n"
                       "basalt_regions{role=\"follower\"} -1\n"
                       "# HELP basalt_apply_seconds Apply latency.\n"
                       "# TYPE basalt_apply_seconds histogram\n"
                       "basalt_apply_seconds_bucket{le=\"0.01\"} 1\n"
                       "basalt_apply_seconds_bucket{le=\"0.1\"} 2\n"
                       "basalt_apply_seconds_bucket{le=\"+Inf\"} 3\n"
                       "basalt_apply_seconds_sum 5.055000\n"
                       "basalt_apply_seconds_count 3\n";
    assert_string_equal((const char *)out.ptr, want);
    assert_true(isinf(bs_histogram_quantile(h, 1.0)));
    bs_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_register_twice_returns_same, reset),
        cmocka_unit_test_setup(test_concurrent_updates_are_not_lost, reset),
        cmocka_unit_test_setup(test_prometheus_text, reset),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    bs_metrics_reset_registry();
    return rc;
}
