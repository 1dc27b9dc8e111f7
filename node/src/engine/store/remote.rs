//! What another region brings: frames applied as they arrive on a channel, and whole states
//! (a full sync, an anti-entropy repair) copied on one side and merged on the other.

use super::{DATABASES, Store, now_ms};
use crate::engine::binlog::{BinlogError, Record};
use crate::engine::snapshot::Snapshot;
use gdc_crdt::{Hlc, Keyspace};

impl Store {
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
                self.apply_received(rec, now);
            }
            out.ops += fresh.len() as u64;
            self.dirty += fresh.len() as u64;
            self.writes += 1;
        }
        Ok(out)
    }

    /// A copy of the keys of database `db` whose digest bucket `wanted` marks, with every
    /// database's FLUSHDB knowledge (for an anti-entropy repair).
    pub fn copy_buckets(&self, db: usize, wanted: &[bool]) -> Snapshot {
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
        Snapshot {
            applied: self.applied.clone(),
            hlc: self.clock.last(),
            dbs,
            scripting: self.scripting.clone(),
        }
    }

    /// Merge another region's state: every database's keys `in_scope` says it speaks for
    /// (see [`Keyspace::merge_scope`]), and the shared scripting state (whole: its rules
    /// never bring back what a removal removed). With `caught_up`, the state is everything the other
    /// region had applied (a full sync), so its applied vector and clock are taken on too.
    /// Returns the keys that changed, per database.
    pub fn merge_state(
        &mut self,
        snap: &Snapshot,
        in_scope: impl Fn(usize, &[u8]) -> bool,
        caught_up: bool,
    ) -> Vec<(usize, gdc_crdt::Blob)> {
        let mut changed = Vec::new();
        let stable = self.stable().clone();
        for (db, theirs) in snap.dbs.iter().enumerate().take(DATABASES) {
            let keys = self.dbs[db].merge_scope(theirs, |k| in_scope(db, k), &stable);
            if let Some(o) = self.listener() {
                for key in &keys {
                    o.changed(db, key, super::Change::Merged);
                }
            }
            changed.extend(keys.into_iter().map(|k| (db, k)));
        }
        self.scripting.merge(&snap.scripting);
        if caught_up {
            self.applied.join(&snap.applied);
            self.clock.observe(snap.hlc, now_ms());
        }
        self.dirty += changed.len() as u64;
        self.writes += 1;
        changed
    }

    /// Merge keys another region copied for an anti-entropy repair (see
    /// [`Store::merge_state`]), unless the copy is older than removal knowledge this node
    /// may have collected: `None` then, and nothing is merged. Removal knowledge goes once
    /// every region has applied the removal (the stable vector); a copy made before a
    /// removal the stable vector covers may hold a piece this node removed and no longer
    /// remembers removing, which a merge would bring back.
    pub fn merge_repair(
        &mut self,
        snap: &Snapshot,
        in_scope: impl Fn(usize, &[u8]) -> bool,
    ) -> Option<Vec<(usize, gdc_crdt::Blob)>> {
        if !snap.applied.dominates(self.stable()) {
            return None;
        }
        Some(self.merge_state(snap, in_scope, false))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::binlog::{Fsync, encode_frame};
    use gdc_crdt::ops::{self, SetTtl};
    use gdc_crdt::{Blob, Dot, OpId, ServerId, Tag, VersionVector};

    /// A copy of the keys `db0` holds in database 0, as of `applied`.
    fn copy(applied: VersionVector, db0: Keyspace) -> Snapshot {
        let mut dbs: Vec<Keyspace> = (0..DATABASES).map(|_| Keyspace::new()).collect();
        dbs[0] = db0;
        Snapshot {
            applied,
            hlc: Hlc::ZERO,
            dbs,
            scripting: Default::default(),
        }
    }

    #[test]
    fn a_repair_copied_before_a_removal_collected_here_is_not_merged() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(dir.path(), Fsync::No, false).expect("open");
        let peer = ServerId(7);
        let tag = |op: u64| Tag::new(Dot::new(peer, OpId(op), 0), Hlc::new(1_000 + op, 0));
        let upto = |op: u64| -> VersionVector { std::iter::once((peer, OpId(op))).collect() };
        // The peer sets k, copies it for a repair, then deletes it.
        let mut theirs = Keyspace::new();
        let set = ops::set(None, 1_001, tag(1), Blob::from("v"), SetTtl::Clear);
        theirs.apply(b"k", &set);
        let before_the_delete = copy(upto(1), theirs.clone());
        let del = ops::delete(theirs.get(b"k"), tag(2)).expect("a delete");
        theirs.apply(b"k", &del);
        let key = |effect| Record::Key {
            db: 0,
            key: Blob::from("k"),
            effect,
            evicted: false,
        };
        let frames = [encode_frame(&[key(set), key(del)])];
        store.apply_remote(&frames, 2_000).expect("applied");
        // Every region has the delete: this node forgets k's tomb.
        store.set_stable(upto(2));
        store.gc_all();
        assert!(store.db(0).get(b"k").is_none());

        assert_eq!(store.merge_repair(&before_the_delete, |_, _| true), None);
        assert!(store.db(0).get(b"k").is_none(), "k stays removed");
        assert_eq!(
            store.merge_repair(&copy(upto(2), theirs), |_, _| true),
            Some(Vec::new()),
            "a copy as recent as what was collected is merged, and changes nothing"
        );
        // What the refused merge would have done.
        let back = store.merge_state(&before_the_delete, |_, _| true, false);
        assert_eq!(back, vec![(0, Blob::from("k"))]);
    }
}
