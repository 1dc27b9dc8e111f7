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
//!
//! Every assignment also carries the instance's ACL users, at a version: the node keeps
//! the newest it has seen ([`super::coordination::Coordination::acl`]), and changes them
//! through the coordinators ([`set_acl`]), by a compare-and-set on that version.

use super::Replication;
use super::backoff::jitter;
use super::control::Desired;
use super::coordination::{AclRecord, Followed, Place, Role};
use crate::config::{Config, Peer};
use crate::engine::meta::{Attachment, Meta};
use gdc_proto::coordinator::{AclRecord as AclRecordMsg, ChangeRequest, HeartbeatRequest};
use gdc_proto::coordinator::{Assignment, RegisterRequest, WatchRequest};
use gdc_proto::leader::Coordinators;
use gdc_proto::role::AssignedRole;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};

const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);
/// Each attempt at a change this node asks of the coordinators (`set-acl`) may take this
/// long.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(10);
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
    fn settle(&self, node: &Replication) {
        let assigned = self.assigned.lock().unwrap_or_else(|p| p.into_inner());
        let sync = node.coordination();
        let role_given = assigned.as_ref().and_then(Assignment::assigned_role);
        let fenced = role_given == Some(AssignedRole::Fenced);
        let primary = role_given == Some(AssignedRole::Primary)
            || (fenced && sync.out_of_reach_ms(crate::engine::store::now_ms()) >= FENCE_ALONE_MS);
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

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Why a node with `config` cannot be run by coordinators it was not started with, if it
/// cannot.
pub fn unfit(config: &Config) -> Option<&'static str> {
    if config.sync_port.is_none() {
        Some("this node serves no sync port, so no region could receive from it")
    } else if !config.peers.is_empty() {
        Some("this node receives from --peer channels (the coordinators give channels)")
    } else {
        None
    }
}

/// The coordinators that run a node at its start: its flags', or those GDC.ATTACH saved in
/// its data directory (a node attached at run time stays attached when restarted with its
/// old flags).
pub fn attachment_at_start(config: &Config, meta: &Meta) -> Result<Option<Attachment>, String> {
    let saved = meta.attachment().map_err(|e| e.to_string())?;
    if !config.coordinators.is_empty() {
        return Ok(Some(Attachment {
            coordinators: config.coordinators.clone(),
            instance: config.instance.clone().unwrap_or_default(),
            region: config.region.clone(),
        }));
    }
    let Some(saved) = saved else {
        return Ok(None);
    };
    let refuse = |why: &str| {
        Err(format!(
            "this node was attached to {saved} by GDC.ATTACH, and now: {why}"
        ))
    };
    if saved.region != config.region {
        return refuse(&format!("it is started as region '{}'", config.region));
    }
    if let Some(why) = unfit(config) {
        return refuse(why);
    }
    info!(attachment = %saved, "run by the coordinators GDC.ATTACH saved");
    Ok(Some(saved))
}

/// GDC.ATTACH: this node, so far on its own, joins `instance` run by `coordinators`, with
/// its data. It is fenced (refuses writes) from now until its assignment makes it a
/// primary, saves the attachment so that a restart with its old flags stays attached, and
/// starts following the coordinator.
pub fn attach(node: &Replication, token: &[u8], attachment: Attachment) -> Result<(), String> {
    let config = node.config();
    let own = config
        .cluster_token
        .as_deref()
        .unwrap_or_default()
        .as_bytes();
    if own.is_empty() || !gdc_proto::auth::same_secret(token, own) {
        return Err("the cluster token does not match this node's --cluster-token".into());
    }
    let coordination = node.coordination();
    if let Some(a) = coordination.attachment() {
        // The same request again (its answer was lost) is done already.
        if a == attachment && !coordination.removed() {
            return Ok(());
        }
        return Err(format!(
            "this node is already run by the coordinators of {a}"
        ));
    }
    if let Some(why) = unfit(config) {
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
    node.engine()
        .meta()
        .set_attachment(&attachment)
        .map_err(|e| format!("cannot save the attachment: {e}"))?;
    coordination.set_role(Role::Secondary);
    coordination.set_place(Place::Follows(None));
    info!(%attachment, "attached by GDC.ATTACH");
    coordination.attach(attachment);
    Ok(())
}

/// Register and follow the coordinator for as long as the node runs.
pub async fn follow(node: Arc<Replication>, attachment: Attachment) {
    let config = &node.config();
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
    node.coordination().set_followed(Followed {
        coordinators: coordinators.clone(),
        instance: attachment.instance.clone(),
    });
    let standing = Arc::new(Standing::default());
    // Out of the coordinators' reach until they first answer.
    node.coordination()
        .start_contact(crate::engine::store::now_ms());
    match node.engine().meta().assignment() {
        Ok(Some(saved)) => {
            // The users it had before the restart, at once: they decide no role, and a
            // newer version from the coordinators replaces them.
            if let Some(acl) = &saved.acl {
                take_acl(&node, acl);
            }
            node.tasks()
                .spawn(resume(Arc::clone(&node), Arc::clone(&standing), saved));
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
                node.coordination().set_removed(true);
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
async fn resume(node: Arc<Replication>, standing: Arc<Standing>, saved: Assignment) {
    tokio::time::sleep(RESUME_AFTER).await;
    if standing.has_assignment() || saved.assigned_role() == Some(AssignedRole::Removed) {
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
    fn start(
        node: Arc<Replication>,
        coordinators: Coordinators,
        standing: Arc<Standing>,
    ) -> Heartbeats {
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
async fn heartbeat(node: Arc<Replication>, coordinators: Coordinators, standing: Arc<Standing>) {
    let (addr, _) = node.config().announced();
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // What the node has applied, as of when the store was last free: a heartbeat does not
    // wait for a long batch (the figure only ranks candidates for a failover).
    let mut applied_ops = 0;
    loop {
        tick.tick().await;
        if let Some(store) = node.engine().try_lock_store() {
            applied_ops = store.applied().iter().map(|(_, op)| op.0).sum();
        }
        let request = HeartbeatRequest {
            addr: addr.clone(),
            epoch: node.coordination().epoch(),
            applied_ops,
        };
        let sent_ms = crate::engine::store::now_ms();
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
                node.coordination().heard_until(sent_ms + r.contact_ms);
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
    node: &Arc<Replication>,
    instance: &str,
    coordinators: &Coordinators,
    standing: &Standing,
    backoff: &mut Duration,
) -> Result<Watched, String> {
    let config = &node.config();
    let (addr, sync_addr) = config.announced();
    let request = RegisterRequest {
        instance: instance.to_string(),
        region: config.region.clone(),
        addr: addr.clone(),
        sync_addr,
        server_id: node.engine().lock_store().server().0,
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
fn apply(node: &Arc<Replication>, standing: &Standing, a: &Assignment) -> bool {
    let coordination = node.coordination();
    // A leader that has not yet applied what an earlier one told this node may send an
    // older assignment: it would undo a fence, or a newer epoch.
    if a.index < coordination.assignment_index() {
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
        if before.is_none_or(|b| {
            b.role != a.role || b.epoch != a.epoch || b.upstreams != a.upstreams || b.acl != a.acl
        }) {
            if let Err(e) = node.engine().meta().set_assignment(a) {
                warn!(error = %e, "a restart will wait for the coordinators");
            }
        }
        *assigned = Some(a.clone());
        coordination.set_epoch(a.epoch);
    }
    standing.settle(node);
    // Only now: whoever reads this index sees the role it brought.
    coordination.set_assignment_index(a.index);
    if let Some(acl) = &a.acl {
        take_acl(node, acl);
    }
    let own_region = &node.config().region;
    steer_channels(node, own_region, a);
    let own_nodes = a.upstreams.iter().filter(|u| u.region == *own_region);
    let role = a.assigned_role();
    coordination.set_place(match role {
        Some(AssignedRole::Primary | AssignedRole::Fenced) => Place::Primary {
            secondaries: own_nodes.map(|u| (u.addr.clone(), u.server_id)).collect(),
        },
        _ => Place::Follows(own_nodes.map(|u| u.addr.clone()).next()),
    });
    // The nodes of this region that read from this one are the ones it receives from.
    let own_nodes: BTreeSet<u32> = a
        .upstreams
        .iter()
        .filter(|u| u.region == *own_region)
        .map(|u| u.server_id)
        .collect();
    let primary = role == Some(AssignedRole::Primary);
    let subscribed: BTreeSet<u32> = node
        .channels()
        .outbound()
        .values()
        .map(|s| s.server_id)
        .collect();
    let engine = node.engine();
    let forgotten =
        engine
            .acks()
            .forget(own_region, &own_nodes, &subscribed, primary, engine.meta());
    if !forgotten.is_empty() {
        info!(
            ?forgotten,
            "acknowledgements of nodes that no longer read from this one forgotten"
        );
    }
    role == Some(AssignedRole::Removed)
}

/// Keep the ACL record `acl` if it is newer than the node's (logging it).
fn take_acl(node: &Replication, acl: &AclRecordMsg) {
    let record = AclRecord {
        version: acl.version,
        lines: acl.lines.clone(),
    };
    if node.coordination().offer_acl(record) {
        info!(
            version = acl.version,
            users = acl.lines.len(),
            "ACL users from the coordinators"
        );
    }
}

/// `set-acl` as the coordinators read a change (their `Change`, docs/coordinator.md).
#[derive(serde::Serialize)]
#[serde(tag = "op", rename = "set-acl")]
struct SetAcl<'a> {
    instance: &'a str,
    expected_version: u64,
    lines: &'a [String],
}

/// Set the instance's ACL users to `lines`, if they are at `expected_version`, through the
/// coordinators' leader: the new version, or why not (the coordinators' refusal, which
/// names the version they hold when it is not `expected_version`). The node holds the new
/// record at once (a compare-and-set makes it the only one of its version); the other
/// nodes receive it with their assignments.
pub async fn set_acl(
    node: &Replication,
    expected_version: u64,
    lines: Vec<String>,
) -> Result<u64, String> {
    let coordination = node.coordination();
    let Some(followed) = coordination.followed() else {
        return Err("not coordinated".into());
    };
    if coordination.removed() {
        return Err(
            "removed from the topology: this node no longer follows the coordinators".into(),
        );
    }
    let json = serde_json::to_string(&SetAcl {
        instance: &followed.instance,
        expected_version,
        lines: &lines,
    })
    .map_err(|e| format!("cannot encode the change: {e}"))?;
    // One id on every attempt: one whose reply was lost is not applied twice.
    let request = gdc_proto::leader::request_id();
    let reply = followed
        .coordinators
        .at_leader(Some(CHANGE_TIMEOUT), |mut c| {
            let json = json.clone();
            async move { c.change(ChangeRequest { json, request }).await }
        })
        .await?;
    if !reply.refused.is_empty() {
        return Err(reply.refused);
    }
    let version = expected_version + 1;
    coordination.offer_acl(AclRecord { version, lines });
    Ok(version)
}

/// Open, re-point, pause, resume or close channels to match assignment `a`.
fn steer_channels(node: &Arc<Replication>, own_region: &str, a: &Assignment) {
    let sync = node.channels();
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
    use crate::engine::{Engine, EngineOptions};
    use gdc_coordinator::client::AdminClient;
    use gdc_coordinator::topology::Change;

    const TOKEN: &str = "coordinated-test-token";

    fn lines(l: &[&str]) -> Vec<String> {
        l.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn set_acl_is_sent_as_the_change_the_coordinators_read() {
        let users = lines(&[
            "user default on nopass ~* &* +@all",
            r#"user "odd" on >a"b\c"#,
        ]);
        let json = serde_json::to_string(&SetAcl {
            instance: "shop",
            expected_version: 4,
            lines: &users,
        })
        .expect("json");
        let read: Change = serde_json::from_str(&json).expect("a change");
        assert_eq!(
            read,
            Change::SetAcl {
                instance: "shop".into(),
                expected_version: 4,
                lines: users,
            }
        );
    }

    /// A node on its own, in `dir`.
    fn node(dir: &std::path::Path) -> Replication {
        let config = Config {
            dir: dir.to_path_buf(),
            ..Config::default()
        };
        let engine = Engine::open(EngineOptions {
            dir: config.dir.clone(),
            appendfsync: config.appendfsync,
            alone: true,
            binlog_retention_bytes: 0,
            binlog_retention_secs: 0,
        })
        .expect("engine");
        Replication::new(
            Arc::new(config),
            Arc::new(engine),
            None,
            crate::tasks::Tasks::default(),
        )
    }

    /// A node sets its instance's users through a real coordinator (one member, in this
    /// process): over the version it expects, and refused, naming both versions, over an
    /// older one. A node the coordinators do not run cannot.
    #[tokio::test]
    async fn a_node_sets_its_instances_acl_by_compare_and_set_through_the_coordinators() {
        let dir = tempfile::tempdir().expect("tempdir");
        let listen = format!("127.0.0.1:{}", gdc_jepsen::process::free_port());
        let mut options = gdc_coordinator::server::Options::new(
            1,
            listen.clone(),
            dir.path().join("coordinator"),
            TOKEN.into(),
        );
        options.initial_cluster = [(1, listen.clone())].into();
        options.heartbeat_ms = 100;
        options.election_timeout_ms = 500;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let coordinator = tokio::spawn(gdc_coordinator::server::run(options, async {
            let _ = stopped.await;
        }));
        let admin = AdminClient::new(vec![listen.clone()], TOKEN).expect("admin");
        admin
            .change(&Change::CreateInstance {
                name: "shop".into(),
            })
            .await
            .expect("create shop");

        let node = node(&dir.path().join("node"));
        let first = lines(&["user default on nopass ~* &* +@all"]);
        assert_eq!(
            node.set_acl(0, first.clone()).await,
            Err("not coordinated".to_string())
        );
        node.coordination().set_followed(Followed {
            coordinators: Coordinators::new(vec![listen], TOKEN).expect("coordinators"),
            instance: "shop".into(),
        });
        let acl = node.coordination().acl();
        assert_eq!(node.set_acl(0, first.clone()).await, Ok(1));
        assert_eq!(
            *acl.borrow(),
            AclRecord {
                version: 1,
                lines: first.clone()
            },
            "held at once"
        );
        assert_eq!(
            node.set_acl(0, lines(&["user default off"])).await,
            Err("the ACL of instance 'shop' is at version 1, not 0".to_string())
        );
        assert_eq!(acl.borrow().version, 1);
        let (t, _) = admin.topology().await.expect("topology");
        assert_eq!(t.instances["shop"].acl.version, 1);
        assert_eq!(t.instances["shop"].acl.lines, first);

        let _ = stop.send(());
        coordinator
            .await
            .expect("the coordinator's task")
            .expect("the coordinator ran");
    }
}
