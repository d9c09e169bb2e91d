/* util.c -- argument parsing and glob matching with Redis's exact rules.
 *
 * Redis clients rely on the precise acceptance rules (e.g. "+1" and " 1" are not integers,
 * "01" is not either), so these follow Redis's util.c behaviour: string2ll's strictness,
 * strtold without leading spaces or NaN, and stringmatchlen's glob syntax. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/assert.h"
#include "resp/resp_int.h"

bool resp_parse_ld(bs_slice s, long double *out)
{
    char buf[5 * 1024 + 1]; /* MAX_LONG_DOUBLE_CHARS */
    if (s.len == 0 || s.len >= sizeof(buf))
        return false;
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    if (isspace((unsigned char)buf[0]))
        return false;
    char *end = NULL;
    errno = 0;
    long double v = strtold(buf, &end);
    if ((size_t)(end - buf) != s.len || (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)) ||
        isnan(v))
        return false;
    *out = v;
    return true;
}

bool resp_arg_is(bs_slice s, const char *lit)
{
    size_t n = strlen(lit);
    if (n == 0)
        return s.len == 0; /* an empty slice may have a NULL ptr */
    return s.len == n && strncasecmp((const char *)s.ptr, lit, n) == 0;
}

static int fold(int c, bool nocase)
{
    return nocase ? tolower(c) : c;
}

/* Recursive matcher over (pattern, string); depth bounds the recursion on '*' so a hostile
 * pattern cannot exhaust the stack (Redis 7.2 bounds it the same way). */
static bool match(const uint8_t *p, size_t pl, const uint8_t *s, size_t sl, bool nocase,
                  int depth)
{
    if (depth > 1000)
        return false;
    while (pl > 0 && sl > 0) {
        switch (p[0]) {
        case '*':
            while (pl > 1 && p[1] == '*') {
                p++;
                pl--;
            }
            if (pl == 1)
                return true;
            while (sl > 0) {
                if (match(p + 1, pl - 1, s, sl, nocase, depth + 1))
                    return true;
                s++;
                sl--;
            }
            return false;
        case '?':
            s++;
            sl--;
            break;
        case '[': {
            p++;
            pl--;
            bool negate = pl > 0 && p[0] == '^';
            if (negate) {
                p++;
                pl--;
            }
            bool hit = false;
            for (;;) {
                if (pl == 0)
                    break;
                if (p[0] == '\\' && pl >= 2) {
                    p++;
                    pl--;
                    if (p[0] == s[0])
                        hit = true;
                } else if (p[0] == ']') {
                    break;
                } else if (pl >= 3 && p[1] == '-') {
                    int a = fold(p[0], nocase), b = fold(p[2], nocase), c = fold(s[0], nocase);
                    if (a > b) {
                        int t = a;
                        a = b;
                        b = t;
                    }
                    if (c >= a && c <= b)
                        hit = true;
                    p += 2;
                    pl -= 2;
                } else if (fold(p[0], nocase) == fold(s[0], nocase)) {
                    hit = true;
                }
                p++;
                pl--;
            }
            if (pl == 0) { /* unterminated class: Redis treats the end as ']' */
                p--;
                pl++;
            }
            if (negate)
                hit = !hit;
            if (!hit)
                return false;
            s++;
            sl--;
            break;
        }
        case '\\':
            if (pl >= 2) {
                p++;
                pl--;
            }
            /* fall through */
        default:
            if (fold(p[0], nocase) != fold(s[0], nocase))
                return false;
            s++;
            sl--;
            break;
        }
        p++;
        pl--;
        if (sl == 0) {
            while (pl > 0 && p[0] == '*') {
                p++;
                pl--;
            }
            break;
        }
    }
    return pl == 0 && sl == 0;
}

bool resp_glob_match(bs_slice pattern, bs_slice str, bool nocase)
{
    return match(pattern.ptr, pattern.len, str.ptr, str.len, nocase, 0);
}

void resp_reply_client_error(resp_req *req, const client_result *res)
{
    BS_ASSERT(res->code != BS_OK);
    if (res->msg[0] != '\0')
        resp_reply_error_str(&req->o, res->msg);
    else
        resp_reply_errorf(&req->o, "%s", bs_strerror(res->code));
    resp_req_finish(req);
}
