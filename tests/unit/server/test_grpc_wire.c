/* test_grpc_wire.c -- the pieces of the gRPC services that parse or build bytes by hand,
 * without a network: the protobuf wire reader, the BatchCommands wrapper parser, the
 * arena, and the struct <-> message conversions (errorpb region errors, metapb stores and
 * regions), and the store service's worker pool. The services themselves are driven end
 * to end by tests/grpc/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "common/codec.h"
#include "server/grpc_int.h"

static bs_slice S(const char *bytes, size_t n)
{
    return bs_slice_make(bytes, n);
}

/* ---- srv_grpc_wire_next ---------------------------------------------------------------------- */

static void test_wire_fields(void **state)
{
    (void)state;
    /* 1: varint 300; 2: bytes "hi"; 3: fixed64 1; 4: fixed32 2 */
    static const char msg[] = "\x08\xac\x02"
                              "\x12\x02hi"
                              "\x19\x01\x00\x00\x00\x00\x00\x00\x00"
                              "\x25\x02\x00\x00\x00";
    bs_slice in = S(msg, sizeof msg - 1), b;
    uint32_t f;
    int wt;
    uint64_t v;
    assert_int_equal(srv_grpc_wire_next(&in, &f, &wt, &v, &b), BS_OK);
    assert_true(f == 1 && wt == SRV_GRPC_WIRE_VARINT && v == 300);
    assert_int_equal(srv_grpc_wire_next(&in, &f, &wt, &v, &b), BS_OK);
    assert_true(f == 2 && wt == SRV_GRPC_WIRE_LEN && b.len == 2 && memcmp(b.ptr, "hi", 2) == 0);
    assert_int_equal(srv_grpc_wire_next(&in, &f, &wt, &v, &b), BS_OK);
    assert_true(f == 3 && wt == SRV_GRPC_WIRE_I64 && v == 1);
    assert_int_equal(srv_grpc_wire_next(&in, &f, &wt, &v, &b), BS_OK);
    assert_true(f == 4 && wt == SRV_GRPC_WIRE_I32 && v == 2);
    assert_int_equal(srv_grpc_wire_next(&in, &f, &wt, &v, &b), BS_NOTFOUND);
}

static void test_wire_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t n;
    } bad[] = {
        {"\x08", 1},                                          /* varint value missing */
        {"\x08\xff", 2},                                      /* varint cut */
        {"\x12\x05hi", 4},                                    /* length past the end */
        {"\x00\x01", 2},                                      /* field 0 */
        {"\x0b", 1},                                          /* start group */
        {"\x0e\x00", 2},                                      /* wire type 6 */
        {"\x19\x01\x02", 3},                                  /* fixed64 cut */
        {"\x12\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11}, /* huge length */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bs_slice in = S(bad[i].bytes, bad[i].n), b;
        uint32_t f;
        int wt;
        uint64_t v;
        assert_int_equal(srv_grpc_wire_next(&in, &f, &wt, &v, &b), BS_ECORRUPT);
        assert_int_equal(in.len, bad[i].n); /* input untouched on error */
    }
}

static void test_wire_write(void **state)
{
    (void)state;
    bs_buf b = BS_BUF_INIT;
    srv_grpc_wire_bytes(&b, 21, S("abc", 3));
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.ptr,
                        "\xaa\x01\x03"
                        "abc",
                        6); /* key 21<<3|2 = 170, 2 bytes */
    bs_buf_free(&b);
}

/* ---- BatchCommands wrapper ----------------------------------------------------------------- */

static void test_batch_parse(void **state)
{
    (void)state;
    bs_buf m = BS_BUF_INIT, r = BS_BUF_INIT, ids = BS_BUF_INIT;
    /* Request{RawGet(13): "\x12\x01k"} twice; ids packed {7, 300}; then one unpacked id 9. */
    srv_grpc_wire_bytes(&r, 13, S("\x12\x01k", 3));
    srv_grpc_wire_bytes(&m, 1, bs_buf_slice(&r));
    srv_grpc_wire_bytes(&m, 1, bs_buf_slice(&r));
    srv_grpc_wire_bytes(&m, 1, S("", 0)); /* a Request with no member */
    bs_varint_append(&ids, 7);
    bs_varint_append(&ids, 300);
    srv_grpc_wire_bytes(&m, 2, bs_buf_slice(&ids));
    srv_grpc_wire_key(&m, 2, SRV_GRPC_WIRE_VARINT);
    bs_varint_append(&m, 9);
    srv_grpc_wire_key(&m, 3, SRV_GRPC_WIRE_VARINT); /* client_send_time_ns: skipped */
    bs_varint_append(&m, 12345);
    bs_slice *reqs = NULL;
    uint64_t *idv = NULL;
    size_t nr = 0, ni = 0;
    assert_int_equal(srv_tikv_batch_parse(bs_buf_slice(&m), &reqs, &nr, &idv, &ni), BS_OK);
    assert_int_equal(nr, 3);
    assert_int_equal(ni, 3);
    assert_true(idv[0] == 7 && idv[1] == 300 && idv[2] == 9);
    uint32_t cmd;
    bs_slice body;
    assert_int_equal(srv_tikv_batch_parse_request(reqs[0], &cmd, &body), BS_OK);
    assert_int_equal(cmd, 13);
    assert_int_equal(body.len, 3);
    assert_int_equal(srv_tikv_batch_parse_request(reqs[2], &cmd, &body), BS_OK);
    assert_int_equal(cmd, 0);
    bs_free(reqs);
    bs_free(idv);

    /* The oneof member set last wins. */
    bs_buf two = BS_BUF_INIT;
    srv_grpc_wire_bytes(&two, 13, S("", 0));
    srv_grpc_wire_bytes(&two, 255, S("\x08\x01", 2));
    assert_int_equal(srv_tikv_batch_parse_request(bs_buf_slice(&two), &cmd, &body), BS_OK);
    assert_int_equal(cmd, 255);
    /* A member that is not a message is malformed. */
    bs_buf_reset(&two);
    srv_grpc_wire_key(&two, 13, SRV_GRPC_WIRE_VARINT);
    bs_varint_append(&two, 1);
    assert_int_equal(srv_tikv_batch_parse_request(bs_buf_slice(&two), &cmd, &body), BS_ECORRUPT);
    /* A truncated wrapper, and a packed id list cut inside a varint. */
    reqs = NULL;
    idv = NULL;
    assert_int_equal(srv_tikv_batch_parse(S("\x0a\x05\x7a", 3), &reqs, &nr, &idv, &ni),
                     BS_ECORRUPT);
    bs_free(reqs);
    bs_free(idv);
    reqs = NULL;
    idv = NULL;
    assert_int_equal(srv_tikv_batch_parse(S("\x12\x01\xff", 3), &reqs, &nr, &idv, &ni),
                     BS_ECORRUPT);
    bs_free(reqs);
    bs_free(idv);
    bs_buf_free(&two);
    bs_buf_free(&m);
    bs_buf_free(&r);
    bs_buf_free(&ids);
}

/* ---- arena --------------------------------------------------------------------------------- */

static void test_arena(void **state)
{
    (void)state;
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    char *s = srv_grpc_arena_strdup(&a, "hello");
    assert_string_equal(s, "hello");
    assert_string_equal(srv_grpc_arena_strdup(&a, NULL), "");
    for (int i = 0; i < 1000; i++) {
        uint64_t *p = srv_grpc_arena_alloc(&a, 24);
        assert_true(((uintptr_t)p & 15) == 0);
        assert_true(p[0] == 0 && p[1] == 0 && p[2] == 0);
        p[2] = 7;
    }
    unsigned char *big = srv_grpc_arena_alloc(&a, 100000); /* larger than a block */
    big[99999] = 1;
    ProtobufCBinaryData b = srv_grpc_arena_bytes(&a, S("xyz", 3));
    assert_true(b.len == 3 && memcmp(b.data, "xyz", 3) == 0);
    assert_string_equal(s, "hello");
    srv_grpc_arena_free(&a);
    assert_null(a.head);
}

/* ---- conversions -------------------------------------------------------------------------- */

static Errorpb__Error *roundtrip_error(const cluster_region_error *e)
{
    srv_grpc_arena a = SRV_GRPC_ARENA_INIT;
    bs_buf b = BS_BUF_INIT;
    srv_grpc_pack(&srv_grpc_region_error_to_pb(&a, e, "why")->base, &b);
    srv_grpc_arena_free(&a);
    Errorpb__Error *m = errorpb__error__unpack(NULL, b.len, b.ptr);
    bs_buf_free(&b);
    assert_non_null(m);
    assert_string_equal(m->message, "why");
    return m;
}

static void test_region_errors(void **state)
{
    (void)state;
    cluster_region_error e;
    cluster_region_error_init(&e);
    e.kind = CLUSTER_RERR_NOT_LEADER;
    e.region_id = 5;
    e.has_leader = true;
    e.leader.id = 7;
    e.leader.store_id = 2;
    Errorpb__Error *m = roundtrip_error(&e);
    assert_true(m->not_leader && m->not_leader->region_id == 5 && m->not_leader->leader &&
                m->not_leader->leader->id == 7 && m->not_leader->leader->store_id == 2);
    errorpb__error__free_unpacked(m, NULL);

    e.has_leader = false;
    m = roundtrip_error(&e);
    assert_true(m->not_leader && !m->not_leader->leader);
    errorpb__error__free_unpacked(m, NULL);

    cluster_region_error_deinit(&e);
    e.kind = CLUSTER_RERR_EPOCH_NOT_MATCH;
    e.region_id = 5;
    e.regions = bs_calloc(2, sizeof(cluster_region));
    e.n_regions = 2;
    pd_peer p = {9, 1, PD_PEER_VOTER, false};
    pd_region_epoch ep = {1, 3};
    pd_region_init(&e.regions[0]);
    pd_region_init(&e.regions[1]);
    pd_region_set(&e.regions[0], 5, S("", 0), S("m", 1), ep, &p, 1);
    pd_region_set(&e.regions[1], 6, S("m", 1), S("", 0), ep, &p, 1);
    m = roundtrip_error(&e);
    assert_true(m->epoch_not_match && m->epoch_not_match->n_current_regions == 2);
    assert_int_equal(m->epoch_not_match->current_regions[1]->id, 6);
    assert_int_equal(m->epoch_not_match->current_regions[1]->region_epoch->version, 3);
    assert_int_equal(m->epoch_not_match->current_regions[0]->end_key.len, 1);
    errorpb__error__free_unpacked(m, NULL);
    cluster_region_error_deinit(&e);

    e.kind = CLUSTER_RERR_KEY_NOT_IN_REGION;
    e.region_id = 4;
    bs_buf_set(&e.key, "k", 1);
    bs_buf_set(&e.start_key, "a", 1);
    m = roundtrip_error(&e);
    assert_true(m->key_not_in_region && m->key_not_in_region->region_id == 4 &&
                m->key_not_in_region->key.len == 1 && m->key_not_in_region->start_key.len == 1 &&
                m->key_not_in_region->end_key.len == 0);
    errorpb__error__free_unpacked(m, NULL);
    cluster_region_error_deinit(&e);

    const cluster_region_error_kind kinds[] = {
        CLUSTER_RERR_REGION_NOT_FOUND, CLUSTER_RERR_SERVER_IS_BUSY, CLUSTER_RERR_STALE_COMMAND,
        CLUSTER_RERR_RAFT_ENTRY_TOO_LARGE};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        e.kind = kinds[i];
        e.region_id = 3;
        e.entry_size = 99;
        m = roundtrip_error(&e);
        switch (kinds[i]) {
        case CLUSTER_RERR_REGION_NOT_FOUND:
            assert_true(m->region_not_found && m->region_not_found->region_id == 3);
            break;
        case CLUSTER_RERR_SERVER_IS_BUSY:
            assert_true(m->server_is_busy && strlen(m->server_is_busy->reason) > 0);
            break;
        case CLUSTER_RERR_STALE_COMMAND:
            assert_non_null(m->stale_command);
            break;
        default:
            assert_true(m->raft_entry_too_large && m->raft_entry_too_large->entry_size == 99);
        }
        errorpb__error__free_unpacked(m, NULL);
        cluster_region_error_deinit(&e);
    }
}

static void test_store_and_region_from_pb(void **state)
{
    (void)state;
    char longaddr[PD_ADDR_MAX + 10];
    memset(longaddr, 'a', sizeof longaddr - 1);
    longaddr[sizeof longaddr - 1] = 0;
    Metapb__Store ms = METAPB__STORE__INIT;
    ms.id = 4;
    ms.address = longaddr;
    pd_store st;
    bs_err err;
    assert_int_equal(srv_grpc_store_from_pb(&ms, &st, &err), BS_EINVAL);
    ms.address = "127.0.0.1:20160";
    ms.state = (Metapb__StoreState)77; /* out of range: taken as Up */
    assert_int_equal(srv_grpc_store_from_pb(&ms, &st, &err), BS_OK);
    assert_string_equal(st.address, "127.0.0.1:20160");
    assert_int_equal(st.state, PD_STORE_UP);
    assert_int_equal(srv_grpc_store_from_pb(NULL, &st, &err), BS_EINVAL);

    pd_region r;
    pd_region_init(&r);
    assert_int_equal(srv_grpc_region_from_pb(NULL, &r, &err), BS_EINVAL);
    Metapb__Region mr = METAPB__REGION__INIT;
    assert_int_equal(srv_grpc_region_from_pb(&mr, &r, &err), BS_EINVAL); /* id 0 */
    Metapb__Peer peer = METAPB__PEER__INIT, *peers[2] = {&peer, &peer};
    peer.id = 3;
    peer.store_id = 1;
    peer.role = (Metapb__PeerRole)9; /* out of range: Voter */
    mr.id = 2;
    mr.n_peers = 2;
    mr.peers = peers;
    mr.end_key.len = 2;
    mr.end_key.data = (uint8_t *)"zz";
    assert_int_equal(srv_grpc_region_from_pb(&mr, &r, &err), BS_OK); /* no epoch: 0/0 */
    assert_true(r.id == 2 && r.n_peers == 2 && r.peers[1].role == PD_PEER_VOTER &&
                r.epoch.version == 0 && r.end_key.len == 2);
    pd_region_deinit(&r);
}

static void test_api_names(void **state)
{
    (void)state;
    assert_string_equal(srv_tikv_api_version_name(0), "V1");
    assert_string_equal(srv_tikv_api_version_name(1), "V1ttl");
    assert_string_equal(srv_tikv_api_version_name(2), "V2");
    assert_string_equal(srv_tikv_api_version_name(42), "Unknown");
    /* Every command's BatchCommands number maps back to it. */
    for (size_t i = 0; i < srv_tikv_cmd_count(); i++) {
        const srv_tikv_cmd_def *d = srv_tikv_cmd_at(i);
        if (d->batch_no)
            assert_ptr_equal(srv_tikv_cmd_by_batch_no(d->batch_no), d);
    }
    assert_null(srv_tikv_cmd_by_batch_no(0));
    assert_null(srv_tikv_cmd_by_batch_no(23)); /* PessimisticLock: not served */
}

/* ---- srv_grpc_pool ------------------------------------------------------------------------ */

/* A job that records its number and, when it is the gate, waits until the test opens it:
 * with the only worker held there, the queue fills deterministically. */
typedef struct pool_probe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open, gate_entered;
    int ran[16], n_ran;
    int dropped[16], n_dropped;
} pool_probe;

typedef struct pool_job_arg {
    pool_probe *p;
    int no;
    bool gate;
} pool_job_arg;

static void probe_run(void *arg)
{
    pool_job_arg *j = arg;
    pool_probe *p = j->p;
    pthread_mutex_lock(&p->mu);
    if (j->gate) {
        p->gate_entered = true;
        pthread_cond_broadcast(&p->cv);
        while (!p->open)
            pthread_cond_wait(&p->cv, &p->mu);
    }
    p->ran[p->n_ran++] = j->no;
    pthread_mutex_unlock(&p->mu);
}

static void probe_drop(void *arg)
{
    pool_job_arg *j = arg;
    j->p->dropped[j->p->n_dropped++] = j->no; /* on the stopping thread */
}

static void probe_wait_gate(pool_probe *p)
{
    pthread_mutex_lock(&p->mu);
    while (!p->gate_entered)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void probe_open(pool_probe *p)
{
    pthread_mutex_lock(&p->mu);
    p->open = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void test_pool_order_bound_and_stop(void **state)
{
    (void)state;
    static pool_probe p = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    pool_job_arg jobs[6];
    for (int i = 0; i < 6; i++)
        jobs[i] = (pool_job_arg){&p, i, i == 0};
    srv_grpc_pool *pool = NULL;
    bs_err err;
    assert_int_equal(srv_grpc_pool_new("t", 0, 1, &pool, &err), BS_EINVAL);
    assert_null(pool);
    assert_int_equal(srv_grpc_pool_new("test-pool", 1, 3, &pool, &err), BS_OK);
    assert_int_equal(srv_grpc_pool_submit(pool, probe_run, probe_drop, &jobs[0]), BS_OK);
    probe_wait_gate(&p); /* the worker holds job 0: the queue is empty again */
    for (int i = 1; i <= 3; i++)
        assert_int_equal(srv_grpc_pool_submit(pool, probe_run, probe_drop, &jobs[i]), BS_OK);
    assert_int_equal(srv_grpc_pool_submit(pool, probe_run, probe_drop, &jobs[4]), BS_EBUSY);
    probe_open(&p);
    srv_grpc_pool_stop(pool); /* waits for job 0; jobs 1..3 run or are dropped, never both */
    assert_int_equal(srv_grpc_pool_submit(pool, probe_run, probe_drop, &jobs[5]), BS_ESTATE);
    srv_grpc_pool_stop(pool); /* idempotent */
    assert_int_equal(p.n_ran + p.n_dropped, 4);
    assert_true(p.n_ran >= 1 && p.ran[0] == 0);
    for (int i = 1; i < p.n_ran; i++)
        assert_int_equal(p.ran[i], i); /* submission order */
    for (int i = 0; i < p.n_dropped; i++)
        assert_int_equal(p.dropped[i], p.n_ran + i); /* the tail of the queue */
    srv_grpc_pool_free(pool);
    srv_grpc_pool_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_fields),
        cmocka_unit_test(test_wire_rejects),
        cmocka_unit_test(test_wire_write),
        cmocka_unit_test(test_batch_parse),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_region_errors),
        cmocka_unit_test(test_store_and_region_from_pb),
        cmocka_unit_test(test_api_names),
        cmocka_unit_test(test_pool_order_bound_and_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
