/* netutil.h -- shared fixtures of the net/ tests: a test gRPC service (test.Echo) served
 * on 127.0.0.1 with a free port, a client on its own loop, and bounded waits.
 *
 * Methods of test.Echo (all bytes are opaque):
 *   Unary, Bidi    echo every request message back; finish OK at half-close.
 *   ServerStream   request "N S": N messages of S bytes (first 4 bytes = index, big
 *                  endian), sent with back-pressure (net_call_writable / on_writable).
 *   ClientStream   counts request messages; replies "count=C bytes=B" at half-close.
 *   Hang           never replies; counts on_cancel and finishes the cancelled call.
 *   Async          replies from another thread (via net_loop_post) after 50 ms.
 *   Slow           replies from a loop timer after 300 ms.
 *   Fail           finishes with INVALID_ARGUMENT and a message needing percent-encoding.
 *   Meta           replies with the value of request header "x-basalt-meta".
 *   Deadline       echoes the grpc-timeout header, or "none". */
#ifndef BASALT_TESTS_NET_NETUTIL_H
#define BASALT_TESTS_NET_NETUTIL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "net/net.h"

#define FAIL_MESSAGE "bad \"arg\" 100% \xc3\xa9\nline2"

extern atomic_int echo_cancels;         /* on_cancel count across Hang/Echo calls */
extern atomic_int echo_finished;        /* calls the handlers finished normally */
extern atomic_size_t stream_max_queued; /* ServerStream: largest net_call_queued seen */

typedef struct tsrv {
    net_loop *loop;
    net_server *srv;
    uint16_t port;
} tsrv;

/* Starts a loop and a server with test.Echo on 127.0.0.1:0. o may be NULL (defaults);
 * its host/port are overridden. Asserts on failure. */
void tsrv_start(tsrv *t, const net_server_options *o);
void tsrv_stop(tsrv *t);

typedef struct tcli {
    net_loop *loop;
    net_client *cli;
} tcli;

void tcli_start(tcli *t, uint16_t port, const net_tls_config *tls);
void tcli_stop(tcli *t);

/* Polls pred(arg) every millisecond for up to timeout_ms. Returns its last value. */
bool wait_for(bool (*pred)(void *), void *arg, int64_t timeout_ms);
bool wait_int_at_least(atomic_int *v, int target, int64_t timeout_ms);

/* A streaming call driven on the client loop; the test thread waits for `done`. */
typedef struct sjob {
    net_client *cli;
    const char *path;
    int64_t timeout_ms;
    int nsend;             /* messages to send: "msg-<i>" or payload below */
    size_t payload;        /* when > 0, each message is payload bytes of 'x' */
    const char *first_msg; /* when set, sent as the only message */
    const net_metadata *md;
    size_t md_count;
    bool cancel_after_first; /* cancel locally after the first response */
    bool keep_open;          /* do not half-close */
    /* results */
    atomic_bool done;
    int status;
    char message[256];
    int nrecv;
    size_t bytes;
    bool in_order; /* echo replies matched "msg-<i>" in order */
    bs_buf first;  /* first response message */
    net_ccall *cc;
} sjob;

/* Posts the job to the client loop and waits (bounded). Returns job->done. */
bool sjob_run(tcli *c, sjob *job, int64_t wait_ms);
/* Posts the job and returns once the call is started (job->cc set). */
void sjob_start(tcli *c, sjob *job);
bool sjob_wait(sjob *job, int64_t wait_ms);
void sjob_free(sjob *job);

#endif
