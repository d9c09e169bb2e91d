/* pd_test.c -- the shared helpers declared in pd_test.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/codec.h"
#include "pd/pd_int.h"
#include "pd_test.h"

int64_t fake_clock_now(void *arg)
{
    return ((fake_clock *)arg)->now_ms;
}

pd_core *must_open_opts(pd_meta_store *ms, fake_clock *clk, const pd_options *base)
{
    pd_options o;
    if (base)
        o = *base;
    else
        pd_options_init(&o);
    o.clock = fake_clock_now;
    o.clock_arg = clk;
    pd_core *pd = NULL;
    bs_err err;
    bs_err_clear(&err);
    int rc = pd_open(&o, ms, &pd, &err);
    if (rc != BS_OK)
        fail_msg("pd_open: %s", err.msg);
    return pd;
}

pd_core *must_open(pd_meta_store *ms, fake_clock *clk)
{
    return must_open_opts(ms, clk, NULL);
}

void must_bootstrap(pd_core *pd, uint64_t store_id, uint64_t region_id, uint64_t peer_id)
{
    pd_store s;
    memset(&s, 0, sizeof(s));
    s.id = store_id;
    snprintf(s.address, sizeof(s.address), "127.0.0.1:%llu",
             (unsigned long long)(20160 + store_id));
    pd_region r;
    pd_region_init(&r);
    pd_peer p = {peer_id, store_id, PD_PEER_VOTER, false};
    pd_region_set(&r, region_id, BS_SLICE_NULL, BS_SLICE_NULL, (pd_region_epoch){1, 1}, &p, 1);
    pd_error_type et = PD_ERR_UNKNOWN;
    bs_err err;
    int rc = pd_bootstrap(pd, &s, &r, &et, &err);
    if (rc != BS_OK)
        fail_msg("bootstrap: %s", err.msg);
    assert_int_equal(et, PD_ERR_OK);
    pd_region_deinit(&r);
}

void make_region(pd_region *r, uint64_t id, const char *start, const char *end, uint64_t conf_ver,
                 uint64_t version, uint64_t peer_base, size_t n_peers)
{
    pd_peer peers[8];
    assert_true(n_peers <= 8);
    for (size_t i = 0; i < n_peers; i++)
        peers[i] = (pd_peer){peer_base + i, 1 + i, PD_PEER_VOTER, false};
    pd_region_set(r, id, bs_slice_from_str(start), bs_slice_from_str(end),
                  (pd_region_epoch){conf_ver, version}, peers, n_peers);
}

int heartbeat(pd_core *pd, const pd_region *r, uint64_t term)
{
    pd_region_info hb;
    pd_region_info_init(&hb);
    pd_region_copy(&hb.region, r);
    hb.has_leader = r->n_peers > 0;
    if (hb.has_leader)
        hb.leader = r->peers[0];
    hb.term = term;
    hb.approximate_size = 1;
    int rc = pd_region_heartbeat(pd, &hb, NULL, NULL);
    pd_region_info_deinit(&hb);
    return rc;
}

uint64_t meta_u64(pd_meta_store *ms, const char *key)
{
    uint64_t v = 0;
    int rc = pd_meta_get_u64(ms, key, &v, NULL);
    assert_true(rc == BS_OK || rc == BS_NOTFOUND);
    return rc == BS_OK ? v : 0;
}
