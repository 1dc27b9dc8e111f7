//! `gdcctl demo` as a newcomer runs it, with its defaults: a coordinator and three regions
//! (a primary and a secondary each) come up as processes, every node serves redis-cli,
//! writes cross regions, a killed primary is replaced, and SIGINT stops everything.
//!
//! The demo runs the `gdc-node` beside `gdcctl`; `cargo test --workspace` builds it there.

use gdc_jepsen::process::{try_connect, wait_for};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A base port whose whole plan (nodes +0.., sync +100.., metrics +200.., coordinators +300,
/// +302, ..., their Sentinel ports one above) is free right now, all of it below Linux's
/// ephemeral range (32768 and up): there the kernel may hand a port out as the source of
/// any outgoing connection between this check and the demo's bind (seen: a sync port
/// "already in use"). The tests of this file run at once, so a block is also kept apart from
/// the blocks already handed to the others (both may find a block free before either binds
/// it: seen, a node's port "already in use").
fn free_base(nodes: u16, coordinators: u16) -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(0);
    // Every plan fits in 400 ports from its base.
    let base = (0..100u64)
        .map(|i| 10_000 + ((seed + i * 7919) % 22_000) as u16)
        .filter(|base| handed_out.iter().all(|other| base.abs_diff(*other) >= 400))
        .find(|&base| {
            let ports = (0..nodes)
                .flat_map(|n| [base + n, base + 100 + n, base + 200 + n])
                .chain((0..2 * coordinators).map(|k| base + 300 + k));
            ports
                .into_iter()
                .all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
        })
        .expect("a free block of ports");
    handed_out.push(base);
    base
}

/// SIGTERM to a process when dropped (unless its pid was cleared).
struct StopOnDrop(i32);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if self.0 > 0 {
            let _ = kill(Pid::from_raw(self.0), Signal::SIGTERM);
        }
    }
}

/// `gdcctl demo --no-build` with its data in `dir`, ports from `base` and `more` flags; the
/// process, a guard that stops it should the test fail, and its endpoints.json once written.
fn start_demo(
    dir: &Path,
    base: u16,
    more: &[&str],
) -> (std::process::Child, StopOnDrop, serde_json::Value) {
    let mut demo = Command::new(env!("CARGO_BIN_EXE_gdcctl"))
        .args(["demo", "--no-build"])
        .arg("--dir")
        .arg(dir)
        .args(["--base-port", &base.to_string()])
        .args(more)
        .env_remove("GDC_CLUSTER_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gdcctl demo");
    // Should an assertion fail, gdcctl is asked to stop its processes all the same.
    let guard = StopOnDrop(demo.id() as i32);
    let endpoints_path = dir.join("endpoints.json");
    let endpoints = wait_for("endpoints.json", Duration::from_secs(120), || {
        if let Ok(Some(status)) = demo.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = demo.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("the demo ended early ({status}): {err}");
        }
        let text = std::fs::read_to_string(&endpoints_path).ok()?;
        serde_json::from_str(&text).ok()
    });
    (demo, guard, endpoints)
}

/// SIGINT to the demo, and its exit status once it has stopped (within a minute).
fn interrupt(demo: &mut std::process::Child, guard: &mut StopOnDrop) -> std::process::ExitStatus {
    kill(Pid::from_raw(demo.id() as i32), Signal::SIGINT).expect("SIGINT");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = demo.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "the demo did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    guard.0 = 0;
    status
}

fn alive(pid: u32) -> bool {
    kill(Pid::from_raw(pid as i32), None).is_ok()
}

#[test]
fn demo_serves_every_region_fails_over_and_stops_on_sigint() {
    let gdcctl = Path::new(env!("CARGO_BIN_EXE_gdcctl"));
    let node_bin = gdcctl.with_file_name("gdc-node");
    assert!(
        node_bin.is_file(),
        "{} is missing: run the workspace's tests (cargo test --workspace), or cargo build -p gdc-node first",
        node_bin.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let base = free_base(6, 1);
    let (mut demo, mut guard, endpoints) = start_demo(dir.path(), base, &[]);

    // The layout the issue names, with this run's ports.
    assert_eq!(endpoints["sentinel"], format!("127.0.0.1:{}", base + 301));
    assert_eq!(
        endpoints["coordinators"],
        serde_json::json!([format!("127.0.0.1:{}", base + 300)])
    );
    let addr = |n: u16| format!("127.0.0.1:{}", base + n);
    assert_eq!(
        endpoints["regions"],
        serde_json::json!([
            {"name": "r1", "primary": addr(0), "secondaries": [addr(1)]},
            {"name": "r2", "primary": addr(2), "secondaries": [addr(3)]},
            {"name": "r3", "primary": addr(4), "secondaries": [addr(5)]},
        ])
    );
    let nodes = endpoints["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 6);

    // Every node serves clients; a write at either primary reaches every node. As the
    // README shows it, with redis-cli where it is installed.
    let redis_cli = Command::new("redis-cli").arg("--version").output().is_ok();
    if redis_cli {
        let cli = |port: u16, args: &[&str]| -> String {
            let out = Command::new("redis-cli")
                .arg("-p")
                .arg(port.to_string())
                .args(args)
                .output()
                .expect("redis-cli");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        assert_eq!(cli(base, &["set", "greeting", "hello"]), "OK");
        for n in 0..6 {
            wait_for(
                &format!("redis-cli to read the greeting at node {n}"),
                Duration::from_secs(30),
                || (cli(base + n, &["get", "greeting"]) == "hello").then_some(()),
            );
        }
    } else {
        eprintln!(
            "SKIPPED: redis-cli is not installed; the demo's nodes are read with redis-rs only"
        );
    }
    let mut r1 = try_connect(base).expect("r1's primary");
    let mut r2 = try_connect(base + 2).expect("r2's primary");
    redis::cmd("SET")
        .arg("greeting")
        .arg("hello")
        .query::<()>(&mut r1)
        .expect("SET at r1");
    redis::cmd("SADD")
        .arg("visitors")
        .arg("ada")
        .query::<()>(&mut r2)
        .expect("SADD at r2");
    for n in 0..6 {
        let mut c = try_connect(base + n).expect("a node");
        wait_for(
            &format!("both writes at node {n}"),
            Duration::from_secs(30),
            || {
                let greeting: Option<String> =
                    redis::cmd("GET").arg("greeting").query(&mut c).ok()?;
                let visitors: Vec<String> =
                    redis::cmd("SMEMBERS").arg("visitors").query(&mut c).ok()?;
                (greeting.as_deref() == Some("hello") && visitors == ["ada"]).then_some(())
            },
        );
    }
    let mut secondary = try_connect(base + 1).expect("r1's secondary");
    let refused = redis::cmd("SET")
        .arg("greeting")
        .arg("bye")
        .query::<()>(&mut secondary)
        .expect_err("a secondary refuses writes");
    assert_eq!(refused.code(), Some("READONLY"), "{refused}");

    // gdcctl status reaches the demo's coordinator with the demo's token, and every node.
    let status = || {
        let out = Command::new(gdcctl)
            .args(["status", "--json"])
            .env("GDC_COORDINATOR", addr(300))
            .env("GDC_CLUSTER_TOKEN", "gdc-demo-token")
            .output()
            .expect("gdcctl status");
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
    };
    let now = status();
    let children = &now["topology"]["instances"]["demo"]["children"];
    assert_eq!(children["r1"]["primary"], addr(0));
    assert_eq!(children["r2"]["secondaries"], serde_json::json!([addr(3)]));
    let seen = |s: &serde_json::Value| -> Vec<(String, String)> {
        s["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| {
                let said = n["seen"]["role"].as_str().map_or_else(
                    || format!("down: {}", n["error"].as_str().unwrap_or("?")),
                    str::to_string,
                );
                (n["addr"].as_str().unwrap_or("?").to_string(), said)
            })
            .collect()
    };
    let roles = |r: [&str; 6]| -> Vec<(String, String)> {
        (0..6)
            .map(|n| (addr(n), r[n as usize].to_string()))
            .collect()
    };
    assert_eq!(
        seen(&now),
        roles([
            "primary",
            "secondary",
            "primary",
            "secondary",
            "primary",
            "secondary"
        ])
    );
    // A stopped node (SIGSTOP) accepts connections and never answers: status still ends,
    // naming it.
    let r2_secondary = nodes
        .iter()
        .find(|n| n["client"] == addr(3))
        .and_then(|n| n["pid"].as_u64())
        .expect("r2's secondary's pid") as i32;
    kill(Pid::from_raw(r2_secondary), Signal::SIGSTOP).expect("SIGSTOP");
    let paused = status();
    kill(Pid::from_raw(r2_secondary), Signal::SIGCONT).expect("SIGCONT");
    assert_eq!(
        seen(&paused)[3],
        (addr(3), "down: no answer within 2s".to_string())
    );

    // kill -9 of r1's primary: Sentinel names its secondary, which takes writes.
    let r1_primary = nodes
        .iter()
        .find(|n| n["client"] == addr(0))
        .and_then(|n| n["pid"].as_u64())
        .expect("r1's primary's pid") as u32;
    kill(Pid::from_raw(r1_primary as i32), Signal::SIGKILL).expect("kill -9");
    let mut sentinel = try_connect(base + 301).expect("Sentinel port");
    wait_for(
        "Sentinel to name r1's secondary",
        Duration::from_secs(30),
        || {
            let named: Vec<String> = redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg("r1")
                .query(&mut sentinel)
                .ok()?;
            (named == ["127.0.0.1".to_string(), (base + 1).to_string()]).then_some(())
        },
    );
    wait_for(
        "a write at r1's new primary",
        Duration::from_secs(30),
        || {
            redis::cmd("SET")
                .arg("greeting")
                .arg("again")
                .query::<()>(&mut secondary)
                .ok()
        },
    );
    let after = status();
    assert_eq!(after["nodes"][0]["addr"], addr(1), "the new primary first");
    assert_eq!(after["nodes"][0]["seen"]["epoch"], 2);
    assert!(
        after["nodes"][1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot reach")),
        "{}",
        after["nodes"][1]
    );
    drop((r1, r2, secondary, sentinel));

    // SIGINT: gdcctl stops every process it started and ends cleanly.
    let status = interrupt(&mut demo, &mut guard);
    let out = demo.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.success(),
        "{status}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("exited: signal: 9"), "{stdout}");
    assert!(
        stdout.contains("stopped; data and logs kept in"),
        "{stdout}"
    );
    let pids = nodes
        .iter()
        .filter_map(|n| n["pid"].as_u64())
        .chain(endpoints["coordinator_pid"].as_u64());
    for pid in pids {
        assert!(!alive(pid as u32), "process {pid} outlived the demo");
    }
    for n in [0, 1, 2, 3, 4, 5, 300, 301] {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", base + n)).is_err(),
            "port {} still answers",
            base + n
        );
    }
    // The secondaries stopped cleanly (SIGTERM), not killed at the deadline.
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("killed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `gdcctl demo --coordinators 3`: one Raft cluster of three members; with one of them
/// killed (kill -9), the others still lead, and the region's primary takes writes
/// throughout; SIGINT stops every process.
#[test]
fn demo_with_three_coordinators_survives_one_killed() {
    let gdcctl = Path::new(env!("CARGO_BIN_EXE_gdcctl"));
    let dir = tempfile::tempdir().expect("tempdir");
    let base = free_base(1, 3);
    let more = [
        "--regions",
        "1",
        "--secondaries",
        "0",
        "--coordinators",
        "3",
    ];
    let (mut demo, mut guard, endpoints) = start_demo(dir.path(), base, &more);
    let addr = |n: u16| format!("127.0.0.1:{}", base + n);
    assert_eq!(
        endpoints["coordinators"],
        serde_json::json!([addr(300), addr(302), addr(304)])
    );
    let pids: Vec<u64> = endpoints["coordinator_pids"]
        .as_array()
        .expect("coordinator_pids")
        .iter()
        .filter_map(|p| p.as_u64())
        .collect();
    assert_eq!(pids.len(), 3);
    let members = || -> Option<serde_json::Value> {
        let out = Command::new(gdcctl)
            .args([
                "--coordinator",
                &format!("{},{},{}", addr(300), addr(302), addr(304)),
            ])
            .args(["--token", "gdc-demo-token", "--json", "member", "list"])
            .output()
            .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    };
    let leader = wait_for("a leader", Duration::from_secs(30), || {
        members()?["leader"].as_u64().filter(|&l| l > 0)
    });
    kill(
        Pid::from_raw(pids[leader as usize - 1] as i32),
        Signal::SIGKILL,
    )
    .expect("kill -9");
    let mut c = try_connect(base).expect("r1's primary");
    for n in 1..=50i64 {
        let v: i64 = redis::cmd("INCR").arg("n").query(&mut c).expect("a write");
        assert_eq!(v, n);
    }
    wait_for("another leader", Duration::from_secs(30), || {
        members()?["leader"]
            .as_u64()
            .filter(|&l| l > 0 && l != leader)
    });
    let status = interrupt(&mut demo, &mut guard);
    assert!(status.success(), "{status}");
    for pid in pids
        .iter()
        .chain(endpoints["nodes"][0]["pid"].as_u64().as_ref())
    {
        assert!(!alive(*pid as u32), "process {pid} outlived the demo");
    }
}
