#!/usr/bin/env bash
# Instructions per command: gdc-node beside redis-server (without persistence and with AOF
# everysec), counted by valgrind's callgrind, so the figure does not move with this VM's
# noise the way requests/s and CPU time do (two runs agree within about 2%).
#
#   benches/scripts/instructions.sh               # -n 100000 of each row, -P 16
#   N=20000 TESTS=lpush,incr benches/scripts/instructions.sh
#   GDC_BIN=/tmp/old/gdc-node SERVERS=gdc benches/scripts/instructions.sh   # another build
#
# Each server runs under callgrind and takes the rows in redis-compare.sh's order (GET reads
# the keys SET wrote, the pops take what the pushes left), under redis-benchmark -c 50
# -r 1000000 -P 16. A row's figure is the server's user-space instructions over the
# commands it ran in that row (INFO's total_commands_processed; LRANGE_100's LPUSH fill
# counts). Kernel work (the socket system calls, the log's writes) is not counted: it is
# about the same per request for both servers (BENCHMARKS.md, "CPU per command"). Under
# callgrind a server runs one thread at a time, 30-50 times slower, so pipelines arrive
# whole: the counts are of a saturated server. Installs Debian's valgrind, redis-server
# and redis-tools when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

N="${N:-100000}"
TESTS="${TESTS:-set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,mset}"
PORT="${PORT:-7841}"
SERVERS="${SERVERS:-gdc,redis,redis-aof}"

if ! command -v valgrind >/dev/null || ! command -v redis-server >/dev/null \
    || ! command -v redis-benchmark >/dev/null; then
    apt-get update -q && apt-get install -y -q valgrind redis-server redis-tools
fi
bin="${GDC_BIN:-}"
if [ -z "$bin" ]; then
    cargo build --release -q -p gdc-node
    bin="${CARGO_TARGET_DIR:-target}/release/gdc-node"
fi

work="$(mktemp -d)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

commands() {
    redis-cli -p "$PORT" info stats | tr -d '\r' | awk -F: '$1 == "total_commands_processed" { print $2 }'
}
# The instructions of the newest callgrind dump of the server.
dumped() {
    local f
    f="$(ls "$work"/cg.out.*.* | awk -F. '{ print $NF, $0 }' | sort -n | tail -1 | cut -d' ' -f2-)"
    awk '/^(summary|totals):/ { print $2; exit }' "$f"
}

declare -A ir
IFS=, read -ra tests <<<"$TESTS"
IFS=, read -ra servers <<<"$SERVERS"
for server in "${servers[@]}"; do
    rm -rf "$work/data" "$work"/cg.out.* && mkdir -p "$work/data"
    case "$server" in
    gdc) cmd=("$bin" --port "$PORT" --dir "$work/data" --appendfsync everysec) ;;
    redis) cmd=(redis-server --port "$PORT" --dir "$work/data" --save "" --appendonly no) ;;
    redis-aof) cmd=(redis-server --port "$PORT" --dir "$work/data" --save "" --appendonly yes
        --appendfsync everysec --auto-aof-rewrite-percentage 0) ;;
    esac
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.out.%p" \
        "${cmd[@]}" >"$work/$server.log" 2>&1 &
    pid=$!
    until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.2; done
    callgrind_control -i on "$pid" >/dev/null 2>&1
    for t in "${tests[@]}"; do
        before="$(commands)"
        callgrind_control -z "$pid" >/dev/null 2>&1
        redis-benchmark -p "$PORT" -n "$N" -c 50 -r 1000000 -P 16 -q -t "$t" >/dev/null 2>&1
        callgrind_control -d "$pid" >/dev/null 2>&1
        ran=$(($(commands) - before - 1))
        ir[$server,$t]=$(awk -v i="$(dumped)" -v n="$ran" 'BEGIN { printf "%d", i / n }')
    done
    kill "$pid" && wait "$pid" 2>/dev/null || true
    pid=""
done

echo "redis-benchmark -n $N -c 50 -r 1000000 -P 16; $(valgrind --version); $(redis-server --version | cut -d' ' -f1-3)"
echo
echo "| command | gdc-node | redis-server | gdc / redis | redis-server, AOF everysec | gdc / redis AOF |"
echo "|---|---|---|---|---|---|"
for t in "${tests[@]}"; do
    awk -v t="$t" -v g="${ir[gdc,$t]:-0}" -v r="${ir[redis,$t]:-0}" -v a="${ir[redis-aof,$t]:-0}" \
        'function ratio(x, y) { return y > 0 ? sprintf("%.2f", x / y) : "-" }
        BEGIN { printf "| %s | %d | %d | %s | %d | %s |\n", toupper(t), g, r, ratio(g, r), a, ratio(g, a) }'
done
