//! Hash: fields are add-wins (a concurrent HSET survives an HDEL), each field's value a
//! [`Field`]: last-writer-wins for HSET, counting for HINCRBY.

use crate::blob::Blob;
use crate::field::{CounterEntry, Field};
use crate::fields::FieldTable;
use crate::ids::{Dot, ServerId};
use crate::key::packed::{PackedField, PackedHash};
use std::borrow::Cow;

/// A hash's fields (see [`FieldTable`]): the views below are of its live ones.
pub type HashPart = FieldTable<Blob>;

/// A hash as a reader sees it, in either form a key keeps one in: the general form's
/// table of fields, or a small hash's packed bytes (`key/packed.rs`).
#[derive(Clone, Copy, Debug)]
pub struct HashRef<'a>(HashForm<'a>);

#[derive(Clone, Copy, Debug)]
enum HashForm<'a> {
    Table(&'a HashPart),
    Packed(&'a PackedHash),
}

/// A live field as a reader sees it.
#[derive(Clone, Copy, Debug)]
pub struct FieldRef<'a>(FieldForm<'a>);

#[derive(Clone, Copy, Debug)]
enum FieldForm<'a> {
    Table(&'a Field<Blob>),
    /// One register write, nothing else.
    Packed(PackedField<'a>),
}

impl<'a> HashRef<'a> {
    pub(crate) fn table(h: &'a HashPart) -> Self {
        HashRef(HashForm::Table(h))
    }

    pub(crate) fn packed(p: &'a PackedHash) -> Self {
        HashRef(HashForm::Packed(p))
    }

    /// A live field.
    pub fn get(self, name: &[u8]) -> Option<FieldRef<'a>> {
        match self.0 {
            HashForm::Table(h) => h.get(name).map(FieldRef::table),
            HashForm::Packed(p) => p.get(name).map(FieldRef::packed),
        }
    }

    /// How many fields are live.
    pub fn len(self) -> usize {
        match self.0 {
            HashForm::Table(h) => h.len(),
            HashForm::Packed(p) => p.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Live fields, in no particular order.
    pub fn fields(self) -> impl Iterator<Item = (&'a [u8], FieldRef<'a>)> {
        let (table, packed) = match self.0 {
            HashForm::Table(h) => (Some(h.fields()), None),
            HashForm::Packed(p) => (None, Some(p.fields())),
        };
        let table = table.into_iter().flatten();
        let table = table.map(|(n, f)| (n.as_slice(), FieldRef::table(f)));
        let packed = packed.into_iter().flatten();
        table.chain(packed.map(|f| (f.name, FieldRef::packed(f))))
    }

    /// Live fields in the order they were written: by the earliest write each still holds,
    /// so every region lists them alike. (A field written anew goes last; Redis keeps its
    /// place.) A packed hash keeps them in this order.
    pub fn fields_in_order(self) -> Vec<(&'a [u8], FieldRef<'a>)> {
        match self.0 {
            HashForm::Table(h) => h
                .fields_in_order()
                .into_iter()
                .map(|(n, f)| (n.as_slice(), FieldRef::table(f)))
                .collect(),
            HashForm::Packed(_) => self.fields().collect(),
        }
    }

    /// How many fields are held, live or kept only for reset records: the positions of
    /// [`HashRef::live_at`].
    pub fn held(self) -> usize {
        match self.0 {
            HashForm::Table(h) => h.held(),
            HashForm::Packed(p) => p.len(),
        }
    }

    /// Whether every field held is live: then [`HashRef::live_at`] reaches the live ones by
    /// position.
    pub fn all_live(self) -> bool {
        match self.0 {
            HashForm::Table(h) => h.all_live(),
            HashForm::Packed(_) => true,
        }
    }

    /// The field held at position `i` (a random pick's, a scan's), if it is live.
    pub fn live_at(self, i: usize) -> Option<(&'a [u8], FieldRef<'a>)> {
        match self.0 {
            HashForm::Table(h) => h
                .live_at(i)
                .map(|(n, f)| (n.as_slice(), FieldRef::table(f))),
            HashForm::Packed(p) => p.at(i).map(|f| (f.name, FieldRef::packed(f))),
        }
    }
}

impl<'a> FieldRef<'a> {
    fn table(f: &'a Field<Blob>) -> Self {
        FieldRef(FieldForm::Table(f))
    }

    fn packed(f: PackedField<'a>) -> Self {
        FieldRef(FieldForm::Packed(f))
    }

    /// The bytes the field reads as (HGET).
    pub fn value(self) -> Cow<'a, [u8]> {
        match self.0 {
            FieldForm::Table(f) => crate::string::value(f),
            FieldForm::Packed(f) => Cow::Borrowed(f.value),
        }
    }

    /// The field in the general form, when it is kept in it (a packed field is one
    /// register write: its [`FieldRef::dots`] are all it holds).
    pub fn as_field(self) -> Option<&'a Field<Blob>> {
        match self.0 {
            FieldForm::Table(f) => Some(f),
            FieldForm::Packed(_) => None,
        }
    }

    /// The pieces it holds: its register writes and counter entries.
    pub fn dots(self) -> impl Iterator<Item = Dot> + 'a {
        let (table, packed) = match self.0 {
            FieldForm::Table(f) => (Some(f.dots()), None),
            FieldForm::Packed(f) => (None, Some(f.tag.dot)),
        };
        table.into_iter().flatten().chain(packed)
    }

    /// Origin `server`'s live counter entry.
    pub fn own_entry(self, server: ServerId) -> Option<&'a CounterEntry> {
        self.as_field()?.own_entry(server)
    }
}

impl FieldTable<Blob> {
    /// Live fields, in no particular order.
    pub fn fields(&self) -> impl Iterator<Item = (&Blob, &Field<Blob>)> {
        self.live_fields()
    }

    /// Live fields in the order they were written: by the earliest write each still holds,
    /// so every region lists them alike. (A field written anew goes last; Redis keeps its
    /// place.)
    pub fn fields_in_order(&self) -> Vec<(&Blob, &Field<Blob>)> {
        let mut v: Vec<_> = self.fields().collect();
        v.sort_by_key(|(name, f)| (f.first_written(), *name));
        v
    }

    pub fn get(&self, f: &[u8]) -> Option<&Field<Blob>> {
        self.field(f).filter(|f| f.is_live())
    }

    pub fn len(&self) -> usize {
        self.live()
    }

    pub fn is_empty(&self) -> bool {
        !self.is_live()
    }

    pub fn remove(&mut self, f: &[u8], dot: Dot) {
        self.change(f, |field| field.remove_dot(dot));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;
    use crate::ids::{OpId, ServerId, Tag};
    use crate::tomb::Tomb;
    use crate::vv::VersionVector;

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
        assert_eq!(h.all().count(), 1);
        // A change that leaves a held field void drops it.
        h.update(&name, |f| {
            f.remove_dot(tag(1).dot);
        });
        assert_eq!(h.all().count(), 0);
    }

    /// The live count follows every change: a field holding only a reset record is held
    /// but not counted, and merges and collection count again.
    #[test]
    fn len_counts_the_live_fields_only() {
        use crate::field::CounterReset;
        let none = Tomb::default();
        let mut h = HashPart::default();
        let counted = |h: &HashPart| {
            let with_counter = h.all().filter(|(_, f)| f.has_counter()).count();
            assert_eq!(h.counters(), with_counter);
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
        assert_eq!((h.all().count(), counted(&h)), (3, 2));
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
        assert_eq!((h.all().count(), counted(&h)), (1, 0));
        assert!(h.is_empty());
        // Collected once stable: the reset record goes, and its field with it.
        let mut stable = VersionVector::new();
        stable.raise(ServerId(2), OpId(9));
        stable.add(tag(4).dot);
        assert!(h.gc(&stable));
        assert_eq!((h.all().count(), counted(&h)), (0, 0));
        assert!(!h.gc(&stable), "nothing left to collect");
    }

    /// A hash keeps its first fields in a vector, and moves them into a table when one more
    /// than [`crate::fields::FEW_FIELDS`] comes. Which form holds them is no part of the
    /// state: a hash grown past it and back equals one that never grew, reads and encodes
    /// alike, and the small one costs its vector's entries and nothing more.
    #[test]
    fn a_small_hash_and_one_grown_and_shrunk_hold_their_fields_alike() {
        use crate::field::Field;
        use crate::heap::HeapSize;
        use crate::key::{KeyState, Part};
        let none = Tomb::default();
        let name = |i: u64| Blob::from(format!("field-{i}").as_bytes());
        let write = |h: &mut HashPart, i: u64| {
            h.update(&name(i), |f| f.add_reg(tag(i + 1), Blob::from("v"), &none));
        };
        let mut grown = HashPart::default();
        for i in 0..40 {
            write(&mut grown, i);
        }
        assert_eq!(grown.len(), 40);
        for i in 0..40 {
            assert!(grown.get(&name(i)).is_some(), "{i}");
        }
        for i in 10..40 {
            grown.remove(&name(i), tag(i + 1).dot);
        }
        let mut small = HashPart::default();
        for i in (0..10).rev() {
            write(&mut small, i);
        }
        assert_eq!((grown.len(), small.len()), (10, 10));
        assert_eq!(grown, small);
        assert_eq!(small.heap_bytes(), 10 * size_of::<(Blob, Field<Blob>)>());
        assert!(grown.heap_bytes() > small.heap_bytes());
        let encoded = |h: HashPart| {
            let k = KeyState::from_raw(smallvec::smallvec![Part::Hash(h)], Vec::new(), None);
            let mut bytes = vec![];
            crate::codec::encode_key(&k, &mut bytes);
            bytes
        };
        assert_eq!(encoded(grown), encoded(small));
    }
}
