//! The named fields of a hash or a sorted set: each a [`Field`], in a dense table, with
//! counts kept as the fields change.

use crate::blob::Blob;
use crate::field::Field;
use crate::ids::{Dot, Stamp};
use crate::table::{Entry, KeyTable};
use crate::tomb::Tomb;
use crate::vv::VersionVector;

/// Fields by name in a [`KeyTable`], as keys and set members are: a large hash grows its
/// index a few slots per write, never all at once, and an empty bucket costs 5 bytes, not a
/// whole field. Every change of a field goes through [`FieldTable::update`] or
/// [`FieldTable::change`] (one field) or `change_all` (every field), which keep the counts.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldTable<V> {
    fields: KeyTable<Field<V>>,
    /// How many fields are live (the others hold only reset records): HLEN, and whether an
    /// HDEL empties the hash, without a walk over every field.
    live: usize,
    /// How many fields have a counter (HINCRBY's, ZINCRBY's): a collection walks the
    /// fields only when some have, so a large hash of HSETs costs it nothing.
    counters: usize,
}

impl<V> Default for FieldTable<V> {
    fn default() -> Self {
        FieldTable {
            fields: KeyTable::default(),
            live: 0,
            counters: 0,
        }
    }
}

impl<V: Clone + PartialEq> FieldTable<V> {
    pub fn is_live(&self) -> bool {
        self.live > 0
    }

    /// How many fields are live.
    pub fn live(&self) -> usize {
        self.live
    }

    /// A field, live or holding only reset records.
    pub fn field(&self, name: &[u8]) -> Option<&Field<V>> {
        self.fields.get(name)
    }

    /// All fields, including ones kept only for reset records (for encoding).
    pub fn all(&self) -> impl Iterator<Item = (&Blob, &Field<V>)> {
        self.fields.iter()
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

    /// Change field `name` in one lookup, dropping it when the change leaves it void (a
    /// write the tomb kills); a new field is made aside and kept only if it is not. What
    /// `change` returns.
    pub fn update<R>(&mut self, name: &Blob, change: impl FnOnce(&mut Field<V>) -> R) -> R {
        match self.fields.entry(name) {
            Entry::Occupied(held) => {
                let (counted, r) = counted(held, change);
                self.settle(name, counted);
                r
            }
            Entry::Vacant(room) => {
                let mut field = Field::default();
                let r = change(&mut field);
                let after = counts(&field);
                if !field.is_void() {
                    room.insert(name.clone(), field);
                }
                self.recount((0, 0), after);
                r
            }
        }
    }

    /// [`FieldTable::update`] of a field that is here; `None` when it is not.
    pub fn change<R>(&mut self, name: &[u8], change: impl FnOnce(&mut Field<V>) -> R) -> Option<R> {
        let (counted, r) = counted(self.fields.get_mut(name)?, change);
        self.settle(name, counted);
        Some(r)
    }

    /// The counts after a held field's change ([`counted`]), and the field dropped if the
    /// change left it void.
    fn settle(&mut self, name: &[u8], c: Counted) {
        self.recount(c.before, c.after);
        if c.void {
            self.fields.remove(name);
        }
    }

    pub fn prune(&mut self, tomb: &Tomb) {
        self.change_all(|f| f.prune(tomb));
    }

    pub fn merge(&mut self, other: &FieldTable<V>, tomb: &Tomb) {
        for (name, f) in other.fields.iter() {
            self.update(name, |held| held.merge(f, tomb));
        }
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

    /// The counts after one field went from counting for `before` to counting for `after`
    /// ([`counts`]).
    fn recount(&mut self, before: (usize, usize), after: (usize, usize)) {
        self.live = self.live + after.0 - before.0;
        self.counters = self.counters + after.1 - before.1;
    }

    /// Change every field, drop those left void, and count again in the same walk.
    fn change_all(&mut self, mut change: impl FnMut(&mut Field<V>)) {
        let (mut live, mut counters) = (0, 0);
        self.fields.retain(|_, f| {
            change(f);
            let (l, c) = counts(f);
            (live, counters) = (live + l, counters + c);
            !f.is_void()
        });
        (self.live, self.counters) = (live, counters);
    }

    #[cfg(test)]
    pub(crate) fn counters(&self) -> usize {
        self.counters
    }
}

/// What a change did to a held field: what it counted for before and after ([`counts`]),
/// and whether it left the field void.
struct Counted {
    before: (usize, usize),
    after: (usize, usize),
    void: bool,
}

/// `change` of a held field, and what it did to the field's counts.
fn counted<V: Clone + PartialEq, R>(
    held: &mut Field<V>,
    change: impl FnOnce(&mut Field<V>) -> R,
) -> (Counted, R) {
    let before = counts(held);
    let r = change(held);
    let c = Counted {
        before,
        after: counts(held),
        void: held.is_void(),
    };
    (c, r)
}

/// What a field counts for in [`FieldTable::live`] and its count of counters.
fn counts<V: Clone + PartialEq>(f: &Field<V>) -> (usize, usize) {
    (usize::from(f.is_live()), usize::from(f.has_counter()))
}

impl<V: crate::heap::HeapSize> crate::heap::HeapSize for FieldTable<V> {
    fn heap_bytes(&self) -> usize {
        self.fields.heap_bytes()
    }
}
