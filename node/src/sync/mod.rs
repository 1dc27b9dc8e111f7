//! Sync channels: how every write reaches the other regions.
//!
//! A channel runs from a sender to a receiver and is opened by the receiver: it calls
//! `Subscribe` on the sender's sync port with its applied vector, and the sender streams
//! the frames of its binlog the receiver is missing, then the live tail ([`sender`]). The
//! receiver applies them, logs them in its own binlog (so it relays them on its own
//! channels and keeps them across restarts), and acknowledges ([`channel`]). A node opens
//! one inbound channel per `--peer`.

pub mod admin;
pub mod channel;
pub mod coordinated;
pub mod pack;
pub mod sender;

use crate::server::Shared;
use gdc_crdt::{Hlc, VersionVector};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Where an inbound channel is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelState {
    /// Dialling the peer, or waiting to dial again.
    Connecting,
    /// Subscribed, and the peer has ops this node has not applied yet.
    CatchingUp,
    /// Subscribed and caught up: new ops are applied as the peer logs them.
    Streaming,
    /// The peer's binlog no longer holds what this node lacks: receiving and merging the
    /// peer's whole state, after which the channel subscribes again.
    FullSync,
    /// Paused by an operator: not subscribed, position kept.
    Paused,
    /// The last attempt failed (see `last_error`); it is retried with backoff.
    Error,
}

impl fmt::Display for ChannelState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChannelState::Connecting => "connecting",
            ChannelState::CatchingUp => "catching-up",
            ChannelState::Streaming => "streaming",
            ChannelState::FullSync => "full-sync",
            ChannelState::Paused => "paused",
            ChannelState::Error => "error",
        })
    }
}

/// What INFO and GDC.CHANNELS show of an inbound channel.
#[derive(Clone, Debug)]
pub struct ChannelStatus {
    pub peer: String,
    pub addr: String,
    pub state: ChannelState,
    pub last_error: Option<String>,
    /// Ops received from this peer and applied here (new to this node).
    pub ops_applied: u64,
    /// Frame bytes received.
    pub bytes_received: u64,
    /// The peer's applied vector, as of its last batch.
    pub peer_applied: VersionVector,
    /// HLC time of the last op applied from this peer.
    pub last_hlc: Hlc,
    /// Ops the peer has that this node had not applied, as of the last batch.
    pub ops_behind: u64,
    /// Unix ms of the last batch from the peer (its heartbeats included), or of when the
    /// channel was opened or resumed, if later: silence is counted from then.
    pub last_heard_ms: u64,
    /// Unix ms of the last batch after which this node had everything the peer had
    /// applied when it sent it (0: not yet): every op the peer made before then is here.
    /// Expired keys wait for it (see [`SyncState::caught_up_until_ms`]).
    pub caught_up_ms: u64,
    /// Times the channel was (re)established.
    pub connects: u64,
    /// Full syncs received from the peer.
    pub full_syncs: u64,
    /// Anti-entropy rounds run against the peer, and keys they found different and
    /// repaired here.
    pub anti_entropy_rounds: u64,
    pub repaired_keys: u64,
    /// Ops and bytes per second, measured over the last whole second or more.
    rate: Rate,
}

/// A rate over windows of at least a second.
#[derive(Clone, Debug, Default)]
struct Rate {
    /// Start of the current window (Unix ms), and the totals then.
    since_ms: u64,
    ops_then: u64,
    bytes_then: u64,
    /// The last closed window's rates, and when it closed.
    ops_per_sec: f64,
    bytes_per_sec: f64,
    closed_ms: u64,
}

impl ChannelStatus {
    fn new(peer: &crate::config::Peer) -> ChannelStatus {
        ChannelStatus {
            peer: peer.region.clone(),
            addr: peer.addr.clone(),
            state: ChannelState::Connecting,
            last_error: None,
            ops_applied: 0,
            bytes_received: 0,
            peer_applied: VersionVector::new(),
            last_hlc: Hlc::ZERO,
            ops_behind: 0,
            last_heard_ms: crate::store::now_ms(),
            caught_up_ms: 0,
            connects: 0,
            full_syncs: 0,
            anti_entropy_rounds: 0,
            repaired_keys: 0,
            rate: Rate::default(),
        }
    }

    /// Count a batch: `ops` applied, `bytes` received.
    pub fn received(&mut self, ops: u64, bytes: u64, now_ms: u64) {
        self.last_heard_ms = now_ms;
        self.ops_applied += ops;
        self.bytes_received += bytes;
        let r = &mut self.rate;
        if r.since_ms == 0 {
            r.since_ms = now_ms;
            r.ops_then = self.ops_applied - ops;
            r.bytes_then = self.bytes_received - bytes;
        }
        let elapsed = now_ms.saturating_sub(r.since_ms);
        if elapsed >= 1000 {
            let secs = elapsed as f64 / 1000.0;
            r.ops_per_sec = (self.ops_applied - r.ops_then) as f64 / secs;
            r.bytes_per_sec = (self.bytes_received - r.bytes_then) as f64 / secs;
            r.closed_ms = now_ms;
            r.since_ms = now_ms;
            r.ops_then = self.ops_applied;
            r.bytes_then = self.bytes_received;
        }
    }

    /// (ops/s, bytes/s) lately: 0 once nothing has come for two seconds.
    pub fn rates(&self, now_ms: u64) -> (u64, u64) {
        if now_ms.saturating_sub(self.rate.closed_ms) > 2000 {
            (0, 0)
        } else {
            (self.rate.ops_per_sec as u64, self.rate.bytes_per_sec as u64)
        }
    }

    /// Milliseconds between now and the HLC time of the last op applied from the peer, while
    /// the peer has more; 0 when caught up. A peer silent for longer than its heartbeats
    /// allow (a stalled or cut link) may have written since: then at least the time since
    /// it was last heard. A paused channel is silent on purpose, and counts only the first.
    pub fn ms_behind(&self, now_ms: u64) -> u64 {
        let by_ops = if self.ops_behind == 0 || self.last_hlc == Hlc::ZERO {
            0
        } else {
            now_ms.saturating_sub(self.last_hlc.ms())
        };
        let silent = now_ms.saturating_sub(self.last_heard_ms);
        if self.state != ChannelState::Paused && silent > SILENCE_MS {
            by_ops.max(silent)
        } else {
            by_ops
        }
    }
}

/// A sender heartbeats every second: silence past this means the link is stalled or cut.
const SILENCE_MS: u64 = 2000;

/// A peer reading from this node (an outbound channel). What it acknowledged is kept
/// across its subscriptions, under [`ack_key`] ([`SyncState::acked`]).
#[derive(Clone, Debug)]
pub struct SubscriberStatus {
    pub region: String,
    pub server_id: u32,
    /// Its entry in [`SyncState::acked`].
    pub ack_key: String,
    pub frames_sent: u64,
}

/// An [`ack_key`] of a node of `own_region` (or, under the bare name, from before entries
/// were kept per node).
pub fn is_own_region_key(own_region: &str, key: &str) -> bool {
    key.strip_prefix(own_region)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Under what a subscriber's acknowledgements are kept. Another region reads from one node
/// at a time, its primary, and a new primary there takes over the old one's entry (the old
/// one is not waited for). In this node's own region every node counts by itself: each
/// secondary of a primary, and a primary draining what a former primary never shipped.
pub fn ack_key(own_region: &str, region: &str, server_id: u32) -> String {
    if region == own_region {
        format!("{region}/{server_id}")
    } else {
        region.to_string()
    }
}

/// One figure of a channel's status, as INFO and GDC.CHANNELS show it.
#[derive(Clone, Debug, PartialEq)]
pub enum Shown {
    Int(u64),
    Text(String),
}

impl fmt::Display for Shown {
    /// As INFO shows it: text without the separators of an INFO line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Int(n) => write!(f, "{n}"),
            Shown::Text(t) => f.write_str(&t.replace([',', '\r', '\n'], " ")),
        }
    }
}

impl ChannelStatus {
    /// Everything INFO and GDC.CHANNELS show of this inbound channel, in order.
    pub fn shown(&self, now_ms: u64) -> Vec<(&'static str, Shown)> {
        let (ops_per_sec, bytes_per_sec) = self.rates(now_ms);
        vec![
            ("peer", Shown::Text(self.peer.clone())),
            ("addr", Shown::Text(self.addr.clone())),
            ("state", Shown::Text(self.state.to_string())),
            ("ops_applied", Shown::Int(self.ops_applied)),
            ("bytes_received", Shown::Int(self.bytes_received)),
            ("ops_per_sec", Shown::Int(ops_per_sec)),
            ("bytes_per_sec", Shown::Int(bytes_per_sec)),
            ("ops_behind", Shown::Int(self.ops_behind)),
            ("ms_behind", Shown::Int(self.ms_behind(now_ms))),
            ("connects", Shown::Int(self.connects)),
            ("full_syncs", Shown::Int(self.full_syncs)),
            ("anti_entropy_rounds", Shown::Int(self.anti_entropy_rounds)),
            ("repaired_keys", Shown::Int(self.repaired_keys)),
            (
                "last_error",
                Shown::Text(self.last_error.clone().unwrap_or_default()),
            ),
        ]
    }
}

/// Metadata keys of saved acknowledgements: this, then the [`ack_key`].
const ACKED_PREFIX: &[u8] = b"acked/";

/// Channel bookkeeping every connection can read.
#[derive(Debug, Default)]
pub struct SyncState {
    inbound: Mutex<BTreeMap<String, ChannelStatus>>,
    outbound: Mutex<BTreeMap<u64, SubscriberStatus>>,
    next_subscriber: AtomicU64,
    /// Per subscriber ([`ack_key`]): its server-id and the newest vector it acknowledged.
    /// Binlog segments go only once all of them have what they hold.
    acked: Mutex<BTreeMap<String, (u32, VersionVector)>>,
    /// `acked` changed since it was last saved.
    acked_dirty: std::sync::atomic::AtomicBool,
    /// Per inbound channel, what is wanted of it (its task watches).
    controls: Mutex<BTreeMap<String, tokio::sync::watch::Sender<channel::Desired>>>,
    /// Full syncs this node has sent to subscribers.
    pub full_syncs_sent: AtomicU64,
    /// The role the coordinator gave this node ([`Role`] as a number).
    role: std::sync::atomic::AtomicU8,
    /// The epoch of this node's child instance, from the coordinator (0 without one).
    pub epoch: AtomicU64,
    /// The coordinator's log index of the assignment this node follows (0 without one).
    pub assignment_index: AtomicU64,
    /// The coordinators running this node: from its flags, saved, or set by GDC.ATTACH
    /// (which a waiting task sees, and starts following them).
    pub attachment: tokio::sync::watch::Sender<Option<coordinated::Attachment>>,
    /// This node's place in its region, as its assignment gives it (ROLE, INFO).
    place: Mutex<Place>,
    /// The coordinators removed this node from the topology, and it stopped following them.
    pub removed: std::sync::atomic::AtomicBool,
    /// A coordinated node: Unix ms until which the coordinators' last answer to its
    /// heartbeat stands (sent + the failover timeout); 0 before the first. Past it the node
    /// is out of their reach (INFO says so); it takes writes all the same.
    pub contact_until_ms: AtomicU64,
}

/// A node's place in its region, which ROLE and `INFO replication` report in Redis's
/// terms: Sentinel clients check with ROLE that the node they were sent to is a master.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Place {
    /// Not run by a coordinator: a master of its own.
    #[default]
    Alone,
    /// Assigned its region's primary (fenced for a switchover too), with these secondaries
    /// (client address, server-id).
    Primary { secondaries: Vec<(String, u32)> },
    /// A secondary of this primary (client address); `None` while it has no primary, is
    /// not yet assigned, or was removed.
    Follows(Option<String>),
}

/// What this node is in its region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Takes writes: without a coordinator, or its region's primary.
    Primary = 0,
    /// Follows its region's primary, serves reads, refuses writes.
    Secondary = 1,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
        })
    }
}

impl SyncState {
    pub fn role(&self) -> Role {
        if self.role.load(Ordering::Relaxed) == Role::Secondary as u8 {
            Role::Secondary
        } else {
            Role::Primary
        }
    }

    pub fn set_role(&self, role: Role) {
        self.role.store(role as u8, Ordering::Relaxed);
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

    /// Whether the coordinators answered this node's heartbeat lately (as of `now_ms`): a
    /// node they do not run is never out of their reach.
    pub fn in_contact(&self, now_ms: u64) -> bool {
        self.attachment.borrow().is_none() || now_ms < self.contact_until_ms.load(Ordering::Relaxed)
    }

    /// How long this coordinated node has been out of the coordinators' reach, in ms (0
    /// while in reach, or for a node they do not run).
    pub fn out_of_reach_ms(&self, now_ms: u64) -> u64 {
        if self.in_contact(now_ms) {
            return 0;
        }
        now_ms.saturating_sub(self.contact_until_ms.load(Ordering::Relaxed))
    }

    pub fn place(&self) -> Place {
        self.place.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_place(&self, place: Place) {
        *self.place.lock().unwrap_or_else(|p| p.into_inner()) = place;
    }

    /// A primary's secondaries that read from it now, as Redis lists connected replicas:
    /// client address and offset (the ops it acknowledged).
    pub fn connected_secondaries(&self, own_region: &str) -> Vec<(String, u64)> {
        let Place::Primary { secondaries } = self.place() else {
            return Vec::new();
        };
        let reading: Vec<u32> = self
            .outbound()
            .values()
            .filter(|s| s.region == own_region)
            .map(|s| s.server_id)
            .collect();
        let acked = self.acked();
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

    pub fn controls(
        &self,
    ) -> MutexGuard<'_, BTreeMap<String, tokio::sync::watch::Sender<channel::Desired>>> {
        self.controls.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn acked(&self) -> MutexGuard<'_, BTreeMap<String, (u32, VersionVector)>> {
        self.acked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Note what a subscriber has (from its Hello or an Ack), under its [`ack_key`].
    pub fn acknowledge(&self, key: &str, server_id: u32, applied: &VersionVector) {
        let mut acked = self.acked();
        let entry = acked
            .entry(key.to_string())
            .or_insert_with(|| (server_id, VersionVector::new()));
        if entry.0 != server_id {
            *entry = (server_id, VersionVector::new());
        }
        entry.1.join(applied);
        self.acked_dirty.store(true, Ordering::Relaxed);
    }

    /// Forget the acknowledgements of readers that no longer read from this node and are
    /// not subscribed now, here and in `meta`: nodes of `own_region` not in `keep` (by
    /// server-id: a node replaced, or back under a new server-id after a crash), and, unless
    /// `primary` (other regions read from primaries only), every other region's. Such an
    /// entry would hold binlog and the collection of removal knowledge back for ever: a
    /// demoted primary would keep tombstones the rest of the cluster dropped, and its digest
    /// would differ. (An entry under the region's bare name is from before entries were per
    /// node.)
    pub fn forget_acks(
        &self,
        own_region: &str,
        keep: &std::collections::BTreeSet<u32>,
        primary: bool,
        meta: &sled::Db,
    ) -> Vec<String> {
        let subscribed: std::collections::BTreeSet<u32> =
            self.outbound().values().map(|s| s.server_id).collect();
        let mut acked = self.acked();
        let gone: Vec<String> = acked
            .iter()
            .filter(|(key, (id, _))| {
                let reads_here = match is_own_region_key(own_region, key) {
                    true => keep.contains(id),
                    false => primary,
                };
                !reads_here && !subscribed.contains(id)
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in &gone {
            acked.remove(key);
            // Failing leaves the record to be loaded after a restart: only binlog kept longer.
            let _ = meta.remove([ACKED_PREFIX, key.as_bytes()].concat());
        }
        gone
    }

    /// Load what subscribers acknowledged before a restart, so that binlog segments they
    /// lack are kept for them.
    pub fn load_acked(&self, meta: &sled::Db) -> Result<(), String> {
        let mut acked = self.acked();
        for item in meta.scan_prefix(ACKED_PREFIX) {
            let (k, v) = item.map_err(|e| e.to_string())?;
            let key = String::from_utf8_lossy(&k[ACKED_PREFIX.len()..]).into_owned();
            let bad = || format!("bad acknowledgement record for {key}");
            let id = v.get(..4).ok_or_else(bad)?;
            let id = u32::from_le_bytes([id[0], id[1], id[2], id[3]]);
            let (vv, rest) = gdc_crdt::codec::decode_vv(&v[4..]).map_err(|_| bad())?;
            if !rest.is_empty() {
                return Err(bad());
            }
            acked.insert(key, (id, vv));
        }
        Ok(())
    }

    /// Save `acked` if it changed (an older saved copy only keeps more binlog: safe).
    pub fn save_acked(&self, meta: &sled::Db) -> Result<(), String> {
        if !self.acked_dirty.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let saved = (|| {
            for (key, (id, vv)) in self.acked().iter() {
                let mut v = id.to_le_bytes().to_vec();
                gdc_crdt::codec::encode_vv(vv, &mut v);
                let key = [ACKED_PREFIX, key.as_bytes()].concat();
                meta.insert(key, v)?;
            }
            meta.flush().map(|_| ())
        })();
        if let Err(e) = saved {
            self.acked_dirty.store(true, Ordering::Relaxed);
            return Err(e.to_string());
        }
        Ok(())
    }

    /// What every region this node exchanges ops with has applied, as far as this node
    /// knows: the meet of `applied` (this node's), each inbound channel's last report of
    /// its peer's vector, and each subscriber's acknowledgement. A peer not heard from yet
    /// counts as having nothing.
    pub fn stable(&self, applied: &VersionVector) -> VersionVector {
        let mut stable = applied.clone();
        for c in self.inbound().values() {
            stable = stable.meet(&c.peer_applied);
        }
        for (reader, has) in self.acked().values() {
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

    /// Ops `own` covers that subscriber `s` has not acknowledged (its own ops aside).
    pub fn unacknowledged(&self, own: &VersionVector, s: &SubscriberStatus) -> u64 {
        let acked = self.acked();
        let has = acked.get(&s.ack_key).map(|(_, vv)| vv);
        own.iter()
            .filter(|(origin, _)| origin.0 != s.server_id)
            .map(|(origin, op)| op.0.saturating_sub(has.map_or(0, |vv| vv.get(origin).0)))
            .sum()
    }

    /// Everything INFO and GDC.CHANNELS show of subscriber `s`, in order.
    pub fn shown(&self, own: &VersionVector, s: &SubscriberStatus) -> Vec<(&'static str, Shown)> {
        vec![
            ("peer", Shown::Text(s.region.clone())),
            ("server_id", Shown::Int(u64::from(s.server_id))),
            ("frames_sent", Shown::Int(s.frames_sent)),
            (
                "ops_unacknowledged",
                Shown::Int(self.unacknowledged(own, s)),
            ),
        ]
    }

    /// A number for a new subscriber.
    pub fn next_subscriber(&self) -> u64 {
        self.next_subscriber.fetch_add(1, Ordering::Relaxed)
    }

    pub fn inbound(&self) -> MutexGuard<'_, BTreeMap<String, ChannelStatus>> {
        self.inbound.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn outbound(&self) -> MutexGuard<'_, BTreeMap<u64, SubscriberStatus>> {
        self.outbound.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Change the status of the channel from `peer`.
    pub fn update(&self, peer: &crate::config::Peer, change: impl FnOnce(&mut ChannelStatus)) {
        let mut all = self.inbound();
        change(
            all.entry(peer.region.clone())
                .or_insert_with(|| ChannelStatus::new(peer)),
        );
    }
}

impl Shared {
    /// The INFO replication section's channel lines.
    pub fn replication_info(&self, own: &VersionVector, out: &mut String) {
        use std::fmt::Write as _;
        let now = crate::store::now_ms();
        let inbound = self.sync.inbound();
        let outbound = self.sync.outbound();
        let _ = write!(
            out,
            "gdc_region:{}\r\ngdc_coordination:{}\r\ngdc_coordinators_out_of_reach_ms:{}\r\ngdc_role:{}\r\ngdc_epoch:{}\r\ngdc_assignment_index:{}\r\ngdc_inbound_channels:{}\r\ngdc_outbound_channels:{}\r\ngdc_full_syncs_received:{}\r\ngdc_full_syncs_sent:{}\r\ngdc_anti_entropy_repaired_keys:{}\r\n",
            self.config.region,
            match self.sync.attachment.borrow().as_ref() {
                None => "none",
                Some(_) if self.sync.removed.load(Ordering::Relaxed) => "removed",
                Some(_) => "following",
            },
            self.sync.out_of_reach_ms(now),
            self.sync.role(),
            self.sync.epoch.load(Ordering::Relaxed),
            self.sync.assignment_index.load(Ordering::Relaxed),
            inbound.len(),
            outbound.len(),
            inbound.values().map(|c| c.full_syncs).sum::<u64>(),
            self.sync.full_syncs_sent.load(Ordering::Relaxed),
            inbound.values().map(|c| c.repaired_keys).sum::<u64>(),
        );
        let line = |fields: Vec<(&str, Shown)>| {
            let pairs: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.join(",")
        };
        for (i, c) in inbound.values().enumerate() {
            let _ = write!(out, "gdc_inbound{i}:{}\r\n", line(c.shown(now)));
        }
        for (i, s) in outbound.values().enumerate() {
            let _ = write!(out, "gdc_outbound{i}:{}\r\n", line(self.sync.shown(own, s)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{
        ChannelState, ChannelStatus, SubscriberStatus, SyncState, ack_key, is_own_region_key,
    };
    use gdc_crdt::{Hlc, OpId, ServerId, VersionVector};

    #[test]
    fn a_silent_peer_counts_as_behind_by_its_silence() {
        let peer = crate::config::Peer {
            region: "eu".into(),
            addr: "h:1".into(),
        };
        let mut c = ChannelStatus::new(&peer);
        let now = 1_000_000;
        c.last_heard_ms = now - 500;
        assert_eq!(c.ms_behind(now), 0, "just opened");
        c.last_heard_ms = now - 2500;
        assert_eq!(c.ms_behind(now), 2500, "opened, and never heard since");
        c.state = ChannelState::Streaming;
        c.last_heard_ms = now - 1500;
        assert_eq!(
            c.ms_behind(now),
            0,
            "caught up, heard within its heartbeats"
        );
        c.last_heard_ms = now - 3000;
        assert_eq!(c.ms_behind(now), 3000, "a stalled link");
        c.ops_behind = 4;
        c.last_hlc = Hlc::new(now - 7000, 0);
        assert_eq!(
            c.ms_behind(now),
            7000,
            "behind by ops, the older of the two"
        );
        c.last_heard_ms = now - 100;
        assert_eq!(c.ms_behind(now), 7000);
        c.ops_behind = 0;
        c.state = ChannelState::Paused;
        c.last_heard_ms = now - 60_000;
        assert_eq!(c.ms_behind(now), 0, "paused: silent on purpose");
    }

    #[test]
    fn acknowledgements_of_readers_gone_are_forgotten_and_stay_forgotten() {
        let meta = sled::Config::new().temporary(true).open().expect("sled");
        let sync = SyncState::default();
        let mut vv = VersionVector::new();
        vv.raise(ServerId(1), OpId(10));
        // Another region, two nodes of this one, one since restarted under a new server-id
        // (4, then 5), and a record from before entries were per node.
        assert_eq!(ack_key("eu", "us", 9), "us");
        assert!(is_own_region_key("eu", "eu/4") && is_own_region_key("eu", "eu"));
        assert!(!is_own_region_key("eu", "eu-west") && !is_own_region_key("eu", "us"));
        for (key, id) in [("us", 9), ("eu/4", 4), ("eu/5", 5), ("eu/6", 6), ("eu", 3)] {
            sync.acknowledge(key, id, &vv);
        }
        sync.save_acked(&meta).expect("save");
        // Node 6 is not in the region's assignment but is subscribed right now: kept.
        sync.outbound().insert(
            1,
            SubscriberStatus {
                region: "eu".into(),
                server_id: 6,
                ack_key: "eu/6".into(),
                frames_sent: 0,
            },
        );
        let mut gone = sync.forget_acks("eu", &[5].into(), true, &meta);
        gone.sort();
        assert_eq!(gone, ["eu", "eu/4"]);
        let left: Vec<String> = sync.acked().keys().cloned().collect();
        assert_eq!(left, ["eu/5", "eu/6", "us"]);
        // A restart loads only what is left.
        let reloaded = SyncState::default();
        reloaded.load_acked(&meta).expect("load");
        let left: Vec<String> = reloaded.acked().keys().cloned().collect();
        assert_eq!(left, ["eu/5", "eu/6", "us"]);
        // Demoted, it is read by no other region: their acknowledgements go too.
        assert_eq!(sync.forget_acks("eu", &[5].into(), false, &meta), ["us"]);
        let reloaded = SyncState::default();
        reloaded.load_acked(&meta).expect("load");
        let left: Vec<String> = reloaded.acked().keys().cloned().collect();
        assert_eq!(left, ["eu/5", "eu/6"]);
    }

    #[test]
    fn rates_are_measured_over_whole_seconds_and_fall_to_zero_when_idle() {
        let peer: crate::config::Peer = "eu=h:1".parse().expect("peer");
        let mut c = ChannelStatus::new(&peer);
        c.received(100, 1000, 10_000);
        assert_eq!(c.rates(10_000), (0, 0), "no whole second yet");
        c.received(100, 1000, 10_500);
        c.received(100, 1000, 11_000);
        assert_eq!(c.rates(11_500), (300, 3000));
        assert_eq!(c.ops_applied, 300);
        assert_eq!(c.rates(13_500), (0, 0), "idle for over two seconds");
    }
}
