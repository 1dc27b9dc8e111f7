//! Collection: removal knowledge forgotten and bit writes baked in once causally stable —
//! at once after each write where it already is, later for the keys queued meanwhile, and
//! over every key now and then.

use super::{Absent, KEY_ENTRY_BYTES, Keyspace, Standing, same};
use crate::blob::Blob;
use crate::conflict::Conflicts;
use crate::effect::{Addition, Effect};
use crate::heap::HeapSize;
use crate::ids::Dot;
use crate::vv::VersionVector;

/// A key holding only removal knowledge, and the op that left it so.
#[derive(Clone, Debug)]
pub(super) struct Uncollected {
    dot: Dot,
    key: Blob,
    bytes: usize,
}

impl Keyspace {
    /// Forget removal knowledge that is causally stable (see [`crate::Tomb::gc`]); drop keys
    /// left void. O(keys): see [`Keyspace::gc_from`] for the same a slice at a time.
    pub fn gc(&mut self, stable: &VersionVector) {
        self.gc_from(stable, 0, usize::MAX);
    }

    /// [`Keyspace::gc`] over at most `count` keys from position `from` (a pass begins at 0):
    /// the position to go on from, or `None` once the pass has looked at every key. A pass
    /// may miss a key that moved while it ran; the next one has it.
    pub fn gc_from(&mut self, stable: &VersionVector, from: usize, count: usize) -> Option<usize> {
        if from == 0
            && !self.flushed.is_empty()
            && stable.dominates(&self.flushed)
            && stable.dominates(&self.flushed_by)
        {
            self.flushed = VersionVector::new();
            self.flushed_by = VersionVector::new();
        }
        let held = self.keys.len();
        let digests = &mut self.digests;
        // Keys whose count the collection changed (rare: a TTL's removal knowledge).
        let mut recounted = Vec::new();
        let next = self.keys.retain_from(from, count, |key, s| {
            let before = Standing::of(&s.state);
            let changed = s.state.gc(stable);
            let void = s.state.is_void();
            if changed || void {
                digests.forget(key, s, held);
            }
            let after = Standing::of(&s.state);
            if before != after {
                recounted.push((key.clone(), before, after));
            }
            !void
        });
        for (key, before, after) in recounted {
            self.recount(&key, before, after);
        }
        (next < self.keys.len()).then_some(next)
    }

    /// [`Keyspace::apply`] followed by [`Keyspace::gc_key`], with a direct path for the most
    /// common write, a SET over a plain string, when what it removes is already stable.
    /// `used` changes the key's access word in the same lookup (see
    /// [`Keyspace::get_touched`]).
    pub fn apply_and_collect(
        &mut self,
        key: &[u8],
        e: &Effect,
        stable: &VersionVector,
        used: impl FnOnce(u32) -> u32,
    ) {
        self.apply_and_collect_as(key, e, stable, false, used);
    }

    /// [`Keyspace::apply_and_collect`] of an op made in another region: also which conflict
    /// rules decided what the key now holds.
    pub fn apply_remote_and_collect(
        &mut self,
        key: &[u8],
        e: &Effect,
        stable: &VersionVector,
        used: impl FnOnce(u32) -> u32,
    ) -> Conflicts {
        self.apply_and_collect_as(key, e, stable, true, used)
    }

    fn apply_and_collect_as(
        &mut self,
        key: &[u8],
        e: &Effect,
        stable: &VersionVector,
        remote: bool,
        used: impl FnOnce(u32) -> u32,
    ) -> Conflicts {
        let mut tomb = false;
        let mut found = Conflicts::NONE;
        // One lookup: the key is found, or made, once.
        self.update_key(key, Absent::WrittenBy(e), used, |k, flushed| {
            // A SET that saw exactly the string here: it follows it, no conflict.
            if let Some(new) = k.overwritten_plainly(e, flushed, stable) {
                *k = new;
                return;
            }
            if remote {
                found = k.apply_remote(e, flushed);
            } else {
                k.apply_collecting(e, flushed, stable);
            }
            tomb = k.tomb().is_some();
        });
        let bits = e.adds.iter().any(|a| matches!(a, Addition::Bits(_)));
        if tomb || bits {
            self.gc_key(key, stable);
        }
        if tomb {
            self.queue_uncollected(key, e.tag.dot);
        }
        if bits {
            self.queue_unbaked(key, Some(e.tag.dot), stable);
        }
        found
    }

    /// Queue `key` for [`Keyspace::collect_stable`] if it has bit writes to bake in later.
    /// `by`: the op that just added bit writes; the key is queued already unless they are
    /// the only ones pending (a key with pending writes stays queued until they are baked,
    /// or until no stability bakes them; the full collection is the backstop).
    fn queue_unbaked(&mut self, key: &[u8], by: Option<Dot>, stable: &VersionVector) {
        let Some(s) = self.keys.get(key).and_then(|slot| slot.state.str_part()) else {
            return;
        };
        let queued = by.is_some_and(|by| {
            s.bits()
                .iter()
                .any(|(t, _)| (t.dot.server, t.dot.op) != (by.server, by.op))
        });
        if let (false, Some(wait)) = (queued, s.bake_waits_for(stable)) {
            self.unbaked.push_back((wait, Blob::from(key)));
        }
    }

    /// Queue `key` for [`Keyspace::collect_stable`] if `dot` left it holding nothing but
    /// removal knowledge.
    fn queue_uncollected(&mut self, key: &[u8], dot: Dot) {
        let Some(slot) = self.keys.get(key) else {
            return;
        };
        if slot.state.kind().is_some() || slot.state.tomb().is_none() {
            return;
        }
        let bytes =
            KEY_ENTRY_BYTES + size_of::<Uncollected>() + 2 * key.len() + slot.state.heap_bytes();
        self.uncollected_bytes += bytes;
        self.uncollected.push_back(Uncollected {
            dot,
            key: Blob::from(key),
            bytes,
        });
    }

    /// Collect the removal knowledge of queued keys (see [`Keyspace::uncollected_bytes`])
    /// whose op `stable` covers, oldest first. Returns how many keys were looked at.
    pub fn collect_stable(&mut self, stable: &VersionVector) -> usize {
        let mut n = 0;
        while let Some(front) = self.uncollected.front() {
            if !stable.covers(front.dot) {
                break;
            }
            let done = self.uncollected.pop_front().expect("front is there");
            self.uncollected_bytes -= done.bytes;
            self.gc_key(&done.key, stable);
            n += 1;
        }
        while self.unbaked.front().is_some_and(|(d, _)| stable.covers(*d)) {
            let (_, key) = self.unbaked.pop_front().expect("front is there");
            self.gc_key(&key, stable);
            self.queue_unbaked(&key, None, stable);
            n += 1;
        }
        n
    }

    /// Bytes held by keys that hold nothing but removal knowledge not yet stable (an
    /// estimate made when each was queued): memory a removal will free once every region
    /// has applied it.
    pub fn uncollected_bytes(&self) -> usize {
        self.uncollected_bytes
    }

    /// [`KeyState::gc_removals`] for one key: cheap enough for every write.
    pub fn gc_key(&mut self, key: &[u8], stable: &VersionVector) {
        self.update_key(key, Absent::Skip, same, |k, _| {
            k.gc_removals(stable);
        });
    }
}
