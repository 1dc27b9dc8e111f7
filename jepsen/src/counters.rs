//! Figures from every node's INFO over a run, for a workload that needs them (the cache's
//! evictions): sampled a few times a second while the workload runs, and once more after
//! the regions settle. A node's INFO counters start again from 0 when it restarts (kill -9,
//! or a clean stop), so a counter's total for a node is the sum over its lives, told apart
//! by INFO's `run_id`, of the last value sampled in each: what a node counted in its last
//! quarter second before a kill may be missed.

use crate::cluster::Cluster;
use crate::process::try_connect;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the monitor samples.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// How a field's samples make one figure per node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fold {
    /// A counter (`evicted_keys`): the sum over the node's lives of each life's last value.
    /// Reported as `<name>_<node>`, and `<name>` over every node.
    SumOverLives,
    /// A gauge (`used_memory`): the highest value sampled. Reported as `<name>_max_<node>`.
    Max,
}

/// A field of INFO (of the `server`, `memory` or `stats` section) to sample.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub fold: Fold,
}

/// One node's fields at one time, in the life `run_id`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub node: String,
    pub run_id: String,
    pub values: BTreeMap<String, u64>,
}

/// The node on `port`'s `run_id` and `fields`, if it answers.
fn sample_node(port: u16, fields: &[Field]) -> Option<(String, BTreeMap<String, u64>)> {
    let mut c = try_connect(port)?;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .arg("memory")
        .arg("stats")
        .query(&mut c)
        .ok()?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let run_id = field("run_id")?.to_string();
    let values = fields
        .iter()
        .filter_map(|f| Some((f.name.to_string(), field(f.name)?.parse().ok()?)))
        .collect();
    Some((run_id, values))
}

/// Every node that answers, now.
pub fn sample(cluster: &Cluster, fields: &[Field]) -> Vec<Sample> {
    cluster
        .nodes
        .iter()
        .filter_map(|n| {
            let (run_id, values) = sample_node(n.port, fields)?;
            Some(Sample {
                node: n.name.clone(),
                run_id,
                values,
            })
        })
        .collect()
}

/// Sample every node into `samples` until `stop` is set.
pub(crate) fn monitor(
    cluster: &Cluster,
    fields: &[Field],
    stop: &AtomicBool,
    samples: &Mutex<Vec<Sample>>,
) {
    while !stop.load(Ordering::SeqCst) {
        let now = sample(cluster, fields);
        samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(now);
        std::thread::sleep(SAMPLE_EVERY);
    }
}

/// The figures of `samples` (in the order taken), as verdict stats.
pub fn totals(samples: &[Sample], fields: &[Field]) -> Map<String, Value> {
    let mut out = Map::new();
    for f in fields {
        // Per node, per life: the last value; or per node the highest.
        let mut lives: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
        for s in samples {
            let Some(&value) = s.values.get(f.name) else {
                continue;
            };
            let life = lives.entry(&s.node).or_default();
            let v = life.entry(&s.run_id).or_default();
            *v = match f.fold {
                Fold::SumOverLives => value,
                Fold::Max => (*v).max(value),
            };
        }
        let mut all = 0;
        for (node, life) in lives {
            match f.fold {
                Fold::SumOverLives => {
                    let sum: u64 = life.values().sum();
                    all += sum;
                    out.insert(format!("{}_{node}", f.name), sum.into());
                }
                Fold::Max => {
                    let max = life.values().copied().max().unwrap_or(0);
                    out.insert(format!("{}_max_{node}", f.name), max.into());
                }
            }
        }
        if f.fold == Fold::SumOverLives {
            out.insert(f.name.to_string(), all.into());
        }
    }
    out
}

/// The figures of `fields` among a stored run's stats (`gdc-jepsen check` carries them: only
/// the live cluster could sample them).
pub fn carried(stats: &Map<String, Value>, fields: &[Field]) -> Map<String, Value> {
    stats
        .iter()
        .filter(|(k, _)| fields.iter().any(|f| k.starts_with(f.name)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Field, Fold, Sample, carried, totals};
    use serde_json::json;

    #[test]
    fn counters_add_up_over_a_nodes_lives_and_gauges_keep_their_highest() {
        let s = |node: &str, run_id: &str, evicted: u64, used: u64| Sample {
            node: node.into(),
            run_id: run_id.into(),
            values: [
                ("evicted_keys".into(), evicted),
                ("used_memory".into(), used),
            ]
            .into(),
        };
        let samples = [
            s("r1", "a", 3, 100),
            s("r2", "x", 0, 50),
            s("r1", "a", 10, 120),
            // r1 killed and restarted: its counters start again.
            s("r1", "b", 2, 90),
            s("r1", "b", 4, 110),
            s("r2", "x", 0, 60),
        ];
        let fields = [
            Field {
                name: "evicted_keys",
                fold: Fold::SumOverLives,
            },
            Field {
                name: "used_memory",
                fold: Fold::Max,
            },
        ];
        let t = totals(&samples, &fields);
        assert_eq!(
            serde_json::Value::Object(t.clone()),
            json!({
                "evicted_keys": 14, "evicted_keys_r1": 14, "evicted_keys_r2": 0,
                "used_memory_max_r1": 120, "used_memory_max_r2": 60,
            })
        );
        let mut stats = t;
        stats.insert("full_syncs".into(), json!(0));
        assert_eq!(carried(&stats, &fields).len(), 5);
    }
}
