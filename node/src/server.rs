//! The node and its RESP server: opens the data directory, accepts clients (each served by
//! [`crate::session`], which runs each batch of pipelined commands under the store lock and
//! makes it durable per `appendfsync` before replying), and runs the periodic upkeep: fsync
//! every second, expiry, binlog retention.

use crate::config::Config;
use crate::store::{Store, StoreError, now_ms};
use crate::sync::coordinated::Attachment;
use gdc_crdt::VersionVector;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

/// At most this many expired keys are removed per 100 ms cycle, so the cycle never holds
/// the store lock long.
const EXPIRED_PER_CYCLE_MAX: usize = 2000;

/// A full garbage collection (counter reset records inside hashes and sorted sets) runs
/// every this many expiry cycles: once a minute.
const FULL_GC_EVERY_CYCLES: u64 = 600;

/// What every connection shares besides the store.
#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    pub clients: AtomicUsize,
    pub next_client_id: AtomicU64,
    pub commands_processed: AtomicU64,
    pub started_ms: u64,
    /// CONFIG SET values, reported back by CONFIG GET.
    pub config_overrides: Mutex<BTreeMap<String, String>>,
    pub snapshots: Arc<SnapshotState>,
    /// SHUTDOWN asks the server loop to stop.
    pub shutdown: tokio::sync::Notify,
    pub pubsub: crate::pubsub::PubSub,
    /// Woken after every batch that wrote: blocked clients (BLPOP) look again.
    pub written: tokio::sync::Notify,
    /// Clients waiting in a blocking command.
    pub blocked: AtomicUsize,
    /// `maxmemory` in force (CONFIG SET changes it at run time); 0: no limit.
    pub memory_bytes_max: AtomicU64,
    /// Every connected client, for CLIENT LIST and CLIENT KILL.
    pub registry: Mutex<BTreeMap<u64, ClientEntry>>,
    /// Sync channels, in and out.
    pub sync: crate::sync::SyncState,
    /// The data directory's metadata store.
    pub meta: sled::Db,
    /// Changes whenever committed writes reach the binlog: subscribers read on.
    pub binlog_tail: watch::Sender<u64>,
}

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
    pub kill: Arc<tokio::sync::Notify>,
}

impl Shared {
    pub fn clients(&self) -> MutexGuard<'_, BTreeMap<u64, ClientEntry>> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Snapshot bookkeeping shared with the BGSAVE thread.
#[derive(Debug, Default)]
pub struct SnapshotState {
    pub running: std::sync::atomic::AtomicBool,
    /// Unix seconds of the last snapshot written (LASTSAVE).
    pub last_ok_secs: AtomicU64,
    /// Snapshots written, as (binlog segment begun after it, applied vector it holds): the
    /// segments before it may go once every peer reading from this node has them.
    pub covered: Mutex<Vec<(u64, VersionVector)>>,
}

/// A snapshot is taken automatically once the binlog has grown this much since the last.
pub const SNAPSHOT_AFTER_BINLOG_BYTES: u64 = 256 * 1024 * 1024;

impl Shared {
    /// Start a background snapshot (BGSAVE): the state is copied under the store lock, then
    /// written on a thread of its own. `false` when one is already running.
    pub fn start_bgsave(&self, store: &mut Store) -> Result<bool, crate::binlog::BinlogError> {
        if self.snapshots.running.swap(true, Ordering::AcqRel) {
            return Ok(false);
        }
        let (seq, snap) = match store.begin_snapshot() {
            Ok(x) => x,
            Err(e) => {
                self.snapshots.running.store(false, Ordering::Release);
                return Err(e);
            }
        };
        let dir = store.dir().to_path_buf();
        let state = Arc::clone(&self.snapshots);
        std::thread::spawn(move || {
            match crate::store::snapshot_done(&dir, seq, &snap) {
                Ok(()) => {
                    state.last_ok_secs.store(now_ms() / 1000, Ordering::Relaxed);
                    // Removed by the next expiry cycle, once peers have them.
                    state
                        .covered
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((seq, snap.applied));
                }
                Err(e) => error!(error = %e, "background snapshot failed"),
            }
            state.running.store(false, Ordering::Release);
        });
        Ok(true)
    }

    /// A snapshot was written (SAVE): see [`SnapshotState::covered`].
    pub fn snapshot_written(&self, seq: u64, applied: VersionVector) {
        self.snapshots
            .covered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((seq, applied));
        self.release_segments();
    }

    /// Remove the binlog segments the newest snapshot possible covers, of those every
    /// region that has subscribed to this node since it started has acknowledged.
    pub fn release_segments(&self) {
        let mut covered = self
            .snapshots
            .covered
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if covered.is_empty() {
            return;
        }
        // Saved first: after a restart, the regions this decision waited for are still known.
        if let Err(e) = self.sync.save_acked(&self.meta) {
            error!(error = %e, "cannot save channel acknowledgements; keeping the binlog");
            return;
        }
        let acked = self.sync.acked();
        // A reader is never sent its own ops: those need no acknowledgement.
        let has_all = |(reader, has): &(u32, VersionVector), vv: &VersionVector| {
            vv.iter().all(|(s, op)| s.0 == *reader || has.get(s) >= op)
        };
        let released = covered
            .iter()
            .filter(|(_, vv)| acked.values().all(|a| has_all(a, vv)))
            .map(|(seq, _)| *seq)
            .max();
        // Regions without everything the newest snapshot covers (named if they are cut off).
        let lagging: Vec<String> = covered
            .iter()
            .max_by_key(|(seq, _)| *seq)
            .map(|(_, vv)| {
                acked
                    .iter()
                    .filter(|(_, a)| !has_all(a, vv))
                    .map(|(region, _)| region.clone())
                    .collect()
            })
            .unwrap_or_default();
        drop(acked);
        let newest = covered.iter().map(|(seq, _)| *seq).max().unwrap_or(0);
        // Regions that have not acknowledged hold the binlog back, up to the limits: past
        // them it goes all the same, and those regions will need a full sync.
        let forced = if released == Some(newest) {
            None
        } else {
            self.retention_forces(&covered, newest)
        };
        let seq = match (released, forced) {
            (_, Some((seq, why))) if Some(seq) > released => {
                warn!(
                    regions = ?lagging,
                    "binlog {why}: removing segments some regions lack (they will need a full sync)"
                );
                seq
            }
            (Some(seq), _) => seq,
            (None, _) => return,
        };
        // Said before the files go: a subscriber is never served from a binlog with a hole.
        let base = covered
            .iter()
            .find(|(s, _)| *s == seq)
            .map(|(_, vv)| vv.clone());
        covered.retain(|(s, _)| *s > seq);
        drop(covered);
        self.remove_binlog_before(seq, base.unwrap_or_default());
    }

    /// The newest snapshot (of `covered`) before which the binlog must go whoever lacks it,
    /// and why: what is held before `newest` is over `binlog-retention-bytes`, or every
    /// segment before it was last written longer ago than `binlog-retention-secs`.
    fn retention_forces(
        &self,
        covered: &[(u64, VersionVector)],
        newest: u64,
    ) -> Option<(u64, String)> {
        let held: Vec<(u64, std::fs::Metadata)> =
            crate::binlog::segments(&self.config.dir.join("binlog"))
                .unwrap_or_default()
                .into_iter()
                .filter(|(s, _)| *s < newest)
                .filter_map(|(s, p)| std::fs::metadata(p).ok().map(|m| (s, m)))
                .collect();
        let (bytes_max, secs_max) = (
            self.config.binlog_retention_bytes,
            self.config.binlog_retention_secs,
        );
        let bytes: u64 = held.iter().map(|(_, m)| m.len()).sum();
        if bytes_max > 0 && bytes > bytes_max {
            return Some((
                newest,
                format!("holds {bytes} bytes, over its limit of {bytes_max}"),
            ));
        }
        let old = |m: &std::fs::Metadata| {
            m.modified()
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() >= secs_max)
        };
        let all_old_before = |c: u64| {
            let before: Vec<_> = held.iter().filter(|(s, _)| *s < c).collect();
            !before.is_empty() && before.iter().all(|(_, m)| old(m))
        };
        let seq = covered
            .iter()
            .map(|(s, _)| *s)
            .filter(|&c| secs_max > 0 && all_old_before(c))
            .max()?;
        Some((seq, format!("older than its limit of {secs_max} s")))
    }

    /// Whether this node never exchanges ops with other regions (no sync port, no peers).
    pub fn alone(&self) -> bool {
        alone(&self.config)
    }

    /// A full sync was merged and snapshot `seq` written with it: the binlog before it has
    /// a hole (the ops the full sync brought are not in it), so it goes now.
    pub fn full_sync_saved(&self, seq: u64, applied: VersionVector) {
        self.snapshots
            .covered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(s, _)| *s > seq);
        self.remove_binlog_before(seq, applied);
    }

    /// Remove the binlog segments before `seq`, the first of which starts after `base`.
    pub fn remove_binlog_before(&self, seq: u64, base: VersionVector) {
        if let Err(e) = crate::store::set_binlog_base(&self.meta, seq, &base) {
            error!(error = %e, "cannot record where the binlog starts; keeping it");
            return;
        }
        match crate::binlog::remove_before(&self.config.dir.join("binlog"), seq) {
            Ok(n) => info!(
                before = seq,
                removed_segments = n,
                "removed binlog segments"
            ),
            Err(e) => error!(error = %e, "cannot remove binlog segments"),
        }
    }
}

/// The coordinators that run this node: its flags', or those GDC.ATTACH saved in its data
/// directory (a node attached at run time stays attached when restarted with its old flags).
fn attachment(config: &Config, meta: &sled::Db) -> Result<Option<Attachment>, StoreError> {
    let saved = Attachment::saved(meta).map_err(StoreError::Attachment)?;
    if !config.coordinators.is_empty() {
        return Ok(Some(Attachment {
            coordinators: config.coordinators.clone(),
            instance: config.instance.clone().unwrap_or_default(),
            region: config.region.clone(),
        }));
    }
    let Some(saved) = saved else {
        return Ok(None);
    };
    let refuse = |why: &str| {
        Err(StoreError::Attachment(format!(
            "this node was attached to {saved} by GDC.ATTACH, and now: {why}"
        )))
    };
    if saved.region != config.region {
        return refuse(&format!("it is started as region '{}'", config.region));
    }
    if let Some(why) = Attachment::unfit(config) {
        return refuse(why);
    }
    info!(attachment = %saved, "run by the coordinators GDC.ATTACH saved");
    Ok(Some(saved))
}

/// Whether a node with this config never exchanges ops with other regions: then all it
/// applied is stable at once.
fn alone(config: &Config) -> bool {
    config.peers.is_empty() && config.sync_port.is_none()
}

impl Shared {
    /// Every parameter CONFIG GET reports, by its redis.conf name.
    pub fn config_params(&self) -> Vec<(String, String)> {
        let c = &self.config;
        let mut m: BTreeMap<String, String> = [
            ("bind", c.bind.clone()),
            ("port", c.port.to_string()),
            ("dir", c.dir.display().to_string()),
            ("requirepass", c.requirepass.clone().unwrap_or_default()),
            ("appendonly", "yes".into()),
            ("appendfsync", c.appendfsync.name().into()),
            ("proto-max-bulk-len", c.limits.bulk_bytes_max.to_string()),
            ("maxclients", c.clients_max.to_string()),
            (
                "client-query-buffer-limit",
                c.query_buffer_bytes_max.to_string(),
            ),
            ("databases", crate::store::DATABASES.to_string()),
            (
                "maxmemory",
                self.memory_bytes_max.load(Ordering::Relaxed).to_string(),
            ),
            ("maxmemory-policy", "noeviction".into()),
            ("save", String::new()),
            ("timeout", "0".into()),
            ("region", c.region.clone()),
            (
                "sync-port",
                c.sync_port.map_or(String::new(), |p| p.to_string()),
            ),
            (
                "sync-compression",
                if c.sync_compression {
                    "deflate"
                } else {
                    "none"
                }
                .into(),
            ),
            (
                "binlog-retention-bytes",
                c.binlog_retention_bytes.to_string(),
            ),
            (
                "anti-entropy-interval-ms",
                c.anti_entropy_interval_ms.to_string(),
            ),
            (
                "enable-debug-command",
                if c.debug_command { "yes" } else { "no" }.into(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let overrides = self
            .config_overrides
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (k, v) in overrides.iter() {
            m.insert(k.clone(), v.clone());
        }
        m.into_iter().collect()
    }
}

/// A running node: its store and shared state.
#[derive(Debug)]
pub struct Node {
    store: Mutex<Store>,
    shared: Shared,
}

impl Node {
    /// Open the data directory (replaying the binlog).
    pub fn open(config: Config) -> Result<Arc<Node>, StoreError> {
        let memory_bytes_max = config.memory_bytes_max;
        // A node that may exchange ops with other regions keeps removal knowledge until they
        // all have it (see Store::set_stable).
        let store = Store::open(&config.dir, config.appendfsync, alone(&config))?;
        let meta = store.meta();
        let sync = crate::sync::SyncState::default();
        if let Some(a) = attachment(&config, &meta)? {
            // Fenced until the coordinator says this node is its region's primary: a
            // primary that was replaced while it was down must not take writes on return.
            sync.set_role(crate::sync::Role::Secondary);
            sync.set_place(crate::sync::Place::Follows(None));
            sync.attachment.send_replace(Some(a));
        }
        if let Err(e) = sync.load_acked(&meta) {
            warn!(error = %e, "cannot load saved channel acknowledgements");
        }
        Ok(Arc::new(Node {
            store: Mutex::new(store),
            shared: Shared {
                config,
                clients: AtomicUsize::new(0),
                next_client_id: AtomicU64::new(1),
                commands_processed: AtomicU64::new(0),
                started_ms: now_ms(),
                config_overrides: Mutex::new(BTreeMap::new()),
                snapshots: Arc::new(SnapshotState {
                    running: Default::default(),
                    last_ok_secs: AtomicU64::new(now_ms() / 1000),
                    covered: Mutex::new(Vec::new()),
                }),
                shutdown: tokio::sync::Notify::new(),
                pubsub: Default::default(),
                written: tokio::sync::Notify::new(),
                blocked: AtomicUsize::new(0),
                memory_bytes_max: AtomicU64::new(memory_bytes_max),
                registry: Mutex::new(BTreeMap::new()),
                sync,
                meta,
                binlog_tail: watch::Sender::new(0),
            },
        }))
    }

    /// Committed writes were made: blocked clients look again, subscribers read on.
    pub fn wrote(&self) {
        self.shared.written.notify_waiters();
        self.shared
            .binlog_tail
            .send_modify(|n| *n = n.wrapping_add(1));
    }

    /// What every connection shares.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The store, locked.
    pub fn lock_store(&self) -> MutexGuard<'_, Store> {
        self.store()
    }

    /// The store, if no one holds it now.
    pub fn try_lock_store(&self) -> Option<MutexGuard<'_, Store>> {
        match self.store.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half-written: every write is
        // logged and applied whole, so a poisoned lock is still safe to use.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Serve clients on `listener` until `shutdown` completes; then make the binlog durable.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let syncer = tokio::spawn(Arc::clone(&self).sync_every_second(stop_rx.clone()));
        let expirer = tokio::spawn(Arc::clone(&self).expire_cycle(stop_rx.clone()));
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.shared.shutdown.notified() => break,
                accepted = listener.accept() => match accepted {
                    Ok((socket, peer)) => {
                        let _ = socket.set_nodelay(true);
                        let node = Arc::clone(&self);
                        let stop = stop_rx.clone();
                        tokio::spawn(async move {
                            debug!(%peer, "client connected");
                            crate::session::serve(node, socket, stop).await;
                        });
                    }
                    Err(e) => {
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        let _ = stop_tx.send(true);
        let _ = syncer.await;
        let _ = expirer.await;
        let mut store = self.store();
        match store.commit().and_then(|()| store.sync()) {
            Ok(()) => {
                if let Err(e) = store.mark_clean_shutdown() {
                    error!(error = %e, "cannot note the clean shutdown");
                }
            }
            Err(e) => error!(error = %e, "binlog sync at shutdown failed"),
        }
        if let Err(e) = self.shared.sync.save_acked(&self.shared.meta) {
            error!(error = %e, "cannot save channel acknowledgements");
        }
        info!("shut down");
    }

    async fn sync_every_second(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            // fsync off the runtime thread and outside the store lock: a slow disk must not
            // stall the clients (Redis also syncs its AOF in a background thread).
            let handle = self.store().sync_handle();
            if let Some(file) = handle {
                match tokio::task::spawn_blocking(move || file.sync_data()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => error!(error = %e, "binlog fsync failed"),
                    Err(e) => error!(error = %e, "binlog fsync task failed"),
                }
            }
        }
    }

    /// Once a second (it may list the binlog directory, so not on every cycle): save what
    /// subscribers acknowledged, remove the binlog that frees, and tell the store what every
    /// region has applied (up to which removal knowledge may go).
    fn channel_upkeep(&self) {
        if let Err(e) = self.shared.sync.save_acked(&self.shared.meta) {
            error!(error = %e, "cannot save channel acknowledgements");
        }
        self.shared.release_segments();
        if !self.shared.alone() {
            let mut store = self.store();
            let stable = self.shared.sync.stable(store.applied());
            store.set_stable(stable);
        }
    }

    /// Remove expired keys ten times a second, as Redis's active expiry does: a key past its
    /// expiry already reads as missing; removing it frees memory and replicates the removal.
    async fn expire_cycle(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        for cycle in 1u64.. {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            if cycle % 10 == 0 {
                self.channel_upkeep();
            }
            let mut store = self.store();
            if cycle % FULL_GC_EVERY_CYCLES == 0 {
                store.gc_all();
            }
            // A secondary leaves expiry to its primary (as a Redis replica does): its own
            // deletes would reach no one, and could remove what an EXPIRE on the way extends.
            // Reads hide expired keys either way.
            let removed = if self.shared().sync.role() == crate::sync::Role::Secondary {
                0
            } else {
                let grace = self.shared().config.expire_grace_ms;
                let now = now_ms();
                let caught_up = self.shared().sync.caught_up_until_ms().unwrap_or(now);
                store.remove_expired(now, caught_up, grace, EXPIRED_PER_CYCLE_MAX)
            };
            if removed > 0 || crate::testing::ack_before_write() {
                debug!(removed, "removed expired keys");
                if let Err(e) = store.commit() {
                    error!(error = %e, "binlog commit failed");
                }
                drop(store);
                self.wrote();
            }
        }
    }
}
