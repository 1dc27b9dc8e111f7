//! The command table's HyperLogLog commands.

use super::keyspec::*;
use super::*;
use crate::cmd::hll;

pub(super) static COMMANDS: &[Spec] = &[
    cmd("pfadd", -2)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::HYPERLOGLOG)
        .keys(&[key(RW | INSERT, index(1), range(0, 1, 0))])
        .doc(
            "Adds the specified elements to the specified HyperLogLog.",
            "2.8.9",
            Group::Hyperloglog,
            "O(1) to add every element.",
        )
        .run(hll::pfadd),
    cmd("pfcount", -2)
        .flags(READONLY)
        .acl(acl::HYPERLOGLOG)
        .keys(&[key(RW | ACCESS, index(1), range(-1, 1, 0))
            .note("RW because it may change the internal representation of the key, and propagate to replicas")])
        .doc(
            "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
            "2.8.9",
            Group::Hyperloglog,
            "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.",
        )
        .run(hll::pfcount),
    cmd("pfmerge", -2)
        .flags(WRITE | DENYOOM)
        .acl(acl::HYPERLOGLOG)
        .keys(&[
            key(RW | ACCESS | INSERT, index(1), range(0, 1, 0)),
            key(RO | ACCESS, index(2), range(-1, 1, 0)),
        ])
        .doc(
            "Merge N different HyperLogLogs into a single one.",
            "2.8.9",
            Group::Hyperloglog,
            "O(N) to merge N HyperLogLogs, but with high constant times.",
        )
        .run(hll::pfmerge),
    cmd("pfdebug", 3)
        .flags(WRITE | DENYOOM | ADMIN)
        .acl(acl::HYPERLOGLOG)
        .keys(&[key(RW | ACCESS, index(2), range(0, 1, 0))])
        .doc(
            "Internal commands for debugging HyperLogLog values",
            "2.8.9",
            Group::Hyperloglog,
            "N/A",
        )
        .syscmd()
        .run(hll::pfdebug),
    cmd("pfselftest", 1)
        .flags(ADMIN)
        .acl(acl::HYPERLOGLOG)
        .doc(
            "An internal command for testing HyperLogLog values",
            "2.8.9",
            Group::Hyperloglog,
            "N/A",
        )
        .syscmd()
        .run(hll::pfselftest),
];
