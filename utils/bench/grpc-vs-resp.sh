#!/usr/bin/env bash
# grpc-vs-resp.sh -- the same point writes and reads through basalt-server's two front ends:
# RESP (redis-benchmark SET/GET) and the native TiKV gRPC port (grpc_bench RawPut/RawGet
# with a client-go Context, unary and over the BatchCommands stream). One server, fresh
# temp data dir, every port picked by the kernel; the front ends alternate within each
# round (which goes first flips every round), and the table shows medians.
#
# Usage: utils/bench/grpc-vs-resp.sh       (after `make` and `make bench`; exits 0 unless
#                                           a run could not be made)
# Environment:
#   BASALT_BIN      basalt-server (default: <repo>/bin/basalt-server)
#   GRPC_BENCH      grpc_bench (default: <repo>/build/release/bench/grpc_bench)
#   BENCH_ROUNDS    alternating rounds (default 3)
#   BENCH_REQUESTS  requests per run (default 50000); also the key space of every run
#   BENCH_KEEP=1    keep the temp dir (server log, raw results)
#
# Every run has 64 requests in flight and 100-byte values:
#   resp P1   redis-benchmark -c 64 -P 1  (64 connections, one request each)
#   resp P16  redis-benchmark -c 4 -P 16  (4 connections, 16 pipelined each)
#   grpc unary  64 concurrent unary calls on one HTTP/2 connection
#   grpc batch  one BatchCommands stream, 64 requests in flight on it
# Target (printed as met / MISSED, never an exit status): BatchCommands reaches at least
# 1/1.5 of RESP -P 16's ops/s for both put and get.

set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=utils/bench/lib.sh
. "$here/lib.sh"
BASALT_BIN=${BASALT_BIN:-$repo/bin/basalt-server}
GRPC_BENCH=${GRPC_BENCH:-$repo/build/release/bench/grpc_bench}
ROUNDS=${BENCH_ROUNDS:-3}
REQ=${BENCH_REQUESTS:-50000}

bench_workdir grpc-vs-resp
[ -x "$GRPC_BENCH" ] || bench_die "no grpc_bench at $GRPC_BENCH (run make bench, or set GRPC_BENCH)"
for t in redis-benchmark redis-cli python3; do
    command -v "$t" >/dev/null || bench_die "$t is required"
done

bench_start_basalt "$BASALT_BIN" basalt --log-level warn
bench_note "basalt-server pid $BASALT_PID: RESP :$BASALT_RESP_PORT, gRPC :$BASALT_GRPC_PORT, PD :$BASALT_PD_PORT"

# GET reads key:<12 digits>, what redis-benchmark's -r makes of key:__rand_int__: preload
# them all so every GET is a hit, as every gRPC GET is (its put phase wrote the keys).
python3 - "$REQ" <<'EOF' | redis-cli -p "$BASALT_RESP_PORT" --pipe >"$BENCH_WORK/preload.out" 2>&1 ||
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
val = b"x" * 100
for i in range(n):
    out.write(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$100\r\n%s\r\n" % (i, val))
EOF
    bench_die "preload failed: $(tail -3 "$BENCH_WORK/preload.out")"

raw=$BENCH_WORK/results.tsv # round workload ops p50 p99
: >"$raw"
record() { # round workload ops p50 p99
    printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$raw"
    printf '# round %s %-12s %10s ops/s  p50 %7s ms  p99 %7s ms\n' "$@" >&2
}

resp_runs() { # round
    local c p t line
    for cp in "64 1" "4 16"; do
        read -r c p <<<"$cp"
        for t in set get; do
            redis-benchmark -h 127.0.0.1 -p "$BASALT_RESP_PORT" -c "$c" -P "$p" -n "$REQ" \
                -r "$REQ" -d 100 -t "$t" --csv >"$BENCH_WORK/rb.out" 2>"$BENCH_WORK/rb.err" ||
                bench_die "redis-benchmark failed: $(head -c 300 "$BENCH_WORK/rb.err")"
            # CSV: "test","rps","avg","min","p50","p95","p99","max"
            line=$(awk -F, 'NR == 2 { gsub(/"/, ""); print $2, $5, $7 }' "$BENCH_WORK/rb.out")
            [ -n "$line" ] || bench_die "redis-benchmark printed no result: $(cat "$BENCH_WORK/rb.out")"
            # shellcheck disable=SC2086
            record "$1" "resp-$t-P$p" $line
        done
    done
}

grpc_runs() { # round
    local mode op ops p50 p99 line
    "$GRPC_BENCH" --pd "127.0.0.1:$BASALT_PD_PORT" --store "127.0.0.1:$BASALT_GRPC_PORT" \
        --requests "$REQ" --inflight 64 --value-size 100 >"$BENCH_WORK/gb.out" 2>"$BENCH_WORK/gb.err" ||
        bench_die "grpc_bench failed: $(cat "$BENCH_WORK/gb.err")"
    while read -r line; do
        mode=$(sed -n 's/.* mode=\([a-z]*\).*/\1/p' <<<"$line")
        op=$(sed -n 's/.* op=\([a-z]*\).*/\1/p' <<<"$line")
        ops=$(sed -n 's/.* ops_per_sec=\([0-9.]*\).*/\1/p' <<<"$line")
        p50=$(sed -n 's/.* p50_ms=\([0-9.]*\).*/\1/p' <<<"$line")
        p99=$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")
        grep -q ' errors=0 ' <<<"$line" || bench_note "round $1 grpc: $line"
        [ "$op" = get ] && ! grep -q ' misses=0$' <<<"$line" && bench_note "round $1 grpc: $line"
        record "$1" "grpc-$op-$mode" "$ops" "$p50" "$p99"
    done < <(grep '^grpc ' "$BENCH_WORK/gb.out")
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)
bench_note "rounds $ROUNDS, $REQ requests per run, 64 in flight, 100-byte values; load average $load_start"
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then
        resp_runs "$r"; grpc_runs "$r"
    else
        grpc_runs "$r"; resp_runs "$r"
    fi
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(($(date +%s) - t_start))

med() { # workload column(3=ops,4=p50,5=p99)
    awk -F'\t' -v w="$1" -v c="$2" '$2 == w { print $c }' "$raw" >"$BENCH_WORK/col"
    bench_median "$BENCH_WORK/col"
}

echo
echo "basalt-server gRPC vs RESP: medians of $ROUNDS alternating rounds, $REQ requests, 64 in flight, 100 B values"
echo "load average: $load_start at start, $load_end at end ($(nproc) CPUs); ${elapsed}s of runs"
echo
printf '| %-16s | %-40s | %10s | %8s | %8s |\n' workload "how" "ops/s" "p50 ms" "p99 ms"
printf '|%s|%s|%s|%s|%s|\n' ------------------ ------------------------------------------ \
    ------------ ---------- ----------
declare -A OPS
for w in "resp-set-P1|SET, redis-benchmark -c 64 -P 1" "resp-set-P16|SET, redis-benchmark -c 4 -P 16" \
         "grpc-put-unary|RawPut, 64 unary calls in flight" "grpc-put-batch|RawPut, BatchCommands, 64 in flight" \
         "resp-get-P1|GET, redis-benchmark -c 64 -P 1" "resp-get-P16|GET, redis-benchmark -c 4 -P 16" \
         "grpc-get-unary|RawGet, 64 unary calls in flight" "grpc-get-batch|RawGet, BatchCommands, 64 in flight"; do
    IFS='|' read -r name how <<<"$w"
    OPS[$name]=$(med "$name" 3)
    printf '| %-16s | %-40s | %10s | %8s | %8s |\n' "$name" "$how" "${OPS[$name]}" "$(med "$name" 4)" "$(med "$name" 5)"
done

echo
echo "Ratios gRPC/RESP (ops/s medians):"
for op in put get; do
    rop=$([ "$op" = put ] && echo set || echo get)
    printf '  %-44s %6s\n' "$op: unary vs RESP -P 1" "$(bench_ratio "${OPS[grpc-$op-unary]}" "${OPS[resp-$rop-P1]}")"
    printf '  %-44s %6s\n' "$op: BatchCommands vs RESP -P 1" "$(bench_ratio "${OPS[grpc-$op-batch]}" "${OPS[resp-$rop-P1]}")"
    v=$(bench_ratio "${OPS[grpc-$op-batch]}" "${OPS[resp-$rop-P16]}")
    if [ "$v" = NA ]; then verdict="not run"
    elif awk -v a="$v" 'BEGIN { exit !(a >= 0.667) }'; then verdict=met
    else verdict=MISSED; fi
    printf '  %-44s %6s  (target >= 0.67, within 1.5x)  %s\n' "$op: BatchCommands vs RESP -P 16" "$v" "$verdict"
done
[ "${BENCH_KEEP:-0}" = 1 ] && echo "raw results: $raw"
exit 0
