/* raft.c -- the node: creation from storage, role transitions, the logical clock and
 * message dispatch (the term rules of Raft section 5.1, applied before any role sees a
 * message), plus tracing and the outboxes.
 *
 * Roles and who moves between them:
 *   follower --(election timeout, tick_election)--> pre-candidate (with pre_vote)
 *   pre-candidate --(pre-vote quorum, election.c)--> candidate --(vote quorum)--> leader
 *   any --(higher term seen, raft_step)--> follower
 *   leader --(no quorum for an election timeout, leader.c)--> follower
 * Mirrors etcd raft raft.go (Step, becomeFollower/Candidate/Leader, tickElection). */
#include <stdio.h>
#include <string.h>

#include "raft/raft_int.h"

void raft_tracef(raft_node *r, const char *fmt, ...)
{
    if (!r->trace)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    r->trace(r->trace_ctx, line);
}

const char *raft_role_name(raft_role s)
{
    switch (s) {
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_LEADER:
        return "leader";
    case RAFT_PRE_CANDIDATE:
        return "pre-candidate";
    }
    return "?";
}

void raft_config_default(raft_config *c)
{
    memset(c, 0, sizeof(*c));
    c->election_tick = 10;
    c->heartbeat_tick = 1;
    c->max_size_per_msg = 1 << 20;
    c->max_inflight_msgs = 256;
    c->check_quorum = true;
    c->pre_vote = true;
    c->read_only = RAFT_READ_SAFE;
}

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: tiny, seedable, good enough for timeouts */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void raft_reset_randomized_timeout(raft_node *r)
{
    r->randomized_election_timeout =
        r->election_timeout + (int)(rng_next(&r->rng) % (uint64_t)r->election_timeout);
}

bool raft_past_election_timeout(const raft_node *r)
{
    return r->election_elapsed >= r->randomized_election_timeout;
}

bool raft_promotable(const raft_node *r)
{
    const raft_progress *p = raft_tracker_cget(&r->trk, r->id);
    return p && !p->is_learner && !r->log.has_snap;
}

void raft_abort_transfer(raft_node *r)
{
    r->lead_transferee = RAFT_NONE;
}

static void reset(raft_node *r, uint64_t term)
{
    if (r->term != term) {
        r->term = term;
        r->vote = RAFT_NONE;
    }
    r->lead = RAFT_NONE;
    r->election_elapsed = 0;
    r->heartbeat_elapsed = 0;
    raft_reset_randomized_timeout(r);
    raft_abort_transfer(r);
    raft_tracker_reset_votes(&r->trk);
    uint64_t last = raft_log_last_index(&r->log);
    for (size_t i = 0; i < r->trk.n_prs; i++) {
        raft_progress *p = &r->trk.prs[i];
        p->match = 0;
        raft_pr_become_replicate(p); /* clears the window... */
        p->state = RAFT_PR_PROBE;    /* ...and a new leader probes first */
        p->next = last + 1;
        p->recent_active = false;
        p->hb_round = 0;
        if (p->id == r->id) {
            uint64_t persisted = raft_log_persisted(&r->log);
            p->match = persisted < last ? persisted : last;
            p->recent_active = true;
        }
    }
    r->pending_conf_index = 0;
    r->uncommitted_size = 0;
    r->lease_disabled = false;
    raft_ro_reset(&r->ro);
}

void raft_become_follower(raft_node *r, uint64_t term, uint64_t lead)
{
    reset(r, term);
    r->lead = lead;
    r->state = RAFT_FOLLOWER;
    raft_tracef(r, "%llu became follower at term %llu", (unsigned long long)r->id,
                (unsigned long long)r->term);
}

void raft_become_candidate(raft_node *r)
{
    BS_ASSERT(r->state != RAFT_LEADER);
    reset(r, r->term + 1);
    r->vote = r->id;
    r->state = RAFT_CANDIDATE;
    raft_tracef(r, "%llu became candidate at term %llu", (unsigned long long)r->id,
                (unsigned long long)r->term);
}

void raft_become_pre_candidate(raft_node *r)
{
    BS_ASSERT(r->state != RAFT_LEADER);
    /* Term and vote stay: a pre-vote changes nothing durable. */
    raft_tracker_reset_votes(&r->trk);
    r->state = RAFT_PRE_CANDIDATE;
    r->lead = RAFT_NONE;
    raft_tracef(r, "%llu became pre-candidate at term %llu", (unsigned long long)r->id,
                (unsigned long long)r->term);
}

void raft_become_leader(raft_node *r)
{
    BS_ASSERT(r->state != RAFT_FOLLOWER);
    reset(r, r->term);
    r->lead = r->id;
    r->state = RAFT_LEADER;
    raft_progress *self = raft_tracker_get(&r->trk, r->id);
    if (self) {
        uint64_t m = self->match;
        raft_pr_become_replicate(self);
        self->match = m;
        self->next = raft_log_last_index(&r->log) + 1;
    }
    /* Conservatively treat any conf change in the log as pending. */
    r->pending_conf_index = raft_log_last_index(&r->log);
    raft_entry noop = {.type = RAFT_ENTRY_NORMAL};
    raft_append_entries(r, &noop, 1);
    raft_tracef(r, "%llu became leader at term %llu", (unsigned long long)r->id,
                (unsigned long long)r->term);
}

/* ---- outboxes ------------------------------------------------------------------------- */

static void msgvec_push(raft_msgvec *v, const raft_msg *m)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->v = bs_realloc(v->v, v->cap * sizeof(raft_msg));
    }
    v->v[v->n++] = *m;
}

void raft_msgvec_clear(raft_msgvec *v)
{
    for (size_t i = 0; i < v->n; i++)
        raft_msg_deinit(&v->v[i]);
    v->n = 0;
}

void raft_msgvec_free(raft_msgvec *v)
{
    raft_msgvec_clear(v);
    bs_free(v->v);
    v->v = NULL;
    v->cap = 0;
}

void raft_send(raft_node *r, raft_msg *m)
{
    m->from = r->id;
    if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PRE_VOTE || m->type == RAFT_MSG_VOTE_RESP ||
        m->type == RAFT_MSG_PRE_VOTE_RESP) {
        BS_ASSERT(m->term != 0); /* votes carry the term they are about */
    } else {
        m->term = r->term;
    }
    /* A leader's traffic promises nothing about this Ready's writes (its own progress
     * only counts persisted entries); everything else (votes, acks) does. */
    msgvec_push(r->state == RAFT_LEADER ? &r->msgs : &r->msgs_after, m);
}

void raft_rsvec_push(raft_rsvec *v, uint64_t index, bs_slice ctx)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        v->v = bs_realloc(v->v, cap * sizeof(*v->v));
        v->ctx = bs_realloc(v->ctx, cap * sizeof(*v->ctx));
        for (size_t i = v->cap; i < cap; i++)
            bs_buf_init(&v->ctx[i]);
        v->cap = cap;
    }
    bs_buf_set(&v->ctx[v->n], ctx.ptr, ctx.len);
    v->v[v->n].index = index;
    v->v[v->n].ctx = bs_buf_slice(&v->ctx[v->n]);
    v->n++;
}

void raft_rsvec_clear(raft_rsvec *v)
{
    v->n = 0;
}

void raft_rsvec_free(raft_rsvec *v)
{
    for (size_t i = 0; i < v->cap; i++)
        bs_buf_free(&v->ctx[i]);
    bs_free(v->ctx);
    bs_free(v->v);
    memset(v, 0, sizeof(*v));
}

/* ---- lifecycle ------------------------------------------------------------------------ */

int raft_new(const raft_config *c, raft_node **out, bs_err *err)
{
    *out = NULL;
    if (c->id == RAFT_NONE)
        return bs_err_setf(err, BS_EINVAL, "raft: id must not be 0");
    if (c->heartbeat_tick < 1 || c->election_tick <= c->heartbeat_tick)
        return bs_err_setf(err, BS_EINVAL,
                           "raft: need 1 <= heartbeat_tick < election_tick (got %d, %d)",
                           c->heartbeat_tick, c->election_tick);
    if (c->max_inflight_msgs < 1)
        return bs_err_setf(err, BS_EINVAL, "raft: max_inflight_msgs must be >= 1");
    if (c->read_only == RAFT_READ_LEASE && !c->check_quorum)
        return bs_err_setf(err, BS_EINVAL, "raft: lease reads require check_quorum");
    if (!c->storage.ops)
        return bs_err_setf(err, BS_EINVAL, "raft: no storage");

    raft_hard_state hs;
    raft_conf_state cs;
    memset(&hs, 0, sizeof(hs));
    memset(&cs, 0, sizeof(cs));
    int rc = c->storage.ops->initial_state(c->storage.ctx, &hs, &cs);
    if (rc != BS_OK)
        return bs_err_setf(err, rc, "raft: storage initial state: %s", bs_strerror(rc));

    raft_node *r = bs_calloc(1, sizeof(*r));
    r->id = c->id;
    r->election_timeout = c->election_tick;
    r->heartbeat_timeout = c->heartbeat_tick;
    r->max_msg_size = c->max_size_per_msg;
    r->max_uncommitted = c->max_uncommitted_size ? c->max_uncommitted_size : UINT64_MAX;
    r->check_quorum = c->check_quorum;
    r->pre_vote = c->pre_vote;
    r->read_only = c->read_only;
    r->trace = c->trace;
    r->trace_ctx = c->trace_ctx;
    r->rng = c->seed ^ (c->id * 0x9e3779b97f4a7c15ULL);
    raft_log_init(&r->log, c->storage,
                  c->max_committed_size_per_ready ? c->max_committed_size_per_ready : UINT64_MAX);
    raft_tracker_init(&r->trk, c->max_inflight_msgs);
    raft_ro_init(&r->ro);

    uint64_t last = raft_log_last_index(&r->log);
    rc = raft_cc_restore(&r->trk, &cs, last + 1, err);
    if (rc != BS_OK) {
        raft_free(r);
        return rc;
    }
    if (hs.commit != 0 || hs.term != 0 || hs.vote != 0) {
        if (hs.commit < r->log.committed || hs.commit > last) {
            raft_free(r);
            return bs_err_setf(err, BS_ECORRUPT,
                               "raft: hard state commit %llu outside the log [%llu, %llu]",
                               (unsigned long long)hs.commit, (unsigned long long)r->log.committed,
                               (unsigned long long)last);
        }
        r->log.committed = hs.commit;
        r->term = hs.term;
        r->vote = hs.vote;
    }
    if (c->applied > 0) {
        if (c->applied > r->log.committed) {
            raft_free(r);
            return bs_err_setf(err, BS_EINVAL, "raft: applied %llu beyond commit %llu",
                               (unsigned long long)c->applied,
                               (unsigned long long)r->log.committed);
        }
        if (c->applied > r->log.applied)
            r->log.applied = c->applied;
    }
    raft_become_follower(r, r->term, RAFT_NONE);
    r->vote = hs.vote; /* become_follower at the same term keeps it; be explicit */
    /* Only lease reads need it: a restarted voter may have acked a lease it forgot. */
    r->boot_lease = r->check_quorum && r->read_only == RAFT_READ_LEASE;
    r->is_learner =
        !raft_tracker_is_voter(&r->trk, r->id) && raft_tracker_get(&r->trk, r->id) != NULL;
    r->prev_hs = (raft_hard_state){r->term, r->vote, r->log.committed};
    r->prev_ss = (raft_soft_state){r->lead, r->state};
    raft_tracef(r, "%llu started at term %llu commit %llu applied %llu last %llu",
                (unsigned long long)r->id, (unsigned long long)r->term,
                (unsigned long long)r->log.committed, (unsigned long long)r->log.applied,
                (unsigned long long)last);
    *out = r;
    return BS_OK;
}

void raft_free(raft_node *r)
{
    if (!r)
        return;
    raft_log_deinit(&r->log);
    raft_tracker_deinit(&r->trk);
    raft_ro_deinit(&r->ro);
    raft_msgvec_free(&r->msgs);
    raft_msgvec_free(&r->msgs_after);
    raft_msgvec_free(&r->rd_msgs);
    raft_msgvec_free(&r->rd_msgs_after);
    raft_rsvec_free(&r->read_states);
    raft_rsvec_free(&r->rd_rs);
    raft_entries_free(&r->rd_committed);
    bs_free(r);
}

/* ---- clock ---------------------------------------------------------------------------- */

static void tick_election(raft_node *r)
{
    r->election_elapsed++;
    if (r->boot_lease && r->election_elapsed >= r->election_timeout)
        r->boot_lease = false;
    if (raft_promotable(r) && raft_past_election_timeout(r)) {
        r->election_elapsed = 0;
        raft_hup(r, r->pre_vote ? RAFT_CAMPAIGN_PRE : RAFT_CAMPAIGN_ELECTION);
    }
}

void raft_tick(raft_node *r)
{
    BS_ASSERT(!r->in_ready);
    r->now++;
    if (r->state == RAFT_LEADER)
        raft_tick_heartbeat(r);
    else
        tick_election(r);
}

void raft_campaign(raft_node *r)
{
    BS_ASSERT(!r->in_ready);
    raft_hup(r, r->pre_vote ? RAFT_CAMPAIGN_PRE : RAFT_CAMPAIGN_ELECTION);
}

/* ---- dispatch ------------------------------------------------------------------------- */

static void step_follower(raft_node *r, const raft_msg *m)
{
    switch (m->type) {
    case RAFT_MSG_APPEND:
        r->election_elapsed = 0;
        r->lead = m->from;
        raft_handle_append(r, m);
        break;
    case RAFT_MSG_HEARTBEAT:
        r->election_elapsed = 0;
        r->lead = m->from;
        raft_handle_heartbeat(r, m);
        break;
    case RAFT_MSG_SNAPSHOT:
        r->election_elapsed = 0;
        r->lead = m->from;
        raft_handle_snapshot(r, m);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        raft_tracef(r, "%llu received MsgTimeoutNow from %llu at term %llu",
                    (unsigned long long)r->id, (unsigned long long)m->from,
                    (unsigned long long)r->term);
        /* Leadership transfer skips pre-vote: the leader asked for it. */
        raft_hup(r, RAFT_CAMPAIGN_TRANSFER);
        break;
    case RAFT_MSG_READ_INDEX_RESP:
        raft_rsvec_push(&r->read_states, m->index, m->context);
        break;
    default:
        break; /* not for a follower */
    }
}

static bool in_lease(const raft_node *r)
{
    if (!r->check_quorum || r->election_elapsed >= r->election_timeout)
        return false;
    return r->lead != RAFT_NONE || r->boot_lease;
}

static bool is_local(raft_msg_type t)
{
    return t == RAFT_MSG_HUP || t == RAFT_MSG_BEAT || t == RAFT_MSG_UNREACHABLE ||
           t == RAFT_MSG_SNAP_STATUS || t == RAFT_MSG_CHECK_QUORUM;
}

int raft_step(raft_node *r, const raft_msg *m, bs_err *err)
{
    BS_ASSERT(!r->in_ready);
    if ((unsigned)m->type > RAFT_MSG_PRE_VOTE_RESP || m->type == RAFT_MSG_PROPOSE)
        return bs_err_setf(err, BS_ECORRUPT, "raft: unexpected message type %d", m->type);
    if (!is_local(m->type) && m->from == RAFT_NONE)
        return bs_err_setf(err, BS_ECORRUPT, "raft: %s without a sender",
                           raft_msg_type_name(m->type));
    if (m->n_entries > 0 && !m->entries)
        return bs_err_setf(err, BS_ECORRUPT, "raft: %zu entries without an array", m->n_entries);
    for (size_t i = 1; i < m->n_entries; i++)
        if (m->entries[i].index != m->entries[i - 1].index + 1)
            return bs_err_setf(err, BS_ECORRUPT, "raft: entries out of order");
    if (m->n_entries > 0 && m->entries[0].index != m->index + 1)
        return bs_err_setf(err, BS_ECORRUPT, "raft: entries do not follow index");
    if (m->type == RAFT_MSG_SNAPSHOT) {
        if (!m->snapshot)
            return bs_err_setf(err, BS_ECORRUPT, "raft: MsgSnapshot without a snapshot");
        const raft_conf_state *cs = &m->snapshot->meta.conf_state;
        if (cs->n_voters > RAFT_MAX_CONF || cs->n_learners > RAFT_MAX_CONF ||
            cs->n_voters_outgoing > RAFT_MAX_CONF || cs->n_learners_next > RAFT_MAX_CONF)
            return bs_err_setf(err, BS_ECORRUPT, "raft: snapshot conf state too large");
    }

    if (m->term == 0 && !is_local(m->type) && m->type != RAFT_MSG_TRANSFER_LEADER &&
        m->type != RAFT_MSG_READ_INDEX)
        return bs_err_setf(err, BS_ECORRUPT, "raft: %s without a term",
                           raft_msg_type_name(m->type));
    if (is_local(m->type) || m->term == 0) {
        /* local message, or a request that carries no term */
    } else if (m->term > r->term) {
        if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PRE_VOTE) {
            bool force = raft_is_transfer_ctx(m->context);
            if (!force && in_lease(r)) {
                /* We heard from a leader within the election timeout: a disruptive
                 * candidate must not depose it (thesis 4.2.3, and the lease). */
                raft_tracef(r, "%llu ignored %s from %llu at term %llu: lease not expired",
                            (unsigned long long)r->id, raft_msg_type_name(m->type),
                            (unsigned long long)m->from, (unsigned long long)r->term);
                return BS_OK;
            }
        }
        if (m->type == RAFT_MSG_PRE_VOTE) {
            /* never change our term for a pre-vote */
        } else if (m->type == RAFT_MSG_PRE_VOTE_RESP && !m->reject) {
            /* granted with a future term; the term moves when the quorum is reached */
        } else {
            bool from_leader = m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT ||
                               m->type == RAFT_MSG_SNAPSHOT;
            int elapsed = r->election_elapsed;
            raft_become_follower(r, m->term, from_leader ? m->from : RAFT_NONE);
            /* Only a leader's message (or granting a vote) restarts the election timer
             * (Raft 5.2). Restarting it on every higher term would let candidates with
             * stale logs, which can never win, keep an electable node from ever timing
             * out: a livelock the simulation found. */
            if (!from_leader && r->state == RAFT_FOLLOWER && elapsed < r->election_timeout * 2)
                r->election_elapsed = elapsed;
        }
    } else if (m->term < r->term) {
        if ((r->check_quorum || r->pre_vote) &&
            (m->type == RAFT_MSG_HEARTBEAT || m->type == RAFT_MSG_APPEND)) {
            /* A partitioned old leader would otherwise never learn the new term (with
             * check_quorum/pre-vote our term might never reach it). */
            raft_msg resp = {.type = RAFT_MSG_APPEND_RESP, .to = m->from};
            raft_send(r, &resp);
        } else if (m->type == RAFT_MSG_PRE_VOTE) {
            raft_msg resp = {
                .type = RAFT_MSG_PRE_VOTE_RESP, .to = m->from, .term = r->term, .reject = true};
            raft_send(r, &resp);
        }
        return BS_OK;
    }

    switch (m->type) {
    case RAFT_MSG_HUP:
        raft_hup(r, r->pre_vote ? RAFT_CAMPAIGN_PRE : RAFT_CAMPAIGN_ELECTION);
        return BS_OK;
    case RAFT_MSG_VOTE:
    case RAFT_MSG_PRE_VOTE:
        raft_handle_vote_request(r, m);
        return BS_OK;
    default:
        break;
    }
    switch (r->state) {
    case RAFT_LEADER:
        raft_step_leader(r, m);
        break;
    case RAFT_CANDIDATE:
    case RAFT_PRE_CANDIDATE:
        raft_step_candidate(r, m);
        break;
    case RAFT_FOLLOWER:
        step_follower(r, m);
        break;
    }
    return BS_OK;
}

/* ---- inspection ----------------------------------------------------------------------- */

void raft_get_status(const raft_node *r, raft_status *st)
{
    memset(st, 0, sizeof(*st));
    st->id = r->id;
    st->term = r->term;
    st->vote = r->vote;
    st->lead = r->lead;
    st->commit = r->log.committed;
    st->applied = r->log.applied;
    st->last_index = raft_log_last_index(&r->log);
    st->first_index = raft_log_first_index(&r->log);
    st->role = r->state;
    st->lead_transferee = r->lead_transferee;
    st->uncommitted_size = r->uncommitted_size;
}

void raft_get_conf_state(const raft_node *r, raft_conf_state *cs)
{
    raft_tracker_conf_state(&r->trk, cs);
}

bool raft_lease_valid(const raft_node *r)
{
    return raft_ro_lease_valid(r);
}
