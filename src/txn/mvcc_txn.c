/* mvcc_txn.c -- what a Percolator action produces: additions to one write batch, plus the
 * data versions the command layer must hold in the lock table until they apply (TiKV
 * src/storage/mvcc/txn.rs, MvccTxn and its `modifies`).
 *
 * Actions never write to the engine (STYLE.md §11): the batch is proposed through the
 * Region's Raft group, so a prewrite or commit is durable exactly when its entry applies.
 * Key shapes live here and only here: CF lock MCE(key), CF write and CF default
 * MCE(key) ‖ ~ts (kv.h). A guard is recorded for a data version that becomes readable at a
 * ts other commands may already read at -- an 'r' commit, or any 1PC commit -- because no
 * lock in CF lock announces it to readers that do not check CF lock (raw reads) or that
 * read before the batch applies (1PC). */
#include <string.h>

#include "common/assert.h"
#include "common/codec.h"
#include "txn/txn_int.h"

void txn_act_init(txn_act *a, kv_engine *e, kv_snapshot *snap, txn_cm *cm, uint64_t now_ms)
{
    memset(a, 0, sizeof(*a));
    bs_err_clear(&a->err);
    txn_reader_init(&a->r, e, snap, now_ms, &a->err);
    a->b = kv_batch_new();
    a->cm = cm;
}

static void guards_clear(txn_act *a)
{
    for (size_t i = 0; i < a->n_guards; i++) {
        bs_buf_free(&a->guards[i].key);
        txn_write_deinit(&a->guards[i].write);
    }
    a->n_guards = 0;
}

void txn_act_deinit(txn_act *a)
{
    guards_clear(a);
    bs_free(a->guards);
    kv_batch_free(a->b);
    memset(a, 0, sizeof(*a));
}

void txn_act_reset(txn_act *a)
{
    guards_clear(a);
    kv_batch_clear(a->b);
}

kv_batch *txn_act_take_batch(txn_act *a)
{
    kv_batch *b = a->b;
    a->b = kv_batch_new();
    return b;
}

void txn_mvcc_put_lock(txn_act *a, bs_slice key, const kv_lock *l)
{
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    BS_ASSERT(l->start_ts > 0);
    bs_mce_append(&k, key);
    kv_lock_encode(&v, l);
    kv_batch_put(a->b, KV_CF_LOCK, bs_buf_slice(&k), bs_buf_slice(&v));
    bs_buf_free(&k);
    bs_buf_free(&v);
}

void txn_mvcc_unlock(txn_act *a, bs_slice key)
{
    bs_buf k = BS_BUF_INIT;
    bs_mce_append(&k, key);
    kv_batch_delete(a->b, KV_CF_LOCK, bs_buf_slice(&k));
    bs_buf_free(&k);
}

void txn_mvcc_put_write(txn_act *a, bs_slice key, uint64_t commit_ts, const kv_write *w)
{
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    BS_ASSERT(commit_ts > 0 && w->start_ts > 0 && w->start_ts <= commit_ts);
    kv_mvcc_key_append(&k, key, commit_ts);
    kv_write_encode(&v, w);
    kv_batch_put(a->b, KV_CF_WRITE, bs_buf_slice(&k), bs_buf_slice(&v));
    bs_buf_free(&k);
    bs_buf_free(&v);
}

void txn_mvcc_delete_write(txn_act *a, bs_slice key, uint64_t commit_ts)
{
    bs_buf k = BS_BUF_INIT;
    kv_mvcc_key_append(&k, key, commit_ts);
    kv_batch_delete(a->b, KV_CF_WRITE, bs_buf_slice(&k));
    bs_buf_free(&k);
}

void txn_mvcc_put_value(txn_act *a, bs_slice key, uint64_t ts, bs_slice value)
{
    bs_buf k = BS_BUF_INIT;
    BS_ASSERT(ts > 0);
    kv_mvcc_key_append(&k, key, ts);
    kv_batch_put(a->b, KV_CF_DEFAULT, bs_buf_slice(&k), value);
    bs_buf_free(&k);
}

void txn_mvcc_delete_value(txn_act *a, bs_slice key, uint64_t ts)
{
    bs_buf k = BS_BUF_INIT;
    kv_mvcc_key_append(&k, key, ts);
    kv_batch_delete(a->b, KV_CF_DEFAULT, bs_buf_slice(&k));
    bs_buf_free(&k);
}

void txn_act_guard(txn_act *a, bs_slice key, uint64_t ts, const txn_write *w)
{
    BS_ASSERT(w->kind == TXN_WRITE_PUT || w->kind == TXN_WRITE_DELETE);
    if (a->n_guards == a->cap_guards) {
        a->cap_guards = a->cap_guards ? a->cap_guards * 2 : 8;
        a->guards = bs_realloc(a->guards, a->cap_guards * sizeof(*a->guards));
    }
    txn_guard_spec *g = &a->guards[a->n_guards++];
    memset(g, 0, sizeof(*g));
    bs_buf_set(&g->key, key.ptr, key.len);
    g->ts = ts;
    g->idx = a->cur_idx;
    g->write.kind = w->kind;
    g->write.expire_ms = w->expire_ms;
    bs_buf_set(&g->write.value, w->value.ptr, w->value.len);
}
