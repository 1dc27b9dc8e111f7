//! Short runs of the suite: three regions, increments everywhere, under partitions, kill -9
//! with restarts, and SIGSTOP pauses, on seeded schedules; the counter must be valid (nothing
//! acknowledged lost, nothing counted twice, every region equal) with equal digests.
//!
//! It runs the `gdc-node` and `gdc-coordinator` beside `gdc-jepsen`, which the workspace's
//! `cargo test` builds there.

use gdc_jepsen::cluster::Binaries;
use gdc_jepsen::nemesis::Nemesis;
use gdc_jepsen::run::{Options, run, summary};
use std::path::Path;
use std::time::Duration;

/// Run the counter for 8 s under `nemesis` and check it.
fn short_run(nemesis: Nemesis, seed: u64, fault: &str) {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_gdc-jepsen"))
        .parent()
        .expect("a directory")
        .to_path_buf();
    let bins = Binaries::in_dir(&bin_dir)
        .unwrap_or_else(|e| panic!("{e} (run the workspace's tests: cargo test --workspace)"));
    let out = tempfile::tempdir().expect("tempdir");
    let outcome = run(&Options {
        bins,
        regions: 3,
        clients_per_region: 2,
        time_limit: Duration::from_secs(8),
        nemesis,
        seed,
        out: out.path().to_path_buf(),
    })
    .expect("run");
    assert!(outcome.valid, "{}", summary(&outcome));
    assert!(outcome.counter.acknowledged > 100, "{}", summary(&outcome));
    for file in ["history.jsonl", "results.json", "summary.txt"] {
        assert!(out.path().join(file).is_file(), "{file}");
    }
    let history = std::fs::read_to_string(out.path().join("history.jsonl")).expect("history");
    assert!(
        history
            .lines()
            .any(|l| l.contains(&format!("\"f\":\"{fault}\""))),
        "the nemesis acted"
    );
}

#[test]
fn counter_under_partitions_is_valid() {
    short_run(Nemesis::Partition, 42, "partition");
}

#[test]
fn counter_under_kill_9_and_restart_is_valid() {
    short_run(Nemesis::Kill, 3, "kill");
}

#[test]
fn counter_under_sigstop_pauses_is_valid() {
    short_run(Nemesis::Pause, 5, "pause");
}
