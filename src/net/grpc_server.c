/* grpc_server.c -- the gRPC server object: method table, listener, connections, shutdown.
 *
 * A server listens on one address and turns each accepted socket (plain, or TLS with ALPN
 * "h2") into an h2_conn with the server role of server_call.c. It keeps the list of live
 * connections so shutdown can reach them.
 *
 * Graceful shutdown, as gRPC servers do it: close the listener, send GOAWAY (last stream
 * id = the last one processed) on every connection so clients open no new streams here,
 * let the streams in flight finish -- a connection whose last stream closed has nothing to
 * read or write and closes by itself (h2_conn's idle check) -- and after the grace period
 * close whatever is left, which cancels its calls. Shutdown is complete when the last
 * connection is gone. */
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/assert.h"
#include "net/net_int.h"

net_server *net_server_new(net_loop *loop, const net_server_options *opts, bs_err *err)
{
    net_server *s = bs_calloc(1, sizeof *s);
    s->loop = loop;
    s->host = bs_strdup(opts->host ? opts->host : "0.0.0.0");
    s->port = opts->port;
    s->max_recv_msg = opts->max_recv_msg ? opts->max_recv_msg : NET_DEFAULT_MAX_RECV_MSG;
    s->max_streams = opts->max_concurrent_streams ? opts->max_concurrent_streams : 1024;
    s->ka_ms = opts->keepalive_ms == 0 ? 10000 : opts->keepalive_ms;
    if (s->ka_ms < 0)
        s->ka_ms = 0;
    s->ka_timeout_ms = opts->keepalive_timeout_ms > 0 ? opts->keepalive_timeout_ms : 3000;
    if (net_tls_enabled(&opts->tls)) {
        s->ssl_ctx = net_tls_server_ctx(&opts->tls, err);
        if (!s->ssl_ctx) {
            bs_free(s->host);
            bs_free(s);
            return NULL;
        }
    }
    return s;
}

int net_server_add_method(net_server *s, const net_method *m, bs_err *err)
{
    if (s->started)
        return bs_err_setf(err, BS_ESTATE, "grpc server: add_method after start");
    if (!m->path || m->path[0] != '/' || !m->on_start)
        return bs_err_setf(err, BS_EINVAL, "grpc server: method needs a /path and on_start");
    for (size_t i = 0; i < s->n_methods; i++)
        if (strcmp(s->methods[i].path, m->path) == 0)
            return bs_err_setf(err, BS_EEXIST, "grpc server: duplicate method %s", m->path);
    s->methods = bs_realloc(s->methods, (s->n_methods + 1) * sizeof *s->methods);
    net_method_ent *e = &s->methods[s->n_methods++];
    e->m = *m;
    e->path = bs_strdup(m->path);
    e->m.path = e->path;
    return BS_OK;
}

h2_conn *net_server_adopt(net_server *s, struct bufferevent *bev, const h2_mem_transport *mem)
{
    if (s->shutting_down) {
        if (bev)
            bufferevent_free(bev);
        return NULL;
    }
    h2_conn *c = h2_conn_new(s->loop, &net_server_role, s, bev, mem, s->ka_ms, s->ka_timeout_ms);
    if (!c)
        return NULL;
    c->next = s->conns;
    if (c->next)
        c->next->prev = c;
    s->conns = c;
    s->n_conns++;
    h2_conn_flush(c); /* our SETTINGS */
    return c;
}

static void finish_shutdown(net_server *s)
{
    if (s->shut_down || !s->shutting_down || s->n_conns > 0)
        return;
    s->shut_down = true;
    if (s->grace_timer)
        net_timer_disarm(s->grace_timer);
    net_fn done = s->shutdown_done;
    s->shutdown_done = NULL;
    if (done)
        done(s->shutdown_arg);
}

void net_server_conn_gone(net_server *s, h2_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    s->n_conns--;
    finish_shutdown(s);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *addr,
                      int addrlen, void *arg)
{
    net_server *s = arg;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* latency only */
    struct event_base *base = net_loop_base(s->loop);
    struct bufferevent *bev;
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    if (s->ssl_ctx) {
        SSL *ssl = SSL_new(s->ssl_ctx);
        if (!ssl) {
            evutil_closesocket(fd);
            return;
        }
        bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, opts);
    } else {
        bev = bufferevent_socket_new(base, fd, opts);
    }
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    (void)net_server_adopt(s, bev, NULL); /* NULL: refused or failed; bev already freed */
}

typedef struct start_ctx {
    net_server *s;
    bs_err *err;
    int rc;
} start_ctx;

static void start_on_loop(void *arg)
{
    start_ctx *sc = arg;
    net_server *s = sc->s;
    char port[8];
    snprintf(port, sizeof port, "%u", s->port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(s->host, port, &hints, &res);
    if (gai != 0 || !res) {
        sc->rc =
            bs_err_setf(sc->err, BS_EIO, "grpc server: resolve %s: %s", s->host, gai_strerror(gai));
        return;
    }
    s->listener =
        evconnlistener_new_bind(net_loop_base(s->loop), accept_cb, s,
                                LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                -1, res->ai_addr, (int)res->ai_addrlen);
    freeaddrinfo(res);
    if (!s->listener) {
        sc->rc =
            bs_err_setf(sc->err, BS_EIO, "grpc server: listen on %s:%u failed", s->host, s->port);
        return;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    s->started = true;
    sc->rc = BS_OK;
}

int net_server_start(net_server *s, bs_err *err)
{
    if (s->started || s->shutting_down)
        return bs_err_setf(err, BS_ESTATE, "grpc server already started");
    start_ctx sc = {.s = s, .err = err, .rc = BS_OK};
    int rc = net_loop_run_sync(s->loop, start_on_loop, &sc);
    if (rc != BS_OK)
        return bs_err_setf(err, rc, "grpc server: loop not running");
    return sc.rc;
}

uint16_t net_server_port(const net_server *s)
{
    return s->started ? s->port : 0;
}

static void grace_fire(void *arg)
{
    net_server *s = arg;
    for (h2_conn *c = s->conns; c; c = c->next)
        h2_conn_close(c);
}

void net_server_shutdown_async(net_server *s, int64_t grace_ms, net_fn done, void *arg)
{
    BS_DASSERT(net_loop_in_thread(s->loop));
    if (s->shut_down || s->shutting_down) {
        if (s->shut_down) {
            if (done)
                done(arg);
        } else {
            BS_ASSERT(!s->shutdown_done); /* one waiter at a time */
            s->shutdown_done = done;
            s->shutdown_arg = arg;
        }
        return;
    }
    s->shutting_down = true;
    s->shutdown_done = done;
    s->shutdown_arg = arg;
    if (s->listener) {
        evconnlistener_free(s->listener);
        s->listener = NULL;
    }
    if (!s->grace_timer)
        s->grace_timer = net_timer_new(s->loop, grace_fire, s);
    for (h2_conn *c = s->conns; c; c = c->next) {
        if (c->closing || !c->session)
            continue;
        if (nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                                  nghttp2_session_get_last_proc_stream_id(c->session),
                                  NGHTTP2_NO_ERROR, NULL, 0) != 0) {
            h2_conn_close(c);
            continue;
        }
        c->goaway_sent = true;
        h2_conn_flush(c); /* an idle connection closes itself here */
    }
    net_timer_arm(s->grace_timer, grace_ms > 0 ? grace_ms : 0);
    finish_shutdown(s);
}

static void free_on_loop(void *arg);

typedef struct shutdown_wait {
    net_server *s;
    int64_t grace_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
} shutdown_wait;

static void shutdown_signal(void *arg)
{
    shutdown_wait *w = arg;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void shutdown_on_loop(void *arg)
{
    shutdown_wait *w = arg;
    net_server_shutdown_async(w->s, w->grace_ms, shutdown_signal, w);
}

void net_server_shutdown(net_server *s, int64_t grace_ms)
{
    if (net_loop_in_thread(s->loop)) {
        /* The loop is not running (or this is its thread): nothing can be waited for, so
         * this is a shutdown with no grace. */
        free_on_loop(s);
        s->shut_down = true;
        return;
    }
    shutdown_wait w = {.s = s, .grace_ms = grace_ms};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    if (net_loop_run_sync(s->loop, shutdown_on_loop, &w) == BS_OK) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
}

static void free_on_loop(void *arg)
{
    net_server *s = arg;
    s->shutting_down = true;
    s->shutdown_done = NULL;
    if (s->listener) {
        evconnlistener_free(s->listener);
        s->listener = NULL;
    }
    while (s->conns)
        h2_conn_destroy(s->conns); /* unlinks itself through net_server_conn_gone */
    net_timer_free(s->grace_timer);
    s->grace_timer = NULL;
}

void net_server_free(net_server *s)
{
    if (!s)
        return;
    if (net_loop_run_sync(s->loop, free_on_loop, s) != BS_OK)
        free_on_loop(s); /* loop stopping: nobody else runs on it */
    for (size_t i = 0; i < s->n_methods; i++)
        bs_free(s->methods[i].path);
    bs_free(s->methods);
    if (s->ssl_ctx)
        SSL_CTX_free(s->ssl_ctx);
    bs_free(s->host);
    bs_free(s);
}
