//! Prometheus metrics over plain HTTP (`GET /metrics`, text exposition format 0.0.4), made at
//! scrape time from the counters the node keeps anyway (INFO's), so serving them costs the
//! command path nothing. Hand-written rather than through the `metrics` crates: those would
//! add a registry lookup to every command for figures the node already has.

use crate::engine::stats::{CommandStat, LATENCY_BUCKETS};
use crate::engine::store::{DATABASES, Store, now_ms};
use crate::shared::Shared;
use crate::sync::status::{ChannelReport, Direction};
use crate::tasks::Tasks;
use std::fmt::Write as _;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tracing::debug;

/// A scrape request larger than this is not a scrape.
const REQUEST_BYTES_MAX: usize = 8 * 1024;

/// Serve `/metrics` on `listener` until the node stops.
pub async fn serve(shared: Arc<Shared>, listener: TcpListener, tasks: Tasks) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        tasks.spawn(answer(Arc::clone(&shared), socket));
    }
}

/// Answer one scrape.
async fn answer(shared: Arc<Shared>, mut socket: tokio::net::TcpStream) {
    let mut buf = vec![0u8; REQUEST_BYTES_MAX];
    let mut n = 0;
    while n < buf.len() {
        match socket.read(&mut buf[n..]).await {
            Ok(0) | Err(_) => return,
            Ok(k) => n += k,
        }
        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let request = String::from_utf8_lossy(&buf[..n]);
    let response = if request.starts_with("GET /metrics ") {
        // A script may hold the store: waited for without blocking the thread.
        shared.engine().busy().until_free().await;
        let body = render(&shared);
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
    };
    if let Err(e) = socket.write_all(response.as_bytes()).await {
        debug!(error = %e, "metrics client went away");
    }
}

/// A metrics page being written.
#[derive(Default)]
struct Page {
    out: String,
}

impl Page {
    fn metric(&mut self, name: &str, kind: &str, help: &str, samples: &[(String, String)]) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(self.out, "{name}{labels} {value}");
        }
    }

    /// A metric of one unlabelled sample.
    fn one(&mut self, name: &str, kind: &str, help: &str, value: impl ToString) {
        self.metric(name, kind, help, &[(String::new(), value.to_string())]);
    }
}

/// The metrics, in Prometheus's text format.
pub fn render(shared: &Shared) -> String {
    let mut page = Page::default();
    let store = shared.engine().lock_store();
    clients(&mut page, shared);
    commands(&mut page, &store);
    data(&mut page, shared, &store);
    let own = store.applied().clone();
    drop(store);
    channels(&mut page, &shared.replication().reports(&own, now_ms()));
    page.out
}

fn clients(page: &mut Page, shared: &Shared) {
    let clients = shared.clients();
    page.one(
        "gdc_connected_clients",
        "gauge",
        "Clients connected.",
        clients.connected(),
    );
    page.one(
        "gdc_blocked_clients",
        "gauge",
        "Clients waiting in a blocking command.",
        clients.blocked(),
    );
    page.one(
        "gdc_commands_processed_total",
        "counter",
        "Commands run.",
        clients.commands_processed(),
    );
    page.one(
        "gdc_coordinators_out_of_reach_ms",
        "gauge",
        "How long a coordinated node has had no answer from the coordinators (0: in reach). Writes do not wait on them.",
        shared.replication().coordination().out_of_reach_ms(now_ms()),
    );
}

/// Calls, failures and a latency histogram per command.
fn commands(page: &mut Page, store: &Store) {
    let stats = store.stats.commands();
    let per = |f: &dyn Fn(&CommandStat) -> String| -> Vec<(String, String)> {
        stats
            .iter()
            .map(|(name, s)| (format!("{{cmd=\"{name}\"}}"), f(s)))
            .collect()
    };
    page.metric(
        "gdc_command_calls_total",
        "counter",
        "Calls per command.",
        &per(&|s| s.calls.to_string()),
    );
    page.metric(
        "gdc_command_failed_total",
        "counter",
        "Calls per command that answered an error.",
        &per(&|s| s.failed.to_string()),
    );
    // One histogram per command, from the power-of-two buckets the command path fills.
    let mut histogram = Vec::new();
    for (name, s) in &stats {
        let mut cumulative = 0;
        for (b, n) in s.latency.iter().enumerate() {
            cumulative += n;
            let le = if b + 1 == LATENCY_BUCKETS {
                "+Inf".to_string()
            } else {
                format!("{}", CommandStat::bucket_bound_nanos(b) as f64 / 1e9)
            };
            histogram.push((
                format!("_bucket{{cmd=\"{name}\",le=\"{le}\"}}"),
                cumulative.to_string(),
            ));
        }
        histogram.push((
            format!("_sum{{cmd=\"{name}\"}}"),
            format!("{}", s.nanos as f64 / 1e9),
        ));
        histogram.push((format!("_count{{cmd=\"{name}\"}}"), s.calls.to_string()));
    }
    page.metric(
        "gdc_command_duration_seconds",
        "histogram",
        "Time each command took to run (under the store lock, not counting network I/O).",
        &histogram,
    );
}

/// Keys, memory, binlog, clock and applied ops.
fn data(page: &mut Page, shared: &Shared, store: &Store) {
    let now = now_ms();
    let keys: Vec<(String, String)> = (0..DATABASES)
        .filter_map(|d| {
            let n = store.db(d).live_len(now);
            (n > 0).then(|| (format!("{{db=\"{d}\"}}"), n.to_string()))
        })
        .collect();
    page.metric(
        "gdc_keys",
        "gauge",
        "Keys a reader sees, per database.",
        &keys,
    );
    page.one(
        "gdc_used_memory_bytes",
        "gauge",
        "Heap bytes in use (0 when the counting allocator is not installed).",
        crate::alloc::live_bytes().max(0),
    );
    page.one(
        "gdc_maxmemory_bytes",
        "gauge",
        "The maxmemory limit (0: none).",
        shared.config().memory_bytes_max,
    );
    page.one(
        "gdc_evicted_keys_total",
        "counter",
        "Keys this node evicted to stay within maxmemory.",
        store.eviction_stats.evicted_keys,
    );
    let config = shared.config();
    let own = (store.server(), config.region.as_str());
    let evictions: Vec<(String, String)> = shared
        .replication()
        .channels()
        .by_region(&store.eviction_stats.by_origin, own)
        .into_iter()
        .map(|(region, n)| (format!("{{region=\"{region}\"}}"), n.to_string()))
        .collect();
    page.metric(
        "gdc_evictions_applied_total",
        "counter",
        "Evictions applied here, by the region whose memory limit made them.",
        &evictions,
    );
    page.one(
        "gdc_binlog_segment_bytes",
        "gauge",
        "Bytes in the current binlog segment.",
        store.binlog().segment_bytes(),
    );
    page.one(
        "gdc_hlc_future_rejected_total",
        "counter",
        "Remote timestamps too far ahead to follow.",
        store.clock().future_rejected(),
    );
    let applied: Vec<(String, String)> = store
        .applied()
        .iter()
        .map(|(s, o)| (format!("{{origin=\"{}\"}}", s.0), o.0.to_string()))
        .collect();
    page.metric(
        "gdc_applied_op",
        "gauge",
        "Per origin server-id, the last op applied here.",
        &applied,
    );
    let conflicts: Vec<(String, String)> = store
        .stats
        .conflicts
        .iter()
        .map(|(c, n)| {
            let labels = format!("{{type=\"{}\",rule=\"{}\"}}", c.data_type(), c.rule());
            (labels, n.to_string())
        })
        .collect();
    page.metric(
        "gdc_conflicts_total",
        "counter",
        "Ops from other regions whose outcome a conflict rule decided here, by data type and rule.",
        &conflicts,
    );
}

/// Per channel: figures of inbound ones by peer, of outbound ones by reader.
fn channels(page: &mut Page, reports: &[ChannelReport]) {
    let inbound: Vec<&ChannelReport> = reports
        .iter()
        .filter(|r| r.direction == Direction::In)
        .collect();
    type Figure = fn(&ChannelReport) -> u64;
    let per_peer: [(&str, &str, &str, Figure); 7] = [
        (
            "gdc_channel_ops_applied_total",
            "counter",
            "Per inbound channel, ops received and applied here.",
            |c| c.ops_applied,
        ),
        (
            "gdc_channel_bytes_received_total",
            "counter",
            "Per inbound channel, frame bytes received.",
            |c| c.bytes_received,
        ),
        (
            "gdc_channel_ops_behind",
            "gauge",
            "Per inbound channel, ops the peer has that this node has not applied.",
            |c| c.ops_behind,
        ),
        (
            "gdc_channel_ms_behind",
            "gauge",
            "Per inbound channel, now minus the HLC time of the last op applied, while behind.",
            |c| c.ms_behind,
        ),
        (
            "gdc_channel_connects_total",
            "counter",
            "Per inbound channel, times it was (re)established.",
            |c| c.connects,
        ),
        (
            "gdc_channel_full_syncs_total",
            "counter",
            "Per inbound channel, full syncs received from the peer.",
            |c| c.full_syncs,
        ),
        (
            "gdc_channel_repaired_keys_total",
            "counter",
            "Per inbound channel, keys anti-entropy found different from the peer and repaired.",
            |c| c.repaired_keys,
        ),
    ];
    for (name, kind, help, figure) in per_peer {
        let samples: Vec<(String, String)> = inbound
            .iter()
            .map(|c| (format!("{{peer=\"{}\"}}", c.peer), figure(c).to_string()))
            .collect();
        page.metric(name, kind, help, &samples);
    }
    let states: Vec<(String, String)> = inbound
        .iter()
        .map(|c| {
            (
                format!("{{peer=\"{}\",state=\"{}\"}}", c.peer, c.state),
                "1".to_string(),
            )
        })
        .collect();
    page.metric(
        "gdc_channel_state",
        "gauge",
        "Per inbound channel, its state (the sample with value 1).",
        &states,
    );
    let per_reader = |f: Figure| -> Vec<(String, String)> {
        reports
            .iter()
            .filter(|r| r.direction == Direction::Out)
            .map(|s| (format!("{{peer=\"{}\"}}", s.peer), f(s).to_string()))
            .collect()
    };
    page.metric(
        "gdc_subscriber_frames_sent_total",
        "counter",
        "Per region reading from this node, binlog frames sent on its current subscription.",
        &per_reader(|s| s.frames_sent),
    );
    page.metric(
        "gdc_subscriber_ops_unacknowledged",
        "gauge",
        "Per region reading from this node, ops this node has that it has not acknowledged.",
        &per_reader(|s| s.ops_behind),
    );
}
