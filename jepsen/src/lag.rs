//! Replication lag during a run: a monitor samples, a few times a second, how many ops each
//! region lacks of what the regions have applied between them (`lag.json`, and a plot in
//! the report).

use crate::cluster::Cluster;
use crate::history::History;
use crate::process::try_connect;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the monitor samples lag.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// One lag sample: when, which region, and how many ops it lacks that their origins have
/// (by the applied vectors in `INFO gdc`, read from every region at about that time).
#[derive(Clone, Debug, Serialize)]
pub struct LagSample {
    pub time_ms: f64,
    pub region: String,
    pub ops_behind: u64,
}

/// A node's applied vector (server-id → op), from `INFO gdc`.
fn applied(port: u16) -> Option<BTreeMap<u64, u64>> {
    let mut c = try_connect(port)?;
    let info: String = redis::cmd("INFO").arg("gdc").query(&mut c).ok()?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let vector = field("applied")?
        .split(',')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.parse().ok()?, v.parse().ok()?))
        })
        .collect();
    Some(vector)
}

/// Each region's lag: what it lacks of every origin's ops (the most any region has applied
/// of that origin: the origin itself, unless it lost some).
fn sample(cluster: &Cluster, time_ms: f64) -> Vec<LagSample> {
    let seen: Vec<(String, Option<BTreeMap<u64, u64>>)> = cluster
        .nodes
        .iter()
        .map(|n| (n.name.clone(), applied(n.port)))
        .collect();
    let mut made: BTreeMap<u64, u64> = BTreeMap::new();
    for vector in seen.iter().filter_map(|(_, s)| s.as_ref()) {
        for (&origin, &op) in vector {
            let e = made.entry(origin).or_default();
            *e = (*e).max(op);
        }
    }
    seen.into_iter()
        .filter_map(|(region, s)| {
            let vector = s?;
            let ops_behind = made
                .iter()
                .map(|(o, n)| n.saturating_sub(vector.get(o).copied().unwrap_or(0)))
                .sum();
            Some(LagSample {
                time_ms,
                region,
                ops_behind,
            })
        })
        .collect()
}

/// Sample every region's lag into `lag` until `stop` is set.
pub(crate) fn monitor(
    cluster: &Cluster,
    history: &History,
    stop: &AtomicBool,
    lag: &Mutex<Vec<LagSample>>,
) {
    while !stop.load(Ordering::SeqCst) {
        let samples = sample(cluster, history.elapsed_ms());
        lag.lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(samples);
        std::thread::sleep(SAMPLE_EVERY);
    }
}
