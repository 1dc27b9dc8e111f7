//! The receiver side of a channel: one task per peer, subscribing to the peer's sync port
//! with this node's applied vector, applying what arrives, acknowledging, and when cut,
//! subscribing again (bounded exponential backoff with jitter) from where it stopped.

use super::Replication;
use super::backoff::jitter;
use super::control::Desired;
use super::pack;
use super::status::ChannelState;
use super::{MESSAGE_BYTES_MAX, STATE_CHUNK_BYTES};
use crate::config::Peer;
use crate::engine::snapshot::Snapshot;
use crate::engine::store::{Room, now_ms};
use gdc_crdt::VersionVector;
use gdc_proto::auth::BearerToken;
use gdc_proto::sync::subscribe_request::Msg;
use gdc_proto::sync::sync_client::SyncClient;
use gdc_proto::sync::{Ack, FullSyncRequest, Hello, OpBatch, StateChunk, SubscribeRequest};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tracing::{info, warn};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A subscription that sees nothing, not even the sender's heartbeat (every second), this
/// long is taken for dead: the link is stalled, and a new connection may get through.
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Receive from `peer` until the channel is closed.
pub(super) async fn receive_from(
    node: Arc<Replication>,
    peer: Peer,
    mut desired: watch::Receiver<Desired>,
) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let want = *desired.borrow_and_update();
        match want {
            Desired::Closed => {
                // Only this channel's entry: the region may have been re-pointed to a new
                // address (a failover) whose channel is already running.
                let mut inbound = node.channels().inbound();
                if inbound
                    .get(&peer.region)
                    .is_some_and(|c| c.addr == peer.addr)
                {
                    inbound.remove(&peer.region);
                }
                drop(inbound);
                info!(peer = %peer.region, "channel closed");
                return;
            }
            Desired::Paused => {
                node.channels()
                    .update(&peer, |c| c.state = ChannelState::Paused);
                info!(peer = %peer.region, "channel paused");
                if desired.changed().await.is_err() {
                    return;
                }
                // Resumed (or closed): silence counts from now, not from before the pause.
                node.channels()
                    .update(&peer, |c| c.last_heard_ms = now_ms());
                backoff = BACKOFF_MIN;
                continue;
            }
            Desired::Running => {}
        }
        node.channels()
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
        node.channels().update(&peer, |c| {
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

/// One subscription: until the stream ends or fails. `backoff` is reset once it delivers.
async fn subscribe(
    node: &Arc<Replication>,
    peer: &Peer,
    backoff: &mut Duration,
) -> Result<(), String> {
    let (mut client, tls) = connect(node, peer).await?;
    // Anti-entropy runs beside the subscription, on the same connection, while it lives.
    let interval = node.config().anti_entropy_interval_ms;
    let _anti_entropy = (interval > 0).then(|| {
        AbortOnDrop(node.tasks().spawn(super::repair::anti_entropy(
            Arc::clone(node),
            peer.clone(),
            client.clone(),
            Duration::from_millis(interval),
        )))
    });
    let (requests, stream, applied) = open_stream(node, peer, &mut client, tls).await?;
    info!(peer = %peer.region, addr = %peer.addr, "subscribed");
    node.channels().update(peer, |c| {
        if c.state != ChannelState::Paused {
            c.state = ChannelState::CatchingUp;
        }
        c.connects += 1;
    });
    receive(node, peer, requests, stream, applied, backoff).await
}

/// Connect to `peer`'s sync port (over TLS when configured: the flag says so).
async fn connect(node: &Replication, peer: &Peer) -> Result<(PeerClient, bool), String> {
    let token = node.config().cluster_token.clone().unwrap_or_default();
    let auth = BearerToken::new(&token)?;
    let tls = node.config().tls()?.and_then(|t| t.client());
    let dial = node.config().testing.dial(&peer.addr);
    let endpoint = gdc_proto::tls::endpoint(dial, tls.as_ref())?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true);
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {}: {}", peer.addr, causes(&e)))?;
    let client = SyncClient::with_interceptor(channel, auth)
        .max_decoding_message_size(MESSAGE_BYTES_MAX)
        .max_encoding_message_size(MESSAGE_BYTES_MAX);
    Ok((client, tls.is_some()))
}

/// Say Hello with this node's applied vector, and get the stream of what the peer has;
/// a peer whose binlog no longer holds what this node lacks gets a full sync first (once).
/// Returns the request queue (for acknowledgements), the stream, and the vector said.
async fn open_stream(
    node: &Arc<Replication>,
    peer: &Peer,
    client: &mut PeerClient,
    tls: bool,
) -> Result<
    (
        mpsc::Sender<SubscribeRequest>,
        Streaming<OpBatch>,
        VersionVector,
    ),
    String,
> {
    let mut full_synced = false;
    loop {
        let (server, applied) = {
            let store = node.engine().lock_store_when_free().await;
            (store.server(), store.applied().clone())
        };
        let (requests, rx) = mpsc::channel(8);
        let hello = Hello {
            region: node.config().region.clone(),
            server_id: server.0,
            applied: Some((&applied).into()),
            deflate: node.config().sync_compression,
        };
        requests
            .send(SubscribeRequest {
                msg: Some(Msg::Hello(hello)),
            })
            .await
            .map_err(|_| "subscription closed before it began".to_string())?;
        let answer = tokio::time::timeout(IDLE_TIMEOUT, client.subscribe(ReceiverStream::new(rx)))
            .await
            .map_err(|_| "no answer to subscribe".to_string())?;
        match answer {
            Ok(stream) => return Ok((requests, stream.into_inner(), applied)),
            // Once: a peer that still cannot serve after one is not looped on.
            Err(s) if s.code() == tonic::Code::FailedPrecondition && !full_synced => {
                full_synced = true;
                info!(peer = %peer.region, why = %s.message(), "full sync from the peer");
                full_sync(node, peer, client).await?;
            }
            Err(s) => return Err(subscribe_refused(&s, tls)),
        }
    }
}

/// Apply what the stream brings, keep the channel's status, and acknowledge.
async fn receive(
    node: &Replication,
    peer: &Peer,
    requests: mpsc::Sender<SubscribeRequest>,
    mut stream: Streaming<OpBatch>,
    mut last_acked: VersionVector,
    backoff: &mut Duration,
) -> Result<(), String> {
    while let Some(batch) = tokio::time::timeout(IDLE_TIMEOUT, stream.message())
        .await
        .map_err(|_| format!("nothing from the peer for {IDLE_TIMEOUT:?}"))?
        .map_err(|s| format!("stream failed: {}", status_causes(&s)))?
    {
        // What the batch holds while it is applied: its frames as received and as split
        // (a packed batch's claimed size is the peer's word: bounded as inflating bounds it).
        let frame_bytes: usize = batch.frames.iter().map(Vec::len).sum();
        let unpacked = usize::try_from(batch.packed_len)
            .unwrap_or(usize::MAX)
            .min(MESSAGE_BYTES_MAX);
        let _held = crate::alloc::SYNC_RECEIVE_BUFFERS.hold(
            frame_bytes
                .saturating_add(unpacked)
                .saturating_mul(2)
                .saturating_add(batch.packed_frames.len()),
        );
        let (bytes, done, applied) = if batch.packed_frames.is_empty() {
            let (done, applied) = apply_with_room(node, peer, &batch.frames).await?;
            (frame_bytes, done, applied)
        } else {
            let joined = pack::inflate(
                &batch.packed_frames,
                usize::try_from(batch.packed_len).unwrap_or(usize::MAX),
                MESSAGE_BYTES_MAX,
            )?;
            let (done, applied) =
                apply_with_room(node, peer, &pack::split_frames(&joined)?).await?;
            (batch.packed_frames.len(), done, applied)
        };
        node.channels()
            .note_server(batch.sender_id, &batch.sender_region);
        let theirs = gdc_proto::vv::from_field(batch.sender_applied.as_ref());
        node.channels().update(peer, |c| {
            c.received(done.ops, bytes as u64, now_ms());
            c.last_hlc = c.last_hlc.max(done.last_hlc);
            let behind = c.peer_reported(theirs, &applied, now_ms());
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

/// A batch is applied in pieces of about this many frame bytes, room made before each, so
/// that a region at its limit goes over it by one piece at most.
const PIECE_BYTES: usize = 64 * 1024;

/// Apply a batch's frames piece by piece, each once there is room for it.
async fn apply_with_room<F: AsRef<[u8]>>(
    node: &Replication,
    peer: &Peer,
    frames: &[F],
) -> Result<(crate::engine::store::RemoteApplied, VersionVector), String> {
    let mut done = crate::engine::store::RemoteApplied::default();
    let mut rest = frames;
    loop {
        let mut end = 0;
        let mut bytes = 0;
        while end < rest.len() && (end == 0 || bytes < PIECE_BYTES) {
            bytes += rest[end].as_ref().len();
            end += 1;
        }
        wait_for_room(node, peer).await;
        // A script may hold the store: waited for without blocking the thread.
        node.engine().busy().until_free().await;
        let (piece, applied) = node.engine().apply_remote_frames(&rest[..end])?;
        done.ops += piece.ops;
        done.last_hlc = done.last_hlc.max(piece.last_hlc);
        rest = &rest[end..];
        if rest.is_empty() {
            return Ok((done, applied));
        }
    }
}

/// How often a channel waiting for memory looks again.
const ROOM_POLL: Duration = Duration::from_millis(50);

/// Before effects are applied: make room by the eviction policy if memory is over
/// `maxmemory`; when nothing can go (`noeviction`, nothing evictable), wait until there is
/// room — a raised limit, keys deleted, removal knowledge collected. The effects are never
/// dropped (the regions would differ for good) and never queued here: the peer keeps them,
/// held back by the stream's flow control. A secondary takes everything its primary sends,
/// as a Redis replica ignores `maxmemory`.
async fn wait_for_room(node: &Replication, peer: &Peer) {
    let mut waited = false;
    loop {
        if node.coordination().role() == super::coordination::Role::Secondary {
            return;
        }
        let room = node.engine().make_room(None);
        match room {
            Room::Enough => break,
            // More to evict: other clients get the lock between rounds.
            Room::Running => {
                tokio::task::yield_now().await;
                continue;
            }
            Room::Full => {}
        }
        if !waited {
            waited = true;
            warn!(peer = %peer.region, "out of memory: the channel waits for room");
            node.channels()
                .update(peer, |c| c.state = ChannelState::OutOfMemory);
        }
        tokio::time::sleep(ROOM_POLL).await;
    }
    if waited {
        info!(peer = %peer.region, "room again: the channel resumes");
        node.channels().update(peer, |c| {
            if c.state == ChannelState::OutOfMemory {
                c.state = ChannelState::CatchingUp;
            }
        });
    }
}

/// The client of one peer's sync port, with the cluster token on every call.
pub(super) type PeerClient = SyncClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, BearerToken>,
>;

/// Aborts a task when dropped: the task lives exactly as long as its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Receive a whole encoded state from a streaming call, decoded (off the runtime threads).
pub(super) async fn receive_state(
    chunks: Result<tonic::Response<tonic::Streaming<StateChunk>>, tonic::Status>,
) -> Result<Snapshot, String> {
    let mut stream = chunks
        .map_err(|s| format!("state transfer refused: {}", s.message()))?
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = tokio::time::timeout(IDLE_TIMEOUT, stream.message())
        .await
        .map_err(|_| format!("state transfer stalled for {IDLE_TIMEOUT:?}"))?
        .map_err(|s| format!("state transfer failed: {}", s.message()))?
    {
        if chunk.raw_len == 0 {
            bytes.extend_from_slice(&chunk.data);
        } else {
            bytes.extend(pack::inflate(
                &chunk.data,
                chunk.raw_len as usize,
                STATE_CHUNK_BYTES,
            )?);
        }
    }
    tokio::task::spawn_blocking(move || crate::engine::snapshot::decode(&bytes))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|why| format!("the peer's state is malformed: {why}"))
}

/// Full sync: fetch the peer's whole state, merge it (a CRDT join: nothing of this node's
/// own is lost), take on its applied vector, and write a snapshot at once: the merged state
/// is not in the binlog, which therefore starts again after it.
async fn full_sync(
    node: &Arc<Replication>,
    peer: &Peer,
    client: &mut PeerClient,
) -> Result<(), String> {
    node.channels()
        .update(peer, |c| c.state = ChannelState::FullSync);
    let server = node.engine().lock_store_when_free().await.server();
    let request = FullSyncRequest {
        region: node.config().region.clone(),
        server_id: server.0,
        deflate: node.config().sync_compression,
    };
    let snap = receive_state(client.full_sync(request).await).await?;
    let keys: usize = snap.dbs.iter().map(gdc_crdt::Keyspace::len).sum();
    let merging = Arc::clone(node);
    let (changed, saved) = tokio::task::spawn_blocking(move || {
        let mut store = merging.engine().lock_store();
        let changed = store.merge_state(&snap, |_, _| true, true).len();
        (changed, store.save())
    })
    .await
    .map_err(|e| e.to_string())?;
    let (seq, applied) = saved.map_err(|e| format!("cannot save the merged state: {e}"))?;
    node.engine().full_sync_saved(seq, applied);
    node.engine().wrote();
    node.channels().update(peer, |c| c.full_syncs += 1);
    info!(peer = %peer.region, keys, changed, "full sync merged");
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

/// A refused call's message and what caused it: a TLS handshake that failed (an untrusted
/// certificate, or TLS against a plaintext port) reaches tonic's caller as a bare "transport
/// error" or "h2 protocol error", with the reason only among its causes.
fn status_causes(s: &tonic::Status) -> String {
    match std::error::Error::source(s) {
        Some(cause) => format!("{}: {}", s.message(), causes(cause)),
        None => s.message().to_string(),
    }
}

/// Why a subscription was refused. A peer that drops the connection before it answers
/// (a transport error, not a refusal of its own) has most likely refused this node's TLS:
/// its certificate, or plain text against a TLS port. What the caller sees then depends on
/// timing (rustls's alert, "connection closed", "broken pipe"), so unless the alert came,
/// say what to check (`tls`: whether this node dials over TLS).
fn subscribe_refused(s: &tonic::Status, tls: bool) -> String {
    let text = format!("subscribe refused: {}", status_causes(s));
    if std::error::Error::source(s).is_none() || text.contains("alert") {
        return text;
    }
    let hint = if tls {
        "does the peer's CA trust this node's certificate?"
    } else {
        "is the peer's sync port TLS? then give this node --tls-cert, --tls-key and --tls-ca"
    };
    format!("{text} (the peer hung up before answering: {hint})")
}
