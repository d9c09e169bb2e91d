/* net.h -- a small synchronous cluster for scenario tests: every message is delivered in
 * order unless a node is down or a link is cut, and net_stabilize() runs Ready/deliver
 * rounds until nothing moves. Owners persist to raft_memstorage, apply conf changes and
 * record read states exactly as raft.h asks. Tests that need chaos use sim.h instead. */
#ifndef BASALT_TESTS_RAFT_NET_H
#define BASALT_TESTS_RAFT_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "raft/raft.h"

#define NET_MAX 8

typedef struct net {
    int n;           /* ids 1..n */
    raft_config cfg; /* template; id, storage and seed are filled per node */
    raft_node *r[NET_MAX];
    raft_memstorage *ms[NET_MAX];
    bool down[NET_MAX];
    bool cut[NET_MAX][NET_MAX];
    bool hold; /* when set, messages stay queued until released by net_deliver */
    raft_msg *q;
    size_t nq, capq;
    uint64_t n_applied[NET_MAX];
    uint64_t last_applied_index[NET_MAX];
    raft_conf_state cs[NET_MAX];
    uint64_t rs_index[NET_MAX][32];
    uint8_t rs_ctx[NET_MAX][32];
    int n_rs[NET_MAX];
    uint64_t msgs_sent_before_persist, msgs_sent_after_persist;
    uint64_t apps_with_entries[NET_MAX]; /* MsgAppend carrying entries, per destination */
    size_t max_entries_per_app;
    uint64_t snaps_sent[NET_MAX];
    bool compact_on_apply; /* snapshot + compact storage at every applied index */
} net;

/* Voters 1..n in storage (the template may be NULL for defaults with pre_vote off). */
void net_init(net *nt, int n, const raft_config *tmpl);
/* Preload node id's storage with entries of the given terms at indexes 1..k, hard state
 * term; call before net_start. */
void net_set_log(net *nt, uint64_t id, const uint64_t *terms, int k, uint64_t term);
void net_start(net *nt);
void net_free(net *nt);
void net_process(net *nt);   /* one Ready per node that has one */
void net_deliver(net *nt);   /* deliver everything queued (dropping to down/cut nodes) */
void net_stabilize(net *nt); /* process + deliver until quiet */
void net_campaign(net *nt, uint64_t id);
void net_tick(net *nt, uint64_t id, int ticks); /* ticks one node, stabilizing each tick */
void net_tick_all(net *nt, int ticks);
void net_isolate(net *nt, uint64_t id);
void net_heal(net *nt);
void net_crash(net *nt, uint64_t id);
void net_restart(net *nt, uint64_t id, uint64_t applied);
int net_propose(net *nt, uint64_t id, const char *data);
uint64_t net_leader(const net *nt);
raft_status net_status(const net *nt, uint64_t id);
/* Whether the persisted logs of a and b are identical (index and term). */
bool net_logs_equal(net *nt, uint64_t a, uint64_t b);

#endif
