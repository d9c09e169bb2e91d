/* test_kvstore.c -- PD over its real RocksDB-backed meta store: state survives a restart,
 * timestamps and ids never go back across it, and a directory in use is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd/pd.h"
#include "lib/tmpdir.h"
#include "pd_test.h"

static pd_meta_store *must_kvstore(const char *dir)
{
    pd_meta_store *ms = NULL;
    bs_err err;
    int rc = pd_kvstore_open(dir, &ms, &err);
    if (rc != BS_OK)
        fail_msg("pd_kvstore_open: %s", err.msg);
    return ms;
}

static void test_state_survives_restart(void **state)
{
    (void)state;
    char *dir = tu_dir_new("pd");
    fake_clock clk = {.now_ms = 1700000000000};
    bs_err err;
    uint64_t ts1, id1, cluster;

    pd_meta_store *ms = must_kvstore(dir);
    pd_core *pd = must_open(ms, &clk);
    cluster = pd_cluster_id(pd);
    must_bootstrap(pd, 1, 2, 3);
    assert_int_equal(pd_tso_alloc(pd, 10, &ts1, &err), BS_OK);
    assert_int_equal(pd_alloc_id(pd, 5, &id1, &err), BS_OK);
    pd_close(pd);
    pd_meta_store_free(ms);

    /* Restart with the clock moved back a minute: nothing may go backwards. */
    clk.now_ms -= 60000;
    ms = must_kvstore(dir);
    pd = must_open(ms, &clk);
    assert_int_equal(pd_cluster_id(pd), cluster);
    assert_true(pd_is_bootstrapped(pd));
    uint64_t ts2, id2;
    assert_int_equal(pd_tso_alloc(pd, 1, &ts2, &err), BS_OK);
    assert_true(ts2 > ts1);
    assert_int_equal(pd_alloc_id(pd, 1, &id2, &err), BS_OK);
    assert_true(id2 > id1);
    pd_close(pd);
    pd_meta_store_free(ms);
    tu_dir_remove(dir);
}

static void test_directory_in_use_is_refused(void **state)
{
    (void)state;
    char *dir = tu_dir_new("pd");
    pd_meta_store *ms = must_kvstore(dir), *second = NULL;
    bs_err err;
    assert_int_equal(pd_kvstore_open(dir, &second, &err), BS_EBUSY);
    assert_null(second);
    assert_non_null(strstr(err.msg, "in use"));
    pd_meta_store_free(ms);
    tu_dir_remove(dir);
}

static int counter(void *arg, bs_slice k, bs_slice v, bs_err *e)
{
    (void)k;
    (void)v;
    (void)e;
    (*(size_t *)arg)++;
    return BS_OK;
}

static void test_scan_prefix_is_bounded(void **state)
{
    (void)state;
    char *dir = tu_dir_new("pd");
    pd_meta_store *ms = must_kvstore(dir);
    bs_err err;
    const char *keys[] = {"a/1", "a/2", "a\xff", "b/1"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(ms->vt->put(ms, bs_slice_from_str(keys[i]), bs_slice_from_str("v"),
                                     false, &err),
                         BS_OK);
    size_t count = 0;
    assert_int_equal(ms->vt->scan_prefix(ms, bs_slice_from_str("a/"), counter, &count, &err), BS_OK);
    assert_int_equal(count, 2);
    pd_meta_store_free(ms);
    tu_dir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_survives_restart),
        cmocka_unit_test(test_directory_in_use_is_refused),
        cmocka_unit_test(test_scan_prefix_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
