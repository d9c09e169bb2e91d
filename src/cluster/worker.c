/* worker.c -- the store's background thread (TiKV's split-check and pd workers in one) and
 * the raftstore's periodic ticks that feed it.
 *
 * The raftstore thread must never wait on anything but its own raft log write, yet a split
 * check scans a whole Region and every PD call may write PD's own RocksDB. So the
 * raftstore only queues tasks (a copy of what they need: a Region, a heartbeat, stats)
 * and the worker runs them in order: split checks (scan, then AskBatchSplit; the result
 * goes back to the raftstore, which alone proposes), ReportBatchSplit, region and store
 * heartbeats. The queue and the flag that stops the thread live under the store mutex;
 * a task never holds it while it works. Tasks still queued when the store closes are
 * dropped: PD rebuilds what they carried from later heartbeats. */
#include <string.h>
#include <sys/statvfs.h>

#include "cluster/cluster_int.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"

void cluster_task_free(cluster_task *t)
{
    if (!t)
        return;
    pd_region_info_deinit(&t->hb);
    for (size_t i = 0; i < t->n_regions; i++)
        pd_region_deinit(&t->regions[i]);
    bs_free(t->regions);
    for (size_t i = 0; i < t->n_split; i++)
        bs_buf_free(&t->split_keys[i]);
    bs_free(t->split_keys);
    bs_free(t);
}

/* A task that will never run: a manual split still gets its answer. No lock held. */
static void drop_task(cluster_task *t)
{
    if (t->done) {
        bs_err e;
        bs_err_setf(&e, BS_EPROPOSAL_DROPPED, "store closed");
        t->done(t->done_arg, BS_EPROPOSAL_DROPPED, &e);
    }
    cluster_task_free(t);
}

void cluster_worker_push(cluster_store *s, cluster_task *t)
{
    t->next = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->worker_stop) {
        pthread_mutex_unlock(&s->mu);
        drop_task(t);
        return;
    }
    if (s->task_tail)
        s->task_tail->next = t;
    else
        s->task_head = t;
    s->task_tail = t;
    pthread_cond_signal(&s->worker_cv);
    pthread_mutex_unlock(&s->mu);
}

/* PD answers NOT_BOOTSTRAPPED until some store bootstraps it (three-store tests create
 * their Region by hand): not worth a warning. */
static void log_pd_failure(const char *what, uint64_t id, int rc, const bs_err *e)
{
    if (rc == BS_ESTATE)
        BS_LOG_DEBUG("pd request failed", "what=%s id=%llu err=\"%s\"", what,
                     (unsigned long long)id, e->msg);
    else
        BS_LOG_WARN("pd request failed", "what=%s id=%llu err=\"%s\"", what, (unsigned long long)id,
                    e->msg);
}

/* Hands a split result to the raftstore (it always gets one per check or ask). */
static void post_result(cluster_store *s, cluster_split_result *res)
{
    res->next = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->split_tail)
        s->split_tail->next = res;
    else
        s->split_head = res;
    s->split_tail = res;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void run_ask_split(cluster_store *s, cluster_task *t)
{
    const cluster_region *r = &t->hb.region;
    cluster_split_result *res = bs_calloc(1, sizeof(*res));
    pd_split_ids_init(&res->ids);
    res->manual = true;
    res->region_id = r->id;
    res->epoch = r->epoch;
    res->done = t->done;
    res->done_arg = t->done_arg;
    /* The keys move to the result; the task keeps nothing to free. */
    res->split_keys = t->split_keys;
    res->n_split = t->n_split;
    t->split_keys = NULL;
    t->n_split = 0;
    res->code =
        pd_ask_batch_split(s->opts.pd, r, (uint32_t)res->n_split, &res->ids, NULL, &res->err);
    if (res->code != BS_OK)
        log_pd_failure("ask batch split", r->id, res->code, &res->err);
    post_result(s, res);
}

static void run_split_check(cluster_store *s, cluster_task *t)
{
    const cluster_region *r = &t->hb.region;
    cluster_split_result *res = bs_calloc(1, sizeof(*res));
    pd_split_ids_init(&res->ids);
    res->region_id = r->id;
    res->epoch = r->epoch;
    bs_err e;
    int rc = cluster_split_scan(s, r, res, &e);
    if (rc != BS_OK) {
        BS_LOG_WARN("split check failed", "region_id=%llu err=\"%s\"", (unsigned long long)r->id,
                    e.msg);
    } else if (res->n_split > 0) {
        res->want_split = true;
        rc = pd_ask_batch_split(s->opts.pd, r, (uint32_t)res->n_split, &res->ids, NULL, &e);
        if (rc != BS_OK) {
            /* No ids, no split: the next check tries again. */
            log_pd_failure("ask batch split", r->id, rc, &e);
            for (size_t i = 0; i < res->n_split; i++)
                bs_buf_free(&res->split_keys[i]);
            bs_free(res->split_keys);
            res->split_keys = NULL;
            res->n_split = 0;
        }
    }
    BS_LOG_DEBUG("split check done", "region_id=%llu size=%llu keys=%llu split_keys=%zu",
                 (unsigned long long)r->id, (unsigned long long)res->size,
                 (unsigned long long)res->keys, res->n_split);
    /* Always answer, so the raftstore clears the peer's checking flag. */
    post_result(s, res);
}

static void run_store_heartbeat(cluster_store *s, cluster_task *t)
{
    pd_store_stats *st = &t->stats;
    struct statvfs vfs;
    const char *dir = kv_engine_path(s->engine);
    if (dir && statvfs(dir, &vfs) == 0) {
        st->capacity = (uint64_t)vfs.f_blocks * vfs.f_frsize;
        st->available = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    }
    bs_err e;
    int rc = pd_store_heartbeat(s->opts.pd, s->store_id, st, NULL, NULL, &e);
    if (rc == BS_NOTFOUND && pd_is_bootstrapped(s->opts.pd) && !s->pd_registered) {
        /* The store opened before PD was bootstrapped: register it now (TiKV's store
         * registers itself once the cluster exists). */
        rc = cluster_store_put_to_pd(s, &e);
        if (rc == BS_OK) {
            s->pd_registered = true;
            rc = pd_store_heartbeat(s->opts.pd, s->store_id, st, NULL, NULL, &e);
        }
    }
    if (rc != BS_OK)
        log_pd_failure("store heartbeat", s->store_id, rc, &e);
}

static void run_task(cluster_store *s, cluster_task *t)
{
    bs_err e;
    int rc;
    switch (t->kind) {
    case CLUSTER_TASK_SPLIT_CHECK:
        run_split_check(s, t);
        break;
    case CLUSTER_TASK_REPORT_SPLIT:
        rc = pd_report_batch_split(s->opts.pd, t->regions, t->n_regions, NULL, &e);
        if (rc != BS_OK)
            log_pd_failure("report batch split", t->regions[t->n_regions - 1].id, rc, &e);
        break;
    case CLUSTER_TASK_REGION_HEARTBEAT:
        rc = pd_region_heartbeat(s->opts.pd, &t->hb, NULL, &e);
        if (rc != BS_OK)
            log_pd_failure("region heartbeat", t->hb.region.id, rc, &e);
        break;
    case CLUSTER_TASK_STORE_HEARTBEAT:
        run_store_heartbeat(s, t);
        break;
    case CLUSTER_TASK_ASK_SPLIT:
        run_ask_split(s, t);
        break;
    }
}

static void *worker_main(void *arg)
{
    cluster_store *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->worker_stop && !s->task_head)
            pthread_cond_wait(&s->worker_cv, &s->mu);
        if (s->worker_stop) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        cluster_task *t = s->task_head;
        s->task_head = t->next;
        if (!s->task_head)
            s->task_tail = NULL;
        pthread_mutex_unlock(&s->mu);
        run_task(s, t);
        cluster_task_free(t);
    }
    return NULL;
}

int cluster_worker_start(cluster_store *s, bs_err *err)
{
    BS_ASSERT(!s->worker_started);
    if (pthread_create(&s->worker, NULL, worker_main, s) != 0)
        return bs_err_setf(err, BS_EINTERNAL, "cluster: cannot start the store worker");
    s->worker_started = true;
    (void)pthread_setname_np(s->worker, "store-worker"); /* cosmetic */
    return BS_OK;
}

void cluster_worker_stop(cluster_store *s)
{
    pthread_mutex_lock(&s->mu);
    s->worker_stop = true;
    pthread_cond_broadcast(&s->worker_cv);
    pthread_mutex_unlock(&s->mu);
    if (s->worker_started)
        pthread_join(s->worker, NULL);
    s->worker_started = false;
    while (s->task_head) {
        cluster_task *t = s->task_head;
        s->task_head = t->next;
        drop_task(t);
    }
    s->task_tail = NULL;
    cluster_cb *cbs = NULL;
    bs_err e;
    bs_err_setf(&e, BS_EPROPOSAL_DROPPED, "store closed");
    while (s->split_head) {
        cluster_split_result *r = s->split_head;
        s->split_head = r->next;
        if (r->done) /* a manual split waits for its answer */
            cluster_cb_push(&cbs, r->done, r->done_arg, BS_EPROPOSAL_DROPPED, &e);
        cluster_split_result_free(r);
    }
    s->split_tail = NULL;
    cluster_cb_run(cbs);
}

/* ---- ticks (raftstore thread) ----------------------------------------------------------- */

/* PD keeps sizes in MiB, and a Region with any data at least 1 (PD's
 * EmptyRegionApproximateSize rule), so tiny test Regions still show up as non-empty. */
static uint64_t size_mib(uint64_t bytes)
{
    uint64_t mib = bytes >> 20;
    return mib == 0 && bytes > 0 ? 1 : mib;
}

void cluster_fsm_heartbeat(cluster_fsm *f)
{
    const cluster_peer *me = cluster_region_find_peer(&f->region, f->peer_id);
    BS_ASSERT(me != NULL); /* a peer is always one of its Region's peers */
    raft_status st;
    raft_get_status(f->raft, &st);
    cluster_task *t = bs_calloc(1, sizeof(*t));
    t->kind = CLUSTER_TASK_REGION_HEARTBEAT;
    pd_region_info_init(&t->hb);
    pd_region_copy(&t->hb.region, &f->region);
    t->hb.has_leader = true;
    t->hb.leader = *me;
    t->hb.term = st.term;
    if (f->split.size_known) {
        t->hb.approximate_size = size_mib(f->split.approx_size);
        t->hb.approximate_keys = f->split.approx_keys;
    }
    t->hb.bytes_written = f->split.hb_bytes;
    t->hb.keys_written = f->split.hb_keys;
    f->split.hb_bytes = f->split.hb_keys = 0;
    cluster_worker_push(f->store, t);
}

static void split_check_tick(cluster_store *s)
{
    for (size_t i = 0; i < s->n_fsms; i++) {
        cluster_fsm *f = s->fsms[i];
        if (f->split.checking)
            continue;
        if (f->split.wait_index && f->rs.apply.applied < f->split.wait_index)
            continue; /* our split is on its way: measure the result instead */
        f->split.wait_index = 0;
        /* Skip a Region measured not to need a split that has not grown much since; one
         * that needs it is checked again until a split applies (PD's ids or the proposal
         * may have been lost, e.g. with a leadership change). */
        if (f->split.size_known && !f->split.want_split &&
            f->split.size_diff < s->opts.split_check_diff)
            continue;
        raft_status st;
        raft_get_status(f->raft, &st);
        if (st.role != RAFT_LEADER)
            continue; /* followers keep counting; the leader decides */
        /* A scan reads the whole Region. While the last measurement plus every byte written
         * since stays below region_max_size no split can be due, so none runs: a ~96 MiB
         * Region is read once per ~48 MiB written, not once per split_check_diff (TiKV
         * skips the scan the same way, from its table files' approximate size). */
        if (f->split.size_known && !f->split.want_split &&
            f->split.approx_size + f->split.scan_diff < s->opts.region_max_size) {
            f->split.size_diff = 0;
            continue;
        }
        f->split.checking = true;
        f->split.size_diff = 0;
        f->split.scan_queued = f->split.scan_diff;
        s->stats.split_checks++;
        cluster_task *t = bs_calloc(1, sizeof(*t));
        t->kind = CLUSTER_TASK_SPLIT_CHECK;
        pd_region_info_init(&t->hb);
        pd_region_copy(&t->hb.region, &f->region);
        cluster_worker_push(s, t);
    }
}

static void region_heartbeat_tick(cluster_store *s)
{
    for (size_t i = 0; i < s->n_fsms; i++) {
        raft_status st;
        raft_get_status(s->fsms[i]->raft, &st);
        if (st.role == RAFT_LEADER)
            cluster_fsm_heartbeat(s->fsms[i]);
    }
}

static void store_heartbeat_tick(cluster_store *s)
{
    cluster_task *t = bs_calloc(1, sizeof(*t));
    t->kind = CLUSTER_TASK_STORE_HEARTBEAT;
    pd_region_info_init(&t->hb);
    pd_store_stats *st = &t->stats;
    int64_t now_s = bs_clock_wall_ms() / 1000;
    st->region_count = (uint32_t)s->n_fsms;
    for (size_t i = 0; i < s->n_fsms; i++)
        st->used_size += s->fsms[i]->split.approx_size;
    st->start_time = (uint32_t)s->started_s;
    st->bytes_written = s->store_hb_bytes;
    st->keys_written = s->store_hb_keys;
    st->interval_start = (uint64_t)s->store_hb_start_s;
    st->interval_end = (uint64_t)now_s;
    s->store_hb_bytes = s->store_hb_keys = 0;
    s->store_hb_start_s = now_s;
    cluster_worker_push(s, t);
}

/* Fires a tick of interval ms when due, then schedules the next one a full interval later
 * (a stalled round never fires a burst). 0 = disabled. */
static bool due(int64_t *next_ns, uint64_t interval_ms, int64_t now_ns)
{
    if (interval_ms == 0 || now_ns < *next_ns)
        return false;
    *next_ns = now_ns + (int64_t)interval_ms * 1000000;
    return true;
}

void cluster_store_on_timers(cluster_store *s, int64_t now_ns)
{
    if (due(&s->next_split_check_ns, s->opts.split_check_tick_ms, now_ns))
        split_check_tick(s);
    if (due(&s->next_region_hb_ns, s->opts.pd_heartbeat_tick_ms, now_ns))
        region_heartbeat_tick(s);
    if (due(&s->next_store_hb_ns, s->opts.pd_store_heartbeat_tick_ms, now_ns))
        store_heartbeat_tick(s);
}
