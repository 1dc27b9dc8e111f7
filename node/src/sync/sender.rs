//! The sender side of channels: the `Sync` gRPC service on a node's sync port (which also
//! serves the node admin service, [`super::admin`]).
//!
//! Each subscriber gets a task that reads this node's binlog files from the oldest segment,
//! skips what the subscriber has (its applied vector) and its own ops, and streams the rest
//! in bounded batches, then waits for the binlog to grow. A slow subscriber slows only its
//! own reads: nothing is queued for it in memory beyond one batch.

use super::Replication;
use super::pack::{self, Deflater, PACK_MIN_BYTES};
use super::status::SubscriberStatus;
use super::{MESSAGE_BYTES_MAX, STATE_CHUNK_BYTES};
use crate::engine::acks::ack_key;
use crate::engine::binlog::{BinlogError, BinlogReader, decode_frame, encode_frame, frame_dots};
use crate::engine::retention::Retention;
use crate::engine::snapshot::{self, Snapshot};
use crate::engine::store::Store;
use gdc_crdt::{ServerId, VersionVector};
use gdc_proto::admin::node_admin_server::NodeAdminServer;
use gdc_proto::auth::TokenCheck;
use gdc_proto::sync::subscribe_request::Msg;
use gdc_proto::sync::sync_server::{Sync as SyncRpc, SyncServer};
use gdc_proto::sync::{
    DatabaseDigests, DigestsReply, DigestsRequest, FetchKeysRequest, FullSyncRequest, Hello,
    OpBatch, StateChunk, SubscribeRequest,
};
use std::fs::File;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
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

#[derive(Debug, thiserror::Error)]
pub enum SyncServeError {
    #[error("TLS settings: {0}")]
    Tls(String),
    #[error("{0}")]
    Config(&'static str),
    #[error(transparent)]
    Transport(#[from] tonic::transport::Error),
}

/// The `Sync` service of one node.
#[derive(Debug)]
pub struct SyncService {
    node: Arc<Replication>,
}

/// Serve the `Sync` service (and the node admin service) on `listener` until the node
/// stops.
pub async fn serve(
    node: Arc<Replication>,
    listener: tokio::net::TcpListener,
) -> Result<(), SyncServeError> {
    let token = node.config().cluster_token.clone().unwrap_or_default();
    if node.engine().alone() {
        // Removal knowledge is collected for members only; a node serving the sync
        // port without a configured one would collect it too early for its readers.
        return Err(SyncServeError::Config(
            "the sync port must be in the config (sync-port) to be served",
        ));
    }
    let service_node = Arc::clone(&node);
    let service = SyncServer::new(SyncService { node })
        .max_decoding_message_size(MESSAGE_BYTES_MAX)
        .max_encoding_message_size(MESSAGE_BYTES_MAX);
    let admin = NodeAdminServer::new(super::admin::AdminService {
        node: Arc::clone(&service_node),
    });
    let check = TokenCheck::new(&token, "sync call");
    let mut server = tonic::transport::Server::builder().tcp_nodelay(true);
    if let Some(tls) = service_node.config().tls().map_err(SyncServeError::Tls)? {
        server = server.tls_config(tls.server_config())?;
    }
    server
        .add_service(InterceptedService::new(service, check.clone()))
        .add_service(InterceptedService::new(admin, check))
        .serve_with_incoming_shutdown(
            TcpListenerStream::new(listener),
            service_node.tasks().stopped(),
        )
        .await?;
    Ok(())
}

/// A state to stream: a copy taken under the store lock, or what a child forked under it
/// encodes (the whole state, without a copy on the serving thread).
#[derive(Debug)]
enum StateSource {
    Copy(Snapshot),
    Forked(crate::fork::Child, File),
}

impl StateSource {
    /// The whole of `store`'s state: a forked child's encoding, or a copy where fork fails.
    fn whole(store: &Store, retention: &Retention) -> StateSource {
        let started = Instant::now();
        let forked = crate::fork::spawn_writing(|out| {
            snapshot::encode_into(store.snapshot_ref(), out)
                .map(drop)
                .map_err(|e| e.to_string())
        });
        match forked {
            Ok((child, out)) => {
                retention.forked(started);
                StateSource::Forked(child, out)
            }
            Err(e) => {
                warn!(error = %e, "cannot fork for a full sync; copying the data instead");
                StateSource::Copy(store.copy_state())
            }
        }
    }
}

/// Stream a state as encoded pieces, compressed with `deflate`; encoding and compression
/// run off the runtime threads.
fn stream_state(
    tasks: &crate::tasks::Tasks,
    source: StateSource,
    deflate: bool,
) -> ReceiverStream<Result<StateChunk, Status>> {
    let (tx, rx) = mpsc::channel(4);
    tasks.spawn(async move {
        let failed = tx.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || send_state(source, deflate, &tx)).await
        {
            let _ = failed.send(Err(Status::internal(e.to_string()))).await;
        }
    });
    ReceiverStream::new(rx)
}

/// [`stream_state`]'s blocking part: read the encoding a piece at a time, compress, send.
fn send_state(source: StateSource, deflate: bool, tx: &mpsc::Sender<Result<StateChunk, Status>>) {
    let (mut bytes, child): (Box<dyn Read>, _) = match source {
        StateSource::Copy(snap) => (
            Box::new(std::io::Cursor::new(snapshot::encode(snap.as_ref()))),
            None,
        ),
        StateSource::Forked(child, out) => (Box::new(out), Some(child)),
    };
    let mut deflater = deflate.then(Deflater::default);
    let mut piece = vec![0; STATE_CHUNK_BYTES];
    loop {
        let n = match read_full(&mut bytes, &mut piece) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let _ = tx.blocking_send(Err(Status::internal(format!("reading the state: {e}"))));
                return;
            }
        };
        let piece = &piece[..n];
        let chunk = match &mut deflater {
            Some(d) if piece.len() >= PACK_MIN_BYTES => StateChunk {
                data: d.deflate(piece),
                raw_len: piece.len() as u32,
            },
            _ => StateChunk {
                data: piece.to_vec(),
                raw_len: 0,
            },
        };
        if tx.blocking_send(Ok(chunk)).is_err() {
            // The receiver went: a child still writing is killed and reaped as it drops.
            return;
        }
    }
    drop(bytes);
    if let Some(Err(e)) = child.map(crate::fork::Child::wait) {
        warn!(error = %e, "encoding the state for a peer failed");
        let _ = tx.blocking_send(Err(Status::internal(format!("encoding the state: {e}"))));
    }
}

/// Fill `buf` from `r` unless it ends first: the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Why a subscriber with `have` cannot be served from a binlog that starts after `base`
/// (`None` when it can). The receiver's own ops are never sent, so they do not count.
fn binlog_lacks(base: &VersionVector, have: &VersionVector, receiver: ServerId) -> Option<String> {
    let missing: Vec<String> = base
        .iter()
        .filter(|(s, op)| *s != receiver && have.get(*s) < *op)
        .map(|(s, op)| format!("{}:{}..{}", s.0, have.get(s).0 + 1, op.0))
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "full sync needed: this node's binlog no longer holds ops {}",
            missing.join(", ")
        )
    })
}

#[tonic::async_trait]
impl SyncRpc for SyncService {
    type SubscribeStream = Queued;
    type FullSyncStream = ReceiverStream<Result<StateChunk, Status>>;
    type FetchKeysStream = ReceiverStream<Result<StateChunk, Status>>;

    async fn full_sync(
        &self,
        request: Request<FullSyncRequest>,
    ) -> Result<Response<Self::FullSyncStream>, Status> {
        let req = request.into_inner();
        let (source, keys) = {
            let store = self.node.engine().lock_store_when_free().await;
            let keys: usize = (0..crate::engine::store::DATABASES)
                .map(|db| store.db(db).len())
                .sum();
            (
                StateSource::whole(&store, self.node.engine().retention()),
                keys,
            )
        };
        info!(
            peer = %req.region,
            server_id = req.server_id,
            keys,
            "sending a full sync"
        );
        self.node.channels().full_sync_sent();
        Ok(Response::new(stream_state(
            self.node.tasks(),
            source,
            req.deflate,
        )))
    }

    async fn digests(&self, _: Request<DigestsRequest>) -> Result<Response<DigestsReply>, Status> {
        let node = Arc::clone(&self.node);
        // Digests only count keys changed since the last round, but after a change to every
        // key (a FLUSHDB, a load) they count them all: off the runtime threads, as that
        // holds the store lock meanwhile.
        let (applied, databases) = tokio::task::spawn_blocking(move || {
            let mut store = node.engine().lock_store();
            let databases = (0..crate::engine::store::DATABASES)
                .map(|db| DatabaseDigests {
                    buckets: store.bucket_digests(db),
                })
                .collect::<Vec<_>>();
            (store.applied().clone(), databases)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(DigestsReply {
            applied: Some((&applied).into()),
            databases,
        }))
    }

    async fn fetch_keys(
        &self,
        request: Request<FetchKeysRequest>,
    ) -> Result<Response<Self::FetchKeysStream>, Status> {
        let req = request.into_inner();
        let db = req.db as usize;
        if db >= crate::engine::store::DATABASES {
            return Err(Status::invalid_argument(format!("no database {db}")));
        }
        let mut wanted = vec![false; gdc_crdt::keyspace::DIGEST_BUCKETS];
        for b in req.buckets {
            match wanted.get_mut(b as usize) {
                Some(w) => *w = true,
                None => return Err(Status::invalid_argument(format!("no bucket {b}"))),
            }
        }
        let snap = self
            .node
            .engine()
            .lock_store_when_free()
            .await
            .copy_buckets(db, &wanted);
        Ok(Response::new(stream_state(
            self.node.tasks(),
            StateSource::Copy(snap),
            req.deflate,
        )))
    }

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
        let have = gdc_proto::vv::from_field(hello.applied.as_ref());
        let (_, base) = node.engine().meta().binlog_base();
        if let Some(why) = binlog_lacks(&base, &have, ServerId(hello.server_id)) {
            info!(peer = %hello.region, "{why}");
            return Err(Status::failed_precondition(why));
        }
        let sync = node.channels();
        let id = sync.next_subscriber();
        let ack_key = ack_key(&node.config().region, &hello.region, hello.server_id);
        node.engine()
            .acks()
            .acknowledge(&ack_key, hello.server_id, &have);
        sync.outbound().insert(
            id,
            SubscriberStatus {
                region: hello.region.clone(),
                server_id: hello.server_id,
                ack_key,
                frames_sent: 0,
            },
        );
        info!(peer = %hello.region, server_id = hello.server_id, "subscriber connected");
        node.channels().note_server(hello.server_id, &hello.region);
        let (tx, rx) = mpsc::channel(2);
        node.tasks()
            .spawn(read_acks(Arc::clone(&node), id, inbound));
        node.tasks()
            .spawn(feed(Arc::clone(&node), hello, have, id, tx));
        Ok(Response::new(Queued { rx }))
    }
}

/// A subscriber's queue of batches, counted as channel send buffers while queued
/// ([`crate::alloc::SYNC_SEND_BUFFERS`]): eviction leaves them out, INFO shows them.
#[derive(Debug)]
pub struct Queued {
    rx: mpsc::Receiver<Result<OpBatch, Status>>,
}

/// What a queued batch holds on the heap, near enough.
fn batch_bytes(b: &OpBatch) -> usize {
    b.frames.iter().map(Vec::len).sum::<usize>() + b.packed_frames.len()
}

impl tokio_stream::Stream for Queued {
    type Item = Result<OpBatch, Status>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let polled = self.rx.poll_recv(cx);
        if let std::task::Poll::Ready(Some(Ok(b))) = &polled {
            crate::alloc::SYNC_SEND_BUFFERS.sub(batch_bytes(b));
        }
        polled
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.rx.close();
        while let Ok(item) = self.rx.try_recv() {
            if let Ok(b) = item {
                crate::alloc::SYNC_SEND_BUFFERS.sub(batch_bytes(&b));
            }
        }
    }
}

/// Record the subscriber's acknowledgements as they come.
async fn read_acks(node: Arc<Replication>, id: u64, mut inbound: Streaming<SubscribeRequest>) {
    while let Ok(Some(req)) = inbound.message().await {
        if let Some(Msg::Ack(ack)) = req.msg {
            let applied = gdc_proto::vv::from_field(ack.applied.as_ref());
            let who = node
                .channels()
                .outbound()
                .get(&id)
                .map(|s| (s.ack_key.clone(), s.server_id));
            if let Some((key, server_id)) = who {
                node.engine().acks().acknowledge(&key, server_id, &applied);
                // WAIT looks again.
                node.engine().wake_waiters();
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
    /// Present when the subscriber takes compressed batches.
    deflater: Option<Deflater>,
}

/// A batch read for a subscriber: its frames as they are, or packed.
struct Batch {
    frames: Vec<Vec<u8>>,
    count: usize,
    packed: Option<(Vec<u8>, u64)>,
}

/// At most this many frames are looked at per read, sent or skipped, so that a subscriber
/// far behind in a long binlog still hears from the sender (heartbeats) while it skips.
const SCAN_FRAMES_MAX: usize = 65_536;
/// ... and at most this many bytes.
const SCAN_BYTES_MAX: usize = 64 << 20;

impl Cursor {
    /// [`Cursor::next_frames`], packed when the subscriber takes compression and they are
    /// worth it.
    fn next_batch(&mut self) -> Result<(Batch, bool), BinlogError> {
        let (frames, at_end) = self.next_frames()?;
        let count = frames.len();
        let bytes: usize = frames.iter().map(Vec::len).sum();
        let batch = match &mut self.deflater {
            Some(d) if bytes >= PACK_MIN_BYTES => {
                let joined = pack::join_frames(&frames);
                Batch {
                    frames: Vec::new(),
                    count,
                    packed: Some((d.deflate(&joined), joined.len() as u64)),
                }
            }
            _ => Batch {
                frames,
                count,
                packed: None,
            },
        };
        Ok((batch, at_end))
    }

    /// The next frames the subscriber is missing, up to a batch's bounds, and whether the
    /// read reached the end of what is written.
    fn next_frames(&mut self) -> Result<(Vec<Vec<u8>>, bool), BinlogError> {
        let corrupt = |why: String| BinlogError::Corrupt {
            path: "binlog".into(),
            offset: 0,
            why,
        };
        let mut frames = Vec::new();
        let mut bytes = 0;
        let mut scanned = 0;
        for _ in 0..SCAN_FRAMES_MAX {
            if scanned >= SCAN_BYTES_MAX {
                return Ok((frames, false));
            }
            if frames.len() >= BATCH_FRAMES_MAX || bytes >= BATCH_BYTES_MAX {
                return Ok((frames, false));
            }
            let Some(frame) = self.reader.next_frame()? else {
                return Ok((frames, true));
            };
            scanned += frame.len();
            let wanted = |have: &VersionVector, d: gdc_crdt::Dot| {
                d.server != self.receiver && !have.covers(d)
            };
            let dots = frame_dots(&frame).map_err(corrupt)?;
            let missing = dots.iter().filter(|d| wanted(&self.have, **d)).count();
            let frame = if missing == 0 {
                continue;
            } else if missing == dots.len() {
                frame
            } else {
                let recs: Vec<_> = decode_frame(&frame)
                    .map_err(corrupt)?
                    .into_iter()
                    .filter(|r| wanted(&self.have, r.dot()))
                    .collect();
                encode_frame(&recs)
            };
            for d in dots {
                self.have.add(d);
            }
            bytes += frame.len();
            frames.push(frame);
        }
        Ok((frames, false))
    }
}

/// Stream the binlog to one subscriber, which has `have`, until it goes away.
async fn feed(
    node: Arc<Replication>,
    hello: Hello,
    have: VersionVector,
    id: u64,
    tx: mpsc::Sender<Result<OpBatch, Status>>,
) {
    let mut cursor = Cursor {
        reader: BinlogReader::new(&node.config().dir.join("binlog")),
        receiver: ServerId(hello.server_id),
        have,
        deflater: hello.deflate.then(Deflater::default),
    };
    let (sender_id, sender_region) = (
        node.engine().lock_store_when_free().await.server().0,
        node.config().region.clone(),
    );
    // The first batch goes out even when empty: the receiver learns at once where the
    // sender is (caught up or not).
    let mut first = true;
    let mut last_sent = tokio::time::Instant::now();
    loop {
        // Enabled before reading: a write committed from here on wakes the wait below.
        let tail = node.engine().tail_moved();
        tokio::pin!(tail);
        tail.as_mut().enable();
        // Taken before reading: every op it covers is in the files by then, so a receiver
        // that has applied a batch read to the end has everything the vector covers.
        let applied = node.engine().lock_store_when_free().await.applied().clone();
        // File reads off the runtime thread.
        let read = tokio::task::spawn_blocking(move || {
            let r = cursor.next_batch();
            (cursor, r)
        })
        .await;
        let (batch, at_end) = match read {
            Ok((c, Ok(read))) => {
                cursor = c;
                read
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
        if batch.count == 0 && !std::mem::take(&mut first) {
            if !at_end {
                // Still skipping what the subscriber has: a heartbeat now and then.
                if last_sent.elapsed() < HEARTBEAT {
                    continue;
                }
            } else {
                tokio::select! {
                    () = &mut tail => continue,
                    _ = tx.closed() => break,
                    _ = tokio::time::sleep(HEARTBEAT) => {}
                }
            }
        }
        last_sent = tokio::time::Instant::now();
        first = false;
        let sent = batch.count as u64;
        let (packed_frames, packed_len) = batch.packed.unwrap_or_default();
        let batch = OpBatch {
            frames: batch.frames,
            sender_id,
            sender_region: sender_region.clone(),
            sender_applied: Some((&applied).into()),
            packed_frames,
            packed_len,
        };
        let bytes = batch_bytes(&batch);
        crate::alloc::SYNC_SEND_BUFFERS.add(bytes);
        if tx.send(Ok(batch)).await.is_err() {
            crate::alloc::SYNC_SEND_BUFFERS.sub(bytes);
            break;
        }
        if let Some(s) = node.channels().outbound().get_mut(&id) {
            s.frames_sent += sent;
        }
    }
    node.channels().outbound().remove(&id);
    info!(peer = %hello.region, "subscriber gone");
}
