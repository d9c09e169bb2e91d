/* sim.h -- a deterministic simulated cluster of raft nodes, for tests.
 *
 * Everything that varies comes from one seed: message drop, delay, duplication and
 * reordering, symmetric and one-way partitions, crashes (optionally in the middle of a
 * Ready, losing what was not yet persisted) and restarts from persisted storage, leader
 * transfers, membership changes, snapshots with log compaction, client writes and
 * ReadIndex reads. The owner side of every node follows the raft.h contract literally
 * (send rd.msgs, install snapshot, persist, send persisted_msgs, apply, advance) and its
 * state machine (a register plus a running hash of applied entries) is durable together
 * with its applied index, as cluster/ keeps its apply state.
 *
 * After every step the invariants are checked: one leader per term, log matching
 * (same index and term => same entry and same predecessor), leader completeness, every
 * applied sequence a prefix of one history, and reads no older than the last write
 * acknowledged before they began. A run then heals every fault and requires a leader
 * and a fresh commit within a bounded number of ticks. */
#ifndef BASALT_TESTS_RAFT_SIM_H
#define BASALT_TESTS_RAFT_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "raft/raft.h"

typedef struct sim_opts {
    uint64_t seed;
    int nodes;       /* 3 or 5 initial voters (ids 1..nodes) */
    int steps;       /* chaotic steps before healing */
    int heal_ticks;  /* liveness bound after healing */
    bool lease;      /* RAFT_READ_LEASE instead of Safe */
    bool membership; /* allow conf changes (adds spare ids nodes+1, nodes+2) */
    bool verbose;    /* print the full trace as it happens */
    FILE *out;       /* where failures and traces go (stderr when NULL) */
} sim_opts;

typedef struct sim_stats {
    uint64_t steps, ticks, writes_acked, reads_checked, leaders, crashes, snapshots, conf_changes,
        transfers, msgs;
} sim_stats;

/* Runs one seed. Returns true when every invariant held and the healed cluster made
 * progress; on failure prints the seed, the violation, the recent trace and how to
 * replay it. */
bool sim_run(const sim_opts *o, sim_stats *st);

#endif
