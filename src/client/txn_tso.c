/* txn_tso.c -- the TSO client: one thread that turns every timestamp request waiting at a
 * moment into ONE pd_tso_alloc (client-go's tsoDispatcher batches the same way), and that
 * also renews the GC safe point registration.
 *
 * Both talk to PD, which may write its meta store (a TSO window, a safe point) and so may
 * wait on a disk: never on a network or raftstore thread, hence the thread. Requests are
 * answered in arrival order with consecutive timestamps from the batch, on this thread;
 * the callbacks continue their operations (issue commands, read a key) without blocking.
 * The newest timestamp handed out is recorded before any callback of its batch runs, for
 * the GC registration (txn_client.c), which runs on this thread between batches. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "client/client_int.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"

void client_tso_request(client_txns *t, client_tso_fn done, void *arg)
{
    client_tso_waiter *w = bs_malloc(sizeof(*w));
    w->done = done;
    w->arg = arg;
    w->next = NULL;
    pthread_mutex_lock(&t->mu);
    BS_ASSERT(!t->stop); /* the caller's hold keeps the thread running */
    if (t->tail)
        t->tail->next = w;
    else
        t->head = w;
    t->tail = w;
    t->n_waiting++;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* ---- the public call: a hold around one request ---------------------------------------- */

typedef struct tso_call {
    client_txns *t;
    client_tso_fn done;
    void *arg;
} tso_call;

static void on_public_ts(void *arg, int code, uint64_t ts)
{
    tso_call *x = arg;
    client_txns *t = x->t;
    x->done(x->arg, code, ts);
    bs_free(x);
    client_txns_release(t);
}

void client_tso_get(client_txns *t, client_tso_fn done, void *arg)
{
    if (!client_txns_hold(t)) {
        done(arg, BS_EPROPOSAL_DROPPED, 0); /* closing, as the client says it */
        return;
    }
    tso_call *x = bs_malloc(sizeof(*x));
    x->t = t;
    x->done = done;
    x->arg = arg;
    client_tso_request(t, on_public_ts, x);
}

/* ---- the thread ----------------------------------------------------------------------------- */

/* Serves the queued requests (mu held on entry and exit; dropped around PD and callbacks). */
static void serve(client_txns *t)
{
    client_tso_waiter *batch = NULL, **tail = &batch;
    uint32_t n = 0;
    while (t->head && n < PD_TSO_MAX_LOGICAL - 1) {
        client_tso_waiter *w = t->head;
        t->head = w->next;
        w->next = NULL;
        *tail = w;
        tail = &w->next;
        n++;
        t->n_waiting--;
    }
    if (!t->head)
        t->tail = NULL;
    pthread_mutex_unlock(&t->mu);

    bs_err err;
    uint64_t last = 0;
    bs_err_clear(&err);
    int rc = pd_tso_alloc(t->c->o.pd, n, &last, &err);
    atomic_fetch_add(&t->tso_batches, 1);
    if (rc == BS_OK) {
        BS_ASSERT(last >= n);
        atomic_fetch_add(&t->tso_requests, n);
        pthread_mutex_lock(&t->mu);
        BS_ASSERT(last - n >= t->last_ts); /* TSO never goes back */
        t->last_ts = last;
        pthread_mutex_unlock(&t->mu);
    } else {
        BS_LOG_WARN("tso request failed", "count=%u err=\"%s\"", n, err.msg);
    }
    uint64_t ts = last - n + 1;
    while (batch) {
        client_tso_waiter *w = batch;
        batch = w->next;
        w->done(w->arg, rc, rc == BS_OK ? ts++ : 0);
        bs_free(w);
    }
    pthread_mutex_lock(&t->mu);
}

static void timed_wait(client_txns *t, int64_t until_ms)
{
    int64_t wait = until_ms - bs_clock_mono_ms();
    if (wait <= 0)
        return;
    (void)bs_cond_wait_mono_ms(&t->cv, &t->mu, wait);
}

static void *tso_main(void *arg)
{
    client_txns *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        int64_t now = bs_clock_mono_ms();
        if (t->gc_asked || now >= t->next_gc_ms) {
            t->gc_asked = false;
            t->next_gc_ms = now + t->o.gc_update_ms;
            pthread_mutex_unlock(&t->mu);
            client_txns_gc_update(t);
            pthread_mutex_lock(&t->mu);
            continue;
        }
        if (t->head && !t->paused) {
            serve(t);
            continue;
        }
        timed_wait(t, t->next_gc_ms);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

int client_tso_start(client_txns *t, bs_err *err)
{
    int rc = pthread_create(&t->thread, NULL, tso_main, t);
    if (rc != 0)
        return bs_err_setf(err, BS_EINTERNAL, "client txns: cannot start the TSO thread: %s",
                           strerror(rc));
    t->thread_started = true;
    (void)pthread_setname_np(t->thread, "txn-tso"); /* cosmetic */
    return BS_OK;
}

void client_tso_stop(client_txns *t)
{
    pthread_mutex_lock(&t->mu);
    BS_ASSERT(t->head == NULL && t->n_waiting == 0); /* every request belonged to a hold */
    t->stop = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    if (t->thread_started)
        pthread_join(t->thread, NULL);
    t->thread_started = false;
}

void client_tso_pause(client_txns *t, bool paused)
{
    pthread_mutex_lock(&t->mu);
    t->paused = paused;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}
