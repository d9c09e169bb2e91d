/* test_config.c -- the TOML-subset parser, the schema binder, TiKV sizes and durations,
 * flag overrides, dump/get round trips, and that conf/basalt.toml loads to the defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/toml.h"

#define KIB 1024ull
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define TIB (1024 * GIB)
#define PIB (1024 * TIB)

/* ---- helpers --------------------------------------------------------------------- */

static int load_text(bs_config *cfg, const char *text, bs_err *err)
{
    return bs_config_load_buffer(cfg, "t.toml", text, strlen(text), err);
}

/* Loading text over the defaults fails with exactly this message. */
static void must_fail_with(const char *text, const char *want)
{
    bs_config cfg;
    bs_err err;
    bs_config_defaults(&cfg);
    int rc = load_text(&cfg, text, &err);
    if (rc != BS_ECONFIG || strcmp(err.msg, want) != 0)
        fail_msg("input %s\n  rc %d, message: %s\n  wanted: %s", text, rc,
                 rc ? err.msg : "(none)", want);
    bs_config_free(&cfg);
}

/* Loading text fails, and the message starts with prefix. */
static void must_fail_prefix(const char *text, const char *prefix)
{
    bs_config cfg;
    bs_err err;
    bs_config_defaults(&cfg);
    int rc = load_text(&cfg, text, &err);
    if (rc != BS_ECONFIG || strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("input %s\n  rc %d, message: %s\n  wanted prefix: %s", text, rc,
                 rc ? err.msg : "(none)", prefix);
    bs_config_free(&cfg);
}

static char *dump_to_string(const bs_config *cfg)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    assert_non_null(f);
    bs_err err;
    assert_int_equal(bs_config_dump(cfg, f, &err), BS_OK);
    fclose(f);
    return s;
}

static uint64_t size_of(const char *text)
{
    uint64_t v = 12345;
    if (bs_config_parse_size(text, &v) != BS_OK)
        fail_msg("size %s did not parse", text);
    return v;
}

static uint64_t dur_of(const char *text)
{
    uint64_t v = 12345;
    if (bs_config_parse_duration(text, &v) != BS_OK)
        fail_msg("duration %s did not parse", text);
    return v;
}

/* ---- TOML parser ----------------------------------------------------------------- */

static void test_toml_values(void **state)
{
    (void)state;
    const char *text =
        "\xEF\xBB\xBF# leading comment\r\n"
        "top = 1 # trailing comment\r\n"
        "[a]\n"
        "s = \"tab\\t nl\\n q\\\" bs\\\\ e\\u00e9 \\U0001F600\"\n"
        "lit = 'C:\\path\\no escapes'\n"
        "\"quoted-key\" = -1_000\n"
        "'lit-key' = +42\n"
        "zero = 0\n"
        "f1 = 1.5\n"
        "f2 = -2e3\n"
        "f3 = 6.25E-1\n"
        "inf = -inf\n"
        "yes = true\n"
        "no = false\n"
        "empty = []\n"
        "arr = [ # comment inside\n"
        "  \"x\",\n"
        "  'y', # another\n"
        "  1,\n"
        "]\n"
        "[ b . c ]\n"
        "k = \"\"\n"
        "[b]\n"
        "k = 2\n";
    bs_toml_doc doc;
    bs_err err;
    int rc = bs_toml_parse("t.toml", text, strlen(text), &doc, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(doc.ntables, 3);
    assert_string_equal(doc.tables[0].path, "a");
    assert_string_equal(doc.tables[1].path, "b.c");
    assert_int_equal(doc.tables[1].line, 21);
    assert_string_equal(doc.tables[2].path, "b");
    assert_int_equal(doc.nkvs, 16);

    const bs_toml_kv *kv = doc.kvs;
    assert_string_equal(kv[0].path, "top");
    assert_string_equal(kv[0].table, "");
    assert_int_equal(kv[0].line, 2);
    assert_int_equal(kv[0].value.u.i, 1);
    assert_string_equal(kv[1].path, "a.s");
    assert_int_equal(kv[1].value.type, BS_TOML_STRING);
    assert_string_equal(kv[1].value.u.str.ptr,
                        "tab\t nl\n q\" bs\\ e\xc3\xa9 \xf0\x9f\x98\x80");
    assert_string_equal(kv[2].value.u.str.ptr, "C:\\path\\no escapes");
    assert_string_equal(kv[3].key, "quoted-key");
    assert_int_equal(kv[3].value.u.i, -1000);
    assert_string_equal(kv[4].key, "lit-key");
    assert_int_equal(kv[4].value.u.i, 42);
    assert_int_equal(kv[5].value.u.i, 0);
    assert_int_equal(kv[6].value.type, BS_TOML_FLOAT);
    assert_true(kv[6].value.u.f == 1.5);
    assert_true(kv[7].value.u.f == -2000.0);
    assert_true(kv[8].value.u.f == 0.625);
    assert_true(isinf(kv[9].value.u.f) && kv[9].value.u.f < 0);
    assert_int_equal(kv[10].value.type, BS_TOML_BOOL);
    assert_true(kv[10].value.u.b);
    assert_false(kv[11].value.u.b);
    assert_int_equal(kv[12].value.type, BS_TOML_ARRAY);
    assert_int_equal(kv[12].value.u.arr.len, 0);
    assert_int_equal(kv[13].value.u.arr.len, 3);
    assert_string_equal(kv[13].value.u.arr.items[1].u.str.ptr, "y");
    assert_int_equal(kv[13].value.u.arr.items[2].u.i, 1);
    assert_int_equal(kv[13].line, 16);
    assert_string_equal(kv[14].path, "b.c.k");
    assert_string_equal(kv[15].path, "b.k");
    assert_int_equal(kv[15].line, 24);
    bs_toml_doc_free(&doc);
    bs_toml_doc_free(&doc); /* harmless twice */

    bs_toml_value v;
    assert_int_equal(bs_toml_parse_value(" 9223372036854775807 ", 21, &v, &err), BS_OK);
    assert_true(v.u.i == INT64_MAX);
    assert_int_equal(bs_toml_parse_value("-9223372036854775808", 20, &v, &err), BS_OK);
    assert_true(v.u.i == INT64_MIN);
    assert_int_equal(bs_toml_parse_value("9223372036854775808", 19, &v, &err), BS_ECONFIG);
    assert_string_equal(err.msg, "integer 9223372036854775808 is out of range");
    assert_int_equal(bs_toml_parse_value("\"a\\u0000b\"", 10, &v, &err), BS_OK);
    assert_int_equal(v.u.str.len, 3);
    bs_toml_value_free(&v);
    assert_int_equal(bs_toml_parse_value("1 2", 3, &v, &err), BS_ECONFIG);
}

static void must_not_parse(const char *text, const char *want)
{
    bs_toml_doc doc;
    bs_err err;
    int rc = bs_toml_parse("t.toml", text, strlen(text), &doc, &err);
    if (rc != BS_ECONFIG || strcmp(err.msg, want) != 0)
        fail_msg("input %s\n  rc %d, message: %s\n  wanted: %s", text, rc,
                 rc ? err.msg : "(none)", want);
    assert_int_equal(doc.nkvs, 0);
    bs_toml_doc_free(&doc);
}

static void test_toml_syntax_errors(void **state)
{
    (void)state;
    must_not_parse("a = 1\nb\n", "t.toml:2: expected '=' after key b");
    must_not_parse("a = \"open\n", "t.toml:1: unterminated string");
    must_not_parse("\n\na = 'open", "t.toml:3: unterminated string");
    must_not_parse("a = \"\\q\"", "t.toml:1: invalid escape \\q in string");
    must_not_parse("a = \"\\u12\"", "t.toml:1: \\u escape needs 4 hex digits");
    must_not_parse("a = \"\\uD800\"", "t.toml:1: \\uD800 is not a Unicode scalar value");
    must_not_parse("a = \"\\U00110000\"", "t.toml:1: \\U00110000 is not a Unicode scalar value");
    must_not_parse("a = \"x\x01\"", "t.toml:1: control character 0x01 in string");
    must_not_parse("a = 1 # bell \x07", "t.toml:1: control character 0x07 in comment");
    must_not_parse("a = 012", "t.toml:1: leading zeros are not allowed in 012");
    must_not_parse("a = -01", "t.toml:1: leading zeros are not allowed in -01");
    must_not_parse("a = 1__0", "t.toml:1: invalid value 1__0");
    must_not_parse("a = 1_", "t.toml:1: invalid value 1_");
    must_not_parse("a = _1", "t.toml:1: invalid value _1");
    must_not_parse("a = 0x10", "t.toml:1: invalid value 0x10");
    must_not_parse("a = 1.", "t.toml:1: invalid value 1.");
    must_not_parse("a = .5", "t.toml:1: invalid value .5");
    must_not_parse("a = 1e", "t.toml:1: invalid value 1e");
    must_not_parse("a = tru", "t.toml:1: invalid value tru");
    must_not_parse("a = True", "t.toml:1: invalid value True");
    must_not_parse("a = 1979-05-27", "t.toml:1: invalid value 1979-05-27");
    must_not_parse("a = 1e999", "t.toml:1: float 1e999 is out of range");
    must_not_parse("a =", "t.toml:1: expected a value");
    must_not_parse("a = # nothing", "t.toml:1: expected a value");
    must_not_parse("a = 1 b = 2", "t.toml:1: unexpected 'b' after value (expected end of line)");
    must_not_parse("a = \"x\" \"y\"", "t.toml:1: unexpected '\"' after value (expected end of line)");
    must_not_parse("a.b = 1", "t.toml:1: dotted keys are not supported; put the key under a [table]");
    must_not_parse("= 1", "t.toml:1: expected a key, found '='");
    must_not_parse("a = {x = 1}", "t.toml:1: inline tables are not supported");
    must_not_parse("[[a]]", "t.toml:1: arrays of tables ([[...]]) are not supported");
    must_not_parse("a = [[1]]", "t.toml:1: nested arrays are not supported");
    must_not_parse("a = \"\"\"x\"\"\"", "t.toml:1: multi-line strings are not supported");
    must_not_parse("a = '''x'''", "t.toml:1: multi-line strings are not supported");
    must_not_parse("a = [1, 2", "t.toml:1: unterminated array");
    must_not_parse("a = [1\n2]", "t.toml:2: expected ',' or ']' in array");
    must_not_parse("a = [,]", "t.toml:1: expected a value");
    must_not_parse("a = [1,,]", "t.toml:1: expected a value");
    must_not_parse("[a\nb = 1", "t.toml:1: expected '.' or ']' in table header");
    must_not_parse("[a.]", "t.toml:1: expected a key, found ']'");
    must_not_parse("[]", "t.toml:1: expected a key, found ']'");
    must_not_parse("[a] x = 1", "t.toml:1: unexpected 'x' after value (expected end of line)");
    must_not_parse("[\"a.b\"]", "t.toml:1: quoted key may not contain '.' or control characters");
    must_not_parse("\"\" = 1", "t.toml:1: empty quoted key");
    must_not_parse("a = 1\rb = 2", "t.toml:1: carriage return not followed by a line feed");
    must_not_parse("a = \"\xff\"", "t.toml:1: invalid UTF-8");
    must_not_parse("a = 1\n\nb = \"\xed\xa0\x80\"", "t.toml:3: invalid UTF-8");
    /* duplicates */
    must_not_parse("a = 1\na = 2", "t.toml:2: a: duplicate key");
    must_not_parse("[t]\na = 1\n'a' = 2", "t.toml:3: [t] a: duplicate key");
    must_not_parse("[t]\n[t]", "t.toml:2: duplicate table [t]");
    must_not_parse("[t]\nx = 1\n[t.x]", "t.toml:3: [t.x]: t.x is already a key, not a table");
    must_not_parse("x = 1\n[x.y]", "t.toml:2: [x.y]: x is already a key, not a table");
    must_not_parse("[t.u]\n[t]\nu = 1", "t.toml:3: [t] u: duplicate key");
    /* Defining a table that was only created implicitly is fine. */
    bs_toml_doc doc;
    bs_err err;
    assert_int_equal(bs_toml_parse("t.toml", "a = 1\n\0", 7, &doc, &err), BS_ECONFIG);
    assert_string_equal(err.msg, "t.toml:2: NUL byte in file");
    assert_int_equal(bs_toml_parse("t.toml", "[t.u]\n[t]\nv = 1\n", 16, &doc, &err), BS_OK);
    bs_toml_doc_free(&doc);
    /* The string NUL in bs_config_load_buffer's input counts too. */
    bs_config cfg;
    bs_config_defaults(&cfg);
    assert_int_equal(bs_config_load_buffer(&cfg, "n.toml", "a\0", 2, &err), BS_ECONFIG);
    assert_string_equal(err.msg, "n.toml:1: NUL byte in file");
    bs_config_free(&cfg);
}

/* ---- sizes and durations --------------------------------------------------------- */

static void test_sizes_parse_like_tikv(void **state)
{
    (void)state;
    assert_int_equal(size_of("0"), 0);
    assert_int_equal(size_of("1"), 1);
    assert_int_equal(size_of("1B"), 1);
    assert_int_equal(size_of("1K"), KIB);
    assert_int_equal(size_of("1KB"), KIB);
    assert_int_equal(size_of("1KiB"), KIB);
    assert_int_equal(size_of("96MB"), 96 * MIB);
    assert_int_equal(size_of("96MiB"), 96 * MIB);
    assert_int_equal(size_of("512M"), 512 * MIB);
    assert_int_equal(size_of("1GB"), GIB);
    assert_int_equal(size_of("2TiB"), 2 * TIB);
    assert_int_equal(size_of("1PB"), PIB);
    assert_int_equal(size_of("1.5MiB"), 3 * MIB / 2);
    assert_int_equal(size_of("0.5KB"), 512);
    assert_int_equal(size_of(".5KB"), 512);
    assert_int_equal(size_of("1.KB"), KIB);
    assert_int_equal(size_of("0.1B"), 0); /* truncated, as TiKV's `as u64` does */
    assert_int_equal(size_of("1.9"), 1);
    assert_int_equal(size_of("  4 KiB  "), 4 * KIB);
    assert_int_equal(size_of("8191PiB"), 8191 * PIB);
    const char *bad[] = {"", "  ", "KB", "1XB", "12XB", "1kb", "1Kb", "1 K B", "-1KB", "+1KB",
                         "1e3", "1.2.3MB", ".", ".KB", "1MB1", "١KB", "16384PiB", "inf",
                         "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 77;
        if (bs_config_parse_size(bad[i], &v) != BS_EINVAL)
            fail_msg("size \"%s\" parsed as %llu", bad[i], (unsigned long long)v);
        assert_int_equal(v, 77);
    }

    bs_buf b = BS_BUF_INIT;
    const struct {
        uint64_t v;
        const char *text;
    } shows[] = {{0, "0KiB"},         {1, "1"},          {1000, "1000"},   {KIB, "1KiB"},
                 {1536, "1536"},      {3 * KIB, "3KiB"}, {96 * MIB, "96MiB"}, {GIB, "1GiB"},
                 {3 * GIB / 2, "1536MiB"}, {TIB, "1TiB"}, {2 * PIB, "2PiB"}};
    for (size_t i = 0; i < sizeof(shows) / sizeof(shows[0]); i++) {
        bs_buf_reset(&b);
        bs_config_format_size(shows[i].v, &b);
        bs_buf_append_byte(&b, 0);
        assert_string_equal((char *)b.ptr, shows[i].text);
        assert_int_equal(size_of(shows[i].text), shows[i].v);
    }
    bs_buf_free(&b);
}

static void test_durations_parse_like_tikv(void **state)
{
    (void)state;
    assert_int_equal(dur_of(""), 0);
    assert_int_equal(dur_of("0s"), 0);
    assert_int_equal(dur_of("1ms"), 1);
    assert_int_equal(dur_of("100ms"), 100);
    assert_int_equal(dur_of("10s"), 10000);
    assert_int_equal(dur_of("10m"), 600000);
    assert_int_equal(dur_of("1h"), 3600000);
    assert_int_equal(dur_of("2d"), 172800000);
    assert_int_equal(dur_of("1h30m"), 5400000);
    assert_int_equal(dur_of("1h 30m"), 5400000);
    assert_int_equal(dur_of(" 1d2h3m4s5ms "), 93784005);
    assert_int_equal(dur_of("1.5s"), 1500);
    assert_int_equal(dur_of("1.5h"), 5400000);
    assert_int_equal(dur_of("0.0001s"), 0);
    assert_int_equal(dur_of("1e3ms"), 1000);
    assert_int_equal(dur_of("-0s"), 0);
    const char *bad[] = {"10", "s", "ms", "1x", "1s1m", "1ms1s", "1ss", "1msms", "1m1m",
                         "-1s", "1s-", "1 d x", "infs", "nans", "1 s 2", "1.2.3s", "٣s",
                         "999999999999999d", "1 h30", "h1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 77;
        if (bs_config_parse_duration(bad[i], &v) != BS_EINVAL)
            fail_msg("duration \"%s\" parsed as %llu", bad[i], (unsigned long long)v);
        assert_int_equal(v, 77);
    }

    bs_buf b = BS_BUF_INIT;
    const struct {
        uint64_t v;
        const char *text;
    } shows[] = {{0, "0s"},       {1, "1ms"},         {1500, "1s500ms"}, {600000, "10m"},
                 {5400000, "1h30m"}, {93784005, "1d2h3m4s5ms"}, {86400000, "1d"}};
    for (size_t i = 0; i < sizeof(shows) / sizeof(shows[0]); i++) {
        bs_buf_reset(&b);
        bs_config_format_duration(shows[i].v, &b);
        bs_buf_append_byte(&b, 0);
        assert_string_equal((char *)b.ptr, shows[i].text);
        assert_int_equal(dur_of(shows[i].text), shows[i].v);
    }
    bs_buf_free(&b);
}

/* ---- schema binding -------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    bs_config c;
    bs_config_defaults(&c);
    assert_string_equal(c.server.addr, "127.0.0.1:20160");
    assert_string_equal(c.server.status_addr, "127.0.0.1:20180");
    assert_int_equal(c.server.max_grpc_send_msg_len, 10485760);
    assert_string_equal(c.redis.addr, "127.0.0.1:6379");
    assert_string_equal(c.redis.requirepass, "");
    assert_int_equal(c.redis.databases, 16);
    assert_int_equal(c.redis.maxclients, 10000);
    assert_int_equal(c.redis.timeout, 0);
    assert_int_equal(c.redis.tcp_keepalive, 300);
    assert_int_equal(c.redis.proto_max_bulk_len, 512 * MIB);
    assert_int_equal(c.pd.endpoints.n, 0);
    assert_string_equal(c.pd_server.addr, "127.0.0.1:2379");
    assert_string_equal(c.storage.data_dir, "./basalt-data");
    assert_int_equal(c.storage.api_version, 2);
    assert_true(c.storage.enable_ttl);
    assert_int_equal(c.storage.block_cache_capacity, GIB);
    assert_int_equal(c.rocksdb.defaultcf.write_buffer_size, 128 * MIB);
    assert_int_equal(c.rocksdb.writecf.write_buffer_size, 128 * MIB);
    assert_int_equal(c.rocksdb.lockcf.write_buffer_size, 32 * MIB);
    assert_int_equal(c.rocksdb.raftcf.write_buffer_size, 128 * MIB);
    const int levels[] = {BS_COMPRESSION_NO,  BS_COMPRESSION_NO,   BS_COMPRESSION_LZ4,
                          BS_COMPRESSION_LZ4, BS_COMPRESSION_LZ4,  BS_COMPRESSION_ZSTD,
                          BS_COMPRESSION_ZSTD};
    assert_int_equal(c.rocksdb.defaultcf.compression_per_level.n, 7);
    assert_memory_equal(c.rocksdb.defaultcf.compression_per_level.v, levels, sizeof levels);
    assert_memory_equal(c.rocksdb.writecf.compression_per_level.v, levels, sizeof levels);
    assert_int_equal(c.rocksdb.lockcf.compression_per_level.n, 7);
    assert_int_equal(c.rocksdb.lockcf.compression_per_level.v[6], BS_COMPRESSION_NO);
    assert_false(c.rocksdb.titan_enabled);
    assert_int_equal(c.rocksdb.defaultcf_titan_min_blob_size, KIB);
    assert_int_equal(c.raftstore.raft_base_tick_interval, 1000);
    assert_int_equal(c.raftstore.raft_heartbeat_ticks, 2);
    assert_int_equal(c.raftstore.raft_election_timeout_ticks, 10);
    assert_int_equal(c.raftstore.raft_entry_max_size, 512 * MIB);
    assert_int_equal(c.raftstore.raft_log_gc_tick_interval, 3000);
    assert_int_equal(c.raftstore.raft_log_gc_threshold, 50);
    assert_int_equal(c.raftstore.raft_log_gc_count_limit, 73728);
    assert_int_equal(c.raftstore.raft_log_gc_size_limit, 72 * MIB);
    assert_int_equal(c.raftstore.raft_max_inflight_msgs, 256);
    assert_int_equal(c.raftstore.raft_max_size_per_msg, MIB);
    assert_int_equal(c.raftstore.split_region_check_tick_interval, 10000);
    assert_int_equal(c.raftstore.region_split_check_diff, 6 * MIB);
    assert_int_equal(c.coprocessor.region_split_size, 96 * MIB);
    assert_int_equal(c.coprocessor.region_max_size, 144 * MIB);
    assert_int_equal(c.gc.life_time, 600000);
    assert_int_equal(c.gc.run_interval, 600000);
    assert_true(c.gc.ratio_threshold == 1.1);
    assert_int_equal(c.log.level, BS_LOG_LEVEL_INFO);
    assert_string_equal(c.log.file_filename, "");
    assert_string_equal(c.security.ca_path, "");
    assert_false(c.security.redact_info_log);
    bs_err err;
    assert_int_equal(bs_config_validate(&c, &err), BS_OK);
    bs_config_free(&c);
    bs_config_free(&c);
    bs_config_free(NULL);
}

static const char *const good_file =
    "# every setting, none at its default\n"
    "[server]\n"
    "addr = \"0.0.0.0:30160\"\n"
    "status-addr = ''\n"
    "max-grpc-send-msg-len = -1\n"
    "[redis]\n"
    "addr = \"[::1]:7000\"\n"
    "requirepass = \"s3cr\\\"et\"\n"
    "databases = 1_000\n"
    "maxclients = 50\n"
    "timeout = 60\n"
    "tcp-keepalive = 0\n"
    "proto-max-bulk-len = \"64MB\"\n"
    "[pd]\n"
    "endpoints = [\n"
    "  \"10.0.0.1:2379\",\n"
    "  \"10.0.0.2:2379\", # second\n"
    "]\n"
    "[pd-server]\n"
    "addr = \"0.0.0.0:2379\"\n"
    "[storage]\n"
    "data-dir = \"/var/lib/basalt\"\n"
    "api-version = 2\n"
    "enable-ttl = true\n"
    "[storage.block-cache]\n"
    "capacity = 1073741825\n"
    "[rocksdb.titan]\n"
    "enabled = true\n"
    "[rocksdb.defaultcf]\n"
    "write-buffer-size = \"64MiB\"\n"
    "compression-per-level = [\"zstd\"]\n"
    "[rocksdb.defaultcf.titan]\n"
    "min-blob-size = \"32KiB\"\n"
    "[rocksdb.writecf]\n"
    "write-buffer-size = \"1GB\"\n"
    "compression-per-level = [\"lz4\", \"lz4hc\", \"snappy\", \"zlib\", \"bzip2\", \"no\", \"zstd\"]\n"
    "[rocksdb.lockcf]\n"
    "write-buffer-size = \"16MiB\"\n"
    "compression-per-level = [\"lz4\", \"lz4\"]\n"
    "[rocksdb.raftcf]\n"
    "write-buffer-size = 4096\n"
    "compression-per-level = [\"snappy\"]\n"
    "[raftstore]\n"
    "raft-base-tick-interval = \"100ms\"\n"
    "raft-heartbeat-ticks = 3\n"
    "raft-election-timeout-ticks = 15\n"
    "raft-entry-max-size = \"1GiB\"\n"
    "raft-log-gc-tick-interval = \"1m\"\n"
    "raft-log-gc-threshold = 10\n"
    "raft-log-gc-count-limit = 1000\n"
    "raft-log-gc-size-limit = \"1MiB\"\n"
    "raft-max-inflight-msgs = 64\n"
    "raft-max-size-per-msg = \"256KiB\"\n"
    "split-region-check-tick-interval = \"1h30m\"\n"
    "region-split-check-diff = \"1KiB\"\n"
    "[coprocessor]\n"
    "region-split-size = \"4KiB\"\n"
    "region-max-size = \"6KiB\"\n"
    "[gc]\n"
    "life-time = \"1d\"\n"
    "run-interval = \"0s\"\n"
    "ratio-threshold = 2\n"
    "[log]\n"
    "level = \"warning\"\n"
    "[log.file]\n"
    "filename = \"/var/log/basalt.log\"\n"
    "[security]\n"
    "ca-path = \"ca.pem\"\n"
    "cert-path = \"cert.pem\"\n"
    "key-path = \"key.pem\"\n"
    "redact-info-log = true\n";

static void test_good_file_lands_in_struct(void **state)
{
    (void)state;
    bs_config c;
    bs_err err;
    bs_config_defaults(&c);
    int rc = load_text(&c, good_file, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_string_equal(c.server.addr, "0.0.0.0:30160");
    assert_string_equal(c.server.status_addr, "");
    assert_int_equal(c.server.max_grpc_send_msg_len, -1);
    assert_string_equal(c.redis.addr, "[::1]:7000");
    assert_string_equal(c.redis.requirepass, "s3cr\"et");
    assert_int_equal(c.redis.databases, 1000);
    assert_int_equal(c.redis.maxclients, 50);
    assert_int_equal(c.redis.timeout, 60);
    assert_int_equal(c.redis.tcp_keepalive, 0);
    assert_int_equal(c.redis.proto_max_bulk_len, 64 * MIB);
    assert_int_equal(c.pd.endpoints.n, 2);
    assert_string_equal(c.pd.endpoints.v[0], "10.0.0.1:2379");
    assert_string_equal(c.pd.endpoints.v[1], "10.0.0.2:2379");
    assert_string_equal(c.pd_server.addr, "0.0.0.0:2379");
    assert_string_equal(c.storage.data_dir, "/var/lib/basalt");
    assert_int_equal(c.storage.block_cache_capacity, GIB + 1);
    assert_true(c.rocksdb.titan_enabled);
    assert_int_equal(c.rocksdb.defaultcf.write_buffer_size, 64 * MIB);
    assert_int_equal(c.rocksdb.defaultcf.compression_per_level.n, 1);
    assert_int_equal(c.rocksdb.defaultcf.compression_per_level.v[0], BS_COMPRESSION_ZSTD);
    assert_int_equal(c.rocksdb.defaultcf_titan_min_blob_size, 32 * KIB);
    assert_int_equal(c.rocksdb.writecf.write_buffer_size, GIB);
    assert_int_equal(c.rocksdb.writecf.compression_per_level.n, 7);
    assert_int_equal(c.rocksdb.writecf.compression_per_level.v[1], BS_COMPRESSION_LZ4HC);
    assert_int_equal(c.rocksdb.writecf.compression_per_level.v[4], BS_COMPRESSION_BZIP2);
    assert_int_equal(c.rocksdb.lockcf.write_buffer_size, 16 * MIB);
    assert_int_equal(c.rocksdb.lockcf.compression_per_level.n, 2);
    assert_int_equal(c.rocksdb.raftcf.write_buffer_size, 4096);
    assert_int_equal(c.rocksdb.raftcf.compression_per_level.v[0], BS_COMPRESSION_SNAPPY);
    assert_int_equal(c.raftstore.raft_base_tick_interval, 100);
    assert_int_equal(c.raftstore.raft_heartbeat_ticks, 3);
    assert_int_equal(c.raftstore.raft_election_timeout_ticks, 15);
    assert_int_equal(c.raftstore.raft_entry_max_size, GIB);
    assert_int_equal(c.raftstore.raft_log_gc_tick_interval, 60000);
    assert_int_equal(c.raftstore.raft_log_gc_threshold, 10);
    assert_int_equal(c.raftstore.raft_log_gc_count_limit, 1000);
    assert_int_equal(c.raftstore.raft_log_gc_size_limit, MIB);
    assert_int_equal(c.raftstore.raft_max_inflight_msgs, 64);
    assert_int_equal(c.raftstore.raft_max_size_per_msg, 256 * KIB);
    assert_int_equal(c.raftstore.split_region_check_tick_interval, 5400000);
    assert_int_equal(c.raftstore.region_split_check_diff, KIB);
    assert_int_equal(c.coprocessor.region_split_size, 4 * KIB);
    assert_int_equal(c.coprocessor.region_max_size, 6 * KIB);
    assert_int_equal(c.gc.life_time, 86400000);
    assert_int_equal(c.gc.run_interval, 0);
    assert_true(c.gc.ratio_threshold == 2.0);
    assert_int_equal(c.log.level, BS_LOG_LEVEL_WARN);
    assert_string_equal(c.log.file_filename, "/var/log/basalt.log");
    assert_string_equal(c.security.ca_path, "ca.pem");
    assert_string_equal(c.security.cert_path, "cert.pem");
    assert_string_equal(c.security.key_path, "key.pem");
    assert_true(c.security.redact_info_log);

    /* A second file applies over the first: only what it names changes. */
    assert_int_equal(load_text(&c, "[redis]\ndatabases = 3\n", &err), BS_OK);
    assert_int_equal(c.redis.databases, 3);
    assert_int_equal(c.redis.maxclients, 50);
    bs_config_free(&c);
}

static void test_bad_values_name_file_line_and_key(void **state)
{
    (void)state;
    must_fail_with("[raftstore]\n\nraft-entry-max-size = \"12XB\"\n",
                   "t.toml:3: [raftstore] raft-entry-max-size: invalid size \"12XB\"");
    must_fail_with("[raftstore]\nraft-entry-max-size = \"4GiB\"\n",
                   "t.toml:2: [raftstore] raft-entry-max-size: 4GiB is out of range [1, 3GiB]");
    must_fail_with("[raftstore]\nraft-base-tick-interval = \"1x\"\n",
                   "t.toml:2: [raftstore] raft-base-tick-interval: invalid duration \"1x\"");
    must_fail_with("[raftstore]\nraft-base-tick-interval = 1000\n",
                   "t.toml:2: [raftstore] raft-base-tick-interval: expected a duration such as "
                   "\"10s\", found integer");
    must_fail_with("[raftstore]\nraft-base-tick-interval = \"0s\"\n",
                   "t.toml:2: [raftstore] raft-base-tick-interval: 0s is out of range [1ms, "
                   "104249991d8h59m992ms]");
    must_fail_with("[raftstore]\nraft-max-inflight-msgs = 16385\n",
                   "t.toml:2: [raftstore] raft-max-inflight-msgs: 16385 is out of range [1, "
                   "16384]");
    must_fail_with("[redis]\ndatabases = \"16\"\n",
                   "t.toml:2: [redis] databases: expected an integer, found string");
    must_fail_with("[redis]\ndatabases = 1.5\n",
                   "t.toml:2: [redis] databases: expected an integer, found float");
    must_fail_with("[redis]\nproto-max-bulk-len = -1\n",
                   "t.toml:2: [redis] proto-max-bulk-len: invalid size -1 (negative)");
    must_fail_with("[redis]\nproto-max-bulk-len = true\n",
                   "t.toml:2: [redis] proto-max-bulk-len: expected a size such as \"96MiB\" or "
                   "a byte count, found boolean");
    must_fail_with("[redis]\naddr = 6379\n",
                   "t.toml:2: [redis] addr: expected a string, found integer");
    must_fail_with("[redis]\naddr = \"\"\n", "t.toml:2: [redis] addr: must not be empty");
    must_fail_with("[redis]\nrequirepass = \"a\\u0000b\"\n",
                   "t.toml:2: [redis] requirepass: string contains a NUL character");
    must_fail_with("[storage]\napi-version = 1\n",
                   "t.toml:2: [storage] api-version: only api-version 2 is supported (RawKV "
                   "and TxnKV with keyspaces)");
    must_fail_with("[storage]\nenable-ttl = false\n",
                   "t.toml:2: [storage] enable-ttl: must be true: Redis expiry is stored as "
                   "the RawKV TTL");
    must_fail_with("[storage]\nenable-ttl = \"true\"\n",
                   "t.toml:2: [storage] enable-ttl: expected true or false, found string");
    must_fail_with("[log]\nlevel = \"loud\"\n",
                   "t.toml:2: [log] level: invalid value \"loud\" (expected one of: trace, "
                   "debug, info, warn, warning, error, fatal, critical)");
    must_fail_with("[rocksdb.defaultcf]\ncompression-per-level = [\"lz5\"]\n",
                   "t.toml:2: [rocksdb.defaultcf] compression-per-level: invalid value \"lz5\" "
                   "(expected one of: no, snappy, zlib, bzip2, lz4, lz4hc, zstd)");
    must_fail_with("[rocksdb.defaultcf]\ncompression-per-level = []\n",
                   "t.toml:2: [rocksdb.defaultcf] compression-per-level: needs at least one "
                   "entry");
    must_fail_with("[rocksdb.defaultcf]\ncompression-per-level = [\"no\",\"no\",\"no\",\"no\","
                   "\"no\",\"no\",\"no\",\"no\"]\n",
                   "t.toml:2: [rocksdb.defaultcf] compression-per-level: at most 7 entries, "
                   "found 8");
    must_fail_with("[rocksdb.defaultcf]\ncompression-per-level = \"no:no\"\n",
                   "t.toml:2: [rocksdb.defaultcf] compression-per-level: expected an array of "
                   "strings, found string");
    must_fail_with("[rocksdb.defaultcf]\ncompression-per-level = [1]\n",
                   "t.toml:2: [rocksdb.defaultcf] compression-per-level: expected an array of "
                   "strings, found a integer in it");
    must_fail_with("[pd]\nendpoints = [\"a\", 2]\n",
                   "t.toml:2: [pd] endpoints: expected a string, found integer");
    must_fail_with("[gc]\nratio-threshold = nan\n",
                   "t.toml:2: [gc] ratio-threshold: must be a finite number");
    must_fail_with("[gc]\nratio-threshold = \"1.1\"\n",
                   "t.toml:2: [gc] ratio-threshold: expected a number, found string");
    /* unknown keys and sections */
    must_fail_with("[raftstore]\nraft-entry-max-sise = \"8MiB\"\n",
                   "t.toml:2: [raftstore] raft-entry-max-sise: unknown configuration key");
    must_fail_with("log-level = \"info\"\n", "t.toml:1: log-level: unknown configuration key");
    must_fail_with("[rocksdb]\ndefaultcf = 1\n", "t.toml:2: [rocksdb] defaultcf: is a section, "
                                                 "not a key");
    must_fail_with("[server]\n[servr]\naddr = \"x\"\n", "t.toml:2: unknown section [servr]");
    must_fail_with("[server.addr]\n", "t.toml:1: [server.addr]: server.addr is a key, not a "
                                      "section");
    must_fail_with("[redis]\ndatabases = 1\ndatabases = 2\n",
                   "t.toml:3: [redis] databases: duplicate key");
    must_fail_with("[redis]\n[redis]\n", "t.toml:2: duplicate table [redis]");
    /* cross-setting rules name the file */
    must_fail_with("[coprocessor]\nregion-split-size = \"200MiB\"\n",
                   "t.toml: [coprocessor] region-max-size must be >= region-split-size");
    must_fail_with("[raftstore]\nraft-heartbeat-ticks = 10\n",
                   "t.toml: [raftstore] raft-election-timeout-ticks must be > "
                   "raft-heartbeat-ticks");
    must_fail_prefix("[redis]\nproto-max-bulk-len = \"1GiB\"\n",
                     "t.toml: [raftstore] raft-entry-max-size must be >= [redis] "
                     "proto-max-bulk-len");
    /* syntax errors surface with the file name too */
    must_fail_with("[redis]\ndatabases = 016\n",
                   "t.toml:2: leading zeros are not allowed in 016");
}

static void test_flag_overrides_file(void **state)
{
    (void)state;
    bs_config c;
    bs_err err;
    bs_config_defaults(&c);
    assert_int_equal(load_text(&c, "[raftstore]\nraft-entry-max-size = \"600MiB\"\n"
                                   "[redis]\ndatabases = 4\n", &err), BS_OK);
    assert_int_equal(c.raftstore.raft_entry_max_size, 600 * MIB);

    assert_int_equal(bs_config_set(&c, "raftstore.raft-entry-max-size", "700MB", &err), BS_OK);
    assert_int_equal(c.raftstore.raft_entry_max_size, 700 * MIB);
    assert_int_equal(bs_config_set(&c, "redis.databases", "8", &err), BS_OK);
    assert_int_equal(c.redis.databases, 8);
    assert_int_equal(bs_config_set(&c, "redis.requirepass", "with space, comma", &err), BS_OK);
    assert_string_equal(c.redis.requirepass, "with space, comma");
    assert_int_equal(bs_config_set(&c, "storage.enable-ttl", "true", &err), BS_OK);
    assert_int_equal(bs_config_set(&c, "security.redact-info-log", "true", &err), BS_OK);
    assert_true(c.security.redact_info_log);
    assert_int_equal(bs_config_set(&c, "gc.ratio-threshold", "3", &err), BS_OK);
    assert_true(c.gc.ratio_threshold == 3.0);
    assert_int_equal(bs_config_set(&c, "gc.life-time", "1h30m", &err), BS_OK);
    assert_int_equal(c.gc.life_time, 5400000);
    assert_int_equal(bs_config_set(&c, "log.level", "debug", &err), BS_OK);
    assert_int_equal(c.log.level, BS_LOG_LEVEL_DEBUG);
    assert_int_equal(bs_config_set(&c, "pd.endpoints", " a:1 , b:2,c:3 ", &err), BS_OK);
    assert_int_equal(c.pd.endpoints.n, 3);
    assert_string_equal(c.pd.endpoints.v[0], "a:1");
    assert_string_equal(c.pd.endpoints.v[2], "c:3");
    assert_int_equal(bs_config_set(&c, "pd.endpoints", "", &err), BS_OK);
    assert_int_equal(c.pd.endpoints.n, 0);
    assert_int_equal(bs_config_set(&c, "rocksdb.lockcf.compression-per-level", "zstd, lz4",
                                   &err), BS_OK);
    assert_int_equal(c.rocksdb.lockcf.compression_per_level.n, 2);
    assert_int_equal(c.rocksdb.lockcf.compression_per_level.v[0], BS_COMPRESSION_ZSTD);

    /* A failed set names the key and keeps the old value. */
    assert_int_equal(bs_config_set(&c, "raftstore.raft-entry-max-size", "12XB", &err),
                     BS_ECONFIG);
    assert_string_equal(err.msg, "raftstore.raft-entry-max-size: invalid size \"12XB\"");
    assert_int_equal(c.raftstore.raft_entry_max_size, 700 * MIB);
    assert_int_equal(bs_config_set(&c, "redis.databases", "eight", &err), BS_ECONFIG);
    assert_string_equal(err.msg, "redis.databases: expected an integer, found \"eight\"");
    assert_int_equal(bs_config_set(&c, "redis.databases", "[1]", &err), BS_ECONFIG);
    assert_int_equal(bs_config_set(&c, "redis.databases", "0", &err), BS_ECONFIG);
    assert_string_equal(err.msg, "redis.databases: 0 is out of range [1, 16777216]");
    assert_int_equal(c.redis.databases, 8);
    assert_int_equal(bs_config_set(&c, "storage.enable-ttl", "yes", &err), BS_ECONFIG);
    assert_int_equal(bs_config_set(&c, "storage.api-version", "1", &err), BS_ECONFIG);
    assert_int_equal(bs_config_set(&c, "pd.endpoints", "a,,b", &err), BS_ECONFIG);
    assert_string_equal(err.msg, "pd.endpoints: empty entry in list \"a,,b\"");
    assert_int_equal(bs_config_set(&c, "rocksdb.lockcf.compression-per-level",
                                   "no,no,no,no,no,no,no,no", &err), BS_ECONFIG);
    assert_int_equal(bs_config_set(&c, "rocksdb.lockcf.compression-per-level", "", &err),
                     BS_ECONFIG);
    assert_int_equal(c.rocksdb.lockcf.compression_per_level.n, 2);
    assert_int_equal(bs_config_set(&c, "redis.nope", "1", &err), BS_ECONFIG);
    assert_string_equal(err.msg, "redis.nope: unknown configuration key");
    assert_int_equal(bs_config_set(&c, "redis.addr", "", &err), BS_ECONFIG);
    assert_string_equal(c.redis.addr, "127.0.0.1:6379");
    bs_config_free(&c);
}

static void test_get_set_round_trip_every_item(void **state)
{
    (void)state;
    bs_config a, b;
    bs_err err;
    bs_config_defaults(&a);
    assert_int_equal(load_text(&a, good_file, &err), BS_OK);
    bs_config_defaults(&b);
    size_t n;
    const bs_config_item *items = bs_config_items(&n);
    assert_true(n >= 45);
    bs_buf ta = BS_BUF_INIT, tb = BS_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(bs_config_find(items[i].path), &items[i]);
        assert_non_null(items[i].help);
        bs_buf_reset(&ta);
        assert_int_equal(bs_config_get(&a, items[i].path, &ta, &err), BS_OK);
        bs_buf_append_byte(&ta, 0);
        if (bs_config_set(&b, items[i].path, (char *)ta.ptr, &err) != BS_OK)
            fail_msg("%s = %s: %s", items[i].path, (char *)ta.ptr, err.msg);
        bs_buf_reset(&tb);
        assert_int_equal(bs_config_get(&b, items[i].path, &tb, &err), BS_OK);
        bs_buf_append_byte(&tb, 0);
        assert_string_equal((char *)ta.ptr, (char *)tb.ptr);
    }
    assert_null(bs_config_find("redis"));
    assert_int_equal(bs_config_get(&a, "nope", &ta, &err), BS_EINVAL);
    bs_buf_reset(&ta);
    assert_int_equal(bs_config_get(&a, "raftstore.raft-entry-max-size", &ta, &err), BS_OK);
    assert_memory_equal(ta.ptr, "1GiB", 4);
    bs_buf_free(&ta);
    bs_buf_free(&tb);
    char *da = dump_to_string(&a), *db = dump_to_string(&b);
    assert_string_equal(da, db);
    free(da);
    free(db);
    bs_config_free(&a);
    bs_config_free(&b);
}

static void test_dump_reloads_to_same_config(void **state)
{
    (void)state;
    bs_config a, b;
    bs_err err;
    bs_config_defaults(&a);
    assert_int_equal(load_text(&a, good_file, &err), BS_OK);
    char *first = dump_to_string(&a);
    bs_config_defaults(&b);
    int rc = load_text(&b, first, &err);
    if (rc)
        fail_msg("%s\n%s", err.msg, first);
    char *second = dump_to_string(&b);
    assert_string_equal(first, second);
    assert_non_null(strstr(first, "[raftstore]\n"));
    assert_non_null(strstr(first, "capacity = 1073741825\n"));
    assert_non_null(strstr(first, "requirepass = \"s3cr\\\"et\"\n"));
    assert_non_null(strstr(first, "ratio-threshold = 2.0\n"));
    free(first);
    free(second);
    bs_config_free(&a);
    bs_config_free(&b);

    /* The defaults dump reloads too. */
    bs_config_defaults(&a);
    first = dump_to_string(&a);
    assert_non_null(strstr(first, "ratio-threshold = 1.1\n"));
    assert_non_null(strstr(first, "raft-entry-max-size = \"512MiB\"\n"));
    assert_non_null(strstr(first, "endpoints = []\n"));
    bs_config_defaults(&b);
    assert_int_equal(load_text(&b, first, &err), BS_OK);
    free(first);
    bs_config_free(&a);
    bs_config_free(&b);
}

/* conf/basalt.toml, found from $BASALT_SRC_DIR or by walking up from the cwd. */
static int find_conf(char *out, size_t cap)
{
    const char *root = getenv("BASALT_SRC_DIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", root && *root ? root : ".");
    for (int up = 0; up < 6; up++) {
        snprintf(out, cap, "%s/conf/basalt.toml", dir);
        if (access(out, R_OK) == 0)
            return 0;
        size_t len = strlen(dir);
        if (len + 4 >= sizeof dir)
            break;
        memcpy(dir + len, "/..", 4);
    }
    return -1;
}

static void test_example_file_loads_to_defaults(void **state)
{
    (void)state;
    char path[1200];
    if (find_conf(path, sizeof path) != 0)
        fail_msg("conf/basalt.toml not found (set BASALT_SRC_DIR)");
    bs_config loaded, defaults;
    bs_err err;
    bs_config_defaults(&loaded);
    /* Start from a changed config so the file has to set every value back. */
    assert_int_equal(load_text(&loaded, good_file, &err), BS_OK);
    int rc = bs_config_load(&loaded, path, &err);
    if (rc)
        fail_msg("%s", err.msg);
    bs_config_defaults(&defaults);
    char *a = dump_to_string(&loaded), *b = dump_to_string(&defaults);
    assert_string_equal(a, b);
    free(a);
    free(b);
    bs_config_free(&loaded);
    bs_config_free(&defaults);

    /* Every key in the schema appears in the example file. */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[1 << 16];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    bs_toml_doc doc;
    assert_int_equal(bs_toml_parse(path, text, len, &doc, &err), BS_OK);
    size_t n;
    (void)bs_config_items(&n);
    assert_int_equal(doc.nkvs, n);
    bs_toml_doc_free(&doc);
}

static void test_load_missing_file(void **state)
{
    (void)state;
    bs_config c;
    bs_err err;
    bs_config_defaults(&c);
    assert_int_equal(bs_config_load(&c, "/nonexistent/basalt.toml", &err), BS_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/basalt.toml"));
    /* An empty file is a valid config. */
    assert_int_equal(bs_config_load_buffer(&c, "e.toml", "", 0, &err), BS_OK);
    bs_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_toml_values),
        cmocka_unit_test(test_toml_syntax_errors),
        cmocka_unit_test(test_sizes_parse_like_tikv),
        cmocka_unit_test(test_durations_parse_like_tikv),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_good_file_lands_in_struct),
        cmocka_unit_test(test_bad_values_name_file_line_and_key),
        cmocka_unit_test(test_flag_overrides_file),
        cmocka_unit_test(test_get_set_round_trip_every_item),
        cmocka_unit_test(test_dump_reloads_to_same_config),
        cmocka_unit_test(test_example_file_loads_to_defaults),
        cmocka_unit_test(test_load_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
