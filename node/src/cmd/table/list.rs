//! The command table's list commands.

use super::keyspec::*;
use super::*;
use crate::cmd::list;

pub(super) static COMMANDS: &[Spec] = &[
    cmd("lpush", -3)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::LIST)
        .keys(&[key(RW | INSERT, index(1), range(0, 1, 0))])
        .doc(
            "Prepend one or multiple elements to a list",
            "1.0.0",
            Group::List,
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        )
        .run(list::lpush),
    cmd("rpush", -3)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::LIST)
        .keys(&[key(RW | INSERT, index(1), range(0, 1, 0))])
        .doc(
            "Append one or multiple elements to a list",
            "1.0.0",
            Group::List,
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        )
        .run(list::rpush),
    cmd("lpushx", -3)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::LIST)
        .keys(&[key(RW | INSERT, index(1), range(0, 1, 0))])
        .doc(
            "Prepend an element to a list, only if the list exists",
            "2.2.0",
            Group::List,
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        )
        .run(list::lpushx),
    cmd("rpushx", -3)
        .flags(WRITE | DENYOOM | FAST)
        .acl(acl::LIST)
        .keys(&[key(RW | INSERT, index(1), range(0, 1, 0))])
        .doc(
            "Append an element to a list, only if the list exists",
            "2.2.0",
            Group::List,
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        )
        .run(list::rpushx),
    cmd("lpop", -2)
        .flags(WRITE | FAST)
        .acl(acl::LIST)
        .keys(&[key(RW | ACCESS | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Remove and get the first elements in a list",
            "1.0.0",
            Group::List,
            "O(N) where N is the number of elements returned",
        )
        .run(list::lpop),
    cmd("rpop", -2)
        .flags(WRITE | FAST)
        .acl(acl::LIST)
        .keys(&[key(RW | ACCESS | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Remove and get the last elements in a list",
            "1.0.0",
            Group::List,
            "O(N) where N is the number of elements returned",
        )
        .run(list::rpop),
    cmd("llen", 2)
        .flags(READONLY | FAST)
        .acl(acl::LIST)
        .keys(&[key(RO, index(1), range(0, 1, 0))])
        .doc("Get the length of a list", "1.0.0", Group::List, "O(1)")
        .run(list::llen),
    cmd("lrange", 4)
        .flags(READONLY)
        .acl(acl::LIST)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get a range of elements from a list",
            "1.0.0",
            Group::List,
            "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
        )
        .run(list::lrange),
    cmd("lindex", 3)
        .flags(READONLY)
        .acl(acl::LIST)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Get an element from a list by its index",
            "1.0.0",
            Group::List,
            "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
        )
        .run(list::lindex),
    cmd("lset", 4)
        .flags(WRITE | DENYOOM)
        .acl(acl::LIST)
        .keys(&[key(RW | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Set the value of an element in a list by its index",
            "1.0.0",
            Group::List,
            "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
        )
        .run(list::lset),
    cmd("linsert", 5)
        .flags(WRITE | DENYOOM)
        .acl(acl::LIST)
        .keys(&[key(RW | INSERT, index(1), range(0, 1, 0))])
        .doc(
            "Insert an element before or after another element in a list",
            "2.2.0",
            Group::List,
            "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
        )
        .run(list::linsert),
    cmd("lrem", 4)
        .flags(WRITE)
        .acl(acl::LIST)
        .keys(&[key(RW | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Remove elements from a list",
            "1.0.0",
            Group::List,
            "O(N+M) where N is the length of the list and M is the number of elements removed.",
        )
        .run(list::lrem),
    cmd("ltrim", 4)
        .flags(WRITE)
        .acl(acl::LIST)
        .keys(&[key(RW | DELETE, index(1), range(0, 1, 0))])
        .doc(
            "Trim a list to the specified range",
            "1.0.0",
            Group::List,
            "O(N) where N is the number of elements to be removed by the operation.",
        )
        .run(list::ltrim),
    cmd("lmove", 5)
        .flags(WRITE | DENYOOM)
        .acl(acl::LIST)
        .keys(&[
            key(RW | ACCESS | DELETE, index(1), range(0, 1, 0)),
            key(RW | INSERT, index(2), range(0, 1, 0)),
        ])
        .doc(
            "Pop an element from a list, push it to another list and return it",
            "6.2.0",
            Group::List,
            "O(1)",
        )
        .run(list::lmove),
    cmd("rpoplpush", 3)
        .flags(WRITE | DENYOOM)
        .acl(acl::LIST)
        .keys(&[
            key(RW | ACCESS | DELETE, index(1), range(0, 1, 0)),
            key(RW | INSERT, index(2), range(0, 1, 0)),
        ])
        .doc(
            "Remove the last element in a list, prepend it to another list and return it",
            "1.2.0",
            Group::List,
            "O(1)",
        )
        .deprecated("6.2.0", "`LMOVE` with the `RIGHT` and `LEFT` arguments")
        .run(list::rpoplpush),
    cmd("lpos", -3)
        .flags(READONLY)
        .acl(acl::LIST)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Return the index of matching elements on a list",
            "6.0.6",
            Group::List,
            "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
        )
        .run(list::lpos),
    cmd("blpop", -3)
        .flags(WRITE | NOSCRIPT | BLOCKING)
        .acl(acl::LIST)
        .keys(&[key(RW | ACCESS | DELETE, index(1), range(-2, 1, 0))])
        .doc(
            "Remove and get the first element in a list, or block until one is available",
            "2.0.0",
            Group::List,
            "O(N) where N is the number of provided keys.",
        )
        .run(list::blpop),
    cmd("brpop", -3)
        .flags(WRITE | NOSCRIPT | BLOCKING)
        .acl(acl::LIST)
        .keys(&[key(RW | ACCESS | DELETE, index(1), range(-2, 1, 0))])
        .doc(
            "Remove and get the last element in a list, or block until one is available",
            "2.0.0",
            Group::List,
            "O(N) where N is the number of provided keys.",
        )
        .run(list::brpop),
    cmd("brpoplpush", 4)
        .flags(WRITE | DENYOOM | NOSCRIPT | BLOCKING)
        .acl(acl::LIST)
        .keys(&[
            key(RW | ACCESS | DELETE, index(1), range(0, 1, 0)),
            key(RW | INSERT, index(2), range(0, 1, 0)),
        ])
        .doc(
            "Pop an element from a list, push it to another list and return it; or block until one is available",
            "2.2.0",
            Group::List,
            "O(1)",
        )
        .deprecated("6.2.0", "`BLMOVE` with the `RIGHT` and `LEFT` arguments")
        .run(list::brpoplpush),
    cmd("lmpop", -4)
        .flags(WRITE)
        .acl(acl::LIST)
        .keys(&[key(RW | ACCESS | DELETE, index(1), keynum(0, 1, 1))])
        .doc(
            "Pop elements from a list",
            "7.0.0",
            Group::List,
            "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        )
        .run(list::lmpop),
    cmd("blmpop", -5)
        .flags(WRITE | BLOCKING)
        .acl(acl::LIST)
        .keys(&[key(RW | ACCESS | DELETE, index(2), keynum(0, 1, 1))])
        .doc(
            "Pop elements from a list, or block until one is available",
            "7.0.0",
            Group::List,
            "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        )
        .run(list::blmpop),
    cmd("blmove", 6)
        .flags(WRITE | DENYOOM | NOSCRIPT | BLOCKING)
        .acl(acl::LIST)
        .keys(&[
            key(RW | ACCESS | DELETE, index(1), range(0, 1, 0)),
            key(RW | INSERT, index(2), range(0, 1, 0)),
        ])
        .doc(
            "Pop an element from a list, push it to another list and return it; or block until one is available",
            "6.2.0",
            Group::List,
            "O(1)",
        )
        .run(list::blmove),
];
