/* test_multi.c -- the multi-key raw commands (multi.c) against Redis 7's semantics (MSET,
 * MSETNX, DEL, EXISTS, RENAME, RENAMENX, COPY, incl. repeated keys, TTLs and expired keys),
 * their interplay with the lock table (they wait for pending writes, single-key commands
 * chain behind them, a failed proposal fails the chain), proposer refusals, and atomicity
 * of concurrent commands on overlapping keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/assert.h"
#include "common/clock.h"
#include "txn/harness.h"
#include "txn/txn_int.h"


/* ---- helpers ----------------------------------------------------------------------------- */

/* A multi result copied out of the callback; waitable across threads. */
typedef struct mres {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    int code;
    txn_error_kind kind;
    char msg[256];
    uint64_t ts, count;
    bool applied;
} mres;

static void mres_init(mres *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void mres_deinit(mres *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

static void mres_cb(void *arg, const txn_multi_result *res)
{
    mres *r = arg;
    pthread_mutex_lock(&r->mu);
    r->calls++;
    r->code = res->code;
    r->kind = res->error.kind;
    snprintf(r->msg, sizeof(r->msg), "%s", res->error.msg);
    r->ts = res->ts;
    r->count = res->count;
    r->applied = res->applied;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void mres_wait(mres *r)
{
    pthread_mutex_lock(&r->mu);
    while (r->calls == 0)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

/* Starts op over user keys (keyspace 0) and values (NULL-terminated lists). */
static void multi_start(th *h, txn_multi_op op, const char *const *keys,
                        const char *const *values, unsigned flags, mres *r)
{
    bs_buf kb[16];
    bs_slice ks[16], vs[16];
    size_t n = 0;
    while (keys[n]) {
        BS_ASSERT(n < 16);
        kb[n] = (bs_buf)BS_BUF_INIT;
        ks[n] = th_key(&kb[n], keys[n]);
        if (values)
            vs[n] = th_s(values[n]);
        n++;
    }
    txn_multi_req req = {op, ks, values ? vs : NULL, n, flags};
    txn_raw_multi(h->s, &req, mres_cb, r);
    for (size_t i = 0; i < n; i++)
        bs_buf_free(&kb[i]);
}

/* Runs op to completion (applying held batches in delay mode) into *r (re-initialised). */
static void must_multi(th *h, txn_multi_op op, const char *const *keys,
                       const char *const *values, unsigned flags, mres *r)
{
    mres_deinit(r);
    mres_init(r);
    multi_start(h, op, keys, values, flags, r);
    if (h->delay)
        th_apply(h, SIZE_MAX);
    assert_int_equal(r->calls, 1);
}

#define K(...) ((const char *const[]){__VA_ARGS__, NULL})

static uint64_t ttl_of(th *h, const char *key, int *rc)
{
    bs_buf k = BS_BUF_INIT;
    uint64_t ttl = 0;
    txn_error e;
    *rc = txn_raw_get_key_ttl(h->s, th_key(&k, key), 0, &ttl, &e);
    bs_buf_free(&k);
    return ttl;
}

static size_t proposals(th *h)
{
    pthread_mutex_lock(&h->mu);
    size_t n = h->proposals;
    pthread_mutex_unlock(&h->mu);
    return n;
}

/* ---- semantics ----------------------------------------------------------------------------- */

static void test_mset_msetnx(void **state)
{
    th *h = *state;
    mres r;
    int rc;
    mres_init(&r);
    must_raw_put(h, "a", "old", 5000);
    must_multi(h, TXN_MULTI_MSET, K("a", "b"), K("1", "2"), 0, &r);
    assert_int_equal(r.code, BS_OK);
    assert_true(r.applied);
    assert_true(r.ts > 0);
    must_raw_get(h, "a", "1");
    must_raw_get(h, "b", "2");
    assert_int_equal(ttl_of(h, "a", &rc), 0); /* MSET clears the TTL */
    assert_int_equal(rc, BS_OK);
    /* A key named twice: the last value wins. */
    must_multi(h, TXN_MULTI_MSET, K("d", "d"), K("x", "y"), 0, &r);
    must_raw_get(h, "d", "y");

    /* MSETNX: nothing is written when any key is live. */
    size_t before = proposals(h);
    must_multi(h, TXN_MULTI_MSETNX, K("n1", "a"), K("v", "v"), 0, &r);
    assert_int_equal(r.code, BS_OK);
    assert_false(r.applied);
    assert_int_equal(r.ts, 0);
    assert_int_equal(proposals(h), before);
    must_not_found(h, "n1");
    must_raw_get(h, "a", "1");
    /* An expired key is absent. */
    must_raw_put(h, "e", "gone", 1000);
    bs_clock_set_wall_override(TH_NOW + 1000);
    must_multi(h, TXN_MULTI_MSETNX, K("n1", "e"), K("v1", "v2"), 0, &r);
    assert_true(r.applied);
    must_raw_get(h, "n1", "v1");
    must_raw_get(h, "e", "v2");
    assert_int_equal(ttl_of(h, "e", &rc), 0);
    mres_deinit(&r);
}

static void test_del_exists(void **state)
{
    th *h = *state;
    mres r;
    mres_init(&r);
    must_raw_put(h, "a", "1", 0);
    must_raw_put(h, "b", "2", 0);
    must_raw_put(h, "t", "3", 500);
    must_multi(h, TXN_MULTI_EXISTS, K("a", "a", "b", "c", "t"), NULL, 0, &r);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.count, 4); /* a counted twice */
    bs_clock_set_wall_override(TH_NOW + 500);
    must_multi(h, TXN_MULTI_EXISTS, K("t"), NULL, 0, &r);
    assert_int_equal(r.count, 0); /* expired */
    assert_false(r.applied);

    /* DEL counts live keys once each; absent and expired keys write nothing. */
    size_t before = proposals(h);
    must_multi(h, TXN_MULTI_DEL, K("c", "t"), NULL, 0, &r);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.count, 0);
    assert_int_equal(proposals(h), before);
    must_multi(h, TXN_MULTI_DEL, K("a", "b", "a", "c", "t"), NULL, 0, &r);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.count, 2);
    assert_true(r.applied);
    assert_int_equal(proposals(h), before + 1); /* one batch */
    must_not_found(h, "a");
    must_not_found(h, "b");
    must_multi(h, TXN_MULTI_EXISTS, K("a", "b"), NULL, 0, &r);
    assert_int_equal(r.count, 0);
    mres_deinit(&r);
}

static void test_rename(void **state)
{
    th *h = *state;
    mres r;
    int rc;
    mres_init(&r);
    must_raw_put(h, "src", "v", 10000);
    must_raw_put(h, "dst", "old", 0);
    bs_clock_set_wall_override(TH_NOW + 4000);
    must_multi(h, TXN_MULTI_RENAME, K("src", "dst"), NULL, 0, &r);
    assert_int_equal(r.code, BS_OK);
    assert_true(r.applied);
    must_not_found(h, "src");
    must_raw_get(h, "dst", "v");
    assert_int_equal(ttl_of(h, "dst", &rc), 6000); /* the source's expiry moved with it */
    assert_int_equal(rc, BS_OK);

    /* Absent source, also onto itself. */
    must_multi(h, TXN_MULTI_RENAME, K("src", "x"), NULL, 0, &r);
    assert_int_equal(r.code, BS_NOTFOUND);
    assert_string_equal(r.msg, "no such key");
    must_multi(h, TXN_MULTI_RENAME, K("src", "src"), NULL, 0, &r);
    assert_int_equal(r.code, BS_NOTFOUND);
    must_multi(h, TXN_MULTI_RENAMENX, K("src", "x"), NULL, 0, &r);
    assert_int_equal(r.code, BS_NOTFOUND);

    /* Onto itself: OK / 0, nothing written. */
    size_t before = proposals(h);
    must_multi(h, TXN_MULTI_RENAME, K("dst", "dst"), NULL, 0, &r);
    assert_int_equal(r.code, BS_OK);
    assert_true(r.applied);
    must_multi(h, TXN_MULTI_RENAMENX, K("dst", "dst"), NULL, 0, &r);
    assert_int_equal(r.code, BS_OK);
    assert_false(r.applied);
    assert_int_equal(proposals(h), before);
    must_raw_get(h, "dst", "v");

    /* RENAMENX refuses a live destination, takes an absent one. */
    must_raw_put(h, "other", "o", 0);
    must_multi(h, TXN_MULTI_RENAMENX, K("dst", "other"), NULL, 0, &r);
    assert_int_equal(r.code, BS_OK);
    assert_false(r.applied);
    must_raw_get(h, "other", "o");
    must_multi(h, TXN_MULTI_RENAMENX, K("dst", "fresh"), NULL, 0, &r);
    assert_true(r.applied);
    must_raw_get(h, "fresh", "v");
    must_not_found(h, "dst");
    /* A persistent source clears the destination's TTL. */
    must_raw_put(h, "ttl", "t", 9000);
    must_multi(h, TXN_MULTI_RENAME, K("other", "ttl"), NULL, 0, &r);
    assert_int_equal(ttl_of(h, "ttl", &rc), 0);
    must_raw_get(h, "ttl", "o");
    mres_deinit(&r);
}

static void test_copy(void **state)
{
    th *h = *state;
    mres r;
    int rc;
    mres_init(&r);
    must_raw_put(h, "s", "v", 3000);
    must_multi(h, TXN_MULTI_COPY, K("s", "d"), NULL, 0, &r);
    assert_int_equal(r.code, BS_OK);
    assert_true(r.applied);
    must_raw_get(h, "s", "v");
    must_raw_get(h, "d", "v");
    assert_int_equal(ttl_of(h, "d", &rc), 3000);
    /* A live destination needs REPLACE. */
    must_raw_put(h, "s", "w", 0);
    must_multi(h, TXN_MULTI_COPY, K("s", "d"), NULL, 0, &r);
    assert_false(r.applied);
    must_raw_get(h, "d", "v");
    must_multi(h, TXN_MULTI_COPY, K("s", "d"), NULL, TXN_MULTI_REPLACE, &r);
    assert_true(r.applied);
    must_raw_get(h, "d", "w");
    assert_int_equal(ttl_of(h, "d", &rc), 0);
    /* Absent source: 0. */
    must_multi(h, TXN_MULTI_COPY, K("nope", "d"), NULL, TXN_MULTI_REPLACE, &r);
    assert_int_equal(r.code, BS_OK);
    assert_false(r.applied);
    must_raw_get(h, "d", "w");
    /* Onto itself: Redis's error, before the source is even looked at. */
    must_multi(h, TXN_MULTI_COPY, K("nope", "nope"), NULL, 0, &r);
    assert_int_equal(r.code, BS_EINVAL);
    assert_int_equal(r.kind, TXN_ERR_INVALID_ARGUMENT);
    assert_string_equal(r.msg, "source and destination objects are the same");
    mres_deinit(&r);
}

static void test_validation(void **state)
{
    th *h = *state;
    mres r;
    mres_init(&r);
    bs_buf kb = BS_BUF_INIT;
    bs_slice k = th_key(&kb, "k");
    bs_slice keys3[3] = {k, k, k};
    bs_slice bad[1] = {bs_slice_make("x\0\0\0k", 5)}; /* mode x: not RawKV */
    struct {
        txn_multi_req req;
        txn_error_kind kind;
    } cases[] = {
        {{TXN_MULTI_DEL, keys3, NULL, 0, 0}, TXN_ERR_INVALID_ARGUMENT},
        {{TXN_MULTI_RENAME, keys3, NULL, 3, 0}, TXN_ERR_INVALID_ARGUMENT},
        {{TXN_MULTI_COPY, keys3, NULL, 1, 0}, TXN_ERR_INVALID_ARGUMENT},
        {{TXN_MULTI_MSET, keys3, NULL, 3, 0}, TXN_ERR_INVALID_ARGUMENT},
        {{TXN_MULTI_DEL, keys3, keys3, 3, 0}, TXN_ERR_INVALID_ARGUMENT},
        {{TXN_MULTI_MSET, keys3, keys3, 3, TXN_MULTI_REPLACE}, TXN_ERR_INVALID_ARGUMENT},
        {{TXN_MULTI_EXISTS, bad, NULL, 1, 0}, TXN_ERR_INVALID_KEY_MODE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mres_deinit(&r);
        mres_init(&r);
        txn_raw_multi(h->s, &cases[i].req, mres_cb, &r);
        assert_int_equal(r.calls, 1); /* before the call returns */
        assert_int_equal(r.code, BS_EINVAL);
        assert_int_equal(r.kind, cases[i].kind);
    }
    assert_int_equal(proposals(h), 0);
    bs_buf_free(&kb);
    mres_deinit(&r);
}

/* ---- the lock table -------------------------------------------------------------------------- */

static void test_waits_for_pending_write(void **state)
{
    th *h = *state;
    mres r;
    th_res p;
    bs_buf k = BS_BUF_INIT;
    mres_init(&r);
    th_res_init(&p);
    h->delay = true;
    txn_raw_put(h->s, th_key(&k, "k"), th_s("pending"), 0, th_cb, &p);
    assert_int_equal(p.calls, 0);
    /* The rename must read the put, so it waits for its apply (latches held, no thread). */
    multi_start(h, TXN_MULTI_RENAME, K("k", "j"), NULL, 0, &r);
    assert_int_equal(r.calls, 0);
    assert_int_equal(h->qn, 1);
    assert_int_equal(th_apply(h, 1), 1); /* the put applies: the rename runs and proposes */
    assert_int_equal(p.calls, 1);
    assert_int_equal(r.calls, 0);
    assert_int_equal(h->qn, 1);
    assert_int_equal(th_apply(h, 1), 1);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_OK);
    assert_true(r.applied);
    assert_true(r.ts > p.ts);
    must_raw_get(h, "j", "pending");
    must_not_found(h, "k");
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    /* A read-only EXISTS behind a pending write answers only after the apply. */
    txn_raw_put(h->s, th_key(&k, "e"), th_s("1"), 0, th_cb, &p);
    mres_deinit(&r);
    mres_init(&r);
    multi_start(h, TXN_MULTI_EXISTS, K("e", "j"), NULL, 0, &r);
    assert_int_equal(r.calls, 0);
    th_apply(h, SIZE_MAX);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.count, 2);
    th_res_free(&p);
    bs_buf_free(&k);
    mres_deinit(&r);
}

static void test_single_key_chains_behind_multi(void **state)
{
    th *h = *state;
    mres r;
    th_res p;
    bs_buf k = BS_BUF_INIT;
    txn_rmw_params incr;
    mres_init(&r);
    th_res_init(&p);
    memset(&incr, 0, sizeof(incr));
    incr.op = TXN_RMW_INCRBY;
    incr.incr = 1;
    h->delay = true;
    multi_start(h, TXN_MULTI_MSET, K("a", "b"), K("10", "20"), 0, &r);
    assert_int_equal(h->qn, 1);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 2);
    /* INCR reads the MSET's pending value and proposes right behind it. */
    txn_raw_rmw(h->s, th_key(&k, "a"), &incr, th_cb, &p);
    assert_int_equal(h->qn, 2);
    th_apply(h, SIZE_MAX);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(p.calls, 1);
    assert_int_equal(p.integer, 11);
    must_raw_get(h, "a", "11");
    must_raw_get(h, "b", "20");

    /* A failed MSET fails what chained on it, and leaves nothing behind. */
    mres_deinit(&r);
    mres_init(&r);
    th_res_free(&p);
    multi_start(h, TXN_MULTI_MSET, K("a", "b"), K("50", "60"), 0, &r);
    txn_raw_rmw(h->s, th_key(&k, "a"), &incr, th_cb, &p);
    assert_int_equal(th_fail_all(h, BS_EPROPOSAL_DROPPED), 2);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_EPROPOSAL_DROPPED);
    assert_int_equal(r.kind, TXN_ERR_PROPOSAL_FAILED);
    assert_int_equal(p.calls, 1);
    assert_int_equal(p.code, BS_EPROPOSAL_DROPPED); /* the MSET's own code */
    assert_int_equal(p.kind, TXN_ERR_CHAIN_BROKEN);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    must_raw_get(h, "a", "11");
    th_res_free(&p);
    bs_buf_free(&k);
    mres_deinit(&r);
}

static void test_refused_and_ts_not_ready(void **state)
{
    th *h = *state;
    mres r;
    mres_init(&r);
    h->refuse = 1;
    must_multi(h, TXN_MULTI_MSET, K("a"), K("1"), 0, &r);
    assert_int_equal(r.code, BS_ENOT_LEADER);
    assert_int_equal(r.kind, TXN_ERR_PROPOSAL_FAILED);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    must_not_found(h, "a");

    /* After a flush, until the fresh TSO batch arrives, writes get TS_NOT_READY... */
    pthread_mutex_lock(&h->mu);
    h->tso_hold = true;
    pthread_mutex_unlock(&h->mu);
    txn_causal_ts_flush(h->cts, NULL, NULL);
    must_multi(h, TXN_MULTI_MSET, K("a"), K("1"), 0, &r);
    assert_int_equal(r.code, BS_EBUSY);
    assert_int_equal(r.kind, TXN_ERR_TS_NOT_READY);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    /* ...but commands that write nothing need no ts. */
    must_multi(h, TXN_MULTI_EXISTS, K("a"), NULL, 0, &r);
    assert_int_equal(r.code, BS_OK);
    th_tso_release(h);
    must_multi(h, TXN_MULTI_MSET, K("a"), K("1"), 0, &r);
    assert_int_equal(r.code, BS_OK);
    must_raw_get(h, "a", "1");
    mres_deinit(&r);
}

/* ---- atomicity under concurrency ----------------------------------------------------------- */

#define N_THREADS 4
#define N_OPS 400

typedef struct conc {
    th *h;
    int id;
    _Atomic int violations;
} conc;

/* One token moves between x, y and z by RENAME; every thread checks with EXISTS that
 * exactly one of the three holds it. Without atomic renames two could read the same source
 * and both write: the token would be duplicated (or lost). */
static void *conc_worker(void *arg)
{
    conc *c = arg;
    static const char *names[3] = {"x", "y", "z"};
    mres r;
    mres_init(&r);
    for (int i = 0; i < N_OPS; i++) {
        const char *src = names[(i + c->id) % 3], *dst = names[(i + 2 * c->id + 1) % 3];
        mres_deinit(&r);
        mres_init(&r);
        multi_start(c->h, i % 2 ? TXN_MULTI_RENAMENX : TXN_MULTI_RENAME, K(src, dst), NULL, 0,
                    &r);
        mres_wait(&r);
        if (r.code != BS_OK && r.code != BS_NOTFOUND)
            c->violations++;
        mres_deinit(&r);
        mres_init(&r);
        multi_start(c->h, TXN_MULTI_EXISTS, K("x", "y", "z"), NULL, 0, &r);
        mres_wait(&r);
        if (r.code != BS_OK || r.count != 1)
            c->violations++;
    }
    mres_deinit(&r);
    return NULL;
}

static void test_concurrent_renames_atomic(void **state)
{
    th *h = *state;
    bs_clock_set_wall_override(-1);
    must_raw_put(h, "x", "token", 0);
    conc cs[N_THREADS];
    pthread_t t[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        cs[i] = (conc){h, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, conc_worker, &cs[i]), 0);
    }
    int violations = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(t[i], NULL);
        violations += cs[i].violations;
    }
    assert_int_equal(violations, 0);
    mres r;
    mres_init(&r);
    must_multi(h, TXN_MULTI_EXISTS, K("x", "y", "z"), NULL, 0, &r);
    assert_int_equal(r.count, 1);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    mres_deinit(&r);
}

/* MSET of the same keys from several threads with distinct values, interleaved with DEL:
 * any snapshot sees the keys all equal or all absent (one batch at one ts). */
typedef struct mset_arg {
    th *h;
    int id;
    _Atomic int violations;
} mset_arg;

static void *mset_worker(void *arg)
{
    mset_arg *a = arg;
    mres r;
    bs_buf kb[3] = {BS_BUF_INIT, BS_BUF_INIT, BS_BUF_INIT};
    bs_slice ks[3] = {th_key(&kb[0], "p"), th_key(&kb[1], "q"), th_key(&kb[2], "r")};
    mres_init(&r);
    for (int i = 0; i < N_OPS; i++) {
        char v[32];
        snprintf(v, sizeof v, "%d-%d", a->id, i);
        mres_deinit(&r);
        mres_init(&r);
        if (i % 5 == 4)
            multi_start(a->h, TXN_MULTI_DEL, K("r", "q", "p"), NULL, 0, &r);
        else
            multi_start(a->h, TXN_MULTI_MSET, K("p", "q", "r"), K(v, v, v), 0, &r);
        mres_wait(&r);
        if (r.code != BS_OK)
            a->violations++;
        txn_pairs out;
        txn_error e;
        txn_pairs_init(&out);
        if (txn_raw_batch_get(a->h->s, ks, 3, 0, &out, &e) != BS_OK ||
            (out.n != 0 && out.n != 3))
            a->violations++;
        for (size_t j = 1; j < out.n; j++)
            if (!bs_slice_eq(bs_buf_slice(&out.v[j].value), bs_buf_slice(&out.v[0].value)))
                a->violations++;
        txn_pairs_free(&out);
    }
    for (int i = 0; i < 3; i++)
        bs_buf_free(&kb[i]);
    mres_deinit(&r);
    return NULL;
}

static void test_concurrent_mset_del_atomic(void **state)
{
    th *h = *state;
    bs_clock_set_wall_override(-1);
    mset_arg as[N_THREADS];
    pthread_t t[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        as[i] = (mset_arg){h, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, mset_worker, &as[i]), 0);
    }
    int violations = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(t[i], NULL);
        violations += as[i].violations;
    }
    assert_int_equal(violations, 0);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TH_TEST(test_mset_msetnx),
        TH_TEST(test_del_exists),
        TH_TEST(test_rename),
        TH_TEST(test_copy),
        TH_TEST(test_validation),
        TH_TEST(test_waits_for_pending_write),
        TH_TEST(test_single_key_chains_behind_multi),
        TH_TEST(test_refused_and_ts_not_ready),
        TH_TEST(test_concurrent_renames_atomic),
        TH_TEST(test_concurrent_mset_del_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
