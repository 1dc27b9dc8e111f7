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
    pub last_cmd: String,
    pub kill: Arc<Notify>,
    pub unblock: Arc<Unblock>,
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
        }
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
        self.listing().insert(id, entry);
        id
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
