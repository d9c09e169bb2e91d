/* test_node.c -- srv_node end to end: open on a fresh dir, puts and gets through txn,
 * reopen (data, store id and Regions kept), a second open of a locked dir, kill -9
 * durability of every acknowledged write (a child process writing 64 at a time), TTL
 * expiry with GC removing the expired version for good, group commit counters, and close
 * with writes in flight. Waits are bounded; nothing asserts on time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "node_test.h"

static void must_get(srv_node *n, const char *k, const char *want)
{
    bs_buf out = BS_BUF_INIT;
    int rc = nt_get(n, bs_slice_from_str(k), &out);
    if (rc != BS_OK)
        fprintf(stderr, "get %s: %s\n", k, bs_errname(rc));
    assert_int_equal(rc, BS_OK);
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.ptr, want, out.len);
    bs_buf_free(&out);
}

static void must_not_found(srv_node *n, const char *k)
{
    bs_buf out = BS_BUF_INIT;
    assert_int_equal(nt_get(n, bs_slice_from_str(k), &out), BS_NOTFOUND);
    bs_buf_free(&out);
}

typedef struct ts_put {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int code;
    uint64_t ts;
} ts_put;

static void ts_put_cb(void *arg, const txn_result *res)
{
    ts_put *p = arg;
    pthread_mutex_lock(&p->mu);
    p->code = res->code;
    p->ts = res->ts;
    p->done = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* One put (the node is ready, so no retry is needed); returns its version's ts. */
static uint64_t put_get_ts(srv_node *n, const char *user)
{
    ts_put p;
    memset(&p, 0, sizeof(p));
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    bs_buf k = BS_BUF_INIT;
    txn_raw_put(srv_node_txn(n), nt_key(&k, bs_slice_from_str(user)), bs_slice_from_str("v"),
                0, ts_put_cb, &p);
    pthread_mutex_lock(&p.mu);
    while (!p.done)
        pthread_cond_wait(&p.cv, &p.mu);
    pthread_mutex_unlock(&p.mu);
    assert_int_equal(p.code, BS_OK);
    bs_buf_free(&k);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    return p.ts;
}

/* ---- open, put, reopen ------------------------------------------------------------------- */

static void test_open_put_reopen(void **state)
{
    (void)state;
    char *dir = tu_dir_new("node");
    char *data = tu_path_join(dir, "nested/data"); /* parents are created */
    srv_node *n = nt_must_open(data, NULL);
    assert_true(pd_is_bootstrapped(srv_node_pd(n)));
    assert_int_equal(cluster_store_region_count(srv_node_store(n)), 1);
    uint64_t store_id = cluster_store_id(srv_node_store(n));
    srv_region_info *regs = NULL;
    size_t nregs = 0;
    srv_node_regions(n, &regs, &nregs);
    assert_int_equal(nregs, 1);
    uint64_t region_id = regs[0].region.id;
    assert_true(regs[0].local_leader);
    assert_int_equal(regs[0].region.start_key.len, 0);
    assert_int_equal(regs[0].region.end_key.len, 0);
    srv_region_infos_free(regs, nregs);
    /* The leader-change rule ran: the peer became leader, max_ts was synced from a fresh
     * TSO, and a write takes a timestamp above it. */
    srv_node_stats ns;
    srv_node_get_stats(n, &ns);
    assert_true(ns.role_changes >= 1);
    assert_true(ns.tso_fetches >= 1);
    uint64_t max_ts = txn_cm_max_ts(txn_store_cm(srv_node_txn(n)));
    assert_true(max_ts > 0);
    uint64_t put_ts = put_get_ts(n, "ts-check");
    assert_true(put_ts > max_ts);

    for (int i = 0; i < 50; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "key-%d", i);
        snprintf(v, sizeof v, "value-%d", i);
        assert_int_equal(nt_put_str(n, k, v, 0), BS_OK);
    }
    /* Binary-safe: NUL and CR LF in key and value. */
    static const uint8_t bk[] = {'b', 0, '\r', '\n'}, bv[] = {0, 1, 0, '\n'};
    assert_int_equal(nt_put(n, bs_slice_make(bk, 4), bs_slice_make(bv, 4), 0), BS_OK);
    must_get(n, "key-0", "value-0");
    must_get(n, "key-49", "value-49");
    must_not_found(n, "key-50");
    srv_node_close(n);

    /* Reopen: same store, same Region, the data, and new writes work. */
    n = nt_must_open(data, NULL);
    assert_int_equal(cluster_store_id(srv_node_store(n)), store_id);
    assert_int_equal(cluster_store_region_count(srv_node_store(n)), 1);
    srv_node_regions(n, &regs, &nregs);
    assert_int_equal(nregs, 1);
    assert_int_equal(regs[0].region.id, region_id);
    srv_region_infos_free(regs, nregs);
    for (int i = 0; i < 50; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "key-%d", i);
        snprintf(v, sizeof v, "value-%d", i);
        must_get(n, k, v);
    }
    bs_buf out = BS_BUF_INIT;
    assert_int_equal(nt_get(n, bs_slice_make(bk, 4), &out), BS_OK);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.ptr, bv, 4);
    bs_buf_free(&out);
    assert_int_equal(nt_put_str(n, "after", "reopen", 0), BS_OK);
    must_get(n, "after", "reopen");
    srv_node_close(n);
    bs_free(data);
    tu_dir_remove(dir);
}

static void test_second_open_refused(void **state)
{
    (void)state;
    char *dir = tu_dir_new("node-lock");
    srv_node *a = nt_must_open(dir, NULL);
    srv_node *b = NULL;
    bs_err err;
    int rc = nt_open(dir, NULL, &b, &err);
    assert_int_equal(rc, BS_EBUSY);
    assert_null(b);
    assert_non_null(strstr(err.msg, "in use by another basalt-server"));
    /* The refused open left the first node intact. */
    assert_int_equal(nt_put_str(a, "still", "works", 0), BS_OK);
    must_get(a, "still", "works");
    srv_node_close(a);
    /* Once closed, the directory opens again. */
    a = nt_must_open(dir, NULL);
    must_get(a, "still", "works");
    srv_node_close(a);
    tu_dir_remove(dir);
}

static void test_bad_options(void **state)
{
    (void)state;
    srv_node *n = NULL;
    bs_err err;
    assert_int_equal(srv_node_open(NULL, &n, &err), BS_EINVAL);
    srv_node_options o;
    srv_node_options_init(&o);
    assert_int_equal(srv_node_open(&o, &n, &err), BS_EINVAL); /* no config */
    bs_config cfg;
    bs_config_defaults(&cfg);
    assert_int_equal(bs_config_set(&cfg, "pd.endpoints", "127.0.0.1:2379", &err), BS_OK);
    o.config = &cfg;
    assert_int_equal(srv_node_open(&o, &n, &err), BS_EINVAL);
    assert_non_null(strstr(err.msg, "not supported yet"));
    assert_null(n);
    bs_config_free(&cfg);
}

/* ---- kill -9 durability ------------------------------------------------------------------ */

#define KILL_INFLIGHT 64
#define KILL_AFTER_ACKS 500
#define KILL_MAX_KEYS 200000

static void kill_key(size_t i, bs_buf *out)
{
    char k[32];
    int len = snprintf(k, sizeof k, "kill-%08zu", i);
    bs_buf_set(out, k, (size_t)len);
}

/* A value whose every byte and whose length depend on i, so a torn or mixed-up value
 * cannot pass for a whole one. */
static void kill_value(size_t i, bs_buf *out)
{
    size_t len = 1 + (i * 7919) % 3000;
    bs_buf_reset(out);
    bs_buf_reserve(out, len);
    for (size_t j = 0; j < len; j++)
        out->ptr[j] = (uint8_t)(i * 31 + j * 7 + (j >> 8));
    out->len = len;
}

typedef struct writer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight;
    size_t *acks, n_acks, cap_acks;  /* acknowledged, not yet reported */
    size_t *retry, n_retry, cap_retry;
    int failures;
} writer;

typedef struct writer_req {
    writer *w;
    size_t i;
} writer_req;

static void push(size_t **v, size_t *n, size_t *cap, size_t x)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        *v = bs_realloc(*v, *cap * sizeof(**v));
    }
    (*v)[(*n)++] = x;
}

static void writer_cb(void *arg, const txn_result *res)
{
    writer_req *r = arg;
    writer *w = r->w;
    pthread_mutex_lock(&w->mu);
    if (res->code == BS_OK)
        push(&w->acks, &w->n_acks, &w->cap_acks, r->i);
    else if (nt_retryable(res->code, res->error.kind))
        push(&w->retry, &w->n_retry, &w->cap_retry, r->i);
    else
        w->failures++;
    w->inflight--;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    bs_free(r);
}

/* The child: opens the node on dir and writes kill-N keys, KILL_INFLIGHT at a time,
 * printing "N\n" on stdout (the parent's pipe) for every ACKNOWLEDGED write, only after
 * its callback reported success. Runs until killed. */
static int writer_main(const char *dir)
{
    srv_node *n = NULL;
    bs_err err;
    if (nt_open(dir, NULL, &n, &err) != BS_OK) {
        fprintf(stderr, "writer: open: %s\n", err.msg);
        return 2;
    }
    writer w;
    memset(&w, 0, sizeof(w));
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    size_t next = 0;
    size_t *report = NULL, n_report = 0, cap_report = 0;
    bs_buf ku = BS_BUF_INIT, k = BS_BUF_INIT, v = BS_BUF_INIT;
    for (;;) {
        pthread_mutex_lock(&w.mu);
        while (w.inflight >= KILL_INFLIGHT && w.n_acks == 0)
            pthread_cond_wait(&w.cv, &w.mu);
        n_report = 0;
        for (size_t j = 0; j < w.n_acks; j++)
            push(&report, &n_report, &cap_report, w.acks[j]);
        w.n_acks = 0;
        size_t *retry = w.retry;
        size_t n_retry = w.n_retry;
        w.retry = NULL;
        w.n_retry = w.cap_retry = 0;
        int failures = w.failures;
        pthread_mutex_unlock(&w.mu);
        if (failures) {
            fprintf(stderr, "writer: %d writes failed for good\n", failures);
            return 3;
        }
        for (size_t j = 0; j < n_report; j++) {
            char line[32];
            int len = snprintf(line, sizeof line, "%zu\n", report[j]);
            if (write(1, line, (size_t)len) != len)
                return 0; /* the parent is gone */
        }
        /* Retries first, then new keys, up to KILL_INFLIGHT in flight. */
        size_t r_i = 0;
        for (;;) {
            pthread_mutex_lock(&w.mu);
            bool room = w.inflight < KILL_INFLIGHT;
            if (room)
                w.inflight++;
            pthread_mutex_unlock(&w.mu);
            if (!room)
                break;
            size_t i;
            if (r_i < n_retry) {
                i = retry[r_i++];
            } else if (next < KILL_MAX_KEYS) {
                i = next++;
            } else {
                pthread_mutex_lock(&w.mu);
                w.inflight--;
                pthread_mutex_unlock(&w.mu);
                break;
            }
            writer_req *req = bs_calloc(1, sizeof(*req));
            req->w = &w;
            req->i = i;
            kill_key(i, &ku);
            kill_value(i, &v);
            txn_raw_put(srv_node_txn(n), nt_key(&k, bs_buf_slice(&ku)), bs_buf_slice(&v), 0,
                        writer_cb, req);
        }
        /* Retries not issued this time go back to the queue. */
        pthread_mutex_lock(&w.mu);
        for (; r_i < n_retry; r_i++)
            push(&w.retry, &w.n_retry, &w.cap_retry, retry[r_i]);
        pthread_mutex_unlock(&w.mu);
        bs_free(retry);
        if (n_retry)
            nt_sleep_ms(1);
    }
}

/* Reads "N\n" lines from fd into acked[] (a bitmap of KILL_MAX_KEYS) until want lines were
 * read (want 0: until EOF) or timeout_ms passed. Returns the number of lines read. */
static size_t read_acks(int fd, bool *acked, size_t want, int timeout_ms, char *part,
                        size_t *plen)
{
    size_t got = 0;
    int64_t deadline = bs_clock_mono_ms() + timeout_ms;
    while (want == 0 || got < want) {
        int64_t left = deadline - bs_clock_mono_ms();
        if (left <= 0)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        int rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            break;
        char buf[4096];
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* EOF: the child is gone */
        for (ssize_t j = 0; j < r; j++) {
            if (buf[j] != '\n') {
                if (*plen < 31)
                    part[(*plen)++] = buf[j];
                continue;
            }
            part[*plen] = '\0';
            char *end;
            unsigned long long x = strtoull(part, &end, 10);
            assert_true(*plen > 0 && *end == '\0' && x < KILL_MAX_KEYS);
            acked[x] = true;
            got++;
            *plen = 0;
        }
    }
    return got;
}

static void test_kill9_durability(void **state)
{
    (void)state;
    char *dir = tu_dir_new("node-kill");
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Exec a fresh copy of this binary: the parent may already run RocksDB's threads,
         * which a forked child would not have. */
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/proc/self/exe", "test_node", "--writer", dir, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    bool *acked = bs_calloc(KILL_MAX_KEYS, sizeof(bool));
    char part[32];
    size_t plen = 0;
    size_t got = read_acks(fds[0], acked, KILL_AFTER_ACKS, 120000, part, &plen);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* Acknowledgements the child reported before it died count too. */
    got += read_acks(fds[0], acked, 0, 10000, part, &plen);
    close(fds[0]);
    if (got < KILL_AFTER_ACKS)
        fprintf(stderr, "writer reported only %zu acks (status %d)\n", got, status);
    assert_true(got >= KILL_AFTER_ACKS);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    srv_node *n = nt_must_open(dir, NULL);
    bs_buf ku = BS_BUF_INIT, want = BS_BUF_INIT, out = BS_BUF_INIT;
    size_t n_acked = 0;
    for (size_t i = 0; i < KILL_MAX_KEYS; i++) {
        if (!acked[i])
            continue;
        n_acked++;
        kill_key(i, &ku);
        kill_value(i, &want);
        int rc = nt_get(n, bs_buf_slice(&ku), &out);
        if (rc != BS_OK)
            fprintf(stderr, "acknowledged key %zu lost (%s)\n", i, bs_errname(rc));
        assert_int_equal(rc, BS_OK);
        assert_int_equal(out.len, want.len);
        assert_memory_equal(out.ptr, want.ptr, want.len);
    }
    assert_int_equal(n_acked, got);
    /* Every key present, acknowledged or not, holds its whole value: nothing torn. */
    bs_buf lo = BS_BUF_INIT, hi = BS_BUF_INIT;
    nt_key(&lo, bs_slice_from_str("kill-"));
    nt_key(&hi, bs_slice_from_str("kill."));
    txn_scan_req req;
    memset(&req, 0, sizeof(req));
    req.start = bs_buf_slice(&lo);
    req.end = bs_buf_slice(&hi);
    txn_pairs pairs;
    txn_pairs_init(&pairs);
    txn_error e;
    txn_error_clear(&e);
    assert_int_equal(txn_raw_scan(srv_node_txn(n), &req, &pairs, &e), BS_OK);
    assert_true(pairs.n >= n_acked);
    for (size_t j = 0; j < pairs.n; j++) {
        bs_slice key = bs_buf_slice(&pairs.v[j].key);
        assert_true(key.len == KV_PREFIX_LEN + 13);
        char num[16];
        memcpy(num, key.ptr + KV_PREFIX_LEN + 5, 8);
        num[8] = '\0';
        size_t i = (size_t)strtoull(num, NULL, 10);
        kill_value(i, &want);
        assert_int_equal(pairs.v[j].value.len, want.len);
        assert_memory_equal(pairs.v[j].value.ptr, want.ptr, want.len);
    }
    fprintf(stderr, "kill -9: %zu acknowledged, %zu present after restart\n", n_acked,
            pairs.n);
    txn_pairs_free(&pairs);
    bs_buf_free(&lo);
    bs_buf_free(&hi);
    bs_buf_free(&ku);
    bs_buf_free(&want);
    bs_buf_free(&out);
    bs_free(acked);
    srv_node_close(n);
    tu_dir_remove(dir);
}

/* ---- TTL and GC ---------------------------------------------------------------------------- */

/* [gc] run-interval: PD's tick moves the safe point at every GC tick, but a sweep (which
 * reads every key) starts only when the last one started run-interval ago; a trigger still
 * forces one, and run-interval 0 sweeps at every tick that moved the safe point. */
static void test_gc_run_interval(void **state)
{
    (void)state;
    char *dir = tu_dir_new("node-gc-interval");
    const char *hour[] = {"gc.life-time", "1s", "gc.run-interval", "1h", NULL};
    srv_node *n = NULL;
    bs_err err;
    assert_int_equal(nt_open_ticking(dir, hour, 20, &n, &err), BS_OK);
    assert_true(nt_wait_sweeps(n, 0, 30000)); /* the first tick sweeps */
    uint64_t sweeps = nt_gc_sweeps(n);
    srv_node_stats st;
    srv_node_get_stats(n, &st);
    assert_true(nt_wait_safe_point(n, st.gc_safe_point, 30000));
    nt_sleep_ms(300); /* fifteen more ticks */
    assert_int_equal(nt_gc_sweeps(n), sweeps);
    srv_node_trigger_gc(n);
    assert_true(nt_wait_sweeps(n, sweeps, 30000));
    srv_node_close(n);

    const char *zero[] = {"gc.life-time", "1s", "gc.run-interval", "0s", NULL};
    assert_int_equal(nt_open_ticking(dir, zero, 20, &n, &err), BS_OK);
    assert_true(nt_wait_sweeps(n, 2, 30000));
    srv_node_close(n);
    tu_dir_remove(dir);
}

/* Versions of user key k in CF default (every MVCC version, live or not). */
static size_t versions_of(srv_node *n, const char *k)
{
    bs_buf key = BS_BUF_INIT, enc = BS_BUF_INIT;
    nt_key(&key, bs_slice_from_str(k));
    kv_region_key_append(&enc, bs_buf_slice(&key)); /* MCE(key): the versions' prefix */
    kv_iter *it = kv_iter_new(srv_node_engine(n), NULL, KV_CF_DEFAULT, BS_SLICE_NULL,
                              BS_SLICE_NULL);
    size_t cnt = 0;
    for (kv_iter_seek(it, bs_buf_slice(&enc));
         kv_iter_valid(it) && bs_slice_starts_with(kv_iter_key(it), bs_buf_slice(&enc));
         kv_iter_next(it))
        cnt++;
    assert_int_equal(kv_iter_status(it, NULL), BS_OK);
    kv_iter_free(it);
    bs_buf_free(&key);
    bs_buf_free(&enc);
    return cnt;
}

static void test_ttl_and_gc(void **state)
{
    (void)state;
    char *dir = tu_dir_new("node-ttl");
    srv_node *n = nt_must_open(dir, "1s");
    assert_int_equal(nt_put_str(n, "ttl", "short-lived", 1000), BS_OK);
    assert_int_equal(nt_put_str(n, "keep", "forever", 0), BS_OK);
    assert_int_equal(nt_put_str(n, "multi", "v1", 0), BS_OK);
    assert_int_equal(nt_put_str(n, "multi", "v2", 0), BS_OK);
    must_get(n, "ttl", "short-lived");
    bs_buf k = BS_BUF_INIT;
    uint64_t ttl = 0;
    txn_error e;
    txn_error_clear(&e);
    assert_int_equal(txn_raw_get_key_ttl(srv_node_txn(n), nt_key(&k, bs_slice_from_str("ttl")),
                                         0, &ttl, &e),
                     BS_OK);
    assert_true(ttl > 0 && ttl <= 1000);
    assert_int_equal(versions_of(n, "ttl"), 1);
    assert_int_equal(versions_of(n, "multi"), 2);

    /* Move the wall clock past the expiry (and past [gc] life-time, so PD's safe point
     * moves above every version written so far). */
    bs_clock_set_wall_offset(5000);
    must_not_found(n, "ttl");
    assert_int_equal(txn_raw_get_key_ttl(srv_node_txn(n), nt_key(&k, bs_slice_from_str("ttl")),
                                         0, &ttl, &e),
                     BS_NOTFOUND);
    must_get(n, "keep", "forever");

    /* GC: the expired key loses every version, the overwritten one its older version. */
    uint64_t sweeps = nt_gc_sweeps(n);
    srv_node_trigger_gc(n);
    assert_true(nt_wait_sweeps(n, sweeps, 30000));
    srv_node_stats st;
    srv_node_get_stats(n, &st);
    fprintf(stderr, "gc: safe_point=%llu sweeps=%llu deletes=%llu errors=%llu\n",
            (unsigned long long)st.gc_safe_point, (unsigned long long)st.gc_sweeps,
            (unsigned long long)st.gc_deletes, (unsigned long long)st.gc_errors);
    assert_true(st.gc_safe_point > 0);
    assert_true(st.gc_deletes >= 2);
    assert_int_equal(st.gc_errors, 0);
    assert_int_equal(versions_of(n, "ttl"), 0);
    assert_int_equal(versions_of(n, "multi"), 1);
    assert_int_equal(versions_of(n, "keep"), 1);
    must_get(n, "multi", "v2");

    /* Back to the real time: the expired value is gone for good, not resurrected. */
    bs_clock_set_wall_offset(0);
    must_not_found(n, "ttl");
    must_get(n, "keep", "forever");
    /* And across a restart. */
    srv_node_close(n);
    n = nt_must_open(dir, "1s");
    must_not_found(n, "ttl");
    must_get(n, "multi", "v2");
    assert_int_equal(versions_of(n, "ttl"), 0);
    bs_buf_free(&k);
    srv_node_close(n);
    tu_dir_remove(dir);
}

/* GC over several Regions: a pass's deletes are split by Region, one proposal each. The
 * Regions come from real splits (a tiny region-split-size). */
static bool has_regions(void *arg)
{
    srv_node *n = arg;
    return cluster_store_region_count(srv_node_store(n)) >= 3;
}

static void test_gc_across_regions(void **state)
{
    (void)state;
    char *dir = tu_dir_new("node-gc-regions");
    const char *cfg[] = {"gc.life-time", "1s",
                         "coprocessor.region-split-size", "8KiB",
                         "coprocessor.region-max-size", "12KiB",
                         "raftstore.region-split-check-diff", "2KiB",
                         "raftstore.split-region-check-tick-interval", "100ms",
                         NULL};
    srv_node *n = NULL;
    bs_err err;
    assert_int_equal(nt_open_cfg(dir, cfg, &n, &err), BS_OK);
    char val[256];
    memset(val, 'x', sizeof val - 1);
    val[sizeof val - 1] = '\0';
    /* 400 expiring keys of ~300 bytes: ~120 KiB, far past the split size. */
    for (int i = 0; i < 400; i++) {
        char k[32];
        snprintf(k, sizeof k, "exp-%04d", i);
        assert_int_equal(nt_put_str(n, k, val, 1000), BS_OK);
    }
    /* Splits run on the split-check tick; wait (bounded) for them. */
    if (!nt_wait(has_regions, n, 60000)) {
        fprintf(stderr, "no split happened: %zu Region(s); skipping the multi-Region part\n",
                cluster_store_region_count(srv_node_store(n)));
    }
    size_t regions = cluster_store_region_count(srv_node_store(n));
    /* The Region walk covers the key space without gaps. */
    srv_region_info *regs = NULL;
    size_t nregs = 0;
    srv_node_regions(n, &regs, &nregs);
    assert_int_equal(nregs, regions);
    assert_int_equal(regs[0].region.start_key.len, 0);
    assert_int_equal(regs[nregs - 1].region.end_key.len, 0);
    for (size_t i = 1; i < nregs; i++)
        assert_true(bs_slice_eq(bs_buf_slice(&regs[i - 1].region.end_key),
                                bs_buf_slice(&regs[i].region.start_key)));
    srv_region_infos_free(regs, nregs);
    assert_int_equal(srv_node_wait_ready(n, 30000, &err), BS_OK);

    bs_clock_set_wall_offset(5000);
    srv_node_stats st;
    srv_node_get_stats(n, &st);
    uint64_t props = st.gc_proposals;
    /* A split racing a GC proposal fails it (EpochNotMatch) and the next sweep redoes it;
     * a wrong split of the batch would fail every time (KeyNotInRegion). So: sweep until
     * nothing expired is left, a bounded number of times. */
    size_t left = 1;
    for (int sweep = 0; sweep < 5 && left > 0; sweep++) {
        uint64_t sweeps = nt_gc_sweeps(n);
        srv_node_trigger_gc(n);
        assert_true(nt_wait_sweeps(n, sweeps, 60000));
        left = 0;
        for (int i = 0; i < 400; i++) {
            char k[32];
            snprintf(k, sizeof k, "exp-%04d", i);
            left += versions_of(n, k);
        }
    }
    srv_node_get_stats(n, &st);
    fprintf(stderr, "gc over %zu Regions: %llu proposals, %llu deletes, %llu errors\n", regions,
            (unsigned long long)(st.gc_proposals - props), (unsigned long long)st.gc_deletes,
            (unsigned long long)st.gc_errors);
    assert_int_equal(left, 0);
    assert_true(st.gc_deletes >= 400);
    /* Every Region holding expired keys got its own proposal. */
    if (regions >= 3)
        assert_true(st.gc_proposals - props >= 2);
    bs_clock_set_wall_offset(0);
    srv_node_close(n);
    tu_dir_remove(dir);
}

/* ---- group commit, close with writes in flight ------------------------------------------- */

static void many_kv(size_t i, bs_buf *key, bs_buf *value)
{
    char b[32];
    int len = snprintf(b, sizeof b, "many-%zu", i);
    bs_buf_set(key, b, (size_t)len);
    bs_buf_set(value, "v", 1);
}


/* Group commit. The 256 puts are issued from the completion callback of a first put, that
 * is on the raftstore thread between two rounds, so all of them are queued before the next
 * round starts however slow issuing is (sanitizers) or fast an fsync is: the next round
 * must cover them with one synced write, whatever the machine. */
#define GROUP_PUTS 256

typedef struct group {
    srv_node *n;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, ok, trigger_code;
} group;

static void group_cb(void *arg, const txn_result *res)
{
    group *g = arg;
    pthread_mutex_lock(&g->mu);
    g->done++;
    g->ok += res->code == BS_OK;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void group_fire(void *arg, const txn_result *res)
{
    group *g = arg;
    bs_buf k = BS_BUF_INIT;
    g->trigger_code = res->code;
    for (int i = 0; i < GROUP_PUTS; i++) {
        char u[32];
        snprintf(u, sizeof u, "group-%d", i);
        txn_raw_put(srv_node_txn(g->n), nt_key(&k, bs_slice_from_str(u)),
                    bs_slice_from_str("some value of the group"), 0, group_cb, g);
    }
    bs_buf_free(&k);
}

static void test_group_commit(void **state)
{
    (void)state;
    char *dir = tu_dir_new("node-gc");
    srv_node *n = nt_must_open(dir, NULL);
    group g;
    memset(&g, 0, sizeof(g));
    g.n = n;
    g.trigger_code = -1;
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    cluster_store_stats before, after;
    cluster_store_get_stats(srv_node_store(n), &before);
    bs_buf k = BS_BUF_INIT;
    txn_raw_put(srv_node_txn(n), nt_key(&k, bs_slice_from_str("group-trigger")),
                bs_slice_from_str("go"), 0, group_fire, &g);
    pthread_mutex_lock(&g.mu);
    while (g.done < GROUP_PUTS)
        pthread_cond_wait(&g.cv, &g.mu); /* every put completes, applied or failed */
    pthread_mutex_unlock(&g.mu);
    assert_int_equal(g.trigger_code, BS_OK);
    assert_int_equal(g.ok, GROUP_PUTS);
    cluster_store_get_stats(srv_node_store(n), &after);
    uint64_t fsyncs = after.fsyncs - before.fsyncs;
    uint64_t acked = after.proposals_acked - before.proposals_acked;
    fprintf(stderr, "group commit: %llu acked with %llu fsyncs\n", (unsigned long long)acked,
            (unsigned long long)fsyncs);
    assert_true(acked >= GROUP_PUTS + 1);
    assert_true(fsyncs <= GROUP_PUTS / 8);
    assert_true(after.proposals_synced >= after.proposals_acked);

    /* Puts issued from an ordinary thread, many in flight, are acknowledged too. */
    nt_batch b;
    assert_int_equal(nt_put_many(n, GROUP_PUTS, many_kv, &b), GROUP_PUTS);
    cluster_store_get_stats(srv_node_store(n), &after);
    assert_true(after.proposals_synced >= after.proposals_acked);
    bs_buf out = BS_BUF_INIT;
    assert_int_equal(nt_get(n, bs_slice_from_str("group-255"), &out), BS_OK);
    assert_int_equal(nt_get(n, bs_slice_from_str("many-255"), &out), BS_OK);
    bs_buf_free(&out);
    bs_buf_free(&k);
    srv_node_close(n);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
    tu_dir_remove(dir);
}

typedef struct close_count {
    _Atomic int calls;
} close_count;

static void close_cb(void *arg, const txn_result *res)
{
    (void)res;
    close_count *c = arg;
    c->calls++;
}

static void test_close_with_writes_in_flight(void **state)
{
    (void)state;
    char *dir = tu_dir_new("node-close");
    srv_node *n = nt_must_open(dir, NULL);
    close_count c = {0};
    bs_buf k = BS_BUF_INIT;
    for (int i = 0; i < 256; i++) {
        char u[32];
        snprintf(u, sizeof u, "inflight-%d", i);
        txn_raw_put(srv_node_txn(n), nt_key(&k, bs_slice_from_str(u)), bs_slice_from_str("v"),
                    0, close_cb, &c);
    }
    srv_node_close(n); /* every callback runs before close returns */
    assert_int_equal(c.calls, 256);
    bs_buf_free(&k);
    /* And the dir reopens cleanly. */
    n = nt_must_open(dir, NULL);
    assert_int_equal(nt_put_str(n, "x", "y", 0), BS_OK);
    srv_node_close(n);
    tu_dir_remove(dir);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--writer") == 0)
        return writer_main(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_put_reopen),
        cmocka_unit_test(test_second_open_refused),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_ttl_and_gc),
        cmocka_unit_test(test_gc_across_regions),
        cmocka_unit_test(test_gc_run_interval),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_close_with_writes_in_flight),
        cmocka_unit_test(test_kill9_durability),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
