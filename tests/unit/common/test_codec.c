/* test_codec.c -- varint, big-endian, compact bytes and memcomparable encodings: literal
 * vectors from PROTOCOL.md §4.4, round trips, order preservation over thousands of random
 * binary keys, and malformed input (every truncation, byte flips) failing cleanly. Inputs to
 * decoders are copied into exact-size heap blocks so ASan catches any read past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/err.h"

/* Small PRNG (xorshift64*) so runs are reproducible. */
static uint64_t rng_state = 0x5EED0001ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static void rand_bytes(bs_buf *b, size_t max_len)
{
    static const uint8_t special[] = {0x00, 0xFF, 0x01, 0xFE, 0xF7, 0xF8, 'a', 'b'};
    size_t len = (size_t)(rnd() % (max_len + 1));
    bs_buf_reset(b);
    for (size_t i = 0; i < len; i++) {
        uint64_t x = rnd();
        bs_buf_append_byte(b, (x & 3) ? special[(x >> 8) % sizeof(special)] : (uint8_t)(x >> 16));
    }
}

/* An exact-size heap copy: reading one byte past it is an ASan error. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    if (n)
        memcpy(c, p, n);
    return c;
}

/* ---- varint ---------------------------------------------------------------------------- */

static void test_varint_vectors(void **state)
{
    (void)state;
    struct {
        uint64_t v;
        const char *enc;
        size_t len;
    } cases[] = {
        {0, "\x00", 1},       {1, "\x01", 1},
        {127, "\x7f", 1},     {128, "\x80\x01", 2},
        {300, "\xac\x02", 2}, {UINT64_MAX, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bs_buf b = BS_BUF_INIT;
        bs_varint_append(&b, cases[i].v);
        assert_int_equal(b.len, cases[i].len);
        assert_int_equal(bs_varint_len(cases[i].v), cases[i].len);
        assert_memory_equal(b.ptr, cases[i].enc, cases[i].len);
        bs_slice in = bs_buf_slice(&b);
        uint64_t v = 0;
        assert_int_equal(bs_varint_read(&in, &v), BS_OK);
        assert_true(v == cases[i].v);
        assert_int_equal(in.len, 0);
        bs_buf_free(&b);
    }
}

static void test_varint_round_trip_and_truncation(void **state)
{
    (void)state;
    for (int i = 0; i < 5000; i++) {
        uint64_t v = rnd() >> (rnd() % 64);
        bs_buf b = BS_BUF_INIT;
        bs_varint_append(&b, v);
        bs_buf_append_byte(&b, 0xAA); /* trailing byte must be left alone */
        bs_slice in = bs_buf_slice(&b);
        uint64_t got;
        assert_int_equal(bs_varint_read(&in, &got), BS_OK);
        assert_true(got == v);
        assert_int_equal(in.len, 1);
        for (size_t l = 0; l < b.len - 1; l++) {
            uint8_t *c = dup_exact(b.ptr, l);
            bs_slice t = bs_slice_make(c, l);
            assert_int_equal(bs_varint_read(&t, &got), BS_ECORRUPT);
            assert_int_equal(t.len, l); /* cursor untouched */
            free(c);
        }
        bs_buf_free(&b);
    }
}

static void test_varint_rejects_overflow(void **state)
{
    (void)state;
    uint64_t v;
    /* 11 bytes of continuation. */
    const uint8_t too_long[11] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    bs_slice in = bs_slice_make(too_long, sizeof(too_long));
    assert_int_equal(bs_varint_read(&in, &v), BS_ECORRUPT);
    /* 10th byte above 1 overflows 64 bits. */
    const uint8_t over[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    in = bs_slice_make(over, sizeof(over));
    assert_int_equal(bs_varint_read(&in, &v), BS_ECORRUPT);
    /* Non-minimal encodings are accepted (protobuf does). */
    const uint8_t nonmin[2] = {0x80, 0x00};
    in = bs_slice_make(nonmin, 2);
    assert_int_equal(bs_varint_read(&in, &v), BS_OK);
    assert_true(v == 0);
}

/* ---- fixed width ------------------------------------------------------------------------- */

static void test_big_endian(void **state)
{
    (void)state;
    bs_buf b = BS_BUF_INIT;
    bs_u64_be_append(&b, 0x0102030405060708ull);
    bs_u32_be_append(&b, 0xA1B2C3D4u);
    assert_memory_equal(b.ptr, "\x01\x02\x03\x04\x05\x06\x07\x08\xa1\xb2\xc3\xd4", 12);
    bs_slice in = bs_buf_slice(&b);
    uint64_t x;
    uint32_t y;
    assert_int_equal(bs_u64_be_read(&in, &x), BS_OK);
    assert_int_equal(bs_u32_be_read(&in, &y), BS_OK);
    assert_true(x == 0x0102030405060708ull);
    assert_true(y == 0xA1B2C3D4u);
    assert_int_equal(bs_u32_be_read(&in, &y), BS_ECORRUPT);
    bs_slice seven = bs_slice_make(b.ptr, 7);
    assert_int_equal(bs_u64_be_read(&seven, &x), BS_ECORRUPT);
    assert_int_equal(seven.len, 7);
    /* Encoded order equals numeric order. */
    for (int i = 0; i < 2000; i++) {
        uint64_t p = rnd(), q = rnd();
        uint8_t a[8], c[8];
        bs_u64_be_put(a, p);
        bs_u64_be_put(c, q);
        int m = memcmp(a, c, 8);
        assert_true((p < q && m < 0) || (p > q && m > 0) || (p == q && m == 0));
    }
    bs_buf_free(&b);
}

/* ---- compact bytes ------------------------------------------------------------------------ */

static void test_compact_bytes(void **state)
{
    (void)state;
    bs_buf b = BS_BUF_INIT;
    bs_compact_bytes_append(&b, bs_slice_make("abc", 3));
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.ptr,
                        "\x06"
                        "abc",
                        4); /* zigzag(3) = 6 */
    bs_slice in = bs_buf_slice(&b), out;
    assert_int_equal(bs_compact_bytes_read(&in, &out), BS_OK);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.ptr, "abc", 3);
    for (size_t l = 0; l < b.len; l++) {
        uint8_t *c = dup_exact(b.ptr, l);
        bs_slice t = bs_slice_make(c, l);
        assert_int_equal(bs_compact_bytes_read(&t, &out), BS_ECORRUPT);
        free(c);
    }
    /* An odd zigzag value is a negative length. */
    const uint8_t neg[] = {0x05, 'a', 'b', 'c'};
    in = bs_slice_make(neg, sizeof(neg));
    assert_int_equal(bs_compact_bytes_read(&in, &out), BS_ECORRUPT);
    /* A huge length must not wrap around the bounds check. */
    const uint8_t huge[] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'x'};
    in = bs_slice_make(huge, sizeof(huge));
    assert_int_equal(bs_compact_bytes_read(&in, &out), BS_ECORRUPT);
    /* Empty bytes. */
    bs_buf_reset(&b);
    bs_compact_bytes_append(&b, BS_SLICE_NULL);
    assert_int_equal(b.len, 1);
    assert_int_equal(b.ptr[0], 0);
    bs_buf_free(&b);
}

/* ---- memcomparable ------------------------------------------------------------------------ */

static void expect_mce(const char *in, size_t in_len, const char *want, size_t want_len)
{
    bs_buf b = BS_BUF_INIT, d = BS_BUF_INIT;
    bs_mce_append(&b, bs_slice_make(in, in_len));
    assert_int_equal(b.len, want_len);
    assert_int_equal(bs_mce_encoded_len(in_len), want_len);
    assert_memory_equal(b.ptr, want, want_len);
    bs_slice cur = bs_buf_slice(&b);
    assert_int_equal(bs_mce_read(&cur, &d), BS_OK);
    assert_int_equal(cur.len, 0);
    assert_int_equal(d.len, in_len);
    if (in_len)
        assert_memory_equal(d.ptr, in, in_len);
    bs_buf_free(&b);
    bs_buf_free(&d);
}

static void test_mce_protocol_examples(void **state)
{
    (void)state;
    expect_mce("", 0, "\0\0\0\0\0\0\0\0\xf7", 9);
    expect_mce("r", 1, "r\0\0\0\0\0\0\0\xf8", 9);
    expect_mce("r234567890", 10,
               "r2345678\xff"
               "90\0\0\0\0\0\0\xf9",
               18);
    /* Exactly one group: a full group then an empty final group. */
    expect_mce("12345678", 8, "12345678\xff\0\0\0\0\0\0\0\0\xf7", 18);
    /* Keyspace boundary (PROTOCOL.md §4.2): MCE("r\0\0\0"). */
    expect_mce("r\0\0\0", 4, "r\0\0\0\0\0\0\0\xfb", 9);
}

static void test_mce_round_trip_and_order(void **state)
{
    (void)state;
    bs_buf a = BS_BUF_INIT, b = BS_BUF_INIT, ea = BS_BUF_INIT, eb = BS_BUF_INIT;
    bs_buf d = BS_BUF_INIT;
    for (int i = 0; i < 20000; i++) {
        rand_bytes(&a, 40);
        if (rnd() % 4 == 0) {
            /* Share a prefix so comparisons reach the group boundaries. */
            bs_buf_set(&b, a.ptr, a.len ? (size_t)(rnd() % (a.len + 1)) : 0);
            size_t extra = (size_t)(rnd() % 10);
            for (size_t k = 0; k < extra; k++)
                bs_buf_append_byte(&b, (rnd() & 1) ? 0x00 : 0xFF);
        } else {
            rand_bytes(&b, 40);
        }
        bs_buf_reset(&ea);
        bs_buf_reset(&eb);
        bs_mce_append(&ea, bs_buf_slice(&a));
        bs_mce_append(&eb, bs_buf_slice(&b));
        int want = bs_slice_cmp(bs_buf_slice(&a), bs_buf_slice(&b));
        int got = bs_slice_cmp(bs_buf_slice(&ea), bs_buf_slice(&eb));
        assert_true((want < 0 && got < 0) || (want > 0 && got > 0) || (want == 0 && got == 0));
        /* No encoding is a proper prefix of another. */
        if (want != 0) {
            assert_false(bs_slice_starts_with(bs_buf_slice(&ea), bs_buf_slice(&eb)));
            assert_false(bs_slice_starts_with(bs_buf_slice(&eb), bs_buf_slice(&ea)));
        }
        bs_buf_reset(&d);
        bs_slice cur = bs_buf_slice(&ea);
        assert_int_equal(bs_mce_read(&cur, &d), BS_OK);
        assert_true(bs_slice_eq(bs_buf_slice(&d), bs_buf_slice(&a)));
        size_t fl = 0;
        assert_int_equal(bs_mce_field_len(bs_buf_slice(&ea), &fl), BS_OK);
        assert_int_equal(fl, ea.len);
    }
    bs_buf_free(&a);
    bs_buf_free(&b);
    bs_buf_free(&ea);
    bs_buf_free(&eb);
    bs_buf_free(&d);
}

static void test_mce_malformed(void **state)
{
    (void)state;
    bs_buf a = BS_BUF_INIT, e = BS_BUF_INIT, d = BS_BUF_INIT;
    for (int i = 0; i < 2000; i++) {
        rand_bytes(&a, 30);
        bs_buf_reset(&e);
        bs_mce_append(&e, bs_buf_slice(&a));
        /* Every proper truncation fails and leaves cursor and output alone. */
        for (size_t l = 0; l < e.len; l++) {
            uint8_t *c = dup_exact(e.ptr, l);
            bs_slice t = bs_slice_make(c, l);
            bs_buf_set(&d, "keep", 4);
            assert_int_equal(bs_mce_read(&t, &d), BS_ECORRUPT);
            assert_int_equal(t.len, l);
            assert_int_equal(d.len, 4);
            size_t fl;
            assert_int_equal(bs_mce_field_len(bs_slice_make(c, l), &fl), BS_ECORRUPT);
            free(c);
        }
        /* Flip every byte: it must fail or decode canonically, never over-read. */
        for (size_t pos = 0; pos < e.len; pos++) {
            uint8_t *c = dup_exact(e.ptr, e.len);
            c[pos] ^= (uint8_t)(1u << (rnd() % 8));
            bs_slice t = bs_slice_make(c, e.len);
            bs_buf_reset(&d);
            int rc = bs_mce_read(&t, &d);
            if (rc == BS_OK) {
                bs_buf re = BS_BUF_INIT;
                bs_mce_append(&re, bs_buf_slice(&d));
                assert_true(re.len == e.len - t.len);
                assert_memory_equal(re.ptr, c, re.len);
                bs_buf_free(&re);
            }
            /* A flipped marker or padding byte must be rejected unless it produced another
             * valid marker layout; a marker below 0xF7 is always rejected. */
            if ((pos % 9) == 8 && c[pos] < 0xF7)
                assert_int_equal(rc, BS_ECORRUPT);
            free(c);
        }
    }
    /* Hand-made bad inputs. */
    const uint8_t bad_marker[9] = {'a', 0, 0, 0, 0, 0, 0, 0, 0xF6};
    const uint8_t bad_pad[9] = {'a', 0, 0, 0, 0, 0, 0, 1, 0xF8};
    const uint8_t no_end[9] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 0xFF};
    const uint8_t *bad[] = {bad_marker, bad_pad, no_end};
    for (size_t i = 0; i < 3; i++) {
        uint8_t *c = dup_exact(bad[i], 9);
        bs_slice t = bs_slice_make(c, 9);
        assert_int_equal(bs_mce_read(&t, &d), BS_ECORRUPT);
        free(c);
    }
    bs_buf_free(&a);
    bs_buf_free(&e);
    bs_buf_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_vectors),
        cmocka_unit_test(test_varint_round_trip_and_truncation),
        cmocka_unit_test(test_varint_rejects_overflow),
        cmocka_unit_test(test_big_endian),
        cmocka_unit_test(test_compact_bytes),
        cmocka_unit_test(test_mce_protocol_examples),
        cmocka_unit_test(test_mce_round_trip_and_order),
        cmocka_unit_test(test_mce_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
