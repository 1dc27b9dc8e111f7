#!/usr/bin/env bash
# Eviction under allkeys-lru: gdc-node and redis-server 7 on this machine, in the same run,
# one server at a time, each fresh (empty data directory) for every measurement.
#
#   benches/scripts/eviction.sh                  # defaults below, a few minutes
#   SIZE=16 benches/scripts/eviction.sh          # 16-byte values
#   GDC_SERVER=redis benches/scripts/eviction.sh # both columns redis-server: checks the script
#
# The limit: each server gets the maxmemory that holds KEYS_FIT (100k) keys of SIZE bytes on
# that server: a fresh server's counted memory (used_memory less mem_not_counted_for_evict)
# after KEYS_FIT SETs (key:000000000000.. and SIZE-byte values, the form redis-benchmark
# writes), that is its empty baseline plus the keys. The same number of keys, not the same number of bytes, since the two servers spend
# different bytes on a key.
#
# 1. SET throughput: `redis-benchmark -t set -n N -r 1000000 -d SIZE -c 50`, -P 1 and -P 16,
#    into that limit with maxmemory-policy allkeys-lru; the counted memory and the process's
#    VmRSS sampled every 100 ms during the run. RUNS runs (3), the servers interleaved, each
#    fresh: a row shows the runs' median (the memory rows their maximum), as this VM's
#    unpipelined rates move by 15% between runs.
# 2. Hit rate: the zipf_cache client (benches/src/bin/zipf_cache.rs), a read-through cache
#    over ZIPF_KEYS keys drawn from Zipf(ZIPF_S), GET and SET on a miss, ZIPF_WARMUP requests
#    to fill the cache then ZIPF_REQUESTS measured; the same seeded sequence for both.
#
# Both servers log every write, as in redis-compare.sh (gdc: its binlog, appendfsync
# everysec; Redis: AOF, everysec): gdc's binlog cannot be turned off. Installs Debian's
# redis-server and redis-tools when they are missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

SIZE="${SIZE:-100}"
N="${N:-1000000}"
KEYS_FIT="${KEYS_FIT:-100000}"
CLIENTS="${CLIENTS:-50}"
ZIPF_KEYS="${ZIPF_KEYS:-1000000}"
ZIPF_S="${ZIPF_S:-0.99}"
ZIPF_WARMUP="${ZIPF_WARMUP:-1000000}"
ZIPF_REQUESTS="${ZIPF_REQUESTS:-2000000}"
RUNS="${RUNS:-3}"
GDC_PORT="${GDC_PORT:-7813}"
REDIS_PORT="${REDIS_PORT:-7814}"
GDC_SERVER="${GDC_SERVER:-gdc}" # "redis": a redis-server in gdc's column, to debug the script
bin="${CARGO_TARGET_DIR:-target}/release"

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    apt-get update -q && apt-get install -y -q redis-server redis-tools
fi
[ "$GDC_SERVER" = gdc ] && cargo build --release -q -p gdc-node --bin gdc-node
cargo build --release -q -p gdc-benches --bin zipf_cache

work="$(mktemp -d)"
srv_pid=""
sampler=""
cleanup() {
    [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    if [ "$GDC_SERVER" = gdc ]; then
        [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null || true
    else
        redis-cli -p "$GDC_PORT" shutdown nosave >/dev/null 2>&1 || true
    fi
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port_of() { if [ "$1" = gdc ]; then echo "$GDC_PORT"; else echo "$REDIS_PORT"; fi; }
is_gdc() { [ "$1" = gdc ] && [ "$GDC_SERVER" = gdc ]; }
until_ready() {
    for _ in $(seq 12000); do
        redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return
        sleep 0.01
    done
    echo "server on port $1 did not answer" >&2
    exit 1
}
# Starts server $1 (gdc or redis) with an empty data directory; sets srv_pid.
start() {
    local port
    port="$(port_of "$1")"
    rm -rf "${work:?}/$1"
    if is_gdc "$1"; then
        "$bin/gdc-node" --port "$port" --dir "$work/gdc" --appendfsync everysec 2>>"$work/gdc.log" &
        srv_pid=$!
        until_ready "$port"
    else
        mkdir -p "$work/$1"
        redis-server --port "$port" --dir "$work/$1" --save '' --appendonly yes \
            --appendfsync everysec --daemonize yes --logfile "$work/$1.log" \
            --pidfile "$work/$1.pid"
        until_ready "$port"
        srv_pid="$(cat "$work/$1.pid")"
    fi
}
stop() {
    if is_gdc "$1"; then
        kill "$srv_pid" 2>/dev/null || true
        wait "$srv_pid" 2>/dev/null || true
    else
        redis-cli -p "$(port_of "$1")" shutdown nosave >/dev/null 2>&1 || true
        while kill -0 "$srv_pid" 2>/dev/null; do sleep 0.05; done
    fi
    srv_pid=""
}
info_field() { # port section field
    redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f { print $2 }'
}
# What maxmemory is compared with, on both servers: used_memory less
# mem_not_counted_for_evict (gdc: its channel and binlog buffers, and the metadata store's
# fixed tables; Redis: its replication and AOF buffers).
counted() {
    redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '
        $1 == "used_memory" { u = $2 } $1 == "mem_not_counted_for_evict" { n = $2 }
        END { if (u != "") print u - n }'
}
rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
# "counted rss_kb" every 100 ms into file $3, for port $1 and pid $2, until killed.
sample() {
    while :; do
        echo "$(counted "$1" 2>/dev/null || true) $(rss_kb "$2" 2>/dev/null || true)" >>"$3"
        sleep 0.1
    done
}
start_sampling() { : >"$3"; sample "$@" & sampler=$!; }
stop_sampling() { kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; sampler=""; }
max_col() { awk -v c="$2" '$c ~ /^[0-9]+$/ && $c > m { m = $c } END { print m + 0 }' "$1"; }

# Sets the limit and the policy on server $1 (port $2); fails loudly when refused.
limit() {
    local out
    for kv in "maxmemory ${limit_of[$1]}" "maxmemory-policy allkeys-lru"; do
        # shellcheck disable=SC2086
        out="$(redis-cli -p "$2" config set $kv)"
        if [ "$out" != OK ]; then
            echo "$1: CONFIG SET $kv: $out" >&2
            exit 1
        fi
    done
}

# The limit per server: a fresh server's counted memory with KEYS_FIT keys.
declare -A limit_of per_key_of base_of
for name in gdc redis; do
    port="$(port_of "$name")"
    start "$name"
    base="$(counted "$port")"
    seq 0 $((KEYS_FIT - 1)) | awk -v d="$SIZE" '
        BEGIN { v = sprintf("%*s", d, ""); gsub(/ /, "x", v) }
        { printf "SET key:%012d %s\n", $1, v }' | redis-cli -p "$port" --pipe >/dev/null
    keys="$(redis-cli -p "$port" dbsize)"
    [ "$keys" = "$KEYS_FIT" ] || { echo "$name: $keys keys after loading $KEYS_FIT" >&2; exit 1; }
    limit_of[$name]="$(counted "$port")"
    base_of[$name]="$base"
    per_key_of[$name]=$(((limit_of[$name] - base) / KEYS_FIT))
    stop "$name"
done

# 1. SET throughput into the limit; results as "name pipeline field value" lines.
results="$work/results"
: >"$results"
for _ in $(seq "$RUNS"); do for pipeline in 1 16; do
    for name in gdc redis; do
        port="$(port_of "$name")"
        start "$name"
        limit "$name" "$port"
        start_sampling "$port" "$srv_pid" "$work/samples"
        rate="$(redis-benchmark -p "$port" -q -c "$CLIENTS" -n "$N" -r 1000000 -d "$SIZE" \
            -P "$pipeline" -t set 2>/dev/null | tr '\r' '\n' | grep 'requests per second' \
            | grep -v 'rps=' | sed -E 's/^.*: ([0-9.]+) requests per second.*/\1/')"
        stop_sampling
        {
            echo "$name $pipeline rate $rate"
            echo "$name $pipeline max_used $(max_col "$work/samples" 1)"
            echo "$name $pipeline max_rss $(($(max_col "$work/samples" 2) * 1024))"
            echo "$name $pipeline evicted $(info_field "$port" stats evicted_keys)"
            echo "$name $pipeline dbsize $(redis-cli -p "$port" dbsize)"
            echo "$name $pipeline used_end $(counted "$port")"
            echo "$name $pipeline errors $(info_field "$port" stats total_error_replies)"
        } >>"$results"
        stop "$name"
    done
done; done
# A field of server $1's test $2 (a pipeline, or zipf): the median of its runs, or for a
# max_ field their maximum.
get() {
    awk -v n="$1" -v p="$2" -v f="$3" '$1 == n && $2 == p && $3 == f { print $4 }' "$results" \
        | sort -n | awk -v f="$3" '{ v[NR] = $1 }
            END { if (NR) print (f ~ /^max_/ ? v[NR] : v[int((NR + 1) / 2)]) }'
}

# 2. Zipf hit rate into the same limits.
for name in gdc redis; do
    port="$(port_of "$name")"
    start "$name"
    limit "$name" "$port"
    start_sampling "$port" "$srv_pid" "$work/samples"
    out="$("$bin/zipf_cache" --port "$port" --keys "$ZIPF_KEYS" --s "$ZIPF_S" \
        --warmup "$ZIPF_WARMUP" --requests "$ZIPF_REQUESTS" --value-size "$SIZE")"
    stop_sampling
    for f in hit_rate lru_hit_rate dbsize secs; do
        echo "$name zipf $f $(awk -v f="$f" '{ for (i = 1; i < NF; i++) if ($i == f) print $(i + 1) }' <<<"$out")"
    done >>"$results"
    echo "$name zipf max_used $(max_col "$work/samples" 1)" >>"$results"
    echo "$name zipf used_end $(counted "$port")" >>"$results"
    echo "$name zipf evicted $(info_field "$port" stats evicted_keys)" >>"$results"
    stop "$name"
done

gdc_label=gdc-node
[ "$GDC_SERVER" = gdc ] || gdc_label="redis-server (GDC_SERVER=redis)"
echo "$(redis-server --version | cut -d' ' -f1-3); $(nproc) cores; $SIZE-byte values;" \
    "maxmemory-policy allkeys-lru; each server's maxmemory holds $KEYS_FIT keys on that server"
echo
echo "| limit | $gdc_label | redis-server | gdc / redis |"
echo "|---|---|---|---|"
awk -v g="${base_of[gdc]}" -v r="${base_of[redis]}" \
    'BEGIN { printf "| counted memory, empty (B) | %d | %d | %.2f |\n", g, r, g / r }'
awk -v g="${per_key_of[gdc]}" -v r="${per_key_of[redis]}" \
    'BEGIN { printf "| counted memory per key (B) | %d | %d | %.2f |\n", g, r, g / r }'
awk -v g="${limit_of[gdc]}" -v r="${limit_of[redis]}" -v k="$KEYS_FIT" \
    'BEGIN { printf "| maxmemory: empty + %d keys (B) | %d | %d | %.2f |\n", k, g, r, g / r }'

echo
echo "redis-benchmark -t set -n $N -r 1000000 -d $SIZE -c $CLIENTS, into that limit (median of" \
    "$RUNS runs; memory: the largest of them):"
echo
echo "| SET | pipeline | $gdc_label | redis-server | gdc / redis |"
echo "|---|---|---|---|---|"
# (counted memory at the end − empty) / DBSIZE, for test $1 (a pipeline, or zipf)
per_key() {
    awk -v u="$(get "$1" "$2" used_end)" -v b="${base_of[$1]}" -v k="$(get "$1" "$2" dbsize)" \
        'BEGIN { printf "%.0f", (k > 0 ? (u - b) / k : 0) }'
}
per_key_row() {
    local g r
    g="$(per_key gdc "$pipeline")"
    r="$(per_key redis "$pipeline")"
    awk -v p="$pipeline" -v g="$g" -v r="$r" \
        'BEGIN { printf "| (counted − empty) / keys, at the end (B) | %s | %d | %d | %.2f |\n", p, g, r, g / r }'
}
for pipeline in 1 16; do
    row() { # label field divisor format
        local g r
        g="$(get gdc "$pipeline" "$2")"
        r="$(get redis "$pipeline" "$2")"
        awk -v l="$1" -v p="$pipeline" -v g="$g" -v r="$r" -v gd="$3" -v rd="$4" -v f="$5" \
            'BEGIN { gv = g / gd; rv = r / rd
                     printf "| %s | %s | " f " | " f " | %s |\n", l, p, gv, rv,
                         (rv > 0 ? sprintf("%.2f", gv / rv) : "") }'
    }
    row "requests/s" rate 1 1 "%.0f"
    row "max counted memory / maxmemory" max_used "${limit_of[gdc]}" "${limit_of[redis]}" "%.3f"
    row "max RSS / maxmemory" max_rss "${limit_of[gdc]}" "${limit_of[redis]}" "%.2f"
    row "evicted_keys" evicted 1 1 "%d"
    row "keys at the end (DBSIZE)" dbsize 1 1 "%d"
    per_key_row
    row "error replies" errors 1 1 "%d"
done

echo
echo "zipf_cache: Zipf(s=$ZIPF_S) over $ZIPF_KEYS keys, GET and SET on a miss," \
    "$ZIPF_WARMUP requests to warm up, $ZIPF_REQUESTS measured:"
echo
echo "| read-through cache | $gdc_label | redis-server | gdc − redis |"
echo "|---|---|---|---|"
zrow() { # label field format unit-of-difference
    local g r
    g="$(get gdc zipf "$2")"
    r="$(get redis zipf "$2")"
    awk -v l="$1" -v g="$g" -v r="$r" -v f="$3" -v u="$4" \
        'BEGIN { printf "| %s | " f " | " f " | %+" substr(f, 2) "%s |\n", l, g, r, g - r, u }'
}
zrow "hit rate (%)" hit_rate "%.2f" " points"
zrow "exact LRU at the server's DBSIZE, hit rate (%)" lru_hit_rate "%.2f" " points"
zrow "keys at the end (DBSIZE)" dbsize "%d" ""
zrow "evicted_keys" evicted "%d" ""
echo "| (counted − empty) / keys, at the end (B) | $(per_key gdc zipf) | $(per_key redis zipf) | |"
awk -v g="$(get gdc zipf max_used)" -v r="$(get redis zipf max_used)" \
    -v gl="${limit_of[gdc]}" -v rl="${limit_of[redis]}" \
    'BEGIN { printf "| max counted memory / maxmemory | %.3f | %.3f | |\n", g / gl, r / rl }'
zrow "measured phase (s)" secs "%.1f" " s"
