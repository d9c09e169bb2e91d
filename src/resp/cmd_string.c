/* cmd_string.c -- Redis's string commands over the cluster client.
 *
 * Each handler checks its arguments the way Redis 7 does (same order of checks, same error
 * texts, see t_string.c) and then makes ONE client call: reads are client_get /
 * client_batch_get, blind writes client_put / client_multi, and anything whose outcome
 * depends on the old value (INCR, APPEND, SET NX/GET/KEEPTTL, GETEX...) is a client_rmw,
 * executed on the key's leader under its latch. Never read-then-write here: two
 * connections would race. The reply is encoded in the client's callback, on whatever
 * thread that runs, which then finishes the request.
 *
 * The argument parsers and reply builders (resp_args_*, resp_reply_*) are shared with the
 * transaction executor (exec_cmds.c), which runs the same commands inside MULTI/EXEC. MGET,
 * MSET and MSETNX whose keys span Regions run as a transaction of their own
 * (resp_exec_single): atomic and snapshot-consistent everywhere.
 *
 * Every Basalt value is a string, so WRONGTYPE never arises. LCS is in cmd_lcs.c. */
#include <limits.h>
#include <string.h>

#include "common/clock.h"
#include "resp/resp_int.h"

/* ---- small helpers ------------------------------------------------------------------- */

/* Redis's getLongLongFromObjectOrReply: writes the error on failure. */
static bool arg_ll(resp_req *req, size_t i, long long *out)
{
    if (resp_parse_ll(resp_req_arg(req, i), out))
        return true;
    resp_reply_error_str(&req->o, RESP_ERR_NOT_INTEGER);
    return false;
}

/* True when the client call succeeded; otherwise replies its error, finishes req and
 * returns false, so callbacks read `if (!call_ok(req, res)) return;`. */
static bool call_ok(resp_req *req, client_result *res)
{
    if (res->code == BS_OK)
        return true;
    resp_reply_client_error(req, res);
    return false;
}

/* ---- shared argument parsers and replies (resp_int.h) ------------------------------------- */

/* Option flags of SET and GETEX, as Redis's parseExtendedStringArgumentsOrReply. */
#define OPT_NX 0x001u
#define OPT_XX 0x002u
#define OPT_EX 0x004u
#define OPT_PX 0x008u
#define OPT_KEEPTTL 0x010u
#define OPT_GET 0x020u
#define OPT_EXAT 0x040u
#define OPT_PXAT 0x080u
#define OPT_PERSIST 0x100u
#define OPT_ANY_EXPIRE (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

typedef struct str_opts {
    unsigned flags;
    size_t expire_arg; /* index of the expire argument, 0 when none */
} str_opts;

/* Parses SET's (is_set) or GETEX's options from argv[first]. Redis accepts an option only
 * when it does not contradict one already given (NX after XX is a syntax error, EX after
 * EX is fine and the last one wins), so this follows the same acceptance table. Writes
 * "syntax error" on failure. */
static bool parse_str_opts(resp_req *req, size_t first, bool is_set, str_opts *o)
{
    o->flags = 0;
    o->expire_arg = 0;
    for (size_t j = first; j < req->argc; j++) {
        bs_slice a = resp_req_arg(req, j);
        bool next = j + 1 < req->argc;
        unsigned f = o->flags;
        if (is_set && resp_arg_is(a, "nx") && !(f & OPT_XX)) {
            o->flags |= OPT_NX;
        } else if (is_set && resp_arg_is(a, "xx") && !(f & OPT_NX)) {
            o->flags |= OPT_XX;
        } else if (is_set && resp_arg_is(a, "get")) {
            o->flags |= OPT_GET;
        } else if (is_set && resp_arg_is(a, "keepttl") && !(f & (OPT_PERSIST | OPT_ANY_EXPIRE))) {
            o->flags |= OPT_KEEPTTL;
        } else if (!is_set && resp_arg_is(a, "persist") && !(f & (OPT_ANY_EXPIRE | OPT_KEEPTTL))) {
            o->flags |= OPT_PERSIST;
        } else if (resp_arg_is(a, "ex") && next &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_EXAT | OPT_PX | OPT_PXAT))) {
            o->flags |= OPT_EX;
            o->expire_arg = ++j;
        } else if (resp_arg_is(a, "px") && next &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_EXAT | OPT_PXAT))) {
            o->flags |= OPT_PX;
            o->expire_arg = ++j;
        } else if (resp_arg_is(a, "exat") && next &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_PX | OPT_PXAT))) {
            o->flags |= OPT_EXAT;
            o->expire_arg = ++j;
        } else if (resp_arg_is(a, "pxat") && next &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_EXAT | OPT_PX))) {
            o->flags |= OPT_PXAT;
            o->expire_arg = ++j;
        } else {
            resp_reply_error_str(&req->o, RESP_ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

typedef enum expire_status { EXP_OK, EXP_NOT_INTEGER, EXP_INVALID } expire_status;

/* Redis's getExpireMillisecondsOrReply: the expire argument s in seconds or ms, relative
 * (EX/PX) or absolute (EXAT/PXAT), to absolute Unix ms in *at (and the relative ms in
 * *rel_ms for EX/PX). Zero, negative and overflowing times are invalid. */
static expire_status expire_ms(bs_slice s, unsigned flags, long long *at, long long *rel_ms)
{
    long long v;
    bool seconds = flags & (OPT_EX | OPT_EXAT), relative = flags & (OPT_EX | OPT_PX);
    if (!resp_parse_ll(s, &v))
        return EXP_NOT_INTEGER;
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000))
        return EXP_INVALID;
    if (seconds)
        v *= 1000;
    *rel_ms = v;
    if (relative) {
        long long now = bs_clock_wall_ms();
        if (v > LLONG_MAX - now)
            return EXP_INVALID;
        v += now;
    }
    *at = v;
    return EXP_OK;
}

/* Writes the error of a bad expire argument of command name. */
static void reply_expire_status(resp_out *o, expire_status st, const char *name)
{
    if (st == EXP_NOT_INTEGER)
        resp_reply_error_str(o, RESP_ERR_NOT_INTEGER);
    else
        resp_reply_errorf(o, "invalid expire time in '%s' command", name);
}

bool resp_args_set(resp_req *req, resp_set_args *a)
{
    str_opts o;
    long long at = 0, rel = 0;
    memset(a, 0, sizeof(*a));
    if (!parse_str_opts(req, 3, true, &o))
        return false;
    if (o.expire_arg) {
        expire_status st = expire_ms(resp_req_arg(req, o.expire_arg), o.flags, &at, &rel);
        if (st != EXP_OK) {
            reply_expire_status(&req->o, st, "set");
            return false;
        }
    }
    a->p.op = TXN_RMW_SET;
    a->p.arg = resp_req_arg(req, 2);
    /* A plain SET, or SET with a relative expiry, needs no old value: a blind put. */
    a->blind = !(o.flags & (OPT_NX | OPT_XX | OPT_GET | OPT_KEEPTTL | OPT_EXAT | OPT_PXAT));
    a->ttl_ms = (uint64_t)rel;
    a->get = (o.flags & OPT_GET) != 0;
    if (o.flags & OPT_NX)
        a->p.flags |= TXN_SET_NX;
    if (o.flags & OPT_XX)
        a->p.flags |= TXN_SET_XX;
    if (o.flags & OPT_GET)
        a->p.flags |= TXN_SET_GET;
    if (o.flags & OPT_KEEPTTL)
        a->p.flags |= TXN_SET_KEEPTTL;
    if (o.expire_arg) {
        a->p.has_expire = true;
        a->p.expire_at_ms = at;
    }
    return true;
}

bool resp_args_setex(resp_req *req, bool seconds, uint64_t *ttl_ms)
{
    long long at, rel;
    expire_status st = expire_ms(resp_req_arg(req, 2), seconds ? OPT_EX : OPT_PX, &at, &rel);
    if (st != EXP_OK) {
        reply_expire_status(&req->o, st, seconds ? "setex" : "psetex");
        return false;
    }
    *ttl_ms = (uint64_t)rel;
    return true;
}

bool resp_args_getex(resp_req *req, resp_getex_args *a)
{
    str_opts o;
    long long at = 0, rel = 0;
    memset(a, 0, sizeof(*a));
    if (!parse_str_opts(req, 2, false, &o))
        return false;
    a->plain = o.flags == 0;
    a->p.op = TXN_RMW_GETEX;
    if (o.expire_arg) {
        expire_status st = expire_ms(resp_req_arg(req, o.expire_arg), o.flags, &at, &rel);
        if (st != EXP_OK) {
            a->deferred = (int)st;
            return true;
        }
        a->p.has_expire = true;
        a->p.expire_at_ms = at;
    }
    if (o.flags & OPT_PERSIST)
        a->p.flags |= TXN_GETEX_PERSIST;
    return true;
}

void resp_reply_getex_deferred(resp_out *o, int deferred)
{
    reply_expire_status(o, (expire_status)deferred, "getex");
}

bool resp_args_getrange(resp_req *req, long long *start, long long *end)
{
    return arg_ll(req, 2, start) && arg_ll(req, 3, end);
}

void resp_reply_getrange(resp_out *o, bs_slice value, long long start, long long end)
{
    long long len = (long long)value.len;
    /* Redis's index rules: negative counts from the end, both clamped into the string, and
     * two negative indexes in the wrong order select nothing. */
    if (start < 0 && end < 0 && start > end) {
        resp_reply_bulk(o, NULL, 0);
        return;
    }
    if (start < 0)
        start = len + start;
    if (end < 0)
        end = len + end;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= len)
        end = len - 1;
    if (start > end || len == 0)
        resp_reply_bulk(o, NULL, 0);
    else
        resp_reply_bulk(o, value.ptr + start, (size_t)(end - start + 1));
}

bool resp_args_setrange(resp_req *req, txn_rmw_params *p)
{
    long long offset;
    if (!arg_ll(req, 2, &offset))
        return false;
    if (offset < 0) {
        resp_reply_error_str(&req->o, "offset is out of range");
        return false;
    }
    memset(p, 0, sizeof(*p));
    p->op = TXN_RMW_SETRANGE;
    p->arg = resp_req_arg(req, 3);
    p->offset = (uint64_t)offset;
    return true;
}

bool resp_args_incr(resp_req *req, resp_incr_kind kind, txn_rmw_params *p)
{
    long long by = 1;
    memset(p, 0, sizeof(*p));
    p->op = TXN_RMW_INCRBY;
    switch (kind) {
    case RESP_INCR:
        break;
    case RESP_DECR:
        by = -1;
        break;
    case RESP_INCRBY:
        if (!arg_ll(req, 2, &by))
            return false;
        break;
    case RESP_DECRBY:
        if (!arg_ll(req, 2, &by))
            return false;
        if (by == LLONG_MIN) { /* -LLONG_MIN does not exist */
            resp_reply_error_str(&req->o, "decrement would overflow");
            return false;
        }
        by = -by;
        break;
    case RESP_INCRBYFLOAT:
        /* The increment is parsed with the old value, as Redis orders it (both failures
         * have the same text). */
        p->op = TXN_RMW_INCRBYFLOAT;
        p->arg = resp_req_arg(req, 2);
        return true;
    }
    p->incr = by;
    return true;
}

bool resp_args_mset(resp_req *req, bool nx)
{
    if (req->argc % 2 == 0) {
        resp_reply_errorf(&req->o, "wrong number of arguments for '%s' command",
                          nx ? "msetnx" : "mset");
        return false;
    }
    return true;
}

void resp_reply_rmw(resp_out *o, resp_rmw_reply kind, const txn_rmw_result *r)
{
    switch (kind) {
    case RESP_RMW_OLD:
        if (r->old_exists)
            resp_reply_bulk(o, r->old_value.ptr, r->old_value.len);
        else
            resp_reply_null_bulk(o);
        break;
    case RESP_RMW_INT:
        resp_reply_int(o, r->integer);
        break;
    case RESP_RMW_APPLIED:
        resp_reply_int(o, r->applied ? 1 : 0);
        break;
    case RESP_RMW_SET_COND:
        if (r->applied)
            resp_reply_ok(o);
        else
            resp_reply_null_bulk(o);
        break;
    case RESP_RMW_FLOAT:
        /* Redis 7 replies with the stored text as a bulk string, under RESP3 too. */
        resp_reply_bulk(o, r->new_value.ptr, r->new_value.len);
        break;
    }
}

void resp_reply_mget(resp_out *o, const resp_req *req, const txn_pairs *pairs)
{
    size_t n = req->argc - 1, k = 0;
    resp_reply_array(o, n);
    for (size_t i = 0; i < n; i++) {
        if (k < pairs->n &&
            bs_slice_eq(bs_buf_slice(&pairs->v[k].key), resp_req_arg(req, i + 1))) {
            resp_reply_bulk(o, pairs->v[k].value.ptr, pairs->v[k].value.len);
            k++;
        } else {
            resp_reply_null_bulk(o);
        }
    }
}

/* ---- callbacks shared by several commands --------------------------------------------- */

static void done_ok(void *arg, client_result *res)
{
    resp_req *req = arg;
    if (!call_ok(req, res))
        return;
    resp_reply_ok(&req->o);
    resp_req_finish(req);
}

/* GET: the value, or the null bulk for a missing key. */
static void done_value(void *arg, client_result *res)
{
    resp_req *req = arg;
    if (res->code == BS_NOTFOUND)
        resp_reply_null_bulk(&req->o);
    else if (!call_ok(req, res))
        return;
    else
        resp_reply_bulk(&req->o, res->value.ptr, res->value.len);
    resp_req_finish(req);
}

static void rmw_done(resp_req *req, client_result *res, resp_rmw_reply kind)
{
    if (!call_ok(req, res))
        return;
    resp_reply_rmw(&req->o, kind, &res->rmw);
    resp_req_finish(req);
}

static void done_rmw_old(void *arg, client_result *res)
{
    rmw_done(arg, res, RESP_RMW_OLD);
}

static void done_rmw_int(void *arg, client_result *res)
{
    rmw_done(arg, res, RESP_RMW_INT);
}

static void done_rmw_applied(void *arg, client_result *res)
{
    rmw_done(arg, res, RESP_RMW_APPLIED);
}

static void done_set_cond(void *arg, client_result *res)
{
    rmw_done(arg, res, RESP_RMW_SET_COND);
}

static void done_incrbyfloat(void *arg, client_result *res)
{
    rmw_done(arg, res, RESP_RMW_FLOAT);
}

static void rmw(resp_req *req, const txn_rmw_params *p, client_done_fn done)
{
    client_rmw(req->client, req->db, resp_req_arg(req, 1), p, done, req);
}

/* ---- GET, SET and their variants -------------------------------------------------------- */

static void cmd_get(resp_req *req)
{
    client_get(req->client, req->db, resp_req_arg(req, 1), done_value, req);
}

static void cmd_set(resp_req *req)
{
    resp_set_args a;
    if (!resp_args_set(req, &a)) {
        resp_req_finish(req);
        return;
    }
    if (a.blind) {
        client_put(req->client, req->db, resp_req_arg(req, 1), resp_req_arg(req, 2), a.ttl_ms,
                   done_ok, req);
        return;
    }
    rmw(req, &a.p, a.get ? done_rmw_old : done_set_cond);
}

static void cmd_setnx(resp_req *req)
{
    txn_rmw_params p = {.op = TXN_RMW_SETNX, .arg = resp_req_arg(req, 2)};
    rmw(req, &p, done_rmw_applied);
}

/* SETEX key seconds value / PSETEX key milliseconds value. */
static void setex_generic(resp_req *req, bool seconds)
{
    uint64_t ttl;
    if (!resp_args_setex(req, seconds, &ttl)) {
        resp_req_finish(req);
        return;
    }
    client_put(req->client, req->db, resp_req_arg(req, 1), resp_req_arg(req, 3), ttl, done_ok,
               req);
}

static void cmd_setex(resp_req *req)
{
    setex_generic(req, true);
}

static void cmd_psetex(resp_req *req)
{
    setex_generic(req, false);
}

static void cmd_getset(resp_req *req)
{
    txn_rmw_params p = {.op = TXN_RMW_GETSET, .arg = resp_req_arg(req, 2)};
    rmw(req, &p, done_rmw_old);
}

static void cmd_getdel(resp_req *req)
{
    txn_rmw_params p = {.op = TXN_RMW_GETDEL};
    rmw(req, &p, done_rmw_old);
}

/* GETEX with a bad expire argument: Redis looks the key up first, so a missing key gets
 * the null reply and only an existing one gets the error. */
typedef struct getex_err_ctx {
    resp_req *req;
    int deferred;
} getex_err_ctx;

static void done_getex_error(void *arg, client_result *res)
{
    getex_err_ctx *ctx = arg;
    resp_req *req = ctx->req;
    int deferred = ctx->deferred;
    bs_free(ctx);
    if (res->code == BS_NOTFOUND)
        resp_reply_null_bulk(&req->o);
    else if (!call_ok(req, res))
        return;
    else
        resp_reply_getex_deferred(&req->o, deferred);
    resp_req_finish(req);
}

static void cmd_getex(resp_req *req)
{
    resp_getex_args a;
    if (!resp_args_getex(req, &a)) {
        resp_req_finish(req);
        return;
    }
    if (a.plain) {
        cmd_get(req);
        return;
    }
    if (a.deferred) {
        getex_err_ctx *ctx = bs_malloc(sizeof(*ctx));
        ctx->req = req;
        ctx->deferred = a.deferred;
        client_get_ttl(req->client, req->db, resp_req_arg(req, 1), done_getex_error, ctx);
        return;
    }
    rmw(req, &a.p, done_rmw_old);
}

/* ---- multi-key: MGET, MSET, MSETNX ---------------------------------------------------- */

typedef struct keys_ctx {
    resp_req *req;
    bs_slice *keys;   /* owned array of slices into req->argv: kept until the callback, */
    bs_slice *values; /* since the client may retry after the call returned */
    bool nx;          /* MSETNX */
} keys_ctx;

static keys_ctx *keys_ctx_new(resp_req *req, size_t n, bool values)
{
    keys_ctx *ctx = bs_malloc(sizeof(*ctx));
    ctx->req = req;
    ctx->keys = bs_malloc(n * sizeof(bs_slice));
    ctx->values = values ? bs_malloc(n * sizeof(bs_slice)) : NULL;
    ctx->nx = false;
    return ctx;
}

static void keys_ctx_free(keys_ctx *ctx)
{
    bs_free(ctx->keys);
    bs_free(ctx->values);
    bs_free(ctx);
}

static void done_mget(void *arg, client_result *res)
{
    keys_ctx *ctx = arg;
    resp_req *req = ctx->req;
    keys_ctx_free(ctx);
    if (!call_ok(req, res))
        return;
    resp_reply_mget(&req->o, req, &res->pairs);
    resp_req_finish(req);
}

/* MGET: one Region's keys are read from one snapshot; keys over several Regions are read
 * by a transaction at one start_ts, so the values are one point in time there too. */
static void cmd_mget(resp_req *req)
{
    size_t n = req->argc - 1;
    keys_ctx *ctx = keys_ctx_new(req, n, false);
    for (size_t i = 0; i < n; i++)
        ctx->keys[i] = resp_req_arg(req, i + 1);
    if (n > 1 && !client_keys_one_region(req->client, req->db, ctx->keys, n)) {
        keys_ctx_free(ctx);
        resp_exec_single(req, 0);
        return;
    }
    client_batch_get(req->client, req->db, ctx->keys, n, done_mget, ctx);
}

/* MSET and MSETNX: one atomic multi-key write in a Region, a transaction across Regions. */
static void done_mset_generic(void *arg, client_result *res)
{
    keys_ctx *ctx = arg;
    resp_req *req = ctx->req;
    bool nx = ctx->nx;
    keys_ctx_free(ctx);
    if (resp_is_crossregion(res)) {
        resp_exec_single(req, 0);
        return;
    }
    if (!call_ok(req, res))
        return;
    if (nx)
        resp_reply_int(&req->o, res->applied ? 1 : 0);
    else
        resp_reply_ok(&req->o);
    resp_req_finish(req);
}

/* MSET/MSETNX k1 v1 k2 v2 ...: the store applies the pairs in request order, so a key
 * given twice ends with its last value, as in Redis. */
static void mset_generic(resp_req *req, bool nx)
{
    if (!resp_args_mset(req, nx)) {
        resp_req_finish(req);
        return;
    }
    size_t n = (req->argc - 1) / 2;
    keys_ctx *ctx = keys_ctx_new(req, n, true);
    for (size_t i = 0; i < n; i++) {
        ctx->keys[i] = resp_req_arg(req, 1 + 2 * i);
        ctx->values[i] = resp_req_arg(req, 2 + 2 * i);
    }
    client_multi_req m = {.op = nx ? CLIENT_MULTI_MSETNX : CLIENT_MULTI_MSET,
                          .keyspace = req->db,
                          .keys = ctx->keys,
                          .values = ctx->values,
                          .n = n};
    ctx->nx = nx;
    client_multi(req->client, &m, done_mset_generic, ctx);
}

static void cmd_mset(resp_req *req)
{
    mset_generic(req, false);
}

static void cmd_msetnx(resp_req *req)
{
    mset_generic(req, true);
}

/* ---- APPEND, STRLEN, GETRANGE, SETRANGE ----------------------------------------------- */

static void cmd_append(resp_req *req)
{
    txn_rmw_params p = {.op = TXN_RMW_APPEND, .arg = resp_req_arg(req, 2)};
    rmw(req, &p, done_rmw_int);
}

static void done_strlen(void *arg, client_result *res)
{
    resp_req *req = arg;
    if (res->code == BS_NOTFOUND)
        resp_reply_int(&req->o, 0);
    else if (!call_ok(req, res))
        return;
    else
        resp_reply_int(&req->o, (long long)res->value.len);
    resp_req_finish(req);
}

static void cmd_strlen(resp_req *req)
{
    client_get(req->client, req->db, resp_req_arg(req, 1), done_strlen, req);
}

typedef struct range_ctx {
    resp_req *req;
    long long start, end;
} range_ctx;

static void done_getrange(void *arg, client_result *res)
{
    range_ctx *ctx = arg;
    resp_req *req = ctx->req;
    long long start = ctx->start, end = ctx->end;
    bs_free(ctx);
    if (res->code == BS_NOTFOUND)
        resp_reply_getrange(&req->o, BS_SLICE_NULL, start, end);
    else if (!call_ok(req, res))
        return;
    else
        resp_reply_getrange(&req->o, bs_buf_slice(&res->value), start, end);
    resp_req_finish(req);
}

/* GETRANGE key start end (and SUBSTR, its old name). */
static void cmd_getrange(resp_req *req)
{
    long long start, end;
    if (!resp_args_getrange(req, &start, &end)) {
        resp_req_finish(req);
        return;
    }
    range_ctx *ctx = bs_malloc(sizeof(*ctx));
    ctx->req = req;
    ctx->start = start;
    ctx->end = end;
    client_get(req->client, req->db, resp_req_arg(req, 1), done_getrange, ctx);
}

static void cmd_setrange(resp_req *req)
{
    txn_rmw_params p;
    if (!resp_args_setrange(req, &p)) {
        resp_req_finish(req);
        return;
    }
    rmw(req, &p, done_rmw_int);
}

/* ---- INCR family ------------------------------------------------------------------------ */

static void incr_generic(resp_req *req, resp_incr_kind kind)
{
    txn_rmw_params p;
    if (!resp_args_incr(req, kind, &p)) {
        resp_req_finish(req);
        return;
    }
    rmw(req, &p, kind == RESP_INCRBYFLOAT ? done_incrbyfloat : done_rmw_int);
}

static void cmd_incr(resp_req *req)
{
    incr_generic(req, RESP_INCR);
}

static void cmd_decr(resp_req *req)
{
    incr_generic(req, RESP_DECR);
}

static void cmd_incrby(resp_req *req)
{
    incr_generic(req, RESP_INCRBY);
}

static void cmd_decrby(resp_req *req)
{
    incr_generic(req, RESP_DECRBY);
}

static void cmd_incrbyfloat(resp_req *req)
{
    incr_generic(req, RESP_INCRBYFLOAT);
}

/* ---- the table --------------------------------------------------------------------------- */

#define W RESP_CMD_WRITE
#define R RESP_CMD_READONLY
#define F RESP_CMD_FAST
#define D RESP_CMD_DENYOOM

const resp_command resp_cmds_string[] = {
    {"get", 2, R | F, 1, 1, 1, "string", "Get the value of a key", "1.0.0", cmd_get, NULL},
    {"set", -3, W | D, 1, 1, 1, "string", "Set the string value of a key", "1.0.0", cmd_set, NULL},
    {"setnx", 3, W | D | F, 1, 1, 1, "string",
     "Set the value of a key, only if the key does not exist", "1.0.0", cmd_setnx, NULL},
    {"setex", 4, W | D, 1, 1, 1, "string", "Set the value and expiration of a key", "2.0.0",
     cmd_setex, NULL},
    {"psetex", 4, W | D, 1, 1, 1, "string", "Set the value and expiration in milliseconds of a key",
     "2.6.0", cmd_psetex, NULL},
    {"getset", 3, W | D | F, 1, 1, 1, "string",
     "Set the string value of a key and return its old value", "1.0.0", cmd_getset, NULL},
    {"getdel", 2, W | F, 1, 1, 1, "string", "Get the value of a key and delete the key", "6.2.0",
     cmd_getdel, NULL},
    {"getex", -2, W | F, 1, 1, 1, "string",
     "Get the value of a key and optionally set its expiration", "6.2.0", cmd_getex, NULL},
    {"mget", -2, R | F, 1, -1, 1, "string", "Get the values of all the given keys", "1.0.0",
     cmd_mget, NULL},
    {"mset", -3, W | D, 1, -1, 2, "string", "Set multiple keys to multiple values", "1.0.1",
     cmd_mset, NULL},
    {"msetnx", -3, W | D, 1, -1, 2, "string",
     "Set multiple keys to multiple values, only if none of the keys exist", "1.0.1", cmd_msetnx,
     NULL},
    {"append", 3, W | D | F, 1, 1, 1, "string", "Append a value to a key", "2.0.0", cmd_append,
     NULL},
    {"strlen", 2, R | F, 1, 1, 1, "string", "Get the length of the value stored in a key", "2.2.0",
     cmd_strlen, NULL},
    {"getrange", 4, R, 1, 1, 1, "string", "Get a substring of the string stored at a key", "2.4.0",
     cmd_getrange, NULL},
    {"substr", 4, R, 1, 1, 1, "string", "Get a substring of the string stored at a key", "1.0.0",
     cmd_getrange, NULL},
    {"setrange", 4, W | D, 1, 1, 1, "string",
     "Overwrite part of a string at key starting at the specified offset", "2.2.0", cmd_setrange,
     NULL},
    {"incr", 2, W | D | F, 1, 1, 1, "string", "Increment the integer value of a key by one",
     "1.0.0", cmd_incr, NULL},
    {"decr", 2, W | D | F, 1, 1, 1, "string", "Decrement the integer value of a key by one",
     "1.0.0", cmd_decr, NULL},
    {"incrby", 3, W | D | F, 1, 1, 1, "string",
     "Increment the integer value of a key by the given amount", "1.0.0", cmd_incrby, NULL},
    {"decrby", 3, W | D | F, 1, 1, 1, "string",
     "Decrement the integer value of a key by the given number", "1.0.0", cmd_decrby, NULL},
    {"incrbyfloat", 3, W | D | F, 1, 1, 1, "string",
     "Increment the float value of a key by the given amount", "2.6.0", cmd_incrbyfloat, NULL},
    {"lcs", -3, R, 1, 2, 1, "string", "Find longest common substring", "7.0.0", resp_cmd_lcs, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
