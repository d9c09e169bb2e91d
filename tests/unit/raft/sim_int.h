/* sim_int.h -- state and helpers shared by the simulation's files (sim.c: nodes, network
 * and the run; sim_check.c: the invariants; sim_actions.c: the fault and client actions).
 * Only tests/unit/raft/ includes it. */
#ifndef BASALT_TESTS_RAFT_SIM_INT_H
#define BASALT_TESTS_RAFT_SIM_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "raft/raft_int.h"
#include "sim.h"

#define MAXN 8 /* node ids 1..7 */
#define TRACE_LINES 300
#define TRACE_W 200

typedef struct sm_state {
    uint64_t applied;
    uint64_t hash;             /* rolling hash of every applied entry */
    uint64_t last_write_index; /* the register: index of the last write applied */
} sm_state;

typedef struct pending_read {
    uint64_t id;
    uint64_t index; /* 0 until the read state arrives */
    uint64_t acked_at_start;
} pending_read;

typedef struct node {
    uint64_t id;
    bool exists, up;
    raft_node *r;
    raft_memstorage *ms;
    sm_state sm;        /* durable, with the conf state, atomically at apply */
    raft_conf_state cs; /* as of sm.applied */
    pending_read reads[64];
    int n_reads;
    uint64_t leader_checked_term;
    struct sim *sim;
} node;

typedef struct qmsg {
    raft_msg m;
    uint64_t at;
    bool lost; /* dropped by the network; kept only to report a snapshot's failure */
} qmsg;

typedef struct hist_ent {
    uint64_t term, value, phash;
    bool set;
} hist_ent;

typedef struct lm_slot { /* log matching index: (index, term) -> (value, prev term) */
    uint64_t index, term, value, prev_term;
    bool used;
} lm_slot;

typedef struct sim {
    const sim_opts *o;
    sim_stats *st;
    uint64_t rng;
    node nodes[MAXN];
    int n_init, n_pool;
    qmsg *q;
    size_t nq, capq;
    bool cut[MAXN][MAXN]; /* cut[a][b]: messages a -> b are lost */
    int drop_pct, dup_pct, max_delay, midcrash_pct;
    bool reorder, pre_vote, check_quorum;
    uint64_t max_inflight, max_msg, max_uncommitted;
    uint64_t ticks, step;
    uint64_t next_wid, next_rid;
    hist_ent *hist;
    size_t cap_hist;
    uint64_t hist_max; /* highest index applied anywhere */
    uint64_t max_acked;
    lm_slot *lm;
    size_t cap_lm, n_lm;
    uint64_t *leader_of_term;
    size_t cap_terms;
    bool failed;
    char why[512];
    char trace[TRACE_LINES][TRACE_W];
    uint64_t n_trace;
    uint64_t probe;       /* an isolated old leader that reads are aimed at */
    uint64_t probe_until; /* step until which the probe lasts */
    uint64_t bounce;      /* a node to crash and restart at step bounce_at (0: none) */
    uint64_t bounce_at;
    uint64_t live_wid; /* the liveness write of the heal phase */
    bool live_done;
} sim;

/* sim.c: randomness (all of it from the seed), tracing, nodes, the network */
uint64_t sim_rnd(sim *s);
int sim_rint(sim *s, int n); /* uniform in [0, n) */
bool sim_chance(sim *s, int pct);
void sim_logf(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_fail(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t sim_mix(uint64_t h, uint64_t v);
uint64_t sim_entry_value(const raft_entry *e);
hist_ent *sim_hist_at(sim *s, uint64_t i);
void sim_node_start(sim *s, node *n);
void sim_node_create(sim *s, node *n, uint64_t id, const raft_conf_state *cs);
void sim_node_crash(sim *s, node *n, const char *how);
void sim_encode_sm(const sm_state *sm, uint8_t out[24]);
void sim_process_all(sim *s, bool may_crash);
node *sim_find_leader(sim *s);
node *sim_random_up(sim *s);
void sim_deliver(sim *s, raft_msg *m, bool lost);
bool sim_pop_msg(sim *s, raft_msg *out, bool *lost, bool random_pick);

/* sim_check.c: invariants */
void sim_check_log_matching(sim *s, uint64_t node_id, uint64_t index, uint64_t term, uint64_t value,
                            uint64_t prev_term, bool prev_known);
void sim_check_leaders(sim *s);

/* sim_actions.c: one step's action, and the pieces the run loop reuses */
void sim_pick_action(sim *s);
void sim_act_tick(sim *s);
void sim_heal(sim *s);
void sim_snapshot_gen(void *ctx, raft_memstorage *ms, uint64_t request_index);

#endif
