//! Failover time: a coordinator and two regions as processes (eu: a primary and a
//! secondary; us: a primary), writes going to eu's primary; the primary is killed with
//! SIGKILL, and the clock runs until a write succeeds at the node the coordinator's
//! Sentinel port names as eu's primary — what a Sentinel-aware client sees. Repeated over
//! fresh clusters; median and max printed.
//!
//! ```sh
//! cargo build --release -p gdc-node -p gdc-coordinator
//! cargo run --release -p gdc-benches --bin failover          # 7 trials
//! TRIALS=3 cargo run --release -p gdc-benches --bin failover
//! ```

use gdc_jepsen::process::{Server, free_port, try_connect, wait_for};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-cluster-token";
const FAILOVER_TIMEOUT_MS: u64 = 1000;
const MINUTE: Duration = Duration::from_secs(60);

fn release(bin: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/release")
        .join(bin);
    assert!(
        p.exists(),
        "build it first: cargo build --release -p gdc-node -p gdc-coordinator"
    );
    p
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn gdcctl(coordinator: &str, cmd: &[&str]) {
    let out = Command::new(release("gdcctl"))
        .args(cmd)
        .env("GDC_COORDINATOR", coordinator)
        .env("GDC_CLUSTER_TOKEN", TOKEN)
        .output()
        .expect("gdcctl");
    assert!(
        out.status.success(),
        "gdcctl {cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn node(dir: &Path, coordinator: &str, region: &str) -> Server {
    let port = free_port();
    let sync = free_port();
    Server::start(
        &release("gdc-node"),
        &args(&[
            "--region",
            region,
            "--port",
            &port.to_string(),
            "--sync-port",
            &sync.to_string(),
            "--dir",
            &dir.join(format!("{region}-{port}")).display().to_string(),
            "--coordinator",
            coordinator,
            "--instance",
            "shop",
            "--cluster-token",
            TOKEN,
            "--appendfsync",
            "always",
        ]),
        port,
    )
    .expect("gdc-node")
}

/// eu's primary as the Sentinel port names it.
fn primary(sentinel: u16) -> Option<u16> {
    let mut s = try_connect(sentinel)?;
    let addr: Option<Vec<String>> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg("eu")
        .query(&mut s)
        .ok()?;
    addr?.get(1)?.parse().ok()
}

fn write_ok(port: u16, n: u64) -> bool {
    let Some(mut c) = try_connect(port) else {
        return false;
    };
    redis::cmd("SET")
        .arg("k")
        .arg(n)
        .query::<()>(&mut c)
        .is_ok()
}

/// One trial: the time from the kill to the first write accepted by the new primary.
fn trial() -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let (listen, sentinel) = (format!("127.0.0.1:{}", free_port()), free_port());
    let _coordinator = Server::start(
        &release("gdc-coordinator"),
        &args(&[
            "--id",
            "1",
            "--listen",
            &listen,
            "--dir",
            &dir.path().join("coordinator").display().to_string(),
            "--initial-cluster",
            &format!("1={listen}"),
            "--sentinel-port",
            &sentinel.to_string(),
            "--token",
            TOKEN,
            "--failover-timeout-ms",
            &FAILOVER_TIMEOUT_MS.to_string(),
        ]),
        sentinel,
    )
    .expect("gdc-coordinator");
    gdcctl(&listen, &["instance", "create", "shop"]);
    gdcctl(&listen, &["child", "add", "shop", "eu"]);
    gdcctl(&listen, &["child", "add", "shop", "us"]);
    let first = node(dir.path(), &listen, "eu");
    wait_for("eu's primary", MINUTE, || {
        (primary(sentinel) == Some(first.port)).then_some(())
    });
    let _secondary = node(dir.path(), &listen, "eu");
    let _us = node(dir.path(), &listen, "us");
    // Writes flowing, and the secondary a live candidate.
    let mut n = 0;
    wait_for("writes at the primary", MINUTE, || {
        n += 1;
        write_ok(first.port, n).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let old = first.port;
    first.kill9();
    let killed = Instant::now();
    wait_for("a write at the new primary", MINUTE, || {
        let p = primary(sentinel).filter(|&p| p != old)?;
        n += 1;
        write_ok(p, n).then_some(())
    });
    killed.elapsed()
}

fn main() {
    let trials: usize = std::env::var("TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let mut times: Vec<Duration> = (0..trials)
        .map(|i| {
            let t = trial();
            eprintln!("trial {}: {:.0} ms", i + 1, t.as_secs_f64() * 1e3);
            t
        })
        .collect();
    times.sort();
    let ms = |d: Duration| format!("{:.0}", d.as_secs_f64() * 1e3);
    println!("| failover (kill -9 of a primary to the first write at its successor) | ms |");
    println!("|---|---|");
    println!("| failover timeout | {FAILOVER_TIMEOUT_MS} |");
    println!("| median of {trials} | {} |", ms(times[times.len() / 2]));
    println!("| max | {} |", ms(times[times.len() - 1]));
    println!("| min | {} |", ms(times[0]));
}
