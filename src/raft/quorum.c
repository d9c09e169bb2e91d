/* quorum.c -- majority and joint-majority arithmetic.
 *
 * The committed index of a majority config is the largest value a majority has acked
 * (the median-ish element); a joint config commits what both halves commit. A vote is won
 * when granted by a majority, lost once a majority can no longer grant, else pending; a
 * joint vote needs both halves. The same "acked value" computation serves the commit index
 * (acked = match) and ReadIndex/lease rounds (acked = heartbeat round). An empty majority
 * config commits everything and wins every vote, so a non-joint config's empty outgoing
 * half never constrains. Mirrors etcd raft quorum/majority.go and quorum/joint.go. */
#include <stdlib.h>

#include "raft/raft_int.h"

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : (x > y ? -1 : 0);
}

uint64_t raft_majority_committed(const raft_idset *s, raft_ack_fn f, void *ctx)
{
    if (s->n == 0)
        return UINT64_MAX;
    uint64_t vals[RAFT_MAX_CONF];
    for (uint32_t i = 0; i < s->n; i++)
        vals[i] = f(ctx, s->ids[i]);
    if (s->n <= 5) {
        /* insertion sort, descending: configs are tiny */
        for (uint32_t i = 1; i < s->n; i++) {
            uint64_t v = vals[i];
            uint32_t j = i;
            while (j > 0 && vals[j - 1] < v) {
                vals[j] = vals[j - 1];
                j--;
            }
            vals[j] = v;
        }
    } else {
        qsort(vals, s->n, sizeof(uint64_t), cmp_desc);
    }
    return vals[s->n / 2];
}

uint64_t raft_joint_committed(const raft_joint *j, raft_ack_fn f, void *ctx)
{
    uint64_t a = raft_majority_committed(&j->in, f, ctx);
    uint64_t b = raft_majority_committed(&j->out, f, ctx);
    return a < b ? a : b;
}

raft_vote_result raft_majority_vote(const raft_idset *s, raft_vote_fn f, void *ctx)
{
    if (s->n == 0)
        return RAFT_VOTE_WON;
    uint32_t granted = 0, missing = 0, q = s->n / 2 + 1;
    for (uint32_t i = 0; i < s->n; i++) {
        int v = f(ctx, s->ids[i]);
        if (v > 0)
            granted++;
        else if (v < 0)
            missing++;
    }
    if (granted >= q)
        return RAFT_VOTE_WON;
    if (granted + missing >= q)
        return RAFT_VOTE_PENDING;
    return RAFT_VOTE_LOST;
}

raft_vote_result raft_joint_vote(const raft_joint *j, raft_vote_fn f, void *ctx)
{
    raft_vote_result a = raft_majority_vote(&j->in, f, ctx);
    raft_vote_result b = raft_majority_vote(&j->out, f, ctx);
    if (a == b)
        return a;
    if (a == RAFT_VOTE_LOST || b == RAFT_VOTE_LOST)
        return RAFT_VOTE_LOST;
    return RAFT_VOTE_PENDING;
}
