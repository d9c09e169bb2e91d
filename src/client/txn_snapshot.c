/* txn_snapshot.c -- reads at a timestamp: a txn's GET / MGET / SCAN at its start_ts,
 * overlaid with its buffered writes, and WATCH's read of a key's newest version at a
 * fresh TSO ts (client-go's KVSnapshot).
 *
 * Each read is a creq, so locating Regions, lease or ReadIndex checks and retries are
 * request.c's, as for raw reads. The store's txn_kv_* reads at read_ts raise max_ts first
 * (so no write can later commit at or below read_ts unseen) and report the locks that may
 * hide a version at or below it. Those go to the lock resolver as a reader: committed ->
 * rolled forward, dead -> rolled back, alive -> pushed above read_ts and skipped from then
 * on (the txn's resolved list), or waited for with backoff when it cannot be pushed; then
 * the read runs again.
 *
 * Reads of a serializable txn record the keys they read from the store (txn_buffer.c), so
 * the commit can lock them. A scan of a part (one Region's share of the range) asks the
 * store for as many keys as are still wanted plus the buffered deletes in the part (each
 * hides at most one stored key), so merging never runs short before the part's last
 * stored key; the cursor then resumes right after that key. */
#include <string.h>

#include "client/client_int.h"
#include "common/assert.h"
#include "common/clock.h"

typedef struct tread {
    client_txns *t;
    client_txn *txn;          /* NULL for a WATCH read */
    uint64_t read_ts;
    uint64_t *resolved;       /* WATCH reads: txns pushed above read_ts */
    size_t n_resolved;
    client_done_fn done;      /* txn reads */
    client_watch_fn wdone;    /* WATCH reads */
    void *arg;
    client_watch w;           /* WATCH: what the read found */
    uint32_t keyspace;        /* WATCH: the key until the read starts */
    bs_buf user;
} tread;

static txn_read_opts read_opts(const tread *op)
{
    txn_read_opts o;
    memset(&o, 0, sizeof(o));
    o.read_ts = op->read_ts;
    o.resolved_locks = op->txn ? op->txn->resolved : op->resolved;
    o.n_resolved = op->txn ? op->txn->n_resolved : op->n_resolved;
    return o;
}

/* The creq of a read finished (any thread): hand the result on, then end the hold. */
static void read_finished(void *arg, client_result *res)
{
    tread *op = arg;
    client_txns *t = op->t;
    if (op->txn) {
        client_txn_call_end(op->txn); /* the callback may make the next call */
        op->done(op->arg, res);
    } else {
        int code = res->code == BS_NOTFOUND ? BS_OK : res->code; /* absent is an answer */
        op->wdone(op->arg, code, code == BS_OK ? &op->w : NULL, res->msg);
    }
    bs_free(op->resolved);
    bs_buf_free(&op->user);
    bs_free(op);
    client_txns_release(t);
}

/* Fails a call before it started, through a creq as every client answer goes. */
static void reject(client *c, client_done_fn done, void *arg, int code, const char *msg)
{
    creq *r = client_req_new(c, CREQ_TXN, NULL, done, arg);
    client_req_reject(r, code, code == BS_EINVAL ? TXN_ERR_INVALID_ARGUMENT : TXN_ERR_NONE, msg);
}

/* Starts a txn read: validation, the call mark and the hold. NULL after rejecting. */
static tread *read_start(client_txn *txn, uint32_t keyspace, client_done_fn done, void *arg)
{
    client *c = txn->t->c;
    const char *msg;
    if (keyspace > CLIENT_KEYSPACE_MAX) {
        reject(c, done, arg, BS_EINVAL, "keyspace id out of range");
        return NULL;
    }
    int rc = client_txn_call_begin(txn, &msg);
    if (rc != BS_OK) {
        reject(c, done, arg, rc, msg);
        return NULL;
    }
    if (!client_txns_hold(txn->t)) {
        client_txn_call_end(txn);
        reject(c, done, arg, BS_EPROPOSAL_DROPPED, "client closed");
        return NULL;
    }
    tread *op = bs_calloc(1, sizeof(*op));
    op->t = txn->t;
    op->txn = txn;
    op->read_ts = txn->start_ts;
    op->done = done;
    op->arg = arg;
    bs_buf_init(&op->user);
    return op;
}

/* ---- locks met by a read --------------------------------------------------------------------- */

static void on_read_resolved(void *arg, int code, const char *msg, bool wait,
                             const uint64_t *pushed, size_t n_pushed)
{
    creq *r = arg;
    tread *op = r->arg;
    if (code != BS_OK) {
        (void)client_req_fail(r, code, TXN_ERR_NONE, msg);
        client_req_finish(r);
        return;
    }
    for (size_t i = 0; i < n_pushed; i++) {
        if (op->txn) {
            client_txn_add_resolved(op->txn, pushed[i]);
        } else {
            op->resolved = bs_realloc(op->resolved, (op->n_resolved + 1) * sizeof(uint64_t));
            op->resolved[op->n_resolved++] = pushed[i];
        }
    }
    if (wait) {
        client_req_note(r, BS_EBUSY, TXN_ERR_NONE, "key is locked by a running transaction");
        client_req_retry_later(r);
    } else {
        (void)client_worker_post(r->c, r, 0, false);
    }
}

/* Hands locks[0..n) to the resolver; r belongs to it from then on. */
static creq_step resolve_locks(creq *r, const txn_lock_info *locks, size_t n)
{
    tread *op = r->arg;
    client_resolve_locks(op->t, locks, n, op->read_ts, on_read_resolved, r);
    return STEP_ASYNC;
}

/* The same for the locks of pairs (those with has_error). */
static creq_step resolve_pairs(creq *r, const txn_kv_pairs *pairs)
{
    size_t n = 0;
    txn_lock_info *locks = bs_calloc(pairs->n, sizeof(txn_lock_info));
    for (size_t i = 0; i < pairs->n; i++)
        if (pairs->v[i].has_error) {
            BS_ASSERT(pairs->v[i].error.kind == TXN_KEY_ERR_LOCKED);
            txn_lock_info_init(&locks[n]);
            txn_lock_info_copy(&locks[n++], &pairs->v[i].error.lock);
        }
    creq_step s = resolve_locks(r, locks, n);
    for (size_t i = 0; i < n; i++)
        txn_lock_info_deinit(&locks[i]);
    bs_free(locks);
    return s;
}

static bool any_locked(const txn_kv_pairs *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].has_error)
            return true;
    return false;
}

/* ---- GET, WATCH ------------------------------------------------------------------------------ */

static creq_step attempt_get(creq *r)
{
    tread *op = r->arg;
    creq_step s;
    bs_slice key = bs_buf_slice(&r->keys[0]), rk = bs_buf_slice(&r->rkeys[0]);
    bool live;
    client_txn_entry *e = op->txn ? client_txn_find(op->txn, key) : NULL;
    if (e && client_txn_entry_answers(e, (uint64_t)bs_clock_wall_ms(), &live)) {
        r->res.code = live ? BS_OK : BS_NOTFOUND;
        if (live) {
            bs_buf_set(&r->res.value, e->value.ptr, e->value.len);
            r->res.expire_ms = e->expire_ms;
        }
        return STEP_DONE;
    }
    if (!client_req_locate(r, rk, false, &s) || !client_req_readable(r, rk, &s))
        return s;
    txn_read_opts o = read_opts(op);
    txn_kv_pair got;
    txn_error err;
    txn_kv_pair_init(&got);
    txn_error_clear(&err);
    int rc = txn_kv_get(r->c->o.txn, key, &o, &got, &err);
    if (rc == BS_OK && got.has_error) {
        BS_ASSERT(got.error.kind == TXN_KEY_ERR_LOCKED);
        s = resolve_locks(r, &got.error.lock, 1);
    } else if (rc == BS_OK || rc == BS_NOTFOUND) {
        op->w.ts = got.commit_ts; /* the newest version's, also when absent */
        op->w.live = rc == BS_OK;
        r->res.code = rc;
        if (rc == BS_OK) {
            r->res.value = got.value;
            got.value = (bs_buf)BS_BUF_INIT;
            r->res.expire_ms = got.expire_ms;
        }
        if (op->txn)
            client_txn_note_read(op->txn, key);
        s = STEP_DONE;
    } else {
        s = client_req_read_failed(r, &err, key);
    }
    txn_kv_pair_deinit(&got);
    return s;
}

void client_txn_get(client_txn *txn, uint32_t keyspace, bs_slice key, client_done_fn done,
                    void *arg)
{
    tread *op = read_start(txn, keyspace, done, arg);
    if (!op)
        return;
    creq *r = client_req_new(txn->t->c, CREQ_TXN, attempt_get, read_finished, op);
    client_req_set_keys(r, keyspace, &key, 1);
    client_req_run(r);
}

static void on_watch_ts(void *arg, int code, uint64_t ts)
{
    tread *op = arg;
    if (code != BS_OK) {
        client_txns *t = op->t;
        op->wdone(op->arg, code, NULL, "no read ts from TSO");
        bs_buf_free(&op->user);
        bs_free(op);
        client_txns_release(t);
        return;
    }
    op->read_ts = ts;
    creq *r = client_req_new(op->t->c, CREQ_TXN, attempt_get, read_finished, op);
    bs_slice user = bs_buf_slice(&op->user);
    client_req_set_keys(r, op->keyspace, &user, 1);
    client_req_run(r);
}

void client_watch_get(client_txns *t, uint32_t keyspace, bs_slice key, client_watch_fn done,
                      void *arg)
{
    if (keyspace > CLIENT_KEYSPACE_MAX) {
        done(arg, BS_EINVAL, NULL, "keyspace id out of range");
        return;
    }
    if (!client_txns_hold(t)) {
        done(arg, BS_EPROPOSAL_DROPPED, NULL, "client closed");
        return;
    }
    tread *op = bs_calloc(1, sizeof(*op));
    op->t = t;
    op->wdone = done;
    op->arg = arg;
    op->keyspace = keyspace;
    bs_buf_init(&op->user);
    bs_buf_append_slice(&op->user, key);
    client_tso_request(t, on_watch_ts, op);
}

/* ---- MGET ---------------------------------------------------------------------------------- */

/* Region by Region over the keys not answered yet (those the buffer answers were settled
 * at the start), as read.c's MGET; a Region's keys are read again after a lock. */
static creq_step attempt_batch_get(creq *r)
{
    tread *op = r->arg;
    creq_step s;
    bs_slice *keys;
    size_t *idx, m;
    while (client_req_next_part(r, &keys, &idx, &m, &s)) {
        txn_read_opts o = read_opts(op);
        txn_kv_pairs got;
        txn_error err;
        txn_kv_pairs_init(&got);
        txn_error_clear(&err);
        int rc = txn_kv_batch_get(r->c->o.txn, keys, m, &o, &got, &err);
        bool locked = rc == BS_OK && any_locked(&got);
        if (rc == BS_OK && !locked) {
            /* got holds the live keys in the order asked: match them up in one pass. */
            size_t k = 0;
            for (size_t j = 0; j < m; j++) {
                size_t i = idx[j];
                r->resolved[i] = true;
                client_txn_note_read(op->txn, keys[j]);
                if (k < got.n && bs_slice_eq(bs_buf_slice(&got.v[k].key), keys[j])) {
                    r->found[i] = true;
                    r->vals[i] = got.v[k].value;
                    got.v[k].value = (bs_buf)BS_BUF_INIT;
                    k++;
                }
            }
            BS_ASSERT(k == got.n);
        } else if (locked) {
            s = resolve_pairs(r, &got);
        } else {
            s = client_req_read_failed(r, &err, m == 1 ? keys[0] : BS_SLICE_NULL);
        }
        txn_kv_pairs_free(&got);
        bs_free(keys);
        bs_free(idx);
        if (rc != BS_OK || locked)
            return s;
    }
    if (s == STEP_DONE) /* every key resolved */
        client_req_take_found(r);
    return s;
}

void client_txn_batch_get(client_txn *txn, uint32_t keyspace, const bs_slice *keys, size_t n,
                          client_done_fn done, void *arg)
{
    tread *op = read_start(txn, keyspace, done, arg);
    if (!op)
        return;
    creq *r = client_req_new(txn->t->c, CREQ_TXN, attempt_batch_get, read_finished, op);
    client_req_set_keys(r, keyspace, keys, n);
    r->resolved = bs_calloc(n ? n : 1, sizeof(bool));
    r->found = bs_calloc(n ? n : 1, sizeof(bool));
    r->vals = bs_calloc(n ? n : 1, sizeof(bs_buf));
    uint64_t now = (uint64_t)bs_clock_wall_ms();
    for (size_t i = 0; i < n; i++) {
        client_txn_entry *e = client_txn_find(txn, bs_buf_slice(&r->keys[i]));
        bool live;
        if (e && client_txn_entry_answers(e, now, &live)) {
            r->resolved[i] = true;
            r->found[i] = live;
            if (live)
                bs_buf_set(&r->vals[i], e->value.ptr, e->value.len);
        }
    }
    client_req_run(r);
}

/* ---- SCAN ----------------------------------------------------------------------------------- */

static bool range_more(const creq *r)
{
    return r->reverse ? bs_slice_cmp(bs_buf_slice(&r->cursor), bs_buf_slice(&r->lo)) > 0
                      : bs_slice_cmp(bs_buf_slice(&r->cursor), bs_buf_slice(&r->hi)) < 0;
}

static void emit(creq *r, bs_slice key, bs_slice value)
{
    txn_pairs *p = &r->res.pairs;
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 8;
        p->v = bs_realloc(p->v, p->cap * sizeof(txn_pair));
    }
    txn_pair *x = &p->v[p->n++];
    x->key = (bs_buf)BS_BUF_INIT;
    x->value = (bs_buf)BS_BUF_INIT;
    bs_buf_append_slice(&x->key, key);
    if (!r->key_only)
        bs_buf_append_slice(&x->value, value);
}

/* Merges the stored pairs of one part (in scan order) with the buffered entries
 * txn->v[b_lo, b_hi) of the same stretch, emitting up to the limit. The stored keys
 * emitted are recorded as read afterwards (recording may insert into txn->v). */
static void merge(creq *r, tread *op, txn_kv_pairs *got, size_t b_lo, size_t b_hi,
                  uint64_t now)
{
    client_txn *txn = op->txn;
    bool *read = bs_calloc(got->n ? got->n : 1, sizeof(bool));
    size_t i = 0, left = b_hi - b_lo; /* buffered entries not merged yet */
    while ((i < got->n || left > 0) && r->res.pairs.n < r->limit) {
        size_t j = r->reverse ? b_lo + left - 1 : b_hi - left;
        int c;
        if (i == got->n)
            c = 1; /* only buffered entries remain */
        else if (left == 0)
            c = -1;
        else {
            c = bs_slice_cmp(bs_buf_slice(&got->v[i].key), bs_buf_slice(&txn->v[j].key));
            if (r->reverse)
                c = -c; /* in scan order */
        }
        bool live = false;
        const client_txn_entry *e = c >= 0 ? &txn->v[j] : NULL;
        bool answers = e && client_txn_entry_answers(e, now, &live);
        if (answers && live)
            emit(r, bs_buf_slice(&e->key), bs_buf_slice(&e->value));
        if (c <= 0 && !answers) {
            emit(r, bs_buf_slice(&got->v[i].key), bs_buf_slice(&got->v[i].value));
            read[i] = true;
        }
        if (c <= 0)
            i++;
        if (c >= 0)
            left--;
    }
    for (i = 0; i < got->n; i++)
        if (read[i])
            client_txn_note_read(txn, bs_buf_slice(&got->v[i].key));
    bs_free(read);
}

static creq_step attempt_scan(creq *r)
{
    tread *op = r->arg;
    client_txn *txn = op->txn;
    if (!r->on_worker && r->limit > CLIENT_INLINE_SCAN_MAX)
        return STEP_WORKER;
    bs_buf plo = BS_BUF_INIT, phi = BS_BUF_INIT;
    creq_step s = STEP_DONE;
    bool last = false;
    uint64_t now = (uint64_t)bs_clock_wall_ms();
    while (range_more(r) && r->res.pairs.n < r->limit) {
        if (!client_range_part(r, &plo, &phi, &last, true, &s))
            break;
        size_t b_lo = client_txn_lower_bound(txn, bs_buf_slice(&plo));
        size_t b_hi = client_txn_lower_bound(txn, bs_buf_slice(&phi));
        uint64_t want = r->limit - r->res.pairs.n;
        for (size_t j = b_lo; j < b_hi; j++) {
            bool live;
            if (client_txn_entry_answers(&txn->v[j], now, &live) && !live)
                want++; /* a buffered delete may hide one stored key */
        }
        txn_kv_scan_req q;
        memset(&q, 0, sizeof(q));
        q.start = r->reverse ? bs_buf_slice(&phi) : bs_buf_slice(&plo);
        q.end = r->reverse ? bs_buf_slice(&plo) : bs_buf_slice(&phi);
        q.limit = want > UINT32_MAX ? UINT32_MAX : (uint32_t)want;
        q.key_only = r->key_only;
        q.reverse = r->reverse;
        q.read = read_opts(op);
        txn_kv_pairs got;
        txn_error err;
        txn_kv_pairs_init(&got);
        txn_error_clear(&err);
        if (txn_kv_scan(r->c->o.txn, &q, &got, &err) != BS_OK) {
            txn_kv_pairs_free(&got);
            s = client_req_read_failed(r, &err, BS_SLICE_NULL);
            break;
        }
        if (any_locked(&got)) {
            s = resolve_pairs(r, &got);
            txn_kv_pairs_free(&got);
            break;
        }
        /* A full answer may leave stored keys past its last one: the part is done only up
         * to that key, and so is the buffer's share merged now. */
        bool full = got.n == q.limit;
        bs_buf next = BS_BUF_INIT;
        if (full) {
            bs_slice lk = bs_buf_slice(&got.v[got.n - 1].key);
            size_t at = client_txn_lower_bound(txn, lk);
            if (r->reverse)
                b_lo = at; /* keys >= lk */
            else
                b_hi = at < txn->n && bs_slice_eq(bs_buf_slice(&txn->v[at].key), lk) ? at + 1 : at;
            bs_buf_append_slice(&next, lk);
            if (!r->reverse)
                bs_buf_append_byte(&next, 0); /* the first key after lk */
        } else {
            const bs_buf *edge = r->reverse ? &plo : &phi;
            bs_buf_set(&next, edge->ptr, edge->len);
        }
        merge(r, op, &got, b_lo, b_hi, now);
        bs_buf_set(&r->cursor, next.ptr, next.len);
        bs_buf_free(&next);
        txn_kv_pairs_free(&got);
    }
    bs_buf_free(&plo);
    bs_buf_free(&phi);
    if (s != STEP_DONE || r->res.code != BS_OK)
        return s;
    txn_pairs *p = &r->res.pairs;
    for (size_t i = 0; i < p->n; i++) { /* results carry user keys */
        bs_buf *k = &p->v[i].key;
        BS_ASSERT(k->len >= KV_PREFIX_LEN);
        memmove(k->ptr, k->ptr + KV_PREFIX_LEN, k->len - KV_PREFIX_LEN);
        k->len -= KV_PREFIX_LEN;
    }
    return STEP_DONE;
}

void client_txn_scan(client_txn *txn, const client_scan_req *req, client_done_fn done,
                     void *arg)
{
    if (req->limit == 0) {
        reject(txn->t->c, done, arg, BS_EINVAL, "scan limit must be > 0");
        return;
    }
    tread *op = read_start(txn, req->keyspace, done, arg);
    if (!op)
        return;
    creq *r = client_req_new(txn->t->c, CREQ_TXN, attempt_scan, read_finished, op);
    client_req_set_scan(r, req);
    client_req_run(r);
}
