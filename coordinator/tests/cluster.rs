//! Coordinators as real processes: a three-member cluster keeps serving when its leader is
//! killed with SIGKILL, loses no committed change, and takes the member back on restart.

use gdc_coordinator::client::AdminClient;
use gdc_coordinator::topology::{Change, ChannelState};
use gdc_jepsen::process::{Server, free_port, wait_for};
use std::path::Path;
use std::time::{Duration, Instant};

const TOKEN: &str = "coordinator-test-token";

/// One coordinator's ports and directory.
struct Member {
    id: u64,
    listen: String,
    sentinel: u16,
}

/// `n` members' data directories, ids (1 and up) and free ports.
fn members(n: u64) -> (Vec<tempfile::TempDir>, Vec<Member>) {
    let dirs = (0..n)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let members = (1..=n)
        .map(|id| Member {
            id,
            listen: format!("127.0.0.1:{}", free_port()),
            sentinel: free_port(),
        })
        .collect();
    (dirs, members)
}

/// Start coordinator `m`; with an empty `cluster` it waits to be added.
fn start(m: &Member, cluster: &str, dir: &Path) -> Server {
    start_with(m, cluster, dir, &[])
}

/// The test certificates (`node/tests/certs`): a CA, a certificate it signed for
/// 127.0.0.1, and one signed by another CA.
fn cert(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../node/tests/certs")
        .join(name)
        .display()
        .to_string()
}

/// [`start`] with more flags.
fn start_with(m: &Member, cluster: &str, dir: &Path, more: &[String]) -> Server {
    let initial = if cluster.is_empty() {
        vec![]
    } else {
        vec!["--initial-cluster", cluster]
    };
    let args: Vec<String> = [
        "--id",
        &m.id.to_string(),
        "--listen",
        &m.listen,
        "--dir",
        &dir.display().to_string(),
    ]
    .into_iter()
    .chain(initial)
    .chain([
        "--sentinel-port",
        &m.sentinel.to_string(),
        "--token",
        TOKEN,
        "--heartbeat-ms",
        "100",
        "--election-timeout-ms",
        "500",
    ])
    .map(str::to_string)
    .chain(more.iter().cloned())
    .collect();
    Server::start(
        Path::new(env!("CARGO_BIN_EXE_gdc-coordinator")),
        &args,
        m.sentinel,
    )
    .expect("start gdc-coordinator")
}

fn create(name: &str) -> Change {
    Change::CreateInstance { name: name.into() }
}

#[test]
fn a_three_member_cluster_survives_its_leader_and_takes_it_back() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (dirs, members) = members(3);
    let cluster = members
        .iter()
        .map(|m| format!("{}={}", m.id, m.listen))
        .collect::<Vec<_>>()
        .join(",");
    let mut servers: Vec<Option<Server>> = members
        .iter()
        .zip(&dirs)
        .map(|(m, d)| Some(start(m, &cluster, d.path())))
        .collect();
    let addrs: Vec<String> = members.iter().map(|m| m.listen.clone()).collect();
    let client = AdminClient::new(addrs.clone(), TOKEN).expect("client");

    // Changes committed before the fault.
    for change in [
        create("shop"),
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
        rt.block_on(client.change(&change)).expect("change");
    }
    assert_eq!(
        rt.block_on(client.change(&create("shop"))),
        Err("instance 'shop' already exists".to_string()),
        "a refused change says why"
    );
    let members_now = rt.block_on(client.members()).expect("members");
    assert_eq!(members_now.members.len(), 3);
    assert!(members_now.members.iter().all(|m| m.voter));
    let leader = members_now.leader;
    assert!((1..=3).contains(&leader), "a leader: {leader}");

    // kill -9 of the leader: the others elect a new one and go on serving.
    servers[leader as usize - 1].take().expect("leader").kill9();
    let started = Instant::now();
    rt.block_on(client.change(&Change::SetChannel {
        instance: "shop".into(),
        from: "eu".into(),
        to: "us".into(),
        state: ChannelState::Paused,
    }))
    .expect("a change after the leader died");
    let took = started.elapsed();
    rt.block_on(client.change(&create("after-failover")))
        .expect("another change");
    let (t, _) = rt.block_on(client.topology()).expect("topology");
    let shop = &t.instances["shop"];
    assert_eq!(
        shop.children.keys().collect::<Vec<_>>(),
        ["eu", "us"],
        "nothing committed before the fault was lost"
    );
    assert_eq!(shop.channels.len(), 2);
    let eu_us = shop
        .channels
        .iter()
        .find(|c| c.from == "eu" && c.to == "us")
        .expect("eu -> us");
    assert_eq!(eu_us.state, ChannelState::Paused);
    assert!(t.instances.contains_key("after-failover"));
    let new_leader = rt.block_on(client.members()).expect("members").leader;
    assert_ne!(
        new_leader, leader,
        "a new leader ({took:?} to the first change)"
    );

    // The old leader restarts from its directory and catches up as a follower.
    let back = leader as usize - 1;
    servers[back] = Some(start(&members[back], &cluster, dirs[back].path()));
    let alone = AdminClient::new(vec![addrs[back].clone()], TOKEN).expect("client");
    let leader_applied = rt.block_on(client.members()).expect("members").applied;
    wait_for(
        "the restarted member to catch up",
        Duration::from_secs(20),
        || {
            let seen = rt.block_on(alone.members()).ok()?;
            (seen.leader == new_leader && seen.applied >= leader_applied).then_some(())
        },
    );
    // And it can serve: asked alone, it sends the caller to the leader.
    let (t2, _) = rt
        .block_on(alone.topology())
        .expect("topology through the restarted one");
    assert_eq!(t2, t);
}

#[test]
fn calls_without_the_token_are_refused() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let m = Member {
        id: 1,
        listen: format!("127.0.0.1:{}", free_port()),
        sentinel: free_port(),
    };
    let _server = start(&m, &format!("1={}", m.listen), dir.path());
    let good = AdminClient::new(vec![m.listen.clone()], TOKEN).expect("client");
    rt.block_on(good.change(&create("shop")))
        .expect("a one-member cluster commits");
    let bad = AdminClient::new(vec![m.listen.clone()], "not-the-token").expect("client");
    let refused = rt.block_on(bad.topology()).expect_err("refused");
    assert!(
        refused.contains("missing or wrong cluster token"),
        "{refused}"
    );
    let refused = rt
        .block_on(bad.change(&create("evil")))
        .expect_err("refused");
    assert!(
        refused.contains("missing or wrong cluster token"),
        "{refused}"
    );
    let (t, _) = rt.block_on(good.topology()).expect("topology");
    assert_eq!(t.instances.keys().collect::<Vec<_>>(), ["shop"]);
}

/// Run gdcctl against `coordinator`: its exit status and output (stdout, or stderr on
/// failure).
fn gdcctl(coordinator: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gdcctl"))
        .args(args)
        .env("GDC_COORDINATOR", coordinator)
        .env("GDC_CLUSTER_TOKEN", TOKEN)
        .output()
        .expect("run gdcctl");
    let text = if out.status.success() {
        out.stdout
    } else {
        out.stderr
    };
    (out.status.success(), String::from_utf8(text).expect("utf8"))
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn gdcctl_manages_instances_channels_and_members() {
    let (dirs, members) = members(2);
    let _first = start(
        &members[0],
        &format!("1={}", members[0].listen),
        dirs[0].path(),
    );
    // The second starts empty and waits to be added.
    let _second = start(&members[1], "", dirs[1].path());
    let at = members[0].listen.as_str();

    let ok = |args: &[&str]| {
        let (success, out) = gdcctl(at, args);
        assert!(success, "gdcctl {args:?}: {out}");
        out
    };
    ok(&["member", "add", "2", &members[1].listen]);
    let listed = json(&ok(&["member", "list", "--json"]));
    let ids: Vec<(u64, bool)> = listed["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["id"].as_u64().expect("id"),
                m["voter"].as_bool().expect("voter"),
            )
        })
        .collect();
    assert_eq!(ids, [(1, true), (2, true)]);

    assert_eq!(ok(&["instance", "create", "shop"]), "OK\n");
    ok(&["child", "add", "shop", "eu"]);
    ok(&["child", "add", "shop", "us"]);
    ok(&["child", "add", "shop", "analytics", "--no-mesh"]);
    ok(&["channel", "create", "shop", "us", "analytics"]);
    ok(&["channel", "pause", "shop", "eu", "us"]);
    let channels = json(&ok(&["channel", "list", "shop", "--json"]));
    let mut got: Vec<String> = channels
        .as_array()
        .expect("channels")
        .iter()
        .map(|c| {
            format!(
                "{}>{} {}",
                c["from"].as_str().unwrap_or(""),
                c["to"].as_str().unwrap_or(""),
                c["state"].as_str().unwrap_or("")
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        ["eu>us paused", "us>analytics running", "us>eu running"]
    );
    // Tables for people.
    let status = ok(&["status"]);
    assert!(status.contains("coordinators: 2 (leader 1"), "{status}");
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["shop", "eu", "-", "-", "0", "no", "nodes", "-"]),
        "{status}"
    );
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["shop", "eu", "us", "paused", "-", "-"]),
        "{status}"
    );
    // Asked through the second member, the same answer (it sends gdcctl to the leader).
    let (success, through_second) =
        gdcctl(&members[1].listen, &["channel", "list", "shop", "--json"]);
    assert!(success, "{through_second}");
    assert_eq!(json(&through_second), channels);

    // Refusals: a clear message and a failing exit status.
    let (success, out) = gdcctl(at, &["instance", "delete", "shop"]);
    assert!(!success);
    assert!(out.contains("still has regions analytics, eu, us"), "{out}");
    let (success, out) = gdcctl(at, &["channel", "list", "nope"]);
    assert!(!success);
    assert!(out.contains("no instance 'nope'"), "{out}");

    ok(&["member", "remove", "2"]);
    let listed = json(&ok(&["member", "list", "--json"]));
    assert_eq!(listed["members"].as_array().expect("members").len(), 1);
}

#[test]
fn coordinators_over_mutual_tls_serve_only_callers_with_a_certificate_they_trust() {
    let (dirs, members) = members(2);
    let cluster = format!("1={},2={}", members[0].listen, members[1].listen);
    // TLS without a CA would leave members unable to call each other: refused at start.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gdc-coordinator"))
        .args([
            "--id",
            "1",
            "--listen",
            &members[0].listen,
            "--token",
            TOKEN,
        ])
        .arg("--dir")
        .arg(dirs[0].path())
        .args([
            "--tls-cert",
            &cert("node.pem"),
            "--tls-key",
            &cert("node.key"),
        ])
        .output()
        .expect("gdc-coordinator");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("TLS needs --tls-ca too"),
        "{out:?}"
    );
    let tls = [
        "--tls-cert",
        &cert("node.pem"),
        "--tls-key",
        &cert("node.key"),
    ]
    .into_iter()
    .chain(["--tls-ca", &cert("ca.pem")])
    .map(str::to_string)
    .collect::<Vec<_>>();
    let _servers: Vec<Server> = members
        .iter()
        .zip(&dirs)
        .map(|(m, d)| start_with(m, &cluster, d.path(), &tls))
        .collect();
    let addrs: Vec<String> = members.iter().map(|m| m.listen.clone()).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client_tls = |cert_name: &str, key_name: &str| {
        gdc_proto::tls::ClientTls::read(
            Some(Path::new(&cert("ca.pem"))),
            Some(Path::new(&cert(cert_name))),
            Some(Path::new(&cert(key_name))),
        )
        .expect("client TLS")
    };
    // A change needs both members (a majority of two): Raft between them runs over TLS.
    let trusted = AdminClient::new(addrs.clone(), TOKEN)
        .expect("client")
        .with_tls(client_tls("node.pem", "node.key"));
    wait_for("a leader over TLS", Duration::from_secs(30), || {
        rt.block_on(trusted.change(&create("shop"))).ok()
    });
    let (t, _) = rt.block_on(trusted.topology()).expect("topology");
    assert_eq!(t.instances.keys().collect::<Vec<_>>(), ["shop"]);
    // Plain HTTP/2, or a certificate another CA signed: no answer.
    let plain = AdminClient::new(vec![addrs[0].clone()], TOKEN).expect("client");
    let unsigned = AdminClient::new(vec![addrs[0].clone()], TOKEN)
        .expect("client")
        .with_tls(client_tls("intruder.pem", "intruder.key"));
    for (what, client) in [("plain", plain), ("other CA", unsigned)] {
        let start = Instant::now();
        let err = rt.block_on(client.members()).expect_err(what);
        assert!(err.contains("no coordinator answered"), "{what}: {err}");
        assert!(start.elapsed() < Duration::from_secs(30), "{what}");
    }
    // A node calls the coordinators over TLS with its own certificate, and takes its role.
    rt.block_on(trusted.change(&Change::AddChild {
        instance: "shop".into(),
        region: "eu".into(),
        mesh: true,
    }))
    .expect("add eu");
    let node_dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let node_args: Vec<String> = [
        "--region",
        "eu",
        "--instance",
        "shop",
        "--coordinator",
        &addrs[0],
        "--coordinator-tls",
        "yes",
        "--cluster-token",
        TOKEN,
        "--tls-cert",
        &cert("node.pem"),
        "--tls-key",
        &cert("node.key"),
        "--tls-ca",
        &cert("ca.pem"),
    ]
    .into_iter()
    .map(str::to_string)
    .chain([
        "--port".to_string(),
        port.to_string(),
        "--sync-port".to_string(),
        free_port().to_string(),
        "--dir".to_string(),
        node_dir.path().display().to_string(),
    ])
    .collect();
    let node_bin = Path::new(env!("CARGO_BIN_EXE_gdcctl")).with_file_name("gdc-node");
    let node = Server::start(&node_bin, &node_args, port).expect("gdc-node");
    wait_for(
        "the node to register over TLS",
        Duration::from_secs(30),
        || {
            let (t, _) = rt.block_on(trusted.topology()).ok()?;
            let eu = &t.instances["shop"].children["eu"];
            (eu.primary.as_deref() == Some(&*format!("127.0.0.1:{port}"))).then_some(())
        },
    );
    drop(node);

    // gdcctl, with its TLS flags.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gdcctl"))
        .args(["instance", "list", "--json", "--coordinator", &addrs[1]])
        .args(["--tls-ca", &cert("ca.pem"), "--tls-cert", &cert("node.pem")])
        .args(["--tls-key", &cert("node.key")])
        .env("GDC_CLUSTER_TOKEN", TOKEN)
        .output()
        .expect("gdcctl");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        json(&String::from_utf8_lossy(&out.stdout)),
        serde_json::json!(["shop"])
    );
}
