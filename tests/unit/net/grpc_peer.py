"""grpc_peer.py -- a real gRPC peer (grpcio) for Basalt's net/ interop test.

  grpc_peer.py client PORT   call test.Echo on a Basalt server at 127.0.0.1:PORT; exit 0
                             when every reply is as expected, 1 on the first mismatch.
  grpc_peer.py tlsclient PORT CA CERT KEY
                             unary and bidi echo over TLS (ALPN h2, mutual auth).
  grpc_peer.py server        serve test.Py on 127.0.0.1 (free port), print "PORT <n>",
                             and run until stdin closes (or 60 s pass).

Messages are raw bytes: the generic API with no (de)serializers, so nothing here depends
on generated protobuf code. Run with Debian's interpreter (/usr/bin/python3), which has
python3-grpcio.
"""
import sys
import threading
import time

import grpc

OPTS = [("grpc.enable_http_proxy", 0),
        ("grpc.max_receive_message_length", 8 << 20),
        ("grpc.max_send_message_length", 8 << 20)]


def check(cond, what):
    if not cond:
        print("MISMATCH: " + what, file=sys.stderr)
        sys.exit(1)


def expect_status(fn, code, what):
    try:
        fn()
    except grpc.RpcError as e:
        check(e.code() == code, "%s: got %s (%s), want %s" % (what, e.code(), e.details(), code))
        return e
    check(False, "%s: no error, want %s" % (what, code))


def run_client(port):
    ch = grpc.insecure_channel("127.0.0.1:%d" % port, options=OPTS)
    grpc.channel_ready_future(ch).result(timeout=10)
    unary = ch.unary_unary("/test.Echo/Unary", request_serializer=None, response_deserializer=None)

    check(unary(b"hello\x00world", timeout=10) == b"hello\x00world", "unary echo")
    check(unary(b"", timeout=10) == b"", "empty unary")
    big = bytes(range(256)) * (3 * 4096)  # 3 MiB
    check(unary(big, timeout=20) == big, "3 MiB echo")
    expect_status(lambda: unary(b"x" * ((4 << 20) + 1), timeout=20),
                  grpc.StatusCode.RESOURCE_EXHAUSTED, "over-limit message")
    _, call = unary.with_call(b"m", timeout=10, metadata=[("x-basalt-meta", "v1")])
    check(call.code() == grpc.StatusCode.OK, "with_call status")

    meta = ch.unary_unary("/test.Echo/Meta", request_serializer=None, response_deserializer=None)
    check(meta(b"", timeout=10, metadata=[("x-basalt-meta", "from-python")]) == b"from-python",
          "metadata reaches the handler")

    fail = ch.unary_unary("/test.Echo/Fail", request_serializer=None, response_deserializer=None)
    e = expect_status(lambda: fail(b"x", timeout=10), grpc.StatusCode.INVALID_ARGUMENT, "Fail")
    check(e.details() == 'bad "arg" 100% \u00e9\nline2', "grpc-message round trip: %r" % e.details())

    nope = ch.unary_unary("/test.Echo/Nope", request_serializer=None, response_deserializer=None)
    expect_status(lambda: nope(b"x", timeout=10), grpc.StatusCode.UNIMPLEMENTED, "unknown method")

    hang = ch.unary_unary("/test.Echo/Hang", request_serializer=None, response_deserializer=None)
    t0 = time.monotonic()
    expect_status(lambda: hang(b"x", timeout=0.3), grpc.StatusCode.DEADLINE_EXCEEDED, "deadline")
    check(time.monotonic() - t0 < 5, "deadline took too long")

    expect_status(lambda: unary(b"zip" * 100, timeout=10, compression=grpc.Compression.Gzip),
                  grpc.StatusCode.UNIMPLEMENTED, "compressed request")

    asyn = ch.unary_unary("/test.Echo/Async", request_serializer=None, response_deserializer=None)
    check(asyn(b"later", timeout=10) == b"later", "async completion")

    ss = ch.unary_stream("/test.Echo/ServerStream", request_serializer=None,
                         response_deserializer=None)
    got = list(ss(b"50 1000", timeout=20))
    check(len(got) == 50 and all(len(m) == 1000 for m in got), "server streaming")
    check([int.from_bytes(m[:4], "big") for m in got] == list(range(50)), "stream order")

    cs = ch.stream_unary("/test.Echo/ClientStream", request_serializer=None,
                         response_deserializer=None)
    check(cs(iter([b"ab"] * 300), timeout=20) == b"count=300 bytes=600", "client streaming")

    bidi = ch.stream_stream("/test.Echo/Bidi", request_serializer=None,
                            response_deserializer=None)
    msgs = [b"msg-%d" % i for i in range(2000)]
    check(list(bidi(iter(msgs), timeout=30)) == msgs, "bidi echo")

    # Cancel a live stream from this side; the server must survive it.
    it = bidi(iter([b"one"] + [b"x"] * 10), timeout=30)
    check(next(it) == b"one", "bidi first reply")
    it.cancel()
    check(unary(b"after", timeout=10) == b"after", "unary after cancel")
    ch.close()
    print("interop client: all checks passed")


def run_tls_client(port, ca, cert, key):
    def rd(p):
        with open(p, "rb") as f:
            return f.read()
    creds = grpc.ssl_channel_credentials(rd(ca), rd(key), rd(cert))
    ch = grpc.secure_channel("127.0.0.1:%d" % port, creds, options=OPTS)
    grpc.channel_ready_future(ch).result(timeout=10)
    unary = ch.unary_unary("/test.Echo/Unary", request_serializer=None, response_deserializer=None)
    check(unary(b"secret", timeout=10) == b"secret", "TLS unary echo")
    bidi = ch.stream_stream("/test.Echo/Bidi", request_serializer=None,
                            response_deserializer=None)
    msgs = [b"msg-%d" % i for i in range(500)]
    check(list(bidi(iter(msgs), timeout=30)) == msgs, "TLS bidi echo")
    ch.close()
    print("interop tls client: all checks passed")


def serve():
    def unary(req, ctx):
        md = dict(ctx.invocation_metadata())
        return b"py:" + req + (b"|" + md["x-basalt-meta"].encode() if "x-basalt-meta" in md else b"")

    def bidi(it, ctx):
        for m in it:
            yield m

    def sstream(req, ctx):
        n = int(req.decode())
        for i in range(n):
            yield i.to_bytes(4, "big") + b"p" * 1000

    def fail(req, ctx):
        ctx.abort(grpc.StatusCode.FAILED_PRECONDITION, "nope \u00e9 100%")

    def slow(req, ctx):
        time.sleep(5)
        return b"late"

    h = grpc.method_handlers_generic_handler("test.Py", {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
        "ServerStream": grpc.unary_stream_rpc_method_handler(sstream),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
    })
    from concurrent import futures
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=OPTS)
    server.add_generic_rpc_handlers((h,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print("PORT %d" % port, flush=True)
    done = threading.Event()

    def wait_stdin():
        sys.stdin.read()
        done.set()

    threading.Thread(target=wait_stdin, daemon=True).start()
    done.wait(60)
    server.stop(0)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "client":
        run_client(int(sys.argv[2]))
    elif len(sys.argv) == 6 and sys.argv[1] == "tlsclient":
        run_tls_client(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
    elif len(sys.argv) == 2 and sys.argv[1] == "server":
        serve()
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
