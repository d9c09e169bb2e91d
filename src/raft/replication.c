/* replication.c -- log replication (Raft section 5.3, thesis 3.5 and 10.2).
 *
 * Leader side: send_append builds a MsgAppend for a peer from its progress (pipelined in
 * replicate state, one probe at a time otherwise, at most max_size_per_msg bytes), or a
 * MsgSnapshot when the entries it needs were compacted; append acks advance match and the
 * commit index, which only ever moves to an entry of the current term (section 5.4.2);
 * rejections carry a conflict hint (index, term) so the leader skips a whole term of
 * mismatching entries per round trip instead of one entry. Follower side: accept or
 * reject an append, heartbeat or snapshot. Mirrors etcd raft raft.go (maybeSendAppend,
 * handleAppendEntries, handleSnapshot, stepLeader's MsgAppResp). */
#include <string.h>

#include "raft/raft_int.h"

bool raft_uncommitted_ok(const raft_node *r, uint64_t size)
{
    /* Bounded memory: refuse once the uncommitted tail is past the limit, but always let
     * one proposal through on an empty tail so a big entry cannot wedge the group. */
    return r->uncommitted_size == 0 || size == 0 ||
           r->uncommitted_size + size <= r->max_uncommitted;
}

void raft_append_entries(raft_node *r, raft_entry *ents, size_t n)
{
    uint64_t li = raft_log_last_index(&r->log);
    for (size_t i = 0; i < n; i++) {
        ents[i].term = r->term;
        ents[i].index = li + 1 + i;
        r->uncommitted_size += raft_entry_size(&ents[i]);
    }
    raft_log_append(&r->log, ents, n);
    raft_progress *self = raft_tracker_get(&r->trk, r->id);
    if (self)
        self->next = li + n + 1;
}

static void send_snapshot(raft_node *r, raft_progress *pr)
{
    if (!pr->recent_active) {
        raft_tracef(r, "%llu ignored sending snapshot to %llu: not recently active",
                    (unsigned long long)r->id, (unsigned long long)pr->id);
        return;
    }
    raft_snapshot *s = bs_calloc(1, sizeof(*s));
    int rc = r->log.st.ops->snapshot(r->log.st.ctx, pr->next - 1, s);
    if (rc != BS_OK) {
        BS_ASSERT(rc == RAFT_ESNAP_TEMP);
        bs_free(s);
        return; /* try again at the next heartbeat */
    }
    BS_ASSERT(s->meta.index != 0);
    raft_tracef(r, "%llu sent snapshot [index: %llu, term: %llu] to %llu",
                (unsigned long long)r->id, (unsigned long long)s->meta.index,
                (unsigned long long)s->meta.term, (unsigned long long)pr->id);
    raft_pr_become_snapshot(pr, s->meta.index);
    raft_msg m = {.type = RAFT_MSG_SNAPSHOT, .to = pr->id, .snapshot = s};
    raft_send(r, &m);
}

bool raft_send_append(raft_node *r, uint64_t to, bool send_if_empty)
{
    raft_progress *pr = raft_tracker_get(&r->trk, to);
    if (!pr || pr->id == r->id || raft_pr_is_paused(pr))
        return false;
    uint64_t prev = pr->next - 1, prev_term = 0, last = raft_log_last_index(&r->log);
    int rc = raft_log_term_ex(&r->log, prev, &prev_term);
    raft_entries es = {0};
    if (rc == BS_OK && pr->next <= last) {
        uint64_t want = pr->state == RAFT_PR_REPLICATE ? last - prev : 1;
        raft_entries_reserve(&es, want < 1024 ? (size_t)want : 1024);
        rc = raft_log_slice(&r->log, pr->next, last + 1, r->max_msg_size, &es);
    }
    if (rc != BS_OK) {
        BS_ASSERT(rc == RAFT_ECOMPACTED);
        raft_entries_free(&es);
        send_snapshot(r, pr);
        return false;
    }
    if (es.n == 0 && !send_if_empty) {
        raft_entries_free(&es);
        return false;
    }
    raft_msg m = {.type = RAFT_MSG_APPEND,
                  .to = to,
                  .index = prev,
                  .log_term = prev_term,
                  .commit = r->log.committed,
                  .entries = es.n ? es.v : NULL,
                  .n_entries = es.n};
    if (es.n == 0)
        bs_free(es.v);
    if (es.n > 0)
        raft_pr_sent_entries(pr, es.v[es.n - 1].index);
    else if (pr->state == RAFT_PR_PROBE)
        pr->probe_sent = true;
    raft_send(r, &m);
    return es.n > 0;
}

void raft_bcast_append(raft_node *r)
{
    r->bcast_pending = false;
    for (size_t i = 0; i < r->trk.n_prs; i++)
        if (r->trk.prs[i].id != r->id)
            raft_send_append(r, r->trk.prs[i].id, true);
}

void raft_bcast_heartbeat(raft_node *r)
{
    uint64_t round = raft_ro_new_round(r);
    for (size_t i = 0; i < r->trk.n_prs; i++) {
        const raft_progress *pr = &r->trk.prs[i];
        if (pr->id == r->id)
            continue;
        /* Never tell a follower to commit past what it is known to hold. */
        uint64_t commit = pr->match < r->log.committed ? pr->match : r->log.committed;
        raft_msg m = {.type = RAFT_MSG_HEARTBEAT, .to = pr->id, .commit = commit, .index = round};
        raft_send(r, &m);
    }
}

bool raft_maybe_commit(raft_node *r)
{
    if (!raft_log_maybe_commit(&r->log, raft_tracker_committed(&r->trk), r->term))
        return false;
    raft_ro_release_waiting(r); /* this term's first entry may just have committed */
    return true;
}

/* ---- follower side -------------------------------------------------------------------- */

/* Entries decoded from the wire carry no block: copy all their bytes into one shared
 * block (one allocation per message, not per entry) before they enter the log. */
static const raft_entry *share_foreign(const raft_msg *m, raft_entry **tmp, raft_blk **blk)
{
    size_t total = 0;
    bool foreign = false;
    for (size_t i = 0; i < m->n_entries; i++) {
        foreign |= m->entries[i].blk == NULL && m->entries[i].data.len > 0;
        total += m->entries[i].data.len;
    }
    *tmp = NULL;
    *blk = NULL;
    if (!foreign)
        return m->entries;
    *blk = raft_blk_new(total);
    *tmp = bs_malloc(m->n_entries * sizeof(raft_entry));
    size_t off = 0;
    for (size_t i = 0; i < m->n_entries; i++) {
        raft_entry e = m->entries[i];
        if (e.blk == NULL && e.data.len > 0) {
            memcpy((*blk)->bytes + off, e.data.ptr, e.data.len);
            e.data = bs_slice_make((*blk)->bytes + off, e.data.len);
            e.blk = *blk;
            off += e.data.len;
        }
        (*tmp)[i] = e;
    }
    return *tmp;
}

void raft_handle_append(raft_node *r, const raft_msg *m)
{
    raft_msg resp = {.type = RAFT_MSG_APPEND_RESP, .to = m->from};
    if (m->index < r->log.committed) {
        resp.index = r->log.committed;
        raft_send(r, &resp);
        return;
    }
    uint64_t lastnewi;
    raft_entry *tmp;
    raft_blk *blk;
    const raft_entry *ents = share_foreign(m, &tmp, &blk);
    bool ok = raft_log_maybe_append(&r->log, m->index, m->log_term, m->commit, ents, m->n_entries,
                                    &lastnewi);
    raft_blk_put(blk); /* the log took its own references */
    bs_free(tmp);
    if (ok) {
        resp.index = lastnewi;
        raft_send(r, &resp);
        return;
    }
    /* Reject with a hint: the largest index <= min(m->index, last) whose term is <=
     * m->log_term. Every entry above it in our log conflicts with the leader's. */
    uint64_t last = raft_log_last_index(&r->log);
    uint64_t hint = m->index < last ? m->index : last, hint_term;
    hint = raft_log_find_conflict_by_term(&r->log, hint, m->log_term, &hint_term);
    raft_tracef(r,
                "%llu rejected MsgAppend [logterm: %llu, index: %llu] from %llu, hint "
                "[index: %llu, term: %llu]",
                (unsigned long long)r->id, (unsigned long long)m->log_term,
                (unsigned long long)m->index, (unsigned long long)m->from, (unsigned long long)hint,
                (unsigned long long)hint_term);
    resp.index = m->index;
    resp.reject = true;
    resp.reject_hint = hint;
    resp.log_term = hint_term;
    raft_send(r, &resp);
}

void raft_handle_heartbeat(raft_node *r, const raft_msg *m)
{
    uint64_t last = raft_log_last_index(&r->log);
    raft_log_commit_to(&r->log, m->commit < last ? m->commit : last);
    raft_msg resp = {.type = RAFT_MSG_HEARTBEAT_RESP, .to = m->from, .index = m->index};
    raft_send(r, &resp);
}

static bool restore(raft_node *r, const raft_snapshot *s)
{
    const raft_snapshot_meta *md = &s->meta;
    if (md->index <= r->log.committed)
        return false;
    BS_ASSERT(r->state == RAFT_FOLLOWER);
    const raft_conf_state *cs = &md->conf_state;
    bool found = false;
    for (uint32_t i = 0; i < cs->n_voters && !found; i++)
        found = cs->voters[i] == r->id;
    for (uint32_t i = 0; i < cs->n_learners && !found; i++)
        found = cs->learners[i] == r->id;
    for (uint32_t i = 0; i < cs->n_voters_outgoing && !found; i++)
        found = cs->voters_outgoing[i] == r->id;
    if (!found) {
        raft_tracef(r, "%llu ignored snapshot [index: %llu]: not in its conf state",
                    (unsigned long long)r->id, (unsigned long long)md->index);
        return false;
    }
    if (raft_log_match_term(&r->log, md->index, md->term)) {
        /* We already hold the snapshot's last entry: just fast-forward the commit. */
        raft_log_commit_to(&r->log, md->index);
        return false;
    }
    bs_err err;
    if (raft_cc_restore(&r->trk, cs, md->index + 1, &err) != BS_OK) {
        raft_tracef(r, "%llu ignored snapshot [index: %llu]: %s", (unsigned long long)r->id,
                    (unsigned long long)md->index, err.msg);
        return false;
    }
    raft_log_restore(&r->log, s);
    raft_tracef(r, "%llu restored snapshot [index: %llu, term: %llu]", (unsigned long long)r->id,
                (unsigned long long)md->index, (unsigned long long)md->term);
    return true;
}

void raft_handle_snapshot(raft_node *r, const raft_msg *m)
{
    raft_msg resp = {.type = RAFT_MSG_APPEND_RESP, .to = m->from};
    if (restore(r, m->snapshot))
        resp.index = raft_log_last_index(&r->log);
    else
        resp.index = r->log.committed;
    raft_send(r, &resp);
}

/* ---- leader side ---------------------------------------------------------------------- */

static void send_timeout_now(raft_node *r, uint64_t to)
{
    raft_msg m = {.type = RAFT_MSG_TIMEOUT_NOW, .to = to};
    /* From now on another node may win this term's successor election without our
     * followers' leases expiring: lease reads would be unsafe. */
    r->lease_disabled = true;
    raft_tracef(r, "%llu sent MsgTimeoutNow to %llu", (unsigned long long)r->id,
                (unsigned long long)to);
    raft_send(r, &m);
}

void raft_handle_append_resp(raft_node *r, const raft_msg *m)
{
    raft_progress *pr = raft_tracker_get(&r->trk, m->from);
    if (!pr)
        return;
    pr->recent_active = true;
    if (m->reject) {
        uint64_t probe = m->reject_hint;
        if (m->log_term > 0) {
            uint64_t t;
            probe = raft_log_find_conflict_by_term(&r->log, m->reject_hint, m->log_term, &t);
        }
        if (raft_pr_maybe_decr_to(pr, m->index, probe)) {
            if (pr->state == RAFT_PR_REPLICATE)
                raft_pr_become_probe(pr);
            raft_send_append(r, m->from, true);
        }
        return;
    }
    bool old_paused = raft_pr_is_paused(pr);
    if (!raft_pr_maybe_update(pr, m->index))
        return;
    if (pr->state == RAFT_PR_PROBE) {
        raft_pr_become_replicate(pr);
    } else if (pr->state == RAFT_PR_SNAPSHOT && pr->match + 1 >= raft_log_first_index(&r->log)) {
        raft_pr_become_probe(pr);
        raft_pr_become_replicate(pr);
    } else if (pr->state == RAFT_PR_REPLICATE) {
        raft_inflights_free_le(&pr->ins, m->index);
    }
    if (raft_maybe_commit(r)) {
        /* Followers learn the new commit index with the next broadcast (one per Ready,
         * so a burst of acks costs one round of messages). */
        r->bcast_pending = true;
    } else if (old_paused) {
        raft_send_append(r, m->from, true);
    }
    while (raft_send_append(r, m->from, false)) {
    }
    if (m->from == r->lead_transferee && pr->match == raft_log_last_index(&r->log)) {
        raft_tracef(r, "%llu sent MsgTimeoutNow to %llu after its logs are up to date",
                    (unsigned long long)r->id, (unsigned long long)m->from);
        send_timeout_now(r, m->from);
    }
}

void raft_handle_heartbeat_resp(raft_node *r, const raft_msg *m)
{
    raft_progress *pr = raft_tracker_get(&r->trk, m->from);
    if (!pr)
        return;
    pr->recent_active = true;
    pr->probe_sent = false;
    if (pr->state == RAFT_PR_REPLICATE && raft_inflights_full(&pr->ins) && pr->ins.count > 0) {
        /* Free one slot so a lost MsgAppend cannot stall the pipeline forever. */
        pr->ins.start = (pr->ins.start + 1) % pr->ins.cap;
        pr->ins.count--;
    }
    if (pr->match < raft_log_last_index(&r->log))
        raft_send_append(r, m->from, true);
    if (m->index > pr->hb_round && m->index <= r->ro.round) {
        pr->hb_round = m->index;
        raft_ro_on_round_acked(r);
    }
}

void raft_send_timeout_now(raft_node *r, uint64_t to)
{
    send_timeout_now(r, to);
}
