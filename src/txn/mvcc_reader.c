/* mvcc_reader.c -- reading Percolator state through one snapshot: a key's lock, its write
 * records, this txn's commit record, and the newest data version at a timestamp, in both
 * layouts (TiKV src/storage/mvcc/reader/reader.rs, SnapshotReader).
 *
 * Why a separate reader from mvcc_read.c: raw reads only ever want a key's newest version,
 * while the Percolator actions ask questions "at ts" and "about txn start_ts" of two CFs.
 * The layouts differ only in where data versions live: 'x' keys have them in CF write (Put
 * and Delete records; Lock and Rollback records are not data), 'r' keys in CF default as
 * RawKV versions, which is also where a committed 'r' transaction leaves its value. Every
 * question about one key uses an iterator bounded to that key's versions, so a read never
 * strays into the next key. Bytes from the engine are input: malformed records give
 * BS_ECORRUPT, never an assert. */
#include <string.h>

#include "common/assert.h"
#include "common/codec.h"
#include "txn/txn_int.h"

void txn_reader_init(txn_reader *r, kv_engine *e, kv_snapshot *snap, uint64_t now_ms,
                     bs_err *err)
{
    r->e = e;
    r->snap = snap;
    r->now_ms = now_ms;
    r->err = err;
}

void txn_lock_rec_init(txn_lock_rec *l)
{
    memset(l, 0, sizeof(*l));
}

void txn_lock_rec_deinit(txn_lock_rec *l)
{
    bs_buf_free(&l->raw);
    txn_lock_rec_init(l);
}

void txn_write_rec_init(txn_write_rec *w)
{
    memset(w, 0, sizeof(*w));
}

void txn_write_rec_deinit(txn_write_rec *w)
{
    bs_buf_free(&w->raw);
    txn_write_rec_init(w);
}

void txn_commit_record_init(txn_commit_record *c)
{
    memset(c, 0, sizeof(*c));
}

void txn_commit_record_deinit(txn_commit_record *c)
{
    txn_write_rec_deinit(&c->rec);
    txn_commit_record_init(c);
}

void txn_version_init(txn_version *v)
{
    memset(v, 0, sizeof(*v));
}

void txn_version_deinit(txn_version *v)
{
    bs_buf_free(&v->value);
    txn_version_init(v);
}

int txn_reader_load_lock(txn_reader *r, bs_slice key, txn_lock_rec *out, bool *found)
{
    bs_buf k = BS_BUF_INIT;
    int rc;
    *found = false;
    bs_mce_append(&k, key);
    rc = kv_snapshot_get(r->snap, KV_CF_LOCK, bs_buf_slice(&k), &out->raw, r->err);
    bs_buf_free(&k);
    if (rc == BS_NOTFOUND)
        return BS_OK;
    if (rc != BS_OK)
        return rc;
    rc = kv_lock_decode(bs_buf_slice(&out->raw), &out->lock, r->err);
    if (rc != BS_OK)
        return rc;
    *found = true;
    return BS_OK;
}

/* An iterator over key's versions in cf with down_to <= ts <= from, newest first
 * (MVCC keys sort by ~ts). down_to >= 1: ts 0 is never written. */
static kv_iter *versions_iter(txn_reader *r, kv_cf cf, bs_slice key, uint64_t from,
                              uint64_t down_to)
{
    bs_buf lo = BS_BUF_INIT, hi = BS_BUF_INIT;
    BS_ASSERT(down_to >= 1 && down_to <= from);
    kv_mvcc_key_append(&lo, key, from);
    kv_mvcc_key_append(&hi, key, down_to - 1); /* exclusive */
    kv_iter *it = kv_iter_new(r->e, r->snap, cf, bs_buf_slice(&lo), bs_buf_slice(&hi));
    bs_buf_free(&lo);
    bs_buf_free(&hi);
    kv_iter_seek_to_first(it);
    return it;
}

/* Copies the iterator's current write record into *out. */
static int take_write(txn_reader *r, kv_iter *it, txn_write_rec *out)
{
    bs_slice v = kv_iter_value(it);
    int rc = kv_mvcc_key_split(kv_iter_key(it), &(bs_slice){0}, &out->commit_ts, r->err);
    if (rc != BS_OK)
        return rc;
    bs_buf_set(&out->raw, v.ptr, v.len);
    return kv_write_decode(bs_buf_slice(&out->raw), &out->w, r->err);
}

int txn_reader_seek_write(txn_reader *r, bs_slice key, uint64_t ts, txn_write_rec *out,
                          bool *found)
{
    int rc;
    *found = false;
    if (ts == 0)
        return BS_OK;
    kv_iter *it = versions_iter(r, KV_CF_WRITE, key, ts, 1);
    if (kv_iter_valid(it)) {
        rc = take_write(r, it, out);
        *found = rc == BS_OK;
    } else {
        rc = kv_iter_status(it, r->err);
    }
    kv_iter_free(it);
    return rc;
}

int txn_reader_get_txn_commit_record(txn_reader *r, bs_slice key, uint64_t start_ts,
                                     txn_commit_record *out)
{
    int rc = BS_OK;
    BS_ASSERT(start_ts > 0);
    out->kind = TXN_RECORD_NONE;
    out->has_overlapped = false;
    /* A txn with a smaller start_ts may commit after one with a larger start_ts, so every
     * record down to start_ts is a candidate, not just the newest. */
    kv_iter *it = versions_iter(r, KV_CF_WRITE, key, UINT64_MAX, start_ts);
    for (; kv_iter_valid(it); kv_iter_next(it)) {
        rc = take_write(r, it, &out->rec);
        if (rc != BS_OK)
            break;
        if (out->rec.w.start_ts == start_ts) {
            out->kind = TXN_RECORD_SINGLE;
            break;
        }
        if (out->rec.commit_ts == start_ts) {
            /* Another txn committed exactly at our start_ts: our rollback, if any, can only
             * be a flag on its record. */
            if (out->rec.w.has_overlapped_rollback)
                out->kind = TXN_RECORD_OVERLAPPED_ROLLBACK;
            else
                out->has_overlapped = true;
            break;
        }
    }
    if (rc == BS_OK && out->kind == TXN_RECORD_NONE && !out->has_overlapped)
        rc = kv_iter_status(it, r->err);
    kv_iter_free(it);
    return rc;
}

/* CF default key@start_ts: a 'x' long value, which a Put record without short value must
 * have. */
static int load_long_value(txn_reader *r, bs_slice key, uint64_t start_ts, bs_buf *out)
{
    bs_buf k = BS_BUF_INIT;
    kv_mvcc_key_append(&k, key, start_ts);
    int rc = kv_snapshot_get(r->snap, KV_CF_DEFAULT, bs_buf_slice(&k), out, r->err);
    bs_buf_free(&k);
    if (rc == BS_NOTFOUND)
        return bs_err_setf(r->err, BS_ECORRUPT, "default value of start_ts %llu is missing",
                           (unsigned long long)start_ts);
    return rc;
}

static int newest_txn_version(txn_reader *r, bs_slice key, uint64_t ts, bool want_value,
                              txn_version *out)
{
    txn_write_rec w;
    int rc = BS_OK;
    txn_write_rec_init(&w);
    kv_iter *it = versions_iter(r, KV_CF_WRITE, key, ts, 1);
    for (; kv_iter_valid(it); kv_iter_next(it)) {
        rc = take_write(r, it, &w);
        if (rc != BS_OK)
            break;
        if (w.w.type != KV_WRITE_PUT && w.w.type != KV_WRITE_DELETE)
            continue; /* Lock and Rollback records carry no data */
        out->found = true;
        out->commit_ts = w.commit_ts;
        out->start_ts = w.w.start_ts;
        out->live = w.w.type == KV_WRITE_PUT;
        if (out->live && want_value) {
            if (w.w.has_short_value)
                bs_buf_set(&out->value, w.w.short_value.ptr, w.w.short_value.len);
            else
                rc = load_long_value(r, key, w.w.start_ts, &out->value);
        }
        break;
    }
    if (rc == BS_OK && !out->found)
        rc = kv_iter_status(it, r->err);
    kv_iter_free(it);
    txn_write_rec_deinit(&w);
    return rc;
}

static int newest_raw_version(txn_reader *r, bs_slice key, uint64_t ts, bool want_value,
                              txn_version *out)
{
    int rc;
    kv_iter *it = versions_iter(r, KV_CF_DEFAULT, key, ts, 1);
    if (kv_iter_valid(it)) {
        kv_raw_value v;
        rc = kv_mvcc_key_split(kv_iter_key(it), &(bs_slice){0}, &out->commit_ts, r->err);
        if (rc == BS_OK)
            rc = kv_raw_value_decode(kv_iter_value(it), &v, r->err);
        if (rc == BS_OK) {
            out->found = true;
            out->start_ts = out->commit_ts;
            out->live = !v.deleted && !kv_raw_value_is_expired(&v, r->now_ms);
            out->expire_ms = out->live && v.has_expire ? v.expire_ms : 0;
            if (out->live && want_value)
                bs_buf_set(&out->value, v.value.ptr, v.value.len);
        }
    } else {
        rc = kv_iter_status(it, r->err);
    }
    kv_iter_free(it);
    return rc;
}

int txn_reader_newest_version(txn_reader *r, bs_slice key, uint64_t ts, bool want_value,
                              txn_version *out)
{
    bs_buf_reset(&out->value);
    out->found = out->live = false;
    out->commit_ts = out->start_ts = out->expire_ms = 0;
    if (ts == 0)
        return BS_OK;
    return txn_key_is_raw(key) ? newest_raw_version(r, key, ts, want_value, out)
                               : newest_txn_version(r, key, ts, want_value, out);
}

int txn_reader_lock_value(txn_reader *r, bs_slice key, const kv_lock *l, txn_write_kind *kind,
                          bs_buf *value)
{
    bs_buf_reset(value);
    *kind = TXN_WRITE_NONE;
    if (l->type == KV_LOCK_DELETE) {
        *kind = TXN_WRITE_DELETE;
        return BS_OK;
    }
    if (l->type != KV_LOCK_PUT)
        return BS_OK; /* Lock / Pessimistic: the commit changes no data */
    if (txn_key_is_raw(key)) {
        kv_raw_value v;
        if (!l->has_basalt_value)
            return bs_err_setf(r->err, BS_ECORRUPT, "raw put lock without a pending value");
        int rc = kv_raw_value_decode(l->basalt_value, &v, r->err);
        if (rc != BS_OK)
            return rc;
        if (v.deleted || kv_raw_value_is_expired(&v, r->now_ms)) {
            *kind = TXN_WRITE_DELETE;
            return BS_OK;
        }
        bs_buf_set(value, v.value.ptr, v.value.len);
        *kind = TXN_WRITE_PUT;
        return BS_OK;
    }
    *kind = TXN_WRITE_PUT;
    if (l->has_short_value) {
        bs_buf_set(value, l->short_value.ptr, l->short_value.len);
        return BS_OK;
    }
    return load_long_value(r, key, l->start_ts, value);
}
