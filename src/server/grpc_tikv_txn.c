/* grpc_tikv_txn.c -- the Kv* (Percolator, TxnKV) family of tikvpb.Tikv over txn/'s
 * transactional commands: KvGet, KvScan, KvBatchGet, KvScanLock (reads), KvPrewrite,
 * KvCommit, KvBatchRollback, KvCleanup, KvCheckTxnStatus, KvCheckSecondaryLocks,
 * KvTxnHeartBeat and KvResolveLock (writes), with their BatchCommands numbers.
 *
 * Checks are the raw family's (grpc_tikv.c) with TxnKV key modes: a V2 request works on
 * 'x' keys; a V1 request is TiDB's ('m'/'t' keys), which TiKV accepts on a V2 store and txn/
 * then refuses ("invalid key mode"); anything else is ApiVersionNotMatched. Key-level
 * failures are kvrpcpb.KeyError as TiKV's extract_key_error fills them: typed (locked,
 * conflict, already_exist, txn_not_found, ...) from txn_key_error, or `abort` with the text
 * for the rest. Reads honour Context.resolved_locks / committed_locks, and wait (bounded)
 * for a write of their keys that is proposed but not applied yet.
 *
 * A write's result arrives on whatever thread completes it; the response is packed right
 * there (the result is only borrowed by the callback) and the op goes back to its loop.
 *
 * Not served, as txn/ does not serve them: pessimistic transactions (KvPessimisticLock and
 * KVPessimisticRollback stay unregistered: UNIMPLEMENTED; a prewrite with for_update_ts or
 * pessimistic actions gets an abort) and async commit (a prewrite answers min_commit_ts 0,
 * which makes clients fall back to two-phase commit, PROTOCOL.md §5.4). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "server/grpc_int.h"

#define REQ(type) type *rq = (type *)op->req

/* ---- conversions ------------------------------------------------------------------------ */

static Kvrpcpb__LockInfo *lock_info_pb(srv_grpc_arena *a, const txn_lock_info *li)
{
    Kvrpcpb__LockInfo *m = SRV_GRPC_NEW(a, Kvrpcpb__LockInfo);
    kvrpcpb__lock_info__init(m);
    m->primary_lock = srv_grpc_pb_bytes(bs_buf_slice(&li->primary));
    m->lock_version = li->lock_version;
    m->key = srv_grpc_pb_bytes(bs_buf_slice(&li->key));
    m->lock_ttl = li->lock_ttl;
    m->txn_size = li->txn_size;
    m->lock_type = (Kvrpcpb__Op)li->lock_type;
    m->lock_for_update_ts = li->lock_for_update_ts;
    m->use_async_commit = li->use_async_commit;
    m->min_commit_ts = li->min_commit_ts;
    return m;
}

static Kvrpcpb__KeyError *key_error_pb(srv_grpc_arena *a, const txn_key_error *ke)
{
    Kvrpcpb__KeyError *m = SRV_GRPC_NEW(a, Kvrpcpb__KeyError);
    kvrpcpb__key_error__init(m);
    bs_slice key = bs_buf_slice(&ke->key);
    switch (ke->kind) {
    case TXN_KEY_ERR_NONE:
    case TXN_KEY_ERR_ABORT:
    case TXN_KEY_ERR_COMMITTED:
        m->abort = srv_grpc_arena_strdup(a, ke->msg[0] ? ke->msg : "txn aborts");
        break;
    case TXN_KEY_ERR_LOCKED:
        m->locked = lock_info_pb(a, &ke->lock);
        break;
    case TXN_KEY_ERR_WRITE_CONFLICT:
        m->conflict = SRV_GRPC_NEW(a, Kvrpcpb__WriteConflict);
        kvrpcpb__write_conflict__init(m->conflict);
        m->conflict->start_ts = ke->start_ts;
        m->conflict->conflict_ts = ke->conflict_start_ts;
        m->conflict->conflict_commit_ts = ke->conflict_commit_ts;
        m->conflict->key = srv_grpc_pb_bytes(key);
        m->conflict->primary = srv_grpc_pb_bytes(bs_buf_slice(&ke->primary));
        m->conflict->reason = (Kvrpcpb__WriteConflict__Reason)ke->reason;
        m->retryable = srv_grpc_arena_strdup(a, ke->msg);
        break;
    case TXN_KEY_ERR_ALREADY_EXIST:
        m->already_exist = SRV_GRPC_NEW(a, Kvrpcpb__AlreadyExist);
        kvrpcpb__already_exist__init(m->already_exist);
        m->already_exist->key = srv_grpc_pb_bytes(key);
        break;
    case TXN_KEY_ERR_COMMIT_TS_EXPIRED:
        m->commit_ts_expired = SRV_GRPC_NEW(a, Kvrpcpb__CommitTsExpired);
        kvrpcpb__commit_ts_expired__init(m->commit_ts_expired);
        m->commit_ts_expired->start_ts = ke->start_ts;
        m->commit_ts_expired->attempted_commit_ts = ke->commit_ts;
        m->commit_ts_expired->key = srv_grpc_pb_bytes(key);
        m->commit_ts_expired->min_commit_ts = ke->min_commit_ts;
        break;
    case TXN_KEY_ERR_TXN_NOT_FOUND:
        m->txn_not_found = SRV_GRPC_NEW(a, Kvrpcpb__TxnNotFound);
        kvrpcpb__txn_not_found__init(m->txn_not_found);
        m->txn_not_found->start_ts = ke->start_ts;
        m->txn_not_found->primary_key = srv_grpc_pb_bytes(key);
        break;
    case TXN_KEY_ERR_TXN_LOCK_NOT_FOUND:
        m->txn_lock_not_found = SRV_GRPC_NEW(a, Kvrpcpb__TxnLockNotFound);
        kvrpcpb__txn_lock_not_found__init(m->txn_lock_not_found);
        m->txn_lock_not_found->key = srv_grpc_pb_bytes(key);
        m->retryable = srv_grpc_arena_strdup(a, ke->msg);
        break;
    case TXN_KEY_ERR_ASSERTION_FAILED:
        m->assertion_failed = SRV_GRPC_NEW(a, Kvrpcpb__AssertionFailed);
        kvrpcpb__assertion_failed__init(m->assertion_failed);
        m->assertion_failed->start_ts = ke->start_ts;
        m->assertion_failed->key = srv_grpc_pb_bytes(key);
        m->assertion_failed->assertion = (Kvrpcpb__Assertion)ke->assertion;
        m->assertion_failed->existing_start_ts = ke->conflict_start_ts;
        m->assertion_failed->existing_commit_ts = ke->conflict_commit_ts;
        break;
    case TXN_KEY_ERR_PRIMARY_MISMATCH:
        m->primary_mismatch = SRV_GRPC_NEW(a, Kvrpcpb__PrimaryMismatch);
        kvrpcpb__primary_mismatch__init(m->primary_mismatch);
        m->primary_mismatch->lock_info = lock_info_pb(a, &ke->lock);
        break;
    }
    return m;
}

static Kvrpcpb__KvPair **kv_pairs_pb(srv_grpc_arena *a, const txn_kv_pairs *p, bool commit_ts)
{
    Kvrpcpb__KvPair **v = SRV_GRPC_NEWN(a, Kvrpcpb__KvPair *, p->n);
    for (size_t i = 0; i < p->n; i++) {
        Kvrpcpb__KvPair *kp = SRV_GRPC_NEW(a, Kvrpcpb__KvPair);
        kvrpcpb__kv_pair__init(kp);
        kp->key = srv_grpc_pb_bytes(bs_buf_slice(&p->v[i].key));
        if (p->v[i].has_error) {
            kp->error = key_error_pb(a, &p->v[i].error);
        } else {
            kp->value = srv_grpc_pb_bytes(bs_buf_slice(&p->v[i].value));
            if (commit_ts)
                kp->commit_ts = p->v[i].commit_ts;
        }
        v[i] = kp;
    }
    return v;
}

static Kvrpcpb__LockInfo **lock_infos_pb(srv_grpc_arena *a, const txn_lock_infos *l)
{
    Kvrpcpb__LockInfo **v = SRV_GRPC_NEWN(a, Kvrpcpb__LockInfo *, l->n);
    for (size_t i = 0; i < l->n; i++)
        v[i] = lock_info_pb(a, &l->v[i]);
    return v;
}

static void read_opts(const srv_tikv_op *op, uint64_t version, txn_read_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->read_ts = version;
    if (op->ctx) {
        o->resolved_locks = op->ctx->resolved_locks;
        o->n_resolved = op->ctx->n_resolved_locks;
        o->committed_locks = op->ctx->committed_locks;
        o->n_committed = op->ctx->n_committed_locks;
    }
}

/* A range end as txn/ takes it: an end past the start's mode ("y" for 'x' keys) is the end
 * of the mode's key space, which txn/ spells as empty. */
static bs_slice mode_end(bs_slice start, bs_slice end)
{
    if (end.len && start.len && end.ptr[0] != start.ptr[0])
        return BS_SLICE_NULL;
    return end;
}

/* ---- KvGet ------------------------------------------------------------------------------ */

static void read_get(srv_tikv_op *op)
{
    REQ(Kvrpcpb__GetRequest);
    txn_read_opts o;
    read_opts(op, rq->version, &o);
    txn_kv_pair p;
    txn_kv_pair_init(&p);
    txn_error e;
    txn_error_clear(&e);
    int rc = txn_kv_get(op->svc->txn, srv_grpc_bytes(rq->key), &o, &p, &e);
    if (rc != BS_OK && rc != BS_NOTFOUND) {
        srv_tikv_reply_txn_error(op, &e);
    } else {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Kvrpcpb__GetResponse r = KVRPCPB__GET_RESPONSE__INIT;
        if (rc == BS_NOTFOUND) {
            r.not_found = true;
        } else if (p.has_error) {
            r.error = key_error_pb(&a, &p.error);
        } else {
            r.value = srv_grpc_pb_bytes(bs_buf_slice(&p.value));
            if (rq->need_commit_ts)
                r.commit_ts = p.commit_ts;
        }
        srv_tikv_op_reply(op, &r.base);
        srv_grpc_arena_free(&a);
    }
    txn_kv_pair_deinit(&p);
}

static void run_get(srv_tikv_op *op)
{
    REQ(Kvrpcpb__GetRequest);
    bs_slice key = srv_grpc_bytes(rq->key);
    if (srv_tikv_check_keys(op, &key, 1) && srv_tikv_check_context(op) &&
        srv_tikv_check_key_in_region(op, key, false))
        srv_tikv_read(op, read_get);
}

/* ---- KvBatchGet ---------------------------------------------------------------------------- */

static void read_batch_get(srv_tikv_op *op)
{
    REQ(Kvrpcpb__BatchGetRequest);
    bs_slice *keys = srv_tikv_slices_of(rq->keys, rq->n_keys);
    txn_read_opts o;
    read_opts(op, rq->version, &o);
    txn_kv_pairs p;
    txn_kv_pairs_init(&p);
    txn_error e;
    txn_error_clear(&e);
    int rc = rq->n_keys ? txn_kv_batch_get(op->svc->txn, keys, rq->n_keys, &o, &p, &e) : BS_OK;
    if (rc != BS_OK) {
        srv_tikv_reply_txn_error(op, &e);
    } else {
        srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
        Kvrpcpb__BatchGetResponse r = KVRPCPB__BATCH_GET_RESPONSE__INIT;
        r.n_pairs = p.n;
        r.pairs = kv_pairs_pb(&a, &p, rq->need_commit_ts);
        srv_tikv_op_reply(op, &r.base);
        srv_grpc_arena_free(&a);
    }
    txn_kv_pairs_free(&p);
    bs_free(keys);
}

static void run_batch_get(srv_tikv_op *op)
{
    REQ(Kvrpcpb__BatchGetRequest);
    bs_slice *keys = srv_tikv_slices_of(rq->keys, rq->n_keys);
    bool go = srv_tikv_check_keys(op, keys, rq->n_keys) && srv_tikv_check_context(op) &&
              srv_tikv_check_keys_in_region(op, keys, rq->n_keys);
    bs_free(keys);
    if (go) { /* (a failed check has finished and freed op) */
        op->offload = rq->n_keys > SRV_TIKV_INLINE_KEYS;
        srv_tikv_read(op, read_batch_get);
    }
}

/* ---- KvScan ----------------------------------------------------------------------------- */

static void read_scan(srv_tikv_op *op)
{
    REQ(Kvrpcpb__ScanRequest);
    bs_buf rs = BS_BUF_INIT, re = BS_BUF_INIT;
    txn_kv_pairs p;
    txn_kv_pairs_init(&p);
    if (srv_tikv_region_raw_bounds(op, &rs, &re) == BS_OK) {
        bs_slice start = srv_grpc_bytes(rq->start_key), end = srv_grpc_bytes(rq->end_key);
        txn_kv_scan_req q;
        memset(&q, 0, sizeof q);
        q.start = start;
        if (rq->reverse) /* [max(end, Region start), start) descending */
            q.end = bs_slice_cmp(end, bs_buf_slice(&rs)) >= 0 ? end : bs_buf_slice(&rs);
        else
            q.end = mode_end(start, srv_tikv_min_end(end, bs_buf_slice(&re)));
        q.limit = rq->limit;
        q.key_only = rq->key_only;
        q.reverse = rq->reverse;
        read_opts(op, rq->version, &q.read);
        txn_error e;
        txn_error_clear(&e);
        int rc = txn_kv_scan(op->svc->txn, &q, &p, &e);
        if (rc != BS_OK) {
            srv_tikv_reply_txn_error(op, &e);
        } else {
            srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
            Kvrpcpb__ScanResponse r = KVRPCPB__SCAN_RESPONSE__INIT;
            r.n_pairs = p.n;
            r.pairs = kv_pairs_pb(&a, &p, false);
            srv_tikv_op_reply(op, &r.base);
            srv_grpc_arena_free(&a);
        }
    }
    txn_kv_pairs_free(&p);
    bs_buf_free(&rs);
    bs_buf_free(&re);
}

static void run_scan(srv_tikv_op *op)
{
    REQ(Kvrpcpb__ScanRequest);
    bs_slice start = srv_grpc_bytes(rq->start_key), end = srv_grpc_bytes(rq->end_key);
    if (!srv_tikv_check_ranges(op, &start, &end, 1) || !srv_tikv_check_context(op) ||
        !srv_tikv_check_key_in_region(op, start, rq->reverse))
        return;
    if (rq->limit == 0) {
        Kvrpcpb__ScanResponse r = KVRPCPB__SCAN_RESPONSE__INIT;
        srv_tikv_op_reply(op, &r.base);
        return;
    }
    op->offload = rq->limit > SRV_TIKV_INLINE_KEYS;
    srv_tikv_read(op, read_scan);
}

/* ---- KvScanLock --------------------------------------------------------------------------- */

static void read_scan_lock(srv_tikv_op *op)
{
    REQ(Kvrpcpb__ScanLockRequest);
    bs_buf rs = BS_BUF_INIT, re = BS_BUF_INIT;
    txn_lock_infos l;
    txn_lock_infos_init(&l);
    if (srv_tikv_region_raw_bounds(op, &rs, &re) == BS_OK) {
        txn_error e;
        txn_error_clear(&e);
        bs_slice end = srv_tikv_min_end(srv_grpc_bytes(rq->end_key), bs_buf_slice(&re));
        int rc = txn_kv_scan_lock(op->svc->txn, rq->max_version, srv_grpc_bytes(rq->start_key), end,
                                  rq->limit, &l, &e);
        if (rc != BS_OK) {
            srv_tikv_reply_txn_error(op, &e);
        } else {
            srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
            Kvrpcpb__ScanLockResponse r = KVRPCPB__SCAN_LOCK_RESPONSE__INIT;
            r.n_locks = l.n;
            r.locks = lock_infos_pb(&a, &l);
            srv_tikv_op_reply(op, &r.base);
            srv_grpc_arena_free(&a);
        }
    }
    txn_lock_infos_free(&l);
    bs_buf_free(&rs);
    bs_buf_free(&re);
}

static void run_scan_lock(srv_tikv_op *op)
{
    REQ(Kvrpcpb__ScanLockRequest);
    bs_slice start = srv_grpc_bytes(rq->start_key), end = srv_grpc_bytes(rq->end_key);
    /* limit 0 is unbounded; and locks above max_version are skipped without counting */
    op->offload = rq->limit == 0 || rq->limit > SRV_TIKV_INLINE_KEYS;
    if (srv_tikv_check_ranges(op, &start, &end, 1) && srv_tikv_check_context(op) &&
        srv_tikv_check_key_in_region(op, start, false))
        srv_tikv_read(op, read_scan_lock);
}

/* ---- writes: the result is packed on the completing thread ------------------------------ */

typedef void (*pack_fn)(srv_tikv_op *op, const txn_kv_result *res, bs_buf *out);

static void kv_resume(void *arg)
{
    srv_tikv_op *op = arg;
    if (op->async_code != BS_OK) {
        txn_error e;
        e.code = op->async_code;
        e.kind = op->txn_kind;
        snprintf(e.msg, sizeof e.msg, "%s", op->async_msg);
        srv_tikv_reply_txn_error(op, &e);
        return;
    }
    op->sink(op); /* op->resp was packed by kv_done */
}

/* txn_kv_done_fn: packs the response (res is borrowed for this call only) and goes back to
 * the op's loop. */
static void kv_done(void *arg, const txn_kv_result *res)
{
    srv_tikv_op *op = arg;
    op->async_code = res->code;
    if (res->code != BS_OK) {
        op->txn_kind = res->error.kind;
        snprintf(op->async_msg, sizeof op->async_msg, "%s", res->error.msg);
    } else {
        bs_buf_reset(&op->resp);
        op->pack(op, res, &op->resp);
    }
    srv_tikv_op_post(op, kv_resume);
}

static void start_write(srv_tikv_op *op, pack_fn pack)
{
    op->pack = pack;
}

/* The first key error of a single-error response. */
static Kvrpcpb__KeyError *first_error(srv_grpc_arena *a, const txn_kv_result *res)
{
    return res->n_errors ? key_error_pb(a, &res->errors[0]) : NULL;
}

/* ---- KvPrewrite ------------------------------------------------------------------------- */

static void pack_prewrite(srv_tikv_op *op, const txn_kv_result *res, bs_buf *out)
{
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    Kvrpcpb__PrewriteResponse r = KVRPCPB__PREWRITE_RESPONSE__INIT;
    r.n_errors = res->n_errors;
    r.errors = SRV_GRPC_NEWN(&a, Kvrpcpb__KeyError *, res->n_errors);
    for (size_t i = 0; i < res->n_errors; i++)
        r.errors[i] = key_error_pb(&a, &res->errors[i]);
    r.min_commit_ts = res->min_commit_ts;
    r.one_pc_commit_ts = res->one_pc_commit_ts;
    srv_grpc_pack(&r.base, out);
    srv_grpc_arena_free(&a);
}

static bool op_supported(Kvrpcpb__Op o, txn_op *out)
{
    switch (o) {
    case KVRPCPB__OP__Put:
        *out = TXN_OP_PUT;
        return true;
    case KVRPCPB__OP__Del:
        *out = TXN_OP_DEL;
        return true;
    case KVRPCPB__OP__Lock:
        *out = TXN_OP_LOCK;
        return true;
    case KVRPCPB__OP__Insert:
        *out = TXN_OP_INSERT;
        return true;
    case KVRPCPB__OP__CheckNotExists:
        *out = TXN_OP_CHECK_NOT_EXISTS;
        return true;
    default:
        return false;
    }
}

static void run_prewrite(srv_tikv_op *op)
{
    REQ(Kvrpcpb__PrewriteRequest);
    /* Everything is read from the request before the first check: a failing check answers,
     * and the op (request included) is gone when it returns false. */
    size_t n = rq->n_mutations;
    bs_slice *keys = bs_calloc(n ? n : 1, sizeof(bs_slice));
    txn_mutation *muts = bs_calloc(n ? n : 1, sizeof(txn_mutation));
    int bad_op = -1;
    for (size_t i = 0; i < n; i++) {
        const Kvrpcpb__Mutation *m = rq->mutations[i];
        keys[i] = srv_grpc_bytes(m->key);
        if (!op_supported(m->op, &muts[i].op) && bad_op < 0)
            bad_op = (int)m->op;
        muts[i].key = keys[i];
        muts[i].value = srv_grpc_bytes(m->value);
        muts[i].assertion = (m->assertion >= 0 && m->assertion <= 2) ? (txn_assertion)m->assertion
                                                                     : TXN_ASSERT_NONE;
    }
    bool pessimistic = rq->for_update_ts != 0;
    for (size_t i = 0; i < rq->n_pessimistic_actions; i++)
        pessimistic |= rq->pessimistic_actions[i] ==
                       KVRPCPB__PREWRITE_REQUEST__PESSIMISTIC_ACTION__DO_PESSIMISTIC_CHECK;
    txn_prewrite_req q;
    memset(&q, 0, sizeof q);
    q.mutations = muts;
    q.n_mutations = n;
    q.primary = srv_grpc_bytes(rq->primary_lock);
    q.start_ts = rq->start_version;
    q.lock_ttl = rq->lock_ttl;
    q.txn_size = rq->txn_size;
    q.min_commit_ts = rq->min_commit_ts;
    q.skip_constraint_check = rq->skip_constraint_check;
    q.assertion_level = (rq->assertion_level >= 0 && rq->assertion_level <= 2)
                            ? (txn_assertion_level)rq->assertion_level
                            : TXN_ASSERT_OFF;
    q.try_one_pc = rq->try_one_pc;
    q.max_commit_ts = rq->max_commit_ts;

    bool go = srv_tikv_check_keys(op, keys, n);
    if (go && pessimistic) {
        srv_tikv_op_reply_error(op, "pessimistic transactions are not supported by Basalt");
        go = false;
    }
    if (go && bad_op >= 0) {
        char t[96];
        snprintf(t, sizeof t, "prewrite: mutation op %d is not supported", bad_op);
        srv_tikv_op_reply_error(op, t);
        go = false;
    }
    go = go && srv_tikv_check_context(op) && srv_tikv_check_keys_in_region(op, keys, n);
    if (go) {
        start_write(op, pack_prewrite);
        txn_kv_prewrite(op->svc->txn, &q, kv_done, op); /* copies the request */
    }
    bs_free(keys);
    bs_free(muts);
}

/* ---- KvCommit, KvBatchRollback, KvCleanup -------------------------------------------------- */

static void pack_commit(srv_tikv_op *op, const txn_kv_result *res, bs_buf *out)
{
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    Kvrpcpb__CommitResponse r = KVRPCPB__COMMIT_RESPONSE__INIT;
    r.error = first_error(&a, res);
    if (!r.error)
        r.commit_version = res->commit_ts;
    srv_grpc_pack(&r.base, out);
    srv_grpc_arena_free(&a);
}

static void run_commit(srv_tikv_op *op)
{
    REQ(Kvrpcpb__CommitRequest);
    bs_slice *keys = srv_tikv_slices_of(rq->keys, rq->n_keys);
    if (srv_tikv_check_keys(op, keys, rq->n_keys) && srv_tikv_check_context(op) &&
        srv_tikv_check_keys_in_region(op, keys, rq->n_keys)) {
        start_write(op, pack_commit);
        txn_kv_commit(op->svc->txn, keys, rq->n_keys, rq->start_version, rq->commit_version,
                      kv_done, op);
    }
    bs_free(keys);
}

static void pack_batch_rollback(srv_tikv_op *op, const txn_kv_result *res, bs_buf *out)
{
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    Kvrpcpb__BatchRollbackResponse r = KVRPCPB__BATCH_ROLLBACK_RESPONSE__INIT;
    r.error = first_error(&a, res);
    srv_grpc_pack(&r.base, out);
    srv_grpc_arena_free(&a);
}

static void run_batch_rollback(srv_tikv_op *op)
{
    REQ(Kvrpcpb__BatchRollbackRequest);
    bs_slice *keys = srv_tikv_slices_of(rq->keys, rq->n_keys);
    if (srv_tikv_check_keys(op, keys, rq->n_keys) && srv_tikv_check_context(op) &&
        srv_tikv_check_keys_in_region(op, keys, rq->n_keys)) {
        start_write(op, pack_batch_rollback);
        txn_kv_batch_rollback(op->svc->txn, keys, rq->n_keys, rq->start_version, kv_done, op);
    }
    bs_free(keys);
}

static void pack_cleanup(srv_tikv_op *op, const txn_kv_result *res, bs_buf *out)
{
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    Kvrpcpb__CleanupResponse r = KVRPCPB__CLEANUP_RESPONSE__INIT;
    r.error = first_error(&a, res);
    r.commit_version = res->commit_ts;
    srv_grpc_pack(&r.base, out);
    srv_grpc_arena_free(&a);
}

static void run_cleanup(srv_tikv_op *op)
{
    REQ(Kvrpcpb__CleanupRequest);
    bs_slice key = srv_grpc_bytes(rq->key);
    if (srv_tikv_check_keys(op, &key, 1) && srv_tikv_check_context(op) &&
        srv_tikv_check_key_in_region(op, key, false)) {
        start_write(op, pack_cleanup);
        txn_kv_cleanup(op->svc->txn, key, rq->start_version, rq->current_ts, kv_done, op);
    }
}

/* ---- KvCheckTxnStatus, KvCheckSecondaryLocks, KvTxnHeartBeat ---------------------------- */

static void pack_check_txn_status(srv_tikv_op *op, const txn_kv_result *res, bs_buf *out)
{
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    Kvrpcpb__CheckTxnStatusResponse r = KVRPCPB__CHECK_TXN_STATUS_RESPONSE__INIT;
    r.error = first_error(&a, res);
    r.lock_ttl = res->lock_ttl;
    r.commit_version = res->commit_ts;
    r.action = (Kvrpcpb__Action)res->action;
    if (res->has_lock_info)
        r.lock_info = lock_info_pb(&a, &res->lock_info);
    srv_grpc_pack(&r.base, out);
    srv_grpc_arena_free(&a);
}

static void run_check_txn_status(srv_tikv_op *op)
{
    REQ(Kvrpcpb__CheckTxnStatusRequest);
    bs_slice key = srv_grpc_bytes(rq->primary_key);
    if (srv_tikv_check_keys(op, &key, 1) && srv_tikv_check_context(op) &&
        srv_tikv_check_key_in_region(op, key, false)) {
        txn_check_txn_status_req q;
        memset(&q, 0, sizeof q);
        q.primary_key = key;
        q.lock_ts = rq->lock_ts;
        q.caller_start_ts = rq->caller_start_ts;
        q.current_ts = rq->current_ts;
        q.rollback_if_not_exist = rq->rollback_if_not_exist;
        q.force_sync_commit = rq->force_sync_commit;
        q.resolving_pessimistic_lock = rq->resolving_pessimistic_lock;
        q.verify_is_primary = rq->verify_is_primary;
        start_write(op, pack_check_txn_status);
        txn_kv_check_txn_status(op->svc->txn, &q, kv_done, op);
    }
}

static void pack_check_secondary_locks(srv_tikv_op *op, const txn_kv_result *res, bs_buf *out)
{
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    Kvrpcpb__CheckSecondaryLocksResponse r = KVRPCPB__CHECK_SECONDARY_LOCKS_RESPONSE__INIT;
    r.error = first_error(&a, res);
    r.n_locks = res->locks.n;
    r.locks = lock_infos_pb(&a, &res->locks);
    r.commit_ts = res->commit_ts;
    srv_grpc_pack(&r.base, out);
    srv_grpc_arena_free(&a);
}

static void run_check_secondary_locks(srv_tikv_op *op)
{
    REQ(Kvrpcpb__CheckSecondaryLocksRequest);
    bs_slice *keys = srv_tikv_slices_of(rq->keys, rq->n_keys);
    if (srv_tikv_check_keys(op, keys, rq->n_keys) && srv_tikv_check_context(op) &&
        srv_tikv_check_keys_in_region(op, keys, rq->n_keys)) {
        start_write(op, pack_check_secondary_locks);
        txn_kv_check_secondary_locks(op->svc->txn, keys, rq->n_keys, rq->start_version, kv_done,
                                     op);
    }
    bs_free(keys);
}

static void pack_txn_heart_beat(srv_tikv_op *op, const txn_kv_result *res, bs_buf *out)
{
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    Kvrpcpb__TxnHeartBeatResponse r = KVRPCPB__TXN_HEART_BEAT_RESPONSE__INIT;
    r.error = first_error(&a, res);
    r.lock_ttl = res->lock_ttl;
    srv_grpc_pack(&r.base, out);
    srv_grpc_arena_free(&a);
}

static void run_txn_heart_beat(srv_tikv_op *op)
{
    REQ(Kvrpcpb__TxnHeartBeatRequest);
    bs_slice key = srv_grpc_bytes(rq->primary_lock);
    if (srv_tikv_check_keys(op, &key, 1) && srv_tikv_check_context(op) &&
        srv_tikv_check_key_in_region(op, key, false)) {
        start_write(op, pack_txn_heart_beat);
        txn_kv_txn_heart_beat(op->svc->txn, key, rq->start_version, rq->advise_lock_ttl, kv_done,
                              op);
    }
}

/* ---- KvResolveLock ------------------------------------------------------------------------- */

static void pack_resolve_lock(srv_tikv_op *op, const txn_kv_result *res, bs_buf *out)
{
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    Kvrpcpb__ResolveLockResponse r = KVRPCPB__RESOLVE_LOCK_RESPONSE__INIT;
    r.error = first_error(&a, res);
    srv_grpc_pack(&r.base, out);
    srv_grpc_arena_free(&a);
}

/* Starts the command over keys, or (none) over [start, end). Builds everything from the
 * request; txn_kv_resolve_lock copies what it keeps. */
static void start_resolve(srv_tikv_op *op, const bs_slice *keys, size_t n_keys, bs_slice start,
                          bs_slice end)
{
    REQ(Kvrpcpb__ResolveLockRequest);
    size_t nt = rq->n_txn_infos ? rq->n_txn_infos : 1;
    txn_resolve_txn *txns = bs_calloc(nt, sizeof(txn_resolve_txn));
    if (rq->n_txn_infos) { /* txn_infos replaces start/commit_version (PROTOCOL.md §2.3) */
        for (size_t i = 0; i < nt; i++) {
            txns[i].start_ts = rq->txn_infos[i]->txn;
            txns[i].commit_ts = rq->txn_infos[i]->status;
        }
    } else {
        txns[0].start_ts = rq->start_version;
        txns[0].commit_ts = rq->commit_version;
    }
    txn_resolve_lock_req q;
    memset(&q, 0, sizeof q);
    q.txns = txns;
    q.n_txns = nt;
    q.keys = keys;
    q.n_keys = n_keys;
    q.start = start;
    q.end = end;
    start_write(op, pack_resolve_lock);
    txn_kv_resolve_lock(op->svc->txn, &q, kv_done, op); /* op may be gone on return */
    bs_free(txns);
}

/* Without keys the whole Region is scanned for the txns' locks (its first batch right
 * here, on a pool thread: a Region may hold many locks of other txns to skip). */
static void resolve_region(srv_tikv_op *op)
{
    bs_buf rs = BS_BUF_INIT, re = BS_BUF_INIT;
    if (srv_tikv_region_raw_bounds(op, &rs, &re) == BS_OK) {
        op->on_worker = false; /* from here on kv_done posts the outcome to the loop */
        start_resolve(op, NULL, 0, bs_buf_slice(&rs), bs_buf_slice(&re));
    }
    bs_buf_free(&rs);
    bs_buf_free(&re);
}

static void run_resolve_lock(srv_tikv_op *op)
{
    REQ(Kvrpcpb__ResolveLockRequest);
    bs_slice *keys = srv_tikv_slices_of(rq->keys, rq->n_keys);
    size_t n = rq->n_keys;
    if (srv_tikv_check_keys(op, keys, n) && srv_tikv_check_context(op) &&
        srv_tikv_check_keys_in_region(op, keys, n)) {
        if (n)
            start_resolve(op, keys, n, BS_SLICE_NULL, BS_SLICE_NULL);
        else
            srv_tikv_offload(op, resolve_region);
    }
    bs_free(keys);
}

/* ---- the table --------------------------------------------------------------------------- */

const srv_tikv_cmd_def srv_tikv_txn_cmds[] = {
#define KV(m, no, req, resp, kind, field, run)                                                     \
    {                                                                                              \
        m, no, &kvrpcpb__##req##__descriptor, &kvrpcpb__##resp##__descriptor, kind, true,          \
            SRV_TIKV_ERR_KEYERROR, field, run                                                      \
    }
    KV("KvGet", 1, get_request, get_response, "get", 2, run_get),
    KV("KvScan", 2, scan_request, scan_response, "scan", 3, run_scan),
    KV("KvPrewrite", 3, prewrite_request, prewrite_response, "prewrite", 2, run_prewrite),
    KV("KvCommit", 4, commit_request, commit_response, "commit", 2, run_commit),
    KV("KvCleanup", 6, cleanup_request, cleanup_response, "cleanup", 2, run_cleanup),
    KV("KvBatchGet", 7, batch_get_request, batch_get_response, "batch_get", 5, run_batch_get),
    KV("KvBatchRollback", 8, batch_rollback_request, batch_rollback_response, "rollback", 2,
       run_batch_rollback),
    KV("KvScanLock", 9, scan_lock_request, scan_lock_response, "scan_lock", 2, run_scan_lock),
    KV("KvResolveLock", 10, resolve_lock_request, resolve_lock_response, "resolve_lock", 2,
       run_resolve_lock),
    KV("KvCheckTxnStatus", 25, check_txn_status_request, check_txn_status_response,
       "check_txn_status", 2, run_check_txn_status),
    KV("KvTxnHeartBeat", 26, txn_heart_beat_request, txn_heart_beat_response, "txn_heart_beat", 2,
       run_txn_heart_beat),
    KV("KvCheckSecondaryLocks", 33, check_secondary_locks_request, check_secondary_locks_response,
       "check_secondary_locks", 2, run_check_secondary_locks),
#undef KV
};

const size_t srv_tikv_txn_cmd_count = sizeof srv_tikv_txn_cmds / sizeof srv_tikv_txn_cmds[0];
