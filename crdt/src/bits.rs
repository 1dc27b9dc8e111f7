//! Bit writes: what SETBIT and BITFIELD's SET and INCRBY replicate instead of the whole
//! string, so that writes of different bits made concurrently in two regions both survive.
//! A string key keeps the bit writes not yet known everywhere beside its register
//! ([`StrPart`]) and reads as the register's value with them applied in stamp order (so of
//! two writes of one bit, the later wins, and a bit write made concurrently with a write of
//! the whole string is applied over it). When a key holds many, the next bit write at its
//! origin writes the whole value instead, which observes and replaces them (a write that
//! crosses it elsewhere still applies over it), so a bitmap's pending writes stay few.

use crate::blob::Blob;
use crate::field::Field;
use crate::ids::{Dot, Stamp, Tag};
use crate::tomb::Tomb;
use crate::vv::VersionVector;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::ops::{Deref, DerefMut};

/// A write of `width` bits (1 to 64) at bit `offset` (bit 0 is the most significant bit of
/// byte 0, Redis's order): the low `width` bits of `value`, most significant first; or, for
/// an increment, the field's bits plus `value`, wrapping at `width` bits; or a HyperLogLog
/// register raised to `value` (register number `offset`, width 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BitWrite {
    pub offset: u64,
    pub width: u8,
    pub value: u64,
    pub op: BitOp,
}

/// What a [`BitWrite`] does with its field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitOp {
    /// Writes `value` (SETBIT, BITFIELD SET, and INCRBY under SAT or FAIL).
    Set,
    /// BITFIELD INCRBY under OVERFLOW WRAP: an increment, which commutes with another, so
    /// that increments of one field made concurrently in two regions both count.
    Add,
    /// PFADD to a dense HyperLogLog: a register raised to at least `value`, which commutes
    /// (registers merge by maximum), so that the string is not replicated whole.
    HllMax,
}

impl BitWrite {
    /// Write `value`'s low `width` bits.
    pub fn set(offset: u64, width: u8, value: u64) -> BitWrite {
        BitWrite {
            offset,
            width,
            value,
            op: BitOp::Set,
        }
    }

    /// Add `by` to the field, wrapping at `width` bits (two's complement: a signed field
    /// wraps the same way).
    pub fn add(offset: u64, width: u8, by: u64) -> BitWrite {
        let mask = u64::MAX >> (64 - u32::from(width.clamp(1, 64)));
        BitWrite {
            offset,
            width,
            value: by & mask,
            op: BitOp::Add,
        }
    }

    /// Raise HyperLogLog register `index` to `count` (see [`crate::hll::apply_raise`]).
    pub fn hll_raise(index: usize, count: u8) -> BitWrite {
        BitWrite {
            offset: index as u64,
            width: 6,
            value: u64::from(count),
            op: BitOp::HllMax,
        }
    }

    fn covers(&self, bit: u64) -> bool {
        self.op != BitOp::HllMax && self.offset <= bit && bit < self.offset + u64::from(self.width)
    }

    /// How many bytes the string has once applied (`len`: before), if that can be told
    /// without applying it.
    fn reach(&self, len: usize) -> Option<usize> {
        match self.op {
            BitOp::HllMax => None,
            _ => Some(len.max((self.offset + u64::from(self.width)).div_ceil(8) as usize)),
        }
    }

    /// Apply to `bytes`, growing them with zero bytes as far as the write reaches.
    pub fn apply(&self, bytes: &mut Vec<u8>) {
        if self.op == BitOp::HllMax {
            crate::hll::apply_raise(bytes, self.offset as usize, self.value as u8);
            return;
        }
        let need = (self.offset + u64::from(self.width)).div_ceil(8) as usize;
        if bytes.len() < need {
            bytes.resize(need, 0);
        }
        self.apply_in_place(bytes);
    }

    /// Whether [`BitWrite::apply_in_place`] can apply it to `bytes`.
    fn fits(&self, bytes: &[u8]) -> bool {
        match self.op {
            BitOp::HllMax => crate::hll::is_dense_hll(bytes),
            _ => self.reach(bytes.len()) == Some(bytes.len()),
        }
    }

    /// Apply to `bytes`, which it fits (see [`BitWrite::fits`]).
    fn apply_in_place(&self, bytes: &mut [u8]) {
        let (offset, width) = (self.offset, u32::from(self.width));
        let value = match self.op {
            BitOp::Set => self.value,
            BitOp::Add => field(bytes, offset, width).wrapping_add(self.value),
            BitOp::HllMax => {
                crate::hll::raise_dense(bytes, offset as usize, self.value as u8);
                return;
            }
        };
        set_field(bytes, offset, width, value);
    }
}

/// The `width` bits (1 to 64) at bit `offset` of `bytes`, most significant first, as an
/// unsigned number (zero past the end of `bytes`): a BITFIELD field, in Redis's bit order.
pub fn field(bytes: &[u8], offset: u64, width: u32) -> u64 {
    (0..u64::from(width)).fold(0u64, |v, i| {
        let at = offset + i;
        let on = bytes
            .get((at / 8) as usize)
            .is_some_and(|b| b & (0x80 >> (at % 8)) != 0);
        (v << 1) | u64::from(on)
    })
}

/// Write the low `width` bits of `value` at bit `offset` of `bytes`, which reach that far.
pub fn set_field(bytes: &mut [u8], offset: u64, width: u32, value: u64) {
    for i in 0..u64::from(width) {
        let on = (value >> (u64::from(width) - 1 - i)) & 1 == 1;
        let at = offset + i;
        let (byte, mask) = ((at / 8) as usize, 0x80u8 >> (at % 8));
        if on {
            bytes[byte] |= mask;
        } else {
            bytes[byte] &= !mask;
        }
    }
}

/// A string key's content: its register and counter ([`Field`]), and the bit writes made
/// on top of it that are not baked in yet.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StrPart {
    pub field: Field<Blob>,
    bits: Option<Box<Bits>>,
}

/// A string's bit writes: those pending (sorted by dot), and what was baked into the
/// register (see [`StrPart::gc`]).
#[derive(Clone, Debug, PartialEq, Default)]
struct Bits {
    pending: Vec<(Tag, BitWrite)>,
    baked: Option<Baked>,
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

    /// Bit writes not baked in yet, sorted by dot.
    pub fn bits(&self) -> &[(Tag, BitWrite)] {
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

    pub fn add_bits(&mut self, tag: Tag, w: BitWrite, tomb: &Tomb) {
        if tomb.kills(tag.dot) || self.baked().is_some_and(|b| b.through.covers(tag.dot)) {
            return;
        }
        let pending = &mut self.bits_mut().pending;
        if let Err(i) = pending.binary_search_by_key(&tag.dot, |(t, _)| t.dot) {
            pending.insert(i, (tag, w));
        }
    }

    /// Remove the bit write `dot` (or, for a [`BAKED_THROUGH`] dot, every one of its origin
    /// up to its op), pending here or baked into a register made of it.
    pub fn remove_bits(&mut self, dot: Dot) {
        if let Some(b) = &mut self.bits {
            b.pending.retain(|(t, _)| match dot.idx {
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
            b.pending.retain(|(t, _)| t.dot != dot);
        }
        self.tidy();
    }

    pub fn prune(&mut self, tomb: &Tomb) {
        self.field.prune(tomb);
        if let Some(b) = &mut self.bits {
            b.pending.retain(|(t, _)| !tomb.kills(t.dot));
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
        }
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
                    b.pending.retain(|(t, _)| !theirs.through.covers(t.dot));
                }
            }
        }
        for (t, w) in o.bits() {
            self.add_bits(*t, *w, tomb);
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
        let mut bits: SmallVec<[&(Tag, BitWrite); 4]> = pending.iter().collect();
        bits.sort_by_key(|(t, _)| t.stamp());
        for (_, w) in bits {
            w.apply(&mut v);
        }
        Cow::Owned(v)
    }

    /// The bit at `offset` (0 past the end) and the length the value has in bytes, read
    /// without building the value (unless an increment covers the bit).
    pub fn bit(&self, offset: u64) -> (bool, usize) {
        let pending = self.bits();
        let read_whole = |w: &BitWrite| match w.op {
            BitOp::Set => false,
            BitOp::Add => w.covers(offset),
            BitOp::HllMax => true,
        };
        if pending.iter().any(|(_, w)| read_whole(w)) {
            let v = self.value();
            let on = v
                .get((offset / 8) as usize)
                .is_some_and(|b| b & (0x80 >> (offset % 8)) != 0);
            return (on, v.len());
        }
        let base = crate::string::key_value(&self.field);
        let len = pending
            .iter()
            .filter_map(|(_, w)| w.reach(0))
            .fold(base.len(), usize::max);
        let latest = pending
            .iter()
            .filter(|(_, w)| w.covers(offset))
            .max_by_key(|(t, _)| t.stamp());
        let on = match latest {
            Some((_, w)) => (w.value >> (w.offset + u64::from(w.width) - 1 - offset)) & 1 == 1,
            None => base
                .get((offset / 8) as usize)
                .is_some_and(|b| b & (0x80 >> (offset % 8)) != 0),
        };
        (on, len)
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
            .filter(|(t, _)| !stable.covers(t.dot))
            .min_by_key(|(t, _)| t.stamp())
            .map(|(t, _)| t.dot)
    }

    fn bake(&mut self, stable: &VersionVector) -> bool {
        let regs = self.field.regs();
        if !self.takes_bit_writes() || regs.first().is_some_and(|r| !stable.covers(r.tag.dot)) {
            return false;
        }
        let pending = self.bits();
        let mut order: SmallVec<[usize; 8]> = (0..pending.len()).collect();
        order.sort_by_key(|&i| pending[i].0.stamp());
        let n = order
            .iter()
            .take_while(|&&i| stable.covers(pending[i].0.dot))
            .count();
        if n == 0 {
            return false;
        }
        let baked: SmallVec<[(Tag, BitWrite); 8]> =
            order[..n].iter().map(|&i| pending[i]).collect();
        let reg = match regs.first() {
            Some(r) => r.tag,
            None => {
                // The first baked write makes the register, under its own dot: a write that
                // observed it pending elsewhere removes the register by that dot.
                self.field
                    .add_reg(baked[0].0, Blob::new(), &Tomb::default());
                baked[0].0
            }
        };
        let value = self
            .field
            .reg_value_mut(reg.dot)
            .expect("the register is there");
        // In place when each write fits the string as it is (a register raise, once the
        // string is a dense HyperLogLog), else in a copy, which may grow.
        if !baked.iter().all(|(_, w)| w.fits(value)) {
            let reach = baked
                .iter()
                .filter_map(|(_, w)| w.reach(value.len()))
                .fold(value.len(), usize::max);
            let mut grown = Vec::with_capacity(reach);
            grown.extend_from_slice(value);
            for (_, w) in &baked {
                w.apply(&mut grown);
            }
            *value = Blob::from(grown);
        } else {
            let bytes = value.as_mut_slice();
            for (_, w) in &baked {
                w.apply_in_place(bytes);
            }
        }
        let b = self.bits_mut();
        let k = b.baked.get_or_insert_with(|| Baked {
            reg: reg.dot,
            through: VersionVector::new(),
        });
        for (t, _) in &baked {
            k.through.add(t.dot);
        }
        b.pending
            .retain(|(t, _)| !baked.iter().any(|(d, _)| d.dot == t.dot));
        self.tidy();
        true
    }
}

impl crate::heap::HeapSize for StrPart {
    fn heap_bytes(&self) -> usize {
        self.field.heap_bytes()
            + self.bits.as_deref().map_or(0, |b| {
                std::mem::size_of::<Bits>()
                    + b.pending.capacity() * std::mem::size_of::<(Tag, BitWrite)>()
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
        let tag = |op: u64, ms: u64| {
            Tag::new(
                Dot::new(crate::ids::ServerId(1), crate::ids::OpId(op), 0),
                crate::hlc::Hlc::new(ms, 0),
            )
        };
        let w = BitWrite::set;
        s.add_bits(tag(1, 10), w(0, 16, 0xabcd), &none);
        s.add_bits(tag(2, 20), w(4, 4, 0x0), &none);
        s.add_bits(tag(3, 5), w(8, 1, 0), &none);
        s.add_bits(tag(4, 30), BitWrite::add(12, 8, 0x11), &none);
        let v = s.value();
        assert_eq!(&v[..], [0xa0, 0xce, 0x10]);
        for offset in 0..24 {
            let want = v
                .get((offset / 8) as usize)
                .is_some_and(|b| b & (0x80 >> (offset % 8)) != 0);
            assert_eq!(s.bit(offset), (want, v.len()), "{offset}");
        }
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
