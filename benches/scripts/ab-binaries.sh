#!/usr/bin/env bash
# A/B of two gdc-node binaries (/tmp/gdc-old, /tmp/gdc-new), one at a time on port 7821,
# interleaved, three rounds: redis-benchmark requests/s per round, binary, pipeline, command.
set -u
for round in 1 2 3; do
  for which in old new; do
    rm -rf /tmp/ab-$which; /tmp/gdc-$which --port 7821 --dir /tmp/ab-$which > /dev/null 2>&1 &
    pid=$!
    for i in $(seq 50); do redis-cli -p 7821 ping >/dev/null 2>&1 && break; sleep 0.1; done
    for p in 1 16; do
      redis-benchmark -p 7821 -t set,get,incr,sadd -n 200000 -c 50 -r 1000000 -P $p -q 2>/dev/null \
        | tr '\r' '\n' | grep "requests per second" | sed "s/^/$round $which P$p /"
    done
    kill $pid; wait $pid 2>/dev/null
  done
done
