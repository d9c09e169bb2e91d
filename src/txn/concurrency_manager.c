/* concurrency_manager.c -- max_ts and the in-memory lock table (TiKV
 * components/concurrency_manager).
 *
 * Why it exists: a raw write picks its timestamp long before Raft applies it. A read at a
 * later ts must not miss that write, so (1) every read at ts raises max_ts first and
 * every write picks a ts above max_ts, and (2) from the moment a write starts choosing
 * its ts until it is applied, its key sits in this table; a read at ts >= the write's ts
 * (or while the ts is still being chosen) answers "key is being written" and retries after
 * the apply. Linking happens under the table mutex BEFORE the writer loads max_ts, and a
 * reader raises max_ts BEFORE it looks at the table, so one of the two always sees the
 * other.
 *
 * The table also carries read-modify-write chaining: each key's entry is a FIFO of pending
 * records in proposal (= Raft log) order. A new command on the key reads the newest
 * pending write instead of the engine and links behind it. Applies arrive in chain order;
 * a failure unlinks the failed record and everything behind it, since those read (or were
 * ordered after) a value that will never exist. NOOP records (a read-modify-write that
 * wrote nothing) complete when everything ahead of them has applied, so their answers
 * never expose a value that later vanishes.
 *
 * Entries are designed to carry a Percolator lock as well later (kind MEM_LOCK_TXN);
 * today only raw pending chains exist. Keys in the table are MCE(API v2 key). */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "common/assert.h"
#include "common/codec.h"
#include "txn/txn_int.h"

#define CM_BUCKETS 4096

typedef enum mem_lock_kind { MEM_LOCK_RAW = 0, MEM_LOCK_TXN = 1 } mem_lock_kind;

typedef struct key_waiter {
    void (*cb)(void *arg);
    void *arg;
    struct key_waiter *next;
} key_waiter;

struct txn_mem_lock {
    struct txn_mem_lock *hnext;
    bs_buf key;          /* MCE(API v2 key) */
    mem_lock_kind kind;  /* MEM_LOCK_RAW: head..tail pending chain */
    txn_pending *head, *tail;
    key_waiter *waiters; /* called when the chain empties */
};

struct txn_cm {
    _Atomic uint64_t max_ts;
    pthread_mutex_t mu;
    pthread_cond_t flight_cv; /* signalled when a record leaves flight */
    size_t flight_waiters;    /* failures waiting on flight_cv */
    size_t n_keys;
    struct txn_mem_lock *buckets[CM_BUCKETS];
};

/* Work collected under the mutex and run after it is released. */
typedef struct notify_list {
    txn_pending **recs;
    bool *oks;
    size_t n, cap;
    key_waiter *waiters;
} notify_list;

static void nl_push(notify_list *nl, txn_pending *rec, bool ok)
{
    if (nl->n == nl->cap) {
        nl->cap = nl->cap ? nl->cap * 2 : 8;
        nl->recs = bs_realloc(nl->recs, nl->cap * sizeof(*nl->recs));
        nl->oks = bs_realloc(nl->oks, nl->cap * sizeof(*nl->oks));
    }
    nl->recs[nl->n] = rec;
    nl->oks[nl->n++] = ok;
}

static void nl_run(notify_list *nl)
{
    for (size_t i = 0; i < nl->n; i++)
        nl->recs[i]->notify(nl->recs[i]->owner, nl->recs[i], nl->oks[i]);
    while (nl->waiters) {
        key_waiter *w = nl->waiters;
        nl->waiters = w->next;
        w->cb(w->arg);
        bs_free(w);
    }
    bs_free(nl->recs);
    bs_free(nl->oks);
}

txn_cm *txn_cm_new(void)
{
    txn_cm *cm = bs_calloc(1, sizeof(*cm));
    atomic_init(&cm->max_ts, 0);
    pthread_mutex_init(&cm->mu, NULL);
    pthread_cond_init(&cm->flight_cv, NULL);
    return cm;
}

void txn_cm_free(txn_cm *cm)
{
    if (!cm)
        return;
    BS_ASSERT(cm->n_keys == 0 && cm->flight_waiters == 0);
    pthread_cond_destroy(&cm->flight_cv);
    pthread_mutex_destroy(&cm->mu);
    bs_free(cm);
}

uint64_t txn_cm_max_ts(const txn_cm *cm)
{
    return atomic_load(&((txn_cm *)cm)->max_ts);
}

void txn_cm_update_max_ts(txn_cm *cm, uint64_t ts)
{
    uint64_t cur = atomic_load(&cm->max_ts);
    while (cur < ts && !atomic_compare_exchange_weak(&cm->max_ts, &cur, ts)) {
    }
}

static size_t bucket_of(bs_slice enc)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < enc.len; i++) {
        h ^= enc.ptr[i];
        h *= 1099511628211ull;
    }
    return (size_t)(h % CM_BUCKETS);
}

static struct txn_mem_lock *find(txn_cm *cm, bs_slice enc, bool create)
{
    size_t b = bucket_of(enc);
    struct txn_mem_lock *m;
    for (m = cm->buckets[b]; m; m = m->hnext)
        if (bs_slice_eq(bs_buf_slice(&m->key), enc))
            return m;
    if (!create)
        return NULL;
    m = bs_calloc(1, sizeof(*m));
    bs_buf_append_slice(&m->key, enc);
    m->kind = MEM_LOCK_RAW;
    m->hnext = cm->buckets[b];
    cm->buckets[b] = m;
    cm->n_keys++;
    return m;
}

/* Frees m when its chain is empty, handing its key waiters to nl. Mutex held. */
static void maybe_remove(txn_cm *cm, struct txn_mem_lock *m, notify_list *nl)
{
    struct txn_mem_lock **pp;
    if (m->head)
        return;
    while (m->waiters) {
        key_waiter *w = m->waiters;
        m->waiters = w->next;
        w->next = nl->waiters;
        nl->waiters = w;
    }
    for (pp = &cm->buckets[bucket_of(bs_buf_slice(&m->key))]; *pp != m; pp = &(*pp)->hnext) {
    }
    *pp = m->hnext;
    cm->n_keys--;
    bs_buf_free(&m->key);
    bs_free(m);
}

static bool blocks_read(const txn_pending *p, uint64_t read_ts)
{
    return p->state == TXN_PENDING_CHOOSING || (p->state == TXN_PENDING_PROPOSED && p->ts <= read_ts);
}

int txn_cm_check_read(txn_cm *cm, bs_slice key, uint64_t read_ts)
{
    bs_buf enc = BS_BUF_INIT;
    int rc = BS_OK;
    bs_mce_append(&enc, key);
    pthread_mutex_lock(&cm->mu);
    struct txn_mem_lock *m = find(cm, bs_buf_slice(&enc), false);
    for (txn_pending *p = m ? m->head : NULL; p; p = p->next)
        if (blocks_read(p, read_ts))
            rc = BS_EBUSY;
    pthread_mutex_unlock(&cm->mu);
    bs_buf_free(&enc);
    return rc;
}

int txn_cm_check_range(txn_cm *cm, bs_slice start, bs_slice end, uint64_t read_ts)
{
    bs_buf lo = BS_BUF_INIT, hi = BS_BUF_INIT;
    int rc = BS_OK;
    bs_mce_append(&lo, start);
    if (end.len)
        bs_mce_append(&hi, end);
    pthread_mutex_lock(&cm->mu);
    for (size_t b = 0; b < CM_BUCKETS && rc == BS_OK && cm->n_keys; b++)
        for (struct txn_mem_lock *m = cm->buckets[b]; m && rc == BS_OK; m = m->hnext) {
            bs_slice k = bs_buf_slice(&m->key);
            if (bs_slice_cmp(k, bs_buf_slice(&lo)) < 0 ||
                (hi.len && bs_slice_cmp(k, bs_buf_slice(&hi)) >= 0))
                continue;
            for (txn_pending *p = m->head; p; p = p->next)
                if (blocks_read(p, read_ts))
                    rc = BS_EBUSY;
        }
    pthread_mutex_unlock(&cm->mu);
    bs_buf_free(&lo);
    bs_buf_free(&hi);
    return rc;
}

void txn_cm_wait_key(txn_cm *cm, bs_slice key, void (*cb)(void *arg), void *arg)
{
    bs_buf enc = BS_BUF_INIT;
    bool now;
    bs_mce_append(&enc, key);
    pthread_mutex_lock(&cm->mu);
    struct txn_mem_lock *m = find(cm, bs_buf_slice(&enc), false);
    now = m == NULL;
    if (m) {
        key_waiter *w = bs_calloc(1, sizeof(*w));
        w->cb = cb;
        w->arg = arg;
        w->next = m->waiters;
        m->waiters = w;
    }
    pthread_mutex_unlock(&cm->mu);
    bs_buf_free(&enc);
    if (now)
        cb(arg);
}

size_t txn_cm_table_size(txn_cm *cm)
{
    size_t n;
    pthread_mutex_lock(&cm->mu);
    n = cm->n_keys;
    pthread_mutex_unlock(&cm->mu);
    return n;
}

static void write_copy(txn_write *dst, const txn_write *src)
{
    dst->kind = src->kind;
    dst->expire_ms = src->expire_ms;
    bs_buf_set(&dst->value, src->value.ptr, src->value.len);
}

void txn_cm_pending_link(txn_cm *cm, bs_slice key, txn_pending *rec, txn_pending_view *prev)
{
    bs_buf enc = BS_BUF_INIT;
    bs_mce_append(&enc, key);
    memset(prev, 0, sizeof(*prev));
    pthread_mutex_lock(&cm->mu);
    struct txn_mem_lock *m = find(cm, bs_buf_slice(&enc), true);
    for (txn_pending *p = m->head; p; p = p->next) {
        if (p->state != TXN_PENDING_PROPOSED)
            continue;
        /* A CHOOSING record cannot precede us: its command holds the key's latch. */
        prev->present = true;
        if (p->ts > prev->ts)
            prev->ts = p->ts;
        write_copy(&prev->write, &p->write); /* the last PROPOSED one wins */
    }
    rec->next = NULL;
    rec->lock = m;
    rec->linked = true;
    rec->state = TXN_PENDING_CHOOSING;
    rec->broken = false;
    rec->fail_code = BS_OK;
    rec->flight = NULL;
    if (m->tail)
        m->tail->next = rec;
    else
        m->head = rec;
    m->tail = rec;
    pthread_mutex_unlock(&cm->mu);
    bs_buf_free(&enc);
}

/* Names the calling thread for txn_pending.flight: the address of a thread-local. */
static const void *thread_token(void)
{
    static __thread char token;
    return &token;
}

/* Mutex held. */
static void set_proposed(txn_pending *rec, uint64_t ts, const txn_write *w)
{
    BS_ASSERT(rec->linked && rec->state == TXN_PENDING_CHOOSING && !rec->flight);
    write_copy(&rec->write, w);
    rec->ts = ts;
    rec->state = TXN_PENDING_PROPOSED;
}

void txn_cm_pending_propose(txn_cm *cm, txn_pending *rec, uint64_t ts, const txn_write *w)
{
    pthread_mutex_lock(&cm->mu);
    BS_ASSERT(!rec->broken); /* nothing precedes it (see txn_int.h) */
    set_proposed(rec, ts, w);
    pthread_mutex_unlock(&cm->mu);
}

int txn_cm_pending_propose_begin(txn_cm *cm, txn_pending *recs, const txn_write *writes,
                                 size_t n, uint64_t ts)
{
    int code = BS_OK;
    pthread_mutex_lock(&cm->mu);
    for (size_t i = 0; i < n; i++) {
        BS_ASSERT(recs[i].linked && recs[i].state == TXN_PENDING_CHOOSING);
        if (recs[i].broken && code == BS_OK)
            code = recs[i].fail_code;
    }
    for (size_t i = 0; code == BS_OK && i < n; i++) {
        set_proposed(&recs[i], ts, &writes[i]);
        recs[i].flight = thread_token();
    }
    pthread_mutex_unlock(&cm->mu);
    return code;
}

void txn_cm_pending_propose_end(txn_cm *cm, txn_pending *recs, size_t n)
{
    pthread_mutex_lock(&cm->mu);
    for (size_t i = 0; i < n; i++) {
        BS_ASSERT(recs[i].flight == thread_token());
        recs[i].flight = NULL;
    }
    if (cm->flight_waiters)
        pthread_cond_broadcast(&cm->flight_cv);
    pthread_mutex_unlock(&cm->mu);
}

/* Unlinks rec from its chain (any position). Mutex held. */
static void unlink_rec(txn_pending *rec)
{
    struct txn_mem_lock *m = rec->lock;
    txn_pending **pp = &m->head, *prev = NULL;
    while (*pp != rec) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    *pp = rec->next;
    if (m->tail == rec)
        m->tail = prev;
    rec->linked = false;
    rec->broken = false;
    rec->next = NULL;
}

/* Completes the NOOP records heading m's chain. Mutex held. */
static void pop_noops(txn_cm *cm, struct txn_mem_lock *m, notify_list *nl)
{
    while (m->head && m->head->state == TXN_PENDING_NOOP) {
        txn_pending *p = m->head;
        unlink_rec(p);
        nl_push(nl, p, true);
    }
    maybe_remove(cm, m, nl);
}

static void settle_noop_locked(txn_cm *cm, txn_pending *rec, notify_list *nl)
{
    BS_ASSERT(rec->linked && rec->state == TXN_PENDING_CHOOSING && !rec->flight);
    rec->state = TXN_PENDING_NOOP;
    pop_noops(cm, rec->lock, nl);
}

void txn_cm_pending_noop(txn_cm *cm, txn_pending *rec)
{
    notify_list nl = {0};
    pthread_mutex_lock(&cm->mu);
    BS_ASSERT(!rec->broken); /* nothing precedes it (see txn_int.h) */
    settle_noop_locked(cm, rec, &nl);
    pthread_mutex_unlock(&cm->mu);
    nl_run(&nl);
}

int txn_cm_pending_settle_noop(txn_cm *cm, txn_pending *rec)
{
    notify_list nl = {0};
    int code = BS_OK;
    pthread_mutex_lock(&cm->mu);
    if (rec->broken) {
        BS_ASSERT(rec->linked && rec->state == TXN_PENDING_CHOOSING && rec->fail_code != BS_OK);
        code = rec->fail_code;
    } else {
        settle_noop_locked(cm, rec, &nl);
    }
    pthread_mutex_unlock(&cm->mu);
    nl_run(&nl);
    return code;
}

/* A record behind rec that another thread is handing to the proposer, or NULL. Mutex
 * held. */
static const txn_pending *foreign_flight_after(const txn_pending *rec)
{
    for (const txn_pending *p = rec->next; p; p = p->next)
        if (p->flight && p->flight != thread_token())
            return p;
    return NULL;
}

bool txn_cm_pending_fail(txn_cm *cm, txn_pending *rec, int code)
{
    notify_list nl = {0};
    BS_ASSERT(code != BS_OK);
    pthread_mutex_lock(&cm->mu);
    /* Let every successor in flight finish its proposer call first (file comment). The
     * chain may change while we wait, and someone may even fail rec: look again. */
    while (rec->linked && foreign_flight_after(rec)) {
        cm->flight_waiters++;
        pthread_cond_wait(&cm->flight_cv, &cm->mu);
        cm->flight_waiters--;
    }
    if (!rec->linked) {
        pthread_mutex_unlock(&cm->mu);
        return false;
    }
    struct txn_mem_lock *m = rec->lock;
    txn_pending *after = rec->next;
    unlink_rec(rec);
    while (after) {
        txn_pending *p = after;
        after = p->next;
        if (p->state == TXN_PENDING_CHOOSING) {
            /* Its command runs under the key's latch: nothing can have linked behind it. */
            BS_ASSERT(after == NULL && !p->flight);
            if (!p->broken) {
                p->broken = true;
                p->fail_code = code;
            }
            continue;
        }
        unlink_rec(p);
        p->fail_code = code;
        nl_push(&nl, p, false);
    }
    maybe_remove(cm, m, &nl);
    pthread_mutex_unlock(&cm->mu);
    nl_run(&nl);
    return true;
}

bool txn_cm_pending_done(txn_cm *cm, txn_pending *rec, bool ok)
{
    notify_list nl = {0};
    if (!ok)
        return txn_cm_pending_fail(cm, rec, BS_EPROPOSAL_DROPPED);
    pthread_mutex_lock(&cm->mu);
    if (!rec->linked) {
        pthread_mutex_unlock(&cm->mu);
        return false;
    }
    struct txn_mem_lock *m = rec->lock;
    unlink_rec(rec);
    pop_noops(cm, m, &nl);
    pthread_mutex_unlock(&cm->mu);
    nl_run(&nl);
    return true;
}
