/* node_test.c -- helpers of the server tests (see node_test.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/assert.h"
#include "common/config.h"
#include "node_test.h"

static void must_set(bs_config *cfg, const char *path, const char *v)
{
    bs_err err;
    if (bs_config_set(cfg, path, v, &err) != BS_OK) {
        fprintf(stderr, "config %s: %s\n", path, err.msg);
        abort();
    }
}

int nt_open(const char *dir, const char *life_time, srv_node **out, bs_err *err)
{
    const char *extra[] = {"gc.life-time", life_time, NULL};
    return nt_open_cfg(dir, life_time ? extra : NULL, out, err);
}

int nt_open_cfg(const char *dir, const char *const *extra, srv_node **out, bs_err *err)
{
    return nt_open_ticking(dir, extra, 3600 * 1000, out, err);
}

int nt_open_ticking(const char *dir, const char *const *extra, int64_t gc_tick_ms,
                    srv_node **out, bs_err *err)
{
    bs_config cfg;
    bs_config_defaults(&cfg);
    must_set(&cfg, "storage.data-dir", dir);
    must_set(&cfg, "storage.block-cache.capacity", "16MiB");
    must_set(&cfg, "rocksdb.defaultcf.write-buffer-size", "4MiB");
    must_set(&cfg, "rocksdb.writecf.write-buffer-size", "4MiB");
    must_set(&cfg, "rocksdb.lockcf.write-buffer-size", "4MiB");
    must_set(&cfg, "rocksdb.raftcf.write-buffer-size", "4MiB");
    for (size_t i = 0; extra && extra[i]; i += 2)
        must_set(&cfg, extra[i], extra[i + 1]);
    srv_node_options o;
    srv_node_options_init(&o);
    o.config = &cfg;
    o.gc_tick_ms = gc_tick_ms;
    int rc = srv_node_open(&o, out, err);
    bs_config_free(&cfg);
    if (rc != BS_OK)
        return rc;
    rc = srv_node_wait_ready(*out, 30000, err);
    if (rc != BS_OK) {
        srv_node_close(*out);
        *out = NULL;
    }
    return rc;
}

srv_node *nt_must_open(const char *dir, const char *life_time)
{
    srv_node *n = NULL;
    bs_err err;
    int rc = nt_open(dir, life_time, &n, &err);
    if (rc != BS_OK) {
        fprintf(stderr, "node open %s: %s\n", dir, err.msg);
        abort();
    }
    return n;
}

bs_slice nt_key(bs_buf *b, bs_slice user)
{
    bs_buf_reset(b);
    kv_key_v2_append(b, KV_MODE_RAW, 0, user);
    return bs_buf_slice(b);
}

void nt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

bool nt_wait(bool (*cond)(void *), void *arg, int timeout_ms)
{
    for (int i = 0; i < timeout_ms; i += 5) {
        if (cond(arg))
            return true;
        nt_sleep_ms(5);
    }
    return cond(arg);
}

/* ---- GC counters ------------------------------------------------------------------------ */

typedef struct gc_above {
    srv_node *n;
    uint64_t above;
    bool safe_point; /* else sweeps */
} gc_above;

static bool gc_counter_above(void *arg)
{
    gc_above *g = arg;
    srv_node_stats st;
    srv_node_get_stats(g->n, &st);
    return (g->safe_point ? st.gc_safe_point : st.gc_sweeps) > g->above;
}

uint64_t nt_gc_sweeps(srv_node *n)
{
    srv_node_stats st;
    srv_node_get_stats(n, &st);
    return st.gc_sweeps;
}

bool nt_wait_sweeps(srv_node *n, uint64_t above, int timeout_ms)
{
    gc_above g = {n, above, false};
    return nt_wait(gc_counter_above, &g, timeout_ms);
}

bool nt_wait_safe_point(srv_node *n, uint64_t above, int timeout_ms)
{
    gc_above g = {n, above, true};
    return nt_wait(gc_counter_above, &g, timeout_ms);
}

bool nt_retryable(int code, int kind)
{
    /* What client/ retries: timestamps or a key not ready, ServerIsBusy, and the region
     * errors of a proposal that never applied (a split changed the epoch, leadership
     * moved, the command went stale). */
    return kind == TXN_ERR_TS_NOT_READY || kind == TXN_ERR_KEY_BEING_WRITTEN ||
           kind == TXN_ERR_PROPOSAL_FAILED || code == BS_EBUSY || code == BS_ESTATE ||
           code == BS_ENOT_LEADER || code == BS_EPROPOSAL_DROPPED;
}

/* ---- one synchronous put ---------------------------------------------------------------- */

typedef struct one_put {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int code;
    int kind;
} one_put;

static void one_cb(void *arg, const txn_result *res)
{
    one_put *p = arg;
    pthread_mutex_lock(&p->mu);
    p->code = res->code;
    p->kind = res->error.kind;
    p->done = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int nt_put(srv_node *n, bs_slice user, bs_slice value, uint64_t ttl_ms)
{
    bs_buf k = BS_BUF_INIT;
    nt_key(&k, user);
    int code = BS_EINTERNAL;
    for (int attempt = 0; attempt < 2000; attempt++) {
        one_put p;
        memset(&p, 0, sizeof(p));
        pthread_mutex_init(&p.mu, NULL);
        pthread_cond_init(&p.cv, NULL);
        txn_raw_put(srv_node_txn(n), bs_buf_slice(&k), value, ttl_ms, one_cb, &p);
        pthread_mutex_lock(&p.mu);
        while (!p.done)
            pthread_cond_wait(&p.cv, &p.mu); /* every put completes: applied or failed */
        pthread_mutex_unlock(&p.mu);
        pthread_mutex_destroy(&p.mu);
        pthread_cond_destroy(&p.cv);
        code = p.code;
        if (!nt_retryable(p.code, p.kind))
            break;
        nt_sleep_ms(5);
    }
    bs_buf_free(&k);
    return code;
}

int nt_put_str(srv_node *n, const char *user, const char *value, uint64_t ttl_ms)
{
    return nt_put(n, bs_slice_from_str(user), bs_slice_from_str(value), ttl_ms);
}

int nt_get(srv_node *n, bs_slice user, bs_buf *out)
{
    bs_buf k = BS_BUF_INIT;
    txn_error e;
    txn_error_clear(&e);
    int rc = txn_raw_get(srv_node_txn(n), nt_key(&k, user), 0, out, &e);
    bs_buf_free(&k);
    return rc;
}

/* ---- many puts in flight ------------------------------------------------------------------ */

typedef struct many_req {
    nt_batch *b;
    size_t i;
    bool retry;
} many_req;

static void many_cb(void *arg, const txn_result *res)
{
    many_req *r = arg;
    nt_batch *b = r->b;
    pthread_mutex_lock(&b->mu);
    if (nt_retryable(res->code, res->error.kind)) {
        r->retry = true;
        b->retries++;
    } else if (res->code == BS_OK) {
        b->ok++;
    } else {
        b->last_code = res->code;
    }
    b->done++;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

size_t nt_put_many(srv_node *n, size_t count, nt_kv_fn kv, nt_batch *b)
{
    memset(b, 0, sizeof(*b));
    b->n = n;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    many_req *reqs = bs_calloc(count, sizeof(*reqs));
    bs_buf ku = BS_BUF_INIT, k = BS_BUF_INIT, v = BS_BUF_INIT;
    size_t pending = count;
    for (size_t i = 0; i < count; i++) {
        reqs[i].b = b;
        reqs[i].i = i;
        reqs[i].retry = true;
    }
    for (int round = 0; pending > 0 && round < 1000; round++) {
        size_t issued = 0;
        pthread_mutex_lock(&b->mu);
        b->done = 0;
        pthread_mutex_unlock(&b->mu);
        for (size_t i = 0; i < count; i++) {
            if (!reqs[i].retry)
                continue;
            reqs[i].retry = false;
            bs_buf_reset(&ku);
            bs_buf_reset(&v);
            kv(i, &ku, &v);
            nt_key(&k, bs_buf_slice(&ku));
            issued++;
            txn_raw_put(srv_node_txn(n), bs_buf_slice(&k), bs_buf_slice(&v), 0, many_cb,
                        &reqs[i]);
        }
        pthread_mutex_lock(&b->mu);
        while (b->done < issued)
            pthread_cond_wait(&b->cv, &b->mu);
        pending = 0;
        for (size_t i = 0; i < count; i++)
            pending += reqs[i].retry;
        pthread_mutex_unlock(&b->mu);
        if (pending)
            nt_sleep_ms(5);
    }
    b->total = count;
    bs_buf_free(&ku);
    bs_buf_free(&k);
    bs_buf_free(&v);
    bs_free(reqs);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    return b->ok;
}
