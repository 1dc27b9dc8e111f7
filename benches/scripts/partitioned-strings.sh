#!/usr/bin/env bash
# A string's writes while the peer region is down: region a, started with `--peer b` and b
# never up (so no write becomes stable and none is baked into its register), takes ROUNDS
# rounds of N writes, each sent with `redis-cli --pipe`:
#
#   append:  APPEND of 16 bytes to one key (past 512 bytes, replicated as its bytes)
#   setbit:  SETBIT of a random bit below 1000000 of one key (awk's rand, seeded by round)
#   getbit:  one round of N GETBITs of random bits, after the SETBIT rounds
#
# Beside it, redis-server 7 (AOF everysec) takes the same commands. Requests/s a round (the
# pipe's whole time).
#
#   benches/scripts/partitioned-strings.sh                      # N=50000 ROUNDS=4
#   GDC_BIN=/tmp/old/gdc-node benches/scripts/partitioned-strings.sh   # another build
set -euo pipefail
N="${N:-50000}"
ROUNDS="${ROUNDS:-4}"
GDC_PORT=7846 REDIS_PORT=7847
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
commands() { # kind round: the round's N commands
    awk -v kind="$1" -v seed="$2" -v n="$N" 'BEGIN { srand(seed);
        for (i = 0; i < n; i++) {
            if (kind == "append") print "APPEND log 0123456789abcdef";
            else if (kind == "setbit") printf "SETBIT bm %d 1\n", int(rand() * 1000000);
            else printf "GETBIT bm %d\n", int(rand() * 1000000) } }' >"$work/commands"
}
rate() { # port: requests/s of the commands
    local before after
    before=$(date +%s%3N)
    "${client_cpus[@]}" redis-cli -p "$1" --pipe <"$work/commands" >/dev/null
    after=$(date +%s%3N)
    echo $((N * 1000 / (after - before + 1)))
}
declare -A r
run() { # name port
    for kind in append setbit; do
        for i in $(seq 1 "$ROUNDS"); do
            commands "$kind" "$i"
            r[$1,$kind,$i]=$(rate "$2")
        done
    done
    commands getbit 0
    r[$1,getbit,1]=$(rate "$2")
    r[$1,bitcount]=$(redis-cli -p "$2" bitcount bm)
    r[$1,strlen]=$(redis-cli -p "$2" strlen log)
}
mkdir -p "$work/a"
"${server_cpus[@]}" "$gdc_node" --port $GDC_PORT --dir "$work/a" --region a --sync-port 17846 \
    --peer b=127.0.0.1:17848 --cluster-token bench-token >"$work/a.log" 2>&1 &
pid=$!
until redis-cli -p $GDC_PORT ping >/dev/null 2>&1; do sleep 0.1; done
run gdc $GDC_PORT
stop $GDC_PORT
start redis $REDIS_PORT
run redis $REDIS_PORT
stop $REDIS_PORT
[ "${r[gdc,bitcount]}" = "${r[redis,bitcount]}" ] && [ "${r[gdc,strlen]}" = "${r[redis,strlen]}" ] ||
    { echo "the servers differ: ${r[gdc,bitcount]}/${r[redis,bitcount]} bits, ${r[gdc,strlen]}/${r[redis,strlen]} bytes" >&2; exit 1; }
echo "One string's writes, requests/s, while region a's peer is down (N=$N a round)"
[ -z "$pinning" ] || echo "(${pinning#, })"
echo
echo "| round | gdc-node region a | redis-server |"
echo "|---|---|---|"
for kind in append setbit; do
    for i in $(seq 1 "$ROUNDS"); do
        echo "| $kind $i | ${r[gdc,$kind,$i]} | ${r[redis,$kind,$i]} |"
    done
done
echo "| getbit | ${r[gdc,getbit,1]} | ${r[redis,getbit,1]} |"
echo
echo "Both end with BITCOUNT ${r[gdc,bitcount]} and STRLEN ${r[gdc,strlen]}."
