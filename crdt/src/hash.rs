//! Hash: fields are add-wins (a concurrent HSET survives an HDEL), each field's value a
//! [`Field`]: last-writer-wins for HSET, counting for HINCRBY.

use crate::blob::Blob;
use crate::field::Field;
use crate::ids::{Dot, Stamp};
use crate::table::{Entry, KeyTable};
use crate::tomb::Tomb;
use crate::vv::VersionVector;

/// Fields in a dense table (see [`KeyTable`]), as keys and set members are: a large hash
/// grows its index a few slots per write, never all at once, and an empty bucket costs 5
/// bytes, not a whole field.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct HashPart {
    fields: KeyTable<Field<Blob>>,
    /// How many fields are live (the others hold only reset records): HLEN, and whether an
    /// HDEL empties the hash, without a walk over every field.
    live: usize,
    /// How many fields have a counter (HINCRBY's): a collection walks the fields only when
    /// some have, so a large hash of HSETs costs it nothing.
    counters: usize,
}

impl HashPart {
    pub fn is_live(&self) -> bool {
        self.live > 0
    }

    /// Live fields, in no particular order.
    pub fn fields(&self) -> impl Iterator<Item = (&Blob, &Field<Blob>)> {
        self.fields.iter().filter(|(_, f)| f.is_live())
    }

    /// Live fields in the order they were written: by the earliest write each still holds,
    /// so every region lists them alike. (A field written anew goes last; Redis keeps its
    /// place.)
    pub fn fields_in_order(&self) -> Vec<(&Blob, &Field<Blob>)> {
        let mut v: Vec<_> = self.fields().collect();
        v.sort_by_key(|(name, f)| (f.first_written(), *name));
        v
    }

    /// All fields, including ones kept only for reset records (for encoding).
    pub(crate) fn all_fields(&self) -> impl Iterator<Item = (&Blob, &Field<Blob>)> {
        self.fields.iter()
    }

    pub fn get(&self, f: &[u8]) -> Option<&Field<Blob>> {
        self.fields.get(f).filter(|f| f.is_live())
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        !self.is_live()
    }

    pub fn max_stamp(&self) -> Option<Stamp> {
        self.fields.values().filter_map(Field::max_stamp).max()
    }

    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.fields.values().flat_map(Field::dots)
    }

    pub fn observe_into(&self, vv: &mut VersionVector) {
        for f in self.fields.values() {
            f.observe_into(vv);
        }
    }

    pub fn remove(&mut self, f: &[u8], dot: Dot) {
        let Some(field) = self.fields.get_mut(f) else {
            return;
        };
        let before = counts(field);
        field.remove_dot(dot);
        let (after, void) = (counts(field), field.is_void());
        self.recount(before, after);
        if void {
            self.fields.remove(f);
        }
    }

    pub fn prune(&mut self, tomb: &Tomb) {
        self.change_all(|f| f.prune(tomb));
    }

    pub fn merge(&mut self, other: &HashPart, tomb: &Tomb) {
        for (k, f) in other.fields.iter() {
            self.update(k, |held| held.merge(f, tomb));
        }
    }

    /// [`HashPart::live`] and [`HashPart::counters`] after one field went from counting
    /// for `before` to counting for `after` ([`counts`]).
    fn recount(&mut self, before: (usize, usize), after: (usize, usize)) {
        self.live = self.live + after.0 - before.0;
        self.counters = self.counters + after.1 - before.1;
    }

    /// Change every field, drop those left void, and count again in the same walk.
    fn change_all(&mut self, mut change: impl FnMut(&mut Field<Blob>)) {
        let (mut live, mut counters) = (0, 0);
        self.fields.retain(|_, f| {
            change(f);
            let (l, c) = counts(f);
            (live, counters) = (live + l, counters + c);
            !f.is_void()
        });
        (self.live, self.counters) = (live, counters);
    }

    /// [`Field::gc`] of every field, dropping those left void. Returns whether any changed.
    /// Only a field with a counter has anything to collect: without one, no walk.
    pub fn gc(&mut self, stable: &VersionVector) -> bool {
        if self.counters == 0 {
            return false;
        }
        let before = self.fields.len();
        let mut changed = false;
        self.change_all(|f| changed |= f.gc(stable));
        changed || self.fields.len() != before
    }

    /// Change field `f` in one lookup, dropping it when the change leaves it void (a
    /// write the tomb kills); a new field is made aside and kept only if it is not.
    pub(crate) fn update(&mut self, f: &Blob, change: impl FnOnce(&mut Field<Blob>)) {
        match self.fields.entry(f) {
            Entry::Occupied(held) => {
                let before = counts(held);
                change(held);
                let (after, void) = (counts(held), held.is_void());
                self.recount(before, after);
                if void {
                    self.fields.remove(f);
                }
            }
            Entry::Vacant(room) => {
                let mut field = Field::default();
                change(&mut field);
                let after = counts(&field);
                if !field.is_void() {
                    room.insert(f.clone(), field);
                }
                self.recount((0, 0), after);
            }
        }
    }
}

/// What a field counts for in [`HashPart::live`] and [`HashPart::counters`].
fn counts(f: &Field<Blob>) -> (usize, usize) {
    (usize::from(f.is_live()), usize::from(f.has_counter()))
}

impl crate::heap::HeapSize for HashPart {
    fn heap_bytes(&self) -> usize {
        self.fields.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;
    use crate::ids::{OpId, ServerId, Tag};

    fn tag(op: u64) -> Tag {
        Tag::new(Dot::new(ServerId(1), OpId(op), 0), Hlc(op))
    }

    #[test]
    fn update_keeps_a_written_field_and_drops_one_left_void() {
        let mut h = HashPart::default();
        let name = Blob::from(&b"f"[..]);
        let none = Tomb::default();
        h.update(&name, |f| f.add_reg(tag(1), Blob::from(&b"v"[..]), &none));
        assert_eq!(h.get(b"f").map(|f| f.dots().count()), Some(1));
        // A write the tomb already killed makes no field.
        let mut killed = Tomb::default();
        killed.add_removed(tag(2).dot, tag(3).dot);
        h.update(&Blob::from(&b"g"[..]), |f| {
            f.add_reg(tag(2), Blob::from(&b"w"[..]), &killed)
        });
        assert_eq!(h.all_fields().count(), 1);
        // A change that leaves a held field void drops it.
        h.update(&name, |f| {
            f.remove_dot(tag(1).dot);
        });
        assert_eq!(h.all_fields().count(), 0);
    }

    /// The live count follows every change: a field holding only a reset record is held
    /// but not counted, and merges and collection count again.
    #[test]
    fn len_counts_the_live_fields_only() {
        use crate::field::CounterReset;
        let none = Tomb::default();
        let mut h = HashPart::default();
        let counted = |h: &HashPart| {
            let with_counter = h.all_fields().filter(|(_, f)| f.has_counter()).count();
            assert_eq!(h.counters, with_counter);
            assert_eq!(h.len(), h.fields().count());
            assert_eq!(h.is_live(), h.fields().next().is_some());
            h.len()
        };
        assert_eq!(counted(&h), 0);
        let (f, g) = (Blob::from("f"), Blob::from("g"));
        h.update(&f, |x| x.add_reg(tag(1), Blob::from("v"), &none));
        h.update(&g, |x| x.add_reg(tag(2), Blob::from("w"), &none));
        h.update(&f, |x| x.add_reg(tag(3), Blob::from("v2"), &none));
        assert_eq!(counted(&h), 2);
        // A reset of a counter entry that has not arrived: held, not live.
        let reset = CounterReset {
            start: OpId(9),
            op: OpId(9),
            total: crate::field::Num::Int(1),
            by: tag(4).dot,
        };
        let r = Blob::from("r");
        h.update(&r, |x| x.add_reset(ServerId(2), reset));
        assert_eq!((h.all_fields().count(), counted(&h)), (3, 2));
        h.remove(b"g", tag(2).dot);
        assert_eq!(counted(&h), 1);
        // A merge brings `g` back (a write the other side holds and this one never removed).
        let mut other = HashPart::default();
        other.update(&g, |x| x.add_reg(tag(5), Blob::from("w2"), &none));
        h.merge(&other, &none);
        assert_eq!(counted(&h), 2);
        // Removing every write leaves the reset record only.
        h.remove(b"f", tag(1).dot);
        h.remove(b"f", tag(3).dot);
        h.remove(b"g", tag(5).dot);
        assert_eq!((h.all_fields().count(), counted(&h)), (1, 0));
        assert!(h.is_empty());
        // Collected once stable: the reset record goes, and its field with it.
        let mut stable = VersionVector::new();
        stable.raise(ServerId(2), OpId(9));
        stable.add(tag(4).dot);
        assert!(h.gc(&stable));
        assert_eq!((h.all_fields().count(), counted(&h)), (0, 0));
        assert!(!h.gc(&stable), "nothing left to collect");
    }
}
