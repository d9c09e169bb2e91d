/* txn_kv.c -- snapshot reads at a timestamp that honour Percolator locks: KvGet,
 * KvBatchGet, KvScan, in both layouts (TiKV src/storage/mvcc/reader/point_getter.rs and
 * scanner/, PROTOCOL.md §5.2).
 *
 * A read at read_ts is correct only if no write at ts <= read_ts can still appear after it
 * looked. Three things give that, in this order:
 *   1. raise max_ts to read_ts: every write that has not chosen its ts yet lands above;
 *   2. check the lock table: a write that chose its ts (a raw write, an 'r' commit, a 1PC)
 *      and is not applied yet makes the read answer "key is being written" (retry);
 *   3. only then take the engine snapshot, so whatever left the table is in it.
 * Then, per key: a Percolator lock that may commit at or below read_ts blocks the read
 * (KeyIsLocked with its LockInfo, per key: the client resolves and retries); otherwise the
 * newest data version at read_ts answers ('x': the newest Put/Delete record, value inline
 * or in CF default at its start_ts; 'r': the newest RawKV version, absent when deleted or
 * expired at the wall clock). A scan walks CF lock and the data CF side by side, so locked
 * keys without any committed version are reported too. Synchronous: a point read or a
 * bounded scan, fine on a network thread. */
#include <string.h>

#include "common/assert.h"
#include "common/clock.h"
#include "common/codec.h"
#include "txn/txn_int.h"

void txn_kv_pair_init(txn_kv_pair *p)
{
    memset(p, 0, sizeof(*p));
}

void txn_kv_pair_deinit(txn_kv_pair *p)
{
    bs_buf_free(&p->key);
    bs_buf_free(&p->value);
    txn_key_error_deinit(&p->error);
    txn_kv_pair_init(p);
}

void txn_kv_pairs_init(txn_kv_pairs *p)
{
    memset(p, 0, sizeof(*p));
}

void txn_kv_pairs_free(txn_kv_pairs *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        txn_kv_pair_deinit(&p->v[i]);
    bs_free(p->v);
    txn_kv_pairs_init(p);
}

static txn_kv_pair *pairs_push(txn_kv_pairs *p)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->v = bs_realloc(p->v, p->cap * sizeof(*p->v));
    }
    txn_kv_pair_init(&p->v[p->n]);
    return &p->v[p->n++];
}

static bool ts_in(const uint64_t *v, size_t n, uint64_t ts)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == ts)
            return true;
    return false;
}

/* TiKV Lock::check_ts_conflict (SI). */
static bool lock_blocks(const kv_lock *l, bs_slice key, const txn_read_opts *o)
{
    if (l->start_ts > o->read_ts)
        return false; /* commits above read_ts */
    if (l->type == KV_LOCK_LOCK || l->type == KV_LOCK_PESSIMISTIC)
        return false; /* changes no data */
    if (l->min_commit_ts > o->read_ts)
        return false; /* pushed past us by CheckTxnStatus */
    if (ts_in(o->resolved_locks, o->n_resolved, l->start_ts))
        return false; /* the client knows it is rolled back (or committed above us) */
    /* An auto-commit point get reads at MAX: the primary is not committed yet, or it
     * would be unlocked, so its old value is the answer. */
    if (o->read_ts == UINT64_MAX && bs_slice_eq(l->primary, key) && !l->use_async_commit)
        return false;
    return true;
}

/* Reads key at o->read_ts into *out (value, commit_ts; or the lock error). Sets *found
 * when out is an answer to return (a value or a lock). */
static int read_key(txn_reader *r, bs_slice key, const txn_read_opts *o, bool want_value,
                    txn_kv_pair *out, bool *found)
{
    txn_lock_rec lr;
    txn_version v;
    bool locked;
    int rc;
    *found = false;
    bs_buf_set(&out->key, key.ptr, key.len);
    bs_buf_reset(&out->value);
    out->commit_ts = 0;
    out->expire_ms = 0;
    out->has_error = false;
    txn_lock_rec_init(&lr);
    txn_version_init(&v);
    rc = txn_reader_load_lock(r, key, &lr, &locked);
    if (rc != BS_OK)
        goto out;
    if (locked && ts_in(o->committed_locks, o->n_committed, lr.lock.start_ts)) {
        /* The client knows this txn committed (below read_ts): its lock holds the value. */
        txn_write_kind kind;
        rc = txn_reader_lock_value(r, key, &lr.lock, &kind, &out->value);
        if (rc != BS_OK || kind == TXN_WRITE_DELETE)
            goto out;
        if (kind == TXN_WRITE_PUT) {
            *found = true;
            if (!want_value)
                bs_buf_reset(&out->value);
            if (txn_key_is_raw(key) && lr.lock.has_basalt_value) {
                kv_raw_value rv; /* lock_value decoded it already: it is well formed */
                if (kv_raw_value_decode(lr.lock.basalt_value, &rv, NULL) == BS_OK &&
                    rv.has_expire)
                    out->expire_ms = rv.expire_ms;
            }
            goto out;
        }
        /* a Lock-type lock: the committed data is older; read it */
    } else if (locked && lock_blocks(&lr.lock, key, o)) {
        (void)txn_ke_locked(&out->error, key, &lr.lock);
        out->has_error = true;
        *found = true;
        goto out;
    }
    rc = txn_reader_newest_version(r, key, o->read_ts, want_value, &v);
    if (rc != BS_OK)
        goto out;
    out->commit_ts = v.commit_ts; /* also on absence: WATCH records the newest version */
    if (v.live) {
        *found = true;
        out->expire_ms = v.expire_ms;
        if (want_value) {
            bs_buf tmp = out->value;
            out->value = v.value;
            v.value = tmp;
        }
    }
out:
    txn_version_deinit(&v);
    txn_lock_rec_deinit(&lr);
    return rc;
}

static int check_opts(const txn_read_opts *o, txn_error *e)
{
    if (o->read_ts == 0)
        return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "read ts must be non-zero");
    return BS_OK;
}

int txn_kv_get(txn_store *s, bs_slice key, const txn_read_opts *o, txn_kv_pair *out,
               txn_error *e)
{
    kv_engine *eng = txn_store_engine(s);
    txn_reader r;
    bs_err err;
    bool found;
    int rc = txn_check_pct_key(key, e);
    if (rc == BS_OK)
        rc = check_opts(o, e);
    if (rc != BS_OK)
        return rc;
    txn_key_error_deinit(&out->error);
    txn_cm_update_max_ts(txn_store_cm(s), o->read_ts);
    if (txn_cm_check_read(txn_store_cm(s), key, o->read_ts) != BS_OK)
        return txn_error_set(e, BS_EBUSY, TXN_ERR_KEY_BEING_WRITTEN, NULL);
    bs_err_clear(&err);
    kv_snapshot *snap = kv_snapshot_new(eng);
    txn_reader_init(&r, eng, snap, (uint64_t)bs_clock_wall_ms(), &err);
    rc = read_key(&r, key, o, true, out, &found);
    kv_snapshot_free(snap);
    if (rc != BS_OK)
        return txn_error_from_bs(e, &err);
    return found ? BS_OK : BS_NOTFOUND;
}

int txn_kv_batch_get(txn_store *s, const bs_slice *keys, size_t n, const txn_read_opts *o,
                     txn_kv_pairs *out, txn_error *e)
{
    kv_engine *eng = txn_store_engine(s);
    txn_kv_pair tmp;
    txn_reader r;
    bs_err err;
    int rc = check_opts(o, e);
    for (size_t i = 0; i < n && rc == BS_OK; i++)
        rc = txn_check_pct_key(keys[i], e);
    if (rc != BS_OK)
        return rc;
    txn_cm_update_max_ts(txn_store_cm(s), o->read_ts);
    for (size_t i = 0; i < n; i++)
        if (txn_cm_check_read(txn_store_cm(s), keys[i], o->read_ts) != BS_OK)
            return txn_error_set(e, BS_EBUSY, TXN_ERR_KEY_BEING_WRITTEN, NULL);
    bs_err_clear(&err);
    kv_snapshot *snap = kv_snapshot_new(eng);
    txn_reader_init(&r, eng, snap, (uint64_t)bs_clock_wall_ms(), &err);
    txn_kv_pair_init(&tmp);
    for (size_t i = 0; i < n && rc == BS_OK; i++) {
        bool found;
        rc = read_key(&r, keys[i], o, true, &tmp, &found);
        if (rc == BS_OK && found) {
            *pairs_push(out) = tmp;
            txn_kv_pair_init(&tmp);
        }
    }
    txn_kv_pair_deinit(&tmp);
    kv_snapshot_free(snap);
    return rc == BS_OK ? BS_OK : txn_error_from_bs(e, &err);
}

/* ---- scan ---------------------------------------------------------------------------- */

/* The scan's key range [lo, hi) with empty bounds filled in from the mode; BS_OK or a
 * validation error. *empty when the range holds nothing. */
static int scan_range(const txn_kv_scan_req *req, bs_buf *lo, bs_buf *hi, kv_cf *data_cf,
                      bool *empty, txn_error *e)
{
    bs_slice l = req->reverse ? req->end : req->start;
    bs_slice h = req->reverse ? req->start : req->end;
    uint8_t mode;
    *empty = false;
    if (l.len) {
        if (txn_check_pct_key(l, e) != BS_OK)
            return e->code;
        mode = l.ptr[0];
    } else if (h.len) {
        if (h.ptr[0] != KV_MODE_RAW && h.ptr[0] != KV_MODE_TXN)
            return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_KEY_MODE, NULL);
        mode = h.ptr[0];
    } else {
        return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT,
                             "a scan needs at least one bound");
    }
    /* hi may be the first key past the mode's space ("y\0\0\0" for 'x'). */
    if (h.len && h.ptr[0] != mode && !(h.ptr[0] == mode + 1 && l.len))
        return txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_KEY_MODE, NULL);
    uint8_t first = mode, past = (uint8_t)(mode + 1);
    bs_buf_set(lo, l.len ? l.ptr : &first, l.len ? l.len : 1);
    bs_buf_set(hi, h.len ? h.ptr : &past, h.len ? h.len : 1);
    *empty = bs_slice_cmp(bs_buf_slice(lo), bs_buf_slice(hi)) >= 0;
    *data_cf = mode == KV_MODE_RAW ? KV_CF_DEFAULT : KV_CF_WRITE;
    return BS_OK;
}

typedef struct scan_state {
    kv_iter *locks, *data;
    bs_buf cur, user, run;
} scan_state;

/* The encoded key (MCE part) at the data iterator. */
static int data_key(kv_iter *it, bs_slice *enc, bs_err *err)
{
    return kv_mvcc_key_split(kv_iter_key(it), enc, NULL, err);
}

/* Picks the next encoded key in scan order into st->cur; *done when both are exhausted. */
static int next_key(scan_state *st, bool reverse, bool *done, bs_err *err)
{
    bool lv = kv_iter_valid(st->locks), dv = kv_iter_valid(st->data);
    bs_slice lk = lv ? kv_iter_key(st->locks) : BS_SLICE_NULL, dk = BS_SLICE_NULL;
    *done = !lv && !dv;
    if (*done)
        return BS_OK;
    if (dv) {
        int rc = data_key(st->data, &dk, err);
        if (rc != BS_OK)
            return rc;
    }
    bs_slice pick;
    if (!lv)
        pick = dk;
    else if (!dv)
        pick = lk;
    else {
        int c = bs_slice_cmp(lk, dk);
        pick = (reverse ? c > 0 : c < 0) ? lk : dk;
    }
    bs_buf_set(&st->cur, pick.ptr, pick.len);
    return BS_OK;
}

/* Moves both iterators past st->cur. */
static int advance(scan_state *st, bool reverse, bs_err *err)
{
    bs_slice cur = bs_buf_slice(&st->cur), dk;
    static const uint8_t ones[KV_TS_LEN] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    if (kv_iter_valid(st->locks) && bs_slice_eq(kv_iter_key(st->locks), cur)) {
        if (reverse)
            kv_iter_prev(st->locks);
        else
            kv_iter_next(st->locks);
    }
    if (!kv_iter_valid(st->data))
        return BS_OK;
    int rc = data_key(st->data, &dk, err);
    if (rc != BS_OK || !bs_slice_eq(dk, cur))
        return rc;
    if (reverse) {
        kv_iter_seek_for_prev(st->data, cur); /* MCE(key) alone sorts below its versions */
        return BS_OK;
    }
    bs_buf_set(&st->run, cur.ptr, cur.len);
    bs_buf_append(&st->run, ones, sizeof(ones)); /* above every version (ts 0 unused) */
    kv_iter_seek(st->data, bs_buf_slice(&st->run));
    if (kv_iter_valid(st->data) && bs_slice_eq(kv_iter_key(st->data), bs_buf_slice(&st->run)))
        kv_iter_next(st->data);
    return BS_OK;
}

int txn_kv_scan(txn_store *s, const txn_kv_scan_req *req, txn_kv_pairs *out, txn_error *e)
{
    kv_engine *eng = txn_store_engine(s);
    bs_buf lo = BS_BUF_INIT, hi = BS_BUF_INIT, elo = BS_BUF_INIT, ehi = BS_BUF_INIT;
    scan_state st = {NULL, NULL, BS_BUF_INIT, BS_BUF_INIT, BS_BUF_INIT};
    txn_kv_pair tmp;
    kv_cf data_cf = KV_CF_WRITE;
    bool empty;
    bs_err err;
    size_t base = out->n;
    int rc = check_opts(&req->read, e);
    if (rc == BS_OK)
        rc = scan_range(req, &lo, &hi, &data_cf, &empty, e);
    if (rc != BS_OK || empty)
        goto done;
    txn_cm_update_max_ts(txn_store_cm(s), req->read.read_ts);
    if (txn_cm_check_range(txn_store_cm(s), bs_buf_slice(&lo), bs_buf_slice(&hi),
                           req->read.read_ts) != BS_OK) {
        rc = txn_error_set(e, BS_EBUSY, TXN_ERR_KEY_BEING_WRITTEN, NULL);
        goto done;
    }
    bs_err_clear(&err);
    bs_mce_append(&elo, bs_buf_slice(&lo));
    bs_mce_append(&ehi, bs_buf_slice(&hi));
    kv_snapshot *snap = kv_snapshot_new(eng);
    txn_reader r;
    txn_reader_init(&r, eng, snap, (uint64_t)bs_clock_wall_ms(), &err);
    st.locks = kv_iter_new(eng, snap, KV_CF_LOCK, bs_buf_slice(&elo), bs_buf_slice(&ehi));
    st.data = kv_iter_new(eng, snap, data_cf, bs_buf_slice(&elo), bs_buf_slice(&ehi));
    if (req->reverse) {
        kv_iter_seek_to_last(st.locks);
        kv_iter_seek_to_last(st.data);
    } else {
        kv_iter_seek_to_first(st.locks);
        kv_iter_seek_to_first(st.data);
    }
    txn_kv_pair_init(&tmp);
    while (rc == BS_OK && (req->limit == 0 || out->n - base < req->limit)) {
        bool done, found;
        rc = next_key(&st, req->reverse, &done, &err);
        if (rc != BS_OK || done)
            break;
        bs_slice enc = bs_buf_slice(&st.cur);
        bs_buf_reset(&st.user);
        if (bs_mce_read(&enc, &st.user) != BS_OK) {
            rc = bs_err_setf(&err, BS_ECORRUPT, "scanned key is not a memcomparable key");
            break;
        }
        rc = read_key(&r, bs_buf_slice(&st.user), &req->read, !req->key_only, &tmp, &found);
        if (rc == BS_OK && found) {
            *pairs_push(out) = tmp;
            txn_kv_pair_init(&tmp);
        }
        if (rc == BS_OK)
            rc = advance(&st, req->reverse, &err);
    }
    if (rc == BS_OK)
        rc = kv_iter_status(st.locks, &err);
    if (rc == BS_OK)
        rc = kv_iter_status(st.data, &err);
    txn_kv_pair_deinit(&tmp);
    kv_iter_free(st.locks);
    kv_iter_free(st.data);
    kv_snapshot_free(snap);
    if (rc != BS_OK)
        rc = txn_error_from_bs(e, &err);
done:
    bs_buf_free(&lo);
    bs_buf_free(&hi);
    bs_buf_free(&elo);
    bs_buf_free(&ehi);
    bs_buf_free(&st.cur);
    bs_buf_free(&st.user);
    bs_buf_free(&st.run);
    return rc;
}

int txn_kv_load_lock(txn_store *s, bs_slice key, txn_lock_info *out, txn_error *e)
{
    kv_engine *eng = txn_store_engine(s);
    txn_lock_rec lr;
    txn_reader r;
    bs_err err;
    bool found;
    int rc = txn_check_pct_key(key, e);
    if (rc != BS_OK)
        return rc;
    bs_err_clear(&err);
    kv_snapshot *snap = kv_snapshot_new(eng);
    txn_reader_init(&r, eng, snap, (uint64_t)bs_clock_wall_ms(), &err);
    txn_lock_rec_init(&lr);
    rc = txn_reader_load_lock(&r, key, &lr, &found);
    if (rc == BS_OK && found)
        txn_lock_info_from_lock(out, key, &lr.lock);
    txn_lock_rec_deinit(&lr);
    kv_snapshot_free(snap);
    if (rc != BS_OK)
        return txn_error_from_bs(e, &err);
    return found ? BS_OK : BS_NOTFOUND;
}
