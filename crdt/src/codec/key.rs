//! Key states: the parts (each collection written sorted), the TTL entries and the tomb; and
//! the digest of a key, built on the encoding of its content (the state without the tomb).

use super::field::{put_field, put_field_content};
use super::primitive::{
    FORMAT_VERSION, KEY_FORMAT_VERSION, Reader, put_bytes, put_dot, put_list_id, put_str_write,
    put_tag, put_u64, put_var,
};
use super::vv::encode_vv;
use crate::bits::{Baked, StrWrite};
use crate::blob::Blob;
use crate::error::DecodeError;
use crate::field::Field;
use crate::hash::HashPart;
use crate::hlc::Hlc;
use crate::ids::{Stamp, Tag};
use crate::key::{KeyState, Kind, Part, TtlEntry};
use crate::list::ListPart;
use crate::set::SetPart;
use crate::tomb::Tomb;
use crate::zset::ZSetPart;
use smallvec::SmallVec;
use xxhash_rust::xxh3::xxh3_64;

/// What of a key an encoding writes.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    /// Everything: content, TTL entries and removal knowledge (snapshots, state transfer).
    Whole,
    /// What the key holds from its ops, without removal knowledge (digests).
    Content,
}

fn put_part(out: &mut Vec<u8>, p: &Part, scope: Scope) {
    let field = |out: &mut Vec<u8>, f: &Field<Blob>| match scope {
        Scope::Whole => put_field(out, f),
        Scope::Content => put_field_content(out, f),
    };
    out.push(p.kind() as u8);
    match p {
        // The whole state puts its bit writes at the end of the key's encoding (so that a
        // key without any encodes as before them, in version 2's one added byte). The
        // content of a string with bit writes is the value it reads as: each region bakes
        // them into the register at its own pace (a count no field has marks it).
        Part::Str(s) if scope == Scope::Content && s.has_bit_writes() => {
            put_var(out, u64::MAX);
            put_bytes(out, &s.value());
        }
        Part::Str(f) => field(out, f),
        Part::Hash(h) => {
            let mut fields: Vec<_> = match scope {
                Scope::Whole => h.all().collect(),
                Scope::Content => h.fields().collect(),
            };
            fields.sort_unstable_by_key(|(name, _)| *name);
            put_var(out, fields.len() as u64);
            for (name, f) in fields {
                put_bytes(out, name);
                field(out, f);
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
            let mut members: Vec<_> = z
                .all_members()
                .filter(|(_, f)| scope == Scope::Whole || f.is_live())
                .collect();
            members.sort_unstable_by_key(|(m, _)| *m);
            put_var(out, members.len() as u64);
            for (m, f) in members {
                put_bytes(out, m);
                match scope {
                    Scope::Whole => put_field(out, f),
                    Scope::Content => put_field_content(out, f),
                }
            }
        }
        Part::List(l) => {
            put_var(out, l.len() as u64);
            for e in l.iter() {
                put_list_id(out, &e.id);
                put_u64(out, e.stamp.hlc.0);
                put_var(out, e.stamp.server.0 as u64);
                put_bytes(out, e.value);
            }
        }
        Part::Stream(x) => super::stream::put_stream(out, x),
    }
}

fn put_str_writes(out: &mut Vec<u8>, bits: &[(Tag, StrWrite)]) {
    put_var(out, bits.len() as u64);
    for (t, w) in bits {
        put_tag(out, *t);
        put_str_write(out, w);
    }
}

fn put_ttl(out: &mut Vec<u8>, ttl: &[TtlEntry]) {
    put_var(out, ttl.len() as u64);
    for t in ttl {
        put_tag(out, t.tag);
        match t.at {
            None => out.push(0),
            Some(at) => {
                out.push(1);
                put_u64(out, at);
            }
        }
    }
}

/// Encode a key's whole state.
pub fn encode_key(k: &KeyState, out: &mut Vec<u8>) {
    out.push(KEY_FORMAT_VERSION);
    let parts = k.parts();
    put_var(out, parts.len() as u64);
    for p in parts.iter() {
        put_part(out, p, Scope::Whole);
    }
    put_ttl(out, &k.ttl_entries());
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
    // The string's bit writes not baked in yet (since version 2), and what its register
    // has baked in (since version 3).
    let str_part = parts.iter().find_map(|p| match p {
        Part::Str(s) => Some(s),
        _ => None,
    });
    put_str_writes(out, str_part.map_or(&[], |s| s.bits()));
    match str_part.and_then(|s| s.baked()) {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            put_dot(out, b.reg);
            encode_vv(&b.through, out);
        }
    }
}

/// Encode what a key holds from the ops applied to it: its live content (hidden content of
/// a type clash included) and TTL entries, written as [`encode_key`] writes them, without
/// its removal knowledge — the tomb, and counter resets and fields kept only for collection.
/// Removal knowledge is collected once every region is known to have applied the removal,
/// which depends on what this node has heard from the others, not on the ops it applied:
/// two regions that applied the same ops hold the same content, whatever each has
/// collected. Returns whether the key holds anything (else it reads as absent everywhere,
/// and `out` has only the empty encoding).
pub fn encode_content(k: &KeyState, out: &mut Vec<u8>) -> bool {
    out.push(FORMAT_VERSION);
    let parts = k.parts();
    let live = || parts.iter().filter(|p| p.is_live());
    put_var(out, live().count() as u64);
    for p in live() {
        put_part(out, p, Scope::Content);
    }
    let ttl = k.ttl_entries();
    put_ttl(out, &ttl);
    live().next().is_some() || !ttl.is_empty()
}

/// The digest of one key: xxh3 of the key and its content's encoding (see
/// [`encode_content`]); `None` when the key holds only removal knowledge, which no digest
/// counts.
pub fn key_digest(key: &[u8], k: &KeyState) -> Option<u64> {
    let mut b = Vec::with_capacity(key.len() + 64);
    put_bytes(&mut b, key);
    encode_content(k, &mut b).then(|| xxh3_64(&b))
}

impl Reader<'_> {
    fn part(&mut self) -> Result<Part, DecodeError> {
        let none = Tomb::default();
        let kind = match self.u8()? {
            0 => Kind::String,
            1 => Kind::Hash,
            2 => Kind::Set,
            3 => Kind::ZSet,
            4 => Kind::List,
            5 => Kind::Stream,
            _ => return Err(DecodeError::Invalid("type")),
        };
        Ok(match kind {
            Kind::String => Part::Str(self.field()?.into()),
            Kind::Hash => {
                let mut h = HashPart::default();
                for _ in 0..self.count()? {
                    let name = self.blob()?;
                    let f = self.field()?;
                    h.update(&name, |held| held.merge(&f, &none));
                }
                Part::Hash(h)
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
                    l.put(id, Stamp { hlc, server }, &value, &none);
                }
                Part::List(Box::new(l))
            }
            Kind::Stream => Part::Stream(Box::new(self.stream()?)),
        })
    }
}

/// Decode a key state written by [`encode_key`].
pub fn decode_key(b: &[u8]) -> Result<KeyState, DecodeError> {
    let mut r = Reader::new(b);
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
    // As `Full::add_ttl` keeps it: no room beyond the entries.
    ttl.shrink_to_fit();
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
    let n = if r.version >= 2 { r.count()? } else { 0 };
    let mut str_part = parts.iter_mut().find_map(|p| match p {
        Part::Str(s) => Some(s),
        _ => None,
    });
    if n > 0 {
        let none = Tomb::default();
        let Some(s) = str_part.as_deref_mut() else {
            return Err(DecodeError::Invalid("bit writes without a string"));
        };
        for _ in 0..n {
            let tag = r.tag()?;
            let w = r.str_write()?;
            s.add_bits(tag, w, &none);
        }
    }
    let baked = match r.version >= 3 {
        true => match r.u8()? {
            0 => None,
            1 => Some(Baked {
                reg: r.dot()?,
                through: r.vv()?,
            }),
            _ => return Err(DecodeError::Invalid("baked flag")),
        },
        false => None,
    };
    if let Some(b) = baked {
        let Some(s) = str_part else {
            return Err(DecodeError::Invalid("baked bit writes without a string"));
        };
        s.set_baked(b).map_err(DecodeError::Invalid)?;
    }
    r.finish()?;
    Ok(KeyState::from_raw(parts, ttl, tomb))
}
