# CPU pinning for the benchmarks that compare servers (redis-compare.sh, cpu-per-op.sh),
# sourced by them. With PIN=1 (the default on two cores or more) a server runs on the last
# core and redis-benchmark on the others: neither takes the other's core, and the
# scheduler does not move them about. Gives:
#   server_cpus, client_cpus   the `taskset` prefixes (empty arrays with PIN=0)
#   pinning                    what the header line says of it
PIN="${PIN:-$([ "$(nproc)" -ge 2 ] && echo 1 || echo 0)}"
server_cpus=() client_cpus=()
pinning=""
if [ "$PIN" = 1 ]; then
    last=$(($(nproc) - 1))
    server_cpus=(taskset -c "$last")
    client_cpus=(taskset -c "0-$((last - 1))")
    pinning=", servers pinned to core $last, redis-benchmark to 0-$((last - 1))"
fi
