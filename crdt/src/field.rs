//! A field: the value of a string key, of a hash field, or a sorted-set member's score.
//! It is a multi-value register read as last-writer-wins, plus a resettable counter.

use crate::heap::HeapSize;
use crate::ids::{Dot, OpId, ServerId, Stamp, Tag};
use crate::tomb::Tomb;
use crate::vv::VersionVector;
use smallvec::SmallVec;
use std::fmt;

/// A number held by a counter: an integer until a float increment joins in.
#[derive(Copy, Clone, Debug)]
pub enum Num {
    Int(i128),
    Float(f64),
}

impl std::ops::Add for Num {
    type Output = Num;
    fn add(self, other: Num) -> Num {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Num::Int(a.saturating_add(b)),
            (a, b) => Num::Float(a.as_f64() + b.as_f64()),
        }
    }
}

impl std::ops::Sub for Num {
    type Output = Num;
    fn sub(self, other: Num) -> Num {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Num::Int(a.saturating_sub(b)),
            (a, b) => Num::Float(a.as_f64() - b.as_f64()),
        }
    }
}

impl Num {
    pub const ZERO: Num = Num::Int(0);

    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// Equality by value and representation (floats by bits), so that equal states encode alike.
impl PartialEq for Num {
    fn eq(&self, other: &Num) -> bool {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a == b,
            (Num::Float(a), Num::Float(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        }
    }
}
impl Eq for Num {}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => write!(f, "{x}"),
        }
    }
}

/// One origin's increments since its lifetime began. An origin keeps one entry per field and
/// replaces it on every increment (highest op wins), so a counter costs one entry per origin,
/// not one per increment. A lifetime begins when the origin increments a field in which it
/// has no live entry (the first time, or after a SET/DEL it observed removed its entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterEntry {
    /// The op that began this lifetime.
    pub start: OpId,
    pub tag: Tag,
    /// Sum of the origin's increments in this lifetime.
    pub total: Num,
}

/// What a SET, DEL or HDEL that observed an origin's counter entry took away: that entry's
/// total. Increments the origin made in the same lifetime without having seen the reset
/// still count, as `entry.total - reset.total`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterReset {
    pub start: OpId,
    pub op: OpId,
    pub total: Num,
    /// The op that made the reset (for garbage collection).
    pub by: Dot,
}

/// A value written by one op.
#[derive(Clone, Debug, PartialEq)]
pub struct RegEntry<V> {
    pub tag: Tag,
    pub value: V,
}

/// A multi-value register (concurrent writes are all kept; reads take the largest stamp)
/// plus a resettable counter whose contributions add to the register's value.
#[derive(Clone, Debug, PartialEq)]
pub struct Field<V> {
    regs: SmallVec<[RegEntry<V>; 1]>,
    counter: Option<Box<Counter>>,
}

/// Boxed, and held by every field a counter touched (a hash field of HINCRBY, a member of
/// ZINCRBY): one region's entry inline, and no room for resets until there is one, so it
/// takes 112 bytes (240 before session 14).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct Counter {
    /// At most one per origin, sorted by server-id.
    entries: SmallVec<[CounterEntry; 1]>,
    /// At most one per origin, sorted by server-id.
    resets: Vec<(ServerId, CounterReset)>,
}

impl<V> Default for Field<V> {
    fn default() -> Self {
        Field {
            regs: SmallVec::new(),
            counter: None,
        }
    }
}

impl<V> Field<V> {
    /// Ask for the counter's entries (a box of their own): see
    /// [`crate::Keyspace::prefetch`].
    pub fn prefetch(&self) {
        if let Some(c) = &self.counter {
            crate::prefetch::prefetch(&**c);
        }
    }
}

impl<V: Clone + PartialEq> Field<V> {
    /// A field holding one register write.
    pub fn single(reg: RegEntry<V>) -> Self {
        Field {
            regs: smallvec::smallvec![reg],
            counter: None,
        }
    }

    /// A field holding one counter entry.
    pub fn counting(entry: CounterEntry) -> Self {
        Field {
            regs: SmallVec::new(),
            counter: Some(Box::new(Counter {
                entries: smallvec::smallvec![entry],
                resets: Vec::new(),
            })),
        }
    }

    /// The counter entry, when it is all the field holds (no register write, no other
    /// origin's entry, no reset record).
    pub fn as_lone_entry(&self) -> Option<&CounterEntry> {
        match (self.regs.as_slice(), self.counter.as_deref()) {
            ([], Some(Counter { entries, resets })) if resets.is_empty() => match &entries[..] {
                [entry] => Some(entry),
                _ => None,
            },
            _ => None,
        }
    }

    /// The register write, when it is all the field holds.
    pub fn as_single(&self) -> Option<&RegEntry<V>> {
        match (self.regs.as_slice(), &self.counter) {
            ([reg], None) => Some(reg),
            _ => None,
        }
    }

    /// Whether the field holds a value (a register write or a counter entry).
    pub fn is_live(&self) -> bool {
        !self.regs.is_empty() || self.counter.as_ref().is_some_and(|c| !c.entries.is_empty())
    }

    /// Whether a counter ever touched it and left entries or reset records: only such a
    /// field has anything for [`Field::gc`] to collect.
    pub fn has_counter(&self) -> bool {
        self.counter.is_some()
    }

    /// Whether nothing at all is left, not even reset records waiting for GC.
    pub fn is_void(&self) -> bool {
        self.regs.is_empty() && self.counter.is_none()
    }

    /// The winning register write, if any.
    pub fn base(&self) -> Option<&RegEntry<V>> {
        self.regs.iter().max_by_key(|r| r.tag.stamp())
    }

    /// Register writes (more than one while concurrent writes are unresolved by causality).
    pub fn regs(&self) -> &[RegEntry<V>] {
        &self.regs
    }

    /// Live counter entries, sorted by origin.
    pub fn entries(&self) -> &[CounterEntry] {
        self.counter.as_ref().map_or(&[], |c| &c.entries)
    }

    /// Sum of the counter's live contributions, or `None` when no counter entry is live.
    pub fn increments(&self) -> Option<Num> {
        let c = self.counter.as_ref()?;
        if c.entries.is_empty() {
            return None;
        }
        Some(c.entries.iter().fold(Num::ZERO, |acc, e| {
            let reset = c
                .resets
                .iter()
                .find(|(s, _)| *s == e.tag.dot.server)
                .map(|(_, r)| r);
            acc + contribution(e, reset)
        }))
    }

    /// The largest stamp of live content (decides type clashes).
    /// The earliest write still held (a register value or a live counter entry): its stamp,
    /// then its place among the pieces of its op (`HSET h a 1 b 2` writes a, then b).
    pub fn first_written(&self) -> Option<(Stamp, u32)> {
        let r = self.regs.iter().map(|r| r.tag);
        let c = self.entries().iter().map(|e| e.tag);
        r.chain(c).map(|t| (t.stamp(), t.dot.idx)).min()
    }

    pub fn max_stamp(&self) -> Option<Stamp> {
        let r = self.regs.iter().map(|r| r.tag.stamp());
        let c = self.entries().iter().map(|e| e.tag.stamp());
        r.chain(c).max()
    }

    /// This origin's live entry.
    pub fn own_entry(&self, server: ServerId) -> Option<&CounterEntry> {
        self.entries().iter().find(|e| e.tag.dot.server == server)
    }

    /// Dots of all live pieces (register writes and counter entries).
    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        let r = self.regs.iter().map(|r| r.tag.dot);
        let c = self.entries().iter().map(|e| e.tag.dot);
        r.chain(c)
    }

    /// The resets an op that observes this field makes: one per live counter entry.
    pub fn resets_for(&self, by: Dot) -> Vec<(ServerId, CounterReset)> {
        self.entries()
            .iter()
            .map(|e| {
                (
                    e.tag.dot.server,
                    CounterReset {
                        start: e.start,
                        op: e.tag.dot.op,
                        total: e.total,
                        by,
                    },
                )
            })
            .collect()
    }

    /// Largest op per origin among live pieces and reset records.
    pub fn observe_into(&self, vv: &mut VersionVector) {
        for d in self.dots() {
            vv.add(d);
        }
        if let Some(c) = &self.counter {
            for (s, r) in &c.resets {
                vv.raise(*s, r.op);
            }
        }
    }

    /// The value of the register write `dot`, to change in place: only a string's bit
    /// writes baked into it do that (see [`crate::bits::StrPart::gc`]).
    pub fn reg_value_mut(&mut self, dot: Dot) -> Option<&mut V> {
        self.regs
            .iter_mut()
            .find(|r| r.tag.dot == dot)
            .map(|r| &mut r.value)
    }

    pub fn add_reg(&mut self, tag: Tag, value: V, tomb: &Tomb) {
        if tomb.kills(tag.dot) || self.regs.iter().any(|r| r.tag.dot == tag.dot) {
            return;
        }
        self.regs.push(RegEntry { tag, value });
        self.regs.sort_by_key(|r| r.tag.dot);
    }

    pub fn add_entry(&mut self, entry: CounterEntry, tomb: &Tomb) {
        if tomb.kills(entry.tag.dot) || self.reset_covers(entry.tag.dot) {
            return;
        }
        let c = self.counter.get_or_insert_with(Default::default);
        let server = entry.tag.dot.server;
        match c
            .entries
            .binary_search_by_key(&server, |e| e.tag.dot.server)
        {
            Ok(i) => {
                if c.entries[i].tag.dot.op < entry.tag.dot.op {
                    c.entries[i] = entry;
                }
            }
            Err(i) => c.entries.insert(i, entry),
        }
    }

    pub fn add_reset(&mut self, server: ServerId, reset: CounterReset) {
        let c = self.counter.get_or_insert_with(Default::default);
        match c.resets.binary_search_by_key(&server, |r| r.0) {
            Ok(i) => {
                let cur = &mut c.resets[i].1;
                if (cur.op, cur.by) < (reset.op, reset.by) {
                    *cur = reset;
                }
            }
            Err(i) => c.resets.insert(i, (server, reset)),
        }
        // A reset of the origin's entry at `op` also ends every earlier entry of that origin:
        // they were replaced by it at the origin, even where it has not arrived yet.
        let op = c.resets.iter().find(|r| r.0 == server).map(|r| r.1.op);
        if let Some(op) = op {
            c.entries
                .retain(|e| !(e.tag.dot.server == server && e.tag.dot.op <= op));
        }
    }

    /// Whether a reset record ends the entry with this dot.
    fn reset_covers(&self, dot: Dot) -> bool {
        self.resets()
            .iter()
            .any(|(s, r)| *s == dot.server && r.op >= dot.op)
    }

    /// Remove one piece. Returns whether it was here.
    pub fn remove_dot(&mut self, dot: Dot) -> bool {
        let before = self.regs.len();
        self.regs.retain(|r| r.tag.dot != dot);
        let mut hit = self.regs.len() != before;
        if let Some(c) = &mut self.counter {
            let n = c.entries.len();
            c.entries.retain(|e| e.tag.dot != dot);
            hit |= c.entries.len() != n;
        }
        self.tidy();
        hit
    }

    /// Drop pieces the tomb has removed.
    pub fn prune(&mut self, tomb: &Tomb) {
        self.regs.retain(|r| !tomb.kills(r.tag.dot));
        if let Some(c) = &mut self.counter {
            c.entries.retain(|e| !tomb.kills(e.tag.dot));
        }
        self.tidy();
    }

    /// Union with another replica's field (the caller prunes with the joined tomb after).
    pub fn merge(&mut self, other: &Field<V>, tomb: &Tomb) {
        for r in &other.regs {
            self.add_reg(r.tag, r.value.clone(), tomb);
        }
        if let Some(oc) = &other.counter {
            for e in &oc.entries {
                self.add_entry(e.clone(), tomb);
            }
            for (s, r) in &oc.resets {
                self.add_reset(*s, r.clone());
            }
        }
        self.tidy();
    }

    /// Forget reset records no future op can need: the reset and its remover are causally
    /// stable and no live entry continues the lifetime it reset. Returns whether any was.
    pub fn gc(&mut self, stable: &VersionVector) -> bool {
        let mut changed = false;
        if let Some(c) = &mut self.counter {
            let before = c.resets.len();
            let entries = &c.entries;
            c.resets.retain(|(s, r)| {
                let stable_now = stable.get(*s) >= r.op && stable.covers(r.by);
                continues(entries, *s, r) || !stable_now
            });
            changed = c.resets.len() != before;
        }
        self.tidy();
        changed
    }

    /// Reset records (for encoding).
    pub fn resets(&self) -> &[(ServerId, CounterReset)] {
        self.counter.as_ref().map_or(&[], |c| &c.resets)
    }

    /// Reset records a live entry continues: the ones the value depends on. The others are
    /// removal knowledge only, kept until collected (see [`Field::gc`]).
    pub fn continued_resets(&self) -> impl Iterator<Item = &(ServerId, CounterReset)> {
        let entries = self.entries();
        self.resets()
            .iter()
            .filter(move |(s, r)| continues(entries, *s, r))
    }

    fn tidy(&mut self) {
        if self
            .counter
            .as_ref()
            .is_some_and(|c| c.entries.is_empty() && c.resets.is_empty())
        {
            self.counter = None;
        }
    }
}

/// Whether one of `entries` continues the lifetime that `server`'s reset `r` reset (the
/// origin incremented again without having seen the reset): the value then subtracts it.
fn continues(entries: &[CounterEntry], server: ServerId, r: &CounterReset) -> bool {
    entries
        .iter()
        .any(|e| e.tag.dot.server == server && e.start == r.start && e.tag.dot.op > r.op)
}

/// What one origin's entry adds to the value, given the latest reset of that origin.
fn contribution(e: &CounterEntry, reset: Option<&CounterReset>) -> Num {
    match reset {
        None => e.total,
        Some(r) if r.start == e.start => {
            if r.op <= e.tag.dot.op {
                e.total - r.total
            } else {
                // The reset saw a later entry than we have: ours is about to be replaced.
                Num::ZERO
            }
        }
        Some(r) if r.op < e.start => e.total, // a reset of an earlier lifetime
        Some(_) => Num::ZERO,                 // a reset of a later lifetime: we are behind
    }
}

impl<V: HeapSize> HeapSize for RegEntry<V> {
    fn heap_bytes(&self) -> usize {
        self.value.heap_bytes()
    }
}

impl HeapSize for CounterEntry {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl HeapSize for CounterReset {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl HeapSize for Counter {
    fn heap_bytes(&self) -> usize {
        crate::heap::smallvec_bytes(&self.entries) + self.resets.heap_bytes()
    }
}

impl<V: HeapSize> HeapSize for Field<V> {
    fn heap_bytes(&self) -> usize {
        self.regs.heap_bytes() + self.counter.heap_bytes()
    }
}
