/* causal_ts.c -- the causal timestamp source of raw writes (TiKV components/causal_ts,
 * BatchTsoProvider).
 *
 * API v2 gives every raw write a timestamp, and a later write of a key must get a larger
 * one even across leader changes. Asking PD for each write would cost a round trip, so the
 * source reserves `batch` TSOs at once and hands them out locally; it starts the next fetch
 * when half the batch is used. When a peer becomes leader the batch is flushed: the old
 * leader may have handed out timestamps this store never saw, and only a fresh TSO (which
 * PD guarantees to be above every TSO issued before) is safe. Until it arrives get returns
 * BS_EBUSY, TiKV's MaxTimestampNotSynced.
 *
 * Invariant: every ts returned by get is > floor, and floor >= every ts returned or
 * observed before. After a (re)sync, floor >= the first ts of the fresh batch + 1. The
 * provider is asynchronous (fetch + callback), so no caller blocks. */
#include <pthread.h>

#include "common/assert.h"
#include "common/log.h"
#include "txn/txn_int.h"

struct txn_causal_ts {
    pthread_mutex_t mu;
    txn_tso_fetch_fn fetch;
    void *fetch_arg;
    uint32_t batch;
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
static fetch_req *fetch_prepare(txn_causal_ts *c, txn_tso_done_fn done, void *done_arg)
{
    fetch_req *r = bs_calloc(1, sizeof(*r));
    r->c = c;
    r->gen = c->gen;
    r->count = c->batch;
    r->done = done;
    r->done_arg = done_arg;
    c->in_flight++;
    c->fetching_gen = true;
    return r;
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
    c->next = 1;
    c->last = 0;
    pthread_mutex_lock(&c->mu);
    r = fetch_prepare(c, NULL, NULL);
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
            r = fetch_prepare(c, NULL, NULL);
    } else {
        uint64_t t = c->next > c->floor ? c->next : c->floor + 1;
        *ts = t;
        c->floor = t;
        c->next = t + 1;
        /* Prefetch when less than half of a batch is left. */
        if (!c->fetching_gen && (c->next > c->last || c->last - c->next + 1 < c->batch / 2))
            r = fetch_prepare(c, NULL, NULL);
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
    r = fetch_prepare(c, done, done_arg);
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
