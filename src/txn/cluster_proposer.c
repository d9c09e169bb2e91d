/* cluster_proposer.c -- txn's proposer over a local store: commands propose through Raft.
 *
 * DESIGN.md puts txn/ above cluster/: a command runs its action over a snapshot and
 * proposes the resulting batch through the store. The rest of txn/ only sees the
 * txn_propose_fn callback (so its tests can apply batches directly); this file is the one
 * place that binds that callback to cluster_store_propose. */
#include "cluster/cluster.h"
#include "txn/txn_int.h"

/* kv_batch_iterate callback: copies the first data-CF key into arg and stops. */
static int first_key(void *arg, const kv_op *op)
{
    bs_buf *k = arg;
    if (op->cf == KV_CF_RAFT)
        return BS_OK;
    bs_buf_set(k, op->key.ptr, op->key.len);
    return 1; /* stop */
}

int txn_cluster_propose(void *arg, kv_batch *batch, txn_proposal_done_fn done, void *done_arg,
                        bs_err *err)
{
    cluster_store *s = arg;
    bs_buf k = BS_BUF_INIT;
    (void)kv_batch_iterate(batch, first_key, &k); /* stops at the first data key */
    cluster_region r;
    pd_region_init(&r);
    int rc = cluster_store_region_by_key(s, bs_buf_slice(&k), &r);
    bs_buf_free(&k);
    if (rc != BS_OK) {
        pd_region_deinit(&r);
        return bs_err_setf(err, BS_NOTFOUND, "no region for key on store %llu",
                           (unsigned long long)cluster_store_id(s));
    }
    /* txn_proposal_done_fn and cluster_proposal_done_fn are the same function type. */
    rc = cluster_store_propose(s, r.id, &r.epoch, batch, done, done_arg, NULL, err);
    pd_region_deinit(&r);
    return rc;
}
