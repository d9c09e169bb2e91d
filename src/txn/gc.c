/* gc.c -- garbage collection of RawKV v2 versions: a compaction filter for CF default and
 * a bounded background pass that builds a batch of deletes.
 *
 * Raw reads only ever see a key's newest version, so an older version is garbage once a
 * newer one exists -- but only below the GC safe point, because readers at a timestamp
 * (backup, CDC, snapshot readers of the future transactional path) may still need the
 * version that was newest at their ts.
 *
 * The compaction filter removes a version only when, in the same compaction and just
 * before it, it KEPT a newer version of the same key with ts <= safe point. It never removes
 * a key's newest version, even a deleted marker or an expired value: a compaction sees
 * only the levels it rewrites, so the "newest" version it sees may be shadowing older
 * versions in lower levels that it does not see; dropping it would make one of those older
 * versions the newest again and bring a deleted or expired key back to life. Removing
 * a newest version that is deleted or expired is the background pass's job: it writes
 * deletes for that version and every older one through Raft in one batch, so all
 * replicas drop them together and nothing can resurface.
 *
 * Both rely on one invariant of the whole raw path: nothing ever physically deletes a
 * version without also deleting every older version of the key (RawDeleteRange deletes all
 * of them; this pass deletes whole tails). So a newer version the filter saw and kept
 * still shadows, or was deleted together with, the one it removes.
 *
 * The filter keeps per-thread state (RocksDB runs each (sub)compaction on one thread, in
 * key order) and resets it whenever keys stop increasing or another filter object (another
 * engine) calls, so state never leaks from one key run to an unrelated one. */
#include <pthread.h>
#include <string.h>

#include "common/assert.h"
#include "common/codec.h"
#include "txn/txn_int.h"

typedef struct filter_state {
    const txn_gc_filter *f;
    bs_buf last_key;   /* the last key seen (full MVCC key) */
    bs_buf run;        /* MCE(key) of the current key run */
    bool have_shadow;  /* a version of `run` with ts <= safe point was kept */
} filter_state;

/* Per-thread state lives behind a pthread key whose destructor frees it: RocksDB runs
 * subcompactions on threads that exit, and their buffers must not leak. */
static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;

static void state_free(void *p)
{
    filter_state *st = p;
    bs_buf_free(&st->last_key);
    bs_buf_free(&st->run);
    bs_free(st);
}

static void state_key_create(void)
{
    BS_ASSERT(pthread_key_create(&state_key, state_free) == 0);
}

static filter_state *thread_state(void)
{
    filter_state *st;
    (void)pthread_once(&state_once, state_key_create); /* cannot fail with a valid once */
    st = pthread_getspecific(state_key);
    if (!st) {
        st = bs_calloc(1, sizeof(*st));
        BS_ASSERT(pthread_setspecific(state_key, st) == 0);
    }
    return st;
}

kv_filter_decision txn_gc_compaction_filter(void *arg, kv_cf cf, int level, bs_slice key,
                                            bs_slice value)
{
    const txn_gc_filter *f = arg;
    filter_state *st = thread_state();
    bs_slice enc;
    uint64_t ts;
    (void)level;
    (void)value;
    if (cf != KV_CF_DEFAULT || key.len == 0 || key.ptr[0] != KV_MODE_RAW ||
        kv_mvcc_key_split(key, &enc, &ts, NULL) != BS_OK) {
        st->f = NULL; /* not a raw version: forget the run */
        return KV_FILTER_KEEP;
    }
    uint64_t sp = atomic_load(&((txn_gc_filter *)f)->safe_point);
    bool same_run = st->f == f && bs_slice_cmp(key, bs_buf_slice(&st->last_key)) > 0 &&
                    bs_slice_eq(enc, bs_buf_slice(&st->run));
    bs_buf_set(&st->last_key, key.ptr, key.len);
    if (!same_run) {
        st->f = f;
        bs_buf_set(&st->run, enc.ptr, enc.len);
        st->have_shadow = false;
    } else if (st->have_shadow) {
        return KV_FILTER_REMOVE; /* older than a kept version that is <= safe point */
    }
    if (ts <= sp)
        st->have_shadow = true;
    return KV_FILTER_KEEP;
}

int txn_gc_pass(kv_engine *e, uint64_t safe_point, uint64_t now_ms, size_t limit,
                bs_buf *cursor, kv_batch **out, bs_err *err)
{
    bs_buf lo = BS_BUF_INIT, hi = BS_BUF_INIT, run = BS_BUF_INIT;
    kv_snapshot *snap = kv_snapshot_new(e);
    kv_batch *b = kv_batch_new();
    size_t deletes = 0, versions = 0;
    bool drop_all = false, kept_below_sp = false, in_run = false;
    int rc = BS_OK;
    if (cursor->len)
        bs_buf_set(&lo, cursor->ptr, cursor->len);
    else
        txn_range_bound(BS_SLICE_NULL, false, &lo);
    txn_range_bound(BS_SLICE_NULL, true, &hi);
    bs_buf_reset(cursor);
    kv_iter *it =
        kv_iter_new_sweep(e, snap, KV_CF_DEFAULT, bs_buf_slice(&lo), bs_buf_slice(&hi));
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it)) {
        bs_slice key = kv_iter_key(it), enc;
        uint64_t ts;
        rc = kv_mvcc_key_split(key, &enc, &ts, err);
        if (rc != BS_OK)
            break;
        if (!in_run || !bs_slice_eq(enc, bs_buf_slice(&run))) {
            /* A new key: stop here when the batch is full or the pass read enough, so runs
             * are never split. */
            if (limit && (deletes >= limit || versions >= limit * TXN_GC_READS_PER_DELETE)) {
                bs_buf_set(cursor, enc.ptr, enc.len);
                break;
            }
            kv_raw_value v;
            in_run = true;
            bs_buf_set(&run, enc.ptr, enc.len);
            rc = kv_raw_value_decode(kv_iter_value(it), &v, err);
            if (rc != BS_OK)
                break;
            drop_all = ts <= safe_point && (v.deleted || kv_raw_value_is_expired(&v, now_ms));
            kept_below_sp = false;
        }
        versions++;
        if (drop_all || kept_below_sp) {
            kv_batch_delete(b, KV_CF_DEFAULT, key);
            deletes++;
        } else if (ts <= safe_point) {
            kept_below_sp = true; /* the newest version at the safe point: keep it */
        }
    }
    if (rc == BS_OK && !cursor->len)
        rc = kv_iter_status(it, err);
    kv_iter_free(it);
    kv_snapshot_free(snap);
    bs_buf_free(&lo);
    bs_buf_free(&hi);
    bs_buf_free(&run);
    if (rc != BS_OK) {
        kv_batch_free(b);
        bs_buf_reset(cursor);
        return rc;
    }
    *out = b;
    return BS_OK;
}
