#!/usr/bin/env bash
# Strings written a piece at a time, gdc-node beside redis-server 7 in the same run, one
# server at a time, each fresh, both logging every write (gdc: its binlog; Redis: AOF),
# everysec (redis-benchmark -c 50, N requests a row):
#
#   append 1 key:      APPEND of 16 bytes to one key, which grows to N x 16 bytes
#   append 1000 keys:  the same spread over 1000 keys
#   setrange 1 MB:     SETRANGE of 4 bytes in the middle of one of 100 strings of 1 MB
#   log bytes:         what the server's log (binlog, AOF) holds after the rows, in MB
#
#   benches/scripts/string-growth.sh                          # N=200000
#   GDC_BIN=/tmp/old/gdc-node benches/scripts/string-growth.sh  # another build
set -euo pipefail
N="${N:-200000}"
RUNS="${RUNS:-1}"
GDC_PORT="${GDC_PORT:-7833}"
REDIS_PORT="${REDIS_PORT:-7834}"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
piece=0123456789abcdef
declare -A logged
for run in $(seq "$RUNS"); do
    for name in gdc redis; do
        port=$GDC_PORT; [ "$name" = redis ] && port=$REDIS_PORT
        start "$name" "$port"
        for p in 1 16; do
            r[$name,append 1 key,$p]+=" $(KEYSPACE=1 rate "$port" "$p" append "one:$p" "$piece")"
            r[$name,append 1000 keys,$p]+=" $(KEYSPACE=1000 rate "$port" "$p" append "k$p:__rand_int__" "$piece")"
            for i in $(seq 0 99); do
                printf 'setrange mb%s:%012d %s x\n' "$p" "$i" $((1024 * 1024 - 1))
            done | redis-cli -p "$port" >/dev/null
            r[$name,setrange 1 MB,$p]+=" $(KEYSPACE=100 rate "$port" "$p" setrange "mb$p:__rand_int__" $((512 * 1024)) abcd)"
        done
        want=$((N * 16))
        got=$(redis-cli -p "$port" strlen one:1)
        [ "$got" = "$want" ] || { echo "$name: one:1 is $got bytes, not $want" >&2; exit 1; }
        stop "$port"
        logged[$name]+=" $(du -sm "$work/$name" | cut -f1)"
    done
done
table "Strings written a piece at a time (N=$N, median of $RUNS)" "row" "append 1 key" "append 1000 keys" "setrange 1 MB"
echo
echo "| log after the rows (MB) | gdc-node | redis-server |"
echo "|---|---|---|"
# shellcheck disable=SC2086 # the runs' figures, one word each
echo "| all rows | $(median ${logged[gdc]}) | $(median ${logged[redis]}) |"
