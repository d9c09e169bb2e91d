/* exec.c -- the transaction executor's engine: one run of commands inside one Percolator
 * transaction, re-run on write conflicts (exec_int.h says what a run is).
 *
 *   BEGIN -> BEGUN -> (CMDS <-> READ)* -> COMMIT -> COMMITTED -> END
 *     ^                                                   | conflict: rewind
 *     +------------------ RESUMED <- BACKOFF <------------+
 *
 * The gate. Client calls complete either before they return (a lease read on the calling
 * thread) or later on another thread. The engine must neither recurse on the first kind
 * (a MULTI of 100 000 GETs would overflow the stack) nor race on the second, so every call
 * goes through a three-state gate: CALLING while the call is being made; the callback sets
 * DONE and, when it finds WAITING, resumes the loop itself; the caller, after the call
 * returns, moves CALLING -> WAITING and returns, or finds DONE and goes on in its own
 * loop. Exactly one side continues. */
#include <string.h>

#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "resp/exec_int.h"

/* Write conflicts on keys nobody watched re-run the transaction, as often as it takes:
 * Redis never fails an EXEC for them, and each conflict means another transaction
 * committed, so the server as a whole progresses. Between attempts the run waits a random
 * time (full jitter) below a cap that doubles from 1 ms to 64 ms, so hot-key contenders
 * spread out instead of colliding again in lock step. The only bound is time: a run still
 * conflicting after EXEC_CONFLICT_BUDGET_MS gives up with an error. Under contention each
 * attempt loses only to a transaction that committed, so with N contenders on one key a
 * run waits for about N commits (milliseconds each); a minute is out of reach in practice
 * and is there so that a broken store cannot hold a connection forever. */
#define EXEC_CONFLICT_BUDGET_MS 60000
#define EXEC_BACKOFF_CAP_MS 64

enum { ST_BEGIN, ST_BEGUN, ST_CMDS, ST_READ, ST_COMMIT, ST_COMMITTED, ST_BACKOFF, ST_RESUMED,
       ST_END };
enum { G_CALLING, G_WAITING, G_DONE };
enum { RD_GET, RD_MGET, RD_SCAN };

/* ---- commands ------------------------------------------------------------------------------ */

void resp_xcmd_init(resp_xcmd *c, size_t argc, bs_buf *argv, uint32_t db, int proto)
{
    memset(c, 0, sizeof(*c));
    c->req.argc = argc;
    c->req.argv = argv;
    c->req.db = db;
    c->req.proto = proto;
    bs_buf_init(&c->req.out);
    resp_out_init_buf(&c->req.o, &c->req.out, proto);
    bs_buf_init(&c->v0);
    bs_buf_init(&c->cur);
    bs_buf_init(&c->end);
    bs_buf_init(&c->start0);
    bs_buf_init(&c->acc);
}

void resp_xcmd_deinit(resp_xcmd *c)
{
    if (c->owns_argv) {
        for (size_t i = 0; i < c->req.argc; i++)
            bs_buf_free(&c->req.argv[i]);
        bs_free(c->req.argv);
    }
    bs_free(c->keys);
    bs_buf_free(&c->req.out);
    bs_buf_free(&c->v0);
    bs_buf_free(&c->cur);
    bs_buf_free(&c->end);
    bs_buf_free(&c->start0);
    bs_buf_free(&c->acc);
    memset(c, 0, sizeof(*c));
}

void resp_xcmd_rewind(resp_xcmd *c)
{
    c->stage = 0;
    bs_buf_reset(&c->req.out);
    bs_buf_reset(&c->v0);
    c->found0 = false;
    c->exp0 = 0;
    bs_buf_set(&c->cur, c->start0.ptr, c->start0.len);
    c->walk_db = 0;
    c->count = 0;
    bs_buf_reset(&c->acc);
}

/* ---- the gate -------------------------------------------------------------------------------- */

static void run(resp_exec *x);

static void gate_enter(resp_exec *x)
{
    atomic_store(&x->gate, G_CALLING);
}

/* After the call returned: true when it already completed (the caller goes on). */
static bool gate_completed(resp_exec *x)
{
    int expect = G_CALLING;
    return !atomic_compare_exchange_strong(&x->gate, &expect, G_WAITING);
}

/* In a callback, after storing its result: resumes the run when the caller has left. */
static void gate_complete(resp_exec *x)
{
    if (atomic_exchange(&x->gate, G_DONE) == G_WAITING)
        run(x);
}

/* ---- client callbacks ------------------------------------------------------------------------ */

static void clear_res(client_result *r)
{
    bs_buf_free(&r->value);
    txn_pairs_free(&r->pairs);
    bs_buf_free(&r->previous_value);
    bs_buf_free(&r->rmw.old_value);
    bs_buf_free(&r->rmw.new_value);
    memset(r, 0, sizeof(*r));
}

static void on_begin(void *arg, int code, client_txn *txn, const char *msg)
{
    resp_exec *x = arg;
    x->call_code = code;
    x->txn = txn;
    snprintf(x->call_msg, sizeof(x->call_msg), "%s", msg ? msg : "");
    gate_complete(x);
}

static void on_read(void *arg, client_result *res)
{
    resp_exec *x = arg;
    clear_res(&x->res);
    x->res = *res; /* move: the client lets a callback take its buffers */
    res->value = (bs_buf)BS_BUF_INIT;
    txn_pairs_init(&res->pairs);
    res->previous_value = (bs_buf)BS_BUF_INIT;
    res->rmw.old_value = (bs_buf)BS_BUF_INIT;
    res->rmw.new_value = (bs_buf)BS_BUF_INIT;
    gate_complete(x);
}

static void on_commit(void *arg, const client_txn_result *res)
{
    resp_exec *x = arg;
    x->call_code = res->code;
    x->commit_error = res->error;
    snprintf(x->call_msg, sizeof(x->call_msg), "%s", res->msg);
    gate_complete(x);
}

/* ---- reads and writes for the forms ---------------------------------------------------------- */

resp_xstep resp_x_get(resp_exec *x, resp_xcmd *c, bs_slice key)
{
    x->rd_kind = RD_GET;
    x->rd_db = c->req.db;
    x->rd_key = key;
    return XSTEP_READ;
}

resp_xstep resp_x_mget(resp_exec *x, resp_xcmd *c, const bs_slice *keys, size_t n)
{
    x->rd_kind = RD_MGET;
    x->rd_db = c->req.db;
    x->rd_keys = keys;
    x->rd_n = n;
    return XSTEP_READ;
}

resp_xstep resp_x_scan(resp_exec *x, const client_scan_req *req)
{
    x->rd_kind = RD_SCAN;
    x->rd_scan = *req;
    return XSTEP_READ;
}

static void note_write(resp_exec *x, int rc, const bs_err *err)
{
    if (rc != BS_OK && !x->write_failed) {
        x->write_failed = true;
        snprintf(x->msg, sizeof(x->msg), "%s", err->msg);
    }
}

void resp_x_put(resp_exec *x, resp_xcmd *c, bs_slice key, bs_slice value, uint64_t expire_ms)
{
    bs_err err;
    bs_err_clear(&err);
    note_write(x, client_txn_put(x->txn, c->req.db, key, value, expire_ms, &err), &err);
}

void resp_x_del(resp_exec *x, uint32_t db, bs_slice key)
{
    bs_err err;
    bs_err_clear(&err);
    note_write(x, client_txn_delete(x->txn, db, key, &err), &err);
}

/* ---- the run --------------------------------------------------------------------------------- */

static bool needs_txn(const resp_exec *x)
{
    if (x->nw > 0)
        return true; /* even with nothing to run: the watches must hold at commit */
    for (size_t i = 0; i < x->n; i++)
        if (x->cmds[i].kind == XC_TXN)
            return true;
    return false;
}

/* Ends the run with an error of the whole transaction (nothing applied). */
static void fail(resp_exec *x, const char *what, const char *msg)
{
    char text[BS_ERR_MSG_MAX];
    snprintf(text, sizeof(text), "%s", msg && msg[0] ? msg : "failed"); /* msg may be x->msg */
    x->outcome = RESP_X_ERR;
    snprintf(x->msg, sizeof(x->msg), "%s: %.200s", what, text);
    if (x->txn) {
        client_txn_free(x->txn); /* nothing reached the store: the buffer is dropped */
        x->txn = NULL;
    }
    x->state = ST_END;
}

/* After a write conflict: everything again at a fresh start_ts. */
static void rewind_all(resp_exec *x)
{
    for (size_t i = 0; i < x->n; i++)
        if (x->cmds[i].kind == XC_TXN)
            resp_xcmd_rewind(&x->cmds[i]);
    x->write_failed = false;
    x->state = ST_BEGIN;
}

static void committed(resp_exec *x)
{
    client_txn_free(x->txn);
    x->txn = NULL;
    x->state = ST_END;
    switch (x->commit_error) {
    case CLIENT_TXN_OK:
        x->outcome = RESP_X_OK;
        return;
    case CLIENT_TXN_ERR_WATCH:
        x->outcome = RESP_X_NIL;
        return;
    case CLIENT_TXN_ERR_CONFLICT:
        if (bs_clock_mono_ms() - x->first_ms < EXEC_CONFLICT_BUDGET_MS) {
            rewind_all(x);
            x->state = ST_BACKOFF;
            return;
        }
        x->outcome = RESP_X_ERR;
        snprintf(x->msg, sizeof(x->msg),
                 "transaction aborted: %u attempts over %d s all met write conflicts; try again",
                 x->attempts, EXEC_CONFLICT_BUDGET_MS / 1000);
        return;
    case CLIENT_TXN_ERR_UNKNOWN:
        x->outcome = RESP_X_ERR;
        snprintf(x->msg, sizeof(x->msg), "transaction outcome unknown: %.200s", x->call_msg);
        return;
    case CLIENT_TXN_ERR_FAILED:
        x->outcome = RESP_X_ERR;
        snprintf(x->msg, sizeof(x->msg), "transaction failed: %.200s", x->call_msg);
        return;
    }
}

static void issue_read(resp_exec *x)
{
    if (x->rd_kind == RD_GET)
        client_txn_get(x->txn, x->rd_db, x->rd_key, on_read, x);
    else if (x->rd_kind == RD_MGET)
        client_txn_batch_get(x->txn, x->rd_db, x->rd_keys, x->rd_n, on_read, x);
    else
        client_txn_scan(x->txn, &x->rd_scan, on_read, x);
}

/* splitmix64 over a shared counter and the clock: the jitter needs spread, not secrecy. */
static uint64_t jitter_rand(void)
{
    static _Atomic uint64_t counter;
    uint64_t z = atomic_fetch_add(&counter, 0x9E3779B97F4A7C15ull) ^ (uint64_t)bs_clock_mono_ns();
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The wait before attempt x->attempts + 1 (see EXEC_CONFLICT_BUDGET_MS): none before the
 * first re-run, then a random time below a cap that doubles per attempt. */
static uint32_t backoff_ms(const resp_exec *x)
{
    if (x->attempts < 2)
        return 0;
    unsigned shift = x->attempts - 2 < 6 ? x->attempts - 2 : 6;
    uint32_t cap = 1u << shift;
    if (cap > EXEC_BACKOFF_CAP_MS)
        cap = EXEC_BACKOFF_CAP_MS;
    return (uint32_t)(jitter_rand() % (cap + 1));
}

void resp_exec_resume(resp_exec *x, bool go_on)
{
    x->resume_ok = go_on;
    gate_complete(x);
}

static void add_watches(resp_exec *x)
{
    for (size_t i = 0; i < x->nw; i++) {
        bs_err err;
        bs_err_clear(&err);
        note_write(x, client_txn_watch(x->txn, x->watches[i].db, x->watches[i].key,
                                       &x->watches[i].w, &err), &err);
    }
}

static void run(resp_exec *x)
{
    for (;;) {
        switch (x->state) {
        case ST_BEGIN: {
            client_txn_options o = {.serializable = true};
            if (!x->txns) {
                fail(x, "cannot begin the transaction", "no cluster client");
                break;
            }
            x->attempts++;
            x->state = ST_BEGUN;
            gate_enter(x);
            client_txn_begin(x->txns, &o, on_begin, x);
            if (!gate_completed(x))
                return;
            break;
        }
        case ST_BEGUN:
            if (x->call_code != BS_OK) {
                x->txn = NULL;
                fail(x, "cannot begin the transaction", x->call_msg);
                break;
            }
            add_watches(x);
            x->pc = 0;
            x->state = ST_CMDS;
            break;
        case ST_CMDS: {
            if (x->write_failed) {
                fail(x, "cannot buffer a write", x->msg);
                break;
            }
            if (x->pc == x->n) {
                x->state = ST_COMMIT;
                break;
            }
            resp_xcmd *c = &x->cmds[x->pc];
            if (c->kind != XC_TXN) {
                x->pc++;
                break;
            }
            if (c->spec->run(x, c) == XSTEP_DONE) {
                x->pc++;
                break;
            }
            x->state = ST_READ;
            gate_enter(x);
            issue_read(x);
            if (!gate_completed(x))
                return;
            break;
        }
        case ST_READ:
            if (x->res.code != BS_OK && x->res.code != BS_NOTFOUND) {
                fail(x, "read failed", x->res.msg[0] ? x->res.msg : bs_strerror(x->res.code));
                break;
            }
            x->cmds[x->pc].stage++;
            x->state = ST_CMDS;
            break;
        case ST_COMMIT:
            x->state = ST_COMMITTED;
            gate_enter(x);
            client_txn_commit(x->txn, on_commit, x);
            if (!gate_completed(x))
                return;
            break;
        case ST_COMMITTED:
            committed(x);
            break;
        case ST_BACKOFF: {
            uint32_t ms = backoff_ms(x);
            if (ms == 0 || !x->delay) {
                x->state = ST_BEGIN;
                break;
            }
            x->state = ST_RESUMED;
            gate_enter(x);
            x->delay(x, ms);
            if (!gate_completed(x))
                return;
            break;
        }
        case ST_RESUMED:
            if (!x->resume_ok) {
                fail(x, "transaction abandoned", "the connection or the server is closing");
                break;
            }
            x->state = ST_BEGIN;
            break;
        case ST_END:
            clear_res(&x->res);
            x->done(x); /* may free x */
            return;
        }
    }
}

void resp_exec_start(resp_exec *x)
{
    atomic_init(&x->gate, G_DONE);
    x->first_ms = bs_clock_mono_ms();
    x->outcome = RESP_X_OK;
    x->state = needs_txn(x) ? ST_BEGIN : ST_END;
    run(x);
}
