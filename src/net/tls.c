/* tls.c -- OpenSSL contexts for gRPC over TLS, configured from TiKV's `[security]` names.
 *
 * gRPC over TLS requires TLS 1.2+ and ALPN "h2" (grpc/grpc PROTOCOL-HTTP2.md). A server
 * with ca-path verifies client certificates, as TiKV does with mutual TLS; a client with
 * ca-path verifies the server against it (hostname checks are set per connection in
 * grpc_client.c). The files are read once, when the context is built. */
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

#include "net/net_int.h"

static const unsigned char alpn_h2[] = {2, 'h', '2'};

static bool nonempty(const char *s)
{
    return s && s[0];
}

bool net_tls_enabled(const net_tls_config *t)
{
    return nonempty(t->ca_path) || nonempty(t->cert_path) || nonempty(t->key_path);
}

static int tls_fail(bs_err *err, const char *what, const char *path)
{
    char buf[160];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return bs_err_setf(err, BS_ECONFIG, "tls: %s %s: %s", what, path ? path : "", buf);
}

static int load_pair(SSL_CTX *ctx, const net_tls_config *t, bs_err *err)
{
    if (nonempty(t->cert_path) != nonempty(t->key_path))
        return bs_err_setf(err, BS_ECONFIG, "tls: cert-path and key-path go together");
    if (!nonempty(t->cert_path))
        return BS_OK;
    if (SSL_CTX_use_certificate_chain_file(ctx, t->cert_path) != 1)
        return tls_fail(err, "load certificate", t->cert_path);
    if (SSL_CTX_use_PrivateKey_file(ctx, t->key_path, SSL_FILETYPE_PEM) != 1)
        return tls_fail(err, "load key", t->key_path);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return tls_fail(err, "key does not match certificate", t->key_path);
    return BS_OK;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, alpn_h2, sizeof alpn_h2, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *net_tls_server_ctx(const net_tls_config *t, bs_err *err)
{
    if (!nonempty(t->cert_path) || !nonempty(t->key_path)) {
        bs_err_setf(err, BS_ECONFIG, "tls: a server needs cert-path and key-path");
        return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        tls_fail(err, "SSL_CTX_new", NULL);
        return NULL;
    }
    (void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (load_pair(ctx, t, err) != BS_OK)
        goto fail;
    if (nonempty(t->ca_path)) {
        if (SSL_CTX_load_verify_locations(ctx, t->ca_path, NULL) != 1) {
            tls_fail(err, "load CA", t->ca_path);
            goto fail;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *net_tls_client_ctx(const net_tls_config *t, bs_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        tls_fail(err, "SSL_CTX_new", NULL);
        return NULL;
    }
    (void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (load_pair(ctx, t, err) != BS_OK)
        goto fail;
    if (nonempty(t->ca_path)) {
        if (SSL_CTX_load_verify_locations(ctx, t->ca_path, NULL) != 1) {
            tls_fail(err, "load CA", t->ca_path);
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        tls_fail(err, "default CA paths", NULL);
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof alpn_h2) != 0) {
        tls_fail(err, "ALPN", NULL);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}
