//! The command table's hash and set commands.

use super::keyspec::*;
use super::*;
use crate::cmd::{hash, set};

pub(super) static COMMANDS: &[Spec] = &[
    cmd("hset", -4)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::HASH)
        .keys(&[key(RW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Set the string value of a hash field",
            "2.0.0",
            Group::Hash,
            "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
        )
        .run(hash::hset),
    cmd("hmset", -4)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::HASH)
        .keys(&[key(RW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Set multiple hash fields to multiple values",
            "2.0.0",
            Group::Hash,
            "O(N) where N is the number of fields being set.",
        )
        .deprecated("4.0.0", "`HSET` with multiple field-value pairs")
        .run(hash::hmset),
    cmd("hsetnx", 4)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::HASH)
        .keys(&[key(RW | INSERT, index(1), range(0, 1, 0))])
        .doc(
            "Set the value of a hash field, only if the field does not exist",
            "2.0.0",
            Group::Hash,
            "O(1)",
        )
        .run(hash::hsetnx),
    cmd("hget", 3)
        .flags(READONLY | FAST)
        .acl(acl::HASH)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get the value of a hash field",
            "2.0.0",
            Group::Hash,
            "O(1)",
        )
        .run(hash::hget),
    cmd("hmget", -3)
        .flags(READONLY | FAST)
        .acl(acl::HASH)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get the values of all the given hash fields",
            "2.0.0",
            Group::Hash,
            "O(N) where N is the number of fields being requested.",
        )
        .run(hash::hmget),
    cmd("hdel", -3)
        .flags(WRITE | FAST)
        .acl(acl::HASH)
        .keys(&[key(RW | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Delete one or more hash fields",
            "2.0.0",
            Group::Hash,
            "O(N) where N is the number of fields to be removed.",
        )
        .run(hash::hdel),
    cmd("hexists", 3)
        .flags(READONLY | FAST)
        .acl(acl::HASH)
        .keys(&[key(RO, index(1), range(0, 1, 0))])
        .doc(
            "Determine if a hash field exists",
            "2.0.0",
            Group::Hash,
            "O(1)",
        )
        .run(hash::hexists),
    cmd("hlen", 2)
        .flags(READONLY | FAST)
        .acl(acl::HASH)
        .keys(&[key(RO, index(1), range(0, 1, 0))])
        .doc(
            "Get the number of fields in a hash",
            "2.0.0",
            Group::Hash,
            "O(1)",
        )
        .run(hash::hlen),
    cmd("hkeys", 2)
        .flags(READONLY)
        .acl(acl::HASH)
        .tips(&["nondeterministic_output_order"])
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get all the fields in a hash",
            "2.0.0",
            Group::Hash,
            "O(N) where N is the size of the hash.",
        )
        .run(hash::hkeys),
    cmd("hvals", 2)
        .flags(READONLY)
        .acl(acl::HASH)
        .tips(&["nondeterministic_output_order"])
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get all the values in a hash",
            "2.0.0",
            Group::Hash,
            "O(N) where N is the size of the hash.",
        )
        .run(hash::hvals),
    cmd("hgetall", 2)
        .flags(READONLY)
        .acl(acl::HASH)
        .tips(&["nondeterministic_output_order"])
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get all the fields and values in a hash",
            "2.0.0",
            Group::Hash,
            "O(N) where N is the size of the hash.",
        )
        .run(hash::hgetall),
    cmd("hincrby", 4)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::HASH)
        .keys(&[key(RW | ACCESS | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Increment the integer value of a hash field by the given number",
            "2.0.0",
            Group::Hash,
            "O(1)",
        )
        .run(hash::hincrby),
    cmd("hincrbyfloat", 4)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::HASH)
        .keys(&[key(RW | ACCESS | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Increment the float value of a hash field by the given amount",
            "2.6.0",
            Group::Hash,
            "O(1)",
        )
        .run(hash::hincrbyfloat),
    cmd("hstrlen", 3)
        .flags(READONLY | FAST)
        .acl(acl::HASH)
        .keys(&[key(RO, index(1), range(0, 1, 0))])
        .doc(
            "Get the length of the value of a hash field",
            "3.2.0",
            Group::Hash,
            "O(1)",
        )
        .run(hash::hstrlen),
    cmd("hscan", -3)
        .flags(READONLY)
        .acl(acl::HASH)
        .tips(&["nondeterministic_output"])
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Incrementally iterate hash fields and associated values",
            "2.8.0",
            Group::Hash,
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        )
        .run(hash::hscan),
    cmd("hrandfield", -2)
        .flags(READONLY)
        .acl(acl::HASH)
        .tips(&["nondeterministic_output"])
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get one or multiple random fields from a hash",
            "6.2.0",
            Group::Hash,
            "O(N) where N is the number of fields returned",
        )
        .run(hash::hrandfield),
    cmd("sadd", -3)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::SET)
        .keys(&[key(RW | INSERT, index(1), range(0, 1, 0))])
        .doc(
            "Add one or more members to a set",
            "1.0.0",
            Group::Set,
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        )
        .run(set::sadd),
    cmd("srem", -3)
        .flags(WRITE | FAST)
        .acl(acl::SET)
        .keys(&[key(RW | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Remove one or more members from a set",
            "1.0.0",
            Group::Set,
            "O(N) where N is the number of members to be removed.",
        )
        .run(set::srem),
    cmd("smembers", 2)
        .flags(READONLY)
        .acl(acl::SET)
        .tips(&["nondeterministic_output_order"])
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get all the members in a set",
            "1.0.0",
            Group::Set,
            "O(N) where N is the set cardinality.",
        )
        .run(set::smembers),
    cmd("sismember", 3)
        .flags(READONLY | FAST)
        .acl(acl::SET)
        .keys(&[key(RO, index(1), range(0, 1, 0))])
        .doc(
            "Determine if a given value is a member of a set",
            "1.0.0",
            Group::Set,
            "O(1)",
        )
        .run(set::sismember),
    cmd("smismember", -3)
        .flags(READONLY | FAST)
        .acl(acl::SET)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Returns the membership associated with the given elements for a set",
            "6.2.0",
            Group::Set,
            "O(N) where N is the number of elements being checked for membership",
        )
        .run(set::smismember),
    cmd("scard", 2)
        .flags(READONLY | FAST)
        .acl(acl::SET)
        .keys(&[key(RO, index(1), range(0, 1, 0))])
        .doc(
            "Get the number of members in a set",
            "1.0.0",
            Group::Set,
            "O(1)",
        )
        .run(set::scard),
    cmd("sscan", -3)
        .flags(READONLY)
        .acl(acl::SET)
        .tips(&["nondeterministic_output"])
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Incrementally iterate Set elements",
            "2.8.0",
            Group::Set,
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        )
        .run(set::sscan),
    cmd("sinter", -2)
        .flags(READONLY)
        .acl(acl::SET)
        .tips(&["nondeterministic_output_order"])
        .keys(&[key(RO | ACCESS, index(1), range(-1, 1, 0))])
        .doc(
            "Intersect multiple sets",
            "1.0.0",
            Group::Set,
            "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        )
        .run(set::sinter),
    cmd("sunion", -2)
        .flags(READONLY)
        .acl(acl::SET)
        .tips(&["nondeterministic_output_order"])
        .keys(&[key(RO | ACCESS, index(1), range(-1, 1, 0))])
        .doc(
            "Add multiple sets",
            "1.0.0",
            Group::Set,
            "O(N) where N is the total number of elements in all given sets.",
        )
        .run(set::sunion),
    cmd("sdiff", -2)
        .flags(READONLY)
        .acl(acl::SET)
        .tips(&["nondeterministic_output_order"])
        .keys(&[key(RO | ACCESS, index(1), range(-1, 1, 0))])
        .doc(
            "Subtract multiple sets",
            "1.0.0",
            Group::Set,
            "O(N) where N is the total number of elements in all given sets.",
        )
        .run(set::sdiff),
    cmd("sinterstore", -3)
        .flags(WRITE | DENYOOM)
        .acl(acl::SET)
        .keys(&[
            key(RW | UPDATE, index(1), range(0, 1, 0)),
            key(RO | ACCESS, index(2), range(-1, 1, 0)),
        ])
        .doc(
            "Intersect multiple sets and store the resulting set in a key",
            "1.0.0",
            Group::Set,
            "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        )
        .run(set::sinterstore),
    cmd("sunionstore", -3)
        .flags(WRITE | DENYOOM)
        .acl(acl::SET)
        .keys(&[
            key(OW | UPDATE, index(1), range(0, 1, 0)),
            key(RO | ACCESS, index(2), range(-1, 1, 0)),
        ])
        .doc(
            "Add multiple sets and store the resulting set in a key",
            "1.0.0",
            Group::Set,
            "O(N) where N is the total number of elements in all given sets.",
        )
        .run(set::sunionstore),
    cmd("sdiffstore", -3)
        .flags(WRITE | DENYOOM)
        .acl(acl::SET)
        .keys(&[
            key(OW | UPDATE, index(1), range(0, 1, 0)),
            key(RO | ACCESS, index(2), range(-1, 1, 0)),
        ])
        .doc(
            "Subtract multiple sets and store the resulting set in a key",
            "1.0.0",
            Group::Set,
            "O(N) where N is the total number of elements in all given sets.",
        )
        .run(set::sdiffstore),
    cmd("sintercard", -3)
        .flags(READONLY)
        .acl(acl::SET)
        .keys(&[key(RO | ACCESS, index(1), keynum(0, 1, 1))])
        .doc(
            "Intersect multiple sets and return the cardinality of the result",
            "7.0.0",
            Group::Set,
            "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        )
        .run(set::sintercard),
    cmd("spop", -2)
        .flags(WRITE | FAST)
        .acl(acl::SET)
        .tips(&["nondeterministic_output"])
        .keys(&[key(RW | ACCESS | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Remove and return one or multiple random members from a set",
            "1.0.0",
            Group::Set,
            "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
        )
        .run(set::spop),
    cmd("srandmember", -2)
        .flags(READONLY)
        .acl(acl::SET)
        .tips(&["nondeterministic_output"])
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get one or multiple random members from a set",
            "1.0.0",
            Group::Set,
            "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
        )
        .run(set::srandmember),
    cmd("smove", 4)
        .flags(WRITE | FAST)
        .acl(acl::SET)
        .keys(&[
            key(RW | ACCESS | DELETE, index(1), range(0, 1, 0)),
            key(RW | INSERT, index(2), range(0, 1, 0)),
        ])
        .doc(
            "Move a member from one set to another",
            "1.0.0",
            Group::Set,
            "O(1)",
        )
        .run(set::smove),
];
