//! The command table's generic (keyspace) commands.

use super::keyspec::*;
use super::*;
use crate::cmd::{dump, keys, sort};

pub(super) static COMMANDS: &[Spec] = &[
    cmd("del", -2)
        .flags(WRITE)
        .acl(acl::KEYSPACE)
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .keys(&[key(RM | DELETE, index(1), range(-1, 1, 0))])
        .doc(
            "Delete a key",
            "1.0.0",
            Group::Generic,
            "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        )
        .run(keys::del),
    cmd("unlink", -2)
        .flags(WRITE | FAST)
        .acl(acl::KEYSPACE)
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .keys(&[key(RM | DELETE, index(1), range(-1, 1, 0))])
        .doc(
            "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
            "4.0.0",
            Group::Generic,
            "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        )
        .run(keys::del),
    cmd("exists", -2)
        .flags(READONLY | FAST)
        .acl(acl::KEYSPACE)
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .keys(&[key(RO, index(1), range(-1, 1, 0))])
        .doc(
            "Determine if a key exists",
            "1.0.0",
            Group::Generic,
            "O(N) where N is the number of keys to check.",
        )
        .run(keys::exists),
    cmd("type", 2)
        .flags(READONLY | FAST)
        .acl(acl::KEYSPACE)
        .keys(&[key(RO, index(1), range(0, 1, 0))])
        .doc(
            "Determine the type stored at key",
            "1.0.0",
            Group::Generic,
            "O(1)",
        )
        .run(keys::type_),
    cmd("expire", -3)
        .flags(WRITE | FAST)
        .acl(acl::KEYSPACE)
        .keys(&[key(RW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Set a key's time to live in seconds",
            "1.0.0",
            Group::Generic,
            "O(1)",
        )
        .run(keys::expire),
    cmd("pexpire", -3)
        .flags(WRITE | FAST)
        .acl(acl::KEYSPACE)
        .keys(&[key(RW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Set a key's time to live in milliseconds",
            "2.6.0",
            Group::Generic,
            "O(1)",
        )
        .run(keys::pexpire),
    cmd("expireat", -3)
        .flags(WRITE | FAST)
        .acl(acl::KEYSPACE)
        .keys(&[key(RW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Set the expiration for a key as a UNIX timestamp",
            "1.2.0",
            Group::Generic,
            "O(1)",
        )
        .run(keys::expireat),
    cmd("pexpireat", -3)
        .flags(WRITE | FAST)
        .acl(acl::KEYSPACE)
        .keys(&[key(RW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
            "2.6.0",
            Group::Generic,
            "O(1)",
        )
        .run(keys::pexpireat),
    cmd("ttl", 2)
        .flags(READONLY | FAST)
        .acl(acl::KEYSPACE)
        .tips(&["nondeterministic_output"])
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get the time to live for a key in seconds",
            "1.0.0",
            Group::Generic,
            "O(1)",
        )
        .run(keys::ttl),
    cmd("pttl", 2)
        .flags(READONLY | FAST)
        .acl(acl::KEYSPACE)
        .tips(&["nondeterministic_output"])
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get the time to live for a key in milliseconds",
            "2.6.0",
            Group::Generic,
            "O(1)",
        )
        .run(keys::pttl),
    cmd("expiretime", 2)
        .flags(READONLY | FAST)
        .acl(acl::KEYSPACE)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get the expiration Unix timestamp for a key",
            "7.0.0",
            Group::Generic,
            "O(1)",
        )
        .run(keys::expiretime),
    cmd("pexpiretime", 2)
        .flags(READONLY | FAST)
        .acl(acl::KEYSPACE)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get the expiration Unix timestamp for a key in milliseconds",
            "7.0.0",
            Group::Generic,
            "O(1)",
        )
        .run(keys::pexpiretime),
    cmd("persist", 2)
        .flags(WRITE | FAST)
        .acl(acl::KEYSPACE)
        .keys(&[key(RW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Remove the expiration from a key",
            "2.2.0",
            Group::Generic,
            "O(1)",
        )
        .run(keys::persist),
    cmd("keys", 2)
        .flags(READONLY)
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .tips(&["request_policy:all_shards", "nondeterministic_output_order"])
        .doc(
            "Find all keys matching the given pattern",
            "1.0.0",
            Group::Generic,
            "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        )
        .run(keys::keys),
    cmd("scan", -2)
        .flags(READONLY)
        .acl(acl::KEYSPACE)
        .tips(&["nondeterministic_output", "request_policy:special"])
        .doc(
            "Incrementally iterate the keys space",
            "2.8.0",
            Group::Generic,
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        )
        .run(keys::scan),
    cmd("rename", 3)
        .flags(WRITE)
        .acl(acl::KEYSPACE)
        .keys(&[
            key(RW | ACCESS | DELETE, index(1), range(0, 1, 0)),
            key(OW | UPDATE, index(2), range(0, 1, 0)),
        ])
        .doc("Rename a key", "1.0.0", Group::Generic, "O(1)")
        .run(keys::rename),
    cmd("renamenx", 3)
        .flags(WRITE | FAST)
        .acl(acl::KEYSPACE)
        .keys(&[
            key(RW | ACCESS | DELETE, index(1), range(0, 1, 0)),
            key(OW | INSERT, index(2), range(0, 1, 0)),
        ])
        .doc(
            "Rename a key, only if the new key does not exist",
            "1.0.0",
            Group::Generic,
            "O(1)",
        )
        .run(keys::renamenx),
    cmd("move", 3)
        .flags(WRITE | FAST)
        .acl(acl::KEYSPACE)
        .keys(&[key(RW | ACCESS | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Move a key to another database",
            "1.0.0",
            Group::Generic,
            "O(1)",
        )
        .run(keys::move_key),
    cmd("copy", -3)
        .flags(WRITE | DENYOOM)
        .acl(acl::KEYSPACE)
        .keys(&[
            key(RO | ACCESS, index(1), range(0, 1, 0)),
            key(OW | UPDATE, index(2), range(0, 1, 0)),
        ])
        .doc(
            "Copy a key",
            "6.2.0",
            Group::Generic,
            "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        )
        .run(keys::copy),
    cmd("sort", -2)
        .flags(WRITE | DENYOOM)
        .acl(acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS)
        .keys(&[
            key(RO | ACCESS, index(1), range(0, 1, 0)),
            key(RO | ACCESS, Begin::Unknown, Find::Unknown)
                .note("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort"),
            key(OW | UPDATE, Begin::Unknown, Find::Unknown)
                .note("For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array"),
        ])
        .getkeys(Getkeys::Sort)
        .doc(
            "Sort the elements in a list, set or sorted set",
            "1.0.0",
            Group::Generic,
            "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
        )
        .run(sort::sort),
    cmd("sort_ro", -2)
        .flags(READONLY)
        .acl(acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS)
        .keys(&[
            key(RO | ACCESS, index(1), range(0, 1, 0)),
            key(RO | ACCESS, Begin::Unknown, Find::Unknown)
                .note("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort"),
        ])
        .getkeys(Getkeys::SortRo)
        .doc(
            "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
            "7.0.0",
            Group::Generic,
            "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
        )
        .run(sort::sort_ro),
    cmd("touch", -2)
        .flags(READONLY | FAST)
        .acl(acl::KEYSPACE)
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .keys(&[key(RO, index(1), range(-1, 1, 0))])
        .doc(
            "Alters the last access time of a key(s). Returns the number of existing keys specified.",
            "3.2.1",
            Group::Generic,
            "O(N) where N is the number of keys that will be touched.",
        )
        .run(keys::touch),
    cmd("randomkey", 1)
        .flags(READONLY)
        .acl(acl::KEYSPACE)
        .tips(&["request_policy:all_shards", "nondeterministic_output"])
        .doc(
            "Return a random key from the keyspace",
            "1.0.0",
            Group::Generic,
            "O(1)",
        )
        .run(keys::randomkey),
    cmd("object", -2)
        .doc(
            "A container for object introspection commands",
            "2.2.3",
            Group::Generic,
            "Depends on subcommand.",
        )
        .subs(&[
            cmd("object|encoding", 3)
                .flags(READONLY)
                .acl(acl::KEYSPACE)
                .tips(&["nondeterministic_output"])
                .keys(&[key(RO, index(2), range(0, 1, 0))])
                .doc(
                    "Inspect the internal encoding of a Redis object",
                    "2.2.3",
                    Group::Generic,
                    "O(1)",
                ),
            cmd("object|freq", 3)
                .flags(READONLY)
                .acl(acl::KEYSPACE)
                .tips(&["nondeterministic_output"])
                .keys(&[key(RO, index(2), range(0, 1, 0))])
                .doc(
                    "Get the logarithmic access frequency counter of a Redis object",
                    "4.0.0",
                    Group::Generic,
                    "O(1)",
                ),
            cmd("object|idletime", 3)
                .flags(READONLY)
                .acl(acl::KEYSPACE)
                .tips(&["nondeterministic_output"])
                .keys(&[key(RO, index(2), range(0, 1, 0))])
                .doc(
                    "Get the time since a Redis object was last accessed",
                    "2.2.3",
                    Group::Generic,
                    "O(1)",
                ),
            cmd("object|refcount", 3)
                .flags(READONLY)
                .acl(acl::KEYSPACE)
                .tips(&["nondeterministic_output"])
                .keys(&[key(RO, index(2), range(0, 1, 0))])
                .doc(
                    "Get the number of references to the value of the key",
                    "2.2.3",
                    Group::Generic,
                    "O(1)",
                ),
            cmd("object|help", 2)
                .flags(LOADING | STALE)
                .acl(acl::KEYSPACE)
                .doc(
                    "Show helpful text about the different subcommands",
                    "6.2.0",
                    Group::Generic,
                    "O(1)",
                ),
        ])
        .run(keys::object),
    cmd("dump", 2)
        .flags(READONLY)
        .acl(acl::KEYSPACE)
        .tips(&["nondeterministic_output"])
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Return a serialized version of the value stored at the specified key.",
            "2.6.0",
            Group::Generic,
            "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
        )
        .run(dump::dump),
    cmd("restore", -4)
        .flags(WRITE | DENYOOM)
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .keys(&[key(OW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Create a key using the provided serialized value, previously obtained using DUMP.",
            "2.6.0",
            Group::Generic,
            "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        )
        .run(dump::restore),
];
