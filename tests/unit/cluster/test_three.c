/* test_three.c -- three stores in one process over the in-memory transport, each holding a
 * peer of the same three-peer Region (cluster_store_create_region), written through the txn
 * layer's proposer as a server would:
 *   - a write commits on the leader and reaches every store's engine;
 *   - with the leader's store down and closed, the other two elect a leader and commit;
 *   - the stopped store, reopened on its directory, catches up on every write it missed;
 *   - the proposal errors a client acts on: NotLeader (with the leader), KeyNotInRegion,
 *     RaftEntryTooLarge.
 * Engines are read directly (a txn store over each engine, no Raft), so "replicated" means
 * applied on that store. Every wait is bounded; nothing asserts on time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cluster/cluster_int.h"
#include "cluster_test.h"

#define N_STORES 3
#define WAIT_MS 30000
#define ENTRY_MAX 65536 /* raft-entry-max-size for these stores */

typedef struct node {
    char *dir;
    kv_engine *e;
    cluster_store *s; /* NULL while stopped */
    ct_txn t;
    uint64_t store_id;
} node;

typedef struct three {
    pd_meta_store *ms;
    pd_core *pd;
    cluster_transport *tr;
    node n[N_STORES];
    cluster_region region;
} three;

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

/* Opens three stores and gives each a peer of one Region: all keys below user key "z". */
static void three_start(three *c)
{
    memset(c, 0, sizeof(*c));
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
    assert_true(ct_wait(has_settled_leader, c, WAIT_MS));
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_replicates_to_all),
        cmocka_unit_test(test_leader_down_new_leader_commits),
        cmocka_unit_test(test_stopped_store_catches_up),
        cmocka_unit_test(test_proposal_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
