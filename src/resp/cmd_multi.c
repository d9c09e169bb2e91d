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
 * replied. The queued commands are sorted out (resp_xkind): every data command runs inside
 * the transaction (exec.c, exec_cmds.c), in queue order; connection and server commands
 * (PING, ECHO, SELECT, HELLO, CLIENT, CONFIG, INFO...) run for real, once, after the
 * commit and only if it succeeded, on the loop thread, in their order, through
 * sub-requests. The reply is one array of every command's reply at its place.
 *
 * Their effects take their place too. What a connection command changes that a later
 * data command depends on is the database and the protocol. The database is decided
 * before the run by SELECT's own rules (simulate_db; SELECT can only fail on its argument
 * and the fixed number of databases, so this is exact). The protocol a HELLO leaves
 * depends on its authentication, so it is not guessed: a data command queued after a
 * HELLO replies in RESP3 and, when the real run finds the connection still on RESP2 at its
 * place, the reply is turned into RESP2 (resp3_to_resp2), which loses nothing for data
 * replies. An EXEC that runs connection commands is exclusive: later commands wait for
 * its reply and then see the state it left.
 *
 * Deviations, all about connection or server commands that look at data or at settings
 * the data commands use: INFO (key counts) inside MULTI sees every write of the EXEC,
 * also those queued after it, since it runs after the commit; a CONFIG SET queued before
 * an LCS does not change the limit that LCS uses (read when EXEC starts). And one about
 * time: an EXEC waiting between two attempts after write conflicts (exec.c) is abandoned,
 * with nothing applied, if its connection closes meanwhile; Redis would have run it. */
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
    if (resp_xspec_of(d))
        return XC_TXN;
    /* A data command without a form: none today (multi.tcl checks every one), but a new
     * command added to a table without one must not run outside the transaction. */
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
    uint32_t delay_ms;   /* the backoff asked for (exec.c's delay hook) */
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

/* Reads one RESP3 line (through CRLF) from in at *pos into line/len; false at the end. */
static bool next_line(const bs_buf *in, size_t *pos, const uint8_t **line, size_t *len)
{
    if (*pos >= in->len)
        return false;
    const uint8_t *p = in->ptr + *pos;
    const uint8_t *nl = memchr(p, '\n', in->len - *pos);
    BS_ASSERT(nl && nl > p && nl[-1] == '\r'); /* our own encoder wrote it */
    *line = p;
    *len = (size_t)(nl - 1 - p);
    *pos += *len + 2;
    return true;
}

/* The RESP2 form of a data command's reply encoded in RESP3. Data commands reply with
 * simple strings, errors, integers, bulks, arrays, nulls and (LCS IDX) maps; the last two
 * are the only ones RESP3 encodes differently: a null becomes the null bulk, a map an
 * array of its keys and values, as Redis encodes them for RESP2. */
static void resp3_to_resp2(const bs_buf *in, bs_buf *out)
{
    size_t pos = 0, len;
    const uint8_t *l;
    while (next_line(in, &pos, &l, &len)) {
        long long n = 0;
        bool counted = (l[0] == '$' || l[0] == '%') &&
                       resp_parse_ll(bs_slice_make(l + 1, len - 1), &n);
        switch (l[0]) {
        case '$': /* the header, then the payload and its CRLF as they are */
            BS_ASSERT(counted);
            bs_buf_append(out, l, len + 2);
            if (n >= 0) {
                bs_buf_append(out, in->ptr + pos, (size_t)n + 2);
                pos += (size_t)n + 2;
            }
            break;
        case '%': {
            char head[32];
            BS_ASSERT(counted);
            int hn = snprintf(head, sizeof head, "*%lld\r\n", 2 * n);
            bs_buf_append(out, head, (size_t)hn);
            break;
        }
        case '_':
            bs_buf_append(out, "$-1\r\n", 5);
            break;
        case '+':
        case '-':
        case ':':
        case '*':
            bs_buf_append(out, l, len + 2);
            break;
        default: /* a RESP3-only type: no data command replies with one */
            BS_ASSERT(!"a data command's reply has a type EXEC cannot turn into RESP2");
        }
    }
}

/* A data command's reply encoded in RESP3 for want of knowing (proto_unsure), made RESP2
 * when the connection still speaks it at the command's place. */
static void settle_proto(resp_xcmd *xc, int proto)
{
    if (!xc->proto_unsure || proto != 2)
        return;
    bs_buf two = BS_BUF_INIT;
    resp3_to_resp2(&xc->req.out, &two);
    bs_buf_free(&xc->req.out);
    xc->req.out = two;
}

/* Runs the connection commands one after the other, settling the protocol of the data
 * commands' replies between them; one that finishes later (INFO's key counts, DEBUG SLEEP)
 * resumes this from its sub_finished. */
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
            settle_proto(xc, c->proto);
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

/* exec.c's delay hook: a timer on the connection's loop (resp_after), which the loop
 * thread arms; the run resumes from there, or ends if the connection or server goes. */
static void delay_resume(void *arg, bool alive)
{
    exec_job *j = arg;
    resp_exec_resume(&j->x, alive);
}

static void delay_fired(void *arg, bool fired)
{
    exec_job *j = arg;
    if (!fired) {
        resp_exec_resume(&j->x, false);
        return;
    }
    resp_req_on_loop(j->req, delay_resume, j); /* on the loop already: checks the conn */
}

static void delay_arm(void *arg, bool alive)
{
    exec_job *j = arg;
    if (!alive) {
        resp_exec_resume(&j->x, false);
        return;
    }
    resp_after(j->req->srv, j->delay_ms, delay_fired, j);
}

static void job_delay(resp_exec *x, uint32_t ms)
{
    exec_job *j = x->owner;
    j->delay_ms = ms;
    resp_req_on_loop(j->req, delay_arm, j);
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
    j->x.delay = job_delay;
    j->x.owner = j;
    resp_exec_start(&j->x);
}

/* SELECT's effect on the commands queued after it, ahead of its real run (post_phase):
 * select_cmd's rules, which depend only on the argument and the fixed database count. */
static void simulate_db(const resp_xcmd *c, long long databases, uint32_t *db)
{
    long long v;
    if (!c->def->parent && resp_arg_is(bs_slice_from_str(c->def->c->name), "select") &&
        c->req.argc == 2 && resp_parse_ll(resp_req_arg(&c->req, 1), &v) && v >= 0 &&
        v < databases)
        *db = (uint32_t)v;
}

static bool is_hello(const resp_cmd_def *d)
{
    return !d->parent && resp_arg_is(bs_slice_from_str(d->c->name), "hello");
}

/* Sorts out one queued command (taken) into c. */
static void prepare(resp_xcmd *c, resp_queued *q, uint32_t db, int proto, const resp_xenv *env)
{
    resp_xcmd_init(c, q->argc, q->argv, db, proto);
    c->owns_argv = true;
    c->def = q->def;
    c->kind = kind_of(q->def);
    if (c->kind == XC_TXN) {
        c->spec = resp_xspec_of(q->def);
        if (c->spec->prep && !c->spec->prep(c, env, c->spec->variant))
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
    resp_xenv env = {.databases = c->srv->set.databases,
                     .proto_max_bulk_len = c->srv->set.proto_max_bulk_len};
    exec_job *j = bs_calloc(1, sizeof(*j));
    j->req = req;
    j->n = m->nq;
    j->cmds = bs_calloc(j->n ? j->n : 1, sizeof(resp_xcmd));
    uint32_t db = req->db;
    bool after_hello = false;
    for (size_t i = 0; i < j->n; i++) {
        resp_xcmd *xc = &j->cmds[i];
        prepare(xc, &m->q[i], db, after_hello ? 3 : req->proto, &env);
        xc->proto_unsure = after_hello && xc->kind != XC_LOCAL;
        if (xc->kind == XC_LOCAL) {
            j->has_local = true;
            simulate_db(xc, env.databases, &db);
            after_hello = after_hello || is_hello(xc->def);
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
    c->def = resp_commands_lookup(resp_req_arg(req, 0));
    c->spec = resp_xspec_of(c->def);
    BS_ASSERT(c->spec); /* only the multi-key commands call this */
    resp_xenv env = {.databases = databases}; /* none of them is an LCS */
    if (c->spec->prep && !c->spec->prep(c, &env, c->spec->variant)) {
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
