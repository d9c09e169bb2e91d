/* worker.c -- the client's one thread: retries after backoff and continuations that must
 * not run where they were triggered (a ReadIndex completes on the raftstore thread, which
 * must not scan; a long scan must not run on a network thread).
 *
 * A min-heap of requests ordered by (due time, arrival) under the client mutex; the thread
 * sleeps on a CLOCK_MONOTONIC condvar until the earliest is due, so a wall-clock step (or a
 * test moving wall time) never fires or starves a backoff. Closing fails the queued
 * retries, keeps running continuations until no request is in flight (their completions
 * may still queue work), then stops. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "client/client_int.h"
#include "common/assert.h"
#include "common/clock.h"

static bool before(const creq *a, const creq *b)
{
    return a->due_ms != b->due_ms ? a->due_ms < b->due_ms : a->seq < b->seq;
}

static void sift_up(creq **h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(h[i], h[p]))
            break;
        creq *t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static void sift_down(creq **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && before(h[l], h[m]))
            m = l;
        if (l + 1 < n && before(h[l + 1], h[m]))
            m = l + 1;
        if (m == i)
            return;
        creq *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

bool client_worker_post(client *c, creq *r, uint32_t delay_ms, bool backoff)
{
    pthread_mutex_lock(&c->mu);
    if (backoff && c->closing) {
        pthread_mutex_unlock(&c->mu);
        return false;
    }
    BS_ASSERT(!c->stop); /* a request in flight keeps the thread alive */
    r->due_ms = bs_clock_mono_ms() + delay_ms;
    r->seq = c->seq++;
    r->backoff = backoff;
    if (c->heap_n == c->heap_cap) {
        c->heap_cap = c->heap_cap ? 2 * c->heap_cap : 64;
        c->heap = bs_realloc(c->heap, c->heap_cap * sizeof(creq *));
    }
    c->heap[c->heap_n++] = r;
    sift_up(c->heap, c->heap_n - 1);
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return true;
}

static void *worker_main(void *arg)
{
    client *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        if (c->heap_n == 0) {
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        int64_t now = bs_clock_mono_ms();
        creq *r = c->heap[0];
        if (r->due_ms > now) {
            (void)bs_cond_wait_mono_ms(&c->cv, &c->mu, r->due_ms - now);
            continue;
        }
        c->heap[0] = c->heap[--c->heap_n];
        sift_down(c->heap, c->heap_n, 0);
        pthread_mutex_unlock(&c->mu);
        if (r->backoff)
            atomic_fetch_add(&c->retries, 1);
        r->on_worker = true;
        client_req_run(r);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int client_worker_start(client *c, bs_err *err)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&c->thread, NULL, worker_main, c);
    if (rc != 0)
        return bs_err_setf(err, BS_EINTERNAL, "client: cannot start the worker thread: %s",
                           strerror(rc));
    c->thread_started = true;
    (void)pthread_setname_np(c->thread, "client-worker"); /* cosmetic */
    return BS_OK;
}

void client_worker_stop(client *c)
{
    /* Take the queued retries out; keep queued continuations (their requests are mid-way
     * and will finish or fail on their own). */
    pthread_mutex_lock(&c->mu);
    c->closing = true;
    creq **failed = bs_calloc(c->heap_n ? c->heap_n : 1, sizeof(creq *));
    size_t nf = 0, kept = 0;
    for (size_t i = 0; i < c->heap_n; i++) {
        if (c->heap[i]->backoff)
            failed[nf++] = c->heap[i];
        else
            c->heap[kept++] = c->heap[i];
    }
    c->heap_n = kept;
    for (size_t i = kept / 2 + 1; i-- > 0;)
        sift_down(c->heap, c->heap_n, i);
    pthread_mutex_unlock(&c->mu);
    for (size_t i = 0; i < nf; i++) {
        (void)client_req_fail(failed[i], BS_EPROPOSAL_DROPPED, TXN_ERR_NONE, "client closed");
        client_req_finish(failed[i]);
    }
    bs_free(failed);

    pthread_mutex_lock(&c->mu);
    while (c->in_flight > 0)
        pthread_cond_wait(&c->idle, &c->mu);
    BS_ASSERT(c->heap_n == 0); /* every queued request was in flight */
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    c->thread_started = false;
}
