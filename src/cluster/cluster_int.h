/* cluster_int.h -- declarations shared by the files of src/cluster/ (never by other modules).
 *
 * Who owns what: the raftstore thread owns every cluster_fsm (its raft node, storage, region
 * and pending proposals). Other threads touch a store only through its queues and the
 * published view fields, all under cluster_store.mu. */
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
 * the apply state) and deletes the log keys in b. */
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

/* A deferred callback, run after the round without locks. */
typedef struct cluster_cb {
    struct cluster_cb *next;
    cluster_proposal_done_fn done;
    cluster_read_done_fn rdone;
    void *arg;
    int code;
    bs_err err;
} cluster_cb;

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
    /* Published view (under store->mu). gen counts failures: a proposal accepted under an
     * older gen fails, so once one fails every later-accepted one does too. */
    bool v_leader;
    uint64_t v_leader_id, v_term, v_commit, v_applied;
    int64_t v_lease_until_ns;
    uint64_t gen;
} cluster_fsm;

/* Creates the peer of region r (borrowed) from its persisted storage. */
int cluster_fsm_new(cluster_store *s, const cluster_region *r, cluster_fsm **out, bs_err *err);
/* Fails every pending proposal and read with code, queueing the callbacks on *cbs. */
void cluster_fsm_fail_all(cluster_fsm *f, int code, const char *why, cluster_cb **cbs);
void cluster_fsm_free(cluster_fsm *f);
/* Proposes p (raftstore thread). On failure p's callback goes on *cbs and p is freed. */
void cluster_fsm_propose(cluster_fsm *f, cluster_proposal *p, cluster_cb **cbs);
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
void cluster_proposal_free(cluster_proposal *p);

/* ---- the store (store.c, raftstore.c) --------------------------------------------------- */

typedef struct cluster_msg_node {
    struct cluster_msg_node *next;
    cluster_raft_message m; /* m.msg is a raft_msg_clone */
} cluster_msg_node;

typedef struct cluster_create_req {
    struct cluster_create_req *next;
    cluster_region region;
    int rc;
    bool done;
    bs_err err;
} cluster_create_req;

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
    cluster_read *read_head, *read_tail;
    cluster_create_req *create_head;
    uint64_t next_proposal_id, next_read_id;

    int64_t last_tick_ns;
    uint64_t tick_count;

    /* Statistics. */
    cluster_store_stats stats;     /* raftstore thread only */
    cluster_store_stats pub_stats; /* copy published each round, under mu */
    bs_counter *m_fsync, *m_proposals, *m_rounds;
    bs_histogram *m_append, *m_apply;
};

/* The peer of region_id, or NULL. Caller holds mu or is the raftstore thread. */
cluster_fsm *cluster_store_find(cluster_store *s, uint64_t region_id);
/* Adds f to the store's peers (raftstore thread or before it starts; takes mu). */
void cluster_store_add_fsm(cluster_store *s, cluster_fsm *f);
/* The raftstore thread body and helpers (raftstore.c). */
void *cluster_raftstore_main(void *arg);
/* Runs the callbacks on cbs and frees them (no lock held). */
void cluster_cb_run(cluster_cb *cbs);

#endif
