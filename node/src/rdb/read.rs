//! Reading one serialized value: its type byte, then the value in that type's encoding.
//! Every encoding redis-server 7.0 writes is read, and the older ones it still loads.

use super::packed::{self, Entry};
use super::{Error, STRING_BYTES_MAX, bad, kind, lzf};
use gdc_crdt::Blob;
use gdc_crdt::ops::Whole;
use std::borrow::Cow;
use std::collections::HashSet;

/// A cursor over the serialized value.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// A length field: a length, or the marker of a specially encoded string.
enum Len {
    Plain(u64),
    Special(u8),
}

/// How a string's special encoding marks it.
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// QUICKLIST_2 node containers: one element as it is, or a listpack of several.
const NODE_PLAIN: usize = 1;
const NODE_PACKED: usize = 2;

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    /// Whether every byte was read.
    pub fn is_done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    pub fn byte(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.at.checked_add(n).ok_or(bad("length"))?;
        let s = self.bytes.get(self.at..end).ok_or(bad("truncated"))?;
        self.at = end;
        Ok(s)
    }

    /// A length: the first byte's top two bits say 6 bits, 14 bits (big-endian), a 32- or
    /// 64-bit big-endian length that follows, or a special encoding.
    fn len(&mut self) -> Result<Len, Error> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Len::Plain(u64::from(first & 0x3f)),
            1 => Len::Plain((u64::from(first & 0x3f) << 8) | u64::from(self.byte()?)),
            3 => Len::Special(first & 0x3f),
            _ if first == 0x80 => {
                let s = self.take(4)?;
                Len::Plain(u64::from(u32::from_be_bytes([s[0], s[1], s[2], s[3]])))
            }
            _ if first == 0x81 => {
                let s = self.take(8)?;
                let mut b = [0u8; 8];
                b.copy_from_slice(s);
                Len::Plain(u64::from_be_bytes(b))
            }
            _ => return Err(bad("length encoding")),
        })
    }

    /// A plain length as a number (stream ids, counts and times).
    pub(super) fn number(&mut self) -> Result<u64, Error> {
        match self.len()? {
            Len::Plain(n) => Ok(n),
            Len::Special(_) => Err(bad("length encoding")),
        }
    }

    /// `n` raw bytes.
    pub(super) fn raw(&mut self, n: usize) -> Result<&'a [u8], Error> {
        self.take(n)
    }

    /// A time in Unix ms: 8 bytes, little-endian.
    pub(super) fn millis(&mut self) -> Result<u64, Error> {
        let s = self.take(8)?;
        Ok(u64::from_le_bytes(s.try_into().expect("8 bytes")))
    }

    /// A count or size: a plain length.
    pub(super) fn count(&mut self) -> Result<usize, Error> {
        match self.len()? {
            Len::Plain(n) => usize::try_from(n).map_err(|_| bad("length")),
            Len::Special(_) => Err(bad("length encoding")),
        }
    }

    /// A string: its bytes, an integer stored in 1, 2 or 4 bytes, or LZF-compressed.
    pub(super) fn string(&mut self) -> Result<Cow<'a, [u8]>, Error> {
        match self.len()? {
            Len::Plain(n) => Ok(Cow::Borrowed(
                self.take(usize::try_from(n).map_err(|_| bad("length"))?)?,
            )),
            Len::Special(ENC_INT8) => Ok(int_text(i64::from(self.byte()? as i8))),
            Len::Special(ENC_INT16) => {
                let s = self.take(2)?;
                Ok(int_text(i64::from(i16::from_le_bytes([s[0], s[1]]))))
            }
            Len::Special(ENC_INT32) => {
                let s = self.take(4)?;
                Ok(int_text(i64::from(i32::from_le_bytes([
                    s[0], s[1], s[2], s[3],
                ]))))
            }
            Len::Special(ENC_LZF) => {
                let packed_len = self.count()?;
                let len = self.count()?;
                if len > STRING_BYTES_MAX {
                    return Err(bad("string too long"));
                }
                let packed = self.take(packed_len)?;
                Ok(Cow::Owned(lzf::decompress(packed, len).ok_or(bad("lzf"))?))
            }
            Len::Special(_) => Err(bad("string encoding")),
        }
    }

    pub(super) fn blob(&mut self) -> Result<Blob, Error> {
        Ok(match self.string()? {
            Cow::Borrowed(b) => Blob::from(b),
            Cow::Owned(v) => Blob::from(v),
        })
    }

    /// `count` strings. (Nothing is reserved up front: `count` is what the payload claims.)
    fn blobs(&mut self, count: usize) -> Result<Vec<Blob>, Error> {
        let mut out = Vec::new();
        for _ in 0..count {
            out.push(self.blob()?);
        }
        Ok(out)
    }

    /// A score of ZSET_2: an IEEE 754 double, little-endian.
    fn binary_double(&mut self) -> Result<f64, Error> {
        let s = self.take(8)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(s);
        Ok(f64::from_le_bytes(b))
    }

    /// A score of the old ZSET: a length byte and the number as text; 253 is NaN, 254
    /// +inf, 255 -inf.
    fn text_double(&mut self) -> Result<f64, Error> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let t = self.take(usize::from(n))?;
                std::str::from_utf8(t)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or(bad("score"))
            }
        }
    }
}

fn int_text(i: i64) -> Cow<'static, [u8]> {
    Cow::Owned(i.to_string().into_bytes())
}

/// The value of type `kind` at the reader, checked whole. Types gdc does not have (modules) and empty collections are refused, as Redis refuses the latter.
pub fn value(r: &mut Reader<'_>, kind: u8) -> Result<Whole, Error> {
    let whole = match kind {
        kind::STRING => Whole::Str(r.blob()?),
        kind::LIST => {
            let n = r.count()?;
            Whole::List(r.blobs(n)?)
        }
        kind::SET => {
            let n = r.count()?;
            Whole::Set(r.blobs(n)?)
        }
        kind::ZSET | kind::ZSET_2 => {
            let n = r.count()?;
            let mut items = Vec::new();
            for _ in 0..n {
                let member = r.blob()?;
                let score = if kind == kind::ZSET_2 {
                    r.binary_double()?
                } else {
                    r.text_double()?
                };
                items.push((member, score));
            }
            Whole::ZSet(items)
        }
        kind::HASH => {
            let n = r.count()?;
            let mut fields = Vec::new();
            for _ in 0..n {
                fields.push((r.blob()?, r.blob()?));
            }
            Whole::Hash(fields)
        }
        kind::LIST_QUICKLIST | kind::LIST_QUICKLIST_2 => quicklist(r, kind)?,
        kind::HASH_ZIPMAP => {
            let blob = r.string()?;
            let pairs = packed::zipmap(&blob)?;
            Whole::Hash(
                pairs
                    .into_iter()
                    .map(|(f, v)| (Blob::from(f), Blob::from(v)))
                    .collect(),
            )
        }
        kind::LIST_ZIPLIST => {
            let blob = r.string()?;
            Whole::List(blobs(packed::ziplist(&blob)?))
        }
        kind::SET_INTSET => {
            let blob = r.string()?;
            let ints = packed::intset(&blob)?;
            Whole::Set(
                ints.into_iter()
                    .map(|i| Blob::from(&*int_text(i)))
                    .collect(),
            )
        }
        kind::ZSET_ZIPLIST | kind::ZSET_LISTPACK => {
            let blob = r.string()?;
            let entries = if kind == kind::ZSET_LISTPACK {
                packed::listpack(&blob)?
            } else {
                packed::ziplist(&blob)?
            };
            Whole::ZSet(zset_pairs(&entries)?)
        }
        kind::HASH_ZIPLIST | kind::HASH_LISTPACK => {
            let blob = r.string()?;
            let entries = if kind == kind::HASH_LISTPACK {
                packed::listpack(&blob)?
            } else {
                packed::ziplist(&blob)?
            };
            if entries.len() % 2 != 0 {
                return Err(bad("odd number of hash entries"));
            }
            let pairs = entries.chunks_exact(2);
            Whole::Hash(pairs.map(|p| (p[0].to_blob(), p[1].to_blob())).collect())
        }
        kind::STREAM_LISTPACKS | kind::STREAM_LISTPACKS_2 | kind::STREAM_LISTPACKS_3 => {
            Whole::Stream(Box::new(super::stream::read(r, kind)?))
        }
        _ => return Err(bad("a type gdc does not have")),
    };
    check(&whole)?;
    Ok(whole)
}

fn blobs(entries: Vec<Entry<'_>>) -> Vec<Blob> {
    entries.into_iter().map(Entry::to_blob).collect()
}

/// Member and score pairs of a listpack or ziplist.
fn zset_pairs(entries: &[Entry<'_>]) -> Result<Vec<(Blob, f64)>, Error> {
    if entries.len() % 2 != 0 {
        return Err(bad("odd number of sorted set entries"));
    }
    entries
        .chunks_exact(2)
        .map(|p| Ok((p[0].to_blob(), p[1].score().ok_or(bad("score"))?)))
        .collect()
}

/// A list as quicklist nodes: each a ziplist (QUICKLIST), or (QUICKLIST_2) a container
/// kind and then a listpack or a single element. Empty packed nodes are skipped as Redis
/// skips them.
fn quicklist(r: &mut Reader<'_>, kind: u8) -> Result<Whole, Error> {
    let nodes = r.count()?;
    let mut out = Vec::new();
    for _ in 0..nodes {
        let container = if kind == kind::LIST_QUICKLIST_2 {
            r.count()?
        } else {
            NODE_PACKED
        };
        if container != NODE_PLAIN && container != NODE_PACKED {
            return Err(bad("quicklist container"));
        }
        let data = r.string()?;
        if data.is_empty() {
            return Err(bad("empty quicklist node"));
        }
        if container == NODE_PLAIN {
            out.push(Blob::from(&*data));
        } else if kind == kind::LIST_QUICKLIST_2 {
            out.extend(blobs(packed::listpack(&data)?));
        } else {
            out.extend(blobs(packed::ziplist(&data)?));
        }
    }
    Ok(Whole::List(out))
}

/// Refuse an empty collection, a set, hash or sorted set naming an element twice, and a
/// NaN score: Redis refuses them too (a payload it wrote never has them).
fn check(whole: &Whole) -> Result<(), Error> {
    let ok = match whole {
        Whole::Str(_) => true,
        // An empty stream is a stream (XADD ... MAXLEN 0 makes one).
        Whole::Stream(_) => true,
        Whole::List(l) => !l.is_empty(),
        Whole::Set(s) => !s.is_empty() && distinct(s.iter()),
        Whole::Hash(h) => !h.is_empty() && distinct(h.iter().map(|(f, _)| f)),
        Whole::ZSet(z) => {
            !z.is_empty()
                && z.iter().all(|(_, s)| !s.is_nan())
                && distinct(z.iter().map(|(m, _)| m))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(bad("empty, repeated element or NaN score"))
    }
}

fn distinct<'a>(mut items: impl Iterator<Item = &'a Blob>) -> bool {
    let mut seen = HashSet::new();
    items.all(|i| seen.insert(i))
}
