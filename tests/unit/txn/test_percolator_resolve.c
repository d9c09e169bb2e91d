/* test_percolator_resolve.c -- KvScanLock and KvResolveLock in both layouts: scan by
 * max_version, range and limit; resolving a txn's locks over a range by commit or rollback
 * (other txns untouched), several txns at once, more locks than one batch, the keys-only
 * form, and invalid txn tso. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txn/percolator_helpers.h"
#include "txn/txn_int.h"

#define V(s) bs_slice_from_str(s)

static void scan_lock(th *h, uint64_t max_version, const char *start, const char *end,
                      uint32_t limit, txn_lock_infos *out)
{
    txn_error e;
    txn_lock_infos_free(out);
    assert_int_equal(txn_kv_scan_lock(h->s, max_version, start ? pt_key(start) : BS_SLICE_NULL,
                                      end ? pt_key(end) : BS_SLICE_NULL, limit, out, &e),
                     BS_OK);
}

static void test_scan_lock(void **state)
{
    th *h = *state;
    txn_lock_infos l;
    txn_lock_infos_init(&l);
    must_prewrite_put(h, "a", V("1"), "a", 10);
    must_prewrite_put(h, "b", V("2"), "b", 20);
    must_prewrite_delete(h, "c", "a", 10);
    must_prewrite_lock(h, "d", "d", 30);
    scan_lock(h, 100, NULL, NULL, 0, &l);
    assert_int_equal(l.n, 4);
    assert_true(bs_slice_eq(bs_buf_slice(&l.v[0].key), pt_key("a")));
    assert_int_equal(l.v[2].lock_type, TXN_OP_DEL);
    assert_true(bs_slice_eq(bs_buf_slice(&l.v[2].primary), pt_key("a")));
    assert_int_equal(l.v[3].lock_type, TXN_OP_LOCK);
    assert_true(txn_cm_max_ts(txn_store_cm(h->s)) >= 100);
    scan_lock(h, 20, NULL, NULL, 0, &l); /* ts <= max_version */
    assert_int_equal(l.n, 3);
    scan_lock(h, 10, NULL, NULL, 0, &l);
    assert_int_equal(l.n, 2);
    scan_lock(h, 100, "b", "d", 0, &l); /* [b, d) */
    assert_int_equal(l.n, 2);
    assert_true(bs_slice_eq(bs_buf_slice(&l.v[0].key), pt_key("b")));
    scan_lock(h, 100, NULL, NULL, 3, &l);
    assert_int_equal(l.n, 3);
    scan_lock(h, 5, NULL, NULL, 0, &l);
    assert_int_equal(l.n, 0);
    txn_lock_infos_free(&l);
}

static void resolve(th *h, const txn_resolve_txn *txns, size_t n, const char *start,
                    const char *end, pt_res *r)
{
    txn_resolve_lock_req req = {
        .txns = txns,
        .n_txns = n,
        .start = start ? pt_key(start) : BS_SLICE_NULL,
        .end = end ? pt_key(end) : BS_SLICE_NULL,
    };
    pt_res_free(r);
    txn_kv_resolve_lock(h->s, &req, pt_cb, r);
    assert_int_equal(r->calls, 1);
    assert_int_equal(r->code, BS_OK);
}

static void test_resolve_commit_and_rollback(void **state)
{
    th *h = *state;
    pt_res r;
    pt_res_init(&r);
    must_prewrite_put(h, "a", V("1"), "a", 10);
    must_prewrite_put(h, "b", V("2"), "a", 10);
    must_prewrite_put(h, "c", V("3"), "c", 11);
    must_prewrite_put(h, "d", V("4"), "a", 10);
    txn_resolve_txn t = {10, 15};
    resolve(h, &t, 1, NULL, NULL, &r);
    assert_int_equal(r.n_errors, 0);
    must_written(h, "a", 10, 15, KV_WRITE_PUT);
    must_written(h, "b", 10, 15, KV_WRITE_PUT);
    must_written(h, "d", 10, 15, KV_WRITE_PUT);
    must_unlocked(h, "a");
    must_locked(h, "c", 11, NULL); /* another txn: untouched */
    must_get(h, "b", 15, V("2"));
    /* Roll back txn 11 in [b, z). */
    txn_resolve_txn t2 = {11, 0};
    resolve(h, &t2, 1, "b", "z", &r);
    assert_int_equal(r.n_errors, 0);
    must_unlocked(h, "c");
    must_get_rollback(h, "c", 11, true); /* c is its own primary: protected */
    pt_res_free(&r);
}

static void test_resolve_several_txns_and_range(void **state)
{
    th *h = *state;
    pt_res r;
    pt_res_init(&r);
    must_prewrite_put(h, "a", V("1"), "a", 10);
    must_prewrite_put(h, "b", V("2"), "b", 20);
    must_prewrite_put(h, "c", V("3"), "c", 30);
    must_prewrite_put(h, "e", V("5"), "a", 10);
    txn_resolve_txn t[3] = {{10, 12}, {20, 0}, {30, 31}};
    resolve(h, t, 3, "a", "d", &r); /* e is outside the range */
    assert_int_equal(r.n_errors, 0);
    must_written(h, "a", 10, 12, KV_WRITE_PUT);
    must_get_rollback(h, "b", 20, true);
    must_written(h, "c", 30, 31, KV_WRITE_PUT);
    must_locked(h, "e", 10, NULL);
    /* Nothing left to resolve: answered without writing. */
    size_t before = h->proposals;
    resolve(h, t, 3, "a", "d", &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(h->proposals, before);
    pt_res_free(&r);
}

static void test_resolve_more_than_a_batch(void **state)
{
    th *h = *state;
    enum { N = TXN_RESOLVE_BATCH * 2 + 7 };
    char name[16];
    txn_mutation *m = calloc(N, sizeof(*m));
    bs_buf *keys = calloc(N, sizeof(bs_buf));
    for (size_t i = 0; i < N; i++) {
        snprintf(name, sizeof name, "k%05zu", i);
        kv_key_v2_append(&keys[i], pt_mode, 0, bs_slice_from_str(name));
        m[i].op = TXN_OP_PUT;
        m[i].key = bs_buf_slice(&keys[i]);
        m[i].value = V("v");
    }
    txn_prewrite_req req = pt_req(m, N, "k00000", 10);
    pt_res r;
    pt_res_init(&r);
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    size_t before = h->proposals;
    txn_resolve_txn t = {10, 11};
    resolve(h, &t, 1, NULL, NULL, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(h->proposals - before, 3); /* one batch per TXN_RESOLVE_BATCH keys */
    txn_lock_infos l;
    txn_lock_infos_init(&l);
    scan_lock(h, UINT64_MAX - 1, NULL, NULL, 0, &l);
    assert_int_equal(l.n, 0);
    txn_lock_infos_free(&l);
    must_get(h, "k00300", 11, V("v"));
    pt_res_free(&r);
    for (size_t i = 0; i < N; i++)
        bs_buf_free(&keys[i]);
    free(keys);
    free(m);
}

static void test_resolve_keys_only(void **state)
{
    th *h = *state;
    pt_res r;
    pt_res_init(&r);
    must_prewrite_put(h, "a", V("1"), "a", 10);
    must_prewrite_put(h, "b", V("2"), "a", 10);
    bs_slice keys[2] = {pt_key("b"), pt_key("zz")};
    txn_resolve_txn t = {10, 0};
    txn_resolve_lock_req req = {.txns = &t, .n_txns = 1, .keys = keys, .n_keys = 2};
    txn_kv_resolve_lock(h->s, &req, pt_cb, &r);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.n_errors, 0);
    must_unlocked(h, "b");
    must_get_rollback(h, "b", 10, false);
    must_get_rollback(h, "zz", 10, false); /* a tombstone for a key it never locked */
    must_locked(h, "a", 10, NULL);         /* not listed */
    /* The keys form takes exactly one txn. */
    txn_resolve_txn two[2] = {{10, 0}, {11, 0}};
    req.txns = two;
    req.n_txns = 2;
    pt_res_free(&r);
    txn_kv_resolve_lock(h->s, &req, pt_cb, &r);
    assert_int_equal(r.code, BS_EINVAL);
    pt_res_free(&r);
}

static void test_resolve_invalid_tso(void **state)
{
    th *h = *state;
    pt_res r;
    pt_res_init(&r);
    must_prewrite_put(h, "a", V("1"), "a", 10);
    txn_resolve_txn t = {10, 10};
    resolve(h, &t, 1, NULL, NULL, &r);
    assert_int_equal(r.n_errors, 1);
    assert_int_equal(r.errors[0].kind, TXN_KEY_ERR_ABORT);
    must_locked(h, "a", 10, NULL);
    /* Committing a txn that was rolled back in the meantime: TxnLockNotFound. */
    must_rollback(h, "a", 10);
    bs_slice k = pt_key("a");
    txn_resolve_txn c = {10, 12};
    txn_resolve_lock_req req = {.txns = &c, .n_txns = 1, .keys = &k, .n_keys = 1};
    pt_res_free(&r);
    txn_kv_resolve_lock(h->s, &req, pt_cb, &r);
    assert_int_equal(r.n_errors, 1);
    assert_int_equal(r.errors[0].kind, TXN_KEY_ERR_TXN_LOCK_NOT_FOUND);
    pt_res_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_BOTH(test_scan_lock),
        PT_BOTH(test_resolve_commit_and_rollback),
        PT_BOTH(test_resolve_several_txns_and_range),
        PT_BOTH(test_resolve_more_than_a_batch),
        PT_BOTH(test_resolve_keys_only),
        PT_BOTH(test_resolve_invalid_tso),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
