/* propose.c -- the checks a request passes before it reaches a Region's raft group:
 * proposals (the txn proposer), lease read checks, ReadIndex requests and manual splits.
 *
 * They run on any thread (network threads included), so they only read the peer's
 * published view under the store mutex and queue work for the raftstore; none touches the
 * disk or a raft node. The checks follow TiKV's order (PROTOCOL.md §3.3): Region present,
 * leader, epoch version, key range, then overload and entry size. Encoding the batch into
 * entry bytes happens here, outside the lock, so the raftstore thread never pays for it. */
#include <stdio.h>
#include <string.h>

#include "cluster/cluster_int.h"
#include "common/clock.h"

static int fill(cluster_region_error *rerr, bs_err *err, cluster_region_error_kind k,
                uint64_t region_id, const char *fmt_detail)
{
    int code = cluster_region_error_code(k);
    if (rerr) {
        cluster_region_error_deinit(rerr);
        rerr->kind = k;
        rerr->region_id = region_id;
    }
    bs_err_setf(err, code, "region %llu: %s%s%s", (unsigned long long)region_id,
                cluster_region_error_kind_name(k), fmt_detail ? ": " : "",
                fmt_detail ? fmt_detail : "");
    return code;
}

/* Most Regions an EpochNotMatch carries. */
#define EPOCH_ERR_MAX_REGIONS 16

static void add_region(cluster_region_error *rerr, const cluster_region *r)
{
    rerr->regions = bs_realloc(rerr->regions, (rerr->n_regions + 1) * sizeof(cluster_region));
    pd_region_init(&rerr->regions[rerr->n_regions]);
    pd_region_copy(&rerr->regions[rerr->n_regions], r);
    rerr->n_regions++;
}

/* The local Region that ends where r starts, or NULL. Caller holds s->mu. */
static const cluster_region *left_neighbour(cluster_store *s, const cluster_region *r)
{
    if (r->start_key.len == 0)
        return NULL;
    for (size_t i = 0; i < s->n_fsms; i++) {
        const cluster_region *o = &s->fsms[i]->region;
        if (bs_slice_eq(bs_buf_slice(&o->end_key), bs_buf_slice(&r->start_key)))
            return o;
    }
    return NULL;
}

/* EpochNotMatch carries the current Region and, as TiKV adds the sibling a split made,
 * the Regions that split off it since the caller's epoch: with right-derive they lie to
 * the left, and each has a version above the caller's (a split gives every resulting
 * Region the parent's version + n). A client refreshes its cache from them; an unrelated
 * neighbour that slips in is harmless (TiKV says as much). Caller holds s->mu. */
static void fill_epoch_regions(cluster_store *s, const cluster_fsm *f, const cluster_epoch *epoch,
                               cluster_region_error *rerr)
{
    add_region(rerr, &f->region);
    const cluster_region *r = &f->region;
    while (rerr->n_regions < EPOCH_ERR_MAX_REGIONS && (r = left_neighbour(s, r)) != NULL &&
           r->epoch.version > epoch->version)
        add_region(rerr, r);
}

/* The checks shared by propose, read check and read index. Caller holds s->mu. */
static int check_region(cluster_store *s, uint64_t region_id, const cluster_epoch *epoch,
                        const bs_slice *keys, size_t n_keys, cluster_fsm **out,
                        cluster_region_error *rerr, bs_err *err)
{
    cluster_fsm *f = cluster_store_find(s, region_id);
    if (!f)
        return fill(rerr, err, CLUSTER_RERR_REGION_NOT_FOUND, region_id, NULL);
    if (!f->v_leader) {
        const cluster_peer *l = f->v_leader_id ? cluster_region_find_peer(&f->region, f->v_leader_id)
                                               : NULL;
        int code = fill(rerr, err, CLUSTER_RERR_NOT_LEADER, region_id, NULL);
        if (rerr && l) {
            rerr->has_leader = true;
            rerr->leader = *l;
        }
        return code;
    }
    if (epoch && epoch->version != f->region.epoch.version) {
        int code = fill(rerr, err, CLUSTER_RERR_EPOCH_NOT_MATCH, region_id, NULL);
        if (rerr)
            fill_epoch_regions(s, f, epoch, rerr);
        return code;
    }
    for (size_t i = 0; i < n_keys; i++) {
        if (keys[i].len == 0 || cluster_region_contains(&f->region, keys[i]))
            continue;
        int code = fill(rerr, err, CLUSTER_RERR_KEY_NOT_IN_REGION, region_id, NULL);
        if (rerr) {
            bs_buf_set(&rerr->key, keys[i].ptr, keys[i].len);
            bs_buf_set(&rerr->start_key, f->region.start_key.ptr, f->region.start_key.len);
            bs_buf_set(&rerr->end_key, f->region.end_key.ptr, f->region.end_key.len);
        }
        return code;
    }
    *out = f;
    return BS_OK;
}

typedef struct key_list {
    bs_slice *v;
    size_t n, cap;
} key_list;

static int collect_key(void *arg, const kv_op *op)
{
    key_list *l = arg;
    if (op->cf == KV_CF_RAFT)
        return BS_OK; /* local keys belong to no Region */
    if (l->n + 2 > l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = bs_realloc(l->v, l->cap * sizeof(bs_slice));
    }
    /* A delete-range is checked by its start only (its exclusive end may equal the
     * Region's end); callers clamp ranges to the Region. */
    l->v[l->n++] = op->key;
    return BS_OK;
}

int cluster_store_propose(cluster_store *s, uint64_t region_id, const cluster_epoch *epoch,
                          kv_batch *batch, cluster_proposal_done_fn done, void *done_arg,
                          cluster_region_error *rerr, bs_err *err)
{
    key_list keys = {NULL, 0, 0};
    (void)kv_batch_iterate(batch, collect_key, &keys); /* collect_key never fails */
    cluster_fsm *f = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = check_region(s, region_id, epoch, keys.v, keys.n, &f, rerr, err);
    cluster_cmd_header h = {CLUSTER_CMD_WRITE, 0, {0, 0}};
    uint64_t gen = 0;
    if (rc == BS_OK && f->fence) {
        /* A split or a failure is being delivered: see cluster_fsm.fence. */
        rc = fill(rerr, err, CLUSTER_RERR_SERVER_IS_BUSY, region_id, "region is changing");
        if (rerr)
            snprintf(rerr->reason, sizeof rerr->reason,
                     "region %llu is changing (split or failed proposal), retry",
                     (unsigned long long)region_id);
    }
    if (rc == BS_OK) {
        h.proposal_id = ++s->next_proposal_id;
        h.epoch = f->region.epoch;
        gen = f->gen;
    }
    pthread_mutex_unlock(&s->mu);
    bs_free(keys.v);
    if (rc != BS_OK)
        return rc;

    cluster_proposal *p = bs_calloc(1, sizeof(*p));
    p->region_id = region_id;
    p->id = h.proposal_id;
    p->gen = gen;
    p->done = done;
    p->done_arg = done_arg;
    p->start_ns = bs_clock_mono_ns();
    cluster_cmd_encode_write(&p->data, &h, batch);
    if (p->data.len > s->opts.raft_entry_max_size) {
        char d[96];
        snprintf(d, sizeof d, "entry size %zu > raft-entry-max-size %llu", p->data.len,
                 (unsigned long long)s->opts.raft_entry_max_size);
        rc = fill(rerr, err, CLUSTER_RERR_RAFT_ENTRY_TOO_LARGE, region_id, d);
        if (rerr) {
            rerr->entry_size = p->data.len;
            rerr->entry_max_size = s->opts.raft_entry_max_size;
        }
        cluster_proposal_free(p);
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    if (s->n_props >= s->opts.max_pending_proposals) {
        pthread_mutex_unlock(&s->mu);
        rc = fill(rerr, err, CLUSTER_RERR_SERVER_IS_BUSY, region_id, "proposal queue full");
        if (rerr)
            snprintf(rerr->reason, sizeof rerr->reason, "raftstore proposal queue is full");
        cluster_proposal_free(p);
        return rc;
    }
    if (s->prop_tail)
        s->prop_tail->next = p;
    else
        s->prop_head = p;
    s->prop_tail = p;
    s->n_props++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    kv_batch_free(batch); /* ours on success; its bytes now live in the entry */
    return BS_OK;
}

int cluster_store_read_check(cluster_store *s, uint64_t region_id, const cluster_epoch *epoch,
                             bs_slice key, cluster_region_error *rerr, bs_err *err)
{
    cluster_fsm *f = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = check_region(s, region_id, epoch, &key, 1, &f, rerr, err);
    if (rc == BS_OK && bs_clock_mono_ns() >= f->v_lease_until_ns) {
        if (rerr)
            cluster_region_error_deinit(rerr);
        rc = bs_err_setf(err, BS_EBUSY, "region %llu: lease not valid, use read index",
                         (unsigned long long)region_id);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int cluster_store_read_index(cluster_store *s, uint64_t region_id, const cluster_epoch *epoch,
                             cluster_read_done_fn done, void *arg, cluster_region_error *rerr,
                             bs_err *err)
{
    cluster_fsm *f = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = check_region(s, region_id, epoch, NULL, 0, &f, rerr, err);
    if (rc == BS_OK) {
        cluster_read *r = bs_calloc(1, sizeof(*r));
        r->region_id = region_id;
        r->id = ++s->next_read_id;
        r->done = done;
        r->arg = arg;
        if (s->read_tail)
            s->read_tail->next = r;
        else
            s->read_head = r;
        s->read_tail = r;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Split keys must be strictly ascending and strictly inside the Region: a key on the start
 * would make an empty Region. Caller holds s->mu. */
static int check_split_keys(const cluster_fsm *f, const bs_slice *keys, size_t n,
                            cluster_region_error *rerr, bs_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && bs_slice_cmp(keys[i], keys[i - 1]) <= 0)
            return bs_err_setf(err, BS_EINVAL, "region %llu: split keys not ascending",
                               (unsigned long long)f->region_id);
        if (cluster_region_contains(&f->region, keys[i]) &&
            bs_slice_cmp(keys[i], bs_buf_slice(&f->region.start_key)) > 0)
            continue;
        int code = fill(rerr, err, CLUSTER_RERR_KEY_NOT_IN_REGION, f->region_id,
                        "split key not strictly inside the region");
        if (rerr) {
            bs_buf_set(&rerr->key, keys[i].ptr, keys[i].len);
            bs_buf_set(&rerr->start_key, f->region.start_key.ptr, f->region.start_key.len);
            bs_buf_set(&rerr->end_key, f->region.end_key.ptr, f->region.end_key.len);
        }
        return code;
    }
    return BS_OK;
}

int cluster_store_split_region(cluster_store *s, uint64_t region_id, const cluster_epoch *epoch,
                               const bs_slice *keys, size_t n, cluster_proposal_done_fn done,
                               void *done_arg, cluster_region_error *rerr, bs_err *err)
{
    if (n == 0 || n > 10000 || !done)
        return bs_err_setf(err, BS_EINVAL, "region %llu: split of %zu keys",
                           (unsigned long long)region_id, n);
    cluster_task *t = bs_calloc(1, sizeof(*t));
    t->kind = CLUSTER_TASK_ASK_SPLIT;
    pd_region_info_init(&t->hb);
    cluster_fsm *f = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = check_region(s, region_id, epoch, NULL, 0, &f, rerr, err);
    if (rc == BS_OK)
        rc = check_split_keys(f, keys, n, rerr, err);
    if (rc == BS_OK)
        pd_region_copy(&t->hb.region, &f->region); /* the epoch PD and apply will check */
    pthread_mutex_unlock(&s->mu);
    if (rc != BS_OK) {
        cluster_task_free(t);
        return rc;
    }
    t->split_keys = bs_calloc(n, sizeof(bs_buf));
    for (size_t i = 0; i < n; i++)
        bs_buf_set(&t->split_keys[i], keys[i].ptr, keys[i].len);
    t->n_split = n;
    t->done = done;
    t->done_arg = done_arg;
    cluster_worker_push(s, t);
    return BS_OK;
}
