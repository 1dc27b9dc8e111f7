#!/usr/bin/env bash
# How long a background snapshot holds the clients, gdc-node beside redis-server: each
# server is filled with KEYS string keys, then, RUNS times, `redis-cli --latency-history`
# sends PING after PING for 3 s while a BGSAVE starts 1 s in; the longest PING and the
# fork's own time (INFO's latest_fork_usec) are printed per run.
#
#   benches/scripts/snapshot-stall.sh                   # KEYS=3000000 RUNS=3
set -euo pipefail
N=0
KEYS="${KEYS:-3000000}"
RUNS="${RUNS:-3}"
GDC_PORT="${GDC_PORT:-7861}"
REDIS_PORT="${REDIS_PORT:-7862}"
source "$(dirname "$0")/lib.sh"

field() { redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f { print $2 }'; }
echo "$KEYS keys of 16-byte values, $RUNS BGSAVEs each; $(redis-server --version | cut -d' ' -f1-3); $(nproc) cores"
echo
echo "| server | used_memory (MB) | fork (ms) | longest PING in the 3 s around it (ms) |"
echo "|---|---|---|---|"
for server in gdc redis; do
    port="$GDC_PORT"; [ "$server" = redis ] && port="$REDIS_PORT"
    start "$server" "$port"
    redis-benchmark -p "$port" -t set -n "$KEYS" -r 100000000 -P 16 -q >/dev/null 2>&1
    mb=$(( $(used_memory "$port") / 1000000 ))
    for _ in $(seq "$RUNS"); do
        probe="$(mktemp)"
        # Not to a terminal, it prints "min max avg samples" (ms) as it goes (line-buffered:
        # timeout ends it before it would flush).
        timeout 3 stdbuf -oL redis-cli -p "$port" --latency-history -i 3 >"$probe" 2>&1 &
        probe_pid=$!
        sleep 1
        redis-cli -p "$port" bgsave >/dev/null
        wait "$probe_pid" || true
        longest="$(awk '$2 > m { m = $2 } END { print m + 0 }' "$probe")"
        until [ "$(field "$port" persistence rdb_bgsave_in_progress)" = 0 ]; do sleep 0.1; done
        fork_ms="$(awk -v u="$(field "$port" stats latest_fork_usec)" 'BEGIN { printf "%.1f", u / 1000 }')"
        echo "| $server | $mb | $fork_ms | $longest |"
        rm -f "$probe"
    done
    stop "$port"
done
