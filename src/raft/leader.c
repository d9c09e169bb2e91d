/* leader.c -- what only a leader does: proposals, membership change proposals and their
 * application, leadership transfer (thesis 3.10), the heartbeat clock with CheckQuorum
 * (thesis 6.2), and the owner's reports about snapshots and unreachable peers.
 *
 * Proposals are appended at once but broadcast at the next Ready, so a burst of
 * proposals between two Readies travels in one MsgAppend per follower. A conf change is
 * refused while the previous one is unapplied (pending_conf_index > applied), which with
 * joint consensus keeps at most one configuration in flight. Mirrors etcd raft raft.go
 * (stepLeader, tickHeartbeat, applyConfChange, switchToConfig). */
#include <stdio.h>
#include <string.h>

#include "raft/raft_int.h"

static int not_leader(const raft_node *r, bs_err *err)
{
    return bs_err_setf(err, BS_ENOT_LEADER, "raft %llu is not leader (leader %llu, term %llu)",
                       (unsigned long long)r->id, (unsigned long long)r->lead,
                       (unsigned long long)r->term);
}

static int check_can_propose(const raft_node *r, bs_err *err)
{
    if (r->state != RAFT_LEADER)
        return not_leader(r, err);
    if (r->lead_transferee != RAFT_NONE)
        return bs_err_setf(err, BS_EPROPOSAL_DROPPED,
                           "raft %llu: leader transfer to %llu in progress",
                           (unsigned long long)r->id, (unsigned long long)r->lead_transferee);
    if (!raft_tracker_cget(&r->trk, r->id))
        return bs_err_setf(err, BS_EPROPOSAL_DROPPED, "raft %llu: removed from the config",
                           (unsigned long long)r->id);
    return BS_OK;
}

int raft_propose_batch(raft_node *r, const bs_slice *data, size_t n, uint64_t *last_index,
                       bs_err *err)
{
    BS_ASSERT(!r->in_ready);
    int rc = check_can_propose(r, err);
    if (rc != BS_OK)
        return rc;
    uint64_t size = 0;
    for (size_t i = 0; i < n; i++)
        size += data[i].len;
    if (!raft_uncommitted_ok(r, size))
        return bs_err_setf(err, BS_EPROPOSAL_DROPPED,
                           "raft %llu: uncommitted log size limit (%llu bytes) exceeded",
                           (unsigned long long)r->id, (unsigned long long)r->max_uncommitted);
    raft_entry chunk[32];
    for (size_t i = 0; i < n;) {
        size_t k = n - i < 32 ? n - i : 32;
        for (size_t j = 0; j < k; j++) {
            memset(&chunk[j], 0, sizeof(chunk[j]));
            chunk[j].type = RAFT_ENTRY_NORMAL;
            raft_entry_set_data(&chunk[j], data[i + j].ptr, data[i + j].len);
        }
        raft_append_entries(r, chunk, k);
        for (size_t j = 0; j < k; j++)
            raft_entry_release(&chunk[j]);
        i += k;
    }
    r->bcast_pending = true;
    if (last_index)
        *last_index = raft_log_last_index(&r->log);
    return BS_OK;
}

int raft_propose(raft_node *r, bs_slice data, uint64_t *index, bs_err *err)
{
    return raft_propose_batch(r, &data, 1, index, err);
}

int raft_propose_conf_change(raft_node *r, const raft_conf_change *cc, bs_err *err)
{
    BS_ASSERT(!r->in_ready);
    int rc = check_can_propose(r, err);
    if (rc != BS_OK)
        return rc;
    if (cc->n_changes > RAFT_MAX_CONF)
        return bs_err_setf(err, BS_EINVAL, "raft: conf change with %u changes", cc->n_changes);
    if (r->pending_conf_index > r->log.applied)
        return bs_err_setf(err, BS_EPROPOSAL_DROPPED,
                           "raft %llu: conf change at index %llu not applied yet (applied %llu)",
                           (unsigned long long)r->id, (unsigned long long)r->pending_conf_index,
                           (unsigned long long)r->log.applied);
    bool joint = raft_tracker_is_joint(&r->trk), leave = raft_cc_leaves_joint(cc);
    if (joint && !leave)
        return bs_err_setf(err, BS_EPROPOSAL_DROPPED,
                           "raft %llu: must leave the joint config first",
                           (unsigned long long)r->id);
    if (!joint && leave)
        return bs_err_setf(err, BS_EPROPOSAL_DROPPED,
                           "raft %llu: not joint, refusing an empty conf change",
                           (unsigned long long)r->id);
    bs_buf b = BS_BUF_INIT;
    raft_conf_change_encode(cc, &b);
    if (!raft_uncommitted_ok(r, b.len)) {
        bs_buf_free(&b);
        return bs_err_setf(err, BS_EPROPOSAL_DROPPED,
                           "raft %llu: uncommitted log size limit exceeded",
                           (unsigned long long)r->id);
    }
    raft_entry e = {.type = RAFT_ENTRY_CONF_CHANGE_V2};
    raft_entry_set_data(&e, b.ptr, b.len);
    bs_buf_free(&b);
    raft_append_entries(r, &e, 1);
    raft_entry_release(&e);
    r->pending_conf_index = raft_log_last_index(&r->log);
    r->bcast_pending = true;
    raft_tracef(r, "%llu proposed conf change at index %llu", (unsigned long long)r->id,
                (unsigned long long)r->pending_conf_index);
    return BS_OK;
}

static void trace_config(raft_node *r)
{
    if (!r->trace)
        return;
    char buf[200];
    size_t n = 0;
    const raft_tracker_config *c = &r->trk.cfg;
    const raft_idset *sets[3] = {&c->voters.in, &c->voters.out, &c->learners};
    const char *names[3] = {"voters=(", ")&&(", ") learners=("};
    for (int s = 0; s < 3; s++) {
        if (s == 1 && c->voters.out.n == 0)
            continue;
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", names[s]);
        for (uint32_t i = 0; i < sets[s]->n && n < sizeof(buf) - 24; i++)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%llu", i ? " " : "",
                                  (unsigned long long)sets[s]->ids[i]);
    }
    snprintf(buf + n, sizeof(buf) - n, ")");
    raft_tracef(r, "%llu switched to configuration %s", (unsigned long long)r->id, buf);
}

void raft_switch_to_config(raft_node *r)
{
    trace_config(r);
    const raft_progress *self = raft_tracker_cget(&r->trk, r->id);
    r->is_learner = self && self->is_learner;
    if ((!self || r->is_learner) && r->state == RAFT_LEADER) {
        /* Removed or demoted: stop leading; the remaining voters elect a successor. */
        raft_tracef(r, "%llu stepped down: no longer a voter", (unsigned long long)r->id);
        raft_become_follower(r, r->term, RAFT_NONE);
        return;
    }
    if (r->state != RAFT_LEADER)
        return;
    /* The quorum may have shrunk (commit now), and new peers need probing. */
    (void)raft_maybe_commit(r); /* either way the broadcast below carries the result */
    r->bcast_pending = true;
    if (r->lead_transferee != RAFT_NONE && !raft_tracker_is_voter(&r->trk, r->lead_transferee))
        raft_abort_transfer(r);
}

int raft_apply_conf_change(raft_node *r, const raft_conf_change *cc, raft_conf_state *cs,
                           bs_err *err)
{
    /* Called while applying a Ready's committed entries, i.e. inside the Ready. */
    uint64_t next = raft_log_last_index(&r->log) + 1;
    bool auto_leave;
    int rc;
    if (cc->n_changes > RAFT_MAX_CONF)
        rc = bs_err_setf(err, BS_EINVAL, "raft: conf change with %u changes", cc->n_changes);
    else if (raft_cc_leaves_joint(cc))
        rc = raft_cc_leave_joint(&r->trk, err);
    else if (raft_cc_enters_joint(cc, &auto_leave))
        rc = raft_cc_enter_joint(&r->trk, auto_leave, cc->changes, cc->n_changes, next, err);
    else
        rc = raft_cc_simple(&r->trk, cc->changes, cc->n_changes, next, err);
    if (rc == BS_OK)
        raft_switch_to_config(r);
    else
        raft_tracef(r, "%llu ignored conf change: %s", (unsigned long long)r->id,
                    err ? err->msg : "invalid");
    if (cs)
        raft_tracker_conf_state(&r->trk, cs);
    return rc;
}

int raft_transfer_leader(raft_node *r, uint64_t to, bs_err *err)
{
    BS_ASSERT(!r->in_ready);
    if (r->state != RAFT_LEADER)
        return not_leader(r, err);
    if (to == r->id)
        return bs_err_setf(err, BS_EINVAL, "raft %llu: already leader", (unsigned long long)to);
    if (!raft_tracker_is_voter(&r->trk, to) || !raft_tracker_cget(&r->trk, to))
        return bs_err_setf(err, BS_EINVAL, "raft: transfer target %llu is not a voter",
                           (unsigned long long)to);
    if (r->lead_transferee == to)
        return BS_OK;
    raft_tracef(r, "%llu [term %llu] starts to transfer leadership to %llu",
                (unsigned long long)r->id, (unsigned long long)r->term, (unsigned long long)to);
    /* The transfer must finish within one election timeout or it is aborted. */
    r->election_elapsed = 0;
    r->lead_transferee = to;
    const raft_progress *pr = raft_tracker_cget(&r->trk, to);
    if (pr->match == raft_log_last_index(&r->log))
        raft_send_timeout_now(r, to);
    else
        raft_send_append(r, to, true);
    return BS_OK;
}

void raft_report_snapshot(raft_node *r, uint64_t to, bool failed)
{
    BS_ASSERT(!r->in_ready);
    raft_progress *pr = raft_tracker_get(&r->trk, to);
    if (r->state != RAFT_LEADER || !pr || pr->state != RAFT_PR_SNAPSHOT)
        return;
    if (failed)
        pr->pending_snapshot = 0;
    raft_pr_become_probe(pr);
    /* Wait for a heartbeat response before probing, as the snapshot may still land. */
    pr->probe_sent = true;
}

void raft_report_unreachable(raft_node *r, uint64_t to)
{
    BS_ASSERT(!r->in_ready);
    raft_progress *pr = raft_tracker_get(&r->trk, to);
    if (r->state == RAFT_LEADER && pr && pr->state == RAFT_PR_REPLICATE)
        raft_pr_become_probe(pr);
}

int raft_read_index(raft_node *r, bs_slice ctx, bs_err *err)
{
    BS_ASSERT(!r->in_ready);
    if (r->state == RAFT_LEADER) {
        raft_ro_leader_read(r, r->id, ctx);
        return BS_OK;
    }
    if (r->lead == RAFT_NONE)
        return not_leader(r, err);
    raft_msg m = {.type = RAFT_MSG_READ_INDEX, .to = r->lead};
    if (ctx.len) {
        uint8_t *c = bs_malloc(ctx.len);
        memcpy(c, ctx.ptr, ctx.len);
        m.context = bs_slice_make(c, ctx.len);
    }
    raft_send(r, &m);
    return BS_OK;
}

void raft_tick_heartbeat(raft_node *r)
{
    r->heartbeat_elapsed++;
    r->election_elapsed++;
    if (r->election_elapsed >= r->election_timeout) {
        r->election_elapsed = 0;
        if (r->check_quorum) {
            if (!raft_tracker_quorum_active(&r->trk)) {
                raft_tracef(r, "%llu stepped down to follower since quorum is not active",
                            (unsigned long long)r->id);
                raft_become_follower(r, r->term, RAFT_NONE);
                return;
            }
            for (size_t i = 0; i < r->trk.n_prs; i++)
                if (r->trk.prs[i].id != r->id)
                    r->trk.prs[i].recent_active = false;
        }
        if (r->lead_transferee != RAFT_NONE) {
            raft_tracef(r, "%llu aborted leader transfer to %llu", (unsigned long long)r->id,
                        (unsigned long long)r->lead_transferee);
            raft_abort_transfer(r);
        }
    }
    if (r->heartbeat_elapsed >= r->heartbeat_timeout) {
        r->heartbeat_elapsed = 0;
        raft_bcast_heartbeat(r);
    }
}

void raft_reduce_uncommitted(raft_node *r, const raft_entry *ents, size_t n)
{
    if (r->state != RAFT_LEADER)
        return;
    uint64_t size = 0;
    for (size_t i = 0; i < n; i++)
        size += raft_entry_size(&ents[i]);
    r->uncommitted_size = size > r->uncommitted_size ? 0 : r->uncommitted_size - size;
}

void raft_step_leader(raft_node *r, const raft_msg *m)
{
    switch (m->type) {
    case RAFT_MSG_BEAT:
        raft_bcast_heartbeat(r);
        break;
    case RAFT_MSG_APPEND_RESP:
        raft_handle_append_resp(r, m);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        raft_handle_heartbeat_resp(r, m);
        break;
    case RAFT_MSG_SNAP_STATUS:
        raft_report_snapshot(r, m->from, m->reject);
        break;
    case RAFT_MSG_UNREACHABLE:
        raft_report_unreachable(r, m->from);
        break;
    case RAFT_MSG_TRANSFER_LEADER:
        (void)raft_transfer_leader(r, m->from, NULL); /* a bad request is just ignored */
        break;
    case RAFT_MSG_READ_INDEX:
        raft_ro_leader_read(r, m->from, m->context);
        break;
    default:
        break;
    }
}
