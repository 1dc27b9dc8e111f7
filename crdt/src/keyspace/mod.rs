//! One database's keys, with FLUSHDB's removal knowledge, full-state merge, garbage
//! collection and digests.

use crate::Crdt;
use crate::blob::Blob;
use crate::codec::encode_content;
use crate::conflict::Conflicts;
use crate::effect::Effect;
use crate::ids::Dot;
use crate::key::KeyState;
use crate::table::{Entry, KeyTable};
use crate::vv::VersionVector;
use smallvec::SmallVec;
use std::cell::Cell;
use std::collections::{BTreeSet, VecDeque};

mod collect;
mod digests;
mod expiries;
use collect::Uncollected;
pub use digests::{DIGEST_BUCKETS, bucket_of, counted_digest};
use digests::{Digests, UNCOUNTED};
pub use expiries::LiveCounts;
use expiries::{Counts, Standing};

/// What a key's entry in the table costs besides its name's and state's heap (the entry,
/// and its 4-byte index slot with a control byte, at the table's load).
pub const KEY_ENTRY_BYTES: usize = size_of::<(Blob, Slot)>() + 6;

/// One database (Redis's `SELECT n`).
#[derive(Clone, Debug, Default)]
pub struct Keyspace {
    keys: KeyTable<Slot>,
    /// FLUSHDB/FLUSHALL: every piece (content and TTL) covered is removed.
    flushed: VersionVector,
    /// Per origin, the largest flush op that raised `flushed` (for garbage collection).
    flushed_by: VersionVector,
    /// Keys with an expiry, by expiry time: what the active expiry cycle looks at. Each
    /// entry is a time and the hash `keys` files the key under, its name found there: the
    /// index holds no second copy of it (16 bytes an entry, where a time and a name took 32
    /// and a long name its own allocation). Keys of one hash and time share their entry.
    expiries: BTreeSet<(u64, u64)>,
    /// Keys counted as they change: DBSIZE and INFO's keyspace line walk no keys.
    counts: Counts,
    /// Bucket digests, kept up to date as keys change.
    digests: Digests,
    /// Keys an op left holding nothing but removal knowledge (a DEL, an eviction), oldest
    /// first: collected as soon as the op is stable, not at the next full collection, so
    /// that what a removal frees is soon free (see [`Keyspace::collect_stable`]).
    uncollected: VecDeque<Uncollected>,
    /// The bytes those keys hold, as estimated when queued.
    uncollected_bytes: usize,
    /// String keys with bit writes not baked in yet, each with the op whose stability
    /// the next baking waits for (see [`crate::bits::StrPart::gc`]), in the order queued.
    unbaked: VecDeque<(Dot, Blob)>,
}

/// What [`Keyspace::update_key`] does with a key that is not there.
#[derive(Clone, Copy)]
enum Absent<'a> {
    /// Leave it absent.
    Skip,
    /// Make it, empty, and change that.
    Create,
    /// Make it as this effect's plain write makes it, if it is one; else as `Create`.
    WrittenBy(&'a Effect),
}

/// A key's state, its digest as counted in its bucket, and how it was used here.
#[derive(Clone, Debug)]
struct Slot {
    state: KeyState,
    /// Two things in one word, not to make every key 8 bytes larger: the low
    /// [`DIGEST_BITS`] hold the key's digest as summed into its bucket (`digests::NO_CONTENT` if
    /// the key holds only removal knowledge, nothing being summed for it; `UNCOUNTED`
    /// while the key has changed since: its digest is then in no bucket, and is computed
    /// again when digests are next read); the high 24 bits are the key's access word (see
    /// [`Keyspace::touch`]). A cell, so that a read can note its use.
    word: Cell<u64>,
}

/// The bits of [`Slot::word`] that hold the digest.
const DIGEST_BITS: u32 = 40;
const DIGEST_MASK: u64 = (1 << DIGEST_BITS) - 1;
/// The largest access word: 24 bits, as Redis keeps in every object.
pub const ACCESS_MAX: u32 = (1 << 24) - 1;

/// An access word left as it is (for changes that are no use of the key: merges, collection).
fn same(word: u32) -> u32 {
    word
}

impl Slot {
    fn new(state: KeyState, access: u32) -> Slot {
        let slot = Slot {
            state,
            word: Cell::new(UNCOUNTED),
        };
        slot.set_access(access);
        slot
    }

    fn digest(&self) -> u64 {
        self.word.get() & DIGEST_MASK
    }

    fn set_digest(&self, digest: u64) {
        self.word
            .set((self.word.get() & !DIGEST_MASK) | (digest & DIGEST_MASK));
    }

    fn access(&self) -> u32 {
        (self.word.get() >> DIGEST_BITS) as u32
    }

    fn set_access(&self, access: u32) {
        let access = u64::from(access.min(ACCESS_MAX));
        self.word
            .set((self.word.get() & DIGEST_MASK) | (access << DIGEST_BITS));
    }
}

impl Keyspace {
    pub fn new() -> Self {
        Keyspace::default()
    }

    /// A keyspace from saved parts (a snapshot): its keys and its FLUSHDB knowledge.
    pub fn from_parts(
        keys: impl IntoIterator<Item = (Blob, KeyState)>,
        flushed: VersionVector,
        flushed_by: VersionVector,
    ) -> Keyspace {
        let mut ks = Keyspace {
            keys: keys
                .into_iter()
                .filter(|(_, k)| !k.is_void())
                .map(|(key, k)| (key, Slot::new(k, 0)))
                .collect(),
            flushed,
            flushed_by,
            expiries: BTreeSet::new(),
            counts: Counts::default(),
            digests: Digests::default(),
            uncollected: VecDeque::new(),
            uncollected_bytes: 0,
            unbaked: VecDeque::new(),
        };
        ks.digests.recount_all();
        ks.count_all();
        ks
    }

    pub fn get(&self, key: &[u8]) -> Option<&KeyState> {
        self.keys.get(key).map(|s| &s.state)
    }

    /// Bring the entries and states of `keys` into the cache ahead of their use, level by
    /// level (the entry, then the state's box, then what its first part keeps behind
    /// pointers of its own), each level reading only lines the last one asked for: the
    /// cache misses of a pipelined batch's keys overlap, where looking each key up in turn
    /// would wait for each of its levels.
    pub fn prefetch(&self, keys: &[&[u8]]) {
        // Each key hashed once, for both levels.
        let hashes: SmallVec<[u64; 32]> = keys.iter().map(|k| self.keys.hash_key(k)).collect();
        for &hash in &hashes {
            self.keys.prefetch_hashed(hash);
        }
        let slots: SmallVec<[&Slot; 32]> = keys
            .iter()
            .zip(&hashes)
            .filter_map(|(k, &hash)| self.keys.get_hashed(k, hash))
            .collect();
        for slot in &slots {
            slot.state.prefetch_box();
        }
        for slot in &slots {
            slot.state.prefetch_part();
        }
    }

    /// Every key with any state, including keys kept only as tombstones.
    pub fn iter(&self) -> impl Iterator<Item = (&Blob, &KeyState)> {
        self.keys.iter().map(|(key, s)| (key, &s.state))
    }

    /// Number of keys held, tombstones included.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of keys a reader sees at `now_ms`.
    pub fn live_len(&self, now_ms: u64) -> usize {
        self.live_counts(now_ms).keys
    }

    pub fn flushed(&self) -> (&VersionVector, &VersionVector) {
        (&self.flushed, &self.flushed_by)
    }

    /// `key`'s state, noting the read in its access word: `used` gets the word and gives
    /// the new one. The word is this region's own record of how the key is used (what an
    /// eviction policy ranks keys by); it is no part of the key's state, digest or encoding.
    /// A key made here starts at 0.
    pub fn get_touched(&self, key: &[u8], used: impl FnOnce(u32) -> u32) -> Option<&KeyState> {
        self.keys.get(key).map(|s| {
            s.set_access(used(s.access()));
            &s.state
        })
    }

    /// `key`'s access word, if the key is held.
    pub fn access(&self, key: &[u8]) -> Option<u32> {
        self.keys.get(key).map(Slot::access)
    }

    /// The key held at position `i` of `0..len()` (positions are in no particular order and
    /// change as keys come and go: for random samples), with its access word.
    pub fn at(&self, i: usize) -> Option<(&Blob, &KeyState, u32)> {
        self.keys.at(i).map(|(key, s)| (key, &s.state, s.access()))
    }

    /// Ask for the keys at `positions` (see [`Keyspace::at`]): their entries, then their
    /// states' boxes, as [`Keyspace::prefetch`] does for keys by name (eviction's random
    /// samples).
    pub fn prefetch_at(&self, positions: &[usize]) {
        for &i in positions {
            self.keys.prefetch_at(i);
        }
        for &i in positions {
            if let Some((_, slot)) = self.keys.at(i) {
                slot.state.prefetch_box();
            }
        }
    }

    /// Apply one effect to one key. Returns whether the key now holds removal knowledge
    /// (a tomb), which the caller may want to collect.
    pub fn apply(&mut self, key: &[u8], e: &Effect) -> bool {
        let mut tomb = false;
        self.update_key(key, Absent::WrittenBy(e), same, |k, flushed| {
            k.apply(e, flushed);
            tomb = k.tomb().is_some();
        });
        tomb
    }

    /// [`Keyspace::apply`] of an op made in another region: also which conflict rules
    /// decided what the key now holds (see [`crate::conflict`]).
    pub fn apply_remote(&mut self, key: &[u8], e: &Effect) -> (bool, Conflicts) {
        let mut tomb = false;
        let mut found = Conflicts::NONE;
        self.update_key(key, Absent::WrittenBy(e), same, |k, flushed| {
            found = k.apply_remote(e, flushed);
            tomb = k.tomb().is_some();
        });
        (tomb, found)
    }

    /// FLUSHDB: remove every piece covered by `cutoff` (the origin's applied vector: all it
    /// had observed), in every key, and any such piece that arrives later.
    pub fn flush(&mut self, cutoff: &VersionVector, by: Dot) {
        self.flushed.join(cutoff);
        self.flushed_by.add(by);
        self.prune_all_flushed();
    }

    /// Remove from every key what the FLUSHDB cutoff covers.
    fn prune_all_flushed(&mut self) {
        let flushed = &self.flushed;
        self.digests.recount_all();
        self.keys.retain(|_, s| {
            s.state.prune_flushed(flushed);
            s.set_digest(UNCOUNTED);
            !s.state.is_void()
        });
        self.count_all();
    }

    /// Change one key through `f` (given the FLUSHDB cutoff), keeping the expiry index and
    /// the digests in step and dropping the key if nothing is left; `used` changes its
    /// access word (0 for a key made here). What happens to an absent key is `absent`'s to
    /// say. One lookup when the key is there.
    fn update_key(
        &mut self,
        key: &[u8],
        absent: Absent<'_>,
        used: impl FnOnce(u32) -> u32,
        f: impl FnOnce(&mut KeyState, &VersionVector),
    ) {
        let held = self.keys.len();
        let slot = match self.keys.entry(key) {
            Entry::Occupied(slot) => {
                self.digests.forget(key, slot, held);
                slot
            }
            Entry::Vacant(room) => {
                let state = match absent {
                    Absent::Skip => return,
                    // The common write: a plain string (with an expiry or without), made
                    // whole without `f`.
                    Absent::WrittenBy(e) => KeyState::new_from_plain_write(e, &self.flushed),
                    Absent::Create => None,
                };
                self.digests.note_changed(key, held + 1);
                if let Some(new) = state {
                    let after = Standing::of(&new);
                    room.insert(Blob::from(key), Slot::new(new, used(0)));
                    self.counts.add(after);
                    if let Some(at) = after.expire_at {
                        self.index_expiry(key, at);
                    }
                    return;
                }
                room.insert(Blob::from(key), Slot::new(KeyState::default(), 0))
            }
        };
        slot.set_access(used(slot.access()));
        let k = &mut slot.state;
        let before = Standing::of(k);
        f(k, &self.flushed);
        let after = Standing::of(k);
        if k.is_void() {
            self.keys.remove(key);
        }
        self.recount(key, before, after);
    }

    /// Merge another region's state of one key (full sync, anti-entropy).
    pub fn merge_key(&mut self, key: &[u8], other: &KeyState) {
        self.update_key(key, Absent::Create, same, |k, flushed| {
            k.merge(other);
            k.prune_flushed(flushed);
        });
    }

    /// Join another region's FLUSHDB knowledge into this one, removing what it covers.
    fn join_flushed(&mut self, flushed: &VersionVector, flushed_by: &VersionVector) {
        if self.flushed.dominates(flushed) && self.flushed_by.dominates(flushed_by) {
            return;
        }
        self.flushed.join(flushed);
        self.flushed_by.join(flushed_by);
        self.prune_all_flushed();
    }

    /// Merge another region's state of the keys `in_scope` says it speaks for (every key
    /// for a full sync, some digest buckets for an anti-entropy repair), collecting after
    /// it the removal knowledge `stable` covers. Returns the keys whose content changed (see
    /// [`crate::codec::encode_content`]): removal knowledge the other region has not
    /// collected yet is joined, but is no difference in what the key holds.
    pub fn merge_scope(
        &mut self,
        other: &Keyspace,
        in_scope: impl Fn(&[u8]) -> bool,
        stable: &VersionVector,
    ) -> Vec<Blob> {
        // FLUSHDB knowledge that is stable here was applied and collected here already:
        // joining it again would only make every key be pruned and counted afresh.
        if !(stable.dominates(&other.flushed) && stable.dominates(&other.flushed_by)) {
            self.join_flushed(&other.flushed, &other.flushed_by);
        }
        // Empty for a key that holds nothing but removal knowledge, as for an absent one.
        let content = |k: Option<&KeyState>| {
            let mut out = Vec::new();
            if k.is_some_and(|k| !encode_content(k, &mut out)) {
                out.clear();
            }
            out
        };
        let mut changed = Vec::new();
        for (key, theirs) in other.iter().filter(|(key, _)| in_scope(key)) {
            let was = content(self.get(key));
            self.update_key(key, Absent::Create, same, |k, flushed| {
                k.merge(theirs);
                k.prune_flushed(flushed);
                k.gc(stable);
            });
            if content(self.get(key)) != was {
                changed.push(key.clone());
            }
        }
        changed
    }
}

impl Crdt for Keyspace {
    fn merge(&mut self, other: &Keyspace) {
        self.join_flushed(&other.flushed, &other.flushed_by);
        for (key, k) in other.iter() {
            self.merge_key(key, k);
        }
    }
}

/// Equal when they hold the same keys with equal states and the same FLUSHDB knowledge
/// (the expiry index and digests follow from those).
impl PartialEq for Keyspace {
    fn eq(&self, other: &Self) -> bool {
        self.flushed == other.flushed
            && self.flushed_by == other.flushed_by
            && self.keys.len() == other.keys.len()
            && self.iter().all(|(key, k)| other.get(key) == Some(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;
    use crate::ids::{OpId, ServerId, Tag};
    use crate::ops::{self, SetTtl};

    /// A removal's knowledge is held (and its bytes told) until the removal is stable,
    /// then collected at once, oldest first; a key's access word is no part of its digest.
    #[test]
    fn removal_knowledge_is_collected_as_soon_as_stable() {
        let mut ks = Keyspace::new();
        let tag = |op: u64| Tag::new(Dot::new(ServerId(1), OpId(op), 0), Hlc::new(op, 0));
        let mut stable = VersionVector::new();
        for (op, key) in [(1, "a"), (2, "b")] {
            let e = ops::set(None, 0, tag(op), Blob::from("v"), SetTtl::Clear);
            ks.apply_and_collect(key.as_bytes(), &e, &stable, same);
        }
        let before = ks.digest();
        ks.get_touched(b"a", |_| 12345);
        assert_eq!(ks.access(b"a"), Some(12345));
        assert_eq!(ks.digest(), before, "the access word is not digested");
        for (op, key) in [(3, "a"), (4, "b")] {
            let e = ops::delete(ks.get(key.as_bytes()), tag(op)).expect("an effect");
            ks.apply_and_collect(key.as_bytes(), &e, &stable, same);
        }
        assert_eq!(ks.len(), 2, "both held as removal knowledge");
        let both = ks.uncollected_bytes();
        assert!(both > 0);
        stable.raise(ServerId(1), OpId(3));
        assert_eq!(ks.collect_stable(&stable), 1);
        assert_eq!(ks.len(), 1);
        assert!(ks.uncollected_bytes() < both && ks.uncollected_bytes() > 0);
        stable.raise(ServerId(1), OpId(4));
        assert_eq!(ks.collect_stable(&stable), 1);
        assert_eq!((ks.len(), ks.uncollected_bytes()), (0, 0));
    }

    /// A full collection made a slice at a time ends where one made at once does: the same
    /// keys, states, digest and expiry index, the void keys gone.
    #[test]
    fn a_collection_in_slices_ends_where_one_at_once_does() {
        let tag = |op: u64| Tag::new(Dot::new(ServerId(1), OpId(op), 0), Hlc::new(op, 0));
        let mut ks = Keyspace::new();
        let mut op = 0;
        let mut next = || {
            op += 1;
            tag(op)
        };
        for i in 0..1000u64 {
            let key = format!("k{i}");
            let ttl = if i % 2 == 0 {
                SetTtl::At(10_000 + i)
            } else {
                SetTtl::Clear
            };
            let e = ops::set(None, 0, next(), Blob::from("v"), ttl);
            ks.apply(key.as_bytes(), &e);
            if i % 3 == 0 {
                let e = ops::delete(ks.get(key.as_bytes()), next()).expect("a delete");
                ks.apply(key.as_bytes(), &e);
            } else if i % 10 == 0 {
                let e = ops::persist(ks.get(key.as_bytes()), 0, next()).expect("a persist");
                ks.apply(key.as_bytes(), &e);
            }
        }
        assert_eq!(ks.len(), 1000, "deleted keys keep their removal knowledge");
        let mut stable = VersionVector::new();
        stable.raise(ServerId(1), OpId(op));
        let (mut whole, mut sliced) = (ks.clone(), ks);
        whole.gc(&stable);
        let (mut from, mut slices) = (0, 1);
        while let Some(at) = sliced.gc_from(&stable, from, 7) {
            from = at;
            slices += 1;
        }
        assert!(slices > 100, "{slices} slices");
        assert_eq!(whole.len(), 1000 - 334);
        assert_eq!(sliced.len(), whole.len());
        for (key, state) in whole.iter() {
            assert_eq!(sliced.get(key), Some(state), "{key:?}");
        }
        assert_eq!(sliced.digest(), whole.digest());
        let expiries = |ks: &Keyspace| {
            let mut e: Vec<(u64, Blob)> =
                ks.expiring_from(0).map(|(at, k)| (at, k.clone())).collect();
            e.sort();
            e
        };
        assert_eq!(expiries(&sliced), expiries(&whole));
        // The index holds what the states say, as a rebuild from them would.
        let mut from_states: Vec<(u64, Blob)> = whole
            .iter()
            .filter_map(|(key, s)| Some((s.expire_at()?, key.clone())))
            .collect();
        from_states.sort();
        assert_eq!(expiries(&whole), from_states);
        assert_eq!(from_states.len(), 267);
        assert_eq!(whole.expiring_len(), 267);
        assert_eq!(sliced.expiring_len(), 267);
    }

    /// Bit writes wait as pending until stable, then the stability that covers the one each
    /// key waits for bakes them in, without a full collection; the value never changes.
    #[test]
    fn bit_writes_are_baked_as_soon_as_stable() {
        let mut ks = Keyspace::new();
        let tag = |server: u32, op: u64| {
            Tag::new(Dot::new(ServerId(server), OpId(op), 0), Hlc::new(op, 0))
        };
        let pending = |ks: &Keyspace, key: &[u8]| {
            ks.get(key)
                .map(|k| k.str_part().map_or(0, |s| s.bits().len()))
        };
        let mut stable = VersionVector::new();
        for (server, op, key, offset) in [(1, 1, "a", 0), (2, 1, "a", 9), (1, 2, "b", 7)] {
            let w = crate::bits::BitWrite::set(offset, 1, 1);
            let e = ops::write_bits(ks.get(key.as_bytes()), 0, tag(server, op), &[w])
                .expect("an effect");
            ks.apply_and_collect(key.as_bytes(), &e, &stable, same);
        }
        assert_eq!((pending(&ks, b"a"), pending(&ks, b"b")), (Some(2), Some(1)));
        let a = ks
            .get(b"a")
            .and_then(KeyState::string_value)
            .map(|v| v.into_owned());
        assert_eq!(a.as_deref(), Some(&[0x80, 0x40][..]));
        // Server 1's writes stable, server 2's not: "b" is baked, and "a" up to where it waits.
        stable.raise(ServerId(1), OpId(2));
        ks.collect_stable(&stable);
        assert_eq!((pending(&ks, b"a"), pending(&ks, b"b")), (Some(1), Some(0)));
        stable.raise(ServerId(2), OpId(1));
        ks.collect_stable(&stable);
        assert_eq!(pending(&ks, b"a"), Some(0));
        let baked = ks
            .get(b"a")
            .and_then(KeyState::string_value)
            .map(|v| v.into_owned());
        assert_eq!(baked, a);
        assert_eq!(
            ks.get(b"b").and_then(KeyState::string_value).as_deref(),
            Some(&[0x01][..])
        );
    }

    /// Op `op` of server 1.
    fn tag_of(op: u64) -> Tag {
        Tag::new(Dot::new(ServerId(1), OpId(op), 0), Hlc::new(op, 0))
    }

    /// A keyspace whose keys op `op` SET with an expiry at `at` (none for 0).
    fn with_expiries(keys: &[(u64, &str, u64)]) -> Keyspace {
        let mut ks = Keyspace::new();
        for &(op, key, at) in keys {
            let ttl = if at == 0 {
                SetTtl::Clear
            } else {
                SetTtl::At(at)
            };
            let e = ops::set(None, 0, tag_of(op), Blob::from("v"), ttl);
            ks.apply(key.as_bytes(), &e);
        }
        ks
    }

    #[test]
    fn expired_keys_are_listed_earliest_first_and_leave_when_removed() {
        let mut ks = with_expiries(&[(1, "late", 300), (2, "early", 100), (3, "none", 0)]);
        let tag = tag_of;
        let due: Vec<&Blob> = ks.expired(1000).collect();
        assert_eq!(due, vec![&Blob::from("early"), &Blob::from("late")]);
        assert_eq!(ks.expired(150).count(), 1);
        let e = ops::delete(ks.get(b"early"), tag(4)).expect("an effect");
        ks.apply(b"early", &e);
        let due: Vec<&Blob> = ks.expired(1000).collect();
        assert_eq!(due, vec![&Blob::from("late")]);
    }

    /// The index files a key by its hash: keys of one hash and expiry share an entry,
    /// which stays while one of them is left, and each is listed, counted and unlisted.
    #[test]
    fn keys_of_one_hash_and_expiry_share_an_index_entry() {
        let _colliding = crate::table::collide_all_keys();
        let mut ks = with_expiries(&[(1, "a", 100), (2, "b", 100), (3, "c", 200), (4, "d", 0)]);
        let tag = tag_of;
        let due = |ks: &Keyspace, now| {
            let mut keys: Vec<Blob> = ks.expired(now).cloned().collect();
            keys.sort();
            keys
        };
        assert_eq!(ks.expiries.len(), 2);
        assert_eq!(ks.expiring_len(), 3);
        assert_eq!(due(&ks, 150), vec![Blob::from("a"), Blob::from("b")]);
        assert_eq!(due(&ks, 200).len(), 3);
        let e = ops::delete(ks.get(b"a"), tag(5)).expect("an effect");
        ks.apply(b"a", &e);
        assert_eq!(due(&ks, 150), vec![Blob::from("b")]);
        assert_eq!(ks.expiring_len(), 2);
        let e = ops::persist(ks.get(b"b"), 0, tag(6)).expect("an effect");
        ks.apply(b"b", &e);
        assert_eq!(due(&ks, 150), Vec::<Blob>::new());
        assert_eq!(ks.expiries.len(), 1);
        assert_eq!(ks.expiring_len(), 1);
        let between: Vec<(u64, Blob)> = ks
            .expiring_between(100, 200)
            .map(|(at, k)| (at, k.clone()))
            .collect();
        assert_eq!(between, vec![(200, Blob::from("c"))]);
    }

    /// DBSIZE's and INFO's counts, kept as keys change, are what a walk over the keys finds
    /// at any time: the keys with content less those expired and not removed yet, those
    /// with an expiry ahead, and the mean time to live of the keys with one.
    #[test]
    fn live_counts_are_what_a_walk_over_the_keys_finds() {
        let walked = |ks: &Keyspace, now: u64| {
            let live: Vec<&KeyState> = ks
                .iter()
                .map(|(_, k)| k)
                .filter(|k| k.exists(now))
                .collect();
            let ahead: Vec<u64> = ks
                .iter()
                .filter_map(|(_, k)| k.expire_at())
                .filter(|at| *at > now)
                .map(|at| at - now)
                .collect();
            LiveCounts {
                keys: live.len(),
                expires: live.iter().filter(|k| k.expire_at().is_some()).count(),
                avg_ttl_ms: ahead.iter().sum::<u64>() / (ahead.len().max(1) as u64),
            }
        };
        let tag = |op: u64| Tag::new(Dot::new(ServerId(1), OpId(op), 0), Hlc::new(op, 0));
        let mut ks = Keyspace::new();
        let mut op = 0;
        for i in 0..300u64 {
            let key = format!("k{i}");
            let key = key.as_bytes();
            let ttl = if i % 3 == 0 {
                SetTtl::Clear
            } else {
                SetTtl::At(1_000 + i * 10)
            };
            op += 1;
            ks.apply(key, &ops::set(None, 0, tag(op), Blob::from("v"), ttl));
            op += 1;
            let then = if i % 7 == 0 {
                ops::delete(ks.get(key), tag(op))
            } else if i % 11 == 0 {
                ops::persist(ks.get(key), 0, tag(op))
            } else if i % 13 == 0 {
                ops::expire(ks.get(key), 0, tag(op), 5_000)
            } else {
                None
            };
            if let Some(e) = then {
                ks.apply(key, &e);
            }
        }
        let times = [0, 1_000, 1_500, 2_000, 2_990, 3_000, 5_000, 10_000];
        for now in times {
            assert_eq!(ks.live_counts(now), walked(&ks, now), "at {now}");
        }
        assert_eq!(ks.live_counts(0).keys, 300 - 43);
        let mut stable = VersionVector::new();
        stable.raise(ServerId(1), OpId(op));
        ks.gc(&stable);
        for now in times {
            assert_eq!(ks.live_counts(now), walked(&ks, now), "collected, at {now}");
        }
        let mut cutoff = VersionVector::new();
        cutoff.raise(ServerId(1), OpId(op / 2));
        ks.flush(&cutoff, Dot::new(ServerId(1), OpId(op + 1), 0));
        for now in times {
            assert_eq!(ks.live_counts(now), walked(&ks, now), "flushed, at {now}");
        }
        assert!(ks.live_counts(0).keys < 300 - 43);
    }

    #[test]
    fn merge_scope_merges_only_keys_in_scope_and_reports_what_changed() {
        let tag = |server: u32, op: u64| {
            Tag::new(Dot::new(ServerId(server), OpId(op), 0), Hlc::new(op, 0))
        };
        let set = |ks: &mut Keyspace, key: &str, t: Tag, v: &str| {
            let e = ops::set(ks.get(key.as_bytes()), 0, t, Blob::from(v), SetTtl::Clear);
            ks.apply(key.as_bytes(), &e);
        };
        let mut theirs = Keyspace::new();
        set(&mut theirs, "x", tag(1, 1), "new");
        set(&mut theirs, "y", tag(1, 2), "other");
        let mut ours = Keyspace::new();
        set(&mut ours, "z", tag(2, 1), "mine");
        let stable = VersionVector::new();
        let changed = ours.merge_scope(&theirs, |k| k != b"y", &stable);
        assert_eq!(changed, vec![Blob::from("x")]);
        assert!(ours.get(b"y").is_none(), "out of scope");
        assert!(
            ours.get(b"z").is_some(),
            "a key the other side lacks is kept"
        );
        assert_eq!(
            ours.merge_scope(&theirs, |k| k != b"y", &stable),
            Vec::<Blob>::new(),
            "merging the same state again changes nothing"
        );
    }
}
