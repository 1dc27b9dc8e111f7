//! The compact encodings Redis serializes small collections in, each a string holding a
//! whole structure: listpack (Redis 7), ziplist (before 7), intset, and zipmap (before 2.6).
//! Every one is read whole and checked whole — sizes, terminators, back lengths, order —
//! so a corrupt payload is refused rather than half read.

use super::{Error, bad};
use gdc_crdt::Blob;

/// One element of a listpack or ziplist: text, or an integer it was stored as.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Entry<'a> {
    Text(&'a [u8]),
    Int(i64),
}

impl Entry<'_> {
    /// The element as Redis reads it back: an integer in decimal.
    pub fn to_blob(self) -> Blob {
        match self {
            Entry::Text(t) => Blob::from(t),
            Entry::Int(i) => Blob::from(i.to_string().as_str()),
        }
    }

    /// The element as a sorted set's score (text is parsed as Redis's `strtod` does), or
    /// `None` when it is not a number.
    pub fn score(self) -> Option<f64> {
        let v = match self {
            Entry::Int(i) => i as f64,
            Entry::Text(t) => std::str::from_utf8(t).ok()?.parse::<f64>().ok()?,
        };
        (!v.is_nan()).then_some(v)
    }
}

fn u16_le(b: &[u8], at: usize) -> Result<u16, Error> {
    let s = b.get(at..at + 2).ok_or(bad("truncated"))?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_le(b: &[u8], at: usize) -> Result<u32, Error> {
    let s = b.get(at..at + 4).ok_or(bad("truncated"))?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// `n` bytes at `at` as a little-endian two's complement integer (n is 2, 3, 4 or 8).
fn int_le(b: &[u8], at: usize, n: usize) -> Result<i64, Error> {
    let s = b.get(at..at + n).ok_or(bad("truncated"))?;
    let mut buf = [0u8; 8];
    buf[..n].copy_from_slice(s);
    let shift = 64 - 8 * n as u32;
    Ok(i64::from_le_bytes(buf) << shift >> shift)
}

fn text(b: &[u8], at: usize, len: usize) -> Result<Entry<'_>, Error> {
    let end = at.checked_add(len).ok_or(bad("length"))?;
    Ok(Entry::Text(b.get(at..end).ok_or(bad("truncated"))?))
}

/// Listpack's back length of an entry of `len` bytes: 1 to 5 bytes of 7 bits each, most
/// significant first, each but the first flagged with the high bit.
fn backlen(len: usize) -> ([u8; 5], usize) {
    let n = match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    let mut out = [0u8; 5];
    for (i, byte) in out[..n].iter_mut().enumerate() {
        let shift = 7 * (n - 1 - i);
        *byte = ((len >> shift) & 127) as u8 | if i == 0 { 0 } else { 128 };
    }
    (out, n)
}

/// One listpack entry at the start of `b`: the element and the bytes of its encoding and
/// data (its back length follows).
fn listpack_entry(b: &[u8]) -> Result<(Entry<'_>, usize), Error> {
    let e = *b.first().ok_or(bad("truncated"))?;
    Ok(match e {
        0x00..=0x7f => (Entry::Int(i64::from(e)), 1),
        0x80..=0xbf => {
            let len = usize::from(e & 0x3f);
            (text(b, 1, len)?, 1 + len)
        }
        0xc0..=0xdf => {
            let raw = (i64::from(e & 0x1f) << 8) | i64::from(*b.get(1).ok_or(bad("truncated"))?);
            let v = if raw >= 1 << 12 { raw - (1 << 13) } else { raw };
            (Entry::Int(v), 2)
        }
        0xe0..=0xef => {
            let lo = *b.get(1).ok_or(bad("truncated"))?;
            let len = (usize::from(e & 0x0f) << 8) | usize::from(lo);
            (text(b, 2, len)?, 2 + len)
        }
        0xf0 => {
            let len = u32_le(b, 1)? as usize;
            (text(b, 5, len)?, 5 + len)
        }
        0xf1 => (Entry::Int(int_le(b, 1, 2)?), 3),
        0xf2 => (Entry::Int(int_le(b, 1, 3)?), 4),
        0xf3 => (Entry::Int(int_le(b, 1, 4)?), 5),
        0xf4 => (Entry::Int(int_le(b, 1, 8)?), 9),
        _ => return Err(bad("listpack encoding")),
    })
}

/// The elements of a listpack: total bytes (u32), element count (u16, 65535: not kept),
/// entries each followed by its back length, and 0xff.
pub fn listpack(b: &[u8]) -> Result<Vec<Entry<'_>>, Error> {
    if b.len() < 7 || u32_le(b, 0)? as usize != b.len() || b[b.len() - 1] != 0xff {
        return Err(bad("listpack header"));
    }
    let count = u16_le(b, 4)?;
    let end = b.len() - 1;
    let mut out = Vec::new();
    let mut p = 6;
    while p < end {
        let (entry, len) = listpack_entry(&b[p..end])?;
        let (back, n) = backlen(len);
        if b.get(p + len..p + len + n) != Some(&back[..n]) {
            return Err(bad("listpack back length"));
        }
        out.push(entry);
        p += len + n;
    }
    if p != end || (count != u16::MAX && usize::from(count) != out.len()) {
        return Err(bad("listpack length"));
    }
    Ok(out)
}

/// A listpack of `items`, each in its smallest encoding (Redis's `lpAppend`).
pub fn to_listpack(items: &[Entry<'_>]) -> Vec<u8> {
    let mut out = vec![0u8; 6];
    for item in items {
        let start = out.len();
        match *item {
            Entry::Int(i) if (0..=127).contains(&i) => out.push(i as u8),
            Entry::Int(i) if (-4096..=4095).contains(&i) => {
                let u = (i as u16) & 0x1fff;
                out.extend_from_slice(&[0xc0 | (u >> 8) as u8, u as u8]);
            }
            Entry::Int(i) if i16::try_from(i).is_ok() => {
                out.push(0xf1);
                out.extend_from_slice(&(i as i16).to_le_bytes());
            }
            Entry::Int(i) if (-(1 << 23)..(1 << 23)).contains(&i) => {
                out.push(0xf2);
                out.extend_from_slice(&(i as i32).to_le_bytes()[..3]);
            }
            Entry::Int(i) if i32::try_from(i).is_ok() => {
                out.push(0xf3);
                out.extend_from_slice(&(i as i32).to_le_bytes());
            }
            Entry::Int(i) => {
                out.push(0xf4);
                out.extend_from_slice(&i.to_le_bytes());
            }
            Entry::Text(t) if t.len() < 64 => {
                out.push(0x80 | t.len() as u8);
                out.extend_from_slice(t);
            }
            Entry::Text(t) if t.len() < 4096 => {
                out.extend_from_slice(&[0xe0 | (t.len() >> 8) as u8, t.len() as u8]);
                out.extend_from_slice(t);
            }
            Entry::Text(t) => {
                out.push(0xf0);
                out.extend_from_slice(&(t.len() as u32).to_le_bytes());
                out.extend_from_slice(t);
            }
        }
        let (back, n) = backlen(out.len() - start);
        out.extend_from_slice(&back[..n]);
    }
    out.push(0xff);
    let total = out.len() as u32;
    out[..4].copy_from_slice(&total.to_le_bytes());
    let count = u16::try_from(items.len()).unwrap_or(u16::MAX);
    out[4..6].copy_from_slice(&count.to_le_bytes());
    out
}

/// One ziplist entry's encoding and data at the start of `b` (after its previous length):
/// the element and its size.
fn ziplist_entry(b: &[u8]) -> Result<(Entry<'_>, usize), Error> {
    let e = *b.first().ok_or(bad("truncated"))?;
    Ok(match e {
        0x00..=0x3f => {
            let len = usize::from(e);
            (text(b, 1, len)?, 1 + len)
        }
        0x40..=0x7f => {
            let lo = *b.get(1).ok_or(bad("truncated"))?;
            let len = (usize::from(e & 0x3f) << 8) | usize::from(lo);
            (text(b, 2, len)?, 2 + len)
        }
        0x80..=0xbf => {
            let s = b.get(1..5).ok_or(bad("truncated"))?;
            let len = u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize;
            (text(b, 5, len)?, 5 + len)
        }
        0xc0 => (Entry::Int(int_le(b, 1, 2)?), 3),
        0xd0 => (Entry::Int(int_le(b, 1, 4)?), 5),
        0xe0 => (Entry::Int(int_le(b, 1, 8)?), 9),
        0xf0 => (Entry::Int(int_le(b, 1, 3)?), 4),
        0xfe => (
            Entry::Int(i64::from(*b.get(1).ok_or(bad("truncated"))? as i8)),
            2,
        ),
        0xf1..=0xfd => (Entry::Int(i64::from(e & 0x0f) - 1), 1),
        _ => return Err(bad("ziplist encoding")),
    })
}

/// The elements of a ziplist: total bytes (u32), offset of the last entry (u32), element
/// count (u16, 65535: not kept), entries each led by the previous entry's length, and 0xff.
pub fn ziplist(b: &[u8]) -> Result<Vec<Entry<'_>>, Error> {
    const HEADER: usize = 10;
    if b.len() < HEADER + 1 || u32_le(b, 0)? as usize != b.len() || b[b.len() - 1] != 0xff {
        return Err(bad("ziplist header"));
    }
    let tail = u32_le(b, 4)? as usize;
    let count = u16_le(b, 8)?;
    let end = b.len() - 1;
    let (mut p, mut last, mut prev_len) = (HEADER, HEADER, 0);
    let mut out = Vec::new();
    while p < end {
        let (prev, prev_size) = match b[p] {
            0..=253 => (usize::from(b[p]), 1),
            254 => (u32_le(b, p + 1)? as usize, 5),
            _ => return Err(bad("ziplist entry")),
        };
        if prev != prev_len {
            return Err(bad("ziplist previous length"));
        }
        let (entry, size) = ziplist_entry(b.get(p + prev_size..end).ok_or(bad("truncated"))?)?;
        out.push(entry);
        last = p;
        prev_len = prev_size + size;
        p += prev_len;
    }
    if p != end || tail != last || (count != u16::MAX && usize::from(count) != out.len()) {
        return Err(bad("ziplist length"));
    }
    Ok(out)
}

/// The integers of an intset: bytes per integer (u32: 2, 4 or 8), count (u32), then the
/// integers, little-endian, strictly ascending.
pub fn intset(b: &[u8]) -> Result<Vec<i64>, Error> {
    let width = u32_le(b, 0)? as usize;
    let count = u32_le(b, 4)? as usize;
    if !matches!(width, 2 | 4 | 8) || (b.len() - 8) as u64 != count as u64 * width as u64 {
        return Err(bad("intset header"));
    }
    let values: Vec<i64> = b[8..]
        .chunks_exact(width)
        .map(|c| int_le(c, 0, width))
        .collect::<Result<_, _>>()?;
    if values.windows(2).any(|w| w[0] >= w[1]) {
        return Err(bad("intset order"));
    }
    Ok(values)
}

/// A field and its value.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// A zipmap length: one byte below 254, or 254 and four bytes (little-endian).
fn zipmap_len(b: &[u8], p: usize) -> Result<(usize, usize), Error> {
    match *b.get(p).ok_or(bad("truncated"))? {
        l @ 0..=253 => Ok((usize::from(l), 1)),
        254 => Ok((u32_le(b, p + 1)? as usize, 5)),
        _ => Err(bad("zipmap length")),
    }
}

/// The pairs of a zipmap: a count byte (254 or more: not kept), then per pair the field's
/// length and bytes, the value's length, a count of free bytes, the value and the free
/// bytes; then 0xff.
pub fn zipmap(b: &[u8]) -> Result<Vec<Pair<'_>>, Error> {
    let count = *b.first().ok_or(bad("truncated"))?;
    let mut out = Vec::new();
    let mut p = 1;
    while *b.get(p).ok_or(bad("truncated"))? != 0xff {
        let (flen, n) = zipmap_len(b, p)?;
        let field = b.get(p + n..p + n + flen).ok_or(bad("truncated"))?;
        p += n + flen;
        let (vlen, n) = zipmap_len(b, p)?;
        let free = usize::from(*b.get(p + n).ok_or(bad("truncated"))?);
        let value = b.get(p + n + 1..p + n + 1 + vlen).ok_or(bad("truncated"))?;
        p += n + 1 + vlen + free;
        out.push((field, value));
    }
    if p != b.len() - 1 || (count < 254 && usize::from(count) != out.len()) {
        return Err(bad("zipmap length"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_lengths_are_written_most_significant_first() {
        assert_eq!(backlen(5), ([5, 0, 0, 0, 0], 1));
        assert_eq!(backlen(200), ([1, 0x80 | 72, 0, 0, 0], 2));
        assert_eq!(backlen(16383), ([0, 0xff, 0xff, 0, 0], 3));
    }

    #[test]
    fn listpack_integers_of_every_width_read_back() {
        // Built as Redis's lpAppend encodes them: 7-bit, 13-bit, 16, 24, 32 and 64 bits.
        let mut body = vec![0x05, 1, 0xdf, 0xff, 2, 0xf1, 0x30, 0x75, 3];
        body.extend_from_slice(&[0xf2, 0x00, 0x00, 0x80, 4]);
        body.extend_from_slice(&[0xf3, 0x00, 0x94, 0x35, 0x77, 5]);
        body.extend_from_slice(&[0xf4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 9]);
        let mut lp = ((body.len() + 7) as u32).to_le_bytes().to_vec();
        lp.extend_from_slice(&6u16.to_le_bytes());
        lp.extend_from_slice(&body);
        lp.push(0xff);
        assert_eq!(
            listpack(&lp).expect("valid"),
            [
                Entry::Int(5),
                Entry::Int(-1),
                Entry::Int(30000),
                Entry::Int(-(1 << 23)),
                Entry::Int(2_000_000_000),
                Entry::Int(i64::MAX),
            ]
        );
        lp[4] = 7; // a count that does not match
        assert!(listpack(&lp).is_err());
    }
}
