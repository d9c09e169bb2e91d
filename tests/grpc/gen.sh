#!/usr/bin/env bash
# gen.sh OUT_DIR -- generate the Python protobuf modules (<name>_pb2.py) for every Basalt
# .proto into OUT_DIR, for the gRPC tests. Imports between the generated modules are plain
# module names, so OUT_DIR must be on sys.path. Runs from any working directory.
set -euo pipefail
out=${1:?usage: gen.sh OUT_DIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$out"
cd "$root"
protoc --python_out="$out" -Iproto proto/*.proto
