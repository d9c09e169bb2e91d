/* raft.h -- Raft consensus as a pure state machine: the contract every other module sees.
 *
 * Every Region and every PD replica runs on this library. It does no I/O, reads no clock
 * and starts no thread: its owner (cluster/ for Regions, pd/ for PD) drives it and acts on
 * what it hands back. The design follows etcd's raft and TiKV's raft-rs (RawNode/Ready):
 *
 *   step(msg) / tick() / propose() / read_index() / transfer_leader() / propose_conf_change()
 *        |
 *   has_ready()? -> ready_get(&rd)    the owner then, in this order:
 *        1. may send rd.msgs at any time (leader traffic that needs nothing persisted);
 *        2. installs rd.snapshot (if not NULL) into its storage and state machine;
 *        3. persists rd.entries and rd.hs (if has_hs) -- atomically, durably if must_sync;
 *        4. sends rd.persisted_msgs (votes, append acks: they promise what step 3 wrote);
 *        5. applies rd.committed in order (calling raft_apply_conf_change for conf
 *           change entries) and serves rd.read_states once applied >= their index;
 *        6. calls raft_advance(r, &rd).
 *   Between raft_ready_get() and raft_advance() the owner must not call any other function
 *   on the node (asserted), except raft_apply_conf_change() in step 5. Everything a Ready points to
 * is borrowed from the node and stays valid until raft_advance(); clone what you keep
 * (raft_msg_clone, raft_entry_ref).
 *
 * Time enters only through raft_tick(); randomness only from raft_config.seed, so a run
 * replays exactly. Tracing goes through raft_config.trace with deterministic lines
 * ("1 became leader at term 2"); the library never logs by itself.
 *
 * Field shapes mirror raft-rs's eraftpb (PROTOCOL.md 2.10) so cluster/ can convert 1:1.
 * Basalt-specific uses of eraftpb fields: MsgHeartbeat/MsgHeartbeatResponse carry a
 * leader-chosen heartbeat round in `index` that the follower echoes (ReadIndex and leases
 * count acknowledged rounds); a forced (leader transfer) vote carries the context bytes
 * "CampaignTransfer" as raft-rs does; MsgReadIndex/MsgReadIndexResp carry the read's
 * context in `context`. Conf change entries hold raft_conf_change_encode() bytes. */
#ifndef BASALT_RAFT_RAFT_H
#define BASALT_RAFT_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* The storage interface's "not here" answers are existing codes under Raft's names. */
#define RAFT_ECOMPACTED BS_ERANGE     /* the index is below the first available index */
#define RAFT_EUNAVAILABLE BS_NOTFOUND /* the index is above the last index */
#define RAFT_ESNAP_TEMP BS_EBUSY      /* snapshot is being generated; ask again later */

#define RAFT_NONE 0ULL   /* "no node": node ids are never 0 */
#define RAFT_MAX_CONF 16 /* max ids in each of voters/learners/outgoing/learners_next */

/* ---- entries ------------------------------------------------------------------------ */

typedef enum raft_entry_type {
    RAFT_ENTRY_NORMAL = 0,
    RAFT_ENTRY_CONF_CHANGE = 1, /* accepted on input; this library proposes V2 only */
    RAFT_ENTRY_CONF_CHANGE_V2 = 2,
} raft_entry_type;

/* Opaque refcounted byte block. Several entries (and messages carrying them) may share one
 * block; each raft_entry with a non-NULL blk holds one reference. */
typedef struct raft_blk raft_blk;

typedef struct raft_entry {
    uint64_t term;
    uint64_t index;
    raft_entry_type type;
    bs_slice data; /* borrowed view into blk (or, with blk == NULL, into caller memory) */
    raft_blk *blk; /* the reference this entry holds, or NULL */
} raft_entry;

/* Sets e->data to a fresh private copy of (p, n); releases what e held before.
 * e must be zero-initialised or a valid entry. */
void raft_entry_set_data(raft_entry *e, const void *p, size_t n);
/* *dst = *src sharing src's bytes: takes a new reference on src->blk, or copies the data
 * when src->blk is NULL. dst's previous contents are overwritten, not released. */
void raft_entry_ref(raft_entry *dst, const raft_entry *src);
/* Drops e's reference and zeroes e->data/e->blk. Accepts entries with blk == NULL. */
void raft_entry_release(raft_entry *e);

/* ---- membership --------------------------------------------------------------------- */

/* eraftpb ConfState. An empty voters_outgoing means "not joint". */
typedef struct raft_conf_state {
    uint64_t voters[RAFT_MAX_CONF];
    uint64_t learners[RAFT_MAX_CONF];
    uint64_t voters_outgoing[RAFT_MAX_CONF];
    uint64_t learners_next[RAFT_MAX_CONF];
    uint32_t n_voters, n_learners, n_voters_outgoing, n_learners_next;
    bool auto_leave;
} raft_conf_state;

typedef enum raft_cc_type {
    RAFT_CC_ADD_NODE = 0,
    RAFT_CC_REMOVE_NODE = 1,
    RAFT_CC_ADD_LEARNER = 2,
} raft_cc_type;

typedef enum raft_cc_transition {
    RAFT_CC_AUTO = 0,     /* simple if possible, else joint with automatic leave */
    RAFT_CC_IMPLICIT = 1, /* joint, left automatically once applied */
    RAFT_CC_EXPLICIT = 2, /* joint, left by proposing an empty change */
} raft_cc_transition;

typedef struct raft_cc_single {
    raft_cc_type type;
    uint64_t node_id;
} raft_cc_single;

/* eraftpb ConfChangeV2. Zero changes with RAFT_CC_AUTO means "leave the joint config". */
typedef struct raft_conf_change {
    raft_cc_transition transition;
    uint32_t n_changes; /* <= RAFT_MAX_CONF */
    raft_cc_single changes[RAFT_MAX_CONF];
} raft_conf_change;

/* Appends the entry encoding of cc to out (caller owns out). */
void raft_conf_change_encode(const raft_conf_change *cc, bs_buf *out);
/* Decodes entry data into *cc. Returns BS_OK or BS_ECORRUPT with err set. */
int raft_conf_change_decode(bs_slice data, raft_conf_change *cc, bs_err *err);

/* ---- snapshots, hard state, messages ------------------------------------------------ */

typedef struct raft_snapshot_meta {
    raft_conf_state conf_state;
    uint64_t index;
    uint64_t term;
} raft_snapshot_meta;

typedef struct raft_snapshot {
    raft_snapshot_meta meta;
    bs_slice data; /* view into blk (or caller memory when blk == NULL) */
    raft_blk *blk;
} raft_snapshot;

/* Copies src into dst sharing src's bytes (a new reference). */
void raft_snapshot_ref(raft_snapshot *dst, const raft_snapshot *src);
void raft_snapshot_release(raft_snapshot *s);
/* Sets s->data to a private copy of (p, n). */
void raft_snapshot_set_data(raft_snapshot *s, const void *p, size_t n);

typedef struct raft_hard_state {
    uint64_t term;
    uint64_t vote;
    uint64_t commit;
} raft_hard_state;

typedef enum raft_msg_type {
    RAFT_MSG_HUP = 0,     /* local: not sent */
    RAFT_MSG_BEAT = 1,    /* local */
    RAFT_MSG_PROPOSE = 2, /* local */
    RAFT_MSG_APPEND = 3,
    RAFT_MSG_APPEND_RESP = 4,
    RAFT_MSG_VOTE = 5,
    RAFT_MSG_VOTE_RESP = 6,
    RAFT_MSG_SNAPSHOT = 7,
    RAFT_MSG_HEARTBEAT = 8,
    RAFT_MSG_HEARTBEAT_RESP = 9,
    RAFT_MSG_UNREACHABLE = 10,  /* local */
    RAFT_MSG_SNAP_STATUS = 11,  /* local */
    RAFT_MSG_CHECK_QUORUM = 12, /* local */
    RAFT_MSG_TRANSFER_LEADER = 13,
    RAFT_MSG_TIMEOUT_NOW = 14,
    RAFT_MSG_READ_INDEX = 15,
    RAFT_MSG_READ_INDEX_RESP = 16,
    RAFT_MSG_PRE_VOTE = 17,
    RAFT_MSG_PRE_VOTE_RESP = 18,
} raft_msg_type;

/* eraftpb Message. In a Ready every pointer is borrowed from the node (valid until
 * raft_advance); passed to raft_step every pointer is borrowed for the call (the node
 * takes its own references or copies). */
typedef struct raft_msg {
    raft_msg_type type;
    uint64_t to, from, term;
    uint64_t log_term, index, commit, commit_term;
    bool reject;
    uint64_t reject_hint;
    uint64_t request_snapshot;
    int64_t priority;
    raft_entry *entries; /* n_entries entries, NULL when 0 */
    size_t n_entries;
    raft_snapshot *snapshot; /* only MsgSnapshot; NULL otherwise */
    bs_slice context;
} raft_msg;

/* Deep-copies src into dst (caller owns dst; free with raft_msg_deinit). Entry and
 * snapshot bytes are shared by reference, context is copied. */
void raft_msg_clone(raft_msg *dst, const raft_msg *src);
/* Releases what a raft_msg_clone made. Accepts a zeroed message. */
void raft_msg_deinit(raft_msg *m);
const char *raft_msg_type_name(raft_msg_type t);

/* ---- storage ------------------------------------------------------------------------ */

/* A growable vector of entries that holds one reference per entry. */
typedef struct raft_entries {
    raft_entry *v;
    size_t n, cap;
} raft_entries;
/* Appends e, taking over the reference e holds. */
void raft_entries_push(raft_entries *es, const raft_entry *e);
void raft_entries_clear(raft_entries *es); /* releases every entry, keeps capacity */
void raft_entries_free(raft_entries *es);  /* releases and frees; es may be NULL */

/* The owner's persisted log. Indexes: the storage holds [first_index, last_index]; the
 * term of first_index - 1 (the compaction point / snapshot index) must stay answerable.
 * Every callback returns BS_OK or one of the codes named; any other code means the disk
 * failed, and the node aborts (as etcd and raft-rs panic): Raft cannot run on a log it
 * cannot read. */
typedef struct raft_storage_ops {
    /* The persisted hard state and conf state (the latter from the last snapshot plus
     * applied conf changes, as the owner keeps it). */
    int (*initial_state)(void *ctx, raft_hard_state *hs, raft_conf_state *cs);
    /* Appends entries [lo, hi) to out, stopping once their data exceeds max_size bytes
     * (always at least one entry). Each pushed entry carries its own reference.
     * RAFT_ECOMPACTED if lo < first_index; RAFT_EUNAVAILABLE if hi > last_index + 1. */
    int (*entries)(void *ctx, uint64_t lo, uint64_t hi, uint64_t max_size, raft_entries *out);
    /* Term of index i, for first_index - 1 <= i <= last_index; RAFT_ECOMPACTED below,
     * RAFT_EUNAVAILABLE above. */
    int (*term)(void *ctx, uint64_t i, uint64_t *term);
    uint64_t (*first_index)(void *ctx);
    uint64_t (*last_index)(void *ctx);
    /* The most recent snapshot, with index >= request_index when the storage can do that.
     * On BS_OK *out holds references the node releases. RAFT_ESNAP_TEMP when not ready. */
    int (*snapshot)(void *ctx, uint64_t request_index, raft_snapshot *out);
} raft_storage_ops;

typedef struct raft_storage {
    const raft_storage_ops *ops;
    void *ctx;
} raft_storage;

/* In-memory storage for tests and benches. Starts with an empty log (first index 1) and
 * the given conf state. Caller owns; free with raft_memstorage_free (accepts NULL). */
typedef struct raft_memstorage raft_memstorage;
raft_memstorage *raft_memstorage_new(const raft_conf_state *cs);
void raft_memstorage_free(raft_memstorage *ms);
raft_storage raft_memstorage_storage(raft_memstorage *ms);
void raft_memstorage_set_hard_state(raft_memstorage *ms, const raft_hard_state *hs);
/* Appends (truncating any conflicting suffix); takes new references on the entries.
 * Entries at or below the compaction point are skipped. */
void raft_memstorage_append(raft_memstorage *ms, const raft_entry *ents, size_t n);
/* Replaces the whole log with the snapshot (if it is newer than the current one). */
void raft_memstorage_apply_snapshot(raft_memstorage *ms, const raft_snapshot *s);
/* Records a snapshot at index i (<= last index) with conf state cs and data. */
int raft_memstorage_create_snapshot(raft_memstorage *ms, uint64_t i, const raft_conf_state *cs,
                                    bs_slice data, bs_err *err);
/* Discards entries before index i (i <= last index). */
int raft_memstorage_compact(raft_memstorage *ms, uint64_t i, bs_err *err);
void raft_memstorage_hard_state(const raft_memstorage *ms, raft_hard_state *out);
/* Borrowed; valid until the next call on ms. */
const raft_snapshot *raft_memstorage_snapshot_ref(const raft_memstorage *ms);
/* Sets the conf state reported by initial_state (owners record applied conf changes). */
void raft_memstorage_set_conf_state(raft_memstorage *ms, const raft_conf_state *cs);
/* Optional: called when the node asks for a snapshot, before the stored one is returned,
 * so an owner can cut a fresh one (as TiKV generates snapshots on demand). A snapshot
 * older than the follower's membership would be refused by it. */
typedef void (*raft_memstorage_gen_fn)(void *ctx, raft_memstorage *ms, uint64_t request_index);
void raft_memstorage_set_snapshot_gen(raft_memstorage *ms, raft_memstorage_gen_fn fn, void *ctx);

/* ---- the node ----------------------------------------------------------------------- */

typedef enum raft_role {
    RAFT_FOLLOWER = 0,
    RAFT_CANDIDATE = 1,
    RAFT_LEADER = 2,
    RAFT_PRE_CANDIDATE = 3,
} raft_role;
const char *raft_role_name(raft_role r);

typedef enum raft_read_only_option {
    RAFT_READ_SAFE = 0,  /* ReadIndex: confirm leadership with a heartbeat round */
    RAFT_READ_LEASE = 1, /* serve from the lease when valid (needs check_quorum), else Safe */
} raft_read_only_option;

typedef void (*raft_trace_fn)(void *ctx, const char *line);

typedef struct raft_config {
    uint64_t id;               /* this node, != RAFT_NONE */
    int election_tick;         /* > heartbeat_tick; a follower campaigns after [et, 2et) ticks */
    int heartbeat_tick;        /* leader heartbeat interval, >= 1 */
    uint64_t applied;          /* last applied index when restarting (0 for a new node) */
    uint64_t max_size_per_msg; /* bytes of entry data per MsgAppend; 0 = one entry */
    size_t max_inflight_msgs;  /* MsgAppend in flight per follower (>= 1) */
    uint64_t max_uncommitted_size;         /* leader's bytes proposed, not yet committed; 0 = inf */
    uint64_t max_committed_size_per_ready; /* 0 = unlimited */
    bool check_quorum; /* leader steps down without a quorum for an election timeout */
    bool pre_vote;     /* campaign with a PreVote round first */
    raft_read_only_option read_only;
    uint64_t seed;       /* for randomized election timeouts */
    raft_trace_fn trace; /* may be NULL */
    void *trace_ctx;
    raft_storage storage; /* borrowed; must outlive the node */
} raft_config;

/* Fills the defaults: election 10, heartbeat 1, 1 MiB per message, 256 in flight, no
 * uncommitted limit, check_quorum and pre_vote on, Safe reads. */
void raft_config_default(raft_config *c);

typedef struct raft_node raft_node;

/* Creates a node from the storage's state. Returns BS_OK and *out (caller owns; free with
 * raft_free), BS_EINVAL with err set for a bad config, or BS_ECORRUPT when the stored hard
 * state contradicts the log. Bootstrap members start with the initial conf state in their
 * storage (at a non-zero index, as TiKV bootstraps Regions); a node joining later starts
 * with empty storage and is caught up by a snapshot, which carries the config it needs. */
int raft_new(const raft_config *c, raft_node **out, bs_err *err);
void raft_free(raft_node *r); /* accepts NULL */

/* Feeds a message from a peer (or a local one: HUP, BEAT, UNREACHABLE, SNAP_STATUS).
 * m is borrowed for the call. Returns BS_OK; messages of older terms and messages the
 * current role does not expect are ignored, as Raft specifies, and still return BS_OK.
 * BS_ECORRUPT for a malformed message (to/from unset, entries out of order). */
int raft_step(raft_node *r, const raft_msg *m, bs_err *err);

/* One logical clock tick. */
void raft_tick(raft_node *r);
/* Starts an election now (as if the election timer fired). */
void raft_campaign(raft_node *r);

/* Appends a normal entry with a copy of data to the leader's log. Returns BS_OK and the
 * entry's index in *index (may be NULL); BS_ENOT_LEADER when not leader (err names the
 * known leader); BS_EPROPOSAL_DROPPED during a leader transfer or when the uncommitted
 * log would exceed max_uncommitted_size. */
int raft_propose(raft_node *r, bs_slice data, uint64_t *index, bs_err *err);
/* Same for n entries at once; all or none are appended. */
int raft_propose_batch(raft_node *r, const bs_slice *data, size_t n, uint64_t *last_index,
                       bs_err *err);
/* Proposes a membership change. BS_EPROPOSAL_DROPPED if another change is pending (not yet
 * applied), if it would enter a joint config while joint, leave one while not joint, or
 * change more than one voter without joint consensus; BS_EINVAL for too many ids. */
int raft_propose_conf_change(raft_node *r, const raft_conf_change *cc, bs_err *err);
/* Applies a committed conf change entry (decoded) and returns the new conf state in *cs
 * (may be NULL). The owner must call this when it applies the entry, in log order; this
 * is the one call allowed between raft_ready_get() and raft_advance().
 * BS_EINVAL if the change is not valid against the current config (the entry is then a
 * no-op, as in etcd). */
int raft_apply_conf_change(raft_node *r, const raft_conf_change *cc, raft_conf_state *cs,
                           bs_err *err);

/* Requests a linearizable read. ctx (copied) identifies the request: a Ready later carries
 * a read state {index, ctx}; the read may be served once applied >= index.
 * BS_ENOT_LEADER when no leader is known. */
int raft_read_index(raft_node *r, bs_slice ctx, bs_err *err);

/* Asks the leader to hand leadership to `to`. BS_ENOT_LEADER on a non-leader, BS_EINVAL
 * for self or a non-voter. Proposals are refused until the transfer ends (success or an
 * election timeout). */
int raft_transfer_leader(raft_node *r, uint64_t to, bs_err *err);

/* The owner tells the leader what happened to a snapshot it sent, or that a peer could not
 * be reached. The owner must report the outcome of every MsgSnapshot it was given:
 * until then the peer gets no appends (it is waiting for the snapshot). */
void raft_report_snapshot(raft_node *r, uint64_t to, bool failed);
void raft_report_unreachable(raft_node *r, uint64_t to);

/* ---- Ready -------------------------------------------------------------------------- */

typedef struct raft_soft_state {
    uint64_t leader_id;
    raft_role role;
} raft_soft_state;

typedef struct raft_read_state {
    uint64_t index;
    bs_slice ctx; /* borrowed until raft_advance */
} raft_read_state;

typedef struct raft_ready {
    /* Ownership: every pointer below is borrowed from the node and valid until
     * raft_advance(); the owner frees nothing. To keep a message past that (a transport
     * queue), raft_msg_clone() it; to keep an entry, raft_entry_ref() it. */
    bool has_ss; /* soft state changed since the last Ready (not persisted) */
    raft_soft_state ss;
    bool has_hs; /* hard state changed: persist it with the entries */
    raft_hard_state hs;
    const raft_snapshot *snapshot; /* install first (storage + state machine); or NULL */
    const raft_entry *entries;     /* append to storage, replacing any suffix from
                                    * entries[0].index; persist before persisted_msgs */
    size_t n_entries;
    const raft_msg *msgs; /* may be sent before anything is persisted */
    size_t n_msgs;
    const raft_msg *persisted_msgs; /* send only after snapshot/entries/hs are durable */
    size_t n_persisted_msgs;
    const raft_entry *committed; /* apply in order, after persisting */
    size_t n_committed;
    const raft_read_state *read_states; /* serve each once applied >= its index */
    size_t n_read_states;
    bool must_sync; /* entries, snapshot or term/vote changed: fsync */
} raft_ready;

bool raft_has_ready(const raft_node *r);
/* Fills *rd (all borrowed, see the file comment). Requires no Ready outstanding. */
void raft_ready_get(raft_node *r, raft_ready *rd);
/* Ends the Ready: everything in it is persisted, sent and applied. */
void raft_advance(raft_node *r, const raft_ready *rd);

/* ---- inspection --------------------------------------------------------------------- */

typedef struct raft_status {
    uint64_t id, term, vote, lead, commit, applied, last_index, first_index;
    raft_role role;
    uint64_t lead_transferee;
    uint64_t uncommitted_size;
} raft_status;
void raft_get_status(const raft_node *r, raft_status *st);
/* The current configuration, as a conf state. */
void raft_get_conf_state(const raft_node *r, raft_conf_state *cs);
/* Whether this leader holds a valid lease now (always false unless RAFT_READ_LEASE). */
bool raft_lease_valid(const raft_node *r);

#endif
