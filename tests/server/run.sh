#!/usr/bin/env bash
# run.sh BUILD_DIR -- the basalt-server suite: real server processes on 127.0.0.1.
#
# Starts bin/basalt-server on free ports (port 0, the bound ports read from its startup
# lines) with fresh data directories and checks what an operator relies on: /status and
# /metrics, RESP PING/SET/GET, SIGTERM exiting 0, a restart keeping data and identity, a
# kill -9 losing no acknowledged write, a second server refused on a data dir in use, and
# bad flags or config exiting 1 with a message. Every server is stopped by its pid, every
# wait is bounded. Ends with "N passed, N failed" (tests/run-all.sh sums it).
#
# The binary of a build directory is where the Makefile puts it: bin/basalt-server for the
# default release build (build/release), <root>/bin for a release build under another
# BUILD_ROOT, BUILD_DIR/bin for the others (build/asan, build/debug). BASALT_SERVER_BIN
# overrides the choice. Logs of each server go to BUILD_DIR/test-logs/server/.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:?usage: run.sh BUILD_DIR}

if [ -n "${BASALT_SERVER_BIN:-}" ]; then
  bin=$BASALT_SERVER_BIN
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
  echo "server: ${bin#"$repo"/} has not been built (make all builds it)"
  echo "0 passed, 1 failed"
  exit 1
fi

logs="$build/test-logs/server"
mkdir -p "$logs"
logs=$(cd "$logs" && pwd)
# The whole suite is bounded too; each wait inside it is much shorter.
exec timeout --kill-after=10 600 /usr/bin/python3 "$here/server_test.py" "$bin" "$logs"
