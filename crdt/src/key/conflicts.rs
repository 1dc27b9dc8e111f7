//! Which conflict rules an op from another region needed as it was applied (see
//! [`crate::conflict`]).
//!
//! Delivery is causal: a channel streams its sender's binlog, which holds every op after the
//! ops it observed, and ops are applied per origin with none missing. So whatever this
//! region holds when an op arrives was made either before the op, at a region the op's
//! origin had heard from, or concurrently with it — never after it. Hence the two tests used
//! throughout, both exact:
//! * content at the op's location that the op did not remove (it names what it removes, by
//!   dot or by cutoff) is concurrent with it: a rule decides between them;
//! * content the op names as removed (so it was live where the op was made) that is already
//!   gone here was removed by a concurrent op.
//!
//! Where an op carries no trace of what it observed (an increment, a list insert, an LSET),
//! HLC order stands in: an op could not have observed content with a larger stamp. A pair
//! of such concurrent ops is then counted only where the one with the smaller stamp arrives.

use super::full::Full;
use super::kind::{Kind, loc_kind};
use super::part::Part;
use crate::conflict::{Conflict, Conflicts};
use crate::effect::{Addition, Effect, FieldLoc, Loc};
use crate::field::Field;
use crate::ids::{Dot, OpId, Stamp, Tag};
use crate::list::ListId;

impl Full {
    fn part(&self, kind: Kind) -> Option<&Part> {
        let i = self.parts.binary_search_by_key(&kind, Part::kind).ok()?;
        Some(&self.parts[i])
    }

    /// What the key holds at `loc`, live or not (hidden by a type clash included).
    fn field_at(&self, loc: &FieldLoc) -> Option<FieldAt<'_>> {
        match (loc, self.part(loc_kind(loc))?) {
            (FieldLoc::Str, Part::Str(f)) => Some(FieldAt::Bytes(f)),
            (FieldLoc::Hash(name), Part::Hash(h)) => h.get(name).map(FieldAt::Bytes),
            (FieldLoc::ZSet(m), Part::ZSet(z)) => z.field(m).map(FieldAt::Score),
            _ => None,
        }
    }

    /// The stamp of the list element with this id, if it is here.
    fn list_stamp(&self, id: &ListId) -> Option<Stamp> {
        match self.part(Kind::List)? {
            Part::List(l) => l.elem(id).map(|e| e.stamp),
            _ => None,
        }
    }

    fn member_live(&self, m: &[u8]) -> bool {
        matches!(self.part(Kind::Set), Some(Part::Set(s)) if s.contains(m))
    }

    /// Conflicts seen in the state before `e` is applied: what `e` names as removed that a
    /// concurrent op already removed here.
    pub(super) fn conflicts_before(&self, e: &Effect) -> Conflicts {
        let mut found = Conflicts::NONE;
        if let Some(cut) = &e.cutoff {
            // A write that replaced what it saw of the key, arriving where a concurrent
            // delete removed some of that: the key was not live, and holds less than it saw.
            if self.kind().is_none()
                && e.adds.iter().any(|a| content_kind(a).is_some())
                && !self.observed().dominates(cut)
            {
                found.add(Conflict::KeyDeleteKeptWrite);
            }
        }
        for r in &e.removes {
            match &r.loc {
                Loc::Set(m) => {
                    if !self.member_live(m) && e.adds.iter().any(|a| adds_member(a, m)) {
                        found.add(Conflict::SetAddWins);
                    }
                }
                Loc::Field(loc @ (FieldLoc::Hash(_) | FieldLoc::ZSet(_))) => {
                    if self.field_at(loc).is_none() && e.adds.iter().any(|a| writes_at(a, loc)) {
                        found.add(match loc {
                            FieldLoc::ZSet(_) => Conflict::ZSetAddWins,
                            _ => Conflict::HashAddWins,
                        });
                    }
                }
                Loc::List(id) => {
                    if self.list_stamp(id).is_none() {
                        found.add(Conflict::ListRemovedOnce);
                    }
                }
                Loc::Field(FieldLoc::Str) | Loc::Ttl | Loc::Stream(_) | Loc::Bits => {}
            }
        }
        for a in &e.adds {
            if let Addition::ListSet { id, .. } = a {
                if self.list_stamp(id).is_some_and(|cur| cur > e.tag.stamp()) {
                    found.add(Conflict::ListSetLww);
                }
            }
        }
        found
    }

    /// Conflicts seen in the state after `e` was applied: content at `e`'s locations that
    /// `e` did not remove, kept beside or instead of what `e` wrote.
    pub(super) fn conflicts_after(&self, e: &Effect) -> Conflicts {
        let mut found = Conflicts::NONE;
        let mut wrote: Option<Kind> = None;
        let mut writes_hash = false;
        let mut writes_zset = false;
        let mut adds_members = false;
        for (i, a) in e.adds.iter().enumerate() {
            let tag = e.tag.piece(i as u32);
            wrote = wrote.or(content_kind(a));
            match a {
                Addition::Write { loc, .. } => {
                    writes_hash |= matches!(loc, FieldLoc::Hash(_));
                    writes_zset |= matches!(loc, FieldLoc::ZSet(_));
                    if let Some(f) = self.field_at(loc) {
                        if f.has_concurrent_reg(tag) {
                            found.add(match loc {
                                FieldLoc::Str if f.all_hll() => Conflict::HllUnion,
                                FieldLoc::Str => Conflict::StringLww,
                                FieldLoc::Hash(_) => Conflict::HashFieldLww,
                                FieldLoc::ZSet(_) => Conflict::ZSetScoreLww,
                            });
                        }
                        if f.has_entries_besides(e.tag.dot) {
                            found.add(Conflict::CounterResetKeptIncrements);
                        }
                    }
                }
                Addition::Incr { loc, start, .. } => {
                    writes_hash |= matches!(loc, FieldLoc::Hash(_));
                    writes_zset |= matches!(loc, FieldLoc::ZSet(_));
                    if self
                        .field_at(loc)
                        .is_some_and(|f| f.incr_was_concurrent(tag, *start))
                    {
                        found.add(Conflict::CounterResetKeptIncrements);
                    }
                }
                Addition::Member(_) => adds_members = true,
                Addition::ListInsert { .. } => {
                    if let (Some(Part::List(l)), Some(id)) =
                        (self.part(Kind::List), inserted_id(a, tag))
                    {
                        let mine = tag.stamp();
                        let (before, after) = l.neighbor_stamps(&id);
                        let unseen = |n: Option<Stamp>| n.is_some_and(|n| n > mine);
                        if l.elem(&id).is_some() && (unseen(before) || unseen(after)) {
                            found.add(Conflict::ListInsertsOrdered);
                        }
                    }
                }
                Addition::ListSet { .. } | Addition::Stream(_) => {}
                // A bit write under a whole write with a larger stamp (one that observed
                // it would have removed it): made concurrently, applied over it.
                Addition::Bits(_) => {
                    if let Some(Part::Str(s)) = self.part(Kind::String) {
                        if s.regs().iter().any(|r| r.tag.stamp() > tag.stamp()) {
                            found.add(Conflict::BitsOverWholeWrite);
                        }
                    }
                }
                Addition::Expire(_) | Addition::Persist => {
                    if self.ttl.len() > 1 && self.ttl.iter().any(|t| t.tag == tag) {
                        found.add(if self.ttl.iter().any(|t| t.at.is_none()) {
                            Conflict::TtlPersistWins
                        } else {
                            Conflict::TtlLaterExpiryWins
                        });
                    }
                }
            }
        }
        // Counter entries that outlived a reset (a DEL's or HDEL's, which write nothing).
        for r in &e.resets {
            if self
                .field_at(&r.loc)
                .is_some_and(|f| f.has_entries_besides(e.tag.dot))
            {
                found.add(Conflict::CounterResetKeptIncrements);
            }
        }
        // A removal that did not take the member or field away: a concurrent add kept it.
        for r in &e.removes {
            let kept = match &r.loc {
                Loc::Set(m) if !adds_members && self.member_live(m) => Some(Conflict::SetAddWins),
                Loc::Field(loc @ FieldLoc::Hash(_)) if !writes_hash => self
                    .field_at(loc)
                    .filter(FieldAt::has_regs)
                    .map(|_| Conflict::HashAddWins),
                Loc::Field(loc @ FieldLoc::ZSet(_)) if !writes_zset => self
                    .field_at(loc)
                    .filter(FieldAt::has_regs)
                    .map(|_| Conflict::ZSetAddWins),
                _ => None,
            };
            if let Some(c) = kept {
                found.add(c);
            }
        }
        // A delete (it observed the whole key and writes nothing) the key outlived; a
        // counter that outlived it is told as such above.
        if e.cutoff.is_some()
            && e.adds.is_empty()
            && self.kind().is_some()
            && !found.contains(Conflict::CounterResetKeptIncrements)
        {
            found.add(Conflict::KeyDeleteKeptWrite);
        }
        // Content of another type that the write did not remove: a type clash.
        if let Some(kind) = wrote {
            let mine_live = self.part(kind).is_some_and(Part::is_live);
            let others_live = self.parts.iter().any(|p| p.kind() != kind && p.is_live());
            if mine_live && others_live {
                found.add(Conflict::KeyTypeClash);
            }
        }
        found
    }
}

/// A field of either value type.
enum FieldAt<'a> {
    Bytes(&'a Field<crate::blob::Blob>),
    Score(&'a Field<f64>),
}

impl FieldAt<'_> {
    /// Whether the register write `tag` made is kept beside another one: writes the op did
    /// not remove, so concurrent with it.
    fn has_concurrent_reg(&self, tag: Tag) -> bool {
        fn check<V: Clone + PartialEq>(f: &Field<V>, tag: Tag) -> bool {
            f.regs().len() > 1 && f.regs().iter().any(|r| r.tag == tag)
        }
        match self {
            FieldAt::Bytes(f) => check(f, tag),
            FieldAt::Score(f) => check(f, tag),
        }
    }

    /// Whether every register value is a HyperLogLog string (they read as their union).
    fn all_hll(&self) -> bool {
        match self {
            FieldAt::Bytes(f) => f.regs().iter().all(|r| crate::hll::check(&r.value).is_ok()),
            FieldAt::Score(_) => false,
        }
    }

    fn has_regs(&self) -> bool {
        match self {
            FieldAt::Bytes(f) => !f.regs().is_empty(),
            FieldAt::Score(f) => !f.regs().is_empty(),
        }
    }

    /// Whether live counter entries other than those op `by` made are left (a write or
    /// reset removes those it saw; an increment of an expired key resets the old entry and
    /// begins a new one).
    fn has_entries_besides(&self, by: Dot) -> bool {
        fn check<V: Clone + PartialEq>(f: &Field<V>, by: Dot) -> bool {
            f.entries()
                .iter()
                .any(|e| (e.tag.dot.server, e.tag.dot.op) != (by.server, by.op))
        }
        match self {
            FieldAt::Bytes(f) => check(f, by),
            FieldAt::Score(f) => check(f, by),
        }
    }

    /// Whether the increment `tag` made, of the lifetime begun at `start`, is live and was
    /// made without having seen a reset or register write held here: it continues a
    /// lifetime a reset here ended (its origin would have begun a new one had it seen the
    /// reset), or a register write here has a larger stamp.
    fn incr_was_concurrent(&self, tag: Tag, start: OpId) -> bool {
        fn check<V: Clone + PartialEq>(f: &Field<V>, tag: Tag, start: OpId) -> bool {
            let live = f.entries().iter().any(|e| e.tag == tag);
            let origin = tag.dot.server;
            let continues_reset = f
                .resets()
                .iter()
                .any(|(s, r)| *s == origin && r.start == start && r.op < tag.dot.op);
            let unseen_reg = f.base().is_some_and(|r| r.tag.stamp() > tag.stamp());
            live && (continues_reset || unseen_reg)
        }
        match self {
            FieldAt::Bytes(f) => check(f, tag, start),
            FieldAt::Score(f) => check(f, tag, start),
        }
    }
}

/// The type of content an addition writes (`None`: a TTL).
fn content_kind(a: &Addition) -> Option<Kind> {
    match a {
        Addition::Write { loc, .. } | Addition::Incr { loc, .. } => Some(loc_kind(loc)),
        Addition::Member(_) => Some(Kind::Set),
        Addition::ListInsert { .. } | Addition::ListSet { .. } => Some(Kind::List),
        Addition::Stream(_) => Some(Kind::Stream),
        Addition::Bits(_) => Some(Kind::String),
        Addition::Expire(_) | Addition::Persist => None,
    }
}

fn adds_member(a: &Addition, m: &[u8]) -> bool {
    matches!(a, Addition::Member(x) if x.as_slice() == m)
}

fn writes_at(a: &Addition, at: &FieldLoc) -> bool {
    matches!(a, Addition::Write { loc, .. } | Addition::Incr { loc, .. } if loc == at)
}

/// The id of the element a list insert made.
fn inserted_id(a: &Addition, tag: Tag) -> Option<ListId> {
    match a {
        Addition::ListInsert { pos, .. } => Some(ListId {
            pos: pos.clone(),
            dot: tag.dot,
        }),
        _ => None,
    }
}
