//! Waiting between attempts: callers double a backoff up to their limit, plus jitter, so
//! that nodes cut off together do not call back in step.

use std::time::Duration;

/// A duration in `[0, max)`, different on every call.
pub fn jitter(max: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(crate::engine::store::now_ms());
    let nanos = max.as_nanos().max(1) as u64;
    Duration::from_nanos(h.finish() % nanos)
}
