//! The canonical binary encoding of key states, effects and version vectors, and the digests
//! built on it. Equal values encode to identical bytes (every collection is written sorted,
//! whatever its order in memory), so a digest of the encoding compares regions byte for byte.
//!
//! Layout: a format-version byte, then the value. Integers (server-ids, op ids, lengths) are
//! LEB128 varints; HLC times, floats (IEEE bits) and list position digits are 8 bytes
//! little-endian; `i128` counter totals 16 bytes little-endian; byte strings are a varint
//! length and the bytes.

use crate::blob::Blob;
use crate::effect::{Addition, Effect, FieldLoc, Loc, Removal, Reset, Value};
use crate::error::DecodeError;
use crate::field::{CounterEntry, CounterReset, Field, Num};
use crate::hash::HashPart;
use crate::hlc::Hlc;
use crate::ids::{Dot, OpId, ServerId, Stamp, Tag};
use crate::key::{KeyState, Kind, Part, TtlEntry};
use crate::list::{ListElem, ListId, ListPart, Pos};
use crate::set::SetPart;
use crate::tomb::Tomb;
use crate::vv::VersionVector;
use crate::zset::ZSetPart;
use smallvec::SmallVec;
use xxhash_rust::xxh3::xxh3_64;

/// The version of this encoding, first byte of every encoded key state and effect.
pub const FORMAT_VERSION: u8 = 1;

// ---------------------------------------------------------------- writing

fn put_var(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_var(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_dot(out: &mut Vec<u8>, d: Dot) {
    put_var(out, d.server.0 as u64);
    put_var(out, d.op.0);
    put_var(out, d.idx as u64);
}

fn put_tag(out: &mut Vec<u8>, t: Tag) {
    put_dot(out, t.dot);
    put_u64(out, t.hlc.0);
}

fn put_num(out: &mut Vec<u8>, n: Num) {
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

/// Encode a version vector (no version byte: it is always part of something versioned).
pub fn encode_vv(v: &VersionVector, out: &mut Vec<u8>) {
    put_var(out, v.len() as u64);
    for (s, o) in v.iter() {
        put_var(out, s.0 as u64);
        put_var(out, o.0);
    }
}

/// How a register value is written.
trait RegValue: Sized + Clone + PartialEq {
    fn put(&self, out: &mut Vec<u8>);
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

impl RegValue for Blob {
    fn put(&self, out: &mut Vec<u8>) {
        put_bytes(out, self);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.blob()
    }
}

impl RegValue for f64 {
    fn put(&self, out: &mut Vec<u8>) {
        put_u64(out, self.to_bits());
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(f64::from_bits(r.u64()?))
    }
}

fn put_field<V: RegValue>(out: &mut Vec<u8>, f: &Field<V>) {
    put_var(out, f.regs().len() as u64);
    for r in f.regs() {
        put_tag(out, r.tag);
        r.value.put(out);
    }
    put_var(out, f.entries().len() as u64);
    for e in f.entries() {
        put_var(out, e.start.0);
        put_tag(out, e.tag);
        put_num(out, e.total);
    }
    put_var(out, f.resets().len() as u64);
    for (s, r) in f.resets() {
        put_var(out, s.0 as u64);
        put_var(out, r.start.0);
        put_var(out, r.op.0);
        put_num(out, r.total);
        put_dot(out, r.by);
    }
}

fn put_pos(out: &mut Vec<u8>, p: &Pos) {
    put_var(out, p.0.len() as u64);
    for d in &p.0 {
        put_u64(out, *d);
    }
}

fn put_list_id(out: &mut Vec<u8>, id: &ListId) {
    put_pos(out, &id.pos);
    put_dot(out, id.dot);
}

fn put_part(out: &mut Vec<u8>, p: &Part) {
    out.push(p.kind() as u8);
    match p {
        Part::Str(f) => put_field(out, f),
        Part::Hash(h) => {
            let mut fields: Vec<_> = h.all_fields().collect();
            fields.sort_unstable_by_key(|(name, _)| *name);
            put_var(out, fields.len() as u64);
            for (name, f) in fields {
                put_bytes(out, name);
                put_field(out, f);
            }
        }
        Part::Set(s) => {
            let mut members: Vec<_> = s.entries().collect();
            members.sort_unstable_by_key(|(m, _)| *m);
            put_var(out, members.len() as u64);
            for (m, tags) in members {
                put_bytes(out, m);
                put_var(out, tags.len() as u64);
                for t in tags {
                    put_tag(out, *t);
                }
            }
        }
        Part::ZSet(z) => {
            let mut members: Vec<_> = z.all_members().collect();
            members.sort_unstable_by_key(|(m, _)| *m);
            put_var(out, members.len() as u64);
            for (m, f) in members {
                put_bytes(out, m);
                put_field(out, f);
            }
        }
        Part::List(l) => {
            put_var(out, l.len() as u64);
            for (id, e) in l.iter() {
                put_list_id(out, id);
                put_u64(out, e.stamp.hlc.0);
                put_var(out, e.stamp.server.0 as u64);
                put_bytes(out, &e.value);
            }
        }
    }
}

/// Encode a key's whole state.
pub fn encode_key(k: &KeyState, out: &mut Vec<u8>) {
    out.push(FORMAT_VERSION);
    let parts = k.parts();
    put_var(out, parts.len() as u64);
    for p in parts.iter() {
        put_part(out, p);
    }
    put_var(out, k.ttl_entries().len() as u64);
    for t in k.ttl_entries() {
        put_tag(out, t.tag);
        match t.at {
            None => out.push(0),
            Some(at) => {
                out.push(1);
                put_u64(out, at);
            }
        }
    }
    match k.tomb() {
        None => out.push(0),
        Some(t) => {
            out.push(1);
            encode_vv(&t.cutoff, out);
            encode_vv(&t.cutoff_by, out);
            put_var(out, t.cloud.len() as u64);
            for (d, by) in &t.cloud {
                put_dot(out, *d);
                put_dot(out, *by);
            }
        }
    }
}

fn put_field_loc(out: &mut Vec<u8>, l: &FieldLoc) {
    match l {
        FieldLoc::Str => out.push(0),
        FieldLoc::Hash(n) => {
            out.push(1);
            put_bytes(out, n);
        }
        FieldLoc::ZSet(m) => {
            out.push(2);
            put_bytes(out, m);
        }
    }
}

/// Encode an effect.
pub fn encode_effect(e: &Effect, out: &mut Vec<u8>) {
    out.push(FORMAT_VERSION);
    put_tag(out, e.tag);
    match &e.cutoff {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            encode_vv(v, out);
        }
    }
    put_var(out, e.removes.len() as u64);
    for r in &e.removes {
        match &r.loc {
            Loc::Field(l) => {
                out.push(0);
                put_field_loc(out, l);
            }
            Loc::Set(m) => {
                out.push(1);
                put_bytes(out, m);
            }
            Loc::List(id) => {
                out.push(2);
                put_list_id(out, id);
            }
            Loc::Ttl => out.push(3),
        }
        put_dot(out, r.dot);
    }
    put_var(out, e.resets.len() as u64);
    for r in &e.resets {
        put_field_loc(out, &r.loc);
        put_var(out, r.server.0 as u64);
        put_var(out, r.reset.start.0);
        put_var(out, r.reset.op.0);
        put_num(out, r.reset.total);
        put_dot(out, r.reset.by);
    }
    put_var(out, e.adds.len() as u64);
    for a in &e.adds {
        match a {
            Addition::Write { loc, value } => {
                out.push(0);
                put_field_loc(out, loc);
                match value {
                    Value::Bytes(b) => {
                        out.push(0);
                        put_bytes(out, b);
                    }
                    Value::Score(s) => {
                        out.push(1);
                        put_u64(out, s.to_bits());
                    }
                }
            }
            Addition::Incr { loc, start, total } => {
                out.push(1);
                put_field_loc(out, loc);
                put_var(out, start.0);
                put_num(out, *total);
            }
            Addition::Member(m) => {
                out.push(2);
                put_bytes(out, m);
            }
            Addition::ListInsert { pos, value } => {
                out.push(3);
                put_pos(out, pos);
                put_bytes(out, value);
            }
            Addition::ListSet { id, value } => {
                out.push(4);
                put_list_id(out, id);
                put_bytes(out, value);
            }
            Addition::Expire(at) => {
                out.push(5);
                put_u64(out, *at);
            }
            Addition::Persist => out.push(6),
        }
    }
}

/// The digest of one key: xxh3 of the key and its state's encoding.
pub fn key_digest(key: &[u8], k: &KeyState) -> u64 {
    let mut b = Vec::with_capacity(key.len() + 64);
    put_bytes(&mut b, key);
    encode_key(k, &mut b);
    xxh3_64(&b)
}

// ---------------------------------------------------------------- reading

/// A cursor over untrusted input: every read is bounds-checked and every count is checked
/// against what is left before anything is allocated for it.
struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&x, rest) = self.b.split_first().ok_or(DecodeError::Truncated)?;
        self.b = rest;
        Ok(x)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.b.len() {
            return Err(DecodeError::Truncated);
        }
        let (x, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(x)
    }

    fn var(&mut self) -> Result<u64, DecodeError> {
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

    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        u32::try_from(self.var()?).map_err(|_| DecodeError::Invalid(what))
    }

    /// A count of items that each take at least one byte.
    fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.var()?;
        if n > self.b.len() as u64 {
            return Err(DecodeError::Truncated);
        }
        Ok(n as usize)
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn blob(&mut self) -> Result<Blob, DecodeError> {
        let n = self.count()?;
        Ok(Blob::from(self.take(n)?))
    }

    fn server(&mut self) -> Result<ServerId, DecodeError> {
        match self.u32("server-id")? {
            0 => Err(DecodeError::Invalid("server-id 0")),
            s => Ok(ServerId(s)),
        }
    }

    fn dot(&mut self) -> Result<Dot, DecodeError> {
        let server = self.server()?;
        let op = OpId(self.var()?);
        let idx = self.u32("piece index")?;
        Ok(Dot { server, op, idx })
    }

    fn tag(&mut self) -> Result<Tag, DecodeError> {
        let dot = self.dot()?;
        Ok(Tag::new(dot, Hlc(self.u64()?)))
    }

    fn num(&mut self) -> Result<Num, DecodeError> {
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

    fn vv(&mut self) -> Result<VersionVector, DecodeError> {
        let n = self.count()?;
        let mut v = VersionVector::new();
        for _ in 0..n {
            let s = self.server()?;
            v.raise(s, OpId(self.var()?));
        }
        Ok(v)
    }

    fn field<V: RegValue>(&mut self) -> Result<Field<V>, DecodeError> {
        let none = Tomb::default();
        let mut f = Field::default();
        for _ in 0..self.count()? {
            let tag = self.tag()?;
            f.add_reg(tag, V::get(self)?, &none);
        }
        for _ in 0..self.count()? {
            let start = OpId(self.var()?);
            let tag = self.tag()?;
            let total = self.num()?;
            f.add_entry(CounterEntry { start, tag, total }, &none);
        }
        for _ in 0..self.count()? {
            let s = self.server()?;
            let reset = CounterReset {
                start: OpId(self.var()?),
                op: OpId(self.var()?),
                total: self.num()?,
                by: self.dot()?,
            };
            f.add_reset(s, reset);
        }
        Ok(f)
    }

    fn pos(&mut self) -> Result<Pos, DecodeError> {
        let n = self.count()?;
        let mut digits = SmallVec::new();
        for _ in 0..n {
            digits.push(self.u64()?);
        }
        Ok(Pos(digits))
    }

    fn list_id(&mut self) -> Result<ListId, DecodeError> {
        Ok(ListId {
            pos: self.pos()?,
            dot: self.dot()?,
        })
    }

    fn part(&mut self) -> Result<Part, DecodeError> {
        let none = Tomb::default();
        let kind = match self.u8()? {
            0 => Kind::String,
            1 => Kind::Hash,
            2 => Kind::Set,
            3 => Kind::ZSet,
            4 => Kind::List,
            _ => return Err(DecodeError::Invalid("type")),
        };
        Ok(match kind {
            Kind::String => Part::Str(self.field()?),
            Kind::Hash => {
                let mut h = HashPart::default();
                for _ in 0..self.count()? {
                    let name = self.blob()?;
                    let f = self.field()?;
                    h.field_mut(&name).merge(&f, &none);
                    h.tidy(&name);
                }
                Part::Hash(Box::new(h))
            }
            Kind::Set => {
                let mut s = SetPart::default();
                for _ in 0..self.count()? {
                    let m = self.blob()?;
                    for _ in 0..self.count()? {
                        s.add(&m, self.tag()?, &none);
                    }
                }
                Part::Set(Box::new(s))
            }
            Kind::ZSet => {
                let mut z = ZSetPart::default();
                for _ in 0..self.count()? {
                    let m = self.blob()?;
                    let f: Field<f64> = self.field()?;
                    z.update(&m, |cur| cur.merge(&f, &none));
                }
                Part::ZSet(Box::new(z))
            }
            Kind::List => {
                let mut l = ListPart::default();
                for _ in 0..self.count()? {
                    let id = self.list_id()?;
                    let hlc = Hlc(self.u64()?);
                    let server = self.server()?;
                    let value = self.blob()?;
                    let elem = ListElem {
                        stamp: Stamp { hlc, server },
                        value,
                    };
                    l.put(id, elem, &none);
                }
                Part::List(Box::new(l))
            }
        })
    }

    fn field_loc(&mut self) -> Result<FieldLoc, DecodeError> {
        Ok(match self.u8()? {
            0 => FieldLoc::Str,
            1 => FieldLoc::Hash(self.blob()?),
            2 => FieldLoc::ZSet(self.blob()?),
            _ => return Err(DecodeError::Invalid("field location")),
        })
    }

    fn version(&mut self) -> Result<(), DecodeError> {
        match self.u8()? {
            FORMAT_VERSION => Ok(()),
            v => Err(DecodeError::Version(v)),
        }
    }

    fn finish(&self) -> Result<(), DecodeError> {
        match self.b.len() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }
}

/// Decode a key state written by [`encode_key`].
pub fn decode_key(b: &[u8]) -> Result<KeyState, DecodeError> {
    let mut r = Reader { b };
    r.version()?;
    let mut parts: SmallVec<[Part; 1]> = SmallVec::new();
    for _ in 0..r.count()? {
        let p = r.part()?;
        if parts
            .last()
            .is_some_and(|last: &Part| last.kind() >= p.kind())
        {
            return Err(DecodeError::Invalid("part order"));
        }
        parts.push(p);
    }
    let mut ttl: Vec<TtlEntry> = Vec::new();
    for _ in 0..r.count()? {
        let tag = r.tag()?;
        let at = match r.u8()? {
            0 => None,
            1 => Some(r.u64()?),
            _ => return Err(DecodeError::Invalid("ttl kind")),
        };
        if ttl.last().is_some_and(|last| last.tag.dot >= tag.dot) {
            return Err(DecodeError::Invalid("ttl order"));
        }
        ttl.push(TtlEntry { tag, at });
    }
    let tomb = match r.u8()? {
        0 => None,
        1 => {
            let mut t = Tomb {
                cutoff: r.vv()?,
                cutoff_by: r.vv()?,
                ..Tomb::default()
            };
            for _ in 0..r.count()? {
                let d = r.dot()?;
                let by = r.dot()?;
                t.add_removed(d, by);
            }
            Some(t)
        }
        _ => return Err(DecodeError::Invalid("tomb flag")),
    };
    r.finish()?;
    Ok(KeyState::from_raw(parts, ttl, tomb))
}

/// The dot of an encoded effect, read without decoding the rest (to filter by origin).
pub fn effect_dot(b: &[u8]) -> Result<Dot, DecodeError> {
    let mut r = Reader { b };
    r.version()?;
    r.dot()
}

/// Decode an effect written by [`encode_effect`].
pub fn decode_effect(b: &[u8]) -> Result<Effect, DecodeError> {
    let mut r = Reader { b };
    r.version()?;
    let mut e = Effect::new(r.tag()?);
    e.cutoff = match r.u8()? {
        0 => None,
        1 => Some(r.vv()?),
        _ => return Err(DecodeError::Invalid("cutoff flag")),
    };
    for _ in 0..r.count()? {
        let loc = match r.u8()? {
            0 => Loc::Field(r.field_loc()?),
            1 => Loc::Set(r.blob()?),
            2 => Loc::List(r.list_id()?),
            3 => Loc::Ttl,
            _ => return Err(DecodeError::Invalid("removal location")),
        };
        e.removes.push(Removal { loc, dot: r.dot()? });
    }
    for _ in 0..r.count()? {
        let loc = r.field_loc()?;
        let server = r.server()?;
        let reset = CounterReset {
            start: OpId(r.var()?),
            op: OpId(r.var()?),
            total: r.num()?,
            by: r.dot()?,
        };
        e.resets.push(Reset { loc, server, reset });
    }
    for _ in 0..r.count()? {
        let a = match r.u8()? {
            0 => {
                let loc = r.field_loc()?;
                let value = match r.u8()? {
                    0 => Value::Bytes(r.blob()?),
                    1 => Value::Score(f64::from_bits(r.u64()?)),
                    _ => return Err(DecodeError::Invalid("value kind")),
                };
                Addition::Write { loc, value }
            }
            1 => Addition::Incr {
                loc: r.field_loc()?,
                start: OpId(r.var()?),
                total: r.num()?,
            },
            2 => Addition::Member(r.blob()?),
            3 => Addition::ListInsert {
                pos: r.pos()?,
                value: r.blob()?,
            },
            4 => Addition::ListSet {
                id: r.list_id()?,
                value: r.blob()?,
            },
            5 => Addition::Expire(r.u64()?),
            6 => Addition::Persist,
            _ => return Err(DecodeError::Invalid("addition kind")),
        };
        e.adds.push(a);
    }
    r.finish()?;
    Ok(e)
}

/// Decode a version vector written by [`encode_vv`]; returns it and the bytes after it.
pub fn decode_vv(b: &[u8]) -> Result<(VersionVector, &[u8]), DecodeError> {
    let mut r = Reader { b };
    let v = r.vv()?;
    Ok((v, r.b))
}
