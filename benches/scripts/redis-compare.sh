#!/usr/bin/env bash
# Side-by-side load benchmark: gdc-node and redis-server 7 on this machine, in the same run,
# under redis-benchmark. Prints a Markdown table of requests/s and the gdc/redis ratio.
#
#   benches/scripts/redis-compare.sh            # -n 1000000 -c 50 -r 1000000
#   N=200000 benches/scripts/redis-compare.sh   # quicker
#
# Both servers log every write: gdc its binlog (appendfsync everysec), Redis its AOF
# (appendonly yes, appendfsync everysec). Installs Debian's redis-server and redis-tools when
# they are missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

N="${N:-1000000}"
CLIENTS="${CLIENTS:-50}"
TESTS="${TESTS:-set,get,incr,sadd,hset,lpush,zadd}"
GDC_PORT="${GDC_PORT:-7811}"
REDIS_PORT="${REDIS_PORT:-7812}"

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    apt-get update -q && apt-get install -y -q redis-server redis-tools
fi
cargo build --release -q -p gdc-node

work="$(mktemp -d)"
cleanup() {
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    [ -n "${gdc_pid:-}" ] && kill "$gdc_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

target/release/gdc-node --port "$GDC_PORT" --dir "$work/gdc" --appendfsync everysec 2>"$work/gdc.log" &
gdc_pid=$!
mkdir -p "$work/redis"
redis-server --port "$REDIS_PORT" --dir "$work/redis" --save '' --appendonly yes \
    --appendfsync everysec --daemonize yes --logfile "$work/redis.log"

for port in "$GDC_PORT" "$REDIS_PORT"; do
    for _ in $(seq 100); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    redis-cli -p "$port" ping >/dev/null
done

# requests/s per test, as "TEST rate" lines
run() {
    redis-benchmark -p "$1" -q -c "$CLIENTS" -n "$N" -r 1000000 -P "$2" -t "$TESTS" 2>/dev/null \
        | tr '\r' '\n' | grep 'requests per second' | grep -v 'rps=' \
        | sed -E 's/^ *([A-Z]+).*: ([0-9.]+) requests per second.*/\1 \2/'
}

echo "redis-benchmark -c $CLIENTS -n $N -r 1000000; $(redis-server --version | cut -d' ' -f1-3); $(nproc) cores"
echo
echo "| command | pipeline | gdc-node req/s | redis-server req/s | gdc / redis |"
echo "|---|---|---|---|---|"
for pipeline in 1 16; do
    redis-cli -p "$GDC_PORT" flushall >/dev/null
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
    gdc="$(run "$GDC_PORT" "$pipeline")"
    redis="$(run "$REDIS_PORT" "$pipeline")"
    while read -r cmd rate; do
        theirs="$(awk -v c="$cmd" '$1 == c { print $2 }' <<<"$redis")"
        awk -v c="$cmd" -v p="$pipeline" -v g="$rate" -v r="$theirs" \
            'BEGIN { printf "| %s | %s | %.0f | %.0f | %.2f |\n", c, p, g, r, (r > 0 ? g / r : 0) }'
    done <<<"$gdc"
done
