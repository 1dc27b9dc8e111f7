//! One client connection, from accept to close: read whole requests, run each batch of
//! pipelined commands under the store lock ([`Session::run_batch`]), wait while a blocking
//! command (BLPOP) holds the rest back, and write replies and published messages.

use crate::clients::ClientEntry;
use crate::cmd::{self, Conn, Ctx};
use crate::engine::store::now_ms;
use crate::notify::blocked::KeyWait;
use crate::pubsub::Message;
use crate::reply::Reply;
use crate::resp::parse_request_reusing;
use crate::shared::Shared;
use bytes::BytesMut;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{debug, warn};

mod commit;
mod pending;
mod scripts;

use commit::CommitDue;
use pending::Pending;

/// Serve one client until it goes, is killed (CLIENT KILL), or the server stops (which asks
/// every session to close: [`crate::clients::Clients::close_all`]).
pub async fn serve(shared: Arc<Shared>, mut socket: TcpStream) {
    if !shared.clients().try_connect() {
        let _ = socket
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    let mut session = Session::register(shared, socket);
    session.run().await;
    // A session that ends with its last batch uncommitted (the client went before its
    // replies were written) still commits it, and tells of its writes.
    if session.commit_due.is_some() {
        session.commit().await;
    }
    session.gone();
}

/// The session ends: the client closed or was killed (CLIENT KILL), a write to it failed,
/// or the server stops.
struct Closed;

struct Session {
    shared: Arc<Shared>,
    socket: TcpStream,
    conn: Conn,
    /// CLIENT KILL, or the node stopping, asks through this.
    kill: Arc<crate::clients::CloseRequest>,
    /// CLIENT UNBLOCK wakes this.
    unblock: Arc<crate::clients::Unblock>,
    /// Published messages for this client, and whether its queue overflowed.
    messages: mpsc::Receiver<Message>,
    overflowed: Arc<AtomicBool>,
    inbuf: BytesMut,
    out: BytesMut,
    /// Whole requests read and not yet run.
    pending: Pending,
    /// The binlog commit the replies in `out` wait for (see [`Session::commit`]).
    commit_due: Option<CommitDue>,
    /// The keys the command at the front of `pending` waits on, until it runs again.
    key_wait: Option<KeyWait>,
}

impl Session {
    /// A new client: numbered, listed for CLIENT LIST, given its message queue.
    fn register(shared: Arc<Shared>, socket: TcpStream) -> Session {
        let kill = Arc::new(crate::clients::CloseRequest::default());
        let unblock = Arc::new(crate::clients::Unblock::default());
        let addr =
            |a: std::io::Result<std::net::SocketAddr>| a.map(|a| a.to_string()).unwrap_or_default();
        let id = shared.clients().register(ClientEntry {
            addr: addr(socket.peer_addr()),
            laddr: addr(socket.local_addr()),
            created_ms: now_ms(),
            last_ms: now_ms(),
            db: 0,
            name: None,
            resp: 2,
            user: bytes::Bytes::from_static(crate::acl::DEFAULT_USER),
            last_cmd: "",
            // The read buffer below (the upkeep finds it when the client stays idle).
            activity: crate::clients::Activity {
                query_free: READ_BUFFER_BYTES,
                ..Default::default()
            },
            kill: Arc::clone(&kill),
            unblock: Arc::clone(&unblock),
        });
        let mut conn = Conn::new(id, cmd::default_login(&shared));
        let (tx, messages) = mpsc::channel(crate::pubsub::SUBSCRIBER_QUEUE_MAX);
        let overflowed = Arc::new(AtomicBool::new(false));
        let sender = crate::pubsub::Sender {
            tx,
            overflowed: Arc::clone(&overflowed),
        };
        shared.pubsub().connect(id, &sender);
        conn.pubsub_tx = Some(sender);
        Session {
            shared,
            socket,
            conn,
            kill,
            unblock,
            messages,
            overflowed,
            inbuf: BytesMut::with_capacity(READ_BUFFER_BYTES),
            out: BytesMut::with_capacity(16 * 1024),
            pending: Pending::default(),
            commit_due: None,
            key_wait: None,
        }
    }

    /// Read, run and reply until the session ends.
    async fn run(&mut self) {
        loop {
            // The settings in force, read once per round (CONFIG SET may change them).
            let config = self.shared.config();
            let protocol_error = self.parse(&config.limits);
            if protocol_error.is_none() && self.inbuf.len() > config.query_buffer_bytes_max {
                warn!(
                    client = self.conn.id,
                    "closing a client over the query buffer limit"
                );
                return;
            }
            if self.pending.is_empty() && protocol_error.is_none() {
                match self.wait_for_input().await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(Closed) => return,
                }
            }
            if let Err(Closed) = self.run_pending().await {
                return;
            }
            if let Some(e) = &protocol_error {
                debug!(client = self.conn.id, error = %e, "protocol error");
                Reply::err(format!("ERR {e}")).write(&mut self.out, self.conn.resp);
            }
            if self.flush().await.is_err() || protocol_error.is_some() || self.conn.closing {
                return;
            }
        }
    }

    /// Take every whole request already buffered; the protocol error that stopped it, if any.
    fn parse(&mut self, limits: &crate::resp::Limits) -> Option<crate::resp::ProtocolError> {
        loop {
            let before = self.inbuf.len();
            match parse_request_reusing(&mut self.inbuf, limits, &mut self.pending.spare) {
                Ok(Some(args)) => self.pending.push_back(args, before - self.inbuf.len()),
                Ok(None) => return None,
                Err(e) => return Some(e),
            }
        }
    }

    /// Nothing to run: wait for input (true: some came), or pass on a published message
    /// (false).
    async fn wait_for_input(&mut self) -> Result<bool, Closed> {
        // Biased: no random start per wait; a close request goes first.
        tokio::select! {
            biased;
            () = self.kill.asked() => Err(Closed),
            r = read_when_ready(&mut self.socket, &mut self.inbuf) => match r {
                Ok(0) | Err(_) => Err(Closed),
                Ok(_) => Ok(true),
            },
            Some(m) = self.messages.recv() => {
                if self.overflowed.load(Ordering::Relaxed) {
                    warn!(client = self.conn.id, "closing a subscriber that fell behind");
                    return Err(Closed);
                }
                if matches!(m, Message::ShrinkIdle) {
                    self.give_back_idle_buffer();
                } else {
                    m.write(&mut self.out, self.conn.resp, self.conn.subscribed());
                }
                Ok(false)
            }
        }
    }

    /// An idle client's empty read buffer is given back (as Redis does), when the upkeep
    /// finds it idle for [`IDLE_SHRINK_MS`]: thousands of idle connections then hold no read
    /// buffers. It is allocated again when input comes. (The upkeep's nudge replaced a timer
    /// per session, whose re-arming at every wait cost 1% of an unpipelined request.)
    fn give_back_idle_buffer(&mut self) {
        if !self.inbuf.is_empty() || self.inbuf.capacity() == 0 {
            return;
        }
        self.inbuf = BytesMut::new();
        self.conn.query = crate::cmd::QueryBuffer::default();
        if let Some(e) = self.shared.clients().listing().get_mut(&self.conn.id) {
            e.activity.query_bytes = 0;
            e.activity.query_free = 0;
        }
    }

    /// Run what is queued; a blocking command holds the rest back until a write wakes it
    /// or its timeout passes (then it is answered with its timeout reply).
    async fn run_pending(&mut self) -> Result<(), Closed> {
        let shared = Arc::clone(&self.shared);
        let busy = shared.engine().busy();
        while !self.pending.is_empty() {
            if self.answered_while_busy().await? {
                continue;
            }
            if !self.wait_for_store(busy).await? {
                continue;
            }
            // A wait on something other than keys (WAIT, a change of users) wakes at
            // whatever may have brought it. Made before the batch runs, so that nothing
            // after it is missed; not enabled (joined to the waiters' list, behind a lock)
            // unless a command waits: a `notify_waiters` reaches it from its making on.
            let woken = shared.engine().signalled();
            tokio::pin!(woken);
            let Some(stop) = self.run_batch() else {
                break;
            };
            self.flush().await.map_err(|_| Closed)?;
            let blocked = match stop {
                Stop::Wait(blocked) => blocked,
                Stop::LeftRuntime => {
                    // This thread is a long script's, not the runtime's: what is left of
                    // the batch goes on where the runtime is now.
                    tokio::task::yield_now().await;
                    continue;
                }
            };
            let wait = blocked
                .deadline_ms
                .map(|d| Duration::from_millis(d.saturating_sub(now_ms())));
            if blocked.paused {
                self.wait_for_unpause(wait).await?;
                continue;
            }
            shared.clients().set_blocked(true);
            self.unblock.set_waiting(true);
            let limit = shared.config().query_buffer_bytes_max;
            let mut unblocked_with_error = false;
            let key_wait = self.key_wait.as_ref();
            let woken = async {
                match key_wait {
                    Some(keys) => keys.woken().await,
                    None => woken.as_mut().await,
                }
            };
            let woke = tokio::select! {
                () = woken => Some(false),
                _ = sleep_or_forever(wait) => Some(true),
                error = self.unblock.requested() => {
                    unblocked_with_error = error;
                    Some(true)
                }
                r = self.socket.read_buf(&mut self.inbuf) => match r {
                    Ok(0) | Err(_) => None,
                    // A blocked client's input waits, but not past the query buffer limit.
                    Ok(_) if self.inbuf.len() > limit => None,
                    Ok(_) => Some(false),
                },
                () = self.kill.asked() => None,
            };
            shared.clients().set_blocked(false);
            self.unblock.set_waiting(false);
            let timed_out = woke.ok_or(Closed)?;
            if timed_out {
                // Leaves without looking: a turn it had goes on.
                self.key_wait = None;
                self.conn.blocked_since = None;
                self.pending.pop_front();
                if unblocked_with_error {
                    Reply::err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
                        .write(&mut self.out, self.conn.resp);
                } else {
                    blocked.on_timeout.write(&mut self.out, self.conn.resp);
                }
            }
        }
        Ok(())
    }

    /// A command waits out a CLIENT PAUSE: until its end (`wait`) or CLIENT UNPAUSE. The
    /// client's input waits too (up to the query buffer limit).
    async fn wait_for_unpause(&mut self, wait: Option<Duration>) -> Result<(), Closed> {
        let shared = Arc::clone(&self.shared);
        let limit = shared.config().query_buffer_bytes_max;
        tokio::select! {
            _ = sleep_or_forever(wait) => Ok(()),
            _ = shared.clients().unpaused() => Ok(()),
            r = self.socket.read_buf(&mut self.inbuf) => match r {
                Ok(0) | Err(_) => Err(Closed),
                Ok(_) if self.inbuf.len() > limit => Err(Closed),
                Ok(_) => Ok(()),
            },
            () = self.kill.asked() => Err(Closed),
        }
    }

    /// Write what the replies and messages so far have put in the output buffer.
    async fn flush(&mut self) -> std::io::Result<()> {
        self.commit().await;
        if !self.out.is_empty() {
            self.socket.write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }

    /// Run queued requests under one lock; their binlog records are committed before any
    /// reply leaves ([`Session::commit`]).
    /// Stops at a command that must wait, left at the front of `pending`, or after a script
    /// the runtime moved away from, and says so. No script holds the store when it begins
    /// ([`Session::wait_for_store`]).
    fn run_batch(&mut self) -> Option<Stop> {
        let shared = &self.shared;
        let config = shared.config();
        let mut store = shared.engine().lock_store();
        store.serving(self.conn.id);
        store.set_eviction(config.eviction());
        let now = now_ms();
        let writes_before = store.writes;
        let mut replies = 0;
        let mut blocked = None;
        let (conn, out, messages) = (&mut self.conn, &mut self.out, &mut self.messages);
        let tracking = shared.notifier().tracking();
        // The wait of the command at the front, which runs again now.
        let mut retrying = self.key_wait.take();
        // The bytes of the requests this batch ran (the read buffer's recent use).
        let mut read = 0;
        // A pipelined batch looks up its keys first, together: their cache misses overlap.
        if self.pending.requests.len() > 1 {
            let requests = self.pending.requests.iter().take(PREFETCH_MAX);
            let keys: smallvec::SmallVec<[&[u8]; PREFETCH_MAX]> = requests
                .filter_map(|(args, _)| cmd::likely_key(args).map(|k| &k[..]))
                .collect();
            store.prefetch(conn.db, &keys);
        }
        while let Some((args, bytes)) = self.pending.pop_front() {
            read += bytes;
            if args.is_empty() {
                continue;
            }
            // CLIENT PAUSE: the command waits (at the front) until the pause ends.
            let writes = || cmd::waits_for_write_pause(conn, &args);
            if let Some(until) = shared.clients().paused_until(now, writes) {
                self.key_wait = retrying.take();
                self.pending.push_front(args, bytes);
                blocked = Some(Stop::Wait(Blocked {
                    deadline_ms: Some(until),
                    on_timeout: Reply::Silence,
                    paused: true,
                }));
                break;
            }
            // What CLIENT LIST shows of this client's query buffer while the command runs:
            // the command itself, and what came after it.
            conn.query = crate::cmd::QueryBuffer {
                bytes: bytes + self.pending.bytes + self.inbuf.len(),
                free: self.inbuf.capacity() - self.inbuf.len(),
            };
            let mut ctx = Ctx {
                store: &mut store,
                conn,
                server: shared,
                config: &config,
                now,
            };
            // Room is made before the command, as Redis does: what that evicts is told to
            // tracking clients before the command's reply.
            cmd::make_room(&mut ctx);
            // Messages queued for this client so far go before this command's reply (its
            // own invalidations, made while a command ran, go after that command's reply).
            tracking.enforce_limit(shared.pubsub());
            // A look at the queue is a few loads; a receive from it takes its head block.
            if !messages.is_empty() {
                while let Ok(m) = messages.try_recv() {
                    m.write(out, ctx.conn.resp, ctx.conn.subscribed());
                }
            }
            ctx.conn.clock.get_or_insert_with(cmd::clock_ns);
            let reply = cmd::execute(&mut ctx, &args);
            if let Some(wait) = retrying.take() {
                // Its turn goes on while the key is there for the next to take from.
                wait.done(|db, key| store.get(db, key, now).is_some());
            }
            // Only the command at the front can be waiting; any other reply ends its wait.
            if matches!(reply, Reply::Block { .. }) {
                conn.blocked_since.get_or_insert(now);
            } else {
                conn.blocked_since = None;
            }
            match reply {
                Reply::Block { deadline_ms, wait } => {
                    let crate::reply::Wait { on_timeout, retry } = *wait;
                    if deadline_ms.is_some_and(|d| d <= now) {
                        conn.blocked_since = None;
                        on_timeout.write(out, conn.resp);
                        replies += 1;
                        continue;
                    }
                    let retry = retry.unwrap_or(args);
                    // Registered under the store's lock, which every change is told under.
                    let (keys, takes) = cmd::waited_keys(&retry);
                    self.key_wait = (!keys.is_empty())
                        .then(|| KeyWait::new(shared.notifier(), conn.db, keys, takes));
                    self.pending.push_front(retry, bytes);
                    blocked = Some(Stop::Wait(Blocked {
                        deadline_ms,
                        on_timeout,
                        paused: false,
                    }));
                    break;
                }
                reply => {
                    // Pub/sub confirmations are pushed, as messages are: CLIENT REPLY
                    // OFF does not hold them back (Redis's CLIENT_PUSHING).
                    let pushed = matches!(reply, Reply::Push(_) | Reply::Many(_));
                    if pushed || conn.replies.send() {
                        reply.write(out, conn.resp);
                    }
                    self.pending.recycle(args);
                }
            }
            replies += 1;
            if conn.closing {
                self.pending.clear();
                break;
            }
            if crate::script::busy::take_left_runtime() {
                blocked = Some(Stop::LeftRuntime);
                break;
            }
        }
        conn.clock = None;
        shared.clients().count_commands(replies);
        let target = shared.engine().end_batch_uncommitted(&mut store);
        let wrote = store.writes != writes_before;
        drop(store);
        // Clients blocked on the keys written were woken as they changed (before this
        // batch's replies, as Redis serves them before the command that fed them returns);
        // channel senders, which read the binlog, are told once it is committed.
        match target {
            Some(target) => CommitDue::owe(&mut self.commit_due, target, replies, wrote),
            // Committed already (by another session, or a record as large as the
            // binlog's buffer went straight to the OS).
            None if wrote => shared.engine().wrote(),
            None => {}
        }
        self.note_activity(now, read, matches!(blocked, Some(Stop::Wait(_))));
        blocked
    }

    /// What CLIENT LIST shows of this client, after commands ran at `now` that read `read`
    /// bytes of its query buffer; `waiting`: one waits now.
    fn note_activity(&mut self, now: u64, read: usize, waiting: bool) {
        let conn = &mut self.conn;
        if let Some(e) = self.shared.clients().listing().get_mut(&conn.id) {
            e.last_ms = now;
            e.db = conn.db;
            e.name.clone_from(&conn.name);
            e.resp = conn.resp;
            if e.user != conn.user {
                e.user = conn.user.clone();
            }
            e.last_cmd = conn.last_cmd;
            resize_read_buffer(&mut self.inbuf, read);
            conn.query = crate::cmd::QueryBuffer {
                bytes: self.pending.bytes + self.inbuf.len(),
                free: self.inbuf.capacity() - self.inbuf.len(),
            };
            e.activity = conn.activity(waiting);
        }
    }

    /// Forget a client that has gone: its listing and its subscriptions.
    fn gone(&mut self) {
        let shared = &self.shared;
        self.conn.unsubscribe_all(shared.pubsub());
        shared.pubsub().unmonitor(self.conn.id);
        shared.pubsub().disconnect(self.conn.id);
        shared.notifier().tracking().disable(self.conn.id);
        shared.clients().gone(self.conn.id);
    }
}

/// At most this many of a batch's keys are looked up ahead (more would leave the cache
/// before their commands run).
const PREFETCH_MAX: usize = 32;

/// Reads what the socket has once it is readable, into `inbuf` with room made only then (an
/// idle client's buffer may have been given back). A read that leaves room in the buffer
/// shows the socket was drained, and tokio's `poll_read` then waits for the next epoll event
/// instead of trying a read that fails with EAGAIN: `try_read` after `readable()` cost a
/// third of a failing `recvfrom` per unpipelined request.
async fn read_when_ready(socket: &mut TcpStream, inbuf: &mut BytesMut) -> std::io::Result<usize> {
    std::future::poll_fn(|cx| {
        std::task::ready!(socket.poll_read_ready(cx))?;
        if inbuf.capacity() - inbuf.len() < READ_BUFFER_BYTES / 2 {
            inbuf.reserve(READ_BUFFER_BYTES);
        }
        tokio_util::io::poll_read_buf(std::pin::Pin::new(&mut *socket), cx, inbuf)
    })
    .await
}

/// What a client's read buffer starts with, and grows back to after use.
const READ_BUFFER_BYTES: usize = 16 * 1024;
/// A read buffer past this is shrunk once a batch used less than half of it.
const BIG_READ_BUFFER_BYTES: usize = 32 * 1024;
/// An idle client's empty read buffer is freed after this long (the upkeep looks once a
/// second).
pub const IDLE_SHRINK_MS: u64 = 2000;

/// After a batch that read `read` bytes: an emptied buffer much bigger than that use is
/// shrunk (one big request does not keep a big buffer); otherwise it gets its room back.
fn resize_read_buffer(inbuf: &mut BytesMut, read: usize) {
    if !inbuf.is_empty() {
        return;
    }
    let capacity = inbuf.capacity() + read;
    if capacity > BIG_READ_BUFFER_BYTES && read < capacity / 2 {
        *inbuf = BytesMut::with_capacity(READ_BUFFER_BYTES);
    } else {
        // The requests' bytes are dropped: this takes their space back.
        inbuf.reserve(READ_BUFFER_BYTES);
    }
}

/// A command waiting for a write, or for a CLIENT PAUSE to end (`paused`: at the deadline
/// it runs; a blocked command is answered with `on_timeout`).
struct Blocked {
    deadline_ms: Option<u64>,
    on_timeout: Reply,
    paused: bool,
}

/// Why a batch of commands stopped before the end of what was read.
enum Stop {
    /// A command waits (see [`Blocked`]).
    Wait(Blocked),
    /// A script ran long and the runtime moved off this thread
    /// ([`crate::script::busy::take_left_runtime`]).
    LeftRuntime,
}

async fn sleep_or_forever(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
