/* txn_command.c -- the command layer around the Percolator actions: validation, latches,
 * waiting out pending raw writes, one snapshot, the action, the lock table and the proposer
 * (TiKV's src/storage/txn/scheduler.rs and commands/, cut down to what Basalt serves).
 *
 * Life of a command (pcmd):
 *   start    validate and copy the request; queue on the latches of its keys;
 *   wait     (latches held) one txn_cm_wait_key per key, in order: raw writes release
 *            their latches at proposal and stay in the lock table until applied, so only
 *            once every key's chain is empty does the engine hold every acknowledged write
 *            of the keys. No new record can join those chains while the latches are held;
 *   run      one snapshot, the action over each key, adding to one batch. A 1PC prewrite
 *            first links its keys (CHOOSING) and only then reads max_ts, so a reader either
 *            sees the record or has raised max_ts below the commit_ts it picks;
 *   propose  the data versions the batch writes at a ts readers may already use ('r'
 *            commits, 1PC) are linked in the lock table as pending writes; the batch goes to
 *            the proposer;
 *   done     the proposer reports the apply (or failure): records leave the table, the
 *            result is delivered, THEN the latches are released. Latches are held from the
 *            read to the apply, as TiKV's scheduler holds them, so the next command on a key
 *            always reads the previous one's effect.
 * A command that writes nothing (a key error, a retry, a read-only check) answers at once.
 * ResolveLock over a range repeats scan -> latch -> run -> apply per batch of keys.
 *
 * Our lock-table records always head their chains (the chains were empty and we hold the
 * latches), so nobody but the command unlinks them. Lifetime: refs counts the command
 * itself (dropped by the last round_done, after delivery and the latch release) and an
 * outstanding proposal. Latch wake-ups and wait completions re-enter through the
 * trampoline (txn_int.h), so queues of commands never recurse. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "txn/txn_int.h"

typedef enum pc_kind {
    PC_PREWRITE,
    PC_COMMIT,
    PC_ROLLBACK,
    PC_CLEANUP,
    PC_CHECK_TXN_STATUS,
    PC_CHECK_SECONDARY,
    PC_HEART_BEAT,
    PC_RESOLVE,
} pc_kind;

typedef struct pcmd {
    txn_store *s;
    pc_kind kind;
    /* The request, owned. keys are the latched keys: the mutation keys of a prewrite, the
     * single key of cleanup / check_txn_status / heart beat, a resolve batch's keys. */
    bs_buf *keys;
    size_t n;
    bs_buf *vals;        /* prewrite: per mutation */
    txn_mutation *muts;  /* prewrite: slices point into keys / vals */
    bs_buf primary;
    txn_prewrite_req pw; /* prewrite scalars; slices repointed */
    txn_check_txn_status_req cts;
    uint64_t start_ts, commit_ts, current_ts, advise_ttl;
    txn_resolve_txn *txns;
    size_t n_txns;
    bool resolve_range;  /* ResolveLock over [cursor, range_end) in batches */
    bs_buf cursor, range_end;
    uint64_t *lock_ts;   /* resolve_range: the txn of keys[i] */
    bool more;           /* resolve_range: the scan stopped at the batch limit */
    /* execution */
    txn_latch_lock latch;
    bool latch_inited;
    size_t wait_i;       /* Invariant: wait_i <= n */
    atomic_int wait_turn;
    bool one_pc;
    uint64_t one_pc_ts;
    txn_pending *recs;   /* lock-table records: 1PC pre-links one per mutation */
    size_t n_recs;
    txn_kv_result res;
    txn_kv_done_fn cb;
    void *cb_arg;
    atomic_int refs;
    atomic_bool delivered;
    txn_tramp tramp; /* latch wake-ups and wait completions (txn_int.h) */
} pcmd;

/* ---- results ------------------------------------------------------------------------------ */

static void result_init(txn_kv_result *r)
{
    memset(r, 0, sizeof(*r));
    txn_error_clear(&r->error);
    txn_lock_info_init(&r->lock_info);
    txn_lock_infos_init(&r->locks);
}

static void result_clear_errors(txn_kv_result *r)
{
    for (size_t i = 0; i < r->n_errors; i++)
        txn_key_error_deinit(&r->errors[i]);
    r->n_errors = 0;
}

static void result_deinit(txn_kv_result *r)
{
    result_clear_errors(r);
    bs_free(r->errors);
    txn_lock_info_deinit(&r->lock_info);
    txn_lock_infos_free(&r->locks);
}

/* Moves *ke into the result's errors. */
static void result_push_error(txn_kv_result *r, txn_key_error *ke)
{
    r->errors = bs_realloc(r->errors, (r->n_errors + 1) * sizeof(*r->errors));
    r->errors[r->n_errors++] = *ke;
    txn_key_error_init(ke);
}

/* ---- command objects ------------------------------------------------------------------- */

static pcmd *pc_new(txn_store *s, pc_kind kind, size_t n, txn_kv_done_fn cb, void *arg)
{
    pcmd *c = bs_calloc(1, sizeof(*c));
    c->s = s;
    c->kind = kind;
    c->n = n;
    c->keys = bs_calloc(n ? n : 1, sizeof(bs_buf));
    c->cb = cb;
    c->cb_arg = arg;
    result_init(&c->res);
    atomic_init(&c->refs, 1);
    atomic_init(&c->delivered, false);
    atomic_init(&c->wait_turn, 0);
    return c;
}

static void free_keys(pcmd *c)
{
    for (size_t i = 0; i < c->n; i++)
        bs_buf_free(&c->keys[i]);
    bs_free(c->keys);
    c->keys = NULL;
    bs_free(c->lock_ts);
    c->lock_ts = NULL;
}

static void free_recs(pcmd *c)
{
    for (size_t i = 0; i < c->n_recs; i++) {
        BS_ASSERT(!c->recs[i].linked);
        txn_write_deinit(&c->recs[i].write);
    }
    bs_free(c->recs);
    c->recs = NULL;
    c->n_recs = 0;
}

static void pc_free(pcmd *c)
{
    free_recs(c);
    if (c->vals)
        for (size_t i = 0; i < c->n; i++)
            bs_buf_free(&c->vals[i]);
    free_keys(c);
    bs_free(c->vals);
    bs_free(c->muts);
    bs_free(c->txns);
    bs_buf_free(&c->primary);
    bs_buf_free(&c->cursor);
    bs_buf_free(&c->range_end);
    if (c->latch_inited)
        txn_latch_lock_deinit(&c->latch);
    result_deinit(&c->res);
    bs_free(c);
}

static void pc_unref(pcmd *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1)
        pc_free(c);
}

/* Delivers the result exactly once; code != BS_OK turns it into that failure. */
static void deliver(pcmd *c, int code, txn_error_kind kind, const char *detail)
{
    BS_ASSERT(!atomic_exchange(&c->delivered, true));
    if (code != BS_OK) {
        c->res.code = txn_error_set(&c->res.error, code, kind, detail);
        result_clear_errors(&c->res);
    }
    c->cb(c->cb_arg, &c->res);
}

/* Validation failure: nothing ran. */
static void reject(txn_kv_done_fn cb, void *arg, const txn_error *e)
{
    txn_kv_result res;
    result_init(&res);
    res.code = e->code;
    res.error = *e;
    cb(arg, &res);
}

/* ---- the lock table ------------------------------------------------------------------------ */

static void on_record(void *owner, txn_pending *rec, bool ok)
{
    (void)owner;
    (void)rec;
    (void)ok;
    BS_UNREACHABLE(); /* our records head their chains: only we unlink them */
}

static void unlink_recs(pcmd *c, bool ok)
{
    for (size_t i = 0; i < c->n_recs; i++) {
        if (!c->recs[i].linked)
            continue;
        bool unlinked = txn_cm_pending_done(txn_store_cm(c->s), &c->recs[i], ok);
        BS_ASSERT(unlinked);
    }
}

static void link_rec(pcmd *c, txn_pending *rec, bs_slice key)
{
    txn_pending_view prev;
    memset(rec, 0, sizeof(*rec));
    rec->owner = c;
    rec->notify = on_record;
    txn_cm_pending_link(txn_store_cm(c->s), key, rec, &prev);
    BS_ASSERT(!prev.present); /* the chain was empty and we hold the key's latch */
    txn_write_deinit(&prev.write);
}

/* ---- finishing ------------------------------------------------------------------------------ */

static void resolve_next_batch(pcmd *c);

/* The command's work for this round is over (applied, or nothing to write): release the
 * latches, then deliver or go on with the next resolve batch. The latches go first because
 * the store is the caller's again once the last result is out (txn_store_free may follow
 * at once): nothing of the store may be touched after deliver. */
static void round_done(pcmd *c, int code, txn_error_kind kind, const char *detail)
{
    bool again = code == BS_OK && c->kind == PC_RESOLVE && c->resolve_range && c->more &&
                 c->res.n_errors == 0;
    txn_latches_release(txn_store_latches(c->s), &c->latch); /* may schedule() others */
    if (again) {
        resolve_next_batch(c);
        return;
    }
    deliver(c, code, kind, detail);
    pc_unref(c); /* the command's own ref: nothing calls back into it any more */
}

static void on_proposal_done(void *arg, int code, const bs_err *err)
{
    pcmd *c = arg;
    unlink_recs(c, code == BS_OK);
    round_done(c, code, TXN_ERR_PROPOSAL_FAILED, code == BS_OK || !err ? NULL : err->msg);
    pc_unref(c); /* the proposal's ref */
}

/* ---- the actions over the request ------------------------------------------------------------ */

static int run_prewrite(pcmd *c, txn_act *a)
{
    txn_prewrite_props p = {
        .primary = bs_buf_slice(&c->primary),
        .start_ts = c->pw.start_ts,
        .lock_ttl = c->pw.lock_ttl,
        .txn_size = c->pw.txn_size,
        .min_commit_ts = c->pw.min_commit_ts,
        .skip_constraint_check = c->pw.skip_constraint_check,
        .assertion_level = c->pw.assertion_level,
    };
    txn_key_error ke;
    txn_key_error_init(&ke);
again:
    p.one_pc_commit_ts = c->one_pc ? c->one_pc_ts : 0;
    a->guard_txn_keys = c->one_pc;
    bool duplicate = false;
    for (size_t i = 0; i < c->n; i++) {
        txn_prewrite_status st;
        a->cur_idx = i;
        int rc = txn_prewrite(a, &p, &c->muts[i], &st, &ke);
        if (rc == TXN_KEY_ERROR) {
            bool locked = ke.kind == TXN_KEY_ERR_LOCKED;
            if (!locked)
                result_clear_errors(&c->res); /* any other error is the answer alone */
            result_push_error(&c->res, &ke);
            if (locked)
                continue; /* locks are collected so the client resolves them at once */
            break;
        }
        if (rc != BS_OK)
            return rc;
        duplicate |= st == TXN_PREWRITE_DUPLICATE;
    }
    if (c->res.n_errors) {
        txn_act_reset(a);
        return BS_OK;
    }
    if (c->one_pc && duplicate) {
        /* A retry of a prewrite that already left locks: those must be committed by 2PC,
         * so the whole request falls back. */
        unlink_recs(c, true);
        free_recs(c);
        c->one_pc = false;
        txn_act_reset(a);
        goto again;
    }
    c->res.one_pc_commit_ts = c->one_pc ? c->one_pc_ts : 0;
    return BS_OK;
}

/* Runs the per-key action of commit, rollback or resolve over every key; the first key
 * error stops the request and discards what the earlier keys added. */
static int run_keys(pcmd *c, txn_act *a)
{
    txn_key_error ke;
    int rc = BS_OK;
    txn_key_error_init(&ke);
    for (size_t i = 0; i < c->n && rc == BS_OK; i++) {
        bs_slice key = bs_buf_slice(&c->keys[i]);
        a->cur_idx = i;
        switch (c->kind) {
        case PC_COMMIT:
            rc = txn_commit(a, key, c->start_ts, c->commit_ts, &ke);
            break;
        case PC_ROLLBACK:
            rc = txn_cleanup(a, key, c->start_ts, 0, false, &ke);
            break;
        case PC_RESOLVE: {
            uint64_t start_ts = c->resolve_range ? c->lock_ts[i] : c->txns[0].start_ts;
            uint64_t commit_ts = 0;
            for (size_t t = 0; t < c->n_txns; t++)
                if (c->txns[t].start_ts == start_ts)
                    commit_ts = c->txns[t].commit_ts;
            rc = txn_resolve_lock(a, key, start_ts, commit_ts, &ke);
            break;
        }
        default:
            BS_UNREACHABLE();
        }
    }
    if (rc == TXN_KEY_ERROR) {
        if (ke.kind == TXN_KEY_ERR_COMMITTED)
            c->res.commit_ts = ke.commit_ts;
        result_push_error(&c->res, &ke);
        txn_act_reset(a);
        return BS_OK;
    }
    if (rc == BS_OK && c->kind == PC_COMMIT)
        c->res.commit_ts = c->commit_ts;
    return rc;
}

static int run_action(pcmd *c, txn_act *a)
{
    txn_key_error ke;
    int rc;
    txn_key_error_init(&ke);
    switch (c->kind) {
    case PC_PREWRITE:
        return run_prewrite(c, a);
    case PC_COMMIT:
    case PC_ROLLBACK:
    case PC_RESOLVE:
        return run_keys(c, a);
    case PC_CLEANUP:
        /* Cleanup reads the txn's state as of current_ts (TiKV raises max_ts to it). */
        txn_cm_update_max_ts(a->cm, c->current_ts);
        rc = txn_cleanup(a, bs_buf_slice(&c->keys[0]), c->start_ts, c->current_ts, true, &ke);
        if (rc == TXN_KEY_ERROR && ke.kind == TXN_KEY_ERR_COMMITTED) {
            c->res.commit_ts = ke.commit_ts; /* CleanupResponse.commit_version, no error */
            txn_key_error_deinit(&ke);
            rc = BS_OK;
        }
        break;
    case PC_CHECK_TXN_STATUS:
        rc = txn_check_txn_status(a, &c->cts, &c->res, &ke);
        break;
    case PC_CHECK_SECONDARY: {
        bs_slice *keys = bs_calloc(c->n ? c->n : 1, sizeof(bs_slice));
        for (size_t i = 0; i < c->n; i++)
            keys[i] = bs_buf_slice(&c->keys[i]);
        rc = txn_check_secondary_locks(a, keys, c->n, c->start_ts, &c->res, &ke);
        bs_free(keys);
        break;
    }
    case PC_HEART_BEAT:
        rc = txn_heart_beat(a, bs_buf_slice(&c->keys[0]), c->start_ts, c->advise_ttl,
                            &c->res.lock_ttl, &ke);
        break;
    default:
        BS_UNREACHABLE();
    }
    if (rc == TXN_KEY_ERROR) {
        result_push_error(&c->res, &ke);
        txn_act_reset(a);
        rc = BS_OK;
    }
    txn_key_error_deinit(&ke);
    return rc;
}

/* 1PC: links every mutation key, then picks commit_ts above max_ts (see the file comment).
 * Falls back to 2PC when the ts would pass max_commit_ts. */
static void prepare_one_pc(pcmd *c)
{
    txn_cm *cm = txn_store_cm(c->s);
    c->recs = bs_calloc(c->n, sizeof(txn_pending));
    c->n_recs = c->n;
    for (size_t i = 0; i < c->n; i++)
        link_rec(c, &c->recs[i], bs_buf_slice(&c->keys[i]));
    uint64_t ts = txn_cm_max_ts(cm) + 1;
    if (ts <= c->pw.start_ts)
        ts = c->pw.start_ts + 1;
    if (ts < c->pw.min_commit_ts)
        ts = c->pw.min_commit_ts;
    c->one_pc = true;
    c->one_pc_ts = ts;
    if (c->pw.max_commit_ts && ts > c->pw.max_commit_ts) {
        BS_LOG_INFO("1pc commit ts is too large, fallback to 2pc", "start_ts=%llu ts=%llu max_commit_ts=%llu",
                    (unsigned long long)c->pw.start_ts, (unsigned long long)ts,
                    (unsigned long long)c->pw.max_commit_ts);
        unlink_recs(c, true);
        free_recs(c);
        c->one_pc = false;
    }
}

/* Puts the action's guards in the lock table: 1PC proposes its pre-linked records (or
 * drops those whose mutation wrote no data), others link one record per guard. Returns
 * the highest guarded ts (0 = none). */
static uint64_t guard_versions(pcmd *c, const txn_act *a)
{
    txn_cm *cm = txn_store_cm(c->s);
    uint64_t max = 0;
    if (c->one_pc) {
        for (size_t i = 0; i < c->n_recs; i++) {
            const txn_guard_spec *g = NULL;
            for (size_t j = 0; j < a->n_guards && !g; j++)
                if (a->guards[j].idx == i)
                    g = &a->guards[j];
            if (!g) {
                bool unlinked = txn_cm_pending_done(cm, &c->recs[i], true);
                BS_ASSERT(unlinked);
                continue;
            }
            txn_cm_pending_propose(cm, &c->recs[i], g->ts, &g->write);
            max = g->ts > max ? g->ts : max;
        }
        return max;
    }
    BS_ASSERT(c->n_recs == 0);
    if (a->n_guards == 0)
        return 0;
    c->recs = bs_calloc(a->n_guards, sizeof(txn_pending));
    c->n_recs = a->n_guards;
    for (size_t i = 0; i < a->n_guards; i++) {
        link_rec(c, &c->recs[i], bs_buf_slice(&a->guards[i].key));
        txn_cm_pending_propose(cm, &c->recs[i], a->guards[i].ts, &a->guards[i].write);
        max = a->guards[i].ts > max ? a->guards[i].ts : max;
    }
    return max;
}

/* Runs c with its latches held and its keys' chains empty. */
static void run(pcmd *c)
{
    const txn_store_config *cfg = txn_store_get_config(c->s);
    kv_snapshot *snap = kv_snapshot_new(cfg->engine);
    txn_act a;
    bs_err err;
    int rc;
    txn_act_init(&a, cfg->engine, snap, txn_store_cm(c->s), (uint64_t)bs_clock_wall_ms());
    if (c->kind == PC_PREWRITE && c->pw.try_one_pc)
        prepare_one_pc(c);
    rc = run_action(c, &a);
    kv_snapshot_free(snap);
    if (rc != BS_OK) {
        txn_error e;
        (void)txn_error_from_bs(&e, &a.err);
        unlink_recs(c, true);
        txn_act_deinit(&a);
        round_done(c, e.code, e.kind, e.msg);
        return;
    }
    kv_batch *b = txn_act_take_batch(&a);
    if (kv_batch_count(b) == 0) {
        kv_batch_free(b);
        unlink_recs(c, true);
        txn_act_deinit(&a);
        if (c->kind == PC_PREWRITE)
            c->res.one_pc_commit_ts = 0; /* nothing committed (all duplicates or checks) */
        round_done(c, BS_OK, TXN_ERR_NONE, NULL);
        return;
    }
    uint64_t guarded = guard_versions(c, &a);
    txn_act_deinit(&a);
    if (guarded) /* later raw writes of any key get a ts above the committed versions */
        txn_causal_ts_observe(cfg->causal_ts, guarded);
    atomic_fetch_add(&c->refs, 1); /* the proposal's ref */
    bs_err_clear(&err);
    rc = cfg->propose(cfg->propose_arg, b, on_proposal_done, c, &err);
    if (rc != BS_OK) { /* refused: nothing was proposed, the batch is still ours */
        kv_batch_free(b);
        unlink_recs(c, false);
        round_done(c, rc, TXN_ERR_PROPOSAL_FAILED, err.msg);
        pc_unref(c);
    }
}

/* ---- scheduling: latches, waits and the trampoline ------------------------------------------- */


static void schedule(pcmd *c);

/* The wait for keys[wait_i] is over. Whichever of the issuer (step) and this callback
 * arrives second continues, so an immediate completion costs no recursion. */
static void on_key_free(void *arg)
{
    pcmd *c = arg;
    if (atomic_fetch_add(&c->wait_turn, 1) == 0)
        return; /* step() is still inside txn_cm_wait_key: it goes on */
    c->wait_i++;
    schedule(c);
}

static void step(pcmd *c)
{
    while (c->wait_i < c->n) {
        atomic_store(&c->wait_turn, 0);
        txn_cm_wait_key(txn_store_cm(c->s), bs_buf_slice(&c->keys[c->wait_i]), on_key_free, c);
        if (atomic_fetch_add(&c->wait_turn, 1) == 0)
            return; /* on_key_free will resume c */
        c->wait_i++;
    }
    run(c);
}

static void step_tramp(txn_tramp *t)
{
    step((pcmd *)((char *)t - offsetof(pcmd, tramp)));
}

static void schedule(pcmd *c)
{
    c->tramp.run = step_tramp;
    txn_tramp_schedule(&c->tramp);
}

static void on_latched(void *arg)
{
    schedule(arg);
}

/* Latches c->keys (held until the round is done) and runs c. */
static void latch_and_run(pcmd *c)
{
    bs_slice *keys = bs_calloc(c->n ? c->n : 1, sizeof(bs_slice));
    for (size_t i = 0; i < c->n; i++)
        keys[i] = bs_buf_slice(&c->keys[i]);
    if (c->latch_inited)
        txn_latch_lock_deinit(&c->latch);
    txn_latch_lock_init(&c->latch, txn_store_latches(c->s), keys, c->n, on_latched, c);
    c->latch_inited = true;
    bs_free(keys);
    c->wait_i = 0;
    if (txn_latches_acquire(txn_store_latches(c->s), &c->latch))
        schedule(c);
}

/* The read phase of one ResolveLock batch over [cursor, range_end), then its write phase. */
static void resolve_next_batch(pcmd *c)
{
    const txn_store_config *cfg = txn_store_get_config(c->s);
    kv_snapshot *snap = kv_snapshot_new(cfg->engine);
    txn_reader r;
    bs_err err;
    bs_err_clear(&err);
    txn_reader_init(&r, cfg->engine, snap, (uint64_t)bs_clock_wall_ms(), &err);
    free_recs(c);
    free_keys(c);
    c->n = 0;
    int rc = txn_resolve_lock_scan(&r, bs_buf_slice(&c->cursor), bs_buf_slice(&c->range_end),
                                   c->txns, c->n_txns, TXN_RESOLVE_BATCH, &c->keys,
                                   &c->lock_ts, &c->n, &c->more);
    kv_snapshot_free(snap);
    if (rc != BS_OK || c->n == 0) {
        txn_error e;
        if (rc != BS_OK)
            (void)txn_error_from_bs(&e, &err);
        deliver(c, rc, rc == BS_OK ? TXN_ERR_NONE : e.kind, rc == BS_OK ? NULL : e.msg);
        pc_unref(c); /* the command's own ref */
        return;
    }
    /* Resume after the last key of this batch. */
    bs_buf_set(&c->cursor, c->keys[c->n - 1].ptr, c->keys[c->n - 1].len);
    bs_buf_append_byte(&c->cursor, 0);
    latch_and_run(c);
}

/* ---- entry points -------------------------------------------------------------------------- */

static int check_keys(const bs_slice *keys, size_t n, uint8_t *mode, txn_error *e)
{
    for (size_t i = 0; i < n; i++) {
        if (txn_check_pct_key(keys[i], e) != BS_OK)
            return e->code;
        if (i == 0 && *mode == 0)
            *mode = keys[0].ptr[0];
        if (keys[i].ptr[0] != *mode)
            return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_KEY_MODE,
                                 "keys of one request must share one mode");
    }
    return BS_OK;
}

typedef struct key_ref {
    bs_slice key;
    size_t i;
} key_ref;

static int key_ref_cmp(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    int c = bs_slice_cmp(x->key, y->key);
    return c ? c : (x->i < y->i ? -1 : x->i > y->i);
}

/* Marks in dup[i] every key that repeats an earlier one. Returns how many. */
static size_t find_duplicates(const bs_slice *keys, size_t stride_bytes, size_t n, bool *dup)
{
    key_ref *r = bs_calloc(n ? n : 1, sizeof(*r));
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        r[i].key = *(const bs_slice *)((const uint8_t *)keys + i * stride_bytes);
        r[i].i = i;
        dup[i] = false;
    }
    qsort(r, n, sizeof(*r), key_ref_cmp);
    for (size_t i = 1; i < n; i++)
        if (bs_slice_eq(r[i].key, r[i - 1].key)) {
            dup[r[i].i] = true;
            d++;
        }
    bs_free(r);
    return d;
}

/* A command over keys, each once: a repeated key would run its action twice over one
 * snapshot (and take two lock-table records), so repeats are dropped, first one kept. */
static pcmd *pc_with_keys(txn_store *s, pc_kind kind, const bs_slice *keys, size_t n,
                          txn_kv_done_fn cb, void *arg)
{
    bool *dup = bs_calloc(n ? n : 1, sizeof(bool));
    size_t d = find_duplicates(keys, sizeof(bs_slice), n, dup);
    pcmd *c = pc_new(s, kind, n - d, cb, arg);
    for (size_t i = 0, j = 0; i < n; i++)
        if (!dup[i])
            bs_buf_append_slice(&c->keys[j++], keys[i]);
    bs_free(dup);
    return c;
}

static void pc_start(pcmd *c)
{
    latch_and_run(c);
}

static int validate_mutation(const txn_mutation *m, txn_error *e)
{
    switch (m->op) {
    case TXN_OP_PUT:
    case TXN_OP_INSERT:
    case TXN_OP_DEL:
    case TXN_OP_LOCK:
    case TXN_OP_CHECK_NOT_EXISTS:
        break;
    case TXN_OP_CHECK_NOT_MODIFIED:
        if (!m->watch)
            return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT,
                                 "CheckNotModified without watch");
        break;
    default:
        return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "unsupported mutation op");
    }
    if (m->expire_ms && (!txn_key_is_raw(m->key) || (m->op != TXN_OP_PUT && m->op != TXN_OP_INSERT)))
        return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT,
                             "expiry is only for puts of raw keys");
    if ((unsigned)m->assertion > TXN_ASSERT_NOT_EXIST)
        return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "unknown assertion");
    return BS_OK;
}

void txn_kv_prewrite(txn_store *s, const txn_prewrite_req *req, txn_kv_done_fn cb, void *arg)
{
    txn_error e;
    uint8_t mode = 0;
    txn_error_clear(&e);
    if (req->n_mutations == 0 || req->start_ts == 0) {
        txn_error_set(&e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT,
                      req->start_ts ? "no mutations" : "start ts must be non-zero");
        reject(cb, arg, &e);
        return;
    }
    if (check_keys(&req->primary, 1, &mode, &e) != BS_OK) {
        reject(cb, arg, &e);
        return;
    }
    for (size_t i = 0; i < req->n_mutations; i++)
        if (check_keys(&req->mutations[i].key, 1, &mode, &e) != BS_OK ||
            validate_mutation(&req->mutations[i], &e) != BS_OK) {
            reject(cb, arg, &e);
            return;
        }
    /* Two mutations of one key have no defined order against one snapshot. */
    bool *dup = bs_calloc(req->n_mutations, sizeof(bool));
    size_t d = find_duplicates(&req->mutations[0].key, sizeof(txn_mutation), req->n_mutations, dup);
    bs_free(dup);
    if (d) {
        txn_error_set(&e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "a key is mutated twice");
        reject(cb, arg, &e);
        return;
    }
    pcmd *c = pc_new(s, PC_PREWRITE, req->n_mutations, cb, arg);
    c->vals = bs_calloc(req->n_mutations, sizeof(bs_buf));
    c->muts = bs_calloc(req->n_mutations, sizeof(txn_mutation));
    for (size_t i = 0; i < req->n_mutations; i++) {
        bs_buf_append_slice(&c->keys[i], req->mutations[i].key);
        bs_buf_append_slice(&c->vals[i], req->mutations[i].value);
        c->muts[i] = req->mutations[i];
        c->muts[i].key = bs_buf_slice(&c->keys[i]);
        c->muts[i].value = bs_buf_slice(&c->vals[i]);
    }
    bs_buf_append_slice(&c->primary, req->primary);
    c->pw = *req;
    c->pw.mutations = c->muts;
    c->pw.primary = bs_buf_slice(&c->primary);
    pc_start(c);
}

void txn_kv_commit(txn_store *s, const bs_slice *keys, size_t n, uint64_t start_ts,
                   uint64_t commit_ts, txn_kv_done_fn cb, void *arg)
{
    txn_error e;
    uint8_t mode = 0;
    txn_error_clear(&e);
    if (start_ts == 0) {
        txn_error_set(&e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "start ts must be non-zero");
        reject(cb, arg, &e);
        return;
    }
    if (check_keys(keys, n, &mode, &e) != BS_OK) {
        reject(cb, arg, &e);
        return;
    }
    pcmd *c = pc_with_keys(s, PC_COMMIT, keys, n, cb, arg);
    c->start_ts = start_ts;
    c->commit_ts = commit_ts;
    if (commit_ts <= start_ts) {
        /* TiKV: InvalidTxnTso, an abort KeyError, before touching anything. */
        txn_key_error ke;
        txn_key_error_init(&ke);
        (void)txn_ke_abort(&ke, n ? keys[0] : BS_SLICE_NULL, start_ts,
                           "invalid txn tso with start_ts:%llu, commit_ts:%llu",
                           (unsigned long long)start_ts, (unsigned long long)commit_ts);
        result_push_error(&c->res, &ke);
        deliver(c, BS_OK, TXN_ERR_NONE, NULL);
        pc_unref(c);
        return;
    }
    pc_start(c);
}

void txn_kv_batch_rollback(txn_store *s, const bs_slice *keys, size_t n, uint64_t start_ts,
                           txn_kv_done_fn cb, void *arg)
{
    txn_error e;
    uint8_t mode = 0;
    txn_error_clear(&e);
    if (start_ts == 0)
        txn_error_set(&e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "start ts must be non-zero");
    if (e.code != BS_OK || check_keys(keys, n, &mode, &e) != BS_OK) {
        reject(cb, arg, &e);
        return;
    }
    pcmd *c = pc_with_keys(s, PC_ROLLBACK, keys, n, cb, arg);
    c->start_ts = start_ts;
    pc_start(c);
}

void txn_kv_cleanup(txn_store *s, bs_slice key, uint64_t start_ts, uint64_t current_ts,
                    txn_kv_done_fn cb, void *arg)
{
    txn_error e;
    uint8_t mode = 0;
    txn_error_clear(&e);
    if (start_ts == 0)
        txn_error_set(&e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "start ts must be non-zero");
    if (e.code != BS_OK || check_keys(&key, 1, &mode, &e) != BS_OK) {
        reject(cb, arg, &e);
        return;
    }
    pcmd *c = pc_with_keys(s, PC_CLEANUP, &key, 1, cb, arg);
    c->start_ts = start_ts;
    c->current_ts = current_ts;
    pc_start(c);
}

void txn_kv_check_txn_status(txn_store *s, const txn_check_txn_status_req *req,
                             txn_kv_done_fn cb, void *arg)
{
    txn_error e;
    uint8_t mode = 0;
    txn_error_clear(&e);
    if (req->lock_ts == 0)
        txn_error_set(&e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "lock ts must be non-zero");
    if (e.code != BS_OK || check_keys(&req->primary_key, 1, &mode, &e) != BS_OK) {
        reject(cb, arg, &e);
        return;
    }
    pcmd *c = pc_with_keys(s, PC_CHECK_TXN_STATUS, &req->primary_key, 1, cb, arg);
    c->cts = *req;
    c->cts.primary_key = bs_buf_slice(&c->keys[0]);
    pc_start(c);
}

void txn_kv_check_secondary_locks(txn_store *s, const bs_slice *keys, size_t n,
                                  uint64_t start_ts, txn_kv_done_fn cb, void *arg)
{
    txn_error e;
    uint8_t mode = 0;
    txn_error_clear(&e);
    if (start_ts == 0)
        txn_error_set(&e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "start ts must be non-zero");
    if (e.code != BS_OK || check_keys(keys, n, &mode, &e) != BS_OK) {
        reject(cb, arg, &e);
        return;
    }
    pcmd *c = pc_with_keys(s, PC_CHECK_SECONDARY, keys, n, cb, arg);
    c->start_ts = start_ts;
    pc_start(c);
}

void txn_kv_txn_heart_beat(txn_store *s, bs_slice primary, uint64_t start_ts,
                           uint64_t advise_lock_ttl, txn_kv_done_fn cb, void *arg)
{
    txn_error e;
    uint8_t mode = 0;
    txn_error_clear(&e);
    if (start_ts == 0)
        txn_error_set(&e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "start ts must be non-zero");
    if (e.code != BS_OK || check_keys(&primary, 1, &mode, &e) != BS_OK) {
        reject(cb, arg, &e);
        return;
    }
    pcmd *c = pc_with_keys(s, PC_HEART_BEAT, &primary, 1, cb, arg);
    c->start_ts = start_ts;
    c->advise_ttl = advise_lock_ttl;
    pc_start(c);
}

void txn_kv_resolve_lock(txn_store *s, const txn_resolve_lock_req *req, txn_kv_done_fn cb,
                         void *arg)
{
    txn_error e;
    uint8_t mode = 0;
    txn_error_clear(&e);
    if (req->n_txns == 0 || (req->n_keys && req->n_txns != 1))
        txn_error_set(&e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT,
                      req->n_txns ? "resolving keys takes one txn" : "no txn to resolve");
    for (size_t i = 0; i < req->n_txns && e.code == BS_OK; i++)
        if (req->txns[i].start_ts == 0)
            txn_error_set(&e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "start ts must be non-zero");
    if (e.code == BS_OK && req->n_keys)
        (void)check_keys(req->keys, req->n_keys, &mode, &e);
    if (e.code == BS_OK && req->start.len && req->end.len && bs_slice_cmp(req->start, req->end) > 0)
        txn_error_set(&e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "start key is above end key");
    if (e.code != BS_OK) {
        reject(cb, arg, &e);
        return;
    }
    pcmd *c = pc_with_keys(s, PC_RESOLVE, req->keys, req->n_keys, cb, arg);
    c->txns = bs_calloc(req->n_txns, sizeof(txn_resolve_txn));
    memcpy(c->txns, req->txns, req->n_txns * sizeof(txn_resolve_txn));
    c->n_txns = req->n_txns;
    if (req->n_keys) {
        pc_start(c);
        return;
    }
    c->resolve_range = true;
    bs_buf_append_slice(&c->cursor, req->start);
    bs_buf_append_slice(&c->range_end, req->end);
    resolve_next_batch(c);
}

void txn_kv_resolve_key(txn_store *s, bs_slice key, uint64_t start_ts, uint64_t commit_ts,
                        txn_kv_done_fn cb, void *arg)
{
    txn_resolve_txn t = {start_ts, commit_ts};
    txn_resolve_lock_req q;
    memset(&q, 0, sizeof(q));
    q.txns = &t;
    q.n_txns = 1;
    q.keys = &key;
    q.n_keys = 1;
    txn_kv_resolve_lock(s, &q, cb, arg);
}
