"""test_redis_py.py -- Debian's python3-redis (redis-py) against a running server.

    /usr/bin/python3 test_redis_py.py HOST PORT

Prints one "PASS name" or "FAIL name: why" line per check and exits 0 when all pass. Uses
database 8 (flushed first) so it does not disturb other checks. Waits are bounded; nothing
asserts on how long anything takes.
"""
import sys
import threading
import time
import traceback

import redis

HOST, PORT = sys.argv[1], int(sys.argv[2])
failures = 0


def check(name):
    """Runs the decorated function as one check; an exception or False is a failure."""

    def run(fn):
        global failures
        try:
            ok = fn()
            if ok is False:
                raise AssertionError("returned False")
            print("PASS redis-py: %s" % name, flush=True)
        except Exception as e:  # noqa: BLE001 -- every failure is reported, none is fatal
            failures += 1
            last = traceback.format_exc().strip().splitlines()[-3:]
            print("FAIL redis-py: %s: %r | %s" % (name, e, " / ".join(last)), flush=True)
        return fn

    return run


r = redis.Redis(host=HOST, port=PORT, db=8, socket_timeout=60)
s = redis.Redis(host=HOST, port=PORT, db=8, socket_timeout=60, decode_responses=True)
r.flushdb()


@check("ping")
def _():
    assert r.ping() is True


@check("set and get, bytes and str")
def _():
    assert r.set(b"py:bin\x00\xff", b"v\r\n\x00") is True
    assert r.get(b"py:bin\x00\xff") == b"v\r\n\x00"
    assert s.set("py:str", "h\u00e9llo") is True
    assert s.get("py:str") == "h\u00e9llo"
    assert r.get("py:missing") is None


@check("set options nx/xx/get")
def _():
    r.delete("py:o")
    assert r.set("py:o", "1", nx=True) is True
    assert r.set("py:o", "2", nx=True) is None
    assert r.set("py:o", "3", xx=True) is True
    assert r.set("py:o", "4", get=True) == b"3"


@check("incr, decr, incrbyfloat")
def _():
    r.delete("py:n")
    assert r.incr("py:n") == 1
    assert r.incrby("py:n", 10) == 11
    assert r.decr("py:n") == 10
    assert abs(r.incrbyfloat("py:n", 0.5) - 10.5) < 1e-9


@check("mset, mget, exists, delete")
def _():
    assert r.mset({"py:a": "1", "py:b": "2"}) is True
    assert r.mget(["py:a", "py:nokey", "py:b"]) == [b"1", None, b"2"]
    assert r.exists("py:a", "py:b", "py:nokey") == 2
    assert r.delete("py:a", "py:b") == 2


@check("pipeline without transaction, 5000 commands")
def _():
    p = r.pipeline(transaction=False)
    for i in range(2500):
        p.set("py:p:%d" % i, i)
        p.get("py:p:%d" % i)
    out = p.execute()
    assert len(out) == 5000
    for i in range(2500):
        assert out[2 * i] is True, out[2 * i]
        assert out[2 * i + 1] == str(i).encode(), (i, out[2 * i + 1])


@check("pipeline reports a failing command in place")
def _():
    r.set("py:text", "abc")
    p = r.pipeline(transaction=False)
    p.incr("py:text")
    p.get("py:text")
    out = p.execute(raise_on_error=False)
    assert isinstance(out[0], redis.ResponseError), out
    assert out[1] == b"abc"


@check("scan_iter finds every key once")
def _():
    want = set()
    p = r.pipeline(transaction=False)
    for i in range(1500):
        k = "py:scan:%d" % i
        want.add(k.encode())
        p.set(k, i)
    p.execute()
    got = list(r.scan_iter(match="py:scan:*", count=100))
    assert len(got) == len(set(got)), "duplicates"
    assert set(got) == want, (len(got), len(want))


@check("keys and dbsize")
def _():
    r.set("py:k1", 1)
    assert b"py:k1" in r.keys("py:k*")
    assert r.dbsize() >= 1


@check("expiry: ex, px, ttl, pttl, persist, expire")
def _():
    r.set("py:e", "v", ex=100)
    assert 90 <= r.ttl("py:e") <= 100
    assert 90000 <= r.pttl("py:e") <= 100000
    assert r.persist("py:e") is True
    assert r.ttl("py:e") == -1
    assert r.expire("py:e", 50) is True
    assert 40 <= r.ttl("py:e") <= 50
    assert r.ttl("py:nokey") == -2


@check("expiry: a key with a short TTL disappears")
def _():
    r.set("py:short", "v", px=200)
    deadline = time.time() + 15
    while r.get("py:short") is not None:
        assert time.time() < deadline, "still there after 15 s"
        time.sleep(0.05)
    assert r.exists("py:short") == 0


@check("setex and getex")
def _():
    r.setex("py:sx", 30, "v")
    assert 20 <= r.ttl("py:sx") <= 30
    assert r.getex("py:sx", persist=True) == b"v"
    assert r.ttl("py:sx") == -1


@check("errors are ResponseError with Redis's text")
def _():
    try:
        r.execute_command("NOSUCHCOMMAND", "x")
        raise AssertionError("no error")
    except redis.ResponseError as e:
        assert str(e).startswith("unknown command 'NOSUCHCOMMAND'"), str(e)
    try:
        r.execute_command("GET")
        raise AssertionError("no error")
    except redis.ResponseError as e:
        assert str(e) == "wrong number of arguments for 'get' command", str(e)


@check("client name, id and list")
def _():
    c = redis.Redis(host=HOST, port=PORT, db=8, client_name="py-named")
    assert c.client_getname() in ("py-named", b"py-named")
    cid = c.client_id()
    clients = r.client_list()
    assert any(x["id"] == str(cid) and x["name"] == "py-named" for x in clients), clients
    c.close()


@check("info parses into a dict")
def _():
    info = r.info()
    assert info["redis_version"].startswith("7."), info["redis_version"]
    assert info["connected_clients"] >= 1
    assert "used_memory" in r.info("memory")
    assert r.info("keyspace").get("db8", {}).get("keys", 0) >= 1


@check("config get and set")
def _():
    assert r.config_get("maxclients") == {"maxclients": "10000"}
    assert r.config_set("timeout", 123) is True
    assert r.config_get("timeout") == {"timeout": "123"}
    r.config_set("timeout", 0)


@check("time and echo")
def _():
    sec, usec = r.time()
    assert abs(sec - time.time()) < 600 and 0 <= usec < 1000000
    assert r.echo(b"x\x00y") == b"x\x00y"


@check("a connection pool shared by threads")
def _():
    pool = redis.ConnectionPool(host=HOST, port=PORT, db=8, max_connections=8)
    errors = []

    def worker(n):
        try:
            c = redis.Redis(connection_pool=pool)
            for i in range(200):
                c.set("py:t:%d:%d" % (n, i), i)
                assert c.get("py:t:%d:%d" % (n, i)) == str(i).encode()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    pool.disconnect()


@check("select another database")
def _():
    c = redis.Redis(host=HOST, port=PORT, db=9)
    c.set("py:db", "nine")
    assert r.get("py:db") is None
    assert c.get("py:db") == b"nine"
    c.flushdb()
    c.close()


r.flushdb()
sys.exit(1 if failures else 0)
