#!/usr/bin/env bash
# run.sh -- entry point of the Tcl suite for tests/run-all.sh and for people.
#
#   bash tests/tcl/run.sh BUILD_DIR [run.tcl options]   against BUILD_DIR's basalt-server
#   bash tests/tcl/run.sh --server redis [options]      against redis-server
#
# The binary of a build directory is where the Makefile puts it: bin/basalt-server for the
# default release build (build/release), <root>/bin for a release build under another
# BUILD_ROOT, BUILD_DIR/bin for the others (build/asan, build/debug). BASALT_SERVER_BIN
# overrides the choice. While no basalt-server has been built the suite runs only the
# framework's self-test, against redis-server, unless BASALT_TCL_REQUIRE_SERVER is set: then
# a missing server is a failure. Server logs of failing blocks go to BUILD_DIR/test-logs/tcl.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

build=""
if [ $# -ge 1 ] && [ "${1#-}" = "$1" ]; then
  build=$1
  shift
fi
kind=${BASALT_TCL_SERVER:-basalt}
prev=""
for a in "$@"; do
  [ "$prev" = "--server" ] && kind=$a
  prev=$a
done

opts=()
if [ -n "$build" ]; then
  opts+=(--log-dir "$build/test-logs/tcl")
fi

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
    shown=${bin#"$repo"/}
    if [ -z "${BASALT_TCL_REQUIRE_SERVER+set}" ]; then
      # Nothing of Basalt's to test yet: keep the framework itself honest by running its
      # own tests against redis-server.
      echo "tcl: $shown has not been built; running the framework's self-test against redis-server"
      exec timeout --kill-after=30 300 tclsh "$here/run.tcl" --server redis "${opts[@]}" \
        "$here/unit/selftest.tcl"
    fi
    echo "tcl: $shown does not exist, and BASALT_TCL_REQUIRE_SERVER is set"
    echo "0 passed, 1 failed"
    exit 1
  fi
  opts+=(--server basalt --binary "$bin")
fi

if ! command -v tclsh >/dev/null 2>&1; then
  echo "tcl: tclsh is not installed (Debian: apt-get install tcl)"
  echo "0 passed, 1 failed"
  exit 1
fi

# An outer bound on the whole suite; servers left behind by a killed runner are stopped
# by their watchdogs.
exec timeout --kill-after=30 "${BASALT_TCL_SUITE_TIMEOUT:-1800}" \
  tclsh "$here/run.tcl" "${opts[@]}" "$@"
