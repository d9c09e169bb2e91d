"""safe_ts_poller.py -- a benchmark helper, not a test: polls tikvpb.Tikv/GetStoreSafeTS
the way client-go does (every --interval seconds, whole key space) until killed, so
utils/bench/grpc_bench can measure RawPut throughput with the poll running and without.

  /usr/bin/python3 tests/grpc/safe_ts_poller.py --pb DIR --store PORT [--interval 2]
      [--ranges N]

With --ranges N each round also asks for N key ranges spread over the raw key space (as
client-go's per-keyspace and per-range calls add up). Prints one line per 10 rounds
(rounds, last safe ts, calls that failed); exits 1 on the first failed call.
DIR holds the *_pb2.py modules from tests/grpc/gen.sh.
"""
import argparse
import sys
import time

import grpc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pb", required=True)
    ap.add_argument("--store", type=int, required=True)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--ranges", type=int, default=0)
    a = ap.parse_args()
    sys.path.insert(0, a.pb)
    import kvrpcpb_pb2 as kvrpcpb
    ch = grpc.insecure_channel("127.0.0.1:%d" % a.store, options=[("grpc.enable_http_proxy", 0)])
    f = ch.unary_unary("/tikvpb.Tikv/GetStoreSafeTS", request_serializer=lambda m: m.SerializeToString(),
                       response_deserializer=kvrpcpb.StoreSafeTSResponse.FromString)
    ranges = [kvrpcpb.KeyRange()]
    for i in range(a.ranges):
        ranges.append(kvrpcpb.KeyRange(start_key=b"r\x00\x00\x00%03d" % i, end_key=b"r\x00\x00\x00%03d" % (i + 1)))
    rounds = 0
    while True:
        for kr in ranges:
            try:
                r = f(kvrpcpb.StoreSafeTSRequest(key_range=kr), timeout=10)
            except grpc.RpcError as e:
                print("GetStoreSafeTS failed: %s %s" % (e.code(), e.details()), flush=True)
                return 1
        rounds += 1
        if rounds % 10 == 0:
            print("rounds=%d safe_ts=%d" % (rounds, r.safe_ts), flush=True)
        time.sleep(a.interval)


if __name__ == "__main__":
    sys.exit(main())
