#!/usr/bin/env bash
# run-all.sh BUILD_DIR -- every test suite of Basalt, summed into one closing line.
#
# Each suite is a script that ends its output with "N passed, N failed": the unit tests
# first, then every tests/<suite>/run.sh (Tcl, gRPC, cluster...) that exists, given the
# build directory. Exits non-zero if any suite failed.
set -uo pipefail
build=${1:?usage: run-all.sh BUILD_DIR}
total_p=0
total_f=0
suites=(tests/unit/run.sh)
for s in tests/*/run.sh; do
  case "$s" in tests/unit/run.sh|tests/fuzz/run.sh) ;; *) suites+=("$s") ;; esac
done
for s in "${suites[@]}"; do
  echo "== $s"
  out=$(mktemp)
  bash "$s" "$build" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  line=$(grep -aE '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
  rm -f "$out"
  p=$(echo "$line" | sed -nE 's/^([A-Za-z]+: )?([0-9]+) passed.*/\2/p')
  f=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
  p=${p:-0}
  f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  total_p=$((total_p + p))
  total_f=$((total_f + f))
done
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
