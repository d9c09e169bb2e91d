/* test_rmw.c -- the single-key read-modify-writes against Redis 7's semantics (INCRBY
 * overflow and parsing, INCRBYFLOAT formatting, APPEND, SETRANGE padding and limits, GETSET,
 * GETDEL, GETEX PERSIST, SETNX, SET flags, EXPIRE NX/XX/GT/LT, PERSIST), and chaining: a hot
 * key's successive RMWs read the pending value and propose behind it, a failed proposal
 * fails the chain with its own code (so a region error tells the client the chained
 * commands never applied either), also when the failure lands while a chained command is
 * between reading and proposing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "txn/harness.h"
#include "txn/txn_int.h"


static txn_rmw_params P(txn_rmw_op op)
{
    txn_rmw_params p;
    memset(&p, 0, sizeof(p));
    p.op = op;
    return p;
}

static uint64_t ttl_of(th *h, const char *key, int *rc)
{
    bs_buf k = BS_BUF_INIT;
    uint64_t ttl = 0;
    txn_error e;
    *rc = txn_raw_get_key_ttl(h->s, th_key(&k, key), 0, &ttl, &e);
    bs_buf_free(&k);
    return ttl;
}

static void test_incrby(void **state)
{
    th *h = *state;
    th_res r;
    txn_rmw_params p = P(TXN_RMW_INCRBY);
    th_res_init(&r);
    p.incr = 5;
    must_rmw(h, "n", &p, &r); /* absent counts as 0 */
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.integer, 5);
    must_raw_get(h, "n", "5");
    p.incr = -7;
    must_rmw(h, "n", &p, &r);
    assert_int_equal(r.integer, -2);
    must_raw_get(h, "n", "-2");
    must_raw_put(h, "big", "9223372036854775807", 0);
    p.incr = 1;
    must_rmw(h, "big", &p, &r);
    assert_int_equal(r.code, BS_ERANGE);
    assert_int_equal(r.kind, TXN_ERR_OVERFLOW);
    assert_string_equal(r.msg, "increment or decrement would overflow");
    must_raw_put(h, "small", "-9223372036854775808", 0);
    p.incr = -1;
    must_rmw(h, "small", &p, &r);
    assert_int_equal(r.kind, TXN_ERR_OVERFLOW);
    const char *bad[] = {"abc", " 1", "1 ", "+1", "01", "-0", "", "1.5",
                         "9223372036854775808", "-9223372036854775809"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        must_raw_put(h, "s", bad[i], 0);
        p.incr = 1;
        must_rmw(h, "s", &p, &r);
        assert_int_equal(r.kind, TXN_ERR_NOT_INTEGER);
        assert_string_equal(r.msg, "value is not an integer or out of range");
        must_raw_get(h, "s", bad[i]);
    }
    /* INCR keeps the TTL */
    must_raw_put(h, "t", "1", 10000);
    must_rmw(h, "t", &p, &r);
    int rc;
    assert_int_equal(ttl_of(h, "t", &rc), 10000);
    th_res_free(&r);
}

static void incrbyfloat(th *h, const char *key, const char *by, th_res *r)
{
    txn_rmw_params p = P(TXN_RMW_INCRBYFLOAT);
    p.arg = th_s(by);
    must_rmw(h, key, &p, r);
}

static void test_incrbyfloat(void **state)
{
    th *h = *state;
    th_res r;
    th_res_init(&r);
    must_raw_put(h, "f", "10", 0);
    incrbyfloat(h, "f", "0.5", &r);
    assert_int_equal(r.code, BS_OK);
    assert_buf_eq(&r.new_value, "10.5");
    must_raw_get(h, "f", "10.5");
    must_raw_put(h, "g", "5.0e3", 0);
    incrbyfloat(h, "g", "0", &r);
    assert_buf_eq(&r.new_value, "5000");
    incrbyfloat(h, "h", "3.0e3", &r); /* absent: 0 + 3000 */
    assert_buf_eq(&r.new_value, "3000");
    incrbyfloat(h, "h", "-3000", &r);
    assert_buf_eq(&r.new_value, "0");
    must_raw_put(h, "x", "1.1", 0);
    incrbyfloat(h, "x", "2.2", &r);
    assert_buf_eq(&r.new_value, "3.3"); /* long double keeps decimal-looking results */
    incrbyfloat(h, "x", "abc", &r);
    assert_int_equal(r.kind, TXN_ERR_NOT_FLOAT);
    assert_string_equal(r.msg, "value is not a valid float");
    must_raw_put(h, "y", "nope", 0);
    incrbyfloat(h, "y", "1", &r);
    assert_int_equal(r.kind, TXN_ERR_NOT_FLOAT);
    must_raw_put(h, "y", " 1", 0);
    incrbyfloat(h, "y", "1", &r);
    assert_int_equal(r.kind, TXN_ERR_NOT_FLOAT);
    incrbyfloat(h, "x", "nan", &r);
    assert_int_equal(r.kind, TXN_ERR_NOT_FLOAT);
    incrbyfloat(h, "x", "inf", &r);
    assert_int_equal(r.kind, TXN_ERR_NAN_OR_INF);
    assert_string_equal(r.msg, "increment would produce NaN or Infinity");
    must_raw_get(h, "x", "3.3");
    th_res_free(&r);
}

static void test_append_setrange(void **state)
{
    th *h = *state;
    th_res r;
    txn_rmw_params p = P(TXN_RMW_APPEND);
    th_res_init(&r);
    p.arg = th_s("Hello");
    must_rmw(h, "a", &p, &r);
    assert_int_equal(r.integer, 5);
    p.arg = th_s(" World");
    must_rmw(h, "a", &p, &r);
    assert_int_equal(r.integer, 11);
    must_raw_get(h, "a", "Hello World");

    p = P(TXN_RMW_SETRANGE);
    p.offset = 6;
    p.arg = th_s("Redis");
    must_rmw(h, "a", &p, &r);
    assert_int_equal(r.integer, 11);
    must_raw_get(h, "a", "Hello Redis");
    /* padding with zero bytes on an absent key */
    p.offset = 3;
    p.arg = th_s("ab");
    must_rmw(h, "pad", &p, &r);
    assert_int_equal(r.integer, 5);
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    txn_error e;
    assert_int_equal(txn_raw_get(h->s, th_key(&k, "pad"), 0, &v, &e), BS_OK);
    assert_int_equal(v.len, 5);
    assert_memory_equal(v.ptr, "\0\0\0ab", 5);
    /* empty value: reply the length, write nothing */
    p.arg = th_s("");
    p.offset = 100;
    must_rmw(h, "pad", &p, &r);
    assert_int_equal(r.integer, 5);
    must_rmw(h, "none", &p, &r);
    assert_int_equal(r.integer, 0);
    must_not_found(h, "none");
    /* 512 MB limit */
    p.arg = th_s("x");
    p.offset = TXN_PROTO_MAX_BULK_LEN;
    must_rmw(h, "pad", &p, &r);
    assert_int_equal(r.kind, TXN_ERR_STRING_TOO_LONG);
    assert_string_equal(r.msg, "string exceeds maximum allowed size (proto-max-bulk-len)");
    p.offset = TXN_PROTO_MAX_BULK_LEN - 1; /* exactly 512 MB is allowed; check the rule only */
    txn_cur cur;
    txn_write w;
    txn_rmw_result rr;
    txn_cur_init(&cur);
    txn_write_init(&w);
    txn_rmw_result_init(&rr);
    p.op = TXN_RMW_APPEND;
    cur.exists = true;
    bs_buf_set(&cur.value, "abc", 3);
    p.arg = bs_slice_make(v.ptr, 0);
    assert_int_equal(txn_rmw_eval(&p, &cur, TH_NOW, &w, &rr, &e), BS_OK);
    txn_cur_deinit(&cur);
    txn_write_deinit(&w);
    txn_rmw_result_deinit(&rr);
    bs_buf_free(&k);
    bs_buf_free(&v);
    th_res_free(&r);
}

static void test_getset_getdel_getex(void **state)
{
    th *h = *state;
    th_res r;
    int rc;
    txn_rmw_params p = P(TXN_RMW_GETSET);
    th_res_init(&r);
    p.arg = th_s("new");
    must_rmw(h, "k", &p, &r);
    assert_false(r.old_exists);
    must_raw_put(h, "k", "old", 5000);
    must_rmw(h, "k", &p, &r);
    assert_true(r.old_exists);
    assert_buf_eq(&r.old_value, "old");
    must_raw_get(h, "k", "new");
    assert_int_equal(ttl_of(h, "k", &rc), 0); /* GETSET clears the TTL */

    p = P(TXN_RMW_GETEX);
    p.has_expire = true;
    p.expire_at_ms = TH_NOW + 3000;
    must_rmw(h, "k", &p, &r);
    assert_buf_eq(&r.old_value, "new");
    assert_int_equal(ttl_of(h, "k", &rc), 3000);
    p = P(TXN_RMW_GETEX);
    p.flags = TXN_GETEX_PERSIST;
    must_rmw(h, "k", &p, &r);
    assert_buf_eq(&r.old_value, "new");
    assert_int_equal(ttl_of(h, "k", &rc), 0);
    assert_int_equal(rc, BS_OK);
    p = P(TXN_RMW_GETEX); /* plain GETEX: just a get */
    must_rmw(h, "k", &p, &r);
    assert_buf_eq(&r.old_value, "new");
    p.has_expire = true;
    p.expire_at_ms = TH_NOW - 1; /* in the past: deleted, old value returned */
    must_rmw(h, "k", &p, &r);
    assert_buf_eq(&r.old_value, "new");
    must_not_found(h, "k");
    p.flags = TXN_GETEX_PERSIST;
    must_rmw(h, "k", &p, &r);
    assert_int_equal(r.kind, TXN_ERR_SYNTAX);

    p = P(TXN_RMW_GETDEL);
    must_raw_put(h, "d", "v", 0);
    must_rmw(h, "d", &p, &r);
    assert_buf_eq(&r.old_value, "v");
    must_not_found(h, "d");
    must_rmw(h, "d", &p, &r);
    assert_false(r.old_exists);
    th_res_free(&r);
}

static void test_set_flags(void **state)
{
    th *h = *state;
    th_res r;
    int rc;
    txn_rmw_params p = P(TXN_RMW_SETNX);
    th_res_init(&r);
    p.arg = th_s("1");
    must_rmw(h, "nx", &p, &r);
    assert_true(r.applied);
    p.arg = th_s("2");
    must_rmw(h, "nx", &p, &r);
    assert_false(r.applied);
    must_raw_get(h, "nx", "1");

    p = P(TXN_RMW_SET);
    p.arg = th_s("v");
    p.flags = TXN_SET_XX;
    must_rmw(h, "s", &p, &r);
    assert_false(r.applied);
    must_not_found(h, "s");
    p.flags = TXN_SET_NX | TXN_SET_GET;
    p.has_expire = true;
    p.expire_at_ms = TH_NOW + 10000;
    must_rmw(h, "s", &p, &r);
    assert_true(r.applied);
    assert_false(r.old_exists);
    assert_int_equal(ttl_of(h, "s", &rc), 10000);
    /* KEEPTTL keeps it; a plain SET drops it */
    p = P(TXN_RMW_SET);
    p.arg = th_s("w");
    p.flags = TXN_SET_KEEPTTL | TXN_SET_GET;
    must_rmw(h, "s", &p, &r);
    assert_buf_eq(&r.old_value, "v");
    assert_int_equal(ttl_of(h, "s", &rc), 10000);
    p.flags = TXN_SET_XX;
    must_rmw(h, "s", &p, &r);
    assert_true(r.applied);
    assert_int_equal(ttl_of(h, "s", &rc), 0);
    must_raw_get(h, "s", "w");
    /* NX + GET on a live key: not applied, old value reported */
    p.flags = TXN_SET_NX | TXN_SET_GET;
    must_rmw(h, "s", &p, &r);
    assert_false(r.applied);
    assert_buf_eq(&r.old_value, "w");
    /* invalid combinations */
    p.flags = TXN_SET_NX | TXN_SET_XX;
    must_rmw(h, "s", &p, &r);
    assert_int_equal(r.kind, TXN_ERR_SYNTAX);
    p.flags = TXN_SET_KEEPTTL;
    p.has_expire = true;
    p.expire_at_ms = TH_NOW + 1;
    must_rmw(h, "s", &p, &r);
    assert_int_equal(r.kind, TXN_ERR_SYNTAX);
    th_res_free(&r);
}

static void expire(th *h, const char *key, unsigned flags, int64_t at, th_res *r)
{
    txn_rmw_params p = P(TXN_RMW_EXPIRE);
    p.flags = flags;
    p.has_expire = true;
    p.expire_at_ms = at;
    must_rmw(h, key, &p, r);
    assert_int_equal(r->code, BS_OK);
}

static void test_expire_family(void **state)
{
    th *h = *state;
    th_res r;
    int rc;
    th_res_init(&r);
    expire(h, "absent", 0, TH_NOW + 1000, &r);
    assert_false(r.applied);
    must_raw_put(h, "p", "v", 0); /* no TTL */
    expire(h, "p", TXN_EXPIRE_XX, TH_NOW + 1000, &r);
    assert_false(r.applied);
    expire(h, "p", TXN_EXPIRE_GT, TH_NOW + 1000, &r); /* no TTL = infinite: not greater */
    assert_false(r.applied);
    expire(h, "p", TXN_EXPIRE_LT, TH_NOW + 5000, &r); /* anything is less than infinite */
    assert_true(r.applied);
    assert_int_equal(ttl_of(h, "p", &rc), 5000);
    expire(h, "p", TXN_EXPIRE_NX, TH_NOW + 9000, &r);
    assert_false(r.applied);
    expire(h, "p", TXN_EXPIRE_XX, TH_NOW + 6000, &r);
    assert_true(r.applied);
    expire(h, "p", TXN_EXPIRE_GT, TH_NOW + 6000, &r); /* equal is not greater */
    assert_false(r.applied);
    expire(h, "p", TXN_EXPIRE_GT, TH_NOW + 7000, &r);
    assert_true(r.applied);
    expire(h, "p", TXN_EXPIRE_LT, TH_NOW + 8000, &r);
    assert_false(r.applied);
    expire(h, "p", TXN_EXPIRE_LT, TH_NOW + 2000, &r);
    assert_true(r.applied);
    assert_int_equal(ttl_of(h, "p", &rc), 2000);
    must_raw_put(h, "q", "v", 0);
    expire(h, "q", TXN_EXPIRE_NX, TH_NOW + 3000, &r);
    assert_true(r.applied);
    /* PERSIST */
    txn_rmw_params p = P(TXN_RMW_PERSIST);
    must_rmw(h, "p", &p, &r);
    assert_true(r.applied);
    assert_int_equal(ttl_of(h, "p", &rc), 0);
    must_rmw(h, "p", &p, &r);
    assert_false(r.applied);
    /* a past time deletes */
    expire(h, "p", 0, TH_NOW - 5, &r);
    assert_true(r.applied);
    must_not_found(h, "p");
    /* flag errors */
    p = P(TXN_RMW_EXPIRE);
    p.has_expire = true;
    p.flags = TXN_EXPIRE_NX | TXN_EXPIRE_GT;
    must_rmw(h, "q", &p, &r);
    assert_int_equal(r.kind, TXN_ERR_SYNTAX);
    assert_string_equal(r.msg, "NX and XX, GT or LT options at the same time are not compatible");
    p.flags = TXN_EXPIRE_GT | TXN_EXPIRE_LT;
    must_rmw(h, "q", &p, &r);
    assert_string_equal(r.msg, "GT and LT options at the same time are not compatible");
    th_res_free(&r);
}

/* ---- chaining ------------------------------------------------------------------------- */

static void test_chain_100_incr(void **state)
{
    th *h = *state;
    enum { N = 100 };
    th_res r[N];
    bs_buf k = BS_BUF_INIT;
    txn_rmw_params p = P(TXN_RMW_INCRBY);
    p.incr = 1;
    h->delay = true;
    th_key(&k, "hot");
    for (int i = 0; i < N; i++) {
        th_res_init(&r[i]);
        txn_raw_rmw(h->s, bs_buf_slice(&k), &p, th_cb, &r[i]);
        assert_int_equal(r[i].calls, 0); /* proposed, not applied */
    }
    assert_int_equal(h->qn, N); /* every one proposed without waiting for an apply */
    must_not_found(h, "hot");
    th_apply(h, 50);
    for (int i = 0; i < N; i++)
        assert_int_equal(r[i].calls, i < 50 ? 1 : 0);
    must_raw_get(h, "hot", "50");
    th_apply(h, SIZE_MAX);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].code, BS_OK);
        assert_int_equal(r[i].integer, i + 1); /* each read its predecessor's pending value */
        if (i)
            assert_true(r[i].ts > r[i - 1].ts);
        th_res_free(&r[i]);
    }
    must_raw_get(h, "hot", "100");
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    bs_buf_free(&k);
}

static void test_chain_failure_fails_successors(void **state)
{
    th *h = *state;
    enum { N = 5 };
    th_res r[N], after, noop;
    bs_buf k = BS_BUF_INIT;
    txn_rmw_params p = P(TXN_RMW_INCRBY), nx = P(TXN_RMW_SETNX);
    p.incr = 1;
    nx.arg = th_s("z");
    must_raw_put(h, "c", "10", 0);
    h->delay = true;
    th_key(&k, "c");
    for (int i = 0; i < N; i++) {
        th_res_init(&r[i]);
        txn_raw_rmw(h->s, bs_buf_slice(&k), &p, th_cb, &r[i]);
    }
    /* a no-write outcome waits behind the chain too */
    th_res_init(&noop);
    txn_raw_rmw(h->s, bs_buf_slice(&k), &nx, th_cb, &noop);
    assert_int_equal(noop.calls, 0);
    th_apply(h, 1);
    assert_int_equal(r[0].code, BS_OK);
    assert_int_equal(r[0].integer, 11);
    /* lost leadership: the proposer fails everything it holds, in order */
    th_fail_all(h, BS_ENOT_LEADER);
    assert_int_equal(r[1].code, BS_ENOT_LEADER);
    assert_int_equal(r[1].kind, TXN_ERR_PROPOSAL_FAILED);
    for (int i = 2; i < N; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].code, BS_ENOT_LEADER); /* the failed write's own code */
        assert_int_equal(r[i].kind, TXN_ERR_CHAIN_BROKEN);
    }
    assert_int_equal(noop.calls, 1);
    assert_int_equal(noop.code, BS_ENOT_LEADER);
    assert_int_equal(noop.kind, TXN_ERR_CHAIN_BROKEN);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    /* the next RMW reads the applied state again */
    h->delay = false;
    th_res_init(&after);
    must_rmw(h, "c", &p, &after);
    assert_int_equal(after.integer, 12);
    for (int i = 0; i < N; i++)
        th_res_free(&r[i]);
    th_res_free(&after);
    th_res_free(&noop);
    bs_buf_free(&k);
}

/* The chained failure carries the code of the write that failed: an epoch change (a split
 * skipped it) says none of them applied; a dropped proposal leaves them all unknown. */
static void test_chain_failure_passes_code_through(void **state)
{
    th *h = *state;
    const int codes[2] = {BS_ESTATE, BS_EPROPOSAL_DROPPED};
    txn_rmw_params p = P(TXN_RMW_INCRBY);
    bs_buf k = BS_BUF_INIT;
    p.incr = 1;
    must_raw_put(h, "c", "10", 0);
    h->delay = true;
    th_key(&k, "c");
    for (int t = 0; t < 2; t++) {
        th_res a, b, put;
        th_res_init(&a);
        th_res_init(&b);
        th_res_init(&put);
        txn_raw_rmw(h->s, bs_buf_slice(&k), &p, th_cb, &a);
        txn_raw_rmw(h->s, bs_buf_slice(&k), &p, th_cb, &b);
        txn_raw_put(h->s, bs_buf_slice(&k), th_s("blind"), 0, th_cb, &put); /* chains too */
        assert_int_equal(h->qn, 3);
        assert_int_equal(th_fail_all(h, codes[t]), 3);
        assert_int_equal(a.code, codes[t]);
        assert_int_equal(a.kind, TXN_ERR_PROPOSAL_FAILED);
        assert_int_equal(b.calls, 1); /* answered once, at a's failure */
        assert_int_equal(b.code, codes[t]);
        assert_int_equal(b.kind, TXN_ERR_CHAIN_BROKEN);
        assert_int_equal(put.calls, 1);
        assert_int_equal(put.code, codes[t]);
        assert_int_equal(put.kind, TXN_ERR_CHAIN_BROKEN);
        assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
        must_raw_get(h, "c", "10");
        th_res_free(&a);
        th_res_free(&b);
        th_res_free(&put);
    }
    bs_buf_free(&k);
}

/* ---- a failure while a chained command is between reading and proposing ---------------- */

typedef struct fp_fail {
    th *h;
    int code;
    int fired;
} fp_fail;

/* The fail point (txn_fp_set_before_settle): the proposer fails the held predecessor right
 * then, as the raftstore thread may at any instant. */
static void fail_held(void *arg)
{
    fp_fail *f = arg;
    f->fired++;
    assert_int_equal(th_fail_all(f->h, f->code), 1);
}

/* The reported crash: the failure used to unlink the running command's record, and its
 * propose (or no-op) step then asserted on a record it no longer owned. Now the record is
 * flagged broken and the command fails itself, never proposing. */
static void test_chain_breaks_before_propose(void **state)
{
    th *h = *state;
    txn_rmw_params incr = P(TXN_RMW_INCRBY), nx = P(TXN_RMW_SETNX);
    bs_buf k = BS_BUF_INIT, d = BS_BUF_INIT;
    incr.incr = 1;
    nx.arg = th_s("z");
    must_raw_put(h, "c", "10", 0);
    h->delay = true;
    th_key(&k, "c");
    th_key(&d, "d");
    /* 0: a write (fails at propose_begin); 1: a no-write outcome (fails at settle_noop);
     * 2: a two-key batch put, broken on one key. */
    const int codes[3] = {BS_ESTATE, BS_ENOT_LEADER, BS_EPROPOSAL_DROPPED};
    for (int t = 0; t < 3; t++) {
        th_res first, second;
        th_res_init(&first);
        th_res_init(&second);
        txn_raw_rmw(h->s, bs_buf_slice(&k), &incr, th_cb, &first); /* proposed, held */
        assert_int_equal(h->qn, 1);
        fp_fail f = {h, codes[t], 0};
        txn_fp_set_before_settle(fail_held, &f);
        if (t == 0) {
            txn_raw_rmw(h->s, bs_buf_slice(&k), &incr, th_cb, &second);
        } else if (t == 1) {
            txn_raw_rmw(h->s, bs_buf_slice(&k), &nx, th_cb, &second);
        } else {
            txn_kv kvs[2] = {{bs_buf_slice(&k), th_s("x")}, {bs_buf_slice(&d), th_s("y")}};
            txn_raw_batch_put(h->s, kvs, 2, NULL, 0, th_cb, &second);
        }
        txn_fp_set_before_settle(NULL, NULL);
        assert_int_equal(f.fired, 1);
        assert_int_equal(first.calls, 1);
        assert_int_equal(first.code, codes[t]);
        assert_int_equal(second.calls, 1);
        assert_int_equal(second.code, codes[t]);
        assert_int_equal(second.kind, TXN_ERR_CHAIN_BROKEN);
        assert_int_equal(h->qn, 0); /* the second never reached the proposer */
        assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
        th_res_free(&first);
        th_res_free(&second);
    }
    h->delay = false;
    must_not_found(h, "d");
    th_res after;
    th_res_init(&after);
    must_rmw(h, "c", &incr, &after); /* neither failed write exists */
    assert_int_equal(after.integer, 11);
    th_res_free(&after);
    bs_buf_free(&k);
    bs_buf_free(&d);
}

/* ---- chains under concurrency ---------------------------------------------------------------- */

#define STRESS_CLIENTS 4
#define STRESS_OPS 250

typedef struct stress {
    th *h;
    atomic_bool stop;
    pthread_mutex_t mu;
    int64_t ok_values[STRESS_CLIENTS * STRESS_OPS]; /* the INCR results that succeeded */
    size_t n_ok;
    size_t n_failed;
    int bad; /* results no rule allows (counted: cmocka asserts only on the main thread) */
} stress;

typedef struct waitres {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls, code;
    txn_error_kind kind;
    int64_t integer;
} waitres;

static void wait_cb(void *arg, const txn_result *res)
{
    waitres *w = arg;
    pthread_mutex_lock(&w->mu);
    w->calls++;
    w->code = res->code;
    w->kind = res->error.kind;
    w->integer = res->rmw.integer;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void *stress_client(void *arg)
{
    stress *st = arg;
    bs_buf k = BS_BUF_INIT;
    txn_rmw_params p = P(TXN_RMW_INCRBY);
    p.incr = 1;
    th_key(&k, "hot");
    for (int i = 0; i < STRESS_OPS; i++) {
        waitres w;
        memset(&w, 0, sizeof(w));
        pthread_mutex_init(&w.mu, NULL);
        pthread_cond_init(&w.cv, NULL);
        txn_raw_rmw(st->h->s, bs_buf_slice(&k), &p, wait_cb, &w);
        pthread_mutex_lock(&w.mu);
        while (w.calls == 0)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        pthread_mutex_lock(&st->mu);
        if (w.calls != 1)
            st->bad++;
        else if (w.code == BS_OK)
            st->ok_values[st->n_ok++] = w.integer;
        else if (w.kind == TXN_ERR_PROPOSAL_FAILED || w.kind == TXN_ERR_CHAIN_BROKEN)
            st->n_failed++;
        else
            st->bad++;
        pthread_mutex_unlock(&st->mu);
        pthread_mutex_destroy(&w.mu);
        pthread_cond_destroy(&w.cv);
    }
    bs_buf_free(&k);
    return NULL;
}

/* The "raftstore": applies a few held batches or fails all of them, at random. */
static void *stress_raft(void *arg)
{
    stress *st = arg;
    unsigned seed = 42;
    const int codes[3] = {BS_ENOT_LEADER, BS_ESTATE, BS_EPROPOSAL_DROPPED};
    while (!atomic_load(&st->stop)) {
        int r = rand_r(&seed) % 16;
        if (r < 13)
            (void)th_apply(st->h, 1 + (size_t)r % 3);
        else
            (void)th_fail_all(st->h, codes[r % 3]);
        sched_yield();
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Hot-key INCRs from several threads chain on each other while proposals apply or fail at
 * random, on another thread, at any point of the chained commands' runs. The harness's
 * proposer fails everything it holds at once, so a failed INCR never applies and an
 * applied one is acknowledged: the counter must end at exactly the number of successes,
 * and the successes must have produced 1..n. A chained write that slipped past its
 * failed predecessor into the proposer would show as a counter above n. */
static void test_chain_stress_random_failures(void **state)
{
    th *h = *state;
    stress st;
    memset(&st, 0, sizeof(st));
    st.h = h;
    atomic_init(&st.stop, false);
    pthread_mutex_init(&st.mu, NULL);
    pthread_mutex_lock(&h->mu);
    h->delay = true;
    pthread_mutex_unlock(&h->mu);
    pthread_t raft, clients[STRESS_CLIENTS];
    assert_int_equal(pthread_create(&raft, NULL, stress_raft, &st), 0);
    for (int i = 0; i < STRESS_CLIENTS; i++)
        assert_int_equal(pthread_create(&clients[i], NULL, stress_client, &st), 0);
    for (int i = 0; i < STRESS_CLIENTS; i++)
        assert_int_equal(pthread_join(clients[i], NULL), 0);
    atomic_store(&st.stop, true);
    assert_int_equal(pthread_join(raft, NULL), 0);
    assert_int_equal(st.bad, 0);
    assert_int_equal(st.n_ok + st.n_failed, STRESS_CLIENTS * STRESS_OPS);
    /* Every answer is in, so nothing may still be waiting in the proposer. */
    assert_int_equal(th_fail_all(h, BS_ENOT_LEADER), 0);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    qsort(st.ok_values, st.n_ok, sizeof(int64_t), cmp_i64);
    for (size_t i = 0; i < st.n_ok; i++)
        assert_int_equal(st.ok_values[i], (int64_t)i + 1);
    h->delay = false;
    if (st.n_ok == 0) {
        must_not_found(h, "hot");
    } else {
        char want[32];
        snprintf(want, sizeof want, "%zu", st.n_ok);
        must_raw_get(h, "hot", want);
    }
    pthread_mutex_destroy(&st.mu);
}

static void test_refused_proposal(void **state)
{
    th *h = *state;
    th_res r;
    txn_rmw_params p = P(TXN_RMW_INCRBY);
    p.incr = 1;
    th_res_init(&r);
    h->refuse = 1;
    must_rmw(h, "x", &p, &r);
    assert_int_equal(r.code, BS_ENOT_LEADER);
    assert_int_equal(r.kind, TXN_ERR_PROPOSAL_FAILED);
    must_not_found(h, "x");
    must_rmw(h, "x", &p, &r);
    assert_int_equal(r.integer, 1);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    th_res_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TH_TEST(test_incrby),
        TH_TEST(test_incrbyfloat),
        TH_TEST(test_append_setrange),
        TH_TEST(test_getset_getdel_getex),
        TH_TEST(test_set_flags),
        TH_TEST(test_expire_family),
        TH_TEST(test_chain_100_incr),
        TH_TEST(test_chain_failure_fails_successors),
        TH_TEST(test_chain_failure_passes_code_through),
        TH_TEST(test_chain_breaks_before_propose),
        TH_TEST(test_chain_stress_random_failures),
        TH_TEST(test_refused_proposal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
