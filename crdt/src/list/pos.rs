//! Dense positions: a list element's place, which another always fits between, carrying
//! its maker's server-id (see [`pos_between`]), and an element's identity (`ListId`).

use crate::ids::{Dot, ServerId};
use smallvec::SmallVec;
use std::cmp::Ordering;

/// A dense position: digits compared lexicographically. Each 64-bit digit is a 32-bit
/// choice in its high half and the creator's server-id in its low half, so two servers never
/// make the same position.
#[derive(Debug, PartialEq, Eq, Hash, Default)]
pub struct Pos(pub SmallVec<[u64; 1]>);

/// Lexicographic, as the digits' slices compare, with the one-digit case first: a push or a
/// pop compares its element's id with the list's ends, and the slices' general loop cost
/// more than the comparison.
impl Ord for Pos {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0[..], &other.0[..]) {
            ([a], [b]) => a.cmp(b),
            (a, b) => a.cmp(b),
        }
    }
}

impl PartialOrd for Pos {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Inlined for the one digit nearly every position has: every push copies its element's
/// position from the effect into the list, and `SmallVec`'s own clone is a call to a
/// general loop (this takes 35 instructions off a push).
impl Clone for Pos {
    #[inline]
    fn clone(&self) -> Self {
        match self.0[..] {
            [one] => Pos(SmallVec::from_buf([one])),
            _ => Pos(self.0.clone()),
        }
    }
}

/// A list element's identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListId {
    pub pos: Pos,
    pub dot: Dot,
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
        // A position clones whole, one digit (the fast path) or many.
        assert!(hi.0.len() > 1);
        assert_eq!(hi.clone().0[..], hi.0[..]);
        assert_eq!(a.clone().0[..], a.0[..]);
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

    #[test]
    fn positions_compare_as_their_digits_do() {
        let digits: [&[u64]; 8] = [
            &[],
            &[0],
            &[1],
            &[1, 0],
            &[1, 5],
            &[2],
            &[u64::MAX],
            &[u64::MAX, 1],
        ];
        let pos = |d: &[u64]| Pos(SmallVec::from_slice(d));
        for a in digits {
            for b in digits {
                assert_eq!(pos(a).cmp(&pos(b)), a.cmp(b), "{a:?} against {b:?}");
                assert_eq!(pos(a).partial_cmp(&pos(b)), Some(a.cmp(b)));
            }
        }
    }
}
