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
/// an increment (`add`), the field's bits plus `value`, wrapping at `width` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BitWrite {
    pub offset: u64,
    pub width: u8,
    pub value: u64,
    /// BITFIELD INCRBY under OVERFLOW WRAP: an increment, which commutes with another, so
    /// that increments of one field made concurrently in two regions both count.
    pub add: bool,
}

impl BitWrite {
    /// Write `value`'s low `width` bits.
    pub fn set(offset: u64, width: u8, value: u64) -> BitWrite {
        BitWrite {
            offset,
            width,
            value,
            add: false,
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
            add: true,
        }
    }

    fn covers(&self, bit: u64) -> bool {
        self.offset <= bit && bit < self.offset + u64::from(self.width)
    }

    /// Apply to `bytes`, growing them with zero bytes as far as the write reaches.
    pub fn apply(&self, bytes: &mut Vec<u8>) {
        let (offset, width) = (self.offset, u32::from(self.width));
        let need = (offset + u64::from(width)).div_ceil(8) as usize;
        if bytes.len() < need {
            bytes.resize(need, 0);
        }
        let value = if self.add {
            field(bytes, offset, width).wrapping_add(self.value)
        } else {
            self.value
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
/// on top of it that are not folded in yet, sorted by dot.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StrPart {
    pub field: Field<Blob>,
    bits: SmallVec<[(Tag, BitWrite); 0]>,
}

impl From<Field<Blob>> for StrPart {
    fn from(field: Field<Blob>) -> Self {
        StrPart {
            field,
            bits: SmallVec::new(),
        }
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
    /// Bring what a read of the string looks at first into the cache: the counter's
    /// entries, the first register's value (when it is not inline) and the first bit write
    /// (see [`crate::KeyState::prefetch`]).
    pub fn prefetch(&self) {
        self.field.prefetch();
        if let Some(r) = self.field.regs().first() {
            std::hint::black_box(r.value.first());
        }
        std::hint::black_box(self.bits.first().map(|(_, w)| w.offset));
    }

    /// Bit writes not folded in yet, sorted by dot.
    pub fn bits(&self) -> &[(Tag, BitWrite)] {
        &self.bits
    }

    pub fn is_live(&self) -> bool {
        self.field.is_live() || !self.bits.is_empty()
    }

    pub fn is_void(&self) -> bool {
        self.field.is_void() && self.bits.is_empty()
    }

    pub fn max_stamp(&self) -> Option<Stamp> {
        let bits = self.bits.iter().map(|(t, _)| t.stamp()).max();
        self.field.max_stamp().max(bits)
    }

    pub fn observe_into(&self, vv: &mut VersionVector) {
        self.field.observe_into(vv);
        for (t, _) in &self.bits {
            vv.add(t.dot);
        }
    }

    pub fn add_bits(&mut self, tag: Tag, w: BitWrite, tomb: &Tomb) {
        if tomb.kills(tag.dot) {
            return;
        }
        if let Err(i) = self.bits.binary_search_by_key(&tag.dot, |(t, _)| t.dot) {
            self.bits.insert(i, (tag, w));
        }
    }

    pub fn remove_bits(&mut self, dot: Dot) {
        self.bits.retain(|(t, _)| t.dot != dot);
    }

    pub fn prune(&mut self, tomb: &Tomb) {
        self.field.prune(tomb);
        self.bits.retain(|(t, _)| !tomb.kills(t.dot));
    }

    pub fn merge(&mut self, o: &StrPart, tomb: &Tomb) {
        self.field.merge(&o.field, tomb);
        for (t, w) in &o.bits {
            self.add_bits(*t, *w, tomb);
        }
    }

    /// The bytes the key reads as: the register's value (crossing HyperLogLogs joined), with
    /// the bit writes applied in stamp order.
    pub fn value(&self) -> Cow<'_, [u8]> {
        let base = crate::string::key_value(&self.field);
        if self.bits.is_empty() {
            return base;
        }
        let mut v = base.into_owned();
        let mut bits: SmallVec<[&(Tag, BitWrite); 4]> = self.bits.iter().collect();
        bits.sort_by_key(|(t, _)| t.stamp());
        for (_, w) in bits {
            w.apply(&mut v);
        }
        Cow::Owned(v)
    }

    /// The bit at `offset` (0 past the end) and the length the value has in bytes, read
    /// without building the value (unless an increment covers the bit).
    pub fn bit(&self, offset: u64) -> (bool, usize) {
        if self.bits.iter().any(|(_, w)| w.add && w.covers(offset)) {
            let v = self.value();
            let on = v
                .get((offset / 8) as usize)
                .is_some_and(|b| b & (0x80 >> (offset % 8)) != 0);
            return (on, v.len());
        }
        let base = crate::string::key_value(&self.field);
        let reach = |w: &BitWrite| (w.offset + u64::from(w.width)).div_ceil(8) as usize;
        let len = self
            .bits
            .iter()
            .map(|(_, w)| reach(w))
            .fold(base.len(), usize::max);
        let latest = self
            .bits
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

    /// The register's garbage collection (bit writes are folded in by a write that
    /// observed them: [`crate::ops::write_bits`]).
    pub fn gc(&mut self, stable: &VersionVector) -> bool {
        self.field.gc(stable)
    }
}

impl crate::heap::HeapSize for StrPart {
    fn heap_bytes(&self) -> usize {
        self.field.heap_bytes() + crate::heap::smallvec_bytes(&self.bits)
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
