//! Builders for the string commands: SET (and the commands that write a whole string value)
//! with what it does to the TTL, and the integer and float increments.

use super::counter::next_incr;
use super::observe::{begin, observe_all, observe_content};
use crate::bits::BitWrite;
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

/// Bit writes a string key holds before the next one at its origin writes the whole value
/// (once they also number at least one per 256 bytes of it: pending writes, some 48 bytes
/// each, then hold less than a fifth of the string's size).
pub const FOLD_BITS_MIN: usize = 16;

/// SETBIT and BITFIELD's writes: the bits they set, replicated as they are, so that writes
/// of other bits made concurrently elsewhere survive (docs/semantics.md, "bitmap"). A write
/// that makes the key or lengthens the string writes the whole value too (so the string
/// takes its room, as in Redis), and so does one that finds many bit writes pending (which
/// it folds in); its own bit writes go with it, to apply over a whole write that crosses it.
/// The TTL is kept.
pub fn write_bits(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    writes: &[BitWrite],
) -> Result<Effect, OpError> {
    let mut e = Effect::new(tag);
    let k = begin(key, now_ms, Kind::String, &mut e)?;
    let pending = k.and_then(KeyState::str_part).map_or(0, |s| s.bits().len());
    let len = match k {
        None => 0,
        Some(k) => match k.str_part() {
            Some(s) => s.bit(0).1,
            None => k.string_value().map_or(0, |v| v.len()),
        },
    };
    let reach = |w: &BitWrite| (w.offset + u64::from(w.width)).div_ceil(8) as usize;
    let grows = k.is_none() || writes.iter().any(|w| reach(w) > len);
    let fold = pending + writes.len() >= FOLD_BITS_MIN && pending * 256 >= len;
    if grows || fold {
        let mut v = k
            .and_then(KeyState::string_value)
            .unwrap_or_default()
            .into_owned();
        // Increments stay out of the whole value: they go with it as bit writes, applied
        // over it once (a write would be applied twice harmlessly, an increment not).
        for w in writes.iter().filter(|w| !w.add) {
            w.apply(&mut v);
        }
        e = set(key, now_ms, tag, Blob::from(v), SetTtl::Keep);
    }
    e.adds.extend(writes.iter().map(|w| Addition::Bits(*w)));
    Ok(e)
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
    let f = k.and_then(KeyState::string);
    let f = f.as_deref();
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
    e.adds
        .push(next_incr(f, tag, FieldLoc::Str, Num::Int(by as i128)));
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
    let f = k.and_then(KeyState::string);
    let f = f.as_deref();
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
    e.adds.push(next_incr(f, tag, FieldLoc::Str, by));
    Ok((e, new))
}
