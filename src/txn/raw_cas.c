/* raw_cas.c -- the compare-and-swap action (TiKV src/storage/txn/commands/
 * compare_and_swap.rs): compare the live value of one key with the expectation (absent,
 * or equal to previous_value) and on a match write the new value or the deleted marker.
 * The answer always reports what was there before. The command layer runs this under the
 * key's latch, on the pending value when an earlier write is not applied yet. */
#include "txn/txn_int.h"

void txn_cas_eval(const txn_cas_req *req, const txn_cur *cur, uint64_t now_ms, txn_write *w,
                  txn_result *res)
{
    res->previous_not_exist = !cur->exists;
    bs_buf_reset(&res->previous_value);
    if (cur->exists)
        bs_buf_append_slice(&res->previous_value, bs_buf_slice(&cur->value));
    if (req->previous_not_exist)
        res->succeed = !cur->exists;
    else
        res->succeed = cur->exists && bs_slice_eq(bs_buf_slice(&cur->value), req->previous_value);
    w->kind = TXN_WRITE_NONE;
    if (!res->succeed)
        return;
    if (req->delete_) {
        w->kind = TXN_WRITE_DELETE;
    } else {
        w->kind = TXN_WRITE_PUT;
        bs_buf_set(&w->value, req->value.ptr, req->value.len);
        w->expire_ms = txn_expire_from_ttl(now_ms, req->ttl_ms);
    }
}
