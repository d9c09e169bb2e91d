/* test_txn.c -- Percolator transactions through the client (client.h's last section) over
 * one real store with several Regions and an in-process PD: one-phase and two-phase
 * commits (also of a txn cut by a split the client had not seen, and of one larger than a
 * request), secondaries committed in the background, write conflicts, WATCH assertions
 * (a raw write, a delete, an expiry), Lock mutations of read keys against write skew, lock
 * resolution of an abandoned txn (rolled back after its TTL, moved by the test clock) and
 * of a txn whose primary committed, reads overlaid with the write buffer, TSO batching,
 * the GC safe point registration, and concurrent counters. Waits are bounded; nothing
 * asserts on time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client/client_env.h"
#include "client/client_int.h"
#include "common/clock.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
#define WAIT_MS 60000

static const ce_layout three = {.pd_splits = L("g", "p")}; /* a-f | g-o | p-z */

/* ---- the world: ce plus the transaction layer ---------------------------------------------- */

typedef struct tenv {
    ce v;
    client_txns *t;
} tenv;

static void tenv_open_with(tenv *e, const ce_layout *layout, const client_txns_options *o)
{
    ce_open(&e->v, layout, 0);
    bs_err err;
    if (client_txns_new(e->v.c, o, &e->t, &err) != BS_OK)
        fail_msg("client_txns_new: %s", err.msg);
}

static void tenv_open(tenv *e, const ce_layout *layout, uint64_t lock_ttl_ms)
{
    client_txns_options o;
    client_txns_options_init(&o);
    if (lock_ttl_ms)
        o.lock_ttl_ms = lock_ttl_ms;
    tenv_open_with(e, layout, &o);
}

static void tenv_close(tenv *e)
{
    client_txns_free(e->t);
    ce_close(&e->v);
}

/* ---- waiting for callbacks ----------------------------------------------------------------- */

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    int code;
    char msg[BS_ERR_MSG_MAX];
    client_txn *txn;
    client_txn_result res;
    client_watch w;
    uint64_t ts;
    /* raw txn_kv_* results */
    size_t n_errors;
    txn_key_error_kind first_error;
    uint64_t commit_ts;
} waiter;

static void waiter_init(waiter *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static void waiter_signal(waiter *w)
{
    w->calls++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void waiter_wait(waiter *w)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    while (w->calls == 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    int calls = w->calls;
    pthread_mutex_unlock(&w->mu);
    if (calls != 1)
        fail_msg("callback called %d times", calls);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

static void on_begin(void *arg, int code, client_txn *txn, const char *msg)
{
    waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->code = code;
    w->txn = txn;
    snprintf(w->msg, sizeof w->msg, "%s", msg);
    waiter_signal(w);
}

static void on_commit(void *arg, const client_txn_result *res)
{
    waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->res = *res;
    waiter_signal(w);
}

static void on_watch(void *arg, int code, const client_watch *cw, const char *msg)
{
    waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->code = code;
    if (cw)
        w->w = *cw;
    snprintf(w->msg, sizeof w->msg, "%s", msg);
    waiter_signal(w);
}

static void on_ts(void *arg, int code, uint64_t ts)
{
    waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->code = code;
    w->ts = ts;
    waiter_signal(w);
}

static void on_kv(void *arg, const txn_kv_result *res)
{
    waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->code = res->code;
    w->n_errors = res->n_errors;
    w->first_error = res->n_errors ? res->errors[0].kind : TXN_KEY_ERR_NONE;
    w->commit_ts = res->commit_ts;
    snprintf(w->msg, sizeof w->msg, "%s", res->error.msg);
    waiter_signal(w);
}

/* ---- synchronous helpers (keyspace 0, C-string keys) ------------------------------------- */

static client_txn *must_begin(tenv *e, bool serializable)
{
    waiter w;
    waiter_init(&w);
    client_txn_options o = {serializable};
    client_txn_begin(e->t, &o, on_begin, &w);
    waiter_wait(&w);
    if (w.code != BS_OK)
        fail_msg("begin: %d %s", w.code, w.msg);
    assert_non_null(w.txn);
    assert_true(client_txn_start_ts(w.txn) > 0);
    return w.txn;
}

static uint64_t must_ts(tenv *e)
{
    waiter w;
    waiter_init(&w);
    client_tso_get(e->t, on_ts, &w);
    waiter_wait(&w);
    assert_int_equal(w.code, BS_OK);
    return w.ts;
}

static int tx_get(client_txn *txn, const char *key, ce_res *r)
{
    ce_res_free(r);
    client_txn_get(txn, 0, bs_slice_from_str(key), ce_cb, r);
    ce_wait(r);
    return r->code;
}

static void tx_must_get(client_txn *txn, const char *key, const char *value)
{
    ce_res r;
    ce_res_init(&r);
    if (tx_get(txn, key, &r) != BS_OK)
        fail_msg("txn get %s: %d %s", key, r.code, r.msg);
    ce_assert_buf(&r.value, value);
    ce_res_free(&r);
}

static void tx_must_not_found(client_txn *txn, const char *key)
{
    ce_res r;
    ce_res_init(&r);
    assert_int_equal(tx_get(txn, key, &r), BS_NOTFOUND);
    ce_res_free(&r);
}

static void tx_put(client_txn *txn, const char *key, const char *value)
{
    bs_err err;
    if (client_txn_put(txn, 0, bs_slice_from_str(key), bs_slice_from_str(value), 0, &err) != BS_OK)
        fail_msg("txn put %s: %s", key, err.msg);
}

static void tx_del(client_txn *txn, const char *key)
{
    assert_int_equal(client_txn_delete(txn, 0, bs_slice_from_str(key), NULL), BS_OK);
}

static client_txn_result tx_commit(client_txn *txn)
{
    waiter w;
    waiter_init(&w);
    client_txn_commit(txn, on_commit, &w);
    waiter_wait(&w);
    return w.res;
}

static client_txn_result tx_commit_free(client_txn *txn)
{
    client_txn_result res = tx_commit(txn);
    client_txn_free(txn);
    return res;
}

static void must_commit(client_txn *txn)
{
    client_txn_result res = tx_commit_free(txn);
    if (res.error != CLIENT_TXN_OK)
        fail_msg("commit: error %d code %d %s", res.error, res.code, res.msg);
    assert_int_equal(res.code, BS_OK);
}

static client_watch must_watch(tenv *e, const char *key)
{
    waiter w;
    waiter_init(&w);
    client_watch_get(e->t, 0, bs_slice_from_str(key), on_watch, &w);
    waiter_wait(&w);
    if (w.code != BS_OK)
        fail_msg("watch %s: %d %s", key, w.code, w.msg);
    return w.w;
}

static void tx_watch(client_txn *txn, const char *key, const client_watch *w)
{
    assert_int_equal(client_txn_watch(txn, 0, bs_slice_from_str(key), w, NULL), BS_OK);
}

/* The Percolator lock on user key (keyspace 0): BS_OK (locked) or BS_NOTFOUND. */
static int lock_of(tenv *e, const char *key)
{
    bs_buf k = BS_BUF_INIT;
    txn_lock_info li;
    txn_lock_info_init(&li);
    kv_key_v2_append(&k, KV_MODE_RAW, 0, bs_slice_from_str(key));
    int rc = txn_kv_load_lock(e->v.txn, bs_buf_slice(&k), &li, NULL);
    txn_lock_info_deinit(&li);
    bs_buf_free(&k);
    return rc;
}

static void must_idle(tenv *e)
{
    assert_true(client_txns_wait_idle(e->t, WAIT_MS));
}

/* Prewrites one key directly on the store, as a coordinator that then vanishes would. */
static void raw_prewrite(tenv *e, const char *primary, const char *key, const char *value,
                         uint64_t start_ts, uint64_t ttl_ms)
{
    bs_buf k = BS_BUF_INIT, p = BS_BUF_INIT;
    kv_key_v2_append(&k, KV_MODE_RAW, 0, bs_slice_from_str(key));
    kv_key_v2_append(&p, KV_MODE_RAW, 0, bs_slice_from_str(primary));
    txn_mutation m;
    memset(&m, 0, sizeof(m));
    m.op = TXN_OP_PUT;
    m.key = bs_buf_slice(&k);
    m.value = bs_slice_from_str(value);
    txn_prewrite_req q;
    memset(&q, 0, sizeof(q));
    q.mutations = &m;
    q.n_mutations = 1;
    q.primary = bs_buf_slice(&p);
    q.start_ts = start_ts;
    q.lock_ttl = ttl_ms;
    q.txn_size = 2;
    q.min_commit_ts = start_ts + 1;
    waiter w;
    waiter_init(&w);
    txn_kv_prewrite(e->v.txn, &q, on_kv, &w);
    waiter_wait(&w);
    assert_int_equal(w.code, BS_OK);
    assert_int_equal(w.n_errors, 0);
    bs_buf_free(&k);
    bs_buf_free(&p);
}

static void raw_commit(tenv *e, const char *key, uint64_t start_ts, uint64_t commit_ts)
{
    bs_buf k = BS_BUF_INIT;
    kv_key_v2_append(&k, KV_MODE_RAW, 0, bs_slice_from_str(key));
    bs_slice ks = bs_buf_slice(&k);
    waiter w;
    waiter_init(&w);
    txn_kv_commit(e->v.txn, &ks, 1, start_ts, commit_ts, on_kv, &w);
    waiter_wait(&w);
    assert_int_equal(w.code, BS_OK);
    assert_int_equal(w.n_errors, 0);
    bs_buf_free(&k);
}

static int raw_delete(tenv *e, const char *key)
{
    ce_res r;
    ce_res_init(&r);
    client_delete(e->v.c, 0, bs_slice_from_str(key), ce_cb, &r);
    ce_wait(&r);
    int rc = r.code;
    ce_res_free(&r);
    return rc;
}

/* ---- commits ----------------------------------------------------------------------------- */

/* All keys in one Region: the prewrite is the commit. */
static void test_one_pc(void **state)
{
    (void)state;
    tenv e;
    tenv_open(&e, NULL, 0);
    ce_must_put(&e.v, 0, "gone", "old");
    client_txn *txn = must_begin(&e, false);
    uint64_t start_ts = client_txn_start_ts(txn);
    tx_put(txn, "a", "1");
    tx_put(txn, "b", "2");
    tx_del(txn, "gone");
    client_txn_result res = tx_commit_free(txn);
    assert_int_equal(res.error, CLIENT_TXN_OK);
    assert_true(res.one_pc);
    assert_true(res.commit_ts > start_ts);
    /* Raw reads see the commit at once: nothing is left to resolve after a 1PC. */
    ce_must_get(&e.v, 0, "a", "1");
    ce_must_get(&e.v, 0, "b", "2");
    ce_must_not_found(&e.v, 0, "gone");
    assert_int_equal(lock_of(&e, "a"), BS_NOTFOUND);
    client_txns_stats st;
    client_txns_stats_get(e.t, &st);
    assert_int_equal(st.committed, 1);
    assert_int_equal(st.one_pc, 1);
    assert_int_equal(st.running, 0);
    /* An empty txn commits without writing. */
    txn = must_begin(&e, false);
    res = tx_commit_free(txn);
    assert_int_equal(res.error, CLIENT_TXN_OK);
    assert_int_equal(res.commit_ts, 0);
    tenv_close(&e);
}

/* Keys in three Regions: 2PC; right after the reply a later txn reads every key (a
 * secondary still locked is resolved from the committed primary), and once the background
 * work is done no lock is left and raw reads agree. */
static void test_multi_region_commit(void **state)
{
    (void)state;
    tenv e;
    tenv_open(&e, &three, 0);
    ce_must_put(&e.v, 0, "z", "old");
    client_txn *txn = must_begin(&e, false);
    tx_put(txn, "a", "va");
    tx_put(txn, "h", "vh");
    tx_put(txn, "q", "vq");
    tx_del(txn, "z");
    client_txn_result res = tx_commit_free(txn);
    assert_int_equal(res.error, CLIENT_TXN_OK);
    assert_false(res.one_pc);
    client_txn *r = must_begin(&e, false);
    assert_true(client_txn_start_ts(r) > res.commit_ts);
    tx_must_get(r, "a", "va");
    tx_must_get(r, "h", "vh");
    tx_must_get(r, "q", "vq");
    tx_must_not_found(r, "z");
    client_txn_free(r);
    must_idle(&e);
    const char *keys[] = {"a", "h", "q", "z"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(lock_of(&e, keys[i]), BS_NOTFOUND);
    ce_must_get(&e.v, 0, "h", "vh");
    ce_must_get(&e.v, 0, "q", "vq");
    ce_must_not_found(&e.v, 0, "z");
    client_txns_stats st;
    client_txns_stats_get(e.t, &st);
    assert_int_equal(st.one_pc, 0);
    assert_int_equal(st.committed, 1);
    tenv_close(&e);
}

/* The store splits after the client cached its one Region: the prewrite is refused
 * (the keys no longer share a Region), cut along the new Regions and retried. A txn
 * larger than one request goes in several parts, hence without 1PC. */
static void test_commit_after_split(void **state)
{
    (void)state;
    tenv e;
    tenv_open(&e, NULL, 0);
    ce_must_put(&e.v, 0, "a", "warm"); /* the cache now holds the one Region */
    ce_must_get(&e.v, 0, "a", "warm");
    ce_split(&e.v, "a", L("g", "p"));
    client_txn *txn = must_begin(&e, false);
    tx_put(txn, "a", "1");
    tx_put(txn, "h", "2");
    tx_put(txn, "q", "3");
    client_txn_result res = tx_commit_free(txn);
    assert_int_equal(res.error, CLIENT_TXN_OK);
    assert_false(res.one_pc);
    must_idle(&e);
    ce_must_get(&e.v, 0, "a", "1");
    ce_must_get(&e.v, 0, "h", "2");
    ce_must_get(&e.v, 0, "q", "3");

    /* 600 keys in Region [g, p): three requests. */
    txn = must_begin(&e, false);
    for (int i = 0; i < 600; i++) {
        char k[16], val[16];
        snprintf(k, sizeof k, "k%04d", i);
        snprintf(val, sizeof val, "v%d", i);
        tx_put(txn, k, val);
    }
    res = tx_commit_free(txn);
    assert_int_equal(res.error, CLIENT_TXN_OK);
    assert_false(res.one_pc);
    must_idle(&e);
    ce_res r;
    ce_res_init(&r);
    assert_int_equal(ce_scan(&e.v, 0, "k", "l", 1000, false, false, &r), BS_OK);
    assert_int_equal(r.pairs.n, 600);
    ce_assert_buf(&r.pairs.v[599].value, "v599");
    ce_res_free(&r);
    assert_int_equal(lock_of(&e, "k0300"), BS_NOTFOUND);
    tenv_close(&e);
}

/* ---- conflicts ---------------------------------------------------------------------------- */

static void test_write_conflict(void **state)
{
    (void)state;
    for (int layout = 0; layout < 2; layout++) {
        tenv e;
        tenv_open(&e, layout ? &three : NULL, 0);
        /* Two txns read and write k; the second to commit conflicts and leaves nothing
         * behind. (Blind writers need not conflict: with 1PC the first may commit at or
         * below the second's start_ts, which is a valid serial order. A read raises the
         * store's max_ts to start_ts, so any later commit lands above it.) */
        client_txn *t1 = must_begin(&e, false), *t2 = must_begin(&e, false);
        tx_must_not_found(t1, "k");
        tx_must_not_found(t2, "k");
        tx_put(t1, "k", "one");
        tx_put(t1, "a", "one");
        tx_put(t2, "k", "two");
        tx_put(t2, "q", "two");
        must_commit(t1);
        client_txn_result res = tx_commit_free(t2);
        assert_int_equal(res.error, CLIENT_TXN_ERR_CONFLICT);
        assert_int_not_equal(res.code, BS_OK);
        must_idle(&e);
        ce_must_get(&e.v, 0, "k", "one");
        ce_must_not_found(&e.v, 0, "q");
        assert_int_equal(lock_of(&e, "k"), BS_NOTFOUND);
        assert_int_equal(lock_of(&e, "q"), BS_NOTFOUND);
        /* A raw write after the txn read conflicts too; re-running with a fresh start_ts
         * (what RESP does for an unwatched key) succeeds. */
        client_txn *t3 = must_begin(&e, false);
        tx_must_get(t3, "k", "one");
        ce_must_put(&e.v, 0, "k", "raw");
        tx_put(t3, "k", "three");
        tx_put(t3, "h", "three");
        res = tx_commit_free(t3);
        assert_int_equal(res.error, CLIENT_TXN_ERR_CONFLICT);
        ce_must_get(&e.v, 0, "k", "raw");
        client_txn *t4 = must_begin(&e, false);
        tx_put(t4, "k", "three");
        tx_put(t4, "h", "three");
        must_commit(t4);
        must_idle(&e);
        ce_must_get(&e.v, 0, "k", "three");
        client_txns_stats st;
        client_txns_stats_get(e.t, &st);
        assert_int_equal(st.conflicts, 2);
        tenv_close(&e);
    }
}

/* WATCH: a raw write, a raw delete or an expiry after WATCH fails EXEC (WATCH error, not a
 * conflict); an untouched key, or an absent one staying absent, does not. */
static void test_watch(void **state)
{
    (void)state;
    tenv e;
    tenv_open(&e, &three, 0);
    ce_res r;
    ce_res_init(&r);
    ce_must_put(&e.v, 0, "w", "1");

    /* Untouched: EXEC goes through, also when the txn writes the watched key itself. */
    client_watch w = must_watch(&e, "w");
    assert_true(w.live);
    assert_true(w.ts > 0);
    client_txn *txn = must_begin(&e, false);
    tx_watch(txn, "w", &w);
    tx_put(txn, "w", "2");
    tx_put(txn, "a", "x");
    must_commit(txn);
    must_idle(&e);
    ce_must_get(&e.v, 0, "w", "2");

    /* A raw write after WATCH. */
    w = must_watch(&e, "w");
    ce_must_put(&e.v, 0, "w", "3");
    txn = must_begin(&e, false);
    tx_watch(txn, "w", &w);
    tx_put(txn, "a", "y");
    client_txn_result res = tx_commit_free(txn);
    assert_int_equal(res.error, CLIENT_TXN_ERR_WATCH);
    ce_must_get(&e.v, 0, "a", "x");

    /* A raw delete after WATCH, with a watch-only txn (no writes at all). */
    w = must_watch(&e, "w");
    assert_int_equal(raw_delete(&e, "w"), BS_OK);
    txn = must_begin(&e, false);
    tx_watch(txn, "w", &w);
    res = tx_commit_free(txn);
    assert_int_equal(res.error, CLIENT_TXN_ERR_WATCH);

    /* An absent key staying absent; then one created after WATCH. */
    w = must_watch(&e, "w");
    assert_false(w.live);
    assert_true(w.ts > 0); /* the delete marker's */
    client_watch none = must_watch(&e, "never");
    assert_false(none.live);
    assert_int_equal(none.ts, 0);
    txn = must_begin(&e, false);
    tx_watch(txn, "w", &w);
    tx_watch(txn, "never", &none);
    res = tx_commit_free(txn);
    assert_int_equal(res.error, CLIENT_TXN_OK);
    assert_int_equal(res.commit_ts, 0); /* only checks */
    ce_must_put(&e.v, 0, "never", "now");
    txn = must_begin(&e, false);
    tx_watch(txn, "never", &none);
    tx_put(txn, "q", "z");
    res = tx_commit_free(txn);
    assert_int_equal(res.error, CLIENT_TXN_ERR_WATCH);
    ce_must_not_found(&e.v, 0, "q");

    /* Expiry: live at WATCH, expired at EXEC. */
    assert_int_equal(ce_put(&e.v, 0, "t", "ttl", 100000, &r), BS_OK);
    w = must_watch(&e, "t");
    assert_true(w.live);
    bs_clock_set_wall_offset(200000);
    txn = must_begin(&e, false);
    tx_watch(txn, "t", &w);
    tx_put(txn, "h", "late");
    res = tx_commit_free(txn);
    bs_clock_set_wall_offset(0);
    assert_int_equal(res.error, CLIENT_TXN_ERR_WATCH);
    must_idle(&e);
    ce_must_not_found(&e.v, 0, "h");
    assert_int_equal(lock_of(&e, "h"), BS_NOTFOUND);
    client_txns_stats st;
    client_txns_stats_get(e.t, &st);
    assert_int_equal(st.watch_failures, 4);
    ce_res_free(&r);
    tenv_close(&e);
}

/* Write skew: t1 reads a and writes b, t2 reads b and writes a. Serializable txns prewrite
 * their read keys as Lock mutations, so the second commit fails; plain snapshot isolation
 * lets both through. In one Region (1PC) and across Regions (2PC). */
static void test_write_skew(void **state)
{
    (void)state;
    for (int layout = 0; layout < 2; layout++) {
        tenv e;
        tenv_open(&e, layout ? &three : NULL, 0);
        const char *a = "a", *b = layout ? "q" : "b";
        for (int serializable = 1; serializable >= 0; serializable--) {
            ce_must_put(&e.v, 0, a, "1");
            ce_must_put(&e.v, 0, b, "1");
            client_txn *t1 = must_begin(&e, serializable), *t2 = must_begin(&e, serializable);
            tx_must_get(t1, a, "1");
            tx_must_get(t2, b, "1");
            tx_put(t1, b, "0");
            tx_put(t2, a, "0");
            must_commit(t1);
            client_txn_result res = tx_commit_free(t2);
            assert_int_equal(res.error, serializable ? CLIENT_TXN_ERR_CONFLICT : CLIENT_TXN_OK);
            must_idle(&e);
            ce_must_get(&e.v, 0, a, serializable ? "1" : "0");
            ce_must_get(&e.v, 0, b, "0");
            assert_int_equal(lock_of(&e, a), BS_NOTFOUND);
            assert_int_equal(lock_of(&e, b), BS_NOTFOUND);
        }
        /* A serializable txn that only reads commits without locking anything. */
        client_txn *ro = must_begin(&e, true);
        tx_must_get(ro, a, "0");
        client_txn_result res = tx_commit_free(ro);
        assert_int_equal(res.error, CLIENT_TXN_OK);
        assert_int_equal(res.commit_ts, 0);
        tenv_close(&e);
    }
}

/* ---- lock resolution ------------------------------------------------------------------------ */

/* A coordinator prewrote a (primary) and h, then vanished. A reader is not blocked: it
 * pushes the live txn above its start_ts and reads the old value. A writer must wait for
 * the TTL; once (test) time passed it, the writer's resolution rolls the txn back and the
 * write commits; no lock is left. */
static void test_resolve_abandoned(void **state)
{
    (void)state;
    tenv e;
    tenv_open(&e, &three, 0);
    ce_must_put(&e.v, 0, "h", "old");
    uint64_t dead = must_ts(&e);
    raw_prewrite(&e, "a", "a", "dead-a", dead, 3000);
    raw_prewrite(&e, "a", "h", "dead-h", dead, 3000);
    assert_int_equal(lock_of(&e, "h"), BS_OK);

    client_txn *rd = must_begin(&e, false);
    tx_must_get(rd, "h", "old");
    tx_must_not_found(rd, "a"); /* its primary lock, pushed: the value before it */
    client_txn_free(rd);

    bs_clock_set_wall_offset(60000); /* past the TTL, for TSO and the resolver alike */
    client_txn *wr = must_begin(&e, false);
    tx_put(wr, "h", "new");
    client_txn_result res = tx_commit_free(wr);
    bs_clock_set_wall_offset(0);
    assert_int_equal(res.error, CLIENT_TXN_OK);
    must_idle(&e);
    ce_must_get(&e.v, 0, "h", "new");
    assert_int_equal(lock_of(&e, "h"), BS_NOTFOUND);
    assert_int_equal(lock_of(&e, "a"), BS_NOTFOUND); /* the primary was rolled back */
    ce_must_not_found(&e.v, 0, "a");
    client_txns_stats st;
    client_txns_stats_get(e.t, &st);
    assert_true(st.locks_resolved >= 1);
    tenv_close(&e);
}

/* A coordinator committed its primary and vanished before the secondaries: a reader
 * meeting the secondary's lock rolls it forward and reads the committed value. */
static void test_resolve_committed_primary(void **state)
{
    (void)state;
    tenv e;
    tenv_open(&e, &three, 0);
    ce_must_put(&e.v, 0, "q", "old");
    uint64_t start = must_ts(&e);
    raw_prewrite(&e, "a", "a", "new-a", start, 3000);
    raw_prewrite(&e, "a", "q", "new-q", start, 3000);
    uint64_t commit = must_ts(&e);
    raw_commit(&e, "a", start, commit);
    /* The raw path never reads past the lock: it resolves it from the committed primary
     * and answers "key is locked" (or, if the client retried, the new value). */
    ce_res rr;
    ce_res_init(&rr);
    int rc = ce_get(&e.v, 0, "q", &rr);
    if (rc == BS_OK)
        ce_assert_buf(&rr.value, "new-q");
    else
        assert_int_equal(rr.kind, TXN_ERR_KEY_IS_LOCKED);
    ce_res_free(&rr);
    client_txn *rd = must_begin(&e, false);
    tx_must_get(rd, "q", "new-q");
    tx_must_get(rd, "a", "new-a");
    client_txn_free(rd);
    assert_int_equal(lock_of(&e, "q"), BS_NOTFOUND);
    ce_must_get(&e.v, 0, "q", "new-q");
    tenv_close(&e);
}

/* The TTL a lock on user key key carries; fails if there is none. */
static uint64_t lock_ttl_at(tenv *e, const char *key)
{
    bs_buf k = BS_BUF_INIT;
    txn_lock_info li;
    txn_lock_info_init(&li);
    kv_key_v2_append(&k, KV_MODE_RAW, 0, bs_slice_from_str(key));
    assert_int_equal(txn_kv_load_lock(e->v.txn, bs_buf_slice(&k), &li, NULL), BS_OK);
    uint64_t ttl = li.lock_ttl;
    txn_lock_info_deinit(&li);
    bs_buf_free(&k);
    return ttl;
}

/* ---- the primary's commit ------------------------------------------------------------------- */

/* Waits (bounded) until user key key holds a lock. */
static void wait_locked(tenv *e, const char *key)
{
    for (int i = 0; i < WAIT_MS && lock_of(e, key) != BS_OK; i += 2) {
        struct timespec ts = {0, 2000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(lock_of(e, key), BS_OK);
}

/* Starts committing a txn writing a and q (two Regions) with the TSO paused, so it stops
 * after its prewrite, before taking commit_ts. */
static client_txn *commit_until_prewritten(tenv *e, waiter *w)
{
    client_txn *txn = must_begin(e, false);
    tx_put(txn, "a", "1");
    tx_put(txn, "q", "2");
    client_tso_pause(e->t, true);
    waiter_init(w);
    client_txn_commit(txn, on_commit, w);
    wait_locked(e, "a");
    wait_locked(e, "q");
    return txn;
}

/* A resolver rolled the primary back between prewrite and commit (its TTL ran out): the
 * commit finds no lock, reports a conflict (nothing committed, re-run it) and rolls back
 * the secondary. */
static void test_primary_rolled_back(void **state)
{
    (void)state;
    tenv e;
    tenv_open(&e, &three, 0);
    waiter w;
    client_txn *txn = commit_until_prewritten(&e, &w);
    bs_buf k = BS_BUF_INIT;
    kv_key_v2_append(&k, KV_MODE_RAW, 0, bs_slice_from_str("a"));
    bs_slice ks = bs_buf_slice(&k);
    waiter kw;
    waiter_init(&kw);
    txn_kv_batch_rollback(e.v.txn, &ks, 1, client_txn_start_ts(txn), on_kv, &kw);
    waiter_wait(&kw);
    assert_int_equal(kw.code, BS_OK);
    assert_int_equal(kw.n_errors, 0);
    bs_buf_free(&k);
    client_tso_pause(e.t, false);
    waiter_wait(&w);
    assert_int_equal(w.res.error, CLIENT_TXN_ERR_CONFLICT);
    client_txn_free(txn);
    must_idle(&e);
    assert_int_equal(lock_of(&e, "q"), BS_NOTFOUND);
    ce_must_not_found(&e.v, 0, "q");
    ce_must_not_found(&e.v, 0, "a");
    tenv_close(&e);
}

/* Locks of a 1 MiB txn whose EXEC came 5 s after its start_ts: the TTL covers the size
 * (6 s per sqrt(MiB)) plus the 5 s already spent, so a reader does not find them expired
 * the moment they are written. Locks of a small, prompt txn carry the configured TTL. */
static void test_lock_ttl(void **state)
{
    (void)state;
    tenv e;
    tenv_open(&e, &three, 0);
    size_t big = (size_t)1 << 20;
    char *v = bs_malloc(big + 1);
    memset(v, 'v', big);
    v[big] = '\0';
    client_txn *txn = must_begin(&e, false);
    tx_put(txn, "a", "1");
    tx_put(txn, "q", v);
    bs_clock_set_wall_offset(5000);
    client_tso_pause(e.t, true);
    waiter w;
    waiter_init(&w);
    client_txn_commit(txn, on_commit, &w);
    wait_locked(&e, "a");
    wait_locked(&e, "q");
    uint64_t ttl = lock_ttl_at(&e, "a");
    assert_true(ttl >= 6000 + 5000);
    assert_true(ttl <= 20000 + 5000 + WAIT_MS);
    assert_int_equal(lock_ttl_at(&e, "q"), ttl);
    client_tso_pause(e.t, false);
    waiter_wait(&w);
    bs_clock_set_wall_offset(0);
    assert_int_equal(w.res.error, CLIENT_TXN_OK);
    client_txn_free(txn);
    must_idle(&e);
    ce_must_get(&e.v, 0, "a", "1");
    bs_free(v);

    waiter w2;
    client_txn *small = must_begin(&e, false);
    tx_put(small, "a", "2");
    tx_put(small, "q", "2");
    client_tso_pause(e.t, true);
    waiter_init(&w2);
    client_txn_commit(small, on_commit, &w2);
    wait_locked(&e, "a");
    ttl = lock_ttl_at(&e, "a");
    assert_true(ttl >= 3000 && ttl < 3000 + WAIT_MS);
    client_tso_pause(e.t, false);
    waiter_wait(&w2);
    assert_int_equal(w2.res.error, CLIENT_TXN_OK);
    client_txn_free(small);
    must_idle(&e);
    tenv_close(&e);
}

/* A reader pushed the primary's min_commit_ts past the commit_ts the committer was about
 * to use: the commit fails with CommitTsExpired, and the committer takes a fresh commit_ts
 * and commits. Wall time is pinned so the TSO's next value is known (nothing else takes
 * timestamps meanwhile). */
static void test_commit_ts_expired(void **state)
{
    (void)state;
    tenv e;
    tenv_open(&e, &three, 0);
    bs_clock_set_wall_override(bs_clock_wall_ms());
    waiter w;
    client_txn *txn = commit_until_prewritten(&e, &w);
    uint64_t last = 0;
    assert_int_equal(pd_tso_alloc(e.v.pd, 1, &last, NULL), BS_OK);
    /* The committer's commit_ts will be last + 1: push min_commit_ts to last + 2, as a
     * reader at start_ts last + 1 would. */
    bs_buf k = BS_BUF_INIT;
    kv_key_v2_append(&k, KV_MODE_RAW, 0, bs_slice_from_str("a"));
    txn_check_txn_status_req q;
    memset(&q, 0, sizeof(q));
    q.primary_key = bs_buf_slice(&k);
    q.lock_ts = client_txn_start_ts(txn);
    q.caller_start_ts = last + 1;
    q.current_ts = last + 1;
    waiter kw;
    waiter_init(&kw);
    txn_kv_check_txn_status(e.v.txn, &q, on_kv, &kw);
    waiter_wait(&kw);
    assert_int_equal(kw.code, BS_OK);
    assert_int_equal(kw.n_errors, 0);
    bs_buf_free(&k);
    client_tso_pause(e.t, false);
    waiter_wait(&w);
    bs_clock_set_wall_override(-1);
    assert_int_equal(w.res.error, CLIENT_TXN_OK);
    assert_true(w.res.commit_ts >= last + 2);
    client_txn_free(txn);
    client_txns_stats st;
    client_txns_stats_get(e.t, &st);
    assert_int_equal(st.commit_ts_renewed, 1);
    must_idle(&e);
    ce_must_get(&e.v, 0, "a", "1");
    ce_must_get(&e.v, 0, "q", "2");
    tenv_close(&e);
}

/* ---- reads with a write buffer ------------------------------------------------------------- */

static void assert_pairs(const ce_res *r, const char *const *keys, const char *const *vals)
{
    size_t n = 0;
    while (keys[n])
        n++;
    if (r->pairs.n != n) {
        for (size_t i = 0; i < r->pairs.n; i++)
            fprintf(stderr, " %.*s", (int)r->pairs.v[i].key.len, (char *)r->pairs.v[i].key.ptr);
        fail_msg("got %zu pairs, want %zu", r->pairs.n, n);
    }
    for (size_t i = 0; i < n; i++) {
        ce_assert_buf(&r->pairs.v[i].key, keys[i]);
        if (vals)
            ce_assert_buf(&r->pairs.v[i].value, vals[i]);
    }
}

static int tx_scan(client_txn *txn, const char *start, const char *end, uint32_t limit,
                   bool reverse, ce_res *r)
{
    client_scan_req q;
    memset(&q, 0, sizeof(q));
    q.keyspace = 0;
    q.start = start ? bs_slice_from_str(start) : BS_SLICE_NULL;
    q.has_end = end != NULL;
    q.end = end ? bs_slice_from_str(end) : BS_SLICE_NULL;
    q.limit = limit;
    q.reverse = reverse;
    ce_res_free(r);
    client_txn_scan(txn, &q, ce_cb, r);
    ce_wait(r);
    return r->code;
}

static void test_read_own_writes(void **state)
{
    (void)state;
    tenv e;
    tenv_open(&e, &three, 0);
    ce_res r;
    ce_res_init(&r);
    const char *const base[] = {"a", "b", "c", "d", "f", "g", "h", "i", "j", "q"};
    for (size_t i = 0; i < 10; i++)
        ce_must_put(&e.v, 0, base[i], base[i]);
    client_txn *txn = must_begin(&e, true);
    tx_must_get(txn, "a", "a");
    ce_must_put(&e.v, 0, "a", "after the read"); /* lands above start_ts: not seen */
    tx_put(txn, "b", "B");
    tx_del(txn, "c");
    tx_put(txn, "cc", "CC");
    assert_int_equal(client_txn_put(txn, 0, bs_slice_from_str("d"), bs_slice_from_str("x"),
                                     (uint64_t)bs_clock_wall_ms() - 1, NULL),
                     BS_OK); /* already expired */
    tx_del(txn, "h");
    tx_del(txn, "i");
    tx_must_get(txn, "a", "a");
    tx_must_get(txn, "b", "B");
    tx_must_not_found(txn, "c");
    tx_must_not_found(txn, "d");
    tx_must_get(txn, "cc", "CC");

    bs_slice keys[] = {bs_slice_from_str("q"), bs_slice_from_str("c"), bs_slice_from_str("cc"),
                       bs_slice_from_str("a"), bs_slice_from_str("missing"),
                       bs_slice_from_str("b")};
    ce_res_free(&r);
    client_txn_batch_get(txn, 0, keys, 6, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    assert_pairs(&r, L("q", "cc", "a", "b"), L("q", "CC", "a", "B"));

    assert_int_equal(tx_scan(txn, "a", "e", 100, false, &r), BS_OK);
    assert_pairs(&r, L("a", "b", "cc"), L("a", "B", "CC"));
    assert_int_equal(tx_scan(txn, "a", NULL, 2, false, &r), BS_OK);
    assert_pairs(&r, L("a", "b"), NULL);
    assert_int_equal(tx_scan(txn, "e", NULL, 3, true, &r), BS_OK);
    assert_pairs(&r, L("cc", "b", "a"), NULL);
    /* Across Regions, with deletes in the middle one: a part read up to its limit
     * resumes after its last key, both ways. */
    assert_int_equal(tx_scan(txn, "f", NULL, 3, false, &r), BS_OK);
    assert_pairs(&r, L("f", "g", "j"), NULL);
    assert_int_equal(tx_scan(txn, NULL, "f", 100, true, &r), BS_OK);
    assert_pairs(&r, L("q", "j", "g", "f"), NULL);
    assert_int_equal(tx_scan(txn, NULL, NULL, 2, true, &r), BS_OK);
    assert_pairs(&r, L("q", "j"), NULL);
    assert_int_equal(tx_scan(txn, NULL, NULL, 3, true, &r), BS_OK);
    assert_pairs(&r, L("q", "j", "g"), NULL);
    assert_int_equal(tx_scan(txn, NULL, NULL, 100, false, &r), BS_OK);
    assert_pairs(&r, L("a", "b", "cc", "f", "g", "j", "q"), NULL);

    /* Serializable: a was read and written by someone else since start_ts. */
    client_txn_result res = tx_commit_free(txn);
    assert_int_equal(res.error, CLIENT_TXN_ERR_CONFLICT);
    must_idle(&e);
    ce_must_get(&e.v, 0, "b", "b");
    ce_must_get(&e.v, 0, "c", "c");
    assert_int_equal(lock_of(&e, "b"), BS_NOTFOUND);
    ce_res_free(&r);
    tenv_close(&e);
}

/* ---- TSO and GC ---------------------------------------------------------------------------- */

#define N_TSO 50

/* Requests waiting together share one PD call and are answered in order. */
static void test_tso_batching(void **state)
{
    (void)state;
    tenv e;
    tenv_open(&e, NULL, 0);
    client_txns_stats before, after;
    client_txns_stats_get(e.t, &before);
    client_tso_pause(e.t, true);
    waiter w[N_TSO];
    for (int i = 0; i < N_TSO; i++) {
        waiter_init(&w[i]);
        client_tso_get(e.t, on_ts, &w[i]);
    }
    client_tso_pause(e.t, false);
    for (int i = 0; i < N_TSO; i++) {
        waiter_wait(&w[i]);
        assert_int_equal(w[i].code, BS_OK);
        if (i > 0)
            assert_int_equal(w[i].ts, w[i - 1].ts + 1);
    }
    client_txns_stats_get(e.t, &after);
    assert_int_equal(after.tso_batches - before.tso_batches, 1);
    assert_int_equal(after.tso_requests - before.tso_requests, N_TSO);
    tenv_close(&e);
}

/* The registered service safe point never passes a running txn, and moves on once it is
 * gone. PD's own bound (now - life time) is taken out of play by ticking far ahead. */
static void test_gc_safe_point(void **state)
{
    (void)state;
    tenv e;
    client_txns_options o;
    client_txns_options_init(&o);
    o.gc_ttl_s = 365LL * 24 * 3600; /* outlives the far tick below */
    tenv_open_with(&e, NULL, &o);
    int64_t far = bs_clock_wall_ms() + 30LL * 24 * 3600 * 1000;
    client_txn *old = must_begin(&e, false);
    uint64_t start = client_txn_start_ts(old);
    for (int i = 0; i < 3; i++)
        client_txn_free(must_begin(&e, false)); /* younger txns come and go */
    client_txns_gc_now(e.t);
    uint64_t sp = 0;
    assert_int_equal(pd_gc_tick(e.v.pd, far, &sp, NULL), BS_OK);
    assert_int_equal(sp, start);
    client_txns_stats st;
    client_txns_stats_get(e.t, &st);
    assert_int_equal(st.gc_safe_point, start);
    assert_int_equal(st.running, 1);
    client_txn_free(old);
    uint64_t later = must_ts(&e);
    client_txns_gc_now(e.t);
    assert_int_equal(pd_gc_tick(e.v.pd, far, &sp, NULL), BS_OK);
    assert_int_equal(sp, later); /* nothing runs: the newest ts handed out */
    tenv_close(&e);
}

/* ---- misuse ---------------------------------------------------------------------------------- */

static void test_states(void **state)
{
    (void)state;
    tenv e;
    tenv_open(&e, NULL, 0);
    ce_res r;
    ce_res_init(&r);
    client_txn *txn = must_begin(&e, false);
    bs_err err;
    assert_int_equal(client_txn_put(txn, CLIENT_KEYSPACE_MAX + 1, bs_slice_from_str("k"),
                                    bs_slice_from_str("v"), 0, &err),
                     BS_EINVAL);
    client_txn_get(txn, CLIENT_KEYSPACE_MAX + 1, bs_slice_from_str("k"), ce_cb, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_EINVAL);
    tx_put(txn, "k", "v");
    client_txn_result res = tx_commit(txn);
    assert_int_equal(res.error, CLIENT_TXN_OK);
    /* Done: reads, writes and a second commit are refused. */
    assert_int_equal(tx_get(txn, "k", &r), BS_ESTATE);
    assert_int_equal(client_txn_put(txn, 0, bs_slice_from_str("k"), bs_slice_from_str("v"), 0,
                                    &err),
                     BS_ESTATE);
    res = tx_commit(txn);
    assert_int_equal(res.error, CLIENT_TXN_ERR_FAILED);
    assert_int_equal(res.code, BS_ESTATE);
    client_txn_free(txn);
    client_txn_free(NULL);
    client_txns_options o;
    client_txns_options_init(&o);
    o.lock_ttl_ms = 0;
    client_txns *bad = NULL;
    assert_int_equal(client_txns_new(e.v.c, &o, &bad, NULL), BS_EINVAL);
    assert_null(bad);
    client_txns_free(NULL);
    ce_res_free(&r);
    tenv_close(&e);
}

/* ---- concurrency ----------------------------------------------------------------------------- */

#define N_THREADS 4
#define N_INCR 8

typedef struct counter_arg {
    tenv *e;
    const char *k1, *k2;
    _Atomic int retries;
    _Atomic int failures;
} counter_arg;

static long parse(const ce_res *r)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.*s", (int)r->value.len, (const char *)r->value.ptr);
    return strtol(buf, NULL, 10);
}

/* Increments k1 and k2 in one txn, re-running it on conflicts (as RESP will). No cmocka
 * assertions here: they may not fail on another thread; failures are counted. */
static void *counter_main(void *arg)
{
    counter_arg *a = arg;
    ce_res r;
    ce_res_init(&r);
    for (int i = 0; i < N_INCR && a->failures == 0; i++) {
        for (;;) {
            waiter w;
            waiter_init(&w);
            client_txn_begin(a->e->t, NULL, on_begin, &w);
            waiter_wait(&w);
            if (w.code != BS_OK) {
                a->failures++;
                break;
            }
            client_txn *txn = w.txn;
            long v[2] = {0, 0};
            const char *k[2] = {a->k1, a->k2};
            for (int j = 0; j < 2; j++) {
                int rc = tx_get(txn, k[j], &r);
                if (rc == BS_OK)
                    v[j] = parse(&r);
                else if (rc != BS_NOTFOUND)
                    a->failures++;
                char b[32];
                snprintf(b, sizeof b, "%ld", v[j] + 1);
                if (client_txn_put(txn, 0, bs_slice_from_str(k[j]), bs_slice_from_str(b), 0,
                                   NULL) != BS_OK)
                    a->failures++;
            }
            client_txn_result res = tx_commit_free(txn);
            if (res.error == CLIENT_TXN_OK)
                break;
            if (res.error != CLIENT_TXN_ERR_CONFLICT) {
                fprintf(stderr, "counter commit: %d %d %s\n", res.error, res.code, res.msg);
                a->failures++;
                break;
            }
            a->retries++;
        }
    }
    ce_res_free(&r);
    return NULL;
}

/* Concurrent read-modify-write txns never lose an update: in one Region (1PC, latches)
 * and across two (2PC, locks met and resolved; a short lock TTL bounds the waits). */
static void test_concurrent_counters(void **state)
{
    (void)state;
    for (int layout = 0; layout < 2; layout++) {
        tenv e;
        tenv_open(&e, layout ? &three : NULL, 300);
        counter_arg a = {&e, "a", layout ? "q" : "b", 0, 0};
        pthread_t th[N_THREADS];
        for (int i = 0; i < N_THREADS; i++)
            assert_int_equal(pthread_create(&th[i], NULL, counter_main, &a), 0);
        for (int i = 0; i < N_THREADS; i++)
            pthread_join(th[i], NULL);
        assert_int_equal(a.failures, 0);
        must_idle(&e);
        char want[16];
        snprintf(want, sizeof want, "%d", N_THREADS * N_INCR);
        ce_must_get(&e.v, 0, a.k1, want);
        ce_must_get(&e.v, 0, a.k2, want);
        assert_int_equal(lock_of(&e, a.k1), BS_NOTFOUND);
        assert_int_equal(lock_of(&e, a.k2), BS_NOTFOUND);
        tenv_close(&e);
    }
}

/* client_txns_free waits for secondaries still being committed. */
static void test_free_waits_for_background(void **state)
{
    (void)state;
    tenv e;
    tenv_open(&e, &three, 0);
    client_txn *txn = must_begin(&e, false);
    tx_put(txn, "a", "1");
    tx_put(txn, "h", "2");
    tx_put(txn, "q", "3");
    must_commit(txn);
    client_txns_free(e.t); /* no wait_idle first */
    e.t = NULL;
    ce_must_get(&e.v, 0, "h", "2");
    ce_must_get(&e.v, 0, "q", "3");
    assert_int_equal(lock_of(&e, "q"), BS_NOTFOUND);
    tenv_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_pc),
        cmocka_unit_test(test_multi_region_commit),
        cmocka_unit_test(test_commit_after_split),
        cmocka_unit_test(test_write_conflict),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_write_skew),
        cmocka_unit_test(test_resolve_abandoned),
        cmocka_unit_test(test_resolve_committed_primary),
        cmocka_unit_test(test_primary_rolled_back),
        cmocka_unit_test(test_commit_ts_expired),
        cmocka_unit_test(test_lock_ttl),
        cmocka_unit_test(test_read_own_writes),
        cmocka_unit_test(test_tso_batching),
        cmocka_unit_test(test_gc_safe_point),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_concurrent_counters),
        cmocka_unit_test(test_free_waits_for_background),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
