/* txn_committer.c -- commits a client_txn: Percolator's two phases, or one when it can
 * (client-go's twoPhaseCommitter, cut to optimistic transactions without async commit).
 *
 *   build     one mutation per key, in key order: Put / Del for buffered writes; Lock for
 *             keys only read (serializable) or locked, when the txn writes anything; the
 *             watch check alone (TXN_OP_CHECK_NOT_MODIFIED) for keys only watched. The
 *             primary is the first key that leaves a lock (any key for a check-only txn).
 *   prewrite  every mutation, one request per Region part (txn_call.c), all parts at
 *             once; try_one_pc while the txn fits one part, in which case a successful
 *             prewrite IS the commit (at a ts the store picks above max_ts). Locks of other
 *             txns met on the way are resolved first. min_commit_ts = start_ts + 1, so a
 *             reader meeting our locks can push us above its start_ts instead of waiting.
 *   commit_ts from TSO; commit the primary. From that apply on the txn is committed:
 *             reply. CommitTsExpired (a reader pushed min_commit_ts past it) takes a
 *             fresh commit_ts and commits again.
 *   background commit the secondaries (their locks are already committed logically: a
 *             reader meeting one resolves it from the primary). Failures are logged only.
 *   rollback  after any failure before the primary committed, every key that may hold our
 *             lock is rolled back before the reply (so a caller re-running the txn does not
 *             trip over our own locks); not after an unknown outcome, which only the
 *             primary can settle, nor after a one-phase attempt refused (it wrote nothing).
 *
 * Lock TTL (client-go's txnLockTTL): the configured TTL, raised for big transactions to
 * 6000 ms * sqrt(size in MiB) up to 20 s, plus the time since start_ts. A resolver judges
 * a lock expired by start_ts's physical time + TTL, so without the elapsed part a
 * transaction that spent longer than the TTL between its start_ts and its prewrite (a
 * slow EXEC, backoff on region errors) would leave locks that are expired at birth.
 *
 * Errors: a WriteConflict with reason Watch -> CLIENT_TXN_ERR_WATCH (wins over any other
 * error, since it decides EXEC's nil); other WriteConflicts and a primary whose lock was
 * rolled back by a resolver (TxnLockNotFound) -> CLIENT_TXN_ERR_CONFLICT; a dropped
 * one-phase prewrite or a primary commit that kept failing -> CLIENT_TXN_ERR_UNKNOWN;
 * anything else -> CLIENT_TXN_ERR_FAILED. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "client/client_int.h"
#include "common/clock.h"
#include "common/assert.h"
#include "common/log.h"

typedef struct committer {
    client_txns *t;
    client_txn *txn;       /* until done is called; NULL after */
    uint64_t start_ts, commit_ts;
    bool one_pc;           /* options: may commit in one phase */
    bs_buf *locking;       /* keys that leave a lock (API v2), sorted; [0] is the primary */
    size_t n_locking;
    bs_buf primary;
    int rounds;            /* commit_ts taken so far; Invariant: <= CLIENT_TXN_COMMIT_ROUNDS */
    client_txn_result res; /* the answer being prepared */
    client_txn_commit_fn done;
    void *arg;
} committer;

static void committer_free(committer *cm)
{
    client_txns *t = cm->t;
    for (size_t i = 0; i < cm->n_locking; i++)
        bs_buf_free(&cm->locking[i]);
    bs_free(cm->locking);
    bs_buf_free(&cm->primary);
    bs_free(cm);
    client_txns_release(t); /* last touch of t */
}

static void set_result(committer *cm, client_txn_error error, int code, const char *msg)
{
    BS_ASSERT((error == CLIENT_TXN_OK) == (code == BS_OK));
    cm->res.error = error;
    cm->res.code = code;
    snprintf(cm->res.msg, sizeof(cm->res.msg), "%s", code == BS_OK || !msg ? "" : msg);
}

/* Delivers cm->res; the handle is not touched afterwards (its owner may free it). */
static void reply(committer *cm)
{
    client_txns *t = cm->t;
    switch (cm->res.error) {
    case CLIENT_TXN_OK:
        atomic_fetch_add(&t->committed, 1);
        if (cm->res.one_pc)
            atomic_fetch_add(&t->one_pc, 1);
        break;
    case CLIENT_TXN_ERR_CONFLICT:
        atomic_fetch_add(&t->conflicts, 1);
        break;
    case CLIENT_TXN_ERR_WATCH:
        atomic_fetch_add(&t->watch_failures, 1);
        break;
    case CLIENT_TXN_ERR_UNKNOWN:
    case CLIENT_TXN_ERR_FAILED:
        atomic_fetch_add(&t->failures, 1);
        break;
    }
    client_txn *txn = cm->txn;
    cm->txn = NULL;
    BS_ASSERT(txn->state == CLIENT_TXN_COMMITTING);
    txn->state = CLIENT_TXN_DONE;
    client_txn_call_end(txn);
    cm->done(cm->arg, &cm->res);
}

/* ---- rollback -------------------------------------------------------------------------------- */

static client_tcall_key *keys_of(bs_buf *v, size_t n)
{
    client_tcall_key *k = client_tcall_keys_new(n);
    for (size_t i = 0; i < n; i++)
        client_tcall_key_set(&k[i], bs_buf_slice(&v[i]));
    return k;
}

static void on_rolled_back(void *arg, const client_tcall_out *out)
{
    committer *cm = arg;
    if (out->code != BS_OK || out->n_errors)
        /* The locks stay until a reader resolves them after their TTL. */
        BS_LOG_WARN("txn rollback failed", "start_ts=%llu err=\"%s\"",
                    (unsigned long long)cm->start_ts,
                    out->code != BS_OK ? out->msg : out->errors[0].msg);
    reply(cm);
    committer_free(cm);
}

/* Fails the commit: rolls back every key that may hold our lock, then replies. */
static void fail(committer *cm, client_txn_error error, int code, const char *msg,
                 bool rollback)
{
    set_result(cm, error, code, msg);
    if (!rollback || cm->n_locking == 0) {
        reply(cm);
        committer_free(cm);
        return;
    }
    client_tcall_params p;
    memset(&p, 0, sizeof(p));
    p.kind = CLIENT_TCALL_ROLLBACK;
    p.start_ts = cm->start_ts;
    client_tcall_start(cm->t, &p, keys_of(cm->locking, cm->n_locking), cm->n_locking,
                       on_rolled_back, cm);
}

/* ---- commit ---------------------------------------------------------------------------------- */

static void on_secondaries(void *arg, const client_tcall_out *out)
{
    committer *cm = arg;
    if (out->code != BS_OK || out->n_errors)
        BS_LOG_WARN("txn secondaries not committed", "start_ts=%llu commit_ts=%llu err=\"%s\"",
                    (unsigned long long)cm->start_ts, (unsigned long long)cm->commit_ts,
                    out->code != BS_OK ? out->msg : out->errors[0].msg);
    committer_free(cm);
}

static void on_commit_ts(void *arg, int code, uint64_t ts);

static void on_primary(void *arg, const client_tcall_out *out)
{
    committer *cm = arg;
    if (out->code != BS_OK) {
        /* Retried until the budget ran out or a final error: an attempt may still have
         * applied, so only the primary can tell. Its lock settles it for readers. */
        char msg[BS_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "commit of the primary: %.200s", out->msg);
        fail(cm, CLIENT_TXN_ERR_UNKNOWN, out->code, msg, false);
        return;
    }
    if (out->n_errors) {
        const txn_key_error *e = &out->errors[0];
        if (e->kind == TXN_KEY_ERR_COMMIT_TS_EXPIRED && cm->rounds < CLIENT_TXN_COMMIT_ROUNDS) {
            /* min_commit_ts was pushed to max(reader's start_ts + 1, its current_ts), both
             * from TSO: a fresh ts is at or above it unless pushed again meanwhile. */
            atomic_fetch_add(&cm->t->commit_ts_renewed, 1);
            client_tso_request(cm->t, on_commit_ts, cm);
            return;
        }
        if (e->kind == TXN_KEY_ERR_TXN_LOCK_NOT_FOUND) {
            fail(cm, CLIENT_TXN_ERR_CONFLICT, BS_ESTATE,
                 "transaction was rolled back by a lock resolver", true);
            return;
        }
        fail(cm, CLIENT_TXN_ERR_FAILED, BS_ESTATE, e->msg, true);
        return;
    }
    set_result(cm, CLIENT_TXN_OK, BS_OK, NULL);
    cm->res.commit_ts = cm->commit_ts;
    reply(cm);
    if (cm->n_locking == 1) {
        committer_free(cm);
        return;
    }
    client_tcall_params p;
    memset(&p, 0, sizeof(p));
    p.kind = CLIENT_TCALL_COMMIT;
    p.start_ts = cm->start_ts;
    p.commit_ts = cm->commit_ts;
    client_tcall_start(cm->t, &p, keys_of(cm->locking + 1, cm->n_locking - 1),
                       cm->n_locking - 1, on_secondaries, cm);
}

static void on_commit_ts(void *arg, int code, uint64_t ts)
{
    committer *cm = arg;
    if (code != BS_OK) {
        fail(cm, CLIENT_TXN_ERR_FAILED, code, "no commit ts from TSO", true);
        return;
    }
    BS_ASSERT(ts > cm->start_ts && ts > cm->commit_ts); /* TSO only goes up */
    cm->rounds++;
    BS_ASSERT(cm->rounds <= CLIENT_TXN_COMMIT_ROUNDS);
    cm->commit_ts = ts;
    client_tcall_params p;
    memset(&p, 0, sizeof(p));
    p.kind = CLIENT_TCALL_COMMIT;
    p.start_ts = cm->start_ts;
    p.commit_ts = ts;
    client_tcall_start(cm->t, &p, keys_of(cm->locking, 1), 1, on_primary, cm);
}

/* ---- prewrite -------------------------------------------------------------------------------- */

static void on_prewritten(void *arg, const client_tcall_out *out)
{
    committer *cm = arg;
    /* A one-phase attempt (the only part) that reported key errors wrote nothing;
     * otherwise any part may have left locks, also one that reported key errors after an
     * earlier attempt of it was dropped but applied. */
    bool rollback = !(out->one_pc_tried && out->code == BS_OK);
    if (out->code != BS_OK) {
        if (out->unknown)
            fail(cm, CLIENT_TXN_ERR_UNKNOWN, out->code, out->msg, false);
        else
            fail(cm, CLIENT_TXN_ERR_FAILED, out->code, out->msg, rollback);
        return;
    }
    if (out->n_errors) {
        const txn_key_error *conflict = NULL, *watch = NULL;
        for (size_t i = 0; i < out->n_errors; i++) {
            const txn_key_error *e = &out->errors[i];
            if (e->kind != TXN_KEY_ERR_WRITE_CONFLICT)
                continue;
            if (e->reason == TXN_CONFLICT_WATCH && !watch)
                watch = e;
            else if (!conflict)
                conflict = e;
        }
        if (watch)
            fail(cm, CLIENT_TXN_ERR_WATCH, BS_ESTATE, "a watched key was modified", rollback);
        else if (conflict)
            fail(cm, CLIENT_TXN_ERR_CONFLICT, BS_ESTATE, conflict->msg[0] ? conflict->msg :
                 "write conflict", rollback);
        else
            fail(cm, CLIENT_TXN_ERR_FAILED, BS_ESTATE, out->errors[0].msg, rollback);
        return;
    }
    if (out->one_pc_commit_ts) {
        BS_ASSERT(out->one_pc_commit_ts > cm->start_ts);
        set_result(cm, CLIENT_TXN_OK, BS_OK, NULL);
        cm->res.commit_ts = out->one_pc_commit_ts;
        cm->res.one_pc = true;
        reply(cm);
        committer_free(cm);
        return;
    }
    if (cm->n_locking == 0) { /* only watch checks, and they held */
        set_result(cm, CLIENT_TXN_OK, BS_OK, NULL);
        reply(cm);
        committer_free(cm);
        return;
    }
    client_tso_request(cm->t, on_commit_ts, cm);
}

#define TTL_SIZE_FROM ((size_t)16 << 10) /* below: the configured TTL */
#define TTL_FACTOR_MS 6000.0
#define TTL_SCALED_MAX_MS 20000u

static uint64_t lock_ttl_of(const client_txns *t, const client_txn *txn)
{
    size_t bytes = 0;
    for (size_t i = 0; i < txn->n; i++)
        bytes += txn->v[i].key.len + txn->v[i].value.len;
    uint64_t ttl = t->o.lock_ttl_ms;
    if (bytes >= TTL_SIZE_FROM) {
        double scaled = TTL_FACTOR_MS * sqrt((double)bytes / (1024.0 * 1024.0));
        uint64_t s = scaled > TTL_SCALED_MAX_MS ? TTL_SCALED_MAX_MS : (uint64_t)scaled;
        if (s > ttl)
            ttl = s;
    }
    int64_t elapsed = bs_clock_wall_ms() - pd_ts_physical(txn->start_ts);
    if (elapsed > 0)
        ttl += (uint64_t)elapsed;
    return ttl;
}

/* The mutations of txn (sorted by key) into keys; the locking keys into cm. Returns n. */
static size_t build(committer *cm, client_txn *txn, client_tcall_key **out)
{
    bool writes = false;
    for (size_t i = 0; i < txn->n && !writes; i++)
        writes = txn->v[i].w != CLIENT_TXN_W_NONE;
    client_tcall_key *keys = client_tcall_keys_new(txn->n);
    cm->locking = bs_calloc(txn->n ? txn->n : 1, sizeof(bs_buf));
    size_t n = 0;
    for (size_t i = 0; i < txn->n; i++) {
        const client_txn_entry *e = &txn->v[i];
        txn_mutation m;
        memset(&m, 0, sizeof(m));
        if (e->w == CLIENT_TXN_W_PUT) {
            m.op = TXN_OP_PUT;
            m.expire_ms = e->expire_ms;
        } else if (e->w == CLIENT_TXN_W_DEL) {
            m.op = TXN_OP_DEL;
        } else if (e->read && writes) {
            m.op = TXN_OP_LOCK;
        } else if (e->watch) {
            m.op = TXN_OP_CHECK_NOT_MODIFIED;
        } else {
            continue; /* read by a txn that writes nothing: its snapshot was enough */
        }
        m.watch = e->watch;
        m.watch_ts = e->watch_ts;
        m.watch_live = e->watch_live;
        client_tcall_key_set(&keys[n], bs_buf_slice(&e->key));
        if (m.op == TXN_OP_PUT)
            bs_buf_set(&keys[n].value, e->value.ptr, e->value.len);
        keys[n].m = m;
        if (m.op != TXN_OP_CHECK_NOT_MODIFIED) {
            bs_buf_init(&cm->locking[cm->n_locking]);
            bs_buf_append_slice(&cm->locking[cm->n_locking++], bs_buf_slice(&e->key));
        }
        n++;
    }
    *out = keys;
    return n;
}

void client_txn_commit(client_txn *txn, client_txn_commit_fn done, void *arg)
{
    client_txn_result res;
    memset(&res, 0, sizeof(res));
    const char *msg;
    int rc = client_txn_call_begin(txn, &msg);
    if (rc == BS_OK && !client_txns_hold(txn->t)) {
        client_txn_call_end(txn);
        rc = BS_EPROPOSAL_DROPPED;
        msg = "client closed";
    }
    if (rc != BS_OK) {
        res.code = rc;
        res.error = CLIENT_TXN_ERR_FAILED;
        snprintf(res.msg, sizeof(res.msg), "%s", msg);
        done(arg, &res);
        return;
    }
    txn->state = CLIENT_TXN_COMMITTING;
    committer *cm = bs_calloc(1, sizeof(*cm));
    cm->t = txn->t;
    cm->txn = txn;
    cm->start_ts = txn->start_ts;
    cm->one_pc = txn->t->o.one_pc;
    cm->done = done;
    cm->arg = arg;
    bs_buf_init(&cm->primary);
    client_tcall_key *keys = NULL;
    size_t n = build(cm, txn, &keys);
    if (n == 0) { /* nothing to write or check */
        client_tcall_keys_free(keys, txn->n);
        set_result(cm, CLIENT_TXN_OK, BS_OK, NULL);
        reply(cm);
        committer_free(cm);
        return;
    }
    /* Entries beyond n were never filled: free them with the rest. */
    for (size_t i = n; i < txn->n; i++) {
        bs_buf_free(&keys[i].key);
        bs_buf_free(&keys[i].rk);
        bs_buf_free(&keys[i].value);
    }
    bs_slice primary = cm->n_locking ? bs_buf_slice(&cm->locking[0]) : bs_buf_slice(&keys[0].key);
    bs_buf_append_slice(&cm->primary, primary);
    client_tcall_params p;
    memset(&p, 0, sizeof(p));
    p.kind = CLIENT_TCALL_PREWRITE;
    p.primary = bs_buf_slice(&cm->primary);
    p.start_ts = cm->start_ts;
    p.lock_ttl = lock_ttl_of(txn->t, txn);
    p.txn_size = n;
    p.min_commit_ts = cm->start_ts + 1;
    p.try_one_pc = cm->one_pc && cm->n_locking > 0;
    client_tcall_start(cm->t, &p, keys, n, on_prewritten, cm);
}
