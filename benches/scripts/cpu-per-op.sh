#!/usr/bin/env bash
# CPU time per operation, gdc-node beside redis-server, in the same run: a figure that does
# not move with this machine's wall clock as requests/s do (the benchmark client shares the
# two cores, and a VM's wake-ups cost what the neighbours leave). This machine's perf has no
# hardware counters, so the figure is the server's CPU time (every thread's, from
# /proc/PID/task/*/schedstat, in ns) over the commands it ran (INFO's total_commands_processed).
#
#   benches/scripts/cpu-per-op.sh                       # -n 1000000 -c 50 -r 1000000
#   N=300000 TESTS=incr,sadd benches/scripts/cpu-per-op.sh
#   GDC_BIN=$(scripts/build-release) REDIS_AOF=no benches/scripts/cpu-per-op.sh
#
# Both servers log every write, everysec (gdc: binlog; Redis: AOF, with its automatic
# rewrite off so a forked child's work neither counts nor stalls a row), one at a time;
# with REDIS_AOF=no, redis-server keeps nothing.
set -euo pipefail
N="${N:-1000000}"
TESTS="${TESTS:-set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,mset}"
GDC_PORT="${GDC_PORT:-7831}"
REDIS_PORT="${REDIS_PORT:-7832}"
source "$(dirname "$0")/lib.sh"

# Commands the server on port $1 has run (the INFO call itself included).
commands() { redis-cli -p "$1" info stats | tr -d '\r' | awk -F: '$1 == "total_commands_processed" { print $2 }'; }
# Nanoseconds of CPU every thread of process $1 has run.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { print s }'; }

start_redis_plain() { # port: redis-server as lib.sh starts it, without AOF rewrites
    rm -rf "$work/redis"; mkdir -p "$work/redis"
    redis-server --port "$1" --dir "$work/redis" --appendonly "${REDIS_AOF:-yes}" --appendfsync everysec \
        --auto-aof-rewrite-percentage 0 --save "" --daemonize no >"$work/redis.log" 2>&1 &
    pid=$!
    until redis-cli -p "$1" ping >/dev/null 2>&1; do sleep 0.1; done
}

# For each pipeline depth, each server in turn runs every row, in order, from empty (as
# redis-compare.sh runs them: GET reads the keys SET wrote).
declare -A us rps
IFS=, read -ra tests <<<"$TESTS"
for p in 1 16; do
    for server in gdc redis; do
        if [ "$server" = gdc ]; then
            start gdc "$GDC_PORT"; port="$GDC_PORT"
        else
            start_redis_plain "$REDIS_PORT"; port="$REDIS_PORT"
        fi
        for t in "${tests[@]}"; do
            before="$(cpu_ns "$pid")"; cmds_before="$(commands "$port")"
            out="$(redis-benchmark -p "$port" -n "$N" -c 50 -r 1000000 -P "$p" -q -t "$t" 2>/dev/null | tr '\r' '\n')"
            after="$(cpu_ns "$pid")"; cmds="$(( $(commands "$port") - cmds_before - 1 ))"
            # Requests/s of the named row (LRANGE_100 runs an LPUSH fill first, which counts
            # in the CPU figure: CPU over every command the server ran).
            rps[$server,$t,$p]="$(awk '/requests per second/ && !/rps=/ { for (i = 2; i <= NF; i++) if ($i == "requests") v = $(i - 1) } END { print int(v) }' <<<"$out")"
            us[$server,$t,$p]="$(awk -v a="$before" -v b="$after" -v n="$cmds" 'BEGIN { printf "%.3f", (b - a) / n / 1000 }')"
        done
        stop "$port"
    done
done

echo "redis-benchmark -n $N -c 50 -r 1000000; gdc-node $gdc_node; $(redis-server --version | cut -d' ' -f1-3) appendonly ${REDIS_AOF:-yes}; $(nproc) cores"
echo
echo "| command | pipeline | gdc-node µs CPU/op | redis-server µs CPU/op | gdc / redis | gdc req/s | redis req/s |"
echo "|---|---|---|---|---|---|---|"
for t in "${tests[@]}"; do
    for p in 1 16; do
        awk -v t="$t" -v p="$p" -v g="${us[gdc,$t,$p]}" -v r="${us[redis,$t,$p]}" \
            -v gr="${rps[gdc,$t,$p]}" -v rr="${rps[redis,$t,$p]}" \
            'BEGIN { printf "| %s | %s | %.3f | %.3f | %.2f | %d | %d |\n", toupper(t), p, g, r, g / r, gr, rr }'
    done
done
