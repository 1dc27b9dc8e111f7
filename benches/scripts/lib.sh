# What the one-server-at-a-time benchmarks share (scripting.sh, data-types.sh): sourced
# after they set N, GDC_PORT and REDIS_PORT. It installs Debian's redis-server and
# redis-tools when missing, builds gdc-node (or takes GDC_BIN, another build: for example
# scripts/build-release's), and gives:
#   start NAME PORT    a fresh server (gdc or redis), logging every write, everysec, on
#                      the last core, and redis-benchmark on the others (pin.sh; PIN=0: not)
#   stop PORT          shut it down
#   rate PORT P CMD..  redis-benchmark -n N -c 50 -r KEYSPACE -P P of CMD: requests/s
#                      (KEYSPACE: 100000 unless the script sets it)
#   used_memory PORT   INFO's used_memory of the server on PORT
#   table TITLE COLUMN ROWS...  the Markdown table of r[gdc|redis,ROW,1|16] beside each other
#                      (each entry may hold several runs' figures: their median is shown)
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=pin.sh
source benches/scripts/pin.sh
bin="${CARGO_TARGET_DIR:-target}/release"
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    apt-get update -q && apt-get install -y -q redis-server redis-tools
fi
gdc_node="${GDC_BIN:-}"
if [ -z "$gdc_node" ]; then
    cargo build --release -q -p gdc-node --bin gdc-node
    gdc_node="$bin/gdc-node"
fi
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
        "${server_cpus[@]}" "$gdc_node" --port "$2" --dir "$work/$1" --appendfsync everysec \
            >"$work/$1.log" 2>&1 &
        pid=$!
    else
        "${server_cpus[@]}" redis-server --port "$2" --dir "$work/$1" --appendonly yes --appendfsync everysec \
            --save "" --daemonize no >"$work/$1.log" 2>&1 &
        pid=$!
    fi
    until redis-cli -p "$2" ping >/dev/null 2>&1; do sleep 0.1; done
}
stop() { redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }
rate() { # port pipeline command...
    local port="$1" pipeline="$2"
    shift 2
    "${client_cpus[@]}" redis-benchmark -p "$port" -n "$N" -c 50 -r "${KEYSPACE:-100000}" -P "$pipeline" -q \
        "$@" | tr '\r' '\n' | awk '/requests per second/ { for (i = 2; i <= NF; i++) if ($i == "requests") v = $(i - 1) } END { print int(v) }'
}
used_memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'; }
declare -A r
median() { # figures...
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
table() { # title column rows...
    local title="$1" column="$2"
    shift 2
    echo "$title"
    [ -z "$pinning" ] || echo "(${pinning#, })"
    echo
    echo "| $column | pipeline | gdc-node | redis-server | gdc / redis |"
    echo "|---|---|---|---|---|"
    for s in "$@"; do for p in 1 16; do
        # shellcheck disable=SC2086 # the runs' figures, one word each
        awk -v s="$s" -v p="$p" -v g="$(median ${r[gdc,$s,$p]})" -v x="$(median ${r[redis,$s,$p]})" \
            'BEGIN { printf "| %s | %s | %d | %d | %.2f |\n", s, p, g, x, g / x }'
    done; done
}
