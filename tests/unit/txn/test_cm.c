/* test_cm.c -- the concurrency manager: max_ts only rises; a read at a later ts never
 * misses an in-flight write (it is told the key is being written until the apply); a
 * read below the write's ts is not disturbed; key waiters fire on apply; a raw write's ts
 * is above max_ts and above the key's newest version. */
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

static void test_max_ts_monotonic(void **state)
{
    (void)state;
    txn_cm *cm = txn_cm_new();
    txn_cm_update_max_ts(cm, 10);
    txn_cm_update_max_ts(cm, 5);
    assert_int_equal(txn_cm_max_ts(cm), 10);
    txn_cm_update_max_ts(cm, 11);
    assert_int_equal(txn_cm_max_ts(cm), 11);
    txn_cm_free(cm);
}

static void flag(void *arg)
{
    (*(int *)arg)++;
}

static void test_read_never_misses_inflight_write(void **state)
{
    th *h = *state;
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT, s = BS_BUF_INIT, e = BS_BUF_INIT;
    txn_error err;
    th_res r;
    int woke = 0;
    th_res_init(&r);
    h->delay = true;
    th_key(&k, "w");
    txn_raw_put(h->s, bs_buf_slice(&k), th_s("v"), 0, th_cb, &r);
    assert_int_equal(r.calls, 0);
    /* a read at a later ts than the write is told the key is being written */
    assert_int_equal(txn_raw_get(h->s, bs_buf_slice(&k), UINT64_MAX - 1, &v, &err), BS_EBUSY);
    assert_int_equal(err.kind, TXN_ERR_KEY_BEING_WRITTEN);
    /* a scan over the key at a later ts is refused too */
    txn_pairs out;
    txn_pairs_init(&out);
    txn_scan_req req = {th_key(&s, "a"), th_key(&e, "z"), 0, false, false, UINT64_MAX - 1};
    assert_int_equal(txn_raw_scan(h->s, &req, &out, &err), BS_EBUSY);
    /* a read at ts 1 (before the write's ts) does not see it and is not blocked */
    assert_int_equal(txn_raw_get(h->s, bs_buf_slice(&k), 1, &v, &err), BS_NOTFOUND);
    txn_cm_wait_key(txn_store_cm(h->s), bs_buf_slice(&k), flag, &woke);
    assert_int_equal(woke, 0);
    th_apply(h, 1);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(woke, 1);
    assert_int_equal(txn_raw_get(h->s, bs_buf_slice(&k), UINT64_MAX - 1, &v, &err), BS_OK);
    assert_buf_eq(&v, "v");
    assert_int_equal(txn_raw_scan(h->s, &req, &out, &err), BS_OK);
    assert_int_equal(out.n, 1);
    /* no key in the table: the waiter runs at once */
    txn_cm_wait_key(txn_store_cm(h->s), bs_buf_slice(&k), flag, &woke);
    assert_int_equal(woke, 2);
    txn_pairs_free(&out);
    th_res_free(&r);
    bs_buf_free(&k);
    bs_buf_free(&v);
    bs_buf_free(&s);
    bs_buf_free(&e);
}

static void test_read_raises_max_ts_and_write_goes_above(void **state)
{
    th *h = *state;
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    txn_error err;
    th_res r;
    th_res_init(&r);
    th_key(&k, "m");
    assert_int_equal(txn_raw_get(h->s, bs_buf_slice(&k), 5000000, &v, &err), BS_NOTFOUND);
    assert_int_equal(txn_cm_max_ts(txn_store_cm(h->s)), 5000000);
    txn_raw_put(h->s, bs_buf_slice(&k), th_s("v"), 0, th_cb, &r);
    assert_int_equal(r.code, BS_OK);
    assert_true(r.ts > 5000000);
    /* the causal source continues above it */
    th_res_free(&r);
    txn_raw_put(h->s, bs_buf_slice(&k), th_s("v2"), 0, th_cb, &r);
    assert_true(r.ts > 5000001);
    th_res_free(&r);
    bs_buf_free(&k);
    bs_buf_free(&v);
}

static void test_write_goes_above_newest_version(void **state)
{
    th *h = *state;
    bs_buf k = BS_BUF_INIT, mk = BS_BUF_INIT, mv = BS_BUF_INIT;
    bs_err err;
    th_res r;
    th_res_init(&r);
    th_key(&k, "n");
    /* a version from the future (e.g. written by a previous leader with a later clock) */
    kv_batch *b = kv_batch_new();
    kv_mvcc_key_append(&mk, bs_buf_slice(&k), 900000000);
    kv_raw_value_encode(&mv, th_s("old"), 0, false);
    kv_batch_put(b, KV_CF_DEFAULT, bs_buf_slice(&mk), bs_buf_slice(&mv));
    assert_int_equal(kv_engine_write(h->e, b, false, &err), BS_OK);
    kv_batch_free(b);
    must_raw_get(h, "n", "old");
    txn_raw_put(h->s, bs_buf_slice(&k), th_s("new"), 0, th_cb, &r);
    assert_int_equal(r.code, BS_OK);
    assert_true(r.ts > 900000000);
    must_raw_get(h, "n", "new");
    th_res_free(&r);
    bs_buf_free(&k);
    bs_buf_free(&mk);
    bs_buf_free(&mv);
}

static void test_pending_blind_writes_order(void **state)
{
    th *h = *state;
    th_res r1, r2;
    bs_buf k = BS_BUF_INIT;
    th_res_init(&r1);
    th_res_init(&r2);
    h->delay = true;
    th_key(&k, "o");
    txn_raw_put(h->s, bs_buf_slice(&k), th_s("1"), 0, th_cb, &r1);
    txn_raw_put(h->s, bs_buf_slice(&k), th_s("2"), 0, th_cb, &r2);
    th_apply(h, 2);
    assert_true(r2.ts > r1.ts); /* above the pending write's ts, not just the engine's */
    must_raw_get(h, "o", "2");
    th_res_free(&r1);
    th_res_free(&r2);
    bs_buf_free(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_ts_monotonic),
        cmocka_unit_test_setup_teardown(test_read_never_misses_inflight_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_raises_max_ts_and_write_goes_above, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_goes_above_newest_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_blind_writes_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
