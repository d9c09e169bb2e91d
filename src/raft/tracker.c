/* tracker.c -- the progresses of all peers and the configuration they form.
 *
 * Holds one raft_progress per id in the incoming voters, outgoing voters, learners and
 * learners_next, the (joint) voter config used for commit and votes, and the votes of the
 * running campaign. Mirrors etcd raft tracker/tracker.go. Configs are small (at most
 * RAFT_MAX_CONF ids per set), so everything is a fixed array with linear lookup.
 * Invariant: every id of cfg has exactly one progress, and no other progress exists. */
#include <string.h>

#include "raft/raft_int.h"

void raft_tracker_init(raft_tracker *t, size_t max_inflight)
{
    memset(t, 0, sizeof(*t));
    t->max_inflight = max_inflight;
}

void raft_tracker_deinit(raft_tracker *t)
{
    for (size_t i = 0; i < t->n_prs; i++)
        raft_pr_deinit(&t->prs[i]);
    t->n_prs = 0;
}

raft_progress *raft_tracker_get(raft_tracker *t, uint64_t id)
{
    for (size_t i = 0; i < t->n_prs; i++)
        if (t->prs[i].id == id)
            return &t->prs[i];
    return NULL;
}

const raft_progress *raft_tracker_cget(const raft_tracker *t, uint64_t id)
{
    for (size_t i = 0; i < t->n_prs; i++)
        if (t->prs[i].id == id)
            return &t->prs[i];
    return NULL;
}

raft_progress *raft_tracker_add(raft_tracker *t, uint64_t id, uint64_t next, bool learner)
{
    raft_progress *p = raft_tracker_get(t, id);
    if (p)
        return p;
    BS_ASSERT(t->n_prs < RAFT_MAX_PROGRESS);
    p = &t->prs[t->n_prs++];
    raft_pr_init(p, id, next, t->max_inflight, learner);
    return p;
}

void raft_tracker_remove(raft_tracker *t, uint64_t id)
{
    for (size_t i = 0; i < t->n_prs; i++) {
        if (t->prs[i].id == id) {
            raft_pr_deinit(&t->prs[i]);
            t->prs[i] = t->prs[t->n_prs - 1];
            t->n_prs--;
            return;
        }
    }
}

bool raft_tracker_is_voter(const raft_tracker *t, uint64_t id)
{
    return raft_idset_has(&t->cfg.voters.in, id) || raft_idset_has(&t->cfg.voters.out, id);
}

bool raft_tracker_is_joint(const raft_tracker *t)
{
    return t->cfg.voters.out.n > 0;
}

static uint64_t match_of(void *ctx, uint64_t id)
{
    const raft_progress *p = raft_tracker_cget(ctx, id);
    return p ? p->match : 0;
}

uint64_t raft_tracker_committed(const raft_tracker *t)
{
    return raft_joint_committed(&t->cfg.voters, match_of, (void *)t);
}

static uint64_t round_of(void *ctx, uint64_t id)
{
    const raft_progress *p = raft_tracker_cget(ctx, id);
    return p ? p->hb_round : 0;
}

uint64_t raft_tracker_hb_round_acked(const raft_tracker *t)
{
    return raft_joint_committed(&t->cfg.voters, round_of, (void *)t);
}

static int active_of(void *ctx, uint64_t id)
{
    const raft_progress *p = raft_tracker_cget(ctx, id);
    return p && p->recent_active ? 1 : 0;
}

bool raft_tracker_quorum_active(const raft_tracker *t)
{
    return raft_joint_vote(&t->cfg.voters, active_of, (void *)t) == RAFT_VOTE_WON;
}

void raft_tracker_reset_votes(raft_tracker *t)
{
    t->n_votes = 0;
}

void raft_tracker_record_vote(raft_tracker *t, uint64_t id, bool granted)
{
    for (size_t i = 0; i < t->n_votes; i++)
        if (t->vote_ids[i] == id)
            return; /* first answer counts */
    if (t->n_votes >= RAFT_MAX_PROGRESS)
        return;
    t->vote_ids[t->n_votes] = id;
    t->vote_granted[t->n_votes] = granted ? 1 : 0;
    t->n_votes++;
}

static int vote_of(void *ctx, uint64_t id)
{
    const raft_tracker *t = ctx;
    for (size_t i = 0; i < t->n_votes; i++)
        if (t->vote_ids[i] == id)
            return t->vote_granted[i];
    return -1;
}

raft_vote_result raft_tracker_tally(const raft_tracker *t, size_t *granted, size_t *rejected)
{
    size_t g = 0, rj = 0;
    for (size_t i = 0; i < t->n_votes; i++) {
        if (!raft_tracker_is_voter(t, t->vote_ids[i]))
            continue;
        if (t->vote_granted[i])
            g++;
        else
            rj++;
    }
    if (granted)
        *granted = g;
    if (rejected)
        *rejected = rj;
    return raft_joint_vote(&t->cfg.voters, vote_of, (void *)t);
}

static void copy_set(uint64_t *dst, uint32_t *n, const raft_idset *s)
{
    memcpy(dst, s->ids, s->n * sizeof(uint64_t));
    *n = s->n;
}

void raft_tracker_conf_state(const raft_tracker *t, raft_conf_state *cs)
{
    memset(cs, 0, sizeof(*cs));
    copy_set(cs->voters, &cs->n_voters, &t->cfg.voters.in);
    copy_set(cs->voters_outgoing, &cs->n_voters_outgoing, &t->cfg.voters.out);
    copy_set(cs->learners, &cs->n_learners, &t->cfg.learners);
    copy_set(cs->learners_next, &cs->n_learners_next, &t->cfg.learners_next);
    cs->auto_leave = t->cfg.auto_leave;
}

size_t raft_tracker_voter_ids(const raft_tracker *t, uint64_t *ids)
{
    size_t n = 0;
    for (uint32_t i = 0; i < t->cfg.voters.in.n; i++)
        ids[n++] = t->cfg.voters.in.ids[i];
    for (uint32_t i = 0; i < t->cfg.voters.out.n; i++)
        if (!raft_idset_has(&t->cfg.voters.in, t->cfg.voters.out.ids[i]))
            ids[n++] = t->cfg.voters.out.ids[i];
    return n;
}
