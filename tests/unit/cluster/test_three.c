/* test_three.c -- three stores in one process over the in-memory transport, each holding a
 * peer of the same three-peer Region (cluster_store_create_region), written through the txn
 * layer's proposer as a server would:
 *   - a write commits on the leader and reaches every store's engine;
 *   - with the leader's store down and closed, the other two elect a leader and commit;
 *   - the stopped store, reopened on its directory, catches up on every write it missed;
 *   - the proposal errors a client acts on: NotLeader (with the leader), KeyNotInRegion,
 *     RaftEntryTooLarge;
 *   - ReadIndex on the leader, NotLeader on a follower, and an isolated leader losing its
 *     lease, stepping down (on_role_change false) and failing its pending reads;
 *   - with PD bootstrapped and a small split size, the Region splits on every store alike
 *     and every new Region gets a leader.
 * Engines are read directly (a txn store over each engine, no Raft), so "replicated" means
 * applied on that store. Every wait is bounded; nothing asserts on time. */
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

#define N_STORES 3
#define WAIT_MS 30000
#define ENTRY_MAX 65536 /* raft-entry-max-size for these stores */

#define SPLIT_SIZE 4096

typedef struct node {
    char *dir;
    kv_engine *e;
    cluster_store *s; /* NULL while stopped */
    ct_txn t;
    uint64_t store_id;
    _Atomic int up, down; /* on_role_change calls */
} node;

typedef struct three {
    pd_meta_store *ms;
    pd_core *pd;
    cluster_transport *tr;
    node n[N_STORES];
    cluster_region region;
    int mode; /* T_* */
} three;

/* Harness modes. */
#define T_PD 1         /* one Region over all keys, PD bootstrapped with it (splits need PD) */
#define T_AUTO_SPLIT 2 /* a split size of a few KiB, checked every tick */
#define T_NO_LEASE 4   /* lease_read = false: every ReadIndex takes the quorum round */
/* Elections only on demand (a huge timeout), so a cut-off leader stays leader. With leases,
 * fresh voters refuse votes for one timeout: combine with T_NO_LEASE. */
#define T_SLOW 8

static void on_role(void *arg, uint64_t region_id, bool is_leader)
{
    node *n = arg;
    (void)region_id;
    if (is_leader)
        n->up++;
    else
        n->down++;
}

/* The region key (MCE) of the RawKV v2 key of user key `user`. */
static void region_key(bs_buf *out, const char *user)
{
    bs_buf raw = BS_BUF_INIT;
    bs_buf_reset(out);
    kv_region_key_append(out, ct_key(&raw, user));
    bs_buf_free(&raw);
}

static void node_start(three *c, int i)
{
    node *n = &c->n[i];
    if (!n->dir)
        n->dir = tu_dir_new("three");
    n->e = ct_engine_open(n->dir);
    cluster_store_options o;
    ct_options(&o, n->e, c->pd, c->tr);
    o.bootstrap = false; /* the Region is created on every store below, not by PD bootstrap */
    o.raft_entry_max_size = ENTRY_MAX;
    o.on_role_change = on_role;
    o.role_change_arg = n;
    o.lease_read = !(c->mode & T_NO_LEASE);
    if (c->mode & T_SLOW)
        o.election_ticks = 100000;
    if (c->mode & T_AUTO_SPLIT) {
        o.region_split_size = SPLIT_SIZE;
        o.region_max_size = SPLIT_SIZE * 3 / 2;
        o.split_check_diff = 512;
        o.split_check_tick_ms = 20;
        o.pd_heartbeat_tick_ms = 40;
        o.pd_store_heartbeat_tick_ms = 40;
    }
    bs_err err;
    int rc = cluster_store_open(&o, &n->s, &err);
    if (rc != BS_OK)
        fprintf(stderr, "open store %d: %s\n", i, err.msg);
    assert_int_equal(rc, BS_OK);
    if (n->store_id)
        assert_int_equal(cluster_store_id(n->s), n->store_id); /* a restart keeps its id */
    n->store_id = cluster_store_id(n->s);
    cluster_transport_mem_register(c->tr, n->store_id, n->s);
    cluster_transport_mem_set_down(c->tr, n->store_id, false);
    ct_txn_open(&n->t, c->pd, n->s, n->e);
}

/* As a crash would look to the others: traffic stops first, then the process goes away. */
static void node_stop(three *c, int i)
{
    node *n = &c->n[i];
    cluster_transport_mem_set_down(c->tr, n->store_id, true);
    cluster_transport_mem_register(c->tr, n->store_id, NULL);
    ct_txn_close(&n->t);
    cluster_store_close(n->s);
    kv_engine_close(n->e);
    n->s = NULL;
    n->e = NULL;
}

/* Opens three stores and gives each a peer of one Region: all keys below user key "z"
 * (split: all keys, and PD bootstrapped with it, as a split needs PD's ids). */
static void three_start_mode(three *c, int mode)
{
    memset(c, 0, sizeof(*c));
    c->mode = mode;
    bool split = (mode & T_PD) != 0;
    c->pd = ct_pd_open(&c->ms);
    c->tr = cluster_transport_mem_new();
    for (int i = 0; i < N_STORES; i++)
        node_start(c, i);
    uint64_t last;
    assert_int_equal(pd_alloc_id(c->pd, N_STORES + 1, &last, NULL), BS_OK);
    cluster_peer peers[N_STORES];
    for (int i = 0; i < N_STORES; i++)
        peers[i] = (cluster_peer){last - N_STORES + 1 + (uint64_t)i, c->n[i].store_id,
                                  PD_PEER_VOTER, false};
    bs_buf end = BS_BUF_INIT;
    if (!split)
        region_key(&end, "z");
    pd_region_init(&c->region);
    pd_region_set(&c->region, last - N_STORES, BS_SLICE_NULL, bs_buf_slice(&end),
                  (cluster_epoch){1, 1}, peers, N_STORES);
    bs_buf_free(&end);
    for (int i = 0; i < N_STORES; i++) {
        bs_err err;
        int rc = cluster_store_create_region(c->n[i].s, &c->region, &err);
        if (rc != BS_OK)
            fprintf(stderr, "create region on store %d: %s\n", i, err.msg);
        assert_int_equal(rc, BS_OK);
        assert_int_equal(cluster_store_region_count(c->n[i].s), 1);
    }
    /* Creating it twice is refused. */
    assert_int_equal(cluster_store_create_region(c->n[0].s, &c->region, NULL), BS_EEXIST);
    if (mode & T_SLOW)
        assert_int_equal(cluster_store_campaign(c->n[0].s, c->region.id), BS_OK);
    if (split) {
        /* PD bootstraps with a one-peer Region; the leader's heartbeat then brings PD the
         * three peers, and the other stores register with their first store heartbeat. */
        pd_store st;
        memset(&st, 0, sizeof(st));
        st.id = c->n[0].store_id;
        snprintf(st.address, sizeof st.address, "store-%llu", (unsigned long long)st.id);
        snprintf(st.version, sizeof st.version, "8.5.0");
        cluster_region first;
        pd_region_init(&first);
        pd_region_set(&first, c->region.id, BS_SLICE_NULL, BS_SLICE_NULL, c->region.epoch,
                      &c->region.peers[0], 1);
        assert_int_equal(pd_bootstrap(c->pd, &st, &first, NULL, NULL), BS_OK);
        pd_region_deinit(&first);
    }
}

static void three_start(three *c)
{
    three_start_mode(c, 0);
}

static void three_free(three *c)
{
    for (int i = 0; i < N_STORES; i++) {
        if (c->n[i].s)
            node_stop(c, i);
        tu_dir_remove(c->n[i].dir);
    }
    cluster_transport_mem_free(c->tr);
    pd_region_deinit(&c->region);
    pd_close(c->pd);
    pd_meta_store_free(c->ms);
}

/* The running store that leads the Region with the highest term, with every other running
 * store following that leader; -1 when there is none yet. */
static int settled_leader(three *c)
{
    int leader = -1;
    uint64_t term = 0, leader_peer = 0;
    for (int i = 0; i < N_STORES; i++) {
        cluster_peer_status st;
        if (!c->n[i].s || cluster_store_peer_status(c->n[i].s, c->region.id, &st) != BS_OK)
            continue;
        if (st.is_leader && st.term >= term) {
            leader = i;
            term = st.term;
            leader_peer = c->region.peers[i].id;
        }
    }
    if (leader < 0)
        return -1;
    for (int i = 0; i < N_STORES; i++) {
        cluster_peer_status st;
        if (i == leader || !c->n[i].s)
            continue;
        if (cluster_store_peer_status(c->n[i].s, c->region.id, &st) != BS_OK ||
            st.is_leader || st.leader_peer_id != leader_peer || st.term != term)
            return -1;
    }
    return leader;
}

static bool has_settled_leader(void *arg)
{
    return settled_leader(arg) >= 0;
}

static int must_leader(three *c)
{
    if (!ct_wait(has_settled_leader, c, WAIT_MS))
        for (int i = 0; i < N_STORES; i++) {
            cluster_peer_status st;
            if (c->n[i].s && cluster_store_peer_status(c->n[i].s, c->region.id, &st) == BS_OK)
                fprintf(stderr,
                        "no settled leader: store %d leader=%d lead=%llu term=%llu commit=%llu\n",
                        i, st.is_leader, (unsigned long long)st.leader_peer_id,
                        (unsigned long long)st.term, (unsigned long long)st.commit);
        }
    assert_true(ct_wait(has_settled_leader, c, 1));
    return settled_leader(c);
}

/* A put through the leader's txn proposer. A leader can lose its term between the lookup
 * and the proposal; a client then retries on the new leader, so this does too (bounded). */
static void must_put(three *c, const char *k, const char *v)
{
    int rc = BS_EINTERNAL;
    for (int attempt = 0; attempt < 5 && rc != BS_OK; attempt++)
        rc = ct_put(&c->n[must_leader(c)].t, k, v);
    assert_int_equal(rc, BS_OK);
}

typedef struct has_arg {
    node *n;
    const char *k, *v;
} has_arg;

static bool engine_has(void *arg)
{
    has_arg *a = arg;
    bs_buf out = BS_BUF_INIT;
    bool ok = ct_get(&a->n->t, a->k, &out) == BS_OK && out.len == strlen(a->v) &&
              memcmp(out.ptr, a->v, out.len) == 0;
    bs_buf_free(&out);
    return ok;
}

/* Store i's engine holds k = v (once its peer has applied the entry). */
static void must_have(three *c, int i, const char *k, const char *v)
{
    has_arg a = {&c->n[i], k, v};
    if (!ct_wait(engine_has, &a, WAIT_MS))
        fprintf(stderr, "store %d lacks %s\n", i, k);
    assert_true(engine_has(&a));
}

static void test_write_replicates_to_all(void **state)
{
    (void)state;
    three c;
    three_start(&c);
    int leader = must_leader(&c);
    assert_int_equal(ct_put(&c.n[leader].t, "k1", "v1"), BS_OK);
    for (int i = 0; i < N_STORES; i++)
        must_have(&c, i, "k1", "v1");
    for (int i = 0; i < 10; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "m%d", i);
        snprintf(v, sizeof v, "w%d", i);
        must_put(&c, k, v);
    }
    for (int i = 0; i < N_STORES; i++)
        must_have(&c, i, "m9", "w9");
    /* Every store applied past the Region's initial log position. */
    for (int i = 0; i < N_STORES; i++) {
        cluster_peer_status st;
        assert_int_equal(cluster_store_peer_status(c.n[i].s, c.region.id, &st), BS_OK);
        assert_true(st.applied > CLUSTER_INIT_INDEX);
    }
    three_free(&c);
}

/* Stops the leader and waits for the other two to elect one. Returns the stopped index. */
static int stop_leader_and_reelect(three *c)
{
    int old = must_leader(c);
    cluster_peer_status st;
    assert_int_equal(cluster_store_peer_status(c->n[old].s, c->region.id, &st), BS_OK);
    uint64_t old_term = st.term;
    node_stop(c, old);
    int leader = must_leader(c);
    assert_true(leader != old);
    assert_int_equal(cluster_store_peer_status(c->n[leader].s, c->region.id, &st), BS_OK);
    assert_true(st.term > old_term);
    return old;
}

static void test_leader_down_new_leader_commits(void **state)
{
    (void)state;
    three c;
    three_start(&c);
    must_put(&c, "before", "1");
    int old = stop_leader_and_reelect(&c);
    must_put(&c, "after", "2");
    for (int i = 0; i < N_STORES; i++) {
        if (i == old)
            continue;
        must_have(&c, i, "before", "1");
        must_have(&c, i, "after", "2");
    }
    three_free(&c);
}

static void test_stopped_store_catches_up(void **state)
{
    (void)state;
    three c;
    three_start(&c);
    must_put(&c, "a0", "x0");
    int old = stop_leader_and_reelect(&c);
    for (int i = 1; i <= 20; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "a%d", i);
        snprintf(v, sizeof v, "x%d", i);
        must_put(&c, k, v);
    }
    node_start(&c, old);
    assert_int_equal(cluster_store_region_count(c.n[old].s), 1);
    for (int i = 0; i <= 20; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "a%d", i);
        snprintf(v, sizeof v, "x%d", i);
        must_have(&c, old, k, v);
    }
    /* Back in the group: a new write reaches all three again. */
    must_put(&c, "a21", "x21");
    for (int i = 0; i < N_STORES; i++)
        must_have(&c, i, "a21", "x21");
    three_free(&c);
}

/* A one-put batch of the RawKV data key of `user` (region key ‖ ts) with a value of vlen. */
static kv_batch *put_batch(const char *user, size_t vlen)
{
    bs_buf raw = BS_BUF_INIT, key = BS_BUF_INIT;
    kv_mvcc_key_append(&key, ct_key(&raw, user), 42);
    uint8_t *val = bs_calloc(1, vlen);
    kv_batch *b = kv_batch_new();
    kv_batch_put(b, KV_CF_DEFAULT, bs_buf_slice(&key), bs_slice_make(val, vlen));
    bs_free(val);
    bs_buf_free(&raw);
    bs_buf_free(&key);
    return b;
}

static void test_proposal_errors(void **state)
{
    (void)state;
    three c;
    three_start(&c);
    must_put(&c, "e1", "v");
    int leader = must_leader(&c);
    int follower = (leader + 1) % N_STORES;
    cluster_region_error re;
    cluster_region_error_init(&re);
    bs_err err;

    /* NotLeader on a follower, naming the leader peer (settled_leader: the follower knows). */
    kv_batch *b = put_batch("e2", 8);
    assert_int_equal(
        cluster_store_propose(c.n[follower].s, c.region.id, &c.region.epoch, b, NULL, NULL, &re,
                              &err),
        BS_ENOT_LEADER);
    assert_int_equal(re.kind, CLUSTER_RERR_NOT_LEADER);
    assert_int_equal(re.region_id, c.region.id);
    assert_true(re.has_leader);
    assert_int_equal(re.leader.id, c.region.peers[leader].id);
    assert_int_equal(re.leader.store_id, c.n[leader].store_id);
    /* The txn proposer on a follower refuses the same way (the caller keeps the batch). */
    assert_int_equal(txn_cluster_propose(c.n[follower].s, b, NULL, NULL, &err), BS_ENOT_LEADER);
    kv_batch_free(b);

    /* KeyNotInRegion: the Region ends at user key "z". */
    b = put_batch("zz", 8);
    assert_int_equal(cluster_store_propose(c.n[leader].s, c.region.id, &c.region.epoch, b, NULL,
                                           NULL, &re, &err),
                     BS_ERANGE);
    assert_int_equal(re.kind, CLUSTER_RERR_KEY_NOT_IN_REGION);
    assert_int_equal(re.start_key.len, 0);
    assert_int_equal(re.end_key.len, c.region.end_key.len);
    assert_memory_equal(re.end_key.ptr, c.region.end_key.ptr, re.end_key.len);
    assert_true(re.key.len > 0);
    kv_batch_free(b);

    /* RaftEntryTooLarge: an entry over raft-entry-max-size is refused before raft sees it. */
    b = put_batch("big", ENTRY_MAX + 1);
    assert_int_equal(cluster_store_propose(c.n[leader].s, c.region.id, &c.region.epoch, b, NULL,
                                           NULL, &re, &err),
                     BS_ETOOLARGE);
    assert_int_equal(re.kind, CLUSTER_RERR_RAFT_ENTRY_TOO_LARGE);
    assert_int_equal(re.entry_max_size, ENTRY_MAX);
    assert_true(re.entry_size > ENTRY_MAX);
    kv_batch_free(b);
    cluster_region_error_deinit(&re);

    /* None of these reached the log: the Region still takes writes. */
    must_put(&c, "e3", "v");
    for (int i = 0; i < N_STORES; i++)
        must_have(&c, i, "e3", "v");
    three_free(&c);
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

typedef struct lost_arg {
    three *c;
    int i;
} lost_arg;

/* Store i no longer serves lease reads (its lease lapsed or it stepped down). */
static bool lease_lost(void *arg)
{
    lost_arg *a = arg;
    return cluster_store_read_check(a->c->n[a->i].s, a->c->region.id, &a->c->region.epoch,
                                    BS_SLICE_NULL, NULL, NULL) != BS_OK;
}

static bool stepped_down(void *arg)
{
    lost_arg *a = arg;
    return a->c->n[a->i].down > 0;
}

/* A ReadIndex on the leader; retried (boundedly) when leadership moves under it, as a
 * client would. */
static void must_read_index(three *c)
{
    int code = BS_EINTERNAL;
    for (int attempt = 0; attempt < 5 && code != BS_OK; attempt++) {
        int leader = must_leader(c);
        read_done rd = {0, -1};
        code = cluster_store_read_index(c->n[leader].s, c->region.id, &c->region.epoch, on_read,
                                        &rd, NULL, NULL);
        if (code != BS_OK)
            continue;
        assert_true(ct_wait(read_finished, &rd, WAIT_MS));
        code = rd.code;
        assert_true(code == BS_OK || code == BS_EPROPOSAL_DROPPED || code == BS_ENOT_LEADER);
    }
    assert_int_equal(code, BS_OK);
}

/* Without leases (lease_read = false) a leader never serves a read from its lease:
 * read_check says BS_EBUSY and ReadIndex confirms leadership with a quorum round. */
static void test_read_index_without_lease(void **state)
{
    (void)state;
    three c;
    three_start_mode(&c, T_NO_LEASE);
    must_put(&c, "r1", "v");
    int leader = must_leader(&c);
    cluster_region_error re;
    cluster_region_error_init(&re);
    bs_err err;
    int rc = cluster_store_read_check(c.n[leader].s, c.region.id, &c.region.epoch, BS_SLICE_NULL,
                                      &re, &err);
    assert_true(rc == BS_EBUSY || rc == BS_ENOT_LEADER); /* NotLeader if it just moved */
    if (rc == BS_EBUSY)
        assert_int_equal(re.kind, CLUSTER_RERR_NONE);
    for (int i = 0; i < 5; i++)
        must_read_index(&c);
    /* Everything acknowledged before a read is visible on the store that served it. */
    must_put(&c, "r2", "v2");
    must_read_index(&c);
    must_have(&c, must_leader(&c), "r2", "v2");
    cluster_region_error_deinit(&re);
    three_free(&c);
}

/* ReadIndex on a follower is NotLeader naming the leader. A leader cut off from the
 * others loses its lease, then steps down (on_role_change reports it); a ReadIndex it
 * accepted meanwhile cannot gather its quorum and fails at the step-down. Without leases
 * the read always takes the quorum path, so that outcome does not depend on timing. */
static void test_read_index_and_leader_loss(void **state)
{
    (void)state;
    three c;
    three_start_mode(&c, T_NO_LEASE);
    must_put(&c, "r1", "v");
    must_read_index(&c);
    int leader = must_leader(&c);
    int follower = (leader + 1) % N_STORES;
    assert_true(c.n[leader].up >= 1);
    cluster_region_error re;
    cluster_region_error_init(&re);
    bs_err err;
    read_done never = {0, -1};
    assert_int_equal(cluster_store_read_index(c.n[follower].s, c.region.id, &c.region.epoch,
                                              on_read, &never, &re, &err),
                     BS_ENOT_LEADER);
    assert_int_equal(re.kind, CLUSTER_RERR_NOT_LEADER);
    assert_true(re.has_leader);
    assert_int_equal(re.leader.store_id, c.n[leader].store_id);
    assert_int_equal(never.done, 0);

    cluster_transport_mem_set_down(c.tr, c.n[leader].store_id, true);
    read_done lost = {0, -1};
    int rc = cluster_store_read_index(c.n[leader].s, c.region.id, &c.region.epoch, on_read, &lost,
                                      &re, &err);
    if (rc == BS_OK) {
        assert_true(ct_wait(read_finished, &lost, WAIT_MS));
        assert_true(lost.code == BS_EPROPOSAL_DROPPED || lost.code == BS_ENOT_LEADER);
    } else {
        assert_int_equal(rc, BS_ENOT_LEADER); /* it stepped down before the call */
    }
    lost_arg la = {&c, leader};
    assert_true(ct_wait(stepped_down, &la, WAIT_MS));
    assert_true(lease_lost(&la));
    cluster_region_error_deinit(&re);

    /* Healed, the group settles and takes writes again. */
    cluster_transport_mem_set_down(c.tr, c.n[leader].store_id, false);
    must_put(&c, "r2", "v");
    for (int i = 0; i < N_STORES; i++)
        must_have(&c, i, "r2", "v");
    three_free(&c);
}

/* With leases, an isolated leader stops serving lease reads before it steps down. */
static void test_lease_lapses_when_isolated(void **state)
{
    (void)state;
    three c;
    three_start(&c);
    must_put(&c, "l1", "v");
    int leader = must_leader(&c);
    lost_arg la = {&c, leader};
    cluster_transport_mem_set_down(c.tr, c.n[leader].store_id, true);
    assert_true(ct_wait(lease_lost, &la, WAIT_MS));
    assert_true(ct_wait(stepped_down, &la, WAIT_MS));
    cluster_transport_mem_set_down(c.tr, c.n[leader].store_id, false);
    must_put(&c, "l2", "v");
    three_free(&c);
}

/* Every running store has the same Regions, each with one settled leader whose
 * followers agree, and every Region is measured within region-max-size on its leader. */
static bool split_settled(void *arg)
{
    three *c = arg;
    size_t n = cluster_store_region_count(c->n[0].s);
    if (n < 3)
        return false;
    for (int i = 1; i < N_STORES; i++)
        if (cluster_store_region_count(c->n[i].s) != n)
            return false;
    bs_buf key = BS_BUF_INIT;
    bool ok = true;
    size_t walked = 0;
    for (;;) {
        cluster_region r;
        pd_region_init(&r);
        ok = cluster_store_region_by_key(c->n[0].s, bs_buf_slice(&key), &r) == BS_OK;
        int leaders = 0;
        uint64_t lead_peer = 0;
        for (int i = 0; ok && i < N_STORES; i++) {
            cluster_region ri;
            pd_region_init(&ri);
            cluster_peer_status st;
            ok = cluster_store_region_by_id(c->n[i].s, r.id, &ri) == BS_OK &&
                 ri.epoch.version == r.epoch.version &&
                 cluster_store_peer_status(c->n[i].s, r.id, &st) == BS_OK;
            if (ok && st.is_leader) {
                leaders++;
                lead_peer = r.peers[i].id;
                ok = st.size_known && st.approximate_size <= SPLIT_SIZE * 3 / 2;
            }
            pd_region_deinit(&ri);
        }
        for (int i = 0; ok && i < N_STORES; i++) {
            cluster_peer_status st;
            ok = cluster_store_peer_status(c->n[i].s, r.id, &st) == BS_OK &&
                 (st.is_leader || st.leader_peer_id == lead_peer);
        }
        ok = ok && leaders == 1;
        walked++;
        bool last = r.end_key.len == 0;
        if (ok && !last)
            bs_buf_set(&key, r.end_key.ptr, r.end_key.len);
        pd_region_deinit(&r);
        if (!ok || last)
            break;
    }
    bs_buf_free(&key);
    return ok && walked == n;
}

typedef struct leader_of_arg {
    three *c;
    bs_buf key;
    int found;
} leader_of_arg;

/* Finds the store leading the Region that holds the key (per store 0's routing). */
static bool find_leader_of(void *arg)
{
    leader_of_arg *a = arg;
    cluster_region r;
    pd_region_init(&r);
    a->found = -1;
    if (cluster_store_region_by_key(a->c->n[0].s, bs_buf_slice(&a->key), &r) == BS_OK) {
        for (int i = 0; i < N_STORES; i++) {
            cluster_peer_status st;
            if (cluster_store_peer_status(a->c->n[i].s, r.id, &st) == BS_OK && st.is_leader)
                a->found = i;
        }
    }
    pd_region_deinit(&r);
    return a->found >= 0;
}

static int must_leader_of(three *c, const char *user)
{
    leader_of_arg a = {c, BS_BUF_INIT, -1};
    region_key(&a.key, user);
    assert_true(ct_wait(find_leader_of, &a, WAIT_MS));
    bs_buf_free(&a.key);
    return a.found;
}

/* A put through the store leading the key's Region. A write that meets a Region in
 * transition (a split applying, a new Region electing) is retried, boundedly, after a
 * pause, as a client backs off. */
static void must_put_routed(three *c, const char *k, const char *v)
{
    int rc = BS_EINTERNAL;
    for (int attempt = 0; attempt < 500 && rc != BS_OK; attempt++) {
        rc = ct_put(&c->n[must_leader_of(c, k)].t, k, v);
        if (rc != BS_OK) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_int_equal(rc, BS_OK);
}

/* PD routes every Region of store 0 to itself at the same epoch. */
static bool pd_routes_all(void *arg)
{
    three *c = arg;
    bs_buf key = BS_BUF_INIT;
    bool ok = true;
    for (;;) {
        cluster_region r;
        pd_region_init(&r);
        pd_region_info ri;
        pd_region_info_init(&ri);
        ok = cluster_store_region_by_key(c->n[0].s, bs_buf_slice(&key), &r) == BS_OK &&
             pd_get_region(c->pd, bs_buf_slice(&r.start_key), &ri, NULL) == BS_OK &&
             ri.region.id == r.id && ri.region.epoch.version == r.epoch.version &&
             ri.region.n_peers == N_STORES && ri.has_leader;
        bool last = r.end_key.len == 0;
        if (ok && !last)
            bs_buf_set(&key, r.end_key.ptr, r.end_key.len);
        pd_region_info_deinit(&ri);
        pd_region_deinit(&r);
        if (!ok || last)
            break;
    }
    bs_buf_free(&key);
    return ok;
}

static void test_split_three(void **state)
{
    (void)state;
    three c;
    three_start_mode(&c, T_PD | T_AUTO_SPLIT);
    char k[32], v[128];
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof k, "s%04d", i);
        memset(v, 'a' + i % 26, 100);
        v[100] = '\0';
        must_put_routed(&c, k, v);
    }
    if (!ct_wait(split_settled, &c, WAIT_MS))
        for (int i = 0; i < N_STORES; i++)
            fprintf(stderr, "store %d: %zu regions\n", i, cluster_store_region_count(c.n[i].s));
    assert_true(split_settled(&c));
    /* Every store applied every write, whichever Region took it. */
    for (int i = 0; i < N_STORES; i++) {
        for (int j = 0; j < 200; j += 11) {
            snprintf(k, sizeof k, "s%04d", j);
            memset(v, 'a' + j % 26, 100);
            v[100] = '\0';
            must_have(&c, i, k, v);
        }
        cluster_store_stats st;
        cluster_store_get_stats(c.n[i].s, &st);
        assert_true(st.splits >= 1);
    }
    /* PD routes to the same Regions (split reports and heartbeats). */
    size_t n = cluster_store_region_count(c.n[0].s);
    assert_true(ct_wait(pd_routes_all, &c, WAIT_MS));
    assert_int_equal(pd_region_count(c.pd), n);
    three_free(&c);
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

typedef struct store_has_arg {
    cluster_store *s;
    uint64_t rid;
} store_has_arg;

static bool store_has_region(void *arg)
{
    store_has_arg *a = arg;
    cluster_region r;
    pd_region_init(&r);
    bool ok = cluster_store_region_by_id(a->s, a->rid, &r) == BS_OK;
    pd_region_deinit(&r);
    return ok;
}

typedef struct index_arg {
    cluster_store *s;
    uint64_t rid, above;
} index_arg;

static bool last_index_above(void *arg)
{
    index_arg *a = arg;
    cluster_peer_status st;
    return cluster_store_peer_status(a->s, a->rid, &st) == BS_OK && st.last_index > a->above;
}

/* A write accepted under the old epoch whose entry lands after the split's in the log can
 * no longer apply (its keys may have moved): it fails with EpochNotMatch (BS_ESTATE) when
 * the split applies, whichever side of the split its key is on, as in TiKV. The followers
 * are cut off so the split entry waits uncommitted while the writes are accepted behind
 * it; elections are on demand only, so the leader keeps leading meanwhile. */
static void test_split_fails_old_epoch_writes(void **state)
{
    (void)state;
    three c;
    three_start_mode(&c, T_PD | T_SLOW | T_NO_LEASE); /* no boot lease to wait out */
    must_put(&c, "a1", "v");
    int leader = must_leader(&c);
    cluster_store *ls = c.n[leader].s;
    for (int i = 0; i < N_STORES; i++)
        if (i != leader)
            cluster_transport_mem_set_down(c.tr, c.n[i].store_id, true);
    cluster_peer_status st;
    assert_int_equal(cluster_store_peer_status(ls, c.region.id, &st), BS_OK);

    /* Manual split at "m": PD's ids, then the BatchSplit entry, uncommitted. */
    bs_buf m = BS_BUF_INIT;
    region_key(&m, "m");
    bs_slice mk = bs_buf_slice(&m);
    done_arg split = {0, -1};
    cluster_region_error re;
    cluster_region_error_init(&re);
    bs_err err;
    assert_int_equal(cluster_store_split_region(ls, c.region.id, &c.region.epoch, &mk, 1, on_done,
                                                &split, &re, &err),
                     BS_OK);
    index_arg ia = {ls, c.region.id, st.last_index};
    assert_true(ct_wait(last_index_above, &ia, WAIT_MS));
    assert_int_equal(split.done, 0);

    /* Two writes at the old epoch, behind the split in the log. */
    done_arg left = {0, -1}, right = {0, -1};
    kv_batch *b = put_batch("a2", 8);
    assert_int_equal(
        cluster_store_propose(ls, c.region.id, &c.region.epoch, b, on_done, &left, &re, &err),
        BS_OK);
    b = put_batch("z2", 8);
    assert_int_equal(
        cluster_store_propose(ls, c.region.id, &c.region.epoch, b, on_done, &right, &re, &err),
        BS_OK);
    ia.above += 2;
    assert_true(ct_wait(last_index_above, &ia, WAIT_MS));

    /* Heal: the split commits and applies, and both writes fail with EpochNotMatch. */
    for (int i = 0; i < N_STORES; i++)
        cluster_transport_mem_set_down(c.tr, c.n[i].store_id, false);
    assert_true(ct_wait(is_done, &split, WAIT_MS));
    assert_int_equal(split.code, BS_OK);
    assert_true(ct_wait(is_done, &left, WAIT_MS));
    assert_true(ct_wait(is_done, &right, WAIT_MS));
    assert_int_equal(left.code, BS_ESTATE);
    assert_int_equal(right.code, BS_ESTATE);
    /* Neither reached the engine. */
    bs_buf out = BS_BUF_INIT;
    assert_int_equal(ct_get(&c.n[leader].t, "a2", &out), BS_NOTFOUND);
    assert_int_equal(ct_get(&c.n[leader].t, "z2", &out), BS_NOTFOUND);
    bs_buf_free(&out);

    /* The Region kept [m, +inf) at version 2; the new one [-inf, m) has PD's ids. */
    cluster_region r, l;
    pd_region_init(&r);
    pd_region_init(&l);
    assert_int_equal(cluster_store_region_by_id(ls, c.region.id, &r), BS_OK);
    assert_int_equal(r.epoch.version, 2);
    assert_int_equal(r.epoch.conf_ver, c.region.epoch.conf_ver);
    assert_true(bs_slice_eq(bs_buf_slice(&r.start_key), mk));
    assert_int_equal(r.end_key.len, 0);
    assert_int_equal(cluster_store_region_by_key(ls, BS_SLICE_NULL, &l), BS_OK);
    assert_true(l.id != r.id);
    assert_int_equal(l.epoch.version, 2);
    assert_true(bs_slice_eq(bs_buf_slice(&l.end_key), mk));
    assert_int_equal(l.n_peers, N_STORES);
    for (int i = 0; i < N_STORES; i++) {
        assert_int_equal(l.peers[i].store_id, c.region.peers[i].store_id);
        assert_true(l.peers[i].id != c.region.peers[i].id);
    }
    /* Every store splits alike; the new Region elects its leader without a timeout (its
     * vote waited on the followers until their split created the peer). */
    for (int i = 0; i < N_STORES; i++) {
        store_has_arg ha = {c.n[i].s, l.id};
        assert_true(ct_wait(store_has_region, &ha, WAIT_MS));
    }
    /* Retried at the new epoch, through the right Region, both writes go in. */
    must_put_routed(&c, "a2", "v2");
    must_put_routed(&c, "z2", "v2");
    for (int i = 0; i < N_STORES; i++) {
        must_have(&c, i, "a2", "v2");
        must_have(&c, i, "z2", "v2");
    }
    pd_region_deinit(&r);
    pd_region_deinit(&l);
    cluster_region_error_deinit(&re);
    bs_buf_free(&m);
    three_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_replicates_to_all),
        cmocka_unit_test(test_leader_down_new_leader_commits),
        cmocka_unit_test(test_stopped_store_catches_up),
        cmocka_unit_test(test_proposal_errors),
        cmocka_unit_test(test_read_index_without_lease),
        cmocka_unit_test(test_read_index_and_leader_loss),
        cmocka_unit_test(test_lease_lapses_when_isolated),
        cmocka_unit_test(test_split_three),
        cmocka_unit_test(test_split_fails_old_epoch_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
