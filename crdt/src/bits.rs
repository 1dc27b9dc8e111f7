//! Partial writes of a string: what SETBIT, BITFIELD's SET and INCRBY, SETRANGE and APPEND
//! replicate instead of the whole string, so that writes of different bits or bytes made
//! concurrently in two regions both survive, and a write a piece at a time costs the piece,
//! not the string. A string key keeps the writes not yet known everywhere beside its
//! register ([`StrPart`]) and reads as the register's value with them applied in stamp
//! order (so of two writes of one bit, the later wins, two crossing APPENDs both add, in
//! stamp order, and a write made concurrently with a write of the whole string is applied
//! over it). Each region bakes them into the register once they are causally stable.

use crate::blob::Blob;
use crate::field::Field;
use crate::ids::{Dot, Stamp, Tag};
use crate::tomb::Tomb;
use crate::vv::VersionVector;
use std::borrow::Cow;
use std::ops::{Deref, DerefMut};

mod placed;
mod write;
use placed::{Latest, PLACED_FROM, PLACED_UNTIL, Placed};
pub use write::{BYTE_WRITE_REACH_MAX, BitOp, BitWrite, StrWrite, field, set_field};

/// A string key's content: its register and counter ([`Field`]), and the bit writes made
/// on top of it that are not baked in yet.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StrPart {
    pub field: Field<Blob>,
    bits: Option<Box<Bits>>,
}

/// A string's partial writes: those pending, in the order they apply (stamp, then dot),
/// and what was baked into the register (see [`StrPart::gc`]).
#[derive(Clone, Debug, Default)]
struct Bits {
    pending: Vec<(Tag, StrWrite)>,
    baked: Option<Baked>,
    /// The value's length with the pending writes applied, for a register of the length
    /// given first (a write's reach depends on the length only), kept as writes come in
    /// order: an APPEND's reply without a walk of the writes pending since a region was
    /// cut off. `None`: not known (a register raise is pending, or not counted yet).
    len: Option<(usize, usize)>,
    /// Where the pending writes lie, kept while many are pending.
    placed: Option<Box<Placed>>,
}

impl Bits {
    /// Keep the pending writes `keep` says to, the index with them.
    fn retain(&mut self, mut keep: impl FnMut(&Tag) -> bool) {
        let placed = &mut self.placed;
        self.pending.retain(|(t, w)| {
            let kept = keep(t);
            if let (false, Some(p)) = (kept, placed.as_deref_mut()) {
                p.remove(t, w);
            }
            kept
        });
    }
}

/// The order pending writes apply in: stamp (later wins), then dot (one op's pieces).
fn apply_order(t: &Tag) -> (Stamp, Dot) {
    (t.stamp(), t.dot)
}

// The length and the index are caches of what the writes give: not a part of the state.
impl PartialEq for Bits {
    fn eq(&self, o: &Bits) -> bool {
        self.pending == o.pending && self.baked == o.baked
    }
}

/// The bit writes baked into the register written by `reg`: per origin, the largest op of
/// them. It holds every bit write of this key those ops cover (an origin's writes are baked
/// in its own order), so a merge takes the register from whichever side baked further and
/// a write that observes the key removes them with the rest of what it saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Baked {
    pub reg: Dot,
    pub through: VersionVector,
}

/// The piece number of a removal of every bit write of one origin up to an op (`Loc::Bits`
/// with this `idx`): how an origin that baked them into the register removes them piece by
/// piece (a hidden string part, observed by a write of the visible type).
pub const BAKED_THROUGH: u32 = u32::MAX;

impl From<Field<Blob>> for StrPart {
    fn from(field: Field<Blob>) -> Self {
        StrPart { field, bits: None }
    }
}

impl Deref for StrPart {
    type Target = Field<Blob>;
    fn deref(&self) -> &Field<Blob> {
        &self.field
    }
}

impl DerefMut for StrPart {
    fn deref_mut(&mut self) -> &mut Field<Blob> {
        &mut self.field
    }
}

impl StrPart {
    /// Ask for what a read of the string looks at first: the counter's entries, the first
    /// register's value (when it is not inline) and the bit writes (see
    /// [`crate::Keyspace::prefetch`]).
    pub fn prefetch(&self) {
        self.field.prefetch();
        if let Some(r) = self.field.regs().first() {
            crate::prefetch::prefetch(&r.value[..]);
        }
        if let Some(b) = &self.bits {
            crate::prefetch::prefetch(&**b);
        }
    }

    /// Partial writes not baked in yet, in the order they apply (stamp, then dot).
    pub fn bits(&self) -> &[(Tag, StrWrite)] {
        self.bits.as_deref().map_or(&[], |b| &b.pending)
    }

    /// What the register has baked in (see [`StrPart::gc`]).
    pub fn baked(&self) -> Option<&Baked> {
        self.bits.as_deref().and_then(|b| b.baked.as_ref())
    }

    /// Whether the string has bit writes, pending or baked: its value is then not its
    /// register's alone, in a way that depends on what each region has baked so far.
    pub fn has_bit_writes(&self) -> bool {
        self.bits.is_some()
    }

    pub fn is_live(&self) -> bool {
        self.field.is_live() || !self.bits().is_empty()
    }

    pub fn is_void(&self) -> bool {
        self.field.is_void() && self.bits().is_empty()
    }

    pub fn max_stamp(&self) -> Option<Stamp> {
        let bits = self.bits().iter().map(|(t, _)| t.stamp()).max();
        self.field.max_stamp().max(bits)
    }

    /// The ops of the string's pieces, baked bit writes included: a write that observes the
    /// key removes them all by this cutoff.
    pub fn observe_into(&self, vv: &mut VersionVector) {
        self.field.observe_into(vv);
        for (t, _) in self.bits() {
            vv.add(t.dot);
        }
        if let Some(b) = self.baked() {
            vv.join(&b.through);
        }
    }

    /// Restore what the register has baked in (a decoded state).
    pub fn set_baked(&mut self, b: Baked) -> Result<(), &'static str> {
        if !self.field.regs().iter().any(|r| r.tag.dot == b.reg) {
            return Err("baked bit writes without their register");
        }
        if self.bits().iter().any(|(t, _)| b.through.covers(t.dot)) {
            return Err("a pending bit write that is baked");
        }
        self.bits_mut().baked = Some(b);
        Ok(())
    }

    fn bits_mut(&mut self) -> &mut Bits {
        self.bits.get_or_insert_with(Box::default)
    }

    pub fn add_bits(&mut self, tag: Tag, w: StrWrite, tomb: &Tomb) {
        if tomb.kills(tag.dot) || self.baked().is_some_and(|b| b.through.covers(tag.dot)) {
            return;
        }
        let StrPart { field, bits } = self;
        let b = bits.get_or_insert_with(Box::default);
        let at = match b
            .pending
            .binary_search_by_key(&apply_order(&tag), |(t, _)| apply_order(t))
        {
            Ok(_) => return,
            Err(at) => at,
        };
        let counted = b.len.filter(|&(of, _)| {
            at == b.pending.len() && of == crate::string::key_value(field).len()
        });
        match b.placed.as_deref_mut() {
            Some(p) => p.add(&tag, &w),
            None if b.pending.len() + 1 >= PLACED_FROM => {
                let mut p = Placed::of(&b.pending);
                p.add(&tag, &w);
                b.placed = Some(Box::new(p));
            }
            None => {}
        }
        match counted {
            // The common case, a write later than those pending: counted on.
            Some((of, len)) => b.len = w.reach(len).map(|len| (of, len)),
            // Counted again by the next write made here (not at each of the writes that
            // arrive from a region back from a cut, between those made meanwhile).
            None if at < b.pending.len() => b.len = None,
            None => {
                b.pending.push((tag, w));
                self.count_len();
                return;
            }
        }
        b.pending.insert(at, (tag, w));
    }

    /// Count the value's length with the pending writes afresh (see [`Bits::len`]).
    fn count_len(&mut self) {
        let StrPart { field, bits } = self;
        let Some(b) = bits.as_deref_mut() else {
            return;
        };
        let base = crate::string::key_value(field).len();
        b.len = b
            .pending
            .iter()
            .try_fold(base, |len, (_, w)| w.reach(len))
            .map(|len| (base, len));
    }

    /// Remove the bit write `dot` (or, for a [`BAKED_THROUGH`] dot, every one of its origin
    /// up to its op), pending here or baked into a register made of it.
    pub fn remove_bits(&mut self, dot: Dot) {
        if let Some(b) = &mut self.bits {
            b.retain(|t| match dot.idx {
                BAKED_THROUGH => !(t.dot.server == dot.server && t.dot.op <= dot.op),
                _ => t.dot != dot,
            });
        }
        if dot.idx != BAKED_THROUGH {
            self.field.remove_dot(dot);
        }
        self.tidy();
    }

    /// Remove the register write `dot`, which may be a bit write pending here that another
    /// region baked into a register of its own.
    pub fn remove_reg(&mut self, dot: Dot) {
        self.field.remove_dot(dot);
        if let Some(b) = &mut self.bits {
            b.retain(|t| t.dot != dot);
        }
        self.tidy();
    }

    pub fn prune(&mut self, tomb: &Tomb) {
        self.field.prune(tomb);
        if let Some(b) = &mut self.bits {
            b.retain(|t| !tomb.kills(t.dot));
        }
        self.tidy();
    }

    /// Drop what is baked into a register that is gone, and an empty record.
    fn tidy(&mut self) {
        let Some(b) = &mut self.bits else { return };
        let regs = self.field.regs();
        if b.baked
            .as_ref()
            .is_some_and(|k| !regs.iter().any(|r| r.tag.dot == k.reg))
        {
            b.baked = None;
        }
        if b.pending.is_empty() && b.baked.is_none() {
            self.bits = None;
        } else if b.pending.len() < PLACED_UNTIL {
            b.placed = None;
        }
        self.count_len();
    }

    pub fn merge(&mut self, o: &StrPart, tomb: &Tomb) {
        self.field.merge(&o.field, tomb);
        // Of one register, the copy that has more baked in (the other's baked writes are
        // a part of them: both are the same writes taken in stamp order).
        if let Some(theirs) = o.baked() {
            let ours = self.baked();
            let further =
                ours.is_none_or(|b| b.reg != theirs.reg || !b.through.dominates(&theirs.through));
            let value = o.field.regs().iter().find(|r| r.tag.dot == theirs.reg);
            if let (true, Some(v)) = (further, value) {
                if let Some(mine) = self.field.reg_value_mut(theirs.reg) {
                    *mine = v.value.clone();
                    let b = self.bits_mut();
                    b.baked = Some(theirs.clone());
                    b.retain(|t| !theirs.through.covers(t.dot));
                }
            }
        }
        for (t, w) in o.bits() {
            self.add_bits(*t, w.clone(), tomb);
        }
        self.tidy();
    }

    /// The bytes the key reads as: the register's value (crossing HyperLogLogs joined), with
    /// the bit writes applied in stamp order.
    pub fn value(&self) -> Cow<'_, [u8]> {
        let base = crate::string::key_value(&self.field);
        let pending = self.bits();
        if pending.is_empty() {
            return base;
        }
        let mut v = base.into_owned();
        for (_, w) in pending {
            w.apply(&mut v);
        }
        Cow::Owned(v)
    }

    /// How many bytes [`StrPart::value`] has, told without building it (unless a register
    /// raise is pending), and without a walk of the pending writes once counted.
    pub fn value_len(&self) -> usize {
        let base = crate::string::key_value(&self.field).len();
        let Some(b) = self.bits.as_deref() else {
            return base;
        };
        if let Some((_, len)) = b.len.filter(|&(of, _)| of == base) {
            return len;
        }
        b.pending
            .iter()
            .try_fold(base, |len, (_, w)| w.reach(len))
            .unwrap_or_else(|| self.value().len())
    }

    /// The bit at `offset` (0 past the end) and the length the value has in bytes, read
    /// without building the value (unless the latest write of the bit is an increment, or
    /// an append or register raise is pending), and without a walk of the pending writes
    /// once many are (see [`Placed`]).
    pub fn bit(&self, offset: u64) -> (bool, usize) {
        let bit_of = |v: &[u8]| {
            v.get((offset / 8) as usize)
                .is_some_and(|b| b & (0x80 >> (offset % 8)) != 0)
        };
        let latest = match self.bits.as_deref() {
            None => Latest::Register,
            Some(Bits {
                placed: Some(p), ..
            }) => p.latest(offset),
            Some(Bits { pending, .. }) if pending.iter().any(|(_, w)| !w.has_place()) => {
                Latest::Value
            }
            Some(Bits { pending, .. }) => pending
                .iter()
                .rev()
                .find(|(_, w)| w.covers_bit(offset))
                .map_or(Latest::Register, |(_, w)| match w.bit_written(offset) {
                    Some(on) => Latest::Bit(on),
                    None => Latest::Value,
                }),
        };
        let on = match latest {
            Latest::Register => bit_of(&crate::string::key_value(&self.field)),
            Latest::Bit(on) => on,
            Latest::Value => {
                let v = self.value();
                return (bit_of(&v), v.len());
            }
        };
        (on, self.value_len())
    }

    /// The register's garbage collection, and the baking of bit writes into it: those that
    /// are causally stable (`stable`: every region has applied them, and every op made
    /// concurrently with them has been applied here), taken in stamp order while they are,
    /// are applied to the register's value and leave the pending list, provided the register
    /// is one write (or none: the first baked write makes it) that is stable too and no
    /// counter adds to it. No write that could still arrive is concurrent with them, so none
    /// would have them applied differently: every region bakes them into the same value, at
    /// its own pace (digests read the value, not the baking: see `codec/key.rs`). Returns
    /// whether anything changed.
    pub fn gc(&mut self, stable: &VersionVector) -> bool {
        let mut changed = self.field.gc(stable);
        if !self.bits().is_empty() {
            changed |= self.bake(stable);
        }
        changed
    }

    /// Whether bit writes can be baked into the register: no counter adds to it, and it is
    /// one write (or none) — concurrent writes are resolved by a later write first.
    pub fn takes_bit_writes(&self) -> bool {
        self.field.entries().is_empty() && self.field.regs().len() <= 1
    }

    /// The op whose stability the baking of the pending bit writes waits for next (see
    /// [`StrPart::gc`]): the register's, else the first pending write's, in stamp order,
    /// that `stable` does not cover. `None`: nothing pending, or the register cannot take
    /// them whatever becomes stable (a counter, concurrent writes: a later write resolves).
    pub fn bake_waits_for(&self, stable: &VersionVector) -> Option<Dot> {
        let regs = self.field.regs();
        if self.bits().is_empty() || !self.takes_bit_writes() {
            return None;
        }
        if let Some(r) = regs.first().filter(|r| !stable.covers(r.tag.dot)) {
            return Some(r.tag.dot);
        }
        self.bits()
            .iter()
            .find(|(t, _)| !stable.covers(t.dot))
            .map(|(t, _)| t.dot)
    }

    fn bake(&mut self, stable: &VersionVector) -> bool {
        if !self.takes_bit_writes()
            || self
                .field
                .regs()
                .first()
                .is_some_and(|r| !stable.covers(r.tag.dot))
        {
            return false;
        }
        let StrPart { field, bits } = self;
        let Some(b) = bits.as_deref_mut() else {
            return false;
        };
        let n = b
            .pending
            .iter()
            .take_while(|(t, _)| stable.covers(t.dot))
            .count();
        if n == 0 {
            return false;
        }
        let reg = match field.regs().first() {
            Some(r) => r.tag,
            None => {
                // The first baked write makes the register, under its own dot: a write that
                // observed it pending elsewhere removes the register by that dot.
                let first = b.pending[0].0;
                field.add_reg(first, Blob::new(), &Tomb::default());
                first
            }
        };
        let value = field.reg_value_mut(reg.dot).expect("the register is there");
        let writes = || b.pending[..n].iter().map(|(_, w)| w);
        // In place when each write fits the string as it is (a register raise, once the
        // string is a dense HyperLogLog), else grown in place, with room to grow again.
        if writes().all(|w| w.fits(value)) {
            let bytes = value.as_mut_slice();
            for w in writes() {
                w.apply_in_place(bytes);
            }
        } else {
            let reach = writes().fold(value.len(), |len, w| w.reach(len).unwrap_or(len));
            value.grow(reach, |v| {
                for w in writes() {
                    w.apply(v);
                }
            });
        }
        let k = b.baked.get_or_insert_with(|| Baked {
            reg: reg.dot,
            through: VersionVector::new(),
        });
        for (t, w) in b.pending.drain(..n) {
            k.through.add(t.dot);
            if let Some(p) = b.placed.as_deref_mut() {
                p.remove(&t, &w);
            }
        }
        self.tidy();
        true
    }
}

impl crate::heap::HeapSize for StrPart {
    fn heap_bytes(&self) -> usize {
        self.field.heap_bytes()
            + self.bits.as_deref().map_or(0, |b| {
                std::mem::size_of::<Bits>()
                    + b.pending.capacity() * std::mem::size_of::<(Tag, StrWrite)>()
                    + b.pending.iter().map(|(_, w)| w.heap_bytes()).sum::<usize>()
                    + b.placed.as_deref().map_or(0, Placed::heap_bytes)
                    + b.baked.as_ref().map_or(0, |k| k.through.heap_bytes())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bit_reads_the_same_from_the_writes_as_from_the_value() {
        let mut s = StrPart::default();
        let none = Tomb::default();
        let w = |offset, width, value| BitWrite::set(offset, width, value).into();
        s.add_bits(tag(1, 10), w(0, 16, 0xabcd), &none);
        s.add_bits(tag(2, 20), w(4, 4, 0x0), &none);
        s.add_bits(tag(3, 5), w(8, 1, 0), &none);
        s.add_bits(tag(4, 30), BitWrite::add(12, 8, 0x11).into(), &none);
        let v = s.value();
        assert_eq!(&v[..], [0xa0, 0xce, 0x10]);
        reads_each_bit_as_the_value(&s);
        // Byte ranges and bits crossing them, in stamp order.
        let mut s = StrPart::default();
        let range = |offset, bytes: &[u8]| StrWrite::Range {
            offset,
            bytes: Blob::from(bytes),
        };
        s.add_bits(tag(1, 10), range(1, &[0x0f, 0xf0]), &none);
        s.add_bits(tag(2, 20), w(8, 4, 0xa), &none);
        s.add_bits(tag(3, 5), range(0, &[0x80]), &none);
        assert_eq!(&s.value()[..], [0x80, 0xaf, 0xf0]);
        reads_each_bit_as_the_value(&s);
    }

    fn tag(op: u64, ms: u64) -> Tag {
        Tag::new(
            Dot::new(crate::ids::ServerId(1), crate::ids::OpId(op), 0),
            crate::hlc::Hlc::new(ms, 0),
        )
    }

    fn reads_each_bit_as_the_value(s: &StrPart) {
        let v = s.value();
        assert_eq!(s.value_len(), v.len());
        for offset in 0..8 * v.len() as u64 + 8 {
            let want = v
                .get((offset / 8) as usize)
                .is_some_and(|b| b & (0x80 >> (offset % 8)) != 0);
            assert_eq!(s.bit(offset), (want, v.len()), "{offset}");
        }
    }

    proptest::proptest! {
        /// Bits and lengths read the same from the pending writes, indexed or walked, as
        /// from the value, whatever order the writes came in and whichever of them were
        /// removed or baked since.
        #[test]
        fn a_bit_reads_as_the_value_however_many_writes_are_pending(
            writes in proptest::collection::vec((0u64..40, 0u8..10, 0u64..80, proptest::prelude::any::<u64>()), 0..90),
            removed in proptest::collection::vec(1u64..90, 0..12),
            stable_through in 0u64..90,
            long in proptest::prelude::any::<bool>(),
        ) {
            let none = Tomb::default();
            let mut s = StrPart::default();
            let reg = Tag::new(
                Dot::new(crate::ids::ServerId(2), crate::ids::OpId(1), 0),
                crate::hlc::Hlc::new(0, 0),
            );
            s.field.add_reg(reg, Blob::from("base"), &none);
            for (i, &(ms, kind, offset, v)) in writes.iter().enumerate() {
                // Bit writes most, increments and short ranges some, and in half the
                // cases one long range (which the index does not list) at the last.
                let kind = if long && i + 1 == writes.len() { 9 } else { kind.min(8) };
                let w = match kind {
                    0..=4 => BitWrite::set(offset, 1 + (v % 16) as u8, v).into(),
                    5 | 6 => BitWrite::add(offset, 8, v).into(),
                    7 | 8 => StrWrite::Range {
                        offset: offset / 8,
                        bytes: Blob::from(&v.to_be_bytes()[..(v % 4) as usize + 1]),
                    },
                    _ => StrWrite::Range {
                        offset: offset / 8,
                        bytes: Blob::from(vec![v as u8; placed::PLACED_RANGE_MAX + 1]),
                    },
                };
                s.add_bits(tag(i as u64 + 1, ms), w, &none);
                let indexed = s.bits.as_deref().is_some_and(|b| b.placed.is_some());
                proptest::prop_assert_eq!(indexed, i + 1 >= PLACED_FROM);
                if i % 16 == 15 {
                    reads_each_bit_as_the_value(&s);
                }
            }
            reads_each_bit_as_the_value(&s);
            for op in removed {
                s.remove_bits(tag(op, 0).dot);
            }
            reads_each_bit_as_the_value(&s);
            let mut stable = VersionVector::new();
            stable.add(reg.dot);
            for op in 1..=stable_through {
                stable.add(tag(op, 0).dot);
            }
            s.gc(&stable);
            reads_each_bit_as_the_value(&s);
        }
    }

    #[test]
    fn appends_apply_in_stamp_order_and_bake_in_place() {
        let none = Tomb::default();
        let mut s = StrPart::default();
        s.field.add_reg(tag(1, 1), Blob::from("x"), &none);
        let append = |b: &str| StrWrite::Append(Blob::from(b));
        s.add_bits(tag(3, 30), append("c"), &none);
        s.add_bits(tag(2, 20), append("ab"), &none);
        s.add_bits(
            tag(4, 40),
            BitWrite::set(0, 8, u64::from(b'y')).into(),
            &none,
        );
        assert_eq!(&s.value()[..], b"yabc");
        reads_each_bit_as_the_value(&s);
        // Stable through op 3: the appends bake, the later bit write stays pending.
        let mut stable = VersionVector::new();
        for op in 1..=3 {
            stable.add(tag(op, 0).dot);
        }
        assert!(s.gc(&stable));
        assert_eq!(s.regs()[0].value.as_slice(), b"xabc");
        assert_eq!(s.bits().len(), 1);
        assert_eq!(&s.value()[..], b"yabc");
        stable.add(tag(4, 0).dot);
        assert!(s.gc(&stable));
        assert!(s.bits().is_empty());
        assert_eq!(&s.value()[..], b"yabc");
    }

    #[test]
    fn writes_land_at_redis_bit_positions_and_grow_the_string() {
        let mut v = Vec::new();
        BitWrite::set(7, 1, 1).apply(&mut v);
        assert_eq!(v, [0x01]);
        BitWrite::set(4, 8, 0xff).apply(&mut v);
        assert_eq!(v, [0x0f, 0xf0]);
        BitWrite::set(4, 4, 0).apply(&mut v);
        assert_eq!(v, [0x00, 0xf0]);
    }

    #[test]
    fn increments_wrap_at_the_field_s_width_in_either_order() {
        // 0xf0 in the 8 bits at offset 4, then +0x20 and -0x01 (as 8-bit two's complement).
        let base = vec![0x0f, 0x00];
        let (up, down) = (BitWrite::add(4, 8, 0x20), BitWrite::add(4, 8, 0xff));
        let mut a = base.clone();
        up.apply(&mut a);
        down.apply(&mut a);
        let mut b = base;
        down.apply(&mut b);
        up.apply(&mut b);
        assert_eq!(a, b);
        // 0xf0 + 0x20 - 1 = 0x10f, wrapped: 0x0f.
        assert_eq!(a, [0x00, 0xf0]);
        // A 64-bit field wraps too, and an increment past the end grows the string.
        let mut c = vec![0xff; 8];
        BitWrite::add(0, 64, 2).apply(&mut c);
        assert_eq!(c, [0, 0, 0, 0, 0, 0, 0, 1]);
        let mut d = Vec::new();
        BitWrite::add(8, 8, 5).apply(&mut d);
        assert_eq!(d, [0, 5]);
    }
}
