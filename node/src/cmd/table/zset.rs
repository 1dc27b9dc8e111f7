//! The command table's sorted set commands.

use super::keyspec::*;
use super::*;
use crate::cmd::zset;

pub(super) static COMMANDS: &[Spec] = &[
    cmd("zadd", -4)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::SORTEDSET)
        .keys(&[key(RW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Add one or more members to a sorted set, or update its score if it already exists",
            "1.2.0",
            Group::SortedSet,
            "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        )
        .run(zset::zadd),
    cmd("zincrby", 4)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::SORTEDSET)
        .keys(&[key(RW | ACCESS | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Increment the score of a member in a sorted set",
            "1.2.0",
            Group::SortedSet,
            "O(log(N)) where N is the number of elements in the sorted set.",
        )
        .run(zset::zincrby),
    cmd("zrem", -3)
        .flags(WRITE | FAST)
        .acl(acl::SORTEDSET)
        .keys(&[key(RW | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Remove one or more members from a sorted set",
            "1.2.0",
            Group::SortedSet,
            "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
        )
        .run(zset::zrem),
    cmd("zscore", 3)
        .flags(READONLY | FAST)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get the score associated with the given member in a sorted set",
            "1.2.0",
            Group::SortedSet,
            "O(1)",
        )
        .run(zset::zscore),
    cmd("zcard", 2)
        .flags(READONLY | FAST)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO, index(1), range(0, 1, 0))])
        .doc(
            "Get the number of members in a sorted set",
            "1.2.0",
            Group::SortedSet,
            "O(1)",
        )
        .run(zset::zcard),
    cmd("zrange", -4)
        .flags(READONLY)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Return a range of members in a sorted set",
            "1.2.0",
            Group::SortedSet,
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        )
        .run(zset::zrange),
    cmd("zscan", -3)
        .flags(READONLY)
        .acl(acl::SORTEDSET)
        .tips(&["nondeterministic_output"])
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Incrementally iterate sorted sets elements and associated scores",
            "2.8.0",
            Group::SortedSet,
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        )
        .run(zset::zscan),
    cmd("zrank", -3)
        .flags(READONLY | FAST)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Determine the index of a member in a sorted set",
            "2.0.0",
            Group::SortedSet,
            "O(log(N))",
        )
        .run(zset::zrank),
    cmd("zrevrank", -3)
        .flags(READONLY | FAST)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Determine the index of a member in a sorted set, with scores ordered from high to low",
            "2.0.0",
            Group::SortedSet,
            "O(log(N))",
        )
        .run(zset::zrevrank),
    cmd("zcount", 4)
        .flags(READONLY | FAST)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Count the members in a sorted set with scores within the given values",
            "2.0.0",
            Group::SortedSet,
            "O(log(N)) with N being the number of elements in the sorted set.",
        )
        .run(zset::zcount),
    cmd("zrangebyscore", -4)
        .flags(READONLY)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Return a range of members in a sorted set, by score",
            "1.0.5",
            Group::SortedSet,
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        )
        .deprecated("6.2.0", "`ZRANGE` with the `BYSCORE` argument")
        .run(zset::zrangebyscore),
    cmd("zmscore", -3)
        .flags(READONLY | FAST)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get the score associated with the given members in a sorted set",
            "6.2.0",
            Group::SortedSet,
            "O(N) where N is the number of members being requested.",
        )
        .run(zset::zmscore),
    cmd("zpopmin", -2)
        .flags(WRITE | FAST)
        .acl(acl::SORTEDSET)
        .keys(&[key(RW | ACCESS | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Remove and return members with the lowest scores in a sorted set",
            "5.0.0",
            Group::SortedSet,
            "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        )
        .run(zset::zpopmin),
    cmd("zpopmax", -2)
        .flags(WRITE | FAST)
        .acl(acl::SORTEDSET)
        .keys(&[key(RW | ACCESS | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Remove and return members with the highest scores in a sorted set",
            "5.0.0",
            Group::SortedSet,
            "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        )
        .run(zset::zpopmax),
    cmd("zremrangebyrank", 4)
        .flags(WRITE)
        .acl(acl::SORTEDSET)
        .keys(&[key(RW | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Remove all members in a sorted set within the given indexes",
            "2.0.0",
            Group::SortedSet,
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        )
        .run(zset::zremrangebyrank),
    cmd("zremrangebyscore", 4)
        .flags(WRITE)
        .acl(acl::SORTEDSET)
        .keys(&[key(RW | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Remove all members in a sorted set within the given scores",
            "1.2.0",
            Group::SortedSet,
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        )
        .run(zset::zremrangebyscore),
    cmd("zremrangebylex", 4)
        .flags(WRITE)
        .acl(acl::SORTEDSET)
        .keys(&[key(RW | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Remove all members in a sorted set between the given lexicographical range",
            "2.8.9",
            Group::SortedSet,
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        )
        .run(zset::zremrangebylex),
    cmd("zrevrange", -4)
        .flags(READONLY)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Return a range of members in a sorted set, by index, with scores ordered from high to low",
            "1.2.0",
            Group::SortedSet,
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        )
        .deprecated("6.2.0", "`ZRANGE` with the `REV` argument")
        .run(zset::zrevrange),
    cmd("zrevrangebyscore", -4)
        .flags(READONLY)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Return a range of members in a sorted set, by score, with scores ordered from high to low",
            "2.2.0",
            Group::SortedSet,
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        )
        .deprecated("6.2.0", "`ZRANGE` with the `REV` and `BYSCORE` arguments")
        .run(zset::zrevrangebyscore),
    cmd("zrangebylex", -4)
        .flags(READONLY)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Return a range of members in a sorted set, by lexicographical range",
            "2.8.9",
            Group::SortedSet,
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        )
        .deprecated("6.2.0", "`ZRANGE` with the `BYLEX` argument")
        .run(zset::zrangebylex),
    cmd("zrevrangebylex", -4)
        .flags(READONLY)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
            "2.8.9",
            Group::SortedSet,
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        )
        .deprecated("6.2.0", "`ZRANGE` with the `REV` and `BYLEX` arguments")
        .run(zset::zrevrangebylex),
    cmd("zlexcount", 4)
        .flags(READONLY | FAST)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Count the number of members in a sorted set between a given lexicographical range",
            "2.8.9",
            Group::SortedSet,
            "O(log(N)) with N being the number of elements in the sorted set.",
        )
        .run(zset::zlexcount),
    cmd("zrangestore", -5)
        .flags(WRITE | DENYOOM)
        .acl(acl::SORTEDSET)
        .keys(&[
            key(OW | UPDATE, index(1), range(0, 1, 0)),
            key(RO | ACCESS, index(2), range(0, 1, 0)),
        ])
        .doc(
            "Store a range of members from sorted set into another key",
            "6.2.0",
            Group::SortedSet,
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
        )
        .run(zset::zrangestore),
    cmd("zunion", -3)
        .flags(READONLY)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), keynum(0, 1, 1))])
        .doc(
            "Add multiple sorted sets",
            "6.2.0",
            Group::SortedSet,
            "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        )
        .run(zset::zunion),
    cmd("zinter", -3)
        .flags(READONLY)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), keynum(0, 1, 1))])
        .doc(
            "Intersect multiple sorted sets",
            "6.2.0",
            Group::SortedSet,
            "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        )
        .run(zset::zinter),
    cmd("zdiff", -3)
        .flags(READONLY)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), keynum(0, 1, 1))])
        .doc(
            "Subtract multiple sorted sets",
            "6.2.0",
            Group::SortedSet,
            "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        )
        .run(zset::zdiff),
    cmd("zunionstore", -4)
        .flags(WRITE | DENYOOM)
        .acl(acl::SORTEDSET)
        .keys(&[
            key(OW | UPDATE, index(1), range(0, 1, 0)),
            key(RO | ACCESS, index(2), keynum(0, 1, 1)),
        ])
        .doc(
            "Add multiple sorted sets and store the resulting sorted set in a new key",
            "2.0.0",
            Group::SortedSet,
            "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        )
        .run(zset::zunionstore),
    cmd("zinterstore", -4)
        .flags(WRITE | DENYOOM)
        .acl(acl::SORTEDSET)
        .keys(&[
            key(OW | UPDATE, index(1), range(0, 1, 0)),
            key(RO | ACCESS, index(2), keynum(0, 1, 1)),
        ])
        .doc(
            "Intersect multiple sorted sets and store the resulting sorted set in a new key",
            "2.0.0",
            Group::SortedSet,
            "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        )
        .run(zset::zinterstore),
    cmd("zdiffstore", -4)
        .flags(WRITE | DENYOOM)
        .acl(acl::SORTEDSET)
        .keys(&[
            key(OW | UPDATE, index(1), range(0, 1, 0)),
            key(RO | ACCESS, index(2), keynum(0, 1, 1)),
        ])
        .doc(
            "Subtract multiple sorted sets and store the resulting sorted set in a new key",
            "6.2.0",
            Group::SortedSet,
            "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        )
        .run(zset::zdiffstore),
    cmd("zrandmember", -2)
        .flags(READONLY)
        .acl(acl::SORTEDSET)
        .tips(&["nondeterministic_output"])
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get one or multiple random elements from a sorted set",
            "6.2.0",
            Group::SortedSet,
            "O(N) where N is the number of elements returned",
        )
        .run(zset::zrandmember),
    cmd("zintercard", -3)
        .flags(READONLY)
        .acl(acl::SORTEDSET)
        .keys(&[key(RO | ACCESS, index(1), keynum(0, 1, 1))])
        .doc(
            "Intersect multiple sorted sets and return the cardinality of the result",
            "7.0.0",
            Group::SortedSet,
            "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
        )
        .run(zset::zintercard),
    cmd("zmpop", -4)
        .flags(WRITE)
        .acl(acl::SORTEDSET)
        .keys(&[key(RW | ACCESS | DELETE, index(1), keynum(0, 1, 1))])
        .doc(
            "Remove and return members with scores in a sorted set",
            "7.0.0",
            Group::SortedSet,
            "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        )
        .run(zset::zmpop),
    cmd("bzmpop", -5)
        .flags(WRITE | BLOCKING)
        .acl(acl::SORTEDSET)
        .keys(&[key(RW | ACCESS | DELETE, index(2), keynum(0, 1, 1))])
        .doc(
            "Remove and return members with scores in a sorted set or block until one is available",
            "7.0.0",
            Group::SortedSet,
            "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        )
        .run(zset::bzmpop),
    cmd("bzpopmin", -3)
        .flags(WRITE | NOSCRIPT | BLOCKING | FAST)
        .acl(acl::SORTEDSET)
        .keys(&[key(RW | ACCESS | DELETE, index(1), range(-2, 1, 0))])
        .doc(
            "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available",
            "5.0.0",
            Group::SortedSet,
            "O(log(N)) with N being the number of elements in the sorted set.",
        )
        .run(zset::bzpopmin),
    cmd("bzpopmax", -3)
        .flags(WRITE | NOSCRIPT | BLOCKING | FAST)
        .acl(acl::SORTEDSET)
        .keys(&[key(RW | ACCESS | DELETE, index(1), range(-2, 1, 0))])
        .doc(
            "Remove and return the member with the highest score from one or more sorted sets, or block until one is available",
            "5.0.0",
            Group::SortedSet,
            "O(log(N)) with N being the number of elements in the sorted set.",
        )
        .run(zset::bzpopmax),
];
