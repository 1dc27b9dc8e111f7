//! The node's data: its databases, identity, clock, applied vector and binlog. Every write
//! goes through [`Store::write`]: the effect is built from the key's state here, appended to
//! the binlog, then applied.

use crate::engine::binlog::{Binlog, BinlogError, Record};
use crate::engine::meta::{Meta, MetaError};
use gdc_crdt::{
    Conflicts, Dot, Effect, Hlc, HlcClock, KeyState, Keyspace, OpError, OpId, ServerId, Tag,
    VersionVector,
};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::warn;

/// Redis's 16 databases (`SELECT 0`..`SELECT 15`).
pub const DATABASES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Binlog(#[from] BinlogError),
    #[error(transparent)]
    Snapshot(#[from] crate::engine::snapshot::SnapshotError),
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error("{0}")]
    Attachment(String),
}

/// Unix time in milliseconds (shifted by `--test-clock-offset-ms`, which only tests set).
pub fn now_ms() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    ms.saturating_add_signed(crate::testing::clock_offset_ms())
}

#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    dbs: Vec<Keyspace>,
    server: ServerId,
    clock: HlcClock,
    /// Per origin, the last op applied here (our own included).
    applied: VersionVector,
    /// What every region this node exchanges ops with has applied (see
    /// [`Store::set_stable`]); `None` while it has no peers: then all it applied is stable.
    stable: Option<VersionVector>,
    binlog: Binlog,
    /// Writes since the last snapshot (INFO's rdb_changes_since_last_save).
    pub dirty: u64,
    /// Writes since start: a change tells blocked clients to look again.
    pub writes: u64,
    /// Records of a transaction being run (MULTI/EXEC), encoded, logged as one frame at its
    /// end.
    batch: Option<Vec<Vec<u8>>>,
    /// The size that batch's frame has so far.
    batch_bytes: usize,
    /// The data directory's small metadata store (server-id, channel acknowledgements).
    meta: Meta,
    /// What the commands did (INFO commandstats, errorstats, stats). Kept here because
    /// every command runs under this lock anyway.
    pub stats: super::stats::Stats,
    /// The sample of conflicts resolved, logged when `gdc-conflict-log` is on.
    conflict_log: super::conflicts::ConflictLog,
    /// Who hears of changed keys (keyspace notifications, client-side caching).
    observer: Option<std::sync::Arc<dyn KeyObserver>>,
    /// The client whose commands run now (its writes are told as its own).
    client: u64,
    /// Which expiries were told.
    announced: changes::Announced,
    /// The settings eviction and access tracking run by.
    eviction: crate::engine::eviction::Eviction,
    /// Eviction's counters.
    pub eviction_stats: evict::EvictionStats,
    /// Eviction's best candidates, kept between picks.
    pool: crate::engine::eviction::Pool,
    /// The database the random policies look at next.
    next_random_db: usize,
    /// The function libraries and loaded scripts every region shares.
    scripting: Scripting,
    /// Where the paced full collection ([`Store::gc_step`]) goes on: database, position.
    gc_cursor: (usize, usize),
}

/// A database with fewer keys is left to the caches (see [`Store::prefetch`]).
const PREFETCH_KEYS_MIN: usize = 10_000;

impl Store {
    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The parts of the store a record changes.
    fn state(&mut self) -> State<'_> {
        State {
            dbs: &mut self.dbs,
            scripting: &mut self.scripting,
            applied: &mut self.applied,
            stable: self.stable.as_ref(),
        }
    }

    /// Apply a write made here at `now` (a use of its key).
    fn apply_record(&mut self, rec: &Record, now: u64) {
        if let (Record::Flush { .. }, Some(o)) = (rec, self.listener()) {
            o.flushed();
        }
        let access = self.eviction.access;
        self.state().apply(rec, false, |w| access.write(w, now));
    }

    /// Apply an op received from another region, counting (and sampling to the log) the
    /// conflicts the merge rules resolved.
    fn apply_received(&mut self, rec: &Record, now: u64) {
        let observer = self.listener().cloned();
        let describe = observer.as_ref().is_some_and(|o| o.describes());
        let existed = match rec {
            Record::Key { db, key, .. } if describe => self.get(*db as usize, key, now).is_some(),
            _ => false,
        };
        // Another region's write is a use of the key here too.
        let access = self.eviction.access;
        let found = self.state().apply(rec, true, |w| access.write(w, now));
        self.note_remote_eviction(rec);
        if let Some(o) = observer {
            match rec {
                Record::Key {
                    db, key, effect, ..
                } => {
                    let after = describe.then(|| self.get(*db as usize, key, now)).flatten();
                    let change = Change::Remote {
                        effect,
                        existed,
                        after,
                    };
                    o.changed(*db as usize, key, change);
                }
                Record::Flush { .. } => o.flushed(),
                Record::Scripting { .. } => {}
            }
        }
        if found.is_empty() {
            return;
        }
        self.stats.conflicts.record(found);
        if let Record::Key { db, key, .. } = rec {
            let origin = rec.dot().server;
            let now = std::time::Instant::now();
            self.conflict_log
                .resolved(found, *db, key, origin, self.server, now);
        }
    }

    /// `gdc-conflict-log`: whether resolved conflicts are sampled to the log.
    pub fn set_conflict_log(&mut self, on: bool) {
        self.conflict_log.set_enabled(on);
    }

    /// Note in the metadata store that the binlog is complete and on disk: the next start
    /// keeps this server-id. Call last, after [`Store::sync`].
    pub fn mark_clean_shutdown(&self) -> Result<(), StoreError> {
        Ok(self.meta.mark_clean_shutdown()?)
    }

    /// The metadata store (a handle: it may be kept and used without the store lock).
    pub fn meta(&self) -> Meta {
        self.meta.clone()
    }

    pub fn server(&self) -> ServerId {
        self.server
    }

    pub fn applied(&self) -> &VersionVector {
        &self.applied
    }

    pub fn clock(&self) -> &HlcClock {
        &self.clock
    }

    pub fn binlog(&self) -> &Binlog {
        &self.binlog
    }

    pub fn db(&self, db: usize) -> &Keyspace {
        &self.dbs[db]
    }

    /// A database's bucket digests (counting the keys changed since they were last read).
    pub fn bucket_digests(&mut self, db: usize) -> Vec<u64> {
        self.dbs[db].bucket_digests().to_vec()
    }

    /// A database's digest (GDC.DIGEST).
    pub fn digest(&mut self, db: usize) -> u64 {
        self.dbs[db].digest()
    }

    /// A key as a reader sees it at `now`: `None` when absent or expired. The read is no
    /// use of the key (OBJECT, TYPE, EXISTS, TTL): see [`Store::get_used`].
    /// See [`gdc_crdt::Keyspace::prefetch`]: only where the keys outgrow the CPU's caches
    /// (in a small database it would only look each key up twice).
    pub fn prefetch(&self, db: usize, keys: &[&[u8]]) {
        let space = &self.dbs[db];
        if space.len() >= PREFETCH_KEYS_MIN {
            space.prefetch(keys);
        }
    }

    pub fn get(&self, db: usize, key: &[u8], now: u64) -> Option<&KeyState> {
        self.dbs[db].get(key).filter(|k| k.exists(now))
    }

    /// [`Store::get`] for a command that uses the key: noted in its access word, which the
    /// eviction policy ranks keys by.
    pub fn get_used(&self, db: usize, key: &[u8], now: u64) -> Option<&KeyState> {
        let access = self.eviction.access;
        self.dbs[db]
            .get_touched(key, |w| access.read(w, now))
            .filter(|k| k.exists(now))
    }

    fn next_op(&self) -> OpId {
        OpId(self.applied.get(self.server).0 + 1)
    }

    /// Make a write: `build` turns the key's state here, the time and a fresh tag into an
    /// effect (or nothing to do, or a refusal). The effect is logged, then applied.
    pub fn write<T>(
        &mut self,
        db: usize,
        key: &[u8],
        now: u64,
        build: impl FnOnce(Option<&KeyState>, u64, Tag) -> Result<(Option<Effect>, T), OpError>,
    ) -> Result<T, WriteError> {
        // Looked up only for a listener that needs it: a write told to no one, or only to
        // blocked clients and client caches, costs no more lookups.
        let describe = self.listener().is_some_and(|o| o.describes());
        let existed = describe && self.get(db, key, now).is_some();
        let out = self.write_untold(db, key, now, build)?;
        if let Some(o) = self.listener() {
            let created = describe && !existed && self.get(db, key, now).is_some();
            let client = self.client;
            o.changed(db, key, Change::Command { client, created });
        }
        Ok(out)
    }

    /// [`Store::write`], told to no one (the removal of an expired key, told when it
    /// expired).
    fn write_untold<T>(
        &mut self,
        db: usize,
        key: &[u8],
        now: u64,
        build: impl FnOnce(Option<&KeyState>, u64, Tag) -> Result<(Option<Effect>, T), OpError>,
    ) -> Result<T, WriteError> {
        self.write_record(db, key, now, false, build)
    }

    /// Build, log and apply one write; `evicted`: it is an eviction.
    fn write_record<T>(
        &mut self,
        db: usize,
        key: &[u8],
        now: u64,
        evicted: bool,
        build: impl FnOnce(Option<&KeyState>, u64, Tag) -> Result<(Option<Effect>, T), OpError>,
    ) -> Result<T, WriteError> {
        let state = self.dbs[db].get(key);
        let floor = state.map_or(Hlc::ZERO, KeyState::max_hlc);
        let op = self.next_op();
        let tag = Tag::new(
            Dot::new(self.server, op, 0),
            self.clock.tick_after(now, floor),
        );
        let (effect, out) = build(state, now, tag).map_err(WriteError::Refused)?;
        if let Some(effect) = effect {
            let rec = Record::Key {
                db: db as u32,
                key: gdc_crdt::Blob::from(key),
                effect,
                evicted,
            };
            self.log_and_apply(rec, now)?;
        }
        Ok(out)
    }

    /// Log a record made here, then apply it. Most are encoded when the batch of commands
    /// ends, with the others ([`Binlog::reserve`]); a record the log refuses is not applied.
    fn log_and_apply(&mut self, rec: Record, now: u64) -> Result<(), WriteError> {
        let later = match &mut self.batch {
            Some(b) => {
                b.push(batch_entry(&mut self.batch_bytes, &rec)?);
                false
            }
            None => self.binlog.reserve(&rec).map_err(WriteError::Binlog)?,
        };
        self.apply_record(&rec, now);
        if later {
            self.binlog.append_reserved(rec);
        }
        self.dirty += 1;
        self.writes += 1;
        Ok(())
    }

    /// Begin a transaction: its writes are applied as they come and logged together.
    pub fn begin_batch(&mut self) {
        self.batch = Some(Vec::new());
        self.batch_bytes = crate::engine::binlog::batch_bytes(&[]);
    }

    /// Whether a transaction's writes are being gathered (inside EXEC).
    pub fn in_batch(&self) -> bool {
        self.batch.is_some()
    }

    /// End a transaction: log its writes as one batch (replayed all or none).
    pub fn end_batch(&mut self) -> Result<(), BinlogError> {
        match self.batch.take() {
            Some(encoded) if encoded.is_empty() => Ok(()),
            Some(encoded) => self
                .binlog
                .append_frame(&crate::engine::binlog::frame_of_encoded(&encoded)),
            None => Ok(()),
        }
    }

    /// FLUSHDB (`Some(db)`) or FLUSHALL (`None`).
    pub fn flush(&mut self, db: Option<usize>, now: u64) -> Result<(), WriteError> {
        let by = Dot::new(self.server, self.next_op(), 0);
        let rec = Record::Flush {
            db: db.map(|d| d as u32),
            by,
            hlc: self.clock.tick(now),
            cutoff: self.applied.clone(),
        };
        self.log_and_apply(rec, now)
    }

    /// FUNCTION LOAD, DELETE, FLUSH, RESTORE, SCRIPT LOAD and FLUSH: a change to the
    /// scripting state every region shares, logged and applied as a write.
    pub fn change_scripting(
        &mut self,
        change: ScriptingChange,
        now: u64,
    ) -> Result<(), WriteError> {
        let rec = Record::Scripting {
            by: Dot::new(self.server, self.next_op(), 0),
            hlc: self.clock.tick(now),
            change,
        };
        self.log_and_apply(rec, now)
    }

    /// The function libraries and loaded scripts every region shares.
    pub fn scripting(&self) -> &Scripting {
        &self.scripting
    }

    /// Remove up to `limit` keys whose expiry passed `grace_ms` ago or more (observed-remove
    /// deletes, logged like any write), and lies that far before `caught_up_ms`, until when
    /// every peer is known to have delivered all it had. Returns how many were removed. The
    /// grace applies only with peers (see `expire-grace-ms`): without them nothing is on its
    /// way.
    pub fn remove_expired(
        &mut self,
        now: u64,
        caught_up_ms: u64,
        grace_ms: u64,
        limit: usize,
    ) -> usize {
        let due_by = match self.stable {
            Some(_) => now.min(caught_up_ms).saturating_sub(grace_ms),
            None => now,
        };
        let mut removed = 0;
        for db in 0..DATABASES {
            let due: Vec<Vec<u8>> = self.dbs[db]
                .expired(due_by)
                .take(limit - removed)
                .map(|k| k.to_vec())
                .collect();
            for key in due {
                let r = self.write_untold(db, &key, now, |k, _, tag| {
                    Ok((gdc_crdt::ops::delete(k, tag), ()))
                });
                if let Err(e) = r {
                    warn!(error = %e, "could not remove an expired key");
                    return removed;
                }
                removed += 1;
                self.stats.expired_keys += 1;
            }
            if removed >= limit {
                break;
            }
        }
        removed
    }

    /// GDC.DEBUG SET-UNLOGGED: write `value` to `key` without logging it, as damage would
    /// change it behind the binlog's back. The write's origin is a server-id no node has
    /// (`u32::MAX`), numbered by its HLC time, so no applied vector ever covers it.
    pub fn debug_set_unlogged(&mut self, db: usize, key: &[u8], value: &[u8], now: u64) {
        let state = self.dbs[db].get(key);
        let floor = state.map_or(Hlc::ZERO, KeyState::max_hlc);
        let hlc = self.clock.tick_after(now, floor);
        let tag = Tag::new(Dot::new(ServerId(u32::MAX), OpId(hlc.0), 0), hlc);
        let effect = gdc_crdt::ops::set(
            state,
            now,
            tag,
            gdc_crdt::Blob::from(value),
            gdc_crdt::ops::SetTtl::Clear,
        );
        self.dbs[db].apply(key, &effect);
        self.writes += 1;
    }

    /// End of a batch of commands: make its writes durable per `appendfsync`.
    pub fn commit(&mut self) -> Result<(), BinlogError> {
        self.batch_done();
        self.commit_binlog()
    }

    /// [`Store::commit`] without telling the observer (it was told when the batch ended).
    pub fn commit_binlog(&mut self) -> Result<(), BinlogError> {
        self.binlog.commit()
    }

    /// A batch of commands is done: its records are encoded (while they are in the cache:
    /// a commit may cover many clients' batches), and the observer is told (tracking sends
    /// what it gathered).
    pub fn batch_done(&mut self) {
        self.binlog.encode_deferred();
        if let Some(o) = &self.observer {
            o.batch_done();
        }
    }

    /// Force the binlog to disk now.
    pub fn sync(&mut self) -> Result<(), BinlogError> {
        self.binlog.sync()
    }

    /// The `everysec` timer's handle: see [`Binlog::sync_handle`].
    pub fn sync_handle(&mut self) -> Option<std::fs::File> {
        self.binlog.sync_handle()
    }
}

/// Apply a logged op to the databases, collecting the removal knowledge `stable` covers
/// (`None`: without peers, every op is stable the moment it is applied here). `received`:
/// it was made in another region and just arrived; then the conflicts the merge rules
/// resolved are returned (a FLUSHDB's are not told apart).
/// What a record changes, borrowed from the store (or from what a start replays into).
struct State<'a> {
    dbs: &'a mut [Keyspace],
    scripting: &'a mut Scripting,
    applied: &'a mut VersionVector,
    stable: Option<&'a VersionVector>,
}

impl State<'_> {
    /// Apply one record; `used` changes the written key's access word (in the same lookup).
    fn apply(&mut self, rec: &Record, received: bool, used: impl FnOnce(u32) -> u32) -> Conflicts {
        self.applied.raise(rec.dot().server, rec.dot().op);
        let stable = self.stable.unwrap_or(self.applied);
        match rec {
            Record::Key {
                db, key, effect, ..
            } => {
                if let Some(ks) = self.dbs.get_mut(*db as usize) {
                    if received {
                        return ks.apply_remote_and_collect(key, effect, stable, used);
                    }
                    ks.apply_and_collect(key, effect, stable, used);
                }
            }
            Record::Flush { db, by, cutoff, .. } => {
                for (i, ks) in self.dbs.iter_mut().enumerate() {
                    if db.is_none_or(|d| d as usize == i) {
                        ks.flush(cutoff, *by);
                    }
                }
                for ks in self.dbs.iter_mut() {
                    ks.gc(stable);
                }
            }
            Record::Scripting { by, hlc, change } => self.scripting.apply(*by, *hlc, change),
        }
        Conflicts::NONE
    }
}

/// A record of a transaction, encoded for its batch frame, whose size so far is
/// `batch_bytes`. The batch is one frame: a write that would make it too large is refused
/// before it is applied, not when EXEC logs what was applied.
#[cold]
fn batch_entry(batch_bytes: &mut usize, rec: &Record) -> Result<Vec<u8>, WriteError> {
    let one = crate::engine::binlog::encode_record(rec);
    let bytes = *batch_bytes + 4 + one.len();
    if bytes > crate::engine::binlog::RECORD_BYTES_MAX as usize {
        return Err(WriteError::Binlog(BinlogError::TooLarge(bytes)));
    }
    *batch_bytes = bytes;
    Ok(one)
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Refused(OpError),
    #[error(transparent)]
    Binlog(BinlogError),
}

mod changes;
mod collect;
mod evict;
mod open;
mod remote;
mod scripting;
mod snapshot;
pub use changes::{Change, KeyObserver};
pub use evict::{EvictionStats, Room};
pub use remote::{RemoteApplied, RemoteError};
pub use scripting::{LibraryEntry, Scripting, ScriptingChange, Stamp};
