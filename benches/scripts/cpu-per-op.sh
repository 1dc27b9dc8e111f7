#!/usr/bin/env bash
# CPU time per operation, gdc-node beside redis-server, in the same run: a figure that does
# not move with this machine's wall clock as requests/s do (the benchmark client shares the
# two cores, and a VM's wake-ups cost what the neighbours leave). This machine's perf has no
# hardware counters, so the figure is the server's CPU time (every thread's, from
# /proc/PID/task/*/schedstat, in ns) over the commands it ran (INFO's total_commands_processed).
# Beside it, the client's: redis-benchmark's user and system time over the requests it sent.
# Where the client spends more a request than the server, the client is the limit, and
# requests/s say nothing of the server (at -P 1 on this 2-core VM: BENCHMARKS.md, (21)).
#
#   benches/scripts/cpu-per-op.sh                       # -n 1000000 -c 50 -r 1000000
#   N=300000 TESTS=incr,sadd PIPELINES=1 benches/scripts/cpu-per-op.sh
#   GDC_BIN=$(scripts/build-release) REDIS_AOF=no benches/scripts/cpu-per-op.sh
#
# gdc-node logs every write to its binlog, everysec; redis-server once with AOF everysec
# (its automatic rewrite off, so a forked child's work neither counts nor stalls a row) and
# once without persistence (REDIS_AOF=yes or no: only one of them). One server at a time,
# each running every row in order from empty. With PIN=1 (the default on two cores or
# more) the server runs on the last core and redis-benchmark on the others, as in
# redis-compare.sh.
set -euo pipefail
N="${N:-1000000}"
TESTS="${TESTS:-set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,mset}"
PIPELINES="${PIPELINES:-1 16}"
REDIS_AOF="${REDIS_AOF:-both}"
GDC_PORT="${GDC_PORT:-7831}"
REDIS_PORT="${REDIS_PORT:-7832}"
source "$(dirname "$0")/lib.sh"
case "$REDIS_AOF" in
both) servers="gdc redis-aof redis" ;;
yes) servers="gdc redis-aof" ;;
no) servers="gdc redis" ;;
*) echo "REDIS_AOF is both, yes or no" >&2 && exit 2 ;;
esac
source benches/scripts/pin.sh
# Commands the server on port $1 has run (the INFO call itself included).
commands() { redis-cli -p "$1" info stats | tr -d '\r' | awk -F: '$1 == "total_commands_processed" { print $2 }'; }
# Nanoseconds of CPU every thread of process $1 has run.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { print s }'; }
start_server() { # name port: gdc, redis-aof (without AOF rewrites) or redis (no persistence)
    rm -rf "$work/$1"; mkdir -p "$work/$1"
    if [ "$1" = gdc ]; then
        "${server_cpus[@]}" "$gdc_node" --port "$2" --dir "$work/$1" --appendfsync everysec \
            >"$work/$1.log" 2>&1 &
    else
        local aof=no
        [ "$1" = redis-aof ] && aof=yes
        "${server_cpus[@]}" redis-server --port "$2" --dir "$work/$1" --appendonly "$aof" \
            --appendfsync everysec --auto-aof-rewrite-percentage 0 --save "" --daemonize no \
            >"$work/$1.log" 2>&1 &
    fi
    pid=$!
    until redis-cli -p "$2" ping >/dev/null 2>&1; do sleep 0.1; done
}
# For each pipeline depth, each server in turn runs every row, in order, from empty (as
# redis-compare.sh runs them: GET reads the keys SET wrote).
declare -A us client rps
IFS=, read -ra tests <<<"$TESTS"
TIMEFORMAT="%U %S"
for p in $PIPELINES; do
    for server in $servers; do
        port="$GDC_PORT"; [ "$server" != gdc ] && port="$REDIS_PORT"
        start_server "$server" "$port"
        for t in "${tests[@]}"; do
            before="$(cpu_ns "$pid")"; cmds_before="$(commands "$port")"
            # bash's `time` gives the client's user and system seconds (on stderr, last line).
            { time "${client_cpus[@]}" redis-benchmark -p "$port" -n "$N" -c 50 -r 1000000 -P "$p" \
                -q -t "$t" >"$work/out" 2>/dev/null; } 2>"$work/time"
            after="$(cpu_ns "$pid")"; cmds="$(( $(commands "$port") - cmds_before - 1 ))"
            # Requests/s of the named row (LRANGE_100 runs an LPUSH fill first, which counts
            # in the CPU figures: CPU over every command the server ran).
            rps[$server,$t,$p]="$(tr '\r' '\n' <"$work/out" | awk '/requests per second/ && !/rps=/ { for (i = 2; i <= NF; i++) if ($i == "requests") v = $(i - 1) } END { print int(v) }')"
            us[$server,$t,$p]="$(awk -v a="$before" -v b="$after" -v n="$cmds" 'BEGIN { printf "%.3f", (b - a) / n / 1000 }')"
            client[$server,$t,$p]="$(tail -1 "$work/time" | awk -v n="$cmds" '{ printf "%.3f", ($1 + $2) * 1e6 / n }')"
        done
        redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=""
    done
done
declare -A name=([gdc]="gdc-node" [redis-aof]="redis-server, AOF" [redis]="redis-server, no persistence")
echo "redis-benchmark -n $N -c 50 -r 1000000; gdc-node $gdc_node; $(redis-server --version | cut -d' ' -f1-3); $(nproc) cores$pinning"
echo
head="| command | pipeline"; rule="|---|---"
for s in $servers; do head+=" | ${name[$s]} µs CPU/op"; rule+="|---"; done
for s in ${servers#gdc }; do head+=" | gdc / ${name[$s]}"; rule+="|---"; done
for s in $servers; do head+=" | client µs CPU/op, ${name[$s]}"; rule+="|---"; done
for s in $servers; do head+=" | ${name[$s]} req/s"; rule+="|---"; done
echo "$head |"
echo "$rule|"
for t in "${tests[@]}"; do
    for p in $PIPELINES; do
        line="| ${t^^} | $p"
        for s in $servers; do line+=" | ${us[$s,$t,$p]}"; done
        for s in ${servers#gdc }; do
            line+=" | $(awk -v g="${us[gdc,$t,$p]}" -v r="${us[$s,$t,$p]}" 'BEGIN { printf "%.2f", g / r }')"
        done
        for s in $servers; do line+=" | ${client[$s,$t,$p]}"; done
        for s in $servers; do line+=" | ${rps[$s,$t,$p]}"; done
        echo "$line |"
    done
done
