//! The key envelope: a key's typed content, its TTL entries and its removal knowledge, with
//! the type-clash rule, effect application, state merge and garbage collection.

use crate::Crdt;
use crate::blob::Blob;
use crate::effect::{Addition, Effect, FieldLoc, Loc, Value};
use crate::field::{CounterEntry, CounterReset, Field, RegEntry};
use crate::hash::HashPart;
use crate::hlc::Hlc;
use crate::ids::{Dot, OpId, ServerId, Stamp, Tag};
use crate::list::{ListElem, ListId, ListPart};
use crate::set::SetPart;
use crate::tomb::Tomb;
use crate::vv::VersionVector;
use crate::zset::ZSetPart;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::num::NonZeroU32;

/// The Redis type a key reads as.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    String = 0,
    Hash = 1,
    Set = 2,
    ZSet = 3,
    List = 4,
}

impl Kind {
    /// The name `TYPE` answers.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::List => "list",
        }
    }
}

/// A key's content of one type.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Str(Field<Blob>),
    Hash(Box<HashPart>),
    Set(Box<SetPart>),
    ZSet(Box<ZSetPart>),
    List(Box<ListPart>),
}

impl Part {
    fn empty(kind: Kind) -> Part {
        match kind {
            Kind::String => Part::Str(Field::default()),
            Kind::Hash => Part::Hash(Box::default()),
            Kind::Set => Part::Set(Box::default()),
            Kind::ZSet => Part::ZSet(Box::default()),
            Kind::List => Part::List(Box::default()),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Part::Str(_) => Kind::String,
            Part::Hash(_) => Kind::Hash,
            Part::Set(_) => Kind::Set,
            Part::ZSet(_) => Kind::ZSet,
            Part::List(_) => Kind::List,
        }
    }

    /// Whether it holds content a reader can see.
    pub fn is_live(&self) -> bool {
        match self {
            Part::Str(f) => f.is_live(),
            Part::Hash(h) => h.is_live(),
            Part::Set(s) => s.is_live(),
            Part::ZSet(z) => z.is_live(),
            Part::List(l) => l.is_live(),
        }
    }

    /// Whether nothing is left, not even reset records.
    fn is_void(&self) -> bool {
        match self {
            Part::Str(f) => f.is_void(),
            Part::Hash(h) => h.all_fields().next().is_none(),
            Part::Set(s) => !s.is_live(),
            Part::ZSet(z) => z.all_members().next().is_none(),
            Part::List(l) => !l.is_live(),
        }
    }

    fn max_stamp(&self) -> Option<Stamp> {
        match self {
            Part::Str(f) => f.max_stamp(),
            Part::Hash(h) => h.max_stamp(),
            Part::Set(s) => s.max_stamp(),
            Part::ZSet(z) => z.max_stamp(),
            Part::List(l) => l.max_stamp(),
        }
    }

    fn observe_into(&self, vv: &mut VersionVector) {
        match self {
            Part::Str(f) => f.observe_into(vv),
            Part::Hash(h) => h.observe_into(vv),
            Part::Set(s) => s.observe_into(vv),
            Part::ZSet(z) => z.observe_into(vv),
            Part::List(l) => l.observe_into(vv),
        }
    }

    fn prune(&mut self, tomb: &Tomb) {
        match self {
            Part::Str(f) => f.prune(tomb),
            Part::Hash(h) => h.prune(tomb),
            Part::Set(s) => s.prune(tomb),
            Part::ZSet(z) => z.prune(tomb),
            Part::List(l) => l.prune(tomb),
        }
    }

    fn merge(&mut self, other: &Part, tomb: &Tomb) {
        match (self, other) {
            (Part::Str(a), Part::Str(b)) => a.merge(b, tomb),
            (Part::Hash(a), Part::Hash(b)) => a.merge(b, tomb),
            (Part::Set(a), Part::Set(b)) => a.merge(b, tomb),
            (Part::ZSet(a), Part::ZSet(b)) => a.merge(b, tomb),
            (Part::List(a), Part::List(b)) => a.merge(b, tomb),
            _ => unreachable!("parts are merged with parts of their own kind"),
        }
    }

    fn gc(&mut self, stable: &VersionVector) -> bool {
        match self {
            Part::Str(f) => f.gc(stable),
            Part::Hash(h) => h.gc(stable),
            Part::ZSet(z) => z.gc(stable),
            Part::Set(_) | Part::List(_) => false,
        }
    }
}

fn loc_kind(loc: &FieldLoc) -> Kind {
    match loc {
        FieldLoc::Str => Kind::String,
        FieldLoc::Hash(_) => Kind::Hash,
        FieldLoc::ZSet(_) => Kind::ZSet,
    }
}

/// An expiry (or PERSIST) written by one op.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TtlEntry {
    pub tag: Tag,
    /// Unix time in ms; `None` for PERSIST.
    pub at: Option<u64>,
}

/// The general form of a key's state.
#[derive(Clone, Debug, Default)]
struct Full {
    /// Sorted by kind; only parts with content or reset records.
    parts: SmallVec<[Part; 1]>,
    /// Live TTL entries, sorted by dot.
    ttl: Vec<TtlEntry>,
    tomb: Option<Box<Tomb>>,
    /// At least the largest HLC of anything in the key (maybe of content since removed):
    /// kept so that a write to a large key finds its floor without a scan. Not part of the
    /// state: equality and encoding ignore it.
    hlc_floor: Hlc,
}

impl PartialEq for Full {
    fn eq(&self, o: &Full) -> bool {
        self.parts == o.parts && self.ttl == o.ttl && self.tomb == o.tomb
    }
}

impl Full {
    /// Whether nothing at all is left: the key can be dropped from the keyspace.
    pub fn is_void(&self) -> bool {
        self.parts.is_empty() && self.ttl.is_empty() && self.tomb.is_none()
    }

    /// The type the key reads as, `None` when it has no live content.
    pub fn kind(&self) -> Option<Kind> {
        self.visible().map(Part::kind)
    }

    /// The part the key reads as.
    pub fn visible(&self) -> Option<&Part> {
        if self.parts.len() == 1 {
            return self.parts.first().filter(|p| p.is_live());
        }
        self.parts
            .iter()
            .filter(|p| p.is_live())
            .max_by_key(|p| p.max_stamp())
    }

    /// Live parts other than the visible one (content hidden by a type clash).
    pub fn hidden(&self) -> impl Iterator<Item = &Part> {
        let visible = self.kind();
        self.parts
            .iter()
            .filter(move |p| p.is_live() && Some(p.kind()) != visible)
    }

    /// All parts, including hidden ones and ones kept only for reset records.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    fn string(&self) -> Option<&Field<Blob>> {
        match self.visible()? {
            Part::Str(f) => Some(f),
            _ => None,
        }
    }

    pub fn hash(&self) -> Option<&HashPart> {
        match self.visible()? {
            Part::Hash(h) => Some(h),
            _ => None,
        }
    }

    pub fn set(&self) -> Option<&SetPart> {
        match self.visible()? {
            Part::Set(s) => Some(s),
            _ => None,
        }
    }

    pub fn zset(&self) -> Option<&ZSetPart> {
        match self.visible()? {
            Part::ZSet(z) => Some(z),
            _ => None,
        }
    }

    pub fn list(&self) -> Option<&ListPart> {
        match self.visible()? {
            Part::List(l) => Some(l),
            _ => None,
        }
    }

    /// Live TTL entries.
    pub fn ttl_entries(&self) -> &[TtlEntry] {
        &self.ttl
    }

    pub fn tomb(&self) -> Option<&Tomb> {
        self.tomb.as_deref()
    }

    /// When the key expires (Unix ms): the latest live expiry, unless a live PERSIST wins.
    pub fn expire_at(&self) -> Option<u64> {
        let mut at = None;
        for e in &self.ttl {
            match e.at {
                None => return None,
                Some(t) => at = at.max(Some(t)),
            }
        }
        at
    }

    /// The largest HLC of anything in the key: a write that overwrites the key must be
    /// stamped after it (see [`crate::HlcClock::tick_after`]).
    pub fn max_hlc(&self) -> Hlc {
        self.hlc_floor
    }

    fn scan_max_hlc(&self) -> Hlc {
        let p = self
            .parts
            .iter()
            .filter_map(|p| p.max_stamp())
            .map(|s| s.hlc);
        let t = self.ttl.iter().map(|e| e.tag.hlc);
        p.chain(t).max().unwrap_or(Hlc::ZERO)
    }

    /// Per origin, the largest op this region has applied to the key's content: the cutoff
    /// of a write that observes the whole key.
    pub fn observed(&self) -> VersionVector {
        let mut vv = VersionVector::new();
        for p in &self.parts {
            p.observe_into(&mut vv);
        }
        vv
    }

    fn part_mut(&mut self, kind: Kind) -> &mut Part {
        let i = match self.parts.binary_search_by_key(&kind, Part::kind) {
            Ok(i) => i,
            Err(i) => {
                self.parts.insert(i, Part::empty(kind));
                i
            }
        };
        &mut self.parts[i]
    }

    /// Apply an effect. Additions to pieces that `flushed` (the database's FLUSHDB cutoff)
    /// covers are skipped: the flush observed and removed them.
    pub fn apply(&mut self, e: &Effect, flushed: &VersionVector) {
        self.hlc_floor = self.hlc_floor.max(e.tag.hlc);
        let by = e.tag.dot;
        let mut tomb = self.tomb.take().unwrap_or_default();
        if let Some(cut) = &e.cutoff {
            if tomb.add_cutoff(cut, by) {
                for p in &mut self.parts {
                    p.prune(&tomb);
                }
            }
        }
        for r in &e.removes {
            tomb.add_removed(r.dot, by);
            self.remove_piece(&r.loc, r.dot);
        }
        for r in &e.resets {
            self.reset_field(&r.loc, r.server, &r.reset);
        }
        for (i, a) in e.adds.iter().enumerate() {
            let tag = e.tag.piece(i as u32);
            // The piece an addition writes: LSET writes into an existing element.
            let piece = match a {
                Addition::ListSet { id, .. } => id.dot,
                _ => tag.dot,
            };
            if !flushed.covers(piece) {
                self.add_piece(a, tag, &tomb);
            }
        }
        self.tomb = Some(tomb);
        self.tidy();
    }

    fn remove_piece(&mut self, loc: &Loc, dot: Dot) {
        match loc {
            Loc::Field(fl) => self.remove_from_field(fl, dot),
            Loc::Set(m) => {
                if let Some(Part::Set(s)) = self.part_if(Kind::Set) {
                    s.remove(m, dot);
                }
            }
            Loc::List(id) => {
                if let Some(Part::List(l)) = self.part_if(Kind::List) {
                    l.remove(id);
                }
            }
            Loc::Ttl => self.ttl.retain(|t| t.tag.dot != dot),
        }
    }

    fn part_if(&mut self, kind: Kind) -> Option<&mut Part> {
        let i = self.parts.binary_search_by_key(&kind, Part::kind).ok()?;
        Some(&mut self.parts[i])
    }

    /// Record a counter reset on the field at `loc` (creating it: the reset must be kept even
    /// when the entry it resets has not arrived yet).
    fn reset_field(&mut self, loc: &FieldLoc, server: ServerId, reset: &CounterReset) {
        match (loc, self.part_mut(loc_kind(loc))) {
            (FieldLoc::Str, Part::Str(f)) => f.add_reset(server, reset.clone()),
            (FieldLoc::Hash(name), Part::Hash(h)) => {
                h.field_mut(name).add_reset(server, reset.clone())
            }
            (FieldLoc::ZSet(m), Part::ZSet(z)) => {
                z.update(m, |f| f.add_reset(server, reset.clone()))
            }
            _ => unreachable!("part_mut returns the part of the location's kind"),
        }
    }

    fn remove_from_field(&mut self, loc: &FieldLoc, dot: Dot) {
        match (loc, self.part_if(loc_kind(loc))) {
            (FieldLoc::Str, Some(Part::Str(f))) => {
                f.remove_dot(dot);
            }
            (FieldLoc::Hash(name), Some(Part::Hash(h))) => h.remove(name, dot),
            (FieldLoc::ZSet(m), Some(Part::ZSet(z))) => z.remove(m, dot),
            _ => {}
        }
    }

    fn add_piece(&mut self, a: &Addition, tag: Tag, tomb: &Tomb) {
        match a {
            Addition::Write { loc, value } => match (loc, value) {
                (FieldLoc::Str, Value::Bytes(v)) => {
                    if let Part::Str(f) = self.part_mut(Kind::String) {
                        f.add_reg(tag, v.clone(), tomb);
                    }
                }
                (FieldLoc::Hash(name), Value::Bytes(v)) => {
                    if let Part::Hash(h) = self.part_mut(Kind::Hash) {
                        h.field_mut(name).add_reg(tag, v.clone(), tomb);
                        h.tidy(name);
                    }
                }
                (FieldLoc::ZSet(m), Value::Score(s)) => {
                    if let Part::ZSet(z) = self.part_mut(Kind::ZSet) {
                        z.update(m, |f| f.add_reg(tag, *s, tomb));
                    }
                }
                _ => debug_assert!(false, "value type does not fit {loc:?}"),
            },
            Addition::Incr { loc, start, total } => {
                let entry = CounterEntry {
                    start: *start,
                    tag,
                    total: *total,
                };
                match loc {
                    FieldLoc::Str => {
                        if let Part::Str(f) = self.part_mut(Kind::String) {
                            f.add_entry(entry, tomb);
                        }
                    }
                    FieldLoc::Hash(name) => {
                        if let Part::Hash(h) = self.part_mut(Kind::Hash) {
                            h.field_mut(name).add_entry(entry, tomb);
                            h.tidy(name);
                        }
                    }
                    FieldLoc::ZSet(m) => {
                        if let Part::ZSet(z) = self.part_mut(Kind::ZSet) {
                            z.update(m, |f| f.add_entry(entry, tomb));
                        }
                    }
                }
            }
            Addition::Member(m) => {
                if let Part::Set(s) = self.part_mut(Kind::Set) {
                    s.add(m, tag, tomb);
                }
            }
            Addition::ListInsert { pos, value } => {
                if let Part::List(l) = self.part_mut(Kind::List) {
                    let id = ListId {
                        pos: pos.clone(),
                        dot: tag.dot,
                    };
                    let elem = ListElem {
                        stamp: tag.stamp(),
                        value: value.clone(),
                    };
                    l.put(id, elem, tomb);
                }
            }
            Addition::ListSet { id, value } => {
                if let Part::List(l) = self.part_mut(Kind::List) {
                    let elem = ListElem {
                        stamp: tag.stamp(),
                        value: value.clone(),
                    };
                    l.put(id.clone(), elem, tomb);
                }
            }
            Addition::Expire(at) => self.add_ttl(TtlEntry { tag, at: Some(*at) }, tomb),
            Addition::Persist => self.add_ttl(TtlEntry { tag, at: None }, tomb),
        }
    }

    fn add_ttl(&mut self, t: TtlEntry, tomb: &Tomb) {
        if tomb.kills_ttl(t.tag.dot) {
            return;
        }
        if let Err(i) = self.ttl.binary_search_by_key(&t.tag.dot, |e| e.tag.dot) {
            self.ttl.insert(i, t);
        }
    }

    /// Remove every piece (content and TTL) covered by a FLUSHDB/FLUSHALL cutoff.
    pub fn prune_flushed(&mut self, flushed: &VersionVector) {
        if flushed.is_empty() {
            return;
        }
        let tomb = Tomb {
            cutoff: flushed.clone(),
            ..Tomb::default()
        };
        for p in &mut self.parts {
            p.prune(&tomb);
        }
        self.ttl.retain(|t| !flushed.covers(t.tag.dot));
        self.tidy();
    }

    /// Forget what no future op or merge can need, given a causally stable vector (see
    /// [`Tomb::gc`]). Returns whether anything was forgotten.
    pub fn gc(&mut self, stable: &VersionVector) -> bool {
        let mut changed = self.tomb.as_mut().is_some_and(|t| t.gc(stable));
        for p in &mut self.parts {
            changed |= p.gc(stable);
        }
        self.tidy();
        changed
    }

    /// [`Full::gc`] of the tomb and the string field only: cheap whatever the key's size.
    fn gc_tomb(&mut self, stable: &VersionVector) -> bool {
        let mut changed = self.tomb.as_mut().is_some_and(|t| t.gc(stable));
        for p in &mut self.parts {
            if let Part::Str(f) = p {
                changed |= f.gc(stable);
            }
        }
        self.tidy();
        changed
    }

    /// Drop void parts and an empty tomb: one canonical form for equal states.
    fn tidy(&mut self) {
        self.parts.retain(|p| !p.is_void());
        if self.tomb.as_ref().is_some_and(|t| t.is_empty()) {
            self.tomb = None;
        }
    }

    fn from_raw(parts: SmallVec<[Part; 1]>, ttl: Vec<TtlEntry>, tomb: Option<Tomb>) -> Self {
        let mut k = Full {
            parts,
            ttl,
            tomb: tomb.map(Box::new),
            hlc_floor: Hlc::ZERO,
        };
        k.tidy();
        k.hlc_floor = k.scan_max_hlc();
        k
    }
}

impl Full {
    fn merge(&mut self, other: &Full) {
        self.hlc_floor = self.hlc_floor.max(other.hlc_floor);
        let mut tomb = self.tomb.take().unwrap_or_default();
        if let Some(t) = &other.tomb {
            tomb.join(t);
        }
        for p in &other.parts {
            self.part_mut(p.kind()).merge(p, &tomb);
        }
        for t in &other.ttl {
            self.add_ttl(*t, &tomb);
        }
        for p in &mut self.parts {
            p.prune(&tomb);
        }
        self.ttl.retain(|t| !tomb.kills_ttl(t.tag.dot));
        self.tomb = Some(tomb);
        self.tidy();
    }
}

/// Everything a region holds for one key.
///
/// Content of several types can coexist after concurrent writes of different types (a type
/// clash); the key reads as the type of the live content with the largest stamp, and the
/// other content stays hidden until a write that observed it removes it.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyState(Repr);

#[derive(Clone, Debug, PartialEq)]
enum Repr {
    /// A string written by one op, with no TTL, counter, tombstone or other content: the
    /// common case of a cache, held in 48 bytes (the value inline up to 16 bytes).
    Plain(PlainReg),
    Full(Box<Full>),
}

/// A register write laid out so that `Repr` needs no separate discriminant: the non-zero
/// server-id (0 is reserved) leaves a niche for the `Full` variant. 24 bytes of metadata.
#[derive(Clone, Debug, PartialEq)]
struct PlainReg {
    value: Blob,
    hlc: Hlc,
    op: OpId,
    server: NonZeroU32,
    idx: u32,
}

impl PlainReg {
    fn from_reg(r: &RegEntry<Blob>) -> Option<PlainReg> {
        Some(PlainReg {
            value: r.value.clone(),
            hlc: r.tag.hlc,
            op: r.tag.dot.op,
            server: NonZeroU32::new(r.tag.dot.server.0)?,
            idx: r.tag.dot.idx,
        })
    }

    fn tag(&self) -> Tag {
        Tag::new(
            Dot::new(ServerId(self.server.get()), self.op, self.idx),
            self.hlc,
        )
    }

    fn to_reg(&self) -> RegEntry<Blob> {
        RegEntry {
            tag: self.tag(),
            value: self.value.clone(),
        }
    }
}

impl Default for KeyState {
    fn default() -> Self {
        KeyState(Repr::Full(Box::default()))
    }
}

impl KeyState {
    pub fn new() -> Self {
        KeyState::default()
    }

    fn full(&self) -> Option<&Full> {
        match &self.0 {
            Repr::Plain(_) => None,
            Repr::Full(f) => Some(f),
        }
    }

    /// The general form, for a change.
    fn make_full(&mut self) -> &mut Full {
        if let Repr::Plain(reg) = &self.0 {
            let part = Part::Str(Field::single(reg.to_reg()));
            self.0 = Repr::Full(Box::new(Full::from_raw(
                smallvec::smallvec![part],
                Vec::new(),
                None,
            )));
        }
        match &mut self.0 {
            Repr::Full(f) => f,
            Repr::Plain(_) => unreachable!("just made full"),
        }
    }

    /// Back to the plain form when the state fits it: one canonical form for equal states.
    fn compact(&mut self) {
        let Repr::Full(f) = &self.0 else { return };
        if !f.ttl.is_empty() || f.tomb.is_some() || f.parts.len() != 1 {
            return;
        }
        if let Part::Str(field) = &f.parts[0] {
            if let Some(plain) = field.as_single().and_then(PlainReg::from_reg) {
                self.0 = Repr::Plain(plain);
            }
        }
    }

    pub(crate) fn from_raw(
        parts: SmallVec<[Part; 1]>,
        ttl: Vec<TtlEntry>,
        tomb: Option<Tomb>,
    ) -> Self {
        let mut k = KeyState(Repr::Full(Box::new(Full::from_raw(parts, ttl, tomb))));
        k.compact();
        k
    }

    /// Whether nothing at all is left: the key can be dropped from the keyspace.
    pub fn is_void(&self) -> bool {
        self.full().is_some_and(Full::is_void)
    }

    /// The type the key reads as, `None` when it has no live content.
    pub fn kind(&self) -> Option<Kind> {
        match &self.0 {
            Repr::Plain(_) => Some(Kind::String),
            Repr::Full(f) => f.kind(),
        }
    }

    /// Live parts other than the visible one (content hidden by a type clash).
    pub fn hidden(&self) -> impl Iterator<Item = &Part> {
        self.full().into_iter().flat_map(Full::hidden)
    }

    /// All parts, including hidden ones and ones kept only for reset records.
    pub fn parts(&self) -> Cow<'_, [Part]> {
        match &self.0 {
            Repr::Plain(reg) => Cow::Owned(vec![Part::Str(Field::single(reg.to_reg()))]),
            Repr::Full(f) => Cow::Borrowed(f.parts()),
        }
    }

    /// The string field, when the key reads as a string.
    pub fn string(&self) -> Option<Cow<'_, Field<Blob>>> {
        match &self.0 {
            Repr::Plain(reg) => Some(Cow::Owned(Field::single(reg.to_reg()))),
            Repr::Full(f) => f.string().map(Cow::Borrowed),
        }
    }

    /// The bytes a string key reads as (GET), without building a field.
    pub fn string_value(&self) -> Option<Cow<'_, [u8]>> {
        match &self.0 {
            Repr::Plain(reg) => Some(Cow::Borrowed(reg.value.as_slice())),
            Repr::Full(f) => f.string().map(crate::string::value),
        }
    }

    pub fn hash(&self) -> Option<&HashPart> {
        self.full()?.hash()
    }

    pub fn set(&self) -> Option<&SetPart> {
        self.full()?.set()
    }

    pub fn zset(&self) -> Option<&ZSetPart> {
        self.full()?.zset()
    }

    pub fn list(&self) -> Option<&ListPart> {
        self.full()?.list()
    }

    /// Live TTL entries.
    pub fn ttl_entries(&self) -> &[TtlEntry] {
        self.full().map_or(&[], |f| f.ttl_entries())
    }

    pub fn tomb(&self) -> Option<&Tomb> {
        self.full()?.tomb()
    }

    /// When the key expires (Unix ms): the latest live expiry, unless a live PERSIST wins.
    pub fn expire_at(&self) -> Option<u64> {
        self.full()?.expire_at()
    }

    /// Whether the key has content and it has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at().is_some_and(|t| t <= now_ms)
    }

    /// Whether the key exists for a reader at `now_ms`.
    pub fn exists(&self, now_ms: u64) -> bool {
        self.kind().is_some() && !self.is_expired(now_ms)
    }

    /// The largest HLC of anything in the key: a write that overwrites the key must be
    /// stamped after it (see [`crate::HlcClock::tick_after`]).
    pub fn max_hlc(&self) -> Hlc {
        match &self.0 {
            Repr::Plain(reg) => reg.hlc,
            Repr::Full(f) => f.max_hlc(),
        }
    }

    /// Per origin, the largest op this region has applied to the key's content: the cutoff
    /// of a write that observes the whole key.
    pub fn observed(&self) -> VersionVector {
        match &self.0 {
            Repr::Plain(reg) => std::iter::once((ServerId(reg.server.get()), reg.op)).collect(),
            Repr::Full(f) => f.observed(),
        }
    }

    /// Apply an effect. Additions to pieces that `flushed` (the database's FLUSHDB cutoff)
    /// covers are skipped: the flush observed and removed them.
    pub fn apply(&mut self, e: &Effect, flushed: &VersionVector) {
        self.make_full().apply(e, flushed);
        self.compact();
    }

    /// The plain string `e` writes, when all it adds is one string value.
    fn plain_written(e: &Effect, flushed: &VersionVector) -> Option<KeyState> {
        let [
            Addition::Write {
                loc: FieldLoc::Str,
                value: Value::Bytes(v),
            },
        ] = e.adds.as_slice()
        else {
            return None;
        };
        if flushed.covers(e.tag.dot) {
            return None;
        }
        let reg = RegEntry {
            tag: e.tag,
            value: v.clone(),
        };
        PlainReg::from_reg(&reg).map(|p| KeyState(Repr::Plain(p)))
    }

    /// What `apply(e)` makes of a key that has nothing, built directly, when `e` is a plain
    /// string write (a SET of a new key: the common case); `None` otherwise.
    pub fn new_from_plain_write(e: &Effect, flushed: &VersionVector) -> Option<KeyState> {
        if e.cutoff.is_some() || !e.removes.is_empty() || !e.resets.is_empty() {
            return None;
        }
        KeyState::plain_written(e, flushed)
    }

    /// What `apply(e)` then `gc(stable)` make of this key, built directly, when `e` is a
    /// plain string write that observed exactly this plain string and everything it removes
    /// is stable (a SET over a SET on a node without peers); `None` otherwise.
    pub fn overwritten_plainly(
        &self,
        e: &Effect,
        flushed: &VersionVector,
        stable: &VersionVector,
    ) -> Option<KeyState> {
        let Repr::Plain(cur) = &self.0 else {
            return None;
        };
        let cut = e.cutoff.as_ref()?;
        let saw_exactly_cur = cut.len() == 1 && cut.get(ServerId(cur.server.get())) == cur.op;
        let stable_now = stable.dominates(cut) && stable.covers(e.tag.dot);
        if !saw_exactly_cur || !stable_now || !e.removes.is_empty() || !e.resets.is_empty() {
            return None;
        }
        KeyState::plain_written(e, flushed)
    }

    /// Remove every piece (content and TTL) covered by a FLUSHDB/FLUSHALL cutoff.
    pub fn prune_flushed(&mut self, flushed: &VersionVector) {
        if flushed.is_empty() {
            return;
        }
        self.make_full().prune_flushed(flushed);
        self.compact();
    }

    /// Forget what no future op or merge can need, given a causally stable vector (see
    /// [`Tomb::gc`]). Returns whether anything was forgotten (the key may then be void).
    pub fn gc(&mut self, stable: &VersionVector) -> bool {
        if let Repr::Plain(_) = self.0 {
            return false;
        }
        let changed = self.make_full().gc(stable);
        self.compact();
        changed
    }

    /// [`KeyState::gc`] of removal knowledge only (the tomb, and the string's counter resets):
    /// O(removals), not O(elements), for use after every write. Reset records in hash fields
    /// and sorted-set members wait for a full [`KeyState::gc`].
    pub fn gc_removals(&mut self, stable: &VersionVector) -> bool {
        if let Repr::Plain(_) = self.0 {
            return false;
        }
        let changed = self.make_full().gc_tomb(stable);
        self.compact();
        changed
    }
}

impl Crdt for KeyState {
    fn merge(&mut self, other: &KeyState) {
        let plain_as_full;
        let other_full: &Full = match &other.0 {
            Repr::Full(f) => f,
            Repr::Plain(reg) => {
                plain_as_full = Full::from_raw(
                    smallvec::smallvec![Part::Str(Field::single(reg.to_reg()))],
                    Vec::new(),
                    None,
                );
                &plain_as_full
            }
        };
        self.make_full().merge(other_full);
        self.compact();
    }
}
