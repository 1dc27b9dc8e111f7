//! Writing one value: its type byte, then the value. gdc writes the plain encoding of each
//! type (STRING, LIST, SET, ZSET_2, HASH), which every Redis since 4.0 loads, converting it
//! to its compact encodings as its own settings say; strings as Redis writes them.

use super::{kind, lzf};
use gdc_crdt::ops::Whole;

/// Strings this short are never compressed (Redis's rule: LZF cannot win below it).
const COMPRESS_BYTES_MIN: usize = 21;
/// Strings this long at most may be a small integer.
const INT_TEXT_BYTES_MAX: usize = 11;

/// A payload being written.
#[derive(Debug, Default)]
pub struct Writer {
    pub out: Vec<u8>,
    /// Made at the first string long enough to compress, then kept for the others.
    lzf: Option<lzf::Compressor>,
}

impl Writer {
    /// Append `whole`, type byte first.
    pub fn value(&mut self, whole: &Whole) {
        match whole {
            Whole::Stream(v) => super::stream::write(self, v),
            Whole::Str(s) => {
                self.out.push(kind::STRING);
                self.string(s);
            }
            Whole::List(items) => {
                self.out.push(kind::LIST);
                self.len(items.len() as u64);
                items.iter().for_each(|i| self.string(i));
            }
            Whole::Set(members) => {
                self.out.push(kind::SET);
                self.len(members.len() as u64);
                members.iter().for_each(|m| self.string(m));
            }
            Whole::ZSet(items) => {
                self.out.push(kind::ZSET_2);
                self.len(items.len() as u64);
                // Highest score first, as Redis writes a skiplist.
                for (member, score) in items.iter().rev() {
                    self.string(member);
                    self.out.extend_from_slice(&score.to_le_bytes());
                }
            }
            Whole::Hash(fields) => {
                self.out.push(kind::HASH);
                self.len(fields.len() as u64);
                for (field, value) in fields {
                    self.string(field);
                    self.string(value);
                }
            }
        }
    }

    /// A length: 6 bits, 14 bits, or a marker and 32 or 64 bits, big-endian.
    pub(super) fn len(&mut self, n: u64) {
        if n < 1 << 6 {
            self.out.push(n as u8);
        } else if n < 1 << 14 {
            self.out
                .extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
        } else if let Ok(n32) = u32::try_from(n) {
            self.out.push(0x80);
            self.out.extend_from_slice(&n32.to_be_bytes());
        } else {
            self.out.push(0x81);
            self.out.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// A string as Redis writes it: a decimal integer that fits 32 bits as 1, 2 or 4 bytes;
    /// else LZF-compressed when that saves more than 4 bytes; else length and bytes.
    pub(super) fn string(&mut self, s: &[u8]) {
        if let Some(i) = small_int(s) {
            if let Ok(b) = i8::try_from(i) {
                self.out.extend_from_slice(&[0xc0, b as u8]);
            } else if let Ok(h) = i16::try_from(i) {
                self.out.push(0xc1);
                self.out.extend_from_slice(&h.to_le_bytes());
            } else {
                self.out.push(0xc2);
                self.out.extend_from_slice(&i.to_le_bytes());
            }
            return;
        }
        if s.len() >= COMPRESS_BYTES_MIN {
            let lzf = self.lzf.get_or_insert_with(lzf::Compressor::default);
            if let Some(packed) = lzf.compress(s, s.len() - 4) {
                self.out.push(0xc3);
                self.len(packed.len() as u64);
                self.len(s.len() as u64);
                self.out.extend_from_slice(&packed);
                return;
            }
        }
        self.len(s.len() as u64);
        self.out.extend_from_slice(s);
    }
}

/// `s` as an integer Redis writes in 32 bits or fewer: decimal text with no sign but a
/// leading minus, no leading zero.
fn small_int(s: &[u8]) -> Option<i32> {
    if s.len() > INT_TEXT_BYTES_MAX {
        return None;
    }
    i32::try_from(gdc_crdt::string::parse_i64(s)?).ok()
}
