//! A database's digests: per bucket, the sum of its keys' digests, kept up to date as keys
//! change and read by anti-entropy (`GDC.DIGEST`, `gdcctl verify`).

use super::{DIGEST_MASK, Keyspace, Slot};
use crate::blob::Blob;
use crate::codec::key_digest;
use crate::key::KeyState;
use xxhash_rust::xxh3::xxh3_64;

/// Number of buckets the keyspace digest is split into (a power of two).
pub const DIGEST_BUCKETS: usize = 256;

/// [`Slot::digest`] of a key changed since the buckets were last read.
pub(super) const UNCOUNTED: u64 = 0;
/// [`Slot::digest`] of a counted key that holds only removal knowledge.
const NO_CONTENT: u64 = 1;

/// A key's digest as its bucket sums it: [`key_digest`] in `DIGEST_BITS` bits, `None` for
/// a key that holds only removal knowledge (GDC.DIGEST KEYS shows these).
pub fn counted_digest(key: &[u8], state: &KeyState) -> Option<u64> {
    // A content digest never takes a marker's value (a 2^-39 distortion).
    key_digest(key, state).map(|d| (d & DIGEST_MASK).max(2))
}

/// What a counted [`Slot::digest`] adds to its bucket.
fn summed(digest: u64) -> u64 {
    if digest == NO_CONTENT { 0 } else { digest }
}

/// Per bucket, the wrapping sum of the digests of the keys in it. A key's digest covers its
/// content and TTL entries, not its removal knowledge (see [`crate::codec::encode_content`]):
/// how much of that a region has collected depends on what it has heard from the others, so
/// two regions that applied the same ops must have equal digests whatever they collected,
/// and a key that holds only removal knowledge counts as absent. A write only takes its
/// key's old digest out of the bucket and notes the key; digests of changed keys are computed
/// when the buckets are read, so a key written a thousand times between two anti-entropy
/// rounds is encoded once, and a round costs O(keys changed), not O(keys).
#[derive(Clone, Debug)]
pub(super) struct Digests {
    buckets: Box<[u64; DIGEST_BUCKETS]>,
    /// Keys changed since the buckets were last read (may repeat, or name keys since removed).
    changed: Vec<Blob>,
    /// The list grew past its bound and was dropped: the next read looks at every key.
    rescan: bool,
}

impl Default for Digests {
    fn default() -> Self {
        Digests {
            buckets: Box::new([0; DIGEST_BUCKETS]),
            changed: Vec::new(),
            rescan: false,
        }
    }
}

impl Digests {
    /// Take `key`'s digest out of its bucket, as the key is about to change or go.
    pub(super) fn forget(&mut self, key: &[u8], slot: &Slot, keys_held: usize) {
        if slot.digest() != UNCOUNTED {
            let b = &mut self.buckets[bucket_of(key)];
            *b = b.wrapping_sub(summed(slot.digest()));
            slot.set_digest(UNCOUNTED);
            self.note_changed(key, keys_held);
        }
    }

    /// Remember to count `key` again. The list is bounded by an eighth of the keys held (plus
    /// a little); past that, scanning every key is cheaper than keeping the list.
    pub(super) fn note_changed(&mut self, key: &[u8], keys_held: usize) {
        if self.rescan {
            return;
        }
        if self.changed.len() >= keys_held / 8 + 1024 {
            self.changed = Vec::new();
            self.rescan = true;
            return;
        }
        self.changed.push(Blob::from(key));
    }

    /// Count every key again (after a change to all of them, or a load).
    pub(super) fn recount_all(&mut self) {
        self.buckets.fill(0);
        self.changed = Vec::new();
        self.rescan = true;
    }

    /// Count the digest of one key whose digest is in no bucket.
    fn count(&mut self, key: &[u8], slot: &Slot) {
        if slot.digest() == UNCOUNTED {
            let digest = counted_digest(key, &slot.state).unwrap_or(NO_CONTENT);
            slot.set_digest(digest);
            let b = &mut self.buckets[bucket_of(key)];
            *b = b.wrapping_add(summed(digest));
        }
    }
}

impl Keyspace {
    /// Per bucket, the wrapping sum of the digests of the keys in it (see [`Digests`]).
    pub fn bucket_digests(&mut self) -> &[u64; DIGEST_BUCKETS] {
        let d = &mut self.digests;
        if d.rescan {
            for (key, slot) in self.keys.iter_mut() {
                d.count(key, slot);
            }
            d.rescan = false;
        } else {
            for key in std::mem::take(&mut d.changed) {
                if let Some(slot) = self.keys.get_mut(&key) {
                    d.count(&key, slot);
                }
            }
        }
        d.changed = Vec::new();
        &d.buckets
    }

    /// The digest of the whole database: equal in two regions that applied the same ops
    /// (FLUSHDB knowledge is removal knowledge: not counted, see [`Digests`]).
    pub fn digest(&mut self) -> u64 {
        let mut bytes = Vec::with_capacity(DIGEST_BUCKETS * 8);
        for d in self.bucket_digests() {
            bytes.extend_from_slice(&d.to_le_bytes());
        }
        xxh3_64(&bytes)
    }
}

/// The digest bucket of a key.
pub fn bucket_of(key: &[u8]) -> usize {
    (xxh3_64(key) as usize) & (DIGEST_BUCKETS - 1)
}
