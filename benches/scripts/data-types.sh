#!/usr/bin/env bash
# Issue 20's data types, gdc-node beside redis-server 7 on this machine, in the same run, one
# server at a time, each fresh: `redis-benchmark -c 50 -n N -r 100000` of each row's command
# at -P 1 and -P 16. Both servers log every write (gdc: its binlog; Redis: AOF), appendfsync
# everysec. Installs Debian's redis-server and redis-tools when they are missing.
#
#   geoadd:  GEOADD points 13.<rand> 38.<rand> m:<rand>  (one index, up to 100k members)
#   geopos:  GEOPOS points m:__rand_int__                 (after the GEOADD rows)
#   setbit:  SETBIT bits:<rand> 1000 1                    (100k bitmaps of 1001 bits:
#            redis-benchmark's random numbers have leading zeros, which no bit offset may)
#   getbit:  GETBIT bits:<rand> 1000
#   pfadd:   PFADD visitors v:<rand>                      (one HyperLogLog, dense soon)
#   pfcount: PFCOUNT visitors
#
#   benches/scripts/data-types.sh        # N=200000
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${N:-200000}"
GDC_PORT="${GDC_PORT:-7825}"
REDIS_PORT="${REDIS_PORT:-7826}"
bin="${CARGO_TARGET_DIR:-target}/release"
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    apt-get update -q && apt-get install -y -q redis-server redis-tools
fi
cargo build --release -q -p gdc-node --bin gdc-node
work="$(mktemp -d)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
start() { # name port
    rm -rf "$work/$1"; mkdir -p "$work/$1"
    if [ "$1" = gdc ]; then
        "$bin/gdc-node" --port "$2" --dir "$work/$1" --appendfsync everysec >"$work/$1.log" 2>&1 &
        pid=$!
    else
        redis-server --port "$2" --dir "$work/$1" --appendonly yes --appendfsync everysec \
            --save "" --daemonize no >"$work/$1.log" 2>&1 &
        pid=$!
    fi
    until redis-cli -p "$2" ping >/dev/null 2>&1; do sleep 0.1; done
}
stop() { redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }
rate() { # port pipeline command...
    local port="$1" pipeline="$2"
    shift 2
    redis-benchmark -p "$port" -n "$N" -c 50 -r 100000 -P "$pipeline" -q \
        "$@" | tr '\r' '\n' | awk '/requests per second/ { for (i = 2; i <= NF; i++) if ($i == "requests") v = $(i - 1) } END { print int(v) }'
}
declare -A r
rows="geoadd geopos setbit getbit pfadd pfcount"
for name in gdc redis; do
    port=$GDC_PORT; [ "$name" = redis ] && port=$REDIS_PORT
    start "$name" "$port"
    for p in 1 16; do
        r[$name,geoadd,$p]="$(rate "$port" "$p" geoadd points "13.__rand_int__" "38.__rand_int__" "m:__rand_int__")"
        r[$name,geopos,$p]="$(rate "$port" "$p" geopos points "m:__rand_int__")"
        r[$name,setbit,$p]="$(rate "$port" "$p" setbit "bits:__rand_int__" 1000 1)"
        r[$name,getbit,$p]="$(rate "$port" "$p" getbit "bits:__rand_int__" 1000)"
        r[$name,pfadd,$p]="$(rate "$port" "$p" pfadd visitors "v:__rand_int__")"
        r[$name,pfcount,$p]="$(rate "$port" "$p" pfcount visitors)"
    done
    stop "$port"
done
echo "redis-benchmark -n $N -c 50 -r 100000, requests/s:"
echo
echo "| command | pipeline | gdc-node | redis-server | gdc / redis |"
echo "|---|---|---|---|---|"
for s in $rows; do for p in 1 16; do
    g=${r[gdc,$s,$p]}; x=${r[redis,$s,$p]}
    awk -v s="$s" -v p="$p" -v g="$g" -v x="$x" 'BEGIN { printf "| %s | %s | %d | %d | %.2f |\n", s, p, g, x, g / x }'
done; done
