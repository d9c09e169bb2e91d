/* read.c -- the read operations: GET, TTL, MGET, SCAN and DBSIZE.
 *
 * Every read is served by the Region's leader, linearizably: under a valid lease it reads
 * the local engine at once (on the caller's thread); otherwise a ReadIndex confirms
 * leadership first and the read runs on the worker thread once the local apply has caught
 * up (client_req_readable). Reads use read_ts 0, the latest applied state: a write is
 * acknowledged only once applied, so every acknowledged write is visible, and none that
 * could still vanish is (pending writes stay in the lock table until applied).
 *
 * Reads that span Regions (MGET, SCAN, DBSIZE) read each Region at its own point in time,
 * as client-go does; a range is walked Region by Region, each part clipped to its Region,
 * resuming from a cursor after a retry, so every key is returned once and in order. */
#include <string.h>

#include "client/client_int.h"
#include "common/assert.h"

static bool keyspace_valid(creq *r, uint32_t keyspace)
{
    if (keyspace <= CLIENT_KEYSPACE_MAX)
        return true;
    client_req_reject(r, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "keyspace id out of range");
    return false;
}

/* Drops the pairs past the first n (a failed part is read again on retry). */
static void pairs_truncate(txn_pairs *p, size_t n)
{
    while (p->n > n) {
        p->n--;
        bs_buf_free(&p->v[p->n].key);
        bs_buf_free(&p->v[p->n].value);
    }
}

/* Results carry user keys: the 4-byte API v2 prefix goes. */
static void pairs_strip_prefix(txn_pairs *p)
{
    for (size_t i = 0; i < p->n; i++) {
        bs_buf *k = &p->v[i].key;
        BS_ASSERT(k->len >= KV_PREFIX_LEN);
        memmove(k->ptr, k->ptr + KV_PREFIX_LEN, k->len - KV_PREFIX_LEN);
        k->len -= KV_PREFIX_LEN;
    }
}

/* ---- GET, TTL ---------------------------------------------------------------------------- */

static creq_step attempt_point(creq *r)
{
    creq_step s;
    bs_slice key = bs_buf_slice(&r->keys[0]), rk = bs_buf_slice(&r->rkeys[0]);
    if (!client_req_locate(r, rk, false, &s) || !client_req_readable(r, rk, &s))
        return s;
    txn_error e;
    txn_error_clear(&e);
    int rc = r->kind == CREQ_GET
                 ? txn_raw_get(r->c->o.txn, key, 0, &r->res.value, &e)
                 : txn_raw_get_key_expiry(r->c->o.txn, key, 0, &r->res.expire_ms,
                                          &r->res.ttl_ms, &e);
    if (rc == BS_OK || rc == BS_NOTFOUND) {
        r->res.code = rc;
        return STEP_DONE;
    }
    return client_req_read_failed(r, &e, key);
}

static void point_read(client *c, creq_kind kind, uint32_t keyspace, bs_slice key,
                       client_done_fn done, void *arg)
{
    creq *r = client_req_new(c, kind, attempt_point, done, arg);
    if (!keyspace_valid(r, keyspace))
        return;
    client_req_set_keys(r, keyspace, &key, 1);
    client_req_run(r);
}

void client_get(client *c, uint32_t keyspace, bs_slice key, client_done_fn done, void *arg)
{
    point_read(c, CREQ_GET, keyspace, key, done, arg);
}

void client_get_ttl(client *c, uint32_t keyspace, bs_slice key, client_done_fn done, void *arg)
{
    point_read(c, CREQ_GET_TTL, keyspace, key, done, arg);
}

/* ---- MGET ---------------------------------------------------------------------------------- */

/* Reads the unresolved keys Region by Region (the Region of the first unresolved key, then
 * every other unresolved key it holds), then assembles the live ones in request order. */
static creq_step attempt_batch_get(creq *r)
{
    creq_step s;
    bs_slice *keys;
    size_t *idx, m;
    while (client_req_next_part(r, &keys, &idx, &m, &s)) {
        txn_pairs out;
        txn_error e;
        txn_pairs_init(&out);
        txn_error_clear(&e);
        int rc = txn_raw_batch_get(r->c->o.txn, keys, m, 0, &out, &e);
        if (rc == BS_OK) {
            /* out holds the live keys in the order asked: match them up in one pass. */
            size_t k = 0;
            for (size_t j = 0; j < m; j++) {
                size_t i = idx[j];
                r->resolved[i] = true;
                if (k < out.n && bs_slice_eq(bs_buf_slice(&out.v[k].key), keys[j])) {
                    r->found[i] = true;
                    r->vals[i] = out.v[k].value;
                    out.v[k].value = (bs_buf)BS_BUF_INIT;
                    k++;
                }
            }
            BS_ASSERT(k == out.n);
        } else {
            s = client_req_read_failed(r, &e, m == 1 ? keys[0] : BS_SLICE_NULL);
        }
        txn_pairs_free(&out);
        bs_free(keys);
        bs_free(idx);
        if (rc != BS_OK)
            return s;
    }
    if (s == STEP_DONE) /* every key resolved */
        client_req_take_found(r);
    return s;
}

void client_batch_get(client *c, uint32_t keyspace, const bs_slice *keys, size_t n,
                      client_done_fn done, void *arg)
{
    creq *r = client_req_new(c, CREQ_BATCH_GET, attempt_batch_get, done, arg);
    if (!keyspace_valid(r, keyspace))
        return;
    client_req_set_keys(r, keyspace, keys, n);
    r->resolved = bs_calloc(n ? n : 1, sizeof(bool));
    r->found = bs_calloc(n ? n : 1, sizeof(bool));
    r->vals = bs_calloc(n ? n : 1, sizeof(bs_buf));
    client_req_run(r);
}

/* ---- ranges: SCAN, DBSIZE ----------------------------------------------------------------- */

static bool range_more(const creq *r)
{
    return r->reverse ? bs_slice_cmp(bs_buf_slice(&r->cursor), bs_buf_slice(&r->lo)) > 0
                      : bs_slice_cmp(bs_buf_slice(&r->cursor), bs_buf_slice(&r->hi)) < 0;
}

bool client_range_part(creq *r, bs_buf *plo, bs_buf *phi, bool *last, bool check_read,
                       creq_step *s)
{
    bs_buf rk = BS_BUF_INIT;
    kv_region_key_append(&rk, bs_buf_slice(&r->cursor));
    bool ok = client_req_locate(r, bs_buf_slice(&rk), r->reverse, s);
    if (ok && !r->reverse) {
        const bs_buf *end = &r->region.end_key;
        bs_buf_set(plo, r->cursor.ptr, r->cursor.len);
        *last = end->len == 0 || bs_slice_cmp(bs_buf_slice(end), bs_buf_slice(&r->hi_rk)) >= 0;
        if (*last) {
            bs_buf_set(phi, r->hi.ptr, r->hi.len);
        } else if (client_region_key_decode(bs_buf_slice(end), phi) != BS_OK) {
            *s = client_req_fail(r, BS_ECORRUPT, TXN_ERR_NONE,
                                 "region end key is not a memcomparable key");
            ok = false;
        }
    } else if (ok) {
        const bs_buf *start = &r->region.start_key;
        bs_buf_set(phi, r->cursor.ptr, r->cursor.len);
        *last = bs_slice_cmp(bs_buf_slice(start), bs_buf_slice(&r->lo_rk)) <= 0;
        if (*last) {
            bs_buf_set(plo, r->lo.ptr, r->lo.len);
        } else if (client_region_key_decode(bs_buf_slice(start), plo) != BS_OK) {
            *s = client_req_fail(r, BS_ECORRUPT, TXN_ERR_NONE,
                                 "region start key is not a memcomparable key");
            ok = false;
        }
        /* The read check needs a key inside the Region: the part's start, not the cursor
         * (the exclusive end may be the Region's end). */
        bs_buf_reset(&rk);
        kv_region_key_append(&rk, bs_buf_slice(plo));
    }
    /* Each part makes progress: the cursor's Region holds at least the cursor's side. */
    BS_ASSERT(!ok || bs_slice_cmp(bs_buf_slice(phi), bs_buf_slice(plo)) > 0);
    if (ok && check_read)
        ok = client_req_readable(r, bs_buf_slice(&rk), s);
    bs_buf_free(&rk);
    return ok;
}

static creq_step attempt_scan(creq *r)
{
    if (!r->on_worker && r->limit > CLIENT_INLINE_SCAN_MAX)
        return STEP_WORKER;
    bs_buf plo = BS_BUF_INIT, phi = BS_BUF_INIT;
    creq_step s = STEP_DONE;
    bool last = false;
    while (range_more(r) && r->res.pairs.n < r->limit) {
        if (!client_range_part(r, &plo, &phi, &last, true, &s))
            break;
        size_t n0 = r->res.pairs.n;
        txn_scan_req q = {r->reverse ? bs_buf_slice(&phi) : bs_buf_slice(&plo),
                          r->reverse ? bs_buf_slice(&plo) : bs_buf_slice(&phi),
                          (uint32_t)(r->limit - n0), r->key_only, r->reverse, 0};
        txn_error e;
        txn_error_clear(&e);
        if (txn_raw_scan(r->c->o.txn, &q, &r->res.pairs, &e) != BS_OK) {
            pairs_truncate(&r->res.pairs, n0);
            s = client_req_read_failed(r, &e, BS_SLICE_NULL);
            break;
        }
        const bs_buf *next = r->reverse ? &plo : &phi;
        bs_buf_set(&r->cursor, next->ptr, next->len);
    }
    bs_buf_free(&plo);
    bs_buf_free(&phi);
    if (s != STEP_DONE || r->res.code != BS_OK)
        return s;
    pairs_strip_prefix(&r->res.pairs);
    return STEP_DONE;
}

/* Fills r's scan parameters and its range of region keys from req: forward [start, end),
 * reverse [end, start), an absent bound being the keyspace's edge (client_scan's rules,
 * shared with client_txn_scan). */
void client_req_set_scan(creq *r, const client_scan_req *req)
{
    uint8_t ks_lo[KV_PREFIX_LEN], ks_hi[KV_PREFIX_LEN];
    kv_keyspace_range(KV_MODE_RAW, req->keyspace, ks_lo, ks_hi);
    bs_buf lo = BS_BUF_INIT, hi = BS_BUF_INIT;
    r->keyspace = req->keyspace;
    r->limit = req->limit;
    r->key_only = req->key_only;
    r->reverse = req->reverse;
    if (!req->reverse) {
        client_raw_key(&lo, req->keyspace, req->start);
        if (req->has_end)
            client_raw_key(&hi, req->keyspace, req->end);
        else
            bs_buf_set(&hi, ks_hi, KV_PREFIX_LEN);
    } else {
        if (req->start.len)
            client_raw_key(&hi, req->keyspace, req->start);
        else
            bs_buf_set(&hi, ks_hi, KV_PREFIX_LEN);
        if (req->has_end)
            client_raw_key(&lo, req->keyspace, req->end);
        else
            bs_buf_set(&lo, ks_lo, KV_PREFIX_LEN);
    }
    if (bs_slice_cmp(bs_buf_slice(&lo), bs_buf_slice(&hi)) > 0)
        bs_buf_set(&hi, lo.ptr, lo.len); /* an empty range: nothing to return */
    client_req_set_range(r, bs_buf_slice(&lo), bs_buf_slice(&hi));
    bs_buf_free(&lo);
    bs_buf_free(&hi);
}

void client_scan(client *c, const client_scan_req *req, client_done_fn done, void *arg)
{
    creq *r = client_req_new(c, CREQ_SCAN, attempt_scan, done, arg);
    if (!keyspace_valid(r, req->keyspace))
        return;
    if (req->limit == 0) {
        client_req_reject(r, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "scan limit must be > 0");
        return;
    }
    client_req_set_scan(r, req);
    client_req_run(r);
}

/* DBSIZE: a key-only walk of every Region of the keyspace (RawChecksum's total_kvs), always
 * on the worker thread since it reads the whole keyspace. */
static creq_step attempt_count(creq *r)
{
    if (!r->on_worker)
        return STEP_WORKER;
    bs_buf plo = BS_BUF_INIT, phi = BS_BUF_INIT;
    creq_step s = STEP_DONE;
    bool last = false;
    while (range_more(r)) {
        if (!client_range_part(r, &plo, &phi, &last, true, &s))
            break;
        txn_scan_req q;
        memset(&q, 0, sizeof(q));
        q.start = bs_buf_slice(&plo);
        q.end = bs_buf_slice(&phi);
        txn_checksum cs;
        txn_error e;
        txn_error_clear(&e);
        if (txn_raw_checksum(r->c->o.txn, &q, 1, 0, &cs, &e) != BS_OK) {
            s = client_req_read_failed(r, &e, BS_SLICE_NULL);
            break;
        }
        r->total += cs.total_kvs;
        bs_buf_set(&r->cursor, phi.ptr, phi.len);
    }
    bs_buf_free(&plo);
    bs_buf_free(&phi);
    if (s == STEP_DONE && r->res.code == BS_OK)
        r->res.count = r->total;
    return s;
}

void client_count(client *c, uint32_t keyspace, client_done_fn done, void *arg)
{
    creq *r = client_req_new(c, CREQ_COUNT, attempt_count, done, arg);
    if (!keyspace_valid(r, keyspace))
        return;
    uint8_t lo[KV_PREFIX_LEN], hi[KV_PREFIX_LEN];
    kv_keyspace_range(KV_MODE_RAW, keyspace, lo, hi);
    r->keyspace = keyspace;
    client_req_set_range(r, bs_slice_make(lo, KV_PREFIX_LEN), bs_slice_make(hi, KV_PREFIX_LEN));
    client_req_run(r);
}
