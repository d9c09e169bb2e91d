/* client.c -- the client object: options, creation and shutdown, and the INFO figures.
 *
 * Shutdown order matters: requests may be waiting in the worker's queue (backing off),
 * inside the store (a proposal or ReadIndex in flight) or in the lock table (waiting for a
 * key). client_free fails the first kind at once and waits for the others to call back,
 * since their callbacks reference the client; the store must therefore still be running. */
#include <string.h>

#include "client/client_int.h"
#include "common/assert.h"
#include "common/log.h"

void client_options_init(client_options *o)
{
    memset(o, 0, sizeof(*o));
    o->max_backoff_ms = 20000;
}

int client_new(const client_options *opts, client **out, bs_err *err)
{
    if (!opts || !opts->pd || !opts->store || !opts->txn)
        return bs_err_setf(err, BS_EINVAL, "client: pd, store and txn are required");
    client *c = bs_calloc(1, sizeof(*c));
    c->o = *opts;
    client_cache_init(&c->cache);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->idle, NULL);
    atomic_init(&c->requests, 0);
    atomic_init(&c->retries, 0);
    atomic_init(&c->region_errors, 0);
    atomic_init(&c->read_indexes, 0);
    int rc = client_worker_start(c, err); /* initialises c->cv */
    if (rc != BS_OK) {
        pthread_cond_destroy(&c->cv);
        pthread_cond_destroy(&c->idle);
        pthread_mutex_destroy(&c->mu);
        client_cache_deinit(&c->cache);
        bs_free(c);
        return rc;
    }
    *out = c;
    return BS_OK;
}

void client_free(client *c)
{
    if (!c)
        return;
    /* First: its background commits are client requests the worker must still serve. */
    pthread_mutex_lock(&c->mu);
    client_txns *t = c->txns;
    c->txns = NULL;
    c->txns_closed = true; /* a late client_txns_of must not start another */
    pthread_mutex_unlock(&c->mu);
    client_txns_free(t);
    client_worker_stop(c); /* returns once nothing is in flight and the thread is gone */
    BS_ASSERT(c->in_flight == 0 && c->heap_n == 0);
    bs_free(c->heap);
    pthread_cond_destroy(&c->cv);
    pthread_cond_destroy(&c->idle);
    while (c->free_reqs) {
        creq *r = c->free_reqs;
        c->free_reqs = r->free_next;
        client_req_free_kept(r);
    }
    pthread_mutex_destroy(&c->mu);
    client_cache_deinit(&c->cache);
    bs_free(c);
}

/* Created at the first use, so a client that never runs a transaction starts no TSO
 * thread (and tests with a fake store never reach it). */
client_txns *client_txns_of(client *c)
{
    pthread_mutex_lock(&c->mu);
    if (!c->txns && !c->txns_closed) {
        bs_err err;
        bs_err_clear(&err);
        if (client_txns_new(c, NULL, &c->txns, &err) != BS_OK)
            BS_LOG_ERROR("cannot start the transaction layer", "err=\"%s\"", err.msg);
    }
    client_txns *t = c->txns;
    pthread_mutex_unlock(&c->mu);
    return t;
}

bool client_keys_one_region(client *c, uint32_t keyspace, const bs_slice *keys, size_t n)
{
    bs_buf key = BS_BUF_INIT, rk = BS_BUF_INIT;
    cluster_region first, r;
    bool one = keyspace <= CLIENT_KEYSPACE_MAX;
    pd_region_init(&first);
    pd_region_init(&r);
    for (size_t i = 0; i < n && one; i++) {
        client_raw_key(&key, keyspace, keys[i]);
        bs_buf_reset(&rk);
        kv_region_key_append(&rk, bs_buf_slice(&key));
        if (!client_cache_find(&c->cache, bs_buf_slice(&rk), false, i == 0 ? &first : &r))
            one = false;
        else if (i > 0 && (r.id != first.id || r.epoch.version != first.epoch.version))
            one = false;
    }
    pd_region_deinit(&first);
    pd_region_deinit(&r);
    bs_buf_free(&key);
    bs_buf_free(&rk);
    return one;
}

void client_store_info_get(client *c, client_store_info *out)
{
    memset(out, 0, sizeof(*out));
    out->store_id = cluster_store_id(c->o.store);
    out->cluster_id = cluster_store_cluster_id(c->o.store);
    out->regions = cluster_store_region_count(c->o.store);
    /* The store lists no Region ids, so leaders are counted over the Regions PD knows. */
    pd_region_list l;
    pd_region_list_init(&l);
    if (pd_scan_regions(c->o.pd, BS_SLICE_NULL, BS_SLICE_NULL, 0, &l, NULL) == BS_OK)
        for (size_t i = 0; i < l.n; i++) {
            cluster_peer_status st;
            if (cluster_store_peer_status(c->o.store, l.v[i].region.id, &st) == BS_OK &&
                st.is_leader)
                out->leaders++;
        }
    pd_region_list_deinit(&l);
    cluster_store_get_stats(c->o.store, &out->stats);
    out->requests = atomic_load(&c->requests);
    out->retries = atomic_load(&c->retries);
    out->region_errors = atomic_load(&c->region_errors);
    out->read_indexes = atomic_load(&c->read_indexes);
}
