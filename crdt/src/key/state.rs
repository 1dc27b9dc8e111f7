//! `KeyState`, everything a region holds for one key: the public face of the key envelope.
//! It keeps a plain string write, or one region's counter, in a compact form of the key's own
//! 48 bytes, either of them with one TTL entry in a small box, a small hash packed in one
//! allocation (`key/packed.rs`), and anything else in the general form, converting between
//! them so that equal states have one representation.

use super::full::Full;
use super::kind::Kind;
use super::packed::PackedHash;
use super::part::Part;
use super::plain::{Expiring, PlainCounter, PlainReg, SetEx};
use super::ttl::TtlEntry;
use crate::Crdt;
use crate::blob::Blob;
use crate::conflict::Conflicts;
use crate::effect::Effect;
use crate::field::Field;
use crate::hash::HashRef;
use crate::hlc::Hlc;
use crate::list::ListPart;
use crate::prefetch::prefetch;
use crate::set::SetPart;
use crate::stream::StreamPart;
use crate::tomb::Tomb;
use crate::vv::VersionVector;
use crate::zset::ZSetPart;
use smallvec::SmallVec;
use std::borrow::Cow;

mod string;
mod written;
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
    /// common case of a cache, held in 48 bytes (the value inline up to 22 bytes).
    Plain(PlainReg),
    /// A string that is one origin's counter and nothing else: the common case of INCR,
    /// held in the same 48 bytes.
    Counter(PlainCounter),
    /// Either of those with one TTL entry that `SetEx` does not hold: an expiry another op
    /// wrote (EXPIRE after SET, after INCR), or a PERSIST.
    Expiring(Box<Expiring>),
    /// A plain string with the expiry its own op wrote (SET EX): the common case of a
    /// cache's keys.
    SetEx(Box<SetEx>),
    /// A small hash, its fields packed in one allocation, with at most one TTL entry.
    Hash(PackedHash),
    Full(Box<Full>),
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
            Repr::Full(f) => Some(f),
            _ => None,
        }
    }

    /// The string field a compact form holds.
    fn compact_field(&self) -> Option<Field<Blob>> {
        match &self.0 {
            Repr::Plain(reg) => Some(Field::single(reg.to_reg())),
            Repr::Counter(c) => Some(Field::counting(c.to_entry())),
            Repr::Expiring(x) => x.string.compact_field(),
            Repr::SetEx(x) => Some(Field::single(x.string.to_reg())),
            Repr::Hash(_) | Repr::Full(_) => None,
        }
    }

    /// The general form of a compact one.
    fn compact_as_full(&self) -> Option<Full> {
        if let Repr::Hash(h) = &self.0 {
            return Some(h.unpack());
        }
        let part = Part::Str(self.compact_field()?.into());
        let ttl = self.ttl_entries().to_vec();
        Some(Full::from_raw(smallvec::smallvec![part], ttl, None))
    }

    /// The general form, for a change. Inlined: most changes find it made.
    #[inline]
    fn make_full(&mut self) -> &mut Full {
        if !matches!(self.0, Repr::Full(_)) {
            self.expand();
        }
        match &mut self.0 {
            Repr::Full(f) => f,
            _ => unreachable!("just made full"),
        }
    }

    #[inline(never)]
    fn expand(&mut self) {
        if let Some(full) = self.compact_as_full() {
            self.0 = Repr::Full(Box::new(full));
        }
    }

    /// Back to a compact form when the state fits one: one canonical form for equal states.
    /// Inlined: every write ends here, and for a collection's key this first look is all.
    #[inline]
    fn compact(&mut self) {
        if let Repr::Full(f) = &self.0
            && f.ttl.len() <= 1
            && f.tomb.is_none()
        {
            match &f.parts[..] {
                [Part::Str(_)] => self.compact_string(),
                // A large hash (a write's common case among hashes) is told apart here.
                [Part::Hash(h)] if h.held() <= crate::fields::FEW_FIELDS => self.compact_hash(),
                _ => {}
            }
        }
    }

    /// [`KeyState::compact`] of a lone hash with at most one TTL entry and no removal
    /// knowledge: packed when it is small (`key/packed.rs`).
    #[inline(never)]
    fn compact_hash(&mut self) {
        let Repr::Full(f) = &self.0 else { return };
        let [Part::Hash(h)] = &f.parts[..] else {
            return;
        };
        if let Some(packed) = PackedHash::pack(h, &f.ttl) {
            self.0 = Repr::Hash(packed);
        }
    }

    /// [`KeyState::compact`] of a lone string with at most one TTL entry and no removal
    /// knowledge.
    #[inline(never)]
    fn compact_string(&mut self) {
        let Repr::Full(f) = &self.0 else { return };
        let [Part::Str(field)] = &f.parts[..] else {
            return;
        };
        if field.has_bit_writes() {
            return;
        }
        let string = if let Some(plain) = field.as_single().and_then(PlainReg::from_reg) {
            KeyState(Repr::Plain(plain))
        } else if let Some(counter) = field.as_lone_entry().and_then(PlainCounter::from_entry) {
            KeyState(Repr::Counter(counter))
        } else {
            return;
        };
        *self = match f.ttl[..] {
            [] => string,
            [ttl] => match string.0 {
                Repr::Plain(reg) => match SetEx::of(&reg, &ttl) {
                    Some((at, piece)) => KeyState::set_ex(reg, at, piece),
                    None => {
                        let string = KeyState(Repr::Plain(reg));
                        KeyState(Repr::Expiring(Box::new(Expiring { string, ttl })))
                    }
                },
                _ => KeyState(Repr::Expiring(Box::new(Expiring { string, ttl }))),
            },
            _ => return,
        };
    }

    /// [`KeyState::apply_collecting`] through the general form only (what the writes a
    /// compact key takes in place must equal).
    #[cfg(test)]
    pub(super) fn apply_collecting_generally(
        &mut self,
        e: &Effect,
        flushed: &VersionVector,
        stable: &VersionVector,
    ) {
        self.make_full().apply(e, flushed, Some(stable));
        self.compact();
    }

    /// Whether the key is a packed hash (`key/packed.rs`).
    #[cfg(test)]
    pub(super) fn is_packed(&self) -> bool {
        matches!(self.0, Repr::Hash(_))
    }

    /// The key in the general form, whatever form it is kept in.
    #[cfg(test)]
    pub(super) fn as_full(&self) -> Full {
        match &self.0 {
            Repr::Full(f) => (**f).clone(),
            _ => self.compact_as_full().expect("a compact form"),
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

    /// Ask for the boxed general form, or a plain string's value (when it is not inline):
    /// the second level of a batch's look-ups (see [`crate::Keyspace::prefetch`]).
    pub fn prefetch_box(&self) {
        match &self.0 {
            Repr::Plain(reg) => prefetch(&reg.value[..]),
            Repr::Counter(_) => {}
            Repr::Expiring(x) => prefetch(&**x),
            Repr::SetEx(x) => prefetch(&**x),
            Repr::Hash(h) => h.prefetch(),
            Repr::Full(f) => prefetch(&**f),
        }
    }

    /// Ask for what the general form's first part keeps behind pointers of its own: the
    /// third level, once [`KeyState::prefetch_box`]'s line has arrived.
    pub fn prefetch_part(&self) {
        match &self.0 {
            Repr::Full(f) => {
                if let Some(p) = f.parts.first() {
                    p.prefetch();
                }
            }
            Repr::Expiring(x) => x.string.prefetch_box(),
            Repr::SetEx(x) => prefetch(&x.string.value[..]),
            Repr::Plain(_) | Repr::Counter(_) | Repr::Hash(_) => {}
        }
    }

    /// Whether nothing at all is left: the key can be dropped from the keyspace.
    pub fn is_void(&self) -> bool {
        self.full().is_some_and(Full::is_void)
    }

    /// The type the key reads as, `None` when it has no live content.
    pub fn kind(&self) -> Option<Kind> {
        match &self.0 {
            Repr::Plain(_) | Repr::Counter(_) | Repr::Expiring(_) | Repr::SetEx(_) => {
                Some(Kind::String)
            }
            Repr::Hash(_) => Some(Kind::Hash),
            Repr::Full(f) => f.kind(),
        }
    }

    /// Live parts other than the visible one (content hidden by a type clash).
    pub fn hidden(&self) -> impl Iterator<Item = &Part> {
        self.full().into_iter().flat_map(Full::hidden)
    }

    /// Whether any content is hidden by a type clash (only a key of several parts can hold
    /// some: a quick test before [`KeyState::hidden`]).
    pub fn has_hidden(&self) -> bool {
        self.full()
            .is_some_and(|f| f.parts().len() > 1 && f.hidden().next().is_some())
    }

    /// All parts, including hidden ones and ones kept only for reset records.
    pub fn parts(&self) -> Cow<'_, [Part]> {
        match &self.0 {
            Repr::Full(f) => Cow::Borrowed(f.parts()),
            Repr::Hash(h) => Cow::Owned(vec![Part::Hash(h.hash_part())]),
            _ => Cow::Owned(
                self.compact_field()
                    .map(|f| Part::Str(f.into()))
                    .into_iter()
                    .collect(),
            ),
        }
    }

    /// Whether the key may hold counter entries (what a write that observes the whole key
    /// resets): a plain string's and a packed hash's forms hold none, and need not be
    /// looked through, or built as parts, to tell.
    pub fn may_hold_counters(&self) -> bool {
        match &self.0 {
            Repr::Plain(_) | Repr::SetEx(_) | Repr::Hash(_) => false,
            Repr::Expiring(x) => x.string.may_hold_counters(),
            Repr::Counter(_) | Repr::Full(_) => true,
        }
    }

    pub fn hash(&self) -> Option<HashRef<'_>> {
        match &self.0 {
            Repr::Hash(h) => Some(HashRef::packed(h)),
            _ => self.full()?.hash().map(HashRef::table),
        }
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

    pub fn stream(&self) -> Option<&StreamPart> {
        self.full()?.stream()
    }

    /// Live TTL entries (a key holds one but while regions set theirs at once).
    pub fn ttl_entries(&self) -> SmallVec<[TtlEntry; 1]> {
        match &self.0 {
            Repr::Plain(_) | Repr::Counter(_) => SmallVec::new(),
            Repr::Expiring(x) => smallvec::smallvec![x.ttl],
            Repr::SetEx(x) => smallvec::smallvec![x.ttl()],
            Repr::Hash(h) => h.ttl().into_iter().collect(),
            Repr::Full(f) => f.ttl_entries().iter().copied().collect(),
        }
    }

    pub fn tomb(&self) -> Option<&Tomb> {
        self.full()?.tomb()
    }

    /// When the key expires (Unix ms): the latest live expiry, unless a live PERSIST wins.
    #[inline]
    pub fn expire_at(&self) -> Option<u64> {
        match &self.0 {
            Repr::Plain(_) | Repr::Counter(_) => None,
            Repr::Expiring(x) => x.ttl.at,
            Repr::SetEx(x) => Some(x.at),
            Repr::Hash(h) => h.expire_at(),
            Repr::Full(f) => f.expire_at(),
        }
    }

    /// Whether the key has content (a type it reads as), and its expiry: what the keyspace
    /// counts of every key it changes, in one look. Inlined: every write asks, before and
    /// after.
    #[inline(always)]
    pub fn content_and_expiry(&self) -> (bool, Option<u64>) {
        match &self.0 {
            Repr::Plain(_) | Repr::Counter(_) => (true, None),
            Repr::Expiring(x) => (true, x.ttl.at),
            Repr::SetEx(x) => (true, Some(x.at)),
            Repr::Hash(h) => (true, h.expire_at()),
            Repr::Full(f) => (f.has_content(), f.expire_at()),
        }
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
    #[inline]
    pub fn max_hlc(&self) -> Hlc {
        match &self.0 {
            Repr::Plain(reg) => reg.hlc,
            Repr::Counter(c) => c.hlc(),
            // Not a call of `max_hlc` on the string: a recursive function is never inlined.
            Repr::Expiring(x) => x.ttl.tag.hlc.max(match &x.string.0 {
                Repr::Plain(reg) => reg.hlc,
                Repr::Counter(c) => c.hlc(),
                Repr::Expiring(_) | Repr::SetEx(_) | Repr::Hash(_) | Repr::Full(_) => Hlc::ZERO,
            }),
            // The expiry's tag is the string's, with another piece number.
            Repr::SetEx(x) => x.string.hlc,
            Repr::Hash(h) => h.max_hlc(),
            Repr::Full(f) => f.max_hlc(),
        }
    }

    /// Per origin, the largest op this region has applied to the key's content: the cutoff
    /// of a write that observes the whole key.
    pub fn observed(&self) -> VersionVector {
        match &self.0 {
            Repr::Plain(reg) => reg.observed(),
            Repr::SetEx(x) => x.string.observed(),
            Repr::Counter(c) => std::iter::once((c.server(), c.op())).collect(),
            Repr::Expiring(x) => x.string.observed(),
            Repr::Hash(h) => h.observed(),
            Repr::Full(f) => f.observed(),
        }
    }

    /// Apply an effect. Additions to pieces that `flushed` (the database's FLUSHDB cutoff)
    /// covers are skipped: the flush observed and removed them.
    pub fn apply(&mut self, e: &Effect, flushed: &VersionVector) {
        if self.incremented_plainly(e, flushed) {
            return;
        }
        self.make_full().apply(e, flushed, None);
        self.compact();
    }

    /// [`KeyState::apply`] followed by a collection with `stable` (see
    /// [`KeyState::gc_removals`]): the removal knowledge that collection would forget at
    /// once is not recorded.
    pub(crate) fn apply_collecting(
        &mut self,
        e: &Effect,
        flushed: &VersionVector,
        stable: &VersionVector,
    ) {
        if self.incremented_plainly(e, flushed) || self.written_packed(e, flushed, stable) {
            return;
        }
        self.make_full().apply(e, flushed, Some(stable));
        self.compact();
    }

    /// [`KeyState::apply`] of an op made in another region, telling which conflict rules
    /// decided what the key now holds (see `key/conflicts.rs`). Applies exactly as `apply`.
    pub fn apply_remote(&mut self, e: &Effect, flushed: &VersionVector) -> Conflicts {
        let full = self.make_full();
        let mut found = full.conflicts_before(e);
        full.apply(e, flushed, None);
        found.join(full.conflicts_after(e));
        self.compact();
        found
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
        // A compact form holds nothing to collect: no counter resets, no removals.
        if !matches!(self.0, Repr::Full(_)) {
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
        // A compact form holds nothing to collect: no counter resets, no removals.
        if !matches!(self.0, Repr::Full(_)) {
            return false;
        }
        let changed = self.make_full().gc_tomb(stable);
        self.compact();
        changed
    }
}

impl Crdt for KeyState {
    fn merge(&mut self, other: &KeyState) {
        let compact_as_full;
        let other_full: &Full = match &other.0 {
            Repr::Full(f) => f,
            _ => {
                compact_as_full = other.compact_as_full();
                compact_as_full.as_ref().expect("a compact form")
            }
        };
        self.make_full().merge(other_full);
        self.compact();
    }
}

impl crate::heap::HeapSize for KeyState {
    fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Plain(p) => p.value.heap_bytes(),
            Repr::Counter(_) => 0,
            Repr::Expiring(x) => size_of::<Expiring>() + x.string.heap_bytes(),
            Repr::SetEx(x) => size_of::<SetEx>() + x.string.value.heap_bytes(),
            Repr::Hash(h) => h.heap_bytes(),
            Repr::Full(f) => f.heap_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::HeapSize;
    use crate::ids::{Dot, OpId, ServerId};
    use crate::ops::SetTtl;

    fn tag(op: u64) -> crate::ids::Tag {
        crate::ids::Tag::new(Dot::new(ServerId(1), OpId(op), 0), Hlc(op << 40))
    }

    /// A key that says it holds no counter holds none (a write that observes the whole key
    /// then skips looking); each form says so or not as it is.
    #[test]
    fn a_key_says_whether_it_may_hold_counters() {
        use crate::ops;
        let none = VersionVector::new();
        let made = |effects: &[Effect]| {
            let mut k = KeyState::new();
            for e in effects {
                k.apply(e, &none);
            }
            k
        };
        let value = Blob::from("a value longer than a blob holds inline");
        let plain = ops::set(None, 0, tag(1), value.clone(), SetTtl::Clear);
        let set_ex = ops::set(None, 0, tag(1), value, SetTtl::At(9_000));
        let field = [(Blob::from("f"), Blob::from("v"))];
        let hset = ops::hset(None, 0, tag(1), &field).expect("a hash").0;
        let incr = ops::incr_by(None, 0, tag(1), 5).expect("a counter").0;
        let f = Blob::from("f");
        let hincr = ops::hincr_by(None, 0, tag(1), &f, 5).expect("a hash").0;
        let counted = made(std::slice::from_ref(&incr));
        let expire = ops::expire(Some(&counted), 0, tag(2), 9_000).expect("exists");
        let keys = [
            (made(&[plain]), false),
            (made(&[set_ex]), false),
            (made(&[hset]), false),
            (counted.clone(), true),
            (made(&[incr, expire]), true),
            (made(&[hincr]), true),
        ];
        for (k, may) in keys {
            let counts = k.parts().iter().any(|p| match p {
                Part::Str(s) => s.field.has_counter(),
                Part::Hash(h) => h.all().any(|(_, f)| f.has_counter()),
                _ => false,
            });
            assert_eq!((k.may_hold_counters(), counts), (may, may), "{k:?}");
        }
    }

    /// The compact forms fit the key's own 48 bytes (the blob's tag leaves the niches for
    /// the boxed ones); a string with a TTL is one box besides.
    #[test]
    fn compact_forms_fit_the_key_and_one_box() {
        assert_eq!(size_of::<KeyState>(), 48);
        assert_eq!(size_of::<Expiring>(), 88);
        assert_eq!(size_of::<SetEx>(), 64);
    }

    /// A string with a TTL, the usual key of a cache, as SET EX makes it (the box of a
    /// string and its expiry's time), as EXPIRE makes it of a plain string (the box of a
    /// string and its TTL entry), and as read back from a snapshot: one box, no more.
    #[test]
    fn a_key_with_a_ttl_is_one_box() {
        let value = Blob::from(&b"v000000000000001"[..]);
        let set_ex = crate::ops::set(None, 1_000, tag(1), value.clone(), SetTtl::At(5_000));
        let mut ks = crate::keyspace::Keyspace::new();
        ks.apply(b"set-ex", &set_ex);
        let set = crate::ops::set(None, 1_000, tag(2), value, SetTtl::Clear);
        ks.apply(b"expire", &set);
        let k = ks.get(b"expire").expect("written");
        let expire = crate::ops::expire(Some(k), 1_000, tag(3), 6_000).expect("exists");
        ks.apply(b"expire", &expire);
        let set_ex = ks.get(b"set-ex").expect("written");
        assert!(matches!(set_ex.0, Repr::SetEx(_)), "{set_ex:?}");
        let expire = ks.get(b"expire").expect("written");
        assert!(matches!(expire.0, Repr::Expiring(_)), "{expire:?}");
        for (k, size) in [
            (set_ex, size_of::<SetEx>()),
            (expire, size_of::<Expiring>()),
        ] {
            assert_eq!(k.heap_bytes(), size);
            let mut bytes = vec![];
            crate::codec::encode_key(k, &mut bytes);
            let read = crate::codec::decode_key(&bytes).expect("decodes");
            assert_eq!(&read, k);
            assert_eq!(read.heap_bytes(), size);
        }
        assert_eq!(
            set_ex.ttl_entries().as_slice(),
            [TtlEntry {
                tag: tag(1).piece(1),
                at: Some(5_000)
            }]
        );
        assert_eq!(set_ex.max_hlc(), tag(1).hlc);
        assert_eq!(ks.get(b"set-ex").and_then(KeyState::expire_at), Some(5_000));
        assert_eq!(ks.get(b"expire").and_then(KeyState::expire_at), Some(6_000));
        assert_eq!(
            ks.get(b"expire")
                .and_then(KeyState::string_value)
                .as_deref(),
            Some(&b"v000000000000001"[..])
        );
    }

    /// SET EX of a new key builds the compact form directly: the same state the general
    /// path makes.
    #[test]
    fn set_ex_of_a_new_key_is_what_applying_it_makes() {
        let e = crate::ops::set(None, 1_000, tag(1), Blob::from(&b"v"[..]), SetTtl::At(9));
        let none = VersionVector::new();
        let direct = KeyState::new_from_plain_write(&e, &none).expect("a plain write");
        let mut applied = KeyState::new();
        applied.make_full().apply(&e, &none, None);
        assert!(matches!(applied.0, Repr::Full(_)));
        applied.compact();
        assert_eq!(direct, applied);
        assert!(matches!(direct.0, Repr::SetEx(_)));
    }

    /// A counter with a TTL (INCR then EXPIRE, a rate limiter) keeps its compact form as
    /// it counts, and its TTL.
    #[test]
    fn an_expiring_counter_counts_in_place() {
        let none = VersionVector::new();
        let incr = |k: Option<&KeyState>, op| {
            crate::ops::incr_by(k, 1_000, tag(op), 1)
                .expect("a counter")
                .0
        };
        let mut k = KeyState::new_from_plain_write(&incr(None, 1), &none).expect("plain");
        let expire = crate::ops::expire(Some(&k), 1_000, tag(2), 60_000).expect("exists");
        k.apply(&expire, &none);
        assert!(matches!(k.0, Repr::Expiring(_)), "{k:?}");
        for op in 3..6 {
            let e = incr(Some(&k), op);
            k.apply(&e, &none);
        }
        assert!(matches!(k.0, Repr::Expiring(_)), "{k:?}");
        assert_eq!(k.string_i64(), Some(4));
        assert_eq!(k.expire_at(), Some(60_000));
    }
}
