//! The sender side of channels: the `Sync` gRPC service on a node's sync port.
//!
//! Each subscriber gets a task that reads this node's binlog files from the oldest segment,
//! skips what the subscriber has (its applied vector) and its own ops, and streams the rest
//! in bounded batches, then waits for the binlog to grow. A slow subscriber slows only its
//! own reads: nothing is queued for it in memory beyond one batch.

use super::{SubscriberStatus, token_matches};
use crate::binlog::{BinlogError, BinlogReader, decode_frame_records, encode_frame};
use crate::server::Node;
use gdc_crdt::{ServerId, VersionVector};
use gdc_proto::sync::subscribe_request::Msg;
use gdc_proto::sync::sync_server::{Sync as SyncRpc, SyncServer};
use gdc_proto::sync::{Hello, OpBatch, SubscribeRequest};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::codec::CompressionEncoding;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status, Streaming};
use tracing::{info, warn};

/// A batch holds at most this many frames...
const BATCH_FRAMES_MAX: usize = 4096;
/// ...and stops growing past this many bytes (a single larger frame is sent alone).
const BATCH_BYTES_MAX: usize = 1 << 20;
/// An idle channel still gets an (empty) batch this often, with the sender's applied vector:
/// the receiver's lag figures stay current and a dead connection is noticed.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// The largest message either side accepts: one binlog record at its limit, and change.
pub const MESSAGE_BYTES_MAX: usize = (1 << 30) + (1 << 20);

/// The `Sync` service of one node.
#[derive(Debug)]
pub struct SyncService {
    node: Arc<Node>,
}

/// Refuses calls without the cluster token.
#[derive(Clone, Debug)]
pub struct TokenCheck {
    token: String,
}

impl tonic::service::Interceptor for TokenCheck {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let presented = req.metadata().get(gdc_proto::AUTHORIZATION);
        if presented.is_some_and(|v| token_matches(v.as_bytes(), &self.token)) {
            return Ok(req);
        }
        let from = req
            .remote_addr()
            .map_or_else(|| "unknown".to_string(), |a| a.to_string());
        warn!(%from, "sync call refused: missing or wrong cluster token");
        Err(Status::unauthenticated("missing or wrong cluster token"))
    }
}

impl Node {
    /// Serve the `Sync` service on `listener` until the process ends.
    pub async fn serve_sync(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
    ) -> Result<(), tonic::transport::Error> {
        let token = self
            .shared()
            .config
            .cluster_token
            .clone()
            .unwrap_or_default();
        let service = SyncServer::new(SyncService { node: self })
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(MESSAGE_BYTES_MAX)
            .max_encoding_message_size(MESSAGE_BYTES_MAX);
        tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_service(InterceptedService::new(service, TokenCheck { token }))
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
    }
}

#[tonic::async_trait]
impl SyncRpc for SyncService {
    type SubscribeStream = ReceiverStream<Result<OpBatch, Status>>;

    async fn subscribe(
        &self,
        request: Request<Streaming<SubscribeRequest>>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let mut inbound = request.into_inner();
        let hello = match inbound.message().await? {
            Some(SubscribeRequest {
                msg: Some(Msg::Hello(h)),
            }) => h,
            _ => {
                return Err(Status::invalid_argument(
                    "a subscription begins with a Hello",
                ));
            }
        };
        if hello.server_id == 0 {
            return Err(Status::invalid_argument("server-id 0 is reserved"));
        }
        let node = Arc::clone(&self.node);
        let sync = &node.shared().sync;
        let id = sync.next_subscriber();
        sync.outbound().insert(
            id,
            SubscriberStatus {
                region: hello.region.clone(),
                server_id: hello.server_id,
                acked: hello
                    .applied
                    .as_ref()
                    .map(VersionVector::from)
                    .unwrap_or_default(),
                frames_sent: 0,
            },
        );
        sync.acknowledge(
            &hello.region,
            hello.server_id,
            &hello
                .applied
                .as_ref()
                .map(VersionVector::from)
                .unwrap_or_default(),
        );
        info!(peer = %hello.region, server_id = hello.server_id, "subscriber connected");
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(read_acks(Arc::clone(&node), id, inbound));
        tokio::spawn(feed(node, hello, id, tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// Record the subscriber's acknowledgements as they come.
async fn read_acks(node: Arc<Node>, id: u64, mut inbound: Streaming<SubscribeRequest>) {
    while let Ok(Some(req)) = inbound.message().await {
        if let Some(Msg::Ack(ack)) = req.msg {
            let applied = ack
                .applied
                .as_ref()
                .map(VersionVector::from)
                .unwrap_or_default();
            let sync = &node.shared().sync;
            let who = sync.outbound().get_mut(&id).map(|s| {
                s.acked = applied.clone();
                (s.region.clone(), s.server_id)
            });
            if let Some((region, server_id)) = who {
                sync.acknowledge(&region, server_id, &applied);
                // WAIT looks again.
                node.shared().written.notify_waiters();
            }
        }
    }
}

/// Where one subscriber is in this node's binlog.
struct Cursor {
    reader: BinlogReader,
    receiver: ServerId,
    /// What the subscriber has: its applied vector, raised as frames are sent.
    have: VersionVector,
}

impl Cursor {
    /// The next frames the subscriber is missing, up to a batch's bounds; empty at the end
    /// of what is written.
    fn next_batch(&mut self) -> Result<Vec<Vec<u8>>, BinlogError> {
        let mut frames = Vec::new();
        let mut bytes = 0;
        while frames.len() < BATCH_FRAMES_MAX && bytes < BATCH_BYTES_MAX {
            let Some(frame) = self.reader.next_frame()? else {
                break;
            };
            let recs = decode_frame_records(&frame).map_err(|why| BinlogError::Corrupt {
                path: "binlog".into(),
                offset: 0,
                why,
            })?;
            let total = recs.len();
            let missing: Vec<_> = recs
                .into_iter()
                .filter(|r| r.dot().server != self.receiver && !self.have.covers(r.dot()))
                .collect();
            for r in &missing {
                self.have.add(r.dot());
            }
            let frame = match missing.len() {
                0 => continue,
                n if n == total => frame,
                _ => encode_frame(&missing),
            };
            bytes += frame.len();
            frames.push(frame);
        }
        Ok(frames)
    }
}

/// Stream the binlog to one subscriber until it goes away.
async fn feed(node: Arc<Node>, hello: Hello, id: u64, tx: mpsc::Sender<Result<OpBatch, Status>>) {
    let mut cursor = Cursor {
        reader: BinlogReader::new(&node.shared().config.dir.join("binlog")),
        receiver: ServerId(hello.server_id),
        have: hello
            .applied
            .as_ref()
            .map(VersionVector::from)
            .unwrap_or_default(),
    };
    let mut tail = node.shared().binlog_tail.subscribe();
    let (sender_id, sender_region) = (
        node.lock_store().server().0,
        node.shared().config.region.clone(),
    );
    // The first batch goes out even when empty: the receiver learns at once where the
    // sender is (caught up or not).
    let mut first = true;
    loop {
        tail.borrow_and_update();
        // File reads off the runtime thread.
        let read = tokio::task::spawn_blocking(move || {
            let r = cursor.next_batch();
            (cursor, r)
        })
        .await;
        let frames = match read {
            Ok((c, Ok(frames))) => {
                cursor = c;
                frames
            }
            Ok((_, Err(e))) => {
                warn!(peer = %hello.region, error = %e, "cannot read the binlog for a subscriber");
                let _ = tx.send(Err(Status::internal(e.to_string()))).await;
                break;
            }
            Err(e) => {
                warn!(error = %e, "binlog read task failed");
                break;
            }
        };
        if frames.is_empty() && !std::mem::take(&mut first) {
            tokio::select! {
                _ = tail.changed() => continue,
                _ = tx.closed() => break,
                _ = tokio::time::sleep(HEARTBEAT) => {}
            }
        }
        first = false;
        let sent = frames.len() as u64;
        let batch = OpBatch {
            frames,
            sender_id,
            sender_region: sender_region.clone(),
            sender_applied: Some(node.lock_store().applied().into()),
        };
        if tx.send(Ok(batch)).await.is_err() {
            break;
        }
        if let Some(s) = node.shared().sync.outbound().get_mut(&id) {
            s.frames_sent += sent;
        }
    }
    node.shared().sync.outbound().remove(&id);
    info!(peer = %hello.region, "subscriber gone");
}
