//! The cluster under test: one coordinator and a primary per region, all real processes on
//! 127.0.0.1. Every node's sync port is reached through a fault-injecting [`Proxy`] (the
//! node announces the proxy's port), so the nemesis can cut what each region sends.

use crate::process::{Server, free_port, try_connect, wait_for};
use crate::proxy::Proxy;
use gdc_proto::coordinator::ChangeRequest;
use gdc_proto::leader::Coordinators;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const TOKEN: &str = "jepsen-cluster-token";
pub const INSTANCE: &str = "jepsen";
const START: Duration = Duration::from_secs(60);

/// Where the binaries are: `gdc-node` and `gdc-coordinator`.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub node: PathBuf,
    pub coordinator: PathBuf,
}

impl Binaries {
    /// Those in `dir`, if both are there.
    pub fn in_dir(dir: &Path) -> Result<Binaries, String> {
        let b = Binaries {
            node: dir.join("gdc-node"),
            coordinator: dir.join("gdc-coordinator"),
        };
        for p in [&b.node, &b.coordinator] {
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

/// One region's primary.
#[derive(Debug)]
pub struct Region {
    pub name: String,
    pub port: u16,
    sync: u16,
    dir: PathBuf,
    /// In front of its sync port: what it sends to the other regions goes through here.
    pub link: Proxy,
    /// The process (`None` while it is down).
    server: std::sync::Mutex<Option<Server>>,
}

/// A running cluster; its processes are killed when it is dropped.
#[derive(Debug)]
pub struct Cluster {
    pub regions: Vec<Region>,
    pub coordinator: Server,
    pub coordinator_addr: String,
    bins: Binaries,
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

impl Cluster {
    /// Start a coordinator and `regions` regions (`r1`, `r2`, ...) with full-mesh channels,
    /// data under `dir`.
    pub fn start(bins: &Binaries, regions: usize, dir: &Path) -> Result<Cluster, String> {
        let (coordinator, listen, _) = start_coordinator(&bins.coordinator, dir, &[])?;
        let names: Vec<String> = (1..=regions).map(|i| format!("r{i}")).collect();
        let mut changes = vec![format!(r#"{{"op":"create-instance","name":"{INSTANCE}"}}"#)];
        changes.extend(
            names
                .iter()
                .map(|r| format!(r#"{{"op":"add-child","instance":"{INSTANCE}","region":"{r}"}}"#)),
        );
        change_all(&listen, &changes)?;
        let mut started = Vec::new();
        for name in names {
            let (port, sync) = (free_port(), free_port());
            let link = Proxy::start(([127, 0, 0, 1], sync).into())
                .map_err(|e| format!("cannot start a proxy: {e}"))?;
            let node = NodeSpec {
                region: &name,
                port,
                sync,
                announced_sync: link.addr().port(),
                dir: &dir.join(&name),
                coordinator: &listen,
            };
            let server = start_node(&bins.node, &node)?;
            wait_for(&format!("{name} to be its region's primary"), START, || {
                (role(port).as_deref() == Some("primary")).then_some(())
            });
            started.push(Region {
                name: name.clone(),
                port,
                sync,
                dir: dir.join(&name),
                link,
                server: std::sync::Mutex::new(Some(server)),
            });
        }
        Ok(Cluster {
            regions: started,
            coordinator,
            coordinator_addr: listen,
            bins: bins.clone(),
        })
    }

    /// SIGKILL region `i`'s node (no shutdown code runs).
    pub fn kill(&self, i: usize) {
        let r = &self.regions[i];
        if let Some(s) = r.server.lock().unwrap_or_else(|p| p.into_inner()).take() {
            s.kill9();
        }
    }

    /// SIGSTOP (`true`) or SIGCONT region `i`'s node: a process that hangs, and resumes.
    pub fn pause(&self, i: usize, stop: bool) {
        let signal = if stop {
            nix::sys::signal::Signal::SIGSTOP
        } else {
            nix::sys::signal::Signal::SIGCONT
        };
        let r = &self.regions[i];
        if let Some(s) = r.server.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(s.pid() as i32), signal);
        }
    }

    /// Start region `i`'s node again, with its data, if it is down; wait until it answers.
    pub fn restart(&self, i: usize) -> Result<(), String> {
        let r = &self.regions[i];
        let mut server = r.server.lock().unwrap_or_else(|p| p.into_inner());
        if server.is_none() {
            let spec = NodeSpec {
                region: &r.name,
                port: r.port,
                sync: r.sync,
                announced_sync: r.link.addr().port(),
                dir: &r.dir,
                coordinator: &self.coordinator_addr,
            };
            *server = Some(start_node(&self.bins.node, &spec)?);
        }
        Ok(())
    }

    /// Resume every node, and restart every node that is down.
    pub fn restart_all(&self) -> Result<(), String> {
        (0..self.regions.len()).try_for_each(|i| {
            self.pause(i, false);
            self.restart(i)
        })
    }

    /// Let every link carry bytes again.
    pub fn heal_all(&self) {
        for r in &self.regions {
            r.link.heal();
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
    let mut flags = args(&[
        "--id",
        "1",
        "--listen",
        &listen,
        "--dir",
        &dir.join("coordinator").display().to_string(),
        "--initial-cluster",
        &format!("1={listen}"),
        "--sentinel-port",
        &sentinel.to_string(),
        "--token",
        TOKEN,
    ]);
    flags.extend(args(extra));
    let server = Server::start(bin, &flags, sentinel)
        .map_err(|e| format!("cannot start the coordinator: {e}"))?;
    Ok((server, listen, sentinel))
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
}

/// Start a node (`appendfsync always`) and wait until it answers PING.
pub fn start_node(bin: &Path, n: &NodeSpec<'_>) -> Result<Server, String> {
    Server::start(
        bin,
        &args(&[
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
        ]),
        n.port,
    )
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

/// Commit topology changes (JSON, as docs/coordinator.md lists them), in order.
pub fn change_all(coordinator: &str, changes: &[String]) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let coordinators = Coordinators::new(vec![coordinator.to_string()], TOKEN)?;
    for json in changes {
        let reply = runtime.block_on(coordinators.at_leader(
            Some(Duration::from_secs(10)),
            |mut c| {
                let json = json.clone();
                async move { c.change(ChangeRequest { json }).await }
            },
        ))?;
        if !reply.refused.is_empty() {
            return Err(format!("{json}: {}", reply.refused));
        }
    }
    Ok(())
}
