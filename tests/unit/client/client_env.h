/* client_env.h -- the client tests' world: one store over a fresh engine, an in-process PD,
 * a txn store proposing through the store (causal ts fed by PD's TSO), and a client on top.
 * Region layouts are built by hand (PD bootstrap + ReportBatchSplit, and the same Regions
 * created on the store) so tests are deterministic: PD and the store may be told different
 * layouts to play a PD that lags a split. Waits are bounded; nothing asserts on time. */
#ifndef BASALT_TESTS_CLIENT_ENV_H
#define BASALT_TESTS_CLIENT_ENV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"

#define CE_MAX_REGIONS 8

typedef struct ce {
    char *dir;
    kv_engine *e;
    pd_meta_store *ms;
    pd_core *pd;
    cluster_store *s;
    txn_causal_ts *cts;
    txn_store *txn;
    client *c;
    uint64_t store_id;
} ce;

/* Waits (bounded) until the store holds at least n Regions; returns whether it does. */
bool ce_wait_regions(ce *v, size_t n);
/* Splits the store's Region holding user key `at` (keyspace 0) at the given user keys
 * (NULL-terminated) and waits for the split to apply; asserts success. */
void ce_split(ce *v, const char *at, const char *const *keys);

/* A layout: Region split points as user keys of keyspace 0 (NULL-terminated; NULL or empty
 * = the store bootstraps the cluster as a server would: one Region). */
typedef struct ce_layout {
    const char *const *pd_splits;    /* the layout PD is told */
    const char *const *store_splits; /* the Regions the store has (NULL: the same as PD's) */
    size_t store_skip;               /* store Region index left out (0 = none; 1-based) */
    uint64_t store_version;          /* epoch version of the store's Regions (0: PD's) */
    uint64_t split_size;             /* automatic splits at this region-split-size (0: off) */
} ce_layout;

/* Opens everything; layout may be NULL. max_backoff_ms 0 keeps the default. */
void ce_open(ce *v, const ce_layout *layout, uint32_t max_backoff_ms);
/* Frees the client (if still open), the txn store, the store, PD, the engine and the dir. */
void ce_close(ce *v);
/* The region key MCE('r' ‖ ks ‖ user). */
void ce_region_key(bs_buf *out, uint32_t ks, const char *user);

/* A result copied (buffers moved) out of a client callback; waitable across threads. */
typedef struct ce_res {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    int code;
    txn_error_kind kind;
    char msg[BS_ERR_MSG_MAX];
    bs_buf value;
    uint64_t ttl_ms, count;
    txn_pairs pairs;
    txn_rmw_result rmw;
    bool succeed, previous_not_exist, applied;
    bs_buf previous_value;
} ce_res;

void ce_res_init(ce_res *r);
void ce_res_free(ce_res *r); /* frees and re-initialises */
/* client_done_fn: copies *res into the ce_res arg, taking its value and pairs. */
void ce_cb(void *arg, client_result *res);
/* Waits (bounded: fails the test after a minute) until r has been called; asserts once. */
void ce_wait(ce_res *r);

/* Synchronous helpers over the client, keyspace ks, C-string keys and values. Each resets
 * *r, runs the call, waits and returns r->code. */
int ce_put(ce *v, uint32_t ks, const char *key, const char *value, uint64_t ttl_ms, ce_res *r);
int ce_get(ce *v, uint32_t ks, const char *key, ce_res *r);
void ce_must_put(ce *v, uint32_t ks, const char *key, const char *value);
void ce_must_get(ce *v, uint32_t ks, const char *key, const char *value);
void ce_must_not_found(ce *v, uint32_t ks, const char *key);
/* Scan of [start, end) (end NULL = no end; reverse: start NULL = from the end). */
int ce_scan(ce *v, uint32_t ks, const char *start, const char *end, uint32_t limit,
            bool reverse, bool key_only, ce_res *r);
/* Multi op over NULL-terminated key (and value) lists. */
int ce_multi(ce *v, uint32_t ks, client_multi_op op, const char *const *keys,
             const char *const *values, unsigned flags, ce_res *r);

/* Asserts that a bs_buf holds the C string s. */
void ce_assert_buf(const bs_buf *b, const char *s);

#endif
