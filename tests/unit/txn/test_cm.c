/* test_cm.c -- the concurrency manager: max_ts only rises; a read at a later ts never
 * misses an in-flight write (it is told the key is being written until the apply); a
 * read below the write's ts is not disturbed; key waiters fire on apply; a raw write's ts
 * is above max_ts and above the key's newest version. And the chains' failure rules: a
 * failure hands its code to the PROPOSED and NOOP records behind it, flags a CHOOSING one
 * broken (its command is running and must not propose) instead of unlinking it, and waits
 * for a successor that another thread is handing to the proposer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "txn/harness.h"
#include "txn/txn_int.h"

static int setup(void **state)
{
    *state = th_new();
    return 0;
}

static int teardown(void **state)
{
    th_free(*state);
    return 0;
}

static void test_max_ts_monotonic(void **state)
{
    (void)state;
    txn_cm *cm = txn_cm_new();
    txn_cm_update_max_ts(cm, 10);
    txn_cm_update_max_ts(cm, 5);
    assert_int_equal(txn_cm_max_ts(cm), 10);
    txn_cm_update_max_ts(cm, 11);
    assert_int_equal(txn_cm_max_ts(cm), 11);
    txn_cm_free(cm);
}

static void flag(void *arg)
{
    (*(int *)arg)++;
}

static void test_read_never_misses_inflight_write(void **state)
{
    th *h = *state;
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT, s = BS_BUF_INIT, e = BS_BUF_INIT;
    txn_error err;
    th_res r;
    int woke = 0;
    th_res_init(&r);
    h->delay = true;
    th_key(&k, "w");
    txn_raw_put(h->s, bs_buf_slice(&k), th_s("v"), 0, th_cb, &r);
    assert_int_equal(r.calls, 0);
    /* a read at a later ts than the write is told the key is being written */
    assert_int_equal(txn_raw_get(h->s, bs_buf_slice(&k), UINT64_MAX - 1, &v, &err), BS_EBUSY);
    assert_int_equal(err.kind, TXN_ERR_KEY_BEING_WRITTEN);
    /* a scan over the key at a later ts is refused too */
    txn_pairs out;
    txn_pairs_init(&out);
    txn_scan_req req = {th_key(&s, "a"), th_key(&e, "z"), 0, false, false, UINT64_MAX - 1};
    assert_int_equal(txn_raw_scan(h->s, &req, &out, &err), BS_EBUSY);
    /* a read at ts 1 (before the write's ts) does not see it and is not blocked */
    assert_int_equal(txn_raw_get(h->s, bs_buf_slice(&k), 1, &v, &err), BS_NOTFOUND);
    txn_cm_wait_key(txn_store_cm(h->s), bs_buf_slice(&k), flag, &woke);
    assert_int_equal(woke, 0);
    th_apply(h, 1);
    assert_int_equal(r.code, BS_OK);
    assert_int_equal(woke, 1);
    assert_int_equal(txn_raw_get(h->s, bs_buf_slice(&k), UINT64_MAX - 1, &v, &err), BS_OK);
    assert_buf_eq(&v, "v");
    assert_int_equal(txn_raw_scan(h->s, &req, &out, &err), BS_OK);
    assert_int_equal(out.n, 1);
    /* no key in the table: the waiter runs at once */
    txn_cm_wait_key(txn_store_cm(h->s), bs_buf_slice(&k), flag, &woke);
    assert_int_equal(woke, 2);
    txn_pairs_free(&out);
    th_res_free(&r);
    bs_buf_free(&k);
    bs_buf_free(&v);
    bs_buf_free(&s);
    bs_buf_free(&e);
}

static void test_read_raises_max_ts_and_write_goes_above(void **state)
{
    th *h = *state;
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    txn_error err;
    th_res r;
    th_res_init(&r);
    th_key(&k, "m");
    assert_int_equal(txn_raw_get(h->s, bs_buf_slice(&k), 5000000, &v, &err), BS_NOTFOUND);
    assert_int_equal(txn_cm_max_ts(txn_store_cm(h->s)), 5000000);
    txn_raw_put(h->s, bs_buf_slice(&k), th_s("v"), 0, th_cb, &r);
    assert_int_equal(r.code, BS_OK);
    assert_true(r.ts > 5000000);
    /* the causal source continues above it */
    th_res_free(&r);
    txn_raw_put(h->s, bs_buf_slice(&k), th_s("v2"), 0, th_cb, &r);
    assert_true(r.ts > 5000001);
    th_res_free(&r);
    bs_buf_free(&k);
    bs_buf_free(&v);
}

static void test_write_goes_above_newest_version(void **state)
{
    th *h = *state;
    bs_buf k = BS_BUF_INIT, mk = BS_BUF_INIT, mv = BS_BUF_INIT;
    bs_err err;
    th_res r;
    th_res_init(&r);
    th_key(&k, "n");
    /* a version from the future (e.g. written by a previous leader with a later clock) */
    kv_batch *b = kv_batch_new();
    kv_mvcc_key_append(&mk, bs_buf_slice(&k), 900000000);
    kv_raw_value_encode(&mv, th_s("old"), 0, false);
    kv_batch_put(b, KV_CF_DEFAULT, bs_buf_slice(&mk), bs_buf_slice(&mv));
    assert_int_equal(kv_engine_write(h->e, b, false, &err), BS_OK);
    kv_batch_free(b);
    must_raw_get(h, "n", "old");
    txn_raw_put(h->s, bs_buf_slice(&k), th_s("new"), 0, th_cb, &r);
    assert_int_equal(r.code, BS_OK);
    assert_true(r.ts > 900000000);
    must_raw_get(h, "n", "new");
    th_res_free(&r);
    bs_buf_free(&k);
    bs_buf_free(&mk);
    bs_buf_free(&mv);
}

static void test_pending_blind_writes_order(void **state)
{
    th *h = *state;
    th_res r1, r2;
    bs_buf k = BS_BUF_INIT;
    th_res_init(&r1);
    th_res_init(&r2);
    h->delay = true;
    th_key(&k, "o");
    txn_raw_put(h->s, bs_buf_slice(&k), th_s("1"), 0, th_cb, &r1);
    txn_raw_put(h->s, bs_buf_slice(&k), th_s("2"), 0, th_cb, &r2);
    th_apply(h, 2);
    assert_true(r2.ts > r1.ts); /* above the pending write's ts, not just the engine's */
    must_raw_get(h, "o", "2");
    th_res_free(&r1);
    th_res_free(&r2);
    bs_buf_free(&k);
}

/* ---- chain failures, on the manager alone ------------------------------------------------ */

typedef struct noted {
    int calls;
    bool ok;
    int code;
} noted;

static void note(void *owner, txn_pending *rec, bool ok)
{
    noted *n = owner;
    n->calls++;
    n->ok = ok;
    n->code = rec->fail_code;
}

static txn_write put_of(const char *v)
{
    txn_write w;
    txn_write_init(&w);
    w.kind = TXN_WRITE_PUT;
    bs_buf_append_slice(&w.value, bs_slice_from_str(v));
    return w;
}

/* Links rec (zero-initialised, or used before) behind whatever is pending on key; returns
 * whether a write was pending. */
static bool link_rec(txn_cm *cm, bs_slice key, txn_pending *rec, noted *n)
{
    txn_pending_view v;
    txn_write_deinit(&rec->write);
    memset(rec, 0, sizeof(*rec));
    rec->owner = n;
    rec->notify = note;
    txn_cm_pending_link(cm, key, rec, &v);
    txn_write_deinit(&v.write);
    return v.present;
}

static void test_failure_codes_and_broken_records(void **state)
{
    (void)state;
    txn_cm *cm = txn_cm_new();
    bs_buf k = BS_BUF_INIT;
    txn_pending p = {0}, noop = {0}, prop = {0}, choosing = {0};
    noted np = {0}, nn = {0}, nr = {0}, nc = {0};
    txn_write w = put_of("v");
    th_key(&k, "k");
    assert_false(link_rec(cm, bs_buf_slice(&k), &p, &np));
    txn_cm_pending_propose(cm, &p, 10, &w);
    assert_true(link_rec(cm, bs_buf_slice(&k), &noop, &nn));
    assert_int_equal(txn_cm_pending_settle_noop(cm, &noop), BS_OK); /* waits behind p */
    assert_true(link_rec(cm, bs_buf_slice(&k), &prop, &nr));
    assert_int_equal(txn_cm_pending_propose_begin(cm, &prop, &w, 1, 11), BS_OK);
    txn_cm_pending_propose_end(cm, &prop, 1);
    assert_true(link_rec(cm, bs_buf_slice(&k), &choosing, &nc)); /* its command is running */

    assert_true(txn_cm_pending_fail(cm, &p, BS_ESTATE));
    assert_int_equal(np.calls, 0); /* the caller knows its own */
    assert_true(nn.calls == 1 && !nn.ok && nn.code == BS_ESTATE);
    assert_true(nr.calls == 1 && !nr.ok && nr.code == BS_ESTATE);
    /* The running command's record stays (it owns it), flagged, un-notified. */
    assert_int_equal(nc.calls, 0);
    assert_true(choosing.linked && choosing.broken && choosing.fail_code == BS_ESTATE);
    assert_int_equal(txn_cm_table_size(cm), 1);
    /* Its settle steps refuse, changing nothing... */
    assert_int_equal(txn_cm_pending_propose_begin(cm, &choosing, &w, 1, 12), BS_ESTATE);
    assert_int_equal(txn_cm_pending_settle_noop(cm, &choosing), BS_ESTATE);
    assert_true(choosing.linked && choosing.state == TXN_PENDING_CHOOSING);
    /* ...and the command unlinks it. */
    assert_true(txn_cm_pending_fail(cm, &choosing, BS_ESTATE));
    assert_false(choosing.linked || choosing.broken);
    assert_int_equal(txn_cm_table_size(cm), 0);
    /* done(!ok) is a failure of unknown outcome. */
    assert_false(link_rec(cm, bs_buf_slice(&k), &p, &np));
    txn_cm_pending_propose(cm, &p, 20, &w);
    memset(&nr, 0, sizeof(nr));
    assert_true(link_rec(cm, bs_buf_slice(&k), &prop, &nr));
    assert_int_equal(txn_cm_pending_propose_begin(cm, &prop, &w, 1, 21), BS_OK);
    txn_cm_pending_propose_end(cm, &prop, 1);
    assert_true(txn_cm_pending_done(cm, &p, false));
    assert_true(nr.calls == 1 && nr.code == BS_EPROPOSAL_DROPPED);
    assert_false(txn_cm_pending_done(cm, &prop, false)); /* already gone */
    assert_int_equal(txn_cm_table_size(cm), 0);
    txn_write_deinit(&w);
    txn_write_deinit(&p.write);
    txn_write_deinit(&noop.write);
    txn_write_deinit(&prop.write);
    txn_write_deinit(&choosing.write);
    bs_buf_free(&k);
    txn_cm_free(cm);
}

typedef struct failer {
    txn_cm *cm;
    txn_pending *rec;
    atomic_bool entered, done;
    bool unlinked;
} failer;

static void *fail_main(void *arg)
{
    failer *f = arg;
    atomic_store(&f->entered, true);
    f->unlinked = txn_cm_pending_fail(f->cm, f->rec, BS_ESTATE);
    atomic_store(&f->done, true);
    return NULL;
}

/* A failure must not complete while a successor is between its "not broken" check and the
 * proposer's answer: else the proposer could accept the successor's batch after reporting
 * the failure, and a value computed from a write that never happened would apply. */
static void test_failure_waits_for_successor_in_flight(void **state)
{
    (void)state;
    txn_cm *cm = txn_cm_new();
    bs_buf k = BS_BUF_INIT;
    txn_pending p = {0}, r = {0};
    noted np = {0}, nr = {0};
    txn_write w = put_of("v");
    th_key(&k, "k");
    (void)link_rec(cm, bs_buf_slice(&k), &p, &np);
    txn_cm_pending_propose(cm, &p, 10, &w);
    assert_true(link_rec(cm, bs_buf_slice(&k), &r, &nr));
    assert_int_equal(txn_cm_pending_propose_begin(cm, &r, &w, 1, 11), BS_OK); /* in flight */

    failer f = {cm, &p, false, false, false};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fail_main, &f), 0);
    while (!atomic_load(&f.entered))
        sched_yield();
    /* Give a wrong implementation time to finish; the assertion holds at any speed. */
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    assert_false(atomic_load(&f.done));
    assert_int_equal(nr.calls, 0);
    txn_cm_pending_propose_end(cm, &r, 1); /* the proposer answered */
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(f.unlinked);
    assert_true(nr.calls == 1 && !nr.ok && nr.code == BS_ESTATE);
    assert_int_equal(txn_cm_table_size(cm), 0);

    /* A failure reported on the in-flight thread itself (a synchronous proposer failing an
     * earlier batch) cannot wait for itself: it goes through. */
    memset(&nr, 0, sizeof(nr));
    (void)link_rec(cm, bs_buf_slice(&k), &p, &np);
    txn_cm_pending_propose(cm, &p, 20, &w);
    (void)link_rec(cm, bs_buf_slice(&k), &r, &nr);
    assert_int_equal(txn_cm_pending_propose_begin(cm, &r, &w, 1, 21), BS_OK);
    assert_true(txn_cm_pending_fail(cm, &p, BS_ENOT_LEADER));
    assert_true(nr.calls == 1 && nr.code == BS_ENOT_LEADER);
    txn_cm_pending_propose_end(cm, &r, 1);
    assert_int_equal(txn_cm_table_size(cm), 0);
    txn_write_deinit(&w);
    txn_write_deinit(&p.write);
    txn_write_deinit(&r.write);
    bs_buf_free(&k);
    txn_cm_free(cm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_ts_monotonic),
        cmocka_unit_test_setup_teardown(test_read_never_misses_inflight_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_raises_max_ts_and_write_goes_above, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_goes_above_newest_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_blind_writes_order, setup, teardown),
        cmocka_unit_test(test_failure_codes_and_broken_records),
        cmocka_unit_test(test_failure_waits_for_successor_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
