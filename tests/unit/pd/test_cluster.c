/* test_cluster.c -- bootstrap happens once and survives restarts; calls before it answer
 * NOT_BOOTSTRAPPED; store metadata (PutStore, GetStore, GetAllStores, heartbeats, state
 * changes) follows PD's rules and is persisted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/assert.h"
#include "pd/pd_int.h"
#include "pd_test.h"

#define T0 INT64_C(1790000000000)

static pd_store store_with(uint64_t id, const char *addr)
{
    pd_store s;
    memset(&s, 0, sizeof(s));
    s.id = id;
    snprintf(s.address, sizeof(s.address), "%s", addr);
    snprintf(s.version, sizeof(s.version), "8.5.0");
    s.start_timestamp = T0 / 1000;
    return s;
}

static void test_bootstrap_once(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    assert_false(pd_is_bootstrapped(pd));

    /* Before bootstrap every cluster query says so. */
    pd_region_info ri;
    pd_region_info_init(&ri);
    pd_store st;
    pd_error_type et = PD_ERR_OK;
    assert_int_equal(pd_get_region(pd, bs_slice_from_str("a"), &ri, NULL), BS_ESTATE);
    assert_int_equal(pd_error_type_of(BS_ESTATE), PD_ERR_NOT_BOOTSTRAPPED);
    assert_int_equal(pd_get_store(pd, 1, &st, &et, NULL), BS_ESTATE);
    assert_int_equal(et, PD_ERR_NOT_BOOTSTRAPPED);
    pd_store s1 = store_with(1, "127.0.0.1:20160");
    assert_int_equal(pd_put_store(pd, &s1, &et, NULL), BS_ESTATE);
    assert_int_equal(et, PD_ERR_NOT_BOOTSTRAPPED);
    uint32_t maxp = 0;
    assert_int_equal(pd_get_cluster_config(pd, &maxp, NULL), BS_ESTATE);

    /* Malformed bootstrap requests are refused and leave the cluster unbootstrapped. */
    pd_region r;
    pd_region_init(&r);
    make_region(&r, 2, "a", "", 1, 1, 3, 1); /* non-empty start key */
    assert_int_equal(pd_bootstrap(pd, &s1, &r, &et, NULL), BS_EINVAL);
    assert_int_equal(et, PD_ERR_UNKNOWN);
    make_region(&r, 2, "", "", 1, 1, 3, 2); /* two peers */
    assert_int_equal(pd_bootstrap(pd, &s1, &r, NULL, NULL), BS_EINVAL);
    make_region(&r, 2, "", "", 1, 1, 3, 1);
    r.peers[0].store_id = 9; /* peer on another store */
    assert_int_equal(pd_bootstrap(pd, &s1, &r, NULL, NULL), BS_EINVAL);
    pd_store s0 = store_with(0, "x:1");
    r.peers[0].store_id = 1;
    assert_int_equal(pd_bootstrap(pd, &s0, &r, NULL, NULL), BS_EINVAL);
    /* A failed write leaves nothing behind. */
    pd_memstore_set_fail_writes(ms, true);
    assert_int_equal(pd_bootstrap(pd, &s1, &r, &et, NULL), BS_EIO);
    pd_memstore_set_fail_writes(ms, false);
    assert_false(pd_is_bootstrapped(pd));

    assert_int_equal(pd_bootstrap(pd, &s1, &r, &et, NULL), BS_OK);
    assert_int_equal(et, PD_ERR_OK);
    assert_true(pd_is_bootstrapped(pd));
    bs_err err;
    assert_int_equal(pd_bootstrap(pd, &s1, &r, &et, &err), BS_EEXIST);
    assert_int_equal(et, PD_ERR_ALREADY_BOOTSTRAPPED);
    assert_int_equal(pd_error_type_of(BS_EEXIST), PD_ERR_ALREADY_BOOTSTRAPPED);
    assert_string_equal(pd_error_type_name(et), "ALREADY_BOOTSTRAPPED");

    /* The first region covers every key and is led by its only peer. */
    assert_int_equal(pd_get_region(pd, bs_slice_from_str("anything"), &ri, NULL), BS_OK);
    assert_int_equal(ri.region.id, 2);
    assert_true(ri.has_leader);
    assert_int_equal(ri.leader.id, 3);
    assert_int_equal(pd_get_cluster_config(pd, &maxp, NULL), BS_OK);
    assert_int_equal(maxp, 3);
    pd_close(pd);

    /* After a restart: still bootstrapped, same store and region, and still only once. */
    pd = must_open(ms, &clk);
    assert_true(pd_is_bootstrapped(pd));
    assert_int_equal(pd_bootstrap(pd, &s1, &r, &et, NULL), BS_EEXIST);
    assert_int_equal(et, PD_ERR_ALREADY_BOOTSTRAPPED);
    assert_int_equal(pd_get_store(pd, 1, &st, &et, NULL), BS_OK);
    assert_string_equal(st.address, "127.0.0.1:20160");
    assert_int_equal(st.state, PD_STORE_UP);
    assert_int_equal(pd_get_region(pd, BS_SLICE_NULL, &ri, NULL), BS_OK);
    assert_int_equal(ri.region.id, 2);
    assert_int_equal(ri.region.n_peers, 1);
    assert_int_equal(ri.region.epoch.version, 1);
    pd_region_info_deinit(&ri);
    pd_region_deinit(&r);
    pd_close(pd);
    pd_meta_store_free(ms);
}

static void test_stores(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    must_bootstrap(pd, 1, 2, 3);
    pd_error_type et = PD_ERR_OK;
    pd_store st;

    /* Unknown store: UNKNOWN with PD's message. */
    bs_err err;
    assert_int_equal(pd_get_store(pd, 42, &st, &et, &err), BS_NOTFOUND);
    assert_int_equal(et, PD_ERR_UNKNOWN);
    assert_string_equal(err.msg, "invalid store ID 42, not found");

    /* PutStore of new stores; an address already used by another live store is refused. */
    pd_store s4 = store_with(4, "10.0.0.4:20160"), s5 = store_with(5, "10.0.0.5:20160");
    assert_int_equal(pd_put_store(pd, &s4, &et, NULL), BS_OK);
    assert_int_equal(pd_put_store(pd, &s5, &et, NULL), BS_OK);
    pd_store dup = store_with(6, "10.0.0.4:20160");
    assert_int_equal(pd_put_store(pd, &dup, &et, NULL), BS_EEXIST);
    assert_int_equal(et, PD_ERR_UNKNOWN);
    pd_store noaddr = store_with(7, "");
    assert_int_equal(pd_put_store(pd, &noaddr, &et, NULL), BS_EINVAL);

    /* Heartbeats record stats and the time; unknown stores are refused. */
    clk.now_ms += 10000;
    pd_store_stats stats;
    memset(&stats, 0, sizeof(stats));
    stats.capacity = 1000;
    stats.available = 600;
    stats.used_size = 400;
    stats.region_count = 7;
    stats.is_busy = true;
    pd_node_state ns = PD_NODE_PREPARING;
    assert_int_equal(pd_store_heartbeat(pd, 4, &stats, &ns, &et, NULL), BS_OK);
    assert_int_equal(ns, PD_NODE_SERVING);
    assert_int_equal(pd_get_store(pd, 4, &st, &et, NULL), BS_OK);
    assert_int_equal(st.stats.region_count, 7);
    assert_true(st.stats.is_busy);
    assert_int_equal(st.last_heartbeat, (T0 + 10000) * 1000000);
    assert_int_equal(pd_store_heartbeat(pd, 99, &stats, NULL, &et, NULL), BS_NOTFOUND);

    /* A known store re-registering keeps its state and takes the new address. */
    assert_int_equal(pd_set_store_state(pd, 5, PD_STORE_OFFLINE, NULL), BS_OK);
    snprintf(s5.address, sizeof(s5.address), "10.0.0.55:20160");
    assert_int_equal(pd_put_store(pd, &s5, &et, NULL), BS_OK);
    assert_int_equal(pd_get_store(pd, 5, &st, &et, NULL), BS_OK);
    assert_int_equal(st.state, PD_STORE_OFFLINE);
    assert_int_equal(st.node_state, PD_NODE_REMOVING);
    assert_string_equal(st.address, "10.0.0.55:20160");

    /* Tombstone: only for a store without peers; then it never comes back. */
    assert_int_equal(pd_set_store_state(pd, 1, PD_STORE_TOMBSTONE, NULL), BS_EINVAL);
    assert_int_equal(pd_set_store_state(pd, 5, PD_STORE_TOMBSTONE, NULL), BS_OK);
    assert_int_equal(pd_set_store_state(pd, 5, PD_STORE_UP, NULL), BS_EINVAL);
    assert_int_equal(pd_put_store(pd, &s5, &et, NULL), BS_ESTATE);
    assert_int_equal(et, PD_ERR_STORE_TOMBSTONE);
    assert_int_equal(pd_store_heartbeat(pd, 5, &stats, NULL, &et, NULL), BS_ESTATE);
    assert_int_equal(et, PD_ERR_STORE_TOMBSTONE);
    /* Its address is free again for a new store. */
    pd_store s8 = store_with(8, "10.0.0.55:20160");
    assert_int_equal(pd_put_store(pd, &s8, &et, NULL), BS_OK);

    pd_store *all = NULL;
    size_t n = 0;
    assert_int_equal(pd_get_all_stores(pd, false, &all, &n, &et, NULL), BS_OK);
    assert_int_equal(n, 4);
    assert_int_equal(all[0].id, 1);
    assert_int_equal(all[3].id, 8);
    bs_free(all);
    assert_int_equal(pd_get_all_stores(pd, true, &all, &n, &et, NULL), BS_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(all[i].state, PD_STORE_TOMBSTONE);
    bs_free(all);
    pd_close(pd);

    /* Metadata is persisted; stats are soft state. */
    pd = must_open(ms, &clk);
    assert_int_equal(pd_get_all_stores(pd, false, &all, &n, &et, NULL), BS_OK);
    assert_int_equal(n, 4);
    assert_int_equal(all[2].id, 5);
    assert_int_equal(all[2].state, PD_STORE_TOMBSTONE);
    assert_int_equal(all[2].node_state, PD_NODE_REMOVED);
    assert_string_equal(all[1].version, "8.5.0");
    assert_int_equal(all[1].stats.region_count, 0);
    bs_free(all);
    pd_close(pd);
    pd_meta_store_free(ms);
}

static void test_store_record_rejects_garbage(void **state)
{
    (void)state;
    pd_store s = store_with(3, "h:1"), out;
    bs_buf b = BS_BUF_INIT;
    pd_store_encode(&s, &b);
    assert_int_equal(pd_store_decode(bs_buf_slice(&b), &out, NULL), BS_OK);
    assert_string_equal(out.address, "h:1");
    /* Every truncation and a trailing byte are corruption, never a crash. */
    for (size_t len = 0; len < b.len; len++)
        assert_int_equal(pd_store_decode(bs_slice_make(b.ptr, len), &out, NULL), BS_ECORRUPT);
    bs_buf_append_byte(&b, 0);
    assert_int_equal(pd_store_decode(bs_buf_slice(&b), &out, NULL), BS_ECORRUPT);
    bs_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bootstrap_once),
        cmocka_unit_test(test_stores),
        cmocka_unit_test(test_store_record_rejects_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
