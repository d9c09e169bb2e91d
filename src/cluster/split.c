/* split.c -- Region split: the size check, the BatchSplit proposal and its apply.
 *
 * TiKV's flow (raftstore's split_check worker, fsm/peer.rs on_split_region_check_tick and
 * on_ready_split_region, fsm/apply.rs exec_batch_split), on Basalt's two threads:
 *   1. apply counts the key + value bytes each write adds to its Region (size_diff);
 *   2. on the split-check tick (worker.c) a leader that grew by split_check_diff, or was
 *      never measured, queues a check for the worker thread, unless its last measurement
 *      plus every byte written since is still below region_max_size;
 *   3. the worker scans the Region over a snapshot (memtables included: RocksDB's
 *      approximate sizes count flushed files only) and, for a Region above
 *      region_max_size, picks split keys every ~region_split_size. A split key is always
 *      the region-key form of a user key (MCE(key): CF default/write keys lose their ts
 *      suffix, lock keys have none), so no split falls between two versions of a key.
 *      It then asks PD for ids (AskBatchSplit may wait on PD's disk: never the raftstore);
 *   4. the raftstore proposes one BatchSplit entry when the Region is still the one that
 *      was scanned (same epoch) and this peer still leads;
 *   5. every replica applies it in the entry's apply write: the Region keeps the right-most
 *      range (right-derive-when-split), every resulting Region gets the parent's conf_ver
 *      and version + number of new Regions, new Regions start at index 5 / term 5 as a
 *      bootstrapped one does. After the write their peers start (campaigning at once
 *      where the parent led) and the leader reports the split to PD from the worker.
 * Writes accepted under the old epoch can no longer apply (EpochNotMatch at apply, as in
 * TiKV): the split fails them at once rather than when their entries come up, and raises
 * the fence so nothing chains on them meanwhile (cluster_int.h, cluster_fsm.fence). */
#include <string.h>

#include "cluster/cluster_int.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"

void cluster_split_result_free(cluster_split_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_split; i++)
        bs_buf_free(&r->split_keys[i]);
    bs_free(r->split_keys);
    pd_split_ids_deinit(&r->ids);
    bs_free(r);
}

/* ---- the check (worker thread) ---------------------------------------------------------- */

/* The region-key form of a data key of cf: MCE(key) without the ts (PROTOCOL.md §4.3). A
 * key that is not an MVCC key (none is written today) counts as its own boundary. */
static bs_slice region_key_of(kv_cf cf, bs_slice key)
{
    bs_slice enc;
    if (cf != KV_CF_LOCK && kv_mvcc_key_split(key, &enc, NULL, NULL) == BS_OK)
        return enc;
    return key;
}

/* TiKV's SizeSplitChecker, one user key (all its versions in every CF) at a time: a new
 * piece starts at the key whose bytes would take the current piece past split_size. */
typedef struct picker {
    uint64_t split_size, max_size;
    size_t limit;
    bs_slice start; /* the Region's start: every split key lies strictly above it */
    uint64_t total, keys;
    uint64_t acc;       /* bytes of the current (last) piece */
    bs_buf *split_keys; /* n, strictly ascending */
    size_t n, cap;
} picker;

static void pick_group(picker *p, bs_slice key, uint64_t size)
{
    p->total += size;
    p->keys++;
    bs_slice floor = p->n ? bs_buf_slice(&p->split_keys[p->n - 1]) : p->start;
    if (p->n < p->limit && p->acc > 0 && p->acc + size > p->split_size &&
        bs_slice_cmp(key, floor) > 0) {
        if (p->n == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 4;
            p->split_keys = bs_realloc(p->split_keys, p->cap * sizeof(bs_buf));
        }
        bs_buf_init(&p->split_keys[p->n]);
        bs_buf_set(&p->split_keys[p->n], key.ptr, key.len);
        p->n++;
        p->acc = 0;
    }
    p->acc += size;
}

static bool worker_stopping(cluster_store *s)
{
    pthread_mutex_lock(&s->mu);
    bool stop = s->worker_stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

int cluster_split_scan(cluster_store *s, const cluster_region *r, cluster_split_result *res,
                       bs_err *err)
{
    static const kv_cf cfs[3] = {KV_CF_DEFAULT, KV_CF_WRITE, KV_CF_LOCK};
    kv_snapshot *snap = kv_snapshot_new(s->engine);
    kv_iter *its[3];
    for (int i = 0; i < 3; i++) {
        /* A sweep iterator: the walk reads the whole Region every split-check tick while it
         * grows, and must not push the foreground reads' blocks out of the cache (TiKV's
         * split checker reads with fill_cache off too). */
        its[i] = kv_iter_new_sweep(s->engine, snap, cfs[i], bs_buf_slice(&r->start_key),
                                   bs_buf_slice(&r->end_key));
        kv_iter_seek_to_first(its[i]);
    }
    picker p;
    memset(&p, 0, sizeof(p));
    p.split_size = s->opts.region_split_size;
    p.max_size = s->opts.region_max_size;
    p.limit = s->opts.batch_split_limit;
    p.start = bs_buf_slice(&r->start_key);
    bs_buf cur = BS_BUF_INIT;
    bool have = false, stopped = false;
    uint64_t gsize = 0, steps = 0;
    /* A merge of the three CFs in region-key order, so every version of a key in every CF
     * lands in one group (MCE is prefix-free: MCE(a) ‖ ts sorts as MCE(a) does). */
    for (;;) {
        int best = -1;
        bs_slice best_rk = BS_SLICE_NULL;
        for (int i = 0; i < 3; i++) {
            if (!kv_iter_valid(its[i]))
                continue;
            bs_slice rk = region_key_of(cfs[i], kv_iter_key(its[i]));
            if (best < 0 || bs_slice_cmp(rk, best_rk) < 0) {
                best = i;
                best_rk = rk;
            }
        }
        if (best < 0)
            break;
        if (++steps % 4096 == 0 && worker_stopping(s)) {
            stopped = true;
            break;
        }
        if (!have || !bs_slice_eq(best_rk, bs_buf_slice(&cur))) {
            if (have)
                pick_group(&p, bs_buf_slice(&cur), gsize);
            bs_buf_set(&cur, best_rk.ptr, best_rk.len);
            have = true;
            gsize = 0;
        }
        gsize += kv_iter_key(its[best]).len + kv_iter_value(its[best]).len;
        kv_iter_next(its[best]);
    }
    if (have && !stopped)
        pick_group(&p, bs_buf_slice(&cur), gsize);
    bs_buf_free(&cur);
    int rc = BS_OK;
    for (int i = 0; i < 3; i++) {
        if (rc == BS_OK && !stopped)
            rc = kv_iter_status(its[i], err);
        kv_iter_free(its[i]);
    }
    kv_snapshot_free(snap);
    if (stopped)
        rc = bs_err_setf(err, BS_ESTATE, "store closing");
    /* Split only a Region above region_max_size, and keep a last piece only if it is big
     * enough not to be merged back into its neighbour (TiKV's rule); otherwise the last
     * two pieces stay together. */
    if (rc == BS_OK && p.n > 0 && (p.total <= p.max_size || p.acc + p.split_size < p.max_size)) {
        size_t keep = p.total <= p.max_size ? 0 : p.n - 1;
        for (size_t i = keep; i < p.n; i++)
            bs_buf_free(&p.split_keys[i]);
        p.n = keep;
    }
    if (rc != BS_OK) {
        for (size_t i = 0; i < p.n; i++)
            bs_buf_free(&p.split_keys[i]);
        bs_free(p.split_keys);
        return rc;
    }
    res->measured = true;
    res->size = p.total;
    res->keys = p.keys;
    res->split_keys = p.split_keys;
    res->n_split = p.n;
    if (p.n == 0) {
        bs_free(p.split_keys);
        res->split_keys = NULL;
    }
    return BS_OK;
}

/* ---- proposing (raftstore thread) -------------------------------------------------------- */

static bool epoch_eq(const cluster_epoch *a, const cluster_epoch *b)
{
    return a->version == b->version && a->conf_ver == b->conf_ver;
}

/* keys[0..n) strictly ascending and strictly inside r (above start, below a non-empty end). */
static bool keys_fit(const cluster_region *r, const bs_slice *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bs_slice lo = i ? keys[i - 1] : bs_buf_slice(&r->start_key);
        if (keys[i].len == 0 || bs_slice_cmp(keys[i], lo) <= 0)
            return false;
    }
    return n == 0 || r->end_key.len == 0 ||
           bs_slice_cmp(keys[n - 1], bs_buf_slice(&r->end_key)) < 0;
}

/* Ends a split result that will not be proposed: a manual split's caller hears why. */
static void drop_result(cluster_split_result *res, int code, const bs_err *why, cluster_cb **cbs)
{
    if (res->done)
        cluster_cb_push(cbs, res->done, res->done_arg, code, why);
    cluster_split_result_free(res);
}

void cluster_split_on_result(cluster_store *s, cluster_split_result *res, cluster_cb **cbs)
{
    bs_err why;
    cluster_fsm *f = cluster_store_find(s, res->region_id);
    if (!f) {
        bs_err_setf(&why, BS_NOTFOUND, "region %llu not found", (unsigned long long)res->region_id);
        drop_result(res, BS_NOTFOUND, &why, cbs);
        return;
    }
    bool same = epoch_eq(&res->epoch, &f->region.epoch);
    if (!res->manual) {
        f->split.checking = false;
        if (res->measured && same) {
            f->split.size_known = true;
            f->split.approx_size = res->size;
            /* What was written before the scan was scheduled is in res->size now. */
            BS_ASSERT(f->split.scan_diff >= f->split.scan_queued);
            f->split.scan_diff -= f->split.scan_queued;
            f->split.scan_queued = 0;
            f->split.approx_keys = res->keys;
            f->split.want_split = res->want_split;
        }
    } else if (res->code != BS_OK) {
        drop_result(res, res->code, &res->err, cbs); /* PD gave no ids */
        return;
    }
    if (res->n_split == 0) {
        BS_ASSERT(!res->manual); /* split_region refuses n == 0 */
        cluster_split_result_free(res);
        return;
    }
    raft_status st;
    raft_get_status(f->raft, &st);
    if (!same || st.role != RAFT_LEADER) {
        BS_LOG_INFO("split result is stale", "region_id=%llu version=%llu now=%llu leader=%d",
                    (unsigned long long)f->region_id, (unsigned long long)res->epoch.version,
                    (unsigned long long)f->region.epoch.version, (int)(st.role == RAFT_LEADER));
        int code = same ? BS_ENOT_LEADER : BS_ESTATE;
        bs_err_setf(&why, code, "region %llu: %s before the split was proposed",
                    (unsigned long long)f->region_id,
                    same ? "leadership moved" : "the region changed");
        drop_result(res, code, &why, cbs);
        return;
    }
    cluster_batch_split bs;
    memset(&bs, 0, sizeof(bs));
    bs.right_derive = true;
    bs.n = res->n_split;
    bs.keys = bs_calloc(bs.n, sizeof(bs_slice));
    for (size_t i = 0; i < bs.n; i++)
        bs.keys[i] = bs_buf_slice(&res->split_keys[i]);
    /* A check scanned exactly this range and split_region checked its keys against it
     * (same epoch, so the same range): they fit. */
    BS_ASSERT(keys_fit(&f->region, bs.keys, bs.n));
    if (res->ids.count != bs.n || res->ids.peers_per_split != f->region.n_peers) {
        BS_LOG_WARN("split ids do not match the region", "region_id=%llu count=%zu peers=%zu",
                    (unsigned long long)f->region_id, res->ids.count, res->ids.peers_per_split);
        bs_free(bs.keys);
        bs_err_setf(&why, BS_EINTERNAL, "region %llu: PD's split ids do not fit the region",
                    (unsigned long long)f->region_id);
        drop_result(res, BS_EINTERNAL, &why, cbs);
        return;
    }
    bs.region_ids = res->ids.region_ids;
    bs.peers_per_split = res->ids.peers_per_split;
    bs.peer_ids = res->ids.peer_ids;

    cluster_proposal *p = bs_calloc(1, sizeof(*p));
    p->region_id = f->region_id;
    /* A check's split is the store's own business (no callback); a manual one answers. */
    p->admin = res->done == NULL;
    p->done = res->done;
    p->done_arg = res->done_arg;
    p->start_ns = bs_clock_mono_ns();
    pthread_mutex_lock(&s->mu);
    p->gen = f->gen;
    p->id = ++s->next_proposal_id;
    pthread_mutex_unlock(&s->mu);
    cluster_cmd_header h = {CLUSTER_CMD_BATCH_SPLIT, p->id, f->region.epoch};
    cluster_cmd_encode_batch_split(&p->data, &h, &bs);
    bs_free(bs.keys); /* the id arrays stay res's */
    res->done = NULL; /* p answers from now on */
    if (p->data.len > s->opts.raft_entry_max_size) {
        BS_LOG_WARN("batch split entry too large", "region_id=%llu size=%zu",
                    (unsigned long long)f->region_id, p->data.len);
        if (!p->admin) {
            bs_err_setf(&why, BS_ETOOLARGE, "region %llu: split entry of %zu bytes is too large",
                        (unsigned long long)f->region_id, p->data.len);
            cluster_cb_push(cbs, p->done, p->done_arg, BS_ETOOLARGE, &why);
        }
        cluster_proposal_free(p);
        cluster_split_result_free(res);
        return;
    }
    if (cluster_fsm_propose(f, p, cbs) == BS_OK) {
        f->split.wait_index = p->index; /* p is pending: the list owns it */
        BS_LOG_INFO("propose batch split", "region_id=%llu split_count=%zu index=%llu manual=%d",
                    (unsigned long long)f->region_id, res->n_split,
                    (unsigned long long)f->split.wait_index, (int)res->manual);
    }
    cluster_split_result_free(res);
}

/* ---- apply (raftstore thread) ------------------------------------------------------------ */

int cluster_split_apply(cluster_fsm *f, const cluster_cmd_header *h, bs_slice body, uint64_t index,
                        kv_batch *b, cluster_split_done **done, cluster_cb **cbs, bs_err *ce,
                        bs_err *err)
{
    cluster_store *s = f->store;
    cluster_batch_split bs;
    memset(&bs, 0, sizeof(bs));
    int rc = cluster_cmd_decode_batch_split(body, &bs, err);
    if (rc != BS_OK)
        return rc;
    const cluster_region *r = &f->region;
    /* Every check below depends only on the log and the Region, so every replica skips
     * the same splits. */
    if (!epoch_eq(&h->epoch, &r->epoch))
        rc = bs_err_setf(
            ce, BS_ESTATE, "region %llu: split epoch {%llu, %llu} is not the region's {%llu, %llu}",
            (unsigned long long)f->region_id, (unsigned long long)h->epoch.conf_ver,
            (unsigned long long)h->epoch.version, (unsigned long long)r->epoch.conf_ver,
            (unsigned long long)r->epoch.version);
    else if (bs.peers_per_split != r->n_peers)
        rc = bs_err_setf(ce, BS_ESTATE, "region %llu: split names %zu peers, region has %zu",
                         (unsigned long long)f->region_id, bs.peers_per_split, r->n_peers);
    else if (!keys_fit(r, bs.keys, bs.n))
        rc = bs_err_setf(ce, BS_ESTATE, "region %llu: split keys not inside the region",
                         (unsigned long long)f->region_id);
    for (size_t k = 0; rc == BS_OK && k < bs.n; k++)
        for (size_t j = 0; j <= k; j++)
            if (bs.region_ids[k] == r->id || (j < k && bs.region_ids[j] == bs.region_ids[k]))
                rc = bs_err_setf(ce, BS_ESTATE, "region %llu: split reuses region id %llu",
                                 (unsigned long long)f->region_id,
                                 (unsigned long long)bs.region_ids[k]);
    if (rc != BS_OK) {
        cluster_batch_split_deinit(&bs);
        return rc;
    }

    /* The resulting Regions, left to right. With right-derive the new ones take
     * [start, k1), [k1, k2) ... and the Region keeps [kn, end); without it the Region
     * keeps [start, k1) and the new ones follow. */
    size_t n = bs.n + 1;
    cluster_epoch ep = {r->epoch.conf_ver, r->epoch.version + bs.n};
    cluster_region *out = bs_calloc(n, sizeof(cluster_region));
    cluster_peer *peers = bs_calloc(r->n_peers, sizeof(cluster_peer));
    size_t derived = bs.right_derive ? n - 1 : 0;
    for (size_t i = 0, k = 0; i < n; i++) {
        bs_slice lo = i == 0 ? bs_buf_slice(&r->start_key) : bs.keys[i - 1];
        bs_slice hi = i == n - 1 ? bs_buf_slice(&r->end_key) : bs.keys[i];
        pd_region_init(&out[i]);
        if (i == derived) {
            pd_region_set(&out[i], r->id, lo, hi, ep, r->peers, r->n_peers);
            continue;
        }
        for (size_t j = 0; j < r->n_peers; j++) {
            peers[j] = r->peers[j];
            peers[j].id = bs.peer_ids[k * bs.peers_per_split + j];
        }
        pd_region_set(&out[i], bs.region_ids[k], lo, hi, ep, peers, r->n_peers);
        k++;
    }
    bs_free(peers);
    cluster_batch_split_deinit(&bs);

    /* Durable with this entry's apply state: the new Regions' initial raft, apply and
     * region states, and the Region's new range and epoch. */
    for (size_t i = 0; i < n; i++) {
        if (i == derived)
            continue;
        /* Ids come from PD and peers are created only by bootstrap, create_region and
         * split, so a new Region cannot exist here yet. */
        BS_ASSERT(cluster_store_find(s, out[i].id) == NULL);
        cluster_rs_write_initial(b, &out[i]);
    }
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    cluster_key_region_state(&k, f->region_id);
    cluster_region_state_encode(&v, CLUSTER_PEER_NORMAL, &out[derived]);
    kv_batch_put(b, KV_CF_RAFT, bs_buf_slice(&k), bs_buf_slice(&v));
    bs_buf_free(&k);
    bs_buf_free(&v);

    /* The new epoch and the generation bump are published together: a proposal accepted
     * from now on is checked against the new range, one accepted before fails. */
    pthread_mutex_lock(&s->mu);
    pd_region_copy(&f->region, &out[derived]);
    f->gen++;
    f->fence = true;
    s->any_fence = true;
    pthread_mutex_unlock(&s->mu);
    bs_err fe;
    bs_err_setf(&fe, BS_ESTATE, "region %llu: epoch not match (split at index %llu)",
                (unsigned long long)f->region_id, (unsigned long long)index);
    cluster_fsm_fail_pending_after(f, index, BS_ESTATE, &fe, cbs);

    /* Measure every resulting Region again soon: one may still be too large. */
    f->split.size_known = false;
    f->split.want_split = false;
    f->split.approx_size = f->split.approx_keys = 0;
    f->split.wait_index = 0;
    s->stats.splits++;

    raft_status st;
    raft_get_status(f->raft, &st);
    cluster_split_done *d = bs_calloc(1, sizeof(*d));
    d->regions = out;
    d->n = n;
    d->leader = st.role == RAFT_LEADER;
    d->next = *done;
    *done = d;
    return BS_OK;
}

void cluster_split_finish(cluster_fsm *f, cluster_split_done *done)
{
    cluster_store *s = f->store;
    /* *done is newest first; start the oldest split's Regions first. */
    cluster_split_done *rev = NULL;
    while (done) {
        cluster_split_done *d = done;
        done = d->next;
        d->next = rev;
        rev = d;
    }
    while (rev) {
        cluster_split_done *d = rev;
        rev = d->next;
        for (size_t i = 0; i < d->n; i++) {
            const cluster_region *nr = &d->regions[i];
            if (nr->id == f->region_id || cluster_store_find(s, nr->id))
                continue; /* the derived Region, or one a later split of this round made */
            cluster_fsm *nf = NULL;
            bs_err e;
            int rc = cluster_fsm_new(s, nr, &nf, &e);
            if (rc != BS_OK) {
                /* Its state was written a moment ago: the engine is failing. */
                BS_LOG_FATAL("cannot start split region", "region_id=%llu err=\"%s\"",
                             (unsigned long long)nr->id, e.msg);
                BS_ASSERT(rc == BS_OK);
            }
            raft_conf_state cs;
            cluster_region_conf_state(nr, &cs);
            bool lone = cs.n_voters == 1 && cs.voters[0] == nf->peer_id;
            /* The parent's leader campaigns its new peers at once (TiKV), so clients find
             * a leader without an election timeout; a lone voter already did. It campaigns
             * as a leadership transfer (MsgTimeoutNow: no pre-vote, past the voters'
             * boot lease): the other stores' new peers are fresh and would otherwise
             * refuse every vote for an election timeout to protect a lease they never
             * granted. No lease is at stake: the parent, whose lease covered this range,
             * gave it up when it applied the split just now. */
            if (d->leader && !lone) {
                raft_status nst;
                raft_get_status(nf->raft, &nst);
                raft_msg m;
                memset(&m, 0, sizeof(m));
                m.type = RAFT_MSG_TIMEOUT_NOW;
                m.to = m.from = nf->peer_id;
                m.term = nst.term;
                bs_err ce;
                if (raft_step(nf->raft, &m, &ce) != BS_OK) /* the election timeout then */
                    BS_LOG_WARN("split region campaign failed", "region_id=%llu err=\"%s\"",
                                (unsigned long long)nr->id, ce.msg);
            }
            cluster_store_add_fsm(s, nf);
            s->peers_created = true;
        }
        BS_LOG_INFO("region split", "region_id=%llu new_regions=%zu version=%llu leader=%d",
                    (unsigned long long)f->region_id, d->n - 1,
                    (unsigned long long)f->region.epoch.version, (int)d->leader);
        if (d->leader) {
            cluster_task *t = bs_calloc(1, sizeof(*t));
            t->kind = CLUSTER_TASK_REPORT_SPLIT;
            pd_region_info_init(&t->hb);
            t->regions = d->regions;
            t->n_regions = d->n;
            cluster_worker_push(s, t);
            cluster_fsm_heartbeat(f);
        } else {
            for (size_t i = 0; i < d->n; i++)
                pd_region_deinit(&d->regions[i]);
            bs_free(d->regions);
        }
        bs_free(d);
    }
}
