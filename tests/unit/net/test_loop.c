/* test_loop.c -- net_loop: posts from many threads run in order on the loop thread,
 * run_sync waits, timers fire and re-arm, and stop drains what was accepted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/clock.h"
#include "net/net.h"

#define THREADS 4
#define PER_THREAD 5000

typedef struct counter {
    net_loop *loop;
    int last[THREADS]; /* per producer: the last sequence number seen */
    atomic_int total;
    bool order_ok;
    bool thread_ok;
} counter;

typedef struct item {
    counter *c;
    int producer, seq;
} item;

static void on_item(void *arg)
{
    item *it = arg;
    counter *c = it->c;
    if (it->seq != c->last[it->producer] + 1)
        c->order_ok = false;
    c->last[it->producer] = it->seq;
    if (!net_loop_in_thread(c->loop))
        c->thread_ok = false;
    atomic_fetch_add(&c->total, 1);
    free(it);
}

typedef struct producer_arg {
    counter *c;
    int id;
} producer_arg;

static void *producer(void *arg)
{
    producer_arg *p = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        item *it = malloc(sizeof *it);
        it->c = p->c;
        it->producer = p->id;
        it->seq = i;
        assert_int_equal(net_loop_post(p->c->loop, on_item, it), BS_OK);
    }
    return NULL;
}

static void test_post_from_threads(void **state)
{
    bs_err err;
    counter c = {.order_ok = true, .thread_ok = true};
    for (int i = 0; i < THREADS; i++)
        c.last[i] = -1;
    c.loop = net_loop_new("t", &err);
    assert_non_null(c.loop);
    assert_int_equal(net_loop_start(c.loop, &err), BS_OK);
    assert_int_equal(net_loop_start(c.loop, &err), BS_ESTATE);
    assert_false(net_loop_in_thread(c.loop));
    pthread_t th[THREADS];
    producer_arg pa[THREADS];
    for (int i = 0; i < THREADS; i++) {
        pa[i] = (producer_arg){&c, i};
        assert_int_equal(pthread_create(&th[i], NULL, producer, &pa[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    net_loop_stop(c.loop); /* everything accepted before the stop still runs */
    assert_int_equal(atomic_load(&c.total), THREADS * PER_THREAD);
    assert_true(c.order_ok);
    assert_true(c.thread_ok);
    assert_int_equal(net_loop_post(c.loop, on_item, NULL), BS_ESTATE);
    net_loop_stop(c.loop); /* idempotent */
    net_loop_free(c.loop);
}

typedef struct tstate {
    net_loop *loop;
    net_timer *t;
    atomic_int fired;
    int64_t started, at;
} tstate;

static void tick(void *arg)
{
    tstate *s = arg;
    if (atomic_fetch_add(&s->fired, 1) + 1 < 3)
        net_timer_arm(s->t, 20);
    else
        s->at = bs_clock_mono_ms();
}

static void arm_first(void *arg)
{
    tstate *s = arg;
    s->t = net_timer_new(s->loop, tick, s);
    s->started = bs_clock_mono_ms();
    net_timer_arm(s->t, 20);
}

static void free_timer(void *arg)
{
    tstate *s = arg;
    net_timer_free(s->t);
}

static void test_timers_and_run_sync(void **state)
{
    bs_err err;
    tstate s = {0};
    s.loop = net_loop_new("t", &err);
    assert_int_equal(net_loop_start(s.loop, &err), BS_OK);
    assert_int_equal(net_loop_run_sync(s.loop, arm_first, &s), BS_OK);
    for (int i = 0; i < 2000 && atomic_load(&s.fired) < 3; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&s.fired), 3);
    assert_true(s.at - s.started >= 55);
    assert_int_equal(net_loop_run_sync(s.loop, free_timer, &s), BS_OK);
    net_loop_stop(s.loop);
    net_loop_free(s.loop);
}

static void test_never_started(void **state)
{
    bs_err err;
    net_loop *loop = net_loop_new("t", &err);
    assert_true(net_loop_in_thread(loop));
    counter c = {.loop = loop, .order_ok = true, .thread_ok = true};
    c.last[0] = -1;
    item *it = malloc(sizeof *it);
    *it = (item){&c, 0, 0};
    assert_int_equal(net_loop_post(loop, on_item, it), BS_OK);
    net_loop_stop(loop);
    net_loop_free(loop); /* runs the accepted closure */
    assert_int_equal(atomic_load(&c.total), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_from_threads),
        cmocka_unit_test(test_timers_and_run_sync),
        cmocka_unit_test(test_never_started),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
