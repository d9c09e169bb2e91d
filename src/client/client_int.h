/* client_int.h -- declarations shared by the files of src/client/ (and its unit tests); no
 * other module includes this.
 *
 * Files: cache.c (the region cache), worker.c (the client's one thread: timers for backoff
 * and a queue of continuations), request.c (a request's life: locate, read checks, error
 * classification, backoff, completion), read.c and write.c (the operations), client.c
 * (options, new/free, observability).
 *
 * A request (creq) is one client call. Its kind's attempt function runs it from where it
 * stands (a scan resumes at its cursor) until it finishes, starts something asynchronous
 * (a ReadIndex, a txn write) whose completion resumes or finishes it, or hits a retryable
 * error, after which it runs again on the worker thread once its backoff has elapsed. An
 * attempt never touches the request after starting an asynchronous step: the completion
 * may already have freed it. */
#ifndef BASALT_CLIENT_CLIENT_INT_H
#define BASALT_CLIENT_CLIENT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/client.h"

/* Backoff of one request: the first sleep, doubling up to the cap (client-go's raw client
 * uses 2 ms → 500 ms for region misses and busy servers). */
#define CLIENT_BACKOFF_BASE_MS 2u
#define CLIENT_BACKOFF_CAP_MS 500u
/* Scans with a larger limit run on the worker thread, not on the caller's (a network
 * thread may do point reads and short scans only, DESIGN.md). */
#define CLIENT_INLINE_SCAN_MAX 256u
/* The CROSSREGION refusal of client_multi (client.h). */
#define CLIENT_CROSSREGION_MSG "-CROSSREGION Keys in request don't hash to the same region"

/* ======================================================================================
 * Region cache (cache.c): Regions by region key, from PD and from region errors
 * ==================================================================================== */

/* Non-overlapping Regions sorted by start key. Thread-safe (own mutex). */
typedef struct client_cache {
    pthread_mutex_t mu;
    cluster_region *v; /* n entries, owned; Invariant: sorted by start_key, no overlap */
    size_t n, cap;
} client_cache;

void client_cache_init(client_cache *rc);
void client_cache_deinit(client_cache *rc); /* frees every entry */
/* Copies into *out (initialised; replaced) the cached Region containing region key key, or,
 * with before, the one containing the keys just below key (start < key <= end, for reverse
 * scans whose bound is exclusive). Returns true on a hit. */
bool client_cache_find(client_cache *rc, bs_slice key, bool before, cluster_region *out);
/* Installs a copy of r, dropping the cached Regions it overlaps, unless one of those has a
 * newer epoch version (a stale answer never evicts a fresher one). */
void client_cache_put(client_cache *rc, const cluster_region *r);
/* Drops Region region_id if cached. */
void client_cache_drop(client_cache *rc, uint64_t region_id);
/* Number of cached Regions (tests). */
size_t client_cache_size(client_cache *rc);

/* ======================================================================================
 * Requests (request.c)
 * ==================================================================================== */

typedef enum creq_kind {
    CREQ_GET,
    CREQ_GET_TTL,
    CREQ_BATCH_GET,
    CREQ_SCAN,
    CREQ_COUNT,
    CREQ_PUT,
    CREQ_DELETE,
    CREQ_RMW,
    CREQ_CAS,
    CREQ_MULTI,
    CREQ_DELETE_ALL,
} creq_kind;

/* What an attempt did. */
typedef enum creq_step {
    STEP_DONE,   /* r->res is final: deliver it */
    STEP_ASYNC,  /* an asynchronous step owns r now */
    STEP_RETRY,  /* a retryable error is recorded: run again after backoff */
    STEP_WORKER, /* continue on the worker thread (long reads) */
} creq_step;

typedef struct creq creq;
typedef creq_step (*creq_attempt_fn)(creq *r);

struct creq {
    client *c;
    creq_kind kind;
    creq_attempt_fn attempt;
    /* The write may be repeated when its outcome is unknown (a proposal dropped after
     * acceptance may still commit): puts, deletes, MSET, delete-range. Read-modify-writes,
     * CAS and counting multi-key ops are not: their result would lie. */
    bool idempotent;
    client_done_fn done;
    void *arg;
    bool on_worker; /* the current attempt runs on the worker thread */
    bool refused;   /* created while the client was closing: fails when run */

    /* The request, copied. */
    uint32_t keyspace;
    size_t n;
    bs_buf *keys;   /* n API v2 keys */
    bs_buf *rkeys;  /* n region keys MCE(keys[i]) */
    bs_buf *values; /* n values (put: 1; MSET/MSETNX: n) or NULL */
    uint64_t ttl_ms;
    txn_rmw_params rmw; /* arg points into rmw_arg */
    bs_buf rmw_arg;
    txn_cas_req cas;    /* slices point into keys[0], cas_prev, cas_value */
    bs_buf cas_prev, cas_value;
    txn_multi_op mop;
    unsigned mflags;

    /* Range requests (scan, count, delete-all): [lo, hi) as API v2 keys, hi_rk = MCE(hi),
     * lo_rk = MCE(lo). cursor: forward, the next part's start; reverse, its exclusive end.
     * Invariant: lo <= cursor <= hi. */
    bs_buf lo, hi, lo_rk, hi_rk, cursor;
    bs_buf part_end; /* delete-all: the end of the part being deleted */
    uint32_t limit;
    bool reverse, key_only;
    uint64_t total; /* count: live keys so far */

    /* Batch get: per request key, whether it was read, and its value when live. */
    bool *resolved, *found;
    bs_buf *vals;

    /* The Region of the current attempt (a copy). */
    cluster_region region;
    /* A ReadIndex completed for this Region at this epoch: the next read check of it is
     * satisfied without asking the store again. */
    bool ri_ok;
    uint64_t ri_region_id, ri_version;
    /* After a region error, look the key up in the local store before PD (PD may lag a
     * split it has not been told about). */
    bool ask_store;

    /* Retry state. Invariant: spent_ms <= the client's max_backoff_ms. */
    uint32_t next_backoff_ms, spent_ms;
    int last_code;
    txn_error_kind last_kind;
    char last_msg[BS_ERR_MSG_MAX];

    client_result res;

    /* Worker queue entry. */
    int64_t due_ms;
    uint64_t seq;
    bool backoff;
};

/* Creates a request of kind for c (counts it in flight until it finishes). */
creq *client_req_new(client *c, creq_kind kind, creq_attempt_fn attempt, client_done_fn done,
                     void *arg);
/* Runs r's attempt on the calling thread and acts on its step. */
void client_req_run(creq *r);
/* Delivers r->res through done, frees r and ends its flight. Any thread. */
void client_req_finish(creq *r);
/* Fails r before it started (validation): finishes with the error at once. */
void client_req_reject(creq *r, int code, txn_error_kind kind, const char *msg);
/* Sets r->res to the error; returns STEP_DONE. */
creq_step client_req_fail(creq *r, int code, txn_error_kind kind, const char *msg);
/* Records a retryable error (the one reported if the backoff budget runs out). */
void client_req_note(creq *r, int code, txn_error_kind kind, const char *msg);
/* Schedules r's next attempt after its backoff, or finishes it with the last error when
 * the budget is spent or the client is closing. Any thread. */
void client_req_retry_later(creq *r);

/* Finds the Region of region key rk (before: the one holding the keys just below rk) into
 * r->region, from the cache, the local store (after a region error) or PD. true, or false
 * with *s set (STEP_RETRY with the error noted). */
bool client_req_locate(creq *r, bs_slice rk, bool before, creq_step *s);
/* May r->region be read locally now (rk: a region key inside it)? true when the leader's
 * lease is valid (or a ReadIndex just completed); false with *s: STEP_ASYNC when a
 * ReadIndex was started (r resumes on the worker thread), STEP_RETRY after a region error,
 * STEP_DONE after a fatal one. */
bool client_req_readable(creq *r, bs_slice rk, creq_step *s);
/* Acts on a region error of r->region (cache update, counters): STEP_RETRY, or STEP_DONE
 * for a kind that no retry can fix (RaftEntryTooLarge, unknown codes). rerr may be NULL. */
creq_step client_req_region_error(creq *r, int code, const cluster_region_error *rerr,
                                  const char *msg);
/* Acts on a failed txn read: KEY_BEING_WRITTEN waits for the key (point reads) or backs
 * off; other errors are final. key may be empty. Returns the step. */
creq_step client_req_read_failed(creq *r, const txn_error *e, bs_slice key);
/* Acts on a failed txn write (called from its completion, on any thread): retries what
 * can be retried, finishes r with the error otherwise. */
void client_req_write_failed(creq *r, int code, const txn_error *e);

/* Copies user keys[0..n) of keyspace (<= CLIENT_KEYSPACE_MAX) into r->keys (API v2) and
 * r->rkeys (region keys). Once per request. */
void client_req_set_keys(creq *r, uint32_t keyspace, const bs_slice *user, size_t n);
/* Sets r's range [lo, hi) (API v2 keys, copied), their region keys and the cursor (lo, or
 * hi when r->reverse: set reverse first). */
void client_req_set_range(creq *r, bs_slice lo, bs_slice hi);
/* Whether region key rk lies in region. */
bool client_region_has(const cluster_region *region, bs_slice rk);
/* The next part of r's range (read.c): locates the Region that holds it (forward: the
 * cursor's; reverse: the one holding the keys just below the cursor), clips the range to
 * it into [*plo, *phi) (API v2 keys, replaced) and, with check_read, makes sure the Region
 * may be read now. *last: the part reaches the range's far end. false with *s set when the
 * attempt must stop (as client_req_locate / client_req_readable). */
bool client_range_part(creq *r, bs_buf *plo, bs_buf *phi, bool *last, bool check_read,
                       creq_step *s);
/* Decodes region key rk (MCE of an API v2 key) into *out (replaced). BS_OK or BS_ECORRUPT. */
int client_region_key_decode(bs_slice rk, bs_buf *out);
/* Appends the API v2 RawKV key of keyspace ‖ user to *out (replaced). */
void client_raw_key(bs_buf *out, uint32_t keyspace, bs_slice user);

/* ======================================================================================
 * Worker thread (worker.c)
 * ==================================================================================== */

/* Queues r to run on the worker thread after delay_ms (0: as soon as possible); backoff
 * marks a retry (failed instead of run when the client closes). Returns false, without
 * queueing, when backoff is set and the client is closing. Any thread. */
bool client_worker_post(client *c, creq *r, uint32_t delay_ms, bool backoff);
int client_worker_start(client *c, bs_err *err);
/* Fails the queued retries ("client closed"), waits until no request is in flight, stops
 * and joins the thread. */
void client_worker_stop(client *c);

/* ======================================================================================
 * The client
 * ==================================================================================== */

struct client {
    client_options o;
    client_cache cache;
    pthread_mutex_t mu;   /* guards everything below except the counters */
    pthread_cond_t cv;    /* worker wake-ups (CLOCK_MONOTONIC) */
    pthread_cond_t idle;  /* in_flight reached 0 */
    creq **heap;          /* worker queue: min-heap by (due_ms, seq) */
    size_t heap_n, heap_cap;
    uint64_t seq;
    size_t in_flight;     /* requests created and not finished */
    bool closing;         /* client_free started: no new backoff */
    bool stop;            /* the worker thread must exit */
    bool thread_started;
    pthread_t thread;
    _Atomic uint64_t requests, retries, region_errors, read_indexes;
};


/* ======================================================================================
 * Transactions (txn_*.c): the Percolator coordinator of client.h's last section
 * ==================================================================================== */

#endif
