/* causal_ts.c -- the causal timestamp source of raw writes (TiKV components/causal_ts,
 * BatchTsoProvider).
 *
 * API v2 gives every raw write a timestamp, and a later write of a key must get a larger
 * one even across leader changes. Asking PD for each write would cost a round trip, so the
 * source reserves a batch of TSOs at once and hands them out locally; it starts the next
 * fetch when half the batch is used. The batch adapts to the write rate, as TiKV's
 * renew-batch sizing does: a source that used half a batch within
 * TXN_CAUSAL_TS_GROW_MS doubles the next one (up to TXN_CAUSAL_TS_MAX_BATCH). The
 * prefetch then leads the writes by about a second whatever their rate, so a fetch that
 * waits behind the store's background jobs (an fsync of PD's window, a GC pass) does not
 * run the source dry: a dry source answers BS_EBUSY and every write backs off. A batch
 * older than TXN_CAUSAL_TS_RENEW_MS is renewed on its next use, at half the size (down to
 * the configured one), so a large batch left over from a burst neither keeps slow writes
 * at timestamps far behind PD's clock nor stays large.
 * When a peer becomes leader the batch is flushed: the old
 * leader may have handed out timestamps this store never saw, and only a fresh TSO (which
 * PD guarantees to be above every TSO issued before) is safe. Until it arrives get returns
 * BS_EBUSY, TiKV's MaxTimestampNotSynced.
 *
 * Invariant: every ts returned by get is > floor, and floor >= every ts returned or
 * observed before. After a (re)sync, floor >= the first ts of the fresh batch + 1. The
 * provider is asynchronous (fetch + callback), so no caller blocks. */
#include <pthread.h>

#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "txn/txn_int.h"

struct txn_causal_ts {
    pthread_mutex_t mu;
    txn_tso_fetch_fn fetch;
    void *fetch_arg;
    uint32_t batch;    /* configured size: flushes, and the floor of prefetches */
    uint32_t prefetch; /* size of the next prefetch: batch..TXN_CAUSAL_TS_MAX_BATCH */
    int64_t last_prefetch_ms; /* when the last prefetch started (0: none yet) */
    int64_t batch_ms;  /* when the current batch landed */
    uint64_t next;     /* next ts of the batch to hand out */
    uint64_t last;     /* last ts of the batch; exhausted when next > last */
    uint64_t floor;    /* highest ts handed out or observed */
    uint64_t gen;      /* bumped by flush: fetches of older generations are ignored */
    bool synced;       /* false from flush until its fetch lands */
    int in_flight;     /* fetches not yet answered */
    bool fetching_gen; /* a fetch of the current generation is in flight */
};

typedef struct fetch_req {
    txn_causal_ts *c;
    uint64_t gen;
    uint32_t count;
    txn_tso_done_fn done; /* flush's caller, may be NULL */
    void *done_arg;
} fetch_req;

static void fetch_done(void *arg, int code, uint64_t last_ts)
{
    fetch_req *r = arg;
    txn_causal_ts *c = r->c;
    pthread_mutex_lock(&c->mu);
    c->in_flight--;
    if (r->gen == c->gen) {
        c->fetching_gen = false;
        if (code == BS_OK && last_ts >= r->count) {
            c->next = last_ts - r->count + 1;
            c->last = last_ts;
            c->batch_ms = bs_clock_mono_ms();
            /* A (re)sync: earlier holders of the Regions (a previous process on this data
             * dir, an old leader) may have written up to 2 past the last TSO they saw
             * (txn_choose_write_ts: max_ts + 1, then floor + 1; a source past its batch
             * answers BUSY until the next batch), and every TSO they saw is below this
             * batch. Raising floor to first + 1 keeps every ts handed out from now on
             * above all of those versions (command.c, "Blind writes"). */
            if (!c->synced && c->floor < c->next + 1)
                c->floor = c->next + 1;
            c->synced = true;
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (code != BS_OK)
        BS_LOG_WARN("causal ts fetch failed", "code=%s", bs_errname(code));
    if (r->done)
        r->done(r->done_arg, code, last_ts);
    bs_free(r);
}

/* Starts a fetch of the current generation. Called with c->mu held; the provider is called
 * after unlocking, because it may answer synchronously. Returns the request to send. */
static fetch_req *fetch_prepare(txn_causal_ts *c, uint32_t count, txn_tso_done_fn done,
                                void *done_arg)
{
    fetch_req *r = bs_calloc(1, sizeof(*r));
    r->c = c;
    r->gen = c->gen;
    r->count = count;
    r->done = done;
    r->done_arg = done_arg;
    c->in_flight++;
    c->fetching_gen = true;
    return r;
}

/* The size of a prefetch that starts now (file comment): doubled when the previous one's
 * half batch lasted less than TXN_CAUSAL_TS_GROW_MS; halved for a renewal for age (aged:
 * not even half a batch was used in TXN_CAUSAL_TS_RENEW_MS). Called with c->mu held. */
static uint32_t prefetch_size(txn_causal_ts *c, bool aged)
{
    int64_t now = bs_clock_mono_ms();
    bool grow = !aged && c->last_prefetch_ms != 0 &&
                now - c->last_prefetch_ms < TXN_CAUSAL_TS_GROW_MS;
    if (grow && c->prefetch < TXN_CAUSAL_TS_MAX_BATCH)
        c->prefetch = c->prefetch * 2 > TXN_CAUSAL_TS_MAX_BATCH ? TXN_CAUSAL_TS_MAX_BATCH
                                                                : c->prefetch * 2;
    else if (aged && c->prefetch > c->batch)
        c->prefetch = c->prefetch / 2 < c->batch ? c->batch : c->prefetch / 2;
    c->last_prefetch_ms = now;
    return c->prefetch;
}

static void fetch_send(txn_causal_ts *c, fetch_req *r)
{
    if (r)
        c->fetch(c->fetch_arg, r->count, fetch_done, r);
}

txn_causal_ts *txn_causal_ts_new(txn_tso_fetch_fn fetch, void *arg, uint32_t batch)
{
    txn_causal_ts *c = bs_calloc(1, sizeof(*c));
    fetch_req *r;
    BS_ASSERT(fetch && batch >= 1);
    pthread_mutex_init(&c->mu, NULL);
    c->fetch = fetch;
    c->fetch_arg = arg;
    c->batch = batch;
    c->prefetch = batch;
    c->next = 1;
    c->last = 0;
    pthread_mutex_lock(&c->mu);
    r = fetch_prepare(c, batch, NULL, NULL);
    pthread_mutex_unlock(&c->mu);
    fetch_send(c, r);
    return c;
}

void txn_causal_ts_free(txn_causal_ts *c)
{
    if (!c)
        return;
    BS_ASSERT(c->in_flight == 0);
    pthread_mutex_destroy(&c->mu);
    bs_free(c);
}

int txn_causal_ts_get(txn_causal_ts *c, uint64_t *ts)
{
    fetch_req *r = NULL;
    int rc = BS_OK;
    pthread_mutex_lock(&c->mu);
    if (!c->synced || c->next > c->last) {
        rc = BS_EBUSY;
        if (!c->fetching_gen)
            r = fetch_prepare(c, c->synced ? prefetch_size(c, false) : c->batch, NULL, NULL);
    } else {
        uint64_t t = c->next > c->floor ? c->next : c->floor + 1;
        *ts = t;
        c->floor = t;
        c->next = t + 1;
        /* Prefetch when less than half of a batch is left, or when the batch is so old
         * that its timestamps lag PD's clock by more than TXN_CAUSAL_TS_RENEW_MS. */
        if (!c->fetching_gen) {
            bool low = c->next > c->last || c->last - c->next + 1 < c->prefetch / 2;
            if (low || bs_clock_mono_ms() - c->batch_ms > TXN_CAUSAL_TS_RENEW_MS)
                r = fetch_prepare(c, prefetch_size(c, !low), NULL, NULL);
        }
    }
    pthread_mutex_unlock(&c->mu);
    fetch_send(c, r);
    return rc;
}

void txn_causal_ts_observe(txn_causal_ts *c, uint64_t ts)
{
    pthread_mutex_lock(&c->mu);
    if (ts > c->floor)
        c->floor = ts;
    pthread_mutex_unlock(&c->mu);
}

void txn_causal_ts_flush(txn_causal_ts *c, txn_tso_done_fn done, void *done_arg)
{
    fetch_req *r;
    pthread_mutex_lock(&c->mu);
    c->gen++;
    c->synced = false;
    c->next = 1;
    c->last = 0;
    r = fetch_prepare(c, c->batch, done, done_arg); /* done's caller knows this size */
    pthread_mutex_unlock(&c->mu);
    fetch_send(c, r);
}

int txn_choose_write_ts(txn_causal_ts *c, txn_cm *cm, uint64_t floor, uint64_t *ts)
{
    uint64_t t, max_ts;
    int rc = txn_causal_ts_get(c, &t);
    if (rc != BS_OK)
        return rc;
    max_ts = txn_cm_max_ts(cm);
    if (t <= max_ts)
        t = max_ts + 1;
    if (t <= floor)
        t = floor + 1;
    txn_causal_ts_observe(c, t);
    *ts = t;
    return BS_OK;
}
