/* net.h -- event loops and gRPC over HTTP/2: the contract the rest of Basalt sees.
 *
 * Basalt serves TiKV's gRPC protocol and talks gRPC between stores, so it needs a gRPC
 * server and client in C. This module is the only one that includes libevent internals
 * and nghttp2: it owns the event loops, speaks HTTP/2 (h2c with prior knowledge, or TLS
 * with ALPN "h2") and gRPC's length-prefixed message framing. It knows nothing about TiKV:
 * a service is a table of (full method path -> callbacks), and messages are opaque bytes
 * that callers encode and decode with protobuf-c.
 *
 * Threads. A net_loop is one libevent base driven by one thread of its own. Every server,
 * connection, call and timer lives on exactly one loop and may only be touched on that
 * loop's thread, except where a function below says "any thread". Work done elsewhere (the
 * raftstore thread, a worker pool) comes back to a call with net_loop_post(). Before the
 * loop is started (and after it is stopped) the thread that owns the net_loop counts as
 * its loop thread, which is how the fuzz target drives a connection without a thread.
 *
 * Errors are bs_err codes (common/err.h); gRPC statuses are net_grpc_status values. */
#ifndef BASALT_NET_NET_H
#define BASALT_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

struct event_base;

/* ---- gRPC status codes (the numbering of grpc/status.h) ------------------------------ */

typedef enum net_grpc_status {
    NET_GRPC_OK = 0,
    NET_GRPC_CANCELLED = 1,
    NET_GRPC_UNKNOWN = 2,
    NET_GRPC_INVALID_ARGUMENT = 3,
    NET_GRPC_DEADLINE_EXCEEDED = 4,
    NET_GRPC_NOT_FOUND = 5,
    NET_GRPC_ALREADY_EXISTS = 6,
    NET_GRPC_PERMISSION_DENIED = 7,
    NET_GRPC_RESOURCE_EXHAUSTED = 8,
    NET_GRPC_FAILED_PRECONDITION = 9,
    NET_GRPC_ABORTED = 10,
    NET_GRPC_OUT_OF_RANGE = 11,
    NET_GRPC_UNIMPLEMENTED = 12,
    NET_GRPC_INTERNAL = 13,
    NET_GRPC_UNAVAILABLE = 14,
    NET_GRPC_DATA_LOSS = 15,
    NET_GRPC_UNAUTHENTICATED = 16,
} net_grpc_status;

/* "OK", "CANCELLED", ...; "UNKNOWN_STATUS" outside 0..16. Static, borrowed. Any thread. */
const char *net_grpc_status_name(int code);

/* Default limit on one received message, as gRPC's (4 MiB). */
#define NET_DEFAULT_MAX_RECV_MSG (4u * 1024u * 1024u)

/* ---- event loop ---------------------------------------------------------------------- */

typedef struct net_loop net_loop;
typedef void (*net_fn)(void *arg);

/* Creates a loop (a libevent base; no thread yet). name is copied and used for the thread
 * name. The first call in a process switches on libevent's pthread locking and sets
 * SIGPIPE to ignored (a vanished peer must not kill the process). Returns NULL with err set
 * (BS_EINTERNAL) when libevent fails. Caller owns the loop: free with net_loop_free(). Any thread.
 */
net_loop *net_loop_new(const char *name, bs_err *err);

/* Starts the loop's thread. BS_OK, BS_ESTATE when already started (or stopped), BS_EINTERNAL when
 * the thread cannot be created. Any thread but the loop's. */
int net_loop_start(net_loop *loop, bs_err *err);

/* Stops the thread and joins it. Closures posted before the stop still run, on the loop
 * thread, before it exits; later posts fail. A stopped loop cannot be started again.
 * Idempotent. Any thread except the loop's own (it would wait for itself). */
void net_loop_stop(net_loop *loop);

/* Frees a stopped or never-started loop. Everything created on it (servers, clients,
 * timers) must be freed first. loop may be NULL. */
void net_loop_free(net_loop *loop);

/* Queues fn(arg) to run on the loop thread, in posting order. Any thread, including the
 * loop's (the closure then runs on a later turn, never inside this call). arg is borrowed
 * by the closure. Returns BS_OK, or BS_ESTATE when the loop is stopped or stopping (fn
 * will never run; the caller still owns arg). */
int net_loop_post(net_loop *loop, net_fn fn, void *arg);

/* Runs fn(arg) on the loop thread and waits for it to return. Called on the loop thread,
 * or while the loop is not running, it calls fn directly. Returns BS_OK, or BS_ESTATE when
 * the loop is stopping (fn did not run). Any thread. */
int net_loop_run_sync(net_loop *loop, net_fn fn, void *arg);

/* True on the loop's thread, or on any thread while the loop's thread is not running. */
bool net_loop_in_thread(const net_loop *loop);

/* The libevent base, for modules that use libevent directly (evhttp for the status port).
 * Borrowed; only touch it on the loop thread. */
struct event_base *net_loop_base(net_loop *loop);

/* One-shot timer on a loop. Loop thread only (all four). net_timer_free accepts NULL and
 * disarms first; fn(arg) runs on the loop thread; arg is borrowed. */
typedef struct net_timer net_timer;
net_timer *net_timer_new(net_loop *loop, net_fn fn, void *arg);
void net_timer_arm(net_timer *t, int64_t delay_ms); /* re-arming replaces the old time */
void net_timer_disarm(net_timer *t);
void net_timer_free(net_timer *t);

/* ---- TLS ----------------------------------------------------------------------------- */

/* TiKV's `[security]` names. All three empty (or NULL) means plaintext h2c with prior
 * knowledge. A server needs cert_path and key_path; with ca_path it also requires and
 * verifies client certificates (mutual TLS, as TiKV does). A client needs ca_path to verify
 * the server and may present cert_path/key_path. Paths are borrowed during the call that
 * takes them (they are read at once). */
typedef struct net_tls_config {
    const char *ca_path;
    const char *cert_path;
    const char *key_path;
} net_tls_config;

/* ---- gRPC server --------------------------------------------------------------------- */

typedef struct net_server net_server;
typedef struct net_call net_call;

/* Callbacks of one method; all run on the server's loop thread. The call is borrowed by
 * every callback (see "Call ownership" below).
 * on_start:      the request headers arrived (metadata readable with net_call_header).
 *                Required.
 * on_message:    one complete request message; msg is borrowed, valid only during the
 *                callback. NULL means messages are dropped.
 * on_half_close: the client finished sending (END_STREAM). May be NULL.
 * on_cancel:     the call ended before the handler finished it: peer RST_STREAM, the
 *                connection dropped, the deadline passed, an over-limit or malformed
 *                message, or a forced shutdown. Called at most once, never after
 *                net_call_finish. May be NULL.
 * on_writable:   the queued response bytes fell back below NET_CALL_HIGH_WATER after a
 *                send took them above it (see net_call_send). May be NULL. */
typedef struct net_method {
    const char *path; /* "/pkg.Service/Method"; copied at registration */
    void (*on_start)(net_call *call, void *arg);
    void (*on_message)(net_call *call, bs_slice msg, void *arg);
    void (*on_half_close)(net_call *call, void *arg);
    void (*on_cancel)(net_call *call, void *arg);
    void (*on_writable)(net_call *call, void *arg);
    void *arg; /* passed to every callback; borrowed, must outlive every call */
} net_method;

typedef struct net_server_options {
    const char *host;                /* listen address, e.g. "127.0.0.1"; NULL = 0.0.0.0 */
    uint16_t port;                   /* 0 picks a free port (see net_server_port) */
    uint32_t max_recv_msg;           /* 0 = NET_DEFAULT_MAX_RECV_MSG */
    uint32_t max_concurrent_streams; /* per connection; 0 = 1024 */
    int64_t keepalive_ms;            /* PING interval; 0 = 10000; <0 disables */
    int64_t keepalive_timeout_ms;    /* no PING ACK within this closes; 0 = 3000 */
    net_tls_config tls;
} net_server_options;

/* Creates a server on loop (not listening yet). opts is copied (strings too). Returns NULL
 * with err set: BS_ECONFIG when TLS files cannot be loaded. Caller owns it; free with
 * net_server_free(). Any thread. */
net_server *net_server_new(net_loop *loop, const net_server_options *opts, bs_err *err);

/* Registers a method. m is copied (path too). BS_EEXIST for a duplicate path, BS_ESTATE
 * after net_server_start. Any thread, before start, not concurrently with other calls on
 * the same server. */
int net_server_add_method(net_server *s, const net_method *m, bs_err *err);

/* Binds and listens. BS_OK, BS_EIO (bind/listen failed, e.g. port in use), BS_ESTATE when
 * already started. Any thread (runs on the loop thread and waits). */
int net_server_start(net_server *s, bs_err *err);

/* The bound port (the chosen one when opts.port was 0); 0 before start. Any thread. */
uint16_t net_server_port(const net_server *s);

/* Graceful shutdown: stops accepting, sends GOAWAY on every connection, lets in-flight
 * calls finish for up to grace_ms, then closes whatever remains (their handlers get
 * on_cancel). Blocks until every connection is closed. Any thread; on the loop thread,
 * or when the loop is not running, it cannot wait and closes everything at once. */
void net_server_shutdown(net_server *s, int64_t grace_ms);

/* Same, without waiting: done(arg) runs on the loop thread once every connection is
 * closed (maybe inside this call). Loop thread only. */
void net_server_shutdown_async(net_server *s, int64_t grace_ms, net_fn done, void *arg);

/* Frees a server, shutting it down at once (grace 0) when that has not happened: open
 * connections are destroyed and their calls' on_cancel runs inside this function. Calls
 * whose handlers have not finished stay allocated until net_call_finish. s may be NULL.
 * Any thread (runs on the loop thread and waits); on the loop thread, not from inside a
 * callback of one of the server's calls. */
void net_server_free(net_server *s);

/* ---- server calls --------------------------------------------------------------------
 * Call ownership. A net_call belongs to net/, but once on_start has run it stays
 * allocated until the handler calls net_call_finish() -- exactly once, on the loop thread
 * -- even when the call was cancelled in between (on_cancel ran). That lets an
 * asynchronous handler keep the pointer while its work runs elsewhere: the worker posts a
 * closure to net_call_loop(call), and the closure sends and finishes. After
 * net_call_finish the pointer is dead. Every function below is loop-thread only. */

/* Soft bound on bytes queued for one call's response. */
#define NET_CALL_HIGH_WATER (1u << 20)

/* Queues one response message (framed as gRPC's 5-byte prefix + bytes; the bytes are
 * copied). Response headers go out with the first message. Bytes leave as HTTP/2 flow
 * control allows. Returns BS_OK; BS_ESTATE when the call already ended (cancelled, or
 * finished by net itself) -- the message is dropped, the handler must still finish;
 * BS_ETOOLARGE for len > 4 GiB - 1. Never blocks; a streaming handler should stop
 * producing while !net_call_writable() and resume in on_writable. */
int net_call_send(net_call *call, const void *msg, size_t len);

/* False while queued response bytes exceed NET_CALL_HIGH_WATER. */
bool net_call_writable(const net_call *call);

/* Bytes queued for this call and not yet handed to HTTP/2. */
size_t net_call_queued(const net_call *call);

/* Ends the call: after queued messages, trailers carry grpc-status = status and a
 * percent-encoded grpc-message (message may be NULL; copied). With nothing sent yet the
 * reply is Trailers-Only. On a call that already ended this only releases it. The call
 * pointer is dead on return. */
void net_call_finish(net_call *call, int status, const char *message);

/* A request header (lowercase name, e.g. "authorization", "x-meta-bin"; pseudo-headers
 * such as ":path" too). Returns a borrowed, NUL-terminated value valid until finish (len
 * may be NULL), or NULL when absent. A repeated header yields its first value; "-bin"
 * values are returned as sent (base64), not decoded. */
const char *net_call_header(const net_call *call, const char *name, size_t *len);

/* The method path, borrowed until finish. */
const char *net_call_path(const net_call *call);

/* The loop the call lives on (for net_loop_post from other threads). Any thread: the
 * value never changes while the call is allocated. */
net_loop *net_call_loop(const net_call *call);

/* Handler state: one pointer the handler may hang on the call (initially NULL). */
void net_call_set_user(net_call *call, void *user);
void *net_call_user(const net_call *call);

/* True once the call ended without the handler (on_cancel has run or is running). */
bool net_call_cancelled(const net_call *call);

/* ---- gRPC client --------------------------------------------------------------------- */

typedef struct net_client net_client;
typedef struct net_ccall net_ccall;

typedef struct net_client_options {
    const char *host;             /* required; resolved with getaddrinfo when connecting */
    uint16_t port;                /* required */
    uint32_t max_recv_msg;        /* 0 = NET_DEFAULT_MAX_RECV_MSG */
    int64_t connect_timeout_ms;   /* 0 = 5000 */
    int64_t keepalive_ms;         /* PING interval; 0 = disabled */
    int64_t keepalive_timeout_ms; /* 0 = 3000 */
    net_tls_config tls;           /* all empty = h2c */
} net_client_options;

/* A client channel to one host:port. It connects on the first call and reconnects on the
 * next call after the connection is lost. opts is copied. NULL with err set (BS_ECONFIG for
 * TLS files, BS_EINVAL for a missing host). Caller owns; free with net_client_free().
 * Any thread. */
net_client *net_client_new(net_loop *loop, const net_client_options *opts, bs_err *err);

/* Fails every live call with CANCELLED (their on_finish runs inside this function) and
 * frees the client. c may be NULL. Any thread (runs on the loop thread and waits); on the
 * loop thread, not from inside a callback of one of the client's calls. */
void net_client_free(net_client *c);

/* Callbacks of a client call; loop thread. on_message gets each response message
 * (borrowed for the callback). on_finish runs exactly once with the final status and a
 * decoded message (borrowed, "" when none); after it returns the call is freed by net/. */
typedef struct net_ccall_ops {
    void (*on_message)(net_ccall *cc, bs_slice msg, void *arg);
    void (*on_finish)(net_ccall *cc, int status, const char *message, void *arg);
    void *arg;
} net_ccall_ops;

/* Extra request metadata: lowercase names; values borrowed during net_client_start. */
typedef struct net_metadata {
    const char *name;
    const char *value;
} net_metadata;

/* Starts a call to path ("/pkg.Service/Method"). timeout_ms > 0 sets a deadline (sent as
 * grpc-timeout and enforced locally: DEADLINE_EXCEEDED); 0 means none. md may be NULL.
 * Returns the call (owned by net/, valid until on_finish returns) or NULL when the
 * arguments are invalid (err set, BS_EINVAL); connection failures arrive as on_finish with
 * UNAVAILABLE, never inside this function. Loop thread only. */
net_ccall *net_client_start(net_client *c, const char *path, int64_t timeout_ms,
                            const net_metadata *md, size_t md_count, const net_ccall_ops *ops,
                            bs_err *err);

/* Queues one request message (copied). BS_ESTATE after half-close or finish;
 * BS_ETOOLARGE for len > 4 GiB - 1. Loop thread only. */
int net_ccall_send(net_ccall *cc, const void *msg, size_t len);

/* Ends the request stream (END_STREAM after queued messages). Idempotent. Loop thread. */
void net_ccall_close_send(net_ccall *cc);

/* Cancels: RST_STREAM(CANCEL) and on_finish(CANCELLED) inside this call. Loop thread,
 * only before on_finish has run. */
void net_ccall_cancel(net_ccall *cc);

/* Bytes queued for the request and not yet handed to HTTP/2. Loop thread. */
size_t net_ccall_queued(const net_ccall *cc);

/* Unary call: start + send + close_send in one. Same contract as net_client_start. */
net_ccall *net_client_unary(net_client *c, const char *path, bs_slice req, int64_t timeout_ms,
                            const net_ccall_ops *ops, bs_err *err);

/* Blocking unary call for tests and tools: runs the call on the client's loop and waits
 * (bounded by timeout_ms plus a safety margin; timeout_ms must be > 0). On return *status
 * holds the gRPC status, resp (caller owns; appended to) the first response message and
 * msg (may be NULL, msg_cap bytes, NUL-terminated) the status message. Returns BS_OK when
 * the call completed (whatever its status), BS_ESTATE when the loop is not running or when
 * called on the loop thread, BS_EINVAL for bad arguments. Any thread except the loop's. */
int net_client_unary_sync(net_client *c, const char *path, bs_slice req, int64_t timeout_ms,
                          bs_buf *resp, int *status, char *msg, size_t msg_cap, bs_err *err);

/* ---- status HTTP server (http.c, evhttp) ---------------------------------------------- */

/* A GET-only HTTP/1.1 server for the status port (/metrics, /status): small documents built
 * synchronously from in-memory state. Its objects live on one net_loop. */
typedef struct net_http_server net_http_server;

/* What a handler fills in. body is owned by net/ (appended to by the handler, freed after
 * the reply is queued); content_type must be a static string. */
typedef struct net_http_reply {
    int status;               /* HTTP status; starts at 200 */
    const char *content_type; /* starts at "text/plain; charset=utf-8" */
    bs_buf body;
} net_http_reply;

/* Called on the loop thread for every GET or HEAD request (others get 405 without a call).
 * path is the request path without query string, NUL-terminated, borrowed for the call.
 * Must not block: build the reply and return. HEAD replies drop the body. */
typedef void (*net_http_handler_fn)(void *arg, const char *path, net_http_reply *reply);

/* Binds host:port (host NULL or "" = 0.0.0.0; port 0 picks a free port) and serves on loop
 * with fn(arg, ...). arg is borrowed and must outlive the server. Returns BS_OK and *out
 * (caller owns; net_http_server_free), BS_EIO when the address cannot be bound ("cannot
 * listen on ..."), or BS_EINTERNAL/BS_ESTATE when libevent or the loop fails. Any thread
 * but the loop's (runs on the loop thread and waits). */
int net_http_server_start(net_loop *loop, const char *host, uint16_t port,
                          net_http_handler_fn fn, void *arg, net_http_server **out, bs_err *err);

/* The bound port (the chosen one when started with port 0). Any thread. */
uint16_t net_http_server_port(const net_http_server *s);

/* Closes the listener and every connection and frees the server; no handler runs after it
 * returns. Call it before net_loop_stop (or after the loop stopped), from any thread but
 * the loop's. s may be NULL. */
void net_http_server_free(net_http_server *s);

#endif
