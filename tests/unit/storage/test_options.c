/* test_options.c -- configuration to RocksDB options: the settings of conf/basalt.toml reach
 * the engine per column family, as RocksDB's own OPTIONS file records them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/config.h"
#include "storage/kv.h"
#include "storage/testutil.h"

static void must_set(bs_config *c, const char *key, const char *value)
{
    bs_err err;
    if (bs_config_set(c, key, value, &err) != BS_OK)
        fail_msg("bs_config_set %s: %s", key, err.msg);
}

static void test_defaults_follow_tikv(void **state)
{
    (void)state;
    bs_config c;
    kv_options o;
    bs_err err;
    bs_config_defaults(&c);
    assert_int_equal(kv_options_from_config(&c, &o, &err), BS_OK);
    assert_int_equal(o.block_cache_size, (size_t)1 << 30);
    assert_int_equal(o.cf_write_buffer_size[KV_CF_DEFAULT], (size_t)128 << 20);
    assert_int_equal(o.cf_write_buffer_size[KV_CF_LOCK], (size_t)32 << 20);
    assert_true(o.cf_compression_set[KV_CF_DEFAULT]);
    assert_int_equal(o.cf_compression_per_level[KV_CF_DEFAULT][0], KV_COMPRESSION_NONE);
    assert_int_equal(o.cf_compression_per_level[KV_CF_DEFAULT][2], KV_COMPRESSION_LZ4);
    assert_int_equal(o.cf_compression_per_level[KV_CF_DEFAULT][6], KV_COMPRESSION_ZSTD);
    assert_int_equal(o.cf_compression_per_level[KV_CF_LOCK][6], KV_COMPRESSION_NONE);
    assert_false(o.enable_blob_files);
    bs_config_free(&c);
}

static void test_settings_reach_rocksdb(void **state)
{
    (void)state;
    bs_config c;
    kv_options o;
    bs_err err;
    bs_config_defaults(&c);
    must_set(&c, "storage.block-cache.capacity", "8MiB");
    must_set(&c, "rocksdb.defaultcf.write-buffer-size", "8MiB");
    must_set(&c, "rocksdb.lockcf.write-buffer-size", "2MiB");
    must_set(&c, "rocksdb.writecf.compression-per-level", "zstd,lz4");
    must_set(&c, "rocksdb.titan.enabled", "true");
    must_set(&c, "rocksdb.defaultcf.titan.min-blob-size", "4KiB");
    assert_int_equal(kv_options_from_config(&c, &o, &err), BS_OK);
    bs_config_free(&c);
    /* A short list repeats its last entry for the deeper levels. */
    assert_int_equal(o.cf_compression_per_level[KV_CF_WRITE][0], KV_COMPRESSION_ZSTD);
    assert_int_equal(o.cf_compression_per_level[KV_CF_WRITE][6], KV_COMPRESSION_LZ4);

    char *dir = tu_dir_new("storage");
    kv_engine *e = NULL;
    assert_int_equal(kv_engine_open(dir, &o, &e, &err), BS_OK);
    assert_int_equal(tu_dir_file_contains(dir, "OPTIONS-", "write_buffer_size=8388608"), 1);
    assert_int_equal(tu_dir_file_contains(dir, "OPTIONS-", "write_buffer_size=2097152"), 1);
    assert_int_equal(tu_dir_file_contains(dir, "OPTIONS-",
                                          "compression_per_level=kZSTD:kLZ4Compression:"
                                          "kLZ4Compression:kLZ4Compression:kLZ4Compression:"
                                          "kLZ4Compression:kLZ4Compression"),
                     1);
    assert_int_equal(tu_dir_file_contains(dir, "OPTIONS-", "min_blob_size=4096"), 1);
    kv_engine_close(e);
    tu_dir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_follow_tikv),
        cmocka_unit_test(test_settings_reach_rocksdb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
