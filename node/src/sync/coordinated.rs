//! A node run by the coordinator (`--coordinator`): it registers with the leader, then
//! watches its assignment — its role, its child instance's epoch, the channels it receives
//! from — and applies each one with the same channel machinery `--peer` flags drive.
//!
//! Beside that it heartbeats to the leader, which fails a silent primary over. A primary's
//! writes never wait on the coordinators: it takes them for as long as its last assignment
//! says it is the primary, and steps down only when an assignment of a newer epoch reaches
//! it. Two nodes of a region may then take writes for a while (one cut off from the
//! coordinators, one they promoted): each writes under its own server-id, and CRDT merge
//! makes that as safe as two regions writing (docs/coordinator.md, "Writes without the
//! coordinators"). The last assignment is kept in the data directory, so a node restarted
//! while the coordinators are out of reach takes up its role again.

use super::Role;
use super::channel::{Desired, jitter};
use crate::config::Peer;
use crate::server::Node;
use gdc_proto::coordinator::HeartbeatRequest;
use gdc_proto::coordinator::{Assignment, RegisterRequest, WatchRequest};
use gdc_proto::leader::Coordinators;
use prost::Message as _;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tracing::{debug, info, warn};

const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);
/// An assignment stream silent this long is given up and called again.
const WATCH_SILENCE: Duration = Duration::from_secs(4);
/// How often a node heartbeats...
const HEARTBEAT_EVERY: Duration = Duration::from_millis(200);
/// ...and how long each may take.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(500);
/// A node restarted with a saved assignment waits this long for the coordinators to give
/// it one before it takes up the saved one: coordinators in reach answer a registration
/// well within it, and a region's writes should not wait much longer on ones out of reach.
const RESUME_AFTER: Duration = Duration::from_secs(2);
/// A primary fenced for a switchover lifts the fence itself once it has heard nothing from
/// the coordinators for this long (gdcctl's default switchover timeout): the leader lifts
/// a fence that stands too long, but a leader out of reach cannot, and the region must not
/// stay without writes until the coordinators return.
const FENCE_ALONE_MS: u64 = 10_000;

/// What decides whether this node takes writes: its last assignment (and, for a fenced
/// primary, whether the coordinators are still there to end the fence).
#[derive(Debug, Default)]
struct Standing {
    /// The last assignment taken on (none yet: read-only). Locked while the role is worked
    /// out and set: the heartbeat and a new assignment both settle it, and one must not
    /// undo the other with what it read before.
    assigned: std::sync::Mutex<Option<Assignment>>,
}

impl Standing {
    /// Set the node's role from its assignment (logging a change).
    fn settle(&self, node: &Node) {
        let assigned = self.assigned.lock().unwrap_or_else(|p| p.into_inner());
        let sync = &node.shared().sync;
        let role_given = assigned.as_ref().map_or("", |a| a.role.as_str());
        let fenced = role_given == "fenced";
        let primary = role_given == "primary"
            || (fenced && sync.out_of_reach_ms(crate::store::now_ms()) >= FENCE_ALONE_MS);
        let role = if primary {
            Role::Primary
        } else {
            Role::Secondary
        };
        if sync.role() != role {
            if role == Role::Primary && fenced {
                warn!(
                    "fenced, and the coordinators out of reach for too long: taking writes again"
                );
            }
            sync.set_role(role);
        }
    }

    /// Whether the node has taken on an assignment since it started.
    fn has_assignment(&self) -> bool {
        self.assigned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }
}

/// Metadata key of the last assignment a coordinated node took on.
const ASSIGNMENT: &str = "assignment";
/// The format of the saved assignment: this byte, then the assignment as protobuf.
const ASSIGNMENT_FORMAT: u8 = 1;

/// The assignment this node last took on, as saved in its data directory.
fn saved_assignment(meta: &sled::Db) -> Result<Option<Assignment>, String> {
    let Some(raw) = meta.get(ASSIGNMENT).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    match raw.split_first() {
        Some((&ASSIGNMENT_FORMAT, bytes)) => Assignment::decode(bytes)
            .map(Some)
            .map_err(|e| format!("the saved assignment cannot be read: {e}")),
        _ => Err("the saved assignment is of an unknown format".into()),
    }
}

/// Keep `a` as this node's last assignment (flushed: it is what a restart takes up).
fn save_assignment(meta: &sled::Db, a: &Assignment) -> Result<(), String> {
    let mut raw = vec![ASSIGNMENT_FORMAT];
    raw.extend(a.encode_to_vec());
    meta.insert(ASSIGNMENT, raw)
        .and_then(|_| meta.flush())
        .map(|_| ())
        .map_err(|e| format!("cannot save the assignment: {e}"))
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
    // Out of the coordinators' reach until they first answer.
    let sync = &node.shared().sync;
    let _ = sync.contact_until_ms.compare_exchange(
        0,
        crate::store::now_ms(),
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    match saved_assignment(&node.shared().meta) {
        Ok(Some(saved)) => {
            tokio::spawn(resume(Arc::clone(&node), Arc::clone(&standing), saved));
        }
        Ok(None) => {}
        Err(e) => warn!(error = %e, "starting read-only until the coordinators answer"),
    }
    let heartbeats = Heartbeats::start(
        Arc::clone(&node),
        coordinators.clone(),
        Arc::clone(&standing),
    );
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
                drop(heartbeats);
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

/// Take up the saved assignment if the coordinators have given none by [`RESUME_AFTER`]:
/// a primary restarted while they are out of reach goes on taking its region's writes.
/// Should they have replaced it meanwhile, their assignment makes it a secondary once they
/// answer (a newer one wins over the saved one).
async fn resume(node: Arc<Node>, standing: Arc<Standing>, saved: Assignment) {
    tokio::time::sleep(RESUME_AFTER).await;
    if standing.has_assignment() || saved.role == "removed" {
        return;
    }
    warn!(
        role = %saved.role,
        epoch = saved.epoch,
        "no assignment from the coordinators yet: taking up the saved one"
    );
    apply(&node, &standing, &saved);
}

/// The heartbeats, on a thread and a runtime of their own: a primary busy catching up
/// after a heal (applying other regions' writes, fsyncing with `appendfsync always`) keeps
/// the node's runtime busy, and heartbeats that wait their turn there were late enough for
/// the coordinators to fail a live primary over (the wan nemesis saw it). They stop when
/// this is dropped, which waits for their thread to end: it holds the node, and a node
/// opened again on the same data directory (a restart in-process) needs it let go.
struct Heartbeats {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Heartbeats {
    fn drop(&mut self) {
        // The heartbeat in flight is dropped at once; the thread ends within moments.
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Heartbeats {
    fn start(node: Arc<Node>, coordinators: Coordinators, standing: Arc<Standing>) -> Heartbeats {
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let run = move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => return warn!(error = %e, "cannot start the heartbeats"),
            };
            runtime.block_on(async move {
                tokio::select! {
                    _ = heartbeat(node, coordinators, standing) => {}
                    _ = stopped => {}
                }
            });
        };
        let thread = std::thread::Builder::new()
            .name("gdc-heartbeat".into())
            .spawn(run)
            .map_err(|e| warn!(error = %e, "cannot start the heartbeats"))
            .ok();
        Heartbeats {
            stop: Some(stop),
            thread,
        }
    }
}

/// Heartbeat to the leader for as long as the node runs; an answer means the coordinators
/// are in reach (INFO, and a fence's end).
async fn heartbeat(node: Arc<Node>, coordinators: Coordinators, standing: Arc<Standing>) {
    let (addr, _) = node.shared().config.announced();
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // What the node has applied, as of when the store was last free: a heartbeat does not
    // wait for a long batch (the figure only ranks candidates for a failover).
    let mut applied_ops = 0;
    loop {
        tick.tick().await;
        if let Some(store) = node.try_lock_store() {
            applied_ops = store.applied().iter().map(|(_, op)| op.0).sum();
        }
        let request = HeartbeatRequest {
            addr: addr.clone(),
            epoch: node.shared().sync.epoch.load(Ordering::Relaxed),
            applied_ops,
        };
        let sent_ms = crate::store::now_ms();
        // A redirect or two at most: a heartbeat that cannot be placed now is simply late.
        let reply = coordinators
            .at_leader_within(3, Some(HEARTBEAT_TIMEOUT), |mut c| {
                let request = request.clone();
                async move { c.heartbeat(request).await }
            })
            .await;
        match reply {
            Ok(r) => {
                // Counted from when it was sent: the leader heard it no earlier.
                node.shared()
                    .sync
                    .contact_until_ms
                    .store(sent_ms + r.contact_ms, Ordering::Relaxed);
            }
            Err(e) => debug!(error = %e, "heartbeat not answered"),
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
/// primary takes them), then the channels, opened, re-pointed, paused, resumed or closed to
/// match. A new one is saved for the node's restarts. True if the assignment says the node
/// was removed from the topology.
fn apply(node: &Arc<Node>, standing: &Standing, a: &Assignment) -> bool {
    let sync = &node.shared().sync;
    // A leader that has not yet applied what an earlier one told this node may send an
    // older assignment: it would undo a fence, or a newer epoch.
    if a.index < sync.assignment_index.load(Ordering::Relaxed) {
        return false;
    }
    {
        let mut assigned = standing.assigned.lock().unwrap_or_else(|p| p.into_inner());
        let before = assigned.as_ref();
        if before.is_none_or(|b| b.role != a.role || b.epoch != a.epoch) {
            info!(role = %a.role, epoch = a.epoch, "assignment");
        }
        // Saved when what it says changes (the leader sends it again every second, and its
        // index moves with every change to the topology).
        if before
            .is_none_or(|b| b.role != a.role || b.epoch != a.epoch || b.upstreams != a.upstreams)
        {
            if let Err(e) = save_assignment(&node.shared().meta, a) {
                warn!(error = %e, "a restart will wait for the coordinators");
            }
        }
        *assigned = Some(a.clone());
        sync.epoch.store(a.epoch, Ordering::Relaxed);
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use gdc_proto::coordinator::Upstream;

    #[test]
    fn the_saved_assignment_reads_back_whole_and_a_foreign_one_is_refused() {
        let meta = sled::Config::new().temporary(true).open().expect("sled");
        assert_eq!(saved_assignment(&meta), Ok(None));
        let a = Assignment {
            role: "primary".into(),
            epoch: 3,
            upstreams: vec![Upstream {
                region: "us".into(),
                sync_addr: "10.0.0.2:7101".into(),
                paused: true,
                server_id: 9,
                addr: "10.0.0.2:7001".into(),
            }],
            index: 42,
        };
        save_assignment(&meta, &a).expect("save");
        assert_eq!(saved_assignment(&meta), Ok(Some(a)));
        meta.insert(ASSIGNMENT, &b"\x07junk"[..]).expect("insert");
        assert!(saved_assignment(&meta).is_err());
    }
}
