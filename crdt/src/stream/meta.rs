//! A stream's numbers (last id, largest deleted id, entries added), the counts Redis
//! estimates read counters from, and the multi-value registers they and the groups are
//! kept in.

use super::StreamId;
use crate::ids::{Dot, ServerId, Tag};
use crate::tomb::Tomb;
use smallvec::SmallVec;

/// What Redis knows of a stream to estimate a read counter: entries added ever, entries
/// now, the first and last ids, the largest deleted id.
#[derive(Clone, Copy, Debug)]
pub struct Counts {
    pub added: u64,
    pub len: u64,
    pub first: StreamId,
    pub last: StreamId,
    pub max_deleted: StreamId,
}

impl Counts {
    /// The logical read counter of `id` (entries added up to it), `None` when it cannot be
    /// told (Redis's `streamEstimateDistanceFromFirstEverEntry`).
    pub fn estimate_read(&self, id: StreamId) -> Option<u64> {
        if self.added == 0 {
            return Some(0);
        }
        if (self.len == 0 && id <= self.last) || id == self.last {
            return Some(self.added);
        }
        if id > self.last {
            return None;
        }
        if self.max_deleted == StreamId::ZERO || self.max_deleted < self.first {
            if id < self.first {
                return Some(self.added - self.len);
            }
            if id == self.first {
                return Some(self.added - self.len + 1);
            }
        }
        None
    }
}

/// The stream's numbers. Values of one epoch join by maximum (entries added per origin);
/// XSETID starts a new epoch, whose values win over every older epoch's.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Meta {
    pub epoch: u64,
    pub last: StreamId,
    pub max_deleted: StreamId,
    /// Entries added before this epoch began (XSETID's ENTRIESADDED).
    pub added_base: u64,
    /// Entries added in this epoch, per origin, sorted by server.
    pub added: SmallVec<[(ServerId, u64); 1]>,
}

impl Meta {
    pub fn join(&mut self, o: &Meta) {
        if o.epoch > self.epoch {
            *self = o.clone();
            return;
        }
        if o.epoch < self.epoch {
            return;
        }
        self.last = self.last.max(o.last);
        self.max_deleted = self.max_deleted.max(o.max_deleted);
        self.added_base = self.added_base.max(o.added_base);
        join_counts(&mut self.added, &o.added);
    }

    /// Entries ever added (Redis's `entries-added`).
    pub fn entries_added(&self) -> u64 {
        self.added_base + self.added.iter().map(|(_, n)| n).sum::<u64>()
    }

    /// Count one more entry added by `server`.
    pub fn count_added(&mut self, server: ServerId) {
        match self.added.binary_search_by_key(&server, |(s, _)| *s) {
            Ok(i) => self.added[i].1 += 1,
            Err(i) => self.added.insert(i, (server, 1)),
        }
    }

    /// A new epoch (XSETID): these values replace every value of older epochs.
    pub fn restart(&self, last: StreamId, max_deleted: StreamId, added: u64) -> Meta {
        Meta {
            epoch: self.epoch + 1,
            last,
            max_deleted,
            added_base: added,
            added: SmallVec::new(),
        }
    }
}

pub(super) fn join_counts<T: Copy + Ord>(
    a: &mut SmallVec<[(ServerId, T); 1]>,
    b: &[(ServerId, T)],
) {
    for &(s, n) in b {
        match a.binary_search_by_key(&s, |(s, _)| *s) {
            Ok(i) => a[i].1 = a[i].1.max(n),
            Err(i) => a.insert(i, (s, n)),
        }
    }
}

/// Values of a multi-value register, each with the tag of the write that made it, sorted by
/// dot.
pub type Values<T> = SmallVec<[(Tag, T); 1]>;

pub(super) fn put_value<T>(vals: &mut Values<T>, tag: Tag, v: T, tomb: &Tomb) {
    if tomb.kills(tag.dot) {
        return;
    }
    if let Err(i) = vals.binary_search_by_key(&tag.dot, |(t, _)| t.dot) {
        vals.insert(i, (tag, v));
    }
}

pub(super) fn remove_value<T>(vals: &mut Values<T>, dot: Dot) {
    vals.retain(|(t, _)| t.dot != dot);
}

pub(super) fn prune_values<T>(vals: &mut Values<T>, tomb: &Tomb) {
    vals.retain(|(t, _)| !tomb.kills(t.dot));
}
