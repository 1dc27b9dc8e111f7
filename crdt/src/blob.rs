//! Byte strings as values, keys, members and fields.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Inline capacity of a [`Blob`]: a value this short needs no heap allocation.
pub const BLOB_INLINE_BYTES: usize = 22;

/// A byte string that stores up to [`BLOB_INLINE_BYTES`] bytes inline (24 bytes in all), so
/// small values, the common case of a cache, cost no allocation; and a key or member of
/// that size is compared where its table entry lies, without a cache miss more.
#[derive(Clone)]
pub struct Blob(Repr);

/// 24 bytes either way: the tag, the length and 22 bytes; or the tag, padding and a boxed
/// slice (no capacity: most blobs never grow); or a boxed vector, for a string value that
/// grew in place ([`Blob::grow`]) and keeps room to grow again.
#[derive(Clone)]
enum Repr {
    Inline {
        len: u8,
        bytes: [u8; BLOB_INLINE_BYTES],
    },
    Heap(Box<[u8]>),
    // Boxed so that a blob stays 24 bytes: a vector's own three words would make it 32.
    #[allow(clippy::box_collection)]
    Growing(Box<Vec<u8>>),
}

/// The most room a growing blob keeps beyond its length (Redis's sds preallocates as much).
const GROWTH_ROOM_MAX: usize = 1024 * 1024;

impl Blob {
    pub fn new() -> Self {
        Blob(Repr::Inline {
            len: 0,
            bytes: [0; BLOB_INLINE_BYTES],
        })
    }

    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..*len as usize],
            Repr::Heap(b) => b,
            Repr::Growing(v) => v,
        }
    }

    /// The bytes, to change in place without growing.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match &mut self.0 {
            Repr::Inline { len, bytes } => &mut bytes[..*len as usize],
            Repr::Heap(b) => b,
            Repr::Growing(v) => v,
        }
    }

    /// Change the bytes with `f`, which may grow them to `reach` bytes (or so): in place,
    /// with room kept for the next growth (as much as the blob holds, at most
    /// [`GROWTH_ROOM_MAX`]), so that a value grown a piece at a time (APPEND) is copied a
    /// number of times logarithmic in its length, not once a piece.
    pub fn grow(&mut self, reach: usize, f: impl FnOnce(&mut Vec<u8>)) {
        if reach <= BLOB_INLINE_BYTES && !matches!(self.0, Repr::Growing(_)) {
            // Short enough to stay inline: no heap block for a small bitmap.
            let mut v = self.as_slice().to_vec();
            f(&mut v);
            *self = Blob::from(v);
            return;
        }
        let v = match &mut self.0 {
            Repr::Growing(v) => v,
            Repr::Inline { .. } | Repr::Heap(_) => {
                let v = match std::mem::take(self).0 {
                    Repr::Heap(b) => b.into_vec(),
                    other => Blob(other).as_slice().to_vec(),
                };
                self.0 = Repr::Growing(Box::new(v));
                let Repr::Growing(v) = &mut self.0 else {
                    unreachable!("just made")
                };
                v
            }
        };
        if reach > v.capacity() {
            let room = reach.min(GROWTH_ROOM_MAX);
            v.reserve_exact(reach + room - v.len());
        }
        f(v);
    }

    /// Heap bytes held beyond the inline buffer (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(b) => b.len(),
            Repr::Growing(v) => size_of::<Vec<u8>>() + v.capacity(),
        }
    }

    /// Inline if it fits, else `heap()` boxed.
    fn make(b: &[u8], heap: impl FnOnce() -> Box<[u8]>) -> Self {
        if b.len() <= BLOB_INLINE_BYTES {
            let mut bytes = [0; BLOB_INLINE_BYTES];
            bytes[..b.len()].copy_from_slice(b);
            Blob(Repr::Inline {
                len: b.len() as u8,
                bytes,
            })
        } else {
            Blob(Repr::Heap(heap()))
        }
    }
}

impl Default for Blob {
    fn default() -> Self {
        Blob::new()
    }
}

// Equality, order and hash are the bytes' (as `[u8]`'s, which `Borrow` requires).
impl PartialEq for Blob {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Blob {}

impl PartialOrd for Blob {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Blob {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl Hash for Blob {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for Blob {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<&[u8]> for Blob {
    fn from(b: &[u8]) -> Self {
        Blob::make(b, || b.into())
    }
}

impl<const N: usize> From<&[u8; N]> for Blob {
    fn from(b: &[u8; N]) -> Self {
        Blob::from(&b[..])
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
            Blob(Repr::Heap(v.into_boxed_slice()))
        }
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.as_slice().escape_ascii())
    }
}

impl crate::heap::HeapSize for Blob {
    fn heap_bytes(&self) -> usize {
        Blob::heap_bytes(self)
    }
}

#[cfg(test)]
mod tests {
    use super::{BLOB_INLINE_BYTES, Blob};
    use proptest::prelude::*;
    use std::hash::BuildHasher;

    #[test]
    fn is_24_bytes_and_holds_short_strings_inline() {
        assert_eq!(size_of::<Blob>(), 24);
        assert_eq!(size_of::<Option<Blob>>(), 24);
        let short = Blob::from(&[7u8; BLOB_INLINE_BYTES][..]);
        assert_eq!(short.heap_bytes(), 0);
        let long = Blob::from(vec![7u8; BLOB_INLINE_BYTES + 1]);
        assert_eq!(long.heap_bytes(), BLOB_INLINE_BYTES + 1);
        assert_eq!(Blob::new().as_slice(), b"");
    }

    #[test]
    fn grows_in_place_keeping_room_for_the_next_growth() {
        let mut b = Blob::from("ab");
        let mut moves = 0;
        for i in 0..1000u32 {
            let (piece, at) = (i.to_be_bytes(), b.as_ptr());
            b.grow(b.len() + piece.len(), |v| v.extend_from_slice(&piece));
            moves += usize::from(b.as_ptr() != at);
        }
        // Doubling from 6 bytes to 4002: some ten copies, not a thousand.
        assert!(moves <= 12, "{moves}");
        let want: Vec<u8> = b"ab"
            .iter()
            .copied()
            .chain((0..1000u32).flat_map(u32::to_be_bytes))
            .collect();
        assert_eq!(b.as_slice(), &want[..]);
        assert_eq!(b, Blob::from(want.clone()));
        assert_eq!(b.clone().as_slice(), &want[..]);
        b.as_mut_slice()[0] = b'x';
        assert_eq!(b.as_slice()[..2], *b"xb");
        // What stays short stays inline.
        let mut short = Blob::from("ab");
        short.grow(3, |v| v.push(b'c'));
        assert_eq!((short.as_slice(), short.heap_bytes()), (&b"abc"[..], 0));
    }

    proptest! {
        /// Bytes, equality, order and hash are those of the bytes, whichever way each is held.
        #[test]
        fn behaves_as_its_bytes(a in proptest::collection::vec(any::<u8>(), 0..40),
                                b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let (x, y) = (Blob::from(a.clone()), Blob::from(&b[..]));
            prop_assert_eq!(x.as_slice(), &a[..]);
            prop_assert_eq!(&*y, &b[..]);
            prop_assert_eq!(x == y, a == b);
            prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            let h = hashbrown::DefaultHashBuilder::default();
            prop_assert_eq!(h.hash_one(&x), h.hash_one(&a[..]));
            prop_assert_eq!(x.clone(), x);
        }
    }
}
