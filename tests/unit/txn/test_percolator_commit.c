/* test_percolator_commit.c -- commit (commit.c through txn_kv_commit) in both layouts:
 * record types for Put / Lock / Delete, short and long values, idempotence, TxnLockNotFound
 * (never prewritten, rolled back, another txn's lock), invalid txn tso, CommitTsExpired
 * below min_commit_ts, overlapped rollbacks carried in the lock, leftover pessimistic locks,
 * and -- for RawKV keys -- that a committed value is exactly a raw version at commit_ts:
 * raw get, raw scan and TTL see it, a Delete reads as absent, a Lock changes nothing. */
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

static void commit_ok_imp(th *h, bs_slice v1)
{
    must_prewrite_put(h, "x", v1, "x", 10);
    must_prewrite_lock(h, "y", "x", 10);
    must_prewrite_delete(h, "z", "x", 10);
    must_locked(h, "x", 10, NULL);
    must_locked(h, "y", 10, NULL);
    must_locked(h, "z", 10, NULL);
    must_commit(h, "x", 10, 15);
    must_commit(h, "y", 10, 15);
    must_commit(h, "z", 10, 15);
    must_written(h, "x", 10, 15, KV_WRITE_PUT);
    must_written(h, "y", 10, 15, KV_WRITE_LOCK);
    must_written(h, "z", 10, 15, KV_WRITE_DELETE);
    must_unlocked(h, "x");
    must_unlocked(h, "y");
    must_unlocked(h, "z");
    /* commit is idempotent */
    size_t before = h->proposals;
    must_commit(h, "x", 10, 15);
    must_commit(h, "y", 10, 15);
    must_commit(h, "z", 10, 15);
    assert_int_equal(h->proposals, before);
    must_get(h, "x", 15, v1);
    must_get_none(h, "x", 14);
    must_get_none(h, "y", 20);
    must_get_none(h, "z", 20);
}

static void test_commit_ok(void **state)
{
    commit_ok_imp(*state, V("v"));
}

static void test_commit_ok_long_value(void **state)
{
    th *h = *state;
    bs_slice big = pt_long_value(KV_SHORT_VALUE_MAX + 1);
    commit_ok_imp(h, big);
    bs_buf raw = BS_BUF_INIT;
    kv_write w;
    assert_true(pt_get_write(h, "x", 15, &raw, &w));
    assert_false(w.has_short_value); /* 'x': the value stays in CF default at start_ts */
    bs_buf_free(&raw);
    assert_int_equal(pt_has_default(h, "x", 10), pt_mode == KV_MODE_TXN);
    assert_int_equal(pt_has_default(h, "x", 15), pt_mode == KV_MODE_RAW);
}

static void test_commit_short_value_moves_to_record(void **state)
{
    th *h = *state;
    must_prewrite_put(h, "k", V("short"), "k", 10);
    must_commit(h, "k", 10, 11);
    bs_buf raw = BS_BUF_INIT;
    kv_write w;
    assert_true(pt_get_write(h, "k", 11, &raw, &w));
    if (pt_mode == KV_MODE_TXN) {
        assert_true(w.has_short_value);
        assert_true(bs_slice_eq(w.short_value, V("short")));
    } else {
        assert_false(w.has_short_value); /* 'r': the value is the raw version */
    }
    bs_buf_free(&raw);
}

static void test_commit_errors(void **state)
{
    th *h = *state;
    txn_key_error ke;
    txn_key_error_init(&ke);
    /* Not prewritten. */
    assert_int_equal(must_commit_err(h, "k", 1, 2, &ke), TXN_KEY_ERR_TXN_LOCK_NOT_FOUND);
    assert_true(bs_slice_eq(bs_buf_slice(&ke.key), pt_key("k")));
    must_prewrite_put(h, "k", V("v"), "k", 5);
    /* start_ts does not match the lock. */
    assert_int_equal(must_commit_err(h, "k", 4, 5, NULL), TXN_KEY_ERR_TXN_LOCK_NOT_FOUND);
    must_rollback(h, "k", 5);
    /* commit after rollback */
    assert_int_equal(must_commit_err(h, "k", 5, 6, NULL), TXN_KEY_ERR_TXN_LOCK_NOT_FOUND);
    /* commit_ts <= start_ts is refused before anything runs */
    size_t before = h->proposals;
    assert_int_equal(must_commit_err(h, "k", 7, 7, &ke), TXN_KEY_ERR_ABORT);
    assert_non_null(strstr(ke.msg, "invalid txn tso"));
    assert_int_equal(h->proposals, before);
    txn_key_error_deinit(&ke);
}

static void test_commit_ts_expired(void **state)
{
    th *h = *state;
    uint64_t start = pt_ts(10, 0);
    must_prewrite_put_ttl(h, "k", V("v"), "k", start, 100, pt_ts(20, 1));
    txn_key_error ke;
    txn_key_error_init(&ke);
    assert_int_equal(must_commit_err(h, "k", start, pt_ts(15, 0), &ke),
                     TXN_KEY_ERR_COMMIT_TS_EXPIRED);
    assert_int_equal(ke.start_ts, start);
    assert_int_equal(ke.commit_ts, pt_ts(15, 0));
    assert_int_equal(ke.min_commit_ts, pt_ts(20, 1));
    txn_key_error_deinit(&ke);
    must_locked(h, "k", start, NULL);
    must_commit(h, "k", start, pt_ts(20, 1));
}

static void test_commit_several_keys_is_atomic(void **state)
{
    th *h = *state;
    must_prewrite_put(h, "a", V("1"), "a", 10);
    must_prewrite_put(h, "c", V("3"), "a", 10);
    bs_slice keys[3] = {pt_key("a"), pt_key("b"), pt_key("c")};
    pt_res r;
    pt_res_init(&r);
    txn_kv_commit(h->s, keys, 3, 10, 11, pt_cb, &r);
    assert_int_equal(r.n_errors, 1); /* b was never locked */
    assert_int_equal(r.errors[0].kind, TXN_KEY_ERR_TXN_LOCK_NOT_FOUND);
    pt_res_free(&r);
    must_locked(h, "a", 10, NULL); /* nothing of the failed request was written */
    must_locked(h, "c", 10, NULL);
    keys[1] = pt_key("c");
    txn_kv_commit(h->s, keys, 2, 10, 11, pt_cb, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(r.commit_ts, 11);
    pt_res_free(&r);
    must_get(h, "a", 11, V("1"));
    must_get(h, "c", 11, V("3"));
    /* A key listed twice is committed once (one record, one lock-table guard). */
    must_prewrite_put(h, "d", V("4"), "d", 20);
    keys[0] = pt_key("d");
    keys[1] = pt_key("d");
    txn_kv_commit(h->s, keys, 2, 20, 21, pt_cb, &r);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
    must_written(h, "d", 20, 21, KV_WRITE_PUT);
    must_get(h, "d", 21, V("4"));
}

static void test_commit_overlapped_rollback_in_lock(void **state)
{
    th *h = *state;
    /* An async-commit lock that learned of a rollback at ts 15 (written directly: Basalt
     * itself writes no async-commit locks). */
    uint64_t rb[1] = {15};
    kv_lock l;
    kv_lock_init(&l);
    l.type = KV_LOCK_LOCK;
    l.primary = pt_key("k");
    l.start_ts = 10;
    l.ttl = 100;
    l.n_rollback_ts = 1;
    l.rollback_ts = rb;
    pt_put_lock(h, "k", &l);
    must_commit(h, "k", 10, 15);
    bs_buf raw = BS_BUF_INIT;
    kv_write w;
    assert_true(pt_get_write(h, "k", 15, &raw, &w));
    assert_true(w.has_overlapped_rollback);
    bs_buf_free(&raw);
    /* The rolled-back txn 15 cannot prewrite now. */
    txn_key_error ke;
    txn_key_error_init(&ke);
    assert_int_equal(must_prewrite_put_err(h, "k", V("v"), "k", 15, &ke),
                     TXN_KEY_ERR_WRITE_CONFLICT);
    assert_int_equal(ke.reason, TXN_CONFLICT_SELF_ROLLED_BACK);
    txn_key_error_deinit(&ke);
}

static void test_commit_pessimistic_lock_as_lock(void **state)
{
    th *h = *state;
    pt_put_pessimistic_lock(h, "k", 10, 0);
    must_commit(h, "k", 10, 12);
    must_written(h, "k", 10, 12, KV_WRITE_LOCK);
    must_unlocked(h, "k");
}

/* ---- RawKV keys: a commit is a raw write at commit_ts --------------------------------- */

static void test_commit_raw_visible_to_raw_reads(void **state)
{
    th *h = *state;
    if (pt_mode != KV_MODE_RAW)
        return;
    must_raw_put(h, "k", "old", 0);
    must_raw_put(h, "gone", "old", 0);
    uint64_t start = pt_ts((uint64_t)PT_NOW, 0), commit = pt_ts((uint64_t)PT_NOW, 5);
    txn_mutation m[3] = {pt_mut(TXN_OP_PUT, "k", V("new")), pt_mut(TXN_OP_DEL, "gone", V("")),
                         pt_mut(TXN_OP_LOCK, "kept", V(""))};
    must_raw_put(h, "kept", "same", 0);
    txn_prewrite_req req = pt_req(m, 3, "k", start);
    pt_res r;
    pt_res_init(&r);
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
    /* A raw read never reads past a live Put/Delete lock (txn.h, "Percolator locks on the
     * raw path"): it is told to retry. */
    bs_buf v = BS_BUF_INIT;
    txn_error le;
    assert_int_equal(txn_raw_get(h->s, pt_key("k"), 0, &v, &le), BS_EBUSY);
    assert_int_equal(le.kind, TXN_ERR_KEY_IS_LOCKED);
    assert_int_equal(txn_raw_get(h->s, pt_key("gone"), 0, &v, &le), BS_EBUSY);
    bs_buf_free(&v);
    bs_slice keys[3] = {pt_key("k"), pt_key("gone"), pt_key("kept")};
    txn_kv_commit(h->s, keys, 3, start, commit, pt_cb, &r);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
    must_raw_get(h, "k", "new");
    must_not_found(h, "gone");
    must_raw_get(h, "kept", "same");
    /* The exact raw version: CF default at commit_ts. */
    assert_true(pt_has_default(h, "k", commit));
    assert_true(pt_has_default(h, "gone", commit));
    assert_false(pt_has_default(h, "kept", commit));
    /* Raw scan sees it too. */
    txn_pairs out;
    txn_error e;
    txn_pairs_init(&out);
    txn_scan_req sr = {.start = pt_key("a"), .end = pt_key("z")};
    assert_int_equal(txn_raw_scan(h->s, &sr, &out, &e), BS_OK);
    assert_int_equal(out.n, 2); /* k, kept */
    assert_true(bs_slice_eq(bs_buf_slice(&out.v[0].key), pt_key("k")));
    assert_buf_eq(&out.v[0].value, "new");
    txn_pairs_free(&out);
    /* A later raw write gets a ts above the commit (the causal ts observed it). */
    th_res rr;
    th_res_init(&rr);
    txn_raw_put(h->s, pt_key("k"), V("later"), 0, th_cb, &rr);
    assert_true(rr.ts > commit);
    th_res_free(&rr);
    must_raw_get(h, "k", "later");
}

static void test_commit_raw_keeps_ttl(void **state)
{
    th *h = *state;
    if (pt_mode != KV_MODE_RAW)
        return;
    txn_mutation m = pt_mut(TXN_OP_PUT, "t", V("v"));
    m.expire_ms = PT_NOW + 2000;
    txn_prewrite_req req = pt_req(&m, 1, "t", 10);
    pt_res r;
    pt_res_init(&r);
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
    must_commit(h, "t", 10, 11);
    uint64_t ttl;
    txn_error e;
    assert_int_equal(txn_raw_get_key_ttl(h->s, pt_key("t"), 0, &ttl, &e), BS_OK);
    assert_int_equal(ttl, 2000);
    must_get(h, "t", 11, V("v"));
    bs_clock_set_wall_override(PT_NOW + 2000);
    must_not_found(h, "t");
    must_get_none(h, "t", 11);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_BOTH(test_commit_ok),
        PT_BOTH(test_commit_ok_long_value),
        PT_BOTH(test_commit_short_value_moves_to_record),
        PT_BOTH(test_commit_errors),
        PT_BOTH(test_commit_ts_expired),
        PT_BOTH(test_commit_several_keys_is_atomic),
        PT_BOTH(test_commit_overlapped_rollback_in_lock),
        PT_BOTH(test_commit_pessimistic_lock_as_lock),
        PT_BOTH(test_commit_raw_visible_to_raw_reads),
        PT_BOTH(test_commit_raw_keeps_ttl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
