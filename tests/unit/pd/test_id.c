/* test_id.c -- the id allocator: contiguous blocks, "count 0 means 1", the persisted bound
 * always covers every issued id, and no id is ever issued twice, across restarts and
 * failed writes. Also the cluster id, which is created once and kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pd/pd_int.h"
#include "pd_test.h"

#define T0 INT64_C(1790000000000)

static void test_id_blocks(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    uint64_t id = 0;
    assert_int_equal(pd_alloc_id(pd, 0, &id, NULL), BS_OK); /* count 0 means 1 */
    assert_int_equal(id, 1);
    assert_int_equal(pd_alloc_id(pd, 1, &id, NULL), BS_OK);
    assert_int_equal(id, 2);
    assert_int_equal(pd_alloc_id(pd, 10, &id, NULL), BS_OK); /* [3, 12] */
    assert_int_equal(id, 12);
    assert_int_equal(pd_alloc_id(pd, 5000, &id, NULL), BS_OK); /* larger than one step */
    assert_int_equal(id, 5012);
    assert_true(meta_u64(ms, PD_KEY_ID_END) >= 5012);
    assert_int_equal(pd_alloc_id(pd, 1, &id, NULL), BS_OK);
    assert_int_equal(id, 5013);
    pd_close(pd);
    pd_meta_store_free(ms);
}

static void test_id_never_repeats_across_restarts(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    uint64_t last = 0, seed = 99;
    size_t syncs_before = 0;
    for (int round = 0; round < 50; round++) {
        pd_options o;
        pd_options_init(&o);
        o.id_step = 1 + (uint64_t)round * 37; /* steps of every size */
        pd_core *pd = must_open_opts(ms, &clk, &o);
        for (int i = 0; i < 200; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            uint32_t count = (uint32_t)(seed >> 33) % 20; /* 0 included */
            uint32_t n = count ? count : 1;
            uint64_t id = 0;
            assert_int_equal(pd_alloc_id(pd, count, &id, NULL), BS_OK);
            assert_true(id - n + 1 > last); /* the whole block is new */
            assert_true(meta_u64(ms, PD_KEY_ID_END) >= id);
            last = id;
        }
        pd_close(pd);
    }
    /* Batching: far fewer synced writes than ids. */
    syncs_before = pd_memstore_sync_writes(ms);
    assert_true(syncs_before < 50 * 200);
    pd_meta_store_free(ms);
}

static void test_id_failed_write_issues_nothing(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_options o;
    pd_options_init(&o);
    o.id_step = 10;
    pd_core *pd = must_open_opts(ms, &clk, &o);
    uint64_t id = 0, last = 0;
    assert_int_equal(pd_alloc_id(pd, 10, &last, NULL), BS_OK);
    assert_int_equal(last, 10);
    pd_memstore_set_fail_writes(ms, true);
    bs_err err;
    assert_int_equal(pd_alloc_id(pd, 1, &id, &err), BS_EIO);
    pd_memstore_set_fail_writes(ms, false);
    assert_int_equal(pd_alloc_id(pd, 1, &id, NULL), BS_OK);
    assert_int_equal(id, 11);
    pd_close(pd);
    /* After a restart allocation resumes above the persisted bound. */
    pd = must_open_opts(ms, &clk, &o);
    assert_int_equal(pd_alloc_id(pd, 1, &id, NULL), BS_OK);
    assert_true(id > 11);
    assert_int_equal(id, meta_u64(ms, PD_KEY_ID_END) - o.id_step + 1);
    pd_close(pd);
    pd_meta_store_free(ms);
}

static void test_cluster_id_created_once(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    uint64_t cid = pd_cluster_id(pd);
    assert_true(cid != 0);
    assert_int_equal(cid >> 32, (uint64_t)(T0 / 1000)); /* (unix_seconds << 32) + rand */
    pd_close(pd);
    clk.now_ms += 100000;
    pd = must_open(ms, &clk);
    assert_int_equal(pd_cluster_id(pd), cid);
    pd_close(pd);
    pd_meta_store_free(ms);
    /* A persisted cluster id of the wrong size is corruption, not a new cluster. */
    ms = pd_memstore_new();
    assert_int_equal(
        ms->vt->put(ms, bs_slice_from_str(PD_KEY_CLUSTER_ID), bs_slice_from_str("abc"), true, NULL),
        BS_OK);
    pd_core *bad = NULL;
    bs_err err;
    assert_int_equal(pd_open(NULL, ms, &bad, &err), BS_ECORRUPT);
    assert_null(bad);
    pd_meta_store_free(ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_blocks),
        cmocka_unit_test(test_id_never_repeats_across_restarts),
        cmocka_unit_test(test_id_failed_write_issues_nothing),
        cmocka_unit_test(test_cluster_id_created_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
