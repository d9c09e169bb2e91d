/* test_raft_storage.c -- the raft log, hard state and apply state in CF raft: a round trip
 * through the storage interface, a restart from disk, suffix overwrite and compaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cluster/cluster_int.h"
#include "cluster_test.h"

static void make_region(cluster_region *r)
{
    pd_region_init(r);
    cluster_peer p = {11, 1, PD_PEER_VOTER, false};
    pd_region_set(r, 7, BS_SLICE_NULL, BS_SLICE_NULL, (cluster_epoch){1, 1}, &p, 1);
}

static void append(cluster_raft_storage *rs, kv_engine *e, uint64_t from, uint64_t to,
                   uint64_t term)
{
    kv_batch *b = kv_batch_new();
    raft_entry ents[64];
    size_t n = 0;
    for (uint64_t i = from; i <= to; i++, n++) {
        memset(&ents[n], 0, sizeof(ents[n]));
        ents[n].index = i;
        ents[n].term = term;
        char d[32];
        int len = snprintf(d, sizeof d, "e%llu-t%llu", (unsigned long long)i,
                           (unsigned long long)term);
        raft_entry_set_data(&ents[n], d, (size_t)len);
    }
    cluster_rs_append(rs, ents, n, b);
    rs->hs.term = term;
    cluster_rs_write_raft_state(rs, b);
    assert_int_equal(kv_engine_write(e, b, true, NULL), BS_OK);
    for (size_t i = 0; i < n; i++)
        raft_entry_release(&ents[i]);
    kv_batch_free(b);
}

static void check_entry(raft_storage st, uint64_t i, uint64_t term)
{
    raft_entries out = {0};
    assert_int_equal(st.ops->entries(st.ctx, i, i + 1, UINT64_MAX, &out), BS_OK);
    assert_int_equal(out.n, 1);
    char d[32];
    int len = snprintf(d, sizeof d, "e%llu-t%llu", (unsigned long long)i, (unsigned long long)term);
    assert_int_equal(out.v[0].term, term);
    assert_int_equal(out.v[0].data.len, (size_t)len);
    assert_memory_equal(out.v[0].data.ptr, d, (size_t)len);
    raft_entries_free(&out);
}

static void test_round_trip_and_restart(void **state)
{
    (void)state;
    char *dir = tu_dir_new("rs");
    kv_engine *e = ct_engine_open(dir);
    cluster_region r;
    make_region(&r);
    kv_batch *b = kv_batch_new();
    cluster_rs_write_initial(b, &r);
    assert_int_equal(kv_engine_write(e, b, true, NULL), BS_OK);
    kv_batch_free(b);

    cluster_raft_storage rs;
    assert_int_equal(cluster_rs_load(&rs, e, &r, NULL), BS_OK);
    raft_storage st = cluster_rs_storage(&rs);
    assert_int_equal(st.ops->first_index(st.ctx), CLUSTER_INIT_INDEX + 1);
    assert_int_equal(st.ops->last_index(st.ctx), CLUSTER_INIT_INDEX);
    uint64_t t;
    assert_int_equal(st.ops->term(st.ctx, CLUSTER_INIT_INDEX, &t), BS_OK);
    assert_int_equal(t, CLUSTER_INIT_TERM);
    raft_hard_state hs;
    raft_conf_state cs;
    st.ops->initial_state(st.ctx, &hs, &cs);
    assert_int_equal(hs.commit, CLUSTER_INIT_INDEX);
    assert_int_equal(cs.n_voters, 1);
    assert_int_equal(cs.voters[0], 11);

    append(&rs, e, 6, 20, 6);
    append(&rs, e, 15, 17, 7); /* overwrite a suffix: 18..20 must go */
    assert_int_equal(st.ops->last_index(st.ctx), 17);
    check_entry(st, 14, 6);
    check_entry(st, 16, 7);
    assert_int_equal(st.ops->term(st.ctx, 21, &t), RAFT_EUNAVAILABLE);
    cluster_rs_deinit(&rs);

    /* Restart: a fresh engine and storage see the same log, from disk only. */
    kv_engine_close(e);
    e = ct_engine_open(dir);
    assert_int_equal(cluster_rs_load(&rs, e, &r, NULL), BS_OK);
    st = cluster_rs_storage(&rs);
    assert_int_equal(st.ops->last_index(st.ctx), 17);
    assert_int_equal(rs.hs.term, 7);
    check_entry(st, 6, 6);
    check_entry(st, 17, 7);
    raft_entries out = {0};
    assert_int_equal(st.ops->entries(st.ctx, 6, 18, 30, &out), BS_OK);
    assert_true(out.n >= 1 && out.n < 12); /* the size limit stops early */
    raft_entries_free(&out);

    /* Compaction through 10: entries <= 10 are gone from disk, term(10) stays known. */
    b = kv_batch_new();
    cluster_rs_compact(&rs, 10, 6, b);
    assert_int_equal(kv_engine_write(e, b, true, NULL), BS_OK);
    kv_batch_free(b);
    assert_int_equal(st.ops->first_index(st.ctx), 11);
    assert_int_equal(st.ops->term(st.ctx, 10, &t), BS_OK);
    assert_int_equal(t, 6);
    assert_int_equal(st.ops->term(st.ctx, 9, &t), RAFT_ECOMPACTED);
    out = (raft_entries){0};
    assert_int_equal(st.ops->entries(st.ctx, 9, 12, UINT64_MAX, &out), RAFT_ECOMPACTED);
    bs_buf k = BS_BUF_INIT, v = BS_BUF_INIT;
    cluster_key_raft_log(&k, 7, 8);
    assert_int_equal(kv_get(e, KV_CF_RAFT, bs_buf_slice(&k), &v, NULL), BS_NOTFOUND);
    bs_buf_free(&k);
    bs_buf_free(&v);
    check_entry(st, 11, 6);
    cluster_rs_deinit(&rs);
    pd_region_deinit(&r);
    kv_engine_close(e);
    tu_dir_remove(dir);
}

static void test_records(void **state)
{
    (void)state;
    cluster_region r, back;
    make_region(&r);
    pd_region_init(&back);
    bs_buf v = BS_BUF_INIT;
    cluster_region_state_encode(&v, CLUSTER_PEER_NORMAL, &r);
    cluster_peer_state ps;
    assert_int_equal(cluster_region_state_decode(bs_buf_slice(&v), &ps, &back, NULL), BS_OK);
    assert_int_equal(back.id, 7);
    assert_int_equal(back.n_peers, 1);
    assert_int_equal(back.peers[0].id, 11);
    /* Truncated input is corrupt, not a crash. */
    assert_int_equal(cluster_region_state_decode(bs_slice_make(v.ptr, v.len - 2), &ps, &back,
                                                 NULL),
                     BS_ECORRUPT);
    /* A write command round trip. */
    kv_batch *b = kv_batch_new(), *b2 = kv_batch_new();
    kv_batch_put(b, KV_CF_DEFAULT, bs_slice_from_str("k\0x"), bs_slice_from_str("v"));
    kv_batch_delete(b, KV_CF_LOCK, bs_slice_from_str("k2"));
    cluster_cmd_header h = {CLUSTER_CMD_WRITE, 42, {1, 3}}, h2;
    bs_buf_reset(&v);
    cluster_cmd_encode_write(&v, &h, b);
    bs_slice body;
    assert_int_equal(cluster_cmd_decode_header(bs_buf_slice(&v), &h2, &body, NULL), BS_OK);
    assert_int_equal(h2.proposal_id, 42);
    assert_int_equal(h2.epoch.version, 3);
    assert_int_equal(cluster_cmd_decode_write(body, b2, NULL), BS_OK);
    assert_int_equal(kv_batch_count(b2), 2);
    assert_int_equal(cluster_cmd_decode_write(bs_slice_make(body.ptr, body.len - 1), b2, NULL),
                     BS_ECORRUPT);
    kv_batch_free(b);
    kv_batch_free(b2);
    bs_buf_free(&v);
    pd_region_deinit(&r);
    pd_region_deinit(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_restart),
        cmocka_unit_test(test_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
