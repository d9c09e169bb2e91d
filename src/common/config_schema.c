/* config_schema.c -- the table of every Basalt setting: one row per key.
 *
 * To add a setting: add the field to bs_config (config.h), a row here in the right
 * table's block (rows of one table must stay together: bs_config_dump prints a [table]
 * header whenever the table changes), and the key with its default and a one-line comment
 * to conf/basalt.toml. Defaults are written as TOML values and parsed by the same code as
 * the file, so a default can never be something the file could not say.
 *
 * Key names and defaults are TiKV's (tikv/tikv etc/config-template.toml and the Default
 * impls in src/config and components/raftstore) unless the row says otherwise. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"

#define OFF(f) offsetof(bs_config, f)
#define MIB_ (1024ull * 1024)
#define GIB_ (1024ull * MIB_)

static const bs_config_enum_name compression_names[] = {
    {"no", BS_COMPRESSION_NO},     {"snappy", BS_COMPRESSION_SNAPPY},
    {"zlib", BS_COMPRESSION_ZLIB}, {"bzip2", BS_COMPRESSION_BZIP2},
    {"lz4", BS_COMPRESSION_LZ4},   {"lz4hc", BS_COMPRESSION_LZ4HC},
    {"zstd", BS_COMPRESSION_ZSTD}, {NULL, 0},
};

/* TiKV's names; "warning" and "critical" are the aliases TiKV also accepts. */
static const bs_config_enum_name log_level_names[] = {
    {"trace", BS_LOG_LEVEL_TRACE}, {"debug", BS_LOG_LEVEL_DEBUG},
    {"info", BS_LOG_LEVEL_INFO},   {"warn", BS_LOG_LEVEL_WARN},
    {"warning", BS_LOG_LEVEL_WARN}, {"error", BS_LOG_LEVEL_ERROR},
    {"fatal", BS_LOG_LEVEL_FATAL}, {"critical", BS_LOG_LEVEL_FATAL},
    {NULL, 0},
};

static const char *check_not_empty(const void *field)
{
    const char *s = *(const char *const *)field;
    return s[0] ? NULL : "must not be empty";
}

static const char *check_api_version(const void *field)
{
    return *(const int64_t *)field == 2 ? NULL
                                        : "only api-version 2 is supported (RawKV and TxnKV "
                                          "with keyspaces)";
}

static const char *check_enable_ttl(const void *field)
{
    return *(const bool *)field ? NULL
                                : "must be true: Redis expiry is stored as the RawKV TTL";
}

#define STR(p, f, d, chk, h)                                                   \
    {.path = p, .type = BS_CFG_STRING, .offset = OFF(f), .def = d, .check = chk, .help = h}
#define BOOL(p, f, d, chk, h)                                                  \
    {.path = p, .type = BS_CFG_BOOL, .offset = OFF(f), .def = d, .check = chk, .help = h}
#define INT(p, f, d, lo, hi, chk, h)                                           \
    {.path = p, .type = BS_CFG_INT, .offset = OFF(f), .def = d, .min = lo, .max = hi,     \
     .check = chk, .help = h}
#define FLOAT(p, f, d, h) {.path = p, .type = BS_CFG_FLOAT, .offset = OFF(f), .def = d, .help = h}
#define SIZE(p, f, d, lo, hi, h)                                               \
    {.path = p, .type = BS_CFG_SIZE, .offset = OFF(f), .def = d, .umin = lo, .umax = hi,  \
     .help = h}
#define DUR(p, f, d, lo, hi, h)                                                \
    {.path = p, .type = BS_CFG_DURATION, .offset = OFF(f), .def = d, .umin = lo,          \
     .umax = hi, .help = h}
#define ENUM(p, f, d, n, h)                                                    \
    {.path = p, .type = BS_CFG_ENUM, .offset = OFF(f), .def = d, .names = n, .help = h}
#define STRS(p, f, d, h) {.path = p, .type = BS_CFG_STRINGS, .offset = OFF(f), .def = d, .help = h}
#define ENUMS(p, f, d, n, h)                                                   \
    {.path = p, .type = BS_CFG_ENUMS, .offset = OFF(f), .def = d, .names = n, .help = h}

/* Sizes stop at INT64_MAX so every value prints as a TOML integer or a unit string, and
 * durations at 2^53 ms (285,000 years) so ReadableDuration's double arithmetic is exact:
 * bs_config_dump output then always reloads to the same values. */
#define NO_MAX ((uint64_t)INT64_MAX)
#define DUR_MAX (1ull << 53)
#define I32_MAX INT32_MAX
#define LEVELS_DEFAULT "[\"no\", \"no\", \"lz4\", \"lz4\", \"lz4\", \"zstd\", \"zstd\"]"
#define LEVELS_NONE "[\"no\", \"no\", \"no\", \"no\", \"no\", \"no\", \"no\"]"

static const bs_config_item items[] = {
    /* ---- [server]: the TiKV gRPC port and the status HTTP port ---- */
    STR("server.addr", server.addr, "\"127.0.0.1:20160\"", check_not_empty,
        "address the TiKV-compatible gRPC service listens on"),
    STR("server.status-addr", server.status_addr, "\"127.0.0.1:20180\"", NULL,
        "address of the status HTTP service (metrics, health); empty disables it"),
    INT("server.max-grpc-send-msg-len", server.max_grpc_send_msg_len, "10485760", -1, I32_MAX,
        NULL, "largest gRPC message sent, in bytes; -1 means unlimited"),

    /* ---- [redis]: Basalt's own section; defaults are Redis's ---- */
    STR("redis.addr", redis.addr, "\"127.0.0.1:6379\"", check_not_empty,
        "address the RESP (Redis protocol) front end listens on"),
    STR("redis.requirepass", redis.requirepass, "\"\"", NULL,
        "password clients must AUTH with; empty means no authentication"),
    /* RESP database N is keyspace N, and keyspace ids are 24 bits. */
    INT("redis.databases", redis.databases, "16", 1, 1 << 24, NULL,
        "number of databases SELECT can reach (each is one RawKV keyspace)"),
    INT("redis.maxclients", redis.maxclients, "10000", 1, I32_MAX, NULL,
        "most simultaneous client connections"),
    INT("redis.timeout", redis.timeout, "0", 0, I32_MAX, NULL,
        "close a connection idle for this many seconds; 0 never closes"),
    INT("redis.tcp-keepalive", redis.tcp_keepalive, "300", 0, I32_MAX, NULL,
        "TCP keepalive period in seconds; 0 disables keepalive"),
    /* Redis requires at least 1mb. */
    SIZE("redis.proto-max-bulk-len", redis.proto_max_bulk_len, "\"512MiB\"", MIB_, INT64_MAX,
         "largest bulk string a client may send"),
    INT("redis.info-keyspace-interval", redis.info_keyspace_interval, "5", 0, 86400, NULL,
        "seconds between the key counts INFO keyspace reports; 0 counts at every INFO"),

    /* ---- [pd] and [pd-server] ---- */
    STRS("pd.endpoints", pd.endpoints, "[]",
         "PD addresses to join; empty runs standalone with an embedded PD"),
    STR("pd-server.addr", pd_server.addr, "\"127.0.0.1:2379\"", check_not_empty,
        "address the embedded PD serves on (standalone mode only)"),

    /* ---- [storage] ---- */
    /* TiKV's default is "./"; Basalt keeps its files in a directory of their own. */
    STR("storage.data-dir", storage.data_dir, "\"./basalt-data\"", check_not_empty,
        "directory of the RocksDB instance and other on-disk state"),
    INT("storage.api-version", storage.api_version, "2", INT64_MIN, INT64_MAX,
        check_api_version, "TiKV API version of the stored data; Basalt supports only 2"),
    BOOL("storage.enable-ttl", storage.enable_ttl, "true", check_enable_ttl,
         "keep a TTL with RawKV values; Basalt requires true"),
    /* TiKV sizes the cache at 45% of system memory; Basalt starts from a fixed 1GiB. */
    SIZE("storage.block-cache.capacity", storage.block_cache_capacity, "\"1GiB\"", 0, NO_MAX,
         "size of the block cache shared by all column families"),

    /* ---- [rocksdb.*]: one RocksDB instance, four column families ---- */
    BOOL("rocksdb.titan.enabled", rocksdb.titan_enabled, "false", NULL,
         "store large values in Titan blob files"),
    SIZE("rocksdb.defaultcf.write-buffer-size", rocksdb.defaultcf.write_buffer_size,
         "\"128MiB\"", 1, NO_MAX, "memtable size of the default CF (values)"),
    ENUMS("rocksdb.defaultcf.compression-per-level", rocksdb.defaultcf.compression_per_level,
          LEVELS_DEFAULT, compression_names,
          "compression of each level: no, snappy, zlib, bzip2, lz4, lz4hc, zstd"),
    /* TiKV's long-standing default (recent TiKV versions use 32KiB). */
    SIZE("rocksdb.defaultcf.titan.min-blob-size", rocksdb.defaultcf_titan_min_blob_size,
         "\"1KiB\"", 0, NO_MAX, "values at least this large go to Titan when it is enabled"),
    SIZE("rocksdb.writecf.write-buffer-size", rocksdb.writecf.write_buffer_size, "\"128MiB\"",
         1, NO_MAX, "memtable size of the write CF (commit records)"),
    ENUMS("rocksdb.writecf.compression-per-level", rocksdb.writecf.compression_per_level,
          LEVELS_DEFAULT, compression_names, "compression of each level of the write CF"),
    SIZE("rocksdb.lockcf.write-buffer-size", rocksdb.lockcf.write_buffer_size, "\"32MiB\"", 1,
         NO_MAX, "memtable size of the lock CF (Percolator locks)"),
    /* Locks and raft state are small and short-lived: TiKV leaves these CFs uncompressed. */
    ENUMS("rocksdb.lockcf.compression-per-level", rocksdb.lockcf.compression_per_level,
          LEVELS_NONE, compression_names, "compression of each level of the lock CF"),
    SIZE("rocksdb.raftcf.write-buffer-size", rocksdb.raftcf.write_buffer_size, "\"128MiB\"", 1,
         NO_MAX, "memtable size of the raft CF (raft logs and states)"),
    ENUMS("rocksdb.raftcf.compression-per-level", rocksdb.raftcf.compression_per_level,
          LEVELS_NONE, compression_names, "compression of each level of the raft CF"),

    /* ---- [raftstore] ---- */
    DUR("raftstore.raft-base-tick-interval", raftstore.raft_base_tick_interval, "\"1s\"", 1,
        DUR_MAX, "length of one raft tick"),
    INT("raftstore.raft-heartbeat-ticks", raftstore.raft_heartbeat_ticks, "2", 1, I32_MAX,
        NULL, "ticks between leader heartbeats"),
    INT("raftstore.raft-election-timeout-ticks", raftstore.raft_election_timeout_ticks, "10",
        1, I32_MAX, NULL, "ticks without a leader before a follower campaigns"),
    /* TiKV's default is 8MiB; Basalt raises it so a value of proto-max-bulk-len fits in
     * one entry. TiKV rejects more than 3GiB. */
    SIZE("raftstore.raft-entry-max-size", raftstore.raft_entry_max_size, "\"512MiB\"", 1,
         3 * GIB_, "largest raft entry a proposal may produce"),
    DUR("raftstore.raft-log-gc-tick-interval", raftstore.raft_log_gc_tick_interval, "\"3s\"",
        1, DUR_MAX, "how often to look for raft log to compact"),
    INT("raftstore.raft-log-gc-threshold", raftstore.raft_log_gc_threshold, "50", 1,
        INT64_MAX, NULL, "applied entries kept behind the slowest follower before GC"),
    /* TiKV derives it: 3/4 of region-split-size at 1KiB per entry. */
    INT("raftstore.raft-log-gc-count-limit", raftstore.raft_log_gc_count_limit, "73728", 0,
        INT64_MAX, NULL, "entry count that forces raft log GC"),
    SIZE("raftstore.raft-log-gc-size-limit", raftstore.raft_log_gc_size_limit, "\"72MiB\"", 0,
         NO_MAX, "raft log size that is compacted at once, not at the next GC tick; 0: tick only"),
    INT("raftstore.raft-max-inflight-msgs", raftstore.raft_max_inflight_msgs, "256", 1, 16384,
        NULL, "append messages in flight to one follower"),
    SIZE("raftstore.raft-max-size-per-msg", raftstore.raft_max_size_per_msg, "\"1MiB\"", 0,
         NO_MAX, "entries per append message are limited to this size"),
    DUR("raftstore.split-region-check-tick-interval",
        raftstore.split_region_check_tick_interval, "\"10s\"", 1, DUR_MAX,
        "how often Regions are checked for a split"),
    /* TiKV derives it as region-split-size / 16. */
    SIZE("raftstore.region-split-check-diff", raftstore.region_split_check_diff, "\"6MiB\"", 0,
         NO_MAX, "growth of a Region since the last check that triggers a split check"),

    /* ---- [coprocessor]: where TiKV keeps the split thresholds ---- */
    SIZE("coprocessor.region-split-size", coprocessor.region_split_size, "\"96MiB\"", 1,
         NO_MAX, "size of the Regions a split produces"),
    SIZE("coprocessor.region-max-size", coprocessor.region_max_size, "\"144MiB\"", 1, NO_MAX,
         "a Region larger than this is split"),

    /* ---- [gc] ---- */
    /* Basalt's own key: TiKV reads tikv_gc_life_time from TiDB; Basalt's PD advances the
     * safe point itself. 10m is TiDB's default. */
    DUR("gc.life-time", gc.life_time, "\"10m\"", 1, DUR_MAX,
        "MVCC versions younger than this are kept for snapshot reads"),
    /* Basalt's own key too: TiDB's tidb_gc_run_interval (default 10m), the GC worker's
     * period. PD's safe point still advances every 10 s for the compaction filter; only
     * the sweep, which reads every key, waits this long. */
    DUR("gc.run-interval", gc.run_interval, "\"10m\"", 0, DUR_MAX,
        "least time between the starts of two GC sweeps (each reads every key); 0 sweeps "
        "whenever the safe point moved"),
    FLOAT("gc.ratio-threshold", gc.ratio_threshold, "1.1",
          "accepted for TiKV compatibility; Basalt's GC sweeps do not use it yet"),

    /* ---- [log] ---- */
    ENUM("log.level", log.level, "\"info\"", log_level_names,
         "lowest level written: trace, debug, info, warn, error, fatal"),
    STR("log.file.filename", log.file_filename, "\"\"", NULL,
        "log file; empty writes to stderr"),

    /* ---- [security] ---- */
    STR("security.ca-path", security.ca_path, "\"\"", NULL,
        "CA certificate for TLS; empty disables TLS"),
    STR("security.cert-path", security.cert_path, "\"\"", NULL, "certificate of this node"),
    STR("security.key-path", security.key_path, "\"\"", NULL, "private key of this node"),
    BOOL("security.redact-info-log", security.redact_info_log, "false", NULL,
         "print user keys as ? in logs"),
};

const bs_config_item *bs_config_items(size_t *n)
{
    *n = sizeof(items) / sizeof(items[0]);
    return items;
}

const bs_config_item *bs_config_find(const char *path)
{
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
        if (strcmp(items[i].path, path) == 0)
            return &items[i];
    return NULL;
}
