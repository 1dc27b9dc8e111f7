//! Effect builders: for each family of write commands, the effect it replicates, made at the
//! origin from the key's state there and the command's arguments. Conditions (NX, XX, GT,
//! integer range, ...) are judged here or by the caller, at the origin; the effect carries
//! only the outcome.
//!
//! Every builder treats a key that does not exist at `now_ms` (absent, or expired) as
//! absent: its effect also removes whatever it observed of the old key, as Redis would
//! before creating a fresh one. A write of one type removes the content of other types it
//! observed (left hidden by an earlier type clash).

use crate::blob::Blob;
use crate::effect::{Addition, Effect, FieldLoc, Loc, Removal, Reset, Value};
use crate::error::OpError;
use crate::field::{Field, Num};
use crate::ids::{Dot, Tag};
use crate::key::{KeyState, Kind, Part};
use crate::list::{ListId, Pos, pos_between};
use crate::string::{parse_f64, parse_i64, value};
use crate::zset::member_score;
use std::collections::{HashMap, HashSet};

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

/// Which end of a list.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

fn removal(loc: Loc, dot: Dot) -> Removal {
    Removal { loc, dot }
}

/// Remove everything the origin observed of one field: its pieces and counter entries.
fn observe_field<V: Clone + PartialEq>(f: &Field<V>, loc: &FieldLoc, e: &mut Effect) {
    for d in f.dots() {
        e.removes.push(removal(Loc::Field(loc.clone()), d));
    }
    reset_field(f, loc, e);
}

/// Reset the counter entries the origin observed in one field.
fn reset_field<V: Clone + PartialEq>(f: &Field<V>, loc: &FieldLoc, e: &mut Effect) {
    for (server, reset) in f.resets_for(e.tag.dot) {
        e.resets.push(Reset {
            loc: loc.clone(),
            server,
            reset,
        });
    }
}

/// Remove one part's content piece by piece.
fn observe_part(p: &Part, e: &mut Effect) {
    match p {
        Part::Str(f) => observe_field(f, &FieldLoc::Str, e),
        Part::Hash(h) => {
            for (name, f) in h.fields() {
                observe_field(f, &FieldLoc::Hash(name.clone()), e);
            }
        }
        Part::Set(s) => {
            for (m, tags) in s.entries() {
                for t in tags {
                    e.removes.push(removal(Loc::Set(m.clone()), t.dot));
                }
            }
        }
        Part::ZSet(z) => {
            for (m, _) in z.iter() {
                if let Some(f) = z.field(m) {
                    observe_field(f, &FieldLoc::ZSet(m.clone()), e);
                }
            }
        }
        Part::List(l) => {
            for (id, _) in l.iter() {
                e.removes.push(removal(Loc::List(id.clone()), id.dot));
            }
        }
    }
}

/// Reset the counters of every part: what a whole-key cutoff needs alongside.
fn reset_all(k: &KeyState, e: &mut Effect) {
    for p in k.parts().iter() {
        match p {
            Part::Str(f) => reset_field(f, &FieldLoc::Str, e),
            Part::Hash(h) => {
                for (name, f) in h.fields() {
                    reset_field(f, &FieldLoc::Hash(name.clone()), e);
                }
            }
            Part::ZSet(z) => {
                for (m, _) in z.iter() {
                    if let Some(f) = z.field(m) {
                        reset_field(f, &FieldLoc::ZSet(m.clone()), e);
                    }
                }
            }
            Part::Set(_) | Part::List(_) => {}
        }
    }
}

fn remove_ttl(k: &KeyState, e: &mut Effect) {
    for t in k.ttl_entries() {
        e.removes.push(removal(Loc::Ttl, t.tag.dot));
    }
}

/// A removal that leaves the key empty at the origin also removes the TTL it observed, as
/// Redis deletes a key whose last element goes (and its TTL with it).
fn emptied(key: Option<&KeyState>, all_removed: bool, e: &mut Effect) {
    if let (Some(k), true) = (key, all_removed) {
        remove_ttl(k, e);
    }
}

/// Observe and remove the whole key: content (by cutoff), counters, TTL.
fn observe_all(k: &KeyState, e: &mut Effect) {
    observe_content(k, e);
    remove_ttl(k, e);
}

/// Observe and remove all content, keeping the TTL.
fn observe_content(k: &KeyState, e: &mut Effect) {
    let seen = k.observed();
    if !seen.is_empty() {
        e.cutoff = Some(seen);
    }
    reset_all(k, e);
}

/// The start of a typed write: checks the type and observes what the write replaces.
/// Returns the key as the write sees it (`None`: absent).
fn begin<'a>(
    key: Option<&'a KeyState>,
    now_ms: u64,
    kind: Kind,
    e: &mut Effect,
) -> Result<Option<&'a KeyState>, OpError> {
    let Some(k) = key else { return Ok(None) };
    if !k.exists(now_ms) {
        observe_all(k, e);
        return Ok(None);
    }
    if k.kind() != Some(kind) {
        return Err(OpError::WrongType);
    }
    for p in k.hidden() {
        observe_part(p, e);
    }
    Ok(Some(k))
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

/// DEL, UNLINK, GETDEL, the removal of an expired key, RENAME's source: observed-remove of
/// the whole key. `None` when there is nothing to remove.
pub fn delete(key: Option<&KeyState>, tag: Tag) -> Option<Effect> {
    let k = key?;
    let mut e = Effect::new(tag);
    observe_all(k, &mut e);
    (!e.is_empty()).then_some(e)
}

/// The origin's next counter entry for a field: continues its live entry's lifetime, or
/// starts a new one.
fn next_incr(
    f: Option<&Field<impl Clone + PartialEq>>,
    tag: Tag,
    loc: FieldLoc,
    by: Num,
) -> Addition {
    match f.and_then(|f| f.own_entry(tag.dot.server)) {
        Some(own) => Addition::Incr {
            loc,
            start: own.start,
            total: own.total + by,
        },
        None => Addition::Incr {
            loc,
            start: tag.dot.op,
            total: by,
        },
    }
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
    by: f64,
) -> Result<(Effect, f64), OpError> {
    let mut e = Effect::new(tag);
    let k = begin(key, now_ms, Kind::String, &mut e)?;
    let f = k.and_then(KeyState::string);
    let f = f.as_deref();
    let cur = match f {
        Some(f) => parse_f64(&value(f)).ok_or(OpError::NotFloat)?,
        None => 0.0,
    };
    let new = cur + by;
    if !new.is_finite() {
        return Err(OpError::NanOrInfinity);
    }
    e.adds
        .push(next_incr(f, tag, FieldLoc::Str, Num::Float(by)));
    Ok((e, new))
}

/// EXPIRE family, GETEX EX/PX, SET on an existing key's TTL: replaces the observed TTL.
/// `None` when the key does not exist. (An expiry in the past is a delete: the caller uses
/// [`delete`] then, as Redis does.)
pub fn expire(key: Option<&KeyState>, now_ms: u64, tag: Tag, at_ms: u64) -> Option<Effect> {
    let k = key.filter(|k| k.exists(now_ms))?;
    let mut e = Effect::new(tag);
    remove_ttl(k, &mut e);
    e.adds.push(Addition::Expire(at_ms));
    Some(e)
}

/// PERSIST, GETEX PERSIST: removes the observed TTL and wins over concurrent expiries.
/// `None` when the key does not exist or has no TTL.
pub fn persist(key: Option<&KeyState>, now_ms: u64, tag: Tag) -> Option<Effect> {
    let k = key.filter(|k| k.exists(now_ms) && k.expire_at().is_some())?;
    let mut e = Effect::new(tag);
    remove_ttl(k, &mut e);
    e.adds.push(Addition::Persist);
    Some(e)
}

/// Keep the last occurrence of each name, in first-seen order (Redis applies repeated names
/// in order, so the last value wins).
fn last_wins<T>(items: &[(Blob, T)]) -> Vec<&(Blob, T)> {
    let mut slot: HashMap<&[u8], usize> = HashMap::with_capacity(items.len());
    let mut out: Vec<&(Blob, T)> = Vec::with_capacity(items.len());
    for it in items {
        match slot.get(it.0.as_slice()) {
            Some(&i) => out[i] = it,
            None => {
                slot.insert(&it.0, out.len());
                out.push(it);
            }
        }
    }
    out
}

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
            Some(f) => observe_field(f, &loc, &mut e),
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
            observe_field(f, &FieldLoc::Hash(name.clone()), &mut e);
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
        Some(f) => parse_i64(&value(f)).ok_or(OpError::HashNotInteger)?,
        None => 0,
    };
    let new = cur.checked_add(by).ok_or(OpError::Overflow)?;
    e.adds.push(next_incr(
        f,
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
    by: f64,
) -> Result<(Effect, f64), OpError> {
    let mut e = Effect::new(tag);
    let h = begin(key, now_ms, Kind::Hash, &mut e)?.and_then(KeyState::hash);
    let f = h.and_then(|h| h.get(name));
    let cur = match f {
        Some(f) => parse_f64(&value(f)).ok_or(OpError::HashNotFloat)?,
        None => 0.0,
    };
    let new = cur + by;
    if !new.is_finite() {
        return Err(OpError::NanOrInfinity);
    }
    e.adds.push(next_incr(
        f,
        tag,
        FieldLoc::Hash(name.clone()),
        Num::Float(by),
    ));
    Ok((e, new))
}

/// Each name once, in first-seen order.
fn dedup(items: &[Blob]) -> Vec<&Blob> {
    let mut seen: HashSet<&[u8]> = HashSet::with_capacity(items.len());
    items.iter().filter(|m| seen.insert(m.as_slice())).collect()
}

/// SADD (and the adding half of SMOVE and S*STORE). A member already present is re-added
/// with a new dot, so that it survives a concurrent SREM: add wins. Returns the number of new
/// members.
pub fn sadd(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    members: &[Blob],
) -> Result<(Effect, usize), OpError> {
    let mut e = Effect::new(tag);
    let s = begin(key, now_ms, Kind::Set, &mut e)?.and_then(KeyState::set);
    let mut added = 0;
    for m in dedup(members) {
        let seen = s.map_or(&[][..], |s| s.tags(m));
        if seen.is_empty() {
            added += 1;
        }
        for t in seen {
            e.removes.push(removal(Loc::Set(m.clone()), t.dot));
        }
        e.adds.push(Addition::Member(m.clone()));
    }
    Ok((e, added))
}

/// SREM (and SPOP, the removing half of SMOVE). Returns the number removed.
pub fn srem(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    members: &[Blob],
) -> Result<(Option<Effect>, usize), OpError> {
    let mut e = Effect::new(tag);
    let Some(s) = begin(key, now_ms, Kind::Set, &mut e)?.and_then(KeyState::set) else {
        return Ok((None, 0));
    };
    let mut removed = 0;
    for m in dedup(members) {
        let seen = s.tags(m);
        if !seen.is_empty() {
            removed += 1;
        }
        for t in seen {
            e.removes.push(removal(Loc::Set(m.clone()), t.dot));
        }
    }
    emptied(key, removed == s.len(), &mut e);
    Ok(((removed > 0).then_some(e), removed))
}

/// ZADD with its final list of (score, member) writes (the caller applies NX/XX/GT/LT). The
/// score replaces the member's observed score and increments. Returns the number of new
/// members.
pub fn zadd(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    items: &[(Blob, f64)],
) -> Result<(Effect, usize), OpError> {
    let mut e = Effect::new(tag);
    let z = begin(key, now_ms, Kind::ZSet, &mut e)?.and_then(KeyState::zset);
    let mut added = 0;
    for (m, score) in last_wins(items) {
        let loc = FieldLoc::ZSet(m.clone());
        match z.and_then(|z| z.field(m)) {
            Some(f) => observe_field(f, &loc, &mut e),
            None => added += 1,
        }
        e.adds.push(Addition::Write {
            loc,
            value: Value::Score(*score),
        });
    }
    Ok((e, added))
}

/// ZINCRBY (and ZADD INCR). Returns the effect and the new score.
pub fn zincr_by(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    member: &Blob,
    by: f64,
) -> Result<(Effect, f64), OpError> {
    let mut e = Effect::new(tag);
    let z = begin(key, now_ms, Kind::ZSet, &mut e)?.and_then(KeyState::zset);
    let f = z.and_then(|z| z.field(member));
    let new = f.map_or(0.0, member_score) + by;
    if new.is_nan() {
        return Err(OpError::ScoreNan);
    }
    e.adds.push(next_incr(
        f,
        tag,
        FieldLoc::ZSet(member.clone()),
        Num::Float(by),
    ));
    Ok((e, new))
}

/// ZREM (and ZPOP*, ZREMRANGE*). Returns the number removed.
pub fn zrem(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    members: &[Blob],
) -> Result<(Option<Effect>, usize), OpError> {
    let mut e = Effect::new(tag);
    let Some(z) = begin(key, now_ms, Kind::ZSet, &mut e)?.and_then(KeyState::zset) else {
        return Ok((None, 0));
    };
    let mut removed = 0;
    for m in dedup(members) {
        if let Some(f) = z.field(m) {
            observe_field(f, &FieldLoc::ZSet(m.clone()), &mut e);
            removed += 1;
        }
    }
    emptied(key, removed == z.len(), &mut e);
    Ok(((removed > 0).then_some(e), removed))
}

/// LPUSH, RPUSH, LPUSHX, RPUSHX (the caller checks existence for the X forms), and the
/// pushing half of LMOVE. Values are pushed one by one, so `LPUSH k a b c` reads `c b a`.
pub fn list_push(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    end: End,
    values: &[Blob],
) -> Result<Effect, OpError> {
    let mut e = Effect::new(tag);
    let l = begin(key, now_ms, Kind::List, &mut e)?.and_then(KeyState::list);
    let me = tag.dot.server;
    let mut edge: Option<Pos> = match end {
        End::Left => l.and_then(|l| l.first()).map(|(id, _)| id.pos.clone()),
        End::Right => l.and_then(|l| l.last()).map(|(id, _)| id.pos.clone()),
    };
    for v in values {
        let pos = match end {
            End::Left => pos_between(None, edge.as_ref(), me),
            End::Right => pos_between(edge.as_ref(), None, me),
        };
        edge = Some(pos.clone());
        e.adds.push(Addition::ListInsert {
            pos,
            value: v.clone(),
        });
    }
    Ok(e)
}

/// LINSERT: a new element right before or after the element at `pivot` (an index the caller
/// found). `Err(NoSuchKey)` when the list does not exist.
pub fn list_insert(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    pivot: usize,
    before: bool,
    value: Blob,
) -> Result<Effect, OpError> {
    let mut e = Effect::new(tag);
    let l = begin(key, now_ms, Kind::List, &mut e)?
        .and_then(KeyState::list)
        .ok_or(OpError::NoSuchKey)?;
    let (lo, hi) = if before {
        (pivot.checked_sub(1), Some(pivot))
    } else {
        (Some(pivot), Some(pivot + 1))
    };
    let at = |i: Option<usize>| i.and_then(|i| l.get(i as i64)).map(|(id, _)| &id.pos);
    let pos = pos_between(at(lo), at(hi), tag.dot.server);
    e.adds.push(Addition::ListInsert { pos, value });
    Ok(e)
}

/// LSET: last writer wins on the element at `index`.
pub fn list_set(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    index: i64,
    value: Blob,
) -> Result<Effect, OpError> {
    let mut e = Effect::new(tag);
    let l = begin(key, now_ms, Kind::List, &mut e)?
        .and_then(KeyState::list)
        .ok_or(OpError::NoSuchKey)?;
    let (id, _) = l.get(index).ok_or(OpError::IndexOutOfRange)?;
    e.adds.push(Addition::ListSet {
        id: id.clone(),
        value,
    });
    Ok(e)
}

/// LPOP, RPOP, LREM, LTRIM, the popping half of LMOVE/BLPOP: removes the elements at the
/// given indexes. Concurrent removals of one element remove it once.
pub fn list_remove(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    indexes: &[usize],
) -> Result<Option<Effect>, OpError> {
    let mut e = Effect::new(tag);
    let Some(l) = begin(key, now_ms, Kind::List, &mut e)?.and_then(KeyState::list) else {
        return Ok(None);
    };
    let mut ids: Vec<&ListId> = indexes
        .iter()
        .filter_map(|&i| l.get(i as i64).map(|(id, _)| id))
        .collect();
    ids.sort();
    ids.dedup();
    let all = ids.len() == l.len();
    for id in ids {
        e.removes.push(removal(Loc::List(id.clone()), id.dot));
    }
    emptied(key, all, &mut e);
    Ok((!e.removes.is_empty()).then_some(e))
}

/// A whole Redis value, as RENAME, COPY and the *STORE commands write it.
#[derive(Clone, Debug, PartialEq)]
pub enum Whole {
    Str(Blob),
    Hash(Vec<(Blob, Blob)>),
    Set(Vec<Blob>),
    ZSet(Vec<(Blob, f64)>),
    List(Vec<Blob>),
}

impl Whole {
    /// The value a key reads as, or `None` when it has no live content.
    pub fn of(k: &KeyState) -> Option<Whole> {
        Some(match k.kind()? {
            Kind::String => Whole::Str(Blob::from(&*k.string_value()?)),
            Kind::Hash => Whole::Hash(
                k.hash()?
                    .fields()
                    .map(|(n, f)| (n.clone(), Blob::from(&*value(f))))
                    .collect(),
            ),
            Kind::Set => Whole::Set(k.set()?.members().cloned().collect()),
            Kind::ZSet => Whole::ZSet(k.zset()?.iter().map(|(m, s)| (m.clone(), s)).collect()),
            Kind::List => Whole::List(k.list()?.iter().map(|(_, e)| e.value.clone()).collect()),
        })
    }
}

/// Overwrite a key with a whole value (any type), and the expiry `expire_at` if given: the
/// destination of RENAME, COPY and the *STORE commands. Everything observed of the old key is
/// removed, so a concurrent write elsewhere survives as with SET.
pub fn replace(key: Option<&KeyState>, tag: Tag, whole: &Whole, expire_at: Option<u64>) -> Effect {
    let mut e = Effect::new(tag);
    if let Some(k) = key {
        observe_all(k, &mut e);
    }
    match whole {
        Whole::Str(v) => e.adds.push(Addition::Write {
            loc: FieldLoc::Str,
            value: Value::Bytes(v.clone()),
        }),
        Whole::Hash(fields) => {
            for (n, v) in last_wins(fields) {
                e.adds.push(Addition::Write {
                    loc: FieldLoc::Hash(n.clone()),
                    value: Value::Bytes(v.clone()),
                });
            }
        }
        Whole::Set(members) => {
            for m in dedup(members) {
                e.adds.push(Addition::Member(m.clone()));
            }
        }
        Whole::ZSet(items) => {
            for (m, s) in last_wins(items) {
                e.adds.push(Addition::Write {
                    loc: FieldLoc::ZSet(m.clone()),
                    value: Value::Score(*s),
                });
            }
        }
        Whole::List(values) => {
            let mut last: Option<Pos> = None;
            for v in values {
                let pos = pos_between(last.as_ref(), None, tag.dot.server);
                last = Some(pos.clone());
                e.adds.push(Addition::ListInsert {
                    pos,
                    value: v.clone(),
                });
            }
        }
    }
    if let Some(at) = expire_at {
        e.adds.push(Addition::Expire(at));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;
    use crate::ids::{OpId, ServerId};
    use crate::vv::VersionVector;

    fn tag(op: u64) -> Tag {
        Tag::new(Dot::new(ServerId(1), OpId(op), 0), Hlc::new(1000 + op, 0))
    }

    fn b(s: &str) -> Blob {
        Blob::from(s)
    }

    #[test]
    fn repeated_names_in_one_command_count_once_and_the_last_value_wins() {
        let none = VersionVector::new();
        let mut k = KeyState::new();
        let (e, added) = sadd(None, 0, tag(1), &[b("a"), b("b"), b("a")]).expect("set");
        assert_eq!(added, 2);
        k.apply(&e, &none);
        assert_eq!(k.set().map(|s| s.len()), Some(2));

        let mut h = KeyState::new();
        let pairs = [(b("f"), b("1")), (b("g"), b("2")), (b("f"), b("3"))];
        let (e, added) = hset(None, 0, tag(2), &pairs).expect("hash");
        assert_eq!(added, 2);
        h.apply(&e, &none);
        let f = h.hash().and_then(|h| h.get(b"f")).expect("field f");
        assert_eq!(&*crate::string::value(f), b"3");
    }

    #[test]
    fn replace_writes_a_whole_value_of_any_type_over_any_type() {
        let none = VersionVector::new();
        let mut k = KeyState::new();
        k.apply(&set(None, 0, tag(1), b("v"), SetTtl::At(50)), &none);
        for (op, whole) in [
            (2, Whole::List(vec![b("a"), b("b"), b("c")])),
            (3, Whole::Hash(vec![(b("f"), b("1"))])),
            (4, Whole::Set(vec![b("x"), b("y")])),
            (5, Whole::ZSet(vec![(b("m"), 2.5)])),
            (6, Whole::Str(b("s"))),
        ] {
            k.apply(&replace(Some(&k), tag(op), &whole, Some(9000)), &none);
            let mut got = Whole::of(&k).expect("a value");
            if let Whole::Set(m) = &mut got {
                m.sort();
            }
            assert_eq!(got, whole);
            assert_eq!(k.expire_at(), Some(9000));
            assert_eq!(k.hidden().count(), 0);
        }
    }

    #[test]
    fn wrong_type_is_refused_with_redis_error() {
        let none = VersionVector::new();
        let mut k = KeyState::new();
        k.apply(&set(None, 0, tag(1), b("v"), SetTtl::Clear), &none);
        assert_eq!(
            sadd(Some(&k), 0, tag(2), &[b("m")]).err(),
            Some(OpError::WrongType)
        );
        assert_eq!(
            OpError::WrongType.to_string(),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        assert_eq!(
            incr_by(Some(&k), 0, tag(2), 1).err(),
            Some(OpError::NotInteger)
        );
        assert_eq!(
            list_set(None, 0, tag(2), 0, b("x")).err(),
            Some(OpError::NoSuchKey)
        );
    }
}
