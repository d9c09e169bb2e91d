/* test_causal_ts.c -- the causal timestamp source: strictly increasing timestamps from
 * prefetched batches, observe() lifting the floor, and flush on leader change (writes get
 * "not ready" until the fresh TSO lands, then continue above it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "txn/harness.h"

static int setup(void **state)
{
    *state = th_new();
    return 0;
}

static int teardown(void **state)
{
    th_free(*state);
    return 0;
}

static void test_monotonic_batches(void **state)
{
    th *h = *state;
    uint64_t prev = 0, ts;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(txn_causal_ts_get(h->cts, &ts), BS_OK);
        assert_true(ts > prev);
        prev = ts;
    }
    /* 1000 timestamps from batches of 64: a few dozen fetches, not 1000 */
    assert_true(h->tso_fetches >= 1000 / 64);
    assert_true(h->tso_fetches <= 1000 / 32 + 2);
}

static void test_observe_raises_floor(void **state)
{
    th *h = *state;
    uint64_t ts;
    txn_causal_ts_observe(h->cts, 1u << 30);
    assert_int_equal(txn_causal_ts_get(h->cts, &ts), BS_OK);
    assert_true(ts > (1u << 30));
}

static void on_flushed(void *arg, int code, uint64_t last)
{
    *(uint64_t *)arg = code == BS_OK ? last : 0;
}

static void test_flush_on_leader_change(void **state)
{
    th *h = *state;
    uint64_t before, ts, flushed = 0;
    th_res r;
    bs_buf k = BS_BUF_INIT;
    th_res_init(&r);
    assert_int_equal(txn_causal_ts_get(h->cts, &before), BS_OK);
    h->tso_hold = true;
    txn_causal_ts_flush(h->cts, on_flushed, &flushed);
    assert_int_equal(txn_causal_ts_get(h->cts, &ts), BS_EBUSY);
    txn_raw_put(h->s, th_key(&k, "a"), th_s("v"), 0, th_cb, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_EBUSY);
    assert_int_equal(r.kind, TXN_ERR_TS_NOT_READY);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    h->tso += 100000; /* PD's clock moved on meanwhile */
    th_tso_release(h);
    assert_true(flushed > before);
    assert_int_equal(txn_causal_ts_get(h->cts, &ts), BS_OK);
    assert_true(ts > before);
    th_res_free(&r);
    must_raw_put(h, "a", "v", 0);
    bs_buf_free(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_monotonic_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_observe_raises_floor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_on_leader_change, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
