"""test_grpc.py -- a real gRPC peer (grpcio) driving Basalt's native PD and TiKV services
the way client-go does: GetMembers, a Tso stream, GetRegion with a memcomparable region key,
GetStore, then Raw* requests carrying a full kvrpcpb.Context, and BatchCommands.

  test_grpc.py --pb DIR --pd PORT --store PORT [--redis PORT] [-k SUBSTRING]
  test_grpc.py --pb DIR --pd PORT --store PORT --scan-load

With --redis (basalt-server's RESP port) the Redis interop tests run too: a value written
with redis-cli is read with RawGet/RawGetKeyTTL in keyspace 0, and a RawPut with GET.

DIR holds the <name>_pb2.py modules tests/grpc/gen.sh generates from proto/. Run it with
Debian's interpreter (/usr/bin/python3), which has python3-grpcio and python3-protobuf.
Prints one line per test ("ok NAME" or "FAIL NAME: why") and ends with
"python: N passed, N failed". Nothing here measures time: every wait is a bounded RPC
deadline, and only outcomes are asserted.
"""
import argparse
import queue
import sys
import traceback

import grpc

OPTS = [("grpc.enable_http_proxy", 0),
        ("grpc.max_receive_message_length", 16 << 20),
        ("grpc.max_send_message_length", 16 << 20)]
DEADLINE = 20

TESTS = []
# Tests that change the store for everyone after them (a Region split, a safe ts that
# pushes max_ts past the causal ts batch): they run after every other test.
LATE_TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def late_test(fn):
    LATE_TESTS.append(fn)
    return fn


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def expect_status(fn, code, what, detail=None):
    try:
        fn()
    except grpc.RpcError as e:
        check(e.code() == code, "%s: got %s (%s), want %s" % (what, e.code(), e.details(), code))
        if detail is not None:
            check(detail in (e.details() or ""), "%s: details %r lack %r" % (what, e.details(), detail))
        return e
    raise Fail("%s: no error, want %s" % (what, code))


# ---- encodings (PROTOCOL.md §4) ------------------------------------------------------------

def mce(b):
    """Memcomparable encoding: 8-byte groups, each followed by 0xFF - padding."""
    out = bytearray()
    i = 0
    while True:
        g = b[i:i + 8]
        if len(g) == 8:
            out += g + b"\xff"
            i += 8
            continue
        pad = 8 - len(g)
        out += g + b"\x00" * pad + bytes([0xFF - pad])
        return bytes(out)


def mce_decode(b):
    out = bytearray()
    i = 0
    while True:
        check(i + 9 <= len(b), "truncated memcomparable key %r" % b)
        g, marker = b[i:i + 8], b[i + 8]
        pad = 0xFF - marker
        check(0 <= pad <= 8, "bad marker in %r" % b)
        out += g[:8 - pad]
        i += 9
        if pad:
            check(i == len(b), "trailing bytes in %r" % b)
            return bytes(out)


def v2(user, ks=0):
    return b"r" + ks.to_bytes(3, "big") + user


def prefix_end(p):
    b = bytearray(p)
    while b and b[-1] == 0xFF:
        b.pop()
    b[-1] += 1
    return bytes(b)


def _crc64_table():
    poly = 0xC96C5795D7870F42  # ECMA-182, reflected
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        t.append(c)
    return t


CRC_T = _crc64_table()


def crc64_xz(data):
    c = 0xFFFFFFFFFFFFFFFF
    for b in data:
        c = CRC_T[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFFFFFFFFFF


# ---- the environment -------------------------------------------------------------------------

class Env:
    def __init__(self, pd_port, store_port):
        self.pd_port = pd_port
        self.store_port = store_port
        self.pd = grpc.insecure_channel("127.0.0.1:%d" % pd_port, options=OPTS)
        self.kv = grpc.insecure_channel("127.0.0.1:%d" % store_port, options=OPTS)
        self.cluster_id = None

    def call(self, ch, path, req, resp_cls, **kw):
        f = ch.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                           response_deserializer=resp_cls.FromString)
        return f(req, timeout=kw.pop("timeout", DEADLINE), **kw)

    def raw(self, ch, path, data):
        f = ch.unary_unary(path, request_serializer=None, response_deserializer=None)
        return f(data, timeout=DEADLINE)

    def pd_call(self, method, req, resp_cls):
        return self.call(self.pd, "/pdpb.PD/" + method, req, resp_cls)

    def kv_call(self, method, req, resp_cls):
        return self.call(self.kv, "/tikvpb.Tikv/" + method, req, resp_cls)

    def header(self, cluster_id=None):
        return pdpb.RequestHeader(cluster_id=self.cluster_id if cluster_id is None else cluster_id)

    def route(self, key):
        """client-go's routing: GetRegion(MCE(key)) then GetStore(leader.store_id)."""
        r = self.pd_call("GetRegion", pdpb.GetRegionRequest(header=self.header(),
                                                             region_key=mce(key)),
                         pdpb.GetRegionResponse)
        check(not r.header.HasField("error"), "GetRegion error %s" % r.header.error)
        check(r.HasField("region") and r.HasField("leader"), "GetRegion: no region/leader")
        return r.region, r.leader

    def ctx(self, key, **over):
        region, leader = self.route(key)
        c = kvrpcpb.Context(region_id=region.id, peer=leader, api_version=kvrpcpb.V2,
                            cluster_id=self.cluster_id, keyspace_id=0, keyspace_name="DEFAULT")
        c.region_epoch.CopyFrom(region.region_epoch)
        for k, v in over.items():
            setattr(c, k, v)
        return c

    def kv_retry(self, method, make_req, resp_cls, key):
        """A request with client-go's reaction to retryable region errors (bounded)."""
        for _ in range(50):
            resp = self.kv_call(method, make_req(self.ctx(key)), resp_cls)
            re = resp.region_error
            # EpochNotMatch too: after a split PD may learn the new Regions a moment later
            if resp.HasField("region_error") and (re.HasField("max_timestamp_not_synced") or
                                                 re.HasField("epoch_not_match") or
                                                 re.HasField("server_is_busy") or
                                                 re.HasField("stale_command") or
                                                 re.HasField("not_leader")):
                continue
            return resp
        raise Fail("%s kept failing with region errors: %s" % (method, resp.region_error))

    def put(self, key, value, ttl=0):
        r = self.kv_retry("RawPut", lambda c: kvrpcpb.RawPutRequest(context=c, key=key, value=value,
                                                                     ttl=ttl),
                          kvrpcpb.RawPutResponse, key)
        check(not r.HasField("region_error") and r.error == "", "RawPut: %s %r" % (r.region_error, r.error))

    def get(self, key):
        r = self.kv_retry("RawGet", lambda c: kvrpcpb.RawGetRequest(context=c, key=key),
                          kvrpcpb.RawGetResponse, key)
        check(not r.HasField("region_error") and r.error == "", "RawGet: %s %r" % (r.region_error, r.error))
        return None if r.not_found else r.value


E = None


# ---- PD ----------------------------------------------------------------------------------------

@test
def pd_get_members():
    r = E.pd_call("GetMembers", pdpb.GetMembersRequest(header=pdpb.RequestHeader()),
                  pdpb.GetMembersResponse)
    check(r.header.cluster_id != 0, "cluster id is 0")
    E.cluster_id = r.header.cluster_id
    url = "http://127.0.0.1:%d" % E.pd_port
    check(r.HasField("leader") and list(r.leader.client_urls) == [url],
          "leader client urls %s" % list(r.leader.client_urls))
    check(r.leader.member_id != 0 and r.leader.name != "", "leader id/name")
    check(len(r.members) == 1 and r.members[0].member_id == r.leader.member_id, "members")
    check(r.etcd_leader.member_id == r.leader.member_id, "etcd leader")
    # GetMembers does not check the cluster id.
    r2 = E.pd_call("GetMembers", pdpb.GetMembersRequest(header=pdpb.RequestHeader(cluster_id=42)),
                   pdpb.GetMembersResponse)
    check(r2.header.cluster_id == E.cluster_id, "second GetMembers")


@test
def pd_wrong_cluster_id_refused():
    expect_status(lambda: E.pd_call("GetRegion",
                                    pdpb.GetRegionRequest(header=E.header(E.cluster_id + 1),
                                                          region_key=mce(v2(b"k"))),
                                    pdpb.GetRegionResponse),
                  grpc.StatusCode.FAILED_PRECONDITION, "GetRegion", "mismatch cluster id")
    expect_status(lambda: E.pd_call("GetStore", pdpb.GetStoreRequest(store_id=1),
                                    pdpb.GetStoreResponse),
                  grpc.StatusCode.FAILED_PRECONDITION, "GetStore without header")


def ts_of(resp):
    return (resp.timestamp.physical << 18) | resp.timestamp.logical


@test
def pd_tso_one_stream():
    f = E.pd.stream_stream("/pdpb.PD/Tso", request_serializer=lambda m: m.SerializeToString(),
                           response_deserializer=pdpb.TsoResponse.FromString)
    counts = [1 + (i % 7) for i in range(200)]
    reqs = (pdpb.TsoRequest(header=E.header(), count=c) for c in counts)
    last = 0
    got = 0
    for c, resp in zip(counts, f(reqs, timeout=DEADLINE)):
        check(resp.count == c, "count echo %d != %d" % (resp.count, c))
        check(resp.header.cluster_id == E.cluster_id, "header cluster id")
        check(resp.timestamp.physical > 0 and resp.timestamp.logical >= c - 1, "timestamp %s" % resp.timestamp)
        first = ts_of(resp) - c + 1
        check(first > last, "timestamps went backwards: %d after %d" % (first, last))
        last = ts_of(resp)
        got += 1
    check(got == len(counts), "got %d responses for %d requests" % (got, len(counts)))
    E.last_ts = last


@test
def pd_tso_stream_per_request():
    # client-c style: a new stream for every request, closed after its answer.
    f = E.pd.stream_stream("/pdpb.PD/Tso", request_serializer=lambda m: m.SerializeToString(),
                           response_deserializer=pdpb.TsoResponse.FromString)
    last = getattr(E, "last_ts", 0)
    for i in range(30):
        out = list(f(iter([pdpb.TsoRequest(header=E.header(), count=3)]), timeout=DEADLINE))
        check(len(out) == 1, "one response per stream, got %d" % len(out))
        first = ts_of(out[0]) - 2
        check(first > last, "timestamps went backwards across streams")
        last = ts_of(out[0])


@test
def pd_tso_errors():
    f = E.pd.stream_stream("/pdpb.PD/Tso", request_serializer=lambda m: m.SerializeToString(),
                           response_deserializer=pdpb.TsoResponse.FromString)
    expect_status(lambda: list(f(iter([pdpb.TsoRequest(header=E.header(E.cluster_id ^ 1), count=1)]),
                                 timeout=DEADLINE)),
                  grpc.StatusCode.FAILED_PRECONDITION, "Tso with a wrong cluster id")
    expect_status(lambda: list(f(iter([pdpb.TsoRequest(header=E.header(), count=0)]),
                                 timeout=DEADLINE)),
                  grpc.StatusCode.UNKNOWN, "Tso count 0", "positive")


@test
def pd_bootstrap_and_ids():
    r = E.pd_call("IsBootstrapped", pdpb.IsBootstrappedRequest(header=E.header()),
                  pdpb.IsBootstrappedResponse)
    check(r.bootstrapped, "not bootstrapped")
    region, leader = E.route(v2(b"x"))
    st = E.pd_call("GetStore", pdpb.GetStoreRequest(header=E.header(), store_id=leader.store_id),
                   pdpb.GetStoreResponse)
    b = E.pd_call("Bootstrap", pdpb.BootstrapRequest(header=E.header(), store=st.store, region=region),
                  pdpb.BootstrapResponse)
    check(b.header.error.type == pdpb.ALREADY_BOOTSTRAPPED, "second Bootstrap: %s" % b.header.error)
    a1 = E.pd_call("AllocID", pdpb.AllocIDRequest(header=E.header()), pdpb.AllocIDResponse)
    check(a1.id > 0 and a1.count == 0, "AllocID: %s" % a1)
    a2 = E.pd_call("AllocID", pdpb.AllocIDRequest(header=E.header(), count=5), pdpb.AllocIDResponse)
    check(a2.count == 5 and a2.id >= a1.id + 5, "AllocID block: %s after %d" % (a2, a1.id))
    cc = E.pd_call("GetClusterConfig", pdpb.GetClusterConfigRequest(header=E.header()),
                   pdpb.GetClusterConfigResponse)
    check(cc.cluster.id == E.cluster_id and cc.cluster.max_peer_count > 0, "cluster config %s" % cc)


@test
def pd_stores():
    region, leader = E.route(v2(b"x"))
    st = E.pd_call("GetStore", pdpb.GetStoreRequest(header=E.header(), store_id=leader.store_id),
                   pdpb.GetStoreResponse)
    check(not st.header.HasField("error"), "GetStore error %s" % st.header.error)
    check(st.store.address == "127.0.0.1:%d" % E.store_port, "store address %r" % st.store.address)
    check(st.store.state == metapb.Up, "store state")
    al = E.pd_call("GetAllStores", pdpb.GetAllStoresRequest(header=E.header()),
                   pdpb.GetAllStoresResponse)
    check([s.id for s in al.stores] == [leader.store_id], "GetAllStores %s" % [s.id for s in al.stores])
    bad = E.pd_call("GetStore", pdpb.GetStoreRequest(header=E.header(), store_id=987654),
                    pdpb.GetStoreResponse)
    check(bad.header.error.type == pdpb.UNKNOWN and not bad.HasField("store"), "unknown store")
    ps = E.pd_call("PutStore", pdpb.PutStoreRequest(header=E.header(), store=st.store),
                   pdpb.PutStoreResponse)
    check(not ps.header.HasField("error"), "PutStore of the same store: %s" % ps.header.error)
    hb = E.pd_call("StoreHeartbeat",
                   pdpb.StoreHeartbeatRequest(header=E.header(),
                                              stats=pdpb.StoreStats(store_id=leader.store_id,
                                                                    capacity=1 << 30,
                                                                    available=1 << 29,
                                                                    region_count=1)),
                   pdpb.StoreHeartbeatResponse)
    check(not hb.header.HasField("error") and hb.cluster_version != "", "StoreHeartbeat %s" % hb)
    st2 = E.pd_call("GetStore", pdpb.GetStoreRequest(header=E.header(), store_id=leader.store_id),
                    pdpb.GetStoreResponse)
    check(st2.stats.capacity == 1 << 30, "heartbeat stats kept: %s" % st2.stats)


@test
def pd_store_address_is_the_bound_port():
    # Servers may be started on port 0; what PD hands out must still reach the store:
    # route a key through PD as client-go does and send the request to that address.
    region, leader = E.route(v2(b"addr-probe"))
    st = E.pd_call("GetStore", pdpb.GetStoreRequest(header=E.header(), store_id=leader.store_id),
                   pdpb.GetStoreResponse)
    host, _, port = st.store.address.rpartition(":")
    check(port.isdigit() and int(port) != 0, "GetStore address %r has no port" % st.store.address)
    check(int(port) == E.store_port, "GetStore port %s, the store listens on %d" % (port, E.store_port))
    ch = grpc.insecure_channel(st.store.address, options=OPTS)
    try:
        r = E.call(ch, "/tikvpb.Tikv/RawGet", kvrpcpb.RawGetRequest(context=E.ctx(v2(b"addr-probe")),
                                                                      key=v2(b"addr-probe")),
                   kvrpcpb.RawGetResponse)
        check(not r.HasField("region_error") and r.error == "" and r.not_found,
              "RawGet through the PD address: %s" % r)
    finally:
        ch.close()


@test
def pd_regions():
    key = v2(b"region-probe")
    region, leader = E.route(key)
    # Region bounds are memcomparable region keys (or empty = unbounded).
    start = mce_decode(region.start_key) if region.start_key else b""
    end = mce_decode(region.end_key) if region.end_key else None
    check(start <= key and (end is None or key < end), "key outside its region")
    check(mce(key) >= region.start_key and (not region.end_key or mce(key) < region.end_key),
          "encoded key outside its region")
    check(any(p.id == leader.id and p.store_id == leader.store_id for p in region.peers),
          "leader is not a peer of the region")
    check(region.region_epoch.version >= 1 and region.region_epoch.conf_ver >= 1, "epoch")
    by_id = E.pd_call("GetRegionByID", pdpb.GetRegionByIDRequest(header=E.header(), region_id=region.id),
                      pdpb.GetRegionResponse)
    check(by_id.region == region, "GetRegionByID differs")
    missing = E.pd_call("GetRegionByID", pdpb.GetRegionByIDRequest(header=E.header(), region_id=10 ** 12),
                        pdpb.GetRegionResponse)
    check(not missing.header.HasField("error") and not missing.HasField("region"), "unknown region id")
    first, _ = E.route(b"")
    prev = E.pd_call("GetPrevRegion", pdpb.GetRegionRequest(header=E.header(), region_key=first.start_key),
                     pdpb.GetRegionResponse)
    check(not prev.header.HasField("error") and not prev.HasField("region"), "prev of the first region")
    sc = E.pd_call("ScanRegions", pdpb.ScanRegionsRequest(header=E.header(), limit=100),
                   pdpb.ScanRegionsResponse)
    check(len(sc.regions) >= 1 and len(sc.region_metas) == len(sc.regions) == len(sc.leaders),
          "ScanRegions fills both forms")
    check(sc.regions[0].region == sc.region_metas[0] and sc.regions[0].leader == sc.leaders[0],
          "ScanRegions forms agree")
    check(sc.region_metas[0].start_key == b"", "scan starts at the first region")


@test
def pd_query_region_stream():
    key = v2(b"q")
    region, _ = E.route(key)
    f = E.pd.stream_stream("/pdpb.PD/QueryRegion", request_serializer=lambda m: m.SerializeToString(),
                           response_deserializer=pdpb.QueryRegionResponse.FromString)
    reqs = [pdpb.QueryRegionRequest(header=E.header(), keys=[mce(key)], prev_keys=[b""],
                                    ids=[region.id, 10 ** 12]),
            pdpb.QueryRegionRequest(header=E.header(), ids=[region.id])]
    out = list(f(iter(reqs), timeout=DEADLINE))
    check(len(out) == 2, "two answers, got %d" % len(out))
    check(list(out[0].key_id_map) == [region.id], "key_id_map %s" % list(out[0].key_id_map))
    check(list(out[0].prev_key_id_map) == [0], "prev_key_id_map %s" % list(out[0].prev_key_id_map))
    check(set(out[0].regions_by_id.keys()) == {region.id}, "regions_by_id %s" % list(out[0].regions_by_id))
    check(out[0].regions_by_id[region.id].region == region, "region in the map")
    check(set(out[1].regions_by_id.keys()) == {region.id}, "ids-only query")


@test
def pd_region_heartbeat_stream():
    region, leader = E.route(v2(b"hb"))
    stale = metapb.Region()
    stale.CopyFrom(region)
    stale.region_epoch.version = 0
    stale.region_epoch.conf_ver = 0
    f = E.pd.stream_stream("/pdpb.PD/RegionHeartbeat", request_serializer=lambda m: m.SerializeToString(),
                           response_deserializer=pdpb.RegionHeartbeatResponse.FromString)
    reqs = [pdpb.RegionHeartbeatRequest(header=E.header(), region=stale, leader=leader),
            pdpb.RegionHeartbeatRequest(header=E.header(), region=region)]  # no leader
    out = list(f(iter(reqs), timeout=DEADLINE))
    check(len(out) == 2, "an error answer per rejected heartbeat, got %d" % len(out))
    check(all(o.header.error.type == pdpb.UNKNOWN for o in out), "errors %s" % [o.header.error for o in out])
    check(out[0].region_id == region.id, "error addressed to the region")
    after, _ = E.route(v2(b"hb"))
    check(after == region, "a stale heartbeat changed PD's region")


@test
def pd_split_calls():
    region, _ = E.route(v2(b"split"))
    r = E.pd_call("AskBatchSplit", pdpb.AskBatchSplitRequest(header=E.header(), region=region, split_count=2),
                  pdpb.AskBatchSplitResponse)
    check(not r.header.HasField("error") and len(r.ids) == 2, "AskBatchSplit %s" % r)
    check(all(len(i.new_peer_ids) == len(region.peers) and i.new_region_id > 0 for i in r.ids),
          "one new peer id per peer")
    rb = E.pd_call("ReportBatchSplit", pdpb.ReportBatchSplitRequest(header=E.header(), regions=[region]),
                   pdpb.ReportBatchSplitResponse)
    check(rb.header.error.type == pdpb.UNKNOWN, "a one-region report is refused: %s" % rb.header)


@test
def pd_gc_and_etcd():
    u = E.pd_call("UpdateGCSafePoint", pdpb.UpdateGCSafePointRequest(header=E.header(), safe_point=1000),
                  pdpb.UpdateGCSafePointResponse)
    check(u.new_safe_point >= 1000, "UpdateGCSafePoint %s" % u)
    sp = u.new_safe_point
    u2 = E.pd_call("UpdateGCSafePoint", pdpb.UpdateGCSafePointRequest(header=E.header(), safe_point=10),
                   pdpb.UpdateGCSafePointResponse)
    check(u2.new_safe_point == sp, "safe point went backwards")
    g = E.pd_call("GetGCSafePoint", pdpb.GetGCSafePointRequest(header=E.header()),
                  pdpb.GetGCSafePointResponse)
    check(g.safe_point == sp, "GetGCSafePoint %d" % g.safe_point)
    svc = E.pd_call("UpdateServiceGCSafePoint",
                    pdpb.UpdateServiceGCSafePointRequest(header=E.header(), service_id=b"grpc-test",
                                                         TTL=3600, safe_point=sp + 500),
                    pdpb.UpdateServiceGCSafePointResponse)
    check(svc.min_safe_point == sp + 500 and svc.service_id == b"grpc-test", "service safe point %s" % svc)
    E.pd_call("UpdateServiceGCSafePoint",
              pdpb.UpdateServiceGCSafePointRequest(header=E.header(), service_id=b"grpc-test", TTL=0),
              pdpb.UpdateServiceGCSafePointResponse)
    st = E.pd_call("GetGCState",
                   pdpb.GetGCStateRequest(header=E.header(),
                                          keyspace_scope=pdpb.KeyspaceScope(keyspace_id=0xFFFFFFFF)),
                   pdpb.GetGCStateResponse)
    check(st.gc_state.keyspace_scope.keyspace_id == 0xFFFFFFFF, "scope echoed")
    check(st.gc_state.gc_safe_point == sp and st.gc_state.txn_safe_point >= sp, "GC state %s" % st.gc_state)
    rng = E.call(E.pd, "/etcdserverpb.KV/Range",
                 etcdserverpb.RangeRequest(key=b"/tidb/store/gcworker/saved_safe_point"),
                 etcdserverpb.RangeResponse)
    check(len(rng.kvs) == 1 and rng.kvs[0].value == str(sp).encode(), "etcd safe point %s" % rng)
    ks = E.call(E.pd, "/etcdserverpb.KV/Range",
                etcdserverpb.RangeRequest(key=b"/keyspaces/tidb/0/tidb/store/gcworker/saved_safe_point"),
                etcdserverpb.RangeResponse)
    check(len(ks.kvs) == 1 and ks.kvs[0].value == str(sp).encode(), "keyspace safe point key")
    other = E.call(E.pd, "/etcdserverpb.KV/Range", etcdserverpb.RangeRequest(key=b"/nope"),
                   etcdserverpb.RangeResponse)
    check(len(other.kvs) == 0 and other.count == 0, "unknown etcd key")
    ml = E.call(E.pd, "/etcdserverpb.Cluster/MemberList", etcdserverpb.MemberListRequest(),
                etcdserverpb.MemberListResponse)
    check(len(ml.members) == 1 and list(ml.members[0].clientURLs) == ["http://127.0.0.1:%d" % E.pd_port],
          "MemberList %s" % ml)
    check(ml.members[0].name != "" and not ml.members[0].isLearner, "member name/learner")


@test
def pd_keyspaces():
    r = E.call(E.pd, "/keyspacepb.Keyspace/LoadKeyspace",
               keyspacepb.LoadKeyspaceRequest(header=E.header(), name="DEFAULT"),
               keyspacepb.LoadKeyspaceResponse)
    check(not r.header.HasField("error"), "LoadKeyspace DEFAULT: %s" % r.header.error)
    check(r.keyspace.WhichOneof("keyspace") == "id" and r.keyspace.id == 0, "id is the oneof member 0")
    check(r.keyspace.state == keyspacepb.ENABLED and r.keyspace.name == "DEFAULT", "meta %s" % r.keyspace)
    n = E.call(E.pd, "/keyspacepb.Keyspace/LoadKeyspace",
               keyspacepb.LoadKeyspaceRequest(header=E.header(), name="nope"),
               keyspacepb.LoadKeyspaceResponse)
    check(n.header.error.type == pdpb.ENTRY_NOT_FOUND, "unknown keyspace: %s" % n.header)
    i = E.call(E.pd, "/keyspacepb.Keyspace/LoadKeyspaceByID",
               keyspacepb.LoadKeyspaceByIDRequest(header=E.header(), id=0),
               keyspacepb.LoadKeyspaceResponse)
    check(i.keyspace.name == "DEFAULT", "by id")
    expect_status(lambda: E.call(E.pd, "/keyspacepb.Keyspace/LoadKeyspace",
                                 keyspacepb.LoadKeyspaceRequest(header=E.header(7), name="DEFAULT"),
                                 keyspacepb.LoadKeyspaceResponse),
                  grpc.StatusCode.FAILED_PRECONDITION, "LoadKeyspace with a wrong cluster id")


@test
def health_both_ports():
    for ch in (E.pd, E.kv):
        r = E.call(ch, "/grpc.health.v1.Health/Check", health.HealthCheckRequest(service=""),
                   health.HealthCheckResponse)
        check(r.status == health.HealthCheckResponse.SERVING, "not SERVING")
    expect_status(lambda: E.call(E.kv, "/grpc.health.v1.Health/Check",
                                 health.HealthCheckRequest(service="no.Such"),
                                 health.HealthCheckResponse),
                  grpc.StatusCode.NOT_FOUND, "unknown service")


@test
def unimplemented_and_malformed():
    expect_status(lambda: E.raw(E.pd, "/pdpb.PD/GetClusterInfo", b""), grpc.StatusCode.UNIMPLEMENTED,
                  "GetClusterInfo")
    expect_status(lambda: E.raw(E.kv, "/tikvpb.Tikv/KvPessimisticLock", b""), grpc.StatusCode.UNIMPLEMENTED,
                  "KvPessimisticLock")
    garbage = b"\x0a\xff\xff\xff\xff\x0f"  # field 1, length far past the end
    expect_status(lambda: E.raw(E.pd, "/pdpb.PD/GetRegion", garbage), grpc.StatusCode.INTERNAL,
                  "malformed GetRegion")
    expect_status(lambda: E.raw(E.kv, "/tikvpb.Tikv/RawGet", garbage), grpc.StatusCode.INTERNAL,
                  "malformed RawGet")
    expect_status(lambda: E.raw(E.pd, "/pdpb.PD/GetMembers", b"\x08"), grpc.StatusCode.INTERNAL,
                  "truncated varint")


# ---- TiKV: RawKV -------------------------------------------------------------------------------

@test
def raw_put_get_delete():
    k = v2(b"pg/\x00bin\r\n")
    E.put(k, b"v\x00alue")
    check(E.get(k) == b"v\x00alue", "read back")
    check(E.get(v2(b"pg/missing")) is None, "missing key is not_found")
    E.put(k, b"")
    check(E.get(k) == b"", "empty value is a value")
    r = E.kv_retry("RawDelete", lambda c: kvrpcpb.RawDeleteRequest(context=c, key=k),
                   kvrpcpb.RawDeleteResponse, k)
    check(r.error == "" and not r.HasField("region_error"), "RawDelete %s" % r)
    check(E.get(k) is None, "deleted")


@test
def raw_batch_ops():
    keys = [v2(b"bt/%d" % i) for i in range(5)]
    r = E.kv_retry("RawBatchPut",
                   lambda c: kvrpcpb.RawBatchPutRequest(context=c, pairs=[kvrpcpb.KvPair(key=k, value=b"v" + k)
                                                                          for k in keys]),
                   kvrpcpb.RawBatchPutResponse, keys[0])
    check(r.error == "" and not r.HasField("region_error"), "RawBatchPut %s" % r)
    ask = keys[:3] + [v2(b"bt/none")]
    g = E.kv_retry("RawBatchGet", lambda c: kvrpcpb.RawBatchGetRequest(context=c, keys=ask),
                   kvrpcpb.RawBatchGetResponse, keys[0])
    check([(p.key, p.value) for p in g.pairs] == [(k, b"v" + k) for k in keys[:3]],
          "RawBatchGet omits missing keys: %s" % g.pairs)
    d = E.kv_retry("RawBatchDelete", lambda c: kvrpcpb.RawBatchDeleteRequest(context=c, keys=keys[:2]),
                   kvrpcpb.RawBatchDeleteResponse, keys[0])
    check(d.error == "", "RawBatchDelete %s" % d)
    check(E.get(keys[0]) is None and E.get(keys[2]) == b"v" + keys[2], "batch delete")
    bad = E.kv_retry("RawBatchPut",
                     lambda c: kvrpcpb.RawBatchPutRequest(context=c, pairs=[kvrpcpb.KvPair(key=k, value=b"x")
                                                                            for k in keys[:3]],
                                                          ttls=[1, 2]),
                     kvrpcpb.RawBatchPutResponse, keys[0])
    check("ttls" in bad.error, "ttls length: %r" % bad.error)


@test
def raw_scans():
    p = v2(b"sc/")
    keys = [p + b"%02d" % i for i in range(10)]
    for k in keys:
        E.put(k, b"val-" + k[-2:])
    end = prefix_end(p)
    s = E.kv_retry("RawScan", lambda c: kvrpcpb.RawScanRequest(context=c, start_key=p, end_key=end, limit=4),
                   kvrpcpb.RawScanResponse, p)
    check([kv.key for kv in s.kvs] == keys[:4], "forward scan %s" % [kv.key for kv in s.kvs])
    check(s.kvs[0].value == b"val-00", "values")
    ko = E.kv_retry("RawScan", lambda c: kvrpcpb.RawScanRequest(context=c, start_key=keys[3], end_key=keys[6],
                                                                limit=100, key_only=True),
                    kvrpcpb.RawScanResponse, p)
    check([kv.key for kv in ko.kvs] == keys[3:6] and all(kv.value == b"" for kv in ko.kvs), "key_only")
    rv = E.kv_retry("RawScan", lambda c: kvrpcpb.RawScanRequest(context=c, start_key=end, end_key=p,
                                                                limit=3, reverse=True),
                    kvrpcpb.RawScanResponse, p)
    check([kv.key for kv in rv.kvs] == keys[::-1][:3], "reverse scan %s" % [kv.key for kv in rv.kvs])
    z = E.kv_retry("RawScan", lambda c: kvrpcpb.RawScanRequest(context=c, start_key=p, end_key=end, limit=0),
                   kvrpcpb.RawScanResponse, p)
    check(len(z.kvs) == 0, "limit 0")
    bs = E.kv_retry("RawBatchScan",
                    lambda c: kvrpcpb.RawBatchScanRequest(context=c, each_limit=2,
                                                          ranges=[kvrpcpb.KeyRange(start_key=keys[0], end_key=keys[5]),
                                                                  kvrpcpb.KeyRange(start_key=keys[7], end_key=end)]),
                    kvrpcpb.RawBatchScanResponse, p)
    check([kv.key for kv in bs.kvs] == [keys[0], keys[1], keys[7], keys[8]], "batch scan %s" % bs.kvs)
    # V2 needs both bounds of a range (TiKV's parse_range_mode).
    nb = E.kv_retry("RawScan", lambda c: kvrpcpb.RawScanRequest(context=c, start_key=p, limit=1),
                    kvrpcpb.RawScanResponse, p)
    check(len(nb.kvs) == 1 and "Key mode mismatched" in nb.kvs[0].error.abort, "unbounded scan: %s" % nb)


@test
def raw_cas():
    k = v2(b"cas/1")
    def cas(**kw):
        return E.kv_retry("RawCompareAndSwap", lambda c: kvrpcpb.RawCASRequest(context=c, key=k, **kw),
                          kvrpcpb.RawCASResponse, k)
    r = cas(value=b"a", previous_not_exist=True)
    check(r.succeed and r.previous_not_exist and r.error == "", "create: %s" % r)
    r = cas(value=b"b", previous_not_exist=True)
    check(not r.succeed and not r.previous_not_exist and r.previous_value == b"a", "exists: %s" % r)
    r = cas(value=b"b", previous_value=b"zz")
    check(not r.succeed and r.previous_value == b"a", "wrong previous: %s" % r)
    r = cas(value=b"b", previous_value=b"a")
    check(r.succeed and r.previous_value == b"a", "swap: %s" % r)
    check(E.get(k) == b"b", "swapped value")
    r = cas(previous_value=b"b", delete=True)
    check(r.succeed, "delete: %s" % r)
    check(E.get(k) is None, "deleted by CAS")


@test
def raw_ttl():
    k, plain = v2(b"ttl/1"), v2(b"ttl/plain")
    E.put(k, b"x", ttl=100)
    E.put(plain, b"y")
    def ttl(key):
        return E.kv_retry("RawGetKeyTTL", lambda c: kvrpcpb.RawGetKeyTTLRequest(context=c, key=key),
                          kvrpcpb.RawGetKeyTTLResponse, key)
    t = ttl(k)
    check(not t.not_found and 0 < t.ttl <= 100, "ttl %s" % t)
    check(ttl(plain).ttl == 0 and not ttl(plain).not_found, "no ttl")
    check(ttl(v2(b"ttl/none")).not_found, "missing key")


@test
def raw_delete_range_and_checksum():
    p = v2(b"dr/")
    for s in (b"a", b"b", b"c"):
        E.put(p + s, b"v" + s)
    ck = E.kv_retry("RawChecksum",
                    lambda c: kvrpcpb.RawChecksumRequest(context=c, ranges=[kvrpcpb.KeyRange(start_key=p,
                                                                                             end_key=prefix_end(p))]),
                    kvrpcpb.RawChecksumResponse, p)
    want = 0
    for s in (b"a", b"b", b"c"):
        want ^= crc64_xz(p + s + b"v" + s)
    check(ck.error == "" and ck.total_kvs == 3, "checksum kvs %s" % ck)
    check(ck.total_bytes == sum(len(p + s) + 2 for s in (b"a", b"b", b"c")), "checksum bytes %s" % ck)
    check(ck.checksum == want, "crc64 xor %x != %x" % (ck.checksum, want))
    r = E.kv_retry("RawDeleteRange", lambda c: kvrpcpb.RawDeleteRangeRequest(context=c, start_key=p + b"a",
                                                                             end_key=p + b"c"),
                   kvrpcpb.RawDeleteRangeResponse, p)
    check(r.error == "" and not r.HasField("region_error"), "RawDeleteRange %s" % r)
    check(E.get(p + b"a") is None and E.get(p + b"b") is None and E.get(p + b"c") == b"vc", "range deleted")
    rev = E.kv_retry("RawDeleteRange", lambda c: kvrpcpb.RawDeleteRangeRequest(context=c, start_key=p + b"c",
                                                                               end_key=p + b"a"),
                     kvrpcpb.RawDeleteRangeResponse, p)
    check(rev.error != "", "reversed range refused")


def batch_put(keys, value_of):
    """RawBatchPut of keys (one Region) in chunks of 500."""
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        r = E.kv_retry("RawBatchPut", lambda c: kvrpcpb.RawBatchPutRequest(
            context=c, pairs=[kvrpcpb.KvPair(key=k, value=value_of(k)) for k in chunk]),
            kvrpcpb.RawBatchPutResponse, chunk[0])
        check(r.error == "" and not r.HasField("region_error"), "RawBatchPut %s" % r)


def future(ch, method, req, resp_cls):
    f = ch.unary_unary("/tikvpb.Tikv/" + method, request_serializer=lambda m: m.SerializeToString(),
                       response_deserializer=resp_cls.FromString)
    return f.future(req, timeout=DEADLINE * 3)


@test
def long_reads_and_point_reads_on_other_connections():
    # Reads past 256 keys (and every RawChecksum) run on the store's worker threads; a
    # RawGet on another connection is served meanwhile. Only outcomes are checked: every
    # call completes with the right data.
    p = v2(b"long/")
    keys = [p + b"%05d" % i for i in range(3000)]
    def value_of(k):
        return b"value-" + k[-5:] * 8
    batch_put(keys, value_of)
    end = prefix_end(p)
    other = grpc.insecure_channel("127.0.0.1:%d" % E.store_port, options=OPTS)
    try:
        c = E.ctx(p)
        xp = xk(b"long/")
        fs = {
            "scan": future(other, "RawScan", kvrpcpb.RawScanRequest(context=c, start_key=p, end_key=end,
                                                                    limit=5000), kvrpcpb.RawScanResponse),
            "reverse": future(other, "RawScan", kvrpcpb.RawScanRequest(context=c, start_key=end, end_key=p,
                                                                       limit=1000, reverse=True, key_only=True),
                              kvrpcpb.RawScanResponse),
            "checksum": future(other, "RawChecksum", kvrpcpb.RawChecksumRequest(
                context=c, ranges=[kvrpcpb.KeyRange(start_key=p, end_key=end)]), kvrpcpb.RawChecksumResponse),
            "batch_scan": future(other, "RawBatchScan", kvrpcpb.RawBatchScanRequest(
                context=c, each_limit=2000, ranges=[kvrpcpb.KeyRange(start_key=keys[0], end_key=keys[1000]),
                                                    kvrpcpb.KeyRange(start_key=keys[2000], end_key=end)]),
                kvrpcpb.RawBatchScanResponse),
            "batch_get": future(other, "RawBatchGet", kvrpcpb.RawBatchGetRequest(context=c, keys=keys[:600]),
                                kvrpcpb.RawBatchGetResponse),
            "kv_scan": future(other, "KvScan", kvrpcpb.ScanRequest(context=E.ctx(xp), start_key=xp,
                                                                  end_key=prefix_end(xp), limit=1000,
                                                                  version=tso()), kvrpcpb.ScanResponse),
            "scan_lock": future(other, "KvScanLock", kvrpcpb.ScanLockRequest(context=E.ctx(xp), start_key=xp,
                                                                            end_key=prefix_end(xp), limit=0,
                                                                            max_version=tso()),
                                kvrpcpb.ScanLockResponse),
        }
        for k in keys[::300]:
            check(E.get(k) == value_of(k), "RawGet while long reads run")
        r = {n: f.result() for n, f in fs.items()}
    finally:
        other.close()
    for n, x in r.items():
        check(not x.HasField("region_error"), "%s: region error %s" % (n, x.region_error))
    check([kv.key for kv in r["scan"].kvs] == keys, "long scan: %d keys" % len(r["scan"].kvs))
    check(all(kv.value == value_of(kv.key) for kv in r["scan"].kvs), "long scan values")
    check([kv.key for kv in r["reverse"].kvs] == keys[::-1][:1000], "long reverse scan")
    want = 0
    for k in keys:
        want ^= crc64_xz(k + value_of(k))
    ck = r["checksum"]
    check(ck.error == "" and ck.total_kvs == len(keys) and ck.checksum == want, "long checksum %s" % ck)
    check([kv.key for kv in r["batch_scan"].kvs] == keys[:1000] + keys[2000:], "long batch scan")
    check(sorted(kv.key for kv in r["batch_get"].pairs) == keys[:600], "long batch get")
    check(len(r["kv_scan"].pairs) == 0 and len(r["scan_lock"].locks) == 0, "long txn reads of an empty range")
    # BatchCommands: a long scan and a point read in one message both come back, by id.
    s = Stream(E.kv, "/tikvpb.Tikv/BatchCommands", tikvpb.BatchCommandsResponse)
    s.send(tikvpb.BatchCommandsRequest(
        requests=[breq(RawScan=kvrpcpb.RawScanRequest(context=c, start_key=p, end_key=end, limit=3000)),
                  breq(RawGet=kvrpcpb.RawGetRequest(context=c, key=keys[7]))],
        request_ids=[41, 42]))
    got = batch_answers(s, [41, 42])
    s.close()
    check([kv.key for kv in got[41].RawScan.kvs] == keys, "batched long scan: %d keys" % len(got[41].RawScan.kvs))
    check(got[42].RawGet.value == value_of(keys[7]), "batched RawGet %s" % got[42].RawGet)


@test
def context_region_errors():
    k = v2(b"ctx/1")
    c = E.ctx(k)
    c.region_epoch.version += 1
    r = E.kv_call("RawGet", kvrpcpb.RawGetRequest(context=c, key=k), kvrpcpb.RawGetResponse)
    check(r.region_error.HasField("epoch_not_match"), "epoch: %s" % r.region_error)
    cur = r.region_error.epoch_not_match.current_regions
    check(len(cur) >= 1 and cur[0].id == c.region_id and cur[0].region_epoch.version == c.region_epoch.version - 1,
          "current regions %s" % cur)
    w = E.kv_call("RawPut", kvrpcpb.RawPutRequest(context=c, key=k, value=b"x"), kvrpcpb.RawPutResponse)
    check(w.region_error.HasField("epoch_not_match"), "write with a wrong epoch: %s" % w)
    c = E.ctx(k)
    c.region_id = 10 ** 12
    r = E.kv_call("RawGet", kvrpcpb.RawGetRequest(context=c, key=k), kvrpcpb.RawGetResponse)
    check(r.region_error.region_not_found.region_id == 10 ** 12, "region not found: %s" % r.region_error)
    c = E.ctx(k)
    c.peer.store_id += 100
    r = E.kv_call("RawGet", kvrpcpb.RawGetRequest(context=c, key=k), kvrpcpb.RawGetResponse)
    check(r.region_error.HasField("store_not_match"), "store not match: %s" % r.region_error)
    c = E.ctx(k)
    c.peer.id += 100
    r = E.kv_call("RawGet", kvrpcpb.RawGetRequest(context=c, key=k), kvrpcpb.RawGetResponse)
    check(r.region_error.HasField("mismatch_peer_id"), "peer id: %s" % r.region_error)
    c = E.ctx(k, cluster_id=E.cluster_id + 1)
    expect_status(lambda: E.kv_call("RawGet", kvrpcpb.RawGetRequest(context=c, key=k), kvrpcpb.RawGetResponse),
                  grpc.StatusCode.INVALID_ARGUMENT, "wrong Context.cluster_id")


@late_test
def split_region_then_epoch_not_match_lists_both_halves():
    left, right, at = v2(b"sr/a"), v2(b"sr/m"), v2(b"sr/k")
    E.put(left, b"L")
    E.put(right, b"R")
    old = E.ctx(left)  # the Context of the Region before the split
    r = E.kv_call("SplitRegion", kvrpcpb.SplitRegionRequest(context=old, split_keys=[at], is_raw_kv=True),
                  kvrpcpb.SplitRegionResponse)
    check(not r.HasField("region_error") and len(r.errors) == 0, "SplitRegion: %s" % r)
    check(len(r.regions) == 2, "two Regions after one split key: %s" % r.regions)
    lo, hi = r.regions
    check(hi.id == old.region_id and lo.id != old.region_id, "right-derive: the old id keeps the right half")
    check(lo.end_key == mce(at) == hi.start_key, "split at the key: %r %r" % (lo.end_key, hi.start_key))
    check(lo.region_epoch.version > old.region_epoch.version and
          hi.region_epoch.version > old.region_epoch.version, "versions bumped")
    check(r.left == lo and r.right == hi, "deprecated left/right")
    # A request at the old epoch learns both Regions that now cover its old range.
    for key in (left, right):
        g = E.kv_call("RawGet", kvrpcpb.RawGetRequest(context=old, key=key), kvrpcpb.RawGetResponse)
        check(g.region_error.HasField("epoch_not_match"), "old epoch: %s" % g)
        cur = {x.id: x for x in g.region_error.epoch_not_match.current_regions}
        check(lo.id in cur and hi.id in cur, "current regions %s, want %d and %d" % (list(cur), lo.id, hi.id))
        check(cur[lo.id].end_key == mce(at) and cur[hi.id].start_key == mce(at), "bounds of the halves")
    # Routed afresh, each half serves its keys.
    check(E.get(left) == b"L" and E.get(right) == b"R", "both halves serve their keys")
    bad = E.kv_call("SplitRegion", kvrpcpb.SplitRegionRequest(context=E.ctx(at), split_keys=[xk(b"sr/k")],
                                                              is_raw_kv=True), kvrpcpb.SplitRegionResponse)
    check(len(bad.errors) == 1 and "not a RawKV key" in bad.errors[0].abort, "txn key in a raw split: %s" % bad)


@test
def api_version_and_key_mode():
    k = v2(b"api/1")
    for ver, name in ((kvrpcpb.V1, "V1"), (kvrpcpb.V1TTL, "V1ttl")):
        c = E.ctx(k, api_version=ver)
        r = E.kv_call("RawGet", kvrpcpb.RawGetRequest(context=c, key=k), kvrpcpb.RawGetResponse)
        want = ("Api version in request does not match with TiKV storage, cmd: raw_get, storage: V2, "
                "request: %s" % name)
        check(r.error == want, "%s error %r" % (name, r.error))
        w = E.kv_call("RawPut", kvrpcpb.RawPutRequest(context=c, key=b"plain", value=b"x"), kvrpcpb.RawPutResponse)
        check(w.error.startswith("Api version in request does not match"), "v1 put %r" % w.error)
    c = E.ctx(k)
    t = E.kv_call("RawGet", kvrpcpb.RawGetRequest(context=c, key=b"x\x00\x00\x00k"), kvrpcpb.RawGetResponse)
    check(t.error == "Key mode mismatched with the request mode, cmd: raw_get, storage: V2, key: 780000006B",
          "txn key in a raw request: %r" % t.error)
    cf = E.kv_call("RawGet", kvrpcpb.RawGetRequest(context=c, key=k, cf="write"), kvrpcpb.RawGetResponse)
    check(cf.error == "cf is deprecated in API V2, cf name: write", "cf %r" % cf.error)
    big = E.kv_call("RawPut", kvrpcpb.RawPutRequest(context=c, key=v2(b"k" * 9000), value=b"x"),
                    kvrpcpb.RawPutResponse)
    check(big.error.startswith("max key size exceeded"), "key size %r" % big.error)


@test
def store_health_feedback():
    h = E.kv_call("GetHealthFeedback", kvrpcpb.GetHealthFeedbackRequest(), kvrpcpb.GetHealthFeedbackResponse)
    check(h.health_feedback.store_id != 0 and h.health_feedback.slow_score >= 1, "feedback %s" % h)


# ---- TiKV: TxnKV (Percolator) ---------------------------------------------------------------

def xk(user):
    return b"x\x00\x00\x00" + user


def tso():
    f = E.pd.stream_stream("/pdpb.PD/Tso", request_serializer=lambda m: m.SerializeToString(),
                           response_deserializer=pdpb.TsoResponse.FromString)
    out = list(f(iter([pdpb.TsoRequest(header=E.header(), count=1)]), timeout=DEADLINE))
    return ts_of(out[0])


def kv(method, make_req, resp_cls, key):
    r = E.kv_retry(method, make_req, resp_cls, key)
    check(not r.HasField("region_error"), "%s region error %s" % (method, r.region_error))
    return r


def prewrite(muts, primary, start, ttl=3000):
    return kv("KvPrewrite", lambda c: kvrpcpb.PrewriteRequest(context=c, mutations=muts, primary_lock=primary,
                                                            start_version=start, lock_ttl=ttl, txn_size=len(muts)),
              kvrpcpb.PrewriteResponse, primary)


def kv_get(key, ts, **kw):
    return kv("KvGet", lambda c: kvrpcpb.GetRequest(context=c, key=key, version=ts, **kw), kvrpcpb.GetResponse, key)


@test
def txn_two_phase_commit():
    k1, k2 = xk(b"2pc/a"), xk(b"2pc/b")
    start = tso()
    pw = prewrite([kvrpcpb.Mutation(op=kvrpcpb.Put, key=k1, value=b"A"),
                   kvrpcpb.Mutation(op=kvrpcpb.Put, key=k2, value=b"B" * 300)], k1, start)
    check(len(pw.errors) == 0, "prewrite errors %s" % pw.errors)
    locked = kv_get(k1, tso())
    check(locked.HasField("error") and locked.error.locked.lock_version == start and
          locked.error.locked.primary_lock == k1, "a read after the prewrite sees the lock: %s" % locked)
    commit_ts = tso()
    cm = kv("KvCommit", lambda c: kvrpcpb.CommitRequest(context=c, start_version=start, keys=[k1, k2],
                                                       commit_version=commit_ts),
            kvrpcpb.CommitResponse, k1)
    check(not cm.HasField("error") and cm.commit_version == commit_ts, "commit %s" % cm)
    g = kv_get(k1, tso(), need_commit_ts=True)
    check(g.value == b"A" and not g.not_found and g.commit_ts == commit_ts, "committed value %s" % g)
    check(kv_get(k1, start).not_found, "invisible at start_ts")
    bg = kv("KvBatchGet", lambda c: kvrpcpb.BatchGetRequest(context=c, keys=[k1, xk(b"2pc/none"), k2],
                                                           version=tso()),
            kvrpcpb.BatchGetResponse, k1)
    check([(p.key, p.value) for p in bg.pairs] == [(k1, b"A"), (k2, b"B" * 300)], "batch get %s" % bg.pairs)
    sc = kv("KvScan", lambda c: kvrpcpb.ScanRequest(context=c, start_key=xk(b"2pc/"), end_key=xk(b"2pc0"),
                                                   limit=10, version=tso()),
            kvrpcpb.ScanResponse, k1)
    check([p.key for p in sc.pairs] == [k1, k2], "scan %s" % [p.key for p in sc.pairs])
    again = kv("KvCommit", lambda c: kvrpcpb.CommitRequest(context=c, start_version=start, keys=[k1],
                                                          commit_version=commit_ts),
               kvrpcpb.CommitResponse, k1)
    check(not again.HasField("error"), "commit is idempotent: %s" % again)


@test
def txn_rollback_and_status():
    k = xk(b"rb/a")
    start = tso()
    check(len(prewrite([kvrpcpb.Mutation(op=kvrpcpb.Put, key=k, value=b"v")], k, start).errors) == 0, "prewrite")
    now = tso()
    st = kv("KvCheckTxnStatus", lambda c: kvrpcpb.CheckTxnStatusRequest(context=c, primary_key=k, lock_ts=start,
                                                                       caller_start_ts=now, current_ts=now),
            kvrpcpb.CheckTxnStatusResponse, k)
    check(st.lock_ttl > 0 and st.commit_version == 0 and st.lock_info.lock_version == start, "alive: %s" % st)
    hb = kv("KvTxnHeartBeat", lambda c: kvrpcpb.TxnHeartBeatRequest(context=c, primary_lock=k, start_version=start,
                                                                   advise_lock_ttl=20000),
            kvrpcpb.TxnHeartBeatResponse, k)
    check(hb.lock_ttl == 20000, "heartbeat %s" % hb)
    rb = kv("KvBatchRollback", lambda c: kvrpcpb.BatchRollbackRequest(context=c, start_version=start, keys=[k]),
            kvrpcpb.BatchRollbackResponse, k)
    check(not rb.HasField("error"), "rollback %s" % rb)
    check(kv_get(k, tso()).not_found, "rolled back")
    now = tso()
    st = kv("KvCheckTxnStatus", lambda c: kvrpcpb.CheckTxnStatusRequest(context=c, primary_key=k, lock_ts=start,
                                                                       caller_start_ts=now, current_ts=now),
            kvrpcpb.CheckTxnStatusResponse, k)
    check(st.lock_ttl == 0 and st.commit_version == 0, "rolled back status %s" % st)
    late = kv("KvCommit", lambda c: kvrpcpb.CommitRequest(context=c, start_version=start, keys=[k],
                                                         commit_version=tso()),
              kvrpcpb.CommitResponse, k)
    check(late.HasField("error") and late.error.HasField("txn_lock_not_found"), "commit after rollback %s" % late)
    missing = kv("KvCheckTxnStatus", lambda c: kvrpcpb.CheckTxnStatusRequest(context=c, primary_key=xk(b"rb/none"),
                                                                            lock_ts=start, caller_start_ts=now,
                                                                            current_ts=now),
                 kvrpcpb.CheckTxnStatusResponse, k)
    check(missing.error.HasField("txn_not_found"), "no txn: %s" % missing)


@test
def txn_conflict_scan_lock_and_resolve():
    k = xk(b"cf/a")
    old_start = tso()
    start = tso()
    check(len(prewrite([kvrpcpb.Mutation(op=kvrpcpb.Put, key=k, value=b"1")], k, start).errors) == 0, "prewrite")
    other = prewrite([kvrpcpb.Mutation(op=kvrpcpb.Put, key=k, value=b"2")], k, old_start)
    check(len(other.errors) == 1 and other.errors[0].locked.lock_version == start, "locked: %s" % other.errors)
    sl = kv("KvScanLock", lambda c: kvrpcpb.ScanLockRequest(context=c, max_version=tso(), start_key=xk(b"cf/"),
                                                           end_key=xk(b"cf0"), limit=10),
            kvrpcpb.ScanLockResponse, k)
    check([(l.key, l.lock_version) for l in sl.locks] == [(k, start)], "scan lock %s" % sl.locks)
    commit_ts = tso()
    rs = kv("KvResolveLock", lambda c: kvrpcpb.ResolveLockRequest(context=c, start_version=start,
                                                                 commit_version=commit_ts),
            kvrpcpb.ResolveLockResponse, k)
    check(not rs.HasField("error"), "resolve %s" % rs)
    check(kv_get(k, tso()).value == b"1", "resolved forward")
    conflict = prewrite([kvrpcpb.Mutation(op=kvrpcpb.Put, key=k, value=b"3")], k, old_start)
    check(len(conflict.errors) == 1 and conflict.errors[0].HasField("conflict") and
          conflict.errors[0].conflict.conflict_commit_ts == commit_ts, "write conflict %s" % conflict.errors)


@test
def txn_key_modes():
    c = E.ctx(xk(b"m"))
    r = E.kv_call("KvGet", kvrpcpb.GetRequest(context=c, key=v2(b"raw"), version=tso()), kvrpcpb.GetResponse)
    check(r.error.abort.startswith("Key mode mismatched with the request mode, cmd: get, storage: V2, key: 72"),
          "raw key in KvGet: %r" % r.error.abort)
    c1 = E.ctx(xk(b"m"), api_version=kvrpcpb.V1TTL)
    r = E.kv_call("KvGet", kvrpcpb.GetRequest(context=c1, key=xk(b"m"), version=1), kvrpcpb.GetResponse)
    check(r.error.abort.startswith("Api version in request does not match"), "V1TTL txn: %r" % r.error.abort)
    pw = E.kv_call("KvPrewrite", kvrpcpb.PrewriteRequest(context=c, mutations=[kvrpcpb.Mutation(key=xk(b"m"))],
                                                         primary_lock=xk(b"m"), start_version=tso(),
                                                         for_update_ts=5),
                   kvrpcpb.PrewriteResponse)
    check(len(pw.errors) == 1 and "pessimistic" in pw.errors[0].abort, "pessimistic prewrite %s" % pw)


# ---- TiKV: GetStoreSafeTS -------------------------------------------------------------------------

def safe_ts(start=b"", end=b""):
    return E.kv_call("GetStoreSafeTS", kvrpcpb.StoreSafeTSRequest(
        key_range=kvrpcpb.KeyRange(start_key=start, end_key=end)), kvrpcpb.StoreSafeTSResponse).safe_ts


def safe_ts_passes(ts, start=b"", end=b""):
    """Polls (bounded: 30 s) until the range's safe ts passes ts; returns the last answer.
    A safe ts trails PD's clock by up to a second (TiKV's resolved ts advances once a
    second; Basalt's follows the causal ts batch while that is recent), so a value is
    eventually safe, not at once: only the outcome is checked, never how long it took."""
    import time
    for _ in range(600):
        s = safe_ts(start, end)
        if s > ts:
            return s
        time.sleep(0.05)
    return s


@late_test
def store_safe_ts_covers_commits():
    # After a commit at commit_ts, the range's safe ts reaches it, and a read at the safe ts
    # (a stale read) sees the value.
    k = xk(b"safets/c/k")
    lo, hi = xk(b"safets/c/"), xk(b"safets/c0")
    start = tso()
    check(len(prewrite([kvrpcpb.Mutation(op=kvrpcpb.Put, key=k, value=b"v1")], k, start).errors) == 0, "prewrite")
    commit_ts = tso()
    cm = kv("KvCommit", lambda c: kvrpcpb.CommitRequest(context=c, start_version=start, keys=[k],
                                                       commit_version=commit_ts), kvrpcpb.CommitResponse, k)
    check(not cm.HasField("error"), "commit %s" % cm)
    s1 = safe_ts_passes(commit_ts - 1, lo, hi)
    check(s1 >= commit_ts, "safe ts %d below the commit at %d" % (s1, commit_ts))
    g = kv_get(k, s1)
    check(g.value == b"v1" and not g.HasField("error"), "read at the safe ts: %s" % g)
    # raw writes too: a raw value written before the call is below the safe ts, so the
    # answer is a ts PD issued after it
    E.put(v2(b"safets/raw"), b"r")
    before = tso()
    s2 = safe_ts_passes(before, v2(b"safets/"), v2(b"safets0"))
    check(s2 > before, "raw range safe ts %d never passed a TSO %d taken after the write" % (s2, before))
    w1 = safe_ts()
    w2 = safe_ts()
    check(0 < w1 <= w2, "whole-store safe ts is positive and never goes back: %d then %d" % (w1, w2))


@late_test
def store_safe_ts_stays_below_locks():
    # A pending Percolator lock holds the safe ts of its range (and the store's) below its
    # start_ts: its commit may still land anywhere above start_ts.
    k = xk(b"safets/l/k")
    lo, hi = xk(b"safets/l/"), xk(b"safets/l0")
    start = tso()
    check(len(prewrite([kvrpcpb.Mutation(op=kvrpcpb.Put, key=k, value=b"v")], k, start, ttl=20000).errors) == 0,
          "prewrite")
    s = safe_ts(lo, hi)
    check(0 < s < start, "range safe ts %d with a lock at %d" % (s, start))
    w = safe_ts()
    check(w < start, "store safe ts %d with a lock at %d" % (w, start))
    # TiKV answers per Region: a range that misses the lock but shares its Region is held
    # back with it; once a split puts the range in a Region of its own, it is not, while a
    # range over both Regions still is.
    check(safe_ts(xk(b"safets/m/"), xk(b"safets/m0")) < start, "a range in the lock's Region is held back")
    sp = E.kv_call("SplitRegion", kvrpcpb.SplitRegionRequest(context=E.ctx(xk(b"safets/m/")),
                                                             split_keys=[xk(b"safets/m/")]),
                   kvrpcpb.SplitRegionResponse)
    check(not sp.HasField("region_error") and len(sp.errors) == 0 and len(sp.regions) == 2, "split %s" % sp)
    check(safe_ts_passes(start, xk(b"safets/m/"), xk(b"safets/m0")) > start,
          "a range in another Region is not held back")
    check(safe_ts(lo, xk(b"safets/m0")) < start, "a range over both Regions is held back")
    rb = kv("KvBatchRollback", lambda c: kvrpcpb.BatchRollbackRequest(context=c, start_version=start, keys=[k]),
            kvrpcpb.BatchRollbackResponse, k)
    check(not rb.HasField("error"), "rollback %s" % rb)
    after = tso()
    check(safe_ts_passes(after, lo, hi) > after, "the range's safe ts moves past the rolled-back lock")
    # On an idle store the safe ts follows fresh TSOs, which raise max_ts past the causal
    # ts batch: writes wait for a new batch (MaxTimestampNotSynced, retried by E.put).
    E.put(v2(b"safets/settle"), b"")


# ---- TiKV: BatchCommands --------------------------------------------------------------------------

class Stream:
    """An interactive bidi stream: send() queues a request, recv() takes the next answer."""

    def __init__(self, ch, path, resp_cls):
        self.q = queue.Queue()
        f = ch.stream_stream(path, request_serializer=lambda m: m.SerializeToString(),
                             response_deserializer=resp_cls.FromString)

        def gen():
            while True:
                item = self.q.get()
                if item is None:
                    return
                yield item
        self.it = f(gen(), timeout=DEADLINE * 2)

    def send(self, m):
        self.q.put(m)

    def recv(self):
        return next(self.it)

    def close(self):
        self.q.put(None)
        return list(self.it)


def batch_answers(stream, ids):
    """Collects answers until every id in ids has one; returns {id: Response}."""
    got = {}
    while not set(ids) <= set(got):
        r = stream.recv()
        check(len(r.responses) == len(r.request_ids), "responses and ids pair up")
        for rid, resp in zip(r.request_ids, r.responses):
            check(rid not in got, "duplicate answer for %d" % rid)
            got[rid] = resp
    return got


def breq(**cmd):
    return tikvpb.BatchCommandsRequest.Request(**cmd)


@test
def batch_commands():
    s = Stream(E.kv, "/tikvpb.Tikv/BatchCommands", tikvpb.BatchCommandsResponse)
    k1, k2 = v2(b"bc/1"), v2(b"bc/2")
    c = E.ctx(k1)
    s.send(tikvpb.BatchCommandsRequest(
        requests=[breq(RawPut=kvrpcpb.RawPutRequest(context=c, key=k1, value=b"one")),
                  breq(RawPut=kvrpcpb.RawPutRequest(context=c, key=k2, value=b"two"))],
        request_ids=[11, 12]))
    got = batch_answers(s, [11, 12])
    for i in (11, 12):
        check(got[i].WhichOneof("cmd") == "RawPut", "answer kind %s" % got[i].WhichOneof("cmd"))
        check(got[i].RawPut.error == "" and not got[i].RawPut.HasField("region_error"), "put %s" % got[i])
    bad = kvrpcpb.Context()
    bad.CopyFrom(c)
    bad.region_epoch.version += 1
    s.send(tikvpb.BatchCommandsRequest(
        requests=[breq(RawGet=kvrpcpb.RawGetRequest(context=c, key=k1)),
                  breq(RawBatchGet=kvrpcpb.RawBatchGetRequest(context=c, keys=[k1, k2])),
                  breq(RawScan=kvrpcpb.RawScanRequest(context=c, start_key=k1, end_key=prefix_end(k2), limit=10)),
                  breq(Empty=tikvpb.BatchCommandsEmptyRequest(test_id=77)),
                  breq(PessimisticLock=kvrpcpb.PessimisticLockRequest(context=c, primary_lock=b"x\x00\x00\x00k",
                                                                      start_version=1)),
                  breq(RawGet=kvrpcpb.RawGetRequest(context=bad, key=k1)),
                  breq()],
        request_ids=[21, 22, 23, 24, 25, 26, 27]))
    got = batch_answers(s, [21, 22, 23, 24, 25, 26, 27])
    check(got[21].RawGet.value == b"one", "batched get %s" % got[21])
    check([p.value for p in got[22].RawBatchGet.pairs] == [b"one", b"two"], "batched batch get")
    check([kv.key for kv in got[23].RawScan.kvs] == [k1, k2], "batched scan")
    check(got[24].WhichOneof("cmd") == "Empty" and got[24].Empty.test_id == 77, "Empty %s" % got[24])
    check(got[25].WhichOneof("cmd") == "PessimisticLock" and
          "not supported" in got[25].PessimisticLock.region_error.message,
          "unsupported command answered in its slot: %s" % got[25])
    check(got[26].RawGet.region_error.HasField("epoch_not_match"), "batched epoch error")
    check(got[27].WhichOneof("cmd") is None, "a request without a command gets an empty answer")
    xkey = b"x\x00\x00\x00bc/txn"
    start = tso()
    s.send(tikvpb.BatchCommandsRequest(
        requests=[breq(Prewrite=kvrpcpb.PrewriteRequest(context=c, primary_lock=xkey, start_version=start,
                                                        lock_ttl=3000,
                                                        mutations=[kvrpcpb.Mutation(key=xkey, value=b"tx")]))],
        request_ids=[28]))
    got = batch_answers(s, [28])
    check(got[28].WhichOneof("cmd") == "Prewrite" and len(got[28].Prewrite.errors) == 0, "batched prewrite")
    s.send(tikvpb.BatchCommandsRequest(
        requests=[breq(Commit=kvrpcpb.CommitRequest(context=c, start_version=start, keys=[xkey],
                                                    commit_version=tso()))],
        request_ids=[29]))
    got = batch_answers(s, [29])
    check(got[29].Commit.commit_version > start and not got[29].Commit.HasField("error"), "batched commit: %s" % got[29])
    s.send(tikvpb.BatchCommandsRequest(requests=[breq(Get=kvrpcpb.GetRequest(context=c, key=xkey, version=tso()))],
                                       request_ids=[30]))
    got = batch_answers(s, [30])
    check(got[30].Get.value == b"tx", "batched KvGet %s" % got[30])
    # Empty with a delay, answered later; then a clean close.
    s.send(tikvpb.BatchCommandsRequest(requests=[breq(Empty=tikvpb.BatchCommandsEmptyRequest(test_id=5,
                                                                                             delay_time=50))],
                                       request_ids=[31]))
    got = batch_answers(s, [31])
    check(got[31].Empty.test_id == 5, "delayed Empty")
    rest = s.close()
    check(rest == [], "nothing after close: %s" % rest)


@test
def batch_commands_refusals():
    k = v2(b"bc/x")
    c = E.ctx(k, cluster_id=E.cluster_id + 1)
    s = Stream(E.kv, "/tikvpb.Tikv/BatchCommands", tikvpb.BatchCommandsResponse)
    s.send(tikvpb.BatchCommandsRequest(requests=[breq(RawGet=kvrpcpb.RawGetRequest(context=c, key=k))],
                                       request_ids=[1]))
    expect_status(s.recv, grpc.StatusCode.INVALID_ARGUMENT, "BatchCommands with a wrong cluster id")
    s.q.put(None)
    f = E.kv.stream_stream("/tikvpb.Tikv/BatchCommands", request_serializer=None, response_deserializer=None)
    expect_status(lambda: list(f(iter([b"\x0a\x05\x7a\x03\x0a"]), timeout=DEADLINE)),
                  grpc.StatusCode.INTERNAL, "malformed BatchCommandsRequest")


@test
def cancellations_leave_the_server_healthy():
    # A BatchCommands stream abandoned while its writes are in flight: the server finishes
    # the call at once and drops the answers that come later; only the outcome afterwards
    # is checked. The stream is cancelled after its first answer, so its HEADERS surely
    # reached the server (grpcio may otherwise send RST_STREAM for a stream it never
    # opened, which RFC 7540 §6.4 makes a connection error for any HTTP/2 server).
    keys = [v2(b"cancel/%d" % i) for i in range(60)]
    c = E.ctx(keys[0])
    s = Stream(E.kv, "/tikvpb.Tikv/BatchCommands", tikvpb.BatchCommandsResponse)
    s.send(tikvpb.BatchCommandsRequest(requests=[breq(Empty=tikvpb.BatchCommandsEmptyRequest(test_id=1))],
                                       request_ids=[1]))
    batch_answers(s, [1])
    s.send(tikvpb.BatchCommandsRequest(
        requests=[breq(RawPut=kvrpcpb.RawPutRequest(context=c, key=k, value=b"v")) for k in keys] +
                 [breq(Empty=tikvpb.BatchCommandsEmptyRequest(test_id=2, delay_time=2000))],
        request_ids=list(range(10, 10 + len(keys) + 1))))
    s.it.cancel()
    s.q.put(None)
    E.put(keys[0], b"after")
    check(E.get(keys[0]) == b"after", "the store still serves")
    r = E.call(E.kv, "/grpc.health.v1.Health/Check", health.HealthCheckRequest(), health.HealthCheckResponse)
    check(r.status == health.HealthCheckResponse.SERVING, "healthy")


# ---- Redis interop (basalt-server only: --redis PORT) ------------------------------------------

REDIS_TESTS = []
REDIS_PORT = None


def redis_test(fn):
    REDIS_TESTS.append(fn)
    return fn


def redis_cli(*args):
    """One command through /usr/bin/redis-cli on 127.0.0.1:REDIS_PORT; its raw reply."""
    import subprocess
    r = subprocess.run(["/usr/bin/redis-cli", "-h", "127.0.0.1", "-p", str(REDIS_PORT), "--raw"] +
                       [a if isinstance(a, str) else a.decode("latin-1") for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=DEADLINE)
    check(r.returncode == 0, "redis-cli %s: status %d %r" % (args, r.returncode, r.stderr))
    return r.stdout.rstrip(b"\n")


@redis_test
def redis_set_ex_visible_to_raw_get_and_ttl():
    check(redis_cli("SET", "interop/k", "v", "EX", "100") == b"OK", "SET EX")
    k = v2(b"interop/k", ks=0)
    check(E.get(k) == b"v", "RawGet of a Redis SET in keyspace 0: %r" % E.get(k))
    t = E.kv_retry("RawGetKeyTTL", lambda c: kvrpcpb.RawGetKeyTTLRequest(context=c, key=k),
                   kvrpcpb.RawGetKeyTTLResponse, k)
    check(t.error == "" and not t.HasField("region_error"), "RawGetKeyTTL %s" % t)
    check(not t.not_found and 0 < t.ttl <= 100, "RawGetKeyTTL of SET EX 100: %s" % t)


@redis_test
def raw_put_visible_to_redis_get():
    k = v2(b"interop/raw", ks=0)
    E.put(k, b"from-rawput")
    check(redis_cli("GET", "interop/raw") == b"from-rawput", "redis-cli GET of a RawPut")
    check(redis_cli("TTL", "interop/raw") == b"-1", "a RawPut without ttl has no expiry")


# ---- shutdown under load (run.sh: --scan-load) -------------------------------------------------------

def scan_load():
    """Keeps long RawScans in flight on 4 connections (more than the store's workers, so
    some wait in its queue) and prints SCANNING once one came back whole; run.sh then stops
    the server. Each connection stops at the first failure of the server going away
    (UNAVAILABLE, CANCELLED); any other error or a scan with wrong contents is a failure.
    Returns the exit status: 0 when every answer that came was right."""
    import threading
    p = v2(b"load/")
    keys = [p + b"%06d" % i for i in range(20000)]
    batch_put(keys, lambda k: k[-6:] * 16)
    end = prefix_end(p)
    bad = []
    done = [0]
    lock = threading.Lock()

    def loop():
        ch = grpc.insecure_channel("127.0.0.1:%d" % E.store_port, options=OPTS)
        f = ch.unary_unary("/tikvpb.Tikv/RawScan", request_serializer=lambda m: m.SerializeToString(),
                           response_deserializer=kvrpcpb.RawScanResponse.FromString)
        c = E.ctx(p)
        while True:
            try:
                r = f(kvrpcpb.RawScanRequest(context=c, start_key=p, end_key=end, limit=len(keys)),
                      timeout=DEADLINE * 3)
            except grpc.RpcError as e:
                if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                    with lock:
                        bad.append("%s: %s" % (e.code(), e.details()))
                break
            ok = not r.HasField("region_error") and len(r.kvs) == len(keys) and \
                r.kvs[0].key == keys[0] and r.kvs[-1].key == keys[-1]
            with lock:
                if not ok:
                    bad.append("scan answered %d keys, region error %s" % (len(r.kvs), r.region_error))
                done[0] += 1
                if done[0] == 1:
                    print("SCANNING", flush=True)
            if not ok:
                break
        ch.close()

    ts = [threading.Thread(target=loop) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("scan-load: %d scans answered, %d bad%s" % (done[0], len(bad), "".join("\n  " + b for b in bad[:5])),
          flush=True)
    return 0 if not bad and done[0] > 0 else 1


# ---- main --------------------------------------------------------------------------------------------

def main():
    global E, REDIS_PORT, pdpb, kvrpcpb, tikvpb, metapb, keyspacepb, etcdserverpb, health
    ap = argparse.ArgumentParser()
    ap.add_argument("--pb", required=True)
    ap.add_argument("--pd", type=int, required=True)
    ap.add_argument("--store", type=int, required=True)
    ap.add_argument("--redis", type=int, default=0,
                    help="the server's RESP port: also run the Redis interop tests")
    ap.add_argument("-k", default="")
    ap.add_argument("--scan-load", action="store_true",
                    help="keep long scans in flight until the server stops (run.sh's shutdown check)")
    a = ap.parse_args()
    REDIS_PORT = a.redis or None
    sys.path.insert(0, a.pb)
    import pdpb_pb2 as pdpb
    import kvrpcpb_pb2 as kvrpcpb
    import tikvpb_pb2 as tikvpb
    import metapb_pb2 as metapb
    import keyspacepb_pb2 as keyspacepb
    import etcdserverpb_pb2 as etcdserverpb
    import health_pb2 as health
    E = Env(a.pd, a.store)
    grpc.channel_ready_future(E.pd).result(timeout=DEADLINE)
    grpc.channel_ready_future(E.kv).result(timeout=DEADLINE)
    if a.scan_load:
        pd_get_members()  # learns the cluster id
        return scan_load()
    passed = failed = 0
    for t in TESTS + (REDIS_TESTS if REDIS_PORT else []) + LATE_TESTS:
        if a.k and a.k not in t.__name__ and t.__name__ != "pd_get_members":
            continue
        try:
            t()
            passed += 1
            print("ok %s" % t.__name__, flush=True)
        except Fail as e:
            failed += 1
            print("FAIL %s: %s" % (t.__name__, e), flush=True)
        except Exception as e:  # an RPC error or a bug in the test: report, go on
            failed += 1
            print("FAIL %s: %s: %s" % (t.__name__, type(e).__name__, e), flush=True)
            traceback.print_exc()
    print("python: %d passed, %d failed" % (passed, failed), flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
