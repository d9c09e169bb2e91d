/* net_int.h -- declarations shared by the files of src/net/ and nobody else.
 *
 * Layout: loop.c (threads, posts, timers), frame.c (gRPC message framing, grpc-timeout,
 * percent-encoding, status names), outq.c (per-stream send queues), h2_conn.c (one HTTP/2
 * connection: transport, nghttp2 session pump, keepalive, close), grpc_server.c (listener,
 * method table, shutdown), server_call.c (server streams and calls), grpc_client.c and
 * client_call.c (the client side), client_sync.c (blocking wrapper), tls.c (OpenSSL).
 * Everything here runs on a loop thread unless said otherwise. */
#ifndef BASALT_NET_NET_INT_H
#define BASALT_NET_NET_INT_H

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "net/net.h"

struct bufferevent;
struct evconnlistener;

/* ---- loop.c -------------------------------------------------------------------------- */
int64_t net_now_ms(void);

/* ---- frame.c: gRPC length-prefixed messages ------------------------------------------ */
#define NET_FRAME_HDR 5

/* Incremental parser of 5-byte-prefixed messages arriving in arbitrary chunks. */
typedef struct net_deframer {
    uint8_t hdr[NET_FRAME_HDR];
    size_t hdr_len; /* bytes of hdr filled; Invariant: hdr_len <= 5 */
    bool in_body;   /* hdr complete, collecting need bytes into body */
    uint32_t need;  /* body length announced by hdr */
    bs_buf body;
} net_deframer;

/* Called per complete message; flag is the compressed flag (0 or 1). Returns 0 to go on,
 * nonzero to stop feeding (the call ended). */
typedef int (*net_deframe_fn)(void *ctx, uint8_t flag, const uint8_t *msg, size_t len);

void net_deframer_init(net_deframer *d);
void net_deframer_deinit(net_deframer *d);
/* BS_OK (all consumed or the callback stopped), BS_ETOOLARGE (a message announces more
 * than max bytes), BS_ECORRUPT (compressed flag other than 0/1). */
int net_deframer_feed(net_deframer *d, const uint8_t *p, size_t n, uint32_t max, net_deframe_fn fn,
                      void *ctx);
/* True when a message is partly received (END_STREAM now is a protocol error). */
bool net_deframer_partial(const net_deframer *d);

void net_frame_header(uint8_t out[NET_FRAME_HDR], uint8_t flag, uint32_t len);

/* grpc-timeout value ("100m", "5S", ...) to milliseconds, rounded up, at least 1.
 * BS_OK or BS_EINVAL. */
int net_parse_grpc_timeout(const char *v, size_t len, int64_t *ms_out);
/* ms to a grpc-timeout value; out needs 16 bytes. */
void net_format_grpc_timeout(int64_t ms, char out[16]);

/* grpc-message percent-encoding (bytes outside 0x20..0x7e and '%' become %XX); appends a
 * NUL-terminated string to out. */
void net_percent_encode(const char *s, bs_buf *out);
void net_percent_decode(const uint8_t *s, size_t len, bs_buf *out);

/* content-type is "application/grpc" optionally followed by '+' or ';' and more. */
bool net_is_grpc_content_type(const uint8_t *v, size_t len);

/* ---- outq.c: bytes waiting for a stream's DATA frames -------------------------------- */
typedef struct net_outq {
    bs_buf buf;
    size_t off; /* Invariant: off <= buf.len; bytes [off, len) are pending */
} net_outq;

void net_outq_init(net_outq *q);
void net_outq_deinit(net_outq *q);
size_t net_outq_len(const net_outq *q);
void net_outq_push_msg(net_outq *q, const void *msg, size_t len); /* adds the 5-byte prefix */
size_t net_outq_pop(net_outq *q, uint8_t *dst, size_t max);
void net_outq_clear(net_outq *q);

/* ---- h2_conn.c ----------------------------------------------------------------------- */
typedef struct h2_conn h2_conn;

/* Where a connection's bytes go when it has no socket (the fuzz target). */
typedef struct h2_mem_transport {
    void (*write)(void *arg, const uint8_t *p, size_t n);
    void *arg;
} h2_mem_transport;

/* Role hooks: the server and client sides fill these in. */
typedef struct h2_role {
    /* Creates conn->session (user_data = conn) and submits the initial SETTINGS. */
    int (*session_new)(h2_conn *c);
    /* The connection is going away: detach and end every call. The session may already be
     * deleted; do not touch it. */
    void (*on_close)(h2_conn *c);
} h2_role;

struct h2_conn {
    net_loop *loop;
    const h2_role *role;
    nghttp2_session *session; /* NULL once destroyed */
    void *owner;              /* net_server * or net_client * */
    struct bufferevent *bev;  /* NULL with a memory transport */
    h2_mem_transport mem;
    net_timer *ka_timer;    /* keepalive: next PING, or the wait for its ACK */
    net_timer *close_timer; /* destroys the connection on a fresh loop turn */
    int64_t ka_interval_ms, ka_timeout_ms;
    bool ping_outstanding;
    int in_session;        /* >0 while inside nghttp2_session_mem_recv/mem_send */
    bool closing;          /* no more I/O; destroy is scheduled */
    bool flush_then_close; /* reading stopped; close once output is written */
    bool goaway_sent, goaway_recv;
    /* Input framing, tracked so a RST_STREAM for an idle stream can be dropped before
     * nghttp2 sees it (h2_conn_feed). Invariant: hdr_have < 9 while skip == pass == 0. */
    uint32_t preface_left; /* client connection preface bytes still to pass (server side) */
    uint8_t hdr[9];        /* the frame header being read */
    uint32_t hdr_have;
    uint32_t pass;         /* payload bytes of the current frame still to hand to nghttp2 */
    uint32_t skip;         /* payload bytes of a dropped frame still to discard */
    void *calls;          /* role's list head (net_call * or net_ccall *) */
    h2_conn *prev, *next; /* owner's list */
};

/* Wraps bev (takes ownership, also on failure) or a memory transport. Returns the
 * connection, or NULL when the session cannot be created. */
h2_conn *h2_conn_new(net_loop *loop, const h2_role *role, void *owner, struct bufferevent *bev,
                     const h2_mem_transport *mem, int64_t ka_interval_ms, int64_t ka_timeout_ms);
/* Feeds received bytes, then flushes (memory transport and the bufferevent read path). */
void h2_conn_feed(h2_conn *c, const uint8_t *p, size_t n);
/* Moves pending frames to the transport while its output buffer has room. A no-op inside
 * nghttp2 callbacks (the outer recv/send path flushes afterwards) and once closing. */
void h2_conn_flush(h2_conn *c);
/* Stops I/O and schedules destruction on a fresh loop turn, so no handler code is on the
 * stack when calls are cancelled. */
void h2_conn_close(h2_conn *c);
/* Stops reading and closes once buffered output is written. */
void h2_conn_close_when_idle(h2_conn *c);
/* Destroys now: role on_close (cancels calls), frees the session and the transport. For
 * the memory transport, server free and the close timer. */
void h2_conn_destroy(h2_conn *c);
/* Shared frame handling (PING ACK, GOAWAY); roles call it from on_frame_recv. */
void h2_conn_on_frame_recv(h2_conn *c, const nghttp2_frame *f);

/* ---- tls.c --------------------------------------------------------------------------- */
bool net_tls_enabled(const net_tls_config *t);
SSL_CTX *net_tls_server_ctx(const net_tls_config *t, bs_err *err);
SSL_CTX *net_tls_client_ctx(const net_tls_config *t, bs_err *err);

/* ---- server -------------------------------------------------------------------------- */
typedef struct net_method_ent {
    net_method m;
    char *path;
} net_method_ent;

struct net_server {
    net_loop *loop;
    char *host;
    uint16_t port;
    uint32_t max_recv_msg, max_streams;
    int64_t ka_ms, ka_timeout_ms;
    SSL_CTX *ssl_ctx;
    net_method_ent *methods;
    size_t n_methods;
    struct evconnlistener *listener;
    bool started, shutting_down, shut_down;
    h2_conn *conns;
    size_t n_conns;
    net_timer *grace_timer;
    net_fn shutdown_done;
    void *shutdown_arg;
};

extern const h2_role net_server_role;
/* Accepts an established transport as a server connection (the listener and the fuzz
 * target). NULL when the server is shutting down (bev is freed). */
h2_conn *net_server_adopt(net_server *s, struct bufferevent *bev, const h2_mem_transport *mem);
/* A server connection closed: unlink and maybe finish a shutdown. */
void net_server_conn_gone(net_server *s, h2_conn *c);

/* ---- client -------------------------------------------------------------------------- */
struct net_client {
    net_loop *loop;
    char *host;
    uint16_t port;
    char authority[300];
    uint32_t max_recv_msg;
    int64_t connect_timeout_ms, ka_ms, ka_timeout_ms;
    SSL_CTX *ssl_ctx;
    h2_conn *conn;  /* the connection new calls use; NULL before the first call */
    h2_conn *conns; /* every open connection (old ones drain after GOAWAY) */
    void *early;    /* calls that failed before getting a stream, until their on_finish */
};

extern const h2_role net_client_role;
void net_client_conn_gone(net_client *c, h2_conn *conn);
/* Ends every call on conn with status (the connection is lost). */
void net_ccalls_fail_all(h2_conn *conn, int status, const char *msg);
/* Ends the client's early-failed calls now (client free). */
void net_ccalls_fail_early(net_client *c, int status, const char *msg);
/* The client's live connection, created when needed; NULL with msg when it cannot be. */
h2_conn *net_client_get_conn(net_client *c, char *why, size_t why_cap);

#endif
