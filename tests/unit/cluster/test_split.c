/* test_split.c -- one store whose Region splits by itself, and the machinery around it:
 *   - with region-split-size of a few KiB, raw puts split the first Region into several;
 *     the Regions tile the key space, their epochs follow TiKV's rules (the first Region
 *     keeps the right-most range), PD knows each of them (ReportBatchSplit and
 *     heartbeats), every key stays readable and routes to the Region that holds it;
 *   - a proposal with the pre-split epoch gets EpochNotMatch carrying the current Regions,
 *     a key outside a Region gets KeyNotInRegion;
 *   - leader callbacks (on_role_change), the new stats, region and store heartbeats;
 *   - a restart reloads every Region;
 *   - ReadIndex, and ServerIsBusy when the proposal queue is full.
 * Every wait is bounded polling; nothing asserts on time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster/cluster_int.h"
#include "cluster_test.h"
#include "common/config.h"

#define WAIT_MS 60000
#define SPLIT_SIZE 4096
#define MAX_SIZE 6144
#define N_KEYS 300
#define VALUE_LEN 100

typedef struct roles {
    _Atomic int up, down;
} roles;

typedef struct env {
    char *dir;
    kv_engine *e;
    pd_meta_store *ms;
    pd_core *pd;
    cluster_store *s;
    ct_txn t;
    uint64_t first_rid; /* the bootstrapped Region */
    roles roles;
    size_t max_pending;
    bool no_auto_split; /* split_check_tick_ms = 0 */
    uint64_t split_size, max_size; /* 0: SPLIT_SIZE, MAX_SIZE */
} env;

static void on_role(void *arg, uint64_t region_id, bool is_leader)
{
    roles *r = arg;
    (void)region_id;
    if (is_leader)
        r->up++;
    else
        r->down++;
}

static void env_start(env *v)
{
    if (!v->dir)
        v->dir = tu_dir_new("split");
    v->e = ct_engine_open(v->dir);
    if (!v->pd)
        v->pd = ct_pd_open(&v->ms);
    cluster_store_options o;
    ct_options(&o, v->e, v->pd, NULL);
    o.region_split_size = v->split_size ? v->split_size : SPLIT_SIZE;
    o.region_max_size = v->max_size ? v->max_size : MAX_SIZE;
    o.split_check_diff = 512;
    o.split_check_tick_ms = v->no_auto_split ? 0 : 20;
    o.pd_heartbeat_tick_ms = 40;
    o.pd_store_heartbeat_tick_ms = 40;
    o.on_role_change = on_role;
    o.role_change_arg = &v->roles;
    if (v->max_pending)
        o.max_pending_proposals = v->max_pending;
    bs_err err;
    int rc = cluster_store_open(&o, &v->s, &err);
    if (rc != BS_OK)
        fprintf(stderr, "open: %s\n", err.msg);
    assert_int_equal(rc, BS_OK);
    cluster_region r;
    pd_region_init(&r);
    bs_buf key = BS_BUF_INIT;
    bs_buf_append(&key, "\xff\xff", 2); /* above every key: the right-most Region */
    assert_int_equal(cluster_store_region_by_key(v->s, bs_buf_slice(&key), &r), BS_OK);
    bs_buf_free(&key);
    if (!v->first_rid)
        v->first_rid = r.id;
    assert_int_equal(r.id, v->first_rid); /* right-derive: it keeps the right-most range */
    pd_region_deinit(&r);
    assert_true(ct_wait_leader(v->s, v->first_rid, WAIT_MS));
    ct_txn_open(&v->t, v->pd, v->s, v->e);
}

static void env_stop(env *v)
{
    ct_txn_close(&v->t);
    cluster_store_close(v->s);
    kv_engine_close(v->e);
    v->s = NULL;
    v->e = NULL;
}

static void env_free(env *v)
{
    if (v->s)
        env_stop(v);
    pd_close(v->pd);
    pd_meta_store_free(v->ms);
    tu_dir_remove(v->dir);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void user_key(char *buf, size_t cap, int i)
{
    snprintf(buf, cap, "key%04d", i);
}

/* A put as a client does it: a write that meets a Region in transition (a split being
 * applied, a new Region still electing) is retried, boundedly. */
static void must_put(env *v, const char *k, const char *val)
{
    int rc = BS_EINTERNAL;
    for (int attempt = 0; attempt < 200 && rc != BS_OK; attempt++) {
        rc = ct_put(&v->t, k, val);
        if (rc != BS_OK)
            sleep_ms(10);
    }
    assert_int_equal(rc, BS_OK);
}

static void must_get(env *v, const char *k, const char *want)
{
    bs_buf out = BS_BUF_INIT;
    assert_int_equal(ct_get(&v->t, k, &out), BS_OK);
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.ptr, want, out.len);
    bs_buf_free(&out);
}

static void value_of(char *buf, int i)
{
    memset(buf, 'a' + i % 26, VALUE_LEN);
    buf[VALUE_LEN] = '\0';
}

static void write_keys(env *v)
{
    char k[32], val[VALUE_LEN + 1];
    for (int i = 0; i < N_KEYS; i++) {
        user_key(k, sizeof k, i);
        value_of(val, i);
        must_put(v, k, val);
    }
}

/* The region key (MCE) of the RawKV v2 key of user key `user`. */
static void region_key(bs_buf *out, const char *user)
{
    bs_buf raw = BS_BUF_INIT;
    bs_buf_reset(out);
    kv_region_key_append(out, ct_key(&raw, user));
    bs_buf_free(&raw);
}

/* The store's Regions, walked left to right by region_by_key. */
typedef struct region_set {
    cluster_region v[256];
    size_t n;
} region_set;

static void set_free(region_set *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        pd_region_deinit(&rs->v[i]);
    rs->n = 0;
}

/* Walks from the empty key; false when the walk does not tile the key space (a split is
 * being applied between lookups). */
static bool walk_regions(cluster_store *s, region_set *rs)
{
    set_free(rs);
    bs_buf key = BS_BUF_INIT;
    bool ok = false;
    while (rs->n < 256) {
        cluster_region *r = &rs->v[rs->n];
        pd_region_init(r);
        if (cluster_store_region_by_key(s, bs_buf_slice(&key), r) != BS_OK ||
            !bs_slice_eq(bs_buf_slice(&r->start_key), bs_buf_slice(&key))) {
            pd_region_deinit(r);
            break;
        }
        rs->n++;
        if (r->end_key.len == 0) {
            ok = true;
            break;
        }
        bs_buf_set(&key, r->end_key.ptr, r->end_key.len);
    }
    bs_buf_free(&key);
    return ok && rs->n == cluster_store_region_count(s);
}

/* Settled: the Regions tile the key space, each is led here and measured within
 * region-max-size, so no further split can come without new writes. */
static bool settled(void *arg)
{
    env *v = arg;
    region_set *rs = bs_calloc(1, sizeof(*rs));
    bool ok = walk_regions(v->s, rs) && rs->n >= 3;
    for (size_t i = 0; ok && i < rs->n; i++) {
        cluster_peer_status st;
        ok = cluster_store_peer_status(v->s, rs->v[i].id, &st) == BS_OK && st.is_leader &&
             st.size_known && st.approximate_size <= MAX_SIZE;
    }
    set_free(rs);
    bs_free(rs);
    return ok;
}

/* PD routes every Region's start key to that Region, at its epoch, with this store's
 * peer as leader and the sizes a heartbeat carries. */
static bool pd_knows_all(void *arg)
{
    env *v = arg;
    region_set *rs = bs_calloc(1, sizeof(*rs));
    bool ok = walk_regions(v->s, rs);
    for (size_t i = 0; ok && i < rs->n; i++) {
        pd_region_info ri;
        pd_region_info_init(&ri);
        const cluster_region *r = &rs->v[i];
        ok = pd_get_region(v->pd, bs_buf_slice(&r->start_key), &ri, NULL) == BS_OK &&
             ri.region.id == r->id && ri.region.epoch.version == r->epoch.version &&
             ri.region.epoch.conf_ver == r->epoch.conf_ver &&
             bs_slice_eq(bs_buf_slice(&ri.region.end_key), bs_buf_slice(&r->end_key)) &&
             ri.has_leader && ri.leader.store_id == cluster_store_id(v->s) &&
             ri.approximate_keys > 0 && ri.approximate_size >= 1;
        pd_region_info_deinit(&ri);
    }
    set_free(rs);
    bs_free(rs);
    return ok;
}

static bool pd_store_stats_ok(void *arg)
{
    env *v = arg;
    pd_store st;
    if (pd_get_store(v->pd, cluster_store_id(v->s), &st, NULL, NULL) != BS_OK)
        return false;
    return st.stats.region_count == cluster_store_region_count(v->s) && st.stats.capacity > 0 &&
           st.stats.available > 0 && st.stats.available <= st.stats.capacity;
}

/* A one-put batch of the RawKV data key of `user` (region key ‖ ts). */
static kv_batch *put_batch(const char *user)
{
    bs_buf raw = BS_BUF_INIT, key = BS_BUF_INIT;
    kv_mvcc_key_append(&key, ct_key(&raw, user), 42);
    kv_batch *b = kv_batch_new();
    kv_batch_put(b, KV_CF_DEFAULT, bs_buf_slice(&key), bs_slice_from_str("v"));
    bs_buf_free(&raw);
    bs_buf_free(&key);
    return b;
}

static void test_split_single_store(void **state)
{
    (void)state;
    env *v = bs_calloc(1, sizeof(*v));
    env_start(v);
    assert_int_equal(pd_region_count(v->pd), 1);
    write_keys(v);
    if (!ct_wait(settled, v, WAIT_MS))
        fprintf(stderr, "regions: %zu\n", cluster_store_region_count(v->s));
    assert_true(settled(v));

    /* The Regions tile the key space; each is one peer on this store, conf_ver of the
     * parent, a version above the parent's; the first Region kept the right end. */
    region_set *rs = bs_calloc(1, sizeof(*rs));
    assert_true(walk_regions(v->s, rs));
    size_t n = rs->n;
    assert_true(n >= 3);
    assert_int_equal(rs->v[n - 1].id, v->first_rid);
    for (size_t i = 0; i < n; i++) {
        const cluster_region *r = &rs->v[i];
        assert_int_equal(r->epoch.conf_ver, 1);
        assert_true(r->epoch.version >= 2);
        assert_int_equal(r->n_peers, 1);
        assert_int_equal(r->peers[0].store_id, cluster_store_id(v->s));
        /* Bounds are region keys of user keys: MCE groups of 9 bytes, no ts suffix. */
        if (i > 0) {
            assert_int_equal(r->start_key.len % 9, 0);
            bs_buf dec = BS_BUF_INIT;
            bs_buf withts = BS_BUF_INIT;
            bs_buf_append(&withts, r->start_key.ptr, r->start_key.len);
            kv_ts_suffix_append(&withts, 1);
            uint64_t ts;
            assert_int_equal(kv_mvcc_key_decode(bs_buf_slice(&withts), &dec, &ts, NULL), BS_OK);
            assert_true(dec.len > KV_PREFIX_LEN && dec.ptr[0] == KV_MODE_RAW);
            bs_buf_free(&dec);
            bs_buf_free(&withts);
        }
    }

    /* Every key is readable and routes to the Region that holds it, which PD agrees on. */
    ct_wait(pd_knows_all, v, WAIT_MS);
    assert_true(pd_knows_all(v));
    bs_buf rk = BS_BUF_INIT;
    for (int i = 0; i < N_KEYS; i++) {
        char k[32], val[VALUE_LEN + 1];
        user_key(k, sizeof k, i);
        value_of(val, i);
        must_get(v, k, val);
        region_key(&rk, k);
        cluster_region r;
        pd_region_init(&r);
        assert_int_equal(cluster_store_region_by_key(v->s, bs_buf_slice(&rk), &r), BS_OK);
        assert_true(cluster_region_contains(&r, bs_buf_slice(&rk)));
        pd_region_info ri;
        pd_region_info_init(&ri);
        assert_int_equal(pd_get_region(v->pd, bs_buf_slice(&rk), &ri, NULL), BS_OK);
        assert_int_equal(ri.region.id, r.id);
        pd_region_info_deinit(&ri);
        pd_region_deinit(&r);
    }
    bs_buf_free(&rk);
    assert_int_equal(pd_region_count(v->pd), n);

    /* A proposal at the bootstrap epoch: EpochNotMatch with the current Region first and
     * the Regions split off it to its left, adjacent, each newer than the stale epoch. */
    cluster_region_error re;
    cluster_region_error_init(&re);
    bs_err err;
    cluster_epoch stale = {1, 1};
    kv_batch *b = put_batch("zzz");
    assert_int_equal(cluster_store_propose(v->s, v->first_rid, &stale, b, NULL, NULL, &re, &err),
                     BS_ESTATE);
    assert_int_equal(re.kind, CLUSTER_RERR_EPOCH_NOT_MATCH);
    assert_true(re.n_regions >= 2);
    assert_int_equal(re.regions[0].id, v->first_rid);
    assert_int_equal(re.regions[0].epoch.version, rs->v[n - 1].epoch.version);
    for (size_t i = 1; i < re.n_regions; i++) {
        assert_memory_equal(re.regions[i].end_key.ptr, re.regions[i - 1].start_key.ptr,
                            re.regions[i - 1].start_key.len);
        assert_int_equal(re.regions[i].end_key.len, re.regions[i - 1].start_key.len);
        assert_true(re.regions[i].epoch.version > stale.version);
    }
    /* Reads at the stale epoch too. */
    assert_int_equal(cluster_store_read_check(v->s, v->first_rid, &stale, BS_SLICE_NULL, &re, &err),
                     BS_ESTATE);
    assert_int_equal(re.kind, CLUSTER_RERR_EPOCH_NOT_MATCH);
    assert_true(re.n_regions >= 2);

    kv_batch_free(b);

    /* A key of the left-most Region proposed to the right-most one at its current epoch:
     * KeyNotInRegion with that Region's bounds. */
    b = put_batch("key0000");
    assert_int_equal(
        cluster_store_propose(v->s, v->first_rid, &rs->v[n - 1].epoch, b, NULL, NULL, &re, &err),
        BS_ERANGE);
    assert_int_equal(re.kind, CLUSTER_RERR_KEY_NOT_IN_REGION);
    assert_int_equal(re.start_key.len, rs->v[n - 1].start_key.len);
    assert_memory_equal(re.start_key.ptr, rs->v[n - 1].start_key.ptr, re.start_key.len);
    assert_int_equal(re.end_key.len, 0);
    kv_batch_free(b);
    cluster_region_error_deinit(&re);

    /* Every Region's peer became leader once here and never stepped down; the counters. */
    assert_true(v->roles.up >= (int)n);
    assert_int_equal(v->roles.down, 0);
    cluster_store_stats st;
    cluster_store_get_stats(v->s, &st);
    assert_int_equal(st.regions, n);
    assert_int_equal(st.leaders, n);
    assert_true(st.splits >= 1 && st.splits <= n - 1);
    assert_true(st.split_checks >= st.splits);
    assert_true(st.bytes_written >= (uint64_t)N_KEYS * VALUE_LEN);
    /* The store heartbeat carries the Region count and the file system's capacity. */
    ct_wait(pd_store_stats_ok, v, WAIT_MS);
    assert_true(pd_store_stats_ok(v));

    /* Restart: every Region comes back from its region state (a split still in flight at
     * the stop would apply again, so a Region may have split further, never merged). */
    env_stop(v);
    env_start(v);
    ct_wait(settled, v, WAIT_MS);
    assert_true(settled(v));
    assert_true(cluster_store_region_count(v->s) >= n);
    for (size_t i = 0; i < n; i++) {
        cluster_region r;
        pd_region_init(&r);
        assert_int_equal(cluster_store_region_by_id(v->s, rs->v[i].id, &r), BS_OK);
        assert_true(r.epoch.version >= rs->v[i].epoch.version);
        assert_true(bs_slice_cmp(bs_buf_slice(&r.start_key), bs_buf_slice(&rs->v[i].start_key)) >=
                    0);
        pd_region_deinit(&r);
    }
    for (int i = 0; i < N_KEYS; i += 7) {
        char k[32], val[VALUE_LEN + 1];
        user_key(k, sizeof k, i);
        value_of(val, i);
        must_get(v, k, val);
    }
    must_put(v, "key0000", "after restart");
    must_get(v, "key0000", "after restart");
    must_put(v, "zzz", "right end");
    must_get(v, "zzz", "right end");
    set_free(rs);
    bs_free(rs);
    env_free(v);
    bs_free(v);
}

/* Below region_max_size by its last measurement plus what was written since, a Region is
 * not scanned again at every split_check_diff; past it, it is, and splits. */
static void test_split_check_skips_small_region(void **state)
{
    (void)state;
    env v;
    memset(&v, 0, sizeof(v));
    v.split_size = 64 * 1024;
    v.max_size = 96 * 1024;
    env_start(&v);
    char key[32], val[1024];
    memset(val, 'v', sizeof val - 1);
    val[sizeof val - 1] = '\0';
    /* ~40 KiB in 1 KiB puts, a split-check tick (20 ms) after each: each put passes
     * split_check_diff (512 B), so without the bound every tick would scan. */
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "small%03d", i);
        must_put(&v, key, val);
        sleep_ms(30);
    }
    cluster_store_stats st;
    cluster_store_get_stats(v.s, &st);
    assert_true(st.split_checks >= 1); /* the first measurement */
    assert_true(st.split_checks <= 2);
    assert_int_equal(st.splits, 0);
    /* ~120 KiB more crosses region_max_size: it is measured again, and split. */
    for (int i = 0; i < 120; i++) {
        snprintf(key, sizeof key, "big%03d", i); /* a split may come mid-way: retried */
        must_put(&v, key, val);
    }
    for (int i = 0; i < WAIT_MS / 10; i++) {
        cluster_store_get_stats(v.s, &st);
        if (st.splits >= 1)
            break;
        sleep_ms(10);
    }
    assert_true(st.splits >= 1);
    env_free(&v);
}

/* A Region that grew far past region-max-size unchecked (split checks off, then on after
 * a restart) is cut in one BatchSplit into several pieces of about region-split-size. */
static void test_batch_split_of_big_region(void **state)
{
    (void)state;
    env *v = bs_calloc(1, sizeof(*v));
    v->no_auto_split = true;
    env_start(v);
    write_keys(v);
    assert_int_equal(cluster_store_region_count(v->s), 1);
    env_stop(v);
    v->no_auto_split = false;
    env_start(v);
    ct_wait(settled, v, WAIT_MS);
    assert_true(settled(v));
    size_t n = cluster_store_region_count(v->s);
    cluster_store_stats st;
    cluster_store_get_stats(v->s, &st);
    /* ~39 KiB in pieces of ~4 KiB: fewer splits than new Regions means a batch split. */
    assert_true(n >= 6);
    assert_true(st.splits < n - 1);
    cluster_region r;
    pd_region_init(&r);
    assert_int_equal(cluster_store_region_by_id(v->s, v->first_rid, &r), BS_OK);
    assert_true(r.epoch.version > 2); /* one split added several Regions to its version */
    pd_region_deinit(&r);
    ct_wait(pd_knows_all, v, WAIT_MS);
    assert_true(pd_knows_all(v));
    for (int i = 0; i < N_KEYS; i += 13) {
        char k[32], val[VALUE_LEN + 1];
        user_key(k, sizeof k, i);
        value_of(val, i);
        must_get(v, k, val);
    }
    env_free(v);
    bs_free(v);
}

typedef struct done_arg {
    _Atomic int done, code;
} done_arg;

static void on_done(void *arg, int code, const bs_err *err)
{
    done_arg *d = arg;
    (void)err;
    d->code = code;
    d->done = 1;
}

static bool is_done(void *arg)
{
    return ((done_arg *)arg)->done != 0;
}

/* cluster_store_split_region: two keys at once (TiKV's SplitRegion), then the refusals. */
static void test_manual_split(void **state)
{
    (void)state;
    env *v = bs_calloc(1, sizeof(*v));
    v->no_auto_split = true;
    env_start(v);
    must_put(v, "apple", "1");
    must_put(v, "mango", "2");
    must_put(v, "zebra", "3");
    cluster_region r;
    pd_region_init(&r);
    assert_int_equal(cluster_store_region_by_id(v->s, v->first_rid, &r), BS_OK);
    bs_buf k1 = BS_BUF_INIT, k2 = BS_BUF_INIT;
    region_key(&k1, "banana");
    region_key(&k2, "pear");
    bs_slice keys[2] = {bs_buf_slice(&k1), bs_buf_slice(&k2)};
    cluster_region_error re;
    cluster_region_error_init(&re);
    bs_err err;

    /* Refusals: out of order, on the start, stale epoch, unknown Region. */
    bs_slice rev[2] = {keys[1], keys[0]};
    assert_int_equal(
        cluster_store_split_region(v->s, v->first_rid, &r.epoch, rev, 2, on_done, NULL, &re, &err),
        BS_EINVAL);
    bs_slice empty = BS_SLICE_NULL;
    assert_int_equal(cluster_store_split_region(v->s, v->first_rid, &r.epoch, &empty, 1, on_done,
                                                NULL, &re, &err),
                     BS_ERANGE);
    assert_int_equal(re.kind, CLUSTER_RERR_KEY_NOT_IN_REGION);
    cluster_epoch stale = {1, 0};
    assert_int_equal(
        cluster_store_split_region(v->s, v->first_rid, &stale, keys, 2, on_done, NULL, &re, &err),
        BS_ESTATE);
    assert_int_equal(cluster_store_split_region(v->s, v->first_rid + 999, &r.epoch, keys, 2,
                                                on_done, NULL, &re, &err),
                     BS_NOTFOUND);
    assert_int_equal(
        cluster_store_split_region(v->s, v->first_rid, &r.epoch, keys, 0, on_done, NULL, &re, &err),
        BS_EINVAL);

    done_arg d = {0, -1};
    assert_int_equal(
        cluster_store_split_region(v->s, v->first_rid, &r.epoch, keys, 2, on_done, &d, &re, &err),
        BS_OK);
    assert_true(ct_wait(is_done, &d, WAIT_MS));
    assert_int_equal(d.code, BS_OK);
    /* Applied before done: three Regions, version 1 + 2 each, the first keeps the right. */
    assert_int_equal(cluster_store_region_count(v->s), 3);
    region_set *rs = bs_calloc(1, sizeof(*rs));
    assert_true(walk_regions(v->s, rs));
    assert_int_equal(rs->n, 3);
    assert_int_equal(rs->v[2].id, v->first_rid);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(rs->v[i].epoch.version, r.epoch.version + 2);
    assert_true(bs_slice_eq(bs_buf_slice(&rs->v[0].end_key), keys[0]));
    assert_true(bs_slice_eq(bs_buf_slice(&rs->v[1].start_key), keys[0]));
    assert_true(bs_slice_eq(bs_buf_slice(&rs->v[1].end_key), keys[1]));
    assert_true(bs_slice_eq(bs_buf_slice(&rs->v[2].start_key), keys[1]));

    /* The same split again: the epoch moved. */
    assert_int_equal(
        cluster_store_split_region(v->s, v->first_rid, &r.epoch, keys, 2, on_done, NULL, &re, &err),
        BS_ESTATE);
    /* Every new Region elects itself and takes writes; the data stayed put. */
    must_put(v, "apricot", "4");
    must_put(v, "orange", "5");
    must_put(v, "zucchini", "6");
    must_get(v, "apple", "1");
    must_get(v, "mango", "2");
    must_get(v, "zebra", "3");
    set_free(rs);
    bs_free(rs);
    cluster_region_error_deinit(&re);
    bs_buf_free(&k1);
    bs_buf_free(&k2);
    pd_region_deinit(&r);
    env_free(v);
    bs_free(v);
}

/* Options: derived defaults, refusals, and the config keys. */
static void test_split_options(void **state)
{
    (void)state;
    cluster_store_options o;
    cluster_store_options_init(&o);
    assert_int_equal(o.region_split_size, 96ull << 20);
    assert_int_equal(o.region_max_size, 144ull << 20);
    assert_int_equal(o.split_check_diff, 6ull << 20);
    assert_int_equal(o.split_check_tick_ms, 10000);
    assert_int_equal(o.batch_split_limit, 10);
    assert_int_equal(o.pd_heartbeat_tick_ms, 60000);
    assert_int_equal(o.pd_store_heartbeat_tick_ms, 10000);
    assert_true(o.lease_read);
    assert_null(o.on_role_change);

    /* The schema's defaults come through as they are. */
    bs_config cfg;
    bs_config_defaults(&cfg);
    cluster_store_options_from_config(&o, &cfg);
    assert_int_equal(o.region_split_size, 96ull << 20);
    assert_int_equal(o.region_max_size, 144ull << 20);
    assert_int_equal(o.split_check_diff, 6ull << 20);
    assert_int_equal(o.split_check_tick_ms, 10000);
    assert_int_equal(o.log_gc_size_limit, 72ull << 20);
    assert_int_equal(bs_config_set(&cfg, "raftstore.raft-log-gc-size-limit", "1MiB", NULL), BS_OK);
    cluster_store_options_from_config(&o, &cfg);
    assert_int_equal(o.log_gc_size_limit, 1ull << 20);
    /* A smaller split size with the other two left alone: derived at open, as TiKV does. */
    assert_int_equal(bs_config_set(&cfg, "coprocessor.region-split-size", "8MiB", NULL), BS_OK);
    assert_int_equal(bs_config_set(&cfg, "raftstore.split-region-check-tick-interval", "2s", NULL),
                     BS_OK);
    cluster_store_options_from_config(&o, &cfg);
    assert_int_equal(o.region_split_size, 8ull << 20);
    assert_int_equal(o.region_max_size, 0);
    assert_int_equal(o.split_check_diff, 0);
    assert_int_equal(o.split_check_tick_ms, 2000);
    /* Set explicitly, they are kept. */
    assert_int_equal(bs_config_set(&cfg, "coprocessor.region-max-size", "10MiB", NULL), BS_OK);
    assert_int_equal(bs_config_set(&cfg, "raftstore.region-split-check-diff", "1MiB", NULL), BS_OK);
    cluster_store_options_from_config(&o, &cfg);
    assert_int_equal(o.region_max_size, 10ull << 20);
    assert_int_equal(o.split_check_diff, 1ull << 20);
    bs_config_free(&cfg);

    /* Refused at open: max below split, split size 0, batch limit 0. */
    char *dir = tu_dir_new("opts");
    kv_engine *e = ct_engine_open(dir);
    pd_meta_store *ms = NULL;
    pd_core *pd = ct_pd_open(&ms);
    cluster_store *s = NULL;
    bs_err err;
    ct_options(&o, e, pd, NULL);
    o.region_max_size = o.region_split_size - 1;
    assert_int_equal(cluster_store_open(&o, &s, &err), BS_EINVAL);
    ct_options(&o, e, pd, NULL);
    o.region_split_size = 0;
    assert_int_equal(cluster_store_open(&o, &s, &err), BS_EINVAL);
    ct_options(&o, e, pd, NULL);
    o.batch_split_limit = 0;
    assert_int_equal(cluster_store_open(&o, &s, &err), BS_EINVAL);
    assert_null(s);
    pd_close(pd);
    pd_meta_store_free(ms);
    kv_engine_close(e);
    tu_dir_remove(dir);
}

/* The BatchSplit command's bytes come from the log: round trip, and every truncation or
 * malformed field is BS_ECORRUPT, never an assertion. */
static void test_batch_split_codec(void **state)
{
    (void)state;
    bs_slice keys[2] = {bs_slice_from_str("k1"), bs_slice_from_str("k2")};
    uint64_t rids[2] = {100, 200};
    uint64_t pids[6] = {101, 102, 103, 201, 202, 203};
    cluster_batch_split in = {true, 2, keys, rids, 3, pids};
    cluster_cmd_header h = {CLUSTER_CMD_BATCH_SPLIT, 77, {3, 9}};
    bs_buf enc = BS_BUF_INIT;
    cluster_cmd_encode_batch_split(&enc, &h, &in);
    cluster_cmd_header h2;
    bs_slice body;
    assert_int_equal(cluster_cmd_decode_header(bs_buf_slice(&enc), &h2, &body, NULL), BS_OK);
    assert_int_equal(h2.kind, CLUSTER_CMD_BATCH_SPLIT);
    assert_int_equal(h2.proposal_id, 77);
    assert_int_equal(h2.epoch.conf_ver, 3);
    assert_int_equal(h2.epoch.version, 9);
    cluster_batch_split out;
    memset(&out, 0, sizeof(out));
    assert_int_equal(cluster_cmd_decode_batch_split(body, &out, NULL), BS_OK);
    assert_true(out.right_derive);
    assert_int_equal(out.n, 2);
    assert_int_equal(out.peers_per_split, 3);
    assert_true(bs_slice_eq(out.keys[1], keys[1]));
    assert_int_equal(out.region_ids[1], 200);
    assert_int_equal(out.peer_ids[4], 202);
    /* Every strict prefix of the body is corrupt, and so is a trailing byte. */
    for (size_t len = 0; len < body.len; len++)
        assert_int_equal(cluster_cmd_decode_batch_split(bs_slice_make(body.ptr, len), &out, NULL),
                         BS_ECORRUPT);
    bs_buf longer = BS_BUF_INIT;
    bs_buf_append_slice(&longer, body);
    bs_buf_append_byte(&longer, 0);
    assert_int_equal(cluster_cmd_decode_batch_split(bs_buf_slice(&longer), &out, NULL),
                     BS_ECORRUPT);
    /* A zero region id, zero splits, a bad derive byte. */
    uint64_t zero_rids[2] = {100, 0};
    cluster_batch_split bad = in;
    bad.region_ids = zero_rids;
    bs_buf_reset(&enc);
    cluster_cmd_encode_batch_split(&enc, &h, &bad);
    assert_int_equal(cluster_cmd_decode_header(bs_buf_slice(&enc), &h2, &body, NULL), BS_OK);
    assert_int_equal(cluster_cmd_decode_batch_split(body, &out, NULL), BS_ECORRUPT);
    uint8_t none[3] = {1, 0, 3};
    assert_int_equal(cluster_cmd_decode_batch_split(bs_slice_make(none, 3), &out, NULL),
                     BS_ECORRUPT);
    uint8_t derive[3] = {2, 1, 1};
    assert_int_equal(cluster_cmd_decode_batch_split(bs_slice_make(derive, 3), &out, NULL),
                     BS_ECORRUPT);
    assert_null(out.keys); /* a failed decode leaves nothing to free */
    cluster_batch_split_deinit(&out);
    bs_buf_free(&longer);
    bs_buf_free(&enc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_single_store),
        cmocka_unit_test(test_split_check_skips_small_region),
        cmocka_unit_test(test_batch_split_of_big_region),
        cmocka_unit_test(test_manual_split),       cmocka_unit_test(test_split_options),
        cmocka_unit_test(test_batch_split_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
