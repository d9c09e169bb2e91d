/* log_sync.c -- the raftstore's log syncer: fsyncs one round's Raft log while the
 * raftstore thread applies what earlier rounds made durable and answers it.
 *
 * A round used to apply the entries an earlier fsync covered (apply_durable, raftstore.c)
 * and answer them, then write and fsync this round's log, one after the other. The two do
 * not depend on each other: the entries applied are durable already (index <=
 * synced_index), so neither their apply nor their replies wait for this round's fsync,
 * which covers only newer entries. So the raftstore writes the log batch without sync
 * (memtable and WAL append, no disk wait), asks this thread to fsync the WAL, applies and
 * answers meanwhile, then waits for the fsync before it goes on with raft.h's order for
 * the Ready itself (persisted_msgs, the Ready's other committed entries, advance). The
 * Ready contract is unchanged: only work that never needed this fsync overlaps it (TiKV's
 * store-io-pool idea, cut down to one fsync in flight).
 *
 * Why a WAL sync and not a synced write on this thread: RocksDB runs writers one group at
 * a time, so a synced write would hold the apply's write behind its fsync; SyncWAL fsyncs
 * the WAL outside the write path while other writes append to it, and still makes every
 * record written before it durable (kv.h, kv_engine_sync_wal).
 *
 * The thread touches nothing but the engine (thread-safe).
 * Invariant: at most one sync in flight (start asserts the syncer is idle). */
#include <stdatomic.h>
#include <string.h>

#include "cluster/cluster_int.h"
#include "common/assert.h"
#include "common/clock.h"

static void *log_sync_main(void *arg)
{
    cluster_store *s = arg;
    cluster_log_sync *w = &s->log_sync;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && !w->requested)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->requested) /* stopping, nothing in flight */
            break;
        pthread_mutex_unlock(&w->mu);
        bs_err err;
        bs_err_clear(&err);
        int64_t t0 = bs_clock_mono_ns();
        int rc = kv_engine_sync_wal(s->engine, &err);
        int64_t dt = bs_clock_mono_ns() - t0;
        pthread_mutex_lock(&w->mu);
        w->rc = rc;
        w->err = err;
        w->duration_ns = dt;
        w->requested = false;
        w->done = true;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

void cluster_log_sync_init(cluster_store *s)
{
    cluster_log_sync *w = &s->log_sync;
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    /* Without the thread the raftstore syncs inline, as before: slower, not wrong. */
    w->started = pthread_create(&w->thread, NULL, log_sync_main, s) == 0;
    if (w->started)
        (void)pthread_setname_np(w->thread, "raft-log-sync"); /* cosmetic */
}

void cluster_log_sync_deinit(cluster_store *s)
{
    cluster_log_sync *w = &s->log_sync;
    BS_ASSERT(!w->busy);
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        w->started = false;
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

bool cluster_log_sync_start(cluster_store *s)
{
    cluster_log_sync *w = &s->log_sync;
    BS_ASSERT(!w->busy);
    if (!w->started)
        return false;
    pthread_mutex_lock(&w->mu);
    w->requested = true;
    w->done = false;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    w->busy = true;
    atomic_fetch_add(&w->syncs, 1);
    return true;
}

int cluster_log_sync_wait(cluster_store *s, int64_t *duration_ns, bs_err *err)
{
    cluster_log_sync *w = &s->log_sync;
    BS_ASSERT(w->busy);
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    int rc = w->rc;
    if (rc != BS_OK && err)
        *err = w->err;
    *duration_ns = w->duration_ns;
    pthread_mutex_unlock(&w->mu);
    w->busy = false;
    return rc;
}
