//! Sorted set: membership is add-wins; a member's score is a [`Field`] whose register is set
//! by ZADD (last writer wins) and whose counter takes ZINCRBY (concurrent increments add up).

use crate::blob::Blob;
use crate::field::Field;
use crate::ids::{Dot, Stamp};
use crate::table::KeyTable;
use crate::tomb::Tomb;
use crate::vv::VersionVector;
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// A score ordered totally (`f64::total_cmp`), as sorted-set order needs.
#[derive(Copy, Clone, Debug)]
pub struct Score(pub f64);

impl PartialEq for Score {
    fn eq(&self, o: &Score) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, o: &Score) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Score {
    fn cmp(&self, o: &Score) -> Ordering {
        // -0.0 and 0.0 are one score, as in Redis.
        (self.0 + 0.0).total_cmp(&(o.0 + 0.0))
    }
}

#[derive(Clone, Debug, Default)]
pub struct ZSetPart {
    /// In a dense table, as a hash's fields are (see [`KeyTable`]).
    members: KeyTable<Field<f64>>,
    /// Live members by (score, member): Redis's order for ranges and ranks.
    index: BTreeSet<(Score, Blob)>,
    /// How many members have a counter (ZINCRBY's): a collection walks the members only
    /// when some have.
    counters: usize,
}

impl PartialEq for ZSetPart {
    fn eq(&self, o: &ZSetPart) -> bool {
        self.members == o.members
    }
}

/// A member's score: its register's value (0 when only increments exist) plus increments.
pub fn member_score(f: &Field<f64>) -> f64 {
    let base = f.base().map_or(0.0, |r| r.value);
    match f.increments() {
        Some(n) => base + n.as_f64(),
        None => base,
    }
}

impl ZSetPart {
    pub fn is_live(&self) -> bool {
        !self.index.is_empty()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.members
            .get(m)
            .filter(|f| f.is_live())
            .map(member_score)
    }

    /// Live members in (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Blob, f64)> {
        self.index.iter().map(|(s, m)| (m, s.0))
    }

    /// The ordered index itself, for range queries.
    pub fn index(&self) -> &BTreeSet<(Score, Blob)> {
        &self.index
    }

    pub fn field(&self, m: &[u8]) -> Option<&Field<f64>> {
        self.members.get(m).filter(|f| f.is_live())
    }

    pub(crate) fn all_members(&self) -> impl Iterator<Item = (&Blob, &Field<f64>)> {
        self.members.iter()
    }

    pub fn max_stamp(&self) -> Option<Stamp> {
        self.members.values().filter_map(Field::max_stamp).max()
    }

    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.members.values().flat_map(Field::dots)
    }

    pub fn observe_into(&self, vv: &mut VersionVector) {
        for f in self.members.values() {
            f.observe_into(vv);
        }
    }

    /// Change one member through `f`, keeping the index in step.
    pub fn update(&mut self, m: &Blob, f: impl FnOnce(&mut Field<f64>)) {
        let field = self.members.get_or_insert_with(m, Field::default);
        if field.is_live() {
            self.index.remove(&(Score(member_score(field)), m.clone()));
        }
        let had_counter = field.has_counter();
        f(field);
        self.counters = self.counters + usize::from(field.has_counter()) - usize::from(had_counter);
        if field.is_live() {
            self.index.insert((Score(member_score(field)), m.clone()));
        }
        if field.is_void() {
            self.members.remove(m);
        }
    }

    pub fn remove(&mut self, m: &Blob, dot: Dot) {
        if self.members.contains_key(m.as_slice()) {
            self.update(m, |f| {
                f.remove_dot(dot);
            });
        }
    }

    pub fn prune(&mut self, tomb: &Tomb) {
        self.members.retain(|_, f| {
            f.prune(tomb);
            !f.is_void()
        });
        self.reindex();
    }

    pub fn merge(&mut self, other: &ZSetPart, tomb: &Tomb) {
        for (m, f) in other.members.iter() {
            self.members
                .get_or_insert_with(m, Field::default)
                .merge(f, tomb);
        }
        self.members.retain(|_, f| !f.is_void());
        self.reindex();
    }

    /// [`Field::gc`] of every member, dropping those left void. Returns whether any changed.
    /// Only a member with a counter has anything to collect: without one, no walk.
    pub fn gc(&mut self, stable: &VersionVector) -> bool {
        if self.counters == 0 {
            return false;
        }
        let before = self.members.len();
        let mut changed = false;
        let mut counters = 0;
        self.members.retain(|_, f| {
            changed |= f.gc(stable);
            counters += usize::from(f.has_counter());
            !f.is_void()
        });
        self.counters = counters;
        changed || self.members.len() != before
    }

    /// The index and [`ZSetPart::counters`] made again from the members.
    fn reindex(&mut self) {
        self.counters = self.members.values().filter(|f| f.has_counter()).count();
        self.index = self
            .members
            .iter()
            .filter(|(_, f)| f.is_live())
            .map(|(m, f)| (Score(member_score(f)), m.clone()))
            .collect();
    }
}

impl crate::heap::HeapSize for ZSetPart {
    fn heap_bytes(&self) -> usize {
        self.members.heap_bytes() + self.index.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{CounterEntry, CounterReset, Num};
    use crate::hlc::Hlc;
    use crate::ids::{OpId, ServerId, Tag};

    fn tag(op: u64) -> Tag {
        Tag::new(Dot::new(ServerId(1), OpId(op), 0), Hlc(op))
    }

    /// The count of members with a counter follows every change, so a collection that
    /// finds none skips the walk, and one that finds some collects.
    #[test]
    fn counters_follow_the_members_that_hold_one() {
        let none = Tomb::default();
        let mut z = ZSetPart::default();
        let counted = |z: &ZSetPart| {
            let with_counter = z.all_members().filter(|(_, f)| f.has_counter()).count();
            assert_eq!(z.counters, with_counter);
            z.counters
        };
        let (a, b) = (Blob::from("a"), Blob::from("b"));
        z.update(&a, |f| f.add_reg(tag(1), 1.0, &none));
        assert_eq!(counted(&z), 0);
        assert!(!z.gc(&VersionVector::new()), "nothing to collect");
        // ZINCRBY's entry, then a reset of another origin's entry that has not arrived.
        let entry = CounterEntry {
            start: OpId(2),
            tag: tag(2),
            total: Num::Float(2.0),
        };
        z.update(&b, |f| f.add_entry(entry, &none));
        let reset = CounterReset {
            start: OpId(9),
            op: OpId(9),
            total: Num::Float(1.0),
            by: tag(4).dot,
        };
        z.update(&a, |f| f.add_reset(ServerId(2), reset));
        assert_eq!(counted(&z), 2);
        // A merge counts again.
        let mut other = ZSetPart::default();
        other.update(&Blob::from("c"), |f| f.add_reg(tag(5), 3.0, &none));
        z.merge(&other, &none);
        assert_eq!((counted(&z), z.len()), (2, 3));
        // Once stable, the reset record is collected: `a` keeps its register, no counter.
        let mut stable = VersionVector::new();
        stable.raise(ServerId(2), OpId(9));
        stable.add(tag(4).dot);
        assert!(z.gc(&stable));
        assert_eq!(counted(&z), 1);
        z.remove(&b, tag(2).dot);
        assert_eq!((counted(&z), z.len()), (0, 2));
    }
}
