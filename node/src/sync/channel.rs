//! The receiver side of a channel: one task per peer, subscribing to the peer's sync port
//! with this node's applied vector, applying what arrives, acknowledging, and when cut,
//! subscribing again (bounded exponential backoff with jitter) from where it stopped.

use super::ChannelState;
use super::sender::MESSAGE_BYTES_MAX;
use crate::config::Peer;
use crate::server::Node;
use crate::store::{RemoteApplied, now_ms};
use gdc_crdt::VersionVector;
use gdc_proto::sync::subscribe_request::Msg;
use gdc_proto::sync::sync_client::SyncClient;
use gdc_proto::sync::{Ack, Hello, SubscribeRequest};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};
use tracing::{info, warn};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A subscription that sees nothing, not even the sender's heartbeat (every second), this
/// long is taken for dead: the link is stalled, and a new connection may get through.
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

impl Node {
    /// Start one inbound channel per configured peer.
    pub fn start_channels(self: &Arc<Self>) {
        for peer in self.shared().config.peers.clone() {
            if let Err(e) = self.open_channel(peer) {
                warn!(error = %e, "cannot open a channel");
            }
        }
    }

    /// Start receiving from `peer`.
    pub fn open_channel(self: &Arc<Self>, peer: Peer) -> Result<(), ChannelError> {
        let sync = &self.shared().sync;
        let mut controls = sync.controls();
        if controls.contains_key(&peer.region) {
            return Err(ChannelError::Exists(peer.region));
        }
        let (desired, watch) = tokio::sync::watch::channel(Desired::Running);
        controls.insert(peer.region.clone(), desired);
        drop(controls);
        sync.update(&peer, |_| {});
        tokio::spawn(receive_from(Arc::clone(self), peer, watch));
        Ok(())
    }

    /// Pause, resume or close the channel from `region`.
    pub fn steer_channel(&self, region: &str, want: Desired) -> Result<(), ChannelError> {
        let sync = &self.shared().sync;
        let mut controls = sync.controls();
        let Some(control) = controls.get(region) else {
            return Err(ChannelError::NotFound(region.to_string()));
        };
        control.send_replace(want);
        // Said at once (the channel's task catches up): a reply shows the new state.
        match want {
            Desired::Closed => {
                controls.remove(region);
                sync.inbound().remove(region);
            }
            Desired::Paused => {
                if let Some(c) = sync.inbound().get_mut(region) {
                    c.state = ChannelState::Paused;
                }
            }
            Desired::Running => {
                if let Some(c) = sync.inbound().get_mut(region) {
                    c.state = ChannelState::Connecting;
                }
            }
        }
        Ok(())
    }

    /// Apply frames from a peer, make them durable per `appendfsync`, and wake whoever
    /// waits on new writes (blocked clients, this node's own subscribers).
    pub fn apply_frames<F: AsRef<[u8]>>(
        &self,
        frames: &[F],
    ) -> Result<(RemoteApplied, VersionVector), String> {
        let mut store = self.lock_store();
        let applied = store.apply_remote(frames, now_ms());
        // Frames before a refused one were applied: commit them either way.
        let committed = store.commit();
        let vector = store.applied().clone();
        drop(store);
        let applied = applied.map_err(|e| e.to_string())?;
        committed.map_err(|e| e.to_string())?;
        if applied.ops > 0 {
            self.wrote();
        }
        Ok((applied, vector))
    }
}

/// What an operator wants of an inbound channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Desired {
    Running,
    Paused,
    Closed,
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("a channel from region '{0}' is already open")]
    Exists(String),
    #[error("no channel from region '{0}'")]
    NotFound(String),
}

/// Receive from `peer` until the channel is closed.
async fn receive_from(node: Arc<Node>, peer: Peer, mut desired: watch::Receiver<Desired>) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let want = *desired.borrow_and_update();
        match want {
            Desired::Closed => {
                node.shared().sync.inbound().remove(&peer.region);
                info!(peer = %peer.region, "channel closed");
                return;
            }
            Desired::Paused => {
                node.shared()
                    .sync
                    .update(&peer, |c| c.state = ChannelState::Paused);
                info!(peer = %peer.region, "channel paused");
                if desired.changed().await.is_err() {
                    return;
                }
                backoff = BACKOFF_MIN;
                continue;
            }
            Desired::Running => {}
        }
        node.shared()
            .sync
            .update(&peer, |c| c.state = ChannelState::Connecting);
        let result = tokio::select! {
            r = subscribe(&node, &peer, &mut backoff) => r,
            // Paused or closed: the subscription is dropped.
            _ = desired.changed() => continue,
        };
        let why = match result {
            Ok(()) => "the peer ended the stream".to_string(),
            Err(e) => e,
        };
        warn!(peer = %peer.region, error = %why, "channel cut; will resubscribe");
        node.shared().sync.update(&peer, |c| {
            c.state = ChannelState::Error;
            c.last_error = Some(why);
        });
        tokio::select! {
            _ = tokio::time::sleep(backoff + jitter(backoff / 2)) => {}
            _ = desired.changed() => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// A duration in `[0, max)`, different on every call.
fn jitter(max: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(now_ms());
    let nanos = max.as_nanos().max(1) as u64;
    Duration::from_nanos(h.finish() % nanos)
}

/// One subscription: until the stream ends or fails. `backoff` is reset once it delivers.
async fn subscribe(node: &Arc<Node>, peer: &Peer, backoff: &mut Duration) -> Result<(), String> {
    let token = node
        .shared()
        .config
        .cluster_token
        .clone()
        .unwrap_or_default();
    let auth: MetadataValue<_> = format!("Bearer {token}")
        .parse()
        .map_err(|_| "the cluster token is not valid in a header".to_string())?;
    let tls = node.shared().config.tls()?.filter(|t| t.ca.is_some());
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = tonic::transport::Endpoint::from_shared(format!("{scheme}://{}", peer.addr))
        .map_err(|e| format!("bad peer address {}: {e}", peer.addr))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true);
    if let Some(tls) = tls {
        let host = peer.addr.rsplit_once(':').map_or(&*peer.addr, |(h, _)| h);
        let mut config = ClientTlsConfig::new()
            .domain_name(host.trim_start_matches('[').trim_end_matches(']'))
            .identity(Identity::from_pem(tls.cert, tls.key));
        if let Some(ca) = tls.ca {
            config = config.ca_certificate(Certificate::from_pem(ca));
        }
        endpoint = endpoint
            .tls_config(config)
            .map_err(|e| format!("TLS settings: {}", causes(&e)))?;
    }
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {}: {}", peer.addr, causes(&e)))?;
    let mut client = SyncClient::with_interceptor(channel, move |mut req: tonic::Request<()>| {
        req.metadata_mut()
            .insert(gdc_proto::AUTHORIZATION, auth.clone());
        Ok(req)
    })
    .max_decoding_message_size(MESSAGE_BYTES_MAX)
    .max_encoding_message_size(MESSAGE_BYTES_MAX);
    // The sender compresses its batches only when asked to.
    if node.shared().config.sync_gzip {
        client = client
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip);
    }

    let (server, applied) = {
        let store = node.lock_store();
        (store.server(), store.applied().clone())
    };
    let (requests, rx) = mpsc::channel(8);
    let hello = Hello {
        region: node.shared().config.region.clone(),
        server_id: server.0,
        applied: Some((&applied).into()),
    };
    requests
        .send(SubscribeRequest {
            msg: Some(Msg::Hello(hello)),
        })
        .await
        .map_err(|_| "subscription closed before it began".to_string())?;
    let mut stream = tokio::time::timeout(IDLE_TIMEOUT, client.subscribe(ReceiverStream::new(rx)))
        .await
        .map_err(|_| "no answer to subscribe".to_string())?
        .map_err(|s| format!("subscribe refused: {}", s.message()))?
        .into_inner();
    info!(peer = %peer.region, addr = %peer.addr, "subscribed");
    let mut last_acked = applied.clone();
    node.shared().sync.update(peer, |c| {
        if c.state != ChannelState::Paused {
            c.state = ChannelState::CatchingUp;
        }
        c.connects += 1;
    });
    while let Some(batch) = tokio::time::timeout(IDLE_TIMEOUT, stream.message())
        .await
        .map_err(|_| format!("nothing from the peer for {IDLE_TIMEOUT:?}"))?
        .map_err(|s| format!("stream failed: {}", s.message()))?
    {
        let bytes: usize = batch.frames.iter().map(Vec::len).sum();
        let (done, applied) = node.apply_frames(&batch.frames)?;
        let theirs = batch
            .sender_applied
            .as_ref()
            .map(VersionVector::from)
            .unwrap_or_default();
        let behind = ops_behind(&theirs, &applied);
        node.shared().sync.update(peer, |c| {
            c.received(done.ops, bytes as u64, now_ms());
            c.last_hlc = c.last_hlc.max(done.last_hlc);
            c.peer_applied = theirs;
            c.ops_behind = behind;
            c.last_error = None;
            if c.state != ChannelState::Paused {
                c.state = if behind == 0 {
                    ChannelState::Streaming
                } else {
                    ChannelState::CatchingUp
                };
            }
        });
        *backoff = BACKOFF_MIN;
        // Acknowledge whenever this node has more than it last said (ops may also have come
        // by another channel). Never wait: if the queue is full, a later batch says it.
        if applied != last_acked {
            let ack = SubscribeRequest {
                msg: Some(Msg::Ack(Ack {
                    applied: Some((&applied).into()),
                })),
            };
            if requests.try_send(ack).is_ok() {
                last_acked = applied;
            }
        }
    }
    Ok(())
}

/// An error and its causes, one after another (tonic's own text says only "transport
/// error").
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Ops `theirs` covers that `ours` does not.
fn ops_behind(theirs: &VersionVector, ours: &VersionVector) -> u64 {
    theirs
        .iter()
        .map(|(s, op)| op.0.saturating_sub(ours.get(s).0))
        .sum()
}
