//! The command table's string commands.

use super::keyspec::*;
use super::*;
use crate::cmd::string;

pub(super) static COMMANDS: &[Spec] = &[
    cmd("get", 2)
        .flags(READONLY | FAST)
        .acl(acl::STRING)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc("Get the value of a key", "1.0.0", Group::String, "O(1)")
        .run(string::get),
    cmd("set", -3)
        .flags(WRITE | DENYOOM)
        .acl(acl::STRING)
        .keys(&[
            key(RW | ACCESS | UPDATE | VARIABLE_FLAGS, index(1), range(0, 1, 0))
                .note("RW and ACCESS due to the optional `GET` argument"),
        ])
        .getkeys(Getkeys::Set)
        .doc(
            "Set the string value of a key",
            "1.0.0",
            Group::String,
            "O(1)",
        )
        .run(string::set),
    cmd("setnx", 3)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::STRING)
        .keys(&[key(OW | INSERT, index(1), range(0, 1, 0))])
        .doc(
            "Set the value of a key, only if the key does not exist",
            "1.0.0",
            Group::String,
            "O(1)",
        )
        .run(string::setnx),
    cmd("setex", 4)
        .flags(WRITE | DENYOOM)
        .acl(acl::STRING)
        .keys(&[key(OW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Set the value and expiration of a key",
            "2.0.0",
            Group::String,
            "O(1)",
        )
        .run(string::setex),
    cmd("psetex", 4)
        .flags(WRITE | DENYOOM)
        .acl(acl::STRING)
        .keys(&[key(OW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Set the value and expiration in milliseconds of a key",
            "2.6.0",
            Group::String,
            "O(1)",
        )
        .run(string::psetex),
    cmd("getset", 3)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::STRING)
        .keys(&[key(RW | ACCESS | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Set the string value of a key and return its old value",
            "1.0.0",
            Group::String,
            "O(1)",
        )
        .deprecated("6.2.0", "`SET` with the `!GET` argument")
        .run(string::getset),
    cmd("getdel", 2)
        .flags(WRITE | FAST)
        .acl(acl::STRING)
        .keys(&[key(RW | ACCESS | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Get the value of a key and delete the key",
            "6.2.0",
            Group::String,
            "O(1)",
        )
        .run(string::getdel),
    cmd("mget", -2)
        .flags(READONLY | FAST)
        .acl(acl::STRING)
        .tips(&["request_policy:multi_shard"])
        .keys(&[key(RO | ACCESS, index(1), range(-1, 1, 0))])
        .doc(
            "Get the values of all the given keys",
            "1.0.0",
            Group::String,
            "O(N) where N is the number of keys to retrieve.",
        )
        .run(string::mget),
    cmd("mset", -3)
        .flags(WRITE | DENYOOM)
        .acl(acl::STRING)
        .tips(&["request_policy:multi_shard", "response_policy:all_succeeded"])
        .keys(&[key(OW | UPDATE, index(1), range(-1, 2, 0))])
        .doc(
            "Set multiple keys to multiple values",
            "1.0.1",
            Group::String,
            "O(N) where N is the number of keys to set.",
        )
        .run(string::mset),
    cmd("append", 3)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::STRING)
        .keys(&[key(RW | INSERT, index(1), range(0, 1, 0))])
        .doc(
            "Append a value to a key",
            "2.0.0",
            Group::String,
            "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        )
        .run(string::append),
    cmd("strlen", 2)
        .flags(READONLY | FAST)
        .acl(acl::STRING)
        .keys(&[key(RO, index(1), range(0, 1, 0))])
        .doc(
            "Get the length of the value stored in a key",
            "2.2.0",
            Group::String,
            "O(1)",
        )
        .run(string::strlen),
    cmd("incr", 2)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::STRING)
        .keys(&[key(RW | ACCESS | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Increment the integer value of a key by one",
            "1.0.0",
            Group::String,
            "O(1)",
        )
        .run(string::incr),
    cmd("decr", 2)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::STRING)
        .keys(&[key(RW | ACCESS | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Decrement the integer value of a key by one",
            "1.0.0",
            Group::String,
            "O(1)",
        )
        .run(string::decr),
    cmd("incrby", 3)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::STRING)
        .keys(&[key(RW | ACCESS | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Increment the integer value of a key by the given amount",
            "1.0.0",
            Group::String,
            "O(1)",
        )
        .run(string::incrby),
    cmd("decrby", 3)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::STRING)
        .keys(&[key(RW | ACCESS | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Decrement the integer value of a key by the given number",
            "1.0.0",
            Group::String,
            "O(1)",
        )
        .run(string::decrby),
    cmd("incrbyfloat", 3)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::STRING)
        .keys(&[key(RW | ACCESS | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Increment the float value of a key by the given amount",
            "2.6.0",
            Group::String,
            "O(1)",
        )
        .run(string::incrbyfloat),
    cmd("getex", -2)
        .flags(WRITE | FAST)
        .acl(acl::STRING)
        .keys(&[
            key(RW | ACCESS | UPDATE, index(1), range(0, 1, 0))
                .note("RW and UPDATE because it changes the TTL"),
        ])
        .doc(
            "Get the value of a key and optionally set its expiration",
            "6.2.0",
            Group::String,
            "O(1)",
        )
        .run(string::getex),
    cmd("getrange", 4)
        .flags(READONLY)
        .acl(acl::STRING)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get a substring of the string stored at a key",
            "2.4.0",
            Group::String,
            "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        )
        .run(string::getrange),
    cmd("substr", 4)
        .flags(READONLY)
        .acl(acl::STRING)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get a substring of the string stored at a key",
            "1.0.0",
            Group::String,
            "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        )
        .deprecated("2.0.0", "`GETRANGE`")
        .run(string::getrange),
    cmd("lcs", -3)
        .flags(READONLY)
        .acl(acl::STRING)
        .keys(&[key(RO | ACCESS, index(1), range(1, 1, 0))])
        .doc(
            "Find longest common substring",
            "7.0.0",
            Group::String,
            "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        )
        .run(string::lcs),
    cmd("setrange", 4)
        .flags(WRITE | DENYOOM)
        .acl(acl::STRING)
        .keys(&[key(RW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Overwrite part of a string at key starting at the specified offset",
            "2.2.0",
            Group::String,
            "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        )
        .run(string::setrange),
    cmd("msetnx", -3)
        .flags(WRITE | DENYOOM)
        .acl(acl::STRING)
        .tips(&["request_policy:multi_shard", "response_policy:agg_min"])
        .keys(&[key(OW | INSERT, index(1), range(-1, 2, 0))])
        .doc(
            "Set multiple keys to multiple values, only if none of the keys exist",
            "1.0.1",
            Group::String,
            "O(N) where N is the number of keys to set.",
        )
        .run(string::msetnx),
];
