//! A stream's entries, packed as Redis packs them into listpacks: runs of up to
//! [`CHUNK_ENTRIES_MAX`] entries in one byte buffer each, every entry written as what differs
//! from the entry before it (its id, the tag of the XADD that made it), and its values alone
//! when its field names are those of the run's first entry. An entry of a few short fields
//! then takes a dozen bytes or so, where a tree node per entry and a box for its fields took
//! about 150.
//!
//! Appending (XADD) writes at the end of the last run; anything else (an entry from another
//! region with a smaller id, XDEL, trimming) decodes the run it touches and writes it again,
//! which costs a run's length, as a listpack's insert or delete costs its length in Redis.

use super::{Entry, StreamId};
use crate::blob::Blob;
use crate::codec::put_var;
use crate::hlc::Hlc;
use crate::ids::{Dot, OpId, ServerId, Tag};
use std::collections::BTreeMap;

/// The most entries a run holds (a few in unit tests, which then cross runs often).
#[cfg(not(test))]
pub const CHUNK_ENTRIES_MAX: usize = 128;
#[cfg(test)]
pub const CHUNK_ENTRIES_MAX: usize = 4;
/// An entry appended to a run this large starts the next one (as Redis's
/// `stream-node-max-bytes`, 4096 by default, ends a listpack).
const CHUNK_BYTES_MAX: usize = 4096;

/// A stream's entries by id.
#[derive(Clone, Default)]
pub struct Entries {
    /// Runs by the id of their first entry; none is empty, and ids increase through them.
    chunks: BTreeMap<StreamId, Chunk>,
    len: usize,
}

/// A run of entries in id order.
#[derive(Clone)]
struct Chunk {
    bytes: Vec<u8>,
    count: usize,
    /// The first entry's field names: later entries with the same names write values only.
    names: Box<[Blob]>,
    /// The last entry's id and tag: what an appended entry is written against.
    last: Head,
}

/// What an entry is written against: the entry before it in its run (zeros for the first).
#[derive(Clone, Copy, Default)]
struct Head {
    id: StreamId,
    tag: Tag,
}

const SAME_MS: u8 = 1;
const SAME_SEQ_LOW: u8 = 2;
const SAME_SERVER: u8 = 4;
const SAME_NAMES: u8 = 8;
const NEXT_OP: u8 = 16;
const FIRST_PIECE: u8 = 32;

/// A signed difference, zigzag-encoded (small either way round).
fn put_diff(out: &mut Vec<u8>, from: u64, to: u64) {
    let d = to.wrapping_sub(from) as i64;
    put_var(out, ((d << 1) ^ (d >> 63)) as u64);
}

fn put_blob(out: &mut Vec<u8>, b: &[u8]) {
    put_var(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Reads what [`Chunk::push`] wrote (the bytes are the run's own, never input).
#[derive(Clone, Copy)]
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
    prev: Head,
    names: &'a [Blob],
}

impl Cursor<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.bytes[self.at];
        self.at += 1;
        b
    }

    fn var(&mut self) -> u64 {
        crate::codec::read_var(self.bytes, &mut self.at)
    }

    fn diff(&mut self, from: u64) -> u64 {
        let z = self.var();
        let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
        from.wrapping_add(d as u64)
    }

    fn blob(&mut self) -> &[u8] {
        let n = self.var() as usize;
        let b = &self.bytes[self.at..self.at + n];
        self.at += n;
        b
    }

    /// The next entry's id and tag, and how its fields are written; `None` at the end.
    fn head(&mut self) -> Option<(Head, u8)> {
        if self.at == self.bytes.len() {
            return None;
        }
        let flags = self.byte();
        let p = self.prev;
        let ms = if flags & SAME_MS != 0 {
            p.id.ms
        } else {
            p.id.ms + self.var()
        };
        let high = if flags & SAME_MS != 0 {
            (p.id.seq >> 32) + self.var()
        } else {
            self.var()
        };
        let low = if flags & SAME_SEQ_LOW != 0 {
            p.id.seq & u64::from(u32::MAX)
        } else {
            self.var()
        };
        let server = if flags & SAME_SERVER != 0 {
            p.tag.dot.server
        } else {
            ServerId(self.var() as u32)
        };
        let op = if flags & NEXT_OP != 0 {
            p.tag.dot.op.0 + 1
        } else {
            self.diff(p.tag.dot.op.0)
        };
        let idx = if flags & FIRST_PIECE != 0 {
            0
        } else {
            self.var() as u32
        };
        let hlc = Hlc(self.diff(p.tag.hlc.0));
        let head = Head {
            id: StreamId::new(ms, high << 32 | low),
            tag: Tag::new(Dot::new(server, OpId(op), idx), hlc),
        };
        self.prev = head;
        Some((head, flags))
    }

    fn fields(&mut self, flags: u8) -> Box<[Blob]> {
        if flags & SAME_NAMES != 0 {
            let names = self.names;
            let mut out = Vec::with_capacity(names.len() * 2);
            for n in names {
                out.push(n.clone());
                out.push(Blob::from(self.blob()));
            }
            out.into()
        } else {
            let n = self.var() as usize;
            (0..n).map(|_| Blob::from(self.blob())).collect()
        }
    }

    fn skip_fields(&mut self, flags: u8) {
        let n = if flags & SAME_NAMES != 0 {
            self.names.len()
        } else {
            self.var() as usize
        };
        for _ in 0..n {
            self.blob();
        }
    }

    fn entry(&mut self) -> Option<(StreamId, Entry)> {
        let (head, flags) = self.head()?;
        let fields = self.fields(flags);
        Some((
            head.id,
            Entry {
                tag: head.tag,
                fields,
            },
        ))
    }
}

impl Chunk {
    fn new(names_of: &Entry) -> Chunk {
        Chunk {
            bytes: Vec::new(),
            count: 0,
            names: names_of.fields.iter().step_by(2).cloned().collect(),
            last: Head::default(),
        }
    }

    /// A run of these entries (in id order).
    fn of(entries: &[(StreamId, Entry)]) -> Chunk {
        let mut c = Chunk::new(&entries[0].1);
        for (id, e) in entries {
            c.push(*id, e);
        }
        c.bytes.shrink_to_fit();
        c
    }

    fn same_names(&self, fields: &[Blob]) -> bool {
        fields.len() == self.names.len() * 2
            && fields
                .iter()
                .step_by(2)
                .zip(&*self.names)
                .all(|(a, b)| a == b)
    }

    /// Write an entry after the last one (its id is greater).
    fn push(&mut self, id: StreamId, e: &Entry) {
        let same_names = self.count > 0 && self.same_names(&e.fields);
        let (p, t, out) = (self.last, e.tag, &mut self.bytes);
        let low_mask = u64::from(u32::MAX);
        let mut flags = 0;
        let same_ms = id.ms == p.id.ms && self.count > 0;
        if same_ms {
            flags |= SAME_MS;
        }
        if id.seq & low_mask == p.id.seq & low_mask {
            flags |= SAME_SEQ_LOW;
        }
        if t.dot.server == p.tag.dot.server {
            flags |= SAME_SERVER;
        }
        if same_names {
            flags |= SAME_NAMES;
        }
        if t.dot.op.0 == p.tag.dot.op.0.wrapping_add(1) {
            flags |= NEXT_OP;
        }
        if t.dot.idx == 0 {
            flags |= FIRST_PIECE;
        }
        out.push(flags);
        if same_ms {
            put_var(out, (id.seq >> 32) - (p.id.seq >> 32));
        } else {
            put_var(out, id.ms - p.id.ms);
            put_var(out, id.seq >> 32);
        }
        if flags & SAME_SEQ_LOW == 0 {
            put_var(out, id.seq & low_mask);
        }
        if flags & SAME_SERVER == 0 {
            put_var(out, u64::from(t.dot.server.0));
        }
        if flags & NEXT_OP == 0 {
            put_diff(out, p.tag.dot.op.0, t.dot.op.0);
        }
        if flags & FIRST_PIECE == 0 {
            put_var(out, u64::from(t.dot.idx));
        }
        put_diff(out, p.tag.hlc.0, t.hlc.0);
        if same_names {
            for v in e.fields.iter().skip(1).step_by(2) {
                put_blob(out, v);
            }
        } else {
            put_var(out, e.fields.len() as u64);
            for f in e.fields.iter() {
                put_blob(out, f);
            }
        }
        self.count += 1;
        self.last = Head { id, tag: t };
    }

    fn cursor(&self) -> Cursor<'_> {
        Cursor {
            bytes: &self.bytes,
            at: 0,
            prev: Head::default(),
            names: &self.names,
        }
    }

    fn decode(&self) -> Vec<(StreamId, Entry)> {
        let mut c = self.cursor();
        let mut out = Vec::with_capacity(self.count);
        while let Some(e) = c.entry() {
            out.push(e);
        }
        out
    }

    /// The entry `id`'s head and how its fields are written, with the cursor at its
    /// fields (nothing else decoded); `None` when it is not in the run.
    fn find(&self, id: StreamId) -> Option<(Head, u8, Cursor<'_>)> {
        let mut c = self.cursor();
        while let Some((head, flags)) = c.head() {
            if head.id >= id {
                return (head.id == id).then_some((head, flags, c));
            }
            c.skip_fields(flags);
        }
        None
    }

    fn get(&self, id: StreamId) -> Option<Entry> {
        let (head, flags, mut c) = self.find(id)?;
        let fields = c.fields(flags);
        Some(Entry {
            tag: head.tag,
            fields,
        })
    }

    fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.names.len() * size_of::<Blob>()
            + self
                .names
                .iter()
                .map(crate::heap::HeapSize::heap_bytes)
                .sum::<usize>()
    }
}

/// The entries of one run with ids in a range. Forwards, each is decoded as it is reached;
/// the first step backwards finds where the rest lie (reading ids and tags only) and
/// decodes each when it is taken.
struct RunIter<'a> {
    cur: Cursor<'a>,
    from: StreamId,
    to: StreamId,
    /// Once stepped backwards: the entries not taken yet, each with where its fields are.
    left: Option<std::collections::VecDeque<(Head, u8, usize)>>,
}

impl<'a> RunIter<'a> {
    fn new(c: &'a Chunk, from: StreamId, to: StreamId) -> RunIter<'a> {
        RunIter {
            cur: c.cursor(),
            from,
            to,
            left: None,
        }
    }

    fn read(&self, (head, flags, at): (Head, u8, usize)) -> (StreamId, Entry) {
        let mut c = Cursor {
            at,
            prev: head,
            ..self.cur
        };
        let fields = c.fields(flags);
        (
            head.id,
            Entry {
                tag: head.tag,
                fields,
            },
        )
    }
}

impl Iterator for RunIter<'_> {
    type Item = (StreamId, Entry);

    fn next(&mut self) -> Option<(StreamId, Entry)> {
        if let Some(left) = &mut self.left {
            let slot = left.pop_front()?;
            return Some(self.read(slot));
        }
        loop {
            let (head, flags) = self.cur.head()?;
            if head.id < self.from {
                self.cur.skip_fields(flags);
                continue;
            }
            if head.id > self.to {
                self.cur.at = self.cur.bytes.len();
                return None;
            }
            let fields = self.cur.fields(flags);
            return Some((
                head.id,
                Entry {
                    tag: head.tag,
                    fields,
                },
            ));
        }
    }
}

impl DoubleEndedIterator for RunIter<'_> {
    fn next_back(&mut self) -> Option<(StreamId, Entry)> {
        if self.left.is_none() {
            let mut left = std::collections::VecDeque::new();
            while let Some((head, flags)) = self.cur.head() {
                let at = self.cur.at;
                self.cur.skip_fields(flags);
                if head.id > self.to {
                    break;
                }
                if head.id >= self.from {
                    left.push_back((head, flags, at));
                }
            }
            self.left = Some(left);
        }
        let slot = self.left.as_mut()?.pop_back()?;
        Some(self.read(slot))
    }
}

impl Entries {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The run an entry `id` is in or goes in: the one with the greatest first id at or
    /// below it, else the first.
    fn chunk_key(&self, id: StreamId) -> Option<StreamId> {
        self.chunks
            .range(..=id)
            .next_back()
            .or_else(|| self.chunks.first_key_value())
            .map(|(k, _)| *k)
    }

    pub fn get(&self, id: StreamId) -> Option<Entry> {
        self.chunks.range(..=id).next_back()?.1.get(id)
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.chunks
            .range(..=id)
            .next_back()
            .is_some_and(|(_, c)| c.find(id).is_some())
    }

    /// The smallest id (nothing decoded: a run is keyed by its first entry's id).
    pub fn first_id(&self) -> Option<StreamId> {
        self.chunks.first_key_value().map(|(k, _)| *k)
    }

    pub fn first(&self) -> Option<(StreamId, Entry)> {
        self.chunks.first_key_value()?.1.cursor().entry()
    }

    pub fn last(&self) -> Option<(StreamId, Entry)> {
        RunIter::new(
            self.chunks.last_key_value()?.1,
            StreamId::ZERO,
            StreamId::MAX,
        )
        .next_back()
    }

    /// The last id, without decoding anything.
    pub fn last_id(&self) -> Option<StreamId> {
        self.chunks.last_key_value().map(|(_, c)| c.last.id)
    }

    /// Put an entry in, in place of one with its id if there is one.
    pub fn insert(&mut self, id: StreamId, e: Entry) {
        let Some(key) = self.chunk_key(id) else {
            let mut c = Chunk::new(&e);
            c.push(id, &e);
            self.chunks.insert(id, c);
            self.len = 1;
            return;
        };
        let chunk = self.chunks.get_mut(&key).expect("the key is a run's");
        if id > chunk.last.id {
            // After the run's last entry, and before the next run's first (this run's key
            // is the greatest at or below `id`).
            if chunk.count < CHUNK_ENTRIES_MAX && chunk.bytes.len() < CHUNK_BYTES_MAX {
                chunk.push(id, &e);
                if chunk.count == CHUNK_ENTRIES_MAX || chunk.bytes.len() >= CHUNK_BYTES_MAX {
                    // Full: no room kept for appends that will not come.
                    chunk.bytes.shrink_to_fit();
                }
            } else {
                let mut c = Chunk::new(&e);
                c.push(id, &e);
                self.chunks.insert(id, c);
            }
            self.len += 1;
            return;
        }
        let chunk = self.chunks.remove(&key).expect("the key is a run's");
        let mut v = chunk.decode();
        match v.binary_search_by_key(&id, |(i, _)| *i) {
            Ok(i) => v[i].1 = e,
            Err(i) => {
                v.insert(i, (id, e));
                self.len += 1;
            }
        }
        for run in v.chunks(CHUNK_ENTRIES_MAX) {
            self.chunks.insert(run[0].0, Chunk::of(run));
        }
    }

    /// Take out the entry `id`; its tag, if it was there.
    pub fn remove(&mut self, id: StreamId) -> Option<Tag> {
        let (&key, chunk) = self.chunks.range(..=id).next_back()?;
        chunk.find(id)?;
        let chunk = self.chunks.remove(&key).expect("the key is a run's");
        let mut v = chunk.decode();
        let i = v.binary_search_by_key(&id, |(i, _)| *i).ok()?;
        let (_, gone) = v.remove(i);
        self.len -= 1;
        if !v.is_empty() {
            self.chunks.insert(v[0].0, Chunk::of(&v));
        }
        Some(gone.tag)
    }

    /// Keep the entries `keep` says to; how many went.
    pub fn retain(&mut self, mut keep: impl FnMut(StreamId, &Entry) -> bool) -> usize {
        let mut removed = 0;
        let keys: Vec<StreamId> = self.chunks.keys().copied().collect();
        for key in keys {
            let chunk = &self.chunks[&key];
            let v = chunk.decode();
            let before = v.len();
            let v: Vec<_> = v.into_iter().filter(|(id, e)| keep(*id, e)).collect();
            if v.len() == before {
                continue;
            }
            removed += before - v.len();
            self.chunks.remove(&key);
            if !v.is_empty() {
                self.chunks.insert(v[0].0, Chunk::of(&v));
            }
        }
        self.len -= removed;
        removed
    }

    /// Every entry, in id order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (StreamId, Entry)> + '_ {
        self.range(StreamId::ZERO, StreamId::MAX)
    }

    /// The runs that may hold entries with ids in `from..=to`, in order.
    fn runs(&self, from: StreamId, to: StreamId) -> impl DoubleEndedIterator<Item = &Chunk> {
        let start = self
            .chunks
            .range(..=from)
            .next_back()
            .map_or(from, |(k, _)| *k);
        let runs = (from <= to).then(|| self.chunks.range(start..=to));
        runs.into_iter().flatten().map(|(_, c)| c)
    }

    /// Entries with ids in `from..=to`, in order; each decoded when it is reached.
    pub fn range(
        &self,
        from: StreamId,
        to: StreamId,
    ) -> impl DoubleEndedIterator<Item = (StreamId, Entry)> + '_ {
        self.runs(from, to)
            .flat_map(move |c| RunIter::new(c, from, to))
    }

    /// The ids and tags of every entry, in id order (no fields decoded).
    pub fn heads(&self) -> impl Iterator<Item = (StreamId, Tag)> + '_ {
        self.chunks.values().flat_map(|c| {
            let mut cur = c.cursor();
            std::iter::from_fn(move || {
                let (head, flags) = cur.head()?;
                cur.skip_fields(flags);
                Some((head.id, head.tag))
            })
        })
    }

    /// The ids in `from..=to`, in order (no fields decoded).
    pub fn ids(&self, from: StreamId, to: StreamId) -> impl Iterator<Item = StreamId> + '_ {
        self.runs(from, to)
            .flat_map(|c| {
                let mut cur = c.cursor();
                std::iter::from_fn(move || {
                    let (head, flags) = cur.head()?;
                    cur.skip_fields(flags);
                    Some(head.id)
                })
            })
            .skip_while(move |id| *id < from)
            .take_while(move |id| *id <= to)
    }

    /// The tags of every entry, in id order.
    pub fn tags(&self) -> impl Iterator<Item = Tag> + '_ {
        self.heads().map(|(_, t)| t)
    }

    pub fn heap_bytes(&self) -> usize {
        crate::heap::btree_bytes(self.chunks.len(), size_of::<(StreamId, Chunk)>())
            + self.chunks.values().map(Chunk::heap_bytes).sum::<usize>()
    }

    /// Whether the runs are keyed and counted as they should be (for tests).
    pub fn check(&self) -> bool {
        let counted: usize = self.chunks.values().map(|c| c.count).sum();
        counted == self.len
            && self
                .chunks
                .iter()
                .all(|(k, c)| c.count > 0 && c.cursor().head().map(|(h, _)| h.id) == Some(*k))
    }
}

/// Equal when they hold the same entries, however each region's runs are cut.
impl PartialEq for Entries {
    fn eq(&self, o: &Entries) -> bool {
        self.len == o.len && self.iter().eq(o.iter())
    }
}

impl std::fmt::Debug for Entries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(server: u32, op: u64, idx: u32, hlc: u64, fields: &[&str]) -> Entry {
        Entry {
            tag: Tag::new(Dot::new(ServerId(server), OpId(op), idx), Hlc(hlc)),
            fields: fields.iter().map(|f| Blob::from(*f)).collect(),
        }
    }

    proptest! {
        /// Against a sorted map: inserts in any order (appends, entries from elsewhere
        /// with smaller ids, replacements), removals and retains leave the same entries,
        /// read back alike by every reader.
        #[test]
        fn holds_what_a_sorted_map_holds(
            steps in proptest::collection::vec(
                (0u8..6, 0u64..40, 0u64..3, 1u32..4, 0u64..1_000_000, 0usize..3),
                1..300,
            ),
        ) {
            let names = [&["f", "1"][..], &["f", "22", "g", "x"], &["h", ""]];
            let mut packed = Entries::default();
            let mut model: BTreeMap<StreamId, Entry> = BTreeMap::new();
            let mut op = 0;
            for (kind, ms, seq, server, hlc, shape) in steps {
                op += 1;
                let id = StreamId::new(ms, seq << 32 | u64::from(server));
                match kind {
                    0..=2 => {
                        let e = entry(server, op, (op % 3) as u32, hlc, names[shape]);
                        packed.insert(id, e.clone());
                        model.insert(id, e);
                    }
                    3 => {
                        // An append past the last, as XADD makes.
                        let top = model.keys().next_back().copied().unwrap_or_default();
                        let id = StreamId::new(top.ms + ms % 2, top.seq + (1 << 32));
                        let e = entry(server, op, 0, hlc, names[shape]);
                        packed.insert(id, e.clone());
                        model.insert(id, e);
                    }
                    4 => {
                        let gone = model.remove(&id).map(|e| e.tag);
                        prop_assert_eq!(packed.remove(id), gone);
                    }
                    _ => {
                        let before = model.len();
                        model.retain(|id, _| id.ms % 5 != ms % 5);
                        let removed = packed.retain(|id, _| id.ms % 5 != ms % 5);
                        prop_assert_eq!(removed, before - model.len());
                    }
                }
                prop_assert!(packed.check());
                prop_assert_eq!(packed.len(), model.len());
            }
            let all: Vec<_> = model.iter().map(|(i, e)| (*i, e.clone())).collect();
            prop_assert_eq!(packed.iter().collect::<Vec<_>>(), all.clone());
            prop_assert_eq!(
                packed.iter().rev().collect::<Vec<_>>(),
                all.iter().rev().cloned().collect::<Vec<_>>()
            );
            prop_assert_eq!(
                packed.heads().collect::<Vec<_>>(),
                model.iter().map(|(i, e)| (*i, e.tag)).collect::<Vec<_>>()
            );
            prop_assert_eq!(packed.first(), all.first().cloned());
            prop_assert_eq!(packed.last(), all.last().cloned());
            prop_assert_eq!(packed.last_id(), all.last().map(|(i, _)| *i));
            prop_assert_eq!(packed.first_id(), all.first().map(|(i, _)| *i));
            for (i, (id, e)) in all.iter().enumerate() {
                prop_assert_eq!(packed.get(*id), Some(e.clone()));
                prop_assert!(packed.contains(*id));
                let from = all[i / 2].0;
                let want: Vec<_> = model.range(from..=*id).map(|(i, e)| (*i, e.clone())).collect();
                prop_assert_eq!(packed.range(from, *id).collect::<Vec<_>>(), want.clone());
                prop_assert_eq!(
                    packed.ids(from, *id).collect::<Vec<_>>(),
                    want.iter().map(|(i, _)| *i).collect::<Vec<_>>()
                );
                prop_assert_eq!(
                    packed.range(from, *id).rev().collect::<Vec<_>>(),
                    want.into_iter().rev().collect::<Vec<_>>()
                );
            }
            // Taking from both ends at once meets in the middle, whatever the runs.
            let mut both = packed.iter();
            let (mut front, mut back) = (Vec::new(), Vec::new());
            loop {
                match (both.next(), both.next_back()) {
                    (Some(f), Some(b)) => {
                        front.push(f);
                        back.push(b);
                    }
                    (Some(f), None) => front.push(f),
                    (None, _) => break,
                }
            }
            front.extend(back.into_iter().rev());
            prop_assert_eq!(front, all.clone());
            prop_assert!(packed.get(StreamId::new(1_000, 0)).is_none());
            prop_assert!(packed.range(StreamId::new(5, 0), StreamId::new(4, 0)).next().is_none());
        }
    }
}
