//! The node's data: its databases, identity, clock, applied vector and binlog. Every write
//! goes through [`Store::write`]: the effect is built from the key's state here, appended to
//! the binlog, then applied.

use crate::engine::binlog::{Binlog, BinlogError, Fsync, Record};
use crate::engine::meta::{Meta, MetaError};
use gdc_crdt::{
    Dot, Effect, Hlc, HlcClock, KeyState, Keyspace, OpError, OpId, ServerId, Tag, VersionVector,
};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::{info, warn};

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
    /// Per command: calls and microseconds spent (INFO commandstats). Kept here because
    /// every command runs under this lock anyway.
    pub command_stats: std::collections::HashMap<&'static str, CommandStat>,
}

/// Latency histogram buckets: bucket `b` counts calls that took less than 2^b ns (and at
/// least 2^(b-1)); the last one also counts everything slower (about 1 s and up).
pub const LATENCY_BUCKETS: usize = 31;

/// One command's counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct CommandStat {
    pub calls: u64,
    pub nanos: u64,
    pub failed: u64,
    pub latency: [u64; LATENCY_BUCKETS],
}

impl CommandStat {
    pub fn record(&mut self, nanos: u64, failed: bool) {
        self.calls += 1;
        self.nanos += nanos;
        self.failed += failed as u64;
        let bucket = (u64::BITS - nanos.leading_zeros()) as usize;
        self.latency[bucket.min(LATENCY_BUCKETS - 1)] += 1;
    }

    /// The upper bound, in nanoseconds, of the calls in bucket `b`.
    pub fn bucket_bound_nanos(b: usize) -> u64 {
        1 << b
    }

    /// The bound below which at least `fraction` of the calls finished (0 without calls).
    pub fn percentile_nanos(&self, fraction: f64) -> u64 {
        let want = (self.calls as f64 * fraction).ceil() as u64;
        let mut seen = 0;
        for (b, n) in self.latency.iter().enumerate() {
            seen += n;
            if seen >= want.max(1) {
                return Self::bucket_bound_nanos(b);
            }
        }
        0
    }
}

/// The server-id, made at first start and kept in the data directory's metadata store.
fn server_id(meta: &Meta) -> Result<ServerId, MetaError> {
    match meta.server_id()? {
        Some(id) => Ok(id),
        None => new_server_id(meta, ServerId(0)),
    }
}

/// Make and keep a server-id other than `old`.
fn new_server_id(meta: &Meta, old: ServerId) -> Result<ServerId, MetaError> {
    let mut id = fresh_server_id();
    while id == old.0 {
        id = fresh_server_id();
    }
    meta.set_server_id(ServerId(id))?;
    info!(server_id = id, "made a new server-id");
    Ok(ServerId(id))
}

/// A random non-zero 32-bit id (std's hasher keys are seeded from the OS's randomness).
fn fresh_server_id() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(now_ms());
    h.write_u32(std::process::id());
    (h.finish() as u32).max(1)
}

impl Store {
    /// Open the data directory: identity, then the binlog, replayed into memory.
    ///
    /// `alone`: the node has never exchanged ops with another region, so removal knowledge
    /// is collected as soon as applied; otherwise only what [`Store::set_stable`] says.
    pub fn open(dir: &Path, policy: Fsync, alone: bool) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| BinlogError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let meta = Meta::open(dir)?;
        let mut server = server_id(&meta)?;
        let mut dbs: Vec<Keyspace> = (0..DATABASES).map(|_| Keyspace::new()).collect();
        let mut applied = VersionVector::new();
        let mut max_hlc = Hlc::ZERO;
        if let Some(snap) = crate::engine::snapshot::load_latest(dir)? {
            info!(
                keys = snap.dbs.iter().map(Keyspace::len).sum::<usize>(),
                "loaded the snapshot"
            );
            applied = snap.applied;
            max_hlc = snap.hlc;
            for (i, ks) in snap.dbs.into_iter().enumerate().take(DATABASES) {
                dbs[i] = ks;
            }
        }
        // Replay the binlog after the snapshot, one record at a time.
        let mut replayed = 0u64;
        let stable = if alone {
            None
        } else {
            Some(VersionVector::new())
        };
        let (binlog, cut) = Binlog::open(&dir.join("binlog"), policy, |rec| {
            max_hlc = max_hlc.max(rec.hlc());
            if !applied.covers(rec.dot()) {
                apply_to(&mut dbs, &mut applied, stable.as_ref(), &rec);
                replayed += 1;
            }
        })?;
        if let Some((path, bytes, why)) = &cut {
            warn!(path = %path.display(), bytes, why, "cut a torn binlog tail");
        }
        // After anything but a clean shutdown, ops at the end of the binlog may be lost
        // (a torn tail, or whole frames the disk never got) while other regions already
        // have them: channels ship what is written, before it is forced to disk. Numbering
        // new writes after what survived would give them those ops' ids, which regions
        // that have the originals would skip. So this node writes under a new server-id;
        // the old id's ops it lost come back from the peers that have them.
        let clean = meta.take_clean_shutdown()?;
        let cut_something = cut.as_ref().is_some_and(|(_, bytes, _)| *bytes > 0);
        if applied.get(server).0 > 0 && (!clean || cut_something) {
            server = new_server_id(&meta, server)?;
            warn!(
                server_id = server.0,
                "not shut down cleanly: writing under a new server-id"
            );
        }
        info!(server_id = server.0, ops = replayed, "replayed the binlog");
        Ok(Store {
            dir: dir.to_path_buf(),
            dbs,
            server,
            clock: HlcClock::resume(max_hlc, gdc_crdt::hlc::DEFAULT_MAX_AHEAD_MS),
            applied,
            stable,
            binlog,
            dirty: 0,
            writes: 0,
            batch: None,
            batch_bytes: 0,
            command_stats: Default::default(),
            meta,
        })
    }

    /// Everything a snapshot holds, copied, and a new binlog segment begun after it (its
    /// sequence number is returned): the caller writes it with [`snapshot_done`] (on
    /// another thread, for BGSAVE).
    pub fn begin_snapshot(
        &mut self,
    ) -> Result<(u64, crate::engine::snapshot::Snapshot), BinlogError> {
        self.binlog.commit()?;
        let seq = self.binlog.start_segment()?;
        let snap = self.copy_state();
        self.dirty = 0;
        Ok((seq, snap))
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// SAVE: a snapshot written now. Returns the binlog segment begun after it and the
    /// applied vector it holds: the segments before it can go once peers have them (see
    /// [`crate::engine::Engine::snapshot_written`]).
    pub fn save(&mut self) -> Result<(u64, VersionVector), StoreError> {
        let (seq, snap) = self.begin_snapshot()?;
        snapshot_done(&self.dir, seq, &snap)?;
        Ok((seq, snap.applied))
    }

    fn apply_record(&mut self, rec: &Record) {
        apply_to(&mut self.dbs, &mut self.applied, self.stable.as_ref(), rec);
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

    /// A key as a reader sees it at `now`: `None` when absent or expired.
    pub fn get(&self, db: usize, key: &[u8], now: u64) -> Option<&KeyState> {
        self.dbs[db].get(key).filter(|k| k.exists(now))
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
                key: key.to_vec(),
                effect,
            };
            self.log(&rec)?;
            self.apply_record(&rec);
            self.dirty += 1;
            self.writes += 1;
        }
        Ok(out)
    }

    /// Log a record: into the binlog, or into the running transaction's batch.
    fn log(&mut self, rec: &Record) -> Result<(), WriteError> {
        match &mut self.batch {
            Some(b) => {
                // The batch is one frame: a write that would make it too large is refused
                // before it is applied, not when EXEC logs what was applied.
                let one = crate::engine::binlog::encode_record(rec);
                let bytes = self.batch_bytes + 4 + one.len();
                if bytes > crate::engine::binlog::RECORD_BYTES_MAX as usize {
                    return Err(WriteError::Binlog(BinlogError::TooLarge(bytes)));
                }
                self.batch_bytes = bytes;
                b.push(one);
                Ok(())
            }
            None => self.binlog.append(rec).map_err(WriteError::Binlog),
        }
    }

    /// Begin a transaction: its writes are applied as they come and logged together.
    pub fn begin_batch(&mut self) {
        self.batch = Some(Vec::new());
        self.batch_bytes = crate::engine::binlog::batch_bytes(&[]);
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
        self.log(&rec)?;
        self.apply_record(&rec);
        self.dirty += 1;
        self.writes += 1;
        Ok(())
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
                let r = self.write(db, &key, now, |k, _, tag| {
                    Ok((gdc_crdt::ops::delete(k, tag), ()))
                });
                if let Err(e) = r {
                    warn!(error = %e, "could not remove an expired key");
                    return removed;
                }
                removed += 1;
            }
            if removed >= limit {
                break;
            }
        }
        removed
    }

    /// Apply frames received from a peer (see [`crate::engine::binlog::decode_frame`]):
    /// each frame's ops that are new here are logged, then applied, together; ops already
    /// applied are skipped, so a frame received twice changes nothing. Per origin, ops must
    /// come in order with none missing: a gap means the sender lost ops this node needs, and
    /// the frame is refused (a full sync repairs that). The caller commits.
    pub fn apply_remote<F: AsRef<[u8]>>(
        &mut self,
        frames: &[F],
        now: u64,
    ) -> Result<RemoteApplied, RemoteError> {
        let mut out = RemoteApplied::default();
        for frame in frames {
            let recs = crate::engine::binlog::decode_frame(frame.as_ref())
                .map_err(RemoteError::Malformed)?;
            let total = recs.len();
            let mut next = self.applied.clone();
            let mut fresh = Vec::with_capacity(recs.len());
            for rec in recs {
                let dot = rec.dot();
                if next.covers(dot) {
                    continue;
                }
                let want = next.get(dot.server).0 + 1;
                if dot.server.0 == 0 || dot.op.0 != want {
                    return Err(RemoteError::Gap {
                        origin: dot.server.0,
                        expected: want,
                        got: dot.op.0,
                    });
                }
                if let Record::Key { db, .. } | Record::Flush { db: Some(db), .. } = &rec {
                    if *db as usize >= DATABASES {
                        return Err(RemoteError::Malformed(format!("no database {db}")));
                    }
                }
                next.raise(dot.server, dot.op);
                fresh.push(rec);
            }
            if fresh.is_empty() {
                continue;
            }
            // All new (the usual case): logged as received, not encoded again.
            let logged = if fresh.len() == total {
                self.binlog.append_frame(frame.as_ref())
            } else {
                self.binlog.append_batch(&fresh)
            };
            logged.map_err(RemoteError::Binlog)?;
            for rec in &fresh {
                self.clock.observe(rec.hlc(), now);
                out.last_hlc = out.last_hlc.max(rec.hlc());
                self.apply_record(rec);
            }
            out.ops += fresh.len() as u64;
            self.dirty += fresh.len() as u64;
            self.writes += 1;
        }
        Ok(out)
    }

    /// Collect all removal knowledge that is stable (on a node without peers: everything
    /// applied). O(keys): run now and then, not per write.
    pub fn gc_all(&mut self) {
        let stable = self.stable().clone();
        for ks in &mut self.dbs {
            ks.gc(&stable);
        }
    }

    /// Removal knowledge may be forgotten once `stable` covers it: the meet of the applied
    /// vectors of this node and of every region it exchanges ops with, which then all have
    /// applied the removal, so no merge of their state can bring the removed piece back.
    pub fn set_stable(&mut self, stable: VersionVector) {
        self.stable = Some(stable);
    }

    /// The vector removal knowledge is collected up to.
    pub fn stable(&self) -> &VersionVector {
        self.stable.as_ref().unwrap_or(&self.applied)
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

    /// A copy of the whole state (for a full sync).
    pub fn copy_state(&self) -> crate::engine::snapshot::Snapshot {
        crate::engine::snapshot::Snapshot {
            applied: self.applied.clone(),
            hlc: self.clock.last(),
            dbs: self.dbs.clone(),
        }
    }

    /// A copy of the keys of database `db` whose digest bucket `wanted` marks, with every
    /// database's FLUSHDB knowledge (for an anti-entropy repair).
    pub fn copy_buckets(&self, db: usize, wanted: &[bool]) -> crate::engine::snapshot::Snapshot {
        let dbs = self
            .dbs
            .iter()
            .enumerate()
            .map(|(i, ks)| {
                let (flushed, by) = ks.flushed();
                let keys = ks
                    .iter()
                    .filter(|(key, _)| {
                        i == db && wanted.get(gdc_crdt::keyspace::bucket_of(key)) == Some(&true)
                    })
                    .map(|(key, k)| (key.clone(), k.clone()));
                Keyspace::from_parts(keys, flushed.clone(), by.clone())
            })
            .collect();
        crate::engine::snapshot::Snapshot {
            applied: self.applied.clone(),
            hlc: self.clock.last(),
            dbs,
        }
    }

    /// Merge another region's state: every database's keys `in_scope` says it speaks for
    /// (see [`Keyspace::merge_scope`]). With `caught_up`, the state is everything the other
    /// region had applied (a full sync), so its applied vector and clock are taken on too.
    /// Returns the keys that changed, per database.
    pub fn merge_state(
        &mut self,
        snap: &crate::engine::snapshot::Snapshot,
        in_scope: impl Fn(usize, &[u8]) -> bool,
        caught_up: bool,
    ) -> Vec<(usize, gdc_crdt::Blob)> {
        let mut changed = Vec::new();
        let stable = self.stable().clone();
        for (db, theirs) in snap.dbs.iter().enumerate().take(DATABASES) {
            let keys = self.dbs[db].merge_scope(theirs, |k| in_scope(db, k), &stable);
            changed.extend(keys.into_iter().map(|k| (db, k)));
        }
        if caught_up {
            self.applied.join(&snap.applied);
            self.clock.observe(snap.hlc, now_ms());
        }
        self.dirty += changed.len() as u64;
        self.writes += 1;
        changed
    }

    /// End of a batch of commands: make its writes durable per `appendfsync`.
    pub fn commit(&mut self) -> Result<(), BinlogError> {
        self.binlog.commit()
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
/// (`None`: without peers, every op is stable the moment it is applied here).
fn apply_to(
    dbs: &mut [Keyspace],
    applied: &mut VersionVector,
    stable: Option<&VersionVector>,
    rec: &Record,
) {
    applied.raise(rec.dot().server, rec.dot().op);
    let stable = stable.unwrap_or(applied);
    match rec {
        Record::Key { db, key, effect } => {
            if let Some(ks) = dbs.get_mut(*db as usize) {
                ks.apply_and_collect(key, effect, stable);
            }
        }
        Record::Flush { db, by, cutoff, .. } => {
            for (i, ks) in dbs.iter_mut().enumerate() {
                if db.is_none_or(|d| d as usize == i) {
                    ks.flush(cutoff, *by);
                }
            }
            for ks in dbs.iter_mut() {
                ks.gc(stable);
            }
        }
    }
}

/// Write a snapshot taken by [`Store::begin_snapshot`] when binlog segment `seq` began.
pub fn snapshot_done(
    dir: &Path,
    seq: u64,
    snap: &crate::engine::snapshot::Snapshot,
) -> Result<(), StoreError> {
    crate::engine::snapshot::write(dir, seq, snap)?;
    info!(segment = seq, "snapshot written");
    Ok(())
}

/// What [`Store::apply_remote`] applied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RemoteApplied {
    /// Ops new here.
    pub ops: u64,
    /// The latest HLC time among them.
    pub last_hlc: Hlc,
}

/// Why frames from a peer were refused.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("ops of origin {origin} are missing: expected op {expected}, got {got}")]
    Gap {
        origin: u32,
        expected: u64,
        got: u64,
    },
    #[error(transparent)]
    Binlog(BinlogError),
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Refused(OpError),
    #[error(transparent)]
    Binlog(BinlogError),
}
