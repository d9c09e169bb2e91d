/* sim_actions.c -- what can happen in one step of the simulation: time passes, messages
 * arrive (in or out of order), clients write and read, nodes crash and restart, the
 * network partitions and heals, leadership moves, membership changes, snapshots are cut.
 * To add a scenario, add an action here and give it a weight in sim_pick_action(). */
#include <string.h>

#include "sim_int.h"

void sim_act_tick(sim *s)
{
    s->ticks++;
    s->st->ticks++;
    for (int k = 1; k < MAXN; k++)
        if (s->nodes[k].up)
            raft_tick(s->nodes[k].r);
}

static void act_deliver(sim *s)
{
    int k = 1 + sim_rint(s, 8);
    for (int i = 0; i < k; i++) {
        raft_msg m;
        bool lost;
        if (!sim_pop_msg(s, &m, &lost, s->reorder))
            break;
        sim_deliver(s, &m, lost);
        raft_msg_deinit(&m);
    }
}

static void act_write(sim *s)
{
    node *l = sim_find_leader(s);
    if (!l)
        return;
    int k = 1 + sim_rint(s, 3);
    for (int i = 0; i < k; i++) {
        uint64_t wid = ++s->next_wid;
        uint64_t idx = 0;
        bs_err err;
        int rc = raft_propose(l->r, bs_slice_make(&wid, 8), &idx, &err);
        sim_logf(s, "write w%llu to %llu: %s idx %llu", (unsigned long long)wid,
                 (unsigned long long)l->id, rc == BS_OK ? "ok" : bs_errname(rc),
                 (unsigned long long)idx);
    }
}

/* Half of the reads go to a node that believes it leads, stale or not: that is where a
 * broken read path would serve old data. */
static node *random_self_believed_leader(sim *s)
{
    int start = sim_rint(s, MAXN);
    for (int k = 0; k < MAXN; k++) {
        node *n = &s->nodes[(start + k) % MAXN];
        if (!n->up)
            continue;
        raft_status st;
        raft_get_status(n->r, &st);
        if (st.role == RAFT_LEADER)
            return n;
    }
    return NULL;
}

static void act_read(sim *s)
{
    node *n = NULL;
    if (s->probe && s->step < s->probe_until && s->nodes[s->probe].up && sim_chance(s, 60))
        n = &s->nodes[s->probe];
    else if (sim_chance(s, 50))
        n = random_self_believed_leader(s);
    if (!n)
        n = sim_random_up(s);
    if (!n || n->n_reads >= 64)
        return;
    uint64_t id = ++s->next_rid;
    bs_err err;
    if (raft_read_index(n->r, bs_slice_make(&id, 8), &err) != BS_OK)
        return;
    n->reads[n->n_reads++] = (pending_read){id, 0, s->max_acked};
    sim_logf(s, "read r%llu on %llu (acked index %llu)", (unsigned long long)id,
             (unsigned long long)n->id, (unsigned long long)s->max_acked);
}

static int count_up(sim *s)
{
    int c = 0;
    for (int k = 1; k < MAXN; k++)
        c += s->nodes[k].up;
    return c;
}

static void act_crash(sim *s)
{
    node *n = sim_random_up(s);
    if (n && count_up(s) > 1)
        sim_node_crash(s, n, "between steps");
}

static void act_restart(sim *s)
{
    int start = sim_rint(s, MAXN);
    for (int k = 0; k < MAXN; k++) {
        node *n = &s->nodes[(start + k) % MAXN];
        if (n->exists && !n->up) {
            sim_logf(s, "restart %llu (applied %llu)", (unsigned long long)n->id,
                     (unsigned long long)n->sm.applied);
            sim_node_start(s, n);
            return;
        }
    }
}

void sim_heal(sim *s)
{
    memset(s->cut, 0, sizeof(s->cut));
}

static void act_partition(sim *s)
{
    sim_heal(s);
    int kind = sim_rint(s, 3);
    if (kind == 0) { /* symmetric split into two random groups */
        int side[MAXN];
        for (int k = 1; k < MAXN; k++)
            side[k] = sim_rint(s, 2);
        for (int a = 1; a < MAXN; a++)
            for (int b = 1; b < MAXN; b++)
                s->cut[a][b] = side[a] != side[b];
        sim_logf(s, "partition: split %d%d%d%d%d%d%d", side[1], side[2], side[3], side[4], side[5],
                 side[6], side[7]);
    } else if (kind == 1) { /* isolate one node (often the leader) */
        node *l = sim_find_leader(s);
        int v = l && sim_chance(s, 60) ? (int)l->id : 1 + sim_rint(s, s->n_pool);
        for (int b = 1; b < MAXN; b++)
            s->cut[v][b] = s->cut[b][v] = b != v;
        sim_logf(s, "partition: isolate %d", v);
    } else { /* one-way cuts */
        int n = 1 + sim_rint(s, 3);
        for (int i = 0; i < n; i++) {
            int a = 1 + sim_rint(s, s->n_pool), b = 1 + sim_rint(s, s->n_pool);
            if (a != b) {
                s->cut[a][b] = true;
                sim_logf(s, "partition: one-way %d -/-> %d", a, b);
            }
        }
    }
}

/* The classic stale-read setup: cut the leader off, let the others elect a successor
 * and commit, and keep asking the old leader for reads meanwhile. */
static void act_isolate_leader(sim *s)
{
    node *l = sim_find_leader(s);
    if (!l)
        return;
    sim_heal(s);
    for (int b = 1; b < MAXN; b++)
        s->cut[l->id][b] = s->cut[b][l->id] = (uint64_t)b != l->id;
    s->probe = l->id;
    s->probe_until = s->step + 400;
    sim_logf(s, "partition: isolate leader %llu and aim reads at it", (unsigned long long)l->id);
}

/* The lease adversary (3 voters): cut the leader L off from one follower B only, so L
 * keeps its quorum (and its lease) through the other follower A, while B times out.
 * Then A crashes and restarts: if a restarted node forgot that it backs L's lease and
 * voted for B at once, B could commit while L still serves lease reads. Reads are aimed
 * at L meanwhile. */
static void act_lease_adversary(sim *s)
{
    node *l = sim_find_leader(s);
    if (!l)
        return;
    raft_conf_state cs;
    raft_get_conf_state(l->r, &cs);
    if (cs.n_voters != 3 || cs.n_voters_outgoing != 0)
        return;
    uint64_t others[2];
    int k = 0;
    for (uint32_t i = 0; i < 3; i++)
        if (cs.voters[i] != l->id && k < 2)
            others[k++] = cs.voters[i];
    if (k != 2)
        return;
    int flip = sim_rint(s, 2);
    uint64_t b = others[flip], a = others[1 - flip];
    sim_heal(s);
    s->cut[l->id][b] = s->cut[b][l->id] = true;
    s->probe = l->id;
    s->probe_until = s->step + 400;
    s->bounce = a;
    s->bounce_at = s->step + 1 + (uint64_t)sim_rint(s, 80);
    sim_logf(s, "lease adversary: cut %llu <-> %llu, bounce %llu at step %llu",
             (unsigned long long)l->id, (unsigned long long)b, (unsigned long long)a,
             (unsigned long long)s->bounce_at);
}

static void act_heal(sim *s)
{
    sim_heal(s);
    sim_logf(s, "heal partitions");
}

static void act_transfer(sim *s)
{
    node *l = sim_find_leader(s);
    if (!l)
        return;
    raft_conf_state cs;
    raft_get_conf_state(l->r, &cs);
    if (cs.n_voters < 2)
        return;
    uint64_t to = cs.voters[sim_rint(s, (int)cs.n_voters)];
    bs_err err;
    int rc = raft_transfer_leader(l->r, to, &err);
    s->st->transfers++;
    sim_logf(s, "transfer leader %llu -> %llu: %s", (unsigned long long)l->id,
             (unsigned long long)to, bs_errname(rc));
}

static bool in_list(const uint64_t *v, uint32_t n, uint64_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}

static void ensure_node(sim *s, uint64_t id)
{
    node *n = &s->nodes[id];
    if (!n->exists) {
        sim_node_create(s, n, id, NULL);
        sim_logf(s, "created node %llu (empty)", (unsigned long long)id);
    }
}

static void act_conf_change(sim *s)
{
    node *l = sim_find_leader(s);
    if (!l)
        return;
    raft_conf_state cs;
    raft_get_conf_state(l->r, &cs);
    raft_conf_change cc;
    memset(&cc, 0, sizeof(cc));
    const char *what;
    if (cs.n_voters_outgoing > 0) {
        if (cs.auto_leave)
            return;
        what = "leave joint";
    } else {
        uint64_t outside[MAXN], n_out = 0;
        for (int id = 1; id <= s->n_pool; id++)
            if (!in_list(cs.voters, cs.n_voters, (uint64_t)id) &&
                !in_list(cs.learners, cs.n_learners, (uint64_t)id))
                outside[n_out++] = (uint64_t)id;
        int kind = sim_rint(s, 5);
        if (kind == 0 && n_out > 0) {
            cc.changes[0] = (raft_cc_single){RAFT_CC_ADD_LEARNER, outside[sim_rint(s, (int)n_out)]};
            cc.n_changes = 1;
            what = "add learner";
        } else if (kind == 1 && cs.n_learners > 0) {
            cc.changes[0] =
                (raft_cc_single){RAFT_CC_ADD_NODE, cs.learners[sim_rint(s, (int)cs.n_learners)]};
            cc.n_changes = 1;
            what = "promote learner";
        } else if (kind == 2 && cs.n_voters > 3) {
            cc.changes[0] =
                (raft_cc_single){RAFT_CC_REMOVE_NODE, cs.voters[sim_rint(s, (int)cs.n_voters)]};
            cc.n_changes = 1;
            what = "remove voter";
        } else if (kind == 3 && cs.n_voters > 3) {
            cc.changes[0] =
                (raft_cc_single){RAFT_CC_ADD_LEARNER, cs.voters[sim_rint(s, (int)cs.n_voters)]};
            cc.n_changes = 1;
            what = "demote voter";
        } else if (kind == 4 && (n_out > 0 || cs.n_learners > 0)) {
            uint64_t add = n_out > 0 ? outside[sim_rint(s, (int)n_out)]
                                     : cs.learners[sim_rint(s, (int)cs.n_learners)];
            uint64_t del = cs.voters[sim_rint(s, (int)cs.n_voters)];
            cc.changes[0] = (raft_cc_single){RAFT_CC_ADD_NODE, add};
            cc.changes[1] = (raft_cc_single){RAFT_CC_REMOVE_NODE, del};
            cc.n_changes = 2;
            cc.transition = (raft_cc_transition)sim_rint(s, 3);
            what = "joint swap";
        } else {
            return;
        }
    }
    for (uint32_t i = 0; i < cc.n_changes; i++)
        if (cc.changes[i].type != RAFT_CC_REMOVE_NODE)
            ensure_node(s, cc.changes[i].node_id);
    bs_err err;
    int rc = raft_propose_conf_change(l->r, &cc, &err);
    s->st->conf_changes += rc == BS_OK;
    sim_logf(s, "conf change on %llu: %s [%u changes, transition %d, first %s %llu]: %s",
             (unsigned long long)l->id, what, cc.n_changes, cc.transition,
             cc.n_changes ? (cc.changes[0].type == RAFT_CC_ADD_NODE      ? "add"
                             : cc.changes[0].type == RAFT_CC_REMOVE_NODE ? "remove"
                                                                         : "learner")
                          : "-",
             cc.n_changes ? (unsigned long long)cc.changes[0].node_id : 0ULL, bs_errname(rc));
}

static void take_snapshot(sim *s, node *n, bool compact)
{
    raft_storage stg = raft_memstorage_storage(n->ms);
    uint64_t first = stg.ops->first_index(stg.ctx);
    const raft_snapshot *cur = raft_memstorage_snapshot_ref(n->ms);
    if (n->sm.applied <= cur->meta.index + (compact ? 2 : 0) ||
        n->sm.applied > stg.ops->last_index(stg.ctx))
        return;
    uint8_t data[24];
    sim_encode_sm(&n->sm, data);
    bs_err err;
    if (raft_memstorage_create_snapshot(n->ms, n->sm.applied, &n->cs, bs_slice_make(data, 24),
                                        &err) != BS_OK) {
        sim_fail(s, "create snapshot: %s", err.msg);
        return;
    }
    uint64_t upto = n->sm.applied - (uint64_t)sim_rint(s, 3);
    if (compact && upto > first)
        (void)raft_memstorage_compact(n->ms, upto, &err); /* only fails if nothing to do */
    s->st->snapshots++;
    sim_logf(s, "snapshot on %llu at %llu%s", (unsigned long long)n->id,
             (unsigned long long)n->sm.applied, compact ? ", compacted" : " (on demand)");
}

static void act_snapshot(sim *s)
{
    node *n = sim_random_up(s);
    if (n)
        take_snapshot(s, n, true);
}

/* The leader's storage asks for a snapshot: cut a fresh one at the applied index, so it
 * carries the current membership (the follower refuses one that does not list it). */
void sim_snapshot_gen(void *ctx, raft_memstorage *ms, uint64_t request_index)
{
    node *n = ctx;
    take_snapshot(n->sim, n, false);
}

void sim_pick_action(sim *s)
{
    if (s->bounce && s->step >= s->bounce_at) {
        node *n = &s->nodes[s->bounce];
        s->bounce = 0;
        if (n->up) {
            sim_node_crash(s, n, "bounce");
            sim_node_start(s, n);
            sim_logf(s, "restart %llu at once", (unsigned long long)n->id);
        }
    }
    int w = sim_rint(s, 1000);
    if ((w -= 300) < 0)
        sim_act_tick(s);
    else if ((w -= 330) < 0)
        act_deliver(s);
    else if ((w -= 110) < 0)
        act_write(s);
    else if ((w -= 120) < 0)
        act_read(s);
    else if ((w -= 12) < 0)
        act_crash(s);
    else if ((w -= 30) < 0)
        act_restart(s);
    else if ((w -= 25) < 0)
        act_partition(s);
    else if ((w -= 8) < 0)
        act_heal(s);
    else if ((w -= 5) < 0)
        act_isolate_leader(s);
    else if ((w -= 4) < 0)
        act_lease_adversary(s);
    else if ((w -= 8) < 0)
        act_transfer(s);
    else if ((w -= 25) < 0) {
        if (s->o->membership)
            act_conf_change(s);
    } else if (w < 15)
        act_snapshot(s);
    /* else: nothing happens this step */
}
