/* percolator_helpers.c -- the must_* helpers of the Percolator tests (see the header). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/codec.h"
#include "txn/percolator_helpers.h"

uint8_t pt_mode = KV_MODE_TXN;

int pt_setup_txn(void **state)
{
    pt_mode = KV_MODE_TXN;
    return th_setup_pinned(state);
}

int pt_setup_raw(void **state)
{
    pt_mode = KV_MODE_RAW;
    return th_setup_pinned(state);
}

int pt_teardown(void **state)
{
    return th_teardown_pinned(state);
}

static bs_buf key_ring[32];
static unsigned key_i;

bs_slice pt_key(const char *user)
{
    bs_buf *b = &key_ring[key_i++ % 32];
    bs_buf_reset(b);
    kv_key_v2_append(b, pt_mode, 0, bs_slice_from_str(user));
    return bs_buf_slice(b);
}

static bs_buf val_ring[8];
static unsigned val_i;

bs_slice pt_long_value(size_t n)
{
    bs_buf *b = &val_ring[val_i++ % 8];
    bs_buf_reset(b);
    for (size_t i = 0; i < n; i++)
        bs_buf_append_byte(b, 'v');
    return bs_buf_slice(b);
}

void pt_res_init(pt_res *r)
{
    memset(r, 0, sizeof(*r));
    txn_lock_info_init(&r->lock_info);
    txn_lock_infos_init(&r->locks);
}

void pt_res_free(pt_res *r)
{
    for (size_t i = 0; i < 8; i++)
        txn_key_error_deinit(&r->errors[i]);
    txn_lock_info_deinit(&r->lock_info);
    txn_lock_infos_free(&r->locks);
    pt_res_init(r);
}

static void key_error_copy(txn_key_error *dst, const txn_key_error *src)
{
    txn_key_error_deinit(dst);
    *dst = *src;
    dst->key = (bs_buf)BS_BUF_INIT;
    dst->primary = (bs_buf)BS_BUF_INIT;
    txn_lock_info_init(&dst->lock);
    bs_buf_set(&dst->key, src->key.ptr, src->key.len);
    bs_buf_set(&dst->primary, src->primary.ptr, src->primary.len);
    txn_lock_info_copy(&dst->lock, &src->lock);
}

void pt_cb(void *arg, const txn_kv_result *res)
{
    pt_res *r = arg;
    r->calls++;
    r->code = res->code;
    r->kind = res->error.kind;
    r->n_errors = res->n_errors;
    for (size_t i = 0; i < res->n_errors && i < 8; i++)
        key_error_copy(&r->errors[i], &res->errors[i]);
    r->one_pc_commit_ts = res->one_pc_commit_ts;
    r->commit_ts = res->commit_ts;
    r->lock_ttl = res->lock_ttl;
    r->action = res->action;
    r->has_lock_info = res->has_lock_info;
    txn_lock_info_copy(&r->lock_info, &res->lock_info);
    for (size_t i = 0; i < res->locks.n; i++)
        txn_lock_info_copy(txn_lock_infos_push(&r->locks), &res->locks.v[i]);
}

txn_mutation pt_mut(txn_op op, const char *key, bs_slice value)
{
    txn_mutation m;
    memset(&m, 0, sizeof(m));
    m.op = op;
    m.key = pt_key(key);
    m.value = value;
    return m;
}

txn_prewrite_req pt_req(const txn_mutation *m, size_t n, const char *primary, uint64_t start_ts)
{
    txn_prewrite_req r;
    memset(&r, 0, sizeof(r));
    r.mutations = m;
    r.n_mutations = n;
    r.primary = pt_key(primary);
    r.start_ts = start_ts;
    r.lock_ttl = 3000;
    return r;
}

/* Applies held proposals so a command completes (harness in delay mode). */
static void settle(th *h)
{
    if (h->delay)
        th_apply(h, SIZE_MAX);
}

void pt_prewrite(th *h, const txn_prewrite_req *req, pt_res *r)
{
    pt_res_free(r);
    txn_kv_prewrite(h->s, req, pt_cb, r);
    settle(h);
    assert_int_equal(r->calls, 1);
}

static void prewrite_ok(th *h, const txn_prewrite_req *req)
{
    pt_res r;
    pt_res_init(&r);
    pt_prewrite(h, req, &r);
    if (r.code != BS_OK || r.n_errors)
        fail_msg("prewrite: code %d, %zu key errors (first kind %d: %s)", r.code, r.n_errors,
                 r.n_errors ? (int)r.errors[0].kind : 0, r.n_errors ? r.errors[0].msg : "");
    pt_res_free(&r);
}

void must_prewrite_put(th *h, const char *key, bs_slice value, const char *primary, uint64_t ts)
{
    txn_mutation m = pt_mut(TXN_OP_PUT, key, value);
    txn_prewrite_req req = pt_req(&m, 1, primary, ts);
    prewrite_ok(h, &req);
}

void must_prewrite_put_ttl(th *h, const char *key, bs_slice value, const char *primary,
                           uint64_t ts, uint64_t lock_ttl, uint64_t min_commit_ts)
{
    txn_mutation m = pt_mut(TXN_OP_PUT, key, value);
    txn_prewrite_req req = pt_req(&m, 1, primary, ts);
    req.lock_ttl = lock_ttl;
    req.min_commit_ts = min_commit_ts;
    prewrite_ok(h, &req);
}

void must_prewrite_delete(th *h, const char *key, const char *primary, uint64_t ts)
{
    txn_mutation m = pt_mut(TXN_OP_DEL, key, BS_SLICE_NULL);
    txn_prewrite_req req = pt_req(&m, 1, primary, ts);
    prewrite_ok(h, &req);
}

void must_prewrite_lock(th *h, const char *key, const char *primary, uint64_t ts)
{
    txn_mutation m = pt_mut(TXN_OP_LOCK, key, BS_SLICE_NULL);
    txn_prewrite_req req = pt_req(&m, 1, primary, ts);
    prewrite_ok(h, &req);
}

/* A command result that must carry exactly one key error: returns its kind. */
static txn_key_error_kind one_error(pt_res *r, txn_key_error *ke, const char *what)
{
    assert_int_equal(r->calls, 1);
    if (r->code != BS_OK)
        fail_msg("%s: failed as a whole with code %d", what, r->code);
    if (r->n_errors == 0)
        fail_msg("%s: succeeded, an error was expected", what);
    txn_key_error_kind k = r->errors[0].kind;
    if (ke)
        key_error_copy(ke, &r->errors[0]);
    pt_res_free(r);
    return k;
}

txn_key_error_kind must_prewrite_mut_err(th *h, const txn_mutation *m, const char *primary,
                                         uint64_t ts, txn_key_error *ke)
{
    txn_prewrite_req req = pt_req(m, 1, primary, ts);
    pt_res r;
    pt_res_init(&r);
    pt_prewrite(h, &req, &r);
    return one_error(&r, ke, "prewrite");
}

txn_key_error_kind must_prewrite_put_err(th *h, const char *key, bs_slice value,
                                         const char *primary, uint64_t ts, txn_key_error *ke)
{
    txn_mutation m = pt_mut(TXN_OP_PUT, key, value);
    return must_prewrite_mut_err(h, &m, primary, ts, ke);
}

static void run_commit(th *h, const char *key, uint64_t start_ts, uint64_t commit_ts, pt_res *r)
{
    bs_slice k = pt_key(key);
    txn_kv_commit(h->s, &k, 1, start_ts, commit_ts, pt_cb, r);
    settle(h);
}

void must_commit(th *h, const char *key, uint64_t start_ts, uint64_t commit_ts)
{
    pt_res r;
    pt_res_init(&r);
    run_commit(h, key, start_ts, commit_ts, &r);
    assert_int_equal(r.calls, 1);
    if (r.code != BS_OK || r.n_errors)
        fail_msg("commit %s %llu@%llu: code %d, error kind %d (%s)", key,
                 (unsigned long long)start_ts, (unsigned long long)commit_ts, r.code,
                 r.n_errors ? (int)r.errors[0].kind : 0, r.n_errors ? r.errors[0].msg : "");
    assert_int_equal(r.commit_ts, commit_ts);
    pt_res_free(&r);
}

txn_key_error_kind must_commit_err(th *h, const char *key, uint64_t start_ts,
                                   uint64_t commit_ts, txn_key_error *ke)
{
    pt_res r;
    pt_res_init(&r);
    run_commit(h, key, start_ts, commit_ts, &r);
    return one_error(&r, ke, "commit");
}

static void run_rollback(th *h, const char *key, uint64_t start_ts, pt_res *r)
{
    bs_slice k = pt_key(key);
    txn_kv_batch_rollback(h->s, &k, 1, start_ts, pt_cb, r);
    settle(h);
}

void must_rollback(th *h, const char *key, uint64_t start_ts)
{
    pt_res r;
    pt_res_init(&r);
    run_rollback(h, key, start_ts, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.n_errors, 0);
    pt_res_free(&r);
}

txn_key_error_kind must_rollback_err(th *h, const char *key, uint64_t start_ts,
                                     txn_key_error *ke)
{
    pt_res r;
    pt_res_init(&r);
    run_rollback(h, key, start_ts, &r);
    return one_error(&r, ke, "rollback");
}

static void run_cleanup(th *h, const char *key, uint64_t start_ts, uint64_t current_ts,
                        pt_res *r)
{
    txn_kv_cleanup(h->s, pt_key(key), start_ts, current_ts, pt_cb, r);
    settle(h);
}

uint64_t must_cleanup(th *h, const char *key, uint64_t start_ts, uint64_t current_ts)
{
    pt_res r;
    pt_res_init(&r);
    run_cleanup(h, key, start_ts, current_ts, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(r.n_errors, 0);
    uint64_t c = r.commit_ts;
    pt_res_free(&r);
    return c;
}

txn_key_error_kind must_cleanup_err(th *h, const char *key, uint64_t start_ts,
                                    uint64_t current_ts, txn_key_error *ke)
{
    pt_res r;
    pt_res_init(&r);
    run_cleanup(h, key, start_ts, current_ts, &r);
    return one_error(&r, ke, "cleanup");
}

/* ---- engine inspection ------------------------------------------------------------------ */

static bool load_lock(th *h, const char *key, pt_lock *out)
{
    bs_buf k = BS_BUF_INIT;
    bs_err err;
    bs_mce_append(&k, pt_key(key));
    int rc = kv_get(h->e, KV_CF_LOCK, bs_buf_slice(&k), &out->raw, &err);
    bs_buf_free(&k);
    if (rc == BS_NOTFOUND)
        return false;
    assert_int_equal(rc, BS_OK);
    assert_int_equal(kv_lock_decode(bs_buf_slice(&out->raw), &out->lock, &err), BS_OK);
    return true;
}

void pt_lock_free(pt_lock *l)
{
    bs_buf_free(&l->raw);
}

void must_locked(th *h, const char *key, uint64_t start_ts, pt_lock *out)
{
    pt_lock l = {BS_BUF_INIT, {0}};
    if (!load_lock(h, key, &l))
        fail_msg("%s is not locked", key);
    if (l.lock.start_ts != start_ts)
        fail_msg("%s is locked by %llu, not %llu", key, (unsigned long long)l.lock.start_ts,
                 (unsigned long long)start_ts);
    if (out)
        *out = l;
    else
        pt_lock_free(&l);
}

void must_unlocked(th *h, const char *key)
{
    pt_lock l = {BS_BUF_INIT, {0}};
    if (load_lock(h, key, &l))
        fail_msg("%s is locked by %llu", key, (unsigned long long)l.lock.start_ts);
    pt_lock_free(&l);
}

bool pt_get_write(th *h, const char *key, uint64_t commit_ts, bs_buf *raw, kv_write *w)
{
    bs_buf k = BS_BUF_INIT;
    bs_err err;
    kv_mvcc_key_append(&k, pt_key(key), commit_ts);
    int rc = kv_get(h->e, KV_CF_WRITE, bs_buf_slice(&k), raw, &err);
    bs_buf_free(&k);
    if (rc == BS_NOTFOUND)
        return false;
    assert_int_equal(rc, BS_OK);
    assert_int_equal(kv_write_decode(bs_buf_slice(raw), w, &err), BS_OK);
    return true;
}

void must_written(th *h, const char *key, uint64_t start_ts, uint64_t commit_ts,
                  kv_write_type type)
{
    bs_buf raw = BS_BUF_INIT;
    kv_write w;
    if (!pt_get_write(h, key, commit_ts, &raw, &w))
        fail_msg("%s has no write record at %llu", key, (unsigned long long)commit_ts);
    assert_int_equal(w.start_ts, start_ts);
    assert_int_equal(w.type, type);
    bs_buf_free(&raw);
}

void must_get_rollback(th *h, const char *key, uint64_t start_ts, bool protected_)
{
    bs_buf raw = BS_BUF_INIT;
    kv_write w;
    if (!pt_get_write(h, key, start_ts, &raw, &w))
        fail_msg("%s has no rollback record at %llu", key, (unsigned long long)start_ts);
    assert_int_equal(w.type, KV_WRITE_ROLLBACK);
    assert_int_equal(w.start_ts, start_ts);
    assert_int_equal(kv_write_is_protected_rollback(&w), protected_);
    bs_buf_free(&raw);
}

void must_get_no_write(th *h, const char *key, uint64_t commit_ts)
{
    bs_buf raw = BS_BUF_INIT;
    kv_write w;
    if (pt_get_write(h, key, commit_ts, &raw, &w))
        fail_msg("%s has a write record at %llu", key, (unsigned long long)commit_ts);
    bs_buf_free(&raw);
}

bool pt_has_default(th *h, const char *key, uint64_t ts)
{
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    bs_err err;
    kv_mvcc_key_append(&k, pt_key(key), ts);
    int rc = kv_get(h->e, KV_CF_DEFAULT, bs_buf_slice(&k), &v, &err);
    bs_buf_free(&k);
    bs_buf_free(&v);
    assert_true(rc == BS_OK || rc == BS_NOTFOUND);
    return rc == BS_OK;
}

void pt_put_lock(th *h, const char *key, const kv_lock *l)
{
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    bs_err err;
    kv_batch *b = kv_batch_new();
    bs_mce_append(&k, pt_key(key));
    kv_lock_encode(&v, l);
    kv_batch_put(b, KV_CF_LOCK, bs_buf_slice(&k), bs_buf_slice(&v));
    assert_int_equal(kv_engine_write(h->e, b, false, &err), BS_OK);
    kv_batch_free(b);
    bs_buf_free(&k);
    bs_buf_free(&v);
}

void pt_put_pessimistic_lock(th *h, const char *key, uint64_t ts, uint64_t ttl)
{
    kv_lock l;
    kv_lock_init(&l);
    l.type = KV_LOCK_PESSIMISTIC;
    l.primary = pt_key(key);
    l.start_ts = ts;
    l.for_update_ts = ts;
    l.ttl = ttl;
    pt_put_lock(h, key, &l);
}

/* ---- reads ------------------------------------------------------------------------------- */

static int get_at(th *h, const char *key, uint64_t ts, txn_kv_pair *p)
{
    txn_read_opts o = {.read_ts = ts};
    txn_error e;
    txn_error_clear(&e);
    return txn_kv_get(h->s, pt_key(key), &o, p, &e);
}

void must_get(th *h, const char *key, uint64_t ts, bs_slice value)
{
    txn_kv_pair p;
    txn_kv_pair_init(&p);
    int rc = get_at(h, key, ts, &p);
    if (rc != BS_OK)
        fail_msg("get %s@%llu: rc %d", key, (unsigned long long)ts, rc);
    if (p.has_error)
        fail_msg("get %s@%llu: locked by %llu", key, (unsigned long long)ts,
                 (unsigned long long)p.error.lock.lock_version);
    if (!bs_slice_eq(bs_buf_slice(&p.value), value))
        fail_msg("get %s@%llu: got \"%.*s\", want \"%.*s\"", key, (unsigned long long)ts,
                 (int)(p.value.len > 64 ? 64 : p.value.len), (const char *)p.value.ptr,
                 (int)(value.len > 64 ? 64 : value.len), (const char *)value.ptr);
    txn_kv_pair_deinit(&p);
}

void must_get_none(th *h, const char *key, uint64_t ts)
{
    txn_kv_pair p;
    txn_kv_pair_init(&p);
    int rc = get_at(h, key, ts, &p);
    if (rc != BS_NOTFOUND)
        fail_msg("get %s@%llu: rc %d (has_error %d), want not found", key,
                 (unsigned long long)ts, rc, p.has_error);
    txn_kv_pair_deinit(&p);
}

void must_get_locked(th *h, const char *key, uint64_t ts, uint64_t lock_ts)
{
    txn_kv_pair p;
    txn_kv_pair_init(&p);
    assert_int_equal(get_at(h, key, ts, &p), BS_OK);
    if (!p.has_error)
        fail_msg("get %s@%llu: not blocked by a lock", key, (unsigned long long)ts);
    assert_int_equal(p.error.kind, TXN_KEY_ERR_LOCKED);
    assert_int_equal(p.error.lock.lock_version, lock_ts);
    txn_kv_pair_deinit(&p);
}
