#!/bin/sh
# watchdog.sh RUNNER_PID SERVER_PID MAX_SECONDS ?ROOT? -- stops one test server by pid if
# the Tcl runner that started it is gone or the server has run longer than MAX_SECONDS.
# When the runner is gone it also removes the server's temporary directory ROOT, which the
# runner can no longer do.
#
# The runner stops its servers itself; this guards the cases it cannot handle (the runner
# killed, a hung test killed by an outer timeout). It signals only the pid it was given,
# and only while that pid is still the same process (same start time), so a recycled pid
# is never hit.
runner=$1
server=$2
max=$3
root=${4:-}

# Sets state and started from /proc/PID/stat (fields 3 and 22, counted after the ")" that
# ends the command name); both empty when there is no such process. Builtins only: this
# runs every second for every server.
read_stat() {
  state=""
  started=""
  if [ -r "/proc/$1/stat" ] && read -r line <"/proc/$1/stat" 2>/dev/null; then
    # shellcheck disable=SC2086
    set -- ${line##*) }
    state=$1
    shift 19
    started=$1
  fi
}

alive() {
  if [ -d /proc/self ]; then
    read_stat "$1"
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
  else
    kill -0 "$1" 2>/dev/null
  fi
}

same_server() {
  alive "$server" && [ "$started" = "$born" ]
}

read_stat "$server"
born=$started
waited=0
while same_server; do
  if ! alive "$runner" || [ "$waited" -ge "$max" ]; then
    kill -TERM "$server" 2>/dev/null
    i=0
    while [ "$i" -lt 10 ] && same_server; do
      sleep 1
      i=$((i + 1))
    done
    same_server && kill -KILL "$server" 2>/dev/null
    if ! alive "$runner"; then
      case "$root" in
        */basalt-tcl.*) rm -rf "$root" ;;
      esac
    fi
    exit 0
  fi
  sleep 1
  waited=$((waited + 1))
done
exit 0
