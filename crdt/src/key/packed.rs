//! `PackedHash`, the compact form of a small hash key: its fields written one after another
//! in one allocation, as Redis keeps a small hash in a listpack. In the general form a field
//! took 88 bytes (its name, its value and its write's tag, each a fixed-size slot) and the
//! key a box of 96 besides; packed, a field takes its name's and value's bytes and a few
//! bytes of tag.
//!
//! A key takes this form when it holds a hash and nothing else: at most [`FEW_FIELDS`]
//! fields, each one register write (no counter, no concurrent writes unresolved), no
//! removal knowledge, at most one TTL entry, and at most [`PACKED_BYTES_MAX`] bytes packed.
//! The fields are in the order of their writes (stamp, piece, name): the order HGETALL lists
//! a small hash in, and one order for equal states, so that equal keys are equal bytes.
//!
//! Each field starts with its length, then its name, so that a look for a name steps from
//! field to field without reading their tags. A tag is written as what differs from the
//! first field's (the base, in the head): each field reads on its own, and one that is kept
//! as others change keeps its bytes. A field's write or removal (`PackedHash::written`)
//! copies the fields it keeps and writes the new one after them, as a listpack's insert
//! moves its bytes in Redis; anything else unpacks the key into the general form, applies
//! there, and packs it again.

use super::full::Full;
use super::part::Part;
use super::ttl::TtlEntry;
use crate::blob::Blob;
use crate::codec::{put_var, read_var, var_len};
use crate::effect::{Addition, Effect, FieldLoc, Loc, Value};
use crate::field::{Field, RegEntry};
use crate::fields::FEW_FIELDS;
use crate::hash::HashPart;
use crate::hlc::Hlc;
use crate::ids::{Dot, OpId, ServerId, Tag};
use crate::vv::VersionVector;
use smallvec::SmallVec;

/// The most bytes a packed hash takes: past them a write would copy more than a field's
/// write is worth (Redis's listpack of a hash holds values of at most 64 bytes, by default).
pub(super) const PACKED_BYTES_MAX: usize = 1024;

/// A small hash key's fields and TTL entry. Layout:
/// - the field count (one byte) and a flags byte ([`HAS_TTL`], [`EXPIRES`]);
/// - the expiry's time (8 bytes, little-endian), if it has one;
/// - the base: the first field's server (4 bytes) and HLC (8 bytes, both little-endian:
///   read at every look, and no shorter as varints) and op (a varint), then the last
///   field's HLC less the base's (what a write to the key must be stamped after);
/// - the TTL entry's server, op, piece and HLC, if there is one;
/// - the fields, each: its length after this varint, its name (a varint length and the
///   bytes), a flags byte ([`BASE_SERVER`], [`BASE_OP`]), its HLC less the base's, its
///   server and op unless the base's, its piece, and its value (the rest).
#[derive(Clone, Debug, PartialEq)]
pub struct PackedHash {
    bytes: Box<[u8]>,
}

/// The key has a TTL entry (an EXPIRE's, or a PERSIST's).
const HAS_TTL: u8 = 1;
/// The TTL entry is an expiry, not a PERSIST: its time follows the flags.
const EXPIRES: u8 = 2;
/// Where the expiry's time is.
const AT: usize = 2;

/// A field's flags: its tag's server, or op, is the base's.
const BASE_SERVER: u8 = 1;
const BASE_OP: u8 = 2;

/// One field of a packed hash: the write that made it, its name and its value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PackedField<'a> {
    pub tag: Tag,
    pub name: &'a [u8],
    pub value: &'a [u8],
}

/// A field to pack: its name, the write that made it, and its value.
type Packing<'a> = SmallVec<[(&'a [u8], Tag, &'a [u8]); FEW_FIELDS]>;

/// What the head holds besides the count: the TTL entry, the base, the last field's HLC,
/// and where the fields start.
struct Head {
    ttl: Option<TtlEntry>,
    base: Tag,
    /// The last field's HLC, the largest.
    top: Hlc,
    fields_at: usize,
}

/// Where one field lies in the bytes, and its name.
#[derive(Clone, Copy)]
struct Span<'a> {
    start: usize,
    end: usize,
    name: &'a [u8],
}

impl PackedHash {
    /// The packed form of a hash with the TTL entries `ttl`, when it can take it.
    pub(super) fn pack(h: &HashPart, ttl: &[TtlEntry]) -> Option<PackedHash> {
        if h.held() > FEW_FIELDS || ttl.len() > 1 {
            return None;
        }
        let mut fields = Packing::new();
        for (name, f) in h.all() {
            let reg = f.as_single()?;
            fields.push((name, reg.tag, &reg.value));
        }
        Self::packed(fields, ttl.first())
    }

    /// What applying `e` makes of this key, packed, when `e` only writes and removes
    /// fields (an HSET's, an HDEL's), everything it removes is forgotten at once (`stable`
    /// covers it and `e`: see `Full::apply`), and the result is a packed hash still: the
    /// bytes the general form's apply and packing would make, without unpacking the key.
    /// `None`: the general form decides.
    pub(super) fn written(&self, e: &Effect, stable: &VersionVector) -> Option<PackedHash> {
        if e.cutoff.is_some() || !e.resets.is_empty() || !stable.covers(e.tag.dot) {
            return None;
        }
        let mut removed: SmallVec<[(&[u8], Dot); 2]> = SmallVec::new();
        for r in &e.removes {
            match &r.loc {
                Loc::Field(FieldLoc::Hash(name)) if stable.covers(r.dot) => {
                    removed.push((name, r.dot));
                }
                _ => return None,
            }
        }
        let mut added = Packing::new();
        for (i, a) in e.adds.iter().enumerate() {
            let Addition::Write {
                loc: FieldLoc::Hash(name),
                value: Value::Bytes(v),
            } = a
            else {
                return None;
            };
            if added.iter().any(|(n, _, _)| *n == &name[..]) {
                return None;
            }
            added.push((name, e.tag.piece(i as u32), v));
        }
        // The names the effect touches, each once (an HSET over a field removes and writes
        // one name): a field of another name is kept as it is, on one comparison each.
        let mut touched: SmallVec<[&[u8]; 2]> = SmallVec::new();
        let names = removed.iter().map(|r| r.0).chain(added.iter().map(|a| a.0));
        for n in names {
            if !touched.contains(&n) {
                touched.push(n);
            }
        }
        let head = self.head();
        let mut kept: SmallVec<[Span<'_>; FEW_FIELDS]> = SmallVec::new();
        let mut first_removed = false;
        for (i, span) in self.spans(head.fields_at).enumerate() {
            if touched.contains(&span.name) {
                let dot = self.field(span, &head.base).tag.dot;
                if removed.contains(&(span.name, dot)) {
                    first_removed |= i == 0;
                    continue;
                }
                // A field holding a write still would hold two.
                if added.iter().any(|a| a.0 == span.name) {
                    return None;
                }
            }
            kept.push(span);
        }
        if kept.len() + added.len() > FEW_FIELDS {
            return None;
        }
        // The kept fields keep their bytes while the base is kept (the first field), and
        // the new ones go after them when they order after the last: one op's writes are in
        // order by piece, and order after what it observed unless a concurrent write from
        // another region holds a later stamp.
        let order = |t: Tag| (t.stamp(), t.dot.idx);
        let last = kept.last().map(|s| self.field(*s, &head.base).tag);
        let after = match (last, added.first()) {
            (Some(last), Some(first)) => order(first.1) > order(last),
            _ => true,
        };
        if kept.is_empty() || first_removed || !after {
            let mut all: Packing<'_> = kept
                .iter()
                .map(|s| {
                    let f = self.field(*s, &head.base);
                    (f.name, f.tag, f.value)
                })
                .collect();
            all.extend(added);
            return Self::packed(all, head.ttl.as_ref());
        }
        let top = added
            .last()
            .map_or_else(|| last.expect("kept").hlc, |a| a.1.hlc);
        let kept: SmallVec<[&[u8]; FEW_FIELDS]> =
            kept.iter().map(|s| &self.bytes[s.start..s.end]).collect();
        Self::assembled(head.ttl.as_ref(), &head.base, top, &kept, &added)
    }

    /// `fields` packed with the TTL entry `ttl`, in the order of their writes, when they fit.
    fn packed(mut fields: Packing<'_>, ttl: Option<&TtlEntry>) -> Option<PackedHash> {
        if fields.is_empty() {
            return None;
        }
        fields.sort_unstable_by(|(a, x, _), (b, y, _)| {
            (x.stamp(), x.dot.idx)
                .cmp(&(y.stamp(), y.dot.idx))
                .then_with(|| a.cmp(b))
        });
        let (base, top) = (fields[0].1, fields[fields.len() - 1].1.hlc);
        Self::assembled(ttl, &base, top, &[], &fields)
    }

    /// The head (from `base`, the first field's tag, to `top`, the last field's HLC), the
    /// fields `kept` as they were packed against that base, then `fields` packed after
    /// them; when they fit. Allocated once, to the byte.
    fn assembled(
        ttl: Option<&TtlEntry>,
        base: &Tag,
        top: Hlc,
        kept: &[&[u8]],
        fields: &[(&[u8], Tag, &[u8])],
    ) -> Option<PackedHash> {
        let kept_len: usize = kept.iter().map(|k| k.len()).sum();
        let fields_len: usize = fields
            .iter()
            .map(|&(n, t, v)| field_len(n, t, v, base))
            .sum();
        let len = head_len(ttl, base, top) + kept_len + fields_len;
        if len > PACKED_BYTES_MAX {
            return None;
        }
        let mut out = Vec::with_capacity(len);
        put_head(&mut out, kept.len() + fields.len(), ttl, base, top);
        for k in kept {
            out.extend_from_slice(k);
        }
        for &(n, t, v) in fields {
            put_field(&mut out, n, t, v, base);
        }
        debug_assert_eq!(out.len(), len);
        Some(PackedHash {
            bytes: out.into_boxed_slice(),
        })
    }

    /// How many fields it holds (all live).
    #[inline]
    pub fn len(&self) -> usize {
        usize::from(self.bytes[0])
    }

    /// When the key expires (Unix ms).
    #[inline]
    pub(super) fn expire_at(&self) -> Option<u64> {
        if self.bytes[1] & EXPIRES == 0 {
            return None;
        }
        let at: [u8; 8] = self.bytes[AT..AT + 8].try_into().expect("8 bytes");
        Some(u64::from_le_bytes(at))
    }

    #[inline]
    fn head(&self) -> Head {
        let b = &self.bytes;
        let at = self.expire_at();
        let mut i = AT + if at.is_some() { 8 } else { 0 };
        let server: [u8; 4] = b[i..i + 4].try_into().expect("4 bytes");
        let hlc: [u8; 8] = b[i + 4..i + 12].try_into().expect("8 bytes");
        i += 12;
        let (server, hlc) = (
            ServerId(u32::from_le_bytes(server)),
            u64::from_le_bytes(hlc),
        );
        let op = OpId(read_var(b, &mut i));
        let base = Tag::new(Dot::new(server, op, 0), Hlc(hlc));
        let top = Hlc(hlc + read_var(b, &mut i));
        let ttl = (b[1] & HAS_TTL != 0).then(|| {
            let server = ServerId(read_var(b, &mut i) as u32);
            let op = OpId(read_var(b, &mut i));
            let idx = read_var(b, &mut i) as u32;
            let tag = Tag::new(Dot::new(server, op, idx), Hlc(read_var(b, &mut i)));
            TtlEntry { tag, at }
        });
        Head {
            ttl,
            base,
            top,
            fields_at: i,
        }
    }

    pub(super) fn ttl(&self) -> Option<TtlEntry> {
        self.head().ttl
    }

    /// Where each field lies, in order, from `at` (the head's end).
    #[inline]
    fn spans(&self, at: usize) -> Spans<'_> {
        Spans {
            bytes: &self.bytes,
            at,
            left: self.len(),
        }
    }

    /// The field at `span`, read on its own.
    #[inline]
    fn field<'a>(&'a self, span: Span<'a>, base: &Tag) -> PackedField<'a> {
        let b = &self.bytes;
        let mut i = span.start;
        read_var(b, &mut i);
        let n = read_var(b, &mut i) as usize;
        i += n;
        let flags = b[i];
        i += 1;
        let hlc = Hlc(base.hlc.0 + read_var(b, &mut i));
        let server = if flags & BASE_SERVER != 0 {
            base.dot.server
        } else {
            ServerId(read_var(b, &mut i) as u32)
        };
        let op = if flags & BASE_OP != 0 {
            base.dot.op
        } else {
            OpId(read_var(b, &mut i))
        };
        let idx = read_var(b, &mut i) as u32;
        PackedField {
            tag: Tag::new(Dot::new(server, op, idx), hlc),
            name: span.name,
            value: &b[i..span.end],
        }
    }

    /// Its fields, in the order they were written.
    pub fn fields(&self) -> impl Iterator<Item = PackedField<'_>> {
        let head = self.head();
        self.spans(head.fields_at)
            .map(move |s| self.field(s, &head.base))
    }

    pub fn get(&self, name: &[u8]) -> Option<PackedField<'_>> {
        let head = self.head();
        let span = self.spans(head.fields_at).find(|s| s.name == name)?;
        Some(self.field(span, &head.base))
    }

    /// The field at position `i`, in the order they were written.
    pub fn at(&self, i: usize) -> Option<PackedField<'_>> {
        let head = self.head();
        let span = self.spans(head.fields_at).nth(i)?;
        Some(self.field(span, &head.base))
    }

    /// The largest HLC of anything in the key: its last field's, or its TTL entry's.
    pub(super) fn max_hlc(&self) -> Hlc {
        let head = self.head();
        head.ttl.map_or(head.top, |t| t.tag.hlc.max(head.top))
    }

    /// Per origin, the largest op of its fields (see `KeyState::observed`).
    pub(super) fn observed(&self) -> VersionVector {
        let mut vv = VersionVector::new();
        for f in self.fields() {
            vv.add(f.tag.dot);
        }
        vv
    }

    /// Its hash in the general form's table (the fields in the vector form, with room for
    /// no more).
    pub(super) fn hash_part(&self) -> HashPart {
        let mut fields = Vec::with_capacity(self.len());
        fields.extend(self.fields().map(|f| {
            let reg = RegEntry {
                tag: f.tag,
                value: Blob::from(f.value),
            };
            (Blob::from(f.name), Field::single(reg))
        }));
        HashPart::of_live_registers(fields)
    }

    /// The key in the general form.
    pub(super) fn unpack(&self) -> Full {
        let part = Part::Hash(self.hash_part());
        let ttl = self.ttl().into_iter().collect();
        Full::from_raw(smallvec::smallvec![part], ttl, None)
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Ask for its first bytes (the count, the expiry and the first field).
    pub(super) fn prefetch(&self) {
        crate::prefetch::prefetch(&self.bytes[0]);
    }
}

/// Where each field of a packed hash lies: read by their lengths and names only.
struct Spans<'a> {
    bytes: &'a [u8],
    at: usize,
    left: usize,
}

impl<'a> Iterator for Spans<'a> {
    type Item = Span<'a>;

    // Always: every look at a field steps through those before it.
    #[inline(always)]
    fn next(&mut self) -> Option<Span<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (b, start) = (self.bytes, self.at);
        let len = read_var(b, &mut self.at) as usize;
        let end = self.at + len;
        let n = read_var(b, &mut self.at) as usize;
        let name = &b[self.at..self.at + n];
        self.at = end;
        Some(Span { start, end, name })
    }
}

/// The bytes [`put_head`] writes.
fn head_len(ttl: Option<&TtlEntry>, base: &Tag, top: Hlc) -> usize {
    let mut len = AT + 4 + 8 + var_len(base.dot.op.0) + var_len(top.0 - base.hlc.0);
    if let Some(t) = ttl {
        len += if t.at.is_some() { 8 } else { 0 };
        len += var_len(u64::from(t.tag.dot.server.0))
            + var_len(t.tag.dot.op.0)
            + var_len(u64::from(t.tag.dot.idx))
            + var_len(t.tag.hlc.0);
    }
    len
}

/// The head of `count` fields from `base` (the first's tag) to `top` (the last's HLC).
fn put_head(out: &mut Vec<u8>, count: usize, ttl: Option<&TtlEntry>, base: &Tag, top: Hlc) {
    out.push(count as u8);
    out.push(match ttl {
        None => 0,
        Some(t) => HAS_TTL | if t.at.is_some() { EXPIRES } else { 0 },
    });
    if let Some(at) = ttl.and_then(|t| t.at) {
        out.extend_from_slice(&at.to_le_bytes());
    }
    out.extend_from_slice(&base.dot.server.0.to_le_bytes());
    out.extend_from_slice(&base.hlc.0.to_le_bytes());
    put_var(out, base.dot.op.0);
    put_var(out, top.0 - base.hlc.0);
    if let Some(t) = ttl {
        put_var(out, u64::from(t.tag.dot.server.0));
        put_var(out, t.tag.dot.op.0);
        put_var(out, u64::from(t.tag.dot.idx));
        put_var(out, t.tag.hlc.0);
    }
}

/// The bytes of a field's encoding after its length varint.
fn field_body_len(name: &[u8], t: Tag, value: &[u8], base: &Tag) -> usize {
    let mut len = var_len(name.len() as u64) + name.len() + 1;
    len += var_len(t.hlc.0 - base.hlc.0) + var_len(u64::from(t.dot.idx)) + value.len();
    if t.dot.server != base.dot.server {
        len += var_len(u64::from(t.dot.server.0));
    }
    if t.dot.op != base.dot.op {
        len += var_len(t.dot.op.0);
    }
    len
}

/// The bytes [`put_field`] writes.
fn field_len(name: &[u8], t: Tag, value: &[u8], base: &Tag) -> usize {
    let body = field_body_len(name, t, value, base);
    var_len(body as u64) + body
}

/// One field's encoding, its tag against `base` (which its HLC is not below).
fn put_field(out: &mut Vec<u8>, name: &[u8], t: Tag, value: &[u8], base: &Tag) {
    put_var(out, field_body_len(name, t, value, base) as u64);
    put_var(out, name.len() as u64);
    out.extend_from_slice(name);
    let same_server = t.dot.server == base.dot.server;
    let same_op = t.dot.op == base.dot.op;
    out.push(if same_server { BASE_SERVER } else { 0 } | if same_op { BASE_OP } else { 0 });
    put_var(out, t.hlc.0 - base.hlc.0);
    if !same_server {
        put_var(out, u64::from(t.dot.server.0));
    }
    if !same_op {
        put_var(out, t.dot.op.0);
    }
    put_var(out, u64::from(t.dot.idx));
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Crdt;
    use crate::effect::Effect;
    use crate::hash::HashRef;
    use crate::heap::HeapSize;
    use crate::key::KeyState;
    use crate::ops;

    fn tag(server: u32, op: u64) -> Tag {
        Tag::new(Dot::new(ServerId(server), OpId(op), 0), Hlc((op << 20) | 7))
    }

    /// Apply `e` with every op stable (a region without peers): removal knowledge is
    /// forgotten at once, as a region forgets it once every region has seen the removal.
    fn apply(k: &mut KeyState, e: &Effect) {
        let stable: VersionVector = (1..=5).map(|s| (ServerId(s), OpId(1_000))).collect();
        k.apply_collecting(e, &VersionVector::new(), &stable);
    }

    fn hset(k: &mut KeyState, t: Tag, pairs: &[(&str, &str)]) {
        let pairs: Vec<(Blob, Blob)> = pairs
            .iter()
            .map(|(n, v)| (Blob::from(*n), Blob::from(*v)))
            .collect();
        let (e, _) = ops::hset(Some(k), 0, t, &pairs).expect("a hash");
        apply(k, &e);
    }

    /// What a reader sees of a hash: each field's name, value and pieces, in the order
    /// HGETALL lists them.
    fn seen(h: HashRef<'_>) -> Vec<(Vec<u8>, Vec<u8>, Vec<Dot>)> {
        let fields = h.fields_in_order().into_iter();
        fields
            .map(|(n, f)| (n.to_vec(), f.value().into_owned(), f.dots().collect()))
            .collect()
    }

    /// A packed hash reads as the same key in the general form: its fields in the order
    /// they were written, each field's value and piece, its TTL, what a write observes of
    /// it and its largest HLC; and it packs again to the same bytes.
    #[test]
    fn a_packed_hash_reads_as_the_general_form_does() {
        let mut k = KeyState::new();
        hset(&mut k, tag(1, 1), &[("a", "1"), ("b", "2")]);
        hset(
            &mut k,
            tag(2, 2),
            &[("c", "a value past the 22 bytes a blob holds inline")],
        );
        hset(&mut k, tag(1, 3), &[("a", "4")]);
        let expire = ops::expire(Some(&k), 0, tag(1, 4), 5_000).expect("exists");
        apply(&mut k, &expire);
        assert!(k.is_packed());
        let full = k.as_full();
        let table = HashRef::table(full.hash().expect("a hash"));
        let packed = k.hash().expect("a hash");
        assert_eq!(seen(packed), seen(table));
        let names: Vec<&[u8]> = packed.fields_in_order().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [&b"b"[..], b"c", b"a"],
            "in the order of their writes"
        );
        assert_eq!(
            (packed.len(), packed.held(), packed.all_live()),
            (3, 3, true)
        );
        assert_eq!(
            packed.get(b"a").map(|f| f.value().into_owned()),
            Some(b"4".to_vec())
        );
        assert!(packed.get(b"z").is_none());
        let at: Vec<_> = (0..4).map(|i| packed.live_at(i).map(|(n, _)| n)).collect();
        assert_eq!(at, [Some(&b"b"[..]), Some(b"c"), Some(b"a"), None]);
        assert_eq!(k.expire_at(), Some(5_000));
        assert_eq!(k.ttl_entries().as_slice(), full.ttl_entries());
        assert_eq!(k.observed(), full.observed());
        assert_eq!(k.max_hlc(), full.max_hlc());
        assert_eq!(k.kind(), Some(crate::key::Kind::Hash));
        let ttl = full.ttl_entries();
        let again = PackedHash::pack(full.hash().expect("a hash"), ttl).expect("packs");
        assert_eq!(k.heap_bytes(), again.heap_bytes());
        let mut bytes = vec![];
        crate::codec::encode_key(&k, &mut bytes);
        assert_eq!(crate::codec::decode_key(&bytes).as_ref(), Ok(&k));
        // A PERSIST's entry is kept as it is: no expiry, the entry held.
        let persist = ops::persist(Some(&k), 0, tag(2, 5)).expect("has a TTL");
        apply(&mut k, &persist);
        assert!(k.is_packed());
        assert_eq!(k.expire_at(), None);
        assert_eq!(k.ttl_entries().as_slice(), k.as_full().ttl_entries());
        assert_eq!(k.ttl_entries()[0].tag, tag(2, 5).piece(0));
    }

    /// What the packed form cannot hold keeps the key in the general form, and the key
    /// packs again once it can: one form for one state.
    #[test]
    fn a_hash_is_packed_exactly_while_it_fits() {
        let mut k = KeyState::new();
        for i in 0..FEW_FIELDS as u64 {
            hset(&mut k, tag(1, i + 1), &[(&format!("f{i}"), "v")]);
            assert!(k.is_packed(), "{i}");
        }
        hset(&mut k, tag(1, 100), &[("one more", "v")]);
        assert!(!k.is_packed(), "past {FEW_FIELDS} fields");
        let (del, _) = ops::hdel(Some(&k), 0, tag(1, 101), &[Blob::from("f0")]).expect("hash");
        apply(&mut k, &del.expect("removes one"));
        assert!(k.is_packed(), "back to {FEW_FIELDS}");
        // A counter's field.
        let name = Blob::from("n");
        let (incr, _) = ops::hincr_by(Some(&k), 0, tag(1, 102), &name, 1).expect("hash");
        let mut counted = k.clone();
        apply(&mut counted, &incr);
        assert!(!counted.is_packed());
        // Too many bytes.
        let mut big = KeyState::new();
        let long = "x".repeat(PACKED_BYTES_MAX / 2);
        hset(&mut big, tag(1, 1), &[("a", &long)]);
        assert!(big.is_packed());
        hset(&mut big, tag(1, 2), &[("b", &long)]);
        assert!(!big.is_packed(), "past {PACKED_BYTES_MAX} bytes");
        // Concurrent writes of one field: both kept until a write that saw both.
        let mut here = KeyState::new();
        hset(&mut here, tag(1, 1), &[("f", "here")]);
        let mut there = KeyState::new();
        hset(&mut there, tag(2, 1), &[("f", "there")]);
        here.merge(&there);
        assert!(!here.is_packed(), "two writes of one field");
        assert_eq!(
            here.hash()
                .and_then(|h| h.get(b"f"))
                .map(|f| f.value().len()),
            Some(5)
        );
        hset(&mut here, tag(1, 2), &[("f", "after both")]);
        assert!(here.is_packed());
    }

    /// A field overwritten while other regions may not have the write yet (its removal not
    /// stable: a region with peers) keeps the removal, and the key the general form; the
    /// collection that forgets the removal once stable packs the key again.
    #[test]
    fn a_hash_is_packed_again_once_its_removals_are_stable() {
        let mut k = KeyState::new();
        hset(&mut k, tag(1, 1), &[("a", "1"), ("b", "2")]);
        let pairs = [(Blob::from("a"), Blob::from("3"))];
        let (over, _) = ops::hset(Some(&k), 0, tag(2, 2), &pairs).expect("a hash");
        let none = VersionVector::new();
        k.apply_collecting(&over, &none, &none);
        assert!(!k.is_packed(), "the removal is kept until stable");
        assert!(k.tomb().is_some());
        let stable: VersionVector = (1..=2).map(|s| (ServerId(s), OpId(2))).collect();
        assert!(k.gc(&stable));
        assert!(k.is_packed());
        let values: Vec<_> = seen(k.hash().expect("a hash"));
        let names: Vec<&[u8]> = values.iter().map(|(n, _, _)| &n[..]).collect();
        assert_eq!(names, [&b"b"[..], b"a"]);
    }

    /// Regions that apply the same writes in different orders hold equal keys, byte for
    /// byte; a one-field hash costs its packed bytes and nothing more.
    #[test]
    fn equal_hashes_are_equal_bytes() {
        let writes: Vec<Effect> = (1..=5u64)
            .map(|op| {
                let name = Blob::from(format!("f{}", op % 3).as_str());
                let value = Blob::from(format!("v{op}").as_str());
                ops::hset(None, 0, tag(op as u32, op), &[(name, value)])
                    .expect("a hash")
                    .0
            })
            .collect();
        let mut forward = KeyState::new();
        let mut backward = KeyState::new();
        for e in &writes {
            apply(&mut forward, e);
        }
        for e in writes.iter().rev() {
            apply(&mut backward, e);
        }
        assert_eq!(forward, backward);
        // A node's tag: a random server-id, an op past a million, a clock of today.
        let dot = Dot::new(ServerId(0x9e37_79b9), OpId(1_234_567), 0);
        let real = Tag::new(dot, Hlc::new(1_765_000_000_000, 3));
        let mut one = KeyState::new();
        hset(&mut one, real, &[("f", "v")]);
        assert!(one.is_packed());
        // The head's 2 bytes, the base's 12 and its op's 3, the last field's HLC (1), the
        // field's 7.
        assert_eq!(one.heap_bytes(), 25);
    }

    proptest::proptest! {
        /// A field's write or removal in a packed hash, done in place, makes what the
        /// general form's apply and packing make: HSETs of one or two fields and HDELs, of
        /// up to twenty fields (a hash crossing the packed form's count), values up to 120
        /// bytes (crossing its bytes), some built on an older state (concurrent writes of
        /// one field), with every op stable or none.
        #[test]
        fn writes_in_place_equal_the_general_forms(
            steps in proptest::collection::vec(
                (0u8..4, 0u8..20, 0usize..120, 0usize..3, proptest::bool::ANY),
                1..60,
            )
        ) {
            let all_stable: VersionVector =
                (1..=3).map(|s| (ServerId(s), OpId(1_000))).collect();
            let none = VersionVector::new();
            let (mut fast, mut general) = (KeyState::new(), KeyState::new());
            let mut history = vec![fast.clone()];
            for (op, (kind, field, len, age, stable)) in steps.into_iter().enumerate() {
                let op = op as u64 + 1;
                let t = tag((op % 3) as u32 + 1, op);
                let seen = &history[history.len().saturating_sub(1 + age)];
                let name = Blob::from(format!("field{field}").as_str());
                let e = if kind == 0 {
                    match ops::hdel(Some(seen), 0, t, &[name]).expect("a hash") {
                        (Some(e), _) => e,
                        (None, _) => continue,
                    }
                } else {
                    let value = Blob::from("v".repeat(len).as_str());
                    let mut pairs = vec![(name, value.clone())];
                    if kind > 1 {
                        let other = format!("field{}", (field + kind) % 20);
                        pairs.push((Blob::from(other.as_str()), value));
                    }
                    ops::hset(Some(seen), 0, t, &pairs).expect("a hash").0
                };
                let stable = if stable { &all_stable } else { &none };
                fast.apply_collecting(&e, &none, stable);
                general.apply_collecting_generally(&e, &none, stable);
                proptest::prop_assert_eq!(&fast, &general);
                // What every write asks of the key, read from the packed head as a scan of
                // the general form finds it.
                let full = fast.as_full();
                proptest::prop_assert_eq!(fast.max_hlc(), full.max_hlc());
                proptest::prop_assert_eq!(fast.observed(), full.observed());
                history.push(fast.clone());
            }
        }
    }
}
