//! Identifiers: who made an op, which op, and which piece of content it made.

use crate::hlc::Hlc;
use std::fmt;

/// A node's identity, made at its first start and never reused: two different ops can never
/// carry the same `(ServerId, OpId)`. 0 is reserved and never names a node.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ServerId(pub u32);

/// The sequence number of an op at its origin: counts up from 1 per server-id, with no gaps.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct OpId(pub u64);

/// One piece of content made by an op: the op's `(server, op)` plus the piece's index within
/// the op, because one op can make several pieces (`SADD k a b c` makes three members) and a
/// precise remove must name exactly one of them. The index lives in what would otherwise be
/// padding, so a `Dot` is 16 bytes either way.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Dot {
    pub server: ServerId,
    pub op: OpId,
    pub idx: u32,
}

impl Dot {
    pub const fn new(server: ServerId, op: OpId, idx: u32) -> Self {
        Dot { server, op, idx }
    }

    /// The same op's piece number `idx`.
    pub const fn piece(self, idx: u32) -> Self {
        Dot { idx, ..self }
    }
}

impl fmt::Display for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.server.0, self.op.0, self.idx)
    }
}

/// The order of last-writer-wins: hybrid logical time, then server-id. Unique per op because
/// an origin's HLC strictly increases from op to op.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Stamp {
    pub hlc: Hlc,
    pub server: ServerId,
}

/// What every piece of replicated content carries: its dot (identity, for observed-remove)
/// and the HLC of the op that made it (order, for last-writer-wins and type clashes).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Tag {
    pub dot: Dot,
    pub hlc: Hlc,
}

impl Tag {
    pub const fn new(dot: Dot, hlc: Hlc) -> Self {
        Tag { dot, hlc }
    }

    pub const fn stamp(&self) -> Stamp {
        Stamp {
            hlc: self.hlc,
            server: self.dot.server,
        }
    }

    /// The tag of this op's piece number `idx`.
    pub const fn piece(self, idx: u32) -> Self {
        Tag {
            dot: self.dot.piece(idx),
            hlc: self.hlc,
        }
    }
}
