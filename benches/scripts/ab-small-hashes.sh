#!/usr/bin/env bash
# A/B of two gdc-node builds on small hashes, one at a time on port 7902, interleaved,
# three rounds, server pinned to core 1 and redis-benchmark to core 0: on 50k hashes of ten
# fields (16-byte values), redis-benchmark -P 16 -c 50 -n 1M requests/s of HSET of one of
# the ten fields, HGET of it, and HSET of one-field hashes.
#
#   OLD=/tmp/gdc-node-before NEW=target/release/gdc-node benches/scripts/ab-small-hashes.sh
set -u
OLD="${OLD:?a gdc-node build}"
NEW="${NEW:?a gdc-node build}"
value=0123456789abcdef
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
for round in 1 2 3; do
    for which in old new; do
        bin=$OLD; [ "$which" = new ] && bin=$NEW
        rm -rf "$dir/data"
        taskset -c 1 "$bin" --port 7902 --dir "$dir/data" --appendfsync everysec >/dev/null 2>&1 &
        pid=$!
        until redis-cli -p 7902 ping >/dev/null 2>&1; do sleep 0.1; done
        seq 0 49999 | awk -v v=$value '{ printf "HSET ten:%012d", $1; for (f = 1; f <= 10; f++) printf " field%d %s", f, v; printf "\n" }' |
            redis-cli -p 7902 --pipe >/dev/null
        for row in "hset ten:__rand_int__ field5 $value" "hget ten:__rand_int__ field5" "hset one:__rand_int__ f $value"; do
            # shellcheck disable=SC2086 # the row's words are the command's arguments
            rate=$(taskset -c 0 redis-benchmark -p 7902 -n 1000000 -c 50 -r 50000 -P 16 -q $row |
                tr '\r' '\n' | awk '/requests per second/ { for (i = 1; i <= NF; i++) if ($i == "requests") print $(i - 1) }')
            echo "$round $which ${row%% *} ${row:4:4} $rate"
        done
        kill "$pid"; wait "$pid" 2>/dev/null
    done
done
