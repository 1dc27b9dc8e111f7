#!/usr/bin/env bash
# EVALSHA throughput, gdc-node beside redis-server 7 on this machine, in the same run, one
# server at a time, each fresh: `redis-benchmark -c 50 -n N` of EVALSHA of
#   one-line:  return redis.call('incr', KEYS[1])
#   rmw:       a 3-command read-modify-write (GET, then SET of the value + 1, then GET)
# over random keys (-r 100000), at -P 1 and -P 16; and, for reference, the plain INCR the
# one-line script runs (what a script adds is the gap between the rows). Both servers log
# every write (gdc: its
# binlog; Redis: AOF), appendfsync everysec. Installs Debian's redis-server and
# redis-tools when they are missing.
#
#   benches/scripts/scripting.sh         # N=200000
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${N:-200000}"
GDC_PORT="${GDC_PORT:-7823}"
REDIS_PORT="${REDIS_PORT:-7824}"
bin="${CARGO_TARGET_DIR:-target}/release"
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    apt-get update -q && apt-get install -y -q redis-server redis-tools
fi
cargo build --release -q -p gdc-node --bin gdc-node
work="$(mktemp -d)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ONE="return redis.call('incr', KEYS[1])"
RMW="local v = tonumber(redis.call('get', KEYS[1]) or '0') redis.call('set', KEYS[1], v + 1) return redis.call('get', KEYS[1])"
start() { # name port
    rm -rf "$work/$1"; mkdir -p "$work/$1"
    if [ "$1" = gdc ]; then
        "$bin/gdc-node" --port "$2" --dir "$work/$1" --appendfsync everysec >"$work/$1.log" 2>&1 &
        pid=$!
    else
        redis-server --port "$2" --dir "$work/$1" --appendonly yes --appendfsync everysec \
            --save "" --daemonize no >"$work/$1.log" 2>&1 &
        pid=$!
    fi
    until redis-cli -p "$2" ping >/dev/null 2>&1; do sleep 0.1; done
}
stop() { redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }
rate() { # port pipeline command...
    local port="$1" pipeline="$2"
    shift 2
    redis-benchmark -p "$port" -n "$N" -c 50 -r 100000 -P "$pipeline" -q \
        "$@" | tr '\r' '\n' | awk '/requests per second/ { for (i = 2; i <= NF; i++) if ($i == "requests") v = $(i - 1) } END { print int(v) }'
}
declare -A r
for name in gdc redis; do
    port=$GDC_PORT; [ "$name" = redis ] && port=$REDIS_PORT
    start "$name" "$port"
    one="$(redis-cli -p "$port" script load "$ONE")"
    rmw="$(redis-cli -p "$port" script load "$RMW")"
    for p in 1 16; do
        r[$name,incr,$p]="$(rate "$port" "$p" incr "key:__rand_int__")"
        r[$name,one,$p]="$(rate "$port" "$p" evalsha "$one" 1 "key:__rand_int__")"
        r[$name,rmw,$p]="$(rate "$port" "$p" evalsha "$rmw" 1 "key:__rand_int__")"
    done
    stop "$port"
done
echo "redis-benchmark -n $N -c 50 -r 100000 EVALSHA (and plain INCR), requests/s:"
echo
echo "| script | pipeline | gdc-node | redis-server | gdc / redis |"
echo "|---|---|---|---|---|"
for s in incr one rmw; do for p in 1 16; do
    g=${r[gdc,$s,$p]}; x=${r[redis,$s,$p]}
    awk -v s="$s" -v p="$p" -v g="$g" -v x="$x" 'BEGIN { printf "| %s | %s | %d | %d | %.2f |\n", s, p, g, x, g / x }'
done; done
