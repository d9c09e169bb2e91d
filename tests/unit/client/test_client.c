/* test_client.c -- the cluster client over one real store (Raft, apply, txn layer) and an
 * in-process PD: every operation of client.h, NotFound and TTL expiry, reads and writes
 * spanning several Regions (scans both ways return every key once and in order), the
 * CROSSREGION refusal, retries on region errors (a cache or PD that lags the store's epoch
 * or split, a Region the store does not have), the backoff budget, the lease and ReadIndex
 * read paths, and client_free with requests in flight. Waits are bounded; nothing asserts on time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "client/client_env.h"
#include "client/client_int.h"
#include "common/assert.h"
#include "common/clock.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
static const char *const no_splits[] = {NULL};

/* Keyspace 0 split at "g" and "p": three Regions on the store, PD agreeing. */
static const char *const gp[] = {"g", "p", NULL};
static const ce_layout three = {.pd_splits = gp};

static void put_letters(ce *v, uint32_t ks, const char *prefix)
{
    for (char ch = 'a'; ch <= 'z'; ch++) {
        char k[16], val[16];
        snprintf(k, sizeof k, "%s%c", prefix, ch);
        snprintf(val, sizeof val, "v%c", ch);
        ce_must_put(v, ks, k, val);
    }
}

/* Asserts r's pairs are exactly the keys of want (in order), each with value "v<last>". */
static void assert_keys(const ce_res *r, const char *want, bool key_only)
{
    size_t n = strlen(want);
    if (r->pairs.n != n) {
        fprintf(stderr, "got %zu pairs:", r->pairs.n);
        for (size_t i = 0; i < r->pairs.n; i++)
            fprintf(stderr, " %.*s", (int)r->pairs.v[i].key.len, (char *)r->pairs.v[i].key.ptr);
        fprintf(stderr, "\n");
        fail_msg("want %zu pairs (%s)", n, want);
    }
    for (size_t i = 0; i < n; i++) {
        char k[2] = {want[i], 0}, val[3] = {'v', want[i], 0};
        ce_assert_buf(&r->pairs.v[i].key, k);
        ce_assert_buf(&r->pairs.v[i].value, key_only ? "" : val);
    }
}

/* ---- single keys ---------------------------------------------------------------------------- */

static void test_single_key(void **state)
{
    (void)state;
    ce v;
    ce_res r;
    ce_open(&v, NULL, 0);
    ce_res_init(&r);
    ce_must_not_found(&v, 0, "k");
    ce_must_put(&v, 0, "k", "v1");
    ce_must_get(&v, 0, "k", "v1");
    ce_must_put(&v, 0, "k", "v2");
    ce_must_get(&v, 0, "k", "v2");
    /* Keyspaces are apart. */
    ce_must_not_found(&v, 1, "k");
    ce_must_put(&v, CLIENT_KEYSPACE_MAX, "k", "top");
    ce_must_get(&v, CLIENT_KEYSPACE_MAX, "k", "top");
    ce_must_get(&v, 0, "k", "v2");
    /* Binary keys and values. */
    static const uint8_t bk[] = {'b', 0, '\r', '\n', 0xff}, bv[] = {0, 1, 0};
    ce_res_free(&r);
    client_put(v.c, 0, bs_slice_make(bk, sizeof bk), bs_slice_make(bv, sizeof bv), 0, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    ce_res_free(&r);
    client_get(v.c, 0, bs_slice_make(bk, sizeof bk), ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.value.len, sizeof bv);
    assert_memory_equal(r.value.ptr, bv, sizeof bv);
    /* TTL: persistent 0, a TTL counts down from at most what was set. */
    ce_res_free(&r);
    client_get_ttl(v.c, 0, bs_slice_from_str("k"), ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.ttl_ms, 0);
    assert_int_equal(ce_put(&v, 0, "t", "x", 100000, &r), BS_OK);
    ce_res_free(&r);
    client_get_ttl(v.c, 0, bs_slice_from_str("t"), ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    assert_true(r.ttl_ms > 0 && r.ttl_ms <= 100000);
    ce_res_free(&r);
    client_get_ttl(v.c, 0, bs_slice_from_str("nope"), ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_NOTFOUND);
    /* Delete, also of an absent key. */
    ce_res_free(&r);
    client_delete(v.c, 0, bs_slice_from_str("k"), ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    ce_must_not_found(&v, 0, "k");
    ce_res_free(&r);
    client_delete(v.c, 0, bs_slice_from_str("never"), ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    ce_res_free(&r);
    ce_close(&v);
}

static void test_ttl_expiry(void **state)
{
    (void)state;
    ce v;
    ce_res r;
    ce_open(&v, &three, 0);
    ce_res_init(&r);
    if (ce_put(&v, 0, "a", "short", 100000, &r) != BS_OK)
        fail_msg("put: %d %s", r.code, r.msg);
    assert_int_equal(ce_put(&v, 0, "z", "short", 100000, &r), BS_OK);
    ce_must_put(&v, 0, "m", "long");
    ce_must_get(&v, 0, "a", "short");
    bs_clock_set_wall_offset(200000); /* past both expiries */
    ce_must_not_found(&v, 0, "a");
    ce_must_not_found(&v, 0, "z");
    ce_res_free(&r);
    client_get_ttl(v.c, 0, bs_slice_from_str("a"), ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_NOTFOUND);
    ce_must_put(&v, 0, "b", "long");
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_EXISTS, L("a", "b"), NULL, 0, &r), BS_OK);
    assert_int_equal(r.count, 1);
    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 100, false, false, &r), BS_OK);
    assert_int_equal(r.pairs.n, 2); /* b, m */
    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 100, true, false, &r), BS_OK);
    assert_int_equal(r.pairs.n, 2);
    ce_res_free(&r);
    client_count(v.c, 0, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.count, 2);
    /* An expired key is absent for writes too. */
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_MSETNX, L("a"), L("new"), 0, &r), BS_OK);
    assert_true(r.applied);
    bs_clock_set_wall_offset(0);
    ce_res_free(&r);
    ce_close(&v);
}

/* ---- reads across Regions ------------------------------------------------------------------ */

static void test_batch_get(void **state)
{
    (void)state;
    ce v;
    ce_res r;
    ce_open(&v, &three, 0);
    ce_res_init(&r);
    ce_must_put(&v, 0, "a", "va");
    ce_must_put(&v, 0, "h", "vh");
    ce_must_put(&v, 0, "q", "vq");
    ce_must_put(&v, 1, "h", "other keyspace");
    bs_slice keys[] = {bs_slice_from_str("q"), bs_slice_from_str("missing"),
                       bs_slice_from_str("a"), bs_slice_from_str("h"), bs_slice_from_str("q")};
    client_batch_get(v.c, 0, keys, 5, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    const char *want[] = {"q", "a", "h", "q"};
    assert_int_equal(r.pairs.n, 4); /* request order, missing omitted, q twice */
    for (size_t i = 0; i < 4; i++) {
        char val[3] = {'v', want[i][0], 0};
        ce_assert_buf(&r.pairs.v[i].key, want[i]);
        ce_assert_buf(&r.pairs.v[i].value, val);
    }
    ce_res_free(&r);
    client_batch_get(v.c, 0, keys, 0, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.pairs.n, 0);
    ce_res_free(&r);
    ce_close(&v);
}

static void test_scan_across_regions(void **state)
{
    (void)state;
    ce v;
    ce_res r;
    const ce_layout five = {.pd_splits = L("c", "g", "k", "p", "t")};
    ce_open(&v, &five, 0);
    ce_res_init(&r);
    put_letters(&v, 0, "");
    ce_must_put(&v, 1, "a", "ks1");
    const char *all = "abcdefghijklmnopqrstuvwxyz", *rall = "zyxwvutsrqponmlkjihgfedcba";

    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 100, false, false, &r), BS_OK);
    assert_keys(&r, all, false);
    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 1000, false, false, &r), BS_OK); /* worker */
    assert_keys(&r, all, false);
    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 5, false, false, &r), BS_OK);
    assert_keys(&r, "abcde", false);
    assert_int_equal(ce_scan(&v, 0, "f", "r", 100, false, true, &r), BS_OK);
    assert_keys(&r, "fghijklmnopq", true);
    assert_int_equal(ce_scan(&v, 0, "g", "p", 100, false, false, &r), BS_OK); /* = a Region */
    assert_keys(&r, "ghijklmno", false);
    assert_int_equal(ce_scan(&v, 0, "r", "f", 100, false, false, &r), BS_OK); /* empty */
    assert_int_equal(r.pairs.n, 0);

    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 100, true, false, &r), BS_OK);
    assert_keys(&r, rall, false);
    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 1000, true, true, &r), BS_OK);
    assert_keys(&r, rall, true);
    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 3, true, false, &r), BS_OK);
    assert_keys(&r, "zyx", false);
    /* Reverse: [end, start) descending. */
    assert_int_equal(ce_scan(&v, 0, "q", "f", 100, true, false, &r), BS_OK);
    assert_keys(&r, "ponmlkjihgf", false);
    assert_int_equal(ce_scan(&v, 0, "p", "g", 100, true, false, &r), BS_OK);
    assert_keys(&r, "onmlkjihg", false);

    /* Paging forward and backward visits every key once, in order. */
    char got[64] = {0}, cursor[8] = "";
    for (int page = 0; page < 20; page++) {
        assert_int_equal(ce_scan(&v, 0, cursor, NULL, 4, false, false, &r), BS_OK);
        if (r.pairs.n == 0)
            break;
        for (size_t i = 0; i < r.pairs.n; i++)
            got[strlen(got)] = (char)r.pairs.v[i].key.ptr[0];
        snprintf(cursor, sizeof cursor, "%c%c", r.pairs.v[r.pairs.n - 1].key.ptr[0], 1);
    }
    assert_string_equal(got, all);
    memset(got, 0, sizeof got);
    const char *rcur = NULL;
    char rbuf[8];
    for (int page = 0; page < 20; page++) {
        assert_int_equal(ce_scan(&v, 0, rcur, NULL, 7, true, false, &r), BS_OK);
        if (r.pairs.n == 0)
            break;
        for (size_t i = 0; i < r.pairs.n; i++)
            got[strlen(got)] = (char)r.pairs.v[i].key.ptr[0];
        snprintf(rbuf, sizeof rbuf, "%c", r.pairs.v[r.pairs.n - 1].key.ptr[0]);
        rcur = rbuf; /* exclusive upper bound */
    }
    assert_string_equal(got, rall);

    /* Other keyspaces stay out. */
    assert_int_equal(ce_scan(&v, 1, NULL, NULL, 100, false, false, &r), BS_OK);
    assert_int_equal(r.pairs.n, 1);
    ce_assert_buf(&r.pairs.v[0].key, "a");
    assert_int_equal(ce_scan(&v, 1, NULL, NULL, 100, true, false, &r), BS_OK);
    assert_int_equal(r.pairs.n, 1);
    assert_int_equal(ce_scan(&v, 2, NULL, NULL, 100, true, false, &r), BS_OK);
    assert_int_equal(r.pairs.n, 0);
    ce_res_free(&r);
    ce_close(&v);
}

static void test_count_and_delete_all(void **state)
{
    (void)state;
    ce v;
    ce_res r;
    ce_open(&v, &three, 0);
    ce_res_init(&r);
    put_letters(&v, 0, "");
    ce_must_put(&v, 1, "x", "1");
    ce_must_put(&v, 1, "y", "1");
    ce_must_put(&v, 7, "z", "1");
    client_count(v.c, 0, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.count, 26);
    ce_res_free(&r);
    client_count(v.c, 1, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.count, 2);

    ce_res_free(&r);
    client_delete_all(v.c, 0, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    ce_res_free(&r);
    client_count(v.c, 0, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.count, 0);
    ce_must_not_found(&v, 0, "a");
    ce_must_not_found(&v, 0, "z");
    ce_must_get(&v, 1, "x", "1"); /* FLUSHDB leaves other keyspaces alone */
    ce_must_get(&v, 7, "z", "1");

    ce_res_free(&r);
    client_delete_all(v.c, CLIENT_ALL_KEYSPACES, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    ce_must_not_found(&v, 1, "x");
    ce_must_not_found(&v, 7, "z");
    ce_res_free(&r);
    client_count(v.c, 1, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.count, 0);
    /* Writes after a flush land normally. */
    ce_must_put(&v, 0, "h", "again");
    ce_must_get(&v, 0, "h", "again");
    ce_res_free(&r);
    ce_close(&v);
}

/* ---- read-modify-writes, CAS, multi-key --------------------------------------------------- */

static void test_rmw_and_cas(void **state)
{
    (void)state;
    ce v;
    ce_res r;
    ce_open(&v, NULL, 0);
    ce_res_init(&r);
    txn_rmw_params p;
    memset(&p, 0, sizeof(p));
    p.op = TXN_RMW_INCRBY;
    p.incr = 5;
    for (int i = 1; i <= 2; i++) {
        ce_res_free(&r);
        client_rmw(v.c, 0, bs_slice_from_str("n"), &p, ce_cb, &r);
        ce_wait(&r);
        assert_int_equal(r.code, BS_OK);
        assert_int_equal(r.rmw.integer, 5 * i);
    }
    ce_must_get(&v, 0, "n", "10");
    ce_must_put(&v, 0, "s", "abc");
    ce_res_free(&r);
    client_rmw(v.c, 0, bs_slice_from_str("s"), &p, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_EINVAL);
    assert_int_equal(r.kind, TXN_ERR_NOT_INTEGER);
    assert_string_equal(r.msg, "value is not an integer or out of range");
    memset(&p, 0, sizeof(p));
    p.op = TXN_RMW_GETSET;
    p.arg = bs_slice_from_str("new");
    ce_res_free(&r);
    client_rmw(v.c, 0, bs_slice_from_str("s"), &p, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    ce_assert_buf(&r.rmw.old_value, "abc");
    ce_must_get(&v, 0, "s", "new");

    txn_cas_req cas;
    memset(&cas, 0, sizeof(cas));
    cas.key = bs_slice_from_str("s");
    cas.previous_value = bs_slice_from_str("wrong");
    cas.value = bs_slice_from_str("swapped");
    ce_res_free(&r);
    client_cas(v.c, 0, &cas, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    assert_false(r.succeed);
    ce_assert_buf(&r.previous_value, "new");
    cas.previous_value = bs_slice_from_str("new");
    ce_res_free(&r);
    client_cas(v.c, 0, &cas, ce_cb, &r);
    ce_wait(&r);
    assert_true(r.succeed);
    ce_must_get(&v, 0, "s", "swapped");
    cas.key = bs_slice_from_str("fresh");
    cas.previous_not_exist = true;
    ce_res_free(&r);
    client_cas(v.c, 0, &cas, ce_cb, &r);
    ce_wait(&r);
    assert_true(r.succeed);
    assert_true(r.previous_not_exist);
    ce_must_get(&v, 0, "fresh", "swapped");
    ce_res_free(&r);
    ce_close(&v);
}

static void test_multi(void **state)
{
    (void)state;
    ce v;
    ce_res r;
    ce_open(&v, &three, 0);
    ce_res_init(&r);
    /* All in Region [g, p). */
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_MSET, L("h", "i", "j"), L("1", "2", "3"), 0, &r),
                     BS_OK);
    ce_must_get(&v, 0, "i", "2");
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_MSETNX, L("k", "h"), L("x", "x"), 0, &r), BS_OK);
    assert_false(r.applied);
    ce_must_not_found(&v, 0, "k");
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_EXISTS, L("h", "h", "k"), NULL, 0, &r), BS_OK);
    assert_int_equal(r.count, 2);
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_RENAME, L("h", "k"), NULL, 0, &r), BS_OK);
    ce_must_get(&v, 0, "k", "1");
    ce_must_not_found(&v, 0, "h");
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_RENAME, L("h", "k"), NULL, 0, &r), BS_NOTFOUND);
    assert_string_equal(r.msg, "no such key");
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_RENAMENX, L("k", "i"), NULL, 0, &r), BS_OK);
    assert_false(r.applied);
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_COPY, L("k", "i"), NULL, CLIENT_MULTI_REPLACE,
                              &r),
                     BS_OK);
    assert_true(r.applied);
    ce_must_get(&v, 0, "i", "1");
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_COPY, L("k", "k"), NULL, 0, &r), BS_EINVAL);
    assert_string_equal(r.msg, "source and destination objects are the same");
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_DEL, L("i", "j", "k", "i", "nope"), NULL, 0, &r),
                     BS_OK);
    assert_int_equal(r.count, 3);

    /* Keys in two Regions: refused, nothing written. */
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_MSET, L("h", "z"), L("1", "2"), 0, &r),
                     BS_ERANGE);
    assert_int_equal(r.kind, TXN_ERR_INVALID_ARGUMENT);
    assert_string_equal(r.msg, "-CROSSREGION Keys in request don't hash to the same region");
    ce_must_not_found(&v, 0, "h");
    ce_must_not_found(&v, 0, "z");
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_EXISTS, L("a", "q"), NULL, 0, &r), BS_ERANGE);
    /* The same key twice in another keyspace is one Region. */
    assert_int_equal(ce_multi(&v, 3, CLIENT_MULTI_MSET, L("z", "z"), L("1", "2"), 0, &r), BS_OK);
    ce_must_get(&v, 3, "z", "2");
    ce_res_free(&r);
    ce_close(&v);
}

static void test_validation(void **state)
{
    (void)state;
    ce v;
    ce_res r;
    ce_open(&v, NULL, 0);
    ce_res_init(&r);
    /* Refused before the call returns. */
    client_get(v.c, CLIENT_KEYSPACE_MAX + 1, bs_slice_from_str("k"), ce_cb, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_EINVAL);
    assert_int_equal(r.kind, TXN_ERR_INVALID_ARGUMENT);
    ce_res_free(&r);
    client_scan_req q;
    memset(&q, 0, sizeof(q));
    client_scan(v.c, &q, ce_cb, &r); /* limit 0 */
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_EINVAL);
    ce_res_free(&r);
    client_multi_req m;
    memset(&m, 0, sizeof(m));
    client_multi(v.c, &m, ce_cb, &r); /* no keys */
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_EINVAL);
    ce_res_free(&r);
    client_delete_all(v.c, CLIENT_KEYSPACE_MAX + 1, ce_cb, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_EINVAL);
    ce_res_free(&r);
    client_options o;
    client_options_init(&o);
    assert_int_equal(o.max_backoff_ms, 20000);
    client *c = NULL;
    assert_int_equal(client_new(&o, &c, NULL), BS_EINVAL);
    assert_null(c);
    client_free(NULL);
    ce_close(&v);
}

/* ---- region errors and retries -------------------------------------------------------------- */

/* Seeds c's region cache with the store's Region holding user key `user` (keyspace 0),
 * made stale: epoch version 1 and, with to_end, stretched to +inf (as before a split). */
static void seed_stale(ce *v, const char *user, bool to_end)
{
    bs_buf rk = BS_BUF_INIT;
    cluster_region r;
    pd_region_init(&r);
    ce_region_key(&rk, 0, user);
    assert_int_equal(cluster_store_region_by_key(v->s, bs_buf_slice(&rk), &r), BS_OK);
    assert_true(r.epoch.version > 1);
    r.epoch.version = 1;
    if (to_end)
        bs_buf_reset(&r.end_key);
    client_cache_put(&v->c->cache, &r);
    pd_region_deinit(&r);
    bs_buf_free(&rk);
}

/* The client's cached epochs are older than the store's (as after a split it has not seen):
 * the first request of each Region gets EpochNotMatch with the current Region, installs it
 * and succeeds on retry. */
static void test_epoch_not_match_retry(void **state)
{
    (void)state;
    ce v;
    ce_res r;
    ce_open(&v, &three, 0);
    ce_res_init(&r);
    seed_stale(&v, "a", false);
    seed_stale(&v, "h", false);
    seed_stale(&v, "z", false);
    ce_must_put(&v, 0, "a", "1"); /* writes route by the store's current Region anyway */
    ce_must_get(&v, 0, "a", "1"); /* EpochNotMatch, retry */
    ce_must_get(&v, 0, "a", "1"); /* cached right now */
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_MSET, L("h", "i"), L("2", "3"), 0, &r), BS_OK);
    ce_must_put(&v, 0, "z", "4");
    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 10, true, false, &r), BS_OK);
    assert_int_equal(r.pairs.n, 4);
    client_store_info info;
    client_store_info_get(v.c, &info);
    assert_true(info.region_errors >= 3); /* one EpochNotMatch per Region */
    assert_true(info.retries >= 3);
    assert_int_equal(client_cache_size(&v.c->cache), 3);
    ce_res_free(&r);
    ce_close(&v);
}

/* The store split at "m" but the client still caches the Region before the split: requests
 * for keys above "m" get EpochNotMatch (the Region no longer holds them) and then find the
 * new Region in the local store; a cold reverse scan too. */
static void test_client_lags_split(void **state)
{
    (void)state;
    ce v;
    ce_res r;
    const ce_layout split_m = {.pd_splits = L("m")};
    ce_open(&v, &split_m, 0);
    ce_res_init(&r);
    seed_stale(&v, "a", true);
    ce_must_put(&v, 0, "z", "2");
    ce_must_put(&v, 0, "a", "1");
    ce_must_get(&v, 0, "z", "2");
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_MSET, L("x", "y"), L("3", "4"), 0, &r), BS_OK);
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_MSET, L("b", "y"), L("5", "6"), 0, &r),
                     BS_ERANGE);
    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 10, false, false, &r), BS_OK);
    assert_int_equal(r.pairs.n, 4);
    client_store_info info;
    client_store_info_get(v.c, &info);
    assert_true(info.region_errors >= 1);
    /* A fresh client with the same stale view scanning backwards first. */
    client_free(v.c);
    client_options o;
    client_options_init(&o);
    o.pd = v.pd;
    o.store = v.s;
    o.txn = v.txn;
    assert_int_equal(client_new(&o, &v.c, NULL), BS_OK);
    seed_stale(&v, "a", true);
    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 10, true, true, &r), BS_OK);
    assert_int_equal(r.pairs.n, 4);
    ce_assert_buf(&r.pairs.v[0].key, "z");
    ce_assert_buf(&r.pairs.v[3].key, "a");
    client_store_info_get(v.c, &info);
    assert_true(info.region_errors >= 1);
    ce_res_free(&r);
    ce_close(&v);
}

/* A PD whose view lags the store (it was told one Region, the store has two at a newer
 * epoch): whatever PD says when asked, requests end up on the right Region. */
static void test_pd_lags_store(void **state)
{
    (void)state;
    ce v;
    ce_res r;
    const ce_layout lag = {.pd_splits = no_splits, .store_splits = L("m"), .store_version = 3};
    ce_open(&v, &lag, 0);
    ce_res_init(&r);
    ce_must_put(&v, 0, "z", "2");
    ce_must_put(&v, 0, "a", "1");
    ce_must_get(&v, 0, "z", "2");
    ce_must_get(&v, 0, "a", "1");
    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 10, true, false, &r), BS_OK);
    assert_int_equal(r.pairs.n, 2);
    ce_res_free(&r);
    ce_close(&v);
}

/* PD knows a Region [m, +inf) the store does not have: requests there back off until the
 * budget is spent and fail with the last region error; the other Region works. */
static void test_gives_up_after_budget(void **state)
{
    (void)state;
    ce v;
    ce_res r;
    const ce_layout missing = {.pd_splits = L("m"), .store_skip = 2};
    ce_open(&v, &missing, 50);
    ce_res_init(&r);
    ce_must_put(&v, 0, "a", "1");
    assert_int_equal(ce_get(&v, 0, "z", &r), BS_NOTFOUND); /* RegionNotFound */
    assert_true(strstr(r.msg, "RegionNotFound") != NULL || strstr(r.msg, "region") != NULL);
    assert_int_equal(ce_put(&v, 0, "z", "x", 0, &r), BS_NOTFOUND);
    client_store_info info;
    client_store_info_get(v.c, &info);
    assert_true(info.retries > 0);
    assert_int_equal(info.regions, 1);
    assert_int_equal(info.leaders, 1);
    ce_must_get(&v, 0, "a", "1");
    ce_res_free(&r);
    ce_close(&v);
}

#define N_INFLIGHT 100

static void test_free_with_requests_in_flight(void **state)
{
    (void)state;
    ce v;
    const ce_layout missing = {.pd_splits = L("m"), .store_skip = 2};
    ce_open(&v, &missing, 600000);
    ce_res stuck, puts[N_INFLIGHT];
    ce_res_init(&stuck);
    client_get(v.c, 0, bs_slice_from_str("z"), ce_cb, &stuck); /* backs off for long */
    for (int i = 0; i < N_INFLIGHT; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%03d", i);
        ce_res_init(&puts[i]);
        client_put(v.c, 0, bs_slice_from_str(k), bs_slice_from_str("v"), 0, ce_cb, &puts[i]);
    }
    client_free(v.c); /* fails the backing-off get, waits for the puts */
    v.c = NULL;
    assert_int_equal(stuck.calls, 1);
    assert_int_equal(stuck.code, BS_EPROPOSAL_DROPPED);
    assert_string_equal(stuck.msg, "client closed");
    for (int i = 0; i < N_INFLIGHT; i++) {
        assert_int_equal(puts[i].calls, 1);
        assert_int_equal(puts[i].code, BS_OK);
        ce_res_free(&puts[i]);
    }
    ce_res_free(&stuck);
    ce_close(&v);
}

/* ---- concurrency and observability --------------------------------------------------------- */

#define N_THREADS 4
#define N_INCR 100

static void *incr_worker(void *arg)
{
    ce *v = arg;
    txn_rmw_params p;
    memset(&p, 0, sizeof(p));
    p.op = TXN_RMW_INCRBY;
    p.incr = 1;
    ce_res r;
    ce_res_init(&r);
    for (int i = 0; i < N_INCR; i++) {
        ce_res_free(&r);
        client_rmw(v->c, 0, bs_slice_from_str("ctr"), &p, ce_cb, &r);
        ce_wait(&r);
        BS_ASSERT(r.code == BS_OK);
    }
    ce_res_free(&r);
    return NULL;
}

static void test_concurrent_incr(void **state)
{
    (void)state;
    ce v;
    ce_open(&v, NULL, 0);
    pthread_t t[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, incr_worker, &v), 0);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(t[i], NULL);
    char want[16];
    snprintf(want, sizeof want, "%d", N_THREADS * N_INCR);
    ce_must_get(&v, 0, "ctr", want);
    ce_close(&v);
}

/* A real split under a warm cache: the client's one-Region view goes stale, the first
 * request of each new Region gets EpochNotMatch (or finds the Region gone from the range)
 * and retries; reads, scans, counts, flushes and the CROSSREGION check follow the new
 * layout. */
static void test_split_under_client(void **state)
{
    (void)state;
    ce v;
    ce_res r;
    ce_open(&v, NULL, 0);
    ce_res_init(&r);
    put_letters(&v, 0, "");
    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 100, false, false, &r), BS_OK);
    assert_int_equal(client_cache_size(&v.c->cache), 1);
    ce_split(&v, "a", L("g", "p"));
    assert_int_equal(cluster_store_region_count(v.s), 3);
    ce_must_get(&v, 0, "z", "vz");
    ce_must_get(&v, 0, "a", "va");
    ce_must_get(&v, 0, "h", "vh");
    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 100, false, false, &r), BS_OK);
    assert_keys(&r, "abcdefghijklmnopqrstuvwxyz", false);
    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 100, true, true, &r), BS_OK);
    assert_keys(&r, "zyxwvutsrqponmlkjihgfedcba", true);
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_EXISTS, L("a", "z"), NULL, 0, &r), BS_ERANGE);
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_DEL, L("h", "i"), NULL, 0, &r), BS_OK);
    assert_int_equal(r.count, 2);
    ce_res_free(&r);
    client_count(v.c, 0, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.count, 24);
    client_store_info info;
    client_store_info_get(v.c, &info);
    assert_true(info.region_errors >= 1);
    assert_int_equal(info.regions, 3);
    ce_res_free(&r);
    client_delete_all(v.c, 0, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(ce_scan(&v, 0, NULL, NULL, 100, false, false, &r), BS_OK);
    assert_int_equal(r.pairs.n, 0);
    ce_res_free(&r);
    ce_close(&v);
}

#define N_WRITERS 2
#define N_AUTO 600 /* keys per writer */

typedef struct writer {
    ce *v;
    int id;
    _Atomic int failures;
} writer;

static void *auto_writer(void *arg)
{
    writer *w = arg;
    ce_res r;
    ce_res_init(&r);
    char val[80];
    memset(val, 'x', sizeof val - 1);
    val[sizeof val - 1] = 0;
    for (int i = 0; i < N_AUTO; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%05d", i * N_WRITERS + w->id);
        if (ce_put(w->v, 0, k, val, 0, &r) != BS_OK) {
            fprintf(stderr, "put %s: %d %s\n", k, r.code, r.msg);
            w->failures++;
        }
    }
    ce_res_free(&r);
    return NULL;
}

/* Automatic splits (a few KiB per Region) while two threads write: every put is
 * acknowledged (the client retries through split fences and epoch changes), and afterwards
 * every key is read back exactly once, in order, both ways, across all the Regions. */
static void test_auto_split(void **state)
{
    (void)state;
    ce v;
    ce_res r;
    const ce_layout small = {.split_size = 4096};
    ce_open(&v, &small, 0);
    ce_res_init(&r);
    writer w[N_WRITERS];
    pthread_t t[N_WRITERS];
    for (int i = 0; i < N_WRITERS; i++) {
        w[i] = (writer){&v, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, auto_writer, &w[i]), 0);
    }
    for (int i = 0; i < N_WRITERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    const int total = N_WRITERS * N_AUTO;
    assert_true(ce_wait_regions(&v, 3));
    ce_res_free(&r);
    client_count(v.c, 0, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.count, total);
    for (int dir = 0; dir < 2; dir++) {
        assert_int_equal(ce_scan(&v, 0, NULL, NULL, 5000, dir == 1, true, &r), BS_OK);
        assert_int_equal(r.pairs.n, total);
        for (int i = 0; i < total; i++) {
            char k[16];
            snprintf(k, sizeof k, "k%05d", dir ? total - 1 - i : i);
            ce_assert_buf(&r.pairs.v[i].key, k);
        }
    }
    /* Paged scan: every key once. */
    int seen = 0;
    char cursor[24] = "";
    for (;;) {
        assert_int_equal(ce_scan(&v, 0, cursor, NULL, 37, false, true, &r), BS_OK);
        if (r.pairs.n == 0)
            break;
        for (size_t i = 0; i < r.pairs.n; i++) {
            char k[16];
            snprintf(k, sizeof k, "k%05d", seen++);
            ce_assert_buf(&r.pairs.v[i].key, k);
        }
        const bs_buf *last = &r.pairs.v[r.pairs.n - 1].key;
        snprintf(cursor, sizeof cursor, "%.*s%c", (int)last->len, (const char *)last->ptr, 1);
    }
    assert_int_equal(seen, total);
    /* The first and the last key now live in different Regions. */
    char last[16];
    snprintf(last, sizeof last, "k%05d", total - 1);
    assert_int_equal(ce_multi(&v, 0, CLIENT_MULTI_EXISTS, L("k00000", last), NULL, 0, &r),
                     BS_ERANGE);
    bs_slice keys[] = {bs_slice_from_str("k00000"), bs_slice_from_str(last),
                       bs_slice_from_str("k00600"), bs_slice_from_str("nope")};
    ce_res_free(&r);
    client_batch_get(v.c, 0, keys, 4, ce_cb, &r);
    ce_wait(&r);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.pairs.n, 3);
    ce_assert_buf(&r.pairs.v[1].key, last);
    ce_res_free(&r);
    ce_close(&v);
}

/* Reads are right on both paths: under the lease and after a ReadIndex (the one-store
 * lease lapses between ticks now and then; read until both were seen, bounded). */
static void test_lease_and_read_index(void **state)
{
    (void)state;
    ce v;
    ce_open(&v, &three, 0);
    ce_must_put(&v, 0, "a", "1");
    ce_must_put(&v, 0, "z", "2");
    client_store_info info;
    memset(&info, 0, sizeof(info));
    int reads = 0;
    for (; reads < 20000 && (info.read_indexes == 0 || (uint64_t)reads <= info.read_indexes);
         reads++) {
        ce_must_get(&v, 0, reads % 2 ? "a" : "z", reads % 2 ? "1" : "2");
        client_store_info_get(v.c, &info);
    }
    assert_true(info.read_indexes > 0);
    assert_true((uint64_t)reads > info.read_indexes); /* some went under the lease */
    ce_close(&v);
}

static void test_store_info(void **state)
{
    (void)state;
    ce v;
    ce_open(&v, &three, 0);
    ce_must_put(&v, 0, "a", "1");
    ce_must_get(&v, 0, "a", "1");
    client_store_info info;
    client_store_info_get(v.c, &info);
    assert_int_equal(info.store_id, v.store_id);
    assert_int_equal(info.cluster_id, pd_cluster_id(v.pd));
    assert_int_equal(info.regions, 3);
    assert_int_equal(info.leaders, 3);
    assert_int_equal(info.requests, 2);
    assert_true(info.stats.proposals_acked >= 1);
    ce_close(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_key),
        cmocka_unit_test(test_ttl_expiry),
        cmocka_unit_test(test_batch_get),
        cmocka_unit_test(test_scan_across_regions),
        cmocka_unit_test(test_count_and_delete_all),
        cmocka_unit_test(test_rmw_and_cas),
        cmocka_unit_test(test_multi),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_epoch_not_match_retry),
        cmocka_unit_test(test_client_lags_split),
        cmocka_unit_test(test_pd_lags_store),
        cmocka_unit_test(test_gives_up_after_budget),
        cmocka_unit_test(test_free_with_requests_in_flight),
        cmocka_unit_test(test_concurrent_incr),
        cmocka_unit_test(test_split_under_client),
        cmocka_unit_test(test_auto_split),
        cmocka_unit_test(test_lease_and_read_index),
        cmocka_unit_test(test_store_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
