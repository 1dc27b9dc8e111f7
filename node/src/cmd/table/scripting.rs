//! The command table's scripting commands.

use super::keyspec::*;
use super::*;
use crate::cmd::{functions, scripting};

pub(super) static COMMANDS: &[Spec] = &[
    cmd("eval", -3)
        .flags(NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE)
        .acl(acl::SCRIPTING)
        .keys(&[key(RW | ACCESS | UPDATE, index(2), keynum(0, 1, 1))
            .note("We cannot tell how the keys will be used so we assume the worst, RW and UPDATE")])
        .doc(
            "Execute a Lua script server side",
            "2.6.0",
            Group::Scripting,
            "Depends on the script that is executed.",
        )
        .run(scripting::eval),
    cmd("eval_ro", -3)
        .flags(NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | READONLY)
        .acl(acl::SCRIPTING)
        .keys(&[key(RO | ACCESS, index(2), keynum(0, 1, 1))
            .note("We cannot tell how the keys will be used so we assume the worst, RO and ACCESS")])
        .doc(
            "Execute a read-only Lua script server side",
            "7.0.0",
            Group::Scripting,
            "Depends on the script that is executed.",
        )
        .run(scripting::eval_ro),
    cmd("evalsha", -3)
        .flags(NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE)
        .acl(acl::SCRIPTING)
        .keys(&[key(RW | ACCESS | UPDATE, index(2), keynum(0, 1, 1))])
        .doc(
            "Execute a Lua script server side",
            "2.6.0",
            Group::Scripting,
            "Depends on the script that is executed.",
        )
        .run(scripting::evalsha),
    cmd("evalsha_ro", -3)
        .flags(NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | READONLY)
        .acl(acl::SCRIPTING)
        .keys(&[key(RO | ACCESS, index(2), keynum(0, 1, 1))])
        .doc(
            "Execute a read-only Lua script server side",
            "7.0.0",
            Group::Scripting,
            "Depends on the script that is executed.",
        )
        .run(scripting::evalsha_ro),
    cmd("script", -2)
        .doc(
            "A container for Lua scripts management commands",
            "2.6.0",
            Group::Scripting,
            "Depends on subcommand.",
        )
        .subs(&[
            cmd("script|exists", -3)
                .flags(NOSCRIPT)
                .acl(acl::SCRIPTING)
                .tips(&["request_policy:all_shards", "response_policy:agg_logical_and"])
                .doc(
                    "Check existence of scripts in the script cache.",
                    "2.6.0",
                    Group::Scripting,
                    "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
                ),
            cmd("script|flush", -2)
                .flags(NOSCRIPT)
                .acl(acl::SCRIPTING)
                .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
                .doc(
                    "Remove all the scripts from the script cache.",
                    "2.6.0",
                    Group::Scripting,
                    "O(N) with N being the number of scripts in cache",
                ),
            cmd("script|help", 2)
                .flags(LOADING | STALE)
                .acl(acl::SCRIPTING)
                .doc(
                    "Show helpful text about the different subcommands",
                    "5.0.0",
                    Group::Scripting,
                    "O(1)",
                ),
            cmd("script|kill", 2)
                .flags(NOSCRIPT | ALLOW_BUSY)
                .acl(acl::SCRIPTING)
                .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
                .doc(
                    "Kill the script currently in execution.",
                    "2.6.0",
                    Group::Scripting,
                    "O(1)",
                ),
            cmd("script|load", 3)
                .flags(NOSCRIPT | STALE)
                .acl(acl::SCRIPTING)
                .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
                .doc(
                    "Load the specified Lua script into the script cache.",
                    "2.6.0",
                    Group::Scripting,
                    "O(N) with N being the length in bytes of the script body.",
                ),
        ])
        .run(scripting::script),
    cmd("fcall", -3)
        .flags(NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE)
        .acl(acl::SCRIPTING)
        .keys(&[key(RW | ACCESS | UPDATE, index(2), keynum(0, 1, 1))
            .note("We cannot tell how the keys will be used so we assume the worst, RW and UPDATE")])
        .doc(
            "Invoke a function",
            "7.0.0",
            Group::Scripting,
            "Depends on the function that is executed.",
        )
        .run(functions::fcall),
    cmd("fcall_ro", -3)
        .flags(NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | READONLY)
        .acl(acl::SCRIPTING)
        .keys(&[key(RO | ACCESS, index(2), keynum(0, 1, 1))
            .note("We cannot tell how the keys will be used so we assume the worst, RO and ACCESS")])
        .doc(
            "Invoke a read-only function",
            "7.0.0",
            Group::Scripting,
            "Depends on the function that is executed.",
        )
        .run(functions::fcall_ro),
    cmd("function", -2)
        .doc(
            "A container for function commands",
            "7.0.0",
            Group::Scripting,
            "Depends on subcommand.",
        )
        .subs(&[
            cmd("function|delete", 3)
                .flags(NOSCRIPT | WRITE)
                .acl(acl::SCRIPTING)
                .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
                .doc("Delete a function by name", "7.0.0", Group::Scripting, "O(1)"),
            cmd("function|dump", 2)
                .flags(NOSCRIPT)
                .acl(acl::SCRIPTING)
                .doc(
                    "Dump all functions into a serialized binary payload",
                    "7.0.0",
                    Group::Scripting,
                    "O(N) where N is the number of functions",
                ),
            cmd("function|flush", -2)
                .flags(NOSCRIPT | WRITE)
                .acl(acl::SCRIPTING)
                .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
                .doc(
                    "Deleting all functions",
                    "7.0.0",
                    Group::Scripting,
                    "O(N) where N is the number of functions deleted",
                ),
            cmd("function|help", 2)
                .flags(LOADING | STALE)
                .acl(acl::SCRIPTING)
                .doc(
                    "Show helpful text about the different subcommands",
                    "7.0.0",
                    Group::Scripting,
                    "O(1)",
                ),
            cmd("function|kill", 2)
                .flags(NOSCRIPT | ALLOW_BUSY)
                .acl(acl::SCRIPTING)
                .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
                .doc(
                    "Kill the function currently in execution.",
                    "7.0.0",
                    Group::Scripting,
                    "O(1)",
                ),
            cmd("function|list", -2)
                .flags(NOSCRIPT)
                .acl(acl::SCRIPTING)
                .tips(&["nondeterministic_output_order"])
                .doc(
                    "List information about all the functions",
                    "7.0.0",
                    Group::Scripting,
                    "O(N) where N is the number of functions",
                ),
            cmd("function|load", -3)
                .flags(NOSCRIPT | WRITE | DENYOOM)
                .acl(acl::SCRIPTING)
                .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
                .doc(
                    "Create a function with the given arguments (name, code, description)",
                    "7.0.0",
                    Group::Scripting,
                    "O(1) (considering compilation time is redundant)",
                ),
            cmd("function|restore", -3)
                .flags(NOSCRIPT | WRITE | DENYOOM)
                .acl(acl::SCRIPTING)
                .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
                .doc(
                    "Restore all the functions on the given payload",
                    "7.0.0",
                    Group::Scripting,
                    "O(N) where N is the number of functions on the payload",
                ),
            cmd("function|stats", 2)
                .flags(NOSCRIPT | ALLOW_BUSY)
                .acl(acl::SCRIPTING)
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_shards",
                    "response_policy:special",
                ])
                .doc(
                    "Return information about the function currently running (name, description, duration)",
                    "7.0.0",
                    Group::Scripting,
                    "O(1)",
                ),
        ])
        .run(functions::function),
];
