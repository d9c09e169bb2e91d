/* kv_int.h -- declarations shared by the files of src/storage/ and nobody else.
 *
 * This is the one header that includes rocksdb/c.h; it never leaves src/storage/ (kv.h is
 * the contract). It holds the engine, snapshot and batch layouts and the helper that turns
 * RocksDB's malloc'ed error strings into a bs_err (and frees them). */
#ifndef BASALT_STORAGE_KV_INT_H
#define BASALT_STORAGE_KV_INT_H

#include <pthread.h>
#include <rocksdb/c.h>

#include "storage/kv.h"

/* What a RocksDB compaction filter's state points at: one per CF with a filter. */
typedef struct kv_filter_state {
    kv_cf cf;
    kv_compaction_filter_fn fn;
    void *arg; /* borrowed from kv_options */
} kv_filter_state;

struct kv_engine {
    rocksdb_t *db;
    char *path; /* owned copy */
    kv_options opts;
    rocksdb_options_t *db_opts;
    rocksdb_options_t *cf_opts[KV_CF_COUNT];
    rocksdb_column_family_handle_t *cf[KV_CF_COUNT];
    /* CFs found on disk that Basalt does not know: opened (RocksDB requires it), unused. */
    rocksdb_options_t *extra_opts;
    rocksdb_column_family_handle_t **extra_cf;
    size_t n_extra_cf;
    rocksdb_cache_t *cache;
    rocksdb_block_based_table_options_t *table_opts;
    rocksdb_compactionfilter_t *filter[KV_CF_COUNT]; /* NULL when the CF has none */
    kv_filter_state filter_state[KV_CF_COUNT];
    rocksdb_writeoptions_t *wo_sync;   /* sync = 1 */
    rocksdb_writeoptions_t *wo_nosync; /* sync = 0 */
    rocksdb_readoptions_t *ro;         /* latest-view reads */
    /* Test support: the observer and the lock that serializes writes while it is set. */
    pthread_mutex_t observer_mu;
    kv_write_observer_fn observer;
    void *observer_arg;
    bool ignore_sync; /* kv_engine_test_ignore_sync() */
};

struct kv_snapshot {
    kv_engine *e;
    const rocksdb_snapshot_t *snap;
    rocksdb_readoptions_t *ro; /* reads through snap */
};

/* A batch is an engine-independent op log: per op, type byte, cf byte, varint key length,
 * key, varint value length, value. kv_engine_write() translates it to a RocksDB batch. */
struct kv_batch {
    bs_buf log;
    size_t count;
    size_t data_size;
};

/* Converts RocksDB's error string rerr (malloc'ed by RocksDB, may be NULL) into err with
 * code and a "<context>: <rocksdb text>" message, then frees rerr. Returns code. */
int kv_rocks_err(bs_err *err, int code, char *rerr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Builds the RocksDB batch for b on e's column families. Caller owns the result
 * (rocksdb_writebatch_destroy). */
rocksdb_writebatch_t *kv_batch_to_rocks(const kv_engine *e, const kv_batch *b);

/* The read options for snap (NULL = e's latest-view options); borrowed. */
const rocksdb_readoptions_t *kv_read_opts(const kv_engine *e, const kv_snapshot *snap);

/* Point read through ro, shared by kv_get and kv_snapshot_get. */
int kv_get_with(kv_engine *e, const rocksdb_readoptions_t *ro, kv_cf cf, bs_slice key, bs_buf *out,
                bs_err *err);

#endif
