/* kv_crashsim.h -- test-only machine-crash simulator for a kv_engine.
 *
 * Killing a process (even with SIGKILL) leaves unsynced writes in the OS page cache, so it
 * proves nothing about fsync. This simulator models what a power loss does to RocksDB's
 * write-ahead log: a write is durable only once a synced write (or a WAL sync) has been
 * made after it, because fsyncing the WAL persists every earlier record too. At a
 * simulated crash every write not so covered is discarded, then the engine is closed and
 * reopened from disk.
 *
 * It learns the sync flag from the engine's write observer, which reports the flag that was
 * actually set on RocksDB's write options, not the one the caller asked for: an engine that
 * dropped sync requests would have its "synced" writes discarded here, and tests would fail.
 *
 * How: the simulator holds a snapshot of the last durable state (taken at attach and after
 * every synced write) and the list of keys and ranges written since without a sync. A crash
 * restores each of those keys/ranges to its value in the durable snapshot (a synced
 * batch), then closes and reopens the engine. Writes must come from one thread at a time
 * (the engine serializes them while the observer is installed). Flushes are not counted as
 * sync points, which is conservative: the simulator may discard a write a real crash would
 * have kept, never the reverse. Not for production use. */
#ifndef BASALT_STORAGE_KV_CRASHSIM_H
#define BASALT_STORAGE_KV_CRASHSIM_H

#include <stddef.h>

#include "storage/kv.h"

typedef struct kv_crashsim kv_crashsim;

typedef struct kv_crashsim_stats {
    size_t synced_writes;    /* observed writes with sync actually set (and WAL syncs) */
    size_t unsynced_writes;  /* observed writes without sync */
    size_t pending_writes;   /* unsynced writes not yet covered by a later sync */
    size_t discarded_writes; /* unsynced writes thrown away by crashes so far */
    size_t crashes;
} kv_crashsim_stats;

/* Attaches a simulator to e: syncs the WAL (so the starting state is durable), takes the
 * durable snapshot and installs the write observer. On BS_OK the simulator takes ownership
 * of e (it may replace it at each crash; get the current one with kv_crashsim_engine() and
 * close it with kv_crashsim_free()). On error the caller still owns e. */
int kv_crashsim_new(kv_engine *e, kv_crashsim **out, bs_err *err);

/* The current engine; borrowed, valid until the next kv_crashsim_crash() or free. */
kv_engine *kv_crashsim_engine(const kv_crashsim *s);

/* Simulates a machine crash: discards every write not covered by a sync, then closes and
 * reopens the engine with the same path and options. All snapshots and iterators of the
 * engine must be freed first. Returns BS_OK, or an engine error (after which the simulator
 * holds no engine and only kv_crashsim_free() may be called). */
int kv_crashsim_crash(kv_crashsim *s, bs_err *err);

/* Copies the counters into *out. */
void kv_crashsim_get_stats(const kv_crashsim *s, kv_crashsim_stats *out);

/* Detaches, closes the current engine and frees the simulator. s may be NULL. */
void kv_crashsim_free(kv_crashsim *s);

#endif
