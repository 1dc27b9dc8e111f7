//! Stream: an append-only log of entries ordered by id, with consumer groups.
//!
//! * Entries are immutable pieces keyed by their id. XDEL and trimming remove the entries the
//!   origin observed. Ids made by `*` carry the origin's server-id in the low 32 bits of the
//!   sequence ([`next_auto_id`]), so two regions appending in the same millisecond never make
//!   the same id and every region orders all entries alike. Of two entries given the same id
//!   explicitly in two regions, the one with the later stamp stays.
//! * The stream's numbers (last id, largest deleted id, entries added) are a multi-value
//!   register whose values join ([`Meta::join`]): each write that changes them removes the
//!   values it observed and adds the joined value it computed. A stream lives while a value
//!   does, so an emptied stream still exists, as in Redis.
//! * A consumer group is a multi-value register of its [`GroupHead`] (delivery cursors), its
//!   pending entries (per id, a multi-value register read last-writer-wins) and its consumers
//!   (per name, the largest seen-time). XACK removes the pending entries it observed; a
//!   concurrent delivery elsewhere survives, so delivery is at least once.

use crate::blob::Blob;
use crate::ids::{Dot, ServerId, Stamp, Tag};
use crate::tomb::Tomb;
use crate::vv::VersionVector;
use smallvec::SmallVec;
use std::collections::BTreeMap;

mod entries;
mod group;
mod id;
mod layout;
mod meta;

pub use entries::Entries;
pub use group::{Group, GroupHead, Pending};
pub use id::{StreamId, next_auto_id};
pub use layout::{Layout, NODE_ENTRIES_MAX, Node};
pub use meta::{Counts, Meta, Values};
use meta::{join_counts, prune_values, put_value, remove_value};

/// One entry: the fields and values, flat, and the tag of the XADD that made it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub tag: Tag,
    pub fields: Box<[Blob]>,
}

/// Where a removed piece of a stream lives.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamLoc {
    Entry(StreamId),
    Meta,
    Head(Blob),
    Pending(Blob, StreamId),
    Consumer(Blob, Blob),
}

/// New content of a stream.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamAdd {
    Entry {
        id: StreamId,
        fields: Box<[Blob]>,
    },
    Meta(Meta),
    Head {
        group: Blob,
        head: GroupHead,
    },
    Pending {
        group: Blob,
        id: StreamId,
        pending: Pending,
    },
    Consumer {
        group: Blob,
        name: Blob,
        seen_ms: u64,
    },
}

#[derive(Clone, Debug, Default)]
pub struct StreamPart {
    entries: Entries,
    meta: Values<Meta>,
    groups: BTreeMap<Blob, Group>,
    layout: Layout,
    /// Per server that made entries held: how many, and the largest id it made (kept when
    /// that entry goes: a bound). Derived: where `>` must look for entries.
    origins: SmallVec<[Origin; 1]>,
}

/// A server that made entries of the stream.
#[derive(Clone, Copy, Debug)]
struct Origin {
    server: ServerId,
    entries: usize,
    /// At least the largest id of its entries held.
    last: StreamId,
}

impl PartialEq for StreamPart {
    fn eq(&self, o: &StreamPart) -> bool {
        self.entries == o.entries && self.meta == o.meta && self.groups == o.groups
    }
}

impl StreamPart {
    /// Whether the stream exists (it may have no entries).
    pub fn is_live(&self) -> bool {
        !self.meta.is_empty()
    }

    pub(crate) fn is_void(&self) -> bool {
        self.meta.is_empty() && self.entries.is_empty() && self.groups.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The stream's numbers: the join of the register's values.
    pub fn meta(&self) -> Meta {
        let mut it = self.meta.iter();
        let mut m = it.next().map(|(_, m)| m.clone()).unwrap_or_default();
        for (_, o) in it {
            m.join(o);
        }
        m
    }

    pub fn meta_values(&self) -> &[(Tag, Meta)] {
        &self.meta
    }

    /// The last id: the register's, or the top entry's when a concurrent XSETID set it lower.
    pub fn last_id(&self) -> StreamId {
        let top = self.last_entry_id().unwrap_or(StreamId::ZERO);
        self.meta().last.max(top)
    }

    /// What the read-counter estimate needs.
    pub fn counts(&self) -> Counts {
        let m = self.meta();
        Counts {
            added: m.entries_added(),
            len: self.entries.len() as u64,
            first: self.first_entry_id().unwrap_or(StreamId::ZERO),
            last: self.last_id(),
            max_deleted: m.max_deleted,
        }
    }

    /// Every entry, in id order (decoded as it goes: see [`Entries`]).
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = (StreamId, Entry)> + '_ {
        self.entries.iter()
    }

    pub fn get(&self, id: StreamId) -> Option<Entry> {
        self.entries.get(id)
    }

    /// Whether there is an entry `id` (nothing decoded but ids and tags).
    pub fn contains(&self, id: StreamId) -> bool {
        self.entries.contains(id)
    }

    pub fn first(&self) -> Option<(StreamId, Entry)> {
        self.entries.first()
    }

    pub fn last(&self) -> Option<(StreamId, Entry)> {
        self.entries.last()
    }

    /// The ids of the entries in `from..=to`, in order (no fields decoded).
    pub fn ids(&self, from: StreamId, to: StreamId) -> impl Iterator<Item = StreamId> + '_ {
        self.entries.ids(from, to)
    }

    /// The smallest entry id (nothing decoded).
    pub fn first_entry_id(&self) -> Option<StreamId> {
        self.entries.first_id()
    }

    /// The largest entry id (nothing decoded).
    pub fn last_entry_id(&self) -> Option<StreamId> {
        self.entries.last_id()
    }

    /// Entries with ids in `from..=to`, in order.
    pub fn range(
        &self,
        from: StreamId,
        to: StreamId,
    ) -> impl DoubleEndedIterator<Item = (StreamId, Entry)> + '_ {
        self.entries.range(from, to)
    }

    /// The entries `>` delivers to a group with delivery state `head`: in id order, those it
    /// has not delivered, wherever it delivered them (each origin's entries have their own
    /// cursor, so an entry that arrives late with a smaller id is still delivered).
    pub fn undelivered<'a>(
        &'a self,
        head: &'a GroupHead,
    ) -> impl Iterator<Item = (StreamId, Entry)> + 'a {
        self.delivery_start(head)
            .and_then(StreamId::next)
            .into_iter()
            .flat_map(move |s| self.entries.range(s, StreamId::MAX))
            .filter(move |(id, e)| !head.delivered(*id, e.tag.dot.server))
    }

    /// The id after which `>` looks: the lowest cursor of an origin the group has not
    /// delivered every entry of (`None`: there is none). An origin delivered to its last
    /// entry is left out: after a failover, the old primary's entries were all delivered
    /// long ago, and a start at its cursor decoded every entry since at each call.
    fn delivery_start(&self, head: &GroupHead) -> Option<StreamId> {
        self.origins
            .iter()
            .filter_map(|o| Some(head.cursor(o.server)).filter(|c| *c < o.last))
            .min()
    }

    pub fn groups(&self) -> impl Iterator<Item = (&Blob, &Group)> + '_ {
        self.groups.iter().filter(|(_, g)| g.is_live())
    }

    pub fn group(&self, name: &[u8]) -> Option<&Group> {
        self.groups.get(name).filter(|g| g.is_live())
    }

    /// Every group, live or kept only for pieces a destroy has not observed.
    pub fn all_groups(&self) -> impl Iterator<Item = (&Blob, &Group)> + '_ {
        self.groups.iter()
    }

    pub fn max_stamp(&self) -> Option<Stamp> {
        let e = self.entries.tags().map(|t| t.stamp());
        let m = self.meta.iter().map(|(t, _)| t.stamp());
        let g = self.groups.values().flat_map(Group::stamps);
        e.chain(m).chain(g).max()
    }

    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        let e = self.entries.tags().map(|t| t.dot);
        let m = self.meta.iter().map(|(t, _)| t.dot);
        let g = self.groups.values().flat_map(Group::dots);
        e.chain(m).chain(g)
    }

    pub fn observe_into(&self, vv: &mut VersionVector) {
        for d in self.dots() {
            vv.add(d);
        }
    }

    /// Add a piece made by `tag`.
    pub fn add(&mut self, a: &StreamAdd, tag: Tag, tomb: &Tomb) {
        if tomb.kills(tag.dot) {
            return;
        }
        match a {
            StreamAdd::Entry { id, fields } => self.put_entry(
                *id,
                Entry {
                    tag,
                    fields: fields.clone(),
                },
            ),
            StreamAdd::Meta(m) => put_value(&mut self.meta, tag, m.clone(), tomb),
            StreamAdd::Head { group, head } => {
                let g = self.groups.entry(group.clone()).or_default();
                put_value(&mut g.heads, tag, head.clone(), tomb);
            }
            StreamAdd::Pending { group, id, pending } => {
                let g = self.groups.entry(group.clone()).or_default();
                g.put_pending(*id, tag, pending.clone(), tomb);
            }
            StreamAdd::Consumer {
                group,
                name,
                seen_ms,
            } => {
                let g = self.groups.entry(group.clone()).or_default();
                g.put_consumer(name, tag, *seen_ms, tomb);
            }
        }
    }

    /// Of two entries with one id, the one with the later stamp stays.
    fn put_entry(&mut self, id: StreamId, e: Entry) {
        let tail = self.entries.last_id().is_none_or(|l| l < id);
        // An append (XADD's) has nothing to compare with.
        let cur = if tail { None } else { self.entries.get(id) };
        match cur {
            Some(cur) if cur.tag.stamp() >= e.tag.stamp() => {}
            Some(cur) => {
                self.count_origin(cur.tag.dot.server, id, false);
                self.count_origin(e.tag.dot.server, id, true);
                self.entries.insert(id, e);
            }
            None => {
                self.count_origin(e.tag.dot.server, id, true);
                self.entries.insert(id, e);
                self.layout.put(id, tail);
            }
        }
    }

    /// Entry `id` of `server` was added (`added`) or removed.
    fn count_origin(&mut self, server: ServerId, id: StreamId, added: bool) {
        match self.origins.binary_search_by_key(&server, |o| o.server) {
            Ok(i) if added => {
                let o = &mut self.origins[i];
                o.entries += 1;
                o.last = o.last.max(id);
            }
            Ok(i) => {
                self.origins[i].entries -= 1;
                if self.origins[i].entries == 0 {
                    self.origins.remove(i);
                }
            }
            Err(i) if added => self.origins.insert(
                i,
                Origin {
                    server,
                    entries: 1,
                    last: id,
                },
            ),
            Err(_) => {}
        }
    }

    /// The region's grouping of the entries into nodes.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The node layout recounted after entries went in bulk.
    fn recount(&mut self) {
        let firsts: Vec<(StreamId, usize)> = self
            .layout
            .nodes
            .iter()
            .map(|(f, n)| (*f, n.total))
            .collect();
        let ids: Vec<StreamId> = self.entries.heads().map(|(id, _)| id).collect();
        let at = |id: &StreamId| ids.partition_point(|i| i < id);
        let mut nodes = BTreeMap::new();
        for (i, (first, total)) in firsts.iter().enumerate() {
            let end = firsts.get(i + 1).map_or(ids.len(), |(next, _)| at(next));
            let live = end - at(first);
            if live > 0 {
                nodes.insert(
                    *first,
                    Node {
                        live,
                        total: *total,
                    },
                );
            }
        }
        self.layout.nodes = nodes;
        self.origins.clear();
        let made: Vec<(StreamId, ServerId)> = self
            .entries
            .heads()
            .map(|(id, t)| (id, t.dot.server))
            .collect();
        for (id, server) in made {
            self.count_origin(server, id, true);
        }
    }

    pub fn remove(&mut self, loc: &StreamLoc, dot: Dot) {
        match loc {
            StreamLoc::Entry(id) => {
                if self.entries.get(*id).is_some_and(|e| e.tag.dot == dot) {
                    self.entries.remove(*id);
                    self.layout.remove(*id);
                    self.count_origin(dot.server, *id, false);
                }
            }
            StreamLoc::Meta => remove_value(&mut self.meta, dot),
            StreamLoc::Head(g) => self.in_group(g, |g| remove_value(&mut g.heads, dot)),
            StreamLoc::Pending(g, id) => self.in_group(g, |g| {
                if let Some(v) = g.pending.get_mut(id) {
                    remove_value(v, dot);
                    if v.is_empty() {
                        g.pending.remove(id);
                    }
                }
            }),
            StreamLoc::Consumer(g, name) => self.in_group(g, |g| {
                if let Some(v) = g.consumers.get_mut(name) {
                    remove_value(v, dot);
                    if v.is_empty() {
                        g.consumers.remove(name);
                    }
                }
            }),
        }
    }

    fn in_group(&mut self, name: &Blob, f: impl FnOnce(&mut Group)) {
        if let Some(g) = self.groups.get_mut(name) {
            f(g);
            if g.is_void() {
                self.groups.remove(name);
            }
        }
    }

    pub fn prune(&mut self, tomb: &Tomb) {
        if self.entries.retain(|_, e| !tomb.kills(e.tag.dot)) > 0 {
            self.recount();
        }
        prune_values(&mut self.meta, tomb);
        self.groups.retain(|_, g| {
            g.prune(tomb);
            !g.is_void()
        });
    }

    pub fn merge(&mut self, o: &StreamPart, tomb: &Tomb) {
        for (id, e) in o.entries.iter() {
            if !tomb.kills(e.tag.dot) {
                self.put_entry(id, e);
            }
        }
        for (t, m) in &o.meta {
            put_value(&mut self.meta, *t, m.clone(), tomb);
        }
        for (name, g) in &o.groups {
            self.groups.entry(name.clone()).or_default().merge(g, tomb);
        }
        self.groups.retain(|_, g| !g.is_void());
    }
}

impl crate::heap::HeapSize for StreamPart {
    fn heap_bytes(&self) -> usize {
        let mut n = self.entries.heap_bytes();
        n += self.meta.len() * std::mem::size_of::<(Tag, Meta)>();
        for (name, g) in &self.groups {
            n += name.heap_bytes() + std::mem::size_of::<Group>();
            n += g.heads.len() * std::mem::size_of::<(Tag, GroupHead)>();
            n += crate::heap::btree_bytes(
                g.pending.len(),
                std::mem::size_of::<(StreamId, Values<Pending>)>(),
            );
            n += g
                .pending
                .values()
                .flatten()
                .map(|(_, p)| p.consumer.heap_bytes())
                .sum::<usize>();
            n += crate::heap::btree_bytes(
                g.consumers.len(),
                std::mem::size_of::<(Blob, Values<u64>)>(),
            );
            n += g.consumers.keys().map(Blob::heap_bytes).sum::<usize>();
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_starts_at_the_lowest_cursor_of_an_origin_not_delivered_to_its_last() {
        let mut s = StreamPart::default();
        let tomb = Tomb::default();
        let add = |s: &mut StreamPart, server: u32, op: u64, ms: u64| {
            let entry = StreamAdd::Entry {
                id: StreamId::new(ms, u64::from(server)),
                fields: Box::new([Blob::from(&b"f"[..]), Blob::from(&b"v"[..])]),
            };
            let tag = Tag::new(
                Dot::new(ServerId(server), crate::ids::OpId(op), 0),
                crate::hlc::Hlc(ms),
            );
            s.add(&entry, tag, &tomb);
        };
        // An old primary (1) made three entries, its successor (2) three after them.
        for (op, ms) in [(1, 10), (2, 20), (3, 30)] {
            add(&mut s, 1, op, ms);
            add(&mut s, 2, op, ms + 100);
        }
        let mut head = GroupHead::default();
        assert_eq!(s.delivery_start(&head), Some(StreamId::ZERO));
        head.deliver(StreamId::new(30, 1), ServerId(1));
        head.deliver(StreamId::new(110, 2), ServerId(2));
        // Origin 1 is delivered to its last: the look starts at origin 2's cursor.
        assert_eq!(s.delivery_start(&head), Some(StreamId::new(110, 2)));
        let ids: Vec<StreamId> = s.undelivered(&head).map(|(id, _)| id).collect();
        assert_eq!(ids, [StreamId::new(120, 2), StreamId::new(130, 2)]);
        // A later entry of origin 1 brings it back.
        add(&mut s, 1, 4, 140);
        assert_eq!(s.delivery_start(&head), Some(StreamId::new(30, 1)));
        head.deliver(StreamId::new(130, 2), ServerId(2));
        head.deliver(StreamId::new(140, 1), ServerId(1));
        assert_eq!(s.delivery_start(&head), None);
        assert_eq!(s.undelivered(&head).count(), 0);
    }

    #[test]
    fn auto_ids_carry_the_server_in_the_low_half_and_grow() {
        let s = ServerId(7);
        assert_eq!(
            next_auto_id(StreamId::ZERO, 100, s),
            Some(StreamId::new(100, 7))
        );
        // Same millisecond: the next multiple of 2^32, plus the server.
        assert_eq!(
            next_auto_id(StreamId::new(100, 7), 100, s),
            Some(StreamId::new(100, (1 << 32) + 7))
        );
        // Another server's id in the same millisecond: above it, ours.
        assert_eq!(
            next_auto_id(StreamId::new(100, 9), 100, s),
            Some(StreamId::new(100, (1 << 32) + 7))
        );
        assert_eq!(
            next_auto_id(StreamId::new(100, 5), 100, s),
            Some(StreamId::new(100, 7))
        );
        // The clock behind the last id: the last id's millisecond.
        assert_eq!(
            next_auto_id(StreamId::new(200, 0), 100, s),
            Some(StreamId::new(200, 7))
        );
        // The sequence exhausted: the next millisecond.
        assert_eq!(
            next_auto_id(StreamId::new(200, u64::MAX), 100, s),
            Some(StreamId::new(201, 7))
        );
        assert_eq!(next_auto_id(StreamId::MAX, 100, s), None);
    }

    #[test]
    fn meta_epochs_win_and_counts_join_per_origin() {
        let (a, b) = (ServerId(1), ServerId(2));
        let mut x = Meta::default();
        x.count_added(a);
        let mut y = x.clone();
        x.count_added(a);
        y.count_added(b);
        y.last = StreamId::new(5, 0);
        let mut j = x.clone();
        j.join(&y);
        assert_eq!(j.entries_added(), 3);
        assert_eq!(j.last, StreamId::new(5, 0));
        let r = x.restart(StreamId::new(1, 0), StreamId::ZERO, 10);
        let mut k = j.clone();
        k.join(&r);
        assert_eq!((k.entries_added(), k.last), (10, StreamId::new(1, 0)));
    }
}
