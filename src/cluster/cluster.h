/* cluster.h -- the store: Regions, their Raft peers, the raftstore loop, raft log storage and
 * the store-to-store transport. The contract every other module sees of src/cluster/.
 *
 * Status.
 *   Implemented: raft storage over CF raft (log, hard state, apply state, region state,
 *   store ident; an in-memory cache of recent entries); peers (proposal encoding, a pending
 *   queue keyed by (term, index), apply of data + apply state in one engine write, stale
 *   and lost-leadership failures in log order); the raftstore thread (ticks, MPSC proposal
 *   and message queues, group commit: one synced write per round for every Region, then
 *   send, apply, callbacks; fsync/round/proposal counters and latency histograms; the
 *   "synced >= acknowledged" invariant asserted); the transport interface and an in-memory
 *   transport; store open (ident from PD, cluster bootstrap through PD, restart reload and
 *   re-apply), proposals (txn/ binds its proposer to them), region lookup, lease read
 *   check and async ReadIndex (lease or quorum round, lease_read); region errors; log GC
 *   through a replicated CompactLog command; Region split as TiKV does it (bytes written
 *   per Region, periodic split check on a worker thread scanning CFs default/write/lock,
 *   user-key split points, AskBatchSplit, one BatchSplit entry applied atomically on every
 *   replica with right-derive and TiKV's epoch rules, new peers started and campaigned,
 *   ReportBatchSplit; pending writes of the old epoch fail with EpochNotMatch) and manual
 *   split (cluster_store_split_region); PD region heartbeats from every leader (periodic,
 *   on election, after a split) and store heartbeats (region count, capacity), registering
 *   the store with PD when it opened before PD was bootstrapped; on_role_change.
 *   Tested: raft storage round trip and restart, one-store bootstrap/puts/restart,
 *   group commit counters, region errors (RegionNotFound, EpochNotMatch, KeyNotInRegion,
 *   ServerIsBusy), log GC, ReadIndex (lease and quorum paths, failure on step-down);
 *   automatic and manual splits on one store (tiling, epochs, PD's view, routing, data,
 *   EpochNotMatch with the split Regions, restart, a batch split of a large Region) and on
 *   three stores (alike everywhere, a leader per new Region, old-epoch writes failing);
 *   heartbeats reaching PD; role changes; three stores over the in-memory transport
 *   (replication, re-election, catch-up after restart, NotLeader, RaftEntryTooLarge, an
 *   isolated leader losing its lease and stepping down).
 *   Not yet: raft snapshots (a peer that falls behind the leader's compacted log cannot
 *   catch up; GC never compacts past the slowest follower it has heard from), conf change
 *   and PD operators (heartbeat responses are ignored), Region merge, peer creation from
 *   messages (a message for a Region not here is kept a few election timeouts, enough for
 *   a split's followers), the gRPC transport, leader count in PD's store stats (pd_store_
 *   stats has no field; it is in cluster_store_stats), load-based split.
 *
 * Model (TiKV's raftstore). A store owns one kv_engine holding data and Raft state (CF
 * raft), so an apply and its apply state commit in one atomic write. Every Region on the
 * store has one peer: Region metadata plus a raft_node. One raftstore thread drives all
 * peers: it ticks them, steps incoming messages, proposes queued commands, then collects the
 * Ready of every peer with work and writes all their entries and hard states in ONE synced
 * write batch (group commit), sends messages, applies committed entries and finally calls
 * proposal callbacks. Other threads only enqueue (proposals, messages, reads) and read a
 * published view of each peer (leader, epoch, lease) under the store lock; they never touch
 * the disk or a raft_node. A second thread, the store's worker, does what may take long
 * or wait on PD's disk: split-check scans and every PD call (AskBatchSplit,
 * ReportBatchSplit, heartbeats); it only reads the engine and queues results back to the
 * raftstore, which alone proposes.
 *
 * Thread affinity: unless a function says otherwise it may be called from any thread.
 * Callbacks (proposal, read index and split done; on_role_change) run on the raftstore
 * thread (except those a closing store fails: on the closing thread); they must not
 * block, and they may call back into this API (propose again) since no store lock is held
 * while they run. */
#ifndef BASALT_CLUSTER_CLUSTER_H
#define BASALT_CLUSTER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "pd/pd.h"
#include "raft/raft.h"
#include "storage/kv.h"

/* Region metadata is metapb.Region: id, [start_key, end_key) as region keys (MCE-encoded,
 * PROTOCOL.md §4.3; empty end = +inf), epoch and peers. PD's value type is that exactly. */
typedef pd_region cluster_region;
typedef pd_peer cluster_peer;
typedef pd_region_epoch cluster_epoch;

/* Completion of a proposal: code BS_OK once applied, or why it never will be. err is
 * borrowed for the call (NULL when code is BS_OK). Runs on the raftstore thread and must
 * not block. Same shape as txn.h's txn_proposal_done_fn, so txn/ can hand its callbacks
 * straight through (cluster/ sits below txn/ and does not include it). */
typedef void (*cluster_proposal_done_fn)(void *done_arg, int code, const bs_err *err);

/* ======================================================================================
 * Region errors (errorpb.Error's region-level variants)
 * ==================================================================================== */

typedef enum cluster_region_error_kind {
    CLUSTER_RERR_NONE = 0,
    CLUSTER_RERR_NOT_LEADER,           /* code BS_ENOT_LEADER */
    CLUSTER_RERR_REGION_NOT_FOUND,     /* BS_NOTFOUND */
    CLUSTER_RERR_KEY_NOT_IN_REGION,    /* BS_ERANGE */
    CLUSTER_RERR_EPOCH_NOT_MATCH,      /* BS_ESTATE */
    CLUSTER_RERR_SERVER_IS_BUSY,       /* BS_EBUSY */
    CLUSTER_RERR_STALE_COMMAND,        /* BS_EPROPOSAL_DROPPED */
    CLUSTER_RERR_RAFT_ENTRY_TOO_LARGE, /* BS_ETOOLARGE */
} cluster_region_error_kind;

/* A region error with the data a client needs to act on it. Owns everything it points to:
 * cluster_region_error_init / _deinit. */
typedef struct cluster_region_error {
    cluster_region_error_kind kind;
    uint64_t region_id;
    /* NOT_LEADER: the leader peer when known (has_leader). */
    bool has_leader;
    cluster_peer leader;
    /* KEY_NOT_IN_REGION: the key and the region's bounds (owned copies). */
    bs_buf key, start_key, end_key;
    /* EPOCH_NOT_MATCH: the current region(s) (owned; n_regions entries). */
    cluster_region *regions;
    size_t n_regions;
    /* SERVER_IS_BUSY: reason text. */
    char reason[96];
    /* RAFT_ENTRY_TOO_LARGE: the entry size and the configured limit. */
    uint64_t entry_size, entry_max_size;
} cluster_region_error;

void cluster_region_error_init(cluster_region_error *e);
void cluster_region_error_deinit(cluster_region_error *e); /* frees, re-inits; e may be NULL */
/* The bs_err code that goes with a kind (listed above); BS_OK for NONE. */
int cluster_region_error_code(cluster_region_error_kind k);
const char *cluster_region_error_kind_name(cluster_region_error_kind k);

/* ======================================================================================
 * Transport
 * ==================================================================================== */

/* raft_serverpb.RaftMessage, the subset Basalt uses. In a send call everything is borrowed
 * for the call: a transport that queues the message must copy it, bytes included
 * (raft_msg_clone shares entry bytes through non-atomic counts: not across threads). */
typedef struct cluster_raft_message {
    uint64_t region_id;
    cluster_peer from_peer, to_peer;
    cluster_epoch epoch;
    raft_msg msg;
} cluster_raft_message;

typedef struct cluster_transport cluster_transport;
/* A transport moves raft messages between stores. send is called on the raftstore thread
 * and must not block (queue and return). Delivery is best effort: Raft retries. */
typedef struct cluster_transport_vtbl {
    /* Sends m (borrowed for the call) to store to_store_id. BS_OK when queued, or an error
     * (unknown or unreachable store); the caller reports the peer unreachable to raft. */
    int (*send)(cluster_transport *t, uint64_t to_store_id, const cluster_raft_message *m);
} cluster_transport_vtbl;
struct cluster_transport {
    const cluster_transport_vtbl *vt;
};

typedef struct cluster_store cluster_store;

/* In-memory transport for tests: stores of one process, delivered by
 * cluster_store_deliver(). Caller owns; free with cluster_transport_mem_free (after every
 * store using it is closed). */
cluster_transport *cluster_transport_mem_new(void);
void cluster_transport_mem_free(cluster_transport *t); /* t may be NULL */
/* Registers store (borrowed) under its id; NULL unregisters. Call unregister before
 * closing a store. */
void cluster_transport_mem_register(cluster_transport *t, uint64_t store_id, cluster_store *s);
/* While down, every message to or from store_id is dropped (a stopped or isolated store). */
void cluster_transport_mem_set_down(cluster_transport *t, uint64_t store_id, bool down);
/* Number of messages dropped so far (test observability). */
uint64_t cluster_transport_mem_dropped(cluster_transport *t);

/* ======================================================================================
 * Store
 * ==================================================================================== */

typedef struct cluster_store_options {
    kv_engine *engine;            /* borrowed; outlives the store; holds data and CF raft */
    pd_core *pd;                  /* borrowed; in-process PD */
    cluster_transport *transport; /* borrowed; may be NULL for a one-store cluster */
    const char *address;          /* store address registered with PD; NULL: "store-<id>" */
    bool bootstrap;               /* bootstrap the cluster when PD is not (default true) */
    uint64_t tick_interval_ms;    /* [raftstore] raft-base-tick-interval (default 1000) */
    int heartbeat_ticks;          /* raft-heartbeat-ticks (2) */
    int election_ticks;           /* raft-election-timeout-ticks (10) */
    uint64_t raft_entry_max_size; /* raft-entry-max-size (512 MiB) */
    uint64_t max_size_per_msg;    /* raft-max-size-per-msg (1 MiB) */
    size_t max_inflight_msgs;     /* raft-max-inflight-msgs (256) */
    uint64_t log_gc_threshold;    /* raft-log-gc-threshold (50 entries) */
    uint64_t log_gc_count_limit;  /* raft-log-gc-count-limit: compact even past a silent
                                   * follower beyond this many entries (73728) */
    uint64_t log_gc_tick_ticks;   /* base ticks between GC checks (3) */
    uint64_t log_gc_size_limit;   /* raft-log-gc-size-limit: a log this large (bytes) is
                                   * compacted at once, not at the next GC tick (72 MiB);
                                   * 0: only the tick */
    size_t max_pending_proposals; /* queued proposals before ServerIsBusy (65536) */
    bool lease_read;              /* serve reads from the leader lease (default true). false:
                                   * every ReadIndex confirms leadership with a heartbeat
                                   * round (etcd's ReadOnlySafe) and read_check always
                                   * answers BS_EBUSY; for tests and clock-wary operators */

    /* Region split (TiKV's split checker, PROTOCOL.md §3.5). Every peer counts the bytes
     * (key + value) its applied writes add; on each split-check tick a leader whose Region
     * grew by split_check_diff since its last check (or that was never measured since the
     * store opened or the Region was created) scans the Region on the store's worker
     * thread, summing every key and value of CFs default, write and lock. A Region larger
     * than region_max_size is cut at user-key boundaries into pieces of about
     * region_split_size (the last piece is kept only if it holds at least
     * region_max_size - region_split_size; at most batch_split_limit keys per split), the
     * worker asks PD for ids (AskBatchSplit) and the leader proposes one BatchSplit entry.
     * The Region id keeps the right-most piece (right-derive-when-split = true). A Region
     * between the two sizes stays whole, as in TiKV; region_max_size = region_split_size
     * splits as soon as a Region passes the split size. */
    uint64_t region_split_size;   /* [coprocessor] region-split-size (96 MiB); > 0 */
    uint64_t region_max_size;     /* [coprocessor] region-max-size (144 MiB); 0 = 3/2 of
                                   * region_split_size; must be >= region_split_size */
    uint64_t split_check_diff;    /* [raftstore] region-split-check-diff: growth that makes
                                   * a Region due for a check (0 = region_split_size / 16) */
    uint64_t split_check_tick_ms; /* [raftstore] split-region-check-tick-interval (10 s);
                                   * 0 = never check (no automatic split) */
    uint32_t batch_split_limit;   /* most split keys one check proposes (10, TiKV's
                                   * batch-split-limit); > 0 */

    /* PD heartbeats, sent from the store's worker thread. Every leader reports its Region
     * (leader, term, approximate size and keys from the last split check, bytes and keys
     * written since its previous report) every pd_heartbeat_tick_ms, and at once when it
     * becomes leader or applies a split. The store reports its stats (region count,
     * capacity and available bytes of the data directory's file system, bytes written)
     * every pd_store_heartbeat_tick_ms. 0 disables the periodic reports. No config key:
     * TiKV's pd-heartbeat-tick-interval / pd-store-heartbeat-tick-interval are not in
     * Basalt's schema yet. */
    uint64_t pd_heartbeat_tick_ms;       /* 60000 */
    uint64_t pd_store_heartbeat_tick_ms; /* 10000 */

    /* Called on the raftstore thread when a peer of this store becomes leader (is_leader
     * true) or stops being leader; the server flushes its causal timestamp source and syncs
     * max_ts then (TiKV's leader-change observer). It runs after the round that saw the
     * change has published its view (cluster_store_peer_status already reports the new
     * role), with no store lock held, in order with the round's proposal callbacks. Must
     * not block; may call this API. NULL = none. Not called when the store closes. */
    void (*on_role_change)(void *arg, uint64_t region_id, bool is_leader);
    void *role_change_arg;        /* borrowed; passed to on_role_change */
} cluster_store_options;

/* Fills the defaults above (engine, pd, transport, on_role_change NULL). */
void cluster_store_options_init(cluster_store_options *o);
struct bs_config;
/* Copies the [raftstore] and [coprocessor] settings from cfg (borrowed) into o: tick,
 * heartbeat and election ticks, entry and message sizes, in-flight messages, log GC,
 * region-split-size, region-max-size, region-split-check-diff and
 * split-region-check-tick-interval. As TiKV derives region-max-size (3/2 of the split size)
 * and region-split-check-diff (1/16 of it) when they are not set, a value equal to the
 * schema default is taken as "not set" when region-split-size is not its default. */
void cluster_store_options_from_config(cluster_store_options *o, const struct bs_config *cfg);

/* Opens the store over opts->engine. A new directory gets a store id from PD (AllocID) and
 * PD's cluster id, persisted as the store ident (CF raft, key 01 01); when PD is not
 * bootstrapped and opts->bootstrap, it bootstraps the first Region (all keys, one peer on
 * this store) locally and through PD's Bootstrap (ALREADY_BOOTSTRAPPED means another store
 * won: the local Region is removed). A restart reloads every Region's region, raft and apply
 * state and re-applies committed entries from the applied index. Then it registers the
 * store with PD (PutStore, once bootstrapped; otherwise its first store heartbeat after
 * PD's bootstrap does) and starts the worker and raftstore threads.
 * opts is copied. Returns BS_OK and *out (caller owns; cluster_store_close), BS_EINVAL for
 * bad options, BS_ECORRUPT for undecodable persisted state, BS_ESTATE when the ident's
 * cluster id is not PD's, or an engine/PD error. Must not race with other calls. */
int cluster_store_open(const cluster_store_options *opts, cluster_store **out, bs_err *err);

/* Stops the raftstore and worker threads, fails every pending proposal, read and manual
 * split (BS_EPROPOSAL_DROPPED, StaleCommand; these callbacks run on the calling thread),
 * drops queued PD reports and frees the store. Nothing is written. Unregister the store
 * from its transport first. s may be NULL. Must not be called from a store callback. */
void cluster_store_close(cluster_store *s);

uint64_t cluster_store_id(const cluster_store *s);
uint64_t cluster_store_cluster_id(const cluster_store *s);

/* Creates a peer of region (borrowed, copied) on this store in its initial state (raft log
 * at index 5, term 5, the region's peers as the voters), as TiKV's test clusters prepare
 * every store of a bootstrapped Region. For multi-store tests and tooling; the Region must
 * include a peer on this store and must not exist here. BS_OK, BS_EEXIST, BS_EINVAL, or an
 * engine error. Waits (bounded by the raftstore's round) until the raftstore owns it. */
int cluster_store_create_region(cluster_store *s, const cluster_region *region, bs_err *err);

/* Delivers a raft message from the transport (m borrowed; deep-copied into the incoming
 * queue: nothing of it is shared with the caller's thread afterwards). Never blocks on
 * disk: safe on a network thread. A message for a Region not on this store is kept for a
 * few election timeouts (at most 1024 such), in case a split applying here creates the
 * Region (its new leader campaigns before the followers have split), then dropped: peer
 * creation from messages needs snapshots, not there yet. */
void cluster_store_deliver(cluster_store *s, const cluster_raft_message *m);

/* ---- regions ------------------------------------------------------------------------- */

/* Copies the Region containing region key `key` into *out (initialised by the caller;
 * replaced). Data keys of CFs default/lock/write (MCE(key) ‖ ts) may be passed too: a split
 * never falls between versions (split keys are MCE(key), and MCE is prefix-free). BS_OK or
 * BS_NOTFOUND. Linear in the number of Regions. */
int cluster_store_region_by_key(cluster_store *s, bs_slice key, cluster_region *out);
/* Copies Region region_id into *out. BS_OK or BS_NOTFOUND. */
int cluster_store_region_by_id(cluster_store *s, uint64_t region_id, cluster_region *out);
/* Number of Regions (peers) on the store. */
size_t cluster_store_region_count(cluster_store *s);

typedef struct cluster_peer_status {
    bool is_leader;
    uint64_t leader_peer_id; /* 0 = unknown */
    uint64_t term, commit, applied;
    uint64_t first_index, last_index; /* raft log kept in storage: [first, last] */
    uint64_t truncated_index;
    /* The last split check's measurement of the Region's current range (false until one
     * finished since open or the last split): key + value bytes of CFs default, write and
     * lock, and distinct keys. */
    bool size_known;
    uint64_t approximate_size, approximate_keys;
} cluster_peer_status;
/* A snapshot of the peer's published state. BS_OK or BS_NOTFOUND. */
int cluster_store_peer_status(cluster_store *s, uint64_t region_id, cluster_peer_status *out);

/* Asks the peer to campaign now (tests, leader placement). BS_OK or BS_NOTFOUND. */
int cluster_store_campaign(cluster_store *s, uint64_t region_id);

/* ---- proposals ------------------------------------------------------------------------ */

/* Proposes batch as one Raft entry of Region region_id (the contract of txn.h's proposer).
 *  - Checks (TiKV's order): Region here (RegionNotFound), leader (NotLeader with the leader
 *    when known), epoch.version == current (EpochNotMatch with the current Region first,
 *    then the Regions split off it since the caller's epoch, as TiKV adds the split's
 *    siblings), every key inside the Region (KeyNotInRegion), queue room or a Region in
 *    the middle of a split or of failing proposals (ServerIsBusy: retry), encoded entry
 *    size <= raft-entry-max-size (RaftEntryTooLarge). Any failure returns the kind's code
 *    (see cluster_region_error_kind), fills *rerr (may be NULL; caller initialised,
 *    replaced) and err; the caller keeps batch and done is never called.
 *  - On BS_OK the store takes ownership of batch (freed once encoded) and calls
 *    done(done_arg, code, err) exactly once on the raftstore thread: BS_OK after the entry
 *    is committed and applied (data and apply state written), or an error when it never
 *    will be: BS_EPROPOSAL_DROPPED (stale command: the term moved, leadership was lost, the
 *    store closed), BS_ENOT_LEADER, BS_ESTATE (EpochNotMatch: a split applied after this
 *    batch was accepted; its keys may belong to another Region now, so it is not applied
 *    and fails when the split applies, as TiKV checks the epoch again at apply).
 *  - Order: batches accepted for one Region are applied in acceptance order; when one fails,
 *    every batch accepted after it for that Region fails too.
 *  - Never blocks on disk or network. */
int cluster_store_propose(cluster_store *s, uint64_t region_id, const cluster_epoch *epoch,
                          kv_batch *batch, cluster_proposal_done_fn done, void *done_arg,
                          cluster_region_error *rerr, bs_err *err);

/* Splits Region region_id at keys[0..n) (TiKV's SplitRegion; PD's split operator): region
 * keys (MCE form, as Region bounds are), strictly ascending and strictly inside the
 * Region; borrowed, copied. Same synchronous checks as propose (RegionNotFound, NotLeader,
 * EpochNotMatch; KeyNotInRegion for a key outside the Region or on its start), plus
 * BS_EINVAL for n == 0, n > 10000, keys out of order or done NULL; done is then never
 * called. On BS_OK the store asks PD for the new ids on its worker thread, proposes one
 * BatchSplit and calls done(done_arg, code, err) exactly once on the raftstore thread:
 * BS_OK once this store applied it (the new Regions exist here), or an error: PD's
 * (no ids), BS_ESTATE (the Region changed first), BS_ENOT_LEADER or BS_EPROPOSAL_DROPPED
 * (leadership lost, store closed). Never blocks on disk or network. */
int cluster_store_split_region(cluster_store *s, uint64_t region_id, const cluster_epoch *epoch,
                               const bs_slice *keys, size_t n, cluster_proposal_done_fn done,
                               void *done_arg, cluster_region_error *rerr, bs_err *err);

/* ---- reads ---------------------------------------------------------------------------- */

/* May a read of `key` (a region or data key; empty = no key check) in Region region_id at
 * epoch be served from the local engine now? BS_OK when this peer is the leader and holds a
 * valid lease (reads are linearizable). Otherwise a region error as for propose
 * (RegionNotFound, NotLeader, EpochNotMatch, KeyNotInRegion), or BS_EBUSY with kind NONE
 * when this peer leads but its lease is not valid: use cluster_store_read_index. */
int cluster_store_read_check(cluster_store *s, uint64_t region_id, const cluster_epoch *epoch,
                             bs_slice key, cluster_region_error *rerr, bs_err *err);

/* Called once when a ReadIndex completes: BS_OK once the local apply has reached the
 * leader's commit index at the time of the request (a read of the engine now is
 * linearizable), or an error (BS_ENOT_LEADER, BS_EPROPOSAL_DROPPED when leadership was lost
 * or the store closed). Runs on the raftstore thread; must not block. */
typedef void (*cluster_read_done_fn)(void *arg, int code, const bs_err *err);
/* Starts a ReadIndex on Region region_id. Same synchronous errors as read_check (no lease
 * check); on BS_OK done is called exactly once later. */
int cluster_store_read_index(cluster_store *s, uint64_t region_id, const cluster_epoch *epoch,
                             cluster_read_done_fn done, void *arg, cluster_region_error *rerr,
                             bs_err *err);

/* ---- observability --------------------------------------------------------------------- */

typedef struct cluster_store_stats {
    uint64_t rounds;             /* raftstore rounds that did any work */
    uint64_t fsyncs;             /* synced raft write batches */
    uint64_t proposals;          /* entries proposed to raft */
    uint64_t proposals_synced;   /* local proposals whose entry a finished sync covers */
    uint64_t proposals_acked;    /* proposals acknowledged (done with BS_OK). Invariant
                                  * (asserted): proposals_synced >= proposals_acked */
    uint64_t proposals_failed;   /* done with an error */
    uint64_t entries_applied;
    uint64_t log_gc_compactions; /* CompactLog commands applied */
    uint64_t messages_sent, messages_received;
    uint64_t regions;            /* peers on the store (as of the last round) */
    uint64_t leaders;            /* of which lead their Region */
    uint64_t splits;             /* BatchSplit commands applied (on any peer) */
    uint64_t split_checks;       /* split checks scheduled by leaders */
    uint64_t bytes_written;      /* key + value bytes of applied writes (all peers) */
} cluster_store_stats;
/* The counters as of the last raftstore round that did work (a published copy). */
void cluster_store_get_stats(cluster_store *s, cluster_store_stats *out);

#endif
