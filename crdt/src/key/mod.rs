//! The key envelope: a key's typed content, its TTL entries and its removal knowledge, with
//! the type-clash rule, effect application, state merge and garbage collection.
//!
//! One concern per file:
//! * `kind`: [`Kind`], the Redis type a key reads as;
//! * `part`: [`Part`], a key's content of one type, and the per-type dispatch;
//! * `ttl`: [`TtlEntry`], one expiry or PERSIST;
//! * `full`: the general form of a key's state and what changes it (effects, merge, GC);
//! * `plain`: the compact forms of a key that is one plain string write or one origin's
//!   counter, with at most one TTL entry;
//! * `packed`: the compact form of a small hash, its fields packed in one allocation;
//! * `state`: [`KeyState`], the key as the rest of the crate sees it, in any of its forms
//!   (`state/written.rs`: the writes a compact key takes without the general form;
//!   `state/string.rs`: what a key reads as when it is a string);
//! * `conflicts`: which conflict rules an op from another region needed as it was applied.

mod conflicts;
mod full;
mod kind;
pub(crate) mod packed;
mod part;
mod plain;
mod state;
mod ttl;

pub use kind::Kind;
pub use part::Part;
pub use state::KeyState;
pub use ttl::TtlEntry;
