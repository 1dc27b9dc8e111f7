//! The connected clients: how many, each one's listing (CLIENT LIST, CLIENT KILL), how many
//! wait in a blocking command, and the commands they ran (INFO stats).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// What CLIENT LIST shows of a client, and how CLIENT KILL reaches it.
#[derive(Debug, Clone)]
pub struct ClientEntry {
    pub addr: String,
    pub laddr: String,
    pub created_ms: u64,
    pub last_ms: u64,
    pub db: usize,
    pub name: Option<bytes::Bytes>,
    pub resp: u8,
    /// The ACL user it runs as.
    pub user: bytes::Bytes,
    pub last_cmd: &'static str,
    /// What it was doing when it last ran commands.
    pub activity: Activity,
    pub kill: Arc<CloseRequest>,
    pub unblock: Arc<Unblock>,
}

/// Asks one session to end: CLIENT KILL, its user removed, or the node stopping. A flag and
/// the session's waker: a session waits on it at every read, and a `Notify` took a lock to
/// join its list of waiters and another to leave it (a tenth of an unpipelined GET's
/// instructions, with the node's stop, which now asks every session through this).
#[derive(Debug, Default)]
pub struct CloseRequest {
    asked: AtomicBool,
    waker: atomic_waker::AtomicWaker,
}

impl CloseRequest {
    pub fn ask(&self) {
        self.asked.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Completes once asked (at once if it was before).
    pub async fn asked(&self) {
        std::future::poll_fn(|cx| {
            if self.asked.load(Ordering::Acquire) {
                return std::task::Poll::Ready(());
            }
            self.waker.register(cx.waker());
            // Asked between the look and the registration: the wake may have missed it.
            if self.asked.load(Ordering::Acquire) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await
    }
}

/// What a client is doing, as CLIENT LIST shows it.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    /// Channels and patterns subscribed to.
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    /// Commands queued since MULTI (`None`: not in a transaction), and their bytes.
    pub multi: Option<usize>,
    pub multi_bytes: usize,
    pub blocked: bool,
    pub monitor: bool,
    /// CLIENT NO-EVICT ON.
    pub no_evict: bool,
    /// Its query buffer: bytes in it, and free in its allocation.
    pub query_bytes: usize,
    pub query_free: usize,
    /// Bytes of the command it is running.
    pub argv_bytes: usize,
    /// CLIENT TRACKING ON, redirected to this client (0: none).
    pub tracking: Option<u64>,
}

impl Activity {
    /// Redis's flag letters (`N` for none).
    fn flags(&self) -> String {
        let mut f = String::new();
        for (on, letter) in [
            (self.monitor, 'O'),
            (self.sub + self.psub + self.ssub > 0, 'P'),
            (self.multi.is_some(), 'x'),
            (self.blocked, 'b'),
            (self.no_evict, 'e'),
            (self.tracking.is_some(), 't'),
        ] {
            if on {
                f.push(letter);
            }
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }
}

impl ClientEntry {
    /// Its CLIENT LIST line (without the line end), with Redis 7.0's fields in Redis's order.
    pub fn line(&self, id: u64, now_ms: u64) -> String {
        let a = &self.activity;
        let name = self
            .name
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let read_buffer = a.query_bytes + a.query_free;
        let total = read_buffer + a.argv_bytes + a.multi_bytes;
        format!(
            "id={id} addr={} laddr={} fd=0 name={name} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={read_buffer} rbp={read_buffer} obl=0 oll=0 omem=0 tot-mem={total} events=r cmd={} user={} redir={} resp={}",
            self.addr,
            self.laddr,
            now_ms.saturating_sub(self.created_ms) / 1000,
            now_ms.saturating_sub(self.last_ms) / 1000,
            a.flags(),
            self.db,
            a.sub,
            a.psub,
            a.ssub,
            a.multi.map_or(-1, |n| n as i64),
            a.query_bytes,
            a.query_free,
            a.argv_bytes,
            a.multi_bytes,
            if self.last_cmd.is_empty() {
                "NULL"
            } else {
                self.last_cmd
            },
            String::from_utf8_lossy(&self.user),
            a.tracking.map_or(-1, |r| r as i64),
            self.resp,
        )
    }

    /// CLIENT KILL TYPE and CLIENT LIST TYPE: `normal` or `pubsub` (gdc has no replica or
    /// master clients: its regions replicate over sync channels).
    pub fn kind(&self) -> &'static str {
        if self.activity.sub + self.activity.psub + self.activity.ssub > 0 {
            "pubsub"
        } else {
            "normal"
        }
    }
}

/// How CLIENT UNBLOCK reaches a client waiting in a blocking command.
#[derive(Debug, Default)]
pub struct Unblock {
    waiting: AtomicBool,
    /// Answer with an error rather than as if the command had timed out.
    error: AtomicBool,
    notify: Notify,
}

impl Unblock {
    /// The client starts (`true`) or stops waiting.
    pub fn set_waiting(&self, waiting: bool) {
        self.waiting.store(waiting, Ordering::Relaxed);
    }

    /// CLIENT UNBLOCK: end the wait, as a timeout or (`error`) with an error; whether the
    /// client was waiting.
    pub fn unblock(&self, error: bool) -> bool {
        if !self.waiting.load(Ordering::Relaxed) {
            return false;
        }
        self.error.store(error, Ordering::Relaxed);
        self.notify.notify_one();
        true
    }

    /// Completes when CLIENT UNBLOCK asks; then whether it asked for an error.
    pub async fn requested(&self) -> bool {
        self.notify.notified().await;
        self.error.swap(false, Ordering::Relaxed)
    }
}

/// Every connected client.
#[derive(Debug)]
pub struct Clients {
    max: usize,
    connected: AtomicUsize,
    next_id: AtomicU64,
    blocked: AtomicUsize,
    commands_processed: AtomicU64,
    /// Connections accepted, and those refused at `maxclients` (INFO stats).
    received: AtomicU64,
    rejected: AtomicU64,
    listing: Mutex<BTreeMap<u64, ClientEntry>>,
    /// CLIENT PAUSE in force, if any.
    pause: Mutex<Option<Pause>>,
    /// The pause's end (Unix ms; 0: none), read without the lock by every command.
    pause_until_ms: AtomicU64,
    /// CLIENT UNPAUSE wakes the paused clients.
    unpaused: Notify,
    /// The node stops: every session is asked to close, and one that registers now too.
    closing: AtomicBool,
}

/// A CLIENT PAUSE: until when (Unix ms), and whether only writes wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub until_ms: u64,
    pub writes_only: bool,
}

impl Clients {
    /// Clients, at most `max` connected at once (`maxclients`).
    pub fn new(max: usize) -> Clients {
        Clients {
            max,
            connected: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            blocked: AtomicUsize::new(0),
            commands_processed: AtomicU64::new(0),
            received: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            listing: Mutex::new(BTreeMap::new()),
            pause: Mutex::new(None),
            pause_until_ms: AtomicU64::new(0),
            unpaused: Notify::new(),
            closing: AtomicBool::new(false),
        }
    }

    fn pause_state(&self) -> MutexGuard<'_, Option<Pause>> {
        self.pause.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// CLIENT PAUSE: a pause already in force is only ever made longer or stricter.
    pub fn pause(&self, until_ms: u64, writes_only: bool) {
        let mut p = self.pause_state();
        let now = match *p {
            Some(old) => Pause {
                until_ms: old.until_ms.max(until_ms),
                writes_only: old.writes_only && writes_only,
            },
            None => Pause {
                until_ms,
                writes_only,
            },
        };
        *p = Some(now);
        self.pause_until_ms.store(now.until_ms, Ordering::Relaxed);
    }

    /// CLIENT UNPAUSE.
    pub fn unpause(&self) {
        *self.pause_state() = None;
        self.pause_until_ms.store(0, Ordering::Relaxed);
        self.unpaused.notify_waiters();
    }

    /// The pause in force at `now`, if any.
    pub fn paused(&self, now_ms: u64) -> Option<Pause> {
        let mut p = self.pause_state();
        if p.is_some_and(|p| p.until_ms <= now_ms) {
            *p = None;
        }
        *p
    }

    /// Until when a command must wait, if it must (`writes`: whether it writes, asked only
    /// while a pause is on). Every command asks: without a pause, no lock is taken.
    pub fn paused_until(&self, now_ms: u64, writes: impl FnOnce() -> bool) -> Option<u64> {
        if self.pause_until_ms.load(Ordering::Relaxed) <= now_ms {
            return None;
        }
        let p = self.paused(now_ms)?;
        (!p.writes_only || writes()).then_some(p.until_ms)
    }

    /// Completes at CLIENT UNPAUSE.
    pub fn unpaused(&self) -> tokio::sync::futures::Notified<'_> {
        self.unpaused.notified()
    }

    /// Count a new connection, unless `maxclients` are connected already.
    pub fn try_connect(&self) -> bool {
        self.received.fetch_add(1, Ordering::Relaxed);
        if self.connected.fetch_add(1, Ordering::Relaxed) >= self.max {
            self.connected.fetch_sub(1, Ordering::Relaxed);
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Connections received since start (`total_connections_received`), and of them those
    /// refused at `maxclients` (`rejected_connections`).
    pub fn connections(&self) -> (u64, u64) {
        (
            self.received.load(Ordering::Relaxed),
            self.rejected.load(Ordering::Relaxed),
        )
    }

    /// `maxclients`.
    pub fn max(&self) -> usize {
        self.max
    }

    /// List a connected client under a new id (returned).
    pub fn register(&self, entry: ClientEntry) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut listing = self.listing();
        // Under the listing's lock, as `close_all` asks: no session slips between the two.
        if self.closing.load(Ordering::Relaxed) {
            entry.kill.ask();
        }
        listing.insert(id, entry);
        id
    }

    /// The node stops: every session is asked to close (it finishes what it is writing),
    /// and so is any that registers after this.
    pub fn close_all(&self) {
        let listing = self.listing();
        self.closing.store(true, Ordering::Relaxed);
        for entry in listing.values() {
            entry.kill.ask();
        }
    }

    /// A client counted by [`Clients::try_connect`] went.
    pub fn gone(&self, id: u64) {
        self.listing().remove(&id);
        self.connected.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn connected(&self) -> usize {
        self.connected.load(Ordering::Relaxed)
    }

    /// Each client's listing, by id.
    /// What the clients' buffers hold (INFO's `mem_clients_normal`: their CLIENT LIST
    /// `tot-mem`, as of their last batch).
    pub fn memory_bytes(&self) -> u64 {
        self.listing()
            .values()
            .map(|e| {
                let a = &e.activity;
                (a.query_bytes + a.query_free + a.argv_bytes + a.multi_bytes) as u64
            })
            .sum()
    }

    pub fn listing(&self) -> MutexGuard<'_, BTreeMap<u64, ClientEntry>> {
        self.listing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A client starts (`true`) or stops waiting in a blocking command.
    pub fn set_blocked(&self, blocked: bool) {
        if blocked {
            self.blocked.fetch_add(1, Ordering::Relaxed);
        } else {
            self.blocked.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn blocked(&self) -> usize {
        self.blocked.load(Ordering::Relaxed)
    }

    pub fn count_commands(&self, n: u64) {
        self.commands_processed.fetch_add(n, Ordering::Relaxed);
    }

    pub fn commands_processed(&self) -> u64 {
        self.commands_processed.load(Ordering::Relaxed)
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self) {
        self.commands_processed.store(0, Ordering::Relaxed);
        self.received.store(0, Ordering::Relaxed);
        self.rejected.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> ClientEntry {
        ClientEntry {
            addr: String::new(),
            laddr: String::new(),
            created_ms: 0,
            last_ms: 0,
            db: 0,
            name: None,
            resp: 2,
            user: bytes::Bytes::from_static(b"default"),
            last_cmd: "",
            activity: Activity::default(),
            kill: Arc::default(),
            unblock: Arc::default(),
        }
    }

    fn asked(request: &CloseRequest) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        std::pin::pin!(request.asked()).poll(&mut cx).is_ready()
    }

    /// The node's stop reaches the sessions registered before it, and one that registers
    /// after it (spawned before the stop, first run after): none waits on.
    #[test]
    fn closing_all_asks_every_session_and_those_that_come_after() {
        let clients = Clients::new(10);
        let (before, after, other) = (entry(), entry(), entry());
        let (kill_before, kill_after) = (Arc::clone(&before.kill), Arc::clone(&after.kill));
        clients.register(before);
        assert!(!asked(&kill_before));
        let other_kill = Arc::clone(&other.kill);
        let other_id = clients.register(other);
        clients.listing()[&other_id].kill.ask();
        assert!(asked(&other_kill) && !asked(&kill_before));
        clients.close_all();
        assert!(asked(&kill_before));
        clients.register(after);
        assert!(asked(&kill_after));
    }
}
