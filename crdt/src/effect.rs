//! Effects: what a write replicates. An effect is a delta state of one key, made at the
//! origin from the command and the key's state there, and joined into the key's state at
//! every region (the origin included). Applying it twice, or after a full-state merge that
//! already holds it, changes nothing.

use crate::bits::StrWrite;
use crate::blob::Blob;
use crate::field::{CounterReset, Num};
use crate::ids::{Dot, OpId, ServerId, Tag};
use crate::list::{ListId, Pos};
use crate::stream::{StreamAdd, StreamLoc};
use crate::vv::VersionVector;
use smallvec::SmallVec;

/// Where a field lives in a key.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldLoc {
    Str,
    Hash(Blob),
    ZSet(Blob),
}

/// Where a removed piece lives in a key.
#[derive(Clone, Debug, PartialEq)]
pub enum Loc {
    Field(FieldLoc),
    Set(Blob),
    List(ListId),
    Ttl,
    Stream(Box<StreamLoc>),
    /// A string's bit write not folded in yet.
    Bits,
}

/// A piece the origin observed and removes.
#[derive(Clone, Debug, PartialEq)]
pub struct Removal {
    pub loc: Loc,
    pub dot: Dot,
}

/// A counter entry the origin observed and resets.
#[derive(Clone, Debug, PartialEq)]
pub struct Reset {
    pub loc: FieldLoc,
    pub server: ServerId,
    pub reset: CounterReset,
}

/// New content. Addition number `i` of an effect is the piece `tag.piece(i)`.
#[derive(Clone, Debug, PartialEq)]
pub enum Addition {
    /// A register write to a field (SET, HSET, ZADD).
    Write { loc: FieldLoc, value: Value },
    /// The origin's counter entry for a field, replacing its previous one.
    Incr {
        loc: FieldLoc,
        start: OpId,
        total: Num,
    },
    /// A set member.
    Member(Blob),
    /// A new list element at `pos`.
    ListInsert { pos: Pos, value: Blob },
    /// LSET of an existing element.
    ListSet { id: ListId, value: Blob },
    /// An expiry time (Unix ms). Of concurrent ones, the later wins.
    Expire(u64),
    /// PERSIST: wins over concurrent expiries.
    Persist,
    /// A stream's entry, numbers, or consumer-group piece.
    Stream(Box<StreamAdd>),
    /// A partial write of a string (SETBIT, BITFIELD, SETRANGE, APPEND, a dense PFADD):
    /// concurrent writes of different bits or bytes all survive, crossing appends all add.
    Bits(StrWrite),
}

/// A register value: bytes for strings and hash fields, a score for sorted-set members.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bytes(Blob),
    Score(f64),
}

/// The replicated delta of one write to one key, behind one pointer. On its way from a
/// command to the binlog's queue an effect passes through the op's build, the write's
/// closure, the record and the queue; held inline, each of those moves copied its 288
/// bytes, more than the allocation costs (docs/performance.md, "Instructions that move
/// data").
#[derive(Clone, Debug, PartialEq)]
pub struct Effect(Box<EffectBody>);

/// What an [`Effect`] holds. Most writes remove at most one piece and add one: those are
/// held inline, and an effect costs no allocation but its own for them.
#[derive(Clone, Debug, PartialEq)]
pub struct EffectBody {
    /// The op's dot (piece 0) and HLC time.
    pub tag: Tag,
    /// Removes every content piece covered (the origin observed the whole key).
    pub cutoff: Option<VersionVector>,
    pub removes: SmallVec<[Removal; 1]>,
    pub resets: Vec<Reset>,
    pub adds: SmallVec<[Addition; 1]>,
}

impl std::ops::Deref for Effect {
    type Target = EffectBody;
    fn deref(&self) -> &EffectBody {
        &self.0
    }
}

impl std::ops::DerefMut for Effect {
    fn deref_mut(&mut self) -> &mut EffectBody {
        &mut self.0
    }
}

impl Effect {
    pub fn new(tag: Tag) -> Self {
        Effect(crate::boxed::boxed_with(|| EffectBody {
            tag,
            cutoff: None,
            removes: SmallVec::new(),
            resets: Vec::new(),
            adds: SmallVec::new(),
        }))
    }

    /// Whether applying it changes nothing anywhere (a no-op write need not replicate).
    pub fn is_empty(&self) -> bool {
        self.cutoff.is_none()
            && self.removes.is_empty()
            && self.resets.is_empty()
            && self.adds.is_empty()
    }
}
