/* test_latches.c -- latches: a second command on a key waits and is resumed by the
 * release; slots are sorted and de-duplicated; and many threads taking random overlapping
 * key sets never deadlock and never share a key. The trampoline runs chains of wake-ups
 * flat and in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txn/harness.h"
#include "txn/txn_int.h"

static void count_ready(void *arg)
{
    (*(int *)arg)++;
}

static void test_wait_and_wake(void **state)
{
    (void)state;
    txn_latches *l = txn_latches_new(64);
    bs_slice ka[2] = {th_s("a"), th_s("b")}, kb[1] = {th_s("b")};
    txn_latch_lock a, b, c;
    int ready_b = 0, ready_c = 0;
    txn_latch_lock_init(&a, l, ka, 2, count_ready, NULL);
    txn_latch_lock_init(&b, l, kb, 1, count_ready, &ready_b);
    txn_latch_lock_init(&c, l, kb, 1, count_ready, &ready_c);
    assert_true(txn_latches_acquire(l, &a));
    assert_false(txn_latches_acquire(l, &b));
    assert_false(txn_latches_acquire(l, &c));
    txn_latches_release(l, &a);
    assert_int_equal(ready_b, 1); /* FIFO: b first */
    assert_int_equal(ready_c, 0);
    txn_latches_release(l, &b);
    assert_int_equal(ready_c, 1);
    txn_latches_release(l, &c);
    txn_latch_lock_deinit(&a);
    txn_latch_lock_deinit(&b);
    txn_latch_lock_deinit(&c);
    txn_latches_free(l);
}

static void test_slots_sorted_unique(void **state)
{
    (void)state;
    txn_latches *l = txn_latches_new(16);
    bs_slice keys[5] = {th_s("z"), th_s("a"), th_s("z"), th_s("m"), th_s("a")};
    txn_latch_lock lk;
    txn_latch_lock_init(&lk, l, keys, 5, count_ready, NULL);
    assert_true(lk.n_slots <= 3);
    for (size_t i = 1; i < lk.n_slots; i++)
        assert_true(lk.slots[i - 1] < lk.slots[i]);
    assert_true(txn_latches_acquire(l, &lk));
    txn_latches_release(l, &lk);
    txn_latch_lock_deinit(&lk);
    txn_latches_free(l);
}

enum { THREADS = 8, ITERS = 3000, KEYS = 24 };

typedef struct stress {
    txn_latches *l;
    _Atomic int busy[KEYS];
    _Atomic long done;
    atomic_bool clash;
} stress;

typedef struct worker {
    stress *st;
    sem_t sem;
    unsigned seed;
} worker;

static void post(void *arg)
{
    sem_post(&((worker *)arg)->sem);
}

static void *run(void *arg)
{
    worker *w = arg;
    char names[KEYS][16];
    for (int i = 0; i < KEYS; i++)
        snprintf(names[i], sizeof(names[i]), "k%d", i);
    for (int it = 0; it < ITERS; it++) {
        int n = 1 + (int)(rand_r(&w->seed) % 4), idx[4];
        bs_slice keys[4];
        for (int i = 0; i < n; i++) {
            idx[i] = (int)(rand_r(&w->seed) % KEYS);
            keys[i] = th_s(names[idx[i]]);
        }
        txn_latch_lock lk;
        txn_latch_lock_init(&lk, w->st->l, keys, (size_t)n, post, w);
        if (!txn_latches_acquire(w->st->l, &lk))
            sem_wait(&w->sem);
        /* Keys can share a slot, so exclusivity is per distinct key of this set. */
        bool mine[KEYS] = {false};
        for (int i = 0; i < n; i++)
            if (!mine[idx[i]]) {
                mine[idx[i]] = true;
                if (atomic_fetch_add(&w->st->busy[idx[i]], 1) != 0)
                    atomic_store(&w->st->clash, true);
            }
        for (int i = 0; i < KEYS; i++)
            if (mine[i])
                atomic_fetch_sub(&w->st->busy[i], 1);
        txn_latches_release(w->st->l, &lk);
        txn_latch_lock_deinit(&lk);
        atomic_fetch_add(&w->st->done, 1);
    }
    return NULL;
}

static void test_many_threads_no_deadlock(void **state)
{
    (void)state;
    stress st;
    memset(&st, 0, sizeof(st));
    st.l = txn_latches_new(16); /* few slots: many collisions */
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].st = &st;
        w[i].seed = 1234u + (unsigned)i;
        sem_init(&w[i].sem, 0, 0);
        pthread_create(&t[i], NULL, run, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        sem_destroy(&w[i].sem);
    }
    assert_int_equal(atomic_load(&st.done), (long)THREADS * ITERS);
    assert_false(atomic_load(&st.clash));
    txn_latches_free(st.l);
}

/* ---- the trampoline: a chain of runs that schedule each other stays flat ------------------ */

#define CHAIN 10000

typedef struct chain_item {
    txn_tramp t;
    int idx;
} chain_item;

static chain_item chain[CHAIN];
static int chain_depth, chain_max_depth, chain_next, chain_order_ok;

static void chain_run(txn_tramp *t)
{
    chain_item *it = (chain_item *)((char *)t - offsetof(chain_item, t));
    chain_depth++;
    if (chain_depth > chain_max_depth)
        chain_max_depth = chain_depth;
    if (it->idx != chain_next++)
        chain_order_ok = 0;
    /* Every even run wakes the next two, as a release waking waiters would: both only
     * queue (FIFO), neither runs inside this one. */
    if (it->idx % 2 == 0 && it->idx + 1 < CHAIN) {
        txn_tramp_schedule(&chain[it->idx + 1].t);
        if (it->idx + 2 < CHAIN)
            txn_tramp_schedule(&chain[it->idx + 2].t);
    }
    chain_depth--;
}

static void test_trampoline_flat_fifo(void **state)
{
    (void)state;
    for (int i = 0; i < CHAIN; i++) {
        chain[i].t.run = chain_run;
        chain[i].idx = i;
    }
    chain_depth = chain_max_depth = chain_next = 0;
    chain_order_ok = 1;
    txn_tramp_schedule(&chain[0].t);
    assert_int_equal(chain_next, CHAIN);  /* every run happened before schedule returned */
    assert_int_equal(chain_max_depth, 1); /* never nested */
    assert_true(chain_order_ok);          /* in scheduling order */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_and_wake),
        cmocka_unit_test(test_slots_sorted_unique),
        cmocka_unit_test(test_many_threads_no_deadlock),
        cmocka_unit_test(test_trampoline_flat_fifo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
