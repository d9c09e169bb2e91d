/* progress.c -- what the leader knows about one peer's log, and its in-flight window.
 *
 * A peer is probed (one MsgAppend at a time until an index matches), then replicated
 * (pipelined MsgAppends, at most max_inflight_msgs unacknowledged), or sent a snapshot
 * (no appends until the snapshot is reported). Mirrors etcd raft tracker/progress.go and
 * tracker/inflights.go. Invariant: match < next. */
#include <string.h>

#include "raft/raft_int.h"

void raft_pr_init(raft_progress *p, uint64_t id, uint64_t next, size_t max_inflight, bool learner)
{
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->next = next;
    p->is_learner = learner;
    p->ins.cap = max_inflight;
    p->ins.idx = bs_malloc(max_inflight * sizeof(uint64_t));
}

void raft_pr_deinit(raft_progress *p)
{
    bs_free(p->ins.idx);
    memset(p, 0, sizeof(*p));
}

void raft_inflights_reset(raft_inflights *in)
{
    in->start = 0;
    in->count = 0;
}

bool raft_inflights_full(const raft_inflights *in)
{
    return in->count == in->cap;
}

static void inflights_add(raft_inflights *in, uint64_t last)
{
    BS_ASSERT(!raft_inflights_full(in));
    in->idx[(in->start + in->count) % in->cap] = last;
    in->count++;
}

void raft_inflights_free_le(raft_inflights *in, uint64_t to)
{
    while (in->count > 0 && in->idx[in->start] <= to) {
        in->start = (in->start + 1) % in->cap;
        in->count--;
    }
    if (in->count == 0)
        in->start = 0;
}

static void reset_state(raft_progress *p, raft_pr_state s)
{
    p->probe_sent = false;
    p->pending_snapshot = 0;
    p->state = s;
    raft_inflights_reset(&p->ins);
}

void raft_pr_become_probe(raft_progress *p)
{
    if (p->state == RAFT_PR_SNAPSHOT) {
        /* Resume right after the snapshot if it was applied, else after match. */
        uint64_t pending = p->pending_snapshot;
        reset_state(p, RAFT_PR_PROBE);
        p->next = (p->match + 1 > pending + 1) ? p->match + 1 : pending + 1;
    } else {
        reset_state(p, RAFT_PR_PROBE);
        p->next = p->match + 1;
    }
}

void raft_pr_become_replicate(raft_progress *p)
{
    reset_state(p, RAFT_PR_REPLICATE);
    p->next = p->match + 1;
}

void raft_pr_become_snapshot(raft_progress *p, uint64_t snapi)
{
    reset_state(p, RAFT_PR_SNAPSHOT);
    p->pending_snapshot = snapi;
}

bool raft_pr_maybe_update(raft_progress *p, uint64_t n)
{
    bool updated = false;
    if (p->match < n) {
        p->match = n;
        updated = true;
        p->probe_sent = false;
    }
    if (p->next < n + 1)
        p->next = n + 1;
    return updated;
}

bool raft_pr_maybe_decr_to(raft_progress *p, uint64_t rejected, uint64_t match_hint)
{
    if (p->state == RAFT_PR_REPLICATE) {
        /* A rejection of something already matched is stale. */
        if (rejected <= p->match)
            return false;
        p->next = p->match + 1;
        return true;
    }
    /* Probe/snapshot: only the rejection of our latest probe counts. */
    if (p->next - 1 != rejected)
        return false;
    uint64_t n = rejected < match_hint + 1 ? rejected : match_hint + 1;
    if (n < p->match + 1)
        n = p->match + 1;
    p->next = n;
    p->probe_sent = false;
    return true;
}

bool raft_pr_is_paused(const raft_progress *p)
{
    switch (p->state) {
    case RAFT_PR_PROBE:
        return p->probe_sent;
    case RAFT_PR_REPLICATE:
        return raft_inflights_full(&p->ins);
    case RAFT_PR_SNAPSHOT:
        return true;
    }
    BS_UNREACHABLE();
}

void raft_pr_sent_entries(raft_progress *p, uint64_t last)
{
    if (p->state == RAFT_PR_REPLICATE) {
        p->next = last + 1;
        inflights_add(&p->ins, last);
    } else if (p->state == RAFT_PR_PROBE) {
        p->probe_sent = true;
    }
}

const char *raft_pr_state_name(raft_pr_state s)
{
    switch (s) {
    case RAFT_PR_PROBE:
        return "probe";
    case RAFT_PR_REPLICATE:
        return "replicate";
    case RAFT_PR_SNAPSHOT:
        return "snapshot";
    }
    return "?";
}
