//! The compact forms of a string key, kept in the key's own 48 bytes without an allocation:
//! `PlainReg`, one plain string write (no TTL, counter, tombstone or other content), the
//! common case of a cache; and `PlainCounter`, one origin's counter and nothing else, the
//! common case of INCR. `Expiring` is either of them with one TTL entry, in one box;
//! `SetEx` a plain string with the expiry its own op wrote (SET EX), in a smaller one.

use super::state::KeyState;
use super::ttl::TtlEntry;
use crate::blob::Blob;
use crate::field::{CounterEntry, Num, RegEntry};
use crate::hlc::Hlc;
use crate::ids::{Dot, OpId, ServerId, Tag};
use std::num::NonZeroU32;

/// A register write laid out so that `Repr` needs no separate discriminant: the non-zero
/// server-id (0 is reserved) leaves a niche for the `Full` variant. 24 bytes of metadata.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct PlainReg {
    pub(super) value: Blob,
    pub(super) hlc: Hlc,
    pub(super) op: OpId,
    pub(super) server: NonZeroU32,
    idx: u32,
}

impl PlainReg {
    pub(super) fn from_reg(r: &RegEntry<Blob>) -> Option<PlainReg> {
        PlainReg::new(r.tag, r.value.clone())
    }

    /// The write `tag` made of `value` (`None` for server-id 0, which no node has).
    #[inline]
    pub(super) fn new(tag: Tag, value: Blob) -> Option<PlainReg> {
        Some(PlainReg {
            value,
            hlc: tag.hlc,
            op: tag.dot.op,
            server: NonZeroU32::new(tag.dot.server.0)?,
            idx: tag.dot.idx,
        })
    }

    pub(super) fn tag(&self) -> Tag {
        Tag::new(
            Dot::new(ServerId(self.server.get()), self.op, self.idx),
            self.hlc,
        )
    }

    /// What a write that observes the whole key cuts off: this write's op.
    pub(super) fn observed(&self) -> crate::vv::VersionVector {
        std::iter::once((ServerId(self.server.get()), self.op)).collect()
    }

    pub(super) fn to_reg(&self) -> RegEntry<Blob> {
        RegEntry {
            tag: self.tag(),
            value: self.value.clone(),
        }
    }
}

/// A string that is one origin's counter entry and nothing else: no register write, no
/// other origin's entry, no reset record, TTL, tombstone or bit write, and a total within
/// `i64`. INCR of a new key makes one, and the same region's INCRs keep it so. In the
/// general form such a key takes two boxes besides its 48 bytes: the key's (128 bytes) and
/// the counter's (112).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct PlainCounter {
    hlc: Hlc,
    op: OpId,
    /// The op that began the entry's lifetime.
    start: OpId,
    pub(super) total: i64,
    server: NonZeroU32,
    idx: u32,
}

impl PlainCounter {
    pub(super) fn from_entry(e: &CounterEntry) -> Option<PlainCounter> {
        let Num::Int(total) = e.total else {
            return None;
        };
        Some(PlainCounter {
            hlc: e.tag.hlc,
            op: e.tag.dot.op,
            start: e.start,
            total: i64::try_from(total).ok()?,
            server: NonZeroU32::new(e.tag.dot.server.0)?,
            idx: e.tag.dot.idx,
        })
    }

    pub(super) fn server(&self) -> ServerId {
        ServerId(self.server.get())
    }

    pub(super) fn op(&self) -> OpId {
        self.op
    }

    pub(super) fn hlc(&self) -> Hlc {
        self.hlc
    }

    pub(super) fn to_entry(&self) -> CounterEntry {
        CounterEntry {
            start: self.start,
            tag: Tag::new(Dot::new(self.server(), self.op, self.idx), self.hlc),
            total: Num::Int(i128::from(self.total)),
        }
    }
}

/// A compact string (a `PlainReg` or a `PlainCounter`) with one TTL entry and nothing else:
/// SET then EXPIRE, INCR then EXPIRE. One box of 88 bytes, where the general form takes its
/// own 128 and a vector of 40 for the entry.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Expiring {
    /// In a compact form, never the general one.
    pub(super) string: KeyState,
    pub(super) ttl: TtlEntry,
}

/// A plain string with the expiry its own op wrote, and nothing else: SET with EX, the most
/// common key of a cache. The TTL entry's tag is the string's with another piece number,
/// so only its time and that number are kept: one box of 64 bytes.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct SetEx {
    pub(super) string: PlainReg,
    pub(super) at: u64,
    pub(super) piece: u32,
}

impl SetEx {
    /// Of a plain string `reg` and its one TTL entry, when the string's op wrote both.
    pub(super) fn of(reg: &PlainReg, ttl: &TtlEntry) -> Option<(u64, u32)> {
        let at = ttl.at?;
        (ttl.tag == reg.tag().piece(ttl.tag.dot.idx)).then_some((at, ttl.tag.dot.idx))
    }

    pub(super) fn ttl(&self) -> TtlEntry {
        TtlEntry {
            tag: self.string.tag().piece(self.piece),
            at: Some(self.at),
        }
    }
}
