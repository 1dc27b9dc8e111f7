#!/usr/bin/env bash
# Small hashes, gdc-node beside redis-server 7 in the same run, one server at a time, each
# fresh, both logging every write (gdc: its binlog; Redis: AOF), everysec.
#
# Memory: INFO used_memory after a row, less before, over the row's keys (rows one after
# another in one server; 16-byte values, "field1".."fieldN"):
#   one field            100k keys, HSET k f v
#   ten fields           50k keys, one HSET of ten fields each
#   ten fields, one by one   50k keys, ten HSETs of one field each
#   ten fields and a TTL     50k keys, one HSET and an EXPIRE each
#   thirty fields        10k keys, one HSET each (past gdc's packed form)
#
# Rate (redis-benchmark -c 50 -n N, requests/s), on 50k hashes of ten fields:
#   hset 10 fields   HSET of one of the ten fields (an overwrite)
#   hget 10 fields   HGET of one of them
#   hgetall 10 fields
#
#   benches/scripts/small-hashes.sh                            # N=1000000
#   GDC_BIN=/tmp/old/gdc-node benches/scripts/small-hashes.sh  # another build
set -euo pipefail
N="${N:-1000000}"
RUNS="${RUNS:-1}"
GDC_PORT="${GDC_PORT:-7835}"
REDIS_PORT="${REDIS_PORT:-7836}"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
value=0123456789abcdef
fields() { # n: "field1 value ... fieldn value"
    for f in $(seq "$1"); do printf ' field%d %s' "$f" "$value"; done
}
ten="$(fields 10)"
thirty="$(fields 30)"
declare -A m
mem_row() { # port row keys awk-program
    local before after
    before=$(used_memory "$1")
    seq 0 $(($3 - 1)) | awk "$4" | redis-cli -p "$1" --pipe >/dev/null
    after=$(used_memory "$1")
    m[$name,$2]+=" $(((after - before) / $3))"
}
memory_rows=("one field" "ten fields" "ten fields, one by one" "ten fields and a TTL" "thirty fields")
for run in $(seq "$RUNS"); do
    for name in gdc redis; do
        port=$GDC_PORT; [ "$name" = redis ] && port=$REDIS_PORT
        start "$name" "$port"
        mem_row "$port" "one field" 100000 '{ printf "HSET one:%010d f v\n", $1 }'
        mem_row "$port" "ten fields" 50000 "{ printf \"HSET ten:%012d$ten\\n\", \$1 }"
        mem_row "$port" "ten fields, one by one" 50000 \
            "{ for (f = 1; f <= 10; f++) printf \"HSET byone:%010d field%d $value\\n\", \$1, f }"
        mem_row "$port" "ten fields and a TTL" 50000 \
            "{ printf \"HSET ttl:%010d$ten\\nEXPIRE ttl:%010d 100000\\n\", \$1, \$1 }"
        mem_row "$port" "thirty fields" 10000 "{ printf \"HSET thirty:%010d$thirty\\n\", \$1 }"
        for p in 1 16; do
            r[$name,hset 10 fields,$p]+=" $(KEYSPACE=50000 rate "$port" "$p" hset "ten:__rand_int__" field5 "$value")"
            r[$name,hget 10 fields,$p]+=" $(KEYSPACE=50000 rate "$port" "$p" hget "ten:__rand_int__" field5)"
            r[$name,hgetall 10 fields,$p]+=" $(KEYSPACE=50000 rate "$port" "$p" hgetall "ten:__rand_int__")"
        done
        got=$(redis-cli -p "$port" hlen ten:000000000007)
        [ "$got" = 10 ] || { echo "$name: ten:000000000007 has $got fields, not 10" >&2; exit 1; }
        stop "$port"
    done
done
echo "| bytes a key (used_memory, median of $RUNS) | gdc-node | redis-server | gdc / redis |"
echo "|---|---|---|---|"
for row in "${memory_rows[@]}"; do
    # shellcheck disable=SC2086 # the runs' figures, one word each
    awk -v s="$row" -v g="$(median ${m[gdc,$row]})" -v x="$(median ${m[redis,$row]})" \
        'BEGIN { printf "| %s | %d | %d | %.2f |\n", s, g, x, g / x }'
done
echo
table "Small hashes (N=$N, median of $RUNS)" "row" "hset 10 fields" "hget 10 fields" "hgetall 10 fields"
