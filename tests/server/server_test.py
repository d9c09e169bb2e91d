#!/usr/bin/python3
"""server_test.py BIN LOG_DIR -- the basalt-server suite (see run.sh).

Each check prints "ok <name>" or "FAIL <name>: <why>"; the last line is "N passed, N failed".
Servers listen on 127.0.0.1 only, on port 0 (the bound ports are read from the startup
lines "RESP listening on ...", "status listening on ..."), and are stopped by pid: SIGTERM
for the clean path, SIGKILL for crash checks and for cleanup. Every wait is bounded; no
check asserts on how long something took.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

BIN, LOGS = sys.argv[1], sys.argv[2]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0

passed = 0
failed = 0
servers = []  # every Server started, for cleanup


def check(name, cond, why=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name}: {why}", flush=True)
    return cond


def skip(name, why):
    print(f"skipped: {name} ({why})", flush=True)


class Server:
    """One basalt-server process; its stdout is collected by a reader thread."""

    def __init__(self, tag, data_dir, extra=(), ports=True):
        self.tag = tag
        self.data_dir = data_dir
        self.log = os.path.join(LOGS, f"{tag}.log")
        self.out_path = os.path.join(LOGS, f"{tag}.out")
        args = [BIN, "--log-file", self.log]
        if data_dir:
            args += ["--data-dir", data_dir]
        if ports:
            args += ["--redis-addr", "127.0.0.1:0", "--status-addr", "127.0.0.1:0",
                     "--addr", "127.0.0.1:0", "--pd-addr", "127.0.0.1:0"]
        args += list(extra)
        self.args = args
        self.lines = []
        self.cv = threading.Condition()
        self.eof = False
        self.out = open(self.out_path, "w")
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, text=True)
        servers.append(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stdout:
            self.out.write(line)
            self.out.flush()
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.eof = True
            self.cv.notify_all()

    def wait_line(self, pattern, timeout=START_TIMEOUT):
        """The first output line matching pattern (a regex), or None at timeout or EOF."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for ln in self.lines:
                    m = rx.search(ln)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    return None
                self.cv.wait(min(left, 0.5))

    def output(self):
        with self.cv:
            return "\n".join(self.lines)

    def start(self):
        """Waits for the startup lines; returns True once the status port is known."""
        m = self.wait_line(r"^status listening on 127\.0\.0\.1:(\d+)$")
        if not m:
            return False
        self.status_port = int(m.group(1))
        r = self.wait_line(r"^RESP listening on 127\.0\.0\.1:(\d+)$", timeout=5)
        self.resp_port = int(r.group(1)) if r else 0
        return True

    def wait_exit(self, timeout=STOP_TIMEOUT):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def term(self):
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGTERM)
        return self.wait_exit()

    def kill9(self):
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGKILL)
        return self.wait_exit()

    def http(self, path, data=None):
        """(status code, body) of GET path (POST when data is given) on the status port."""
        url = f"http://127.0.0.1:{self.status_port}{path}"
        try:
            with urllib.request.urlopen(url, data=data, timeout=10) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")


def cleanup():
    for s in servers:
        if s.p.poll() is None:
            os.kill(s.p.pid, signal.SIGKILL)
            s.wait_exit(10)


def on_term(signum, frame):
    cleanup()
    print(f"{passed} passed, {failed + 1} failed (interrupted)", flush=True)
    sys.exit(1)


signal.signal(signal.SIGTERM, on_term)


# ---- a minimal RESP client (no dependency on redis-py) ------------------------------------

class Resp:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def close(self):
        self.s.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-"):
            return (t.decode(), rest.decode("utf-8", "replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError(f"unexpected reply {line!r}")

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.reply()


def resp_cmd(port, *args):
    c = Resp(port)
    try:
        return c.cmd(*args)
    finally:
        c.close()


# ---- checks ---------------------------------------------------------------------------------

def check_status_doc(s, tag):
    code, body = s.http("/status")
    if not check(f"{tag}: GET /status answers 200", code == 200, f"status {code}"):
        return None
    try:
        doc = json.loads(body)
    except ValueError as e:
        check(f"{tag}: /status is JSON", False, str(e))
        return None
    check(f"{tag}: /status is JSON", True)
    regions = doc.get("regions", [])
    check(f"{tag}: /status names the store and cluster",
          doc.get("store_id", 0) > 0 and doc.get("cluster_id", 0) > 0 and "version" in doc,
          body[:200])
    check(f"{tag}: /status lists one Region with a leader on this store",
          len(regions) == 1 and regions[0]["leader"]["store_id"] == doc.get("store_id")
          and regions[0]["start_key"] == "" and regions[0]["end_key"] == "", str(regions))
    addrs = doc.get("addresses", {})
    check(f"{tag}: /status reports the bound status address",
          addrs.get("status") == f"127.0.0.1:{s.status_port}", str(addrs))
    return doc


def check_metrics(s, tag):
    code, body = s.http("/metrics")
    check(f"{tag}: GET /metrics answers 200", code == 200, f"status {code}")
    want = ["basalt_raftstore_fsync_total", "basalt_raft_proposals_total",
            "basalt_raftstore_append_log_duration_seconds_bucket",
            "basalt_raftstore_apply_duration_seconds_count", "basalt_region_count 1",
            'basalt_engine_sst_size_bytes{cf="default"}',
            'basalt_engine_memtable_size_bytes{cf="raft"}',
            'basalt_engine_compaction_pending{cf="default"}',
            'basalt_engine_flush_pending{cf="write"}',
            "basalt_engine_running_compactions ", "basalt_engine_running_flushes "]
    missing = [w for w in want if w not in body]
    check(f"{tag}: /metrics has raft, latency, region and RocksDB metrics", not missing,
          f"missing {missing}")
    code, _ = s.http("/no-such-page")
    check(f"{tag}: an unknown path answers 404", code == 404, f"status {code}")
    code, _ = s.http("/status", data=b"x")
    check(f"{tag}: POST answers 405", code == 405, f"status {code}")
    code, body = s.http("/status?pretty=1")
    check(f"{tag}: a query string is ignored", code == 200 and body.startswith("{"),
          f"status {code}")


def main():
    root = tempfile.mkdtemp(prefix="basalt-server-test-")
    data = os.path.join(root, "data")
    try:
        # -- flags and config errors: exit 1 with a message, nothing started --
        for tag, extra, want in [
            ("bad flag", ["--no-such-flag"], "basalt-server: unknown flag --no-such-flag"),
            ("flag without value", ["--data-dir"], "needs a value"),
            ("bad address", ["--redis-addr", "nowhere"], "bad address"),
            ("bad log level", ["--log-level", "loud"], "log.level"),
            ("--pd (cluster mode)", ["--pd", "127.0.0.1:2379"], "not supported yet"),
            ("missing config file", ["--config", os.path.join(root, "none.toml")],
             "cannot open"),
        ]:
            r = subprocess.run([BIN] + extra, capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL)
            check(f"{tag} exits 1 with a message", r.returncode == 1 and want in r.stderr,
                  f"rc={r.returncode} stderr={r.stderr.strip()!r}")
        bad_cfg = os.path.join(root, "bad.toml")
        with open(bad_cfg, "w") as f:
            f.write("[server]\nno-such-key = 1\n")
        r = subprocess.run([BIN, "--config", bad_cfg], capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        check("unknown config key exits 1 naming file and key",
              r.returncode == 1 and "bad.toml:2" in r.stderr and "no-such-key" in r.stderr,
              f"rc={r.returncode} stderr={r.stderr.strip()!r}")
        r = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=30)
        check("--help exits 0", r.returncode == 0 and "--data-dir" in r.stdout, r.stderr)
        r = subprocess.run([BIN, "--version"], capture_output=True, text=True, timeout=30)
        check("--version exits 0", r.returncode == 0 and "basalt-server" in r.stdout,
              r.stderr)

        # -- first start on a fresh data dir --
        s = Server("first", data)
        if not check("server starts and prints its listening addresses", s.start(),
                     s.output()[-2000:]):
            return
        doc = check_status_doc(s, "first")
        check_metrics(s, "first")
        resp = s.resp_port != 0
        if not resp:
            skip("RESP checks", "no RESP: this basalt-server has no RESP front end")
        if resp:
            check("RESP PING", resp_cmd(s.resp_port, "PING") == ("+", "PONG"))
            check("RESP SET", resp_cmd(s.resp_port, "SET", "greeting", "hello") == ("+", "OK"))
            check("RESP GET", resp_cmd(s.resp_port, "GET", "greeting") == b"hello")
            c = Resp(s.resp_port)
            ok = all(c.cmd("SET", f"k{i}", f"v{i}") == ("+", "OK") for i in range(100))
            c.close()
            check("RESP 100 SETs acknowledged", ok)

        # -- a second server on the same data dir is refused --
        s2 = Server("second", data)
        rc = s2.wait_exit(START_TIMEOUT)
        check("a second server on a data dir in use exits 1 saying so",
              rc == 1 and "in use by another basalt-server" in s2.output(),
              f"rc={rc} out={s2.output()[-500:]!r}")
        check("the first server still answers after that", s.http("/status")[0] == 200)

        # -- a port in use: exit 1 naming it, and nothing left behind --
        clash = [("status", ["--status-addr", f"127.0.0.1:{s.status_port}"])]
        if resp:
            clash.append(("RESP", ["--redis-addr", f"127.0.0.1:{s.resp_port}"]))
        for what, extra in clash:
            s3 = Server(f"clash-{what}", os.path.join(root, f"clash-{what}"), extra=extra)
            rc = s3.wait_exit(START_TIMEOUT)
            check(f"a {what} port in use exits 1 with a message",
                  rc == 1 and "basalt-server:" in s3.output(),
                  f"rc={rc} out={s3.output()[-500:]!r}")

        # -- SIGTERM: clean exit 0 --
        rc = s.term()
        check("SIGTERM exits 0", rc == 0, f"rc={rc} out={s.output()[-500:]!r}")

        # -- restart keeps identity and data --
        s = Server("restart", data)
        if check("server restarts on the same data dir", s.start(), s.output()[-2000:]):
            doc2 = check_status_doc(s, "restart")
            if doc and doc2:
                check("restart keeps store id, cluster id and Region",
                      doc["store_id"] == doc2["store_id"]
                      and doc["cluster_id"] == doc2["cluster_id"]
                      and doc["regions"][0]["id"] == doc2["regions"][0]["id"],
                      f"{doc.get('store_id')} {doc2.get('store_id')}")
            if resp and s.resp_port:
                check("restart keeps data (RESP GET)",
                      resp_cmd(s.resp_port, "GET", "greeting") == b"hello"
                      and resp_cmd(s.resp_port, "GET", "k99") == b"v99")
                # kill -9 after acknowledged writes: none may be lost
                c = Resp(s.resp_port)
                acked = [i for i in range(200)
                         if c.cmd("SET", f"crash{i}", f"value{i}" * 10) == ("+", "OK")]
                c.close()
                check("RESP SETs before kill -9 acknowledged", len(acked) == 200)
        s.kill9()
        s = Server("after-kill", data)
        if check("server restarts after kill -9", s.start(), s.output()[-2000:]):
            if resp and s.resp_port:
                c = Resp(s.resp_port)
                lost = [i for i in range(200)
                        if c.cmd("GET", f"crash{i}") != (f"value{i}" * 10).encode()]
                c.close()
                check("no acknowledged write lost to kill -9", not lost, f"lost {lost[:10]}")
            rc = s.term()
            check("SIGTERM after a crash recovery exits 0", rc == 0, f"rc={rc}")

        # -- status disabled, config file, SIGINT --
        cfg = os.path.join(root, "basalt.toml")
        with open(cfg, "w") as f:
            f.write('[redis]\naddr = "127.0.0.1:0"\n[server]\nstatus-addr = "127.0.0.1:0"\n'
                    'addr = "127.0.0.1:0"\n[pd-server]\naddr = "127.0.0.1:0"\n'
                    '[storage]\ndata-dir = "%s"\n' % os.path.join(root, "from-config"))
        s = Server("config", None, ports=False, extra=["--config", cfg])
        if check("server starts from a --config file", s.start(), s.output()[-2000:]):
            check("the config file's data-dir is used",
                  os.path.isdir(os.path.join(root, "from-config", "db"))
                  and os.path.isdir(os.path.join(root, "from-config", "pd")))
            if s.p.poll() is None:
                os.kill(s.p.pid, signal.SIGINT)
            rc = s.wait_exit()
            check("SIGINT exits 0", rc == 0, f"rc={rc}")

        # -- SHUTDOWN from a Redis client --
        if resp:
            s = Server("shutdown", data)
            if check("server starts for SHUTDOWN", s.start(), s.output()[-2000:]):
                try:
                    reply = resp_cmd(s.resp_port, "SHUTDOWN")
                except (EOFError, OSError):
                    reply = None  # Redis closes the connection instead of replying
                if isinstance(reply, tuple) and reply[0] == "-" and "unknown" in reply[1]:
                    skip("SHUTDOWN", f"not supported by this RESP front end: {reply[1]}")
                    s.term()
                else:
                    rc = s.wait_exit()
                    check("SHUTDOWN from a client exits 0", rc == 0, f"rc={rc} reply={reply}")
    finally:
        cleanup()
        shutil.rmtree(root, ignore_errors=True)


main()
print(f"{passed} passed, {failed} failed", flush=True)
sys.exit(1 if failed else 0)
