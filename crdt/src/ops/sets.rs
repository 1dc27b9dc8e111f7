//! Builders for the set commands: SADD (add wins over a concurrent SREM) and SREM.

use super::dedup::dedup;
use super::observe::{begin, emptied, removal};
use crate::blob::Blob;
use crate::effect::{Addition, Effect, Loc};
use crate::error::OpError;
use crate::ids::Tag;
use crate::key::{KeyState, Kind};

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
