//! One chunk of a list: its elements' entries (see [`super::entry`]) in a buffer with room
//! at both ends.

use super::ListId;
use super::entry::{Base, Elem, Encoded, decode, encode, entry_start, value_at, write_entry};
use crate::ids::Stamp;

/// Elements packed in a buffer with room kept at both ends, so a push at either end
/// writes in place.
#[derive(Clone, Debug)]
pub(super) struct Chunk {
    buf: Box<[u8]>,
    /// The entries are `buf[start..end]`.
    start: usize,
    end: usize,
    pub(super) count: usize,
    pub(super) base: Base,
    /// The first and last elements' ids, decoded: pushes, pops and the search across
    /// chunks compare with them.
    pub(super) first: ListId,
    pub(super) last: ListId,
}

/// Which end of a new buffer gets its room.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Room {
    Front,
    Back,
    Both,
}

impl Chunk {
    /// A chunk of one element, with room for `cap` bytes in all.
    pub(super) fn new(id: ListId, stamp: Stamp, value: &[u8], cap: usize, room: Room) -> Chunk {
        let base = Base::of(&id, stamp);
        let e = encode(&base, &id, stamp, value.len());
        let size = e.size;
        let cap = cap.max(size);
        let start = match room {
            Room::Front => cap - size,
            Room::Back => 0,
            Room::Both => (cap - size) / 2,
        };
        let mut buf = vec![0; cap].into_boxed_slice();
        write_entry(&mut buf[start..start + size], &e, &id, value);
        Chunk {
            buf,
            start,
            end: start + size,
            count: 1,
            base,
            first: id.clone(),
            last: id,
        }
    }

    /// A chunk holding `bytes`: `count` (at least one) whole entries encoded against
    /// `base`, with room for `cap` bytes in all.
    pub(super) fn from_entries(bytes: &[u8], count: usize, base: Base, cap: usize) -> Chunk {
        let cap = cap.max(bytes.len());
        let mut buf = vec![0; cap].into_boxed_slice();
        buf[..bytes.len()].copy_from_slice(bytes);
        let first = decode(&buf, 0, &base).0.id;
        let last = decode(&buf, entry_start(&buf, bytes.len()), &base).0.id;
        Chunk {
            buf,
            start: 0,
            end: bytes.len(),
            count,
            base,
            first,
            last,
        }
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(super) fn start(&self) -> usize {
        self.start
    }

    pub(super) fn end(&self) -> usize {
        self.end
    }

    pub(super) fn used(&self) -> usize {
        self.end - self.start
    }

    pub(super) fn capacity(&self) -> usize {
        self.buf.len()
    }

    #[inline]
    pub(super) fn decode(&self, at: usize) -> (Elem<'_>, usize) {
        decode(&self.buf, at, &self.base)
    }

    /// Where the entry ending at `end` starts.
    #[inline]
    pub(super) fn before(&self, end: usize) -> usize {
        entry_start(&self.buf, end)
    }

    /// Where the entry starting at `at` ends.
    #[inline]
    pub(super) fn after(&self, at: usize) -> usize {
        value_at(&self.buf, at).2
    }

    /// The value of the entry starting at `at`, and where the entry ends.
    #[inline]
    pub(super) fn value(&self, at: usize) -> (&[u8], usize) {
        let (value, _, next) = value_at(&self.buf, at);
        (value, next)
    }

    pub(super) fn first_elem(&self) -> Elem<'_> {
        self.decode(self.start).0
    }

    pub(super) fn last_elem(&self) -> Elem<'_> {
        self.decode(self.before(self.end)).0
    }

    /// The offset of the `i`th entry (below `count`), walked to from the nearer end.
    pub(super) fn offset_of(&self, i: usize) -> usize {
        if i < self.count / 2 {
            (0..i).fold(self.start, |at, _| self.after(at))
        } else {
            (i..self.count).fold(self.end, |end, _| self.before(end))
        }
    }

    /// This element's entry in this chunk.
    pub(super) fn encode(&self, id: &ListId, stamp: Stamp, value: &[u8]) -> Encoded {
        encode(&self.base, id, stamp, value.len())
    }

    /// Insert an element whose entry is `e` (from [`Chunk::encode`]) at offset
    /// `at`, an entry's start or the end.
    pub(super) fn insert(&mut self, at: usize, id: ListId, e: &Encoded, value: &[u8]) {
        let (at_start, at_end) = (at == self.start, at == self.end);
        let gap = self.open(at, e.size);
        write_entry(&mut self.buf[gap..gap + e.size], e, &id, value);
        self.count += 1;
        match (at_start, at_end) {
            (true, false) => self.first = id,
            (false, true) => self.last = id,
            (true, true) => unreachable!("a chunk is never empty"),
            (false, false) => {}
        }
    }

    /// Append an element at the end, encoded against this chunk's base.
    pub(super) fn push_back(&mut self, e: Elem<'_>) {
        let encoded = self.encode(&e.id, e.stamp, e.value);
        self.insert(self.end, e.id, &encoded, e.value);
    }

    /// Put an element before the first, encoded against this chunk's base.
    pub(super) fn push_front(&mut self, e: Elem<'_>) {
        let encoded = self.encode(&e.id, e.stamp, e.value);
        self.insert(self.start, e.id, &encoded, e.value);
    }

    /// Make `n` bytes of room at offset `at` (an entry's start or the end), in place when
    /// the room is there, else by placing the entries again; where the room starts.
    fn open(&mut self, at: usize, n: usize) -> usize {
        let (front, back) = (self.start, self.buf.len() - self.end);
        if at == self.end && back >= n {
            self.end += n;
            return at;
        }
        if at == self.start && front >= n {
            self.start -= n;
            return self.start;
        }
        if at != self.start && at != self.end {
            // Inside: move the bytes on the side with room, the fewer if both have it.
            if back >= n && (front < n || self.end - at <= at - self.start) {
                self.buf.copy_within(at..self.end, at + n);
                self.end += n;
                return at;
            }
            if front >= n {
                self.buf.copy_within(self.start..at, self.start - n);
                self.start -= n;
                return at - n;
            }
        }
        self.replace_buffer(at, n)
    }

    /// Place the entries in a buffer with `n` bytes of room at `at` and more around them:
    /// the same size while it is half again what they need, else twice what they need.
    /// Most of the new room goes to the end that ran out, so pushes at one end (or a queue's
    /// pushes at one end and pops at the other) copy the entries once per many pushes.
    fn replace_buffer(&mut self, at: usize, n: usize) -> usize {
        let used = self.used() + n;
        let cap = if self.buf.len() >= used + used / 2 {
            self.buf.len()
        } else {
            (2 * used).clamp(64, super::CHUNK_BYTES.max(used))
        };
        let free = cap - used;
        let room = if at == self.start {
            free - free / 4
        } else if at == self.end {
            free / 4
        } else {
            free / 2
        };
        let mut buf = vec![0; cap].into_boxed_slice();
        let before = at - self.start;
        buf[room..room + before].copy_from_slice(&self.buf[self.start..at]);
        let after = self.end - at;
        buf[room + before + n..room + before + n + after].copy_from_slice(&self.buf[at..self.end]);
        self.buf = buf;
        self.start = room;
        self.end = room + used;
        room + before
    }

    /// Remove the entry at `at..end`. The caller drops the chunk when it is left empty.
    pub(super) fn remove(&mut self, at: usize, end: usize) {
        let (was_first, was_last) = (at == self.start, end == self.end);
        let n = end - at;
        if at - self.start <= self.end - end {
            self.buf.copy_within(self.start..at, self.start + n);
            self.start += n;
        } else {
            self.buf.copy_within(end..self.end, at);
            self.end -= n;
        }
        self.count -= 1;
        if self.count == 0 {
            return;
        }
        if was_first {
            self.first = self.first_elem().id;
        }
        if was_last {
            self.last = self.last_elem().id;
        }
        if self.capacity() > 256 && self.used() * 4 < self.capacity() {
            self.shrink();
        }
    }

    /// Give back a buffer three quarters unused, keeping room at both ends.
    fn shrink(&mut self) {
        let used = self.used();
        let cap = 2 * used;
        let room = (cap - used) / 2;
        let mut buf = vec![0; cap].into_boxed_slice();
        buf[room..room + used].copy_from_slice(self.bytes());
        self.buf = buf;
        self.start = room;
        self.end = room + used;
    }

    /// Split off the entries from the middle one on, into a chunk of its own (of a chunk
    /// of at least two entries).
    pub(super) fn split(&mut self) -> Chunk {
        let keep = self.count / 2;
        let mid = self.offset_of(keep);
        let tail = Chunk::from_entries(
            &self.buf[mid..self.end],
            self.count - keep,
            self.base,
            super::CHUNK_BYTES,
        );
        self.end = mid;
        self.count = keep;
        self.last = self.last_elem().id;
        tail
    }

    /// Keep only the entries `keep` accepts; `false` when none was removed. The kept
    /// entries are copied out only from the first removal on.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&Elem<'_>) -> bool) -> bool {
        let mut kept: Option<Vec<u8>> = None;
        let mut count = 0;
        let mut at = self.start;
        while at < self.end {
            let (e, next) = self.decode(at);
            if keep(&e) {
                if let Some(kept) = &mut kept {
                    kept.extend_from_slice(&self.buf[at..next]);
                }
                count += 1;
            } else if kept.is_none() {
                kept = Some(self.buf[self.start..at].to_vec());
            }
            at = next;
        }
        let Some(kept) = kept else {
            return false;
        };
        self.count = count;
        if count > 0 {
            *self = Chunk::from_entries(&kept, count, self.base, kept.len());
        }
        true
    }

    /// Replace the value and stamp of the element at `at..end` (LSET), in place.
    pub(super) fn replace(
        &mut self,
        at: usize,
        end: usize,
        id: &ListId,
        stamp: Stamp,
        value: &[u8],
    ) {
        let e = self.encode(id, stamp, value);
        if e.size == end - at {
            write_entry(&mut self.buf[at..end], &e, id, value);
            return;
        }
        let mut entries = Vec::with_capacity(self.used() - (end - at) + e.size);
        entries.extend_from_slice(&self.buf[self.start..at]);
        let mut entry = vec![0; e.size];
        write_entry(&mut entry, &e, id, value);
        entries.extend_from_slice(&entry);
        entries.extend_from_slice(&self.buf[end..self.end]);
        let cap = entries.len() + entries.len() / 4;
        *self = Chunk::from_entries(&entries, self.count, self.base, cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;
    use crate::ids::{Dot, OpId, ServerId};
    use crate::list::Pos;
    use crate::list::entry::COMPACT;
    use smallvec::SmallVec;

    fn id(choice: u64, maker: u32, server: u32, op: u64, idx: u32) -> ListId {
        ListId {
            pos: Pos(smallvec::smallvec![choice << 32 | u64::from(maker)]),
            dot: Dot {
                server: ServerId(server),
                op: OpId(op),
                idx,
            },
        }
    }

    /// Every flag's case decodes to what was encoded, and entries read backwards too.
    #[test]
    fn entries_decode_to_what_was_encoded() {
        let (bc, bo) = (1 << 20, 1 << 30);
        let base_id = id(bc, 1, 1, bo, 0);
        let stamp = Stamp {
            hlc: Hlc(1 << 40),
            server: ServerId(1),
        };
        let mut c = Chunk::new(base_id.clone(), stamp, b"v", 0, Room::Both);
        let deep = ListId {
            pos: Pos(SmallVec::from_slice(&[5 << 32 | 2, 0, u64::MAX])),
            dot: Dot {
                server: ServerId(3),
                op: OpId(1),
                idx: 7,
            },
        };
        let big = vec![b'x'; 300];
        let cases: Vec<(ListId, Stamp, &[u8])> = vec![
            (id(bc + 1, 1, 1, bo + 1, 0), stamp, b"a"),
            // The compact form's edges: the largest differences it holds either side of
            // the base, then one past them (the general form).
            (
                id(bc + (1 << 16) - 1, 1, 1, bo + (1 << 20) - 1, 0),
                Stamp {
                    hlc: Hlc((1 << 40) - (1 << 24)),
                    server: ServerId(1),
                },
                b"edge",
            ),
            (
                id(bc - (1 << 16), 1, 1, bo - (1 << 20), 0),
                Stamp {
                    hlc: Hlc((1 << 40) + (1 << 24) - 1),
                    server: ServerId(1),
                },
                b"edge",
            ),
            (id(bc + (1 << 16), 1, 1, bo, 0), stamp, b"past"),
            (id(bc, 1, 1, bo + (1 << 20), 0), stamp, b"past"),
            (
                id(bc, 1, 1, bo, 0),
                Stamp {
                    hlc: Hlc((1 << 40) + (1 << 24)),
                    server: ServerId(1),
                },
                b"past",
            ),
            (id(999, 2, 1, 499, 3), stamp, b""),
            (
                id(u32::MAX.into(), 9, 4, u64::MAX, 0),
                Stamp {
                    hlc: Hlc(0),
                    server: ServerId(u32::MAX),
                },
                &big,
            ),
            (deep, stamp, b"deep"),
            (
                ListId {
                    pos: Pos::default(),
                    dot: base_id.dot,
                },
                stamp,
                b"none",
            ),
        ];
        for (i, s, v) in &cases {
            let e = c.encode(i, *s, v);
            c.insert(c.end(), i.clone(), &e, v);
        }
        let mut at = c.start();
        let mut read = vec![];
        while at < c.end() {
            let (e, next) = c.decode(at);
            assert_eq!(c.before(next), at, "the backward length of {e:?}");
            read.push(e);
            at = next;
        }
        assert_eq!(read.len(), cases.len() + 1);
        // The chunk's first, `a` and the two edges are compact; the rest are not.
        let mut compact = vec![];
        let mut at = c.start();
        while at < c.end() {
            let (_, meta, next) = value_at(&c.buf, at);
            compact.push(c.buf[meta] & COMPACT != 0);
            at = next;
        }
        assert_eq!(compact[..5], [true, true, true, true, false]);
        assert!(compact[5..].iter().all(|&c| !c));
        for ((i, s, v), e) in cases.iter().zip(&read[1..]) {
            assert_eq!((&e.id, e.stamp, e.value), (i, *s, &v[..]));
        }
        assert_eq!(c.last, cases[cases.len() - 1].0);
        assert_eq!(c.first, base_id);
    }

    #[test]
    fn a_small_element_takes_a_few_bytes() {
        let stamp = |hlc| Stamp {
            hlc: Hlc(hlc),
            server: ServerId(1),
        };
        let first = id(1 << 31, 1, 1, 1_000_000, 0);
        let mut c = Chunk::new(first, stamp(1 << 45), b"xxx", 0, Room::Back);
        for n in 1..100u64 {
            let i = id((1 << 31) + n, 1, 1, 1_000_000 + n, 0);
            let e = c.encode(&i, stamp((1 << 45) + n * 40), b"xxx");
            c.insert(c.end(), i, &e, b"xxx");
        }
        assert!(c.used() <= 100 * 14, "{} bytes for 100 elements", c.used());
    }

    /// A queue (pushes at one end, pops at the other) of a steady 20 elements moves its
    /// entries to a new buffer once per many pushes (about 16), so it copies about as many
    /// bytes as it pushes: most of a new buffer's room goes to the end that ran out.
    #[test]
    fn a_queue_copies_its_entries_once_per_many_pushes() {
        let stamp = |hlc| Stamp {
            hlc: Hlc(hlc),
            server: ServerId(1),
        };
        for at_front in [true, false] {
            // Positions fall at the front and rise at the back, as pushes make them.
            let step = |n: u64| {
                if at_front {
                    (1 << 31) - n
                } else {
                    (1 << 31) + n
                }
            };
            let mut c = Chunk::new(
                id(step(0), 1, 1, 1_000_000, 0),
                stamp(1 << 45),
                b"xxx",
                0,
                Room::Both,
            );
            let (mut placed, mut copied, mut pushed) = (0, 0, 0);
            for n in 1..10_000u64 {
                let i = id(step(n), 1, 1, 1_000_000 + n, 0);
                let e = c.encode(&i, stamp((1 << 45) + n * 40), b"xxx");
                let (used, start, end) = (c.used(), c.start(), c.end());
                let at = if at_front { start } else { end };
                c.insert(at, i, &e, b"xxx");
                pushed += e.size;
                let in_place = if at_front {
                    c.start() + e.size == start && c.end() == end
                } else {
                    c.start() == start && c.end() == end + e.size
                };
                if !in_place {
                    placed += 1;
                    copied += used;
                }
                if c.count > 20 {
                    // Pop at the other end.
                    let (s, e) = if at_front {
                        (c.before(c.end()), c.end())
                    } else {
                        (c.start(), c.after(c.start()))
                    };
                    c.remove(s, e);
                }
            }
            assert_eq!(c.count, 20);
            assert!(placed > 0, "the room ran out and was made again");
            assert!(
                placed * 8 <= 10_000,
                "{placed} new buffers in 10,000 pushes"
            );
            // A copy at every push would be 20 entries a push: 20 times what it pushed.
            assert!(
                copied <= 2 * pushed,
                "{copied} bytes copied for {pushed} pushed"
            );
        }
    }
}
