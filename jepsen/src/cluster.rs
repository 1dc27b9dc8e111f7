//! The cluster under test: one coordinator, and per region a primary and (for the failover
//! nemesis) secondaries, all real processes on 127.0.0.1. Every link goes through a
//! fault-injecting [`Proxy`]: one per ordered pair of nodes (the receiver dials its sender's
//! sync port through it, by the node's test-only `--test-dial-via`), and one between each
//! node and the coordinator. So the nemesis can cut, stall or slow any link on its own.

use crate::coordinators::{TOKEN, change_all, coordinator_client, topology};
use crate::process::{Server, free_port, try_connect, wait_for};
use crate::proxy::Proxy;
use gdc_proto::coordinator::MembersRequest;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub const INSTANCE: &str = "jepsen";
const START: Duration = Duration::from_secs(60);
/// How long the coordinators let a primary be silent before they fail it over (their
/// `--failover-timeout-ms`, given explicitly: the availability check's bound is built on it).
pub const FAILOVER_TIMEOUT_MS: u64 = 1000;

/// Where the binaries are: `gdc-node`, `gdc-coordinator` and `gdcctl`.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub node: PathBuf,
    pub coordinator: PathBuf,
    pub gdcctl: PathBuf,
}

impl Binaries {
    /// Those in `dir`, if all are there.
    pub fn in_dir(dir: &Path) -> Result<Binaries, String> {
        let b = Binaries {
            node: dir.join("gdc-node"),
            coordinator: dir.join("gdc-coordinator"),
            gdcctl: dir.join("gdcctl"),
        };
        for p in [&b.node, &b.coordinator, &b.gdcctl] {
            if !p.is_file() {
                return Err(format!(
                    "{} is missing: cargo build --release -p gdc-node -p gdc-coordinator",
                    p.display()
                ));
            }
        }
        Ok(b)
    }
}

/// What to start.
#[derive(Clone, Debug, Default)]
pub struct ClusterSpec {
    pub regions: usize,
    /// Secondaries per region (besides its primary).
    pub secondaries: usize,
    /// `--test-break` for every node (a promise broken on purpose).
    pub broken: Option<String>,
    /// Each region's `--test-clock-offset-ms` (missing: 0).
    pub clock_offsets_ms: Vec<i64>,
    /// More flags for every node (the nemesis's and the workload's), also when it restarts.
    pub node_flags: Vec<String>,
    /// Coordinators (members of one Raft cluster): 1 unless more are asked for.
    pub coordinators: usize,
}

/// The region of the node named `node` (`r1` for `r1` and `r1.2`): how a stored run, which
/// has only the nodes' names, tells their regions.
pub fn region_of(node: &str) -> &str {
    node.split_once('.').map_or(node, |(region, _)| region)
}

/// One node process.
#[derive(Debug)]
pub struct Node {
    /// `r1` for a region's first node, `r1.2` for its second, ...
    pub name: String,
    /// Its region's index.
    pub region: usize,
    pub port: u16,
    sync: u16,
    dir: PathBuf,
    /// Between this node and each coordinator (in [`Cluster::coordinators`]' order).
    pub coordinator_links: Vec<Proxy>,
    /// The process (`None` while it is down).
    server: Mutex<Option<Server>>,
}

/// One region: its nodes, the first started as its primary.
#[derive(Debug)]
pub struct Region {
    pub name: String,
    /// Indices into [`Cluster::nodes`].
    pub nodes: Vec<usize>,
    /// Its nodes' wall clocks' shift, in ms (used when one starts).
    clock_offset_ms: AtomicI64,
}

/// One coordinator: a member of the Raft cluster.
#[derive(Debug)]
struct Member {
    id: u64,
    listen: String,
    sentinel: u16,
    server: Mutex<Option<Server>>,
}

/// A running cluster; its processes are killed when it is dropped.
#[derive(Debug)]
pub struct Cluster {
    pub regions: Vec<Region>,
    pub nodes: Vec<Node>,
    /// `links[&(from, to)]` carries what node `from` sends to node `to` (`to` dials `from`
    /// through it).
    pub links: BTreeMap<(usize, usize), Proxy>,
    coordinators: Vec<Member>,
    /// `--initial-cluster` of every member: `1=host:port,2=...`.
    initial_cluster: String,
    bins: Binaries,
    broken: Option<String>,
    node_flags: Vec<String>,
    dir: PathBuf,
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Cluster {
    /// Start the coordinators and the regions (`r1`, `r2`, ...) with full-mesh channels,
    /// each a primary and `spec.secondaries` secondaries, data under `dir`.
    pub fn start(bins: &Binaries, spec: &ClusterSpec, dir: &Path) -> Result<Cluster, String> {
        let coordinators: Vec<Member> = (1..=spec.coordinators.max(1) as u64)
            .map(|id| Member {
                id,
                listen: format!("127.0.0.1:{}", free_port()),
                sentinel: free_port(),
                server: Mutex::new(None),
            })
            .collect();
        let initial_cluster = coordinators
            .iter()
            .map(|m| format!("{}={}", m.id, m.listen))
            .collect::<Vec<_>>()
            .join(",");
        for m in &coordinators {
            let server = start_member(
                &bins.coordinator,
                dir,
                m.id,
                &m.listen,
                m.sentinel,
                &initial_cluster,
                &["--failover-timeout-ms", &FAILOVER_TIMEOUT_MS.to_string()],
            )?;
            *lock(&m.server) = Some(server);
        }
        let listen = coordinators
            .iter()
            .map(|m| m.listen.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let names: Vec<String> = (1..=spec.regions).map(|i| format!("r{i}")).collect();
        let mut changes = vec![format!(r#"{{"op":"create-instance","name":"{INSTANCE}"}}"#)];
        changes.extend(
            names
                .iter()
                .map(|r| format!(r#"{{"op":"add-child","instance":"{INSTANCE}","region":"{r}"}}"#)),
        );
        change_all(&listen, &changes)?;
        let coordinator_addrs: Vec<std::net::SocketAddr> = coordinators
            .iter()
            .map(|m| m.listen.parse().map_err(|e| format!("{}: {e}", m.listen)))
            .collect::<Result<_, String>>()?;
        let proxy = |target: std::net::SocketAddr| {
            Proxy::start(target).map_err(|e| format!("cannot start a proxy: {e}"))
        };
        let (mut regions, mut nodes) = (Vec::new(), Vec::new());
        for (i, name) in names.iter().enumerate() {
            let mut members = Vec::new();
            for k in 0..=spec.secondaries {
                let node = if k == 0 {
                    name.clone()
                } else {
                    format!("{name}.{}", k + 1)
                };
                members.push(nodes.len());
                nodes.push(Node {
                    dir: dir.join(&node),
                    name: node,
                    region: i,
                    port: free_port(),
                    sync: free_port(),
                    coordinator_links: coordinator_addrs
                        .iter()
                        .map(|&a| proxy(a))
                        .collect::<Result<_, _>>()?,
                    server: Mutex::new(None),
                });
            }
            regions.push(Region {
                name: name.clone(),
                nodes: members,
                clock_offset_ms: AtomicI64::new(spec.clock_offsets_ms.get(i).copied().unwrap_or(0)),
            });
        }
        let mut links = BTreeMap::new();
        for (from, f) in nodes.iter().enumerate() {
            for to in (0..nodes.len()).filter(|&t| t != from) {
                links.insert((from, to), proxy(([127, 0, 0, 1], f.sync).into())?);
            }
        }
        let cluster = Cluster {
            regions,
            nodes,
            links,
            coordinators,
            initial_cluster,
            bins: bins.clone(),
            broken: spec.broken.clone(),
            node_flags: spec.node_flags.clone(),
            dir: dir.to_path_buf(),
        };
        // Primaries first: the first node of a region to register is its primary.
        for want in ["primary", "secondary"] {
            for (n, node) in cluster.nodes.iter().enumerate() {
                let first = cluster.regions[node.region].nodes[0] == n;
                if first != (want == "primary") {
                    continue;
                }
                cluster.restart_node(n)?;
                wait_for(&format!("{} to be a {want}", node.name), START, || {
                    (role(node.port).as_deref() == Some(want)).then_some(())
                });
            }
        }
        Ok(cluster)
    }

    /// The flags of node `n`.
    fn flags_of(&self, n: usize) -> Vec<String> {
        let offset = &self.regions[self.nodes[n].region].clock_offset_ms;
        let mut flags = vec![
            "--test-clock-offset-ms".to_string(),
            offset.load(Ordering::SeqCst).to_string(),
        ];
        for ((from, to), link) in &self.links {
            if *to == n {
                flags.push("--test-dial-via".into());
                flags.push(format!(
                    "127.0.0.1:{}={}",
                    self.nodes[*from].sync,
                    link.addr()
                ));
            }
        }
        if let Some(b) = &self.broken {
            flags.extend(["--test-break".to_string(), b.clone()]);
        }
        flags.extend(self.node_flags.iter().cloned());
        flags
    }

    /// The client ports of region `i`'s nodes, its first node's first.
    pub fn ports(&self, i: usize) -> Vec<u16> {
        self.regions[i]
            .nodes
            .iter()
            .map(|&n| self.nodes[n].port)
            .collect()
    }

    /// The node of region `i` that says it is primary, if one does; else its first node.
    pub fn primary(&self, i: usize) -> usize {
        let nodes = &self.regions[i].nodes;
        nodes
            .iter()
            .copied()
            .find(|&n| role(self.nodes[n].port).as_deref() == Some("primary"))
            .unwrap_or(nodes[0])
    }

    /// SIGKILL node `n` (no shutdown code runs).
    pub fn kill_node(&self, n: usize) {
        if let Some(s) = lock(&self.nodes[n].server).take() {
            s.kill9();
        }
    }

    /// SIGTERM node `n` and wait for it to exit (a clean shutdown).
    pub fn stop_node(&self, n: usize) {
        if let Some(s) = lock(&self.nodes[n].server).take() {
            s.terminate();
        }
    }

    /// SIGSTOP (`true`) or SIGCONT every node of region `i`: a region that hangs, and
    /// resumes.
    pub fn pause(&self, i: usize, stop: bool) {
        for &n in &self.regions[i].nodes {
            if let Some(s) = lock(&self.nodes[n].server).as_ref() {
                s.pause(stop);
            }
        }
    }

    /// SAVE at region `i`'s primary (a snapshot); whether it succeeded.
    pub fn save(&self, i: usize) -> bool {
        try_connect(self.nodes[self.primary(i)].port)
            .is_some_and(|mut c| redis::cmd("SAVE").query::<()>(&mut c).is_ok())
    }

    /// Shift region `i`'s clocks (in effect from its nodes' next start).
    pub fn set_clock_offset(&self, i: usize, ms: i64) {
        self.regions[i].clock_offset_ms.store(ms, Ordering::SeqCst);
    }

    /// Region `i`'s clock shift, in ms.
    pub fn clock_offset_ms(&self, i: usize) -> i64 {
        self.regions[i].clock_offset_ms.load(Ordering::SeqCst)
    }

    /// Start every node of region `i` that is down again, with its data.
    pub fn restart(&self, i: usize) -> Result<(), String> {
        self.regions[i]
            .nodes
            .iter()
            .try_for_each(|&n| self.restart_node(n))
    }

    /// Start node `n` again, with its data, if it is down; wait until it answers.
    pub fn restart_node(&self, n: usize) -> Result<(), String> {
        let node = &self.nodes[n];
        let mut server = lock(&node.server);
        if server.is_none() {
            let extra = self.flags_of(n);
            let coordinator = node
                .coordinator_links
                .iter()
                .map(|l| l.addr().to_string())
                .collect::<Vec<_>>()
                .join(",");
            let spec = NodeSpec {
                region: &self.regions[node.region].name,
                port: node.port,
                sync: node.sync,
                announced_sync: node.sync,
                dir: &node.dir,
                coordinator: &coordinator,
                extra: &extra,
            };
            *server = Some(start_node(&self.bins.node, &spec)?);
        }
        Ok(())
    }

    /// How many coordinators there are.
    pub fn coordinator_count(&self) -> usize {
        self.coordinators.len()
    }

    /// Every coordinator's address, comma-separated (as `--coordinator` takes them).
    fn coordinator_addrs(&self) -> String {
        self.coordinators
            .iter()
            .map(|m| m.listen.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The coordinator that leads now (an index into the members), if one is known.
    pub fn leader(&self) -> Option<usize> {
        let (runtime, coordinators) = coordinator_client(&self.coordinator_addrs()).ok()?;
        let reply = runtime
            .block_on(
                coordinators.at_leader(Some(Duration::from_secs(2)), |mut c| async move {
                    c.members(MembersRequest {}).await
                }),
            )
            .ok()?;
        self.coordinators.iter().position(|m| m.id == reply.leader)
    }

    /// Coordinator `m`: SIGKILL it.
    pub fn kill_coordinator(&self, m: usize) {
        if let Some(s) = lock(&self.coordinators[m].server).take() {
            s.kill9();
        }
    }

    /// Coordinator `m`: SIGSTOP or SIGCONT it.
    pub fn pause_coordinator(&self, m: usize, stop: bool) {
        if let Some(s) = lock(&self.coordinators[m].server).as_ref() {
            s.pause(stop);
        }
    }

    /// Start coordinator `m` again with its data, if it is down.
    pub fn restart_coordinator(&self, m: usize) -> Result<(), String> {
        let c = &self.coordinators[m];
        let mut server = lock(&c.server);
        if server.is_none() {
            *server = Some(start_member(
                &self.bins.coordinator,
                &self.dir,
                c.id,
                &c.listen,
                c.sentinel,
                &self.initial_cluster,
                &["--failover-timeout-ms", &FAILOVER_TIMEOUT_MS.to_string()],
            )?);
        }
        Ok(())
    }

    /// A planned switchover of region `i` (`gdcctl failover`): what gdcctl answered
    /// (`--json`), or why it failed.
    pub fn switchover(&self, i: usize) -> Result<serde_json::Value, String> {
        let out = std::process::Command::new(&self.bins.gdcctl)
            .args(["--coordinator", &self.coordinator_addrs(), "--token", TOKEN])
            .args(["--json", "failover", INSTANCE, &self.regions[i].name])
            .args(["--timeout-ms", "10000"])
            .output()
            .map_err(|e| format!("{}: {e}", self.bins.gdcctl.display()))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("gdcctl's answer: {e}"))
    }

    /// The coordinator's topology, as JSON.
    pub fn topology(&self) -> Result<serde_json::Value, String> {
        topology(&self.coordinator_addrs())
    }

    /// Resume every process, and restart every one that is down.
    pub fn restart_all(&self) -> Result<(), String> {
        for m in 0..self.coordinators.len() {
            self.pause_coordinator(m, false);
            self.restart_coordinator(m)?;
        }
        (0..self.regions.len()).try_for_each(|i| {
            self.pause(i, false);
            self.restart(i)
        })
    }

    /// The links from the nodes of one set of regions to those of another (both ways with
    /// `both`).
    pub fn links_between(&self, a: &[usize], b: &[usize], both: bool) -> Vec<&Proxy> {
        let region = |n: &usize| self.nodes[*n].region;
        self.links
            .iter()
            .filter(|((from, to), _)| {
                let (f, t) = (region(from), region(to));
                (a.contains(&f) && b.contains(&t)) || (both && b.contains(&f) && a.contains(&t))
            })
            .map(|(_, p)| p)
            .collect()
    }

    /// The links that cut region `i` off from the coordinators and from the other regions
    /// (every coordinator link of its nodes, and every link between its nodes and theirs,
    /// both ways); the links among its own nodes are not among them.
    pub fn cut_off(&self, i: usize) -> Vec<&Proxy> {
        let others: Vec<usize> = (0..self.regions.len()).filter(|&j| j != i).collect();
        let mut links = self.links_between(&[i], &others, true);
        let own = self.regions[i].nodes.iter().map(|&n| &self.nodes[n]);
        links.extend(own.flat_map(|node| &node.coordinator_links));
        links
    }

    /// Let every link carry bytes again, undelayed.
    pub fn heal_all(&self) {
        for p in self.links.values() {
            p.heal();
            p.delay(Duration::ZERO);
        }
        for l in self.nodes.iter().flat_map(|n| &n.coordinator_links) {
            l.heal();
        }
    }
}

/// Start a one-member coordinator cluster with its data under `dir/coordinator` (and
/// `extra` flags): the process, its address and its Sentinel port.
pub fn start_coordinator(
    bin: &Path,
    dir: &Path,
    extra: &[&str],
) -> Result<(Server, String, u16), String> {
    let listen = format!("127.0.0.1:{}", free_port());
    let sentinel = free_port();
    let initial = format!("1={listen}");
    let server = start_member(bin, dir, 1, &listen, sentinel, &initial, extra)?;
    Ok((server, listen, sentinel))
}

/// Start coordinator `id` of the cluster `initial_cluster` (`1=host:port,...`) on given
/// ports (and `extra` flags), with its data under `dir/coordinator` (`dir/coordinator<id>`
/// past the first) and its log beside it.
fn start_member(
    bin: &Path,
    dir: &Path,
    id: u64,
    listen: &str,
    sentinel: u16,
    initial_cluster: &str,
    extra: &[&str],
) -> Result<Server, String> {
    let name = if id == 1 {
        "coordinator".to_string()
    } else {
        format!("coordinator{id}")
    };
    let mut flags = args(&[
        "--id",
        &id.to_string(),
        "--listen",
        listen,
        "--dir",
        &dir.join(&name).display().to_string(),
        "--initial-cluster",
        initial_cluster,
        "--sentinel-port",
        &sentinel.to_string(),
        "--token",
        TOKEN,
    ]);
    flags.extend(args(extra));
    let _ = std::fs::create_dir_all(dir);
    let log = dir.join(format!("{name}.log"));
    Server::start_logged(bin, &flags, sentinel, Some(&log))
        .map_err(|e| format!("cannot start coordinator {id}: {e}"))
}

/// A node of [`INSTANCE`] run by a coordinator.
#[derive(Clone, Copy, Debug)]
pub struct NodeSpec<'a> {
    pub region: &'a str,
    pub port: u16,
    pub sync: u16,
    /// The sync port others are told to dial (a proxy's, or `sync`).
    pub announced_sync: u16,
    pub dir: &'a Path,
    pub coordinator: &'a str,
    /// More flags.
    pub extra: &'a [String],
}

/// Start a node (`appendfsync always`) and wait until it answers PING.
pub fn start_node(bin: &Path, n: &NodeSpec<'_>) -> Result<Server, String> {
    let mut flags = args(&[
        "--region",
        n.region,
        "--port",
        &n.port.to_string(),
        "--sync-port",
        &n.sync.to_string(),
        "--announce-sync-port",
        &n.announced_sync.to_string(),
        "--dir",
        &n.dir.display().to_string(),
        "--coordinator",
        n.coordinator,
        "--instance",
        INSTANCE,
        "--cluster-token",
        TOKEN,
        "--appendfsync",
        "always",
        // GDC.DEBUG STATE shows what differs when digests do (see run::divergence).
        "--enable-debug-command",
        "yes",
    ]);
    flags.extend(n.extra.iter().cloned());
    // Its log beside its data directory (`r1.log` for `r1/`), kept across restarts.
    let log = PathBuf::from(format!("{}.log", n.dir.display()));
    if let Some(parent) = log.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    Server::start_logged(bin, &flags, n.port, Some(&log))
        .map_err(|e| format!("cannot start a node of {}: {e}", n.region))
}

/// The node's `gdc_role`, if it answers.
pub fn role(port: u16) -> Option<String> {
    let mut c = try_connect(port)?;
    let info: String = redis::cmd("INFO").arg("replication").query(&mut c).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("gdc_role:"))
        .map(|r| r.trim().to_string())
}
