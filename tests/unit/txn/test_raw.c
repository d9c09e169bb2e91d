/* test_raw.c -- the raw commands end to end through the command layer: put/get/delete,
 * TTL with a moved wall clock (an expired value is never returned), batch put TTL rules,
 * scans forward and reverse with limits and key-only over many versions and deletes,
 * RawDeleteRange, compare-and-swap in every case, RawGetKeyTTL, RawChecksum and its
 * CRC-64/XZ, and the invalid key mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "txn/harness.h"

static int setup(void **state)
{
    *state = th_new();
    return 0;
}


static void test_put_get_delete(void **state)
{
    th *h = *state;
    must_not_found(h, "a");
    must_raw_put(h, "a", "1", 0);
    must_raw_get(h, "a", "1");
    must_raw_put(h, "a", "2", 0);
    must_raw_get(h, "a", "2");
    must_raw_delete(h, "a");
    must_not_found(h, "a");
    must_raw_put(h, "a", "", 0); /* an empty value is a value */
    must_raw_get(h, "a", "");
}

static void test_binary_key(void **state)
{
    th *h = *state;
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    static const uint8_t user[] = {'k', 0, '\r', '\n', 0xFF};
    th_res r;
    txn_error e;
    th_res_init(&r);
    kv_key_v2_append(&k, KV_MODE_RAW, 7, bs_slice_make(user, sizeof(user)));
    txn_raw_put(h->s, bs_buf_slice(&k), bs_slice_make("v\0", 2), 0, th_cb, &r);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(txn_raw_get(h->s, bs_buf_slice(&k), 0, &v, &e), BS_OK);
    assert_int_equal(v.len, 2);
    assert_memory_equal(v.ptr, "v\0", 2);
    th_res_free(&r);
    bs_buf_free(&k);
    bs_buf_free(&v);
}

static void test_ttl_expiry_with_clock(void **state)
{
    th *h = *state;
    bs_buf k = BS_BUF_INIT;
    uint64_t ttl;
    txn_error e;
    bs_clock_set_wall_override(1700000000000);
    must_raw_put(h, "t", "v", 1500);
    must_raw_get(h, "t", "v");
    assert_int_equal(txn_raw_get_key_ttl(h->s, th_key(&k, "t"), 0, &ttl, &e), BS_OK);
    assert_int_equal(ttl, 1500);
    bs_clock_set_wall_override(1700000001499);
    must_raw_get(h, "t", "v");
    assert_int_equal(txn_raw_get_key_ttl(h->s, th_key(&k, "t"), 0, &ttl, &e), BS_OK);
    assert_int_equal(ttl, 1);
    bs_clock_set_wall_override(1700000001500); /* expire <= now: expired */
    must_not_found(h, "t");
    assert_int_equal(txn_raw_get_key_ttl(h->s, th_key(&k, "t"), 0, &ttl, &e), BS_NOTFOUND);
    /* no TTL reports 0; a deleted key is not found */
    must_raw_put(h, "n", "v", 0);
    assert_int_equal(txn_raw_get_key_ttl(h->s, th_key(&k, "n"), 0, &ttl, &e), BS_OK);
    assert_int_equal(ttl, 0);
    must_raw_delete(h, "n");
    assert_int_equal(txn_raw_get_key_ttl(h->s, th_key(&k, "n"), 0, &ttl, &e), BS_NOTFOUND);
    bs_buf_free(&k);
}

static void test_batch_put_ttls(void **state)
{
    th *h = *state;
    bs_buf k1 = BS_BUF_INIT, k2 = BS_BUF_INIT;
    txn_kv kv[2] = {{th_key(&k1, "b1"), th_s("x")}, {th_key(&k2, "b2"), th_s("y")}};
    uint64_t ttls[3] = {1000, 0, 5};
    th_res r;
    th_res_init(&r);
    bs_clock_set_wall_override(1000000);
    txn_raw_batch_put(h->s, kv, 2, ttls, 3, th_cb, &r);
    assert_int_equal(r.code, BS_EINVAL);
    assert_int_equal(r.kind, TXN_ERR_INVALID_ARGUMENT);
    must_not_found(h, "b1");
    th_res_free(&r);
    txn_raw_batch_put(h->s, kv, 2, ttls, 2, th_cb, &r);
    assert_int_equal(r.code, BS_OK);
    bs_clock_set_wall_override(1000000 + 1000);
    must_not_found(h, "b1");
    must_raw_get(h, "b2", "y");
    th_res_free(&r);
    bs_buf_free(&k1);
    bs_buf_free(&k2);
}

static void scan(th *h, const char *start, const char *end, uint32_t limit, bool key_only,
                 bool reverse, const char *want)
{
    bs_buf s = BS_BUF_INIT, e = BS_BUF_INIT, got = BS_BUF_INIT;
    txn_pairs out;
    txn_error err;
    txn_scan_req req = {start ? th_key(&s, start) : BS_SLICE_NULL,
                        end ? th_key(&e, end) : BS_SLICE_NULL, limit, key_only, reverse, 0};
    txn_pairs_init(&out);
    assert_int_equal(txn_raw_scan(h->s, &req, &out, &err), BS_OK);
    for (size_t i = 0; i < out.n; i++) {
        bs_buf_append(&got, out.v[i].key.ptr + 4, out.v[i].key.len - 4);
        bs_buf_append(&got, "=", 1);
        bs_buf_append_slice(&got, bs_buf_slice(&out.v[i].value));
        bs_buf_append(&got, ";", 1);
    }
    assert_buf_eq(&got, want);
    txn_pairs_free(&out);
    bs_buf_free(&s);
    bs_buf_free(&e);
    bs_buf_free(&got);
}

static void test_scan(void **state)
{
    th *h = *state;
    bs_clock_set_wall_override(5000000);
    for (int round = 0; round < 3; round++) {
        char v[16];
        snprintf(v, sizeof(v), "%d", round);
        must_raw_put(h, "a", v, 0);
        must_raw_put(h, "b", v, 0);
        must_raw_put(h, "c", v, 0);
        must_raw_put(h, "d", v, 0);
        must_raw_put(h, "e", v, 0);
    }
    must_raw_delete(h, "b");
    must_raw_put(h, "d", "ttl", 10); /* expires */
    must_raw_put(h, "ab", "x", 0);
    bs_clock_set_wall_override(5000000 + 10);
    scan(h, "a", "z", 0, false, false, "a=2;ab=x;c=2;e=2;");
    scan(h, NULL, NULL, 0, false, false, "a=2;ab=x;c=2;e=2;");
    scan(h, "a", "z", 2, false, false, "a=2;ab=x;");
    scan(h, "ab", "e", 0, false, false, "ab=x;c=2;");
    scan(h, "a", "z", 0, true, false, "a=;ab=;c=;e=;");
    /* reverse: [end, start) descending */
    scan(h, "z", "a", 0, false, true, "e=2;c=2;ab=x;a=2;");
    scan(h, "e", "a", 2, false, true, "c=2;ab=x;");
    scan(h, NULL, NULL, 1, true, true, "e=;");
    scan(h, "c", "ab", 0, false, true, "ab=x;");
}

static void test_delete_range(void **state)
{
    th *h = *state;
    bs_buf s = BS_BUF_INIT, e = BS_BUF_INIT;
    th_res r;
    th_res_init(&r);
    must_raw_put(h, "a", "1", 0);
    must_raw_put(h, "b", "1", 0);
    must_raw_put(h, "b", "2", 0);
    must_raw_put(h, "c", "1", 0);
    txn_raw_delete_range(h->s, th_key(&s, "b"), th_key(&e, "c"), th_cb, &r);
    assert_int_equal(r.code, BS_OK);
    must_raw_get(h, "a", "1");
    must_not_found(h, "b");
    must_raw_get(h, "c", "1");
    /* physical: no version of b is left at all */
    uint64_t n = 0;
    kv_iter *it = kv_iter_new(h->e, NULL, KV_CF_DEFAULT, BS_SLICE_NULL, BS_SLICE_NULL);
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it))
        n++;
    kv_iter_free(it);
    assert_int_equal(n, 2);
    th_res_free(&r);
    bs_buf_free(&s);
    bs_buf_free(&e);
}

static void cas(th *h, const char *key, bool prev_not_exist, const char *prev, bool del,
                const char *value, th_res *r)
{
    bs_buf k = BS_BUF_INIT;
    txn_cas_req req = {th_key(&k, key), prev_not_exist, prev ? th_s(prev) : BS_SLICE_NULL, del,
                       value ? th_s(value) : BS_SLICE_NULL, 0};
    th_res_free(r);
    txn_raw_cas(h->s, &req, th_cb, r);
    assert_int_equal(r->calls, 1);
    assert_int_equal(r->code, BS_OK);
    bs_buf_free(&k);
}

static void test_cas(void **state)
{
    th *h = *state;
    th_res r;
    th_res_init(&r);
    /* expect absent, is absent: succeed */
    cas(h, "k", true, NULL, false, "v1", &r);
    assert_true(r.succeed);
    assert_true(r.previous_not_exist);
    must_raw_get(h, "k", "v1");
    /* expect absent, is present: fail, report the value */
    cas(h, "k", true, NULL, false, "v2", &r);
    assert_false(r.succeed);
    assert_false(r.previous_not_exist);
    assert_buf_eq(&r.previous_value, "v1");
    must_raw_get(h, "k", "v1");
    /* expect value, matches */
    cas(h, "k", false, "v1", false, "v2", &r);
    assert_true(r.succeed);
    assert_buf_eq(&r.previous_value, "v1");
    must_raw_get(h, "k", "v2");
    /* expect value, differs */
    cas(h, "k", false, "nope", false, "v3", &r);
    assert_false(r.succeed);
    assert_buf_eq(&r.previous_value, "v2");
    /* expect value on an absent key */
    cas(h, "absent", false, "x", false, "v", &r);
    assert_false(r.succeed);
    assert_true(r.previous_not_exist);
    must_not_found(h, "absent");
    /* succeed with delete */
    cas(h, "k", false, "v2", true, NULL, &r);
    assert_true(r.succeed);
    must_not_found(h, "k");
    /* a deleted key counts as absent */
    cas(h, "k", true, NULL, false, "again", &r);
    assert_true(r.succeed);
    assert_true(r.previous_not_exist);
    must_raw_get(h, "k", "again");
    th_res_free(&r);
}

static void test_crc64_check_value(void **state)
{
    (void)state;
    assert_int_equal(txn_crc64(0, th_s("123456789")), 0x995DC9BBDF1939FAull);
    assert_int_equal(txn_crc64(0, BS_SLICE_NULL), 0);
    /* incremental == one shot */
    assert_int_equal(txn_crc64(txn_crc64(0, th_s("1234")), th_s("56789")),
                     0x995DC9BBDF1939FAull);
}

static void test_checksum(void **state)
{
    th *h = *state;
    bs_buf k = BS_BUF_INIT, buf = BS_BUF_INIT;
    txn_checksum cs;
    txn_error e;
    txn_scan_req all = {BS_SLICE_NULL, BS_SLICE_NULL, 0, false, false, 0};
    must_raw_put(h, "a", "1", 0);
    must_raw_put(h, "a", "22", 0);
    must_raw_put(h, "b", "333", 0);
    must_raw_put(h, "c", "x", 0);
    must_raw_delete(h, "c");
    assert_int_equal(txn_raw_checksum(h->s, &all, 1, 0, &cs, &e), BS_OK);
    assert_int_equal(cs.total_kvs, 2);
    assert_int_equal(cs.total_bytes, 5 + 2 + 5 + 3);
    uint64_t want = 0;
    th_key(&k, "a");
    bs_buf_set(&buf, k.ptr, k.len);
    bs_buf_append(&buf, "22", 2);
    want ^= txn_crc64(0, bs_buf_slice(&buf));
    th_key(&k, "b");
    bs_buf_set(&buf, k.ptr, k.len);
    bs_buf_append(&buf, "333", 3);
    want ^= txn_crc64(0, bs_buf_slice(&buf));
    assert_int_equal(cs.checksum, want);
    bs_buf_free(&k);
    bs_buf_free(&buf);
}

static void test_invalid_key_mode(void **state)
{
    th *h = *state;
    bs_buf v = BS_BUF_INIT;
    txn_error e;
    th_res r;
    th_res_init(&r);
    assert_int_equal(txn_raw_get(h->s, th_s("x\0\0\0k"), 0, &v, &e), BS_EINVAL);
    assert_int_equal(e.kind, TXN_ERR_INVALID_KEY_MODE);
    assert_string_equal(e.msg, "invalid key mode");
    txn_raw_put(h->s, th_s("r\0"), th_s("v"), 0, th_cb, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_EINVAL);
    th_res_free(&r);
    bs_buf_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_delete, setup, th_teardown_pinned),
        cmocka_unit_test_setup_teardown(test_binary_key, setup, th_teardown_pinned),
        cmocka_unit_test_setup_teardown(test_ttl_expiry_with_clock, setup, th_teardown_pinned),
        cmocka_unit_test_setup_teardown(test_batch_put_ttls, setup, th_teardown_pinned),
        cmocka_unit_test_setup_teardown(test_scan, setup, th_teardown_pinned),
        cmocka_unit_test_setup_teardown(test_delete_range, setup, th_teardown_pinned),
        cmocka_unit_test_setup_teardown(test_cas, setup, th_teardown_pinned),
        cmocka_unit_test(test_crc64_check_value),
        cmocka_unit_test_setup_teardown(test_checksum, setup, th_teardown_pinned),
        cmocka_unit_test_setup_teardown(test_invalid_key_mode, setup, th_teardown_pinned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
