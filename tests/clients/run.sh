#!/usr/bin/env bash
# run.sh BUILD_DIR -- real Redis clients against a started basalt-server.
#
#   bash tests/clients/run.sh BUILD_DIR          basalt-server of that build (as run-all.sh)
#   bash tests/clients/run.sh --server redis      the same checks against redis-server
#
# The clients: redis-cli (one-shot commands, interactive mode with its argument hints, --pipe
# mass insertion of 100k keys), redis-benchmark (-t set,get,incr,mset,ping), a hiredis C
# program built here, and Debian's python3-redis (/usr/bin/python3: pipelines, scan_iter,
# expiry...). Each check prints "PASS ..." or "FAIL ...: why"; the last line is
# "N passed, N failed". The server gets free ports on 127.0.0.1 and a fresh directory, and
# is stopped by its pid. Like tests/tcl/run.sh: the binary of BUILD_DIR is bin/basalt-server
# for build/release, <root>/bin for another release root, BUILD_DIR/bin otherwise
# (BASALT_SERVER_BIN overrides); while none is built the checks run against redis-server
# unless BASALT_CLIENTS_REQUIRE_SERVER is set, which makes that a failure.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

build=""
kind=basalt
if [ $# -ge 1 ] && [ "$1" = "--server" ]; then
  kind=${2:?--server needs basalt or redis}
elif [ $# -ge 1 ]; then
  build=$1
fi

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
# Runs a program printing PASS/FAIL lines; a non-zero exit without a FAIL line is a failure.
run_checks() { # name command...
  local name=$1 out rc f0=$failed line
  shift
  out=$("$@" 2>&1)
  rc=$?
  while IFS= read -r line; do
    case "$line" in
      PASS*) pass "${line#PASS }" ;;
      FAIL*) fail "${line#FAIL }" ;;
    esac
  done <<<"$out"
  if [ "$rc" -ne 0 ] && [ "$failed" -eq "$f0" ]; then
    fail "$name: exited with status $rc: $(echo "$out" | tail -3 | tr '\n' ' ')"
  fi
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}

if [ "$kind" = basalt ]; then
  if [ -n "${BASALT_SERVER_BIN:-}" ]; then
    bin=$BASALT_SERVER_BIN
  elif [ -z "$build" ]; then
    bin=$repo/bin/basalt-server
  else
    case "$build" in
      */release | release)
        root=$(dirname "$build")
        if [ "$(cd "$root" 2>/dev/null && pwd)" = "$repo/build" ]; then
          bin=$repo/bin/basalt-server
        else
          bin=$root/bin/basalt-server
        fi
        ;;
      *) bin=$build/bin/basalt-server ;;
    esac
  fi
  if [ ! -x "$bin" ]; then
    if [ -n "${BASALT_CLIENTS_REQUIRE_SERVER+set}" ]; then
      fail "clients: ${bin#"$repo"/} does not exist, and BASALT_CLIENTS_REQUIRE_SERVER is set"
      finish
    fi
    echo "clients: ${bin#"$repo"/} has not been built; running the checks against redis-server"
    kind=redis
  fi
fi

for tool in redis-cli redis-benchmark cc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    fail "clients: $tool is not installed (utils/install-deps.sh installs it)"
  fi
done
if ! /usr/bin/python3 -c 'import redis' 2>/dev/null; then
  fail "clients: /usr/bin/python3 has no redis module (Debian: python3-redis)"
fi
[ "$failed" -eq 0 ] || finish

tmp=$(mktemp -d "${TMPDIR:-/tmp}/basalt-clients.XXXXXX")
logdir=${build:+$build/test-logs/clients}
pid=""
stop_server() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 200); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  pid=""
}
cleanup() {
  stop_server
  if [ -n "$logdir" ] && [ "$failed" -ne 0 ] && [ -f "$tmp/server.log" ]; then
    mkdir -p "$logdir" && cp "$tmp/server.log" "$logdir/server.log"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Four distinct free ports, held open together while they are chosen.
read -r port p2 p3 p4 < <(/usr/bin/python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
host=127.0.0.1
mkdir -p "$tmp/data"
if [ "$kind" = basalt ]; then
  "$bin" --redis-addr "$host:$port" --addr "$host:$p2" --status-addr "$host:$p3" \
    --pd-addr "$host:$p4" --data-dir "$tmp/data" </dev/null >"$tmp/server.log" 2>&1 &
else
  redis-server --port "$port" --bind "$host" --dir "$tmp/data" --save "" --appendonly no \
    --daemonize no </dev/null >"$tmp/server.log" 2>&1 &
fi
pid=$!
up=0
for _ in $(seq 1 600); do
  if [ "$(redis-cli -h "$host" -p "$port" ping 2>/dev/null)" = PONG ]; then up=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
if [ "$up" -ne 1 ]; then
  fail "clients: the $kind server did not start"
  tail -20 "$tmp/server.log"
  finish
fi
echo "clients: $kind server on $host:$port (pid $pid)"
cli() { timeout 60 redis-cli -h "$host" -p "$port" "$@"; }

# ---- redis-cli, one-shot ---------------------------------------------------------------
expect_eq() { # name got want
  if [ "$2" = "$3" ]; then pass "redis-cli: $1"; else fail "redis-cli: $1: got '$2', want '$3'"; fi
}
expect_eq "SET" "$(cli -n 3 set cli:a hello)" "OK"
expect_eq "GET" "$(cli -n 3 get cli:a)" "hello"
expect_eq "GET in another database" "$(cli -n 4 get cli:a)" ""
expect_eq "INCR, --no-raw output" "$(cli -n 3 --no-raw incr cli:n)" "(integer) 1"
expect_eq "value from stdin (-x)" "$(printf 'from\nstdin' | cli -n 3 -x set cli:x && cli -n 3 get cli:x)" \
  "$(printf 'OK\nfrom\nstdin')"
expect_eq "error text" "$(cli -n 3 nosuch a 2>&1)" "ERR unknown command 'nosuch', with args beginning with: 'a' "
expect_eq "RESP3 (-3): HELLO is a map" "$(cli -3 --no-raw hello 3 | head -1)" '1# "server" => "redis"'
expect_eq "INFO field" "$(cli info server | tr -d '\r' | grep -c '^redis_version:7\.')" "1"

# ---- redis-cli, interactive (argument hints from COMMAND DOCS) --------------------------
run_checks "redis-cli interactive" timeout 120 /usr/bin/python3 "$here/cli_interactive.py" "$host" "$port"

# ---- redis-cli --pipe: mass insertion of 100k keys -------------------------------------
n=100000
/usr/bin/python3 - "$n" >"$tmp/mass.resp" <<'EOF'
import sys
out = sys.stdout.buffer
for i in range(int(sys.argv[1])):
    k, v = b"mass:%d" % i, b"value-%d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
EOF
pipe_out=$(timeout 600 redis-cli -h "$host" -p "$port" -n 2 --pipe <"$tmp/mass.resp" 2>&1)
if echo "$pipe_out" | grep -q "errors: 0, replies: $n"; then
  pass "redis-cli --pipe: $n SETs, errors: 0, replies: $n"
else
  fail "redis-cli --pipe: $(echo "$pipe_out" | tail -3 | tr '\n' ' ')"
fi
expect_eq "--pipe: DBSIZE" "$(cli -n 2 dbsize)" "$n"
expect_eq "--pipe: first, middle and last keys" \
  "$(cli -n 2 mget mass:0 mass:50000 mass:$((n - 1)) | tr '\n' ' ')" \
  "value-0 value-50000 value-$((n - 1)) "

# ---- redis-benchmark ---------------------------------------------------------------------
# -q rewrites a progress line with CR; the final figures are the lines after the last CR.
bench=$(timeout 600 redis-benchmark -h "$host" -p "$port" -t set,get,incr,mset,ping -n 5000 \
  -c 20 -q 2>&1 | tr '\r' '\n')
for t in PING_INLINE PING_MBULK SET GET INCR "MSET (10 keys)"; do
  if echo "$bench" | grep -q "^$t: .*requests per second"; then
    pass "redis-benchmark: $t"
  else
    fail "redis-benchmark: $t: $(echo "$bench" | tail -3 | tr '\n' ' ')"
  fi
done
# Every INCR of the benchmark hit the one key "counter:__rand_int__" (no -r): none lost.
expect_eq "redis-benchmark: every INCR counted" "$(cli get counter:__rand_int__)" "5000"
bench=$(timeout 600 redis-benchmark -h "$host" -p "$port" -t set,get -n 20000 -c 10 -P 32 -q 2>&1 |
  tr '\r' '\n')
if [ "$(echo "$bench" | grep -c '^[A-Z]*: .*requests per second')" = 2 ]; then
  pass "redis-benchmark: pipelined (-P 32) SET and GET"
else
  fail "redis-benchmark: pipelined: $(echo "$bench" | tail -3 | tr '\n' ' ')"
fi

# ---- hiredis -------------------------------------------------------------------------------
if cc -O2 -Wall -o "$tmp/hiredis_test" "$here/hiredis_test.c" -lhiredis 2>"$tmp/cc.log"; then
  run_checks hiredis timeout 300 "$tmp/hiredis_test" "$host" "$port"
else
  fail "hiredis: the test program does not build: $(head -5 "$tmp/cc.log" | tr '\n' ' ')"
fi

# ---- python3-redis ---------------------------------------------------------------------------
run_checks redis-py timeout 600 /usr/bin/python3 "$here/test_redis_py.py" "$host" "$port"

# The server must have survived all of it.
expect_eq "server still answers" "$(cli ping)" "PONG"
finish
