/* test_raw_locks.c -- the raw path honours Percolator locks (txn.h, "Percolator locks on the
 * raw path"; DESIGN.md "Data model"): a raw read or write of a key an EXEC has prewritten
 * neither reads past nor writes under the lock. While the txn is alive the read is told
 * "key is locked" and the write waits on the store's timer, then is told the same; once
 * the TTL has run out the lock is rolled back and the old value served; once the primary
 * has committed the key is rolled forward and the new value served. Scans honour the locks
 * of the span they cover, Lock-type locks block writes only, and a read's resolution runs
 * once per key however many reads meet the lock.
 *
 * The world here is the harness's in spirit but owns its TSO and timer: timestamps follow
 * the (pinned) wall clock as PD's do, so moving the clock ages a lock's TTL, and the
 * store's timer only queues requests, which the test fires by hand -- nothing waits on
 * real time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "lib/tmpdir.h"
#include "txn/txn_int.h"

#define NOW 1700000000000LL
#define TTL 3000 /* ms, every lock's */

typedef struct held {
    kv_batch *batch;
    txn_proposal_done_fn done;
    void *done_arg;
} held;

typedef struct timer {
    uint64_t ms;
    txn_timer_fn fn;
    void *arg;
} timer;

typedef struct world {
    char *dir;
    kv_engine *e;
    txn_causal_ts *cts;
    txn_store *s;
    int64_t now_ms;  /* the pinned wall clock */
    uint64_t tso;    /* last TSO handed out */
    bool delay;      /* hold proposals until w_apply / w_fail */
    held q[64];
    size_t qn;
    timer t[64];     /* the store's timer requests, fired by hand */
    size_t tn;
} world;

/* ---- the world -------------------------------------------------------------------------- */

/* PD's TSO: physical = wall ms, strictly increasing. */
static uint64_t next_tso(world *w, uint32_t count)
{
    uint64_t base = (uint64_t)w->now_ms << TXN_TSO_LOGICAL_BITS;
    if (base <= w->tso)
        base = w->tso + 1;
    w->tso = base + count - 1;
    return w->tso;
}

static void tso_fetch(void *arg, uint32_t count, txn_tso_done_fn done, void *done_arg)
{
    world *w = arg;
    done(done_arg, BS_OK, next_tso(w, count));
}

static int propose(void *arg, kv_batch *b, txn_proposal_done_fn done, void *done_arg,
                   bs_err *err)
{
    world *w = arg;
    (void)err;
    if (w->delay) {
        assert_true(w->qn < 64);
        w->q[w->qn++] = (held){b, done, done_arg};
        return BS_OK;
    }
    bs_err e;
    int rc = kv_engine_write(w->e, b, false, &e);
    kv_batch_free(b);
    done(done_arg, rc, rc == BS_OK ? NULL : &e);
    return BS_OK;
}

static void after(void *arg, uint64_t ms, txn_timer_fn fn, void *fn_arg)
{
    world *w = arg;
    assert_true(w->tn < 64);
    w->t[w->tn++] = (timer){ms, fn, fn_arg};
}

/* Fires the oldest timer request; returns its delay. */
static uint64_t w_fire(world *w, bool cancelled)
{
    assert_true(w->tn > 0);
    timer t = w->t[0];
    memmove(w->t, w->t + 1, (w->tn - 1) * sizeof(timer));
    w->tn--;
    t.fn(t.arg, cancelled);
    return t.ms;
}

static size_t w_apply(world *w)
{
    size_t n = 0;
    while (w->qn) {
        held p = w->q[0];
        memmove(w->q, w->q + 1, (w->qn - 1) * sizeof(held));
        w->qn--;
        bs_err e;
        assert_int_equal(kv_engine_write(w->e, p.batch, false, &e), BS_OK);
        kv_batch_free(p.batch);
        p.done(p.done_arg, BS_OK, NULL);
        n++;
    }
    return n;
}

static size_t w_fail(world *w, int code)
{
    size_t n = 0;
    while (w->qn) {
        held p = w->q[0];
        memmove(w->q, w->q + 1, (w->qn - 1) * sizeof(held));
        w->qn--;
        bs_err e;
        bs_err_setf(&e, code, "failed by the test");
        kv_batch_free(p.batch);
        p.done(p.done_arg, code, &e);
        n++;
    }
    return n;
}

/* Moves the wall clock; the causal source refetches so its ts follow (as after a leader
 * change: a TSO fetched earlier would make locks look younger than they are). */
static void w_advance(world *w, int64_t ms)
{
    w->now_ms += ms;
    bs_clock_set_wall_override(w->now_ms);
    txn_causal_ts_flush(w->cts, NULL, NULL); /* answered at once */
}

static int setup(void **state)
{
    world *w = bs_calloc(1, sizeof(*w));
    kv_options o;
    bs_err err;
    w->now_ms = NOW;
    bs_clock_set_wall_override(NOW);
    w->dir = tu_dir_new("rawlocks");
    kv_options_init(&o);
    o.block_cache_size = 1 << 20;
    o.write_buffer_size = 1 << 20;
    if (kv_engine_open(w->dir, &o, &w->e, &err) != BS_OK)
        fail_msg("open: %s", err.msg);
    w->cts = txn_causal_ts_new(tso_fetch, w, 16);
    txn_store_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.engine = w->e;
    cfg.causal_ts = w->cts;
    cfg.propose = propose;
    cfg.propose_arg = w;
    w->s = txn_store_new(&cfg);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    world *w = *state;
    while (w->qn || w->tn) {
        (void)w_fail(w, BS_ENOT_LEADER);
        while (w->tn)
            (void)w_fire(w, true);
    }
    txn_store_free(w->s); /* asserts no resolution is still running */
    txn_causal_ts_free(w->cts);
    kv_engine_close(w->e);
    tu_dir_remove(w->dir);
    bs_clock_set_wall_override(-1);
    bs_free(w);
    return 0;
}

/* ---- keys, values, results --------------------------------------------------------------- */

/* The API v2 key of user (keyspace 0), from a ring of buffers. */
static bs_slice key(const char *user)
{
    static bs_buf ring[16];
    static size_t next;
    bs_buf *b = &ring[next++ % 16];
    bs_buf_reset(b);
    kv_key_v2_append(b, KV_MODE_RAW, 0, bs_slice_from_str(user));
    return bs_buf_slice(b);
}

static bs_slice S(const char *s)
{
    return bs_slice_from_str(s);
}

typedef struct res {
    int calls, code;
    txn_error_kind kind;
    int64_t integer;
    bool flag;
    uint64_t count;
} res;

static void res_cb(void *arg, const txn_result *r)
{
    res *x = arg;
    x->calls++;
    x->code = r->code;
    x->kind = r->error.kind;
    x->integer = r->rmw.integer;
    x->flag = r->succeed;
}

static void multi_cb(void *arg, const txn_multi_result *r)
{
    res *x = arg;
    x->calls++;
    x->code = r->code;
    x->kind = r->error.kind;
    x->count = r->count;
    x->flag = r->applied;
}

typedef struct kres {
    int calls, code;
    size_t n_errors;
    txn_key_error_kind first;
} kres;

static void kres_cb(void *arg, const txn_kv_result *r)
{
    kres *x = arg;
    x->calls++;
    x->code = r->code;
    x->n_errors = r->n_errors;
    x->first = r->n_errors ? r->errors[0].kind : TXN_KEY_ERR_NONE;
}

static void must_put(world *w, const char *k, const char *v)
{
    res r = {0};
    txn_raw_put(w->s, key(k), S(v), 0, res_cb, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_OK);
}

static void must_get(world *w, const char *k, const char *v)
{
    bs_buf out = BS_BUF_INIT;
    txn_error e;
    int rc = txn_raw_get(w->s, key(k), 0, &out, &e);
    if (rc != BS_OK)
        fail_msg("get %s: %d %s", k, rc, e.msg);
    assert_int_equal(out.len, strlen(v));
    assert_memory_equal(out.ptr, v, out.len);
    bs_buf_free(&out);
}

static void must_get_locked(world *w, const char *k)
{
    bs_buf out = BS_BUF_INIT;
    txn_error e;
    assert_int_equal(txn_raw_get(w->s, key(k), 0, &out, &e), BS_EBUSY);
    assert_int_equal(e.kind, TXN_ERR_KEY_IS_LOCKED);
    assert_int_equal(out.len, 0);
    bs_buf_free(&out);
}

static bool locked(world *w, const char *k)
{
    txn_lock_info li;
    txn_error e;
    txn_lock_info_init(&li);
    int rc = txn_kv_load_lock(w->s, key(k), &li, &e);
    assert_true(rc == BS_OK || rc == BS_NOTFOUND);
    txn_lock_info_deinit(&li);
    return rc == BS_OK;
}

/* Prewrites keys[i] (op, value "new-<key>") of one txn with the given primary; returns
 * its start_ts. */
static uint64_t prewrite(world *w, const char *const *keys, size_t n, txn_op op,
                         const char *primary)
{
    txn_mutation m[8];
    char vals[8][32];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        memset(&m[i], 0, sizeof(m[i]));
        snprintf(vals[i], sizeof vals[i], "new-%s", keys[i]);
        m[i].op = op;
        m[i].key = key(keys[i]);
        m[i].value = op == TXN_OP_PUT ? S(vals[i]) : BS_SLICE_NULL;
    }
    txn_prewrite_req q;
    memset(&q, 0, sizeof(q));
    q.mutations = m;
    q.n_mutations = n;
    q.primary = key(primary);
    q.start_ts = next_tso(w, 1);
    q.lock_ttl = TTL;
    bool delay = w->delay;
    w->delay = false;
    kres r = {0};
    txn_kv_prewrite(w->s, &q, kres_cb, &r);
    w->delay = delay;
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.n_errors, 0);
    return q.start_ts;
}

static uint64_t prewrite_put(world *w, const char *k, const char *primary)
{
    return prewrite(w, &k, 1, TXN_OP_PUT, primary);
}

/* Commits keys of txn start_ts; returns the key error kind (NONE on success). */
static txn_key_error_kind commit(world *w, const char *k, uint64_t start_ts)
{
    bs_slice ks = key(k);
    kres r = {0};
    txn_kv_commit(w->s, &ks, 1, start_ts, next_tso(w, 1), kres_cb, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_OK);
    return r.first;
}

/* ---- reads -------------------------------------------------------------------------------- */

static void test_read_refused_while_alive(void **state)
{
    world *w = *state;
    must_put(w, "k", "old");
    must_put(w, "other", "x");
    (void)prewrite_put(w, "k", "k");
    must_get_locked(w, "k");
    assert_true(locked(w, "k")); /* the owner is alive: the resolution left it alone */
    must_get(w, "other", "x");  /* only the locked key is refused */

    txn_error e;
    uint64_t ttl;
    assert_int_equal(txn_raw_get_key_ttl(w->s, key("k"), 0, &ttl, &e), BS_EBUSY);
    assert_int_equal(e.kind, TXN_ERR_KEY_IS_LOCKED);
    txn_pairs pairs;
    txn_pairs_init(&pairs);
    bs_slice ks[2] = {key("other"), key("k")};
    assert_int_equal(txn_raw_batch_get(w->s, ks, 2, 0, &pairs, &e), BS_EBUSY);
    assert_int_equal(e.kind, TXN_ERR_KEY_IS_LOCKED);
    assert_int_equal(pairs.n, 0); /* refused as a whole: nothing appended */
    txn_pairs_free(&pairs);
}

static void test_read_after_ttl_rolls_back(void **state)
{
    world *w = *state;
    must_put(w, "k", "old");
    uint64_t start = prewrite_put(w, "k", "k");
    w_advance(w, TTL - 1000);
    must_get_locked(w, "k"); /* still inside its TTL */
    assert_true(locked(w, "k"));
    w_advance(w, 2000);
    must_get_locked(w, "k"); /* this read found the lock; its resolution rolled it back */
    assert_false(locked(w, "k"));
    must_get(w, "k", "old");
    /* The txn can never commit now (a protected rollback on its primary). */
    assert_int_not_equal(commit(w, "k", start), TXN_KEY_ERR_NONE);
    must_get(w, "k", "old");
}

static void test_read_rolls_forward_committed_primary(void **state)
{
    world *w = *state;
    must_put(w, "k", "old");
    const char *keys[2] = {"p", "k"};
    uint64_t start = prewrite(w, keys, 2, TXN_OP_PUT, "p");
    assert_int_equal(commit(w, "p", start), TXN_KEY_ERR_NONE); /* the EXEC replied here */
    must_get(w, "p", "new-p");
    must_get_locked(w, "k"); /* resolved from the primary: k committed */
    assert_false(locked(w, "k"));
    must_get(w, "k", "new-k");
}

static void test_lock_type_lock_blocks_writes_only(void **state)
{
    world *w = *state;
    must_put(w, "r", "read-by-exec");
    (void)prewrite(w, (const char *const[]){"r"}, 1, TXN_OP_LOCK, "r");
    must_get(w, "r", "read-by-exec"); /* a Lock mutation changes no value */
    res r = {0};
    txn_raw_put(w->s, key("r"), S("x"), 0, res_cb, &r); /* no timer: no wait */
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_EBUSY);
    assert_int_equal(r.kind, TXN_ERR_KEY_IS_LOCKED);
    must_get(w, "r", "read-by-exec");
    /* EXISTS is a read too; DEL is a write. */
    res m = {0};
    txn_multi_req q = {TXN_MULTI_EXISTS, (bs_slice[]){key("r")}, NULL, 1, 0};
    txn_raw_multi(w->s, &q, multi_cb, &m);
    assert_int_equal(m.code, BS_OK);
    assert_int_equal(m.count, 1);
    memset(&m, 0, sizeof(m));
    q.op = TXN_MULTI_DEL;
    txn_raw_multi(w->s, &q, multi_cb, &m);
    assert_int_equal(m.code, BS_EBUSY);
    assert_int_equal(m.kind, TXN_ERR_KEY_IS_LOCKED);
    must_get(w, "r", "read-by-exec");
}

static void test_scan_honours_locks_in_its_span(void **state)
{
    world *w = *state;
    must_put(w, "a", "1");
    must_put(w, "b", "2");
    must_put(w, "c", "3");
    must_put(w, "d", "4");
    (void)prewrite_put(w, "c", "c");
    txn_pairs out;
    txn_error e;
    txn_pairs_init(&out);
    txn_scan_req q = {key("a"), BS_SLICE_NULL, 0, false, false, 0};
    assert_int_equal(txn_raw_scan(w->s, &q, &out, &e), BS_EBUSY);
    assert_int_equal(e.kind, TXN_ERR_KEY_IS_LOCKED);
    assert_int_equal(out.n, 0); /* a refused scan appends nothing */
    q.limit = 2; /* a, b: the lock lies past what the answer covers */
    assert_int_equal(txn_raw_scan(w->s, &q, &out, &e), BS_OK);
    assert_int_equal(out.n, 2);
    txn_pairs_free(&out);
    q.limit = 3; /* a, b, c */
    assert_int_equal(txn_raw_scan(w->s, &q, &out, &e), BS_EBUSY);
    assert_int_equal(out.n, 0);
    /* Reverse from the end: d alone is fine, d and c are not. */
    txn_scan_req r = {BS_SLICE_NULL, key("a"), 1, false, true, 0};
    assert_int_equal(txn_raw_scan(w->s, &r, &out, &e), BS_OK);
    assert_int_equal(out.n, 1);
    txn_pairs_free(&out);
    r.limit = 2;
    assert_int_equal(txn_raw_scan(w->s, &r, &out, &e), BS_EBUSY);
    /* A locked key without any version yet (an EXEC creating it) is in the span too. */
    (void)prewrite_put(w, "aa", "aa");
    txn_scan_req s2 = {key("a"), key("b"), 0, false, false, 0};
    assert_int_equal(txn_raw_scan(w->s, &s2, &out, &e), BS_EBUSY);
    txn_checksum cs;
    assert_int_equal(txn_raw_checksum(w->s, &q, 1, 0, &cs, &e), BS_EBUSY);
    assert_int_equal(e.kind, TXN_ERR_KEY_IS_LOCKED);
    txn_pairs_free(&out);
}

static void test_read_resolution_runs_once_per_key(void **state)
{
    world *w = *state;
    must_put(w, "k", "old");
    (void)prewrite_put(w, "k", "k");
    w_advance(w, TTL + 1000);
    w->delay = true;
    must_get_locked(w, "k"); /* starts the rollback: a proposal */
    assert_int_equal(w->qn, 1);
    must_get_locked(w, "k"); /* the running resolution covers this read */
    must_get_locked(w, "k");
    assert_int_equal(w->qn, 1);
    assert_int_equal(w_apply(w), 1);
    must_get(w, "k", "old");
}

/* ---- writes ------------------------------------------------------------------------------- */

static void test_write_refused_without_timer(void **state)
{
    world *w = *state;
    must_put(w, "k", "old");
    (void)prewrite_put(w, "k", "k");
    res r = {0};
    txn_raw_put(w->s, key("k"), S("raw"), 0, res_cb, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_EBUSY);
    assert_int_equal(r.kind, TXN_ERR_KEY_IS_LOCKED);
    assert_true(locked(w, "k"));
    assert_int_equal(txn_cm_table_size(txn_store_cm(w->s)), 0);
    w_advance(w, TTL + 1000);
    must_get_locked(w, "k"); /* rolls it back */
    must_get(w, "k", "old");
}

static void test_write_waits_then_gives_up(void **state)
{
    world *w = *state;
    txn_store_set_timer(w->s, after, w, 10);
    must_put(w, "k", "old");
    (void)prewrite_put(w, "k", "k");
    res r = {0};
    txn_raw_put(w->s, key("k"), S("raw"), 0, res_cb, &r);
    assert_int_equal(r.calls, 0); /* waiting on the timer */
    assert_int_equal(w->tn, 1);
    /* Growing delays, cut to the budget: 2 + 4 + 4 = 10 ms. */
    assert_int_equal(w_fire(w, false), 2);
    assert_int_equal(r.calls, 0);
    assert_int_equal(w_fire(w, false), 4);
    assert_int_equal(r.calls, 0);
    assert_int_equal(w_fire(w, false), 4);
    assert_int_equal(r.calls, 1);
    assert_int_equal(w->tn, 0);
    assert_int_equal(r.code, BS_EBUSY);
    assert_int_equal(r.kind, TXN_ERR_KEY_IS_LOCKED);
    assert_true(locked(w, "k"));
    must_get_locked(w, "k");

    /* A timer that stops answers at once, writing nothing. */
    memset(&r, 0, sizeof(r));
    txn_raw_put(w->s, key("k"), S("raw"), 0, res_cb, &r);
    assert_int_equal(w->tn, 1);
    (void)w_fire(w, true);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.kind, TXN_ERR_KEY_IS_LOCKED);
}

static void test_write_waits_for_commit(void **state)
{
    world *w = *state;
    txn_store_set_timer(w->s, after, w, 100);
    must_put(w, "k", "old");
    uint64_t start = prewrite_put(w, "k", "k");
    res r = {0};
    txn_raw_put(w->s, key("k"), S("raw"), 0, res_cb, &r);
    assert_int_equal(r.calls, 0);
    assert_int_equal(commit(w, "k", start), TXN_KEY_ERR_NONE); /* the EXEC finishes */
    (void)w_fire(w, false);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(w->tn, 0);
    must_get(w, "k", "raw"); /* ordered after the txn: above its commit_ts */
}

static void test_write_after_ttl_rolls_back(void **state)
{
    world *w = *state;
    must_put(w, "k", "old");
    uint64_t start = prewrite_put(w, "k", "k");
    w_advance(w, TTL + 1000);
    res r = {0};
    txn_raw_put(w->s, key("k"), S("raw"), 0, res_cb, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_OK);
    assert_false(locked(w, "k"));
    must_get(w, "k", "raw");
    assert_int_not_equal(commit(w, "k", start), TXN_KEY_ERR_NONE);
    must_get(w, "k", "raw");
}

static void test_rmw_cas_multi_roll_forward(void **state)
{
    world *w = *state;
    const char *keys[4] = {"p", "n", "c", "m"};
    uint64_t start = prewrite(w, keys, 4, TXN_OP_PUT, "p");
    assert_int_equal(commit(w, "p", start), TXN_KEY_ERR_NONE);
    /* APPEND rolls n forward first: the new length proves it appended to the committed
     * value, not to the absent one. */
    txn_rmw_params p;
    memset(&p, 0, sizeof(p));
    p.op = TXN_RMW_APPEND;
    p.arg = S("+1");
    res r = {0};
    txn_raw_rmw(w->s, key("n"), &p, res_cb, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.integer, 7); /* "new-n+1" */
    must_get(w, "n", "new-n+1");
    /* CAS compares against the rolled-forward value. */
    txn_cas_req cq;
    memset(&cq, 0, sizeof(cq));
    cq.key = key("c");
    cq.previous_value = S("new-c");
    cq.value = S("swapped");
    memset(&r, 0, sizeof(r));
    txn_raw_cas(w->s, &cq, res_cb, &r);
    assert_int_equal(r.code, BS_OK);
    assert_true(r.flag);
    must_get(w, "c", "swapped");
    /* RENAME m -> m2 moves the rolled-forward value. */
    res m = {0};
    txn_multi_req q = {TXN_MULTI_RENAME, (bs_slice[]){key("m"), key("m2")}, NULL, 2, 0};
    txn_raw_multi(w->s, &q, multi_cb, &m);
    assert_int_equal(m.calls, 1);
    assert_int_equal(m.code, BS_OK);
    must_get(w, "m2", "new-m");
    assert_false(locked(w, "n") || locked(w, "c") || locked(w, "m"));
}

static void test_write_resolution_fails(void **state)
{
    world *w = *state;
    must_put(w, "k", "old");
    (void)prewrite_put(w, "k", "k");
    w_advance(w, TTL + 1000);
    w->delay = true;
    res r = {0};
    txn_raw_put(w->s, key("k"), S("raw"), 0, res_cb, &r);
    assert_int_equal(w->qn, 1); /* the rollback of the expired txn */
    assert_int_equal(r.calls, 0);
    assert_int_equal(w_fail(w, BS_ENOT_LEADER), 1);
    /* A region error the client retries; the raw write itself was never proposed. */
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_ENOT_LEADER);
    assert_int_equal(r.kind, TXN_ERR_PROPOSAL_FAILED);
    assert_int_equal(w->qn, 0);
    w->delay = false;
    must_get_locked(w, "k");
    must_get(w, "k", "old");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_refused_while_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_after_ttl_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_rolls_forward_committed_primary, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lock_type_lock_blocks_writes_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_honours_locks_in_its_span, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_resolution_runs_once_per_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_refused_without_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_waits_then_gives_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_waits_for_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_after_ttl_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rmw_cas_multi_roll_forward, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_resolution_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
