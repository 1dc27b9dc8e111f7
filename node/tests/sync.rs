//! Sync channels over real sockets: regions that write concurrently converge, relays carry
//! ops along a chain, one-way channels stay one-way, and the sync port refuses callers
//! without the cluster token.

mod common;

use common::redis_server::{call, read_reply};
use common::{TOKEN, TestNode, sync_listener, wait_for};
use gdc_jepsen::proxy::Proxy;
use gdc_node::config::Peer;
use redis::Value;
use std::net::SocketAddr;
use std::time::Duration;

const CONVERGE: Duration = Duration::from_secs(60);

fn peer(region: &str, addr: SocketAddr) -> Peer {
    Peer {
        region: region.to_string(),
        addr: addr.to_string(),
    }
}

/// Start nodes named `regions`, each receiving from the regions `links` gives it. Returns
/// them with their sync addresses.
fn start(
    dirs: &[tempfile::TempDir],
    regions: &[&str],
    links: impl Fn(usize) -> Vec<usize>,
) -> Vec<TestNode> {
    start_with(dirs, regions, links, |_, _| {}).0
}

/// [`start`], with settings `more` changes per node (given its index).
fn start_with(
    dirs: &[tempfile::TempDir],
    regions: &[&str],
    links: impl Fn(usize) -> Vec<usize>,
    more: impl Fn(usize, &mut gdc_node::Config),
) -> (Vec<TestNode>, Vec<SocketAddr>) {
    let listeners: Vec<_> = regions.iter().map(|_| sync_listener()).collect();
    let addrs: Vec<SocketAddr> = listeners.iter().map(|(_, a)| *a).collect();
    let nodes = listeners
        .into_iter()
        .enumerate()
        .map(|(i, (l, _))| {
            let peers: Vec<Peer> = links(i)
                .into_iter()
                .map(|j| peer(regions[j], addrs[j]))
                .collect();
            TestNode::start_synced(dirs[i].path(), l, |c| {
                c.region = regions[i].to_string();
                c.peers = peers;
                more(i, c);
            })
        })
        .collect();
    (nodes, addrs)
}

/// Regions a and b, each receiving from the other, with GDC.DEBUG allowed.
fn debug_pair(dirs: &[tempfile::TempDir]) -> Vec<TestNode> {
    start_with(
        dirs,
        &["a", "b"],
        |i| vec![1 - i],
        |_, c| c.debug_command = true,
    )
    .0
}

/// What a node's `GET /metrics` answers.
fn metrics(node: &TestNode) -> String {
    let mut http = std::net::TcpStream::connect(node.metrics_addr).expect("metrics");
    let body = common::exchange(&mut http, b"GET /metrics HTTP/1.1\r\n\r\n", usize::MAX);
    String::from_utf8(body).expect("utf8")
}

/// The value of one sample (`name{labels}`) in a metrics page.
fn sample(body: &str, series: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in {body}"))
}

fn digest(c: &mut redis::Connection, db: u32) -> String {
    redis::cmd("GDC.DIGEST")
        .arg(db)
        .query(c)
        .expect("GDC.DIGEST")
}

/// Wait until every node has the same digest in databases 0 and 1.
fn wait_converged(nodes: &[TestNode]) {
    let mut conns: Vec<_> = nodes.iter().map(TestNode::client).collect();
    wait_for("equal digests in every region", CONVERGE, || {
        let all: Vec<(String, String)> = conns
            .iter_mut()
            .map(|c| (digest(c, 0), digest(c, 1)))
            .collect();
        all.windows(2).all(|w| w[0] == w[1]).then_some(())
    });
}

/// A small deterministic generator (xorshift), so that a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One random write over a small keyspace: every data type, deletes, TTLs, transactions;
/// one in eight in database 1 (`conns[1]` has it selected).
fn random_write(conns: &mut [redis::Connection; 2], rng: &mut Rng, region: &str) {
    let c = &mut conns[usize::from(rng.below(8) == 0)];
    let k = |rng: &mut Rng, t: &str| format!("{t}:{}", rng.below(6));
    let m = |rng: &mut Rng| format!("m{}", rng.below(8));
    let v = |rng: &mut Rng| format!("{region}-{}", rng.below(1000));
    let cmd = match rng.below(16) {
        0 => redis::cmd("SET").arg(k(rng, "s")).arg(v(rng)).clone(),
        1 => redis::cmd("DEL").arg(k(rng, "s")).arg(k(rng, "h")).clone(),
        2 => redis::cmd("INCRBY")
            .arg(k(rng, "n"))
            .arg(rng.below(100) as i64 - 50)
            .clone(),
        3 => redis::cmd("HSET")
            .arg(k(rng, "h"))
            .arg(m(rng))
            .arg(v(rng))
            .clone(),
        4 => redis::cmd("HDEL").arg(k(rng, "h")).arg(m(rng)).clone(),
        5 => redis::cmd("HINCRBY")
            .arg(k(rng, "hc"))
            .arg(m(rng))
            .arg(rng.below(10))
            .clone(),
        6 => redis::cmd("SADD").arg(k(rng, "set")).arg(m(rng)).clone(),
        7 => redis::cmd("SREM").arg(k(rng, "set")).arg(m(rng)).clone(),
        8 => redis::cmd("ZADD")
            .arg(k(rng, "z"))
            .arg(rng.below(50))
            .arg(m(rng))
            .clone(),
        9 => redis::cmd("ZINCRBY")
            .arg(k(rng, "z"))
            .arg(rng.below(5))
            .arg(m(rng))
            .clone(),
        10 => redis::cmd("ZREM").arg(k(rng, "z")).arg(m(rng)).clone(),
        11 => redis::cmd("RPUSH").arg(k(rng, "l")).arg(v(rng)).clone(),
        12 => redis::cmd("LPOP").arg(k(rng, "l")).clone(),
        13 => redis::cmd("EXPIRE")
            .arg(k(rng, "s"))
            .arg(1000 + rng.below(1000))
            .clone(),
        14 => redis::cmd("PERSIST").arg(k(rng, "s")).clone(),
        _ => {
            // A transaction: applied everywhere whole.
            let key = k(rng, "s");
            let mut p = redis::pipe();
            p.atomic()
                .cmd("SET")
                .arg(&key)
                .arg(v(rng))
                .cmd("APPEND")
                .arg(&key)
                .arg("-tx")
                .cmd("SADD")
                .arg(k(rng, "set"))
                .arg(m(rng));
            let _: Result<Value, _> = p.query(c);
            return;
        }
    };
    // Wrong-type errors are part of the workload: they change nothing.
    let _: Result<Value, _> = cmd.query(c);
}

/// Everything a reader sees of the keys the workload touches.
fn visible(c: &mut redis::Connection) -> Vec<(String, Value)> {
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).expect("KEYS");
    keys.sort();
    keys.into_iter()
        .map(|key| {
            let t: String = redis::cmd("TYPE").arg(&key).query(c).expect("TYPE");
            let v: Value = match t.as_str() {
                "string" => redis::cmd("GET").arg(&key).query(c),
                "hash" => redis::cmd("HGETALL").arg(&key).query(c),
                "set" => redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query::<Vec<String>>(c)
                    .map(|mut m| {
                        m.sort();
                        Value::Array(m.into_iter().map(|x| Value::BulkString(x.into())).collect())
                    }),
                "zset" => redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query(c),
                "list" => redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query(c),
                other => panic!("unexpected type {other}"),
            }
            .expect("read");
            let v = match v {
                // Field order of a hash is not part of its value.
                Value::Array(mut items) if t == "hash" => {
                    let mut pairs: Vec<(Value, Value)> = Vec::new();
                    while items.len() >= 2 {
                        let val = items.pop().expect("value");
                        let field = items.pop().expect("field");
                        pairs.push((field, val));
                    }
                    pairs.sort_by_key(|(f, _)| format!("{f:?}"));
                    Value::Array(pairs.into_iter().flat_map(|(f, v)| [f, v]).collect())
                }
                v => v,
            };
            (format!("{key}:{t}"), v)
        })
        .collect()
}

#[test]
fn three_regions_writing_concurrently_converge() {
    let dirs: Vec<_> = (0..3)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let regions = ["ams", "nyc", "sgp"];
    let nodes = start(&dirs, &regions, |i| (0..3).filter(|&j| j != i).collect());
    let writers: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut conns = [n.client(), n.client()];
            let _: () = redis::cmd("SELECT")
                .arg(1)
                .query(&mut conns[1])
                .expect("SELECT");
            let region = regions[i];
            std::thread::spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1));
                for _ in 0..1500 {
                    random_write(&mut conns, &mut rng, region);
                }
                let c = &mut conns[0];
                // Counted increments: the total must come out exact everywhere.
                for _ in 0..100 {
                    let _: i64 = redis::cmd("INCRBY")
                        .arg("total")
                        .arg(i + 1)
                        .query(c)
                        .expect("INCRBY");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    wait_converged(&nodes);
    let mut conns: Vec<_> = nodes.iter().map(TestNode::client).collect();
    let seen: Vec<_> = conns.iter_mut().map(visible).collect();
    assert!(seen[0].len() > 10, "the workload left keys: {:?}", seen[0]);
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[1], seen[2]);
    for c in &mut conns {
        let total: i64 = redis::cmd("GET").arg("total").query(c).expect("GET");
        assert_eq!(total, 100 + 200 + 300);
    }
    // Every channel is streaming, and says so.
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query(&mut conns[0])
        .expect("INFO");
    assert!(info.contains("gdc_region:ams"), "{info}");
    assert!(info.contains("gdc_inbound_channels:2"), "{info}");
    assert!(
        info.contains("peer=nyc,") && info.contains("peer=sgp,"),
        "{info}"
    );
    assert!(info.contains("state=streaming"), "{info}");
    // And to Prometheus.
    let body = metrics(&nodes[0]);
    let applied = sample(&body, "gdc_channel_ops_applied_total{peer=\"nyc\"}");
    assert!(applied > 1000, "{applied}");
    assert!(
        body.contains("gdc_subscriber_ops_unacknowledged{peer=\"nyc\"} "),
        "{body}"
    );
    assert!(
        body.contains("gdc_channel_state{peer=\"sgp\",state=\""),
        "{body}"
    );
}

#[test]
fn a_chain_relays_and_a_one_way_channel_stays_one_way() {
    // a -> b -> c: b lists a, c lists b; nobody lists c.
    let dirs: Vec<_> = (0..3)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let regions = ["a", "b", "c"];
    let nodes = start(&dirs, &regions, |i| match i {
        1 => vec![0],
        2 => vec![1],
        _ => vec![],
    });
    let mut a = nodes[0].client();
    let mut b = nodes[1].client();
    let mut c = nodes[2].client();
    let _: () = redis::cmd("SET")
        .arg("from-a")
        .arg("1")
        .query(&mut a)
        .expect("SET");
    let _: () = redis::cmd("SET")
        .arg("from-b")
        .arg("2")
        .query(&mut b)
        .expect("SET");
    let _: () = redis::cmd("SET")
        .arg("from-c")
        .arg("3")
        .query(&mut c)
        .expect("SET");
    let get = |conn: &mut redis::Connection, k: &str| -> Option<String> {
        redis::cmd("GET").arg(k).query(conn).expect("GET")
    };
    wait_for("a's write relayed to c", CONVERGE, || {
        get(&mut c, "from-a").filter(|v| v == "1")
    });
    wait_for("b's write at c", CONVERGE, || {
        get(&mut c, "from-b").filter(|v| v == "2")
    });
    // c's write stays at c; b's stays off a. Wait for a later write at each source to
    // arrive, so that an earlier one would have arrived too.
    let _: () = redis::cmd("SET")
        .arg("marker")
        .arg("m")
        .query(&mut a)
        .expect("SET");
    wait_for("a's marker at c", CONVERGE, || {
        get(&mut c, "marker").filter(|v| v == "m")
    });
    assert_eq!(get(&mut b, "from-c"), None);
    assert_eq!(get(&mut a, "from-c"), None);
    assert_eq!(get(&mut a, "from-b"), None);
    assert_eq!(get(&mut b, "from-a").as_deref(), Some("1"));
}

#[test]
fn the_sync_port_refuses_callers_without_the_token_and_survives_garbage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (l, sync_addr) = sync_listener();
    let node = TestNode::start_synced(dir.path(), l, |_| {});
    let mut c = node.client();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut c)
        .expect("SET");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let subscribe = |token: Option<&str>| {
        rt.block_on(async {
            use gdc_proto::sync::subscribe_request::Msg;
            use gdc_proto::sync::{Hello, SubscribeRequest, sync_client::SyncClient};
            let mut client = SyncClient::connect(format!("http://{sync_addr}"))
                .await
                .expect("connect");
            let hello = SubscribeRequest {
                msg: Some(Msg::Hello(Hello {
                    region: "intruder".into(),
                    server_id: 77,
                    applied: None,
                    deflate: false,
                })),
            };
            let mut req = tonic::Request::new(tokio_stream::iter(vec![hello]));
            if let Some(t) = token {
                req.metadata_mut().insert(
                    "authorization",
                    format!("Bearer {t}").parse().expect("metadata"),
                );
            }
            match client.subscribe(req).await {
                Ok(resp) => {
                    let mut stream = resp.into_inner();
                    let batch = stream.message().await.expect("a batch").expect("some");
                    Ok(batch.frames.len())
                }
                Err(status) => Err(status.code()),
            }
        })
    };
    assert_eq!(subscribe(None), Err(tonic::Code::Unauthenticated));
    assert_eq!(
        subscribe(Some("wrong-token-value")),
        Err(tonic::Code::Unauthenticated)
    );
    // With the token, the one write comes back as one frame.
    assert_eq!(subscribe(Some(TOKEN)), Ok(1));

    // Garbage on the sync port: that connection fails, clients are still served.
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(sync_addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        s.write_all(&[0xde, 0xad, 0xbe, 0xef].repeat(1000))
            .expect("write");
        let mut buf = [0u8; 256];
        let _ = s.read(&mut buf);
    }
    let v: String = redis::cmd("GET").arg("k").query(&mut c).expect("GET");
    assert_eq!(v, "v");
    assert_eq!(subscribe(Some(TOKEN)), Ok(1));
}

/// Segment files in a node's binlog directory.
fn segments(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("binlog"))
        .expect("binlog dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("binlog-"))
        })
        .count()
}

/// Region b, receiving from region a (whose sync port is `addr_a`), its data in `dir`.
fn start_b(dir: &std::path::Path, addr_a: SocketAddr) -> TestNode {
    let (lb, _) = sync_listener();
    TestNode::start_synced(dir, lb, |c| {
        c.region = "b".into();
        c.peers = vec![peer("a", addr_a)];
    })
}

/// SET `key` to `value` at `from`; return once `to` reads it.
fn write_arrives(from: &TestNode, to: &TestNode, key: &str, value: &str) {
    let (mut cf, mut ct) = (from.client(), to.client());
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query(&mut cf)
        .expect("SET");
    wait_for(&format!("{key} to arrive"), CONVERGE, || {
        redis::cmd("GET")
            .arg(key)
            .query::<Option<String>>(&mut ct)
            .expect("GET")
            .filter(|v| v == value)
    });
}

#[test]
fn a_compressed_channel_carries_the_same_writes_in_fewer_bytes() {
    let dirs: Vec<_> = (0..3)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let (mut a, addrs) = start_with(&dirs[..1], &["a"], |_| vec![], |_, _| {});
    let a = a.remove(0);
    // Written before the readers exist, so they catch up in full batches (large enough to
    // be compressed), of values that compress well.
    let mut ca = a.client();
    let mut pipe = redis::pipe();
    for i in 0..3000 {
        pipe.cmd("SET")
            .arg(format!("k{i}"))
            .arg(format!("value {i} ").repeat(20))
            .ignore();
    }
    let _: () = pipe.query(&mut ca).expect("SETs");
    let reader = |dir: &tempfile::TempDir, region: &str, compression: bool| {
        let (l, _) = sync_listener();
        TestNode::start_synced(dir.path(), l, |c| {
            c.region = region.into();
            c.peers = vec![peer("a", addrs[0])];
            c.sync_compression = compression;
        })
    };
    let (b, c) = (reader(&dirs[1], "b", true), reader(&dirs[2], "c", false));
    // Written once (a second SET would be an overwrite one reader might not have yet).
    let _: () = redis::cmd("SET")
        .arg("done")
        .arg("yes")
        .query(&mut ca)
        .expect("SET");
    for node in [&b, &c] {
        let mut conn = node.client();
        wait_for("the last write to arrive", CONVERGE, || {
            get(&mut conn, "done").filter(|v| v == "yes")
        });
        assert_eq!(digest(&mut conn, 0), digest(&mut ca, 0));
        assert_eq!(
            get(&mut conn, "k2999"),
            Some("value 2999 ".repeat(20)),
            "a value read back whole"
        );
    }
    let received = |node: &TestNode| -> u64 {
        replication_field(&mut node.client(), Some("a"), "bytes_received")
            .parse()
            .expect("a number")
    };
    let (packed, plain) = (received(&b), received(&c));
    assert!(
        plain > 3000 * 200,
        "the uncompressed channel carried every value: {plain} bytes"
    );
    assert!(
        packed * 5 < plain,
        "compressed {packed} bytes against {plain} uncompressed"
    );
}

#[test]
fn a_receiver_restarted_resumes_and_the_sender_keeps_what_it_lacks_until_acknowledged() {
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let start_a = || {
        let (la, addr_a) = sync_listener();
        let a = TestNode::start_synced(dir_a.path(), la, |c| c.region = "a".into());
        (a, addr_a)
    };
    let (a, addr_a) = start_a();
    let b = start_b(dir_b.path(), addr_a);
    write_arrives(&a, &b, "first", "1");
    drop(b);
    // a restarts while b is down: it still knows b has to be waited for.
    drop(a);
    let (a, addr_a) = start_a();
    let mut ca = a.client();
    // While b is down: writes, and a snapshot that covers them.
    for i in 0..200 {
        let _: i64 = redis::cmd("INCR").arg("n").query(&mut ca).expect("INCR");
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut ca)
            .expect("SET");
    }
    let _: () = redis::cmd("SAVE").query(&mut ca).expect("SAVE");
    let _: i64 = redis::cmd("INCR").arg("n").query(&mut ca).expect("INCR");
    // b subscribed before and has not acknowledged these: a keeps them.
    assert!(
        segments(dir_a.path()) >= 2,
        "segments were removed too early"
    );
    let b = start_b(dir_b.path(), addr_a);
    let mut cb = b.client();
    wait_for("b caught up", CONVERGE, || {
        let n: Option<i64> = redis::cmd("GET").arg("n").query(&mut cb).expect("GET");
        (n == Some(201)).then_some(())
    });
    let v: Option<String> = redis::cmd("GET").arg("k199").query(&mut cb).expect("GET");
    assert_eq!(v.as_deref(), Some("199"));
    // Acknowledged: the covered segments go.
    wait_for("covered segments removed", CONVERGE, || {
        (segments(dir_a.path()) == 1).then_some(())
    });
    let da = digest(&mut ca, 0);
    assert_eq!(digest(&mut cb, 0), da);
}

#[test]
fn regions_cut_apart_keep_serving_and_converge_with_exact_counters() {
    let dirs: Vec<_> = (0..3)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let regions = ["ams", "nyc", "sgp"];
    let listeners: Vec<_> = regions.iter().map(|_| sync_listener()).collect();
    // Receiver i reaches sender j through proxies[i][j]: every directed link on its own.
    let proxies: Vec<Vec<Option<Proxy>>> = (0..3)
        .map(|i| {
            (0..3)
                .map(|j| (i != j).then(|| Proxy::start(listeners[j].1).expect("proxy")))
                .collect()
        })
        .collect();
    let all_proxies = || proxies.iter().flatten().flatten();
    let nodes: Vec<TestNode> = listeners
        .into_iter()
        .enumerate()
        .map(|(i, (l, _))| {
            let peers: Vec<Peer> = (0..3)
                .filter(|&j| j != i)
                .map(|j| {
                    let p = proxies[i][j].as_ref().expect("proxy");
                    peer(regions[j], p.addr())
                })
                .collect();
            let region = regions[i].to_string();
            TestNode::start_synced(dirs[i].path(), l, move |c| {
                c.region = region;
                c.peers = peers;
            })
        })
        .collect();
    let mut conns: Vec<_> = nodes.iter().map(TestNode::client).collect();
    // Each round, region i adds i+1 to the total 20 times and a member of its own.
    let round = |conns: &mut Vec<redis::Connection>, r: usize| {
        for (i, c) in conns.iter_mut().enumerate() {
            for _ in 0..20 {
                let _: i64 = redis::cmd("INCRBY")
                    .arg("total")
                    .arg(i + 1)
                    .query(c)
                    .expect("INCRBY");
            }
            let _: i64 = redis::cmd("SADD")
                .arg("seen")
                .arg(format!("{}-{r}", regions[i]))
                .query(c)
                .expect("SADD");
        }
    };
    round(&mut conns, 0);
    wait_converged(&nodes);

    // Cut every link and close its connections: each region keeps serving its clients.
    for p in all_proxies() {
        p.cut();
        p.sever();
    }
    round(&mut conns, 1);
    round(&mut conns, 2);
    let own: i64 = redis::cmd("GET")
        .arg("total")
        .query(&mut conns[0])
        .expect("GET");
    assert_eq!(
        own,
        120 + 2 * 20,
        "ams sees only its own writes while cut off"
    );

    for p in all_proxies() {
        p.heal();
    }
    wait_converged(&nodes);
    // Connections severed mid-stream while writing: resumed, nothing applied twice.
    for r in 3..6 {
        for p in all_proxies() {
            p.sever();
        }
        round(&mut conns, r);
    }
    wait_converged(&nodes);
    // Batches held on their way (acknowledgements still flowing), then released.
    for p in all_proxies() {
        p.cut_one_way(gdc_jepsen::proxy::Direction::Back);
    }
    round(&mut conns, 6);
    let own: i64 = redis::cmd("GET")
        .arg("total")
        .query(&mut conns[1])
        .expect("GET");
    assert_eq!(own, 6 * 120 + 40, "nyc sees only its own write while held");
    for p in all_proxies() {
        p.heal();
    }
    // Slow links: every chunk 20 ms late.
    for p in all_proxies() {
        p.delay(Duration::from_millis(20));
    }
    round(&mut conns, 7);
    wait_converged(&nodes);
    for c in &mut conns {
        let total: i64 = redis::cmd("GET").arg("total").query(c).expect("GET");
        assert_eq!(total, 8 * (20 + 40 + 60));
        let seen: i64 = redis::cmd("SCARD").arg("seen").query(c).expect("SCARD");
        assert_eq!(seen, 8 * 3);
    }
}

#[test]
fn wait_counts_regions_that_have_the_write_and_channels_are_listed() {
    let dirs: Vec<_> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let nodes = start(&dirs, &["a", "b"], |i| vec![1 - i]);
    let mut a = nodes[0].client();
    // b subscribes to a: wait until a knows it, so that WAIT has a region to count.
    wait_for("b subscribed to a", CONVERGE, || {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut a)
            .expect("INFO");
        info.contains("gdc_outbound_channels:1").then_some(())
    });
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut a)
        .expect("SET");
    let n: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(10_000)
        .query(&mut a)
        .expect("WAIT");
    assert_eq!(n, 1);
    let mut b = nodes[1].client();
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut b).expect("GET");
    assert_eq!(
        v.as_deref(),
        Some("v"),
        "WAIT answered before b had the write"
    );
    // Two regions are never reached: the timeout answers with the one that has it.
    let started = std::time::Instant::now();
    let n: i64 = redis::cmd("WAIT")
        .arg(2)
        .arg(200)
        .query(&mut a)
        .expect("WAIT");
    assert_eq!(n, 1);
    assert!(started.elapsed() >= Duration::from_millis(200));

    type Fields = std::collections::HashMap<String, Value>;
    let text = |m: &Fields, k: &str| -> String {
        redis::from_redis_value(m.get(k).unwrap_or(&Value::Nil)).unwrap_or_default()
    };
    let channels: Vec<Fields> = wait_for("a's channel from b streaming", CONVERGE, || {
        let channels: Vec<Fields> = redis::cmd("GDC.CHANNELS")
            .query(&mut a)
            .expect("GDC.CHANNELS");
        channels
            .iter()
            .any(|m| text(m, "direction") == "in" && text(m, "state") == "streaming")
            .then_some(channels)
    });
    assert_eq!(channels.len(), 2, "{channels:?}");
    let inbound = channels
        .iter()
        .find(|m| text(m, "direction") == "in")
        .expect("an inbound channel");
    assert_eq!(text(inbound, "peer"), "b");
    let outbound = channels
        .iter()
        .find(|m| text(m, "direction") == "out")
        .expect("an outbound channel");
    assert_eq!(text(outbound, "peer"), "b");
}

#[test]
fn channels_are_opened_paused_resumed_and_closed_at_run_time() {
    use gdc_proto::admin::node_admin_client::NodeAdminClient;
    use gdc_proto::admin::{ChannelRef, ListChannelsRequest, OpenChannelRequest};
    let dirs: Vec<_> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    // No static channels: b will receive from a once told to.
    let (nodes, addrs) = start_with(&dirs, &["a", "b"], |_| vec![], |_, _| {});
    let (addr_a, addr_b) = (addrs[0], addrs[1]);
    let mut a = nodes[0].client();
    let mut b = nodes[1].client();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let admin = |token: &str| {
        let token: tonic::metadata::MetadataValue<_> =
            format!("Bearer {token}").parse().expect("token");
        let channel = rt
            .block_on(
                tonic::transport::Endpoint::from_shared(format!("http://{addr_b}"))
                    .expect("endpoint")
                    .connect(),
            )
            .expect("connect");
        NodeAdminClient::with_interceptor(channel, move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert("authorization", token.clone());
            Ok(r)
        })
    };
    let refused = rt.block_on(admin("not-the-token").list_channels(ListChannelsRequest {}));
    assert_eq!(
        refused.expect_err("refused").code(),
        tonic::Code::Unauthenticated
    );
    let mut ctl = admin(TOKEN);
    let region = || ChannelRef { region: "a".into() };
    let state = |list: gdc_proto::admin::ChannelList| -> Vec<(String, String, String)> {
        list.channels
            .into_iter()
            .map(|c| (c.direction, c.peer, c.state))
            .collect()
    };
    let get = |c: &mut redis::Connection, k: &str| -> Option<String> {
        redis::cmd("GET").arg(k).query(c).expect("GET")
    };

    let _: () = redis::cmd("SET")
        .arg("k1")
        .arg("1")
        .query(&mut a)
        .expect("SET");
    let list = rt
        .block_on(ctl.open_channel(OpenChannelRequest {
            region: "a".into(),
            addr: addr_a.to_string(),
        }))
        .expect("open")
        .into_inner();
    assert_eq!(state(list)[0].1, "a");
    wait_for("k1 at b", CONVERGE, || get(&mut b, "k1"));
    let again = rt.block_on(ctl.open_channel(OpenChannelRequest {
        region: "a".into(),
        addr: addr_a.to_string(),
    }));
    assert_eq!(again.expect_err("twice").code(), tonic::Code::AlreadyExists);

    let list = rt
        .block_on(ctl.pause_channel(region()))
        .expect("pause")
        .into_inner();
    assert_eq!(
        state(list),
        vec![("in".into(), "a".into(), "paused".into())]
    );
    let _: () = redis::cmd("SET")
        .arg("k2")
        .arg("2")
        .query(&mut a)
        .expect("SET");
    // While paused, a write at a stays there; a marker proves b's other paths work.
    let _: () = redis::cmd("SET")
        .arg("local")
        .arg("x")
        .query(&mut b)
        .expect("SET");
    assert_eq!(get(&mut b, "k2"), None);
    rt.block_on(ctl.resume_channel(region())).expect("resume");
    wait_for("k2 at b after resuming", CONVERGE, || get(&mut b, "k2"));

    let list = rt
        .block_on(ctl.close_channel(region()))
        .expect("close")
        .into_inner();
    assert!(state(list).iter().all(|(d, _, _)| d != "in"));
    let missing = rt.block_on(ctl.pause_channel(region()));
    assert_eq!(missing.expect_err("closed").code(), tonic::Code::NotFound);
    let listed = rt
        .block_on(ctl.list_channels(ListChannelsRequest {}))
        .expect("list")
        .into_inner();
    assert!(listed.channels.iter().all(|c| c.direction != "in"));
}

/// A file of the test certificates (`node/tests/certs`, made by its `gen.sh`).
fn cert(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/certs")
        .join(name)
}

#[test]
fn channels_run_over_mutual_tls_and_strangers_are_refused() {
    let dirs: Vec<_> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let (nodes, addrs) = start_with(
        &dirs,
        &["a", "b"],
        |i| if i == 1 { vec![0] } else { vec![] },
        |_, c| {
            c.tls_cert = Some(cert("node.pem"));
            c.tls_key = Some(cert("node.key"));
            c.tls_ca = Some(cert("ca.pem"));
        },
    );
    let addr_a = addrs[0];
    // The write travels over TLS.
    write_arrives(&nodes[0], &nodes[1], "k", "over-tls");
    let mut a = nodes[0].client();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let read = |p: &str| std::fs::read(cert(p)).expect("cert file");
    // Each attempt: can a caller with this identity (and the token) list a's channels?
    let attempt = |scheme: &str, identity: Option<(&str, &str)>| -> bool {
        use gdc_proto::admin::{ListChannelsRequest, node_admin_client::NodeAdminClient};
        use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
        rt.block_on(async {
            let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr_a}"))
                .expect("endpoint")
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(5));
            if scheme == "https" {
                let mut tls = ClientTlsConfig::new()
                    .domain_name("localhost")
                    .ca_certificate(Certificate::from_pem(read("ca.pem")));
                if let Some((c, k)) = identity {
                    tls = tls.identity(Identity::from_pem(read(c), read(k)));
                }
                endpoint = endpoint.tls_config(tls).expect("tls config");
            }
            let Ok(channel) = endpoint.connect().await else {
                return false;
            };
            let token: tonic::metadata::MetadataValue<_> =
                format!("Bearer {TOKEN}").parse().expect("token");
            let mut client =
                NodeAdminClient::with_interceptor(channel, move |mut r: tonic::Request<()>| {
                    r.metadata_mut().insert("authorization", token.clone());
                    Ok(r)
                });
            client.list_channels(ListChannelsRequest {}).await.is_ok()
        })
    };
    assert!(
        attempt("https", Some(("node.pem", "node.key"))),
        "a node's identity works"
    );
    assert!(
        !attempt("https", Some(("intruder.pem", "intruder.key"))),
        "a certificate from another CA is refused"
    );
    assert!(!attempt("https", None), "no client certificate is refused");
    assert!(!attempt("http", None), "plain text is refused");
    // a went on serving its clients throughout.
    let v: String = redis::cmd("GET").arg("k").query(&mut a).expect("GET");
    assert_eq!(v, "over-tls");
}

/// A sender that answers its subscriptions in turn with one of `batches` (and then nothing).
struct FakeSender {
    batches: Vec<gdc_proto::sync::OpBatch>,
    calls: std::sync::atomic::AtomicUsize,
}

/// A batch from the fake sender.
fn fake_batch(
    frames: Vec<Vec<u8>>,
    packed_frames: Vec<u8>,
    packed_len: u64,
) -> gdc_proto::sync::OpBatch {
    gdc_proto::sync::OpBatch {
        frames,
        sender_id: 99,
        sender_region: "evil".into(),
        sender_applied: None,
        packed_frames,
        packed_len,
    }
}

#[tonic::async_trait]
impl gdc_proto::sync::sync_server::Sync for FakeSender {
    type SubscribeStream =
        tokio_stream::Iter<std::vec::IntoIter<Result<gdc_proto::sync::OpBatch, tonic::Status>>>;

    async fn subscribe(
        &self,
        _: tonic::Request<tonic::Streaming<gdc_proto::sync::SubscribeRequest>>,
    ) -> Result<tonic::Response<Self::SubscribeStream>, tonic::Status> {
        let call = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let batch = self.batches[call % self.batches.len()].clone();
        Ok(tonic::Response::new(tokio_stream::iter(vec![Ok(batch)])))
    }

    type FullSyncStream = GarbageState;
    type FetchKeysStream = GarbageState;

    async fn full_sync(
        &self,
        _: tonic::Request<gdc_proto::sync::FullSyncRequest>,
    ) -> Result<tonic::Response<GarbageState>, tonic::Status> {
        Ok(tonic::Response::new(garbage_state()))
    }

    async fn digests(
        &self,
        _: tonic::Request<gdc_proto::sync::DigestsRequest>,
    ) -> Result<tonic::Response<gdc_proto::sync::DigestsReply>, tonic::Status> {
        Err(tonic::Status::unimplemented("no digests here"))
    }

    async fn fetch_keys(
        &self,
        _: tonic::Request<gdc_proto::sync::FetchKeysRequest>,
    ) -> Result<tonic::Response<GarbageState>, tonic::Status> {
        Ok(tonic::Response::new(garbage_state()))
    }
}

type GarbageState =
    tokio_stream::Iter<std::vec::IntoIter<Result<gdc_proto::sync::StateChunk, tonic::Status>>>;

fn garbage_state() -> GarbageState {
    let chunk = gdc_proto::sync::StateChunk {
        data: b"GDCSNAP1 and then nonsense".to_vec(),
        raw_len: 0,
    };
    tokio_stream::iter(vec![Ok(chunk)])
}

#[test]
fn garbage_from_a_peer_is_refused_and_the_node_goes_on() {
    // The fake peer, on its own runtime.
    let (fake, fake_addr) = sync_listener();
    fake.set_nonblocking(true).expect("nonblocking");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(fake).expect("listener");
        let batches = vec![
            fake_batch(
                vec![b"\x01\x00not a record".to_vec(), vec![0xff; 64]],
                vec![],
                0,
            ),
            // A packed batch that is not DEFLATE at all, one that claims more than a
            // message may hold, and one that inflates to less than it claims.
            fake_batch(vec![], vec![0xff; 100], 100),
            fake_batch(vec![], b"\x03\x00".to_vec(), u64::MAX),
            fake_batch(vec![], b"\x03\x00".to_vec(), 10),
        ];
        let _ = tonic::transport::Server::builder()
            .add_service(gdc_proto::sync::sync_server::SyncServer::new(FakeSender {
                batches,
                calls: Default::default(),
            }))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await;
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let (l, _) = sync_listener();
    let node = TestNode::start_synced(dir.path(), l, |c| {
        c.region = "victim".into();
        c.peers = vec![peer("evil", fake_addr)];
    });
    let mut c = node.client();
    // Each failure is the channel's last error in turn, as it retries.
    for (what, error) in [
        ("garbage frames", "malformed frame"),
        ("a corrupt packed batch", "compressed message is corrupt"),
        ("an oversized claim", "over the limit"),
        (
            "a claim the data does not fill",
            "inflates to other than the 10 bytes",
        ),
    ] {
        let info = wait_for(what, CONVERGE, || {
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query(&mut c)
                .expect("INFO");
            info.contains(error).then_some(info)
        });
        assert!(info.contains("peer=evil,"), "{info}");
    }
    // Nothing was applied, and clients are served as ever.
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut c)
        .expect("SET");
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut c).expect("KEYS");
    assert_eq!(keys, vec!["k".to_string()]);
}

/// The value of `field` on the INFO replication line of the channel from `peer` (or of a
/// node-wide INFO field when `peer` is `None`).
fn replication_field(c: &mut redis::Connection, peer: Option<&str>, field: &str) -> String {
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query(c)
        .expect("INFO");
    let line = match peer {
        None => info
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:"))),
        Some(p) => info
            .lines()
            .find(|l| l.contains(&format!(":peer={p},")))
            .and_then(|l| {
                l.split(',')
                    .find_map(|kv| kv.strip_prefix(&format!("{field}=")))
            }),
    };
    line.unwrap_or_else(|| panic!("no {field} in {info}"))
        .to_string()
}

fn get(c: &mut redis::Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(c).expect("GET")
}

#[test]
fn past_the_retention_limit_a_lagging_region_gets_a_full_sync_and_keeps_its_own_writes() {
    lagging_region_gets_a_full_sync(|c| c.binlog_retention_bytes = 1);
}

#[test]
fn past_the_retention_age_a_lagging_region_gets_a_full_sync() {
    lagging_region_gets_a_full_sync(|c| {
        c.binlog_retention_bytes = 0;
        c.binlog_retention_secs = 1;
    });
}

/// Region b, down while region a writes, deletes, counts and saves; a's binlog goes past
/// the `retention` limit. Back, b gets one full sync, keeps its own writes, and resumes
/// from the saved merge after a restart.
fn lagging_region_gets_a_full_sync(retention: fn(&mut gdc_node::Config)) {
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let (la, addr_a) = sync_listener();
    let a = TestNode::start_synced(dir_a.path(), la, |c| {
        c.region = "a".into();
        retention(c);
    });
    let b = start_b(dir_b.path(), addr_a);
    write_arrives(&a, &b, "first", "1");
    let mut cb = b.client();
    let _: () = redis::cmd("SET")
        .arg("own")
        .arg("b")
        .query(&mut cb)
        .expect("SET");
    drop(cb);
    drop(b);
    // While b is away: a removes what b has, counts, and writes more than its binlog keeps.
    let mut ca = a.client();
    let _: i64 = redis::cmd("DEL").arg("first").query(&mut ca).expect("DEL");
    for i in 0..100 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut ca)
            .expect("SET");
        let _: i64 = redis::cmd("INCRBY")
            .arg("counter")
            .arg(i)
            .query(&mut ca)
            .expect("INCRBY");
    }
    // A large value: the state goes in compressed chunks.
    let bulk = "compressible ".repeat(5000);
    let _: () = redis::cmd("SET")
        .arg("bulk")
        .arg(&bulk)
        .query(&mut ca)
        .expect("SET");
    let _: () = redis::cmd("SAVE").query(&mut ca).expect("SAVE");
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("x")
        .query(&mut ca)
        .expect("SET");
    // b never acknowledged them, but they are past the limit: they go.
    wait_for("segments over the limit removed", CONVERGE, || {
        (segments(dir_a.path()) == 1).then_some(())
    });

    let b = start_b(dir_b.path(), addr_a);
    let mut cb = b.client();
    write_arrives(&a, &b, "later", "y");
    // "later" may have come in the full sync itself, readable a moment before it is counted.
    wait_for("the full sync to be counted", CONVERGE, || {
        (replication_field(&mut cb, None, "gdc_full_syncs_received") != "0").then_some(())
    });
    assert_eq!(
        replication_field(&mut cb, None, "gdc_full_syncs_received"),
        "1"
    );
    assert_eq!(
        sample(&metrics(&b), "gdc_channel_full_syncs_total{peer=\"a\"}"),
        1
    );
    wait_for("the channel to stream again", CONVERGE, || {
        (replication_field(&mut cb, Some("a"), "state") == "streaming").then_some(())
    });
    assert_eq!(replication_field(&mut ca, None, "gdc_full_syncs_sent"), "1");
    // a sent its state from a forked child (its SAVE does not fork).
    let stats: String = redis::cmd("INFO")
        .arg("stats")
        .query(&mut ca)
        .expect("INFO");
    assert!(stats.contains("\r\ntotal_forks:1\r\n"), "{stats}");
    assert_eq!(
        get(&mut cb, "first"),
        None,
        "the delete made during the cut holds"
    );
    assert_eq!(
        get(&mut cb, "own").as_deref(),
        Some("b"),
        "b's own write is kept"
    );
    assert_eq!(get(&mut cb, "k99").as_deref(), Some("99"));
    assert_eq!(get(&mut cb, "bulk"), Some(bulk));
    assert_eq!(get(&mut cb, "after").as_deref(), Some("x"));
    assert_eq!(get(&mut cb, "counter").as_deref(), Some("4950"));

    // The merged state was saved: a restart keeps it and resubscribes without another
    // full sync.
    drop(cb);
    drop(b);
    let b = start_b(dir_b.path(), addr_a);
    let mut cb = b.client();
    write_arrives(&a, &b, "again", "z");
    assert_eq!(get(&mut cb, "k42").as_deref(), Some("42"));
    assert_eq!(get(&mut cb, "counter").as_deref(), Some("4950"));
    assert_eq!(
        replication_field(&mut cb, None, "gdc_full_syncs_received"),
        "0"
    );
    assert_eq!(replication_field(&mut ca, None, "gdc_full_syncs_sent"), "1");
}

#[test]
fn anti_entropy_repairs_a_key_changed_behind_the_binlogs_back() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().expect("dir")).collect();
    let (nodes, _) = start_with(
        &dirs,
        &["a", "b"],
        |i| vec![1 - i],
        |_, c| {
            c.anti_entropy_interval_ms = 200;
            c.debug_command = true;
        },
    );
    let (mut ca, mut cb) = (nodes[0].client(), nodes[1].client());
    // Ordinary traffic both ways first: ops on their way are not damage.
    for i in 0..200 {
        let c = if i % 2 == 0 { &mut ca } else { &mut cb };
        let _: () = redis::cmd("SET")
            .arg(format!("k{}", i % 20))
            .arg(i)
            .query(c)
            .expect("SET");
    }
    wait_converged(&nodes);
    wait_for("a few anti-entropy rounds", CONVERGE, || {
        let rounds: u64 = replication_field(&mut cb, Some("a"), "anti_entropy_rounds")
            .parse()
            .expect("rounds");
        (rounds >= 3).then_some(())
    });
    assert_eq!(replication_field(&mut cb, Some("a"), "repaired_keys"), "0");
    assert_eq!(replication_field(&mut ca, Some("b"), "repaired_keys"), "0");

    // A client of b caching k3 hears of its repair, as of any change.
    let mut tracker = nodes[1].raw();
    call(&mut tracker, &["HELLO", "3"]);
    call(&mut tracker, &["CLIENT", "TRACKING", "ON"]);
    call(&mut tracker, &["GET", "k3"]);
    let _: () = redis::cmd("GDC.DEBUG")
        .arg("SET-UNLOGGED")
        .arg("k3")
        .arg("damaged")
        .query(&mut ca)
        .expect("GDC.DEBUG");
    wait_for("b to be repaired", CONVERGE, || {
        (get(&mut cb, "k3").as_deref() == Some("damaged")).then_some(())
    });
    assert_eq!(
        read_reply(&mut tracker),
        b">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nk3\r\n"
    );
    wait_converged(&nodes);
    // The whole state of the repaired key, as GDC.DEBUG STATE shows it, is the same on both.
    let state = |c: &mut redis::Connection, key: &str| -> Option<String> {
        redis::cmd("GDC.DEBUG")
            .arg("STATE")
            .arg(key)
            .query(c)
            .expect("GDC.DEBUG STATE")
    };
    let repaired = state(&mut cb, "k3").expect("k3's state");
    assert!(repaired.contains("KeyState"), "{repaired}");
    assert_eq!(state(&mut ca, "k3"), Some(repaired));
    assert_eq!(state(&mut ca, "no-such-key"), None);
    assert_eq!(replication_field(&mut cb, Some("a"), "repaired_keys"), "1");
    assert_eq!(replication_field(&mut ca, Some("b"), "repaired_keys"), "0");
    assert_eq!(
        replication_field(&mut cb, None, "gdc_anti_entropy_repaired_keys"),
        "1"
    );
    assert_eq!(
        sample(
            &metrics(&nodes[1]),
            "gdc_channel_repaired_keys_total{peer=\"a\"}"
        ),
        1
    );
    let channels: Vec<std::collections::HashMap<String, Value>> = redis::cmd("GDC.CHANNELS")
        .query(&mut cb)
        .expect("GDC.CHANNELS");
    let from_a = channels
        .iter()
        .find(|m| m.get("direction") == Some(&Value::BulkString(b"in".to_vec())))
        .expect("b's channel from a");
    assert_eq!(
        from_a.get("repaired_keys"),
        Some(&Value::Int(1)),
        "{from_a:?}"
    );
}

/// The value of `field` in a node's `INFO gdc` section (`applied`, `keys_held`, ...).
fn gdc_field(c: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg("gdc").query(c).expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .to_string()
}

/// Anti-entropy rounds the channel from `peer` has gone through.
fn rounds(c: &mut redis::Connection, peer: &str) -> u64 {
    replication_field(c, Some(peer), "anti_entropy_rounds")
        .parse()
        .expect("rounds")
}

/// Wait until the channel from `peer` has gone through `more` rounds from now (the first
/// may have begun before).
fn wait_rounds(c: &mut redis::Connection, peer: &str, more: u64) {
    let since = rounds(c, peer);
    wait_for(&format!("{more} rounds from {peer}"), CONVERGE, || {
        (rounds(c, peer) >= since + more).then_some(())
    });
}

/// Regions a and b, each receiving from the other, with anti-entropy every second and
/// expired keys removed 100 ms after their expiry (so that removals by expiry replicate
/// while the regions write); `more` changes the settings further.
fn pair_with_anti_entropy(
    dirs: &[tempfile::TempDir],
    more: impl Fn(&mut gdc_node::Config),
) -> Vec<TestNode> {
    start_with(
        dirs,
        &["a", "b"],
        |i| vec![1 - i],
        |_, c| {
            c.anti_entropy_interval_ms = 1000;
            c.expire_grace_ms = 100;
            more(c);
        },
    )
    .0
}

/// [`random_write`], and besides what issue 16 ran (INCRBY on three keys with a DEL now and
/// then) and expiries short enough to pass while the regions write.
fn random_write_with_expiries(conns: &mut [redis::Connection; 2], rng: &mut Rng, region: &str) {
    let ms = |rng: &mut Rng| 50 + rng.below(500);
    let c = &mut conns[0];
    let counter = format!("c:{}", rng.below(3));
    let cmd = match rng.below(10) {
        0 | 1 => redis::cmd("INCRBY")
            .arg(&counter)
            .arg(rng.below(10))
            .clone(),
        2 => redis::cmd("DEL").arg(&counter).clone(),
        3 => redis::cmd("SET")
            .arg(format!("s:{}", rng.below(6)))
            .arg(region)
            .arg("PX")
            .arg(ms(rng))
            .clone(),
        4 => {
            let kind = ["s", "h", "set", "z", "l", "n"][rng.below(6) as usize];
            redis::cmd("PEXPIRE")
                .arg(format!("{kind}:{}", rng.below(6)))
                .arg(ms(rng))
                .clone()
        }
        _ => return random_write(conns, rng, region),
    };
    let _: Result<Value, _> = cmd.query(c);
}

/// Both regions write every type at once, for `duration`.
fn write_every_type_concurrently(nodes: &[TestNode], duration: Duration) {
    let until = std::time::Instant::now() + duration;
    let writers: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut conns = [n.client(), n.client()];
            let _: () = redis::cmd("SELECT")
                .arg(1)
                .query(&mut conns[1])
                .expect("SELECT");
            let region = ["a", "b"][i];
            std::thread::spawn(move || {
                let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ (i as u64 + 1));
                while std::time::Instant::now() < until {
                    random_write_with_expiries(&mut conns, &mut rng, region);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
}

/// Each region's repaired-keys count, as INFO, GDC.CHANNELS and /metrics show it: one number
/// per view, all equal.
fn repaired_keys(nodes: &[TestNode]) -> [u64; 2] {
    let mut counts = [0; 2];
    for (i, (node, peer)) in nodes.iter().zip(["b", "a"]).enumerate() {
        let mut c = node.client();
        let per_channel: u64 = replication_field(&mut c, Some(peer), "repaired_keys")
            .parse()
            .expect("repaired_keys");
        let total: u64 = replication_field(&mut c, None, "gdc_anti_entropy_repaired_keys")
            .parse()
            .expect("gdc_anti_entropy_repaired_keys");
        let exported = sample(
            &metrics(node),
            &format!("gdc_channel_repaired_keys_total{{peer=\"{peer}\"}}"),
        );
        assert_eq!((per_channel, total), (exported, exported), "node {i}");
        counts[i] = exported;
    }
    counts
}

/// Issue 16's lead: at one of a pair, `SET x 1; SET y 1; DEL x`. Once both have applied the
/// same ops their digests are equal, and stay equal while each collects x's tomb once it
/// hears that the other has the DEL.
#[test]
fn regions_with_the_same_ops_have_equal_digests_while_they_collect_a_delete() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().expect("dir")).collect();
    let nodes = debug_pair(&dirs);
    let (mut ca, mut cb) = (nodes[0].client(), nodes[1].client());
    for (cmd, key) in [("SET", "x"), ("SET", "y"), ("DEL", "x")] {
        let mut c = redis::cmd(cmd);
        c.arg(key);
        if cmd == "SET" {
            c.arg(1);
        }
        let _: Value = c.query(&mut ca).expect("write");
    }
    wait_for("b to apply what a applied", CONVERGE, || {
        (gdc_field(&mut ca, "applied") == gdc_field(&mut cb, "applied")).then_some(())
    });
    let bucket = gdc_crdt::keyspace::bucket_of(b"x");
    // At every look until both have dropped x's tomb (GDC.DEBUG STATE collects what is
    // stable at that node first, so each drops it as soon as it may).
    wait_for("both regions to collect x's tomb", CONVERGE, || {
        let states: Vec<Option<String>> = [&mut ca, &mut cb]
            .into_iter()
            .map(|c| {
                redis::cmd("GDC.DEBUG")
                    .arg("STATE")
                    .arg("x")
                    .query(c)
                    .expect("GDC.DEBUG STATE")
            })
            .collect();
        let digests = [digest(&mut ca, 0), digest(&mut cb, 0)];
        assert_eq!(digests[0], digests[1], "same ops; x: {states:?}");
        // What `gdcctl verify` compares when digests differ.
        let keys: Vec<Vec<String>> = [&mut ca, &mut cb]
            .into_iter()
            .map(|c| {
                redis::cmd("GDC.DIGEST")
                    .arg(0)
                    .arg("KEYS")
                    .arg(bucket)
                    .query(c)
                    .expect("GDC.DIGEST KEYS")
            })
            .collect();
        assert_eq!(keys[0], keys[1], "x: {states:?}");
        assert!(
            !keys[0].contains(&"x".to_string()),
            "a key with only its tomb is listed as absent: {keys:?}"
        );
        states.iter().all(Option::is_none).then_some(())
    });
}

/// Issue 16: two regions write every type at once, with anti-entropy every second and no
/// fault. Anti-entropy finds nothing to repair, and the regions converge.
#[test]
fn anti_entropy_repairs_nothing_while_two_regions_write_every_type_without_faults() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().expect("dir")).collect();
    let nodes = pair_with_anti_entropy(&dirs, |_| {});
    let (mut ca, mut cb) = (nodes[0].client(), nodes[1].client());
    write_every_type_concurrently(&nodes, Duration::from_secs(6));
    let (from_b, from_a) = (rounds(&mut ca, "b"), rounds(&mut cb, "a"));
    assert!(
        from_b >= 3 && from_a >= 3,
        "rounds while writing: {from_b} at a, {from_a} at b"
    );
    assert_eq!(repaired_keys(&nodes), [0, 0], "while writing");
    wait_converged(&nodes);
    // Rounds that start once the regions are quiet and equal: they compare like with like.
    wait_rounds(&mut ca, "b", 2);
    wait_rounds(&mut cb, "a", 2);
    assert_eq!(repaired_keys(&nodes), [0, 0], "once quiet");
    let seen: Vec<_> = [&mut ca, &mut cb].into_iter().map(visible).collect();
    assert!(seen[0].len() > 5, "the workload left keys: {:?}", seen[0]);
    assert_eq!(seen[0], seen[1]);
}

/// A key damaged behind the binlog's back at one region, after both wrote every type with
/// deletes: anti-entropy at the other region repairs it, and counts exactly that key.
#[test]
fn anti_entropy_counts_exactly_the_key_damaged_amid_concurrent_writes() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().expect("dir")).collect();
    let nodes = pair_with_anti_entropy(&dirs, |c| c.debug_command = true);
    let (mut ca, mut cb) = (nodes[0].client(), nodes[1].client());
    write_every_type_concurrently(&nodes, Duration::from_secs(3));
    wait_converged(&nodes);
    wait_rounds(&mut cb, "a", 1);
    assert_eq!(repaired_keys(&nodes), [0, 0]);

    // A counter the workload incremented and deleted, so it carries removal knowledge.
    let key = "c:1";
    let _: () = redis::cmd("GDC.DEBUG")
        .arg("SET-UNLOGGED")
        .arg(key)
        .arg("damaged")
        .query(&mut ca)
        .expect("GDC.DEBUG");
    wait_for("b to be repaired", CONVERGE, || {
        (get(&mut cb, key).as_deref() == Some("damaged")).then_some(())
    });
    wait_converged(&nodes);
    // Further rounds both ways find nothing more.
    wait_rounds(&mut ca, "b", 2);
    wait_rounds(&mut cb, "a", 2);
    assert_eq!(repaired_keys(&nodes), [0, 1]);
    assert_eq!(get(&mut ca, key).as_deref(), Some("damaged"));
}

#[test]
fn gdc_debug_is_refused_unless_enabled() {
    let dir = tempfile::tempdir().expect("dir");
    let node = TestNode::start(dir.path(), None);
    let mut c = node.client();
    let e = redis::cmd("GDC.DEBUG")
        .arg("SET-UNLOGGED")
        .arg("k")
        .arg("v")
        .query::<()>(&mut c)
        .expect_err("refused");
    assert!(e.to_string().contains("enable-debug-command"), "{e}");
    assert_eq!(get(&mut c, "k"), None);
    // The sync settings are there for CONFIG GET, defaults included.
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("*-interval-ms")
        .query(&mut c)
        .expect("CONFIG GET");
    assert_eq!(got, vec!["anti-entropy-interval-ms", "60000"]);
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("enable-debug-command")
        .query(&mut c)
        .expect("CONFIG GET");
    assert_eq!(got, vec!["enable-debug-command", "no"]);
}

/// A PERSIST made at a while b's link from a is cut, `past_expiry` before the cut heals
/// (b's grace `grace_ms`, the key's TTL `px_ms`): it must win everywhere once healed.
fn a_persist_made_during_a_cut_keeps_the_key(
    px_ms: u64,
    grace_ms: Option<u64>,
    past_expiry: Duration,
) {
    let dirs: Vec<_> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let (la, addr_a) = sync_listener();
    let (lb, addr_b) = sync_listener();
    // b receives from a through a proxy; a from b directly.
    let link = Proxy::start(addr_a).expect("proxy");
    let a = TestNode::start_synced(dirs[0].path(), la, |c| {
        c.region = "a".into();
        c.peers = vec![peer("b", addr_b)];
    });
    let b = TestNode::start_synced(dirs[1].path(), lb, |c| {
        c.region = "b".into();
        c.peers = vec![peer("a", link.addr())];
        if let Some(ms) = grace_ms {
            c.expire_grace_ms = ms;
        }
    });
    let (mut ca, mut cb) = (a.client(), b.client());
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("PX")
        .arg(px_ms)
        .query(&mut ca)
        .expect("SET");
    wait_for("b to have k", CONVERGE, || {
        (get(&mut cb, "k").as_deref() == Some("v")).then_some(())
    });
    link.cut();
    let persisted: i64 = redis::cmd("PERSIST")
        .arg("k")
        .query(&mut ca)
        .expect("PERSIST");
    assert_eq!(persisted, 1);
    wait_for("k to expire at b", CONVERGE, || {
        get(&mut cb, "k").is_none().then_some(())
    });
    // The cut's length past the expiry (not a wait for a condition).
    std::thread::sleep(past_expiry);
    link.heal();
    let nodes = [a, b];
    wait_converged(&nodes);
    for c in [&mut ca, &mut cb] {
        assert_eq!(get(c, "k").as_deref(), Some("v"));
        let ttl: i64 = redis::cmd("PTTL").arg("k").query(c).expect("PTTL");
        assert_eq!(ttl, -1, "persisted everywhere");
    }
}

/// A PERSIST made just before a key's expiry, still on its way to another region when the
/// expiry passes there, must win (SEMANTICS.md: PERSIST wins over the expiry it removed).
/// The other region must not delete the key at its expiry: that delete would reach the
/// origin and remove the key everywhere (found by gdc-jepsen's TTL workload). The cut goes
/// on past the expiry for five of b's expiry cycles (every 100 ms), well within
/// expire-grace-ms (5 s): without the grace, b deletes k then.
#[test]
fn a_persist_on_its_way_when_the_expiry_passes_elsewhere_keeps_the_key() {
    a_persist_made_during_a_cut_keeps_the_key(1500, None, Duration::from_millis(500));
}

/// The same, with the cut lasting well past the expiry *and* the grace (a WAN partition
/// longer than `expire-grace-ms`, 200 ms here; 1.5 s, fifteen expiry cycles): b holds the
/// removal of k back while its channel from a has not caught up since before the expiry,
/// so the PERSIST made at a still wins once the cut heals (found by gdc-jepsen's TTL
/// workload under the wan nemesis).
#[test]
fn a_persist_held_up_by_a_cut_longer_than_the_grace_still_keeps_the_key() {
    a_persist_made_during_a_cut_keeps_the_key(1000, Some(200), Duration::from_millis(1500));
}

#[test]
fn a_stalled_link_shows_as_lag_before_it_is_cut() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().expect("dir")).collect();
    let (la, addr_a) = sync_listener();
    // b receives from a through a proxy.
    let link = Proxy::start(addr_a).expect("proxy");
    let _a = TestNode::start_synced(dirs[0].path(), la, |c| c.region = "a".into());
    let (lb, _) = sync_listener();
    let b = TestNode::start_synced(dirs[1].path(), lb, |c| {
        c.region = "b".into();
        c.peers = vec![peer("a", link.addr())];
    });
    let mut cb = b.client();
    let ms_behind = |cb: &mut redis::Connection| -> u64 {
        replication_field(cb, Some("a"), "ms_behind")
            .parse()
            .expect("a number")
    };
    wait_for("the channel to stream", CONVERGE, || {
        (replication_field(&mut cb, Some("a"), "state") == "streaming").then_some(())
    });
    assert_eq!(
        ms_behind(&mut cb),
        0,
        "caught up and hearing a's heartbeats"
    );
    // Bytes stop flowing, and the connection stays open: nothing tells b, but silence.
    link.cut();
    wait_for("the silence to show as lag", CONVERGE, || {
        (ms_behind(&mut cb) > 2000).then_some(())
    });
    link.heal();
    wait_for(
        "the lag to go once a's heartbeats come again",
        CONVERGE,
        || (ms_behind(&mut cb) == 0).then_some(()),
    );
}

/// A channel a TLS port refuses says what to check in its `last_error` (the sender's CA
/// and this node's certificate, or TLS against plain text), not only "connection closed".
#[test]
fn a_channel_refused_by_tls_says_it_is_tls() {
    let dirs: Vec<_> = (0..3)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    // b reads from a with a certificate a's CA did not sign; c reads from a in plain text.
    let (nodes, _) = start_with(
        &dirs,
        &["a", "b", "c"],
        |i| if i == 0 { vec![] } else { vec![0] },
        |i, c| match i {
            0 => {
                c.tls_cert = Some(cert("node.pem"));
                c.tls_key = Some(cert("node.key"));
                c.tls_ca = Some(cert("ca.pem"));
            }
            1 => {
                c.tls_cert = Some(cert("intruder.pem"));
                c.tls_key = Some(cert("intruder.key"));
                c.tls_ca = Some(cert("ca.pem"));
            }
            _ => {}
        },
    );
    let last_error = |node: &TestNode| -> Option<String> {
        let mut c = node.client();
        let channels: Vec<Vec<String>> = redis::cmd("GDC.CHANNELS").query(&mut c).ok()?;
        let fields = channels
            .into_iter()
            .find(|f| f.contains(&"in".to_string()))?;
        let at = fields.iter().position(|f| f == "last_error")?;
        fields.get(at + 1).filter(|e| !e.is_empty()).cloned()
    };
    let b = wait_for("b's channel to fail", CONVERGE, || last_error(&nodes[1]));
    // rustls's alert when it arrives in time, else the hint.
    assert!(
        b.starts_with("subscribe refused")
            && (b.contains("UnknownCA") || b.contains("does the peer's CA trust")),
        "{b}"
    );
    let c = wait_for("c's channel to fail", CONVERGE, || last_error(&nodes[2]));
    assert!(
        c.starts_with("subscribe refused") && c.contains("is the peer's sync port TLS?"),
        "{c}"
    );
    // a serves on.
    redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query::<()>(&mut nodes[0].client())
        .expect("a takes writes");
}

/// A client blocked in a region is served by a write made in another region (BLPOP,
/// BZPOPMIN), and a MOVE reaches the other region as what it is: the key gone from its
/// database and whole, TTL and all, in the target one.
#[test]
fn blocking_pops_are_served_by_remote_writes_and_move_replicates() {
    let dirs: Vec<_> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let nodes = start(&dirs, &["a", "b"], |i| vec![1 - i]);
    let mut a = nodes[0].client();
    let mut b = nodes[1].client();
    for (pop, push) in [("BLPOP", "RPUSH"), ("BZPOPMIN", "ZADD")] {
        let mut waiter = nodes[1].raw();
        std::io::Write::write_all(&mut waiter, format!("{pop} q{pop} 30\r\n").as_bytes())
            .expect("write");
        wait_for("the pop to block", Duration::from_secs(10), || {
            let info: String = redis::cmd("INFO").arg("clients").query(&mut b).ok()?;
            info.contains("blocked_clients:1").then_some(())
        });
        let mut cmd = redis::cmd(push);
        cmd.arg(format!("q{pop}"));
        if push == "ZADD" {
            cmd.arg(1);
        }
        let _: i64 = cmd.arg("job").query(&mut a).expect("push in region a");
        let key = format!("q{pop}");
        let want = match pop {
            "BLPOP" => format!("*2\r\n${}\r\n{key}\r\n$3\r\njob\r\n", key.len()),
            _ => format!("*3\r\n${}\r\n{key}\r\n$3\r\njob\r\n$1\r\n1\r\n", key.len()),
        };
        assert_eq!(
            common::read_at_least(&mut waiter, want.len()),
            want.as_bytes(),
            "{pop}"
        );
    }
    let _: () = redis::cmd("SET")
        .arg("mv")
        .arg("v")
        .arg("EX")
        .arg(1000)
        .query(&mut a)
        .expect("SET");
    let moved: i64 = redis::cmd("MOVE")
        .arg("mv")
        .arg(3)
        .query(&mut a)
        .expect("MOVE");
    assert_eq!(moved, 1);
    let _: () = redis::cmd("SELECT").arg(3).query(&mut b).expect("SELECT");
    wait_for("the moved key in region b", Duration::from_secs(10), || {
        let v: Option<String> = redis::cmd("GET").arg("mv").query(&mut b).ok()?;
        (v.as_deref() == Some("v")).then_some(())
    });
    let ttl: i64 = redis::cmd("TTL").arg("mv").query(&mut b).expect("TTL");
    assert!(ttl > 900, "the TTL moved too: {ttl}");
    let _: () = redis::cmd("SELECT").arg(0).query(&mut b).expect("SELECT");
    let left: i64 = redis::cmd("EXISTS")
        .arg("mv")
        .query(&mut b)
        .expect("EXISTS");
    assert_eq!(left, 0, "gone from database 0 in region b too");
}

/// A RESTORE reaches the other regions as the whole-value write it is, TTL and all (the
/// payload is decoded where it runs; what replicates is the write); one with REPLACE and a
/// TTL already past reaches them as the key's removal.
#[test]
fn restore_replicates_as_a_whole_value_write() {
    let dirs: Vec<_> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let nodes = start(&dirs, &["a", "b"], |i| vec![1 - i]);
    let mut a = nodes[0].client();
    let mut b = nodes[1].client();
    let _: i64 = redis::cmd("RPUSH")
        .arg(&["src", "x", "y", "z"])
        .query(&mut a)
        .expect("RPUSH");
    let payload: Vec<u8> = redis::cmd("DUMP").arg("src").query(&mut a).expect("DUMP");
    let _: () = redis::cmd("RESTORE")
        .arg("dst")
        .arg(100_000)
        .arg(&payload)
        .query(&mut a)
        .expect("RESTORE");
    wait_for("the restored list in region b", CONVERGE, || {
        let v: Vec<String> = redis::cmd("LRANGE")
            .arg(&["dst", "0", "-1"])
            .query(&mut b)
            .ok()?;
        (v == ["x", "y", "z"]).then_some(())
    });
    let ttl: i64 = redis::cmd("TTL").arg("dst").query(&mut b).expect("TTL");
    assert!((90..=100).contains(&ttl), "the TTL came too: {ttl}");
    let _: () = redis::cmd("RESTORE")
        .arg("dst")
        .arg(1)
        .arg(&payload)
        .arg(&["ABSTTL", "REPLACE"])
        .query(&mut b)
        .expect("RESTORE in the past");
    wait_for("the removal in region a", CONVERGE, || {
        let n: i64 = redis::cmd("EXISTS").arg("dst").query(&mut a).ok()?;
        (n == 0).then_some(())
    });
}

/// Two regions, each receiving from the other through a proxy that can be cut.
fn pair_through_proxies(dirs: &[tempfile::TempDir]) -> (Vec<TestNode>, Vec<Proxy>) {
    let listeners: Vec<_> = (0..2).map(|_| sync_listener()).collect();
    // proxies[i] carries region 1-i's ops to region i.
    let proxies: Vec<Proxy> = (0..2)
        .map(|i| Proxy::start(listeners[1 - i].1).expect("proxy"))
        .collect();
    let regions = ["a", "b"];
    let nodes = listeners
        .into_iter()
        .enumerate()
        .map(|(i, (l, _))| {
            let from = peer(regions[1 - i], proxies[i].addr());
            TestNode::start_synced(dirs[i].path(), l, |c| {
                c.region = regions[i].to_string();
                c.peers = vec![from];
            })
        })
        .collect();
    (nodes, proxies)
}

/// A database's keys and their values, as `(key, value)` with sets' members sorted.
fn db_contents(c: &mut redis::Connection, db: u32) -> Vec<(String, String)> {
    let _: () = redis::cmd("SELECT").arg(db).query(c).expect("SELECT");
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).expect("KEYS");
    keys.sort();
    let out = keys
        .into_iter()
        .map(|k| {
            let kind: String = redis::cmd("TYPE").arg(&k).query(c).expect("TYPE");
            let value = match kind.as_str() {
                "string" => redis::cmd("GET").arg(&k).query(c).expect("GET"),
                _ => {
                    let mut m: Vec<String> =
                        redis::cmd("SMEMBERS").arg(&k).query(c).expect("SMEMBERS");
                    m.sort();
                    m.join(",")
                }
            };
            (k, value)
        })
        .collect();
    let _: () = redis::cmd("SELECT").arg(0).query(c).expect("SELECT");
    out
}

/// SWAPDB replicates as whole-value writes and deletes of every key of both databases:
/// every region ends with the databases swapped, TTLs too, and a write another region made
/// concurrently to a swapped key is kept as it would be against SET, SADD or DEL.
#[test]
fn swapdb_replicates_as_whole_value_writes_of_both_databases() {
    let dirs: Vec<_> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let (nodes, proxies) = pair_through_proxies(&dirs);
    let mut a = nodes[0].client();
    let mut b = nodes[1].client();
    let run = |c: &mut redis::Connection, args: &[&str]| {
        let _: Value = redis::cmd(args[0])
            .arg(&args[1..])
            .query(c)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    };
    for args in [
        &["SET", "x", "zero"][..],
        &["SET", "only0", "v", "EX", "1000"],
        &["SADD", "s", "m0"],
        &["SELECT", "1"],
        &["SET", "x", "one"],
        &["SET", "only1", "w"],
        &["SELECT", "0"],
    ] {
        run(&mut a, args);
    }
    wait_converged(&nodes);
    for p in &proxies {
        p.cut();
        p.sever();
    }
    // While cut off: b adds to the set in database 0 and writes a key a never saw.
    run(&mut b, &["SADD", "s", "from-b"]);
    run(&mut b, &["SET", "b-only", "kept"]);
    run(&mut a, &["SWAPDB", "0", "1"]);
    assert_eq!(
        db_contents(&mut a, 0),
        [("only1".into(), "w".into()), ("x".into(), "one".into())]
    );
    for p in &proxies {
        p.heal();
    }
    wait_converged(&nodes);
    let want0: Vec<(String, String)> = vec![
        ("b-only".into(), "kept".into()),
        ("only1".into(), "w".into()),
        ("s".into(), "from-b".into()),
        ("x".into(), "one".into()),
    ];
    let want1: Vec<(String, String)> = vec![
        ("only0".into(), "v".into()),
        ("s".into(), "m0".into()),
        ("x".into(), "zero".into()),
    ];
    for c in [&mut a, &mut b] {
        assert_eq!(db_contents(c, 0), want0);
        assert_eq!(db_contents(c, 1), want1);
        let _: () = redis::cmd("SELECT").arg(1).query(c).expect("SELECT");
        let ttl: i64 = redis::cmd("TTL").arg("only0").query(c).expect("TTL");
        assert!(
            (990..=1000).contains(&ttl),
            "the TTL moved with the key: {ttl}"
        );
        let _: () = redis::cmd("SELECT").arg(0).query(c).expect("SELECT");
    }
}

/// Every conflict counter of a node, `(type_rule, count)`, as INFO gdc shows it; the same
/// numbers in `/metrics` are checked on the way.
fn conflict_counts(node: &TestNode) -> Vec<(String, u64)> {
    let mut c = node.client();
    let info: String = redis::cmd("INFO").arg("gdc").query(&mut c).expect("INFO");
    let page = metrics(node);
    let counts: Vec<(String, u64)> = info
        .lines()
        .filter_map(|l| l.strip_prefix("conflicts_")?.split_once(':'))
        .map(|(name, n)| (name.to_string(), n.trim().parse().expect("count")))
        .collect();
    assert_eq!(counts.len(), gdc_crdt::Conflict::COUNT, "{info}");
    for rule in gdc_crdt::Conflict::ALL {
        let name = format!("{}_{}", rule.data_type(), rule.rule());
        let shown = counts.iter().find(|(n, _)| *n == name).map(|(_, n)| *n);
        let series = format!(
            "gdc_conflicts_total{{type=\"{}\",rule=\"{}\"}}",
            rule.data_type(),
            rule.rule()
        );
        assert_eq!(shown, Some(sample(&page, &series)), "{series}");
    }
    counts
}

fn run(c: &mut redis::Connection, args: &[&str]) {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    let _: Value = cmd.query(c).expect(args[0]);
}

/// Issue 16's conflict counters: writes that reach the other region before the next one is
/// made count nothing; two regions cut apart that make six pairs of conflicting writes
/// count, once healed, exactly one conflict of each pair's rule in each region, in INFO gdc
/// and `/metrics` alike; CONFIG RESETSTAT clears them.
#[test]
fn conflicts_made_while_cut_apart_are_counted_exactly_in_each_region() {
    let dirs: Vec<_> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let (nodes, proxies) = pair_through_proxies(&dirs);
    let mut conns: Vec<_> = nodes.iter().map(TestNode::client).collect();
    let zero = |node: &TestNode| {
        let counts = conflict_counts(node);
        assert!(counts.iter().all(|(_, n)| *n == 0), "{counts:?}");
    };

    // One region at a time, each write seen by the other before it writes.
    let a_first: &[&[&str]] = &[
        &["SET", "s", "v0"],
        &["SADD", "set", "m"],
        &["HSET", "h", "f", "v0", "g", "v0"],
        &["RPUSH", "l", "x", "y"],
        &["SET", "d", "v0"],
        &["INCR", "n"],
    ];
    for w in a_first {
        run(&mut conns[0], w);
    }
    wait_converged(&nodes);
    let b_then: &[&[&str]] = &[
        &["SET", "s", "v1"],
        &["SREM", "set", "m"],
        &["HDEL", "h", "g"],
        &["LPOP", "l"],
        &["INCR", "n"],
        &["SADD", "set", "m"],
    ];
    for w in b_then {
        run(&mut conns[1], w);
    }
    wait_converged(&nodes);
    run(&mut conns[0], &["HSET", "h", "g", "v1"]);
    run(&mut conns[0], &["RPUSH", "l", "z"]);
    wait_converged(&nodes);
    zero(&nodes[0]);
    zero(&nodes[1]);

    // Cut apart: each pair of writes is concurrent.
    for p in &proxies {
        p.cut();
        p.sever();
    }
    run(&mut conns[0], &["CONFIG", "SET", "gdc-conflict-log", "yes"]);
    let pairs: &[(&[&str], &[&str])] = &[
        (&["SET", "s", "a"], &["SET", "s", "b"]),
        (&["SREM", "set", "m"], &["SADD", "set", "m"]),
        (&["HDEL", "h", "f"], &["HSET", "h", "f", "v2"]),
        (&["DEL", "d"], &["SET", "d", "b"]),
        (&["LPOP", "l"], &["LPOP", "l"]),
        (&["SET", "t", "s"], &["SADD", "t", "m"]),
    ];
    for (at_a, at_b) in pairs {
        run(&mut conns[0], at_a);
        run(&mut conns[1], at_b);
    }
    for p in &proxies {
        p.heal();
    }
    wait_converged(&nodes);
    let expected: Vec<(String, u64)> = gdc_crdt::Conflict::ALL
        .iter()
        .map(|c| {
            let name = format!("{}_{}", c.data_type(), c.rule());
            let once = [
                "string_lww",
                "set_add_wins",
                "hash_add_wins",
                "key_delete_kept_write",
                "list_removed_once",
                "key_type_clash",
            ];
            let n = u64::from(once.contains(&name.as_str()));
            (name, n)
        })
        .collect();
    for (i, node) in nodes.iter().enumerate() {
        // Converged digests mean both have applied every op; the counts are final.
        wait_for(&format!("region {i}'s conflicts"), CONVERGE, || {
            (conflict_counts(node) == expected).then_some(())
        });
    }
    let mut c = nodes[0].client();
    let seen: String = redis::cmd("GET").arg("s").query(&mut c).expect("GET");
    assert!(seen == "a" || seen == "b", "{seen}");

    run(&mut conns[0], &["CONFIG", "RESETSTAT"]);
    zero(&nodes[0]);
    assert_eq!(conflict_counts(&nodes[1]), expected);
}

/// A geospatial index is a sorted set: GEOADDs made in two regions, one of them of the same
/// member at two places, converge; the later place is kept everywhere, and searches,
/// distances and positions read the same in both regions.
#[test]
fn geo_indexes_written_in_two_regions_converge_and_search_alike() {
    let dirs = [
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    ];
    let nodes = start(&dirs, &["a", "b"], |i| vec![1 - i]);
    let (mut a, mut b) = (nodes[0].client(), nodes[1].client());
    let geoadd = |c: &mut redis::Connection, long: &str, lat: &str, m: &str| -> i64 {
        redis::cmd("GEOADD")
            .arg("Sicily")
            .arg(long)
            .arg(lat)
            .arg(m)
            .query(c)
            .expect("GEOADD")
    };
    assert_eq!(geoadd(&mut a, "13.361389", "38.115556", "Palermo"), 1);
    assert_eq!(geoadd(&mut b, "15.087269", "37.502669", "Catania"), 1);
    assert_eq!(geoadd(&mut a, "13.5", "37.9", "ship"), 1);
    // 1, or 0 when a's ship has reached b already: either way b's place is the later.
    let added = geoadd(&mut b, "14.5", "37.6", "ship");
    assert!(added == 0 || added == 1, "GEOADD answered {added}");
    wait_converged(&nodes);
    let mut positions = Vec::new();
    for c in [&mut a, &mut b] {
        let found: Vec<String> = redis::cmd("GEOSEARCH")
            .arg(&[
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "200",
                "km",
                "ASC",
            ])
            .query(c)
            .expect("query");
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0], "Catania");
        assert_eq!(found[2], "Palermo");
        let d: String = redis::cmd("GEODIST")
            .arg(&["Sicily", "Palermo", "Catania", "km"])
            .query(c)
            .expect("query");
        assert_eq!(d, "166.2742");
        let pos: Vec<Vec<String>> = redis::cmd("GEOPOS")
            .arg(&["Sicily", "ship"])
            .query(c)
            .expect("query");
        positions.push(pos);
    }
    assert_eq!(positions[0], positions[1]);
    let long: f64 = positions[0][0][0].parse().expect("a number");
    assert!(
        (long - 13.5).abs() < 1e-5 || (long - 14.5).abs() < 1e-5,
        "one of the two places: {long}"
    );
}

/// Bitmaps: bits set in two regions, in turn or crossing, are all there everywhere (a
/// write replicates the bits it sets, not the string).
#[test]
fn bitmaps_written_in_two_regions_converge() {
    let dirs = [
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    ];
    let nodes = debug_pair(&dirs);
    let (mut a, mut b) = (nodes[0].client(), nodes[1].client());
    let setbit = |c: &mut redis::Connection, key: &str, at: u32| -> i64 {
        redis::cmd("SETBIT")
            .arg(key)
            .arg(at)
            .arg(1)
            .query(c)
            .expect("SETBIT")
    };
    assert_eq!(setbit(&mut a, "turns", 3), 0);
    wait_converged(&nodes);
    assert_eq!(setbit(&mut b, "turns", 20), 0);
    let _: Vec<i64> = redis::cmd("BITFIELD")
        .arg(&["turns", "SET", "u8", "#4", "200"])
        .query(&mut b)
        .expect("BITFIELD");
    assert_eq!(setbit(&mut a, "both", 1), 0);
    assert_eq!(setbit(&mut b, "both", 9), 0);
    wait_converged(&nodes);
    for c in [&mut a, &mut b] {
        let count: i64 = redis::cmd("BITCOUNT")
            .arg("turns")
            .query(c)
            .expect("BITCOUNT");
        assert_eq!(count, 2 + 200u8.count_ones() as i64);
        let field: Vec<i64> = redis::cmd("BITFIELD_RO")
            .arg(&["turns", "GET", "u8", "#4"])
            .query(c)
            .expect("BITFIELD_RO");
        assert_eq!(field, [200]);
    }
    let both: Vec<Vec<u8>> = [&mut a, &mut b]
        .into_iter()
        .map(|c| redis::cmd("GET").arg("both").query(c).expect("GET"))
        .collect();
    assert_eq!(both[0], both[1]);
    assert_eq!(
        both[0], b"\x40\x40",
        "both bits, whether the writes crossed or not"
    );
    // Wrapping increments of one field made at once in both regions all count (a counter),
    // whether they cross or not, while each region bakes those that are stable into the
    // string's register.
    let incrs: Vec<_> = nodes
        .iter()
        .map(|n| {
            let mut c = n.client();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let _: Vec<i64> = redis::cmd("BITFIELD")
                        .arg(&["counters", "INCRBY", "u8", "#0", "50"])
                        .arg(&["INCRBY", "i16", "100", "-3"])
                        .query(&mut c)
                        .expect("BITFIELD");
                }
            })
        })
        .collect();
    for i in incrs {
        i.join().expect("incrementing");
    }
    wait_converged(&nodes);
    for c in [&mut a, &mut b] {
        let fields: Vec<i64> = redis::cmd("BITFIELD_RO")
            .arg(&["counters", "GET", "u8", "#0", "GET", "i16", "100"])
            .query(c)
            .expect("BITFIELD_RO");
        // 400 x 50 = 20000 wraps at 8 bits to 32; 400 x -3 = -1200.
        assert_eq!(fields, [32, -1200]);
    }
    // Once stable, every region bakes them all into the register, and still reads them so.
    for c in [&mut a, &mut b] {
        wait_for("the bit writes baked in", CONVERGE, || {
            let state: String = redis::cmd("GDC.DEBUG")
                .arg(&["STATE", "counters"])
                .query(c)
                .expect("GDC.DEBUG STATE");
            state.contains("pending: [], baked: Some").then_some(())
        });
        let fields: Vec<i64> = redis::cmd("BITFIELD_RO")
            .arg(&["counters", "GET", "u8", "#0", "GET", "i16", "100"])
            .query(c)
            .expect("BITFIELD_RO");
        assert_eq!(fields, [32, -1200]);
    }
}

/// APPEND and SETRANGE replicate their bytes, not the string: pieces appended to one key
/// in two regions at once are all kept, each region's in its own order, and read the same
/// everywhere; SETRANGEs of different bytes made at once both survive; once stable, each
/// region bakes them into the string's register.
#[test]
fn strings_appended_in_two_regions_keep_every_piece() {
    let dirs = [
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    ];
    let nodes = debug_pair(&dirs);
    // Past the length up to which APPEND writes a string whole (as SET, the later kept).
    let head = "-".repeat(gdc_crdt::ops::WRITTEN_WHOLE_MAX);
    let _: () = redis::cmd("SET")
        .arg("log")
        .arg(format!("{head};"))
        .query(&mut nodes[0].client())
        .expect("SET");
    wait_converged(&nodes);
    let writers: Vec<_> = nodes
        .iter()
        .zip(["a", "b"])
        .map(|(n, region)| {
            let mut c = n.client();
            std::thread::spawn(move || {
                for i in 0..300 {
                    let len: i64 = redis::cmd("APPEND")
                        .arg("log")
                        .arg(format!("{region}{i};"))
                        .query(&mut c)
                        .expect("APPEND");
                    assert!(len > 0);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("appending");
    }
    let (mut a, mut b) = (nodes[0].client(), nodes[1].client());
    let _: () = redis::cmd("SET")
        .arg("page")
        .arg(format!("hello world{head}"))
        .query(&mut a)
        .expect("SET");
    wait_converged(&nodes);
    let _: i64 = redis::cmd("SETRANGE")
        .arg(&["page", "0", "J"])
        .query(&mut a)
        .expect("SETRANGE");
    let _: i64 = redis::cmd("SETRANGE")
        .arg(&["page", "6", "W"])
        .query(&mut b)
        .expect("SETRANGE");
    wait_converged(&nodes);
    let logs: Vec<String> = [&mut a, &mut b]
        .into_iter()
        .map(|c| redis::cmd("GET").arg("log").query(c).expect("GET"))
        .collect();
    assert_eq!(logs[0], logs[1]);
    for region in ["a", "b"] {
        let mine: Vec<&str> = logs[0]
            .split(';')
            .filter(|p| p.starts_with(region))
            .collect();
        let want: Vec<String> = (0..300).map(|i| format!("{region}{i}")).collect();
        assert_eq!(mine, want, "every piece of {region}'s, in its order");
    }
    let len: i64 = redis::cmd("STRLEN")
        .arg("log")
        .query(&mut b)
        .expect("STRLEN");
    assert_eq!(len as usize, logs[0].len());
    for c in [&mut a, &mut b] {
        let page: String = redis::cmd("GET").arg("page").query(c).expect("GET");
        assert_eq!(page, format!("Jello World{head}"));
        wait_for("the appends baked in", CONVERGE, || {
            let state: String = redis::cmd("GDC.DEBUG")
                .arg(&["STATE", "log"])
                .query(c)
                .expect("GDC.DEBUG STATE");
            state.contains("pending: [], baked: Some").then_some(())
        });
        let log: String = redis::cmd("GET").arg("log").query(c).expect("GET");
        assert_eq!(log, logs[0]);
    }
}

/// A HyperLogLog is a string: elements added in turn in two regions all count everywhere,
/// and a PFMERGE made in one region reaches the other.
#[test]
fn hyperloglogs_written_in_two_regions_converge() {
    let dirs = [
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    ];
    let nodes = start(&dirs, &["a", "b"], |i| vec![1 - i]);
    let (mut a, mut b) = (nodes[0].client(), nodes[1].client());
    let pfadd = |c: &mut redis::Connection, key: &str, from: u32| -> i64 {
        let mut cmd = redis::cmd("PFADD");
        cmd.arg(key);
        for i in from..from + 500 {
            cmd.arg(format!("e{i}"));
        }
        cmd.query(c).expect("PFADD")
    };
    assert_eq!(pfadd(&mut a, "visits", 0), 1);
    wait_converged(&nodes);
    assert_eq!(pfadd(&mut b, "visits", 500), 1);
    assert_eq!(pfadd(&mut b, "other", 5000), 1);
    let _: String = redis::cmd("PFMERGE")
        .arg(&["all", "visits", "other"])
        .query(&mut b)
        .expect("PFMERGE");
    wait_converged(&nodes);
    let mut counts = Vec::new();
    for c in [&mut a, &mut b] {
        let visits: u64 = redis::cmd("PFCOUNT")
            .arg("visits")
            .query(c)
            .expect("PFCOUNT");
        let all: u64 = redis::cmd("PFCOUNT").arg("all").query(c).expect("PFCOUNT");
        counts.push((visits, all));
    }
    assert_eq!(counts[0], counts[1]);
    let (visits, all) = counts[0];
    // HyperLogLog's standard error is 0.81%: well within 5% here.
    assert!((950..=1050).contains(&visits), "{visits}");
    assert!((1425..=1575).contains(&all), "{all}");
    // A dense HyperLogLog added to in both regions at once: each PFADD replicates the
    // registers it raises, and every element counts everywhere.
    for from in (0..5000).step_by(500) {
        pfadd(&mut a, "dense", 100_000 + from);
    }
    wait_converged(&nodes);
    let adders: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut c = n.client();
            std::thread::spawn(move || {
                for j in 0..200u32 {
                    let mut cmd = redis::cmd("PFADD");
                    cmd.arg("dense");
                    for e in 0..10 {
                        cmd.arg(format!("r{i}-{j}-{e}"));
                    }
                    let _: i64 = cmd.query(&mut c).expect("PFADD");
                }
            })
        })
        .collect();
    for t in adders {
        t.join().expect("adding");
    }
    wait_converged(&nodes);
    let dense: Vec<u64> = [&mut a, &mut b]
        .into_iter()
        .map(|c| {
            redis::cmd("PFCOUNT")
                .arg("dense")
                .query(c)
                .expect("PFCOUNT")
        })
        .collect();
    assert_eq!(dense[0], dense[1]);
    assert!(
        (8730..=9270).contains(&dense[0]),
        "9000 within 3%: {}",
        dense[0]
    );
}

/// A stream entry as a client reads it: its id, and its fields and values.
type Entry = (String, Vec<String>);

/// Streams: entries appended with `*` in two regions at once all arrive, with distinct ids in
/// one order everywhere; a consumer group's deliveries and acknowledgements in one region
/// reach the other, which delivers only what the group has not; a reader blocked in one
/// region is woken by an entry added in the other.
#[test]
fn streams_written_in_two_regions_converge_and_groups_deliver_once_acknowledged() {
    let dirs = [
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    ];
    let nodes = start(&dirs, &["a", "b"], |i| vec![1 - i]);
    let (mut a, mut b) = (nodes[0].client(), nodes[1].client());
    let xadd = |c: &mut redis::Connection, region: &str, i: u32| -> String {
        redis::cmd("XADD")
            .arg(&["jobs", "*", "region", region, "n"])
            .arg(i)
            .query(c)
            .expect("XADD")
    };
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(xadd(&mut a, "a", i));
        ids.push(xadd(&mut b, "b", i));
    }
    wait_converged(&nodes);
    let ranges: Vec<Vec<Entry>> = [&mut a, &mut b]
        .into_iter()
        .map(|c| {
            redis::cmd("XRANGE")
                .arg(&["jobs", "-", "+"])
                .query(c)
                .expect("XRANGE")
        })
        .collect();
    assert_eq!(ranges[0], ranges[1], "one order everywhere");
    assert_eq!(ranges[0].len(), 80, "no entry lost");
    let mut seen: Vec<String> = ranges[0].iter().map(|(id, _)| id.clone()).collect();
    ids.sort();
    seen.sort();
    assert_eq!(seen, ids, "each acknowledged id, once");

    // A group made in region a; region a reads and acknowledges the first 30 entries.
    run(&mut a, &["XGROUP", "CREATE", "jobs", "workers", "0"]);
    let read = |c: &mut redis::Connection, who: &str, n: u32| -> Vec<String> {
        let reply: Vec<(String, Vec<Entry>)> = redis::cmd("XREADGROUP")
            .arg(&["GROUP", "workers", who, "COUNT"])
            .arg(n)
            .arg(&["STREAMS", "jobs", ">"])
            .query(c)
            .expect("XREADGROUP");
        reply
            .into_iter()
            .flat_map(|(_, entries)| entries.into_iter().map(|(id, _)| id))
            .collect()
    };
    let first = read(&mut a, "alice", 30);
    assert_eq!(first.len(), 30);
    let mut ack = redis::cmd("XACK");
    ack.arg(&["jobs", "workers"]).arg(&first);
    let acked: i64 = ack.query(&mut a).expect("XACK");
    assert_eq!(acked, 30);
    wait_converged(&nodes);
    // Region b delivers only the 50 the group has not had, and has nothing pending.
    let rest = read(&mut b, "bob", 100);
    assert_eq!(rest.len(), 50);
    assert!(
        rest.iter().all(|id| !first.contains(id)),
        "nothing redelivered"
    );
    let pending: Value = redis::cmd("XPENDING")
        .arg(&["jobs", "workers"])
        .query(&mut b)
        .expect("XPENDING");
    let Value::Array(summary) = &pending else {
        panic!("{pending:?}")
    };
    assert_eq!(
        summary[0],
        Value::Int(50),
        "bob's 50 only: alice's acknowledgements arrived"
    );
    wait_converged(&nodes);
    assert!(
        read(&mut a, "alice", 100).is_empty(),
        "b's deliveries reached a"
    );

    // A reader blocked in region b is woken by an entry added in region a.
    let mut waiter = nodes[1].raw();
    std::io::Write::write_all(&mut waiter, b"XREAD BLOCK 30000 STREAMS jobs $\r\n").expect("write");
    wait_for("the read to block", Duration::from_secs(10), || {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut b).ok()?;
        info.contains("blocked_clients:1").then_some(())
    });
    let id = xadd(&mut a, "a", 99);
    let want = format!(
        "*1\r\n*2\r\n$4\r\njobs\r\n*1\r\n*2\r\n${}\r\n{id}\r\n*4\r\n$6\r\nregion\r\n$1\r\na\r\n$1\r\nn\r\n$2\r\n99\r\n",
        id.len()
    );
    assert_eq!(
        common::read_at_least(&mut waiter, want.len()),
        want.as_bytes()
    );
    // So is a consumer blocked in region b on the group (the entry above was delivered to
    // nobody: region b's `>` gets it, with the next).
    let mut consumer = nodes[1].raw();
    std::io::Write::write_all(
        &mut consumer,
        b"XREADGROUP GROUP workers carol COUNT 1 BLOCK 30000 STREAMS jobs >\r\n",
    )
    .expect("write");
    let got = read_reply(&mut consumer);
    assert!(
        got.starts_with(b"*1\r\n"),
        "the waiting entry at once: {got:?}"
    );
    std::io::Write::write_all(
        &mut consumer,
        b"XREADGROUP GROUP workers carol COUNT 1 BLOCK 30000 STREAMS jobs >\r\n",
    )
    .expect("write");
    wait_for("the group read to block", Duration::from_secs(10), || {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut b).ok()?;
        info.contains("blocked_clients:1").then_some(())
    });
    let id = xadd(&mut a, "a", 100);
    let got = read_reply(&mut consumer);
    assert!(
        String::from_utf8_lossy(&got).contains(&id),
        "woken with {id}: {got:?}"
    );
}
