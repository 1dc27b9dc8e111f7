//! The short matrix (every workload once, under several nemeses; 6 s each) must find no
//! anomaly, and a node broken on purpose must be caught.
//!
//! It runs the `gdc-node` and `gdc-coordinator` beside `gdc-jepsen`, which the workspace's
//! `cargo test` builds there.

use gdc_jepsen::cluster::Binaries;
use gdc_jepsen::matrix::SHORT;
use gdc_jepsen::nemesis::Nemesis;
use gdc_jepsen::run::{Options, Outcome, run, summary};
use gdc_jepsen::workload::Workload;
use std::path::Path;
use std::time::Duration;

fn run_one(
    workload: Workload,
    nemesis: Nemesis,
    seed: u64,
    secs: u64,
    broken: Option<&str>,
) -> (Outcome, tempfile::TempDir) {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_gdc-jepsen"))
        .parent()
        .expect("a directory")
        .to_path_buf();
    let bins = Binaries::in_dir(&bin_dir)
        .unwrap_or_else(|e| panic!("{e} (run the workspace's tests: cargo test --workspace)"));
    let out = tempfile::tempdir().expect("tempdir");
    let outcome = run(&Options {
        bins,
        workload,
        nemesis,
        regions: 3,
        clients_per_region: 2,
        time_limit: Duration::from_secs(secs),
        seed,
        out: out.path().to_path_buf(),
        broken: broken.map(String::from),
    })
    .expect("run");
    for file in [
        "history.jsonl",
        "results.json",
        "summary.txt",
        "latency.svg",
        "lag.svg",
    ] {
        assert!(out.path().join(file).is_file(), "{file}");
    }
    let history = std::fs::read_to_string(out.path().join("history.jsonl")).expect("history");
    if nemesis != Nemesis::None {
        assert!(
            history.lines().any(
                |l| l.contains("\"process\":\"nemesis\"") && !l.contains("\"value\":\"final\"")
            ),
            "the nemesis acted:\n{}",
            summary(&outcome)
        );
    }
    (outcome, out)
}

/// Run the `i`th pair of the short matrix; it must be valid.
fn short(i: usize) -> Outcome {
    let (w, n) = SHORT[i];
    let (outcome, _) = run_one(w, n, 1000 + i as u64, 6, None);
    assert!(outcome.valid, "{}", summary(&outcome));
    assert!(outcome.operations > 100, "{}", summary(&outcome));
    outcome
}

#[test]
fn counter_under_partitions() {
    short(0);
}

#[test]
fn register_under_clock_skew() {
    short(1);
}

#[test]
fn set_under_kill_9() {
    short(2);
}

#[test]
fn hash_under_flapping_links() {
    short(3);
}

#[test]
fn list_under_pauses() {
    short(4);
}

#[test]
fn ttl_under_wan_delay() {
    short(5);
}

#[test]
fn multi_under_coordinator_faults() {
    short(6);
}

#[test]
fn set_under_rolling_restarts() {
    short(7);
}

#[test]
fn counter_under_cuts_past_binlog_retention_catches_up_by_full_sync() {
    let outcome = short(8);
    assert!(
        outcome.verdict.stats["full_syncs"].as_i64() > Some(0),
        "the full-sync path ran: {}",
        summary(&outcome)
    );
}

#[test]
fn register_under_primary_failover() {
    let outcome = short(9);
    assert!(
        outcome.verdict.stats["primary_changes"].as_u64() > Some(3),
        "a secondary took over: {}",
        summary(&outcome)
    );
}

#[test]
fn counter_under_planned_switchovers() {
    let outcome = short(10);
    assert!(
        outcome.verdict.stats["primary_changes"].as_u64() > Some(3),
        "a switchover handed a region over: {}",
        summary(&outcome)
    );
}

#[test]
fn set_under_coordinator_leader_changes() {
    short(11);
}

#[test]
fn list_under_a_region_cut_off_from_everything_else() {
    short(12);
}

/// Nodes that acknowledge writes before writing them (`--test-break ack-before-write`):
/// kill -9 loses acknowledged increments, and the counter checker says so. (10 s: several
/// kills, each of a node that holds what it acknowledged in the last half second.) Judged
/// again from what the run stored (`gdc-jepsen check`), it is found the same.
#[test]
fn the_suite_catches_nodes_that_acknowledge_writes_before_writing_them() {
    let broken = Some("ack-before-write");
    let (outcome, out) = run_one(Workload::Counter, Nemesis::Kill, 3, 10, broken);
    assert!(!outcome.valid, "{}", summary(&outcome));
    let lost = |a: &String| a.contains("lost writes");
    assert!(
        outcome.verdict.anomalies.iter().any(lost),
        "{}",
        summary(&outcome)
    );
    let again = gdc_jepsen::run::recheck(out.path()).expect("recheck");
    assert!(again.rechecked && !again.valid, "{}", summary(&again));
    assert_eq!(again.verdict.anomalies, outcome.verdict.anomalies);
    assert_eq!(again.verdict.stats, outcome.verdict.stats);
}
