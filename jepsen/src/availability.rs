//! Availability: whether every region kept taking writes. A refused write did not happen,
//! so no safety checker can see a region turned read-only, and a system that refuses every
//! write would pass them all. So every run measures, per region, how its clients' writes
//! ended and the longest stretch in which the region acknowledged none, leaving out the
//! windows in which the nemesis itself had every node of the region down; a stretch longer
//! than [`BOUND_MS`] makes the run invalid.
//!
//! The down windows come from the history, so a stored run can be judged again: a nemesis
//! record lists under [`DOWN`] the nodes it is about to take down (recorded before the
//! action) and under [`UP`] those it has brought back (recorded after). Histories from
//! before these lists simply have no down windows.

use crate::cluster::{FAILOVER_TIMEOUT_MS, region_of};
use crate::history::{Call, Op};
use crate::workload::Verdict;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;

/// The key of a nemesis record's list of the nodes it takes down.
pub const DOWN: &str = "down";
/// The key of a nemesis record's list of the nodes it has brought back.
pub const UP: &str = "up";

/// The verdict's stat with the share of all writes refused or unknown (0 to 1).
pub const REFUSED_OR_UNKNOWN_SHARE: &str = "writes_refused_or_unknown_share";

/// What the bound allows beyond the coordinators' failover timeout: after a kill -9 the
/// failover itself takes up to about 1 s more than the timeout, with the promotion's round
/// trips; clients cycle through the region's nodes with 50 ms pauses, on new connections;
/// a restarted node registers with the coordinators again before it takes writes.
pub const MARGIN_MS: u64 = 2000;

/// The longest a region with a node up may go without acknowledging a write.
pub const BOUND_MS: u64 = FAILOVER_TIMEOUT_MS + MARGIN_MS;

/// A region and the names of its nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionNodes {
    pub name: String,
    pub nodes: Vec<String>,
}

/// The regions of the nodes named `nodes` (`r1`, `r1.2`, `r2`, ...), in the order they
/// first appear.
pub fn regions<'a>(nodes: impl IntoIterator<Item = &'a str>) -> Vec<RegionNodes> {
    let mut regions: Vec<RegionNodes> = Vec::new();
    for node in nodes {
        let name = region_of(node);
        match regions.iter_mut().find(|r| r.name == name) {
            Some(r) => r.nodes.push(node.to_string()),
            None => regions.push(RegionNodes {
                name: name.to_string(),
                nodes: vec![node.to_string()],
            }),
        }
    }
    regions
}

/// How one region's writes went.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RegionAvailability {
    pub region: String,
    /// Writes its clients invoked (every call but `read`).
    pub writes: u64,
    pub acknowledged: u64,
    /// Refused by the server (`fail`).
    pub refused: u64,
    /// No reply (`info`), or still in flight at the end.
    pub unknown: u64,
    /// `refused / writes` (0 without writes).
    pub refused_share: f64,
    /// `unknown / writes` (0 without writes).
    pub unknown_share: f64,
    /// How long the nemesis had every node of the region down.
    pub down_ms: f64,
    /// The longest stretch of the workload, outside those down windows, in which no write
    /// of the region was acknowledged; and when it began and ended.
    pub longest_stretch_ms: f64,
    pub stretch_from_ms: f64,
    pub stretch_to_ms: f64,
}

impl RegionAvailability {
    /// One line for people.
    pub fn line(&self) -> String {
        format!(
            "{}: {} writes, {:.1}% refused, {:.1}% unknown, longest stretch without a write {:.0} ms",
            self.region,
            thousands(self.writes),
            self.refused_share * 100.0,
            self.unknown_share * 100.0,
            self.longest_stretch_ms,
        )
    }
}

/// `3120` as `3,120`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// The client number of a client process (`<id>` or `<id>.<session>`).
fn client_id(process: &str) -> Option<usize> {
    process.split('.').next()?.parse().ok()
}

/// Each region's availability over a workload that ran from 0 to `end_ms`, its clients
/// numbered region by region (`clients_per_region` each), from the clients' `calls` and the
/// nemesis's records in `ops`.
pub fn measure(
    ops: &[Op],
    calls: &[Call],
    regions: &[RegionNodes],
    clients_per_region: usize,
    end_ms: f64,
) -> Vec<RegionAvailability> {
    let region_index = |c: &Call| client_id(&c.process).map(|id| id / clients_per_region.max(1));
    regions
        .iter()
        .enumerate()
        .map(|(i, region)| {
            let writes: Vec<&Call> = calls
                .iter()
                .filter(|c| c.f != "read" && region_index(c) == Some(i))
                .collect();
            let count = |outcome: &str| writes.iter().filter(|c| c.outcome == outcome).count();
            let (acknowledged, refused) = (count("ok"), count("fail"));
            let unknown = writes.len() - acknowledged - refused;
            let share = |n: usize| {
                if writes.is_empty() {
                    0.0
                } else {
                    n as f64 / writes.len() as f64
                }
            };
            let mut acks: Vec<f64> = writes.iter().filter(|c| c.ok()).map(|c| c.end_ms).collect();
            acks.sort_by(f64::total_cmp);
            let down = down_windows(ops, &region.nodes, end_ms);
            let (from, to) = longest_stretch(&acks, &down, end_ms);
            RegionAvailability {
                region: region.name.clone(),
                writes: writes.len() as u64,
                acknowledged: acknowledged as u64,
                refused: refused as u64,
                unknown: unknown as u64,
                refused_share: share(refused),
                unknown_share: share(unknown),
                down_ms: down.iter().map(|(a, b)| b - a).sum(),
                longest_stretch_ms: to - from,
                stretch_from_ms: from,
                stretch_to_ms: to,
            }
        })
        .collect()
}

/// When the nemesis had every one of `nodes` down, within 0 to `end_ms`: sorted, disjoint.
/// A window still open at the end closes there.
fn down_windows(ops: &[Op], nodes: &[String], end_ms: f64) -> Vec<(f64, f64)> {
    let mut down: BTreeSet<&str> = BTreeSet::new();
    let mut windows = Vec::new();
    let mut since: Option<f64> = None;
    for op in ops.iter().filter(|o| o.process == "nemesis") {
        let listed = |key: &str| {
            op.value
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
        };
        down.extend(listed(DOWN));
        for node in listed(UP) {
            down.remove(node);
        }
        let all_down = !nodes.is_empty() && nodes.iter().all(|n| down.contains(n.as_str()));
        match (since, all_down) {
            (None, true) => since = Some(op.time_ms),
            (Some(from), false) => {
                windows.push((from, op.time_ms));
                since = None;
            }
            _ => {}
        }
    }
    windows.extend(since.map(|from| (from, end_ms)));
    windows
        .into_iter()
        .map(|(a, b)| (a.max(0.0), b.min(end_ms)))
        .filter(|(a, b)| a < b)
        .collect()
}

/// The longest interval of 0 to `end_ms` outside the `down` windows (sorted, disjoint) with
/// none of the times `acks` (sorted) inside it: its start and end. A down window splits a
/// stretch in two; each piece counts on its own.
fn longest_stretch(acks: &[f64], down: &[(f64, f64)], end_ms: f64) -> (f64, f64) {
    let mut best = (0.0, 0.0);
    let mut consider = |from: f64, to: f64| {
        if to - from > best.1 - best.0 {
            best = (from, to);
        }
    };
    let mut ups = Vec::with_capacity(down.len() + 1);
    let mut up_from = 0.0;
    for &(a, b) in down {
        ups.push((up_from, a));
        up_from = b;
    }
    ups.push((up_from, end_ms));
    for (lo, hi) in ups.into_iter().filter(|(lo, hi)| lo < hi) {
        let first = acks.partition_point(|&t| t <= lo);
        let past = acks.partition_point(|&t| t < hi);
        let mut from = lo;
        for &t in &acks[first..past] {
            consider(from, t);
            from = t;
        }
        consider(from, hi);
    }
    best
}

/// Judge the measured regions: an anomaly for each whose longest stretch without a write
/// exceeds [`BOUND_MS`], and the share of all writes refused or unknown as a stat.
pub fn check(regions: &[RegionAvailability], verdict: &mut Verdict) {
    for r in regions
        .iter()
        .filter(|r| r.longest_stretch_ms > BOUND_MS as f64)
    {
        verdict.anomaly(format!(
            "availability: {} took no write for {:.0} ms (from {:.1} s to {:.1} s) though a node \
             of it was up; the bound is {BOUND_MS} ms",
            r.region,
            r.longest_stretch_ms,
            r.stretch_from_ms / 1e3,
            r.stretch_to_ms / 1e3,
        ));
    }
    let writes: u64 = regions.iter().map(|r| r.writes).sum();
    let not_taken: u64 = regions.iter().map(|r| r.refused + r.unknown).sum();
    let share = if writes == 0 {
        0.0
    } else {
        not_taken as f64 / writes as f64
    };
    verdict.stat(REFUSED_OR_UNKNOWN_SHARE, share);
}

#[cfg(test)]
mod tests {
    use super::{RegionAvailability, RegionNodes, check, measure, regions};
    use crate::history::{Op, calls};
    use crate::workload::Verdict;
    use serde_json::{Value, json};

    fn op(process: &str, kind: &'static str, f: &str, value: Value, time_ms: f64) -> Op {
        Op {
            process: process.into(),
            kind,
            f: f.into(),
            value,
            time_ms,
        }
    }

    /// A call of `f` by `process` from `start_ms` to `end_ms` that ended `outcome`.
    fn call(
        process: &str,
        f: &str,
        outcome: &'static str,
        (start_ms, end_ms): (f64, f64),
    ) -> [Op; 2] {
        [
            op(process, "invoke", f, Value::Null, start_ms),
            op(process, outcome, f, Value::Null, end_ms),
        ]
    }

    /// Acknowledged increments by `process`, each completing at one of `at_ms`.
    fn acks(process: &str, at_ms: &[f64]) -> Vec<Op> {
        at_ms
            .iter()
            .flat_map(|&t| call(process, "incr", "ok", (t - 1.0, t)))
            .collect()
    }

    fn nemesis(f: &str, value: Value, time_ms: f64) -> Op {
        op("nemesis", "info", f, value, time_ms)
    }

    fn sorted(mut ops: Vec<Op>) -> Vec<Op> {
        ops.sort_by(|a, b| a.time_ms.total_cmp(&b.time_ms));
        ops
    }

    fn region(name: &str, nodes: &[&str]) -> RegionNodes {
        RegionNodes {
            name: name.into(),
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
        }
    }

    /// Regions `r1` and `r2` with a node each, two clients each: measured and judged.
    fn judge(ops: &[Op], end_ms: f64) -> (Vec<RegionAvailability>, Verdict) {
        let rs = [region("r1", &["r1"]), region("r2", &["r2"])];
        let measured = measure(ops, &calls(ops), &rs, 2, end_ms);
        let mut verdict = Verdict::default();
        check(&measured, &mut verdict);
        (measured, verdict)
    }

    #[test]
    fn writes_are_counted_per_region_by_how_they_ended() {
        let mut ops = Vec::new();
        ops.extend(call("0", "incr", "ok", (10.0, 20.0)));
        ops.extend(call("0", "incr", "fail", (30.0, 40.0)));
        ops.extend(call("0", "read", "ok", (41.0, 42.0)));
        ops.extend(call("1.1", "write", "info", (50.0, 60.0)));
        ops.extend(call("1", "add", "ok", (70.0, 80.0)));
        // Still in flight at the end: unknown.
        ops.push(op("0.2", "invoke", "push", Value::Null, 90.0));
        ops.extend(call("3.4", "delete", "ok", (100.0, 200.0)));
        ops.extend(call("2", "read", "fail", (300.0, 400.0)));
        let (measured, verdict) = judge(&sorted(ops), 1000.0);
        let r1 = &measured[0];
        assert_eq!(
            (r1.writes, r1.acknowledged, r1.refused, r1.unknown),
            (5, 2, 1, 2)
        );
        assert_eq!((r1.refused_share, r1.unknown_share), (0.2, 0.4));
        assert_eq!(
            (r1.stretch_from_ms, r1.stretch_to_ms, r1.longest_stretch_ms),
            (80.0, 1000.0, 920.0)
        );
        let r2 = &measured[1];
        assert_eq!(
            (r2.region.as_str(), r2.writes, r2.acknowledged),
            ("r2", 1, 1)
        );
        assert_eq!(r2.longest_stretch_ms, 800.0);
        assert!(verdict.anomalies.is_empty(), "{:?}", verdict.anomalies);
        assert_eq!(verdict.stats[super::REFUSED_OR_UNKNOWN_SHARE], json!(0.5));
        assert_eq!(
            r1.line(),
            "r1: 5 writes, 20.0% refused, 40.0% unknown, longest stretch without a write 920 ms"
        );
    }

    #[test]
    fn a_stretch_inside_a_down_window_does_not_count_but_the_pieces_around_it_do() {
        let mut ops = acks("0", &[1000.0, 9000.0]);
        ops.extend(acks(
            "2",
            &(1..10).map(|s| s as f64 * 1000.0).collect::<Vec<_>>(),
        ));
        ops.push(nemesis(
            "kill",
            json!({ "node": "r1", "down": ["r1"] }),
            3500.0,
        ));
        ops.push(nemesis(
            "restart",
            json!({ "node": "r1", "ok": true, "up": ["r1"] }),
            7000.0,
        ));
        let (measured, verdict) = judge(&sorted(ops), 10_000.0);
        let r1 = &measured[0];
        assert_eq!(r1.down_ms, 3500.0);
        assert_eq!(
            (r1.stretch_from_ms, r1.stretch_to_ms, r1.longest_stretch_ms),
            (1000.0, 3500.0, 2500.0)
        );
        assert!(verdict.anomalies.is_empty(), "{:?}", verdict.anomalies);
        assert_eq!(measured[1].down_ms, 0.0);
        assert_eq!(measured[1].longest_stretch_ms, 1000.0);
    }

    #[test]
    fn a_stretch_without_writes_past_the_bound_while_a_node_was_up_is_an_anomaly() {
        let mut ops = acks("0", &(1..20).map(|s| s as f64 * 1000.0).collect::<Vec<_>>());
        let r2: Vec<f64> = (0..=12).map(|s| s as f64 * 1000.0 + 300.0).collect();
        ops.extend(acks("3", &[r2.as_slice(), &[19_712.0]].concat()));
        // r1 was down meanwhile, which excuses r1 only.
        ops.push(nemesis(
            "pause",
            json!({ "region": "r1", "down": ["r1"] }),
            14_000.0,
        ));
        ops.push(nemesis(
            "resume",
            json!({ "region": "r1", "up": ["r1"] }),
            15_000.0,
        ));
        ops.extend(call("2", "incr", "fail", (15_000.0, 15_001.0)));
        let (measured, verdict) = judge(&sorted(ops), 20_000.0);
        assert_eq!(measured[1].longest_stretch_ms, 7412.0);
        assert_eq!(
            verdict.anomalies,
            vec![
                "availability: r2 took no write for 7412 ms (from 12.3 s to 19.7 s) though a \
                 node of it was up; the bound is 3000 ms"
                    .to_string()
            ]
        );
    }

    #[test]
    fn a_region_whose_primary_is_killed_is_not_down_while_its_secondary_is_up() {
        let mut ops = acks("0", &[500.0, 6500.0]);
        ops.push(nemesis(
            "kill",
            json!({ "node": "r1", "down": ["r1"] }),
            1000.0,
        ));
        ops.push(nemesis(
            "failover",
            json!({ "region": "r1", "to": "r1.2" }),
            2000.0,
        ));
        ops.push(nemesis(
            "restart",
            json!({ "node": "r1", "ok": true, "up": ["r1"] }),
            6000.0,
        ));
        let ops = sorted(ops);
        let rs = [region("r1", &["r1", "r1.2"])];
        let measured = measure(&ops, &calls(&ops), &rs, 2, 7000.0);
        assert_eq!(measured[0].down_ms, 0.0);
        assert_eq!(measured[0].longest_stretch_ms, 6000.0);
        let mut verdict = Verdict::default();
        check(&measured, &mut verdict);
        assert_eq!(verdict.anomalies.len(), 1, "{:?}", verdict.anomalies);
        // Both nodes down (a pause of the region) is a down window.
        let mut both = ops.clone();
        both.push(nemesis("pause", json!({ "down": ["r1", "r1.2"] }), 1500.0));
        both.push(nemesis("resume", json!({ "up": ["r1", "r1.2"] }), 5500.0));
        let both = sorted(both);
        let measured = measure(&both, &calls(&both), &rs, 2, 7000.0);
        assert_eq!(measured[0].down_ms, 4000.0);
        assert_eq!(measured[0].longest_stretch_ms, 1000.0);
    }

    #[test]
    fn a_history_without_down_and_up_lists_has_no_down_windows() {
        let mut ops = acks("1", &[100.0, 2000.0]);
        ops.extend(acks("2.3", &[1000.0, 2400.0]));
        ops.push(nemesis("kill", json!("r1"), 500.0));
        ops.push(nemesis(
            "restart",
            json!({ "region": "r1", "ok": true }),
            1500.0,
        ));
        ops.push(nemesis("heal", json!("final"), 2600.0));
        let (measured, verdict) = judge(&sorted(ops), 2500.0);
        assert_eq!(measured[0].down_ms, 0.0);
        assert_eq!(
            (measured[0].stretch_from_ms, measured[0].stretch_to_ms),
            (100.0, 2000.0)
        );
        assert_eq!(measured[1].longest_stretch_ms, 1400.0);
        assert!(verdict.anomalies.is_empty(), "{:?}", verdict.anomalies);
    }

    #[test]
    fn a_region_that_took_no_write_in_the_whole_run_fails() {
        let mut ops = acks("0", &(0..=6).map(|s| s as f64 * 1000.0).collect::<Vec<_>>());
        ops.extend(call("2", "incr", "fail", (10.0, 20.0)));
        ops.extend(call("3", "read", "ok", (30.0, 40.0)));
        let (measured, verdict) = judge(&sorted(ops), 6000.0);
        assert_eq!((measured[1].writes, measured[1].refused_share), (1, 1.0));
        assert_eq!(
            verdict.anomalies,
            vec![
                "availability: r2 took no write for 6000 ms (from 0.0 s to 6.0 s) though a node \
                 of it was up; the bound is 3000 ms"
                    .to_string()
            ]
        );
    }

    #[test]
    fn nodes_are_grouped_into_their_regions_in_order() {
        let rs = regions(["r1", "r1.2", "r2", "r2.2", "r10"]);
        assert_eq!(
            rs,
            vec![
                region("r1", &["r1", "r1.2"]),
                region("r2", &["r2", "r2.2"]),
                region("r10", &["r10"]),
            ]
        );
        assert_eq!(super::thousands(3120), "3,120");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
        assert_eq!(super::thousands(999), "999");
    }
}
