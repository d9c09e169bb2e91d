#!/usr/bin/env bash
# resp-vs-redis.sh -- Basalt's RESP front end against redis-server, same machine, same
# redis-benchmark workloads, alternating runs, medians and ratios Basalt/redis.
#
# Three servers run side by side on 127.0.0.1, each on a fresh temp data dir:
#   basalt          basalt-server standalone (every write is a synced Raft entry)
#   redis-always    redis-server --appendonly yes --appendfsync always (durable, like Basalt)
#   redis-nopersist redis-server --appendonly no --save ""             (memory only)
# Every workload runs once against each server per round (the order rotates per round),
# for BENCH_ROUNDS rounds; the table shows medians of ops/s and of p99 latency. A run starts
# only when no server is flushing, compacting or rewriting its AOF (settle, below).
#
# Usage: utils/bench/resp-vs-redis.sh            (after `make`; exits 0, a benchmark)
# Environment:
#   BASALT_BIN      basalt-server binary (default: <repo>/bin/basalt-server)
#   BASALT_BASE_BIN a second basalt-server binary (e.g. a build of the unchanged tree): runs
#                   as a fourth server "basalt-base" in the same rotation, and the table
#                   gains a column basalt/basalt-base, so a change is judged by runs of the
#                   same minutes (optional)
#   REDIS_SERVER    redis-server binary (default: redis-server on PATH)
#   BENCH_ROUNDS    alternating rounds (default 3)
#   BENCH_REQUESTS  requests per -P 1 run (default 50000; -P 16 runs send 4x, MSET 1/3)
#   BENCH_KEYSPACE  -r of the SET/GET/MSET workloads and keys preloaded for GET (100000)
#   BENCH_CLIENTS   -c (default 50)
#   BENCH_ONLY      space-separated workload names to run (default: all)
#   BENCH_KEEP=1    keep the temp dir (server logs, raw CSV) instead of removing it
#
# Workloads (-c 50; SET/GET/MSET with -r 100000, INCR on one hot key):
#   set-d100-P1 set-d100-P16 set-d4096-P1 set-d4096-P16
#   get-d100-P1 get-d100-P16 get-d4096-P1 get-d4096-P16   (keys preloaded with that size)
#   incr-hot-P1 mset10-d100-P1
# Targets (printed as met / MISSED, never an exit status):
#   vs redis-always:    SET -P 1 and INCR -P 1 >= 1.5x; SET -P 16 and MSET >= 1.0x;
#                       SET -P 1 p99 latency <= redis-always's
#   vs redis-nopersist: GET >= 0.6x

set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
BASALT_BIN=${BASALT_BIN:-$repo/bin/basalt-server}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
ROUNDS=${BENCH_ROUNDS:-3}
REQ=${BENCH_REQUESTS:-50000}
KEYSPACE=${BENCH_KEYSPACE:-100000}
CLIENTS=${BENCH_CLIENTS:-50}
ONLY=${BENCH_ONLY:-}
BASE_BIN=${BASALT_BASE_BIN:-}

. "$here/lib.sh"
die() { bench_die "$@"; }
note() { bench_note "$@"; }

[ -z "$BASE_BIN" ] || [ -x "$BASE_BIN" ] || die "no basalt-server at BASALT_BASE_BIN=$BASE_BIN"
for t in redis-benchmark redis-cli python3; do
    command -v "$t" >/dev/null || die "$t is required"
done

bench_workdir resp-vs-redis
work=$BENCH_WORK
bench_pid=
# A redis-benchmark still running goes first, then the servers (lib.sh).
# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    [ -n "$bench_pid" ] && kill -TERM "$bench_pid" 2>/dev/null
    bench_cleanup
}
trap cleanup EXIT

# ---- servers --------------------------------------------------------------------------
bench_start_basalt "$BASALT_BIN" basalt --log-level warn
basalt_port=$BASALT_RESP_PORT
declare -A STATUS=([basalt]=$BASALT_STATUS_PORT)
if [ -n "$BASE_BIN" ]; then
    bench_start_basalt "$BASE_BIN" basalt-base --log-level warn
    base_port=$BASALT_RESP_PORT
    STATUS[basalt-base]=$BASALT_STATUS_PORT
fi
bench_start_redis redis-always --appendonly yes --appendfsync always
always_port=$BENCH_PORT
bench_start_redis redis-nopersist --appendonly no
nopersist_port=$BENCH_PORT

declare -A PORT=([basalt]=$basalt_port [redis-always]=$always_port [redis-nopersist]=$nopersist_port)
SERVERS=(basalt redis-always redis-nopersist)
if [ -n "$BASE_BIN" ]; then
    PORT[basalt-base]=$base_port
    SERVERS+=(basalt-base)
fi

# ---- workloads ------------------------------------------------------------------------
# MSET is redis-benchmark's `-t mset` (10 keys, -d 100 values) on keys of their own prefix:
# the preload and the SET runs split the "key:" range into several Regions, and an MSET
# across Regions is a transaction, not the one-Raft-entry path this measures.
MSET_ARGS=""
for _ in $(seq 1 10); do MSET_ARGS+=" m:__rand_int__ $(printf 'v%.0s' $(seq 1 100))"; done
# name | requests | redis-benchmark arguments (after -h/-p/-c/--csv)
WL=(
  "set-d100-P1|$REQ|-t set -r $KEYSPACE -d 100 -P 1"
  "set-d100-P16|$((REQ * 4))|-t set -r $KEYSPACE -d 100 -P 16"
  "set-d4096-P1|$REQ|-t set -r $KEYSPACE -d 4096 -P 1"
  "set-d4096-P16|$((REQ * 4))|-t set -r $KEYSPACE -d 4096 -P 16"
  "get-d100-P1|$REQ|-r $KEYSPACE -P 1 GET g100:__rand_int__"
  "get-d100-P16|$((REQ * 4))|-r $KEYSPACE -P 16 GET g100:__rand_int__"
  "get-d4096-P1|$REQ|-r $KEYSPACE -P 1 GET g4096:__rand_int__"
  "get-d4096-P16|$((REQ * 4))|-r $KEYSPACE -P 16 GET g4096:__rand_int__"
  "incr-hot-P1|$REQ|-t incr -P 1"
  "mset10-d100-P1|$((REQ / 3))|-r $KEYSPACE -P 1 MSET $MSET_ARGS"
)

selected() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }

# GET reads keys g<size>:<12 digits>, exactly what __rand_int__ expands to, all preloaded.
need_get=0
for w in "${WL[@]}"; do
    n=${w%%|*}
    [[ $n == get-* ]] && selected "$n" && need_get=1
done

preload() { # port
    python3 - "$KEYSPACE" <<'EOF' | redis-cli -p "$1" --pipe >"$work/preload.out" 2>&1
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
for size in (100, 4096):
    val = b"x" * size
    head = b"*3\r\n$3\r\nSET\r\n$%d\r\n" % (len("g%d:" % size) + 12)
    tail = b"\r\n$%d\r\n%s\r\n" % (size, val)
    buf = []
    for i in range(n):
        buf.append(head + b"g%d:%012d" % (size, i) + tail)
        if len(buf) == 2000:
            out.write(b"".join(buf)); buf = []
    out.write(b"".join(buf))
EOF
}

if [ "$need_get" = 1 ]; then
    for s in "${SERVERS[@]}"; do
        t0=$(date +%s.%N)
        # loading is setup, not measured: redis-always need not fsync every batch of it
        [ "$s" = redis-always ] && redis-cli -p "${PORT[$s]}" config set appendfsync no >/dev/null
        preload "${PORT[$s]}" || note "preload of $s reported an error: $(tail -2 "$work/preload.out")"
        [ "$s" = redis-always ] && redis-cli -p "${PORT[$s]}" config set appendfsync always >/dev/null
        note "preloaded $KEYSPACE keys x (100 B + 4096 B) into $s in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
    done
    # the first runs should not pay for writing back the preload's dirty pages
    sync
    sleep 3
fi

# No run starts while any server is busy with background maintenance, its own or another's
# (they share two cores): it would be charged for work an earlier run caused. redis-always
# rewrites its AOF as it grows; Basalt's RocksDB flushes memtables and compacts (the preload
# and the SET runs leave hundreds of MB to compact). Waits up to 60 s; then runs anyway.
settle() {
    local _ s busy
    for _ in $(seq 1 600); do
        busy=
        for s in "${SERVERS[@]}"; do
            if [[ $s == redis-* ]]; then
                redis-cli -p "${PORT[$s]}" info persistence 2>/dev/null |
                    grep -Eq '^(aof_rewrite_in_progress|rdb_bgsave_in_progress):1' && busy=$s
            else
                basalt_busy "$s" && busy=$s
            fi
            [ -n "$busy" ] && break
        done
        [ -z "$busy" ] && return 0
        sleep 0.1
    done
    note "$busy still busy with background work after 60 s; running anyway"
}

# Whether a Basalt server has a flush or compaction running or due (its /metrics).
basalt_busy() { # server
    local port=${STATUS[$1]:-}
    [ -n "$port" ] || return 1
    python3 - "$port" <<'EOF' 2>/dev/null
import sys, urllib.request
t = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
busy = [l for l in t.splitlines() if l.startswith(("basalt_engine_compaction_pending",
        "basalt_engine_flush_pending", "basalt_engine_running_compactions",
        "basalt_engine_running_flushes")) and float(l.split()[-1]) > 0]
sys.exit(0 if busy else 1)
EOF
}

fsyncs() { # server
    local port=${STATUS[$1]:-}
    [ -n "$port" ] || { echo 0; return; }
    python3 - "$port" <<'EOF' 2>/dev/null || echo 0
import sys, urllib.request
t = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
print(sum(int(float(l.split()[-1])) for l in t.splitlines()
          if l.startswith("basalt_raftstore_fsync_total")))
EOF
}

raw=$work/results.tsv   # round server workload rps p50 p99 fsyncs
: >"$raw"

run_one() { # round server name requests args
    local r=$1 s=$2 name=$3 n=$4 args=$5 out f0 f1 line
    settle
    f0=0; [[ $s == basalt* ]] && f0=$(fsyncs "$s")
    # in the background, so that a signal ends the script at once (the trap kills it)
    # shellcheck disable=SC2086
    redis-benchmark -h 127.0.0.1 -p "${PORT[$s]}" -c "$CLIENTS" -n "$n" --csv $args \
        >"$work/bench.out" 2>"$work/bench.err" &
    bench_pid=$!
    wait "$bench_pid"
    bench_pid=
    out=$(cat "$work/bench.out")
    f1=0; [[ $s == basalt* ]] && f1=$(fsyncs "$s")
    # CSV: "test","rps","avg","min","p50","p95","p99","max"
    line=$(printf '%s\n' "$out" | awk -F, 'NR == 2 { gsub(/"/, ""); print $2, $5, $7 }')
    if [ -z "$line" ]; then
        note "round $r $s $name: no result ($(head -c 300 "$work/bench.err"))"
        return
    fi
    # shellcheck disable=SC2086
    set -- $line
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$s" "$name" "$1" "$2" "$3" $((f1 - f0)) >>"$raw"
    printf '# round %s %-15s %-15s %10s ops/s  p50 %6s ms  p99 %7s ms\n' "$r" "$s" "$name" "$1" "$2" "$3" >&2
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)
note "basalt-server $("$BASALT_BIN" --version 2>/dev/null | head -1) on :$basalt_port, redis-always :$always_port, redis-nopersist :$nopersist_port${BASE_BIN:+, basalt-base :$base_port}"
note "rounds $ROUNDS, requests $REQ (-P 16: $((REQ * 4)), MSET: $((REQ / 3))), -c $CLIENTS, -r $KEYSPACE; load average $load_start"

for r in $(seq 1 "$ROUNDS"); do
    # rotate the server order each round so no server always runs first or last
    k=$(((r - 1) % ${#SERVERS[@]}))
    order=("${SERVERS[@]:k}" "${SERVERS[@]:0:k}")
    for w in "${WL[@]}"; do
        IFS='|' read -r name n args <<<"$w"
        selected "$name" || continue
        for s in "${order[@]}"; do
            run_one "$r" "$s" "$name" "$n" "$args"
        done
    done
done

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(($(date +%s) - t_start))

# ---- report ---------------------------------------------------------------------------
median() { # server workload column(4=rps,5=p50,6=p99,7=fsyncs)
    awk -F'\t' -v s="$1" -v w="$2" -v c="$3" '$2 == s && $3 == w { print $c }' "$raw" \
        >"$work/median.in"
    bench_median "$work/median.in"
}
ratio() { bench_ratio "$@"; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "NA" && a + 0 >= b + 0) }'; }

declare -A P99 RATIO_A RATIO_N
echo
echo "Basalt vs redis-server: medians of $ROUNDS alternating rounds, -c $CLIENTS, -r $KEYSPACE (INCR: one key)"
echo "load average: $load_start at start, $load_end at end ($(nproc) CPUs); ${elapsed}s of runs"
echo
printf '| %-15s | %12s | %12s | %6s | %13s | %6s | %-27s | %9s |\n' workload "basalt ops/s" \
    "redis-always" ratio "redis-nopers." ratio "p99 ms basalt / always" "ops/fsync"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' ----------------- -------------- -------------- -------- \
    --------------- -------- ----------------------------- -----------
for w in "${WL[@]}"; do
    name=${w%%|*}
    selected "$name" || continue
    b=$(median basalt "$name" 4); a=$(median redis-always "$name" 4); n=$(median redis-nopersist "$name" 4)
    pb=$(median basalt "$name" 6); pa=$(median redis-always "$name" 6)
    fs=$(median basalt "$name" 7)
    req=$(echo "$w" | cut -d'|' -f2)
    opf=$(awk -v f="$fs" -v r="$req" 'BEGIN { if (f == "NA" || f == 0) print "-"; else printf "%.1f", r / f }')
    P99[$name]="$pb $pa"
    RATIO_A[$name]=$(ratio "$b" "$a"); RATIO_N[$name]=$(ratio "$b" "$n")
    printf '| %-15s | %12s | %12s | %6s | %13s | %6s | %-27s | %9s |\n' "$name" "$b" "$a" \
        "${RATIO_A[$name]}" "$n" "${RATIO_N[$name]}" "$pb / $pa" "$opf"
done

if [ -n "$BASE_BIN" ]; then
    echo
    echo "basalt ($BASALT_BIN) vs basalt-base ($BASE_BIN), same rounds:"
    echo
    printf '| %-15s | %12s | %12s | %6s | %-23s | %-19s |\n' workload "basalt ops/s" \
        "base ops/s" ratio "p99 ms basalt / base" "ops/fsync / base"
    printf '|%s|%s|%s|%s|%s|%s|\n' ----------------- -------------- -------------- -------- \
        ------------------------- ---------------------
    for w in "${WL[@]}"; do
        name=${w%%|*}
        selected "$name" || continue
        req=$(echo "$w" | cut -d'|' -f2)
        b=$(median basalt "$name" 4); o=$(median basalt-base "$name" 4)
        pb=$(median basalt "$name" 6); po=$(median basalt-base "$name" 6)
        fb=$(median basalt "$name" 7); fo=$(median basalt-base "$name" 7)
        ob=$(awk -v f="$fb" -v r="$req" 'BEGIN { if (f == "NA" || f == 0) print "-"; else printf "%.1f", r / f }')
        oo=$(awk -v f="$fo" -v r="$req" 'BEGIN { if (f == "NA" || f == 0) print "-"; else printf "%.1f", r / f }')
        printf '| %-15s | %12s | %12s | %6s | %-23s | %-19s |\n' "$name" "$b" "$o" \
            "$(ratio "$b" "$o")" "$pb / $po" "$ob / $oo"
    done
fi

echo
echo "Targets (Basalt/redis, medians):"
target() { # label value threshold (value >= threshold)
    local v=$2 verdict
    if [ "$v" = NA ]; then verdict="not run"
    elif ge "$v" "$3"; then verdict=met
    else verdict=MISSED; fi
    printf '  %-52s %6s  (>= %s)  %s\n' "$1" "$v" "$3" "$verdict"
}
for name in set-d100-P1 set-d4096-P1 incr-hot-P1; do
    selected "$name" && target "$name vs redis-always" "${RATIO_A[$name]}" 1.5
done
for name in set-d100-P16 set-d4096-P16 mset10-d100-P1; do
    selected "$name" && target "$name vs redis-always" "${RATIO_A[$name]}" 1.0
done
for name in set-d100-P1 set-d4096-P1; do
    selected "$name" || continue
    read -r pb pa <<<"${P99[$name]}"
    if [ "$pb" = NA ] || [ "$pa" = NA ]; then verdict="not run"
    elif awk -v a="$pb" -v b="$pa" 'BEGIN { exit !(a <= b) }'; then verdict=met
    else verdict=MISSED; fi
    printf '  %-52s %6s  (<= %s ms)  %s\n' "$name p99 ms, basalt vs redis-always" "$pb" "$pa" "$verdict"
done
for name in get-d100-P1 get-d100-P16 get-d4096-P1 get-d4096-P16; do
    selected "$name" && target "$name vs redis-nopersist" "${RATIO_N[$name]}" 0.6
done
echo
echo "ops/fsync: Basalt requests per raftstore fsync (basalt_raftstore_fsync_total) in a run."
[ "${BENCH_KEEP:-0}" = 1 ] && echo "raw results: $raw"
exit 0
