//! `PlainReg`, the compact form of a key that is one plain string write (no TTL, counter,
//! tombstone or other content): the common case of a cache, kept small and without a
//! separate allocation.

use crate::blob::Blob;
use crate::field::RegEntry;
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
        Some(PlainReg {
            value: r.value.clone(),
            hlc: r.tag.hlc,
            op: r.tag.dot.op,
            server: NonZeroU32::new(r.tag.dot.server.0)?,
            idx: r.tag.dot.idx,
        })
    }

    pub(super) fn tag(&self) -> Tag {
        Tag::new(
            Dot::new(ServerId(self.server.get()), self.op, self.idx),
            self.hlc,
        )
    }

    pub(super) fn to_reg(&self) -> RegEntry<Blob> {
        RegEntry {
            tag: self.tag(),
            value: self.value.clone(),
        }
    }
}
