/* reply.c -- RESP2/RESP3 reply encoding, byte for byte as Redis 7's addReply*() family.
 *
 * Clients parse replies strictly, and many test suites compare raw bytes, so each writer
 * produces exactly what the corresponding Redis function sends, including how RESP3-only
 * types degrade when the connection speaks RESP2 (HELLO 2, the default): maps become flat
 * arrays of 2n elements, sets and pushes become arrays, booleans become 1/0 integers,
 * doubles become bulk strings, verbatim strings become plain bulks, and null becomes
 * "$-1" or "*-1" depending on whether a string or an aggregate is missing.
 * Writers cannot fail: output goes to a growing bs_buf or to a callback that queues it. */
#include "resp/proto.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/assert.h"

void resp_out_init_buf(resp_out *o, bs_buf *buf, int proto)
{
    BS_ASSERT(buf != NULL && (proto == 2 || proto == 3));
    *o = (resp_out){.proto = proto, .buf = buf};
}

void resp_out_init_fn(resp_out *o, resp_write_fn fn, void *ctx, int proto)
{
    BS_ASSERT(fn != NULL && (proto == 2 || proto == 3));
    *o = (resp_out){.proto = proto, .write = fn, .ctx = ctx};
}

static void emit(resp_out *o, const void *p, size_t len)
{
    if (len == 0)
        return;
    if (o->buf)
        bs_buf_append(o->buf, p, len);
    else
        o->write(o->ctx, p, len);
}

void resp_reply_raw(resp_out *o, const void *p, size_t len)
{
    emit(o, p, len);
}

/* "<prefix><v>\r\n": integers, lengths and aggregate headers. */
static void emit_prefixed(resp_out *o, char prefix, long long v)
{
    char b[32];
    int n = snprintf(b, sizeof(b), "%c%lld\r\n", prefix, v);
    BS_ASSERT(n > 0 && (size_t)n < sizeof(b));
    emit(o, b, (size_t)n);
}

static void emit_len(resp_out *o, char prefix, size_t n)
{
    char b[32];
    int k = snprintf(b, sizeof(b), "%c%zu\r\n", prefix, n);
    BS_ASSERT(k > 0 && (size_t)k < sizeof(b));
    emit(o, b, (size_t)k);
}

/* Writes s with every CR and LF replaced by a space, in runs, without copying. */
static void emit_one_line(resp_out *o, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\r' || s[i] == '\n') {
            emit(o, s + start, i - start);
            emit(o, " ", 1);
            start = i + 1;
        }
    }
    emit(o, s + start, len - start);
}

void resp_reply_simple(resp_out *o, const char *s, size_t len)
{
    emit(o, "+", 1);
    emit_one_line(o, s, len);
    emit(o, "\r\n", 2);
}

void resp_reply_simple_str(resp_out *o, const char *s)
{
    resp_reply_simple(o, s, strlen(s));
}

void resp_reply_ok(resp_out *o)
{
    emit(o, "+OK\r\n", 5);
}

void resp_reply_error(resp_out *o, const char *s, size_t len)
{
    /* addReplyErrorFormat(): sdstrim(s, "\r\n") then sdsmapchars(s, "\r\n", "  "). */
    while (len && (s[0] == '\r' || s[0] == '\n'))
        s++, len--;
    while (len && (s[len - 1] == '\r' || s[len - 1] == '\n'))
        len--;
    /* addReplyErrorLength(): a leading '-' means the caller gave the code. */
    if (len == 0 || s[0] != '-')
        emit(o, "-ERR ", 5);
    emit_one_line(o, s, len);
    emit(o, "\r\n", 2);
}

void resp_reply_error_str(resp_out *o, const char *s)
{
    resp_reply_error(o, s, strlen(s));
}

void resp_reply_errorf(resp_out *o, const char *fmt, ...)
{
    char b[4097];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof(b), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(b))
        n = (int)sizeof(b) - 1;
    resp_reply_error(o, b, (size_t)n);
}

void resp_reply_error_code(resp_out *o, const char *code, const char *text)
{
    BS_ASSERT(code[0] != '\0' && code[0] != '-');
    emit(o, "-", 1);
    emit_one_line(o, code, strlen(code));
    emit(o, " ", 1);
    size_t len = strlen(text);
    while (len && (text[0] == '\r' || text[0] == '\n'))
        text++, len--;
    while (len && (text[len - 1] == '\r' || text[len - 1] == '\n'))
        len--;
    emit_one_line(o, text, len);
    emit(o, "\r\n", 2);
}

void resp_reply_int(resp_out *o, long long v)
{
    emit_prefixed(o, ':', v);
}

void resp_reply_bulk(resp_out *o, const void *p, size_t len)
{
    emit_len(o, '$', len);
    emit(o, p, len);
    emit(o, "\r\n", 2);
}

void resp_reply_bulk_slice(resp_out *o, bs_slice s)
{
    resp_reply_bulk(o, s.ptr, s.len);
}

void resp_reply_bulk_str(resp_out *o, const char *s)
{
    resp_reply_bulk(o, s, strlen(s));
}

void resp_reply_bulk_int(resp_out *o, long long v)
{
    char b[32];
    int n = snprintf(b, sizeof(b), "%lld", v);
    BS_ASSERT(n > 0 && (size_t)n < sizeof(b));
    resp_reply_bulk(o, b, (size_t)n);
}

void resp_reply_null_bulk(resp_out *o)
{
    if (o->proto == 2)
        emit(o, "$-1\r\n", 5);
    else
        emit(o, "_\r\n", 3);
}

void resp_reply_null_array(resp_out *o)
{
    if (o->proto == 2)
        emit(o, "*-1\r\n", 5);
    else
        emit(o, "_\r\n", 3);
}

void resp_reply_array(resp_out *o, size_t n)
{
    emit_len(o, '*', n);
}

void resp_reply_map(resp_out *o, size_t n)
{
    if (o->proto == 2) {
        BS_ASSERT(n <= SIZE_MAX / 2);
        emit_len(o, '*', n * 2);
    } else {
        emit_len(o, '%', n);
    }
}

void resp_reply_set(resp_out *o, size_t n)
{
    emit_len(o, o->proto == 2 ? '*' : '~', n);
}

void resp_reply_push(resp_out *o, size_t n)
{
    emit_len(o, o->proto == 2 ? '*' : '>', n);
}

void resp_reply_double(resp_out *o, double d)
{
    char b[64];
    int n;
    /* Spelled out rather than left to printf, which may write "-nan" or "infinity". */
    if (isinf(d))
        n = snprintf(b, sizeof(b), "%s", d > 0 ? "inf" : "-inf");
    else if (isnan(d))
        n = snprintf(b, sizeof(b), "nan");
    else
        n = snprintf(b, sizeof(b), "%.17g", d);
    BS_ASSERT(n > 0 && (size_t)n < sizeof(b));
    if (o->proto == 2) {
        resp_reply_bulk(o, b, (size_t)n);
    } else {
        emit(o, ",", 1);
        emit(o, b, (size_t)n);
        emit(o, "\r\n", 2);
    }
}

void resp_reply_bool(resp_out *o, bool v)
{
    if (o->proto == 2)
        emit(o, v ? ":1\r\n" : ":0\r\n", 4);
    else
        emit(o, v ? "#t\r\n" : "#f\r\n", 4);
}

void resp_reply_verbatim(resp_out *o, const char *ext, const void *p, size_t len)
{
    BS_ASSERT(strlen(ext) == 3);
    if (o->proto == 2) {
        resp_reply_bulk(o, p, len);
        return;
    }
    BS_ASSERT(len <= SIZE_MAX - 4);
    emit_len(o, '=', len + 4);
    emit(o, ext, 3);
    emit(o, ":", 1);
    emit(o, p, len);
    emit(o, "\r\n", 2);
}
