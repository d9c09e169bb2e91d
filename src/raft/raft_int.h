/* raft_int.h -- declarations shared by the files of src/raft/; never included elsewhere.
 *
 * Layout of the module (one job per file):
 *   entry.c       refcounted byte blocks, entry vectors, message clone, conf change codec
 *   log.c         the Raft log: storage (persisted) + unstable tail (etcd raftLog+unstable)
 *   progress.c    per-peer replication progress and its in-flight window
 *   quorum.c      majority and joint-majority commit indexes and vote tallies
 *   tracker.c     the set of progresses and the (joint) configuration they belong to
 *   confchange.c  enter/leave joint and simple membership changes (etcd confchange)
 *   read_only.c   ReadIndex heartbeat rounds and the leader lease
 *   raft.c        node lifecycle, role transitions, tick, message dispatch, tracing
 *   election.c    campaigns, (pre)votes, the candidate role
 *   replication.c append/heartbeat/snapshot sending and handling, leader-side acks
 *   leader.c      proposals, leader transfer, conf change proposals, reads on the leader
 *   ready.c       Ready assembly and advance
 *   memstorage.c  the in-memory raft_storage */
#ifndef BASALT_RAFT_RAFT_INT_H
#define BASALT_RAFT_RAFT_INT_H

#include <stdarg.h>

#include "common/assert.h"
#include "raft/raft.h"

/* ---- blocks (entry.c) ---------------------------------------------------------------- */

struct raft_blk {
    uint32_t refs;
    size_t len;
    uint8_t bytes[];
};
raft_blk *raft_blk_new(size_t len); /* refs = 1 */
void raft_blk_get(raft_blk *b);
void raft_blk_put(raft_blk *b);

void raft_entries_reserve(raft_entries *es, size_t extra);
uint64_t raft_entry_size(const raft_entry *e); /* bytes counted against size limits */

/* Sorted set of node ids, fixed capacity. */
typedef struct raft_idset {
    uint64_t ids[RAFT_MAX_CONF];
    uint32_t n;
} raft_idset;
bool raft_idset_has(const raft_idset *s, uint64_t id);
bool raft_idset_add(raft_idset *s, uint64_t id); /* false when full */
void raft_idset_del(raft_idset *s, uint64_t id);

/* ---- log (log.c) --------------------------------------------------------------------- */

typedef struct raft_log {
    raft_storage st;
    /* Unstable part: a snapshot not yet persisted, and entries from index `offset`. */
    raft_snapshot snap;
    bool has_snap;
    raft_entry *ents; /* ents[start .. start+n) are live; live[i].index == offset + i */
    size_t start, n, cap;
    uint64_t offset;
    uint64_t committed; /* Invariant: committed <= last_index() */
    uint64_t applied;   /* Invariant: applied <= committed */
    uint64_t max_apply_size;
} raft_log;

void raft_log_init(raft_log *l, raft_storage st, uint64_t max_apply_size);
void raft_log_deinit(raft_log *l);
uint64_t raft_log_first_index(const raft_log *l);
uint64_t raft_log_last_index(const raft_log *l);
uint64_t raft_log_last_term(const raft_log *l);
/* Term of i, or 0 when i is compacted or beyond the log. */
uint64_t raft_log_term(const raft_log *l, uint64_t i);
/* Like raft_log_term but tells compaction apart: returns BS_OK, RAFT_ECOMPACTED or
 * RAFT_EUNAVAILABLE. */
int raft_log_term_ex(const raft_log *l, uint64_t i, uint64_t *t);
bool raft_log_match_term(const raft_log *l, uint64_t i, uint64_t t);
bool raft_log_is_up_to_date(const raft_log *l, uint64_t last_index, uint64_t term);
/* Appends ents (new references taken), truncating a conflicting suffix of the unstable
 * part. Returns the new last index. */
uint64_t raft_log_append(raft_log *l, const raft_entry *ents, size_t n);
/* The follower side of AppendEntries: returns true and sets *lastnewi when the log had
 * (index, log_term); appends what is new and commits up to min(committed, lastnewi). */
bool raft_log_maybe_append(raft_log *l, uint64_t index, uint64_t log_term, uint64_t committed,
                           const raft_entry *ents, size_t n, uint64_t *lastnewi);
/* Largest index <= i whose term is <= t (and its term in *term_out). */
uint64_t raft_log_find_conflict_by_term(const raft_log *l, uint64_t i, uint64_t t,
                                        uint64_t *term_out);
void raft_log_commit_to(raft_log *l, uint64_t tocommit);
bool raft_log_maybe_commit(raft_log *l, uint64_t max_index, uint64_t term);
/* Entries [lo, hi) limited to max_size bytes (at least one), appended to out with
 * references. Returns BS_OK or RAFT_ECOMPACTED. */
int raft_log_slice(const raft_log *l, uint64_t lo, uint64_t hi, uint64_t max_size,
                   raft_entries *out);
void raft_log_restore(raft_log *l, const raft_snapshot *s);
/* Unstable entries, i.e. those the owner has not yet persisted. */
size_t raft_log_unstable_count(const raft_log *l);
const raft_entry *raft_log_unstable_ents(const raft_log *l);
/* The owner persisted everything up to (i, t) / the unstable snapshot. */
void raft_log_stable_to(raft_log *l, uint64_t i, uint64_t t);
void raft_log_stable_snap_to(raft_log *l, uint64_t i);
/* Highest index known persisted (last index of storage, or the unstable snapshot is not). */
uint64_t raft_log_persisted(const raft_log *l);
bool raft_log_has_next_committed(const raft_log *l);
/* Whether any unapplied committed entry (applied, committed] is a conf change. */
bool raft_log_has_pending_conf(const raft_log *l);

/* ---- progress (progress.c) ----------------------------------------------------------- */

typedef enum raft_pr_state {
    RAFT_PR_PROBE = 0,
    RAFT_PR_REPLICATE = 1,
    RAFT_PR_SNAPSHOT = 2,
} raft_pr_state;

typedef struct raft_inflights {
    uint64_t *idx; /* ring of the last index of each MsgAppend in flight */
    size_t start, count, cap;
} raft_inflights;

typedef struct raft_progress {
    uint64_t id;
    uint64_t match, next; /* Invariant: match < next */
    raft_pr_state state;
    uint64_t pending_snapshot;
    bool recent_active;
    bool probe_sent; /* probe mode: one MsgAppend sent, wait for a reply */
    bool is_learner;
    uint64_t hb_round; /* highest heartbeat round acknowledged (this term) */
    raft_inflights ins;
} raft_progress;

void raft_pr_init(raft_progress *p, uint64_t id, uint64_t next, size_t max_inflight, bool learner);
void raft_pr_deinit(raft_progress *p);
void raft_pr_become_probe(raft_progress *p);
void raft_pr_become_replicate(raft_progress *p);
void raft_pr_become_snapshot(raft_progress *p, uint64_t snapi);
bool raft_pr_maybe_update(raft_progress *p, uint64_t n);
bool raft_pr_maybe_decr_to(raft_progress *p, uint64_t rejected, uint64_t match_hint);
bool raft_pr_is_paused(const raft_progress *p);
/* Records a MsgAppend sent with entries up to `last` (n > 0 entries). */
void raft_pr_sent_entries(raft_progress *p, uint64_t last);
void raft_inflights_free_le(raft_inflights *in, uint64_t to);
void raft_inflights_reset(raft_inflights *in);
bool raft_inflights_full(const raft_inflights *in);
const char *raft_pr_state_name(raft_pr_state s);

/* ---- quorum (quorum.c) --------------------------------------------------------------- */

typedef enum raft_vote_result { RAFT_VOTE_PENDING, RAFT_VOTE_LOST, RAFT_VOTE_WON } raft_vote_result;

typedef struct raft_joint {
    raft_idset in;  /* incoming (current) voters */
    raft_idset out; /* outgoing voters; empty unless joint */
} raft_joint;

/* Value lookup for committed-index computations: returns the acked value for id. */
typedef uint64_t (*raft_ack_fn)(void *ctx, uint64_t id);
/* The largest value acked by a majority of s (UINT64_MAX for an empty set). */
uint64_t raft_majority_committed(const raft_idset *s, raft_ack_fn f, void *ctx);
uint64_t raft_joint_committed(const raft_joint *j, raft_ack_fn f, void *ctx);
/* votes: callback returns 1 granted, 0 rejected, -1 missing. */
typedef int (*raft_vote_fn)(void *ctx, uint64_t id);
raft_vote_result raft_majority_vote(const raft_idset *s, raft_vote_fn f, void *ctx);
raft_vote_result raft_joint_vote(const raft_joint *j, raft_vote_fn f, void *ctx);

/* ---- tracker (tracker.c) ------------------------------------------------------------- */

#define RAFT_MAX_PROGRESS (2 * RAFT_MAX_CONF + 2)

typedef struct raft_tracker_config {
    raft_joint voters;
    raft_idset learners;
    raft_idset learners_next; /* learners to be, once the joint config is left */
    bool auto_leave;
} raft_tracker_config;

typedef struct raft_tracker {
    raft_tracker_config cfg;
    raft_progress prs[RAFT_MAX_PROGRESS];
    size_t n_prs;
    size_t max_inflight;
    /* Votes of the current campaign: ids and 1 (granted) / 0 (rejected). */
    uint64_t vote_ids[RAFT_MAX_PROGRESS];
    uint8_t vote_granted[RAFT_MAX_PROGRESS];
    size_t n_votes;
} raft_tracker;

void raft_tracker_init(raft_tracker *t, size_t max_inflight);
void raft_tracker_deinit(raft_tracker *t);
raft_progress *raft_tracker_get(raft_tracker *t, uint64_t id);
const raft_progress *raft_tracker_cget(const raft_tracker *t, uint64_t id);
raft_progress *raft_tracker_add(raft_tracker *t, uint64_t id, uint64_t next, bool learner);
void raft_tracker_remove(raft_tracker *t, uint64_t id);
bool raft_tracker_is_voter(const raft_tracker *t, uint64_t id);
bool raft_tracker_is_joint(const raft_tracker *t);
uint64_t raft_tracker_committed(const raft_tracker *t);
uint64_t raft_tracker_hb_round_acked(const raft_tracker *t);
bool raft_tracker_quorum_active(const raft_tracker *t);
void raft_tracker_reset_votes(raft_tracker *t);
void raft_tracker_record_vote(raft_tracker *t, uint64_t id, bool granted);
raft_vote_result raft_tracker_tally(const raft_tracker *t, size_t *granted, size_t *rejected);
void raft_tracker_conf_state(const raft_tracker *t, raft_conf_state *cs);
/* Voter ids (incoming and outgoing, deduplicated) into ids; returns the count. */
size_t raft_tracker_voter_ids(const raft_tracker *t, uint64_t *ids);

/* ---- confchange (confchange.c) ------------------------------------------------------- */

/* Apply changes to t's config (progresses of new ids start at next). BS_OK or BS_EINVAL
 * (t unchanged). */
int raft_cc_enter_joint(raft_tracker *t, bool auto_leave, const raft_cc_single *ccs, size_t n,
                        uint64_t next, bs_err *err);
int raft_cc_leave_joint(raft_tracker *t, bs_err *err);
int raft_cc_simple(raft_tracker *t, const raft_cc_single *ccs, size_t n, uint64_t next,
                   bs_err *err);
/* Rebuilds t from a conf state (snapshot restore, startup). */
int raft_cc_restore(raft_tracker *t, const raft_conf_state *cs, uint64_t next, bs_err *err);
bool raft_cc_enters_joint(const raft_conf_change *cc, bool *auto_leave);
bool raft_cc_leaves_joint(const raft_conf_change *cc);

/* ---- read only (read_only.c) --------------------------------------------------------- */

#define RAFT_ROUND_RING 256

typedef struct raft_read_req {
    uint64_t index; /* commit index when the read arrived */
    uint64_t round; /* heartbeat round that must be acknowledged by a quorum */
    uint64_t from;  /* requester; this node for local reads */
    bs_buf ctx;
} raft_read_req;

typedef struct raft_read_only {
    raft_read_req *reqs; /* FIFO, rounds non-decreasing */
    size_t n, cap;
    uint64_t round;                       /* last round started (monotonic across terms) */
    uint64_t round_tick[RAFT_ROUND_RING]; /* tick at which round r % RING was sent */
    /* Reads that arrived before this term's first entry committed. */
    raft_read_req *waiting;
    size_t n_waiting, cap_waiting;
} raft_read_only;

void raft_ro_init(raft_read_only *ro);
void raft_ro_deinit(raft_read_only *ro);
void raft_ro_reset(raft_read_only *ro); /* drops pending reads (leadership lost) */

/* ---- the node (raft.c and friends) --------------------------------------------------- */

typedef struct raft_msgvec {
    raft_msg *v;
    size_t n, cap;
} raft_msgvec;

typedef struct raft_rsvec {
    raft_read_state *v;
    bs_buf *ctx; /* owned bytes behind v[i].ctx */
    size_t n, cap;
} raft_rsvec;

struct raft_node {
    uint64_t id;
    uint64_t term;
    uint64_t vote;
    raft_role state;
    bool is_learner;
    uint64_t lead;
    uint64_t lead_transferee;
    uint64_t pending_conf_index;
    uint64_t uncommitted_size;
    bool lease_disabled; /* a TimeoutNow went out this term: no lease reads */
    bool boot_lease;     /* just started: refuse votes for one election timeout */

    raft_log log;
    raft_tracker trk;
    raft_read_only ro;

    int election_elapsed;
    int heartbeat_elapsed;
    int randomized_election_timeout;
    uint64_t now; /* ticks since start */
    uint64_t rng;

    /* config */
    int election_timeout, heartbeat_timeout;
    uint64_t max_msg_size, max_uncommitted;
    bool check_quorum, pre_vote;
    raft_read_only_option read_only;
    raft_trace_fn trace;
    void *trace_ctx;

    /* outboxes and Ready bookkeeping */
    raft_msgvec msgs;       /* leader traffic, sendable before persisting */
    raft_msgvec msgs_after; /* needs this Ready persisted first */
    raft_rsvec read_states;
    bool bcast_pending; /* proposals appended: broadcast at the next Ready */
    bool hb_pending;    /* reads waiting: start a heartbeat round at the next Ready */
    raft_soft_state rd_ss;
    raft_hard_state rd_hs;
    raft_soft_state prev_ss;
    raft_hard_state prev_hs;
    bool in_ready;
    raft_entries rd_committed; /* references held for the outstanding Ready */
    raft_msgvec rd_msgs, rd_msgs_after;
    raft_rsvec rd_rs;
    uint64_t rd_stable_index, rd_stable_term;
    bool rd_has_snap;
    uint64_t rd_snap_index;
    uint64_t rd_applying;
};

void raft_tracef(raft_node *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* raft.c */
void raft_become_follower(raft_node *r, uint64_t term, uint64_t lead);
void raft_become_candidate(raft_node *r);
void raft_become_pre_candidate(raft_node *r);
void raft_become_leader(raft_node *r);
bool raft_promotable(const raft_node *r);
/* Queues m (taking over its entries/context/snapshot allocations). */
void raft_send(raft_node *r, raft_msg *m);
void raft_msgvec_clear(raft_msgvec *v);
void raft_msgvec_free(raft_msgvec *v);
void raft_rsvec_push(raft_rsvec *v, uint64_t index, bs_slice ctx);
void raft_rsvec_clear(raft_rsvec *v);
void raft_rsvec_free(raft_rsvec *v);
void raft_reset_randomized_timeout(raft_node *r);
void raft_abort_transfer(raft_node *r);
bool raft_past_election_timeout(const raft_node *r);

/* election.c */
#define RAFT_CAMPAIGN_PRE 0
#define RAFT_CAMPAIGN_ELECTION 1
#define RAFT_CAMPAIGN_TRANSFER 2
void raft_hup(raft_node *r, int kind);
void raft_campaign_kind(raft_node *r, int kind);
void raft_handle_vote_request(raft_node *r, const raft_msg *m);
void raft_step_candidate(raft_node *r, const raft_msg *m);
bool raft_is_transfer_ctx(bs_slice ctx);

/* replication.c */
bool raft_send_append(raft_node *r, uint64_t to, bool send_if_empty);
void raft_bcast_append(raft_node *r);
void raft_bcast_heartbeat(raft_node *r);
void raft_handle_append(raft_node *r, const raft_msg *m);
void raft_handle_heartbeat(raft_node *r, const raft_msg *m);
void raft_handle_snapshot(raft_node *r, const raft_msg *m);
void raft_handle_append_resp(raft_node *r, const raft_msg *m);
void raft_handle_heartbeat_resp(raft_node *r, const raft_msg *m);
bool raft_maybe_commit(raft_node *r);
void raft_append_entries(raft_node *r, raft_entry *ents, size_t n); /* leader append */
bool raft_uncommitted_ok(const raft_node *r, uint64_t size);
void raft_send_timeout_now(raft_node *r, uint64_t to);

/* leader.c */
void raft_step_leader(raft_node *r, const raft_msg *m);
void raft_tick_heartbeat(raft_node *r);
void raft_reduce_uncommitted(raft_node *r, const raft_entry *ents, size_t n);
void raft_switch_to_config(raft_node *r);

/* read_only.c */
void raft_ro_leader_read(raft_node *r, uint64_t from, bs_slice ctx);
void raft_ro_on_round_acked(raft_node *r);
uint64_t raft_ro_new_round(raft_node *r);
void raft_ro_release_waiting(raft_node *r);
bool raft_ro_lease_valid(const raft_node *r);

#endif
