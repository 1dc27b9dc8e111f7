#!/usr/bin/env bash
# A/B of two gdc-node builds on small hashes, one at a time on port 7902: on hashes of ten
# fields (16-byte values), redis-benchmark -P 16 -c 50 of HSET of one of the ten fields,
# HGET of it, HGETALL, and HSET of one-field hashes.
#
#   OLD=/tmp/old/gdc-node NEW=target/release/gdc-node benches/scripts/ab-small-hashes.sh
#       requests/s, interleaved, three rounds (50k hashes, 1M requests a row), the server
#       pinned to core 1 and redis-benchmark to core 0
#   COUNT=instructions OLD=... NEW=... benches/scripts/ab-small-hashes.sh
#       user-space instructions per command under valgrind's callgrind (5k hashes, 20k
#       requests a row), which this VM's noise does not move
set -u
OLD="${OLD:?a gdc-node build}"
NEW="${NEW:?a gdc-node build}"
COUNT="${COUNT:-rate}"
value=0123456789abcdef
rows=("hset ten:__rand_int__ field5 $value" "hget ten:__rand_int__ field5"
    "hgetall ten:__rand_int__" "hset one:__rand_int__ f $value")
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
fill() { # hashes
    seq 0 $(($1 - 1)) | awk -v v=$value '{ printf "HSET ten:%012d", $1; for (f = 1; f <= 10; f++) printf " field%d %s", f, v; printf "\n" }' |
        redis-cli -p 7902 --pipe >/dev/null
}
up() { until redis-cli -p 7902 ping >/dev/null 2>&1; do sleep 0.1; done; }
if [ "$COUNT" = instructions ]; then
    n=20000
    for which in old new; do
        bin=$OLD; [ "$which" = new ] && bin=$NEW
        rm -rf "$dir/data" "$dir"/cg.out.*; mkdir -p "$dir/data"
        valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/cg.out.%p" \
            "$bin" --port 7902 --dir "$dir/data" --appendfsync everysec >/dev/null 2>&1 &
        pid=$!
        up
        fill 5000
        callgrind_control -i on "$pid" >/dev/null 2>&1
        for row in "${rows[@]}"; do
            callgrind_control -z "$pid" >/dev/null 2>&1
            # shellcheck disable=SC2086 # the row's words are the command's arguments
            redis-benchmark -p 7902 -n $n -c 50 -r 5000 -P 16 -q $row >/dev/null 2>&1
            callgrind_control -d "$pid" >/dev/null 2>&1
            dump=$(ls "$dir"/cg.out.*.* | awk -F. '{ print $NF, $0 }' | sort -n | tail -1 | cut -d' ' -f2-)
            ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump")
            echo "$which ${row%% *} ${row:4:4} $((ir / n))"
        done
        kill "$pid"; wait "$pid" 2>/dev/null
    done
    exit
fi
for round in 1 2 3; do
    for which in old new; do
        bin=$OLD; [ "$which" = new ] && bin=$NEW
        rm -rf "$dir/data"
        taskset -c 1 "$bin" --port 7902 --dir "$dir/data" --appendfsync everysec >/dev/null 2>&1 &
        pid=$!
        up
        fill 50000
        for row in "${rows[@]}"; do
            # shellcheck disable=SC2086 # the row's words are the command's arguments
            rate=$(taskset -c 0 redis-benchmark -p 7902 -n 1000000 -c 50 -r 50000 -P 16 -q $row |
                tr '\r' '\n' | awk '/requests per second/ { for (i = 1; i <= NF; i++) if ($i == "requests") print $(i - 1) }')
            echo "$round $which ${row%% *} ${row:4:4} $rate"
        done
        kill "$pid"; wait "$pid" 2>/dev/null
    done
done
