/* config.h -- Basalt's settings: the bs_config struct, its schema, and loading them.
 *
 * Settings come from a TOML file (conf/basalt.toml) read by the strict parser in toml.h,
 * then from command-line flags, each applied with bs_config_set(). Both go through one
 * SCHEMA, a table with one row per setting (config_schema.c): dotted key path, type,
 * place in bs_config, default, limits, one-line help. Key names are TiKV's wherever TiKV
 * has the setting; [redis], [pd-server] and [gc] life-time are Basalt's own.
 *
 * Strictness: an unknown key or section, a value of the wrong type, a value out of range
 * is an error that names the place and the key, e.g.
 *   conf/basalt.toml:12: [raftstore] raft-entry-max-size: invalid size "12XB"
 * Sizes follow TiKV's ReadableSize ("96MiB", "512MB", "1.5GiB", 4096; K/KB/KiB are all
 * 1024) and durations TiKV's ReadableDuration ("10s", "100ms", "1h30m", "2d"); see
 * bs_config_parse_size() and bs_config_parse_duration() for the exact rules.
 *
 * Lifecycle: bs_config_defaults(&cfg), then bs_config_load() and any bs_config_set()
 * calls, read freely, bs_config_free(&cfg). Strings and arrays inside bs_config are owned
 * by it. Thread affinity: none. A loaded config is read-only by convention and may then
 * be shared by threads; bs_config_set() on a shared config needs the caller's lock. */
#ifndef BASALT_COMMON_CONFIG_H
#define BASALT_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/err.h"

/* RocksDB's default number of levels; compression-per-level has one entry per level. */
#define BS_CONFIG_MAX_LEVELS 7

typedef enum bs_compression {
    BS_COMPRESSION_NO = 0,
    BS_COMPRESSION_SNAPPY,
    BS_COMPRESSION_ZLIB,
    BS_COMPRESSION_BZIP2,
    BS_COMPRESSION_LZ4,
    BS_COMPRESSION_LZ4HC,
    BS_COMPRESSION_ZSTD,
} bs_compression;

/* A list of owned strings (e.g. [pd] endpoints). */
typedef struct bs_config_strv {
    char **v; /* owned, each owned; NULL when n == 0 */
    size_t n;
} bs_config_strv;

/* A list of enum values with a fixed maximum length. */
typedef struct bs_config_enumv {
    int v[BS_CONFIG_MAX_LEVELS];
    size_t n; /* Invariant: n <= BS_CONFIG_MAX_LEVELS */
} bs_config_enumv;

typedef struct bs_config_cf {
    uint64_t write_buffer_size;           /* bytes */
    bs_config_enumv compression_per_level; /* bs_compression values */
} bs_config_cf;

/* Every setting. Sizes are bytes, durations milliseconds, strings NUL-terminated and
 * owned (never NULL after bs_config_defaults). */
typedef struct bs_config {
    struct {
        char *addr;
        char *status_addr;
        int64_t max_grpc_send_msg_len; /* -1: unlimited */
    } server;
    struct {
        char *addr;
        char *requirepass;
        int64_t databases;
        int64_t maxclients;
        int64_t timeout; /* seconds idle before a conn is closed; 0: never */
        int64_t tcp_keepalive; /* seconds */
        uint64_t proto_max_bulk_len;
        int64_t info_keyspace_interval; /* seconds between INFO keyspace counts */
    } redis;
    struct {
        bs_config_strv endpoints; /* empty: standalone with an embedded PD */
    } pd;
    struct {
        char *addr;
    } pd_server;
    struct {
        char *data_dir;
        int64_t api_version; /* Invariant: 2 */
        bool enable_ttl;     /* Invariant: true */
        uint64_t block_cache_capacity;
    } storage;
    struct {
        bs_config_cf defaultcf, writecf, lockcf, raftcf;
        uint64_t defaultcf_titan_min_blob_size;
        bool titan_enabled;
    } rocksdb;
    struct {
        uint64_t raft_base_tick_interval; /* ms */
        int64_t raft_heartbeat_ticks;
        int64_t raft_election_timeout_ticks; /* Invariant: > raft_heartbeat_ticks */
        uint64_t raft_entry_max_size;
        uint64_t raft_log_gc_tick_interval; /* ms */
        int64_t raft_log_gc_threshold;
        int64_t raft_log_gc_count_limit;
        uint64_t raft_log_gc_size_limit;
        int64_t raft_max_inflight_msgs;
        uint64_t raft_max_size_per_msg;
        uint64_t split_region_check_tick_interval; /* ms */
        uint64_t region_split_check_diff;
    } raftstore;
    struct {
        uint64_t region_split_size;
        uint64_t region_max_size; /* Invariant: >= region_split_size */
    } coprocessor;
    struct {
        uint64_t life_time;    /* ms */
        uint64_t run_interval; /* ms between the starts of two GC sweeps */
        double ratio_threshold;
    } gc;
    struct {
        int level; /* a bs_log_level */
        char *file_filename; /* "": stderr */
    } log;
    struct {
        char *ca_path;
        char *cert_path;
        char *key_path;
        bool redact_info_log;
    } security;
} bs_config;

typedef enum bs_config_type {
    BS_CFG_STRING = 1, /* char * */
    BS_CFG_BOOL,       /* bool */
    BS_CFG_INT,        /* int64_t in [min, max] */
    BS_CFG_FLOAT,      /* double, finite */
    BS_CFG_SIZE,       /* uint64_t bytes in [umin, umax] */
    BS_CFG_DURATION,   /* uint64_t ms in [umin, umax] */
    BS_CFG_ENUM,       /* int, one of names */
    BS_CFG_STRINGS,    /* bs_config_strv */
    BS_CFG_ENUMS,      /* bs_config_enumv, 1..BS_CONFIG_MAX_LEVELS names */
} bs_config_type;

typedef struct bs_config_enum_name {
    const char *name;
    int value;
} bs_config_enum_name;

/* One row of the schema. */
typedef struct bs_config_item {
    const char *path; /* "raftstore.raft-entry-max-size" */
    bs_config_type type;
    size_t offset;    /* of the field in bs_config */
    const char *def;  /* default as a TOML value ("\"96MiB\"", "256", "[\"no\"]") */
    int64_t min, max;    /* BS_CFG_INT */
    uint64_t umin, umax; /* BS_CFG_SIZE, BS_CFG_DURATION */
    const bs_config_enum_name *names; /* BS_CFG_ENUM(S); ends with {NULL, 0}; the first
                                         name of a value is how it is printed */
    /* Extra check after the type's own; returns NULL or a static reason. */
    const char *(*check)(const void *field);
    const char *help; /* one line, for conf/basalt.toml and CONFIG GET */
} bs_config_item;

/* The schema, in file order. Static, borrowed. */
const bs_config_item *bs_config_items(size_t *n);

/* The row for a dotted path, or NULL. */
const bs_config_item *bs_config_find(const char *path);

/* Fills a caller-allocated cfg with every default (previous contents are overwritten,
 * not freed). Never fails. */
void bs_config_defaults(bs_config *cfg);

/* Releases what cfg owns and zeroes it. cfg may be NULL. */
void bs_config_free(bs_config *cfg);

/* Reads a TOML file and applies every setting in it over cfg's current values, then
 * checks cross-setting rules (bs_config_validate). Returns BS_OK, BS_EIO (cannot read the
 * file) or BS_ECONFIG (syntax, unknown key, bad value), with err naming file, line and
 * key. On error cfg still owns valid values (some settings may have been applied) and
 * must still be freed; callers stop at startup. */
int bs_config_load(bs_config *cfg, const char *path, bs_err *err);

/* bs_config_load() from memory: name is used in messages only; bytes need not be
 * NUL-terminated. */
int bs_config_load_buffer(bs_config *cfg, const char *name, const void *bytes, size_t len,
                          bs_err *err);

/* Sets one setting from its text form, as a command-line flag gives it: strings as-is,
 * booleans true/false, integers in TOML syntax, sizes and durations as in the file
 * ("12MiB", "10s"), enums by name, lists comma-separated ("a, b"; "" is empty).
 * Returns BS_OK or BS_ECONFIG ("raftstore.raft-entry-max-size: invalid size \"12XB\"").
 * On error the setting keeps its old value. Does not run bs_config_validate(). */
int bs_config_set(bs_config *cfg, const char *path, const char *text, bs_err *err);

/* Appends one setting's value in the text form bs_config_set() accepts (so set(get(x))
 * round-trips). Returns BS_OK or BS_EINVAL for an unknown path. */
int bs_config_get(const bs_config *cfg, const char *path, bs_buf *out, bs_err *err);

/* Cross-setting rules (region-max-size >= region-split-size, election timeout above
 * heartbeat, ...). Returns BS_OK or BS_ECONFIG naming both settings. */
int bs_config_validate(const bs_config *cfg, bs_err *err);

/* Writes the effective config as a TOML document that bs_config_load() accepts, one
 * section per table, each key with its help as a comment. Returns BS_OK or BS_EIO. */
int bs_config_dump(const bs_config *cfg, FILE *out, bs_err *err);

/* TiKV ReadableSize: optional blanks, a decimal number ("1", "1.5", ".5"), optional
 * blanks, and a unit: "", B, K|KB|KiB, M|MB|MiB, G|GB|GiB, T|TB|TiB, P|PB|PiB (all
 * 1024-based, case-sensitive). The number times the unit is computed in double precision
 * and truncated, as TiKV does. Returns BS_OK, or BS_EINVAL for bad syntax or a value of
 * 2^64 bytes or more (TiKV would saturate). */
int bs_config_parse_size(const char *text, uint64_t *bytes);

/* TiKV ReadableDuration: blank-trimmed, a sequence of <number><unit> with units d, h, m,
 * s, ms each at most once and in that order ("1h30m", "1.5s", "100ms"); "" is 0. Returns
 * the truncated number of milliseconds, or BS_EINVAL for bad syntax, a negative total or
 * an overflow. TiKV also takes inf/NaN through Rust's float parser; Basalt rejects them. */
int bs_config_parse_duration(const char *text, uint64_t *ms);

/* TiKV's rendering: sizes as "0KiB", "<n>PiB|TiB|GiB|MiB|KiB" when exact, else plain
 * bytes ("1000"); durations as "1d2h3m4s5ms" with zero parts left out, "0s" for 0.
 * Append to out, NUL not included. */
void bs_config_format_size(uint64_t bytes, bs_buf *out);
void bs_config_format_duration(uint64_t ms, bs_buf *out);

#endif
