#!/usr/bin/env bash
# What one call costs on big collections, gdc-node beside redis-server 7 in the same run,
# one server at a time, each fresh, both logging every write (gdc: its binlog; Redis: AOF),
# everysec:
#
#   del <type>:  the milliseconds a DEL of one key of M members takes (a set, a list, a
#                hash, a sorted set; Redis frees it on its serving thread, as gdc does)
#   scan:        SCAN calls a second, COUNT 10, from a cursor in the middle, `-c 1`, over
#                the keys of `redis-benchmark -t set -r M` (about 0.63 M of them)
#   hscan:       HSCAN calls a second, the same, over a hash of M fields
#   full scan:   the seconds `redis-cli --scan` takes to list every key
#
#   benches/scripts/big-keys.sh                    # M=1000000
#   GDC_BIN=/tmp/old/gdc-node benches/scripts/big-keys.sh   # another build
set -euo pipefail
M="${M:-1000000}"
N="${N:-2000}"
GDC_PORT="${GDC_PORT:-7831}"
REDIS_PORT="${REDIS_PORT:-7832}"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
fill() { # port command key: M members `m:<i>` (scores i for ZADD, values v for HSET), 100 a request
    awk -v m="$M" -v c="$2" -v k="$3" 'BEGIN { for (i = 0; i < m; i += 100) { line = c " " k;
        for (j = i; j < i + 100 && j < m; j++) {
            if (c == "ZADD") line = line sprintf(" %d m:%d", j, j);
            else if (c == "HSET") line = line sprintf(" m:%d v", j);
            else line = line sprintf(" m:%d", j) }
        print line } }' | redis-cli -p "$1" --pipe >/dev/null
}
millis() { date +%s%3N; }
declare -A t
for name in gdc redis; do
    port=$GDC_PORT; [ "$name" = redis ] && port=$REDIS_PORT
    start "$name" "$port"
    for kind in set:SADD list:RPUSH hash:HSET zset:ZADD; do
        fill "$port" "${kind#*:}" big
        before=$(millis)
        redis-cli -p "$port" del big >/dev/null
        t[$name,del ${kind%:*}]=$(( $(millis) - before ))
    done
    "${client_cpus[@]}" redis-benchmark -p "$port" -n "$M" -r "$M" -P 64 -q -t set >/dev/null
    fill "$port" HSET h
    t[$name,scan]=$("${client_cpus[@]}" redis-benchmark -p "$port" -n "$N" -c 1 -q scan $((M / 4)) count 10 |
        tr '\r' '\n' | awk '/per second/ { for (i = 2; i <= NF; i++) if ($i == "requests") print int($(i - 1)) }')
    t[$name,hscan]=$("${client_cpus[@]}" redis-benchmark -p "$port" -n "$N" -c 1 -q hscan h $((M / 4)) count 10 |
        tr '\r' '\n' | awk '/per second/ { for (i = 2; i <= NF; i++) if ($i == "requests") print int($(i - 1)) }')
    before=$(millis)
    keys=$("${client_cpus[@]}" redis-cli -p "$port" --scan | wc -l)
    t[$name,full scan]="$(( $(millis) - before )) ms, $keys keys"
    stop "$port"
done
echo "Big collections (M=$M)"
[ -z "$pinning" ] || echo "(${pinning#, })"
echo
echo "| row | gdc-node | redis-server |"
echo "|---|---|---|"
for row in "del set" "del list" "del hash" "del zset"; do
    echo "| $row (ms) | ${t[gdc,$row]} | ${t[redis,$row]} |"
done
echo "| SCAN COUNT 10 (calls/s) | ${t[gdc,scan]} | ${t[redis,scan]} |"
echo "| HSCAN COUNT 10 (calls/s) | ${t[gdc,hscan]} | ${t[redis,hscan]} |"
echo "| redis-cli --scan | ${t[gdc,full scan]} | ${t[redis,full scan]} |"
