//! List: a sequence CRDT. Every element has a stable id, `(position, dot)`, where positions
//! are dense (another always fits between two) and carry their creator's server-id, so
//! concurrent inserts are all kept in one order every region agrees on. A pop removes the
//! element's id, so concurrent pops of one element remove it once. LSET is last-writer-wins
//! per element.

use crate::blob::Blob;
use crate::ids::{Dot, ServerId, Stamp};
use crate::tomb::Tomb;
use crate::vv::VersionVector;
use smallvec::SmallVec;
use std::cmp::Ordering;
use std::collections::VecDeque;

/// A dense position: digits compared lexicographically. Each 64-bit digit is a 32-bit
/// choice in its high half and the creator's server-id in its low half, so two servers never
/// make the same position.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Pos(pub SmallVec<[u64; 1]>);

/// A list element's identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListId {
    pub pos: Pos,
    pub dot: Dot,
}

/// A list element's value and the stamp of the write (insert or LSET) that set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListElem {
    pub stamp: Stamp,
    pub value: Blob,
}

/// Elements sorted by id, in a ring buffer: pushes and pops at either end (where positions
/// are made: see [`pos_between`]) take constant time, LINDEX and LRANGE reach an index
/// directly, and an id is found by binary search. An insert or removal inside the list
/// moves the elements on its shorter side (LINSERT and LREM are linear in Redis too).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ListPart {
    elems: VecDeque<(ListId, ListElem)>,
}

const HIGH_MAX: u64 = u32::MAX as u64;

/// A position strictly between `lo` and `hi` (`None`: the list's start or end), made by
/// `me` (never server-id 0, which is reserved). Appends and prepends step by one, so a list grows by about four billion pushes at
/// either end before positions get a second digit.
///
/// When `hi` is not above `lo` (two live elements can share a position while a replica has
/// not yet seen an old element's removal), the new position goes right after `lo`'s.
pub fn pos_between(lo: Option<&Pos>, hi: Option<&Pos>, me: ServerId) -> Pos {
    let hi = match (lo, hi) {
        (Some(l), Some(h)) if h <= l => None,
        _ => hi,
    };
    let lo_digits: &[u64] = lo.map_or(&[], |p| &p.0);
    let mut hi_digits: Option<&[u64]> = hi.map(|p| p.0.as_slice());
    let mut out = SmallVec::new();
    let me = me.0 as u64;
    for i in 0.. {
        let l = lo_digits.get(i).copied().unwrap_or(0);
        let h = match hi_digits.map(|h| h.get(i)) {
            Some(Some(&d)) => d,
            // `hi` is a prefix of what we have built: nothing fits below it (only positions
            // that end in a zero digit, which we never make, can cause this), so go after `lo`.
            Some(None) | None => {
                hi_digits = None;
                u64::MAX
            }
        };
        let (lh, hh) = (l >> 32, h >> 32);
        let choice = if hh >= lh + 2 {
            Some(if hi_digits.is_none() && i < lo_digits.len() {
                lh + 1 // append
            } else if i >= lo_digits.len() && hi_digits.is_some() {
                hh - 1 // prepend
            } else {
                lh + (hh - lh) / 2
            })
        } else {
            [lh, lh + 1, hh]
                .into_iter()
                .find(|&c| c <= HIGH_MAX && l < (c << 32 | me) && (c << 32 | me) < h)
        };
        if let Some(c) = choice {
            out.push(c << 32 | me);
            return Pos(out);
        }
        out.push(l);
        if l < h {
            hi_digits = None;
        }
    }
    unreachable!("the loop returns once a digit fits")
}

impl ListPart {
    pub fn is_live(&self) -> bool {
        !self.elems.is_empty()
    }

    pub fn len(&self) -> usize {
        self.elems.len()
    }

    pub fn is_empty(&self) -> bool {
        self.elems.is_empty()
    }

    /// Elements in list order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&ListId, &ListElem)> {
        self.elems.iter().map(|(id, e)| (id, e))
    }

    /// The elements at indexes `start..end` (within the list), in list order.
    pub fn range(
        &self,
        start: usize,
        end: usize,
    ) -> impl DoubleEndedIterator<Item = (&ListId, &ListElem)> {
        self.elems.range(start..end).map(|(id, e)| (id, e))
    }

    /// The element at `index` (negative counts from the end), as LINDEX reads it.
    pub fn get(&self, index: i64) -> Option<(&ListId, &ListElem)> {
        let n = self.elems.len() as i64;
        let i = if index < 0 { n + index } else { index };
        if i < 0 || i >= n {
            return None;
        }
        self.elems.get(i as usize).map(|(id, e)| (id, e))
    }

    pub fn first(&self) -> Option<(&ListId, &ListElem)> {
        self.elems.front().map(|(id, e)| (id, e))
    }

    pub fn last(&self) -> Option<(&ListId, &ListElem)> {
        self.elems.back().map(|(id, e)| (id, e))
    }

    pub fn max_stamp(&self) -> Option<Stamp> {
        self.elems.iter().map(|(_, e)| e.stamp).max()
    }

    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.elems.iter().map(|(id, _)| id.dot)
    }

    pub fn observe_into(&self, vv: &mut VersionVector) {
        for d in self.dots() {
            vv.add(d);
        }
    }

    /// Where `id` is (`Ok`) or would go (`Err`); the ends are looked at first.
    fn find(&self, id: &ListId) -> Result<usize, usize> {
        let n = self.elems.len();
        match self.elems.back().map(|(last, _)| id.cmp(last)) {
            None => return Err(0),
            Some(Ordering::Greater) => return Err(n),
            Some(Ordering::Equal) => return Ok(n - 1),
            Some(Ordering::Less) => {}
        }
        match self.elems.front().map(|(first, _)| id.cmp(first)) {
            Some(Ordering::Less) => return Err(0),
            Some(Ordering::Equal) => return Ok(0),
            _ => {}
        }
        self.elems.binary_search_by(|(k, _)| k.cmp(id))
    }

    /// Insert an element, or, when it is already here, keep the later of the two values.
    pub fn put(&mut self, id: ListId, elem: ListElem, tomb: &Tomb) {
        if tomb.kills(id.dot) {
            return;
        }
        match self.find(&id) {
            Ok(i) => {
                let cur = &mut self.elems[i].1;
                if cur.stamp < elem.stamp {
                    *cur = elem;
                }
            }
            Err(i) if i == self.elems.len() => self.elems.push_back((id, elem)),
            Err(0) => self.elems.push_front((id, elem)),
            Err(i) => self.elems.insert(i, (id, elem)),
        }
    }

    /// The element with this id, if it is here.
    pub fn elem(&self, id: &ListId) -> Option<&ListElem> {
        self.find(id).ok().map(|i| &self.elems[i].1)
    }

    /// The elements right before and right after the one with this id.
    pub fn neighbors(&self, id: &ListId) -> (Option<&ListElem>, Option<&ListElem>) {
        let (before, after) = match self.find(id) {
            Ok(i) => (i.checked_sub(1), i + 1),
            Err(i) => (i.checked_sub(1), i),
        };
        let at = |i: usize| self.elems.get(i).map(|(_, e)| e);
        (before.and_then(at), at(after))
    }

    pub fn remove(&mut self, id: &ListId) {
        if let Ok(i) = self.find(id) {
            self.elems.remove(i);
            self.shrink_if_sparse();
        }
    }

    pub fn prune(&mut self, tomb: &Tomb) {
        self.elems.retain(|(id, _)| !tomb.kills(id.dot));
        self.shrink_if_sparse();
    }

    /// Give memory back once three quarters of the room is unused (pops drain a list).
    fn shrink_if_sparse(&mut self) {
        let len = self.elems.len();
        if self.elems.capacity() > 64 && len * 4 < self.elems.capacity() {
            self.elems.shrink_to(len * 2);
        }
    }

    pub fn merge(&mut self, other: &ListPart, tomb: &Tomb) {
        for (id, e) in &other.elems {
            self.put(id.clone(), e.clone(), tomb);
        }
    }
}

impl crate::heap::HeapSize for Pos {
    fn heap_bytes(&self) -> usize {
        crate::heap::smallvec_bytes(&self.0)
    }
}

impl crate::heap::HeapSize for ListId {
    fn heap_bytes(&self) -> usize {
        self.pos.heap_bytes()
    }
}

impl crate::heap::HeapSize for ListElem {
    fn heap_bytes(&self) -> usize {
        self.value.heap_bytes()
    }
}

impl crate::heap::HeapSize for ListPart {
    fn heap_bytes(&self) -> usize {
        self.elems.capacity() * size_of::<(ListId, ListElem)>()
            + self
                .elems
                .iter()
                .map(|(id, e)| id.heap_bytes() + e.heap_bytes())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(lo: Option<&Pos>, hi: Option<&Pos>, me: u32) -> Pos {
        let p = pos_between(lo, hi, ServerId(me));
        if let Some(lo) = lo {
            assert!(*lo < p, "{lo:?} < {p:?}");
        }
        if let Some(hi) = hi {
            assert!(p < *hi, "{p:?} < {hi:?}");
        }
        p
    }

    #[test]
    fn appends_and_prepends_stay_one_digit() {
        let mut last = check(None, None, 1);
        let mut first = last.clone();
        for _ in 0..1000 {
            last = check(Some(&last), None, 1);
            first = check(None, Some(&first), 2);
        }
        assert_eq!(last.0.len(), 1);
        assert_eq!(first.0.len(), 1);
    }

    #[test]
    fn always_finds_a_position_between() {
        let a = check(None, None, 1);
        let mut hi = check(Some(&a), None, 1);
        // Repeatedly insert right after `a`: the gap shrinks, positions grow deeper.
        for i in 0..200 {
            hi = check(Some(&a), Some(&hi), 1 + i % 3);
        }
        // Between positions made by different servers at the same digit.
        let x = Pos(SmallVec::from_slice(&[5 << 32 | 1]));
        let y = Pos(SmallVec::from_slice(&[5 << 32 | 2]));
        check(Some(&x), Some(&y), 1);
        check(Some(&x), Some(&y), 7);
        check(Some(&x), Some(&y), 2);
    }

    #[test]
    fn ends_even_when_nothing_fits_between() {
        // No position lies strictly between these two (the upper one extends the lower one
        // with a zero digit); the new one goes right after the lower one instead.
        let lo = Pos(SmallVec::from_slice(&[5 << 32, 0]));
        let hi = Pos(SmallVec::from_slice(&[5 << 32, 0, 0]));
        let p = pos_between(Some(&lo), Some(&hi), ServerId(1));
        assert!(lo < p);
        let all_ones = Pos(SmallVec::from_slice(&[u64::MAX]));
        assert!(all_ones < pos_between(Some(&all_ones), None, ServerId(1)));
    }
}
