//! A vector kept in fixed-size segments, for a key table's entries: growing allocates one
//! more segment (nothing is copied, and no more than one segment is ever unused), and
//! removals, which take from the end, free segments as they empty. A `Vec` that grows by
//! doubling holds up to twice the room its entries need, and keeps it while they go: a
//! cache evicting under `maxmemory` then held a quarter fewer keys than its limit allowed.

use std::ops::{Index, IndexMut};

/// Entries per segment (the first grows to this as a `Vec` does, so small tables stay
/// small).
const SHIFT: u32 = 10;
const SEGMENT: usize = 1 << SHIFT;
const MASK: usize = SEGMENT - 1;

#[derive(Clone, Debug)]
pub(crate) struct Segments<T> {
    /// Full segments, then the one being filled; at most one empty one at the end, kept
    /// while the one before it is at least half full (a table going back and forth over a
    /// segment's edge does not allocate and free it each time).
    segs: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Segments<T> {
    fn default() -> Self {
        Segments {
            segs: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Segments<T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries the segments have room for.
    pub(crate) fn capacity(&self) -> usize {
        self.segs.iter().map(Vec::capacity).sum()
    }

    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        (i < self.len).then(|| &self.segs[i >> SHIFT][i & MASK])
    }

    pub(crate) fn push(&mut self, v: T) {
        let last = self.len >> SHIFT;
        if last == self.segs.len() {
            // The first segment grows as a `Vec` does, and the index holds just it: most
            // tables of a hash or a set stay there. Later segments are made whole.
            let room = if last == 0 {
                self.segs.reserve_exact(1);
                0
            } else {
                SEGMENT
            };
            self.segs.push(Vec::with_capacity(room));
        }
        let seg = &mut self.segs[last];
        if seg.len() == seg.capacity() {
            // Doubling from one entry (a `Vec` starts at four: a hash of one field held
            // room for four, 264 bytes unused), but never past a segment (after a shrink
            // it could overshoot).
            seg.reserve_exact(seg.capacity().max(1).min(SEGMENT - seg.len()));
        }
        seg.push(v);
        self.len += 1;
    }

    /// Remove entry `i`, putting the last entry in its place.
    pub(crate) fn swap_remove(&mut self, i: usize) -> T {
        assert!(i < self.len, "index {i} past {}", self.len);
        let last = self.len - 1;
        let moved = self.segs[last >> SHIFT]
            .pop()
            .expect("the last entry is there");
        self.len = last;
        let removed = if i == last {
            moved
        } else {
            std::mem::replace(&mut self[i], moved)
        };
        while let [.., before, end] = &self.segs[..] {
            if !end.is_empty() || (!before.is_empty() && before.len() >= SEGMENT / 2) {
                break;
            }
            self.segs.pop();
        }
        removed
    }

    /// Keep the entries `keep` says so of, in their order, closed up. Each segment is
    /// freed as it is read, so no more than one segment more than the kept entries is
    /// held at any time.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let old = std::mem::take(self);
        for seg in old.segs {
            for v in seg {
                if keep(&v) {
                    self.push(v);
                }
            }
        }
    }

    /// With one segment: give back room past `n` entries (more segments free themselves).
    pub(crate) fn shrink_to(&mut self, n: usize) {
        if let [only] = &mut self.segs[..] {
            only.shrink_to(n);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.segs.iter().flatten()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.segs.iter_mut().flatten()
    }
}

impl<T> Index<usize> for Segments<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        &self.segs[i >> SHIFT][i & MASK]
    }
}

impl<T> IndexMut<usize> for Segments<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.segs[i >> SHIFT][i & MASK]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Pushes and swap-removes leave what a `Vec` holds, in the same places; room
        /// follows the entries (at most one segment unused, and one spare past that).
        #[test]
        fn holds_what_a_vec_holds(ops in proptest::collection::vec((0u8..4, any::<u16>()), 0..30_000)) {
            let mut s = Segments::default();
            let mut v = Vec::new();
            let half = ops.len() / 2;
            for (n, (dice, x)) in ops.into_iter().enumerate() {
                // Mostly pushes, then mostly removals: across several segments and back.
                let push = if n < half { dice > 0 } else { dice == 0 };
                if push || v.is_empty() {
                    s.push(x);
                    v.push(x);
                } else {
                    let i = x as usize % v.len();
                    prop_assert_eq!(s.swap_remove(i), v.swap_remove(i));
                }
                prop_assert_eq!(s.len(), v.len());
                prop_assert!(s.capacity() <= (v.len() + 2 * SEGMENT).max(2 * SEGMENT));
            }
            prop_assert_eq!(s.iter().copied().collect::<Vec<_>>(), v.clone());
            for (i, x) in v.iter().enumerate() {
                prop_assert_eq!(s.get(i), Some(x));
            }
            prop_assert_eq!(s.get(v.len()), None);
        }
    }

    /// A small table holds room for its entries, doubling: most hashes and sets are small.
    #[test]
    fn a_small_table_has_room_for_its_entries_only() {
        let mut s = Segments::default();
        let mut rooms = vec![];
        for i in 0..5u64 {
            s.push(i);
            rooms.push((s.capacity(), s.segs.capacity()));
        }
        assert_eq!(rooms, [(1, 1), (2, 1), (4, 1), (4, 1), (8, 1)]);
    }

    #[test]
    fn removals_free_the_segments_they_empty() {
        let mut s = Segments::default();
        for i in 0..10 * SEGMENT {
            s.push(i);
        }
        while s.len() > SEGMENT + 10 {
            s.swap_remove(0);
        }
        // The second segment holds 10, and the two after it are gone.
        assert_eq!(s.segs.len(), 2);
        while s.len() > 10 {
            s.swap_remove(0);
        }
        assert_eq!(s.segs.len(), 1);
        s.shrink_to(20);
        assert!(s.capacity() < SEGMENT);
    }
}
