//! Sync channels: how every write reaches the other regions.
//!
//! A channel runs from a sender to a receiver and is opened by the receiver: it calls
//! `Subscribe` on the sender's sync port with its applied vector, and the sender streams
//! the frames of its binlog the receiver is missing, then the live tail ([`sender`]). The
//! receiver applies them, logs them in its own binlog (so it relays them on its own
//! channels and keeps them across restarts), and acknowledges ([`channel`]). A node opens
//! one inbound channel per `--peer`.
//!
//! [`Replication`] owns it all, as separate parts: [`Channels`] (the status of every
//! channel in and out), [`coordination::Coordination`] (what the coordinators say this node
//! is), and the handles it uses of the rest ([`crate::engine::Engine`], the settings).
//! [`status::ChannelReport`] is the one report of a channel every view renders.

pub mod admin;
pub mod backoff;
pub mod channel;
pub mod control;
pub mod coordinated;
pub mod coordination;
pub mod pack;
mod repair;
pub mod sender;
pub mod status;

use crate::config::{Config, Peer};
use crate::engine::Engine;
use crate::engine::acks::ack_key;
use crate::engine::meta::Attachment;
use crate::tasks::Tasks;
use control::{ChannelError, Desired};
use coordination::{Coordination, Place, Role};
use gdc_crdt::VersionVector;
use status::ChannelState;
use status::{ChannelReport, ChannelStatus, SubscriberStatus};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;
use tracing::warn;

/// The largest message either side of a channel accepts: one binlog record at its limit,
/// and change.
pub const MESSAGE_BYTES_MAX: usize = (1 << 30) + (1 << 20);
/// A state (full sync) is sent in pieces of at most this many bytes.
pub const STATE_CHUNK_BYTES: usize = 1 << 20;

/// A node's replication: its channels in and out, and its standing with the coordinators.
#[derive(Debug)]
pub struct Replication {
    config: Arc<Config>,
    engine: Arc<Engine>,
    channels: Channels,
    coordination: Coordination,
    tasks: Tasks,
}

/// Every channel's status, in and out.
#[derive(Debug, Default)]
pub struct Channels {
    inbound: Mutex<BTreeMap<String, ChannelStatus>>,
    outbound: Mutex<BTreeMap<u64, SubscriberStatus>>,
    next_subscriber: AtomicU64,
    /// Per inbound channel, what is wanted of it (its task watches).
    controls: Mutex<BTreeMap<String, watch::Sender<control::Desired>>>,
    /// Full syncs this node has sent to readers.
    full_syncs_sent: AtomicU64,
    /// The region of every server-id heard from (a region's nodes write under several in
    /// time: failovers, restarts), to say which region made an op.
    regions: Mutex<BTreeMap<u32, String>>,
}

impl Replication {
    /// Replication for a node with `config` and `engine`, run by `attachment`'s
    /// coordinators if any (then fenced until they say it is a primary).
    pub fn new(
        config: Arc<Config>,
        engine: Arc<Engine>,
        attachment: Option<Attachment>,
        tasks: Tasks,
    ) -> Replication {
        Replication {
            config,
            engine,
            channels: Channels::default(),
            coordination: Coordination::new(attachment),
            tasks,
        }
    }

    /// The node's tasks: channels, subscriptions and the coordinators' follower run there.
    pub fn tasks(&self) -> &Tasks {
        &self.tasks
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn channels(&self) -> &Channels {
        &self.channels
    }

    pub fn coordination(&self) -> &Coordination {
        &self.coordination
    }

    /// The write gate: whether this node refuses writes now (as of `now_ms`): a secondary,
    /// or a primary fenced for a switchover, answers them READONLY. A primary's writes never
    /// wait on the coordinators (docs/coordinator.md, "Writes without the coordinators"),
    /// unless a test breaks that on purpose.
    pub fn refuses_writes(&self, now_ms: u64) -> bool {
        self.coordination.role() == Role::Secondary
            || (crate::testing::writes_need_coordinator() && !self.coordination.in_contact(now_ms))
    }

    /// What is causally stable here: every region this node exchanges ops with has applied
    /// it, and every op made concurrently with it has been applied here. The meet of
    /// `applied` (this node's), each inbound channel's last report of its peer's vector
    /// that came when this node held all it covers, and each reader's acknowledgement. A
    /// peer reports its vector beside its ops; one that reports having applied op X had
    /// made every op of its own concurrent with X before, so holding all its report covers
    /// means holding those (a report that ran ahead of the ops sent so far is not taken).
    /// Removal knowledge is forgotten, and a string's bit writes baked in, up to it. A peer
    /// not heard from yet counts as having nothing.
    pub fn stable(&self, applied: &VersionVector) -> VersionVector {
        let mut stable = applied.clone();
        for c in self.channels.inbound().values() {
            stable = stable.meet(&c.peer_applied_held);
        }
        for (reader, has) in self.engine.acks().table().values() {
            // A reader is never sent its own ops: it has them all.
            let mut has = has.clone();
            for (s, op) in applied.iter() {
                if s.0 == *reader {
                    has.raise(s, op);
                }
            }
            stable = stable.meet(&has);
        }
        stable
    }

    /// A primary's secondaries that read from it now, as Redis lists connected replicas:
    /// client address and offset (the ops it acknowledged).
    pub fn connected_secondaries(&self) -> Vec<(String, u64)> {
        let Place::Primary { secondaries } = self.coordination.place() else {
            return Vec::new();
        };
        let own_region = &self.config.region;
        let reading: Vec<u32> = self
            .channels
            .outbound()
            .values()
            .filter(|s| &s.region == own_region)
            .map(|s| s.server_id)
            .collect();
        let acked = self.engine.acks().table();
        secondaries
            .into_iter()
            .filter(|(_, id)| reading.contains(id))
            .map(|(addr, id)| {
                let offset = acked
                    .get(&ack_key(own_region, own_region, id))
                    .map_or(0, |(_, vv)| vv.iter().map(|(_, op)| op.0).sum());
                (addr, offset)
            })
            .collect()
    }

    /// Every channel's report as of `now_ms`, inbound first (by peer), then outbound;
    /// `own` is this node's applied vector (what readers are measured against).
    pub fn reports(&self, own: &VersionVector, now_ms: u64) -> Vec<ChannelReport> {
        let mut out: Vec<ChannelReport> = self
            .channels
            .inbound()
            .values()
            .map(|c| ChannelReport::inbound(c, now_ms))
            .collect();
        let acks = self.engine.acks();
        out.extend(self.channels.outbound().values().map(|s| {
            ChannelReport::outbound(s, acks.unacknowledged(own, &s.ack_key, s.server_id))
        }));
        out
    }

    /// Start one inbound channel per configured peer, or, with coordinators configured,
    /// follow the coordinator's assignment.
    pub fn start_channels(self: &Arc<Self>) {
        let mut attachment = self.coordination().watch_attachment();
        let attached = attachment.borrow_and_update().clone();
        if let Some(a) = attached {
            self.tasks().spawn(coordinated::follow(Arc::clone(self), a));
            return;
        }
        for peer in self.config().peers.clone() {
            if let Err(e) = self.open_channel(peer) {
                warn!(error = %e, "cannot open a channel");
            }
        }
        // Until GDC.ATTACH, if it ever comes.
        let node = Arc::clone(self);
        self.tasks().spawn(async move {
            let Ok(a) = attachment
                .wait_for(Option::is_some)
                .await
                .map(|a| a.clone())
            else {
                return;
            };
            if let Some(a) = a {
                coordinated::follow(node, a).await;
            }
        });
    }

    /// Start receiving from `peer`.
    pub fn open_channel(self: &Arc<Self>, peer: Peer) -> Result<(), ChannelError> {
        let sync = self.channels();
        let mut controls = sync.controls();
        if controls.contains_key(&peer.region) {
            return Err(ChannelError::Exists(peer.region));
        }
        let (desired, watch) = tokio::sync::watch::channel(Desired::Running);
        controls.insert(peer.region.clone(), desired);
        drop(controls);
        sync.update(&peer, |_| {});
        self.tasks()
            .spawn(channel::receive_from(Arc::clone(self), peer, watch));
        Ok(())
    }

    /// Pause, resume or close the channel from `region`.
    pub fn steer_channel(&self, region: &str, want: Desired) -> Result<(), ChannelError> {
        let sync = self.channels();
        let mut controls = sync.controls();
        let Some(control) = controls.get(region) else {
            return Err(ChannelError::NotFound(region.to_string()));
        };
        control.send_replace(want);
        // Said at once (the channel's task catches up): a reply shows the new state.
        match want {
            Desired::Closed => {
                controls.remove(region);
                sync.inbound().remove(region);
            }
            Desired::Paused => {
                if let Some(c) = sync.inbound().get_mut(region) {
                    c.state = ChannelState::Paused;
                }
            }
            Desired::Running => {
                if let Some(c) = sync.inbound().get_mut(region) {
                    if c.state == ChannelState::Paused {
                        c.last_heard_ms = crate::engine::store::now_ms();
                    }
                    c.state = ChannelState::Connecting;
                }
            }
        }
        Ok(())
    }

    /// Set the instance's ACL users to `lines` if the coordinators hold them at
    /// `expected_version`: the new version, or why not (their refusal names the version
    /// they hold; "not coordinated" for a node they do not run). See
    /// [`coordinated::set_acl`].
    pub async fn set_acl(&self, expected_version: u64, lines: Vec<String>) -> Result<u64, String> {
        coordinated::set_acl(self, expected_version, lines).await
    }

    /// GDC.ATTACH: from now on run by `attachment`'s coordinators (see
    /// [`coordinated::attach`]).
    pub fn attach(&self, token: &[u8], attachment: Attachment) -> Result<(), String> {
        coordinated::attach(self, token, attachment)
    }

    /// Serve the `Sync` service (and the node admin service) on `listener` until the node
    /// stops.
    pub async fn serve_sync(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
    ) -> Result<(), sender::SyncServeError> {
        sender::serve(self, listener).await
    }

    /// Once a second: save what readers acknowledged, remove the binlog that frees, and
    /// tell the store what every region has applied (up to which removal knowledge may go).
    pub fn upkeep(&self) {
        self.engine.save_acks();
        self.engine.release_segments();
        if !self.engine.alone() {
            let mut store = self.engine.lock_store();
            let stable = self.stable(store.applied());
            store.set_stable(stable);
        }
    }
}

impl Channels {
    /// Server `id` writes in `region`.
    pub fn note_server(&self, id: u32, region: &str) {
        let mut regions = self.regions.lock().unwrap_or_else(|p| p.into_inner());
        if regions.get(&id).is_none_or(|r| r != region) {
            regions.insert(id, region.to_string());
        }
    }

    /// The region server `id` wrote in, if it was heard from.
    pub fn region_of(&self, id: u32) -> Option<String> {
        let regions = self.regions.lock().unwrap_or_else(|p| p.into_inner());
        regions.get(&id).cloned()
    }

    /// Counts by server-id summed by region (`own` is this node's server-id and region; a
    /// server-id no channel named is shown as `server-<id>`).
    pub fn by_region(
        &self,
        counts: &BTreeMap<gdc_crdt::ServerId, u64>,
        own: (gdc_crdt::ServerId, &str),
    ) -> BTreeMap<String, u64> {
        let mut by_region = BTreeMap::new();
        for (server, n) in counts {
            let region = if *server == own.0 {
                own.1.to_string()
            } else {
                self.region_of(server.0)
                    .unwrap_or_else(|| format!("server-{}", server.0))
            };
            *by_region.entry(region).or_insert(0) += n;
        }
        by_region
    }

    pub fn inbound(&self) -> MutexGuard<'_, BTreeMap<String, ChannelStatus>> {
        self.inbound.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn outbound(&self) -> MutexGuard<'_, BTreeMap<u64, SubscriberStatus>> {
        self.outbound.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn controls(&self) -> MutexGuard<'_, BTreeMap<String, watch::Sender<control::Desired>>> {
        self.controls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A number for a new reader.
    pub fn next_subscriber(&self) -> u64 {
        self.next_subscriber.fetch_add(1, Ordering::Relaxed)
    }

    pub fn full_sync_sent(&self) {
        self.full_syncs_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub fn full_syncs_sent(&self) -> u64 {
        self.full_syncs_sent.load(Ordering::Relaxed)
    }

    /// Change the status of the channel from `peer`.
    pub fn update(&self, peer: &Peer, change: impl FnOnce(&mut ChannelStatus)) {
        let mut all = self.inbound();
        change(
            all.entry(peer.region.clone())
                .or_insert_with(|| ChannelStatus::new(peer)),
        );
    }

    /// Unix ms until which every inbound channel's peer is known to have delivered all it
    /// had (the oldest [`ChannelStatus::caught_up_ms`]); `None` without inbound channels. A
    /// key that expired before this (less the expire grace) can be removed: no PERSIST or
    /// EXPIRE made before its expiry can still be on its way. A channel that is cut, paused
    /// or not yet caught up holds removals back, so a region cut off for longer than the
    /// grace does not delete keys under writes it has not received.
    pub fn caught_up_until_ms(&self) -> Option<u64> {
        self.inbound().values().map(|c| c.caught_up_ms).min()
    }
}
