/* peer.c -- one Region's peer on this store: its metadata, its raft node and the proposals
 * waiting for their entries to apply.
 *
 * Everything here runs on the raftstore thread. A proposal is queued in raft log order
 * (pend_head..pend_tail, by index) with the term it was proposed in; when its index applies
 * it succeeds if the applied entry has that term and is a StaleCommand otherwise (a new
 * leader overwrote it). Losing leadership fails every pending proposal the old leader had
 * not seen committed, and bumps the peer's failure generation so proposals accepted before
 * the failure but not yet handed to raft fail too: once one proposal fails, every later one
 * does (txn.h's chaining contract). Every generation bump also raises a fence that refuses
 * new proposals (ServerIsBusy) until the round's failure callbacks have run, so nothing
 * accepted under the new generation chains on a write that is failing. A BatchSplit
 * applies like any command (split.c) and fails the pending writes of the old epoch. Apply
 * writes the commands' data and the Region's apply state in ONE engine write, so a restart
 * re-applies exactly the entries after it.
 * Mirrors TiKV raftstore's Peer/ApplyDelegate (components/raftstore/src/store/peer.rs,
 * fsm/apply.rs), folded into one thread. */
#include <string.h>

#include "cluster/cluster_int.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"

/* The list is circular and *cbs points at its TAIL (tail->next is the head), so a push
 * is O(1): a round of a pipelined load queues thousands of callbacks. */
static cluster_cb *cb_append(cluster_cb **cbs, int code, const bs_err *err)
{
    cluster_cb *c = bs_calloc(1, sizeof(*c));
    c->code = code;
    if (err)
        c->err = *err;
    else
        bs_err_setf(&c->err, code, "%s", bs_strerror(code));
    if (code == BS_OK)
        bs_err_clear(&c->err);
    /* Keep FIFO order: callbacks run in the order they were queued. */
    if (*cbs) {
        c->next = (*cbs)->next;
        (*cbs)->next = c;
    } else {
        c->next = c;
    }
    *cbs = c;
    return c;
}

void cluster_cb_push(cluster_cb **cbs, cluster_proposal_done_fn done, void *arg, int code,
                     const bs_err *err)
{
    cluster_cb *c = cb_append(cbs, code, err);
    c->done = done;
    c->arg = arg;
}

void cluster_cb_push_read(cluster_cb **cbs, cluster_read_done_fn done, void *arg, int code,
                          const bs_err *err)
{
    cluster_cb *c = cb_append(cbs, code, err);
    c->rdone = done;
    c->arg = arg;
}

void cluster_cb_push_role(cluster_cb **cbs, void (*fn)(void *, uint64_t, bool), void *arg,
                          uint64_t region_id, bool is_leader)
{
    cluster_cb *c = cb_append(cbs, BS_OK, NULL);
    c->role = fn;
    c->arg = arg;
    c->region_id = region_id;
    c->is_leader = is_leader;
}

void cluster_cb_run(cluster_cb *cbs)
{
    if (!cbs)
        return;
    cluster_cb *c = cbs->next; /* the head */
    cbs->next = NULL;          /* open the circle after the tail */
    while (c) {
        cluster_cb *n = c->next;
        const bs_err *e = c->code == BS_OK ? NULL : &c->err;
        if (c->done)
            c->done(c->arg, c->code, e);
        else if (c->rdone)
            c->rdone(c->arg, c->code, e);
        else if (c->role)
            c->role(c->arg, c->region_id, c->is_leader);
        bs_free(c);
        c = n;
    }
}

void cluster_proposal_free(cluster_proposal *p)
{
    if (!p)
        return;
    bs_buf_free(&p->data);
    bs_free(p);
}

static void trace_fn(void *ctx, const char *line)
{
    cluster_fsm *f = ctx;
    BS_LOG_DEBUG("raft", "region_id=%llu line=\"%s\"", (unsigned long long)f->region_id, line);
}

int cluster_fsm_new(cluster_store *s, const cluster_region *r, cluster_fsm **out, bs_err *err)
{
    const cluster_peer *me = cluster_region_find_store_peer(r, s->store_id);
    if (!me)
        return bs_err_setf(err, BS_EINVAL, "region %llu has no peer on store %llu",
                           (unsigned long long)r->id, (unsigned long long)s->store_id);
    cluster_fsm *f = bs_calloc(1, sizeof(*f));
    f->store = s;
    f->region_id = r->id;
    f->peer_id = me->id;
    pd_region_init(&f->region);
    pd_region_copy(&f->region, r);
    int rc = cluster_rs_load(&f->rs, s->engine, r, err);
    if (rc != BS_OK) {
        pd_region_deinit(&f->region);
        bs_free(f);
        return rc;
    }
    raft_config c;
    raft_config_default(&c);
    c.id = f->peer_id;
    c.election_tick = s->opts.election_ticks;
    c.heartbeat_tick = s->opts.heartbeat_ticks;
    c.applied = f->rs.apply.applied;
    c.max_size_per_msg = s->opts.max_size_per_msg;
    c.max_inflight_msgs = s->opts.max_inflight_msgs;
    c.check_quorum = true;
    c.pre_vote = true;
    c.read_only = s->opts.lease_read ? RAFT_READ_LEASE : RAFT_READ_SAFE;
    c.seed = f->peer_id * 7919 + r->id * 104729 + (uint64_t)bs_clock_mono_ns();
    c.trace = trace_fn;
    c.trace_ctx = f;
    c.storage = cluster_rs_storage(&f->rs);
    rc = raft_new(&c, &f->raft, err);
    if (rc != BS_OK) {
        cluster_rs_deinit(&f->rs);
        pd_region_deinit(&f->region);
        bs_free(f);
        return bs_err_wrapf(err, "region %llu raft", (unsigned long long)r->id);
    }
    f->synced_index = f->rs.last_index; /* everything loaded from disk is durable */
    f->acked_index = 0;
    raft_conf_state cs;
    cluster_region_conf_state(r, &cs);
    if (cs.n_voters == 1 && cs.voters[0] == f->peer_id)
        raft_campaign(f->raft); /* a lone voter need not wait for an election timeout */
    *out = f;
    return BS_OK;
}

void cluster_fsm_fail_all(cluster_fsm *f, int code, const char *why, cluster_cb **cbs)
{
    bs_err e;
    bs_err_setf(&e, code, "region %llu: %s", (unsigned long long)f->region_id, why);
    while (f->pend_head) {
        cluster_proposal *p = f->pend_head;
        f->pend_head = p->next;
        if (!p->admin) {
            cluster_cb_push(cbs, p->done, p->done_arg, code, &e);
            f->store->stats.proposals_failed++;
        }
        cluster_proposal_free(p);
    }
    f->pend_tail = NULL;
    f->sync_cursor = NULL;
    while (f->reads) {
        cluster_read *r = f->reads;
        f->reads = r->next;
        cluster_cb_push_read(cbs, r->done, r->arg, code, &e);
        bs_free(r);
    }
}

void cluster_fsm_free(cluster_fsm *f)
{
    if (!f)
        return;
    BS_ASSERT(!f->pend_head && !f->reads);
    raft_free(f->raft);
    cluster_rs_deinit(&f->rs);
    pd_region_deinit(&f->region);
    bs_free(f);
}

void cluster_fsm_bump_gen(cluster_fsm *f)
{
    cluster_store *s = f->store;
    pthread_mutex_lock(&s->mu);
    f->gen++;
    f->fence = true;
    s->any_fence = true;
    pthread_mutex_unlock(&s->mu);
}

void cluster_fsm_fail_pending_after(cluster_fsm *f, uint64_t index, int code, const bs_err *e,
                                    cluster_cb **cbs)
{
    cluster_proposal **pp = &f->pend_head, *tail = NULL;
    while (*pp) {
        cluster_proposal *p = *pp;
        if (p->index <= index || p->admin) {
            tail = p;
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        if (f->sync_cursor == p)
            f->sync_cursor = p->next; /* the next one may go too: checked when it does */
        cluster_cb_push(cbs, p->done, p->done_arg, code, e);
        f->store->stats.proposals_failed++;
        cluster_proposal_free(p);
    }
    f->pend_tail = tail;
}

int cluster_fsm_propose(cluster_fsm *f, cluster_proposal *p, cluster_cb **cbs)
{
    bs_err e;
    bs_err_clear(&e);
    int rc;
    pthread_mutex_lock(&f->store->mu);
    bool stale = p->gen != f->gen;
    pthread_mutex_unlock(&f->store->mu);
    if (stale) {
        rc = bs_err_setf(&e, BS_EPROPOSAL_DROPPED,
                         "region %llu: stale command (an earlier proposal failed)",
                         (unsigned long long)f->region_id);
    } else {
        rc = raft_propose(f->raft, bs_buf_slice(&p->data), &p->index, &e);
    }
    if (rc != BS_OK) {
        if (!stale)
            cluster_fsm_bump_gen(f);
        if (!p->admin) {
            cluster_cb_push(cbs, p->done, p->done_arg, rc, &e);
            f->store->stats.proposals_failed++;
        }
        cluster_proposal_free(p);
        return rc;
    }
    raft_status st;
    raft_get_status(f->raft, &st);
    p->term = st.term;
    p->next = NULL;
    if (f->pend_tail)
        f->pend_tail->next = p;
    else
        f->pend_head = p;
    f->pend_tail = p;
    if (!f->sync_cursor)
        f->sync_cursor = p;
    f->store->stats.proposals++;
    bs_counter_inc(f->store->m_proposals);
    return BS_OK;
}

/* One applied proposal's outcome, acknowledged after the apply write. */
typedef struct ack {
    cluster_proposal *p;
    int code;
    bs_err err;
} ack;

/* The outcome of applying one entry's command: code and why (ce) for its proposal. A
 * decode failure of log bytes returns BS_ECORRUPT through err instead. */
static int apply_command(cluster_fsm *f, const raft_entry *e, kv_batch *b,
                         cluster_split_done **splits, bool *compacted, uint64_t *wbytes,
                         uint64_t *wkeys, int *code, bs_err *ce, cluster_cb **cbs, bs_err *err)
{
    cluster_store *s = f->store;
    cluster_cmd_header h;
    bs_slice body;
    int rc = cluster_cmd_decode_header(e->data, &h, &body, err);
    if (rc != BS_OK)
        return rc;
    switch (h.kind) {
    case CLUSTER_CMD_WRITE: {
        /* TiKV checks the version again at apply: a split between propose and apply may
         * have moved the keys to another Region. */
        if (h.epoch.version != f->region.epoch.version) {
            *code =
                bs_err_setf(ce, BS_ESTATE, "region %llu: epoch not match (version %llu, now %llu)",
                            (unsigned long long)f->region_id, (unsigned long long)h.epoch.version,
                            (unsigned long long)f->region.epoch.version);
            return BS_OK;
        }
        size_t n0 = kv_batch_count(b), sz0 = kv_batch_data_size(b);
        rc = cluster_cmd_decode_write(body, b, err);
        if (rc != BS_OK)
            return rc;
        *wkeys += kv_batch_count(b) - n0;
        *wbytes += kv_batch_data_size(b) - sz0;
        return BS_OK;
    }
    case CLUSTER_CMD_COMPACT_LOG: {
        uint64_t ci, ct;
        rc = cluster_cmd_decode_compact(body, &ci, &ct, err);
        if (rc != BS_OK)
            return rc;
        if (ci > f->rs.apply.truncated_index && ci <= e->index && ci <= f->rs.last_index) {
            cluster_rs_compact(&f->rs, ci, ct, b);
            s->stats.log_gc_compactions++;
        }
        *compacted = true;
        return BS_OK;
    }
    case CLUSTER_CMD_BATCH_SPLIT:
        rc = cluster_split_apply(f, &h, body, e->index, b, splits, cbs, ce, err);
        if (rc == BS_ESTATE) {
            BS_LOG_WARN("batch split skipped", "region_id=%llu index=%llu err=\"%s\"",
                        (unsigned long long)f->region_id, (unsigned long long)e->index, ce->msg);
            *code = rc;
            return BS_OK;
        }
        return rc;
    }
    return bs_err_setf(err, BS_ECORRUPT, "cluster: unknown command kind %d", (int)h.kind);
}

int cluster_fsm_apply(cluster_fsm *f, const raft_entry *ents, size_t n, cluster_cb **cbs,
                      bs_err *err)
{
    if (n == 0)
        return BS_OK;
    cluster_store *s = f->store;
    int64_t t0 = bs_clock_mono_ns();
    kv_batch *b = kv_batch_new();
    size_t cap_acks = n + 1, n_acks = 0;
    ack *acks = bs_calloc(cap_acks, sizeof(ack));
    bool compacted = false;
    cluster_split_done *splits = NULL;
    uint64_t wbytes = 0, wkeys = 0;
    for (size_t i = 0; i < n; i++) {
        const raft_entry *e = &ents[i];
        int code = BS_OK;
        bs_err ce;
        bs_err_clear(&ce);
        if (e->type != RAFT_ENTRY_NORMAL) {
            /* Basalt proposes no conf changes yet; apply them to raft so it stays
             * consistent with its log (cluster.h Status). */
            raft_conf_change cc;
            if (raft_conf_change_decode(e->data, &cc, &ce) == BS_OK)
                (void)raft_apply_conf_change(f->raft, &cc, NULL, &ce); /* invalid: no-op */
        } else if (e->data.len > 0) {
            int rc =
                apply_command(f, e, b, &splits, &compacted, &wbytes, &wkeys, &code, &ce, cbs, err);
            if (rc != BS_OK) {
                /* The log is unreadable: nothing of this round is written (the caller
                 * stops the store), so the splits recorded so far need no finishing. */
                while (splits) {
                    cluster_split_done *d = splits;
                    splits = d->next;
                    for (size_t k = 0; k < d->n; k++)
                        pd_region_deinit(&d->regions[k]);
                    bs_free(d->regions);
                    bs_free(d);
                }
                kv_batch_free(b);
                bs_free(acks);
                return bs_err_wrapf(err, "region %llu apply index %llu",
                                    (unsigned long long)f->region_id,
                                    (unsigned long long)e->index);
            }
        }
        /* Match the proposals waiting for this index. */
        while (f->pend_head && f->pend_head->index <= e->index) {
            cluster_proposal *p = f->pend_head;
            f->pend_head = p->next;
            if (!f->pend_head)
                f->pend_tail = NULL;
            acks[n_acks].p = p;
            if (p->index == e->index && p->term == e->term) {
                acks[n_acks].code = code;
                acks[n_acks].err = ce;
            } else {
                acks[n_acks].code = bs_err_setf(&acks[n_acks].err, BS_EPROPOSAL_DROPPED,
                                                "region %llu: stale command",
                                                (unsigned long long)f->region_id);
            }
            if (f->sync_cursor == p)
                f->sync_cursor = p->next;
            n_acks++;
            if (n_acks == cap_acks) { /* stale proposals may outnumber entries: grow */
                acks = bs_realloc(acks, 2 * cap_acks * sizeof(ack));
                memset(acks + cap_acks, 0, cap_acks * sizeof(ack));
                cap_acks *= 2;
            }
        }
    }
    uint64_t applied = ents[n - 1].index;
    BS_ASSERT(applied > f->rs.apply.applied);
    f->rs.apply.applied = applied;
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    cluster_key_apply_state(&k, f->region_id);
    cluster_apply_state_encode(&v, &f->rs.apply);
    kv_batch_put(b, KV_CF_RAFT, bs_buf_slice(&k), bs_buf_slice(&v));
    bs_buf_free(&k);
    bs_buf_free(&v);
    int rc = kv_engine_write(s->engine, b, false, err);
    kv_batch_free(b);
    if (rc != BS_OK) {
        bs_free(acks);
        return bs_err_wrapf(err, "region %llu apply write", (unsigned long long)f->region_id);
    }
    if (compacted)
        f->compact_pending = false;
    s->stats.entries_applied += n;
    s->stats.bytes_written += wbytes;
    s->store_hb_bytes += wbytes;
    s->store_hb_keys += wkeys;
    f->split.size_diff += wbytes;
    f->split.scan_diff += wbytes;
    f->split.hb_bytes += wbytes;
    f->split.hb_keys += wkeys;
    /* The new Regions' states are durable now: their peers may start. */
    if (splits)
        cluster_split_finish(f, splits);
    bs_histogram_observe(s->m_apply, (double)(bs_clock_mono_ns() - t0) / 1e9);
    bool failed = false;
    for (size_t i = 0; i < n_acks; i++) {
        cluster_proposal *p = acks[i].p;
        if (!p->admin) {
            if (acks[i].code == BS_OK) {
                /* No proposal is acknowledged before the sync that covers it. */
                BS_ASSERT(p->index <= f->synced_index);
                if (p->index > f->acked_index)
                    f->acked_index = p->index;
                BS_ASSERT(f->acked_index <= f->synced_index);
                s->stats.proposals_acked++;
                BS_ASSERT(s->stats.proposals_synced >= s->stats.proposals_acked);
            } else {
                s->stats.proposals_failed++;
                failed = true;
            }
            cluster_cb_push(cbs, p->done, p->done_arg, acks[i].code,
                            acks[i].code == BS_OK ? NULL : &acks[i].err);
        }
        cluster_proposal_free(p);
    }
    bs_free(acks);
    /* Once one proposal fails, every one accepted after it must too (txn.h): the ones
     * still queued carry the old generation. */
    if (failed)
        cluster_fsm_bump_gen(f);
    return BS_OK;
}

void cluster_fsm_on_role(cluster_fsm *f, const raft_soft_state *ss, cluster_cb **cbs)
{
    cluster_store *s = f->store;
    bool leader = ss->role == RAFT_LEADER;
    if (leader != f->was_leader) {
        f->was_leader = leader;
        BS_LOG_DEBUG("region leadership changed", "region_id=%llu peer_id=%llu leader=%d",
                     (unsigned long long)f->region_id, (unsigned long long)f->peer_id, (int)leader);
        if (s->opts.on_role_change)
            cluster_cb_push_role(cbs, s->opts.on_role_change, s->opts.role_change_arg, f->region_id,
                                 leader);
        if (leader)
            cluster_fsm_heartbeat(f); /* PD learns the new leader at once (TiKV does too) */
    }
    if (leader)
        return;
    f->compact_pending = false;
    if (!f->pend_head && !f->reads)
        return;
    /* Entries the old leader saw committed still apply; the rest may never: fail them,
     * in log order, and everything accepted after them. */
    raft_status st;
    raft_get_status(f->raft, &st);
    cluster_proposal **pp = &f->pend_head, *keep_tail = NULL;
    while (*pp && (*pp)->index <= st.commit) {
        keep_tail = *pp;
        pp = &(*pp)->next;
    }
    cluster_proposal *drop = *pp;
    *pp = NULL;
    f->pend_tail = keep_tail;
    bs_err e;
    bs_err_setf(&e, BS_EPROPOSAL_DROPPED, "region %llu: stale command (leadership lost)",
                (unsigned long long)f->region_id);
    for (cluster_proposal *q = drop; q; q = q->next)
        if (q == f->sync_cursor)
            f->sync_cursor = NULL;
    while (drop) {
        cluster_proposal *p = drop;
        drop = p->next;
        if (!p->admin) {
            cluster_cb_push(cbs, p->done, p->done_arg, BS_EPROPOSAL_DROPPED, &e);
            f->store->stats.proposals_failed++;
        }
        cluster_proposal_free(p);
    }
    while (f->reads) {
        cluster_read *r = f->reads;
        f->reads = r->next;
        cluster_cb_push_read(cbs, r->done, r->arg, BS_EPROPOSAL_DROPPED, &e);
        bs_free(r);
    }
    cluster_fsm_bump_gen(f);
}

void cluster_fsm_on_reads(cluster_fsm *f, const raft_read_state *rs, size_t n, cluster_cb **cbs)
{
    for (size_t i = 0; i < n; i++) {
        if (rs[i].ctx.len != 8)
            continue;
        uint64_t id;
        memcpy(&id, rs[i].ctx.ptr, 8);
        for (cluster_read *r = f->reads; r; r = r->next)
            if (r->id == id)
                r->index = rs[i].index;
    }
    cluster_read **pp = &f->reads;
    while (*pp) {
        cluster_read *r = *pp;
        if (r->index != 0 && r->index <= f->rs.apply.applied) {
            *pp = r->next;
            cluster_cb_push_read(cbs, r->done, r->arg, BS_OK, NULL);
            bs_free(r);
        } else {
            pp = &r->next;
        }
    }
}

void cluster_fsm_note_match(cluster_fsm *f, uint64_t peer_id, uint64_t index)
{
    for (size_t i = 0; i < f->n_match; i++) {
        if (f->match_ids[i] == peer_id) {
            if (index > f->match_idx[i])
                f->match_idx[i] = index;
            return;
        }
    }
    if (f->n_match < RAFT_MAX_CONF) {
        f->match_ids[f->n_match] = peer_id;
        f->match_idx[f->n_match++] = index;
    }
}

static uint64_t peer_match(const cluster_fsm *f, uint64_t peer_id)
{
    for (size_t i = 0; i < f->n_match; i++)
        if (f->match_ids[i] == peer_id)
            return f->match_idx[i];
    return 0;
}

void cluster_fsm_maybe_gc(cluster_fsm *f, cluster_cb **cbs)
{
    cluster_store *s = f->store;
    if (f->compact_pending)
        return;
    raft_status st;
    raft_get_status(f->raft, &st);
    if (st.role != RAFT_LEADER)
        return;
    uint64_t applied = f->rs.apply.applied, first = f->rs.apply.truncated_index + 1;
    if (applied < first || applied - first + 1 < s->opts.log_gc_threshold)
        return;
    /* Keep what a follower still needs (no snapshots yet), unless it fell so far behind
     * that the count limit forces compaction (TiKV's raft-log-gc-count-limit). */
    uint64_t target = applied;
    for (size_t i = 0; i < f->region.n_peers; i++) {
        uint64_t pid = f->region.peers[i].id;
        if (pid == f->peer_id)
            continue;
        uint64_t m = peer_match(f, pid);
        if (m < target && applied - m < s->opts.log_gc_count_limit)
            target = m;
    }
    if (target < first || target - first + 1 < s->opts.log_gc_threshold)
        return;
    uint64_t term;
    if (cluster_rs_term(&f->rs, target, &term) != BS_OK)
        return;
    cluster_proposal *p = bs_calloc(1, sizeof(*p));
    p->region_id = f->region_id;
    p->admin = true;
    pthread_mutex_lock(&s->mu);
    p->gen = f->gen;
    p->id = ++s->next_proposal_id;
    pthread_mutex_unlock(&s->mu);
    cluster_cmd_header h = {CLUSTER_CMD_COMPACT_LOG, p->id, f->region.epoch};
    cluster_cmd_encode_compact(&p->data, &h, target, term);
    f->compact_pending = true;
    if (cluster_fsm_propose(f, p, cbs) != BS_OK)
        f->compact_pending = false; /* refused (leadership moved): a later tick retries */
}

void cluster_fsm_publish(cluster_fsm *f, int64_t now_ns)
{
    cluster_store *s = f->store;
    raft_status st;
    raft_get_status(f->raft, &st);
    f->v_leader = st.role == RAFT_LEADER;
    f->v_leader_id = st.lead;
    f->v_term = st.term;
    f->v_commit = st.commit;
    f->v_applied = f->rs.apply.applied;
    f->v_size_known = f->split.size_known;
    f->v_approx_size = f->split.approx_size;
    f->v_approx_keys = f->split.approx_keys;
    /* The lease holds until the next tick at least (raft keeps a two-tick margin). */
    if (f->v_leader && raft_lease_valid(f->raft))
        f->v_lease_until_ns = s->last_tick_ns + (int64_t)s->opts.tick_interval_ms * 1000000;
    else
        f->v_lease_until_ns = 0;
    (void)now_ns;
}

void cluster_fsm_on_synced(cluster_fsm *f, uint64_t synced)
{
    f->synced_index = synced; /* the durable log is exactly (truncated, synced] */
    while (f->sync_cursor && f->sync_cursor->index <= f->synced_index) {
        if (!f->sync_cursor->admin)
            f->store->stats.proposals_synced++;
        f->sync_cursor = f->sync_cursor->next;
    }
}
