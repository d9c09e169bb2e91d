/* test_gc.c -- garbage collection: the compaction filter removes only versions shadowed by
 * a kept newer version at or below the safe point and never a key's newest version (even
 * deleted or expired), nothing at all with safe point 0; the GC pass deletes deleted and
 * expired keys entirely and shadowed versions below the safe point, stays within its limits
 * (deletes, and versions read) and resumes from its cursor. Compactions are forced with
 * kv_engine_compact_range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "txn/harness.h"


/* Number of stored versions of user key. */
static int versions(th *h, const char *user)
{
    bs_buf k = BS_BUF_INIT, lo = BS_BUF_INIT, hi = BS_BUF_INIT;
    int n = 0;
    th_key(&k, user);
    kv_mvcc_key_append(&lo, bs_buf_slice(&k), UINT64_MAX);
    kv_mvcc_key_append(&hi, bs_buf_slice(&k), 0);
    kv_iter *it = kv_iter_new(h->e, NULL, KV_CF_DEFAULT, bs_buf_slice(&lo), bs_buf_slice(&hi));
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it))
        n++;
    kv_iter_free(it);
    bs_buf_free(&k);
    bs_buf_free(&lo);
    bs_buf_free(&hi);
    return n;
}

static void compact(th *h)
{
    bs_err err;
    assert_int_equal(kv_engine_flush(h->e, KV_CF_DEFAULT, false, &err), BS_OK);
    assert_int_equal(kv_engine_compact_range(h->e, KV_CF_DEFAULT, BS_SLICE_NULL, BS_SLICE_NULL,
                                             &err),
                     BS_OK);
}

static void populate(th *h)
{
    must_raw_put(h, "k", "1", 0);
    must_raw_put(h, "k", "2", 0);
    must_raw_put(h, "k", "3", 0);
    must_raw_put(h, "d", "1", 0);
    must_raw_delete(h, "d");
    must_raw_put(h, "e", "1", 0);
    must_raw_put(h, "e", "2", 10); /* expires */
    must_raw_put(h, "s", "only", 0);
}

static void test_filter_nothing_below_zero_safe_point(void **state)
{
    th *h = *state;
    populate(h);
    compact(h);
    assert_int_equal(versions(h, "k"), 3);
    assert_int_equal(versions(h, "d"), 2);
}

static void test_filter_keeps_newest(void **state)
{
    th *h = *state;
    populate(h);
    bs_clock_set_wall_override(TH_NOW + 100);
    atomic_store(&h->gc.safe_point, UINT64_MAX);
    compact(h);
    assert_int_equal(versions(h, "k"), 1);
    must_raw_get(h, "k", "3");
    /* the deleted marker and the expired value stay: they shadow what the filter may not see */
    assert_int_equal(versions(h, "d"), 1);
    must_not_found(h, "d");
    assert_int_equal(versions(h, "e"), 1);
    must_not_found(h, "e");
    assert_int_equal(versions(h, "s"), 1);
}

static void test_filter_across_levels(void **state)
{
    th *h = *state;
    atomic_store(&h->gc.safe_point, UINT64_MAX);
    must_raw_put(h, "k", "old", 0);
    compact(h); /* old is alone: kept */
    must_raw_delete(h, "k");
    bs_err err;
    /* flush only: the delete marker sits in a newer file, the old value in the bottom level */
    assert_int_equal(kv_engine_flush(h->e, KV_CF_DEFAULT, false, &err), BS_OK);
    must_not_found(h, "k");
    compact(h);
    must_not_found(h, "k"); /* never resurrected */
    assert_int_equal(versions(h, "k"), 1);
}

static void test_filter_respects_safe_point(void **state)
{
    th *h = *state;
    th_res r;
    bs_buf k = BS_BUF_INIT;
    uint64_t ts[3];
    th_res_init(&r);
    for (int i = 0; i < 3; i++) {
        txn_raw_put(h->s, th_key(&k, "k"), th_s("v"), 0, th_cb, &r);
        ts[i] = r.ts;
        th_res_free(&r);
    }
    /* safe point between the 2nd and the 3rd: the 2nd is the newest at the safe point and
     * shadows the 1st; the 3rd is above it */
    atomic_store(&h->gc.safe_point, ts[1]);
    compact(h);
    assert_int_equal(versions(h, "k"), 2);
    bs_buf_free(&k);
}

static void apply_gc(th *h, uint64_t sp, size_t limit, int *passes)
{
    bs_buf cursor = BS_BUF_INIT;
    bs_err err;
    *passes = 0;
    do {
        kv_batch *b = NULL;
        assert_int_equal(txn_gc_pass(h->e, sp, (uint64_t)bs_clock_wall_ms(), limit, &cursor, &b,
                                     &err),
                         BS_OK);
        if (limit)
            assert_true(kv_batch_count(b) <= limit + 3); /* a key's versions are not split */
        assert_int_equal(kv_engine_write(h->e, b, false, &err), BS_OK);
        kv_batch_free(b);
        (*passes)++;
    } while (cursor.len);
    bs_buf_free(&cursor);
}

static void test_gc_pass(void **state)
{
    th *h = *state;
    int passes;
    populate(h);
    bs_clock_set_wall_override(TH_NOW + 100);
    apply_gc(h, UINT64_MAX, 0, &passes);
    assert_int_equal(passes, 1);
    assert_int_equal(versions(h, "k"), 1);
    must_raw_get(h, "k", "3");
    assert_int_equal(versions(h, "d"), 0);
    assert_int_equal(versions(h, "e"), 0);
    assert_int_equal(versions(h, "s"), 1);
    must_raw_get(h, "s", "only");
}

/* Keys <prefix>000.. <prefix>(n-1): each gets value v as a new version, or must have
 * `want` versions with v the newest. */
static void put_numbered(th *h, const char *prefix, int n, const char *v)
{
    char name[16];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "%s%03d", prefix, i);
        must_raw_put(h, name, v, 0);
    }
}

static void check_numbered(th *h, const char *prefix, int n, int want, const char *v)
{
    char name[16];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "%s%03d", prefix, i);
        assert_int_equal(versions(h, name), want);
        must_raw_get(h, name, v);
    }
}

static void test_gc_pass_safe_point_and_limit(void **state)
{
    th *h = *state;
    int passes;
    put_numbered(h, "x", 20, "1");
    put_numbered(h, "x", 20, "2");
    apply_gc(h, 1, 0, &passes); /* below every version: nothing to do */
    check_numbered(h, "x", 20, 2, "2");
    apply_gc(h, UINT64_MAX, 5, &passes);
    assert_true(passes >= 4);
    check_numbered(h, "x", 20, 1, "2");
}

/* Without garbage a pass still stops after limit * TXN_GC_READS_PER_DELETE versions read,
 * between two keys, and the walk goes on from the cursor to garbage at the end. */
static void test_gc_pass_bounded_reads(void **state)
{
    th *h = *state;
    int passes;
    put_numbered(h, "y", 100, "1");
    must_raw_put(h, "z", "1", 0);
    must_raw_put(h, "z", "2", 0);
    apply_gc(h, UINT64_MAX, 5, &passes);
    /* 102 versions, at most 5 * 4 (+ the versions of the key being read) per pass */
    assert_true(passes >= 102 / (5 * TXN_GC_READS_PER_DELETE + 2));
    assert_int_equal(versions(h, "z"), 1);
    must_raw_get(h, "z", "2");
    check_numbered(h, "y", 100, 1, "1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TH_TEST(test_filter_nothing_below_zero_safe_point),
        TH_TEST(test_filter_keeps_newest),
        TH_TEST(test_filter_across_levels),
        TH_TEST(test_filter_respects_safe_point),
        TH_TEST(test_gc_pass),
        TH_TEST(test_gc_pass_safe_point_and_limit),
        TH_TEST(test_gc_pass_bounded_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
