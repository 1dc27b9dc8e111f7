//! `gdc-node`: parse flags, set up logging, open the data directory, serve.

use clap::Parser;
use gdc_node::alloc::Counting;
use gdc_node::{Config, Listeners, Node};
use std::path::PathBuf;
use std::process::ExitCode;

/// Counts heap bytes for `maxmemory` and INFO.
#[global_allocator]
static ALLOC: Counting = Counting;

/// A gdc region node: a Redis-compatible server. Flags override the config file.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Flags {
    /// TOML config file (redis.conf setting names: port, bind, dir, maxmemory, ...).
    #[arg(long)]
    config: Option<PathBuf>,
    /// TCP port for clients [default: 6379].
    #[arg(long)]
    port: Option<String>,
    /// Address to listen on [default: 127.0.0.1, protected mode].
    #[arg(long)]
    bind: Option<String>,
    /// Data directory [default: gdc-data].
    #[arg(long)]
    dir: Option<String>,
    /// This node's region name [default: local].
    #[arg(long)]
    region: Option<String>,
    /// Clients must AUTH with this password.
    #[arg(long, env = "GDC_REQUIREPASS")]
    requirepass: Option<String>,
    /// When the binlog is forced to disk: always, everysec or no [default: everysec].
    #[arg(long)]
    appendfsync: Option<String>,
    /// Memory limit (bytes, or 100mb, 2gb); over it keys are evicted by the policy, and
    /// when none can go writes get -OOM [default: none].
    #[arg(long)]
    maxmemory: Option<String>,
    /// Which keys go at the limit: noeviction, allkeys-lru, allkeys-lfu, allkeys-random,
    /// allkeys-lrm, volatile-lru, volatile-lfu, volatile-random, volatile-ttl, volatile-lrm
    /// [default: noeviction].
    #[arg(long)]
    maxmemory_policy: Option<String>,
    /// Port for Prometheus metrics (GET /metrics) [default: none].
    #[arg(long)]
    metrics_port: Option<String>,
    /// Port for sync channels (gRPC) [default: none].
    #[arg(long)]
    sync_port: Option<String>,
    /// A region to receive from: REGION=HOST:SYNCPORT (repeat for each peer).
    #[arg(long = "peer")]
    peers: Vec<String>,
    /// Coordinators to register with, HOST:PORT,...: the node's role and channels then come
    /// from the coordinator (no --peer). Not read from GDC_COORDINATOR: that is gdcctl's,
    /// and a node started standalone in a shell that exports it must stay standalone.
    #[arg(long, value_delimiter = ',')]
    coordinator: Vec<String>,
    /// Call the coordinators over TLS with --tls-cert/--tls-key/--tls-ca: yes or no
    /// [default: no].
    #[arg(long)]
    coordinator_tls: Option<String>,
    /// The distributed instance this node serves (with --coordinator).
    #[arg(long)]
    instance: Option<String>,
    /// The host other nodes and clients reach this node at [default: --bind, or 127.0.0.1].
    #[arg(long)]
    announce_ip: Option<String>,
    /// The port other nodes reach this node's sync port at, when it differs (a forwarded
    /// port, a proxy) [default: --sync-port].
    #[arg(long)]
    announce_sync_port: Option<String>,
    /// The secret every sync call carries (at least 8 characters).
    #[arg(long, env = "GDC_CLUSTER_TOKEN", hide_env_values = true)]
    cluster_token: Option<String>,
    /// Whether inbound channels ask peers to compress: deflate or none [default: deflate].
    #[arg(long)]
    sync_compression: Option<String>,
    /// TLS on the sync port: this node's certificate (PEM).
    #[arg(long)]
    tls_cert: Option<String>,
    /// TLS: this node's private key (PEM).
    #[arg(long)]
    tls_key: Option<String>,
    /// TLS: the CA (PEM) that signs node certificates; with it, mutual TLS both ways.
    #[arg(long)]
    tls_ca: Option<String>,
    /// Binlog kept for regions that lack it, in bytes (or 100mb, 8gb) [default: 8gb].
    #[arg(long)]
    binlog_retention_bytes: Option<String>,
    /// Binlog kept for regions that lack it, by age of its last write, in seconds; 0: no
    /// limit [default: 604800, a week].
    #[arg(long)]
    binlog_retention_secs: Option<String>,
    /// How often each inbound channel runs anti-entropy with its peer, in ms; 0: never
    /// [default: 60000].
    #[arg(long)]
    anti_entropy_interval_ms: Option<String>,
    /// With channels: how long after its expiry an expired key is removed from memory, in
    /// ms, so an EXPIRE or PERSIST from another region still on its way wins [default: 5000].
    #[arg(long)]
    expire_grace_ms: Option<String>,
    /// Accept GDC.DEBUG (test hooks): yes or no [default: no].
    #[arg(long)]
    enable_debug_command: Option<String>,
    /// Log a sample of the keys whose conflicts the merge rules resolved (at most one line
    /// per rule per second): yes or no [default: no].
    #[arg(long)]
    gdc_conflict_log: Option<String>,
    /// TEST ONLY (gdc-jepsen): shift this node's wall clock by N ms (negative: behind).
    #[arg(long, allow_negative_numbers = true)]
    test_clock_offset_ms: Option<i64>,
    /// TEST ONLY (gdc-jepsen): where a peer's sync address is FROM, dial TO (FROM=TO).
    #[arg(long, value_parser = |s: &str| gdc_node::testing::parse_dial_via(s))]
    test_dial_via: Vec<(String, String)>,
    /// TEST ONLY (gdc-jepsen): break a promise on purpose, to see the suite catch it.
    #[arg(long, value_enum)]
    test_break: Option<gdc_node::testing::Broken>,
    /// Log format: human or json.
    #[arg(long, default_value = "human")]
    log_format: String,
}

/// Defaults, then the config file, then flags: each flag is the setting of the same name,
/// parsed as the config file's (see gdc_node::config::settings).
fn config(flags: &Flags) -> Result<Config, gdc_node::config::ConfigError> {
    let mut c = Config::default();
    if let Some(path) = &flags.config {
        c.apply_file(path)?;
    }
    let list = |v: &[String]| (!v.is_empty()).then(|| v.join(","));
    let given = [
        ("port", flags.port.clone()),
        ("bind", flags.bind.clone()),
        ("dir", flags.dir.clone()),
        ("region", flags.region.clone()),
        ("requirepass", flags.requirepass.clone()),
        ("appendfsync", flags.appendfsync.clone()),
        ("maxmemory", flags.maxmemory.clone()),
        ("maxmemory-policy", flags.maxmemory_policy.clone()),
        ("metrics-port", flags.metrics_port.clone()),
        ("sync-port", flags.sync_port.clone()),
        ("peers", list(&flags.peers)),
        ("coordinator", list(&flags.coordinator)),
        ("coordinator-tls", flags.coordinator_tls.clone()),
        ("instance", flags.instance.clone()),
        ("announce-ip", flags.announce_ip.clone()),
        ("announce-sync-port", flags.announce_sync_port.clone()),
        ("cluster-token", flags.cluster_token.clone()),
        ("sync-compression", flags.sync_compression.clone()),
        ("tls-cert", flags.tls_cert.clone()),
        ("tls-key", flags.tls_key.clone()),
        ("tls-ca", flags.tls_ca.clone()),
        (
            "binlog-retention-bytes",
            flags.binlog_retention_bytes.clone(),
        ),
        ("binlog-retention-secs", flags.binlog_retention_secs.clone()),
        (
            "anti-entropy-interval-ms",
            flags.anti_entropy_interval_ms.clone(),
        ),
        ("expire-grace-ms", flags.expire_grace_ms.clone()),
        ("enable-debug-command", flags.enable_debug_command.clone()),
        ("gdc-conflict-log", flags.gdc_conflict_log.clone()),
    ];
    for (name, value) in given {
        let Some(value) = value else { continue };
        c.set(name, &value)
            .map_err(|e| gdc_node::config::ConfigError::Flag {
                flag: name.to_string(),
                why: match e {
                    gdc_node::config::settings::SetError::Value(why) => why,
                    other => format!("{other:?}"),
                },
            })?;
    }
    c.testing = gdc_node::testing::Testing {
        clock_offset_ms: flags.test_clock_offset_ms.unwrap_or(0),
        dial_via: flags.test_dial_via.clone(),
        broken: flags.test_break,
    };
    Ok(c)
}

/// What is logged unless RUST_LOG says otherwise: info, and the TLS handshakes the sync
/// port refuses (tonic says why only at debug: an untrusted certificate, or plain text).
const DEFAULT_LOG_FILTER: &str = "info,tonic::transport::server::io_stream=debug";

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
    let config = match config(&flags)
        .map_err(|e| e.to_string())
        .and_then(|c| c.check().map(|()| c))
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "bad configuration");
            eprintln!("gdc-node: {e}");
            return ExitCode::FAILURE;
        }
    };
    gdc_node::testing::install(&config.testing);
    if config.testing != gdc_node::testing::Testing::default() {
        tracing::warn!(hooks = ?config.testing, "TEST-ONLY hooks in force: not for production");
    }
    // One worker thread, as Redis: every command runs under the store's one lock, so a
    // second worker only adds lock handoffs (measured: BENCHMARKS.md); using both cores
    // comes with sharding the keyspace. A multi-thread runtime all the same, for the one
    // thing a current-thread runtime cannot do: move off a thread that a long Lua script
    // holds, so that other clients are answered meanwhile (`script::busy`). The stack is
    // the main thread's, where the node used to run.
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .worker_threads(1)
        .thread_stack_size(8 << 20)
        .enable_all();
    // Tasks run in the order they were woken, as on a current-thread runtime: a task another
    // woke does not jump the queue (the LIFO slot), so the sessions of one scheduler round
    // run their batches before the first of them commits the binlog for all, and their
    // replies leave together (with the slot: twice the binlog writes, and 50% more wakeups
    // of a client like redis-benchmark; BENCHMARKS.md).
    #[cfg(tokio_unstable)]
    builder.disable_lifo_slot();
    let runtime = match builder.build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gdc-node: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listeners = match Listeners::bind(&config).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        let node = match Node::open(config) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "cannot open the data directory");
                return ExitCode::FAILURE;
            }
        };
        let addr = listeners
            .resp
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tracing::info!(%addr, "ready to accept connections");
        // Tasks left running are logged by the node; the data is safe either way.
        let _left = node.run(listeners, shutdown_signal()).await;
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
