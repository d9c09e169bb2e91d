/* log.c -- the TiKV-format line writer, the sink and the key renderer (see log.h).
 *
 * A line is built in a heap buffer and handed to write(2) once, under sink_mu, so lines
 * from different threads never interleave and a reopen never races a write. Field values
 * are printf-formatted in one vsnprintf call over a rewritten format in which each field
 * boundary (a space before "key=") is replaced by the unit separator 0x1F; the output is
 * then cut at those separators so each value can be escaped on its own. */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/assert.h"
#include "common/clock.h"

_Atomic int bs_log_min_level_ = BS_LOG_LEVEL_INFO;
static _Atomic bool redact_keys = false;

static pthread_mutex_t sink_mu = PTHREAD_MUTEX_INITIALIZER;
static int sink_fd = STDERR_FILENO; /* guarded by sink_mu; a file fd when != STDERR_FILENO */

#define FIELD_SEP '\x1f'

static const char *const level_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};

const char *bs_log_level_name(bs_log_level level)
{
    if ((int)level < 0 || (int)level > BS_LOG_LEVEL_FATAL)
        return "UNKNOWN";
    return level_names[level];
}

void bs_log_set_level(bs_log_level level)
{
    BS_ASSERT((int)level >= BS_LOG_LEVEL_TRACE && (int)level <= BS_LOG_LEVEL_FATAL);
    atomic_store_explicit(&bs_log_min_level_, (int)level, memory_order_relaxed);
}

bs_log_level bs_log_get_level(void)
{
    return (bs_log_level)atomic_load_explicit(&bs_log_min_level_, memory_order_relaxed);
}

int bs_log_parse_level(const char *name, bs_log_level *out)
{
    static const struct {
        const char *name;
        bs_log_level level;
    } names[] = {
        {"trace", BS_LOG_LEVEL_TRACE}, {"debug", BS_LOG_LEVEL_DEBUG},
        {"info", BS_LOG_LEVEL_INFO},   {"warn", BS_LOG_LEVEL_WARN},
        {"warning", BS_LOG_LEVEL_WARN}, {"error", BS_LOG_LEVEL_ERROR},
        {"fatal", BS_LOG_LEVEL_FATAL}, {"critical", BS_LOG_LEVEL_FATAL},
    };
    if (!name)
        return BS_EINVAL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return BS_OK;
        }
    }
    return BS_EINVAL;
}

void bs_log_set_redact(bool on)
{
    atomic_store_explicit(&redact_keys, on, memory_order_relaxed);
}

bool bs_log_get_redact(void)
{
    return atomic_load_explicit(&redact_keys, memory_order_relaxed);
}

int bs_log_open_file(const char *path, bs_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return bs_err_setf(err, BS_EIO, "open log file %s: %s", path, strerror(errno));
    pthread_mutex_lock(&sink_mu);
    int old = sink_fd;
    sink_fd = fd;
    pthread_mutex_unlock(&sink_mu);
    if (old != STDERR_FILENO)
        (void)close(old); /* nothing useful to do if closing the old log fails */
    return BS_OK;
}

void bs_log_use_stderr(void)
{
    pthread_mutex_lock(&sink_mu);
    int old = sink_fd;
    sink_fd = STDERR_FILENO;
    pthread_mutex_unlock(&sink_mu);
    if (old != STDERR_FILENO)
        (void)close(old); /* as above */
}

/* ---- escaping ------------------------------------------------------------------- */

static bool needs_quotes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == '"' || c == '=' || c == '[' || c == ']' || c == 0x7f)
            return true;
    }
    return false;
}

static void append_str(bs_buf *b, const char *s)
{
    bs_buf_append(b, s, strlen(s));
}

/* TiKV's write_escaped_str: raw when harmless, else a JSON string. */
static void append_escaped(bs_buf *b, const char *s, size_t n)
{
    if (!needs_quotes(s, n)) {
        bs_buf_append(b, s, n);
        return;
    }
    bs_buf_append_byte(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        switch (c) {
        case '"': append_str(b, "\\\""); break;
        case '\\': append_str(b, "\\\\"); break;
        case '\n': append_str(b, "\\n"); break;
        case '\r': append_str(b, "\\r"); break;
        case '\t': append_str(b, "\\t"); break;
        case '\b': append_str(b, "\\b"); break;
        case '\f': append_str(b, "\\f"); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                append_str(b, esc);
            } else {
                bs_buf_append_byte(b, c);
            }
        }
    }
    bs_buf_append_byte(b, '"');
}

/* ---- fields --------------------------------------------------------------------- */

static bool is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

/* True when p starts "key=". */
static bool at_field_start(const char *p)
{
    const char *q = p;
    while (is_key_char(*q))
        q++;
    return q > p && *q == '=';
}

/* Copies fmt into out (NUL-terminated) with every run of spaces that precedes "key="
 * replaced by FIELD_SEP and leading/trailing spaces dropped; conversion specifications
 * ("% d") are copied whole so their flags are never taken for separators.
 * Returns the number of fields. */
static int rewrite_fields_fmt(const char *fmt, bs_buf *out)
{
    const char *p = fmt;
    int fields = 0;
    while (*p == ' ')
        p++;
    if (*p)
        fields = 1;
    while (*p) {
        if (*p == '%') {
            bs_buf_append_byte(out, (uint8_t)*p++);
            /* flags, width, precision and length modifiers, then the conversion */
            while (*p && strchr("-+ #0123456789.*hljztL'", *p))
                bs_buf_append_byte(out, (uint8_t)*p++);
            if (*p)
                bs_buf_append_byte(out, (uint8_t)*p++);
            continue;
        }
        if (*p == ' ') {
            const char *q = p;
            while (*q == ' ')
                q++;
            if (*q == '\0')
                break;
            if (at_field_start(q)) {
                bs_buf_append_byte(out, FIELD_SEP);
                fields++;
                p = q;
                continue;
            }
        }
        bs_buf_append_byte(out, (uint8_t)*p++);
    }
    bs_buf_append_byte(out, '\0');
    return fields;
}

static void append_field(bs_buf *line, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n);
    append_str(line, " [");
    if (eq) {
        append_escaped(line, s, (size_t)(eq - s));
        bs_buf_append_byte(line, '=');
        append_escaped(line, eq + 1, n - (size_t)(eq - s) - 1);
    } else {
        append_escaped(line, s, n);
    }
    bs_buf_append_byte(line, ']');
}

static void append_fields(bs_buf *line, const char *fields_fmt, va_list ap)
{
    bs_buf fmt = BS_BUF_INIT;
    int nfields = rewrite_fields_fmt(fields_fmt, &fmt);
    if (nfields == 0) {
        bs_buf_free(&fmt);
        return;
    }
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    /* The rewritten format has exactly the conversions of the checked original. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    int n = vsnprintf(small, sizeof(small), (const char *)fmt.ptr, ap);
    char *text = small;
    if (n >= (int)sizeof(small)) {
        text = bs_malloc((size_t)n + 1);
        (void)vsnprintf(text, (size_t)n + 1, (const char *)fmt.ptr, ap2);
    }
#pragma GCC diagnostic pop
    va_end(ap2);
    bs_buf_free(&fmt);
    if (n < 0) {
        append_str(line, " [log-format-error]");
        return;
    }

    /* A value that itself contains FIELD_SEP would shift the cut points: then the whole
     * text becomes one escaped field rather than a misleading split. */
    int seps = 0;
    for (int i = 0; i < n; i++)
        seps += text[i] == FIELD_SEP;
    if (seps != nfields - 1) {
        append_field(line, text, (size_t)n);
    } else {
        const char *start = text, *end = text + n;
        while (start <= end) {
            const char *cut = memchr(start, FIELD_SEP, (size_t)(end - start));
            if (!cut)
                cut = end;
            append_field(line, start, (size_t)(cut - start));
            start = cut + 1;
        }
    }
    if (text != small)
        bs_free(text);
}

/* ---- the line ------------------------------------------------------------------- */

static void append_timestamp(bs_buf *line)
{
    int64_t us = bs_clock_wall_us();
    time_t secs = (time_t)(us / 1000000);
    int ms = (int)((us / 1000) % 1000);
    struct tm tm;
    char ts[64];
    if (!localtime_r(&secs, &tm)) {
        append_str(line, "[0000/00/00 00:00:00.000 +00:00]");
        return;
    }
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    snprintf(ts, sizeof(ts), "[%04d/%02d/%02d %02d:%02d:%02d.%03d %c%02ld:%02ld]",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             ms, sign, off / 60, off % 60);
    append_str(line, ts);
}

/* TiKV prints the basename with characters outside [A-Za-z0-9._-] removed. */
static void append_file(bs_buf *line, const char *file, int lineno)
{
    const char *base = file ? strrchr(file, '/') : NULL;
    base = base ? base + 1 : (file ? file : "");
    char num[24];
    bs_buf_append_byte(line, '[');
    if (!*base) {
        append_str(line, "<unknown>");
    } else {
        for (const char *p = base; *p; p++)
            if (is_key_char(*p))
                bs_buf_append_byte(line, (uint8_t)*p);
        snprintf(num, sizeof(num), ":%d", lineno);
        append_str(line, num);
    }
    bs_buf_append_byte(line, ']');
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* a log that cannot be written has nowhere to report to */
        }
        p += w;
        n -= (size_t)w;
    }
}

void bs_log_write(bs_log_level level, const char *file, int line, const char *msg,
                  const char *fields_fmt, ...)
{
    bs_buf out = BS_BUF_INIT;
    bs_buf_reserve(&out, 256);
    append_timestamp(&out);
    bs_buf_append_byte(&out, ' ');
    bs_buf_append_byte(&out, '[');
    append_str(&out, bs_log_level_name(level));
    append_str(&out, "] ");
    append_file(&out, file, line);
    append_str(&out, " [");
    if (msg)
        append_escaped(&out, msg, strlen(msg));
    bs_buf_append_byte(&out, ']');
    if (fields_fmt) {
        va_list ap;
        va_start(ap, fields_fmt);
        append_fields(&out, fields_fmt, ap);
        va_end(ap);
    }
    bs_buf_append_byte(&out, '\n');

    pthread_mutex_lock(&sink_mu);
    write_all(sink_fd, out.ptr, out.len);
    pthread_mutex_unlock(&sink_mu);
    bs_buf_free(&out);
}

/* ---- keys ----------------------------------------------------------------------- */

static bool key_byte_plain(uint8_t c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != '=' && c != '[' && c != ']' && c != '\\';
}

const char *bs_log_key(bs_slice key, char *out, size_t cap)
{
    if (cap == 0)
        return out;
    if (bs_log_get_redact()) {
        snprintf(out, cap, "?");
        return out;
    }
    size_t full = 0;
    for (size_t i = 0; i < key.len; i++)
        full += key_byte_plain(key.ptr[i]) ? 1 : 4;
    /* When the whole rendering does not fit, keep room for the length note. */
    char note[40];
    size_t note_len = 0;
    if (full + 1 > cap)
        note_len = (size_t)snprintf(note, sizeof(note), "...(len=%zu)", key.len);
    size_t pos = 0;
    for (size_t i = 0; i < key.len; i++) {
        uint8_t c = key.ptr[i];
        size_t need = key_byte_plain(c) ? 1 : 4;
        if (pos + need + note_len + 1 > cap)
            break;
        if (need == 1) {
            out[pos++] = (char)c;
        } else {
            snprintf(out + pos, 5, "\\x%02x", c);
            pos += 4;
        }
    }
    if (note_len && pos + note_len + 1 <= cap) {
        memcpy(out + pos, note, note_len);
        pos += note_len;
    }
    out[pos] = '\0';
    return out;
}
