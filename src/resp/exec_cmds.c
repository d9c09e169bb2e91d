/* exec_cmds.c -- the string and key commands in their transactional form, for MULTI/EXEC
 * and for the multi-key commands whose keys span Regions (exec_int.h's state machines).
 *
 * Each form parses its arguments with the raw handler's parser (resp_args_*), reads at the
 * transaction's start_ts (plus what the transaction buffered before), decides, buffers its
 * writes and replies with the raw handler's reply builder (resp_reply_*), so a command
 * answers the same inside EXEC and alone. Read-modify-writes decide with txn_rmw_apply,
 * the store's own rules for client_rmw. Expiry: a value read carries its absolute expiry;
 * TTLs given relative to now are made absolute when the command runs. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "resp/exec_int.h"

static uint64_t now_ms(void)
{
    return (uint64_t)bs_clock_wall_ms();
}

static bs_slice arg(const resp_xcmd *c, size_t i)
{
    return resp_req_arg(&c->req, i);
}

/* The key arguments from first on, every step-th (MGET, DEL: 1, 1; MSETNX: 1, 2). */
static void set_keys(resp_xcmd *c, size_t first, size_t step)
{
    size_t n = c->req.argc > first ? (c->req.argc - first + step - 1) / step : 0;
    c->keys = bs_calloc(n ? n : 1, sizeof(bs_slice));
    c->nkeys = 0;
    for (size_t i = first; i < c->req.argc; i += step)
        c->keys[c->nkeys++] = arg(c, i);
}

/* ---- read-modify-writes ---------------------------------------------------------------------- */

/* p applied to key as read into x->res; buffers the write and replies as kind. */
static void apply_rmw(resp_exec *x, resp_xcmd *c, bs_slice key, const txn_rmw_params *p,
                      resp_rmw_reply kind)
{
    txn_rmw_outcome out;
    txn_error e;
    bool exists = x->res.code == BS_OK;
    txn_rmw_outcome_init(&out);
    txn_error_clear(&e);
    if (txn_rmw_apply(p, exists, bs_buf_slice(&x->res.value), exists ? x->res.expire_ms : 0,
                      now_ms(), &out, &e) != BS_OK) {
        resp_reply_error_str(&c->req.o, e.msg);
    } else {
        if (out.write == TXN_RMW_WRITE_PUT)
            resp_x_put(x, c, key, bs_buf_slice(&out.value), out.expire_ms);
        else if (out.write == TXN_RMW_WRITE_DELETE)
            resp_x_del(x, c, key);
        resp_reply_rmw(&c->req.o, kind, &out.r);
    }
    txn_rmw_outcome_free(&out);
}

static resp_xstep x_rmw(resp_exec *x, resp_xcmd *c)
{
    if (c->stage == 0)
        return resp_x_get(x, c, arg(c, 1));
    apply_rmw(x, c, arg(c, 1), &c->p, c->rk);
    return XSTEP_DONE;
}

static bool prep_setnx(resp_xcmd *c, long long databases)
{
    c->p = (txn_rmw_params){.op = TXN_RMW_SETNX, .arg = arg(c, 2)};
    c->rk = RESP_RMW_APPLIED;
    return true;
}

static bool prep_getset(resp_xcmd *c, long long databases)
{
    c->p = (txn_rmw_params){.op = TXN_RMW_GETSET, .arg = arg(c, 2)};
    c->rk = RESP_RMW_OLD;
    return true;
}

static bool prep_getdel(resp_xcmd *c, long long databases)
{
    c->p = (txn_rmw_params){.op = TXN_RMW_GETDEL};
    c->rk = RESP_RMW_OLD;
    return true;
}

static bool prep_append(resp_xcmd *c, long long databases)
{
    c->p = (txn_rmw_params){.op = TXN_RMW_APPEND, .arg = arg(c, 2)};
    c->rk = RESP_RMW_INT;
    return true;
}

static bool prep_setrange(resp_xcmd *c, long long databases)
{
    c->rk = RESP_RMW_INT;
    return resp_args_setrange(&c->req, &c->p);
}

static bool prep_incr_kind(resp_xcmd *c, resp_incr_kind kind)
{
    c->rk = kind == RESP_INCRBYFLOAT ? RESP_RMW_FLOAT : RESP_RMW_INT;
    return resp_args_incr(&c->req, kind, &c->p);
}

static bool prep_incr(resp_xcmd *c, long long databases)
{
    return prep_incr_kind(c, RESP_INCR);
}

static bool prep_decr(resp_xcmd *c, long long databases)
{
    return prep_incr_kind(c, RESP_DECR);
}

static bool prep_incrby(resp_xcmd *c, long long databases)
{
    return prep_incr_kind(c, RESP_INCRBY);
}

static bool prep_decrby(resp_xcmd *c, long long databases)
{
    return prep_incr_kind(c, RESP_DECRBY);
}

static bool prep_incrbyfloat(resp_xcmd *c, long long databases)
{
    return prep_incr_kind(c, RESP_INCRBYFLOAT);
}

static bool prep_expire_kind(resp_xcmd *c, bool relative, bool seconds)
{
    c->rk = RESP_RMW_APPLIED;
    return resp_args_expire(&c->req, relative, seconds, &c->p);
}

static bool prep_expire(resp_xcmd *c, long long databases)
{
    return prep_expire_kind(c, true, true);
}

static bool prep_pexpire(resp_xcmd *c, long long databases)
{
    return prep_expire_kind(c, true, false);
}

static bool prep_expireat(resp_xcmd *c, long long databases)
{
    return prep_expire_kind(c, false, true);
}

static bool prep_pexpireat(resp_xcmd *c, long long databases)
{
    return prep_expire_kind(c, false, false);
}

static bool prep_persist(resp_xcmd *c, long long databases)
{
    c->p = (txn_rmw_params){.op = TXN_RMW_PERSIST};
    c->rk = RESP_RMW_APPLIED;
    return true;
}

/* ---- GET, SET and their variants ------------------------------------------------------------- */

static resp_xstep x_get(resp_exec *x, resp_xcmd *c)
{
    if (c->stage == 0)
        return resp_x_get(x, c, arg(c, 1));
    if (x->res.code == BS_NOTFOUND)
        resp_reply_null_bulk(&c->req.o);
    else
        resp_reply_bulk(&c->req.o, x->res.value.ptr, x->res.value.len);
    return XSTEP_DONE;
}

/* A relative TTL made absolute now (0 = none). */
static uint64_t expire_at(uint64_t ttl_ms)
{
    return ttl_ms ? now_ms() + ttl_ms : 0;
}

static bool prep_set(resp_xcmd *c, long long databases)
{
    resp_set_args a;
    if (!resp_args_set(&c->req, &a))
        return false;
    c->p = a.p;
    c->flag = a.blind;
    c->ttl_ms = a.ttl_ms;
    c->rk = a.get ? RESP_RMW_OLD : RESP_RMW_SET_COND;
    return true;
}

static resp_xstep x_set(resp_exec *x, resp_xcmd *c)
{
    if (!c->flag)
        return x_rmw(x, c);
    resp_x_put(x, c, arg(c, 1), arg(c, 2), expire_at(c->ttl_ms));
    resp_reply_ok(&c->req.o);
    return XSTEP_DONE;
}

static bool prep_setex(resp_xcmd *c, long long databases)
{
    return resp_args_setex(&c->req, true, &c->ttl_ms);
}

static bool prep_psetex(resp_xcmd *c, long long databases)
{
    return resp_args_setex(&c->req, false, &c->ttl_ms);
}

static resp_xstep x_setex(resp_exec *x, resp_xcmd *c)
{
    resp_x_put(x, c, arg(c, 1), arg(c, 3), expire_at(c->ttl_ms));
    resp_reply_ok(&c->req.o);
    return XSTEP_DONE;
}

static bool prep_getex(resp_xcmd *c, long long databases)
{
    resp_getex_args a;
    if (!resp_args_getex(&c->req, &a))
        return false;
    c->flag = a.plain;
    c->deferred = a.deferred;
    c->p = a.p;
    c->rk = RESP_RMW_OLD;
    return true;
}

static resp_xstep x_getex(resp_exec *x, resp_xcmd *c)
{
    if (c->flag)
        return x_get(x, c);
    if (!c->deferred)
        return x_rmw(x, c);
    /* A bad expire argument: null for a missing key, the error for an existing one. */
    if (c->stage == 0)
        return resp_x_get(x, c, arg(c, 1));
    if (x->res.code == BS_NOTFOUND)
        resp_reply_null_bulk(&c->req.o);
    else
        resp_reply_getex_deferred(&c->req.o, c->deferred);
    return XSTEP_DONE;
}

/* ---- MGET, MSET, MSETNX ---------------------------------------------------------------------- */

static bool prep_keys_all(resp_xcmd *c, long long databases)
{
    set_keys(c, 1, 1);
    return true;
}

static resp_xstep x_mget(resp_exec *x, resp_xcmd *c)
{
    if (c->stage == 0)
        return resp_x_mget(x, c, c->keys, c->nkeys);
    resp_reply_mget(&c->req.o, &c->req, &x->res.pairs);
    return XSTEP_DONE;
}

static bool prep_mset(resp_xcmd *c, long long databases)
{
    return resp_args_mset(&c->req, false);
}

static resp_xstep x_mset(resp_exec *x, resp_xcmd *c)
{
    /* In argument order: a key given twice keeps its last value. */
    for (size_t i = 1; i + 1 < c->req.argc; i += 2)
        resp_x_put(x, c, arg(c, i), arg(c, i + 1), 0);
    resp_reply_ok(&c->req.o);
    return XSTEP_DONE;
}

static bool prep_msetnx(resp_xcmd *c, long long databases)
{
    if (!resp_args_mset(&c->req, true))
        return false;
    set_keys(c, 1, 2);
    return true;
}

static resp_xstep x_msetnx(resp_exec *x, resp_xcmd *c)
{
    if (c->stage == 0)
        return resp_x_mget(x, c, c->keys, c->nkeys);
    if (x->res.pairs.n > 0) { /* some key is live: nothing is set */
        resp_reply_int(&c->req.o, 0);
        return XSTEP_DONE;
    }
    for (size_t i = 1; i + 1 < c->req.argc; i += 2)
        resp_x_put(x, c, arg(c, i), arg(c, i + 1), 0);
    resp_reply_int(&c->req.o, 1);
    return XSTEP_DONE;
}

/* ---- APPEND, STRLEN, GETRANGE ---------------------------------------------------------------- */

static resp_xstep x_strlen(resp_exec *x, resp_xcmd *c)
{
    if (c->stage == 0)
        return resp_x_get(x, c, arg(c, 1));
    resp_reply_int(&c->req.o, x->res.code == BS_OK ? (long long)x->res.value.len : 0);
    return XSTEP_DONE;
}

static bool prep_getrange(resp_xcmd *c, long long databases)
{
    return resp_args_getrange(&c->req, &c->a, &c->b);
}

static resp_xstep x_getrange(resp_exec *x, resp_xcmd *c)
{
    if (c->stage == 0)
        return resp_x_get(x, c, arg(c, 1));
    bs_slice v = x->res.code == BS_OK ? bs_buf_slice(&x->res.value) : BS_SLICE_NULL;
    resp_reply_getrange(&c->req.o, v, c->a, c->b);
    return XSTEP_DONE;
}

/* ---- DEL, UNLINK, EXISTS, TOUCH, TYPE -------------------------------------------------------- */

static int cmp_slice(const void *a, const void *b)
{
    return bs_slice_cmp(*(const bs_slice *)a, *(const bs_slice *)b);
}

/* DEL: the live keys are deleted and counted once each (a key named twice counts once, as
 * Redis deletes one key after the other); absent and expired keys get no delete marker, so
 * deleting them changes nothing a WATCH would see, as in Redis. */
static resp_xstep x_del(resp_exec *x, resp_xcmd *c)
{
    if (c->stage == 0)
        return resp_x_mget(x, c, c->keys, c->nkeys);
    size_t n = x->res.pairs.n, count = 0;
    bs_slice *live = bs_calloc(n ? n : 1, sizeof(bs_slice));
    for (size_t i = 0; i < n; i++)
        live[i] = bs_buf_slice(&x->res.pairs.v[i].key);
    qsort(live, n, sizeof(bs_slice), cmp_slice);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && bs_slice_eq(live[i - 1], live[i]))
            continue;
        resp_x_del(x, c, live[i]);
        count++;
    }
    bs_free(live);
    resp_reply_int(&c->req.o, (long long)count);
    return XSTEP_DONE;
}

/* EXISTS/TOUCH: each occurrence of a live key counts. */
static resp_xstep x_exists(resp_exec *x, resp_xcmd *c)
{
    if (c->stage == 0)
        return resp_x_mget(x, c, c->keys, c->nkeys);
    resp_reply_int(&c->req.o, (long long)x->res.pairs.n);
    return XSTEP_DONE;
}

static resp_xstep x_type(resp_exec *x, resp_xcmd *c)
{
    if (c->stage == 0)
        return resp_x_get(x, c, arg(c, 1));
    resp_reply_simple_str(&c->req.o, x->res.code == BS_OK ? "string" : "none");
    return XSTEP_DONE;
}

/* ---- TTL family ------------------------------------------------------------------------------ */

static bool prep_ttl_kind(resp_xcmd *c, resp_ttl_kind kind)
{
    c->a = kind;
    return true;
}

static bool prep_ttl(resp_xcmd *c, long long databases)
{
    return prep_ttl_kind(c, RESP_TTL_S);
}

static bool prep_pttl(resp_xcmd *c, long long databases)
{
    return prep_ttl_kind(c, RESP_TTL_MS);
}

static bool prep_expiretime(resp_xcmd *c, long long databases)
{
    return prep_ttl_kind(c, RESP_EXPIRETIME_S);
}

static bool prep_pexpiretime(resp_xcmd *c, long long databases)
{
    return prep_ttl_kind(c, RESP_EXPIRETIME_MS);
}

static resp_xstep x_ttl(resp_exec *x, resp_xcmd *c)
{
    if (c->stage == 0)
        return resp_x_get(x, c, arg(c, 1));
    bool found = x->res.code == BS_OK;
    uint64_t left = 0, now = now_ms();
    if (found && x->res.expire_ms)
        left = x->res.expire_ms > now ? x->res.expire_ms - now : 1; /* expiring this ms */
    resp_reply_ttl(&c->req.o, (resp_ttl_kind)c->a, found, left);
    return XSTEP_DONE;
}

/* ---- RENAME, RENAMENX, COPY ------------------------------------------------------------------ */

/* Keeps the source as read (value and expiry) for the later stages. */
static void keep_source(resp_exec *x, resp_xcmd *c)
{
    c->found0 = x->res.code == BS_OK;
    bs_buf_set(&c->v0, x->res.value.ptr, x->res.value.len);
    c->exp0 = c->found0 ? x->res.expire_ms : 0;
}

static bool prep_renamenx(resp_xcmd *c, long long databases)
{
    c->flag = true;
    return true;
}

/* RENAME/RENAMENX src dst: the value moves with its expiry; RENAME overwrites dst. */
static resp_xstep x_rename(resp_exec *x, resp_xcmd *c)
{
    bool nx = c->flag;
    bs_slice src = arg(c, 1), dst = arg(c, 2);
    if (c->stage == 0)
        return resp_x_get(x, c, src);
    if (c->stage == 1) {
        keep_source(x, c);
        if (!c->found0) {
            resp_reply_error_str(&c->req.o, RESP_ERR_NO_SUCH_KEY);
            return XSTEP_DONE;
        }
        if (bs_slice_eq(src, dst)) { /* nothing moves */
            if (nx)
                resp_reply_int(&c->req.o, 0);
            else
                resp_reply_ok(&c->req.o);
            return XSTEP_DONE;
        }
        if (nx)
            return resp_x_get(x, c, dst);
    } else if (x->res.code == BS_OK) { /* RENAMENX onto a live key */
        resp_reply_int(&c->req.o, 0);
        return XSTEP_DONE;
    }
    resp_x_put(x, c, dst, bs_buf_slice(&c->v0), c->exp0);
    resp_x_del(x, c, src);
    if (nx)
        resp_reply_int(&c->req.o, 1);
    else
        resp_reply_ok(&c->req.o);
    return XSTEP_DONE;
}

static bool prep_copy(resp_xcmd *c, long long databases)
{
    return resp_args_copy(&c->req, databases, &c->flag);
}

/* COPY src dst [REPLACE]: dst gets src's value and expiry unless dst is live. */
static resp_xstep x_copy(resp_exec *x, resp_xcmd *c)
{
    bool replace = c->flag;
    if (c->stage == 0)
        return resp_x_get(x, c, arg(c, 1));
    if (c->stage == 1) {
        keep_source(x, c);
        if (!c->found0) {
            resp_reply_int(&c->req.o, 0);
            return XSTEP_DONE;
        }
        if (!replace)
            return resp_x_get(x, c, arg(c, 2));
    } else if (x->res.code == BS_OK) {
        resp_reply_int(&c->req.o, 0);
        return XSTEP_DONE;
    }
    resp_x_put(x, c, arg(c, 2), bs_buf_slice(&c->v0), c->exp0);
    resp_reply_int(&c->req.o, 1);
    return XSTEP_DONE;
}

/* ---- the table ------------------------------------------------------------------------------- */

/* Sorted by name (binary search). */
static const resp_xspec specs[] = {
    {"append", prep_append, x_rmw},
    {"copy", prep_copy, x_copy},
    {"decr", prep_decr, x_rmw},
    {"decrby", prep_decrby, x_rmw},
    {"del", prep_keys_all, x_del},
    {"exists", prep_keys_all, x_exists},
    {"expire", prep_expire, x_rmw},
    {"expireat", prep_expireat, x_rmw},
    {"expiretime", prep_expiretime, x_ttl},
    {"get", NULL, x_get},
    {"getdel", prep_getdel, x_rmw},
    {"getex", prep_getex, x_getex},
    {"getrange", prep_getrange, x_getrange},
    {"getset", prep_getset, x_rmw},
    {"incr", prep_incr, x_rmw},
    {"incrby", prep_incrby, x_rmw},
    {"incrbyfloat", prep_incrbyfloat, x_rmw},
    {"mget", prep_keys_all, x_mget},
    {"mset", prep_mset, x_mset},
    {"msetnx", prep_msetnx, x_msetnx},
    {"persist", prep_persist, x_rmw},
    {"pexpire", prep_pexpire, x_rmw},
    {"pexpireat", prep_pexpireat, x_rmw},
    {"pexpiretime", prep_pexpiretime, x_ttl},
    {"psetex", prep_psetex, x_setex},
    {"pttl", prep_pttl, x_ttl},
    {"rename", NULL, x_rename},
    {"renamenx", prep_renamenx, x_rename},
    {"set", prep_set, x_set},
    {"setex", prep_setex, x_setex},
    {"setnx", prep_setnx, x_rmw},
    {"setrange", prep_setrange, x_rmw},
    {"strlen", NULL, x_strlen},
    {"substr", prep_getrange, x_getrange},
    {"touch", prep_keys_all, x_exists},
    {"ttl", prep_ttl, x_ttl},
    {"type", NULL, x_type},
    {"unlink", prep_keys_all, x_del},
};

/* strcasecmp of a slice against a lower-case name. */
static int name_cmp(bs_slice s, const char *name)
{
    size_t n = strlen(name), m = s.len < n ? s.len : n;
    for (size_t i = 0; i < m; i++) {
        int a = s.ptr[i] >= 'A' && s.ptr[i] <= 'Z' ? s.ptr[i] + 32 : s.ptr[i];
        int b = (unsigned char)name[i];
        if (a != b)
            return a - b;
    }
    return s.len < n ? -1 : s.len > n ? 1 : 0;
}

const resp_xspec *resp_xspec_lookup(bs_slice name)
{
    size_t lo = 0, hi = sizeof(specs) / sizeof(specs[0]);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(name, specs[mid].name);
        if (c == 0)
            return &specs[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}
