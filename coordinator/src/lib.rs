//! gdc-coordinator: the channel manager. A small openraft cluster (1, 3 or 5 members) whose
//! replicated state machine is the [`topology::Topology`]: distributed instances, their
//! regions, and the channels between regions. Operators change it through the admin API
//! (`proto/coordinator.proto`, the `gdcctl` tool); every change is committed through Raft, so
//! it survives the loss of a minority of coordinators.
//!
//! The server, from the bottom up: [`topology`] (the data and its changes), [`store`] (the
//! Raft log and state machine in sled), [`network`] (Raft RPC to other coordinators over
//! tonic), [`health`] (heartbeats, failover, and whether this coordinator still leads),
//! [`service`] (the Raft RPC server and the admin API), [`sentinel`] (the RESP discovery
//! port), [`server`] (a coordinator process). [`client`] is the admin API's client, which
//! follows the leader.
//!
//! The operator's tools, which use the library and which nothing server-side uses, are
//! under [`tools`]: `gdcctl status`, `verify`, `failover` (switchover), `child attach`,
//! `demo`, and the blocking Redis client they ask nodes with.

use std::io::Cursor;

pub mod client;
pub mod health;
pub mod network;
pub mod sentinel;
pub mod server;
pub mod service;
pub mod store;
pub mod tools;
pub mod topology;

/// A coordinator's id (`--id`).
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// openraft's types for the coordinator: the log holds topology changes, applying one
    /// gives its outcome, and members are known by their address.
    pub TypeConfig:
        D = topology::Proposal,
        R = topology::Outcome,
        NodeId = NodeId,
        Node = openraft::BasicNode,
);

/// The coordinator's Raft.
pub type Raft = openraft::Raft<TypeConfig>;

pub use gdc_proto::leader::LEADER_METADATA;

/// Wall-clock time in Unix ms (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
