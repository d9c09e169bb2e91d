/* net.c -- the synchronous scenario cluster (see net.h). */
#include "net.h"

#include <string.h>

#include "common/assert.h"

static void enqueue(net *nt, const raft_msg *m)
{
    if (m->type == RAFT_MSG_APPEND && m->n_entries > 0 && m->to < NET_MAX) {
        nt->apps_with_entries[m->to]++;
        if (m->n_entries > nt->max_entries_per_app)
            nt->max_entries_per_app = m->n_entries;
    }
    if (m->type == RAFT_MSG_SNAPSHOT && m->to < NET_MAX)
        nt->snaps_sent[m->to]++;
    if (nt->nq == nt->capq) {
        nt->capq = nt->capq ? nt->capq * 2 : 64;
        nt->q = bs_realloc(nt->q, nt->capq * sizeof(raft_msg));
    }
    raft_msg_clone(&nt->q[nt->nq++], m);
}

void net_init(net *nt, int n, const raft_config *tmpl)
{
    memset(nt, 0, sizeof(*nt));
    nt->n = n;
    if (tmpl) {
        nt->cfg = *tmpl;
    } else {
        raft_config_default(&nt->cfg);
        nt->cfg.pre_vote = false;
    }
    raft_conf_state cs;
    memset(&cs, 0, sizeof(cs));
    for (int i = 1; i <= n; i++)
        cs.voters[cs.n_voters++] = (uint64_t)i;
    for (int i = 1; i <= n; i++) {
        nt->ms[i] = raft_memstorage_new(&cs);
        nt->cs[i] = cs;
    }
}

void net_set_log(net *nt, uint64_t id, const uint64_t *terms, int k, uint64_t term)
{
    for (int i = 0; i < k; i++) {
        raft_entry e;
        memset(&e, 0, sizeof(e));
        e.index = (uint64_t)i + 1;
        e.term = terms[i];
        raft_memstorage_append(nt->ms[id], &e, 1);
    }
    raft_hard_state hs = {term, 0, 0};
    raft_memstorage_set_hard_state(nt->ms[id], &hs);
}

static void start_node(net *nt, uint64_t id, uint64_t applied)
{
    raft_config c = nt->cfg;
    c.id = id;
    c.seed = id * 1000 + 7;
    c.applied = applied;
    c.storage = raft_memstorage_storage(nt->ms[id]);
    bs_err err;
    int rc = raft_new(&c, &nt->r[id], &err);
    BS_ASSERT(rc == BS_OK);
    nt->down[id] = false;
}

void net_start(net *nt)
{
    for (int i = 1; i <= nt->n; i++)
        start_node(nt, (uint64_t)i, 0);
}

void net_free(net *nt)
{
    for (int i = 0; i < NET_MAX; i++) {
        raft_free(nt->r[i]);
        raft_memstorage_free(nt->ms[i]);
    }
    for (size_t i = 0; i < nt->nq; i++)
        raft_msg_deinit(&nt->q[i]);
    bs_free(nt->q);
    memset(nt, 0, sizeof(*nt));
}

static bool process_one(net *nt, uint64_t id)
{
    raft_node *r = nt->r[id];
    if (!r || nt->down[id] || !raft_has_ready(r))
        return false;
    raft_ready rd;
    raft_ready_get(r, &rd);
    for (size_t i = 0; i < rd.n_msgs; i++)
        enqueue(nt, &rd.msgs[i]);
    nt->msgs_sent_before_persist += rd.n_msgs;
    if (rd.snapshot) {
        raft_memstorage_apply_snapshot(nt->ms[id], rd.snapshot);
        nt->cs[id] = rd.snapshot->meta.conf_state;
        nt->last_applied_index[id] = rd.snapshot->meta.index;
    }
    raft_memstorage_append(nt->ms[id], rd.entries, rd.n_entries);
    if (rd.has_hs)
        raft_memstorage_set_hard_state(nt->ms[id], &rd.hs);
    for (size_t i = 0; i < rd.n_persisted_msgs; i++)
        enqueue(nt, &rd.persisted_msgs[i]);
    nt->msgs_sent_after_persist += rd.n_persisted_msgs;
    for (size_t i = 0; i < rd.n_committed; i++) {
        const raft_entry *e = &rd.committed[i];
        nt->n_applied[id]++;
        nt->last_applied_index[id] = e->index;
        if (e->type != RAFT_ENTRY_NORMAL) {
            raft_conf_change cc;
            int rc = raft_conf_change_decode(e->data, &cc, NULL);
            BS_ASSERT(rc == BS_OK);
            (void)raft_apply_conf_change(r, &cc, &nt->cs[id], NULL); /* invalid = no-op */
            raft_memstorage_set_conf_state(nt->ms[id], &nt->cs[id]);
        }
    }
    if (nt->compact_on_apply && rd.n_committed > 0) {
        uint64_t at = rd.committed[rd.n_committed - 1].index;
        (void)raft_memstorage_create_snapshot(nt->ms[id], at, &nt->cs[id], BS_SLICE_NULL, NULL);
        (void)raft_memstorage_compact(nt->ms[id], at, NULL); /* best effort in tests */
    }
    for (size_t i = 0; i < rd.n_read_states && nt->n_rs[id] < 32; i++) {
        nt->rs_index[id][nt->n_rs[id]] = rd.read_states[i].index;
        nt->rs_ctx[id][nt->n_rs[id]] = rd.read_states[i].ctx.len ? rd.read_states[i].ctx.ptr[0] : 0;
        nt->n_rs[id]++;
    }
    raft_advance(r, &rd);
    return true;
}

void net_process(net *nt)
{
    for (int i = 1; i < NET_MAX; i++)
        process_one(nt, (uint64_t)i);
}

void net_deliver(net *nt)
{
    size_t n = nt->nq;
    raft_msg *q = nt->q;
    nt->q = NULL;
    nt->nq = nt->capq = 0;
    for (size_t i = 0; i < n; i++) {
        raft_msg *m = &q[i];
        bool ok = m->to < NET_MAX && nt->r[m->to] && !nt->down[m->to] && !nt->cut[m->from][m->to];
        if (ok) {
            int rc = raft_step(nt->r[m->to], m, NULL);
            BS_ASSERT(rc == BS_OK);
        }
        if (m->type == RAFT_MSG_SNAPSHOT && nt->r[m->from] && !nt->down[m->from])
            raft_report_snapshot(nt->r[m->from], m->to, !ok);
        raft_msg_deinit(m);
    }
    bs_free(q);
}

void net_stabilize(net *nt)
{
    for (int round = 0; round < 1000; round++) {
        bool any = false;
        for (int i = 1; i < NET_MAX; i++)
            while (process_one(nt, (uint64_t)i))
                any = true;
        if (nt->hold)
            return;
        if (nt->nq > 0) {
            net_deliver(nt);
            any = true;
        }
        if (!any)
            return;
    }
}

void net_campaign(net *nt, uint64_t id)
{
    raft_campaign(nt->r[id]);
    net_stabilize(nt);
}

void net_tick(net *nt, uint64_t id, int ticks)
{
    for (int i = 0; i < ticks; i++) {
        raft_tick(nt->r[id]);
        net_stabilize(nt);
    }
}

void net_tick_all(net *nt, int ticks)
{
    for (int t = 0; t < ticks; t++) {
        for (int i = 1; i < NET_MAX; i++)
            if (nt->r[i] && !nt->down[i])
                raft_tick(nt->r[i]);
        net_stabilize(nt);
    }
}

void net_isolate(net *nt, uint64_t id)
{
    for (int i = 0; i < NET_MAX; i++)
        nt->cut[id][i] = nt->cut[i][id] = (uint64_t)i != id;
}

void net_heal(net *nt)
{
    memset(nt->cut, 0, sizeof(nt->cut));
}

void net_crash(net *nt, uint64_t id)
{
    raft_free(nt->r[id]);
    nt->r[id] = NULL;
    nt->down[id] = true;
}

void net_restart(net *nt, uint64_t id, uint64_t applied)
{
    start_node(nt, id, applied);
}

int net_propose(net *nt, uint64_t id, const char *data)
{
    int rc = raft_propose(nt->r[id], bs_slice_from_str(data), NULL, NULL);
    net_stabilize(nt);
    return rc;
}

uint64_t net_leader(const net *nt)
{
    uint64_t best = 0, term = 0;
    for (int i = 1; i < NET_MAX; i++) {
        if (!nt->r[i] || nt->down[i])
            continue;
        raft_status st;
        raft_get_status(nt->r[i], &st);
        if (st.role == RAFT_LEADER && st.term >= term) {
            best = (uint64_t)i;
            term = st.term;
        }
    }
    return best;
}

raft_status net_status(const net *nt, uint64_t id)
{
    raft_status st;
    raft_get_status(nt->r[id], &st);
    return st;
}

bool net_logs_equal(net *nt, uint64_t a, uint64_t b)
{
    raft_storage sa = raft_memstorage_storage(nt->ms[a]), sb = raft_memstorage_storage(nt->ms[b]);
    uint64_t la = sa.ops->last_index(sa.ctx), lb = sb.ops->last_index(sb.ctx);
    if (la != lb)
        return false;
    uint64_t lo = sa.ops->first_index(sa.ctx);
    uint64_t lo_b = sb.ops->first_index(sb.ctx);
    if (lo_b > lo)
        lo = lo_b;
    for (uint64_t i = lo; i <= la; i++) {
        uint64_t ta, tb;
        if (sa.ops->term(sa.ctx, i, &ta) != BS_OK || sb.ops->term(sb.ctx, i, &tb) != BS_OK ||
            ta != tb)
            return false;
    }
    return true;
}
