//! Builders for the sorted-set commands: ZADD, ZINCRBY and ZREM.

use super::counter::next_incr;
use super::dedup::{dedup, last_wins};
use super::observe::{begin, emptied, observe_field};
use crate::blob::Blob;
use crate::effect::{Addition, Effect, FieldLoc, Value};
use crate::error::OpError;
use crate::field::Num;
use crate::ids::Tag;
use crate::key::{KeyState, Kind};
use crate::zset::member_score;

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
        f.and_then(|f| f.own_entry(tag.dot.server)),
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
