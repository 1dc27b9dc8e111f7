#!/usr/bin/env bash
# Instructions per command: gdc-node beside redis-server (without persistence and with AOF
# everysec), counted by valgrind's callgrind, so the figure does not move with this VM's
# noise the way requests/s and CPU time do (two runs agree within about 2%).
#
#   benches/scripts/instructions.sh               # -n 100000 of each row, -P 16
#   N=20000 TESTS=lpush,incr benches/scripts/instructions.sh
#   GDC_BIN=/tmp/old/gdc-node SERVERS=gdc benches/scripts/instructions.sh   # another build
#   PGO=0 benches/scripts/instructions.sh      # the plain build, not scripts/build-release's
#   PIPELINE=1 CLIENTS=1 TESTS=set benches/scripts/instructions.sh   # what a request costs
#                                               # unpipelined, one a round (the runtime's share)
#   DUMPS=/tmp/dumps TESTS=lpop benches/scripts/instructions.sh   # keep each row's dump, then
#   benches/scripts/hot-code.py /tmp/dumps/gdc-lpop.out     # which code a command runs
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
#
# Beside each count, the instruction-cache misses per command that callgrind's cache
# simulation finds (a 32 KiB, 8-way first-level instruction cache, as this machine's): a
# write whose code does not fit that cache misses on most of its lines at every command
# of a pipeline, and pays for each miss in cycles the count does not show.
set -euo pipefail
cd "$(dirname "$0")/../.."

N="${N:-100000}"
TESTS="${TESTS:-set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,mset}"
PORT="${PORT:-7841}"
PIPELINE="${PIPELINE:-16}"
CLIENTS="${CLIENTS:-50}"
SERVERS="${SERVERS:-gdc,redis,redis-aof}"

if ! command -v valgrind >/dev/null || ! command -v redis-server >/dev/null \
    || ! command -v redis-benchmark >/dev/null; then
    apt-get update -q && apt-get install -y -q valgrind redis-server redis-tools
fi
bin="${GDC_BIN:-}"
if [ -z "$bin" ] && [ "${PGO:-1}" = 1 ]; then
    bin="$(scripts/build-release)"
elif [ -z "$bin" ]; then
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
newest() {
    ls "$work"/cg.out.*.* | awk -F. '{ print $NF, $0 }' | sort -n | tail -1 | cut -d' ' -f2-
}
# The instructions and the first-level instruction-cache misses of the newest callgrind
# dump of the server (its first and fourth events).
dumped() {
    awk '/^(summary|totals):/ { print $2, $5; exit }' "$(newest)"
}

declare -A ir i1
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
        --cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=8388608,16,64 --dump-instr=yes \
        "${cmd[@]}" >"$work/$server.log" 2>&1 &
    pid=$!
    until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.2; done
    callgrind_control -i on "$pid" >/dev/null 2>&1
    for t in "${tests[@]}"; do
        before="$(commands)"
        callgrind_control -z "$pid" >/dev/null 2>&1
        redis-benchmark -p "$PORT" -n "$N" -c "$CLIENTS" -r 1000000 -P "$PIPELINE" -q -t "$t" \
            >/dev/null 2>&1
        callgrind_control -d "$pid" >/dev/null 2>&1
        ran=$(($(commands) - before - 1))
        read -r total misses <<<"$(dumped)"
        if [ -n "${DUMPS:-}" ]; then
            mkdir -p "$DUMPS"
            { echo "# commands: $ran"; cat "$(newest)"; } >"$DUMPS/$server-$t.out"
        fi
        ir[$server,$t]=$(awk -v i="$total" -v n="$ran" 'BEGIN { printf "%d", i / n }')
        i1[$server,$t]=$(awk -v i="$misses" -v n="$ran" 'BEGIN { printf "%d", i / n }')
    done
    kill "$pid" && wait "$pid" 2>/dev/null || true
    pid=""
done

echo "redis-benchmark -n $N -c $CLIENTS -r 1000000 -P $PIPELINE; $(valgrind --version); $(redis-server --version | cut -d' ' -f1-3)"
echo
echo "| command | gdc-node | redis-server | gdc / redis | redis-server, AOF everysec | gdc / redis AOF |"
echo "|---|---|---|---|---|---|"
for t in "${tests[@]}"; do
    awk -v t="$t" -v g="${ir[gdc,$t]:-0}" -v r="${ir[redis,$t]:-0}" -v a="${ir[redis-aof,$t]:-0}" \
        'function ratio(x, y) { return y > 0 ? sprintf("%.2f", x / y) : "-" }
        BEGIN { printf "| %s | %d | %d | %s | %d | %s |\n", toupper(t), g, r, ratio(g, r), a, ratio(g, a) }'
done
echo
echo "Instruction-cache misses per command:"
echo
echo "| command | gdc-node | redis-server | redis-server, AOF everysec |"
echo "|---|---|---|---|"
for t in "${tests[@]}"; do
    printf '| %s | %d | %d | %d |\n' "${t^^}" "${i1[gdc,$t]:-0}" "${i1[redis,$t]:-0}" \
        "${i1[redis-aof,$t]:-0}"
done
