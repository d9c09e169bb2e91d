/* latches.c -- per-key latches that serialize the commands touching the same keys
 * (TiKV src/storage/txn/latch.rs).
 *
 * Keys hash to slots; each slot keeps a FIFO of the commands that want it, and the head of
 * the FIFO holds it. A command takes its slots in ascending slot order and queues on the
 * first one it cannot get, so waits always point from a lower slot to a higher one and
 * can never form a cycle: no deadlock, whatever keys commands share. Waiting is a
 * continuation, not a blocked thread: the releaser pops the head of each slot it held and
 * resumes the next command in line, which goes on acquiring from where it stopped and,
 * once it holds everything, runs through its ready callback on the releaser's thread. A
 * network thread therefore never waits on a latch.
 *
 * Invariant: a lock's node for slots[i] is queued in that slot iff i <= owned (i < owned:
 * it is the head; i == owned < n_slots: it waits). One mutex guards every queue; sections
 * are short (pointer moves only). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "txn/txn_int.h"

struct txn_latch_waiter {
    txn_latch_lock *lk;
    struct txn_latch_waiter *next;
    bool queued;
};

typedef struct latch_slot {
    struct txn_latch_waiter *head, *tail;
} latch_slot;

struct txn_latches {
    pthread_mutex_t mu;
    size_t mask;
    latch_slot *slots;
};

txn_latches *txn_latches_new(size_t slots)
{
    txn_latches *l = bs_calloc(1, sizeof(*l));
    size_t n = 16;
    while (n < slots)
        n <<= 1;
    pthread_mutex_init(&l->mu, NULL);
    l->mask = n - 1;
    l->slots = bs_calloc(n, sizeof(latch_slot));
    return l;
}

void txn_latches_free(txn_latches *l)
{
    if (!l)
        return;
    for (size_t i = 0; i <= l->mask; i++)
        BS_ASSERT(l->slots[i].head == NULL);
    pthread_mutex_destroy(&l->mu);
    bs_free(l->slots);
    bs_free(l);
}

/* FNV-1a: keys are short and this only spreads them over slots. */
static uint32_t key_hash(bs_slice k)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < k.len; i++) {
        h ^= k.ptr[i];
        h *= 16777619u;
    }
    return h;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void txn_latch_lock_init(txn_latch_lock *lk, const txn_latches *l, const bs_slice *keys,
                         size_t n_keys, txn_latch_ready_fn ready, void *ready_arg)
{
    size_t n = 0;
    memset(lk, 0, sizeof(*lk));
    lk->slots = bs_calloc(n_keys ? n_keys : 1, sizeof(uint32_t));
    for (size_t i = 0; i < n_keys; i++)
        lk->slots[i] = key_hash(keys[i]) & (uint32_t)l->mask;
    qsort(lk->slots, n_keys, sizeof(uint32_t), cmp_u32);
    for (size_t i = 0; i < n_keys; i++)
        if (n == 0 || lk->slots[n - 1] != lk->slots[i])
            lk->slots[n++] = lk->slots[i];
    lk->n_slots = n;
    lk->nodes = bs_calloc(n ? n : 1, sizeof(struct txn_latch_waiter));
    for (size_t i = 0; i < n; i++)
        lk->nodes[i].lk = lk;
    lk->ready = ready;
    lk->ready_arg = ready_arg;
}

void txn_latch_lock_deinit(txn_latch_lock *lk)
{
    for (size_t i = 0; i < lk->n_slots; i++)
        BS_ASSERT(!lk->nodes[i].queued);
    bs_free(lk->slots);
    bs_free(lk->nodes);
    memset(lk, 0, sizeof(*lk));
}

/* Takes slots from lk->owned on; called with l->mu held. */
static bool acquire_locked(txn_latches *l, txn_latch_lock *lk)
{
    while (lk->owned < lk->n_slots) {
        latch_slot *s = &l->slots[lk->slots[lk->owned]];
        struct txn_latch_waiter *w = &lk->nodes[lk->owned];
        if (!w->queued) {
            w->queued = true;
            w->next = NULL;
            if (s->tail)
                s->tail->next = w;
            else
                s->head = w;
            s->tail = w;
        }
        if (s->head != w)
            return false;
        lk->owned++;
    }
    return true;
}

bool txn_latches_acquire(txn_latches *l, txn_latch_lock *lk)
{
    bool done;
    pthread_mutex_lock(&l->mu);
    done = acquire_locked(l, lk);
    pthread_mutex_unlock(&l->mu);
    return done;
}

void txn_latches_release(txn_latches *l, txn_latch_lock *lk)
{
    txn_latch_lock *woken_stack[64];
    txn_latch_lock **woken = woken_stack;
    size_t n_woken = 0;
    BS_ASSERT(lk->owned == lk->n_slots);
    if (lk->n_slots > sizeof(woken_stack) / sizeof(woken_stack[0]))
        woken = bs_calloc(lk->n_slots, sizeof(*woken));
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < lk->n_slots; i++) {
        latch_slot *s = &l->slots[lk->slots[i]];
        struct txn_latch_waiter *w = &lk->nodes[i];
        BS_ASSERT(s->head == w);
        s->head = w->next;
        if (!s->head)
            s->tail = NULL;
        w->queued = false;
        w->next = NULL;
        /* The new head waits exactly at this slot (invariant above): resume it. */
        if (s->head) {
            txn_latch_lock *next = s->head->lk;
            if (acquire_locked(l, next))
                woken[n_woken++] = next;
        }
    }
    lk->owned = 0;
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; i < n_woken; i++)
        woken[i]->ready(woken[i]->ready_arg);
    if (woken != woken_stack)
        bs_free(woken);
}

/* ---- the trampoline (txn_int.h) ------------------------------------------------------------ */

static __thread txn_tramp *tramp_head, *tramp_tail;
static __thread bool tramp_active;

void txn_tramp_schedule(txn_tramp *t)
{
    BS_ASSERT(t->run);
    t->next = NULL;
    if (tramp_tail)
        tramp_tail->next = t;
    else
        tramp_head = t;
    tramp_tail = t;
    if (tramp_active)
        return;
    tramp_active = true;
    while (tramp_head) {
        txn_tramp *x = tramp_head;
        tramp_head = x->next;
        if (!tramp_head)
            tramp_tail = NULL;
        x->run(x); /* may schedule more: queued behind */
    }
    tramp_active = false;
}
