/* test_gc_txn.c -- a node's GC sweep over transactional data: after transactions in both
 * layouts (TxnKV 'x' and MULTI/EXEC-style RawKV 'r' keys), including a txn whose
 * coordinator died between committing its primary and its secondary and one that never
 * committed, a sweep at a later safe point resolves every lock below it (the secondary is
 * committed, not rolled back) and leaves CF write with no 'r' record at or below the safe
 * point and, per 'x' key, at most the newest Put there; every committed value reads back,
 * also across a restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "node_test.h"

#define V(s) bs_slice_from_str(s)

/* ---- synchronous txn commands ------------------------------------------------------------ */

typedef struct cmd_wait {
    _Atomic int calls;
    int code;
    size_t n_errors;
} cmd_wait;

static void cmd_cb(void *arg, const txn_kv_result *res)
{
    cmd_wait *w = arg;
    w->code = res->code;
    w->n_errors = res->n_errors;
    atomic_fetch_add(&w->calls, 1);
}

static bool cmd_done(void *arg)
{
    cmd_wait *w = arg;
    return atomic_load(&w->calls) > 0;
}

static void cmd_must_succeed(cmd_wait *w)
{
    assert_true(nt_wait(cmd_done, w, 30000));
    assert_int_equal(atomic_load(&w->calls), 1);
    assert_int_equal(w->code, BS_OK);
    assert_int_equal(w->n_errors, 0);
}

static uint64_t tso(srv_node *n)
{
    uint64_t ts = 0;
    bs_err err;
    assert_int_equal(pd_tso_alloc(srv_node_pd(n), 1, &ts, &err), BS_OK);
    return ts;
}

/* The full key of user in mode ('x' or 'r'), keyspace 0, in a ring of buffers. */
static bs_slice key_of(uint8_t mode, const char *user)
{
    static bs_buf ring[16];
    static unsigned i;
    bs_buf *b = &ring[i++ % 16];
    bs_buf_reset(b);
    kv_key_v2_append(b, mode, 0, V(user));
    return bs_buf_slice(b);
}

static void prewrite(srv_node *n, uint8_t mode, const char *const *keys, const char *const *vals,
                     size_t cnt, const char *primary, uint64_t start_ts)
{
    txn_mutation m[4];
    assert_true(cnt <= 4);
    memset(m, 0, sizeof(m));
    for (size_t i = 0; i < cnt; i++) {
        m[i].op = vals[i] ? TXN_OP_PUT : TXN_OP_DEL;
        m[i].key = key_of(mode, keys[i]);
        m[i].value = vals[i] ? V(vals[i]) : BS_SLICE_NULL;
    }
    txn_prewrite_req q;
    memset(&q, 0, sizeof(q));
    q.mutations = m;
    q.n_mutations = cnt;
    q.primary = key_of(mode, primary);
    q.start_ts = start_ts;
    q.lock_ttl = 3000;
    cmd_wait w = {0};
    txn_kv_prewrite(srv_node_txn(n), &q, cmd_cb, &w);
    cmd_must_succeed(&w);
}

static void commit(srv_node *n, uint8_t mode, const char *key, uint64_t start_ts,
                   uint64_t commit_ts)
{
    bs_slice k = key_of(mode, key);
    cmd_wait w = {0};
    txn_kv_commit(srv_node_txn(n), &k, 1, start_ts, commit_ts, cmd_cb, &w);
    cmd_must_succeed(&w);
}

static void rollback(srv_node *n, uint8_t mode, const char *key, uint64_t start_ts)
{
    bs_slice k = key_of(mode, key);
    cmd_wait w = {0};
    txn_kv_batch_rollback(srv_node_txn(n), &k, 1, start_ts, cmd_cb, &w);
    cmd_must_succeed(&w);
}

/* One committed single-key txn: a Put (value) or a Delete (value NULL). */
static void put(srv_node *n, uint8_t mode, const char *key, const char *value)
{
    const char *keys[1] = {key}, *vals[1] = {value};
    uint64_t start = tso(n);
    prewrite(n, mode, keys, vals, 1, key, start);
    commit(n, mode, key, start, tso(n));
}

/* KvGet at a fresh ts: value, or NULL for "must be absent". */
static void must_read(srv_node *n, uint8_t mode, const char *key, const char *want)
{
    txn_read_opts o;
    memset(&o, 0, sizeof(o));
    o.read_ts = tso(n);
    txn_kv_pair p;
    txn_kv_pair_init(&p);
    txn_error e;
    txn_error_clear(&e);
    int rc = txn_kv_get(srv_node_txn(n), key_of(mode, key), &o, &p, &e);
    if (!want) {
        assert_int_equal(rc, BS_NOTFOUND);
    } else {
        if (rc != BS_OK)
            fprintf(stderr, "get %c/%s: %s %s\n", mode, key, bs_errname(rc), e.msg);
        assert_int_equal(rc, BS_OK);
        assert_false(p.has_error);
        assert_int_equal(p.value.len, strlen(want));
        assert_memory_equal(p.value.ptr, want, p.value.len);
    }
    txn_kv_pair_deinit(&p);
}

/* ---- the sweep ----------------------------------------------------------------------------- */

static uint64_t sweep(srv_node *n)
{
    uint64_t sweeps = nt_gc_sweeps(n);
    srv_node_trigger_gc(n);
    assert_true(nt_wait_sweeps(n, sweeps, 60000));
    srv_node_stats st;
    srv_node_get_stats(n, &st);
    assert_int_equal(st.gc_errors, 0);
    assert_true(st.gc_safe_point > 0);
    return st.gc_safe_point;
}

/* CF write below sp: no 'r' record at all; per 'x' key at most one record, a Put, and it is
 * that key's newest record at or below sp. Returns the number of 'x' records kept. */
static size_t check_write_cf(srv_node *n, uint64_t sp)
{
    kv_iter *it = kv_iter_new(srv_node_engine(n), NULL, KV_CF_WRITE, BS_SLICE_NULL,
                              BS_SLICE_NULL);
    bs_buf key = BS_BUF_INIT, last = BS_BUF_INIT;
    size_t kept = 0;
    bool last_below = false;
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it)) {
        uint64_t ts;
        kv_write w;
        assert_int_equal(kv_mvcc_key_decode(kv_iter_key(it), &key, &ts, NULL), BS_OK);
        assert_int_equal(kv_write_decode(kv_iter_value(it), &w, NULL), BS_OK);
        bool same = bs_slice_eq(bs_buf_slice(&key), bs_buf_slice(&last));
        if (!same) {
            bs_buf_set(&last, key.ptr, key.len);
            last_below = false;
        }
        if (ts > sp)
            continue;
        assert_true(key.len > 0 && key.ptr[0] == KV_MODE_TXN); /* 'r': none below sp */
        assert_false(last_below);                             /* one per key */
        assert_int_equal(w.type, KV_WRITE_PUT);
        last_below = true;
        kept++;
    }
    assert_int_equal(kv_iter_status(it, NULL), BS_OK);
    kv_iter_free(it);
    bs_buf_free(&key);
    bs_buf_free(&last);
    return kept;
}

static size_t locks_left(srv_node *n)
{
    kv_iter *it = kv_iter_new(srv_node_engine(n), NULL, KV_CF_LOCK, BS_SLICE_NULL,
                              BS_SLICE_NULL);
    size_t cnt = 0;
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it))
        cnt++;
    assert_int_equal(kv_iter_status(it, NULL), BS_OK);
    kv_iter_free(it);
    return cnt;
}

static char long_value[400];

/* The history of one layout. */
static void write_history(srv_node *n, uint8_t mode)
{
    put(n, mode, "a", "a1");
    put(n, mode, "a", "a2");
    put(n, mode, "a", long_value);
    put(n, mode, "d", "d1");
    put(n, mode, "d", NULL); /* deleted: nothing of it may survive */
    /* A rolled back txn, then a committed one. */
    const char *rb[1] = {"rb"}, *rbv[1] = {"gone"};
    uint64_t s = tso(n);
    prewrite(n, mode, rb, rbv, 1, "rb", s);
    rollback(n, mode, "rb", s);
    put(n, mode, "rb", "rb2");
    /* The coordinator died between committing "p" and "s". */
    const char *ps[2] = {"p", "s"}, *psv[2] = {"p1", "s1"};
    s = tso(n);
    prewrite(n, mode, ps, psv, 2, "p", s);
    commit(n, mode, "p", s, tso(n));
    put(n, mode, "p", "p2"); /* makes the txn's commit record on "p" garbage */
    /* The coordinator died before committing anything. */
    const char *ab[2] = {"ab", "ab2"}, *abv[2] = {"x", "y"};
    prewrite(n, mode, ab, abv, 2, "ab", tso(n));
}

static void check_values(srv_node *n, uint8_t mode)
{
    must_read(n, mode, "a", long_value);
    must_read(n, mode, "d", NULL);
    must_read(n, mode, "rb", "rb2");
    must_read(n, mode, "p", "p2");
    must_read(n, mode, "s", "s1");
    must_read(n, mode, "ab", NULL);
    must_read(n, mode, "ab2", NULL);
}

static void test_gc_sweep_txn_records(void **state)
{
    (void)state;
    memset(long_value, 'L', sizeof long_value - 1);
    char *dir = tu_dir_new("node-gc-txn");
    srv_node *n = nt_must_open(dir, "1s");
    write_history(n, KV_MODE_TXN);
    write_history(n, KV_MODE_RAW);
    assert_int_equal(locks_left(n), 6); /* "s" and "ab", "ab2" in each layout */

    /* Past [gc] life-time: PD's safe point moves above everything written so far. */
    uint64_t history_end = tso(n);
    bs_clock_set_wall_offset(5000);
    uint64_t sp = sweep(n);
    fprintf(stderr, "gc txn: safe_point=%llu history_end=%llu\n", (unsigned long long)sp,
            (unsigned long long)history_end);
    assert_true(sp > history_end);
    /* Every lock was below the safe point: all resolved, before any read touched them. */
    assert_int_equal(locks_left(n), 0);
    /* 'x': the newest Put of "a", "rb", "p", "s"; "d" and "ab"/"ab2" have none. */
    assert_int_equal(check_write_cf(n, sp), 4);
    check_values(n, KV_MODE_TXN);
    check_values(n, KV_MODE_RAW);

    /* New history above the safe point is untouched by the next sweep at the same point. */
    put(n, KV_MODE_TXN, "a", "a4");
    put(n, KV_MODE_RAW, "a", "a4");
    (void)sweep(n);
    must_read(n, KV_MODE_TXN, "a", "a4");
    must_read(n, KV_MODE_RAW, "a", "a4");

    /* And the result survives a restart. */
    srv_node_close(n);
    n = nt_must_open(dir, "1s");
    must_read(n, KV_MODE_TXN, "s", "s1");
    must_read(n, KV_MODE_RAW, "s", "s1");
    must_read(n, KV_MODE_TXN, "d", NULL);
    bs_clock_set_wall_offset(0);
    srv_node_close(n);
    tu_dir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gc_sweep_txn_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
