#!/usr/bin/env bash
# run.sh FUZZ_BUILD_DIR SECONDS -- run every built fuzz target for SECONDS each from its seed corpus
# (tests/fuzz/corpus/<name>/, copied so the checked-in corpus stays small). Exits non-zero
# on the first crash; libFuzzer leaves the crashing input as crash-* in the fuzz build directory.
set -euo pipefail
dir=${1:?usage: run.sh FUZZ_BUILD_DIR SECONDS}
secs=${2:-20}
for bin in "$dir"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  work="$dir/corpus-$name"
  mkdir -p "$work"
  if [ -d "tests/fuzz/corpus/$name" ]; then cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null || true; fi
  echo "== $name ($secs s)"
  (cd "$dir" && "./$name" -max_total_time="$secs" -print_final_stats=0 "corpus-$name") 2>&1 | tail -3
done
