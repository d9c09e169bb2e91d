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

die() { echo "multi_exec_bench: $*" >&2; exit 1; }
note() { echo "# $*" >&2; }

[ -x "$BASALT_BIN" ] || die "no basalt-server at $BASALT_BIN (run make, or set BASALT_BIN)"
[ -x "$BENCH_BIN" ] || die "no multi_exec_bench at $BENCH_BIN (run make bench, or set BENCH_BIN)"
command -v "$REDIS_SERVER" >/dev/null || die "no redis-server (set REDIS_SERVER)"
for t in redis-cli python3; do
    command -v "$t" >/dev/null || die "$t is required"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/multi-exec-bench.XXXXXX") || die "mktemp failed"
pids=()

# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    local p _
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        for _ in $(seq 1 100); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        note "kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_ping() { # port pid name
    local _
    for _ in $(seq 1 300); do
        kill -0 "$2" 2>/dev/null || die "$3 exited at startup (logs in $work)"
        [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    die "$3 did not answer PING on port $1"
}

# ---- servers --------------------------------------------------------------------------
mkdir -p "$work/basalt" "$work/redis-always"
"$BASALT_BIN" --data-dir "$work/basalt/data" --redis-addr 127.0.0.1:0 \
    --status-addr 127.0.0.1:0 --addr 127.0.0.1:0 --pd-addr 127.0.0.1:0 \
    --log-file "$work/basalt/server.log" --log-level warn \
    >"$work/basalt/stdout" 2>&1 &
basalt_pid=$!
pids+=("$basalt_pid")
for _ in $(seq 1 300); do
    grep -q '^RESP listening on' "$work/basalt/stdout" 2>/dev/null && break
    kill -0 "$basalt_pid" 2>/dev/null || die "basalt-server exited: $(cat "$work/basalt/stdout")"
    sleep 0.1
done
basalt_port=$(sed -n 's/^RESP listening on .*:\([0-9]*\)$/\1/p' "$work/basalt/stdout" | head -1)
[ -n "$basalt_port" ] || die "basalt-server printed no RESP port: $(cat "$work/basalt/stdout")"
wait_ping "$basalt_port" "$basalt_pid" basalt-server

always_port=$(free_port)
"$REDIS_SERVER" --port "$always_port" --bind 127.0.0.1 --dir "$work/redis-always" --save "" \
    --daemonize no --logfile "$work/redis-always/redis.log" --appendonly yes \
    --appendfsync always >/dev/null 2>&1 &
pids+=("$!")
wait_ping "$always_port" "$!" redis-always

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
        note "round $r $s $name: no result ($(head -c 300 "$work/bench.err"))"
        return
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$s" "$name" "$tps" "$p50" "$p99" "$failed" "$tso" >>"$raw"
    printf '# round %s %-13s %-12s %8s txn/s  p50 %7s ms  p99 %8s ms  failed %s  tso/txn %s\n' \
        "$r" "$s" "$name" "$tps" "$p50" "$p99" "$failed" "$tso" >&2
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)
note "basalt :$basalt_port, redis-always :$always_port; rounds $ROUNDS, $TXNS txns per -c 50 run; load average $load_start"
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
    awk -F'\t' -v s="$1" -v w="$2" -v c="$3" '$2 == s && $3 == w && $c != "NA" && $c != "-" { print $c }' "$raw" |
        sort -g | awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "NA"; exit }
            if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA" || b == 0) print "NA"; else printf "%.2f", a / b }'; }
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
