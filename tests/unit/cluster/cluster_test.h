/* cluster_test.h -- helpers shared by the cluster tests: engines, an in-process
 * PD, a txn store wired to a cluster store, and bounded waits (never timing assertions). */
#ifndef BASALT_TESTS_CLUSTER_TEST_H
#define BASALT_TESTS_CLUSTER_TEST_H

#include <stdbool.h>

#include "cluster/cluster.h"
#include "lib/tmpdir.h"
#include "txn/txn.h"

kv_engine *ct_engine_open(const char *dir);
/* In-memory PD (memstore kept in *ms so it can be reopened). */
pd_core *ct_pd_open(pd_meta_store **ms);
/* Options with a fast tick for tests. */
void ct_options(cluster_store_options *o, kv_engine *e, pd_core *pd, cluster_transport *t);
/* Polls cond(arg) every ms until true or timeout_ms; returns the last result. */
bool ct_wait(bool (*cond)(void *), void *arg, int timeout_ms);
/* Waits until store s leads region_id. */
bool ct_wait_leader(cluster_store *s, uint64_t region_id, int timeout_ms);

/* A txn store over a cluster store, with a TSO fed by pd. */
typedef struct ct_txn {
    pd_core *pd;
    txn_causal_ts *cts;
    txn_store *txn;
} ct_txn;
void ct_txn_open(ct_txn *t, pd_core *pd, cluster_store *s, kv_engine *e);
void ct_txn_close(ct_txn *t);

/* Counts completed write commands. */
typedef struct ct_counter {
    _Atomic int done, ok;
} ct_counter;
void ct_put_cb(void *arg, const txn_result *res);
/* A synchronous put through txn_raw_put; returns the result code. */
int ct_put(ct_txn *t, const char *key, const char *value);
/* txn_raw_get of key; BS_OK with value compared to want, BS_NOTFOUND, or error. */
int ct_get(ct_txn *t, const char *key, bs_buf *out);
/* API v2 raw key "r\0\0\0" + user key. */
bs_slice ct_key(bs_buf *b, const char *user);

#endif
