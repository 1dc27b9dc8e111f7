//! The primitive items of the encoding, written and read: the format-version byte, LEB128
//! varints, 8-byte little-endian integers, byte strings, dots, tags, counter numbers and list
//! positions; and `Reader`, the bounds-checked cursor every decoder reads untrusted input
//! with.

use crate::bits::{BYTE_WRITE_REACH_MAX, BitOp, BitWrite, StrWrite};
use crate::blob::Blob;
use crate::error::DecodeError;
use crate::field::Num;
use crate::hlc::Hlc;
use crate::ids::{Dot, OpId, ServerId, Tag};
use crate::list::{ListId, Pos};
use smallvec::SmallVec;

/// The version of this encoding, first byte of every encoded effect. Version 2 adds a
/// string's bit writes to a key state; version 1 (without them) still reads.
pub const FORMAT_VERSION: u8 = 2;

/// The version a key state is written with: version 3 adds what a string's register has
/// baked in of its bit writes; versions 1 and 2 still read.
pub const KEY_FORMAT_VERSION: u8 = 3;

/// A LEB128 varint (also what a stream's packed entries are written with).
pub(crate) fn put_var(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The varint [`put_var`] wrote at `*at` in bytes a structure wrote itself (not input:
/// see [`Reader`] for that), moving `at` past it.
#[inline]
pub(crate) fn read_var(bytes: &[u8], at: &mut usize) -> u64 {
    let b = bytes[*at];
    *at += 1;
    if b < 0x80 {
        return u64::from(b);
    }
    read_var_on(bytes, at, b)
}

/// [`read_var`] past its first byte `first`, which has more after it.
#[inline(never)]
fn read_var_on(bytes: &[u8], at: &mut usize, first: u8) -> u64 {
    let mut v = u64::from(first & 0x7f);
    let mut shift = 7;
    loop {
        let b = bytes[*at];
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

/// How many bytes [`put_var`] writes `v` in.
pub(crate) const fn var_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

pub(super) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(super) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_var(out, b.len() as u64);
    out.extend_from_slice(b);
}

pub(super) fn put_dot(out: &mut Vec<u8>, d: Dot) {
    put_var(out, d.server.0 as u64);
    put_var(out, d.op.0);
    put_var(out, d.idx as u64);
}

pub(super) fn put_tag(out: &mut Vec<u8>, t: Tag) {
    put_dot(out, t.dot);
    put_u64(out, t.hlc.0);
}

pub(super) fn put_num(out: &mut Vec<u8>, n: Num) {
    match n {
        Num::Int(i) => {
            out.push(0);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Num::Float(f) => {
            out.push(1);
            put_u64(out, f.to_bits());
        }
    }
}

pub(super) fn put_pos(out: &mut Vec<u8>, p: &Pos) {
    put_var(out, p.0.len() as u64);
    for d in &p.0 {
        put_u64(out, *d);
    }
}

/// An increment's width byte has its top bit set (widths take seven bits; records written
/// before increments were replicated read as writes).
const BIT_WRITE_ADD: u8 = 0x80;
/// The width byte of a HyperLogLog register raise (no width and flag above make it).
const BIT_WRITE_HLL_MAX: u8 = 0xff;
/// The width byte of a SETRANGE's bytes (the offset a byte offset, the bytes after).
const BYTE_RANGE: u8 = 0xfe;
/// The width byte of an APPEND's bytes (the offset 0, the bytes after).
const BYTE_APPEND: u8 = 0xfd;

/// A string's partial write: its offset, a byte that tells the kind (a bit write's width
/// and flag), then its value or bytes. Nodes older than the byte writes cannot read them.
pub(super) fn put_str_write(out: &mut Vec<u8>, w: &StrWrite) {
    match w {
        StrWrite::Bits(w) => {
            put_var(out, w.offset);
            out.push(match w.op {
                BitOp::Set => w.width,
                BitOp::Add => w.width | BIT_WRITE_ADD,
                BitOp::HllMax => BIT_WRITE_HLL_MAX,
            });
            put_var(out, w.value);
        }
        StrWrite::Range { offset, bytes } => {
            put_var(out, *offset);
            out.push(BYTE_RANGE);
            put_bytes(out, bytes);
        }
        StrWrite::Append(bytes) => {
            put_var(out, 0);
            out.push(BYTE_APPEND);
            put_bytes(out, bytes);
        }
    }
}

pub(super) fn put_list_id(out: &mut Vec<u8>, id: &ListId) {
    put_pos(out, &id.pos);
    put_dot(out, id.dot);
}

/// A cursor over untrusted input: every read is bounds-checked and every count is checked
/// against what is left before anything is allocated for it.
pub(super) struct Reader<'a> {
    pub(super) b: &'a [u8],
    /// The version the input is in, once read.
    pub(super) version: u8,
}

impl<'a> Reader<'a> {
    pub(super) fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&x, rest) = self.b.split_first().ok_or(DecodeError::Truncated)?;
        self.b = rest;
        Ok(x)
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.b.len() {
            return Err(DecodeError::Truncated);
        }
        let (x, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(x)
    }

    pub(super) fn var(&mut self) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let byte = self.u8()?;
            let bits = (byte & 0x7f) as u64;
            if i == 9 && bits > 1 {
                return Err(DecodeError::Invalid("varint"));
            }
            v |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Invalid("varint"))
    }

    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        u32::try_from(self.var()?).map_err(|_| DecodeError::Invalid(what))
    }

    /// A count of items that each take at least one byte.
    pub(super) fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.var()?;
        if n > self.b.len() as u64 {
            return Err(DecodeError::Truncated);
        }
        Ok(n as usize)
    }

    pub(super) fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub(super) fn blob(&mut self) -> Result<Blob, DecodeError> {
        let n = self.count()?;
        Ok(Blob::from(self.take(n)?))
    }

    pub(super) fn server(&mut self) -> Result<ServerId, DecodeError> {
        match self.u32("server-id")? {
            0 => Err(DecodeError::Invalid("server-id 0")),
            s => Ok(ServerId(s)),
        }
    }

    pub(super) fn dot(&mut self) -> Result<Dot, DecodeError> {
        let server = self.server()?;
        let op = OpId(self.var()?);
        let idx = self.u32("piece index")?;
        Ok(Dot { server, op, idx })
    }

    pub(super) fn tag(&mut self) -> Result<Tag, DecodeError> {
        let dot = self.dot()?;
        Ok(Tag::new(dot, Hlc(self.u64()?)))
    }

    pub(super) fn num(&mut self) -> Result<Num, DecodeError> {
        match self.u8()? {
            0 => {
                let b = self.take(16)?;
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                Ok(Num::Int(i128::from_le_bytes(a)))
            }
            1 => Ok(Num::Float(f64::from_bits(self.u64()?))),
            _ => Err(DecodeError::Invalid("number kind")),
        }
    }

    pub(super) fn pos(&mut self) -> Result<Pos, DecodeError> {
        let n = self.count()?;
        let mut digits = SmallVec::new();
        for _ in 0..n {
            digits.push(self.u64()?);
        }
        Ok(Pos(digits))
    }

    pub(super) fn str_write(&mut self) -> Result<StrWrite, DecodeError> {
        let offset = self.var()?;
        let byte = self.u8()?;
        match byte {
            BYTE_RANGE => {
                let bytes = self.blob()?;
                if offset.saturating_add(bytes.len() as u64) > BYTE_WRITE_REACH_MAX {
                    return Err(DecodeError::Invalid("byte range"));
                }
                Ok(StrWrite::Range { offset, bytes })
            }
            BYTE_APPEND => Ok(StrWrite::Append(self.blob()?)),
            _ => self.bit_write(offset, byte).map(StrWrite::Bits),
        }
    }

    fn bit_write(&mut self, offset: u64, byte: u8) -> Result<BitWrite, DecodeError> {
        let value = self.var()?;
        if byte == BIT_WRITE_HLL_MAX {
            return match (usize::try_from(offset), u8::try_from(value)) {
                (Ok(index), Ok(count)) if index < crate::hll::REGISTERS && count < 64 => {
                    Ok(BitWrite::hll_raise(index, count))
                }
                _ => Err(DecodeError::Invalid("register raise")),
            };
        }
        let (width, add) = (byte & !BIT_WRITE_ADD, byte & BIT_WRITE_ADD != 0);
        if width == 0 || width > 64 || offset.checked_add(u64::from(width)).is_none() {
            return Err(DecodeError::Invalid("bit write"));
        }
        Ok(BitWrite {
            offset,
            width,
            value,
            op: if add { BitOp::Add } else { BitOp::Set },
        })
    }

    pub(super) fn list_id(&mut self) -> Result<ListId, DecodeError> {
        Ok(ListId {
            pos: self.pos()?,
            dot: self.dot()?,
        })
    }

    pub(super) fn new(b: &'a [u8]) -> Self {
        Reader {
            b,
            version: FORMAT_VERSION,
        }
    }

    pub(super) fn version(&mut self) -> Result<(), DecodeError> {
        match self.u8()? {
            v @ (1 | FORMAT_VERSION | KEY_FORMAT_VERSION) => {
                self.version = v;
                Ok(())
            }
            v => Err(DecodeError::Version(v)),
        }
    }

    pub(super) fn finish(&self) -> Result<(), DecodeError> {
        match self.b.len() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_take_seven_bits_a_byte_and_read_back() {
        let cases: [(u64, usize); 10] = [
            (0, 1),
            (1, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (u32::MAX as u64, 5),
            (1 << 63, 10),
            (u64::MAX - 1, 10),
            (u64::MAX, 10),
        ];
        let mut all = vec![0xaa];
        for (v, len) in cases {
            let mut out = vec![0xaa];
            put_var(&mut out, v);
            assert_eq!(out.len() - 1, len, "{v}");
            assert_eq!(out[0], 0xaa, "what was there is kept");
            assert_eq!(out[len] & 0x80, 0, "the last byte ends it");
            assert!(out[1..len].iter().all(|b| b & 0x80 != 0), "{v}: {out:?}");
            let mut r = Reader::new(&out[1..]);
            assert_eq!(r.var(), Ok(v));
            assert_eq!(r.finish(), Ok(()));
            assert_eq!(var_len(v), len, "{v}");
            let mut at = 1;
            assert_eq!((read_var(&out, &mut at), at), (v, 1 + len));
            put_var(&mut all, v);
        }
        // One after another in one buffer, as records hold them.
        let mut r = Reader::new(&all[1..]);
        for (v, _) in cases {
            assert_eq!(r.var(), Ok(v));
        }
        assert_eq!(r.finish(), Ok(()));
    }
}
