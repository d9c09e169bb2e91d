#!/usr/bin/env bash
# multi_exec_bench.sh -- MULTI/EXEC transactions on Basalt against redis-server with
# appendfsync always, same machine, alternating runs, medians; and how many TSO calls
# (PD timestamp batches) Basalt makes per transaction.
#
# Two servers run side by side on 127.0.0.1, each on a fresh temp data dir:
#   basalt        basalt-server standalone (a transaction is a Percolator txn: start_ts
#                 from TSO, one-phase commit when its keys share a Region, synced Raft)
#   redis-always  redis-server --appendonly yes --appendfsync always (durable, like Basalt)
# Load: multi_exec_bench (a hiredis program next to this script; redis-benchmark cannot
# group a transaction): each connection loops MULTI, k x SET of a random key (-r 100000,
# 100-byte values), EXEC, pipelined as one write, and times the round trip.
#
# Usage: utils/bench/multi_exec_bench.sh   (after `make` and `make bench`; exits 0)
# Environment:
#   BASALT_BIN      basalt-server (default: <repo>/bin/basalt-server)
#   BENCH_BIN       multi_exec_bench (default: <repo>/build/release/bench/multi_exec_bench)
#   REDIS_SERVER    redis-server (default: on PATH)
#   BENCH_ROUNDS    alternating rounds (default 3)
#   BENCH_TXNS      transactions per -c 50 run (default 20000; k=10 runs do a third, -c 1 a tenth)
#   BENCH_KEEP=1    keep the temp dir (logs, raw results)
#
# Workloads: multi2-c50, multi10-c50 (50 connections), multi2-c1 (one connection: latency).
# The TSO column is Basalt's txn_tso_batches / txn_committed over the run (INFO basalt):
# timestamps wanted at the same moment share one PD call, so it falls well below one
# under concurrency (one start_ts per transaction; one-phase commits need no commit_ts).

set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
BASALT_BIN=${BASALT_BIN:-$repo/bin/basalt-server}
BENCH_BIN=${BENCH_BIN:-$repo/build/release/bench/multi_exec_bench}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
ROUNDS=${BENCH_ROUNDS:-3}
TXNS=${BENCH_TXNS:-20000}

. "$here/lib.sh"

[ -x "$BENCH_BIN" ] || bench_die "no multi_exec_bench at $BENCH_BIN (run make bench, or set BENCH_BIN)"
for t in redis-cli python3; do
    command -v "$t" >/dev/null || bench_die "$t is required"
done

bench_workdir multi-exec-bench
work=$BENCH_WORK

# ---- servers --------------------------------------------------------------------------
bench_start_basalt "$BASALT_BIN" basalt --log-level warn
basalt_port=$BASALT_RESP_PORT
bench_start_redis redis-always --appendonly yes --appendfsync always
always_port=$BENCH_PORT

declare -A PORT=([basalt]=$basalt_port [redis-always]=$always_port)
SERVERS=(basalt redis-always)

# name | clients | SETs per transaction | transactions
WL=(
  "multi2-c50|50|2|$TXNS"
  "multi10-c50|50|10|$((TXNS / 3))"
  "multi2-c1|1|2|$((TXNS / 10))"
)

info_field() { # port field
    redis-cli -p "$1" info basalt 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"
}

raw=$work/results.tsv # round server workload txn/s p50 p99 failed tso_per_txn
: >"$raw"

settle() { # server: redis-always does not start a run during an AOF rewrite
    local _
    [ "$1" = redis-always ] || return 0
    for _ in $(seq 1 600); do
        redis-cli -p "${PORT[$1]}" info persistence 2>/dev/null |
            grep -Eq '^aof_rewrite_in_progress:1' || return 0
        sleep 0.1
    done
}

run_one() { # round server name clients k txns
    local r=$1 s=$2 name=$3 c=$4 k=$5 n=$6 out b0=0 c0=0 b1=0 c1=0 tso=-
    settle "$s"
    if [ "$s" = basalt ]; then
        b0=$(info_field "${PORT[$s]}" txn_tso_batches); c0=$(info_field "${PORT[$s]}" txn_committed)
    fi
    out=$("$BENCH_BIN" -h 127.0.0.1 -p "${PORT[$s]}" -c "$c" -n "$n" -k "$k" -d 100 -r 100000 \
        2>"$work/bench.err")
    if [ "$s" = basalt ]; then
        b1=$(info_field "${PORT[$s]}" txn_tso_batches); c1=$(info_field "${PORT[$s]}" txn_committed)
        tso=$(awk -v b=$((b1 - b0)) -v c=$((c1 - c0)) 'BEGIN { if (c > 0) printf "%.3f", b / c; else print "NA" }')
    fi
    # txns=.. secs=.. txn_per_s=.. sets_per_s=.. p50_ms=.. p99_ms=.. failed=..
    local tps p50 p99 failed
    tps=$(sed -n 's/.*txn_per_s=\([0-9.]*\).*/\1/p' <<<"$out")
    p50=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$out")
    p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$out")
    failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$out")
    if [ -z "$tps" ]; then
        bench_note "round $r $s $name: no result ($(head -c 300 "$work/bench.err"))"
        return
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$s" "$name" "$tps" "$p50" "$p99" "$failed" "$tso" >>"$raw"
    printf '# round %s %-13s %-12s %8s txn/s  p50 %7s ms  p99 %8s ms  failed %s  tso/txn %s\n' \
        "$r" "$s" "$name" "$tps" "$p50" "$p99" "$failed" "$tso" >&2
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)
bench_note "basalt :$basalt_port, redis-always :$always_port; rounds $ROUNDS, $TXNS txns per -c 50 run; load average $load_start"
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order=(basalt redis-always); else order=(redis-always basalt); fi
    for w in "${WL[@]}"; do
        IFS='|' read -r name c k n <<<"$w"
        for s in "${order[@]}"; do
            run_one "$r" "$s" "$name" "$c" "$k" "$n"
        done
    done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(($(date +%s) - t_start))

# ---- report ---------------------------------------------------------------------------
median() { # server workload column(4=txn/s,5=p50,6=p99,8=tso)
    awk -F'\t' -v s="$1" -v w="$2" -v c="$3" '$2 == s && $3 == w && $c != "NA" && $c != "-" { print $c }' \
        "$raw" >"$work/median.in"
    bench_median "$work/median.in"
}
ratio() { bench_ratio "$@"; }
failures() { awk -F'\t' -v s="$1" '$2 == s { f += $7 } END { print f + 0 }' "$raw"; }

echo
echo "MULTI/EXEC: Basalt vs redis-server (appendfsync always), medians of $ROUNDS alternating rounds"
echo "load average: $load_start at start, $load_end at end ($(nproc) CPUs); ${elapsed}s of runs"
echo
printf '| %-12s | %12s | %12s | %6s | %-25s | %-25s | %9s |\n' workload "basalt txn/s" \
    "redis txn/s" ratio "basalt p50 / p99 ms" "redis p50 / p99 ms" "TSO/txn"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' -------------- -------------- -------------- -------- \
    --------------------------- --------------------------- -----------
for w in "${WL[@]}"; do
    name=${w%%|*}
    b=$(median basalt "$name" 4); a=$(median redis-always "$name" 4)
    printf '| %-12s | %12s | %12s | %6s | %-25s | %-25s | %9s |\n' "$name" "$b" "$a" \
        "$(ratio "$b" "$a")" "$(median basalt "$name" 5) / $(median basalt "$name" 6)" \
        "$(median redis-always "$name" 5) / $(median redis-always "$name" 6)" \
        "$(median basalt "$name" 8)"
done
echo
echo "failed EXECs (nil or error): basalt $(failures basalt), redis-always $(failures redis-always)"
echo "basalt totals: $(redis-cli -p "$basalt_port" info basalt | tr -d '\r' | grep -E '^txn_(committed|one_pc|conflicts|tso_requests|tso_batches):' | tr '\n' ' ')"
exit 0
