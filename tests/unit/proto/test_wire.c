/* test_wire.c -- pins the wire format of Basalt's .proto declarations: messages packed with
 * protobuf-c must equal hand-computed bytes (tag = field_number << 3 | wire_type), unknown
 * fields must be skipped, packed and unpacked repeated scalars must both decode, and the
 * generated service descriptors must carry the exact gRPC service and method names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "eraftpb.pb-c.h"
#include "errorpb.pb-c.h"
#include "etcdserverpb.pb-c.h"
#include "health.pb-c.h"
#include "keyspacepb.pb-c.h"
#include "kvrpcpb.pb-c.h"
#include "meta_storagepb.pb-c.h"
#include "metapb.pb-c.h"
#include "pdpb.pb-c.h"
#include "raft_serverpb.pb-c.h"
#include "tikvpb.pb-c.h"

/* Packs msg and compares the bytes with want, printing both on mismatch. */
static void assert_packs_to(const ProtobufCMessage *msg, const uint8_t *want, size_t want_len)
{
    uint8_t buf[512];
    size_t n = protobuf_c_message_get_packed_size(msg);
    assert_true(n <= sizeof buf);
    assert_int_equal(protobuf_c_message_pack(msg, buf), n);
    if (n != want_len || memcmp(buf, want, n) != 0) {
        fprintf(stderr, "%s: got  ", msg->descriptor->name);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "%02x ", buf[i]);
        fprintf(stderr, "\n%s: want ", msg->descriptor->name);
        for (size_t i = 0; i < want_len; i++)
            fprintf(stderr, "%02x ", want[i]);
        fprintf(stderr, "\n");
    }
    assert_int_equal(n, want_len);
    assert_memory_equal(buf, want, n);
}

#define ASSERT_PACKS_TO(msg, ...)                                                          \
    do {                                                                                   \
        static const uint8_t want_[] = {__VA_ARGS__};                                      \
        assert_packs_to((const ProtobufCMessage *)(msg), want_, sizeof want_);             \
    } while (0)

static int bin_eq(ProtobufCBinaryData b, const char *s)
{
    return b.len == strlen(s) && memcmp(b.data, s, b.len) == 0;
}

/* RawPutRequest{context{region_id=7, api_version=V2}, key="k", value="v", ttl=5}. */
static void test_raw_put_request(void **state)
{
    (void)state;
    Kvrpcpb__Context ctx = KVRPCPB__CONTEXT__INIT;
    ctx.region_id = 7;
    ctx.api_version = KVRPCPB__APIVERSION__V2;
    Kvrpcpb__RawPutRequest req = KVRPCPB__RAW_PUT_REQUEST__INIT;
    req.context = &ctx;
    req.key.data = (uint8_t *)"k";
    req.key.len = 1;
    req.value.data = (uint8_t *)"v";
    req.value.len = 1;
    req.ttl = 5;
    ASSERT_PACKS_TO(&req,
                    0x0a, 0x05,             /* 1 context, 5 bytes */
                    0x08, 0x07,             /*   1 region_id = 7 */
                    0xa8, 0x01, 0x02,       /*   21 api_version = V2 (tag 168) */
                    0x12, 0x01, 'k',        /* 2 key */
                    0x1a, 0x01, 'v',        /* 3 value */
                    0x28, 0x05);            /* 5 ttl = 5 */

    static const uint8_t wire[] = {0x0a, 0x05, 0x08, 0x07, 0xa8, 0x01, 0x02, 0x12, 0x01, 'k',
                                   0x1a, 0x01, 'v',  0x28, 0x05, 0x30, 0x01};
    Kvrpcpb__RawPutRequest *got = kvrpcpb__raw_put_request__unpack(NULL, sizeof wire, wire);
    assert_non_null(got);
    assert_non_null(got->context);
    assert_int_equal(got->context->region_id, 7);
    assert_int_equal(got->context->api_version, KVRPCPB__APIVERSION__V2);
    assert_true(bin_eq(got->key, "k"));
    assert_true(bin_eq(got->value, "v"));
    assert_int_equal(got->ttl, 5);
    assert_true(got->for_cas); /* 6 for_cas */
    kvrpcpb__raw_put_request__free_unpacked(got, NULL);
}

/* BatchCommandsRequest with a RawGet in oneof 13 and packed request_ids; the Empty member
 * at 255; a response whose oneof member is an empty message is still encoded. */
static void test_batch_commands(void **state)
{
    (void)state;
    Kvrpcpb__Context ctx = KVRPCPB__CONTEXT__INIT;
    ctx.region_id = 1;
    Kvrpcpb__RawGetRequest get = KVRPCPB__RAW_GET_REQUEST__INIT;
    get.context = &ctx;
    get.key.data = (uint8_t *)"a";
    get.key.len = 1;
    Tikvpb__BatchCommandsRequest__Request r0 = TIKVPB__BATCH_COMMANDS_REQUEST__REQUEST__INIT;
    r0.cmd_case = TIKVPB__BATCH_COMMANDS_REQUEST__REQUEST__CMD_RAW_GET;
    r0.rawget = &get;
    Tikvpb__BatchCommandsEmptyRequest empty = TIKVPB__BATCH_COMMANDS_EMPTY_REQUEST__INIT;
    empty.test_id = 1;
    Tikvpb__BatchCommandsRequest__Request r1 = TIKVPB__BATCH_COMMANDS_REQUEST__REQUEST__INIT;
    r1.cmd_case = TIKVPB__BATCH_COMMANDS_REQUEST__REQUEST__CMD_EMPTY;
    r1.empty = &empty;
    Tikvpb__BatchCommandsRequest__Request *reqs[] = {&r0, &r1};
    uint64_t ids[] = {42, 300};
    Tikvpb__BatchCommandsRequest batch = TIKVPB__BATCH_COMMANDS_REQUEST__INIT;
    batch.n_requests = 2;
    batch.requests = reqs;
    batch.n_request_ids = 2;
    batch.request_ids = ids;
    ASSERT_PACKS_TO(&batch,
                    0x0a, 0x09,                         /* 1 requests[0], 9 bytes */
                    0x6a, 0x07,                         /*   13 RawGet, 7 bytes (tag 106) */
                    0x0a, 0x02, 0x08, 0x01,             /*     1 context{region_id=1} */
                    0x12, 0x01, 'a',                    /*     2 key */
                    0x0a, 0x05,                         /* 1 requests[1], 5 bytes */
                    0xfa, 0x0f, 0x02, 0x08, 0x01,       /*   255 Empty{test_id=1} (tag 2042) */
                    0x12, 0x03, 0x2a, 0xac, 0x02);      /* 2 request_ids packed: 42, 300 */

    Kvrpcpb__RawPutResponse put = KVRPCPB__RAW_PUT_RESPONSE__INIT;
    Tikvpb__BatchCommandsResponse__Response p0 = TIKVPB__BATCH_COMMANDS_RESPONSE__RESPONSE__INIT;
    p0.cmd_case = TIKVPB__BATCH_COMMANDS_RESPONSE__RESPONSE__CMD_RAW_PUT;
    p0.rawput = &put;
    Kvrpcpb__RawGetResponse gr = KVRPCPB__RAW_GET_RESPONSE__INIT;
    gr.value.data = (uint8_t *)"v";
    gr.value.len = 1;
    Tikvpb__BatchCommandsResponse__Response p1 = TIKVPB__BATCH_COMMANDS_RESPONSE__RESPONSE__INIT;
    p1.cmd_case = TIKVPB__BATCH_COMMANDS_RESPONSE__RESPONSE__CMD_RAW_GET;
    p1.rawget = &gr;
    Tikvpb__BatchCommandsResponse__Response *resps[] = {&p0, &p1};
    uint64_t rids[] = {7, 42};
    Tikvpb__BatchCommandsResponse resp = TIKVPB__BATCH_COMMANDS_RESPONSE__INIT;
    resp.n_responses = 2;
    resp.responses = resps;
    resp.n_request_ids = 2;
    resp.request_ids = rids;
    ASSERT_PACKS_TO(&resp,
                    0x0a, 0x02, 0x7a, 0x00,             /* 1 responses[0]: 15 RawPut{} */
                    0x0a, 0x05, 0x6a, 0x03,             /* 1 responses[1]: 13 RawGet */
                    0x1a, 0x01, 'v',                    /*     3 value */
                    0x12, 0x02, 0x07, 0x2a);            /* 2 request_ids packed: 7, 42 */

    /* Decoding the request back selects the same oneof members. */
    static const uint8_t wire[] = {0x0a, 0x09, 0x6a, 0x07, 0x0a, 0x02, 0x08, 0x01, 0x12,
                                   0x01, 'a',  0x12, 0x03, 0x2a, 0xac, 0x02};
    Tikvpb__BatchCommandsRequest *got =
        tikvpb__batch_commands_request__unpack(NULL, sizeof wire, wire);
    assert_non_null(got);
    assert_int_equal(got->n_requests, 1);
    assert_int_equal(got->requests[0]->cmd_case,
                     TIKVPB__BATCH_COMMANDS_REQUEST__REQUEST__CMD_RAW_GET);
    assert_int_equal(got->requests[0]->rawget->context->region_id, 1);
    assert_true(bin_eq(got->requests[0]->rawget->key, "a"));
    assert_int_equal(got->n_request_ids, 2);
    assert_int_equal(got->request_ids[0], 42);
    assert_int_equal(got->request_ids[1], 300);
    tikvpb__batch_commands_request__free_unpacked(got, NULL);
}

/* pdpb.TsoResponse: Timestamp.physical/logical are int64 varints (not zigzag). */
static void test_tso_response(void **state)
{
    (void)state;
    Pdpb__ResponseHeader hdr = PDPB__RESPONSE_HEADER__INIT;
    hdr.cluster_id = 1;
    Pdpb__Timestamp ts = PDPB__TIMESTAMP__INIT;
    ts.physical = 1700000000000LL;
    ts.logical = 5;
    Pdpb__TsoResponse resp = PDPB__TSO_RESPONSE__INIT;
    resp.header = &hdr;
    resp.count = 3;
    resp.timestamp = &ts;
    ASSERT_PACKS_TO(&resp,
                    0x0a, 0x02, 0x08, 0x01,                     /* 1 header{cluster_id=1} */
                    0x10, 0x03,                                 /* 2 count = 3 */
                    0x1a, 0x09,                                 /* 3 timestamp, 9 bytes */
                    0x08, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31,   /*   1 physical */
                    0x10, 0x05);                                /*   2 logical = 5 */

    Pdpb__RequestHeader rh = PDPB__REQUEST_HEADER__INIT;
    rh.cluster_id = 9;
    Pdpb__TsoRequest req = PDPB__TSO_REQUEST__INIT;
    req.header = &rh;
    req.count = 1;
    ASSERT_PACKS_TO(&req, 0x0a, 0x02, 0x08, 0x09, 0x10, 0x01);
}

/* errorpb.Error{message, epoch_not_match (5){current_regions=[region]}}. */
static void test_region_error_epoch_not_match(void **state)
{
    (void)state;
    Metapb__RegionEpoch epoch = METAPB__REGION_EPOCH__INIT;
    epoch.conf_ver = 1;
    epoch.version = 3;
    Metapb__Peer peer = METAPB__PEER__INIT;
    peer.id = 3;
    peer.store_id = 1;
    Metapb__Peer *peers[] = {&peer};
    Metapb__Region region = METAPB__REGION__INIT;
    region.id = 2;
    region.start_key.data = (uint8_t *)"a";
    region.start_key.len = 1;
    region.end_key.data = (uint8_t *)"b";
    region.end_key.len = 1;
    region.region_epoch = &epoch;
    region.n_peers = 1;
    region.peers = peers;
    Metapb__Region *regions[] = {&region};
    Errorpb__EpochNotMatch enm = ERRORPB__EPOCH_NOT_MATCH__INIT;
    enm.n_current_regions = 1;
    enm.current_regions = regions;
    Errorpb__Error err = ERRORPB__ERROR__INIT;
    err.message = "epoch";
    err.epoch_not_match = &enm;
    ASSERT_PACKS_TO(&err,
                    0x0a, 0x05, 'e', 'p', 'o', 'c', 'h',    /* 1 message */
                    0x2a, 0x16,                             /* 5 epoch_not_match, 22 bytes */
                    0x0a, 0x14,                             /*   1 current_regions[0], 20 */
                    0x08, 0x02,                             /*     1 id = 2 */
                    0x12, 0x01, 'a',                        /*     2 start_key */
                    0x1a, 0x01, 'b',                        /*     3 end_key */
                    0x22, 0x04, 0x08, 0x01, 0x10, 0x03,     /*     4 region_epoch{1, 3} */
                    0x2a, 0x04, 0x08, 0x03, 0x10, 0x01);    /*     5 peers[0]{id 3, store 1} */

    /* Other region errors sit at their own numbers; empty bodies are still encoded. */
    Errorpb__NotLeader nl = ERRORPB__NOT_LEADER__INIT;
    nl.region_id = 2;
    nl.leader = &peer;
    Errorpb__MaxTimestampNotSynced mts = ERRORPB__MAX_TIMESTAMP_NOT_SYNCED__INIT;
    Errorpb__Error err2 = ERRORPB__ERROR__INIT;
    err2.not_leader = &nl;
    err2.max_timestamp_not_synced = &mts;
    ASSERT_PACKS_TO(&err2,
                    0x12, 0x08, 0x08, 0x02,                 /* 2 not_leader{region_id=2, */
                    0x12, 0x04, 0x08, 0x03, 0x10, 0x01,     /*   leader{3, 1}} */
                    0x52, 0x00);                            /* 10 max_timestamp_not_synced{} */

    /* Fields 16-18 keep their CamelCase names. */
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(&errorpb__error__descriptor,
                                                        "RecoveryInProgress");
    assert_non_null(f);
    assert_int_equal(f->id, 16);
    f = protobuf_c_message_descriptor_get_field_by_name(&errorpb__error__descriptor,
                                                        "FlashbackNotPrepared");
    assert_non_null(f);
    assert_int_equal(f->id, 18);
    f = protobuf_c_message_descriptor_get_field(&errorpb__error__descriptor, 22);
    assert_non_null(f);
    assert_string_equal(f->name, "undetermined_result");
}

/* pdpb.GetRegionResponse{header, region, leader, pending_peers (6)}. */
static void test_get_region_response(void **state)
{
    (void)state;
    Pdpb__ResponseHeader hdr = PDPB__RESPONSE_HEADER__INIT;
    hdr.cluster_id = 9;
    Metapb__RegionEpoch epoch = METAPB__REGION_EPOCH__INIT;
    epoch.conf_ver = 1;
    epoch.version = 1;
    Metapb__Peer leader = METAPB__PEER__INIT;
    leader.id = 3;
    leader.store_id = 1;
    Metapb__Peer pending = METAPB__PEER__INIT;
    pending.id = 4;
    pending.store_id = 2;
    Metapb__Peer *peers[] = {&leader};
    Metapb__Peer *pendings[] = {&pending};
    Metapb__Region region = METAPB__REGION__INIT;
    region.id = 2;
    region.region_epoch = &epoch;
    region.n_peers = 1;
    region.peers = peers;
    Pdpb__GetRegionResponse resp = PDPB__GET_REGION_RESPONSE__INIT;
    resp.header = &hdr;
    resp.region = &region;
    resp.leader = &leader;
    resp.n_pending_peers = 1;
    resp.pending_peers = pendings;
    ASSERT_PACKS_TO(&resp,
                    0x0a, 0x02, 0x08, 0x09,                 /* 1 header{cluster_id=9} */
                    0x12, 0x0e,                             /* 2 region, 14 bytes */
                    0x08, 0x02,                             /*   1 id = 2 (empty keys omitted) */
                    0x22, 0x04, 0x08, 0x01, 0x10, 0x01,     /*   4 region_epoch{1, 1} */
                    0x2a, 0x04, 0x08, 0x03, 0x10, 0x01,     /*   5 peers[0] */
                    0x1a, 0x04, 0x08, 0x03, 0x10, 0x01,     /* 3 leader */
                    0x32, 0x04, 0x08, 0x04, 0x10, 0x02);    /* 6 pending_peers[0] */

    Pdpb__RequestHeader rh = PDPB__REQUEST_HEADER__INIT;
    rh.cluster_id = 9;
    Pdpb__GetRegionRequest req = PDPB__GET_REGION_REQUEST__INIT;
    req.header = &rh;
    req.region_key.data = (uint8_t *)"k";
    req.region_key.len = 1;
    ASSERT_PACKS_TO(&req, 0x0a, 0x02, 0x08, 0x09, 0x12, 0x01, 'k');
}

/* eraftpb.Message per raft-rs: commit_term = 15, priority = 16 (int64, so -1 is 10 bytes). */
static void test_raft_message(void **state)
{
    (void)state;
    Eraftpb__Entry ent = ERAFTPB__ENTRY__INIT;
    ent.entry_type = ERAFTPB__ENTRY_TYPE__EntryNormal;
    ent.term = 5;
    ent.index = 8;
    ent.data.data = (uint8_t *)"x";
    ent.data.len = 1;
    Eraftpb__Entry *ents[] = {&ent};
    Eraftpb__Message m = ERAFTPB__MESSAGE__INIT;
    m.msg_type = ERAFTPB__MESSAGE_TYPE__MsgAppend;
    m.to = 2;
    m.from = 1;
    m.term = 5;
    m.n_entries = 1;
    m.entries = ents;
    m.commit = 7;
    m.commit_term = 5;
    m.priority = -1;
    ASSERT_PACKS_TO(&m,
                    0x08, 0x03,                                 /* 1 msg_type = MsgAppend */
                    0x10, 0x02,                                 /* 2 to */
                    0x18, 0x01,                                 /* 3 from */
                    0x20, 0x05,                                 /* 4 term */
                    0x3a, 0x07,                                 /* 7 entries[0], 7 bytes */
                    0x10, 0x05, 0x18, 0x08, 0x22, 0x01, 'x',    /*   term, index, data */
                    0x40, 0x07,                                 /* 8 commit */
                    0x78, 0x05,                                 /* 15 commit_term (tag 120) */
                    0x80, 0x01,                                 /* 16 priority (tag 128) */
                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);

    /* The store-to-store envelope wraps it at field 4. */
    Metapb__Peer from = METAPB__PEER__INIT;
    from.id = 1;
    from.store_id = 1;
    Eraftpb__Message hb = ERAFTPB__MESSAGE__INIT;
    hb.msg_type = ERAFTPB__MESSAGE_TYPE__MsgHeartbeat;
    RaftServerpb__RaftMessage rm = RAFT_SERVERPB__RAFT_MESSAGE__INIT;
    rm.region_id = 2;
    rm.from_peer = &from;
    rm.message = &hb;
    ASSERT_PACKS_TO(&rm, 0x08, 0x02, 0x12, 0x04, 0x08, 0x01, 0x10, 0x01, 0x22, 0x02, 0x08,
                    0x08);
}

/* Unknown fields of every wire type (varint, fixed64, length-delimited, fixed32) are
 * skipped, including inside a nested message. */
static void test_unknown_fields_are_skipped(void **state)
{
    (void)state;
    static const uint8_t wire[] = {
        0x0a, 0x0a,                         /* 1 context, 10 bytes */
        0x08, 0x07,                         /*   1 region_id = 7 */
        0xba, 0x01, 0x02, 0x08, 0x01,       /*   23 trace_context (not declared), 2 bytes */
        0xe0, 0x01, 0x05,                   /*   28 as a varint (not declared) */
        0x12, 0x01, 'k',                    /* 2 key */
        0x99, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, /* 99 fixed64 */
        0xa5, 0x06, 1, 2, 3, 4,             /* 100 fixed32 */
        0xa2, 0x06, 0x03, 'x', 'y', 'z',    /* 100 length-delimited */
        0x1a, 0x02, 'c', 'f',               /* 3 cf, after the unknown fields */
    };
    Kvrpcpb__RawGetRequest *got = kvrpcpb__raw_get_request__unpack(NULL, sizeof wire, wire);
    assert_non_null(got);
    assert_non_null(got->context);
    assert_int_equal(got->context->region_id, 7);
    assert_true(bin_eq(got->key, "k"));
    assert_string_equal(got->cf, "cf");
    kvrpcpb__raw_get_request__free_unpacked(got, NULL);

    /* A GetResponse carrying exec_details_v2 (6, not declared) still decodes. */
    static const uint8_t resp_wire[] = {0x1a, 0x01, 'v', 0x32, 0x02, 0x08, 0x01, 0x38, 0x09};
    Kvrpcpb__GetResponse *gr = kvrpcpb__get_response__unpack(NULL, sizeof resp_wire, resp_wire);
    assert_non_null(gr);
    assert_true(bin_eq(gr->value, "v"));
    assert_int_equal(gr->commit_ts, 9);
    kvrpcpb__get_response__free_unpacked(gr, NULL);

    /* Truncated input fails cleanly. */
    assert_null(kvrpcpb__raw_get_request__unpack(NULL, 5, wire));
}

/* Context.resolved_locks (13) decodes packed, unpacked and mixed; we pack it packed. A
 * oneof member (keyspace_id, 32) set to 0 is still encoded. */
static void test_repeated_u64_packed_and_unpacked(void **state)
{
    (void)state;
    static const uint8_t unpacked[] = {0x68, 0x0a, 0x68, 0x0b};
    static const uint8_t packed[] = {0x6a, 0x02, 0x0a, 0x0b};
    static const uint8_t mixed[] = {0x6a, 0x02, 0x0a, 0x0b, 0x68, 0x0c};
    const struct {
        const uint8_t *data;
        size_t len, n;
    } cases[] = {{unpacked, sizeof unpacked, 2}, {packed, sizeof packed, 2},
                 {mixed, sizeof mixed, 3}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Kvrpcpb__Context *c = kvrpcpb__context__unpack(NULL, cases[i].len, cases[i].data);
        assert_non_null(c);
        assert_int_equal(c->n_resolved_locks, cases[i].n);
        for (size_t j = 0; j < cases[i].n; j++)
            assert_int_equal(c->resolved_locks[j], 10 + j);
        kvrpcpb__context__free_unpacked(c, NULL);
    }

    uint64_t locks[] = {10, 11};
    Kvrpcpb__Context ctx = KVRPCPB__CONTEXT__INIT;
    ctx.n_resolved_locks = 2;
    ctx.resolved_locks = locks;
    ctx.keyspace_case = KVRPCPB__CONTEXT__KEYSPACE_KEYSPACE_ID;
    ctx.keyspace_id = 0;
    ASSERT_PACKS_TO(&ctx, 0x6a, 0x02, 0x0a, 0x0b, /* 13 resolved_locks packed */
                    0x80, 0x02, 0x00);            /* 32 keyspace_id = 0 (tag 256) */

    /* RawBatchPutRequest.ttls (6), as Go and Rust send it: packed. */
    static const uint8_t ttls_wire[] = {0x32, 0x02, 0x05, 0x06};
    Kvrpcpb__RawBatchPutRequest *bp =
        kvrpcpb__raw_batch_put_request__unpack(NULL, sizeof ttls_wire, ttls_wire);
    assert_non_null(bp);
    assert_int_equal(bp->n_ttls, 2);
    assert_int_equal(bp->ttls[1], 6);
    kvrpcpb__raw_batch_put_request__free_unpacked(bp, NULL);
}

/* keyspacepb.LoadKeyspaceResponse: KeyspaceMeta.id is oneof member 1, so id 0 is sent. */
static void test_load_keyspace_response(void **state)
{
    (void)state;
    Pdpb__ResponseHeader hdr = PDPB__RESPONSE_HEADER__INIT;
    hdr.cluster_id = 1;
    Keyspacepb__KeyspaceMeta meta = KEYSPACEPB__KEYSPACE_META__INIT;
    meta.keyspace_case = KEYSPACEPB__KEYSPACE_META__KEYSPACE_ID;
    meta.id = 0;
    meta.name = "DEFAULT";
    meta.state = KEYSPACEPB__KEYSPACE_STATE__ENABLED;
    Keyspacepb__LoadKeyspaceResponse resp = KEYSPACEPB__LOAD_KEYSPACE_RESPONSE__INIT;
    resp.header = &hdr;
    resp.keyspace = &meta;
    ASSERT_PACKS_TO(&resp,
                    0x0a, 0x02, 0x08, 0x01,                 /* 1 header */
                    0x12, 0x0b,                             /* 2 keyspace, 11 bytes */
                    0x08, 0x00,                             /*   1 id = 0 (oneof) */
                    0x12, 0x07, 'D', 'E', 'F', 'A', 'U', 'L', 'T');
}

/* Odd field names and packed repeated enums on the PD side; etcd and health bodies. */
static void test_pd_etcd_health_bodies(void **state)
{
    (void)state;
    Pdpb__ServiceMode modes[] = {PDPB__SERVICE_MODE__PD_SVC_MODE};
    Pdpb__GetClusterInfoResponse ci = PDPB__GET_CLUSTER_INFO_RESPONSE__INIT;
    ci.n_servicemodes = 1;
    ci.servicemodes = modes;
    ASSERT_PACKS_TO(&ci, 0x12, 0x01, 0x01); /* 2 serviceModes packed: [PD_SVC_MODE] */
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(
        &pdpb__get_cluster_info_response__descriptor, "serviceModes");
    assert_non_null(f);
    assert_int_equal(f->id, 2);
    f = protobuf_c_message_descriptor_get_field_by_name(
        &pdpb__update_service_gcsafe_point_request__descriptor, "TTL");
    assert_non_null(f);
    assert_int_equal(f->id, 3);
    assert_int_equal(f->type, PROTOBUF_C_TYPE_INT64);

    Pdpb__AllocIDResponse alloc = PDPB__ALLOC_IDRESPONSE__INIT;
    alloc.id = 1000;
    alloc.count = 3;
    ASSERT_PACKS_TO(&alloc, 0x10, 0xe8, 0x07, 0x18, 0x03);

    char *urls[] = {"http://h:1"};
    Etcdserverpb__Member mem = ETCDSERVERPB__MEMBER__INIT;
    mem.id = 1;
    mem.name = "pd";
    mem.n_clienturls = 1;
    mem.clienturls = urls;
    Etcdserverpb__Member *mems[] = {&mem};
    Etcdserverpb__MemberListResponse ml = ETCDSERVERPB__MEMBER_LIST_RESPONSE__INIT;
    ml.n_members = 1;
    ml.members = mems;
    ASSERT_PACKS_TO(&ml,
                    0x12, 0x12,                             /* 2 members[0], 18 bytes */
                    0x08, 0x01,                             /*   1 ID */
                    0x12, 0x02, 'p', 'd',                   /*   2 name */
                    0x22, 0x0a, 'h', 't', 't', 'p', ':', '/', '/', 'h', ':', '1');
    f = protobuf_c_message_descriptor_get_field_by_name(&etcdserverpb__member__descriptor,
                                                        "clientURLs");
    assert_non_null(f);
    assert_int_equal(f->id, 4);

    Mvccpb__KeyValue kv = MVCCPB__KEY_VALUE__INIT;
    kv.key.data = (uint8_t *)"k";
    kv.key.len = 1;
    kv.value.data = (uint8_t *)"42";
    kv.value.len = 2;
    kv.mod_revision = 2;
    Mvccpb__KeyValue *kvs[] = {&kv};
    Etcdserverpb__RangeResponse rr = ETCDSERVERPB__RANGE_RESPONSE__INIT;
    rr.n_kvs = 1;
    rr.kvs = kvs;
    rr.count = 1;
    ASSERT_PACKS_TO(&rr, 0x12, 0x09, 0x0a, 0x01, 'k', 0x18, 0x02, 0x2a, 0x02, '4', '2',
                    0x20, 0x01);

    Grpc__Health__V1__HealthCheckResponse hc = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    hc.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    ASSERT_PACKS_TO(&hc, 0x08, 0x01);
}

/* The gRPC :path is /<service full name>/<method name>: pin both. */
static void assert_methods(const ProtobufCServiceDescriptor *svc, const char *full_name,
                           const char *const *methods, size_t n)
{
    assert_string_equal(svc->name, full_name);
    for (size_t i = 0; i < n; i++) {
        const ProtobufCMethodDescriptor *m =
            protobuf_c_service_descriptor_get_method_by_name(svc, methods[i]);
        if (m == NULL)
            fprintf(stderr, "%s: no method %s\n", full_name, methods[i]);
        assert_non_null(m);
        assert_string_equal(m->name, methods[i]);
    }
}

#define ASSERT_METHODS(svc, full, ...)                                                     \
    do {                                                                                   \
        static const char *const m_[] = {__VA_ARGS__};                                     \
        assert_methods(&(svc), full, m_, sizeof m_ / sizeof m_[0]);                        \
    } while (0)

static void test_service_method_names(void **state)
{
    (void)state;
    ASSERT_METHODS(tikvpb__tikv__descriptor, "tikvpb.Tikv", "RawGet", "RawBatchGet", "RawPut",
                   "RawBatchPut", "RawDelete", "RawBatchDelete", "RawScan", "RawDeleteRange",
                   "RawBatchScan", "RawGetKeyTTL", "RawCompareAndSwap", "RawChecksum", "KvGet",
                   "KvScan", "KvPrewrite", "KvCommit", "KvBatchGet", "KvBatchRollback",
                   "KvCheckTxnStatus", "KvResolveLock", "KvTxnHeartBeat", "KvScanLock",
                   "KvPessimisticLock", "KVPessimisticRollback", "KvCheckSecondaryLocks",
                   "KvCleanup", "KvDeleteRange", "BatchCommands", "Raft", "BatchRaft",
                   "Snapshot", "SplitRegion", "GetStoreSafeTS", "GetHealthFeedback",
                   "UnsafeDestroyRange", "MvccGetByKey", "MvccGetByStartTs");
    /* The lower-case spelling does not exist. */
    assert_null(protobuf_c_service_descriptor_get_method_by_name(&tikvpb__tikv__descriptor,
                                                                 "KvPessimisticRollback"));
    const ProtobufCMethodDescriptor *m =
        protobuf_c_service_descriptor_get_method_by_name(&tikvpb__tikv__descriptor,
                                                         "RawCompareAndSwap");
    assert_ptr_equal(m->input, &kvrpcpb__raw_casrequest__descriptor);
    assert_ptr_equal(m->output, &kvrpcpb__raw_casresponse__descriptor);
    m = protobuf_c_service_descriptor_get_method_by_name(&tikvpb__tikv__descriptor,
                                                         "KVPessimisticRollback");
    assert_ptr_equal(m->input, &kvrpcpb__pessimistic_rollback_request__descriptor);
    m = protobuf_c_service_descriptor_get_method_by_name(&tikvpb__tikv__descriptor,
                                                         "BatchCommands");
    assert_ptr_equal(m->input, &tikvpb__batch_commands_request__descriptor);
    assert_ptr_equal(m->output, &tikvpb__batch_commands_response__descriptor);

    ASSERT_METHODS(pdpb__pd__descriptor, "pdpb.PD", "GetMembers", "Tso", "GetRegion",
                   "GetPrevRegion", "GetRegionByID", "QueryRegion", "ScanRegions",
                   "BatchScanRegions", "GetStore", "GetAllStores", "GetClusterInfo",
                   "GetGCState", "UpdateGCSafePoint", "GetGCSafePoint",
                   "UpdateServiceGCSafePoint", "GetGCSafePointV2", "WatchGCSafePointV2",
                   "UpdateGCSafePointV2", "UpdateServiceSafePointV2", "GetAllGCSafePointV2",
                   "AdvanceGCSafePoint", "AdvanceTxnSafePoint", "SetGCBarrier",
                   "DeleteGCBarrier", "SetGlobalGCBarrier", "DeleteGlobalGCBarrier",
                   "GetAllKeyspacesGCStates", "GetMinTS", "Bootstrap", "IsBootstrapped",
                   "AllocID", "PutStore", "StoreHeartbeat", "RegionHeartbeat", "AskBatchSplit",
                   "ReportBatchSplit", "GetClusterConfig", "ScatterRegion", "SplitRegions",
                   "SplitAndScatterRegions", "GetOperator", "LoadGlobalConfig",
                   "StoreGlobalConfig", "WatchGlobalConfig", "ReportMinResolvedTS",
                   "ReportBuckets");
    m = protobuf_c_service_descriptor_get_method_by_name(&pdpb__pd__descriptor, "GetPrevRegion");
    assert_ptr_equal(m->input, &pdpb__get_region_request__descriptor);
    assert_ptr_equal(m->output, &pdpb__get_region_response__descriptor);
    m = protobuf_c_service_descriptor_get_method_by_name(&pdpb__pd__descriptor, "GetRegionByID");
    assert_ptr_equal(m->output, &pdpb__get_region_response__descriptor);

    ASSERT_METHODS(keyspacepb__keyspace__descriptor, "keyspacepb.Keyspace", "LoadKeyspace",
                   "LoadKeyspaceByID", "GetAllKeyspaces", "WatchKeyspaces",
                   "UpdateKeyspaceState");
    ASSERT_METHODS(etcdserverpb__kv__descriptor, "etcdserverpb.KV", "Range");
    ASSERT_METHODS(etcdserverpb__cluster__descriptor, "etcdserverpb.Cluster", "MemberList");
    ASSERT_METHODS(grpc__health__v1__health__descriptor, "grpc.health.v1.Health", "Check");
    ASSERT_METHODS(meta_storagepb__meta_storage__descriptor, "meta_storagepb.MetaStorage",
                   "Watch", "Get", "Put", "Delete");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_put_request),
        cmocka_unit_test(test_batch_commands),
        cmocka_unit_test(test_tso_response),
        cmocka_unit_test(test_region_error_epoch_not_match),
        cmocka_unit_test(test_get_region_response),
        cmocka_unit_test(test_raft_message),
        cmocka_unit_test(test_unknown_fields_are_skipped),
        cmocka_unit_test(test_repeated_u64_packed_and_unpacked),
        cmocka_unit_test(test_load_keyspace_response),
        cmocka_unit_test(test_pd_etcd_health_bodies),
        cmocka_unit_test(test_service_method_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
