/* txn_buffer.c -- the client_txn handle: begin and free, and what the txn accumulates
 * before commit (client-go's memBuffer plus its read and watch sets, in one sorted array).
 *
 * One entry per key the txn touched, sorted by API v2 key (so region keys, which keep that
 * order, come out sorted for the committer and a scan can merge a key range): its buffered
 * write (put with value and expiry, or delete), whether it was read from the store (a
 * serializable txn prewrites such keys as Lock mutations) and its WATCH record. Nothing
 * here talks to the store. The handle is used by one caller at a time; call_begin/end
 * assert that at most one asynchronous call is in flight. */
#include <string.h>

#include "client/client_int.h"
#include "common/assert.h"
#include "common/clock.h"

/* ---- begin / free -------------------------------------------------------------------------- */

typedef struct begin_ctx {
    client_txns *t;
    client_txn_options o;
    client_txn_begin_fn done;
    void *arg;
} begin_ctx;

/* The TSO thread: registering here, before anyone can see the ts, keeps the GC safe point
 * below it (txn_client.c). */
static void on_start_ts(void *arg, int code, uint64_t ts)
{
    begin_ctx *b = arg;
    client_txns *t = b->t;
    if (code != BS_OK) {
        b->done(b->arg, code, NULL, "no start ts from TSO");
    } else {
        client_txn *txn = bs_calloc(1, sizeof(*txn));
        txn->t = t;
        txn->start_ts = ts;
        txn->o = b->o;
        txn->state = CLIENT_TXN_ACTIVE;
        atomic_init(&txn->in_call, false);
        client_txns_register(t, txn);
        atomic_fetch_add(&t->begun, 1);
        b->done(b->arg, BS_OK, txn, "");
    }
    bs_free(b);
    client_txns_release(t);
}

void client_txn_begin(client_txns *t, const client_txn_options *opts, client_txn_begin_fn done,
                      void *arg)
{
    if (!client_txns_hold(t)) {
        done(arg, BS_EPROPOSAL_DROPPED, NULL, "client closed");
        return;
    }
    begin_ctx *b = bs_calloc(1, sizeof(*b));
    b->t = t;
    if (opts)
        b->o = *opts;
    b->done = done;
    b->arg = arg;
    client_tso_request(t, on_start_ts, b);
}

uint64_t client_txn_start_ts(const client_txn *txn)
{
    return txn->start_ts;
}

void client_txn_free(client_txn *txn)
{
    if (!txn)
        return;
    /* A call in flight (or a commit before its callback) still uses the handle. */
    BS_ASSERT(!atomic_load(&txn->in_call) && txn->state != CLIENT_TXN_COMMITTING);
    client_txns_unregister(txn->t, txn);
    for (size_t i = 0; i < txn->n; i++) {
        bs_buf_free(&txn->v[i].key);
        bs_buf_free(&txn->v[i].value);
    }
    bs_free(txn->v);
    bs_free(txn->resolved);
    bs_free(txn);
}

/* ---- entries ------------------------------------------------------------------------------- */

size_t client_txn_lower_bound(const client_txn *txn, bs_slice key)
{
    size_t lo = 0, hi = txn->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (bs_slice_cmp(bs_buf_slice(&txn->v[mid].key), key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

client_txn_entry *client_txn_find(client_txn *txn, bs_slice key)
{
    size_t i = client_txn_lower_bound(txn, key);
    if (i < txn->n && bs_slice_eq(bs_buf_slice(&txn->v[i].key), key))
        return &txn->v[i];
    return NULL;
}

/* The entry of key, created (empty) when missing. Borrowed until the next insertion. */
static client_txn_entry *entry_get(client_txn *txn, bs_slice key)
{
    size_t i = client_txn_lower_bound(txn, key);
    if (i < txn->n && bs_slice_eq(bs_buf_slice(&txn->v[i].key), key))
        return &txn->v[i];
    if (txn->n == txn->cap) {
        txn->cap = txn->cap ? 2 * txn->cap : 8;
        txn->v = bs_realloc(txn->v, txn->cap * sizeof(client_txn_entry));
    }
    memmove(&txn->v[i + 1], &txn->v[i], (txn->n - i) * sizeof(client_txn_entry));
    client_txn_entry *e = &txn->v[i];
    memset(e, 0, sizeof(*e));
    bs_buf_init(&e->key);
    bs_buf_init(&e->value);
    bs_buf_append_slice(&e->key, key);
    txn->n++;
    BS_DASSERT(i == 0 || bs_slice_cmp(bs_buf_slice(&txn->v[i - 1].key), key) < 0);
    BS_DASSERT(i + 1 == txn->n || bs_slice_cmp(key, bs_buf_slice(&txn->v[i + 1].key)) < 0);
    return e;
}

bool client_txn_entry_answers(const client_txn_entry *e, uint64_t now_ms, bool *live)
{
    switch (e->w) {
    case CLIENT_TXN_W_NONE:
        return false;
    case CLIENT_TXN_W_PUT:
        *live = e->expire_ms == 0 || e->expire_ms > now_ms;
        return true;
    case CLIENT_TXN_W_DEL:
        *live = false;
        return true;
    }
    BS_UNREACHABLE();
}

void client_txn_note_read(client_txn *txn, bs_slice key)
{
    if (txn->o.serializable)
        entry_get(txn, key)->read = true;
}

void client_txn_add_resolved(client_txn *txn, uint64_t ts)
{
    for (size_t i = 0; i < txn->n_resolved; i++)
        if (txn->resolved[i] == ts)
            return;
    if (txn->n_resolved == txn->cap_resolved) {
        txn->cap_resolved = txn->cap_resolved ? 2 * txn->cap_resolved : 4;
        txn->resolved = bs_realloc(txn->resolved, txn->cap_resolved * sizeof(uint64_t));
    }
    txn->resolved[txn->n_resolved++] = ts;
}

int client_txn_call_begin(client_txn *txn, const char **msg)
{
    /* One call at a time: the callback of the previous one has returned control. */
    BS_ASSERT(!atomic_exchange(&txn->in_call, true));
    if (txn->state != CLIENT_TXN_ACTIVE) {
        atomic_store(&txn->in_call, false);
        *msg = "transaction is not active";
        return BS_ESTATE;
    }
    return BS_OK;
}

void client_txn_call_end(client_txn *txn)
{
    BS_ASSERT(atomic_exchange(&txn->in_call, false));
}

/* ---- buffered writes ------------------------------------------------------------------------ */

/* The API v2 key of a buffered op into *key, after checking txn and keyspace. */
static int prepare(client_txn *txn, uint32_t keyspace, bs_slice user, bs_buf *key, bs_err *err)
{
    BS_ASSERT(!atomic_load(&txn->in_call)); /* a read in flight may be updating the buffer */
    if (txn->state != CLIENT_TXN_ACTIVE)
        return bs_err_setf(err, BS_ESTATE, "transaction is not active");
    if (keyspace > CLIENT_KEYSPACE_MAX)
        return bs_err_setf(err, BS_EINVAL, "keyspace id out of range");
    client_raw_key(key, keyspace, user);
    return BS_OK;
}

int client_txn_put(client_txn *txn, uint32_t keyspace, bs_slice key, bs_slice value,
                   uint64_t expire_ms, bs_err *err)
{
    bs_buf k = BS_BUF_INIT;
    int rc = prepare(txn, keyspace, key, &k, err);
    if (rc == BS_OK) {
        client_txn_entry *e = entry_get(txn, bs_buf_slice(&k));
        e->w = CLIENT_TXN_W_PUT;
        bs_buf_set(&e->value, value.ptr, value.len);
        e->expire_ms = expire_ms;
    }
    bs_buf_free(&k);
    return rc;
}

int client_txn_delete(client_txn *txn, uint32_t keyspace, bs_slice key, bs_err *err)
{
    bs_buf k = BS_BUF_INIT;
    int rc = prepare(txn, keyspace, key, &k, err);
    if (rc == BS_OK) {
        client_txn_entry *e = entry_get(txn, bs_buf_slice(&k));
        e->w = CLIENT_TXN_W_DEL;
        bs_buf_free(&e->value);
        e->expire_ms = 0;
    }
    bs_buf_free(&k);
    return rc;
}

int client_txn_lock_key(client_txn *txn, uint32_t keyspace, bs_slice key, bs_err *err)
{
    bs_buf k = BS_BUF_INIT;
    int rc = prepare(txn, keyspace, key, &k, err);
    if (rc == BS_OK)
        entry_get(txn, bs_buf_slice(&k))->read = true;
    bs_buf_free(&k);
    return rc;
}

int client_txn_watch(client_txn *txn, uint32_t keyspace, bs_slice key, const client_watch *w,
                     bs_err *err)
{
    bs_buf k = BS_BUF_INIT;
    int rc = prepare(txn, keyspace, key, &k, err);
    if (rc == BS_OK) {
        client_txn_entry *e = entry_get(txn, bs_buf_slice(&k));
        if (!e->watch) { /* watching a key twice keeps the first record, as Redis does */
            e->watch = true;
            e->watch_ts = w->ts;
            e->watch_live = w->live;
        }
    }
    bs_buf_free(&k);
    return rc;
}
