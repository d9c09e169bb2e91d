/* frame.c -- gRPC's wire details above HTTP/2: message framing and header value formats.
 *
 * A gRPC message on a stream is 1 byte compressed-flag + 4-byte big-endian length + the
 * bytes (grpc/grpc doc/PROTOCOL-HTTP2.md, "Length-Prefixed-Message"). DATA frames cut
 * messages anywhere, so the deframer is incremental and keeps at most one partial message;
 * it checks the announced length against the receive limit before buffering anything.
 * Also here: grpc-timeout ("TimeoutValue TimeoutUnit", at most 8 digits, units H M S m u
 * n), grpc-message percent-encoding, the content-type test and status names. Everything
 * parsed here comes from the network and is validated, never asserted. */
#include <stdio.h>
#include <string.h>

#include "net/net_int.h"

void net_deframer_init(net_deframer *d)
{
    memset(d, 0, sizeof *d);
    bs_buf_init(&d->body);
}

void net_deframer_deinit(net_deframer *d)
{
    bs_buf_free(&d->body);
}

bool net_deframer_partial(const net_deframer *d)
{
    return d->hdr_len > 0 || d->in_body;
}

void net_frame_header(uint8_t out[NET_FRAME_HDR], uint8_t flag, uint32_t len)
{
    out[0] = flag;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

int net_deframer_feed(net_deframer *d, const uint8_t *p, size_t n, uint32_t max, net_deframe_fn fn,
                      void *ctx)
{
    while (n > 0) {
        if (!d->in_body) {
            size_t take = NET_FRAME_HDR - d->hdr_len;
            if (take > n)
                take = n;
            memcpy(d->hdr + d->hdr_len, p, take);
            d->hdr_len += take;
            p += take;
            n -= take;
            if (d->hdr_len < NET_FRAME_HDR)
                return BS_OK;
            if (d->hdr[0] > 1)
                return BS_ECORRUPT;
            d->need = (uint32_t)d->hdr[1] << 24 | (uint32_t)d->hdr[2] << 16 |
                      (uint32_t)d->hdr[3] << 8 | d->hdr[4];
            if (d->need > max)
                return BS_ETOOLARGE;
            d->in_body = true;
            bs_buf_reset(&d->body);
            /* Whole message in this chunk: deliver it without copying. */
            if (n >= d->need) {
                uint8_t flag = d->hdr[0];
                const uint8_t *msg = p;
                size_t len = d->need;
                p += len;
                n -= len;
                d->in_body = false;
                d->hdr_len = 0;
                if (fn(ctx, flag, msg, len) != 0)
                    return BS_OK;
                continue;
            }
        }
        size_t want = d->need - d->body.len;
        size_t take = want < n ? want : n;
        bs_buf_append(&d->body, p, take);
        p += take;
        n -= take;
        if (d->body.len < d->need)
            return BS_OK;
        d->in_body = false;
        d->hdr_len = 0;
        uint8_t flag = d->hdr[0];
        /* The callback may run a handler that sends; keep the body until it returns. */
        int stop = fn(ctx, flag, d->body.ptr ? d->body.ptr : (const uint8_t *)"", d->body.len);
        if (d->body.cap > (1u << 16))
            bs_buf_free(&d->body); /* do not pin a large buffer per idle stream */
        else
            bs_buf_reset(&d->body);
        if (stop)
            return BS_OK;
    }
    return BS_OK;
}

int net_parse_grpc_timeout(const char *v, size_t len, int64_t *ms_out)
{
    if (len < 2 || len > 9)
        return BS_EINVAL;
    int64_t n = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return BS_EINVAL;
        n = n * 10 + (v[i] - '0');
    }
    int64_t ms;
    switch (v[len - 1]) {
    case 'H':
        ms = n * 3600 * 1000;
        break;
    case 'M':
        ms = n * 60 * 1000;
        break;
    case 'S':
        ms = n * 1000;
        break;
    case 'm':
        ms = n;
        break;
    case 'u':
        ms = (n + 999) / 1000;
        break;
    case 'n':
        ms = (n + 999999) / 1000000;
        break;
    default:
        return BS_EINVAL;
    }
    *ms_out = ms < 1 ? 1 : ms;
    return BS_OK;
}

void net_format_grpc_timeout(int64_t ms, char out[16])
{
    if (ms < 1)
        ms = 1;
    if (ms < 100000000)
        snprintf(out, 16, "%lldm", (long long)ms);
    else if (ms / 1000 < 100000000)
        snprintf(out, 16, "%lldS", (long long)((ms + 999) / 1000));
    else
        snprintf(out, 16, "%lldH", (long long)(ms / 3600000 + 1));
}

void net_percent_encode(const char *s, bs_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
            bs_buf_append_byte(out, *p);
        } else {
            bs_buf_append_byte(out, '%');
            bs_buf_append_byte(out, (uint8_t)hex[*p >> 4]);
            bs_buf_append_byte(out, (uint8_t)hex[*p & 15]);
        }
    }
    bs_buf_append_byte(out, 0);
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void net_percent_decode(const uint8_t *s, size_t len, bs_buf *out)
{
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            uint8_t c = (uint8_t)(hi << 4 | lo);
            bs_buf_append_byte(out, c ? c : '?'); /* keep the result a C string */
            i += 2;
        } else {
            bs_buf_append_byte(out, s[i] ? s[i] : '?');
        }
    }
    bs_buf_append_byte(out, 0);
}

bool net_is_grpc_content_type(const uint8_t *v, size_t len)
{
    static const char base[] = "application/grpc";
    size_t bl = sizeof base - 1;
    if (len < bl || strncasecmp((const char *)v, base, bl) != 0)
        return false;
    return len == bl || v[bl] == '+' || v[bl] == ';';
}

const char *net_grpc_status_name(int code)
{
    static const char *const names[] = {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    };
    if (code < 0 || code > 16)
        return "UNKNOWN_STATUS";
    return names[code];
}
