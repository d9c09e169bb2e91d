# lib.sh -- shell helpers shared by the benchmark scripts of utils/bench/ (source it; it
# runs nothing by itself). Every server a benchmark starts listens on 127.0.0.1, on a
# fresh data directory, and is stopped by its pid, never by name.
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   bench_workdir resp-vs-grpc          # BENCH_WORK=<mktemp dir>; removed at exit
#   bench_start_basalt "$BASALT_BIN" basalt --log-level warn
#   echo "$BASALT_RESP_PORT $BASALT_GRPC_PORT $BASALT_PD_PORT $BASALT_STATUS_PORT"
#   bench_start_redis redis-always --appendonly yes --appendfsync always   # BENCH_PORT
#
# Servers started here are recorded in BENCH_PIDS and stopped by the EXIT trap that
# bench_workdir installs (SIGTERM, then SIGKILL after 10 s); BENCH_KEEP=1 keeps the
# work directory (logs) instead of removing it. Errors end the script through bench_die.

BENCH_NAME=${BENCH_NAME:-bench}
BENCH_PIDS=()
BENCH_WORK=

bench_die() { echo "$BENCH_NAME: $*" >&2; exit 1; }
bench_note() { echo "# $*" >&2; }

# A port that was free a moment ago on 127.0.0.1 (for servers that cannot take port 0).
bench_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# bench_stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL. Returns the exit status.
bench_stop_pid() {
    local pid=$1 _
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

# shellcheck disable=SC2317  # invoked by the trap
bench_cleanup() {
    local p
    for p in "${BENCH_PIDS[@]}"; do
        bench_stop_pid "$p"
    done
    BENCH_PIDS=()
    [ -n "$BENCH_WORK" ] || return 0
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        bench_note "kept $BENCH_WORK"
    else
        rm -rf "$BENCH_WORK"
    fi
}

# bench_workdir NAME: a fresh temp dir in BENCH_WORK, and the traps that clean up.
bench_workdir() {
    BENCH_NAME=$1
    BENCH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || bench_die "mktemp failed"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

# bench_wait_ping PORT PID NAME: until redis-cli PING answers PONG (30 s at most).
bench_wait_ping() {
    local _
    for _ in $(seq 1 300); do
        kill -0 "$2" 2>/dev/null || bench_die "$3 exited at startup (logs in $BENCH_WORK)"
        [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    bench_die "$3 did not answer PING on port $1"
}

# bench_start_basalt BIN NAME [ARGS...]: basalt-server on $BENCH_WORK/NAME/data with every
# port chosen by the kernel (port 0), waits until it printed its ports and answers PING.
# Sets BASALT_PID, BASALT_RESP_PORT, BASALT_GRPC_PORT, BASALT_PD_PORT, BASALT_STATUS_PORT.
bench_start_basalt() {
    local bin=$1 name=$2 dir out _
    shift 2
    [ -x "$bin" ] || bench_die "no basalt-server at $bin (run make, or set BASALT_BIN)"
    dir=$BENCH_WORK/$name
    out=$dir/stdout
    mkdir -p "$dir"
    "$bin" --data-dir "$dir/data" --redis-addr 127.0.0.1:0 --status-addr 127.0.0.1:0 \
        --addr 127.0.0.1:0 --pd-addr 127.0.0.1:0 --log-file "$dir/server.log" "$@" \
        >"$out" 2>&1 &
    BASALT_PID=$!
    BENCH_PIDS+=("$BASALT_PID")
    for _ in $(seq 1 300); do
        grep -q '^status listening on' "$out" 2>/dev/null && break
        kill -0 "$BASALT_PID" 2>/dev/null || bench_die "basalt-server exited: $(cat "$out")"
        sleep 0.1
    done
    _bench_port() { sed -n "s/^$1 listening on .*:\([0-9]*\)\$/\1/p" "$out" | head -1; }
    BASALT_RESP_PORT=$(_bench_port RESP)
    BASALT_GRPC_PORT=$(_bench_port gRPC)
    BASALT_PD_PORT=$(_bench_port PD)
    BASALT_STATUS_PORT=$(_bench_port status)
    [ -n "$BASALT_RESP_PORT" ] && [ -n "$BASALT_GRPC_PORT" ] && [ -n "$BASALT_PD_PORT" ] ||
        bench_die "basalt-server printed no ports: $(cat "$out")"
    bench_wait_ping "$BASALT_RESP_PORT" "$BASALT_PID" basalt-server
}

# bench_start_redis NAME [ARGS...]: redis-server ($REDIS_SERVER or redis-server) on a free
# port with its dir in $BENCH_WORK/NAME, no snapshots; sets BENCH_PORT and BENCH_PID.
bench_start_redis() {
    local name=$1
    shift
    command -v "${REDIS_SERVER:-redis-server}" >/dev/null || bench_die "no redis-server (set REDIS_SERVER)"
    mkdir -p "$BENCH_WORK/$name"
    BENCH_PORT=$(bench_free_port)
    "${REDIS_SERVER:-redis-server}" --port "$BENCH_PORT" --bind 127.0.0.1 --dir "$BENCH_WORK/$name" \
        --save "" --daemonize no --logfile "$BENCH_WORK/$name/redis.log" "$@" >/dev/null 2>&1 &
    BENCH_PID=$!
    BENCH_PIDS+=("$BENCH_PID")
    bench_wait_ping "$BENCH_PORT" "$BENCH_PID" "$name"
}

# bench_median FILE: the median of the numbers in FILE, one a line ("NA" when empty).
bench_median() {
    sort -g "$1" | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "NA"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_ratio A B: A/B with two decimals, NA when either is NA or B is 0.
bench_ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA" || b == 0) print "NA"; else printf "%.2f", a / b }'
}
