/* entry.c -- refcounted byte blocks behind entries and snapshots, entry vectors, message
 * cloning, the conf change entry codec and small id sets.
 *
 * An entry's bytes are written once (at propose, or when a peer's MsgAppend arrives) and
 * then read by several holders at the same time: the unstable log, a Ready being
 * persisted, MsgAppends to each follower, the committed list being applied. Each holder
 * takes a reference (cowsql/raft's logAcquire/logRelease), so replicating an entry never
 * copies it and the bench's allocations per proposal stay near one. */
#include <string.h>

#include "raft/raft_int.h"

raft_blk *raft_blk_new(size_t len)
{
    raft_blk *b = bs_malloc(sizeof(*b) + len);
    b->refs = 1;
    b->len = len;
    return b;
}

void raft_blk_get(raft_blk *b)
{
    if (b) {
        BS_ASSERT(b->refs > 0);
        b->refs++;
    }
}

void raft_blk_put(raft_blk *b)
{
    if (!b)
        return;
    BS_ASSERT(b->refs > 0);
    if (--b->refs == 0)
        bs_free(b);
}

void raft_entry_set_data(raft_entry *e, const void *p, size_t n)
{
    raft_blk *old = e->blk;
    if (n == 0) {
        e->blk = NULL;
        e->data = BS_SLICE_NULL;
    } else {
        raft_blk *b = raft_blk_new(n);
        memcpy(b->bytes, p, n);
        e->blk = b;
        e->data = bs_slice_make(b->bytes, n);
    }
    raft_blk_put(old);
}

void raft_entry_ref(raft_entry *dst, const raft_entry *src)
{
    *dst = *src;
    if (src->blk) {
        raft_blk_get(src->blk);
    } else if (src->data.len > 0) {
        dst->blk = NULL;
        raft_entry_set_data(dst, src->data.ptr, src->data.len);
    }
}

void raft_entry_release(raft_entry *e)
{
    raft_blk_put(e->blk);
    e->blk = NULL;
    e->data = BS_SLICE_NULL;
}

uint64_t raft_entry_size(const raft_entry *e)
{
    return e->data.len;
}

void raft_snapshot_ref(raft_snapshot *dst, const raft_snapshot *src)
{
    *dst = *src;
    if (src->blk) {
        raft_blk_get(src->blk);
    } else if (src->data.len > 0) {
        dst->blk = NULL;
        raft_snapshot_set_data(dst, src->data.ptr, src->data.len);
    }
}

void raft_snapshot_release(raft_snapshot *s)
{
    raft_blk_put(s->blk);
    s->blk = NULL;
    s->data = BS_SLICE_NULL;
}

void raft_snapshot_set_data(raft_snapshot *s, const void *p, size_t n)
{
    raft_entry tmp = {.data = s->data, .blk = s->blk};
    raft_entry_set_data(&tmp, p, n);
    s->data = tmp.data;
    s->blk = tmp.blk;
}

/* ---- entry vectors -------------------------------------------------------------------- */

void raft_entries_reserve(raft_entries *es, size_t extra)
{
    if (es->n + extra <= es->cap)
        return;
    size_t cap = es->cap ? es->cap * 2 : 8;
    while (cap < es->n + extra)
        cap *= 2;
    es->v = bs_realloc(es->v, cap * sizeof(*es->v));
    es->cap = cap;
}

void raft_entries_push(raft_entries *es, const raft_entry *e)
{
    raft_entries_reserve(es, 1);
    es->v[es->n++] = *e;
}

void raft_entries_clear(raft_entries *es)
{
    for (size_t i = 0; i < es->n; i++)
        raft_entry_release(&es->v[i]);
    es->n = 0;
}

void raft_entries_free(raft_entries *es)
{
    if (!es)
        return;
    raft_entries_clear(es);
    bs_free(es->v);
    es->v = NULL;
    es->cap = 0;
}

/* ---- messages ------------------------------------------------------------------------- */

void raft_msg_clone(raft_msg *dst, const raft_msg *src)
{
    *dst = *src;
    dst->entries = NULL;
    dst->snapshot = NULL;
    dst->context = BS_SLICE_NULL;
    if (src->n_entries > 0) {
        dst->entries = bs_malloc(src->n_entries * sizeof(raft_entry));
        for (size_t i = 0; i < src->n_entries; i++)
            raft_entry_ref(&dst->entries[i], &src->entries[i]);
    }
    if (src->snapshot) {
        dst->snapshot = bs_malloc(sizeof(raft_snapshot));
        raft_snapshot_ref(dst->snapshot, src->snapshot);
    }
    if (src->context.len > 0) {
        uint8_t *p = bs_malloc(src->context.len);
        memcpy(p, src->context.ptr, src->context.len);
        dst->context = bs_slice_make(p, src->context.len);
    }
}

void raft_msg_deinit(raft_msg *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_entries; i++)
        raft_entry_release(&m->entries[i]);
    bs_free(m->entries);
    if (m->snapshot) {
        raft_snapshot_release(m->snapshot);
        bs_free(m->snapshot);
    }
    bs_free((void *)m->context.ptr);
    m->entries = NULL;
    m->n_entries = 0;
    m->snapshot = NULL;
    m->context = BS_SLICE_NULL;
}

const char *raft_msg_type_name(raft_msg_type t)
{
    static const char *const names[] = {
        "MsgHup",
        "MsgBeat",
        "MsgPropose",
        "MsgAppend",
        "MsgAppendResponse",
        "MsgRequestVote",
        "MsgRequestVoteResponse",
        "MsgSnapshot",
        "MsgHeartbeat",
        "MsgHeartbeatResponse",
        "MsgUnreachable",
        "MsgSnapStatus",
        "MsgCheckQuorum",
        "MsgTransferLeader",
        "MsgTimeoutNow",
        "MsgReadIndex",
        "MsgReadIndexResp",
        "MsgRequestPreVote",
        "MsgRequestPreVoteResponse",
    };
    if ((unsigned)t < sizeof(names) / sizeof(names[0]))
        return names[t];
    return "MsgUnknown";
}

/* ---- conf change codec ---------------------------------------------------------------- */
/* Layout: 'V' 2, transition, n, then n times (type, node id as 8 bytes little-endian). */

void raft_conf_change_encode(const raft_conf_change *cc, bs_buf *out)
{
    BS_ASSERT(cc->n_changes <= RAFT_MAX_CONF);
    uint8_t hdr[4] = {'V', 2, (uint8_t)cc->transition, (uint8_t)cc->n_changes};
    bs_buf_append(out, hdr, sizeof(hdr));
    for (uint32_t i = 0; i < cc->n_changes; i++) {
        uint8_t rec[9];
        rec[0] = (uint8_t)cc->changes[i].type;
        for (int b = 0; b < 8; b++)
            rec[1 + b] = (uint8_t)(cc->changes[i].node_id >> (8 * b));
        bs_buf_append(out, rec, sizeof(rec));
    }
}

int raft_conf_change_decode(bs_slice data, raft_conf_change *cc, bs_err *err)
{
    memset(cc, 0, sizeof(*cc));
    if (data.len < 4 || data.ptr[0] != 'V' || data.ptr[1] != 2)
        return bs_err_setf(err, BS_ECORRUPT, "raft conf change: bad header");
    if (data.ptr[2] > RAFT_CC_EXPLICIT || data.ptr[3] > RAFT_MAX_CONF ||
        data.len != 4 + 9 * (size_t)data.ptr[3])
        return bs_err_setf(err, BS_ECORRUPT, "raft conf change: bad length or transition");
    cc->transition = (raft_cc_transition)data.ptr[2];
    cc->n_changes = data.ptr[3];
    for (uint32_t i = 0; i < cc->n_changes; i++) {
        const uint8_t *rec = data.ptr + 4 + 9 * i;
        if (rec[0] > RAFT_CC_ADD_LEARNER)
            return bs_err_setf(err, BS_ECORRUPT, "raft conf change: bad change type %u", rec[0]);
        uint64_t id = 0;
        for (int b = 0; b < 8; b++)
            id |= (uint64_t)rec[1 + b] << (8 * b);
        cc->changes[i].type = (raft_cc_type)rec[0];
        cc->changes[i].node_id = id;
    }
    return BS_OK;
}

/* ---- id sets -------------------------------------------------------------------------- */

bool raft_idset_has(const raft_idset *s, uint64_t id)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (s->ids[i] == id)
            return true;
    return false;
}

bool raft_idset_add(raft_idset *s, uint64_t id)
{
    if (raft_idset_has(s, id))
        return true;
    if (s->n >= RAFT_MAX_CONF)
        return false;
    uint32_t i = s->n;
    while (i > 0 && s->ids[i - 1] > id) {
        s->ids[i] = s->ids[i - 1];
        i--;
    }
    s->ids[i] = id;
    s->n++;
    return true;
}

void raft_idset_del(raft_idset *s, uint64_t id)
{
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->ids[i] == id) {
            memmove(&s->ids[i], &s->ids[i + 1], (s->n - i - 1) * sizeof(uint64_t));
            s->n--;
            return;
        }
    }
}
