/* test_crashsim.c -- durability under a simulated machine crash (kv_crashsim.h).
 *
 * SIGKILL leaves unsynced writes in the page cache, so it cannot tell a synced write from an
 * unsynced one. The simulator can: it discards every write not covered by a sync at the
 * "crash", using the sync flag the engine actually handed to RocksDB. These tests pin down:
 *   - synced writes survive a crash, in every CF, across repeated crashes;
 *   - unsynced writes are discarded, and what they overwrote or deleted comes back;
 *   - a later synced write (or a WAL sync) makes earlier unsynced writes durable;
 *   - an engine that ignores the sync flag is caught (test_ignored_sync_is_caught). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "storage/kv.h"
#include "storage/kv_crashsim.h"
#include "storage/testutil.h"

typedef struct fixture {
    char *dir;
    kv_crashsim *sim;
} fixture;

static int setup(void **state)
{
    fixture *f = bs_calloc(1, sizeof(*f));
    kv_options o;
    kv_engine *e;
    bs_err err;
    kv_options_init(&o);
    o.block_cache_size = 1 << 20;
    o.write_buffer_size = 1 << 20;
    f->dir = tu_dir_new("storage");
    if (kv_engine_open(f->dir, &o, &e, &err) != BS_OK ||
        kv_crashsim_new(e, &f->sim, &err) != BS_OK) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    kv_crashsim_free(f->sim);
    tu_dir_remove(f->dir);
    bs_free(f);
    return 0;
}

static kv_engine *E(fixture *f)
{
    return kv_crashsim_engine(f->sim);
}

static bs_slice S(const char *s)
{
    return bs_slice_from_str(s);
}

static void put(fixture *f, kv_cf cf, const char *k, const char *v, bool sync)
{
    kv_batch *b = kv_batch_new();
    kv_batch_put(b, cf, S(k), S(v));
    assert_int_equal(kv_engine_write(E(f), b, sync, NULL), BS_OK);
    kv_batch_free(b);
}

static void del(fixture *f, kv_cf cf, const char *k, bool sync)
{
    kv_batch *b = kv_batch_new();
    kv_batch_delete(b, cf, S(k));
    assert_int_equal(kv_engine_write(E(f), b, sync, NULL), BS_OK);
    kv_batch_free(b);
}

static void crash(fixture *f)
{
    bs_err err;
    int rc = kv_crashsim_crash(f->sim, &err);
    if (rc != BS_OK)
        fail_msg("crash: %s", err.msg);
}

static void must_get(fixture *f, kv_cf cf, const char *k, const char *want)
{
    bs_buf v = BS_BUF_INIT;
    assert_int_equal(kv_get(E(f), cf, S(k), &v, NULL), BS_OK);
    assert_true(bs_slice_eq(bs_buf_slice(&v), S(want)));
    bs_buf_free(&v);
}

static void must_not_found(fixture *f, kv_cf cf, const char *k)
{
    bs_buf v = BS_BUF_INIT;
    assert_int_equal(kv_get(E(f), cf, S(k), &v, NULL), BS_NOTFOUND);
    bs_buf_free(&v);
}

static void test_synced_writes_survive(void **state)
{
    fixture *f = *state;
    for (int cf = 0; cf < KV_CF_COUNT; cf++)
        put(f, (kv_cf)cf, "acked", kv_cf_name((kv_cf)cf), true);
    crash(f);
    for (int cf = 0; cf < KV_CF_COUNT; cf++)
        must_get(f, (kv_cf)cf, "acked", kv_cf_name((kv_cf)cf));
    /* And again after a second crash, with more synced writes in between. */
    put(f, KV_CF_RAFT, "second", "x", true);
    del(f, KV_CF_LOCK, "acked", true);
    crash(f);
    must_get(f, KV_CF_RAFT, "second", "x");
    must_not_found(f, KV_CF_LOCK, "acked");
    must_get(f, KV_CF_DEFAULT, "acked", "default");
    kv_crashsim_stats st;
    kv_crashsim_get_stats(f->sim, &st);
    assert_int_equal(st.crashes, 2);
    assert_int_equal(st.discarded_writes, 0);
}

static void test_unsynced_writes_are_discarded(void **state)
{
    fixture *f = *state;
    put(f, KV_CF_DEFAULT, "k1", "durable", true);
    put(f, KV_CF_DEFAULT, "k2", "durable", true);
    for (char c = 'a'; c <= 'j'; c++) {
        char k[8] = {'r', c, 0};
        put(f, KV_CF_WRITE, k, "durable", c == 'j'); /* the last one syncs them all */
    }
    /* Now a series of unsynced changes of every kind. */
    put(f, KV_CF_DEFAULT, "k1", "overwritten", false);
    del(f, KV_CF_DEFAULT, "k2", false);
    put(f, KV_CF_DEFAULT, "k3", "brand-new", false);
    kv_batch *b = kv_batch_new();
    kv_batch_delete_range(b, KV_CF_WRITE, S("rc"), S("rh"));
    kv_batch_put(b, KV_CF_WRITE, S("rd"), S("inside-range"));
    kv_batch_put(b, KV_CF_WRITE, S("rz"), S("after-range"));
    assert_int_equal(kv_engine_write(E(f), b, false, NULL), BS_OK);
    kv_batch_free(b);
    /* Before the crash the engine shows them. */
    must_get(f, KV_CF_DEFAULT, "k1", "overwritten");
    must_not_found(f, KV_CF_WRITE, "re");

    crash(f);
    must_get(f, KV_CF_DEFAULT, "k1", "durable");
    must_get(f, KV_CF_DEFAULT, "k2", "durable");
    must_not_found(f, KV_CF_DEFAULT, "k3");
    for (char c = 'a'; c <= 'j'; c++) {
        char k[8] = {'r', c, 0};
        must_get(f, KV_CF_WRITE, k, "durable");
    }
    must_not_found(f, KV_CF_WRITE, "rz");
    kv_crashsim_stats st;
    kv_crashsim_get_stats(f->sim, &st);
    assert_int_equal(st.discarded_writes, 4);
}

static void test_later_sync_covers_earlier_writes(void **state)
{
    fixture *f = *state;
    put(f, KV_CF_DEFAULT, "early", "1", false);
    put(f, KV_CF_LOCK, "early", "2", false);
    put(f, KV_CF_WRITE, "sync-point", "3", true); /* fsyncs the WAL: all above is durable */
    put(f, KV_CF_DEFAULT, "late", "4", false);
    crash(f);
    must_get(f, KV_CF_DEFAULT, "early", "1");
    must_get(f, KV_CF_LOCK, "early", "2");
    must_get(f, KV_CF_WRITE, "sync-point", "3");
    must_not_found(f, KV_CF_DEFAULT, "late");

    /* kv_engine_sync_wal is a sync point too. */
    put(f, KV_CF_RAFT, "before-wal-sync", "5", false);
    assert_int_equal(kv_engine_sync_wal(E(f), NULL), BS_OK);
    put(f, KV_CF_RAFT, "after-wal-sync", "6", false);
    crash(f);
    must_get(f, KV_CF_RAFT, "before-wal-sync", "5");
    must_not_found(f, KV_CF_RAFT, "after-wal-sync");
}

/* Why the survive test means something. test_synced_writes_survive passes only if the
 * engine really hands sync=true to RocksDB: the simulator keeps a write across a crash
 * only when the write observer reports that RocksDB's write options had sync set. If
 * kv_engine_write() ignored its sync argument (always writing with sync=false, a bug a
 * SIGKILL test cannot see because the page cache survives), the observer would report
 * sync=false, the simulator would discard those writes, and the must_get() calls after
 * crash() in test_synced_writes_survive would fail with BS_NOTFOUND.
 *
 * This test builds exactly that engine: kv_engine_test_ignore_sync() makes the engine drop
 * sync requests, so every write below reaches RocksDB with sync=false even though the
 * caller asked for sync=true, and we check the "acknowledged" data is gone after a crash. */
static void test_ignored_sync_is_caught(void **state)
{
    fixture *f = *state;
    put(f, KV_CF_DEFAULT, "kept", "synced-properly", true);
    kv_engine_test_ignore_sync(E(f), true);
    put(f, KV_CF_DEFAULT, "acked", "lost", true);   /* caller asked for sync */
    put(f, KV_CF_RAFT, "hard-state", "lost", true); /* caller asked for sync */
    must_get(f, KV_CF_DEFAULT, "acked", "lost");    /* visible before the crash */
    kv_crashsim_stats st;
    kv_crashsim_get_stats(f->sim, &st);
    assert_int_equal(st.pending_writes, 2); /* the observer saw sync=false */
    crash(f);
    /* The reopened engine is healthy again (ignore_sync is per engine object). */
    must_get(f, KV_CF_DEFAULT, "kept", "synced-properly");
    must_not_found(f, KV_CF_DEFAULT, "acked");
    must_not_found(f, KV_CF_RAFT, "hard-state");
}

/* A randomized model check: random batches, some synced; after each crash the engine must
 * equal a model that applied exactly the writes up to the last synced one. */
#define MODEL_KEYS 16
static void test_random_against_model(void **state)
{
    fixture *f = *state;
    tu_rng r;
    tu_rng_seed(&r, 2024);
    /* model[cf][k]: -1 absent, else a value id. durable[] is the state at the last sync. */
    int model[KV_CF_COUNT][MODEL_KEYS], durable[KV_CF_COUNT][MODEL_KEYS];
    memset(model, 0xff, sizeof(model));
    memset(durable, 0xff, sizeof(durable));
    kv_batch *b = kv_batch_new();
    int next_val = 0;
    for (int round = 0; round < 8; round++) {
        int nwrites = 1 + (int)tu_rng_below(&r, 30);
        for (int w = 0; w < nwrites; w++) {
            kv_batch_clear(b);
            int nops = 1 + (int)tu_rng_below(&r, 4);
            for (int o = 0; o < nops; o++) {
                kv_cf cf = (kv_cf)tu_rng_below(&r, KV_CF_COUNT);
                int k = (int)tu_rng_below(&r, MODEL_KEYS);
                char key[16];
                snprintf(key, sizeof(key), "m%02d", k);
                uint64_t kind = tu_rng_below(&r, 10);
                if (kind < 6) {
                    char val[16];
                    snprintf(val, sizeof(val), "%d", next_val);
                    kv_batch_put(b, cf, S(key), S(val));
                    model[cf][k] = next_val++;
                } else if (kind < 9) {
                    kv_batch_delete(b, cf, S(key));
                    model[cf][k] = -1;
                } else {
                    int k2 = k + 1 + (int)tu_rng_below(&r, 4);
                    char end[16];
                    snprintf(end, sizeof(end), "m%02d", k2);
                    kv_batch_delete_range(b, cf, S(key), S(end));
                    for (int i = k; i < k2 && i < MODEL_KEYS; i++)
                        model[cf][i] = -1;
                }
            }
            bool sync = tu_rng_below(&r, 4) == 0;
            assert_int_equal(kv_engine_write(E(f), b, sync, NULL), BS_OK);
            if (sync)
                memcpy(durable, model, sizeof(model));
        }
        crash(f);
        memcpy(model, durable, sizeof(model));
        bs_buf v = BS_BUF_INIT;
        for (int cf = 0; cf < KV_CF_COUNT; cf++) {
            for (int k = 0; k < MODEL_KEYS; k++) {
                char key[16];
                snprintf(key, sizeof(key), "m%02d", k);
                int rc = kv_get(E(f), (kv_cf)cf, S(key), &v, NULL);
                if (model[cf][k] < 0) {
                    assert_int_equal(rc, BS_NOTFOUND);
                } else {
                    char want[16];
                    snprintf(want, sizeof(want), "%d", model[cf][k]);
                    assert_int_equal(rc, BS_OK);
                    assert_true(bs_slice_eq(bs_buf_slice(&v), S(want)));
                }
            }
        }
        bs_buf_free(&v);
    }
    kv_batch_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_synced_writes_survive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsynced_writes_are_discarded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_later_sync_covers_earlier_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ignored_sync_is_caught, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_against_model, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
