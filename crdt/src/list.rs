//! List: a sequence CRDT. Every element has a stable id, `(position, dot)`, where positions
//! are dense (another always fits between two) and carry their creator's server-id, so
//! concurrent inserts are all kept in one order every region agrees on. A pop removes the
//! element's id, so concurrent pops of one element remove it once. LSET is last-writer-wins
//! per element.

use crate::ids::{Dot, Stamp};
use crate::tomb::Tomb;
use crate::vv::VersionVector;
use std::cmp::Ordering;

mod chunk;
mod chunks;
mod entry;
mod pos;

use chunk::{Chunk, Room};
use chunks::Chunks;
pub use entry::Elem;
pub use pos::{ListId, Pos, pos_between};

/// Elements sorted by id, in chunks of at most about [`CHUNK_BYTES`], each its elements
/// packed as bytes (see [`chunk`]) with room at both ends: pushes and pops at either end
/// (where positions are made: see [`pos_between`]) write in place and never move the rest
/// of the list, an id is found by binary search over the chunks' first and last ids and then
/// a walk within one, and LINDEX and LRANGE walk the chunks from the nearer end (as Redis's
/// quicklist does). An insert or removal inside the list moves the bytes of one chunk.
#[derive(Clone, Debug, Default)]
pub struct ListPart {
    /// Never an empty chunk. They count the list's elements.
    chunks: Chunks,
}

/// Most bytes of entries in one chunk (one larger element has a chunk of its own): a few
/// hundred small elements, so a long list grows chunk by chunk instead of copying itself
/// into a buffer twice its size, and a walk inside one chunk stays short.
const CHUNK_BYTES: usize = 4096;

impl ListPart {
    pub fn is_live(&self) -> bool {
        !self.is_empty()
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.chunks.elements()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements in list order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(Walk::new(self))
    }

    /// The elements at indexes `start..end` (within the list), in list order.
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = Elem<'_>> {
        Iter(Walk::range(self, start, end))
    }

    /// Values in list order.
    pub fn values(&self) -> Values<'_> {
        Values(Walk::new(self))
    }

    /// The values at indexes `start..end` (within the list), in list order: LRANGE.
    pub fn value_range(&self, start: usize, end: usize) -> impl Iterator<Item = &[u8]> {
        Values(Walk::range(self, start, end))
    }

    /// The element at `index` (negative counts from the end), as LINDEX reads it.
    pub fn get(&self, index: i64) -> Option<Elem<'_>> {
        let n = self.len() as i64;
        let i = if index < 0 { n + index } else { index };
        if i < 0 || i >= n {
            return None;
        }
        let (c, at) = self.locate(i as usize);
        Some(self.chunks[c].decode(at).0)
    }

    pub fn first(&self) -> Option<Elem<'_>> {
        self.chunks.front().map(|c| c.first_elem())
    }

    pub fn last(&self) -> Option<Elem<'_>> {
        self.chunks.back().map(|c| c.last_elem())
    }

    /// The first element's id, without decoding it (a chunk keeps its ends' ids).
    pub fn first_id(&self) -> Option<&ListId> {
        self.chunks.front().map(|c| &c.first)
    }

    pub fn last_id(&self) -> Option<&ListId> {
        self.chunks.back().map(|c| &c.last)
    }

    pub fn max_stamp(&self) -> Option<Stamp> {
        self.iter().map(|e| e.stamp).max()
    }

    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.iter().map(|e| e.id.dot)
    }

    pub fn observe_into(&self, vv: &mut VersionVector) {
        for d in self.dots() {
            vv.add(d);
        }
    }

    /// The chunk and byte offset of the element at `index` (below `len`), counted from the
    /// nearer end: pops and LRANGE from the head stay at the first chunks.
    fn locate(&self, index: usize) -> (usize, usize) {
        let mut i = index;
        let len = self.len();
        if index < len / 2 {
            for (c, chunk) in self.chunks.iter().enumerate() {
                if i < chunk.count {
                    return (c, chunk.offset_of(i));
                }
                i -= chunk.count;
            }
        } else {
            let mut from_end = len - 1 - index;
            for (c, chunk) in self.chunks.iter().enumerate().rev() {
                if from_end < chunk.count {
                    return (c, chunk.offset_of(chunk.count - 1 - from_end));
                }
                from_end -= chunk.count;
            }
        }
        unreachable!("index {index} is below the list's length {len}")
    }

    /// Where `id` is (`Ok`: its entry's chunk, start and end) or would go (`Err`: a chunk
    /// and the offset to insert at); the ends are looked at first. An empty list answers
    /// `Err((0, 0))`.
    #[inline]
    fn find(&self, id: &ListId) -> Result<(usize, usize, usize), (usize, usize)> {
        let (Some(head), Some(tail)) = (self.chunks.front(), self.chunks.back()) else {
            return Err((0, 0));
        };
        let last = self.chunks.len() - 1;
        match id.cmp(&tail.last) {
            Ordering::Greater => return Err((last, tail.end())),
            Ordering::Equal => return Ok((last, tail.before(tail.end()), tail.end())),
            Ordering::Less => {}
        }
        match id.cmp(&head.first) {
            Ordering::Less => return Err((0, head.start())),
            Ordering::Equal => return Ok((0, head.start(), head.after(head.start()))),
            Ordering::Greater => {}
        }
        self.find_inside(id)
    }

    /// [`ListPart::find`] for an id between the list's first and last.
    #[inline(never)]
    fn find_inside(&self, id: &ListId) -> Result<(usize, usize, usize), (usize, usize)> {
        // The first chunk whose last id is not below `id` holds it, or is where it goes
        // (one exists: `id` is below the tail's last).
        let c = self.chunks.partition_point(|chunk| chunk.last < *id);
        let chunk = &self.chunks[c];
        let mut at = chunk.start();
        while at < chunk.end() {
            let (e, next) = chunk.decode(at);
            match e.id.cmp(id) {
                Ordering::Less => at = next,
                Ordering::Equal => return Ok((c, at, next)),
                Ordering::Greater => break,
            }
        }
        Err((c, at))
    }

    /// Insert an element, or, when it is already here, keep the later of the two values.
    #[inline]
    pub fn put(&mut self, id: ListId, stamp: Stamp, value: &[u8], tomb: &Tomb) {
        if tomb.kills(id.dot) {
            return;
        }
        match self.find(&id) {
            Ok((c, at, end)) => {
                let chunk = &mut self.chunks[c];
                if chunk.decode(at).0.stamp < stamp {
                    chunk.replace(at, end, &id, stamp, value);
                    // A larger value can take a chunk past its size: split it.
                    if chunk.used() > CHUNK_BYTES && chunk.count > 1 {
                        let tail = chunk.split();
                        self.chunks.insert(c + 1, tail);
                    }
                }
            }
            Err(at) => self.insert_at(at, id, stamp, value),
        }
    }

    /// Insert at offset `at` of chunk `c`. A full chunk passes the element to a neighbour
    /// with room when it goes at its edge, or else gets a new chunk beside it (at the
    /// list's ends, where pushes go) or is split in two (inside it).
    fn insert_at(&mut self, (c, at): (usize, usize), id: ListId, stamp: Stamp, value: &[u8]) {
        self.chunks.added(1);
        let n = self.chunks.len();
        let Some(chunk) = self.chunks.get_mut(c) else {
            // The first chunk: just its element's room, as most lists stay small (it
            // grows as elements come).
            self.chunks
                .push_back(Chunk::new(id, stamp, value, 0, Room::Both));
            return;
        };
        let e = chunk.encode(&id, stamp, value);
        if chunk.used() + e.size <= CHUNK_BYTES {
            return chunk.insert(at, id, &e, value);
        }
        let (at_start, at_end) = (at == chunk.start(), at == chunk.end());
        if at_start {
            if let Some(prev) = c.checked_sub(1).map(|p| &mut self.chunks[p]) {
                let e = prev.encode(&id, stamp, value);
                if prev.used() + e.size <= CHUNK_BYTES {
                    return prev.insert(prev.end(), id, &e, value);
                }
            }
            let new = Chunk::new(id, stamp, value, CHUNK_BYTES, Room::Front);
            self.chunks.insert(c, new);
        } else if at_end {
            if let Some(next) = self.chunks.get_mut(c + 1) {
                let e = next.encode(&id, stamp, value);
                if next.used() + e.size <= CHUNK_BYTES {
                    return next.insert(next.start(), id, &e, value);
                }
            }
            let new = Chunk::new(id, stamp, value, CHUNK_BYTES, Room::Back);
            if c + 1 == n {
                self.chunks.push_back(new);
            } else {
                self.chunks.insert(c + 1, new);
            }
        } else {
            let mut tail = chunk.split();
            if at <= chunk.end() {
                let e = chunk.encode(&id, stamp, value);
                chunk.insert(at, id, &e, value);
            } else {
                // `at` was an offset in the whole chunk; the tail's entries start at 0.
                let e = tail.encode(&id, stamp, value);
                tail.insert(at - chunk.end(), id, &e, value);
            }
            self.chunks.insert(c + 1, tail);
        }
    }

    /// The element with this id, if it is here.
    pub fn elem(&self, id: &ListId) -> Option<Elem<'_>> {
        let (c, at, _) = self.find(id).ok()?;
        Some(self.chunks[c].decode(at).0)
    }

    /// The stamps of the elements right before and right after the one with this id.
    pub fn neighbor_stamps(&self, id: &ListId) -> (Option<Stamp>, Option<Stamp>) {
        let (c, at, after) = match self.find(id) {
            Ok((c, at, end)) => (c, at, end),
            Err((c, at)) => (c, at, at),
        };
        let Some(chunk) = self.chunks.get(c) else {
            return (None, None);
        };
        let before = if at > chunk.start() {
            Some(chunk.decode(chunk.before(at)).0)
        } else {
            c.checked_sub(1).map(|p| self.chunks[p].last_elem())
        };
        let after = if after < chunk.end() {
            Some(chunk.decode(after).0)
        } else {
            self.chunks.get(c + 1).map(|c| c.first_elem())
        };
        (before.map(|e| e.stamp), after.map(|e| e.stamp))
    }

    #[inline]
    pub fn remove(&mut self, id: &ListId) {
        let Ok((c, at, end)) = self.find(id) else {
            return;
        };
        self.chunks.removed(1);
        let chunk = &mut self.chunks[c];
        chunk.remove(at, end);
        if chunk.count == 0 {
            self.chunks.remove(c);
            self.chunks.shrink_if_sparse();
        } else if chunk.used() < CHUNK_BYTES / 4 {
            self.merge_small(c);
        }
    }

    /// Remove the elements of many ids at once (LTRIM's, LREM's; ids not here are left
    /// out): each chunk they fall in is walked once and its kept entries copied once, where
    /// a removal each searched its chunk and moved its bytes, and a small chunk folded into
    /// its neighbour was then emptied entry by entry. Chunks left small are folded after.
    pub fn remove_all(&mut self, ids: &mut [&ListId]) {
        ids.sort_unstable();
        let mut rest: &[&ListId] = ids;
        let mut changed = false;
        for chunk in self.chunks.iter_mut() {
            // Ids below this chunk's first are in no chunk.
            rest = &rest[rest.partition_point(|id| **id < chunk.first)..];
            let (mine, after) = rest.split_at(rest.partition_point(|id| **id <= chunk.last));
            rest = after;
            if mine.is_empty() {
                continue;
            }
            let mut next = mine.iter().peekable();
            changed |= chunk.retain(|e| {
                while next.next_if(|id| ***id < e.id).is_some() {}
                next.next_if(|id| ***id == e.id).is_none()
            });
            if rest.is_empty() {
                break;
            }
        }
        if changed {
            self.settle_after_retain();
        }
    }

    /// After chunks kept only some of their entries (a prune, many removals at once): the
    /// emptied chunks dropped, the length counted again, the chunks left small folded into
    /// neighbours with room, the index's spare room given back.
    fn settle_after_retain(&mut self) {
        // Counts again, too.
        self.chunks.retain(|chunk| chunk.count > 0);
        let mut c = 0;
        while c < self.chunks.len() {
            let n = self.chunks.len();
            if n > 1 && self.chunks[c].used() < CHUNK_BYTES / 4 {
                self.merge_small(c);
                if self.chunks.len() < n {
                    // Folded: what is at `c` now is looked at again.
                    continue;
                }
            }
            c += 1;
        }
        self.chunks.shrink_if_sparse();
    }

    /// Fold a chunk that removals left small into a neighbour with room, so LREM and LTRIM
    /// do not leave a trail of near-empty chunks behind. Its entries are encoded again
    /// against the neighbour's base.
    #[inline(never)]
    fn merge_small(&mut self, c: usize) {
        let used = self.chunks[c].used();
        let fits = |n: &Chunk| n.used() + used <= CHUNK_BYTES;
        let into_prev = c > 0 && fits(&self.chunks[c - 1]);
        if !into_prev && !self.chunks.get(c + 1).is_some_and(fits) {
            return;
        }
        let Some(small) = self.chunks.remove(c) else {
            return;
        };
        if into_prev {
            let prev = &mut self.chunks[c - 1];
            let mut at = small.start();
            while at < small.end() {
                let (e, next) = small.decode(at);
                prev.push_back(e);
                at = next;
            }
        } else {
            // The next chunk is at `c` now; the small one's entries go before its first,
            // last to first.
            let next = &mut self.chunks[c];
            let mut end = small.end();
            while end > small.start() {
                let at = small.before(end);
                next.push_front(small.decode(at).0);
                end = at;
            }
        }
    }

    pub fn prune(&mut self, tomb: &Tomb) {
        let mut changed = false;
        for chunk in self.chunks.iter_mut() {
            changed |= chunk.retain(|e| !tomb.kills(e.id.dot));
        }
        if changed {
            self.settle_after_retain();
        }
    }

    pub fn merge(&mut self, other: &ListPart, tomb: &Tomb) {
        for e in other.iter() {
            self.put(e.id, e.stamp, e.value, tomb);
        }
    }
}

/// Where a walk over a list's entries is, from either end.
#[derive(Clone, Debug)]
struct Walk<'a> {
    chunks: &'a Chunks,
    /// The chunk and offset of the next entry from the front.
    front: (usize, usize),
    /// The chunk and offset just past the next entry from the back.
    back: (usize, usize),
    /// The chunks at `front` and `back`, found once per chunk, not per entry (`None`: the
    /// list is empty).
    front_chunk: Option<&'a Chunk>,
    back_chunk: Option<&'a Chunk>,
    left: usize,
}

impl<'a> Walk<'a> {
    fn new(l: &'a ListPart) -> Self {
        let (first, last) = (l.chunks.front(), l.chunks.back());
        Walk {
            chunks: &l.chunks,
            front: (0, first.map_or(0, |c| c.start())),
            back: (
                l.chunks.len().saturating_sub(1),
                last.map_or(0, |c| c.end()),
            ),
            front_chunk: first,
            back_chunk: last,
            left: l.len(),
        }
    }

    /// From index `start` to `end`, forwards only (its back is the list's end).
    fn range(l: &'a ListPart, start: usize, end: usize) -> Self {
        let end = end.min(l.len());
        let mut w = Walk::new(l);
        if start < end {
            w.front = l.locate(start);
            w.front_chunk = l.chunks.get(w.front.0);
            w.left = end - start;
        } else {
            w.left = 0;
        }
        w
    }

    /// The next entry from the front, read by `read` (which says where the entry ends).
    #[inline(always)]
    fn next<T>(&mut self, read: impl FnOnce(&'a Chunk, usize) -> (T, usize)) -> Option<T> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (mut c, mut at) = self.front;
        let mut chunk = self.front_chunk?;
        if at == chunk.end() {
            c += 1;
            chunk = &self.chunks[c];
            at = chunk.start();
            self.front_chunk = Some(chunk);
        }
        let (t, next) = read(chunk, at);
        self.front = (c, next);
        Some(t)
    }

    #[inline(always)]
    fn next_back<T>(&mut self, read: impl FnOnce(&'a Chunk, usize) -> (T, usize)) -> Option<T> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (mut c, mut end) = self.back;
        let mut chunk = self.back_chunk?;
        if end == chunk.start() {
            c -= 1;
            chunk = &self.chunks[c];
            end = chunk.end();
            self.back_chunk = Some(chunk);
        }
        let at = chunk.before(end);
        self.back = (c, at);
        Some(read(chunk, at).0)
    }
}

/// A list's elements in order, from either end.
#[derive(Clone, Debug)]
pub struct Iter<'a>(Walk<'a>);

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;

    #[inline]
    fn next(&mut self) -> Option<Elem<'a>> {
        self.0.next(|c, at| c.decode(at))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.0.left, Some(self.0.left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back(|c, at| c.decode(at))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// A list's values in order, from either end: what LRANGE and the searches by value read,
/// without decoding ids.
#[derive(Clone, Debug)]
pub struct Values<'a>(Walk<'a>);

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        self.0.next(|c, at| c.value(at))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.0.left, Some(self.0.left))
    }
}

impl DoubleEndedIterator for Values<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back(|c, at| c.value(at))
    }
}

impl ExactSizeIterator for Values<'_> {}

/// A list of `n` elements of `value`, each appended by server 1 in a write of its own.
#[cfg(test)]
pub(crate) fn appended(n: u64, value: &[u8]) -> ListPart {
    use crate::ids::ServerId;
    let mut l = ListPart::default();
    for i in 0..n {
        let pos = pos_between(l.last_id().map(|id| &id.pos), None, ServerId(1));
        let id = ListId {
            pos,
            dot: Dot::new(ServerId(1), crate::ids::OpId(i + 1), 0),
        };
        let stamp = Stamp {
            hlc: crate::hlc::Hlc((1 << 40) + i * 3),
            server: ServerId(1),
        };
        l.put(id, stamp, value, &Tomb::default());
    }
    l
}

/// Lists compare by their elements, however they are chunked.
impl PartialEq for ListPart {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl crate::heap::HeapSize for ListPart {
    fn heap_bytes(&self) -> usize {
        self.chunks.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ServerId;

    fn id(pos: Pos, n: u64) -> ListId {
        let dot = Dot {
            server: ServerId(1),
            // Op 0 is no write's (a tomb counts it removed).
            op: crate::ids::OpId(n + 1),
            idx: 0,
        };
        ListId { pos, dot }
    }

    type Model = Vec<(ListId, Stamp, Vec<u8>)>;

    fn elem(pos: Pos, n: u64) -> (ListId, Stamp, Vec<u8>) {
        let stamp = Stamp {
            hlc: crate::hlc::Hlc(1 << 40 | n),
            server: ServerId(1),
        };
        (id(pos, n), stamp, n.to_string().into_bytes())
    }

    fn put(l: &mut ListPart, (id, stamp, value): &(ListId, Stamp, Vec<u8>)) {
        l.put(id.clone(), *stamp, value, &Tomb::default());
    }

    fn read(e: Elem<'_>) -> (ListId, Stamp, Vec<u8>) {
        (e.id, e.stamp, e.value.to_vec())
    }

    /// Every read of a chunked list against a plain vector of the same elements, and the
    /// chunks' own rules: none empty, none over `CHUNK_BYTES` (a merge's entries, encoded
    /// again against another base, can take a few bytes more), their counts and end ids
    /// true.
    fn check_against(l: &ListPart, model: &Model) {
        assert_eq!(l.len(), model.len());
        for c in &l.chunks {
            assert!(c.count > 0 && c.used() <= CHUNK_BYTES + 16);
            let mut at = c.start();
            let mut ids = vec![];
            while at < c.end() {
                let (e, next) = c.decode(at);
                ids.push(e.id);
                at = next;
            }
            assert_eq!(ids.len(), c.count);
            assert_eq!((ids.first(), ids.last()), (Some(&c.first), Some(&c.last)));
        }
        assert!(l.iter().map(read).eq(model.iter().cloned()));
        assert!(l.iter().rev().map(read).eq(model.iter().rev().cloned()));
        let values = || model.iter().map(|m| &m.2[..]);
        assert!(l.values().eq(values()));
        assert!(l.values().rev().eq(values().rev()));
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
            assert_eq!(l.get(i as i64).map(read).as_ref(), model.get(i));
            // Counted from the end: -n is the first element, -(n + 1) is none.
            let from_end = if i < n {
                i as i64 - n as i64
            } else {
                -(n as i64) - 1
            };
            assert_eq!(l.get(from_end).map(read).as_ref(), model.get(i));
            let end = (i + 150).min(n);
            assert!(
                l.range(i, end)
                    .map(read)
                    .eq(model[i.min(n)..end].iter().cloned())
            );
            assert!(
                l.value_range(i, end)
                    .eq(values().skip(i).take(end.saturating_sub(i)))
            );
            if let Some(m) = model.get(i) {
                assert_eq!(l.elem(&m.0).map(read).as_ref(), Some(m));
                let before = i.checked_sub(1).map(|b| model[b].1);
                assert_eq!(
                    l.neighbor_stamps(&m.0),
                    (before, model.get(i + 1).map(|m| m.1))
                );
            }
        }
        assert_eq!(l.first().map(read).as_ref(), model.first());
        assert_eq!(l.last().map(read).as_ref(), model.last());
        assert_eq!(l.first_id(), model.first().map(|m| &m.0));
        assert_eq!(l.last_id(), model.last().map(|m| &m.0));
    }

    /// Many ids removed together leave what removing each leaves: a trim's long run at the
    /// end, a scattered third, ids repeated, ids of no element, and all of them; chunks
    /// left small are folded into their neighbours.
    #[test]
    fn removing_many_ids_together_is_removing_each() {
        let l = appended(3000, b"vv");
        let all: Vec<ListId> = l.iter().map(|e| e.id).collect();
        let absent = |n: u64| ListId {
            pos: Pos(smallvec::smallvec![n << 32 | 9]),
            dot: Dot::new(ServerId(9), crate::ids::OpId(n), 0),
        };
        let cases: Vec<Vec<ListId>> = vec![
            all[10..].to_vec(),
            all.iter().step_by(3).cloned().collect(),
            all[100..400]
                .iter()
                .chain(&all[100..120])
                .rev()
                .cloned()
                .collect(),
            (0..50)
                .map(absent)
                .chain(all[2990..].iter().cloned())
                .collect(),
            all.clone(),
        ];
        for ids in cases {
            let mut each = l.clone();
            for id in &ids {
                each.remove(id);
            }
            let mut together = l.clone();
            together.remove_all(&mut ids.iter().collect::<Vec<_>>());
            let model: Model = each.iter().map(read).collect();
            assert!(model.len() < l.len());
            check_against(&together, &model);
            let small = together
                .chunks
                .iter()
                .filter(|c| c.used() < CHUNK_BYTES / 4);
            assert!(small.count() <= 1, "{} chunks", together.chunks.len());
        }
    }

    #[test]
    fn chunked_list_reads_as_one_sorted_sequence() {
        let mut l = ListPart::default();
        let mut model: Model = Vec::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound.max(1) as u64) as usize
        };
        for n in 0..6000u64 {
            // Mostly pushes at both ends (the chunks' fast path), some inserts inside (which
            // split full chunks), some values replaced (LSET), and removals anywhere (which
            // merge small chunks).
            match next(11) {
                0..=2 => {
                    let pos = pos_between(model.last().map(|m| &m.0.pos), None, ServerId(1));
                    model.push(elem(pos, n));
                    put(&mut l, &model[model.len() - 1]);
                }
                3..=4 => {
                    let pos = pos_between(None, model.first().map(|m| &m.0.pos), ServerId(1));
                    model.insert(0, elem(pos, n));
                    put(&mut l, &model[0]);
                }
                5..=6 => {
                    let at = next(model.len() + 1);
                    let lo = at.checked_sub(1).map(|i| &model[i].0.pos);
                    let pos = pos_between(lo, model.get(at).map(|m| &m.0.pos), ServerId(1));
                    model.insert(at, elem(pos, n));
                    put(&mut l, &model[at]);
                }
                7 if !model.is_empty() => {
                    // A later stamp replaces the value, an earlier one does not.
                    let at = next(model.len());
                    let (id, stamp, _) = model[at].clone();
                    let later = Stamp {
                        hlc: crate::hlc::Hlc(stamp.hlc.0 + 10_000),
                        server: ServerId(2),
                    };
                    let value = vec![b'v'; next(40)];
                    l.put(id.clone(), later, &value, &Tomb::default());
                    l.put(id.clone(), stamp, b"earlier", &Tomb::default());
                    model[at] = (id, later, value);
                }
                _ if !model.is_empty() => {
                    let (gone, ..) = model.remove(next(model.len()));
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
        for m in model.iter().rev() {
            put(&mut other, m);
            put(&mut other, m);
        }
        assert_eq!(other, l);
        while let Some(first) = l.first_id() {
            let first = first.clone();
            l.remove(&first);
        }
        check_against(&l, &vec![]);
        assert!(l.chunks.is_empty());
    }

    /// An insert inside a full chunk splits it in two; a chunk that removals leave below a
    /// quarter full folds into a neighbour with room.
    #[test]
    fn inserts_split_full_chunks_and_removals_merge_small_ones() {
        let mut l = ListPart::default();
        let mut model: Model = Vec::new();
        let mut n = 0;
        while l.chunks.len() < 4 {
            let pos = pos_between(model.last().map(|m| &m.0.pos), None, ServerId(1));
            model.push(elem(pos, n));
            put(&mut l, &model[n as usize]);
            n += 1;
        }
        // Pushes at the end fill each chunk before starting the next.
        let counts = |l: &ListPart| l.chunks.iter().map(|c| c.count).collect::<Vec<_>>();
        let full = counts(&l)[1];
        assert!(l.chunks.iter().take(3).all(|c| c.used() > CHUNK_BYTES - 16));
        check_against(&l, &model);

        let at = counts(&l)[0] + 11;
        let pos = pos_between(
            Some(&model[at - 1].0.pos),
            Some(&model[at].0.pos),
            ServerId(1),
        );
        model.insert(at, elem(pos, 100_000));
        put(&mut l, &model[at]);
        assert_eq!(counts(&l)[1..3], [full / 2 + 1, full - full / 2]);
        check_against(&l, &model);

        // The split's second half down below a quarter full: it joins the first half.
        let before = counts(&l);
        let start = before[0] + before[1];
        let mut removed = 0;
        while l.chunks.len() == before.len() {
            let (gone, ..) = model.remove(start);
            l.remove(&gone);
            removed += 1;
        }
        assert!(l.chunks[1].used() > CHUNK_BYTES / 2);
        assert!(
            removed >= before[2] / 2 && removed < before[2],
            "{before:?} {removed}"
        );
        let mut joined = vec![before[0], before[1] + before[2] - removed];
        joined.extend(&before[3..]);
        assert_eq!(counts(&l), joined);
        check_against(&l, &model);
    }

    /// A prune drops exactly the elements whose dots the tomb kills, wherever they are,
    /// and changes nothing when it kills none.
    #[test]
    fn prune_drops_the_killed_elements_only() {
        let mut l = ListPart::default();
        let mut model: Model = Vec::new();
        for n in 0..3000u64 {
            // Pushes at both ends in turn: the killed (older) elements sit in the middle
            // chunks, beside the kept ones at both ends.
            if n % 2 == 0 {
                let pos = pos_between(model.last().map(|m| &m.0.pos), None, ServerId(1));
                model.push(elem(pos, n));
                put(&mut l, &model[model.len() - 1]);
            } else {
                let pos = pos_between(None, model.first().map(|m| &m.0.pos), ServerId(1));
                model.insert(0, elem(pos, n));
                put(&mut l, &model[0]);
            }
        }
        assert!(l.chunks.len() > 4);
        l.prune(&Tomb::default());
        check_against(&l, &model);
        let mut cutoff = VersionVector::new();
        cutoff.raise(ServerId(1), crate::ids::OpId(2000));
        l.prune(&Tomb {
            cutoff,
            ..Tomb::default()
        });
        model.retain(|(id, ..)| id.dot.op.0 > 2000);
        assert_eq!(model.len(), 1000);
        check_against(&l, &model);
        // The chunks the prune left small were folded into their neighbours.
        let small = l.chunks.iter().filter(|c| c.used() < CHUNK_BYTES / 4);
        assert!(small.count() <= 1, "{} chunks", l.chunks.len());
    }

    /// A long list's chunks are packed: a small element takes a few bytes in all.
    #[test]
    fn a_long_list_takes_a_few_bytes_per_element() {
        use crate::heap::HeapSize;
        let l = appended(100_000, b"xxx");
        let per = l.heap_bytes() as f64 / 100_000.0;
        assert!(per < 16.0, "{per} bytes per element");
    }
}
