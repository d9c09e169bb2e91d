/* grpc_client.c -- a gRPC channel to one host:port: connecting, reconnecting, freeing.
 *
 * The channel keeps one current connection for new calls. It is opened on the first call
 * (the HTTP/2 preface, SETTINGS and the first request are queued while the TCP or TLS
 * handshake runs) and replaced when it closes or receives GOAWAY; a replaced connection
 * stays open until its calls end. A failed connect ends its calls with UNAVAILABLE.
 * Address resolution uses getaddrinfo on the loop thread: Basalt resolves store and PD
 * addresses that are IP literals or local names, so a blocking lookup is acceptable here. */
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/assert.h"
#include "net/net_int.h"

net_client *net_client_new(net_loop *loop, const net_client_options *opts, bs_err *err)
{
    if (!opts->host || !opts->host[0] || opts->port == 0) {
        bs_err_setf(err, BS_EINVAL, "grpc client: host and port are required");
        return NULL;
    }
    net_client *c = bs_calloc(1, sizeof *c);
    c->loop = loop;
    c->host = bs_strdup(opts->host);
    c->port = opts->port;
    if (strchr(c->host, ':'))
        snprintf(c->authority, sizeof c->authority, "[%.256s]:%u", c->host, c->port);
    else
        snprintf(c->authority, sizeof c->authority, "%.256s:%u", c->host, c->port);
    c->max_recv_msg = opts->max_recv_msg ? opts->max_recv_msg : NET_DEFAULT_MAX_RECV_MSG;
    c->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 5000;
    c->ka_ms = opts->keepalive_ms > 0 ? opts->keepalive_ms : 0;
    c->ka_timeout_ms = opts->keepalive_timeout_ms > 0 ? opts->keepalive_timeout_ms : 3000;
    if (net_tls_enabled(&opts->tls)) {
        c->ssl_ctx = net_tls_client_ctx(&opts->tls, err);
        if (!c->ssl_ctx) {
            bs_free(c->host);
            bs_free(c);
            return NULL;
        }
    }
    return c;
}

void net_client_conn_gone(net_client *c, h2_conn *conn)
{
    if (c->conn == conn)
        c->conn = NULL;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        c->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
}

static SSL *client_ssl(net_client *c, char *why, size_t cap)
{
    SSL *ssl = SSL_new(c->ssl_ctx);
    if (!ssl) {
        snprintf(why, cap, "SSL_new failed");
        return NULL;
    }
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, c->host, ip) == 1 || inet_pton(AF_INET6, c->host, ip) == 1;
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    if (is_ip) {
        (void)X509_VERIFY_PARAM_set1_ip_asc(vp, c->host);
    } else {
        (void)SSL_set_tlsext_host_name(ssl, c->host); /* SNI is advisory */
        (void)X509_VERIFY_PARAM_set1_host(vp, c->host, 0);
    }
    return ssl;
}

h2_conn *net_client_get_conn(net_client *c, char *why, size_t cap)
{
    h2_conn *cur = c->conn;
    if (cur && !cur->closing && !cur->flush_then_close && !cur->goaway_recv && cur->session)
        return cur;
    c->conn = NULL; /* an old connection drains by itself; it stays in c->conns */

    char port[8];
    snprintf(port, sizeof port, "%u", c->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(c->host, port, &hints, &res);
    if (gai != 0 || !res) {
        snprintf(why, cap, "resolve %s: %s", c->host, gai_strerror(gai));
        return NULL;
    }
    struct event_base *base = net_loop_base(c->loop);
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    struct bufferevent *bev;
    if (c->ssl_ctx) {
        SSL *ssl = client_ssl(c, why, cap);
        if (!ssl) {
            freeaddrinfo(res);
            return NULL;
        }
        bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, opts);
    } else {
        bev = bufferevent_socket_new(base, -1, opts);
    }
    if (!bev) {
        freeaddrinfo(res);
        snprintf(why, cap, "bufferevent creation failed");
        return NULL;
    }
    h2_conn *conn =
        h2_conn_new(c->loop, &net_client_role, c, bev, NULL, c->ka_ms, c->ka_timeout_ms);
    if (!conn) {
        freeaddrinfo(res);
        snprintf(why, cap, "HTTP/2 session creation failed");
        return NULL;
    }
    conn->next = c->conns;
    if (conn->next)
        conn->next->prev = conn;
    c->conns = conn;
    c->conn = conn;
    struct timeval tv = {.tv_sec = c->connect_timeout_ms / 1000,
                         .tv_usec = (c->connect_timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(bev, &tv, &tv);
    int rc = bufferevent_socket_connect(bev, res->ai_addr, (int)res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0) {
        h2_conn_close(conn); /* its calls fail with UNAVAILABLE on the next loop turn */
        return conn;
    }
    int one = 1;
    (void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    h2_conn_flush(conn);
    return conn;
}

static void free_on_loop(void *arg)
{
    net_client *c = arg;
    net_ccalls_fail_early(c, NET_GRPC_CANCELLED, "client closed");
    for (h2_conn *conn = c->conns; conn; conn = conn->next)
        net_ccalls_fail_all(conn, NET_GRPC_CANCELLED, "client closed");
    while (c->conns)
        h2_conn_destroy(c->conns); /* unlinks itself through net_client_conn_gone */
}

void net_client_free(net_client *c)
{
    if (!c)
        return;
    if (net_loop_run_sync(c->loop, free_on_loop, c) != BS_OK)
        free_on_loop(c);
    if (c->ssl_ctx)
        SSL_CTX_free(c->ssl_ctx);
    bs_free(c->host);
    bs_free(c);
}
