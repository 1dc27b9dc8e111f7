//! `TtlEntry`, one expiry (or PERSIST) of a key. A key keeps every live entry (concurrent
//! EXPIREs and PERSISTs all survive, each removable by its dot); `KeyState::expire_at` reads
//! the outcome.

use crate::ids::Tag;

/// An expiry (or PERSIST) written by one op.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TtlEntry {
    pub tag: Tag,
    /// Unix time in ms; `None` for PERSIST.
    pub at: Option<u64>,
}
