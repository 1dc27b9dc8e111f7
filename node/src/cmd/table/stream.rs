//! The command table's stream commands.

use super::keyspec::*;
use super::*;
use crate::cmd::stream::{add, group, info, pending, read};

pub(super) static COMMANDS: &[Spec] = &[
    cmd("xack", -4)
        .flags(WRITE | FAST)
        .acl(acl::STREAM)
        .keys(&[key(RW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
            "5.0.0",
            Group::Stream,
            "O(1) for each message ID processed.",
        )
        .run(group::xack),
    cmd("xadd", -5)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::STREAM)
        .tips(&["nondeterministic_output"])
        .keys(&[key(RW | UPDATE, index(1), range(0, 1, 0))
            .note("UPDATE instead of INSERT because of the optional trimming feature")])
        .doc(
            "Appends a new entry to a stream",
            "5.0.0",
            Group::Stream,
            "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
        )
        .run(add::xadd),
    cmd("xautoclaim", -6)
        .flags(WRITE | FAST)
        .acl(acl::STREAM)
        .tips(&["nondeterministic_output"])
        .keys(&[key(RW | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.",
            "6.2.0",
            Group::Stream,
            "O(1) if COUNT is small.",
        )
        .run(pending::xautoclaim),
    cmd("xclaim", -6)
        .flags(WRITE | FAST)
        .acl(acl::STREAM)
        .tips(&["nondeterministic_output"])
        .keys(&[key(RW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.",
            "5.0.0",
            Group::Stream,
            "O(log N) with N being the number of messages in the PEL of the consumer group.",
        )
        .run(pending::xclaim),
    cmd("xdel", -3)
        .flags(WRITE | FAST)
        .acl(acl::STREAM)
        .keys(&[key(RW | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
            "5.0.0",
            Group::Stream,
            "O(1) for each single item to delete in the stream, regardless of the stream size.",
        )
        .run(add::xdel),
    cmd("xgroup", -2)
        .doc(
            "A container for consumer groups commands",
            "5.0.0",
            Group::Stream,
            "Depends on subcommand.",
        )
        .subs(&[
            cmd("xgroup|create", -5)
                .flags(WRITE | DENYOOM)
                .acl(acl::STREAM)
                .keys(&[key(RW | INSERT, index(2), range(0, 1, 0))])
                .doc(
                    "Create a consumer group.",
                    "5.0.0",
                    Group::Stream,
                    "O(1)",
                ),
            cmd("xgroup|createconsumer", 5)
                .flags(WRITE | DENYOOM)
                .acl(acl::STREAM)
                .keys(&[key(RW | INSERT, index(2), range(0, 1, 0))])
                .doc(
                    "Create a consumer in a consumer group.",
                    "6.2.0",
                    Group::Stream,
                    "O(1)",
                ),
            cmd("xgroup|delconsumer", 5)
                .flags(WRITE)
                .acl(acl::STREAM)
                .keys(&[key(RW | DELETE, index(2), range(0, 1, 0))])
                .doc(
                    "Delete a consumer from a consumer group.",
                    "5.0.0",
                    Group::Stream,
                    "O(1)",
                ),
            cmd("xgroup|destroy", 4)
                .flags(WRITE)
                .acl(acl::STREAM)
                .keys(&[key(RW | DELETE, index(2), range(0, 1, 0))])
                .doc(
                    "Destroy a consumer group.",
                    "5.0.0",
                    Group::Stream,
                    "O(N) where N is the number of entries in the group's pending entries list (PEL).",
                ),
            cmd("xgroup|help", 2)
                .flags(LOADING | STALE)
                .acl(acl::STREAM)
                .doc(
                    "Show helpful text about the different subcommands",
                    "5.0.0",
                    Group::Stream,
                    "O(1)",
                ),
            cmd("xgroup|setid", -5)
                .flags(WRITE)
                .acl(acl::STREAM)
                .keys(&[key(RW | UPDATE, index(2), range(0, 1, 0))])
                .doc(
                    "Set a consumer group to an arbitrary last delivered ID value.",
                    "5.0.0",
                    Group::Stream,
                    "O(1)",
                ),
        ])
        .run(group::xgroup),
    cmd("xinfo", -2)
        .doc(
            "A container for stream introspection commands",
            "5.0.0",
            Group::Stream,
            "Depends on subcommand.",
        )
        .subs(&[
            cmd("xinfo|consumers", 4)
                .flags(READONLY)
                .acl(acl::STREAM)
                .tips(&["nondeterministic_output"])
                .keys(&[key(RO | ACCESS, index(2), range(0, 1, 0))])
                .doc(
                    "List the consumers in a consumer group",
                    "5.0.0",
                    Group::Stream,
                    "O(1)",
                ),
            cmd("xinfo|groups", 3)
                .flags(READONLY)
                .acl(acl::STREAM)
                .keys(&[key(RO | ACCESS, index(2), range(0, 1, 0))])
                .doc(
                    "List the consumer groups of a stream",
                    "5.0.0",
                    Group::Stream,
                    "O(1)",
                ),
            cmd("xinfo|help", 2)
                .flags(LOADING | STALE)
                .acl(acl::STREAM)
                .doc(
                    "Show helpful text about the different subcommands",
                    "5.0.0",
                    Group::Stream,
                    "O(1)",
                ),
            cmd("xinfo|stream", -3)
                .flags(READONLY)
                .acl(acl::STREAM)
                .keys(&[key(RO | ACCESS, index(2), range(0, 1, 0))])
                .doc(
                    "Get information about a stream",
                    "5.0.0",
                    Group::Stream,
                    "O(1)",
                ),
        ])
        .run(info::xinfo),
    cmd("xlen", 2)
        .flags(READONLY | FAST)
        .acl(acl::STREAM)
        .keys(&[key(RO, index(1), range(0, 1, 0))])
        .doc(
            "Return the number of entries in a stream",
            "5.0.0",
            Group::Stream,
            "O(1)",
        )
        .run(add::xlen),
    cmd("xpending", -3)
        .flags(READONLY)
        .acl(acl::STREAM)
        .tips(&["nondeterministic_output"])
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.",
            "5.0.0",
            Group::Stream,
            "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
        )
        .run(pending::xpending),
    cmd("xrange", -4)
        .flags(READONLY)
        .acl(acl::STREAM)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Return a range of elements in a stream, with IDs matching the specified IDs interval",
            "5.0.0",
            Group::Stream,
            "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
        )
        .run(read::xrange),
    cmd("xread", -4)
        .flags(BLOCKING | READONLY)
        .acl(acl::STREAM)
        .keys(&[key(RO | ACCESS, keyword("STREAMS", 1), range(-1, 1, 2))])
        .doc(
            "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.",
            "5.0.0",
            Group::Stream,
            "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data.",
        )
        .run(read::xread),
    cmd("xreadgroup", -7)
        .flags(BLOCKING | WRITE)
        .acl(acl::STREAM)
        .keys(&[key(RO | ACCESS, keyword("STREAMS", 4), range(-1, 1, 2))])
        .doc(
            "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.",
            "5.0.0",
            Group::Stream,
            "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.",
        )
        .run(group::xreadgroup),
    cmd("xrevrange", -4)
        .flags(READONLY)
        .acl(acl::STREAM)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
            "5.0.0",
            Group::Stream,
            "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
        )
        .run(read::xrevrange),
    cmd("xsetid", -3)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::STREAM)
        .keys(&[key(RW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "An internal command for replicating stream values",
            "5.0.0",
            Group::Stream,
            "O(1)",
        )
        .run(add::xsetid),
    cmd("xtrim", -4)
        .flags(WRITE)
        .acl(acl::STREAM)
        .tips(&["nondeterministic_output"])
        .keys(&[key(RW | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Trims the stream to (approximately if '~' is passed) a certain size",
            "5.0.0",
            Group::Stream,
            "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.",
        )
        .run(add::xtrim),
];
