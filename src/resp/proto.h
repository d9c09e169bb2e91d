/* proto.h -- the RESP wire layer: request parser and reply encoder (internal to resp/).
 *
 * Redis clients must not be able to tell Basalt from Redis 7 at the byte level, so both
 * halves follow Redis's src/networking.c: the parser reproduces processMultibulkBuffer()
 * and processInlineBuffer() (same limits, same error texts, same quirks), the encoder
 * reproduces the addReply*() family, including how RESP3 types degrade under RESP2.
 * Nothing here touches sockets or the event loop: the connection layer feeds bytes in and
 * drains encoded bytes out, so everything can be tested and fuzzed as a pure library.
 * Thread affinity: a parser or an output belongs to one connection and one thread. */
#ifndef BASALT_RESP_PROTO_H
#define BASALT_RESP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* ---- limits (Redis's names in parentheses) --------------------------------------------- */

#define RESP_INLINE_MAX (64 * 1024)                 /* PROTO_INLINE_MAX_SIZE */
#define RESP_BIG_ARG (32 * 1024)                    /* PROTO_MBULK_BIG_ARG */
#define RESP_MAX_BULK_LEN_DEFAULT (512LL * 1024 * 1024) /* proto-max-bulk-len */
#define RESP_MAX_MULTIBULK_DEFAULT 2147483647LL     /* Redis 7: INT_MAX (6.x: 1024*1024) */
#define RESP_IOBUF_LEN (16 * 1024)                  /* PROTO_IOBUF_LEN: default read size */

/* ---- request parser ------------------------------------------------------------------- */

typedef struct resp_parser_config {
    /* A bulk longer than this is "invalid bulk length" (proto-max-bulk-len). */
    long long max_bulk_len;
    /* A multibulk count above this is "invalid multibulk length". */
    long long max_multibulk_len;
    /* A line (inline request, or a '*'/'$' header) longer than this is "too big ...".
     * Only tests and the fuzzer lower it. */
    size_t inline_max;
    /* Bulks of at least this many bytes get their own buffer, allocated once at the final
     * size and filled in place (resp_parser_wbuf) instead of passing through the input
     * buffer. Only tests and the fuzzer lower it. Invariant: big_arg >= 1. */
    size_t big_arg;
    /* When true (the connection is not yet authenticated), a multibulk count above 10 or a
     * bulk above 16384 bytes is refused as Redis 7 does ("unauthenticated ..."). */
    bool auth_required;
} resp_parser_config;

/* Fills *cfg with Redis's defaults (the RESP_* values above, auth_required false). */
void resp_parser_config_default(resp_parser_config *cfg);

typedef enum resp_parse_status {
    RESP_PARSE_CMD = 0,  /* a command is ready in *cmd */
    RESP_PARSE_MORE = 1, /* every buffered byte is consumed or waits for more input */
    RESP_PARSE_ERROR = 2 /* protocol error: resp_parser_error() has the text; sticky */
} resp_parse_status;

/* One parsed command. argv[i] is borrowed from the parser (see resp_parser_next). */
typedef struct resp_cmd {
    size_t argc;          /* >= 1 */
    const bs_slice *argv; /* argc arguments, binary-safe, not NUL-terminated */
} resp_cmd;

/* One argument of the command being assembled (private to parse.c). */
typedef struct resp_arg {
    size_t off;   /* offset from the command's first byte in the input buffer */
    size_t len;
    uint8_t *big; /* owned separate buffer of exactly len bytes, or NULL (bytes in input) */
} resp_arg;

/* Caller-allocated; resp_parser_init() / resp_parser_deinit(). Fields other than cfg are
 * private to parse.c. */
struct resp_parser {
    resp_parser_config cfg; /* the caller may change fields between calls (CONFIG SET) */

    bs_buf in;        /* buffered input. Invariant: cmd_start <= pos <= in.len */
    size_t pos;       /* first byte not yet parsed */
    size_t cmd_start; /* first byte of the command being parsed (or last returned) */
    size_t scanned;   /* bytes of the current line already searched for its terminator */
    bool stuck;       /* the current line holds a NUL before its terminator (see parse.c) */

    int state; /* ST_* of parse.c */
    long long mbulk_left; /* bulks still expected in this command */
    long long bulk_len;   /* length of the bulk being read */

    resp_arg *args; /* arguments of the command being assembled. Invariant: argc <= args_cap */
    size_t argc, args_cap;
    bs_slice *argv; /* the argv handed out with the last RESP_PARSE_CMD */
    size_t argv_cap;
    bool returned; /* args/argv belong to a command already handed out */

    uint8_t *big;     /* the big bulk being filled (bulk_len bytes); owned */
    size_t big_have;  /* bytes of it received. Invariant: big_have <= bulk_len */
    size_t direct;    /* bytes of this command that went straight into big buffers */

    size_t wb_avail; /* what the last resp_parser_wbuf() offered; 0 when none is open */
    bool wb_big;     /* ... and whether it pointed into big */

    char err[128]; /* protocol error text, "" when none */
};

typedef struct resp_parser resp_parser;

/* Prepares *p with a copy of *cfg (NULL = defaults). Never fails. */
void resp_parser_init(resp_parser *p, const resp_parser_config *cfg);

/* Releases every buffer of *p, including argv handed out and not detached. p may be NULL. */
void resp_parser_deinit(resp_parser *p);

/* Copies len bytes of input into the parser (into the big bulk being filled when there is
 * one, so a big value is copied exactly once). Never fails. data may be NULL if len == 0.
 * Invalidates argv handed out by an earlier resp_parser_next(). */
void resp_parser_feed(resp_parser *p, const void *data, size_t len);

/* Zero-copy input: returns where the caller may write the next input bytes, and in *avail
 * how many it may write there (always >= 1). While a big bulk is filling this is the bulk's
 * own buffer and *avail is exactly the number of bytes the bulk still needs, so a reader
 * that honours *avail moves a 100 MB value from the socket to its final buffer with no
 * other copy. Otherwise it is free space (at least RESP_IOBUF_LEN bytes, or what the bulk
 * being read still needs if that is more) at the end of the input buffer.
 * The pointer is borrowed: valid until the next call on p. Follow with resp_parser_commit().
 * Invalidates argv handed out by an earlier resp_parser_next(). */
uint8_t *resp_parser_wbuf(resp_parser *p, size_t *avail);

/* Declares that n bytes (n <= the *avail last returned by resp_parser_wbuf) were written at
 * the pointer it returned. Every resp_parser_wbuf() must be followed by exactly one commit
 * before any other call on p (asserted); commit 0 when the read returned nothing. */
void resp_parser_commit(resp_parser *p, size_t n);

/* Parses the next command from the buffered input.
 * Returns RESP_PARSE_CMD and fills *cmd; RESP_PARSE_MORE when no complete command is
 * buffered (empty requests -- "*0", "*-1", blank inline lines -- are consumed silently);
 * RESP_PARSE_ERROR on a protocol error, after which every call returns RESP_PARSE_ERROR:
 * the connection replies with resp_reply_error(resp_parser_error(p)) and closes.
 * cmd->argv and the bytes it points to are borrowed: valid until the next call of
 * resp_parser_next, _feed, _wbuf, _commit or _deinit on p, except arguments moved out
 * with resp_parser_detach_arg(). Call it until it stops returning RESP_PARSE_CMD after
 * each feed: pipelined input can hold any number of commands. */
resp_parse_status resp_parser_next(resp_parser *p, resp_cmd *cmd);

/* Moves argument i of the command last returned by resp_parser_next() into *out (which
 * must be empty, e.g. BS_BUF_INIT): the caller owns it, free with bs_buf_free(); it stays
 * valid after later parser calls. A big argument (>= cfg.big_arg bytes) is handed over
 * without copying; a small one is copied. Use *out, not cmd->argv[i], afterwards.
 * Each argument may be detached at most once; i < that command's argc (asserted). Only
 * between the RESP_PARSE_CMD and the next call that invalidates argv. */
void resp_parser_detach_arg(resp_parser *p, size_t i, bs_buf *out);

/* Redis's string2ll, the rule of multibulk and bulk lengths and of every integer argument:
 * "0", or an optional '-' then a digit 1-9 then digits, at most 20 characters, within long
 * long (no spaces, no '+', no leading zeros, no "-0"). Any thread. */
bool resp_parse_ll(bs_slice s, long long *out);

/* The protocol error text, e.g. "Protocol error: invalid bulk length" (no "ERR " prefix,
 * no CR or LF), or "" when there was none. Borrowed: valid while p lives. */
const char *resp_parser_error(const resp_parser *p);

/* Bytes received and not yet handed out as commands (for client-query-buffer-limit). */
size_t resp_parser_pending(const resp_parser *p);

/* ---- reply encoder -------------------------------------------------------------------- */

/* Where encoded replies go: appended to a bs_buf, or passed to a callback (for example
 * one that appends to a libevent evbuffer). The callback cannot fail: a connection that
 * cannot send any more finds out from its socket and closes. */
typedef void (*resp_write_fn)(void *ctx, const void *data, size_t len);

typedef struct resp_out {
    int proto;          /* 2 or 3, the connection's HELLO version; may change between replies */
    bs_buf *buf;        /* borrowed; non-NULL for buffer outputs */
    resp_write_fn write; /* non-NULL for callback outputs */
    void *ctx;
} resp_out;

/* Outputs that append to *buf (borrowed; must outlive *o) or call fn(ctx, ...). proto is
 * 2 or 3 (asserted). */
void resp_out_init_buf(resp_out *o, bs_buf *buf, int proto);
void resp_out_init_fn(resp_out *o, resp_write_fn fn, void *ctx, int proto);

/* Every writer below emits exactly one reply element (or an aggregate header, after which
 * the caller emits the announced number of elements) and cannot fail. Text arguments are
 * (pointer, length); the *_str variants take a NUL-terminated C string. */

/* "+<s>\r\n". CR and LF inside s are written as spaces so the reply stays one line. */
void resp_reply_simple(resp_out *o, const char *s, size_t len);
void resp_reply_simple_str(resp_out *o, const char *s);
void resp_reply_ok(resp_out *o); /* "+OK\r\n" */

/* An error, by Redis's addReplyErrorLength() rule: text that starts with '-' carries its
 * own code ("-WRONGTYPE Operation against ...") and is sent as is; any other text gets the
 * generic "-ERR " prefix. Like addReplyErrorFormat(), CR/LF at either end are trimmed and
 * CR/LF inside become spaces first. */
void resp_reply_error(resp_out *o, const char *s, size_t len);
void resp_reply_error_str(resp_out *o, const char *s);
/* printf-style, same rule; the formatted text is truncated to 4096 bytes. */
void resp_reply_errorf(resp_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "-<code> <text>\r\n", e.g. ("WRONGTYPE", "Operation against a key ..."). */
void resp_reply_error_code(resp_out *o, const char *code, const char *text);

void resp_reply_int(resp_out *o, long long v); /* ":<v>\r\n" */

/* "$<len>\r\n<bytes>\r\n"; p may be NULL when len == 0. */
void resp_reply_bulk(resp_out *o, const void *p, size_t len);
void resp_reply_bulk_slice(resp_out *o, bs_slice s);
void resp_reply_bulk_str(resp_out *o, const char *s);
void resp_reply_bulk_int(resp_out *o, long long v); /* the decimal text as a bulk */

/* The null that stands for a missing string (GET of a missing key): "$-1\r\n" under RESP2.
 * The null that stands for a missing aggregate (EXEC aborted by WATCH, BLPOP timeout):
 * "*-1\r\n" under RESP2. Both are "_\r\n" under RESP3. */
void resp_reply_null_bulk(resp_out *o);
void resp_reply_null_array(resp_out *o);

/* Aggregate headers; the caller then writes the elements.
 * array: "*<n>"; map (n key/value pairs): "%<n>", RESP2 "*<2n>"; set: "~<n>", RESP2
 * "*<n>"; push (out-of-band, e.g. pub/sub messages): "><n>", RESP2 "*<n>". */
void resp_reply_array(resp_out *o, size_t n);
void resp_reply_map(resp_out *o, size_t n);
void resp_reply_set(resp_out *o, size_t n);
void resp_reply_push(resp_out *o, size_t n);

/* RESP3 ",<d>\r\n" with Redis's formatting: "inf", "-inf", "nan", else "%.17g".
 * RESP2: the same text as a bulk string. */
void resp_reply_double(resp_out *o, double d);

/* RESP3 "#t\r\n" / "#f\r\n"; RESP2 ":1\r\n" / ":0\r\n". */
void resp_reply_bool(resp_out *o, bool b);

/* RESP3 "=<len+4>\r\n<ext>:<bytes>\r\n" with a 3-byte format such as "txt" (asserted to be
 * 3 characters); RESP2 a plain bulk of the bytes. */
void resp_reply_verbatim(resp_out *o, const char *ext, const void *p, size_t len);

/* Raw bytes, already encoded (e.g. a shared constant reply). */
void resp_reply_raw(resp_out *o, const void *p, size_t len);

#endif
