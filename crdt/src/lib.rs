//! gdc-crdt: the value model of gdc, an active-active geo-distributed Redis-compatible cache.
//!
//! Pure data, no I/O: identifiers and a hybrid logical clock, every supported Redis value
//! type as a CRDT, the effects writes replicate, state merge, canonical encoding, digests and
//! garbage collection. `docs/semantics.md` states the rules for users; the tests prove them.

pub mod blob;
pub mod codec;
pub mod effect;
pub mod error;
pub mod field;
pub mod hash;
pub mod hlc;
pub mod ids;
pub mod key;
pub mod keyspace;
pub mod list;
pub mod ops;
pub mod set;
pub mod string;
pub mod table;
pub mod tomb;
pub mod vv;
pub mod zset;

pub use blob::Blob;
pub use effect::{Addition, Effect, FieldLoc, Loc, Removal, Reset, Value};
pub use error::{DecodeError, OpError};
pub use field::{CounterEntry, CounterReset, Field, Num, RegEntry};
pub use hlc::{Hlc, HlcClock};
pub use ids::{Dot, OpId, ServerId, Stamp, Tag};
pub use key::{KeyState, Kind, Part, TtlEntry};
pub use keyspace::Keyspace;
pub use tomb::Tomb;
pub use vv::VersionVector;

/// A state-based CRDT: replicas converge by merging states.
///
/// `merge` is a join, so for all states `a`, `b`, `c`:
/// * commutative: `a ⊔ b = b ⊔ a`
/// * associative: `(a ⊔ b) ⊔ c = a ⊔ (b ⊔ c)`
/// * idempotent: `a ⊔ a = a`
///
/// Hence replicas that have merged the same states in any order, any number of times, hold
/// equal states. The property tests check these laws for every type.
pub trait Crdt {
    fn merge(&mut self, other: &Self);
}
