/* node_test.h -- helpers of the server tests: a node on a temp dir with small RocksDB
 * settings, writes that retry the transient conditions a client would retry, and bounded
 * waits (never timing assertions). */
#ifndef BASALT_TESTS_SERVER_NODE_TEST_H
#define BASALT_TESTS_SERVER_NODE_TEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tmpdir.h"
#include "server/srv.h"

/* Opens a node on dir with test-sized caches; life_time is [gc] life-time (NULL: default).
 * gc_tick_ms 0 = an hour (GC runs only when triggered). Waits until it is ready. Returns
 * BS_OK and *out, or the open error (err filled). */
int nt_open(const char *dir, const char *life_time, srv_node **out, bs_err *err);
/* nt_open with extra settings: NULL-terminated (path, value) pairs applied last. */
int nt_open_cfg(const char *dir, const char *const *extra, srv_node **out, bs_err *err);
/* nt_open_cfg with PD's GC tick (and so the sweeps) every gc_tick_ms. */
int nt_open_ticking(const char *dir, const char *const *extra, int64_t gc_tick_ms,
                    srv_node **out, bs_err *err);
/* Finished GC sweeps; bounded waits until more than `above` sweeps finished, or until the
 * GC safe point rose above `above`. */
uint64_t nt_gc_sweeps(srv_node *n);
bool nt_wait_sweeps(srv_node *n, uint64_t above, int timeout_ms);
bool nt_wait_safe_point(srv_node *n, uint64_t above, int timeout_ms);
/* nt_open that must succeed. */
srv_node *nt_must_open(const char *dir, const char *life_time);

/* API v2 raw key "r\0\0\0" ‖ user. Replaces *b's contents; returns its slice. */
bs_slice nt_key(bs_buf *b, bs_slice user);

/* A synchronous raw put through txn, retried while the causal ts or the store is
 * transiently unavailable (nt_retryable), as client/ would. Returns the final code. */
int nt_put(srv_node *n, bs_slice user, bs_slice value, uint64_t ttl_ms);
int nt_put_str(srv_node *n, const char *user, const char *value, uint64_t ttl_ms);
/* txn_raw_get of user; BS_OK with *out, BS_NOTFOUND, or an error. */
int nt_get(srv_node *n, bs_slice user, bs_buf *out);

/* Asynchronous puts, many in flight: the batch tracks every request and re-issues those
 * that failed transiently. */
typedef struct nt_batch {
    srv_node *n;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t total, done, ok, retries;
    int last_code;
} nt_batch;
/* Issues key(i), value(i) for i in [0, count) all at once and waits (bounded) until every
 * one completed with a final code. Returns the number acknowledged OK. */
typedef void (*nt_kv_fn)(size_t i, bs_buf *key_user, bs_buf *value);
size_t nt_put_many(srv_node *n, size_t count, nt_kv_fn kv, nt_batch *stats);

/* Polls cond(arg) every 5 ms until true or timeout_ms; returns the last result. */
bool nt_wait(bool (*cond)(void *), void *arg, int timeout_ms);
void nt_sleep_ms(int ms);

/* True for a write failure a client retries after backing off. */
bool nt_retryable(int code, int kind);

#endif
