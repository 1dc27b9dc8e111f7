//! Faults, on a schedule drawn from the run's seed. Each nemesis repeats: wait 0.5 to
//! 2.5 s, inject a fault, hold it 0.5 to 2.5 s, heal it; every action is recorded in the
//! history (process `nemesis`). A record of an action that takes nodes down (kill, stop,
//! pause) lists them under `down` and is made before the action; one that brings nodes back
//! lists them under `up` and is made after it: the availability check leaves out the time a
//! region had every node down.

use crate::availability::{DOWN, UP};
use crate::cluster::Cluster;
use crate::history::History;
use crate::proxy::Proxy;
use crate::rng::Rng;
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Which faults a run injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Nemesis {
    /// None: the baseline.
    None,
    /// Partitions of the links between regions, of one shape at a time: one region
    /// isolated, halves, one region's sending cut (one-way), a bridge (two regions apart,
    /// a third seeing both), or every region apart.
    Partition,
    /// Flapping links: random links cut and healed every 50 to 300 ms.
    Flapping,
    /// WAN delay: every link delayed 50 to 150 ms, redrawn every 0.2 to 1 s (jitter).
    Delay,
    /// kill -9 of one region's node, restarted with its data later.
    Kill,
    /// SIGSTOP of one region's node, SIGCONT later.
    Pause,
    /// Every node in turn stopped (SIGTERM) and started again, each back as primary
    /// before the next.
    Restarts,
    /// The coordinator killed (kill -9) and restarted, paused, or cut off from the nodes.
    Coordinator,
    /// Clock skew: every node started with its wall clock shifted by up to ±1 s, and
    /// now and then one restarted (kill -9) with a new shift.
    Skew,
    /// Primary failover: kill -9 of one region's primary; the coordinator promotes its
    /// secondary (each region has one in these runs); the old primary restarts later and
    /// rejoins as a secondary.
    Failover,
    /// Planned switchover (`gdcctl failover`): one region's primary is fenced, its
    /// secondary catches up and takes over, the old primary follows it.
    Switchover,
    /// Three coordinators; their leader killed (kill -9) and restarted, or paused (SIGSTOP)
    /// long enough for the others to elect a new one, and resumed not knowing it was
    /// deposed.
    Leader,
    /// A cut longer than binlog retention: one region stops receiving, the others write
    /// on, take a snapshot (SAVE) and, with 1 byte of retention, drop the binlog it
    /// covers; the region is restarted (kill -9) and healed, and can only catch up by
    /// full sync.
    Retention,
    /// One region cut off from the coordinators and from the other regions at once, past
    /// the failover timeout, while its clients still reach it: it must keep taking writes,
    /// and must not be failed over (each region has a secondary in these runs).
    Wan,
}

pub const ALL: [Nemesis; 14] = [
    Nemesis::None,
    Nemesis::Partition,
    Nemesis::Flapping,
    Nemesis::Delay,
    Nemesis::Kill,
    Nemesis::Pause,
    Nemesis::Restarts,
    Nemesis::Coordinator,
    Nemesis::Skew,
    Nemesis::Retention,
    Nemesis::Failover,
    Nemesis::Switchover,
    Nemesis::Leader,
    Nemesis::Wan,
];

/// The largest clock shift the skew nemesis gives a node.
pub const SKEW_MAX_MS: i64 = 1000;

/// How long the wan nemesis holds a region cut off (a range drawn from): past the
/// coordinators' failover timeout, so a coordinator that saw the region's secondary and
/// not its primary would fail the region over.
const WAN_HOLD_MS: (u64, u64) = (2000, 6000);

impl Nemesis {
    pub fn name(self) -> &'static str {
        match self {
            Nemesis::None => "none",
            Nemesis::Partition => "partition",
            Nemesis::Flapping => "flapping",
            Nemesis::Delay => "delay",
            Nemesis::Kill => "kill",
            Nemesis::Pause => "pause",
            Nemesis::Restarts => "restarts",
            Nemesis::Coordinator => "coordinator",
            Nemesis::Skew => "skew",
            Nemesis::Retention => "retention",
            Nemesis::Failover => "failover",
            Nemesis::Switchover => "switchover",
            Nemesis::Leader => "leader",
            Nemesis::Wan => "wan",
        }
    }

    /// Secondaries per region.
    pub fn secondaries(self) -> usize {
        match self {
            Nemesis::Failover | Nemesis::Switchover | Nemesis::Leader | Nemesis::Wan => 1,
            _ => 0,
        }
    }

    /// Coordinators in the cluster.
    pub fn coordinators(self) -> usize {
        match self {
            Nemesis::Leader => 3,
            _ => 1,
        }
    }

    /// More flags for every node.
    pub fn node_flags(self) -> Vec<String> {
        match self {
            Nemesis::Retention => vec!["--binlog-retention-bytes".into(), "1".into()],
            _ => Vec::new(),
        }
    }

    /// Each region's clock shift at the start (`rng` is the run's).
    pub fn clock_offsets_ms(self, regions: usize, rng: &mut Rng) -> Vec<i64> {
        match self {
            Nemesis::Skew => (0..regions).map(|_| skew(rng)).collect(),
            _ => vec![0; regions],
        }
    }
}

fn skew(rng: &mut Rng) -> i64 {
    rng.range(0, 2 * SKEW_MAX_MS as u64 + 1) as i64 - SKEW_MAX_MS
}

/// What the nemesis does, with the run's stop flag.
struct Ctx<'a> {
    cluster: &'a Cluster,
    rng: &'a mut Rng,
    history: &'a History,
    stop: &'a AtomicBool,
}

impl Ctx<'_> {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Wait `lo..hi` ms, or less if the run stops.
    fn nap(&mut self, lo: u64, hi: u64) {
        let end = Instant::now() + Duration::from_millis(self.rng.range(lo, hi));
        while Instant::now() < end && !self.stopped() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn record(&self, f: &str, value: Value) {
        self.history.record("nemesis", "info", f, value);
    }

    fn region(&mut self) -> usize {
        self.rng.range(0, self.cluster.regions.len() as u64) as usize
    }

    fn name(&self, i: usize) -> &str {
        &self.cluster.regions[i].name
    }

    fn names(&self, is: &[usize]) -> Vec<String> {
        is.iter().map(|&i| self.name(i).to_string()).collect()
    }

    /// `value` (an object) with the names of `nodes` (indices into the cluster's) under
    /// `list`.
    fn naming(&self, mut value: Value, list: &str, nodes: &[usize]) -> Value {
        let names: Vec<&str> = nodes
            .iter()
            .map(|&n| self.cluster.nodes[n].name.as_str())
            .collect();
        if let Some(fields) = value.as_object_mut() {
            fields.insert(list.to_string(), json!(names));
        }
        value
    }

    /// Record `f`, about to take `nodes` down: they are listed under [`DOWN`].
    fn record_down(&self, f: &str, value: Value, nodes: &[usize]) {
        self.record(f, self.naming(value, DOWN, nodes));
    }

    /// Record `f`, having brought `nodes` back: they are listed under [`UP`] if that worked
    /// (`ok`).
    fn record_up(&self, f: &str, value: Value, ok: bool, nodes: &[usize]) {
        let back = if ok { nodes } else { &[] };
        self.record(f, self.naming(value, UP, back));
    }

    /// kill -9 of region `i`'s primary, recorded first; which node that was.
    fn kill(&self, i: usize) -> usize {
        let n = self.cluster.primary(i);
        let node = &self.cluster.nodes[n].name;
        self.record_down(
            "kill",
            json!({ "region": self.name(i), "node": node }),
            &[n],
        );
        self.cluster.kill_node(n);
        n
    }
}

/// Run `nemesis` against `cluster` until `stop`, recording what it does (clock shifts
/// included: the run derives the clocks' widest difference from them).
pub fn run(
    nemesis: Nemesis,
    cluster: &Cluster,
    rng: &mut Rng,
    history: &History,
    stop: &AtomicBool,
) {
    let mut x = Ctx {
        cluster,
        rng,
        history,
        stop,
    };
    if nemesis == Nemesis::None {
        return;
    }
    if nemesis == Nemesis::Skew {
        let offsets: Vec<_> = (0..cluster.regions.len())
            .map(|i| json!([x.name(i), cluster.clock_offset_ms(i)]))
            .collect();
        x.record("skew", json!({ "offsets_ms": offsets }));
    }
    while !x.stopped() {
        x.nap(500, 2500);
        if x.stopped() {
            break;
        }
        match nemesis {
            Nemesis::None => {}
            Nemesis::Partition => partition(&mut x),
            Nemesis::Flapping => flapping(&mut x),
            Nemesis::Delay => delay(&mut x),
            Nemesis::Kill => {
                let i = x.region();
                let n = x.kill(i);
                x.nap(500, 2500);
                let ok = cluster.restart(i).is_ok();
                x.record_up(
                    "restart",
                    json!({ "region": x.name(i), "ok": ok }),
                    ok,
                    &[n],
                );
            }
            Nemesis::Failover => failover(&mut x),
            Nemesis::Switchover => switchover(&mut x),
            Nemesis::Leader => leader(&mut x),
            Nemesis::Pause => {
                let i = x.region();
                let nodes = &cluster.regions[i].nodes;
                x.record_down("pause", json!({ "region": x.name(i) }), nodes);
                cluster.pause(i, true);
                x.nap(500, 2500);
                cluster.pause(i, false);
                x.record_up("resume", json!({ "region": x.name(i) }), true, nodes);
            }
            Nemesis::Restarts => {
                for (n, node) in cluster.nodes.iter().enumerate() {
                    x.record_down("stop", json!({ "node": node.name }), &[n]);
                    cluster.stop_node(n);
                    let ok = cluster.restart_node(n).is_ok();
                    x.record_up("restart", json!({ "node": node.name, "ok": ok }), ok, &[n]);
                    let port = node.port;
                    let end = Instant::now() + Duration::from_secs(30);
                    while crate::cluster::role(port).as_deref() != Some("primary")
                        && Instant::now() < end
                    {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
            Nemesis::Coordinator => coordinator(&mut x),
            Nemesis::Retention => retention(&mut x),
            Nemesis::Wan => wan(&mut x),
            Nemesis::Skew => {
                let i = x.region();
                let ms = skew(x.rng);
                let n = x.kill(i);
                cluster.set_clock_offset(i, ms);
                let ok = cluster.restart(i).is_ok();
                let value = json!({ "region": x.name(i), "offset_ms": ms, "ok": ok });
                x.record_up("skew", value, ok, &[n]);
            }
        }
    }
}

fn cut(links: &[&Proxy]) {
    for l in links {
        l.cut();
    }
}

/// One partition of a shape drawn from the seed, held, then healed.
fn partition(x: &mut Ctx<'_>) {
    let c = x.cluster;
    let n = c.regions.len();
    let all: Vec<usize> = (0..n).collect();
    let i = x.region();
    let others: Vec<usize> = all.iter().copied().filter(|&j| j != i).collect();
    let (shape, links, groups) = match x.rng.range(0, 5) {
        0 => (
            "isolated",
            c.links_between(&[i], &others, true),
            vec![vec![i], others],
        ),
        1 => {
            // Halves: a random split into two non-empty groups.
            let mut a = vec![i];
            for &j in &others {
                if a.len() < n - 1 && x.rng.range(0, 2) == 0 {
                    a.push(j);
                }
            }
            let b: Vec<usize> = all.iter().copied().filter(|j| !a.contains(j)).collect();
            ("halves", c.links_between(&a, &b, true), vec![a, b])
        }
        2 => (
            "one-way",
            c.links_between(&[i], &others, false),
            vec![vec![i], others],
        ),
        3 if n >= 3 => {
            // A bridge: `i` sees everyone; the others are split and see only `i` and
            // their own side.
            let (a, b) = others.split_at(others.len() / 2);
            (
                "bridge",
                c.links_between(a, b, true),
                vec![a.to_vec(), vec![i], b.to_vec()],
            )
        }
        _ => {
            let links = c.links.values().collect();
            ("apart", links, all.iter().map(|&j| vec![j]).collect())
        }
    };
    cut(&links);
    let groups: Vec<Vec<String>> = groups.iter().map(|g| x.names(g)).collect();
    x.record("partition", json!({ "shape": shape, "groups": groups }));
    x.nap(500, 2500);
    c.heal_all();
    x.record("heal", json!(null));
}

/// A region's primary killed; the time until another of its nodes is primary recorded; the
/// old one started again later.
fn failover(x: &mut Ctx<'_>) {
    let c = x.cluster;
    let i = x.region();
    let old = x.kill(i);
    let killed = Instant::now();
    let end = killed + Duration::from_secs(20);
    let new = loop {
        let other = c.regions[i].nodes.iter().copied().find(|&n| {
            n != old && crate::cluster::role(c.nodes[n].port).as_deref() == Some("primary")
        });
        if other.is_some() || Instant::now() >= end {
            break other;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    x.record(
        "failover",
        json!({
            "region": x.name(i),
            "to": new.map(|n| c.nodes[n].name.clone()),
            "after_ms": killed.elapsed().as_millis() as u64,
        }),
    );
    x.nap(500, 2500);
    let ok = c.restart_node(old).is_ok();
    x.record_up(
        "restart",
        json!({ "node": c.nodes[old].name, "ok": ok }),
        ok,
        &[old],
    );
}

/// A planned switchover of a region drawn from the seed, recorded with what it reported:
/// the new primary and how long writes were refused.
fn switchover(x: &mut Ctx<'_>) {
    let i = x.region();
    x.record("switchover", json!(x.name(i)));
    let result = match x.cluster.switchover(i) {
        Ok(done) => json!({
            "region": x.name(i),
            "ok": true,
            "to": done["to"],
            "fenced_ms": done["fenced_ms"],
        }),
        Err(e) => json!({ "region": x.name(i), "ok": false, "error": e }),
    };
    x.record("switched", result);
}

/// One region cut off from what the others send while they snapshot and drop their binlog;
/// then it is restarted (kill -9), so it subscribes again from what it has, and healed.
fn retention(x: &mut Ctx<'_>) {
    let c = x.cluster;
    let i = x.region();
    let others: Vec<usize> = (0..c.regions.len()).filter(|&j| j != i).collect();
    cut(&c.links_between(&others, &[i], false));
    x.record(
        "partition",
        json!({ "shape": "retention", "cut_off": x.name(i) }),
    );
    x.nap(1000, 2500);
    let saved: Vec<bool> = others.iter().map(|&j| c.save(j)).collect();
    x.record("save", json!({ "regions": x.names(&others), "ok": saved }));
    // Long enough for the nodes' upkeep (every second) to drop what the snapshot covers.
    x.nap(1500, 2000);
    let n = x.kill(i);
    c.heal_all();
    let ok = c.restart(i).is_ok();
    x.record_up(
        "restart",
        json!({ "region": x.name(i), "ok": ok }),
        ok,
        &[n],
    );
}

/// One region cut off from the coordinators and from the other regions at once (every
/// link between its nodes and theirs, both ways), while links among its own nodes stay up
/// and its clients, which connect directly, still reach it; held past the failover timeout,
/// then healed. The coordinator hears from none of its nodes, so must fail none over.
fn wan(x: &mut Ctx<'_>) {
    let c = x.cluster;
    let i = x.region();
    cut(&c.cut_off(i));
    x.record("partition", json!({ "shape": "wan", "cut_off": x.name(i) }));
    x.nap(WAN_HOLD_MS.0, WAN_HOLD_MS.1);
    c.heal_all();
    x.record("heal", json!(null));
}

/// Links cut and healed quickly, for as long as a partition would last.
fn flapping(x: &mut Ctx<'_>) {
    let c = x.cluster;
    x.record("flapping", json!("start"));
    let end = Instant::now() + Duration::from_millis(x.rng.range(1000, 3000));
    while Instant::now() < end && !x.stopped() {
        for l in c.links.values() {
            if x.rng.range(0, 2) == 0 {
                l.cut();
            } else {
                l.heal();
            }
        }
        x.nap(50, 300);
    }
    c.heal_all();
    x.record("heal", json!(null));
}

/// WAN latency with jitter on every link, for a while.
fn delay(x: &mut Ctx<'_>) {
    let c = x.cluster;
    x.record("delay", json!("start"));
    let end = Instant::now() + Duration::from_millis(x.rng.range(1000, 4000));
    while Instant::now() < end && !x.stopped() {
        for l in c.links.values() {
            l.delay(Duration::from_millis(x.rng.range(50, 151)));
        }
        x.nap(200, 1000);
    }
    c.heal_all();
    x.record("heal", json!(null));
}

/// The coordinator killed and restarted, paused, or cut off from every node.
fn coordinator(x: &mut Ctx<'_>) {
    let c = x.cluster;
    match x.rng.range(0, 3) {
        0 => {
            c.kill_coordinator(0);
            x.record("kill", json!("coordinator"));
            x.nap(500, 2500);
            let ok = c.restart_coordinator(0).is_ok();
            x.record("restart", json!({ "coordinator": true, "ok": ok }));
        }
        1 => {
            c.pause_coordinator(0, true);
            x.record("pause", json!("coordinator"));
            x.nap(500, 2500);
            c.pause_coordinator(0, false);
            x.record("resume", json!("coordinator"));
        }
        _ => {
            for l in c.nodes.iter().flat_map(|n| &n.coordinator_links) {
                l.cut();
            }
            x.record("partition", json!({ "shape": "coordinator-cut-off" }));
            x.nap(500, 2500);
            c.heal_all();
            x.record("heal", json!(null));
        }
    }
}

/// The coordinators' leader killed and restarted, or paused past an election and resumed.
/// (Cutting nodes off from it alone would not hold: the others name the leader by its own
/// address, and nodes then call it there, past their proxies.)
fn leader(x: &mut Ctx<'_>) {
    let c = x.cluster;
    let Some(m) = c.leader() else {
        x.record("leader", json!(null));
        return;
    };
    let name = format!("coordinator{}", m + 1);
    if x.rng.range(0, 2) == 0 {
        c.kill_coordinator(m);
        x.record("kill", json!(name));
        x.nap(500, 2500);
        let ok = c.restart_coordinator(m).is_ok();
        x.record("restart", json!({ "coordinator": name, "ok": ok }));
    } else {
        c.pause_coordinator(m, true);
        x.record("pause", json!(name));
        // Past the election timeout (1 to 2 s): the others elect a new leader meanwhile.
        x.nap(2500, 4000);
        c.pause_coordinator(m, false);
        x.record("resume", json!(name));
    }
}
