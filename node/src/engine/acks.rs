//! What each reader of this node's binlog (a secondary of its region, or another region's
//! node) acknowledged having. Binlog segments go only once every reader has what they hold
//! ([`super::Engine::release_segments`]), and removal knowledge only once every region has
//! it; the table is saved in the metadata store so a restart keeps waiting for the same
//! readers.

use super::meta::Meta;
use gdc_crdt::VersionVector;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Per reader (its [`ack_key`]): its server-id and the newest vector it acknowledged.
pub type AckTable = BTreeMap<String, (u32, VersionVector)>;

/// The readers' acknowledgements.
#[derive(Debug, Default)]
pub struct Acks {
    table: Mutex<AckTable>,
    /// `table` changed since it was last saved.
    dirty: AtomicBool,
}

/// Under what a reader's acknowledgements are kept. Another region reads from one node at
/// a time, its primary, and a new primary there takes over the old one's entry (the old one
/// is not waited for). In this node's own region every node counts by itself: each
/// secondary of a primary, and a primary draining what a former primary never shipped.
pub fn ack_key(own_region: &str, region: &str, server_id: u32) -> String {
    if region == own_region {
        format!("{region}/{server_id}")
    } else {
        region.to_string()
    }
}

/// An [`ack_key`] of a node of `own_region` (or, under the bare name, from before entries
/// were kept per node).
pub fn is_own_region_key(own_region: &str, key: &str) -> bool {
    key.strip_prefix(own_region)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl Acks {
    /// The table, locked.
    pub fn table(&self) -> MutexGuard<'_, AckTable> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the table, for work that takes a while (writing it, removing the binlog
    /// it allows): a reader's acknowledgement, on the serving thread, must not wait for it.
    pub fn copy(&self) -> AckTable {
        self.table().clone()
    }

    /// Note what a reader has (from its Hello or an Ack), under its [`ack_key`].
    pub fn acknowledge(&self, key: &str, server_id: u32, applied: &VersionVector) {
        let mut table = self.table();
        let entry = table
            .entry(key.to_string())
            .or_insert_with(|| (server_id, VersionVector::new()));
        if entry.0 != server_id {
            *entry = (server_id, VersionVector::new());
        }
        entry.1.join(applied);
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Forget the acknowledgements of readers that no longer read from this node and are
    /// not `subscribed` now, here and in `meta`: nodes of `own_region` not in `keep` (by
    /// server-id: a node replaced, or back under a new server-id after a crash), and, unless
    /// `primary` (other regions read from primaries only), every other region's. Such an
    /// entry would hold binlog and the collection of removal knowledge back for ever: a
    /// demoted primary would keep tombstones the rest of the cluster dropped, and its digest
    /// would differ. (An entry under the region's bare name is from before entries were per
    /// node.)
    pub fn forget(
        &self,
        own_region: &str,
        keep: &BTreeSet<u32>,
        subscribed: &BTreeSet<u32>,
        primary: bool,
        meta: &Meta,
    ) -> Vec<String> {
        let mut table = self.table();
        let gone: Vec<String> = table
            .iter()
            .filter(|(key, (id, _))| {
                let reads_here = match is_own_region_key(own_region, key) {
                    true => keep.contains(id),
                    false => primary,
                };
                !reads_here && !subscribed.contains(id)
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in &gone {
            table.remove(key);
            // Failing leaves the record to be loaded after a restart: only binlog kept longer.
            let _ = meta.remove_ack(key);
        }
        gone
    }

    /// Load what readers acknowledged before a restart, so that binlog segments they lack
    /// are kept for them.
    pub fn load(&self, meta: &Meta) -> Result<(), String> {
        let mut table = self.table();
        for (key, id, vv) in meta.acks().map_err(|e| e.to_string())? {
            table.insert(key, (id, vv));
        }
        Ok(())
    }

    /// Save the table if it changed (an older saved copy only keeps more binlog: safe).
    pub fn save(&self, meta: &Meta) -> Result<(), String> {
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let table = self.copy();
        let saved = meta.set_acks(table.iter());
        if let Err(e) = saved {
            self.dirty.store(true, Ordering::Relaxed);
            return Err(e.to_string());
        }
        Ok(())
    }

    /// Ops `own` covers that the reader under `key` (server-id `reader`) has not
    /// acknowledged (its own ops aside: a reader is never sent them).
    pub fn unacknowledged(&self, own: &VersionVector, key: &str, reader: u32) -> u64 {
        let table = self.table();
        let has = table.get(key).map(|(_, vv)| vv);
        own.iter()
            .filter(|(origin, _)| origin.0 != reader)
            .map(|(origin, op)| op.0.saturating_sub(has.map_or(0, |vv| vv.get(origin).0)))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdc_crdt::{OpId, ServerId};

    #[test]
    fn acknowledgements_of_readers_gone_are_forgotten_and_stay_forgotten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta = Meta::open(dir.path()).expect("meta");
        let acks = Acks::default();
        let mut vv = VersionVector::new();
        vv.raise(ServerId(1), OpId(10));
        // Another region, two nodes of this one, one since restarted under a new server-id
        // (4, then 5), and a record from before entries were per node.
        assert_eq!(ack_key("eu", "us", 9), "us");
        assert!(is_own_region_key("eu", "eu/4") && is_own_region_key("eu", "eu"));
        assert!(!is_own_region_key("eu", "eu-west") && !is_own_region_key("eu", "us"));
        for (key, id) in [("us", 9), ("eu/4", 4), ("eu/5", 5), ("eu/6", 6), ("eu", 3)] {
            acks.acknowledge(key, id, &vv);
        }
        acks.save(&meta).expect("save");
        // Node 6 is not in the region's assignment but is subscribed right now: kept.
        let subscribed = [6].into();
        let mut gone = acks.forget("eu", &[5].into(), &subscribed, true, &meta);
        gone.sort();
        assert_eq!(gone, ["eu", "eu/4"]);
        let left: Vec<String> = acks.table().keys().cloned().collect();
        assert_eq!(left, ["eu/5", "eu/6", "us"]);
        // A restart loads only what is left.
        let reloaded = Acks::default();
        reloaded.load(&meta).expect("load");
        let left: Vec<String> = reloaded.table().keys().cloned().collect();
        assert_eq!(left, ["eu/5", "eu/6", "us"]);
        // Demoted, it is read by no other region: their acknowledgements go too.
        assert_eq!(
            acks.forget("eu", &[5].into(), &subscribed, false, &meta),
            ["us"]
        );
        let reloaded = Acks::default();
        reloaded.load(&meta).expect("load");
        let left: Vec<String> = reloaded.table().keys().cloned().collect();
        assert_eq!(left, ["eu/5", "eu/6"]);
        assert_eq!(acks.unacknowledged(&vv, "eu/5", 5), 0);
        assert_eq!(acks.unacknowledged(&vv, "eu/7", 7), 10);
        assert_eq!(acks.unacknowledged(&vv, "eu/7", 1), 0, "its own ops");
    }
}
