#!/usr/bin/env python3
"""Which code a command runs: the 64-byte lines of machine code run at least once per
command (on average) in one row of a callgrind dump that `instructions.sh` kept, in all and
per compiled function (inlined code counts in the function it was inlined into).

    DUMPS=/tmp/dumps TESTS=lpush,rpush,lpop SERVERS=gdc,redis benches/scripts/instructions.sh
    benches/scripts/hot-code.py /tmp/dumps/gdc-lpop.out [per-command share, default 0.5]

A first-level instruction cache holds 512 such lines (32 KiB); a command whose lines do
not fit misses on most of them at every command of a pipeline (see BENCHMARKS.md,
"Instructions per command"). It also says how many of the cache's 64 sets hold more than
their 8 ways of these lines (docs/performance.md, "The cache's sets").
"""
import collections
import sys


def position(token, current):
    """A callgrind position: absolute, relative to the last one (+n, -n), or the same (*)."""
    if token == "*":
        return current
    if token[0] in "+-":
        return current + int(token, 0)
    return int(token, 0)


def main():
    path = sys.argv[1]
    share = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5
    commands = 0
    names = {}
    cost = collections.Counter()
    owner = {}
    function = "?"
    address = 0
    call_cost_next = False
    with open(path) as f:
        for line in f:
            if line.startswith("# commands:"):
                commands = int(line.split(":")[1])
                continue
            if line.startswith(("fn=", "cfn=")):
                spec = line.split("=", 1)[1].strip()
                # Names are compressed: "(id) name" the first time, "(id)" after.
                if spec.startswith("("):
                    ident, _, name = spec.partition(")")
                    ident += ")"
                    if name.strip():
                        names[ident] = name.strip()
                    spec = ident
                if line.startswith("fn="):
                    function = spec
                continue
            if line.startswith("calls="):
                # The next cost line is the call's inclusive cost, not code run here.
                call_cost_next = True
                continue
            if not line[:1].isdigit() and line[:1] not in ("+", "-", "*"):
                continue
            fields = line.split()
            address = position(fields[0], address)
            if call_cost_next:
                call_cost_next = False
                continue
            if len(fields) >= 3:
                cost[address] += int(fields[2])
                owner[address] = function
    if commands == 0:
        sys.exit(f"{path}: no '# commands:' line (keep dumps with instructions.sh's DUMPS)")
    lines = {}
    for address, n in cost.items():
        line = address // 64
        if n > lines.get(line, (0, ""))[0]:
            lines[line] = (n, owner[address])
    per_function = collections.Counter(
        names.get(f, f) for n, f in lines.values() if n >= share * commands
    )
    total = sum(per_function.values())
    print(f"{total} lines ({total * 64 / 1024:.1f} KiB) run at least {share} times per command")
    # The cache's set of a line is its address's bits 6-11 (64 sets of 8 ways): lines that
    # share a set past its ways evict each other.
    sets = collections.Counter(line % 64 for line, (n, _) in lines.items() if n >= share * commands)
    over = [k for k in sets.values() if k > 8]
    print(f"{len(over)} of the 64 cache sets hold more than 8 of them ({sum(over)} lines)")
    for function, n in per_function.most_common(30):
        print(f"{n:5d}  {function[:140]}")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # read through head: what it took is enough
        sys.stderr.close()
