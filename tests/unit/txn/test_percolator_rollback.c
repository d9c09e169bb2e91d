/* test_percolator_rollback.c -- KvBatchRollback and KvCleanup (rollback.c) in both layouts:
 * the lock and a long value removed, protected rollbacks for primaries, tombstones without a
 * lock (a late prewrite then fails), rollback of a committed txn, idempotence, collapsing of
 * non-protected rollbacks, Cleanup's TTL check against current_ts, its commit_version
 * answer and max_ts, and rollbacks overlapping another txn's commit at the same ts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "txn/percolator_helpers.h"
#include "txn/txn_int.h"

#define V(s) bs_slice_from_str(s)

static void test_rollback_lock(void **state)
{
    th *h = *state;
    bs_slice big = pt_long_value(KV_SHORT_VALUE_MAX + 10);
    must_prewrite_put(h, "pk", V("v"), "pk", 10);
    must_prewrite_put(h, "sk", big, "pk", 10);
    assert_int_equal(pt_has_default(h, "sk", 10), pt_mode == KV_MODE_TXN);
    must_rollback(h, "pk", 10);
    must_rollback(h, "sk", 10);
    must_unlocked(h, "pk");
    must_unlocked(h, "sk");
    assert_false(pt_has_default(h, "sk", 10)); /* the long value goes with the lock */
    must_get_rollback(h, "pk", 10, true);  /* primary: protected */
    must_get_rollback(h, "sk", 10, false); /* secondary: may be collapsed */
    /* Idempotent. */
    must_rollback(h, "pk", 10);
    must_get_rollback(h, "pk", 10, true);
    /* Commit afterwards fails, and so does a late prewrite. */
    assert_int_equal(must_commit_err(h, "pk", 10, 11, NULL), TXN_KEY_ERR_TXN_LOCK_NOT_FOUND);
    assert_int_equal(must_prewrite_put_err(h, "sk", V("v"), "pk", 10, NULL),
                     TXN_KEY_ERR_WRITE_CONFLICT);
    must_get_none(h, "pk", 20);
}

static void test_rollback_without_lock_leaves_tombstone(void **state)
{
    th *h = *state;
    must_rollback(h, "k", 10);
    must_get_rollback(h, "k", 10, false);
    txn_key_error ke;
    txn_key_error_init(&ke);
    assert_int_equal(must_prewrite_put_err(h, "k", V("v"), "k", 10, &ke),
                     TXN_KEY_ERR_WRITE_CONFLICT);
    assert_int_equal(ke.reason, TXN_CONFLICT_SELF_ROLLED_BACK);
    txn_key_error_deinit(&ke);
}

static void test_rollback_committed(void **state)
{
    th *h = *state;
    must_prewrite_put(h, "k", V("v"), "k", 10);
    must_commit(h, "k", 10, 15);
    txn_key_error ke;
    txn_key_error_init(&ke);
    assert_int_equal(must_rollback_err(h, "k", 10, &ke), TXN_KEY_ERR_COMMITTED);
    assert_int_equal(ke.commit_ts, 15);
    txn_key_error_deinit(&ke);
    must_get(h, "k", 15, V("v"));
    /* Cleanup reports the commit instead of an error (CleanupResponse.commit_version). */
    assert_int_equal(must_cleanup(h, "k", 10, 0), 15);
}

static void test_rollback_collapses_non_protected(void **state)
{
    th *h = *state;
    must_rollback(h, "k", 5);
    must_get_rollback(h, "k", 5, false);
    must_rollback(h, "k", 7);
    must_get_rollback(h, "k", 7, false);
    must_get_no_write(h, "k", 5); /* collapsed */
    /* A protected rollback is never collapsed. */
    must_prewrite_put(h, "p", V("v"), "p", 5);
    must_rollback(h, "p", 5);
    must_get_rollback(h, "p", 5, true);
    must_rollback(h, "p", 7);
    must_get_rollback(h, "p", 5, true);
    must_get_rollback(h, "p", 7, false);
}

static void test_rollback_several_keys(void **state)
{
    th *h = *state;
    must_prewrite_put(h, "a", V("1"), "a", 10);
    must_prewrite_put(h, "b", V("2"), "a", 10);
    must_prewrite_put(h, "c", V("3"), "c", 9);
    must_commit(h, "c", 9, 12);
    bs_slice keys[3] = {pt_key("a"), pt_key("b"), pt_key("c")};
    pt_res r;
    pt_res_init(&r);
    /* c's txn 10 never touched c: a tombstone. a, b: locks removed. */
    txn_kv_batch_rollback(h->s, keys, 3, 10, pt_cb, &r);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
    must_unlocked(h, "a");
    must_unlocked(h, "b");
    must_get_rollback(h, "c", 10, false);
    must_get(h, "c", 12, V("3"));
    /* Rolling back txn 9, committed on c, fails as a whole. */
    must_prewrite_put(h, "d", V("1"), "c", 9);
    keys[0] = pt_key("d");
    keys[1] = pt_key("c");
    txn_kv_batch_rollback(h->s, keys, 2, 9, pt_cb, &r);
    assert_int_equal(r.n_errors, 1);
    assert_int_equal(r.errors[0].kind, TXN_KEY_ERR_COMMITTED);
    assert_int_equal(r.commit_ts, 12);
    pt_res_free(&r);
    must_locked(h, "d", 9, NULL); /* nothing of the failed request was written */
}

static void test_cleanup_ttl(void **state)
{
    th *h = *state;
    uint64_t start = pt_ts(100, 0);
    must_prewrite_put_ttl(h, "k", V("v"), "k", start, 50, 0);
    txn_key_error ke;
    txn_key_error_init(&ke);
    /* Alive at physical 150 (100 + 50 >= 150): KeyIsLocked with the lock. */
    assert_int_equal(must_cleanup_err(h, "k", start, pt_ts(150, 0), &ke), TXN_KEY_ERR_LOCKED);
    assert_int_equal(ke.lock.lock_version, start);
    assert_int_equal(ke.lock.lock_ttl, 50);
    txn_key_error_deinit(&ke);
    must_locked(h, "k", start, NULL);
    assert_true(txn_cm_max_ts(txn_store_cm(h->s)) >= pt_ts(150, 0)); /* Cleanup reads at it */
    /* Expired at physical 151. */
    assert_int_equal(must_cleanup(h, "k", start, pt_ts(151, 0)), 0);
    must_unlocked(h, "k");
    must_get_rollback(h, "k", start, true); /* Cleanup protects its rollback */
    /* current_ts 0: no TTL check. */
    must_prewrite_put_ttl(h, "j", V("v"), "j", start, 1000000, 0);
    assert_int_equal(must_cleanup(h, "j", start, 0), 0);
    must_unlocked(h, "j");
    /* Another txn's lock: a protected tombstone for ours, theirs untouched. */
    must_prewrite_put(h, "o", V("v"), "o", start + 1);
    assert_int_equal(must_cleanup(h, "o", start, 0), 0);
    must_locked(h, "o", start + 1, NULL);
    must_get_rollback(h, "o", start, true);
}

static void test_rollback_overlapping_commit(void **state)
{
    th *h = *state;
    /* Txn 5 commits k at 10; then txn 10 is rolled back on k: the slot key@10 is taken. */
    must_prewrite_put(h, "k", V("v"), "k", 5);
    must_commit(h, "k", 5, 10);
    must_rollback(h, "k", 10); /* non-protected: nothing to write */
    bs_buf raw = BS_BUF_INIT;
    kv_write w;
    assert_true(pt_get_write(h, "k", 10, &raw, &w));
    assert_int_equal(w.type, KV_WRITE_PUT);
    assert_false(w.has_overlapped_rollback);
    bs_buf_free(&raw);
    /* Protected (Cleanup): the flag lands on txn 5's record, which stays a commit. */
    assert_int_equal(must_cleanup(h, "k", 10, 0), 0);
    assert_true(pt_get_write(h, "k", 10, &raw, &w));
    assert_int_equal(w.type, KV_WRITE_PUT);
    assert_int_equal(w.start_ts, 5);
    assert_true(w.has_overlapped_rollback);
    bs_buf_free(&raw);
    must_get(h, "k", 10, V("v"));
    /* Txn 10 is now known rolled back. */
    assert_int_equal(must_prewrite_put_err(h, "k", V("x"), "k", 10, NULL),
                     TXN_KEY_ERR_WRITE_CONFLICT);
    assert_int_equal(must_cleanup(h, "k", 10, 0), 0); /* idempotent */
    /* And txn 5 still reads as committed at 10. */
    txn_key_error ke;
    txn_key_error_init(&ke);
    assert_int_equal(must_rollback_err(h, "k", 5, &ke), TXN_KEY_ERR_COMMITTED);
    assert_int_equal(ke.commit_ts, 10);
    txn_key_error_deinit(&ke);
}

static void test_rollback_validation(void **state)
{
    th *h = *state;
    bs_slice k = pt_key("k");
    pt_res r;
    pt_res_init(&r);
    txn_kv_batch_rollback(h->s, &k, 1, 0, pt_cb, &r);
    assert_int_equal(r.code, BS_EINVAL);
    pt_res_free(&r);
    txn_kv_cleanup(h->s, bs_slice_make("q\0\0\0k", 5), 10, 0, pt_cb, &r);
    assert_int_equal(r.code, BS_EINVAL);
    assert_int_equal(r.kind, TXN_ERR_INVALID_KEY_MODE);
    pt_res_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_BOTH(test_rollback_lock),
        PT_BOTH(test_rollback_without_lock_leaves_tombstone),
        PT_BOTH(test_rollback_committed),
        PT_BOTH(test_rollback_collapses_non_protected),
        PT_BOTH(test_rollback_several_keys),
        PT_BOTH(test_cleanup_ttl),
        PT_BOTH(test_rollback_overlapping_commit),
        PT_BOTH(test_rollback_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
