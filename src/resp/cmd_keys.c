/* cmd_keys.c -- Redis's generic key commands (DEL, EXISTS, TYPE, the EXPIRE and TTL
 * families, PERSIST, RENAME, COPY, DBSIZE, FLUSHDB/FLUSHALL, MEMORY USAGE) and the table
 * of the key family (SCAN, KEYS and RANDOMKEY live in cmd_scan.c).
 *
 * Arguments are checked in Redis 7's order with its error texts (db.c, expire.c,
 * object.c); the parsers and reply builders shared with the transaction executor are the
 * resp_args_* / resp_reply_* of resp_int.h. Multi-key commands Redis makes atomic (DEL of
 * several keys, EXISTS, RENAME, COPY) are one client_multi when their keys share a Region
 * (atomic there, under the keys' latches) and a transaction of their own otherwise
 * (resp_exec_single), so they are atomic wherever the keys live. COPY to another database
 * writes another keyspace, so it is always a transaction (ktxn_job below). The TTL family
 * answers from the expiry as stored (client_get_ttl). EXPIRE and PERSIST
 * depend on the current TTL, so they are client_rmw, run on the key's leader under its
 * latch. */
#include <limits.h>
#include <string.h>

#include "common/clock.h"
#include "resp/conn_int.h" /* the server's settings (databases) */
#include "resp/exec_int.h" /* COPY DB n runs as a transaction */
#include "resp/resp_int.h"

/* True when the client call succeeded; otherwise replies its error and finishes req. */
static bool call_ok(resp_req *req, client_result *res)
{
    if (res->code == BS_OK)
        return true;
    resp_reply_client_error(req, res);
    return false;
}

bool resp_is_crossregion(const client_result *res)
{
    return res->code != BS_OK && strncmp(res->msg, "-CROSSREGION", 12) == 0;
}

/* A request's keys argv[first..argc) as slices, kept until the client's callback (the
 * client may retry after the call returned). */
typedef struct keys_ctx {
    resp_req *req;
    bs_slice *keys;
    size_t n;
} keys_ctx;

static keys_ctx *keys_ctx_new(resp_req *req, size_t first)
{
    keys_ctx *ctx = bs_calloc(1, sizeof(*ctx));
    ctx->req = req;
    ctx->n = req->argc - first;
    ctx->keys = bs_malloc(ctx->n * sizeof(bs_slice));
    for (size_t i = 0; i < ctx->n; i++)
        ctx->keys[i] = resp_req_arg(req, first + i);
    return ctx;
}

static void keys_ctx_free(keys_ctx *ctx)
{
    bs_free(ctx->keys);
    bs_free(ctx);
}

/* ---- DEL, UNLINK ------------------------------------------------------------------------- */

static void done_count(void *arg, client_result *res)
{
    keys_ctx *ctx = arg;
    resp_req *req = ctx->req;
    keys_ctx_free(ctx);
    if (resp_is_crossregion(res)) {
        resp_exec_single(req, 0);
        return;
    }
    if (!call_ok(req, res))
        return;
    resp_reply_int(&req->o, (long long)res->count);
    resp_req_finish(req);
}

/* DEL k1 k2 ...: one atomic multi-key delete; the store counts a key named twice once, as
 * Redis (which deletes one key after the other) does. UNLINK is the same here: a delete is
 * a Raft entry either way, never a blocking free. */
static void cmd_del(resp_req *req)
{
    keys_ctx *ctx = keys_ctx_new(req, 1);
    client_multi_req m = {
        .op = CLIENT_MULTI_DEL, .keyspace = req->db, .keys = ctx->keys, .n = ctx->n};
    client_multi(req->client, &m, done_count, ctx);
}

/* ---- EXISTS, TOUCH ------------------------------------------------------------------------ */

/* Every key is read at one point in time: one snapshot in a Region, a transaction's
 * start_ts across Regions (a key named twice counts twice, as in Redis). */
static void cmd_exists(resp_req *req)
{
    keys_ctx *ctx = keys_ctx_new(req, 1);
    client_multi_req m = {
        .op = CLIENT_MULTI_EXISTS, .keyspace = req->db, .keys = ctx->keys, .n = ctx->n};
    client_multi(req->client, &m, done_count, ctx);
}

/* ---- TYPE ---------------------------------------------------------------------------------- */

static void done_type(void *arg, client_result *res)
{
    resp_req *req = arg;
    if (res->code == BS_NOTFOUND)
        resp_reply_simple_str(&req->o, "none");
    else if (!call_ok(req, res))
        return;
    else
        resp_reply_simple_str(&req->o, "string");
    resp_req_finish(req);
}

static void cmd_type(resp_req *req)
{
    client_get_ttl(req->client, req->db, resp_req_arg(req, 1), done_type, req);
}

/* ---- EXPIRE family ----------------------------------------------------------------------- */

static void done_rmw_applied(void *arg, client_result *res)
{
    resp_req *req = arg;
    if (!call_ok(req, res))
        return;
    resp_reply_rmw(&req->o, RESP_RMW_APPLIED, &res->rmw);
    resp_req_finish(req);
}

/* EXPIRE key time [NX|XX|GT|LT] and its PEXPIRE/EXPIREAT/PEXPIREAT forms: basetime is
 * now for the relative ones and 0 for the *AT ones. As Redis, options are checked before
 * the time, negative times are allowed (they delete), overflow is an error. */
bool resp_args_expire(resp_req *req, bool relative, bool seconds, txn_rmw_params *p)
{
    const char *name = relative ? (seconds ? "expire" : "pexpire")
                                : (seconds ? "expireat" : "pexpireat");
    unsigned flags = 0;
    for (size_t j = 3; j < req->argc; j++) {
        bs_slice a = resp_req_arg(req, j);
        if (resp_arg_is(a, "nx")) {
            flags |= TXN_EXPIRE_NX;
        } else if (resp_arg_is(a, "xx")) {
            flags |= TXN_EXPIRE_XX;
        } else if (resp_arg_is(a, "gt")) {
            flags |= TXN_EXPIRE_GT;
        } else if (resp_arg_is(a, "lt")) {
            flags |= TXN_EXPIRE_LT;
        } else {
            /* Redis formats the option with %s, so it ends at a NUL byte as here. */
            char *opt = bs_malloc(a.len + 1);
            if (a.len)
                memcpy(opt, a.ptr, a.len);
            opt[a.len] = '\0';
            resp_reply_errorf(&req->o, "Unsupported option %s", opt);
            bs_free(opt);
            return false;
        }
    }
    if ((flags & TXN_EXPIRE_NX) && (flags & (TXN_EXPIRE_XX | TXN_EXPIRE_GT | TXN_EXPIRE_LT))) {
        resp_reply_error_str(&req->o,
                             "NX and XX, GT or LT options at the same time are not compatible");
        return false;
    }
    if ((flags & TXN_EXPIRE_GT) && (flags & TXN_EXPIRE_LT)) {
        resp_reply_error_str(&req->o, "GT and LT options at the same time are not compatible");
        return false;
    }
    long long when, base = relative ? bs_clock_wall_ms() : 0;
    if (!resp_parse_ll(resp_req_arg(req, 2), &when)) {
        resp_reply_error_str(&req->o, RESP_ERR_NOT_INTEGER);
        return false;
    }
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)
            goto invalid;
        when *= 1000;
    }
    if (when > LLONG_MAX - base)
        goto invalid;
    when += base;
    memset(p, 0, sizeof(*p));
    p->op = TXN_RMW_EXPIRE;
    p->flags = flags;
    p->has_expire = true;
    p->expire_at_ms = when;
    return true;
invalid:
    resp_reply_errorf(&req->o, "invalid expire time in '%s' command", name);
    return false;
}

static void expire_generic(resp_req *req, bool relative, bool seconds)
{
    txn_rmw_params p;
    if (!resp_args_expire(req, relative, seconds, &p)) {
        resp_req_finish(req);
        return;
    }
    client_rmw(req->client, req->db, resp_req_arg(req, 1), &p, done_rmw_applied, req);
}

static void cmd_expire(resp_req *req)
{
    expire_generic(req, true, true);
}

static void cmd_pexpire(resp_req *req)
{
    expire_generic(req, true, false);
}

static void cmd_expireat(resp_req *req)
{
    expire_generic(req, false, true);
}

static void cmd_pexpireat(resp_req *req)
{
    expire_generic(req, false, false);
}

static void cmd_persist(resp_req *req)
{
    txn_rmw_params p = {.op = TXN_RMW_PERSIST};
    client_rmw(req->client, req->db, resp_req_arg(req, 1), &p, done_rmw_applied, req);
}

/* ---- TTL family ------------------------------------------------------------------------- */

/* -2 for a missing key, -1 for one without TTL (expire_ms 0), else the TTL left or the
 * absolute expiry time (exactly as stored), seconds rounded to the nearest as Redis's
 * ttlGenericCommand does. A key expiring this very millisecond has 1 ms left. */
void resp_reply_expiry(resp_out *o, resp_ttl_kind kind, bool found, uint64_t expire_ms)
{
    if (!found) {
        resp_reply_int(o, -2);
        return;
    }
    if (expire_ms == 0) {
        resp_reply_int(o, -1);
        return;
    }
    uint64_t v = expire_ms;
    if (kind == RESP_TTL_S || kind == RESP_TTL_MS) {
        uint64_t now = (uint64_t)bs_clock_wall_ms();
        v = expire_ms > now ? expire_ms - now : 1;
    }
    if (v > (uint64_t)LLONG_MAX)
        v = (uint64_t)LLONG_MAX; /* PEXPIREAT allows LLONG_MAX */
    bool ms = kind == RESP_TTL_MS || kind == RESP_EXPIRETIME_MS;
    /* (v + 500) / 1000 without overflow at LLONG_MAX */
    resp_reply_int(o, (long long)(ms ? v : v / 1000 + (v % 1000 >= 500 ? 1 : 0)));
}

typedef struct ttl_ctx {
    resp_req *req;
    resp_ttl_kind kind;
} ttl_ctx;

static void done_ttl(void *arg, client_result *res)
{
    ttl_ctx *ctx = arg;
    resp_req *req = ctx->req;
    resp_ttl_kind kind = ctx->kind;
    bs_free(ctx);
    if (res->code != BS_OK && res->code != BS_NOTFOUND) {
        resp_reply_client_error(req, res);
        return;
    }
    resp_reply_expiry(&req->o, kind, res->code == BS_OK, res->expire_ms);
    resp_req_finish(req);
}

static void ttl_generic(resp_req *req, resp_ttl_kind kind)
{
    ttl_ctx *ctx = bs_malloc(sizeof(*ctx));
    ctx->req = req;
    ctx->kind = kind;
    client_get_ttl(req->client, req->db, resp_req_arg(req, 1), done_ttl, ctx);
}

static void cmd_ttl(resp_req *req)
{
    ttl_generic(req, RESP_TTL_S);
}

static void cmd_pttl(resp_req *req)
{
    ttl_generic(req, RESP_TTL_MS);
}


/* ---- RENAME, RENAMENX, COPY ------------------------------------------------------------------ */

typedef struct pair_ctx {
    resp_req *req;
    bool nx;             /* RENAMENX */
    long long databases; /* COPY: for resp_exec_single */
    bs_slice keys[2];    /* kept until the callback */
} pair_ctx;

/* RENAME/RENAMENX with source == destination: nothing moves, but a missing key is still
 * "no such key". */
static void done_rename_same(void *arg, client_result *res)
{
    pair_ctx *ctx = arg;
    resp_req *req = ctx->req;
    bool nx = ctx->nx;
    bs_free(ctx);
    if (res->code == BS_NOTFOUND) {
        resp_reply_error_str(&req->o, RESP_ERR_NO_SUCH_KEY);
    } else if (!call_ok(req, res)) {
        return;
    } else if (nx) {
        resp_reply_int(&req->o, 0);
    } else {
        resp_reply_ok(&req->o);
    }
    resp_req_finish(req);
}

static void done_rename(void *arg, client_result *res)
{
    pair_ctx *ctx = arg;
    resp_req *req = ctx->req;
    bool nx = ctx->nx;
    bs_free(ctx);
    if (resp_is_crossregion(res)) {
        resp_exec_single(req, 0);
        return;
    }
    if (res->code == BS_NOTFOUND)
        resp_reply_error_str(&req->o, RESP_ERR_NO_SUCH_KEY);
    else if (!call_ok(req, res))
        return;
    else if (nx)
        resp_reply_int(&req->o, res->applied ? 1 : 0);
    else
        resp_reply_ok(&req->o);
    resp_req_finish(req);
}

static void rename_generic(resp_req *req, bool nx)
{
    pair_ctx *ctx = bs_malloc(sizeof(*ctx));
    ctx->req = req;
    ctx->nx = nx;
    ctx->databases = 0;
    ctx->keys[0] = resp_req_arg(req, 1);
    ctx->keys[1] = resp_req_arg(req, 2);
    if (bs_slice_eq(ctx->keys[0], ctx->keys[1])) {
        client_get_ttl(req->client, req->db, ctx->keys[0], done_rename_same, ctx);
        return;
    }
    client_multi_req m = {.op = nx ? CLIENT_MULTI_RENAMENX : CLIENT_MULTI_RENAME,
                          .keyspace = req->db,
                          .keys = ctx->keys,
                          .n = 2};
    client_multi(req->client, &m, done_rename, ctx);
}

static void cmd_rename(resp_req *req)
{
    rename_generic(req, false);
}

static void cmd_renamenx(resp_req *req)
{
    rename_generic(req, true);
}

static void done_copy(void *arg, client_result *res)
{
    pair_ctx *ctx = arg;
    resp_req *req = ctx->req;
    long long databases = ctx->databases;
    bs_free(ctx);
    if (resp_is_crossregion(res)) {
        resp_exec_single(req, databases);
        return;
    }
    if (res->code == BS_NOTFOUND) /* no source: nothing copied */
        resp_reply_int(&req->o, 0);
    else if (!call_ok(req, res))
        return;
    else
        resp_reply_int(&req->o, res->applied ? 1 : 0);
    resp_req_finish(req);
}

/* COPY source destination [DB destination-db] [REPLACE], checked in Redis 7's order
 * (copyCommand): each option as it comes, then source == destination within one database.
 * *dbid: the destination database. */
bool resp_args_copy(resp_req *req, long long databases, bool *replace, uint32_t *dbid)
{
    long long db = req->db;
    *replace = false;
    for (size_t j = 3; j < req->argc; j++) {
        bs_slice a = resp_req_arg(req, j);
        if (resp_arg_is(a, "replace")) {
            *replace = true;
        } else if (resp_arg_is(a, "db") && j + 1 < req->argc) {
            /* Redis's getIntFromObjectOrReply: two texts, not an integer / not an int. */
            if (!resp_parse_ll(resp_req_arg(req, j + 1), &db)) {
                resp_reply_error_str(&req->o, RESP_ERR_NOT_INTEGER);
                return false;
            }
            if (db < INT_MIN || db > INT_MAX) {
                resp_reply_error_str(&req->o, "value is out of range, value must between "
                                              "-2147483648 and 2147483647");
                return false;
            }
            if (db < 0 || db >= databases) {
                resp_reply_error_str(&req->o, "DB index is out of range");
                return false;
            }
            j++;
        } else {
            resp_reply_error_str(&req->o, RESP_ERR_SYNTAX);
            return false;
        }
    }
    if (db == (long long)req->db && bs_slice_eq(resp_req_arg(req, 1), resp_req_arg(req, 2))) {
        resp_reply_error_str(&req->o, "source and destination objects are the same");
        return false;
    }
    *dbid = (uint32_t)db;
    return true;
}

/* ---- COPY to another database: a transaction of its own -------------------------------
 *
 * Writes to two keyspaces commit atomically only through the transaction API, so COPY ...
 * DB n runs as one command through the transaction engine (exec.c) with COPY's
 * transactional form (exec_cmds.c): serializable (the source read joins the commit as a
 * Lock), re-run on a write conflict after the engine's random wait (armed on the
 * connection's loop, as EXEC's), atomic across keyspaces and Regions. */
typedef struct ktxn_job {
    resp_exec x;
    resp_xcmd c;          /* the command; argv borrowed from req */
    resp_xspec spec;
    resp_req *req;
    uint32_t delay_ms;
} ktxn_job;

static void ktxn_done(resp_exec *x)
{
    ktxn_job *j = x->owner;
    resp_req *req = j->req;
    if (x->outcome == RESP_X_OK)
        resp_reply_raw(&req->o, j->c.req.out.ptr, j->c.req.out.len);
    else
        resp_reply_error_str(&req->o, x->outcome == RESP_X_ERR ? x->msg : "transaction aborted");
    resp_xcmd_deinit(&j->c);
    bs_free(j);
    resp_req_finish(req);
}

static void ktxn_delay_fired(void *arg, bool fired)
{
    ktxn_job *j = arg;
    resp_exec_resume(&j->x, fired);
}

static void ktxn_delay_arm(void *arg, bool alive)
{
    ktxn_job *j = arg;
    if (!alive) {
        resp_exec_resume(&j->x, false);
        return;
    }
    resp_after(j->req->srv, j->delay_ms, ktxn_delay_fired, j);
}

static void ktxn_delay(resp_exec *x, uint32_t ms)
{
    ktxn_job *j = x->owner;
    j->delay_ms = ms;
    resp_req_on_loop(j->req, ktxn_delay_arm, j);
}

static ktxn_job *ktxn_new(resp_req *req, resp_xcmd_fn run)
{
    ktxn_job *j = bs_calloc(1, sizeof(*j));
    j->req = req;
    resp_xcmd_init(&j->c, req->argc, req->argv, req->db, req->proto);
    j->spec.name = "";
    j->spec.run = run;
    j->c.kind = XC_TXN;
    j->c.spec = &j->spec;
    return j;
}

static void ktxn_start(ktxn_job *j)
{
    client *cl = j->req->client;
    j->x.client = cl;
    j->x.txns = cl ? client_txns_of(cl) : NULL; /* NULL: the engine fails the run */
    j->x.cmds = &j->c;
    j->x.n = 1;
    j->x.done = ktxn_done;
    j->x.delay = ktxn_delay;
    j->x.owner = j;
    resp_exec_start(&j->x);
}

static void cmd_copy(resp_req *req)
{
    bool replace;
    uint32_t dst_db;
    long long databases = req->srv->set.databases; /* read on the loop thread */
    if (!resp_args_copy(req, databases, &replace, &dst_db)) {
        resp_req_finish(req);
        return;
    }
    if (dst_db != req->db) {
        /* Two keyspaces: one transaction, COPY's form inside MULTI (exec_cmds.c). */
        ktxn_job *j = ktxn_new(req, resp_x_copy);
        j->c.flag = replace;
        j->c.src_db = req->db;
        j->c.dst_db = dst_db;
        ktxn_start(j);
        return;
    }
    pair_ctx *ctx = bs_malloc(sizeof(*ctx));
    ctx->req = req;
    ctx->nx = false;
    ctx->databases = databases;
    ctx->keys[0] = resp_req_arg(req, 1);
    ctx->keys[1] = resp_req_arg(req, 2);
    client_multi_req m = {.op = CLIENT_MULTI_COPY,
                          .keyspace = req->db,
                          .keys = ctx->keys,
                          .n = 2,
                          .flags = replace ? CLIENT_MULTI_REPLACE : 0};
    client_multi(req->client, &m, done_copy, ctx);
}

static void cmd_expiretime(resp_req *req)
{
    ttl_generic(req, RESP_EXPIRETIME_S);
}

static void cmd_pexpiretime(resp_req *req)
{
    ttl_generic(req, RESP_EXPIRETIME_MS);
}

/* ---- DBSIZE, FLUSHDB, FLUSHALL ------------------------------------------------------------ */

static void done_dbsize(void *arg, client_result *res)
{
    resp_req *req = arg;
    if (!call_ok(req, res))
        return;
    resp_reply_int(&req->o, (long long)res->count);
    resp_req_finish(req);
}

static void cmd_dbsize(resp_req *req)
{
    client_count(req->client, req->db, done_dbsize, req);
}

static void done_flush(void *arg, client_result *res)
{
    resp_req *req = arg;
    if (!call_ok(req, res))
        return;
    resp_reply_ok(&req->o);
    resp_req_finish(req);
}

/* FLUSHDB/FLUSHALL [ASYNC|SYNC]: both reply once every key is gone (ASYNC's promise,
 * that the keys are unreachable at once, holds a fortiori). */
bool resp_args_flush(resp_req *req)
{
    if (req->argc > 2 || (req->argc == 2 && !resp_arg_is(resp_req_arg(req, 1), "sync") &&
                          !resp_arg_is(resp_req_arg(req, 1), "async"))) {
        resp_reply_error_str(&req->o, RESP_ERR_SYNTAX);
        return false;
    }
    return true;
}

static void flush_generic(resp_req *req, uint32_t keyspace)
{
    if (!resp_args_flush(req)) {
        resp_req_finish(req);
        return;
    }
    client_delete_all(req->client, keyspace, done_flush, req);
}

static void cmd_flushdb(resp_req *req)
{
    flush_generic(req, req->db);
}

static void cmd_flushall(resp_req *req)
{
    flush_generic(req, CLIENT_ALL_KEYSPACES);
}

/* ---- MEMORY USAGE, MEMORY HELP ----------------------------------------------------------- */

/* What one string costs Basalt, in bytes: the key as stored (API v2 prefix, memcomparable
 * groups of 8 bytes plus a marker byte each, the 8-byte version timestamp), the value with
 * its RawKV header (flags byte and an 8-byte expiry), and about 32 bytes of RocksDB entry
 * overhead (internal key trailer, length varints, its share of index and filter blocks).
 * One replica's storage before compression, not the process's memory: Basalt keeps data in
 * RocksDB, not in the heap. */
long long resp_memory_estimate(size_t key_len, size_t value_len)
{
    size_t encoded_key = ((4 + key_len) / 8 + 1) * 9 + 8;
    return (long long)(encoded_key + value_len + 9 + 32);
}

static void done_memory_usage(void *arg, client_result *res)
{
    resp_req *req = arg;
    if (res->code == BS_NOTFOUND)
        resp_reply_null_bulk(&req->o);
    else if (!call_ok(req, res))
        return;
    else
        resp_reply_int(&req->o, resp_memory_estimate(resp_req_arg(req, 2).len, res->value.len));
    resp_req_finish(req);
}

/* MEMORY USAGE key [SAMPLES count]: SAMPLES only matters for nested types in Redis; it is
 * checked the same way and has no effect on a string. */
bool resp_args_memory_usage(resp_req *req)
{
    for (size_t j = 3; j < req->argc; j++) {
        long long samples;
        if (resp_arg_is(resp_req_arg(req, j), "samples") && j + 1 < req->argc) {
            if (!resp_parse_ll(resp_req_arg(req, j + 1), &samples)) {
                resp_reply_error_str(&req->o, RESP_ERR_NOT_INTEGER);
                return false;
            }
            if (samples < 0) {
                resp_reply_error_str(&req->o, RESP_ERR_SYNTAX);
                return false;
            }
            j++;
        } else {
            resp_reply_error_str(&req->o, RESP_ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

static void cmd_memory_usage(resp_req *req)
{
    if (!resp_args_memory_usage(req)) {
        resp_req_finish(req);
        return;
    }
    client_get(req->client, req->db, resp_req_arg(req, 2), done_memory_usage, req);
}

static void cmd_memory_help(resp_req *req)
{
    static const char *const lines[] = {
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        NULL,
    };
    resp_reply_help(&req->o, "MEMORY", lines);
    resp_req_finish(req);
}

/* ---- the tables ------------------------------------------------------------------------------ */

#define W RESP_CMD_WRITE
#define R RESP_CMD_READONLY
#define F RESP_CMD_FAST
#define D RESP_CMD_DENYOOM

static const resp_command memory_subcommands[] = {
    {"usage", -3, R, 2, 2, 1, "server", "Estimate the memory usage of a key", "4.0.0",
     cmd_memory_usage, NULL},
    {"help", 2, RESP_CMD_LOADING | RESP_CMD_STALE, 0, 0, 0, "server",
     "Show helpful text about the different subcommands", "4.0.0", cmd_memory_help, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

const resp_command resp_cmds_keys[] = {
    {"del", -2, W, 1, -1, 1, "generic", "Delete a key", "1.0.0", cmd_del, NULL},
    {"unlink", -2, W | F, 1, -1, 1, "generic",
     "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non "
     "blocking.",
     "4.0.0", cmd_del, NULL},
    {"exists", -2, R | F, 1, -1, 1, "generic", "Determine if a key exists", "1.0.0", cmd_exists,
     NULL},
    {"type", 2, R | F, 1, 1, 1, "generic", "Determine the type stored at key", "1.0.0", cmd_type,
     NULL},
    {"touch", -2, R | F, 1, -1, 1, "generic",
     "Alters the last access time of a key(s). Returns the number of existing keys "
     "specified.",
     "3.2.1", cmd_exists, NULL},
    {"expire", -3, W | F, 1, 1, 1, "generic", "Set a key's time to live in seconds", "1.0.0",
     cmd_expire, NULL},
    {"pexpire", -3, W | F, 1, 1, 1, "generic", "Set a key's time to live in milliseconds", "2.6.0",
     cmd_pexpire, NULL},
    {"expireat", -3, W | F, 1, 1, 1, "generic", "Set the expiration for a key as a UNIX timestamp",
     "1.2.0", cmd_expireat, NULL},
    {"pexpireat", -3, W | F, 1, 1, 1, "generic",
     "Set the expiration for a key as a UNIX timestamp specified in milliseconds", "2.6.0",
     cmd_pexpireat, NULL},
    {"expiretime", 2, R | F, 1, 1, 1, "generic", "Get the expiration Unix timestamp for a key",
     "7.0.0", cmd_expiretime, NULL},
    {"pexpiretime", 2, R | F, 1, 1, 1, "generic",
     "Get the expiration Unix timestamp for a key in milliseconds", "7.0.0", cmd_pexpiretime, NULL},
    {"ttl", 2, R | F, 1, 1, 1, "generic", "Get the time to live for a key in seconds", "1.0.0",
     cmd_ttl, NULL},
    {"pttl", 2, R | F, 1, 1, 1, "generic", "Get the time to live for a key in milliseconds",
     "2.6.0", cmd_pttl, NULL},
    {"persist", 2, W | F, 1, 1, 1, "generic", "Remove the expiration from a key", "2.2.0",
     cmd_persist, NULL},
    {"keys", 2, R, 0, 0, 0, "generic", "Find all keys matching the given pattern", "1.0.0",
     resp_cmd_keys, NULL},
    {"scan", -2, R, 0, 0, 0, "generic", "Incrementally iterate the keys space", "2.8.0",
     resp_cmd_scan, NULL},
    {"randomkey", 1, R, 0, 0, 0, "generic", "Return a random key from the keyspace", "1.0.0",
     resp_cmd_randomkey, NULL},
    {"rename", 3, W, 1, 2, 1, "generic", "Rename a key", "1.0.0", cmd_rename, NULL},
    {"renamenx", 3, W | F, 1, 2, 1, "generic", "Rename a key, only if the new key does not exist",
     "1.0.0", cmd_renamenx, NULL},
    /* A barrier: COPY ... DB n writes a key of another database, which the connection's
     * ordering (conn.c hashes keys with the connection's database) cannot see, so a
     * pipelined SELECT n; GET dst must wait for the copy as a whole. */
    {"copy", -3, W | D | RESP_CMD_BARRIER, 1, 2, 1, "generic", "Copy a key", "6.2.0", cmd_copy,
     NULL},
    {"dbsize", 1, R | F, 0, 0, 0, "server", "Return the number of keys in the selected database",
     "1.0.0", cmd_dbsize, NULL},
    {"flushdb", -1, W, 0, 0, 0, "server", "Remove all keys from the current database", "1.0.0",
     cmd_flushdb, NULL},
    {"flushall", -1, W, 0, 0, 0, "server", "Remove all keys from all databases", "1.0.0",
     cmd_flushall, NULL},
    {"memory", -2, 0, 0, 0, 0, "server", "A container for memory diagnostics commands", "4.0.0",
     NULL, memory_subcommands},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
