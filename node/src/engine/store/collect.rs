//! Removal knowledge collected once stable: as each removal becomes stable, and over
//! every key a slice at a time.

use super::Store;
use gdc_crdt::{Keyspace, VersionVector};

/// A step of the paced full collection looks at least at this many keys.
const GC_STEP_KEYS_MIN: usize = 64;

impl Store {
    /// Collect all removal knowledge that is stable (on a node without peers: everything
    /// applied). O(keys): run now and then, not per write (see [`Store::gc_step`]).
    pub fn gc_all(&mut self) {
        let stable = self.stable().clone();
        for ks in &mut self.dbs {
            ks.gc(&stable);
        }
    }

    /// One of `steps` steps of a pass of [`Store::gc_all`], each over a slice of the keys
    /// as they number now: the pass takes about `steps` calls, and no call holds the
    /// serving thread for long (a whole pass over 1.4M keys took 50 ms).
    pub fn gc_step(&mut self, steps: usize) {
        let keys: usize = self.dbs.iter().map(Keyspace::len).sum();
        let count = keys / steps.max(1) + GC_STEP_KEYS_MIN;
        let stable = self.stable().clone();
        let (db, from) = self.gc_cursor;
        self.gc_cursor = match self.dbs[db].gc_from(&stable, from, count) {
            Some(next) => (db, next),
            None => ((db + 1) % self.dbs.len(), 0),
        };
    }

    /// Removal knowledge may be forgotten once `stable` covers it: the meet of the applied
    /// vectors of this node and of every region it exchanges ops with, which then all have
    /// applied the removal, so no merge of their state can bring the removed piece back.
    /// Keys a removal left with nothing but removal knowledge are collected as soon as it
    /// is stable.
    pub fn set_stable(&mut self, stable: VersionVector) {
        for ks in &mut self.dbs {
            ks.collect_stable(&stable);
        }
        self.stable = Some(stable);
    }

    /// The vector removal knowledge is collected up to.
    pub fn stable(&self) -> &VersionVector {
        self.stable.as_ref().unwrap_or(&self.applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::binlog::Fsync;
    use crate::engine::store::{DATABASES, now_ms};
    use gdc_crdt::{Blob, ops};

    /// A pass of the paced collection goes over every database, a slice of each at a time,
    /// in about as many steps as asked (one more per database it ends in).
    #[test]
    fn a_paced_collection_passes_over_every_database_in_about_the_steps_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(dir.path(), Fsync::No, true).expect("open");
        for (db, keys) in [(0, 1000), (3, 500)] {
            for i in 0..keys {
                store
                    .write(db, format!("k{i}").as_bytes(), now_ms(), |s, now, tag| {
                        let e = ops::set(s, now, tag, Blob::from("v"), ops::SetTtl::Clear);
                        Ok((Some(e), ()))
                    })
                    .expect("write");
            }
        }
        let steps = 10;
        let mut calls_in = [0usize; DATABASES];
        loop {
            let (db, _) = store.gc_cursor;
            store.gc_step(steps);
            calls_in[db] += 1;
            if store.gc_cursor == (0, 0) {
                break;
            }
            assert!(calls_in.iter().sum::<usize>() < 100, "the pass never ends");
        }
        // 1500 keys in 10 steps: 214 keys a step (150 and the least, 64).
        assert_eq!(calls_in[0], 5);
        assert_eq!(calls_in[3], 3);
        assert!(calls_in.iter().all(|&n| n >= 1), "{calls_in:?}");
        assert!(calls_in.iter().sum::<usize>() <= steps + DATABASES);
    }
}
