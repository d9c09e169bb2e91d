/* raft_bench.c -- throughput of the raft library alone: a 3-node in-memory cluster driven
 * in one thread, no I/O. Each round proposes a batch of 100-byte entries on the leader,
 * then runs Ready/persist/deliver/apply/advance on every node until the batch is applied
 * on the leader. Messages go straight from one node's Ready into the next node's
 * raft_step (entry bytes are shared by reference, as the library allows), and storage is
 * raft_memstorage, compacted as the bench goes so memory stays flat.
 * Reports committed proposals per second and heap allocations per proposal for several
 * batch sizes; allocations are counted by interposing malloc/calloc/realloc (not in
 * sanitizer builds, where the sanitizer owns the allocator).
 *
 *   raft_bench [seconds-per-batch-size]      (default 1) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raft/raft.h"

#if defined(__SANITIZE_ADDRESS__)
#define COUNT_ALLOCS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COUNT_ALLOCS 0
#endif
#endif
#ifndef COUNT_ALLOCS
#define COUNT_ALLOCS 1
#endif

static unsigned long long n_allocs;

#if COUNT_ALLOCS
/* glibc's own entry points, so the counters can wrap the public ones. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);

void *malloc(size_t n)
{
    n_allocs++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    n_allocs++;
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    n_allocs++;
    return __libc_realloc(p, n);
}
#endif

#define N 3

static raft_node *nodes[N + 1];
static raft_memstorage *stores[N + 1];
static uint64_t applied[N + 1];

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const bs_err *err)
{
    fprintf(stderr, "raft_bench: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

/* One Ready of node id; returns whether it had one. */
static int pump_one(int id)
{
    raft_node *r = nodes[id];
    if (!raft_has_ready(r))
        return 0;
    raft_ready rd;
    raft_ready_get(r, &rd);
    for (size_t i = 0; i < rd.n_msgs; i++) {
        bs_err err;
        if (raft_step(nodes[rd.msgs[i].to], &rd.msgs[i], &err) != BS_OK)
            die("step", &err);
    }
    if (rd.snapshot)
        raft_memstorage_apply_snapshot(stores[id], rd.snapshot);
    raft_memstorage_append(stores[id], rd.entries, rd.n_entries);
    if (rd.has_hs)
        raft_memstorage_set_hard_state(stores[id], &rd.hs);
    for (size_t i = 0; i < rd.n_persisted_msgs; i++) {
        bs_err err;
        if (raft_step(nodes[rd.persisted_msgs[i].to], &rd.persisted_msgs[i], &err) != BS_OK)
            die("step", &err);
    }
    if (rd.n_committed > 0)
        applied[id] = rd.committed[rd.n_committed - 1].index;
    raft_advance(r, &rd);
    return 1;
}

static void pump(void)
{
    int any;
    do {
        any = 0;
        for (int id = 1; id <= N; id++)
            any |= pump_one(id);
    } while (any);
}

static void setup(void)
{
    raft_conf_state cs;
    memset(&cs, 0, sizeof(cs));
    for (int i = 1; i <= N; i++)
        cs.voters[cs.n_voters++] = (uint64_t)i;
    for (int i = 1; i <= N; i++) {
        stores[i] = raft_memstorage_new(&cs);
        raft_config c;
        raft_config_default(&c);
        c.id = (uint64_t)i;
        c.seed = (uint64_t)i;
        c.max_size_per_msg = 4 << 20;
        c.storage = raft_memstorage_storage(stores[i]);
        bs_err err;
        if (raft_new(&c, &nodes[i], &err) != BS_OK)
            die("raft_new", &err);
        applied[i] = 0;
    }
    raft_campaign(nodes[1]);
    pump();
    raft_status st;
    raft_get_status(nodes[1], &st);
    if (st.role != RAFT_LEADER)
        die("election", NULL);
}

static void teardown(void)
{
    for (int i = 1; i <= N; i++) {
        raft_free(nodes[i]);
        raft_memstorage_free(stores[i]);
    }
}

static void compact(void)
{
    uint64_t lo = applied[1];
    for (int i = 2; i <= N; i++)
        if (applied[i] < lo)
            lo = applied[i];
    for (int i = 1; i <= N; i++)
        (void)raft_memstorage_compact(stores[i], lo, NULL); /* no-op if nothing to do */
}

static void run(int batch, double seconds)
{
    setup();
    uint8_t payload[100];
    memset(payload, 'p', sizeof(payload));
    bs_slice data = bs_slice_make(payload, sizeof(payload));
    unsigned long long proposals = 0, rounds = 0;
    uint64_t start_applied = applied[1];
    unsigned long long a0 = n_allocs;
    double t0 = now_sec(), t1;
    do {
        for (int i = 0; i < batch; i++) {
            bs_err err;
            if (raft_propose(nodes[1], data, NULL, &err) != BS_OK)
                die("propose", &err);
        }
        proposals += (unsigned long long)batch;
        pump();
        if (++rounds % 64 == 0)
            compact();
        t1 = now_sec();
    } while (t1 - t0 < seconds);
    unsigned long long allocs = n_allocs - a0;
    uint64_t committed = applied[1] - start_applied;
    if (committed != proposals)
        die("not every proposal committed", NULL);
    printf("batch %5d: %10.0f committed proposals/s  (%llu in %.2f s, %llu rounds)", batch,
           (double)committed / (t1 - t0), (unsigned long long)committed, t1 - t0, rounds);
    if (COUNT_ALLOCS)
        printf("  %.2f allocations/proposal\n", (double)allocs / (double)committed);
    else
        printf("  allocations not counted (sanitizer build)\n");
    teardown();
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    if (seconds <= 0)
        seconds = 1.0;
    printf("raft_bench: 3 voters in one thread, 100-byte proposals, in-memory storage\n");
    int batches[] = {1, 16, 256, 4096};
    for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]); i++)
        run(batches[i], seconds);
    return 0;
}
