//! The command table's connection, pub/sub and transaction commands.

use super::keyspec::*;
use super::*;
use crate::cmd::{client, connection, pubsub, transaction};

pub(super) static COMMANDS: &[Spec] = &[
    cmd("ping", -1)
        .flags(FAST | SUBSCRIBED)
        .acl(acl::CONNECTION)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc("Ping the server", "1.0.0", Group::Connection, "O(1)")
        .run(connection::ping),
    cmd("echo", 2)
        .flags(LOADING | STALE | FAST)
        .acl(acl::CONNECTION)
        .doc("Echo the given string", "1.0.0", Group::Connection, "O(1)")
        .run(connection::echo),
    cmd("select", 2)
        .flags(LOADING | STALE | FAST)
        .acl(acl::CONNECTION)
        .doc(
            "Change the selected database for the current connection",
            "1.0.0",
            Group::Connection,
            "O(1)",
        )
        .run(connection::select),
    cmd("quit", -1)
        .flags(NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | NOT_QUEUED | SUBSCRIBED)
        .acl(acl::CONNECTION)
        .doc("Close the connection", "1.0.0", Group::Connection, "O(1)")
        .run(connection::quit),
    cmd("hello", -1)
        .flags(NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY)
        .acl(acl::CONNECTION)
        .doc("Handshake with Redis", "6.0.0", Group::Connection, "O(1)")
        .run(connection::hello),
    cmd("auth", -2)
        .flags(NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY)
        .acl(acl::CONNECTION)
        .doc(
            "Authenticate to the server",
            "1.0.0",
            Group::Connection,
            "O(N) where N is the number of passwords defined for the user",
        )
        .run(connection::auth),
    cmd("readonly", 1)
        .flags(LOADING | STALE | FAST)
        .acl(acl::CONNECTION)
        .doc(
            "Enables read queries for a connection to a cluster replica node",
            "3.0.0",
            Group::Cluster,
            "O(1)",
        )
        .run(connection::cluster_only),
    cmd("readwrite", 1)
        .flags(LOADING | STALE | FAST)
        .acl(acl::CONNECTION)
        .doc(
            "Disables read queries for a connection to a cluster replica node",
            "3.0.0",
            Group::Cluster,
            "O(1)",
        )
        .run(connection::cluster_only),
    cmd("client", -2)
        .doc(
            "A container for client connection commands",
            "2.4.0",
            Group::Connection,
            "Depends on subcommand.",
        )
        .subs(&[
            cmd("client|id", 2)
                .flags(NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Returns the client ID for the current connection",
                    "5.0.0",
                    Group::Connection,
                    "O(1)",
                ),
            cmd("client|setname", 3)
                .flags(NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Set the current connection name",
                    "2.6.9",
                    Group::Connection,
                    "O(1)",
                ),
            cmd("client|getname", 2)
                .flags(NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Get the current connection name",
                    "2.6.9",
                    Group::Connection,
                    "O(1)",
                ),
            cmd("client|setinfo", 4)
                .flags(NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
                .doc(
                    "Set client or connection specific info",
                    "7.2.0",
                    Group::Connection,
                    "O(1)",
                ),
            cmd("client|reply", 3)
                .flags(NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Instruct the server whether to reply to commands",
                    "3.2.0",
                    Group::Connection,
                    "O(1)",
                ),
            cmd("client|list", -2)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .tips(&["nondeterministic_output"])
                .doc(
                    "Get the list of client connections",
                    "2.4.0",
                    Group::Connection,
                    "O(N) where N is the number of client connections",
                ),
            cmd("client|info", 2)
                .flags(NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .tips(&["nondeterministic_output"])
                .doc(
                    "Returns information about the current client connection.",
                    "6.2.0",
                    Group::Connection,
                    "O(1)",
                ),
            cmd("client|kill", -3)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Kill the connection of a client",
                    "2.4.0",
                    Group::Connection,
                    "O(N) where N is the number of client connections",
                ),
            cmd("client|no-evict", 3)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Set client eviction mode for the current connection",
                    "7.0.0",
                    Group::Connection,
                    "O(1)",
                ),
            cmd("client|pause", -3)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Stop processing commands from clients for some time",
                    "2.9.50",
                    Group::Connection,
                    "O(1)",
                ),
            cmd("client|unpause", 2)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Resume processing of clients that were paused",
                    "6.2.0",
                    Group::Connection,
                    "O(N) Where N is the number of paused clients",
                ),
            cmd("client|help", 2)
                .flags(LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Show helpful text about the different subcommands",
                    "5.0.0",
                    Group::Connection,
                    "O(1)",
                ),
            cmd("client|tracking", -3)
                .flags(NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Enable or disable server assisted client side caching support",
                    "6.0.0",
                    Group::Connection,
                    "O(1). Some options may introduce additional complexity.",
                ),
            cmd("client|caching", 3)
                .flags(NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Instruct the server about tracking or not keys in the next request",
                    "6.0.0",
                    Group::Connection,
                    "O(1)",
                ),
            cmd("client|getredir", 2)
                .flags(NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Get tracking notifications redirection client ID if any",
                    "6.0.0",
                    Group::Connection,
                    "O(1)",
                ),
            cmd("client|trackinginfo", 2)
                .flags(NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Return information about server assisted client side caching for the current connection",
                    "6.2.0",
                    Group::Connection,
                    "O(1)",
                ),
            cmd("client|unblock", -3)
                .flags(ADMIN | NOSCRIPT | LOADING | STALE)
                .acl(acl::CONNECTION)
                .doc(
                    "Unblock a client blocked in a blocking command from a different connection",
                    "5.0.0",
                    Group::Connection,
                    "O(log N) where N is the number of client connections",
                ),
        ])
        .run(client::client),
    cmd("reset", 1)
        .flags(NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | NOT_QUEUED | SUBSCRIBED)
        .acl(acl::CONNECTION)
        .doc("Reset the connection", "6.2.0", Group::Connection, "O(1)")
        .run(connection::reset),
    cmd("subscribe", -2)
        .flags(PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED)
        .doc(
            "Listen for messages published to the given channels",
            "2.0.0",
            Group::Pubsub,
            "O(N) where N is the number of channels to subscribe to.",
        )
        .run(pubsub::subscribe),
    cmd("psubscribe", -2)
        .flags(PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED)
        .doc(
            "Listen for messages published to channels matching the given patterns",
            "2.0.0",
            Group::Pubsub,
            "O(N) where N is the number of patterns the client is already subscribed to.",
        )
        .run(pubsub::psubscribe),
    cmd("unsubscribe", -1)
        .flags(PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED)
        .doc(
            "Stop listening for messages posted to the given channels",
            "2.0.0",
            Group::Pubsub,
            "O(N) where N is the number of clients already subscribed to a channel.",
        )
        .run(pubsub::unsubscribe),
    cmd("punsubscribe", -1)
        .flags(PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED)
        .doc(
            "Stop listening for messages posted to channels matching the given patterns",
            "2.0.0",
            Group::Pubsub,
            "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).",
        )
        .run(pubsub::punsubscribe),
    cmd("publish", 3)
        .flags(PUBSUB | LOADING | STALE | FAST)
        .doc(
            "Post a message to a channel",
            "2.0.0",
            Group::Pubsub,
            "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
        )
        .run(pubsub::publish),
    cmd("ssubscribe", -2)
        .flags(PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED)
        .keys(&[key(NOT_KEY, index(1), range(-1, 1, 0))])
        .doc(
            "Listen for messages published to the given shard channels",
            "7.0.0",
            Group::Pubsub,
            "O(N) where N is the number of shard channels to subscribe to.",
        )
        .run(pubsub::ssubscribe),
    cmd("sunsubscribe", -1)
        .flags(PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED)
        .keys(&[key(NOT_KEY, index(1), range(-1, 1, 0))])
        .doc(
            "Stop listening for messages posted to the given shard channels",
            "7.0.0",
            Group::Pubsub,
            "O(N) where N is the number of clients already subscribed to a shard channel.",
        )
        .run(pubsub::sunsubscribe),
    cmd("spublish", 3)
        .flags(PUBSUB | LOADING | STALE | FAST)
        .keys(&[key(NOT_KEY, index(1), range(0, 1, 0))])
        .doc(
            "Post a message to a shard channel",
            "7.0.0",
            Group::Pubsub,
            "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        )
        .run(pubsub::spublish),
    cmd("pubsub", -2)
        .doc(
            "A container for Pub/Sub commands",
            "2.8.0",
            Group::Pubsub,
            "Depends on subcommand.",
        )
        .subs(&[
            cmd("pubsub|channels", -2)
                .flags(PUBSUB | LOADING | STALE)
                .doc(
                    "List active channels",
                    "2.8.0",
                    Group::Pubsub,
                    "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
                ),
            cmd("pubsub|numsub", -2)
                .flags(PUBSUB | LOADING | STALE)
                .doc(
                    "Get the count of subscribers for channels",
                    "2.8.0",
                    Group::Pubsub,
                    "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
                ),
            cmd("pubsub|shardchannels", -2)
                .flags(PUBSUB | LOADING | STALE)
                .doc(
                    "List active shard channels",
                    "7.0.0",
                    Group::Pubsub,
                    "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
                ),
            cmd("pubsub|shardnumsub", -2)
                .flags(PUBSUB | LOADING | STALE)
                .doc(
                    "Get the count of subscribers for shard channels",
                    "7.0.0",
                    Group::Pubsub,
                    "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
                ),
            cmd("pubsub|help", 2)
                .flags(LOADING | STALE)
                .doc(
                    "Show helpful text about the different subcommands",
                    "6.2.0",
                    Group::Pubsub,
                    "O(1)",
                ),
            cmd("pubsub|numpat", 2)
                .flags(PUBSUB | LOADING | STALE)
                .doc(
                    "Get the count of unique patterns pattern subscriptions",
                    "2.8.0",
                    Group::Pubsub,
                    "O(1)",
                ),
        ])
        .run(pubsub::pubsub),
    cmd("multi", 1)
        .flags(NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_QUEUED)
        .acl(acl::TRANSACTION)
        .doc(
            "Mark the start of a transaction block",
            "1.2.0",
            Group::Transactions,
            "O(1)",
        )
        .run(transaction::multi),
    cmd("exec", 1)
        .flags(NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | NOT_QUEUED)
        .acl(acl::TRANSACTION)
        .doc(
            "Execute all commands issued after MULTI",
            "1.2.0",
            Group::Transactions,
            "Depends on commands in the transaction",
        )
        .run(transaction::exec),
    cmd("discard", 1)
        .flags(NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_QUEUED)
        .acl(acl::TRANSACTION)
        .doc(
            "Discard all commands issued after MULTI",
            "2.0.0",
            Group::Transactions,
            "O(N), when N is the number of queued commands",
        )
        .run(transaction::discard),
    cmd("watch", -2)
        .flags(NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_QUEUED)
        .acl(acl::TRANSACTION)
        .keys(&[key(RO, index(1), range(-1, 1, 0))])
        .doc(
            "Watch the given keys to determine execution of the MULTI/EXEC block",
            "2.2.0",
            Group::Transactions,
            "O(1) for every key.",
        )
        .run(transaction::watch),
    cmd("unwatch", 1)
        .flags(NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY)
        .acl(acl::TRANSACTION)
        .doc(
            "Forget about all watched keys",
            "2.2.0",
            Group::Transactions,
            "O(1)",
        )
        .run(transaction::unwatch),
];
