//! gdc-node: a region's child instance. A Redis-compatible RESP server whose every write is a
//! gdc-crdt effect, logged in a durable binlog before it is acknowledged, and shipped to the
//! other regions by sync channels.
//!
//! # The modules, bottom up
//!
//! Each depends only on those above it in this list; none imports a module below it.
//!
//! - Leaves: [`config`] (every setting, declared once in [`config::settings`]), [`resp`]
//!   (request parsing), [`reply`] (RESP2/RESP3 encoding), [`glob`], [`scan`], [`alloc`]
//!   (counted heap bytes), [`testing`] (the Jepsen-style suite's hooks), [`tasks`] (the
//!   node's tasks, owned and stopped together), [`rdb`] (Redis's serialization of one value,
//!   for DUMP and RESTORE), [`acl`] (Redis 7.0's ACL model: users, rules, the permission
//!   check, ACL LOG and the ACL file; it sees the commands through [`acl::Commands`]).
//! - [`engine`]: the data and what keeps it: the store, the binlog, snapshots and binlog
//!   retention, the metadata records, the readers' acknowledgements. [`engine::Engine`] owns
//!   the store behind its one lock.
//! - [`sync`]: replication. [`sync::Replication`] owns the channels' status
//!   ([`sync::Channels`]) and the node's standing with the coordinators
//!   ([`sync::coordination::Coordination`]), the write gate, and the tasks that receive
//!   ([`sync::channel`]), send ([`sync::sender`]) and follow the coordinators
//!   ([`sync::coordinated`]). [`sync::status::ChannelReport`] is the one report of a channel.
//! - [`clients`] (the connected clients), [`pubsub`] (local publish/subscribe), [`notify`]
//!   (keyspace notifications and client-side caching: the store's observer, told of every
//!   changed key), [`accounts`] (the ACL users and the ACL LOG), and [`shared::Shared`]: what every command may use (settings in force, engine,
//!   replication, clients, pub/sub).
//! - [`cmd`]: the command table ([`cmd`]'s `table.rs`: name, arity, flags, handler) and the
//!   handlers, one file per command family.
//! - [`server`] (the listener), `session` (one client connection), [`metrics`] (`/metrics`).
//! - [`node`]: [`Node::open`] builds the parts, each given the handles it uses;
//!   [`Node::run`] serves and owns every task until shutdown.
//!
//! # The path of a write
//!
//! 1. [`server`] accepts the connection; `session` reads whole requests ([`resp`]) and runs
//!    each batch of pipelined commands under the store lock.
//! 2. [`cmd`] looks the command up in its table (a secondary refuses a write, `maxmemory` a
//!    write that grows) and runs its handler, which builds the write's effect from the key's
//!    state ([`engine::store::Store::write`]).
//! 3. The store appends the effect to the binlog ([`engine::binlog`]) and applies it to the
//!    keyspace (a gdc-crdt `Keyspace`); the session commits the binlog per `appendfsync`,
//!    and only then replies; [`engine::Engine::wrote`] wakes blocked clients and senders.
//! 4. [`sync::sender`] follows the binlog's tail and ships the new frames to every channel
//!    reading from this node; in the other regions, [`sync::channel`] applies them through
//!    the same store ([`engine::Engine::apply_remote_frames`]), merge rules and all.

pub mod accounts;
pub mod acl;
pub mod alloc;
pub mod clients;
pub mod cmd;
mod cnum;
pub mod config;
pub mod engine;
mod fork;
pub mod glob;
pub mod metrics;
pub mod node;
pub mod notify;
pub mod pubsub;
pub mod rdb;
pub mod reply;
pub mod resp;
pub mod scan;
pub mod script;
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
