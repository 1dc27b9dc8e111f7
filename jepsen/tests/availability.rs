//! Regions keep taking writes when the coordinators are gone or out of reach
//! (docs/coordinator.md, "Writes without the coordinators"): real clusters, real faults,
//! availability measured beside safety. A refused write would not lose data, so each test
//! counts refusals, and requires (almost) none.
//!
//! It runs the `gdc-node` and `gdc-coordinator` beside `gdc-jepsen`, which the workspace's
//! `cargo test` builds there.

use gdc_jepsen::cluster::{Binaries, Cluster, ClusterSpec, role};
use gdc_jepsen::process::{connect, try_connect, wait_for};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the coordinators are gone, or a region cut off, in the long tests (the issue's
/// figure: long enough for every lease and failover timer to have run out many times).
const OUTAGE: Duration = Duration::from_secs(60);
/// The share of writes to live primaries that must be acknowledged during an outage.
const ACKED_SHARE_MIN: f64 = 0.999;
/// How long regions are given to agree once healed.
const CONVERGE: Duration = Duration::from_secs(60);
/// A reply later than this counts as unknown (and as not acknowledged).
const REPLY_TIMEOUT: Duration = Duration::from_secs(1);

fn binaries() -> Binaries {
    let dir = Path::new(env!("CARGO_BIN_EXE_gdc-jepsen"))
        .parent()
        .expect("a directory")
        .to_path_buf();
    Binaries::in_dir(&dir)
        .unwrap_or_else(|e| panic!("{e} (run the workspace's tests: cargo test --workspace)"))
}

fn start(regions: usize, secondaries: usize, coordinators: usize) -> (Cluster, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = ClusterSpec {
        regions,
        secondaries,
        coordinators,
        ..ClusterSpec::default()
    };
    let cluster = Cluster::start(&binaries(), &spec, dir.path()).expect("cluster");
    (cluster, dir)
}

/// One write's outcome: when it was sent (since the writer began), and whether it was
/// acknowledged.
type Outcome = (Duration, bool);

/// A client that adds unique elements to its region's set (`avail:<region>`) at the
/// region's primary, as fast as replies come, until stopped.
struct Writer {
    key: String,
    handle: JoinHandle<(Vec<Outcome>, Vec<String>)>,
}

fn write_until(port: u16, key: String, began: Instant, stop: &'static AtomicBool) -> Writer {
    let handle = {
        let key = key.clone();
        std::thread::spawn(move || {
            let (mut outcomes, mut acked) = (Vec::new(), Vec::new());
            let mut conn = None;
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let c = match conn.as_mut() {
                    Some(c) => c,
                    None => match try_connect(port) {
                        Some(c) => {
                            c.set_read_timeout(Some(REPLY_TIMEOUT)).expect("timeout");
                            conn.insert(c)
                        }
                        None => {
                            // The node does not take connections now: try again shortly.
                            std::thread::sleep(Duration::from_millis(10));
                            continue;
                        }
                    },
                };
                n += 1;
                let element = format!("{port}-{n}");
                let sent = began.elapsed();
                let reply: redis::RedisResult<i64> =
                    redis::cmd("SADD").arg(&key).arg(&element).query(c);
                outcomes.push((sent, reply.is_ok()));
                match reply {
                    Ok(_) => acked.push(element),
                    // A lost reply ends the connection; a refusal keeps it.
                    Err(e) if e.code().is_none() => conn = None,
                    Err(_) => {}
                }
            }
            (outcomes, acked)
        })
    };
    Writer { key, handle }
}

/// Of the writes sent within `window`, how many were, and the share acknowledged.
fn share_acked(outcomes: &[Outcome], window: (Duration, Duration)) -> (usize, f64) {
    let sent: Vec<&Outcome> = outcomes
        .iter()
        .filter(|(at, _)| *at >= window.0 && *at < window.1)
        .collect();
    let acked = sent.iter().filter(|(_, ok)| *ok).count();
    (sent.len(), acked as f64 / sent.len().max(1) as f64)
}

/// Wait until every node holds every acknowledged element of every key, and all digests are
/// equal: nothing acknowledged lost, and the regions converged.
fn converged(cluster: &Cluster, acked: &[(String, Vec<String>)]) {
    wait_for(
        "every node to hold every acknowledged write, with equal digests",
        CONVERGE,
        || {
            let mut digests = BTreeSet::new();
            for node in &cluster.nodes {
                let mut c = try_connect(node.port)?;
                for (key, elements) in acked {
                    let held: BTreeSet<String> =
                        redis::cmd("SMEMBERS").arg(key).query(&mut c).ok()?;
                    if elements.iter().any(|e| !held.contains(e)) {
                        return None;
                    }
                }
                digests.insert(
                    redis::cmd("GDC.DIGEST")
                        .arg(0)
                        .query::<String>(&mut c)
                        .ok()?,
                );
            }
            (digests.len() == 1).then_some(())
        },
    );
}

/// How many changes of primary the coordinators recorded (one per region at the start).
fn primary_changes(cluster: &Cluster) -> usize {
    let topology = cluster.topology().expect("topology");
    topology["history"].as_array().map_or(0, Vec::len)
}

fn out_of_reach_ms(port: u16) -> Option<u64> {
    let mut c = try_connect(port)?;
    let info: String = redis::cmd("INFO").arg("replication").query(&mut c).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("gdc_coordinators_out_of_reach_ms:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Writers in every region through `fault`, which starts after a warm-up and ends by
/// calling `heal`; every region's share acknowledged during the fault must be at least
/// [`ACKED_SHARE_MIN`], then the regions converge with nothing acknowledged lost.
fn writes_through(
    cluster: &Cluster,
    stop: &'static AtomicBool,
    fault: impl FnOnce(),
    heal: impl FnOnce(),
) {
    let began = Instant::now();
    let writers: Vec<Writer> = cluster
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| {
            write_until(
                cluster.ports(i)[0],
                format!("avail:{}", r.name),
                began,
                stop,
            )
        })
        .collect();
    let warm_up = Duration::from_secs(2);
    std::thread::sleep(warm_up);
    let from = began.elapsed();
    fault();
    // The outage's length (not a wait for a condition).
    std::thread::sleep(OUTAGE);
    let to = began.elapsed();
    heal();
    std::thread::sleep(warm_up);
    stop.store(true, Ordering::SeqCst);
    let mut acked = Vec::new();
    for (w, r) in writers.into_iter().zip(&cluster.regions) {
        let key = w.key.clone();
        let (outcomes, elements) = w.handle.join().expect("writer");
        let (sent, share) = share_acked(&outcomes, (from, to));
        eprintln!(
            "{}: {sent} writes during the outage, {:.4}% acknowledged",
            r.name,
            share * 100.0
        );
        assert!(
            sent > 1000,
            "{}: only {sent} writes were sent during the outage",
            r.name
        );
        assert!(
            share >= ACKED_SHARE_MIN,
            "{}: {:.4}% of writes acknowledged during the outage",
            r.name,
            share * 100.0
        );
        acked.push((key, elements));
    }
    converged(cluster, &acked);
}

/// Every coordinator stopped (SIGSTOP) for a minute under load: every region's primary goes
/// on taking writes, and the regions converge after.
#[test]
fn every_region_keeps_taking_writes_while_every_coordinator_is_stopped() {
    static STOP: AtomicBool = AtomicBool::new(false);
    let (cluster, _dir) = start(3, 1, 3);
    let before = primary_changes(&cluster);
    let pause_all = |stop: bool| {
        for m in 0..cluster.coordinator_count() {
            cluster.pause_coordinator(m, stop);
        }
    };
    writes_through(
        &cluster,
        &STOP,
        || pause_all(true),
        || {
            // The nodes know: they have been out of the coordinators' reach for a while.
            let port = cluster.ports(0)[0];
            assert!(
                out_of_reach_ms(port).is_some_and(|ms| ms > 10_000),
                "{:?}",
                out_of_reach_ms(port)
            );
            pause_all(false);
        },
    );
    assert_eq!(
        primary_changes(&cluster),
        before,
        "no region was failed over"
    );
}

/// One region cut off from the coordinators and from the other regions for a minute, its
/// clients still reaching it: it goes on taking writes (so do the others), its secondary is
/// not promoted (the coordinator hears from none of its nodes), and once healed every region
/// has every acknowledged write.
#[test]
fn a_region_cut_off_from_the_coordinators_and_the_other_regions_keeps_taking_writes() {
    static STOP: AtomicBool = AtomicBool::new(false);
    let (cluster, _dir) = start(3, 1, 1);
    let before = primary_changes(&cluster);
    let cut_off = &cluster.regions[0];
    let cut = || cluster.cut_off(0).iter().for_each(|l| l.cut());
    let heal = || {
        // The cut was real: another region has not seen the cut-off region's latest writes.
        let key = format!("avail:{}", cut_off.name);
        let count = |port: u16| -> i64 {
            redis::cmd("SCARD")
                .arg(&key)
                .query(&mut connect(port))
                .expect("SCARD")
        };
        let (there, elsewhere) = (count(cluster.ports(0)[0]), count(cluster.ports(1)[0]));
        assert!(
            there > elsewhere + 1000,
            "{there} at home, {elsewhere} elsewhere"
        );
        cluster.heal_all();
    };
    writes_through(&cluster, &STOP, cut, heal);
    assert_eq!(
        primary_changes(&cluster),
        before,
        "no region was failed over"
    );
    assert_eq!(role(cluster.ports(0)[0]).as_deref(), Some("primary"));
}

/// A split inside a region: its primary cut off from everything but its clients, while
/// the coordinator promotes its secondary. For a while both take writes, each under its own
/// server-id; a client that moves from one to the other does not see its writes there. Once
/// healed, the old primary learns of the newer epoch and follows the new one, and every
/// write of both counts everywhere (docs/semantics.md, "A split inside a region").
#[test]
fn a_primary_split_from_its_region_writes_beside_its_successor_and_both_converge() {
    let (cluster, _dir) = start(2, 1, 1);
    let (old, new) = (cluster.regions[0].nodes[0], cluster.regions[0].nodes[1]);
    let (old_port, new_port) = (cluster.nodes[old].port, cluster.nodes[new].port);
    let other_port = cluster.ports(1)[0];
    cluster.nodes[old]
        .coordinator_links
        .iter()
        .for_each(|l| l.cut());
    for ((from, to), link) in &cluster.links {
        if *from == old || *to == old {
            link.cut();
        }
    }
    wait_for(
        "the secondary to be promoted",
        Duration::from_secs(20),
        || (role(new_port).as_deref() == Some("primary")).then_some(()),
    );
    let incr = |port: u16, by: i64| -> redis::RedisResult<i64> {
        redis::cmd("INCRBY")
            .arg("hits")
            .arg(by)
            .query(&mut connect(port))
    };
    let get = |port: u16| -> Option<i64> {
        redis::cmd("GET")
            .arg("hits")
            .query(&mut connect(port))
            .expect("GET")
    };
    // Both write: the old primary has heard of no newer epoch.
    assert_eq!(incr(old_port, 5).expect("the old primary takes writes"), 5);
    assert_eq!(incr(new_port, 7).expect("the new primary takes writes"), 7);
    // The new primary's 7 may already be there; the old primary's 5 cannot be.
    let other = incr(other_port, 11).expect("the other region takes writes");
    assert!(other == 11 || other == 18, "the other region has {other}");
    // A client that wrote at the old primary and reads at the new one does not see that
    // write: the new primary has the other region's (18 = 7 + 11), not the old one's 5.
    wait_for(
        "the other region's write at the new primary",
        Duration::from_secs(10),
        || (get(new_port) == Some(18)).then_some(()),
    );
    assert_eq!(
        get(old_port),
        Some(5),
        "the old primary sees only its own write"
    );
    cluster.heal_all();
    wait_for(
        "the old primary to follow the new one",
        Duration::from_secs(20),
        || (role(old_port).as_deref() == Some("secondary")).then_some(()),
    );
    let refused = incr(old_port, 1).expect_err("a secondary refuses writes");
    assert_eq!(refused.code(), Some("READONLY"), "{refused}");
    // Every write of both writers counts, in every region.
    for port in [old_port, new_port, other_port, cluster.ports(1)[1]] {
        wait_for("every write at every node", CONVERGE, || {
            (get(port) == Some(23)).then_some(())
        });
    }
}
