//! A dense hash table for a database's keys.
//!
//! Entries live in segments of a few thousand (key and state side by side: see
//! [`crate::segments`]), and the hash index holds only their 4-byte positions. A
//! `HashMap<Blob, KeyState>` at 1M keys sits at half load just after doubling, so every
//! empty bucket costs a whole 72-byte entry; here an empty bucket costs 5 bytes, and the
//! entries have at most one segment of room to spare. The index grows
//! incrementally, as Redis's dicts rehash: a larger index is made, and each change moves a
//! few slots of the old one over, so no single write re-hashes every key (a 4M-key table
//! that grew all at once stalled every client for 330 ms). Meanwhile a lookup tries both.
//! Removal swaps the last entry into the hole (order is not kept: digests go by bucket).
//!
//! How positions move is a promise SCAN's cursor keeps its guarantee by (see the node's
//! `scan.rs`, which walks positions from the last down): an entry is added at the end, and
//! only a removal moves one, the last entry, down into the hole. Nothing else reorders the
//! entries (growth and shrinking keep their order).

use crate::blob::Blob;
use crate::heap::HeapSize;
use crate::prefetch::prefetch;
use crate::segments::Segments;
use hashbrown::hash_table::OccupiedEntry;
use hashbrown::{DefaultHashBuilder, HashTable};
use std::cell::Cell;
use std::fmt;
use std::hash::BuildHasher;

/// Keys to values, dense. Holds at most `u32::MAX` entries.
#[derive(Clone)]
pub struct KeyTable<V> {
    /// Entry positions by their key's hash.
    index: HashTable<u32>,
    /// While the index grows: the index it replaces, whose slots are still moving.
    growing: Option<Box<Growing>>,
    entries: Segments<(Blob, V)>,
    /// The position the last lookup found, tried first: a command looks its key up several
    /// times (to read it, to build its effect, to apply it, to reply). Checked against the
    /// key, so a position that has since moved is only a miss.
    last: Cell<u32>,
    /// Seeded per process (foldhash): fast, and an attacker cannot pick colliding keys.
    hasher: DefaultHashBuilder,
}

/// A key's value, or the room for it ([`KeyTable::entry`]).
pub(crate) enum Entry<'a, V> {
    Occupied(&'a mut V),
    Vacant(VacantEntry<'a, V>),
}

/// The room for a key looked up and not found: inserting it does not look or hash again.
pub(crate) struct VacantEntry<'a, V> {
    table: &'a mut KeyTable<V>,
    hash: u64,
}

impl<'a, V> VacantEntry<'a, V> {
    /// Insert `key` (the key looked up) with `value`.
    pub fn insert(self, key: Blob, value: V) -> &'a mut V {
        debug_assert_eq!(self.table.hash_key(&key), self.hash, "the key looked up");
        let at = self.table.push_new(key, self.hash, value);
        &mut self.table.entries[at].1
    }
}

/// The old index during a growth. Every entry has one slot, in `index` or here.
#[derive(Clone)]
struct Growing {
    old: HashTable<u32>,
    /// Buckets of `old` below this one have moved.
    next: usize,
}

/// Slots a change moves from the old index during a growth, and buckets it looks at: the
/// move ends long before the new index fills (it starts with room for as many inserts as
/// the old one held), and costs a change at most 8 slots.
const MOVE_SLOTS: usize = 8;
const MOVE_BUCKETS: usize = 64;

/// An old index this small moves in one go.
const MOVE_AT_ONCE: usize = 1024;

/// [`KeyTable::retain`] removes entries one by one when at most one in this many goes.
const FEW_REMOVALS: usize = 8;

fn hash_of(hasher: &DefaultHashBuilder, key: &[u8]) -> u64 {
    #[cfg(test)]
    if COLLIDING.get() {
        return 7;
    }
    hasher.hash_one(key)
}

#[cfg(test)]
thread_local! {
    /// Under [`collide_all_keys`], every key hashes alike on this thread.
    static COLLIDING: Cell<bool> = const { Cell::new(false) };
}

/// For a test of what shares a hash: every key this thread hashes, from now until the
/// guard drops, hashes alike (the table still finds each by comparing keys).
#[cfg(test)]
pub(crate) fn collide_all_keys() -> impl Drop {
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            COLLIDING.set(false);
        }
    }
    COLLIDING.set(true);
    Guard
}

/// The hash of the key a slot points at: what an index re-hashes by.
fn rehasher<'a, V>(
    entries: &'a Segments<(Blob, V)>,
    hasher: &'a DefaultHashBuilder,
) -> impl Fn(&u32) -> u64 + 'a {
    move |at| hash_of(hasher, &entries[*at as usize].0)
}

impl<V> Default for KeyTable<V> {
    fn default() -> Self {
        KeyTable {
            index: HashTable::new(),
            growing: None,
            entries: Segments::default(),
            last: Cell::new(0),
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

    fn position(&self, key: &[u8]) -> Option<usize> {
        self.locate(key).ok()
    }

    /// Where `key` is, or, when it is absent, its hash (to insert it by).
    fn locate(&self, key: &[u8]) -> Result<usize, u64> {
        let last = self.last.get();
        if self
            .entries
            .get(last as usize)
            .is_some_and(|(k, _)| k[..] == *key)
        {
            return Ok(last as usize);
        }
        let hash = self.hash_key(key);
        self.position_hashed(key, hash).ok_or(hash)
    }

    /// [`KeyTable::position`] of a key whose hash is known ([`KeyTable::hash_key`]).
    fn position_hashed(&self, key: &[u8], hash: u64) -> Option<usize> {
        let entries = &self.entries;
        let eq = |at: &u32| entries[*at as usize].0[..] == *key;
        let at = match self.index.find(hash, eq) {
            Some(at) => *at,
            None => *self.growing.as_ref()?.old.find(hash, eq)?,
        };
        self.last.set(at);
        Some(at as usize)
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    /// The hash this table files `key` under: for a caller that looks one key up more
    /// than once ([`KeyTable::prefetch_hashed`], then [`KeyTable::get_hashed`]).
    pub fn hash_key(&self, key: &[u8]) -> u64 {
        hash_of(&self.hasher, key)
    }

    /// [`KeyTable::get`] with the key's hash from [`KeyTable::hash_key`].
    pub fn get_hashed(&self, key: &[u8], hash: u64) -> Option<&V> {
        self.position_hashed(key, hash).map(|i| &self.entries[i].1)
    }

    /// Ask for the entries the key of this hash ([`KeyTable::hash_key`]) may be at, without
    /// reading them (their keys are not compared): the first level of a batch's look-ups
    /// ([`crate::Keyspace::prefetch`]).
    pub fn prefetch_hashed(&self, hash: u64) {
        let ask = |at: &u32| {
            if let Some(entry) = self.entries.get(*at as usize) {
                prefetch(entry);
            }
            false
        };
        self.index.find(hash, ask);
        if let Some(growing) = &self.growing {
            growing.old.find(hash, ask);
        }
    }

    /// The entries whose key this table files under `hash` ([`KeyTable::hash_key`]): what
    /// an index of hashes kept beside the table finds its keys by, without a copy of them.
    pub fn hashed(&self, hash: u64) -> impl Iterator<Item = (&Blob, &V)> {
        let old = self.growing.as_ref().map(|g| g.old.iter_hash(hash));
        self.index
            .iter_hash(hash)
            .chain(old.into_iter().flatten())
            .map(|at| &self.entries[*at as usize])
            .filter(move |(k, _)| self.hash_key(k) == hash)
            .map(|(k, v)| (k, v))
    }

    /// The entry at position `i` (entries are in no particular order).
    pub fn at(&self, i: usize) -> Option<(&Blob, &V)> {
        self.entries.get(i).map(|(k, v)| (k, v))
    }

    /// Ask for the entry at position `i`, without reading it.
    pub fn prefetch_at(&self, i: usize) {
        if let Some(entry) = self.entries.get(i) {
            prefetch(entry);
        }
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.move_some();
        self.position(key).map(|i| &mut self.entries[i].1)
    }

    /// `key`'s value, or the room to insert it: one lookup either way. A growth moves its
    /// few slots once per change: here for a key found, when inserted for one not.
    pub(crate) fn entry(&mut self, key: &[u8]) -> Entry<'_, V> {
        match self.locate(key) {
            Ok(i) => {
                self.move_some();
                Entry::Occupied(&mut self.entries[i].1)
            }
            Err(hash) => Entry::Vacant(VacantEntry { table: self, hash }),
        }
    }

    /// Add a key that is not present (the caller has just looked), whose hash is `hash`.
    fn push_new(&mut self, key: Blob, hash: u64, value: V) -> usize {
        if self.index.len() == self.index.capacity() {
            self.start_growth();
        } else {
            self.move_some();
        }
        let at = self.entries.len();
        let slot = u32::try_from(at).expect("a database holds at most u32::MAX keys");
        self.entries.push((key, value));
        // The index has room (see `start_growth`): the re-hash is never called.
        let rehash = rehasher(&self.entries, &self.hasher);
        self.index.insert_unique(hash, slot, rehash);
        at
    }

    /// The index is full: put a larger one in its place, with room for twice the entries
    /// it held, and move the old one's slots over a few at a time.
    fn start_growth(&mut self) {
        self.finish_growth();
        let room = (self.index.len() * 2).max(4);
        let old = std::mem::replace(&mut self.index, HashTable::with_capacity(room));
        self.growing = Some(Box::new(Growing { old, next: 0 }));
        if self.index.capacity() <= MOVE_AT_ONCE {
            self.finish_growth();
        }
    }

    fn finish_growth(&mut self) {
        while self.growing.is_some() {
            self.move_some();
        }
    }

    /// Move up to [`MOVE_SLOTS`] slots of the old index, among its next [`MOVE_BUCKETS`]
    /// buckets, into the new one. Inlined: every change calls it, and most find no growth.
    #[inline]
    fn move_some(&mut self) {
        if self.growing.is_some() {
            self.move_growing();
        }
    }

    #[inline(never)]
    fn move_growing(&mut self) {
        let Some(growing) = &mut self.growing else {
            return;
        };
        let rehash = rehasher(&self.entries, &self.hasher);
        let end = (growing.next + MOVE_BUCKETS).min(growing.old.num_buckets());
        // First the slots, then their keys' hashes, then the inserts: the keys' cache
        // misses overlap instead of each waiting behind the last insert.
        let mut moving = [0u32; MOVE_SLOTS];
        let mut n = 0;
        while growing.next < end && n < MOVE_SLOTS {
            if let Ok(slot) = growing.old.get_bucket_entry(growing.next) {
                moving[n] = slot.remove().0;
                n += 1;
            }
            growing.next += 1;
        }
        let mut hashes = [0u64; MOVE_SLOTS];
        for (h, at) in hashes.iter_mut().zip(&moving[..n]) {
            *h = rehash(at);
        }
        for (h, at) in hashes.iter().zip(&moving[..n]) {
            self.index.insert_unique(*h, *at, &rehash);
        }
        if growing.old.is_empty() {
            self.growing = None;
        }
    }

    /// Set `key` to `value`, returning the value it replaces.
    pub fn insert(&mut self, key: Blob, value: V) -> Option<V> {
        match self.entry(&key) {
            Entry::Occupied(old) => Some(std::mem::replace(old, value)),
            Entry::Vacant(room) => {
                room.insert(key, value);
                None
            }
        }
    }

    /// The value of `key`, inserting `make()` first if the key is absent.
    pub fn get_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> V) -> &mut V {
        match self.entry(key) {
            Entry::Occupied(value) => value,
            Entry::Vacant(room) => room.insert(Blob::from(key), make()),
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        let i = self.position(key)?;
        Some(self.remove_at(i).1)
    }

    /// The slot of the entry at position `at` (whose key is in the entry vector), in
    /// either index.
    fn slot_of(&mut self, at: usize) -> Option<OccupiedEntry<'_, u32>> {
        let hash = self.hash_key(&self.entries[at].0);
        let is_at = |s: &u32| *s as usize == at;
        match self.index.find_entry(hash, is_at) {
            Ok(slot) => Some(slot),
            Err(_) => self.growing.as_mut()?.old.find_entry(hash, is_at).ok(),
        }
    }

    /// Remove the entry at position `i`: drop its index slot, move the last entry into the
    /// hole and re-point that entry's slot.
    fn remove_at(&mut self, i: usize) -> (Blob, V) {
        self.move_some();
        if let Some(slot) = self.slot_of(i) {
            slot.remove();
        }
        let last = self.entries.len() - 1;
        if i != last
            && let Some(mut slot) = self.slot_of(last)
        {
            *slot.get_mut() = i as u32;
        }
        let removed = self.entries.swap_remove(i);
        self.shrink_if_sparse();
        removed
    }

    /// Give memory back once three quarters of the entries are gone (as Redis shrinks its
    /// dicts), keeping room to double again before the next growth. (Segments of entries
    /// free themselves as they empty; a lone first one shrinks here.)
    fn shrink_if_sparse(&mut self) {
        let len = self.entries.len();
        let room = self.index.capacity();
        if room > 64 && len * 4 < room {
            self.finish_growth();
            self.entries.shrink_to(len * 2);
            let rehash = rehasher(&self.entries, &self.hasher);
            self.index.shrink_to(len * 2, rehash);
        }
    }

    /// Keep the entries for which `keep` says so (it may change them). A few removals are
    /// made one by one; many (a DEL's: all of them) by closing the entries up in one pass
    /// and indexing what is left once: one by one, each re-pointed the slot of the entry
    /// moved into its hole, and the index shrank again and again (a DEL of a sorted set
    /// of 1M members took 554 ms, Redis 151). Entries only move down either way (as
    /// SCAN's cursor needs).
    pub fn retain(&mut self, mut keep: impl FnMut(&Blob, &mut V) -> bool) {
        let mut gone: Vec<u32> = Vec::new();
        for i in 0..self.entries.len() {
            let (key, value) = &mut self.entries[i];
            if !keep(key, value) {
                gone.push(i as u32);
            }
        }
        if gone.len() <= self.entries.len() / FEW_REMOVALS {
            // From the last: the entry moved into each hole is one that stays.
            for &i in gone.iter().rev() {
                self.remove_at(i as usize);
            }
            return;
        }
        let mut gone = gone.into_iter().peekable();
        let mut i = 0;
        self.entries.retain(|_| {
            let goes = gone.next_if_eq(&i).is_some();
            i += 1;
            !goes
        });
        self.reindex();
    }

    /// Index the entries anew, with room for as many again (as a shrink leaves).
    fn reindex(&mut self) {
        self.growing = None;
        self.last.set(0);
        self.index = HashTable::with_capacity(self.entries.len() * 2);
        let rehash = rehasher(&self.entries, &self.hasher);
        for (at, (key, _)) in self.entries.iter().enumerate() {
            let hash = hash_of(&self.hasher, key);
            self.index.insert_unique(hash, at as u32, &rehash);
        }
    }

    /// [`KeyTable::retain`] over at most `count` entries from position `from`: returns the
    /// position to go on from (the number of entries, once past the last). Between calls,
    /// a removal moves the last entry into its hole: an entry moved below `from` waits
    /// for the next pass.
    pub fn retain_from(
        &mut self,
        from: usize,
        count: usize,
        mut keep: impl FnMut(&Blob, &mut V) -> bool,
    ) -> usize {
        let mut i = from;
        let mut looked = 0;
        while i < self.entries.len() && looked < count {
            looked += 1;
            let (key, value) = &mut self.entries[i];
            if keep(key, value) {
                i += 1;
            } else {
                // The last entry moves into `i`: look at it next.
                self.remove_at(i);
            }
        }
        i
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
            + self.index.allocation_size()
            + self.growing.as_ref().map_or(0, |g| g.old.allocation_size())
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
    use super::{Entry, KeyTable};
    use crate::blob::Blob;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, u32),
        /// Through [`KeyTable::entry`]: add `v` to the value, or insert it.
        Add(u8, u32),
        Remove(u8),
        Get(u8),
        RetainEven,
        /// Remove one key through `retain` (a few removals are made one by one).
        RetainAllBut(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            3 => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::Add(k, v)),
            3 => any::<u8>().prop_map(Op::Remove),
            3 => any::<u8>().prop_map(Op::Get),
            1 => Just(Op::RetainEven),
            1 => any::<u8>().prop_map(Op::RetainAllBut),
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
                    Op::Add(k, v) => {
                        let key = vec![k; 1 + (k as usize % 20)];
                        let now = match t.entry(&key) {
                            Entry::Occupied(old) => {
                                *old = old.wrapping_add(v);
                                *old
                            }
                            Entry::Vacant(room) => *room.insert(Blob::from(&key[..]), v),
                        };
                        let want = model.entry(key).and_modify(|o| *o = o.wrapping_add(v)).or_insert(v);
                        prop_assert_eq!(now, *want);
                    }
                    Op::Remove(k) => {
                        let key = vec![k; 1 + (k as usize % 20)];
                        prop_assert_eq!(t.remove(&key), model.remove(&key));
                    }
                    // A key read (present or absent) is then found as it is: the lookup
                    // remembers where it found a key.
                    Op::Get(k) => {
                        let key = vec![k; 1 + (k as usize % 20)];
                        prop_assert_eq!(t.get(&key), model.get(&key));
                        prop_assert_eq!(t.get_hashed(&key, t.hash_key(&key)), model.get(&key));
                        prop_assert_eq!(t.contains_key(&key), model.contains_key(&key));
                    }
                    Op::RetainEven => {
                        t.retain(|_, v| *v % 2 == 0);
                        model.retain(|_, v| *v % 2 == 0);
                    }
                    Op::RetainAllBut(k) => {
                        let key = vec![k; 1 + (k as usize % 20)];
                        t.retain(|name, _| name[..] != key[..]);
                        model.remove(&key);
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

    /// Every entry has exactly one slot, in the new index or the old one.
    fn slots(t: &KeyTable<u64>) -> usize {
        t.index.len() + t.growing.as_ref().map_or(0, |g| g.old.len())
    }

    #[test]
    fn grows_a_few_slots_per_change_and_finds_every_key_meanwhile() {
        let mut t: KeyTable<u64> = KeyTable::default();
        let mut model: HashMap<u64, u64> = HashMap::new();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut growing_changes = 0;
        for i in 0..60_000u64 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let k = rng % 50_000;
            let before = t.growing.as_ref().map(|g| g.old.len());
            if rng % 5 == 0 {
                assert_eq!(t.remove(&k.to_le_bytes()), model.remove(&k));
            } else {
                assert_eq!(
                    t.insert(Blob::from(&k.to_le_bytes()[..]), i),
                    model.insert(k, i)
                );
            }
            if let (Some(before), Some(growing)) = (before, &t.growing) {
                growing_changes += 1;
                // A removal may also take its own key's slot out of the old index.
                let left = growing.old.len();
                assert!(
                    left <= before && before - left <= super::MOVE_SLOTS + 1,
                    "old index {before} -> {left} slots"
                );
            }
            assert_eq!(slots(&t), t.len());
            if i % 1009 == 0 {
                // A prefetch (both indexes during a growth, absent keys too) changes nothing.
                t.prefetch_hashed(t.hash_key(&(k + 100_000).to_le_bytes()));
                for (k, v) in &model {
                    t.prefetch_hashed(t.hash_key(&k.to_le_bytes()));
                    assert_eq!(t.get(&k.to_le_bytes()), Some(v));
                }
            }
        }
        assert!(
            growing_changes > 1000,
            "{growing_changes} changes during growths"
        );
        assert_eq!(t.len(), model.len());
        for (k, v) in &model {
            assert_eq!(t.get(&k.to_le_bytes()), Some(v));
        }
    }

    /// What SCAN's cursor relies on: however many a `retain` removes, an entry that stays
    /// only moves down.
    #[test]
    fn entries_that_stay_only_move_down() {
        for every in [2, 3, 50, 5000] {
            let mut t: KeyTable<u64> = KeyTable::default();
            for i in 0..5000u64 {
                t.insert(Blob::from(&i.to_le_bytes()[..]), i);
            }
            let before: Vec<u64> = t.values().copied().collect();
            t.retain(|_, v| *v % every != 1);
            let removed = before.iter().filter(|v| **v % every == 1).count();
            assert_eq!(t.len(), 5000 - removed, "one in {every} removed");
            for (at, v) in t.values().enumerate() {
                let was = before.iter().position(|b| b == v).expect("held before");
                assert!(
                    at <= was,
                    "one in {every} removed: {v} moved up from {was} to {at}"
                );
                assert_eq!(t.get(&v.to_le_bytes()), Some(v));
            }
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
