#!/usr/bin/env bash
# run.sh BUILD_DIR -- run every cmocka unit-test binary under BUILD_DIR/tests/unit and sum
# their results. Prints one line per binary and a final "N passed, N failed" line; exits
# non-zero when anything failed. A binary that dies without a cmocka summary (a crash, an
# assertion, a sanitizer report) counts as one failure. Full output goes to
# BUILD_DIR/test-logs/.
set -uo pipefail
build=${1:?usage: run.sh BUILD_DIR}
logs="$build/test-logs/unit"
mkdir -p "$logs"
passed=0
failed=0
mapfile -t bins < <(find "$build/tests/unit" -type f -perm -u+x -name 'test_*' 2>/dev/null | sort)
for bin in "${bins[@]}"; do
  name=${bin#"$build/tests/unit/"}
  log="$logs/${name//\//_}.log"
  # Test binaries pick their own data directories under TMPDIR; give each a fresh one.
  tmp=$(mktemp -d)
  TMPDIR="$tmp" timeout 900 "$bin" >"$log" 2>&1
  rc=$?
  rm -rf "$tmp"
  p=$(grep -aE '^\[  PASSED  \] [0-9]+ test' "$log" | awk '{s+=$4} END {print s+0}')
  f=$(grep -aE '^\[  FAILED  \] [0-9]+ test' "$log" | awk '{s+=$4} END {print s+0}')
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  status=ok
  [ "$f" -ne 0 ] && status="FAILED (log: $log)"
  printf 'unit %-32s %4d passed, %d failed  %s\n' "$name" "$p" "$f" "$status"
  if [ "$f" -ne 0 ]; then
    grep -aE '^\[  (FAILED|ERROR) \]|error|Assert|assert|ERROR|Sanitizer|seed' "$log" | head -20 | sed 's/^/    /'
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
