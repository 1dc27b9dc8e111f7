//! Failover time: a coordinator and two regions as processes (eu: a primary and a
//! secondary; us: a primary), writes going to eu's primary; the primary is killed with
//! SIGKILL, and the clock runs until a write succeeds at the node the coordinator's
//! Sentinel port names as eu's primary — what a Sentinel-aware client sees. Repeated over
//! fresh clusters; median and max printed.
//!
//! Beside it, the same measure for Redis with Sentinel (when `redis-server` is on the
//! PATH): a master, a replica and three Sentinels (quorum 2) with `down-after-milliseconds`
//! equal to gdc's failover timeout, the master killed, the clock stopped at the first write
//! the master Sentinel then names accepts.
//!
//! ```sh
//! cargo build --release -p gdc-node -p gdc-coordinator
//! cargo run --release -p gdc-benches --bin failover          # 7 trials
//! TRIALS=3 cargo run --release -p gdc-benches --bin failover
//! ```

use gdc_jepsen::cluster;
use gdc_jepsen::process::{Server, free_port, try_connect, wait_for};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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

/// eu's primary as the Sentinel port names it.
fn primary(sentinel: u16) -> Option<u16> {
    master_of(sentinel, "eu")
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

/// `name`'s master as the Sentinel (or gdc's Sentinel port) on `port` names it.
fn master_of(port: u16, name: &str) -> Option<u16> {
    let mut s = try_connect(port)?;
    let addr: Option<Vec<String>> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(name)
        .query(&mut s)
        .ok()?;
    addr?.get(1)?.parse().ok()
}

/// Whether `redis-server` can be run.
fn redis_available() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// One Redis trial: master, replica, three Sentinels; the time from the master's kill to
/// the first write accepted by the master the Sentinels name.
fn redis_trial() -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let redis = Path::new("redis-server");
    let (m, r) = (free_port(), free_port());
    let plain = |port: u16| {
        args(&[
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
    };
    let master = Server::start(redis, &plain(m), m).expect("redis master");
    let mut replica_args = plain(r);
    replica_args.extend(args(&["--replicaof", "127.0.0.1", &m.to_string()]));
    let _replica = Server::start(redis, &replica_args, r).expect("redis replica");
    let sentinels: Vec<(u16, Server)> = (0..3)
        .map(|i| {
            let port = free_port();
            let conf = dir.path().join(format!("sentinel-{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nsentinel monitor eu 127.0.0.1 {m} 2\n\
                     sentinel down-after-milliseconds eu {FAILOVER_TIMEOUT_MS}\n\
                     sentinel failover-timeout eu 10000\nsentinel parallel-syncs eu 1\n"
                ),
            )
            .expect("sentinel.conf");
            let s = Server::start(
                redis,
                &[conf.display().to_string(), "--sentinel".into()],
                port,
            )
            .expect("redis sentinel");
            (port, s)
        })
        .collect();
    // Every Sentinel knows the replica and the other two before the kill.
    for (port, _) in &sentinels {
        wait_for(
            "Sentinels to find each other and the replica",
            MINUTE,
            || {
                let mut c = try_connect(*port)?;
                let others: Vec<redis::Value> = redis::cmd("SENTINEL")
                    .arg("sentinels")
                    .arg("eu")
                    .query(&mut c)
                    .ok()?;
                let replicas: Vec<redis::Value> = redis::cmd("SENTINEL")
                    .arg("replicas")
                    .arg("eu")
                    .query(&mut c)
                    .ok()?;
                (others.len() == 2 && replicas.len() == 1).then_some(())
            },
        );
    }
    let mut n = 0;
    wait_for("writes at the master", MINUTE, || {
        n += 1;
        write_ok(m, n).then_some(())
    });
    let ask = sentinels[0].0;
    master.kill9();
    let killed = Instant::now();
    wait_for("a write at Redis's new master", MINUTE, || {
        let p = master_of(ask, "eu").filter(|&p| p != m)?;
        n += 1;
        write_ok(p, n).then_some(())
    });
    killed.elapsed()
}

/// One trial: the time from the kill to the first write accepted by the new primary.
fn trial() -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_coordinator, listen, sentinel) = cluster::start_coordinator(
        &release("gdc-coordinator"),
        dir.path(),
        &["--failover-timeout-ms", &FAILOVER_TIMEOUT_MS.to_string()],
    )
    .expect("gdc-coordinator");
    let changes = [
        r#"{"op":"create-instance","name":"jepsen"}"#,
        r#"{"op":"add-child","instance":"jepsen","region":"eu"}"#,
        r#"{"op":"add-child","instance":"jepsen","region":"us"}"#,
    ];
    gdc_jepsen::coordinators::change_all(&listen, &changes.map(String::from)).expect("topology");
    let node = |region: &str| {
        let (port, sync) = (free_port(), free_port());
        let data = dir.path().join(format!("{region}-{port}"));
        let spec = cluster::NodeSpec {
            region,
            port,
            sync,
            announced_sync: sync,
            dir: &data,
            coordinator: &listen,
            extra: &[],
        };
        cluster::start_node(&release("gdc-node"), &spec).expect("gdc-node")
    };
    let first = node("eu");
    wait_for("eu's primary", MINUTE, || {
        (primary(sentinel) == Some(first.port)).then_some(())
    });
    let _secondary = node("eu");
    let _us = node("us");
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

fn summary(times: &mut [Duration]) -> [String; 3] {
    times.sort();
    let ms = |d: Duration| format!("{:.0}", d.as_secs_f64() * 1e3);
    [
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        ms(times[0]),
    ]
}

fn main() {
    let trials: usize = std::env::var("TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let run = |what: &str, trial: fn() -> Duration| -> Vec<Duration> {
        (0..trials)
            .map(|i| {
                let t = trial();
                eprintln!("{what} trial {}: {:.0} ms", i + 1, t.as_secs_f64() * 1e3);
                t
            })
            .collect()
    };
    let gdc = summary(&mut run("gdc", trial));
    let redis = if redis_available() {
        Some(summary(&mut run("redis", redis_trial)))
    } else {
        eprintln!("SKIPPED: no redis-server on the PATH, so no Redis Sentinel figures");
        None
    };
    let cell = |i: usize| {
        redis
            .as_ref()
            .map_or("skipped".to_string(), |r| r[i].clone())
    };
    println!(
        "| kill -9 of a primary to the first write at its successor (ms) | gdc | Redis + Sentinel |"
    );
    println!("|---|---|---|");
    println!(
        "| failover timeout / down-after-milliseconds | {FAILOVER_TIMEOUT_MS} | {FAILOVER_TIMEOUT_MS} |"
    );
    for (i, row) in [format!("median of {trials}"), "max".into(), "min".into()]
        .iter()
        .enumerate()
    {
        println!("| {row} | {} | {} |", gdc[i], cell(i));
    }
}
