#!/usr/bin/env bash
# What blocked clients cost: B clients (default 1000) each wait in `BLPOP queue:<i> 0` on a
# key of its own (queue workers between jobs), while redis-benchmark writes other keys; then
# B workers share one queue (each takes a job with `BLPOP jobs 0` and at once waits for the
# next) while redis-benchmark pushes jobs. gdc-node beside redis-server 7 in the same run,
# one server at a time, each fresh, both logging every write (gdc: its binlog; Redis: AOF),
# everysec. `redis-benchmark -c 50 -n N -r 100000` at -P 1 and -P 16:
#
#   set:           SET key:<rand> xxx,             no client blocked
#   set+blocked:   the same, B clients blocked on keys of their own
#   lpush+blocked: LPUSH list:<rand> xxx,          B clients blocked on keys of their own
#   jobs:          LPUSH jobs xxx,                 B workers take them
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
hold() { # port own|shared: B connections in BLPOP until this process is killed (shared:
    # all on `jobs`, each waiting again as soon as it is served)
    "${client_cpus[@]}" python3 - "$1" "$B" "$2" <<'EOF' &
import selectors, socket, sys
port, count, shared = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "shared"
sel = selectors.DefaultSelector()
for i in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    ask = b"BLPOP jobs 0\r\n" if shared else b"BLPOP queue:%d 0\r\n" % i
    s.sendall(ask)
    sel.register(s, selectors.EVENT_READ, ask)
while True:
    for key, _ in sel.select():
        # A reply is `*2 $4 jobs $3 xxx`, 29 bytes, read whole on loopback.
        data = key.fileobj.recv(4096)
        if not data:
            sys.exit(0)
        for _ in range(data.count(b"*2\r\n")):
            key.fileobj.sendall(key.data)
EOF
    holder=$!
    until [ "$(blocked_clients "$1")" = "$B" ]; do sleep 0.1; done
}
holder=""
declare -A left
for name in gdc redis; do
    port=$GDC_PORT; [ "$name" = redis ] && port=$REDIS_PORT
    start "$name" "$port"
    for p in 1 16; do
        r[$name,set,$p]="$(rate "$port" "$p" -t set)"
    done
    hold "$port" own
    for p in 1 16; do
        r[$name,set+blocked,$p]="$(rate "$port" "$p" -t set)"
        r[$name,lpush+blocked,$p]="$(rate "$port" "$p" lpush "list:__rand_int__" xxx)"
    done
    kill "$holder"; wait "$holder" 2>/dev/null || true
    until [ "$(blocked_clients "$port")" = 0 ]; do sleep 0.1; done
    hold "$port" shared
    for p in 1 16; do
        r[$name,jobs,$p]="$(rate "$port" "$p" lpush jobs xxx)"
        # What the workers had not taken yet when the pushes ended.
        left[$name,$p]=$(redis-cli -p "$port" llen jobs)
        redis-cli -p "$port" del jobs >/dev/null
    done
    kill "$holder"; wait "$holder" 2>/dev/null || true
    stop "$port"
done
table "Requests/s with $B clients blocked (N=$N)" row set set+blocked lpush+blocked jobs
echo
for name in gdc redis; do
    echo "jobs left in the queue when the pushes ended ($name): -P 1 ${left[$name,1]}, -P 16 ${left[$name,16]}"
done
