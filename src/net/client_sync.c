/* client_sync.c -- a blocking unary call for tests and tools.
 *
 * Starts the call on the client's loop with a posted closure and waits on a condition
 * variable for on_finish. The shared state is reference-counted (the waiter and the call
 * each hold one), so a waiter that gives up after its safety margin never leaves the loop
 * writing into freed memory. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/assert.h"
#include "net/net_int.h"

#define SAFETY_MARGIN_MS 5000

typedef struct sync_unary {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs; /* guarded by mu */
    bool done;
    net_client *client;
    char *path;
    bs_buf req;
    int64_t timeout_ms;
    bool got_msg;
    bs_buf resp;
    int status;
    char msg[256];
} sync_unary;

static void su_unref(sync_unary *su)
{
    pthread_mutex_lock(&su->mu);
    int left = --su->refs;
    pthread_mutex_unlock(&su->mu);
    if (left > 0)
        return;
    pthread_cond_destroy(&su->cv);
    pthread_mutex_destroy(&su->mu);
    bs_free(su->path);
    bs_buf_free(&su->req);
    bs_buf_free(&su->resp);
    bs_free(su);
}

static void su_message(net_ccall *cc, bs_slice msg, void *arg)
{
    sync_unary *su = arg;
    if (su->got_msg)
        return; /* a unary reply has one message; later ones are ignored */
    su->got_msg = true;
    bs_buf_append_slice(&su->resp, msg);
}

static void su_complete(sync_unary *su, int status, const char *message)
{
    pthread_mutex_lock(&su->mu);
    su->status = status;
    snprintf(su->msg, sizeof su->msg, "%s", message);
    su->done = true;
    pthread_cond_signal(&su->cv);
    pthread_mutex_unlock(&su->mu);
    su_unref(su);
}

static void su_finish(net_ccall *cc, int status, const char *message, void *arg)
{
    su_complete(arg, status, message);
}

static void su_start(void *arg)
{
    sync_unary *su = arg;
    net_ccall_ops ops = {.on_message = su_message, .on_finish = su_finish, .arg = su};
    bs_err err;
    bs_err_clear(&err);
    if (!net_client_unary(su->client, su->path, bs_buf_slice(&su->req), su->timeout_ms, &ops, &err))
        su_complete(su, NET_GRPC_INTERNAL, err.msg);
}

int net_client_unary_sync(net_client *c, const char *path, bs_slice req, int64_t timeout_ms,
                          bs_buf *resp, int *status, char *msg, size_t msg_cap, bs_err *err)
{
    if (!c || !path || !status || !resp || timeout_ms <= 0)
        return bs_err_setf(err, BS_EINVAL, "unary_sync: bad arguments");
    if (net_loop_in_thread(c->loop))
        return bs_err_setf(err, BS_ESTATE, "unary_sync: needs a running loop on another thread");
    sync_unary *su = bs_calloc(1, sizeof *su);
    pthread_mutex_init(&su->mu, NULL);
    pthread_cond_init(&su->cv, NULL);
    su->refs = 2;
    su->client = c;
    su->path = bs_strdup(path);
    bs_buf_init(&su->req);
    bs_buf_append_slice(&su->req, req);
    bs_buf_init(&su->resp);
    su->timeout_ms = timeout_ms;
    if (net_loop_post(c->loop, su_start, su) != BS_OK) {
        su->refs = 1;
        su_unref(su);
        return bs_err_setf(err, BS_ESTATE, "unary_sync: loop is stopping");
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t wait_ms = timeout_ms + SAFETY_MARGIN_MS;
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&su->mu);
    while (!su->done) {
        if (pthread_cond_timedwait(&su->cv, &su->mu, &until) == ETIMEDOUT)
            break;
    }
    bool done = su->done;
    if (done) {
        *status = su->status;
        bs_buf_append_slice(resp, bs_buf_slice(&su->resp));
        if (msg && msg_cap > 0)
            snprintf(msg, msg_cap, "%s", su->msg);
    }
    pthread_mutex_unlock(&su->mu);
    su_unref(su);
    if (!done) {
        *status = NET_GRPC_DEADLINE_EXCEEDED;
        if (msg && msg_cap > 0)
            snprintf(msg, msg_cap, "unary_sync: no completion within %lld ms", (long long)wait_ms);
    }
    return BS_OK;
}
