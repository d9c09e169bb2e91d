/* read_only.c -- linearizable reads on the leader: ReadIndex and the leader lease
 * (Raft thesis 6.4).
 *
 * ReadIndex: a read records the commit index when it arrives, then waits until a quorum
 * acknowledges a heartbeat round started after its arrival -- proof that no newer leader
 * existed at that moment -- and is then served at that index. Rounds are numbered; the
 * heartbeat carries the round in `index`, the follower echoes it, and the quorum-acked
 * round is computed like a commit index over each peer's highest acked round. Many reads
 * share one round. A leader serves no read before an entry of its own term commits
 * (its commit index may lag until then); such reads wait in `waiting`.
 * Lease: with check_quorum a follower that heard from the leader ignores (pre)votes for an
 * election timeout, so a quorum ack of the round sent at tick t keeps any other leader
 * away until t + election_timeout; the lease ends 2 ticks earlier for safety and is off
 * after a TimeoutNow. Mirrors the role of etcd raft read_only.go with round numbers in
 * place of per-request contexts. */
#include <string.h>

#include "raft/raft_int.h"

void raft_ro_init(raft_read_only *ro)
{
    memset(ro, 0, sizeof(*ro));
}

static void free_reqs(raft_read_req *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bs_buf_free(&v[i].ctx);
}

void raft_ro_reset(raft_read_only *ro)
{
    free_reqs(ro->reqs, ro->n);
    free_reqs(ro->waiting, ro->n_waiting);
    ro->n = 0;
    ro->n_waiting = 0;
}

void raft_ro_deinit(raft_read_only *ro)
{
    raft_ro_reset(ro);
    bs_free(ro->reqs);
    bs_free(ro->waiting);
    memset(ro, 0, sizeof(*ro));
}

static void push(raft_read_req **v, size_t *n, size_t *cap, uint64_t index, uint64_t round,
                 uint64_t from, bs_slice ctx)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *v = bs_realloc(*v, *cap * sizeof(raft_read_req));
    }
    raft_read_req *q = &(*v)[(*n)++];
    q->index = index;
    q->round = round;
    q->from = from;
    bs_buf_init(&q->ctx);
    bs_buf_set(&q->ctx, ctx.ptr, ctx.len);
}

static void respond(raft_node *r, uint64_t from, uint64_t index, bs_slice ctx)
{
    if (from == r->id) {
        raft_rsvec_push(&r->read_states, index, ctx);
        return;
    }
    raft_msg m = {.type = RAFT_MSG_READ_INDEX_RESP, .to = from, .index = index};
    if (ctx.len) {
        uint8_t *c = bs_malloc(ctx.len);
        memcpy(c, ctx.ptr, ctx.len);
        m.context = bs_slice_make(c, ctx.len);
    }
    raft_send(r, &m);
}

static bool is_singleton(const raft_node *r)
{
    const raft_joint *j = &r->trk.cfg.voters;
    return j->out.n == 0 && j->in.n == 1 && j->in.ids[0] == r->id;
}

uint64_t raft_ro_new_round(raft_node *r)
{
    raft_read_only *ro = &r->ro;
    ro->round++;
    ro->round_tick[ro->round % RAFT_ROUND_RING] = r->now;
    raft_progress *self = raft_tracker_get(&r->trk, r->id);
    if (self)
        self->hb_round = ro->round;
    r->hb_pending = false;
    return ro->round;
}

bool raft_ro_lease_valid(const raft_node *r)
{
    if (r->read_only != RAFT_READ_LEASE || r->state != RAFT_LEADER || r->lease_disabled ||
        r->lead_transferee != RAFT_NONE)
        return false;
    uint64_t acked = raft_tracker_hb_round_acked(&r->trk);
    if (acked == 0 || acked > r->ro.round || r->ro.round - acked >= RAFT_ROUND_RING)
        return false;
    uint64_t sent = r->ro.round_tick[acked % RAFT_ROUND_RING];
    uint64_t lease = (uint64_t)(r->election_timeout > 2 ? r->election_timeout - 2 : 0);
    return r->now < sent + lease;
}

void raft_ro_leader_read(raft_node *r, uint64_t from, bs_slice ctx)
{
    raft_read_only *ro = &r->ro;
    uint64_t committed = r->log.committed;
    if (raft_log_term(&r->log, committed) != r->term) {
        /* Our commit index may be stale until this term's first entry commits. */
        push(&ro->waiting, &ro->n_waiting, &ro->cap_waiting, 0, 0, from, ctx);
        return;
    }
    if (is_singleton(r) || raft_ro_lease_valid(r)) {
        respond(r, from, committed, ctx);
        return;
    }
    /* Wait for the next round: it starts at the latest at the next Ready. */
    push(&ro->reqs, &ro->n, &ro->cap, committed, ro->round + 1, from, ctx);
    r->hb_pending = true;
}

void raft_ro_on_round_acked(raft_node *r)
{
    raft_read_only *ro = &r->ro;
    if (ro->n == 0)
        return;
    uint64_t acked = raft_tracker_hb_round_acked(&r->trk);
    size_t k = 0;
    while (k < ro->n && ro->reqs[k].round <= acked) {
        respond(r, ro->reqs[k].from, ro->reqs[k].index, bs_buf_slice(&ro->reqs[k].ctx));
        bs_buf_free(&ro->reqs[k].ctx);
        k++;
    }
    memmove(ro->reqs, ro->reqs + k, (ro->n - k) * sizeof(raft_read_req));
    ro->n -= k;
}

void raft_ro_release_waiting(raft_node *r)
{
    raft_read_only *ro = &r->ro;
    if (ro->n_waiting == 0 || raft_log_term(&r->log, r->log.committed) != r->term)
        return;
    raft_read_req *w = ro->waiting;
    size_t n = ro->n_waiting;
    ro->waiting = NULL;
    ro->n_waiting = 0;
    ro->cap_waiting = 0;
    for (size_t i = 0; i < n; i++) {
        raft_ro_leader_read(r, w[i].from, bs_buf_slice(&w[i].ctx));
        bs_buf_free(&w[i].ctx);
    }
    bs_free(w);
}
