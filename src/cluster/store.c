/* store.c -- a store's lifecycle (open, bootstrap, restart, close) and its thread-safe
 * front door: proposals, read checks, ReadIndex, Region lookup and delivery of messages.
 *
 * Opening follows TiKV's store/PD lifecycle (PROTOCOL.md §3.5): a new data directory asks
 * PD for a store id and records the store ident (cluster id, store id); if PD is not
 * bootstrapped, the store prepares the first Region (all keys, one peer) locally and
 * bootstraps PD with it; a restart reloads every Region's state and lets raft re-apply from
 * the applied index. Every entry point other than open/close only checks the published
 * view and queues work for the raftstore thread, under one store mutex. Open starts two
 * threads: the raftstore (raftstore.c) and the worker for scans and PD calls (worker.c);
 * close stops the raftstore first, so nothing queues work for the worker after it. */
#include <stdio.h>
#include <string.h>

#include "cluster/cluster_int.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"

void cluster_store_options_init(cluster_store_options *o)
{
    memset(o, 0, sizeof(*o));
    o->bootstrap = true;
    o->tick_interval_ms = 1000;
    o->heartbeat_ticks = 2;
    o->election_ticks = 10;
    o->raft_entry_max_size = 512ull << 20;
    o->max_size_per_msg = 1ull << 20;
    o->max_inflight_msgs = 256;
    o->log_gc_threshold = 50;
    o->log_gc_count_limit = 73728;
    o->log_gc_tick_ticks = 3;
    o->log_gc_size_limit = 72ull << 20;
    o->max_pending_proposals = 65536;
    o->lease_read = true;
    o->region_split_size = 96ull << 20;
    o->region_max_size = 144ull << 20;
    o->split_check_diff = 6ull << 20;
    o->split_check_tick_ms = 10000;
    o->batch_split_limit = 10;
    o->pd_heartbeat_tick_ms = 60000;
    o->pd_store_heartbeat_tick_ms = 10000;
}

void cluster_store_options_from_config(cluster_store_options *o, const struct bs_config *cfg)
{
    o->tick_interval_ms = cfg->raftstore.raft_base_tick_interval;
    o->heartbeat_ticks = (int)cfg->raftstore.raft_heartbeat_ticks;
    o->election_ticks = (int)cfg->raftstore.raft_election_timeout_ticks;
    o->raft_entry_max_size = cfg->raftstore.raft_entry_max_size;
    o->log_gc_threshold = (uint64_t)cfg->raftstore.raft_log_gc_threshold;
    o->log_gc_count_limit = (uint64_t)cfg->raftstore.raft_log_gc_count_limit;
    o->log_gc_size_limit = cfg->raftstore.raft_log_gc_size_limit;
    uint64_t gc_ms = cfg->raftstore.raft_log_gc_tick_interval;
    o->log_gc_tick_ticks = o->tick_interval_ms ? (gc_ms + o->tick_interval_ms - 1) / o->tick_interval_ms : 1;
    if (o->log_gc_tick_ticks == 0)
        o->log_gc_tick_ticks = 1;
    o->max_inflight_msgs = (size_t)cfg->raftstore.raft_max_inflight_msgs;
    o->max_size_per_msg = cfg->raftstore.raft_max_size_per_msg;
    o->split_check_tick_ms = cfg->raftstore.split_region_check_tick_interval;
    o->region_split_size = cfg->coprocessor.region_split_size;
    o->region_max_size = cfg->coprocessor.region_max_size;
    o->split_check_diff = cfg->raftstore.region_split_check_diff;
    /* TiKV derives region-max-size and region-split-check-diff from region-split-size
     * when they are not set. The schema cannot tell "not set" from "set to the default",
     * so a default value goes with a default split size only; 0 makes open derive it. */
    bs_config d;
    bs_config_defaults(&d);
    if (cfg->coprocessor.region_split_size != d.coprocessor.region_split_size) {
        if (cfg->coprocessor.region_max_size == d.coprocessor.region_max_size)
            o->region_max_size = 0;
        if (cfg->raftstore.region_split_check_diff == d.raftstore.region_split_check_diff)
            o->split_check_diff = 0;
    }
    bs_config_free(&d);
}

uint64_t cluster_store_id(const cluster_store *s)
{
    return s->store_id;
}

uint64_t cluster_store_cluster_id(const cluster_store *s)
{
    return s->cluster_id;
}

cluster_fsm *cluster_store_find(cluster_store *s, uint64_t region_id)
{
    for (size_t i = 0; i < s->n_fsms; i++)
        if (s->fsms[i]->region_id == region_id)
            return s->fsms[i];
    return NULL;
}

void cluster_store_add_fsm(cluster_store *s, cluster_fsm *f)
{
    pthread_mutex_lock(&s->mu);
    if (s->n_fsms == s->cap_fsms) {
        s->cap_fsms = s->cap_fsms ? 2 * s->cap_fsms : 8;
        s->fsms = bs_realloc(s->fsms, s->cap_fsms * sizeof(*s->fsms));
    }
    s->fsms[s->n_fsms++] = f;
    cluster_fsm_publish(f, bs_clock_mono_ns());
    pthread_mutex_unlock(&s->mu);
}

/* ---- open ----------------------------------------------------------------------------- */

int cluster_store_put_to_pd(cluster_store *s, bs_err *err)
{
    pd_store st;
    memset(&st, 0, sizeof(st));
    st.id = s->store_id;
    if (s->opts.address)
        snprintf(st.address, sizeof(st.address), "%s", s->opts.address);
    else
        snprintf(st.address, sizeof(st.address), "store-%llu", (unsigned long long)s->store_id);
    snprintf(st.version, sizeof(st.version), "8.5.0");
    st.start_timestamp = bs_clock_wall_ms() / 1000;
    return pd_put_store(s->opts.pd, &st, NULL, err);
}

static int write_sync(kv_engine *e, kv_batch *b, bs_err *err)
{
    int rc = kv_engine_write(e, b, true, err);
    kv_batch_clear(b);
    return rc;
}

static int bootstrap_cluster(cluster_store *s, kv_batch *b, bs_err *err)
{
    uint64_t last;
    int rc = pd_alloc_id(s->opts.pd, 2, &last, err);
    if (rc != BS_OK)
        return rc;
    cluster_region r;
    pd_region_init(&r);
    cluster_peer p = {last, s->store_id, PD_PEER_VOTER, false};
    pd_region_set(&r, last - 1, BS_SLICE_NULL, BS_SLICE_NULL, (cluster_epoch){1, 1}, &p, 1);
    cluster_rs_write_initial(b, &r);
    rc = write_sync(s->engine, b, err);
    pd_store st;
    memset(&st, 0, sizeof(st));
    st.id = s->store_id;
    snprintf(st.address, sizeof(st.address), "%s", s->opts.address ? s->opts.address : "store");
    snprintf(st.version, sizeof(st.version), "8.5.0");
    st.start_timestamp = bs_clock_wall_ms() / 1000;
    pd_error_type et;
    if (rc == BS_OK)
        rc = pd_bootstrap(s->opts.pd, &st, &r, &et, err);
    if (rc == BS_EEXIST) { /* another store won the race: drop our prepared Region */
        bs_buf k = BS_BUF_INIT;
        cluster_key_region_state(&k, r.id);
        kv_batch_delete(b, KV_CF_RAFT, bs_buf_slice(&k));
        bs_buf_reset(&k);
        cluster_key_raft_state(&k, r.id);
        kv_batch_delete(b, KV_CF_RAFT, bs_buf_slice(&k));
        bs_buf_reset(&k);
        cluster_key_apply_state(&k, r.id);
        kv_batch_delete(b, KV_CF_RAFT, bs_buf_slice(&k));
        bs_buf_free(&k);
        rc = write_sync(s->engine, b, err);
    } else if (rc == BS_OK) {
        BS_LOG_INFO("cluster bootstrapped", "store_id=%llu region_id=%llu",
                    (unsigned long long)s->store_id, (unsigned long long)r.id);
    }
    pd_region_deinit(&r);
    return rc;
}

static int load_ident(cluster_store *s, kv_batch *b, bs_err *err)
{
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    cluster_key_store_ident(&k);
    int rc = kv_get(s->engine, KV_CF_RAFT, bs_buf_slice(&k), &v, err);
    if (rc == BS_OK) {
        cluster_store_ident id;
        rc = cluster_store_ident_decode(bs_buf_slice(&v), &id, err);
        if (rc == BS_OK && id.cluster_id != pd_cluster_id(s->opts.pd))
            rc = bs_err_setf(err, BS_ESTATE, "store belongs to cluster %llu, PD is %llu",
                             (unsigned long long)id.cluster_id,
                             (unsigned long long)pd_cluster_id(s->opts.pd));
        s->store_id = id.store_id;
        s->cluster_id = id.cluster_id;
    } else if (rc == BS_NOTFOUND) {
        rc = pd_alloc_id(s->opts.pd, 1, &s->store_id, err);
        s->cluster_id = pd_cluster_id(s->opts.pd);
        if (rc == BS_OK) {
            cluster_store_ident id = {s->cluster_id, s->store_id};
            cluster_store_ident_encode(&v, &id);
            bs_buf_reset(&v);
            cluster_store_ident_encode(&v, &id);
            kv_batch_put(b, KV_CF_RAFT, bs_buf_slice(&k), bs_buf_slice(&v));
            rc = write_sync(s->engine, b, err);
        }
        if (rc == BS_OK && s->opts.bootstrap && !pd_is_bootstrapped(s->opts.pd))
            rc = bootstrap_cluster(s, b, err);
    }
    bs_buf_free(&k);
    bs_buf_free(&v);
    return rc;
}

static int load_regions(cluster_store *s, bs_err *err)
{
    bs_buf lo = BS_BUF_INIT, hi = BS_BUF_INIT;
    cluster_key_region_state_range(&lo, &hi);
    kv_iter *it = kv_iter_new(s->engine, NULL, KV_CF_RAFT, bs_buf_slice(&lo), bs_buf_slice(&hi));
    bs_buf_free(&lo);
    bs_buf_free(&hi);
    int rc = BS_OK;
    cluster_region r;
    pd_region_init(&r);
    for (kv_iter_seek_to_first(it); rc == BS_OK && kv_iter_valid(it); kv_iter_next(it)) {
        cluster_peer_state ps;
        rc = cluster_region_state_decode(kv_iter_value(it), &ps, &r, err);
        if (rc != BS_OK || ps == CLUSTER_PEER_TOMBSTONE)
            continue;
        cluster_fsm *f;
        rc = cluster_fsm_new(s, &r, &f, err);
        if (rc == BS_OK)
            cluster_store_add_fsm(s, f);
    }
    if (rc == BS_OK)
        rc = kv_iter_status(it, err);
    pd_region_deinit(&r);
    kv_iter_free(it);
    return rc;
}

static void free_store(cluster_store *s)
{
    cluster_worker_stop(s); /* joins it when running, frees what is still queued */
    for (size_t i = 0; i < s->n_fsms; i++)
        cluster_fsm_free(s->fsms[i]);
    bs_free(s->fsms);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->done_cv);
    pthread_cond_destroy(&s->worker_cv);
    bs_free(s);
}

int cluster_store_open(const cluster_store_options *opts, cluster_store **out, bs_err *err)
{
    if (!opts || !opts->engine || !opts->pd || opts->tick_interval_ms == 0 ||
        opts->heartbeat_ticks < 1 || opts->election_ticks <= opts->heartbeat_ticks ||
        opts->region_split_size == 0 || opts->batch_split_limit == 0 ||
        (opts->region_max_size != 0 && opts->region_max_size < opts->region_split_size))
        return bs_err_setf(err, BS_EINVAL, "cluster_store_open: bad options");
    cluster_store *s = bs_calloc(1, sizeof(*s));
    s->opts = *opts;
    if (s->opts.log_gc_threshold == 0)
        s->opts.log_gc_threshold = 1;
    if (s->opts.log_gc_tick_ticks == 0)
        s->opts.log_gc_tick_ticks = 1;
    if (s->opts.region_max_size == 0) /* TiKV: region-split-size / 2 * 3 */
        s->opts.region_max_size = s->opts.region_split_size / 2 * 3;
    if (s->opts.region_max_size < s->opts.region_split_size)
        s->opts.region_max_size = s->opts.region_split_size; /* split size 1 */
    if (s->opts.split_check_diff == 0)
        s->opts.split_check_diff = s->opts.region_split_size / 16;
    if (s->opts.split_check_diff == 0)
        s->opts.split_check_diff = 1;
    s->engine = opts->engine;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->done_cv, NULL);
    pthread_cond_init(&s->worker_cv, NULL);
    s->m_fsync = bs_counter_register("basalt_raftstore_fsync_total",
                                     "Synced raft log write batches", "");
    s->m_rounds = bs_counter_register("basalt_raftstore_rounds_total",
                                      "Raftstore rounds that did work", "");
    s->m_proposals = bs_counter_register("basalt_raft_proposals_total",
                                         "Entries proposed to raft", "");
    double bounds[20];
    bs_histogram_exp_bounds(0.00005, 2, 20, bounds);
    s->m_append = bs_histogram_register("basalt_raftstore_append_log_duration_seconds",
                                        "Raft log write batch latency", "", bounds, 20);
    s->m_apply = bs_histogram_register("basalt_raftstore_apply_duration_seconds",
                                       "Apply write latency per region round", "", bounds, 20);

    kv_batch *b = kv_batch_new();
    int rc = load_ident(s, b, err);
    kv_batch_free(b);
    if (rc == BS_OK)
        rc = load_regions(s, err);
    if (rc != BS_OK) {
        free_store(s);
        return bs_err_wrapf(err, "cluster_store_open");
    }
    if (pd_is_bootstrapped(s->opts.pd)) {
        bs_err pe;
        if (cluster_store_put_to_pd(s, &pe) == BS_OK)
            s->pd_registered = true;
        else /* the worker registers it with its first store heartbeat */
            BS_LOG_WARN("put store failed", "store_id=%llu err=\"%s\"",
                        (unsigned long long)s->store_id, pe.msg);
    }
    s->last_tick_ns = bs_clock_mono_ns();
    s->next_split_check_ns = s->last_tick_ns + (int64_t)s->opts.split_check_tick_ms * 1000000;
    s->next_region_hb_ns = s->last_tick_ns + (int64_t)s->opts.pd_heartbeat_tick_ms * 1000000;
    s->next_store_hb_ns = s->last_tick_ns; /* the first one at once, as TiKV registers */
    s->started_s = s->store_hb_start_s = bs_clock_wall_ms() / 1000;
    rc = cluster_worker_start(s, err);
    if (rc != BS_OK) {
        free_store(s);
        return rc;
    }
    if (pthread_create(&s->thread, NULL, cluster_raftstore_main, s) != 0) {
        free_store(s); /* stops the worker */
        return bs_err_setf(err, BS_EINTERNAL, "cluster_store_open: cannot start raftstore");
    }
    s->thread_started = true;
    (void)pthread_setname_np(s->thread, "raftstore"); /* cosmetic */
    *out = s;
    return BS_OK;
}

void cluster_store_close(cluster_store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->thread_started)
        pthread_join(s->thread, NULL);
    /* Nothing is left to consume the worker's results; what it was doing is dropped. */
    cluster_worker_stop(s);
    cluster_cb *cbs = NULL;
    bs_err e;
    bs_err_setf(&e, BS_EPROPOSAL_DROPPED, "store closed");
    while (s->prop_head) {
        cluster_proposal *p = s->prop_head;
        s->prop_head = p->next;
        if (!p->admin)
            cluster_cb_push(&cbs, p->done, p->done_arg, BS_EPROPOSAL_DROPPED, &e);
        cluster_proposal_free(p);
    }
    while (s->read_head) {
        cluster_read *r = s->read_head;
        s->read_head = r->next;
        cluster_cb_push_read(&cbs, r->done, r->arg, BS_EPROPOSAL_DROPPED, &e);
        bs_free(r);
    }
    while (s->msg_head) {
        cluster_msg_node *m = s->msg_head;
        s->msg_head = m->next;
        raft_msg_deinit(&m->m.msg);
        bs_free(m);
    }
    while (s->orphans) {
        cluster_msg_node *m = s->orphans;
        s->orphans = m->next;
        raft_msg_deinit(&m->m.msg);
        bs_free(m);
    }
    s->orphans_tail = NULL;
    s->n_orphans = 0;
    for (cluster_create_req *c = s->create_head; c; c = c->next) {
        c->rc = bs_err_setf(&c->err, BS_ESTATE, "store closed");
        c->done = true;
    }
    for (size_t i = 0; i < s->n_fsms; i++)
        cluster_fsm_fail_all(s->fsms[i], BS_EPROPOSAL_DROPPED, "store closed", &cbs);
    cluster_cb_run(cbs);
    free_store(s);
}

/* ---- regions and messages -------------------------------------------------------------- */

int cluster_store_create_region(cluster_store *s, const cluster_region *region, bs_err *err)
{
    if (!cluster_region_find_store_peer(region, s->store_id))
        return bs_err_setf(err, BS_EINVAL, "region %llu has no peer on store %llu",
                           (unsigned long long)region->id, (unsigned long long)s->store_id);
    cluster_create_req req;
    memset(&req, 0, sizeof(req));
    pd_region_init(&req.region);
    pd_region_copy(&req.region, region);
    pthread_mutex_lock(&s->mu);
    req.next = s->create_head;
    s->create_head = &req;
    pthread_cond_signal(&s->cv);
    while (!req.done)
        pthread_cond_wait(&s->done_cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    pd_region_deinit(&req.region);
    if (req.rc != BS_OK && err)
        *err = req.err;
    return req.rc;
}

/* raft_msg_clone shares entry bytes through plain (not atomic) reference counts: right
 * within one thread, a data race across two. A delivered message crosses from the caller's
 * thread (another store's raftstore, a network thread) to this store's raftstore, so it
 * gets private copies: raft_entry_ref copies an entry whose blk is NULL. */
static void clone_private(raft_msg *dst, const raft_msg *src)
{
    raft_msg tmp = *src;
    raft_entry *ents = NULL;
    raft_snapshot snap;
    if (src->n_entries > 0) {
        ents = bs_malloc(src->n_entries * sizeof(raft_entry));
        for (size_t i = 0; i < src->n_entries; i++) {
            ents[i] = src->entries[i];
            ents[i].blk = NULL;
        }
        tmp.entries = ents;
    }
    if (src->snapshot) {
        snap = *src->snapshot;
        snap.blk = NULL;
        tmp.snapshot = &snap;
    }
    raft_msg_clone(dst, &tmp);
    bs_free(ents);
}

void cluster_store_deliver(cluster_store *s, const cluster_raft_message *m)
{
    cluster_msg_node *n = bs_calloc(1, sizeof(*n));
    n->m = *m;
    clone_private(&n->m.msg, &m->msg);
    pthread_mutex_lock(&s->mu);
    if (s->msg_tail)
        s->msg_tail->next = n;
    else
        s->msg_head = n;
    s->msg_tail = n;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int cluster_store_region_by_key(cluster_store *s, bs_slice key, cluster_region *out)
{
    int rc = BS_NOTFOUND;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n_fsms; i++) {
        if (cluster_region_contains(&s->fsms[i]->region, key)) {
            pd_region_copy(out, &s->fsms[i]->region);
            rc = BS_OK;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int cluster_store_region_by_id(cluster_store *s, uint64_t region_id, cluster_region *out)
{
    pthread_mutex_lock(&s->mu);
    cluster_fsm *f = cluster_store_find(s, region_id);
    if (f)
        pd_region_copy(out, &f->region);
    pthread_mutex_unlock(&s->mu);
    return f ? BS_OK : BS_NOTFOUND;
}

size_t cluster_store_region_count(cluster_store *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_fsms;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int cluster_store_peer_status(cluster_store *s, uint64_t region_id, cluster_peer_status *out)
{
    pthread_mutex_lock(&s->mu);
    cluster_fsm *f = cluster_store_find(s, region_id);
    if (f) {
        memset(out, 0, sizeof(*out));
        out->is_leader = f->v_leader;
        out->leader_peer_id = f->v_leader_id;
        out->term = f->v_term;
        out->commit = f->v_commit;
        out->applied = f->v_applied;
        /* The storage fields are the raftstore's; read under mu they may be one round
         * old, which is all a status report promises. */
        out->truncated_index = f->rs.apply.truncated_index;
        out->first_index = f->rs.apply.truncated_index + 1;
        out->last_index = f->rs.last_index;
        out->size_known = f->v_size_known;
        out->approximate_size = f->v_approx_size;
        out->approximate_keys = f->v_approx_keys;
    }
    pthread_mutex_unlock(&s->mu);
    return f ? BS_OK : BS_NOTFOUND;
}

int cluster_store_campaign(cluster_store *s, uint64_t region_id)
{
    /* Campaigning touches the raft node: queue it as a local MsgHup. */
    pthread_mutex_lock(&s->mu);
    cluster_fsm *f = cluster_store_find(s, region_id);
    uint64_t pid = f ? f->peer_id : 0;
    pthread_mutex_unlock(&s->mu);
    if (!f)
        return BS_NOTFOUND;
    cluster_raft_message m;
    memset(&m, 0, sizeof(m));
    m.region_id = region_id;
    m.to_peer.id = pid;
    m.from_peer.id = pid;
    m.msg.type = RAFT_MSG_HUP;
    m.msg.to = pid;
    m.msg.from = pid;
    cluster_store_deliver(s, &m);
    return BS_OK;
}

void cluster_store_get_stats(cluster_store *s, cluster_store_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->pub_stats;
    pthread_mutex_unlock(&s->mu);
}
