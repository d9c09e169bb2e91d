/* gc_write.c -- the second half of transactional GC: commit and rollback records (CF write)
 * below the safe point, and the TxnKV values (CF default) they point to.
 *
 * Runs only after gc_lock.c resolved every lock with start_ts <= safe point, so no txn
 * below the safe point is undecided: its records are history. The safe point is also below
 * the start_ts of every running txn and of every read a client may still make (clients
 * register their oldest start_ts with PD), so no legitimate read or write asks about a
 * version at or below it, except through the newest version at it.
 *
 * 'x' keys follow TiKV's gc action (src/storage/txn/actions/gc.rs), per key, walking its
 * records newest first: records above the safe point are skipped; then Rollback and Lock
 * records are deleted until the first Put or Delete (they carry no data); a Put is the value
 * every read at or above the safe point sees, so it stays (with its CF default value) and
 * everything older goes; a Delete means the key reads as absent, so everything older goes
 * and the Delete itself last -- in the same batch as the last older record, so if the pass
 * stops inside the key, the Delete still shadows what is left. A pass that stops inside a
 * key resumes at that key's newest record, after the previous batch applied, and reaches
 * the same decisions on what remains (the kept Put or Delete is still the newest at the
 * safe point). Protected rollbacks below the safe point go too, as in TiKV: they guard
 * against a late prewrite of a txn below the safe point, and there is none.
 *
 * 'r' keys (MULTI/EXEC over RawKV) keep their values as raw versions in CF default; CF
 * write only holds commit records {type, start_ts} without value, and rollback records.
 * Every record with commit_ts <= safe point can go, the newest included. Who reads them:
 *   - raw reads and scans, and Percolator reads of 'r' keys (mvcc_read.c, mvcc_reader.c
 *     newest_raw_version): CF default only, never CF write;
 *   - commit's idempotency check (commit.c: "committed before: a retry"): a retried commit
 *     comes from the txn's coordinator, whose start_ts is above the safe point while it
 *     runs (its service safe point); a dead coordinator retries nothing;
 *   - rollback / cleanup and check_secondary_locks (rollback.c, get_txn_commit_record):
 *     asked about a txn below the safe point they find no record and write a rollback
 *     record; with every lock of that txn already resolved this changes no data (an 'r'
 *     rollback never touches CF default) and the next sweep removes the stray record;
 *   - check_txn_status (the committed ts): its callers are lock resolvers, and every lock
 *     below the safe point is resolved before this pass runs; a resolver that read a lock
 *     before GC resolved it gets "rolled back" (a protected rollback on the primary) and
 *     then finds the lock of the key it met already gone: it resolves nothing wrong, the
 *     committed raw version stays, and its caller re-reads;
 *   - prewrite's conflict checks (newer records, SelfRolledBack at start_ts): a txn's
 *     start_ts is above the safe point, so a record at or below it is never "newer", and
 *     a rollback tombstone at a start_ts below it only stops a late prewrite of a dead
 *     txn -- TiKV accepts that risk for 'x' keys too;
 *   - raw_lock.c resolves raw-path locks through check_txn_status: as resolvers above.
 * So nothing is kept for a late request below the safe point: none can need it.
 *
 * Why not in a compaction filter (TiKV's WriteCompactionFilter): a filter runs on each
 * replica at its own compaction times, so replicas would differ in what they hold below
 * the safe point, and it sees only the levels it rewrites, so it could not safely drop a
 * key's newest Delete. Deletes proposed through Raft keep replicas identical. */
#include <string.h>

#include "common/assert.h"
#include "txn/txn_int.h"

typedef enum gc_state {
    GC_REWIND = 0, /* above the safe point: skip */
    GC_IDEMPOTENT, /* at or below it, before the newest Put/Delete: drop Rollback/Lock */
    GC_ALL,        /* past the newest Put/Delete: drop everything */
} gc_state;

typedef struct gc_walk {
    kv_batch *b;
    size_t deletes;
    bs_buf run;         /* MCE(key) of the key being walked */
    uint8_t mode;       /* its mode byte ('r', 'x', or another: skipped) */
    gc_state state;
    bool pending;       /* 'x': the newest record at the safe point is a Delete ... */
    bs_buf pending_key; /* ... at this CF write key, deleted once the key is complete */
} gc_walk;

static void delete_record(gc_walk *g, bs_slice write_key, const kv_write *w)
{
    kv_batch_delete(g->b, KV_CF_WRITE, write_key);
    g->deletes++;
    if (g->mode == KV_MODE_TXN && w->type == KV_WRITE_PUT && !w->has_short_value) {
        bs_buf vk = BS_BUF_INIT; /* the long value lives at key@start_ts */
        bs_buf_set(&vk, g->run.ptr, g->run.len);
        kv_ts_suffix_append(&vk, w->start_ts);
        kv_batch_delete(g->b, KV_CF_DEFAULT, bs_buf_slice(&vk));
        g->deletes++;
        bs_buf_free(&vk);
    }
}

/* The walk of the current key reached its end: the newest Delete goes with the rest. */
static void complete_key(gc_walk *g)
{
    if (g->pending) {
        kv_batch_delete(g->b, KV_CF_WRITE, bs_buf_slice(&g->pending_key));
        g->deletes++;
    }
    g->pending = false;
}

/* One record of an 'x' key at or below the safe point. */
static void step_txn(gc_walk *g, bs_slice write_key, const kv_write *w)
{
    if (g->state == GC_ALL) {
        delete_record(g, write_key, w);
        return;
    }
    BS_ASSERT(g->state == GC_IDEMPOTENT);
    switch (w->type) {
    case KV_WRITE_PUT:
        g->state = GC_ALL; /* the value reads see: kept */
        break;
    case KV_WRITE_DELETE:
        g->state = GC_ALL;
        g->pending = true;
        bs_buf_set(&g->pending_key, write_key.ptr, write_key.len);
        break;
    case KV_WRITE_ROLLBACK:
    case KV_WRITE_LOCK:
        delete_record(g, write_key, w);
        break;
    }
}

int txn_gc_write_pass(kv_engine *e, uint64_t safe_point, size_t limit, bs_buf *cursor,
                      kv_batch **out, bs_err *err)
{
    bs_buf lo = BS_BUF_INIT;
    gc_walk g;
    bool in_run = false, stopped = false;
    size_t records = 0;
    int rc = BS_OK;
    memset(&g, 0, sizeof(g));
    g.b = kv_batch_new();
    bs_buf_set(&lo, cursor->ptr, cursor->len);
    bs_buf_reset(cursor);
    kv_snapshot *snap = kv_snapshot_new(e);
    kv_iter *it = kv_iter_new_sweep(e, snap, KV_CF_WRITE, bs_buf_slice(&lo), BS_SLICE_NULL);
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it)) {
        bs_slice key = kv_iter_key(it), enc;
        uint64_t ts;
        kv_write w;
        rc = kv_mvcc_key_split(key, &enc, &ts, err);
        if (rc != BS_OK)
            break;
        if (!in_run || !bs_slice_eq(enc, bs_buf_slice(&g.run))) {
            if (in_run)
                complete_key(&g);
            if (limit && records >= limit * TXN_GC_READS_PER_DELETE) {
                /* Read enough: stop between two keys (the previous one is complete). */
                bs_buf_set(cursor, enc.ptr, enc.len);
                stopped = true;
                break;
            }
            in_run = true;
            bs_buf_set(&g.run, enc.ptr, enc.len);
            /* MCE keeps a non-empty key's first byte first: the mode. */
            g.mode = enc.len ? enc.ptr[0] : 0;
            g.state = GC_REWIND;
        }
        records++;
        if (g.mode != KV_MODE_TXN && g.mode != KV_MODE_RAW)
            continue; /* not a Percolator key of Basalt's: left alone */
        if (ts > safe_point)
            continue;
        rc = kv_write_decode(kv_iter_value(it), &w, err);
        if (rc != BS_OK)
            break;
        if (g.state == GC_REWIND)
            g.state = GC_IDEMPOTENT;
        if (limit && g.deletes >= limit) {
            /* Stop before this record; the next pass walks this key again from its newest
             * record. A pending Delete stays: older records of the key are left. */
            bs_buf_set(cursor, enc.ptr, enc.len);
            stopped = true;
            break;
        }
        if (g.mode == KV_MODE_RAW)
            delete_record(&g, key, &w); /* no data in CF write: every record goes */
        else
            step_txn(&g, key, &w);
    }
    if (rc == BS_OK && !stopped) {
        rc = kv_iter_status(it, err);
        if (rc == BS_OK && in_run)
            complete_key(&g);
    }
    kv_iter_free(it);
    kv_snapshot_free(snap);
    bs_buf_free(&lo);
    bs_buf_free(&g.run);
    bs_buf_free(&g.pending_key);
    if (rc != BS_OK) {
        kv_batch_free(g.b);
        bs_buf_reset(cursor);
        return rc;
    }
    BS_ASSERT(kv_batch_count(g.b) == g.deletes);
    *out = g.b;
    return BS_OK;
}
