//! Test helpers: a node served in-process on a free port, and waiting with deadlines.
#![allow(dead_code)]

pub mod redis_server;

use gdc_node::engine::binlog::Fsync;
use gdc_node::{Config, Listeners, Node};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// The cluster token test nodes share.
pub const TOKEN: &str = "test-cluster-token";

/// A listener on a free loopback port, for a node's sync channels.
pub fn sync_listener() -> (std::net::TcpListener, SocketAddr) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind sync");
    let addr = l.local_addr().expect("sync addr");
    (l, addr)
}

/// A node running on its own thread; stops when dropped.
pub struct TestNode {
    pub addr: SocketAddr,
    /// Where `GET /metrics` is served.
    pub metrics_addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// Ends with the tasks the node left running at its stop ([`Node::run`]).
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl TestNode {
    pub fn start(dir: &Path, requirepass: Option<&str>) -> TestNode {
        TestNode::start_with(dir, |c| c.requirepass = requirepass.map(str::to_string))
    }

    /// A node with settings changed by `change`.
    pub fn start_with(dir: &Path, change: impl FnOnce(&mut Config)) -> TestNode {
        TestNode::start_full(dir, None, change)
    }

    /// A node serving sync channels on `sync` (bound beforehand, so that peers can be told
    /// its address before it starts) and receiving from the peers `change` configures.
    pub fn start_synced(
        dir: &Path,
        sync: std::net::TcpListener,
        change: impl FnOnce(&mut Config),
    ) -> TestNode {
        TestNode::start_full(dir, Some(sync), |c| {
            c.cluster_token = Some(TOKEN.to_string());
            change(c);
        })
    }

    fn start_full(
        dir: &Path,
        sync: Option<std::net::TcpListener>,
        change: impl FnOnce(&mut Config),
    ) -> TestNode {
        let mut config = Config {
            dir: dir.to_path_buf(),
            port: 0,
            appendfsync: Fsync::No,
            ..Config::default()
        };
        if let Some(l) = &sync {
            config.sync_port = Some(l.local_addr().expect("sync addr").port());
        }
        change(&mut config);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut config = config;
            // One worker, as gdc-node runs.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                // A port given in the config (a node restarted where it was), else any.
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
                    .await
                    .expect("bind");
                // The port the node announces (to a coordinator) is the one it serves on.
                config.port = listener.local_addr().expect("addr").port();
                let node = Node::open(config).expect("open node");
                let metrics = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind metrics");
                let addrs = (
                    listener.local_addr().expect("addr"),
                    metrics.local_addr().expect("metrics addr"),
                );
                addr_tx.send(addrs).expect("send addr");
                let sync = sync.map(|l| {
                    l.set_nonblocking(true).expect("nonblocking");
                    tokio::net::TcpListener::from_std(l).expect("sync listener")
                });
                let listeners = Listeners {
                    resp: listener,
                    sync,
                    metrics: Some(metrics),
                };
                node.run(listeners, async {
                    let _ = stop_rx.await;
                })
                .await
            })
        });
        let (addr, metrics_addr) = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("node started");
        TestNode {
            addr,
            metrics_addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://{}/", self.addr))
            .and_then(|c| c.get_connection())
            .expect("connect")
    }

    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s
    }
}

impl TestNode {
    /// Stop the node; the tasks it left running past its drain's deadline.
    pub fn stop(mut self) -> usize {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("node thread")
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Send raw bytes and read until `expected_len` bytes came back or the peer closed.
pub fn exchange(s: &mut TcpStream, req: &[u8], expected_len: usize) -> Vec<u8> {
    s.write_all(req).expect("write");
    read_at_least(s, expected_len)
}

/// Send raw bytes and read until the reply ends with `end`.
pub fn exchange_until(s: &mut TcpStream, req: &[u8], end: &[u8]) -> Vec<u8> {
    s.write_all(req).expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(end) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => out.extend_from_slice(&buf[..k]),
        }
    }
    out
}

pub fn read_at_least(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while out.len() < n {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => out.extend_from_slice(&buf[..k]),
        }
    }
    out
}

pub use gdc_jepsen::process::{free_port, wait_for};
