#!/usr/bin/env bash
# Side-by-side load benchmark: gdc-node and redis-server 7 on this machine, in the same run,
# under redis-benchmark. Prints a Markdown table of requests/s and the gdc/redis ratio.
#
#   benches/scripts/redis-compare.sh            # -n 1000000 -c 50 -r 1000000, 3 runs
#   N=200000 RUNS=1 benches/scripts/redis-compare.sh   # quicker
#   GDC_BIN=/tmp/old/gdc-node benches/scripts/redis-compare.sh   # another build (not built)
#   PGO=0 benches/scripts/redis-compare.sh      # the plain `cargo build --release`
#
# gdc-node is the release build, optimized with its profile (scripts/build-release, which
# trains on other settings than these) unless PGO=0.
#
# Each row's figure is the median of RUNS runs. A run flushes both servers, then takes the
# rows in order, each on one server and right after on the other (gdc-node first in odd
# runs, redis-server first in even ones): the two figures of a row are measured seconds
# apart, so this VM's drift from minute to minute falls on both alike.
# Each server sees the same sequence (GET reads the keys SET wrote, the pops take what the
# pushes left).
#
# Both servers log every write: gdc its binlog (appendfsync everysec), Redis its AOF
# (appendonly yes, appendfsync everysec). Redis's automatic AOF rewrite is off (as in
# cpu-per-op.sh): its forked child would run on into the next row, gdc-node's now that the
# rows alternate. gdc-node's own automatic snapshots stay on (each 256 MB of binlog once it
# outgrows the data), so gdc pays for bounding its log in its rows and Redis does not. Installs Debian's redis-server and redis-tools when
# they are missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

N="${N:-1000000}"
CLIENTS="${CLIENTS:-50}"
TESTS="${TESTS:-set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,mset}"
RUNS="${RUNS:-3}"
# REDIS_AOF=no: redis-server without persistence (issue 21's second bar, ≥ 0.9 of it).
REDIS_AOF="${REDIS_AOF:-yes}"
GDC_PORT="${GDC_PORT:-7811}"
REDIS_PORT="${REDIS_PORT:-7812}"

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    apt-get update -q && apt-get install -y -q redis-server redis-tools
fi
gdc_bin="${GDC_BIN:-}"
build="GDC_BIN=$gdc_bin"
if [ -z "$gdc_bin" ] && [ "${PGO:-1}" = 1 ]; then
    gdc_bin="$(scripts/build-release)"
    build="scripts/build-release"
elif [ -z "$gdc_bin" ]; then
    cargo build --release -q -p gdc-node
    gdc_bin=target/release/gdc-node
    build="cargo build --release"
fi

work="$(mktemp -d)"
cleanup() {
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    [ -n "${gdc_pid:-}" ] && kill "$gdc_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

start_gdc() {
    "$gdc_bin" --port "$GDC_PORT" --dir "$work/gdc" --appendfsync everysec 2>>"$work/gdc.log" &
    gdc_pid=$!
}
start_redis() {
    mkdir -p "$work/redis"
    redis-server --port "$REDIS_PORT" --dir "$work/redis" --save '' --appendonly "$REDIS_AOF" \
        --appendfsync everysec --auto-aof-rewrite-percentage 0 --daemonize yes --logfile "$work/redis.log" \
        --pidfile "$work/redis.pid"
}
# Seconds until the server on port $1 answers PING (polled every 10 ms, at most 120 s).
until_ready() {
    local start end
    start=$(date +%s.%N)
    for _ in $(seq 12000); do
        redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && break
        sleep 0.01
    done
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}
rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
used_memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'; }

start_gdc
start_redis
until_ready "$GDC_PORT" >/dev/null
until_ready "$REDIS_PORT" >/dev/null

# requests/s of test $3 on port $1 at pipeline $2, as a "TEST rate" line (LRANGE_100's
# LPUSH fill is not a row)
run() {
    redis-benchmark -p "$1" -q -c "$CLIENTS" -n "$N" -r 1000000 -P "$2" -t "$3" 2>/dev/null \
        | tr '\r' '\n' | grep 'requests per second' | grep -v 'rps=' | grep -v 'needed to benchmark' \
        | sed -E 's/^ *([A-Z_0-9]+).*: ([0-9.]+) requests per second.*/\1 \2/'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

echo "redis-benchmark -c $CLIENTS -n $N -r 1000000, median of $RUNS runs; gdc-node from $build; $(redis-server --version | cut -d' ' -f1-3) appendonly $REDIS_AOF; $(nproc) cores"
echo
echo "| command | pipeline | gdc-node req/s | redis-server req/s | gdc / redis |"
echo "|---|---|---|---|---|"
for pipeline in 1 16; do
    gdc_runs="" redis_runs=""
    for r in $(seq "$RUNS"); do
        redis-cli -p "$GDC_PORT" flushall >/dev/null
        redis-cli -p "$REDIS_PORT" flushall >/dev/null
        for t in ${TESTS//,/ }; do
            # The servers take turns going first, run by run.
            if [ $((r % 2)) = 1 ]; then
                gdc_runs+="$(run "$GDC_PORT" "$pipeline" "$t")"$'\n'
                redis_runs+="$(run "$REDIS_PORT" "$pipeline" "$t")"$'\n'
            else
                redis_runs+="$(run "$REDIS_PORT" "$pipeline" "$t")"$'\n'
                gdc_runs+="$(run "$GDC_PORT" "$pipeline" "$t")"$'\n'
            fi
        done
    done
    for cmd in $(awk 'NF { print $1 }' <<<"$gdc_runs" | awk '!seen[$0]++'); do
        g="$(awk -v c="$cmd" '$1 == c { print $2 }' <<<"$gdc_runs" | median)"
        r="$(awk -v c="$cmd" '$1 == c { print $2 }' <<<"$redis_runs" | median)"
        awk -v c="$cmd" -v p="$pipeline" -v g="$g" -v r="$r" \
            'BEGIN { printf "| %s | %s | %.0f | %.0f | %.2f |\n", c, p, g, r, (r > 0 ? g / r : 0) }'
    done
done

# Memory per key and restart time: 1M string keys with 16-byte values, in fresh servers
# with empty data directories (nothing left over from the load above).
KEYS_N="${KEYS_N:-1000000}"
redis-cli -p "$GDC_PORT" shutdown >/dev/null 2>&1 || true
wait "$gdc_pid" 2>/dev/null || true
redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
sleep 0.5
rm -rf "$work/gdc" "$work/redis"
start_gdc
start_redis
until_ready "$GDC_PORT" >/dev/null
until_ready "$REDIS_PORT" >/dev/null
redis_pid="$(cat "$work/redis.pid")"
declare -A before_used before_rss
for port in "$GDC_PORT" "$REDIS_PORT"; do
    pid="$gdc_pid"; [ "$port" = "$REDIS_PORT" ] && pid="$redis_pid"
    before_used[$port]="$(used_memory "$port")"
    before_rss[$port]="$(rss_kb "$pid")"
    # One SET per key, keys key:0000000000..: a Lua-free way to write exactly KEYS_N keys.
    seq 0 $((KEYS_N - 1)) | awk '{ printf "SET key:%010d v%015d\n", $1, $1 }' \
        | redis-cli -p "$port" --pipe >/dev/null
done
echo
echo "| $KEYS_N keys, 16-byte values | gdc-node | redis-server | gdc / redis |"
echo "|---|---|---|---|"
gdc_keys="$(redis-cli -p "$GDC_PORT" dbsize)"
redis_keys="$(redis-cli -p "$REDIS_PORT" dbsize)"
g_used=$(( ($(used_memory "$GDC_PORT") - before_used[$GDC_PORT]) / gdc_keys ))
r_used=$(( ($(used_memory "$REDIS_PORT") - before_used[$REDIS_PORT]) / redis_keys ))
g_rss=$(( ($(rss_kb "$gdc_pid") - before_rss[$GDC_PORT]) * 1024 / gdc_keys ))
r_rss=$(( ($(rss_kb "$redis_pid") - before_rss[$REDIS_PORT]) * 1024 / redis_keys ))
awk -v g="$g_used" -v r="$r_used" 'BEGIN { printf "| used_memory per key (B) | %d | %d | %.2f |\n", g, r, g / r }'
awk -v g="$g_rss" -v r="$r_rss" 'BEGIN { printf "| resident memory per key (B) | %d | %d | %.2f |\n", g, r, g / r }'

# Restart: stop both (no snapshot: gdc replays its binlog, Redis its AOF), time until PING.
redis-cli -p "$GDC_PORT" shutdown >/dev/null 2>&1 || true
wait "$gdc_pid" 2>/dev/null || true
redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
sleep 0.5
start_gdc
g_restart="$(until_ready "$GDC_PORT")"
start_redis
r_restart="$(until_ready "$REDIS_PORT")"
awk -v g="$g_restart" -v r="$r_restart" 'BEGIN { printf "| restart, log replay (s) | %.2f | %.2f | %.2f |\n", g, r, (r > 0 ? g / r : 0) }'
# gdc from a snapshot (SAVE, then restart).
redis-cli -p "$GDC_PORT" save >/dev/null
redis-cli -p "$GDC_PORT" shutdown >/dev/null 2>&1 || true
wait "$gdc_pid" 2>/dev/null || true
start_gdc
g_snap="$(until_ready "$GDC_PORT")"
echo "| restart, gdc from its snapshot (s) | $g_snap | | |"
