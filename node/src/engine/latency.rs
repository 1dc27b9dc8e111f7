//! The latency monitor (LATENCY LATEST, HISTORY, RESET, GRAPH, DOCTOR): events slower than
//! `latency-monitor-threshold` ms, by event name, as Redis keeps them: per event the last
//! 160 samples (one per second, the worst of that second) and the worst ever.

use std::collections::{BTreeMap, VecDeque};

/// Samples kept per event.
const SAMPLES_MAX: usize = 160;

/// One sample: when (Unix seconds) and how long (ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub at_secs: u64,
    pub millis: u64,
}

/// One event's samples.
#[derive(Debug, Default)]
pub struct Event {
    /// Oldest first.
    samples: VecDeque<Sample>,
    /// The worst sample ever (until reset).
    pub max_millis: u64,
}

impl Event {
    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.samples.iter()
    }

    pub fn latest(&self) -> Option<&Sample> {
        self.samples.back()
    }
}

#[derive(Debug, Default)]
pub struct Latency {
    events: BTreeMap<&'static str, Event>,
}

impl Latency {
    /// An event took `millis`: kept when the monitor is on (`threshold_ms` > 0) and it took
    /// at least that long.
    /// Inlined: every command is observed, and few are slow.
    #[inline]
    pub fn observe(&mut self, event: &'static str, millis: u64, threshold_ms: u64, now_secs: u64) {
        if threshold_ms != 0 && millis >= threshold_ms {
            self.record(event, millis, now_secs);
        }
    }

    #[inline(never)]
    fn record(&mut self, event: &'static str, millis: u64, now_secs: u64) {
        let e = self.events.entry(event).or_default();
        e.max_millis = e.max_millis.max(millis);
        match e.samples.back_mut() {
            Some(last) if last.at_secs == now_secs => last.millis = last.millis.max(millis),
            _ => {
                e.samples.push_back(Sample {
                    at_secs: now_secs,
                    millis,
                });
                if e.samples.len() > SAMPLES_MAX {
                    e.samples.pop_front();
                }
            }
        }
    }

    pub fn events(&self) -> impl Iterator<Item = (&'static str, &Event)> {
        self.events.iter().map(|(n, e)| (*n, e))
    }

    pub fn event(&self, name: &[u8]) -> Option<&Event> {
        self.events
            .iter()
            .find(|(n, _)| n.as_bytes() == name)
            .map(|(_, e)| e)
    }

    /// LATENCY RESET: the named events (all when none are named); how many were reset.
    pub fn reset(&mut self, names: &[&[u8]]) -> usize {
        let before = self.events.len();
        if names.is_empty() {
            self.events.clear();
        } else {
            self.events.retain(|n, _| !names.contains(&n.as_bytes()));
        }
        before - self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_worst_sample_per_second_and_the_last_160() {
        let mut l = Latency::default();
        l.observe("command", 5, 0, 1);
        assert!(l.event(b"command").is_none(), "the monitor is off");
        l.observe("command", 5, 10, 1);
        assert!(l.event(b"command").is_none(), "under the threshold");
        l.observe("command", 20, 10, 1);
        l.observe("command", 30, 10, 1);
        l.observe("command", 15, 10, 2);
        let e = l.event(b"command").expect("logged");
        let got: Vec<(u64, u64)> = e.samples().map(|s| (s.at_secs, s.millis)).collect();
        assert_eq!(got, [(1, 30), (2, 15)]);
        assert_eq!(e.max_millis, 30);
        for s in 3..200 {
            l.observe("command", 11, 10, s);
        }
        let e = l.event(b"command").expect("logged");
        assert_eq!(e.samples().count(), 160);
        assert_eq!(e.samples().next().map(|s| s.at_secs), Some(40));
        l.observe("expire-cycle", 11, 10, 1);
        assert_eq!(l.reset(&[b"nosuch"]), 0);
        assert_eq!(l.reset(&[b"command"]), 1);
        assert_eq!(l.reset(&[]), 1);
        assert_eq!(l.events().count(), 0);
    }
}
