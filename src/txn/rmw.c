/* rmw.c -- the closed set of single-key read-modify-writes the RESP front end needs, as
 * pure functions of (current live value, parameters, now) -> (what to write, reply).
 *
 * Each operation follows Redis 7 (t_string.c, expire.c) exactly, so a RESP reply built
 * from txn_rmw_result is what Redis would send: INCRBY's overflow check, INCRBYFLOAT's
 * parsing and formatting (rmw_num.c), APPEND/SETRANGE's 512 MB limit and zero padding,
 * SET's NX/XX/GET/KEEPTTL, GETEX's PERSIST, EXPIRE's NX/XX/GT/LT (a key without TTL counts
 * as an infinite TTL for GT/LT), an expiry already in the past deleting the key. What Redis
 * does in place keeps the TTL (INCR family, APPEND, SETRANGE); what Redis re-sets without
 * KEEPTTL drops it (GETSET, SET). Argument-shape errors (a negative offset, EX 0) are the
 * front end's; flag combinations that cannot be valid are refused here as "syntax error". */
#include <math.h>
#include <string.h>

#include "txn/txn_int.h"

void txn_rmw_result_init(txn_rmw_result *r)
{
    memset(r, 0, sizeof(*r));
}

void txn_rmw_result_deinit(txn_rmw_result *r)
{
    bs_buf_free(&r->old_value);
    bs_buf_free(&r->new_value);
}

static uint64_t kept_expire(const txn_cur *cur)
{
    return cur->exists && cur->has_expire ? cur->expire_ms : 0;
}

static void put(txn_write *w, bs_slice v, uint64_t expire_ms)
{
    w->kind = TXN_WRITE_PUT;
    bs_buf_set(&w->value, v.ptr, v.len);
    w->expire_ms = expire_ms;
}

static void report_old(const txn_cur *cur, txn_rmw_result *r)
{
    bs_buf_reset(&r->old_value);
    if (cur->exists)
        bs_buf_append_slice(&r->old_value, bs_buf_slice(&cur->value));
}

static int incrby(const txn_rmw_params *p, const txn_cur *cur, txn_write *w, txn_rmw_result *r,
                  txn_error *e)
{
    int64_t old = 0, incr = p->incr;
    bs_buf text = BS_BUF_INIT;
    if (cur->exists && !txn_parse_ll(bs_buf_slice(&cur->value), &old))
        return txn_error_set(e, BS_EINVAL, TXN_ERR_NOT_INTEGER, NULL);
    if ((incr < 0 && old < 0 && incr < INT64_MIN - old) ||
        (incr > 0 && old > 0 && incr > INT64_MAX - old))
        return txn_error_set(e, BS_ERANGE, TXN_ERR_OVERFLOW, NULL);
    r->integer = old + incr;
    txn_format_ll(&text, r->integer);
    put(w, bs_buf_slice(&text), kept_expire(cur));
    bs_buf_free(&text);
    r->applied = true;
    return BS_OK;
}

static int incrbyfloat(const txn_rmw_params *p, const txn_cur *cur, txn_write *w,
                       txn_rmw_result *r, txn_error *e)
{
    long double old = 0, incr, v;
    if (cur->exists && !txn_parse_ld(bs_buf_slice(&cur->value), &old))
        return txn_error_set(e, BS_EINVAL, TXN_ERR_NOT_FLOAT, NULL);
    if (!txn_parse_ld(p->arg, &incr))
        return txn_error_set(e, BS_EINVAL, TXN_ERR_NOT_FLOAT, NULL);
    v = old + incr;
    if (isnan(v) || isinf(v))
        return txn_error_set(e, BS_ERANGE, TXN_ERR_NAN_OR_INF, NULL);
    bs_buf_reset(&r->new_value);
    txn_format_ld(&r->new_value, v);
    put(w, bs_buf_slice(&r->new_value), kept_expire(cur));
    r->applied = true;
    return BS_OK;
}

static bool too_long(uint64_t size, uint64_t extra)
{
    return extra > TXN_PROTO_MAX_BULK_LEN || size > TXN_PROTO_MAX_BULK_LEN - extra;
}

static int append(const txn_rmw_params *p, const txn_cur *cur, txn_write *w, txn_rmw_result *r,
                  txn_error *e)
{
    if (!cur->exists) {
        put(w, p->arg, 0);
    } else {
        if (too_long(cur->value.len, p->arg.len))
            return txn_error_set(e, BS_ETOOLARGE, TXN_ERR_STRING_TOO_LONG, NULL);
        put(w, bs_buf_slice(&cur->value), kept_expire(cur));
        bs_buf_append_slice(&w->value, p->arg);
    }
    r->integer = (int64_t)w->value.len;
    r->applied = true;
    return BS_OK;
}

static int setrange(const txn_rmw_params *p, const txn_cur *cur, txn_write *w,
                    txn_rmw_result *r, txn_error *e)
{
    size_t old_len = cur->exists ? cur->value.len : 0, new_len;
    if (p->arg.len == 0) { /* nothing to write: reply the current length */
        r->integer = (int64_t)old_len;
        return BS_OK;
    }
    if (too_long(p->offset, p->arg.len))
        return txn_error_set(e, BS_ETOOLARGE, TXN_ERR_STRING_TOO_LONG, NULL);
    new_len = p->offset + p->arg.len > old_len ? (size_t)p->offset + p->arg.len : old_len;
    w->kind = TXN_WRITE_PUT;
    w->expire_ms = kept_expire(cur);
    bs_buf_reset(&w->value);
    bs_buf_reserve(&w->value, new_len);
    if (old_len)
        bs_buf_append_slice(&w->value, bs_buf_slice(&cur->value));
    if (new_len > old_len) {
        memset(w->value.ptr + old_len, 0, new_len - old_len);
        w->value.len = new_len;
    }
    memcpy(w->value.ptr + p->offset, p->arg.ptr, p->arg.len);
    r->integer = (int64_t)new_len;
    r->applied = true;
    return BS_OK;
}

static int set(const txn_rmw_params *p, const txn_cur *cur, uint64_t now_ms, txn_write *w,
               txn_rmw_result *r, txn_error *e)
{
    unsigned f = p->flags;
    if (((f & TXN_SET_NX) && (f & TXN_SET_XX)) || ((f & TXN_SET_KEEPTTL) && p->has_expire))
        return txn_error_set(e, BS_EINVAL, TXN_ERR_SYNTAX, NULL);
    if (f & TXN_SET_GET)
        report_old(cur, r);
    if (((f & TXN_SET_NX) && cur->exists) || ((f & TXN_SET_XX) && !cur->exists))
        return BS_OK;
    r->applied = true;
    if (p->has_expire && p->expire_at_ms <= (int64_t)now_ms) {
        w->kind = TXN_WRITE_DELETE; /* set with an expiry already past: gone at once */
        return BS_OK;
    }
    put(w, p->arg,
        p->has_expire ? (uint64_t)p->expire_at_ms : (f & TXN_SET_KEEPTTL) ? kept_expire(cur) : 0);
    return BS_OK;
}

static int getex(const txn_rmw_params *p, const txn_cur *cur, uint64_t now_ms, txn_write *w,
                 txn_rmw_result *r, txn_error *e)
{
    if ((p->flags & TXN_GETEX_PERSIST) && p->has_expire)
        return txn_error_set(e, BS_EINVAL, TXN_ERR_SYNTAX, NULL);
    report_old(cur, r);
    if (!cur->exists)
        return BS_OK;
    if (p->has_expire) {
        r->applied = true;
        if (p->expire_at_ms <= (int64_t)now_ms)
            w->kind = TXN_WRITE_DELETE;
        else
            put(w, bs_buf_slice(&cur->value), (uint64_t)p->expire_at_ms);
    } else if ((p->flags & TXN_GETEX_PERSIST) && cur->has_expire) {
        r->applied = true;
        put(w, bs_buf_slice(&cur->value), 0);
    }
    return BS_OK;
}

static int expire(const txn_rmw_params *p, const txn_cur *cur, uint64_t now_ms, txn_write *w,
                  txn_rmw_result *r, txn_error *e)
{
    unsigned f = p->flags;
    int64_t when = p->expire_at_ms;
    if ((f & TXN_EXPIRE_NX) && (f & (TXN_EXPIRE_XX | TXN_EXPIRE_GT | TXN_EXPIRE_LT)))
        return txn_error_set(e, BS_EINVAL, TXN_ERR_SYNTAX,
                             "NX and XX, GT or LT options at the same time are not compatible");
    if ((f & TXN_EXPIRE_GT) && (f & TXN_EXPIRE_LT))
        return txn_error_set(e, BS_EINVAL, TXN_ERR_SYNTAX,
                             "GT and LT options at the same time are not compatible");
    if (!cur->exists)
        return BS_OK;
    if ((f & TXN_EXPIRE_NX) && cur->has_expire)
        return BS_OK;
    if ((f & TXN_EXPIRE_XX) && !cur->has_expire)
        return BS_OK;
    /* GT/LT: a key without TTL has an infinite one. */
    if ((f & TXN_EXPIRE_GT) && (!cur->has_expire || when <= (int64_t)cur->expire_ms))
        return BS_OK;
    if ((f & TXN_EXPIRE_LT) && cur->has_expire && when >= (int64_t)cur->expire_ms)
        return BS_OK;
    r->applied = true;
    if (when <= (int64_t)now_ms)
        w->kind = TXN_WRITE_DELETE;
    else
        put(w, bs_buf_slice(&cur->value), (uint64_t)when);
    return BS_OK;
}

int txn_rmw_eval(const txn_rmw_params *p, const txn_cur *cur, uint64_t now_ms, txn_write *w,
                 txn_rmw_result *r, txn_error *e)
{
    int rc = BS_OK;
    w->kind = TXN_WRITE_NONE;
    r->old_exists = cur->exists;
    switch (p->op) {
    case TXN_RMW_INCRBY:
        rc = incrby(p, cur, w, r, e);
        break;
    case TXN_RMW_INCRBYFLOAT:
        rc = incrbyfloat(p, cur, w, r, e);
        break;
    case TXN_RMW_APPEND:
        rc = append(p, cur, w, r, e);
        break;
    case TXN_RMW_SETRANGE:
        rc = setrange(p, cur, w, r, e);
        break;
    case TXN_RMW_GETSET:
        report_old(cur, r);
        put(w, p->arg, 0);
        r->applied = true;
        break;
    case TXN_RMW_GETDEL:
        report_old(cur, r);
        if (cur->exists) {
            w->kind = TXN_WRITE_DELETE;
            r->applied = true;
        }
        break;
    case TXN_RMW_GETEX:
        rc = getex(p, cur, now_ms, w, r, e);
        break;
    case TXN_RMW_SETNX:
        if (!cur->exists) {
            put(w, p->arg, 0);
            r->applied = true;
        }
        break;
    case TXN_RMW_SET:
        rc = set(p, cur, now_ms, w, r, e);
        break;
    case TXN_RMW_EXPIRE:
        rc = expire(p, cur, now_ms, w, r, e);
        break;
    case TXN_RMW_PERSIST:
        if (cur->exists && cur->has_expire) {
            put(w, bs_buf_slice(&cur->value), 0);
            r->applied = true;
        }
        break;
    default:
        rc = txn_error_set(e, BS_EINVAL, TXN_ERR_INVALID_ARGUMENT, "unknown read-modify-write");
    }
    if (rc != BS_OK) {
        w->kind = TXN_WRITE_NONE;
        r->applied = false;
    }
    return rc;
}
