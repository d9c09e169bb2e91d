/* test_causal_ts.c -- the causal timestamp source: strictly increasing timestamps from
 * prefetched batches that grow and shrink with the write rate, observe() lifting the floor, and flush on leader change (writes get
 * "not ready" until the fresh TSO lands, then continue above it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/clock.h"
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
    /* 1000 timestamps used within a second: batches of 64, 64, 128, 256, 512, 1024 (each
     * prefetch doubles), so a handful of fetches, not 1000 and not 1000 / 32 */
    assert_true(h->tso_fetches >= 4);
    assert_true(h->tso_fetches <= 8);
}

/* The size of the next prefetch, as the fake PD saw it: the TSOs reserved by a fetch
 * triggered now (every later get is from that batch). */
static uint32_t next_fetch_count(th *h, uint64_t *ts)
{
    uint64_t tso0 = h->tso, fetches = h->tso_fetches;
    while (h->tso_fetches == fetches)
        assert_int_equal(txn_causal_ts_get(h->cts, ts), BS_OK);
    return (uint32_t)(h->tso - tso0);
}

static void test_prefetch_adapts_to_rate(void **state)
{
    th *h = *state;
    uint64_t ts = 0, prev = 0;
    uint32_t n = 0;
    /* A fast writer: every prefetch doubles, up to the cap. */
    for (int i = 0; i < 40 && n < TXN_CAUSAL_TS_MAX_BATCH; i++) {
        n = next_fetch_count(h, &ts);
        assert_true(ts > prev);
        prev = ts;
    }
    assert_int_equal(n, TXN_CAUSAL_TS_MAX_BATCH);
    assert_int_equal(next_fetch_count(h, &ts), TXN_CAUSAL_TS_MAX_BATCH);
    assert_true(ts > prev);
    prev = ts;
    /* A batch older than RENEW_MS is renewed at its next use, at half the size (less than
     * half of it was used meanwhile); the get that notices still takes the old batch. */
    for (uint32_t want = TXN_CAUSAL_TS_MAX_BATCH / 2; want >= 64; want /= 2) {
        uint64_t fetches = h->tso_fetches, tso0 = h->tso;
        bs_clock_advance_mono(TXN_CAUSAL_TS_RENEW_MS + 1);
        assert_int_equal(txn_causal_ts_get(h->cts, &ts), BS_OK);
        assert_true(ts > prev && ts <= tso0);
        assert_int_equal(h->tso_fetches, fetches + 1);
        assert_int_equal(h->tso - tso0, want);
        assert_int_equal(txn_causal_ts_get(h->cts, &prev), BS_OK);
        assert_true(prev > tso0); /* from the renewed batch */
    }
    /* ... and never below the configured size. */
    uint64_t tso0 = h->tso;
    bs_clock_advance_mono(TXN_CAUSAL_TS_RENEW_MS + 1);
    assert_int_equal(txn_causal_ts_get(h->cts, &ts), BS_OK);
    assert_int_equal(h->tso - tso0, 64);
    /* A flush fetches the configured size, whatever the prefetches grew to. */
    h->tso_hold = true;
    txn_causal_ts_flush(h->cts, NULL, NULL);
    assert_int_equal(h->held_count, 64);
    th_tso_release(h);
    assert_int_equal(txn_causal_ts_get(h->cts, &ts), BS_OK);
    assert_true(ts > prev);
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
        cmocka_unit_test_setup_teardown(test_prefetch_adapts_to_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_observe_raises_floor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_on_leader_change, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
