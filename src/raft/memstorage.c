/* memstorage.c -- raft_storage kept in memory, for tests, the simulation and the bench.
 *
 * Holds the hard state, the conf state, the last snapshot and the entries after it.
 * ents[0] is a dummy entry at the compaction point (the snapshot's index and term), so
 * the term of first_index - 1 is always answerable and ents[i].index == ents[0].index + i.
 * Entries share their bytes with the node through references: appending costs no copy.
 * Mirrors etcd raft storage.go (MemoryStorage). */
#include <string.h>

#include "raft/raft_int.h"

struct raft_memstorage {
    raft_hard_state hs;
    raft_conf_state cs;
    raft_snapshot snap;
    raft_entry *ents; /* ents[0] is the dummy */
    size_t n, cap;
    raft_memstorage_gen_fn gen;
    void *gen_ctx;
};

void raft_memstorage_set_snapshot_gen(raft_memstorage *ms, raft_memstorage_gen_fn fn, void *ctx)
{
    ms->gen = fn;
    ms->gen_ctx = ctx;
}

raft_memstorage *raft_memstorage_new(const raft_conf_state *cs)
{
    raft_memstorage *ms = bs_calloc(1, sizeof(*ms));
    if (cs)
        ms->cs = *cs;
    ms->snap.meta.conf_state = ms->cs;
    ms->cap = 64;
    ms->ents = bs_calloc(ms->cap, sizeof(raft_entry));
    ms->n = 1;
    return ms;
}

static void release_from(raft_memstorage *ms, size_t from)
{
    for (size_t i = from; i < ms->n; i++)
        raft_entry_release(&ms->ents[i]);
    if (from < ms->n)
        ms->n = from;
}

void raft_memstorage_free(raft_memstorage *ms)
{
    if (!ms)
        return;
    release_from(ms, 0);
    bs_free(ms->ents);
    raft_snapshot_release(&ms->snap);
    bs_free(ms);
}

static uint64_t first_index(void *ctx)
{
    raft_memstorage *ms = ctx;
    return ms->ents[0].index + 1;
}

static uint64_t last_index(void *ctx)
{
    raft_memstorage *ms = ctx;
    return ms->ents[0].index + ms->n - 1;
}

static int initial_state(void *ctx, raft_hard_state *hs, raft_conf_state *cs)
{
    raft_memstorage *ms = ctx;
    *hs = ms->hs;
    *cs = ms->cs;
    return BS_OK;
}

static int entries(void *ctx, uint64_t lo, uint64_t hi, uint64_t max_size, raft_entries *out)
{
    raft_memstorage *ms = ctx;
    uint64_t off = ms->ents[0].index;
    if (lo <= off)
        return RAFT_ECOMPACTED;
    if (hi > last_index(ms) + 1)
        return RAFT_EUNAVAILABLE;
    uint64_t size = 0;
    raft_entries_reserve(out, (size_t)(hi - lo));
    for (uint64_t i = lo; i < hi; i++) {
        const raft_entry *e = &ms->ents[i - off];
        uint64_t es = raft_entry_size(e);
        if (i > lo && size + es > max_size)
            break;
        raft_entry c;
        raft_entry_ref(&c, e);
        raft_entries_push(out, &c);
        size += es;
    }
    return BS_OK;
}

static int term(void *ctx, uint64_t i, uint64_t *t)
{
    raft_memstorage *ms = ctx;
    uint64_t off = ms->ents[0].index;
    *t = 0;
    if (i < off)
        return RAFT_ECOMPACTED;
    if (i > last_index(ms))
        return RAFT_EUNAVAILABLE;
    *t = ms->ents[i - off].term;
    return BS_OK;
}

static int snapshot(void *ctx, uint64_t request_index, raft_snapshot *out)
{
    raft_memstorage *ms = ctx;
    if (ms->gen)
        ms->gen(ms->gen_ctx, ms, request_index);
    raft_snapshot_ref(out, &ms->snap);
    return BS_OK;
}

static const raft_storage_ops memstorage_ops = {
    .initial_state = initial_state,
    .entries = entries,
    .term = term,
    .first_index = first_index,
    .last_index = last_index,
    .snapshot = snapshot,
};

raft_storage raft_memstorage_storage(raft_memstorage *ms)
{
    return (raft_storage){&memstorage_ops, ms};
}

void raft_memstorage_set_hard_state(raft_memstorage *ms, const raft_hard_state *hs)
{
    ms->hs = *hs;
}

void raft_memstorage_hard_state(const raft_memstorage *ms, raft_hard_state *out)
{
    *out = ms->hs;
}

void raft_memstorage_set_conf_state(raft_memstorage *ms, const raft_conf_state *cs)
{
    ms->cs = *cs;
}

const raft_snapshot *raft_memstorage_snapshot_ref(const raft_memstorage *ms)
{
    return &ms->snap;
}

static void reserve(raft_memstorage *ms, size_t extra)
{
    if (ms->n + extra <= ms->cap)
        return;
    while (ms->cap < ms->n + extra)
        ms->cap *= 2;
    ms->ents = bs_realloc(ms->ents, ms->cap * sizeof(raft_entry));
}

void raft_memstorage_append(raft_memstorage *ms, const raft_entry *ents, size_t n)
{
    if (n == 0)
        return;
    uint64_t first = first_index(ms);
    uint64_t last = ents[0].index + n - 1;
    if (last < first)
        return; /* all compacted away */
    if (ents[0].index < first) {
        size_t skip = (size_t)(first - ents[0].index);
        ents += skip;
        n -= skip;
    }
    uint64_t off = ms->ents[0].index;
    BS_ASSERT(ents[0].index <= last_index(ms) + 1); /* no gap */
    /* Truncate the conflicting (or overlapping) suffix, then append. */
    release_from(ms, (size_t)(ents[0].index - off));
    reserve(ms, n);
    for (size_t i = 0; i < n; i++)
        raft_entry_ref(&ms->ents[ms->n + i], &ents[i]);
    ms->n += n;
}

void raft_memstorage_apply_snapshot(raft_memstorage *ms, const raft_snapshot *s)
{
    if (s->meta.index <= ms->snap.meta.index)
        return;
    raft_snapshot_release(&ms->snap);
    raft_snapshot_ref(&ms->snap, s);
    release_from(ms, 0);
    ms->n = 1;
    memset(&ms->ents[0], 0, sizeof(raft_entry));
    ms->ents[0].index = s->meta.index;
    ms->ents[0].term = s->meta.term;
    ms->cs = s->meta.conf_state;
    if (ms->hs.commit < s->meta.index)
        ms->hs.commit = s->meta.index;
}

int raft_memstorage_create_snapshot(raft_memstorage *ms, uint64_t i, const raft_conf_state *cs,
                                    bs_slice data, bs_err *err)
{
    if (i <= ms->snap.meta.index)
        return bs_err_setf(err, BS_ERANGE, "snapshot %llu is not newer than %llu",
                           (unsigned long long)i, (unsigned long long)ms->snap.meta.index);
    if (i > last_index(ms))
        return bs_err_setf(err, BS_ERANGE, "snapshot %llu beyond last index %llu",
                           (unsigned long long)i, (unsigned long long)last_index(ms));
    raft_snapshot_release(&ms->snap);
    ms->snap.meta.index = i;
    ms->snap.meta.term = ms->ents[i - ms->ents[0].index].term;
    if (cs)
        ms->snap.meta.conf_state = *cs;
    raft_snapshot_set_data(&ms->snap, data.ptr, data.len);
    return BS_OK;
}

int raft_memstorage_compact(raft_memstorage *ms, uint64_t i, bs_err *err)
{
    uint64_t off = ms->ents[0].index;
    if (i <= off)
        return bs_err_setf(err, BS_ERANGE, "compact %llu: already compacted to %llu",
                           (unsigned long long)i, (unsigned long long)off);
    if (i > last_index(ms))
        return bs_err_setf(err, BS_ERANGE, "compact %llu beyond last index %llu",
                           (unsigned long long)i, (unsigned long long)last_index(ms));
    size_t k = (size_t)(i - off);
    /* The entry at i becomes the new dummy: keep index and term, drop its bytes. */
    for (size_t j = 0; j <= k; j++)
        raft_entry_release(&ms->ents[j]);
    memmove(ms->ents, ms->ents + k, (ms->n - k) * sizeof(raft_entry));
    ms->n -= k;
    ms->ents[0].type = RAFT_ENTRY_NORMAL;
    return BS_OK;
}
