/* log.c -- the Raft log: the owner's persisted storage plus an unstable tail.
 *
 * Entries at index >= offset (and a snapshot being installed) live here until the owner
 * reports them persisted through raft_advance; everything below comes from raft_storage.
 * Mirrors etcd raft's raftLog and unstable (log.go, log_unstable.go).
 * Invariants:
 *   - applied <= committed <= last_index();
 *   - with an unstable snapshot s, offset == s.index + 1 and the storage is not consulted;
 *   - entries in storage at index >= offset are stale (about to be overwritten).
 * Storage answers other than BS_OK / RAFT_ECOMPACTED / RAFT_EUNAVAILABLE abort: a node
 * cannot run on a log it cannot read (etcd and raft-rs panic there too). */
#include <string.h>

#include "raft/raft_int.h"

#define LIVE(l) ((l)->ents + (l)->start)

static void storage_check(int rc)
{
    BS_ASSERT(rc == BS_OK || rc == RAFT_ECOMPACTED || rc == RAFT_EUNAVAILABLE);
}

void raft_log_init(raft_log *l, raft_storage st, uint64_t max_apply_size)
{
    memset(l, 0, sizeof(*l));
    l->st = st;
    l->offset = st.ops->last_index(st.ctx) + 1;
    uint64_t first = st.ops->first_index(st.ctx);
    /* A fresh or restarted node has applied at least up to its compaction point. */
    l->committed = first - 1;
    l->applied = first - 1;
    l->max_apply_size = max_apply_size;
}

static void release_unstable(raft_log *l, size_t from)
{
    for (size_t i = from; i < l->n; i++)
        raft_entry_release(&LIVE(l)[i]);
    l->n = from < l->n ? from : l->n;
}

void raft_log_deinit(raft_log *l)
{
    release_unstable(l, 0);
    bs_free(l->ents);
    if (l->has_snap)
        raft_snapshot_release(&l->snap);
    memset(l, 0, sizeof(*l));
}

uint64_t raft_log_first_index(const raft_log *l)
{
    if (l->has_snap)
        return l->snap.meta.index + 1;
    return l->st.ops->first_index(l->st.ctx);
}

uint64_t raft_log_last_index(const raft_log *l)
{
    if (l->n > 0)
        return l->offset + l->n - 1;
    if (l->has_snap)
        return l->snap.meta.index;
    return l->offset - 1;
}

int raft_log_term_ex(const raft_log *l, uint64_t i, uint64_t *t)
{
    *t = 0;
    uint64_t dummy = raft_log_first_index(l) - 1;
    if (i < dummy)
        return RAFT_ECOMPACTED;
    if (i > raft_log_last_index(l))
        return RAFT_EUNAVAILABLE;
    if (l->n > 0 && i >= l->offset) {
        *t = LIVE(l)[i - l->offset].term;
        return BS_OK;
    }
    if (l->has_snap) {
        BS_ASSERT(i == l->snap.meta.index);
        *t = l->snap.meta.term;
        return BS_OK;
    }
    int rc = l->st.ops->term(l->st.ctx, i, t);
    storage_check(rc);
    if (rc != BS_OK)
        *t = 0;
    return rc;
}

uint64_t raft_log_term(const raft_log *l, uint64_t i)
{
    uint64_t t;
    (void)raft_log_term_ex(l, i, &t); /* t is 0 for compacted/unavailable, as wanted */
    return t;
}

uint64_t raft_log_last_term(const raft_log *l)
{
    return raft_log_term(l, raft_log_last_index(l));
}

bool raft_log_match_term(const raft_log *l, uint64_t i, uint64_t t)
{
    uint64_t got;
    if (raft_log_term_ex(l, i, &got) != BS_OK)
        return false;
    return got == t;
}

bool raft_log_is_up_to_date(const raft_log *l, uint64_t last_index, uint64_t term)
{
    uint64_t lt = raft_log_last_term(l);
    return term > lt || (term == lt && last_index >= raft_log_last_index(l));
}

static void reserve_unstable(raft_log *l, size_t extra)
{
    if (l->start + l->n + extra <= l->cap)
        return;
    if (l->start > 0) {
        memmove(l->ents, LIVE(l), l->n * sizeof(raft_entry));
        l->start = 0;
        if (l->n + extra <= l->cap)
            return;
    }
    size_t cap = l->cap ? l->cap * 2 : 64;
    while (cap < l->n + extra)
        cap *= 2;
    l->ents = bs_realloc(l->ents, cap * sizeof(raft_entry));
    l->cap = cap;
}

uint64_t raft_log_append(raft_log *l, const raft_entry *ents, size_t n)
{
    if (n == 0)
        return raft_log_last_index(l);
    uint64_t after = ents[0].index;
    BS_ASSERT(after > l->committed);
    if (after == l->offset + l->n) {
        /* the common case: extend */
    } else if (after <= l->offset) {
        /* Replace the whole unstable tail; the storage suffix from `after` is stale. */
        release_unstable(l, 0);
        l->start = 0;
        l->offset = after;
    } else {
        release_unstable(l, (size_t)(after - l->offset));
    }
    reserve_unstable(l, n);
    raft_entry *dst = LIVE(l) + l->n;
    for (size_t i = 0; i < n; i++) {
        BS_DASSERT(ents[i].index == after + i);
        raft_entry_ref(&dst[i], &ents[i]);
    }
    l->n += n;
    return raft_log_last_index(l);
}

static uint64_t find_conflict(const raft_log *l, const raft_entry *ents, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!raft_log_match_term(l, ents[i].index, ents[i].term))
            return ents[i].index;
    return 0;
}

void raft_log_commit_to(raft_log *l, uint64_t tocommit)
{
    if (l->committed < tocommit) {
        BS_ASSERT(tocommit <= raft_log_last_index(l));
        l->committed = tocommit;
    }
}

bool raft_log_maybe_append(raft_log *l, uint64_t index, uint64_t log_term, uint64_t committed,
                           const raft_entry *ents, size_t n, uint64_t *lastnewi)
{
    if (!raft_log_match_term(l, index, log_term))
        return false;
    *lastnewi = index + n;
    uint64_t ci = find_conflict(l, ents, n);
    if (ci != 0) {
        /* A committed entry never conflicts (Log Matching + Leader Completeness). */
        BS_ASSERT(ci > l->committed);
        size_t skip = (size_t)(ci - (index + 1));
        raft_log_append(l, ents + skip, n - skip);
    }
    raft_log_commit_to(l, committed < *lastnewi ? committed : *lastnewi);
    return true;
}

uint64_t raft_log_find_conflict_by_term(const raft_log *l, uint64_t i, uint64_t t,
                                        uint64_t *term_out)
{
    *term_out = 0;
    if (i > raft_log_last_index(l))
        return i;
    for (; i > 0; i--) {
        uint64_t our;
        if (raft_log_term_ex(l, i, &our) != BS_OK)
            return i;
        if (our <= t) {
            *term_out = our;
            return i;
        }
    }
    return 0;
}

bool raft_log_maybe_commit(raft_log *l, uint64_t max_index, uint64_t term)
{
    if (max_index > l->committed && raft_log_term(l, max_index) == term) {
        raft_log_commit_to(l, max_index);
        return true;
    }
    return false;
}

int raft_log_slice(const raft_log *l, uint64_t lo, uint64_t hi, uint64_t max_size,
                   raft_entries *out)
{
    if (lo >= hi)
        return BS_OK;
    if (lo < raft_log_first_index(l))
        return RAFT_ECOMPACTED;
    BS_ASSERT(hi <= raft_log_last_index(l) + 1);
    uint64_t size = 0;
    size_t got = 0;
    if (lo < l->offset) {
        uint64_t shi = hi < l->offset ? hi : l->offset;
        size_t before = out->n;
        int rc = l->st.ops->entries(l->st.ctx, lo, shi, max_size, out);
        storage_check(rc);
        if (rc == RAFT_ECOMPACTED)
            return rc;
        BS_ASSERT(rc == BS_OK);
        got = out->n - before;
        for (size_t i = before; i < out->n; i++)
            size += raft_entry_size(&out->v[i]);
        if (got < shi - lo)
            return BS_OK; /* the size limit stopped the storage */
        lo = shi;
    }
    for (uint64_t i = lo; i < hi; i++) {
        const raft_entry *e = &LIVE(l)[i - l->offset];
        uint64_t es = raft_entry_size(e);
        if (got > 0 && size + es > max_size)
            break;
        raft_entry c;
        raft_entry_ref(&c, e);
        raft_entries_push(out, &c);
        size += es;
        got++;
    }
    return BS_OK;
}

void raft_log_restore(raft_log *l, const raft_snapshot *s)
{
    release_unstable(l, 0);
    l->start = 0;
    if (l->has_snap)
        raft_snapshot_release(&l->snap);
    raft_snapshot_ref(&l->snap, s);
    l->has_snap = true;
    l->offset = s->meta.index + 1;
    l->committed = s->meta.index;
}

size_t raft_log_unstable_count(const raft_log *l)
{
    return l->n;
}

const raft_entry *raft_log_unstable_ents(const raft_log *l)
{
    return LIVE(l);
}

void raft_log_stable_to(raft_log *l, uint64_t i, uint64_t t)
{
    if (l->n == 0 || i < l->offset || i > raft_log_last_index(l))
        return;
    if (LIVE(l)[i - l->offset].term != t)
        return; /* the tail was replaced since the Ready was handed out */
    size_t k = (size_t)(i + 1 - l->offset);
    for (size_t j = 0; j < k; j++)
        raft_entry_release(&LIVE(l)[j]);
    l->start += k;
    l->n -= k;
    l->offset = i + 1;
    if (l->n == 0)
        l->start = 0;
}

void raft_log_stable_snap_to(raft_log *l, uint64_t i)
{
    if (l->has_snap && l->snap.meta.index == i) {
        raft_snapshot_release(&l->snap);
        l->has_snap = false;
    }
}

uint64_t raft_log_persisted(const raft_log *l)
{
    if (l->has_snap)
        return 0;
    return l->offset - 1;
}

bool raft_log_has_next_committed(const raft_log *l)
{
    return !l->has_snap && l->committed > l->applied;
}

bool raft_log_has_pending_conf(const raft_log *l)
{
    uint64_t lo = l->applied + 1, hi = l->committed + 1;
    if (lo >= hi)
        return false;
    raft_entries es = {0};
    bool found = false;
    while (lo < hi && !found) {
        int rc = raft_log_slice(l, lo, hi, UINT64_MAX, &es);
        if (rc != BS_OK || es.n == 0)
            break;
        for (size_t i = 0; i < es.n; i++)
            if (es.v[i].type != RAFT_ENTRY_NORMAL)
                found = true;
        lo = es.v[es.n - 1].index + 1;
        raft_entries_clear(&es);
    }
    raft_entries_free(&es);
    return found;
}
