#!/usr/bin/env bash
# What a monitor's reads of the keyspace cost: DBSIZE, INFO keyspace and RANDOMKEY on a
# server holding many keys (half of them with a TTL), gdc-node beside redis-server, in
# microseconds a call (one client, one call at a time: the server's one thread is busy
# with it for that long, every other client waiting).
#
#   benches/scripts/keyspace-reads.sh                 # 2M keys
#   KEYS_N=500000 GDC_BIN=/tmp/old/gdc-node benches/scripts/keyspace-reads.sh
set -euo pipefail
KEYS_N="${KEYS_N:-2000000}"
CALLS="${CALLS:-200}"
N="$KEYS_N"
GDC_PORT="${GDC_PORT:-7851}"
REDIS_PORT="${REDIS_PORT:-7852}"
source "$(dirname "$0")/lib.sh"

# Microseconds a call of CMD.. on PORT, one client: from redis-benchmark's requests/s.
per_call() { # port cmd...
    local port="$1"
    shift
    redis-benchmark -p "$port" -n "$CALLS" -c 1 -q "$@" | tr '\r' '\n' \
        | awk '/requests per second/ { for (i = 2; i <= NF; i++) if ($i == "requests") v = $(i - 1) } END { printf "%.0f", 1e6 / v }'
}

declare -A us
for server in gdc redis; do
    port="$GDC_PORT"
    [ "$server" = redis ] && port="$REDIS_PORT"
    start "$server" "$port"
    # Distinct keys: a counter in the name (-r would repeat some).
    seq 0 $((KEYS_N - 1)) | awk '{ if ($1 % 2) printf "SET k:%d v\n", $1; else printf "SET k:%d v EX 3600\n", $1 }' \
        | redis-cli -p "$port" --pipe >/dev/null
    for row in dbsize info randomkey; do
        case "$row" in
        dbsize) us[$server,$row]="$(per_call "$port" DBSIZE)" ;;
        info) us[$server,$row]="$(per_call "$port" INFO keyspace)" ;;
        randomkey) us[$server,$row]="$(per_call "$port" RANDOMKEY)" ;;
        esac
    done
    stop "$port"
done

echo "$KEYS_N keys (half with a TTL), $CALLS calls a row, one client; gdc-node $gdc_node; $(redis-server --version | cut -d' ' -f1-3)"
echo
echo "| call | gdc-node µs | redis-server µs |"
echo "|---|---|---|"
for row in dbsize info randomkey; do
    echo "| $row | ${us[gdc,$row]} | ${us[redis,$row]} |"
done
