//! How many heap bytes a value holds: what MEMORY USAGE reports, CRDT metadata included
//! (tags, counters, removal knowledge). An estimate from capacities, as Redis's is: a hash
//! table counts its buckets and control bytes, a B-tree its entries at two-thirds fill,
//! never the allocator's own per-block overhead. It walks the value and allocates nothing.

use smallvec::{Array, SmallVec};
use std::collections::{BTreeMap, BTreeSet};
use std::mem::size_of;

/// Heap bytes held beyond the value's own `size_of`.
pub trait HeapSize {
    fn heap_bytes(&self) -> usize;
}

/// The spilled buffer of a small vector (its items' own heap is the caller's).
pub fn smallvec_bytes<A: Array>(v: &SmallVec<A>) -> usize {
    if v.spilled() {
        v.capacity() * size_of::<A::Item>()
    } else {
        0
    }
}

/// A hashbrown table of `capacity` entries of `entry` bytes: its buckets (a power of two,
/// at most 7/8 full) and one control byte each, plus a group's width.
pub fn hash_table_bytes(capacity: usize, entry: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 {
        (capacity + 1).next_power_of_two()
    } else {
        (capacity * 8 / 7).next_power_of_two()
    };
    buckets * (entry + 1) + 16
}

/// A B-tree of `len` entries of `entry` bytes: nodes about two-thirds full.
pub fn btree_bytes(len: usize, entry: usize) -> usize {
    len * entry * 3 / 2
}

impl<K: HeapSize, V: HeapSize> HeapSize for BTreeMap<K, V> {
    fn heap_bytes(&self) -> usize {
        btree_bytes(self.len(), size_of::<(K, V)>())
            + self
                .iter()
                .map(|(k, v)| k.heap_bytes() + v.heap_bytes())
                .sum::<usize>()
    }
}

impl<K: HeapSize> HeapSize for BTreeSet<K> {
    fn heap_bytes(&self) -> usize {
        btree_bytes(self.len(), size_of::<K>()) + self.iter().map(K::heap_bytes).sum::<usize>()
    }
}

impl<K: HeapSize, V: HeapSize, S> HeapSize for hashbrown::HashMap<K, V, S> {
    fn heap_bytes(&self) -> usize {
        hash_table_bytes(self.capacity(), size_of::<(K, V)>())
            + self
                .iter()
                .map(|(k, v)| k.heap_bytes() + v.heap_bytes())
                .sum::<usize>()
    }
}

impl<T: HeapSize> HeapSize for Vec<T> {
    fn heap_bytes(&self) -> usize {
        self.capacity() * size_of::<T>() + self.iter().map(T::heap_bytes).sum::<usize>()
    }
}

impl<T: HeapSize> HeapSize for Box<T> {
    fn heap_bytes(&self) -> usize {
        size_of::<T>() + (**self).heap_bytes()
    }
}

impl<T: HeapSize> HeapSize for Option<T> {
    fn heap_bytes(&self) -> usize {
        self.as_ref().map_or(0, T::heap_bytes)
    }
}

impl<A: Array> HeapSize for SmallVec<A>
where
    A::Item: HeapSize,
{
    fn heap_bytes(&self) -> usize {
        smallvec_bytes(self) + self.iter().map(HeapSize::heap_bytes).sum::<usize>()
    }
}

impl<A: HeapSize, B: HeapSize> HeapSize for (A, B) {
    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes() + self.1.heap_bytes()
    }
}

/// Values that hold nothing on the heap.
macro_rules! no_heap {
    ($($t:ty),*) => {
        $(impl HeapSize for $t {
            fn heap_bytes(&self) -> usize {
                0
            }
        })*
    };
}

no_heap!(
    u64,
    f64,
    crate::ids::Dot,
    crate::ids::Tag,
    crate::ids::Stamp,
    crate::ids::ServerId,
    crate::ids::OpId,
    crate::key::TtlEntry,
    crate::zset::Score
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Blob;

    #[test]
    fn sizes_grow_with_content_and_count_spilled_buffers() {
        assert_eq!(Blob::from("short").heap_bytes(), 0, "inline");
        assert!(Blob::from("x".repeat(100).as_str()).heap_bytes() >= 100);
        let mut m: hashbrown::HashMap<Blob, Blob> = hashbrown::HashMap::new();
        assert_eq!(m.heap_bytes(), 0);
        m.insert(Blob::from("k"), Blob::from("x".repeat(40).as_str()));
        let one = m.heap_bytes();
        assert!(one >= 40 + size_of::<(Blob, Blob)>(), "{one}");
        for i in 0..100 {
            m.insert(Blob::from(format!("k{i}").as_str()), Blob::from("v"));
        }
        assert!(m.heap_bytes() >= 100 * size_of::<(Blob, Blob)>());
        assert_eq!(hash_table_bytes(7, 10), 8 * 11 + 16);
        assert_eq!(hash_table_bytes(100, 10), 128 * 11 + 16);
    }
}
