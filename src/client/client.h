/* client.h -- the cluster client: the API front ends (resp/, ctl/, tests, benchmarks) use to
 * read and write RawKV data without knowing about Regions, Raft or leaders.
 *
 * A request names a keyspace and user keys; the client builds API v2 keys ('r' ‖ keyspace[3]
 * ‖ key, PROTOCOL.md §4.2), finds each key's Region in its region cache (filled from PD),
 * sends the request to the Region's leader and, on a region error (NotLeader, EpochNotMatch,
 * RegionNotFound, KeyNotInRegion, ServerIsBusy, StaleCommand) or a transient store condition
 * (a key being written, causal timestamps not ready), refreshes its cache and retries with
 * backoff, as client-go does, until the request's backoff budget is spent. When the leader is
 * the local store, the call goes in-process (no serialization); remote leaders come with the
 * multi-store work.
 *
 * Reads are linearizable: served on the leader under a valid lease, otherwise after a
 * ReadIndex. Writes are acknowledged only once applied (hence durable: every Raft entry is
 * fsynced before it commits).
 *
 * Retries (client-go's rules): region errors, a busy store and causal timestamps not yet
 * synced mean nothing was done; the request is retried with backoff (2 ms doubling to
 * 500 ms) until max_backoff_ms of sleeping is spent, then fails with the last error. A
 * write whose proposal was accepted and then dropped (BS_EPROPOSAL_DROPPED: leadership
 * lost, store closing) may still commit under the next leader: put, delete, MSET and
 * delete_all are retried (applying them twice changes nothing), but read-modify-writes,
 * CAS and the other multi-key ops fail with code BS_EPROPOSAL_DROPPED and a msg starting
 * "write outcome unknown", since a blind retry could apply them twice or report a wrong
 * result.
 *
 * Every call is asynchronous: done(arg, res) is called exactly once, on the caller's thread
 * before the call returns (lease reads, validation errors), on the store's raftstore thread,
 * or on the client's retry thread (retries, reads after a ReadIndex, scans with a limit
 * above 256 and client_count, which must not run on a network thread). Callbacks must not
 * block. res is owned by the client and valid only during the callback; the callback may
 * move buffers out of it, leaving them empty (take res->value and set it to BS_BUF_INIT;
 * take res->pairs and txn_pairs_init() it).
 *
 * Thread affinity: a client may be used from any number of threads at once. */
#ifndef BASALT_CLIENT_CLIENT_H
#define BASALT_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "common/buf.h"
#include "common/err.h"
#include "pd/pd.h"
#include "txn/txn.h"

/* The largest keyspace id (24 bits). */
#define CLIENT_KEYSPACE_MAX 0xFFFFFFu

typedef struct client client;

typedef struct client_options {
    pd_core *pd;          /* borrowed; in-process PD (embedded); outlives the client */
    cluster_store *store; /* borrowed; the local store */
    txn_store *txn;       /* borrowed; the local store's raw layer over `store` */
    /* Total time one request may spend backing off before it fails with the last error
     * (client-go's raw client uses 20 s for most paths). */
    uint32_t max_backoff_ms; /* default 20000 */
} client_options;

/* Fills the defaults (pointers NULL). */
void client_options_init(client_options *o);

/* Creates a client (starts its retry thread). opts is copied. BS_OK and *out (caller owns;
 * client_free), or BS_EINVAL. */
int client_new(const client_options *opts, client **out, bs_err *err);
/* Fails requests still backing off (BS_EPROPOSAL_DROPPED, "client closed"), waits for every
 * callback in flight to return, stops the retry thread and frees. c may be NULL. Must not be
 * called from a client callback. The store, txn store and PD must still be open: requests
 * inside the store call back from it. Calls made meanwhile (from callbacks) fail with
 * "client closed"; calls after it returned are a use after free. */
void client_free(client *c);

/* ---- results ------------------------------------------------------------------------- */

typedef struct client_result {
    /* BS_OK; BS_NOTFOUND for a get / get_ttl of a missing, deleted or expired key; or the
     * error. kind says which txn error it was (TXN_ERR_NONE for region / client errors);
     * msg is the reply text (Redis's text for the Redis kinds, without the "ERR " prefix;
     * "" when ok). */
    int code;
    txn_error_kind kind;
    char msg[BS_ERR_MSG_MAX];

    bs_buf value;      /* get: the value */
    uint64_t ttl_ms;   /* get_ttl: remaining milliseconds, 0 = no TTL */
    txn_pairs pairs;   /* batch_get, scan: USER keys (prefix stripped) and values */
    uint64_t count;    /* count: live keys; multi DEL/EXISTS-style ops: keys affected */
    txn_rmw_result rmw; /* rmw: what the read-modify-write did */
    bool succeed;       /* cas */
    bool previous_not_exist;
    bs_buf previous_value;
    bool applied;       /* multi: the condition held and the write was done */
} client_result;

typedef void (*client_done_fn)(void *arg, client_result *res);

/* ---- reads ----------------------------------------------------------------------------- */

/* GET: value, or BS_NOTFOUND. */
void client_get(client *c, uint32_t keyspace, bs_slice key, client_done_fn done, void *arg);

/* TTL: remaining ms (0 = persistent) in res->ttl_ms, or BS_NOTFOUND. */
void client_get_ttl(client *c, uint32_t keyspace, bs_slice key, client_done_fn done,
                    void *arg);

/* MGET: the live keys among keys[0..n) in res->pairs, in request order (missing keys
 * omitted; a key asked twice appears twice). Keys may span Regions (not atomic across
 * Regions: each Region is read at its own point in time). */
void client_batch_get(client *c, uint32_t keyspace, const bs_slice *keys, size_t n,
                      client_done_fn done, void *arg);

typedef struct client_scan_req {
    uint32_t keyspace;
    /* Forward: user keys in [start, end) ascending; reverse: [end, start) descending, as
     * RawScan. An empty end (has_end false) is the end of the keyspace; in reverse an empty
     * start is the end of the keyspace. */
    bs_slice start;
    bs_slice end;
    bool has_end;
    uint32_t limit; /* > 0 */
    bool key_only;
    bool reverse;
} client_scan_req;

/* SCAN: up to limit live pairs in order across every Region of the range (each Region's
 * part is clipped to the Region). */
void client_scan(client *c, const client_scan_req *req, client_done_fn done, void *arg);

/* DBSIZE: the number of live keys in the keyspace in res->count. */
void client_count(client *c, uint32_t keyspace, client_done_fn done, void *arg);

/* ---- single-key writes ------------------------------------------------------------------ */

/* SET key value with expiry now + ttl_ms (0 = none). */
void client_put(client *c, uint32_t keyspace, bs_slice key, bs_slice value, uint64_t ttl_ms,
                client_done_fn done, void *arg);

/* Single-key delete (writes the delete marker even for an absent key). */
void client_delete(client *c, uint32_t keyspace, bs_slice key, client_done_fn done,
                   void *arg);

/* The closed set of single-key read-modify-writes (txn.h's txn_rmw_params), executed on
 * the leader under the key's latch. res->rmw reports the outcome; Redis errors (not an
 * integer, overflow...) come back with their kind and text. */
void client_rmw(client *c, uint32_t keyspace, bs_slice key, const txn_rmw_params *p,
                client_done_fn done, void *arg);

/* Compare-and-swap (txn.h's txn_cas_req; key is a user key). */
void client_cas(client *c, uint32_t keyspace, const txn_cas_req *req, client_done_fn done,
                void *arg);

/* ---- multi-key writes ------------------------------------------------------------------- */

/* Multi-key operations Redis makes atomic. Until transactions span Regions, every key of one
 * call must lie in ONE Region: otherwise nothing is done and the call fails with
 * code BS_ERANGE, kind TXN_ERR_INVALID_ARGUMENT and msg "-CROSSREGION Keys in request don't
 * hash to the same region" (a Redis-cluster-style error a client can recognise; a msg that
 * starts with '-' carries its own error code). Within a
 * Region the operation runs under the latches of all its keys as one Raft entry (txn.h's
 * txn_raw_multi). Expired keys count as absent. */
typedef enum client_multi_op {
    CLIENT_MULTI_MSET,     /* keys[i] = values[i] for all i (TTL cleared) */
    CLIENT_MULTI_MSETNX,   /* the same, only if no key exists: applied */
    CLIENT_MULTI_DEL,      /* delete all; count = keys that existed (a key named twice counts
                            * once); delete markers are written only for live keys */
    CLIENT_MULTI_EXISTS,   /* count = live keys (a key named twice counts twice); no write */
    CLIENT_MULTI_RENAME,   /* keys[0] → keys[1] with its TTL; BS_NOTFOUND "no such key";
                            * RENAME k k of a live k: OK, nothing written */
    CLIENT_MULTI_RENAMENX, /* the same unless keys[1] exists: applied (RENAMENX k k: false) */
    CLIENT_MULTI_COPY,     /* keys[0] copied to keys[1] with its TTL unless keys[1] exists
                            * (or CLIENT_MULTI_REPLACE): applied; absent keys[0]: false;
                            * keys[0] == keys[1]: BS_EINVAL, kind TXN_ERR_INVALID_ARGUMENT,
                            * "source and destination objects are the same" (Redis 7) */
} client_multi_op;

#define CLIENT_MULTI_REPLACE 0x01u

typedef struct client_multi_req {
    client_multi_op op;
    uint32_t keyspace;
    const bs_slice *keys;   /* n keys (RENAME/RENAMENX/COPY: exactly 2) */
    const bs_slice *values; /* MSET/MSETNX: n values; otherwise NULL */
    size_t n;
    unsigned flags;         /* CLIENT_MULTI_REPLACE */
} client_multi_req;

void client_multi(client *c, const client_multi_req *req, client_done_fn done, void *arg);

/* Deletes every key of the keyspace (FLUSHDB), or of every RawKV keyspace when keyspace is
 * CLIENT_ALL_KEYSPACES (FLUSHALL), Region by Region. res->code BS_OK when all are gone. */
#define CLIENT_ALL_KEYSPACES UINT32_MAX
void client_delete_all(client *c, uint32_t keyspace, client_done_fn done, void *arg);

/* ---- observability ------------------------------------------------------------------------ */

typedef struct client_store_info {
    uint64_t store_id, cluster_id;
    size_t regions, leaders; /* Regions on the store; those of PD's Regions it leads */
    cluster_store_stats stats; /* raft and apply counters of the local store */
    uint64_t requests, retries, region_errors; /* the client's own counters */
    uint64_t read_indexes; /* reads (and checks before RMW/CAS/multi) that needed a ReadIndex
                            * because the leader's lease was not valid */
} client_store_info;

/* Synchronous snapshot of the local store's figures (INFO's basalt section). */
void client_store_info_get(client *c, client_store_info *out);


#endif
