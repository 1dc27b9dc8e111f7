//! What a write observes of the key it changes, and the removals that follow: the pieces,
//! counter entries and TTL entries the origin saw, removed piece by piece or by a cutoff.
//! Shared by every builder; `begin` is the start of every typed write (type check, hidden
//! content, an expired key treated as absent).

use crate::effect::{Effect, FieldLoc, Loc, Removal, Reset};
use crate::error::OpError;
use crate::field::Field;
use crate::hash::FieldRef;
use crate::ids::Dot;
use crate::key::{KeyState, Kind, Part};

pub(super) fn removal(loc: Loc, dot: Dot) -> Removal {
    Removal { loc, dot }
}

/// Remove everything the origin observed of one field: its pieces and counter entries.
pub(super) fn observe_field<V: Clone + PartialEq>(f: &Field<V>, loc: &FieldLoc, e: &mut Effect) {
    for d in f.dots() {
        e.removes.push(removal(Loc::Field(loc.clone()), d));
    }
    reset_field(f, loc, e);
}

/// [`observe_field`] of a hash's field, in either form the hash is kept in.
pub(super) fn observe_hash_field(f: FieldRef<'_>, loc: &FieldLoc, e: &mut Effect) {
    match f.as_field() {
        Some(f) => observe_field(f, loc, e),
        // One register write: no counter entries to reset.
        None => {
            for d in f.dots() {
                e.removes.push(removal(Loc::Field(loc.clone()), d));
            }
        }
    }
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
        Part::Str(f) => {
            observe_field(f, &FieldLoc::Str, e);
            for (t, _) in f.bits() {
                e.removes.push(removal(Loc::Bits, t.dot));
            }
            // Bit writes baked into the register here may still be pending elsewhere.
            for (s, op) in f.baked().into_iter().flat_map(|b| b.through.iter()) {
                let through = Dot::new(s, op, crate::bits::BAKED_THROUGH);
                e.removes.push(removal(Loc::Bits, through));
            }
        }
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
            for (m, f) in z.live_members() {
                observe_field(f, &FieldLoc::ZSet(m.clone()), e);
            }
        }
        Part::List(l) => {
            for el in l.iter() {
                let dot = el.id.dot;
                e.removes.push(removal(Loc::List(el.id), dot));
            }
        }
        Part::Stream(x) => super::streams::observe_stream(x, e),
    }
}

/// Reset the counters of every part: what a whole-key cutoff needs alongside.
fn reset_all(k: &KeyState, e: &mut Effect) {
    if !k.may_hold_counters() {
        return;
    }
    for p in k.parts().iter() {
        match p {
            Part::Str(f) => reset_field(f, &FieldLoc::Str, e),
            Part::Hash(h) => {
                for (name, f) in h.fields() {
                    reset_field(f, &FieldLoc::Hash(name.clone()), e);
                }
            }
            Part::ZSet(z) => {
                for (m, f) in z.live_members() {
                    reset_field(f, &FieldLoc::ZSet(m.clone()), e);
                }
            }
            Part::Set(_) | Part::List(_) | Part::Stream(_) => {}
        }
    }
}

pub(super) fn remove_ttl(k: &KeyState, e: &mut Effect) {
    for t in k.ttl_entries() {
        e.removes.push(removal(Loc::Ttl, t.tag.dot));
    }
}

/// A removal that leaves the key empty at the origin also removes the TTL it observed, as
/// Redis deletes a key whose last element goes (and its TTL with it).
#[inline]
pub(super) fn emptied(key: Option<&KeyState>, all_removed: bool, e: &mut Effect) {
    if let (Some(k), true) = (key, all_removed) {
        remove_ttl(k, e);
    }
}

/// Observe and remove the whole key: content (by cutoff), counters, TTL.
pub(super) fn observe_all(k: &KeyState, e: &mut Effect) {
    observe_content(k, e);
    remove_ttl(k, e);
}

/// Observe and remove all content, keeping the TTL.
pub(super) fn observe_content(k: &KeyState, e: &mut Effect) {
    let seen = k.observed();
    if !seen.is_empty() {
        e.cutoff = Some(seen);
    }
    reset_all(k, e);
}

/// The start of a typed write: checks the type and observes what the write replaces.
/// Returns the key as the write sees it (`None`: absent).
pub(super) fn begin<'a>(
    key: Option<&'a KeyState>,
    now_ms: u64,
    kind: Kind,
    e: &mut Effect,
) -> Result<Option<&'a KeyState>, OpError> {
    let Some(k) = key else { return Ok(None) };
    // The type is found once: `exists` would find it again.
    let held = k.kind();
    if held.is_none() || k.is_expired(now_ms) {
        observe_expired(k, e);
        return Ok(None);
    }
    if held != Some(kind) {
        return Err(OpError::WrongType);
    }
    if k.has_hidden() {
        observe_hidden(k, e);
    }
    Ok(Some(k))
}

// The rare cases of `begin`, kept out of it: every write runs `begin`, and its code stays
// small enough to share the instruction cache with the rest of the write.

#[cold]
#[inline(never)]
fn observe_expired(k: &KeyState, e: &mut Effect) {
    observe_all(k, e);
}

#[cold]
#[inline(never)]
fn observe_hidden(k: &KeyState, e: &mut Effect) {
    for p in k.hidden() {
        observe_part(p, e);
    }
}
