//! Byte strings as values, keys, members and fields.

use smallvec::SmallVec;
use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

/// Inline capacity of a [`Blob`]: a value this short needs no heap allocation.
pub const BLOB_INLINE_BYTES: usize = 16;

/// A byte string that stores up to [`BLOB_INLINE_BYTES`] bytes inline (24 bytes in all), so
/// small values, the common case of a cache, cost no allocation.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Blob(SmallVec<[u8; BLOB_INLINE_BYTES]>);

impl Blob {
    pub fn new() -> Self {
        Blob(SmallVec::new())
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// Heap bytes held beyond the inline buffer (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        if self.0.spilled() {
            self.0.capacity()
        } else {
            0
        }
    }
}

impl Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<[u8]> for Blob {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl From<&[u8]> for Blob {
    fn from(b: &[u8]) -> Self {
        Blob(SmallVec::from_slice(b))
    }
}

impl<const N: usize> From<&[u8; N]> for Blob {
    fn from(b: &[u8; N]) -> Self {
        Blob(SmallVec::from_slice(b))
    }
}

impl From<&str> for Blob {
    fn from(s: &str) -> Self {
        Blob::from(s.as_bytes())
    }
}

impl From<Vec<u8>> for Blob {
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= BLOB_INLINE_BYTES {
            Blob::from(v.as_slice())
        } else {
            Blob(SmallVec::from_vec(v))
        }
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

impl crate::heap::HeapSize for Blob {
    fn heap_bytes(&self) -> usize {
        Blob::heap_bytes(self)
    }
}
