/* raftstore.c -- the raftstore thread: one loop drives every Region's peer on the store.
 *
 * A round: (1) take everything queued (new Regions, raft messages, reads, proposals) in one
 * swap under the store lock; (2) tick every peer when the base tick is due; (3) step the
 * messages, start the reads, hand the proposals to raft in queue order; (4) collect the
 * Ready of EVERY peer with work, send the messages that need nothing persisted, and record
 * all their entries and hard states in ONE write batch; (5) write the batch, fsynced when
 * any Ready asks (group commit: one fsync covers every proposal that arrived while the
 * previous one ran), and meanwhile apply the committed entries an earlier round made
 * durable and answer their proposals (apply_durable; the fsync runs on the log syncer,
 * log_sync.c, so the two overlap); (6) send the messages that promise
 * durable state; (7) apply the other committed entries;
 * (8) serve reads, advance, handle role changes; (9) publish each peer's view, then run the
 * callbacks with no lock held, then lower the fences those failures raised (cluster_int.h).
 * Between (2) and (3) the periodic split-check and PD heartbeat ticks queue work for the
 * store's worker (worker.c), and after the proposals the split checks that came back
 * from it are proposed (split.c). Messages for a Region not (yet) here wait a few
 * election timeouts as orphans: a split applying here may create it. The order is
 * raft.h's; persisting before acknowledging is asserted (cluster_fsm_apply). The thread
 * sleeps on a condition variable until work arrives or the next tick is due; only it
 * touches the disk for Raft, so a network thread that queues a proposal or a message never
 * waits on I/O.
 * Mirrors TiKV's raftstore poller (components/raftstore/src/store/fsm/store.rs,
 * batch-system) with the apply pool folded in. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "cluster/cluster_int.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"

static void send_msgs(cluster_store *s, cluster_fsm *f, const raft_msg *msgs, size_t n)
{
    if (n == 0)
        return;
    const cluster_peer *from = cluster_region_find_peer(&f->region, f->peer_id);
    for (size_t i = 0; i < n; i++) {
        const cluster_peer *to = cluster_region_find_peer(&f->region, msgs[i].to);
        if (!to || !from || !s->opts.transport)
            continue;
        cluster_raft_message m;
        memset(&m, 0, sizeof(m));
        m.region_id = f->region_id;
        m.from_peer = *from;
        m.to_peer = *to;
        m.epoch = f->region.epoch;
        m.msg = msgs[i];
        /* Delivery is best effort: a lost message is retried by raft. */
        if (s->opts.transport->vt->send(s->opts.transport, to->store_id, &m) == BS_OK)
            s->stats.messages_sent++;
    }
}

static void handle_creates(cluster_store *s, cluster_create_req *reqs)
{
    while (reqs) {
        cluster_create_req *r = reqs;
        reqs = r->next;
        pthread_mutex_lock(&s->mu);
        bool exists = cluster_store_find(s, r->region.id) != NULL;
        pthread_mutex_unlock(&s->mu);
        if (exists) {
            r->rc = bs_err_setf(&r->err, BS_EEXIST, "region %llu exists",
                                (unsigned long long)r->region.id);
        } else {
            kv_batch *b = kv_batch_new();
            cluster_rs_write_initial(b, &r->region);
            r->rc = kv_engine_write(s->engine, b, true, &r->err);
            kv_batch_free(b);
            cluster_fsm *f = NULL;
            if (r->rc == BS_OK)
                r->rc = cluster_fsm_new(s, &r->region, &f, &r->err);
            if (r->rc == BS_OK)
                cluster_store_add_fsm(s, f);
        }
        pthread_mutex_lock(&s->mu);
        r->done = true;
        pthread_cond_broadcast(&s->done_cv);
        pthread_mutex_unlock(&s->mu);
    }
}

/* Steps m into its peer. A message for a Region not here is kept (true: the caller must
 * not free it) until it expires or the orphan list is full. */
static bool step_message(cluster_store *s, cluster_msg_node *m)
{
    cluster_fsm *f = cluster_store_find(s, m->m.region_id);
    if (!f) {
        if (m->expire_tick < s->tick_count || s->n_orphans >= CLUSTER_MAX_ORPHANS)
            return false;
        m->next = NULL;
        if (s->orphans_tail)
            s->orphans_tail->next = m;
        else
            s->orphans = m;
        s->orphans_tail = m;
        s->n_orphans++;
        return true;
    }
    if (m->m.to_peer.id == f->peer_id) {
        bs_err e;
        if (m->m.msg.type == RAFT_MSG_APPEND_RESP && !m->m.msg.reject)
            cluster_fsm_note_match(f, m->m.msg.from, m->m.msg.index);
        if (raft_step(f->raft, &m->m.msg, &e) != BS_OK)
            BS_LOG_WARN("drop bad raft message", "region_id=%llu err=\"%s\"",
                        (unsigned long long)f->region_id, e.msg);
        s->stats.messages_received++;
    }
    return false;
}

static void apply_or_die(cluster_fsm *f, const raft_entry *ents, size_t n, cluster_cb **cbs)
{
    bs_err e;
    if (cluster_fsm_apply(f, ents, n, cbs, &e) != BS_OK) {
        BS_LOG_FATAL("apply failed", "region_id=%llu err=\"%s\"",
                     (unsigned long long)f->region_id, e.msg);
        BS_ASSERT(!"apply failed");
    }
}

/* The committed entries of f's Ready that an earlier round already made durable here
 * (index <= synced_index): how many, recorded in rd_applied. raft.h orders "apply after
 * persisting" for the Ready's own entries; these were persisted by an earlier Ready (a
 * one-peer leader commits an entry only after its own sync, so its entries always arrive
 * here) and need not wait for this round's fsync, of entries they do not depend on.
 * Entries committed but not yet durable here (a follower's) apply after the write. */
static size_t count_durable(cluster_fsm *f)
{
    size_t k = 0;
    while (k < f->rd.n_committed && f->rd.committed[k].index <= f->synced_index)
        k++;
    f->rd_applied = k;
    return k;
}

/* Applies the durable prefix count_durable found, and queues its answers on *cbs. It may
 * run while this round's log fsync is in flight (log_sync.c): committed entries never
 * change, so the log write cannot replace them, and the applied index it records is at
 * most synced_index, so whether or not that fsync also covers the apply write, a crash
 * never leaves an applied index above the durable log. */
static void apply_durable(cluster_fsm *f, cluster_cb **cbs)
{
    if (f->rd_applied > 0)
        apply_or_die(f, f->rd.committed, f->rd_applied, cbs);
}

static void log_write_failed(cluster_store *s, int rc, const bs_err *e)
{
    /* Raft cannot go on without its log (TiKV panics here too). */
    BS_LOG_FATAL("raft log write failed", "store_id=%llu err=\"%s\"",
                 (unsigned long long)s->store_id, e->msg);
    BS_ASSERT(rc == BS_OK);
}

/* Durable entries to apply that make overlapping the round's fsync with their apply worth
 * two thread hand-offs (log_sync.c): a few entries apply in less time than the wake-ups
 * cost, so a round with fewer writes and syncs inline. */
#define OVERLAP_MIN_ENTRIES 32

/* Returns true when some peer has more work right away. */
static bool run_round(cluster_store *s)
{
    cluster_cb *cbs = NULL, *early = NULL;
    pthread_mutex_lock(&s->mu);
    cluster_proposal *props = s->prop_head;
    cluster_msg_node *msgs = s->msg_head;
    cluster_read *reads = s->read_head;
    cluster_create_req *creates = s->create_head;
    cluster_split_result *splits = s->split_head;
    s->split_head = s->split_tail = NULL;
    s->prop_head = s->prop_tail = NULL;
    s->n_props = 0;
    s->msg_head = s->msg_tail = NULL;
    s->read_head = s->read_tail = NULL;
    s->create_head = NULL;
    pthread_mutex_unlock(&s->mu);

    handle_creates(s, creates);

    int64_t now = bs_clock_mono_ns();
    int64_t tick_ns = (int64_t)s->opts.tick_interval_ms * 1000000;
    if (now - s->last_tick_ns >= tick_ns) {
        s->last_tick_ns = now;
        s->tick_count++;
        for (size_t i = 0; i < s->n_fsms; i++) {
            cluster_fsm *f = s->fsms[i];
            raft_tick(f->raft);
            if (++f->gc_ticks >= s->opts.log_gc_tick_ticks) {
                f->gc_ticks = 0;
                cluster_fsm_maybe_gc(f, &cbs);
            }
        }
    }
    cluster_store_on_timers(s, now);

    /* Orphans first: a Region a split created last round may have messages waiting. */
    if (s->orphans) {
        cluster_msg_node *o = s->orphans;
        s->orphans = s->orphans_tail = NULL;
        s->n_orphans = 0;
        while (o) {
            cluster_msg_node *m = o;
            o = m->next;
            if (!step_message(s, m)) {
                raft_msg_deinit(&m->m.msg);
                bs_free(m);
            }
        }
    }
    while (msgs) {
        cluster_msg_node *m = msgs;
        msgs = m->next;
        m->expire_tick = s->tick_count + 4 * (uint64_t)s->opts.election_ticks;
        if (!step_message(s, m)) {
            raft_msg_deinit(&m->m.msg);
            bs_free(m);
        }
    }

    while (reads) {
        cluster_read *r = reads;
        reads = r->next;
        r->next = NULL;
        cluster_fsm *f = cluster_store_find(s, r->region_id);
        bs_err e;
        int rc = f ? raft_read_index(f->raft, bs_slice_make(&r->id, 8), &e)
                   : bs_err_setf(&e, BS_NOTFOUND, "region %llu not found",
                                 (unsigned long long)r->region_id);
        if (rc != BS_OK) {
            cluster_cb_push_read(&cbs, r->done, r->arg, rc, &e);
            bs_free(r);
        } else {
            r->next = f->reads;
            f->reads = r;
        }
    }

    while (props) {
        cluster_proposal *p = props;
        props = p->next;
        p->next = NULL;
        cluster_fsm *f = cluster_store_find(s, p->region_id);
        if (!f) {
            bs_err e;
            bs_err_setf(&e, BS_NOTFOUND, "region %llu not found",
                        (unsigned long long)p->region_id);
            if (!p->admin)
                cluster_cb_push(&cbs, p->done, p->done_arg, BS_NOTFOUND, &e);
            cluster_proposal_free(p);
            continue;
        }
        /* A refusal has already queued p's callback. */
        (void)cluster_fsm_propose(f, p, &cbs);
    }

    /* Split checks that came back: proposed behind this round's writes. */
    while (splits) {
        cluster_split_result *r = splits;
        splits = r->next;
        r->next = NULL;
        cluster_split_on_result(s, r, &cbs);
    }

    /* Collect every Ready and persist them together. */
    kv_batch *b = kv_batch_new();
    bool sync = false, any = false;
    size_t durable = 0;
    for (size_t i = 0; i < s->n_fsms; i++) {
        cluster_fsm *f = s->fsms[i];
        f->has_ready = raft_has_ready(f->raft);
        if (!f->has_ready)
            continue;
        any = true;
        raft_ready_get(f->raft, &f->rd);
        send_msgs(s, f, f->rd.msgs, f->rd.n_msgs);
        /* Basalt never generates snapshots yet, so none can arrive (cluster.h Status). */
        BS_ASSERT(f->rd.snapshot == NULL);
        cluster_rs_append(&f->rs, f->rd.entries, f->rd.n_entries, b);
        if (f->rd.has_hs)
            f->rs.hs = f->rd.hs;
        if (f->rd.has_hs || f->rd.n_entries > 0)
            cluster_rs_write_raft_state(&f->rs, b);
        sync = sync || f->rd.must_sync;
        durable += count_durable(f);
    }
    /* When enough durable entries wait to apply, the log is written without sync and its
     * fsync runs on the log syncer while they apply and their replies leave (neither waits
     * for this round's fsync, which covers only newer entries: log_sync.c); otherwise one
     * synced write, as there is little to overlap. The fsms the loop saw are the first
     * n_ready (a split applied below may add peers; they wait for the next round). */
    size_t n_ready = s->n_fsms;
    bool write = kv_batch_count(b) > 0 || sync;
    size_t min_entries = atomic_load(&s->overlap_min_entries);
    if (min_entries == 0)
        min_entries = OVERLAP_MIN_ENTRIES;
    bool overlap = write && sync && durable >= min_entries && s->log_sync.started;
    int64_t t0 = bs_clock_mono_ns(), dt = 0;
    bs_err e;
    bs_err_clear(&e);
    if (overlap) {
        int rc = kv_engine_write(s->engine, b, false, &e);
        if (rc != BS_OK)
            log_write_failed(s, rc, &e);
        dt = bs_clock_mono_ns() - t0;
        bool started = cluster_log_sync_start(s);
        BS_ASSERT(started); /* overlap implies the thread runs */
    }
    for (size_t i = 0; i < n_ready; i++)
        if (s->fsms[i]->has_ready)
            apply_durable(s->fsms[i], &early);
    if (early) { /* stats first: a caller woken by its answer finds it counted */
        pthread_mutex_lock(&s->mu);
        s->pub_stats = s->stats;
        pthread_mutex_unlock(&s->mu);
    }
    cluster_cb_run(early);
    if (overlap) {
        int64_t sync_ns = 0;
        int rc = cluster_log_sync_wait(s, &sync_ns, &e);
        if (rc != BS_OK)
            log_write_failed(s, rc, &e);
        dt += sync_ns;
    } else if (write) {
        t0 = bs_clock_mono_ns();
        int rc = kv_engine_write(s->engine, b, sync, &e);
        if (rc != BS_OK)
            log_write_failed(s, rc, &e);
        dt = bs_clock_mono_ns() - t0;
    }
    if (write) {
        bs_histogram_observe(s->m_append, (double)dt / 1e9);
        if (sync) {
            s->stats.fsyncs++;
            bs_counter_inc(s->m_fsync);
        }
    }
    kv_batch_free(b);

    for (size_t i = 0; i < s->n_fsms; i++) {
        cluster_fsm *f = s->fsms[i];
        if (!f->has_ready)
            continue;
        if (sync)
            cluster_fsm_on_synced(f, f->rs.last_index);
        send_msgs(s, f, f->rd.persisted_msgs, f->rd.n_persisted_msgs);
        apply_or_die(f, f->rd.committed + f->rd_applied, f->rd.n_committed - f->rd_applied,
                     &cbs);
        cluster_fsm_on_reads(f, f->rd.read_states, f->rd.n_read_states, &cbs);
        bool has_ss = f->rd.has_ss;
        raft_soft_state ss = f->rd.ss;
        raft_advance(f->raft, &f->rd);
        f->has_ready = false;
        if (has_ss)
            cluster_fsm_on_role(f, &ss, &cbs);
        cluster_rs_cache_trim(&f->rs, f->rs.apply.applied);
        /* A log past raft-log-gc-size-limit is compacted now rather than at the GC tick:
         * the log is also in the memtable of CF raft, and compacted in time its entries
         * are dropped by the flush instead of written to table files and compacted. */
        if (s->opts.log_gc_size_limit && f->rs.size_hint >= s->opts.log_gc_size_limit)
            cluster_fsm_maybe_gc(f, &cbs);
    }

    bool more = false;
    pthread_mutex_lock(&s->mu);
    if (any) {
        s->stats.rounds++;
        bs_counter_inc(s->m_rounds);
    }
    uint64_t leaders = 0;
    for (size_t i = 0; i < s->n_fsms; i++) {
        cluster_fsm_publish(s->fsms[i], now);
        leaders += s->fsms[i]->v_leader;
        more = more || raft_has_ready(s->fsms[i]->raft);
    }
    /* New peers may have messages waiting: another round now, not at the next tick. */
    more = more || (s->peers_created && s->orphans);
    s->peers_created = false;
    s->stats.regions = s->n_fsms;
    s->stats.leaders = leaders;
    s->pub_stats = s->stats;
    pthread_mutex_unlock(&s->mu);
    cluster_cb_run(cbs);
    /* The failures that raised a fence have been delivered: nothing can chain on them
     * any more, so proposals are welcome again. */
    pthread_mutex_lock(&s->mu);
    if (s->any_fence) {
        for (size_t i = 0; i < s->n_fsms; i++)
            s->fsms[i]->fence = false;
        s->any_fence = false;
    }
    pthread_mutex_unlock(&s->mu);
    return more;
}

static bool queues_empty(const cluster_store *s)
{
    return !s->prop_head && !s->msg_head && !s->read_head && !s->create_head && !s->split_head;
}

void *cluster_raftstore_main(void *arg)
{
    cluster_store *s = arg;
    bool more = true;
    int64_t tick_ns = (int64_t)s->opts.tick_interval_ms * 1000000;
    cluster_log_sync_init(s);
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->stop && !more && queues_empty(s)) {
            int64_t due = s->last_tick_ns + tick_ns;
            int64_t now = bs_clock_mono_ns();
            if (now >= due)
                break;
            /* The condvar uses CLOCK_REALTIME; sleep at most the time left to the tick. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t wake = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + (due - now);
            ts.tv_sec = wake / 1000000000;
            ts.tv_nsec = wake % 1000000000;
            int rc = pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            if (rc == ETIMEDOUT)
                break;
        }
        bool stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
        more = run_round(s);
    }
    cluster_log_sync_deinit(s);
    return NULL;
}
