/* test_rmw_apply.c -- what MULTI/EXEC needs from the store side: txn_rmw_apply, the
 * read-modify-writes of rmw.c over a transaction's view of a key (same values, TTLs, replies
 * and Redis error texts as txn_raw_rmw), and the expiry txn_kv_get reports for RawKV keys
 * (from a raw write, a committed transaction, and a committed lock's pending value), which
 * TTL, PTTL and KEEPTTL inside EXEC read. */
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

static txn_rmw_params P(txn_rmw_op op)
{
    txn_rmw_params p;
    memset(&p, 0, sizeof(p));
    p.op = op;
    return p;
}

/* Applies p to (exists, value, expire) at PT_NOW; returns the code. */
static int apply(const txn_rmw_params *p, const char *value, uint64_t expire_ms,
                 txn_rmw_outcome *out, txn_error *e)
{
    txn_error_clear(e);
    return txn_rmw_apply(p, value != NULL, value ? V(value) : BS_SLICE_NULL, expire_ms,
                         PT_NOW, out, e);
}

static void assert_put(const txn_rmw_outcome *o, const char *value, uint64_t expire_ms)
{
    assert_int_equal(o->write, TXN_RMW_WRITE_PUT);
    assert_buf_eq(&o->value, value);
    assert_int_equal(o->expire_ms, expire_ms);
}

static void test_incr_keeps_ttl(void **state)
{
    txn_rmw_outcome o;
    txn_error e;
    txn_rmw_outcome_init(&o);
    txn_rmw_params p = P(TXN_RMW_INCRBY);
    p.incr = 5;
    assert_int_equal(apply(&p, "10", PT_NOW + 1000, &o, &e), BS_OK);
    assert_put(&o, "15", PT_NOW + 1000);
    assert_int_equal(o.r.integer, 15);
    assert_int_equal(apply(&p, NULL, 0, &o, &e), BS_OK); /* absent counts as 0 */
    assert_put(&o, "5", 0);
    assert_int_not_equal(apply(&p, "abc", 0, &o, &e), BS_OK);
    assert_int_equal(e.kind, TXN_ERR_NOT_INTEGER);
    assert_string_equal(e.msg, "value is not an integer or out of range");
    assert_int_equal(o.write, TXN_RMW_WRITE_NONE);
    p.incr = 1;
    assert_int_not_equal(apply(&p, "9223372036854775807", 0, &o, &e), BS_OK);
    assert_string_equal(e.msg, "increment or decrement would overflow");
    txn_rmw_outcome_free(&o);
}

static void test_incrbyfloat_and_append(void **state)
{
    txn_rmw_outcome o;
    txn_error e;
    txn_rmw_outcome_init(&o);
    txn_rmw_params p = P(TXN_RMW_INCRBYFLOAT);
    p.arg = V("0.1");
    assert_int_equal(apply(&p, "10.5", 0, &o, &e), BS_OK);
    assert_put(&o, "10.6", 0);
    assert_buf_eq(&o.r.new_value, "10.6");
    p = P(TXN_RMW_APPEND);
    p.arg = V("def");
    assert_int_equal(apply(&p, "abc", PT_NOW + 5, &o, &e), BS_OK);
    assert_put(&o, "abcdef", PT_NOW + 5);
    assert_int_equal(o.r.integer, 6);
    txn_rmw_outcome_free(&o);
}

static void test_set_flags(void **state)
{
    txn_rmw_outcome o;
    txn_error e;
    txn_rmw_outcome_init(&o);
    txn_rmw_params p = P(TXN_RMW_SET);
    p.arg = V("new");
    p.flags = TXN_SET_KEEPTTL | TXN_SET_GET;
    assert_int_equal(apply(&p, "old", PT_NOW + 77, &o, &e), BS_OK);
    assert_put(&o, "new", PT_NOW + 77);
    assert_true(o.r.old_exists);
    assert_buf_eq(&o.r.old_value, "old");
    p.flags = TXN_SET_NX;
    assert_int_equal(apply(&p, "old", 0, &o, &e), BS_OK);
    assert_int_equal(o.write, TXN_RMW_WRITE_NONE);
    assert_false(o.r.applied);
    p.flags = TXN_SET_XX;
    assert_int_equal(apply(&p, NULL, 0, &o, &e), BS_OK);
    assert_int_equal(o.write, TXN_RMW_WRITE_NONE);
    p.flags = 0; /* a plain SET drops the TTL */
    assert_int_equal(apply(&p, "old", PT_NOW + 77, &o, &e), BS_OK);
    assert_put(&o, "new", 0);
    p.has_expire = true; /* an expiry already past deletes */
    p.expire_at_ms = PT_NOW - 1;
    assert_int_equal(apply(&p, "old", 0, &o, &e), BS_OK);
    assert_int_equal(o.write, TXN_RMW_WRITE_DELETE);
    p.flags = TXN_SET_NX | TXN_SET_XX;
    assert_int_not_equal(apply(&p, "old", 0, &o, &e), BS_OK);
    assert_string_equal(e.msg, "syntax error");
    txn_rmw_outcome_free(&o);
}

static void test_expire_persist_getex(void **state)
{
    txn_rmw_outcome o;
    txn_error e;
    txn_rmw_outcome_init(&o);
    txn_rmw_params p = P(TXN_RMW_EXPIRE);
    p.has_expire = true;
    p.expire_at_ms = PT_NOW + 500;
    p.flags = TXN_EXPIRE_GT; /* no TTL is an infinite one: GT refuses */
    assert_int_equal(apply(&p, "v", 0, &o, &e), BS_OK);
    assert_false(o.r.applied);
    p.flags = TXN_EXPIRE_LT;
    assert_int_equal(apply(&p, "v", 0, &o, &e), BS_OK);
    assert_true(o.r.applied);
    assert_put(&o, "v", PT_NOW + 500);
    p.flags = 0;
    assert_int_equal(apply(&p, NULL, 0, &o, &e), BS_OK); /* missing key: 0 */
    assert_false(o.r.applied);
    p = P(TXN_RMW_PERSIST);
    assert_int_equal(apply(&p, "v", PT_NOW + 9, &o, &e), BS_OK);
    assert_true(o.r.applied);
    assert_put(&o, "v", 0);
    assert_int_equal(apply(&p, "v", 0, &o, &e), BS_OK);
    assert_false(o.r.applied);
    assert_int_equal(o.write, TXN_RMW_WRITE_NONE);
    p = P(TXN_RMW_GETEX);
    p.flags = TXN_GETEX_PERSIST;
    assert_int_equal(apply(&p, "v", PT_NOW + 9, &o, &e), BS_OK);
    assert_buf_eq(&o.r.old_value, "v");
    assert_put(&o, "v", 0);
    p = P(TXN_RMW_GETDEL);
    assert_int_equal(apply(&p, "v", 0, &o, &e), BS_OK);
    assert_int_equal(o.write, TXN_RMW_WRITE_DELETE);
    txn_rmw_outcome_free(&o);
}

/* ---- expiry through txn_kv_get ---------------------------------------------------------- */

static uint64_t expire_of(th *h, const char *key, uint64_t read_ts, const uint64_t *committed,
                          size_t n_committed)
{
    txn_kv_pair pair;
    txn_error e;
    txn_read_opts o = {.read_ts = read_ts, .committed_locks = committed,
                       .n_committed = n_committed};
    txn_kv_pair_init(&pair);
    assert_int_equal(txn_kv_get(h->s, pt_key(key), &o, &pair, &e), BS_OK);
    uint64_t exp = pair.expire_ms;
    txn_kv_pair_deinit(&pair);
    return exp;
}

static void test_kv_get_reports_expiry(void **state)
{
    th *h = *state;
    th_res r;
    th_res_init(&r);
    txn_raw_put(h->s, pt_key("raw"), V("v"), 5000, th_cb, &r); /* TTL 5 s from PT_NOW */
    uint64_t ts = r.ts;
    th_res_free(&r);
    txn_raw_put(h->s, pt_key("plain"), V("v"), 0, th_cb, &r);
    th_res_free(&r);
    assert_int_equal(expire_of(h, "raw", ts + 10, NULL, 0), PT_NOW + 5000);
    assert_int_equal(expire_of(h, "plain", ts + 10, NULL, 0), 0);
    /* a transaction's put with an absolute expiry, committed */
    txn_mutation m = pt_mut(TXN_OP_PUT, "txn", V("tv"));
    m.expire_ms = PT_NOW + 7000;
    txn_prewrite_req req = pt_req(&m, 1, "txn", ts + 20);
    pt_res pr;
    pt_res_init(&pr);
    pt_prewrite(h, &req, &pr);
    assert_int_equal(pr.code, BS_OK);
    assert_int_equal(pr.n_errors, 0);
    pt_res_free(&pr);
    /* its lock's pending value, read as committed (Context.committed_locks) */
    uint64_t start = ts + 20;
    assert_int_equal(expire_of(h, "txn", ts + 30, &start, 1), PT_NOW + 7000);
    must_commit(h, "txn", ts + 20, ts + 21);
    assert_int_equal(expire_of(h, "txn", ts + 30, NULL, 0), PT_NOW + 7000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incr_keeps_ttl),
        cmocka_unit_test(test_incrbyfloat_and_append),
        cmocka_unit_test(test_set_flags),
        cmocka_unit_test(test_expire_persist_getex),
        cmocka_unit_test_setup_teardown(test_kv_get_reports_expiry, pt_setup_raw, pt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
