//! Builders for the string commands: SET (and the commands that write a whole string value)
//! with what it does to the TTL, and the integer and float increments.

use super::counter::next_incr;
use super::observe::{begin, observe_all, observe_content};
use crate::blob::Blob;
use crate::effect::{Addition, Effect, FieldLoc, Value};
use crate::error::OpError;
use crate::field::Num;
use crate::ids::Tag;
use crate::key::{KeyState, Kind};
use crate::string::{parse_f64, parse_i64, value};

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
    let cur = match f {
        Some(f) => parse_i64(&value(f)).ok_or(OpError::NotInteger)?,
        None => 0,
    };
    let new = cur.checked_add(by).ok_or(OpError::Overflow)?;
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
    let cur = match f {
        Some(f) => parse_f64(&value(f)).ok_or(OpError::NotFloat)?,
        None => 0.0,
    };
    let new = cur + by.as_f64();
    if !new.is_finite() {
        return Err(OpError::NanOrInfinity);
    }
    e.adds.push(next_incr(f, tag, FieldLoc::Str, by));
    Ok((e, new))
}
