//! Builders for the hash commands: HSET, HDEL and the field increments.

use super::counter::next_incr;
use super::dedup::{dedup, last_wins};
use super::observe::{begin, emptied, observe_hash_field};
use crate::blob::Blob;
use crate::effect::{Addition, Effect, FieldLoc, Value};
use crate::error::OpError;
use crate::field::Num;
use crate::ids::Tag;
use crate::key::{KeyState, Kind};
use crate::string::{parse_f64, parse_i64};

/// HSET, HMSET, HSETNX (the caller drops existing fields for NX). Returns the number of new
/// fields.
pub fn hset(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    pairs: &[(Blob, Blob)],
) -> Result<(Effect, usize), OpError> {
    let mut e = Effect::new(tag);
    let h = begin(key, now_ms, Kind::Hash, &mut e)?.and_then(KeyState::hash);
    let mut added = 0;
    for (name, v) in last_wins(pairs) {
        let loc = FieldLoc::Hash(name.clone());
        match h.and_then(|h| h.get(name)) {
            Some(f) => observe_hash_field(f, &loc, &mut e),
            None => added += 1,
        }
        e.adds.push(Addition::Write {
            loc,
            value: Value::Bytes(v.clone()),
        });
    }
    Ok((e, added))
}

/// HDEL. Returns the number of fields removed (the effect is `None` when 0).
pub fn hdel(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    names: &[Blob],
) -> Result<(Option<Effect>, usize), OpError> {
    let mut e = Effect::new(tag);
    let Some(h) = begin(key, now_ms, Kind::Hash, &mut e)?.and_then(KeyState::hash) else {
        return Ok((None, 0));
    };
    let mut removed = 0;
    for name in dedup(names) {
        if let Some(f) = h.get(name) {
            observe_hash_field(f, &FieldLoc::Hash(name.clone()), &mut e);
            removed += 1;
        }
    }
    emptied(key, removed == h.len(), &mut e);
    Ok(((removed > 0).then_some(e), removed))
}

/// HINCRBY. Returns the effect and the field's new value.
pub fn hincr_by(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    name: &Blob,
    by: i64,
) -> Result<(Effect, i64), OpError> {
    let mut e = Effect::new(tag);
    let h = begin(key, now_ms, Kind::Hash, &mut e)?.and_then(KeyState::hash);
    let f = h.and_then(|h| h.get(name));
    let cur = match f {
        Some(f) => parse_i64(&f.value()).ok_or(OpError::HashNotInteger)?,
        None => 0,
    };
    let new = cur.checked_add(by).ok_or(OpError::Overflow)?;
    e.adds.push(next_incr(
        f.and_then(|f| f.own_entry(tag.dot.server)),
        tag,
        FieldLoc::Hash(name.clone()),
        Num::Int(by as i128),
    ));
    Ok((e, new))
}

/// HINCRBYFLOAT. Returns the effect and the field's new value.
pub fn hincr_by_float(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    name: &Blob,
    by: Num,
) -> Result<(Effect, f64), OpError> {
    let mut e = Effect::new(tag);
    let h = begin(key, now_ms, Kind::Hash, &mut e)?.and_then(KeyState::hash);
    let f = h.and_then(|h| h.get(name));
    let cur = match f {
        Some(f) => parse_f64(&f.value()).ok_or(OpError::HashNotFloat)?,
        None => 0.0,
    };
    let new = cur + by.as_f64();
    if !new.is_finite() {
        return Err(OpError::NanOrInfinity);
    }
    e.adds.push(next_incr(
        f.and_then(|f| f.own_entry(tag.dot.server)),
        tag,
        FieldLoc::Hash(name.clone()),
        by,
    ));
    Ok((e, new))
}
