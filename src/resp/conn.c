/* conn.c -- one RESP connection: read, parse, dispatch, and send replies in order.
 *
 * Everything here runs on the server's loop thread except resp_req_finish() from a client
 * callback. The life of a request:
 *
 *   socket --read()--> parser --next()--> dispatch: resolve, check auth, handler(req)
 *        handler --client_*()--> ... --> resp_req_finish(req) (any thread)
 *   FIFO head finished? --> reply bytes into `out` --> write()
 *
 * Ordering. Each parsed command becomes a conn_req appended to the conn's FIFO, also
 * commands refused before running (their error reply is written at once). Replies leave
 * only from the head, so they go out in request order whatever order the store completes
 * them in.
 *
 * Reading. The socket is read straight into the parser's buffer (resp_parser_wbuf), so a
 * 100 MB bulk lands in its final buffer with one copy from the kernel. Every complete
 * command in the buffer is dispatched before the next read, which is how thousands of
 * pipelined commands per read are handled. Back-pressure: parsing and reading pause while
 * max_pipeline requests are queued or PAUSE_OUT_BYTES of replies wait to be written, and
 * resume when they drain below half. Requests complete without the client's help, so the
 * first bound never deadlocks; the second is high enough that only a client that sends
 * more than that much reply-producing pipeline without reading could stall (Redis would
 * buffer it all instead).
 *
 * Lifetime. A conn closed while requests are in flight (peer gone, CLIENT KILL, server
 * shutdown) cannot free them: a store thread will still call resp_req_finish. Each request
 * carries an atomic state, RUNNING, then DONE (finish) or ORPHAN (close), set by
 * compare-and-swap; whichever side comes second frees the request. The conn struct is
 * reference-counted (open, orphans, queued flushes) so a late finish always has a valid
 * conn to look at, and the hub (conn_int.h) tells it, under a mutex, whether the loop is
 * still there to post to.
 *
 * Execution order. Completions are asynchronous, so a pipelined GET could overtake the SET
 * before it. The rules of resp_int.h prevent that: a command whose keys are held by an
 * earlier command still in the FIFO, or that conflicts with a barrier (a keyless data
 * command), "stalls": its arguments are kept, nothing after it is parsed and reading
 * pauses, until the earlier replies leave the FIFO. Keys are tracked as 64-bit hashes of
 * (db, key); a collision only makes a command wait needlessly. Independent commands (a mass
 * insertion) therefore run concurrently, and the store's group commit batches them.
 *
 * Protocol errors, QUIT and CLIENT KILL of oneself: the reply is queued in order, nothing
 * after it is read, and the conn closes once that reply is written -- Redis's
 * CLIENT_CLOSE_AFTER_REPLY. A peer that half-closes gets every reply it asked for.
 *
 * MULTI. Between MULTI and EXEC, dispatch hands each command to cmd_multi.c's queue
 * instead of running it (+QUEUED at once; a command refused before that flags the
 * transaction). An EXEC that will run connection commands (SELECT...) is exclusive: every
 * later command waits for its reply, and starts with the database and protocol it left. */
#include <errno.h>
#include <stdarg.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/assert.h"
#include "common/log.h"
#include "resp/conn_int.h"

/* Replies queued for writing beyond this pause reading (see above). */
#define PAUSE_OUT_BYTES (64u * 1024 * 1024)
/* Replies at least this large are handed to the output buffer without copying. */
#define ZERO_COPY_REPLY (64u * 1024)
/* Recycled requests keep reply buffers up to this size. */
#define KEEP_REPLY_BUF (16u * 1024)
#define MAX_FREE_REQS 1024

/* The hub of the loop this thread runs, if it runs one (set by server.c). */
__thread resp_hub *resp_tls_hub;

static void conn_unref(resp_conn *c);
static void conn_process(resp_conn *c);
static void conn_progress(resp_conn *c);

int64_t resp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t resp_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- requests ------------------------------------------------------------------------- */

static void req_free_keys(conn_req *r)
{
    if (r->keys != &r->key1)
        bs_free(r->keys);
    r->keys = NULL;
    r->nkeys = 0;
}

static void req_release_args(conn_req *r)
{
    for (size_t i = 0; i < r->req.argc; i++)
        bs_buf_free(&r->req.argv[i]);
    bs_free(r->req.argv);
    r->req.argv = NULL;
    r->req.argc = 0;
    req_free_keys(r);
}

/* Frees a request completely (any thread). */
static void req_destroy(conn_req *r)
{
    req_release_args(r);
    bs_buf_free(&r->req.out);
    bs_free(r);
}

/* Loop thread: recycles r into the server's free list when there is room. */
static void req_recycle(resp_server *s, conn_req *r)
{
    if (!s || s->nfree_reqs >= MAX_FREE_REQS) {
        req_destroy(r);
        return;
    }
    req_release_args(r);
    if (r->req.out.cap > KEEP_REPLY_BUF)
        bs_buf_free(&r->req.out);
    bs_buf_reset(&r->req.out);
    r->free_next = s->free_reqs;
    s->free_reqs = r;
    s->nfree_reqs++;
}

static conn_req *req_new(resp_conn *c)
{
    resp_server *s = c->srv;
    conn_req *r = s->free_reqs;
    if (r) {
        s->free_reqs = r->free_next;
        s->nfree_reqs--;
        bs_buf out = r->req.out;
        memset(r, 0, sizeof *r);
        r->req.out = out;
    } else {
        r = bs_calloc(1, sizeof *r);
    }
    r->req.conn = c;
    r->req.srv = s;
    r->req.client = s->client;
    r->req.db = c->db;
    r->req.proto = c->proto;
    resp_out_init_buf(&r->req.o, &r->req.out, c->proto);
    r->state = REQ_RUNNING;
    if (c->tail)
        c->tail->req.next = &r->req;
    else
        c->head = r;
    c->tail = r;
    c->nreqs++;
    return r;
}

static conn_req *pop_head(resp_conn *c)
{
    conn_req *r = c->head;
    c->head = (conn_req *)r->req.next;
    if (!c->head)
        c->tail = NULL;
    c->nreqs--;
    r->req.next = NULL;
    return r;
}

/* ---- execution order ---------------------------------------------------------------- */

/* True when r must wait for commands before it (resp_int.h's rules, and an exclusive EXEC
 * in flight holds back everything after it). */
static bool must_wait(const resp_conn *c, const conn_req *r)
{
    if (c->nexclusive > 0)
        return true;
    if (r->barrier || r->exclusive)
        return c->ndata > 0;
    if (r->nkeys == 0)
        return false;
    if (c->nbarriers > 0)
        return true;
    for (size_t i = 0; i < r->nkeys; i++)
        if (resp_keyset_has(&c->held, r->keys[i]))
            return true;
    return false;
}

/* Fills r->keys / r->barrier from its command's key spec. */
static void classify(conn_req *r)
{
    const resp_command *cmd = r->def->c;
    bool data = (cmd->flags & (RESP_CMD_READONLY | RESP_CMD_WRITE)) != 0;
    if ((cmd->flags & RESP_CMD_BARRIER) || (data && cmd->first_key <= 0)) {
        r->barrier = true;
        return;
    }
    if (cmd->first_key <= 0)
        return;
    long long argc = (long long)r->req.argc;
    long long last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    long long step = cmd->key_step > 0 ? cmd->key_step : 1;
    size_t n = 0;
    for (long long i = cmd->first_key; i <= last && i < argc; i += step)
        n++;
    if (n == 0)
        return;
    r->keys = n == 1 ? &r->key1 : bs_malloc(n * sizeof *r->keys); /* most have one key */
    for (long long i = cmd->first_key; i <= last && i < argc; i += step)
        r->keys[r->nkeys++] = resp_key_hash(r->req.db, resp_req_arg(&r->req, (size_t)i));
}

/* r starts: its keys (or its barrier) now hold back conflicting later commands. */
static void hold(resp_conn *c, conn_req *r)
{
    if (r->exclusive)
        c->nexclusive++;
    if (r->barrier)
        c->nbarriers++;
    if (r->barrier || r->nkeys)
        c->ndata++;
    for (size_t i = 0; i < r->nkeys; i++)
        resp_keyset_add(&c->held, r->keys[i]);
}

/* r left the FIFO. */
static void release(resp_conn *c, conn_req *r)
{
    if (r->exclusive)
        c->nexclusive--;
    if (r->barrier)
        c->nbarriers--;
    if (r->barrier || r->nkeys)
        c->ndata--;
    for (size_t i = 0; i < r->nkeys; i++)
        resp_keyset_del(&c->held, r->keys[i]);
}

/* ---- reference counts ---------------------------------------------------------------- */

static void conn_ref(resp_conn *c)
{
    __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

static void hub_unref(resp_hub *h)
{
    if (__atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        pthread_mutex_destroy(&h->mu);
        bs_free(h);
    }
}

static void conn_unref(resp_conn *c)
{
    if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    BS_ASSERT(c->closed);
    resp_hub *h = c->hub;
    bs_free(c);
    hub_unref(h);
}

/* ---- finishing ------------------------------------------------------------------------ */

static void flush_cb(void *arg)
{
    resp_conn *c = arg;
    __atomic_store_n(&c->flush_posted, 0, __ATOMIC_RELEASE);
    if (!c->closed)
        conn_progress(c);
    conn_unref(c);
}

void resp_req_finish(resp_req *req)
{
    conn_req *r = conn_req_of(req);
    resp_conn *c = req->conn;
    BS_ASSERT(!req->finished);
    req->finished = true;
    if (r->on_finish) { /* a sub-request: its owner collects it */
        r->on_finish(r, r->on_finish_arg);
        return;
    }
    if (resp_tls_hub == c->hub) {
        /* The loop thread: nothing runs concurrently with us on this conn. */
        if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) == REQ_ORPHAN) {
            req_destroy(r);
            conn_unref(c); /* the orphan's reference */
            return;
        }
        __atomic_store_n(&r->state, REQ_DONE, __ATOMIC_RELEASE);
        if (!c->processing)
            conn_progress(c);
        return;
    }
    /* Another thread. Hold the conn before publishing DONE: from then on the loop may
     * free the request and, with it, the conn's last other reference. */
    conn_ref(c);
    int expect = REQ_RUNNING;
    if (!__atomic_compare_exchange_n(&r->state, &expect, REQ_DONE, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        BS_ASSERT(expect == REQ_ORPHAN);
        req_destroy(r);
        conn_unref(c); /* the orphan's reference */
        conn_unref(c);
        return;
    }
    if (__atomic_exchange_n(&c->flush_posted, 1, __ATOMIC_ACQ_REL) == 0) {
        resp_hub *h = c->hub;
        int rc = BS_ESTATE;
        pthread_mutex_lock(&h->mu);
        if (h->loop)
            rc = net_loop_post(h->loop, flush_cb, c);
        pthread_mutex_unlock(&h->mu);
        if (rc == BS_OK)
            return; /* the closure owns our reference */
    }
    conn_unref(c);
}

/* ---- continuing a request on the loop thread ------------------------------------------------ */

typedef struct loop_job {
    resp_req *req;
    void (*fn)(void *arg, bool alive);
    void *arg;
} loop_job;

/* On the loop thread: is the request's connection still there for it? */
static bool req_alive(resp_req *req)
{
    return !req->conn->closed &&
           __atomic_load_n(&conn_req_of(req)->state, __ATOMIC_ACQUIRE) != REQ_ORPHAN;
}

static void loop_job_cb(void *arg)
{
    loop_job *j = arg;
    resp_conn *c = j->req->conn;
    j->fn(j->arg, req_alive(j->req)); /* may finish (and free) the request */
    bs_free(j);
    conn_unref(c);
}

void resp_req_on_loop(resp_req *req, void (*fn)(void *arg, bool alive), void *arg)
{
    resp_conn *c = req->conn;
    if (resp_tls_hub == c->hub) {
        fn(arg, req_alive(req));
        return;
    }
    /* Hold the conn: the request may be orphaned and freed meanwhile, not the conn. */
    conn_ref(c);
    loop_job *j = bs_malloc(sizeof *j);
    j->req = req;
    j->fn = fn;
    j->arg = arg;
    resp_hub *h = c->hub;
    int rc = BS_ESTATE;
    pthread_mutex_lock(&h->mu);
    if (h->loop)
        rc = net_loop_post(h->loop, loop_job_cb, j);
    pthread_mutex_unlock(&h->mu);
    if (rc == BS_OK)
        return;
    /* The loop is gone (server shutdown): the conn was closed, req is an orphan. */
    bs_free(j);
    fn(arg, false);
    conn_unref(c);
}

/* ---- output ----------------------------------------------------------------------------- */

static void free_detached(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    bs_free((void *)data);
}

size_t resp_conn_out_bytes(const resp_conn *c)
{
    return c->out ? evbuffer_get_length(c->out) : 0;
}

/* Moves the replies of finished requests at the head of the FIFO into `out`. */
static void flush_replies(resp_conn *c)
{
    resp_server *s = c->srv;
    int64_t now_us = 0;
    while (c->head && __atomic_load_n(&c->head->state, __ATOMIC_ACQUIRE) == REQ_DONE) {
        conn_req *r = pop_head(c);
        bs_buf *o = &r->req.out;
        release(c, r);
        if (r->def) {
            if (!now_us)
                now_us = resp_mono_us();
            resp_cmd_stats *st = &s->cmd_stats[r->def->idx];
            if (r->rejected) {
                st->rejected++;
            } else {
                st->calls++;
                st->usec += (uint64_t)(now_us - r->start_us);
                if (o->len > 0 && o->ptr[0] == '-')
                    st->failed++;
            }
        }
        if (o->len > 0 && o->ptr[0] == '-')
            resp_server_count_error(s, o->ptr, o->len);
        if (!r->noreply && o->len > 0) {
            if (o->len >= ZERO_COPY_REPLY) {
                size_t len;
                uint8_t *p = bs_buf_detach(o, &len);
                if (evbuffer_add_reference(c->out, p, len, free_detached, NULL) != 0)
                    bs_free(p); /* allocation failure inside libevent: the reply is lost */
            } else {
                (void)evbuffer_add(c->out, o->ptr, o->len); /* aborts on OOM only */
            }
        }
        bool close_after = r->close_after;
        req_recycle(s, r);
        if (close_after) {
            /* Nothing after this reply is sent (nothing after it was read). */
            c->closing = true;
            break;
        }
    }
}

/* Output limits of the normal class (client-output-buffer-limit): true when c must go. */
static bool over_output_limit(resp_conn *c, int64_t now_ms)
{
    const long long *lim = c->srv->set.obuf[OBUF_NORMAL];
    size_t used = resp_conn_out_bytes(c);
    if (lim[0] > 0 && used >= (size_t)lim[0])
        return true;
    if (lim[1] > 0 && used >= (size_t)lim[1]) {
        if (!c->obuf_soft_since_ms)
            c->obuf_soft_since_ms = now_ms;
        else if (now_ms - c->obuf_soft_since_ms >= lim[2] * 1000)
            return true;
    } else {
        c->obuf_soft_since_ms = 0;
    }
    return false;
}

/* Writes what the socket takes. Returns false when the conn was closed. */
static bool write_out(resp_conn *c)
{
    resp_server *s = c->srv;
    while (evbuffer_get_length(c->out) > 0) {
        int n = evbuffer_write(c->out, c->fd);
        if (n > 0) {
            s->stat_net_out += (uint64_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        resp_conn_close(c); /* EPIPE, ECONNRESET...: the peer is gone */
        return false;
    }
    if (evbuffer_get_length(c->out) > 0) {
        if (!event_pending(c->wev, EV_WRITE, NULL))
            (void)event_add(c->wev, NULL);
    } else if (event_pending(c->wev, EV_WRITE, NULL)) {
        (void)event_del(c->wev);
    }
    return true;
}

static bool pipeline_full(const resp_conn *c)
{
    return c->nreqs >= (size_t)c->srv->set.max_pipeline ||
           resp_conn_out_bytes(c) >= PAUSE_OUT_BYTES;
}

static bool pipeline_drained(const resp_conn *c)
{
    return c->nreqs <= (size_t)c->srv->set.max_pipeline / 2 &&
           resp_conn_out_bytes(c) <= PAUSE_OUT_BYTES / 2;
}

static void pause_reading(resp_conn *c)
{
    if (!c->read_paused) {
        c->read_paused = true;
        (void)event_del(c->rev);
    }
}

/* After requests finished or output drained: send what can be sent, close when due,
 * resume reading when the backlog is gone (a loop, not recursion, so a long buffered
 * pipeline never deepens the stack). */
static void conn_progress(resp_conn *c)
{
    for (;;) {
        if (c->closed)
            return;
        if (c->kill_now) {
            resp_conn_close(c);
            return;
        }
        flush_replies(c);
        if (over_output_limit(c, resp_now_ms())) {
            c->srv->stat_obuf_disconnects++;
            BS_LOG_INFO("closing client over its output buffer limit", "id=%llu addr=%s omem=%zu",
                        (unsigned long long)c->id, c->addr, resp_conn_out_bytes(c));
            resp_conn_close(c);
            return;
        }
        if (!write_out(c))
            return;
        if ((c->closing || c->eof) && c->nreqs == 0 && evbuffer_get_length(c->out) == 0) {
            resp_conn_close(c);
            return;
        }
        if (c->stalled && !must_wait(c, c->stalled)) {
            conn_process(c); /* runs it, then what is buffered after it */
            continue;
        }
        if (!c->read_paused || c->closing || !pipeline_drained(c))
            return;
        c->read_paused = false;
        conn_process(c); /* commands already buffered; re-arms reading */
    }
}

/* ---- dispatch ------------------------------------------------------------------------- */

static bool auth_required(const resp_conn *c)
{
    return c->srv->set.requirepass[0] != '\0' && !c->authenticated;
}

void resp_conn_set_auth(resp_conn *c, bool authenticated)
{
    c->authenticated = authenticated;
    c->parser.cfg.auth_required = auth_required(c);
}

static void run(resp_conn *c, conn_req *r);

/* The reply mode applies when a command starts (CLIENT REPLY OFF / SKIP, Redis's
 * CLIENT_REPLY_OFF and CLIENT_REPLY_SKIP), then it runs. A command that waited behind an
 * EXEC takes the database and protocol that EXEC left (a SELECT or HELLO it ran). */
static void start(resp_conn *c, conn_req *r)
{
    if (r->req.db != c->db || r->req.proto != c->proto) {
        r->req.db = c->db;
        r->req.proto = c->proto;
        r->req.o.proto = c->proto;
        req_free_keys(r);
        r->barrier = false;
        classify(r);
    }
    r->noreply = c->reply_mode == REPLY_OFF || c->reply_mode == REPLY_SKIP;
    if (c->reply_mode == REPLY_SKIP)
        c->reply_mode = REPLY_ON;
    run(c, r);
}

/* Runs a prepared request's handler. */
static void run(resp_conn *c, conn_req *r)
{
    hold(c, r);
    c->argv_mem = 0;
    for (size_t i = 0; i < r->req.argc; i++)
        c->argv_mem += r->req.argv[i].len;
    c->last_cmd = r->def;
    c->last_ms = resp_now_ms();
    c->srv->stat_commands++;
    r->start_us = resp_mono_us();
    r->def->c->fn(&r->req); /* may finish r, or even close c (CLIENT KILL): see conn_process */
    c->argv_mem = 0;
    /* Redis's resetClient(): a SKIP applies to the command after CLIENT REPLY SKIP. */
    if (c->reply_mode == REPLY_SKIP_NEXT)
        c->reply_mode = REPLY_SKIP;
}

/* Queues the parsed command and runs it, unless it must wait (then c->stalled = it). */
static void dispatch(resp_conn *c, const resp_cmd *cmd)
{
    conn_req *r = req_new(c);
    c->last_ms = resp_now_ms();
    const resp_cmd_def *d = resp_commands_resolve(cmd->argc, cmd->argv, &r->req.o);
    if (d && auth_required(c) && !(d->c->flags & RESP_CMD_NOAUTH)) {
        resp_reply_error_str(&r->req.o, "-NOAUTH Authentication required.");
        r->def = d;
        r->rejected = true;
        d = NULL;
    } else if (!d) {
        /* Redis counts arity errors of known commands as rejected calls. */
        const resp_cmd_def *known = resp_commands_lookup(cmd->argv[0]);
        if (known && cmd->argc >= 2 && known->nsubs)
            known = resp_commands_lookup_sub(known, cmd->argv[1]);
        if (known) {
            r->def = known;
            r->rejected = true;
        }
    }
    if (!d) {
        /* Inside MULTI a command refused before it could be queued aborts the EXEC
         * (Redis's rejectCommand -> flagTransaction). */
        if (c->multi.active)
            c->multi.dirty = true;
        /* CLIENT REPLY OFF / SKIP silence errors too. */
        r->noreply = c->reply_mode == REPLY_OFF || c->reply_mode == REPLY_SKIP;
        if (c->reply_mode == REPLY_SKIP)
            c->reply_mode = REPLY_ON;
        r->state = REQ_DONE;
        r->req.finished = true;
        return;
    }
    r->def = d;
    r->req.argc = cmd->argc;
    r->req.argv = bs_calloc(cmd->argc, sizeof *r->req.argv);
    for (size_t i = 0; i < cmd->argc; i++)
        resp_parser_detach_arg(&c->parser, i, &r->req.argv[i]);
    const resp_cmd_def *top = d->parent ? d->parent : d;
    if (c->multi.active && !(top->c->flags & RESP_CMD_MULTI_CTL)) {
        /* Queued (or refused) with its reply at once; runs at EXEC. */
        resp_multi_queue(c, r, d, r->req.argc, r->req.argv);
        bs_free(r->req.argv);
        r->req.argv = NULL;
        r->req.argc = 0;
        r->noreply = c->reply_mode == REPLY_OFF || c->reply_mode == REPLY_SKIP;
        if (c->reply_mode == REPLY_SKIP)
            c->reply_mode = REPLY_ON;
        r->state = REQ_DONE;
        r->req.finished = true;
        return;
    }
    classify(r);
    r->exclusive = resp_multi_wants_exclusive(c, d);
    if (must_wait(c, r)) {
        c->stalled = r;
        return;
    }
    start(c, r);
}
static void protocol_error(resp_conn *c)
{
    conn_req *r = req_new(c);
    const char *msg = resp_parser_error(&c->parser);
    BS_LOG_DEBUG("protocol error from client", "id=%llu addr=%s error=%s",
                 (unsigned long long)c->id, c->addr, msg);
    resp_reply_error_str(&r->req.o, msg);
    r->close_after = true;
    r->state = REQ_DONE;
    r->req.finished = true;
    c->closing = true;
}

/* Runs every complete command buffered, within the pipeline bound. The caller follows
 * with conn_progress() to send the replies. */
static void conn_process(resp_conn *c)
{
    c->processing = true;
    while (!c->closing && !c->kill_now && !c->closed) {
        if (c->stalled) {
            conn_req *r = c->stalled;
            if (must_wait(c, r))
                break;
            c->stalled = NULL;
            start(c, r);
            continue;
        }
        if (pipeline_full(c)) {
            flush_replies(c); /* commands that finished at once leave the queue */
            if (pipeline_full(c)) {
                pause_reading(c);
                break;
            }
        }
        resp_cmd cmd;
        resp_parse_status st = resp_parser_next(&c->parser, &cmd);
        if (st == RESP_PARSE_MORE)
            break;
        if (st == RESP_PARSE_ERROR) {
            protocol_error(c);
            break;
        }
        dispatch(c, &cmd);
    }
    c->processing = false;
    if (c->closed)
        return;
    bool want_read = !c->read_paused && !c->stalled && !c->closing && !c->eof && !c->kill_now;
    bool reading = event_pending(c->rev, EV_READ, NULL) != 0;
    if (want_read && !reading)
        (void)event_add(c->rev, NULL);
    else if (!want_read && reading)
        (void)event_del(c->rev);
}

/* ---- socket events ------------------------------------------------------------------------ */

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    resp_conn *c = arg;
    resp_server *s = c->srv;
    size_t avail;
    uint8_t *p = resp_parser_wbuf(&c->parser, &avail);
    ssize_t n = read(fd, p, avail);
    if (n < 0) {
        resp_parser_commit(&c->parser, 0);
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        resp_conn_close(c);
        return;
    }
    resp_parser_commit(&c->parser, (size_t)n);
    if (n == 0) {
        /* Half-closed: answer what was asked, then close (conn_progress). */
        c->eof = true;
        (void)event_del(c->rev);
        conn_progress(c);
        return;
    }
    s->stat_net_in += (uint64_t)n;
    c->last_ms = resp_now_ms();
    size_t pending = resp_parser_pending(&c->parser);
    if (pending > c->qbuf_peak)
        c->qbuf_peak = pending;
    if (s->set.client_query_buffer_limit > 0 &&
        pending > (size_t)s->set.client_query_buffer_limit) {
        /* Redis closes without a reply ("closing client that reached max query buffer
         * length"). */
        BS_LOG_INFO("closing client over the query buffer limit", "id=%llu addr=%s qbuf=%zu",
                    (unsigned long long)c->id, c->addr, pending);
        s->stat_qbuf_disconnects++;
        resp_conn_close(c);
        return;
    }
    conn_process(c);
    conn_progress(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    resp_conn *c = arg;
    conn_progress(c);
}

/* ---- accept and close -------------------------------------------------------------------- */

static void format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        (void)evutil_inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(out, cap, "%s:%d", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        (void)evutil_inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(out, cap, "[%s]:%d", host, port);
    } else {
        snprintf(out, cap, "?:0");
    }
}

static void set_keepalive(int fd, long long interval)
{
    int yes = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    if (interval <= 0)
        return;
    /* As Redis's anetKeepAlive: probes start after `interval` idle seconds, then every
     * interval/3 seconds, 3 of them. Failures only cost keepalive, so they are ignored. */
    int idle = interval > 0x7fffffff ? 0x7fffffff : (int)interval;
    int intvl = idle / 3 > 0 ? idle / 3 : 1;
    int cnt = 3;
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof yes);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

void resp_conn_accept(resp_server *s, int fd, const struct sockaddr *sa, int salen)
{
    (void)salen;
    s->stat_conns++;
    if (s->nconns >= (size_t)s->set.maxclients) {
        static const char msg[] = "-ERR max number of clients reached\r\n";
        /* Best effort, as Redis: the socket is fresh, so the short write fits. */
        ssize_t w = write(fd, msg, sizeof msg - 1);
        (void)w;
        close(fd);
        s->stat_rejected_conns++;
        return;
    }
    resp_conn *c = bs_calloc(1, sizeof *c);
    c->srv = s;
    c->hub = s->hub;
    __atomic_add_fetch(&s->hub->refs, 1, __ATOMIC_RELAXED);
    c->refs = 1;
    c->id = ++s->next_id;
    c->fd = fd;
    c->proto = 2;
    c->ctime_ms = c->last_ms = resp_now_ms();
    format_addr(sa, c->addr, sizeof c->addr);
    struct sockaddr_storage local;
    socklen_t llen = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
        format_addr((struct sockaddr *)&local, c->laddr, sizeof c->laddr);
    else
        snprintf(c->laddr, sizeof c->laddr, "?:0");
    set_keepalive(fd, s->set.tcp_keepalive);

    resp_parser_config pc;
    resp_parser_config_default(&pc);
    pc.max_bulk_len = s->set.proto_max_bulk_len;
    resp_parser_init(&c->parser, &pc);
    resp_conn_set_auth(c, s->set.requirepass[0] == '\0');
    c->out = evbuffer_new();
    struct event_base *base = net_loop_base(s->loop);
    c->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_read, c);
    c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    BS_ASSERT(c->out && c->rev && c->wev);
    (void)event_add(c->rev, NULL);

    c->prev = s->conns_tail;
    if (s->conns_tail)
        s->conns_tail->next = c;
    else
        s->conns = c;
    s->conns_tail = c;
    s->nconns++;
}

void resp_conn_close(resp_conn *c)
{
    if (c->closed)
        return;
    resp_server *s = c->srv;
    if (c->processing) {
        /* Inside its own dispatch (CLIENT KILL of oneself takes another path): finish the
         * loop first, conn_process closes it. */
        c->kill_now = true;
        return;
    }
    c->closed = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        s->conns_tail = c->prev;
    s->nconns--;

    event_free(c->rev);
    event_free(c->wev);
    close(c->fd);
    c->fd = -1;
    resp_parser_deinit(&c->parser);
    evbuffer_free(c->out);
    c->out = NULL;
    while (c->head) {
        conn_req *r = pop_head(c);
        if (r == c->stalled) {
            /* Never started: no handler holds it. */
            c->stalled = NULL;
            req_recycle(s, r);
            continue;
        }
        /* Take the orphan's reference first: a finisher that sees ORPHAN drops it. */
        conn_ref(c);
        int expect = REQ_RUNNING;
        if (__atomic_compare_exchange_n(&r->state, &expect, REQ_ORPHAN, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            continue;                                      /* the finisher frees it */
        __atomic_sub_fetch(&c->refs, 1, __ATOMIC_RELAXED); /* never the last: open ref */
        req_recycle(s, r);
    }
    bs_free(c->name);
    bs_free(c->lib_name);
    bs_free(c->lib_ver);
    c->name = c->lib_name = c->lib_ver = NULL;
    resp_multi_reset(c);
    resp_keyset_free(&c->held);
    conn_unref(c);
}

void resp_conn_kill(resp_conn *c)
{
    if (c->processing) {
        c->kill_now = true;
        return;
    }
    resp_conn_close(c);
}

void resp_conns_apply_limits(resp_server *s)
{
    for (resp_conn *c = s->conns; c; c = c->next) {
        c->parser.cfg.max_bulk_len = s->set.proto_max_bulk_len;
        c->parser.cfg.auth_required = auth_required(c);
    }
}

void resp_conn_cron(resp_conn *c, int64_t now_ms)
{
    resp_server *s = c->srv;
    if (s->set.timeout > 0 && c->nreqs == 0 && now_ms - c->last_ms > s->set.timeout * 1000) {
        BS_LOG_DEBUG("closing idle client", "id=%llu addr=%s", (unsigned long long)c->id, c->addr);
        resp_conn_close(c);
        return;
    }
    if (over_output_limit(c, now_ms)) {
        s->stat_obuf_disconnects++;
        resp_conn_close(c);
    }
}

/* ---- CLIENT LIST --------------------------------------------------------------------------- */

static void appendf(bs_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(bs_buf *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        bs_buf_append(out, tmp, (size_t)n);
        return;
    }
    bs_buf_reserve(out, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)out->ptr + out->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    out->len += (size_t)n;
}

void resp_conn_describe(const resp_conn *c, bs_buf *out)
{
    int64_t now = resp_now_ms();
    char flags[16];
    size_t nf = 0;
    if (c->closing)
        flags[nf++] = 'c';
    if (c->kill_now)
        flags[nf++] = 'A';
    if (c->no_evict)
        flags[nf++] = 'e';
    if (c->no_touch)
        flags[nf++] = 'T';
    if (c->multi.active)
        flags[nf++] = 'x'; /* in a MULTI/EXEC context */
    if (nf == 0)
        flags[nf++] = 'N';
    flags[nf] = '\0';
    char events[3];
    size_t ne = 0;
    if (event_pending(c->rev, EV_READ, NULL))
        events[ne++] = 'r';
    if (event_pending(c->wev, EV_WRITE, NULL))
        events[ne++] = 'w';
    events[ne] = '\0';
    size_t qbuf = resp_parser_pending(&c->parser);
    size_t rbs = c->parser.in.cap;
    size_t qfree = c->parser.in.cap - c->parser.in.len;
    size_t omem = resp_conn_out_bytes(c);
    size_t oll = 0; /* replies ready and waiting behind an unfinished one */
    for (const conn_req *r = c->head; r; r = (const conn_req *)r->req.next)
        if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) == REQ_DONE)
            oll++;
    size_t tot = sizeof *c + rbs + omem + c->argv_mem;
    appendf(out,
            "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%u "
            "sub=0 psub=0 ssub=0 multi=%lld qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=0 "
            "rbs=%zu rbp=%zu obl=0 oll=%zu omem=%zu tot-mem=%zu events=%s cmd=%s "
            "user=default redir=-1 resp=%d lib-name=%s lib-ver=%s",
            (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
            (long long)((now - c->ctime_ms) / 1000), (long long)((now - c->last_ms) / 1000), flags,
            c->db, c->multi.active ? (long long)c->multi.nq : -1LL, qbuf, qfree, c->argv_mem,
            rbs, c->qbuf_peak, oll, omem, tot, events,
            c->last_cmd ? c->last_cmd->fullname : "NULL", c->proto, c->lib_name ? c->lib_name : "",
            c->lib_ver ? c->lib_ver : "");
}
