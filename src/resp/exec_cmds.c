/* exec_cmds.c -- every data command in its transactional form, for MULTI/EXEC and for the
 * multi-key commands whose keys span Regions (exec_int.h's state machines).
 *
 * Each form parses its arguments with the raw handler's parser (resp_args_*), reads at the
 * transaction's start_ts (plus what the transaction buffered before), decides, buffers its
 * writes and replies with the raw handler's reply builder (resp_reply_*), so a command
 * answers the same inside EXEC and alone. Read-modify-writes decide with txn_rmw_apply,
 * the store's own rules for client_rmw. Expiry: a value read carries its absolute expiry;
 * TTLs given relative to now are made absolute when the command runs.
 *
 * The keyspace commands (KEYS, SCAN, DBSIZE, RANDOMKEY, FLUSHDB, FLUSHALL) walk the
 * transaction's snapshot page by page with client_txn_scan, so they see the writes queued
 * before them and FLUSHDB/FLUSHALL delete, inside the transaction, every key the snapshot
 * holds: atomic with the rest of the EXEC. Every key they read joins the commit as a Lock
 * mutation when the transaction writes (client.h's serializable mode), so such an EXEC
 * conflicts with any concurrent write to the database it walked; a key created after
 * start_ts in a range it walked is not seen (client.h: phantoms are not detected).
 *
 * The table at the end maps each command to its parser and form; commands that differ only
 * in a constant (INCR and DECRBY, EXPIRE and PEXPIREAT) share both and tell themselves
 * apart by the row's variant. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
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
            resp_x_del(x, c->req.db, key);
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

/* The read-modify-writes whose parameters are fixed but for the value argument. */
enum { RMW_SETNX, RMW_GETSET, RMW_GETDEL, RMW_APPEND, RMW_PERSIST };

static const struct {
    txn_rmw_op op;
    resp_rmw_reply reply;
    bool value; /* argv[2] is the operand */
} simple_rmw[] = {
    [RMW_SETNX] = {TXN_RMW_SETNX, RESP_RMW_APPLIED, true},
    [RMW_GETSET] = {TXN_RMW_GETSET, RESP_RMW_OLD, true},
    [RMW_GETDEL] = {TXN_RMW_GETDEL, RESP_RMW_OLD, false},
    [RMW_APPEND] = {TXN_RMW_APPEND, RESP_RMW_INT, true},
    [RMW_PERSIST] = {TXN_RMW_PERSIST, RESP_RMW_APPLIED, false},
};

static bool prep_rmw(resp_xcmd *c, const resp_xenv *env, int v)
{
    c->p = (txn_rmw_params){.op = simple_rmw[v].op};
    if (simple_rmw[v].value)
        c->p.arg = arg(c, 2);
    c->rk = simple_rmw[v].reply;
    return true;
}

static bool prep_setrange(resp_xcmd *c, const resp_xenv *env, int v)
{
    c->rk = RESP_RMW_INT;
    return resp_args_setrange(&c->req, &c->p);
}

/* v: the resp_incr_kind. */
static bool prep_incr(resp_xcmd *c, const resp_xenv *env, int v)
{
    c->rk = v == RESP_INCRBYFLOAT ? RESP_RMW_FLOAT : RESP_RMW_INT;
    return resp_args_incr(&c->req, (resp_incr_kind)v, &c->p);
}

/* v: EXP_* bits. */
enum { EXP_REL = 1, EXP_SEC = 2 };

static bool prep_expire(resp_xcmd *c, const resp_xenv *env, int v)
{
    c->rk = RESP_RMW_APPLIED;
    return resp_args_expire(&c->req, v & EXP_REL, v & EXP_SEC, &c->p);
}

/* ---- single-key reads: GET, STRLEN, GETRANGE, TYPE, the TTL family, MEMORY USAGE ------------- */

/* Each reads one key (argv[key]) and replies from what it found (x->res: BS_OK with the
 * value and its absolute expiry, or BS_NOTFOUND). */
typedef void (*read_reply_fn)(resp_exec *x, resp_xcmd *c, bool found, int arg);

static void reply_get(resp_exec *x, resp_xcmd *c, bool found, int unused)
{
    if (found)
        resp_reply_bulk(&c->req.o, x->res.value.ptr, x->res.value.len);
    else
        resp_reply_null_bulk(&c->req.o);
}

static void reply_strlen(resp_exec *x, resp_xcmd *c, bool found, int unused)
{
    resp_reply_int(&c->req.o, found ? (long long)x->res.value.len : 0);
}

/* c->a, c->b: the range (prep_getrange). */
static void reply_getrange(resp_exec *x, resp_xcmd *c, bool found, int unused)
{
    resp_reply_getrange(&c->req.o, found ? bs_buf_slice(&x->res.value) : BS_SLICE_NULL, c->a,
                        c->b);
}

static void reply_type(resp_exec *x, resp_xcmd *c, bool found, int unused)
{
    resp_reply_simple_str(&c->req.o, found ? "string" : "none");
}

/* kind: the resp_ttl_kind. */
static void reply_ttl(resp_exec *x, resp_xcmd *c, bool found, int kind)
{
    resp_reply_expiry(&c->req.o, (resp_ttl_kind)kind, found, found ? x->res.expire_ms : 0);
}

static void reply_memory_usage(resp_exec *x, resp_xcmd *c, bool found, int unused)
{
    if (found)
        resp_reply_int(&c->req.o, resp_memory_estimate(arg(c, 2).len, x->res.value.len));
    else
        resp_reply_null_bulk(&c->req.o);
}

enum { RD_GET, RD_STRLEN, RD_GETRANGE, RD_TYPE, RD_TTL, RD_PTTL, RD_EXPIRETIME, RD_PEXPIRETIME,
       RD_MEMORY_USAGE };

static const struct {
    size_t key; /* the key's argument */
    read_reply_fn reply;
    int arg;
} reads[] = {
    [RD_GET] = {1, reply_get, 0},
    [RD_STRLEN] = {1, reply_strlen, 0},
    [RD_GETRANGE] = {1, reply_getrange, 0},
    [RD_TYPE] = {1, reply_type, 0},
    [RD_TTL] = {1, reply_ttl, RESP_TTL_S},
    [RD_PTTL] = {1, reply_ttl, RESP_TTL_MS},
    [RD_EXPIRETIME] = {1, reply_ttl, RESP_EXPIRETIME_S},
    [RD_PEXPIRETIME] = {1, reply_ttl, RESP_EXPIRETIME_MS},
    [RD_MEMORY_USAGE] = {2, reply_memory_usage, 0},
};

/* The single-key read of kind v (RD_*). */
static resp_xstep read_one(resp_exec *x, resp_xcmd *c, int v)
{
    if (c->stage == 0)
        return resp_x_get(x, c, arg(c, reads[v].key));
    reads[v].reply(x, c, x->res.code == BS_OK, reads[v].arg);
    return XSTEP_DONE;
}

static resp_xstep x_read(resp_exec *x, resp_xcmd *c)
{
    return read_one(x, c, c->spec->variant);
}

static bool prep_getrange(resp_xcmd *c, const resp_xenv *env, int v)
{
    return resp_args_getrange(&c->req, &c->a, &c->b);
}

static bool prep_memory_usage(resp_xcmd *c, const resp_xenv *env, int v)
{
    return resp_args_memory_usage(&c->req);
}

/* ---- SET and its variants, GETEX ------------------------------------------------------------- */

/* A relative TTL made absolute now (0 = none). */
static uint64_t expire_at(uint64_t ttl_ms)
{
    return ttl_ms ? now_ms() + ttl_ms : 0;
}

static bool prep_set(resp_xcmd *c, const resp_xenv *env, int v)
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

/* A plain put of argv[1] = argv[value] with c->ttl_ms, replying +OK. */
static resp_xstep put_ok(resp_exec *x, resp_xcmd *c, size_t value)
{
    resp_x_put(x, c, arg(c, 1), arg(c, value), expire_at(c->ttl_ms));
    resp_reply_ok(&c->req.o);
    return XSTEP_DONE;
}

static resp_xstep x_set(resp_exec *x, resp_xcmd *c)
{
    return c->flag ? put_ok(x, c, 2) : x_rmw(x, c);
}

/* v: the TTL is in seconds (SETEX), not milliseconds (PSETEX). */
static bool prep_setex(resp_xcmd *c, const resp_xenv *env, int v)
{
    return resp_args_setex(&c->req, v, &c->ttl_ms);
}

static resp_xstep x_setex(resp_exec *x, resp_xcmd *c)
{
    return put_ok(x, c, 3);
}

static bool prep_getex(resp_xcmd *c, const resp_xenv *env, int v)
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
        return read_one(x, c, RD_GET);
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

static bool prep_keys_all(resp_xcmd *c, const resp_xenv *env, int v)
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

static resp_xstep x_mset(resp_exec *x, resp_xcmd *c)
{
    /* In argument order: a key given twice keeps its last value. */
    for (size_t i = 1; i + 1 < c->req.argc; i += 2)
        resp_x_put(x, c, arg(c, i), arg(c, i + 1), 0);
    resp_reply_ok(&c->req.o);
    return XSTEP_DONE;
}

/* v: MSETNX (its keys are read first), not MSET. */
static bool prep_mset(resp_xcmd *c, const resp_xenv *env, int v)
{
    if (!resp_args_mset(&c->req, v))
        return false;
    if (v)
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

/* ---- DEL, UNLINK, EXISTS, TOUCH -------------------------------------------------------------- */

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
        resp_x_del(x, c->req.db, live[i]);
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

/* ---- RENAME, RENAMENX, COPY ------------------------------------------------------------------ */

/* Keeps the source as read (value and expiry) for the later stages. */
static void keep_source(resp_exec *x, resp_xcmd *c)
{
    c->found0 = x->res.code == BS_OK;
    bs_buf_set(&c->v0, x->res.value.ptr, x->res.value.len);
    c->exp0 = c->found0 ? x->res.expire_ms : 0;
}

/* v: RENAMENX, not RENAME. */
static bool prep_rename(resp_xcmd *c, const resp_xenv *env, int v)
{
    c->flag = v;
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
    resp_x_del(x, c->req.db, src);
    if (nx)
        resp_reply_int(&c->req.o, 1);
    else
        resp_reply_ok(&c->req.o);
    return XSTEP_DONE;
}

static bool prep_copy(resp_xcmd *c, const resp_xenv *env, int v)
{
    c->src_db = c->req.db;
    return resp_args_copy(&c->req, env->databases, &c->flag, &c->dst_db);
}

/* COPY src dst [DB n] [REPLACE] (c->flag: REPLACE; c->src_db, c->dst_db): dst gets src's
 * value and absolute expiry unless dst is live. The engine reads and writes c->req.db, so
 * each stage sets it first (a re-run starts over at stage 0). */
resp_xstep resp_x_copy(resp_exec *x, resp_xcmd *c)
{
    if (c->stage == 0) {
        c->req.db = c->src_db;
        return resp_x_get(x, c, arg(c, 1));
    }
    if (c->stage == 1) {
        keep_source(x, c);
        if (!c->found0) {
            resp_reply_int(&c->req.o, 0);
            return XSTEP_DONE;
        }
        if (!c->flag) {
            c->req.db = c->dst_db;
            return resp_x_get(x, c, arg(c, 2));
        }
    } else if (x->res.code == BS_OK) { /* the destination is live, no REPLACE */
        resp_reply_int(&c->req.o, 0);
        return XSTEP_DONE;
    }
    c->req.db = c->dst_db;
    resp_x_put(x, c, arg(c, 2), bs_buf_slice(&c->v0), c->exp0);
    resp_reply_int(&c->req.o, 1);
    return XSTEP_DONE;
}

/* ---- LCS ------------------------------------------------------------------------------------- */

static bool prep_lcs(resp_xcmd *c, const resp_xenv *env, int v)
{
    if (!resp_args_lcs(&c->req, env->proto_max_bulk_len, &c->lcs))
        return false;
    c->keys = bs_calloc(2, sizeof(bs_slice));
    c->keys[0] = arg(c, 1);
    c->keys[1] = arg(c, 2);
    c->nkeys = 2;
    return true;
}

static resp_xstep x_lcs(resp_exec *x, resp_xcmd *c)
{
    if (c->stage == 0)
        return resp_x_mget(x, c, c->keys, c->nkeys);
    /* The live keys come in request order; a missing one is an empty string. */
    const txn_pairs *p = &x->res.pairs;
    bs_slice v[2] = {BS_SLICE_NULL, BS_SLICE_NULL};
    for (size_t i = 0, k = 0; i < 2; i++)
        if (k < p->n && bs_slice_eq(bs_buf_slice(&p->v[k].key), c->keys[i]))
            v[i] = bs_buf_slice(&p->v[k++].value);
    resp_reply_lcs(&c->req.o, &c->lcs, v[0], v[1]);
    return XSTEP_DONE;
}

/* ---- walks of the keyspace: DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHDB, FLUSHALL ----------------- */

/* Reads the next page of db's keys from c->cur (to c->end when c->has_end). */
static resp_xstep walk_read(resp_exec *x, resp_xcmd *c, uint32_t db, uint32_t limit)
{
    client_scan_req s = {.keyspace = db,
                         .start = bs_buf_slice(&c->cur),
                         .end = bs_buf_slice(&c->end),
                         .has_end = c->has_end,
                         .limit = limit,
                         .key_only = true};
    return resp_x_scan(x, &s);
}

/* After a page read with limit: true when keys may follow, c->cur then being the first key
 * after the page's last (a short page means the range is exhausted). */
static bool walk_advance(resp_exec *x, resp_xcmd *c, uint32_t limit)
{
    const txn_pairs *p = &x->res.pairs;
    if (p->n < limit)
        return false;
    bs_buf_set(&c->cur, p->v[p->n - 1].key.ptr, p->v[p->n - 1].key.len);
    bs_buf_append_byte(&c->cur, 0);
    return true;
}

static resp_xstep x_dbsize(resp_exec *x, resp_xcmd *c)
{
    if (c->stage > 0) {
        c->count += (long long)x->res.pairs.n;
        if (!walk_advance(x, c, RESP_KEYS_PAGE)) {
            resp_reply_int(&c->req.o, c->count);
            return XSTEP_DONE;
        }
    }
    return walk_read(x, c, c->req.db, RESP_KEYS_PAGE);
}

/* c->b: no key can match (the reply is empty at once). */
static bool prep_keys(resp_xcmd *c, const resp_xenv *env, int v)
{
    c->b = !resp_keys_range(arg(c, 1), &c->flag, &c->cur, &c->end, &c->has_end);
    bs_buf_set(&c->start0, c->cur.ptr, c->cur.len);
    return true;
}

static resp_xstep x_keys(resp_exec *x, resp_xcmd *c)
{
    if (c->b) {
        resp_reply_array(&c->req.o, 0);
        return XSTEP_DONE;
    }
    if (c->stage == 0)
        return walk_read(x, c, c->req.db, RESP_KEYS_PAGE);
    resp_out acc;
    resp_out_init_buf(&acc, &c->acc, c->req.proto);
    const txn_pairs *p = &x->res.pairs;
    for (size_t i = 0; i < p->n; i++) {
        bs_slice k = bs_buf_slice(&p->v[i].key);
        if (c->flag || resp_glob_match(arg(c, 1), k, false)) {
            resp_reply_bulk_slice(&acc, k);
            c->count++;
        }
    }
    if (walk_advance(x, c, RESP_KEYS_PAGE))
        return walk_read(x, c, c->req.db, RESP_KEYS_PAGE);
    resp_reply_array(&c->req.o, (size_t)c->count);
    resp_reply_raw(&c->req.o, c->acc.ptr, c->acc.len);
    return XSTEP_DONE;
}

/* c->b: no key can match (the reply is the empty, complete page). */
static bool prep_scan(resp_xcmd *c, const resp_xenv *env, int v)
{
    if (!resp_args_scan(&c->req, &c->scan))
        return false;
    c->b = !resp_scan_range(c->req.db, &c->scan, &c->cur, &c->end, &c->has_end);
    bs_buf_set(&c->start0, c->cur.ptr, c->cur.len);
    return true;
}

static resp_xstep x_scan(resp_exec *x, resp_xcmd *c)
{
    if (c->b) {
        resp_reply_scan(&c->req.o, 0, NULL, &c->scan);
        return XSTEP_DONE;
    }
    if (c->stage == 0)
        return walk_read(x, c, c->req.db, c->scan.limit);
    /* The cursor is saved now, in every attempt: one that is re-run after a conflict, or
     * whose EXEC fails, leaves an entry nobody resumes from, which the table's LRU bound
     * evicts in time (scan_cursor.c). */
    const txn_pairs *p = &x->res.pairs;
    resp_reply_scan(&c->req.o, resp_scan_next_cursor(c->req.db, &c->scan, p), p, &c->scan);
    return XSTEP_DONE;
}

/* One of the page's keys at random (p->n > 0). */
static bs_slice pick(const txn_pairs *p)
{
    return bs_buf_slice(&p->v[resp_randomkey_pick(p->n)].key);
}

/* RANDOMKEY as cmd_scan.c does it, on the snapshot: the first page; if that is not the
 * whole database, the last key (in c->acc), a random pivot between the first (c->v0) and
 * the last, and a pick among the keys from the pivot on. */
static resp_xstep x_randomkey(resp_exec *x, resp_xcmd *c)
{
    const txn_pairs *p = &x->res.pairs;
    switch (c->stage) {
    case 0:
        return walk_read(x, c, c->req.db, RESP_RANDOMKEY_PAGE);
    case 1: {
        if (p->n < RESP_RANDOMKEY_PAGE) { /* the whole database is in hand */
            if (p->n == 0)
                resp_reply_null_bulk(&c->req.o);
            else
                resp_reply_bulk_slice(&c->req.o, pick(p));
            return XSTEP_DONE;
        }
        bs_buf_set(&c->v0, p->v[0].key.ptr, p->v[0].key.len);
        client_scan_req last = {.keyspace = c->req.db, .limit = 1, .key_only = true,
                                .reverse = true}; /* empty start in reverse: the end */
        return resp_x_scan(x, &last);
    }
    case 2:
        if (p->n == 0) { /* unreachable on a snapshot that had keys; kept total */
            resp_reply_null_bulk(&c->req.o);
            return XSTEP_DONE;
        }
        bs_buf_set(&c->acc, p->v[0].key.ptr, p->v[0].key.len);
        if (!resp_randomkey_pivot(bs_buf_slice(&c->v0), bs_buf_slice(&c->acc), &c->cur)) {
            resp_reply_bulk_slice(&c->req.o, bs_buf_slice(&c->acc));
            return XSTEP_DONE;
        }
        return walk_read(x, c, c->req.db, RESP_RANDOMKEY_PAGE);
    default:
        if (p->n == 0) /* the pivot fell after the last key */
            resp_reply_bulk_slice(&c->req.o, bs_buf_slice(&c->acc));
        else
            resp_reply_bulk_slice(&c->req.o, pick(p));
        return XSTEP_DONE;
    }
}

/* v: FLUSHALL (every database: c->a of them), not FLUSHDB. */
static bool prep_flush(resp_xcmd *c, const resp_xenv *env, int v)
{
    c->a = v ? env->databases : 0;
    return resp_args_flush(&c->req);
}

/* Deletes, page by page, every key of the database (FLUSHALL: of each database in turn)
 * that the snapshot overlaid with the writes before holds. */
static resp_xstep x_flush(resp_exec *x, resp_xcmd *c)
{
    bool all = c->a > 0;
    uint32_t db = all ? c->walk_db : c->req.db;
    if (c->stage > 0) {
        const txn_pairs *p = &x->res.pairs;
        for (size_t i = 0; i < p->n; i++)
            resp_x_del(x, db, bs_buf_slice(&p->v[i].key));
        if (!walk_advance(x, c, RESP_KEYS_PAGE)) {
            if (!all || (long long)++c->walk_db >= c->a) {
                resp_reply_ok(&c->req.o);
                return XSTEP_DONE;
            }
            db = c->walk_db;
            bs_buf_reset(&c->cur);
        }
    }
    return walk_read(x, c, db, RESP_KEYS_PAGE);
}

/* ---- the table ------------------------------------------------------------------------------- */

static const resp_xspec specs[] = {
    {"append", prep_rmw, x_rmw, RMW_APPEND},
    {"copy", prep_copy, resp_x_copy, 0},
    {"dbsize", NULL, x_dbsize, 0},
    {"decr", prep_incr, x_rmw, RESP_DECR},
    {"decrby", prep_incr, x_rmw, RESP_DECRBY},
    {"del", prep_keys_all, x_del, 0},
    {"exists", prep_keys_all, x_exists, 0},
    {"expire", prep_expire, x_rmw, EXP_REL | EXP_SEC},
    {"expireat", prep_expire, x_rmw, EXP_SEC},
    {"expiretime", NULL, x_read, RD_EXPIRETIME},
    {"flushall", prep_flush, x_flush, 1},
    {"flushdb", prep_flush, x_flush, 0},
    {"get", NULL, x_read, RD_GET},
    {"getdel", prep_rmw, x_rmw, RMW_GETDEL},
    {"getex", prep_getex, x_getex, 0},
    {"getrange", prep_getrange, x_read, RD_GETRANGE},
    {"getset", prep_rmw, x_rmw, RMW_GETSET},
    {"incr", prep_incr, x_rmw, RESP_INCR},
    {"incrby", prep_incr, x_rmw, RESP_INCRBY},
    {"incrbyfloat", prep_incr, x_rmw, RESP_INCRBYFLOAT},
    {"keys", prep_keys, x_keys, 0},
    {"lcs", prep_lcs, x_lcs, 0},
    {"memory|usage", prep_memory_usage, x_read, RD_MEMORY_USAGE},
    {"mget", prep_keys_all, x_mget, 0},
    {"mset", prep_mset, x_mset, 0},
    {"msetnx", prep_mset, x_msetnx, 1},
    {"persist", prep_rmw, x_rmw, RMW_PERSIST},
    {"pexpire", prep_expire, x_rmw, EXP_REL},
    {"pexpireat", prep_expire, x_rmw, 0},
    {"pexpiretime", NULL, x_read, RD_PEXPIRETIME},
    {"psetex", prep_setex, x_setex, 0},
    {"pttl", NULL, x_read, RD_PTTL},
    {"randomkey", NULL, x_randomkey, 0},
    {"rename", prep_rename, x_rename, 0},
    {"renamenx", prep_rename, x_rename, 1},
    {"scan", prep_scan, x_scan, 0},
    {"set", prep_set, x_set, 0},
    {"setex", prep_setex, x_setex, 1},
    {"setnx", prep_rmw, x_rmw, RMW_SETNX},
    {"setrange", prep_setrange, x_rmw, 0},
    {"strlen", NULL, x_read, RD_STRLEN},
    {"substr", prep_getrange, x_read, RD_GETRANGE},
    {"touch", prep_keys_all, x_exists, 0},
    {"ttl", NULL, x_read, RD_TTL},
    {"type", NULL, x_read, RD_TYPE},
    {"unlink", prep_keys_all, x_del, 0},
};

/* The forms indexed by the command registry's idx, built once. */
static const resp_xspec **by_idx;
static pthread_once_t by_idx_once = PTHREAD_ONCE_INIT;

static void by_idx_build(void)
{
    by_idx = bs_calloc(resp_commands_count(), sizeof(*by_idx));
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        bs_slice name = bs_slice_from_str(specs[i].name);
        const uint8_t *bar = memchr(name.ptr, '|', name.len);
        const resp_cmd_def *d;
        if (bar) {
            size_t n = (size_t)(bar - name.ptr);
            const resp_cmd_def *parent = resp_commands_lookup(bs_slice_make(name.ptr, n));
            BS_ASSERT(parent);
            d = resp_commands_lookup_sub(parent, bs_slice_make(bar + 1, name.len - n - 1));
        } else {
            d = resp_commands_lookup(name);
        }
        BS_ASSERT(d); /* every form names a command of the table */
        by_idx[d->idx] = &specs[i];
    }
}

const resp_xspec *resp_xspec_of(const resp_cmd_def *d)
{
    pthread_once(&by_idx_once, by_idx_build);
    return d ? by_idx[d->idx] : NULL;
}
