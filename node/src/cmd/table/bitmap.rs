//! The command table's bitmap commands.

use super::keyspec::*;
use super::*;
use crate::cmd::bits;

pub(super) static COMMANDS: &[Spec] = &[
    cmd("setbit", 4)
        .flags(WRITE | DENYOOM)
        .acl(acl::BITMAP)
        .keys(&[key(RW | ACCESS | UPDATE, index(1), range(0, 1, 0))])
        .doc(
            "Sets or clears the bit at offset in the string value stored at key",
            "2.2.0",
            Group::Bitmap,
            "O(1)",
        )
        .run(bits::setbit),
    cmd("getbit", 3)
        .flags(READONLY | FAST)
        .acl(acl::BITMAP)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Returns the bit value at offset in the string value stored at key",
            "2.2.0",
            Group::Bitmap,
            "O(1)",
        )
        .run(bits::getbit),
    cmd("bitcount", -2)
        .flags(READONLY)
        .acl(acl::BITMAP)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Count set bits in a string",
            "2.6.0",
            Group::Bitmap,
            "O(N)",
        )
        .run(bits::bitcount),
    cmd("bitpos", -3)
        .flags(READONLY)
        .acl(acl::BITMAP)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Find first bit set or clear in a string",
            "2.8.7",
            Group::Bitmap,
            "O(N)",
        )
        .run(bits::bitpos),
    cmd("bitop", -4)
        .flags(WRITE | DENYOOM)
        .acl(acl::BITMAP)
        .keys(&[
            key(OW | UPDATE, index(2), range(0, 1, 0)),
            key(RO | ACCESS, index(3), range(-1, 1, 0)),
        ])
        .doc(
            "Perform bitwise operations between strings",
            "2.6.0",
            Group::Bitmap,
            "O(N)",
        )
        .run(bits::bitop),
    cmd("bitfield", -2)
        .flags(WRITE | DENYOOM)
        .acl(acl::BITMAP)
        .keys(&[
            key(RW | UPDATE | ACCESS | VARIABLE_FLAGS, index(1), range(0, 1, 0))
                .note("This command allows both access and modification of the key"),
        ])
        .getkeys(Getkeys::Bitfield)
        .doc(
            "Perform arbitrary bitfield integer operations on strings",
            "3.2.0",
            Group::Bitmap,
            "O(1) for each subcommand specified",
        )
        .run(bits::bitfield),
    cmd("bitfield_ro", -2)
        .flags(READONLY | FAST)
        .acl(acl::BITMAP)
        .keys(&[key(RO | ACCESS, index(1), range(0, 1, 0))])
        .doc(
            "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
            "6.0.0",
            Group::Bitmap,
            "O(1) for each subcommand specified",
        )
        .run(bits::bitfield_ro),
];
