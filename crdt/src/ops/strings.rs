//! Builders for the string commands: SET (and the commands that write a whole string value)
//! with what it does to the TTL, and the integer and float increments.

use super::counter::next_incr;
use super::observe::{begin, observe_all, observe_content};
use crate::bits::{BitOp, BitWrite, StrWrite};
use crate::blob::Blob;
use crate::effect::{Addition, Effect, FieldLoc, Value};
use crate::error::OpError;
use crate::field::Num;
use crate::ids::Tag;
use crate::key::{KeyState, Kind};
use crate::string::parse_f64;

/// What SET does with the key's TTL.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SetTtl {
    /// Plain SET: the TTL it observed is cleared.
    Clear,
    /// KEEPTTL.
    Keep,
    /// EX/PX/EXAT/PXAT, as a Unix time in ms.
    At(u64),
}

/// SET (and SETEX, PSETEX, GETSET, MSET, APPEND and SETRANGE with their resulting value):
/// overwrites any type; last writer wins; increments it observed are reset.
pub fn set(key: Option<&KeyState>, now_ms: u64, tag: Tag, value: Blob, ttl: SetTtl) -> Effect {
    let mut e = Effect::new(tag);
    if let Some(k) = key {
        if ttl == SetTtl::Keep && k.exists(now_ms) {
            observe_content(k, &mut e);
        } else {
            observe_all(k, &mut e);
        }
    }
    e.adds.push(Addition::Write {
        loc: FieldLoc::Str,
        value: Value::Bytes(value),
    });
    if let SetTtl::At(at) = ttl {
        e.adds.push(Addition::Expire(at));
    }
    e
}

/// SETBIT and BITFIELD's writes: the bits they set, replicated as they are, so that writes
/// of other bits made concurrently elsewhere survive (docs/semantics.md, "bitmap"); each
/// region bakes them into the string's register once they are causally stable (see
/// [`crate::bits::StrPart::gc`]). A string whose register cannot take them (it has a
/// counter, or concurrent writes not yet resolved) is written whole, its bits applied, and
/// the bit writes go with it, to apply over a whole write that crosses it. The TTL is kept.
pub fn write_bits(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    writes: &[BitWrite],
) -> Result<Effect, OpError> {
    let mut e = Effect::new(tag);
    let k = begin(key, now_ms, Kind::String, &mut e)?;
    let unbakeable = k.is_some_and(|k| !k.takes_bit_writes());
    if unbakeable {
        let mut v = k
            .and_then(KeyState::string_value)
            .unwrap_or_default()
            .into_owned();
        // Increments stay out of the whole value: they go with it as bit writes, applied
        // over it once (a write would be applied twice harmlessly, an increment not).
        for w in writes.iter().filter(|w| w.op != BitOp::Add) {
            w.apply(&mut v);
        }
        e = set(key, now_ms, tag, Blob::from(v), SetTtl::Keep);
    }
    e.adds
        .extend(writes.iter().map(|w| Addition::Bits((*w).into())));
    Ok(e)
}

/// The longest string APPEND and SETRANGE write whole when it has no partial writes yet:
/// a string's partial writes take some 500 bytes of its key (the general form, and what its
/// register has baked in) for as long as it lives, more than such a string costs to write.
pub const WRITTEN_WHOLE_MAX: usize = 512;

/// SETRANGE and APPEND: the bytes they write, replicated as they are, not the string, so
/// that a string written a piece at a time costs each write its piece (docs/semantics.md,
/// "string"): writes of different bytes made concurrently in two regions both survive,
/// crossing appends both add, in stamp order, and one crossing a write of the whole string
/// applies over it. Baked into the register like bit writes (see [`write_bits`]); a string
/// whose register cannot take them is written whole first, the write beside it. A string
/// of at most [`WRITTEN_WHOLE_MAX`] bytes once written, without partial writes, is written
/// whole, as SET writes it. The TTL is kept. Returns the effect and the string's length
/// after it.
pub fn write_bytes(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    w: StrWrite,
) -> Result<(Effect, usize), OpError> {
    write_bytes_whole_up_to(key, now_ms, tag, w, Some(WRITTEN_WHOLE_MAX))
}

/// [`write_bytes`] of a string of any length: the bytes replicated as they are.
pub fn write_piece(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    w: StrWrite,
) -> Result<(Effect, usize), OpError> {
    write_bytes_whole_up_to(key, now_ms, tag, w, None)
}

/// A byte write, the string written whole when it is at most `whole_max` bytes after it
/// and has no partial writes.
fn write_bytes_whole_up_to(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    w: StrWrite,
    whole_max: Option<usize>,
) -> Result<(Effect, usize), OpError> {
    let (e, k, len) = begin_bytes(key, now_ms, tag, &w)?;
    let whole = whole_max.is_some_and(|max| len <= max);
    if whole && k.is_none_or(|k| !k.has_bit_writes()) {
        let mut v = k
            .and_then(KeyState::string_value)
            .unwrap_or_default()
            .into_owned();
        w.apply(&mut v);
        return Ok((set(key, now_ms, tag, Blob::from(v), SetTtl::Keep), len));
    }
    Ok((as_piece(e, key, k, now_ms, w), len))
}

/// The effect of a byte write replicated as its bytes, `e` begun (see [`begin_bytes`]):
/// over a string whose register cannot take it, written whole first.
fn as_piece(
    mut e: Effect,
    key: Option<&KeyState>,
    k: Option<&KeyState>,
    now_ms: u64,
    w: StrWrite,
) -> Effect {
    if let Some(k) = k.filter(|k| !k.takes_bit_writes()) {
        let v = k.string_value().unwrap_or_default().into_owned();
        e = set(key, now_ms, e.tag, Blob::from(v), SetTtl::Keep);
    }
    e.adds.push(Addition::Bits(w));
    e
}

/// The start of a byte write: the effect begun, the string as the write sees it, and its
/// length once written.
fn begin_bytes<'a>(
    key: Option<&'a KeyState>,
    now_ms: u64,
    tag: Tag,
    w: &StrWrite,
) -> Result<(Effect, Option<&'a KeyState>, usize), OpError> {
    let mut e = Effect::new(tag);
    let k = begin(key, now_ms, Kind::String, &mut e)?;
    let before = k.and_then(KeyState::string_len).unwrap_or(0);
    let len = w.reach(before).expect("a byte write's reach is known");
    Ok((e, k, len))
}

/// INCR, DECR, INCRBY, DECRBY. Returns the effect and the new value.
pub fn incr_by(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    by: i64,
) -> Result<(Effect, i64), OpError> {
    let mut e = Effect::new(tag);
    let k = begin(key, now_ms, Kind::String, &mut e)?;
    let cur = match k {
        Some(k) => k.string_i64().ok_or(OpError::NotInteger)?,
        None => 0,
    };
    let new = cur.checked_add(by).ok_or(OpError::Overflow)?;
    if k.is_some_and(KeyState::has_bit_writes) {
        // Bit writes are not folded into a counter: the result is written whole.
        return Ok((
            set(
                key,
                now_ms,
                tag,
                Blob::from(new.to_string().as_str()),
                SetTtl::Keep,
            ),
            new,
        ));
    }
    let own = k.and_then(|k| k.own_string_entry(tag.dot.server));
    e.adds.push(next_incr(
        own.as_ref(),
        tag,
        FieldLoc::Str,
        Num::Int(by as i128),
    ));
    Ok((e, new))
}

/// INCRBYFLOAT. Returns the effect and the new value.
pub fn incr_by_float(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    by: Num,
) -> Result<(Effect, f64), OpError> {
    let mut e = Effect::new(tag);
    let k = begin(key, now_ms, Kind::String, &mut e)?;
    let cur = match k {
        Some(k) => parse_f64(&k.string_value().unwrap_or_default()).ok_or(OpError::NotFloat)?,
        None => 0.0,
    };
    let new = cur + by.as_f64();
    if !new.is_finite() {
        return Err(OpError::NanOrInfinity);
    }
    if k.is_some_and(KeyState::has_bit_writes) {
        // Bit writes are not folded into a counter: the result is written whole.
        let v = crate::string::format_num(Num::Float(new));
        return Ok((set(key, now_ms, tag, Blob::from(v), SetTtl::Keep), new));
    }
    let own = k.and_then(|k| k.own_string_entry(tag.dot.server));
    e.adds.push(next_incr(own.as_ref(), tag, FieldLoc::Str, by));
    Ok((e, new))
}
