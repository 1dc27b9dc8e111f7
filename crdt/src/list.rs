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
use std::collections::BTreeMap;

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

#[derive(Clone, Debug, PartialEq, Default)]
pub struct ListPart {
    elems: BTreeMap<ListId, ListElem>,
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
        self.elems.iter()
    }

    /// The element at `index` (negative counts from the end), as LINDEX reads it.
    pub fn get(&self, index: i64) -> Option<(&ListId, &ListElem)> {
        let n = self.elems.len() as i64;
        let i = if index < 0 { n + index } else { index };
        if i < 0 || i >= n {
            return None;
        }
        if i <= n / 2 {
            self.elems.iter().nth(i as usize)
        } else {
            self.elems.iter().rev().nth((n - 1 - i) as usize)
        }
    }

    pub fn first(&self) -> Option<(&ListId, &ListElem)> {
        self.elems.first_key_value()
    }

    pub fn last(&self) -> Option<(&ListId, &ListElem)> {
        self.elems.last_key_value()
    }

    pub fn max_stamp(&self) -> Option<Stamp> {
        self.elems.values().map(|e| e.stamp).max()
    }

    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.elems.keys().map(|id| id.dot)
    }

    pub fn observe_into(&self, vv: &mut VersionVector) {
        for d in self.dots() {
            vv.add(d);
        }
    }

    /// Insert an element, or, when it is already here, keep the later of the two values.
    pub fn put(&mut self, id: ListId, elem: ListElem, tomb: &Tomb) {
        if tomb.kills(id.dot) {
            return;
        }
        match self.elems.get_mut(&id) {
            Some(cur) => {
                if cur.stamp < elem.stamp {
                    *cur = elem;
                }
            }
            None => {
                self.elems.insert(id, elem);
            }
        }
    }

    /// The element with this id, if it is here.
    pub fn elem(&self, id: &ListId) -> Option<&ListElem> {
        self.elems.get(id)
    }

    /// The elements right before and right after the one with this id.
    pub fn neighbors(&self, id: &ListId) -> (Option<&ListElem>, Option<&ListElem>) {
        use std::ops::Bound::{Excluded, Unbounded};
        let before = self.elems.range(..id).next_back().map(|(_, e)| e);
        let after = self
            .elems
            .range((Excluded(id), Unbounded))
            .next()
            .map(|(_, e)| e);
        (before, after)
    }

    pub fn remove(&mut self, id: &ListId) {
        self.elems.remove(id);
    }

    pub fn prune(&mut self, tomb: &Tomb) {
        self.elems.retain(|id, _| !tomb.kills(id.dot));
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
        self.elems.heap_bytes()
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
