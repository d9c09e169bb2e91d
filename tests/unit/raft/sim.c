/* sim.c -- the deterministic raft cluster simulation (see sim.h for what it checks):
 * randomness and tracing, the owner side of every node (Ready handling exactly as raft.h
 * asks, a durable state machine), the lossy network, and the run itself: a sequence of
 * steps, each one random action (sim_actions.c) followed by every live node processing
 * its Ready and by the invariant checks (sim_check.c); then every fault heals and the
 * cluster must commit a fresh write within a bounded number of ticks.
 * The checker state (history, log index, leaders per term) is global to the run, never
 * per node, so it survives crashes. */
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

/* ---- utilities ------------------------------------------------------------------------ */

uint64_t sim_rnd(sim *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int sim_rint(sim *s, int n)
{
    return n <= 0 ? 0 : (int)(sim_rnd(s) % (uint64_t)n);
}

bool sim_chance(sim *s, int pct)
{
    return sim_rint(s, 100) < pct;
}

static void add_line(sim *s, const char *line)
{
    if (s->o->verbose)
        fprintf(s->o->out ? s->o->out : stdout, "%s\n", line);
    size_t n = strlen(line);
    if (n >= TRACE_W)
        n = TRACE_W - 1;
    memcpy(s->trace[s->n_trace % TRACE_LINES], line, n);
    s->trace[s->n_trace % TRACE_LINES][n] = 0;
    s->n_trace++;
}

void sim_logf(sim *s, const char *fmt, ...)
{
    char buf[TRACE_W], line[TRACE_W + 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    snprintf(line, sizeof(line), "[%5llu t%4llu] %s", (unsigned long long)s->step,
             (unsigned long long)s->ticks, buf);
    add_line(s, line);
}

static void node_trace(void *ctx, const char *line)
{
    sim_logf(ctx, "  raft: %s", line);
}

void sim_fail(sim *s, const char *fmt, ...)
{
    if (s->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof(s->why), fmt, ap);
    va_end(ap);
    s->failed = true;
    sim_logf(s, "VIOLATION: %s", s->why);
}

uint64_t sim_mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

uint64_t sim_entry_value(const raft_entry *e)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)e->type;
    for (size_t i = 0; i < e->data.len; i++)
        h = (h ^ e->data.ptr[i]) * 1099511628211ULL;
    return h;
}

static uint64_t entry_wid(const raft_entry *e)
{
    uint64_t w = 0;
    if (e->type == RAFT_ENTRY_NORMAL && e->data.len == 8)
        memcpy(&w, e->data.ptr, 8);
    return w;
}

hist_ent *sim_hist_at(sim *s, uint64_t i)
{
    if (i >= s->cap_hist) {
        size_t cap = s->cap_hist ? s->cap_hist : 1024;
        while (cap <= i)
            cap *= 2;
        s->hist = bs_realloc(s->hist, cap * sizeof(hist_ent));
        memset(s->hist + s->cap_hist, 0, (cap - s->cap_hist) * sizeof(hist_ent));
        s->cap_hist = cap;
    }
    return &s->hist[i];
}

/* ---- network -------------------------------------------------------------------------- */

static void enqueue(sim *s, const raft_msg *m)
{
    s->st->msgs++;
    bool lost = sim_chance(s, s->drop_pct);
    if (lost && m->type != RAFT_MSG_SNAPSHOT)
        return;
    int copies = !lost && sim_chance(s, s->dup_pct) ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        if (s->nq == s->capq) {
            s->capq = s->capq ? s->capq * 2 : 256;
            s->q = bs_realloc(s->q, s->capq * sizeof(qmsg));
        }
        qmsg *q = &s->q[s->nq++];
        raft_msg_clone(&q->m, m);
        q->at = s->ticks + (uint64_t)sim_rint(s, s->max_delay + 1);
        q->lost = lost;
    }
}

/* The transport reports every snapshot's outcome to its sender, as cluster/ must. */
static void report_snapshot(sim *s, const raft_msg *m, bool failed)
{
    node *from = &s->nodes[m->from];
    if (m->type == RAFT_MSG_SNAPSHOT && from->up)
        raft_report_snapshot(from->r, m->to, failed);
}

void sim_deliver(sim *s, raft_msg *m, bool lost)
{
    if (m->to == 0 || m->to >= MAXN || m->from >= MAXN)
        return;
    node *n = &s->nodes[m->to];
    if (lost || !n->up || s->cut[m->from][m->to]) {
        report_snapshot(s, m, true);
        return;
    }
    bs_err err;
    if (m->n_entries > 0 && sim_chance(s, 50)) {
        /* As if decoded from the wire: entries without blocks, pointing into a buffer
         * that is scribbled over as soon as raft_step returns. */
        size_t total = 0;
        for (size_t i = 0; i < m->n_entries; i++)
            total += m->entries[i].data.len;
        uint8_t *buf = bs_malloc(total + 1);
        raft_entry *ents = bs_malloc(m->n_entries * sizeof(raft_entry));
        size_t off = 0;
        for (size_t i = 0; i < m->n_entries; i++) {
            ents[i] = m->entries[i];
            ents[i].blk = NULL;
            if (m->entries[i].data.len > 0)
                memcpy(buf + off, m->entries[i].data.ptr, m->entries[i].data.len);
            ents[i].data = bs_slice_make(buf + off, m->entries[i].data.len);
            off += m->entries[i].data.len;
        }
        raft_msg w = *m;
        w.entries = ents;
        if (raft_step(n->r, &w, &err) != BS_OK)
            sim_fail(s, "raft_step on %llu: %s", (unsigned long long)n->id, err.msg);
        memset(buf, 0xAB, total + 1);
        bs_free(buf);
        bs_free(ents);
    } else if (raft_step(n->r, m, &err) != BS_OK) {
        sim_fail(s, "raft_step on %llu: %s", (unsigned long long)n->id, err.msg);
    }
    report_snapshot(s, m, false);
}

/* Takes one deliverable message out of the queue (random one when reordering). */
bool sim_pop_msg(sim *s, raft_msg *out, bool *lost, bool random_pick)
{
    size_t start = random_pick && s->nq ? (size_t)(sim_rnd(s) % s->nq) : 0;
    for (size_t k = 0; k < s->nq; k++) {
        size_t i = (start + k) % s->nq;
        if (s->q[i].at > s->ticks)
            continue;
        *out = s->q[i].m;
        *lost = s->q[i].lost;
        memmove(&s->q[i], &s->q[i + 1], (s->nq - i - 1) * sizeof(qmsg));
        s->nq--;
        return true;
    }
    return false;
}

/* ---- nodes ---------------------------------------------------------------------------- */

void sim_node_start(sim *s, node *n)
{
    raft_config c;
    raft_config_default(&c);
    c.id = n->id;
    c.election_tick = 10;
    c.heartbeat_tick = 1;
    c.applied = n->sm.applied;
    c.max_size_per_msg = s->max_msg;
    c.max_inflight_msgs = (size_t)s->max_inflight;
    c.max_uncommitted_size = s->max_uncommitted;
    c.check_quorum = s->check_quorum;
    c.pre_vote = s->pre_vote;
    c.read_only = s->o->lease ? RAFT_READ_LEASE : RAFT_READ_SAFE;
    c.seed = s->o->seed * 31 + n->id + s->step * 7;
    c.trace = node_trace;
    c.trace_ctx = s;
    c.storage = raft_memstorage_storage(n->ms);
    bs_err err;
    if (raft_new(&c, &n->r, &err) != BS_OK) {
        sim_fail(s, "raft_new %llu: %s", (unsigned long long)n->id, err.msg);
        return;
    }
    n->up = true;
    n->n_reads = 0;
    n->leader_checked_term = 0;
}

#define BOOT_HASH 0x5eed5eed5eed5eedULL

/* Bootstrap members start from a snapshot at index 1 holding the initial conf state, as
 * TiKV bootstraps a Region at a non-zero index: a node added later starts empty, so the
 * leader can only catch it up with a snapshot, which carries the config it must start
 * from (replaying conf changes onto an empty config would invent a different one). */
void sim_node_create(sim *s, node *n, uint64_t id, const raft_conf_state *cs)
{
    memset(n, 0, sizeof(*n));
    n->id = id;
    n->exists = true;
    n->ms = raft_memstorage_new(NULL);
    n->sim = s;
    raft_memstorage_set_snapshot_gen(n->ms, sim_snapshot_gen, n);
    if (cs) {
        n->cs = *cs;
        n->sm = (sm_state){1, BOOT_HASH, 0};
        uint8_t data[24];
        sim_encode_sm(&n->sm, data);
        raft_snapshot boot;
        memset(&boot, 0, sizeof(boot));
        boot.meta.conf_state = *cs;
        boot.meta.index = 1;
        boot.meta.term = 1;
        raft_snapshot_set_data(&boot, data, sizeof(data));
        raft_memstorage_apply_snapshot(n->ms, &boot);
        raft_snapshot_release(&boot);
        raft_hard_state hs = {1, 0, 1};
        raft_memstorage_set_hard_state(n->ms, &hs);
    }
    sim_node_start(s, n);
}

void sim_node_crash(sim *s, node *n, const char *how)
{
    sim_logf(s, "crash %llu (%s)", (unsigned long long)n->id, how);
    raft_free(n->r);
    n->r = NULL;
    n->up = false;
    n->n_reads = 0;
    s->st->crashes++;
}

void sim_encode_sm(const sm_state *sm, uint8_t out[24])
{
    memcpy(out, &sm->applied, 8);
    memcpy(out + 8, &sm->hash, 8);
    memcpy(out + 16, &sm->last_write_index, 8);
}

static void serve_reads(sim *s, node *n)
{
    for (int i = 0; i < n->n_reads;) {
        pending_read *p = &n->reads[i];
        if (p->index == 0 || p->index > n->sm.applied) {
            i++;
            continue;
        }
        s->st->reads_checked++;
        if (n->sm.last_write_index < p->acked_at_start)
            sim_fail(s,
                     "stale read %llu on %llu: read index %llu sees write at %llu, but the "
                     "write at %llu was acknowledged before the read began",
                     (unsigned long long)p->id, (unsigned long long)n->id,
                     (unsigned long long)p->index, (unsigned long long)n->sm.last_write_index,
                     (unsigned long long)p->acked_at_start);
        n->reads[i] = n->reads[--n->n_reads];
    }
}

static void apply_entry(sim *s, node *n, const raft_entry *e)
{
    if (e->index != n->sm.applied + 1) {
        sim_fail(s, "node %llu applies %llu after %llu", (unsigned long long)n->id,
                 (unsigned long long)e->index, (unsigned long long)n->sm.applied);
        return;
    }
    uint64_t v = sim_entry_value(e);
    n->sm.hash = sim_mix(n->sm.hash, v);
    n->sm.applied = e->index;
    uint64_t wid = entry_wid(e);
    if (wid) {
        n->sm.last_write_index = e->index;
        if (wid == s->live_wid)
            s->live_done = true;
    }
    hist_ent *h = sim_hist_at(s, e->index);
    if (!h->set) {
        *h = (hist_ent){e->term, v, n->sm.hash, true};
        if (e->index > s->hist_max)
            s->hist_max = e->index;
        if (wid && e->index > s->max_acked) {
            s->max_acked = e->index; /* the client hears back at the first apply */
            s->st->writes_acked++;
        }
    } else if (h->term != e->term || h->value != v || h->phash != n->sm.hash) {
        sim_fail(s,
                 "state machine safety: node %llu applied a different entry (or history) at "
                 "index %llu (term %llu vs %llu)",
                 (unsigned long long)n->id, (unsigned long long)e->index,
                 (unsigned long long)e->term, (unsigned long long)h->term);
        return;
    }
    if (e->type != RAFT_ENTRY_NORMAL) {
        raft_conf_change cc;
        bs_err err;
        if (raft_conf_change_decode(e->data, &cc, &err) != BS_OK) {
            sim_fail(s, "bad conf change entry: %s", err.msg);
            return;
        }
        (void)raft_apply_conf_change(n->r, &cc, &n->cs, &err); /* invalid = no-op */
        raft_memstorage_set_conf_state(n->ms, &n->cs);
        sim_logf(s, "node %llu applied conf change at %llu", (unsigned long long)n->id,
                 (unsigned long long)e->index);
    }
}

static void process_ready(sim *s, node *n, bool may_crash)
{
    if (!n->up || !raft_has_ready(n->r))
        return;
    raft_ready rd;
    raft_ready_get(n->r, &rd);
    for (size_t i = 0; i < rd.n_msgs; i++)
        enqueue(s, &rd.msgs[i]);
    if (may_crash && sim_chance(s, s->midcrash_pct)) {
        sim_node_crash(s, n, "before persisting its Ready");
        return;
    }
    if (rd.snapshot) {
        const raft_snapshot *sn = rd.snapshot;
        sm_state sm;
        if (sn->data.len != 24) {
            sim_fail(s, "snapshot data of %zu bytes", sn->data.len);
            return;
        }
        memcpy(&sm.applied, sn->data.ptr, 8);
        memcpy(&sm.hash, sn->data.ptr + 8, 8);
        memcpy(&sm.last_write_index, sn->data.ptr + 16, 8);
        hist_ent *h = sim_hist_at(s, sn->meta.index);
        if (sm.applied != sn->meta.index || !h->set || h->phash != sm.hash)
            sim_fail(s, "snapshot at %llu does not match the applied history",
                     (unsigned long long)sn->meta.index);
        raft_memstorage_apply_snapshot(n->ms, sn);
        n->sm = sm;
        n->cs = sn->meta.conf_state;
        raft_memstorage_set_conf_state(n->ms, &n->cs);
        sim_logf(s, "node %llu installed snapshot at %llu", (unsigned long long)n->id,
                 (unsigned long long)sn->meta.index);
    }
    if (rd.n_entries > 0) {
        raft_storage stg = raft_memstorage_storage(n->ms);
        uint64_t pt = 0;
        bool pk = stg.ops->term(stg.ctx, rd.entries[0].index - 1, &pt) == BS_OK;
        if (rd.snapshot && rd.entries[0].index - 1 == rd.snapshot->meta.index) {
            pt = rd.snapshot->meta.term;
            pk = true;
        }
        for (size_t i = 0; i < rd.n_entries; i++) {
            const raft_entry *e = &rd.entries[i];
            sim_check_log_matching(s, n->id, e->index, e->term, sim_entry_value(e), pt, pk);
            pt = e->term;
            pk = true;
        }
        raft_memstorage_append(n->ms, rd.entries, rd.n_entries);
    }
    if (rd.has_hs)
        raft_memstorage_set_hard_state(n->ms, &rd.hs);
    for (size_t i = 0; i < rd.n_persisted_msgs; i++)
        enqueue(s, &rd.persisted_msgs[i]);
    for (size_t i = 0; i < rd.n_committed && !s->failed; i++)
        apply_entry(s, n, &rd.committed[i]);
    for (size_t i = 0; i < rd.n_read_states; i++) {
        uint64_t id = 0;
        if (rd.read_states[i].ctx.len == 8)
            memcpy(&id, rd.read_states[i].ctx.ptr, 8);
        for (int k = 0; k < n->n_reads; k++)
            if (n->reads[k].id == id && n->reads[k].index == 0)
                n->reads[k].index = rd.read_states[i].index;
    }
    raft_advance(n->r, &rd);
    serve_reads(s, n);
}

void sim_process_all(sim *s, bool may_crash)
{
    int start = sim_rint(s, MAXN);
    for (int k = 0; k < MAXN; k++) {
        node *n = &s->nodes[(start + k) % MAXN];
        if (n->exists && n->up)
            process_ready(s, n, may_crash);
    }
}

node *sim_find_leader(sim *s)
{
    node *best = NULL;
    uint64_t best_term = 0;
    for (int k = 1; k < MAXN; k++) {
        node *n = &s->nodes[k];
        if (!n->up)
            continue;
        raft_status st;
        raft_get_status(n->r, &st);
        if (st.role == RAFT_LEADER && st.term >= best_term) {
            best = n;
            best_term = st.term;
        }
    }
    return best;
}

node *sim_random_up(sim *s)
{
    int start = sim_rint(s, MAXN);
    for (int k = 0; k < MAXN; k++) {
        node *n = &s->nodes[(start + k) % MAXN];
        if (n->exists && n->up)
            return n;
    }
    return NULL;
}

/* ---- the run -------------------------------------------------------------------------- */

static bool heal_phase(sim *s)
{
    sim_heal(s);
    s->drop_pct = s->dup_pct = s->max_delay = 0;
    s->midcrash_pct = 0;
    for (int k = 1; k < MAXN; k++) {
        node *n = &s->nodes[k];
        if (n->exists && !n->up) {
            sim_logf(s, "heal: restart %llu", (unsigned long long)n->id);
            sim_node_start(s, n);
        }
    }
    sim_logf(s, "heal: all faults removed");
    uint64_t live_term = 0, live_node = 0;
    for (int t = 0; t < s->o->heal_ticks && !s->failed; t++) {
        for (int round = 0; round < 20; round++) {
            sim_process_all(s, false);
            sim_check_leaders(s);
            raft_msg m;
            bool any = false, lost;
            while (sim_pop_msg(s, &m, &lost, false)) {
                sim_deliver(s, &m, lost);
                raft_msg_deinit(&m);
                any = true;
            }
            if (!any)
                break;
        }
        if (s->live_done)
            return true;
        node *l = sim_find_leader(s);
        if (l) {
            raft_status st;
            raft_get_status(l->r, &st);
            if (s->live_wid == 0 || live_term != st.term || live_node != l->id) {
                uint64_t wid = ++s->next_wid;
                bs_err err;
                if (raft_propose(l->r, bs_slice_make(&wid, 8), NULL, &err) == BS_OK) {
                    s->live_wid = wid;
                    live_term = st.term;
                    live_node = l->id;
                    sim_logf(s, "heal: liveness write w%llu to %llu", (unsigned long long)wid,
                             (unsigned long long)l->id);
                }
            }
        }
        s->step++;
        sim_act_tick(s);
    }
    for (int k = 1; k < MAXN && !s->live_done; k++) {
        node *n = &s->nodes[k];
        if (!n->up)
            continue;
        raft_status st;
        raft_get_status(n->r, &st);
        sim_logf(s,
                 "node %llu: %s term %llu lead %llu commit %llu applied %llu last %llu "
                 "uncommitted %llu transferee %llu",
                 (unsigned long long)n->id, raft_role_name(st.role), (unsigned long long)st.term,
                 (unsigned long long)st.lead, (unsigned long long)st.commit,
                 (unsigned long long)st.applied, (unsigned long long)st.last_index,
                 (unsigned long long)st.uncommitted_size, (unsigned long long)st.lead_transferee);
        for (size_t i = 0; i < n->r->trk.n_prs; i++) {
            const raft_progress *p = &n->r->trk.prs[i];
            if (st.role == RAFT_LEADER)
                sim_logf(s, "  progress %llu: %s match %llu next %llu paused %d active %d",
                         (unsigned long long)p->id, raft_pr_state_name(p->state),
                         (unsigned long long)p->match, (unsigned long long)p->next,
                         raft_pr_is_paused(p), p->recent_active);
        }
    }
    if (!s->failed && !s->live_done)
        sim_fail(s, "liveness: no leader committed a new write within %d ticks after healing",
                 s->o->heal_ticks);
    return s->live_done;
}

static void report(sim *s)
{
    FILE *f = s->o->out ? s->o->out : stderr;
    fprintf(f, "raft sim FAILED: seed %llu, %d nodes%s: %s\n", (unsigned long long)s->o->seed,
            s->o->nodes, s->o->lease ? ", lease reads" : "", s->why);
    if (!s->o->verbose) {
        uint64_t n = s->n_trace < TRACE_LINES ? s->n_trace : TRACE_LINES;
        fprintf(f, "last %llu trace lines:\n", (unsigned long long)n);
        for (uint64_t i = s->n_trace - n; i < s->n_trace; i++)
            fprintf(f, "  %s\n", s->trace[i % TRACE_LINES]);
    }
    fprintf(f, "replay with full trace: test_sim --seed %llu%s%s\n", (unsigned long long)s->o->seed,
            s->o->nodes == 5 ? " --nodes 5" : "", s->o->lease ? " --lease" : "");
}

bool sim_run(const sim_opts *o, sim_stats *st)
{
    sim_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    sim *s = bs_calloc(1, sizeof(*s));
    s->o = o;
    s->st = st;
    s->rng = o->seed * 0x2545f4914f6cdd1dULL + 17;
    s->n_init = o->nodes;
    s->n_pool = o->membership ? o->nodes + 2 : o->nodes;
    if (s->n_pool > MAXN - 1)
        s->n_pool = MAXN - 1;
    s->drop_pct = sim_rint(s, 4) == 0 ? 0 : sim_rint(s, 20);
    s->dup_pct = sim_rint(s, 10);
    s->max_delay = sim_rint(s, 4);
    s->midcrash_pct = sim_rint(s, 3);
    s->reorder = sim_chance(s, 70);
    s->check_quorum = o->lease || sim_chance(s, 50);
    s->pre_vote = sim_chance(s, 70);
    s->max_inflight = 1 + (uint64_t)sim_rint(s, 8);
    s->max_msg = sim_chance(s, 50) ? 0 : (uint64_t)(8 + sim_rint(s, 64));
    s->max_uncommitted = sim_chance(s, 30) ? (uint64_t)(16 + sim_rint(s, 64)) : 0;
    sim_logf(s,
             "seed %llu: %d nodes drop %d%% dup %d%% delay<=%d midcrash %d%% reorder %d "
             "check_quorum %d pre_vote %d inflight %llu msg %llu uncommitted %llu lease %d",
             (unsigned long long)o->seed, o->nodes, s->drop_pct, s->dup_pct, s->max_delay,
             s->midcrash_pct, s->reorder, s->check_quorum, s->pre_vote,
             (unsigned long long)s->max_inflight, (unsigned long long)s->max_msg,
             (unsigned long long)s->max_uncommitted, o->lease);

    raft_conf_state cs;
    memset(&cs, 0, sizeof(cs));
    for (int i = 1; i <= o->nodes; i++)
        cs.voters[cs.n_voters++] = (uint64_t)i;
    for (int i = 1; i <= o->nodes; i++)
        sim_node_create(s, &s->nodes[i], (uint64_t)i, &cs);
    *sim_hist_at(s, 1) = (hist_ent){1, 0, BOOT_HASH, true};
    s->hist_max = 1;

    for (s->step = 1; s->step <= (uint64_t)o->steps && !s->failed; s->step++) {
        st->steps++;
        sim_pick_action(s);
        if (!s->failed)
            sim_process_all(s, true);
        if (!s->failed)
            sim_check_leaders(s);
    }
    bool ok = !s->failed && heal_phase(s);
    if (!ok)
        report(s);

    for (int k = 0; k < MAXN; k++) {
        raft_free(s->nodes[k].r);
        raft_memstorage_free(s->nodes[k].ms);
    }
    for (size_t i = 0; i < s->nq; i++)
        raft_msg_deinit(&s->q[i].m);
    bs_free(s->q);
    bs_free(s->hist);
    bs_free(s->lm);
    bs_free(s->leader_of_term);
    bs_free(s);
    return ok;
}
