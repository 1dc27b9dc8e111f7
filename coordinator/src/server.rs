//! One coordinator process: its storage, its Raft, and the ports it serves.

use crate::network::{Network, RAFT_MESSAGE_BYTES_MAX};
use crate::service::{AdminService, RaftService};
use crate::{NodeId, Raft, store};
use gdc_proto::auth::{BearerToken, TokenCheck};
use gdc_proto::coordinator::coordinator_server::CoordinatorServer;
use gdc_proto::raft::raft_server::RaftServer;
use openraft::BasicNode;
use openraft::error::{InitializeError, RaftError};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::interceptor::InterceptedService;
use tracing::info;

/// How a coordinator is set up (the flags of `gdc-coordinator`).
#[derive(Clone, Debug)]
pub struct Options {
    /// This coordinator's id (1 and up).
    pub id: NodeId,
    /// Where it serves Raft RPC and the admin API (`host:port`); other coordinators and
    /// clients reach it there, so it must be an address they can dial.
    pub listen: String,
    /// Its data directory (the Raft log and state machine).
    pub dir: PathBuf,
    /// The first members, by id, when the cluster is created. Empty: this coordinator waits
    /// to be added to a running cluster (`gdcctl member add`).
    pub initial_cluster: BTreeMap<NodeId, String>,
    /// The RESP port for Sentinel-style discovery (`None`: not served).
    pub sentinel_port: Option<u16>,
    /// The cluster token every call carries.
    pub token: String,
    /// How often the leader heartbeats its followers (ms).
    pub heartbeat_ms: u64,
    /// How long a follower waits without a heartbeat before it stands for election (ms; a
    /// random value between this and twice this).
    pub election_timeout_ms: u64,
    /// How long a primary may be silent before its most up-to-date secondary replaces it
    /// (ms); also how long a primary takes writes without reaching the leader.
    pub failover_timeout_ms: u64,
    /// TLS on the port (`None`: plain). With a CA, clients (other coordinators, nodes,
    /// gdcctl) must present a certificate it signs, and Raft calls to the other
    /// coordinators go over TLS with this certificate.
    pub tls: Option<gdc_proto::tls::TlsFiles>,
}

impl Options {
    /// Timeouts that suit coordinators in different regions (a heartbeat every 250 ms, an
    /// election after 1 to 2 s of silence). openraft gives a replication call one heartbeat
    /// interval: between members farther apart than that round trip, raise `heartbeat_ms`.
    pub fn new(id: NodeId, listen: String, dir: PathBuf, token: String) -> Options {
        Options {
            id,
            listen,
            dir,
            initial_cluster: BTreeMap::new(),
            sentinel_port: None,
            token,
            heartbeat_ms: 250,
            election_timeout_ms: 1000,
            failover_timeout_ms: 1000,
            tls: None,
        }
    }
}

/// Parse `1=host:port,2=host:port` (`--initial-cluster`).
pub fn parse_cluster(s: &str) -> Result<BTreeMap<NodeId, String>, String> {
    let mut members = BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}' is not ID=HOST:PORT"))?;
        let id: NodeId = id
            .parse()
            .ok()
            .filter(|&id| id > 0)
            .ok_or_else(|| format!("'{id}' is not a coordinator id (1 and up)"))?;
        if addr
            .rsplit_once(':')
            .is_none_or(|(_, p)| p.parse::<u16>().is_err())
        {
            return Err(format!("'{addr}' is not HOST:PORT"));
        }
        if members.insert(id, addr.to_string()).is_some() {
            return Err(format!("coordinator {id} is listed twice"));
        }
    }
    Ok(members)
}

/// Run a coordinator until `shutdown` completes.
pub async fn run(
    o: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    if o.token.len() < 8 {
        return Err("the cluster token must be at least 8 characters".into());
    }
    if let Some(addr) = o.initial_cluster.get(&o.id) {
        if *addr != o.listen {
            return Err(format!(
                "--initial-cluster gives coordinator {} the address {addr}, but it listens on {}",
                o.id, o.listen
            ));
        }
    } else if !o.initial_cluster.is_empty() {
        return Err(format!(
            "--initial-cluster does not list this coordinator ({})",
            o.id
        ));
    }
    let config = openraft::Config {
        cluster_name: "gdc".into(),
        heartbeat_interval: o.heartbeat_ms,
        election_timeout_min: o.election_timeout_ms,
        election_timeout_max: o.election_timeout_ms * 2,
        // Snapshot chunks go as JSON (about 3.5 bytes a byte): small enough for a message,
        // with time to cross regions.
        snapshot_max_chunk_size: 512 * 1024,
        install_snapshot_timeout: o.election_timeout_ms.max(2000),
        ..Default::default()
    }
    .validate()
    .map_err(|e| format!("Raft timing: {e}"))?;
    std::fs::create_dir_all(&o.dir)
        .map_err(|e| format!("cannot create {}: {e}", o.dir.display()))?;
    let (log, state) = store::open(&o.dir.join("raft"))?;
    let token = BearerToken::new(&o.token)?;
    let raft = Raft::new(
        o.id,
        Arc::new(config),
        Network::new(token, o.tls.as_ref().and_then(|t| t.client())),
        log,
        state.clone(),
    )
    .await
    .map_err(|e| format!("cannot start Raft: {e}"))?;

    let listener = tokio::net::TcpListener::bind(&o.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", o.listen))?;
    if let Some(port) = o.sentinel_port {
        let sentinel = crate::sentinel::bind(port).await?;
        tokio::spawn(crate::sentinel::serve(sentinel, state.clone()));
    }
    if !o.initial_cluster.is_empty() {
        initialize(&raft, &o.initial_cluster).await?;
    }
    let health =
        crate::health::Health::new(std::time::Duration::from_millis(o.failover_timeout_ms));
    tokio::spawn(crate::health::monitor(
        raft.clone(),
        state.clone(),
        std::sync::Arc::clone(&health),
    ));
    // Long enough for openraft to publish fresh metrics (at least every 1.5 heartbeats):
    // then the quorum check sees whether the others still follow this leader.
    tokio::spawn(
        std::sync::Arc::clone(&health)
            .watch_for_stalls(std::time::Duration::from_millis(o.heartbeat_ms * 2)),
    );
    info!(id = o.id, listen = %o.listen, "coordinator serving");

    let check = TokenCheck::new(&o.token, "coordinator call");
    let mut server = tonic::transport::Server::builder().tcp_nodelay(true);
    if let Some(tls) = &o.tls {
        server = server
            .tls_config(tls.server_config())
            .map_err(|e| format!("TLS settings: {e}"))?;
    }
    let serving = server
        .add_service(InterceptedService::new(
            RaftServer::new(RaftService { raft: raft.clone() })
                .max_decoding_message_size(RAFT_MESSAGE_BYTES_MAX),
            check.clone(),
        ))
        .add_service(InterceptedService::new(
            CoordinatorServer::new(AdminService {
                raft: raft.clone(),
                state,
                health,
            }),
            check,
        ))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown);
    let result = serving.await.map_err(|e| format!("serving: {e}"));
    let _ = raft.shutdown().await;
    info!(id = o.id, "coordinator stopped");
    result
}

/// Create the cluster from its first members, unless this coordinator's log already has a
/// membership (a restart, or a cluster another member created: every first member tries,
/// with the same list, so whichever starts first is not waited on).
async fn initialize(raft: &Raft, members: &BTreeMap<NodeId, String>) -> Result<(), String> {
    let nodes: BTreeMap<NodeId, BasicNode> = members
        .iter()
        .map(|(id, addr)| (*id, BasicNode::new(addr.clone())))
        .collect();
    match raft.initialize(nodes).await {
        Ok(()) => {
            info!(members = ?members.keys().collect::<Vec<_>>(), "cluster created");
            Ok(())
        }
        Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
        Err(e) => Err(format!("cannot create the cluster: {e}")),
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = interrupt => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = interrupt.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_cluster;

    #[test]
    fn initial_cluster_lists_are_checked() {
        let m = parse_cluster("1=127.0.0.1:7001, 2=h:7002,3=[::1]:7003").expect("parses");
        assert_eq!(m.len(), 3);
        assert_eq!(m[&3], "[::1]:7003");
        for bad in ["1=h", "x=h:1", "0=h:1", "1=h:1,1=h:2", "1:h:1", "1=h:99999"] {
            assert!(parse_cluster(bad).is_err(), "{bad}");
        }
        assert!(parse_cluster("").expect("empty").is_empty());
    }
}
