/* test_gc_txn.c -- GC of Percolator records in both layouts (TiKV's gc action tests,
 * src/storage/txn/actions/gc.rs): committed versions below the safe point collapse to the
 * newest Put (with its long value), a newest Delete takes every version with it, Rollback
 * and Lock records below the safe point go, nothing above it changes; leftover locks below
 * the safe point are resolved first (a committed primary commits its secondary, an
 * abandoned txn is rolled back even with a live TTL, an async-commit primary fails the
 * resolution); a pass limit that splits one key's records across passes never leaves older
 * versions without the newest Delete above them. 'r' keys lose every record below the safe
 * point while their raw versions (collected by txn_gc_pass) keep the values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "txn/percolator_helpers.h"

#define V(s) bs_slice_from_str(s)

/* ---- helpers ---------------------------------------------------------------------------- */

typedef struct resolve_res {
    int calls;
    int code;
    size_t resolved;
} resolve_res;

static void resolve_cb(void *arg, int code, size_t resolved, const char *msg)
{
    resolve_res *r = arg;
    r->calls++;
    r->code = code;
    r->resolved = resolved;
    if (code != BS_OK)
        assert_true(msg[0] != '\0');
}

/* Scans and resolves every lock <= sp, `limit` locks per scan; returns the keys resolved.
 * The harness applies each command at once, so every run ends before it returns. */
static size_t gc_locks(th *h, uint64_t sp, size_t limit, int want_code)
{
    bs_buf cursor = BS_BUF_INIT;
    bs_err err;
    size_t total = 0;
    int scans = 0;
    do {
        txn_lock_infos l;
        txn_lock_infos_init(&l);
        assert_int_equal(txn_gc_scan_locks(h->e, sp, limit, &cursor, &l, &err), BS_OK);
        if (limit)
            assert_true(l.n <= limit);
        if (l.n) {
            resolve_res r = {0, -1, 0};
            txn_gc_resolve_locks(h->s, &l, resolve_cb, &r);
            assert_int_equal(r.calls, 1);
            if (r.code != BS_OK) {
                assert_int_equal(r.code, want_code);
                txn_lock_infos_free(&l);
                bs_buf_free(&cursor);
                return total;
            }
            total += r.resolved;
        }
        txn_lock_infos_free(&l);
        assert_true(++scans < 1000);
    } while (cursor.len);
    assert_int_equal(want_code, BS_OK);
    bs_buf_free(&cursor);
    return total;
}

typedef void (*pass_check_fn)(th *h, void *arg);

/* CF write passes (each batch applied before the next) until the end; check runs after
 * every pass. Returns the number of passes. */
static int gc_writes(th *h, uint64_t sp, size_t limit, pass_check_fn check, void *arg)
{
    bs_buf cursor = BS_BUF_INIT;
    bs_err err;
    int passes = 0;
    do {
        kv_batch *b = NULL;
        assert_int_equal(txn_gc_write_pass(h->e, sp, limit, &cursor, &b, &err), BS_OK);
        if (limit)
            assert_true(kv_batch_count(b) <= limit + 2); /* a Put's record and value, and a
                                                          * completed key's Delete */
        assert_int_equal(kv_engine_write(h->e, b, false, &err), BS_OK);
        kv_batch_free(b);
        passes++;
        if (check)
            check(h, arg);
        assert_true(passes < 1000);
    } while (cursor.len);
    bs_buf_free(&cursor);
    return passes;
}

/* The raw passes ('r' values live in CF default as raw versions). */
static void gc_raw(th *h, uint64_t sp)
{
    bs_buf cursor = BS_BUF_INIT;
    bs_err err;
    do {
        kv_batch *b = NULL;
        assert_int_equal(txn_gc_pass(h->e, sp, (uint64_t)bs_clock_wall_ms(), 0, &cursor, &b,
                                     &err),
                         BS_OK);
        assert_int_equal(kv_engine_write(h->e, b, false, &err), BS_OK);
        kv_batch_free(b);
    } while (cursor.len);
    bs_buf_free(&cursor);
}

/* A whole sweep, in the server's order. */
static void gc(th *h, uint64_t sp)
{
    gc_raw(h, sp);
    (void)gc_locks(h, sp, 0, BS_OK);
    (void)gc_writes(h, sp, 0, NULL, NULL);
}

/* Number of entries of user key's versions in cf. */
static int count_cf(th *h, kv_cf cf, const char *user)
{
    bs_buf lo = BS_BUF_INIT, hi = BS_BUF_INIT;
    int n = 0;
    bs_slice k = pt_key(user);
    kv_mvcc_key_append(&lo, k, UINT64_MAX);
    kv_mvcc_key_append(&hi, k, 0);
    kv_iter *it = kv_iter_new(h->e, NULL, cf, bs_buf_slice(&lo), bs_buf_slice(&hi));
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it))
        n++;
    assert_int_equal(kv_iter_status(it, NULL), BS_OK);
    kv_iter_free(it);
    bs_buf_free(&lo);
    bs_buf_free(&hi);
    return n;
}

static int writes_of(th *h, const char *user)
{
    return count_cf(h, KV_CF_WRITE, user);
}

static bool has_write(th *h, const char *user, uint64_t commit_ts)
{
    bs_buf raw = BS_BUF_INIT;
    kv_write w;
    bool found = pt_get_write(h, user, commit_ts, &raw, &w);
    bs_buf_free(&raw);
    return found;
}

static bool is_txn(void)
{
    return pt_mode == KV_MODE_TXN;
}

/* ---- collapse to the newest Put (TiKV's test_gc_imp) -------------------------------------- */

static void collapse(th *h, const char *k, bs_slice v1, bs_slice v2, bs_slice v3, bs_slice v4)
{
    must_prewrite_put(h, k, v1, k, 5);
    must_commit(h, k, 5, 10);
    must_prewrite_put(h, k, v2, k, 15);
    must_commit(h, k, 15, 20);
    must_prewrite_delete(h, k, k, 25);
    must_commit(h, k, 25, 30);
    must_prewrite_put(h, k, v3, k, 35);
    must_commit(h, k, 35, 40);
    must_prewrite_lock(h, k, k, 45);
    must_commit(h, k, 45, 50);
    must_prewrite_put(h, k, v4, k, 55);
    must_rollback(h, k, 55);
    bool long_values = v1.len > 255;
    assert_int_equal(writes_of(h, k), 6);

    gc(h, 12);
    must_get(h, k, 12, v1);
    assert_int_equal(writes_of(h, k), is_txn() ? 6 : 5); /* 'r': the record at 10 went */

    gc(h, 22);
    must_get(h, k, 22, v2);
    must_get_none(h, k, 12);
    if (is_txn()) {
        must_written(h, k, 15, 20, KV_WRITE_PUT);
        assert_false(has_write(h, k, 10));
        if (long_values) {
            assert_false(pt_has_default(h, k, 5)); /* the value went with its record */
            assert_true(pt_has_default(h, k, 15));
        }
    }

    gc(h, 32);
    must_get_none(h, k, 22); /* the Delete at 30 took the Put at 20 with it */
    must_get_none(h, k, 32);
    must_get_none(h, k, 35);
    if (is_txn()) {
        assert_false(has_write(h, k, 30));
        assert_false(has_write(h, k, 20));
        if (long_values)
            assert_false(pt_has_default(h, k, 15));
    }

    gc(h, 60);
    must_get(h, k, 62, v3);
    if (is_txn()) {
        /* The rollback at 55 and the Lock at 50 go; the Put at 40 is the newest: kept. */
        assert_int_equal(writes_of(h, k), 1);
        must_written(h, k, 35, 40, KV_WRITE_PUT);
        if (long_values)
            assert_true(pt_has_default(h, k, 35));
    } else {
        assert_int_equal(writes_of(h, k), 0);
        assert_int_equal(count_cf(h, KV_CF_DEFAULT, k), 1); /* the raw version of v3 */
    }
}

static void test_gc_collapse(void **state)
{
    th *h = *state;
    collapse(h, "k1", V("v1"), V("v2"), V("v3"), V("v4"));
}

static void test_gc_collapse_long_values(void **state)
{
    th *h = *state;
    bs_slice l1 = pt_long_value(300), l2 = pt_long_value(301), l3 = pt_long_value(302),
             l4 = pt_long_value(303);
    collapse(h, "k2", l1, l2, l3, l4);
}

/* ---- a newest Delete disappears with everything older -------------------------------------- */

static void test_gc_delete_newest(void **state)
{
    th *h = *state;
    must_prewrite_put(h, "d", pt_long_value(400), "d", 5);
    must_commit(h, "d", 5, 10);
    must_prewrite_put(h, "d", V("x"), "d", 12);
    must_commit(h, "d", 12, 14);
    must_prewrite_delete(h, "d", "d", 15);
    must_commit(h, "d", 15, 20);
    gc(h, 25);
    assert_int_equal(writes_of(h, "d"), 0);
    assert_int_equal(count_cf(h, KV_CF_DEFAULT, "d"), 0); /* 'x' value and 'r' versions */
    must_get_none(h, "d", 30);
    /* The key is writable again, as any absent key. */
    must_prewrite_put(h, "d", V("again"), "d", 40);
    must_commit(h, "d", 40, 41);
    must_get(h, "d", 50, V("again"));
}

/* ---- rollback records ---------------------------------------------------------------------- */

static void test_gc_rollbacks(void **state)
{
    th *h = *state;
    /* "k": a protected (primary) rollback, a non-protected one, a Put, then a rollback
     * above the safe point. */
    must_prewrite_put(h, "k", V("a"), "k", 5);
    must_rollback(h, "k", 5);
    must_get_rollback(h, "k", 5, true);
    must_prewrite_put(h, "k", V("b"), "p", 7);
    must_rollback(h, "k", 7);
    must_prewrite_put(h, "k", V("c"), "k", 10);
    must_commit(h, "k", 10, 12);
    must_prewrite_put(h, "k", V("d"), "k", 30);
    must_rollback(h, "k", 30);
    /* "only": nothing but rollbacks, one each side of the safe point. */
    must_prewrite_put(h, "only", V("x"), "only", 6);
    must_rollback(h, "only", 6);
    must_prewrite_put(h, "only", V("y"), "only", 8);
    must_rollback(h, "only", 8);
    must_prewrite_put(h, "only", V("z"), "only", 31);
    must_rollback(h, "only", 31);
    assert_int_equal(writes_of(h, "only"), 3);

    gc(h, 20);
    must_get_rollback(h, "k", 30, true); /* above the safe point: kept */
    assert_false(has_write(h, "k", 5));
    assert_false(has_write(h, "k", 7));
    if (is_txn())
        must_written(h, "k", 10, 12, KV_WRITE_PUT);
    else
        assert_false(has_write(h, "k", 12));
    must_get(h, "k", 25, V("c"));
    assert_int_equal(writes_of(h, "only"), 1);
    must_get_rollback(h, "only", 31, true);
    /* A rollback above the safe point still stops its late prewrite. */
    assert_int_equal(must_prewrite_put_err(h, "only", V("z"), "only", 31, NULL),
                     TXN_KEY_ERR_WRITE_CONFLICT);
}

/* ---- nothing at or above the safe point changes -------------------------------------------- */

static void test_gc_above_safe_point(void **state)
{
    th *h = *state;
    must_prewrite_put(h, "a", pt_long_value(500), "a", 50);
    must_commit(h, "a", 50, 60);
    must_prewrite_delete(h, "a", "a", 70);
    must_commit(h, "a", 70, 80);
    must_prewrite_put(h, "a", V("r"), "a", 85);
    must_rollback(h, "a", 85);
    must_prewrite_put(h, "b", V("1"), "b", 40);
    must_commit(h, "b", 40, 45); /* exactly at the safe point: the newest, kept in 'x' */
    must_prewrite_put(h, "c", V("locked"), "c", 90);
    int wa = writes_of(h, "a"), da = count_cf(h, KV_CF_DEFAULT, "a");
    gc(h, 45);
    assert_int_equal(writes_of(h, "a"), wa);
    assert_int_equal(count_cf(h, KV_CF_DEFAULT, "a"), da);
    must_get(h, "a", 65, pt_long_value(500));
    must_get_none(h, "a", 90);
    must_locked(h, "c", 90, NULL);
    must_get(h, "b", 50, V("1"));
    if (is_txn())
        must_written(h, "b", 40, 45, KV_WRITE_PUT);
    else
        assert_int_equal(writes_of(h, "b"), 0);
    /* The lock above the safe point still commits normally. */
    must_commit(h, "c", 90, 95);
    must_get(h, "c", 100, V("locked"));
}

/* ---- leftover locks are resolved first ----------------------------------------------------- */

static void test_gc_resolves_leftover_locks(void **state)
{
    th *h = *state;
    /* txn 10: primary "p" committed at 15, secondary "s" left locked (its coordinator died
     * between the two commits). A later txn makes the primary's record garbage. */
    must_prewrite_put(h, "p", V("p10"), "p", 10);
    must_prewrite_put(h, "s", V("s10"), "p", 10);
    must_commit(h, "p", 10, 15);
    must_prewrite_put(h, "p", V("p20"), "p", 20);
    must_commit(h, "p", 20, 25);
    /* txn 12: never committed; its primary's TTL is far from over. */
    must_prewrite_put_ttl(h, "q", V("q12"), "q", 12, 1000000000ull, 0);
    must_prewrite_put_ttl(h, "t", V("t12"), "q", 12, 1000000000ull, 0);
    /* txn 14: only a secondary exists (the primary's prewrite never arrived). */
    must_prewrite_put(h, "u", V("u14"), "missing", 14);
    /* txn 40: above the safe point, untouched. */
    must_prewrite_put(h, "w", V("w40"), "w", 40);

    /* One lock per scan: the runs still resolve every txn, each from its primary. */
    size_t resolved = gc_locks(h, 30, 1, BS_OK);
    assert_int_equal(resolved, 4);
    must_unlocked(h, "s");
    must_get(h, "s", 30, V("s10")); /* committed from its primary, not rolled back */
    if (is_txn())
        must_written(h, "s", 10, 15, KV_WRITE_PUT);
    must_unlocked(h, "q");
    must_unlocked(h, "t");
    must_get_rollback(h, "q", 12, true);
    must_get_none(h, "t", 30);
    must_unlocked(h, "u");
    must_get_rollback(h, "missing", 14, true); /* the primary can never commit now */
    must_get_none(h, "u", 30);
    must_locked(h, "w", 40, NULL);

    /* Now the records: the primary's commit at 15 goes, the secondary keeps its value. */
    (void)gc_writes(h, 30, 0, NULL, NULL);
    gc_raw(h, 30);
    assert_false(has_write(h, "p", 15));
    must_get(h, "p", 30, V("p20"));
    must_get(h, "s", 30, V("s10"));
    must_get_none(h, "q", 30);
    assert_int_equal(writes_of(h, "q"), 0);
    assert_int_equal(writes_of(h, "missing"), 0);
    must_locked(h, "w", 40, NULL);
}

static void test_gc_async_commit_lock_fails(void **state)
{
    th *h = *state;
    /* Basalt never writes async-commit locks, but one written by TiKV must not be rolled
     * back by GC (CheckTxnStatus refuses), so the resolution fails and records wait. */
    kv_lock l;
    kv_lock_init(&l);
    l.type = KV_LOCK_PUT;
    l.primary = pt_key("ac");
    l.start_ts = 10;
    l.ttl = 1;
    l.use_async_commit = true;
    l.min_commit_ts = 11;
    if (is_txn()) {
        l.has_short_value = true;
        l.short_value = V("v");
    } else {
        bs_buf enc = BS_BUF_INIT;
        kv_raw_value_encode(&enc, V("v"), 0, false);
        l.has_basalt_value = true;
        l.basalt_value = bs_buf_slice(&enc);
        pt_put_lock(h, "ac", &l);
        bs_buf_free(&enc);
    }
    if (is_txn())
        pt_put_lock(h, "ac", &l);
    (void)gc_locks(h, 20, 0, BS_EBUSY);
    must_locked(h, "ac", 10, NULL);
}

/* ---- a pass limit splitting one key ------------------------------------------------------- */

typedef struct split_check {
    const char *del_key; /* newest record at the safe point is a Delete at del_ts */
    uint64_t del_ts;
    const char *put_key; /* newest record at the safe point is a Put at put_ts */
    uint64_t put_ts;
    uint64_t sp;
} split_check;

static void check_invariant(th *h, void *arg)
{
    split_check *c = arg;
    if (is_txn()) {
        /* Older versions of "del" exist only while its Delete still shadows them. */
        if (writes_of(h, c->del_key) > 1)
            assert_true(has_write(h, c->del_key, c->del_ts));
        /* The newest Put stays readable after every pass. */
        must_written(h, c->put_key, c->put_ts - 1, c->put_ts, KV_WRITE_PUT);
    }
    must_get_none(h, c->del_key, c->sp);
    must_get(h, c->put_key, c->sp, V("last"));
}

static void test_gc_limit_splits_key(void **state)
{
    th *h = *state;
    uint64_t ts = 10;
    for (int i = 0; i < 12; i++, ts += 2) {
        must_prewrite_put(h, "del", i % 2 ? pt_long_value(300) : V("v"), "del", ts);
        must_commit(h, "del", ts, ts + 1);
        must_prewrite_put(h, "put", i % 2 ? pt_long_value(300) : V("v"), "put", ts);
        must_commit(h, "put", ts, ts + 1);
    }
    must_prewrite_delete(h, "del", "del", ts);
    must_commit(h, "del", ts, ts + 1);
    uint64_t del_ts = ts + 1;
    must_prewrite_put(h, "put", V("last"), "put", ts);
    must_commit(h, "put", ts, ts + 1);
    uint64_t put_ts = ts + 1;
    uint64_t sp = put_ts + 10;
    split_check c = {"del", del_ts, "put", put_ts, sp};
    gc_raw(h, sp);
    (void)gc_locks(h, sp, 0, BS_OK);
    int passes = gc_writes(h, sp, 3, check_invariant, &c);
    assert_true(passes >= 6);
    assert_int_equal(writes_of(h, "del"), 0);
    assert_int_equal(writes_of(h, "put"), is_txn() ? 1 : 0);
    assert_int_equal(count_cf(h, KV_CF_DEFAULT, "del"), 0);
    assert_int_equal(count_cf(h, KV_CF_DEFAULT, "put"), is_txn() ? 0 : 1); /* "last" is short */
    must_get(h, "put", sp, V("last"));
    must_get_none(h, "del", sp);
}

/* ---- a pass that finds nothing still stops after reading limit * 4 records ------------------ */

static void test_gc_write_pass_bounded_reads(void **state)
{
    th *h = *state;
    char k[16];
    for (int i = 0; i < 40; i++) { /* one Put each: nothing to collect */
        snprintf(k, sizeof k, "a%02d", i);
        must_prewrite_put(h, k, V("v"), k, (uint64_t)(100 + 2 * i));
        must_commit(h, k, (uint64_t)(100 + 2 * i), (uint64_t)(101 + 2 * i));
    }
    must_prewrite_put(h, "zz", V("x"), "zz", 200);
    must_commit(h, "zz", 200, 201);
    must_prewrite_delete(h, "zz", "zz", 202);
    must_commit(h, "zz", 202, 203);
    int passes = gc_writes(h, 300, 2, NULL, NULL);
    /* 42 records, at most 2 * 4 (+ the records of the key being read) per pass */
    assert_true(passes >= 42 / (2 * TXN_GC_READS_PER_DELETE + 2));
    assert_int_equal(writes_of(h, "zz"), 0);
    for (int i = 0; i < 40; i++) {
        snprintf(k, sizeof k, "a%02d", i);
        assert_int_equal(writes_of(h, k), is_txn() ? 1 : 0); /* 'r': every record goes */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_BOTH(test_gc_collapse),
        PT_BOTH(test_gc_collapse_long_values),
        PT_BOTH(test_gc_delete_newest),
        PT_BOTH(test_gc_rollbacks),
        PT_BOTH(test_gc_above_safe_point),
        PT_BOTH(test_gc_resolves_leftover_locks),
        PT_BOTH(test_gc_async_commit_lock_fails),
        PT_BOTH(test_gc_limit_splits_key),
        PT_BOTH(test_gc_write_pass_bounded_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
