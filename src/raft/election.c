/* election.c -- campaigns and votes (Raft sections 5.2 and 5.4.1, thesis 9.6 PreVote).
 *
 * A campaign first runs a pre-vote round at term+1 without touching the term or vote, so
 * a node that was partitioned away cannot force a term bump on a healthy cluster; only
 * when a quorum would vote for it does it become a candidate and bump the term. Voters
 * grant at most one vote per term and only to a candidate whose log is at least as
 * up-to-date as theirs (the election restriction). A transfer campaign (MsgTimeoutNow)
 * skips the pre-vote and carries "CampaignTransfer" so voters ignore their leader lease.
 * Mirrors etcd raft raft.go (hup, campaign, poll, stepCandidate). */
#include <string.h>

#include "raft/raft_int.h"

static const char transfer_ctx[] = "CampaignTransfer";

bool raft_is_transfer_ctx(bs_slice ctx)
{
    return ctx.len == sizeof(transfer_ctx) - 1 && memcmp(ctx.ptr, transfer_ctx, ctx.len) == 0;
}

static raft_vote_result poll(raft_node *r, uint64_t id, raft_msg_type t, bool granted)
{
    raft_tracef(r, "%llu received %s %s from %llu at term %llu", (unsigned long long)r->id,
                raft_msg_type_name(t), granted ? "grant" : "rejection", (unsigned long long)id,
                (unsigned long long)r->term);
    raft_tracker_record_vote(&r->trk, id, granted);
    return raft_tracker_tally(&r->trk, NULL, NULL);
}

void raft_campaign_kind(raft_node *r, int kind)
{
    if (!raft_promotable(r))
        return;
    raft_msg_type vt;
    uint64_t term;
    if (kind == RAFT_CAMPAIGN_PRE) {
        raft_become_pre_candidate(r);
        vt = RAFT_MSG_PRE_VOTE;
        term = r->term + 1;
    } else {
        raft_become_candidate(r);
        vt = RAFT_MSG_VOTE;
        term = r->term;
    }
    raft_msg_type rt = vt == RAFT_MSG_PRE_VOTE ? RAFT_MSG_PRE_VOTE_RESP : RAFT_MSG_VOTE_RESP;
    if (poll(r, r->id, rt, true) == RAFT_VOTE_WON) {
        /* A single-voter config wins at once. */
        if (kind == RAFT_CAMPAIGN_PRE)
            raft_campaign_kind(r, RAFT_CAMPAIGN_ELECTION);
        else {
            raft_become_leader(r);
            raft_bcast_append(r);
        }
        return;
    }
    uint64_t ids[2 * RAFT_MAX_CONF];
    size_t n = raft_tracker_voter_ids(&r->trk, ids);
    uint64_t li = raft_log_last_index(&r->log), lt = raft_log_last_term(&r->log);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == r->id)
            continue;
        raft_msg m = {.type = vt, .to = ids[i], .term = term, .index = li, .log_term = lt};
        if (kind == RAFT_CAMPAIGN_TRANSFER) {
            uint8_t *c = bs_malloc(sizeof(transfer_ctx) - 1);
            memcpy(c, transfer_ctx, sizeof(transfer_ctx) - 1);
            m.context = bs_slice_make(c, sizeof(transfer_ctx) - 1);
        }
        raft_tracef(r, "%llu [logterm: %llu, index: %llu] sent %s request to %llu at term %llu",
                    (unsigned long long)r->id, (unsigned long long)lt, (unsigned long long)li,
                    raft_msg_type_name(vt), (unsigned long long)ids[i],
                    (unsigned long long)r->term);
        raft_send(r, &m);
    }
}

void raft_hup(raft_node *r, int kind)
{
    if (r->state == RAFT_LEADER)
        return;
    if (!raft_promotable(r)) {
        raft_tracef(r, "%llu is unpromotable and can not campaign", (unsigned long long)r->id);
        return;
    }
    if (raft_log_has_pending_conf(&r->log)) {
        /* The config we would campaign with may be about to change. */
        raft_tracef(r, "%llu cannot campaign at term %llu: pending conf changes to apply",
                    (unsigned long long)r->id, (unsigned long long)r->term);
        return;
    }
    raft_tracef(r, "%llu is starting a new election at term %llu", (unsigned long long)r->id,
                (unsigned long long)r->term);
    raft_campaign_kind(r, kind);
}

void raft_handle_vote_request(raft_node *r, const raft_msg *m)
{
    bool can_vote = r->vote == m->from || (r->vote == RAFT_NONE && r->lead == RAFT_NONE) ||
                    (m->type == RAFT_MSG_PRE_VOTE && m->term > r->term);
    raft_msg_type rt = m->type == RAFT_MSG_VOTE ? RAFT_MSG_VOTE_RESP : RAFT_MSG_PRE_VOTE_RESP;
    bool grant = can_vote && raft_log_is_up_to_date(&r->log, m->index, m->log_term);
    raft_tracef(r,
                "%llu [logterm: %llu, index: %llu, vote: %llu] %s %s from %llu "
                "[logterm: %llu, index: %llu] at term %llu",
                (unsigned long long)r->id, (unsigned long long)raft_log_last_term(&r->log),
                (unsigned long long)raft_log_last_index(&r->log), (unsigned long long)r->vote,
                grant ? "cast" : "rejected", raft_msg_type_name(m->type),
                (unsigned long long)m->from, (unsigned long long)m->log_term,
                (unsigned long long)m->index, (unsigned long long)r->term);
    raft_msg resp = {.type = rt, .to = m->from};
    if (grant) {
        /* The response carries the candidate's term: a pre-vote grant is for term+1. */
        resp.term = m->term;
        if (m->type == RAFT_MSG_VOTE) {
            r->election_elapsed = 0;
            r->vote = m->from;
        }
    } else {
        resp.term = r->term;
        resp.reject = true;
    }
    raft_send(r, &resp);
}

void raft_step_candidate(raft_node *r, const raft_msg *m)
{
    raft_msg_type mine =
        r->state == RAFT_PRE_CANDIDATE ? RAFT_MSG_PRE_VOTE_RESP : RAFT_MSG_VOTE_RESP;
    switch (m->type) {
    case RAFT_MSG_APPEND:
        raft_become_follower(r, m->term, m->from);
        raft_handle_append(r, m);
        return;
    case RAFT_MSG_HEARTBEAT:
        raft_become_follower(r, m->term, m->from);
        raft_handle_heartbeat(r, m);
        return;
    case RAFT_MSG_SNAPSHOT:
        raft_become_follower(r, m->term, m->from);
        raft_handle_snapshot(r, m);
        return;
    default:
        break;
    }
    if (m->type != mine)
        return; /* a stale response of the other kind, or nothing a candidate handles */
    switch (poll(r, m->from, m->type, !m->reject)) {
    case RAFT_VOTE_WON:
        if (r->state == RAFT_PRE_CANDIDATE) {
            raft_campaign_kind(r, RAFT_CAMPAIGN_ELECTION);
        } else {
            raft_become_leader(r);
            raft_bcast_append(r);
        }
        break;
    case RAFT_VOTE_LOST:
        /* m->term may be ours + 1 for a pre-vote; the term only moves on a real vote. */
        raft_become_follower(r, r->term, RAFT_NONE);
        break;
    case RAFT_VOTE_PENDING:
        break;
    }
}
