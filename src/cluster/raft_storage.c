/* raft_storage.c -- a Region's Raft log and states in CF raft, as raft.h's storage interface.
 *
 * The raftstore writes (append, hard state, truncation) into the round's shared write batch,
 * so every Region's entries of one round reach the disk with one fsync; this file only
 * records the operations and keeps its in-memory picture current. Reads (the interface
 * raft calls) come from a cache of recent entries and fall back to the engine for older
 * ones, which only a leader feeding a slow follower needs. The cache is updated when the
 * append is recorded: raft reads the storage only after raft_advance, by which time the
 * round's write has succeeded (a failed write aborts the store).
 *
 * Log range: entries (truncated_index, last_index]; the term of truncated_index stays
 * answerable from the truncated state. A new Region starts with truncated = applied = 5 at
 * term 5 and no entries (TiKV's RAFT_INIT_LOG_INDEX), the conf state from its peers. */
#include <string.h>

#include "cluster/cluster_int.h"
#include "common/assert.h"

static int put_state(kv_batch *b, void (*key)(bs_buf *, uint64_t), uint64_t rid, bs_buf *val)
{
    bs_buf k = BS_BUF_INIT;
    key(&k, rid);
    kv_batch_put(b, KV_CF_RAFT, bs_buf_slice(&k), bs_buf_slice(val));
    bs_buf_free(&k);
    return BS_OK;
}

void cluster_rs_write_initial(kv_batch *b, const cluster_region *r)
{
    bs_buf v = BS_BUF_INIT;
    cluster_raft_state rst = {{CLUSTER_INIT_TERM, 0, CLUSTER_INIT_INDEX}, CLUSTER_INIT_INDEX};
    cluster_raft_state_encode(&v, &rst);
    put_state(b, cluster_key_raft_state, r->id, &v);
    bs_buf_reset(&v);
    cluster_apply_state ast = {CLUSTER_INIT_INDEX, CLUSTER_INIT_INDEX, CLUSTER_INIT_TERM};
    cluster_apply_state_encode(&v, &ast);
    put_state(b, cluster_key_apply_state, r->id, &v);
    bs_buf_reset(&v);
    cluster_region_state_encode(&v, CLUSTER_PEER_NORMAL, r);
    put_state(b, cluster_key_region_state, r->id, &v);
    bs_buf_free(&v);
}

static int get_state(kv_engine *e, void (*key)(bs_buf *, uint64_t), uint64_t rid, bs_buf *out,
                     bs_err *err)
{
    bs_buf k = BS_BUF_INIT;
    key(&k, rid);
    int rc = kv_get(e, KV_CF_RAFT, bs_buf_slice(&k), out, err);
    bs_buf_free(&k);
    if (rc == BS_NOTFOUND)
        return bs_err_setf(err, BS_ECORRUPT, "region %llu: raft state missing",
                           (unsigned long long)rid);
    return rc;
}

int cluster_rs_load(cluster_raft_storage *rs, kv_engine *e, const cluster_region *r, bs_err *err)
{
    memset(rs, 0, sizeof(*rs));
    rs->engine = e;
    rs->region_id = r->id;
    cluster_region_conf_state(r, &rs->cs);
    bs_buf v = BS_BUF_INIT;
    cluster_raft_state rst;
    int rc = get_state(e, cluster_key_raft_state, r->id, &v, err);
    if (rc == BS_OK)
        rc = cluster_raft_state_decode(bs_buf_slice(&v), &rst, err);
    if (rc == BS_OK)
        rc = get_state(e, cluster_key_apply_state, r->id, &v, err);
    if (rc == BS_OK)
        rc = cluster_apply_state_decode(bs_buf_slice(&v), &rs->apply, err);
    bs_buf_free(&v);
    if (rc != BS_OK)
        return bs_err_wrapf(err, "region %llu load", (unsigned long long)r->id);
    rs->hs = rst.hs;
    rs->last_index = rst.last_index;
    if (rs->last_index < rs->apply.truncated_index)
        rs->last_index = rs->apply.truncated_index;
    if (rs->hs.commit < rs->apply.applied)
        rs->hs.commit = rs->apply.applied; /* apply state may be newer than the hard state */
    rs->cache_first = rs->last_index + 1;
    return BS_OK;
}

void cluster_rs_deinit(cluster_raft_storage *rs)
{
    raft_entries_free(&rs->cache);
    memset(&rs->cache, 0, sizeof(rs->cache));
}

/* ---- cache ---------------------------------------------------------------------------- */

static void cache_truncate_from(cluster_raft_storage *rs, uint64_t index)
{
    if (rs->cache.n == 0)
        return;
    size_t keep = index <= rs->cache_first ? 0 : (size_t)(index - rs->cache_first);
    for (size_t i = keep; i < rs->cache.n; i++)
        raft_entry_release(&rs->cache.v[i]);
    if (keep < rs->cache.n)
        rs->cache.n = keep;
}

static void cache_drop_before(cluster_raft_storage *rs, uint64_t index)
{
    if (rs->cache.n == 0 || index <= rs->cache_first)
        return;
    size_t k = (size_t)(index - rs->cache_first);
    if (k > rs->cache.n)
        k = rs->cache.n;
    for (size_t i = 0; i < k; i++)
        raft_entry_release(&rs->cache.v[i]);
    memmove(rs->cache.v, rs->cache.v + k, (rs->cache.n - k) * sizeof(raft_entry));
    rs->cache.n -= k;
    rs->cache_first += k;
}

static const raft_entry *cache_get(const cluster_raft_storage *rs, uint64_t i)
{
    if (rs->cache.n == 0 || i < rs->cache_first || i >= rs->cache_first + rs->cache.n)
        return NULL;
    return &rs->cache.v[i - rs->cache_first];
}

void cluster_rs_cache_trim(cluster_raft_storage *rs, uint64_t applied)
{
    uint64_t keep_from = rs->last_index > CLUSTER_CACHE_KEEP ? rs->last_index - CLUSTER_CACHE_KEEP : 0;
    uint64_t bound = applied < keep_from ? applied : keep_from;
    cache_drop_before(rs, bound);
}

/* ---- writes --------------------------------------------------------------------------- */

void cluster_rs_append(cluster_raft_storage *rs, const raft_entry *ents, size_t n, kv_batch *b)
{
    if (n == 0)
        return;
    uint64_t fi = ents[0].index, li = ents[n - 1].index;
    BS_ASSERT(fi > rs->apply.truncated_index && fi <= rs->last_index + 1);
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        BS_ASSERT(ents[i].index == fi + i);
        bs_buf_reset(&k);
        bs_buf_reset(&v);
        cluster_key_raft_log(&k, rs->region_id, ents[i].index);
        cluster_entry_encode(&v, &ents[i]);
        kv_batch_put(b, KV_CF_RAFT, bs_buf_slice(&k), bs_buf_slice(&v));
        rs->size_hint += k.len + v.len;
    }
    if (li < rs->last_index) { /* a conflicting suffix beyond the new tail goes */
        bs_buf hi = BS_BUF_INIT;
        bs_buf_reset(&k);
        cluster_key_raft_log(&k, rs->region_id, li + 1);
        cluster_key_raft_log(&hi, rs->region_id, rs->last_index + 1);
        kv_batch_delete_range(b, KV_CF_RAFT, bs_buf_slice(&k), bs_buf_slice(&hi));
        bs_buf_free(&hi);
    }
    bs_buf_free(&k);
    bs_buf_free(&v);

    cache_truncate_from(rs, fi);
    if (rs->cache.n == 0)
        rs->cache_first = fi;
    BS_ASSERT(rs->cache_first + rs->cache.n == fi);
    for (size_t i = 0; i < n; i++) {
        raft_entry e;
        raft_entry_ref(&e, &ents[i]);
        raft_entries_push(&rs->cache, &e);
    }
    rs->last_index = li;
}

void cluster_rs_write_raft_state(cluster_raft_storage *rs, kv_batch *b)
{
    bs_buf v = BS_BUF_INIT;
    cluster_raft_state rst = {rs->hs, rs->last_index};
    cluster_raft_state_encode(&v, &rst);
    put_state(b, cluster_key_raft_state, rs->region_id, &v);
    bs_buf_free(&v);
}

void cluster_rs_compact(cluster_raft_storage *rs, uint64_t index, uint64_t term, kv_batch *b)
{
    if (index <= rs->apply.truncated_index)
        return;
    BS_ASSERT(index <= rs->last_index);
    /* The entries are of about equal size, as far as the hint knows (TiKV does the same). */
    uint64_t total = rs->last_index - rs->apply.truncated_index, kept = rs->last_index - index;
    rs->size_hint = (uint64_t)((double)rs->size_hint * (double)kept / (double)total);
    bs_buf lo = BS_BUF_INIT, hi = BS_BUF_INIT;
    cluster_key_raft_log(&lo, rs->region_id, 0);
    cluster_key_raft_log(&hi, rs->region_id, index + 1);
    kv_batch_delete_range(b, KV_CF_RAFT, bs_buf_slice(&lo), bs_buf_slice(&hi));
    bs_buf_free(&lo);
    bs_buf_free(&hi);
    rs->apply.truncated_index = index;
    rs->apply.truncated_term = term;
    cache_drop_before(rs, index + 1);
}

/* ---- the raft.h interface ------------------------------------------------------------- */

static int st_initial_state(void *ctx, raft_hard_state *hs, raft_conf_state *cs)
{
    cluster_raft_storage *rs = ctx;
    *hs = rs->hs;
    *cs = rs->cs;
    return BS_OK;
}

static uint64_t st_first_index(void *ctx)
{
    cluster_raft_storage *rs = ctx;
    return rs->apply.truncated_index + 1;
}

static uint64_t st_last_index(void *ctx)
{
    cluster_raft_storage *rs = ctx;
    return rs->last_index;
}

static int read_entry(cluster_raft_storage *rs, uint64_t i, raft_entry *out)
{
    const raft_entry *c = cache_get(rs, i);
    if (c) {
        raft_entry_ref(out, c);
        return BS_OK;
    }
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    bs_err err;
    cluster_key_raft_log(&k, rs->region_id, i);
    int rc = kv_get(rs->engine, KV_CF_RAFT, bs_buf_slice(&k), &v, &err);
    if (rc == BS_OK)
        rc = cluster_entry_decode(bs_buf_slice(&v), i, out, &err);
    bs_buf_free(&k);
    bs_buf_free(&v);
    return rc == BS_NOTFOUND ? BS_EIO : rc; /* a hole in the log is a disk failure */
}

static int st_entries(void *ctx, uint64_t lo, uint64_t hi, uint64_t max_size, raft_entries *out)
{
    cluster_raft_storage *rs = ctx;
    if (lo <= rs->apply.truncated_index)
        return RAFT_ECOMPACTED;
    if (hi > rs->last_index + 1)
        return RAFT_EUNAVAILABLE;
    uint64_t total = 0;
    for (uint64_t i = lo; i < hi; i++) {
        raft_entry e;
        memset(&e, 0, sizeof(e));
        int rc = read_entry(rs, i, &e);
        if (rc != BS_OK)
            return rc;
        if (i > lo && total + e.data.len > max_size) {
            raft_entry_release(&e);
            break;
        }
        total += e.data.len;
        raft_entries_push(out, &e);
    }
    return BS_OK;
}

int cluster_rs_term(cluster_raft_storage *rs, uint64_t i, uint64_t *term)
{
    if (i == rs->apply.truncated_index) {
        *term = rs->apply.truncated_term;
        return BS_OK;
    }
    if (i < rs->apply.truncated_index)
        return RAFT_ECOMPACTED;
    if (i > rs->last_index)
        return RAFT_EUNAVAILABLE;
    const raft_entry *c = cache_get(rs, i);
    if (c) {
        *term = c->term;
        return BS_OK;
    }
    raft_entry e;
    memset(&e, 0, sizeof(e));
    int rc = read_entry(rs, i, &e);
    if (rc == BS_OK)
        *term = e.term;
    raft_entry_release(&e);
    return rc;
}

static int st_term(void *ctx, uint64_t i, uint64_t *term)
{
    return cluster_rs_term(ctx, i, term);
}

static int st_snapshot(void *ctx, uint64_t request_index, raft_snapshot *out)
{
    (void)ctx;
    (void)request_index;
    (void)out;
    return RAFT_ESNAP_TEMP; /* snapshots are not implemented yet (cluster.h Status) */
}

static const raft_storage_ops storage_ops = {
    st_initial_state, st_entries, st_term, st_first_index, st_last_index, st_snapshot,
};

raft_storage cluster_rs_storage(cluster_raft_storage *rs)
{
    return (raft_storage){&storage_ops, rs};
}
