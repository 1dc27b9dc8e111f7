#!/usr/bin/env bash
# A leaderboard: one sorted set of M members (default 1,000,000: `m:<i>` with score i, i
# zero-padded to 12 digits as redis-benchmark's random numbers are), gdc-node beside
# redis-server 7 in the same run, one server at a time, each fresh; then the memory of a
# small sorted set. Both servers log every write (gdc: its binlog; Redis: AOF), everysec.
# `redis-benchmark -c 50 -n N -r M` of each row at -P 1 and -P 16:
#
#   zscore:      ZSCORE lb m:<rand>
#   zrank:       ZRANK lb m:<rand>                      (a rank: O(log n) in both)
#   top10:       ZREVRANGE lb 0 9 WITHSCORES
#   middle10:    ZRANGE lb <M/2> <M/2+9>                (ten by rank from the middle)
#   byscore10:   ZRANGEBYSCORE lb <rand> +inf LIMIT 0 10
#   zcount:      ZCOUNT lb <M/4> <3M/4>
#   zadd:        ZADD lb <rand> m:<rand>                (a member's score changes)
#   zrandmember: ZRANDMEMBER lb 5 WITHSCORES
#   hrandfield:  HRANDFIELD h 5 WITHVALUES              (a hash of M fields `f:<i>`)
#
# and used_memory per member of the leaderboard (after its fill), and per key of 100,000
# sorted sets of one member (`ZADD z:<i> 1 m`) and of 10,000 of ten (`member0`..`member9`).
#
#   benches/scripts/sorted-sets.sh                   # N=200000 M=1000000
#   GDC_BIN=/tmp/old/gdc-node N=20000 benches/scripts/sorted-sets.sh   # another build
set -euo pipefail
N="${N:-200000}"
M="${M:-1000000}"
KEYSPACE="$M"
GDC_PORT="${GDC_PORT:-7827}"
REDIS_PORT="${REDIS_PORT:-7828}"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
declare -A member one ten
rows="zscore zrank top10 middle10 byscore10 zcount zadd zrandmember hrandfield"
fill() { # port: the leaderboard, 100 members a ZADD
    awk -v m="$M" 'BEGIN { for (i = 0; i < m; i += 100) { line = "ZADD lb";
        for (j = i; j < i + 100 && j < m; j++) line = line sprintf(" %d m:%012d", j, j);
        print line } }' | redis-cli -p "$1" --pipe >/dev/null
}
for name in gdc redis; do
    port=$GDC_PORT; [ "$name" = redis ] && port=$REDIS_PORT
    start "$name" "$port"
    before=$(used_memory "$port")
    fill "$port"
    member[$name]=$(( ($(used_memory "$port") - before) / M ))
    for p in 1 16; do
        r[$name,zscore,$p]="$(rate "$port" "$p" zscore lb "m:__rand_int__")"
        r[$name,zrank,$p]="$(rate "$port" "$p" zrank lb "m:__rand_int__")"
        r[$name,top10,$p]="$(rate "$port" "$p" zrevrange lb 0 9 withscores)"
        r[$name,middle10,$p]="$(rate "$port" "$p" zrange lb $((M / 2)) $((M / 2 + 9)))"
        r[$name,byscore10,$p]="$(rate "$port" "$p" zrangebyscore lb "__rand_int__" +inf limit 0 10)"
        r[$name,zcount,$p]="$(rate "$port" "$p" zcount lb $((M / 4)) $((3 * M / 4)))"
        r[$name,zadd,$p]="$(rate "$port" "$p" zadd lb "__rand_int__" "m:__rand_int__")"
        r[$name,zrandmember,$p]="$(rate "$port" "$p" zrandmember lb 5 withscores)"
    done
    awk -v m="$M" 'BEGIN { for (i = 0; i < m; i += 100) { line = "HSET h";
        for (j = i; j < i + 100 && j < m; j++) line = line sprintf(" f:%012d v%d", j, j);
        print line } }' | redis-cli -p "$port" --pipe >/dev/null
    for p in 1 16; do
        r[$name,hrandfield,$p]="$(rate "$port" "$p" hrandfield h 5 withvalues)"
    done
    stop "$port"
    start "$name" "$port"
    before=$(used_memory "$port")
    awk 'BEGIN { for (i = 0; i < 100000; i++) printf "ZADD z:%010d 1 m\n", i }' |
        redis-cli -p "$port" --pipe >/dev/null
    one[$name]=$(( ($(used_memory "$port") - before) / 100000 ))
    before=$(used_memory "$port")
    awk 'BEGIN { for (i = 0; i < 10000; i++) { printf "ZADD t:%010d", i;
        for (j = 0; j < 10; j++) printf " %d member%d", j, j; print "" } }' |
        redis-cli -p "$port" --pipe >/dev/null
    ten[$name]=$(( ($(used_memory "$port") - before) / 10000 ))
    stop "$port"
done
table "redis-benchmark -n $N -c 50 -r $M, a sorted set of $M members, requests/s:" command $rows
echo
for what in member one ten; do
    declare -n v="$what"
    case "$what" in
    member) label="leaderboard of $M, used_memory bytes a member" ;;
    one) label="sorted set of one member, used_memory bytes a key" ;;
    ten) label="sorted set of ten members, used_memory bytes a key" ;;
    esac
    awk -v g="${v[gdc]}" -v x="${v[redis]}" -v l="$label" \
        'BEGIN { printf "%s: gdc-node %d, redis-server %d, gdc / redis %.2f\n", l, g, x, g / x }'
done
