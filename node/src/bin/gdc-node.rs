//! `gdc-node`: parse flags, set up logging, open the data directory, serve.

use clap::Parser;
use gdc_node::binlog::Fsync;
use gdc_node::{Config, Node};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio::net::TcpListener;

/// A gdc region node: a Redis-compatible server.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Flags {
    /// TCP port for clients.
    #[arg(long, default_value_t = 6379)]
    port: u16,
    /// Address to listen on (127.0.0.1 unless given: protected mode).
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Data directory.
    #[arg(long, default_value = "gdc-data")]
    dir: PathBuf,
    /// This node's region name.
    #[arg(long, default_value = "local")]
    region: String,
    /// Clients must AUTH with this password.
    #[arg(long, env = "GDC_REQUIREPASS")]
    requirepass: Option<String>,
    /// When the binlog is forced to disk: always, everysec or no.
    #[arg(long, default_value = "everysec")]
    appendfsync: Fsync,
    /// Log format: human or json.
    #[arg(long, default_value = "human")]
    log_format: String,
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if flags.log_format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }
    let config = Config {
        bind: flags.bind,
        port: flags.port,
        dir: flags.dir,
        region: flags.region,
        requirepass: flags.requirepass,
        appendfsync: flags.appendfsync,
        ..Config::default()
    };
    // One thread, as Redis: every command runs under the store's one lock, so a second
    // worker thread only adds lock handoffs (measured: BENCHMARKS.md). Using both cores
    // comes with sharding the keyspace.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gdc-node: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let addr = format!("{}:{}", config.bind, config.port);
        let node = match Node::open(config) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "cannot open the data directory");
                return ExitCode::FAILURE;
            }
        };
        let listener = match TcpListener::bind(&addr).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, %addr, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(%addr, "ready to accept connections");
        node.serve(listener, shutdown_signal()).await;
        ExitCode::SUCCESS
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
