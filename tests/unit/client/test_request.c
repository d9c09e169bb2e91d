/* test_request.c -- the client's machinery without a store: the region cache (lookups both
 * ways, overlap replacement, stale answers refused), how a failed write is classified
 * (what is retried, what fails with "write outcome unknown"), the backoff budget, the
 * worker's ordering, the reuse of finished requests, and calls made while the client
 * closes. Requests here carry a fake
 * attempt function, so no store, PD or txn layer is touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "client/client_env.h"
#include "client/client_int.h"

/* ---- region cache ---------------------------------------------------------------------------- */

static void region(cluster_region *r, uint64_t id, const char *lo, const char *hi,
                   uint64_t version)
{
    bs_buf l = BS_BUF_INIT, h = BS_BUF_INIT;
    if (lo)
        ce_region_key(&l, 0, lo);
    if (hi)
        ce_region_key(&h, 0, hi);
    cluster_peer p = {id + 100, 1, PD_PEER_VOTER, false};
    pd_region_init(r);
    pd_region_set(r, id, bs_buf_slice(&l), bs_buf_slice(&h), (cluster_epoch){1, version}, &p, 1);
    bs_buf_free(&l);
    bs_buf_free(&h);
}

static uint64_t find(client_cache *rc, const char *user, bool before)
{
    bs_buf k = BS_BUF_INIT;
    cluster_region out;
    pd_region_init(&out);
    ce_region_key(&k, 0, user);
    uint64_t id = client_cache_find(rc, bs_buf_slice(&k), before, &out) ? out.id : 0;
    pd_region_deinit(&out);
    bs_buf_free(&k);
    return id;
}

static void put(client_cache *rc, uint64_t id, const char *lo, const char *hi, uint64_t version)
{
    cluster_region r;
    region(&r, id, lo, hi, version);
    client_cache_put(rc, &r);
    pd_region_deinit(&r);
}

static void test_cache(void **state)
{
    (void)state;
    client_cache rc;
    client_cache_init(&rc);
    assert_int_equal(find(&rc, "a", false), 0);
    put(&rc, 1, NULL, "g", 2);
    put(&rc, 3, "p", NULL, 2);
    put(&rc, 2, "g", "p", 2);
    assert_int_equal(client_cache_size(&rc), 3);
    assert_int_equal(find(&rc, "a", false), 1);
    assert_int_equal(find(&rc, "g", false), 2); /* a start belongs to its Region */
    assert_int_equal(find(&rc, "o", false), 2);
    assert_int_equal(find(&rc, "z", false), 3);
    /* before: the Region holding the keys just below the key. */
    assert_int_equal(find(&rc, "g", true), 1);
    assert_int_equal(find(&rc, "h", true), 2);
    assert_int_equal(find(&rc, "p", true), 2);
    /* A merged view replaces what it overlaps... */
    put(&rc, 2, "c", "t", 3);
    assert_int_equal(client_cache_size(&rc), 1);
    assert_int_equal(find(&rc, "d", false), 2);
    assert_int_equal(find(&rc, "a", false), 0);
    assert_int_equal(find(&rc, "z", false), 0);
    /* ...but an older answer never evicts a newer one. */
    put(&rc, 9, NULL, NULL, 1);
    assert_int_equal(client_cache_size(&rc), 1);
    assert_int_equal(find(&rc, "a", false), 0);
    put(&rc, 1, NULL, "c", 3);
    put(&rc, 4, "t", NULL, 4);
    assert_int_equal(client_cache_size(&rc), 3);
    assert_int_equal(find(&rc, "b", false), 1);
    assert_int_equal(find(&rc, "t", true), 2);
    assert_int_equal(find(&rc, "u", true), 4);
    client_cache_drop(&rc, 2);
    assert_int_equal(find(&rc, "d", false), 0);
    assert_int_equal(find(&rc, "b", false), 1);
    client_cache_drop(&rc, 77); /* absent: nothing */
    assert_int_equal(client_cache_size(&rc), 2);
    client_cache_deinit(&rc);
}

/* ---- failure classification ------------------------------------------------------------------ */

typedef struct fake {
    _Atomic int attempts;
    int fail_first; /* attempts that fail with a write error before one succeeds */
    int code;
    txn_error_kind kind;
} fake;

static fake *fake_of(creq *r)
{
    return (fake *)r->region.id; /* the fake rides in an otherwise unused field */
}

/* Plays a txn write that completes at once: fails fail_first times, then succeeds. */
static creq_step fake_attempt(creq *r)
{
    fake *f = fake_of(r);
    int n = ++f->attempts;
    if (n <= f->fail_first) {
        txn_error e;
        txn_error_set(&e, f->code, f->kind, "region 7: stale command");
        client_req_write_failed(r, f->code, &e);
        return STEP_ASYNC;
    }
    r->res.code = BS_OK;
    return STEP_DONE;
}

static client *fake_client_new(uint32_t max_backoff_ms)
{
    static int dummy; /* the fake attempts never touch PD, the store or the txn store */
    client_options o;
    client_options_init(&o);
    o.pd = (pd_core *)&dummy;
    o.store = (cluster_store *)&dummy;
    o.txn = (txn_store *)&dummy;
    o.max_backoff_ms = max_backoff_ms;
    client *c = NULL;
    assert_int_equal(client_new(&o, &c, NULL), BS_OK);
    return c;
}

static void run_fake(client *c, fake *f, bool idempotent, ce_res *res)
{
    creq *r = client_req_new(c, CREQ_PUT, fake_attempt, ce_cb, res);
    r->region.id = (uint64_t)(uintptr_t)f;
    r->idempotent = idempotent;
    client_req_run(r);
    ce_wait(res);
}

static void test_write_failures(void **state)
{
    (void)state;
    client *c = fake_client_new(20000);
    ce_res res;
    ce_res_init(&res);
    /* Dropped after acceptance: retried when idempotent... */
    fake f = {0, 2, BS_EPROPOSAL_DROPPED, TXN_ERR_PROPOSAL_FAILED};
    run_fake(c, &f, true, &res);
    assert_int_equal(res.code, BS_OK);
    assert_int_equal(f.attempts, 3);
    /* ...an unknown outcome otherwise, also for a broken chain. */
    ce_res_free(&res);
    f = (fake){0, 1, BS_EPROPOSAL_DROPPED, TXN_ERR_PROPOSAL_FAILED};
    run_fake(c, &f, false, &res);
    assert_int_equal(res.code, BS_EPROPOSAL_DROPPED);
    assert_int_equal(res.kind, TXN_ERR_PROPOSAL_FAILED);
    assert_non_null(strstr(res.msg, "write outcome unknown"));
    assert_int_equal(f.attempts, 1);
    ce_res_free(&res);
    f = (fake){0, 1, BS_EPROPOSAL_DROPPED, TXN_ERR_CHAIN_BROKEN};
    run_fake(c, &f, false, &res);
    assert_int_equal(res.kind, TXN_ERR_CHAIN_BROKEN);
    assert_int_equal(f.attempts, 1);
    /* Refused before proposing (region errors) or no ts yet: any op is retried. */
    int retry_codes[] = {BS_ENOT_LEADER, BS_NOTFOUND, BS_ERANGE, BS_ESTATE, BS_EBUSY};
    for (size_t i = 0; i < sizeof retry_codes / sizeof retry_codes[0]; i++) {
        ce_res_free(&res);
        f = (fake){0, 2, retry_codes[i], TXN_ERR_PROPOSAL_FAILED};
        run_fake(c, &f, false, &res);
        assert_int_equal(res.code, BS_OK);
        assert_int_equal(f.attempts, 3);
    }
    ce_res_free(&res);
    f = (fake){0, 3, BS_EBUSY, TXN_ERR_TS_NOT_READY};
    run_fake(c, &f, false, &res);
    assert_int_equal(res.code, BS_OK);
    assert_int_equal(f.attempts, 4);
    /* Final: too large, Redis errors. */
    ce_res_free(&res);
    f = (fake){0, 1, BS_ETOOLARGE, TXN_ERR_PROPOSAL_FAILED};
    run_fake(c, &f, true, &res);
    assert_int_equal(res.code, BS_ETOOLARGE);
    assert_int_equal(f.attempts, 1);
    ce_res_free(&res);
    f = (fake){0, 1, BS_EINVAL, TXN_ERR_NOT_INTEGER};
    run_fake(c, &f, false, &res);
    assert_int_equal(res.kind, TXN_ERR_NOT_INTEGER);
    assert_string_equal(res.msg, "region 7: stale command"); /* the txn text, unchanged */
    ce_res_free(&res);
    client_free(c);
}

static void test_budget(void **state)
{
    (void)state;
    /* 2 + 4 + 8 = 14 ms fit in 15, the next 16 does not: 4 attempts, then the last error. */
    client *c = fake_client_new(15);
    ce_res res;
    ce_res_init(&res);
    fake f = {0, 100, BS_ENOT_LEADER, TXN_ERR_PROPOSAL_FAILED};
    run_fake(c, &f, true, &res);
    assert_int_equal(res.code, BS_ENOT_LEADER);
    assert_int_equal(f.attempts, 4);
    ce_res_free(&res);
    client_free(c);
    /* No budget: no retry at all. */
    c = fake_client_new(0);
    f = (fake){0, 1, BS_ENOT_LEADER, TXN_ERR_PROPOSAL_FAILED};
    run_fake(c, &f, true, &res);
    assert_int_equal(res.code, BS_ENOT_LEADER);
    assert_int_equal(f.attempts, 1);
    ce_res_free(&res);
    client_free(c);
}

/* ---- reuse ------------------------------------------------------------------------------------- */

static creq_step done_attempt(creq *r)
{
    r->res.code = BS_OK;
    return STEP_DONE;
}

/* A finished request goes back to the client's pool: the next one reuses it, starting from
 * a clean slate but for the single-key buffers it keeps (emptied), and a buffer that grew
 * past CLIENT_KEEP_BUF is not kept. */
static void test_request_reuse(void **state)
{
    (void)state;
    client *c = fake_client_new(0);
    ce_res res;
    ce_res_init(&res);
    creq *r = client_req_new(c, CREQ_PUT, done_attempt, ce_cb, &res);
    bs_slice user = bs_slice_from_str("key");
    client_req_set_keys(r, 0, &user, 1);
    r->values = &r->value1;
    bs_buf_append(&r->value1, "v", 1);
    pd_region_set(&r->region, 9, bs_slice_from_str("a"), bs_slice_from_str("b"),
                  (cluster_epoch){1, 1}, NULL, 0);
    r->ttl_ms = 5;
    client_req_run(r);
    assert_int_equal(res.code, BS_OK);
    assert_int_equal(c->n_free_reqs, 1);

    creq *again = client_req_new(c, CREQ_GET, done_attempt, ce_cb, &res);
    assert_ptr_equal(again, r);
    assert_int_equal(c->n_free_reqs, 0);
    assert_int_equal(again->kind, CREQ_GET);
    assert_int_equal(again->n, 0);
    assert_null(again->keys);
    assert_null(again->values);
    assert_int_equal(again->ttl_ms, 0);
    assert_int_equal(again->region.id, 0);
    assert_int_equal(again->region.start_key.len, 0);
    assert_int_equal(again->key1.len, 0);
    assert_int_equal(again->value1.len, 0);
    assert_true(again->key1.cap > 0); /* kept */
    /* A large value is not kept by the pool. */
    again->values = &again->value1;
    bs_buf_reserve(&again->value1, CLIENT_KEEP_BUF + 1);
    ce_res_free(&res);
    client_req_run(again);
    assert_int_equal(c->n_free_reqs, 1);
    assert_int_equal(c->free_reqs->value1.cap, 0);
    assert_true(c->free_reqs->key1.cap > 0);
    ce_res_free(&res);
    client_free(c);
}

/* ---- closing ----------------------------------------------------------------------------------- */

typedef struct chain {
    client *c;
    ce_res first, second;
} chain;

/* The first request's callback (run inside client_free) issues another call. */
static void chain_cb(void *arg, client_result *res)
{
    chain *ch = arg;
    ce_cb(&ch->first, res);
    creq *r = client_req_new(ch->c, CREQ_PUT, fake_attempt, ce_cb, &ch->second);
    client_req_run(r); /* refused: the client is closing */
}

static void test_calls_while_closing(void **state)
{
    (void)state;
    client *c = fake_client_new(600000);
    chain ch;
    ch.c = c;
    ce_res_init(&ch.first);
    ce_res_init(&ch.second);
    fake f = {0, 1000000, BS_ENOT_LEADER, TXN_ERR_PROPOSAL_FAILED};
    creq *r = client_req_new(c, CREQ_PUT, fake_attempt, chain_cb, &ch);
    r->region.id = (uint64_t)(uintptr_t)&f;
    client_req_run(r); /* fails, backs off for long */
    client_free(c);
    assert_int_equal(ch.first.calls, 1);
    assert_int_equal(ch.first.code, BS_EPROPOSAL_DROPPED);
    assert_string_equal(ch.first.msg, "client closed");
    assert_int_equal(ch.second.calls, 1);
    assert_string_equal(ch.second.msg, "client closed");
    ce_res_free(&ch.first);
    ce_res_free(&ch.second);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_write_failures),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_request_reuse),
        cmocka_unit_test(test_calls_while_closing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
