/* grpc_pool.c -- the store service's worker threads.
 *
 * DESIGN.md keeps the gRPC loop for point reads and short scans: a loop thread that runs a
 * scan of a million keys stalls every other call of every connection on it. Requests that
 * may take long (a scan or batch read past SRV_TIKV_INLINE_KEYS keys, RawChecksum, a
 * ResolveLock that scans a Region, GetStoreSafeTS) are queued here instead, as TiKV hands
 * them to its read pool. A job only computes; it finishes its op through the op's own
 * machinery, which posts the reply back to the call's loop (grpc_tikv.c, finish), because
 * net/'s calls are loop-thread only.
 *
 * The queue is bounded: a full queue is the caller's to answer (ServerIsBusy, as TiKV's
 * read pool answers when it is full), so a flood of scans costs memory proportional to
 * the bound, not to the flood. At stop, jobs that never started are dropped (their drop
 * function runs on the stopping thread) and running ones are waited for. */
#include <pthread.h>
#include <stdio.h>

#include "common/log.h"
#include "server/grpc_int.h"

typedef struct pool_job {
    struct pool_job *next;
    net_fn run, drop;
    void *arg;
} pool_job;

struct srv_grpc_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pool_job *head, *tail; /* FIFO; guarded by mu */
    size_t queued;         /* jobs in the list; guarded by mu */
    size_t max_queued;
    bool stopping; /* guarded by mu; set once */
    pthread_t *threads;
    size_t n_threads; /* started */
    char name[16];
};

static void *worker_main(void *arg)
{
    srv_grpc_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stopping)
            break; /* what is still queued is dropped by srv_grpc_pool_stop */
        pool_job *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->mu);
        j->run(j->arg);
        bs_free(j);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int srv_grpc_pool_new(const char *name, size_t threads, size_t max_queued, srv_grpc_pool **out,
                      bs_err *err)
{
    *out = NULL;
    if (threads == 0 || max_queued == 0)
        return bs_err_setf(err, BS_EINVAL, "worker pool %s: threads and queue must be > 0", name);
    srv_grpc_pool *p = bs_calloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->max_queued = max_queued;
    snprintf(p->name, sizeof p->name, "%s", name);
    p->threads = bs_calloc(threads, sizeof(pthread_t));
    for (size_t i = 0; i < threads; i++) {
        int e = pthread_create(&p->threads[i], NULL, worker_main, p);
        if (e != 0) {
            srv_grpc_pool_free(p); /* joins the ones that started */
            return bs_err_setf(err, BS_EINTERNAL, "worker pool %s: pthread_create: error %d", name,
                               e);
        }
        /* Best effort: a name only helps in top and gdb. */
        (void)pthread_setname_np(p->threads[i], p->name);
        p->n_threads++;
    }
    *out = p;
    return BS_OK;
}

int srv_grpc_pool_submit(srv_grpc_pool *p, net_fn run, net_fn drop, void *arg)
{
    pthread_mutex_lock(&p->mu);
    int rc = p->stopping ? BS_ESTATE : p->queued >= p->max_queued ? BS_EBUSY : BS_OK;
    if (rc == BS_OK) {
        pool_job *j = bs_calloc(1, sizeof(*j));
        j->run = run;
        j->drop = drop;
        j->arg = arg;
        if (p->tail)
            p->tail->next = j;
        else
            p->head = j;
        p->tail = j;
        p->queued++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void srv_grpc_pool_stop(srv_grpc_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    bool first = !p->stopping;
    p->stopping = true;
    pool_job *left = p->head;
    p->head = p->tail = NULL;
    p->queued = 0;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (!first)
        return;
    for (size_t i = 0; i < p->n_threads; i++) {
        int e = pthread_join(p->threads[i], NULL);
        if (e != 0)
            BS_LOG_ERROR("worker pool join failed", "pool=%s err=%d", p->name, e);
    }
    p->n_threads = 0;
    while (left) {
        pool_job *j = left;
        left = j->next;
        j->drop(j->arg);
        bs_free(j);
    }
}

void srv_grpc_pool_free(srv_grpc_pool *p)
{
    if (!p)
        return;
    srv_grpc_pool_stop(p);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    bs_free(p->threads);
    bs_free(p);
}
