/* config_units.c -- TiKV's ReadableSize and ReadableDuration, parsed and printed.
 *
 * Operators copy values between TiKV and Basalt configs, so "96MB" must mean what TiKV
 * means (96 * 2^20: TiKV's KB/MB/GB are binary) and "1h30m" must parse the same way.
 * These follow tikv_util::config (ReadableSize::from_str, ReadableDuration::from_str and
 * their Display/Serialize), including the double-precision arithmetic and truncation.
 * Where TiKV saturates on overflow or accepts inf/NaN, Basalt reports an error instead. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

#define KIB 1024ull
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define TIB (GIB * 1024)
#define PIB (TIB * 1024)

#define MS_SECOND 1000ull
#define MS_MINUTE (MS_SECOND * 60)
#define MS_HOUR (MS_MINUTE * 60)
#define MS_DAY (MS_HOUR * 24)

/* 2^64 as a double: the first value that does not fit a uint64_t. */
#define U64_LIMIT 18446744073709551616.0

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Trims ASCII blanks from [*s, *e). */
static void trim(const char **s, const char **e)
{
    while (*s < *e && is_space(**s))
        (*s)++;
    while (*e > *s && is_space((*e)[-1]))
        (*e)--;
}

static bool all_ascii(const char *s, const char *e)
{
    for (; s < e; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The decimal subset of Rust's f64 grammar: [+-]? (d+ ('.' d*)? | '.' d+) ([eE][+-]?d+)?
 * over [s, e). Signs and exponents only when allow_sign_exp. */
static bool parse_decimal(const char *s, const char *e, bool allow_sign_exp, double *out)
{
    char buf[64];
    const char *p = s;
    if (allow_sign_exp && p < e && (*p == '+' || *p == '-'))
        p++;
    size_t int_digits = 0, frac_digits = 0;
    while (p < e && is_digit(*p)) {
        p++;
        int_digits++;
    }
    if (p < e && *p == '.') {
        p++;
        while (p < e && is_digit(*p)) {
            p++;
            frac_digits++;
        }
    }
    if (int_digits + frac_digits == 0)
        return false;
    if (allow_sign_exp && p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        size_t exp_digits = 0;
        while (p < e && is_digit(*p)) {
            p++;
            exp_digits++;
        }
        if (exp_digits == 0)
            return false;
    }
    if (p != e || (size_t)(e - s) >= sizeof(buf))
        return false;
    memcpy(buf, s, (size_t)(e - s));
    buf[e - s] = '\0';
    *out = strtod(buf, NULL);
    return isfinite(*out);
}

int bs_config_parse_size(const char *text, uint64_t *bytes)
{
    static const struct {
        const char *name;
        uint64_t mult;
    } units[] = {
        {"", 1},      {"B", 1},      {"K", KIB},    {"KB", KIB},   {"KiB", KIB},
        {"M", MIB},   {"MB", MIB},   {"MiB", MIB},  {"G", GIB},    {"GB", GIB},
        {"GiB", GIB}, {"T", TIB},    {"TB", TIB},   {"TiB", TIB},  {"P", PIB},
        {"PB", PIB},  {"PiB", PIB},
    };
    if (!text)
        return BS_EINVAL;
    const char *s = text, *e = text + strlen(text);
    trim(&s, &e);
    if (s == e || !all_ascii(s, e))
        return BS_EINVAL;
    const char *num_end = s;
    while (num_end < e && (is_digit(*num_end) || *num_end == '.'))
        num_end++;
    const char *us = num_end, *ue = e;
    trim(&us, &ue);
    size_t ulen = (size_t)(ue - us);
    uint64_t mult = 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strlen(units[i].name) == ulen && memcmp(units[i].name, us, ulen) == 0) {
            mult = units[i].mult;
            break;
        }
    }
    double n;
    if (mult == 0 || !parse_decimal(s, num_end, false, &n))
        return BS_EINVAL;
    double v = n * (double)mult;
    if (!(v < U64_LIMIT))
        return BS_EINVAL;
    *bytes = (uint64_t)v;
    return BS_OK;
}

int bs_config_parse_duration(const char *text, uint64_t *ms)
{
    if (!text)
        return BS_EINVAL;
    const char *s = text, *e = text + strlen(text);
    trim(&s, &e);
    if (!all_ascii(s, e))
        return BS_EINVAL;
    uint64_t last_unit = MS_DAY + 1;
    double dur = 0.0;
    const char *left = s;
    for (;;) {
        const char *u = left;
        while (u < e && !strchr("dhms", *u))
            u++;
        if (u == e)
            break;
        uint64_t unit;
        const char *next;
        if (*u == 'm' && u + 1 < e && u[1] == 's') {
            unit = 1;
            next = u + 2;
        } else {
            switch (*u) {
            case 'd': unit = MS_DAY; break;
            case 'h': unit = MS_HOUR; break;
            case 'm': unit = MS_MINUTE; break;
            default: unit = MS_SECOND; break;
            }
            next = u + 1;
        }
        if (unit >= last_unit)
            return BS_EINVAL; /* d, h, m, s, ms must come in this order, once each */
        const char *ns = left, *ne = u;
        trim(&ns, &ne);
        double n;
        if (!parse_decimal(ns, ne, true, &n))
            return BS_EINVAL;
        dur += n * (double)unit;
        last_unit = unit;
        left = next;
    }
    if (left != e)
        return BS_EINVAL;
    if (signbit(dur) || !(dur < U64_LIMIT))
        return BS_EINVAL;
    *ms = (uint64_t)dur;
    return BS_OK;
}

static void append_fmt_u64(bs_buf *out, uint64_t v, const char *suffix)
{
    char tmp[48];
    int n = snprintf(tmp, sizeof(tmp), "%llu%s", (unsigned long long)v, suffix);
    bs_buf_append(out, tmp, (size_t)n);
}

void bs_config_format_size(uint64_t bytes, bs_buf *out)
{
    if (bytes == 0)
        append_fmt_u64(out, 0, "KiB");
    else if (bytes % PIB == 0)
        append_fmt_u64(out, bytes / PIB, "PiB");
    else if (bytes % TIB == 0)
        append_fmt_u64(out, bytes / TIB, "TiB");
    else if (bytes % GIB == 0)
        append_fmt_u64(out, bytes / GIB, "GiB");
    else if (bytes % MIB == 0)
        append_fmt_u64(out, bytes / MIB, "MiB");
    else if (bytes % KIB == 0)
        append_fmt_u64(out, bytes / KIB, "KiB");
    else
        append_fmt_u64(out, bytes, "");
}

void bs_config_format_duration(uint64_t ms, bs_buf *out)
{
    static const struct {
        uint64_t unit;
        const char *name;
    } parts[] = {{MS_DAY, "d"}, {MS_HOUR, "h"}, {MS_MINUTE, "m"}, {MS_SECOND, "s"}, {1, "ms"}};
    if (ms == 0) {
        bs_buf_append(out, "0s", 2);
        return;
    }
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (ms >= parts[i].unit) {
            append_fmt_u64(out, ms / parts[i].unit, parts[i].name);
            ms %= parts[i].unit;
        }
    }
}
