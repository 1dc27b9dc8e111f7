//! Real processes: acknowledged writes survive `kill -9` with `appendfsync always`, and a torn
//! or corrupt binlog tail is cut at restart with everything before it kept.

mod common;

use common::wait_for;
use gdc_jepsen::process::{Server, free_port};
use redis::Commands;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// gdc-node on `port` with `appendfsync always`, its data in `dir`, and more flags.
fn start_with(dir: &Path, port: u16, extra: &[String]) -> Server {
    let mut args: Vec<String> = ["--port", &port.to_string(), "--appendfsync", "always"]
        .map(String::from)
        .to_vec();
    args.extend(["--dir".to_string(), dir.display().to_string()]);
    args.extend_from_slice(extra);
    Server::start(Path::new(env!("CARGO_BIN_EXE_gdc-node")), &args, port).expect("spawn gdc-node")
}

fn start(dir: &Path, port: u16) -> Server {
    start_with(dir, port, &[])
}

/// SHUTDOWN, and the process ends well.
fn shutdown(p: Server) {
    let status = p.shutdown().expect("wait");
    assert!(status.success(), "{status}");
}

fn digest(c: &mut redis::Connection) -> String {
    redis::cmd("GDC.DIGEST").query(c).expect("digest")
}

fn last_segment(dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir.join("binlog"))
        .expect("binlog dir")
        .map(|e| e.expect("entry").path())
        .collect();
    segs.sort();
    segs.pop().expect("a segment")
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let p = start(dir.path(), port);
    let mut c = p.client();
    for i in 0..300 {
        let _: () = c.set(format!("key:{i}"), i).expect("set");
    }
    for _ in 0..50 {
        let _: i64 = c.incr("counter", 2).expect("incr");
    }
    let _: i64 = c.sadd("set", &["a", "b", "c"]).expect("sadd");
    let _: i64 = c.srem("set", "b").expect("srem");
    let _: i64 = c.del("key:7").expect("del");
    let before = digest(&mut c);
    p.kill9();

    let p = start(dir.path(), port);
    let mut c = p.client();
    assert_eq!(digest(&mut c), before);
    assert_eq!(c.get::<_, i64>("key:299").expect("get"), 299);
    assert_eq!(c.exists::<_, i64>("key:7").expect("exists"), 0);
    assert_eq!(c.get::<_, i64>("counter").expect("get"), 100);
    let mut m: Vec<String> = c.smembers("set").expect("smembers");
    m.sort();
    assert_eq!(m, vec!["a", "c"]);
    // The restarted node goes on writing after what it replayed.
    let _: () = c.set("after", "restart").expect("set");
    let after = digest(&mut c);
    p.kill9();
    let p = start(dir.path(), port);
    assert_eq!(digest(&mut p.client()), after);
}

#[test]
fn torn_binlog_tail_is_cut_and_the_node_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let p = start(dir.path(), port);
    let mut c = p.client();
    for i in 0..20 {
        let _: () = c.set(format!("k{i}"), "v").expect("set");
    }
    let before = digest(&mut c);
    let id_before = server_id(&mut c);
    p.kill9();
    // A crash mid-write: a record header promising more bytes than follow.
    let seg = last_segment(dir.path());
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&seg)
        .expect("open segment");
    f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 9, 9])
        .expect("append");
    drop(f);

    let p = start(dir.path(), port);
    let mut c = p.client();
    assert_eq!(digest(&mut c), before);
    // Ops of the lost tail may be at other regions: new writes take a new server-id.
    let id_after = server_id(&mut c);
    assert_ne!(id_after, id_before);
    let _: () = c.set("next", "v").expect("set");
    let after = digest(&mut c);
    shutdown(p);
    let p = start(dir.path(), port);
    let mut c = p.client();
    assert_eq!(
        digest(&mut c),
        after,
        "records written after the cut are readable"
    );
    assert_eq!(server_id(&mut c), id_after, "kept across a clean restart");
    // A crash without a torn tail: whole frames may be lost all the same.
    p.kill9();
    let p = start(dir.path(), port);
    assert_ne!(server_id(&mut p.client()), id_after);
}

/// The node's server-id, from INFO gdc.
fn server_id(c: &mut redis::Connection) -> String {
    let info: String = redis::cmd("INFO").arg("gdc").query(c).expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix("server_id:"))
        .expect("server_id in INFO gdc")
        .trim()
        .to_string()
}

#[test]
fn corrupt_last_record_is_cut_with_everything_before_it_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let p = start(dir.path(), port);
    let mut c = p.client();
    let _: () = c.set("a", "1").expect("set");
    let before_last = digest(&mut c);
    let _: () = c.set("b", "2").expect("set");
    p.kill9();
    // Flip a byte inside the last record's payload: its checksum no longer matches.
    let seg = last_segment(dir.path());
    let mut bytes = std::fs::read(&seg).expect("read segment");
    let n = bytes.len();
    bytes[n - 3] ^= 0xff;
    std::fs::write(&seg, &bytes).expect("write segment");

    let p = start(dir.path(), port);
    let mut c = p.client();
    assert_eq!(digest(&mut c), before_last);
    assert_eq!(c.get::<_, String>("a").expect("get"), "1");
    assert_eq!(c.exists::<_, i64>("b").expect("exists"), 0);
}

fn files(dir: &Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn restart_from_snapshot_and_binlog_tail_gives_the_same_digest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let p = start(dir.path(), port);
    let mut c = p.client();
    for i in 0..200 {
        let _: () = c.set(format!("before:{i}"), i).expect("set");
    }
    let _: i64 = c.hset("h", "f", "1").expect("hset");
    let ok: String = redis::cmd("SAVE").query(&mut c).expect("save");
    assert_eq!(ok, "OK");
    let saved = files(dir.path(), "snapshot-");
    assert_eq!(saved.len(), 1);
    for i in 0..100 {
        let _: () = c.set(format!("after:{i}"), i).expect("set");
    }
    let _: i64 = c.del("before:3").expect("del");
    let _: i64 = c.hincr("h", "f", 5).expect("hincrby");
    let before = digest(&mut c);
    // A background snapshot too; wait until it is on disk.
    let started: String = redis::cmd("BGSAVE").query(&mut c).expect("bgsave");
    assert_eq!(started, "Background saving started");
    wait_for(
        "the background snapshot to replace the first",
        Duration::from_secs(20),
        || {
            let snaps = files(dir.path(), "snapshot-");
            (snaps.len() == 1 && snaps != saved && snaps[0].ends_with(".gdc")).then_some(())
        },
    );
    let _: () = c.set("tail", "x").expect("set");
    let with_tail = digest(&mut c);
    assert_ne!(before, with_tail);
    p.kill9();

    let p = start(dir.path(), port);
    let mut c = p.client();
    assert_eq!(digest(&mut c), with_tail);
    assert_eq!(
        c.get::<_, i64>("h").err().map(|_| ()),
        Some(()),
        "h is a hash"
    );
    assert_eq!(c.hget::<_, _, i64>("h", "f").expect("hget"), 6);
    assert_eq!(c.exists::<_, i64>("before:3").expect("exists"), 0);
    assert_eq!(c.get::<_, String>("tail").expect("get"), "x");
    // The binlog segments the snapshot covers were removed.
    let segs = files(&dir.path().join("binlog"), "binlog-");
    assert!(segs.len() <= 2, "covered segments remain: {segs:?}");
}

#[test]
fn bad_config_file_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("gdc.toml");
    std::fs::write(&conf, "port = 7000\nmaxmemroy = \"1gb\"\n").expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_gdc-node"))
        .arg("--config")
        .arg(&conf)
        .arg("--dir")
        .arg(dir.path().join("data"))
        .output()
        .expect("run gdc-node");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown setting 'maxmemroy'"), "stderr: {err}");
}

#[test]
fn over_maxmemory_writes_get_oom_and_reads_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = start(dir.path(), free_port());
    let mut c = p.client();
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query(&mut c)
        .expect("info");
    let field = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in INFO memory"))
    };
    let used = field("used_memory");
    assert!(used > 0, "the binary counts its heap");
    // What maxmemory is compared with: used_memory less what eviction leaves out (the
    // metadata store's fixed tables among it).
    let counted = used - field("mem_not_counted_for_evict");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(counted + 4 * 1024 * 1024)
        .query(&mut c)
        .expect("config set");
    let big = "x".repeat(64 * 1024);
    let mut refused = None;
    for i in 0..200 {
        if let Err(e) = c.set::<_, _, ()>(format!("k{i}"), &big) {
            refused = Some((i, e.to_string()));
            break;
        }
    }
    let (at, refused) = refused.expect("writes are refused before 200 x 64 KiB");
    assert!(at > 10, "the first writes fit under the limit");
    assert!(
        refused.starts_with("OOM")
            && refused.contains("command not allowed when used memory > 'maxmemory'"),
        "{refused}"
    );
    assert_eq!(c.get::<_, String>("k0").expect("reads go on"), big);
    let _: i64 = c.del("k0").expect("deletes go on");
}

#[test]
fn an_acknowledged_transaction_survives_kill_9_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let p = start(dir.path(), port);
    let mut c = p.client();
    let (a, b, n): ((), (), i64) = redis::pipe()
        .atomic()
        .set("t:a", "1")
        .set("t:b", "2")
        .incr("t:n", 5)
        .query(&mut c)
        .expect("exec");
    let _ = (a, b);
    assert_eq!(n, 5);
    let before = digest(&mut c);
    p.kill9();
    let p = start(dir.path(), port);
    let mut c = p.client();
    assert_eq!(digest(&mut c), before);
    let got: (String, String, i64) = redis::pipe()
        .get("t:a")
        .get("t:b")
        .get("t:n")
        .query(&mut c)
        .expect("get");
    assert_eq!(got, ("1".into(), "2".into(), 5));
}

#[test]
fn a_receiver_killed_mid_stream_resumes_with_exact_counters() {
    let (src_dir, dst_dir) = (
        tempfile::tempdir().expect("src"),
        tempfile::tempdir().expect("dst"),
    );
    let (src_port, sync_port, dst_port) = (free_port(), free_port(), free_port());
    let token = vec![
        "--cluster-token".to_string(),
        "process-test-token".to_string(),
    ];
    let mut src_flags = vec![
        "--region".to_string(),
        "src".into(),
        "--sync-port".into(),
        sync_port.to_string(),
    ];
    src_flags.extend(token.clone());
    let src = start_with(src_dir.path(), src_port, &src_flags);
    let mut dst_flags = vec![
        "--region".to_string(),
        "dst".into(),
        "--peer".into(),
        format!("src=127.0.0.1:{sync_port}"),
    ];
    dst_flags.extend(token);
    let dst = start_with(dst_dir.path(), dst_port, &dst_flags);

    // A writer at src, pipelining increments until told to stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let mut c = src.client();
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut written = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut p = redis::pipe();
                for _ in 0..100 {
                    p.cmd("INCR").arg("n").ignore();
                }
                let _: () = p.query(&mut c).expect("INCR");
                written += 100;
            }
            written
        })
    };
    let count = |c: &mut redis::Connection| -> u64 {
        redis::cmd("GET")
            .arg("n")
            .query::<Option<u64>>(c)
            .expect("GET")
            .unwrap_or(0)
    };
    let mut d = dst.client();
    wait_for("dst to be receiving", Duration::from_secs(30), || {
        (count(&mut d) > 2000).then_some(())
    });
    drop(d);
    dst.kill9();
    let dst = start_with(dst_dir.path(), dst_port, &dst_flags);
    let mut d = dst.client();
    let before = count(&mut d);
    wait_for("dst to receive again", Duration::from_secs(30), || {
        (count(&mut d) > before + 2000).then_some(())
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().expect("writer");
    let mut s = src.client();
    assert_eq!(count(&mut s), written);
    wait_for("dst to catch up", Duration::from_secs(60), || {
        (count(&mut d) == written).then_some(())
    });
    assert_eq!(digest(&mut d), digest(&mut s));
}

/// gdc-node on `port` with `args`, its data in `dir/data`, its log in `dir/node.log`, and
/// `env` (RUST_LOG unset: the default filter); once it takes a write.
fn logged_node(dir: &Path, port: u16, args: &[String], env: &[(&str, &str)]) -> (Server, PathBuf) {
    let log = dir.join("node.log");
    let mut all = vec![
        "--port".to_string(),
        port.to_string(),
        "--dir".into(),
        dir.join("data").display().to_string(),
    ];
    all.extend_from_slice(args);
    let mut vars: Vec<(&str, Option<&str>)> = env.iter().map(|(k, v)| (*k, Some(*v))).collect();
    vars.push(("RUST_LOG", None));
    let node = Server::start_with_env(
        Path::new(env!("CARGO_BIN_EXE_gdc-node")),
        &all,
        port,
        Some(&log),
        &vars,
    )
    .unwrap_or_else(|e| {
        panic!(
            "gdc-node: {e}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    let _: () = node
        .client()
        .set("k", "v")
        .expect("a standalone node takes writes");
    (node, log)
}

/// A node started in a shell that exports gdcctl's `GDC_COORDINATOR` runs standalone (the
/// variable is gdcctl's, not the node's), and what it logs to a file carries no colour
/// codes.
#[test]
fn a_standalone_node_ignores_gdcctls_environment_and_logs_plain_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [("GDC_COORDINATOR", "127.0.0.1:1")];
    let (node, log) = logged_node(dir.path(), free_port(), &[], &env);
    node.kill9();
    let text = std::fs::read_to_string(&log).expect("read the log");
    assert!(text.contains("INFO"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in the log file: {text:?}"
    );
}

/// A caller the sync port's TLS refuses (here: plain text) is logged at the default level
/// with the reason, and the node serves on.
#[test]
fn a_refused_tls_handshake_is_logged_with_its_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = |name: &str| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/certs")
            .join(name)
            .display()
            .to_string()
    };
    let (port, sync_port) = (free_port(), free_port());
    let args = [
        "--sync-port".to_string(),
        sync_port.to_string(),
        "--cluster-token".into(),
        "test-token".into(),
        "--tls-cert".into(),
        cert("node.pem"),
        "--tls-key".into(),
        cert("node.key"),
        "--tls-ca".into(),
        cert("ca.pem"),
    ];
    let (node, log) = logged_node(dir.path(), port, &args, &[]);
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", sync_port)).expect("connect");
    plain
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .expect("write");
    let logged = wait_for("the refusal in the log", Duration::from_secs(20), || {
        let text = std::fs::read_to_string(&log).ok()?;
        text.lines()
            .find(|l| l.contains("tls accept error"))
            .map(str::to_string)
    });
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
    let served = client
        .get_connection()
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
    node.kill9();
    assert!(logged.contains("error="), "{logged}");
    assert_eq!(served.expect("PING after the refusal"), "PONG");
}

/// SIGTERM to a node under load — clients writing, a channel in and a channel out, anti-
/// entropy on — ends it within 5 s, cleanly (the restart finds a clean shutdown), with no
/// task of its own left running (its log says so) and every acknowledged write in its own
/// binlog (restarted without peers, it has them all).
#[test]
fn sigterm_under_load_ends_the_node_within_5_s_with_every_acknowledged_write() {
    let dirs = [
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    ];
    let ports = [free_port(), free_port()];
    let sync_ports = [free_port(), free_port()];
    let names = ["a", "b"];
    let node = |i: usize, peers: bool| -> Vec<String> {
        let mut args = vec![
            "--region".to_string(),
            names[i].to_string(),
            "--sync-port".into(),
            sync_ports[i].to_string(),
            "--cluster-token".into(),
            "test-token".into(),
            "--anti-entropy-interval-ms".into(),
            "200".into(),
        ];
        if peers {
            let other = 1 - i;
            args.extend([
                "--peer".to_string(),
                format!("{}=127.0.0.1:{}", names[other], sync_ports[other]),
            ]);
        }
        args
    };
    let (a, a_log) = logged_node(dirs[0].path(), ports[0], &node(0, true), &[]);
    let b = start_with(dirs[1].path(), ports[1], &node(1, true));
    let stop = std::sync::atomic::AtomicBool::new(false);
    let acked = std::sync::atomic::AtomicU64::new(0);
    let writers = 4;
    let clients: Vec<redis::Connection> = (0..writers).map(|_| a.client()).collect();
    let (stop, acked) = (&stop, &acked);
    std::thread::scope(|s| {
        for mut c in clients {
            s.spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match c.incr::<_, _, i64>("n", 1) {
                        Ok(_) => acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                        Err(_) => break,
                    };
                }
            });
        }
        // Under load, and replicating: b has some of a's writes.
        wait_for("load and replication", Duration::from_secs(30), || {
            let n: Option<i64> = b.client().get("n").ok()?;
            (acked.load(std::sync::atomic::Ordering::Relaxed) > 2000 && n? > 0).then_some(())
        });
        let started = std::time::Instant::now();
        a.terminate();
        let took = started.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
    });
    let text = std::fs::read_to_string(&a_log).expect("log");
    assert!(text.contains("tasks_left=0"), "{text}");
    drop(b);
    let acked = acked.load(std::sync::atomic::Ordering::Relaxed) as i64;
    let log = dirs[0].path().join("restart.log");
    let args: Vec<String> = [
        "--port",
        &ports[0].to_string(),
        "--region",
        "a",
        "--dir",
        &dirs[0].path().join("data").display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    let again = Server::start_logged(
        Path::new(env!("CARGO_BIN_EXE_gdc-node")),
        &args,
        ports[0],
        Some(&log),
    )
    .expect("restart");
    let n: i64 = again.client().get("n").expect("GET");
    // Every acknowledged write; at most one more per writer (sent, not yet answered).
    assert!(
        (acked..=acked + writers).contains(&n),
        "{n} after {acked} acknowledged"
    );
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(!text.contains("not shut down cleanly"), "{text}");
    shutdown(again);
}

/// `used_memory`, from INFO memory.
fn used_memory(c: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("memory").query(c).expect("info");
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory")
}

/// MEMORY USAGE is a real size: for keys of every collection type it is close to what
/// writing them cost the node's heap (the binary counts its allocations), CRDT metadata
/// included; it grows with content, and a missing key has none.
#[test]
fn memory_usage_is_close_to_what_a_key_costs_the_heap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = start(dir.path(), free_port());
    let mut c = p.client();
    let usage = |c: &mut redis::Connection, key: &str| -> Option<i64> {
        redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .query(c)
            .expect("MEMORY USAGE")
    };
    assert_eq!(usage(&mut c, "missing"), None);
    let _: () = c.set("s", "v").expect("SET");
    let small = usage(&mut c, "s").expect("a string");
    assert!(small > 0 && small < 200, "{small}");
    let fields = 20_000;
    for (kind, cmd) in [("h", "HSET"), ("z", "ZADD"), ("t", "SADD"), ("l", "RPUSH")] {
        let before = used_memory(&mut c);
        let mut pipe = redis::pipe();
        for i in 0..fields {
            let member = format!("member-{i:08}-with-some-length");
            match cmd {
                "HSET" => pipe
                    .cmd(cmd)
                    .arg(kind)
                    .arg(&member)
                    .arg("a-value-of-20-bytes!"),
                "ZADD" => pipe.cmd(cmd).arg(kind).arg(i).arg(&member),
                _ => pipe.cmd(cmd).arg(kind).arg(&member),
            };
            pipe.ignore();
        }
        let _: () = pipe.query(&mut c).expect("writes");
        let cost = used_memory(&mut c) - before;
        let reported = usage(&mut c, kind).expect("the key");
        let ratio = reported as f64 / cost as f64;
        eprintln!("{cmd}: MEMORY USAGE {reported}, heap cost {cost} ({ratio:.2})");
        assert!(
            (0.6..=1.5).contains(&ratio),
            "{cmd}: MEMORY USAGE {reported} against {cost} bytes of heap ({ratio:.2})"
        );
    }
    let e = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("h")
        .arg("SAMPLES")
        .arg("x")
        .query::<i64>(&mut c)
        .expect_err("not a number");
    assert!(e.to_string().contains("not an integer"), "{e}");
    shutdown(p);
}
