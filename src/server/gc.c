/* gc.c -- one bounded MVCC GC pass, its deletes proposed through Raft Region by Region.
 *
 * txn_gc_pass builds one batch of deletes over RawKV keys from a cursor, and that batch may
 * span Regions. A Raft entry belongs to one Region (cluster_store_propose refuses keys
 * outside it), so the batch is split here: its operations come in key order, each goes to
 * the batch of the Region that contains it, and each Region's batch is proposed on its own
 * through txn_cluster_propose (which routes by the first key, at the Region's current
 * epoch). txn's GC invariant -- a key's versions are deleted together, never only the
 * newer ones -- survives the split because a Region boundary never falls between two
 * versions of one key (DESIGN.md "Data model"). If one Region's proposal fails, the others
 * may still apply: each of them deletes whole version tails, so that is safe, and the next
 * sweep finds what is left. */
#include <string.h>

#include "common/assert.h"
#include "common/clock.h"
#include "server/srv_int.h"

typedef struct gc_part {
    uint64_t region_id;
    bs_buf start, end; /* the Region's bounds (end empty = +inf) */
    kv_batch *batch;
    size_t deletes;
} gc_part;

typedef struct gc_split {
    srv_node *n;
    gc_part *parts;
    size_t n_parts, cap;
    int rc;
    bs_err *err;
} gc_split;

typedef struct gc_done_arg {
    srv_node *n;
    size_t deletes;
} gc_done_arg;

static bool part_contains(const gc_part *p, bs_slice key)
{
    /* Data keys are MCE(key) ‖ ts and bounds are MCE(key): memcomparable encodings are
     * prefix-free, so comparing the whole data key against a bound orders it exactly as
     * its MCE part is ordered (a Region holds every version of its keys). */
    if (bs_slice_cmp(key, bs_buf_slice(&p->start)) < 0)
        return false;
    return p->end.len == 0 || bs_slice_cmp(key, bs_buf_slice(&p->end)) < 0;
}

static int split_op(void *arg, const kv_op *op)
{
    gc_split *s = arg;
    /* txn_gc_pass writes only point deletes of CF default. */
    if (op->type != KV_OP_DELETE || op->cf != KV_CF_DEFAULT) {
        s->rc = bs_err_setf(s->err, BS_EINTERNAL, "GC batch holds an unexpected operation");
        return 1;
    }
    gc_part *p = s->n_parts ? &s->parts[s->n_parts - 1] : NULL;
    if (!p || !part_contains(p, op->key)) {
        cluster_region r;
        pd_region_init(&r);
        if (cluster_store_region_by_key(s->n->store, op->key, &r) != BS_OK) {
            pd_region_deinit(&r);
            s->rc = bs_err_setf(s->err, BS_NOTFOUND, "GC: no local Region holds a key");
            return 1;
        }
        /* Operations come in key order, so a Region is never revisited. */
        for (size_t i = 0; i < s->n_parts; i++)
            BS_ASSERT(s->parts[i].region_id != r.id);
        if (s->n_parts == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 4;
            s->parts = bs_realloc(s->parts, s->cap * sizeof(*s->parts));
        }
        p = &s->parts[s->n_parts++];
        memset(p, 0, sizeof(*p));
        p->region_id = r.id;
        bs_buf_set(&p->start, r.start_key.ptr, r.start_key.len);
        bs_buf_set(&p->end, r.end_key.ptr, r.end_key.len);
        p->batch = kv_batch_new();
        pd_region_deinit(&r);
        BS_ASSERT(part_contains(p, op->key));
    }
    kv_batch_delete(p->batch, KV_CF_DEFAULT, op->key);
    p->deletes++;
    return BS_OK;
}

static void gc_proposal_done(void *arg, int code, const bs_err *err)
{
    gc_done_arg *a = arg;
    srv_gc_proposal_done(a->n, code, a->deletes, err);
    bs_free(a);
}

int srv_gc_run_pass(srv_node *n, uint64_t safe_point, int *proposed, bool *more, bs_err *err)
{
    srv_worker *w = &n->worker;
    kv_batch *b = NULL;
    *proposed = 0;
    *more = false;
    int rc = txn_gc_pass(n->engine, safe_point, (uint64_t)bs_clock_wall_ms(),
                         n->opts.gc_pass_limit, &w->cursor, &b, err);
    if (rc != BS_OK)
        return bs_err_wrapf(err, "GC pass");
    *more = w->cursor.len > 0;
    gc_split s;
    memset(&s, 0, sizeof(s));
    s.n = n;
    s.err = err;
    (void)kv_batch_iterate(b, split_op, &s); /* split_op reports through s.rc */
    kv_batch_free(b);
    rc = s.rc;
    for (size_t i = 0; i < s.n_parts; i++) {
        gc_part *p = &s.parts[i];
        if (rc == BS_OK) {
            gc_done_arg *a = bs_calloc(1, sizeof(*a));
            a->n = n;
            a->deletes = p->deletes;
            /* Counted before proposing: done may run on the raftstore thread before
             * txn_cluster_propose returns. */
            pthread_mutex_lock(&w->mu);
            w->gc_inflight++;
            pthread_mutex_unlock(&w->mu);
            rc = txn_cluster_propose(n->store, p->batch, gc_proposal_done, a, err);
            if (rc == BS_OK) {
                p->batch = NULL; /* the store owns it now */
                (*proposed)++;
            } else {
                pthread_mutex_lock(&w->mu);
                BS_ASSERT(w->gc_inflight > 0);
                w->gc_inflight--;
                pthread_mutex_unlock(&w->mu);
                bs_free(a);
                bs_err_wrapf(err, "GC proposal to region %llu",
                             (unsigned long long)p->region_id);
            }
        }
        kv_batch_free(p->batch);
        bs_buf_free(&p->start);
        bs_buf_free(&p->end);
    }
    bs_free(s.parts);
    if (rc != BS_OK)
        bs_buf_reset(&w->cursor);
    return rc;
}
