/* test_keys.c -- API v2 prefixes, MVCC keys and region keys: PROTOCOL.md's literal bytes,
 * the ordering invariants keys.c promises (newest version first, versions of different
 * keys never interleave, region bounds sort before every version of their key), and
 * malformed MVCC keys failing cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "storage/kv.h"
#include "storage/testutil.h"

static void test_cf_names(void **state)
{
    (void)state;
    assert_string_equal(kv_cf_name(KV_CF_DEFAULT), "default");
    assert_string_equal(kv_cf_name(KV_CF_LOCK), "lock");
    assert_string_equal(kv_cf_name(KV_CF_WRITE), "write");
    assert_string_equal(kv_cf_name(KV_CF_RAFT), "raft");
    kv_cf cf;
    assert_int_equal(kv_cf_from_name("write", &cf), BS_OK);
    assert_int_equal(cf, KV_CF_WRITE);
    assert_int_equal(kv_cf_from_name("lockx", &cf), BS_NOTFOUND);
}

static void test_v2_prefix(void **state)
{
    (void)state;
    bs_buf b = BS_BUF_INIT;
    kv_key_v2_append(&b, KV_MODE_RAW, 0, bs_slice_make("k\0", 2));
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.ptr, "r\0\0\0k\0", 6);
    bs_buf_reset(&b);
    kv_key_v2_append(&b, KV_MODE_TXN, 0x010203, bs_slice_make("abc", 3));
    assert_memory_equal(b.ptr,
                        "x\x01\x02\x03"
                        "abc",
                        7);

    uint8_t mode;
    uint32_t ks;
    bs_slice user;
    assert_int_equal(kv_key_v2_split(bs_buf_slice(&b), &mode, &ks, &user), BS_OK);
    assert_int_equal(mode, 'x');
    assert_int_equal(ks, 0x010203);
    assert_int_equal(user.len, 3);
    assert_memory_equal(user.ptr, "abc", 3);
    assert_int_equal(kv_key_v2_split(bs_slice_make("r\0\0", 3), &mode, &ks, &user), BS_EINVAL);
    assert_int_equal(kv_key_v2_split(bs_slice_make("t\0\0\0k", 5), &mode, &ks, &user), BS_EINVAL);

    uint8_t s[4], e[4];
    kv_keyspace_range(KV_MODE_RAW, 0, s, e);
    assert_memory_equal(s, "r\0\0\0", 4);
    assert_memory_equal(e, "r\0\0\1", 4);
    kv_keyspace_range(KV_MODE_RAW, 0xFFFFFF, s, e);
    assert_memory_equal(s, "r\xff\xff\xff", 4);
    assert_memory_equal(e, "s\0\0\0", 4);
    kv_keyspace_range(KV_MODE_TXN, 0x0000FF, s, e);
    assert_memory_equal(e, "x\0\x01\0", 4);

    /* Region bound of keyspace 0 (PROTOCOL.md §4.2). */
    bs_buf_reset(&b);
    kv_region_key_append(&b, bs_slice_make("r\0\0\0", 4));
    assert_memory_equal(b.ptr, "r\0\0\0\0\0\0\0\xfb", 9);
    bs_buf_free(&b);
}

static void test_ts_suffix_examples(void **state)
{
    (void)state;
    bs_buf b = BS_BUF_INIT;
    kv_ts_suffix_append(&b, 2);
    kv_ts_suffix_append(&b, 3);
    assert_memory_equal(b.ptr, "\xff\xff\xff\xff\xff\xff\xff\xfd\xff\xff\xff\xff\xff\xff\xff\xfc",
                        16);
    bs_buf_reset(&b);
    kv_mvcc_key_append(&b, bs_slice_make("r", 1), 2);
    assert_int_equal(b.len, 17);
    assert_memory_equal(b.ptr, "r\0\0\0\0\0\0\0\xf8\xff\xff\xff\xff\xff\xff\xff\xfd", 17);
    bs_buf_free(&b);
}

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

static void test_mvcc_order(void **state)
{
    (void)state;
    tu_rng r;
    tu_rng_seed(&r, 42);
    bs_buf k1 = BS_BUF_INIT, k2 = BS_BUF_INIT, e1 = BS_BUF_INIT, e2 = BS_BUF_INIT;
    bs_buf rb = BS_BUF_INIT;
    for (int i = 0; i < 20000; i++) {
        tu_rand_key(&r, &k1, 30);
        if (tu_rng_below(&r, 3) == 0)
            bs_buf_set(&k2, k1.ptr, k1.len); /* same key, different versions */
        else
            tu_rand_key(&r, &k2, 30);
        uint64_t t1 = tu_rng_next(&r) >> tu_rng_below(&r, 64);
        uint64_t t2 = tu_rng_below(&r, 2) ? t1 + 1 : tu_rng_next(&r);
        bs_buf_reset(&e1);
        bs_buf_reset(&e2);
        kv_mvcc_key_append(&e1, bs_buf_slice(&k1), t1);
        kv_mvcc_key_append(&e2, bs_buf_slice(&k2), t2);
        int kc = sign(bs_slice_cmp(bs_buf_slice(&k1), bs_buf_slice(&k2)));
        int ec = sign(bs_slice_cmp(bs_buf_slice(&e1), bs_buf_slice(&e2)));
        if (kc != 0) {
            /* Different keys: key order decides, whatever the timestamps (no interleave). */
            assert_int_equal(ec, kc);
        } else {
            /* Same key: the newer (larger) ts sorts first. */
            int want = t1 == t2 ? 0 : (t1 > t2 ? -1 : 1);
            assert_int_equal(ec, want);
        }
        /* The region bound MCE(k1) sorts before every version of k1, and after every
         * version of any smaller key. */
        bs_buf_reset(&rb);
        kv_region_key_append(&rb, bs_buf_slice(&k1));
        assert_true(bs_slice_cmp(bs_buf_slice(&rb), bs_buf_slice(&e1)) < 0);
        if (kc > 0)
            assert_true(bs_slice_cmp(bs_buf_slice(&rb), bs_buf_slice(&e2)) > 0);

        /* Decode back. */
        bs_buf dk = BS_BUF_INIT;
        uint64_t ts = 0;
        assert_int_equal(kv_mvcc_key_decode(bs_buf_slice(&e1), &dk, &ts, NULL), BS_OK);
        assert_true(ts == t1);
        assert_true(bs_slice_eq(bs_buf_slice(&dk), bs_buf_slice(&k1)));
        bs_slice enc;
        assert_int_equal(kv_mvcc_key_split(bs_buf_slice(&e1), &enc, NULL, NULL), BS_OK);
        assert_true(bs_slice_eq(enc, bs_buf_slice(&rb)));
        bs_buf_free(&dk);
    }
    bs_buf_free(&k1);
    bs_buf_free(&k2);
    bs_buf_free(&e1);
    bs_buf_free(&e2);
    bs_buf_free(&rb);
}

static void test_mvcc_malformed(void **state)
{
    (void)state;
    tu_rng r;
    tu_rng_seed(&r, 7);
    bs_buf k = BS_BUF_INIT, e = BS_BUF_INIT, d = BS_BUF_INIT;
    for (int i = 0; i < 1000; i++) {
        tu_rand_key(&r, &k, 25);
        bs_buf_reset(&e);
        kv_mvcc_key_append(&e, bs_buf_slice(&k), tu_rng_next(&r));
        /* Every truncation and one extra byte fail with BS_ECORRUPT. */
        for (size_t l = 0; l < e.len; l++) {
            uint8_t *c = malloc(l ? l : 1);
            memcpy(c, e.ptr, l);
            bs_err err;
            uint64_t ts;
            assert_int_equal(kv_mvcc_key_decode(bs_slice_make(c, l), &d, &ts, &err), BS_ECORRUPT);
            assert_int_equal(err.code, BS_ECORRUPT);
            free(c);
        }
        bs_buf_append_byte(&e, 0);
        uint64_t ts;
        assert_int_equal(kv_mvcc_key_decode(bs_buf_slice(&e), &d, &ts, NULL), BS_ECORRUPT);
    }
    bs_buf_free(&k);
    bs_buf_free(&e);
    bs_buf_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cf_names),           cmocka_unit_test(test_v2_prefix),
        cmocka_unit_test(test_ts_suffix_examples), cmocka_unit_test(test_mvcc_order),
        cmocka_unit_test(test_mvcc_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
