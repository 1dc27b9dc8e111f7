//! The engine: a node's data and everything that keeps it. It depends on nothing above it
//! (no RESP, no channels, no commands).
//!
//! - [`store`]: the databases, the node's identity and clock, its applied vector; every
//!   write and every remote effect goes through it, under the engine's one lock.
//! - [`binlog`]: the durable log of effects, which senders follow to ship them.
//! - [`snapshot`]: snapshots, and [`retention`] the binlog segments they let go.
//! - [`meta`]: the data directory's small records, each with a typed get and put.
//! - [`acks`]: what each reader of the binlog acknowledged (what retention waits for).
//! - [`stats`]: per-command counters (INFO commandstats), conflict counters, the
//!   [`slowlog`] and the [`latency`] monitor, kept under the store's lock; [`conflicts`]
//!   the sample log of conflicts the rules resolved.
//!
//! [`Engine`] owns them: the store behind its lock, the notifications a write gives
//! (blocked clients look again, senders read on), snapshots and retention.

pub mod acks;
pub mod binlog;
pub mod conflicts;
pub mod eviction;
pub mod latency;
pub mod meta;
pub mod retention;
pub mod slowlog;
pub mod snapshot;
pub mod stats;
pub mod store;

use acks::Acks;
use meta::Meta;
use retention::Retention;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use store::{Store, StoreError};
use tokio::sync::Notify;
use tracing::error;

/// How to open an engine.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    pub dir: PathBuf,
    pub appendfsync: binlog::Fsync,
    /// The node never exchanges ops with other regions: all it applies is stable at once.
    pub alone: bool,
    /// Binlog retention limits (0: none): past them, segments go whoever lacks them.
    pub binlog_retention_bytes: u64,
    pub binlog_retention_secs: u64,
}

/// A node's data: the store behind its lock, and what tells others it changed.
#[derive(Debug)]
pub struct Engine {
    store: Mutex<Store>,
    meta: Meta,
    acks: Acks,
    retention: Retention,
    /// Woken when what a client waits for other than a key may have come (WAIT: an
    /// acknowledgement; a change of users: the coordinators' answer). Clients blocked on
    /// keys are woken by their keys' changes ([`crate::notify::blocked`]).
    signalled: Notify,
    /// Woken whenever committed writes reach the binlog: senders read on. (A plain
    /// `Notify`: a watch channel wakes through eight, at every batch that writes.)
    tail: Notify,
    alone: bool,
    /// The script running now (holding the store lock), if one is.
    busy: crate::script::busy::Busy,
}

impl Engine {
    /// Open the data directory: the store (replaying the binlog), and the acknowledgements
    /// saved before a restart.
    pub fn open(options: EngineOptions) -> Result<Engine, StoreError> {
        let store = Store::open(&options.dir, options.appendfsync, options.alone)?;
        let meta = store.meta();
        let acks = Acks::default();
        if let Err(e) = acks.load(&meta) {
            tracing::warn!(error = %e, "cannot load saved channel acknowledgements");
        }
        Ok(Engine {
            store: Mutex::new(store),
            meta,
            acks,
            retention: Retention::new(&options),
            signalled: Notify::new(),
            tail: Notify::new(),
            alone: options.alone,
            busy: crate::script::busy::Busy::default(),
        })
    }

    /// The script running now. Code on the runtime waits for its end
    /// ([`crate::script::busy::Busy::until_free`]) before it locks the store, so that it never
    /// blocks the runtime's thread on a script.
    pub fn busy(&self) -> &crate::script::busy::Busy {
        &self.busy
    }

    /// The store, locked on the runtime: a running script is waited for without blocking
    /// the thread.
    pub async fn lock_store_when_free(&self) -> MutexGuard<'_, Store> {
        self.busy.until_free().await;
        self.lock_store()
    }

    /// The store, locked.
    pub fn lock_store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half-written: every write is
        // logged and applied whole, so a poisoned lock is still safe to use.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The store, if no one holds it now.
    pub fn try_lock_store(&self) -> Option<MutexGuard<'_, Store>> {
        match self.store.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Apply frames from a peer, make them durable per `appendfsync`, and wake this node's
    /// own readers (clients blocked on the keys were woken as they changed).
    pub fn apply_remote_frames<F: AsRef<[u8]>>(
        &self,
        frames: &[F],
    ) -> Result<(store::RemoteApplied, gdc_crdt::VersionVector), String> {
        let mut store = self.lock_store();
        let applied = store.apply_remote(frames, store::now_ms());
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

    /// One round of eviction ([`Store::make_room`]) by `eviction` (`None`: the settings the
    /// store has), its evictions committed and told.
    pub fn make_room(&self, eviction: Option<eviction::Eviction>) -> store::Room {
        let mut store = self.lock_store();
        if let Some(e) = eviction {
            store.set_eviction(e);
        }
        let writes = store.writes;
        let room = store.make_room(store::now_ms());
        if store.writes != writes {
            if let Err(e) = store.commit() {
                error!(error = %e, "binlog commit failed");
            }
            drop(store);
            self.wrote();
        }
        room
    }

    /// Committed writes were made: senders read on.
    pub fn wrote(&self) {
        self.tail.notify_waiters();
    }

    /// Wake whoever waits on [`Engine::signalled`] (WAIT: an acknowledgement came).
    pub fn wake_waiters(&self) {
        self.signalled.notify_waiters();
    }

    /// Completes at the next [`Engine::wake_waiters`] (create it before looking, not to
    /// miss one).
    pub fn signalled(&self) -> tokio::sync::futures::Notified<'_> {
        self.signalled.notified()
    }

    /// Completes at the next [`Engine::wrote`]: what a sender waits on at the binlog's tail
    /// (enable it before reading, not to miss one).
    pub fn tail_moved(&self) -> tokio::sync::futures::Notified<'_> {
        self.tail.notified()
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    pub fn acks(&self) -> &Acks {
        &self.acks
    }

    pub fn retention(&self) -> &Retention {
        &self.retention
    }

    /// Whether this node never exchanges ops with other regions.
    pub fn alone(&self) -> bool {
        self.alone
    }

    /// Start a background snapshot (BGSAVE): `false` when one is already running.
    pub fn start_bgsave(&self, store: &mut Store) -> Result<bool, binlog::BinlogError> {
        self.retention.start_bgsave(store)
    }

    /// A snapshot begun if the binlog has grown enough since the last.
    fn snapshot_if_due(&self, store: &mut Store) {
        if retention::snapshot_due(store.binlog().appended_bytes()) {
            if let Err(e) = self.start_bgsave(store) {
                tracing::error!(error = %e, "could not start an automatic snapshot");
            }
        }
    }

    /// The end of a batch of commands: its records encoded, a snapshot begun if the binlog
    /// has grown enough since the last, and the commit left to the caller, who makes it
    /// with [`Engine::commit_through`] before its replies leave. Returns the commit count
    /// that covers
    /// what the binlog holds uncommitted (this batch's records, or others' the batch may
    /// have read), if it holds any.
    ///
    /// This is how a client's batch gets its binlog write grouped with every other client's
    /// that ran meanwhile (one write(2) for them all, as Redis writes its AOF once per event
    /// loop turn): the session yields before committing, so every other session that is
    /// ready runs its batch first.
    pub fn end_batch_uncommitted(&self, store: &mut Store) -> Option<u64> {
        // Done first: it encodes the batch's records, which the snapshot's measure of the
        // binlog's growth then counts.
        store.batch_done();
        self.snapshot_if_due(store);
        store.binlog().pending_commit()
    }

    /// Commit the binlog, unless commit `target` (from [`Engine::end_batch_uncommitted`])
    /// has happened already (another client's batch made it).
    pub fn commit_through(&self, target: u64) -> Result<(), binlog::BinlogError> {
        let mut store = self.lock_store();
        if store.binlog().committed(target) {
            return Ok(());
        }
        // The batch was told done when it ended (`end_batch_uncommitted`).
        store.commit_binlog()
    }

    /// A snapshot was written (SAVE): the binlog it covers may go once readers have it.
    pub fn snapshot_written(&self, seq: u64, applied: gdc_crdt::VersionVector) {
        self.retention.saved(seq, applied);
        self.release_segments();
    }

    /// Remove the binlog segments the newest snapshot possible covers (see
    /// [`Retention::release`]); the acknowledgements are saved first, so that after a
    /// restart the readers this decision waited for are still known.
    pub fn release_segments(&self) {
        if !self.retention.has_covered() {
            return;
        }
        if let Err(e) = self.acks.save(&self.meta) {
            error!(error = %e, "cannot save channel acknowledgements; keeping the binlog");
            return;
        }
        self.retention.release(&self.acks.copy(), &self.meta);
    }

    /// A full sync was merged and snapshot `seq` written with it: the binlog before it has
    /// a hole (the ops the full sync brought are not in it), so it goes now.
    pub fn full_sync_saved(&self, seq: u64, applied: gdc_crdt::VersionVector) {
        self.retention.forget_covered_until(seq);
        self.retention.remove_before(&self.meta, seq, applied);
    }

    /// Save what readers acknowledged, if it changed.
    pub fn save_acks(&self) {
        if let Err(e) = self.acks.save(&self.meta) {
            error!(error = %e, "cannot save channel acknowledgements");
        }
    }

    /// At shutdown: commit and sync the binlog, note the clean shutdown (the next start
    /// keeps the server-id), save the acknowledgements.
    pub fn close(&self) {
        let mut store = self.lock_store();
        match store.commit().and_then(|()| store.sync()) {
            Ok(()) => {
                if let Err(e) = store.mark_clean_shutdown() {
                    error!(error = %e, "cannot note the clean shutdown");
                }
            }
            Err(e) => error!(error = %e, "binlog sync at shutdown failed"),
        }
        drop(store);
        self.save_acks();
    }
}
