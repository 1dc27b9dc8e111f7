//! A node run by the coordinator (`--coordinator`): it registers with the leader, then
//! watches its assignment — its role, its child instance's epoch, the channels it receives
//! from — and applies each one with the same channel machinery `--peer` flags drive.

use super::Role;
use super::channel::{Desired, jitter};
use crate::config::Peer;
use crate::server::Node;
use gdc_proto::coordinator::{Assignment, RegisterRequest, WatchRequest};
use gdc_proto::leader::Coordinators;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tracing::{info, warn};

const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Register and follow the coordinator for as long as the node runs.
pub async fn follow(node: Arc<Node>) {
    let config = &node.shared().config;
    let token = config.cluster_token.clone().unwrap_or_default();
    let coordinators = match Coordinators::new(config.coordinators.clone(), &token) {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "cannot reach the coordinator");
            return;
        }
    };
    let mut backoff = BACKOFF_MIN;
    loop {
        match registered_and_watching(&node, &coordinators, &mut backoff).await {
            Ok(()) => info!("the coordinator ended the assignment stream; calling again"),
            Err(e) => warn!(error = %e, "coordinator"),
        }
        tokio::time::sleep(backoff + jitter(backoff / 2)).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn registered_and_watching(
    node: &Arc<Node>,
    coordinators: &Coordinators,
    backoff: &mut Duration,
) -> Result<(), String> {
    let config = &node.shared().config;
    let (addr, sync_addr) = config.announced();
    let request = RegisterRequest {
        instance: config.instance.clone().unwrap_or_default(),
        region: config.region.clone(),
        addr: addr.clone(),
        sync_addr,
        server_id: node.lock_store().server().0,
    };
    let first = coordinators
        .at_leader(Some(REGISTER_TIMEOUT), |mut c| {
            let request = request.clone();
            async move { c.register(request).await }
        })
        .await
        .map_err(|e| format!("cannot register: {e}"))?;
    apply(node, &first);
    let mut stream = coordinators
        .at_leader(None, |mut c| {
            let addr = addr.clone();
            async move { c.watch(WatchRequest { addr }).await }
        })
        .await
        .map_err(|e| format!("cannot watch the assignment: {e}"))?;
    *backoff = BACKOFF_MIN;
    while let Some(a) = stream
        .message()
        .await
        .map_err(|s| format!("assignment stream: {}", s.message()))?
    {
        apply(node, &a);
    }
    Ok(())
}

/// Take on an assignment: the role first (a secondary refuses writes from now on), then
/// the channels, opened, re-pointed, paused, resumed or closed to match.
fn apply(node: &Arc<Node>, a: &Assignment) {
    let sync = &node.shared().sync;
    let role = if a.role == "secondary" {
        Role::Secondary
    } else {
        Role::Primary
    };
    if sync.role() != role || sync.epoch.load(Ordering::Relaxed) != a.epoch {
        info!(role = %role, epoch = a.epoch, assigned = %a.role, "assignment");
    }
    sync.set_role(role);
    sync.epoch.store(a.epoch, Ordering::Relaxed);
    let wanted: BTreeMap<&str, (&str, bool)> = a
        .upstreams
        .iter()
        .map(|u| (u.region.as_str(), (u.sync_addr.as_str(), u.paused)))
        .collect();
    // What is open now, and where it points.
    let open: BTreeMap<String, String> = {
        let controls = sync.controls();
        let inbound = sync.inbound();
        controls
            .keys()
            .map(|r| {
                (
                    r.clone(),
                    inbound.get(r).map(|c| c.addr.clone()).unwrap_or_default(),
                )
            })
            .collect()
    };
    for (region, addr) in &open {
        let keep = wanted.get(region.as_str()).is_some_and(|(a, _)| a == addr);
        if !keep {
            let _ = node.steer_channel(region, Desired::Closed);
        }
    }
    for (region, (addr, paused)) in wanted {
        if open.get(region).is_none_or(|a| a != addr) {
            let peer = Peer {
                region: region.to_string(),
                addr: addr.to_string(),
            };
            if let Err(e) = node.open_channel(peer) {
                warn!(error = %e, "cannot open an assigned channel");
                continue;
            }
        }
        let want = if paused {
            Desired::Paused
        } else {
            Desired::Running
        };
        let now = sync.controls().get(region).map(|c| *c.borrow());
        if now != Some(want) {
            let _ = node.steer_channel(region, want);
        }
    }
}
