/* client_env.c -- the store, PD, txn store and client behind the client tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client/client_env.h"
#include "common/clock.h"
#include "lib/tmpdir.h"

#define CE_WAIT_MS 60000

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool wait_leader(cluster_store *s, uint64_t region_id)
{
    for (int i = 0; i < CE_WAIT_MS; i += 5) {
        cluster_peer_status st;
        if (cluster_store_peer_status(s, region_id, &st) == BS_OK && st.is_leader)
            return true;
        if (i % 500 == 0)
            (void)cluster_store_campaign(s, region_id); /* no need to wait for a timeout */
        sleep_ms(5);
    }
    return false;
}

static void tso_fetch(void *arg, uint32_t count, txn_tso_done_fn done, void *done_arg)
{
    ce *v = arg;
    uint64_t ts = 0;
    int rc = pd_tso_alloc(v->pd, count, &ts, NULL);
    done(done_arg, rc, ts);
}

void ce_region_key(bs_buf *out, uint32_t ks, const char *user)
{
    bs_buf raw = BS_BUF_INIT;
    kv_key_v2_append(&raw, KV_MODE_RAW, ks, bs_slice_from_str(user));
    bs_buf_reset(out);
    kv_region_key_append(out, bs_buf_slice(&raw));
    bs_buf_free(&raw);
}

static size_t count_list(const char *const *l)
{
    size_t n = 0;
    while (l && l[n])
        n++;
    return n;
}

/* Regions [“”, s0), [s0, s1), ..., [sN-1, “”): region i gets ids[i] and peer pids[i]. */
static void make_regions(cluster_region *out, const char *const *splits, const uint64_t *ids,
                         const uint64_t *pids, uint64_t store_id, uint64_t version)
{
    size_t n = count_list(splits) + 1;
    bs_buf lo = BS_BUF_INIT, hi = BS_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        bs_buf_reset(&hi);
        if (i + 1 < n)
            ce_region_key(&hi, 0, splits[i]);
        cluster_peer p = {pids[i], store_id, PD_PEER_VOTER, false};
        pd_region_init(&out[i]);
        pd_region_set(&out[i], ids[i], bs_buf_slice(&lo), bs_buf_slice(&hi),
                      (cluster_epoch){1, version}, &p, 1);
        bs_buf_set(&lo, hi.ptr, hi.len);
    }
    bs_buf_free(&lo);
    bs_buf_free(&hi);
}

static void build_layout(ce *v, const ce_layout *l, uint64_t *leaders, size_t *n_leaders)
{
    uint64_t last, ids[CE_MAX_REGIONS], pids[CE_MAX_REGIONS];
    assert_int_equal(pd_alloc_id(v->pd, 2 * CE_MAX_REGIONS, &last, NULL), BS_OK);
    for (size_t i = 0; i < CE_MAX_REGIONS; i++) {
        ids[i] = last - 2 * CE_MAX_REGIONS + 1 + 2 * i;
        pids[i] = ids[i] + 1;
    }
    /* PD: bootstrapped with one Region, then told about the split. */
    pd_store st;
    memset(&st, 0, sizeof(st));
    st.id = v->store_id;
    snprintf(st.address, sizeof(st.address), "store-%llu", (unsigned long long)v->store_id);
    snprintf(st.version, sizeof(st.version), "8.5.0");
    cluster_region first;
    cluster_peer p0 = {pids[0], v->store_id, PD_PEER_VOTER, false};
    pd_region_init(&first);
    pd_region_set(&first, ids[0], BS_SLICE_NULL, BS_SLICE_NULL, (cluster_epoch){1, 1}, &p0, 1);
    assert_int_equal(pd_bootstrap(v->pd, &st, &first, NULL, NULL), BS_OK);
    pd_region_deinit(&first);
    size_t n_pd = count_list(l->pd_splits) + 1;
    assert_true(n_pd <= CE_MAX_REGIONS);
    cluster_region regs[CE_MAX_REGIONS];
    if (n_pd > 1) {
        make_regions(regs, l->pd_splits, ids, pids, v->store_id, 2);
        assert_int_equal(pd_report_batch_split(v->pd, regs, n_pd, NULL, NULL), BS_OK);
        for (size_t i = 0; i < n_pd; i++)
            pd_region_deinit(&regs[i]);
    }
    /* The store: its own Regions, maybe not what PD believes. */
    const char *const *ss = l->store_splits ? l->store_splits : l->pd_splits;
    size_t n_st = count_list(ss) + 1;
    assert_true(n_st <= CE_MAX_REGIONS);
    uint64_t version = l->store_version ? l->store_version : (n_st > 1 ? 2 : 1);
    make_regions(regs, ss, ids, pids, v->store_id, version);
    *n_leaders = 0;
    for (size_t i = 0; i < n_st; i++) {
        if (l->store_skip != i + 1) {
            bs_err err;
            int rc = cluster_store_create_region(v->s, &regs[i], &err);
            if (rc != BS_OK)
                fail_msg("create region: %s", err.msg);
            leaders[(*n_leaders)++] = regs[i].id;
        }
        pd_region_deinit(&regs[i]);
    }
}

void ce_open(ce *v, const ce_layout *layout, uint32_t max_backoff_ms)
{
    memset(v, 0, sizeof(*v));
    v->dir = tu_dir_new("client");
    kv_options ko;
    kv_options_init(&ko);
    ko.block_cache_size = 8 << 20;
    ko.write_buffer_size = 4 << 20;
    bs_err err;
    if (kv_engine_open(v->dir, &ko, &v->e, &err) != BS_OK)
        fail_msg("engine: %s", err.msg);
    v->ms = pd_memstore_new();
    assert_int_equal(pd_open(NULL, v->ms, &v->pd, NULL), BS_OK);
    bool manual = layout && layout->pd_splits;
    cluster_store_options o;
    cluster_store_options_init(&o);
    o.engine = v->e;
    o.pd = v->pd;
    o.tick_interval_ms = 20;
    o.heartbeat_ticks = 2;
    o.election_ticks = 10;
    o.bootstrap = !manual;
    if (layout && layout->split_size) {
        o.region_split_size = layout->split_size;
        o.region_max_size = 0;  /* 3/2 of the split size */
        o.split_check_diff = 0; /* 1/16 of it */
        o.split_check_tick_ms = 20;
    } else {
        o.split_check_tick_ms = 0; /* Regions change only when a test says so */
    }
    if (cluster_store_open(&o, &v->s, &err) != BS_OK)
        fail_msg("store: %s", err.msg);
    v->store_id = cluster_store_id(v->s);
    uint64_t leaders[CE_MAX_REGIONS];
    size_t n_leaders = 0;
    if (manual) {
        build_layout(v, layout, leaders, &n_leaders);
    } else {
        cluster_region r;
        pd_region_init(&r);
        assert_int_equal(cluster_store_region_by_key(v->s, BS_SLICE_NULL, &r), BS_OK);
        leaders[n_leaders++] = r.id;
        pd_region_deinit(&r);
    }
    for (size_t i = 0; i < n_leaders; i++)
        assert_true(wait_leader(v->s, leaders[i]));
    v->cts = txn_causal_ts_new(tso_fetch, v, 1024);
    txn_store_config tc;
    memset(&tc, 0, sizeof(tc));
    tc.engine = v->e;
    tc.causal_ts = v->cts;
    tc.propose = txn_cluster_propose;
    tc.propose_arg = v->s;
    v->txn = txn_store_new(&tc);
    client_options co;
    client_options_init(&co);
    co.pd = v->pd;
    co.store = v->s;
    co.txn = v->txn;
    if (max_backoff_ms)
        co.max_backoff_ms = max_backoff_ms;
    assert_int_equal(client_new(&co, &v->c, NULL), BS_OK);
}

void ce_close(ce *v)
{
    client_free(v->c);
    txn_store_free(v->txn);
    cluster_store_close(v->s);
    txn_causal_ts_free(v->cts);
    kv_engine_close(v->e);
    pd_close(v->pd);
    pd_meta_store_free(v->ms);
    tu_dir_remove(v->dir);
    memset(v, 0, sizeof(*v));
}

bool ce_wait_regions(ce *v, size_t n)
{
    for (int i = 0; i < CE_WAIT_MS; i += 5) {
        if (cluster_store_region_count(v->s) >= n)
            return true;
        sleep_ms(5);
    }
    return cluster_store_region_count(v->s) >= n;
}

typedef struct split_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int code;
} split_wait;

static void on_split(void *arg, int code, const bs_err *err)
{
    split_wait *w = arg;
    (void)err;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    w->code = code;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void ce_split(ce *v, const char *at, const char *const *keys)
{
    bs_buf rk = BS_BUF_INIT, kb[CE_MAX_REGIONS];
    bs_slice ks[CE_MAX_REGIONS];
    size_t n = count_list(keys);
    assert_true(n > 0 && n < CE_MAX_REGIONS);
    cluster_region r;
    pd_region_init(&r);
    ce_region_key(&rk, 0, at);
    assert_int_equal(cluster_store_region_by_key(v->s, bs_buf_slice(&rk), &r), BS_OK);
    for (size_t i = 0; i < n; i++) {
        kb[i] = (bs_buf)BS_BUF_INIT;
        ce_region_key(&kb[i], 0, keys[i]);
        ks[i] = bs_buf_slice(&kb[i]);
    }
    split_wait w;
    memset(&w, 0, sizeof(w));
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    bs_err err;
    int rc = cluster_store_split_region(v->s, r.id, &r.epoch, ks, n, on_split, &w, NULL, &err);
    if (rc != BS_OK)
        fail_msg("split: %s", err.msg);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += CE_WAIT_MS / 1000;
    pthread_mutex_lock(&w.mu);
    while (!w.done && pthread_cond_timedwait(&w.cv, &w.mu, &ts) != ETIMEDOUT) {
    }
    bool done = w.done;
    pthread_mutex_unlock(&w.mu);
    assert_true(done);
    assert_int_equal(w.code, BS_OK);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    for (size_t i = 0; i < n; i++)
        bs_buf_free(&kb[i]);
    bs_buf_free(&rk);
    pd_region_deinit(&r);
}

/* ---- results ------------------------------------------------------------------------------ */

void ce_res_init(ce_res *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    txn_pairs_init(&r->pairs);
}

void ce_res_free(ce_res *r)
{
    bs_buf_free(&r->value);
    bs_buf_free(&r->previous_value);
    bs_buf_free(&r->rmw.old_value);
    bs_buf_free(&r->rmw.new_value);
    txn_pairs_free(&r->pairs);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    ce_res_init(r);
}

void ce_cb(void *arg, client_result *res)
{
    ce_res *r = arg;
    pthread_mutex_lock(&r->mu);
    r->calls++;
    r->code = res->code;
    r->kind = res->kind;
    snprintf(r->msg, sizeof(r->msg), "%s", res->msg);
    /* Move the big buffers out, as client.h allows. */
    bs_buf_free(&r->value);
    r->value = res->value;
    res->value = (bs_buf)BS_BUF_INIT;
    txn_pairs_free(&r->pairs);
    r->pairs = res->pairs;
    txn_pairs_init(&res->pairs);
    r->ttl_ms = res->ttl_ms;
    r->count = res->count;
    r->applied = res->applied;
    r->succeed = res->succeed;
    r->previous_not_exist = res->previous_not_exist;
    bs_buf_set(&r->previous_value, res->previous_value.ptr, res->previous_value.len);
    r->rmw.applied = res->rmw.applied;
    r->rmw.old_exists = res->rmw.old_exists;
    r->rmw.integer = res->rmw.integer;
    bs_buf_set(&r->rmw.old_value, res->rmw.old_value.ptr, res->rmw.old_value.len);
    bs_buf_set(&r->rmw.new_value, res->rmw.new_value.ptr, res->rmw.new_value.len);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void ce_wait(ce_res *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += CE_WAIT_MS / 1000;
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    while (r->calls == 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    int calls = r->calls;
    pthread_mutex_unlock(&r->mu);
    if (calls != 1)
        fail_msg("callback called %d times", calls);
}

void ce_assert_buf(const bs_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len != n || (n && memcmp(b->ptr, s, n) != 0))
        fail_msg("got \"%.*s\", want \"%s\"", (int)b->len, (const char *)b->ptr, s);
}

/* ---- synchronous helpers ------------------------------------------------------------------ */

int ce_put(ce *v, uint32_t ks, const char *key, const char *value, uint64_t ttl_ms, ce_res *r)
{
    ce_res_free(r);
    client_put(v->c, ks, bs_slice_from_str(key), bs_slice_from_str(value), ttl_ms, ce_cb, r);
    ce_wait(r);
    return r->code;
}

int ce_get(ce *v, uint32_t ks, const char *key, ce_res *r)
{
    ce_res_free(r);
    client_get(v->c, ks, bs_slice_from_str(key), ce_cb, r);
    ce_wait(r);
    return r->code;
}

void ce_must_put(ce *v, uint32_t ks, const char *key, const char *value)
{
    ce_res r;
    ce_res_init(&r);
    if (ce_put(v, ks, key, value, 0, &r) != BS_OK)
        fail_msg("put %s: %d %s", key, r.code, r.msg);
    ce_res_free(&r);
}

void ce_must_get(ce *v, uint32_t ks, const char *key, const char *value)
{
    ce_res r;
    ce_res_init(&r);
    if (ce_get(v, ks, key, &r) != BS_OK)
        fail_msg("get %s: %d %s", key, r.code, r.msg);
    ce_assert_buf(&r.value, value);
    ce_res_free(&r);
}

void ce_must_not_found(ce *v, uint32_t ks, const char *key)
{
    ce_res r;
    ce_res_init(&r);
    assert_int_equal(ce_get(v, ks, key, &r), BS_NOTFOUND);
    ce_res_free(&r);
}

int ce_scan(ce *v, uint32_t ks, const char *start, const char *end, uint32_t limit,
            bool reverse, bool key_only, ce_res *r)
{
    client_scan_req q;
    memset(&q, 0, sizeof(q));
    q.keyspace = ks;
    q.start = start ? bs_slice_from_str(start) : BS_SLICE_NULL;
    q.has_end = end != NULL;
    q.end = end ? bs_slice_from_str(end) : BS_SLICE_NULL;
    q.limit = limit;
    q.reverse = reverse;
    q.key_only = key_only;
    ce_res_free(r);
    client_scan(v->c, &q, ce_cb, r);
    ce_wait(r);
    return r->code;
}

int ce_multi(ce *v, uint32_t ks, client_multi_op op, const char *const *keys,
             const char *const *values, unsigned flags, ce_res *r)
{
    bs_slice k[16], val[16];
    size_t n = 0;
    while (keys[n]) {
        assert_true(n < 16);
        k[n] = bs_slice_from_str(keys[n]);
        if (values)
            val[n] = bs_slice_from_str(values[n]);
        n++;
    }
    client_multi_req q = {op, ks, k, values ? val : NULL, n, flags};
    ce_res_free(r);
    client_multi(v->c, &q, ce_cb, r);
    ce_wait(r);
    return r->code;
}
