/* http.c -- the status HTTP server: a tiny GET-only server on libevent's evhttp.
 *
 * DESIGN.md puts "status HTTP (evhttp)" in net/, the one module that owns libevent's loops,
 * so the server module asks for a page by path and gets bytes back without seeing libevent.
 * Everything here runs on one net_loop: the evhttp object is created, used and freed on the
 * loop thread (start and free hop there with net_loop_run_sync). Requests are answered
 * synchronously inside the handler (status pages are small and built from in-memory
 * state), which is what TiKV's status server does for /metrics and /status too.
 *
 * Only GET and HEAD are served (405 otherwise); the query string is cut off before the
 * handler sees the path. */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "common/assert.h"
#include "net/net.h"

struct net_http_server {
    net_loop *loop;
    struct evhttp *http;
    net_http_handler_fn fn;
    void *arg;
    uint16_t port;
    /* start's arguments and result, carried to the loop thread */
    const char *host;
    uint16_t want_port;
    int rc;
    bs_err *err;
};

static void reply_text(struct evhttp_request *req, int code, const char *reason,
                       const char *ctype, const void *body, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    BS_ASSERT(b);
    if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD && len)
        BS_ASSERT(evbuffer_add(b, body, len) == 0);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    (void)evhttp_add_header(h, "Content-Type", ctype); /* failure only drops the header */
    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
}

static const char *reason_of(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 503: return "Service Unavailable";
    default: return code < 400 ? "OK" : "Error";
    }
}

static void on_request(struct evhttp_request *req, void *arg)
{
    net_http_server *s = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        static const char msg[] = "only GET is served\n";
        reply_text(req, 405, reason_of(405), "text/plain; charset=utf-8", msg, sizeof msg - 1);
        return;
    }
    const char *uri = evhttp_request_get_uri(req);
    char path[512];
    size_t n = 0;
    for (; uri && uri[n] && uri[n] != '?' && uri[n] != '#' && n + 1 < sizeof path; n++)
        path[n] = uri[n];
    path[n] = '\0';
    net_http_reply rep;
    memset(&rep, 0, sizeof(rep));
    rep.status = 200;
    rep.content_type = "text/plain; charset=utf-8";
    bs_buf_init(&rep.body);
    s->fn(s->arg, path, &rep);
    reply_text(req, rep.status, reason_of(rep.status), rep.content_type, rep.body.ptr,
               rep.body.len);
    bs_buf_free(&rep.body);
}

static void start_on_loop(void *arg)
{
    net_http_server *s = arg;
    s->http = evhttp_new(net_loop_base(s->loop));
    if (!s->http) {
        s->rc = bs_err_setf(s->err, BS_EINTERNAL, "libevent: evhttp_new failed");
        return;
    }
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
    evhttp_set_gencb(s->http, on_request, s);
    evhttp_set_timeout(s->http, 30);
    struct evhttp_bound_socket *bs =
        evhttp_bind_socket_with_handle(s->http, s->host, s->want_port);
    if (!bs) {
        s->rc = bs_err_setf(s->err, BS_EIO, "cannot listen on %s:%u: %s", s->host,
                            (unsigned)s->want_port,
                            evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        evhttp_free(s->http);
        s->http = NULL;
        return;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    s->rc = BS_OK;
}

int net_http_server_start(net_loop *loop, const char *host, uint16_t port,
                          net_http_handler_fn fn, void *arg, net_http_server **out, bs_err *err)
{
    if (!loop || !fn || !out)
        return bs_err_setf(err, BS_EINVAL, "net_http_server_start: bad arguments");
    net_http_server *s = bs_calloc(1, sizeof(*s));
    s->loop = loop;
    s->fn = fn;
    s->arg = arg;
    s->host = host && host[0] ? host : "0.0.0.0";
    s->want_port = port;
    s->err = err;
    s->rc = BS_EINTERNAL;
    int rc = net_loop_run_sync(loop, start_on_loop, s);
    if (rc != BS_OK)
        s->rc = bs_err_setf(err, rc, "net_http_server_start: loop is stopping");
    s->host = NULL; /* borrowed for the call only */
    s->err = NULL;
    if (s->rc != BS_OK) {
        rc = s->rc;
        bs_free(s);
        return rc;
    }
    *out = s;
    return BS_OK;
}

uint16_t net_http_server_port(const net_http_server *s)
{
    return s->port;
}

static void free_on_loop(void *arg)
{
    net_http_server *s = arg;
    if (s->http)
        evhttp_free(s->http); /* closes the listener and every connection */
    s->http = NULL;
}

void net_http_server_free(net_http_server *s)
{
    if (!s)
        return;
    /* On a running loop this hops to the loop thread; on a stopped one it runs here. Only a
     * loop caught in the middle of net_loop_stop refuses, which the contract forbids. */
    int rc = net_loop_run_sync(s->loop, free_on_loop, s);
    BS_ASSERT(rc == BS_OK);
    bs_free(s);
}
