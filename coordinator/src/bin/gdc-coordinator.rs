//! `gdc-coordinator`: one member of the coordinator cluster (see the crate's docs).

use clap::Parser;
use gdc_coordinator::server::{self, Options};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "gdc-coordinator",
    version,
    about = "gdc's Raft-replicated channel manager"
)]
struct Flags {
    /// This coordinator's id (1 and up, unique in the cluster).
    #[arg(long)]
    id: u64,
    /// Where to serve Raft and the admin API: HOST:PORT that the other coordinators and
    /// clients can dial.
    #[arg(long)]
    listen: String,
    /// Data directory (the Raft log and state).
    #[arg(long)]
    dir: PathBuf,
    /// The first members when creating the cluster: ID=HOST:PORT,... (the same list on each).
    /// Leave out to start a coordinator that waits to be added with `gdcctl member add`.
    #[arg(long, value_parser = |s: &str| server::parse_cluster(s))]
    initial_cluster: Option<std::collections::BTreeMap<u64, String>>,
    /// RESP port for Sentinel-style discovery.
    #[arg(long)]
    sentinel_port: Option<u16>,
    /// The cluster token every call carries (at least 8 characters).
    #[arg(long, env = "GDC_CLUSTER_TOKEN", hide_env_values = true)]
    token: String,
    /// Leader heartbeat interval in ms.
    #[arg(long, default_value_t = 250)]
    heartbeat_ms: u64,
    /// Election timeout in ms (a follower waits between this and twice this).
    #[arg(long, default_value_t = 1000)]
    election_timeout_ms: u64,
    /// A primary silent this long (ms) is replaced by its most up-to-date live secondary.
    #[arg(long, default_value_t = 1000)]
    failover_timeout_ms: u64,
    /// TLS on the port: this coordinator's certificate (PEM; it serves as a client
    /// certificate too, so it needs both serverAuth and clientAuth usages). With --tls-key
    /// and --tls-ca.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// TLS: its private key (PEM).
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// TLS: the CA (PEM) that signs the certificates of coordinators, nodes and gdcctl;
    /// with it, every caller must present one (mutual TLS), and Raft calls use TLS too.
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// Log format: human or json.
    #[arg(long, default_value = "human")]
    log_format: String,
}

/// What is logged unless RUST_LOG says otherwise: info (openraft's at warn), and the TLS
/// handshakes the port refuses (tonic says why only at debug: an untrusted certificate, or
/// plain text).
const DEFAULT_LOG_FILTER: &str = "info,openraft=warn,tonic::transport::server::io_stream=debug";

fn main() -> ExitCode {
    let flags = Flags::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colours only on a terminal: not as escape codes in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if flags.log_format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }
    let mut o = Options::new(flags.id, flags.listen, flags.dir, flags.token);
    o.initial_cluster = flags.initial_cluster.unwrap_or_default();
    o.sentinel_port = flags.sentinel_port;
    o.heartbeat_ms = flags.heartbeat_ms;
    o.election_timeout_ms = flags.election_timeout_ms;
    o.failover_timeout_ms = flags.failover_timeout_ms;
    o.tls = match gdc_proto::tls::TlsFiles::read(
        flags.tls_cert.as_deref(),
        flags.tls_key.as_deref(),
        flags.tls_ca.as_deref(),
    ) {
        Ok(Some(t)) if t.ca.is_none() => {
            eprintln!(
                "gdc-coordinator: TLS needs --tls-ca too: the members call each other over TLS and check each other's certificates with it"
            );
            return ExitCode::FAILURE;
        }
        Ok(t) => t,
        Err(e) => {
            eprintln!("gdc-coordinator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gdc-coordinator: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(server::run(o, server::shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "coordinator failed");
            ExitCode::FAILURE
        }
    }
}
