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
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Pos(pub SmallVec<[u64; 1]>);

/// Inlined for the one digit nearly every position has: every push copies its element's
/// position from the effect into the list, and `SmallVec`'s own clone is a call to a
/// general loop (this takes 35 instructions off a push).
impl Clone for Pos {
    #[inline]
    fn clone(&self) -> Self {
        match self.0[..] {
            [one] => Pos(smallvec::smallvec![one]),
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

/// A list element's value and the stamp of the write (insert or LSET) that set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListElem {
    pub stamp: Stamp,
    pub value: Blob,
}

type Entry = (ListId, ListElem);

/// Elements sorted by id, in chunks of at most [`CHUNK`], each a ring buffer: pushes and
/// pops at either end (where positions are made: see [`pos_between`]) take constant time and
/// never move the rest of the list, an id is found by binary search over the chunks and
/// then within one, and LINDEX and LRANGE walk the chunks from the nearer end (as Redis's
/// quicklist does). An insert or removal inside the list moves the elements of one chunk.
#[derive(Clone, Debug, Default)]
pub struct ListPart {
    /// Never an empty chunk.
    chunks: VecDeque<VecDeque<Entry>>,
    len: usize,
}

/// Most elements in one chunk: about 10 KB, so growing a long list allocates chunk by chunk
/// instead of copying the whole list into a buffer twice its size (and faulting that in).
const CHUNK: usize = 128;

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
        self.len > 0
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Elements in list order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&ListId, &ListElem)> {
        self.chunks.iter().flatten().map(|(id, e)| (id, e))
    }

    /// The elements at indexes `start..end` (within the list), in list order.
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = (&ListId, &ListElem)> {
        let (chunk, offset) = if start < end.min(self.len) {
            self.locate(start)
        } else {
            (self.chunks.len(), 0)
        };
        self.chunks
            .range(chunk.min(self.chunks.len())..)
            .flatten()
            .skip(offset)
            .take(end.saturating_sub(start))
            .map(|(id, e)| (id, e))
    }

    /// The element at `index` (negative counts from the end), as LINDEX reads it.
    pub fn get(&self, index: i64) -> Option<(&ListId, &ListElem)> {
        let n = self.len as i64;
        let i = if index < 0 { n + index } else { index };
        if i < 0 || i >= n {
            return None;
        }
        let (c, o) = self.locate(i as usize);
        let (id, e) = &self.chunks[c][o];
        Some((id, e))
    }

    pub fn first(&self) -> Option<(&ListId, &ListElem)> {
        self.chunks.front()?.front().map(|(id, e)| (id, e))
    }

    pub fn last(&self) -> Option<(&ListId, &ListElem)> {
        self.chunks.back()?.back().map(|(id, e)| (id, e))
    }

    pub fn max_stamp(&self) -> Option<Stamp> {
        self.iter().map(|(_, e)| e.stamp).max()
    }

    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.iter().map(|(id, _)| id.dot)
    }

    pub fn observe_into(&self, vv: &mut VersionVector) {
        for d in self.dots() {
            vv.add(d);
        }
    }

    /// The chunk and offset of the element at `index` (below `len`), counted from the nearer
    /// end: pops and LRANGE from the head stay at the first chunks.
    fn locate(&self, index: usize) -> (usize, usize) {
        let mut i = index;
        if index < self.len / 2 {
            for (c, chunk) in self.chunks.iter().enumerate() {
                if i < chunk.len() {
                    return (c, i);
                }
                i -= chunk.len();
            }
        } else {
            let mut from_end = self.len - 1 - index;
            for (c, chunk) in self.chunks.iter().enumerate().rev() {
                if from_end < chunk.len() {
                    return (c, chunk.len() - 1 - from_end);
                }
                from_end -= chunk.len();
            }
        }
        unreachable!("index {index} is below the list's length {}", self.len)
    }

    /// Where `id` is (`Ok`) or would go (`Err`), as a chunk and an offset in it; the ends are
    /// looked at first. An empty list answers `Err((0, 0))`.
    fn find(&self, id: &ListId) -> Result<(usize, usize), (usize, usize)> {
        let (Some(head), Some(tail)) = (self.chunks.front(), self.chunks.back()) else {
            return Err((0, 0));
        };
        let last = self.chunks.len() - 1;
        match id.cmp(last_id(tail)) {
            Ordering::Greater => return Err((last, tail.len())),
            Ordering::Equal => return Ok((last, tail.len() - 1)),
            Ordering::Less => {}
        }
        match id.cmp(first_id(head)) {
            Ordering::Less => return Err((0, 0)),
            Ordering::Equal => return Ok((0, 0)),
            Ordering::Greater => {}
        }
        // The first chunk whose last id is not below `id` holds it, or is where it goes
        // (one exists: `id` is below the tail's last).
        let c = self.chunks.partition_point(|chunk| last_id(chunk) < id);
        self.chunks[c]
            .binary_search_by(|(k, _)| k.cmp(id))
            .map(|o| (c, o))
            .map_err(|o| (c, o))
    }

    /// Insert an element, or, when it is already here, keep the later of the two values.
    pub fn put(&mut self, id: ListId, elem: ListElem, tomb: &Tomb) {
        if tomb.kills(id.dot) {
            return;
        }
        match self.find(&id) {
            Ok((c, o)) => {
                let cur = &mut self.chunks[c][o].1;
                if cur.stamp < elem.stamp {
                    *cur = elem;
                }
            }
            Err(at) => self.insert_at(at, (id, elem)),
        }
    }

    /// Insert at offset `o` of chunk `c`. A full chunk passes the element to a neighbour
    /// with room when it goes at its edge, or else gets a new chunk beside it (at the
    /// list's ends, where pushes go) or is split in two (inside it).
    fn insert_at(&mut self, (c, o): (usize, usize), entry: Entry) {
        self.len += 1;
        let n = self.chunks.len();
        let Some(chunk) = self.chunks.get_mut(c) else {
            // The first chunk: room for one chunk only, as most lists never get a second
            // (a deque's own first growth would make room for four, 96 bytes unused).
            self.chunks.reserve_exact(1);
            self.chunks.push_back(VecDeque::from([entry]));
            return;
        };
        let len = chunk.len();
        if len < CHUNK {
            match o {
                0 => chunk.push_front(entry),
                _ if o == len => chunk.push_back(entry),
                _ => chunk.insert(o, entry),
            }
        } else if o == 0 {
            match c.checked_sub(1).map(|p| &mut self.chunks[p]) {
                Some(prev) if prev.len() < CHUNK => prev.push_back(entry),
                _ => self.chunks.insert(c, new_chunk(entry)),
            }
        } else if o == len {
            match self.chunks.get_mut(c + 1) {
                Some(next) if next.len() < CHUNK => next.push_front(entry),
                _ if c + 1 == n => self.chunks.push_back(new_chunk(entry)),
                _ => self.chunks.insert(c + 1, new_chunk(entry)),
            }
        } else {
            let mut tail = chunk.split_off(CHUNK / 2);
            tail.reserve_exact(CHUNK - tail.len());
            if o <= CHUNK / 2 {
                chunk.insert(o, entry);
            } else {
                tail.insert(o - CHUNK / 2, entry);
            }
            self.chunks.insert(c + 1, tail);
        }
    }

    /// The element with this id, if it is here.
    pub fn elem(&self, id: &ListId) -> Option<&ListElem> {
        self.find(id).ok().map(|(c, o)| &self.chunks[c][o].1)
    }

    /// The elements right before and right after the one with this id.
    pub fn neighbors(&self, id: &ListId) -> (Option<&ListElem>, Option<&ListElem>) {
        let (c, o, after) = match self.find(id) {
            Ok((c, o)) => (c, o, o + 1),
            Err((c, o)) => (c, o, o),
        };
        let before = match o.checked_sub(1) {
            Some(b) => self.chunks.get(c).and_then(|chunk| chunk.get(b)),
            None => c
                .checked_sub(1)
                .and_then(|p| self.chunks.get(p))
                .and_then(|prev| prev.back()),
        };
        let after = match self.chunks.get(c) {
            Some(chunk) if after < chunk.len() => chunk.get(after),
            _ => self.chunks.get(c + 1).and_then(|next| next.front()),
        };
        (before.map(|(_, e)| e), after.map(|(_, e)| e))
    }

    pub fn remove(&mut self, id: &ListId) {
        let Ok((c, o)) = self.find(id) else {
            return;
        };
        self.len -= 1;
        let chunk = &mut self.chunks[c];
        chunk.remove(o);
        if chunk.is_empty() {
            self.chunks.remove(c);
            self.shrink_if_sparse();
        } else if chunk.len() < CHUNK / 4 {
            self.merge_small(c);
        }
    }

    /// Fold a chunk that removals inside the list left small into a neighbour with room,
    /// so LREM and LTRIM do not leave a trail of near-empty chunks behind.
    fn merge_small(&mut self, c: usize) {
        let len = self.chunks[c].len();
        if let Some(prev) = c
            .checked_sub(1)
            .filter(|&p| self.chunks[p].len() + len <= CHUNK)
        {
            let small = self.chunks.remove(c).unwrap_or_default();
            self.chunks[prev].extend(small);
        } else if self
            .chunks
            .get(c + 1)
            .is_some_and(|next| next.len() + len <= CHUNK)
        {
            let next = self.chunks.remove(c + 1).unwrap_or_default();
            self.chunks[c].extend(next);
        }
    }

    pub fn prune(&mut self, tomb: &Tomb) {
        for chunk in &mut self.chunks {
            chunk.retain(|(id, _)| !tomb.kills(id.dot));
        }
        self.chunks.retain(|chunk| !chunk.is_empty());
        self.len = self.chunks.iter().map(VecDeque::len).sum();
        self.shrink_if_sparse();
    }

    /// Give the chunk index's memory back once three quarters of it is unused.
    fn shrink_if_sparse(&mut self) {
        let n = self.chunks.len();
        if self.chunks.capacity() > 64 && n * 4 < self.chunks.capacity() {
            self.chunks.shrink_to(n * 2);
        }
    }

    pub fn merge(&mut self, other: &ListPart, tomb: &Tomb) {
        for (id, e) in other.iter() {
            self.put(id.clone(), e.clone(), tomb);
        }
    }
}

/// Lists compare by their elements, however they are chunked.
impl PartialEq for ListPart {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

fn first_id(chunk: &VecDeque<Entry>) -> &ListId {
    &chunk.front().expect("a list keeps no empty chunk").0
}

fn last_id(chunk: &VecDeque<Entry>) -> &ListId {
    &chunk.back().expect("a list keeps no empty chunk").0
}

/// A chunk beside full ones: given its whole room at once, as it will fill.
fn new_chunk(entry: Entry) -> VecDeque<Entry> {
    let mut chunk = VecDeque::with_capacity(CHUNK);
    chunk.push_back(entry);
    chunk
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
        self.chunks.capacity() * size_of::<VecDeque<Entry>>()
            + self
                .chunks
                .iter()
                .map(|chunk| chunk.capacity() * size_of::<Entry>())
                .sum::<usize>()
            + self
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

    fn id(pos: Pos, n: u64) -> ListId {
        let dot = Dot {
            server: ServerId(1),
            // Op 0 is no write's (a tomb counts it removed).
            op: crate::ids::OpId(n + 1),
            idx: 0,
        };
        ListId { pos, dot }
    }

    fn elem(n: u64) -> ListElem {
        ListElem {
            stamp: Stamp::default(),
            value: Blob::from(n.to_string().as_bytes()),
        }
    }

    /// Every read of a chunked list against a plain vector of the same elements, and the
    /// chunks' own rules: none empty, none over `CHUNK`.
    fn check_against(l: &ListPart, model: &[(ListId, ListElem)]) {
        assert_eq!(l.len(), model.len());
        assert!(l.chunks.iter().all(|c| !c.is_empty() && c.len() <= CHUNK));
        assert!(
            l.iter()
                .map(|(id, _)| id)
                .eq(model.iter().map(|(id, _)| id))
        );
        assert!(
            l.iter()
                .rev()
                .map(|(id, _)| id)
                .eq(model.iter().rev().map(|(id, _)| id))
        );
        let n = model.len();
        for i in [
            0,
            1,
            n / 3,
            n / 2,
            n.saturating_sub(2),
            n.saturating_sub(1),
            n,
        ] {
            assert_eq!(
                l.get(i as i64).map(|(id, _)| id),
                model.get(i).map(|(id, _)| id)
            );
            // Counted from the end: -n is the first element, -(n + 1) is none.
            let from_end = if i < n {
                i as i64 - n as i64
            } else {
                -(n as i64) - 1
            };
            assert_eq!(
                l.get(from_end).map(|(id, _)| id),
                model.get(i).map(|(id, _)| id)
            );
            let end = (i + 150).min(n);
            assert!(
                l.range(i, end)
                    .map(|(id, _)| id)
                    .eq(model[i.min(n)..end].iter().map(|(id, _)| id))
            );
            if let Some((id, e)) = model.get(i) {
                assert_eq!(l.elem(id), Some(e));
                let before = i.checked_sub(1).map(|b| &model[b].1);
                assert_eq!(l.neighbors(id), (before, model.get(i + 1).map(|(_, e)| e)));
            }
        }
        assert_eq!(l.first().map(|(id, _)| id), model.first().map(|(id, _)| id));
        assert_eq!(l.last().map(|(id, _)| id), model.last().map(|(id, _)| id));
    }

    #[test]
    fn chunked_list_reads_as_one_sorted_sequence() {
        let none = Tomb::default();
        let mut l = ListPart::default();
        let mut model: Vec<(ListId, ListElem)> = Vec::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound.max(1) as u64) as usize
        };
        for n in 0..6000u64 {
            // Mostly pushes at both ends (the chunks' fast path), some inserts inside (which
            // split full chunks), and removals anywhere (which merge small ones).
            match next(10) {
                0..=2 => {
                    let pos = pos_between(model.last().map(|(id, _)| &id.pos), None, ServerId(1));
                    model.push((id(pos, n), elem(n)));
                    let (i, e) = model[model.len() - 1].clone();
                    l.put(i, e, &none);
                }
                3..=4 => {
                    let pos = pos_between(None, model.first().map(|(id, _)| &id.pos), ServerId(1));
                    model.insert(0, (id(pos, n), elem(n)));
                    l.put(model[0].0.clone(), model[0].1.clone(), &none);
                }
                5..=6 => {
                    let at = next(model.len() + 1);
                    let lo = at.checked_sub(1).map(|i| &model[i].0.pos);
                    let pos = pos_between(lo, model.get(at).map(|(id, _)| &id.pos), ServerId(1));
                    model.insert(at, (id(pos, n), elem(n)));
                    l.put(model[at].0.clone(), model[at].1.clone(), &none);
                }
                _ if !model.is_empty() => {
                    let (gone, _) = model.remove(next(model.len()));
                    l.remove(&gone);
                    l.remove(&gone);
                }
                _ => {}
            }
            if n % 500 == 0 {
                check_against(&l, &model);
            }
        }
        check_against(&l, &model);
        assert!(l.chunks.len() > 1, "the test reaches more than one chunk");
        // Putting an element again keeps one copy; a list equals another of the same
        // elements chunked differently.
        let mut other = ListPart::default();
        for (id, e) in model.iter().rev() {
            other.put(id.clone(), e.clone(), &none);
            other.put(id.clone(), e.clone(), &none);
        }
        assert_eq!(other, l);
        while let Some((first, _)) = l.first() {
            let first = first.clone();
            l.remove(&first);
        }
        check_against(&l, &[]);
        assert!(l.chunks.is_empty());
    }

    /// An insert inside a full chunk splits it in two; a chunk that removals leave below a
    /// quarter full folds into a neighbour with room.
    #[test]
    fn inserts_split_full_chunks_and_removals_merge_small_ones() {
        let none = Tomb::default();
        let mut l = ListPart::default();
        let mut model: Vec<(ListId, ListElem)> = Vec::new();
        for n in 0..(3 * CHUNK) as u64 {
            let pos = pos_between(model.last().map(|(id, _)| &id.pos), None, ServerId(1));
            model.push((id(pos, n), elem(n)));
            l.put(model[n as usize].0.clone(), elem(n), &none);
        }
        let lens = |l: &ListPart| l.chunks.iter().map(VecDeque::len).collect::<Vec<_>>();
        assert_eq!(lens(&l), [CHUNK, CHUNK, CHUNK]);

        let at = CHUNK + 11;
        let pos = pos_between(
            Some(&model[at - 1].0.pos),
            Some(&model[at].0.pos),
            ServerId(1),
        );
        model.insert(at, (id(pos, 10_000), elem(10_000)));
        l.put(model[at].0.clone(), elem(10_000), &none);
        assert_eq!(lens(&l), [CHUNK, CHUNK / 2 + 1, CHUNK / 2, CHUNK]);
        check_against(&l, &model);

        // The last chunk down to 31 elements: it joins the one of 64 before it.
        for _ in 0..CHUNK - CHUNK / 4 + 1 {
            let (gone, _) = model.remove(2 * CHUNK + 1);
            l.remove(&gone);
        }
        assert_eq!(lens(&l), [CHUNK, CHUNK / 2 + 1, CHUNK / 2 + CHUNK / 4 - 1]);
        check_against(&l, &model);
    }
}
