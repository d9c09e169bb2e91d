/* test_region.c -- region routing against a brute-force model (GetRegion, GetPrevRegion,
 * ScanRegions over random binary keys, through splits, merges and restarts), the staleness
 * rule of heartbeats, AskBatchSplit / ReportBatchSplit, and QueryRegion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "pd/pd_int.h"
#include "pd_test.h"

#define T0 INT64_C(1790000000000)

static uint64_t seed_state = 12345;

static uint64_t rnd(void)
{
    seed_state = seed_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return seed_state >> 17;
}

/* Short keys over a tiny alphabet that includes 0x00 and 0xff, so prefixes, equal keys and
 * bytes that break C strings are all common. */
static void rand_key(bs_buf *k, size_t min_len)
{
    static const uint8_t alphabet[] = {0x00, 0x01, 'a', 'b', 0xfe, 0xff};
    bs_buf_reset(k);
    size_t len = min_len + rnd() % (6 - min_len);
    for (size_t i = 0; i < len; i++)
        bs_buf_append_byte(k, alphabet[rnd() % sizeof(alphabet)]);
}

/* ---- the model: a plain list of non-overlapping regions, searched linearly -------------- */

#define MAXR 4096

typedef struct mreg {
    uint64_t id, ver, conf;
    bs_buf start, end; /* end.len == 0: +∞ */
} mreg;

static mreg model[MAXR];
static size_t nmodel;

static bool m_contains(const mreg *m, bs_slice key)
{
    return bs_slice_cmp(key, bs_buf_slice(&m->start)) >= 0 &&
           (m->end.len == 0 || bs_slice_cmp(key, bs_buf_slice(&m->end)) < 0);
}

static const mreg *m_get(bs_slice key)
{
    for (size_t i = 0; i < nmodel; i++)
        if (m_contains(&model[i], key))
            return &model[i];
    return NULL;
}

static const mreg *m_prev(bs_slice key)
{
    const mreg *cur = m_get(key), *best = NULL;
    if (!cur)
        return NULL;
    for (size_t i = 0; i < nmodel; i++) {
        const mreg *m = &model[i];
        if (bs_slice_cmp(bs_buf_slice(&m->start), bs_buf_slice(&cur->start)) < 0 &&
            (!best || bs_slice_cmp(bs_buf_slice(&m->start), bs_buf_slice(&best->start)) > 0))
            best = m;
    }
    if (!best || !bs_slice_eq(bs_buf_slice(&best->end), bs_buf_slice(&cur->start)))
        return NULL;
    return best;
}

static int cmp_mreg_start(const void *a, const void *b)
{
    return bs_slice_cmp(bs_buf_slice(&((const mreg *)a)->start),
                        bs_buf_slice(&((const mreg *)b)->start));
}

static void m_sort(void)
{
    qsort(model, nmodel, sizeof(model[0]), cmp_mreg_start);
}

static void m_add(uint64_t id, bs_slice start, bs_slice end, uint64_t conf, uint64_t ver)
{
    assert_true(nmodel < MAXR);
    mreg *m = &model[nmodel++];
    m->id = id;
    m->conf = conf;
    m->ver = ver;
    bs_buf_init(&m->start);
    bs_buf_init(&m->end);
    bs_buf_set(&m->start, start.ptr, start.len);
    bs_buf_set(&m->end, end.ptr, end.len);
    m_sort();
}

static void m_remove(size_t i)
{
    bs_buf_free(&model[i].start);
    bs_buf_free(&model[i].end);
    model[i] = model[--nmodel];
    m_sort();
}

static void m_clear(void)
{
    while (nmodel)
        m_remove(nmodel - 1);
}

/* Heartbeats a model region (3 peers, ids derived from the region id). */
static int hb_model(pd_core *pd, uint64_t id, bs_slice start, bs_slice end, uint64_t conf,
                    uint64_t ver)
{
    pd_region r;
    pd_region_init(&r);
    pd_peer peers[3];
    for (int i = 0; i < 3; i++)
        peers[i] = (pd_peer){id * 10 + (uint64_t)i, (uint64_t)i + 1, PD_PEER_VOTER, false};
    pd_region_set(&r, id, start, end, (pd_region_epoch){conf, ver}, peers, 3);
    int rc = heartbeat(pd, &r, 0);
    pd_region_deinit(&r);
    return rc;
}

/* Compares PD with the model on n random keys, every boundary, and random scans. */
static void check_against_model(pd_core *pd, int n)
{
    assert_true(pd_rt_check(&pd->regions));
    assert_int_equal(pd_region_count(pd), nmodel);
    pd_region_info ri;
    pd_region_info_init(&ri);
    bs_buf key = BS_BUF_INIT, end = BS_BUF_INIT;
    for (int i = 0; i < n + (int)nmodel; i++) {
        if (i < n)
            rand_key(&key, 0);
        else
            bs_buf_set(&key, model[i - n].start.ptr, model[i - n].start.len);
        bs_slice k = bs_buf_slice(&key);
        const mreg *want = m_get(k);
        int rc = pd_get_region(pd, k, &ri, NULL);
        if (want) {
            assert_int_equal(rc, BS_OK);
            assert_int_equal(ri.region.id, want->id);
            assert_true(
                bs_slice_eq(bs_buf_slice(&ri.region.start_key), bs_buf_slice(&want->start)));
            assert_true(bs_slice_eq(bs_buf_slice(&ri.region.end_key), bs_buf_slice(&want->end)));
            assert_int_equal(ri.region.epoch.version, want->ver);
        } else {
            assert_int_equal(rc, BS_NOTFOUND);
        }
        want = m_prev(k);
        rc = pd_get_prev_region(pd, k, &ri, NULL);
        if (want) {
            assert_int_equal(rc, BS_OK);
            assert_int_equal(ri.region.id, want->id);
        } else {
            assert_int_equal(rc, BS_NOTFOUND);
        }
        if (nmodel && i % 3 == 0) {
            const mreg *m = &model[rnd() % nmodel];
            assert_int_equal(pd_get_region_by_id(pd, m->id, &ri, NULL), BS_OK);
            assert_true(bs_slice_eq(bs_buf_slice(&ri.region.start_key), bs_buf_slice(&m->start)));
        }
        /* Scan [key, end) with a random end (sometimes +∞, sometimes below key) and limit. */
        if (i % 2 == 0) {
            rand_key(&end, rnd() % 4 ? 1 : 0);
            int32_t limit = (int32_t)(rnd() % 6) - 1; /* -1 … 4; <= 0 is unlimited */
            pd_region_list got;
            pd_region_list_init(&got);
            assert_int_equal(pd_scan_regions(pd, k, bs_buf_slice(&end), limit, &got, NULL), BS_OK);
            size_t w = 0;
            for (size_t j = 0; j < nmodel; j++) {
                const mreg *m = &model[j];
                bool after = m->end.len == 0 || bs_slice_cmp(bs_buf_slice(&m->end), k) > 0;
                bool before =
                    end.len == 0 || bs_slice_cmp(bs_buf_slice(&m->start), bs_buf_slice(&end)) < 0;
                if (!after || !before)
                    continue;
                if (limit > 0 && w == (size_t)limit)
                    break;
                assert_true(w < got.n);
                assert_int_equal(got.v[w].region.id, m->id);
                w++;
            }
            assert_int_equal(got.n, w);
            pd_region_list_deinit(&got);
        }
    }
    bs_buf_free(&key);
    bs_buf_free(&end);
    pd_region_info_deinit(&ri);
}

static int cmp_buf(const void *a, const void *b)
{
    return bs_slice_cmp(bs_buf_slice(a), bs_buf_slice(b));
}

static void test_region_routing_against_model(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    must_bootstrap(pd, 1, 2, 3);
    m_add(2, BS_SLICE_NULL, BS_SLICE_NULL, 1, 1);
    check_against_model(pd, 100);

    /* A partition by 300 random boundaries; about a fifth of the pieces never report, so
     * the table has gaps. Version 2 beats the bootstrap region wherever they overlap. */
    enum { NB = 300 };
    bs_buf bounds[NB];
    size_t nb = 0;
    for (size_t i = 0; i < NB; i++) {
        bs_buf_init(&bounds[nb]);
        rand_key(&bounds[nb], 1);
        bool dup = false;
        for (size_t j = 0; j < nb && !dup; j++)
            dup = bs_slice_eq(bs_buf_slice(&bounds[j]), bs_buf_slice(&bounds[nb]));
        if (dup)
            bs_buf_free(&bounds[nb]);
        else
            nb++;
    }
    qsort(bounds, nb, sizeof(bounds[0]), cmp_buf);
    m_clear();
    uint64_t next_id = 1000;
    bool reported_any = false;
    for (size_t i = 0; i <= nb; i++) {
        bs_slice s = i == 0 ? BS_SLICE_NULL : bs_buf_slice(&bounds[i - 1]);
        bs_slice e = i == nb ? BS_SLICE_NULL : bs_buf_slice(&bounds[i]);
        uint64_t id = next_id++;
        if (rnd() % 5 == 0 && i != 0)
            continue;
        assert_int_equal(hb_model(pd, id, s, e, 1, 2), BS_OK);
        m_add(id, s, e, 1, 2);
        reported_any = true;
    }
    assert_true(reported_any);
    for (size_t i = 0; i < nb; i++)
        bs_buf_free(&bounds[i]);
    check_against_model(pd, 2000);

    /* Churn: splits (left part new, right keeps the id, both version + 1, reported left
     * first so the right part is briefly a gap), merges of adjacent neighbours, and gaps
     * filled by new regions. */
    bs_buf k = BS_BUF_INIT;
    int splits = 0, merges = 0, fills = 0;
    for (int op = 0; op < 3000; op++) {
        rand_key(&k, 1);
        bs_slice ks = bs_buf_slice(&k);
        const mreg *c = m_get(ks);
        int what = (int)(rnd() % 2);
        if (!c) {
            /* A gap: a region appears to fill it exactly. */
            const mreg *before = NULL, *after = NULL;
            for (size_t j = 0; j < nmodel; j++) {
                if (bs_slice_cmp(bs_buf_slice(&model[j].start), ks) <= 0)
                    before = &model[j];
                else if (!after)
                    after = &model[j];
            }
            bs_buf s = BS_BUF_INIT, e = BS_BUF_INIT;
            if (before)
                bs_buf_set(&s, before->end.ptr, before->end.len);
            if (after)
                bs_buf_set(&e, after->start.ptr, after->start.len);
            uint64_t id = next_id++;
            assert_int_equal(hb_model(pd, id, bs_buf_slice(&s), bs_buf_slice(&e), 1, 1), BS_OK);
            m_add(id, bs_buf_slice(&s), bs_buf_slice(&e), 1, 1);
            bs_buf_free(&s);
            bs_buf_free(&e);
            fills++;
        } else if (what == 0 && !bs_slice_eq(ks, bs_buf_slice(&c->start))) {
            /* Split at ks: left part new, right keeps the id, both version + 1, reported
             * left first so the right part is briefly a gap. */
            mreg m = *c;
            uint64_t left = next_id++;
            bs_buf s = BS_BUF_INIT, e = BS_BUF_INIT;
            bs_buf_set(&s, m.start.ptr, m.start.len);
            bs_buf_set(&e, m.end.ptr, m.end.len);
            assert_int_equal(hb_model(pd, left, bs_buf_slice(&s), ks, m.conf, m.ver + 1), BS_OK);
            assert_int_equal(hb_model(pd, m.id, ks, bs_buf_slice(&e), m.conf, m.ver + 1), BS_OK);
            m_remove((size_t)(c - model));
            m_add(left, bs_buf_slice(&s), ks, m.conf, m.ver + 1);
            m_add(m.id, ks, bs_buf_slice(&e), m.conf, m.ver + 1);
            bs_buf_free(&s);
            bs_buf_free(&e);
            splits++;
        } else if (what == 1) {
            /* Merge c into its right neighbour when they are adjacent. */
            size_t i = (size_t)(c - model);
            if (i + 1 >= nmodel ||
                !bs_slice_eq(bs_buf_slice(&c->end), bs_buf_slice(&model[i + 1].start)))
                continue;
            mreg m = model[i], r = model[i + 1];
            uint64_t ver = (m.ver > r.ver ? m.ver : r.ver) + 1;
            bs_buf s = BS_BUF_INIT, e = BS_BUF_INIT;
            bs_buf_set(&s, m.start.ptr, m.start.len);
            bs_buf_set(&e, r.end.ptr, r.end.len);
            uint64_t rid = r.id, rconf = r.conf;
            assert_int_equal(hb_model(pd, rid, bs_buf_slice(&s), bs_buf_slice(&e), rconf, ver),
                             BS_OK);
            m_remove(i + 1);
            m_remove(i);
            m_add(rid, bs_buf_slice(&s), bs_buf_slice(&e), rconf, ver);
            bs_buf_free(&s);
            bs_buf_free(&e);
            merges++;
        }
        if (op % 200 == 0)
            check_against_model(pd, 200);
    }
    assert_true(splits > 100 && merges > 100 && fills > 10);
    bs_buf_free(&k);
    check_against_model(pd, 2000);

    /* Restart: the persisted regions give back the same routing table. */
    pd_close(pd);
    pd = must_open(ms, &clk);
    check_against_model(pd, 2000);
    pd_close(pd);
    m_clear();
    pd_meta_store_free(ms);
}

static void test_region_stale_heartbeats(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    pd_region r;
    pd_region_init(&r);
    make_region(&r, 2, "", "", 1, 1, 3, 1);
    assert_int_equal(heartbeat(pd, &r, 1), BS_ESTATE); /* not bootstrapped */
    must_bootstrap(pd, 1, 2, 3);
    pd_region_info ri;
    pd_region_info_init(&ri);

    /* Same id: a lower conf_ver, version or term loses; equal or higher wins. */
    make_region(&r, 2, "", "", 2, 1, 3, 3);
    assert_int_equal(heartbeat(pd, &r, 5), BS_OK);
    make_region(&r, 2, "", "", 1, 1, 3, 1);
    bs_err err;
    pd_error_type et = PD_ERR_OK;
    pd_region_info hb;
    pd_region_info_init(&hb);
    pd_region_copy(&hb.region, &r);
    hb.has_leader = true;
    hb.leader = r.peers[0];
    assert_int_equal(pd_region_heartbeat(pd, &hb, &et, &err), BS_EINVAL);
    assert_int_equal(et, PD_ERR_UNKNOWN);
    assert_non_null(strstr(err.msg, "region is stale"));
    make_region(&r, 2, "", "", 2, 0, 3, 3);
    assert_int_equal(heartbeat(pd, &r, 5), BS_EINVAL);
    make_region(&r, 2, "", "", 2, 1, 3, 3);
    assert_int_equal(heartbeat(pd, &r, 4), BS_EINVAL); /* term behind */
    assert_int_equal(heartbeat(pd, &r, 0), BS_OK);     /* unknown term is not behind */
    assert_int_equal(heartbeat(pd, &r, 6), BS_OK);
    assert_int_equal(pd_get_region_by_id(pd, 2, &ri, NULL), BS_OK);
    assert_int_equal(ri.region.epoch.conf_ver, 2);
    assert_int_equal(ri.region.n_peers, 3);
    assert_int_equal(ri.term, 6);

    /* Split into 10 ["", "m") and 2 ["m", ""), both version 2. */
    make_region(&r, 10, "", "m", 2, 2, 20, 3);
    assert_int_equal(heartbeat(pd, &r, 6), BS_OK);
    make_region(&r, 2, "m", "", 2, 2, 3, 3);
    assert_int_equal(heartbeat(pd, &r, 6), BS_OK);
    /* The pre-split region 2 (version 1) is stale now... */
    make_region(&r, 2, "", "", 2, 1, 3, 3);
    assert_int_equal(heartbeat(pd, &r, 7), BS_EINVAL);
    /* ...and so is any other region whose version is below one it overlaps. */
    make_region(&r, 11, "a", "z", 1, 1, 30, 3);
    assert_int_equal(heartbeat(pd, &r, 1), BS_EINVAL);
    assert_int_equal(pd_region_count(pd), 2);
    /* A newer region replaces every region it overlaps, even partially. */
    make_region(&r, 12, "a", "b", 1, 3, 40, 3);
    assert_int_equal(heartbeat(pd, &r, 1), BS_OK);
    assert_int_equal(pd_region_count(pd), 2); /* 10 is gone, 12 and 2 remain */
    assert_int_equal(pd_get_region(pd, bs_slice_from_str("c"), &ri, NULL), BS_NOTFOUND);
    assert_int_equal(pd_get_region(pd, bs_slice_from_str("a"), &ri, NULL), BS_OK);
    assert_int_equal(ri.region.id, 12);
    assert_true(ri.has_leader);
    assert_int_equal(ri.leader.id, 40);
    assert_int_equal(pd_get_region_by_id(pd, 10, &ri, NULL), BS_NOTFOUND);
    /* GetPrevRegion of "m": the region before 2 ends at "b", not adjacent. */
    assert_int_equal(pd_get_prev_region(pd, bs_slice_from_str("m"), &ri, NULL), BS_NOTFOUND);

    /* Malformed heartbeats. */
    make_region(&r, 13, "q", "p", 1, 9, 50, 1); /* start above end */
    assert_int_equal(heartbeat(pd, &r, 1), BS_EINVAL);
    make_region(&r, 13, "x", "y", 1, 9, 50, 2);
    pd_region_copy(&hb.region, &r);
    hb.leader = (pd_peer){999, 1, PD_PEER_VOTER, false}; /* not a peer */
    assert_int_equal(pd_region_heartbeat(pd, &hb, &et, NULL), BS_EINVAL);
    hb.has_leader = false;
    assert_int_equal(pd_region_heartbeat(pd, &hb, &et, NULL), BS_EINVAL);
    r.peers[1].store_id = r.peers[0].store_id; /* two peers on one store */
    assert_int_equal(heartbeat(pd, &r, 1), BS_EINVAL);

    /* A failed write changes nothing. */
    make_region(&r, 14, "c", "d", 1, 1, 60, 1);
    pd_memstore_set_fail_writes(ms, true);
    assert_int_equal(heartbeat(pd, &r, 1), BS_EIO);
    pd_memstore_set_fail_writes(ms, false);
    assert_int_equal(pd_get_region(pd, bs_slice_from_str("c"), &ri, NULL), BS_NOTFOUND);
    /* Leader-only changes do not write at all. */
    assert_int_equal(heartbeat(pd, &r, 1), BS_OK);
    pd_memstore_set_fail_writes(ms, true);
    assert_int_equal(heartbeat(pd, &r, 2), BS_OK);
    pd_memstore_set_fail_writes(ms, false);

    pd_region_info_deinit(&hb);
    pd_region_info_deinit(&ri);
    pd_region_deinit(&r);
    pd_close(pd);
    pd_meta_store_free(ms);
}

static void test_region_batch_split(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    uint64_t id = 0;
    assert_int_equal(pd_alloc_id(pd, 3, &id, NULL), BS_OK); /* store 1, region 2, peer 3 */
    must_bootstrap(pd, 1, 2, 3);
    pd_region r;
    pd_region_init(&r);
    pd_split_ids ids;
    pd_split_ids_init(&ids);
    pd_error_type et = PD_ERR_OK;
    /* Grow to three peers: 3 on store 1 (leader), 4 on store 2, 5 on store 3. */
    make_region(&r, 2, "", "", 3, 1, 3, 3);
    assert_int_equal(heartbeat(pd, &r, 1), BS_OK);

    assert_int_equal(pd_ask_batch_split(pd, &r, 2, &ids, &et, NULL), BS_OK);
    assert_int_equal(et, PD_ERR_OK);
    assert_int_equal(ids.count, 2);
    assert_int_equal(ids.peers_per_split, 3);
    /* Fresh ids, all distinct, from the one id space. */
    uint64_t all[8];
    for (size_t k = 0; k < 2; k++) {
        all[k * 4] = ids.region_ids[k];
        for (size_t j = 0; j < 3; j++)
            all[k * 4 + 1 + j] = ids.peer_ids[k * 3 + j];
    }
    for (size_t i = 0; i < 8; i++) {
        assert_true(all[i] > 3);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(all[i], all[j]);
    }
    uint64_t next = 0;
    assert_int_equal(pd_alloc_id(pd, 1, &next, NULL), BS_OK);
    assert_true(next > all[7]);

    /* Refusals: zero count, an older epoch, a region PD does not route there. */
    assert_int_equal(pd_ask_batch_split(pd, &r, 0, &ids, &et, NULL), BS_EINVAL);
    make_region(&r, 2, "", "", 2, 1, 3, 3);
    assert_int_equal(pd_ask_batch_split(pd, &r, 1, &ids, &et, NULL), BS_EINVAL);
    assert_int_equal(et, PD_ERR_UNKNOWN);
    make_region(&r, 99, "", "", 3, 1, 3, 3);
    assert_int_equal(pd_ask_batch_split(pd, &r, 1, &ids, &et, NULL), BS_NOTFOUND);
    assert_int_equal(et, PD_ERR_REGION_NOT_FOUND);

    /* The split result, TiKV style: new regions on the left, the original id keeps the
     * right-most range, every version + 2 (two new regions). */
    pd_region out[3];
    const char *bounds[4] = {"", "g", "p", ""};
    for (size_t k = 0; k < 3; k++) {
        pd_region_init(&out[k]);
        uint64_t rid = k < 2 ? ids.region_ids[k] : 2;
        pd_peer peers[3];
        for (size_t j = 0; j < 3; j++)
            peers[j] =
                (pd_peer){k < 2 ? ids.peer_ids[k * 3 + j] : 3 + j, 1 + j, PD_PEER_VOTER, false};
        pd_region_set(&out[k], rid, bs_slice_from_str(bounds[k]), bs_slice_from_str(bounds[k + 1]),
                      (pd_region_epoch){3, 3}, peers, 3);
    }
    assert_int_equal(pd_report_batch_split(pd, out, 1, &et, NULL), BS_EINVAL);
    pd_region gap[2];
    pd_region_init(&gap[0]);
    pd_region_init(&gap[1]);
    pd_region_copy(&gap[0], &out[0]);
    pd_region_copy(&gap[1], &out[2]);
    assert_int_equal(pd_report_batch_split(pd, gap, 2, &et, NULL), BS_EINVAL); /* "g" != "p" */
    assert_int_equal(pd_report_batch_split(pd, out, 3, &et, NULL), BS_OK);
    assert_int_equal(et, PD_ERR_OK);

    pd_region_info ri;
    pd_region_info_init(&ri);
    assert_int_equal(pd_region_count(pd), 3);
    assert_int_equal(pd_get_region(pd, bs_slice_from_str("a"), &ri, NULL), BS_OK);
    assert_int_equal(ri.region.id, ids.region_ids[0]);
    assert_true(ri.has_leader); /* the peer on the old leader's store */
    assert_int_equal(ri.leader.store_id, 1);
    assert_int_equal(ri.leader.id, ids.peer_ids[0]);
    assert_int_equal(pd_get_region(pd, bs_slice_from_str("h"), &ri, NULL), BS_OK);
    assert_int_equal(ri.region.id, ids.region_ids[1]);
    assert_int_equal(pd_get_region(pd, bs_slice_from_str("zz"), &ri, NULL), BS_OK);
    assert_int_equal(ri.region.id, 2);
    assert_int_equal(ri.region.epoch.version, 3);
    assert_int_equal(ri.leader.id, 3);
    assert_int_equal(pd_get_prev_region(pd, bs_slice_from_str("p"), &ri, NULL), BS_OK);
    assert_int_equal(ri.region.id, ids.region_ids[1]);
    assert_int_equal(pd_get_prev_region(pd, bs_slice_from_str("a"), &ri, NULL), BS_NOTFOUND);

    /* Replaying an older report changes nothing (stale parts are skipped). */
    for (size_t k = 0; k < 3; k++)
        out[k].epoch.version = 2;
    assert_int_equal(pd_report_batch_split(pd, out, 3, &et, NULL), BS_OK);
    assert_int_equal(pd_get_region(pd, bs_slice_from_str("zz"), &ri, NULL), BS_OK);
    assert_int_equal(ri.region.epoch.version, 3);

    /* The split survives a restart (leaders come back with the next heartbeats). */
    pd_close(pd);
    pd = must_open(ms, &clk);
    pd_region_list all_regions;
    pd_region_list_init(&all_regions);
    assert_int_equal(pd_scan_regions(pd, BS_SLICE_NULL, BS_SLICE_NULL, 0, &all_regions, NULL),
                     BS_OK);
    assert_int_equal(all_regions.n, 3);
    assert_int_equal(all_regions.v[0].region.id, ids.region_ids[0]);
    assert_int_equal(all_regions.v[2].region.id, 2);
    assert_false(all_regions.v[0].has_leader);
    pd_region_list_deinit(&all_regions);

    for (size_t k = 0; k < 3; k++)
        pd_region_deinit(&out[k]);
    pd_region_deinit(&gap[0]);
    pd_region_deinit(&gap[1]);
    pd_region_info_deinit(&ri);
    pd_split_ids_deinit(&ids);
    pd_region_deinit(&r);
    pd_close(pd);
    pd_meta_store_free(ms);
}

static void test_query_region(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    must_bootstrap(pd, 1, 2, 3);
    pd_region r;
    pd_region_init(&r);
    make_region(&r, 10, "", "f", 1, 2, 100, 1);
    assert_int_equal(heartbeat(pd, &r, 1), BS_OK);
    make_region(&r, 11, "f", "k", 1, 2, 110, 1);
    assert_int_equal(heartbeat(pd, &r, 1), BS_OK);
    make_region(&r, 12, "m", "", 1, 2, 120, 1); /* gap [k, m) */
    assert_int_equal(heartbeat(pd, &r, 1), BS_OK);

    bs_slice keys[] = {bs_slice_from_str("a"), bs_slice_from_str("g"), bs_slice_from_str("l"),
                       bs_slice_from_str("h")};
    bs_slice prev[] = {bs_slice_from_str("f"), bs_slice_from_str("m"), bs_slice_from_str("")};
    uint64_t qids[] = {12, 77, 10};
    pd_query_result q;
    pd_query_result_init(&q);
    assert_int_equal(pd_query_region(pd, keys, 4, prev, 3, qids, 3, &q, NULL), BS_OK);
    assert_int_equal(q.key_ids[0], 10);
    assert_int_equal(q.key_ids[1], 11);
    assert_int_equal(q.key_ids[2], 0); /* in the gap */
    assert_int_equal(q.key_ids[3], 11);
    assert_int_equal(q.prev_key_ids[0], 10);
    assert_int_equal(q.prev_key_ids[1], 0); /* 12 starts at "m" but 11 ends at "k" */
    assert_int_equal(q.prev_key_ids[2], 0); /* nothing before the first region */
    assert_int_equal(q.regions.n, 3);       /* 10, 11, 12 once each, by id */
    assert_int_equal(q.regions.v[0].region.id, 10);
    assert_int_equal(q.regions.v[1].region.id, 11);
    assert_int_equal(q.regions.v[2].region.id, 12);
    assert_int_equal(q.regions.v[2].leader.id, 120);
    /* Empty request: empty answer. */
    assert_int_equal(pd_query_region(pd, NULL, 0, NULL, 0, NULL, 0, &q, NULL), BS_OK);
    assert_int_equal(q.regions.n, 0);
    pd_query_result_deinit(&q);
    pd_region_deinit(&r);
    pd_close(pd);
    pd_meta_store_free(ms);
}

static void test_region_record_rejects_garbage(void **state)
{
    (void)state;
    pd_region r, out;
    pd_region_init(&r);
    pd_region_init(&out);
    make_region(&r, 7, "a\0b", "", 5, 6, 70, 3);
    r.peers[1].role = PD_PEER_LEARNER;
    bs_buf b = BS_BUF_INIT;
    pd_region_encode(&r, &b);
    assert_int_equal(pd_region_decode(bs_buf_slice(&b), &out, NULL), BS_OK);
    assert_int_equal(out.id, 7);
    assert_int_equal(out.n_peers, 3);
    assert_int_equal(out.peers[1].role, PD_PEER_LEARNER);
    assert_int_equal(out.epoch.version, 6);
    for (size_t len = 0; len < b.len; len++)
        assert_int_equal(pd_region_decode(bs_slice_make(b.ptr, len), &out, NULL), BS_ECORRUPT);
    bs_buf_append_byte(&b, 1);
    assert_int_equal(pd_region_decode(bs_buf_slice(&b), &out, NULL), BS_ECORRUPT);
    bs_buf_free(&b);
    pd_region_deinit(&r);
    pd_region_deinit(&out);
}

/* Heartbeats, lookups and id allocation from several threads at once: the metadata lock
 * keeps the table consistent. Threads check with BS_ASSERT (cmocka's checks may only fail
 * on the test's own thread). */
typedef struct hb_worker {
    pd_core *pd;
    int which;
} hb_worker;

static void *hb_thread(void *arg)
{
    hb_worker *w = arg;
    pd_region r;
    pd_region_init(&r);
    pd_region_info ri;
    pd_region_info_init(&ri);
    char s[3] = {(char)('a' + w->which), 0, 0}, e[3] = {(char)('a' + w->which + 1), 0, 0};
    for (int i = 0; i < 2000; i++) {
        if (w->which < 2) {
            /* Each writer owns one range and keeps re-reporting it with rising epochs. */
            make_region(&r, 100 + (uint64_t)w->which, s, e, 1, 2 + (uint64_t)i, 1000, 1);
            BS_ASSERT(heartbeat(w->pd, &r, 1) == BS_OK);
        } else {
            uint64_t id;
            BS_ASSERT(pd_alloc_id(w->pd, 3, &id, NULL) == BS_OK);
            int rc = pd_get_region(w->pd, bs_slice_from_str("a"), &ri, NULL);
            BS_ASSERT(rc == BS_OK || rc == BS_NOTFOUND);
            pd_region_list l;
            pd_region_list_init(&l);
            BS_ASSERT(pd_scan_regions(w->pd, BS_SLICE_NULL, BS_SLICE_NULL, 0, &l, NULL) == BS_OK);
            pd_region_list_deinit(&l);
        }
    }
    pd_region_info_deinit(&ri);
    pd_region_deinit(&r);
    return NULL;
}

static void test_region_concurrent(void **state)
{
    (void)state;
    pd_meta_store *ms = pd_memstore_new();
    fake_clock clk = {T0};
    pd_core *pd = must_open(ms, &clk);
    must_bootstrap(pd, 1, 2, 3);
    pthread_t th[4];
    hb_worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (hb_worker){pd, i};
        assert_int_equal(pthread_create(&th[i], NULL, hb_thread, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_true(pd_rt_check(&pd->regions));
    assert_int_equal(pd_region_count(pd), 2); /* "a".."b" and "b".."c" replaced region 2 */
    pd_region_info ri;
    pd_region_info_init(&ri);
    assert_int_equal(pd_get_region(pd, bs_slice_from_str("b"), &ri, NULL), BS_OK);
    assert_int_equal(ri.region.id, 101);
    assert_int_equal(ri.region.epoch.version, 2001);
    pd_region_info_deinit(&ri);
    pd_close(pd);
    pd_meta_store_free(ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_region_routing_against_model),
        cmocka_unit_test(test_region_stale_heartbeats),
        cmocka_unit_test(test_region_batch_split),
        cmocka_unit_test(test_query_region),
        cmocka_unit_test(test_region_record_rejects_garbage),
        cmocka_unit_test(test_region_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
