/* txn_lock_resolver.c -- what a request does about the locks of other txns it met
 * (client-go's LockResolver, PROTOCOL.md §5.3).
 *
 * A lock's fate is decided by its txn's primary key. Per txn met (locks grouped by
 * start_ts), in turn:
 *   1. take current_ts from TSO;
 *   2. CheckTxnStatus on the primary with caller_start_ts (a reader's start_ts, so a live
 *      txn is pushed to commit above it; 0 for a writer, which cannot be helped that way)
 *      and rollback_if_not_exist once the lock's TTL has run out by current_ts (before,
 *      a missing primary lock may just be a prewrite still on its way);
 *   3. committed -> commit the met locks at its commit_ts; rolled back (or its TTL ran out,
 *      which CheckTxnStatus turns into a rollback) -> roll them back; alive -> pushed (the
 *      reader skips the locks of that start_ts) or, for a writer or a txn that cannot be
 *      pushed, "wait": the caller backs off and asks again later.
 * Only the keys met are resolved (ResolveLock with keys), Region by Region (txn_call.c).
 * Async-commit locks are never written by Basalt (prewrite answers min_commit_ts 0, so
 * TiKV clients fall back to 2PC), so CheckSecondaryLocks is not needed here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "common/assert.h"
#include "common/log.h"

typedef struct resolver {
    client_txns *t;
    uint64_t caller_start_ts;
    txn_lock_info *locks;  /* n, sorted by lock_version */
    size_t n;
    size_t i, end;         /* the txn at work: locks[i..end); Invariant: i <= end <= n */
    bool expired;          /* its lock's TTL ran out by current_ts */
    bool wait;
    uint64_t *pushed;
    size_t n_pushed;
    client_resolve_fn done;
    void *arg;
} resolver;

static int lock_cmp(const void *a, const void *b)
{
    const txn_lock_info *x = a, *y = b;
    if (x->lock_version != y->lock_version)
        return x->lock_version < y->lock_version ? -1 : 1;
    return bs_slice_cmp(bs_buf_slice(&x->key), bs_buf_slice(&y->key));
}

static void finish(resolver *rs, int code, const char *msg)
{
    rs->done(rs->arg, code, code == BS_OK ? "" : msg, rs->wait, rs->pushed, rs->n_pushed);
    for (size_t i = 0; i < rs->n; i++)
        txn_lock_info_deinit(&rs->locks[i]);
    bs_free(rs->locks);
    bs_free(rs->pushed);
    bs_free(rs);
}

static void next_txn(resolver *rs);

static void on_resolved(void *arg, const client_tcall_out *out)
{
    resolver *rs = arg;
    if (out->code != BS_OK) {
        finish(rs, out->code, out->msg);
        return;
    }
    if (out->n_errors) {
        /* The txn's fate is known; a key refusing it means the store disagrees. */
        char msg[BS_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "resolve lock: %.200s", out->errors[0].msg);
        finish(rs, BS_ESTATE, msg);
        return;
    }
    atomic_fetch_add(&rs->t->locks_resolved, rs->end - rs->i);
    rs->i = rs->end;
    next_txn(rs);
}

/* Commits (commit_ts > 0) or rolls back the met locks of the txn at work. */
static void resolve(resolver *rs, uint64_t commit_ts)
{
    size_t n = rs->end - rs->i;
    client_tcall_key *keys = client_tcall_keys_new(n);
    for (size_t j = 0; j < n; j++)
        client_tcall_key_set(&keys[j], bs_buf_slice(&rs->locks[rs->i + j].key));
    n = client_tcall_keys_sort(keys, n);
    client_tcall_params p;
    memset(&p, 0, sizeof(p));
    p.kind = CLIENT_TCALL_RESOLVE;
    p.start_ts = rs->locks[rs->i].lock_version;
    p.commit_ts = commit_ts;
    client_tcall_start(rs->t, &p, keys, n, on_resolved, rs);
}

static void on_status(void *arg, const client_tcall_out *out)
{
    resolver *rs = arg;
    const txn_lock_info *l = &rs->locks[rs->i];
    if (out->code != BS_OK) {
        finish(rs, out->code, out->msg);
        return;
    }
    if (out->n_errors) {
        if (out->errors[0].kind == TXN_KEY_ERR_TXN_NOT_FOUND) {
            /* No primary lock and no record yet: its prewrite may still be on its way
             * (after the TTL we would have asked for a rollback instead). */
            rs->wait = true;
            rs->i = rs->end;
            next_txn(rs);
            return;
        }
        char msg[BS_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "check txn status: %.200s", out->errors[0].msg);
        finish(rs, BS_ESTATE, msg);
        return;
    }
    if (out->commit_ts) {
        BS_ASSERT(out->commit_ts > l->lock_version);
        resolve(rs, out->commit_ts);
        return;
    }
    if (out->has_lock_info) { /* alive */
        if (rs->caller_start_ts && out->action == TXN_ACTION_MIN_COMMIT_TS_PUSHED) {
            rs->pushed = bs_realloc(rs->pushed, (rs->n_pushed + 1) * sizeof(uint64_t));
            rs->pushed[rs->n_pushed++] = l->lock_version;
        } else {
            rs->wait = true;
        }
        rs->i = rs->end;
        next_txn(rs);
        return;
    }
    resolve(rs, 0); /* rolled back, now or before */
}

static void on_current_ts(void *arg, int code, uint64_t ts)
{
    resolver *rs = arg;
    const txn_lock_info *l = &rs->locks[rs->i];
    if (code != BS_OK) {
        finish(rs, code, "lock resolver: no timestamp from TSO");
        return;
    }
    /* CheckTxnStatus's own expiry rule (TSO physical milliseconds). */
    rs->expired = (uint64_t)pd_ts_physical(l->lock_version) + l->lock_ttl <
                  (uint64_t)pd_ts_physical(ts);
    client_tcall_key *keys = client_tcall_keys_new(1);
    client_tcall_key_set(&keys[0], bs_buf_slice(&l->primary));
    client_tcall_params p;
    memset(&p, 0, sizeof(p));
    p.kind = CLIENT_TCALL_CHECK_STATUS;
    p.primary = bs_buf_slice(&l->primary);
    p.start_ts = l->lock_version;
    p.caller_start_ts = rs->caller_start_ts;
    p.current_ts = ts;
    p.rollback_if_not_exist = rs->expired;
    client_tcall_start(rs->t, &p, keys, 1, on_status, rs);
}

static void next_txn(resolver *rs)
{
    if (rs->i == rs->n) {
        finish(rs, BS_OK, NULL);
        return;
    }
    rs->end = rs->i + 1;
    while (rs->end < rs->n && rs->locks[rs->end].lock_version == rs->locks[rs->i].lock_version)
        rs->end++;
    client_tso_request(rs->t, on_current_ts, rs);
}

void client_resolve_locks(client_txns *t, const txn_lock_info *locks, size_t n,
                          uint64_t caller_start_ts, client_resolve_fn done, void *arg)
{
    BS_ASSERT(n >= 1);
    resolver *rs = bs_calloc(1, sizeof(*rs));
    rs->t = t;
    rs->caller_start_ts = caller_start_ts;
    rs->locks = bs_calloc(n, sizeof(txn_lock_info));
    for (size_t i = 0; i < n; i++) {
        txn_lock_info_init(&rs->locks[i]);
        txn_lock_info_copy(&rs->locks[i], &locks[i]);
    }
    rs->n = n;
    qsort(rs->locks, n, sizeof(txn_lock_info), lock_cmp);
    rs->done = done;
    rs->arg = arg;
    next_txn(rs);
}
