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
}

impl HashPart {
    pub fn is_live(&self) -> bool {
        self.fields.values().any(Field::is_live)
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
        self.fields().count()
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

    pub fn field_mut(&mut self, f: &Blob) -> &mut Field<Blob> {
        self.fields.get_or_insert_with(f, Field::default)
    }

    pub fn remove(&mut self, f: &[u8], dot: Dot) {
        if let Some(field) = self.fields.get_mut(f) {
            field.remove_dot(dot);
            if field.is_void() {
                self.fields.remove(f);
            }
        }
    }

    pub fn prune(&mut self, tomb: &Tomb) {
        self.fields.retain(|_, f| {
            f.prune(tomb);
            !f.is_void()
        });
    }

    pub fn merge(&mut self, other: &HashPart, tomb: &Tomb) {
        for (k, f) in other.fields.iter() {
            self.field_mut(k).merge(f, tomb);
        }
        self.fields.retain(|_, f| !f.is_void());
    }

    /// [`Field::gc`] of every field, dropping those left void. Returns whether any changed.
    pub fn gc(&mut self, stable: &VersionVector) -> bool {
        let before = self.fields.len();
        let mut changed = false;
        self.fields.retain(|_, f| {
            changed |= f.gc(stable);
            !f.is_void()
        });
        changed || self.fields.len() != before
    }

    /// Change field `f` in one lookup, dropping it when the change leaves it void (a
    /// write the tomb kills); a new field is made aside and kept only if it is not.
    pub(crate) fn update(&mut self, f: &Blob, change: impl FnOnce(&mut Field<Blob>)) {
        match self.fields.entry(f) {
            Entry::Occupied(held) => {
                change(held);
                if held.is_void() {
                    self.fields.remove(f);
                }
            }
            Entry::Vacant(room) => {
                let mut field = Field::default();
                change(&mut field);
                if !field.is_void() {
                    room.insert(f.clone(), field);
                }
            }
        }
    }
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
}
