//! gdc's sync and node admin protocols: the generated tonic/prost code for `proto/*.proto`,
//! and the conversions between its messages and gdc-crdt types (one module per type).

pub mod vv;

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

/// The metadata key that carries the cluster token (`Bearer <token>`).
pub const AUTHORIZATION: &str = "authorization";
