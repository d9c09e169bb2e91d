/* test_status.c -- what the status port serves, without the HTTP layer: address parsing,
 * the /status JSON (store, cluster, Regions with their leader, addresses) and the /metrics
 * text (raftstore counters, latency histograms, Region count, RocksDB sizes, GC). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "node_test.h"

static void must_parse(const char *addr, const char *host, uint16_t port)
{
    char h[SRV_HOST_MAX];
    uint16_t p = 1;
    bs_err err;
    int rc = srv_addr_parse(addr, h, &p, &err);
    if (rc != BS_OK)
        fprintf(stderr, "%s: %s\n", addr, err.msg);
    assert_int_equal(rc, BS_OK);
    assert_string_equal(h, host);
    assert_int_equal(p, port);
}

static void must_reject(const char *addr)
{
    char h[SRV_HOST_MAX];
    uint16_t p;
    bs_err err;
    assert_int_equal(srv_addr_parse(addr, h, &p, &err), BS_EINVAL);
    assert_true(strlen(err.msg) > 0);
}

static void test_addr_parse(void **state)
{
    (void)state;
    must_parse("127.0.0.1:6379", "127.0.0.1", 6379);
    must_parse("localhost:0", "localhost", 0);
    must_parse(":20180", "", 20180);
    must_parse("[::1]:2379", "::1", 2379);
    must_parse("0.0.0.0:65535", "0.0.0.0", 65535);
    must_reject("");
    must_reject("127.0.0.1");
    must_reject("127.0.0.1:");
    must_reject("127.0.0.1:65536");
    must_reject("127.0.0.1:99999999999999999999");
    must_reject("127.0.0.1:63x");
    must_reject("127.0.0.1:-1");
    must_reject("::1:2379");
    must_reject("[::1]2379");
    must_reject("a b:1");
}

static bool contains(const bs_buf *b, const char *s)
{
    return memmem(b->ptr, b->len, s, strlen(s)) != NULL;
}

static void test_status_and_metrics(void **state)
{
    (void)state;
    char *dir = tu_dir_new("status");
    srv_node *n = nt_must_open(dir, NULL);
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "s%d", i);
        assert_int_equal(nt_put_str(n, k, "v", 0), BS_OK);
    }
    srv_region_info *regs = NULL;
    size_t nregs = 0;
    srv_node_regions(n, &regs, &nregs);
    assert_int_equal(nregs, 1);
    char want[256];

    srv_addrs a = {"127.0.0.1:6379", "127.0.0.1:20180", "127.0.0.1:20160", "127.0.0.1:2379"};
    bs_buf js = BS_BUF_INIT;
    srv_status_json(n, &a, &js);
    bs_buf_append_byte(&js, 0);
    snprintf(want, sizeof want, "\"store_id\":%" PRIu64 ",\"cluster_id\":%" PRIu64,
             cluster_store_id(srv_node_store(n)), cluster_store_cluster_id(srv_node_store(n)));
    assert_true(contains(&js, want));
    snprintf(want, sizeof want,
             "\"regions\":[{\"id\":%" PRIu64 ",\"start_key\":\"\",\"end_key\":\"\"",
             regs[0].region.id);
    assert_true(contains(&js, want));
    snprintf(want, sizeof want, "\"leader\":{\"peer_id\":%" PRIu64 ",\"store_id\":%" PRIu64 "}",
             regs[0].region.peers[0].id, cluster_store_id(srv_node_store(n)));
    assert_true(contains(&js, want));
    assert_true(contains(&js, "\"version\":\"" SRV_VERSION "\""));
    assert_true(contains(&js, "\"redis\":\"127.0.0.1:6379\""));
    assert_true(contains(&js, "\"grpc_served\":false"));
    assert_true(contains(&js, "\"local_leader\":true"));
    /* Balanced braces and brackets outside strings: a cheap well-formedness check. */
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i + 1 < js.len; i++) {
        char c = (char)js.ptr[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            depth--;
        assert_true(depth >= 0);
    }
    assert_int_equal(depth, 0);
    assert_false(in_str);
    bs_buf_free(&js);

    /* NULL addresses are reported as "". */
    srv_status_json(n, NULL, &js);
    assert_true(contains(&js, "\"redis\":\"\""));
    bs_buf_free(&js);

    bs_buf m = BS_BUF_INIT;
    srv_metrics_render(n, &m);
    assert_true(contains(&m, "basalt_raftstore_fsync_total"));
    assert_true(contains(&m, "basalt_raft_proposals_total"));
    assert_true(contains(&m, "basalt_raftstore_append_log_duration_seconds_bucket"));
    assert_true(contains(&m, "basalt_raftstore_apply_duration_seconds_count"));
    assert_true(contains(&m, "basalt_region_count 1"));
    assert_true(contains(&m, "basalt_region_leader_count 1"));
    assert_true(contains(&m, "basalt_engine_memtable_size_bytes{cf=\"default\"}"));
    assert_true(contains(&m, "basalt_engine_sst_size_bytes{cf=\"raft\"}"));
    assert_true(contains(&m, "basalt_raftstore_proposals_acked"));
    assert_true(contains(&m, "basalt_gc_safe_point"));
    bs_buf_free(&m);

    srv_region_infos_free(regs, nregs);
    srv_node_close(n);
    tu_dir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_parse),
        cmocka_unit_test(test_status_and_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
