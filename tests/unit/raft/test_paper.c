/* test_paper.c -- one test per claim of the Raft paper (extended version, "In Search of an
 * Understandable Consensus Algorithm"), in the spirit of etcd's raft_paper_test.go. */
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

/* A single node with its own storage, driven by hand. */
typedef struct solo {
    raft_memstorage *ms;
    raft_node *r;
} solo;

static void solo_init(solo *s, uint64_t id, int voters, const uint64_t *terms, int k,
                      uint64_t hs_term, raft_config c)
{
    raft_conf_state cs;
    memset(&cs, 0, sizeof(cs));
    for (int i = 1; i <= voters; i++)
        cs.voters[cs.n_voters++] = (uint64_t)i;
    s->ms = raft_memstorage_new(&cs);
    for (int i = 0; i < k; i++) {
        raft_entry e;
        memset(&e, 0, sizeof(e));
        e.index = (uint64_t)i + 1;
        e.term = terms[i];
        raft_memstorage_append(s->ms, &e, 1);
    }
    raft_hard_state hs = {hs_term, 0, 0};
    raft_memstorage_set_hard_state(s->ms, &hs);
    c.id = id;
    c.storage = raft_memstorage_storage(s->ms);
    assert_int_equal(raft_new(&c, &s->r, NULL), BS_OK);
}

static void solo_free(solo *s)
{
    raft_free(s->r);
    raft_memstorage_free(s->ms);
}

/* Persists and advances one Ready; returns how many messages of type t it sent. */
static int solo_ready(solo *s, raft_msg_type t, raft_msg *last)
{
    int n = 0;
    if (!raft_has_ready(s->r))
        return 0;
    raft_ready rd;
    raft_ready_get(s->r, &rd);
    raft_memstorage_append(s->ms, rd.entries, rd.n_entries);
    if (rd.has_hs)
        raft_memstorage_set_hard_state(s->ms, &rd.hs);
    const raft_msg *lists[2] = {rd.msgs, rd.persisted_msgs};
    size_t counts[2] = {rd.n_msgs, rd.n_persisted_msgs};
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < counts[l]; i++)
            if (lists[l][i].type == t) {
                n++;
                if (last) {
                    *last = lists[l][i];
                    last->entries = NULL;
                    last->n_entries = 0;
                    last->snapshot = NULL;
                    last->context = BS_SLICE_NULL;
                }
            }
    raft_advance(s->r, &rd);
    return n;
}

static void step(raft_node *r, raft_msg m)
{
    assert_int_equal(raft_step(r, &m, NULL), BS_OK);
}

/* 5.2: a follower that hears nothing campaigns; a candidate with a majority leads. */
static void test_leader_election(void **state)
{
    (void)state;
    raft_config c = plain();
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    net_campaign(&nt, 1);
    assert_int_equal(net_leader(&nt), 1);
    assert_int_equal(net_status(&nt, 1).term, 1);
    assert_int_equal(net_status(&nt, 2).role, RAFT_FOLLOWER);
    assert_int_equal(net_status(&nt, 2).lead, 1);
    net_free(&nt);

    /* 5 nodes, 2 down: still a majority. 3 down: the candidate stays a candidate. */
    net_init(&nt, 5, &c);
    net_start(&nt);
    net_crash(&nt, 4);
    net_crash(&nt, 5);
    net_campaign(&nt, 1);
    assert_int_equal(net_leader(&nt), 1);
    net_free(&nt);
    net_init(&nt, 5, &c);
    net_start(&nt);
    net_crash(&nt, 3);
    net_crash(&nt, 4);
    net_crash(&nt, 5);
    net_campaign(&nt, 1);
    assert_int_equal(net_leader(&nt), 0);
    assert_int_equal(net_status(&nt, 1).role, RAFT_CANDIDATE);
    net_free(&nt);
}

/* 5.2: each server votes for at most one candidate in a term, first come first served. */
static void test_vote_once_per_term(void **state)
{
    (void)state;
    solo s;
    solo_init(&s, 1, 3, NULL, 0, 0, plain());
    raft_msg resp;
    step(s.r, (raft_msg){.type = RAFT_MSG_VOTE, .from = 2, .to = 1, .term = 1});
    assert_int_equal(solo_ready(&s, RAFT_MSG_VOTE_RESP, &resp), 1);
    assert_false(resp.reject);
    step(s.r, (raft_msg){.type = RAFT_MSG_VOTE, .from = 3, .to = 1, .term = 1});
    assert_int_equal(solo_ready(&s, RAFT_MSG_VOTE_RESP, &resp), 1);
    assert_true(resp.reject);
    /* the same candidate asking again (a retransmission) is granted again */
    step(s.r, (raft_msg){.type = RAFT_MSG_VOTE, .from = 2, .to = 1, .term = 1});
    assert_int_equal(solo_ready(&s, RAFT_MSG_VOTE_RESP, &resp), 1);
    assert_false(resp.reject);
    /* the vote is durable: persisted in the hard state before the response is sent */
    raft_hard_state hs;
    raft_memstorage_hard_state(s.ms, &hs);
    assert_int_equal(hs.vote, 2);
    assert_int_equal(hs.term, 1);
    solo_free(&s);
}

/* 5.4.1: a voter denies its vote to a candidate whose log is less up-to-date. */
static void test_election_restriction(void **state)
{
    (void)state;
    uint64_t mine[] = {1, 1, 2};
    struct {
        uint64_t last_term, last_index;
        bool grant;
    } cases[] = {
        {2, 3, true}, {2, 4, true}, {3, 1, true}, {2, 2, false}, {1, 5, false}, {1, 3, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        solo s;
        solo_init(&s, 1, 3, mine, 3, 2, plain());
        raft_msg resp;
        step(s.r, (raft_msg){.type = RAFT_MSG_VOTE,
                             .from = 2,
                             .to = 1,
                             .term = 3,
                             .log_term = cases[i].last_term,
                             .index = cases[i].last_index});
        assert_int_equal(solo_ready(&s, RAFT_MSG_VOTE_RESP, &resp), 1);
        assert_int_equal(resp.reject, !cases[i].grant);
        solo_free(&s);
    }

    /* and in a cluster: a node that missed committed entries cannot win */
    raft_config c = plain();
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    net_campaign(&nt, 1);
    net_isolate(&nt, 3);
    assert_int_equal(net_propose(&nt, 1, "x"), BS_OK);
    assert_int_equal(net_propose(&nt, 1, "y"), BS_OK);
    net_heal(&nt);
    net_campaign(&nt, 3);
    assert_int_not_equal(net_leader(&nt), 3);
    net_campaign(&nt, 2);
    assert_int_equal(net_leader(&nt), 2);
    net_free(&nt);
}

/* 5.3, figure 7: whatever a follower's log looks like, the leader makes it match its own. */
static void test_figure7_log_repair(void **state)
{
    (void)state;
    uint64_t leader[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
    uint64_t a[] = {1, 1, 1, 4, 4, 5, 5, 6, 6};
    uint64_t b[] = {1, 1, 1, 4};
    uint64_t cc[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6};
    uint64_t d[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7};
    uint64_t e[] = {1, 1, 1, 4, 4, 4, 4};
    uint64_t f[] = {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3};
    const uint64_t *logs[] = {a, b, cc, d, e, f};
    int lens[] = {9, 4, 11, 12, 7, 11};
    for (int i = 0; i < 6; i++) {
        raft_config c = plain();
        net nt;
        net_init(&nt, 3, &c);
        net_set_log(&nt, 1, leader, 10, 8);
        net_set_log(&nt, 2, logs[i], lens[i], 7);
        net_start(&nt);
        net_crash(&nt, 3);
        raft_campaign(nt.r[1]);
        net_stabilize(&nt);
        /* node 3 (down in the figure's setting) votes by proxy so 1 wins regardless */
        if (net_leader(&nt) != 1) {
            raft_status st = net_status(&nt, 1);
            assert_int_equal(st.role, RAFT_CANDIDATE);
            step(nt.r[1],
                 (raft_msg){.type = RAFT_MSG_VOTE_RESP, .from = 3, .to = 1, .term = st.term});
            net_stabilize(&nt);
        }
        assert_int_equal(net_leader(&nt), 1);
        assert_true(net_logs_equal(&nt, 1, 2));
        /* the leader's no-op of its own term committed on {1, 2}: both applied it */
        assert_int_equal(net_status(&nt, 2).commit, 11);
        net_free(&nt);
    }
}

/* 5.4.2, figure 8: a leader never commits an entry of an earlier term by counting
 * replicas; only an entry of its own term commits, and earlier ones with it. */
static void test_figure8_commit_only_current_term(void **state)
{
    (void)state;
    uint64_t terms[] = {1, 2};
    solo s;
    solo_init(&s, 1, 3, terms, 2, 2, plain());
    raft_campaign(s.r);
    solo_ready(&s, RAFT_MSG_VOTE, NULL);
    step(s.r, (raft_msg){.type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .term = 3});
    raft_status st;
    raft_get_status(s.r, &st);
    assert_int_equal(st.role, RAFT_LEADER);
    assert_int_equal(st.last_index, 3);    /* the no-op of term 3 */
    solo_ready(&s, RAFT_MSG_APPEND, NULL); /* persist: the leader's own match is now 3 */

    /* index 2 (term 2) is now on a majority {1, 2}: still not committed */
    step(s.r, (raft_msg){.type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 3, .index = 2});
    raft_get_status(s.r, &st);
    assert_int_equal(st.commit, 0);
    /* the term-3 entry on a majority commits everything up to it */
    step(s.r, (raft_msg){.type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 3, .index = 3});
    raft_get_status(s.r, &st);
    assert_int_equal(st.commit, 3);
    solo_free(&s);
}

/* 5.3: a leader overwrites a follower's conflicting uncommitted entries. */
static void test_conflicting_entries_are_replaced(void **state)
{
    (void)state;
    raft_config c = plain();
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    net_campaign(&nt, 1);
    net_isolate(&nt, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(net_propose(&nt, 1, "lost"), BS_OK); /* never committed */
    net_campaign(&nt, 2);
    assert_int_equal(net_leader(&nt), 2);
    assert_int_equal(net_propose(&nt, 2, "kept"), BS_OK);
    uint64_t commit2 = net_status(&nt, 2).commit;
    net_heal(&nt);
    net_tick(&nt, 2, 1); /* a heartbeat makes 1 step down, then it is repaired */
    net_tick(&nt, 2, 1);
    assert_int_equal(net_status(&nt, 1).role, RAFT_FOLLOWER);
    assert_true(net_logs_equal(&nt, 1, 2));
    assert_int_equal(net_status(&nt, 1).commit, commit2);
    net_free(&nt);
}

/* 5.2: a candidate that hears from a leader of its term returns to follower. */
static void test_candidate_yields_to_leader(void **state)
{
    (void)state;
    solo s;
    solo_init(&s, 1, 3, NULL, 0, 0, plain());
    raft_campaign(s.r);
    raft_status st;
    raft_get_status(s.r, &st);
    assert_int_equal(st.role, RAFT_CANDIDATE);
    step(s.r, (raft_msg){.type = RAFT_MSG_APPEND, .from = 2, .to = 1, .term = st.term});
    raft_get_status(s.r, &st);
    assert_int_equal(st.role, RAFT_FOLLOWER);
    assert_int_equal(st.lead, 2);
    solo_free(&s);
}

/* 5.1: a leader that sees a higher term steps down. */
static void test_leader_steps_down_on_higher_term(void **state)
{
    (void)state;
    raft_config c = plain();
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    net_campaign(&nt, 1);
    step(nt.r[1], (raft_msg){.type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 5});
    raft_status st = net_status(&nt, 1);
    assert_int_equal(st.role, RAFT_FOLLOWER);
    assert_int_equal(st.term, 5);
    net_free(&nt);
}

/* 5.2: election timeouts are randomized in [election_tick, 2 * election_tick). */
static void test_randomized_election_timeout(void **state)
{
    (void)state;
    bool seen_spread = false;
    int first = -1;
    for (uint64_t seed = 1; seed <= 50; seed++) {
        raft_config c = plain();
        c.seed = seed;
        solo s;
        solo_init(&s, 1, 3, NULL, 0, 0, c);
        int t = 0;
        raft_status st;
        do {
            raft_tick(s.r);
            t++;
            raft_get_status(s.r, &st);
        } while (st.role == RAFT_FOLLOWER && t < 100);
        assert_true(t >= 10 && t < 20);
        if (first < 0)
            first = t;
        else if (t != first)
            seen_spread = true;
        solo_free(&s);
    }
    assert_true(seen_spread);
}

/* Thesis 9.6: with PreVote a partitioned node does not inflate its term. */
static void test_prevote_keeps_term(void **state)
{
    (void)state;
    raft_config c = plain();
    c.pre_vote = true;
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    net_campaign(&nt, 1);
    uint64_t term = net_status(&nt, 1).term;
    net_isolate(&nt, 3);
    net_tick(&nt, 3, 100);
    assert_int_equal(net_status(&nt, 3).term, term);
    assert_int_equal(net_status(&nt, 3).role, RAFT_PRE_CANDIDATE);
    net_heal(&nt);
    net_tick(&nt, 1, 2);
    assert_int_equal(net_leader(&nt), 1); /* the returning node did not depose it */
    assert_int_equal(net_status(&nt, 1).term, term);
    net_free(&nt);
}

/* Thesis 6.2: with CheckQuorum a leader that cannot reach a quorum steps down. */
static void test_check_quorum_steps_down(void **state)
{
    (void)state;
    raft_config c = plain();
    c.check_quorum = true;
    net nt;
    net_init(&nt, 3, &c);
    net_start(&nt);
    net_campaign(&nt, 1);
    net_isolate(&nt, 1);
    net_tick(&nt, 1, 21);
    assert_int_equal(net_status(&nt, 1).role, RAFT_FOLLOWER);
    net_free(&nt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leader_election),
        cmocka_unit_test(test_vote_once_per_term),
        cmocka_unit_test(test_election_restriction),
        cmocka_unit_test(test_figure7_log_repair),
        cmocka_unit_test(test_figure8_commit_only_current_term),
        cmocka_unit_test(test_conflicting_entries_are_replaced),
        cmocka_unit_test(test_candidate_yields_to_leader),
        cmocka_unit_test(test_leader_steps_down_on_higher_term),
        cmocka_unit_test(test_randomized_election_timeout),
        cmocka_unit_test(test_prevote_keeps_term),
        cmocka_unit_test(test_check_quorum_steps_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
