#!/usr/bin/env bash
# Latency at fixed rates, gdc-node beside redis-server in the same run: the `latency`
# open-loop generator (benches/src/bin/latency.rs) sends SET, then GET (of the keys SET
# wrote), then INCR, each at each rate, to one server at a time; p50/p99/p99.9 in µs.
#
#   benches/scripts/latency.sh                          # rates 20000 and 80000, 10 s each
#   RATES=50000 SECS=5 benches/scripts/latency.sh
#
# Both servers log every write, everysec (gdc: binlog; Redis: AOF).
set -euo pipefail
N=0
RATES="${RATES:-20000,80000}"
SECS="${SECS:-10}"
CONNS="${CONNS:-4}"
COMMANDS="${COMMANDS:-set,get,incr}"
GDC_PORT="${GDC_PORT:-7851}"
REDIS_PORT="${REDIS_PORT:-7852}"
source "$(dirname "$0")/lib.sh"
cargo build --release -q -p gdc-benches --bin latency

declare -A out forks
IFS=, read -ra rates <<<"$RATES"
IFS=, read -ra commands <<<"$COMMANDS"
for server in gdc redis; do
    port="$GDC_PORT"; [ "$server" = redis ] && port="$REDIS_PORT"
    start "$server" "$port"
    for c in "${commands[@]}"; do
        for rate in "${rates[@]}"; do
            out[$server,$c,$rate]="$("$bin/latency" --port "$port" --command "$c" --rate "$rate" \
                --conns "$CONNS" --secs "$SECS" --keys 1000000)"
        done
    done
    # Whether a background snapshot (a fork) fell in the run, and how long its fork took.
    forks[$server]="$(redis-cli -p "$port" info stats | tr -d '\r' | grep -E '^(total_forks|latest_fork_usec):' | tr '\n' ' ')"
    stop "$port"
done

field() { awk -v f="$1" '{ for (i = 1; i < NF; i++) if ($i == f) print $(i + 1) }' <<<"$2"; }
echo "latency generator: $CONNS connections, open loop, $SECS s per row; $(redis-server --version | cut -d' ' -f1-3); $(nproc) cores"
echo
echo "| command | rate (req/s) | gdc p50 / p99 / p99.9 (µs) | redis p50 / p99 / p99.9 (µs) | gdc / redis answered per s |"
echo "|---|---|---|---|---|"
for c in "${commands[@]}"; do
    for rate in "${rates[@]}"; do
        g="${out[gdc,$c,$rate]}" r="${out[redis,$c,$rate]}"
        printf '| %s | %s | %s / %s / %s | %s / %s / %s | %s / %s |\n' "${c^^}" "$rate" \
            "$(field p50_us "$g")" "$(field p99_us "$g")" "$(field p999_us "$g")" \
            "$(field p50_us "$r")" "$(field p99_us "$r")" "$(field p999_us "$r")" \
            "$(field rate "$g")" "$(field rate "$r")"
    done
done
echo
echo "forks during the run: gdc ${forks[gdc]}; redis ${forks[redis]}"
