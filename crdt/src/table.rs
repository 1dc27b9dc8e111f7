//! A dense hash table for a database's keys.
//!
//! Entries live in one `Vec` (key and state side by side), and the hash index holds only
//! their 4-byte positions with 4 bytes of their hash. A `HashMap<Blob, KeyState>` at 1M keys
//! sits at half load just after doubling, so every empty bucket costs a whole 72-byte entry;
//! here an empty bucket costs 9 bytes and the entry vector grows by plain doubling. The
//! index's hash lets it grow without reading a single key (a growth that re-hashed every key
//! took a cache miss per key: a 1M-key table stalled every client for tens of ms), and
//! spares a key comparison for most of the other keys a probe meets. Removal swaps the last
//! entry into the hole (order is not kept: scans order by hash, digests by bucket).

use crate::blob::Blob;
use crate::heap::{HeapSize, hash_table_bytes};
use hashbrown::{DefaultHashBuilder, HashTable};
use std::fmt;
use std::hash::BuildHasher;

/// Keys to values, dense. Holds at most `u32::MAX` entries.
#[derive(Clone)]
pub struct KeyTable<V> {
    index: HashTable<Slot>,
    entries: Vec<(Blob, V)>,
    /// Seeded per process (foldhash): fast, and an attacker cannot pick colliding keys.
    hasher: DefaultHashBuilder,
}

/// An index slot: an entry's position and the high half of its key's hash.
#[derive(Clone, Copy)]
struct Slot {
    at: u32,
    hash: u32,
}

/// The index's 64-bit hash of a key whose stored half is `half`: spread over all 64 bits
/// (hashbrown takes the bucket from the low bits and the control tag from the top 7).
fn spread(half: u32) -> u64 {
    u64::from(half).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl<V> Default for KeyTable<V> {
    fn default() -> Self {
        KeyTable {
            index: HashTable::new(),
            entries: Vec::new(),
            hasher: DefaultHashBuilder::default(),
        }
    }
}

impl<V> KeyTable<V> {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The half of `key`'s hash an index slot keeps.
    fn hash(&self, key: &[u8]) -> u32 {
        (self.hasher.hash_one(key) >> 32) as u32
    }

    fn position(&self, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        let hash = self.hash(key);
        self.index
            .find(spread(hash), |s| {
                s.hash == hash && entries[s.at as usize].0[..] == *key
            })
            .map(|s| s.at as usize)
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    /// The entry at position `i` (entries are in no particular order).
    pub fn at(&self, i: usize) -> Option<(&Blob, &V)> {
        self.entries.get(i).map(|(k, v)| (k, v))
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.position(key).map(|i| &mut self.entries[i].1)
    }

    /// Add a key that is not present (the caller has just looked).
    fn push_new(&mut self, key: Blob, value: V) -> usize {
        let at = self.entries.len();
        let slot = Slot {
            at: u32::try_from(at).expect("a database holds at most u32::MAX keys"),
            hash: self.hash(&key),
        };
        self.entries.push((key, value));
        self.index
            .insert_unique(spread(slot.hash), slot, |s| spread(s.hash));
        at
    }

    /// Set `key` to `value`, returning the value it replaces.
    pub fn insert(&mut self, key: Blob, value: V) -> Option<V> {
        match self.position(&key) {
            Some(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            None => {
                self.push_new(key, value);
                None
            }
        }
    }

    /// The value of `key`, inserting `make()` first if the key is absent.
    pub fn get_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> V) -> &mut V {
        let i = match self.position(key) {
            Some(i) => i,
            None => self.push_new(Blob::from(key), make()),
        };
        &mut self.entries[i].1
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        let i = self.position(key)?;
        Some(self.remove_at(i).1)
    }

    /// Remove the entry at position `i`: drop its index slot, move the last entry into the
    /// hole and re-point that entry's slot.
    fn remove_at(&mut self, i: usize) -> (Blob, V) {
        let h = self.hash(&self.entries[i].0);
        if let Ok(slot) = self.index.find_entry(spread(h), |s| s.at as usize == i) {
            slot.remove();
        }
        let last = self.entries.len() - 1;
        if i != last {
            let moved = self.hash(&self.entries[last].0);
            if let Some(slot) = self
                .index
                .find_mut(spread(moved), |s| s.at as usize == last)
            {
                slot.at = i as u32;
            }
        }
        let removed = self.entries.swap_remove(i);
        self.shrink_if_sparse();
        removed
    }

    /// Give memory back once three quarters of the entries are gone (as Redis shrinks its
    /// dicts), keeping room to double again before the next growth.
    fn shrink_if_sparse(&mut self) {
        let len = self.entries.len();
        if self.entries.capacity() > 64 && len * 4 < self.entries.capacity() {
            self.entries.shrink_to(len * 2);
            self.index.shrink_to(len * 2, |s| spread(s.hash));
        }
    }

    /// Keep the entries for which `keep` says so (it may change them).
    pub fn retain(&mut self, mut keep: impl FnMut(&Blob, &mut V) -> bool) {
        let mut i = 0;
        while i < self.entries.len() {
            let (key, value) = &mut self.entries[i];
            if keep(key, value) {
                i += 1;
            } else {
                // The last entry moves into `i`: look at it next.
                self.remove_at(i);
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Blob, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Blob, &mut V)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn keys(&self) -> impl Iterator<Item = &Blob> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.position(key).is_some()
    }
}

/// The entry vector's capacity, the index's buckets and control bytes, and what keys and
/// values hold.
impl<V: HeapSize> HeapSize for KeyTable<V> {
    fn heap_bytes(&self) -> usize {
        self.entries.capacity() * size_of::<(Blob, V)>()
            + hash_table_bytes(self.index.capacity(), size_of::<Slot>())
            + self
                .entries
                .iter()
                .map(|(k, v)| k.heap_bytes() + v.heap_bytes())
                .sum::<usize>()
    }
}

impl<V> FromIterator<(Blob, V)> for KeyTable<V> {
    fn from_iter<I: IntoIterator<Item = (Blob, V)>>(iter: I) -> Self {
        let mut t = KeyTable::default();
        for (k, v) in iter {
            t.insert(k, v);
        }
        t
    }
}

/// Equal when they hold the same keys with equal values, in any order.
impl<V: PartialEq> PartialEq for KeyTable<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<V: fmt::Debug> fmt::Debug for KeyTable<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::KeyTable;
    use crate::blob::Blob;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, u32),
        Remove(u8),
        RetainEven,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            3 => any::<u8>().prop_map(Op::Remove),
            1 => Just(Op::RetainEven),
        ]
    }

    proptest! {
        /// Every operation leaves the table holding what a std HashMap holds.
        #[test]
        fn behaves_as_a_hash_map(ops in proptest::collection::vec(op(), 0..600)) {
            let mut t: KeyTable<u32> = KeyTable::default();
            let mut model: HashMap<Vec<u8>, u32> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let key = vec![k; 1 + (k as usize % 20)];
                        prop_assert_eq!(t.insert(Blob::from(&key[..]), v), model.insert(key, v));
                    }
                    Op::Remove(k) => {
                        let key = vec![k; 1 + (k as usize % 20)];
                        prop_assert_eq!(t.remove(&key), model.remove(&key));
                    }
                    Op::RetainEven => {
                        t.retain(|_, v| *v % 2 == 0);
                        model.retain(|_, v| *v % 2 == 0);
                    }
                }
                prop_assert_eq!(t.len(), model.len());
                for (k, v) in &model {
                    prop_assert_eq!(t.get(k), Some(v));
                }
            }
            let mut got: Vec<(Vec<u8>, u32)> = t.iter().map(|(k, v)| (k.to_vec(), *v)).collect();
            let mut want: Vec<(Vec<u8>, u32)> = model.into_iter().collect();
            got.sort();
            want.sort();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn shrinks_after_mass_removal_and_keeps_the_rest() {
        let mut t: KeyTable<u64> = KeyTable::default();
        for i in 0..10_000u64 {
            t.insert(Blob::from(&i.to_le_bytes()[..]), i);
        }
        t.retain(|_, v| *v % 100 == 0);
        assert_eq!(t.len(), 100);
        assert!(
            t.entries.capacity() <= 400,
            "capacity {}",
            t.entries.capacity()
        );
        for i in (0..10_000u64).step_by(100) {
            assert_eq!(t.get(&i.to_le_bytes()), Some(&i));
        }
        assert_eq!(t.get(&1u64.to_le_bytes()), None);
    }
}
