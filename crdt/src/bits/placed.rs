//! An index of a string's pending writes by byte, kept while many are pending (a region
//! cut off), so that a bit is read without a walk of them.

use super::{BitOp, BitWrite, StrWrite, apply_order};
use crate::ids::{Dot, Stamp, Tag};
use smallvec::SmallVec;

/// Pending writes from which an index of where they lie is kept ([`Placed`]), and below
/// which it is dropped: a few are walked faster than indexed.
pub(super) const PLACED_FROM: usize = 32;
pub(super) const PLACED_UNTIL: usize = 8;
/// The longest byte range a [`Placed`] index lists byte by byte.
pub(super) const PLACED_RANGE_MAX: usize = 64;

/// Where a string's pending writes lie, by byte, so that a bit is read without a walk of
/// the writes pending since a region was cut off (SETBIT's reply, GETBIT): per byte, what
/// the writes that cover it write there, in apply order (held here, so that a read looks
/// at one entry, not at the pending writes).
#[derive(Clone, Debug, Default)]
pub(super) struct Placed {
    by_byte: hashbrown::HashMap<u64, SmallVec<[Mark; 1]>>,
    /// Writes with no place of their own (appends, register raises) or too long to list
    /// (a long SETRANGE): while any is pending, a bit is read from the value.
    unplaced: usize,
}

/// What one pending write writes in one byte: `key` is its place in the apply order.
#[derive(Clone, Debug)]
struct Mark {
    key: (Stamp, Dot),
    writes: Marked,
}

#[derive(Clone, Copy, Debug)]
enum Marked {
    /// A bit write's bits (some of them may lie in this byte).
    Bits(BitWrite),
    /// A byte range's byte here.
    Byte(u8),
}

/// The latest pending write's word on one bit.
pub(super) enum Latest {
    /// No pending write covers it: the register's bit.
    Register,
    Bit(bool),
    /// An increment covers it last, or an unplaced write is pending: read the value.
    Value,
}

impl Marked {
    fn latest(&self, offset: u64) -> Option<Latest> {
        match self {
            Marked::Bits(w) if !w.covers(offset) => None,
            Marked::Bits(w) => Some(match StrWrite::Bits(*w).bit_written(offset) {
                Some(on) => Latest::Bit(on),
                None => Latest::Value,
            }),
            Marked::Byte(b) => Some(Latest::Bit(b & (0x80 >> (offset % 8)) != 0)),
        }
    }
}

impl Placed {
    pub(super) fn of(pending: &[(Tag, StrWrite)]) -> Placed {
        let mut p = Placed::default();
        for (t, w) in pending {
            p.add(t, w);
        }
        p
    }

    /// Call `f` with each byte `w` covers and what it writes there; `false` when it has no
    /// place of its own.
    fn each_mark(w: &StrWrite, mut f: impl FnMut(u64, Marked)) -> bool {
        match w {
            StrWrite::Bits(b) if b.op != BitOp::HllMax => {
                for byte in b.offset / 8..(b.offset + u64::from(b.width)).div_ceil(8) {
                    f(byte, Marked::Bits(*b));
                }
            }
            StrWrite::Range { offset, bytes } if bytes.len() <= PLACED_RANGE_MAX => {
                for (i, &b) in bytes.iter().enumerate() {
                    f(offset + i as u64, Marked::Byte(b));
                }
            }
            _ => return false,
        }
        true
    }

    pub(super) fn add(&mut self, t: &Tag, w: &StrWrite) {
        let key = apply_order(t);
        let placed = Placed::each_mark(w, |byte, writes| {
            let list = self.by_byte.entry(byte).or_default();
            let at = list.partition_point(|m| m.key < key);
            list.insert(at, Mark { key, writes });
        });
        if !placed {
            self.unplaced += 1;
        }
    }

    pub(super) fn remove(&mut self, t: &Tag, w: &StrWrite) {
        let key = apply_order(t);
        let placed = Placed::each_mark(w, |byte, _| {
            if let Some(list) = self.by_byte.get_mut(&byte) {
                list.retain(|m| m.key != key);
                if list.is_empty() {
                    self.by_byte.remove(&byte);
                }
            }
        });
        if !placed {
            self.unplaced -= 1;
        }
    }

    /// The latest word on the bit at `offset`.
    pub(super) fn latest(&self, offset: u64) -> Latest {
        if self.unplaced > 0 {
            return Latest::Value;
        }
        self.by_byte
            .get(&(offset / 8))
            .and_then(|marks| marks.iter().rev().find_map(|m| m.writes.latest(offset)))
            .unwrap_or(Latest::Register)
    }

    pub(super) fn heap_bytes(&self) -> usize {
        size_of::<Placed>()
            + self.by_byte.capacity() * (size_of::<u64>() + size_of::<SmallVec<[Mark; 1]>>())
    }
}
