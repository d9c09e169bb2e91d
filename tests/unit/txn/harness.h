/* harness.h -- the txn unit tests' world: a fresh engine under $TMPDIR (with the GC
 * compaction filter installed), a fake TSO, a fake proposer that applies batches at once or
 * holds them until the test applies or fails them, and helpers that read like the protocol
 * (must_raw_put, must_raw_get, must_not_found, ...). */
#ifndef BASALT_TESTS_TXN_HARNESS_H
#define BASALT_TESTS_TXN_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/kv.h"
#include "txn/txn.h"

typedef struct th_prop {
    kv_batch *batch;
    txn_proposal_done_fn done;
    void *done_arg;
} th_prop;

typedef struct th {
    char *dir;
    kv_engine *e;
    txn_gc_filter gc;
    txn_causal_ts *cts;
    txn_store *s;
    /* fake TSO */
    pthread_mutex_t mu;
    uint64_t tso;        /* last TSO handed out */
    uint64_t tso_fetches;
    bool tso_hold;       /* queue fetches instead of answering */
    txn_tso_done_fn held_done;
    void *held_arg;
    uint32_t held_count;
    /* fake proposer */
    bool delay;          /* hold batches until th_apply / th_fail */
    int refuse;          /* >0: refuse that many proposals synchronously */
    th_prop *q;
    size_t qn, qcap;
    size_t proposals;
} th;

th *th_new(void);
void th_free(th *h);

/* cmocka setup and teardown: a fresh harness with the wall clock pinned at TH_NOW; the
 * teardown frees it and unpins the clock. */
#define TH_NOW 1700000000000LL
int th_setup_pinned(void **state);
int th_teardown_pinned(void **state);
#define TH_TEST(t) cmocka_unit_test_setup_teardown(t, th_setup_pinned, th_teardown_pinned)
/* Applies (in order) up to n held batches; returns how many. */
size_t th_apply(th *h, size_t n);
/* Fails every held batch with code, in order (the proposer contract: all after a failure
 * fail too). Returns how many. */
size_t th_fail_all(th *h, int code);
/* Answers a held TSO fetch. */
void th_tso_release(th *h);

/* "r" ‖ ks 0 ‖ user: replaces *b's contents. Returns its slice. */
bs_slice th_key(bs_buf *b, const char *user);
bs_slice th_s(const char *s);

/* A copy of a txn_result, filled by th_cb. */
typedef struct th_res {
    int calls;
    int code;
    txn_error_kind kind;
    char msg[256];
    uint64_t ts;
    bool succeed, previous_not_exist;
    bs_buf previous_value;
    bool applied, old_exists;
    bs_buf old_value, new_value;
    int64_t integer;
} th_res;

void th_res_init(th_res *r);
void th_res_free(th_res *r);
void th_cb(void *arg, const txn_result *res);

/* Protocol-shaped helpers (user keys in keyspace 0; fail the test on a mismatch). */
void must_raw_put(th *h, const char *key, const char *value, uint64_t ttl_ms);
void must_raw_delete(th *h, const char *key);
void must_raw_get(th *h, const char *key, const char *value);
void must_not_found(th *h, const char *key);
/* Runs an RMW synchronously (proposer in immediate mode); fills *r. */
void must_rmw(th *h, const char *key, const txn_rmw_params *p, th_res *r);
/* Compares a bs_buf with a C string. */
void assert_buf_eq(const bs_buf *b, const char *s);

#endif
