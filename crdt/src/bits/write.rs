//! The writes a string keeps beside its register until they are baked in: what each
//! writes, and how it applies to the bytes.

use crate::blob::Blob;

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

    pub(super) fn covers(&self, bit: u64) -> bool {
        self.op != BitOp::HllMax && self.offset <= bit && bit < self.offset + u64::from(self.width)
    }

    /// How many bytes the string has once applied (`len`: before), if that can be told
    /// without applying it.
    pub(super) fn reach(&self, len: usize) -> Option<usize> {
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
    pub(super) fn fits(&self, bytes: &[u8]) -> bool {
        match self.op {
            BitOp::HllMax => crate::hll::is_dense_hll(bytes),
            _ => self.reach(bytes.len()) == Some(bytes.len()),
        }
    }

    /// Apply to `bytes`, which it fits (see [`BitWrite::fits`]).
    pub(super) fn apply_in_place(&self, bytes: &mut [u8]) {
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

/// A write a string keeps beside its register until it is baked in (see [`StrPart::gc`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrWrite {
    /// SETBIT, BITFIELD, PFADD's register raises.
    Bits(BitWrite),
    /// SETRANGE: `bytes` written at byte `offset`, the string grown with zero bytes to it.
    Range { offset: u64, bytes: Blob },
    /// APPEND: `bytes` added at the end of the string as it is where the write applies.
    Append(Blob),
}

/// How far a decoded byte write may reach: 4 GiB (Redis's strings stop at 512 MB unless
/// proto-max-bulk-len is raised), so that a corrupt offset is refused, not allocated.
pub const BYTE_WRITE_REACH_MAX: u64 = 1 << 32;

impl From<BitWrite> for StrWrite {
    fn from(w: BitWrite) -> Self {
        StrWrite::Bits(w)
    }
}

impl StrWrite {
    /// How many bytes the string has once applied (`len`: before), if that can be told
    /// without applying it.
    pub fn reach(&self, len: usize) -> Option<usize> {
        match self {
            StrWrite::Bits(w) => w.reach(len),
            StrWrite::Range { offset, bytes } => Some(len.max(*offset as usize + bytes.len())),
            StrWrite::Append(bytes) => Some(len + bytes.len()),
        }
    }

    /// Apply to `v`, growing it as far as the write reaches.
    pub fn apply(&self, v: &mut Vec<u8>) {
        match self {
            StrWrite::Bits(w) => w.apply(v),
            StrWrite::Range { offset, bytes } => {
                let (from, to) = (*offset as usize, *offset as usize + bytes.len());
                if v.len() < to {
                    v.resize(to, 0);
                }
                v[from..to].copy_from_slice(bytes);
            }
            StrWrite::Append(bytes) => v.extend_from_slice(bytes),
        }
    }

    /// Whether [`StrWrite::apply_in_place`] can apply it to `bytes` (it does not grow them).
    pub(super) fn fits(&self, bytes: &[u8]) -> bool {
        match self {
            StrWrite::Bits(w) => w.fits(bytes),
            StrWrite::Range { .. } => self.reach(bytes.len()) == Some(bytes.len()),
            StrWrite::Append(add) => add.is_empty(),
        }
    }

    /// Apply to `bytes`, which it fits (see [`StrWrite::fits`]).
    pub(super) fn apply_in_place(&self, bytes: &mut [u8]) {
        match self {
            StrWrite::Bits(w) => w.apply_in_place(bytes),
            StrWrite::Range { offset, bytes: b } => {
                let from = *offset as usize;
                bytes[from..from + b.len()].copy_from_slice(b);
            }
            StrWrite::Append(_) => {}
        }
    }

    /// The bit at `offset` it writes, when that bit is its own whatever it applies to (not
    /// an increment's, a register raise's or an append's).
    pub(super) fn bit_written(&self, offset: u64) -> Option<bool> {
        match self {
            StrWrite::Bits(w) if w.op == BitOp::Set && w.covers(offset) => {
                Some((w.value >> (w.offset + u64::from(w.width) - 1 - offset)) & 1 == 1)
            }
            StrWrite::Range { offset: at, bytes } => {
                let byte = (offset / 8).checked_sub(*at)?;
                let b = bytes.get(byte as usize)?;
                Some(b & (0x80 >> (offset % 8)) != 0)
            }
            _ => None,
        }
    }

    /// Whether it writes the bit at `offset` (an increment included).
    pub(super) fn covers_bit(&self, offset: u64) -> bool {
        match self {
            StrWrite::Bits(w) => w.covers(offset),
            StrWrite::Range { offset: at, bytes } => (offset / 8)
                .checked_sub(*at)
                .is_some_and(|i| i < bytes.len() as u64),
            StrWrite::Append(_) => false,
        }
    }

    /// Whether the bytes it writes are known without the value it applies to (not an
    /// append's, nor a register raise's).
    pub(super) fn has_place(&self) -> bool {
        !matches!(
            self,
            StrWrite::Append(_)
                | StrWrite::Bits(BitWrite {
                    op: BitOp::HllMax,
                    ..
                })
        )
    }

    /// How many bytes it carries (a bit write none).
    pub fn payload_len(&self) -> usize {
        match self {
            StrWrite::Bits(_) => 0,
            StrWrite::Range { bytes, .. } | StrWrite::Append(bytes) => bytes.len(),
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            StrWrite::Bits(_) => 0,
            StrWrite::Range { bytes, .. } | StrWrite::Append(bytes) => bytes.heap_bytes(),
        }
    }
}
