//! Snapshots of the store: begun at a new binlog segment, written from the state as it is
//! (SAVE, a forked child) or from a copy.

use super::{Store, StoreError};
use crate::engine::binlog::BinlogError;
use crate::engine::snapshot::{Snapshot, SnapshotRef};
use gdc_crdt::VersionVector;
use std::path::Path;
use tracing::info;

impl Store {
    /// Begin a snapshot: the binlog committed and a new segment begun after it, whose
    /// sequence number is returned. The snapshot holds the state as it is now (see
    /// [`Store::snapshot_ref`]): the caller writes it before the next change (SAVE), from a
    /// forked child, or from a copy (BGSAVE).
    pub fn begin_snapshot(&mut self) -> Result<u64, BinlogError> {
        self.binlog.commit()?;
        let seq = self.binlog.start_segment()?;
        self.dirty = 0;
        Ok(seq)
    }

    /// What a snapshot holds, as it is now.
    pub fn snapshot_ref(&self) -> SnapshotRef<'_> {
        SnapshotRef {
            applied: &self.applied,
            hlc: self.clock.last(),
            dbs: &self.dbs,
            scripting: &self.scripting,
        }
    }

    /// SAVE: a snapshot written now. Returns the binlog segment begun after it and the
    /// applied vector it holds: the segments before it can go once peers have them (see
    /// [`crate::engine::Engine::snapshot_written`]).
    pub fn save(&mut self) -> Result<(u64, VersionVector), StoreError> {
        let seq = self.begin_snapshot()?;
        snapshot_done(&self.dir, seq, self.snapshot_ref())?;
        Ok((seq, self.applied.clone()))
    }

    /// A copy of the whole state (where a child cannot be forked).
    pub fn copy_state(&self) -> Snapshot {
        self.snapshot_ref().to_owned()
    }
}

/// Write a snapshot begun by [`Store::begin_snapshot`] when binlog segment `seq` began.
fn snapshot_done(dir: &Path, seq: u64, snap: SnapshotRef<'_>) -> Result<(), StoreError> {
    crate::engine::snapshot::write(dir, seq, snap)?;
    info!(segment = seq, "snapshot written");
    Ok(())
}
