#!/usr/bin/env bash
# run.sh BUILD_DIR -- the native gRPC suite: a real gRPC client (Debian's python3-grpcio)
# against Basalt's PD and TiKV services, for tests/run-all.sh and for people.
#
#   bash tests/grpc/run.sh build/release [-k SUBSTRING]
#
# Steps: build tests/grpc/grpc_host.c against BUILD_DIR/libbasalt.a (into
# BUILD_DIR/tests/grpc/), generate the Python protobuf modules from proto/ (gen.sh), start
# the host on free 127.0.0.1 ports in a fresh data directory, run test_grpc.py against it,
# then stop the host by its pid (SIGTERM; SIGKILL only if it has not exited after 30 s)
# while long scans are in flight (test_grpc.py --scan-load) and check that it shut down
# cleanly and that every scan answered before was right. Then the same against the real basalt-server of this
# build (BINDIR of the Makefile: bin/ for build/release, <root>/bin for other roots,
# BUILD_DIR/bin for asan/debug), started on free 127.0.0.1 ports in a fresh data
# directory, with the Redis interop tests (redis-cli) on its RESP port; skipped with a note
# when the binary is missing, a failure if BASALT_GRPC_REQUIRE is set. Ends with one
# "N passed, N failed" line; exits non-zero when anything failed. Logs go to
# BUILD_DIR/test-logs/grpc/.
#
# BASALT_GRPC_LOG_LEVEL sets the host's log level (default info).
#
# A library built without src/server (MODULES without "server") has no gRPC services: the
# suite then reports that and counts nothing, unless BASALT_GRPC_REQUIRE is set, which makes
# it a failure.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:?usage: run.sh BUILD_DIR [-k SUBSTRING]}
shift
build=$(cd "$build" && pwd)
root=$(dirname "$build")
gen="$root/gen"
lib="$build/libbasalt.a"
py=/usr/bin/python3
logs="$build/test-logs/grpc"
mkdir -p "$logs" "$build/tests/grpc"

finish() { # passed failed
  echo "$1 passed, $2 failed"
  [ "$2" -eq 0 ]
  exit
}

if [ ! -f "$lib" ] || ! nm -g "$lib" 2>/dev/null | grep -c ' T srv_grpc_tikv_register$' >/dev/null; then
  echo "grpc: $lib has no gRPC services (src/server not built)"
  if [ -n "${BASALT_GRPC_REQUIRE+set}" ]; then finish 0 1; fi
  finish 0 0
fi
if ! "$py" -c 'import grpc, google.protobuf' 2>/dev/null; then
  echo "grpc: $py cannot import grpc and google.protobuf (apt-get install python3-grpcio python3-protobuf)"
  finish 0 1
fi

# ---- build the host ----------------------------------------------------------------------
host="$build/tests/grpc/grpc_host"
cflags=(-std=gnu11 -g -D_GNU_SOURCE -I"$repo/src" -I"$gen" -pthread -Wall -Wextra -Werror
        -Wno-unused-parameter)
case "$(basename "$build")" in
  asan) cflags+=(-O1 -fsanitize=address,undefined -fno-omit-frame-pointer) ;;
  fuzz) cflags+=(-O1 -fsanitize=address,undefined -fno-omit-frame-pointer) ;;
  *) cflags+=(-O2) ;;
esac
cc_bin=${CC:-cc}
[ "$(basename "$build")" = fuzz ] && cc_bin=clang
# Built under a private name and renamed, so a concurrent run's host keeps running.
if ! "$cc_bin" "${cflags[@]}" -o "$host.$$" "$here/grpc_host.c" "$lib" -lrocksdb -levent \
     -levent_pthreads -levent_openssl -lnghttp2 -lprotobuf-c -lssl -lcrypto -lpthread -lm \
     >"$logs/build.log" 2>&1 || ! mv -f "$host.$$" "$host"; then
  rm -f "$host.$$"
  echo "grpc: building grpc_host failed (log: $logs/build.log)"
  cat "$logs/build.log"
  finish 0 1
fi

# ---- Python modules ----------------------------------------------------------------------
tmp=$(mktemp -d)
host_pid=""
server_pid=""
cleanup() {
  if [ -n "$host_pid" ] && kill -0 "$host_pid" 2>/dev/null; then
    kill -KILL "$host_pid" 2>/dev/null
  fi
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null
  fi
  # Logs of this run replace the previous run's (written last, so concurrent runs do not
  # interleave inside one file).
  for f in host.log python.log server.log server-python.log; do
    [ -f "$tmp/$f" ] && cp "$tmp/$f" "$logs/$f"
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
if ! bash "$here/gen.sh" "$tmp/pb" >"$logs/gen.log" 2>&1; then
  echo "grpc: generating the Python protobuf modules failed (log: $logs/gen.log)"
  finish 0 1
fi

# ---- the suite ---------------------------------------------------------------------------
passed=0
failed=0
# run_suite LOG ARGS...: test_grpc.py with ARGS, its summary added to passed/failed.
run_suite() {
  local log=$1
  shift
  timeout --kill-after=10 600 "$py" "$here/test_grpc.py" --pb "$tmp/pb" "$@" 2>&1 | tee "$tmp/$log"
  local line p f
  line=$(grep -aE '^python: [0-9]+ passed, [0-9]+ failed' "$tmp/$log" | tail -1)
  p=$(echo "$line" | sed -nE 's/^python: ([0-9]+) passed.*/\1/p')
  f=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
  if [ -z "$line" ]; then
    echo "grpc: test_grpc.py ended without a summary"
    p=0
    f=1
  fi
  passed=$((passed + p))
  failed=$((failed + f))
}

# verdict STATUS TEST WHY LOG: counts TEST passed when STATUS is 0, else failed with WHY
# and the tail of LOG.
verdict() {
  if [ "$1" -eq 0 ]; then
    echo "ok $2"
    passed=$((passed + 1))
  else
    echo "FAIL $2: $3"
    tail -20 "$4"
    failed=$((failed + 1))
  fi
}

# stop_pid PID NAME LOG: SIGTERM, wait up to 30 s; a clean exit (status 0) is a passed test.
stop_pid() {
  local pid=$1 name=$2 log=$3 rc
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "FAIL ${name}_shutdown: $name ignored SIGTERM for 30 s (killed)"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    failed=$((failed + 1))
    return
  fi
  wait "$pid"
  rc=$?
  verdict "$rc" "${name}_shutdown" "$name exited with status $rc (log: $logs/$log)" "$tmp/$log"
}

# wait_for_line FILE LINE PID TENTHS: waits until FILE has the line LINE (true), PID exits
# or TENTHS tenths of a second passed (false).
wait_for_line() {
  for _ in $(seq 1 "$4"); do
    grep -qx "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || break
    sleep 0.1
  done
  grep -qx "$2" "$1" 2>/dev/null
}

# stop_under_load PID NAME LOG PD_PORT STORE_PORT: keeps long scans in flight on the store
# (test_grpc.py --scan-load), stops the server once one came back (stop_pid: a clean exit is
# a passed test), then counts the load's verdict: every answer that came was right, and the
# calls cut short failed as a server going away fails (one more test).
stop_under_load() {
  local pid=$1 name=$2 log=$3 pdp=$4 stp=$5 lpid rc
  "$py" "$here/test_grpc.py" --pb "$tmp/pb" --pd "$pdp" --store "$stp" --scan-load \
    >"$tmp/$name-load.log" 2>&1 &
  lpid=$!
  wait_for_line "$tmp/$name-load.log" SCANNING "$lpid" 600
  stop_pid "$pid" "$name" "$log"
  timeout 120 tail --pid="$lpid" -f /dev/null
  if kill -0 "$lpid" 2>/dev/null; then
    kill -KILL "$lpid" 2>/dev/null
  fi
  wait "$lpid"
  rc=$?
  grep -qx SCANNING "$tmp/$name-load.log" || rc=1
  verdict "$rc" "${name}_shutdown_with_scans_in_flight" "the scan load failed (status $rc)" \
    "$tmp/$name-load.log"
  cp "$tmp/$name-load.log" "$logs/$name-load.log" 2>/dev/null
}

# ---- 1. grpc_host --------------------------------------------------------------------------
mkdir -p "$tmp/data"
"$host" --dir "$tmp/data" --max-seconds 900 --log-level "${BASALT_GRPC_LOG_LEVEL:-info}" \
  >"$tmp/host.out" 2>"$tmp/host.log" &
host_pid=$!
if ! wait_for_line "$tmp/host.out" READY "$host_pid" 300; then
  echo "grpc: grpc_host did not become ready (log: $logs/host.log)"
  tail -20 "$tmp/host.log"
  failed=$((failed + 1))
else
  pd_port=$(awk '$1 == "PD_PORT" {print $2}' "$tmp/host.out")
  store_port=$(awk '$1 == "STORE_PORT" {print $2}' "$tmp/host.out")
  run_suite python.log --pd "$pd_port" --store "$store_port" "$@"
fi
if [ -n "${pd_port:-}" ] && kill -0 "$host_pid" 2>/dev/null; then
  stop_under_load "$host_pid" host host.log "$pd_port" "$store_port"
else
  stop_pid "$host_pid" host host.log
fi
host_pid=""

# ---- 2. the real basalt-server (with Redis interop) ------------------------------------------
case "$(basename "$build")" in
  release) if [ "$(basename "$root")" = build ]; then bindir="$repo/bin"; else bindir="$root/bin"; fi ;;
  *) bindir="$build/bin" ;;
esac
server="$bindir/basalt-server"
if [ ! -x "$server" ]; then
  echo "grpc: $server not built: the suite against basalt-server is skipped"
  [ -n "${BASALT_GRPC_REQUIRE+set}" ] && failed=$((failed + 1))
  finish "$passed" "$failed"
fi
mkdir -p "$tmp/sdata"
# Every port 0: the server binds free ports, prints them, and registers the bound gRPC
# port with its embedded PD (pd_store_address_is_the_bound_port checks a client routing
# through GetStore reaches it).
"$server" --data-dir "$tmp/sdata" --addr 127.0.0.1:0 --pd-addr 127.0.0.1:0 \
  --redis-addr 127.0.0.1:0 --status-addr 127.0.0.1:0 \
  --log-level "${BASALT_GRPC_LOG_LEVEL:-info}" >"$tmp/server.out" 2>"$tmp/server.log" &
server_pid=$!
port_of() { # SERVICE: the port of "SERVICE listening on 127.0.0.1:PORT"
  awk -v s="$1" '$1 == s && $2 == "listening" {n = split($4, a, ":"); print a[n]}' \
    "$tmp/server.out" 2>/dev/null | tail -1
}
for _ in $(seq 1 600); do
  [ -n "$(port_of status)" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
s_pd=$(port_of PD)
s_store=$(port_of gRPC)
s_redis=$(port_of RESP)
if [ -z "$s_pd" ] || [ -z "$s_store" ] || [ -z "$s_redis" ]; then
  echo "grpc: basalt-server did not start (log: $logs/server.log)"
  cat "$tmp/server.out"
  tail -20 "$tmp/server.log"
  failed=$((failed + 1))
else
  run_suite server-python.log --pd "$s_pd" --store "$s_store" --redis "$s_redis" "$@"
fi
if [ -n "$s_pd" ] && [ -n "$s_store" ] && kill -0 "$server_pid" 2>/dev/null; then
  stop_under_load "$server_pid" server server.log "$s_pd" "$s_store"
else
  stop_pid "$server_pid" server server.log
fi
server_pid=""
finish "$passed" "$failed"
