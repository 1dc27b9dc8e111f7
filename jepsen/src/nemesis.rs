//! Faults, on a schedule drawn from the run's seed.

use crate::cluster::Cluster;
use crate::history::History;
use crate::rng::Rng;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Which faults a run injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Nemesis {
    /// None: the baseline.
    None,
    /// Partitions: one region's sending cut (a one-way partition), or every link cut (all
    /// regions apart), for 0.5 to 2.5 s, then healed for as long.
    Partition,
    /// kill -9 of one region's node, restarted with its data 0.5 to 2.5 s later.
    Kill,
    /// SIGSTOP of one region's node, SIGCONT 0.5 to 2.5 s later.
    Pause,
}

/// Run `nemesis` against `cluster` until `stop`, recording what it does.
pub fn run(
    nemesis: Nemesis,
    cluster: &Cluster,
    rng: &mut Rng,
    history: &History,
    stop: &AtomicBool,
) {
    if nemesis == Nemesis::None {
        return;
    }
    let nap = |rng: &mut Rng| {
        let ms = rng.range(500, 2500);
        let end = std::time::Instant::now() + Duration::from_millis(ms);
        while std::time::Instant::now() < end && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    while !stop.load(Ordering::SeqCst) {
        nap(rng);
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if nemesis == Nemesis::Pause {
            let i = rng.range(0, cluster.regions.len() as u64) as usize;
            cluster.pause(i, true);
            let name = &cluster.regions[i].name;
            history.record("nemesis", "info", "pause", json!(name));
            nap(rng);
            cluster.pause(i, false);
            history.record("nemesis", "info", "resume", json!(name));
            continue;
        }
        if nemesis == Nemesis::Kill {
            let i = rng.range(0, cluster.regions.len() as u64) as usize;
            cluster.kill(i);
            let name = &cluster.regions[i].name;
            history.record("nemesis", "info", "kill", json!(name));
            nap(rng);
            let restarted = cluster.restart(i);
            history.record(
                "nemesis",
                "info",
                "restart",
                json!({ "region": name, "ok": restarted.is_ok() }),
            );
            continue;
        }
        let pick = rng.range(0, cluster.regions.len() as u64 + 1) as usize;
        let cut: Vec<&str> = match cluster.regions.get(pick) {
            Some(r) => {
                r.link.cut();
                vec![r.name.as_str()]
            }
            None => {
                for r in &cluster.regions {
                    r.link.cut();
                }
                cluster.regions.iter().map(|r| r.name.as_str()).collect()
            }
        };
        history.record("nemesis", "info", "partition", json!({ "cut": cut }));
        nap(rng);
        cluster.heal_all();
        history.record("nemesis", "info", "heal", json!(null));
    }
}
