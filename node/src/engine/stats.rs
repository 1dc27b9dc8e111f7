//! Per command: calls, failures and a latency histogram (INFO commandstats and
//! latencystats, `/metrics`). Kept in the store, as every command runs under its lock.

/// Latency histogram buckets: bucket `b` counts calls that took less than 2^b ns (and at
/// least 2^(b-1)); the last one also counts everything slower (about 1 s and up).
pub const LATENCY_BUCKETS: usize = 31;

/// One command's counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct CommandStat {
    pub calls: u64,
    pub nanos: u64,
    pub failed: u64,
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
