/* cluster_test.c -- helpers for the cluster tests (see cluster_test.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster_test.h"
#include "common/assert.h"

kv_engine *ct_engine_open(const char *dir)
{
    kv_options o;
    kv_options_init(&o);
    o.block_cache_size = 8 << 20;
    o.write_buffer_size = 4 << 20;
    kv_engine *e = NULL;
    bs_err err;
    int rc = kv_engine_open(dir, &o, &e, &err);
    if (rc != BS_OK)
        fprintf(stderr, "engine open: %s\n", err.msg);
    BS_ASSERT(rc == BS_OK);
    return e;
}

pd_core *ct_pd_open(pd_meta_store **ms)
{
    if (!*ms)
        *ms = pd_memstore_new();
    pd_core *pd = NULL;
    bs_err err;
    BS_ASSERT(pd_open(NULL, *ms, &pd, &err) == BS_OK);
    return pd;
}

void ct_options(cluster_store_options *o, kv_engine *e, pd_core *pd, cluster_transport *t)
{
    cluster_store_options_init(o);
    o->engine = e;
    o->pd = pd;
    o->transport = t;
    o->tick_interval_ms = 20;
    o->heartbeat_ticks = 2;
    o->election_ticks = 10;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

bool ct_wait(bool (*cond)(void *), void *arg, int timeout_ms)
{
    for (int i = 0; i < timeout_ms; i += 5) {
        if (cond(arg))
            return true;
        sleep_ms(5);
    }
    return cond(arg);
}

typedef struct leader_arg {
    cluster_store *s;
    uint64_t rid;
} leader_arg;

static bool is_leader(void *arg)
{
    leader_arg *a = arg;
    cluster_peer_status st;
    return cluster_store_peer_status(a->s, a->rid, &st) == BS_OK && st.is_leader;
}

bool ct_wait_leader(cluster_store *s, uint64_t region_id, int timeout_ms)
{
    leader_arg a = {s, region_id};
    return ct_wait(is_leader, &a, timeout_ms);
}

static void tso_fetch(void *arg, uint32_t count, txn_tso_done_fn done, void *done_arg)
{
    ct_txn *t = arg;
    uint64_t ts = 0;
    int rc = pd_tso_alloc(t->pd, count, &ts, NULL);
    done(done_arg, rc, ts);
}

void ct_txn_open(ct_txn *t, pd_core *pd, cluster_store *s, kv_engine *e)
{
    memset(t, 0, sizeof(*t));
    t->pd = pd;
    t->cts = txn_causal_ts_new(tso_fetch, t, 1024);
    txn_store_config c;
    memset(&c, 0, sizeof(c));
    c.engine = e;
    c.causal_ts = t->cts;
    c.propose = txn_cluster_propose;
    c.propose_arg = s;
    t->txn = txn_store_new(&c);
}

void ct_txn_close(ct_txn *t)
{
    txn_store_free(t->txn);
    txn_causal_ts_free(t->cts);
}

void ct_put_cb(void *arg, const txn_result *res)
{
    ct_counter *c = arg;
    if (res->code == BS_OK)
        c->ok++;
    c->done++;
}

static bool one_done(void *arg)
{
    ct_counter *c = arg;
    return c->done > 0;
}

bs_slice ct_key(bs_buf *b, const char *user)
{
    bs_buf_reset(b);
    kv_key_v2_append(b, KV_MODE_RAW, 0, bs_slice_from_str(user));
    return bs_buf_slice(b);
}

int ct_put(ct_txn *t, const char *key, const char *value)
{
    ct_counter c = {0, 0};
    bs_buf k = BS_BUF_INIT;
    txn_raw_put(t->txn, ct_key(&k, key), bs_slice_from_str(value), 0, ct_put_cb, &c);
    bs_buf_free(&k);
    if (!ct_wait(one_done, &c, 20000))
        return BS_EINTERNAL;
    return c.ok ? BS_OK : BS_EIO;
}

int ct_get(ct_txn *t, const char *key, bs_buf *out)
{
    bs_buf k = BS_BUF_INIT;
    txn_error e;
    memset(&e, 0, sizeof(e));
    int rc = txn_raw_get(t->txn, ct_key(&k, key), 0, out, &e);
    bs_buf_free(&k);
    return rc;
}
