#!/usr/bin/env bash
# A queue's writes while a peer region is down: regions a and b subscribe to each other;
# b is killed (-9), and region a takes ROUNDS rounds of `redis-benchmark -t rpush,lpop
# -n N -P 16` on one list (each pop's removal is kept until b has it too: the key's
# removal knowledge grows with the cut); then b comes back, and once it has caught up, one
# more round (the removal knowledge b now has too goes as the round writes). Beside it, redis-server 7 (AOF everysec) takes the same rounds (it has no
# regions: the rate a queue runs at without removal knowledge). Requests/s per round,
# and a's used_memory.
#
#   benches/scripts/partitioned-queue.sh                     # N=50000 ROUNDS=6
#   GDC_BIN=/tmp/old/gdc-node benches/scripts/partitioned-queue.sh   # another build
set -euo pipefail
N="${N:-50000}"
ROUNDS="${ROUNDS:-6}"
A=7843 B=7844 REDIS_PORT=7845
GDC_PORT=$A
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1 == "used_memory_human" { print $2 }'; }
round() { # port: "RPUSH rate / LPOP rate"
    "${client_cpus[@]}" redis-benchmark -p "$1" -n "$N" -P 16 -q -t rpush,lpop | tr '\r' '\n' |
        awk '/per second/ { for (i = 2; i <= NF; i++) if ($i == "requests") v[$1] = int($(i - 1)) }
             END { printf "%d / %d", v["RPUSH:"], v["LPOP:"] }'
}
region() { # name port sync-port peer-sync-port
    "$gdc_node" --port "$2" --dir "$work/$1" --region "$1" --sync-port "$3" \
        --peer "$5=127.0.0.1:$4" --cluster-token bench-token >>"$work/$1.log" 2>&1 &
}
mkdir -p "$work/a" "$work/b"
"${server_cpus[@]}" "$gdc_node" --port $A --dir "$work/a" --region a --sync-port 17843 \
    --peer b=127.0.0.1:17844 --cluster-token bench-token >"$work/a.log" 2>&1 &
a=$!
region b $B 17844 17843 a
b=$!
until redis-cli -p $A ping >/dev/null 2>&1 && redis-cli -p $B ping >/dev/null 2>&1; do sleep 0.1; done
redis-cli -p $A set joined 1 >/dev/null
until [ "$(redis-cli -p $B get joined)" = 1 ]; do sleep 0.1; done
kill -9 $b
wait $b 2>/dev/null || true
declare -a gdc_rounds mem_rounds redis_rounds
for i in $(seq 1 "$ROUNDS"); do
    gdc_rounds[i]=$(round $A)
    mem_rounds[i]=$(memory $A)
done
region b $B 17844 17843 a
b=$!
until redis-cli -p $B ping >/dev/null 2>&1; do sleep 0.1; done
redis-cli -p $A set healed 1 >/dev/null
until [ "$(redis-cli -p $B get healed)" = 1 ]; do sleep 0.2; done
healed=$(round $A)
healed_memory=$(memory $A)
# The collection that follows a's writes, and its background cycle, a few seconds on.
sleep 5
settled_memory=$(memory $A)
kill $a $b
wait $a $b 2>/dev/null || true
start redis $REDIS_PORT
for i in $(seq 1 "$ROUNDS"); do
    redis_rounds[i]=$(round $REDIS_PORT)
done
stop $REDIS_PORT
echo "One queue's RPUSH / LPOP, requests/s, while region b is down (N=$N a round, -P 16)"
[ -z "$pinning" ] || echo "(${pinning#, })"
echo
echo "| round | gdc-node region a | a's used_memory | redis-server |"
echo "|---|---|---|---|"
for i in $(seq 1 "$ROUNDS"); do
    echo "| $i | ${gdc_rounds[i]} | ${mem_rounds[i]} | ${redis_rounds[i]} |"
done
echo "| b back, caught up | $healed | $healed_memory, 5 s later $settled_memory | |"
