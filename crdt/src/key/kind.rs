//! `Kind`, the Redis type a key reads as (what `TYPE` answers), and `loc_kind`, the type a
//! field location (the string, a hash field, a sorted-set member) belongs to. The content of
//! each kind is a `Part` (see `part`).

use crate::effect::FieldLoc;

/// The Redis type a key reads as.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    String = 0,
    Hash = 1,
    Set = 2,
    ZSet = 3,
    List = 4,
    Stream = 5,
}

impl Kind {
    /// The name `TYPE` answers.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::List => "list",
            Kind::Stream => "stream",
        }
    }
}

/// The type whose content a field location is in.
pub(super) fn loc_kind(loc: &FieldLoc) -> Kind {
    match loc {
        FieldLoc::Str => Kind::String,
        FieldLoc::Hash(_) => Kind::Hash,
        FieldLoc::ZSet(_) => Kind::ZSet,
    }
}
