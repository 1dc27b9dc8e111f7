//! The named fields of a hash or a sorted set: each a [`Field`], in a dense table, with
//! counts kept as the fields change.

use crate::blob::Blob;
use crate::field::Field;
use crate::ids::{Dot, Stamp};
use crate::table::{Entry, KeyTable};
use crate::tomb::Tomb;
use crate::vv::VersionVector;

/// Fields by name: a few in a vector, as Redis keeps a small hash in a listpack, and past
/// [`FEW_FIELDS`] in a [`KeyTable`], as keys and set members are (a large hash grows its
/// index a few slots per write, never all at once, and an empty bucket costs 5 bytes, not a
/// whole field). Every change of a field goes through [`FieldTable::update`] or
/// [`FieldTable::change`] (one field) or `change_all` (every field), which keep the counts.
#[derive(Clone, Debug)]
pub struct FieldTable<V> {
    fields: Fields<V>,
    /// How many fields are live (the others hold only reset records): HLEN, and whether an
    /// HDEL empties the hash, without a walk over every field.
    live: usize,
    /// How many fields have a counter (HINCRBY's, ZINCRBY's): a collection walks the
    /// fields only when some have, so a large hash of HSETs costs it nothing.
    counters: usize,
}

/// The most fields a table keeps in its vector form: looked through one by one (a hash of
/// one field costs its entry and no index: 88 bytes of heap, where the table form took 248
/// with its box), and moved into a [`KeyTable`] when one more comes.
pub const FEW_FIELDS: usize = 16;

/// A table's fields in one of two forms; which one is no part of the state (a table that
/// grew and shrank again stays in the table form, and equals the vector of its fields).
#[derive(Clone, Debug)]
enum Fields<V> {
    /// At most [`FEW_FIELDS`], with room for no more than they take.
    Few(Vec<(Blob, Field<V>)>),
    Many(Box<KeyTable<Field<V>>>),
}

impl<V> Fields<V> {
    fn len(&self) -> usize {
        match self {
            Fields::Few(v) => v.len(),
            Fields::Many(t) => t.len(),
        }
    }

    #[inline]
    fn get(&self, name: &[u8]) -> Option<&Field<V>> {
        match self {
            Fields::Few(v) => v.iter().find(|(n, _)| n[..] == *name).map(|(_, f)| f),
            Fields::Many(t) => t.get(name),
        }
    }

    fn get_mut(&mut self, name: &[u8]) -> Option<&mut Field<V>> {
        match self {
            Fields::Few(v) => v.iter_mut().find(|(n, _)| n[..] == *name).map(|(_, f)| f),
            Fields::Many(t) => t.get_mut(name),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&Blob, &Field<V>)> {
        let (few, many) = match self {
            Fields::Few(v) => (Some(v.iter().map(|(n, f)| (n, f))), None),
            Fields::Many(t) => (None, Some(t.iter())),
        };
        few.into_iter().flatten().chain(many.into_iter().flatten())
    }

    /// Add a field that is not here.
    fn insert_new(&mut self, name: Blob, field: Field<V>) {
        match self {
            Fields::Few(v) if v.len() < FEW_FIELDS => {
                v.reserve_exact(1);
                v.push((name, field));
            }
            Fields::Few(v) => {
                let mut t: KeyTable<Field<V>> = std::mem::take(v).into_iter().collect();
                t.insert(name, field);
                *self = Fields::Many(Box::new(t));
            }
            Fields::Many(t) => {
                t.insert(name, field);
            }
        }
    }

    fn remove(&mut self, name: &[u8]) {
        match self {
            Fields::Few(v) => {
                if let Some(i) = v.iter().position(|(n, _)| n[..] == *name) {
                    v.swap_remove(i);
                }
            }
            Fields::Many(t) => {
                t.remove(name);
            }
        }
    }

    fn retain(&mut self, mut keep: impl FnMut(&Blob, &mut Field<V>) -> bool) {
        match self {
            Fields::Few(v) => v.retain_mut(|(n, f)| keep(n, f)),
            Fields::Many(t) => t.retain(keep),
        }
    }
}

impl<V> Default for FieldTable<V> {
    fn default() -> Self {
        FieldTable {
            fields: Fields::Few(Vec::new()),
            live: 0,
            counters: 0,
        }
    }
}

/// Equal when they hold the same fields, in either form and any order.
impl<V: PartialEq> PartialEq for FieldTable<V> {
    fn eq(&self, other: &Self) -> bool {
        self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .all(|(name, f)| other.fields.get(name) == Some(f))
    }
}

impl<V: Clone + PartialEq> FieldTable<V> {
    /// A table of fields each live and without a counter (a packed hash's, unpacked): at
    /// most [`FEW_FIELDS`], in the vector form.
    pub(crate) fn of_live_registers(fields: Vec<(Blob, Field<V>)>) -> Self {
        debug_assert!(fields.len() <= FEW_FIELDS);
        debug_assert!(fields.iter().all(|(_, f)| counts(f) == (1, 0)));
        FieldTable {
            live: fields.len(),
            counters: 0,
            fields: Fields::Few(fields),
        }
    }

    pub fn is_live(&self) -> bool {
        self.live > 0
    }

    /// Whether no field is held, not even one with reset records only.
    pub fn is_void(&self) -> bool {
        self.fields.len() == 0
    }

    /// How many fields are live.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Whether every field held is live (none kept only for reset records, as usual): then
    /// [`FieldTable::at`] reaches the live ones by position.
    pub fn all_live(&self) -> bool {
        self.fields.len() == self.live
    }

    /// How many fields are held, live or kept only for reset records: the positions of
    /// [`FieldTable::at`].
    pub fn held(&self) -> usize {
        self.fields.len()
    }

    /// The field held at position `i`, in no particular order (a random pick's, a scan's:
    /// see [`KeyTable`] for how positions move).
    pub fn at(&self, i: usize) -> Option<(&Blob, &Field<V>)> {
        match &self.fields {
            Fields::Few(v) => v.get(i).map(|(n, f)| (n, f)),
            Fields::Many(t) => t.at(i),
        }
    }

    /// The live fields, in no particular order.
    pub fn live_fields(&self) -> impl Iterator<Item = (&Blob, &Field<V>)> {
        self.fields.iter().filter(|(_, f)| f.is_live())
    }

    /// The field at position `i` of [`FieldTable::at`], if it is live.
    pub fn live_at(&self, i: usize) -> Option<(&Blob, &Field<V>)> {
        self.at(i).filter(|(_, f)| f.is_live())
    }

    /// Ask for the fields' vector, or the table's header, without reading it.
    pub fn prefetch(&self) {
        match &self.fields {
            Fields::Few(v) => {
                if let Some(first) = v.first() {
                    crate::prefetch::prefetch(first);
                }
            }
            Fields::Many(t) => crate::prefetch::prefetch(&**t),
        }
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
        self.fields.iter().filter_map(|(_, f)| f.max_stamp()).max()
    }

    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.fields.iter().flat_map(|(_, f)| f.dots())
    }

    pub fn observe_into(&self, vv: &mut VersionVector) {
        for (_, f) in self.fields.iter() {
            f.observe_into(vv);
        }
    }

    /// Change field `name` in one lookup, dropping it when the change leaves it void (a
    /// write the tomb kills); a new field is made aside and kept only if it is not. What
    /// `change` returns.
    pub fn update<R>(&mut self, name: &Blob, change: impl FnOnce(&mut Field<V>) -> R) -> R {
        let held = match &mut self.fields {
            Fields::Few(v) => v.iter_mut().find(|(n, _)| *n == *name).map(|(_, f)| f),
            Fields::Many(t) => match t.entry(name) {
                Entry::Occupied(held) => Some(held),
                // The table's room for a new field: inserted without a second lookup.
                Entry::Vacant(room) => {
                    let (field, after, r) = made_aside(change);
                    if !field.is_void() {
                        room.insert(name.clone(), field);
                    }
                    self.recount((0, 0), after);
                    return r;
                }
            },
        };
        if let Some(held) = held {
            let (counted, r) = counted(held, change);
            self.settle(name, counted);
            return r;
        }
        let (field, after, r) = made_aside(change);
        if !field.is_void() {
            self.fields.insert_new(name.clone(), field);
        }
        self.recount((0, 0), after);
        r
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

/// A new field made aside by `change` (kept only if the change did not leave it void: a
/// write the tomb kills), what it counts for, and what `change` returned. Inlined: every
/// new field of a hash is made here.
#[inline(always)]
fn made_aside<V: Clone + PartialEq, R>(
    change: impl FnOnce(&mut Field<V>) -> R,
) -> (Field<V>, (usize, usize), R) {
    let mut field = Field::default();
    let r = change(&mut field);
    let after = counts(&field);
    (field, after, r)
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
        match &self.fields {
            Fields::Few(v) => {
                v.capacity() * size_of::<(Blob, Field<V>)>()
                    + v.iter()
                        .map(|(n, f)| n.heap_bytes() + f.heap_bytes())
                        .sum::<usize>()
            }
            Fields::Many(t) => size_of::<KeyTable<Field<V>>>() + t.heap_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::CounterReset;
    use crate::hlc::Hlc;
    use crate::ids::{OpId, ServerId, Tag};

    /// A field kept only for a reset record is held but not live: positions then are not
    /// the live fields', and `all_live` says so, in both forms.
    #[test]
    fn positions_reach_the_live_fields_only_while_all_are_live() {
        let none = Tomb::default();
        let tag = |op| Tag::new(Dot::new(ServerId(1), OpId(op), 0), Hlc(op));
        for n in [3u64, FEW_FIELDS as u64 + 5] {
            let mut t: FieldTable<Blob> = FieldTable::default();
            for i in 0..n {
                t.update(&Blob::from(format!("f{i}").as_str()), |f| {
                    f.add_reg(tag(i + 1), Blob::from("v"), &none)
                });
            }
            assert!(t.all_live());
            let mut seen: Vec<&[u8]> = (0..n as usize)
                .map(|i| &t.at(i).expect("held").0[..])
                .collect();
            seen.sort();
            seen.dedup();
            assert_eq!((seen.len(), t.at(n as usize)), (n as usize, None));
            let reset = CounterReset {
                start: OpId(9),
                op: OpId(9),
                total: crate::field::Num::Int(1),
                by: tag(100).dot,
            };
            t.update(&Blob::from("reset only"), |f| {
                f.add_reset(ServerId(2), reset)
            });
            assert_eq!(t.live(), n as usize);
            assert!(
                !t.all_live(),
                "a field held for its reset record is not live"
            );
        }
    }
}
