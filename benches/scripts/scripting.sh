#!/usr/bin/env bash
# EVALSHA throughput, gdc-node beside redis-server 7 on this machine, in the same run, one
# server at a time, each fresh: `redis-benchmark -c 50 -n N` of EVALSHA of
#   one-line:  return redis.call('incr', KEYS[1])
#   rmw:       a 3-command read-modify-write (GET, then SET of the value + 1, then GET)
# over random keys (-r 100000), at -P 1 and -P 16; and, for reference, the plain INCR the
# one-line script runs (what a script adds is the gap between the rows). Both servers log
# every write (gdc: its
# binlog; Redis: AOF), appendfsync everysec. Installs Debian's redis-server and
# redis-tools when they are missing. RUNS runs (each: gdc-node, then redis-server, both
# fresh); each row shows the median, as this VM's unpipelined rates move by 15% between
# runs.
#
#   benches/scripts/scripting.sh         # N=200000 RUNS=3
set -euo pipefail
N="${N:-200000}"
RUNS="${RUNS:-3}"
GDC_PORT="${GDC_PORT:-7823}"
REDIS_PORT="${REDIS_PORT:-7824}"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
ONE="return redis.call('incr', KEYS[1])"
RMW="local v = tonumber(redis.call('get', KEYS[1]) or '0') redis.call('set', KEYS[1], v + 1) return redis.call('get', KEYS[1])"
for _ in $(seq "$RUNS"); do for name in gdc redis; do
    port=$GDC_PORT; [ "$name" = redis ] && port=$REDIS_PORT
    start "$name" "$port"
    one="$(redis-cli -p "$port" script load "$ONE")"
    rmw="$(redis-cli -p "$port" script load "$RMW")"
    for p in 1 16; do
        r[$name,incr,$p]+=" $(rate "$port" "$p" incr "key:__rand_int__")"
        r[$name,one,$p]+=" $(rate "$port" "$p" evalsha "$one" 1 "key:__rand_int__")"
        r[$name,rmw,$p]+=" $(rate "$port" "$p" evalsha "$rmw" 1 "key:__rand_int__")"
    done
    stop "$port"
done; done
table "redis-benchmark -n $N -c 50 -r 100000 EVALSHA (and plain INCR), requests/s, median of $RUNS runs:" script incr one rmw
