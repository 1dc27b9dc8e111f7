//! `gdcctl demo`: a whole gdc on this machine for trying it out. One coordinator (or a
//! cluster of 3 or 5) and N regions (a primary and M secondaries each) run as child
//! processes on 127.0.0.1 ([`process`]); the instance and its full-mesh channels are
//! created; every endpoint is printed and written to `DIR/endpoints.json`; Ctrl-C (or
//! SIGTERM) stops everything.
//!
//! The processes are the `gdc-node` and `gdc-coordinator` binaries beside `gdcctl`. Run
//! through `cargo run`, the demo first builds them with the same profile (cargo only builds
//! the binary it is asked to run), so `cargo run --release --bin gdcctl -- demo` is enough
//! on a fresh checkout (`binaries`).

mod binaries;
mod process;

use crate::client::AdminClient;
use crate::topology::{Change, Topology};
use binaries::binaries;
use process::{POLL, Proc, stop_all};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How the demo is laid out (the flags of `gdcctl demo`).
#[derive(Clone, Debug)]
pub struct Options {
    pub regions: usize,
    /// Secondaries per region.
    pub secondaries: usize,
    /// Coordinators: 1, 3 or 5 members of one Raft cluster.
    pub coordinators: usize,
    /// Data and logs; `None`: a temporary directory, removed at the end.
    pub dir: Option<PathBuf>,
    /// The first client port; see [`Ports`].
    pub base_port: u16,
    pub instance: String,
    pub token: String,
    /// Don't run `cargo build` for the node and coordinator binaries first.
    pub no_build: bool,
}

/// Nodes get consecutive client ports from the base port (region 1's primary, its
/// secondaries, then region 2's ...). A node's sync port is its client port + 100 and its
/// metrics port + 200; coordinator `m` (from 0) listens on base + 300 + 2m and answers
/// Sentinel on base + 301 + 2m.
#[derive(Clone, Copy, Debug)]
struct Ports {
    base: u16,
}

/// Nodes the port plan has room for.
const NODES_MAX: usize = 100;

impl Ports {
    fn client(self, node: usize) -> u16 {
        self.base + node as u16
    }
    fn sync(self, node: usize) -> u16 {
        self.client(node) + 100
    }
    fn metrics(self, node: usize) -> u16 {
        self.client(node) + 200
    }
    fn coordinator(self, m: usize) -> u16 {
        self.base + 300 + 2 * m as u16
    }
    fn coordinator_addr(self, m: usize) -> String {
        format!("127.0.0.1:{}", self.coordinator(m))
    }
    fn sentinel(self, m: usize) -> u16 {
        self.coordinator(m) + 1
    }
    fn all(self, nodes: usize, coordinators: usize) -> Vec<u16> {
        let mut ports: Vec<u16> = (0..nodes)
            .flat_map(|n| [self.client(n), self.sync(n), self.metrics(n)])
            .collect();
        ports.extend((0..coordinators).flat_map(|m| [self.coordinator(m), self.sentinel(m)]));
        ports
    }
}

/// How long one process may take to come up (a debug build's first start is slow).
const START_DEADLINE: Duration = Duration::from_secs(60);

/// One node of the demo, as endpoints.json lists it.
#[derive(Clone, Debug, serde::Serialize)]
struct NodeEntry {
    region: String,
    role: &'static str,
    client: String,
    sync: String,
    metrics: String,
    pid: u32,
    log: PathBuf,
}

/// Run the demo until Ctrl-C or SIGTERM.
pub fn run(o: Options) -> Result<(), String> {
    if o.regions == 0 {
        return Err("--regions must be at least 1".into());
    }
    let nodes = o.regions * (1 + o.secondaries);
    if nodes > NODES_MAX {
        return Err(format!(
            "{nodes} nodes is more than the demo's port plan has room for ({NODES_MAX})"
        ));
    }
    if ![1, 3, 5].contains(&o.coordinators) {
        return Err("--coordinators must be 1, 3 or 5".into());
    }
    let ports = Ports { base: o.base_port };
    let last = 301 + 2 * (o.coordinators - 1);
    if usize::from(o.base_port) + last > usize::from(u16::MAX) || o.base_port == 0 {
        return Err(format!(
            "--base-port {} leaves no room for the coordinators' ports (base + {last})",
            o.base_port
        ));
    }
    for port in ports.all(nodes, o.coordinators) {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            return Err(format!(
                "port {port} is in use (another demo?); choose another --base-port"
            ));
        }
    }
    let (node_bin, coordinator_bin) = binaries(o.no_build)?;

    let mut temp = None;
    let dir = match &o.dir {
        Some(d) => d.clone(),
        None => {
            let t = tempfile::Builder::new()
                .prefix("gdc-demo-")
                .tempdir()
                .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
            temp.insert(t).path().to_path_buf()
        }
    };
    std::fs::create_dir_all(dir.join("logs"))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    // From here on Ctrl-C and SIGTERM ask the demo to stop (and clean up) rather than end
    // gdcctl at once.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        runtime.spawn(async move {
            crate::server::shutdown_signal().await;
            stop.store(true, Ordering::SeqCst);
        });
    }

    let mut procs = Vec::new();
    let result = start_and_serve(
        &o,
        ports,
        &dir,
        &node_bin,
        &coordinator_bin,
        &runtime,
        &stop,
        &mut procs,
    );
    if !procs.is_empty() {
        eprintln!("stopping {} processes ...", procs.len());
    }
    // Nodes first (they may be telling the coordinators about themselves), then the
    // coordinators, which were started first.
    let started = o.coordinators.min(procs.len());
    let (coordinators, nodes) = procs.split_at_mut(started);
    stop_all(nodes);
    stop_all(coordinators);
    match (&result, temp) {
        (Ok(()), Some(_)) => println!("stopped; removed {}", dir.display()),
        (Ok(()), None) => println!("stopped; data and logs kept in {}", dir.display()),
        // What went wrong is in the logs: keep them.
        (Err(_), Some(t)) => eprintln!("data and logs kept in {}", t.keep().display()),
        (Err(_), None) => eprintln!("data and logs in {}", dir.display()),
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn start_and_serve(
    o: &Options,
    ports: Ports,
    dir: &Path,
    node_bin: &Path,
    coordinator_bin: &Path,
    runtime: &tokio::runtime::Runtime,
    stop: &AtomicBool,
    procs: &mut Vec<Proc>,
) -> Result<(), String> {
    let stopped = || -> Result<(), String> {
        if stop.load(Ordering::SeqCst) {
            Err("interrupted while starting".into())
        } else {
            Ok(())
        }
    };
    let topology = start_coordinators(o, ports, dir, coordinator_bin, runtime, &stopped, procs)?;
    let coordinator_addrs: Vec<String> = (0..o.coordinators)
        .map(|m| ports.coordinator_addr(m))
        .collect();
    let coordinator_addr = coordinator_addrs.join(",");
    let coordinator_pids: Vec<u32> = procs.iter().map(Proc::pid).collect();
    let admin = AdminClient::new(coordinator_addrs.clone(), &o.token)?;

    let regions: Vec<String> = (1..=o.regions).map(|i| format!("r{i}")).collect();
    let fresh = create_instance(o, &regions, &topology, &admin, runtime)?;
    let launch = NodeLaunch {
        o,
        ports,
        dir,
        node_bin,
        coordinator_addr: &coordinator_addr,
        fresh,
    };
    let mut entries = Vec::new();
    for (r, region) in regions.iter().enumerate() {
        for k in 0..=o.secondaries {
            stopped()?;
            let n = r * (1 + o.secondaries) + k;
            let (p, entry) = launch.start(region, n, k, &stopped)?;
            entries.push(entry);
            procs.push(p);
        }
    }

    let (topology, _) = runtime.block_on(admin.topology())?;
    for e in &mut entries {
        let child = topology
            .instances
            .get(&o.instance)
            .and_then(|i| i.children.get(&e.region));
        if child.is_some_and(|c| c.primary.as_ref() == Some(&e.client)) {
            e.role = "primary";
        }
    }
    let sentinel_addr = format!("127.0.0.1:{}", ports.sentinel(0));
    write_endpoints(
        o,
        dir,
        &regions,
        &entries,
        &sentinel_addr,
        &coordinator_addrs,
        &coordinator_pids,
    )?;
    print!(
        "{}",
        banner(
            o,
            &entries,
            &coordinator_addr,
            coordinator_pids[0],
            &sentinel_addr,
            dir
        )
    );
    serve(stop, procs);
    Ok(())
}

/// Create the instance and its regions, unless a kept `--dir` already holds them from an
/// earlier run. Whether the instance is new: the nodes of a kept one take back the roles
/// the topology has for them.
fn create_instance(
    o: &Options,
    regions: &[String],
    topology: &Topology,
    admin: &AdminClient,
    runtime: &tokio::runtime::Runtime,
) -> Result<bool, String> {
    let existing = topology.instances.get(&o.instance);
    if existing.is_none() {
        runtime.block_on(admin.change(&Change::CreateInstance {
            name: o.instance.clone(),
        }))?;
    }
    for region in regions {
        if existing.is_none_or(|i| !i.children.contains_key(region)) {
            runtime.block_on(admin.change(&Change::AddChild {
                instance: o.instance.clone(),
                region: region.clone(),
                mesh: true,
            }))?;
        }
    }
    Ok(existing.is_none())
}

/// What every node of the demo is started with.
struct NodeLaunch<'a> {
    o: &'a Options,
    ports: Ports,
    dir: &'a Path,
    node_bin: &'a Path,
    /// Every coordinator's address, as `--coordinator` takes them.
    coordinator_addr: &'a str,
    /// A new instance: each region's first node becomes its primary, the others its
    /// secondaries.
    fresh: bool,
}

impl NodeLaunch<'_> {
    /// Start node `n`, number `k` of `region` (0: its primary, if the instance is new), and
    /// wait until it has its role: the first node of a region to register becomes its
    /// primary, so each role is waited for before the next node starts.
    fn start(
        &self,
        region: &str,
        n: usize,
        k: usize,
        stopped: &dyn Fn() -> Result<(), String>,
    ) -> Result<(Proc, NodeEntry), String> {
        let (o, ports, dir) = (self.o, self.ports, self.dir);
        let name = if k == 0 {
            format!("{region}-primary")
        } else {
            format!("{region}-secondary{k}")
        };
        let log = dir.join(format!("logs/{name}.log"));
        let mut p = Proc::spawn(
            format!("node {name}"),
            self.node_bin,
            &[
                "--port".into(),
                ports.client(n).to_string(),
                "--sync-port".into(),
                ports.sync(n).to_string(),
                "--metrics-port".into(),
                ports.metrics(n).to_string(),
                "--dir".into(),
                dir.join(&name).display().to_string(),
                "--region".into(),
                region.to_string(),
                "--coordinator".into(),
                self.coordinator_addr.to_string(),
                "--instance".into(),
                o.instance.clone(),
                "--cluster-token".into(),
                o.token.clone(),
            ],
            log.clone(),
        )?;
        let role = match (self.fresh, k) {
            (false, _) => "any",
            (true, 0) => "primary",
            (true, _) => "secondary",
        };
        let started = Instant::now();
        loop {
            stopped()?;
            p.check_running()?;
            let now = node_role(ports.client(n));
            if now.as_deref() == Some(role) || (role == "any" && now.is_some()) {
                break;
            }
            if started.elapsed() > START_DEADLINE {
                return Err(format!(
                    "{} did not become {role} within {START_DEADLINE:?}; see {}",
                    p.name,
                    log.display()
                ));
            }
            std::thread::sleep(POLL);
        }
        let entry = NodeEntry {
            region: region.to_string(),
            role: "secondary",
            client: format!("127.0.0.1:{}", ports.client(n)),
            sync: format!("127.0.0.1:{}", ports.sync(n)),
            metrics: format!("http://127.0.0.1:{}/metrics", ports.metrics(n)),
            pid: p.pid(),
            log,
        };
        Ok((p, entry))
    }
}

/// Write `DIR/endpoints.json`: every endpoint of the demo, for scripts.
fn write_endpoints(
    o: &Options,
    dir: &Path,
    regions: &[String],
    entries: &[NodeEntry],
    sentinel_addr: &str,
    coordinator_addrs: &[String],
    coordinator_pids: &[u32],
) -> Result<(), String> {
    let endpoints = serde_json::json!({
        "sentinel": sentinel_addr,
        "coordinators": coordinator_addrs,
        "instance": o.instance,
        "token": o.token,
        "regions": regions.iter().map(|region| {
            let of = |role: &str| entries.iter()
                .filter(|e| &e.region == region && e.role == role)
                .map(|e| e.client.clone())
                .collect::<Vec<_>>();
            serde_json::json!({
                "name": region,
                "primary": of("primary").first(),
                "secondaries": of("secondary"),
            })
        }).collect::<Vec<_>>(),
        "coordinator_pid": coordinator_pids[0],
        "coordinator_pids": coordinator_pids,
        "nodes": entries,
    });
    let endpoints_path = dir.join("endpoints.json");
    let text = serde_json::to_string_pretty(&endpoints).map_err(|e| e.to_string())?;
    // Written whole under another name, then renamed: a reader never sees half of it.
    let partial = dir.join("endpoints.json.partial");
    std::fs::write(&partial, text + "\n")
        .and_then(|()| std::fs::rename(&partial, &endpoints_path))
        .map_err(|e| format!("cannot write {}: {e}", endpoints_path.display()))
}

/// Serve until asked to stop; say once when a process ends (kill -9 of a primary is how to
/// watch a failover, so that is not a reason to stop).
fn serve(stop: &AtomicBool, procs: &mut [Proc]) {
    while !stop.load(Ordering::SeqCst) {
        for p in procs.iter_mut() {
            if let Some(status) = p.newly_exited() {
                println!("{} (pid {}) exited: {status}", p.name, p.pid());
            }
        }
        std::thread::sleep(POLL);
    }
}

/// Start the coordinators (one Raft cluster, every member given the same initial
/// membership) and wait until they answer with the topology.
fn start_coordinators(
    o: &Options,
    ports: Ports,
    dir: &Path,
    coordinator_bin: &Path,
    runtime: &tokio::runtime::Runtime,
    stopped: &dyn Fn() -> Result<(), String>,
    procs: &mut Vec<Proc>,
) -> Result<Topology, String> {
    let addr = |m: usize| ports.coordinator_addr(m);
    let initial_cluster = (0..o.coordinators)
        .map(|m| format!("{}={}", m + 1, addr(m)))
        .collect::<Vec<_>>()
        .join(",");
    for m in 0..o.coordinators {
        let name = if m == 0 {
            "coordinator".to_string()
        } else {
            format!("coordinator{}", m + 1)
        };
        procs.push(Proc::spawn(
            format!("the {name}"),
            coordinator_bin,
            &[
                "--id".into(),
                (m + 1).to_string(),
                "--listen".into(),
                addr(m),
                "--dir".into(),
                dir.join(&name).display().to_string(),
                "--initial-cluster".into(),
                initial_cluster.clone(),
                "--sentinel-port".into(),
                ports.sentinel(m).to_string(),
                "--token".into(),
                o.token.clone(),
            ],
            dir.join(format!("logs/{name}.log")),
        )?);
    }
    let admin = AdminClient::new((0..o.coordinators).map(addr).collect(), &o.token)?;
    let started = Instant::now();
    loop {
        stopped()?;
        for p in procs.iter_mut() {
            p.check_running()?;
        }
        match runtime.block_on(admin.topology()) {
            Ok((t, _)) => return Ok(t),
            Err(e) if started.elapsed() > START_DEADLINE => {
                return Err(format!("the coordinators did not come up: {e}"));
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// `gdc_role` from the node's INFO, if it answers.
fn node_role(port: u16) -> Option<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok()?;
    let mut c = client
        .get_connection_with_timeout(Duration::from_secs(1))
        .ok()?;
    let info: String = redis::cmd("INFO").arg("replication").query(&mut c).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("gdc_role:"))
        .map(|r| r.trim().to_string())
}

fn banner(
    o: &Options,
    entries: &[NodeEntry],
    coordinator: &str,
    coordinator_pid: u32,
    sentinel: &str,
    dir: &Path,
) -> String {
    let mut out = format!(
        "\ngdc demo: instance '{}'; regions: {}, secondaries per region: {}, coordinators: {}; full-mesh channels\n\n",
        o.instance, o.regions, o.secondaries, o.coordinators
    );
    let mut widths = [6, 9, 15, 15, 5];
    for e in entries {
        widths[2] = widths[2].max(e.client.len());
        widths[3] = widths[3].max(e.sync.len());
    }
    let [w0, w1, w2, w3, w4] = widths;
    out.push_str(&format!(
        "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  METRICS\n",
        "REGION", "ROLE", "CLIENT", "SYNC", "PID"
    ));
    for e in entries {
        out.push_str(&format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  {}\n",
            e.region, e.role, e.client, e.sync, e.pid, e.metrics
        ));
    }
    let port = |addr: &str| addr.rsplit(':').next().unwrap_or_default().to_string();
    // Examples: r1's primary, and another region's (or r1's again with one region).
    let primaries: Vec<&NodeEntry> = entries.iter().filter(|e| e.role == "primary").collect();
    let (first, other) = match primaries.as_slice() {
        [] => return out,
        [one] => (*one, *one),
        [one, two, ..] => (*one, *two),
    };
    let (primary_pid, first, other) = (first.pid, port(&first.client), port(&other.client));
    // This gdcctl, by its path (`target/release/gdcctl`): another `cargo run` would build
    // again first.
    let gdcctl = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let here = std::env::current_dir().ok()?;
            Some(
                exe.strip_prefix(&here)
                    .map_or(exe.clone(), Path::to_path_buf),
            )
        })
        .map_or_else(
            || "gdcctl".to_string(),
            // Linux's name for an executable replaced while it runs.
            |p| {
                p.display()
                    .to_string()
                    .trim_end_matches(" (deleted)")
                    .to_string()
            },
        );
    out.push_str(&format!(
        "\ncoordinators {coordinator} (first pid {coordinator_pid}), Sentinel {sentinel}, token {}\n\
         data and logs in {}; endpoints in {}\n\n\
         try:\n\
         \x20 redis-cli -p {first} SET greeting hello\n\
         \x20 redis-cli -p {other} GET greeting\n\
         \x20 redis-cli -p {} SENTINEL get-master-addr-by-name r1\n\
         \x20 GDC_COORDINATOR={coordinator} GDC_CLUSTER_TOKEN={} {gdcctl} status\n\
         \x20 kill -9 {primary_pid}    # r1's primary: its secondary takes over within about a second\n\n\
         Ctrl-C stops everything.\n",
        o.token,
        dir.display(),
        dir.join("endpoints.json").display(),
        port(sentinel),
        o.token,
    ));
    out
}
