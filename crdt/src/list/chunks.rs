//! A list's chunks, in order. Most lists are small: their one chunk is held inline, so a
//! list of a few elements allocates its part and its entries' buffer and nothing else
//! (a one-element list took 56 bytes more with a deque and a box for its one chunk).

use super::chunk::Chunk;
use std::collections::VecDeque;
use std::ops::{Index, IndexMut};

#[derive(Clone, Debug)]
pub(super) enum Chunks {
    /// One chunk: the list's elements are its count.
    One(Chunk),
    /// No chunk, or two and more, and the count of the elements in them all.
    Many {
        /// Boxed: the index of a long list stays small (8 bytes a chunk, not a chunk's
        /// own fields), so growing it, or making room in it for a split, copies little.
        /// Unboxed, the index of a list of 2.5M small elements grew from 8,192 chunks to
        /// 16,384 in one push that took 0.4 ms.
        chunks: VecDeque<Box<Chunk>>,
        elements: usize,
    },
}

impl Default for Chunks {
    fn default() -> Self {
        Chunks::Many {
            chunks: VecDeque::new(),
            elements: 0,
        }
    }
}

impl Chunks {
    /// The number of chunks.
    #[inline]
    pub(super) fn len(&self) -> usize {
        match self {
            Chunks::One(_) => 1,
            Chunks::Many { chunks, .. } => chunks.len(),
        }
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of elements in all the chunks.
    #[inline]
    pub(super) fn elements(&self) -> usize {
        match self {
            Chunks::One(c) => c.count,
            Chunks::Many { elements, .. } => *elements,
        }
    }

    /// `n` elements were added to the chunks, or are about to be: a single chunk counts
    /// its own, and several chunks made from one count theirs when they are made.
    #[inline]
    pub(super) fn added(&mut self, n: usize) {
        if let Chunks::Many { elements, .. } = self {
            *elements += n;
        }
    }

    /// `n` elements were taken from the chunks, or are about to be.
    #[inline]
    pub(super) fn removed(&mut self, n: usize) {
        if let Chunks::Many { elements, .. } = self {
            *elements -= n;
        }
    }

    /// Count the elements again, after chunks changed their own counts.
    pub(super) fn recount(&mut self) {
        if let Chunks::Many { chunks, elements } = self {
            *elements = chunks.iter().map(|c| c.count).sum();
        }
    }

    #[inline]
    pub(super) fn get(&self, i: usize) -> Option<&Chunk> {
        match self {
            Chunks::One(c) => (i == 0).then_some(c),
            Chunks::Many { chunks, .. } => chunks.get(i).map(|c| &**c),
        }
    }

    #[inline]
    pub(super) fn get_mut(&mut self, i: usize) -> Option<&mut Chunk> {
        match self {
            Chunks::One(c) => (i == 0).then_some(c),
            Chunks::Many { chunks, .. } => chunks.get_mut(i).map(|c| &mut **c),
        }
    }

    #[inline]
    pub(super) fn front(&self) -> Option<&Chunk> {
        self.get(0)
    }

    #[inline]
    pub(super) fn back(&self) -> Option<&Chunk> {
        match self {
            Chunks::One(c) => Some(c),
            Chunks::Many { chunks, .. } => chunks.back().map(|c| &**c),
        }
    }

    pub(super) fn iter(&self) -> Iter<'_> {
        match self {
            Chunks::One(c) => Iter::One(Some(c)),
            Chunks::Many { chunks, .. } => Iter::Many(chunks.iter()),
        }
    }

    pub(super) fn iter_mut(&mut self) -> IterMut<'_> {
        match self {
            Chunks::One(c) => IterMut::One(Some(c)),
            Chunks::Many { chunks, .. } => IterMut::Many(chunks.iter_mut()),
        }
    }

    /// The first chunk for which `below` is false (all those it is true for come first).
    pub(super) fn partition_point(&self, mut below: impl FnMut(&Chunk) -> bool) -> usize {
        match self {
            Chunks::One(c) => usize::from(below(c)),
            Chunks::Many { chunks, .. } => chunks.partition_point(|c| below(c)),
        }
    }

    /// Put `chunk` at index `i` (at most the number of chunks).
    pub(super) fn insert(&mut self, i: usize, chunk: Chunk) {
        match self {
            Chunks::Many { chunks, .. } if chunks.is_empty() => *self = Chunks::One(chunk),
            Chunks::Many { chunks, .. } => chunks.insert(i, Box::new(chunk)),
            Chunks::One(_) => {
                let Chunks::One(one) = std::mem::take(self) else {
                    unreachable!()
                };
                let elements = one.count + chunk.count;
                // A list's second chunk: its index makes room for a few more.
                let mut chunks = VecDeque::with_capacity(4);
                chunks.push_back(Box::new(one));
                chunks.insert(i, Box::new(chunk));
                *self = Chunks::Many { chunks, elements };
            }
        }
    }

    pub(super) fn push_back(&mut self, chunk: Chunk) {
        self.insert(self.len(), chunk);
    }

    /// Take the chunk at index `i` out. A list left with one chunk holds it inline again;
    /// its elements' count does not change (the caller moves the taken chunk's elements,
    /// or it had none).
    pub(super) fn remove(&mut self, i: usize) -> Option<Chunk> {
        match self {
            Chunks::One(_) if i == 0 => match std::mem::take(self) {
                Chunks::One(c) => Some(c),
                Chunks::Many { .. } => unreachable!(),
            },
            Chunks::One(_) => None,
            Chunks::Many { chunks, .. } => {
                let taken = chunks.remove(i).map(|c| *c);
                self.one_if_single();
                taken
            }
        }
    }

    /// Keep the chunks `keep` is true for (and count the elements again).
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&Chunk) -> bool) {
        match self {
            Chunks::One(c) => {
                if !keep(c) {
                    *self = Chunks::default();
                }
            }
            Chunks::Many { chunks, .. } => {
                chunks.retain(|c| keep(c));
                self.recount();
                self.one_if_single();
            }
        }
    }

    /// Two chunks and more stay boxed; one goes inline.
    fn one_if_single(&mut self) {
        if let Chunks::Many { chunks, .. } = self
            && chunks.len() == 1
            && let Some(c) = chunks.pop_front()
        {
            *self = Chunks::One(*c);
        }
    }

    /// Give the chunk index's memory back once three quarters of it is unused.
    pub(super) fn shrink_if_sparse(&mut self) {
        if let Chunks::Many { chunks, .. } = self {
            let n = chunks.len();
            if chunks.capacity() > 64 && n * 4 < chunks.capacity() {
                chunks.shrink_to(n * 2);
            }
        }
    }

    /// The bytes the chunks hold beyond the list part's own: the index and the boxes of
    /// several chunks, and each chunk's buffer and its end ids' digits.
    pub(super) fn heap_bytes(&self) -> usize {
        use crate::heap::HeapSize;
        let index = match self {
            Chunks::One(_) => 0,
            Chunks::Many { chunks, .. } => {
                chunks.capacity() * size_of::<Box<Chunk>>() + chunks.len() * size_of::<Chunk>()
            }
        };
        index
            + self
                .iter()
                .map(|c| c.capacity() + c.first.heap_bytes() + c.last.heap_bytes())
                .sum::<usize>()
    }
}

impl Index<usize> for Chunks {
    type Output = Chunk;

    #[inline]
    fn index(&self, i: usize) -> &Chunk {
        match self {
            Chunks::One(c) if i == 0 => c,
            Chunks::One(_) => panic!("chunk {i} of a list of one chunk"),
            Chunks::Many { chunks, .. } => &chunks[i],
        }
    }
}

impl IndexMut<usize> for Chunks {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut Chunk {
        match self {
            Chunks::One(c) if i == 0 => c,
            Chunks::One(_) => panic!("chunk {i} of a list of one chunk"),
            Chunks::Many { chunks, .. } => &mut chunks[i],
        }
    }
}

impl<'a> IntoIterator for &'a Chunks {
    type Item = &'a Chunk;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The chunks in order, from either end.
pub(super) enum Iter<'a> {
    One(Option<&'a Chunk>),
    Many(std::collections::vec_deque::Iter<'a, Box<Chunk>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Chunk;

    #[inline]
    fn next(&mut self) -> Option<&'a Chunk> {
        match self {
            Iter::One(c) => c.take(),
            Iter::Many(i) => i.next().map(|c| &**c),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::One(c) => (usize::from(c.is_some()), Some(usize::from(c.is_some()))),
            Iter::Many(i) => i.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::One(c) => c.take(),
            Iter::Many(i) => i.next_back().map(|c| &**c),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

pub(super) enum IterMut<'a> {
    One(Option<&'a mut Chunk>),
    Many(std::collections::vec_deque::IterMut<'a, Box<Chunk>>),
}

impl<'a> Iterator for IterMut<'a> {
    type Item = &'a mut Chunk;

    #[inline]
    fn next(&mut self) -> Option<&'a mut Chunk> {
        match self {
            IterMut::One(c) => c.take(),
            IterMut::Many(i) => i.next().map(|c| &mut **c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ListPart, appended};
    use super::*;

    /// The layout this module is for: one chunk inline takes no more than a chunk.
    #[test]
    fn a_single_chunk_is_held_in_the_room_of_one() {
        assert_eq!(size_of::<Chunks>(), size_of::<Chunk>());
        assert_eq!(size_of::<ListPart>(), size_of::<Chunk>());
    }

    /// A list grows from one chunk inline to several boxed and shrinks back, its count
    /// of elements true all along.
    #[test]
    fn one_chunk_inline_then_many_then_one_again() {
        let mut l = appended(1, b"v");
        assert!(matches!(l.chunks, Chunks::One(_)));
        let many = appended(2000, b"a value of some length");
        assert!(many.chunks.len() > 2);
        assert!(matches!(many.chunks, Chunks::Many { .. }));
        assert_eq!(many.len(), 2000);
        let ids: Vec<_> = many.iter().map(|e| e.id).collect();
        let mut shrinking = many.clone();
        for id in &ids[..1990] {
            shrinking.remove(id);
        }
        assert_eq!(shrinking.len(), 10);
        assert!(matches!(shrinking.chunks, Chunks::One(_)));
        for id in &ids[1990..] {
            shrinking.remove(id);
        }
        assert_eq!((shrinking.len(), shrinking.chunks.len()), (0, 0));
        l.remove(&l.first_id().cloned().expect("one element"));
        assert_eq!((l.len(), l.chunks.len()), (0, 0));
    }
}
