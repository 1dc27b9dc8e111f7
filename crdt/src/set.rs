//! Add-wins observed-remove set: a member is present while any of its adds is live; a remove
//! takes away only the adds it observed, so a concurrent add survives.

use crate::blob::Blob;
use crate::heap::HeapSize;
use crate::hlc::Hlc;
use crate::ids::{Dot, OpId, ServerId, Stamp, Tag};
use crate::table::KeyTable;
use crate::tomb::Tomb;
use crate::vv::VersionVector;
use slab::Slab;
use std::fmt;

/// Members in a dense table (see [`KeyTable`]): SPOP and SRANDMEMBER pick one by position
/// in constant time, as Redis picks a random bucket.
#[derive(Clone, Default)]
pub struct SetPart {
    members: KeyTable<Adds>,
    /// The adds of members that have more than one (adds made concurrently in several
    /// regions, each kept until a remove observes it), sorted by dot; an [`Adds`] names its
    /// list by its key here.
    spilled: Slab<Vec<Tag>>,
}

/// A member's live adds in 24 bytes: the one add a member nearly always has, or, with
/// server-id 0 (which names no node), the key of its list in [`SetPart::spilled`].
#[derive(Clone, Copy)]
struct Adds(Tag);

impl Adds {
    fn spill(&self) -> Option<usize> {
        (self.0.dot.server == ServerId(0)).then_some(self.0.dot.op.0 as usize)
    }

    fn as_slice<'a>(&'a self, spilled: &'a Slab<Vec<Tag>>) -> &'a [Tag] {
        match self.spill() {
            Some(i) => &spilled[i],
            None => std::slice::from_ref(&self.0),
        }
    }

    /// One add, inline unless its server-id is the marker's.
    fn one(tag: Tag, spilled: &mut Slab<Vec<Tag>>) -> Adds {
        if tag.dot.server == ServerId(0) {
            Adds::listed(vec![tag], spilled)
        } else {
            Adds(tag)
        }
    }

    /// Several adds (sorted by dot), as a list in `spilled`.
    fn listed(tags: Vec<Tag>, spilled: &mut Slab<Vec<Tag>>) -> Adds {
        let i = spilled.insert(tags);
        Adds(Tag::new(Dot::new(ServerId(0), OpId(i as u64), 0), Hlc(0)))
    }

    /// What is left once `keep` has had its say (`None`: nothing): a list left with one
    /// add goes back inline, and a list given up leaves `spilled` (its memory too, once
    /// no list is left).
    fn retain(
        self,
        mut keep: impl FnMut(&Tag) -> bool,
        spilled: &mut Slab<Vec<Tag>>,
    ) -> Option<Adds> {
        let Some(i) = self.spill() else {
            return keep(&self.0).then_some(self);
        };
        let tags = &mut spilled[i];
        let before = tags.len();
        tags.retain(|t| keep(t));
        if tags.len() == before || tags.len() > 1 {
            return Some(self);
        }
        let left = spilled.remove(i).pop().map(|one| Adds::one(one, spilled));
        if spilled.is_empty() {
            *spilled = Slab::new();
        }
        left
    }
}

impl HeapSize for Adds {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl SetPart {
    pub fn is_live(&self) -> bool {
        !self.members.is_empty()
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        self.members.contains_key(m)
    }

    /// Members, in no particular order.
    pub fn members(&self) -> impl Iterator<Item = &Blob> {
        self.members.keys()
    }

    /// The member at position `i` of [`SetPart::members`]'s order (below [`SetPart::len`]).
    pub fn member_at(&self, i: usize) -> Option<&Blob> {
        self.members.at(i).map(|(m, _)| m)
    }

    /// Members with the adds that keep them present.
    pub fn entries(&self) -> impl Iterator<Item = (&Blob, &[Tag])> {
        self.members
            .iter()
            .map(|(m, adds)| (m, adds.as_slice(&self.spilled)))
    }

    /// Live adds of one member.
    pub fn tags(&self, m: &[u8]) -> &[Tag] {
        self.members
            .get(m)
            .map_or(&[], |adds| adds.as_slice(&self.spilled))
    }

    pub fn max_stamp(&self) -> Option<Stamp> {
        self.entries()
            .flat_map(|(_, tags)| tags)
            .map(|t| t.stamp())
            .max()
    }

    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.entries().flat_map(|(_, tags)| tags).map(|t| t.dot)
    }

    pub fn observe_into(&self, vv: &mut VersionVector) {
        for d in self.dots() {
            vv.add(d);
        }
    }

    pub fn add(&mut self, member: &Blob, tag: Tag, tomb: &Tomb) {
        if tomb.kills(tag.dot) {
            return;
        }
        let spilled = &mut self.spilled;
        let mut made = false;
        let adds = self.members.get_or_insert_with(member, || {
            made = true;
            Adds::one(tag, spilled)
        });
        if made {
            return;
        }
        match adds.spill() {
            Some(i) => {
                let tags = &mut spilled[i];
                if let Err(at) = tags.binary_search_by_key(&tag.dot, |t| t.dot) {
                    tags.insert(at, tag);
                }
            }
            None if adds.0.dot == tag.dot => {}
            None => {
                let mut tags = vec![adds.0, tag];
                tags.sort_unstable_by_key(|t| t.dot);
                *adds = Adds::listed(tags, spilled);
            }
        }
    }

    pub fn remove(&mut self, member: &[u8], dot: Dot) {
        let spilled = &mut self.spilled;
        let Some(adds) = self.members.get_mut(member) else {
            return;
        };
        match adds.retain(|t| t.dot != dot, spilled) {
            Some(left) => *adds = left,
            None => {
                self.members.remove(member);
            }
        }
    }

    pub fn prune(&mut self, tomb: &Tomb) {
        let spilled = &mut self.spilled;
        self.members.retain(
            |_, adds| match adds.retain(|t| !tomb.kills(t.dot), spilled) {
                Some(left) => {
                    *adds = left;
                    true
                }
                None => false,
            },
        );
    }

    pub fn merge(&mut self, other: &SetPart, tomb: &Tomb) {
        for (m, tags) in other.entries() {
            for t in tags {
                self.add(m, *t, tomb);
            }
        }
    }
}

/// Equal when they hold the same members with the same adds.
impl PartialEq for SetPart {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.entries().all(|(m, tags)| other.tags(m) == tags)
    }
}

impl fmt::Debug for SetPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.entries()).finish()
    }
}

impl HeapSize for SetPart {
    fn heap_bytes(&self) -> usize {
        // A slab slot holds a list or, when free, the next free slot's key.
        let slot = size_of::<Vec<Tag>>().max(size_of::<usize>()) + size_of::<usize>();
        self.members.heap_bytes()
            + self.spilled.capacity() * slot
            + self
                .spilled
                .iter()
                .map(|(_, tags)| tags.heap_bytes())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(server: u32, op: u64) -> Tag {
        Tag::new(Dot::new(ServerId(server), OpId(op), 0), Hlc(op))
    }

    #[test]
    fn a_member_keeps_every_live_add_and_goes_back_inline_with_one() {
        let tomb = Tomb::default();
        let mut s = SetPart::default();
        let m = Blob::from(&b"m"[..]);
        s.add(&m, tag(2, 5), &tomb);
        s.add(&m, tag(1, 7), &tomb);
        s.add(&m, tag(3, 1), &tomb);
        s.add(&m, tag(1, 7), &tomb);
        assert_eq!(s.tags(b"m"), &[tag(1, 7), tag(2, 5), tag(3, 1)]);
        assert_eq!(s.spilled.len(), 1);
        s.remove(b"m", tag(2, 5).dot);
        assert_eq!(s.tags(b"m"), &[tag(1, 7), tag(3, 1)]);
        s.remove(b"m", tag(1, 7).dot);
        assert_eq!(s.tags(b"m"), &[tag(3, 1)]);
        assert!(s.spilled.capacity() == 0, "list given back");
        s.remove(b"m", tag(3, 1).dot);
        assert!(s.is_empty());
    }

    #[test]
    fn an_add_from_server_zero_is_kept_as_a_list() {
        let tomb = Tomb::default();
        let mut s = SetPart::default();
        let m = Blob::from(&b"m"[..]);
        s.add(&m, tag(0, 9), &tomb);
        assert_eq!(s.tags(b"m"), &[tag(0, 9)]);
        s.add(&m, tag(4, 2), &tomb);
        s.remove(b"m", tag(4, 2).dot);
        assert_eq!(s.tags(b"m"), &[tag(0, 9)]);
        assert_eq!(s, s.clone());
        s.remove(b"m", tag(0, 9).dot);
        assert!(s.is_empty());
    }
}
