/* test_percolator_cmd.c -- the command layer (txn_command.c) in both layouts: one-phase
 * commit (ts above max_ts and min_commit_ts, fallback on max_commit_ts or a duplicate,
 * conflicts, the lock-table guard readers wait on), latches held until the apply, waiting
 * out a pending raw write, proposals refused or failed after acceptance, the guard of an
 * 'r' commit, and concurrent read-increment-write transactions on one key from several
 * threads losing no update. */
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

#include "common/assert.h"
#include "txn/percolator_helpers.h"
#include "txn/txn_int.h"

#define V(s) bs_slice_from_str(s)

static void read_at(th *h, uint64_t ts)
{
    txn_kv_pair p;
    txn_read_opts o = {.read_ts = ts};
    txn_error e;
    txn_kv_pair_init(&p);
    (void)txn_kv_get(h->s, pt_key("unrelated"), &o, &p, &e); /* raises max_ts */
    txn_kv_pair_deinit(&p);
}

static void test_one_pc(void **state)
{
    th *h = *state;
    read_at(h, 500);
    txn_mutation m[3] = {pt_mut(TXN_OP_PUT, "a", V("1")), pt_mut(TXN_OP_DEL, "b", V("")),
                         pt_mut(TXN_OP_LOCK, "c", V(""))};
    txn_prewrite_req req = pt_req(m, 3, "a", 10);
    req.try_one_pc = true;
    pt_res r;
    pt_res_init(&r);
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    uint64_t cts = r.one_pc_commit_ts;
    assert_int_equal(cts, 501); /* max_ts + 1 */
    must_unlocked(h, "a");
    must_unlocked(h, "b");
    must_unlocked(h, "c");
    must_written(h, "a", 10, cts, KV_WRITE_PUT);
    must_written(h, "b", 10, cts, KV_WRITE_DELETE);
    must_written(h, "c", 10, cts, KV_WRITE_LOCK);
    must_get(h, "a", cts, V("1"));
    must_get_none(h, "a", cts - 1);
    if (pt_mode == KV_MODE_RAW)
        must_raw_get(h, "a", "1");
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    /* min_commit_ts above max_ts + 1 wins; start_ts + 1 is the floor. */
    m[0] = pt_mut(TXN_OP_PUT, "d", V("4"));
    req = pt_req(m, 1, "d", 600);
    req.try_one_pc = true;
    req.min_commit_ts = 700;
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.one_pc_commit_ts, 700);
    m[0] = pt_mut(TXN_OP_PUT, "e", V("5"));
    req = pt_req(m, 1, "e", 800);
    req.try_one_pc = true;
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.one_pc_commit_ts, 801);
    pt_res_free(&r);
}

static void test_one_pc_fallbacks(void **state)
{
    th *h = *state;
    read_at(h, 500);
    pt_res r;
    pt_res_init(&r);
    /* The commit ts would pass max_commit_ts: a normal prewrite. */
    txn_mutation m[2] = {pt_mut(TXN_OP_PUT, "a", V("1")), pt_mut(TXN_OP_PUT, "b", V("2"))};
    txn_prewrite_req req = pt_req(m, 2, "a", 10);
    req.try_one_pc = true;
    req.max_commit_ts = 400;
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(r.one_pc_commit_ts, 0);
    must_locked(h, "a", 10, NULL);
    must_locked(h, "b", 10, NULL);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    /* A retry that meets its own locks falls back too. */
    txn_mutation m2[3] = {pt_mut(TXN_OP_PUT, "a", V("1")), pt_mut(TXN_OP_PUT, "b", V("2")),
                          pt_mut(TXN_OP_PUT, "c", V("3"))};
    req = pt_req(m2, 3, "a", 10);
    req.try_one_pc = true;
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(r.one_pc_commit_ts, 0);
    must_locked(h, "c", 10, NULL);
    must_get_no_write(h, "c", 501);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    /* A conflict: nothing written, nothing left in the table. */
    must_commit(h, "a", 10, 20);
    m[0] = pt_mut(TXN_OP_PUT, "a", V("x"));
    m[1] = pt_mut(TXN_OP_PUT, "z", V("x"));
    req = pt_req(m, 2, "a", 15);
    req.try_one_pc = true;
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.n_errors, 1);
    assert_int_equal(r.errors[0].kind, TXN_KEY_ERR_WRITE_CONFLICT);
    assert_int_equal(r.one_pc_commit_ts, 0);
    must_unlocked(h, "z");
    must_get_none(h, "z", UINT64_MAX - 1);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    pt_res_free(&r);
}

/* Until a 1PC batch applies, reads at >= its commit ts wait (the lock table) instead of
 * missing it; reads below it do not. */
static void test_one_pc_guard(void **state)
{
    th *h = *state;
    h->delay = true;
    txn_mutation m[2] = {pt_mut(TXN_OP_PUT, "a", V("1")), pt_mut(TXN_OP_LOCK, "b", V(""))};
    txn_prewrite_req req = pt_req(m, 2, "a", 10);
    req.try_one_pc = true;
    pt_res r;
    pt_res_init(&r);
    txn_kv_prewrite(h->s, &req, pt_cb, &r);
    assert_int_equal(r.calls, 0); /* answered once applied */
    assert_int_equal(h->qn, 1);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 1); /* the Lock key: no data */
    uint64_t cts = 11; /* max_ts 0 + 1 <= start_ts: start_ts + 1 */
    txn_kv_pair p;
    txn_error e;
    txn_kv_pair_init(&p);
    txn_read_opts o = {.read_ts = cts};
    assert_int_equal(txn_kv_get(h->s, pt_key("a"), &o, &p, &e), BS_EBUSY);
    assert_int_equal(e.kind, TXN_ERR_KEY_BEING_WRITTEN);
    o.read_ts = cts - 1;
    assert_int_equal(txn_kv_get(h->s, pt_key("a"), &o, &p, &e), BS_NOTFOUND);
    if (pt_mode == KV_MODE_RAW) {
        bs_buf v = BS_BUF_INIT;
        assert_int_equal(txn_raw_get(h->s, pt_key("a"), cts, &v, &e), BS_EBUSY);
        bs_buf_free(&v);
    }
    th_apply(h, 1);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.one_pc_commit_ts, cts);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    o.read_ts = cts;
    assert_int_equal(txn_kv_get(h->s, pt_key("a"), &o, &p, &e), BS_OK);
    assert_buf_eq(&p.value, "1");
    txn_kv_pair_deinit(&p);
    pt_res_free(&r);
}

static void test_latches_held_until_apply(void **state)
{
    th *h = *state;
    h->delay = true;
    txn_mutation m = pt_mut(TXN_OP_PUT, "k", V("v"));
    txn_prewrite_req req = pt_req(&m, 1, "k", 10);
    pt_res pr, cr;
    pt_res_init(&pr);
    pt_res_init(&cr);
    txn_kv_prewrite(h->s, &req, pt_cb, &pr);
    assert_int_equal(h->qn, 1);
    bs_slice k = pt_key("k");
    txn_kv_commit(h->s, &k, 1, 10, 11, pt_cb, &cr);
    assert_int_equal(cr.calls, 0);
    assert_int_equal(h->qn, 1); /* waiting on the latch: it has not even read yet */
    th_apply(h, 1);             /* the prewrite applies; the commit runs on this thread */
    assert_int_equal(pr.calls, 1);
    assert_int_equal(pr.n_errors, 0);
    assert_int_equal(cr.calls, 0);
    assert_int_equal(h->qn, 1);
    th_apply(h, 1);
    assert_int_equal(cr.calls, 1);
    assert_int_equal(cr.n_errors, 0); /* it saw the lock: latches spanned the apply */
    must_written(h, "k", 10, 11, KV_WRITE_PUT);
    pt_res_free(&pr);
    pt_res_free(&cr);
}

static void test_waits_for_pending_raw_write(void **state)
{
    th *h = *state;
    if (pt_mode != KV_MODE_RAW)
        return;
    h->delay = true;
    th_res raw;
    th_res_init(&raw);
    txn_raw_put(h->s, pt_key("k"), V("raw"), 0, th_cb, &raw); /* proposed, not applied */
    assert_int_equal(h->qn, 1);
    txn_mutation m = pt_mut(TXN_OP_PUT, "k", V("txn"));
    txn_prewrite_req req = pt_req(&m, 1, "k", 10);
    pt_res r;
    pt_res_init(&r);
    txn_kv_prewrite(h->s, &req, pt_cb, &r);
    assert_int_equal(r.calls, 0);
    assert_int_equal(h->qn, 1); /* waits for the raw write's apply, holding its latch */
    th_apply(h, 1);
    assert_int_equal(raw.calls, 1);
    assert_int_equal(r.calls, 1); /* nothing to propose: answered at once */
    assert_int_equal(r.n_errors, 1);
    assert_int_equal(r.errors[0].kind, TXN_KEY_ERR_WRITE_CONFLICT);
    assert_int_equal(r.errors[0].conflict_commit_ts, raw.ts);
    pt_res_free(&r);
    th_res_free(&raw);
}

static void test_proposal_refused(void **state)
{
    th *h = *state;
    h->refuse = 1;
    txn_mutation m = pt_mut(TXN_OP_PUT, "k", V("v"));
    txn_prewrite_req req = pt_req(&m, 1, "k", 10);
    pt_res r;
    pt_res_init(&r);
    pt_prewrite(h, &req, &r);
    assert_int_equal(r.code, BS_ENOT_LEADER);
    assert_int_equal(r.kind, TXN_ERR_PROPOSAL_FAILED);
    must_unlocked(h, "k");
    must_prewrite_put(h, "k", V("v"), "k", 10); /* latches were released */
    /* A refused 'r' commit leaves nothing in the lock table. */
    h->refuse = 1;
    bs_slice k = pt_key("k");
    pt_res_free(&r);
    txn_kv_commit(h->s, &k, 1, 10, 11, pt_cb, &r);
    assert_int_equal(r.code, BS_ENOT_LEADER);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    must_commit(h, "k", 10, 11);
    pt_res_free(&r);
}

static void test_proposal_failed_after_accept(void **state)
{
    th *h = *state;
    must_prewrite_put(h, "k", V("v"), "k", 10);
    h->delay = true;
    bs_slice k = pt_key("k");
    pt_res r;
    pt_res_init(&r);
    txn_kv_commit(h->s, &k, 1, 10, 11, pt_cb, &r);
    assert_int_equal(r.calls, 0);
    /* An 'r' commit holds its version in the lock table until applied. */
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), pt_mode == KV_MODE_RAW ? 1 : 0);
    if (pt_mode == KV_MODE_RAW) {
        bs_buf v = BS_BUF_INIT;
        txn_error e;
        assert_int_equal(txn_raw_get(h->s, k, 11, &v, &e), BS_EBUSY);
        /* Below the commit's ts the lock itself refuses a raw read (txn.h, "Percolator
         * locks on the raw path"). */
        assert_int_equal(txn_raw_get(h->s, k, 10, &v, &e), BS_EBUSY);
        assert_int_equal(e.kind, TXN_ERR_KEY_IS_LOCKED);
        bs_buf_free(&v);
    }
    th_fail_all(h, BS_ENOT_LEADER);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_ENOT_LEADER);
    assert_int_equal(r.kind, TXN_ERR_PROPOSAL_FAILED);
    assert_int_equal(txn_cm_table_size(txn_store_cm(h->s)), 0);
    must_locked(h, "k", 10, NULL);
    h->delay = false;
    must_commit(h, "k", 10, 11); /* the client retries */
    must_get(h, "k", 11, V("v"));
    pt_res_free(&r);
}

/* ---- concurrency: read-increment-write transactions on one key ---------------------------- */

typedef struct inc_ctx {
    th *h;
    _Atomic uint64_t tso;
    atomic_int done;
    int per_thread;
} inc_ctx;

typedef struct wait_res {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool called;
    pt_res r;
} wait_res;

static void wait_cb(void *arg, const txn_kv_result *res)
{
    wait_res *w = arg;
    pthread_mutex_lock(&w->mu);
    pt_cb(&w->r, res);
    w->called = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void wait_done(wait_res *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->called)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

static void *inc_thread(void *arg)
{
    inc_ctx *c = arg;
    th *h = c->h;
    bs_buf key = BS_BUF_INIT;
    kv_key_v2_append(&key, pt_mode, 0, bs_slice_from_str("counter"));
    for (int n = 0; n < c->per_thread;) {
        uint64_t start = atomic_fetch_add(&c->tso, 1) + 1;
        txn_read_opts o = {.read_ts = start};
        txn_kv_pair p;
        txn_error e;
        txn_kv_pair_init(&p);
        int rc = txn_kv_get(h->s, bs_buf_slice(&key), &o, &p, &e);
        if (rc == BS_EBUSY || (rc == BS_OK && p.has_error)) {
            txn_kv_pair_deinit(&p);
            sched_yield(); /* the owner always finishes its txn: retry */
            continue;
        }
        BS_ASSERT(rc == BS_OK || rc == BS_NOTFOUND);
        long v = rc == BS_OK ? strtol((const char *)p.value.ptr, NULL, 10) : 0;
        txn_kv_pair_deinit(&p);
        char buf[32];
        snprintf(buf, sizeof buf, "%ld", v + 1);
        txn_mutation m = {.op = TXN_OP_PUT, .key = bs_buf_slice(&key),
                          .value = bs_slice_make(buf, strlen(buf) + 1)};
        txn_prewrite_req req = {.mutations = &m, .n_mutations = 1,
                                .primary = bs_buf_slice(&key), .start_ts = start,
                                .lock_ttl = 1000};
        wait_res w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, {0}};
        pt_res_init(&w.r);
        txn_kv_prewrite(h->s, &req, wait_cb, &w);
        wait_done(&w);
        BS_ASSERT(w.r.code == BS_OK);
        bool ok = w.r.n_errors == 0;
        pt_res_free(&w.r);
        if (!ok)
            continue; /* conflict or locked: nothing written, start over */
        uint64_t commit = atomic_fetch_add(&c->tso, 1) + 1;
        bs_slice k = bs_buf_slice(&key);
        w.called = false;
        txn_kv_commit(h->s, &k, 1, start, commit, wait_cb, &w);
        wait_done(&w);
        BS_ASSERT(w.r.code == BS_OK && w.r.n_errors == 0);
        pt_res_free(&w.r);
        n++;
    }
    bs_buf_free(&key);
    atomic_fetch_add(&c->done, 1);
    return NULL;
}

static void test_concurrent_increments(void **state)
{
    enum { THREADS = 4, PER = 40 };
    inc_ctx c = {.h = *state, .per_thread = PER};
    atomic_init(&c.tso, 100);
    atomic_init(&c.done, 0);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, inc_thread, &c), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&c.done), THREADS);
    char want[32];
    snprintf(want, sizeof want, "%d", THREADS * PER);
    must_get(c.h, "counter", atomic_load(&c.tso) + 1, bs_slice_make(want, strlen(want) + 1));
    assert_int_equal(txn_cm_table_size(txn_store_cm(c.h->s)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_BOTH(test_one_pc),
        PT_BOTH(test_one_pc_fallbacks),
        PT_BOTH(test_one_pc_guard),
        PT_BOTH(test_latches_held_until_apply),
        PT_BOTH(test_waits_for_pending_raw_write),
        PT_BOTH(test_proposal_refused),
        PT_BOTH(test_proposal_failed_after_accept),
        PT_BOTH(test_concurrent_increments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
