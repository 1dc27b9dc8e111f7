//! Sorted set: membership is add-wins; a member's score is a [`Field`] whose register is set
//! by ZADD (last writer wins) and whose counter takes ZINCRBY (concurrent increments add up).

use crate::blob::Blob;
use crate::field::Field;
use crate::fields::FieldTable;
use crate::ids::{Dot, Stamp};
use crate::ranked::Ranked;
use crate::tomb::Tomb;
use crate::vv::VersionVector;
use std::cmp::Ordering;

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
    /// Members' scores, as a hash's fields are kept (see [`FieldTable`]).
    members: FieldTable<f64>,
    /// Live members by (score, member): Redis's order for ranges and ranks, with each
    /// one's position (ZRANK, a range by rank or by score in O(log n), as Redis's skiplist).
    order: Ranked<(Score, Blob)>,
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

/// A member's score before and after `change`: `None` where it is not live.
fn scored(f: &mut Field<f64>, change: impl FnOnce(&mut Field<f64>)) -> [Option<Score>; 2] {
    let score = |f: &Field<f64>| f.is_live().then(|| Score(member_score(f)));
    let before = score(f);
    change(f);
    [before, score(f)]
}

impl ZSetPart {
    pub fn is_live(&self) -> bool {
        !self.order.is_empty()
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.field(m).map(member_score)
    }

    /// Live members in (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Blob, f64)> {
        self.ranks(0, self.len())
    }

    /// Live members at ranks `from..to` (0: the lowest score), in order.
    pub fn ranks(&self, from: usize, to: usize) -> impl DoubleEndedIterator<Item = (&Blob, f64)> {
        self.order.span(from, to).map(|(s, m)| (m, s.0))
    }

    /// How many live members come before the first that `below` does not hold for, where
    /// `below` holds for a prefix of the order (as "a score under 5" does): the rank where
    /// a range by score or by member starts, or ends.
    pub fn position(&self, below: impl Fn(f64, &Blob) -> bool) -> usize {
        self.order.position(|(s, m)| below(s.0, m))
    }

    /// A live member's rank (0: the lowest score), and its score.
    pub fn rank(&self, m: &[u8]) -> Option<(usize, f64)> {
        let s = Score(self.score(m)?);
        let rank = self.order.position(|(x, y)| (*x, y.as_slice()) < (s, m));
        Some((rank, s.0))
    }

    /// How many members are held, live or kept only for reset records: the positions of
    /// [`ZSetPart::member_at`].
    pub fn held(&self) -> usize {
        self.members.held()
    }

    /// The member held at position `i` with its score, if it is live (positions are in no
    /// particular order: a scan's, see [`crate::table::KeyTable`]).
    pub fn member_at(&self, i: usize) -> Option<(&Blob, f64)> {
        let (m, f) = self.members.live_at(i)?;
        Some((m, member_score(f)))
    }

    pub fn field(&self, m: &[u8]) -> Option<&Field<f64>> {
        self.members.field(m).filter(|f| f.is_live())
    }

    /// Live members with their fields, in no particular order (a walk of the members'
    /// table, with no lookup of each, as a walk of the order would need).
    pub(crate) fn live_members(&self) -> impl Iterator<Item = (&Blob, &Field<f64>)> {
        self.members.live_fields()
    }

    pub(crate) fn all_members(&self) -> impl Iterator<Item = (&Blob, &Field<f64>)> {
        self.members.all()
    }

    /// Whether no member is held, not even one with reset records only.
    pub(crate) fn is_void(&self) -> bool {
        self.members.is_void()
    }

    pub fn max_stamp(&self) -> Option<Stamp> {
        self.members.max_stamp()
    }

    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.members.dots()
    }

    pub fn observe_into(&self, vv: &mut VersionVector) {
        self.members.observe_into(vv);
    }

    /// Change one member through `f`, keeping the order in step.
    pub fn update(&mut self, m: &Blob, f: impl FnOnce(&mut Field<f64>)) {
        let scores = self.members.update(m, |field| scored(field, f));
        self.reindex_member(m, scores);
    }

    pub fn remove(&mut self, m: &Blob, dot: Dot) {
        let remove = |f: &mut Field<f64>| {
            f.remove_dot(dot);
        };
        if let Some(scores) = self.members.change(m, |field| scored(field, remove)) {
            self.reindex_member(m, scores);
        }
    }

    pub fn prune(&mut self, tomb: &Tomb) {
        self.members.prune(tomb);
        self.reindex();
    }

    pub fn merge(&mut self, other: &ZSetPart, tomb: &Tomb) {
        self.members.merge(&other.members, tomb);
        self.reindex();
    }

    /// [`Field::gc`] of every member, dropping those left void. Returns whether any changed.
    /// A collection drops reset records already applied and void members: no live
    /// member's score changes, so the order stays.
    pub fn gc(&mut self, stable: &VersionVector) -> bool {
        self.members.gc(stable)
    }

    /// Move member `m` in the order from its score before a change to its score after.
    /// Compared bit for bit: a score of -0 that becomes 0 is written again.
    fn reindex_member(&mut self, m: &Blob, [before, after]: [Option<Score>; 2]) {
        let bits = |s: Option<Score>| s.map(|s| s.0.to_bits());
        if bits(before) == bits(after) {
            return;
        }
        if let Some(s) = before {
            self.order.remove(&(s, m.clone()));
        }
        if let Some(s) = after {
            self.order.insert((s, m.clone()));
        }
    }

    /// The order made again from the members.
    fn reindex(&mut self) {
        self.order = self
            .members
            .all()
            .filter(|(_, f)| f.is_live())
            .map(|(m, f)| (Score(member_score(f)), m.clone()))
            .collect();
    }
}

impl crate::heap::HeapSize for ZSetPart {
    fn heap_bytes(&self) -> usize {
        self.members.heap_bytes() + self.order.heap_bytes()
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
            assert_eq!(z.members.counters(), with_counter);
            with_counter
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
