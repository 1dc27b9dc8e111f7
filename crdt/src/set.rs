//! Add-wins observed-remove set: a member is present while any of its adds is live; a remove
//! takes away only the adds it observed, so a concurrent add survives.

use crate::blob::Blob;
use crate::ids::{Dot, Stamp, Tag};
use crate::table::KeyTable;
use crate::tomb::Tomb;
use crate::vv::VersionVector;
use smallvec::SmallVec;

/// Members in a dense table (see [`KeyTable`]): SPOP and SRANDMEMBER pick one by position
/// in constant time, as Redis picks a random bucket.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SetPart {
    members: KeyTable<SmallVec<[Tag; 1]>>,
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
        self.members.iter().map(|(m, t)| (m, t.as_slice()))
    }

    /// Live adds of one member.
    pub fn tags(&self, m: &[u8]) -> &[Tag] {
        self.members.get(m).map_or(&[], |t| t.as_slice())
    }

    pub fn max_stamp(&self) -> Option<Stamp> {
        self.members.values().flatten().map(|t| t.stamp()).max()
    }

    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.members.values().flatten().map(|t| t.dot)
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
        let tags = self.members.get_or_insert_with(member, SmallVec::new);
        if let Err(i) = tags.binary_search_by_key(&tag.dot, |t| t.dot) {
            tags.insert(i, tag);
        }
    }

    pub fn remove(&mut self, member: &[u8], dot: Dot) {
        if let Some(tags) = self.members.get_mut(member) {
            tags.retain(|t| t.dot != dot);
            if tags.is_empty() {
                self.members.remove(member);
            }
        }
    }

    pub fn prune(&mut self, tomb: &Tomb) {
        self.members.retain(|_, tags| {
            tags.retain(|t| !tomb.kills(t.dot));
            !tags.is_empty()
        });
    }

    pub fn merge(&mut self, other: &SetPart, tomb: &Tomb) {
        for (m, tags) in other.members.iter() {
            for t in tags {
                self.add(m, *t, tomb);
            }
        }
    }
}

impl crate::heap::HeapSize for SetPart {
    fn heap_bytes(&self) -> usize {
        self.members.heap_bytes()
    }
}
