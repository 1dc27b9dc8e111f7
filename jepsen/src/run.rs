//! One run: start a cluster, run the workload's clients in every region while the nemesis
//! injects faults and a monitor samples each region's replication lag (ops behind), heal, wait for the
//! regions to settle, check, and write the report (`history.jsonl`, `results.json`,
//! `summary.txt`, `finals.json`, plots) to the run's directory.

use crate::availability::{self, RegionAvailability};
use crate::client::Client;
use crate::cluster::{Binaries, Cluster, ClusterSpec};
use crate::counters;
use crate::history::{self, History, Op};
use crate::lag::{self, LagSample};
use crate::nemesis::{self, Nemesis};
use crate::process::try_connect;
use crate::report;
use crate::rng::Rng;
use crate::workload::{Verdict, Workload};
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long the regions are given to agree once every fault is healed.
const SETTLE: Duration = Duration::from_secs(60);
/// How far apart two writes must start, beyond the nodes' clock skew, for the history to
/// be sure of their HLC order (clock reads, and milliseconds rounding).
const CLOCK_SLACK_MS: f64 = 5.0;
/// The clients per region of stored runs that did not record theirs: every run then had 2.
const CLIENTS_PER_REGION_OF_OLD_RUNS: usize = 2;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub bins: Binaries,
    pub workload: Workload,
    pub nemesis: Nemesis,
    pub regions: usize,
    pub clients_per_region: usize,
    /// How long the clients and the nemesis run.
    pub time_limit: Duration,
    pub seed: u64,
    /// The run's directory (the cluster's data goes in `data/`).
    pub out: PathBuf,
    /// A test-only way for every node to break a promise (`gdc-node --test-break`), so the
    /// checkers can be seen to catch it.
    pub broken: Option<String>,
}

/// What a run found.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub seed: u64,
    pub workload: Workload,
    pub nemesis: Nemesis,
    pub time_limit_s: f64,
    pub valid: bool,
    /// Every region's final reads and digest equal.
    pub converged: bool,
    pub verdict: Verdict,
    /// Each region's GDC.DIGEST of database 0 after settling.
    pub digests: PerRegion<String>,
    pub operations: usize,
    pub faults: usize,
    pub broken: Option<String>,
    /// Whether this verdict came from checking a stored run again (`gdc-jepsen check`).
    pub rechecked: bool,
    /// Clients per region: which region a client belongs to follows from it.
    pub clients_per_region: usize,
    /// How each region's writes went, and its longest stretch without one.
    pub availability: Vec<RegionAvailability>,
}

/// Per region, in order: its name and a value read there.
pub type PerRegion<T> = Vec<(String, T)>;

/// Each region's final reads and digest, if every region answers.
fn finals(cluster: &Cluster, w: Workload) -> Option<(PerRegion<Value>, PerRegion<String>)> {
    let mut values = Vec::new();
    let mut digests = Vec::new();
    for r in &cluster.nodes {
        let mut c = try_connect(r.port)?;
        let v = w.read_final(&mut c).ok()?;
        let d: String = redis::cmd("GDC.DIGEST").arg(0).query(&mut c).ok()?;
        values.push((r.name.clone(), v));
        digests.push((r.name.clone(), d));
    }
    Some((values, digests))
}

fn all_equal<T: PartialEq>(v: &PerRegion<T>) -> bool {
    v.windows(2).all(|w| w[0].1 == w[1].1)
}

/// The integer `field` of every inbound channel of the node on `port` (GDC.CHANNELS).
fn inbound(port: u16, field: &str) -> Option<Vec<i64>> {
    let mut c = try_connect(port)?;
    let channels: Vec<Vec<redis::Value>> = redis::cmd("GDC.CHANNELS").query(&mut c).ok()?;
    let mut out = Vec::new();
    for ch in channels {
        let fields: Vec<(String, redis::Value)> = ch
            .chunks(2)
            .filter_map(|kv| match kv {
                [redis::Value::BulkString(k), v] => {
                    Some((String::from_utf8_lossy(k).into_owned(), v.clone()))
                }
                _ => None,
            })
            .collect();
        let is_in = fields
            .iter()
            .any(|(k, v)| k == "direction" && *v == redis::Value::BulkString(b"in".to_vec()));
        for (k, v) in fields.iter().filter(|_| is_in) {
            if let (true, redis::Value::Int(n)) = (k == field, v) {
                out.push(*n);
            }
        }
    }
    Some(out)
}

/// Each node's final reads and digest once settled: every node reads the same, with equal
/// digests (or the time is up, and the checker says what differs).
fn settle(cluster: &Cluster, w: Workload) -> Result<(PerRegion<Value>, PerRegion<String>), String> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let now = finals(cluster, w);
        let agreed = now
            .as_ref()
            .is_some_and(|(v, d)| all_equal(v) && all_equal(d));
        if agreed || Instant::now() >= deadline {
            return now.ok_or_else(|| "a region does not answer after healing".to_string());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Run the workload's step after settling at the first region's node that takes writes.
fn after_settling(cluster: &Cluster, w: Workload, history: &History) -> Result<bool, String> {
    let mut last = Ok(false);
    for port in cluster.ports(0) {
        let Some(mut conn) = try_connect(port) else {
            continue;
        };
        last = w.after_settling(&mut conn, history);
        match &last {
            Err(e) if e.to_ascii_lowercase().contains("readonly") => continue,
            _ => return last,
        }
    }
    last
}

/// What differs between the nodes whose digests differ: the database's digest buckets
/// that differ, the keys whose digests differ in them, and each node's state of those keys
/// (GDC.DEBUG STATE), as text for `divergence.txt`. A few of each: enough to see the kind.
fn divergence(cluster: &Cluster) -> String {
    use std::collections::{BTreeMap, BTreeSet};
    use std::fmt::Write;
    let mut conns: Vec<(String, redis::Connection)> = cluster
        .nodes
        .iter()
        .filter_map(|n| Some((n.name.clone(), try_connect(n.port)?)))
        .collect();
    let buckets: Vec<Vec<String>> = conns
        .iter_mut()
        .map(|(_, c)| {
            redis::cmd("GDC.DIGEST")
                .arg(0)
                .arg("BUCKETS")
                .query(c)
                .unwrap_or_default()
        })
        .collect();
    let width = buckets.iter().map(Vec::len).max().unwrap_or(0);
    let differ: Vec<usize> = (0..width)
        .filter(|&b| buckets.windows(2).any(|w| w[0].get(b) != w[1].get(b)))
        .collect();
    let mut out = format!("digest buckets that differ: {differ:?}\n");
    for &b in differ.iter().take(4) {
        let per_node: Vec<BTreeMap<String, String>> = conns
            .iter_mut()
            .map(|(_, c)| {
                let flat: Vec<String> = redis::cmd("GDC.DIGEST")
                    .arg(0)
                    .arg("KEYS")
                    .arg(b)
                    .query(c)
                    .unwrap_or_default();
                flat.chunks(2)
                    .filter_map(|kv| Some((kv.first()?.clone(), kv.get(1)?.clone())))
                    .collect()
            })
            .collect();
        let keys: BTreeSet<&String> = per_node.iter().flat_map(|m| m.keys()).collect();
        for key in keys
            .into_iter()
            .filter(|k| per_node.windows(2).any(|w| w[0].get(*k) != w[1].get(*k)))
            .take(5)
        {
            let _ = writeln!(out, "bucket {b}, key {key}:");
            for (name, c) in conns.iter_mut() {
                let state: Option<String> = redis::cmd("GDC.DEBUG")
                    .arg("STATE")
                    .arg(key)
                    .query(c)
                    .unwrap_or_else(|e| Some(format!("({e})")));
                let _ = writeln!(out, "  {name}: {}", state.as_deref().unwrap_or("(none)"));
            }
        }
    }
    out
}

/// How often a region had to catch up by full sync (the retention nemesis's path), over
/// every node's inbound channels.
fn full_syncs(cluster: &Cluster) -> i64 {
    cluster
        .nodes
        .iter()
        .filter_map(|n| inbound(n.port, "full_syncs"))
        .flatten()
        .sum()
}

pub fn run(o: &Options) -> Result<Outcome, String> {
    // A run starts from nothing: a directory used before keeps its report until this run
    // writes its own, but not its cluster's data.
    let data = o.out.join("data");
    if data.exists() {
        std::fs::remove_dir_all(&data)
            .map_err(|e| format!("cannot clear {}: {e}", data.display()))?;
    }
    std::fs::create_dir_all(&data)
        .map_err(|e| format!("cannot create {}: {e}", o.out.display()))?;
    let _ = std::fs::remove_file(o.out.join("divergence.txt"));
    let mut rng = Rng::new(o.seed);
    let spec = ClusterSpec {
        regions: o.regions,
        secondaries: o.nemesis.secondaries(),
        broken: o.broken.clone(),
        clock_offsets_ms: o.nemesis.clock_offsets_ms(o.regions, &mut rng),
        node_flags: [o.nemesis.node_flags(), o.workload.node_flags()].concat(),
        coordinators: o.nemesis.coordinators(),
    };
    let cluster = Cluster::start(&o.bins, &spec, &data)?;
    let history = History::new();
    let stop = AtomicBool::new(false);
    let lag: Mutex<Vec<LagSample>> = Mutex::new(Vec::new());
    let fields = o.workload.info_fields();
    let samples: Mutex<Vec<counters::Sample>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for r in 0..cluster.regions.len() {
            for k in 0..o.clients_per_region {
                let (history, stop, ports) = (&history, &stop, cluster.ports(r));
                let id = r * o.clients_per_region + k;
                s.spawn(move || {
                    let mut c = Client::new(id, ports, history, stop, o.seed);
                    o.workload.client(&mut c);
                });
            }
        }
        let (cluster_ref, history_ref, stop_ref, lag_ref) = (&cluster, &history, &stop, &lag);
        s.spawn(move || lag::monitor(cluster_ref, history_ref, stop_ref, lag_ref));
        if !fields.is_empty() {
            let samples = &samples;
            s.spawn(move || counters::monitor(cluster_ref, fields, stop_ref, samples));
        }
        let rng = &mut rng;
        s.spawn(move || nemesis::run(o.nemesis, cluster_ref, rng, history_ref, stop_ref));
        // The run's length: the workload runs this long (not a wait for a condition).
        std::thread::sleep(o.time_limit);
        stop.store(true, Ordering::SeqCst);
    });
    cluster.heal_all();
    cluster.restart_all()?;
    history.record("nemesis", "info", "heal", serde_json::json!("final"));
    // Keys with a TTL must have expired before they are looked for: let that time pass.
    if o.workload.quiesce_ms() > 0 {
        let skew_ms = clock_spread_ms(&history.ops());
        std::thread::sleep(Duration::from_millis(o.workload.quiesce_ms() + skew_ms));
    }
    let (mut values, mut digests) = settle(&cluster, o.workload)?;
    if after_settling(&cluster, o.workload, &history)? {
        (values, digests) = settle(&cluster, o.workload)?;
    }
    if !all_equal(&digests) {
        let _ = std::fs::write(o.out.join("divergence.txt"), divergence(&cluster));
    }
    let mut samples = samples.into_inner().unwrap_or_else(|p| p.into_inner());
    samples.extend(counters::sample(&cluster, fields));
    let counters = counters::totals(&samples, fields);
    let ops = history.ops();
    let calls = history::calls(&ops);
    // Coordinator safety is judged over the primaries the coordinators recorded.
    let topology = cluster.topology()?;
    let span = Span {
        clients_per_region: o.clients_per_region,
        end_ms: o.time_limit.as_secs_f64() * 1e3,
    };
    let (mut verdict, converged, availability) = judge(
        o.workload, &ops, &values, &digests, &topology, &span, &counters,
    );
    verdict.stat("full_syncs", full_syncs(&cluster));
    verdict.valid = verdict.anomalies.is_empty();
    let outcome = Outcome {
        seed: o.seed,
        workload: o.workload,
        nemesis: o.nemesis,
        time_limit_s: o.time_limit.as_secs_f64(),
        valid: verdict.valid,
        converged,
        verdict,
        digests,
        operations: calls.len(),
        faults: ops.iter().filter(|op| op.process == "nemesis").count(),
        broken: o.broken.clone(),
        rechecked: false,
        clients_per_region: o.clients_per_region,
        availability,
    };
    let lag = lag.into_inner().unwrap_or_else(|p| p.into_inner());
    let write = || -> std::io::Result<()> {
        history.write(&o.out.join("history.jsonl"))?;
        std::fs::write(o.out.join("results.json"), pretty(&outcome))?;
        std::fs::write(o.out.join("finals.json"), pretty(&values))?;
        std::fs::write(o.out.join("topology.json"), pretty(&topology))?;
        std::fs::write(o.out.join("lag.json"), pretty(&lag))?;
        std::fs::write(o.out.join("summary.txt"), summary(&outcome))?;
        report::plots(&o.out, &ops, &calls, &lag)
    };
    write().map_err(|e| format!("cannot write the report: {e}"))?;
    Ok(outcome)
}

/// Pretty JSON, with a final newline.
fn pretty<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

/// The clocks' widest difference in a run, from the nemesis's records of the shifts.
fn clock_spread_ms(ops: &[Op]) -> u64 {
    let mut shifts: Vec<i64> = Vec::new();
    for op in ops
        .iter()
        .filter(|o| o.process == "nemesis" && o.f == "skew")
    {
        if let Some(all) = op.value["offsets_ms"].as_array() {
            shifts.extend(all.iter().filter_map(|p| p[1].as_i64()));
        }
        shifts.extend(op.value["offset_ms"].as_i64());
    }
    let (lo, hi) = (shifts.iter().min(), shifts.iter().max());
    lo.zip(hi).map_or(0, |(lo, hi)| hi.abs_diff(*lo))
}

/// What availability is measured over: how clients map to regions, and when the workload
/// ended (it began at 0).
struct Span {
    clients_per_region: usize,
    end_ms: f64,
}

/// Everything the checkers find in a run: the workload's checker (and its check of the
/// figures sampled from the nodes' INFO, `counters`), convergence over every node's final
/// reads and digests, coordinator safety over the recorded primaries, and each region's
/// availability (measured, and judged against its bound).
fn judge(
    workload: Workload,
    ops: &[Op],
    values: &PerRegion<Value>,
    digests: &PerRegion<String>,
    topology: &Value,
    span: &Span,
    counters: &Map<String, Value>,
) -> (Verdict, bool, Vec<RegionAvailability>) {
    let calls = history::calls(ops);
    let slack_ms = clock_spread_ms(ops) as f64 + CLOCK_SLACK_MS;
    let mut verdict = workload.check(&calls, values, slack_ms);
    verdict.stats.extend(counters.clone());
    workload.check_counters(counters, &mut verdict);
    let converged = all_equal(values) && all_equal(digests);
    if !all_equal(values) {
        let names: Vec<&str> = values.iter().map(|(r, _)| r.as_str()).collect();
        verdict.anomaly(format!(
            "regions did not converge: their final reads differ ({names:?}; see finals.json)"
        ));
    } else if !all_equal(digests) {
        verdict.anomaly(format!(
            "regions read the same but digests differ: {digests:?}"
        ));
    }
    for a in crate::safety::check(topology) {
        verdict.anomaly(format!("coordinator: {a}"));
    }
    verdict.stat(
        "primary_changes",
        topology["history"].as_array().map_or(0, Vec::len) as u64,
    );
    let regions = availability::regions(values.iter().map(|(node, _)| node.as_str()));
    let measured =
        availability::measure(ops, &calls, &regions, span.clients_per_region, span.end_ms);
    availability::check(&measured, &mut verdict);
    (verdict, converged, measured)
}

/// Check a stored run again (with this build's checkers) from its `history.jsonl`,
/// `finals.json`, `results.json` and `topology.json`; rewrite its `results.json` and
/// `summary.txt`. A run from before `topology.json` was kept keeps its coordinator
/// findings; counts only the live cluster could give (full syncs, the figures sampled from
/// the nodes' INFO) are kept as they were.
/// A run from before the nemesis recorded which nodes it took down has no down windows, so
/// a region it killed counts as taking no writes meanwhile.
pub fn recheck(dir: &Path) -> Result<Outcome, String> {
    let read = |name: &str| -> Result<Value, String> {
        let path = dir.join(name);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let before = read("results.json")?;
    let name = |k: &str| before[k].as_str().unwrap_or("").to_string();
    let workload = <Workload as clap::ValueEnum>::from_str(&name("workload"), true)?;
    let nemesis = <Nemesis as clap::ValueEnum>::from_str(&name("nemesis"), true)?;
    let ops = history::read(&dir.join("history.jsonl")).map_err(|e| e.to_string())?;
    let values: PerRegion<Value> =
        serde_json::from_value(read("finals.json")?).map_err(|e| format!("finals.json: {e}"))?;
    let digests: PerRegion<String> = serde_json::from_value(before["digests"].clone())
        .map_err(|e| format!("results.json digests: {e}"))?;
    let stored = read("topology.json").ok();
    let topology = stored.clone().unwrap_or(Value::Null);
    let clients_per_region = before["clients_per_region"]
        .as_u64()
        .map_or(CLIENTS_PER_REGION_OF_OLD_RUNS, |n| n as usize);
    let time_limit_s = before["time_limit_s"].as_f64().unwrap_or(0.0);
    let span = Span {
        clients_per_region,
        end_ms: time_limit_s * 1e3,
    };
    let old = &before["verdict"];
    let empty = Map::new();
    let old_stats = old["stats"].as_object().unwrap_or(&empty);
    let counters = counters::carried(old_stats, workload.info_fields());
    let (mut verdict, converged, availability) = judge(
        workload, &ops, &values, &digests, &topology, &span, &counters,
    );
    if stored.is_none() {
        let carried = old["anomalies"].as_array().into_iter().flatten();
        for a in carried.filter_map(Value::as_str) {
            if a.starts_with("coordinator: ") {
                verdict.anomaly(a.to_string());
            }
        }
        let changes = old["stats"]["primary_changes"].clone();
        verdict.stats.insert("primary_changes".into(), changes);
    }
    let full_syncs = old["stats"]["full_syncs"].clone();
    verdict.stats.insert("full_syncs".into(), full_syncs);
    verdict.valid = verdict.anomalies.is_empty();
    let outcome = Outcome {
        seed: before["seed"].as_u64().unwrap_or(0),
        workload,
        nemesis,
        time_limit_s,
        valid: verdict.valid,
        converged,
        verdict,
        digests,
        operations: history::calls(&ops).len(),
        faults: ops.iter().filter(|op| op.process == "nemesis").count(),
        broken: before["broken"].as_str().map(String::from),
        rechecked: true,
        clients_per_region,
        availability,
    };
    std::fs::write(dir.join("results.json"), pretty(&outcome))
        .and_then(|()| std::fs::write(dir.join("summary.txt"), summary(&outcome)))
        .map_err(|e| format!("cannot write the results: {e}"))?;
    Ok(outcome)
}

/// The run in a few lines, for people.
pub fn summary(o: &Outcome) -> String {
    let mut s = format!(
        "workload {} nemesis {} seed {}{}: {}\n{} operations, {} nemesis events; converged: {}\n",
        o.workload.name(),
        o.nemesis.name(),
        o.seed,
        o.broken
            .as_deref()
            .map(|b| format!(" (broken on purpose: {b})"))
            .unwrap_or_default(),
        if o.valid { "valid" } else { "INVALID" },
        o.operations,
        o.faults,
        o.converged,
    );
    let stats: Vec<String> = o
        .verdict
        .stats
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    s.push_str(&format!("{}\n", stats.join(" ")));
    for region in &o.availability {
        s.push_str(&format!("{}\n", region.line()));
    }
    for a in o.verdict.anomalies.iter().take(20) {
        s.push_str(&format!("anomaly: {a}\n"));
    }
    if o.verdict.anomalies.len() > 20 {
        s.push_str(&format!(
            "... and {} more anomalies (results.json)\n",
            o.verdict.anomalies.len() - 20
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::recheck;
    use serde_json::json;

    /// A run stored before availability was measured (no clients per region, no down
    /// lists): judged again, each region's availability is measured, with 2 clients a region.
    #[test]
    fn a_stored_run_is_judged_again_with_each_regions_availability() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text).expect("write");
        };
        let mut history = String::new();
        let mut incr = |process: &str, end_ms: f64| {
            for (kind, t) in [("invoke", end_ms - 1.0), ("ok", end_ms)] {
                let op = json!({ "process": process, "type": kind, "f": "incr", "value": 1, "time_ms": t });
                history.push_str(&format!("{op}\n"));
            }
        };
        incr("0", 100.0);
        incr("3.1", 100.0);
        incr("1", 2500.0);
        incr("0.2", 4900.0);
        write("history.jsonl", history);
        write("finals.json", json!([["r1", 4], ["r2", 4]]).to_string());
        let results = json!({
            "seed": 1, "workload": "counter", "nemesis": "kill", "time_limit_s": 5.0,
            "digests": [["r1", "d"], ["r2", "d"]], "verdict": { "stats": { "full_syncs": 0 } },
        });
        write("results.json", results.to_string());
        let outcome = recheck(dir.path()).expect("recheck");
        assert_eq!(outcome.clients_per_region, 2);
        let stretches: Vec<(&str, f64)> = outcome
            .availability
            .iter()
            .map(|r| (r.region.as_str(), r.longest_stretch_ms))
            .collect();
        assert_eq!(stretches, vec![("r1", 2400.0), ("r2", 4900.0)]);
        assert_eq!(
            outcome.verdict.anomalies,
            vec![
                "availability: r2 took no write for 4900 ms (from 0.1 s to 5.0 s) though a node \
                 of it was up; the bound is 3000 ms"
                    .to_string()
            ]
        );
        let summary = std::fs::read_to_string(dir.path().join("summary.txt")).expect("summary");
        assert!(
            summary.contains(
                "r1: 3 writes, 0.0% refused, 0.0% unknown, longest stretch without a write 2400 ms"
            ),
            "{summary}"
        );
    }
}
