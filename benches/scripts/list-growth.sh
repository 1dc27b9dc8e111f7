#!/usr/bin/env bash
# One list growing long: `redis-benchmark -c 50 -P 16 -n N -t lpush` (every LPUSH onto the
# one key `mylist`, 3-byte values) into a fresh gdc-node and a fresh redis-server, RUNS times,
# the two interleaved. Prints, for each server, the median requests/s and latency summary
# (redis-benchmark's, in ms) of the runs, the largest single latency any run saw, and the
# memory the list takes per element (INFO used_memory after, less before, over LLEN).
#
#   benches/scripts/list-growth.sh              # N=4000000, RUNS=3
#   N=1000000 RUNS=1 benches/scripts/list-growth.sh
#
# What it shows: a push that has to move the whole list stalls every client behind it (the
# max column), and a list's memory per element. Both servers log every write, everysec.
set -euo pipefail
N="${N:-4000000}"
RUNS="${RUNS:-3}"
GDC_PORT="${GDC_PORT:-7841}"
REDIS_PORT="${REDIS_PORT:-7842}"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

declare -A runs
for _ in $(seq "$RUNS"); do
    for name in gdc redis; do
        port="$GDC_PORT"; [ "$name" = redis ] && port="$REDIS_PORT"
        start "$name" "$port"
        before="$(used_memory "$port")"
        out="$(redis-benchmark -p "$port" -c 50 -n "$N" -P 16 -t lpush 2>/dev/null | tr '\r' '\n')"
        len="$(redis-cli -p "$port" llen mylist)"
        per="$(( ($(used_memory "$port") - before) / len ))"
        stop "$port"
        rps="$(awk '/throughput summary/ { print int($3) }' <<<"$out")"
        # avg min p50 p95 p99 max: the line after the summary's header
        lat="$(awk '/latency summary/ { getline; getline; print; exit }' <<<"$out")"
        runs[$name]+="$rps $lat $per"$'\n'
    done
done

echo "redis-benchmark -c 50 -P 16 -n $N -t lpush (one list), median of $RUNS runs; $(redis-server --version | cut -d' ' -f1-3) appendonly yes; $(nproc) cores"
echo
echo "| server | requests/s | avg ms | p50 ms | p99 ms | max ms (median) | max ms (largest) | bytes per element |"
echo "|---|---|---|---|---|---|---|---|"
for name in gdc redis; do
    label=gdc-node; [ "$name" = redis ] && label=redis-server
    # Columns of a run's line: rps avg min p50 p95 p99 max bytes-per-element
    col() { awk -v c="$1" 'NF { print $c }' <<<"${runs[$name]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    largest="$(awk 'NF { print $7 }' <<<"${runs[$name]}" | sort -g | tail -1)"
    echo "| $label | $(col 1) | $(col 2) | $(col 4) | $(col 6) | $(col 7) | $largest | $(col 8) |"
done
