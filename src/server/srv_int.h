/* srv_int.h -- declarations shared by the files of src/server/ (never seen by other modules).
 *
 * The node (node.c) owns the layers; the background worker (worker.c) runs every job that
 * may touch PD's RocksDB or that recurs; gc.c runs one GC pass and proposes its deletes
 * Region by Region; status.c turns the node into /status and /metrics. */
#ifndef BASALT_SERVER_SRV_INT_H
#define BASALT_SERVER_SRV_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "common/metrics.h"
#include "server/srv.h"

/* One queued TSO fetch of the causal ts source. */
typedef struct srv_tso_req {
    uint32_t count;
    txn_tso_done_fn done;
    void *done_arg;
    struct srv_tso_req *next;
} srv_tso_req;

/* The worker's phase. Transitions: IDLE (started by open: TSO fetches only) → RUNNING
 * (open finished: periodic jobs too) → IDLE (close: the jobs stop; the store may then be
 * closed) → STOPPING (the queue is drained, the thread exits) → STOPPED (joined; a late
 * fetch is failed inline). Invariant: periodic jobs run only in RUNNING, and every phase
 * change waits until the thread has seen it, so no job is running after it returns. */
typedef enum srv_worker_phase {
    SRV_WORKER_IDLE = 0,
    SRV_WORKER_RUNNING,
    SRV_WORKER_STOPPING,
    SRV_WORKER_STOPPED,
} srv_worker_phase;

/* One pending txn_after_fn request (the txn store's lock waits). */
typedef struct srv_timer {
    int64_t due_ms; /* mono clock */
    txn_timer_fn fn;
    void *fn_arg;
    struct srv_timer *next;
} srv_timer;

typedef struct srv_worker {
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* wakes the thread: a fetch, a phase change, a GC completion */
    pthread_cond_t seen_cv; /* wakes the owner: the thread has seen the phase */
    srv_worker_phase phase; /* guarded by mu */
    srv_worker_phase seen;  /* guarded by mu: the phase the thread last acted on */
    srv_tso_req *head, *tail; /* guarded by mu */
    bool gc_trigger;          /* guarded by mu */
    int64_t next_tso_tick_ms, next_gc_tick_ms; /* thread-local (mono clock) */
    /* GC sweep state, thread-local except gc_inflight. */
    bool sweeping;         /* a sweep is under way (chunks left or proposals in flight) */
    bool sweep_last_chunk; /* the last chunk is proposed; done when gc_inflight is 0 */
    uint64_t sweep_safe_point;
    int64_t run_interval_ms;  /* [gc] run-interval, copied at open */
    int64_t next_sweep_ms;    /* mono clock: no sweep starts before (unless forced) */
    bs_buf cursor;
    int gc_inflight; /* guarded by mu: GC proposals not yet done */
    /* guarded by mu: a lock resolution or CF write proposal of the current sweep failed,
     * so the sweep must not (go on) removing CF write records (gc.c) */
    bool gc_txn_failed;
    srv_timer *timers;   /* guarded by mu: pending timers, sorted by due_ms */
    bool timers_closed;  /* guarded by mu: fire every timer (pending or new) cancelled */
} srv_worker;

/* A Region this store leads, and whether the leader-change rule has run for the current
 * term of leadership (the causal ts flushed and max_ts synced). */
typedef struct srv_leader {
    uint64_t region_id;
    uint64_t gen;   /* bumped by every became-leader event */
    bool synced;    /* the flush of generation gen completed */
} srv_leader;

struct srv_node {
    char *data_dir;  /* owned */
    char *db_dir;    /* owned: <data-dir>/db */
    char *pd_dir;    /* owned: <data-dir>/pd */
    char *address;   /* owned: [server] addr, registered with PD */
    srv_node_options opts; /* config pointer cleared after open */
    int64_t open_mono_ms;

    /* The compaction filter's state; outlives the engine (freed with the node). */
    txn_gc_filter gc_filter;

    kv_engine *engine;     /* owned */
    pd_meta_store *pd_ms;  /* owned */
    pd_core *pd;           /* owned */
    txn_causal_ts *cts;    /* owned */
    cluster_store *store;  /* owned */
    txn_store *txn;        /* owned */
    /* The txn store as the role-change path sees it: set once it exists, cleared before it
     * is freed. */
    _Atomic(txn_store *) txn_live;

    srv_worker worker;

    pthread_mutex_t leaders_mu;
    srv_leader *leaders;  /* guarded by leaders_mu; owned */
    size_t n_leaders, cap_leaders;
    uint64_t leader_gen;  /* guarded by leaders_mu */

    _Atomic uint64_t st_tso_fetches, st_tso_fetch_errors, st_role_changes;
    _Atomic uint64_t st_gc_sweeps, st_gc_deletes, st_gc_proposals, st_gc_errors;
};

/* ---- worker.c ---- */
int srv_worker_start(srv_node *n, bs_err *err);
/* Moves the worker to phase and waits until the thread has seen it (returns at once when
 * the thread was never started). STOPPING also joins the thread (phase STOPPED). */
void srv_worker_set_phase(srv_node *n, srv_worker_phase phase);
void srv_worker_deinit(srv_node *n);
/* txn_tso_fetch_fn over PD's TSO: queues the request for the worker thread. */
void srv_worker_tso_fetch(void *arg, uint32_t count, txn_tso_done_fn done, void *done_arg);
void srv_worker_trigger_gc(srv_node *n);
/* The txn store's timer (txn_after_fn, arg = the node): fn runs on the worker thread about
 * ms later, in any phase, never before this returns. */
void srv_worker_after(void *arg, uint64_t ms, txn_timer_fn fn, void *fn_arg);
/* Fires every pending timer cancelled (on the caller's thread), and every later one
 * cancelled as soon as the worker sees it. Call before the store closes: a fired timer may
 * propose, a cancelled one does not. */
void srv_worker_cancel_timers(srv_node *n);

/* ---- gc.c ---- */
/* Runs one pass from the worker's cursor at safe_point: a sweep is raw versions (CF
 * default), then lock resolution, then CF write records (gc.c says why in that order); the
 * cursor names the stage. Proposes its deletes, one batch per Region, through
 * txn_cluster_propose. Every accepted proposal and every lock resolution run is counted in
 * worker.gc_inflight before it starts (its completion may run first) and in *proposed.
 * *more is false when the sweep reached the end. Returns BS_OK or the first failure
 * (proposals accepted before it stay in flight). Worker thread. */
int srv_gc_run_pass(srv_node *n, uint64_t safe_point, int *proposed, bool *more, bs_err *err);
/* Completion of one GC proposal (raftstore thread): counts and wakes the worker. */
void srv_gc_proposal_done(srv_node *n, int code, size_t deletes, const bs_err *err);

#endif
