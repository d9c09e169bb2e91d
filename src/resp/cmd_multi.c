/* cmd_multi.c -- MULTI, EXEC, DISCARD, WATCH, UNWATCH (Redis 7's multi.c semantics over
 * Percolator transactions, DESIGN.md "Data model"), and the single-command transactions of
 * multi-key commands whose keys span Regions.
 *
 * Connection state (conn_int.h's resp_multi_state, loop thread only). MULTI starts
 * queueing: dispatch (conn.c) hands every later command except EXEC, DISCARD, MULTI,
 * WATCH, QUIT and RESET to resp_multi_queue, which answers +QUEUED. A command that cannot
 * be queued (unknown, wrong arity, NOAUTH, NO_MULTI) gets its error and flags the
 * transaction: EXEC then answers -EXECABORT and discards it, as Redis's DIRTY_EXEC.
 *
 * WATCH reads each key's newest version at a fresh TSO timestamp (client_watch_get) and
 * records it on the connection once every read is back (on the loop thread). EXEC turns
 * the records into watch assertions of its transaction: any newer version, or the expiry
 * of a key that was live at WATCH, fails the commit and EXEC answers a null array. Writes
 * by this very connection count too, as in Redis. EXEC, DISCARD and UNWATCH forget every
 * watch; so do RESET and the connection's end.
 *
 * EXEC. Barrier command: it runs once every earlier data command (WATCHes included) has
 * replied. The queued commands are sorted out (resp_xkind): string and key commands run
 * inside the transaction (exec.c, exec_cmds.c); connection and server commands (PING,
 * ECHO, SELECT, CLIENT, CONFIG, INFO...) run for real after the commit, on the loop thread,
 * in their order, through sub-requests; data commands with no transactional form (DBSIZE,
 * KEYS, SCAN, RANDOMKEY, FLUSHDB, FLUSHALL, LCS, MEMORY USAGE) reply a per-command error.
 * A SELECT or HELLO queued before a data command decides the database and protocol that
 * command runs with (simulated ahead of the real run, by the same rules). An EXEC that runs
 * connection commands is exclusive: later commands wait for its reply and then see the
 * state it left. The reply is one array assembled from every command's reply, in order. */
#include <string.h>

#include "common/assert.h"
#include "resp/exec_int.h"

#define F_TXN (RESP_CMD_NOSCRIPT | RESP_CMD_LOADING | RESP_CMD_STALE)

/* ---- the queue ------------------------------------------------------------------------------- */

static void free_argv(size_t argc, bs_buf *argv)
{
    for (size_t i = 0; i < argc; i++)
        bs_buf_free(&argv[i]);
}

static void exec_cmd(resp_req *req);

/* How a queued command runs at EXEC (without its arguments: for the exclusive decision). */
static resp_xkind kind_of(const resp_cmd_def *d)
{
    const resp_cmd_def *top = d->parent ? d->parent : d;
    if (!d->parent && resp_xspec_lookup(bs_slice_from_str(d->c->name)))
        return XC_TXN;
    if ((d->c->flags | top->c->flags) & (RESP_CMD_READONLY | RESP_CMD_WRITE))
        return XC_REPLIED;
    return XC_LOCAL;
}

void resp_multi_queue(resp_conn *c, conn_req *r, const resp_cmd_def *d, size_t argc,
                      bs_buf *argv)
{
    resp_multi_state *m = &c->multi;
    unsigned flags = d->c->flags | (d->parent ? d->parent->c->flags : 0);
    r->def = d;
    if (flags & RESP_CMD_NO_MULTI) {
        free_argv(argc, argv);
        resp_reply_error_str(&r->req.o, "Command not allowed inside a transaction");
        r->rejected = true;
        m->dirty = true;
        return;
    }
    if (m->dirty) {
        /* No sense keeping what EXEC will discard (Redis's queueMultiCommand). */
        free_argv(argc, argv);
    } else {
        if (m->nq == m->capq) {
            m->capq = m->capq ? 2 * m->capq : 4;
            m->q = bs_realloc(m->q, m->capq * sizeof(*m->q));
        }
        resp_queued *q = &m->q[m->nq++];
        q->def = d;
        q->argc = argc;
        q->argv = bs_malloc((argc ? argc : 1) * sizeof(bs_buf));
        memcpy(q->argv, argv, argc * sizeof(bs_buf));
    }
    /* Not a call of the command yet: its statistics count at EXEC, as in Redis. */
    r->def = NULL;
    resp_reply_simple_str(&r->req.o, "QUEUED");
}

static void drop_queue(resp_multi_state *m)
{
    for (size_t i = 0; i < m->nq; i++) {
        free_argv(m->q[i].argc, m->q[i].argv);
        bs_free(m->q[i].argv);
    }
    bs_free(m->q);
    m->q = NULL;
    m->nq = m->capq = 0;
}

static void drop_watches(resp_multi_state *m)
{
    for (size_t i = 0; i < m->nw; i++)
        bs_buf_free(&m->w[i].key);
    bs_free(m->w);
    m->w = NULL;
    m->nw = m->capw = 0;
}

void resp_multi_reset(resp_conn *c)
{
    drop_queue(&c->multi);
    drop_watches(&c->multi);
    c->multi.active = false;
    c->multi.dirty = false;
}

bool resp_multi_wants_exclusive(const resp_conn *c, const resp_cmd_def *d)
{
    const resp_multi_state *m = &c->multi;
    if (d->c->fn != exec_cmd || !m->active || m->dirty)
        return false;
    for (size_t i = 0; i < m->nq; i++)
        if (kind_of(m->q[i].def) == XC_LOCAL)
            return true;
    return false;
}

/* ---- MULTI, DISCARD, UNWATCH ----------------------------------------------------------------- */

static void multi_cmd(resp_req *req)
{
    resp_conn *c = req->conn;
    if (c->multi.active) {
        resp_reply_error_str(&req->o, "MULTI calls can not be nested");
    } else {
        c->multi.active = true;
        resp_reply_ok(&req->o);
    }
    resp_req_finish(req);
}

static void discard_cmd(resp_req *req)
{
    resp_conn *c = req->conn;
    if (!c->multi.active) {
        resp_reply_error_str(&req->o, "DISCARD without MULTI");
    } else {
        resp_multi_reset(c);
        resp_reply_ok(&req->o);
    }
    resp_req_finish(req);
}

static void unwatch_cmd(resp_req *req)
{
    drop_watches(&req->conn->multi);
    resp_reply_ok(&req->o);
    resp_req_finish(req);
}

/* ---- WATCH ----------------------------------------------------------------------------------- */

typedef struct watch_job watch_job;

typedef struct watch_slot {
    watch_job *j;
    client_watch w;
} watch_slot;

struct watch_job {
    resp_req *req;
    watch_slot *slots; /* argc - 1 */
    _Atomic size_t pending;
    _Atomic int failed;
    char msg[BS_ERR_MSG_MAX]; /* the first failure; written by whoever set failed */
};

static bool watched(const resp_multi_state *m, uint32_t db, bs_slice key)
{
    for (size_t i = 0; i < m->nw; i++)
        if (m->w[i].db == db && bs_slice_eq(bs_buf_slice(&m->w[i].key), key))
            return true;
    return false;
}

/* The loop thread, every read back: record the keys (a key watched twice keeps its first
 * record, as Redis's watchForKey), reply. */
static void watch_apply(void *arg, bool alive)
{
    watch_job *j = arg;
    resp_req *req = j->req;
    if (atomic_load(&j->failed)) {
        resp_reply_errorf(&req->o, "WATCH failed: %s", j->msg);
    } else {
        if (alive) {
            resp_multi_state *m = &req->conn->multi;
            for (size_t i = 1; i < req->argc; i++) {
                bs_slice key = resp_req_arg(req, i);
                if (watched(m, req->db, key))
                    continue;
                if (m->nw == m->capw) {
                    m->capw = m->capw ? 2 * m->capw : 4;
                    m->w = bs_realloc(m->w, m->capw * sizeof(*m->w));
                }
                resp_watched *w = &m->w[m->nw++];
                w->db = req->db;
                bs_buf_init(&w->key);
                bs_buf_append_slice(&w->key, key);
                w->w = j->slots[i - 1].w;
            }
        }
        resp_reply_ok(&req->o);
    }
    bs_free(j->slots);
    bs_free(j);
    resp_req_finish(req);
}

static void watch_one_done(watch_job *j)
{
    if (atomic_fetch_sub(&j->pending, 1) == 1)
        resp_req_on_loop(j->req, watch_apply, j);
}

static void on_watch(void *arg, int code, const client_watch *w, const char *msg)
{
    watch_slot *s = arg;
    watch_job *j = s->j;
    if (code == BS_OK)
        s->w = *w;
    else if (atomic_exchange(&j->failed, 1) == 0)
        snprintf(j->msg, sizeof(j->msg), "%s", msg && msg[0] ? msg : bs_strerror(code));
    watch_one_done(j);
}

static void watch_cmd(resp_req *req)
{
    resp_conn *c = req->conn;
    if (c->multi.active) {
        resp_reply_error_str(&req->o, "WATCH inside MULTI is not allowed");
        resp_req_finish(req);
        return;
    }
    size_t n = req->argc - 1;
    client_txns *t = req->client ? client_txns_of(req->client) : NULL;
    if (!t) { /* a server without a store (tests), or one shutting down */
        resp_reply_error_str(&req->o, "WATCH needs the cluster client");
        resp_req_finish(req);
        return;
    }
    watch_job *j = bs_calloc(1, sizeof(*j));
    j->req = req;
    j->slots = bs_calloc(n, sizeof(watch_slot));
    atomic_init(&j->pending, n + 1); /* + our own hold, dropped below */
    atomic_init(&j->failed, 0);
    for (size_t i = 0; i < n; i++) {
        j->slots[i].j = j;
        client_watch_get(t, req->db, resp_req_arg(req, i + 1), on_watch, &j->slots[i]);
    }
    watch_one_done(j);
}

/* ---- EXEC ------------------------------------------------------------------------------------ */

typedef struct exec_job {
    resp_exec x;
    resp_req *req;       /* EXEC, or the single command */
    bool single;
    resp_xcmd *cmds;
    size_t n;
    resp_watched *w;     /* the connection's records, taken (owned) */
    size_t nw;
    resp_xwatch *xw;     /* the same as the run's assertions (keys borrowed from w) */
    bool has_local;
    /* connection commands after the commit (loop thread) */
    size_t next;
    conn_req *sub;
    _Atomic int gate;
} exec_job;

enum { G_CALLING, G_WAITING, G_DONE };

static void job_free(exec_job *j)
{
    for (size_t i = 0; i < j->n; i++)
        resp_xcmd_deinit(&j->cmds[i]);
    bs_free(j->cmds);
    for (size_t i = 0; i < j->nw; i++)
        bs_buf_free(&j->w[i].key);
    bs_free(j->w);
    bs_free(j->xw);
    bs_free(j);
}

/* EXEC's reply from the outcome and every command's reply. */
static void exec_reply(exec_job *j)
{
    resp_out *o = &j->req->o;
    switch (j->x.outcome) {
    case RESP_X_NIL:
        resp_reply_null_array(o);
        break;
    case RESP_X_ERR:
        resp_reply_error_str(o, j->x.msg);
        break;
    case RESP_X_OK:
        resp_reply_array(o, j->n);
        for (size_t i = 0; i < j->n; i++)
            resp_reply_raw(o, j->cmds[i].req.out.ptr, j->cmds[i].req.out.len);
        break;
    }
}

static void job_finish(exec_job *j)
{
    resp_req *req = j->req;
    if (j->single) {
        if (j->x.outcome == RESP_X_OK)
            resp_reply_raw(&req->o, j->cmds[0].req.out.ptr, j->cmds[0].req.out.len);
        else
            resp_reply_error_str(&req->o, j->x.outcome == RESP_X_ERR ? j->x.msg :
                                          "transaction aborted");
    } else {
        exec_reply(j);
    }
    job_free(j);
    resp_req_finish(req);
}

/* ---- connection commands after the commit ---------------------------------------------------- */

static void post_phase(void *arg, bool alive);

static void sub_finished(conn_req *sub, void *arg)
{
    exec_job *j = arg;
    if (atomic_exchange(&j->gate, G_DONE) == G_WAITING)
        resp_req_on_loop(j->req, post_phase, j); /* it finished later: go on there */
}

/* Takes the finished sub-request's reply and effects. */
static void collect(exec_job *j)
{
    conn_req *sub = j->sub;
    resp_xcmd *c = &j->cmds[j->next];
    bs_buf_append(&c->req.out, sub->req.out.ptr, sub->req.out.len);
    if (sub->close_after) /* CLIENT KILL of itself: after EXEC's reply */
        conn_req_of(j->req)->close_after = true;
    bs_buf_free(&sub->req.out);
    bs_free(sub);
    j->sub = NULL;
    j->next++;
}

/* Runs the connection commands one after the other; one that finishes later (INFO's key
 * counts, DEBUG SLEEP) resumes this from its sub_finished. */
static void post_phase(void *arg, bool alive)
{
    exec_job *j = arg;
    if (j->sub)
        collect(j);
    if (!alive) { /* the connection is gone: nobody reads the reply */
        job_finish(j);
        return;
    }
    resp_conn *c = j->req->conn;
    while (j->next < j->n) {
        resp_xcmd *xc = &j->cmds[j->next];
        if (xc->kind != XC_LOCAL) {
            j->next++;
            continue;
        }
        conn_req *sub = bs_calloc(1, sizeof(*sub));
        sub->req.conn = c;
        sub->req.srv = c->srv;
        sub->req.client = c->srv->client;
        sub->req.argc = xc->req.argc;
        sub->req.argv = xc->req.argv; /* borrowed: xc keeps owning it */
        sub->req.db = c->db;
        sub->req.proto = c->proto;
        bs_buf_init(&sub->req.out);
        resp_out_init_buf(&sub->req.o, &sub->req.out, c->proto);
        sub->def = xc->def;
        sub->state = REQ_RUNNING;
        sub->on_finish = sub_finished;
        sub->on_finish_arg = j;
        j->sub = sub;
        atomic_store(&j->gate, G_CALLING);
        xc->def->c->fn(&sub->req);
        int expect = G_CALLING;
        if (atomic_compare_exchange_strong(&j->gate, &expect, G_WAITING))
            return; /* finishes later */
        collect(j);
    }
    job_finish(j);
}

static void exec_done(resp_exec *x)
{
    exec_job *j = x->owner;
    if (!j->single && x->outcome == RESP_X_OK && j->has_local) {
        resp_req_on_loop(j->req, post_phase, j);
        return;
    }
    job_finish(j);
}

static void job_start(exec_job *j, client *cl)
{
    j->x.client = cl;
    j->x.txns = cl ? client_txns_of(cl) : NULL; /* NULL: a server without a store (tests) */
    j->x.cmds = j->cmds;
    j->x.n = j->n;
    j->x.watches = j->xw;
    j->x.nw = j->nw;
    j->x.done = exec_done;
    j->x.owner = j;
    resp_exec_start(&j->x);
}

/* SELECT's and HELLO's effect on the commands queued after them, ahead of their real run
 * (post_phase): the same validity rules as select_cmd and hello_cmd's protocol check. */
static void simulate_state(const resp_xcmd *c, long long databases, uint32_t *db, int *proto)
{
    bs_slice name = bs_slice_from_str(c->def->c->name);
    long long v;
    if (c->def->parent || c->req.argc < 2)
        return;
    if (resp_arg_is(name, "select") && c->req.argc == 2 &&
        resp_parse_ll(resp_req_arg(&c->req, 1), &v) && v >= 0 && v < databases)
        *db = (uint32_t)v;
    else if (resp_arg_is(name, "hello") && resp_parse_ll(resp_req_arg(&c->req, 1), &v) &&
             (v == 2 || v == 3))
        *proto = (int)v;
}

/* Sorts out one queued command (taken) into c. */
static void prepare(resp_xcmd *c, resp_queued *q, uint32_t db, int proto, long long databases)
{
    resp_xcmd_init(c, q->argc, q->argv, db, proto);
    c->owns_argv = true;
    c->def = q->def;
    c->kind = kind_of(q->def);
    if (c->kind == XC_TXN) {
        c->spec = resp_xspec_lookup(bs_slice_from_str(q->def->c->name));
        if (c->spec->prep && !c->spec->prep(c, databases))
            c->kind = XC_REPLIED; /* its argument error is its reply */
    } else if (c->kind == XC_REPLIED) {
        resp_reply_errorf(&c->req.o, "'%s' is not supported inside a transaction",
                          q->def->fullname);
    }
}

static void exec_cmd(resp_req *req)
{
    resp_conn *c = req->conn;
    resp_multi_state *m = &c->multi;
    if (!m->active) {
        resp_reply_error_str(&req->o, "EXEC without MULTI");
        resp_req_finish(req);
        return;
    }
    if (m->dirty) {
        resp_reply_error_str(&req->o,
                             "-EXECABORT Transaction discarded because of previous errors.");
        resp_multi_reset(c);
        resp_req_finish(req);
        return;
    }
    long long databases = c->srv->set.databases;
    exec_job *j = bs_calloc(1, sizeof(*j));
    j->req = req;
    j->n = m->nq;
    j->cmds = bs_calloc(j->n ? j->n : 1, sizeof(resp_xcmd));
    uint32_t db = req->db;
    int proto = req->proto;
    for (size_t i = 0; i < j->n; i++) {
        prepare(&j->cmds[i], &m->q[i], db, proto, databases);
        if (j->cmds[i].kind == XC_LOCAL) {
            j->has_local = true;
            simulate_state(&j->cmds[i], databases, &db, &proto);
        }
    }
    bs_free(m->q); /* the argv arrays now belong to the commands */
    m->q = NULL;
    m->nq = m->capq = 0;
    /* The watches become the transaction's assertions; the connection forgets them now. */
    j->w = m->w;
    j->nw = m->nw;
    m->w = NULL;
    m->nw = m->capw = 0;
    j->xw = bs_calloc(j->nw ? j->nw : 1, sizeof(resp_xwatch));
    for (size_t i = 0; i < j->nw; i++) {
        j->xw[i].db = j->w[i].db;
        j->xw[i].key = bs_buf_slice(&j->w[i].key);
        j->xw[i].w = j->w[i].w;
    }
    resp_multi_reset(c);
    job_start(j, req->client);
}

/* ---- a single command as a transaction ------------------------------------------------------- */

void resp_exec_single(resp_req *req, long long databases)
{
    exec_job *j = bs_calloc(1, sizeof(*j));
    j->req = req;
    j->single = true;
    j->n = 1;
    j->cmds = bs_calloc(1, sizeof(resp_xcmd));
    resp_xcmd *c = &j->cmds[0];
    resp_xcmd_init(c, req->argc, req->argv, req->db, req->proto); /* argv borrowed */
    c->kind = XC_TXN;
    c->spec = resp_xspec_lookup(resp_req_arg(req, 0));
    BS_ASSERT(c->spec); /* only the multi-key commands call this */
    if (c->spec->prep && !c->spec->prep(c, databases)) {
        resp_reply_raw(&req->o, c->req.out.ptr, c->req.out.len);
        job_free(j);
        resp_req_finish(req);
        return;
    }
    job_start(j, req->client);
}

/* ---- the table ------------------------------------------------------------------------------- */

#define CTL (F_TXN | RESP_CMD_MULTI_CTL | RESP_CMD_BARRIER)

const resp_command resp_cmds_multi[] = {
    {"discard", 1, CTL | RESP_CMD_FAST, 0, 0, 0, "transactions", "Discards a transaction.",
     "2.0.0", discard_cmd, NULL},
    {"exec", 1, CTL, 0, 0, 0, "transactions", "Executes all commands in a transaction.", "1.2.0",
     exec_cmd, NULL},
    {"multi", 1, CTL | RESP_CMD_FAST, 0, 0, 0, "transactions", "Starts a transaction.", "1.2.0",
     multi_cmd, NULL},
    {"unwatch", 1, F_TXN | RESP_CMD_FAST | RESP_CMD_BARRIER, 0, 0, 0, "transactions",
     "Forgets about watched keys of a transaction.", "2.2.0", unwatch_cmd, NULL},
    {"watch", -2, F_TXN | RESP_CMD_FAST | RESP_CMD_MULTI_CTL, 1, -1, 1, "transactions",
     "Monitors changes to keys to determine the execution of a transaction.", "2.2.0", watch_cmd,
     NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
