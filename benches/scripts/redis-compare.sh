#!/usr/bin/env bash
# Side-by-side load benchmark: gdc-node and redis-server 7 on this machine, in the same run,
# under redis-benchmark. Prints a Markdown table of requests/s and the gdc/redis ratio.
#
#   benches/scripts/redis-compare.sh            # -n 1000000 -c 50 -r 1000000, 3 runs
#   N=200000 RUNS=1 benches/scripts/redis-compare.sh   # quicker
#   GDC_BIN=/tmp/old/gdc-node benches/scripts/redis-compare.sh   # another build (not built)
#   PGO=0 benches/scripts/redis-compare.sh      # the plain `cargo build --release`
#   PIPELINES=16 TESTS=lpush,lpop RUNS=5 benches/scripts/redis-compare.sh   # some rows only
#   PIN=0 benches/scripts/redis-compare.sh      # no CPU pinning (see below)
#
# gdc-node is the release build, optimized with its profile (scripts/build-release, which
# trains on other settings than these) unless PGO=0.
#
# Issue 21's two bars in one run: gdc-node against redis-server with AOF everysec (≥ 1.0)
# and against redis-server without persistence (≥ 0.9). REDIS_AOF=yes or REDIS_AOF=no
# measures against one of the two only.
#
# Each row's figure is the median of RUNS runs. A run flushes the servers, then takes the
# rows in order, each on every server one right after another (the order turns by one
# server each run): the figures of a row are measured seconds apart, so this VM's drift
# from minute to minute falls on all alike.
# With PIN=1 (the default where there are two cores or more) each server runs on the last
# core and redis-benchmark on the others (`taskset`): neither takes the other's core, and
# the scheduler does not move them about. Unpinned, a row moved by 5-10% from one run to
# the next on this 2-core VM; at -P 1 the client, which spends more CPU a request than
# either server, is then the limit for every server alike (BENCHMARKS.md, (21)).
# Each server sees the same sequence (GET reads the keys SET wrote, the pops take what the
# pushes left).
#
# gdc-node logs every write to its binlog (appendfsync everysec); one Redis to its AOF
# (appendonly yes, appendfsync everysec), the other keeps nothing. Redis's automatic AOF
# rewrite is off (as in cpu-per-op.sh): its forked child would run on into the next row,
# gdc-node's now that the rows alternate. gdc-node's own automatic snapshots stay on (each
# 256 MB of binlog once it outgrows the data), so gdc pays for bounding its log in its rows
# and Redis does not. Memory per key and the restart are measured beside the AOF server
# (the other has no log to replay) unless REDIS_AOF=no. Installs Debian's redis-server and
# redis-tools when they are missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

N="${N:-1000000}"
CLIENTS="${CLIENTS:-50}"
TESTS="${TESTS:-set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,mset}"
RUNS="${RUNS:-3}"
# The pipeline depths measured (the issue asks for both).
PIPELINES="${PIPELINES:-1 16}"
# both (the default), yes (Redis with AOF only) or no (Redis without persistence only).
REDIS_AOF="${REDIS_AOF:-both}"
source benches/scripts/pin.sh
GDC_PORT="${GDC_PORT:-7811}"
REDIS_PORT="${REDIS_PORT:-7812}"
BARE_PORT="${BARE_PORT:-7813}"
case "$REDIS_AOF" in
both) redis_ports="$REDIS_PORT $BARE_PORT" ;;
yes) redis_ports="$REDIS_PORT" ;;
no) redis_ports="$BARE_PORT" ;;
*) echo "REDIS_AOF is both, yes or no" >&2 && exit 2 ;;
esac
# The Redis that memory per key and the restart are measured beside.
REDIS_MAIN="${redis_ports%% *}"

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
    for port in $redis_ports; do redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; done
    [ -n "${gdc_pid:-}" ] && kill "$gdc_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

start_gdc() {
    "${server_cpus[@]}" "$gdc_bin" --port "$GDC_PORT" --dir "$work/gdc" --appendfsync everysec 2>>"$work/gdc.log" &
    gdc_pid=$!
}
# A redis-server on port $1: with AOF on $REDIS_PORT, without persistence on $BARE_PORT.
start_redis() {
    local aof=yes
    [ "$1" = "$BARE_PORT" ] && aof=no
    mkdir -p "$work/redis-$1"
    "${server_cpus[@]}" redis-server --port "$1" --dir "$work/redis-$1" --save '' --appendonly "$aof" \
        --appendfsync everysec --auto-aof-rewrite-percentage 0 --daemonize yes \
        --logfile "$work/redis-$1.log" --pidfile "$work/redis-$1.pid"
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
for port in $redis_ports; do start_redis "$port"; done
until_ready "$GDC_PORT" >/dev/null
for port in $redis_ports; do until_ready "$port" >/dev/null; done

# requests/s of test $3 on port $1 at pipeline $2, as a "TEST rate" line (LRANGE_100's
# LPUSH fill is not a row)
run() {
    "${client_cpus[@]}" redis-benchmark -p "$1" -q -c "$CLIENTS" -n "$N" -r 1000000 -P "$2" -t "$3" 2>/dev/null \
        | tr '\r' '\n' | grep 'requests per second' | grep -v 'rps=' | grep -v 'needed to benchmark' \
        | sed -E 's/^ *([A-Z_0-9]+).*: ([0-9.]+) requests per second.*/\1 \2/'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
# The median of row $2's rates on port $1 (of this pipeline's runs, in `rates`).
rate_of() { awk -v c="$2" '$1 == c { print $2 }' <<<"${rates[$1]}" | median; }

servers="$GDC_PORT $redis_ports"
declare -A label=(["$REDIS_PORT"]="redis-server, AOF" ["$BARE_PORT"]="redis-server, no persistence")
echo "redis-benchmark -c $CLIENTS -n $N -r 1000000, median of $RUNS runs; gdc-node from $build; $(redis-server --version | cut -d' ' -f1-3); $(nproc) cores$pinning"
echo
head="| command | pipeline | gdc-node req/s"
rule="|---|---|---"
for port in $redis_ports; do head+=" | ${label[$port]} req/s"; rule+="|---"; done
for port in $redis_ports; do head+=" | gdc / ${label[$port]}"; rule+="|---"; done
echo "$head |"
echo "$rule|"
for pipeline in $PIPELINES; do
    declare -A rates=()
    for r in $(seq "$RUNS"); do
        for port in $servers; do redis-cli -p "$port" flushall >/dev/null; done
        # The order turns by one server each run.
        order="$(tr ' ' '\n' <<<"$servers" | awk -v r="$r" '{ s[NR - 1] = $0 } END { for (i = 0; i < NR; i++) print s[(i + r - 1) % NR] }')"
        for t in ${TESTS//,/ }; do
            for port in $order; do
                rates[$port]+="$(run "$port" "$pipeline" "$t")"$'\n'
            done
        done
    done
    for cmd in $(awk 'NF { print $1 }' <<<"${rates[$GDC_PORT]}" | awk '!seen[$0]++'); do
        g="$(rate_of "$GDC_PORT" "$cmd")"
        line="| $cmd | $pipeline | $(printf '%.0f' "$g")"
        ratios=""
        for port in $redis_ports; do
            r="$(rate_of "$port" "$cmd")"
            line+=" | $(printf '%.0f' "$r")"
            ratios+=" | $(awk -v g="$g" -v r="$r" 'BEGIN { printf "%.2f", (r > 0 ? g / r : 0) }')"
        done
        echo "$line$ratios |"
    done
done

# Memory per key and restart time: 1M string keys with 16-byte values, in fresh servers
# with empty data directories (nothing left over from the load above).
KEYS_N="${KEYS_N:-1000000}"
redis-cli -p "$GDC_PORT" shutdown >/dev/null 2>&1 || true
wait "$gdc_pid" 2>/dev/null || true
for port in $redis_ports; do redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; done
sleep 0.5
rm -rf "$work/gdc" "$work"/redis-*
start_gdc
start_redis "$REDIS_MAIN"
until_ready "$GDC_PORT" >/dev/null
until_ready "$REDIS_MAIN" >/dev/null
redis_pid="$(cat "$work/redis-$REDIS_MAIN.pid")"
declare -A before_used before_rss
for port in "$GDC_PORT" "$REDIS_MAIN"; do
    pid="$gdc_pid"; [ "$port" = "$REDIS_MAIN" ] && pid="$redis_pid"
    before_used[$port]="$(used_memory "$port")"
    before_rss[$port]="$(rss_kb "$pid")"
    # One SET per key, keys key:0000000000..: a Lua-free way to write exactly KEYS_N keys.
    seq 0 $((KEYS_N - 1)) | awk '{ printf "SET key:%010d v%015d\n", $1, $1 }' \
        | redis-cli -p "$port" --pipe >/dev/null
done
echo
echo "| $KEYS_N keys, 16-byte values | gdc-node | ${label[$REDIS_MAIN]} | gdc / redis |"
echo "|---|---|---|---|"
gdc_keys="$(redis-cli -p "$GDC_PORT" dbsize)"
redis_keys="$(redis-cli -p "$REDIS_MAIN" dbsize)"
g_used=$(( ($(used_memory "$GDC_PORT") - before_used[$GDC_PORT]) / gdc_keys ))
r_used=$(( ($(used_memory "$REDIS_MAIN") - before_used[$REDIS_MAIN]) / redis_keys ))
g_rss=$(( ($(rss_kb "$gdc_pid") - before_rss[$GDC_PORT]) * 1024 / gdc_keys ))
r_rss=$(( ($(rss_kb "$redis_pid") - before_rss[$REDIS_MAIN]) * 1024 / redis_keys ))
awk -v g="$g_used" -v r="$r_used" 'BEGIN { printf "| used_memory per key (B) | %d | %d | %.2f |\n", g, r, g / r }'
awk -v g="$g_rss" -v r="$r_rss" 'BEGIN { printf "| resident memory per key (B) | %d | %d | %.2f |\n", g, r, g / r }'

# Restart: stop both (no snapshot: gdc replays its binlog, Redis its AOF), time until PING.
redis-cli -p "$GDC_PORT" shutdown >/dev/null 2>&1 || true
wait "$gdc_pid" 2>/dev/null || true
redis-cli -p "$REDIS_MAIN" shutdown nosave >/dev/null 2>&1 || true
sleep 0.5
start_gdc
g_restart="$(until_ready "$GDC_PORT")"
start_redis "$REDIS_MAIN"
r_restart="$(until_ready "$REDIS_MAIN")"
awk -v g="$g_restart" -v r="$r_restart" 'BEGIN { printf "| restart, log replay (s) | %.2f | %.2f | %.2f |\n", g, r, (r > 0 ? g / r : 0) }'
# gdc from a snapshot (SAVE, then restart).
redis-cli -p "$GDC_PORT" save >/dev/null
redis-cli -p "$GDC_PORT" shutdown >/dev/null 2>&1 || true
wait "$gdc_pid" 2>/dev/null || true
start_gdc
g_snap="$(until_ready "$GDC_PORT")"
echo "| restart, gdc from its snapshot (s) | $g_snap | | |"
