//! What the commands did: per command, calls, failures, rejections and a latency histogram
//! (by full name: `client|id` for a subcommand)
//! (INFO commandstats and latencystats, `/metrics`); error replies by their first word (INFO
//! errorstats); keys removed by expiry; conflicts the merge rules resolved as other
//! regions' ops were applied (INFO gdc, `/metrics`). Kept in the store, as every command runs under its
//! lock.

use std::collections::BTreeMap;

/// The counters (CONFIG RESETSTAT clears them).
#[derive(Debug, Default)]
pub struct Stats {
    /// Per command, in the order each first ran; found through `slots`.
    commands: Vec<(&'static str, CommandStat)>,
    /// Where each command's counters are. hashbrown's default hasher: the cheap hash
    /// matters, though a pipeline of one command finds its place in `last` instead.
    slots: hashbrown::HashMap<&'static str, usize>,
    /// The name (its address and length) and place of the command counted last.
    last: (usize, usize, usize),
    /// Error replies by their first word (`ERR`, `WRONGTYPE`, ...).
    errors: BTreeMap<String, u64>,
    /// Keys removed because they expired.
    pub expired_keys: u64,
    /// Per conflict rule, the other regions' ops whose outcome it decided here.
    pub conflicts: gdc_crdt::ConflictCounts,
    /// SLOWLOG (CONFIG RESETSTAT keeps it, as in Redis).
    pub slowlog: super::slowlog::SlowLog,
    /// LATENCY's events (CONFIG RESETSTAT keeps them, as in Redis).
    pub latency: super::latency::Latency,
}

impl Stats {
    /// A command ran for `nanos`; `error`: the error reply it gave, if it did, which
    /// `error_counted` says is in the error stats already (a script's).
    pub fn ran(
        &mut self,
        name: &'static str,
        nanos: u64,
        error: Option<&str>,
        error_counted: bool,
    ) {
        self.stat(name).record(nanos, error.is_some());
        if let Some(e) = error.filter(|_| !error_counted) {
            self.error(e);
        }
    }

    /// A command that waited, counted when it first ran, failed when it woke (a stream
    /// deleted under XREADGROUP): its `failed_calls`, and the error.
    pub fn failed_after_wait(&mut self, name: &'static str, error: &str) {
        self.stat(name).failed += 1;
        self.error(error);
    }

    /// A command was refused before it ran (arity, a read-only node, maxmemory, ...): its
    /// `rejected_calls`, and the error.
    pub fn rejected(&mut self, name: &'static str, error: &str) {
        self.stat(name).rejected += 1;
        self.error(error);
    }

    /// The counters of the command `name`. The same name as last time (the same static
    /// string: the command table's) skips the hash.
    fn stat(&mut self, name: &'static str) -> &mut CommandStat {
        let (addr, len, at) = self.last;
        let at = if name.as_ptr() as usize == addr && name.len() == len {
            at
        } else {
            let next = self.commands.len();
            let at = *self.slots.entry(name).or_insert(next);
            if at == next {
                self.commands.push((name, CommandStat::default()));
            }
            self.last = (name.as_ptr() as usize, name.len(), at);
            at
        };
        &mut self.commands[at].1
    }

    /// An error reply, counted by its first word (as Redis's errorstats).
    pub fn error(&mut self, message: &str) {
        let word = message.split(' ').next().unwrap_or_default();
        match self.errors.get_mut(word) {
            Some(n) => *n += 1,
            None => {
                self.errors.insert(word.to_string(), 1);
            }
        }
    }

    /// Per command, by name.
    pub fn commands(&self) -> Vec<(&'static str, &CommandStat)> {
        let mut all: Vec<_> = self.commands.iter().map(|(n, s)| (*n, s)).collect();
        all.sort_by_key(|(name, _)| *name);
        all
    }

    /// Error replies by first word, and their total.
    pub fn errors(&self) -> (&BTreeMap<String, u64>, u64) {
        (&self.errors, self.errors.values().sum())
    }

    /// CONFIG RESETSTAT: the counters, not the slow log or latency events.
    pub fn reset(&mut self) {
        let slowlog = std::mem::take(&mut self.slowlog);
        let latency = std::mem::take(&mut self.latency);
        *self = Stats {
            slowlog,
            latency,
            ..Stats::default()
        };
    }
}

/// Latency histogram buckets: bucket `b` counts calls that took less than 2^b ns (and at
/// least 2^(b-1)); the last one also counts everything slower (about 1 s and up).
pub const LATENCY_BUCKETS: usize = 31;

/// One command's counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct CommandStat {
    pub calls: u64,
    pub nanos: u64,
    pub failed: u64,
    /// Refused before it ran.
    pub rejected: u64,
    pub latency: [u64; LATENCY_BUCKETS],
}

impl CommandStat {
    pub fn record(&mut self, nanos: u64, failed: bool) {
        self.calls += 1;
        self.nanos += nanos;
        self.failed += failed as u64;
        let bucket = (u64::BITS - nanos.leading_zeros()) as usize;
        self.latency[bucket.min(LATENCY_BUCKETS - 1)] += 1;
    }

    /// The upper bound, in nanoseconds, of the calls in bucket `b`.
    pub fn bucket_bound_nanos(b: usize) -> u64 {
        1 << b
    }

    /// The bound below which at least `fraction` of the calls finished (0 without calls).
    pub fn percentile_nanos(&self, fraction: f64) -> u64 {
        let want = (self.calls as f64 * fraction).ceil() as u64;
        let mut seen = 0;
        for (b, n) in self.latency.iter().enumerate() {
            seen += n;
            if seen >= want.max(1) {
                return Self::bucket_bound_nanos(b);
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command's counters are found by its name, whatever string holds it: the name's
    /// address is only a shortcut for a run of one command.
    #[test]
    fn counters_are_kept_per_name_however_the_calls_interleave() {
        let mut stats = Stats::default();
        let other_get: &'static str = Box::leak(String::from("get").into_boxed_str());
        stats.ran("get", 1000, None, false);
        stats.ran("get", 1000, None, false);
        stats.ran("set", 3000, Some("ERR x"), false);
        stats.ran(other_get, 1000, None, false);
        stats.rejected("set", "ERR y");
        stats.failed_after_wait("get", "ERR z");
        let all = stats.commands();
        let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["get", "set"]);
        let (get, set) = (all[0].1, all[1].1);
        assert_eq!(
            (get.calls, get.nanos, get.failed, get.rejected),
            (3, 3000, 1, 0)
        );
        assert_eq!(
            (set.calls, set.nanos, set.failed, set.rejected),
            (1, 3000, 1, 1)
        );
        assert_eq!(stats.errors().1, 3);
        stats.reset();
        assert!(stats.commands().is_empty());
        stats.ran("set", 1, None, false);
        assert_eq!(stats.commands()[0].1.calls, 1);
    }
}
