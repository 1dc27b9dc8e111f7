//! Snapshots and the binlog they let go. A snapshot covers the binlog before the segment
//! begun with it; those segments are removed once every reader of this node acknowledged
//! what they hold, or, past the retention limits, whoever lacks them (such a reader then
//! needs a full sync).

use super::EngineOptions;
use super::acks::AckTable;
use super::binlog::BinlogError;
use super::meta::Meta;
use super::store::{Store, now_ms, snapshot_done};
use gdc_crdt::VersionVector;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tracing::{error, info, warn};

/// A snapshot is taken automatically once the binlog has grown this much since the last,
/// and at least as much as the data held (see [`snapshot_due`]).
pub const SNAPSHOT_AFTER_BINLOG_BYTES: u64 = 256 * 1024 * 1024;

/// Whether the binlog, `appended` bytes since the last snapshot, is due one. Taking one
/// copies the data on the serving thread (Redis forks instead), so its cost grows with the
/// data: waiting for a binlog as large as the data (as Redis rewrites its AOF once it has
/// doubled, `auto-aof-rewrite-percentage 100`) keeps that cost a bounded share of the
/// writes' whatever the data's size.
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
}

#[derive(Debug, Default)]
struct Snapshots {
    running: AtomicBool,
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
                last_ok_secs: AtomicU64::new(now_ms() / 1000),
                ..Snapshots::default()
            }),
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

    /// Start a background snapshot (BGSAVE): the state is copied under the store lock, then
    /// written on a thread of its own. `false` when one is already running.
    pub fn start_bgsave(&self, store: &mut Store) -> Result<bool, BinlogError> {
        let state = &self.snapshots;
        if state.running.swap(true, Ordering::AcqRel) {
            return Ok(false);
        }
        let (seq, snap) = match store.begin_snapshot() {
            Ok(x) => x,
            Err(e) => {
                state.running.store(false, Ordering::Release);
                return Err(e);
            }
        };
        let dir = store.dir().to_path_buf();
        let state = Arc::clone(state);
        std::thread::spawn(move || {
            match snapshot_done(&dir, seq, &snap) {
                Ok(()) => {
                    state.last_ok_secs.store(now_ms() / 1000, Ordering::Relaxed);
                    // Released by the next upkeep, once readers have them.
                    state.covered().push((seq, snap.applied));
                }
                Err(e) => error!(error = %e, "background snapshot failed"),
            }
            state.running.store(false, Ordering::Release);
        });
        Ok(true)
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
