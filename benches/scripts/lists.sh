#!/usr/bin/env bash
# Lists beyond the one long list of list-growth.sh: the memory of many small lists, and
# LTRIM of a long one, in a fresh gdc-node and a fresh redis-server each time.
#
#   benches/scripts/lists.sh                  # LISTS=100000 small lists, LONG=200000, RUNS=3
#   LISTS=20000 RUNS=1 benches/scripts/lists.sh
#
# Small lists: LISTS keys `list:N`, each RPUSHed SIZE 3-byte values in one command (through
# `redis-cli --pipe`), for SIZE 1, 3 and 10; INFO used_memory after, less before, over
# LISTS: the bytes a list of SIZE elements takes, key included.
# LTRIM: LONG RPUSHes of 3-byte values onto `mylist` (redis-benchmark -P 16), then
# `LTRIM mylist 0 9`, timed around redis-cli (which adds its own start, about the same for
# both servers), the median of RUNS.
set -euo pipefail
LISTS="${LISTS:-100000}"
LONG="${LONG:-200000}"
RUNS="${RUNS:-3}"
N="$LONG"
GDC_PORT="${GDC_PORT:-7843}"
REDIS_PORT="${REDIS_PORT:-7844}"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

port_of() { if [ "$1" = gdc ]; then echo "$GDC_PORT"; else echo "$REDIS_PORT"; fi; }

echo "$LISTS small lists, and LTRIM of $LONG elements to 10 (median of $RUNS runs);" \
    "$(redis-server --version | cut -d' ' -f1-3) appendonly yes; $(nproc) cores"
echo
echo "| list | gdc-node | redis-server | gdc / redis |"
echo "|---|---|---|---|"
for size in 1 3 10; do
    declare -A per=()
    for name in gdc redis; do
        port="$(port_of "$name")"
        start "$name" "$port"
        before="$(used_memory "$port")"
        seq 0 $((LISTS - 1)) | awk -v n="$size" '{
            printf "RPUSH list:%d", $1; for (i = 0; i < n; i++) printf " v%02d", i; printf "\n" }' \
            | redis-cli -p "$port" --pipe >/dev/null
        keys="$(redis-cli -p "$port" dbsize)"
        per[$name]=$(( ($(used_memory "$port") - before) / keys ))
        stop "$port"
    done
    awk -v s="$size" -v g="${per[gdc]}" -v r="${per[redis]}" \
        'BEGIN { printf "| %d element%s, bytes per list | %d | %d | %.2f |\n", s, (s > 1 ? "s" : ""), g, r, g / r }'
done

declare -A ms=()
for name in gdc redis; do
    port="$(port_of "$name")"
    start "$name" "$port"
    for _ in $(seq "$RUNS"); do
        redis-cli -p "$port" del mylist >/dev/null
        redis-benchmark -p "$port" -n "$LONG" -c 50 -P 16 -q -t rpush >/dev/null 2>&1
        [ "$(redis-cli -p "$port" llen mylist)" = "$LONG" ] || { echo "mylist is not $LONG long" >&2; exit 1; }
        s=$(date +%s%N)
        redis-cli -p "$port" ltrim mylist 0 9 >/dev/null
        e=$(date +%s%N)
        [ "$(redis-cli -p "$port" llen mylist)" = 10 ] || { echo "LTRIM left $(redis-cli -p "$port" llen mylist)" >&2; exit 1; }
        ms[$name]+="$(( (e - s) / 1000000 )) "
    done
    stop "$port"
done
# shellcheck disable=SC2086 # the runs' figures, one word each
g="$(median ${ms[gdc]})" x="$(median ${ms[redis]})"
awk -v n="$LONG" -v g="$g" -v r="$x" \
    'BEGIN { printf "| LTRIM of %d to 10, ms | %d | %d | %.1f |\n", n, g, r, (r > 0 ? g / r : 0) }'
