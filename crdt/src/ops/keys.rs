//! Builders for the commands on a key of any type: DEL (and the removal of an expired key),
//! EXPIRE and PERSIST.

use super::observe::{observe_all, remove_ttl};
use crate::effect::{Addition, Effect};
use crate::ids::Tag;
use crate::key::KeyState;

/// DEL, UNLINK, GETDEL, the removal of an expired key, RENAME's source: observed-remove of
/// the whole key. `None` when there is nothing to remove.
pub fn delete(key: Option<&KeyState>, tag: Tag) -> Option<Effect> {
    let k = key?;
    let mut e = Effect::new(tag);
    observe_all(k, &mut e);
    (!e.is_empty()).then_some(e)
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
