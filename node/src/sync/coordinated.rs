//! A node run by the coordinator (`--coordinator`): it registers with the leader, then
//! watches its assignment — its role, its child instance's epoch, the channels it receives
//! from — and applies each one with the same channel machinery `--peer` flags drive.
//!
//! Beside that it heartbeats to the leader. A primary takes writes only while it holds a
//! lease: a heartbeat answered within the failover timeout. Past it the leader may already
//! have promoted a secondary, so the node stops taking writes until it hears again.

use super::Role;
use super::channel::{Desired, jitter};
use crate::config::Peer;
use crate::server::Node;
use gdc_proto::coordinator::HeartbeatRequest;
use gdc_proto::coordinator::{Assignment, RegisterRequest, WatchRequest};
use gdc_proto::leader::Coordinators;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tracing::{info, warn};

const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);
/// An assignment stream silent this long is given up and called again.
const WATCH_SILENCE: Duration = Duration::from_secs(4);
/// How often a node heartbeats...
const HEARTBEAT_EVERY: Duration = Duration::from_millis(200);
/// ...and how long each may take.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(500);

/// What decides whether this node takes writes: its assignment and its lease.
#[derive(Debug, Default)]
struct Standing {
    /// The last assignment made this node its region's primary.
    assigned_primary: AtomicBool,
    /// Held while the role is worked out and set: the heartbeat and a new assignment both
    /// settle it, and one must not undo the other with what it read before.
    settling: std::sync::Mutex<()>,
}

impl Standing {
    /// Set the node's role from its assignment and lease (logging a change).
    fn settle(&self, node: &Node) {
        let _one_at_a_time = self.settling.lock().unwrap_or_else(|p| p.into_inner());
        let lease_until = node.shared().sync.lease_until_ms.load(Ordering::Relaxed);
        let primary =
            self.assigned_primary.load(Ordering::Relaxed) && crate::store::now_ms() < lease_until;
        let role = if primary {
            Role::Primary
        } else {
            Role::Secondary
        };
        let sync = &node.shared().sync;
        if sync.role() != role {
            if role == Role::Secondary && self.assigned_primary.load(Ordering::Relaxed) {
                warn!("no answer from the coordinator within the lease: refusing writes");
            }
            sync.set_role(role);
        }
    }
}
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Which coordinators run this node, and for which instance: from `--coordinator` and
/// `--instance`, or saved in the data directory by GDC.ATTACH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub coordinators: Vec<String>,
    pub instance: String,
    /// The node's region when it was attached: a restart must not move it to another.
    pub region: String,
}

/// Metadata key of the attachment GDC.ATTACH made (absent for a node run from its flags).
const ATTACHMENT: &str = "attachment";

impl Attachment {
    /// Why a node with `config` cannot be run by coordinators it was not started with, if
    /// it cannot.
    pub fn unfit(config: &crate::config::Config) -> Option<&'static str> {
        if config.sync_port.is_none() {
            Some("this node serves no sync port, so no region could receive from it")
        } else if !config.peers.is_empty() {
            Some("this node receives from --peer channels (the coordinators give channels)")
        } else {
            None
        }
    }

    /// The attachment GDC.ATTACH saved in this data directory, if any.
    pub fn saved(meta: &sled::Db) -> Result<Option<Attachment>, String> {
        let Some(raw) = meta.get(ATTACHMENT).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&raw);
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                .map(str::to_string)
                .ok_or_else(|| format!("the saved attachment has no {name}"))
        };
        Ok(Some(Attachment {
            instance: field("instance")?,
            region: field("region")?,
            coordinators: field("coordinators")?
                .split(',')
                .map(str::to_string)
                .collect(),
        }))
    }

    /// Keep this attachment in the data directory (flushed), for the node's restarts.
    fn save(&self, meta: &sled::Db) -> Result<(), String> {
        let text = format!(
            "instance={}\nregion={}\ncoordinators={}\n",
            self.instance,
            self.region,
            self.coordinators.join(",")
        );
        meta.insert(ATTACHMENT, text.as_bytes())
            .and_then(|_| meta.flush())
            .map(|_| ())
            .map_err(|e| format!("cannot save the attachment: {e}"))
    }
}

impl fmt::Display for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "instance '{}' (region '{}', coordinators {})",
            self.instance,
            self.region,
            self.coordinators.join(",")
        )
    }
}

/// GDC.ATTACH: this node, so far on its own, joins `instance` run by `coordinators`, with
/// its data. It is fenced (refuses writes) from now until its assignment makes it a
/// primary, saves the attachment so that a restart with its old flags stays attached, and
/// starts following the coordinator.
pub fn attach(
    node: &crate::server::Shared,
    token: &[u8],
    attachment: Attachment,
) -> Result<(), String> {
    let config = &node.config;
    let own = config
        .cluster_token
        .as_deref()
        .unwrap_or_default()
        .as_bytes();
    if own.is_empty() || !gdc_proto::auth::same_secret(token, own) {
        return Err("the cluster token does not match this node's --cluster-token".into());
    }
    if let Some(a) = node.sync.attachment.borrow().as_ref() {
        // The same request again (its answer was lost) is done already.
        if *a == attachment && !node.sync.removed.load(Ordering::Relaxed) {
            return Ok(());
        }
        return Err(format!(
            "this node is already run by the coordinators of {a}"
        ));
    }
    if let Some(why) = Attachment::unfit(config) {
        return Err(format!(
            "{why}: restart it with --sync-port and --cluster-token and without --peer (or with --coordinator and --instance)"
        ));
    }
    if attachment.coordinators.iter().any(|c| {
        c.rsplit_once(':')
            .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
    }) {
        return Err("coordinators must be HOST:PORT".into());
    }
    attachment.save(&node.meta)?;
    node.sync.set_role(super::Role::Secondary);
    node.sync.set_place(super::Place::Follows(None));
    info!(%attachment, "attached by GDC.ATTACH");
    node.sync.attachment.send_replace(Some(attachment));
    Ok(())
}

/// Register and follow the coordinator for as long as the node runs.
pub async fn follow(node: Arc<Node>, attachment: Attachment) {
    let config = &node.shared().config;
    let token = config.cluster_token.clone().unwrap_or_default();
    // Over TLS when asked, presenting this node's certificate.
    let tls = match config.tls() {
        Ok(t) => t
            .and_then(|t| t.client())
            .filter(|_| config.coordinator_tls),
        Err(e) => {
            warn!(error = %e, "cannot read the TLS files");
            return;
        }
    };
    let coordinators = match Coordinators::new(attachment.coordinators.clone(), &token) {
        Ok(c) => c.with_tls(tls),
        Err(e) => {
            warn!(error = %e, "cannot reach the coordinator");
            return;
        }
    };
    let standing = Arc::new(Standing::default());
    let heartbeats = tokio::spawn(heartbeat(
        Arc::clone(&node),
        coordinators.clone(),
        Arc::clone(&standing),
    ));
    let mut backoff = BACKOFF_MIN;
    loop {
        let watching = registered_and_watching(
            &node,
            &attachment.instance,
            &coordinators,
            &standing,
            &mut backoff,
        );
        match watching.await {
            Ok(Watched::Ended) => {
                info!("the coordinator ended the assignment stream; calling again")
            }
            Ok(Watched::Removed) => {
                // Registering again would put it back: an operator removed it for good.
                heartbeats.abort();
                node.shared().sync.removed.store(true, Ordering::Relaxed);
                warn!(
                    "removed from the topology: no longer following the coordinators (restart the node to register it again)"
                );
                return;
            }
            Err(e) => warn!(error = %e, "coordinator"),
        }
        tokio::time::sleep(backoff + jitter(backoff / 2)).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Heartbeat to the leader for as long as the node runs, renewing the lease.
async fn heartbeat(node: Arc<Node>, coordinators: Coordinators, standing: Arc<Standing>) {
    let (addr, _) = node.shared().config.announced();
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let request = HeartbeatRequest {
            addr: addr.clone(),
            epoch: node.shared().sync.epoch.load(Ordering::Relaxed),
            applied_ops: node.lock_store().applied().iter().map(|(_, op)| op.0).sum(),
        };
        let sent_ms = crate::store::now_ms();
        // A redirect or two at most: a heartbeat that cannot be placed now is simply late.
        let reply = coordinators
            .at_leader_within(3, Some(HEARTBEAT_TIMEOUT), |mut c| {
                let request = request.clone();
                async move { c.heartbeat(request).await }
            })
            .await;
        if let Ok(r) = reply {
            // Counted from when it was sent: the leader heard it no earlier.
            node.shared()
                .sync
                .lease_until_ms
                .store(sent_ms + r.lease_ms, Ordering::Relaxed);
        }
        standing.settle(&node);
    }
}

/// How following an assignment stream ended.
enum Watched {
    /// The stream ended: call again.
    Ended,
    /// The node is no longer in the topology.
    Removed,
}

async fn registered_and_watching(
    node: &Arc<Node>,
    instance: &str,
    coordinators: &Coordinators,
    standing: &Standing,
    backoff: &mut Duration,
) -> Result<Watched, String> {
    let config = &node.shared().config;
    let (addr, sync_addr) = config.announced();
    let request = RegisterRequest {
        instance: instance.to_string(),
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
    if apply(node, standing, &first) {
        return Ok(Watched::Removed);
    }
    let mut stream = coordinators
        .at_leader(None, |mut c| {
            let addr = addr.clone();
            async move { c.watch(WatchRequest { addr }).await }
        })
        .await
        .map_err(|e| format!("cannot watch the assignment: {e}"))?;
    *backoff = BACKOFF_MIN;
    // The leader sends the assignment at least every second: silence means the connection
    // or the leader is gone.
    while let Some(a) = tokio::time::timeout(WATCH_SILENCE, stream.message())
        .await
        .map_err(|_| format!("no word from the coordinator for {WATCH_SILENCE:?}"))?
        .map_err(|s| format!("assignment stream: {}", s.message()))?
    {
        if apply(node, standing, &a) {
            return Ok(Watched::Removed);
        }
    }
    Ok(Watched::Ended)
}

/// Take on an assignment: the role first (a secondary refuses writes from now on; a
/// primary takes them while its lease holds), then the channels, opened, re-pointed,
/// paused, resumed or closed to match. True if the assignment says the node was removed
/// from the topology.
fn apply(node: &Arc<Node>, standing: &Standing, a: &Assignment) -> bool {
    let sync = &node.shared().sync;
    // A leader that has not yet applied what an earlier one told this node may send an
    // older assignment: it would undo a fence.
    if a.index < sync.assignment_index.load(Ordering::Relaxed) {
        return false;
    }
    if sync.epoch.load(Ordering::Relaxed) != a.epoch
        || standing.assigned_primary.load(Ordering::Relaxed) != (a.role == "primary")
    {
        info!(role = %a.role, epoch = a.epoch, "assignment");
    }
    standing
        .assigned_primary
        .store(a.role == "primary", Ordering::Relaxed);
    sync.epoch.store(a.epoch, Ordering::Relaxed);
    standing.settle(node);
    // Only now: whoever reads this index sees the role it brought.
    sync.assignment_index.store(a.index, Ordering::Relaxed);
    let own_region = &node.shared().config.region;
    let wanted: BTreeMap<String, (&str, bool)> = a
        .upstreams
        .iter()
        .map(|u| {
            (
                channel_name(own_region, &u.region, &u.sync_addr),
                (u.sync_addr.as_str(), u.paused),
            )
        })
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
        if open.get(&region).is_none_or(|a| a != addr) {
            let peer = Peer {
                region: region.clone(),
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
        let now = sync.controls().get(&region).map(|c| *c.borrow());
        if now != Some(want) {
            let _ = node.steer_channel(&region, want);
        }
    }
    let own_nodes = a.upstreams.iter().filter(|u| u.region == *own_region);
    sync.set_place(match a.role.as_str() {
        "primary" | "fenced" => super::Place::Primary {
            secondaries: own_nodes.map(|u| (u.addr.clone(), u.server_id)).collect(),
        },
        _ => super::Place::Follows(own_nodes.map(|u| u.addr.clone()).next()),
    });
    // The nodes of this region that read from this one are the ones it receives from.
    let own_nodes: std::collections::BTreeSet<u32> = a
        .upstreams
        .iter()
        .filter(|u| u.region == *own_region)
        .map(|u| u.server_id)
        .collect();
    let primary = a.role == "primary";
    let forgotten = sync.forget_acks(own_region, &own_nodes, primary, &node.shared().meta);
    if !forgotten.is_empty() {
        info!(
            ?forgotten,
            "acknowledgements of nodes that no longer read from this one forgotten"
        );
    }
    a.role == "removed"
}

/// What an assigned channel is called here: another region's name (it has one primary to
/// receive from), or, within this node's own region, the region and the sync address of
/// the node (a secondary's primary, or a primary's secondary).
fn channel_name(own_region: &str, region: &str, sync_addr: &str) -> String {
    if region == own_region {
        format!("{region}@{sync_addr}")
    } else {
        region.to_string()
    }
}
