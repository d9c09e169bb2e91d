/* harness.c -- the temp engine, fake TSO and fake proposer behind the txn unit tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "lib/tmpdir.h"
#include "txn/harness.h"

static void tso_fetch(void *arg, uint32_t count, txn_tso_done_fn done, void *done_arg)
{
    th *h = arg;
    uint64_t last;
    pthread_mutex_lock(&h->mu);
    h->tso_fetches++;
    if (h->tso_hold) {
        h->held_done = done;
        h->held_arg = done_arg;
        h->held_count = count;
        pthread_mutex_unlock(&h->mu);
        return;
    }
    h->tso += count;
    last = h->tso;
    pthread_mutex_unlock(&h->mu);
    done(done_arg, BS_OK, last);
}

void th_tso_release(th *h)
{
    txn_tso_done_fn done;
    void *arg;
    uint64_t last;
    pthread_mutex_lock(&h->mu);
    done = h->held_done;
    arg = h->held_arg;
    h->held_done = NULL;
    h->tso_hold = false;
    h->tso += h->held_count;
    last = h->tso;
    pthread_mutex_unlock(&h->mu);
    if (done)
        done(arg, BS_OK, last);
}

static int propose(void *arg, kv_batch *b, txn_proposal_done_fn done, void *done_arg,
                   bs_err *err)
{
    th *h = arg;
    pthread_mutex_lock(&h->mu);
    h->proposals++;
    if (h->refuse > 0) {
        h->refuse--;
        pthread_mutex_unlock(&h->mu);
        return bs_err_setf(err, BS_ENOT_LEADER, "not leader");
    }
    if (h->delay) {
        if (h->qn == h->qcap) {
            h->qcap = h->qcap ? h->qcap * 2 : 16;
            h->q = bs_realloc(h->q, h->qcap * sizeof(th_prop));
        }
        h->q[h->qn++] = (th_prop){b, done, done_arg};
        pthread_mutex_unlock(&h->mu);
        return BS_OK;
    }
    pthread_mutex_unlock(&h->mu);
    bs_err e;
    int rc = kv_engine_write(h->e, b, false, &e);
    kv_batch_free(b);
    done(done_arg, rc, rc == BS_OK ? NULL : &e);
    return BS_OK;
}

static th_prop pop(th *h, bool *ok)
{
    th_prop p = {0};
    pthread_mutex_lock(&h->mu);
    *ok = h->qn > 0;
    if (*ok) {
        p = h->q[0];
        memmove(h->q, h->q + 1, (h->qn - 1) * sizeof(th_prop));
        h->qn--;
    }
    pthread_mutex_unlock(&h->mu);
    return p;
}

size_t th_apply(th *h, size_t n)
{
    size_t done = 0;
    while (done < n) {
        bool ok;
        th_prop p = pop(h, &ok);
        if (!ok)
            break;
        bs_err e;
        int rc = kv_engine_write(h->e, p.batch, false, &e);
        assert_int_equal(rc, BS_OK);
        kv_batch_free(p.batch);
        p.done(p.done_arg, BS_OK, NULL);
        done++;
    }
    return done;
}

size_t th_fail_all(th *h, int code)
{
    size_t n = 0;
    for (;;) {
        bool ok;
        th_prop p = pop(h, &ok);
        if (!ok)
            break;
        bs_err e;
        bs_err_setf(&e, code, "not leader");
        kv_batch_free(p.batch);
        p.done(p.done_arg, code, &e);
        n++;
    }
    return n;
}

th *th_new(void)
{
    th *h = bs_calloc(1, sizeof(*h));
    kv_options o;
    bs_err err;
    h->dir = tu_dir_new("txn");
    pthread_mutex_init(&h->mu, NULL);
    h->tso = 1000;
    kv_options_init(&o);
    o.block_cache_size = 1 << 20;
    o.write_buffer_size = 1 << 20;
    o.compaction_filter[KV_CF_DEFAULT].fn = txn_gc_compaction_filter;
    o.compaction_filter[KV_CF_DEFAULT].arg = &h->gc;
    atomic_init(&h->gc.safe_point, 0);
    if (kv_engine_open(h->dir, &o, &h->e, &err) != BS_OK)
        fail_msg("open: %s", err.msg);
    h->cts = txn_causal_ts_new(tso_fetch, h, 64);
    txn_store_config cfg = {h->e, h->cts, propose, h, 0};
    h->s = txn_store_new(&cfg);
    return h;
}

void th_free(th *h)
{
    th_fail_all(h, BS_ENOT_LEADER);
    if (h->held_done)
        th_tso_release(h);
    txn_store_free(h->s);
    txn_causal_ts_free(h->cts);
    kv_engine_close(h->e);
    tu_dir_remove(h->dir);
    bs_free(h->q);
    pthread_mutex_destroy(&h->mu);
    bs_free(h);
}

int th_setup_pinned(void **state)
{
    bs_clock_set_wall_override(TH_NOW);
    *state = th_new();
    return 0;
}

int th_teardown_pinned(void **state)
{
    bs_clock_set_wall_override(-1);
    th_free(*state);
    return 0;
}

bs_slice th_key(bs_buf *b, const char *user)
{
    bs_buf_reset(b);
    kv_key_v2_append(b, KV_MODE_RAW, 0, bs_slice_from_str(user));
    return bs_buf_slice(b);
}

bs_slice th_s(const char *s)
{
    return bs_slice_from_str(s);
}

void th_res_init(th_res *r)
{
    memset(r, 0, sizeof(*r));
}

void th_res_free(th_res *r)
{
    bs_buf_free(&r->previous_value);
    bs_buf_free(&r->old_value);
    bs_buf_free(&r->new_value);
    th_res_init(r);
}

void th_cb(void *arg, const txn_result *res)
{
    th_res *r = arg;
    r->calls++;
    r->code = res->code;
    r->kind = res->error.kind;
    snprintf(r->msg, sizeof(r->msg), "%s", res->error.msg);
    r->ts = res->ts;
    r->succeed = res->succeed;
    r->previous_not_exist = res->previous_not_exist;
    bs_buf_set(&r->previous_value, res->previous_value.ptr, res->previous_value.len);
    r->applied = res->rmw.applied;
    r->old_exists = res->rmw.old_exists;
    bs_buf_set(&r->old_value, res->rmw.old_value.ptr, res->rmw.old_value.len);
    bs_buf_set(&r->new_value, res->rmw.new_value.ptr, res->rmw.new_value.len);
    r->integer = res->rmw.integer;
}

void assert_buf_eq(const bs_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len != n || (n && memcmp(b->ptr, s, n) != 0))
        fail_msg("got \"%.*s\" (%zu bytes), want \"%s\"", (int)b->len, (const char *)b->ptr,
                 b->len, s);
}

void must_raw_put(th *h, const char *key, const char *value, uint64_t ttl_ms)
{
    bs_buf k = BS_BUF_INIT;
    th_res r;
    th_res_init(&r);
    txn_raw_put(h->s, th_key(&k, key), th_s(value), ttl_ms, th_cb, &r);
    if (h->delay)
        th_apply(h, SIZE_MAX);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_OK);
    assert_true(r.ts > 0);
    th_res_free(&r);
    bs_buf_free(&k);
}

void must_raw_delete(th *h, const char *key)
{
    bs_buf k = BS_BUF_INIT;
    th_res r;
    th_res_init(&r);
    txn_raw_delete(h->s, th_key(&k, key), th_cb, &r);
    if (h->delay)
        th_apply(h, SIZE_MAX);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_OK);
    th_res_free(&r);
    bs_buf_free(&k);
}

void must_raw_get(th *h, const char *key, const char *value)
{
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    txn_error e;
    int rc = txn_raw_get(h->s, th_key(&k, key), 0, &v, &e);
    if (rc != BS_OK)
        fail_msg("get %s: rc %d", key, rc);
    assert_buf_eq(&v, value);
    bs_buf_free(&k);
    bs_buf_free(&v);
}

void must_not_found(th *h, const char *key)
{
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    txn_error e;
    assert_int_equal(txn_raw_get(h->s, th_key(&k, key), 0, &v, &e), BS_NOTFOUND);
    bs_buf_free(&k);
    bs_buf_free(&v);
}

void must_rmw(th *h, const char *key, const txn_rmw_params *p, th_res *r)
{
    bs_buf k = BS_BUF_INIT;
    th_res_free(r);
    txn_raw_rmw(h->s, th_key(&k, key), p, th_cb, r);
    if (h->delay)
        th_apply(h, SIZE_MAX);
    assert_int_equal(r->calls, 1);
    bs_buf_free(&k);
}
