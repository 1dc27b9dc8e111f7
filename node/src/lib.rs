//! gdc-node: a region's child instance. A Redis-compatible RESP server whose every write is a
//! gdc-crdt effect, logged in a durable binlog before it is acknowledged.
//!
//! # The path of a write
//!
//! 1. [`server`] accepts the connection; [`session`] reads whole requests ([`resp`]) and runs
//!    each batch of pipelined commands under the store lock.
//! 2. [`cmd`] looks the command up in its table (name, arity, flags: a secondary refuses a
//!    write, `maxmemory` a write that grows) and runs its handler, which builds the write's
//!    effect from the key's state ([`store::Store::write`]).
//! 3. [`store`] appends the effect to the [`binlog`] and applies it to the keyspace (a
//!    gdc-crdt `Keyspace`); the session commits the binlog per `appendfsync`, and only then
//!    replies.
//! 4. [`sync`]: the sync port's sender ([`sync::sender`]) follows the binlog's tail and ships
//!    the new frames to every channel reading from this node; in the other regions, the
//!    receiver ([`sync::channel`]) applies them through the same store, merge rules and all.
//!
//! # The rest
//!
//! [`config`] (settings from flags and the TOML file), [`reply`] (RESP2/RESP3 encoding),
//! [`pubsub`] (local publish/subscribe), [`snapshot`] (snapshots and the binlog they let go),
//! [`scan`] and [`glob`] (SCAN cursors, patterns), [`metrics`] (`/metrics`), [`alloc`]
//! (counted heap bytes), [`sync::coordinated`] (a node run by the coordinators: its role and
//! channels), [`testing`] (the Jepsen-style suite's hooks).

pub mod alloc;
pub mod clients;
pub mod cmd;
pub mod config;
pub mod engine;
pub mod glob;
pub mod metrics;
pub mod node;
pub mod pubsub;
pub mod reply;
pub mod resp;
pub mod scan;
pub mod server;
mod session;
pub mod shared;
pub mod sync;
pub mod tasks;
pub mod testing;

pub use config::Config;
pub use node::{Listeners, Node};

/// The Redis version gdc answers as (client libraries gate features on it).
pub const REDIS_VERSION: &str = "7.2.0";
