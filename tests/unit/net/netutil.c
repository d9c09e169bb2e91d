/* netutil.c -- the test.Echo service and client fixtures shared by the net/ tests (see
 * netutil.h for what each method does). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netutil.h"

atomic_int echo_cancels;
atomic_int echo_finished;
atomic_size_t stream_max_queued;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

bool wait_for(bool (*pred)(void *), void *arg, int64_t timeout_ms)
{
    for (int64_t i = 0; i < timeout_ms; i++) {
        if (pred(arg))
            return true;
        sleep_ms(1);
    }
    return pred(arg);
}

typedef struct int_target {
    atomic_int *v;
    int target;
} int_target;

static bool int_reached(void *arg)
{
    int_target *t = arg;
    return atomic_load(t->v) >= t->target;
}

bool wait_int_at_least(atomic_int *v, int target, int64_t timeout_ms)
{
    int_target t = {v, target};
    return wait_for(int_reached, &t, timeout_ms);
}

/* ---- test.Echo ---------------------------------------------------------------------- */

static void start_noop(net_call *call, void *arg)
{
}

static void echo_msg(net_call *call, bs_slice msg, void *arg)
{
    (void)net_call_send(call, msg.ptr, msg.len);
}

static void finish_ok(net_call *call, void *arg)
{
    atomic_fetch_add(&echo_finished, 1);
    net_call_finish(call, NET_GRPC_OK, NULL);
}

/* Handlers that own a cancelled call must still finish it. */
static void cancel_and_finish(net_call *call, void *arg)
{
    atomic_fetch_add(&echo_cancels, 1);
    net_call_finish(call, NET_GRPC_CANCELLED, NULL);
}

typedef struct stream_state {
    uint32_t n, size, next;
    uint8_t *buf;
} stream_state;

static void stream_pump(net_call *call, void *arg)
{
    stream_state *st = net_call_user(call);
    if (!st)
        return;
    while (st->next < st->n && net_call_writable(call)) {
        uint32_t i = st->next++;
        st->buf[0] = (uint8_t)(i >> 24);
        st->buf[1] = (uint8_t)(i >> 16);
        st->buf[2] = (uint8_t)(i >> 8);
        st->buf[3] = (uint8_t)i;
        if (net_call_send(call, st->buf, st->size) != BS_OK)
            return;
        size_t q = net_call_queued(call);
        size_t cur = atomic_load(&stream_max_queued);
        while (q > cur && !atomic_compare_exchange_weak(&stream_max_queued, &cur, q)) {
        }
    }
    if (st->next == st->n) {
        free(st->buf);
        free(st);
        net_call_set_user(call, NULL);
        finish_ok(call, arg);
    }
}

static void stream_msg(net_call *call, bs_slice msg, void *arg)
{
    char tmp[64];
    size_t l = msg.len < sizeof tmp - 1 ? msg.len : sizeof tmp - 1;
    memcpy(tmp, msg.ptr, l);
    tmp[l] = 0;
    unsigned n = 0, size = 0;
    if (sscanf(tmp, "%u %u", &n, &size) != 2 || size < 4 || net_call_user(call)) {
        net_call_finish(call, NET_GRPC_INVALID_ARGUMENT, "want \"N S\"");
        return;
    }
    stream_state *st = calloc(1, sizeof *st);
    st->n = n;
    st->size = size;
    st->buf = calloc(1, size);
    memset(st->buf, 's', size);
    net_call_set_user(call, st);
    stream_pump(call, arg);
}

static void stream_cancel(net_call *call, void *arg)
{
    stream_state *st = net_call_user(call);
    if (st) {
        free(st->buf);
        free(st);
    }
    cancel_and_finish(call, arg);
}

typedef struct cs_state {
    size_t count, bytes;
} cs_state;

static void cs_start(net_call *call, void *arg)
{
    net_call_set_user(call, calloc(1, sizeof(cs_state)));
}

static void cs_msg(net_call *call, bs_slice msg, void *arg)
{
    cs_state *st = net_call_user(call);
    st->count++;
    st->bytes += msg.len;
}

static void cs_half_close(net_call *call, void *arg)
{
    cs_state *st = net_call_user(call);
    char out[64];
    int n = snprintf(out, sizeof out, "count=%zu bytes=%zu", st->count, st->bytes);
    free(st);
    (void)net_call_send(call, out, (size_t)n);
    finish_ok(call, arg);
}

static void cs_cancel(net_call *call, void *arg)
{
    free(net_call_user(call));
    cancel_and_finish(call, arg);
}

/* Async: a worker thread posts the reply back to the loop. */
typedef struct async_job {
    net_call *call;
    bs_buf req;
    bool worker; /* a worker owns the finish */
} async_job;

static void async_reply(void *arg)
{
    async_job *j = arg;
    if (!net_call_cancelled(j->call))
        (void)net_call_send(j->call, j->req.ptr, j->req.len);
    if (net_call_cancelled(j->call))
        net_call_finish(j->call, NET_GRPC_CANCELLED, NULL);
    else
        finish_ok(j->call, NULL);
    bs_buf_free(&j->req);
    free(j);
}

static void *async_worker(void *arg)
{
    async_job *j = arg;
    sleep_ms(50);
    int rc = net_loop_post(net_call_loop(j->call), async_reply, j);
    assert_int_equal(rc, BS_OK);
    return NULL;
}

static void async_msg(net_call *call, bs_slice msg, void *arg)
{
    async_job *j = net_call_user(call);
    if (!j) {
        j = calloc(1, sizeof *j);
        j->call = call;
        bs_buf_init(&j->req);
        net_call_set_user(call, j);
    }
    bs_buf_set(&j->req, msg.ptr, msg.len);
}

static void async_half_close(net_call *call, void *arg)
{
    async_job *j = net_call_user(call);
    if (!j) {
        net_call_finish(call, NET_GRPC_INVALID_ARGUMENT, "no request");
        return;
    }
    pthread_t th;
    j->worker = true;
    assert_int_equal(pthread_create(&th, NULL, async_worker, j), 0);
    pthread_detach(th);
}

static void async_cancel(net_call *call, void *arg)
{
    async_job *j = net_call_user(call);
    if (j && j->worker) {
        atomic_fetch_add(&echo_cancels, 1); /* the worker's closure finishes the call */
        return;
    }
    if (j) {
        bs_buf_free(&j->req);
        free(j);
    }
    cancel_and_finish(call, arg);
}

/* Slow: a loop timer replies after 300 ms. */
typedef struct slow_state {
    net_call *call;
    net_timer *timer;
} slow_state;

static void slow_fire(void *arg)
{
    slow_state *st = arg;
    net_call *call = st->call;
    net_timer_free(st->timer);
    free(st);
    net_call_set_user(call, NULL);
    (void)net_call_send(call, "slow", 4);
    finish_ok(call, NULL);
}

static void slow_half_close(net_call *call, void *arg)
{
    slow_state *st = calloc(1, sizeof *st);
    st->call = call;
    st->timer = net_timer_new(net_call_loop(call), slow_fire, st);
    net_call_set_user(call, st);
    net_timer_arm(st->timer, 300);
}

static void slow_cancel(net_call *call, void *arg)
{
    slow_state *st = net_call_user(call);
    if (st) {
        net_timer_free(st->timer);
        free(st);
    }
    cancel_and_finish(call, arg);
}

static void fail_half_close(net_call *call, void *arg)
{
    net_call_finish(call, NET_GRPC_INVALID_ARGUMENT, FAIL_MESSAGE);
}

static void meta_half_close(net_call *call, void *arg)
{
    size_t len = 0;
    const char *v = net_call_header(call, "x-basalt-meta", &len);
    if (!v) {
        v = "missing";
        len = 7;
    }
    (void)net_call_send(call, v, len);
    finish_ok(call, arg);
}

static void deadline_half_close(net_call *call, void *arg)
{
    size_t len = 0;
    const char *v = net_call_header(call, "grpc-timeout", &len);
    if (!v) {
        v = "none";
        len = 4;
    }
    (void)net_call_send(call, v, len);
    finish_ok(call, arg);
}

static const net_method echo_methods[] = {
    {"/test.Echo/Unary", start_noop, echo_msg, finish_ok, cancel_and_finish, NULL, NULL},
    {"/test.Echo/Bidi", start_noop, echo_msg, finish_ok, cancel_and_finish, NULL, NULL},
    {"/test.Echo/ServerStream", start_noop, stream_msg, NULL, stream_cancel, stream_pump, NULL},
    {"/test.Echo/ClientStream", cs_start, cs_msg, cs_half_close, cs_cancel, NULL, NULL},
    {"/test.Echo/Hang", start_noop, NULL, NULL, cancel_and_finish, NULL, NULL},
    {"/test.Echo/Async", start_noop, async_msg, async_half_close, async_cancel, NULL, NULL},
    {"/test.Echo/Slow", start_noop, NULL, slow_half_close, slow_cancel, NULL, NULL},
    {"/test.Echo/Fail", start_noop, NULL, fail_half_close, cancel_and_finish, NULL, NULL},
    {"/test.Echo/Meta", start_noop, NULL, meta_half_close, cancel_and_finish, NULL, NULL},
    {"/test.Echo/Deadline", start_noop, NULL, deadline_half_close, cancel_and_finish, NULL, NULL},
};

void tsrv_start(tsrv *t, const net_server_options *o)
{
    bs_err err;
    bs_err_clear(&err);
    net_server_options opts = {0};
    if (o)
        opts = *o;
    opts.host = "127.0.0.1";
    opts.port = 0;
    t->loop = net_loop_new("test-srv", &err);
    assert_non_null(t->loop);
    assert_int_equal(net_loop_start(t->loop, &err), BS_OK);
    t->srv = net_server_new(t->loop, &opts, &err);
    if (!t->srv)
        fail_msg("net_server_new: %s", err.msg);
    for (size_t i = 0; i < sizeof echo_methods / sizeof echo_methods[0]; i++)
        assert_int_equal(net_server_add_method(t->srv, &echo_methods[i], &err), BS_OK);
    if (net_server_start(t->srv, &err) != BS_OK)
        fail_msg("net_server_start: %s", err.msg);
    t->port = net_server_port(t->srv);
    assert_true(t->port != 0);
}

void tsrv_stop(tsrv *t)
{
    net_server_shutdown(t->srv, 1000);
    net_server_free(t->srv);
    net_loop_stop(t->loop);
    net_loop_free(t->loop);
    memset(t, 0, sizeof *t);
}

void tcli_start(tcli *t, uint16_t port, const net_tls_config *tls)
{
    bs_err err;
    bs_err_clear(&err);
    t->loop = net_loop_new("test-cli", &err);
    assert_non_null(t->loop);
    assert_int_equal(net_loop_start(t->loop, &err), BS_OK);
    net_client_options o = {.host = "127.0.0.1", .port = port};
    if (tls)
        o.tls = *tls;
    t->cli = net_client_new(t->loop, &o, &err);
    if (!t->cli)
        fail_msg("net_client_new: %s", err.msg);
}

void tcli_stop(tcli *t)
{
    net_client_free(t->cli);
    net_loop_stop(t->loop);
    net_loop_free(t->loop);
    memset(t, 0, sizeof *t);
}

/* ---- streaming job ------------------------------------------------------------------ */

static void job_message(net_ccall *cc, bs_slice msg, void *arg)
{
    sjob *job = arg;
    if (job->nrecv == 0)
        bs_buf_set(&job->first, msg.ptr, msg.len);
    if (job->payload == 0 && !job->first_msg) {
        char want[32];
        int n = snprintf(want, sizeof want, "msg-%d", job->nrecv);
        if (msg.len != (size_t)n || memcmp(msg.ptr, want, (size_t)n) != 0)
            job->in_order = false;
    }
    job->nrecv++;
    job->bytes += msg.len;
    if (job->cancel_after_first && job->nrecv == 1)
        net_ccall_cancel(cc);
}

static void job_finish(net_ccall *cc, int status, const char *message, void *arg)
{
    sjob *job = arg;
    job->status = status;
    snprintf(job->message, sizeof job->message, "%s", message);
    job->cc = NULL;
    atomic_store(&job->done, true);
}

static void job_start(void *arg)
{
    sjob *job = arg;
    net_ccall_ops ops = {.on_message = job_message, .on_finish = job_finish, .arg = job};
    bs_err err;
    bs_err_clear(&err);
    net_ccall *cc =
        net_client_start(job->cli, job->path, job->timeout_ms, job->md, job->md_count, &ops, &err);
    assert_non_null(cc);
    job->cc = cc;
    if (job->first_msg) {
        (void)net_ccall_send(cc, job->first_msg, strlen(job->first_msg));
    } else {
        uint8_t *big = job->payload ? malloc(job->payload) : NULL;
        if (big)
            memset(big, 'x', job->payload);
        for (int i = 0; i < job->nsend; i++) {
            if (big) {
                (void)net_ccall_send(cc, big, job->payload);
            } else {
                char m[32];
                int n = snprintf(m, sizeof m, "msg-%d", i);
                (void)net_ccall_send(cc, m, (size_t)n);
            }
        }
        free(big);
    }
    if (!job->keep_open)
        net_ccall_close_send(cc);
}

static void job_started(void *arg)
{
    (void)arg; /* posted after job_start: runs once it has */
}

void sjob_start(tcli *c, sjob *job)
{
    job->cli = c->cli;
    job->in_order = true;
    atomic_store(&job->done, false);
    bs_buf_init(&job->first);
    assert_int_equal(net_loop_post(c->loop, job_start, job), BS_OK);
    assert_int_equal(net_loop_run_sync(c->loop, job_started, job), BS_OK);
}

static bool job_done(void *arg)
{
    sjob *job = arg;
    return atomic_load(&job->done);
}

bool sjob_wait(sjob *job, int64_t wait_ms)
{
    return wait_for(job_done, job, wait_ms);
}

bool sjob_run(tcli *c, sjob *job, int64_t wait_ms)
{
    sjob_start(c, job);
    return sjob_wait(job, wait_ms);
}

void sjob_free(sjob *job)
{
    bs_buf_free(&job->first);
}
