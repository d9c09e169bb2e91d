/* test_records.c -- RawKV v2 values, Percolator lock and write records: PROTOCOL.md's
 * literal bytes, round trips of random records, forward compatibility (unknown tags stop
 * parsing), and malformed input (every truncation, byte flips) failing cleanly or decoding
 * to exactly what re-encodes to the input. Decoder inputs are exact-size heap copies so
 * ASan catches over-reads. */
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

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    if (n)
        memcpy(c, p, n);
    return c;
}

/* ---- RawKV values ------------------------------------------------------------------------ */

static void test_raw_value_protocol_examples(void **state)
{
    (void)state;
    bs_buf b = BS_BUF_INIT;
    kv_raw_value v;

    /* 12 34 56, no TTL -> 12 34 56 00 */
    kv_raw_value_encode(&b, bs_slice_make("\x12\x34\x56", 3), 0, false);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.ptr, "\x12\x34\x56\x00", 4);
    assert_int_equal(kv_raw_value_decode(bs_buf_slice(&b), &v, NULL), BS_OK);
    assert_int_equal(v.value.len, 3);
    assert_false(v.has_expire);
    assert_false(v.deleted);

    /* TiKV's seconds layout, read by Basalt: expire 0xFFFF s. */
    const uint8_t secs[] = {0x12, 0x34, 0x56, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0x01};
    assert_int_equal(kv_raw_value_decode(bs_slice_make(secs, sizeof(secs)), &v, NULL), BS_OK);
    assert_int_equal(v.value.len, 3);
    assert_memory_equal(v.value.ptr, "\x12\x34\x56", 3);
    assert_true(v.has_expire);
    assert_true(v.expire_in_secs);
    assert_true(v.expire_ms == 0xFFFFull * 1000);
    /* Re-encoding keeps the unit: identical bytes. */
    bs_buf_reset(&b);
    kv_raw_value_encode_rec(&b, &v);
    assert_int_equal(b.len, sizeof(secs));
    assert_memory_equal(b.ptr, secs, sizeof(secs));

    /* Deleted -> 02 */
    bs_buf_reset(&b);
    kv_raw_value_encode(&b, BS_SLICE_NULL, 0, true);
    assert_int_equal(b.len, 1);
    assert_int_equal(b.ptr[0], 0x02);
    assert_int_equal(kv_raw_value_decode(bs_buf_slice(&b), &v, NULL), BS_OK);
    assert_true(v.deleted);
    assert_int_equal(v.value.len, 0);
    bs_buf_free(&b);
}

static void test_raw_value_ms_and_expiry(void **state)
{
    (void)state;
    bs_buf b = BS_BUF_INIT;
    kv_raw_value v;
    kv_raw_value_encode(&b, bs_slice_make("v\0x", 3), 1700000000123ull, false);
    /* value ‖ u64_be(ms) ‖ flags 0x05 */
    assert_int_equal(b.len, 3 + 8 + 1);
    assert_int_equal(b.ptr[b.len - 1], KV_RAW_FLAG_TTL | KV_RAW_FLAG_EXPIRE_MS);
    assert_true(bs_u64_be_get(b.ptr + 3) == 1700000000123ull);
    assert_int_equal(kv_raw_value_decode(bs_buf_slice(&b), &v, NULL), BS_OK);
    assert_true(v.expire_ms == 1700000000123ull);
    assert_false(v.expire_in_secs);
    assert_memory_equal(v.value.ptr, "v\0x", 3);
    assert_false(kv_raw_value_is_expired(&v, 1700000000122ull));
    assert_true(kv_raw_value_is_expired(&v, 1700000000123ull)); /* expire <= now */
    assert_true(kv_raw_value_is_expired(&v, UINT64_MAX));

    /* Seconds read with saturation. */
    const uint8_t huge[] = {'a', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    assert_int_equal(kv_raw_value_decode(bs_slice_make(huge, sizeof(huge)), &v, NULL), BS_OK);
    assert_true(v.expire_ms == UINT64_MAX);

    /* A TiKV TTL of 0 seconds is "already expired", not "no TTL". */
    const uint8_t zero[] = {'a', 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
    assert_int_equal(kv_raw_value_decode(bs_slice_make(zero, sizeof(zero)), &v, NULL), BS_OK);
    assert_true(v.has_expire);
    assert_true(kv_raw_value_is_expired(&v, 0));

    /* Seconds encoding rounds up. */
    kv_raw_value s = {
        .value = BS_SLICE_NULL, .has_expire = true, .expire_ms = 1001, .expire_in_secs = true};
    bs_buf_reset(&b);
    kv_raw_value_encode_rec(&b, &s);
    assert_int_equal(b.len, 9);
    assert_true(bs_u64_be_get(b.ptr) == 2);
    assert_int_equal(b.ptr[8], KV_RAW_FLAG_TTL);

    /* No TTL never expires. */
    bs_buf_reset(&b);
    kv_raw_value_encode(&b, bs_slice_make("x", 1), 0, false);
    assert_int_equal(kv_raw_value_decode(bs_buf_slice(&b), &v, NULL), BS_OK);
    assert_false(kv_raw_value_is_expired(&v, UINT64_MAX));
    bs_buf_free(&b);
}

static void test_raw_value_malformed(void **state)
{
    (void)state;
    kv_raw_value v;
    bs_err err;
    assert_int_equal(kv_raw_value_decode(BS_SLICE_NULL, &v, &err), BS_ECORRUPT);
    const uint8_t unknown[] = {'a', 0x08};
    assert_int_equal(kv_raw_value_decode(bs_slice_make(unknown, 2), &v, &err), BS_ECORRUPT);
    const uint8_t ms_only[] = {'a', 0x04};
    assert_int_equal(kv_raw_value_decode(bs_slice_make(ms_only, 2), &v, &err), BS_ECORRUPT);
    for (size_t n = 1; n <= 8; n++) {
        /* TTL flag but fewer than 8 bytes before it. */
        uint8_t *c = malloc(n);
        memset(c, 0, n);
        c[n - 1] = 0x01;
        assert_int_equal(kv_raw_value_decode(bs_slice_make(c, n), &v, &err), BS_ECORRUPT);
        free(c);
    }
    /* Every byte string of length <= 2 either fails or round-trips. */
    for (int x = 0; x < 65536 + 256; x++) {
        uint8_t raw[2] = {(uint8_t)x, (uint8_t)(x >> 8)};
        size_t n = x < 256 ? 1 : 2;
        uint8_t *c = dup_exact(raw, n);
        if (kv_raw_value_decode(bs_slice_make(c, n), &v, NULL) == BS_OK) {
            bs_buf b = BS_BUF_INIT;
            kv_raw_value_encode_rec(&b, &v);
            assert_int_equal(b.len, n);
            assert_memory_equal(b.ptr, c, n);
            bs_buf_free(&b);
        }
        free(c);
    }
}

/* ---- lock records --------------------------------------------------------------------------- */

static void lock_bytes(const kv_lock *l, bs_buf *out)
{
    bs_buf_reset(out);
    kv_lock_encode(out, l);
}

static void test_lock_layout(void **state)
{
    (void)state;
    bs_buf b = BS_BUF_INIT;
    kv_lock l;
    kv_lock_init(&l);
    l.type = KV_LOCK_PUT;
    l.primary = bs_slice_make("k", 1);
    l.start_ts = 1;
    l.ttl = 3000;
    l.has_short_value = true;
    l.short_value = bs_slice_make("v", 1);
    lock_bytes(&l, &b);
    /* 'P' compact("k") varint(1) varint(3000 = b8 17) 'v' 01 'v' */
    assert_int_equal(b.len, 9);
    assert_memory_equal(b.ptr, "P\x02k\x01\xb8\x17v\x01v", 9);

    /* Every field, in TiKV's order, then Basalt's value last. */
    bs_slice secs[2] = {bs_slice_make("s1", 2), bs_slice_make("", 0)};
    uint64_t rts[2] = {7, 8};
    kv_lock_init(&l);
    l.type = KV_LOCK_PESSIMISTIC;
    l.primary = bs_slice_make("p", 1);
    l.start_ts = 2;
    l.ttl = 3;
    l.has_short_value = true;
    l.short_value = bs_slice_make("", 0);
    l.for_update_ts = 4;
    l.txn_size = 5;
    l.min_commit_ts = 6;
    l.use_async_commit = true;
    l.n_secondaries = 2;
    l.secondaries = secs;
    l.n_rollback_ts = 2;
    l.rollback_ts = rts;
    l.last_change_ts = 9;
    l.versions_to_last_change = 10;
    l.txn_source = 11;
    l.is_locked_with_conflict = true;
    l.generation = 12;
    l.has_basalt_value = true;
    l.basalt_value = bs_slice_make("big", 3);
    lock_bytes(&l, &b);
    /* clang-format off */
    static const uint8_t want[] = {
        'S', 0x02, 'p', 0x02, 0x03,                        /* type, primary, start_ts, ttl */
        'v', 0x00,                                         /* empty short value */
        'f', 0, 0, 0, 0, 0, 0, 0, 4,                       /* for_update_ts */
        't', 0, 0, 0, 0, 0, 0, 0, 5,                       /* txn_size */
        'c', 0, 0, 0, 0, 0, 0, 0, 6,                       /* min_commit_ts */
        'a', 0x02, 0x04, 's', '1', 0x00,                   /* secondaries "s1", "" */
        'r', 0x02, 0, 0, 0, 0, 0, 0, 0, 7,                 /* rollback_ts 7, */
                   0, 0, 0, 0, 0, 0, 0, 8,                 /*             8 */
        'l', 0, 0, 0, 0, 0, 0, 0, 9, 0x0a,                 /* last change */
        's', 0x0b,                                         /* txn_source */
        'F',                                               /* locked with conflict */
        'g', 0, 0, 0, 0, 0, 0, 0, 12,                      /* generation */
        'V', 0x03, 'b', 'i', 'g',                          /* Basalt's pending value */
    };
    /* clang-format on */
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.ptr, want, sizeof(want));

    kv_lock d;
    assert_int_equal(kv_lock_decode(bs_buf_slice(&b), &d, NULL), BS_OK);
    assert_int_equal(d.type, KV_LOCK_PESSIMISTIC);
    assert_int_equal(d.n_secondaries, 2);
    bs_slice cur = d.secondaries_raw, k;
    assert_int_equal(kv_lock_secondary_next(&cur, &k), BS_OK);
    assert_memory_equal(k.ptr, "s1", 2);
    assert_int_equal(kv_lock_secondary_next(&cur, &k), BS_OK);
    assert_int_equal(k.len, 0);
    assert_int_equal(cur.len, 0);
    assert_int_equal(d.n_rollback_ts, 2);
    assert_true(kv_lock_rollback_ts_at(&d, 1) == 8);
    assert_true(d.has_basalt_value);
    assert_memory_equal(d.basalt_value.ptr, "big", 3);
    bs_buf re = BS_BUF_INIT;
    lock_bytes(&d, &re);
    assert_true(bs_slice_eq(bs_buf_slice(&re), bs_buf_slice(&b)));

    /* A parser that stops at Basalt's tag (as TiKV's does, since 'V' is unknown to it) reads
     * every TiKV field: the bytes before 'V' are the same lock without the pending value. */
    l.has_basalt_value = false;
    lock_bytes(&l, &re);
    assert_int_equal(re.len, sizeof(want) - 5);
    assert_memory_equal(re.ptr, want, re.len);
    bs_buf_free(&re);
    bs_buf_free(&b);
}

static void test_lock_forward_compat_and_old_format(void **state)
{
    (void)state;
    kv_lock d;
    /* Unknown tag 'Z' stops parsing; what follows is ignored. */
    const uint8_t fwd[] = {'D', 0x02, 'k', 0x05, 0x06, 'F', 'Z', 0xFF, 0x00, 'v'};
    assert_int_equal(kv_lock_decode(bs_slice_make(fwd, sizeof(fwd)), &d, NULL), BS_OK);
    assert_int_equal(d.type, KV_LOCK_DELETE);
    assert_true(d.start_ts == 5 && d.ttl == 6);
    assert_true(d.is_locked_with_conflict);
    assert_false(d.has_short_value);
    /* Very old records stop after start_ts: ttl is 0. */
    const uint8_t old[] = {'L', 0x02, 'k', 0x05};
    assert_int_equal(kv_lock_decode(bs_slice_make(old, sizeof(old)), &d, NULL), BS_OK);
    assert_true(d.ttl == 0);
    /* Unknown type and the shared-lock container are rejected. */
    const uint8_t bad_type[] = {'H', 0x02, 'k', 0x05, 0x06};
    bs_err err;
    assert_int_equal(kv_lock_decode(bs_slice_make(bad_type, 5), &d, &err), BS_ECORRUPT);
    assert_non_null(strstr(err.msg, "type"));
    assert_int_equal(kv_lock_decode(BS_SLICE_NULL, &d, &err), BS_ECORRUPT);
}

static void rand_slice(tu_rng *r, bs_buf *b, size_t max)
{
    tu_rand_key(r, b, max);
}

/* Builds a random lock whose slices point into bufs[]. */
static void rand_lock(tu_rng *r, kv_lock *l, bs_buf bufs[4], bs_slice secs[5], uint64_t rts[5])
{
    static const kv_lock_type types[] = {KV_LOCK_PUT, KV_LOCK_DELETE, KV_LOCK_LOCK,
                                         KV_LOCK_PESSIMISTIC};
    kv_lock_init(l);
    l->type = types[tu_rng_below(r, 4)];
    rand_slice(r, &bufs[0], 20);
    l->primary = bs_buf_slice(&bufs[0]);
    l->start_ts = tu_rng_next(r) >> tu_rng_below(r, 64);
    l->ttl = tu_rng_next(r) >> tu_rng_below(r, 64);
    if (tu_rng_below(r, 2)) {
        rand_slice(r, &bufs[1], tu_rng_below(r, 4) ? 20 : 255);
        l->has_short_value = true;
        l->short_value = bs_buf_slice(&bufs[1]);
    }
#define MAYBE(f) (tu_rng_below(r, 2) ? (f) : 0)
    l->for_update_ts = MAYBE(tu_rng_next(r));
    l->txn_size = MAYBE(tu_rng_next(r) >> 40);
    l->min_commit_ts = MAYBE(tu_rng_next(r));
    if (tu_rng_below(r, 2)) {
        l->use_async_commit = true;
        l->n_secondaries = (size_t)tu_rng_below(r, 5);
        for (size_t i = 0; i < l->n_secondaries; i++)
            secs[i] =
                bs_slice_make(bufs[0].ptr, bufs[0].len ? (size_t)tu_rng_below(r, bufs[0].len) : 0);
        l->secondaries = secs;
    }
    if (tu_rng_below(r, 2)) {
        l->n_rollback_ts = (size_t)tu_rng_below(r, 5);
        for (size_t i = 0; i < l->n_rollback_ts; i++)
            rts[i] = tu_rng_next(r);
        l->rollback_ts = rts;
    }
    l->last_change_ts = MAYBE(tu_rng_next(r));
    l->versions_to_last_change = MAYBE(tu_rng_next(r) >> 50);
    l->txn_source = MAYBE(tu_rng_next(r) >> tu_rng_below(r, 64));
    l->is_locked_with_conflict = tu_rng_below(r, 2);
    l->generation = MAYBE(tu_rng_next(r));
    if (tu_rng_below(r, 2)) {
        rand_slice(r, &bufs[2], tu_rng_below(r, 4) ? 40 : 1000);
        l->has_basalt_value = true;
        l->basalt_value = bs_buf_slice(&bufs[2]);
    }
#undef MAYBE
}

/* Offset just after the start_ts varint: a record cut there is an old-format lock. */
static size_t lock_len_without_ttl(const kv_lock *l)
{
    return 1 + bs_varint_len((uint64_t)l->primary.len << 1) + l->primary.len +
           bs_varint_len(l->start_ts);
}

static void test_lock_random_round_trip_and_truncation(void **state)
{
    (void)state;
    tu_rng r;
    tu_rng_seed(&r, 1234);
    bs_buf bufs[4] = {BS_BUF_INIT, BS_BUF_INIT, BS_BUF_INIT, BS_BUF_INIT};
    bs_buf enc = BS_BUF_INIT, re = BS_BUF_INIT;
    bs_slice secs[5];
    uint64_t rts[5];
    for (int i = 0; i < 1500; i++) {
        kv_lock l, d;
        rand_lock(&r, &l, bufs, secs, rts);
        lock_bytes(&l, &enc);
        assert_int_equal(kv_lock_decode(bs_buf_slice(&enc), &d, NULL), BS_OK);
        lock_bytes(&d, &re);
        assert_true(bs_slice_eq(bs_buf_slice(&re), bs_buf_slice(&enc)));

        size_t no_ttl = lock_len_without_ttl(&l);
        for (size_t n = 0; n < enc.len; n++) {
            uint8_t *c = dup_exact(enc.ptr, n);
            bs_err err;
            if (kv_lock_decode(bs_slice_make(c, n), &d, &err) == BS_OK) {
                /* Only a cut at a field boundary may decode, and then it is exactly the
                 * record those bytes spell. */
                lock_bytes(&d, &re);
                if (n == no_ttl) {
                    assert_int_equal(re.len, n + 1);
                    assert_int_equal(re.ptr[n], 0); /* ttl 0 */
                } else {
                    assert_int_equal(re.len, n);
                }
                assert_memory_equal(re.ptr, c, n);
            } else {
                assert_int_equal(err.code, BS_ECORRUPT);
            }
            free(c);
        }
        /* Byte flips: fail, or decode to something that round-trips. */
        for (int f = 0; f < 20 && enc.len; f++) {
            uint8_t *c = dup_exact(enc.ptr, enc.len);
            c[tu_rng_below(&r, enc.len)] = (uint8_t)tu_rng_next(&r);
            if (kv_lock_decode(bs_slice_make(c, enc.len), &d, NULL) == BS_OK) {
                kv_lock d2;
                bs_buf e2 = BS_BUF_INIT;
                lock_bytes(&d, &re);
                assert_int_equal(kv_lock_decode(bs_buf_slice(&re), &d2, NULL), BS_OK);
                lock_bytes(&d2, &e2);
                assert_true(bs_slice_eq(bs_buf_slice(&re), bs_buf_slice(&e2)));
                bs_buf_free(&e2);
            }
            free(c);
        }
    }
    for (int i = 0; i < 4; i++)
        bs_buf_free(&bufs[i]);
    bs_buf_free(&enc);
    bs_buf_free(&re);
}

/* ---- write records -------------------------------------------------------------------------- */

static void test_write_layout(void **state)
{
    (void)state;
    bs_buf b = BS_BUF_INIT;
    kv_write w, d;
    kv_write_init(&w);
    w.type = KV_WRITE_PUT;
    w.start_ts = 5;
    w.has_short_value = true;
    w.short_value = bs_slice_make("ab", 2);
    kv_write_encode(&b, &w);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.ptr,
                        "P\x05v\x02"
                        "ab",
                        6);

    /* Protected rollback: 'R' ts 'v' 01 'p'. */
    bs_buf_reset(&b);
    kv_write_init_rollback(&w, 300, true);
    kv_write_encode(&b, &w);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.ptr, "R\xac\x02v\x01p", 6);
    assert_int_equal(kv_write_decode(bs_buf_slice(&b), &d, NULL), BS_OK);
    assert_true(kv_write_is_protected_rollback(&d));
    kv_write_init_rollback(&w, 300, false);
    assert_false(kv_write_is_protected_rollback(&w));
    bs_buf_reset(&b);
    kv_write_encode(&b, &w);
    assert_int_equal(b.len, 3);

    /* Every field. */
    kv_write_init(&w);
    w.type = KV_WRITE_LOCK;
    w.start_ts = 1;
    w.has_overlapped_rollback = true;
    w.has_gc_fence = true;
    w.gc_fence = 0; /* present with 0 is distinct from absent */
    w.last_change_ts = 2;
    w.versions_to_last_change = 3;
    w.txn_source = 4;
    bs_buf_reset(&b);
    kv_write_encode(&b, &w);
    static const uint8_t want[] = {'L', 0x01, 'R', 'F', 0, 0, 0, 0, 0, 0,    0,   0,
                                   'l', 0,    0,   0,   0, 0, 0, 0, 2, 0x03, 'S', 0x04};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.ptr, want, sizeof(want));
    assert_int_equal(kv_write_decode(bs_buf_slice(&b), &d, NULL), BS_OK);
    assert_true(d.has_gc_fence && d.gc_fence == 0 && d.has_overlapped_rollback);
    assert_true(d.last_change_ts == 2 && d.versions_to_last_change == 3 && d.txn_source == 4);

    /* Unknown bytes after the fields are ignored (TiKV's test appends "unknown"). */
    bs_buf_append(&b, "unknown", 7);
    assert_int_equal(kv_write_decode(bs_buf_slice(&b), &d, NULL), BS_OK);
    assert_true(d.txn_source == 4);

    /* Every truncation of this record fails or re-encodes to exactly the prefix. */
    for (size_t n = 0; n < sizeof(want); n++) {
        uint8_t *c = dup_exact(want, n);
        if (kv_write_decode(bs_slice_make(c, n), &d, NULL) == BS_OK) {
            bs_buf re = BS_BUF_INIT;
            kv_write_encode(&re, &d);
            assert_int_equal(re.len, n);
            assert_memory_equal(re.ptr, c, n);
            bs_buf_free(&re);
        }
        free(c);
    }
    bs_err err;
    assert_int_equal(kv_write_decode(bs_slice_make("X\x01", 2), &d, &err), BS_ECORRUPT);
    assert_int_equal(kv_write_decode(bs_slice_make("P", 1), &d, &err), BS_ECORRUPT);
    assert_int_equal(kv_write_decode(bs_slice_make("P\x01v\x05"
                                                   "ab",
                                                   6),
                                     &d, &err),
                     BS_ECORRUPT);
    bs_buf_free(&b);
}

static void test_write_random_round_trip(void **state)
{
    (void)state;
    tu_rng r;
    tu_rng_seed(&r, 99);
    static const kv_write_type types[] = {KV_WRITE_PUT, KV_WRITE_DELETE, KV_WRITE_LOCK,
                                          KV_WRITE_ROLLBACK};
    bs_buf sv = BS_BUF_INIT, enc = BS_BUF_INIT, re = BS_BUF_INIT;
    for (int i = 0; i < 3000; i++) {
        kv_write w, d;
        kv_write_init(&w);
        w.type = types[tu_rng_below(&r, 4)];
        w.start_ts = tu_rng_next(&r) >> tu_rng_below(&r, 64);
        if (tu_rng_below(&r, 2)) {
            tu_rand_key(&r, &sv, 255);
            w.has_short_value = true;
            w.short_value = bs_buf_slice(&sv);
        }
        w.has_overlapped_rollback = tu_rng_below(&r, 2);
        w.has_gc_fence = tu_rng_below(&r, 2);
        w.gc_fence = w.has_gc_fence ? tu_rng_next(&r) : 0;
        w.last_change_ts = tu_rng_below(&r, 2) ? tu_rng_next(&r) : 0;
        w.versions_to_last_change = tu_rng_below(&r, 2) ? tu_rng_below(&r, 1000) : 0;
        w.txn_source = tu_rng_below(&r, 2) ? tu_rng_next(&r) : 0;
        bs_buf_reset(&enc);
        kv_write_encode(&enc, &w);
        assert_int_equal(kv_write_decode(bs_buf_slice(&enc), &d, NULL), BS_OK);
        bs_buf_reset(&re);
        kv_write_encode(&re, &d);
        assert_true(bs_slice_eq(bs_buf_slice(&re), bs_buf_slice(&enc)));
        for (size_t n = 0; n < enc.len; n++) {
            uint8_t *c = dup_exact(enc.ptr, n);
            if (kv_write_decode(bs_slice_make(c, n), &d, NULL) == BS_OK) {
                bs_buf_reset(&re);
                kv_write_encode(&re, &d);
                assert_int_equal(re.len, n);
                assert_memory_equal(re.ptr, c, n);
            }
            free(c);
        }
    }
    bs_buf_free(&sv);
    bs_buf_free(&enc);
    bs_buf_free(&re);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_value_protocol_examples),
        cmocka_unit_test(test_raw_value_ms_and_expiry),
        cmocka_unit_test(test_raw_value_malformed),
        cmocka_unit_test(test_lock_layout),
        cmocka_unit_test(test_lock_forward_compat_and_old_format),
        cmocka_unit_test(test_lock_random_round_trip_and_truncation),
        cmocka_unit_test(test_write_layout),
        cmocka_unit_test(test_write_random_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
