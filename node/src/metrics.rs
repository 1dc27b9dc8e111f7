//! Prometheus metrics over plain HTTP (`GET /metrics`, text exposition format 0.0.4), made at
//! scrape time from the counters the node keeps anyway (INFO's), so serving them costs the
//! command path nothing. Hand-written rather than through the `metrics` crates: those would
//! add a registry lookup to every command for figures the node already has.

use crate::server::Node;
use crate::store::{CommandStat, LATENCY_BUCKETS};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tracing::debug;

/// A scrape request larger than this is not a scrape.
const REQUEST_BYTES_MAX: usize = 8 * 1024;

impl Node {
    /// Serve `/metrics` on `listener` until the process ends.
    pub async fn serve_metrics(self: Arc<Self>, listener: TcpListener) {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            let node = Arc::clone(&self);
            tokio::spawn(async move {
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
                    let body = node.render_metrics();
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_string()
                };
                if let Err(e) = socket.write_all(response.as_bytes()).await {
                    debug!(error = %e, "metrics client went away");
                }
            });
        }
    }

    /// The metrics, in Prometheus's text format.
    pub fn render_metrics(&self) -> String {
        let shared = self.shared();
        let store = self.lock_store();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let one = |v: String| vec![(String::new(), v)];
        metric(
            "gdc_connected_clients",
            "gauge",
            "Clients connected.",
            &one(shared.clients.load(Ordering::Relaxed).to_string()),
        );
        metric(
            "gdc_blocked_clients",
            "gauge",
            "Clients waiting in a blocking command.",
            &one(shared.blocked.load(Ordering::Relaxed).to_string()),
        );
        metric(
            "gdc_commands_processed_total",
            "counter",
            "Commands run.",
            &one(shared
                .commands_processed
                .load(Ordering::Relaxed)
                .to_string()),
        );
        metric(
            "gdc_coordinators_out_of_reach_ms",
            "gauge",
            "How long a coordinated node has had no answer from the coordinators (0: in reach). Writes do not wait on them.",
            &one(shared
                .sync
                .out_of_reach_ms(crate::store::now_ms())
                .to_string()),
        );
        let mut stats: Vec<_> = store.command_stats.iter().collect();
        stats.sort_by_key(|(name, _)| **name);
        let per = |f: &dyn Fn(&CommandStat) -> String| -> Vec<(String, String)> {
            stats
                .iter()
                .map(|(name, s)| (format!("{{cmd=\"{name}\"}}"), f(s)))
                .collect()
        };
        metric(
            "gdc_command_calls_total",
            "counter",
            "Calls per command.",
            &per(&|s| s.calls.to_string()),
        );
        metric(
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
        metric(
            "gdc_command_duration_seconds",
            "histogram",
            "Time each command took to run (under the store lock, not counting network I/O).",
            &histogram,
        );
        let now = crate::store::now_ms();
        let keys: Vec<(String, String)> = (0..crate::store::DATABASES)
            .filter_map(|d| {
                let n = store.db(d).live_len(now);
                (n > 0).then(|| (format!("{{db=\"{d}\"}}"), n.to_string()))
            })
            .collect();
        metric(
            "gdc_keys",
            "gauge",
            "Keys a reader sees, per database.",
            &keys,
        );
        metric(
            "gdc_used_memory_bytes",
            "gauge",
            "Heap bytes in use (0 when the counting allocator is not installed).",
            &one(crate::alloc::live_bytes().max(0).to_string()),
        );
        metric(
            "gdc_maxmemory_bytes",
            "gauge",
            "The maxmemory limit (0: none).",
            &one(shared.memory_bytes_max.load(Ordering::Relaxed).to_string()),
        );
        metric(
            "gdc_binlog_segment_bytes",
            "gauge",
            "Bytes in the current binlog segment.",
            &one(store.binlog().segment_bytes().to_string()),
        );
        metric(
            "gdc_hlc_future_rejected_total",
            "counter",
            "Remote timestamps too far ahead to follow.",
            &one(store.clock().future_rejected().to_string()),
        );
        let applied: Vec<(String, String)> = store
            .applied()
            .iter()
            .map(|(s, o)| (format!("{{origin=\"{}\"}}", s.0), o.0.to_string()))
            .collect();
        metric(
            "gdc_applied_op",
            "gauge",
            "Per origin server-id, the last op applied here.",
            &applied,
        );
        let own = store.applied().clone();
        drop(store);
        let now = crate::store::now_ms();
        let inbound: Vec<_> = shared.sync.inbound().values().cloned().collect();
        let per_peer =
            |f: &dyn Fn(&crate::sync::ChannelStatus) -> String| -> Vec<(String, String)> {
                inbound
                    .iter()
                    .map(|c| (format!("{{peer=\"{}\"}}", c.peer), f(c)))
                    .collect()
            };
        type ChannelFigure = fn(&crate::sync::ChannelStatus, u64) -> u64;
        let channel_metrics: [(&str, &str, &str, ChannelFigure); 7] = [
            (
                "gdc_channel_ops_applied_total",
                "counter",
                "Per inbound channel, ops received and applied here.",
                |c, _| c.ops_applied,
            ),
            (
                "gdc_channel_bytes_received_total",
                "counter",
                "Per inbound channel, frame bytes received.",
                |c, _| c.bytes_received,
            ),
            (
                "gdc_channel_ops_behind",
                "gauge",
                "Per inbound channel, ops the peer has that this node has not applied.",
                |c, _| c.ops_behind,
            ),
            (
                "gdc_channel_ms_behind",
                "gauge",
                "Per inbound channel, now minus the HLC time of the last op applied, while behind.",
                |c, now| c.ms_behind(now),
            ),
            (
                "gdc_channel_connects_total",
                "counter",
                "Per inbound channel, times it was (re)established.",
                |c, _| c.connects,
            ),
            (
                "gdc_channel_full_syncs_total",
                "counter",
                "Per inbound channel, full syncs received from the peer.",
                |c, _| c.full_syncs,
            ),
            (
                "gdc_channel_repaired_keys_total",
                "counter",
                "Per inbound channel, keys anti-entropy found different from the peer and repaired.",
                |c, _| c.repaired_keys,
            ),
        ];
        for (name, kind, help, figure) in channel_metrics {
            metric(name, kind, help, &per_peer(&|c| figure(c, now).to_string()));
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
        metric(
            "gdc_channel_state",
            "gauge",
            "Per inbound channel, its state (the sample with value 1).",
            &states,
        );
        let outbound: Vec<_> = shared.sync.outbound().values().cloned().collect();
        let per_reader =
            |f: &dyn Fn(&crate::sync::SubscriberStatus) -> String| -> Vec<(String, String)> {
                outbound
                    .iter()
                    .map(|s| (format!("{{peer=\"{}\"}}", s.region), f(s)))
                    .collect()
            };
        metric(
            "gdc_subscriber_frames_sent_total",
            "counter",
            "Per region reading from this node, binlog frames sent on its current subscription.",
            &per_reader(&|s| s.frames_sent.to_string()),
        );
        metric(
            "gdc_subscriber_ops_unacknowledged",
            "gauge",
            "Per region reading from this node, ops this node has that it has not acknowledged.",
            &per_reader(&|s| shared.sync.unacknowledged(&own, s).to_string()),
        );
        out
    }
}
