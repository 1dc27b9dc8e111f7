//! Replication between two regions on this machine, next to redis-server's replication in
//! the same run:
//!
//! * **lag** at a steady 10k writes/s: a probe writes a fresh value at the source, and from
//!   the moment the write is acknowledged reads the other side in a tight loop until the value
//!   is there (p50/p99 of that time; a loopback round trip, ~30 µs, is the resolution);
//! * **throughput**: writes pipelined at the source as fast as it takes them; the rate at
//!   which they become readable at the other side;
//! * **catch-up**: the receiver starts after the writes were made; time from when it answers
//!   clients until it has them (a gdc receiver restarts with what it had and resumes from its
//!   vector; a Redis replica syncs in full).
//!
//! * **fan-out**: the source replicating to two receivers at once; its write rate, and the
//!   rate at which the slower receiver has the writes.
//!
//! gdc runs twice: with channels compressed (DEFLATE of messages of 4 KiB or more, the
//! default) and without.
//!
//! ```sh
//! cargo run --release -p gdc-benches --bin replication             # 1M ops
//! OPS=200000 cargo run --release -p gdc-benches --bin replication
//! ```
//! Needs `target/release/gdc-node` (`cargo build --release -p gdc-node`) and, for the
//! comparison, `redis-server` on the PATH (Debian's `redis-server` package).

use gdc_jepsen::process::{Server, connect, free_port};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-cluster-token";

/// Start a server process and wait until it answers.
fn spawn(program: &Path, args: &[String], port: u16) -> Server {
    Server::start(program, args, port)
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()))
}

/// A source, and receivers started from it: running while the caller keeps them.
trait Pair {
    fn name(&self) -> &'static str;
    fn source(&self) -> u16;
    /// Start a receiver called `name`. A gdc receiver started again under the same name
    /// resumes from what it had; a Redis replica always starts afresh (a full sync).
    fn receiver(&self, name: &str) -> Server;
}

struct Gdc {
    bin: PathBuf,
    dir: tempfile::TempDir,
    src: Server,
    sync_port: u16,
    compressed: bool,
}

impl Gdc {
    fn start(bin: &Path, compressed: bool) -> Gdc {
        let dir = tempfile::tempdir().expect("tempdir");
        let (port, sync_port) = (free_port(), free_port());
        let args: Vec<String> = [
            "--region",
            "src",
            "--port",
            &port.to_string(),
            "--sync-port",
            &sync_port.to_string(),
            "--cluster-token",
            TOKEN,
            "--dir",
            &dir.path().join("src").display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let src = spawn(bin, &args, port);
        Gdc {
            bin: bin.to_path_buf(),
            dir,
            src,
            sync_port,
            compressed,
        }
    }
}

impl Pair for Gdc {
    fn name(&self) -> &'static str {
        if self.compressed {
            "gdc-node (deflate)"
        } else {
            "gdc-node (no compression)"
        }
    }
    fn source(&self) -> u16 {
        self.src.port
    }
    fn receiver(&self, name: &str) -> Server {
        let port = free_port();
        let args: Vec<String> = [
            "--region",
            name,
            "--port",
            &port.to_string(),
            "--peer",
            &format!("src=127.0.0.1:{}", self.sync_port),
            "--cluster-token",
            TOKEN,
            "--dir",
            &self.dir.path().join(name).display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(
            [
                "--sync-compression",
                if self.compressed { "deflate" } else { "none" },
            ]
            .map(String::from),
        )
        .collect();
        spawn(&self.bin, &args, port)
    }
}

struct Redis {
    dir: tempfile::TempDir,
    src: Server,
}

impl Redis {
    fn start() -> Option<Redis> {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let args = redis_args(dir.path(), "src", port);
        // Without redis-server there is nothing to compare with.
        let src = Server::start(Path::new("redis-server"), &args, port).ok()?;
        Some(Redis { dir, src })
    }
}

fn redis_args(dir: &Path, name: &str, port: u16) -> Vec<String> {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).expect("redis dir");
    [
        "--port",
        &port.to_string(),
        "--dir",
        &d.display().to_string(),
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

impl Pair for Redis {
    fn name(&self) -> &'static str {
        "redis-server"
    }
    fn source(&self) -> u16 {
        self.src.port
    }
    fn receiver(&self, name: &str) -> Server {
        // A new directory each time: a new replica, synced in full.
        let port = free_port();
        let mut args = redis_args(self.dir.path(), &format!("{name}{port}"), port);
        args.extend([
            "--replicaof".to_string(),
            "127.0.0.1".into(),
            self.src.port.to_string(),
        ]);
        spawn(Path::new("redis-server"), &args, port)
    }
}

/// Milliseconds, to three decimals.
fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// Lag samples at a steady background write rate.
fn lag(pair: &dyn Pair, rate: u64, secs: u64) -> (Duration, Duration) {
    let receiver = pair.receiver("dst");
    let dst = receiver.port;
    let src = pair.source();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut c = connect(src);
            let start = Instant::now();
            let mut sent = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // Pace in steps of 1 ms: rate/1000 writes, pipelined.
                let due = start.elapsed().as_micros() as u64 * rate / 1_000_000;
                if sent >= due {
                    std::thread::sleep(Duration::from_micros(200));
                    continue;
                }
                let mut p = redis::pipe();
                for i in sent..due {
                    p.cmd("SET")
                        .arg(format!("load:{}", i % 100_000))
                        .arg(i)
                        .ignore();
                }
                sent = due;
                let _: () = p.query(&mut c).expect("load");
            }
        })
    };
    let mut s = connect(src);
    let mut d = connect(dst);
    let mut probe = |n: u64| -> Duration {
        let _: () = redis::cmd("SET")
            .arg("probe")
            .arg(n)
            .query(&mut s)
            .expect("probe");
        let acked = Instant::now();
        loop {
            // A replica loading its dataset answers with an error for a while.
            let v: Option<u64> = redis::cmd("GET").arg("probe").query(&mut d).ok().flatten();
            if v == Some(n) {
                return acked.elapsed();
            }
        }
    };
    // The first probe waits out the receiver's initial sync; sampling starts after it.
    probe(0);
    let mut samples = Vec::new();
    let end = Instant::now() + Duration::from_secs(secs);
    let mut n = 0u64;
    while Instant::now() < end {
        n += 1;
        samples.push(probe(n));
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.join().expect("load thread");
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99))
}

/// Write `ops` keys pipelined at the source; then a marker. Returns when the marker was
/// acknowledged.
fn write_ops(port: u16, ops: u64, tag: &str) -> Instant {
    let mut c = connect(port);
    let mut i = 0;
    while i < ops {
        let mut p = redis::pipe();
        for _ in 0..1000.min(ops - i) {
            p.cmd("SET").arg(format!("{tag}:{i}")).arg(i).ignore();
            i += 1;
        }
        let _: () = p.query(&mut c).expect("write");
    }
    let _: () = redis::cmd("SET")
        .arg("marker")
        .arg(tag)
        .query(&mut c)
        .expect("marker");
    Instant::now()
}

fn until_marker(port: u16, tag: &str) -> Instant {
    let mut c = connect(port);
    loop {
        let v: Option<String> = redis::cmd("GET").arg("marker").query(&mut c).ok().flatten();
        if v.as_deref() == Some(tag) {
            return Instant::now();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// (source write rate, end-to-end rate) for `ops` pipelined writes.
fn throughput(pair: &dyn Pair, ops: u64) -> (f64, f64) {
    let receiver = pair.receiver("dst");
    let dst = receiver.port;
    let src = pair.source();
    let start = Instant::now();
    let watcher = std::thread::spawn(move || until_marker(dst, "tput"));
    let written = write_ops(src, ops, "tput");
    let seen = watcher.join().expect("watcher");
    let rate = |t: Instant| ops as f64 / (t - start).as_secs_f64();
    (rate(written), rate(seen))
}

/// Ops per second a receiver started after `ops` writes takes to have them all, from the
/// moment it answers clients (its own restart not counted).
fn catch_up(pair: &dyn Pair, ops: u64) -> f64 {
    write_ops(pair.source(), ops, "backlog");
    let receiver = pair.receiver("dst");
    let start = Instant::now();
    let seen = until_marker(receiver.port, "backlog");
    ops as f64 / (seen - start).as_secs_f64()
}

/// (source write rate, rate at which the slower of two receivers has them) for `ops`
/// pipelined writes at a source replicating to two receivers.
fn fan_out(pair: &dyn Pair, ops: u64) -> (f64, f64) {
    let servers = [pair.receiver("fan1"), pair.receiver("fan2")];
    let receivers = servers.each_ref().map(|s| s.port);
    // Both in sync before the clock starts.
    let mut src = connect(pair.source());
    let _: () = redis::cmd("SET")
        .arg("marker")
        .arg("ready")
        .query(&mut src)
        .expect("SET");
    for r in receivers {
        until_marker(r, "ready");
    }
    let start = Instant::now();
    let watchers: Vec<_> = receivers
        .iter()
        .map(|&r| std::thread::spawn(move || until_marker(r, "fan")))
        .collect();
    let written = write_ops(pair.source(), ops, "fan");
    let seen = watchers
        .into_iter()
        .map(|w| w.join().expect("watcher"))
        .max()
        .expect("two receivers");
    drop(servers);
    let rate = |t: Instant| ops as f64 / (t - start).as_secs_f64();
    (rate(written), rate(seen))
}

fn main() {
    let ops: u64 = std::env::var("OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/gdc-node");
    assert!(
        bin.exists(),
        "build it first: cargo build --release -p gdc-node"
    );
    let mut pairs: Vec<Box<dyn Pair>> = vec![
        Box::new(Gdc::start(&bin, true)),
        Box::new(Gdc::start(&bin, false)),
    ];
    match Redis::start() {
        Some(r) => pairs.push(Box::new(r)),
        None => eprintln!("redis-server not found: gdc figures only"),
    }
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |what: &str, v: String| match rows.iter_mut().find(|(w, _)| w == what) {
        Some((_, vs)) => vs.push(v),
        None => rows.push((what.to_string(), vec![v])),
    };
    for p in &pairs {
        let (p50, p99) = lag(p.as_ref(), 10_000, 5);
        add("lag p50 at 10k writes/s (ms)", ms(p50));
        add("lag p99 at 10k writes/s (ms)", ms(p99));
        let (w, e) = throughput(p.as_ref(), ops);
        add(
            &format!("{ops} pipelined writes: source rate (ops/s)"),
            format!("{w:.0}"),
        );
        add(
            &format!("{ops} pipelined writes: replicated rate (ops/s)"),
            format!("{e:.0}"),
        );
        let c = catch_up(p.as_ref(), ops);
        add(&format!("catch-up of {ops} ops (ops/s)"), format!("{c:.0}"));
        let (w, e) = fan_out(p.as_ref(), ops);
        add(
            &format!("{ops} pipelined writes, two receivers: source rate (ops/s)"),
            format!("{w:.0}"),
        );
        add(
            &format!("{ops} pipelined writes, two receivers: replicated rate (ops/s)"),
            format!("{e:.0}"),
        );
    }
    let names: Vec<&str> = pairs.iter().map(|p| p.name()).collect();
    println!("| what | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(names.len()));
    for (what, vs) in rows {
        println!("| {what} | {} |", vs.join(" | "));
    }
}
