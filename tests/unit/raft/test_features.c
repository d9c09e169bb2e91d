/* test_features.c -- the features beyond the paper's core: the Ready contract, batching,
 * flow control, the uncommitted-size limit, ReadIndex and lease reads, leader transfer,
 * membership changes (simple and joint), snapshots, and the building blocks (quorum
 * arithmetic, conf change codec, memory storage). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "net.h"
#include "raft/raft_int.h"

static raft_config plain(void)
{
    raft_config c;
    raft_config_default(&c);
    c.pre_vote = false;
    c.check_quorum = false;
    return c;
}

static void elect(net *nt, uint64_t id)
{
    net_campaign(nt, id);
    assert_int_equal(net_leader(nt), id);
}

/* Followers' acks wait for persistence; the leader's appends need not. */
static void test_ready_persist_ordering(void **state)
{
    (void)state;
    raft_config c = plain();
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    elect(&nt, 1);
    assert_int_equal(raft_propose(nt.r[1], bs_slice_from_str("v"), NULL, NULL), BS_OK);
    raft_ready rd;
    raft_ready_get(nt.r[1], &rd);
    assert_int_equal(rd.n_entries, 1);
    assert_int_equal(rd.n_msgs, 2); /* MsgAppend to 2 and 3, sendable at once */
    assert_int_equal(rd.n_persisted_msgs, 0);
    assert_int_equal(rd.msgs[0].type, RAFT_MSG_APPEND);
    raft_msg to2;
    raft_msg_clone(&to2, rd.msgs[0].to == 2 ? &rd.msgs[0] : &rd.msgs[1]);
    raft_memstorage_append(nt.ms[1], rd.entries, rd.n_entries);
    raft_advance(nt.r[1], &rd);
    assert_int_equal(raft_step(nt.r[2], &to2, NULL), BS_OK);
    raft_msg_deinit(&to2);
    raft_ready_get(nt.r[2], &rd);
    assert_int_equal(rd.n_entries, 1);
    assert_int_equal(rd.n_msgs, 0);
    assert_int_equal(rd.n_persisted_msgs, 1); /* the ack promises the entry is durable */
    assert_int_equal(rd.persisted_msgs[0].type, RAFT_MSG_APPEND_RESP);
    assert_true(rd.must_sync);
    raft_memstorage_append(nt.ms[2], rd.entries, rd.n_entries);
    raft_advance(nt.r[2], &rd);
    net_free(&nt);

    /* A single node commits its entry only after persisting it. */
    raft_conf_state cs = {.voters = {1}, .n_voters = 1};
    raft_memstorage *ms = raft_memstorage_new(&cs);
    raft_config c1 = plain();
    c1.id = 1;
    c1.storage = raft_memstorage_storage(ms);
    raft_node *r;
    assert_int_equal(raft_new(&c1, &r, NULL), BS_OK);
    raft_campaign(r);
    raft_ready_get(r, &rd); /* the no-op, not yet committed */
    assert_int_equal(rd.n_entries, 1);
    assert_int_equal(rd.n_committed, 0);
    raft_memstorage_append(ms, rd.entries, rd.n_entries);
    raft_advance(r, &rd);
    assert_true(raft_has_ready(r));
    raft_ready_get(r, &rd);
    assert_int_equal(rd.n_committed, 1);
    raft_advance(r, &rd);
    raft_free(r);
    raft_memstorage_free(ms);
}

/* Many proposals between two Readies travel in one MsgAppend per follower. */
static void test_batching(void **state)
{
    (void)state;
    raft_config c = plain();
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    elect(&nt, 1);
    uint64_t before2 = nt.apps_with_entries[2], before3 = nt.apps_with_entries[3];
    bs_slice batch[50];
    for (int i = 0; i < 50; i++)
        batch[i] = bs_slice_from_str("0123456789");
    for (int i = 0; i < 4; i++)
        assert_int_equal(raft_propose_batch(nt.r[1], batch, 50, NULL, NULL), BS_OK);
    net_stabilize(&nt);
    assert_int_equal(nt.apps_with_entries[2] - before2, 1);
    assert_int_equal(nt.apps_with_entries[3] - before3, 1);
    assert_int_equal(nt.max_entries_per_app, 200);
    assert_int_equal(net_status(&nt, 3).commit, 201);
    assert_int_equal(nt.n_applied[3], 201);
    net_free(&nt);
}

/* max_committed_size_per_ready splits a long apply backlog over several Readies. */
static void test_committed_size_per_ready(void **state)
{
    (void)state;
    raft_config c = plain();
    c.max_committed_size_per_ready = 250;
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    elect(&nt, 1);
    bs_slice batch[10];
    char big[100];
    memset(big, 'z', sizeof(big));
    for (int i = 0; i < 10; i++)
        batch[i] = bs_slice_make(big, sizeof(big));
    assert_int_equal(raft_propose_batch(nt.r[1], batch, 10, NULL, NULL), BS_OK);
    net_stabilize(&nt);
    assert_int_equal(net_status(&nt, 1).applied, 11);
    /* Restart node 2 as if it had applied nothing: its backlog of 10 committed entries
     * comes back at most 250 bytes (2 entries) per Ready. */
    net_crash(&nt, 2);
    net_restart(&nt, 2, 1);
    raft_ready rd;
    int with_committed = 0;
    while (raft_has_ready(nt.r[2])) {
        raft_ready_get(nt.r[2], &rd);
        uint64_t size = 0;
        for (size_t i = 0; i < rd.n_committed; i++)
            size += rd.committed[i].data.len;
        assert_true(rd.n_committed <= 1 || size <= 250);
        with_committed += rd.n_committed > 0;
        raft_advance(nt.r[2], &rd);
    }
    assert_true(with_committed >= 5);
    assert_int_equal(net_status(&nt, 2).applied, 11);
    net_free(&nt);
}

/* At most max_inflight_msgs unacknowledged appends; at most max_size_per_msg per append. */
static void test_flow_control(void **state)
{
    (void)state;
    raft_config c = plain();
    c.max_inflight_msgs = 2;
    c.max_size_per_msg = 250;
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    elect(&nt, 1);
    nt.cut[2][1] = true; /* 2 receives but its acks are lost */
    uint64_t before = nt.apps_with_entries[2];
    char big[101];
    memset(big, 'x', 100);
    big[100] = 0;
    for (int i = 0; i < 10; i++)
        assert_int_equal(net_propose(&nt, 1, big), BS_OK);
    assert_int_equal(nt.apps_with_entries[2] - before, 2);
    assert_int_equal(net_status(&nt, 3).commit, 11); /* 3 is unaffected */
    /* Catch-up after the cut heals: messages of at most 2 entries (250 bytes). */
    nt.max_entries_per_app = 0;
    net_heal(&nt);
    net_tick(&nt, 1, 1);
    net_tick(&nt, 1, 1);
    assert_int_equal(net_status(&nt, 2).commit, 11);
    assert_true(nt.max_entries_per_app <= 2);
    net_free(&nt);
}

/* Past max_uncommitted_size the leader drops proposals with a clear error. */
static void test_uncommitted_limit(void **state)
{
    (void)state;
    raft_config c = plain();
    c.max_uncommitted_size = 300;
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    elect(&nt, 1);
    net_isolate(&nt, 1);
    char big[101];
    memset(big, 'y', 100);
    big[100] = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(net_propose(&nt, 1, big), BS_OK);
    bs_err err;
    assert_int_equal(raft_propose(nt.r[1], bs_slice_from_str(big), NULL, &err),
                     BS_EPROPOSAL_DROPPED);
    assert_non_null(strstr(err.msg, "uncommitted"));
    net_heal(&nt);
    net_tick(&nt, 1, 1);
    assert_int_equal(net_status(&nt, 1).commit, 4);
    assert_int_equal(net_status(&nt, 1).uncommitted_size, 0);
    assert_int_equal(net_propose(&nt, 1, big), BS_OK);
    net_free(&nt);
}

/* ReadIndex on the leader and through a follower. */
static void test_read_index(void **state)
{
    (void)state;
    raft_config c = plain();
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    elect(&nt, 1);
    assert_int_equal(net_propose(&nt, 1, "a"), BS_OK);
    assert_int_equal(raft_read_index(nt.r[1], bs_slice_make("L", 1), NULL), BS_OK);
    net_stabilize(&nt);
    assert_int_equal(nt.n_rs[1], 1);
    assert_int_equal(nt.rs_index[1][0], 2);
    assert_int_equal(nt.rs_ctx[1][0], 'L');
    assert_int_equal(raft_read_index(nt.r[3], bs_slice_make("F", 1), NULL), BS_OK);
    net_stabilize(&nt);
    assert_int_equal(nt.n_rs[3], 1);
    assert_int_equal(nt.rs_index[3][0], 2);
    /* A leader cut off from the quorum cannot confirm: no read state. */
    net_isolate(&nt, 1);
    assert_int_equal(raft_read_index(nt.r[1], bs_slice_make("X", 1), NULL), BS_OK);
    net_tick(&nt, 1, 3);
    assert_int_equal(nt.n_rs[1], 1);
    /* A node that knows no leader refuses. */
    raft_conf_state cs = {.voters = {1, 2, 3}, .n_voters = 3};
    raft_memstorage *ms = raft_memstorage_new(&cs);
    raft_config c2 = plain();
    c2.id = 2;
    c2.storage = raft_memstorage_storage(ms);
    raft_node *r;
    assert_int_equal(raft_new(&c2, &r, NULL), BS_OK);
    assert_int_equal(raft_read_index(r, bs_slice_make("Z", 1), NULL), BS_ENOT_LEADER);
    raft_free(r);
    raft_memstorage_free(ms);
    net_free(&nt);
}

/* A new leader serves no read before its own no-op commits. */
static void test_read_index_waits_for_noop(void **state)
{
    (void)state;
    raft_config c = plain();
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    raft_campaign(nt.r[1]);
    net_process(&nt);
    net_deliver(&nt); /* vote requests */
    net_process(&nt);
    net_deliver(&nt); /* vote responses: 1 leads, its no-op not yet replicated */
    assert_int_equal(net_leader(&nt), 1);
    assert_int_equal(raft_read_index(nt.r[1], bs_slice_make("W", 1), NULL), BS_OK);
    net_process(&nt);
    assert_int_equal(nt.n_rs[1], 0);
    net_stabilize(&nt);
    assert_int_equal(nt.n_rs[1], 1);
    assert_int_equal(nt.rs_index[1][0], 1); /* the no-op */
    net_free(&nt);
}

/* Lease reads need no round trip while the lease holds, and stop when it lapses. */
static void test_lease_read(void **state)
{
    (void)state;
    raft_config c = plain();
    c.check_quorum = true;
    c.read_only = RAFT_READ_LEASE;
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    net_tick_all(&nt, 11); /* past the boot lease */
    elect(&nt, 1);
    net_tick(&nt, 1, 1); /* one acknowledged heartbeat round */
    assert_true(raft_lease_valid(nt.r[1]));
    assert_int_equal(raft_read_index(nt.r[1], bs_slice_make("Q", 1), NULL), BS_OK);
    uint64_t sent = nt.msgs_sent_before_persist;
    net_process(&nt);
    assert_int_equal(nt.n_rs[1], 1);
    assert_int_equal(nt.msgs_sent_before_persist, sent); /* no heartbeat needed */
    net_isolate(&nt, 1);
    net_tick(&nt, 1, 9);
    assert_false(raft_lease_valid(nt.r[1]));
    /* A config without check_quorum may not use leases. */
    raft_config bad = plain();
    bad.read_only = RAFT_READ_LEASE;
    bad.id = 1;
    bad.storage = raft_memstorage_storage(nt.ms[1]);
    raft_node *r = NULL;
    bs_err err;
    assert_int_equal(raft_new(&bad, &r, &err), BS_EINVAL);
    net_free(&nt);
}

/* Leader transfer: refused proposals meanwhile, catch-up first, then TimeoutNow. */
static void test_transfer_leader(void **state)
{
    (void)state;
    raft_config c = plain();
    c.check_quorum = true;
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    elect(&nt, 1);
    net_isolate(&nt, 3);
    assert_int_equal(net_propose(&nt, 1, "a"), BS_OK);
    assert_int_equal(raft_transfer_leader(nt.r[1], 3, NULL), BS_OK);
    bs_err err;
    assert_int_equal(raft_propose(nt.r[1], bs_slice_from_str("b"), NULL, &err),
                     BS_EPROPOSAL_DROPPED);
    assert_int_equal(raft_transfer_leader(nt.r[1], 1, NULL), BS_EINVAL);
    assert_int_equal(raft_transfer_leader(nt.r[2], 3, NULL), BS_ENOT_LEADER);
    net_heal(&nt);
    net_tick(&nt, 1, 1); /* 3 catches up, then gets TimeoutNow and wins */
    assert_int_equal(net_leader(&nt), 3);
    assert_true(net_logs_equal(&nt, 1, 3));
    assert_int_equal(net_propose(&nt, 3, "c"), BS_OK);
    /* A transfer that cannot finish is aborted after an election timeout. */
    net_isolate(&nt, 2);
    assert_int_equal(raft_transfer_leader(nt.r[3], 2, NULL), BS_OK);
    net_tick(&nt, 3, 10);
    assert_int_equal(net_status(&nt, 3).lead_transferee, 0);
    assert_int_equal(net_leader(&nt), 3);
    net_free(&nt);
}

static raft_conf_change cc1(raft_cc_type t, uint64_t id)
{
    raft_conf_change cc;
    memset(&cc, 0, sizeof(cc));
    cc.n_changes = 1;
    cc.changes[0].type = t;
    cc.changes[0].node_id = id;
    return cc;
}

static void add_node4(net *nt)
{
    raft_conf_state empty;
    memset(&empty, 0, sizeof(empty));
    nt->ms[4] = raft_memstorage_new(&empty);
    nt->n = 4;
    net_restart(nt, 4, 0);
}

/* Learner, promotion and removal with simple changes; a removed node never campaigns. */
static void test_membership_simple(void **state)
{
    (void)state;
    raft_config c = plain();
    net nt;
    net_init(&nt, 3, &c);
    nt.compact_on_apply = true; /* so the new node must start from a snapshot */
    net_start(&nt);
    elect(&nt, 1);
    add_node4(&nt);
    raft_conf_change cc = cc1(RAFT_CC_ADD_LEARNER, 4);
    assert_int_equal(raft_propose_conf_change(nt.r[1], &cc, NULL), BS_OK);
    bs_err err;
    assert_int_equal(raft_propose_conf_change(nt.r[1], &cc, &err), BS_EPROPOSAL_DROPPED);
    net_stabilize(&nt);
    net_tick(&nt, 1, 2);
    assert_int_equal(nt.cs[1].n_learners, 1);
    assert_int_equal(nt.cs[4].n_learners, 1); /* 4 got the config through a snapshot */
    assert_true(nt.snaps_sent[4] >= 1);
    assert_int_equal(net_status(&nt, 4).role, RAFT_FOLLOWER);
    net_tick(&nt, 4, 50); /* a learner never campaigns */
    assert_int_equal(net_status(&nt, 4).role, RAFT_FOLLOWER);

    cc = cc1(RAFT_CC_ADD_NODE, 4);
    assert_int_equal(raft_propose_conf_change(nt.r[1], &cc, NULL), BS_OK);
    net_stabilize(&nt);
    net_tick(&nt, 1, 2);
    assert_int_equal(nt.cs[4].n_voters, 4);
    /* Two voters at once need joint consensus. */
    raft_conf_change two = cc1(RAFT_CC_REMOVE_NODE, 2);
    two.n_changes = 2;
    two.changes[1] = (raft_cc_single){RAFT_CC_REMOVE_NODE, 3};
    two.transition = RAFT_CC_AUTO;
    /* AUTO with two changes means joint: allowed. A simple apply of it is refused: */
    raft_tracker t;
    raft_tracker_init(&t, 4);
    raft_conf_state cs3 = {.voters = {1, 2, 3}, .n_voters = 3};
    assert_int_equal(raft_cc_restore(&t, &cs3, 1, NULL), BS_OK);
    assert_int_equal(raft_cc_simple(&t, two.changes, 2, 1, &err), BS_EINVAL);
    raft_tracker_deinit(&t);

    /* Remove the leader: it steps down, the rest elect a leader, it stays quiet. */
    cc = cc1(RAFT_CC_REMOVE_NODE, 1);
    assert_int_equal(raft_propose_conf_change(nt.r[1], &cc, NULL), BS_OK);
    net_stabilize(&nt);
    net_tick(&nt, 1, 1);
    assert_int_equal(net_status(&nt, 1).role, RAFT_FOLLOWER);
    net_tick_all(&nt, 40);
    uint64_t l = net_leader(&nt);
    assert_true(l == 2 || l == 3 || l == 4);
    assert_int_equal(net_status(&nt, 1).role, RAFT_FOLLOWER);
    assert_int_equal(nt.cs[l].n_voters, 3);
    assert_int_equal(net_propose(&nt, l, "after"), BS_OK);
    net_free(&nt);
}

/* Joint consensus: enter, automatic and explicit leave, and what is refused meanwhile. */
static void test_membership_joint(void **state)
{
    (void)state;
    raft_config c = plain();
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    elect(&nt, 1);
    add_node4(&nt);
    raft_conf_change swap = cc1(RAFT_CC_ADD_NODE, 4);
    swap.n_changes = 2;
    swap.changes[1] = (raft_cc_single){RAFT_CC_REMOVE_NODE, 3};
    swap.transition = RAFT_CC_EXPLICIT;
    assert_int_equal(raft_propose_conf_change(nt.r[1], &swap, NULL), BS_OK);
    net_stabilize(&nt);
    assert_int_equal(nt.cs[1].n_voters_outgoing, 3); /* joint: (1 2 4) && (1 2 3) */
    assert_int_equal(nt.cs[1].n_voters, 3);
    assert_false(nt.cs[1].auto_leave);
    bs_err err;
    raft_conf_change other = cc1(RAFT_CC_ADD_LEARNER, 3);
    assert_int_equal(raft_propose_conf_change(nt.r[1], &other, &err), BS_EPROPOSAL_DROPPED);
    /* While joint, both halves must agree: with 2 and 4 down, (1 2 4) has no majority
     * even though (1 2 3) has one. */
    net_crash(&nt, 4);
    net_crash(&nt, 2);
    uint64_t commit = net_status(&nt, 1).commit;
    assert_int_equal(net_propose(&nt, 1, "needs-both"), BS_OK);
    assert_int_equal(net_status(&nt, 1).commit, commit);
    net_restart(&nt, 4, 0);
    net_tick(&nt, 1, 2);
    assert_true(net_status(&nt, 1).commit > commit); /* {1, 4} and {1, 3} */
    net_restart(&nt, 2, 0);
    raft_conf_change leave;
    memset(&leave, 0, sizeof(leave));
    assert_int_equal(raft_propose_conf_change(nt.r[1], &leave, NULL), BS_OK);
    net_stabilize(&nt);
    net_tick(&nt, 1, 1);
    assert_int_equal(nt.cs[1].n_voters_outgoing, 0);
    assert_int_equal(nt.cs[1].n_voters, 3);
    assert_int_equal(nt.cs[4].n_voters_outgoing, 0);
    /* Leaving when not joint is refused. */
    assert_int_equal(raft_propose_conf_change(nt.r[1], &leave, &err), BS_EPROPOSAL_DROPPED);

    /* Auto: the leader leaves by itself once the joint config is applied. */
    raft_conf_change back = cc1(RAFT_CC_ADD_NODE, 3);
    back.n_changes = 2;
    back.changes[1] = (raft_cc_single){RAFT_CC_REMOVE_NODE, 4};
    assert_int_equal(raft_propose_conf_change(nt.r[1], &back, NULL), BS_OK);
    net_stabilize(&nt);
    net_tick(&nt, 1, 2);
    assert_int_equal(nt.cs[1].n_voters_outgoing, 0);
    assert_int_equal(nt.cs[1].voters[2], 3);
    net_free(&nt);
}

/* A follower that needs compacted entries gets a snapshot; others are not held up. */
static void test_snapshot_catch_up(void **state)
{
    (void)state;
    raft_config c = plain();
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    elect(&nt, 1);
    net_crash(&nt, 3);
    for (int i = 0; i < 20; i++)
        assert_int_equal(net_propose(&nt, 1, "s"), BS_OK);
    uint64_t applied = nt.last_applied_index[1];
    assert_int_equal(applied, 21);
    assert_int_equal(raft_memstorage_create_snapshot(nt.ms[1], applied, &nt.cs[1],
                                                     bs_slice_make("SNAP", 4), NULL),
                     BS_OK);
    assert_int_equal(raft_memstorage_compact(nt.ms[1], applied, NULL), BS_OK);
    net_restart(&nt, 3, 0);
    nt.hold = true; /* deliver by hand until the snapshot is queued, then stop */
    for (int i = 0; i < 20 && nt.snaps_sent[3] == 0; i++) {
        net_tick(&nt, 1, 1);
        for (int k = 0; k < 3 && nt.snaps_sent[3] == 0; k++) {
            net_deliver(&nt);
            net_process(&nt);
        }
    }
    assert_true(nt.snaps_sent[3] >= 1);
    nt.hold = false;
    /* While 3's snapshot is in flight (and then lost), 1 and 2 keep committing. */
    nt.cut[1][3] = true;
    assert_int_equal(net_propose(&nt, 1, "t"), BS_OK);
    assert_int_equal(net_status(&nt, 2).commit, 22);
    assert_true(net_status(&nt, 3).commit < 21);
    net_heal(&nt);
    net_tick(&nt, 1, 3);
    assert_int_equal(net_status(&nt, 3).commit, 22);
    assert_true(net_logs_equal(&nt, 1, 3));
    const raft_snapshot *s3 = raft_memstorage_snapshot_ref(nt.ms[3]);
    assert_int_equal(s3->meta.index, 21);
    assert_memory_equal(s3->data.ptr, "SNAP", 4);
    net_free(&nt);
}

/* Entries without a block (as decoded from the wire) are copied: the caller's buffer
 * may be reused as soon as raft_step returns. */
static void test_foreign_entries_are_copied(void **state)
{
    (void)state;
    raft_conf_state cs = {.voters = {1, 2, 3}, .n_voters = 3};
    raft_memstorage *ms = raft_memstorage_new(&cs);
    raft_config c = plain();
    c.id = 2;
    c.storage = raft_memstorage_storage(ms);
    raft_node *r;
    assert_int_equal(raft_new(&c, &r, NULL), BS_OK);
    char wire[2][8] = {"first\0x", "second"};
    raft_entry ents[2];
    memset(ents, 0, sizeof(ents));
    for (int i = 0; i < 2; i++) {
        ents[i].index = (uint64_t)i + 1;
        ents[i].term = 1;
        ents[i].data = bs_slice_make(wire[i], 7);
    }
    raft_msg m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1, .entries = ents, .n_entries = 2};
    assert_int_equal(raft_step(r, &m, NULL), BS_OK);
    memset(wire, '#', sizeof(wire)); /* the caller reuses its buffer */
    raft_ready rd;
    raft_ready_get(r, &rd);
    assert_int_equal(rd.n_entries, 2);
    assert_memory_equal(rd.entries[0].data.ptr, "first\0x", 7);
    assert_memory_equal(rd.entries[1].data.ptr, "second", 7);
    assert_true(rd.entries[0].blk == rd.entries[1].blk); /* one block for the message */
    raft_memstorage_append(ms, rd.entries, rd.n_entries);
    raft_advance(r, &rd);
    raft_free(r);
    raft_entries out = {0};
    raft_storage st = raft_memstorage_storage(ms);
    assert_int_equal(st.ops->entries(ms, 1, 3, UINT64_MAX, &out), BS_OK);
    assert_memory_equal(out.v[1].data.ptr, "second", 7);
    raft_entries_free(&out);
    raft_memstorage_free(ms);
}

static uint64_t tbl_match[8];
static uint64_t ack(void *ctx, uint64_t id)
{
    (void)ctx;
    return tbl_match[id];
}

static void test_quorum(void **state)
{
    (void)state;
    raft_idset a = {{1, 2, 3}, 3}, b = {{3, 4, 5}, 3};
    tbl_match[1] = 5;
    tbl_match[2] = 3;
    tbl_match[3] = 9;
    tbl_match[4] = 1;
    tbl_match[5] = 2;
    assert_int_equal(raft_majority_committed(&a, ack, NULL), 5);
    assert_int_equal(raft_majority_committed(&b, ack, NULL), 2);
    raft_joint j = {a, b};
    assert_int_equal(raft_joint_committed(&j, ack, NULL), 2);
    raft_joint j1 = {a, {{0}, 0}};
    assert_int_equal(raft_joint_committed(&j1, ack, NULL), 5);
    raft_idset four = {{1, 2, 3, 4}, 4};
    assert_int_equal(raft_majority_committed(&four, ack, NULL), 3);
}

static void test_conf_change_codec(void **state)
{
    (void)state;
    raft_conf_change cc = cc1(RAFT_CC_ADD_LEARNER, 0x0102030405060708ULL);
    cc.n_changes = 2;
    cc.changes[1] = (raft_cc_single){RAFT_CC_REMOVE_NODE, 7};
    cc.transition = RAFT_CC_EXPLICIT;
    bs_buf b = BS_BUF_INIT;
    raft_conf_change_encode(&cc, &b);
    raft_conf_change out;
    assert_int_equal(raft_conf_change_decode(bs_buf_slice(&b), &out, NULL), BS_OK);
    assert_memory_equal(&out, &cc, sizeof(cc));
    bs_err err;
    b.len--;
    assert_int_equal(raft_conf_change_decode(bs_buf_slice(&b), &out, &err), BS_ECORRUPT);
    b.ptr[1] = 9;
    assert_int_equal(raft_conf_change_decode(bs_buf_slice(&b), &out, &err), BS_ECORRUPT);
    bs_buf_free(&b);
}

static void test_memstorage(void **state)
{
    (void)state;
    raft_memstorage *ms = raft_memstorage_new(NULL);
    raft_storage st = raft_memstorage_storage(ms);
    raft_entry e[5];
    memset(e, 0, sizeof(e));
    for (int i = 0; i < 5; i++) {
        e[i].index = (uint64_t)i + 1;
        e[i].term = i < 3 ? 1 : 2;
        raft_entry_set_data(&e[i], "abc", 3);
    }
    raft_memstorage_append(ms, e, 5);
    assert_int_equal(st.ops->first_index(ms), 1);
    assert_int_equal(st.ops->last_index(ms), 5);
    uint64_t t;
    assert_int_equal(st.ops->term(ms, 4, &t), BS_OK);
    assert_int_equal(t, 2);
    assert_int_equal(st.ops->term(ms, 6, &t), RAFT_EUNAVAILABLE);
    assert_int_equal(raft_memstorage_compact(ms, 3, NULL), BS_OK);
    assert_int_equal(st.ops->term(ms, 2, &t), RAFT_ECOMPACTED);
    assert_int_equal(st.ops->term(ms, 3, &t), BS_OK); /* the compaction point stays */
    raft_entries out = {0};
    assert_int_equal(st.ops->entries(ms, 2, 5, UINT64_MAX, &out), RAFT_ECOMPACTED);
    assert_int_equal(st.ops->entries(ms, 4, 6, 4, &out), BS_OK);
    assert_int_equal(out.n, 1); /* size limit: always at least one */
    assert_memory_equal(out.v[0].data.ptr, "abc", 3);
    raft_entries_free(&out);
    /* overwrite a suffix */
    e[3].term = 3;
    raft_memstorage_append(ms, &e[3], 1);
    assert_int_equal(st.ops->last_index(ms), 4);
    assert_int_equal(raft_memstorage_compact(ms, 9, NULL), BS_ERANGE);
    for (int i = 0; i < 5; i++)
        raft_entry_release(&e[i]);
    raft_memstorage_free(ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_persist_ordering),
        cmocka_unit_test(test_batching),
        cmocka_unit_test(test_flow_control),
        cmocka_unit_test(test_committed_size_per_ready),
        cmocka_unit_test(test_uncommitted_limit),
        cmocka_unit_test(test_read_index),
        cmocka_unit_test(test_read_index_waits_for_noop),
        cmocka_unit_test(test_lease_read),
        cmocka_unit_test(test_transfer_leader),
        cmocka_unit_test(test_membership_simple),
        cmocka_unit_test(test_membership_joint),
        cmocka_unit_test(test_snapshot_catch_up),
        cmocka_unit_test(test_foreign_entries_are_copied),
        cmocka_unit_test(test_quorum),
        cmocka_unit_test(test_conf_change_codec),
        cmocka_unit_test(test_memstorage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
