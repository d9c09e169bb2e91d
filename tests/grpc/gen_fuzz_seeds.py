"""gen_fuzz_seeds.py -- writes the seed corpus of tests/fuzz/fuzz_grpc_requests.c.

  /usr/bin/python3 tests/grpc/gen_fuzz_seeds.py PB_DIR OUT_DIR

PB_DIR holds the modules tests/grpc/gen.sh generates. Each seed is
  selector byte, flags byte, message
as the fuzz target reads them (see its header comment for the selector order). Store
requests address the fuzz store's first Region: id 2, epoch 1/1, peer 3 on store 1, API V2.
Re-run it when the order of PD methods or store commands changes.
"""
import os
import sys

sys.path.insert(0, sys.argv[1])
import etcdserverpb_pb2 as etcd  # noqa: E402
import keyspacepb_pb2 as ks  # noqa: E402
import kvrpcpb_pb2 as kv  # noqa: E402
import metapb_pb2 as meta  # noqa: E402
import pdpb_pb2 as pd  # noqa: E402
import tikvpb_pb2 as tikv  # noqa: E402

out = sys.argv[2]
os.makedirs(out, exist_ok=True)

PD_METHODS = ["GetMembers", "IsBootstrapped", "Bootstrap", "AllocID", "GetClusterConfig", "GetStore",
              "PutStore", "GetAllStores", "StoreHeartbeat", "GetRegion", "GetPrevRegion", "GetRegionByID",
              "ScanRegions", "AskBatchSplit", "ReportBatchSplit", "GetGCSafePoint", "UpdateGCSafePoint",
              "UpdateServiceGCSafePoint", "GetGCState", "Tso", "RegionHeartbeat", "QueryRegion",
              "LoadKeyspace", "LoadKeyspaceByID", "Range", "MemberList"]
KV_METHODS = ["RawGet", "RawBatchGet", "RawPut", "RawBatchPut", "RawDelete", "RawBatchDelete", "RawScan",
              "RawDeleteRange", "RawBatchScan", "RawGetKeyTTL", "RawCompareAndSwap", "RawChecksum",
              "GetStoreSafeTS", "GetHealthFeedback",
              "KvGet", "KvScan", "KvPrewrite", "KvCommit", "KvCleanup", "KvBatchGet", "KvBatchRollback",
              "KvScanLock", "KvResolveLock", "KvCheckTxnStatus", "KvTxnHeartBeat", "KvCheckSecondaryLocks"]
BATCH = len(PD_METHODS) + len(KV_METHODS)


def k(user):
    return b"r\x00\x00\x00" + user


def region():
    return meta.Region(id=2, region_epoch=meta.RegionEpoch(conf_ver=1, version=1),
                       peers=[meta.Peer(id=3, store_id=1)])


def ctx(**kw):
    c = kv.Context(region_id=2, region_epoch=meta.RegionEpoch(conf_ver=1, version=1),
                   peer=meta.Peer(id=3, store_id=1), api_version=kv.V2)
    for a, v in kw.items():
        setattr(c, a, v)
    return c


def seed(name, sel, msg, flags=1):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([sel, flags]) + msg.SerializeToString())


def pd_seed(method, msg, suffix=""):
    seed("pd_%s%s" % (method, suffix), PD_METHODS.index(method), msg)


def kv_seed(method, msg, suffix=""):
    seed("kv_%s%s" % (method, suffix), len(PD_METHODS) + KV_METHODS.index(method), msg)


h = pd.RequestHeader()
pd_seed("GetMembers", pd.GetMembersRequest())
pd_seed("Tso", pd.TsoRequest(count=10))
pd_seed("GetRegion", pd.GetRegionRequest(region_key=b"r\x00\x00\x00k\x00\x00\x00\xfc"))
pd_seed("GetPrevRegion", pd.GetRegionRequest(region_key=b""))
pd_seed("GetRegionByID", pd.GetRegionByIDRequest(region_id=2))
pd_seed("ScanRegions", pd.ScanRegionsRequest(start_key=b"", limit=10))
pd_seed("QueryRegion", pd.QueryRegionRequest(keys=[b"a"], prev_keys=[b""], ids=[2, 9]))
pd_seed("GetStore", pd.GetStoreRequest(store_id=1))
pd_seed("GetAllStores", pd.GetAllStoresRequest())
pd_seed("StoreHeartbeat", pd.StoreHeartbeatRequest(stats=pd.StoreStats(store_id=1, capacity=100)))
pd_seed("PutStore", pd.PutStoreRequest(store=meta.Store(id=1, address="127.0.0.1:1")))
pd_seed("AllocID", pd.AllocIDRequest(count=3))
pd_seed("Bootstrap", pd.BootstrapRequest(store=meta.Store(id=1, address="a:1"), region=region()))
pd_seed("AskBatchSplit", pd.AskBatchSplitRequest(region=region(), split_count=2))
pd_seed("ReportBatchSplit", pd.ReportBatchSplitRequest(regions=[region(), region()]))
pd_seed("RegionHeartbeat", pd.RegionHeartbeatRequest(region=region(), leader=meta.Peer(id=3, store_id=1)))
pd_seed("UpdateGCSafePoint", pd.UpdateGCSafePointRequest(safe_point=5))
pd_seed("UpdateServiceGCSafePoint", pd.UpdateServiceGCSafePointRequest(service_id=b"s", TTL=10, safe_point=9))
pd_seed("GetGCState", pd.GetGCStateRequest(keyspace_scope=pd.KeyspaceScope(keyspace_id=0xFFFFFFFF)))
pd_seed("LoadKeyspace", ks.LoadKeyspaceRequest(name="DEFAULT"))
pd_seed("LoadKeyspaceByID", ks.LoadKeyspaceByIDRequest(id=0))
seed("pd_Range", PD_METHODS.index("Range"), etcd.RangeRequest(key=b"/tidb/store/gcworker/saved_safe_point"), 0)
seed("pd_MemberList", PD_METHODS.index("MemberList"), etcd.MemberListRequest(), 0)

kv_seed("RawGet", kv.RawGetRequest(context=ctx(), key=k(b"a")))
kv_seed("RawGet", kv.RawGetRequest(context=ctx(api_version=kv.V1), key=k(b"a")), "_v1")
kv_seed("RawBatchGet", kv.RawBatchGetRequest(context=ctx(), keys=[k(b"a"), k(b"b")]))
kv_seed("RawPut", kv.RawPutRequest(context=ctx(), key=k(b"a"), value=b"v", ttl=5))
kv_seed("RawBatchPut", kv.RawBatchPutRequest(context=ctx(), pairs=[kv.KvPair(key=k(b"b"), value=b"w")], ttls=[0]))
kv_seed("RawDelete", kv.RawDeleteRequest(context=ctx(), key=k(b"a")))
kv_seed("RawBatchDelete", kv.RawBatchDeleteRequest(context=ctx(), keys=[k(b"a")]))
kv_seed("RawScan", kv.RawScanRequest(context=ctx(), start_key=k(b""), end_key=b"r\x00\x00\x01", limit=5))
kv_seed("RawScan", kv.RawScanRequest(context=ctx(), start_key=b"r\x00\x00\x01", end_key=k(b""), limit=5,
                                     reverse=True), "_reverse")
kv_seed("RawDeleteRange", kv.RawDeleteRangeRequest(context=ctx(), start_key=k(b"x"), end_key=k(b"y")))
kv_seed("RawBatchScan", kv.RawBatchScanRequest(context=ctx(), each_limit=2,
                                               ranges=[kv.KeyRange(start_key=k(b"a"), end_key=k(b"m"))]))
kv_seed("RawGetKeyTTL", kv.RawGetKeyTTLRequest(context=ctx(), key=k(b"a")))
kv_seed("RawCompareAndSwap", kv.RawCASRequest(context=ctx(), key=k(b"c"), value=b"1", previous_not_exist=True))
kv_seed("RawChecksum", kv.RawChecksumRequest(context=ctx(), ranges=[kv.KeyRange(start_key=k(b""),
                                                                               end_key=b"r\x00\x00\x01")]))
kv_seed("GetStoreSafeTS", kv.StoreSafeTSRequest())
kv_seed("GetHealthFeedback", kv.GetHealthFeedbackRequest())
x = b"x\x00\x00\x00"
kv_seed("KvGet", kv.GetRequest(context=ctx(), key=x + b"a", version=100))
kv_seed("KvScan", kv.ScanRequest(context=ctx(), start_key=x, end_key=b"x\x00\x00\x01", limit=5, version=100))
kv_seed("KvPrewrite", kv.PrewriteRequest(context=ctx(), mutations=[kv.Mutation(op=kv.Put, key=x + b"a", value=b"1"),
                                                                   kv.Mutation(op=kv.Del, key=x + b"b")],
                                         primary_lock=x + b"a", start_version=50, lock_ttl=1000))
kv_seed("KvCommit", kv.CommitRequest(context=ctx(), start_version=50, keys=[x + b"a"], commit_version=60))
kv_seed("KvCleanup", kv.CleanupRequest(context=ctx(), key=x + b"a", start_version=50, current_ts=70))
kv_seed("KvBatchGet", kv.BatchGetRequest(context=ctx(), keys=[x + b"a", x + b"b"], version=100))
kv_seed("KvBatchRollback", kv.BatchRollbackRequest(context=ctx(), start_version=50, keys=[x + b"a"]))
kv_seed("KvScanLock", kv.ScanLockRequest(context=ctx(), max_version=100, start_key=x, end_key=b"x\x00\x00\x01"))
kv_seed("KvResolveLock", kv.ResolveLockRequest(context=ctx(), start_version=50, commit_version=60))
kv_seed("KvCheckTxnStatus", kv.CheckTxnStatusRequest(context=ctx(), primary_key=x + b"a", lock_ts=50,
                                                     caller_start_ts=80, current_ts=80))
kv_seed("KvTxnHeartBeat", kv.TxnHeartBeatRequest(context=ctx(), primary_lock=x + b"a", start_version=50,
                                                 advise_lock_ttl=5000))
kv_seed("KvCheckSecondaryLocks", kv.CheckSecondaryLocksRequest(context=ctx(), keys=[x + b"b"], start_version=50))
R = tikv.BatchCommandsRequest.Request
seed("batch", BATCH, tikv.BatchCommandsRequest(
    requests=[R(RawGet=kv.RawGetRequest(context=ctx(), key=k(b"a"))),
              R(RawPut=kv.RawPutRequest(context=ctx(), key=k(b"z"), value=b"1")),
              R(Empty=tikv.BatchCommandsEmptyRequest(test_id=1)),
              R(Get=kv.GetRequest(context=ctx(), key=b"x\x00\x00\x00a", version=1))],
    request_ids=[1, 2, 3, 4]), 0)
