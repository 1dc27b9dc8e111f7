//! The command table's ACL command, a container of its thirteen subcommands (Redis's
//! server group).

use super::*;

pub(super) static COMMANDS: &[Spec] = &[
    cmd("acl", -2)
        .doc(
            "A container for Access List Control commands ",
            "6.0.0",
            Group::Server,
            "Depends on subcommand.",
        )
        .subs(&[
            cmd("acl|cat", -2)
                .flags(NOSCRIPT | LOADING | STALE)
                .doc(
                    "List the ACL categories or the commands inside a category",
                    "6.0.0",
                    Group::Server,
                    "O(1) since the categories and commands are a fixed set.",
                ),
            cmd("acl|deluser", -3)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .doc(
                    "Remove the specified ACL users and the associated rules",
                    "6.0.0",
                    Group::Server,
                    "O(1) amortized time considering the typical user.",
                ),
            cmd("acl|dryrun", -4)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .doc(
                    "Returns whether the user can execute the given command without executing the command.",
                    "7.0.0",
                    Group::Server,
                    "O(1).",
                ),
            cmd("acl|genpass", -2)
                .flags(NOSCRIPT | LOADING | STALE)
                .doc(
                    "Generate a pseudorandom secure password to use for ACL users",
                    "6.0.0",
                    Group::Server,
                    "O(1)",
                ),
            cmd("acl|getuser", 3)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .doc(
                    "Get the rules for a specific ACL user",
                    "6.0.0",
                    Group::Server,
                    "O(N). Where N is the number of password, command and pattern rules that the user has.",
                ),
            cmd("acl|help", 2)
                .flags(LOADING | STALE)
                .doc(
                    "Show helpful text about the different subcommands",
                    "6.0.0",
                    Group::Server,
                    "O(1)",
                ),
            cmd("acl|list", 2)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .doc(
                    "List the current ACL rules in ACL config file format",
                    "6.0.0",
                    Group::Server,
                    "O(N). Where N is the number of configured users.",
                ),
            cmd("acl|load", 2)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .doc(
                    "Reload the ACLs from the configured ACL file",
                    "6.0.0",
                    Group::Server,
                    "O(N). Where N is the number of configured users.",
                ),
            cmd("acl|log", -2)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .doc(
                    "List latest events denied because of ACLs in place",
                    "6.0.0",
                    Group::Server,
                    "O(N) with N being the number of entries shown.",
                ),
            cmd("acl|save", 2)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .doc(
                    "Save the current ACL rules in the configured ACL file",
                    "6.0.0",
                    Group::Server,
                    "O(N). Where N is the number of configured users.",
                ),
            cmd("acl|setuser", -3)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .doc(
                    "Modify or create the rules for a specific ACL user",
                    "6.0.0",
                    Group::Server,
                    "O(N). Where N is the number of rules provided.",
                ),
            cmd("acl|users", 2)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .doc(
                    "List the username of all the configured ACL rules",
                    "6.0.0",
                    Group::Server,
                    "O(N). Where N is the number of configured users.",
                ),
            cmd("acl|whoami", 2)
                .flags(NOSCRIPT | LOADING | STALE)
                .doc(
                    "Return the name of the user associated to the current connection",
                    "6.0.0",
                    Group::Server,
                    "O(1)",
                ),
        ])
        .run(crate::cmd::acl::acl),
];
