//! A sample of the keys whose conflicts the rules resolved, logged at INFO when
//! `gdc-conflict-log` is on: at most one line per rule per second, so a burst of conflicts
//! costs a few lines, not one per op. The counters themselves are in
//! [`super::stats::Stats`]; this only says which keys, so an operator can look at one.

use gdc_crdt::{Conflict, Conflicts, ServerId};
use std::time::{Duration, Instant};
use tracing::info;

/// How often one rule may log a line.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// How much of a key a line shows, in bytes before escaping.
const KEY_SHOWN_BYTES_MAX: usize = 128;

/// The sampler: when each rule last logged, and how many it left out since.
#[derive(Debug, Default)]
pub struct ConflictLog {
    enabled: bool,
    last: [Option<Instant>; Conflict::COUNT],
    left_out: [u64; Conflict::COUNT],
}

impl ConflictLog {
    /// `gdc-conflict-log`, at start and on CONFIG SET.
    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
    }

    /// A write made at `origin` to `key` in database `db` needed the rules in `found` as it
    /// was applied here (`here`) at `now`: a line for each rule whose second is not used up.
    pub fn resolved(
        &mut self,
        found: Conflicts,
        db: u32,
        key: &[u8],
        origin: ServerId,
        here: ServerId,
        now: Instant,
    ) {
        if !self.enabled {
            return;
        }
        for c in found.iter() {
            let i = c.index();
            if self.last[i].is_some_and(|t| now.duration_since(t) < SAMPLE_EVERY) {
                self.left_out[i] += 1;
                continue;
            }
            info!(
                db,
                key = %shown(key),
                data_type = c.data_type(),
                rule = c.rule(),
                origin_server = origin.0,
                local_server = here.0,
                left_out = self.left_out[i],
                "conflict resolved"
            );
            self.last[i] = Some(now);
            self.left_out[i] = 0;
        }
    }
}

/// A key as a log line can hold it: quoted and escaped as Redis's `sdscatrepr`, cut after
/// [`KEY_SHOWN_BYTES_MAX`] bytes (`...` says it was).
fn shown(key: &[u8]) -> String {
    let cut = key.len() > KEY_SHOWN_BYTES_MAX;
    let mut out = String::with_capacity(key.len().min(KEY_SHOWN_BYTES_MAX) + 5);
    out.push('"');
    for &b in &key[..key.len().min(KEY_SHOWN_BYTES_MAX)] {
        match b {
            b'\\' | b'"' => {
                out.push('\\');
                out.push(b as char);
            }
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b if b.is_ascii_graphic() || b == b' ' => out.push(b as char),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    if cut {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_shown_escaped_and_cut() {
        assert_eq!(shown(b"a\"b\n\x01"), r#""a\"b\n\x01""#);
        let long = vec![b'k'; KEY_SHOWN_BYTES_MAX + 10];
        let s = shown(&long);
        assert!(s.ends_with("\"...") && s.len() == KEY_SHOWN_BYTES_MAX + 5);
    }

    #[test]
    fn each_rule_logs_at_most_once_a_second() {
        let mut log = ConflictLog::default();
        let t0 = Instant::now();
        let found = Conflicts::from(Conflict::SetAddWins);
        log.resolved(found, 0, b"k", ServerId(1), ServerId(2), t0);
        assert!(log.last.iter().all(Option::is_none), "off: nothing logged");
        log.set_enabled(true);
        log.resolved(found, 0, b"k", ServerId(1), ServerId(2), t0);
        log.resolved(found, 0, b"k", ServerId(1), ServerId(2), t0);
        let i = Conflict::SetAddWins.index();
        assert_eq!((log.last[i], log.left_out[i]), (Some(t0), 1));
        let t1 = t0 + SAMPLE_EVERY;
        log.resolved(found, 0, b"k", ServerId(1), ServerId(2), t1);
        assert_eq!((log.last[i], log.left_out[i]), (Some(t1), 0));
    }
}
