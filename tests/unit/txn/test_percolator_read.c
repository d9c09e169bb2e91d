/* test_percolator_read.c -- KvGet, KvBatchGet and KvScan at a timestamp (txn_kv.c) in both
 * layouts: versions by ts, deletes, Lock and Rollback records skipped, long values, which
 * locks block (ts, type, min_commit_ts, resolved_locks, committed_locks, read at MAX on a
 * primary), scans forward and reverse with limit, key_only and locked keys, raw versions
 * and TTLs for RawKV keys, the lock table ("key is being written"), max_ts, and argument
 * checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/clock.h"
#include "txn/percolator_helpers.h"
#include "txn/txn_int.h"

#define V(s) bs_slice_from_str(s)

static void put(th *h, const char *k, const char *v, uint64_t start, uint64_t commit)
{
    must_prewrite_put(h, k, V(v), k, start);
    must_commit(h, k, start, commit);
}

static void test_get_versions(void **state)
{
    th *h = *state;
    put(h, "k", "v1", 10, 11);
    put(h, "k", "v2", 20, 21);
    must_prewrite_delete(h, "k", "k", 30);
    must_commit(h, "k", 30, 31);
    put(h, "k", "v4", 40, 41);
    must_prewrite_lock(h, "k", "k", 50);
    must_commit(h, "k", 50, 51);
    must_rollback(h, "k", 60);
    must_get_none(h, "k", 10);
    must_get(h, "k", 11, V("v1"));
    must_get(h, "k", 20, V("v1"));
    must_get(h, "k", 21, V("v2"));
    must_get_none(h, "k", 31);
    must_get(h, "k", 41, V("v4"));
    must_get(h, "k", 100, V("v4")); /* Lock and Rollback records carry no data */
    bs_slice big = pt_long_value(1000);
    must_prewrite_put(h, "big", big, "big", 70);
    must_commit(h, "big", 70, 71);
    must_get(h, "big", 71, big);
    /* commit_ts of the version read */
    txn_kv_pair p;
    txn_read_opts o = {.read_ts = 25};
    txn_error e;
    txn_kv_pair_init(&p);
    assert_int_equal(txn_kv_get(h->s, pt_key("k"), &o, &p, &e), BS_OK);
    assert_int_equal(p.commit_ts, 21);
    assert_true(bs_slice_eq(bs_buf_slice(&p.key), pt_key("k")));
    /* on absence it still reports the newest version's ts (a delete), for WATCH */
    o.read_ts = 35;
    assert_int_equal(txn_kv_get(h->s, pt_key("k"), &o, &p, &e), BS_NOTFOUND);
    assert_int_equal(p.commit_ts, 31);
    txn_kv_pair_deinit(&p);
    assert_true(txn_cm_max_ts(txn_store_cm(h->s)) >= 100);
}

static void test_get_locks(void **state)
{
    th *h = *state;
    put(h, "k", "old", 5, 6);
    must_prewrite_put(h, "k", V("new"), "k", 10);
    must_get(h, "k", 9, V("old"));   /* lock above read_ts: commits above it */
    must_get_locked(h, "k", 10, 10); /* lock.ts <= read_ts */
    must_get_locked(h, "k", 20, 10);
    txn_kv_pair p;
    txn_error e;
    txn_kv_pair_init(&p);
    txn_read_opts o = {.read_ts = 20};
    assert_int_equal(txn_kv_get(h->s, pt_key("k"), &o, &p, &e), BS_OK);
    assert_true(p.has_error);
    assert_int_equal(p.error.lock.lock_type, TXN_OP_PUT);
    assert_true(bs_slice_eq(bs_buf_slice(&p.error.lock.primary), pt_key("k")));
    /* resolved_locks: the client knows txn 10 will not commit below 20 */
    uint64_t resolved[1] = {10};
    o.resolved_locks = resolved;
    o.n_resolved = 1;
    assert_int_equal(txn_kv_get(h->s, pt_key("k"), &o, &p, &e), BS_OK);
    assert_false(p.has_error);
    assert_buf_eq(&p.value, "old");
    /* committed_locks: the client knows txn 10 committed: read the lock's value */
    o.resolved_locks = NULL;
    o.n_resolved = 0;
    o.committed_locks = resolved;
    o.n_committed = 1;
    assert_int_equal(txn_kv_get(h->s, pt_key("k"), &o, &p, &e), BS_OK);
    assert_false(p.has_error);
    assert_buf_eq(&p.value, "new");
    /* read at MAX ignores the lock of a primary */
    must_get(h, "k", UINT64_MAX, V("old"));
    must_prewrite_put(h, "s", V("x"), "k", 10);
    must_get_locked(h, "s", UINT64_MAX, 10); /* not a primary */
    /* Lock-type locks never block; nor does a lock pushed above read_ts */
    must_prewrite_lock(h, "l", "l", 10);
    must_get_none(h, "l", 20);
    must_prewrite_put_ttl(h, "m", V("v"), "m", 10, 100, 30);
    must_get_none(h, "m", 20);
    must_get_locked(h, "m", 30, 10);
    /* a Delete lock blocks too */
    must_prewrite_delete(h, "d", "d", 10);
    must_get_locked(h, "d", 20, 10);
    txn_kv_pair_deinit(&p);
}

static void test_get_long_value_from_committed_lock(void **state)
{
    th *h = *state;
    bs_slice big = pt_long_value(600);
    must_prewrite_put(h, "k", big, "k", 10);
    uint64_t committed[1] = {10};
    txn_read_opts o = {.read_ts = 20, .committed_locks = committed, .n_committed = 1};
    txn_kv_pair p;
    txn_error e;
    txn_kv_pair_init(&p);
    assert_int_equal(txn_kv_get(h->s, pt_key("k"), &o, &p, &e), BS_OK);
    assert_true(bs_slice_eq(bs_buf_slice(&p.value), big));
    txn_kv_pair_deinit(&p);
    /* a committed Delete lock reads as absent */
    must_prewrite_delete(h, "d", "d", 10);
    txn_kv_pair_init(&p);
    assert_int_equal(txn_kv_get(h->s, pt_key("d"), &o, &p, &e), BS_NOTFOUND);
    txn_kv_pair_deinit(&p);
}

static void test_batch_get(void **state)
{
    th *h = *state;
    put(h, "a", "1", 10, 11);
    put(h, "c", "3", 10, 11);
    must_prewrite_put(h, "d", V("4"), "d", 12);
    bs_slice keys[4] = {pt_key("d"), pt_key("a"), pt_key("b"), pt_key("c")};
    txn_read_opts o = {.read_ts = 20};
    txn_kv_pairs out;
    txn_error e;
    txn_kv_pairs_init(&out);
    assert_int_equal(txn_kv_batch_get(h->s, keys, 4, &o, &out, &e), BS_OK);
    assert_int_equal(out.n, 3); /* b is absent: omitted */
    assert_true(out.v[0].has_error);
    assert_true(bs_slice_eq(bs_buf_slice(&out.v[1].key), pt_key("a")));
    assert_buf_eq(&out.v[1].value, "1");
    assert_buf_eq(&out.v[2].value, "3");
    txn_kv_pairs_free(&out);
}

static void scan(th *h, const char *start, const char *end, uint32_t limit, bool reverse,
                 bool key_only, uint64_t ts, txn_kv_pairs *out)
{
    txn_kv_scan_req req = {
        .start = start ? pt_key(start) : BS_SLICE_NULL,
        .end = end ? pt_key(end) : BS_SLICE_NULL,
        .limit = limit,
        .reverse = reverse,
        .key_only = key_only,
        .read = {.read_ts = ts},
    };
    txn_error e;
    txn_kv_pairs_free(out);
    int rc = txn_kv_scan(h->s, &req, out, &e);
    if (rc != BS_OK)
        fail_msg("scan: rc %d %s", rc, e.msg);
}

static void expect_keys(const txn_kv_pairs *out, const char *const *want, size_t n)
{
    if (out->n != n)
        fail_msg("scan returned %zu pairs, want %zu", out->n, n);
    for (size_t i = 0; i < n; i++)
        assert_true(bs_slice_eq(bs_buf_slice(&out->v[i].key), pt_key(want[i])));
}

static void test_scan(void **state)
{
    th *h = *state;
    put(h, "a", "1", 10, 11);
    put(h, "b", "2", 10, 11);
    put(h, "b", "2b", 12, 13);
    put(h, "c", "3", 10, 11);
    must_prewrite_delete(h, "c", "c", 14);
    must_commit(h, "c", 14, 15);
    must_prewrite_put(h, "d", V("4"), "d", 16); /* locked, never committed */
    put(h, "e", "5", 10, 11);
    must_rollback(h, "f", 10);                  /* a rollback alone is no data */
    bs_slice big = pt_long_value(400);
    must_prewrite_put(h, "g", big, "g", 10);
    must_commit(h, "g", 10, 11);
    txn_kv_pairs out;
    txn_kv_pairs_init(&out);

    scan(h, "a", NULL, 0, false, false, 20, &out);
    const char *fwd[] = {"a", "b", "d", "e", "g"};
    expect_keys(&out, fwd, 5);
    assert_buf_eq(&out.v[1].value, "2b");
    assert_true(out.v[2].has_error); /* d is locked: reported in place */
    assert_int_equal(out.v[2].error.lock.lock_version, 16);
    assert_true(bs_slice_eq(bs_buf_slice(&out.v[4].value), big));

    scan(h, "a", NULL, 0, false, false, 12, &out); /* older snapshot */
    const char *old[] = {"a", "b", "c", "e", "g"};
    expect_keys(&out, old, 5);
    assert_buf_eq(&out.v[1].value, "2");

    scan(h, "b", "e", 0, false, false, 20, &out); /* [b, e) */
    const char *mid[] = {"b", "d"};
    expect_keys(&out, mid, 2);

    scan(h, "a", NULL, 2, false, false, 20, &out); /* limit */
    expect_keys(&out, fwd, 2);

    scan(h, NULL, "a", 0, true, false, 20, &out); /* reverse over [a, end) */
    const char *rev[] = {"g", "e", "d", "b", "a"};
    expect_keys(&out, rev, 5);
    assert_buf_eq(&out.v[3].value, "2b");

    scan(h, "e", "a", 0, true, false, 20, &out); /* reverse over [a, e) */
    const char *rev2[] = {"d", "b", "a"};
    expect_keys(&out, rev2, 3);

    scan(h, "z", "b", 2, true, true, 20, &out); /* key_only, limit */
    const char *rev3[] = {"g", "e"};
    expect_keys(&out, rev3, 2);
    assert_int_equal(out.v[0].value.len, 0);

    scan(h, "e", "b", 0, false, false, 20, &out); /* empty range */
    assert_int_equal(out.n, 0);
    txn_kv_pairs_free(&out);
}

static void test_read_arguments(void **state)
{
    th *h = *state;
    txn_kv_pair p;
    txn_error e;
    txn_kv_pair_init(&p);
    txn_read_opts o = {.read_ts = 0};
    assert_int_equal(txn_kv_get(h->s, pt_key("k"), &o, &p, &e), BS_EINVAL);
    o.read_ts = 5;
    assert_int_equal(txn_kv_get(h->s, bs_slice_make("q\0\0\0k", 5), &o, &p, &e), BS_EINVAL);
    assert_int_equal(e.kind, TXN_ERR_INVALID_KEY_MODE);
    txn_kv_pairs out;
    txn_kv_pairs_init(&out);
    txn_kv_scan_req req = {.read = {.read_ts = 5}};
    assert_int_equal(txn_kv_scan(h->s, &req, &out, &e), BS_EINVAL); /* no bound at all */
    req.start = pt_key("a");
    req.end = bs_slice_make(pt_mode == KV_MODE_RAW ? "x\0\0\0" : "r\0\0\0", 4);
    assert_int_equal(txn_kv_scan(h->s, &req, &out, &e), BS_EINVAL); /* mixed modes */
    uint8_t past[4] = {(uint8_t)(pt_mode + 1), 0, 0, 0};
    req.end = bs_slice_make(past, 4); /* the first key past the mode: fine */
    assert_int_equal(txn_kv_scan(h->s, &req, &out, &e), BS_OK);
    txn_kv_pairs_free(&out);
    txn_kv_pair_deinit(&p);
}

/* ---- RawKV keys --------------------------------------------------------------------------- */

static void test_raw_versions_and_ttl(void **state)
{
    th *h = *state;
    if (pt_mode != KV_MODE_RAW)
        return;
    th_res r;
    th_res_init(&r);
    txn_raw_put(h->s, pt_key("k"), V("v1"), 0, th_cb, &r);
    uint64_t t1 = r.ts;
    th_res_free(&r);
    txn_raw_put(h->s, pt_key("k"), V("v2"), 1000, th_cb, &r);
    uint64_t t2 = r.ts;
    th_res_free(&r);
    txn_raw_delete(h->s, pt_key("gone"), th_cb, &r);
    th_res_free(&r);
    must_get_none(h, "k", t1 - 1);
    must_get(h, "k", t1, V("v1"));
    must_get(h, "k", t2, V("v2"));
    must_get_none(h, "gone", t2 + 10);
    txn_kv_pairs out;
    txn_kv_pairs_init(&out);
    scan(h, "a", NULL, 0, false, false, t2 + 10, &out);
    const char *keys[] = {"k"};
    expect_keys(&out, keys, 1);
    bs_clock_set_wall_override(PT_NOW + 1000); /* v2 expired; v1 is older: not resurrected */
    must_get_none(h, "k", t2 + 10);
    must_get(h, "k", t1, V("v1")); /* a snapshot before v2 still reads v1 */
    scan(h, "a", NULL, 0, false, false, t2 + 10, &out);
    assert_int_equal(out.n, 0);
    txn_kv_pairs_free(&out);
}

static void test_read_waits_for_pending_raw_write(void **state)
{
    th *h = *state;
    if (pt_mode != KV_MODE_RAW)
        return;
    h->delay = true;
    th_res r;
    th_res_init(&r);
    txn_raw_put(h->s, pt_key("k"), V("v"), 0, th_cb, &r); /* proposed, not applied */
    assert_int_equal(r.calls, 0);
    txn_kv_pair p;
    txn_error e;
    txn_kv_pair_init(&p);
    txn_read_opts o = {.read_ts = r.ts ? r.ts : UINT64_MAX - 1};
    assert_int_equal(txn_kv_get(h->s, pt_key("k"), &o, &p, &e), BS_EBUSY);
    assert_int_equal(e.kind, TXN_ERR_KEY_BEING_WRITTEN);
    txn_kv_pairs out;
    txn_kv_pairs_init(&out);
    txn_kv_scan_req req = {.start = pt_key("a"), .read = {.read_ts = UINT64_MAX - 1}};
    assert_int_equal(txn_kv_scan(h->s, &req, &out, &e), BS_EBUSY);
    th_apply(h, SIZE_MAX);
    assert_int_equal(r.calls, 1);
    o.read_ts = r.ts;
    assert_int_equal(txn_kv_get(h->s, pt_key("k"), &o, &p, &e), BS_OK);
    assert_buf_eq(&p.value, "v");
    txn_kv_pair_deinit(&p);
    txn_kv_pairs_free(&out);
    th_res_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_BOTH(test_get_versions),
        PT_BOTH(test_get_locks),
        PT_BOTH(test_get_long_value_from_committed_lock),
        PT_BOTH(test_batch_get),
        PT_BOTH(test_scan),
        PT_BOTH(test_read_arguments),
        PT_BOTH(test_raw_versions_and_ttl),
        PT_BOTH(test_read_waits_for_pending_raw_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
