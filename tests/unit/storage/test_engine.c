/* test_engine.c -- the RocksDB engine through kv.h: CRUD per column family, batch
 * atomicity (a concurrent reader never sees half a batch), snapshot isolation, iterator
 * bounds in both directions, one key's versions through CF default's prefix filters,
 * delete-range, reopen, the locked-directory error (same
 * process and another process), approximate sizes, the compaction filter, options (blob
 * files, compression) and the write observer. Every test works in a fresh directory under
 * $TMPDIR and removes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/kv.h"
#include "storage/testutil.h"

static char self_exe[4096];

typedef struct fixture {
    char *dir;
    kv_engine *e;
} fixture;

static kv_options small_options(void)
{
    kv_options o;
    kv_options_init(&o);
    o.block_cache_size = 4 << 20;
    o.write_buffer_size = 4 << 20;
    return o;
}

static int setup(void **state)
{
    fixture *f = bs_calloc(1, sizeof(*f));
    bs_err err;
    kv_options o = small_options();
    f->dir = tu_dir_new("storage");
    if (kv_engine_open(f->dir, &o, &f->e, &err) != BS_OK) {
        fprintf(stderr, "open: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    kv_engine_close(f->e);
    tu_dir_remove(f->dir);
    bs_free(f);
    return 0;
}

static bs_slice S(const char *s)
{
    return bs_slice_from_str(s);
}

static void put1(kv_engine *e, kv_cf cf, bs_slice k, bs_slice v, bool sync)
{
    kv_batch *b = kv_batch_new();
    bs_err err;
    kv_batch_put(b, cf, k, v);
    assert_int_equal(kv_engine_write(e, b, sync, &err), BS_OK);
    kv_batch_free(b);
}

static void del1(kv_engine *e, kv_cf cf, bs_slice k)
{
    kv_batch *b = kv_batch_new();
    kv_batch_delete(b, cf, k);
    assert_int_equal(kv_engine_write(e, b, false, NULL), BS_OK);
    kv_batch_free(b);
}

static void must_get(kv_engine *e, kv_cf cf, bs_slice k, bs_slice want)
{
    bs_buf v = BS_BUF_INIT;
    bs_err err;
    int rc = kv_get(e, cf, k, &v, &err);
    assert_int_equal(rc, BS_OK);
    assert_true(bs_slice_eq(bs_buf_slice(&v), want));
    bs_buf_free(&v);
}

static void must_not_found(kv_engine *e, kv_cf cf, bs_slice k)
{
    bs_buf v = BS_BUF_INIT;
    assert_int_equal(kv_get(e, cf, k, &v, NULL), BS_NOTFOUND);
    bs_buf_free(&v);
}

/* ---- CRUD ---------------------------------------------------------------------------------- */

static void test_crud_per_cf(void **state)
{
    fixture *f = *state;
    const bs_slice key = bs_slice_make("k\0\r\n\xff", 5);
    for (int cf = 0; cf < KV_CF_COUNT; cf++) {
        char v[32];
        snprintf(v, sizeof(v), "value-of-%s", kv_cf_name((kv_cf)cf));
        put1(f->e, (kv_cf)cf, key, S(v), false);
    }
    /* The same key holds a different value in each CF. */
    for (int cf = 0; cf < KV_CF_COUNT; cf++) {
        char v[32];
        snprintf(v, sizeof(v), "value-of-%s", kv_cf_name((kv_cf)cf));
        must_get(f->e, (kv_cf)cf, key, S(v));
    }
    /* Overwrite, empty value, empty key. */
    put1(f->e, KV_CF_LOCK, key, S("v2"), true);
    must_get(f->e, KV_CF_LOCK, key, S("v2"));
    put1(f->e, KV_CF_WRITE, key, BS_SLICE_NULL, false);
    must_get(f->e, KV_CF_WRITE, key, BS_SLICE_NULL);
    put1(f->e, KV_CF_RAFT, BS_SLICE_NULL, S("empty-key"), false);
    must_get(f->e, KV_CF_RAFT, BS_SLICE_NULL, S("empty-key"));
    /* Delete only touches its CF. */
    del1(f->e, KV_CF_LOCK, key);
    must_not_found(f->e, KV_CF_LOCK, key);
    must_get(f->e, KV_CF_DEFAULT, key, S("value-of-default"));
    must_not_found(f->e, KV_CF_DEFAULT, S("never-written"));
    /* An empty batch is fine with and without sync. */
    kv_batch *b = kv_batch_new();
    assert_int_equal(kv_engine_write(f->e, b, false, NULL), BS_OK);
    assert_int_equal(kv_engine_write(f->e, b, true, NULL), BS_OK);
    kv_batch_free(b);
}

static int collect_op(void *arg, const kv_op *op)
{
    int *n = arg;
    static const kv_op_type want[] = {KV_OP_PUT, KV_OP_DELETE, KV_OP_DELETE_RANGE};
    assert_int_equal(op->type, want[*n]);
    (*n)++;
    return 0;
}

static void test_batch_contents(void **state)
{
    (void)state;
    kv_batch *b = kv_batch_new();
    kv_batch_put(b, KV_CF_WRITE, S("a"), S("1"));
    kv_batch_delete(b, KV_CF_LOCK, S("bb"));
    kv_batch_delete_range(b, KV_CF_DEFAULT, S("c"), S("d"));
    assert_int_equal(kv_batch_count(b), 3);
    assert_int_equal(kv_batch_data_size(b), 1 + 1 + 2 + 1 + 1);
    int n = 0;
    assert_int_equal(kv_batch_iterate(b, collect_op, &n), BS_OK);
    assert_int_equal(n, 3);
    kv_batch_clear(b);
    assert_int_equal(kv_batch_count(b), 0);
    kv_batch_free(b);
    kv_batch_free(NULL);
}

/* ---- atomicity ------------------------------------------------------------------------------ */

#define ATOMIC_KEYS 50
#define ATOMIC_ROUNDS 300

typedef struct atomic_ctx {
    kv_engine *e;
    atomic_int done;
    atomic_int torn; /* reads that saw two generations at once */
    atomic_int reads;
} atomic_ctx;

static void *atomic_reader(void *arg)
{
    atomic_ctx *c = arg;
    bs_buf v = BS_BUF_INIT;
    while (!atomic_load(&c->done)) {
        kv_snapshot *s = kv_snapshot_new(c->e);
        long first = -1;
        for (int i = 0; i < ATOMIC_KEYS; i++) {
            char k[16];
            snprintf(k, sizeof(k), "key%03d", i);
            long g = -2;
            kv_cf cf = (kv_cf)(i % KV_CF_COUNT);
            if (kv_snapshot_get(s, cf, S(k), &v, NULL) == BS_OK) {
                bs_buf_append_byte(&v, 0);
                g = strtol((const char *)v.ptr, NULL, 10);
            }
            if (i == 0)
                first = g;
            else if (g != first)
                atomic_fetch_add(&c->torn, 1);
        }
        kv_snapshot_free(s);
        atomic_fetch_add(&c->reads, 1);
    }
    bs_buf_free(&v);
    return NULL;
}

static void test_batch_atomicity(void **state)
{
    fixture *f = *state;
    atomic_ctx c = {.e = f->e};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, atomic_reader, &c), 0);
    kv_batch *b = kv_batch_new();
    for (int g = 1; g <= ATOMIC_ROUNDS; g++) {
        char gen[16];
        snprintf(gen, sizeof(gen), "%d", g);
        kv_batch_clear(b);
        for (int i = 0; i < ATOMIC_KEYS; i++) {
            char k[16];
            snprintf(k, sizeof(k), "key%03d", i);
            kv_batch_put(b, (kv_cf)(i % KV_CF_COUNT), S(k), S(gen)); /* across all CFs */
        }
        assert_int_equal(kv_engine_write(f->e, b, false, NULL), BS_OK);
        /* Let the reader take a few looks between batches. */
        while (atomic_load(&c.reads) < g / 4)
            sched_yield();
    }
    atomic_store(&c.done, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    kv_batch_free(b);
    assert_true(atomic_load(&c.reads) > 0);
    assert_int_equal(atomic_load(&c.torn), 0);
    must_get(f->e, KV_CF_RAFT, S("key003"), S("300"));
}

/* ---- snapshots ------------------------------------------------------------------------------ */

static void test_snapshot_isolation(void **state)
{
    fixture *f = *state;
    put1(f->e, KV_CF_DEFAULT, S("a"), S("old"), false);
    put1(f->e, KV_CF_DEFAULT, S("b"), S("old"), false);
    kv_snapshot *s = kv_snapshot_new(f->e);
    put1(f->e, KV_CF_DEFAULT, S("a"), S("new"), false);
    del1(f->e, KV_CF_DEFAULT, S("b"));
    put1(f->e, KV_CF_DEFAULT, S("c"), S("new"), false);

    bs_buf v = BS_BUF_INIT;
    assert_int_equal(kv_snapshot_get(s, KV_CF_DEFAULT, S("a"), &v, NULL), BS_OK);
    assert_true(bs_slice_eq(bs_buf_slice(&v), S("old")));
    assert_int_equal(kv_snapshot_get(s, KV_CF_DEFAULT, S("b"), &v, NULL), BS_OK);
    assert_int_equal(kv_snapshot_get(s, KV_CF_DEFAULT, S("c"), &v, NULL), BS_NOTFOUND);
    must_get(f->e, KV_CF_DEFAULT, S("a"), S("new"));
    must_not_found(f->e, KV_CF_DEFAULT, S("b"));

    /* An iterator through the snapshot sees a, b (old) and not c. */
    kv_iter *it = kv_iter_new(f->e, s, KV_CF_DEFAULT, BS_SLICE_NULL, BS_SLICE_NULL);
    int n = 0;
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it)) {
        assert_true(bs_slice_eq(kv_iter_value(it), S("old")));
        n++;
    }
    assert_int_equal(n, 2);
    assert_int_equal(kv_iter_status(it, NULL), BS_OK);
    kv_iter_free(it);
    /* A flush does not change what the snapshot sees. */
    assert_int_equal(kv_engine_flush(f->e, KV_CF_DEFAULT, true, NULL), BS_OK);
    assert_int_equal(kv_snapshot_get(s, KV_CF_DEFAULT, S("a"), &v, NULL), BS_OK);
    assert_true(bs_slice_eq(bs_buf_slice(&v), S("old")));
    kv_snapshot_free(s);
    bs_buf_free(&v);
}

/* ---- iterators ------------------------------------------------------------------------------ */

static void fill_letters(kv_engine *e, kv_cf cf)
{
    kv_batch *b = kv_batch_new();
    for (char c = 'a'; c <= 'z'; c++) {
        char k[2] = {c, 0};
        kv_batch_put(b, cf, S(k), S(k));
    }
    assert_int_equal(kv_engine_write(e, b, false, NULL), BS_OK);
    kv_batch_free(b);
}

static char key_char(kv_iter *it)
{
    bs_slice k = kv_iter_key(it);
    assert_int_equal(k.len, 1);
    return (char)k.ptr[0];
}

static void test_iterator_bounds(void **state)
{
    fixture *f = *state;
    fill_letters(f->e, KV_CF_WRITE);
    fill_letters(f->e, KV_CF_LOCK); /* must not leak into CF write */

    char lo[] = "c", hi[] = "g";
    kv_iter *it = kv_iter_new(f->e, NULL, KV_CF_WRITE, S(lo), S(hi));
    lo[0] = 'a'; /* bounds were copied: changing the caller's bytes has no effect */
    hi[0] = 'z';
    char seen[32];
    int n = 0;
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it))
        seen[n++] = key_char(it);
    assert_int_equal(n, 4);
    assert_memory_equal(seen, "cdef", 4);
    n = 0;
    for (kv_iter_seek_to_last(it); kv_iter_valid(it); kv_iter_prev(it))
        seen[n++] = key_char(it);
    assert_int_equal(n, 4);
    assert_memory_equal(seen, "fedc", 4);

    kv_iter_seek(it, S("a")); /* below lower: clamps to the first key in range */
    assert_true(kv_iter_valid(it));
    assert_int_equal(key_char(it), 'c');
    kv_iter_seek(it, S("dd"));
    assert_int_equal(key_char(it), 'e');
    kv_iter_seek(it, S("g")); /* upper is exclusive */
    assert_false(kv_iter_valid(it));
    kv_iter_seek_for_prev(it, S("z"));
    assert_true(kv_iter_valid(it));
    assert_int_equal(key_char(it), 'f');
    kv_iter_seek_for_prev(it, S("dd"));
    assert_int_equal(key_char(it), 'd');
    kv_iter_seek_for_prev(it, S("b"));
    assert_false(kv_iter_valid(it));
    assert_int_equal(kv_iter_status(it, NULL), BS_OK);
    kv_iter_free(it);

    /* Unbounded: the whole CF. One-sided bounds. */
    it = kv_iter_new(f->e, NULL, KV_CF_WRITE, BS_SLICE_NULL, BS_SLICE_NULL);
    n = 0;
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it))
        n++;
    assert_int_equal(n, 26);
    kv_iter_free(it);
    it = kv_iter_new(f->e, NULL, KV_CF_WRITE, S("x"), BS_SLICE_NULL);
    kv_iter_seek_to_last(it);
    assert_int_equal(key_char(it), 'z');
    kv_iter_seek_to_first(it);
    assert_int_equal(key_char(it), 'x');
    kv_iter_free(it);
    it = kv_iter_new(f->e, NULL, KV_CF_WRITE, BS_SLICE_NULL, S("b"));
    kv_iter_seek_to_last(it);
    assert_int_equal(key_char(it), 'a');
    kv_iter_next(it);
    assert_false(kv_iter_valid(it));
    kv_iter_free(it);

    /* Bounds too long to sit in the iterator are copied to the heap, and still hold: "c"
     * and "f" padded to 200 bytes with 0x01 bound c < key < f, i.e. d, e and f itself. */
    uint8_t lo_long[200], hi_long[200];
    memset(lo_long, 1, sizeof lo_long);
    memset(hi_long, 1, sizeof hi_long);
    lo_long[0] = 'c';
    hi_long[0] = 'f';
    it = kv_iter_new(f->e, NULL, KV_CF_WRITE, bs_slice_make(lo_long, sizeof lo_long),
                     bs_slice_make(hi_long, sizeof hi_long));
    memset(lo_long, 'a', sizeof lo_long); /* copied: the caller's bytes no longer matter */
    memset(hi_long, 'z', sizeof hi_long);
    n = 0;
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it))
        seen[n++] = key_char(it);
    assert_int_equal(n, 3);
    assert_memory_equal(seen, "def", 3);
    kv_iter_free(it);
}

/* Versions of the user key u at ts, ts-1, ..., ts-n+1 into CF default, each valued u. */
static void put_versions(kv_engine *e, bs_slice u, uint64_t ts, int n)
{
    for (int i = 0; i < n; i++) {
        bs_buf k = BS_BUF_INIT;
        kv_mvcc_key_append(&k, u, ts - (uint64_t)i);
        put1(e, KV_CF_DEFAULT, bs_buf_slice(&k), u, false);
        bs_buf_free(&k);
    }
}

/* Counts the versions of u read through one-key bounds, checking that each belongs to u
 * and that they come newest first; *newest gets the first one's ts. */
static int count_versions(kv_engine *e, bs_slice u, uint64_t *newest)
{
    bs_buf lo = BS_BUF_INIT, hi = BS_BUF_INIT;
    kv_mvcc_key_append(&lo, u, UINT64_MAX);
    kv_mvcc_key_append(&hi, u, 0);
    kv_iter *it = kv_iter_new(e, NULL, KV_CF_DEFAULT, bs_buf_slice(&lo), bs_buf_slice(&hi));
    int n = 0;
    uint64_t prev = UINT64_MAX;
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it)) {
        bs_slice enc;
        uint64_t ts;
        assert_int_equal(kv_mvcc_key_split(kv_iter_key(it), &enc, &ts, NULL), BS_OK);
        assert_true(bs_slice_eq(kv_iter_value(it), u));
        assert_true(ts < prev);
        if (n == 0 && newest)
            *newest = ts;
        prev = ts;
        n++;
    }
    assert_int_equal(kv_iter_status(it, NULL), BS_OK);
    kv_iter_free(it);
    bs_buf_free(&lo);
    bs_buf_free(&hi);
    return n;
}

/* CF default reads one key's versions through its prefix filters (engine.c): every version
 * is found wherever it lives (table files, memtable, both), neighbours whose encodings
 * share bytes never leak in, and a scan over many keys still sees them all in order. */
static void test_one_key_versions(void **state)
{
    fixture *f = *state;
    bs_err err;
    uint64_t newest = 0;
    bs_slice k = bs_slice_make("k", 1), k0 = bs_slice_make("k\0", 2);
    bs_slice k7 = S("k1234567"), k8 = S("k12345678"), k6 = S("k123456");
    put_versions(f->e, k, 100, 3);
    put_versions(f->e, k0, 100, 2); /* MCE("k") and MCE("k\0") share their first bytes */
    put_versions(f->e, k7, 100, 1); /* one full 8-byte group */
    put_versions(f->e, k8, 100, 4); /* the same group, then more */
    assert_int_equal(kv_engine_flush(f->e, KV_CF_DEFAULT, false, &err), BS_OK);
    put_versions(f->e, k, 200, 2); /* newer versions in the memtable */
    put_versions(f->e, S("only-in-memtable"), 7, 1);
    assert_int_equal(count_versions(f->e, k, &newest), 5);
    assert_int_equal((int)newest, 200);
    assert_int_equal(count_versions(f->e, k0, NULL), 2);
    assert_int_equal(count_versions(f->e, k7, NULL), 1);
    assert_int_equal(count_versions(f->e, k8, NULL), 4);
    assert_int_equal(count_versions(f->e, S("only-in-memtable"), &newest), 1);
    assert_int_equal((int)newest, 7);
    assert_int_equal(count_versions(f->e, S("absent"), NULL), 0);
    assert_int_equal(count_versions(f->e, k6, NULL), 0);

    /* A range over several keys (total order): every entry, sorted. */
    kv_iter *it = kv_iter_new(f->e, NULL, KV_CF_DEFAULT, BS_SLICE_NULL, BS_SLICE_NULL);
    int n = 0;
    bs_buf prev = BS_BUF_INIT;
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it)) {
        if (n > 0)
            assert_true(bs_slice_cmp(bs_buf_slice(&prev), kv_iter_key(it)) < 0);
        bs_buf_set(&prev, kv_iter_key(it).ptr, kv_iter_key(it).len);
        n++;
    }
    assert_int_equal(n, 3 + 2 + 1 + 4 + 2 + 1);
    kv_iter_free(it);
    bs_buf_free(&prev);
}

static void test_delete_range(void **state)
{
    fixture *f = *state;
    fill_letters(f->e, KV_CF_DEFAULT);
    fill_letters(f->e, KV_CF_RAFT);
    kv_batch *b = kv_batch_new();
    kv_batch_delete_range(b, KV_CF_DEFAULT, S("c"), S("x"));
    assert_int_equal(kv_engine_write(f->e, b, true, NULL), BS_OK);
    kv_batch_free(b);
    must_get(f->e, KV_CF_DEFAULT, S("b"), S("b"));
    must_not_found(f->e, KV_CF_DEFAULT, S("c"));
    must_not_found(f->e, KV_CF_DEFAULT, S("w"));
    must_get(f->e, KV_CF_DEFAULT, S("x"), S("x")); /* end is exclusive */
    must_get(f->e, KV_CF_RAFT, S("m"), S("m"));    /* other CFs untouched */
    kv_iter *it = kv_iter_new(f->e, NULL, KV_CF_DEFAULT, BS_SLICE_NULL, BS_SLICE_NULL);
    int n = 0;
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it))
        n++;
    assert_int_equal(n, 26 - 21);
    kv_iter_free(it);
    /* Still deleted after a flush and compaction. */
    assert_int_equal(kv_engine_flush(f->e, KV_CF_DEFAULT, false, NULL), BS_OK);
    assert_int_equal(
        kv_engine_compact_range(f->e, KV_CF_DEFAULT, BS_SLICE_NULL, BS_SLICE_NULL, NULL), BS_OK);
    must_not_found(f->e, KV_CF_DEFAULT, S("m"));
    must_get(f->e, KV_CF_DEFAULT, S("z"), S("z"));
}

/* ---- reopen and locking ------------------------------------------------------------------- */

static void test_reopen_keeps_data(void **state)
{
    fixture *f = *state;
    for (int cf = 0; cf < KV_CF_COUNT; cf++)
        put1(f->e, (kv_cf)cf, S("persist"), S(kv_cf_name((kv_cf)cf)), cf % 2 == 0);
    kv_engine_close(f->e);
    kv_options o = small_options();
    o.create_if_missing = false;
    bs_err err;
    assert_int_equal(kv_engine_open(f->dir, &o, &f->e, &err), BS_OK);
    for (int cf = 0; cf < KV_CF_COUNT; cf++)
        must_get(f->e, (kv_cf)cf, S("persist"), S(kv_cf_name((kv_cf)cf)));
    assert_string_equal(kv_engine_path(f->e), f->dir);
}

static void test_open_missing_without_create(void **state)
{
    fixture *f = *state;
    char *p = tu_path_join(f->dir, "nothing-here");
    kv_options o = small_options();
    o.create_if_missing = false;
    kv_engine *e = NULL;
    bs_err err;
    assert_int_equal(kv_engine_open(p, &o, &e, &err), BS_NOTFOUND);
    assert_null(e);
    o.create_if_missing = true;
    o.num_levels = 0;
    assert_int_equal(kv_engine_open(p, &o, &e, &err), BS_EINVAL);
    bs_free(p);
}

static void test_locked_dir_same_process(void **state)
{
    fixture *f = *state;
    kv_engine *e2 = NULL;
    bs_err err;
    assert_int_equal(kv_engine_open(f->dir, NULL, &e2, &err), BS_EBUSY);
    assert_null(e2);
    assert_int_equal(err.code, BS_EBUSY);
    assert_non_null(strstr(err.msg, "is in use by another Basalt process (RocksDB LOCK held)"));
    assert_non_null(strstr(err.msg, f->dir));
}

/* The other process is this test binary re-executed in "--try-open DIR" mode (a fresh
 * process, not a fork of one with RocksDB threads running). */
static void test_locked_dir_other_process(void **state)
{
    fixture *f = *state;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        close(pipefd[0]);
        execl(self_exe, self_exe, "--try-open", f->dir, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    char out[600] = {0};
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(out) - 1 && (r = read(pipefd[0], out + n, sizeof(out) - 1 - n)) > 0)
        n += (size_t)r;
    close(pipefd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), BS_EBUSY);
    assert_non_null(strstr(out, "is in use by another Basalt process (RocksDB LOCK held)"));
}

static int try_open_main(const char *dir)
{
    kv_engine *e = NULL;
    bs_err err;
    bs_err_clear(&err);
    int rc = kv_engine_open(dir, NULL, &e, &err);
    printf("%s\n", err.msg);
    kv_engine_close(e);
    return rc;
}

/* ---- sizes, compaction filter, options ---------------------------------------------------- */

static void test_approximate_size_grows(void **state)
{
    fixture *f = *state;
    uint64_t before = 1, after = 0;
    bs_slice lo = S("k"), hi = S("l");
    assert_int_equal(kv_engine_approximate_size(f->e, KV_CF_WRITE, lo, hi, &before, NULL), BS_OK);
    tu_rng r;
    tu_rng_seed(&r, 5);
    kv_batch *b = kv_batch_new();
    uint8_t val[1024];
    for (int i = 0; i < 2000; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%06d", i);
        for (size_t j = 0; j < sizeof(val); j++)
            val[j] = (uint8_t)tu_rng_next(&r); /* incompressible */
        kv_batch_put(b, KV_CF_WRITE, S(k), bs_slice_make(val, sizeof(val)));
        if (i % 100 == 99) {
            assert_int_equal(kv_engine_write(f->e, b, false, NULL), BS_OK);
            kv_batch_clear(b);
        }
    }
    kv_batch_free(b);
    assert_int_equal(kv_engine_flush(f->e, KV_CF_WRITE, false, NULL), BS_OK);
    assert_int_equal(kv_engine_approximate_size(f->e, KV_CF_WRITE, lo, hi, &after, NULL), BS_OK);
    assert_true(after > before);
    assert_true(after >= 1000 * 1024); /* ~2 MB written, at least half is counted */
    /* A range outside the data stays small; an empty end is refused. */
    uint64_t other = 0;
    assert_int_equal(kv_engine_approximate_size(f->e, KV_CF_WRITE, S("x"), S("y"), &other, NULL),
                     BS_OK);
    assert_true(other < 64 * 1024);
    bs_err err;
    assert_int_equal(kv_engine_approximate_size(f->e, KV_CF_WRITE, lo, BS_SLICE_NULL, &other, &err),
                     BS_EINVAL);
    uint64_t keys = 0;
    assert_int_equal(kv_engine_property_int(f->e, KV_CF_WRITE, "rocksdb.estimate-num-keys", &keys),
                     BS_OK);
    assert_true(keys > 1000);
    assert_int_equal(kv_engine_property_int(f->e, KV_CF_WRITE, "no.such.property", &keys),
                     BS_NOTFOUND);
}

static size_t walk_all(kv_iter *it)
{
    size_t n = 0;
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it))
        n++;
    assert_int_equal(kv_iter_status(it, NULL), BS_OK);
    kv_iter_free(it);
    return n;
}

/* A sweep walk (GC, split checks) leaves the block cache as it was; a plain walk fills it. */
static void test_sweep_skips_block_cache(void **state)
{
    fixture *f = *state;
    kv_batch *b = kv_batch_new();
    uint8_t val[1024];
    memset(val, 'v', sizeof(val));
    for (int i = 0; i < 2000; i++) { /* ~2 MB, under the 4 MiB cache */
        char k[16];
        snprintf(k, sizeof(k), "s%06d", i);
        kv_batch_put(b, KV_CF_WRITE, S(k), bs_slice_make(val, sizeof(val)));
    }
    assert_int_equal(kv_engine_write(f->e, b, false, NULL), BS_OK);
    kv_batch_free(b);
    assert_int_equal(kv_engine_flush(f->e, KV_CF_WRITE, false, NULL), BS_OK);
    uint64_t u0 = 0, u1 = 0, u2 = 0;
    const char *usage = "rocksdb.block-cache-usage";
    assert_int_equal(kv_engine_property_int(f->e, KV_CF_WRITE, usage, &u0), BS_OK);
    kv_iter *it = kv_iter_new_sweep(f->e, NULL, KV_CF_WRITE, BS_SLICE_NULL, BS_SLICE_NULL);
    assert_int_equal(walk_all(it), 2000);
    assert_int_equal(kv_engine_property_int(f->e, KV_CF_WRITE, usage, &u1), BS_OK);
    assert_true(u1 < u0 + 64 * 1024);
    it = kv_iter_new(f->e, NULL, KV_CF_WRITE, BS_SLICE_NULL, BS_SLICE_NULL);
    assert_int_equal(walk_all(it), 2000);
    assert_int_equal(kv_engine_property_int(f->e, KV_CF_WRITE, usage, &u2), BS_OK);
    assert_true(u2 >= u1 + 1000 * 1024);
}

typedef struct filter_ctx {
    atomic_int calls;
    atomic_int wrong_cf;
} filter_ctx;

/* Removes every entry whose value starts with "drop". */
static kv_filter_decision drop_filter(void *arg, kv_cf cf, int level, bs_slice key, bs_slice value)
{
    filter_ctx *c = arg;
    (void)level;
    (void)key;
    atomic_fetch_add(&c->calls, 1);
    if (cf != KV_CF_DEFAULT)
        atomic_fetch_add(&c->wrong_cf, 1);
    return bs_slice_starts_with(value, S("drop")) ? KV_FILTER_REMOVE : KV_FILTER_KEEP;
}

static void test_compaction_filter(void **state)
{
    fixture *f = *state;
    kv_engine_close(f->e);
    filter_ctx c = {0};
    kv_options o = small_options();
    o.compaction_filter[KV_CF_DEFAULT].fn = drop_filter;
    o.compaction_filter[KV_CF_DEFAULT].arg = &c;
    bs_err err;
    assert_int_equal(kv_engine_open(f->dir, &o, &f->e, &err), BS_OK);

    kv_batch *b = kv_batch_new();
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%03d", i);
        kv_batch_put(b, KV_CF_DEFAULT, S(k), S(i % 3 == 0 ? "drop-me" : "keep-me"));
        kv_batch_put(b, KV_CF_LOCK, S(k), S("drop-but-no-filter-here"));
    }
    assert_int_equal(kv_engine_write(f->e, b, false, NULL), BS_OK);
    kv_batch_free(b);
    /* Nothing is filtered before a compaction. */
    must_get(f->e, KV_CF_DEFAULT, S("k000"), S("drop-me"));
    assert_int_equal(kv_engine_flush(f->e, KV_CF_DEFAULT, true, NULL), BS_OK);
    assert_int_equal(
        kv_engine_compact_range(f->e, KV_CF_DEFAULT, BS_SLICE_NULL, BS_SLICE_NULL, NULL), BS_OK);
    assert_int_equal(kv_engine_compact_range(f->e, KV_CF_LOCK, BS_SLICE_NULL, BS_SLICE_NULL, NULL),
                     BS_OK);
    assert_true(atomic_load(&c.calls) >= 100);
    assert_int_equal(atomic_load(&c.wrong_cf), 0);
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%03d", i);
        if (i % 3 == 0)
            must_not_found(f->e, KV_CF_DEFAULT, S(k));
        else
            must_get(f->e, KV_CF_DEFAULT, S(k), S("keep-me"));
        must_get(f->e, KV_CF_LOCK, S(k), S("drop-but-no-filter-here"));
    }
}

static void test_options_blob_and_compression(void **state)
{
    fixture *f = *state;
    static const kv_compression kinds[] = {KV_COMPRESSION_NONE, KV_COMPRESSION_LZ4,
                                           KV_COMPRESSION_ZSTD};
    kv_engine_close(f->e);
    f->e = NULL;
    for (size_t k = 0; k < 3; k++) {
        char name[16];
        snprintf(name, sizeof(name), "db%zu", k);
        char *p = tu_path_join(f->dir, name);
        kv_options o = small_options();
        for (int l = 0; l < KV_MAX_LEVELS; l++)
            o.compression_per_level[l] = kinds[k];
        o.enable_blob_files = true;
        o.min_blob_size = 256;
        o.blob_compression = kinds[k];
        kv_engine *e;
        bs_err err;
        assert_int_equal(kv_engine_open(p, &o, &e, &err), BS_OK);
        kv_batch *b = kv_batch_new();
        char big[4096];
        memset(big, 'B', sizeof(big));
        kv_batch_put(b, KV_CF_DEFAULT, S("big"), bs_slice_make(big, sizeof(big)));
        kv_batch_put(b, KV_CF_DEFAULT, S("small"), S("s"));
        assert_int_equal(kv_engine_write(e, b, true, &err), BS_OK);
        kv_batch_free(b);
        assert_int_equal(kv_engine_flush(e, KV_CF_DEFAULT, false, &err), BS_OK);
        /* The big value went to a blob file; both read back. */
        assert_true(tu_count_files(p, ".blob") >= 1);
        must_get(e, KV_CF_DEFAULT, S("big"), bs_slice_make(big, sizeof(big)));
        must_get(e, KV_CF_DEFAULT, S("small"), S("s"));
        /* RocksDB's own record of the options it applied (OPTIONS-* file). */
        static const char *const per_level[] = {
            "compression_per_level=kNoCompression:kNoCompression:kNoCompression:"
            "kNoCompression:kNoCompression:kNoCompression:kNoCompression",
            "compression_per_level=kLZ4Compression:kLZ4Compression:kLZ4Compression:"
            "kLZ4Compression:kLZ4Compression:kLZ4Compression:kLZ4Compression",
            "compression_per_level=kZSTD:kZSTD:kZSTD:kZSTD:kZSTD:kZSTD:kZSTD"};
        static const char *const blob_kind[] = {"blob_compression_type=kNoCompression",
                                                "blob_compression_type=kLZ4Compression",
                                                "blob_compression_type=kZSTD"};
        assert_int_equal(tu_dir_file_contains(p, "OPTIONS-", per_level[k]), 1);
        assert_int_equal(tu_dir_file_contains(p, "OPTIONS-", blob_kind[k]), 1);
        assert_int_equal(tu_dir_file_contains(p, "OPTIONS-", "enable_blob_files=true"), 1);
        assert_int_equal(tu_dir_file_contains(p, "OPTIONS-", "min_blob_size=256"), 1);
        assert_int_equal(tu_dir_file_contains(p, "OPTIONS-", "write_buffer_size=4194304"), 1);
        kv_engine_close(e);
        /* And after reopening with the same options. */
        assert_int_equal(kv_engine_open(p, &o, &e, &err), BS_OK);
        must_get(e, KV_CF_DEFAULT, S("big"), bs_slice_make(big, sizeof(big)));
        assert_true(kv_engine_options(e)->enable_blob_files);
        kv_engine_close(e);
        bs_free(p);
    }
    /* Without blob files nothing goes to a .blob file. */
    char *p = tu_path_join(f->dir, "noblob");
    kv_options o = small_options();
    assert_int_equal(kv_engine_open(p, &o, &f->e, NULL), BS_OK);
    char big[4096];
    memset(big, 'C', sizeof(big));
    put1(f->e, KV_CF_DEFAULT, S("big"), bs_slice_make(big, sizeof(big)), false);
    assert_int_equal(kv_engine_flush(f->e, KV_CF_DEFAULT, false, NULL), BS_OK);
    assert_int_equal(tu_count_files(p, ".blob"), 0);
    /* The default per-level compression is TiKV's. */
    assert_int_equal(tu_dir_file_contains(p, "OPTIONS-",
                                          "compression_per_level=kNoCompression:kNoCompression:"
                                          "kLZ4Compression:kLZ4Compression:kLZ4Compression:"
                                          "kZSTD:kZSTD"),
                     1);
    assert_int_equal(tu_dir_file_contains(p, "OPTIONS-", "enable_blob_files=false"), 1);
    bs_free(p);
}

/* ---- observer ----------------------------------------------------------------------------- */

typedef struct obs_log {
    int n;
    bool sync[8];
    bool batch_null[8];
} obs_log;

static void obs_cb(void *arg, const kv_batch *batch, bool sync)
{
    obs_log *l = arg;
    if (l->n < 8) {
        l->sync[l->n] = sync;
        l->batch_null[l->n] = batch == NULL;
    }
    l->n++;
}

static void test_write_observer(void **state)
{
    fixture *f = *state;
    obs_log l = {0};
    kv_engine_set_write_observer(f->e, obs_cb, &l);
    put1(f->e, KV_CF_DEFAULT, S("a"), S("1"), true);
    put1(f->e, KV_CF_DEFAULT, S("b"), S("2"), false);
    assert_int_equal(kv_engine_sync_wal(f->e, NULL), BS_OK);
    kv_engine_test_ignore_sync(f->e, true);
    put1(f->e, KV_CF_DEFAULT, S("c"), S("3"), true); /* asked for sync, engine drops it */
    kv_engine_test_ignore_sync(f->e, false);
    kv_engine_set_write_observer(f->e, NULL, NULL);
    put1(f->e, KV_CF_DEFAULT, S("d"), S("4"), true); /* not observed */
    assert_int_equal(l.n, 4);
    assert_true(l.sync[0]);
    assert_false(l.sync[1]);
    assert_true(l.sync[2] && l.batch_null[2]);
    assert_false(l.sync[3]);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--try-open") == 0)
        return try_open_main(argv[2]);
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    if (n <= 0) {
        perror("readlink /proc/self/exe");
        return 1;
    }
    self_exe[n] = 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crud_per_cf, setup, teardown),
        cmocka_unit_test(test_batch_contents),
        cmocka_unit_test_setup_teardown(test_batch_atomicity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterator_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_key_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_missing_without_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_dir_same_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_dir_other_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_approximate_size_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_skips_block_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_blob_and_compression, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_observer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
