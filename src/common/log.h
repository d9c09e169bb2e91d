/* log.h -- structured logging in TiKV's unified log format.
 *
 * One line per event:
 *   [2026/11/21 16:03:00.123 +00:00] [INFO] [file.c:42] ["region split"] [region_id=7] [path="a b"]
 * The timestamp is local time with the zone's UTC offset (TiKV prints chrono::Local); the
 * file is the basename of __FILE__. The message and every field key and value are written
 * raw unless they contain a byte <= 0x20, '"', '=', '[', ']' or DEL, in which case they are
 * double-quoted with JSON escapes (\" \\ \n \r \t \b \f \u00XX), as TiKV's
 * write_escaped_str does. Bytes >= 0x80 pass through (UTF-8 text stays readable).
 *
 * Call sites give a constant, grep-able message and printf-style "key=value" fields:
 *   BS_LOG_INFO("region split", "region_id=%llu new_region_id=%llu", id, new_id);
 *   BS_LOG_WARN("store is slow");
 * Fields are separated by spaces that are followed by "key=" in the format, so a value
 * may contain spaces (it is quoted in the output). The macro tests the level before any
 * argument is evaluated or formatted (STYLE.md §7), so a disabled level costs one atomic
 * load. BS_LOG_FATAL only logs; the caller decides whether to stop.
 *
 * User keys never reach a log line raw: pass them through bs_log_key(), which escapes,
 * truncates and, with `[security] redact-info-log`, hides them.
 *
 * Thread affinity: every function may be called from any thread. Each line is assembled in
 * memory and written with one write(2) under the sink's mutex, so lines never interleave. */
#ifndef BASALT_COMMON_LOG_H
#define BASALT_COMMON_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

typedef enum bs_log_level {
    BS_LOG_LEVEL_TRACE = 0,
    BS_LOG_LEVEL_DEBUG = 1,
    BS_LOG_LEVEL_INFO = 2,
    BS_LOG_LEVEL_WARN = 3,
    BS_LOG_LEVEL_ERROR = 4,
    BS_LOG_LEVEL_FATAL = 5,
} bs_log_level;

/* Private to log.c and the macros below: the lowest level that is written. */
extern _Atomic int bs_log_min_level_;

static inline bool bs_log_enabled(bs_log_level level)
{
    return (int)level >= atomic_load_explicit(&bs_log_min_level_, memory_order_relaxed);
}

/* Formats and writes one line. Use the macros; they check bs_log_enabled() first.
 * file: usually __FILE__ (only its basename is printed); msg: constant text;
 * fields_fmt: printf format of space-separated key=value fields ("" or " " for none). */
void bs_log_write(bs_log_level level, const char *file, int line, const char *msg,
                  const char *fields_fmt, ...) __attribute__((format(printf, 5, 6)));

/* The " " prefix keeps a field-less call from passing an empty format string. */
#define BS_LOG_AT(level, msg, ...)                                             \
    do {                                                                       \
        if (bs_log_enabled(level))                                             \
            bs_log_write(level, __FILE__, __LINE__, msg, " " __VA_ARGS__);     \
    } while (0)

#define BS_LOG_TRACE(msg, ...) BS_LOG_AT(BS_LOG_LEVEL_TRACE, msg, __VA_ARGS__)
#define BS_LOG_DEBUG(msg, ...) BS_LOG_AT(BS_LOG_LEVEL_DEBUG, msg, __VA_ARGS__)
#define BS_LOG_INFO(msg, ...) BS_LOG_AT(BS_LOG_LEVEL_INFO, msg, __VA_ARGS__)
#define BS_LOG_WARN(msg, ...) BS_LOG_AT(BS_LOG_LEVEL_WARN, msg, __VA_ARGS__)
#define BS_LOG_ERROR(msg, ...) BS_LOG_AT(BS_LOG_LEVEL_ERROR, msg, __VA_ARGS__)
#define BS_LOG_FATAL(msg, ...) BS_LOG_AT(BS_LOG_LEVEL_FATAL, msg, __VA_ARGS__)

/* Sets / reads the lowest level written (default INFO). Takes effect for the next call on
 * any thread. */
void bs_log_set_level(bs_log_level level);
bs_log_level bs_log_get_level(void);

/* Parses a level name as TiKV accepts them, case-insensitively: trace, debug, info,
 * warn|warning, error, fatal|critical. Returns BS_OK and sets *out, or BS_EINVAL (out
 * untouched). */
int bs_log_parse_level(const char *name, bs_log_level *out);

/* "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"; static, borrowed. */
const char *bs_log_level_name(bs_log_level level);

/* Sends later lines to path (created 0644 if missing, appended to). Returns BS_OK, or
 * BS_EIO with err set (the sink is unchanged). The file descriptor is owned by the logger;
 * a previously opened file is closed. */
int bs_log_open_file(const char *path, bs_err *err);

/* Sends later lines to stderr again, closing any file opened by bs_log_open_file(). */
void bs_log_use_stderr(void);

/* `[security] redact-info-log`: when on, bs_log_key() prints "?" instead of key bytes. */
void bs_log_set_redact(bool on);
bool bs_log_get_redact(void);

/* Renders key bytes for a log field into out (capacity cap, always NUL-terminated when
 * cap > 0) and returns out, so it can be a "%s" argument:
 *   char kb[BS_LOG_KEY_CAP];
 *   BS_LOG_INFO("key is locked", "key=%s", bs_log_key(key, kb, sizeof kb));
 * Printable ASCII other than space, '"', '=', '[', ']' and '\' is copied; every other byte
 * becomes \xNN, so the result never needs quoting. When the rendering does not fit, it is
 * cut and ends with "...(len=N)" giving the key's full length. Redaction gives "?".
 * out is the caller's; nothing is allocated. */
#define BS_LOG_KEY_CAP 160
const char *bs_log_key(bs_slice key, char *out, size_t cap);

#endif
