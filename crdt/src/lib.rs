//! gdc-crdt: the value model of gdc, an active-active geo-distributed Redis-compatible cache.
//!
//! Pure data, no I/O: identifiers and a hybrid logical clock, every supported Redis value
//! type as a CRDT, the effects writes replicate, state merge, canonical encoding, digests and
//! garbage collection. `docs/semantics.md` states the rules for users; the tests prove them.
//!
//! Modules, one type or one concern each:
//! * identifiers and clocks: [`ids`] (server-ids, op ids, dots, tags), [`hlc`] (the hybrid
//!   logical clock), [`vv`] (version vectors);
//! * values: [`blob`] (byte strings), [`field`] (a register plus a resettable counter),
//!   [`string`] (reading a field as Redis reads a string), [`hll`] (Redis's HyperLogLog
//!   string, which concurrent writes of merge by register maximum), [`hash`], [`set`], [`zset`] and
//!   [`list`] (the collection CRDTs), [`tomb`] (what a key remembers about removals);
//! * keys: [`key`] (the key envelope: `key/kind.rs` the Redis type, `key/part.rs` content of
//!   one type, `key/ttl.rs` expiries, `key/full.rs` the general form of a key's state and what
//!   changes it, `key/plain.rs` the compact form of one plain string write, `key/state.rs`
//!   [`KeyState`]), [`table`] (the dense hash table of a database's keys), [`keyspace`] (one
//!   database: FLUSHDB, merge, GC, digests);
//! * writes: [`effect`] (what a write replicates), [`conflict`] (the conflicts the rules
//!   resolved, counted as another region's ops are applied), [`ops`] (the effect builders,
//!   one family of commands per file under `ops/`, with the shared observe, counter and
//!   dedup helpers), [`error`] (why a write or a decode fails);
//! * memory: [`heap`] (heap bytes a value holds, for MEMORY USAGE);
//! * encoding: [`codec`] (the canonical binary encoding and digests; under `codec/` one
//!   encoded thing per file: `primitive`, `vv`, `field`, `key`, `effect`).

pub mod bits;
pub mod blob;
mod boxed;
pub mod codec;
pub mod conflict;
pub mod effect;
pub mod error;
pub mod field;
pub mod fields;
pub mod hash;
pub mod heap;
pub mod hlc;
pub mod hll;
pub mod ids;
pub mod key;
pub mod keyspace;
pub mod list;
pub mod ops;
pub mod prefetch;
pub mod ranked;
mod segments;
pub mod set;
pub mod stream;
pub mod string;
pub mod table;
pub mod tomb;
pub mod vv;
pub mod zset;

pub use blob::Blob;
pub use conflict::{Conflict, ConflictCounts, Conflicts};
pub use effect::{Addition, Effect, EffectBody, FieldLoc, Loc, Removal, Reset, Value};
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
