//! The command table's server commands, and gdc's own.

use super::keyspec::*;
use super::*;
use crate::cmd::{command, gdc, info, introspection, keys, memory, monitoring, server};

pub(super) static COMMANDS: &[Spec] = &[
    cmd("dbsize", 1)
        .flags(READONLY | FAST)
        .acl(acl::KEYSPACE)
        .tips(&["request_policy:all_shards", "response_policy:agg_sum"])
        .doc(
            "Return the number of keys in the selected database",
            "1.0.0",
            Group::Server,
            "O(1)",
        )
        .run(server::dbsize),
    cmd("flushdb", -1)
        .flags(WRITE)
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            "Remove all keys from the current database",
            "1.0.0",
            Group::Server,
            "O(N) where N is the number of keys in the selected database",
        )
        .run(server::flushdb),
    cmd("flushall", -1)
        .flags(WRITE)
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            "Remove all keys from all databases",
            "1.0.0",
            Group::Server,
            "O(N) where N is the total number of keys in all databases",
        )
        .run(server::flushall),
    cmd("time", 1)
        .flags(LOADING | STALE | FAST)
        .tips(&["nondeterministic_output"])
        .doc(
            "Return the current server time",
            "2.6.0",
            Group::Server,
            "O(1)",
        )
        .run(server::time),
    cmd("command", -1)
        .flags(LOADING | STALE)
        .acl(acl::CONNECTION)
        .tips(&["nondeterministic_output_order"])
        .doc(
            "Get array of Redis command details",
            "2.8.13",
            Group::Server,
            "O(N) where N is the total number of Redis commands",
        )
        .subs(&[
            cmd("command|count", 2)
                .flags(LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Get total number of Redis commands",
                    "2.8.13",
                    Group::Server,
                    "O(1)",
                ),
            cmd("command|docs", -2)
                .flags(LOADING | STALE)
                .acl(acl::CONNECTION)
                .tips(&["nondeterministic_output_order"])
                .doc(
                    "Get array of specific Redis command documentation",
                    "7.0.0",
                    Group::Server,
                    "O(N) where N is the number of commands to look up",
                ),
            cmd("command|getkeys", -4)
                .flags(LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Extract keys given a full Redis command",
                    "2.8.13",
                    Group::Server,
                    "O(N) where N is the number of arguments to the command",
                ),
            cmd("command|getkeysandflags", -4)
                .flags(LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Extract keys and access flags given a full Redis command",
                    "7.0.0",
                    Group::Server,
                    "O(N) where N is the number of arguments to the command",
                ),
            cmd("command|help", 2)
                .flags(LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Show helpful text about the different subcommands",
                    "5.0.0",
                    Group::Server,
                    "O(1)",
                ),
            cmd("command|info", -2)
                .flags(LOADING | STALE)
                .acl(acl::CONNECTION)
                .tips(&["nondeterministic_output_order"])
                .doc(
                    "Get array of specific Redis command details, or all when no argument is given.",
                    "2.8.13",
                    Group::Server,
                    "O(N) where N is the number of commands to look up",
                ),
            cmd("command|list", -2)
                .flags(LOADING | STALE)
                .acl(acl::CONNECTION)
                .tips(&["nondeterministic_output_order"])
                .doc(
                    "Get an array of Redis command names",
                    "7.0.0",
                    Group::Server,
                    "O(N) where N is the total number of Redis commands",
                ),
        ])
        .run(command::command),
    cmd("config", -2)
        .doc(
            "A container for server configuration commands",
            "2.0.0",
            Group::Server,
            "Depends on subcommand.",
        )
        .subs(&[
            cmd("config|get", -3)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .doc(
                    "Get the values of configuration parameters",
                    "2.0.0",
                    Group::Server,
                    "O(N) when N is the number of configuration parameters provided",
                ),
            cmd("config|set", -4)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
                .doc(
                    "Set configuration parameters to the given values",
                    "2.0.0",
                    Group::Server,
                    "O(N) when N is the number of configuration parameters provided",
                ),
            cmd("config|rewrite", 2)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .doc(
                    "Rewrite the configuration file with the in memory configuration",
                    "2.8.0",
                    Group::Server,
                    "O(1)",
                ),
            cmd("config|help", 2)
                .flags(LOADING | STALE)
                .doc(
                    "Show helpful text about the different subcommands",
                    "5.0.0",
                    Group::Server,
                    "O(1)",
                ),
            cmd("config|resetstat", 2)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .doc(
                    "Reset the stats returned by INFO",
                    "2.0.0",
                    Group::Server,
                    "O(1)",
                ),
        ])
        .run(server::config),
    cmd("info", -1)
        .flags(LOADING | STALE)
        .acl(acl::DANGEROUS)
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"])
        .doc(
            "Get information and statistics about the server",
            "1.0.0",
            Group::Server,
            "O(1)",
        )
        .run(info::info),
    cmd("memory", -2)
        .doc(
            "A container for memory diagnostics commands",
            "4.0.0",
            Group::Server,
            "Depends on subcommand.",
        )
        .subs(&[
            cmd("memory|usage", -3)
                .flags(READONLY)
                .keys(&[key(RO, index(2), range(0, 1, 0))])
                .doc(
                    "Estimate the memory usage of a key",
                    "4.0.0",
                    Group::Server,
                    "O(N) where N is the number of samples.",
                ),
            cmd("memory|stats", 2)
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_shards",
                    "response_policy:special",
                ])
                .doc("Show memory usage details", "4.0.0", Group::Server, "O(1)"),
            cmd("memory|doctor", 2)
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_shards",
                    "response_policy:special",
                ])
                .doc(
                    "Outputs memory problems report",
                    "4.0.0",
                    Group::Server,
                    "O(1)",
                ),
            cmd("memory|malloc-stats", 2)
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_shards",
                    "response_policy:special",
                ])
                .doc(
                    "Show allocator internal stats",
                    "4.0.0",
                    Group::Server,
                    "Depends on how much memory is allocated, could be slow",
                ),
            cmd("memory|purge", 2)
                .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
                .doc(
                    "Ask the allocator to release memory",
                    "4.0.0",
                    Group::Server,
                    "Depends on how much memory is allocated, could be slow",
                ),
            cmd("memory|help", 2)
                .flags(LOADING | STALE)
                .doc(
                    "Show helpful text about the different subcommands",
                    "4.0.0",
                    Group::Server,
                    "O(1)",
                ),
        ])
        .run(memory::memory),
    cmd("wait", 3)
        .flags(NOSCRIPT)
        .acl(acl::CONNECTION)
        .tips(&["request_policy:all_shards", "response_policy:agg_min"])
        .doc(
            "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
            "3.0.0",
            Group::Generic,
            "O(1)",
        )
        .run(server::wait),
    cmd("slowlog", -2)
        .doc(
            "A container for slow log commands",
            "2.2.12",
            Group::Server,
            "Depends on subcommand.",
        )
        .subs(&[
            cmd("slowlog|get", -2)
                .flags(ADMIN | LOADING | STALE)
                .tips(&["request_policy:all_nodes", "nondeterministic_output"])
                .doc(
                    "Get the slow log's entries",
                    "2.2.12",
                    Group::Server,
                    "O(N) where N is the number of entries returned",
                ),
            cmd("slowlog|len", 2)
                .flags(ADMIN | LOADING | STALE)
                .tips(&[
                    "request_policy:all_nodes",
                    "response_policy:agg_sum",
                    "nondeterministic_output",
                ])
                .doc("Get the slow log's length", "2.2.12", Group::Server, "O(1)"),
            cmd("slowlog|reset", 2)
                .flags(ADMIN | LOADING | STALE)
                .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
                .doc(
                    "Clear all entries from the slow log",
                    "2.2.12",
                    Group::Server,
                    "O(N) where N is the number of entries in the slowlog",
                ),
            cmd("slowlog|help", 2)
                .flags(LOADING | STALE)
                .doc(
                    "Show helpful text about the different subcommands",
                    "6.2.0",
                    Group::Server,
                    "O(1)",
                ),
        ])
        .run(monitoring::slowlog),
    cmd("latency", -2)
        .doc(
            "A container for latency diagnostics commands",
            "2.8.13",
            Group::Server,
            "Depends on subcommand.",
        )
        .subs(&[
            cmd("latency|latest", 2)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_nodes",
                    "response_policy:special",
                ])
                .doc(
                    "Return the latest latency samples for all events.",
                    "2.8.13",
                    Group::Server,
                    "O(1)",
                ),
            cmd("latency|history", 3)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_nodes",
                    "response_policy:special",
                ])
                .doc(
                    "Return timestamp-latency samples for the event.",
                    "2.8.13",
                    Group::Server,
                    "O(1)",
                ),
            cmd("latency|reset", -2)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
                .doc(
                    "Reset latency data for one or more events.",
                    "2.8.13",
                    Group::Server,
                    "O(1)",
                ),
            cmd("latency|graph", 3)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_nodes",
                    "response_policy:special",
                ])
                .doc(
                    "Return a latency graph for the event.",
                    "2.8.13",
                    Group::Server,
                    "O(1)",
                ),
            cmd("latency|doctor", 2)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_nodes",
                    "response_policy:special",
                ])
                .doc(
                    "Return a human readable latency analysis report.",
                    "2.8.13",
                    Group::Server,
                    "O(1)",
                ),
            cmd("latency|histogram", -2)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_nodes",
                    "response_policy:special",
                ])
                .doc(
                    "Return the cumulative distribution of latencies of a subset of commands or all.",
                    "7.0.0",
                    Group::Server,
                    "O(N) where N is the number of commands with latency information being retrieved.",
                ),
            cmd("latency|help", 2)
                .flags(LOADING | STALE)
                .doc(
                    "Show helpful text about the different subcommands.",
                    "2.8.13",
                    Group::Server,
                    "O(1)",
                ),
        ])
        .run(monitoring::latency),
    cmd("role", 1)
        .flags(NOSCRIPT | LOADING | STALE | FAST)
        .acl(acl::ADMIN | acl::DANGEROUS)
        .doc(
            "Return the role of the instance in the context of replication",
            "2.8.12",
            Group::Server,
            "O(1)",
        )
        .run(introspection::role),
    cmd("save", 1)
        .flags(ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI)
        .doc(
            "Synchronously save the dataset to disk",
            "1.0.0",
            Group::Server,
            "O(N) where N is the total number of keys in all databases",
        )
        .run(server::save),
    cmd("bgsave", -1)
        .flags(ADMIN | NOSCRIPT | NO_ASYNC_LOADING)
        .doc(
            "Asynchronously save the dataset to disk",
            "1.0.0",
            Group::Server,
            "O(1)",
        )
        .run(server::bgsave),
    cmd("lastsave", 1)
        .flags(LOADING | STALE | FAST)
        .acl(acl::ADMIN | acl::DANGEROUS)
        .tips(&["nondeterministic_output"])
        .doc(
            "Get the UNIX time stamp of the last successful save to disk",
            "1.0.0",
            Group::Server,
            "O(1)",
        )
        .run(server::lastsave),
    cmd("shutdown", -1)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY)
        .doc(
            "Synchronously save the dataset to disk and then shut down the server",
            "1.0.0",
            Group::Server,
            "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        )
        .run(server::shutdown),
    cmd("monitor", 1)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE)
        .doc(
            "Listen for all requests received by the server in real time",
            "1.0.0",
            Group::Server,
            "",
        )
        .run(monitoring::monitor),
    cmd("swapdb", 3)
        .flags(WRITE | FAST)
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .doc(
            "Swaps two Redis databases",
            "4.0.0",
            Group::Server,
            "O(N) where N is the count of clients watching or blocking on keys from both databases.",
        )
        .run(keys::swapdb),
    cmd("replicaof", 3)
        .flags(ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING)
        .doc(
            "Make the server a replica of another instance, or promote it as master.",
            "5.0.0",
            Group::Server,
            "O(1)",
        )
        .run(introspection::replicaof),
    cmd("slaveof", 3)
        .flags(ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING)
        .doc(
            "Make the server a replica of another instance, or promote it as master.",
            "1.0.0",
            Group::Server,
            "O(1)",
        )
        .deprecated("5.0.0", "`REPLICAOF`")
        .run(introspection::replicaof),
    cmd("failover", -1)
        .flags(ADMIN | NOSCRIPT | STALE)
        .doc(
            "Start a coordinated failover between this server and one of its replicas.",
            "6.2.0",
            Group::Server,
            "O(1)",
        )
        .run(introspection::failover),
    cmd("lolwut", -1)
        .flags(READONLY | FAST)
        .doc(
            "Display some computer art and the Redis version",
            "5.0.0",
            Group::Server,
            "",
        )
        .run(server::lolwut),
    cmd("debug", -2)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE)
        .doc(
            "A container for debugging commands",
            "1.0.0",
            Group::Server,
            "Depends on subcommand.",
        )
        .syscmd()
        .run(server::debug),
    // gdc's own: not in Redis, described in its terms ("since" is gdc's version).
    cmd("gdc.digest", -1)
        .flags(READONLY)
        .acl(acl::KEYSPACE)
        .doc(
            "Return the digest of a database, of its 256 buckets, or of one bucket's keys",
            "0.1.0",
            Group::Server,
            "O(N) where N is the number of keys in the database",
        )
        .run(gdc::gdc_digest),
    cmd("gdc.channels", 1)
        .flags(LOADING | STALE)
        .acl(acl::DANGEROUS)
        .tips(&["nondeterministic_output"])
        .doc(
            "Return the node's sync channels, their state and lag",
            "0.1.0",
            Group::Server,
            "O(N) where N is the number of channels",
        )
        .run(introspection::gdc_channels),
    cmd("gdc.status", 1)
        .flags(LOADING | STALE)
        .acl(acl::DANGEROUS)
        .tips(&["nondeterministic_output"])
        .doc(
            "Return the node's region, coordination, role, epoch, applied vector and channels",
            "0.1.0",
            Group::Server,
            "O(N) where N is the number of channels",
        )
        .run(introspection::gdc_status),
    cmd("gdc.info", 1)
        .flags(LOADING | STALE)
        .acl(acl::DANGEROUS)
        .tips(&["nondeterministic_output"])
        .doc(
            "Return the gdc section of INFO",
            "0.1.0",
            Group::Server,
            "O(1)",
        )
        .run(introspection::gdc_info),
    cmd("gdc.debug", -2)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE)
        .doc(
            "Test hooks: write a key without logging it, or show a key's CRDT state",
            "0.1.0",
            Group::Server,
            "O(1)",
        )
        .run(gdc::gdc_debug),
    cmd("gdc.attach", -4)
        .flags(ADMIN | NOSCRIPT | STALE)
        .doc(
            "Attach the node to its region's coordinators",
            "0.1.0",
            Group::Server,
            "O(1)",
        )
        .run(gdc::gdc_attach),
];
