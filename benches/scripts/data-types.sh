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
#   xadd:    XADD events * f v:<rand>                     (one stream, growing)
#   xrange:  XRANGE events - + COUNT 10                   (after the XADD rows)
# and, after those, memory, in a fresh server each: used_memory (INFO) taken by a
# 10-million-bit bitmap (SETBIT bm 9999999 1, then 1000 SETBITs at multiples of 9973: a
# sparse one), by a dense one (1,250,000 random bytes SET, then 5000 SETBITs at multiples
# of 1999), and per stream entry, by 100,000 entries `XADD st * field value-<i>`.
#
#   benches/scripts/data-types.sh        # N=200000
set -euo pipefail
N="${N:-200000}"
GDC_PORT="${GDC_PORT:-7825}"
REDIS_PORT="${REDIS_PORT:-7826}"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
declare -A bitmap dense entry
rows="${ROWS:-geoadd geopos setbit getbit pfadd pfcount xadd xrange}"
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
        r[$name,xadd,$p]="$(rate "$port" "$p" xadd events "*" f "v:__rand_int__")"
        r[$name,xrange,$p]="$(rate "$port" "$p" xrange events - + COUNT 10)"
    done
    stop "$port"
    start "$name" "$port"
    before=$(used_memory "$port")
    { echo "SETBIT bm 9999999 1"; for i in $(seq 1 1000); do echo "SETBIT bm $((i * 9973)) 1"; done; } |
        redis-cli -p "$port" >/dev/null
    bitmap[$name]=$(( $(used_memory "$port") - before ))
    stop "$port"
    start "$name" "$port"
    before=$(used_memory "$port")
    head -c 1250000 /dev/urandom | redis-cli -p "$port" -x set dense >/dev/null
    for i in $(seq 1 5000); do echo "SETBIT dense $((i * 1999)) 1"; done | redis-cli -p "$port" >/dev/null
    dense[$name]=$(( $(used_memory "$port") - before ))
    stop "$port"
    start "$name" "$port"
    before=$(used_memory "$port")
    for i in $(seq 1 100000); do echo "XADD st * field value-$i"; done | redis-cli -p "$port" >/dev/null
    entry[$name]=$(( ($(used_memory "$port") - before) / 100000 ))
    stop "$port"
done
table "redis-benchmark -n $N -c 50 -r 100000, requests/s:" command $rows
echo
awk -v g="${bitmap[gdc]}" -v x="${bitmap[redis]}" 'BEGIN { printf "10-million-bit bitmap, used_memory: gdc-node %d, redis-server %d, gdc / redis %.2f\n", g, x, g / x }'
awk -v g="${dense[gdc]}" -v x="${dense[redis]}" 'BEGIN { printf "dense 10-million-bit bitmap (1,250,000 random bytes, 5000 SETBITs), used_memory: gdc-node %d, redis-server %d, gdc / redis %.2f\n", g, x, g / x }'
awk -v g="${entry[gdc]}" -v x="${entry[redis]}" 'BEGIN { printf "stream entry (100,000 of `field value-<i>`), used_memory bytes each: gdc-node %d, redis-server %d, gdc / redis %.2f\n", g, x, g / x }'
