/* test_percolator_prewrite.c -- prewrite (prewrite.c through txn_kv_prewrite) in both
 * layouts: the lock it writes (short, long and raw pending values), idempotent retries,
 * KeyIsLocked collected over mutations, WriteConflict against newer commits and raw
 * versions, SelfRolledBack after a rollback, Insert / CheckNotExists, assertions, the
 * WATCH check, skip_constraint_check, max_ts and request validation. */
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

static void test_prewrite_put_lock_fields(void **state)
{
    th *h = *state;
    must_prewrite_put_ttl(h, "k", V("v1"), "pk", 10, 1500, 11);
    pt_lock l;
    must_locked(h, "k", 10, &l);
    assert_int_equal(l.lock.type, KV_LOCK_PUT);
    assert_true(bs_slice_eq(l.lock.primary, pt_key("pk")));
    assert_int_equal(l.lock.ttl, 1500);
    assert_int_equal(l.lock.min_commit_ts, 11);
    if (pt_mode == KV_MODE_TXN) {
        assert_true(l.lock.has_short_value);
        assert_true(bs_slice_eq(l.lock.short_value, V("v1")));
        assert_false(l.lock.has_basalt_value);
    } else {
        /* 'r': the lock carries the RawKV value commit will write. */
        kv_raw_value v;
        assert_false(l.lock.has_short_value);
        assert_true(l.lock.has_basalt_value);
        assert_int_equal(kv_raw_value_decode(l.lock.basalt_value, &v, NULL), BS_OK);
        assert_true(bs_slice_eq(v.value, V("v1")));
        assert_false(v.has_expire);
    }
    assert_false(pt_has_default(h, "k", 10));
    must_get_no_write(h, "k", 10);
    pt_lock_free(&l);
}

static void test_prewrite_long_value(void **state)
{
    th *h = *state;
    bs_slice big = pt_long_value(KV_SHORT_VALUE_MAX + 1);
    must_prewrite_put(h, "k", big, "k", 10);
    pt_lock l;
    must_locked(h, "k", 10, &l);
    assert_false(l.lock.has_short_value);
    if (pt_mode == KV_MODE_TXN) {
        assert_true(pt_has_default(h, "k", 10)); /* TiKV: long values at key@start_ts */
    } else {
        assert_true(l.lock.has_basalt_value); /* any size, in Basalt's 'V' field */
        assert_false(pt_has_default(h, "k", 10));
    }
    pt_lock_free(&l);
    /* A value of exactly 255 bytes is still short in 'x'. */
    must_prewrite_put(h, "s", pt_long_value(KV_SHORT_VALUE_MAX), "s", 10);
    must_locked(h, "s", 10, &l);
    assert_int_equal(l.lock.has_short_value, pt_mode == KV_MODE_TXN);
    pt_lock_free(&l);
}

static void test_prewrite_raw_expiry_in_lock(void **state)
{
    th *h = *state;
    if (pt_mode != KV_MODE_RAW)
        return;
    txn_mutation m = pt_mut(TXN_OP_PUT, "k", V("v"));
    m.expire_ms = PT_NOW + 5000;
    txn_prewrite_req req = pt_req(&m, 1, "k", 10);
    pt_res r;
    pt_res_init(&r);
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
    pt_lock l;
    kv_raw_value v;
    must_locked(h, "k", 10, &l);
    assert_int_equal(kv_raw_value_decode(l.lock.basalt_value, &v, NULL), BS_OK);
    assert_true(v.has_expire);
    assert_int_equal(v.expire_ms, PT_NOW + 5000);
    pt_lock_free(&l);
}

static void test_prewrite_delete_and_lock_types(void **state)
{
    th *h = *state;
    pt_lock l;
    must_prewrite_delete(h, "d", "d", 10);
    must_locked(h, "d", 10, &l);
    assert_int_equal(l.lock.type, KV_LOCK_DELETE);
    assert_false(l.lock.has_basalt_value);
    pt_lock_free(&l);
    must_prewrite_lock(h, "l", "d", 10);
    must_locked(h, "l", 10, &l);
    assert_int_equal(l.lock.type, KV_LOCK_LOCK);
    pt_lock_free(&l);
}

static void test_prewrite_is_idempotent(void **state)
{
    th *h = *state;
    must_prewrite_put(h, "k", V("v"), "k", 10);
    size_t before = h->proposals;
    must_prewrite_put(h, "k", V("other"), "k", 10); /* a retry: the lock stays as it was */
    assert_int_equal(h->proposals, before);       /* nothing to write, nothing proposed */
    pt_lock l;
    must_locked(h, "k", 10, &l);
    assert_int_equal(l.lock.start_ts, 10);
    pt_lock_free(&l);
}

static void test_prewrite_key_is_locked_collects(void **state)
{
    th *h = *state;
    must_prewrite_put_ttl(h, "a", V("1"), "a", 5, 777, 0);
    must_prewrite_put(h, "b", V("2"), "a", 5);
    txn_mutation m[3] = {pt_mut(TXN_OP_PUT, "a", V("x")), pt_mut(TXN_OP_PUT, "c", V("x")),
                         pt_mut(TXN_OP_PUT, "b", V("x"))};
    txn_prewrite_req req = pt_req(m, 3, "c", 10);
    pt_res r;
    pt_res_init(&r);
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.n_errors, 2); /* both locks reported, so they resolve in one go */
    assert_int_equal(r.errors[0].kind, TXN_KEY_ERR_LOCKED);
    assert_int_equal(r.errors[1].kind, TXN_KEY_ERR_LOCKED);
    const txn_lock_info *li = &r.errors[0].lock;
    assert_true(bs_slice_eq(bs_buf_slice(&li->key), pt_key("a")));
    assert_true(bs_slice_eq(bs_buf_slice(&li->primary), pt_key("a")));
    assert_int_equal(li->lock_version, 5);
    assert_int_equal(li->lock_ttl, 777);
    assert_int_equal(li->lock_type, TXN_OP_PUT);
    assert_true(bs_slice_eq(bs_buf_slice(&r.errors[1].lock.key), pt_key("b")));
    pt_res_free(&r);
    must_unlocked(h, "c"); /* nothing of the failed request was written */
}

static void test_prewrite_write_conflict(void **state)
{
    th *h = *state;
    must_prewrite_put(h, "k", V("v1"), "k", 10);
    must_commit(h, "k", 10, 20);
    txn_key_error ke;
    txn_key_error_init(&ke);
    assert_int_equal(must_prewrite_put_err(h, "k", V("v2"), "pk", 15, &ke),
                     TXN_KEY_ERR_WRITE_CONFLICT);
    assert_int_equal(ke.start_ts, 15);
    assert_int_equal(ke.conflict_start_ts, 10);
    assert_int_equal(ke.conflict_commit_ts, 20);
    assert_int_equal(ke.reason, TXN_CONFLICT_OPTIMISTIC);
    assert_true(bs_slice_eq(bs_buf_slice(&ke.key), pt_key("k")));
    assert_true(bs_slice_eq(bs_buf_slice(&ke.primary), pt_key("pk")));
    txn_key_error_deinit(&ke);
    /* A later start_ts sees no conflict. */
    must_prewrite_put(h, "k", V("v2"), "k", 25);
    /* A rollback of another txn newer than start_ts conflicts too (optimistic). */
    must_rollback(h, "r", 30);
    assert_int_equal(must_prewrite_put_err(h, "r", V("v"), "r", 28, NULL),
                     TXN_KEY_ERR_WRITE_CONFLICT);
}

static void test_prewrite_self_rolled_back(void **state)
{
    th *h = *state;
    must_rollback(h, "k", 10); /* a resolver rolled the txn back before its prewrite */
    txn_key_error ke;
    txn_key_error_init(&ke);
    assert_int_equal(must_prewrite_put_err(h, "k", V("v"), "k", 10, &ke),
                     TXN_KEY_ERR_WRITE_CONFLICT);
    assert_int_equal(ke.reason, TXN_CONFLICT_SELF_ROLLED_BACK);
    assert_int_equal(ke.conflict_commit_ts, 10);
    txn_key_error_deinit(&ke);
    must_unlocked(h, "k");
}

static void test_prewrite_conflicts_with_raw_write(void **state)
{
    th *h = *state;
    if (pt_mode != KV_MODE_RAW)
        return;
    must_raw_put(h, "k", "raw", 0); /* ts from the harness TSO: > 1000 */
    txn_key_error ke;
    txn_key_error_init(&ke);
    assert_int_equal(must_prewrite_put_err(h, "k", V("v"), "k", 10, &ke),
                     TXN_KEY_ERR_WRITE_CONFLICT);
    assert_true(ke.conflict_commit_ts > 1000);
    assert_int_equal(ke.reason, TXN_CONFLICT_OPTIMISTIC);
    txn_key_error_deinit(&ke);
    /* skip_constraint_check is ignored for raw keys: a raw write is never overwritten
     * unseen. */
    txn_mutation m = pt_mut(TXN_OP_PUT, "k", V("v"));
    txn_prewrite_req req = pt_req(&m, 1, "k", 10);
    req.skip_constraint_check = true;
    pt_res r;
    pt_res_init(&r);
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 1);
    assert_int_equal(r.errors[0].kind, TXN_KEY_ERR_WRITE_CONFLICT);
    pt_res_free(&r);
    /* A start_ts above the raw version prewrites fine. */
    must_prewrite_put(h, "k", V("v"), "k", pt_ts(1, 0));
}

static void test_prewrite_skip_constraint_check(void **state)
{
    th *h = *state;
    if (pt_mode != KV_MODE_TXN)
        return;
    must_prewrite_put(h, "k", V("v1"), "k", 10);
    must_commit(h, "k", 10, 20);
    txn_mutation m = pt_mut(TXN_OP_PUT, "k", V("v2"));
    txn_prewrite_req req = pt_req(&m, 1, "k", 15);
    req.skip_constraint_check = true;
    pt_res r;
    pt_res_init(&r);
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
    must_locked(h, "k", 15, NULL);
}

static void test_prewrite_insert_and_check_not_exists(void **state)
{
    th *h = *state;
    txn_mutation ins = pt_mut(TXN_OP_INSERT, "k", V("v"));
    txn_mutation cne = pt_mut(TXN_OP_CHECK_NOT_EXISTS, "k", BS_SLICE_NULL);
    /* Absent: insert works; check-not-exists writes no lock. */
    txn_prewrite_req req = pt_req(&cne, 1, "k", 5);
    pt_res r;
    pt_res_init(&r);
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
    must_unlocked(h, "k");
    assert_true(txn_cm_max_ts(txn_store_cm(h->s)) >= 5); /* a check is a read at start_ts */
    req = pt_req(&ins, 1, "k", 10);
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
    must_commit(h, "k", 10, 11);
    /* Present: both fail with AlreadyExist. */
    txn_key_error ke;
    txn_key_error_init(&ke);
    ins = pt_mut(TXN_OP_INSERT, "k", V("v"));
    assert_int_equal(must_prewrite_mut_err(h, &ins, "k", 20, &ke), TXN_KEY_ERR_ALREADY_EXIST);
    assert_true(bs_slice_eq(bs_buf_slice(&ke.key), pt_key("k")));
    cne = pt_mut(TXN_OP_CHECK_NOT_EXISTS, "k", BS_SLICE_NULL);
    assert_int_equal(must_prewrite_mut_err(h, &cne, "k", 20, NULL), TXN_KEY_ERR_ALREADY_EXIST);
    txn_key_error_deinit(&ke);
    /* Deleted: absent again. A Lock record on top does not hide the older Put. */
    must_prewrite_lock(h, "k", "k", 21);
    must_commit(h, "k", 21, 22);
    ins = pt_mut(TXN_OP_INSERT, "k", V("v"));
    assert_int_equal(must_prewrite_mut_err(h, &ins, "k", 23, NULL), TXN_KEY_ERR_ALREADY_EXIST);
    must_prewrite_delete(h, "k", "k", 24);
    must_commit(h, "k", 24, 25);
    ins = pt_mut(TXN_OP_INSERT, "k", V("v"));
    req = pt_req(&ins, 1, "k", 26);
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
}

static void test_prewrite_insert_over_expired_raw(void **state)
{
    th *h = *state;
    if (pt_mode != KV_MODE_RAW)
        return;
    must_raw_put(h, "k", "v", 1000);
    txn_mutation ins = pt_mut(TXN_OP_INSERT, "k", V("n"));
    uint64_t start = pt_ts((uint64_t)PT_NOW, 0); /* above the raw version's ts */
    assert_int_equal(must_prewrite_mut_err(h, &ins, "k", start, NULL), TXN_KEY_ERR_ALREADY_EXIST);
    bs_clock_set_wall_override(PT_NOW + 1000); /* expired: Redis counts it absent */
    ins = pt_mut(TXN_OP_INSERT, "k", V("n"));
    txn_prewrite_req req = pt_req(&ins, 1, "k", start);
    pt_res r;
    pt_res_init(&r);
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
}

static void test_prewrite_assertions(void **state)
{
    th *h = *state;
    txn_mutation m = pt_mut(TXN_OP_PUT, "k", V("v"));
    m.assertion = TXN_ASSERT_EXIST;
    txn_prewrite_req req = pt_req(&m, 1, "k", 10);
    pt_res r;
    pt_res_init(&r);
    /* Level off: assertions are not checked (TiKV's default). */
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
    must_rollback(h, "k", 10);
    m = pt_mut(TXN_OP_PUT, "k", V("v"));
    m.assertion = TXN_ASSERT_EXIST;
    req = pt_req(&m, 1, "k", 11);
    req.assertion_level = TXN_ASSERT_FAST;
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 1);
    assert_int_equal(r.errors[0].kind, TXN_KEY_ERR_ASSERTION_FAILED);
    assert_int_equal(r.errors[0].assertion, TXN_ASSERT_EXIST);
    assert_int_equal(r.errors[0].start_ts, 11);
    pt_res_free(&r);
    must_prewrite_put(h, "k", V("v"), "k", 12);
    must_commit(h, "k", 12, 13);
    m = pt_mut(TXN_OP_PUT, "k", V("v"));
    m.assertion = TXN_ASSERT_NOT_EXIST;
    req = pt_req(&m, 1, "k", 14);
    req.assertion_level = TXN_ASSERT_STRICT;
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 1);
    assert_int_equal(r.errors[0].kind, TXN_KEY_ERR_ASSERTION_FAILED);
    assert_int_equal(r.errors[0].conflict_commit_ts, 13);
    pt_res_free(&r);
}

/* WATCH: the key may not change after the version seen at WATCH. */
static void test_prewrite_watch(void **state)
{
    th *h = *state;
    must_prewrite_put(h, "w", V("v1"), "w", 10);
    must_commit(h, "w", 10, 20);
    /* Watched at 20 (live), unchanged: a watch-only mutation passes and writes no lock. */
    txn_mutation m = pt_mut(TXN_OP_CHECK_NOT_MODIFIED, "w", BS_SLICE_NULL);
    m.watch = true;
    m.watch_ts = 20;
    m.watch_live = true;
    txn_prewrite_req req = pt_req(&m, 1, "w", 30);
    pt_res r;
    pt_res_init(&r);
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
    must_unlocked(h, "w");
    /* The same watch on a Put mutation writes the lock. */
    m.op = TXN_OP_PUT;
    m.value = V("v2");
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
    must_locked(h, "w", 30, NULL);
    must_rollback(h, "w", 30);
    /* Changed since the WATCH (watched at 15): conflict with reason WATCH. */
    txn_key_error ke;
    txn_key_error_init(&ke);
    m = pt_mut(TXN_OP_CHECK_NOT_MODIFIED, "w", BS_SLICE_NULL);
    m.watch = true;
    m.watch_ts = 15;
    assert_int_equal(must_prewrite_mut_err(h, &m, "w", 40, &ke), TXN_KEY_ERR_WRITE_CONFLICT);
    assert_int_equal(ke.reason, TXN_CONFLICT_WATCH);
    assert_int_equal(ke.conflict_commit_ts, 20);
    txn_key_error_deinit(&ke);
    /* A foreign lock on a watched key is KeyIsLocked, as for any mutation. */
    must_prewrite_put(h, "w", V("v3"), "w", 41);
    m = pt_mut(TXN_OP_CHECK_NOT_MODIFIED, "w", BS_SLICE_NULL);
    m.watch = true;
    m.watch_ts = 20;
    m.watch_live = true;
    assert_int_equal(must_prewrite_mut_err(h, &m, "w", 42, NULL), TXN_KEY_ERR_LOCKED);
}

static void test_prewrite_watch_expired_since(void **state)
{
    th *h = *state;
    if (pt_mode != KV_MODE_RAW)
        return;
    must_raw_put(h, "w", "v", 500);
    txn_kv_pair p;
    txn_kv_pair_init(&p);
    txn_read_opts o = {.read_ts = pt_ts((uint64_t)PT_NOW, 0)};
    txn_error e;
    assert_int_equal(txn_kv_get(h->s, pt_key("w"), &o, &p, &e), BS_OK);
    uint64_t seen = p.commit_ts; /* what WATCH records */
    txn_kv_pair_deinit(&p);
    txn_mutation m = pt_mut(TXN_OP_CHECK_NOT_MODIFIED, "w", BS_SLICE_NULL);
    m.watch = true;
    m.watch_ts = seen;
    m.watch_live = true;
    uint64_t start = pt_ts((uint64_t)PT_NOW + 1, 0);
    txn_prewrite_req req = pt_req(&m, 1, "w", start);
    pt_res r;
    pt_res_init(&r);
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
    bs_clock_set_wall_override(PT_NOW + 500); /* expired since the WATCH */
    txn_key_error ke;
    txn_key_error_init(&ke);
    assert_int_equal(must_prewrite_mut_err(h, &m, "w", start, &ke), TXN_KEY_ERR_WRITE_CONFLICT);
    assert_int_equal(ke.reason, TXN_CONFLICT_WATCH);
    txn_key_error_deinit(&ke);
    /* Watched while already expired (not live): fine. */
    m.watch_live = false;
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
}

static void test_prewrite_over_pessimistic_lock(void **state)
{
    th *h = *state;
    pt_put_pessimistic_lock(h, "k", 10, 0);
    assert_int_equal(must_prewrite_put_err(h, "k", V("v"), "k", 10, NULL), TXN_KEY_ERR_ABORT);
    /* Another txn sees it as a lock. */
    assert_int_equal(must_prewrite_put_err(h, "k", V("v"), "k", 11, NULL), TXN_KEY_ERR_LOCKED);
}

static void expect_invalid(th *h, const txn_prewrite_req *req, txn_error_kind kind)
{
    pt_res r;
    pt_res_init(&r);
    txn_kv_prewrite(h->s, req, pt_cb, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_EINVAL);
    assert_int_equal(r.kind, kind);
    pt_res_free(&r);
}

static void test_prewrite_validation(void **state)
{
    th *h = *state;
    size_t proposals = h->proposals;
    txn_mutation m = pt_mut(TXN_OP_PUT, "k", V("v"));
    txn_prewrite_req req = pt_req(&m, 1, "k", 10);
    req.n_mutations = 0;
    expect_invalid(h, &req, TXN_ERR_INVALID_ARGUMENT);
    req = pt_req(&m, 1, "k", 0);
    expect_invalid(h, &req, TXN_ERR_INVALID_ARGUMENT);
    /* A key outside 'r'/'x', and mixed modes. */
    txn_mutation bad = m;
    bad.key = bs_slice_make("z\0\0\0k", 5);
    req = pt_req(&bad, 1, "k", 10);
    expect_invalid(h, &req, TXN_ERR_INVALID_KEY_MODE);
    bad.key = bs_slice_make(pt_mode == KV_MODE_RAW ? "x\0\0\0k" : "r\0\0\0k", 5);
    req = pt_req(&bad, 1, "k", 10);
    expect_invalid(h, &req, TXN_ERR_INVALID_KEY_MODE);
    /* Expiry only on raw puts; watch-only needs watch. */
    txn_mutation e = pt_mut(pt_mode == KV_MODE_RAW ? TXN_OP_DEL : TXN_OP_PUT, "k", V("v"));
    e.expire_ms = 5;
    req = pt_req(&e, 1, "k", 10);
    expect_invalid(h, &req, TXN_ERR_INVALID_ARGUMENT);
    txn_mutation w = pt_mut(TXN_OP_CHECK_NOT_MODIFIED, "k", BS_SLICE_NULL);
    req = pt_req(&w, 1, "k", 10);
    expect_invalid(h, &req, TXN_ERR_INVALID_ARGUMENT);
    txn_mutation pl = pt_mut(TXN_OP_PESSIMISTIC_LOCK, "k", BS_SLICE_NULL);
    req = pt_req(&pl, 1, "k", 10);
    expect_invalid(h, &req, TXN_ERR_INVALID_ARGUMENT);
    txn_mutation twice[3] = {pt_mut(TXN_OP_PUT, "k", V("1")), pt_mut(TXN_OP_PUT, "j", V("2")),
                             pt_mut(TXN_OP_DEL, "k", V(""))};
    req = pt_req(twice, 3, "k", 10);
    expect_invalid(h, &req, TXN_ERR_INVALID_ARGUMENT);
    assert_int_equal(h->proposals, proposals);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_BOTH(test_prewrite_put_lock_fields),
        PT_BOTH(test_prewrite_long_value),
        PT_BOTH(test_prewrite_raw_expiry_in_lock),
        PT_BOTH(test_prewrite_delete_and_lock_types),
        PT_BOTH(test_prewrite_is_idempotent),
        PT_BOTH(test_prewrite_key_is_locked_collects),
        PT_BOTH(test_prewrite_write_conflict),
        PT_BOTH(test_prewrite_self_rolled_back),
        PT_BOTH(test_prewrite_conflicts_with_raw_write),
        PT_BOTH(test_prewrite_skip_constraint_check),
        PT_BOTH(test_prewrite_insert_and_check_not_exists),
        PT_BOTH(test_prewrite_insert_over_expired_raw),
        PT_BOTH(test_prewrite_assertions),
        PT_BOTH(test_prewrite_watch),
        PT_BOTH(test_prewrite_watch_expired_since),
        PT_BOTH(test_prewrite_over_pessimistic_lock),
        PT_BOTH(test_prewrite_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
