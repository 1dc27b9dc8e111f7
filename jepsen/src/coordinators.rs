//! Blocking calls to the coordinators (a runtime of their own, the leader found and retried
//! a bounded number of times): the topology, and changes to it.

use gdc_proto::coordinator::{ChangeRequest, TopologyRequest};
use gdc_proto::leader::Coordinators;
use std::time::Duration;

/// The cluster token of every test cluster: its coordinators, nodes and gdcctl calls are
/// given it when the cluster starts, and every call made here carries it.
pub const TOKEN: &str = "jepsen-cluster-token";

/// A blocking client of the coordinators at `coordinator` (`host:port,...`): a runtime to
/// run calls on, and
/// the coordinators (calls go to the leader, retried a bounded number of times).
pub(crate) fn coordinator_client(
    coordinator: &str,
) -> Result<(tokio::runtime::Runtime, Coordinators), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let addrs = coordinator.split(',').map(str::to_string).collect();
    Ok((runtime, Coordinators::new(addrs, TOKEN)?))
}

/// The coordinators' topology (docs/coordinator.md, "Topology"), as JSON.
pub fn topology(coordinator: &str) -> Result<serde_json::Value, String> {
    let (runtime, coordinators) = coordinator_client(coordinator)?;
    let reply = runtime.block_on(
        coordinators.at_leader(Some(Duration::from_secs(10)), |mut c| async move {
            c.topology(TopologyRequest {}).await
        }),
    )?;
    serde_json::from_str(&reply.json).map_err(|e| format!("the topology: {e}"))
}

/// Commit topology changes (JSON, as docs/coordinator.md lists them), in order.
pub fn change_all(coordinator: &str, changes: &[String]) -> Result<(), String> {
    let (runtime, coordinators) = coordinator_client(coordinator)?;
    for json in changes {
        let request = gdc_proto::leader::request_id();
        let reply = runtime.block_on(coordinators.at_leader(
            Some(Duration::from_secs(10)),
            |mut c| {
                let json = json.clone();
                async move { c.change(ChangeRequest { json, request }).await }
            },
        ))?;
        if !reply.refused.is_empty() {
            return Err(format!("{json}: {}", reply.refused));
        }
    }
    Ok(())
}
