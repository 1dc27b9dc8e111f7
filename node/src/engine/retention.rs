//! Snapshots and the binlog they let go. A snapshot covers the binlog before the segment
//! begun with it; those segments are removed once every reader of this node acknowledged
//! what they hold, or, past the retention limits, whoever lacks them (such a reader then
//! needs a full sync).

use super::EngineOptions;
use super::acks::AckTable;
use super::binlog::BinlogError;
use super::meta::Meta;
use super::snapshot::{self, SnapshotRef};
use super::store::{Store, now_ms};
use gdc_crdt::VersionVector;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tracing::{error, info, warn};

/// A snapshot is taken automatically once the binlog has grown this much since the last,
/// and at least as much as the data held (see [`snapshot_due`]).
pub const SNAPSHOT_AFTER_BINLOG_BYTES: u64 = 256 * 1024 * 1024;

/// Whether the binlog, `appended` bytes since the last snapshot, is due one. Writing one
/// costs in proportion to the data (a forked child encodes it all, and the pages the
/// parent changes meanwhile are copied): waiting for a binlog as large as the data (as
/// Redis rewrites its AOF once it has doubled, `auto-aof-rewrite-percentage 100`) keeps
/// that cost a bounded share of the writes' whatever the data's size.
pub fn snapshot_due(appended: u64) -> bool {
    appended > SNAPSHOT_AFTER_BINLOG_BYTES
        && appended > u64::try_from(crate::alloc::live_bytes()).unwrap_or(0)
}

/// Snapshots taken and the binlog they cover.
#[derive(Debug)]
pub struct Retention {
    binlog_dir: PathBuf,
    bytes_max: u64,
    secs_max: u64,
    /// Shared with the BGSAVE thread.
    snapshots: Arc<Snapshots>,
    /// Held while binlog segments are removed (see [`Retention::remove_before`]).
    removing: Mutex<()>,
}

/// What INFO tells of background snapshots (Redis's names in its Persistence and Stats).
#[derive(Debug, Clone, Copy)]
pub struct BgsaveStats {
    /// `rdb_last_bgsave_status:err`.
    pub last_failed: bool,
    /// `rdb_last_bgsave_time_sec`: -1 before the first.
    pub last_secs: i64,
    /// `latest_fork_usec`: how long the last fork (a snapshot's or a full sync's) held the
    /// serving thread.
    pub fork_usec: u64,
    /// `total_forks`: for snapshots and full syncs.
    pub forks: u64,
}

#[derive(Debug)]
struct Snapshots {
    running: AtomicBool,
    last_failed: AtomicBool,
    last_secs: AtomicI64,
    fork_usec: AtomicU64,
    forks: AtomicU64,
    /// Unix seconds of the last snapshot written (LASTSAVE).
    last_ok_secs: AtomicU64,
    /// Snapshots written, as (binlog segment begun after it, applied vector it holds): the
    /// segments before it may go once every reader of this node has them.
    covered: Mutex<Vec<(u64, VersionVector)>>,
}

impl Snapshots {
    fn covered(&self) -> MutexGuard<'_, Vec<(u64, VersionVector)>> {
        self.covered.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Retention {
    pub fn new(options: &EngineOptions) -> Retention {
        Retention {
            binlog_dir: options.dir.join("binlog"),
            bytes_max: options.binlog_retention_bytes,
            secs_max: options.binlog_retention_secs,
            snapshots: Arc::new(Snapshots {
                running: AtomicBool::new(false),
                last_failed: AtomicBool::new(false),
                last_secs: AtomicI64::new(-1),
                fork_usec: AtomicU64::new(0),
                forks: AtomicU64::new(0),
                last_ok_secs: AtomicU64::new(now_ms() / 1000),
                covered: Mutex::default(),
            }),
            removing: Mutex::new(()),
        }
    }

    /// Whether a background snapshot is being written.
    pub fn bgsave_running(&self) -> bool {
        self.snapshots.running.load(Ordering::Acquire)
    }

    /// Unix seconds of the last snapshot written (LASTSAVE).
    pub fn last_save_secs(&self) -> u64 {
        self.snapshots.last_ok_secs.load(Ordering::Relaxed)
    }

    /// Start a background snapshot (BGSAVE): a child forked under the store lock writes
    /// the state as it was at the fork, and a thread waits for it. Where fork fails, the
    /// state is copied under the lock and written on that thread. `false` when one is
    /// already running.
    pub fn start_bgsave(&self, store: &mut Store) -> Result<bool, BinlogError> {
        let state = &self.snapshots;
        if state.running.swap(true, Ordering::AcqRel) {
            return Ok(false);
        }
        let seq = match store.begin_snapshot() {
            Ok(x) => x,
            Err(e) => {
                state.running.store(false, Ordering::Release);
                return Err(e);
            }
        };
        let started = Instant::now();
        let dir = store.dir().to_path_buf();
        let applied = store.applied().clone();
        let write = {
            let dir = dir.clone();
            move |snap: SnapshotRef<'_>| {
                snapshot::write(&dir, seq, snap)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        };
        // No logging in the child: see `fork::spawn`.
        let forked = crate::fork::spawn(|| write(store.snapshot_ref()));
        let write: Box<dyn FnOnce() -> Result<(), String> + Send> = match forked {
            Ok(child) => {
                self.forked(started);
                Box::new(move || child.wait())
            }
            Err(e) => {
                warn!(error = %e, "cannot fork for the snapshot; copying the data instead");
                let snap = store.copy_state();
                Box::new(move || write(snap.as_ref()))
            }
        };
        let state = Arc::clone(state);
        std::thread::spawn(move || {
            let written = write();
            let secs = started.elapsed().as_secs();
            state.last_secs.store(secs as i64, Ordering::Relaxed);
            state.last_failed.store(written.is_err(), Ordering::Relaxed);
            match written {
                Ok(()) => {
                    info!(segment = seq, secs, "background snapshot written");
                    state.last_ok_secs.store(now_ms() / 1000, Ordering::Relaxed);
                    // Released by the next upkeep, once readers have them.
                    state.covered().push((seq, applied));
                }
                Err(e) => error!(error = %e, dir = %dir.display(), "background snapshot failed"),
            }
            state.running.store(false, Ordering::Release);
        });
        Ok(true)
    }

    /// A fork begun at `started` (for a snapshot or a full sync) has returned.
    pub fn forked(&self, started: Instant) {
        let usec = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.snapshots.fork_usec.store(usec, Ordering::Relaxed);
        self.snapshots.forks.fetch_add(1, Ordering::Relaxed);
    }

    /// What INFO tells of background snapshots and forks.
    pub fn bgsave_stats(&self) -> BgsaveStats {
        let state = &self.snapshots;
        BgsaveStats {
            last_failed: state.last_failed.load(Ordering::Relaxed),
            last_secs: state.last_secs.load(Ordering::Relaxed),
            fork_usec: state.fork_usec.load(Ordering::Relaxed),
            forks: state.forks.load(Ordering::Relaxed),
        }
    }

    /// Snapshot `seq` (the segment begun after it) holding `applied` was written now.
    pub fn saved(&self, seq: u64, applied: VersionVector) {
        let state = &self.snapshots;
        state.last_ok_secs.store(now_ms() / 1000, Ordering::Relaxed);
        state.covered().push((seq, applied));
    }

    pub fn has_covered(&self) -> bool {
        !self.snapshots.covered().is_empty()
    }

    /// Forget the snapshots up to `seq` (their binlog went with a full sync).
    pub fn forget_covered_until(&self, seq: u64) {
        self.snapshots.covered().retain(|(s, _)| *s > seq);
    }

    /// Remove the binlog segments the newest snapshot possible covers, of those every
    /// reader in `acked` has acknowledged (or, past the retention limits, all the same).
    pub fn release(&self, acked: &AckTable, meta: &Meta) {
        let mut covered = self.snapshots.covered();
        if covered.is_empty() {
            return;
        }
        // A reader is never sent its own ops: those need no acknowledgement.
        let has_all = |(reader, has): &(u32, VersionVector), vv: &VersionVector| {
            vv.iter().all(|(s, op)| s.0 == *reader || has.get(s) >= op)
        };
        let released = covered
            .iter()
            .filter(|(_, vv)| acked.values().all(|a| has_all(a, vv)))
            .map(|(seq, _)| *seq)
            .max();
        // Readers without everything the newest snapshot covers (named if they are cut off).
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
        let newest = covered.iter().map(|(seq, _)| *seq).max().unwrap_or(0);
        // Readers that have not acknowledged hold the binlog back, up to the limits: past
        // them it goes all the same, and those regions will need a full sync.
        let forced = if released == Some(newest) {
            None
        } else {
            self.forced(&covered, newest)
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
        // Said before the files go: a reader is never served from a binlog with a hole.
        let base = covered
            .iter()
            .find(|(s, _)| *s == seq)
            .map(|(_, vv)| vv.clone());
        covered.retain(|(s, _)| *s > seq);
        drop(covered);
        self.remove_before(meta, seq, base.unwrap_or_default());
    }

    /// The newest snapshot (of `covered`) before which the binlog must go whoever lacks it,
    /// and why: what is held before `newest` is over `binlog-retention-bytes`, or every
    /// segment before it was last written longer ago than `binlog-retention-secs`.
    fn forced(&self, covered: &[(u64, VersionVector)], newest: u64) -> Option<(u64, String)> {
        let held: Vec<(u64, std::fs::Metadata)> = super::binlog::segments(&self.binlog_dir)
            .unwrap_or_default()
            .into_iter()
            .filter(|(s, _)| *s < newest)
            .filter_map(|(s, p)| std::fs::metadata(p).ok().map(|m| (s, m)))
            .collect();
        let (bytes_max, secs_max) = (self.bytes_max, self.secs_max);
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

    /// Remove the binlog segments before `seq`, the first of which starts after `base`.
    pub fn remove_before(&self, meta: &Meta, seq: u64, base: VersionVector) {
        // One at a time: the upkeep's release (on a blocking thread) and a full sync's may
        // meet, and the base recorded must not go back.
        let _one = self.removing.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = meta.set_binlog_base(seq, &base) {
            error!(error = %e, "cannot record where the binlog starts; keeping it");
            return;
        }
        match super::binlog::remove_before(&self.binlog_dir, seq) {
            Ok(n) => info!(
                before = seq,
                removed_segments = n,
                "removed binlog segments"
            ),
            Err(e) => error!(error = %e, "cannot remove binlog segments"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::binlog::Fsync;
    use crate::engine::snapshot::load_latest;
    use gdc_crdt::{Blob, ops};
    use std::time::Duration;

    fn set(store: &mut Store, key: &str, value: &str) {
        store
            .write(0, key.as_bytes(), now_ms(), |state, now, tag| {
                let effect = ops::set(state, now, tag, Blob::from(value), ops::SetTtl::Clear);
                Ok((Some(effect), ()))
            })
            .expect("write");
    }

    /// A data directory with its store and retention, as a node opens them.
    fn opened() -> (tempfile::TempDir, Retention, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = EngineOptions {
            dir: dir.path().to_path_buf(),
            appendfsync: Fsync::No,
            alone: true,
            binlog_retention_bytes: 0,
            binlog_retention_secs: 0,
        };
        let retention = Retention::new(&options);
        let store = Store::open(dir.path(), Fsync::No, true).expect("open");
        (dir, retention, store)
    }

    /// Poll until the background snapshot has ended (its child reaped), 30 s at most.
    fn wait_for_bgsave(retention: &Retention) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while retention.bgsave_running() {
            assert!(
                Instant::now() < deadline,
                "the background snapshot never ended"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A BGSAVE whose child cannot write is told as failed (INFO's
    /// `rdb_last_bgsave_status:err`), and covers no binlog.
    #[test]
    fn a_background_snapshot_that_cannot_be_written_is_told_failed() {
        let (dir, retention, mut store) = opened();
        set(&mut store, "k", "v");
        // Directories where the snapshot's temporary file would go: it cannot be created.
        for seq in 1..=8u64 {
            std::fs::create_dir(dir.path().join(format!("snapshot-{seq:020}.tmp"))).expect("mkdir");
        }
        assert!(retention.start_bgsave(&mut store).expect("bgsave"));
        wait_for_bgsave(&retention);
        let stats = retention.bgsave_stats();
        assert!(stats.last_failed, "{stats:?}");
        assert_eq!(stats.forks, 1);
        assert!(!retention.has_covered());
        assert!(load_latest(dir.path()).expect("load").is_none());
    }

    #[test]
    fn a_background_snapshot_holds_the_state_at_its_start_and_no_two_share_a_name() {
        let (dir, retention, mut store) = opened();
        set(&mut store, "k", "before");
        // Big enough that the child is still writing when the parent changes k.
        for i in 0..20_000 {
            set(&mut store, &format!("filler:{i}"), "x");
        }
        assert!(retention.start_bgsave(&mut store).expect("bgsave"));
        set(&mut store, "k", "after");
        set(&mut store, "later", "y");
        wait_for_bgsave(&retention);
        let stats = retention.bgsave_stats();
        assert!(!stats.last_failed);
        assert_eq!(stats.forks, 1, "{stats:?}");
        assert!(stats.fork_usec > 0, "{stats:?}");
        assert!(retention.has_covered());
        // The snapshot holds k as it was, and not what came after.
        let snap = load_latest(dir.path()).expect("load").expect("a snapshot");
        let db = &snap.dbs[0];
        let value = |k: &str| db.get(k.as_bytes()).and_then(|s| s.string_value());
        assert_eq!(value("k").as_deref(), Some(&b"before"[..]));
        assert_eq!(value("filler:19999").as_deref(), Some(&b"x"[..]));
        assert!(db.get(b"later").is_none());
        assert_eq!(db.len(), 20_001);

        // Two snapshots never share a file name, even with nothing written between them
        // (a child may still be writing the other), nor across a restart (a child of the
        // process before it may).
        let (a, _) = store.save().expect("save");
        let (b, _) = store.save().expect("save again");
        assert_eq!(b, a + 1);
        drop(store);
        // What a child killed with its server leaves goes at the next open.
        let unfinished = dir.path().join(format!("snapshot-{:020}.tmp", b + 1));
        std::fs::write(&unfinished, b"half a snapshot").expect("write");
        let mut store = Store::open(dir.path(), Fsync::No, true).expect("reopen");
        assert!(!unfinished.exists());
        let (c, _) = store.save().expect("save after a restart");
        assert_eq!(c, b + 1);
        // SAVE writes the state as it is.
        let snap = load_latest(dir.path()).expect("load").expect("a snapshot");
        let value = snap.dbs[0].get(b"k").and_then(|s| s.string_value());
        assert_eq!(value.as_deref(), Some(&b"after"[..]));
    }
}
