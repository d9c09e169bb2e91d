/* multi_exec_bench.c -- MULTI/EXEC throughput and latency against any Redis-protocol server.
 *
 * redis-benchmark sends one command per request and cannot group a transaction, so this
 * does: each of -c connections (one thread each, blocking hiredis) loops sending
 * MULTI, -k SETs of random keys (-r keyspace, -d byte values), EXEC as one pipelined
 * write, reads the k + 2 replies, and times the whole round trip. It stops after -n
 * transactions in total. Prints one line: transactions/s, SETs/s, latency percentiles in
 * ms, and how many EXECs failed (nil or error), so a script can parse it.
 *
 *   multi_exec_bench -h 127.0.0.1 -p 6379 -c 50 -n 20000 -k 2 -d 100 -r 100000 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct opts {
    const char *host;
    int port, clients, sets, size;
    long total, keyspace;
} opts;

typedef struct worker {
    const opts *o;
    pthread_t thread;
    unsigned seed;
    double *lat_ms; /* one per transaction done */
    long done, failed;
    char err[256];
} worker;

static _Atomic long next_txn;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *run(void *arg)
{
    worker *w = arg;
    const opts *o = w->o;
    redisContext *c = redisConnect(o->host, o->port);
    if (!c || c->err) {
        snprintf(w->err, sizeof w->err, "connect: %s", c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    char *value = malloc((size_t)o->size + 1);
    memset(value, 'v', (size_t)o->size);
    value[o->size] = '\0';
    w->lat_ms = calloc((size_t)o->total, sizeof(double));
    while (atomic_fetch_add(&next_txn, 1) < o->total) {
        double t0 = now_ms();
        redisAppendCommand(c, "MULTI");
        for (int i = 0; i < o->sets; i++) {
            char key[32];
            snprintf(key, sizeof key, "mx:%012ld", (long)(rand_r(&w->seed) % o->keyspace));
            redisAppendCommand(c, "SET %s %b", key, value, (size_t)o->size);
        }
        redisAppendCommand(c, "EXEC");
        bool failed = false;
        for (int i = 0; i < o->sets + 2; i++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                snprintf(w->err, sizeof w->err, "read: %s", c->errstr);
                goto out;
            }
            if (r->type == REDIS_REPLY_ERROR)
                failed = true;
            if (i == o->sets + 1 && r->type != REDIS_REPLY_ARRAY)
                failed = true; /* nil: a WATCH failed (none here), or an error */
            freeReplyObject(r);
        }
        w->lat_ms[w->done++] = now_ms() - t0;
        if (failed)
            w->failed++;
    }
out:
    free(value);
    redisFree(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    opts o = {"127.0.0.1", 6379, 50, 2, 100, 20000, 100000};
    int ch;
    while ((ch = getopt(argc, argv, "h:p:c:n:k:d:r:")) != -1) {
        switch (ch) {
        case 'h': o.host = optarg; break;
        case 'p': o.port = atoi(optarg); break;
        case 'c': o.clients = atoi(optarg); break;
        case 'n': o.total = atol(optarg); break;
        case 'k': o.sets = atoi(optarg); break;
        case 'd': o.size = atoi(optarg); break;
        case 'r': o.keyspace = atol(optarg); break;
        default:
            fprintf(stderr,
                    "usage: %s [-h host] [-p port] [-c clients] [-n txns] [-k sets per txn] "
                    "[-d value bytes] [-r keyspace]\n",
                    argv[0]);
            return 2;
        }
    }
    if (o.clients < 1 || o.total < 1 || o.sets < 1 || o.size < 0 || o.keyspace < 1) {
        fprintf(stderr, "multi_exec_bench: bad arguments\n");
        return 2;
    }
    worker *ws = calloc((size_t)o.clients, sizeof(worker));
    double t0 = now_ms();
    for (int i = 0; i < o.clients; i++) {
        ws[i].o = &o;
        ws[i].seed = 0x9e3779b9u * (unsigned)(i + 1);
        if (pthread_create(&ws[i].thread, NULL, run, &ws[i]) != 0) {
            fprintf(stderr, "multi_exec_bench: cannot start a thread\n");
            return 1;
        }
    }
    for (int i = 0; i < o.clients; i++)
        pthread_join(ws[i].thread, NULL);
    double secs = (now_ms() - t0) / 1e3;
    long done = 0, failed = 0;
    for (int i = 0; i < o.clients; i++) {
        if (ws[i].err[0])
            fprintf(stderr, "multi_exec_bench: client %d: %s\n", i, ws[i].err);
        done += ws[i].done;
        failed += ws[i].failed;
    }
    double *all = calloc((size_t)(done ? done : 1), sizeof(double));
    long k = 0;
    for (int i = 0; i < o.clients; i++) {
        memcpy(all + k, ws[i].lat_ms, (size_t)ws[i].done * sizeof(double));
        k += ws[i].done;
        free(ws[i].lat_ms);
    }
    qsort(all, (size_t)done, sizeof(double), cmp_double);
    double p50 = done ? all[done / 2] : 0, p99 = done ? all[(long)((double)done * 0.99)] : 0;
    printf("txns=%ld secs=%.2f txn_per_s=%.0f sets_per_s=%.0f p50_ms=%.3f p99_ms=%.3f failed=%ld\n",
           done, secs, (double)done / secs, (double)done * o.sets / secs, p50, p99, failed);
    free(all);
    free(ws);
    return done == o.total ? 0 : 1;
}
