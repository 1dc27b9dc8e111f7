//! `Full`, the general form of a key's state: its parts, TTL entries and tomb, with what
//! changes them (effect application, state merge, FLUSHDB pruning and garbage collection).
//! `KeyState` holds it whenever the key is more than one plain string write.

use super::kind::{Kind, loc_kind};
use super::part::Part;
use super::ttl::TtlEntry;
use crate::bits::StrPart;
use crate::blob::Blob;
use crate::effect::{Addition, Effect, FieldLoc, Loc, Value};
use crate::field::{CounterEntry, CounterReset, Field};
use crate::hash::HashPart;
use crate::hlc::Hlc;
use crate::ids::{Dot, ServerId, Tag};
use crate::list::{ListId, ListPart};
use crate::set::SetPart;
use crate::stream::StreamPart;
use crate::tomb::{NO_TOMB, Tomb};
use crate::vv::VersionVector;
use crate::zset::ZSetPart;
use smallvec::SmallVec;

/// An effect with more removals than this removes its list elements together
/// ([`ListPart::remove_all`]); fewer (a pop's) are each found from the list's nearer end.
const REMOVALS_ONE_BY_ONE: usize = 16;

/// The general form of a key's state.
#[derive(Clone, Debug, Default)]
pub(super) struct Full {
    /// Sorted by kind; only parts with content or reset records.
    pub(super) parts: SmallVec<[Part; 1]>,
    /// Live TTL entries, sorted by dot.
    pub(super) ttl: Vec<TtlEntry>,
    pub(super) tomb: Option<Box<Tomb>>,
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

    /// Whether any part holds content a reader can see ([`Full::visible`] without
    /// choosing among them).
    #[inline(always)]
    pub fn has_content(&self) -> bool {
        match &self.parts[..] {
            [one] => one.is_live(),
            parts => parts.iter().any(Part::is_live),
        }
    }

    /// The part the key reads as.
    #[inline]
    pub fn visible(&self) -> Option<&Part> {
        match &self.parts[..] {
            [one] => Some(one).filter(|p| p.is_live()),
            _ => self.visible_of_several(),
        }
    }

    /// [`Full::visible`] after a type clash: the live part written last.
    #[inline(never)]
    fn visible_of_several(&self) -> Option<&Part> {
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

    pub(super) fn string(&self) -> Option<&Field<Blob>> {
        self.str_part().map(|s| &s.field)
    }

    pub(super) fn str_part(&self) -> Option<&StrPart> {
        match self.visible()? {
            Part::Str(s) => Some(s),
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

    pub fn stream(&self) -> Option<&StreamPart> {
        match self.visible()? {
            Part::Stream(x) => Some(x),
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
    #[inline(always)]
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
        // Looked at first: a key nearly always holds one part, of the kind written.
        if matches!(&self.parts[..], [p] if p.kind() == kind) {
            return &mut self.parts[0];
        }
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
    /// covers are skipped: the flush observed and removed them. `stable`, when given, is
    /// causally stable (see [`Tomb::gc`]): a removal it already covers, with the piece
    /// removed, is not recorded, since the collection that follows every write would
    /// forget it at once (a pop on a node without peers, where every op is stable as soon
    /// as it is applied).
    pub fn apply(&mut self, e: &Effect, flushed: &VersionVector, stable: Option<&VersionVector>) {
        self.hlc_floor = self.hlc_floor.max(e.tag.hlc);
        let by = e.tag.dot;
        let forgotten_at_once = |dot: Dot| stable.is_some_and(|s| s.covers(by) && s.covers(dot));
        // Made only when the effect removes something: most writes to a key without a
        // tomb (pushes, adds) leave it without one, and cost no allocation for it.
        let mut tomb = self.tomb.take();
        if let Some(cut) = &e.cutoff {
            self.cut(tomb.get_or_insert_default(), cut, by);
        }
        // Many list removals (LTRIM's, LREM's) are made together, after the others: the
        // order of an effect's removals does not matter, and its additions come after all.
        let many = e.removes.len() > REMOVALS_ONE_BY_ONE;
        let mut list_ids: Vec<&ListId> = Vec::new();
        for r in &e.removes {
            if !forgotten_at_once(r.dot) {
                tomb.get_or_insert_default().add_removed(r.dot, by);
            }
            match &r.loc {
                Loc::List(id) if many => list_ids.push(id),
                loc => self.remove_piece(loc, r.dot),
            }
        }
        if !list_ids.is_empty() {
            self.remove_list_elements(&mut list_ids);
        }
        if !e.resets.is_empty() {
            self.reset_fields(&e.resets);
        }
        let kills = tomb.as_deref().unwrap_or(&NO_TOMB);
        for (i, a) in e.adds.iter().enumerate() {
            let tag = e.tag.piece(i as u32);
            // The piece an addition writes: LSET writes into an existing element.
            let piece = match a {
                Addition::ListSet { id, .. } => id.dot,
                _ => tag.dot,
            };
            if !flushed.covers(piece) {
                self.add_piece(a, tag, kills);
            }
        }
        self.tomb = tomb;
        self.tidy();
    }

    // `apply`'s steps are functions of their own, never inlined into it (the rare ones also
    // cold): every write runs `apply`, and runs only the steps its effect needs, so the code
    // a write runs stays small enough to share the instruction cache with the rest of it
    // (docs/performance.md).

    /// A whole-key removal: `by` removed what `cut` covers.
    #[inline(never)]
    fn cut(&mut self, tomb: &mut Tomb, cut: &VersionVector, by: Dot) {
        if tomb.add_cutoff(cut, by) {
            for p in &mut self.parts {
                p.prune(tomb);
            }
        }
    }

    #[inline(never)]
    fn reset_fields(&mut self, resets: &[crate::effect::Reset]) {
        for r in resets {
            self.reset_field(&r.loc, r.server, &r.reset);
        }
    }

    #[inline(never)]
    fn remove_list_elements(&mut self, ids: &mut [&ListId]) {
        if let Some(Part::List(l)) = self.part_if(Kind::List) {
            l.remove_all(ids);
        }
    }

    #[inline(never)]
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
            Loc::Bits => {
                if let Some(Part::Str(s)) = self.part_if(Kind::String) {
                    s.remove_bits(dot);
                }
            }
            Loc::Stream(at) => {
                if let Some(Part::Stream(x)) = self.part_if(Kind::Stream) {
                    x.remove(at, dot);
                }
            }
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
                h.update(name, |f| f.add_reset(server, reset.clone()))
            }
            (FieldLoc::ZSet(m), Part::ZSet(z)) => {
                z.update(m, |f| f.add_reset(server, reset.clone()))
            }
            _ => unreachable!("part_mut returns the part of the location's kind"),
        }
    }

    fn remove_from_field(&mut self, loc: &FieldLoc, dot: Dot) {
        match (loc, self.part_if(loc_kind(loc))) {
            (FieldLoc::Str, Some(Part::Str(f))) => f.remove_reg(dot),
            (FieldLoc::Hash(name), Some(Part::Hash(h))) => h.remove(name, dot),
            (FieldLoc::ZSet(m), Some(Part::ZSet(z))) => z.remove(m, dot),
            _ => {}
        }
    }

    #[inline(never)]
    fn add_piece(&mut self, a: &Addition, tag: Tag, tomb: &Tomb) {
        match a {
            Addition::Write { loc, value } => self.add_write(loc, value, tag, tomb),
            Addition::Incr { loc, start, total } => {
                let entry = CounterEntry {
                    start: *start,
                    tag,
                    total: *total,
                };
                self.add_counter_entry(loc, entry, tomb);
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
                    l.put(id, tag.stamp(), value, tomb);
                }
            }
            Addition::ListSet { .. }
            | Addition::Expire(_)
            | Addition::Persist
            | Addition::Stream(_)
            | Addition::Bits(_) => self.add_other(a, tag, tomb),
        }
    }

    #[inline(never)]
    fn add_write(&mut self, loc: &FieldLoc, value: &Value, tag: Tag, tomb: &Tomb) {
        match (loc, value) {
            (FieldLoc::Str, Value::Bytes(v)) => {
                if let Part::Str(f) = self.part_mut(Kind::String) {
                    f.add_reg(tag, v.clone(), tomb);
                }
            }
            (FieldLoc::Hash(name), Value::Bytes(v)) => {
                if let Part::Hash(h) = self.part_mut(Kind::Hash) {
                    h.update(name, |f| f.add_reg(tag, v.clone(), tomb));
                }
            }
            (FieldLoc::ZSet(m), Value::Score(s)) => {
                if let Part::ZSet(z) = self.part_mut(Kind::ZSet) {
                    z.update(m, |f| f.add_reg(tag, *s, tomb));
                }
            }
            _ => debug_assert!(false, "value type does not fit {loc:?}"),
        }
    }

    #[inline(never)]
    fn add_counter_entry(&mut self, loc: &FieldLoc, entry: CounterEntry, tomb: &Tomb) {
        match loc {
            FieldLoc::Str => {
                if let Part::Str(f) = self.part_mut(Kind::String) {
                    f.add_entry(entry, tomb);
                }
            }
            FieldLoc::Hash(name) => {
                if let Part::Hash(h) = self.part_mut(Kind::Hash) {
                    h.update(name, |f| f.add_entry(entry, tomb));
                }
            }
            FieldLoc::ZSet(m) => {
                if let Part::ZSet(z) = self.part_mut(Kind::ZSet) {
                    z.update(m, |f| f.add_entry(entry, tomb));
                }
            }
        }
    }

    /// The additions of `add_piece` that are neither writes, counters, members nor list
    /// inserts.
    #[cold]
    #[inline(never)]
    fn add_other(&mut self, a: &Addition, tag: Tag, tomb: &Tomb) {
        match a {
            Addition::Write { .. }
            | Addition::Incr { .. }
            | Addition::Member(_)
            | Addition::ListInsert { .. } => unreachable!("add_piece adds these"),
            Addition::ListSet { id, value } => {
                if let Part::List(l) = self.part_mut(Kind::List) {
                    l.put(id.clone(), tag.stamp(), value, tomb);
                }
            }
            Addition::Expire(at) => self.add_ttl(TtlEntry { tag, at: Some(*at) }, tomb),
            Addition::Persist => self.add_ttl(TtlEntry { tag, at: None }, tomb),
            Addition::Bits(w) => {
                if let Part::Str(s) = self.part_mut(Kind::String) {
                    s.add_bits(tag, w.clone(), tomb);
                }
            }
            Addition::Stream(a) => {
                if let Part::Stream(x) = self.part_mut(Kind::Stream) {
                    x.add(a, tag, tomb);
                }
            }
        }
    }

    fn add_ttl(&mut self, t: TtlEntry, tomb: &Tomb) {
        if tomb.kills_ttl(t.tag.dot) {
            return;
        }
        if let Err(i) = self.ttl.binary_search_by_key(&t.tag.dot, |e| e.tag.dot) {
            // Room for this entry only: a key holds one TTL entry but while regions set
            // theirs at once, and a first push would make room for four (120 bytes more
            // on every key with a TTL, which most keys of a cache have).
            self.ttl.reserve_exact(1);
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
    pub(super) fn gc_tomb(&mut self, stable: &VersionVector) -> bool {
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
    #[inline]
    fn tidy(&mut self) {
        // Looked at first: a write seldom leaves a part void, and a retain runs more code.
        let void = match &self.parts[..] {
            [one] => one.is_void(),
            parts => parts.iter().any(Part::is_void),
        };
        if void {
            self.parts.retain(|p| !p.is_void());
        }
        if self.tomb.as_ref().is_some_and(|t| t.is_empty()) {
            self.tomb = None;
        }
    }

    pub(super) fn from_raw(
        parts: SmallVec<[Part; 1]>,
        ttl: Vec<TtlEntry>,
        tomb: Option<Tomb>,
    ) -> Self {
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
    pub(super) fn merge(&mut self, other: &Full) {
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

impl crate::heap::HeapSize for Full {
    fn heap_bytes(&self) -> usize {
        self.parts.heap_bytes() + self.ttl.heap_bytes() + self.tomb.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::HeapSize;
    use crate::ids::{Dot, OpId, ServerId, Tag};

    /// A key in the general form with a TTL (a hash of a counter, here: a small hash of
    /// register writes is packed) holds room for its one TTL entry, no more; also as read
    /// back from a snapshot. (A string with a TTL has compact forms of its own:
    /// `key/state.rs`.)
    #[test]
    fn a_key_with_a_ttl_holds_room_for_its_one_entry() {
        let tag = |op| Tag::new(Dot::new(ServerId(1), OpId(op), 0), Hlc(op << 40));
        let name = Blob::from(&b"f"[..]);
        let (incr, _) = crate::ops::hincr_by(None, 1_000, tag(1), &name, 1).expect("a hash");
        let mut ks = crate::keyspace::Keyspace::new();
        ks.apply(b"key", &incr);
        let without_ttl = ks.get(b"key").expect("written").heap_bytes();
        let expire = crate::ops::expire(ks.get(b"key"), 1_000, tag(2), 5_000).expect("exists");
        ks.apply(b"key", &expire);
        let k = ks.get(b"key").expect("written");
        let one_entry = without_ttl + size_of::<TtlEntry>();
        assert_eq!(k.heap_bytes(), one_entry);
        let mut bytes = vec![];
        crate::codec::encode_key(k, &mut bytes);
        let read = crate::codec::decode_key(&bytes).expect("decodes");
        assert_eq!(read.heap_bytes(), one_entry);
    }
}
