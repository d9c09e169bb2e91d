/* grpc_int.h -- declarations shared by the gRPC service files of src/server/ (srv_grpc_*.c).
 * Not seen by other modules; srv_grpc.h is their contract.
 *
 *   grpc_util.c     call plumbing (unary and synchronous-stream wrappers over net_method),
 *                   an arena for building response messages, packing, protobuf wire helpers;
 *   grpc_convert.c  pd/cluster structs <-> metapb messages, region errors -> errorpb;
 *   grpc_pd.c       pdpb.PD unary methods; grpc_pd_stream.c its streams (Tso,
 *                   RegionHeartbeat, QueryRegion);
 *   grpc_meta.c     keyspacepb, the etcd subset and grpc.health.v1;
 *   grpc_tikv.c     the store service: ops, Context checks, replies;
 *   grpc_tikv_raw.c the Raw family; grpc_tikv_txn.c the Kv* family;
 *   grpc_tikv_batch.c BatchCommands;
 *   grpc_pool.c     the store service's worker threads (long requests). */
#ifndef BASALT_SERVER_GRPC_INT_H
#define BASALT_SERVER_GRPC_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "errorpb.pb-c.h"
#include "kvrpcpb.pb-c.h"
#include "metapb.pb-c.h"
#include "pdpb.pb-c.h"
#include "server/srv_grpc.h"

/* ======================================================================================
 * Arena: response messages are built from arena memory and freed in one go after packing.
 * ==================================================================================== */

typedef struct srv_grpc_arena_blk srv_grpc_arena_blk;
typedef struct srv_grpc_arena {
    srv_grpc_arena_blk *head;
} srv_grpc_arena;

#define SRV_GRPC_ARENA_INIT ((srv_grpc_arena){NULL})

/* Zeroed, 16-byte aligned memory that lives until srv_grpc_arena_free. Never NULL. */
void *srv_grpc_arena_alloc(srv_grpc_arena *a, size_t n);
/* A NUL-terminated copy of s (NULL gives ""). */
char *srv_grpc_arena_strdup(srv_grpc_arena *a, const char *s);
/* A copy of bytes as ProtobufCBinaryData. */
ProtobufCBinaryData srv_grpc_arena_bytes(srv_grpc_arena *a, bs_slice s);
void srv_grpc_arena_free(srv_grpc_arena *a); /* frees everything; the arena is empty again */

#define SRV_GRPC_NEW(a, type) ((type *)srv_grpc_arena_alloc((a), sizeof(type)))
#define SRV_GRPC_NEWN(a, type, n)                                                                  \
    ((type *)srv_grpc_arena_alloc((a), sizeof(type) * ((n) ? (n) : 1)))

/* Borrowed view of ProtobufCBinaryData. */
static inline bs_slice srv_grpc_bytes(ProtobufCBinaryData b)
{
    return bs_slice_make(b.data, b.len);
}
/* ProtobufCBinaryData borrowing s (valid as long as s is). */
static inline ProtobufCBinaryData srv_grpc_pb_bytes(bs_slice s)
{
    ProtobufCBinaryData b = {s.len, (uint8_t *)s.ptr};
    return b;
}

/* ======================================================================================
 * Packing and the protobuf wire format
 * ==================================================================================== */

/* Appends the packed bytes of m to out. */
void srv_grpc_pack(const ProtobufCMessage *m, bs_buf *out);

/* Unpacks bytes as a message of desc. Returns the message (caller owns:
 * protobuf_c_message_free_unpacked(m, NULL)) or NULL with msg set (grpc-go's wording:
 * "grpc: error unmarshalling request: ..."). */
ProtobufCMessage *srv_grpc_unpack(const ProtobufCMessageDescriptor *desc, bs_slice bytes, char *msg,
                                  size_t msg_cap);

#define SRV_GRPC_WIRE_VARINT 0
#define SRV_GRPC_WIRE_I64 1
#define SRV_GRPC_WIRE_LEN 2
#define SRV_GRPC_WIRE_I32 5

/* Appends a field key (field << 3 | wire_type). */
void srv_grpc_wire_key(bs_buf *b, uint32_t field, int wire_type);
/* Appends a length-delimited field. */
void srv_grpc_wire_bytes(bs_buf *b, uint32_t field, bs_slice bytes);

/* One field of a message being read: *in advances past it. Returns BS_OK with the field
 * number, wire type and value (varint for VARINT/I64/I32, bytes for LEN: borrowed from in),
 * BS_NOTFOUND at the end of input, or BS_ECORRUPT (bad key, truncated value, field 0,
 * groups). */
int srv_grpc_wire_next(bs_slice *in, uint32_t *field, int *wire_type, uint64_t *num,
                       bs_slice *bytes);

/* ======================================================================================
 * Call plumbing
 * ==================================================================================== */

/* Returned by a synchronous stream handler that has nothing to send for this message. */
#define SRV_GRPC_NO_REPLY (-1)

struct srv_grpc_binding;

/* A synchronous handler: decodes req (borrowed), appends the response to *resp and returns
 * NET_GRPC_OK; or returns another status with msg set (the call ends with it). A stream
 * handler may return SRV_GRPC_NO_REPLY. b is the method's binding (b->svc, b->extra). */
typedef int (*srv_grpc_sync_fn)(const struct srv_grpc_binding *b, bs_slice req, bs_buf *resp,
                                char *msg, size_t msg_cap);
/* An asynchronous unary handler: owns the call from here on and must finish it exactly
 * once (on the loop thread). req is borrowed for the duration of the call only. */
typedef void (*srv_grpc_async_fn)(struct srv_grpc_binding *b, net_call *call, bs_slice req);

typedef struct srv_grpc_binding {
    srv_grpc_sync_fn sync;
    srv_grpc_async_fn async;
    void *svc;
    const void *extra; /* handler-specific (the store's command table row) */
} srv_grpc_binding;

/* Register a method whose callbacks dispatch to b (borrowed: it must outlive the server,
 * so services embed their bindings).
 *   unary_sync:  one request, sync handler, then finish;
 *   unary_async: one request, async handler owns the finish;
 *   stream_sync: bidi stream, each request message answered synchronously in order (or not
 *                at all with SRV_GRPC_NO_REPLY); a failing message ends the call with its
 *                status; half-close ends it OK. */
int srv_grpc_add_unary_sync(net_server *s, const char *path, srv_grpc_binding *b, bs_err *err);
int srv_grpc_add_unary_async(net_server *s, const char *path, srv_grpc_binding *b, bs_err *err);
int srv_grpc_add_stream_sync(net_server *s, const char *path, srv_grpc_binding *b, bs_err *err);

/* ======================================================================================
 * Conversions (grpc_convert.c)
 * ==================================================================================== */

Metapb__Peer *srv_grpc_peer_to_pb(srv_grpc_arena *a, const pd_peer *p);
/* The region borrows r's key bytes: r must outlive the packing. */
Metapb__Region *srv_grpc_region_to_pb(srv_grpc_arena *a, const pd_region *r);
/* Copies a metapb.Region into *out (initialised; replaced). BS_OK, or BS_EINVAL when it has
 * no id or the peers are malformed (err set). m may be NULL (BS_EINVAL). */
int srv_grpc_region_from_pb(const Metapb__Region *m, pd_region *out, bs_err *err);
void srv_grpc_peer_from_pb(const Metapb__Peer *m, pd_peer *out); /* m NULL gives zeros */

/* The store borrows s's strings. */
Metapb__Store *srv_grpc_store_to_pb(srv_grpc_arena *a, const pd_store *s);
/* BS_OK, or BS_EINVAL when m is NULL or a string does not fit pd_store (err set). */
int srv_grpc_store_from_pb(const Metapb__Store *m, pd_store *out, bs_err *err);

/* errorpb.Error for a region error from cluster/ (message: the human text, may be NULL). */
Errorpb__Error *srv_grpc_region_error_to_pb(srv_grpc_arena *a, const cluster_region_error *e,
                                            const char *message);

/* ======================================================================================
 * Store service internals shared by srv_grpc_tikv*.c
 * ==================================================================================== */

/* ======================================================================================
 * Worker pool (grpc_pool.c)
 * ==================================================================================== */

typedef struct srv_grpc_pool srv_grpc_pool;

/* Starts `threads` workers named name (at most 15 characters are kept) with room for
 * max_queued waiting jobs. BS_OK and *out (caller owns: srv_grpc_pool_free), BS_EINVAL for
 * a zero count, BS_EINTERNAL when a thread cannot be created (*out NULL). Any thread. */
int srv_grpc_pool_new(const char *name, size_t threads, size_t max_queued, srv_grpc_pool **out,
                      bs_err *err);
/* Queues run(arg) for a worker (jobs start in submission order). BS_OK; BS_EBUSY when
 * max_queued jobs wait already; BS_ESTATE after stop. On an error nothing runs and the
 * caller still owns arg. Once queued, exactly one of run(arg) (on a worker) or drop(arg) (on
 * the thread calling srv_grpc_pool_stop, when the job had not started) is called. Any
 * thread. */
int srv_grpc_pool_submit(srv_grpc_pool *p, net_fn run, net_fn drop, void *arg);
/* Refuses new jobs, waits for the running ones, then drops the queued ones. Idempotent;
 * any thread but a worker's. p may be NULL. */
void srv_grpc_pool_stop(srv_grpc_pool *p);
void srv_grpc_pool_free(srv_grpc_pool *p); /* stops first; NULL ok */

typedef struct srv_tikv_op srv_tikv_op;

/* Where a command's key-level error goes (TiKV: the raw commands' `error` string; a KvPair
 * for raw reads that return pairs; a KeyError with `abort` for the Kv* family). */
typedef enum srv_tikv_err_place {
    SRV_TIKV_ERR_STRING = 0, /* string at err_field */
    SRV_TIKV_ERR_KVPAIR,     /* KvPair{error: KeyError{abort}} at err_field */
    SRV_TIKV_ERR_KEYERROR,   /* KeyError{abort} at err_field (also right for a repeated one) */
} srv_tikv_err_place;

/* One row per store command: its method, BatchCommands oneof number, request and response
 * types, the TiKV CommandKind name used in error texts, its key space, where a key error
 * goes, and its handler. */
typedef struct srv_tikv_cmd_def {
    const char *method; /* "RawGet" */
    uint32_t batch_no;  /* oneof number in BatchCommands, 0 = unary only */
    const ProtobufCMessageDescriptor *req_desc;
    const ProtobufCMessageDescriptor *resp_desc;
    const char *cmd_kind; /* "raw_get" */
    bool txn;             /* TxnKV command (keys 'x' in V2) rather than RawKV ('r') */
    uint8_t err_place;    /* srv_tikv_err_place */
    uint8_t err_field;
    void (*run)(srv_tikv_op *op);
} srv_tikv_cmd_def;

/* SplitRegion's handler (grpc_tikv_split.c), a row of the raw table. */
void srv_tikv_run_split_region(srv_tikv_op *op);

/* The raw commands (grpc_tikv_raw.c) and the Kv* commands (grpc_tikv_txn.c). */
extern const srv_tikv_cmd_def srv_tikv_raw_cmds[];
extern const size_t srv_tikv_raw_cmd_count;
extern const srv_tikv_cmd_def srv_tikv_txn_cmds[];
extern const size_t srv_tikv_txn_cmd_count;
/* Every command in one sequence: index i < srv_tikv_cmd_count(). */
size_t srv_tikv_cmd_count(void);
const srv_tikv_cmd_def *srv_tikv_cmd_at(size_t i);
/* The row whose batch_no is no, or NULL. */
const srv_tikv_cmd_def *srv_tikv_cmd_by_batch_no(uint32_t no);

/* A timer the store service arms on a loop (a delayed Empty answer, a read retry). The
 * service keeps every armed one in a list, so srv_grpc_tikv_free can drop those that never
 * fired because the loop stopped first (loop thread only, or after the loop stopped). */
typedef struct srv_tikv_timer {
    struct srv_tikv_timer *prev, *next;
    srv_grpc_tikv *svc;
    net_timer *t;
    void (*fire)(void *arg); /* on the loop, once */
    void (*drop)(void *arg); /* instead of fire, at srv_grpc_tikv_free */
    void *arg;
} srv_tikv_timer;

void srv_tikv_timer_start(srv_grpc_tikv *svc, net_loop *loop, int64_t delay_ms,
                          void (*fire)(void *arg), void (*drop)(void *arg), void *arg);

struct srv_tikv_bstream;

struct srv_grpc_tikv {
    net_server *server;
    cluster_store *store;
    txn_store *txn;
    srv_grpc_tikv_options opts;
    /* The highest safe ts answered for the whole key space: safe for every range, so no
     * answer goes below it (GetStoreSafeTS). */
    _Atomic uint64_t safe_ts_floor;
    _Atomic int64_t ops_live;   /* ops started and not yet freed (shutdown diagnostics) */
    srv_grpc_binding *bindings; /* one per registered method; owned */
    size_t n_bindings;
    srv_grpc_binding batch_binding;
    srv_grpc_pool *pool; /* long requests (srv_tikv_offload); owned */
    /* Loop-thread state (several loops are not supported: one server per service). */
    srv_tikv_timer *timers;           /* armed timers */
    struct srv_tikv_bstream *streams; /* BatchCommands streams whose state is alive */
    /* Ops that completed after their loop stopped (any thread): finished and freed by
     * srv_grpc_tikv_free. */
    pthread_mutex_t orphan_mu;
    srv_tikv_op *orphans; /* guarded by orphan_mu */
};

/* Frees the state of every BatchCommands stream still alive (srv_grpc_tikv_free). */
void srv_tikv_batch_drop_all(srv_grpc_tikv *svc);

/* Where a finished op goes: called on the loop thread with op->status / op->resp set; takes
 * ownership of op (frees it with srv_tikv_op_free). */
typedef void (*srv_tikv_sink_fn)(srv_tikv_op *op);

struct srv_tikv_op {
    srv_grpc_tikv *svc;
    const srv_tikv_cmd_def *def;
    net_loop *loop;
    srv_tikv_sink_fn sink;
    void *sink_arg;      /* the unary net_call, or the BatchCommands stream */
    uint64_t request_id; /* BatchCommands request id */

    ProtobufCMessage *req; /* owned (free_unpacked) */
    Kvrpcpb__Context *ctx; /* borrowed from req; NULL when absent */
    cluster_region region; /* the Context's region as checked (owned copy) */

    /* Outcome. status != OK refuses the whole request with a gRPC status. */
    int status;
    char status_msg[BS_ERR_MSG_MAX];
    bs_buf resp; /* packed response when status == OK */

    /* Continuations of asynchronous steps (run on the loop thread). */
    void (*cont)(srv_tikv_op *op);
    int async_code;
    char async_msg[BS_ERR_MSG_MAX];
    bool async_ts_not_ready;
    /* The txn result of a write (copied out of the callback). */
    txn_error_kind txn_kind;
    bool cas_succeed, cas_prev_not_exist;
    bs_buf cas_prev_value;
    /* A Kv* write's response packer, run on the thread that completes the command. */
    void (*pack)(srv_tikv_op *op, const txn_kv_result *res, bs_buf *out);
    bool reading;     /* inside srv_tikv_read: cont is the read */
    bool offload;     /* the read may take long: srv_tikv_read runs it on the pool */
    bool on_worker;   /* running on a pool thread: finishing posts to the loop first */
    int busy_retries; /* reads retried because a key was being written */
    srv_tikv_op *orphan_next;
};

/* Creates an op for def over the request bytes (decoded here). On a decode failure the op
 * is returned with status INTERNAL and nothing to run. */
srv_tikv_op *srv_tikv_op_new(srv_grpc_tikv *svc, const srv_tikv_cmd_def *def, bs_slice req,
                             net_loop *loop, srv_tikv_sink_fn sink, void *sink_arg);
/* Runs the op: cluster id check, then def->run. The op always reaches its sink, now or later
 * (on loop). Loop thread. */
void srv_tikv_op_start(srv_tikv_op *op);
void srv_tikv_op_free(srv_tikv_op *op);

/* Finishing an op (each ends in the sink; call exactly one, once). */
void srv_tikv_op_reply(srv_tikv_op *op, const ProtobufCMessage *resp); /* packs resp */
void srv_tikv_op_reply_error(srv_tikv_op *op, const char *text);       /* `error` (or KvPair) */
void srv_tikv_op_reply_region_error(srv_tikv_op *op, const Errorpb__Error *e);
void srv_tikv_op_refuse(srv_tikv_op *op, int status, const char *msg); /* gRPC status */

/* Goes on with fn(op) on op's loop (from any thread). When the loop has stopped the op is
 * parked for srv_grpc_tikv_free instead. */
void srv_tikv_op_post(srv_tikv_op *op, net_fn fn);

/* Checks used by the handlers; each returns true to go on, or false after replying. */
bool srv_tikv_check_cf(srv_tikv_op *op, const char *cf);
bool srv_tikv_check_keys(srv_tikv_op *op, const bs_slice *keys, size_t n);
bool srv_tikv_check_ranges(srv_tikv_op *op, const bs_slice *starts, const bs_slice *ends, size_t n);
/* The Context against the local region (fills op->region). */
bool srv_tikv_check_context(srv_tikv_op *op);
/* key (an API v2 key as sent) lies in op->region: [start, end), or [start, end] when
 * inclusive (TiKV's check_key_in_region_inclusive). */
bool srv_tikv_check_key_in_region(srv_tikv_op *op, bs_slice key, bool inclusive);
/* Every key in op->region ([start, end)); false after replying KeyNotInRegion. */
bool srv_tikv_check_keys_in_region(srv_tikv_op *op, const bs_slice *keys, size_t n);
/* Borrowed views of n request byte fields (a new array, at least one element: bs_free). */
bs_slice *srv_tikv_slices_of(const ProtobufCBinaryData *v, size_t n);
/* min(a, b) of two range ends where empty means +inf. */
bs_slice srv_tikv_min_end(bs_slice a, bs_slice b);
/* op->region's bounds as raw keys (MCE-decoded); an empty bound stays empty. BS_OK or
 * BS_ECORRUPT (after replying an error). */
int srv_tikv_region_raw_bounds(srv_tikv_op *op, bs_buf *start, bs_buf *end);

/* At most this many keys make a request short enough for the loop thread (DESIGN.md:
 * "point reads and short scans"); a larger limit or batch, or an unbounded one, sets
 * op->offload. */
#define SRV_TIKV_INLINE_KEYS 256

/* Reads: runs read(op) once the read may be served (lease, or after a ReadIndex): on the
 * loop, or on the service's pool when op->offload is set. */
void srv_tikv_read(srv_tikv_op *op, void (*read)(srv_tikv_op *op));
/* Runs fn(op) on a pool thread (loop thread to call). Inside fn the op is finished as
 * anywhere else: the reply is posted back to the loop. When fn hands the op to an
 * asynchronous API instead of finishing it, fn clears op->on_worker first. A full queue is
 * answered ServerIsBusy (a response without region_error: all defaults), a stopped pool
 * CANCELLED. */
void srv_tikv_offload(srv_tikv_op *op, void (*fn)(srv_tikv_op *op));
/* Inside a read: a key it reads has a write pending (TXN_ERR_KEY_BEING_WRITTEN); run the
 * read again shortly (a loop timer), or answer ServerIsBusy after too many tries. */
void srv_tikv_read_retry_later(srv_tikv_op *op);
/* Writes: a txn_done_fn for txn_raw_* with op as arg; copies the result and continues
 * with cont(op) on the loop (set op->cont first). Raft-level failures are answered as
 * region errors without calling cont. */
void srv_tikv_write_done(void *arg, const txn_result *res);
/* Replies the error of a txn read (kind/code) as TiKV would. */
void srv_tikv_reply_txn_error(srv_tikv_op *op, const txn_error *e);

/* TiKV's wording. */
const char *srv_tikv_api_version_name(int v);

/* ---- BatchCommands (grpc_tikv_batch.c) ---- */
int srv_tikv_batch_register(srv_grpc_tikv *svc, net_server *s, bs_err *err);
/* Splits a BatchCommandsRequest into its requests and ids. *reqs and *ids are new arrays
 * (caller frees with bs_free, also on error) borrowing from msg. BS_OK or BS_ECORRUPT. */
int srv_tikv_batch_parse(bs_slice msg, bs_slice **reqs, size_t *n_reqs, uint64_t **ids,
                         size_t *n_ids);
/* Reads one BatchCommandsRequest.Request: *cmd is the oneof member's field number (0 when
 * none is set; the last one set wins) and *body its bytes (borrowed). BS_OK or
 * BS_ECORRUPT. */
int srv_tikv_batch_parse_request(bs_slice req, uint32_t *cmd, bs_slice *body);

/* ======================================================================================
 * PD service internals shared by srv_grpc_pd*.c and grpc_meta.c
 * ==================================================================================== */

#define SRV_GRPC_PD_MAX_BINDINGS 40
#define SRV_GRPC_URL_MAX 320

struct srv_grpc_pd {
    net_server *server;
    pd_core *pd;
    char name[64];
    char client_url[SRV_GRPC_URL_MAX]; /* "" = computed from advertise_host and the port */
    char advertise_host[256];
    char cluster_version[64];
    uint64_t member_id; /* non-zero, stable for the cluster */
    srv_grpc_binding b[SRV_GRPC_PD_MAX_BINDINGS];
    size_t n_b;
};

/* The URL clients should use ("http://host:port"). */
void srv_grpc_pd_client_url(const srv_grpc_pd *svc, char *out, size_t cap);
/* PD's validateRequest: NET_GRPC_OK, or FAILED_PRECONDITION with msg set. A missing header
 * counts as cluster id 0. */
int srv_grpc_pd_check_header(const srv_grpc_pd *svc, const Pdpb__RequestHeader *h, char *msg,
                             size_t cap);
/* A response header: the cluster id, and an error when type != PD_ERR_OK. */
Pdpb__ResponseHeader *srv_grpc_pd_header(srv_grpc_arena *a, const srv_grpc_pd *svc,
                                         pd_error_type type, const char *message);
/* A region as pdpb messages carry it: region, leader (an empty Peer when unknown, as PD
 * sends), down and pending peers. */
void srv_grpc_pd_region_parts(srv_grpc_arena *a, const pd_region_info *ri, Metapb__Region **region,
                              Metapb__Peer **leader, size_t *n_down, Pdpb__PeerStats ***down,
                              size_t *n_pending, Metapb__Peer ***pending);

/* The PD port's methods are table rows (grpc_pd.c, grpc_pd_stream.c, grpc_meta.c) served
 * by one wrapper, which does what every handler would: decode the request (INTERNAL when it
 * does not), PD's validateRequest on its pdpb.RequestHeader (field 1) unless the row is
 * exempt, a zeroed response of the row's type in an arena, the row's serve function, then
 * -- when the response has a pdpb.ResponseHeader at field 1 that serve left unset -- the
 * header from c->rc/et/err, packing, and freeing everything. */
typedef struct srv_grpc_pd_defer srv_grpc_pd_defer;

typedef struct srv_grpc_pd_call {
    srv_grpc_pd *svc;
    const void *req;   /* the decoded request (borrowed; cast to the row's type) */
    void *resp;        /* the response of the row's type, initialised; lives in *a */
    srv_grpc_arena *a; /* memory for everything the response points to */
    int rc;            /* BS_OK: an OK header; otherwise a header error ... */
    pd_error_type et;  /* ... of this type (PD_ERR_OK: the type of rc) ... */
    bs_err err;        /* ... with err.msg as its message */
    char *msg;         /* the text of a gRPC status serve returns (cap bytes) */
    size_t cap;
    srv_grpc_pd_defer *deferred; /* run after packing (srv_grpc_pd_defer_fn) */
} srv_grpc_pd_call;

/* Builds c->resp. Returns NET_GRPC_OK, SRV_GRPC_NO_REPLY (a stream message with no answer)
 * or another gRPC status with c->msg set (nothing is sent; the call ends with it). */
typedef int (*srv_grpc_pd_fn)(srv_grpc_pd_call *c);

enum {
    SRV_GRPC_PD_STREAM = 1,         /* a bidi stream answered message by message, else unary */
    SRV_GRPC_PD_ANY_CLUSTER_ID = 2, /* no cluster id check (GetMembers, the etcd calls) */
    SRV_GRPC_PD_BOOTSTRAPPED = 4,   /* before bootstrap serve is not called and the header
                                     * says NOT_BOOTSTRAPPED (PD's GC calls) */
};

typedef struct srv_grpc_pd_method {
    const char *path;
    const ProtobufCMessageDescriptor *req_desc;
    const ProtobufCMessageDescriptor *resp_desc;
    unsigned flags; /* SRV_GRPC_PD_* */
    srv_grpc_pd_fn serve;
} srv_grpc_pd_method;

/* Runs fn(arg) once the response is packed: for what the response borrows from (a
 * region list, a store array). arg is borrowed until then. */
void srv_grpc_pd_defer_fn(srv_grpc_pd_call *c, void (*fn)(void *arg), void *arg);

/* Registers rows[0..n) on s for svc (rows: static, borrowed). BS_OK or
 * net_server_add_method's error. */
int srv_grpc_pd_add_methods(srv_grpc_pd *svc, net_server *s, const srv_grpc_pd_method *rows,
                            size_t n, bs_err *err);

/* The rows of the streams (grpc_pd_stream.c) and of keyspace/etcd (grpc_meta.c). */
extern const srv_grpc_pd_method srv_grpc_pd_stream_methods[];
extern const size_t srv_grpc_pd_stream_method_count;
extern const srv_grpc_pd_method srv_grpc_meta_methods[];
extern const size_t srv_grpc_meta_method_count;

#endif
