/* loop.c -- net_loop: one libevent base driven by one thread, plus posts and timers.
 *
 * Other threads reach a loop only through net_loop_post(): a mutex-protected FIFO of
 * closures and one libevent "user" event made active to wake the base (libevent's pthread
 * locking is switched on once per process, before any base exists, so event_active() is
 * safe from any thread). The FIFO is drained on the loop thread in posting order. Stopping
 * posts a closure that breaks the loop; the thread then drains what was queued before the
 * stop, so a closure that was accepted always runs exactly once.
 *
 * Invariant: after `stopping` is set under the mutex, no closure is accepted. */
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "common/assert.h"
#include "net/net_int.h"

typedef struct post_item {
    net_fn fn;
    void *arg;
    struct post_item *next;
} post_item;

struct net_loop {
    struct event_base *base;
    struct event *wake;
    char name[16];
    pthread_t thread;
    bool started; /* thread created and not joined */
    bool running; /* thread is inside the loop body */
    pthread_mutex_t mu;
    post_item *head, *tail; /* guarded by mu */
    bool stopping;          /* guarded by mu */
};

struct net_timer {
    struct event *ev;
    net_fn fn;
    void *arg;
};

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static int evthread_rc;

static void evthread_init(void)
{
    evthread_rc = evthread_use_pthreads();
    /* A peer that vanishes must cost a connection, not the process: writes to a closed
     * socket return EPIPE instead of raising SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
}

int64_t net_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drain_posts(net_loop *loop)
{
    for (;;) {
        pthread_mutex_lock(&loop->mu);
        post_item *it = loop->head;
        if (it) {
            loop->head = it->next;
            if (!loop->head)
                loop->tail = NULL;
        }
        pthread_mutex_unlock(&loop->mu);
        if (!it)
            return;
        it->fn(it->arg);
        bs_free(it);
    }
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    drain_posts(arg);
}

net_loop *net_loop_new(const char *name, bs_err *err)
{
    pthread_once(&evthread_once, evthread_init);
    if (evthread_rc != 0) {
        bs_err_setf(err, BS_EINTERNAL, "libevent: evthread_use_pthreads failed");
        return NULL;
    }
    net_loop *loop = bs_calloc(1, sizeof *loop);
    snprintf(loop->name, sizeof loop->name, "%s", name ? name : "net");
    loop->base = event_base_new();
    if (!loop->base) {
        bs_free(loop);
        bs_err_setf(err, BS_EINTERNAL, "libevent: event_base_new failed");
        return NULL;
    }
    loop->wake = event_new(loop->base, -1, 0, wake_cb, loop);
    BS_ASSERT(loop->wake);
    pthread_mutex_init(&loop->mu, NULL);
    return loop;
}

static void *loop_main(void *arg)
{
    net_loop *loop = arg;
    (void)pthread_setname_np(pthread_self(), loop->name); /* cosmetic; failure is harmless */
    int rc = event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
    BS_ASSERT(rc >= 0);
    drain_posts(loop); /* closures accepted before the stop */
    return NULL;
}

int net_loop_start(net_loop *loop, bs_err *err)
{
    pthread_mutex_lock(&loop->mu);
    bool stopped = loop->stopping;
    pthread_mutex_unlock(&loop->mu);
    if (loop->started || stopped)
        return bs_err_setf(err, BS_ESTATE, "net loop %s already started", loop->name);
    loop->running = true;
    if (pthread_create(&loop->thread, NULL, loop_main, loop) != 0) {
        loop->running = false;
        return bs_err_setf(err, BS_EINTERNAL, "net loop %s: pthread_create failed", loop->name);
    }
    loop->started = true;
    return BS_OK;
}

static void break_loop(void *arg)
{
    net_loop *loop = arg;
    event_base_loopbreak(loop->base);
}

void net_loop_stop(net_loop *loop)
{
    if (!loop->started)
        return;
    BS_ASSERT(!pthread_equal(pthread_self(), loop->thread));
    post_item *it = bs_malloc(sizeof *it);
    it->fn = break_loop;
    it->arg = loop;
    it->next = NULL;
    pthread_mutex_lock(&loop->mu);
    loop->stopping = true; /* from here on posts fail; the break goes last in the FIFO */
    if (loop->tail)
        loop->tail->next = it;
    else
        loop->head = it;
    loop->tail = it;
    pthread_mutex_unlock(&loop->mu);
    event_active(loop->wake, EV_READ, 0);
    pthread_join(loop->thread, NULL);
    loop->started = false;
    loop->running = false;
}

void net_loop_free(net_loop *loop)
{
    if (!loop)
        return;
    BS_ASSERT(!loop->started);
    drain_posts(loop);
    event_free(loop->wake);
    event_base_free(loop->base);
    pthread_mutex_destroy(&loop->mu);
    bs_free(loop);
}

int net_loop_post(net_loop *loop, net_fn fn, void *arg)
{
    post_item *it = bs_malloc(sizeof *it);
    it->fn = fn;
    it->arg = arg;
    it->next = NULL;
    pthread_mutex_lock(&loop->mu);
    if (loop->stopping) {
        pthread_mutex_unlock(&loop->mu);
        bs_free(it);
        return BS_ESTATE;
    }
    if (loop->tail)
        loop->tail->next = it;
    else
        loop->head = it;
    loop->tail = it;
    pthread_mutex_unlock(&loop->mu);
    event_active(loop->wake, EV_READ, 0);
    return BS_OK;
}

bool net_loop_in_thread(const net_loop *loop)
{
    if (!loop->running)
        return true;
    return pthread_equal(pthread_self(), loop->thread) != 0;
}

typedef struct sync_call {
    net_fn fn;
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
} sync_call;

static void sync_call_run(void *arg)
{
    sync_call *sc = arg;
    sc->fn(sc->arg);
    pthread_mutex_lock(&sc->mu);
    sc->done = true;
    pthread_cond_signal(&sc->cv);
    pthread_mutex_unlock(&sc->mu);
}

int net_loop_run_sync(net_loop *loop, net_fn fn, void *arg)
{
    if (net_loop_in_thread(loop)) {
        fn(arg);
        return BS_OK;
    }
    sync_call sc = {.fn = fn, .arg = arg};
    pthread_mutex_init(&sc.mu, NULL);
    pthread_cond_init(&sc.cv, NULL);
    int rc = net_loop_post(loop, sync_call_run, &sc);
    if (rc == BS_OK) {
        pthread_mutex_lock(&sc.mu);
        while (!sc.done)
            pthread_cond_wait(&sc.cv, &sc.mu);
        pthread_mutex_unlock(&sc.mu);
    }
    pthread_cond_destroy(&sc.cv);
    pthread_mutex_destroy(&sc.mu);
    return rc;
}

struct event_base *net_loop_base(net_loop *loop)
{
    return loop->base;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    net_timer *t = arg;
    t->fn(t->arg);
}

net_timer *net_timer_new(net_loop *loop, net_fn fn, void *arg)
{
    BS_DASSERT(net_loop_in_thread(loop));
    net_timer *t = bs_calloc(1, sizeof *t);
    t->fn = fn;
    t->arg = arg;
    t->ev = evtimer_new(loop->base, timer_cb, t);
    BS_ASSERT(t->ev);
    return t;
}

void net_timer_arm(net_timer *t, int64_t delay_ms)
{
    if (delay_ms < 0)
        delay_ms = 0;
    struct timeval tv = {.tv_sec = delay_ms / 1000, .tv_usec = (delay_ms % 1000) * 1000};
    int rc = evtimer_add(t->ev, &tv);
    BS_ASSERT(rc == 0);
}

void net_timer_disarm(net_timer *t)
{
    (void)evtimer_del(t->ev); /* fails only for an uninitialised event */
}

void net_timer_free(net_timer *t)
{
    if (!t)
        return;
    event_free(t->ev);
    bs_free(t);
}
