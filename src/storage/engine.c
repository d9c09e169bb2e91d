/* engine.c -- the RocksDB instance behind a Basalt store: open/close, options, point reads,
 * batch writes, flush, compaction, size estimates and the compaction-filter bridge.
 *
 * One RocksDB database holds all four column families (default, lock, write, raft), so an
 * apply and its apply state commit in one atomic batch (DESIGN.md "Data model"). Durability
 * is decided per write: kv_engine_write(sync=true) fsyncs the WAL, and the sync flag that
 * reached RocksDB is reported to the test-only write observer, which is what the crash
 * simulator (crashsim.c) builds on. RocksDB's malloc'ed error strings are converted to
 * bs_err and freed here (kv_rocks_err), never passed up. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/assert.h"
#include "storage/kv_int.h"

int kv_rocks_err(bs_err *err, int code, char *rerr, const char *fmt, ...)
{
    char ctx[160];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(ctx, sizeof(ctx), fmt, ap); /* truncation is acceptable in a message */
    va_end(ap);
    bs_err_setf(err, code, "%s: %s", ctx, rerr ? rerr : "unknown RocksDB error");
    rocksdb_free(rerr); /* accepts NULL */
    return code;
}

void kv_options_init(kv_options *o)
{
    memset(o, 0, sizeof(*o));
    o->create_if_missing = true;
    o->block_cache_size = (size_t)128 << 20;
    o->write_buffer_size = (size_t)64 << 20;
    o->num_levels = KV_MAX_LEVELS;
    /* TiKV's default per-level compression. */
    static const kv_compression def[KV_MAX_LEVELS] = {
        KV_COMPRESSION_NONE, KV_COMPRESSION_NONE, KV_COMPRESSION_LZ4, KV_COMPRESSION_LZ4,
        KV_COMPRESSION_LZ4,  KV_COMPRESSION_ZSTD, KV_COMPRESSION_ZSTD};
    memcpy(o->compression_per_level, def, sizeof(def));
    o->enable_blob_files = false;
    o->min_blob_size = 32 * 1024;
    o->blob_compression = KV_COMPRESSION_LZ4;
    o->max_background_jobs = 2;
}

static int rocks_compression(kv_compression c)
{
    switch (c) {
    case KV_COMPRESSION_NONE:
        return rocksdb_no_compression;
    case KV_COMPRESSION_LZ4:
        return rocksdb_lz4_compression;
    case KV_COMPRESSION_ZSTD:
        return rocksdb_zstd_compression;
    case KV_COMPRESSION_SNAPPY:
        return rocksdb_snappy_compression;
    case KV_COMPRESSION_ZLIB:
        return rocksdb_zlib_compression;
    case KV_COMPRESSION_BZIP2:
        return rocksdb_bz2_compression;
    case KV_COMPRESSION_LZ4HC:
        return rocksdb_lz4hc_compression;
    }
    return -1;
}

/* The observer lock; pthread errors here mean a corrupted mutex, so they are fatal. */
static void mu_lock(pthread_mutex_t *mu)
{
    int rc = pthread_mutex_lock(mu);
    BS_ASSERT(rc == 0);
}

static void mu_unlock(pthread_mutex_t *mu)
{
    int rc = pthread_mutex_unlock(mu);
    BS_ASSERT(rc == 0);
}

/* ---- compaction filter bridge -------------------------------------------------------- */

static unsigned char filter_cb(void *state, int level, const char *key, size_t klen,
                               const char *val, size_t vlen, char **new_value, size_t *new_len,
                               unsigned char *changed)
{
    const kv_filter_state *fs = state;
    (void)new_value;
    (void)new_len;
    *changed = 0; /* Basalt filters only keep or remove */
    kv_filter_decision d =
        fs->fn(fs->arg, fs->cf, level, bs_slice_make(key, klen), bs_slice_make(val, vlen));
    return d == KV_FILTER_REMOVE;
}

static const char *filter_name(void *state)
{
    (void)state;
    return "basalt.compaction_filter";
}

static void filter_state_destroy(void *state)
{
    (void)state; /* the state lives inside kv_engine */
}

/* ---- CF default's prefix: an MVCC key without its ts ------------------------------------
 * Every key of CF default is MCE(key) ++ 8-byte ts (kv.h), so all versions of one key share
 * this prefix. With it, the memtable keeps a prefix bloom and table files a prefix filter,
 * and a read of one key's versions (kv_iter_new's point mode) skips every memtable and file
 * that has none: a GET or a write's read of the newest version no longer seeks them all. */

static char *mvcc_prefix(void *state, const char *key, size_t len, size_t *out_len)
{
    (void)state;
    *out_len = len - KV_TS_LEN; /* in_domain: len > KV_TS_LEN */
    return (char *)key;
}

static unsigned char mvcc_prefix_in_domain(void *state, const char *key, size_t len)
{
    (void)state;
    (void)key;
    return len > KV_TS_LEN;
}

static unsigned char mvcc_prefix_in_range(void *state, const char *key, size_t len)
{
    (void)state;
    (void)key;
    (void)len;
    return 0; /* unused by RocksDB's read paths */
}

/* Recorded in every table file: a file written under another extractor keeps its filter
 * unused rather than misread. Change the name if the transform ever changes. */
static const char *mvcc_prefix_name(void *state)
{
    (void)state;
    return "basalt.MvccKeyWithoutTs.v1";
}

static void mvcc_prefix_destroy(void *state)
{
    (void)state; /* stateless */
}

/* Bits per key of the table files' bloom filters (RocksDB's usual 10: ~1% false hits). */
#define BLOOM_BITS_PER_KEY 10.0
/* Memtable prefix bloom of CF default, as a fraction of write_buffer_size. */
#define MEMTABLE_BLOOM_RATIO 0.1

/* ---- open / close -------------------------------------------------------------------- */

static int validate_options(const kv_options *o, bs_err *err)
{
    if (o->num_levels < 1 || o->num_levels > KV_MAX_LEVELS)
        return bs_err_setf(err, BS_EINVAL, "kv options: num_levels %d not in 1..%d", o->num_levels,
                           KV_MAX_LEVELS);
    for (int i = 0; i < o->num_levels; i++) {
        if (rocks_compression(o->compression_per_level[i]) < 0)
            return bs_err_setf(err, BS_EINVAL, "kv options: bad compression at level %d", i);
        for (int cf = 0; cf < KV_CF_COUNT; cf++)
            if (o->cf_compression_set[cf] && rocks_compression(o->cf_compression_per_level[cf][i]) < 0)
                return bs_err_setf(err, BS_EINVAL, "kv options: bad compression of CF %s at level %d",
                                   kv_cf_name((kv_cf)cf), i);
    }
    if (rocks_compression(o->blob_compression) < 0)
        return bs_err_setf(err, BS_EINVAL, "kv options: bad blob compression");
    if (o->write_buffer_size == 0)
        return bs_err_setf(err, BS_EINVAL, "kv options: write_buffer_size is 0");
    return BS_OK;
}

static rocksdb_options_t *make_cf_options(kv_engine *e, kv_cf cf)
{
    const kv_options *o = &e->opts;
    rocksdb_options_t *opt = rocksdb_options_create();
    int levels[KV_MAX_LEVELS];

    const kv_compression *comp =
        o->cf_compression_set[cf] ? o->cf_compression_per_level[cf] : o->compression_per_level;
    rocksdb_options_set_write_buffer_size(
        opt, o->cf_write_buffer_size[cf] ? o->cf_write_buffer_size[cf] : o->write_buffer_size);
    rocksdb_options_set_num_levels(opt, o->num_levels);
    for (int i = 0; i < o->num_levels; i++)
        levels[i] = rocks_compression(comp[i]);
    rocksdb_options_set_compression_per_level(opt, levels, (size_t)o->num_levels);
    rocksdb_options_set_block_based_table_factory(opt, e->table_opts);
    if (cf == KV_CF_DEFAULT) { /* the options take ownership of the transform */
        rocksdb_options_set_prefix_extractor(
            opt, rocksdb_slicetransform_create(NULL, mvcc_prefix_destroy, mvcc_prefix,
                                               mvcc_prefix_in_domain, mvcc_prefix_in_range,
                                               mvcc_prefix_name));
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(opt, MEMTABLE_BLOOM_RATIO);
    }
    if (o->enable_blob_files && cf == KV_CF_DEFAULT) {
        rocksdb_options_set_enable_blob_files(opt, 1);
        rocksdb_options_set_min_blob_size(opt, o->min_blob_size);
        rocksdb_options_set_blob_compression_type(opt, rocks_compression(o->blob_compression));
        rocksdb_options_set_enable_blob_gc(opt, 1);
    }
    if (o->compaction_filter[cf].fn) {
        kv_filter_state *fs = &e->filter_state[cf];
        fs->cf = cf;
        fs->fn = o->compaction_filter[cf].fn;
        fs->arg = o->compaction_filter[cf].arg;
        e->filter[cf] =
            rocksdb_compactionfilter_create(fs, filter_state_destroy, filter_cb, filter_name);
        /* RocksDB >= 6 refuses filters that do not ignore snapshots. */
        rocksdb_compactionfilter_set_ignore_snapshots(e->filter[cf], 1);
        rocksdb_options_set_compaction_filter(opt, e->filter[cf]);
    }
    return opt;
}

/* Frees everything but e->db (already closed or never opened) and e itself. */
static void engine_release(kv_engine *e)
{
    for (int i = 0; i < KV_CF_COUNT; i++) {
        if (e->cf_opts[i])
            rocksdb_options_destroy(e->cf_opts[i]);
        if (e->filter[i])
            rocksdb_compactionfilter_destroy(e->filter[i]);
    }
    if (e->extra_opts)
        rocksdb_options_destroy(e->extra_opts);
    bs_free(e->extra_cf);
    if (e->db_opts)
        rocksdb_options_destroy(e->db_opts);
    if (e->table_opts)
        rocksdb_block_based_options_destroy(e->table_opts);
    if (e->cache)
        rocksdb_cache_destroy(e->cache);
    if (e->wo_sync)
        rocksdb_writeoptions_destroy(e->wo_sync);
    if (e->wo_nosync)
        rocksdb_writeoptions_destroy(e->wo_nosync);
    if (e->ro)
        rocksdb_readoptions_destroy(e->ro);
    (void)pthread_mutex_destroy(&e->observer_mu); /* only fails when locked: never here */
    bs_free(e->path);
    bs_free(e);
}

/* Maps a failed open's RocksDB message to a Basalt code and message; frees rerr. */
static int open_error(const char *path, char *rerr, bs_err *err)
{
    const char *m = rerr ? rerr : "";
    /* RocksDB reports a held LOCK as "While lock file: <dir>/LOCK: Resource temporarily
     * unavailable" (other process) or "lock hold by current process ... <dir>/LOCK" (this
     * process). */
    if (strstr(m, "/LOCK") || strstr(m, "lock file") || strstr(m, "lock hold"))
        return kv_rocks_err(err, BS_EBUSY, rerr,
                            "data directory %s is in use by another Basalt process "
                            "(RocksDB LOCK held)",
                            path);
    if (strstr(m, "does not exist"))
        return kv_rocks_err(err, BS_NOTFOUND, rerr, "open data directory %s", path);
    return kv_rocks_err(err, BS_EIO, rerr, "open data directory %s", path);
}

int kv_engine_open(const char *path, const kv_options *opts, kv_engine **out, bs_err *err)
{
    kv_engine *e = bs_calloc(1, sizeof(*e));
    char *rerr = NULL;
    char **disk_cfs = NULL;
    size_t n_disk = 0;
    int rc;

    rc = pthread_mutex_init(&e->observer_mu, NULL);
    BS_ASSERT(rc == 0);
    if (opts)
        e->opts = *opts;
    else
        kv_options_init(&e->opts);
    e->path = bs_strdup(path);
    rc = validate_options(&e->opts, err);
    if (rc != BS_OK) {
        engine_release(e);
        return rc;
    }

    e->cache = rocksdb_cache_create_lru(e->opts.block_cache_size);
    e->table_opts = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(e->table_opts, e->cache);
    /* Whole-key filters for point reads of every CF, plus CF default's prefix filter. The
     * table options take ownership of the policy. */
    rocksdb_block_based_options_set_filter_policy(
        e->table_opts, rocksdb_filterpolicy_create_bloom_full(BLOOM_BITS_PER_KEY));

    e->db_opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(e->db_opts, e->opts.create_if_missing);
    rocksdb_options_set_create_missing_column_families(e->db_opts, 1);
    rocksdb_options_set_max_background_jobs(e->db_opts, e->opts.max_background_jobs);
    for (int i = 0; i < KV_CF_COUNT; i++)
        e->cf_opts[i] = make_cf_options(e, (kv_cf)i);

    /* RocksDB must be told about every CF on disk. A missing database is not an error
     * here; open reports it below. */
    disk_cfs = rocksdb_list_column_families(e->db_opts, path, &n_disk, &rerr);
    if (rerr) {
        /* RocksDB still returns a (possibly empty) malloc'ed list on error: free it too. */
        rocksdb_free(rerr);
        rerr = NULL;
        if (disk_cfs)
            rocksdb_list_column_families_destroy(disk_cfs, n_disk);
        disk_cfs = NULL;
        n_disk = 0;
    }
    const char **names = bs_calloc(KV_CF_COUNT + n_disk, sizeof(*names));
    const rocksdb_options_t **cfo = bs_calloc(KV_CF_COUNT + n_disk, sizeof(*cfo));
    rocksdb_column_family_handle_t **handles = bs_calloc(KV_CF_COUNT + n_disk, sizeof(*handles));
    size_t n = 0;
    for (int i = 0; i < KV_CF_COUNT; i++) {
        names[n] = kv_cf_name((kv_cf)i);
        cfo[n++] = e->cf_opts[i];
    }
    for (size_t i = 0; i < n_disk; i++) {
        kv_cf known;
        if (kv_cf_from_name(disk_cfs[i], &known) == BS_OK)
            continue;
        if (!e->extra_opts)
            e->extra_opts = rocksdb_options_create();
        names[n] = disk_cfs[i];
        cfo[n++] = e->extra_opts;
    }

    e->db = rocksdb_open_column_families(e->db_opts, path, (int)n, names, cfo, handles, &rerr);
    if (rerr || !e->db) {
        rc = open_error(path, rerr, err);
    } else {
        for (int i = 0; i < KV_CF_COUNT; i++)
            e->cf[i] = handles[i];
        e->n_extra_cf = n - KV_CF_COUNT;
        if (e->n_extra_cf) {
            e->extra_cf = bs_calloc(e->n_extra_cf, sizeof(*e->extra_cf));
            memcpy(e->extra_cf, handles + KV_CF_COUNT, e->n_extra_cf * sizeof(*handles));
        }
        rc = BS_OK;
    }
    bs_free(handles);
    bs_free(cfo);
    bs_free(names); /* the extra names point into disk_cfs, freed next */
    if (disk_cfs)
        rocksdb_list_column_families_destroy(disk_cfs, n_disk);
    if (rc != BS_OK) {
        e->db = NULL;
        engine_release(e);
        return rc;
    }

    e->wo_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(e->wo_sync, 1);
    e->wo_nosync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(e->wo_nosync, 0);
    e->ro = rocksdb_readoptions_create();
    *out = e;
    return BS_OK;
}

void kv_engine_close(kv_engine *e)
{
    if (!e)
        return;
    for (int i = 0; i < KV_CF_COUNT; i++)
        if (e->cf[i])
            rocksdb_column_family_handle_destroy(e->cf[i]);
    for (size_t i = 0; i < e->n_extra_cf; i++)
        rocksdb_column_family_handle_destroy(e->extra_cf[i]);
    if (e->db)
        rocksdb_close(e->db);
    engine_release(e);
}

const char *kv_engine_path(const kv_engine *e)
{
    return e->path;
}

const kv_options *kv_engine_options(const kv_engine *e)
{
    return &e->opts;
}

/* ---- reads --------------------------------------------------------------------------- */

const rocksdb_readoptions_t *kv_read_opts(const kv_engine *e, const kv_snapshot *snap)
{
    return snap ? snap->ro : e->ro;
}

int kv_get_with(kv_engine *e, const rocksdb_readoptions_t *ro, kv_cf cf, bs_slice key, bs_buf *out,
                bs_err *err)
{
    char *rerr = NULL;
    size_t vlen = 0;
    BS_ASSERT(cf < KV_CF_COUNT);
    rocksdb_pinnableslice_t *v =
        rocksdb_get_pinned_cf(e->db, ro, e->cf[cf], (const char *)key.ptr, key.len, &rerr);
    if (rerr)
        return kv_rocks_err(err, BS_EIO, rerr, "rocksdb get (cf %s)", kv_cf_name(cf));
    if (!v)
        return BS_NOTFOUND;
    const char *p = rocksdb_pinnableslice_value(v, &vlen);
    bs_buf_set(out, p, vlen);
    rocksdb_pinnableslice_destroy(v);
    return BS_OK;
}

int kv_get(kv_engine *e, kv_cf cf, bs_slice key, bs_buf *out, bs_err *err)
{
    return kv_get_with(e, e->ro, cf, key, out, err);
}

/* ---- writes -------------------------------------------------------------------------- */

int kv_engine_sync_wal(kv_engine *e, bs_err *err)
{
    char *rerr = NULL;
    if (e->ignore_sync)
        return BS_OK; /* the fault kv_engine_test_ignore_sync injects: the sync is lost */
    bool observed = e->observer != NULL;
    if (observed)
        mu_lock(&e->observer_mu);
    rocksdb_flush_wal(e->db, 1, &rerr);
    if (!rerr && e->observer)
        e->observer(e->observer_arg, NULL, true);
    if (observed)
        mu_unlock(&e->observer_mu);
    if (rerr)
        return kv_rocks_err(err, BS_EIO, rerr, "rocksdb sync wal");
    return BS_OK;
}

int kv_engine_write(kv_engine *e, const kv_batch *b, bool sync, bs_err *err)
{
    char *rerr = NULL;
    bool want_sync = sync && !e->ignore_sync;
    if (kv_batch_count(b) == 0)
        return want_sync ? kv_engine_sync_wal(e, err) : BS_OK;

    rocksdb_writeoptions_t *wo = want_sync ? e->wo_sync : e->wo_nosync;
    rocksdb_writebatch_t *wb = kv_batch_to_rocks(e, b);
    bool observed = e->observer != NULL;
    if (observed)
        mu_lock(&e->observer_mu);
    rocksdb_write(e->db, wo, wb, &rerr);
    if (!rerr && e->observer)
        /* Report what RocksDB was actually told, read back from its options. */
        e->observer(e->observer_arg, b, rocksdb_writeoptions_get_sync(wo) != 0);
    if (observed)
        mu_unlock(&e->observer_mu);
    rocksdb_writebatch_destroy(wb);
    if (rerr)
        return kv_rocks_err(err, BS_EIO, rerr, "rocksdb write (%zu ops, sync=%d)",
                            kv_batch_count(b), (int)want_sync);
    return BS_OK;
}

void kv_engine_set_write_observer(kv_engine *e, kv_write_observer_fn cb, void *arg)
{
    mu_lock(&e->observer_mu);
    e->observer = cb;
    e->observer_arg = arg;
    mu_unlock(&e->observer_mu);
}

void kv_engine_test_ignore_sync(kv_engine *e, bool on)
{
    e->ignore_sync = on;
}

/* ---- maintenance --------------------------------------------------------------------- */

int kv_engine_flush(kv_engine *e, kv_cf cf, bool all_cfs, bs_err *err)
{
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    int rc = BS_OK;
    rocksdb_flushoptions_set_wait(fo, 1);
    for (int i = 0; i < KV_CF_COUNT && rc == BS_OK; i++) {
        if (!all_cfs && i != (int)cf)
            continue;
        char *rerr = NULL;
        rocksdb_flush_cf(e->db, fo, e->cf[i], &rerr);
        if (rerr)
            rc = kv_rocks_err(err, BS_EIO, rerr, "rocksdb flush (cf %s)", kv_cf_name((kv_cf)i));
    }
    rocksdb_flushoptions_destroy(fo);
    return rc;
}

int kv_engine_compact_range(kv_engine *e, kv_cf cf, bs_slice start, bs_slice end, bs_err *err)
{
    (void)err; /* the C API reports nothing */
    BS_ASSERT(cf < KV_CF_COUNT);
    rocksdb_compactoptions_t *co = rocksdb_compactoptions_create();
    /* 2 = BottommostLevelCompaction::kForce: rewrite the last level too, so the filter
     * sees every entry. */
    rocksdb_compactoptions_set_bottommost_level_compaction(co, 2);
    rocksdb_compact_range_cf_opt(e->db, e->cf[cf], co, start.len ? (const char *)start.ptr : NULL,
                                 start.len, end.len ? (const char *)end.ptr : NULL, end.len);
    rocksdb_compactoptions_destroy(co);
    return BS_OK;
}

int kv_engine_approximate_size(kv_engine *e, kv_cf cf, bs_slice start, bs_slice end, uint64_t *out,
                               bs_err *err)
{
    char *rerr = NULL;
    uint64_t size = 0;
    BS_ASSERT(cf < KV_CF_COUNT);
    if (end.len == 0)
        return bs_err_setf(err, BS_EINVAL, "approximate size: empty end key");
    const char *sk = start.len ? (const char *)start.ptr : "";
    const char *ek = (const char *)end.ptr;
    size_t sl = start.len, el = end.len;
    rocksdb_approximate_sizes_cf(e->db, e->cf[cf], 1, &sk, &sl, &ek, &el, &size, &rerr);
    if (rerr)
        return kv_rocks_err(err, BS_EIO, rerr, "rocksdb approximate size (cf %s)", kv_cf_name(cf));
    *out = size;
    return BS_OK;
}

int kv_engine_property_int(kv_engine *e, kv_cf cf, const char *name, uint64_t *out)
{
    BS_ASSERT(cf < KV_CF_COUNT);
    return rocksdb_property_int_cf(e->db, e->cf[cf], name, out) == 0 ? BS_OK : BS_NOTFOUND;
}
