//! A list element as bytes, as a Redis listpack packs its entries: how [`super::chunk`]
//! writes and reads one.
//!
//! An entry is its value's length and bytes, then the length of its id and stamp and those
//! as varints, then the entry's length again, backwards (so the list is read from either
//! end, and a read of values skips ids without decoding them). The id and stamp start with
//! a flags byte; the position's choice, the op and the stamp's clock are differences from
//! the chunk's base, so they take a byte or a few; a server-id is written only where it
//! differs from the one it is most likely to equal. A small element takes 10-20 bytes,
//! against 80 for the same element as structs.

use super::{ListId, Pos};
use crate::hlc::Hlc;
use crate::ids::{Dot, OpId, ServerId, Stamp};
use smallvec::SmallVec;

/// One element as read from a list: its id and stamp decoded, its value borrowed from the
/// chunk that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Elem<'a> {
    pub id: ListId,
    pub stamp: Stamp,
    pub value: &'a [u8],
}

/// What a chunk's entries are stored relative to: its first element's, when it was made.
#[derive(Clone, Copy, Debug)]
pub(super) struct Base {
    op: u64,
    hlc: u64,
    choice: u32,
    server: u32,
}

impl Base {
    pub(super) fn of(id: &ListId, stamp: Stamp) -> Base {
        Base {
            op: id.dot.op.0,
            hlc: stamp.hlc.0,
            choice: id.pos.0.first().map_or(0, |d| (d >> 32) as u32),
            server: id.dot.server.0,
        }
    }
}

/// An id and stamp in their compact form: 8 bytes, the common case's (see [`Encoded`]).
pub(super) const COMPACT: u8 = 1;
/// A position of more digits than one (or none): their count, then each in full.
const POS_DEEP: u8 = 2;
/// A one-digit position made by another server than the dot's: that server follows.
const POS_SERVER: u8 = 4;
/// The dot's server is not the base's.
const DOT_SERVER: u8 = 8;
/// The dot's index is not 0 (a write of several elements).
const DOT_IDX: u8 = 16;
/// The stamp's server is not the dot's (an LSET from another region).
const STAMP_SERVER: u8 = 32;

/// The compact form's bits, after its marker bit: the position's choice, the op and the
/// clock, each as a difference from the base.
const CHOICE_BITS: u32 = 17;
const OP_BITS: u32 = 21;
const HLC_BITS: u32 = 25;

/// A difference from a base, small either side of it.
#[inline(always)]
fn zigzag(v: u64, base: u64) -> u64 {
    let d = v.wrapping_sub(base) as i64;
    ((d << 1) ^ (d >> 63)) as u64
}

#[inline(always)]
fn unzigzag(z: u64, base: u64) -> u64 {
    let d = (z >> 1) as i64 ^ -((z & 1) as i64);
    base.wrapping_add(d as u64)
}

/// How many bytes a varint of `v` takes (a backward length takes as many).
#[inline(always)]
fn var_size(v: u64) -> usize {
    if v < 0x80 {
        1
    } else {
        (u64::BITS - v.leading_zeros()).div_ceil(7) as usize
    }
}

/// An entry ready to be written: its id and stamp as the numbers it writes, and its size.
///
/// Most elements are pushed by the region that made their position, in one write each,
/// soon after the chunk's first: their id and stamp take the compact form, one 64-bit word
/// of three differences. The others take the general form (see [`General`]).
pub(super) struct Encoded {
    /// The compact form's word, or 0 for the general form.
    compact: u64,
    general: Option<General>,
    /// The bytes of the id and stamp.
    meta: usize,
    /// The whole entry's.
    pub(super) size: usize,
}

/// The general form, in this order: flags, the dot's server (`DOT_SERVER`), the op, the
/// dot's index (`DOT_IDX`), the clock, the stamp's server (`STAMP_SERVER`), then the
/// position: its choice and maker (`POS_SERVER`), or its digits (`POS_DEEP`).
struct General {
    flags: u8,
    server: u64,
    op: u64,
    idx: u64,
    hlc: u64,
    stamp_server: u64,
    choice: u64,
    maker: u64,
}

impl Encoded {
    #[inline(always)]
    fn sized(compact: u64, general: Option<General>, meta: usize, value_len: usize) -> Self {
        let len = var_size(value_len as u64) + value_len + var_size(meta as u64) + meta;
        Encoded {
            compact,
            general,
            meta,
            size: len + var_size(len as u64),
        }
    }
}

#[inline]
pub(super) fn encode(base: &Base, id: &ListId, stamp: Stamp, value_len: usize) -> Encoded {
    let server = id.dot.server.0;
    if let [one] = id.pos.0[..]
        && one as u32 == server
        && server == base.server
        && id.dot.idx == 0
        && stamp.server.0 == server
    {
        let choice = zigzag(one >> 32, base.choice.into());
        let op = zigzag(id.dot.op.0, base.op);
        let hlc = zigzag(stamp.hlc.0, base.hlc);
        if choice >> CHOICE_BITS == 0 && op >> OP_BITS == 0 && hlc >> HLC_BITS == 0 {
            let word = u64::from(COMPACT)
                | choice << 1
                | op << (1 + CHOICE_BITS)
                | hlc << (1 + CHOICE_BITS + OP_BITS);
            return Encoded::sized(word, None, 8, value_len);
        }
    }
    encode_general(base, id, stamp, value_len)
}

#[inline(never)]
fn encode_general(base: &Base, id: &ListId, stamp: Stamp, value_len: usize) -> Encoded {
    let server = id.dot.server.0;
    let mut flags = 0;
    let (choice, maker, deep): (u64, u64, &[u64]) = match id.pos.0[..] {
        [one] => {
            if one as u32 != server {
                flags |= POS_SERVER;
            }
            (
                zigzag(one >> 32, base.choice.into()),
                one & u64::from(u32::MAX),
                &[],
            )
        }
        _ => {
            flags |= POS_DEEP;
            (id.pos.0.len() as u64, 0, &id.pos.0)
        }
    };
    if server != base.server {
        flags |= DOT_SERVER;
    }
    if id.dot.idx != 0 {
        flags |= DOT_IDX;
    }
    if stamp.server.0 != server {
        flags |= STAMP_SERVER;
    }
    let g = General {
        flags,
        server: server.into(),
        op: zigzag(id.dot.op.0, base.op),
        idx: id.dot.idx.into(),
        hlc: zigzag(stamp.hlc.0, base.hlc),
        stamp_server: stamp.server.0.into(),
        choice,
        maker,
    };
    let flagged = |flag: u8, v: u64| if flags & flag != 0 { var_size(v) } else { 0 };
    let meta = 1
        + flagged(DOT_SERVER, g.server)
        + var_size(g.op)
        + flagged(DOT_IDX, g.idx)
        + var_size(g.hlc)
        + flagged(STAMP_SERVER, g.stamp_server)
        + var_size(g.choice)
        + flagged(POS_SERVER, g.maker)
        + deep.iter().map(|&d| var_size(d)).sum::<usize>();
    Encoded::sized(0, Some(g), meta, value_len)
}

/// A slice's writer, for entries whose size is known.
struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.out[self.at] = b;
        self.at += 1;
    }

    #[inline(always)]
    fn var(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.byte(v as u8 | 0x80);
            v >>= 7;
        }
        self.byte(v as u8);
    }

    #[inline(always)]
    fn bytes(&mut self, b: &[u8]) {
        self.out[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }
}

/// Writes an entry into `out`, which is exactly its size long.
#[inline]
pub(super) fn write_entry(out: &mut [u8], e: &Encoded, id: &ListId, value: &[u8]) {
    let mut w = Writer { out, at: 0 };
    w.var(value.len() as u64);
    w.bytes(value);
    w.var(e.meta as u64);
    match &e.general {
        None => w.bytes(&e.compact.to_le_bytes()),
        Some(g) => {
            w.byte(g.flags);
            if g.flags & DOT_SERVER != 0 {
                w.var(g.server);
            }
            w.var(g.op);
            if g.flags & DOT_IDX != 0 {
                w.var(g.idx);
            }
            w.var(g.hlc);
            if g.flags & STAMP_SERVER != 0 {
                w.var(g.stamp_server);
            }
            w.var(g.choice);
            if g.flags & POS_SERVER != 0 {
                w.var(g.maker);
            }
            if g.flags & POS_DEEP != 0 {
                for &d in &id.pos.0 {
                    w.var(d);
                }
            }
        }
    }
    // The length backwards: its low 7 bits in the last byte, each byte before the first
    // with its top bit set to say another comes before it.
    let mut len = w.at;
    let back = &mut w.out[len..];
    if let [one] = back {
        *one = len as u8;
        return;
    }
    let n = back.len();
    for (i, b) in back.iter_mut().rev().enumerate() {
        *b = (len & 0x7f) as u8 | if i + 1 < n { 0x80 } else { 0 };
        len >>= 7;
    }
}

/// A forward reader over an entry.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    /// A varint, unrolled for the one to three bytes nearly all take.
    #[inline(always)]
    fn var(&mut self) -> u64 {
        let b0 = self.b[self.at];
        if b0 < 0x80 {
            self.at += 1;
            return b0.into();
        }
        let b1 = self.b[self.at + 1];
        let v = u64::from(b0 & 0x7f) | u64::from(b1 & 0x7f) << 7;
        if b1 < 0x80 {
            self.at += 2;
            return v;
        }
        let b2 = self.b[self.at + 2];
        let v = v | u64::from(b2 & 0x7f) << 14;
        if b2 < 0x80 {
            self.at += 3;
            return v;
        }
        self.at += 3;
        self.var_rest(v)
    }

    #[inline(never)]
    fn var_rest(&mut self, mut v: u64) -> u64 {
        let mut shift = 21;
        loop {
            let b = self.b[self.at];
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return v;
            }
            shift += 7;
        }
    }
}

/// The value of the entry that starts at `at` of `b`, where its id and stamp start, and
/// where the next entry starts.
#[inline(always)]
pub(super) fn value_at(b: &[u8], at: usize) -> (&[u8], usize, usize) {
    let mut c = Cursor { b, at };
    let n = c.var() as usize;
    let value = &b[c.at..c.at + n];
    c.at += n;
    let m = c.var() as usize;
    let meta = c.at;
    let len = meta + m - at;
    (value, meta, at + len + var_size(len as u64))
}

/// The entry that starts at `at` of `b`, and where the next one starts.
#[inline]
pub(super) fn decode<'a>(b: &'a [u8], at: usize, base: &Base) -> (Elem<'a>, usize) {
    let (value, meta, next) = value_at(b, at);
    let flags = b[meta];
    if flags & COMPACT != 0 {
        let word = u64::from_le_bytes(b[meta..meta + 8].try_into().expect("8 bytes"));
        let field = |shift: u32, bits: u32| (word >> shift) & ((1 << bits) - 1);
        let choice = unzigzag(field(1, CHOICE_BITS), base.choice.into()) & u64::from(u32::MAX);
        let op = unzigzag(field(1 + CHOICE_BITS, OP_BITS), base.op);
        let hlc = unzigzag(word >> (1 + CHOICE_BITS + OP_BITS), base.hlc);
        let server = ServerId(base.server);
        let elem = Elem {
            id: ListId {
                pos: Pos(SmallVec::from_buf([choice << 32 | u64::from(base.server)])),
                dot: Dot {
                    server,
                    op: OpId(op),
                    idx: 0,
                },
            },
            stamp: Stamp {
                hlc: Hlc(hlc),
                server,
            },
            value,
        };
        return (elem, next);
    }
    decode_general(b, meta, base, value, next)
}

#[inline(never)]
fn decode_general<'a>(
    b: &'a [u8],
    meta: usize,
    base: &Base,
    value: &'a [u8],
    next: usize,
) -> (Elem<'a>, usize) {
    let flags = b[meta];
    let mut c = Cursor { b, at: meta + 1 };
    let server = if flags & DOT_SERVER != 0 {
        c.var() as u32
    } else {
        base.server
    };
    let op = OpId(unzigzag(c.var(), base.op));
    let idx = if flags & DOT_IDX != 0 {
        c.var() as u32
    } else {
        0
    };
    let hlc = Hlc(unzigzag(c.var(), base.hlc));
    let stamp_server = if flags & STAMP_SERVER != 0 {
        c.var() as u32
    } else {
        server
    };
    let pos = if flags & POS_DEEP == 0 {
        let choice = unzigzag(c.var(), base.choice.into()) & u64::from(u32::MAX);
        let maker = if flags & POS_SERVER != 0 {
            c.var()
        } else {
            server.into()
        };
        Pos(SmallVec::from_buf([choice << 32 | maker]))
    } else {
        let n = c.var() as usize;
        Pos((0..n).map(|_| c.var()).collect())
    };
    let elem = Elem {
        id: ListId {
            pos,
            dot: Dot {
                server: ServerId(server),
                op,
                idx,
            },
        },
        stamp: Stamp {
            hlc,
            server: ServerId(stamp_server),
        },
        value,
    };
    (elem, next)
}

/// Where the entry that ends at `end` of `b` starts: its length is read backwards, each
/// byte with its top bit set saying another comes before it.
#[inline]
pub(super) fn entry_start(b: &[u8], end: usize) -> usize {
    let mut p = end - 1;
    let mut byte = b[p];
    let mut len = usize::from(byte & 0x7f);
    let mut shift = 7;
    while byte & 0x80 != 0 {
        p -= 1;
        byte = b[p];
        len |= usize::from(byte & 0x7f) << shift;
        shift += 7;
    }
    p - len
}
