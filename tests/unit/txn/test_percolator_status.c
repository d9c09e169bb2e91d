/* test_percolator_status.c -- what resolvers ask the store, in both layouts:
 * KvCheckTxnStatus (alive, TTL expiry rollback, min_commit_ts push, committed, rolled back,
 * missing with and without rollback_if_not_exist, PrimaryMismatch, pessimistic flags,
 * max_ts), KvTxnHeartBeat and KvCheckSecondaryLocks. TTLs are judged on TSO physical time:
 * physical(start_ts) + ttl < physical(current_ts) means expired. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "txn/percolator_helpers.h"
#include "txn/txn_int.h"

#define V(s) bs_slice_from_str(s)

static void check_status(th *h, const char *primary, uint64_t lock_ts, uint64_t caller_start_ts,
                         uint64_t current_ts, bool rollback_if_not_exist, pt_res *r)
{
    txn_check_txn_status_req req = {
        .primary_key = pt_key(primary),
        .lock_ts = lock_ts,
        .caller_start_ts = caller_start_ts,
        .current_ts = current_ts,
        .rollback_if_not_exist = rollback_if_not_exist,
    };
    pt_res_free(r);
    txn_kv_check_txn_status(h->s, &req, pt_cb, r);
    assert_int_equal(r->calls, 1);
    assert_int_equal(r->code, BS_OK);
}

static void test_status_alive_and_expired(void **state)
{
    th *h = *state;
    uint64_t start = pt_ts(100, 0);
    pt_res r;
    pt_res_init(&r);
    must_prewrite_put_ttl(h, "pk", V("v"), "pk", start, 50, 0);
    check_status(h, "pk", start, 0, pt_ts(150, 0), true, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(r.lock_ttl, 50);
    assert_int_equal(r.commit_ts, 0);
    assert_int_equal(r.action, TXN_ACTION_NO_ACTION);
    assert_true(r.has_lock_info);
    assert_int_equal(r.lock_info.lock_version, start);
    assert_true(bs_slice_eq(bs_buf_slice(&r.lock_info.primary), pt_key("pk")));
    must_locked(h, "pk", start, NULL);
    /* current_ts past the TTL: rolled back with a protected rollback. */
    check_status(h, "pk", start, 0, pt_ts(151, 0), true, &r);
    assert_int_equal(r.action, TXN_ACTION_TTL_EXPIRE_ROLLBACK);
    assert_int_equal(r.lock_ttl, 0);
    assert_int_equal(r.commit_ts, 0);
    must_unlocked(h, "pk");
    must_get_rollback(h, "pk", start, true);
    /* Asked again: rolled back, nothing to do. */
    check_status(h, "pk", start, 0, pt_ts(200, 0), true, &r);
    assert_int_equal(r.action, TXN_ACTION_NO_ACTION);
    assert_int_equal(r.lock_ttl, 0);
    assert_int_equal(r.commit_ts, 0);
    assert_false(r.has_lock_info);
    assert_int_equal(must_commit_err(h, "pk", start, pt_ts(201, 0), NULL),
                     TXN_KEY_ERR_TXN_LOCK_NOT_FOUND);
    pt_res_free(&r);
}

static void test_status_committed(void **state)
{
    th *h = *state;
    pt_res r;
    pt_res_init(&r);
    must_prewrite_put(h, "pk", V("v"), "pk", 10);
    must_commit(h, "pk", 10, 20);
    check_status(h, "pk", 10, 0, pt_ts(1000, 0), true, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(r.commit_ts, 20);
    assert_int_equal(r.lock_ttl, 0);
    pt_res_free(&r);
}

static void test_status_missing(void **state)
{
    th *h = *state;
    pt_res r;
    pt_res_init(&r);
    /* Never prewritten, no rollback_if_not_exist: TxnNotFound, nothing written. */
    check_status(h, "pk", 10, 0, pt_ts(1, 0), false, &r);
    assert_int_equal(r.n_errors, 1);
    assert_int_equal(r.errors[0].kind, TXN_KEY_ERR_TXN_NOT_FOUND);
    assert_int_equal(r.errors[0].start_ts, 10);
    assert_true(bs_slice_eq(bs_buf_slice(&r.errors[0].key), pt_key("pk")));
    must_get_no_write(h, "pk", 10);
    /* With it: a protected rollback, so the txn can never commit. */
    check_status(h, "pk", 10, 0, pt_ts(1, 0), true, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(r.action, TXN_ACTION_LOCK_NOT_EXIST_ROLLBACK);
    must_get_rollback(h, "pk", 10, true);
    assert_int_equal(must_prewrite_put_err(h, "pk", V("v"), "pk", 10, NULL),
                     TXN_KEY_ERR_WRITE_CONFLICT);
    /* resolving_pessimistic_lock on a missing lock does nothing. */
    txn_check_txn_status_req req = {.primary_key = pt_key("q"), .lock_ts = 10,
                                    .current_ts = pt_ts(1, 0), .rollback_if_not_exist = true,
                                    .resolving_pessimistic_lock = true};
    pt_res_free(&r);
    txn_kv_check_txn_status(h->s, &req, pt_cb, &r);
    assert_int_equal(r.action, TXN_ACTION_LOCK_NOT_EXIST_DO_NOTHING);
    must_get_no_write(h, "q", 10);
    pt_res_free(&r);
}

static void test_status_pushes_min_commit_ts(void **state)
{
    th *h = *state;
    uint64_t start = pt_ts(10, 0);
    pt_res r;
    pt_res_init(&r);
    /* A large txn: min_commit_ts set. A reader at ts(20,0) pushes it to ts(20,1). */
    must_prewrite_put_ttl(h, "k", V("v"), "k", start, 100, start + 1);
    check_status(h, "k", start, pt_ts(20, 0), pt_ts(20, 0), true, &r);
    assert_int_equal(r.action, TXN_ACTION_MIN_COMMIT_TS_PUSHED);
    assert_int_equal(r.lock_ttl, 100);
    assert_int_equal(r.lock_info.min_commit_ts, pt_ts(20, 1));
    pt_lock l;
    must_locked(h, "k", start, &l);
    assert_int_equal(l.lock.min_commit_ts, pt_ts(20, 1));
    pt_lock_free(&l);
    /* The reader may now skip the lock; the committer must commit above. */
    must_get_none(h, "k", pt_ts(20, 0));
    assert_int_equal(must_commit_err(h, "k", start, pt_ts(20, 0), NULL),
                     TXN_KEY_ERR_COMMIT_TS_EXPIRED);
    /* current_ts above caller_start_ts + 1 wins. */
    check_status(h, "k", start, pt_ts(25, 0), pt_ts(30, 0), true, &r);
    assert_int_equal(r.lock_info.min_commit_ts, pt_ts(30, 0));
    /* caller_start_ts below min_commit_ts: nothing written, still reported pushed. */
    size_t before = h->proposals;
    check_status(h, "k", start, pt_ts(26, 0), pt_ts(30, 0), true, &r);
    assert_int_equal(r.action, TXN_ACTION_MIN_COMMIT_TS_PUSHED);
    assert_int_equal(h->proposals, before);
    /* caller_start_ts MAX (an auto-commit point get): pushed, never written. */
    check_status(h, "k", start, UINT64_MAX, pt_ts(30, 0), true, &r);
    assert_int_equal(r.action, TXN_ACTION_MIN_COMMIT_TS_PUSHED);
    assert_int_equal(h->proposals, before);
    must_commit(h, "k", start, pt_ts(30, 0));
    /* A lock without min_commit_ts is never pushed (TiKV: old clients). */
    must_prewrite_put_ttl(h, "n", V("v"), "n", start, 100, 0);
    check_status(h, "n", start, pt_ts(20, 0), pt_ts(20, 0), true, &r);
    assert_int_equal(r.action, TXN_ACTION_NO_ACTION);
    assert_int_equal(r.lock_info.min_commit_ts, 0);
    pt_res_free(&r);
}

static void test_status_raises_max_ts(void **state)
{
    th *h = *state;
    pt_res r;
    pt_res_init(&r);
    check_status(h, "pk", 10, pt_ts(7, 0), pt_ts(9, 0), true, &r);
    assert_int_equal(txn_cm_max_ts(txn_store_cm(h->s)), pt_ts(9, 0));
    check_status(h, "pk", 10, pt_ts(12, 0), UINT64_MAX, true, &r);
    assert_int_equal(txn_cm_max_ts(txn_store_cm(h->s)), pt_ts(12, 0));
    pt_res_free(&r);
}

static void test_status_verify_primary(void **state)
{
    th *h = *state;
    must_prewrite_put(h, "pk", V("v"), "pk", 10);
    must_prewrite_put(h, "sk", V("v"), "pk", 10);
    txn_check_txn_status_req req = {.primary_key = pt_key("sk"), .lock_ts = 10,
                                    .current_ts = pt_ts(1, 0), .verify_is_primary = true};
    pt_res r;
    pt_res_init(&r);
    txn_kv_check_txn_status(h->s, &req, pt_cb, &r);
    assert_int_equal(r.n_errors, 1);
    assert_int_equal(r.errors[0].kind, TXN_KEY_ERR_PRIMARY_MISMATCH);
    assert_true(bs_slice_eq(bs_buf_slice(&r.errors[0].lock.primary), pt_key("pk")));
    assert_true(bs_slice_eq(bs_buf_slice(&r.errors[0].lock.key), pt_key("sk")));
    pt_res_free(&r);
    must_locked(h, "sk", 10, NULL);
}

static void test_status_pessimistic_primary(void **state)
{
    th *h = *state;
    pt_put_pessimistic_lock(h, "pk", pt_ts(1, 0), 10);
    txn_check_txn_status_req req = {.primary_key = pt_key("pk"), .lock_ts = pt_ts(1, 0),
                                    .current_ts = pt_ts(100, 0),
                                    .resolving_pessimistic_lock = true};
    pt_res r;
    pt_res_init(&r);
    txn_kv_check_txn_status(h->s, &req, pt_cb, &r);
    assert_int_equal(r.action, TXN_ACTION_TTL_EXPIRE_PESSIMISTIC_ROLLBACK);
    must_unlocked(h, "pk");
    must_get_no_write(h, "pk", pt_ts(1, 0)); /* just released, no rollback record */
    pt_res_free(&r);
}

static void heart_beat(th *h, const char *primary, uint64_t start_ts, uint64_t advise,
                       pt_res *r)
{
    pt_res_free(r);
    txn_kv_txn_heart_beat(h->s, pt_key(primary), start_ts, advise, pt_cb, r);
    assert_int_equal(r->calls, 1);
    assert_int_equal(r->code, BS_OK);
}

static void test_heart_beat(void **state)
{
    th *h = *state;
    pt_res r;
    pt_res_init(&r);
    must_prewrite_put_ttl(h, "pk", V("v"), "pk", 10, 100, 0);
    heart_beat(h, "pk", 10, 200, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(r.lock_ttl, 200);
    heart_beat(h, "pk", 10, 150, &r); /* never shrinks */
    assert_int_equal(r.lock_ttl, 200);
    pt_lock l;
    must_locked(h, "pk", 10, &l);
    assert_int_equal(l.lock.ttl, 200);
    pt_lock_free(&l);
    /* Another txn's lock, or none at all: TxnNotFound. */
    heart_beat(h, "pk", 11, 300, &r);
    assert_int_equal(r.n_errors, 1);
    assert_int_equal(r.errors[0].kind, TXN_KEY_ERR_TXN_NOT_FOUND);
    must_commit(h, "pk", 10, 12);
    heart_beat(h, "pk", 10, 300, &r);
    assert_int_equal(r.errors[0].kind, TXN_KEY_ERR_TXN_NOT_FOUND);
    pt_res_free(&r);
}

static void check_secondaries(th *h, const char **keys, size_t n, uint64_t start_ts, pt_res *r)
{
    bs_slice k[8];
    for (size_t i = 0; i < n; i++)
        k[i] = pt_key(keys[i]);
    pt_res_free(r);
    txn_kv_check_secondary_locks(h->s, k, n, start_ts, pt_cb, r);
    assert_int_equal(r->calls, 1);
    assert_int_equal(r->code, BS_OK);
    assert_int_equal(r->n_errors, 0);
}

static void test_check_secondary_locks(void **state)
{
    th *h = *state;
    const char *keys[3] = {"a", "b", "c"};
    pt_res r;
    pt_res_init(&r);
    must_prewrite_put(h, "a", V("1"), "a", 10);
    must_prewrite_put(h, "b", V("2"), "a", 10);
    must_prewrite_put(h, "c", V("3"), "a", 10);
    check_secondaries(h, keys, 3, 10, &r);
    assert_int_equal(r.locks.n, 3);
    assert_int_equal(r.commit_ts, 0);
    assert_true(bs_slice_eq(bs_buf_slice(&r.locks.v[1].key), pt_key("b")));
    assert_int_equal(r.locks.v[1].lock_version, 10);
    assert_true(txn_cm_max_ts(txn_store_cm(h->s)) >= 10);
    /* One committed: the txn is committed. */
    must_commit(h, "b", 10, 15);
    check_secondaries(h, keys, 3, 10, &r);
    assert_int_equal(r.locks.n, 0);
    assert_int_equal(r.commit_ts, 15);
    /* A key never prewritten: rolled back on the spot (protected), so the txn is dead. */
    const char *keys2[2] = {"x", "y"};
    must_prewrite_put(h, "x", V("1"), "x", 20);
    check_secondaries(h, keys2, 2, 20, &r);
    assert_int_equal(r.locks.n, 0);
    assert_int_equal(r.commit_ts, 0);
    must_get_rollback(h, "y", 20, true);
    assert_int_equal(must_prewrite_put_err(h, "y", V("late"), "x", 20, NULL),
                     TXN_KEY_ERR_WRITE_CONFLICT);
    /* A rolled-back key answers rolled back without writing again. */
    size_t before = h->proposals;
    const char *keys3[1] = {"y"};
    check_secondaries(h, keys3, 1, 20, &r);
    assert_int_equal(r.locks.n, 0);
    assert_int_equal(r.commit_ts, 0);
    assert_int_equal(h->proposals, before);
    pt_res_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_BOTH(test_status_alive_and_expired),
        PT_BOTH(test_status_committed),
        PT_BOTH(test_status_missing),
        PT_BOTH(test_status_pushes_min_commit_ts),
        PT_BOTH(test_status_raises_max_ts),
        PT_BOTH(test_status_verify_primary),
        PT_BOTH(test_status_pessimistic_primary),
        PT_BOTH(test_heart_beat),
        PT_BOTH(test_check_secondary_locks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
