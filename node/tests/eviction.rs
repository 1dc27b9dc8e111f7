//! Eviction, in real gdc-node processes (only the binary counts its heap): every policy keeps
//! memory at `maxmemory` and evicts the keys it should; regions with different limits
//! converge; a region that cannot make room holds its incoming channel and catches up once
//! it can. What Redis 7.0.15's unit/maxmemory checks, which the external-server suite cannot
//! run (its tests start servers of their own).

mod common;

use common::wait_for;
use gdc_jepsen::process::{Server, free_port};
use std::path::Path;
use std::time::Duration;

const CONVERGE: Duration = Duration::from_secs(60);
const TOKEN: &str = "eviction-test-token";

fn start(dir: &Path, port: u16, extra: &[String]) -> Server {
    let mut args: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--dir".into(),
        dir.display().to_string(),
    ];
    args.extend_from_slice(extra);
    Server::start(Path::new(env!("CARGO_BIN_EXE_gdc-node")), &args, port).expect("spawn gdc-node")
}

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> Option<String> {
    let info: String = redis::cmd("INFO").arg(section).query(c).expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

fn info_u64(c: &mut redis::Connection, section: &str, field: &str) -> u64 {
    info_field(c, section, field)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{field} in INFO {section}"))
}

/// What counts toward `maxmemory`: used_memory less what eviction leaves out.
fn counted(c: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("memory").query(c).expect("INFO");
    let field = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name}"))
    };
    field("used_memory") - field("mem_not_counted_for_evict")
}

fn config_set(c: &mut redis::Connection, name: &str, value: impl ToString) {
    let ok: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value.to_string())
        .query(c)
        .unwrap_or_else(|e| panic!("CONFIG SET {name}: {e}"));
    assert_eq!(ok, "OK");
}

fn set(
    c: &mut redis::Connection,
    key: &str,
    value: &str,
    ttl_secs: Option<u64>,
) -> redis::RedisResult<()> {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(value);
    if let Some(t) = ttl_secs {
        cmd.arg("EX").arg(t);
    }
    cmd.query(c)
}

fn exists(c: &mut redis::Connection, key: &str) -> bool {
    redis::cmd("EXISTS")
        .arg(key)
        .query::<i64>(c)
        .expect("EXISTS")
        == 1
}

/// Lower `maxmemory` to `limit` and wait until the node has made room (each INFO, as
/// every command, evicts a round first).
fn shrink_to(c: &mut redis::Connection, limit: u64) {
    config_set(c, "maxmemory", limit);
    wait_for("memory within the limit", CONVERGE, || {
        (counted(c) <= limit).then_some(())
    });
}

/// The Prometheus page a node serves on `port`.
fn metrics(port: u16) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("metrics port");
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .expect("request");
    let mut page = String::new();
    s.read_to_string(&mut page).expect("page");
    page
}

fn digest(c: &mut redis::Connection) -> String {
    redis::cmd("GDC.DIGEST").query(c).expect("digest")
}

const VALUE_BYTES: usize = 1000;

/// Redis's "is the memory limit honoured?" and "only allkeys-* should remove non-volatile
/// keys", for every policy: the limit is the memory now plus 200 KiB; keys are written
/// until it is reached, then as many again. Every policy holds the limit (within 4 KiB,
/// Redis's slack); the volatile ones, given keys without a TTL, refuse writes instead.
#[test]
fn every_policy_holds_the_memory_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path(), free_port(), &[]);
    let mut c = node.client();
    let value = "x".repeat(VALUE_BYTES);
    for policy in [
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "allkeys-lrm",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
        "volatile-lrm",
    ] {
        for with_ttl in [true, false] {
            let _: () = redis::cmd("FLUSHALL").query(&mut c).expect("FLUSHALL");
            config_set(&mut c, "maxmemory", 0);
            config_set(&mut c, "maxmemory-policy", policy);
            let limit = counted(&mut c) + 200 * 1024;
            config_set(&mut c, "maxmemory", limit);
            let ttl = with_ttl.then_some(10_000);
            let mut written = 0;
            while counted(&mut c) + 4096 <= limit {
                set(&mut c, &format!("k{written}"), &value, ttl).expect("SET under the limit");
                written += 1;
            }
            assert!(written > 10, "{policy}: {written} keys fit");
            let mut refused = 0;
            for i in 0..written {
                match set(&mut c, &format!("more{i}"), &value, ttl) {
                    Ok(()) => {}
                    Err(e) => {
                        assert!(e.to_string().contains("used memory"), "{policy}: {e}");
                        refused += 1;
                    }
                }
            }
            let used = counted(&mut c);
            let volatile_without_ttl = policy.starts_with("volatile") && !with_ttl;
            // Redis's test asserts the limit only where eviction could make room.
            assert!(
                volatile_without_ttl || used < limit + 4096,
                "{policy}, ttl {with_ttl}: {used} over the limit {limit}"
            );
            if volatile_without_ttl {
                assert!(refused > 0, "{policy}: keys without a TTL are not evicted");
                assert_eq!(info_u64(&mut c, "stats", "evicted_keys"), 0, "{policy}");
            } else {
                assert_eq!(refused, 0, "{policy}: every write made room");
                let dbsize: u64 = redis::cmd("DBSIZE").query(&mut c).expect("DBSIZE");
                assert!(dbsize < 2 * written, "{policy}: nothing evicted ({dbsize})");
            }
            let _: String = redis::cmd("CONFIG")
                .arg("RESETSTAT")
                .query(&mut c)
                .expect("RESETSTAT");
        }
    }
}

/// Redis's "policy P should only remove volatile keys": half the keys have no TTL; a
/// volatile policy under a write load of keys with a TTL evicts none of them.
#[test]
fn volatile_policies_leave_keys_without_a_ttl_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path(), free_port(), &[]);
    let mut c = node.client();
    let value = "x".repeat(VALUE_BYTES);
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
        "volatile-lrm",
    ] {
        let _: () = redis::cmd("FLUSHALL").query(&mut c).expect("FLUSHALL");
        config_set(&mut c, "maxmemory", 0);
        config_set(&mut c, "maxmemory-policy", policy);
        let limit = counted(&mut c) + 200 * 1024;
        config_set(&mut c, "maxmemory", limit);
        let mut n = 0;
        while counted(&mut c) + 4096 <= limit {
            let ttl = (n % 2 == 1).then_some(10_000);
            set(&mut c, &format!("key:{n}"), &value, ttl).expect("SET");
            n += 1;
        }
        for j in 0..n {
            let _ = set(&mut c, &format!("foo:{j}"), &value, Some(10_000));
        }
        assert!(counted(&mut c) < limit + 4096, "{policy}");
        for even in (0..n).step_by(2) {
            assert!(
                exists(&mut c, &format!("key:{even}")),
                "{policy}: key:{even}"
            );
        }
        assert!(info_u64(&mut c, "stats", "evicted_keys") > 0, "{policy}");
    }
}

/// Which keys go: allkeys-lru the ones not used for longest, volatile-ttl the nearest
/// expiries, allkeys-lfu the least used.
#[test]
fn each_policy_evicts_the_keys_it_should() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path(), free_port(), &[]);
    let mut c = node.client();
    let value = "x".repeat(VALUE_BYTES);
    const N: usize = 600;

    // LRU: old keys, half of them read again later; new keys. Then room for about half.
    config_set(&mut c, "maxmemory-policy", "allkeys-lru");
    // Eviction is approximate, as Redis's: how close it comes to true LRU follows the
    // sample size (with 5, some recently used keys go once few untouched ones are left).
    config_set(&mut c, "maxmemory-samples", 64);
    let base = counted(&mut c);
    for i in 0..N {
        set(&mut c, &format!("old:{i}"), &value, None).expect("SET");
    }
    // The LRU clock counts seconds: wait until the old keys are 2 s idle.
    wait_for("the old keys to idle", Duration::from_secs(10), || {
        let idle: i64 = redis::cmd("OBJECT")
            .arg("IDLETIME")
            .arg("old:0")
            .query(&mut c)
            .expect("IDLETIME");
        (idle >= 2).then_some(())
    });
    for i in 0..N / 2 {
        let _: Option<String> = redis::cmd("GET")
            .arg(format!("old:{i}"))
            .query(&mut c)
            .expect("GET");
        set(&mut c, &format!("new:{i}"), &value, None).expect("SET");
    }
    let total = counted(&mut c) - base;
    // A fifth of what is held must go: less than the untouched third (what a key frees is
    // less than what it cost: the table keeps its capacity), so only untouched keys should.
    shrink_to(&mut c, base + total * 4 / 5);
    let untouched_left = (N / 2..N)
        .filter(|i| exists(&mut c, &format!("old:{i}")))
        .count();
    let used_left = (0..N / 2)
        .filter(|i| exists(&mut c, &format!("old:{i}")) && exists(&mut c, &format!("new:{i}")))
        .count();
    assert!(
        used_left >= N / 2 * 98 / 100,
        "keys used lately were evicted: {used_left} of {} left",
        N / 2
    );
    assert!(
        untouched_left < N / 2 * 4 / 5,
        "the untouched keys stayed: {untouched_left} of {} left",
        N / 2
    );

    // volatile-ttl: the nearest expiries go first.
    let _: () = redis::cmd("FLUSHALL").query(&mut c).expect("FLUSHALL");
    config_set(&mut c, "maxmemory", 0);
    config_set(&mut c, "maxmemory-policy", "volatile-ttl");
    let base = counted(&mut c);
    for i in 0..N {
        set(
            &mut c,
            &format!("t:{i}"),
            &value,
            Some(1000 + 10 * i as u64),
        )
        .expect("SET");
    }
    let total = counted(&mut c) - base;
    shrink_to(&mut c, base + total * 3 / 4);
    let far_left = (N / 2..N)
        .filter(|i| exists(&mut c, &format!("t:{i}")))
        .count();
    let near_left = (0..N / 4)
        .filter(|i| exists(&mut c, &format!("t:{i}")))
        .count();
    assert!(
        far_left >= N / 2 * 98 / 100,
        "far expiries evicted: {far_left}"
    );
    assert!(near_left <= N / 4 / 10, "near expiries kept: {near_left}");

    // allkeys-lfu: keys read often stay; OBJECT FREQ shows the counts.
    let _: () = redis::cmd("FLUSHALL").query(&mut c).expect("FLUSHALL");
    config_set(&mut c, "maxmemory", 0);
    config_set(&mut c, "maxmemory-policy", "allkeys-lfu");
    // Every use counts, and nothing decays while the test runs.
    config_set(&mut c, "lfu-log-factor", 0);
    config_set(&mut c, "lfu-decay-time", 0);
    let base = counted(&mut c);
    for i in 0..N {
        set(&mut c, &format!("f:{i}"), &value, None).expect("SET");
    }
    let fresh: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("f:0")
        .query(&mut c)
        .expect("FREQ");
    assert_eq!(fresh, 5, "a new key starts at 5");
    for _ in 0..5 {
        for i in 0..N / 2 {
            let _: Option<String> = redis::cmd("GET")
                .arg(format!("f:{i}"))
                .query(&mut c)
                .expect("GET");
        }
    }
    let freq: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("f:0")
        .query(&mut c)
        .expect("FREQ");
    assert_eq!(freq, 10);
    let total = counted(&mut c) - base;
    shrink_to(&mut c, base + total * 4 / 5);
    let frequent_left = (0..N / 2)
        .filter(|i| exists(&mut c, &format!("f:{i}")))
        .count();
    assert!(
        frequent_left >= N / 2 * 98 / 100,
        "frequent keys evicted: {frequent_left} left"
    );
}

/// A node of region `name` with a sync port, receiving from `peers` (region, sync port).
fn region(
    dir: &Path,
    name: &str,
    port: u16,
    sync_port: u16,
    peers: &[(&str, u16)],
    extra: &[&str],
) -> Server {
    let mut flags: Vec<String> = vec![
        "--region".into(),
        name.into(),
        "--sync-port".into(),
        sync_port.to_string(),
        "--cluster-token".into(),
        TOKEN.into(),
        "--expire-grace-ms".into(),
        "0".into(),
    ];
    for (peer, p) in peers {
        flags.push("--peer".into());
        flags.push(format!("{peer}=127.0.0.1:{p}"));
    }
    flags.extend(extra.iter().map(|s| s.to_string()));
    start(dir, port, &flags)
}

/// Three regions, three limits (a small one, a larger one, none), all allkeys-lru, each
/// written beyond the smallest limit: they converge to equal digests; every region counts
/// the evictions by the region that made them; a key written again after its eviction is
/// kept everywhere.
#[test]
fn regions_with_different_limits_converge() {
    const KEYS_PER_REGION: usize = 6000;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let names = ["a", "b", "c"];
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let syncs: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let metrics_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let nodes: Vec<Server> = (0..3)
        .map(|i| {
            let peers: Vec<(&str, u16)> = (0..3)
                .filter(|j| *j != i)
                .map(|j| (names[j], syncs[j]))
                .collect();
            let metrics_port = metrics_ports[i].to_string();
            region(
                dirs[i].path(),
                names[i],
                ports[i],
                syncs[i],
                &peers,
                &[
                    "--maxmemory-policy",
                    "allkeys-lru",
                    "--metrics-port",
                    &metrics_port,
                ],
            )
        })
        .collect();
    let mut conns: Vec<redis::Connection> = nodes.iter().map(Server::client).collect();
    // a has room for about 6000 keys, b for 12000, c for all; but room also for what the
    // channels' transport holds (up to its 2 MiB window per channel), which no eviction
    // frees.
    for (i, extra) in [(0, 6 << 20), (1, 12 << 20)] {
        let limit = counted(&mut conns[i]) + extra;
        config_set(&mut conns[i], "maxmemory", limit);
    }
    let value = "v".repeat(VALUE_BYTES);
    let writers: Vec<_> = (0..3)
        .map(|i| {
            let port = ports[i];
            let value = value.clone();
            std::thread::spawn(move || {
                let mut c = gdc_jepsen::process::connect(port);
                for k in 0..KEYS_PER_REGION {
                    set(&mut c, &format!("{}:{k}", ["a", "b", "c"][i]), &value, None)
                        .expect("every write is taken");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    let converged = |conns: &mut Vec<redis::Connection>| {
        wait_for("the regions to converge", CONVERGE, || {
            let d: Vec<String> = conns.iter_mut().map(digest).collect();
            (d[0] == d[1] && d[1] == d[2]).then(|| d[0].clone())
        })
    };
    converged(&mut conns);
    let evicted_at_a = info_u64(&mut conns[0], "stats", "evicted_keys");
    assert!(evicted_at_a > 1000, "a evicted {evicted_at_a}");
    let evicted_at_b = info_u64(&mut conns[1], "stats", "evicted_keys");
    assert_eq!(info_u64(&mut conns[2], "stats", "evicted_keys"), 0);
    let page = metrics(metrics_ports[2]);
    assert!(
        page.contains(&format!(
            "gdc_evictions_applied_total{{region=\"a\"}} {evicted_at_a}"
        )),
        "{page}"
    );
    for c in conns.iter_mut() {
        assert_eq!(info_u64(c, "gdc", "evictions_from_a"), evicted_at_a);
        let from_b =
            info_field(c, "gdc", "evictions_from_b").map_or(0, |v| v.parse().expect("a count"));
        assert_eq!(from_b, evicted_at_b);
    }
    // What the smallest region holds, every region holds.
    let dbsizes: Vec<u64> = conns
        .iter_mut()
        .map(|c| redis::cmd("DBSIZE").query(c).expect("DBSIZE"))
        .collect();
    assert!(dbsizes.iter().all(|n| *n == dbsizes[0]), "{dbsizes:?}");
    assert!(dbsizes[0] < 3 * KEYS_PER_REGION as u64, "{dbsizes:?}");

    // Keys evicted everywhere, written again at c once the limits allow: kept everywhere.
    for c in conns.iter_mut().take(2) {
        config_set(c, "maxmemory", 0);
    }
    let gone: Vec<String> = (0..KEYS_PER_REGION)
        .map(|k| format!("a:{k}"))
        .filter(|k| !exists(&mut conns[2], k))
        .take(100)
        .collect();
    assert_eq!(gone.len(), 100);
    for k in &gone {
        set(&mut conns[2], k, "again", None).expect("SET");
    }
    converged(&mut conns);
    for c in conns.iter_mut() {
        for k in &gone {
            let v: Option<String> = redis::cmd("GET").arg(k).query(c).expect("GET");
            assert_eq!(v.as_deref(), Some("again"), "{k}");
        }
    }
}

/// A region at its limit with noeviction takes no more effects from its peer: the channel
/// shows `paused: out of memory`, the peer goes on taking writes, and once the limit is
/// raised the channel catches up to equal digests.
#[test]
fn a_full_region_pauses_its_channel_and_catches_up() {
    let (da, db) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let (pa, pb, sa, sb) = (free_port(), free_port(), free_port(), free_port());
    let mb = free_port();
    let a = region(da.path(), "a", pa, sa, &[("b", sb)], &[]);
    let b = region(
        db.path(),
        "b",
        pb,
        sb,
        &[("a", sa)],
        &["--metrics-port", &mb.to_string()],
    );
    let (mut ca, mut cb) = (a.client(), b.client());
    let limit = counted(&mut cb) + 1024 * 1024;
    config_set(&mut cb, "maxmemory", limit);
    let value = "v".repeat(VALUE_BYTES);
    for k in 0..3000 {
        set(&mut ca, &format!("k:{k}"), &value, None).expect("a takes every write");
    }
    let channel_state = |c: &mut redis::Connection| -> String {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query(c)
            .expect("INFO");
        info.lines()
            .find(|l| l.contains("peer=a"))
            .and_then(|l| l.split(',').find_map(|f| f.strip_prefix("state=")))
            .unwrap_or_default()
            .to_string()
    };
    wait_for("b's channel to pause", CONVERGE, || {
        (channel_state(&mut cb) == "paused: out of memory").then_some(())
    });
    // And to Prometheus.
    let page = metrics(mb);
    assert!(
        page.contains("gdc_channel_state{peer=\"a\",state=\"paused: out of memory\"} 1"),
        "{page}"
    );
    let refused = set(&mut cb, "local", &value, None).expect_err("b is full");
    assert!(refused.to_string().contains("OOM"), "{refused}");
    // Over by what the transport holds at most: its 2 MiB window, the message being decoded
    // (up to a 1 MiB batch), and one piece of a batch applied.
    let held_bytes = counted(&mut cb);
    assert!(
        held_bytes < limit + 4 * 1024 * 1024,
        "b held its limit: {held_bytes} for {limit}"
    );
    // a is unaffected.
    set(&mut ca, "after", "1", None).expect("a takes writes");
    let held: u64 = redis::cmd("DBSIZE").query(&mut cb).expect("DBSIZE");
    assert!(held < 3000, "b took everything: {held}");
    config_set(&mut cb, "maxmemory", 0);
    wait_for("b to catch up", CONVERGE, || {
        (digest(&mut ca) == digest(&mut cb)).then_some(())
    });
    assert_eq!(
        redis::cmd("DBSIZE").query::<u64>(&mut cb).expect("DBSIZE"),
        3001
    );
    wait_for("b's channel to stream", CONVERGE, || {
        (channel_state(&mut cb) == "streaming").then_some(())
    });
}

/// Bad settings are refused by name, and nothing changes.
#[test]
fn bad_eviction_settings_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path(), free_port(), &[]);
    let mut c = node.client();
    config_set(&mut c, "maxmemory", "10mb");
    for (name, value, why) in [
        (
            "maxmemory-policy",
            "lru",
            "argument(s) must be one of the following",
        ),
        ("maxmemory", "-1", "argument must be a memory value"),
        (
            "maxmemory-samples",
            "0",
            "argument must be between 1 and 2147483647 inclusive",
        ),
    ] {
        let e = redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query::<String>(&mut c)
            .expect_err(name);
        let text = e.to_string();
        assert!(
            text.contains(&format!("possibly related to argument '{name}'")) && text.contains(why),
            "{text}"
        );
    }
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory*")
        .query(&mut c)
        .expect("CONFIG GET");
    let value_of = |n: &str| {
        got.iter()
            .position(|g| g == n)
            .map(|i| got[i + 1].clone())
            .unwrap_or_default()
    };
    assert_eq!(value_of("maxmemory"), (10 * 1024 * 1024).to_string());
    assert_eq!(value_of("maxmemory-policy"), "noeviction");
    assert_eq!(value_of("maxmemory-samples"), "5");
    // An unknown policy on the command line: the node does not start, and says why.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gdc-node"))
        .args([
            "--port",
            &free_port().to_string(),
            "--maxmemory-policy",
            "most-lru",
        ])
        .arg("--dir")
        .arg(dir.path().join("other"))
        .output()
        .expect("run gdc-node");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("maxmemory-policy") && err.contains("allkeys-lru"),
        "{err}"
    );
}

/// An eviction tells keyspace subscribers (`evicted`) and clients tracking the key.
#[test]
fn an_eviction_is_told_to_subscribers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path(), free_port(), &[]);
    let mut c = node.client();
    config_set(&mut c, "notify-keyspace-events", "Ee");
    config_set(&mut c, "maxmemory-policy", "allkeys-lru");
    set(&mut c, "foo", "bar", None).expect("SET");
    let mut sub = node.client();
    let mut pubsub = sub.as_pubsub();
    pubsub.psubscribe("*").expect("PSUBSCRIBE");
    pubsub
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // Nothing but CONFIG SET: the node makes room by itself.
    config_set(&mut c, "maxmemory", 1);
    let msg = pubsub.get_message().expect("a message");
    assert_eq!(msg.get_channel_name(), "__keyevent@0__:evicted");
    assert_eq!(msg.get_payload::<String>().expect("payload"), "foo");
}

/// What making room for a command evicts is told to a tracking client before that
/// command's reply, as Redis evicts before it runs a command (Redis's unit/tracking checks
/// it with SETBIT and GETBIT, as here).
#[test]
fn an_eviction_before_a_command_is_told_before_its_reply() {
    use common::redis_server::{call, read_reply, request};
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _node = start(dir.path(), port, &[]);
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    call(&mut c, &["HELLO", "3"]);
    assert_eq!(call(&mut c, &["CLIENT", "TRACKING", "ON"]), b"+OK\r\n");
    let info = String::from_utf8_lossy(&call(&mut c, &["INFO", "memory"])).into_owned();
    let field = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name}"))
    };
    let limit = field("used_memory") - field("mem_not_counted_for_evict") + 100 * 1024;
    call(&mut c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    call(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "volatile-random"],
    );
    call(&mut c, &["SETEX", "volatile-key", "10000", "x"]);
    assert_eq!(call(&mut c, &["GET", "volatile-key"]), b"$1\r\nx\r\n");
    // 200 kB: past the limit, so room is made before the next command at the latest.
    c.write_all(&request(&["SETBIT", "big-key", "1600000", "0"]))
        .expect("write");
    assert_eq!(read_reply(&mut c), b":0\r\n");
    c.write_all(&request(&["GETBIT", "big-key", "0"]))
        .expect("write");
    let invalidate = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$12\r\nvolatile-key\r\n";
    assert_eq!(read_reply(&mut c), invalidate);
    assert_eq!(read_reply(&mut c), b":0\r\n");
}
