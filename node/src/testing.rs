//! Hooks for gdc's consistency suite (`gdc-jepsen`), set by `--test-*` flags only (never by
//! a config file) and off unless given. A production node never uses them.
//!
//! - `--test-clock-offset-ms N`: the node's wall clock reads N ms ahead (negative: behind),
//!   to simulate clock skew between regions. Everything that reads the wall clock (HLC
//!   stamps, TTLs, TIME) sees the shifted clock.
//! - `--test-dial-via FROM=TO`: where a peer's sync address is FROM, dial TO instead, so
//!   a test can put a fault-injecting proxy on each link rather than one per sender.
//! - `--test-break ack-before-write`: break a promise on purpose, so the suite can be seen
//!   to catch it: the node answers writes while their binlog records wait in its memory
//!   (up to [`HOLD`]), so a kill -9 loses writes it acknowledged.
//! - `--test-break writes-need-coordinator`: the availability gdc gave up, brought back on
//!   purpose: a coordinated primary refuses writes while it has had no answer from the
//!   coordinators within the failover timeout (the write lease of old), so the suite can be
//!   seen to catch a region that stops taking writes when the coordinators are out of reach.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

static CLOCK_OFFSET_MS: AtomicI64 = AtomicI64::new(0);
static ACK_BEFORE_WRITE: AtomicBool = AtomicBool::new(false);
static WRITES_NEED_COORDINATOR: AtomicBool = AtomicBool::new(false);

/// How long `ack-before-write` holds acknowledged records before writing them.
pub const HOLD: std::time::Duration = std::time::Duration::from_millis(500);

/// The test hooks in force.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Testing {
    pub clock_offset_ms: i64,
    pub dial_via: Vec<(String, String)>,
    pub broken: Option<Broken>,
}

/// A promise broken on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Broken {
    /// Acknowledge writes before their records reach the binlog file.
    AckBeforeWrite,
    /// Refuse writes without a recent answer from the coordinators.
    WritesNeedCoordinator,
}

/// Make the process-wide hooks (the clock's, the stamps') take effect.
pub fn install(t: &Testing) {
    CLOCK_OFFSET_MS.store(t.clock_offset_ms, Ordering::Relaxed);
    ACK_BEFORE_WRITE.store(t.broken == Some(Broken::AckBeforeWrite), Ordering::Relaxed);
    WRITES_NEED_COORDINATOR.store(
        t.broken == Some(Broken::WritesNeedCoordinator),
        Ordering::Relaxed,
    );
}

/// How far the node's wall clock is shifted, in ms.
pub fn clock_offset_ms() -> i64 {
    CLOCK_OFFSET_MS.load(Ordering::Relaxed)
}

/// Whether writes are acknowledged before they are written (broken on purpose).
pub fn ack_before_write() -> bool {
    ACK_BEFORE_WRITE.load(Ordering::Relaxed)
}

/// Whether writes wait on the coordinators' answers (broken on purpose).
pub fn writes_need_coordinator() -> bool {
    WRITES_NEED_COORDINATOR.load(Ordering::Relaxed)
}

/// `FROM=TO`, two `host:port` addresses.
pub fn parse_dial_via(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((from, to)) if from.contains(':') && to.contains(':') => {
            Ok((from.to_string(), to.to_string()))
        }
        _ => Err(format!(
            "--test-dial-via is FROM=TO (host:port each), not '{s}'"
        )),
    }
}

impl Testing {
    /// The address to dial for a peer whose sync address is `addr`.
    pub fn dial<'a>(&'a self, addr: &'a str) -> &'a str {
        self.dial_via
            .iter()
            .find(|(from, _)| from == addr)
            .map_or(addr, |(_, to)| to.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_via_rewrites_only_the_address_it_names() {
        let t = Testing {
            dial_via: vec![parse_dial_via("127.0.0.1:1=127.0.0.1:2").expect("valid")],
            ..Testing::default()
        };
        assert_eq!(t.dial("127.0.0.1:1"), "127.0.0.1:2");
        assert_eq!(t.dial("127.0.0.1:3"), "127.0.0.1:3");
        assert!(parse_dial_via("127.0.0.1:1").is_err());
        assert!(parse_dial_via("a=b").is_err());
    }
}
