//! A stream's consumer groups: the delivery state ([`GroupHead`], a cursor per origin of
//! entries), pending entries (per id, read last-writer-wins) and consumers (per name, the
//! largest seen-time), each a multi-value register whose values are removed by the writes
//! that observed them.

use super::{StreamId, Values, join_counts, prune_values, put_value};
use crate::blob::Blob;
use crate::ids::{Dot, ServerId, Stamp, Tag};
use crate::tomb::Tomb;
use smallvec::SmallVec;
use std::collections::BTreeMap;

/// A consumer group's delivery state. Values of one epoch join by maximum; XGROUP SETID
/// starts a new epoch.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GroupHead {
    pub epoch: u64,
    /// Entries up to this id are not delivered by `>` (XGROUP CREATE/SETID's id).
    pub base: StreamId,
    /// Per origin of entries, the largest id of its entries the group delivered. An origin's
    /// entries arrive in its order, and its ids grow with it, so an entry of that origin at
    /// or below the cursor was delivered (or removed) already, wherever it was delivered.
    pub cursors: SmallVec<[(ServerId, StreamId); 1]>,
    /// Redis's `entries-read`; `None` when unknown.
    pub entries_read: Option<u64>,
}

impl GroupHead {
    pub fn join(&mut self, o: &GroupHead) {
        if o.epoch > self.epoch {
            *self = o.clone();
            return;
        }
        if o.epoch < self.epoch {
            return;
        }
        self.base = self.base.max(o.base);
        join_counts(&mut self.cursors, &o.cursors);
        self.entries_read = self.entries_read.max(o.entries_read);
    }

    /// Redis's last-delivered-id: the largest id delivered or set.
    pub fn last_delivered(&self) -> StreamId {
        self.cursors
            .iter()
            .map(|(_, id)| *id)
            .fold(self.base, StreamId::max)
    }

    /// The cursor of entries made by `server`.
    pub fn cursor(&self, server: ServerId) -> StreamId {
        match self.cursors.binary_search_by_key(&server, |(s, _)| *s) {
            Ok(i) => self.cursors[i].1.max(self.base),
            Err(_) => self.base,
        }
    }

    /// Whether `>` has delivered (or skipped) the entry `id` made by `server`.
    pub fn delivered(&self, id: StreamId, server: ServerId) -> bool {
        id <= self.cursor(server)
    }

    /// Note the delivery of the entry `id` made by `server`.
    pub fn deliver(&mut self, id: StreamId, server: ServerId) {
        match self.cursors.binary_search_by_key(&server, |(s, _)| *s) {
            Ok(i) => self.cursors[i].1 = self.cursors[i].1.max(id),
            Err(i) => self.cursors.insert(i, (server, id)),
        }
    }

    /// A new epoch (XGROUP SETID): delivery restarts after `base`.
    pub fn restart(&self, base: StreamId, entries_read: Option<u64>) -> GroupHead {
        GroupHead {
            epoch: self.epoch + 1,
            base,
            cursors: SmallVec::new(),
            entries_read,
        }
    }
}

/// A delivered entry not yet acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub consumer: Blob,
    /// Unix ms of the last delivery.
    pub delivered_ms: u64,
    pub count: u64,
}

/// A consumer group.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Group {
    pub(super) heads: Values<GroupHead>,
    pub(super) pending: BTreeMap<StreamId, Values<Pending>>,
    /// Per consumer, its seen-times (Unix ms).
    pub(super) consumers: BTreeMap<Blob, Values<u64>>,
}

impl Group {
    /// Whether the group exists.
    pub fn is_live(&self) -> bool {
        !self.heads.is_empty()
    }

    pub(super) fn is_void(&self) -> bool {
        self.heads.is_empty() && self.pending.is_empty() && self.consumers.is_empty()
    }

    /// The delivery state: the join of the head's values.
    pub fn head(&self) -> GroupHead {
        let mut it = self.heads.iter();
        let mut h = it.next().map(|(_, h)| h.clone()).unwrap_or_default();
        for (_, o) in it {
            h.join(o);
        }
        h
    }

    pub fn head_values(&self) -> &[(Tag, GroupHead)] {
        &self.heads
    }

    /// Pending entries in id order, each read last-writer-wins.
    pub fn pending(&self) -> impl DoubleEndedIterator<Item = (StreamId, &Pending)> + '_ {
        self.pending
            .iter()
            .filter_map(|(id, v)| Some((*id, lww(v)?)))
    }

    /// Pending entries from `from` on, in id order.
    pub fn pending_from(&self, from: StreamId) -> impl Iterator<Item = (StreamId, &Pending)> + '_ {
        self.pending
            .range(from..)
            .filter_map(|(id, v)| Some((*id, lww(v)?)))
    }

    pub fn pending_entry(&self, id: StreamId) -> Option<&Pending> {
        self.pending.get(&id).and_then(|v| lww(v))
    }

    /// The values of one pending entry (what an XACK observes).
    pub fn pending_values(&self, id: StreamId) -> &[(Tag, Pending)] {
        self.pending.get(&id).map_or(&[], |v| v.as_slice())
    }

    /// Ids with pending values, in order (the encoding's view).
    pub fn pending_ids(&self) -> impl Iterator<Item = StreamId> + '_ {
        self.pending.keys().copied()
    }

    /// Names with consumer records, in order (the encoding's view).
    pub fn consumer_names(&self) -> impl Iterator<Item = &Blob> + '_ {
        self.consumers.keys()
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Consumers with their seen-time, by name; a consumer some pending entry names exists
    /// even when its own record was removed concurrently.
    pub fn consumers(&self) -> BTreeMap<&Blob, u64> {
        let mut out: BTreeMap<&Blob, u64> = self
            .consumers
            .iter()
            .map(|(n, v)| (n, v.iter().map(|(_, t)| *t).max().unwrap_or(0)))
            .collect();
        for (_, p) in self.pending() {
            out.entry(&p.consumer).or_insert(0);
        }
        out
    }

    /// Whether the consumer exists: its record, or (its record removed concurrently) a
    /// pending entry of its.
    pub fn has_consumer(&self, name: &[u8]) -> bool {
        self.consumers.contains_key(name)
            || self.pending().any(|(_, p)| p.consumer.as_slice() == name)
    }

    /// The pending entries of one consumer, from `from` on.
    pub fn pending_of<'a>(
        &'a self,
        consumer: &'a [u8],
        from: StreamId,
    ) -> impl Iterator<Item = (StreamId, &'a Pending)> + 'a {
        self.pending_from(from)
            .filter(move |(_, p)| p.consumer.as_slice() == consumer)
    }

    pub fn consumer_values(&self, name: &[u8]) -> &[(Tag, u64)] {
        self.consumers.get(name).map_or(&[], |v| v.as_slice())
    }

    pub(super) fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        let h = self.heads.iter().map(|(t, _)| t.dot);
        let p = self.pending.values().flatten().map(|(t, _)| t.dot);
        let c = self.consumers.values().flatten().map(|(t, _)| t.dot);
        h.chain(p).chain(c)
    }

    pub(super) fn stamps(&self) -> impl Iterator<Item = Stamp> + '_ {
        let h = self.heads.iter().map(|(t, _)| t.stamp());
        let p = self.pending.values().flatten().map(|(t, _)| t.stamp());
        let c = self.consumers.values().flatten().map(|(t, _)| t.stamp());
        h.chain(p).chain(c)
    }

    pub(super) fn prune(&mut self, tomb: &Tomb) {
        prune_values(&mut self.heads, tomb);
        self.pending.retain(|_, v| {
            prune_values(v, tomb);
            !v.is_empty()
        });
        self.consumers.retain(|_, v| {
            prune_values(v, tomb);
            !v.is_empty()
        });
    }

    pub(super) fn merge(&mut self, o: &Group, tomb: &Tomb) {
        for (t, h) in &o.heads {
            put_value(&mut self.heads, *t, h.clone(), tomb);
        }
        for (id, vals) in &o.pending {
            for (t, p) in vals {
                self.put_pending(*id, *t, p.clone(), tomb);
            }
        }
        for (name, vals) in &o.consumers {
            for (t, seen) in vals {
                self.put_consumer(name, *t, *seen, tomb);
            }
        }
    }

    pub(super) fn put_pending(&mut self, id: StreamId, tag: Tag, p: Pending, tomb: &Tomb) {
        if !tomb.kills(tag.dot) {
            put_value(self.pending.entry(id).or_default(), tag, p, tomb);
        }
    }

    pub(super) fn put_consumer(&mut self, name: &Blob, tag: Tag, seen: u64, tomb: &Tomb) {
        if !tomb.kills(tag.dot) {
            put_value(
                self.consumers.entry(name.clone()).or_default(),
                tag,
                seen,
                tomb,
            );
        }
    }
}

/// The last-writer-wins value of a multi-value register.
fn lww<T>(vals: &Values<T>) -> Option<&T> {
    vals.iter().max_by_key(|(t, _)| t.stamp()).map(|(_, v)| v)
}
