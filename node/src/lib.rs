//! gdc-node: a region's child instance. A Redis-compatible RESP server whose every write is a
//! gdc-crdt effect, logged in a durable binlog before it is acknowledged.

pub mod alloc;
pub mod binlog;
pub mod cmd;
pub mod config;
pub mod glob;
pub mod metrics;
pub mod pubsub;
pub mod reply;
pub mod resp;
pub mod scan;
pub mod server;
pub mod snapshot;
pub mod store;
pub mod sync;
pub mod testing;

pub use config::Config;
pub use server::Node;

/// The Redis version gdc answers as (client libraries gate features on it).
pub const REDIS_VERSION: &str = "7.2.0";
