/* ready.c -- the Ready handshake between the node and its owner (etcd RawNode, raft-rs
 * raw_node.rs).
 *
 * raft_ready_get() moves the outboxes and read states into the Ready (no copying: the vectors
 * are swapped), points at the unstable snapshot and entries, and slices the committed
 * entries to apply. raft_advance() then marks the snapshot and entries persisted, the
 * committed entries applied, releases everything the Ready borrowed, and -- on a leader --
 * counts its own newly persisted entries toward the commit index. The leader counts its
 * log only once persisted, which is why its messages may leave before its own write
 * (thesis 10.2.1) while a follower's acks must wait for theirs.
 * Invariant: at most one Ready is outstanding (in_ready), and nothing else is called on
 * the node meanwhile, so the unstable tail it describes cannot change under the owner. */
#include <string.h>

#include "raft/raft_int.h"

static bool ss_eq(raft_soft_state a, raft_soft_state b)
{
    return a.leader_id == b.leader_id && a.role == b.role;
}

static bool hs_eq(raft_hard_state a, raft_hard_state b)
{
    return a.term == b.term && a.vote == b.vote && a.commit == b.commit;
}

bool raft_has_ready(const raft_node *r)
{
    BS_ASSERT(!r->in_ready);
    raft_soft_state ss = {r->lead, r->state};
    raft_hard_state hs = {r->term, r->vote, r->log.committed};
    return !ss_eq(ss, r->prev_ss) || !hs_eq(hs, r->prev_hs) || r->log.has_snap ||
           raft_log_unstable_count(&r->log) > 0 || r->msgs.n > 0 || r->msgs_after.n > 0 ||
           r->read_states.n > 0 || raft_log_has_next_committed(&r->log) ||
           (r->state == RAFT_LEADER && (r->bcast_pending || r->hb_pending));
}

static void swap_msgs(raft_msgvec *a, raft_msgvec *b)
{
    raft_msgvec t = *a;
    *a = *b;
    *b = t;
}

void raft_ready_get(raft_node *r, raft_ready *rd)
{
    BS_ASSERT(!r->in_ready);
    if (r->state == RAFT_LEADER) {
        if (r->bcast_pending)
            raft_bcast_append(r);
        if (r->hb_pending)
            raft_bcast_heartbeat(r);
    }
    r->bcast_pending = false;
    r->hb_pending = false;
    memset(rd, 0, sizeof(*rd));
    r->in_ready = true;

    rd->ss = (raft_soft_state){r->lead, r->state};
    rd->has_ss = !ss_eq(rd->ss, r->prev_ss);
    rd->hs = (raft_hard_state){r->term, r->vote, r->log.committed};
    rd->has_hs = !hs_eq(rd->hs, r->prev_hs);
    r->rd_ss = rd->ss;
    r->rd_hs = rd->hs;
    rd->must_sync = rd->hs.term != r->prev_hs.term || rd->hs.vote != r->prev_hs.vote;

    r->rd_has_snap = r->log.has_snap;
    if (r->log.has_snap) {
        rd->snapshot = &r->log.snap;
        r->rd_snap_index = r->log.snap.meta.index;
        rd->must_sync = true;
    }
    size_t n = raft_log_unstable_count(&r->log);
    r->rd_stable_index = r->rd_stable_term = 0;
    if (n > 0) {
        const raft_entry *ents = raft_log_unstable_ents(&r->log);
        rd->entries = ents;
        rd->n_entries = n;
        r->rd_stable_index = ents[n - 1].index;
        r->rd_stable_term = ents[n - 1].term;
        rd->must_sync = true;
    }

    BS_ASSERT(r->rd_committed.n == 0);
    r->rd_applying = r->log.applied;
    if (raft_log_has_next_committed(&r->log)) {
        int rc = raft_log_slice(&r->log, r->log.applied + 1, r->log.committed + 1,
                                r->log.max_apply_size, &r->rd_committed);
        BS_ASSERT(rc == BS_OK);
        if (r->rd_committed.n > 0) {
            rd->committed = r->rd_committed.v;
            rd->n_committed = r->rd_committed.n;
            r->rd_applying = r->rd_committed.v[r->rd_committed.n - 1].index;
            raft_reduce_uncommitted(r, rd->committed, rd->n_committed);
        }
    }

    BS_ASSERT(r->rd_msgs.n == 0 && r->rd_msgs_after.n == 0 && r->rd_rs.n == 0);
    swap_msgs(&r->rd_msgs, &r->msgs);
    swap_msgs(&r->rd_msgs_after, &r->msgs_after);
    raft_rsvec t = r->rd_rs;
    r->rd_rs = r->read_states;
    r->read_states = t;
    rd->msgs = r->rd_msgs.v;
    rd->n_msgs = r->rd_msgs.n;
    rd->persisted_msgs = r->rd_msgs_after.v;
    rd->n_persisted_msgs = r->rd_msgs_after.n;
    rd->read_states = r->rd_rs.v;
    rd->n_read_states = r->rd_rs.n;
}

static void maybe_auto_leave(raft_node *r)
{
    if (r->state != RAFT_LEADER || !r->trk.cfg.auto_leave || !raft_tracker_is_joint(&r->trk) ||
        r->pending_conf_index > r->log.applied)
        return;
    raft_conf_change leave;
    memset(&leave, 0, sizeof(leave));
    raft_tracef(r, "%llu initiating automatic transition out of joint configuration",
                (unsigned long long)r->id);
    /* A refusal (e.g. during a transfer) is retried at the next advance. */
    (void)raft_propose_conf_change(r, &leave, NULL);
}

void raft_advance(raft_node *r, const raft_ready *rd)
{
    BS_ASSERT(r->in_ready);
    r->in_ready = false;
    r->prev_ss = r->rd_ss;
    r->prev_hs = r->rd_hs;
    if (r->rd_has_snap) {
        raft_log_stable_snap_to(&r->log, r->rd_snap_index);
        if (r->log.applied < r->rd_snap_index)
            r->log.applied = r->rd_snap_index;
    }
    if (r->rd_stable_index)
        raft_log_stable_to(&r->log, r->rd_stable_index, r->rd_stable_term);
    if (r->rd_applying > r->log.applied) {
        BS_ASSERT(r->rd_applying <= r->log.committed);
        r->log.applied = r->rd_applying;
    }
    BS_ASSERT(r->log.applied <= r->log.committed);
    BS_DASSERT(r->log.committed <= raft_log_last_index(&r->log));
    raft_entries_clear(&r->rd_committed);
    raft_msgvec_clear(&r->rd_msgs);
    raft_msgvec_clear(&r->rd_msgs_after);
    raft_rsvec_clear(&r->rd_rs);

    if (r->state == RAFT_LEADER) {
        raft_progress *self = raft_tracker_get(&r->trk, r->id);
        uint64_t persisted = raft_log_persisted(&r->log);
        if (self && raft_pr_maybe_update(self, persisted) && raft_maybe_commit(r))
            r->bcast_pending = true;
        maybe_auto_leave(r);
    }
}
