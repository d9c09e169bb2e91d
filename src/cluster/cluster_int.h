/* cluster_int.h -- declarations shared by the files of src/cluster/ (never by other modules).
 *
 * Who owns what: the raftstore thread owns every cluster_fsm (its raft node, storage, region
 * and pending proposals). Other threads touch a store only through its queues and the
 * published view fields, all under cluster_store.mu. The worker thread (worker.c) owns
 * the task it runs: copies of what it needs, never an fsm; it reads the engine and PD and
 * hands split results back through a queue under mu. */
#ifndef BASALT_CLUSTER_CLUSTER_INT_H
#define BASALT_CLUSTER_CLUSTER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "cluster/cluster.h"
#include "common/metrics.h"

/* TiKV's initial raft log position of a bootstrapped Region (RAFT_INIT_LOG_INDEX/TERM). */
#define CLUSTER_INIT_INDEX 5
#define CLUSTER_INIT_TERM 5
/* Entries kept in a peer's in-memory cache beyond the applied index. */
#define CLUSTER_CACHE_KEEP 1024

/* ---- local keys in CF raft (keys.c), TiKV's layout (PROTOCOL.md §4.4) ------------------ */

void cluster_key_store_ident(bs_buf *out);                              /* 01 01 */
void cluster_key_raft_log(bs_buf *out, uint64_t region_id, uint64_t index); /* 01 02 rid 01 idx */
void cluster_key_raft_state(bs_buf *out, uint64_t region_id);           /* 01 02 rid 02 */
void cluster_key_apply_state(bs_buf *out, uint64_t region_id);          /* 01 02 rid 03 */
void cluster_key_region_state(bs_buf *out, uint64_t region_id);         /* 01 03 rid 01 */
/* The bounds [lo, hi) of every region-state key. */
void cluster_key_region_state_range(bs_buf *lo, bs_buf *hi);
/* Region id of a region-state key. BS_OK or BS_ECORRUPT. */
int cluster_key_region_state_id(bs_slice key, uint64_t *region_id);

/* ---- state records (records.c): Basalt's own compact binary records ------------------- */

typedef struct cluster_store_ident {
    uint64_t cluster_id, store_id;
} cluster_store_ident;

typedef struct cluster_raft_state { /* RaftLocalState */
    raft_hard_state hs;
    uint64_t last_index;
} cluster_raft_state;

typedef struct cluster_apply_state { /* RaftApplyState */
    uint64_t applied;         /* Invariant: truncated_index <= applied */
    uint64_t truncated_index; /* entries <= this are gone from the log */
    uint64_t truncated_term;
} cluster_apply_state;

typedef enum cluster_peer_state { CLUSTER_PEER_NORMAL = 0, CLUSTER_PEER_TOMBSTONE = 2 } cluster_peer_state;

void cluster_store_ident_encode(bs_buf *out, const cluster_store_ident *v);
int cluster_store_ident_decode(bs_slice in, cluster_store_ident *v, bs_err *err);
void cluster_raft_state_encode(bs_buf *out, const cluster_raft_state *v);
int cluster_raft_state_decode(bs_slice in, cluster_raft_state *v, bs_err *err);
void cluster_apply_state_encode(bs_buf *out, const cluster_apply_state *v);
int cluster_apply_state_decode(bs_slice in, cluster_apply_state *v, bs_err *err);
/* RegionLocalState: peer state + region. decode replaces *r (initialised). */
void cluster_region_state_encode(bs_buf *out, cluster_peer_state st, const cluster_region *r);
int cluster_region_state_decode(bs_slice in, cluster_peer_state *st, cluster_region *r,
                                bs_err *err);
/* A raft entry's stored value (term, type, data). decode sets e's data to a private copy. */
void cluster_entry_encode(bs_buf *out, const raft_entry *e);
int cluster_entry_decode(bs_slice in, uint64_t index, raft_entry *e, bs_err *err);
/* The conf state of a region: every voter and learner peer id. */
void cluster_region_conf_state(const cluster_region *r, raft_conf_state *cs);
/* Pointer to the region's peer on store_id, or NULL. */
const cluster_peer *cluster_region_find_store_peer(const cluster_region *r, uint64_t store_id);
const cluster_peer *cluster_region_find_peer(const cluster_region *r, uint64_t peer_id);
/* start <= key < end (empty end = +inf). */
bool cluster_region_contains(const cluster_region *r, bs_slice key);

/* ---- proposal commands (command.c): the bytes of a Raft entry -------------------------- */

typedef enum cluster_cmd_kind {
    CLUSTER_CMD_WRITE = 1,       /* a kv_batch */
    CLUSTER_CMD_COMPACT_LOG = 2, /* truncate the log through (index, term) */
    CLUSTER_CMD_BATCH_SPLIT = 3, /* split the Region at keys (split.c) */
} cluster_cmd_kind;

typedef struct cluster_cmd_header {
    cluster_cmd_kind kind;
    uint64_t proposal_id;
    cluster_epoch epoch; /* the region epoch at propose time */
} cluster_cmd_header;

/* Appends header + batch ops to out. */
void cluster_cmd_encode_write(bs_buf *out, const cluster_cmd_header *h, const kv_batch *b);
void cluster_cmd_encode_compact(bs_buf *out, const cluster_cmd_header *h, uint64_t index,
                                uint64_t term);
/* Decodes the header; *body borrows the rest. BS_OK or BS_ECORRUPT. */
int cluster_cmd_decode_header(bs_slice in, cluster_cmd_header *h, bs_slice *body, bs_err *err);
/* Appends a WRITE body's ops to b. BS_OK or BS_ECORRUPT (b then partially filled). */
int cluster_cmd_decode_write(bs_slice body, kv_batch *b, bs_err *err);
int cluster_cmd_decode_compact(bs_slice body, uint64_t *index, uint64_t *term, bs_err *err);

/* A BatchSplit body (raft_cmdpb.BatchSplitRequest): n split keys in ascending order, for
 * split k the new Region's id and its peer ids (one per peer of the Region, in
 * region.peers order: peer_ids[k * peers_per_split + j]). Decoded keys borrow from the
 * entry; cluster_batch_split_deinit frees the arrays (not the keys' bytes). */
typedef struct cluster_batch_split {
    bool right_derive; /* the Region keeps the right-most range (always true today) */
    size_t n;
    bs_slice *keys;
    uint64_t *region_ids;
    size_t peers_per_split;
    uint64_t *peer_ids;
} cluster_batch_split;
void cluster_batch_split_deinit(cluster_batch_split *bs);
void cluster_cmd_encode_batch_split(bs_buf *out, const cluster_cmd_header *h,
                                    const cluster_batch_split *bs);
/* Decodes and bounds-checks the shape (counts, non-zero ids); the keys' order and range
 * are checked against the Region at apply. BS_OK or BS_ECORRUPT. *bs is replaced. */
int cluster_cmd_decode_batch_split(bs_slice body, cluster_batch_split *bs, bs_err *err);

/* ---- raft storage over CF raft (raft_storage.c) ---------------------------------------- */

typedef struct cluster_raft_storage {
    kv_engine *engine; /* borrowed */
    uint64_t region_id;
    raft_hard_state hs;
    raft_conf_state cs;
    cluster_apply_state apply; /* truncated_index/term are the compaction point */
    uint64_t last_index;       /* Invariant: last_index >= apply.truncated_index */
    /* Recent entries: cache.v[i].index == cache_first + i, contiguous up to last_index
     * (cache.n == 0 or its last entry is last_index). */
    raft_entries cache;
    uint64_t cache_first;
    /* Approximate bytes of the log: what this process appended, scaled down by each
     * compaction (TiKV's raft_log_size_hint). Starts at 0 on load. For
     * raft-log-gc-size-limit. */
    uint64_t size_hint;
} cluster_raft_storage;

/* Writes a new Region's initial raft, apply and region state into b (index and term 5). */
void cluster_rs_write_initial(kv_batch *b, const cluster_region *r);
/* Loads the storage of region r (borrowed) from the engine. BS_OK, BS_ECORRUPT, BS_EIO. */
int cluster_rs_load(cluster_raft_storage *rs, kv_engine *e, const cluster_region *r, bs_err *err);
void cluster_rs_deinit(cluster_raft_storage *rs);
raft_storage cluster_rs_storage(cluster_raft_storage *rs);
/* Records entries (replacing any suffix from ents[0].index) in b and the cache. */
void cluster_rs_append(cluster_raft_storage *rs, const raft_entry *ents, size_t n, kv_batch *b);
/* Records the raft state (hard state + last index) in b. */
void cluster_rs_write_raft_state(cluster_raft_storage *rs, kv_batch *b);
/* Term of index i through the storage interface. */
int cluster_rs_term(cluster_raft_storage *rs, uint64_t i, uint64_t *term);
/* Log truncation through index (inclusive): sets the truncated state (the caller persists
 * the apply state) and deletes the log keys in b. Scales size_hint by the entries kept. */
void cluster_rs_compact(cluster_raft_storage *rs, uint64_t index, uint64_t term, kv_batch *b);
/* Drops cached entries below min(applied, last - CLUSTER_CACHE_KEEP). */
void cluster_rs_cache_trim(cluster_raft_storage *rs, uint64_t applied);

/* ---- the peer (peer.c) ------------------------------------------------------------------ */

typedef struct cluster_proposal {
    struct cluster_proposal *next;
    uint64_t region_id;
    uint64_t id;
    uint64_t gen;  /* the peer's failure generation when accepted (see cluster_fsm.gen) */
    bs_buf data;   /* the encoded entry */
    cluster_proposal_done_fn done;
    void *done_arg;
    uint64_t term, index; /* where raft put it (0 until proposed) */
    int64_t start_ns;
    bool admin;    /* a store-internal command (CompactLog): no callback */
} cluster_proposal;

typedef struct cluster_read {
    struct cluster_read *next;
    uint64_t region_id;
    uint64_t id;
    uint64_t index; /* from the read state; 0 until known */
    cluster_read_done_fn done;
    void *arg;
} cluster_read;

/* A deferred callback, run after the round without locks: a proposal's done, a read's
 * rdone or the store's on_role_change (role set). A list of them is circular and is held
 * by its tail (cluster_cb_push, peer.c). */
typedef struct cluster_cb {
    struct cluster_cb *next;
    cluster_proposal_done_fn done;
    cluster_read_done_fn rdone;
    void (*role)(void *arg, uint64_t region_id, bool is_leader);
    uint64_t region_id;
    bool is_leader;
    void *arg;
    int code;
    bs_err err;
} cluster_cb;

/* Size and split bookkeeping of a peer (raftstore thread only). */
typedef struct cluster_fsm_split {
    /* Key + value bytes applied since the last split check was scheduled (TiKV's
     * size_diff_hint). */
    uint64_t size_diff;
    /* Key + value bytes applied since the measurement in approx_size was scheduled. Writes
     * only add bytes (until GC takes some), so approx_size + scan_diff bounds the Region's
     * size. scan_queued: scan_diff when the running check was scheduled. */
    uint64_t scan_diff, scan_queued;
    /* The last check's measurement; size_known is false until a check of the Region's
     * current range finished (after open and after a split). */
    bool size_known;
    uint64_t approx_size, approx_keys;
    /* The last check wanted to split (found split keys): check again on every tick until a
     * split applies, since the proposal or PD's ids may have been lost. */
    bool want_split;
    /* A check is queued or running on the worker: no second one. */
    bool checking;
    /* Log index of this leader's proposed BatchSplit: no new check until it applied
     * (0 = none). */
    uint64_t wait_index;
    /* Bytes and keys written since the last region heartbeat. */
    uint64_t hb_bytes, hb_keys;
} cluster_fsm_split;

typedef struct cluster_fsm {
    cluster_store *store;
    uint64_t region_id, peer_id;
    cluster_region region; /* written by the raftstore under store->mu; read under mu */
    cluster_raft_storage rs;
    raft_node *raft;
    /* Proposed, awaiting apply: FIFO in (term, index) order. */
    cluster_proposal *pend_head, *pend_tail;
    /* The first pending proposal no finished sync covers yet (NULL: all covered). */
    cluster_proposal *sync_cursor;
    /* Reads waiting for a read state and then for apply. */
    cluster_read *reads;
    /* Highest log index covered by a finished sync, and highest index acknowledged.
     * Invariant (asserted at every ack): acked_index <= synced_index. */
    uint64_t synced_index, acked_index;
    /* Followers' acknowledged match index (from MsgAppendResp), for log GC. */
    uint64_t match_ids[RAFT_MAX_CONF], match_idx[RAFT_MAX_CONF];
    size_t n_match;
    uint64_t gc_ticks;
    bool compact_pending;
    bool has_ready;
    raft_ready rd;
    size_t rd_applied; /* rd.committed[0..rd_applied) applied before the round's log write */
    cluster_fsm_split split;
    /* Leadership as of the last soft state, for on_role_change (raftstore thread). */
    bool was_leader;
    /* Published view (under store->mu). gen counts failures: a proposal accepted under an
     * older gen fails, so once one fails every later-accepted one does too. */
    bool v_leader;
    uint64_t v_leader_id, v_term, v_commit, v_applied;
    int64_t v_lease_until_ns;
    bool v_size_known;
    uint64_t v_approx_size, v_approx_keys;
    uint64_t gen;
    /* Set with every gen bump, cleared once the round's callbacks have run (under mu).
     * While set, propose refuses with ServerIsBusy: a command accepted between the bump
     * and the failure callbacks could chain on a pending write that is failing, and,
     * accepted under the new gen, outlive it (txn.h's chaining contract). */
    bool fence;
} cluster_fsm;

/* Creates the peer of region r (borrowed) from its persisted storage. */
int cluster_fsm_new(cluster_store *s, const cluster_region *r, cluster_fsm **out, bs_err *err);
/* Fails every pending proposal and read with code, queueing the callbacks on *cbs. */
void cluster_fsm_fail_all(cluster_fsm *f, int code, const char *why, cluster_cb **cbs);
void cluster_fsm_free(cluster_fsm *f);
/* Proposes p (raftstore thread). BS_OK when p is pending (p->index set); on failure p's
 * callback goes on *cbs, p is freed and the code is returned. */
int cluster_fsm_propose(cluster_fsm *f, cluster_proposal *p, cluster_cb **cbs);
/* Fails (code, BS_ESTATE or BS_EPROPOSAL_DROPPED) every non-admin pending proposal whose
 * index is above `index`, queueing the callbacks; admin ones stay to be matched at apply. */
void cluster_fsm_fail_pending_after(cluster_fsm *f, uint64_t index, int code, const bs_err *e,
                                    cluster_cb **cbs);
/* Bumps the failure generation and raises the fence (takes store->mu). */
void cluster_fsm_bump_gen(cluster_fsm *f);
/* Applies rd.committed (one engine write), acknowledging proposals. Raftstore thread. */
int cluster_fsm_apply(cluster_fsm *f, const raft_entry *ents, size_t n, cluster_cb **cbs,
                      bs_err *err);
/* Role change handling after a Ready with soft state. */
void cluster_fsm_on_role(cluster_fsm *f, const raft_soft_state *ss, cluster_cb **cbs);
/* Serves read states and pending reads whose index is applied. */
void cluster_fsm_on_reads(cluster_fsm *f, const raft_read_state *rs, size_t n, cluster_cb **cbs);
/* Log GC check (leader): proposes CompactLog when the log is long enough. */
void cluster_fsm_maybe_gc(cluster_fsm *f, cluster_cb **cbs);
/* Records a follower's match from an incoming MsgAppendResp. */
void cluster_fsm_note_match(cluster_fsm *f, uint64_t peer_id, uint64_t index);
/* After a synced write covering the log through synced: advances synced_index and counts
 * the proposals it covers (stats.proposals_synced). */
void cluster_fsm_on_synced(cluster_fsm *f, uint64_t synced);
/* Publishes role, leader, term, commit, lease into the view. Caller holds store->mu. */
void cluster_fsm_publish(cluster_fsm *f, int64_t now_ns);

/* Queues a callback. err may be NULL. */
void cluster_cb_push(cluster_cb **cbs, cluster_proposal_done_fn done, void *arg, int code,
                     const bs_err *err);
void cluster_cb_push_read(cluster_cb **cbs, cluster_read_done_fn done, void *arg, int code,
                          const bs_err *err);
void cluster_cb_push_role(cluster_cb **cbs, void (*fn)(void *, uint64_t, bool), void *arg,
                          uint64_t region_id, bool is_leader);
void cluster_proposal_free(cluster_proposal *p);

/* ---- split (split.c) and the store's worker thread (worker.c) --------------------------- */

typedef enum cluster_task_kind {
    CLUSTER_TASK_SPLIT_CHECK = 1,  /* scan hb.region, AskBatchSplit; posts a split result */
    CLUSTER_TASK_REPORT_SPLIT,     /* ReportBatchSplit(regions) */
    CLUSTER_TASK_REGION_HEARTBEAT, /* RegionHeartbeat(hb) */
    CLUSTER_TASK_STORE_HEARTBEAT,  /* StoreHeartbeat(stats) */
    CLUSTER_TASK_ASK_SPLIT,        /* AskBatchSplit for split_keys of hb.region (manual) */
} cluster_task_kind;

/* Work for the worker thread; owns everything it points to (cluster_task_free). */
typedef struct cluster_task {
    struct cluster_task *next;
    cluster_task_kind kind;
    pd_region_info hb;       /* SPLIT_CHECK: hb.region; REGION_HEARTBEAT: the report */
    cluster_region *regions; /* REPORT_SPLIT: n_regions, left to right */
    size_t n_regions;
    pd_store_stats stats;    /* STORE_HEARTBEAT (capacity filled in by the worker) */
    bs_buf *split_keys;      /* ASK_SPLIT: n_split keys, and who to tell */
    size_t n_split;
    cluster_proposal_done_fn done;
    void *done_arg;
} cluster_task;

/* What a split check found, posted back to the raftstore (cluster_split_result_free). */
typedef struct cluster_split_result {
    struct cluster_split_result *next;
    uint64_t region_id;
    cluster_epoch epoch; /* of the Region as the check scanned it */
    bool measured;       /* the scan finished: size and keys are valid */
    bool want_split;     /* the scan found split keys (even if PD then gave no ids) */
    uint64_t size, keys; /* key + value bytes of CFs default/write/lock; distinct keys */
    bs_buf *split_keys;  /* n_split region keys, strictly ascending, inside the Region */
    size_t n_split;
    pd_split_ids ids;    /* AskBatchSplit's answer; count == n_split when n_split > 0 */
    /* A manual split (cluster_store_split_region): no measurement, and done is told how it
     * ends (code/err: PD's refusal, when the worker got no ids). */
    bool manual;
    cluster_proposal_done_fn done;
    void *done_arg;
    int code;
    bs_err err;
} cluster_split_result;

/* A BatchSplit applied in this round, finished after the apply write. */
typedef struct cluster_split_done {
    struct cluster_split_done *next;
    cluster_region *regions; /* n, left to right; regions[n - 1] is the derived Region */
    size_t n;
    bool leader;             /* this peer led the Region when it applied the split */
} cluster_split_done;

void cluster_task_free(cluster_task *t); /* t may be NULL */
void cluster_split_result_free(cluster_split_result *r); /* r may be NULL */

/* Queues t (takes ownership) for the worker; any thread, takes mu. After the worker has
 * stopped the task is freed unrun. */
void cluster_worker_push(cluster_store *s, cluster_task *t);
/* Starts the worker thread (BS_OK or BS_EINTERNAL); stop joins it and frees what is
 * still queued. */
int cluster_worker_start(cluster_store *s, bs_err *err);
void cluster_worker_stop(cluster_store *s);

/* Worker thread: measures Region r over a snapshot and picks its split keys (cluster.h,
 * "Region split"). Fills res (measured, size, keys, split keys); BS_OK or an engine
 * error. */
int cluster_split_scan(cluster_store *s, const cluster_region *r, cluster_split_result *res,
                       bs_err *err);
/* Raftstore: records a check's measurement and, when its keys still fit the Region as it
 * is now and this peer still leads, proposes the BatchSplit. Takes ownership of res. */
void cluster_split_on_result(cluster_store *s, cluster_split_result *res, cluster_cb **cbs);
/* Raftstore, applying the BatchSplit entry at index with header h: when it still fits the
 * Region (epoch, keys inside and ascending), records the Region's new state and each new
 * Region's initial state in b, replaces f->region (under mu), fails the pending proposals
 * of the old epoch (cbs) and prepends a cluster_split_done to *done. BS_OK; BS_ESTATE with
 * ce set when it no longer fits (a no-op on every replica alike); BS_ECORRUPT (err) for an
 * undecodable body. */
int cluster_split_apply(cluster_fsm *f, const cluster_cmd_header *h, bs_slice body,
                        uint64_t index, kv_batch *b, cluster_split_done **done,
                        cluster_cb **cbs, bs_err *ce, bs_err *err);
/* Raftstore, after the apply write made the states durable: creates the new Regions'
 * peers (campaigning them when the parent led), reports the split to PD and frees done. */
void cluster_split_finish(cluster_fsm *f, cluster_split_done *done);

/* Raftstore, every round: fires the split-check, region and store heartbeat ticks that are
 * due (worker.c). */
void cluster_store_on_timers(cluster_store *s, int64_t now_ns);
/* Raftstore: queues a region heartbeat of f, which leads (resets its written counters). */
void cluster_fsm_heartbeat(cluster_fsm *f);
/* Registers the store with PD (PutStore). Any thread; BS_OK or PD's error. */
int cluster_store_put_to_pd(cluster_store *s, bs_err *err);

/* ---- the store (store.c, raftstore.c) --------------------------------------------------- */

typedef struct cluster_msg_node {
    struct cluster_msg_node *next;
    cluster_raft_message m; /* m.msg is a raft_msg_clone */
    uint64_t expire_tick;   /* orphans only: dropped once tick_count passes it */
} cluster_msg_node;

/* Most messages kept for Regions this store does not have yet. */
#define CLUSTER_MAX_ORPHANS 1024

typedef struct cluster_create_req {
    struct cluster_create_req *next;
    cluster_region region;
    int rc;
    bool done;
    bs_err err;
} cluster_create_req;

/* The raftstore's log syncer (log_sync.c): one WAL fsync in flight at a time. mu/cv
 * guard requested, done, rc, err, duration_ns and stop; started and busy belong to the
 * raftstore thread. */
typedef struct cluster_log_sync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool started;   /* the thread runs (else the raftstore syncs inline) */
    bool busy;      /* a sync was started and not yet waited for */
    bool stop;
    bool requested; /* a sync is asked for and not finished */
    bool done;
    int rc;
    bs_err err;
    int64_t duration_ns;
    _Atomic uint64_t syncs; /* syncs started on the thread (tests, any thread may read) */
} cluster_log_sync;

struct cluster_store {
    cluster_store_options opts;
    uint64_t store_id, cluster_id;
    kv_engine *engine;

    pthread_mutex_t mu;
    pthread_cond_t cv;      /* wakes the raftstore */
    pthread_cond_t done_cv; /* wakes waiters of create_region */
    bool stop;
    bool thread_started;
    pthread_t thread;

    /* Peers: owned by the raftstore thread; the array itself changes only under mu. */
    cluster_fsm **fsms;
    size_t n_fsms, cap_fsms;

    /* Queues (under mu), FIFO. */
    cluster_proposal *prop_head, *prop_tail;
    size_t n_props;
    cluster_msg_node *msg_head, *msg_tail;
    /* Raftstore thread: messages for a Region not (yet) here, kept for a few election
     * timeouts. A split's new leader campaigns before the other stores have applied the
     * split; TiKV creates the peer from such a message, Basalt keeps the message until
     * the local split creates the peer, so the election needs no timeout. */
    cluster_msg_node *orphans, *orphans_tail; /* FIFO */
    size_t n_orphans;
    bool peers_created; /* a split created peers this round: retry the orphans at once */
    cluster_read *read_head, *read_tail;
    cluster_create_req *create_head;
    uint64_t next_proposal_id, next_read_id;

    int64_t last_tick_ns;
    uint64_t tick_count;

    /* The worker thread (worker.c): its queue, under mu. */
    pthread_cond_t worker_cv;
    pthread_t worker;
    bool worker_started, worker_stop;
    cluster_task *task_head, *task_tail;
    bool pd_registered; /* worker thread only: PutStore succeeded */
    /* Split check results for the raftstore (under mu), FIFO. */
    cluster_split_result *split_head, *split_tail;
    /* Raftstore thread: when each periodic tick is next due (monotonic ns). */
    int64_t next_split_check_ns, next_region_hb_ns, next_store_hb_ns;
    int64_t started_s;                      /* wall seconds the store opened */
    int64_t store_hb_start_s;               /* wall seconds the current interval began */
    uint64_t store_hb_bytes, store_hb_keys; /* written since the last store heartbeat */
    /* Some fsm's fence is up (under mu); cleared with them after the round's callbacks. */
    bool any_fence;

    /* Statistics. */
    cluster_store_stats stats;     /* raftstore thread only */
    cluster_store_stats pub_stats; /* copy published each round, under mu */
    bs_counter *m_fsync, *m_proposals, *m_rounds;
    bs_histogram *m_append, *m_apply;

    cluster_log_sync log_sync; /* set up and torn down by the raftstore thread */
    /* Tests: durable entries a round needs before it overlaps its fsync with their apply;
     * 0 = the default (raftstore.c, OVERLAP_MIN_ENTRIES). */
    _Atomic size_t overlap_min_entries;
};

/* The peer of region_id, or NULL. Caller holds mu or is the raftstore thread. */
cluster_fsm *cluster_store_find(cluster_store *s, uint64_t region_id);
/* Adds f to the store's peers (raftstore thread or before it starts; takes mu). */
void cluster_store_add_fsm(cluster_store *s, cluster_fsm *f);
/* The raftstore thread body and helpers (raftstore.c). */
void *cluster_raftstore_main(void *arg);

/* The log syncer (log_sync.c); every function runs on the raftstore thread. init never
 * fails: without a thread, start returns false and the caller syncs inline. */
void cluster_log_sync_init(cluster_store *s);
/* Joins the thread; no sync may be in flight. */
void cluster_log_sync_deinit(cluster_store *s);
/* Starts kv_engine_sync_wal on the syncer thread: every write made before the call is
 * durable once cluster_log_sync_wait returns BS_OK. false (nothing started) when there is
 * no thread. */
bool cluster_log_sync_start(cluster_store *s);
/* Waits for the started sync: its kv_engine_sync_wal code (err filled on failure) and, in
 * *duration_ns, how long it took. */
int cluster_log_sync_wait(cluster_store *s, int64_t *duration_ns, bs_err *err);
/* Runs the callbacks of the list whose tail is cbs, in push order, and frees them (no lock
 * held). */
void cluster_cb_run(cluster_cb *cbs);

#endif
