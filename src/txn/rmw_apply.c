/* rmw_apply.c -- the read-modify-writes of rmw.c for a transaction's coordinator.
 *
 * MULTI/EXEC runs INCR, APPEND, SET NX/GET/KEEPTTL, EXPIRE... inside a Percolator
 * transaction: the coordinator reads the key at its start_ts, decides the new value, and
 * buffers it for the commit. The decision must be the raw path's to the byte (same value
 * stored, same reply, same error text), so this file only adapts the transaction's view
 * of a key (value and absolute expiry) to rmw.c's txn_rmw_eval and hands its write back in
 * public types. Nothing here reads or writes the engine. */
#include <string.h>

#include "txn/txn_int.h"

void txn_rmw_outcome_init(txn_rmw_outcome *o)
{
    memset(o, 0, sizeof(*o));
}

void txn_rmw_outcome_free(txn_rmw_outcome *o)
{
    if (!o)
        return;
    bs_buf_free(&o->value);
    txn_rmw_result_deinit(&o->r);
    txn_rmw_outcome_init(o);
}

int txn_rmw_apply(const txn_rmw_params *p, bool exists, bs_slice value, uint64_t expire_ms,
                  uint64_t now_ms, txn_rmw_outcome *out, txn_error *e)
{
    txn_cur cur;
    txn_write w;
    txn_cur_init(&cur);
    txn_write_init(&w);
    txn_rmw_outcome_free(out);
    cur.exists = exists;
    if (exists) {
        bs_buf_set(&cur.value, value.ptr, value.len);
        cur.has_expire = expire_ms != 0;
        cur.expire_ms = expire_ms;
    }
    int rc = txn_rmw_eval(p, &cur, now_ms, &w, &out->r, e);
    if (rc == BS_OK) {
        switch (w.kind) {
        case TXN_WRITE_NONE:
            out->write = TXN_RMW_WRITE_NONE;
            break;
        case TXN_WRITE_PUT:
            out->write = TXN_RMW_WRITE_PUT;
            out->value = w.value;
            w.value = (bs_buf)BS_BUF_INIT;
            out->expire_ms = w.expire_ms;
            break;
        case TXN_WRITE_DELETE:
            out->write = TXN_RMW_WRITE_DELETE;
            break;
        }
    }
    txn_write_deinit(&w);
    txn_cur_deinit(&cur);
    return rc;
}
