/* kv.h -- the storage contract: one RocksDB instance with Basalt's column families, and the
 * key and value codecs of TiKV's on-disk layout.
 *
 * This header is all that other modules see of src/storage/; only the .c files of
 * src/storage/ include rocksdb/c.h. It offers:
 *   1. the engine: open/close a data directory with CFs default, lock, write and raft; point
 *      reads; atomic write batches with or without fsync; snapshots; bounded iterators;
 *      approximate range sizes; flush and manual compaction; a compaction-filter hook;
 *   2. codecs, byte-compatible with TiKV API v2 (PROTOCOL.md §4, §5.1): keyspace prefixes,
 *      MVCC keys, region-bound keys, RawKV values, Percolator lock and write records.
 *
 * Conventions. Functions that can fail return BS_OK or a BS_E* code and describe failures
 * in a caller-supplied bs_err (may be NULL). Keys and values are bs_slice (pointer, length),
 * binary-safe. Encoders APPEND to a caller-owned bs_buf. Decoders take a bs_slice and fill
 * a struct whose bs_slice fields BORROW from the input bytes: they stay valid exactly as
 * long as the input does; copy what you keep.
 *
 * Thread safety: a kv_engine may be used from several threads at once (RocksDB's DB is
 * thread-safe), except that open/close/set_write_observer must not race with other calls.
 * A kv_batch, kv_iter or kv_snapshot belongs to one thread at a time. */
#ifndef BASALT_STORAGE_KV_H
#define BASALT_STORAGE_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* ======================================================================================
 * Column families (names and order are TiKV's, components/engine_traits/src/cf_defs.rs)
 * ==================================================================================== */

typedef enum kv_cf {
    KV_CF_DEFAULT = 0, /* "default": RawKV versions; large Percolator values. MVCC keys
                        * only (MCE(key) ‖ 8-byte ts): its prefix filters drop the ts */
    KV_CF_LOCK = 1,    /* "lock": Percolator locks, key MCE(key) */
    KV_CF_WRITE = 2,   /* "write": commit/rollback records, key MCE(key) ‖ ~commit_ts */
    KV_CF_RAFT = 3,    /* "raft": raft logs, hard state, apply and region state */
    KV_CF_COUNT = 4
} kv_cf;

/* The RocksDB name of cf ("default", "lock", "write", "raft"); static, borrowed.
 * cf must be < KV_CF_COUNT (asserted). */
const char *kv_cf_name(kv_cf cf);

/* Looks up a CF by name. Returns BS_OK and sets *out, or BS_NOTFOUND. */
int kv_cf_from_name(const char *name, kv_cf *out);

/* ======================================================================================
 * Options
 * ==================================================================================== */

typedef enum kv_compression {
    KV_COMPRESSION_NONE = 0,
    KV_COMPRESSION_LZ4 = 1,
    KV_COMPRESSION_ZSTD = 2,
    KV_COMPRESSION_SNAPPY = 3,
    KV_COMPRESSION_ZLIB = 4,
    KV_COMPRESSION_BZIP2 = 5,
    KV_COMPRESSION_LZ4HC = 6
} kv_compression;

#define KV_MAX_LEVELS 7

typedef enum kv_filter_decision { KV_FILTER_KEEP = 0, KV_FILTER_REMOVE = 1 } kv_filter_decision;

/* A compaction filter: RocksDB calls it from its background threads (several at once) for
 * every plain value a compaction rewrites (flushes do not call it), at any level. It must be
 * thread-safe, must not call back into the engine, and must not keep key or value (both
 * borrowed for the call). RocksDB runs filters regardless of live snapshots, so a snapshot
 * reader can see an entry vanish after a compaction: remove only what no reader may need
 * (e.g. versions below the GC safe point). A filter does not see every level at once:
 * removing the newest version of a key can resurrect older ones (DESIGN.md "Expiry"). */
typedef kv_filter_decision (*kv_compaction_filter_fn)(void *arg, kv_cf cf, int level, bs_slice key,
                                                      bs_slice value);

typedef struct kv_options {
    bool create_if_missing;   /* create the directory's database if absent (default true) */
    size_t block_cache_size;  /* bytes of LRU block cache shared by all CFs (default 128 MiB) */
    size_t write_buffer_size; /* bytes per memtable, per CF (default 64 MiB) */
    /* Per-CF overrides of write_buffer_size (0 = use write_buffer_size). */
    size_t cf_write_buffer_size[KV_CF_COUNT];
    int num_levels;           /* LSM levels, 1..KV_MAX_LEVELS (default 7) */
    /* Compression of each level (L0 first); entries past num_levels are ignored.
     * Default is TiKV's: none, none, lz4, lz4, lz4, zstd, zstd. */
    kv_compression compression_per_level[KV_MAX_LEVELS];
    /* Per-CF overrides of compression_per_level, used where cf_compression_set[cf]. */
    bool cf_compression_set[KV_CF_COUNT];
    kv_compression cf_compression_per_level[KV_CF_COUNT][KV_MAX_LEVELS];
    /* Blob files (RocksDB's integrated BlobDB, TiKV's Titan role): values of at least
     * min_blob_size bytes are stored apart from the LSM tree. Default off, 32 KiB. Only the
     * default CF (user values) uses them, as TiKV enables Titan for defaultcf. */
    bool enable_blob_files;
    uint64_t min_blob_size;
    kv_compression blob_compression; /* default lz4 */
    int max_background_jobs;         /* flush + compaction threads (default 2) */
    /* Optional per-CF compaction filter (fn NULL = none). The arg is borrowed and must
     * outlive the engine. */
    struct {
        kv_compaction_filter_fn fn;
        void *arg;
    } compaction_filter[KV_CF_COUNT];
} kv_options;

/* Fills *o with the defaults listed above. */
void kv_options_init(kv_options *o);

struct bs_config;
/* Fills *o from the configuration's [storage.block-cache], [rocksdb.<cf>] and Titan
 * settings (options.c); everything else keeps kv_options_init's defaults. cfg borrowed.
 * Returns BS_OK, or BS_ECONFIG naming the setting RocksDB cannot honour. */
int kv_options_from_config(const struct bs_config *cfg, kv_options *o, bs_err *err);

/* ======================================================================================
 * Engine
 * ==================================================================================== */

typedef struct kv_engine kv_engine;
typedef struct kv_batch kv_batch;
typedef struct kv_snapshot kv_snapshot;
typedef struct kv_iter kv_iter;

/* Opens (or, with create_if_missing, creates) the RocksDB database in directory path, with
 * CFs default, lock, write and raft (missing ones are created; CFs of other names found on
 * disk are opened too and left alone). opts may be NULL for defaults; it is copied.
 * Returns BS_OK and *out (caller owns; kv_engine_close()), or:
 *   BS_EBUSY  the directory's RocksDB LOCK is held by another open engine, in this process
 *             or another: "data directory <path> is in use by another Basalt process
 *             (RocksDB LOCK held): ...";
 *   BS_NOTFOUND no database at path and create_if_missing is false;
 *   BS_EINVAL bad options (e.g. num_levels out of range);
 *   BS_EIO    any other RocksDB open failure (message carries RocksDB's text).
 * On error *out is untouched and nothing is left open. */
int kv_engine_open(const char *path, const kv_options *opts, kv_engine **out, bs_err *err);

/* Closes the engine and frees it. Every kv_snapshot and kv_iter of it must have been freed
 * before. e may be NULL. Unsynced writes stay in the OS page cache (a real crash may lose
 * them; see kv_crashsim.h). */
void kv_engine_close(kv_engine *e);

/* The directory the engine was opened on; borrowed, valid until kv_engine_close(). */
const char *kv_engine_path(const kv_engine *e);

/* The options the engine was opened with (a copy); borrowed, valid until close. */
const kv_options *kv_engine_options(const kv_engine *e);

/* Point read of the latest committed value of key in cf.
 * Returns BS_OK with the value replacing the contents of *out (caller owns *out),
 * BS_NOTFOUND (out and err untouched), or BS_EIO with err set. */
int kv_get(kv_engine *e, kv_cf cf, bs_slice key, bs_buf *out, bs_err *err);

/* Applies every operation of b atomically (all or nothing, and readers see all or none).
 * With sync, the write-ahead log is fsynced before returning, which also makes every
 * earlier write durable; without it the write may be lost by a machine crash (not by a
 * process crash). An empty batch is a no-op that returns BS_OK (but, when sync, still
 * syncs the WAL). b stays owned by the caller and may be reused after kv_batch_clear().
 * Returns BS_OK or BS_EIO (nothing applied). */
int kv_engine_write(kv_engine *e, const kv_batch *b, bool sync, bs_err *err);

/* Fsyncs the write-ahead log, making every write so far durable. BS_OK or BS_EIO. Other
 * threads may write meanwhile: their writes are not held back (RocksDB's SyncWAL), and
 * are durable only if a later sync covers them. */
int kv_engine_sync_wal(kv_engine *e, bs_err *err);

/* Flushes the memtable(s) of cf (or of every CF when all_cfs) to SST files, waiting for the
 * flush to finish. BS_OK or BS_EIO. */
int kv_engine_flush(kv_engine *e, kv_cf cf, bool all_cfs, bs_err *err);

/* Compacts [start, end) of cf down to the bottom level, running the CF's compaction filter
 * on every entry (including the bottommost level). An empty start/end means unbounded.
 * Waits for completion. Returns BS_OK (RocksDB's C API reports no error here). */
int kv_engine_compact_range(kv_engine *e, kv_cf cf, bs_slice start, bs_slice end, bs_err *err);

/* Approximate on-disk bytes of keys in [start, end) of cf, from SST file metadata.
 * Memtables are NOT included: RocksDB 7.8's C API has no include-memtable flag
 * (rocksdb_approximate_sizes_cf uses INCLUDE_FILES only), so data written since the
 * last flush counts as 0 until it is flushed. end must be non-empty (an unbounded end
 * cannot be expressed; use a key above every key, e.g. 0xFF…). Blob files are not counted.
 * Returns BS_OK with *out set, or BS_EIO. */
int kv_engine_approximate_size(kv_engine *e, kv_cf cf, bs_slice start, bs_slice end, uint64_t *out,
                               bs_err *err);

/* Reads an integer RocksDB property of cf (e.g. "rocksdb.num-files-at-level0",
 * "rocksdb.estimate-num-keys"). Returns BS_OK with *out, or BS_NOTFOUND for an unknown or
 * non-integer property. name is a C string, borrowed. */
int kv_engine_property_int(kv_engine *e, kv_cf cf, const char *name, uint64_t *out);

/* ---- write batches ------------------------------------------------------------------ */

/* A write batch records operations in order; it is independent of any engine, so callers
 * (txn actions, raft apply) build batches without holding one. Never fails (allocation
 * failure aborts). Caller owns the result; free with kv_batch_free(). */
kv_batch *kv_batch_new(void);
/* Frees b and everything recorded in it. b may be NULL. */
void kv_batch_free(kv_batch *b);
/* Forgets every recorded operation, keeping the memory for reuse. */
void kv_batch_clear(kv_batch *b);

/* Record one operation at the end of b. key and value are COPIED into the batch (the
 * caller keeps ownership of its bytes). cf must be < KV_CF_COUNT (asserted). Later
 * operations on the same key win when the batch is applied. */
void kv_batch_put(kv_batch *b, kv_cf cf, bs_slice key, bs_slice value);
void kv_batch_delete(kv_batch *b, kv_cf cf, bs_slice key);
/* Deletes every key k of cf with start <= k < end (end exclusive). */
void kv_batch_delete_range(kv_batch *b, kv_cf cf, bs_slice start, bs_slice end);

/* Number of operations recorded. */
size_t kv_batch_count(const kv_batch *b);
/* Bytes of keys and values recorded (for batch size limits). */
size_t kv_batch_data_size(const kv_batch *b);

typedef enum kv_op_type { KV_OP_PUT = 1, KV_OP_DELETE = 2, KV_OP_DELETE_RANGE = 3 } kv_op_type;

typedef struct kv_op {
    kv_op_type type;
    kv_cf cf;
    bs_slice key;   /* DELETE_RANGE: start */
    bs_slice value; /* PUT: value; DELETE_RANGE: end; DELETE: empty */
} kv_op;

/* Calls fn for every operation in order; op's slices borrow from the batch and are valid
 * until the batch is next modified or freed. Stops early and returns fn's code when fn
 * returns non-zero; returns BS_OK otherwise. */
int kv_batch_iterate(const kv_batch *b, int (*fn)(void *arg, const kv_op *op), void *arg);

/* ---- snapshots ---------------------------------------------------------------------- */

/* A consistent point-in-time view: reads and iterators through it never see writes made
 * after it was taken. Never fails. Caller owns; free with kv_snapshot_free() (after every
 * iterator using it) before closing the engine. Holding a snapshot keeps the versions it
 * sees from being compacted away, except by a compaction filter (see above). */
kv_snapshot *kv_snapshot_new(kv_engine *e);
void kv_snapshot_free(kv_snapshot *s); /* s may be NULL */

/* Point read through snapshot s. Same results as kv_get(). */
int kv_snapshot_get(kv_snapshot *s, kv_cf cf, bs_slice key, bs_buf *out, bs_err *err);

/* ---- iterators ---------------------------------------------------------------------- */

/* Creates an iterator over cf restricted to [lower, upper): lower is inclusive, upper
 * exclusive, and an EMPTY slice means unbounded on that side. snap may be NULL (the
 * iterator then sees an implicit snapshot taken now). The bounds are copied. Never fails;
 * I/O errors surface through kv_iter_status(). The iterator starts unpositioned (not valid).
 * Bounds that are two versions of one key in KV_CF_DEFAULT (kv_mvcc_key_append of the same
 * key) read in prefix mode, which skips memtables and files without the key.
 * Caller owns; free with kv_iter_free() before freeing snap or closing the engine. */
kv_iter *kv_iter_new(kv_engine *e, kv_snapshot *snap, kv_cf cf, bs_slice lower, bs_slice upper);
/* As kv_iter_new, for a background walk over much of the store (GC, split checks): the
 * blocks it reads do not enter the block cache, so the walk does not evict what foreground
 * reads use. */
kv_iter *kv_iter_new_sweep(kv_engine *e, kv_snapshot *snap, kv_cf cf, bs_slice lower,
                           bs_slice upper);
void kv_iter_free(kv_iter *it); /* it may be NULL */

void kv_iter_seek_to_first(kv_iter *it);               /* first key >= lower */
void kv_iter_seek_to_last(kv_iter *it);                /* last key < upper */
void kv_iter_seek(kv_iter *it, bs_slice key);          /* first key >= key (within bounds) */
void kv_iter_seek_for_prev(kv_iter *it, bs_slice key); /* last key <= key (within bounds) */
void kv_iter_next(kv_iter *it);                        /* requires kv_iter_valid() */
void kv_iter_prev(kv_iter *it);                        /* requires kv_iter_valid() */
bool kv_iter_valid(const kv_iter *it);

/* The current entry; requires kv_iter_valid(). Borrowed: valid until the next move (seek,
 * next, prev) or kv_iter_free(); do not free. */
bs_slice kv_iter_key(const kv_iter *it);
bs_slice kv_iter_value(const kv_iter *it);

/* After kv_iter_valid() turns false: BS_OK when the range is simply exhausted, BS_EIO (err
 * set) when iteration stopped on an error (I/O, corruption). */
int kv_iter_status(const kv_iter *it, bs_err *err);

/* ---- test support ------------------------------------------------------------------- */

/* Called after every successful kv_engine_write() with the batch written and the sync flag
 * that was ACTUALLY set on RocksDB's write options for it (read back from them), and after
 * kv_engine_sync_wal() with batch == NULL and sync == true. While an observer is installed
 * writes are serialized by an engine mutex, so it sees them in commit order. Test-only
 * (the crash simulator, kv_crashsim.h); cb NULL removes it. The batch is borrowed for the
 * call. Must not race with concurrent writes. */
typedef void (*kv_write_observer_fn)(void *arg, const kv_batch *batch, bool sync);
void kv_engine_set_write_observer(kv_engine *e, kv_write_observer_fn cb, void *arg);

/* Fault injection, test-only: when on, kv_engine_write() drops the caller's sync request and
 * writes with sync = false, as a buggy engine would, and kv_engine_sync_wal() does nothing
 * (not even observed). The observer then reports sync=false, which is how tests prove that
 * the crash simulator notices a lost fsync. */
void kv_engine_test_ignore_sync(kv_engine *e, bool on);

/* ======================================================================================
 * Keys (keys.c): API v2 prefixes, MVCC keys, region keys
 * ==================================================================================== */

#define KV_MODE_RAW 'r' /* RawKV keys: 'r' ‖ keyspace[3] ‖ user key */
#define KV_MODE_TXN 'x' /* TxnKV keys: 'x' ‖ keyspace[3] ‖ user key */
#define KV_PREFIX_LEN 4
#define KV_KEYSPACE_MAX 0xFFFFFFu /* keyspace ids are 24-bit */
#define KV_TS_LEN 8

/* Writes the 4-byte API v2 prefix mode ‖ u24_be(keyspace) to dst. keyspace must be
 * <= KV_KEYSPACE_MAX (asserted). */
void kv_prefix_put(uint8_t dst[KV_PREFIX_LEN], uint8_t mode, uint32_t keyspace);

/* Appends mode ‖ u24_be(keyspace) ‖ user_key to out. */
void kv_key_v2_append(bs_buf *out, uint8_t mode, uint32_t keyspace, bs_slice user_key);

/* Splits an API v2 key into its mode, keyspace and user key (*user borrows from key).
 * Returns BS_OK, or BS_EINVAL when key is shorter than 4 bytes or mode is not 'r'/'x'. */
int kv_key_v2_split(bs_slice key, uint8_t *mode, uint32_t *keyspace, bs_slice *user);

/* The keyspace's key range [start, end): start = mode ‖ ks, end = that prefix + 1 as a
 * big-endian u32 (so keyspace 0xFFFFFF of 'r' ends at "s\0\0\0"). Both 4 bytes. */
void kv_keyspace_range(uint8_t mode, uint32_t keyspace, uint8_t start[KV_PREFIX_LEN],
                       uint8_t end[KV_PREFIX_LEN]);

/* Appends the MVCC key MCE(key) ‖ u64_be(~ts) to out (newest version sorts first). */
void kv_mvcc_key_append(bs_buf *out, bs_slice key, uint64_t ts);

/* Appends the timestamp suffix u64_be(~ts). */
void kv_ts_suffix_append(bs_buf *out, uint64_t ts);

/* Decodes an MVCC key: replaces *user_key's contents with the decoded key (caller owns)
 * and sets *ts. Returns BS_OK, or BS_ECORRUPT when the MCE part is malformed or is not
 * followed by exactly 8 bytes. */
int kv_mvcc_key_decode(bs_slice mvcc_key, bs_buf *user_key, uint64_t *ts, bs_err *err);

/* The MCE(key) prefix of an MVCC key (borrowed from mvcc_key) and, when ts is non-NULL,
 * its timestamp, without decoding the key. Same errors as kv_mvcc_key_decode. */
int kv_mvcc_key_split(bs_slice mvcc_key, bs_slice *encoded_key, uint64_t *ts, bs_err *err);

/* Appends a region-bound key: MCE(key) with no timestamp (PROTOCOL.md §4.3; for RawKV v2
 * key is prefix ‖ user key). */
void kv_region_key_append(bs_buf *out, bs_slice key);

/* ======================================================================================
 * RawKV v2 values (value.c): user_value ‖ [u64_be(expire) if flags&1] ‖ flags
 * ==================================================================================== */

#define KV_RAW_FLAG_TTL 0x01     /* an expire field precedes the flags byte (TiKV) */
#define KV_RAW_FLAG_DELETED 0x02 /* logically deleted (TiKV) */
/* Basalt's own: the expire field is Unix MILLISECONDS; without it, Unix seconds as TiKV
 * writes. TiKV's parser rejects unknown flag bits, so values carrying 0x04 are readable by
 * Basalt only; Basalt reads TiKV's seconds values unchanged. */
#define KV_RAW_FLAG_EXPIRE_MS 0x04

typedef struct kv_raw_value {
    bs_slice value;      /* user value; borrowed from the decoded bytes */
    bool has_expire;     /* a TTL is set */
    uint64_t expire_ms;  /* Unix ms (seconds ×1000, saturating); meaningful iff has_expire */
    bool expire_in_secs; /* on disk in seconds (0x04 clear); encode_rec keeps the unit */
    bool deleted;        /* logical delete marker */
} kv_raw_value;

/* Appends the encoding of value with expiry expire_ms (Unix ms; 0 = no TTL), written in
 * milliseconds (flags 0x01|0x04), and the deleted flag. A delete marker is
 * kv_raw_value_encode(out, empty, 0, true) = the single byte 0x02. */
void kv_raw_value_encode(bs_buf *out, bs_slice value, uint64_t expire_ms, bool deleted);

/* Appends the encoding of *v (honours has_expire and expire_in_secs: seconds are written
 * as expire_ms / 1000 rounded up). */
void kv_raw_value_encode_rec(bs_buf *out, const kv_raw_value *v);

/* Decodes a stored RawKV v2 value; out->value borrows from in. Returns BS_OK, or
 * BS_ECORRUPT (err set, *out unspecified) when in is empty, the flags byte has unknown bits
 * or 0x04 without 0x01, or the expire field is truncated. */
int kv_raw_value_decode(bs_slice in, kv_raw_value *out, bs_err *err);

/* True when v has a TTL and expire_ms <= now_ms (TiKV: expired when expire <= now). */
bool kv_raw_value_is_expired(const kv_raw_value *v, uint64_t now_ms);

/* ======================================================================================
 * Percolator lock records (lock.c), TiKV txn_types::Lock
 * ==================================================================================== */

#define KV_SHORT_VALUE_MAX 255 /* values up to this size are inlined in lock/write records */

/* Basalt's own lock field: a pending value of any size, 'V' varint(len) bytes. 'V' is not
 * one of TiKV's lock tags (v f t c a r l s T F g h); it is written after every TiKV field,
 * so a TiKV parser stops at it and still reads the rest of the lock. */
#define KV_LOCK_TAG_BASALT_VALUE 'V'

typedef enum kv_lock_type {
    KV_LOCK_PUT = 'P',
    KV_LOCK_DELETE = 'D',
    KV_LOCK_LOCK = 'L',
    KV_LOCK_PESSIMISTIC = 'S'
} kv_lock_type;

typedef struct kv_lock {
    kv_lock_type type;
    bs_slice primary; /* raw primary key; borrowed */
    uint64_t start_ts;
    uint64_t ttl; /* ms */
    bool has_short_value;
    bs_slice short_value;   /* 'v', len <= 255; borrowed */
    uint64_t for_update_ts; /* 'f' when != 0 */
    uint64_t txn_size;      /* 't' when != 0 */
    uint64_t min_commit_ts; /* 'c' when != 0 */
    bool use_async_commit;  /* 'a' */
    /* 'a' secondaries: n compact-bytes keys. On decode, secondaries_raw borrows the encoded
     * list and n_secondaries counts it; read them with kv_lock_secondary_next(). On encode,
     * set secondaries/n_secondaries (an array of slices, borrowed). */
    size_t n_secondaries;
    const bs_slice *secondaries;
    bs_slice secondaries_raw;
    /* 'r' rollback timestamps: n u64_be; rollback_ts_raw borrows the 8·n bytes on decode;
     * on encode set rollback_ts/n_rollback_ts. */
    size_t n_rollback_ts;
    const uint64_t *rollback_ts;
    bs_slice rollback_ts_raw;
    uint64_t last_change_ts;          /* 'l' when last_change_ts or versions != 0 */
    uint64_t versions_to_last_change; /* 'l' */
    uint64_t txn_source;              /* 's' when != 0 */
    bool is_locked_with_conflict;     /* 'F' */
    uint64_t generation;              /* 'g' when != 0 */
    bool has_basalt_value;            /* KV_LOCK_TAG_BASALT_VALUE */
    bs_slice basalt_value;            /* pending value of any size; borrowed */
} kv_lock;

/* Zeroes *l (type KV_LOCK_PUT, no optional fields). */
void kv_lock_init(kv_lock *l);

/* Appends l's encoding to out in TiKV's field order, Basalt's value last. Secondaries and
 * rollback timestamps come from the arrays when set, else from the *_raw fields (so a
 * decoded lock re-encodes unchanged). Asserts that a short value is <= 255 bytes and that
 * the type is valid. */
void kv_lock_encode(bs_buf *out, const kv_lock *l);

/* Decodes a lock record; out's slices borrow from in (secondaries and rollback_ts through
 * the *_raw fields; out->secondaries and out->rollback_ts are NULL). Parsing stops at the
 * first unknown tag (forward compatible, as TiKV). Returns BS_OK, or BS_ECORRUPT (err set,
 * *out unspecified) when the input is empty, the type byte is unknown (including TiKV's
 * shared-lock container 'H', which Basalt never writes), or any field is truncated or
 * malformed. */
int kv_lock_decode(bs_slice in, kv_lock *out, bs_err *err);

/* Reads the next secondary from *cursor (start with l->secondaries_raw) into *key
 * (borrowed). BS_OK, or BS_ECORRUPT. Decode has validated the list already. */
int kv_lock_secondary_next(bs_slice *cursor, bs_slice *key);

/* The i-th rollback ts of a decoded lock (i < n_rollback_ts; asserted). */
uint64_t kv_lock_rollback_ts_at(const kv_lock *l, size_t i);

/* ======================================================================================
 * Write records (write.c), TiKV txn_types::Write
 * ==================================================================================== */

typedef enum kv_write_type {
    KV_WRITE_PUT = 'P',
    KV_WRITE_DELETE = 'D',
    KV_WRITE_LOCK = 'L',
    KV_WRITE_ROLLBACK = 'R'
} kv_write_type;

typedef struct kv_write {
    kv_write_type type;
    uint64_t start_ts;
    bool has_short_value;
    bs_slice short_value;         /* 'v'; borrowed */
    bool has_overlapped_rollback; /* 'R' */
    bool has_gc_fence;            /* 'F' (may carry 0) */
    uint64_t gc_fence;
    uint64_t last_change_ts;          /* 'l' when either is != 0 */
    uint64_t versions_to_last_change; /* 'l' */
    uint64_t txn_source;              /* 'S' when != 0 */
} kv_write;

/* Zeroes *w (type KV_WRITE_PUT, no optional fields). */
void kv_write_init(kv_write *w);

/* Fills *w as a rollback record for start_ts; protected ones carry short value "p"
 * (TiKV's protected rollback, which must not be collapsed). */
void kv_write_init_rollback(kv_write *w, uint64_t start_ts, bool protected_);

/* True for a Rollback carrying the short value "p". */
bool kv_write_is_protected_rollback(const kv_write *w);

/* Appends w's encoding in TiKV's field order. Asserts a valid type and short value <= 255. */
void kv_write_encode(bs_buf *out, const kv_write *w);

/* Decodes a write record; slices borrow from in. Stops at the first unknown tag. Returns
 * BS_OK, or BS_ECORRUPT (err set, *out unspecified) for empty input, unknown type, or a
 * truncated/malformed field. */
int kv_write_decode(bs_slice in, kv_write *out, bs_err *err);

#endif
