#!/usr/bin/env bash
# What idle blocked clients cost everyone else: B clients (default 1000) each wait in
# `BLPOP queue:<i> 0` on a key of its own (queue workers between jobs), while
# redis-benchmark writes other keys; gdc-node beside redis-server 7 in the same run, one
# server at a time, each fresh, both logging every write (gdc: its binlog; Redis: AOF),
# everysec. `redis-benchmark -c 50 -n N -r 100000` at -P 1 and -P 16:
#
#   set:           SET key:<rand> xxx,             no client blocked
#   set+blocked:   the same, B clients blocked
#   lpush+blocked: LPUSH list:<rand> xxx,          B clients blocked
#
#   benches/scripts/blocked-clients.sh                   # N=200000 B=1000
#   GDC_BIN=/tmp/old/gdc-node N=50000 benches/scripts/blocked-clients.sh   # another build
set -euo pipefail
N="${N:-200000}"
B="${B:-1000}"
GDC_PORT="${GDC_PORT:-7829}"
REDIS_PORT="${REDIS_PORT:-7830}"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
blocked_clients() { redis-cli -p "$1" info clients | tr -d '\r' | awk -F: '$1 == "blocked_clients" { print $2 }'; }
hold() { # port: B connections blocked in BLPOP until this process is killed
    python3 - "$1" "$B" <<'EOF' &
import socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
held = []
for i in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"BLPOP queue:%d 0\r\n" % i)
    held.append(s)
while True:
    time.sleep(3600)
EOF
    holder=$!
    until [ "$(blocked_clients "$1")" = "$B" ]; do sleep 0.1; done
}
holder=""
for name in gdc redis; do
    port=$GDC_PORT; [ "$name" = redis ] && port=$REDIS_PORT
    start "$name" "$port"
    for p in 1 16; do
        r[$name,set,$p]="$(rate "$port" "$p" -t set)"
    done
    hold "$port"
    for p in 1 16; do
        r[$name,set+blocked,$p]="$(rate "$port" "$p" -t set)"
        r[$name,lpush+blocked,$p]="$(rate "$port" "$p" lpush "list:__rand_int__" xxx)"
    done
    kill "$holder"; wait "$holder" 2>/dev/null || true
    stop "$port"
done
table "Requests/s with $B clients blocked on keys of their own (N=$N)" row set set+blocked lpush+blocked
