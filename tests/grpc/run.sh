#!/usr/bin/env bash
# run.sh BUILD_DIR -- the native gRPC suite: a real gRPC client (Debian's python3-grpcio)
# against Basalt's PD and TiKV services, for tests/run-all.sh and for people.
#
#   bash tests/grpc/run.sh build/release [-k SUBSTRING]
#
# Steps: build tests/grpc/grpc_host.c against BUILD_DIR/libbasalt.a (into
# BUILD_DIR/tests/grpc/), generate the Python protobuf modules from proto/ (gen.sh), start
# the host on free 127.0.0.1 ports in a fresh data directory, run test_grpc.py against it,
# then stop the host by its pid (SIGTERM; SIGKILL only if it has not exited after 30 s) and
# check that it shut down cleanly. Ends with one "N passed, N failed" line; exits non-zero
# when anything failed. Logs go to BUILD_DIR/test-logs/grpc/.
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
cleanup() {
  if [ -n "$host_pid" ] && kill -0 "$host_pid" 2>/dev/null; then
    kill -KILL "$host_pid" 2>/dev/null
  fi
  # Logs of this run replace the previous run's (written last, so concurrent runs do not
  # interleave inside one file).
  for f in host.log python.log; do
    [ -f "$tmp/$f" ] && cp "$tmp/$f" "$logs/$f"
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
if ! bash "$here/gen.sh" "$tmp/pb" >"$logs/gen.log" 2>&1; then
  echo "grpc: generating the Python protobuf modules failed (log: $logs/gen.log)"
  finish 0 1
fi

# ---- start the host ----------------------------------------------------------------------
mkdir -p "$tmp/data"
"$host" --dir "$tmp/data" --max-seconds 900 --log-level "${BASALT_GRPC_LOG_LEVEL:-info}" \
  >"$tmp/host.out" 2>"$tmp/host.log" &
host_pid=$!
for _ in $(seq 1 300); do
  grep -q '^READY$' "$tmp/host.out" 2>/dev/null && break
  kill -0 "$host_pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q '^READY$' "$tmp/host.out" 2>/dev/null; then
  echo "grpc: grpc_host did not become ready (log: $logs/host.log)"
  tail -20 "$tmp/host.log"
  finish 0 1
fi
pd_port=$(awk '$1 == "PD_PORT" {print $2}' "$tmp/host.out")
store_port=$(awk '$1 == "STORE_PORT" {print $2}' "$tmp/host.out")

# ---- the suite ---------------------------------------------------------------------------
timeout --kill-after=10 600 "$py" "$here/test_grpc.py" --pb "$tmp/pb" --pd "$pd_port" \
  --store "$store_port" "$@" 2>&1 | tee "$tmp/python.log"
line=$(grep -aE '^python: [0-9]+ passed, [0-9]+ failed' "$tmp/python.log" | tail -1)
passed=$(echo "$line" | sed -nE 's/^python: ([0-9]+) passed.*/\1/p')
failed=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
if [ -z "$line" ]; then
  echo "grpc: test_grpc.py ended without a summary"
  passed=0
  failed=1
fi

# ---- stop the host: a clean shutdown is part of the contract -------------------------------
kill -TERM "$host_pid" 2>/dev/null
for _ in $(seq 1 300); do
  kill -0 "$host_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$host_pid" 2>/dev/null; then
  echo "FAIL host_shutdown: grpc_host ignored SIGTERM for 30 s (killed)"
  kill -KILL "$host_pid" 2>/dev/null
  wait "$host_pid" 2>/dev/null
  failed=$((failed + 1))
else
  wait "$host_pid"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "ok host_shutdown"
    passed=$((passed + 1))
  else
    echo "FAIL host_shutdown: grpc_host exited with status $rc (log: $logs/host.log)"
    tail -20 "$tmp/host.log"
    failed=$((failed + 1))
  fi
fi
host_pid=""
finish "$passed" "$failed"
