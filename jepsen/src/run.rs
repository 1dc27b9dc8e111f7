//! One run: start a cluster, run the workload's clients in every region while the nemesis
//! injects faults, heal, wait for the regions to settle, check, and write the report
//! (`history.jsonl`, `results.json`, `summary.txt`) to the run's directory.

use crate::cluster::{Binaries, Cluster};
use crate::counter;
use crate::history::History;
use crate::nemesis::{self, Nemesis};
use crate::process::try_connect;
use crate::rng::Rng;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long the regions are given to agree once every fault is healed.
const SETTLE: Duration = Duration::from_secs(60);

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub bins: Binaries,
    pub regions: usize,
    pub clients_per_region: usize,
    /// How long the clients and the nemesis run.
    pub time_limit: Duration,
    pub nemesis: Nemesis,
    pub seed: u64,
    /// The run's directory (the cluster's data goes in `data/`).
    pub out: PathBuf,
}

/// What a run found.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub seed: u64,
    pub workload: &'static str,
    pub nemesis: String,
    pub valid: bool,
    pub counter: counter::Verdict,
    /// Each region's GDC.DIGEST of database 0 after settling.
    pub digests: PerRegion<String>,
    pub digests_equal: bool,
}

/// Per region, in order: its name and a value read there.
type PerRegion<T> = Vec<(String, T)>;

/// Each region's counter and digest, if every region answers.
fn finals(cluster: &Cluster) -> Option<(PerRegion<i64>, PerRegion<String>)> {
    let mut values = Vec::new();
    let mut digests = Vec::new();
    for r in &cluster.regions {
        let mut c = try_connect(r.port)?;
        let v: Option<i64> = redis::cmd("GET").arg(counter::KEY).query(&mut c).ok()?;
        let d: String = redis::cmd("GDC.DIGEST").arg(0).query(&mut c).ok()?;
        values.push((r.name.clone(), v.unwrap_or(0)));
        digests.push((r.name.clone(), d));
    }
    Some((values, digests))
}

pub fn run(o: &Options) -> Result<Outcome, String> {
    std::fs::create_dir_all(o.out.join("data"))
        .map_err(|e| format!("cannot create {}: {e}", o.out.display()))?;
    let cluster = Cluster::start(&o.bins, o.regions, &o.out.join("data"))?;
    let history = History::new();
    let stop = AtomicBool::new(false);
    let mut rng = Rng::new(o.seed);
    std::thread::scope(|s| {
        for (r, region) in cluster.regions.iter().enumerate() {
            for k in 0..o.clients_per_region {
                let (history, stop) = (&history, &stop);
                let id = r * o.clients_per_region + k;
                s.spawn(move || counter::client(id, region.port, history, stop));
            }
        }
        let (cluster, history, stop, rng) = (&cluster, &history, &stop, &mut rng);
        s.spawn(move || nemesis::run(o.nemesis, cluster, rng, history, stop));
        // The run's length: the workload runs this long (not a wait for a condition).
        std::thread::sleep(o.time_limit);
        stop.store(true, Ordering::SeqCst);
    });
    cluster.heal_all();
    cluster.restart_all()?;
    history.record("nemesis", "info", "heal", serde_json::json!("final"));
    // Settled: every region reads the same, with equal digests (or the time is up, and the
    // checker says what differs).
    let deadline = Instant::now() + SETTLE;
    let (values, digests) = loop {
        let now = finals(&cluster);
        let agreed = now.as_ref().is_some_and(|(v, d)| {
            v.windows(2).all(|w| w[0].1 == w[1].1) && d.windows(2).all(|w| w[0].1 == w[1].1)
        });
        if agreed || Instant::now() >= deadline {
            break now.ok_or("a region does not answer after healing")?;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let ops = history.ops();
    let counter = counter::check(&ops, values);
    let digests_equal = digests.windows(2).all(|w| w[0].1 == w[1].1);
    let outcome = Outcome {
        seed: o.seed,
        workload: "counter",
        nemesis: format!("{:?}", o.nemesis).to_lowercase(),
        valid: counter.valid && digests_equal,
        counter,
        digests,
        digests_equal,
    };
    history
        .write(&o.out.join("history.jsonl"))
        .map_err(|e| format!("cannot write the history: {e}"))?;
    let results = serde_json::to_string_pretty(&outcome).map_err(|e| e.to_string())?;
    std::fs::write(o.out.join("results.json"), results + "\n")
        .and_then(|()| std::fs::write(o.out.join("summary.txt"), summary(&outcome)))
        .map_err(|e| format!("cannot write the results: {e}"))?;
    Ok(outcome)
}

/// The run in a few lines, for people.
pub fn summary(o: &Outcome) -> String {
    let c = &o.counter;
    let mut s = format!(
        "workload {} nemesis {} seed {}: {}\n\
         increments: {} acknowledged, {} unknown, {} failed; finals {:?}; digests {}\n",
        o.workload,
        o.nemesis,
        o.seed,
        if o.valid { "valid" } else { "INVALID" },
        c.acknowledged,
        c.unknown,
        c.failed,
        c.finals,
        if o.digests_equal { "equal" } else { "DIFFER" },
    );
    for a in &c.anomalies {
        s.push_str(&format!("anomaly: {a}\n"));
    }
    s
}
