//! What a channel is doing, and the one report of it that INFO replication, GDC.CHANNELS,
//! `/metrics` and the admin service's ListChannels all render ([`ChannelReport`]).

use gdc_crdt::{Hlc, VersionVector};
use std::fmt;

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
    /// Memory is over `maxmemory` and nothing can be evicted: the peer's effects wait (in
    /// its binlog, and the stream's flow control) until there is room again.
    OutOfMemory,
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
            ChannelState::OutOfMemory => "paused: out of memory",
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
    /// The peer's applied vector, as of its last batch after which this node held every op
    /// it covers: all the peer had made before it applied an op this vector covers (what
    /// was concurrent with that op) is here too (see [`super::Replication::stable`]).
    pub peer_applied_held: VersionVector,
    /// HLC time of the last op applied from this peer.
    pub last_hlc: Hlc,
    /// Ops the peer has that this node had not applied, as of the last batch.
    pub ops_behind: u64,
    /// Unix ms of the last batch from the peer (its heartbeats included), or of when the
    /// channel was opened or resumed, if later: silence is counted from then.
    pub last_heard_ms: u64,
    /// Unix ms of the last batch after which this node had everything the peer had
    /// applied when it sent it (0: not yet): every op the peer made before then is here.
    /// Expired keys wait for it (see [`super::Channels::caught_up_until_ms`]).
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
    /// A batch came with the peer's applied vector `theirs`, and this node has applied
    /// `ours` after it: the ops the peer has that this node lacks, returned and kept in
    /// `ops_behind`. Only with none lacking is the report taken as the peer's held vector
    /// (see [`super::Replication::stable`]): a report that ran ahead of the ops sent so
    /// far says nothing yet about what is here.
    pub(super) fn peer_reported(
        &mut self,
        theirs: VersionVector,
        ours: &VersionVector,
        now_ms: u64,
    ) -> u64 {
        let behind = theirs
            .iter()
            .map(|(s, op)| op.0.saturating_sub(ours.get(s).0))
            .sum();
        self.ops_behind = behind;
        if behind == 0 {
            self.caught_up_ms = now_ms;
            self.peer_applied_held = theirs;
        }
        behind
    }

    pub(super) fn new(peer: &crate::config::Peer) -> ChannelStatus {
        ChannelStatus {
            peer: peer.region.clone(),
            addr: peer.addr.clone(),
            state: ChannelState::Connecting,
            last_error: None,
            ops_applied: 0,
            bytes_received: 0,
            peer_applied_held: VersionVector::new(),
            last_hlc: Hlc::ZERO,
            ops_behind: 0,
            last_heard_ms: crate::engine::store::now_ms(),
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
/// across its subscriptions, under its [`crate::engine::acks::ack_key`].
#[derive(Clone, Debug)]
pub struct SubscriberStatus {
    pub region: String,
    pub server_id: u32,
    /// Its entry in the engine's acknowledgements.
    pub ack_key: String,
    pub frames_sent: u64,
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

/// Which way a channel runs, seen from this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// This node receives from the peer.
    In,
    /// The peer receives from this node.
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// One channel as every report shows it, taken at one moment. Inbound channels fill the
/// receiving figures, outbound ones the sending figures; the rest stay 0.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelReport {
    pub direction: Direction,
    /// The other region.
    pub peer: String,
    /// Inbound: the peer's sync address.
    pub addr: String,
    /// Outbound: the reader's server-id.
    pub server_id: u32,
    /// Outbound channels are always streaming while they exist.
    pub state: ChannelState,
    pub ops_applied: u64,
    pub bytes_received: u64,
    pub ops_per_sec: u64,
    pub bytes_per_sec: u64,
    /// Inbound: ops the peer has that this node lacks. Outbound: ops this node has that
    /// the reader has not acknowledged.
    pub ops_behind: u64,
    pub ms_behind: u64,
    pub connects: u64,
    pub full_syncs: u64,
    pub anti_entropy_rounds: u64,
    pub repaired_keys: u64,
    pub last_error: String,
    /// Outbound: binlog frames sent on the reader's current subscription.
    pub frames_sent: u64,
}

impl ChannelReport {
    /// An inbound channel's report as of `now_ms`.
    pub fn inbound(c: &ChannelStatus, now_ms: u64) -> ChannelReport {
        let (ops_per_sec, bytes_per_sec) = c.rates(now_ms);
        ChannelReport {
            direction: Direction::In,
            peer: c.peer.clone(),
            addr: c.addr.clone(),
            server_id: 0,
            state: c.state,
            ops_applied: c.ops_applied,
            bytes_received: c.bytes_received,
            ops_per_sec,
            bytes_per_sec,
            ops_behind: c.ops_behind,
            ms_behind: c.ms_behind(now_ms),
            connects: c.connects,
            full_syncs: c.full_syncs,
            anti_entropy_rounds: c.anti_entropy_rounds,
            repaired_keys: c.repaired_keys,
            last_error: c.last_error.clone().unwrap_or_default(),
            frames_sent: 0,
        }
    }

    /// An outbound channel's report: `unacknowledged` ops the reader lacks.
    pub fn outbound(s: &SubscriberStatus, unacknowledged: u64) -> ChannelReport {
        ChannelReport {
            direction: Direction::Out,
            peer: s.region.clone(),
            addr: String::new(),
            server_id: s.server_id,
            state: ChannelState::Streaming,
            ops_applied: 0,
            bytes_received: 0,
            ops_per_sec: 0,
            bytes_per_sec: 0,
            ops_behind: unacknowledged,
            ms_behind: 0,
            connects: 0,
            full_syncs: 0,
            anti_entropy_rounds: 0,
            repaired_keys: 0,
            last_error: String::new(),
            frames_sent: s.frames_sent,
        }
    }

    /// The figures INFO and GDC.CHANNELS show, named and in order.
    pub fn fields(&self) -> Vec<(&'static str, Shown)> {
        let text = |t: &str| Shown::Text(t.to_string());
        match self.direction {
            Direction::In => vec![
                ("peer", text(&self.peer)),
                ("addr", text(&self.addr)),
                ("state", text(&self.state.to_string())),
                ("ops_applied", Shown::Int(self.ops_applied)),
                ("bytes_received", Shown::Int(self.bytes_received)),
                ("ops_per_sec", Shown::Int(self.ops_per_sec)),
                ("bytes_per_sec", Shown::Int(self.bytes_per_sec)),
                ("ops_behind", Shown::Int(self.ops_behind)),
                ("ms_behind", Shown::Int(self.ms_behind)),
                ("connects", Shown::Int(self.connects)),
                ("full_syncs", Shown::Int(self.full_syncs)),
                ("anti_entropy_rounds", Shown::Int(self.anti_entropy_rounds)),
                ("repaired_keys", Shown::Int(self.repaired_keys)),
                ("last_error", text(&self.last_error)),
            ],
            Direction::Out => vec![
                ("peer", text(&self.peer)),
                ("server_id", Shown::Int(u64::from(self.server_id))),
                ("frames_sent", Shown::Int(self.frames_sent)),
                ("ops_unacknowledged", Shown::Int(self.ops_behind)),
            ],
        }
    }

    /// As the admin service's ListChannels sends it.
    pub fn to_proto(&self) -> gdc_proto::admin::Channel {
        gdc_proto::admin::Channel {
            direction: self.direction.as_str().into(),
            peer: self.peer.clone(),
            addr: self.addr.clone(),
            state: self.state.to_string(),
            ops_applied: self.ops_applied,
            ops_behind: self.ops_behind,
            ms_behind: self.ms_behind,
            last_error: self.last_error.clone(),
            full_syncs: self.full_syncs,
            repaired_keys: self.repaired_keys,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ChannelState, ChannelStatus};
    use gdc_crdt::Hlc;

    /// A peer's applied vector counts toward the stable vector only once this node holds
    /// every op it covers: a report ahead of the ops received so far is not taken.
    #[test]
    fn a_peer_report_counts_only_once_its_ops_are_here() {
        use gdc_crdt::{OpId, ServerId, VersionVector};
        let vv = |ops: &[(u32, u64)]| {
            let mut v = VersionVector::new();
            for &(s, op) in ops {
                v.raise(ServerId(s), OpId(op));
            }
            v
        };
        let peer = crate::config::Peer {
            region: "eu".into(),
            addr: "h:1".into(),
        };
        let mut c = ChannelStatus::new(&peer);
        // The peer has applied 7 of server 1's ops and 3 of its own; 5 and 3 are here.
        let ahead = vv(&[(1, 7), (2, 3)]);
        assert_eq!(c.peer_reported(ahead, &vv(&[(1, 5), (2, 3)]), 100), 2);
        assert_eq!(c.ops_behind, 2);
        assert_eq!(c.peer_applied_held, VersionVector::new(), "not taken");
        assert_eq!(c.caught_up_ms, 0);
        // A report this node holds whole is taken, and stays until the next one held.
        let held = vv(&[(1, 5), (2, 3)]);
        assert_eq!(
            c.peer_reported(held.clone(), &vv(&[(1, 6), (2, 3)]), 200),
            0
        );
        assert_eq!(c.peer_applied_held, held);
        assert_eq!(c.caught_up_ms, 200);
        assert_eq!(
            c.peer_reported(vv(&[(1, 9), (2, 4)]), &vv(&[(1, 6), (2, 3)]), 300),
            4
        );
        assert_eq!(c.peer_applied_held, held, "the last held report stays");
        assert_eq!(c.caught_up_ms, 200);
    }

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
