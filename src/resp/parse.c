/* parse.c -- incremental RESP request parser (multibulk and inline), as Redis 7 parses.
 *
 * Mirrors processMultibulkBuffer() / processInlineBuffer() of Redis's src/networking.c
 * rule for rule, because clients and tests depend on the exact behaviour and error texts:
 *   - a request starting with '*' is multibulk, anything else is an inline line;
 *   - header lines end at the first '\r' and need one more byte after it, which is skipped
 *     unread (Redis never checks that it is '\n'); the two bytes after a bulk are skipped
 *     unread too;
 *   - counts are parsed with string2ll() rules: optional '-', no '+', no leading zeros,
 *     no spaces, at most 20 characters;
 *   - Redis looks for line ends with strchr(), so a NUL before the terminator hides it:
 *     the line never completes and the request stalls until more than inline_max bytes
 *     are buffered, then fails as "too big". We reproduce that (`stuck`);
 *   - a count <= 0 and an inline line without words are empty requests, skipped.
 *
 * One deliberate difference: Redis applies the 64 KiB line limit only while a line is
 * still unterminated in its query buffer, so whether a 70 KB line passes depends on how
 * the bytes were split into reads. Here a line longer than inline_max always fails, as it
 * does in Redis whenever it arrives in small pieces. That makes the result independent of
 * chunking, which the tests and the fuzzer check at every split point.
 *
 * Memory: input is buffered in `in`; arguments of the command being assembled are
 * (offset, length) pairs relative to its first byte, so compacting the buffer (moving
 * the unconsumed tail to the front, at most once per byte) never invalidates them. Inline
 * arguments are unquoted in place (the output never outruns the input). A bulk of at least
 * cfg.big_arg bytes gets one buffer of its final size, filled straight from the input (or
 * from the caller's read, via resp_parser_wbuf), so a 100 MB value is never re-copied or
 * re-scanned: parsing is linear in the input. */
#include "resp/proto.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/assert.h"

enum {
    ST_START,     /* between requests */
    ST_INLINE,    /* reading an inline line */
    ST_MBULK,     /* reading the "*<count>" line */
    ST_BULK_LEN,  /* reading a "$<len>" line */
    ST_BULK_DATA, /* waiting for a small bulk and its 2 trailing bytes */
    ST_BIG,       /* filling a big bulk, then its 2 trailing bytes */
    ST_ERROR      /* protocol error seen; sticky */
};

/* Buffers larger than this are released when they become empty, so one burst does not
 * pin memory for the life of a connection. */
#define IN_KEEP_MAX (1024 * 1024)

void resp_parser_config_default(resp_parser_config *cfg)
{
    cfg->max_bulk_len = RESP_MAX_BULK_LEN_DEFAULT;
    cfg->max_multibulk_len = RESP_MAX_MULTIBULK_DEFAULT;
    cfg->inline_max = RESP_INLINE_MAX;
    cfg->big_arg = RESP_BIG_ARG;
    cfg->auth_required = false;
}

void resp_parser_init(resp_parser *p, const resp_parser_config *cfg)
{
    memset(p, 0, sizeof(*p));
    if (cfg)
        p->cfg = *cfg;
    else
        resp_parser_config_default(&p->cfg);
    BS_ASSERT(p->cfg.big_arg >= 1);
    bs_buf_init(&p->in);
    p->state = ST_START;
}

/* Argument arrays above this many slots are released with their command, so one huge
 * MSET does not pin tens of megabytes for the life of the connection. */
#define ARGS_KEEP_MAX 4096

/* Drops the arguments of the command handed out last (or being assembled). */
static void release_args(resp_parser *p)
{
    for (size_t i = 0; i < p->argc; i++)
        bs_free(p->args[i].big);
    if (p->args_cap > ARGS_KEEP_MAX) {
        bs_free(p->args);
        bs_free(p->argv);
        p->args = NULL;
        p->argv = NULL;
        p->args_cap = p->argv_cap = 0;
    }
    p->argc = 0;
    p->direct = 0;
    p->returned = false;
}

void resp_parser_deinit(resp_parser *p)
{
    if (!p)
        return;
    release_args(p);
    bs_free(p->args);
    bs_free(p->argv);
    bs_free(p->big);
    bs_buf_free(&p->in);
    memset(p, 0, sizeof(*p));
}

/* Called by every entry point that invalidates a handed-out argv. */
static void forget_returned(resp_parser *p)
{
    if (!p->returned)
        return;
    release_args(p);
    BS_ASSERT(p->state == ST_START || p->state == ST_ERROR);
    p->cmd_start = p->pos;
}

/* Makes room for `want` more bytes at the end of `in`, first moving the bytes still
 * needed ([cmd_start, len)) to the front. A byte moves at most once while it waits:
 * after a move cmd_start is 0 until its command completes. */
static void ensure_space(resp_parser *p, size_t want)
{
    BS_ASSERT(p->cmd_start <= p->pos && p->pos <= p->in.len);
    if (p->in.cap - p->in.len >= want)
        return;
    if (p->cmd_start > 0) {
        size_t keep = p->in.len - p->cmd_start;
        if (keep)
            memmove(p->in.ptr, p->in.ptr + p->cmd_start, keep);
        p->in.len = keep;
        p->pos -= p->cmd_start;
        p->cmd_start = 0;
    }
    bs_buf_reserve(&p->in, want);
}

static bool big_filling(const resp_parser *p)
{
    return p->state == ST_BIG && p->big_have < (size_t)p->bulk_len;
}

void resp_parser_feed(resp_parser *p, const void *data, size_t len)
{
    const uint8_t *d = data;
    BS_ASSERT(p->wb_avail == 0);
    forget_returned(p);
    if (len == 0)
        return;
    if (big_filling(p)) {
        size_t n = (size_t)p->bulk_len - p->big_have;
        if (n > len)
            n = len;
        memcpy(p->big + p->big_have, d, n);
        p->big_have += n;
        p->direct += n;
        d += n;
        len -= n;
    }
    if (len) {
        ensure_space(p, len);
        memcpy(p->in.ptr + p->in.len, d, len);
        p->in.len += len;
    }
}

uint8_t *resp_parser_wbuf(resp_parser *p, size_t *avail)
{
    BS_ASSERT(p->wb_avail == 0);
    forget_returned(p);
    if (big_filling(p)) {
        p->wb_big = true;
        p->wb_avail = (size_t)p->bulk_len - p->big_have;
        *avail = p->wb_avail;
        return p->big + p->big_have;
    }
    size_t want = RESP_IOBUF_LEN;
    if (p->state == ST_BULK_DATA) {
        size_t need = (size_t)p->bulk_len + 2, have = p->in.len - p->pos;
        if (have < need && need - have > want)
            want = need - have;
    }
    ensure_space(p, want);
    p->wb_big = false;
    p->wb_avail = p->in.cap - p->in.len;
    *avail = p->wb_avail;
    return p->in.ptr + p->in.len;
}

void resp_parser_commit(resp_parser *p, size_t n)
{
    BS_ASSERT(n <= p->wb_avail);
    if (p->wb_big) {
        BS_ASSERT(p->state == ST_BIG && p->big_have + n <= (size_t)p->bulk_len);
        p->big_have += n;
        p->direct += n;
    } else {
        BS_ASSERT(p->in.len + n <= p->in.cap);
        p->in.len += n;
    }
    p->wb_avail = 0;
    p->wb_big = false;
}

const char *resp_parser_error(const resp_parser *p)
{
    return p->err;
}

size_t resp_parser_pending(const resp_parser *p)
{
    if (p->returned)
        return p->in.len - p->pos;
    /* Bytes copied from `in` into a big buffer are still counted in [cmd_start, len). */
    return p->in.len - p->cmd_start + p->direct;
}

static resp_parse_status fail(resp_parser *p, const char *text)
{
    snprintf(p->err, sizeof(p->err), "Protocol error: %s", text);
    p->state = ST_ERROR;
    return RESP_PARSE_ERROR;
}

bool resp_parse_ll(bs_slice str, long long *out)
{
    const uint8_t *s = str.ptr;
    size_t n = str.len;
    if (n == 0 || n >= 21)
        return false;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    size_t i = 0;
    bool neg = false;
    if (s[0] == '-') {
        neg = true;
        i = 1;
        if (n == 1)
            return false;
    }
    if (s[i] < '1' || s[i] > '9')
        return false;
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return false;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return false;
        *out = (long long)v;
    }
    return true;
}

static void line_done(resp_parser *p)
{
    p->scanned = 0;
    p->stuck = false;
}

/* Looks for the terminator of the line starting at pos. Returns 1 with *n = the line's
 * length before the terminator (and, if need_after, at least one byte buffered after the
 * terminator); 0 when more input is needed; -1 when the line exceeds cfg.inline_max.
 * Never searches a byte twice across calls (`scanned`). */
static int find_line(resp_parser *p, uint8_t term, bool need_after, size_t *n)
{
    size_t avail = p->in.len - p->pos;
    if (!p->stuck && p->scanned < avail) {
        const uint8_t *base = p->in.ptr + p->pos;
        const uint8_t *t = memchr(base + p->scanned, term, avail - p->scanned);
        size_t lim = t ? (size_t)(t - base) : avail;
        if (lim > p->scanned && memchr(base + p->scanned, 0, lim - p->scanned)) {
            p->stuck = true; /* Redis's strchr() stops at the NUL: no terminator, ever */
        } else if (t) {
            BS_TESTCASE(lim == p->cfg.inline_max);
            if (lim > p->cfg.inline_max)
                return -1;
            p->scanned = lim; /* the next search finds t at once */
            if (need_after && lim + 1 >= avail)
                return 0;
            *n = lim;
            return 1;
        } else {
            p->scanned = avail;
        }
    }
    return avail > p->cfg.inline_max ? -1 : 0;
}

static void add_arg(resp_parser *p, size_t off, size_t len, uint8_t *big)
{
    if (p->argc == p->args_cap) {
        p->args_cap = p->args_cap ? p->args_cap * 2 : 8;
        p->args = bs_realloc(p->args, p->args_cap * sizeof(*p->args));
    }
    p->args[p->argc++] = (resp_arg){off, len, big};
}

static resp_parse_status produce(resp_parser *p, resp_cmd *cmd)
{
    BS_ASSERT(p->argc >= 1);
    if (p->argv_cap < p->argc) {
        p->argv_cap = p->argc;
        p->argv = bs_realloc(p->argv, p->argv_cap * sizeof(*p->argv));
    }
    const uint8_t *base = p->in.ptr + p->cmd_start;
    for (size_t i = 0; i < p->argc; i++) {
        const resp_arg *a = &p->args[i];
        p->argv[i] = bs_slice_make(a->big ? a->big : base + a->off, a->len);
    }
    p->returned = true;
    p->state = ST_START;
    cmd->argc = p->argc;
    cmd->argv = p->argv;
    return RESP_PARSE_CMD;
}

/* isspace() in the C locale, which sdssplitargs() uses to skip blanks. */
static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int hex_val(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Splits in[s, e) into arguments with the rules of Redis's sdssplitargs(), unquoting in
 * place. Returns false on unbalanced quotes (or a closing quote followed by a non-blank).
 *   - blanks (isspace) separate words; an unquoted word ends at ' ', '\t', '\r', '\n';
 *   - "..." may start anywhere in a word and knows \xHH, \n \r \t \b \a, and \<c> = <c>;
 *   - '...' knows only \' ;
 *   - a closing quote must be followed by a blank or the end of the line. */
static bool split_inline(resp_parser *p, size_t s, size_t e)
{
    uint8_t *b = p->in.ptr;
    size_t r = s, w = s;
    for (;;) {
        while (r < e && is_space(b[r]))
            r++;
        if (r == e)
            return true;
        size_t tok = w;
        bool inq = false, insq = false, done = false;
        while (!done) {
            if (inq) {
                if (r == e)
                    return false;
                int h1, h2;
                if (b[r] == '\\' && r + 3 < e && b[r + 1] == 'x' &&
                    (h1 = hex_val(b[r + 2])) >= 0 && (h2 = hex_val(b[r + 3])) >= 0) {
                    b[w++] = (uint8_t)(h1 * 16 + h2);
                    r += 4;
                } else if (b[r] == '\\' && r + 1 < e) {
                    uint8_t c = b[r + 1];
                    switch (c) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: break;
                    }
                    b[w++] = c;
                    r += 2;
                } else if (b[r] == '"') {
                    if (r + 1 < e && !is_space(b[r + 1]))
                        return false;
                    done = true;
                    r++;
                } else {
                    b[w++] = b[r++];
                }
            } else if (insq) {
                if (r == e)
                    return false;
                if (b[r] == '\\' && r + 1 < e && b[r + 1] == '\'') {
                    b[w++] = '\'';
                    r += 2;
                } else if (b[r] == '\'') {
                    if (r + 1 < e && !is_space(b[r + 1]))
                        return false;
                    done = true;
                    r++;
                } else {
                    b[w++] = b[r++];
                }
            } else if (r == e) {
                done = true;
            } else {
                switch (b[r]) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                    done = true;
                    break;
                case '"':
                    inq = true;
                    break;
                case '\'':
                    insq = true;
                    break;
                default:
                    b[w++] = b[r];
                    break;
                }
                r++;
            }
        }
        BS_ASSERT(w <= r);
        add_arg(p, tok - p->cmd_start, w - tok, NULL);
    }
}

resp_parse_status resp_parser_next(resp_parser *p, resp_cmd *cmd)
{
    BS_ASSERT(p->wb_avail == 0);
    forget_returned(p);
    for (;;) {
        BS_ASSERT(p->cmd_start <= p->pos && p->pos <= p->in.len);
        switch (p->state) {
        case ST_ERROR:
            return RESP_PARSE_ERROR;

        case ST_START:
            BS_ASSERT(p->argc == 0 && p->big == NULL);
            if (p->pos == p->in.len) {
                /* Everything consumed: rewind for free instead of compacting later. */
                p->pos = p->cmd_start = p->in.len = 0;
                if (p->in.cap > IN_KEEP_MAX)
                    bs_buf_free(&p->in);
                return RESP_PARSE_MORE;
            }
            p->cmd_start = p->pos;
            line_done(p);
            p->state = p->in.ptr[p->pos] == '*' ? ST_MBULK : ST_INLINE;
            break;

        case ST_INLINE: {
            size_t n;
            int rc = find_line(p, '\n', false, &n);
            if (rc < 0)
                return fail(p, "too big inline request");
            if (rc == 0)
                return RESP_PARSE_MORE;
            size_t start = p->pos, qlen = n;
            if (qlen > 0 && p->in.ptr[start + qlen - 1] == '\r')
                qlen--;
            p->pos += n + 1;
            line_done(p);
            if (!split_inline(p, start, start + qlen))
                return fail(p, "unbalanced quotes in request");
            if (p->argc == 0) {
                p->state = ST_START;
                break;
            }
            return produce(p, cmd);
        }

        case ST_MBULK: {
            size_t n;
            long long ll;
            int rc = find_line(p, '\r', true, &n);
            if (rc < 0)
                return fail(p, "too big mbulk count string");
            if (rc == 0)
                return RESP_PARSE_MORE;
            BS_ASSERT(n >= 1 && p->in.ptr[p->pos] == '*');
            if (!resp_parse_ll(bs_slice_make(p->in.ptr + p->pos + 1, n - 1), &ll) || ll > p->cfg.max_multibulk_len)
                return fail(p, "invalid multibulk length");
            if (ll > 10 && p->cfg.auth_required)
                return fail(p, "unauthenticated multibulk length");
            p->pos += n + 2;
            line_done(p);
            if (ll <= 0) {
                p->state = ST_START;
                break;
            }
            p->mbulk_left = ll;
            p->state = ST_BULK_LEN;
            break;
        }

        case ST_BULK_LEN: {
            size_t n;
            long long ll;
            int rc = find_line(p, '\r', true, &n);
            if (rc < 0)
                return fail(p, "too big bulk count string");
            if (rc == 0)
                return RESP_PARSE_MORE;
            uint8_t c = p->in.ptr[p->pos];
            if (c != '$') {
                char text[64];
                /* Redis's addReplyErrorFormat() turns CR/LF into spaces. */
                snprintf(text, sizeof(text), "expected '$', got '%c'",
                         c == '\r' || c == '\n' ? ' ' : (char)c);
                return fail(p, text);
            }
            if (!resp_parse_ll(bs_slice_make(p->in.ptr + p->pos + 1, n - 1), &ll) || ll < 0 ||
                ll > p->cfg.max_bulk_len)
                return fail(p, "invalid bulk length");
            if (ll > 16384 && p->cfg.auth_required)
                return fail(p, "unauthenticated bulk length");
            p->pos += n + 2;
            line_done(p);
            p->bulk_len = ll;
            BS_TESTCASE((unsigned long long)ll == p->cfg.big_arg);
            if ((unsigned long long)ll >= p->cfg.big_arg) {
                p->big = bs_malloc((size_t)ll);
                p->big_have = 0;
                p->state = ST_BIG;
            } else {
                p->state = ST_BULK_DATA;
            }
            break;
        }

        case ST_BULK_DATA:
            if (p->in.len - p->pos < (size_t)p->bulk_len + 2)
                return RESP_PARSE_MORE;
            add_arg(p, p->pos - p->cmd_start, (size_t)p->bulk_len, NULL);
            p->pos += (size_t)p->bulk_len + 2;
            if (--p->mbulk_left == 0)
                return produce(p, cmd);
            p->state = ST_BULK_LEN;
            break;

        case ST_BIG: {
            size_t want = (size_t)p->bulk_len - p->big_have, have = p->in.len - p->pos;
            size_t take = want < have ? want : have;
            if (take) {
                memcpy(p->big + p->big_have, p->in.ptr + p->pos, take);
                p->big_have += take;
                p->pos += take;
            }
            if (p->big_have < (size_t)p->bulk_len || p->in.len - p->pos < 2)
                return RESP_PARSE_MORE;
            p->pos += 2;
            add_arg(p, 0, (size_t)p->bulk_len, p->big);
            p->big = NULL;
            p->big_have = 0;
            if (--p->mbulk_left == 0)
                return produce(p, cmd);
            p->state = ST_BULK_LEN;
            break;
        }

        default:
            BS_UNREACHABLE();
        }
    }
}

void resp_parser_detach_arg(resp_parser *p, size_t i, bs_buf *out)
{
    BS_ASSERT(p->returned && i < p->argc);
    BS_ASSERT(out->ptr == NULL && out->len == 0 && out->cap == 0);
    resp_arg *a = &p->args[i];
    if (a->big) {
        out->ptr = a->big;
        out->len = out->cap = a->len;
        a->big = NULL;
    } else {
        bs_buf_append(out, p->argv[i].ptr, p->argv[i].len);
    }
}
