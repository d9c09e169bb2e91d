#!/usr/bin/env bash
# install-deps.sh -- install the Debian packages Basalt builds, tests and benchmarks with.
#
# Idempotent: when every package is already installed it does nothing (no apt-get update,
# no network). Otherwise it runs `apt-get update` once and installs only what is missing.
# Needs root (or sudo) on Debian 12.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config clang
  librocksdb-dev libevent-dev libnghttp2-dev libssl-dev
  libprotobuf-c-dev protobuf-c-compiler
  libcmocka-dev libhiredis-dev
  redis-tools redis-server python3 python3-redis
  python3-grpcio python3-protobuf protobuf-compiler
  tcl
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"

# redis-server's Debian package starts a system instance on 6379; Basalt's tests never use
# it (they start their own servers on free ports), so leave it alone rather than guess.
echo "install-deps: done"
