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
/* Finished requests a client keeps for reuse (about 1.3 KB each). */
#define CLIENT_FREE_REQS_MAX 1024u
/* Pooled requests keep single-key buffers up to this capacity (creq.key1...). */
#define CLIENT_KEEP_BUF 8192u
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
    CREQ_TXN, /* a transaction's request (txn_*.c); nothing dispatches on it */
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
    bs_buf *keys;   /* n API v2 keys (&key1 when n == 1) */
    bs_buf *rkeys;  /* n region keys MCE(keys[i]) (&rkey1 when n == 1) */
    bs_buf *values; /* n values (put: 1, &value1; MSET/MSETNX: n) or NULL */
    /* Storage of a single-key request. These and region's buffers stay allocated while
     * the creq sits in the client's pool (up to CLIENT_KEEP_BUF bytes each), so a reused
     * creq copies its key, value and Region without calling malloc. */
    bs_buf key1, rkey1, value1;
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

    creq *free_next; /* the client's pool of finished requests (client.free_reqs) */
};

/* Creates a request of kind for c (counts it in flight until it finishes). */
creq *client_req_new(client *c, creq_kind kind, creq_attempt_fn attempt, client_done_fn done,
                     void *arg);
/* Frees a finished request's kept buffers (creq.key1...) and the request itself: one
 * the pool has no room for, or the pool's own at client_free. */
void client_req_free_kept(creq *r);
/* Runs r's attempt on the calling thread and acts on its step. */
void client_req_run(creq *r);
/* Delivers r->res through done, frees r and ends its flight. Any thread. */
void client_req_finish(creq *r);
/* Fails r before it started (validation): finishes with the error at once. */
/* Sets r's scan parameters and range from req (read.c; client_scan and client_txn_scan). */
void client_req_set_scan(creq *r, const client_scan_req *req);
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
/* Batch reads (MGET, raw and transactional) keep per key r->resolved, r->found, r->vals.
 * The next Region's part: the keys not resolved yet that lie in the Region of the first
 * of them, which is located and checked for reading. Returns true with *keys (API v2 keys,
 * borrowed from r) and *idx (their indexes in r) of *m > 0 keys, caller frees both arrays;
 * false when the attempt must stop with *s (as client_req_readable), or with *s =
 * STEP_DONE when every key is resolved. */
bool client_req_next_part(creq *r, bs_slice **keys, size_t **idx, size_t *m, creq_step *s);
/* Moves the found values into r->res.pairs, in request order, with user keys; r->res.code
 * = BS_OK. */
void client_req_take_found(creq *r);
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
    /* Finished requests kept for reuse, guarded by mu (taken anyway to count a request in
     * and out of flight). A creq is over 1 KB: glibc serves such sizes outside its fast
     * bins and consolidates those bins first (malloc_consolidate showed in the RESP
     * thread's profile); requests also finish on the raftstore thread, so a pool avoids
     * freeing across malloc arenas. Invariant: n_free_reqs <= CLIENT_FREE_REQS_MAX. */
    creq *free_reqs;
    size_t n_free_reqs;
    client_txns *txns;    /* owned, guarded by mu: the transaction layer (client_txns_of),
                           * NULL until its first use */
    bool txns_closed;     /* guarded by mu: client_free took txns; none is created again */
    _Atomic uint64_t requests, retries, region_errors, read_indexes;
};


/* ======================================================================================
 * Transactions (txn_*.c): the Percolator coordinator of client.h's last section
 * ==================================================================================== */

/* Files: txn_client.c (client_txns: new/free, holds, the registry of running txns and the
 * GC safe point derived from it, counters), txn_tso.c (the TSO thread: batched
 * timestamps and the periodic GC registration, the two things that call PD and may wait
 * on its meta store), txn_call.c (a Percolator command to the Region(s) of its keys:
 * split along Region bounds, sent part by part, retried on region errors, locks met by a
 * prewrite resolved), txn_lock_resolver.c, txn_buffer.c (the client_txn handle: buffer,
 * read and watch sets), txn_snapshot.c (reads at start_ts and WATCH reads),
 * txn_committer.c (prewrite, commit of the primary, secondaries, rollback).
 *
 * Lifetime: every operation a caller starts (begin, a read, a commit with its background
 * secondaries, a timestamp) holds its client_txns (client_txns_hold) from its start until
 * after its last callback, so client_txns_free can wait for them; the commands and lock
 * resolutions it runs meanwhile live under that hold. Each creq is also counted by the
 * client as usual. */

/* Keys per Percolator request: one Raft entry stays small (client-go bounds its batches
 * by size for the same reason). */
#define CLIENT_TXN_BATCH_KEYS 256u
/* A commit whose commit_ts keeps being overtaken by pushed min_commit_ts gives up after
 * this many fresh timestamps (and rolls back). */
#define CLIENT_TXN_COMMIT_ROUNDS 8

typedef struct client_tso_waiter {
    client_tso_fn done;
    void *arg;
    struct client_tso_waiter *next;
} client_tso_waiter;

typedef enum client_txn_entry_write {
    CLIENT_TXN_W_NONE = 0, /* not written (read, locked or watched only) */
    CLIENT_TXN_W_PUT,
    CLIENT_TXN_W_DEL,
} client_txn_entry_write;

/* One key the txn touched. */
typedef struct client_txn_entry {
    bs_buf key;               /* API v2 key */
    client_txn_entry_write w;
    bs_buf value;             /* PUT */
    uint64_t expire_ms;       /* PUT: absolute ms, 0 = none */
    bool read;                /* read from the store (serializable) or locked: a Lock
                               * mutation if the key is not written but others are */
    bool watch;
    uint64_t watch_ts;
    bool watch_live;
} client_txn_entry;

typedef enum client_txn_state {
    CLIENT_TXN_ACTIVE,     /* reads and buffered writes */
    CLIENT_TXN_COMMITTING, /* client_txn_commit called, done not yet */
    CLIENT_TXN_DONE,       /* done called: only client_txn_free */
} client_txn_state;

struct client_txn {
    client_txns *t;
    uint64_t start_ts;
    client_txn_options o;
    client_txn_entry *v;      /* Invariant: sorted by key, keys distinct */
    size_t n, cap;
    uint64_t *resolved;       /* lock start_ts this snapshot may read past (pushed) */
    size_t n_resolved, cap_resolved;
    client_txn_state state;
    atomic_bool in_call;      /* a call is in flight (one at a time; asserted) */
    client_txn *prev, *next;  /* t->live */
};

struct client_txns {
    client *c;                /* borrowed */
    client_txns_options o;
    pthread_mutex_t mu;       /* guards everything below except the counters */
    pthread_cond_t cv;        /* wakes the TSO thread (CLOCK_MONOTONIC) */
    pthread_cond_t changed;   /* busy dropped to 0, a GC round finished */
    client_tso_waiter *head, *tail; /* TSO requests, FIFO */
    size_t n_waiting;
    bool paused;              /* tests: the TSO thread leaves the queue alone */
    bool stop, thread_started;
    pthread_t thread;
    uint64_t last_ts;         /* newest ts handed out; Invariant: only grows */
    size_t busy;              /* holds (operations in flight) */
    bool closing;             /* client_txns_free started: no new operation */
    client_txn *live;         /* running txns: begun, not freed */
    size_t n_live;
    int64_t next_gc_ms;       /* monotonic time of the next GC registration */
    bool gc_asked;            /* tests: register now */
    uint64_t gc_rounds;       /* registrations done (or failed) so far */
    _Atomic uint64_t tso_requests, tso_batches, begun, committed, one_pc, conflicts,
        watch_failures, failures, locks_resolved, commit_ts_renewed, gc_safe_point;
};

/* ---- holds and the registry (txn_client.c) ----------------------------------------------- */

/* Takes a hold on t for one operation a caller starts; false (nothing taken) when t is
 * closing. */
bool client_txns_hold(client_txns *t);
/* Releases a hold (after the operation's last callback returned). Any thread. */
void client_txns_release(client_txns *t);
/* Adds txn to / removes it from the running set (GC safe point). Any thread. */
void client_txns_register(client_txns *t, client_txn *txn);
void client_txns_unregister(client_txns *t, client_txn *txn);
/* One GC registration (the TSO thread): the safe point is the oldest running start_ts, or
 * when none runs the newest ts handed out (every later txn starts above it). */
void client_txns_gc_update(client_txns *t);
/* Tests: waits until no operation holds t (background commits finished). Bounded wait of
 * timeout_ms; returns whether t became idle. */
bool client_txns_wait_idle(client_txns *t, int64_t timeout_ms);
/* Tests: makes the TSO thread register the GC safe point now and waits for it. */
void client_txns_gc_now(client_txns *t);

/* ---- TSO thread (txn_tso.c) ------------------------------------------------------------ */

int client_tso_start(client_txns *t, bs_err *err);
/* client_tso_get for an operation already holding t (no hold of its own). */
void client_tso_request(client_txns *t, client_tso_fn done, void *arg);
/* Stops and joins the thread; the queue must be empty (no hold left). */
void client_tso_stop(client_txns *t);
/* Tests: while paused, requests queue up without being served; resuming serves them all
 * with one PD call. */
void client_tso_pause(client_txns *t, bool paused);

/* ---- Percolator commands by Region (txn_call.c) -------------------------------------- */

typedef enum client_tcall_kind {
    CLIENT_TCALL_PREWRITE,
    CLIENT_TCALL_COMMIT,
    CLIENT_TCALL_ROLLBACK,     /* KvBatchRollback */
    CLIENT_TCALL_RESOLVE,      /* KvResolveLock of the listed keys, one txn */
    CLIENT_TCALL_CHECK_STATUS, /* KvCheckTxnStatus of one primary key */
} client_tcall_kind;

/* One key of a command. */
typedef struct client_tcall_key {
    bs_buf key;         /* API v2 key (owned) */
    bs_buf rk;          /* MCE(key): its region key (owned) */
    bs_buf value;       /* prewrite PUT: the user value (owned) */
    txn_mutation m;     /* prewrite: op, expire_ms, watch fields (key/value set at send) */
} client_tcall_key;

/* The parameters every part of a command shares (copied). */
typedef struct client_tcall_params {
    client_tcall_kind kind;
    bs_slice primary;        /* prewrite, check status: the primary (API v2 key) */
    uint64_t start_ts;       /* prewrite/commit/rollback/resolve: the txn; check: lock ts */
    uint64_t commit_ts;      /* commit; resolve (0 = roll back) */
    uint64_t lock_ttl, txn_size, min_commit_ts; /* prewrite */
    bool try_one_pc;         /* prewrite: the keys are the whole txn */
    uint64_t caller_start_ts, current_ts; /* check status */
    bool rollback_if_not_exist;           /* check status */
} client_tcall_params;

/* What a command did, gathered over its parts. */
typedef struct client_tcall_out {
    int code;                 /* BS_OK, or the first part's failure (after retries) */
    txn_error_kind kind;
    char msg[BS_ERR_MSG_MAX];
    bool unknown;             /* a one-phase prewrite was dropped after acceptance */
    bool one_pc_tried;        /* prewrite: sent with try_one_pc (hence one part only) */
    txn_key_error *errors;    /* key errors (never KeyIsLocked: those are resolved) */
    size_t n_errors;
    size_t parts;             /* parts the keys were sent in (ok or failed) */
    uint64_t one_pc_commit_ts; /* prewrite: committed in one phase (one part only) */
    /* check status: the response */
    uint64_t commit_ts, lock_ttl;
    txn_status_action action;
    bool has_lock_info;
} client_tcall_out;

/* Called once when every part finished; out is borrowed for the call. */
typedef void (*client_tcall_done_fn)(void *arg, const client_tcall_out *out);

/* Allocates n keys (each initialised). Caller owns until passed to client_tcall_start. */
client_tcall_key *client_tcall_keys_new(size_t n);
/* Fills k from an API v2 key (copied). */
void client_tcall_key_set(client_tcall_key *k, bs_slice key);
void client_tcall_keys_free(client_tcall_key *keys, size_t n); /* keys may be NULL */
/* Sorts keys by region key and drops repeats (the first kept); returns the new count. */
size_t client_tcall_keys_sort(client_tcall_key *keys, size_t n);

/* Runs a command over keys[0..n) (n >= 1; sorted by rk, distinct; taken: freed by the
 * call). The keys are sent in parts, one per Region (at most CLIENT_TXN_BATCH_KEYS each),
 * a part being split off as soon as its Region is known, so parts run concurrently. A
 * prewrite part that meets locks resolves them (as a writer) and runs again. try_one_pc
 * holds only while the keys fit one part. Runs under its caller's hold on t. done runs
 * once, on any thread, maybe before this returns. */
void client_tcall_start(client_txns *t, const client_tcall_params *p, client_tcall_key *keys,
                        size_t n, client_tcall_done_fn done, void *arg);

/* ---- the txn handle (txn_buffer.c) ----------------------------------------------------- */

/* The entry of API v2 key key, or NULL. */
client_txn_entry *client_txn_find(client_txn *txn, bs_slice key);
/* Index of the first entry with a key >= key (txn->n when none). */
size_t client_txn_lower_bound(const client_txn *txn, bs_slice key);
/* Whether e's buffered write answers a read by itself (a put or a delete), with *live
 * false for a delete or a put already expired at now_ms. */
bool client_txn_entry_answers(const client_txn_entry *e, uint64_t now_ms, bool *live);
/* Records that key was read from the store (only serializable txns keep it). */
void client_txn_note_read(client_txn *txn, bs_slice key);
/* Lets the snapshot read past the locks of txn ts (pushed above start_ts). */
void client_txn_add_resolved(client_txn *txn, uint64_t ts);
/* Marks a call on txn in flight: BS_OK, or BS_ESTATE with *msg when txn is not active. */
int client_txn_call_begin(client_txn *txn, const char **msg);
void client_txn_call_end(client_txn *txn);

/* ---- the lock resolver (txn_lock_resolver.c) ------------------------------------------- */

/* Called once: code != BS_OK (msg) when a lock could not be resolved; otherwise wait says
 * a lock's owner is alive (back off, then retry) and pushed[0..n_pushed) are txns pushed
 * above the caller's start_ts (a reader may skip their locks). Borrowed for the call. */
typedef void (*client_resolve_fn)(void *arg, int code, const char *msg, bool wait,
                                  const uint64_t *pushed, size_t n_pushed);

/* Resolves locks[0..n) (copied) on behalf of a reader at caller_start_ts (pushes live
 * txns above it) or, with caller_start_ts 0, a writer (waits for them). n >= 1. Never
 * calls done before returning (the first step asks TSO). Runs under its caller's hold. */
void client_resolve_locks(client_txns *t, const txn_lock_info *locks, size_t n,
                          uint64_t caller_start_ts, client_resolve_fn done, void *arg);

#endif
