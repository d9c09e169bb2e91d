/* options.c -- RocksDB options from Basalt's configuration file.
 *
 * The config module parses TiKV's key names ([storage.block-cache] capacity, [rocksdb.<cf>]
 * write-buffer-size and compression-per-level, [rocksdb.titan] enabled,
 * [rocksdb.defaultcf.titan] min-blob-size); this file is the one place that turns them into
 * kv_options, so the engine never sees the config struct and tests can build options by
 * hand. TiKV's Titan role is played by RocksDB's integrated blob files. */
#include "common/config.h"
#include "storage/kv.h"

static int map_compression(int c, kv_compression *out)
{
    switch ((bs_compression)c) {
    case BS_COMPRESSION_NO:
        *out = KV_COMPRESSION_NONE;
        return BS_OK;
    case BS_COMPRESSION_SNAPPY:
        *out = KV_COMPRESSION_SNAPPY;
        return BS_OK;
    case BS_COMPRESSION_ZLIB:
        *out = KV_COMPRESSION_ZLIB;
        return BS_OK;
    case BS_COMPRESSION_BZIP2:
        *out = KV_COMPRESSION_BZIP2;
        return BS_OK;
    case BS_COMPRESSION_LZ4:
        *out = KV_COMPRESSION_LZ4;
        return BS_OK;
    case BS_COMPRESSION_LZ4HC:
        *out = KV_COMPRESSION_LZ4HC;
        return BS_OK;
    case BS_COMPRESSION_ZSTD:
        *out = KV_COMPRESSION_ZSTD;
        return BS_OK;
    }
    return BS_EINVAL;
}

static int map_cf(kv_options *o, kv_cf cf, const char *section, const bs_config_cf *c, bs_err *err)
{
    o->cf_write_buffer_size[cf] = (size_t)c->write_buffer_size;
    if (c->compression_per_level.n == 0)
        return BS_OK; /* keep the engine's default levels */
    o->cf_compression_set[cf] = true;
    /* RocksDB uses the last entry for every deeper level, as TiKV documents. */
    for (int l = 0; l < KV_MAX_LEVELS; l++) {
        size_t i = (size_t)l < c->compression_per_level.n ? (size_t)l
                                                           : c->compression_per_level.n - 1;
        if (map_compression(c->compression_per_level.v[i], &o->cf_compression_per_level[cf][l]))
            return bs_err_setf(err, BS_ECONFIG, "[%s] compression-per-level: unsupported value %d",
                               section, c->compression_per_level.v[i]);
    }
    return BS_OK;
}

int kv_options_from_config(const bs_config *cfg, kv_options *o, bs_err *err)
{
    kv_options_init(o);
    o->block_cache_size = (size_t)cfg->storage.block_cache_capacity;
    o->enable_blob_files = cfg->rocksdb.titan_enabled;
    o->min_blob_size = cfg->rocksdb.defaultcf_titan_min_blob_size;
    int rc = map_cf(o, KV_CF_DEFAULT, "rocksdb.defaultcf", &cfg->rocksdb.defaultcf, err);
    if (rc == BS_OK)
        rc = map_cf(o, KV_CF_WRITE, "rocksdb.writecf", &cfg->rocksdb.writecf, err);
    if (rc == BS_OK)
        rc = map_cf(o, KV_CF_LOCK, "rocksdb.lockcf", &cfg->rocksdb.lockcf, err);
    if (rc == BS_OK)
        rc = map_cf(o, KV_CF_RAFT, "rocksdb.raftcf", &cfg->rocksdb.raftcf, err);
    return rc;
}
