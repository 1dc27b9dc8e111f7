//! gdc's gRPC protocols (sync, node admin, Raft between coordinators, the coordinator's
//! API): the generated tonic/prost code for `proto/*.proto`, the cluster token every call
//! carries, TLS for the ports and their clients, and the conversions between messages and
//! gdc-crdt types (one module per type), and the role an assignment gives, typed ([`role`]).

pub mod auth;
pub mod leader;
pub mod role;
pub mod tls;
pub mod vv;

pub use auth::AUTHORIZATION;

/// The generated messages, client and server of `gdc.sync.v1`.
#[allow(missing_debug_implementations, clippy::all)]
pub mod sync {
    tonic::include_proto!("gdc.sync.v1");
}

/// The generated messages, client and server of `gdc.admin.v1`.
#[allow(missing_debug_implementations, clippy::all)]
pub mod admin {
    tonic::include_proto!("gdc.admin.v1");
}

/// The generated messages, client and server of `gdc.raft.v1` (Raft between coordinators).
#[allow(missing_debug_implementations, clippy::all)]
pub mod raft {
    tonic::include_proto!("gdc.raft.v1");
}

/// The generated messages, client and server of `gdc.coordinator.v1`.
#[allow(missing_debug_implementations, clippy::all)]
pub mod coordinator {
    tonic::include_proto!("gdc.coordinator.v1");
}
