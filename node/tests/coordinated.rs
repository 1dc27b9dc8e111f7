//! Nodes run by a coordinator: they register, take the roles it gives (the first node of a
//! region its primary, later ones secondaries that refuse writes), and open the channels
//! the topology lists; a paused channel stops carrying writes until it is resumed.

mod common;

use common::{TOKEN, TestNode, sync_listener, wait_for};
use std::time::Duration;

const CONVERGE: Duration = Duration::from_secs(30);
use gdc_coordinator::client::AdminClient;
use gdc_coordinator::server::{self, Options};
use gdc_coordinator::topology::{Change, ChannelState};
use gdc_jepsen::process::{Server, free_port};
use gdc_jepsen::proxy::Proxy;

/// A one-member coordinator on its own thread, stopped when dropped.
struct Coordinator {
    addr: String,
    sentinel: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Coordinator {
    fn start() -> Coordinator {
        let dir = tempfile::tempdir().expect("tempdir");
        let (l, addr) = sync_listener();
        drop(l);
        let addr = addr.to_string();
        let mut o = Options::new(1, addr.clone(), dir.path().to_path_buf(), TOKEN.into());
        o.initial_cluster = [(1, addr.clone())].into();
        let (l, sentinel) = sync_listener();
        drop(l);
        o.sentinel_port = Some(sentinel.port());
        o.heartbeat_ms = 100;
        o.election_timeout_ms = 500;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(server::run(o, async {
                let _ = stopped.await;
            }))
            .expect("coordinator");
        });
        Coordinator {
            addr,
            sentinel: sentinel.port(),
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn node(dir: &tempfile::TempDir, coordinator: &str, region: &str) -> TestNode {
    node_at(dir, coordinator, region, 0)
}

/// A node of instance "shop" serving clients on `port` (0: any).
fn node_at(dir: &tempfile::TempDir, coordinator: &str, region: &str, port: u16) -> TestNode {
    let (l, _) = sync_listener();
    node_serving_sync(dir, coordinator, region, port, l, |_| {})
}

/// A node of instance "shop" that the others reach (for sync) through a proxy.
fn node_behind_proxy(
    dir: &tempfile::TempDir,
    coordinator: &str,
    region: &str,
) -> (TestNode, Proxy) {
    let (l, sync) = sync_listener();
    let proxy = Proxy::start(sync).expect("proxy");
    let announced = proxy.addr().port();
    let node = node_serving_sync(dir, coordinator, region, 0, l, |c| {
        c.announce_sync_port = Some(announced);
    });
    (node, proxy)
}

/// A node of instance "shop" serving sync on `sync`, with settings changed by `change`.
fn node_serving_sync(
    dir: &tempfile::TempDir,
    coordinator: &str,
    region: &str,
    port: u16,
    sync: std::net::TcpListener,
    change: impl FnOnce(&mut gdc_node::Config),
) -> TestNode {
    TestNode::start_synced(dir.path(), sync, |c| {
        c.region = region.into();
        c.coordinators = vec![coordinator.to_string()];
        c.instance = Some("shop".into());
        c.port = port;
        // GDC.DEBUG SET-UNLOGGED makes regions differ for `verify`.
        c.debug_command = true;
        change(c);
    })
}

/// A coordinator holding an instance "shop" with regions eu and us (channels both ways),
/// a client of it, and three data directories for nodes.
struct Shop {
    coordinator: Coordinator,
    rt: tokio::runtime::Runtime,
    admin: AdminClient,
    dirs: Vec<tempfile::TempDir>,
}

fn shop() -> Shop {
    let coordinator = Coordinator::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let admin = AdminClient::new(vec![coordinator.addr.clone()], TOKEN).expect("client");
    for change in [
        Change::CreateInstance {
            name: "shop".into(),
        },
        Change::AddChild {
            instance: "shop".into(),
            region: "eu".into(),
            mesh: true,
        },
        Change::AddChild {
            instance: "shop".into(),
            region: "us".into(),
            mesh: true,
        },
    ] {
        rt.block_on(admin.change(&change)).expect("change");
    }
    let dirs = (0..3)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    Shop {
        coordinator,
        rt,
        admin,
        dirs,
    }
}

/// eu's primary (data in `dirs[0]`), holding its role at epoch 1, and a client of it.
fn eu_primary(dirs: &[tempfile::TempDir], coordinator: &str) -> (TestNode, redis::Connection) {
    let eu1 = node(&dirs[0], coordinator, "eu");
    let mut c = eu1.client();
    has_role(&mut c, "primary", 1);
    (eu1, c)
}

/// Once eu's primary is up: eu's secondary (data in `dirs[1]`) and us's primary (`dirs[2]`),
/// each holding its role at epoch 1.
fn eu_secondary_and_us(dirs: &[tempfile::TempDir], coordinator: &str) -> (TestNode, TestNode) {
    let eu2 = node(&dirs[1], coordinator, "eu");
    let us1 = node(&dirs[2], coordinator, "us");
    has_role(&mut eu2.client(), "secondary", 1);
    has_role(&mut us1.client(), "primary", 1);
    (eu2, us1)
}

/// eu's primaries by epoch, from the coordinator's recorded history.
fn eu_primaries(rt: &tokio::runtime::Runtime, admin: &AdminClient) -> Vec<(u64, String)> {
    let (t, _) = rt.block_on(admin.topology()).expect("topology");
    t.history
        .iter()
        .filter(|h| h.region == "eu")
        .map(|h| (h.epoch, h.primary.clone()))
        .collect()
}

/// Wait until the node behind `c` has role `role` at `epoch`.
fn has_role(c: &mut redis::Connection, role: &str, epoch: u64) {
    wait_for(&format!("{role} at epoch {epoch}"), CONVERGE, || {
        (info_field(c, "gdc_role") == role && info_field(c, "gdc_epoch") == epoch.to_string())
            .then_some(())
    });
}

fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query(c)
        .expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .to_string()
}

fn set(c: &mut redis::Connection, key: impl redis::ToRedisArgs, value: impl redis::ToRedisArgs) {
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query::<()>(c)
        .expect("SET");
}

fn get(c: &mut redis::Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(c).expect("GET")
}

fn arrives(c: &mut redis::Connection, key: &str, value: &str) {
    wait_for(&format!("{key}={value}"), CONVERGE, || {
        get(c, key).filter(|v| v == value).map(|_| ())
    });
}

#[test]
fn nodes_take_roles_and_channels_from_the_coordinator() {
    let Shop {
        coordinator,
        rt,
        admin,
        dirs,
    } = shop();
    // A node that cannot reach its coordinator takes no writes: it may have been replaced.
    let stray = node(&dirs[0], "127.0.0.1:1", "eu");
    let err = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query::<()>(&mut stray.client())
        .expect_err("fenced");
    assert_eq!(err.code(), Some("READONLY"));
    drop(stray);
    let (eu1, mut c_eu1) = eu_primary(&dirs, &coordinator.addr);
    // Each has its assignment once it knows the region's epoch.
    let (eu2, us1) = eu_secondary_and_us(&dirs, &coordinator.addr);
    let (mut c_us1, mut c_eu2) = (us1.client(), eu2.client());

    // Writes in either region reach the other, and eu's secondary (through eu's primary).
    let _: () = redis::cmd("SET")
        .arg("from-eu")
        .arg("1")
        .query(&mut c_eu1)
        .expect("SET");
    let _: () = redis::cmd("SET")
        .arg("from-us")
        .arg("2")
        .query(&mut c_us1)
        .expect("SET");
    arrives(&mut c_us1, "from-eu", "1");
    arrives(&mut c_eu1, "from-us", "2");
    arrives(&mut c_eu2, "from-eu", "1");
    arrives(&mut c_eu2, "from-us", "2");

    // The secondary refuses writes, as a Redis replica does, and goes on serving reads.
    for cmd in [
        vec!["SET", "k", "v"],
        vec!["DEL", "from-eu"],
        vec!["FLUSHALL"],
    ] {
        let err = redis::cmd(cmd[0])
            .arg(&cmd[1..])
            .query::<redis::Value>(&mut c_eu2)
            .expect_err("refused");
        assert_eq!(err.code(), Some("READONLY"), "{cmd:?}: {err}");
        assert_eq!(
            err.detail(),
            Some("You can't write against a read only replica.")
        );
    }
    assert_eq!(get(&mut c_eu2, "from-eu").as_deref(), Some("1"));

    // Roles are the coordinator's: REPLICAOF and FAILOVER answer as Redis does where they
    // would change nothing, and otherwise refuse, naming gdcctl; so does CONFIG SET port.
    let reply = |c: &mut redis::Connection, args: &[&str]| -> String {
        match redis::cmd(args[0]).arg(&args[1..]).query::<String>(c) {
            Ok(v) => v,
            Err(e) => e.to_string(),
        }
    };
    let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut c_eu2).expect("ROLE");
    let (host, port): (String, i64) = match (&role[1], &role[2]) {
        (redis::Value::BulkString(h), redis::Value::Int(p)) => {
            (String::from_utf8_lossy(h).into_owned(), *p)
        }
        other => panic!("ROLE of a secondary: {other:?}"),
    };
    let followed = reply(&mut c_eu2, &["REPLICAOF", &host, &port.to_string()]);
    assert_eq!(followed, "OK Already connected to specified master");
    let promoted = reply(&mut c_eu2, &["REPLICAOF", "NO", "ONE"]);
    assert!(promoted.contains("gdcctl failover"), "{promoted}");
    let other = reply(&mut c_eu2, &["REPLICAOF", "10.0.0.9", "7000"]);
    assert!(other.contains("set by the coordinator"), "{other}");
    let on_replica = reply(&mut c_eu2, &["FAILOVER"]);
    assert!(
        on_replica.contains("FAILOVER is not valid when server is a replica"),
        "{on_replica}"
    );
    assert_eq!(reply(&mut c_eu1, &["REPLICAOF", "NO", "ONE"]), "OK");
    let failover = reply(&mut c_eu1, &["FAILOVER"]);
    assert!(failover.contains("gdcctl failover"), "{failover}");
    let port_change = reply(&mut c_eu1, &["CONFIG", "SET", "port", "1"]);
    assert!(
        port_change.contains("can't set immutable config"),
        "{port_change}"
    );
    assert_eq!(
        get(&mut c_eu2, "from-eu").as_deref(),
        Some("1"),
        "nothing changed"
    );

    // Pausing eu -> us in the topology pauses us's channel; resuming delivers what waited.
    let set_channel = |state| Change::SetChannel {
        instance: "shop".into(),
        from: "eu".into(),
        to: "us".into(),
        state,
    };
    rt.block_on(admin.change(&set_channel(ChannelState::Paused)))
        .expect("pause");
    wait_for("us's channel from eu to pause", CONVERGE, || {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut c_us1)
            .expect("INFO");
        info.lines()
            .any(|l| l.contains("peer=eu,") && l.contains("state=paused"))
            .then_some(())
    });
    let _: () = redis::cmd("SET")
        .arg("held")
        .arg("3")
        .query(&mut c_eu1)
        .expect("SET");
    arrives(&mut c_eu2, "held", "3");
    assert_eq!(
        get(&mut c_us1, "held"),
        None,
        "a paused channel carries nothing"
    );
    rt.block_on(admin.change(&set_channel(ChannelState::Running)))
        .expect("resume");
    arrives(&mut c_us1, "held", "3");

    // Sentinel-style discovery names each region's primary and secondaries.
    let mut sentinel = wait_for("the sentinel port", CONVERGE, || {
        redis::Client::open(format!("redis://127.0.0.1:{}/", coordinator.sentinel))
            .and_then(|c| c.get_connection())
            .ok()
    });
    let port = |n: &TestNode| n.addr.port().to_string();
    let primary: Vec<String> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg("eu")
        .query(&mut sentinel)
        .expect("SENTINEL");
    assert_eq!(primary, ["127.0.0.1".to_string(), port(&eu1)]);
    let by_full_name: Vec<String> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg("shop/us")
        .query(&mut sentinel)
        .expect("SENTINEL");
    assert_eq!(by_full_name, ["127.0.0.1".to_string(), port(&us1)]);
    let none: Option<Vec<String>> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg("mars")
        .query(&mut sentinel)
        .expect("SENTINEL");
    assert_eq!(none, None);
    let replicas: Vec<std::collections::HashMap<String, String>> = redis::cmd("SENTINEL")
        .arg("replicas")
        .arg("eu")
        .query(&mut sentinel)
        .expect("SENTINEL");
    assert_eq!(replicas.len(), 1);
    assert_eq!(replicas[0]["port"], port(&eu2));
    assert_eq!(replicas[0]["flags"], "slave");
    let masters: Vec<std::collections::HashMap<String, String>> = redis::cmd("SENTINEL")
        .arg("masters")
        .query(&mut sentinel)
        .expect("SENTINEL");
    let mut names: Vec<&str> = masters.iter().map(|m| m["name"].as_str()).collect();
    names.sort();
    assert_eq!(names, ["eu", "us"]);
    assert!(masters.iter().all(|m| m["flags"] == "master"));

    // Verify: equal digests everywhere; then a change behind the binlog's back is found.
    let (t, _) = rt.block_on(admin.topology()).expect("topology");
    let verdicts = gdc_coordinator::tools::verify::verify(&t, Some("shop"), None);
    assert_eq!(verdicts.len(), 1);
    assert!(verdicts[0].equal, "{verdicts:?}");
    assert_eq!(verdicts[0].regions.len(), 2);
    let _: () = redis::cmd("GDC.DEBUG")
        .arg("SET-UNLOGGED")
        .arg("damage")
        .arg("x")
        .query(&mut c_us1)
        .expect("GDC.DEBUG");
    let verdicts = gdc_coordinator::tools::verify::verify(&t, None, None);
    assert!(!verdicts[0].equal);
    assert_eq!(verdicts[0].differing_databases, [0]);
    // Down to the key: one bucket of database 0, and in it the damaged key alone.
    let differences = &verdicts[0].differences;
    assert_eq!(differences.len(), 1, "{differences:?}");
    assert_eq!(
        (differences[0].database, differences[0].keys.as_slice()),
        (0, ["damage".to_string()].as_slice())
    );
    assert_eq!(
        differences[0].bucket,
        gdc_crdt::keyspace::bucket_of(b"damage")
    );

    // The topology records who is what.
    let (t, _) = rt.block_on(admin.topology()).expect("topology");
    let eu = &t.instances["shop"].children["eu"];
    assert_eq!(eu.primary.as_deref(), Some(eu1.addr.to_string().as_str()));
    assert_eq!(eu.secondaries, [eu2.addr.to_string()]);
    assert_eq!(t.nodes.len(), 3);
}

#[test]
fn a_silent_primary_is_replaced_and_fenced_when_it_returns() {
    let Shop {
        coordinator,
        rt,
        admin,
        dirs,
    } = shop();
    let eu1 = node(&dirs[0], &coordinator.addr, "eu");
    let eu1_port = eu1.addr.port();
    let mut c_eu1 = eu1.client();
    has_role(&mut c_eu1, "primary", 1);
    let (eu2, us1) = eu_secondary_and_us(&dirs, &coordinator.addr);
    let (mut c_us1, mut c_eu2) = (us1.client(), eu2.client());
    let _: () = redis::cmd("SET")
        .arg("before")
        .arg("1")
        .query(&mut c_eu1)
        .expect("SET");
    arrives(&mut c_eu2, "before", "1");
    arrives(&mut c_us1, "before", "1");

    // eu's primary goes silent: its secondary takes over at epoch 2, writes there reach us.
    drop(c_eu1);
    drop(eu1);
    has_role(&mut c_eu2, "primary", 2);
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("2")
        .query(&mut c_eu2)
        .expect("SET at the new primary");
    arrives(&mut c_us1, "after", "2");
    let mut sentinel = redis::Client::open(format!("redis://127.0.0.1:{}/", coordinator.sentinel))
        .and_then(|c| c.get_connection())
        .expect("sentinel");
    let primary: Vec<String> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg("eu")
        .query(&mut sentinel)
        .expect("SENTINEL");
    assert_eq!(primary[1], eu2.addr.port().to_string());

    // The old primary comes back where it was: fenced (a secondary of epoch 2), it refuses
    // writes and follows the new primary.
    let eu1 = node_at(&dirs[0], &coordinator.addr, "eu", eu1_port);
    let mut c_eu1 = eu1.client();
    has_role(&mut c_eu1, "secondary", 2);
    let err = redis::cmd("SET")
        .arg("stale")
        .arg("x")
        .query::<()>(&mut c_eu1)
        .expect_err("fenced");
    assert_eq!(err.code(), Some("READONLY"));
    arrives(&mut c_eu1, "after", "2");

    // One primary per region and epoch, in the recorded history.
    assert_eq!(
        eu_primaries(&rt, &admin),
        [(1, eu1.addr.to_string()), (2, eu2.addr.to_string())]
    );
}

/// gdc-node as a process of instance "shop", run by `coordinator`, on `port`, with
/// `appendfsync always`.
fn node_process(dir: &std::path::Path, coordinator: &str, region: &str, port: u16) -> Server {
    let sync = gdc_jepsen::process::free_port();
    node_process_announcing(dir, coordinator, region, (port, sync), sync)
}

/// As [`node_process`], serving sync on `ports.1` but telling the coordinator (and so the
/// other nodes) it is at `announced_sync`: a proxy in front of it.
fn node_process_announcing(
    dir: &std::path::Path,
    coordinator: &str,
    region: &str,
    (port, sync): (u16, u16),
    announced_sync: u16,
) -> Server {
    let args: Vec<String> = [
        "--region",
        region,
        "--port",
        &port.to_string(),
        "--sync-port",
        &sync.to_string(),
        "--announce-sync-port",
        &announced_sync.to_string(),
        "--dir",
        &dir.display().to_string(),
        "--coordinator",
        coordinator,
        "--instance",
        "shop",
        "--cluster-token",
        TOKEN,
        "--appendfsync",
        "always",
    ]
    .map(String::from)
    .to_vec();
    Server::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_gdc-node")),
        &args,
        port,
    )
    .expect("spawn gdc-node")
}

fn counter(c: &mut redis::Connection) -> i64 {
    get(c, "counter").map_or(0, |v| v.parse().expect("a number"))
}

#[test]
fn kill_9_of_a_primary_under_writes_loses_nothing_confirmed_and_fences_it_on_return() {
    let Shop {
        coordinator,
        rt,
        admin,
        dirs,
    } = shop();
    let eu1_port = gdc_jepsen::process::free_port();
    let eu1 = node_process(dirs[0].path(), &coordinator.addr, "eu", eu1_port);
    has_role(&mut eu1.client(), "primary", 1);
    let eu2 = node_process(
        dirs[1].path(),
        &coordinator.addr,
        "eu",
        gdc_jepsen::process::free_port(),
    );
    let us1 = node_process(
        dirs[2].path(),
        &coordinator.addr,
        "us",
        gdc_jepsen::process::free_port(),
    );
    let (mut c_eu2, mut c_us1) = (eu2.client(), us1.client());
    has_role(&mut c_eu2, "secondary", 1);
    has_role(&mut c_us1, "primary", 1);
    // A master with one replica, and a replica of it, in Redis's terms.
    let mut c_eu1 = eu1.client();
    let listed = format!("slave0:ip=127.0.0.1,port={},state=online,", eu2.port);
    wait_for("eu1 to list eu2 as its replica", CONVERGE, || {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut c_eu1)
            .ok()?;
        (info.contains("role:master\r\nconnected_slaves:1\r\n") && info.contains(&listed))
            .then_some(())
    });
    let (kind, _, replicas): (String, i64, Vec<(String, String, String)>) =
        redis::cmd("ROLE").query(&mut c_eu1).expect("ROLE");
    assert_eq!(kind, "master");
    assert_eq!(
        replicas
            .iter()
            .map(|(host, port, _)| format!("{host}:{port}"))
            .collect::<Vec<_>>(),
        [format!("127.0.0.1:{}", eu2.port)]
    );
    let role: redis::Value = redis::cmd("ROLE").query(&mut c_eu2).expect("ROLE");
    assert_eq!(
        role_head(&role),
        [
            "slave".to_string(),
            "127.0.0.1".into(),
            eu1_port.to_string(),
            "connected".into()
        ]
    );

    // A client that finds eu's primary as Redis Sentinel clients do (redis-rs's own
    // Sentinel support: SENTINEL MASTERS, then ROLE at the master it names) increments a
    // counter without pause, finding the primary again after any error.
    let load = Load::start(coordinator.sentinel);
    // A client that follows failovers by pub/sub, as Jedis does.
    let mut switches = redis::Client::open(format!("redis://127.0.0.1:{}/", coordinator.sentinel))
        .and_then(|c| c.get_connection())
        .expect("sentinel port");
    switches
        .set_read_timeout(Some(CONVERGE))
        .expect("read timeout");
    let mut switches = switches.as_pubsub();
    switches.subscribe("+switch-master").expect("SUBSCRIBE");
    load.until_acked(100);
    let acked_before_kill = load.acked();
    let killed = std::time::Instant::now();
    eu1.kill9();

    // The secondary takes over, and the client's writes succeed there, through Sentinel.
    load.until_acked(acked_before_kill + 100);
    let (acked, unknown, first_after_kill) = load.stop();
    let outage = first_after_kill.expect("a write at the new primary") - killed;
    eprintln!(
        "first write through Sentinel {} ms after kill -9",
        outage.as_millis()
    );
    assert!(
        outage < FAILOVER_TIMEOUT + Duration::from_secs(4),
        "writes resumed {outage:?} after the kill; the failover timeout is {FAILOVER_TIMEOUT:?}"
    );
    has_role(&mut c_eu2, "primary", 2);
    let switch: String = switches
        .get_message()
        .and_then(|m| m.get_payload())
        .expect("+switch-master");
    assert_eq!(
        switch,
        format!("eu 127.0.0.1 {eu1_port} 127.0.0.1 {}", eu2.port)
    );
    drop(switches);

    // The old primary restarts fenced: a secondary of epoch 2 that follows the new primary.
    let eu1 = node_process(dirs[0].path(), &coordinator.addr, "eu", eu1_port);
    let mut c_eu1 = eu1.client();
    has_role(&mut c_eu1, "secondary", 2);
    let err = redis::cmd("INCR")
        .arg("counter")
        .query::<i64>(&mut c_eu1)
        .expect_err("fenced");
    assert_eq!(err.code(), Some("READONLY"));
    let role: redis::Value = redis::cmd("ROLE").query(&mut c_eu1).expect("ROLE");
    assert_eq!(
        role_head(&role)[..3],
        [
            "slave".to_string(),
            "127.0.0.1".into(),
            eu2.port.to_string()
        ]
    );

    // Every region ends with the same count, holding every acknowledged increment (fsync
    // always: what the old primary took but never shipped drains from its disk to its
    // successor) and at most the ones whose replies were lost.
    let mut finals = Vec::new();
    for c in [&mut c_eu2, &mut c_us1, &mut c_eu1] {
        finals.push(wait_for("every acknowledged increment", CONVERGE, || {
            let n = counter(c);
            (n >= acked).then_some(n)
        }));
    }
    wait_for("the regions to agree", CONVERGE, || {
        let now = [
            counter(&mut c_eu2),
            counter(&mut c_us1),
            counter(&mut c_eu1),
        ];
        (now[0] == now[1] && now[1] == now[2]).then_some(())
    });
    let end = counter(&mut c_eu2);
    assert!(
        (acked..=acked + unknown).contains(&end),
        "{end} increments, {acked} acknowledged and {unknown} unknown"
    );

    // One primary per epoch, from the coordinator's recorded history.
    assert_eq!(
        eu_primaries(&rt, &admin),
        [
            (1, format!("127.0.0.1:{eu1_port}")),
            (2, format!("127.0.0.1:{}", eu2.port))
        ]
    );
}

/// What the test coordinator's failover timeout is (the default).
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(1);

/// The first four fields of a ROLE reply, as text.
fn role_head(role: &redis::Value) -> Vec<String> {
    let redis::Value::Array(fields) = role else {
        panic!("ROLE answered {role:?}");
    };
    fields
        .iter()
        .take(4)
        .map(|f| match f {
            redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            redis::Value::Int(n) => n.to_string(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// A writer that increments `counter` at the primary Sentinel names for region eu, for as
/// long as it runs.
struct Load {
    acked: std::sync::Arc<std::sync::atomic::AtomicI64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(i64, Option<std::time::Instant>)>,
}

impl Load {
    fn start(sentinel_port: u16) -> Load {
        use std::sync::atomic::Ordering;
        let acked = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (acked2, stop2) = (acked.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut sentinel = redis::sentinel::Sentinel::build(vec![format!(
                "redis://127.0.0.1:{sentinel_port}/"
            )])
            .expect("sentinel client");
            let mut unknown = 0;
            // The first write acknowledged by a node other than the first primary: the
            // outage's end (a reply the old primary sent before it died cannot count).
            let (mut first_primary, mut first_elsewhere) = (None, None);
            let mut conn: Option<(redis::Connection, String)> = None;
            while !stop2.load(Ordering::Relaxed) {
                let (c, at) = match conn.as_mut() {
                    Some(c) => (&mut c.0, c.1.clone()),
                    None => {
                        let found = sentinel.master_for("eu", None).and_then(|client| {
                            let at = client.get_connection_info().addr.to_string();
                            Ok((
                                client.get_connection_with_timeout(Duration::from_secs(1))?,
                                at,
                            ))
                        });
                        match found {
                            Ok(c) => {
                                let c = conn.insert(c);
                                (&mut c.0, c.1.clone())
                            }
                            // Named a dead primary, or none yet: ask again, a little later.
                            Err(_) => {
                                std::thread::sleep(Duration::from_millis(10));
                                continue;
                            }
                        }
                    }
                };
                match redis::cmd("INCR").arg("counter").query::<i64>(c) {
                    Ok(_) => {
                        acked2.fetch_add(1, Ordering::Relaxed);
                        let first = first_primary.get_or_insert_with(|| at.clone());
                        if *first != at && first_elsewhere.is_none() {
                            first_elsewhere = Some(std::time::Instant::now());
                        }
                    }
                    Err(e) => {
                        // Refused (READONLY) is not applied; a lost reply may be.
                        if e.code().is_none() {
                            unknown += 1;
                        }
                        conn = None;
                    }
                }
            }
            (unknown, first_elsewhere)
        });
        Load {
            acked,
            stop,
            thread,
        }
    }

    fn acked(&self) -> i64 {
        self.acked.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn until_acked(&self, n: i64) {
        wait_for(&format!("{n} acknowledged increments"), CONVERGE, || {
            (self.acked() >= n).then_some(())
        });
    }

    /// Stop, and say how many increments were acknowledged, how many are unknown, and when
    /// the first at a node other than the first primary was acknowledged.
    fn stop(self) -> (i64, i64, Option<std::time::Instant>) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let acked = std::sync::Arc::clone(&self.acked);
        let (unknown, first) = self.thread.join().expect("writer");
        (
            acked.load(std::sync::atomic::Ordering::Relaxed),
            unknown,
            first,
        )
    }
}

fn scard(c: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("SCARD").arg(key).query(c).expect("SCARD")
}

#[test]
fn writes_a_killed_primary_never_shipped_reach_every_region_when_it_returns() {
    let Shop {
        coordinator, dirs, ..
    } = shop();
    // eu's primary is reached through a proxy, so that what it sends can be held back.
    let (eu1_port, eu1_sync) = (free_port(), free_port());
    let proxy = Proxy::start(([127, 0, 0, 1], eu1_sync).into()).expect("proxy");
    let start_eu1 = || {
        node_process_announcing(
            dirs[0].path(),
            &coordinator.addr,
            "eu",
            (eu1_port, eu1_sync),
            proxy.addr().port(),
        )
    };
    let eu1 = start_eu1();
    has_role(&mut eu1.client(), "primary", 1);
    let eu2 = node_process(dirs[1].path(), &coordinator.addr, "eu", free_port());
    let us1 = node_process(dirs[2].path(), &coordinator.addr, "us", free_port());
    let (mut c_eu1, mut c_eu2, mut c_us1) = (eu1.client(), eu2.client(), us1.client());
    has_role(&mut c_eu2, "secondary", 1);
    has_role(&mut c_us1, "primary", 1);
    let _: i64 = redis::cmd("INCR")
        .arg("counter")
        .query(&mut c_eu1)
        .expect("INCR");
    for c in [&mut c_eu2, &mut c_us1] {
        wait_for("the first write everywhere", CONVERGE, || {
            (counter(c) == 1).then_some(())
        });
    }

    // Writes eu's primary takes (on disk: appendfsync always) but cannot send anywhere.
    proxy.cut();
    for i in 0..50 {
        let added: i64 = redis::cmd("SADD")
            .arg("held")
            .arg(i)
            .query(&mut c_eu1)
            .expect("SADD");
        assert_eq!(added, 1);
    }
    let _: i64 = redis::cmd("INCRBY")
        .arg("counter")
        .arg(10)
        .query(&mut c_eu1)
        .expect("INCRBY");
    eu1.kill9();
    // What was held in the proxy is dropped with its connections.
    proxy.sever();
    proxy.heal();

    // The secondary takes over without those writes...
    has_role(&mut c_eu2, "primary", 2);
    assert_eq!(scard(&mut c_eu2, "held"), 0, "nothing was shipped");
    assert_eq!(counter(&mut c_eu2), 1);
    let _: i64 = redis::cmd("INCR")
        .arg("counter")
        .query(&mut c_eu2)
        .expect("INCR at the new primary");

    // ...and the old primary comes back fenced: its writes drain to the new primary, which
    // passes them on to us; it receives what was written since.
    let eu1 = start_eu1();
    let mut c_eu1 = eu1.client();
    has_role(&mut c_eu1, "secondary", 2);
    for (name, c) in [
        ("eu1", &mut c_eu1),
        ("eu2", &mut c_eu2),
        ("us1", &mut c_us1),
    ] {
        wait_for(&format!("every write at {name}"), CONVERGE, || {
            (scard(c, "held") == 50 && counter(c) == 12).then_some(())
        });
    }
}

#[test]
fn a_primary_receives_from_each_secondary_and_wait_counts_other_regions() {
    let Shop {
        coordinator, dirs, ..
    } = shop();
    let extra = tempfile::tempdir().expect("tempdir");
    let (_eu1, mut c_eu1) = eu_primary(&dirs, &coordinator.addr);
    let eu2 = node(&dirs[1], &coordinator.addr, "eu");
    let eu3 = node(&extra, &coordinator.addr, "eu");
    let us1 = node(&dirs[2], &coordinator.addr, "us");
    for n in [&eu2, &eu3] {
        has_role(&mut n.client(), "secondary", 1);
    }
    has_role(&mut us1.client(), "primary", 1);
    // Three read from eu1 (both secondaries and us); it receives from both secondaries (by
    // address) and from us.
    wait_for("every channel of eu1", CONVERGE, || {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut c_eu1)
            .ok()?;
        (info.contains("gdc_outbound_channels:3")
            && info.contains("gdc_inbound_channels:3")
            && info.matches("peer=eu@127.0.0.1:").count() == 2)
            .then_some(())
    });
    // WAIT counts other regions (child instances), not this region's secondaries.
    set(&mut c_eu1, "k", "v");
    let wait = |c: &mut redis::Connection, n: i64, ms: i64| -> i64 {
        redis::cmd("WAIT").arg(n).arg(ms).query(c).expect("WAIT")
    };
    assert_eq!(wait(&mut c_eu1, 1, 10_000), 1);
    assert_eq!(wait(&mut c_eu1, 2, 300), 1);
    arrives(&mut us1.client(), "k", "v");
}

#[test]
fn a_planned_switchover_hands_over_every_write_and_can_be_called_off() {
    let Shop {
        coordinator,
        rt,
        admin,
        dirs,
    } = shop();
    let extra = tempfile::tempdir().expect("tempdir");
    // What eu1 sends arrives late (a slow link), so its secondary lags behind it.
    let (eu1, eu1_link) = node_behind_proxy(&dirs[0], &coordinator.addr, "eu");
    eu1_link.delay(Duration::from_millis(150));
    let mut c_eu1 = eu1.client();
    has_role(&mut c_eu1, "primary", 1);
    let (eu2, us1) = eu_secondary_and_us(&dirs, &coordinator.addr);
    let (mut c_eu2, mut c_us1) = (eu2.client(), us1.client());
    let switch = |to: Option<&str>, timeout_ms| {
        rt.block_on(gdc_coordinator::tools::switchover::switchover(
            &admin,
            "shop",
            "eu",
            to,
            Duration::from_millis(timeout_ms),
            None,
        ))
    };

    // A transaction queued while eu1 took writes and run once it is fenced is refused
    // whole.
    let fence = |change: Change| rt.block_on(admin.change(&change)).expect("change");
    redis::cmd("MULTI").query::<()>(&mut c_eu1).expect("MULTI");
    redis::cmd("SET")
        .arg("queued")
        .arg("1")
        .query::<()>(&mut c_eu1)
        .expect("queued");
    fence(Change::Fence {
        instance: "shop".into(),
        region: "eu".into(),
        epoch: 1,
        token: 1,
        for_ms: 600_000,
    });
    let mut probe = eu1.client();
    has_role(&mut probe, "secondary", 1);
    let err = redis::cmd("EXEC")
        .query::<()>(&mut c_eu1)
        .expect_err("fenced");
    assert_eq!(err.code(), Some("EXECABORT"), "{err}");
    assert!(err.to_string().contains("READONLY"), "{err}");
    assert_eq!(get(&mut probe, "queued"), None);
    fence(Change::Unfence {
        instance: "shop".into(),
        region: "eu".into(),
        epoch: 1,
        token: 1,
    });
    has_role(&mut probe, "primary", 1);

    // A fence nobody lifts (gdcctl died) is lifted by the leader once it has stood its time.
    fence(Change::Fence {
        instance: "shop".into(),
        region: "eu".into(),
        epoch: 1,
        token: 2,
        for_ms: 300,
    });
    has_role(&mut probe, "secondary", 1);
    has_role(&mut probe, "primary", 1);

    // Refused before anything is stopped: a node that is not a secondary, or one that does
    // not answer.
    let eu3 = node(&extra, &coordinator.addr, "eu");
    has_role(&mut eu3.client(), "secondary", 1);
    let eu3_addr = eu3.addr.to_string();
    drop(eu3);
    assert_eq!(
        switch(Some("127.0.0.1:1"), 1000),
        Err("127.0.0.1:1 is not a secondary of region 'eu'".into())
    );
    let err = switch(Some(&eu3_addr), 500).expect_err("eu3 is down");
    assert!(err.contains("cannot reach"), "{err}");
    has_role(&mut probe, "primary", 1);

    // Called off: eu2 cannot catch up (nothing from eu1 reaches it), so once the time is up
    // the fence is lifted and eu1 takes writes again.
    eu1_link.cut();
    set(&mut c_eu1, "unseen", "by-eu2");
    let err = switch(Some(&eu2.addr.to_string()), 500).expect_err("eu2 lags");
    assert!(err.contains("has not caught up"), "{err}");
    assert!(err.contains("called off"), "{err}");
    eu1_link.heal();
    wait_for("eu1 to take writes again", CONVERGE, || {
        redis::cmd("SET")
            .arg("after")
            .arg("called-off")
            .query::<()>(&mut c_eu1)
            .ok()
    });

    // Under a stream of writes at eu1, hand eu over to eu2.
    let writer_addr = eu1.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut c = redis::Client::open(format!("redis://{writer_addr}/"))
                .and_then(|c| c.get_connection())
                .expect("writer");
            let (mut taken, mut refused) = (Vec::new(), 0);
            for i in 0.. {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                match redis::cmd("SADD").arg("w").arg(i).query::<i64>(&mut c) {
                    Ok(_) => taken.push(i),
                    Err(e) if e.code() == Some("READONLY") => refused += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            (taken, refused)
        })
    };
    wait_for("writes to flow", CONVERGE, || {
        (redis::cmd("SCARD").arg("w").query::<i64>(&mut c_eu2).ok()? > 100).then_some(())
    });
    let done = switch(None, 10_000).expect("switchover");
    // Right away, with no waiting: the new primary has every write the old one took.
    let at_eu2: std::collections::BTreeSet<i64> = redis::cmd("SMEMBERS")
        .arg("w")
        .query(&mut c_eu2)
        .expect("SMEMBERS");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (taken, refused) = writer.join().expect("writer");
    assert!(refused > 0, "the old primary refused writes once fenced");
    let missing: Vec<&i64> = taken.iter().filter(|i| !at_eu2.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "taken at eu1 but not at eu2: {missing:?}"
    );
    assert!(
        done.fenced_ms >= 150,
        "it waited for eu2 to catch up: {done:?}"
    );
    assert_eq!(
        (done.from.as_str(), done.to.as_str(), done.epoch),
        (
            eu1.addr.to_string().as_str(),
            eu2.addr.to_string().as_str(),
            2
        )
    );
    has_role(&mut c_eu2, "primary", 2);
    has_role(&mut c_eu1, "secondary", 2);
    redis::cmd("SET")
        .arg("k")
        .arg("from-eu2")
        .query::<()>(&mut c_eu2)
        .expect("the new primary takes writes");
    arrives(&mut c_us1, "k", "from-eu2");
    arrives(&mut c_eu1, "k", "from-eu2");
    assert_eq!(
        eu_primaries(&rt, &admin),
        [(1, eu1.addr.to_string()), (2, eu2.addr.to_string())]
    );
}

/// A node of its own in region `region` (no coordinator), serving sync on `sync`, on `port`
/// (0: any).
fn standalone(
    dir: &tempfile::TempDir,
    region: &str,
    port: u16,
    sync: std::net::TcpListener,
) -> TestNode {
    TestNode::start_synced(dir.path(), sync, |c| {
        c.region = region.into();
        c.port = port;
    })
}

#[test]
fn a_standalone_node_attached_to_an_instance_brings_its_data_and_gets_the_others() {
    let Shop {
        coordinator,
        rt,
        admin,
        dirs,
    } = shop();
    let (_eu1, mut c_eu1) = eu_primary(&dirs, &coordinator.addr);
    set(&mut c_eu1, "from-eu", "1");

    // A node that has served on its own for a while, with data, part of it only in its
    // snapshot (SAVE trims what the binlog must replay).
    let ap_dir = tempfile::tempdir().expect("tempdir");
    let (l, ap_sync) = sync_listener();
    let ap = standalone(&ap_dir, "ap", 0, l);
    let mut c_ap = ap.client();
    for i in 0..100 {
        redis::cmd("SADD")
            .arg("ap-users")
            .arg(i)
            .query::<()>(&mut c_ap)
            .expect("SADD");
    }
    redis::cmd("SAVE").query::<()>(&mut c_ap).expect("SAVE");
    set(&mut c_ap, "after-save", "yes");
    let ap_addr = ap.addr.to_string();
    let attach = |region: &str, token: &str| {
        rt.block_on(gdc_coordinator::tools::attach::attach(
            &admin,
            token,
            ("shop", region),
            &ap_addr,
            true,
            None,
            Duration::from_secs(20),
        ))
    };
    let regions = || {
        let (t, _) = rt.block_on(admin.topology()).expect("topology");
        t.instances["shop"]
            .children
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };

    // Refused, and nothing left behind: under another region's name, or with a token that
    // is not the node's.
    let e = attach("us", TOKEN).expect_err("us is not ap");
    assert!(e.contains("serves region 'ap', not 'us'"), "{e}");
    let e = attach("ap", "another-token").expect_err("wrong token");
    assert!(e.contains("the cluster token does not match"), "{e}");
    assert_eq!(
        regions(),
        ["eu", "us"],
        "the region added for it is removed again"
    );
    redis::cmd("SET")
        .arg("still-writable")
        .arg("yes")
        .query::<()>(&mut c_ap)
        .expect("a refused attach leaves the node as it was");

    // Attached while it runs: ap joins with channels both ways, the node is its primary.
    let done = attach("ap", TOKEN).expect("attach");
    assert_eq!(
        (done.node.as_str(), done.epoch, done.region_added),
        (ap_addr.as_str(), 1, true)
    );
    has_role(&mut c_ap, "primary", 1);
    // Again (as after a lost answer): it reports what the node became.
    let again = attach("ap", TOKEN).expect("again");
    assert_eq!(
        (again.node.as_str(), again.epoch, again.region_added),
        (ap_addr.as_str(), 1, false)
    );
    // GDC.ATTACH itself: the same request again is done already; another is refused.
    let gdc_attach = |c: &mut redis::Connection, instance: &str| {
        redis::cmd("GDC.ATTACH")
            .arg(TOKEN)
            .arg(instance)
            .arg(&coordinator.addr)
            .query::<()>(c)
    };
    gdc_attach(&mut c_ap, "shop").expect("the same again");
    let e = gdc_attach(&mut c_ap, "other").expect_err("another instance");
    assert!(
        e.to_string()
            .contains("already run by the coordinators of instance 'shop'"),
        "{e}"
    );
    // Its data reaches eu; eu's reaches it.
    arrives(&mut c_eu1, "after-save", "yes");
    arrives(&mut c_eu1, "still-writable", "yes");
    wait_for("ap's set at eu", CONVERGE, || {
        (scard(&mut c_eu1, "ap-users") == 100).then_some(())
    });
    arrives(&mut c_ap, "from-eu", "1");

    // Restarted with the flags it had on its own, it stays attached: fenced until the
    // coordinator makes it the primary again, and in the instance's channels.
    let port = ap.addr.port();
    drop(c_ap);
    drop(ap);
    let l = std::net::TcpListener::bind(ap_sync).expect("the same sync port");
    let ap = standalone(&ap_dir, "ap", port, l);
    let mut c_ap = ap.client();
    has_role(&mut c_ap, "primary", 1);
    set(&mut c_eu1, "after-restart", "eu");
    arrives(&mut c_ap, "after-restart", "eu");

    // A node without a sync port cannot be reached by other regions: it is told how to
    // make it attachable.
    let lone_dir = tempfile::tempdir().expect("tempdir");
    let lone = TestNode::start_with(lone_dir.path(), |c| {
        c.region = "sa".into();
        c.cluster_token = Some(TOKEN.into());
    });
    let e = redis::cmd("GDC.ATTACH")
        .arg(TOKEN)
        .arg("shop")
        .arg(&coordinator.addr)
        .query::<()>(&mut lone.client())
        .expect_err("no sync port");
    assert!(
        e.to_string()
            .contains("restart it with --sync-port and --cluster-token"),
        "{e}"
    );
}

#[test]
fn a_secondary_that_lost_its_data_directory_is_rebuilt_by_full_sync() {
    let Shop {
        coordinator, dirs, ..
    } = shop();
    // eu's primary keeps no binlog a snapshot covers: a node starting from nothing cannot
    // be sent its ops, only its state.
    let (l, _) = sync_listener();
    let eu1 = node_serving_sync(&dirs[0], &coordinator.addr, "eu", 0, l, |c| {
        c.binlog_retention_bytes = 1;
    });
    let mut c_eu1 = eu1.client();
    has_role(&mut c_eu1, "primary", 1);
    let eu2_port = gdc_jepsen::process::free_port();
    let eu2 = node_at(&dirs[1], &coordinator.addr, "eu", eu2_port);
    let us1 = node(&dirs[2], &coordinator.addr, "us");
    let (mut c_eu2, mut c_us1) = (eu2.client(), us1.client());
    has_role(&mut c_eu2, "secondary", 1);
    has_role(&mut c_us1, "primary", 1);
    for i in 0..100 {
        set(&mut c_eu1, format!("k{i}"), i);
    }
    set(&mut c_us1, "from-us", "1");
    arrives(&mut c_eu2, "k99", "99");
    arrives(&mut c_eu2, "from-us", "1");

    // The secondary's disk is lost while it is down; meanwhile its primary writes more and
    // snapshots, dropping the binlog before it.
    drop(c_eu2);
    drop(eu2);
    std::fs::remove_dir_all(dirs[1].path()).expect("lose the data directory");
    std::fs::create_dir(dirs[1].path()).expect("an empty one");
    set(&mut c_eu1, "while-away", "1");
    redis::cmd("SAVE").query::<()>(&mut c_eu1).expect("SAVE");
    wait_for("eu1's binlog trimmed to its last segment", CONVERGE, || {
        let segments = std::fs::read_dir(dirs[0].path().join("binlog"))
            .expect("binlog dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("binlog-"))
            })
            .count();
        (segments == 1).then_some(())
    });

    // Back at its address with nothing: still eu's secondary, rebuilt by one full sync.
    let eu2 = node_at(&dirs[1], &coordinator.addr, "eu", eu2_port);
    let mut c_eu2 = eu2.client();
    has_role(&mut c_eu2, "secondary", 1);
    wait_for("a full sync", CONVERGE, || {
        (info_field(&mut c_eu2, "gdc_full_syncs_received") != "0").then_some(())
    });
    arrives(&mut c_eu2, "while-away", "1");
    arrives(&mut c_eu2, "from-us", "1");
    for i in 0..100 {
        assert_eq!(get(&mut c_eu2, &format!("k{i}")), Some(i.to_string()));
    }
    // And it follows its primary again.
    set(&mut c_eu1, "after", "1");
    arrives(&mut c_eu2, "after", "1");
    let digest = |c: &mut redis::Connection| -> String {
        redis::cmd("GDC.DIGEST")
            .arg(0)
            .query(c)
            .expect("GDC.DIGEST")
    };
    wait_for("eu2's digest to be eu1's", CONVERGE, || {
        (digest(&mut c_eu2) == digest(&mut c_eu1)).then_some(())
    });
}

#[test]
fn a_removed_secondary_stops_following_and_keeps_refusing_writes() {
    let Shop {
        coordinator,
        rt,
        admin,
        dirs,
    } = shop();
    let (eu1, mut c_eu1) = eu_primary(&dirs, &coordinator.addr);
    let eu2 = node(&dirs[1], &coordinator.addr, "eu");
    let mut c_eu2 = eu2.client();
    has_role(&mut c_eu2, "secondary", 1);
    assert_eq!(info_field(&mut c_eu2, "gdc_coordination"), "following");
    set(&mut c_eu1, "before", "1");
    arrives(&mut c_eu2, "before", "1");

    // A primary cannot be removed; a secondary can, and it stops following the
    // coordinators (registering again would put it back).
    let refused = rt
        .block_on(admin.change(&Change::RemoveNode {
            addr: eu1.addr.to_string(),
        }))
        .expect_err("the primary");
    assert!(refused.contains("fail it over first"), "{refused}");
    rt.block_on(admin.change(&Change::RemoveNode {
        addr: eu2.addr.to_string(),
    }))
    .expect("remove eu2");
    wait_for("eu2 to stop following", CONVERGE, || {
        (info_field(&mut c_eu2, "gdc_coordination") == "removed").then_some(())
    });
    wait_for("eu1 to list no secondary", CONVERGE, || {
        (info_field(&mut c_eu1, "connected_slaves") == "0").then_some(())
    });
    let (t, _) = rt.block_on(admin.topology()).expect("topology");
    assert!(t.instances["shop"].children["eu"].secondaries.is_empty());
    assert!(!t.nodes.contains_key(&eu2.addr.to_string()));
    // It keeps its data, serves reads, refuses writes, and no longer receives.
    assert_eq!(get(&mut c_eu2, "before").as_deref(), Some("1"));
    let err = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query::<()>(&mut c_eu2)
        .expect_err("read-only");
    assert_eq!(err.code(), Some("READONLY"));
    assert_eq!(info_field(&mut c_eu2, "gdc_inbound_channels"), "0");
    assert_eq!(info_field(&mut c_eu1, "gdc_coordination"), "following");
}

/// eu's and us's primaries as node processes (data in `dirs[0]` and `dirs[2]`), each
/// holding its role at epoch 1, with their client ports.
fn eu_and_us_processes(addr: &str, dirs: &[tempfile::TempDir]) -> (Server, u16, Server, u16) {
    let (eu_port, us_port) = (free_port(), free_port());
    let eu = node_process(dirs[0].path(), addr, "eu", eu_port);
    let us = node_process(dirs[2].path(), addr, "us", us_port);
    has_role(&mut eu.client(), "primary", 1);
    has_role(&mut us.client(), "primary", 1);
    (eu, eu_port, us, us_port)
}

/// A raw connection to a node process, reads bounded by `CONVERGE`.
fn raw_client(port: u16) -> std::net::TcpStream {
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(CONVERGE)).expect("timeout");
    s
}

/// Clients of one region hear of writes made in another, as of their own region's: a
/// RESP3 client tracking `k` at us is told to drop it when eu writes `k`, and a subscriber
/// at us hears eu's SET, HSET and DEL as keyevent notifications (node processes, under a
/// coordinator).
#[test]
fn tracking_and_keyspace_events_hear_writes_made_in_another_region() {
    use common::redis_server::{bulks, call, read_reply};
    let Shop {
        coordinator, dirs, ..
    } = shop();
    let addr = &coordinator.addr;
    let (eu, _, _us, us_port) = eu_and_us_processes(addr, &dirs);

    let mut tracker = raw_client(us_port);
    call(&mut tracker, &["HELLO", "3"]);
    assert_eq!(
        call(&mut tracker, &["CLIENT", "TRACKING", "ON"]),
        b"+OK\r\n"
    );
    assert_eq!(call(&mut tracker, &["GET", "k"]), b"_\r\n");
    let mut listener = raw_client(us_port);
    call(
        &mut listener,
        &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
    );
    call(&mut listener, &["PSUBSCRIBE", "__keyevent@0__:*"]);

    let mut writer = eu.client();
    set(&mut writer, "k", "v");
    let push = read_reply(&mut tracker);
    assert_eq!(push, b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
    redis::cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("1")
        .query::<()>(&mut writer)
        .expect("HSET");
    redis::cmd("DEL")
        .arg("h")
        .query::<()>(&mut writer)
        .expect("DEL");
    let mut heard = Vec::new();
    for _ in 0..3 {
        let m = bulks(&read_reply(&mut listener));
        heard.push(format!(
            "{} {}",
            String::from_utf8_lossy(&m[2]),
            String::from_utf8_lossy(&m[3])
        ));
    }
    assert_eq!(
        heard,
        [
            "__keyevent@0__:set k",
            "__keyevent@0__:hset h",
            "__keyevent@0__:del h"
        ]
    );
    // The tracked key reads as eu wrote it; read again, it is tracked again.
    assert_eq!(call(&mut tracker, &["GET", "k"]), b"$1\r\nv\r\n");
    set(&mut writer, "k", "w");
    let push = read_reply(&mut tracker);
    assert_eq!(push, b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
}

/// Whether `user` logs in with `password` at the node behind `port` (a new connection).
fn logs_in(port: u16, user: &str, password: &str) -> bool {
    let mut c = raw_client(port);
    common::redis_server::call(&mut c, &["AUTH", user, password]) == b"+OK\r\n"
}

/// One set of users for the whole instance: users the coordinators are given (as `gdcctl
/// acl load` gives them) or made by ACL SETUSER at either region log in at every region
/// within a second, also at a node that was down when they were made; two regions' changes
/// made at once both hold; a user deleted at one region is refused everywhere and its
/// connections are closed.
#[test]
fn acl_users_are_one_set_for_every_region() {
    use common::redis_server::{call, read_reply, request};
    use std::io::{Read, Write};
    let Shop {
        coordinator,
        rt,
        admin,
        dirs,
    } = shop();
    let addr = &coordinator.addr;
    let (eu, eu_port, us, us_port) = eu_and_us_processes(addr, &dirs);
    let set_users = |expected_version: u64, users: &[&str]| {
        let change = Change::SetAcl {
            instance: "shop".into(),
            expected_version,
            lines: users.iter().map(|u| u.to_string()).collect(),
        };
        rt.block_on(admin.change(&change)).expect("set-acl");
    };
    let default = "user default on nopass ~* &* +@all";
    let alice = "user alice on >wonderland ~* &* +@all";
    set_users(0, &[default, alice]);
    for port in [eu_port, us_port] {
        wait_for("alice logs in", Duration::from_secs(1), || {
            logs_in(port, "alice", "wonderland").then_some(())
        });
    }
    assert!(!logs_in(us_port, "alice", "wrong"));
    // Made at eu and at us at once: the second is made again on top of the first.
    let (mut at_eu, mut at_us) = (raw_client(eu_port), raw_client(us_port));
    let carol = ["ACL", "SETUSER", "carol", "on", ">c", "~*", "+@all"];
    let dave = ["ACL", "SETUSER", "dave", "on", ">d", "~*", "+@all"];
    at_eu.write_all(&request(&carol)).expect("write");
    at_us.write_all(&request(&dave)).expect("write");
    assert_eq!(read_reply(&mut at_eu), b"+OK\r\n");
    assert_eq!(read_reply(&mut at_us), b"+OK\r\n");
    for port in [eu_port, us_port] {
        wait_for("carol and dave log in", Duration::from_secs(1), || {
            (logs_in(port, "carol", "c") && logs_in(port, "dave", "d")).then_some(())
        });
    }

    // us is down while bob is made at eu; back, it takes the newest users.
    us.terminate();
    let users: Vec<String> = redis::cmd("ACL")
        .arg("USERS")
        .query(&mut eu.client())
        .expect("ACL USERS");
    assert_eq!(users, ["alice", "carol", "dave", "default"]);
    let bob = ["ACL", "SETUSER", "bob", "on", ">builder", "~bob:*", "+@all"];
    assert_eq!(call(&mut at_eu, &bob), b"+OK\r\n");
    wait_for("bob logs in at eu", Duration::from_secs(1), || {
        logs_in(eu_port, "bob", "builder").then_some(())
    });
    let us = node_process(dirs[2].path(), addr, "us", us_port);
    has_role(&mut us.client(), "primary", 1);
    wait_for("bob logs in at us", CONVERGE, || {
        logs_in(us_port, "bob", "builder").then_some(())
    });

    // alice is deleted at eu: refused at both, and her connection at us is closed.
    let mut alices = raw_client(us_port);
    assert_eq!(
        call(&mut alices, &["AUTH", "alice", "wonderland"]),
        b"+OK\r\n"
    );
    assert_eq!(call(&mut at_eu, &["ACL", "DELUSER", "alice"]), b":1\r\n");
    for port in [eu_port, us_port] {
        wait_for("alice refused", Duration::from_secs(1), || {
            (!logs_in(port, "alice", "wonderland")).then_some(())
        });
    }
    let mut rest = Vec::new();
    let closed = alices.read_to_end(&mut rest).is_ok();
    assert!(closed && rest.is_empty(), "alice's connection is closed");
    // bob's rules hold where he logs in.
    let mut bobs = raw_client(us_port);
    call(&mut bobs, &["AUTH", "bob", "builder"]);
    assert_eq!(call(&mut bobs, &["SET", "bob:1", "x"]), b"+OK\r\n");
    bobs.write_all(&common::redis_server::request(&["SET", "other", "x"]))
        .expect("write");
    assert_eq!(
        read_reply(&mut bobs),
        b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
    );
    drop((eu, us));
}
