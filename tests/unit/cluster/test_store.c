/* test_store.c -- one store end to end: bootstrap through PD, raw puts through the txn layer
 * proposing via Raft, restart (data, regions, re-apply), group commit counters, region
 * errors, log GC, ReadIndex, ServerIsBusy when the proposal queue is full, and acknowledged
 * writes surviving a simulated machine crash while the raftstore overlaps its fsync with
 * applies (log_sync.c). Waits are bounded; nothing asserts on time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster/cluster_int.h"
#include "cluster_test.h"
#include "storage/kv_crashsim.h"

typedef struct env {
    char *dir;
    kv_engine *e;
    pd_meta_store *ms;
    pd_core *pd;
    cluster_store *s;
    ct_txn t;
    uint64_t rid;
    size_t max_pending; /* 0: the default */
    uint64_t gc_tick_ticks, gc_size_limit; /* 0: this file's defaults (1 tick, no limit) */
} env;

static void env_start(env *v, uint64_t gc_threshold)
{
    if (!v->dir)
        v->dir = tu_dir_new("store");
    if (!v->e) /* a test may bring its own (a crash simulator's) */
        v->e = ct_engine_open(v->dir);
    if (!v->pd)
        v->pd = ct_pd_open(&v->ms);
    cluster_store_options o;
    ct_options(&o, v->e, v->pd, NULL);
    o.log_gc_threshold = gc_threshold;
    o.log_gc_tick_ticks = v->gc_tick_ticks ? v->gc_tick_ticks : 1;
    o.log_gc_size_limit = v->gc_size_limit;
    if (v->max_pending)
        o.max_pending_proposals = v->max_pending;
    bs_err err;
    int rc = cluster_store_open(&o, &v->s, &err);
    if (rc != BS_OK)
        fprintf(stderr, "open: %s\n", err.msg);
    assert_int_equal(rc, BS_OK);
    cluster_region r;
    pd_region_init(&r);
    assert_int_equal(cluster_store_region_by_key(v->s, BS_SLICE_NULL, &r), BS_OK);
    v->rid = r.id;
    pd_region_deinit(&r);
    assert_true(ct_wait_leader(v->s, v->rid, 20000));
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

static void must_get(env *v, const char *k, const char *want)
{
    bs_buf out = BS_BUF_INIT;
    assert_int_equal(ct_get(&v->t, k, &out), BS_OK);
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.ptr, want, out.len);
    bs_buf_free(&out);
}

static void test_bootstrap_put_restart(void **state)
{
    (void)state;
    env v;
    memset(&v, 0, sizeof(v));
    env_start(&v, 1000);
    assert_true(pd_is_bootstrapped(v.pd));
    assert_int_equal(pd_region_count(v.pd), 1);
    assert_int_equal(cluster_store_region_count(v.s), 1);
    uint64_t store_id = cluster_store_id(v.s);
    for (int i = 0; i < 20; i++) {
        char k[16], val[16];
        snprintf(k, sizeof k, "k%d", i);
        snprintf(val, sizeof val, "v%d", i);
        assert_int_equal(ct_put(&v.t, k, val), BS_OK);
    }
    must_get(&v, "k7", "v7");
    cluster_peer_status st;
    assert_int_equal(cluster_store_peer_status(v.s, v.rid, &st), BS_OK);
    uint64_t applied = st.applied;
    assert_true(applied >= CLUSTER_INIT_INDEX + 20);
    env_stop(&v);

    /* Restart: same store id, same region, data kept, raft resumes past the applied index. */
    env_start(&v, 1000);
    assert_int_equal(cluster_store_id(v.s), store_id);
    assert_int_equal(cluster_store_region_count(v.s), 1);
    must_get(&v, "k19", "v19");
    assert_int_equal(ct_put(&v.t, "after", "restart"), BS_OK);
    must_get(&v, "after", "restart");
    assert_int_equal(cluster_store_peer_status(v.s, v.rid, &st), BS_OK);
    assert_true(st.applied > applied);
    env_free(&v);
}

static bool all_done(void *arg)
{
    ct_counter *c = arg;
    return c->done == 256;
}

static void test_group_commit(void **state)
{
    (void)state;
    env v;
    memset(&v, 0, sizeof(v));
    env_start(&v, 100000);
    cluster_store_stats before, after;
    cluster_store_get_stats(v.s, &before);
    ct_counter c = {0, 0};
    bs_buf k = BS_BUF_INIT;
    for (int i = 0; i < 256; i++) {
        char user[16];
        snprintf(user, sizeof user, "g%03d", i);
        txn_raw_put(v.t.txn, ct_key(&k, user), bs_slice_from_str("x"), 0, ct_put_cb, &c);
    }
    bs_buf_free(&k);
    assert_true(ct_wait(all_done, &c, 60000));
    assert_int_equal(c.ok, 256);
    cluster_store_get_stats(v.s, &after);
    uint64_t fsyncs = after.fsyncs - before.fsyncs;
    uint64_t puts = after.proposals_acked - before.proposals_acked;
    printf("group commit: %llu puts, %llu fsyncs, %llu rounds\n", (unsigned long long)puts,
           (unsigned long long)fsyncs, (unsigned long long)(after.rounds - before.rounds));
    assert_int_equal(puts, 256);
    assert_true(fsyncs <= puts / 8);
    assert_true(after.proposals_synced >= after.proposals_acked);
    env_free(&v);
}

static void test_region_errors(void **state)
{
    (void)state;
    env v;
    memset(&v, 0, sizeof(v));
    env_start(&v, 1000);
    cluster_region_error re;
    cluster_region_error_init(&re);
    bs_err err;
    kv_batch *b = kv_batch_new();
    kv_batch_put(b, KV_CF_DEFAULT, bs_slice_from_str("a"), bs_slice_from_str("b"));
    cluster_epoch ep = {1, 1};
    assert_int_equal(cluster_store_propose(v.s, v.rid + 1000, &ep, b, NULL, NULL, &re, &err),
                     BS_NOTFOUND);
    assert_int_equal(re.kind, CLUSTER_RERR_REGION_NOT_FOUND);
    cluster_epoch stale = {1, 0};
    assert_int_equal(cluster_store_propose(v.s, v.rid, &stale, b, NULL, NULL, &re, &err),
                     BS_ESTATE);
    assert_int_equal(re.kind, CLUSTER_RERR_EPOCH_NOT_MATCH);
    assert_int_equal(re.n_regions, 1);
    assert_int_equal(re.regions[0].id, v.rid);
    assert_int_equal(cluster_store_read_check(v.s, v.rid, &stale, BS_SLICE_NULL, &re, &err),
                     BS_ESTATE);
    assert_int_equal(cluster_store_read_check(v.s, v.rid + 1000, &ep, BS_SLICE_NULL, &re, &err),
                     BS_NOTFOUND);
    cluster_region_error_deinit(&re);
    kv_batch_free(b);
    env_free(&v);
}

static bool truncated(void *arg)
{
    env *v = arg;
    cluster_peer_status st;
    return cluster_store_peer_status(v->s, v->rid, &st) == BS_OK &&
           st.truncated_index > CLUSTER_INIT_INDEX + 10;
}

static void test_log_gc(void **state)
{
    (void)state;
    env v;
    memset(&v, 0, sizeof(v));
    env_start(&v, 10);
    for (int i = 0; i < 40; i++) {
        char k[16];
        snprintf(k, sizeof k, "gc%d", i);
        assert_int_equal(ct_put(&v.t, k, "v"), BS_OK);
    }
    assert_true(ct_wait(truncated, &v, 20000));
    cluster_peer_status st;
    assert_int_equal(cluster_store_peer_status(v.s, v.rid, &st), BS_OK);
    /* The first entries are gone from CF raft. */
    bs_buf key = BS_BUF_INIT, val = BS_BUF_INIT;
    cluster_key_raft_log(&key, v.rid, CLUSTER_INIT_INDEX + 1);
    assert_int_equal(kv_get(v.e, KV_CF_RAFT, bs_buf_slice(&key), &val, NULL), BS_NOTFOUND);
    bs_buf_free(&key);
    bs_buf_free(&val);
    cluster_store_stats stats;
    cluster_store_get_stats(v.s, &stats);
    assert_true(stats.log_gc_compactions >= 1);
    env_stop(&v);
    /* A restart over a truncated log still works and keeps the data. */
    env_start(&v, 10);
    must_get(&v, "gc39", "v");
    assert_int_equal(ct_put(&v.t, "gc-after", "v2"), BS_OK);
    env_free(&v);
}

/* raft-log-gc-size-limit: with the GC tick out of reach, a log past the size limit is
 * still compacted, and the size hint shrinks with it. */
static void test_log_gc_size_limit(void **state)
{
    (void)state;
    env v;
    memset(&v, 0, sizeof(v));
    v.gc_tick_ticks = UINT64_MAX / 2; /* no tick-driven GC in this test */
    v.gc_size_limit = 4096;
    env_start(&v, 10);
    char val[256];
    memset(val, 'x', sizeof val - 1);
    val[sizeof val - 1] = '\0';
    for (int i = 0; i < 40; i++) { /* ~10 KiB of log */
        char k[16];
        snprintf(k, sizeof k, "sz%d", i);
        assert_int_equal(ct_put(&v.t, k, val), BS_OK);
    }
    assert_true(ct_wait(truncated, &v, 20000));
    cluster_store_stats stats;
    cluster_store_get_stats(v.s, &stats);
    assert_true(stats.log_gc_compactions >= 1);
    must_get(&v, "sz0", val);
    must_get(&v, "sz39", val);
    env_free(&v);
}

/* The size hint follows appends and compactions. */
static void test_log_size_hint(void **state)
{
    (void)state;
    cluster_raft_storage rs;
    memset(&rs, 0, sizeof(rs));
    rs.region_id = 7;
    rs.apply.truncated_index = 10;
    rs.last_index = 10;
    raft_entry ents[10];
    memset(ents, 0, sizeof(ents));
    for (int i = 0; i < 10; i++) {
        ents[i].term = 2;
        ents[i].index = 11 + (uint64_t)i;
        ents[i].type = RAFT_ENTRY_NORMAL;
        ents[i].data = bs_slice_make((const uint8_t *)"0123456789", 10);
    }
    kv_batch *b = kv_batch_new();
    cluster_rs_append(&rs, ents, 10, b);
    assert_int_equal(rs.last_index, 20);
    uint64_t full = rs.size_hint;
    assert_true(full >= 10 * 10); /* at least the payloads */
    cluster_rs_compact(&rs, 15, 2, b); /* drops 11..15: half the log */
    assert_int_equal(rs.size_hint, full / 2);
    cluster_rs_compact(&rs, 20, 2, b);
    assert_int_equal(rs.size_hint, 0);
    kv_batch_free(b);
    cluster_rs_deinit(&rs);
}

typedef struct read_done {
    _Atomic int done, code;
} read_done;

static void on_read(void *arg, int code, const bs_err *err)
{
    read_done *r = arg;
    (void)err;
    r->code = code;
    r->done = 1;
}

static bool read_finished(void *arg)
{
    return ((read_done *)arg)->done != 0;
}

/* ReadIndex on the leader: it answers once the local apply reaches the commit index it
 * confirmed, so everything acknowledged before is visible; region errors come back at
 * once. */
static void test_read_index(void **state)
{
    (void)state;
    env v;
    memset(&v, 0, sizeof(v));
    env_start(&v, 1000);
    assert_int_equal(ct_put(&v.t, "ri", "1"), BS_OK);
    cluster_peer_status before;
    assert_int_equal(cluster_store_peer_status(v.s, v.rid, &before), BS_OK);
    cluster_region r;
    pd_region_init(&r);
    assert_int_equal(cluster_store_region_by_id(v.s, v.rid, &r), BS_OK);
    cluster_region_error re;
    cluster_region_error_init(&re);
    bs_err err;
    for (int i = 0; i < 5; i++) {
        read_done rd = {0, -1};
        assert_int_equal(cluster_store_read_index(v.s, v.rid, &r.epoch, on_read, &rd, &re, &err),
                         BS_OK);
        assert_true(ct_wait(read_finished, &rd, 20000));
        assert_int_equal(rd.code, BS_OK);
        cluster_peer_status st;
        assert_int_equal(cluster_store_peer_status(v.s, v.rid, &st), BS_OK);
        assert_true(st.applied >= before.commit);
        must_get(&v, "ri", "1");
    }
    /* Synchronous refusals: no callback. */
    read_done never = {0, -1};
    cluster_epoch stale = {r.epoch.conf_ver, r.epoch.version - 1};
    assert_int_equal(cluster_store_read_index(v.s, v.rid, &stale, on_read, &never, &re, &err),
                     BS_ESTATE);
    assert_int_equal(re.kind, CLUSTER_RERR_EPOCH_NOT_MATCH);
    assert_int_equal(
        cluster_store_read_index(v.s, v.rid + 1000, &r.epoch, on_read, &never, &re, &err),
        BS_NOTFOUND);
    assert_int_equal(re.kind, CLUSTER_RERR_REGION_NOT_FOUND);
    assert_int_equal(never.done, 0);
    cluster_region_error_deinit(&re);
    pd_region_deinit(&r);
    env_free(&v);
}

/* A proposal callback that holds the raftstore thread until the test lets it go, so the
 * proposal queue can be filled deterministically. Test-only: callbacks must not block. */
typedef struct gate {
    _Atomic int entered, release, done, code;
} gate;

static void gate_cb(void *arg, int code, const bs_err *err)
{
    gate *g = arg;
    (void)err;
    g->code = code;
    g->entered = 1;
    while (!g->release) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    g->done = 1;
}

static bool gate_entered(void *arg)
{
    return ((gate *)arg)->entered != 0;
}

static bool counter_done(void *arg)
{
    return ((ct_counter *)arg)->done > 0;
}

static kv_batch *raw_put_batch(const char *user)
{
    bs_buf raw = BS_BUF_INIT, key = BS_BUF_INIT;
    kv_mvcc_key_append(&key, ct_key(&raw, user), 7);
    kv_batch *b = kv_batch_new();
    kv_batch_put(b, KV_CF_DEFAULT, bs_buf_slice(&key), bs_slice_from_str("v\0"));
    bs_buf_free(&raw);
    bs_buf_free(&key);
    return b;
}

static void count_cb(void *arg, int code, const bs_err *err)
{
    ct_counter *c = arg;
    (void)err;
    if (code == BS_OK)
        c->ok++;
    c->done++;
}

/* ServerIsBusy: with room for one queued proposal, and the raftstore held inside a
 * callback so it cannot drain the queue, the second queued proposal is refused with the
 * reason; the queued one still commits once the raftstore runs again. */
static void test_server_is_busy(void **state)
{
    (void)state;
    env v;
    memset(&v, 0, sizeof(v));
    v.max_pending = 1;
    env_start(&v, 1000);
    cluster_region r;
    pd_region_init(&r);
    assert_int_equal(cluster_store_region_by_id(v.s, v.rid, &r), BS_OK);
    cluster_region_error re;
    cluster_region_error_init(&re);
    bs_err err;
    gate g = {0, 0, 0, -1};
    kv_batch *b = raw_put_batch("busy1");
    assert_int_equal(cluster_store_propose(v.s, v.rid, &r.epoch, b, gate_cb, &g, &re, &err), BS_OK);
    assert_true(ct_wait(gate_entered, &g, 20000));
    assert_int_equal(g.code, BS_OK);
    ct_counter c2 = {0, 0};
    b = raw_put_batch("busy2");
    assert_int_equal(cluster_store_propose(v.s, v.rid, &r.epoch, b, count_cb, &c2, &re, &err),
                     BS_OK);
    b = raw_put_batch("busy3");
    assert_int_equal(cluster_store_propose(v.s, v.rid, &r.epoch, b, count_cb, NULL, &re, &err),
                     BS_EBUSY);
    assert_int_equal(re.kind, CLUSTER_RERR_SERVER_IS_BUSY);
    assert_int_equal(re.region_id, v.rid);
    assert_true(strlen(re.reason) > 0);
    assert_int_equal(err.code, BS_EBUSY);
    kv_batch_free(b); /* refused: still ours */
    g.release = 1;
    assert_true(ct_wait(counter_done, &c2, 20000));
    assert_int_equal(c2.ok, 1);
    assert_int_equal(g.done, 1);
    /* With the queue drained, proposals are welcome again. */
    assert_int_equal(ct_put(&v.t, "busy4", "x"), BS_OK);
    cluster_region_error_deinit(&re);
    pd_region_deinit(&r);
    env_free(&v);
}

/* A pipeline of puts: each acknowledgement sends the next, so proposals keep arriving
 * while earlier ones apply, which is what the raftstore overlaps with its fsync. */
#define PIPE_TOTAL 3000
#define PIPE_DEPTH 128
#define PIPE_PASSES 5

typedef struct pipe_ctx {
    txn_store *txn;
    int base;                 /* key number of this pass's first put */
    _Atomic int next, done, ok;
    _Atomic bool acked[PIPE_TOTAL * PIPE_PASSES];
} pipe_ctx;

typedef struct pipe_put {
    pipe_ctx *p;
    int i;
} pipe_put;

static void pipe_send(pipe_ctx *p, int i);

static void pipe_cb(void *arg, const txn_result *res)
{
    pipe_put *x = arg;
    pipe_ctx *p = x->p;
    if (res->code == BS_OK) {
        p->acked[p->base + x->i] = true;
        p->ok++;
    }
    bs_free(x);
    int i = atomic_fetch_add(&p->next, 1);
    if (i < PIPE_TOTAL)
        pipe_send(p, i);
    p->done++;
}

static void pipe_send(pipe_ctx *p, int i)
{
    char user[16], val[16];
    snprintf(user, sizeof user, "o%05d", p->base + i);
    snprintf(val, sizeof val, "v%05d", p->base + i);
    pipe_put *x = bs_calloc(1, sizeof(*x));
    x->p = p;
    x->i = i;
    bs_buf k = BS_BUF_INIT;
    txn_raw_put(p->txn, ct_key(&k, user), bs_slice_from_str(val), 0, pipe_cb, x);
    bs_buf_free(&k);
}

static bool pipe_finished(void *arg)
{
    return ((pipe_ctx *)arg)->done == PIPE_TOTAL;
}

/* Every acknowledged put survives a machine crash (unsynced writes discarded) taken right
 * after the load, with the fsyncs overlapped with applies during it. */
static void test_overlapped_fsync_crash(void **state)
{
    (void)state;
    env v;
    memset(&v, 0, sizeof(v));
    v.dir = tu_dir_new("store");
    kv_crashsim *sim = NULL;
    bs_err err;
    assert_int_equal(kv_crashsim_new(ct_engine_open(v.dir), &sim, &err), BS_OK);
    v.e = kv_crashsim_engine(sim);
    env_start(&v, 1000); /* log GC runs during the load too */
    /* Every round with something to apply overlaps, down to the last one of the load: a
     * skipped or misplaced fsync then loses acknowledged puts at the crash below. */
    atomic_store(&v.s->overlap_min_entries, 1);
    pipe_ctx *p = bs_calloc(1, sizeof(*p));
    p->txn = v.t.txn;
    /* Puts sent all at once would move in lock-step (one round writes them all, the next
     * applies them all and sends the next wave), which never overlaps; the first wave is
     * sent spread out so rounds mix new entries and applies. Another pass, on new keys, in
     * the rare run where that still did not happen. */
    int passes = 0;
    while (passes < PIPE_PASSES && atomic_load(&v.s->log_sync.syncs) == 0) {
        p->base = passes * PIPE_TOTAL;
        p->done = p->ok = 0;
        p->next = PIPE_DEPTH;
        for (int i = 0; i < PIPE_DEPTH; i++) {
            pipe_send(p, i);
            struct timespec ts = {0, 100000}; /* spreads the wave; nothing waits on time */
            nanosleep(&ts, NULL);
        }
        assert_true(ct_wait(pipe_finished, p, 120000));
        assert_int_equal(p->ok, PIPE_TOTAL);
        passes++;
    }
    printf("overlapped fsyncs: %llu in %d pass(es)\n",
           (unsigned long long)atomic_load(&v.s->log_sync.syncs), passes);
    assert_true(atomic_load(&v.s->log_sync.syncs) > 0);

    /* Crash: the store stops (nothing it writes on the way out is synced), the engine
     * loses every write no sync covered, and the store restarts from what is left. */
    ct_txn_close(&v.t);
    cluster_store_close(v.s);
    v.s = NULL;
    assert_int_equal(kv_crashsim_crash(sim, &err), BS_OK);
    kv_crashsim_stats cs;
    kv_crashsim_get_stats(sim, &cs);
    printf("crash discarded %zu unsynced writes\n", cs.discarded_writes);
    v.e = kv_crashsim_engine(sim);
    env_start(&v, 1000);
    for (int i = 0; i < passes * PIPE_TOTAL; i++) {
        char user[16], val[16];
        snprintf(user, sizeof user, "o%05d", i);
        snprintf(val, sizeof val, "v%05d", i);
        assert_true(p->acked[i]);
        must_get(&v, user, val);
    }
    ct_txn_close(&v.t);
    cluster_store_close(v.s);
    v.s = NULL;
    v.e = NULL;
    kv_crashsim_free(sim);
    bs_free(p);
    env_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bootstrap_put_restart),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_region_errors),
        cmocka_unit_test(test_log_gc),
        cmocka_unit_test(test_log_gc_size_limit),
        cmocka_unit_test(test_log_size_hint),
        cmocka_unit_test(test_read_index),
        cmocka_unit_test(test_server_is_busy),
        cmocka_unit_test(test_overlapped_fsync_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
