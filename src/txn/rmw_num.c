/* rmw_num.c -- Redis's number rules for INCRBY and INCRBYFLOAT, byte for byte.
 *
 * Redis parses a string value as an integer only when it is the canonical decimal text of
 * an int64 (string2ll: optional '-', no '+', no spaces, no leading zeros, no "-0"), and as
 * a float with strtold over the whole string (string2ld: no leading space, NaN refused).
 * INCRBYFLOAT stores its result formatted "human friendly": %.17Lf with the trailing zeros
 * after the point (and a bare point) trimmed, "-0" shown as "0" (util.c ld2string,
 * LD_STR_HUMAN). Basalt must store the same bytes, since clients read them back. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txn/txn_int.h"

#define MAX_LONG_DOUBLE_CHARS (5 * 1024) /* Redis's bound on float text and output */

bool txn_parse_ll(bs_slice s, int64_t *out)
{
    const uint8_t *p = s.ptr;
    size_t n = s.len, i = 0;
    bool neg = false;
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return false;
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return true;
    }
    if (p[0] == '-') {
        neg = true;
        i = 1;
        if (n == 1)
            return false;
    }
    if (p[i] < '1' || p[i] > '9')
        return false;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        if (v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

bool txn_parse_ld(bs_slice s, long double *out)
{
    char buf[MAX_LONG_DOUBLE_CHARS + 1];
    char *end;
    long double v;
    if (s.len == 0 || s.len >= sizeof(buf))
        return false;
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    if (memchr(buf, '\0', s.len) || isspace((unsigned char)buf[0]))
        return false;
    errno = 0;
    v = strtold(buf, &end);
    if ((size_t)(end - buf) != s.len || isnan(v))
        return false;
    /* Redis refuses ERANGE only for results that are not +-HUGE_VALL or 0 underflows. */
    if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO))
        return false;
    *out = v;
    return true;
}

void txn_format_ld(bs_buf *out, long double v)
{
    char buf[MAX_LONG_DOUBLE_CHARS];
    int n;
    if (isinf(v)) {
        bs_buf_append(out, v > 0 ? "inf" : "-inf", v > 0 ? 3 : 4);
        return;
    }
    n = snprintf(buf, sizeof(buf), "%.17Lf", v);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return; /* cannot happen for a finite long double (<= 4933 integer digits) */
    if (memchr(buf, '.', (size_t)n)) {
        while (n > 0 && buf[n - 1] == '0')
            n--;
        if (n > 0 && buf[n - 1] == '.')
            n--;
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        n = 1;
    }
    bs_buf_append(out, buf, (size_t)n);
}

void txn_format_ll(bs_buf *out, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
    bs_buf_append(out, buf, (size_t)n);
}
