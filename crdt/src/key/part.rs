//! `Part`, a key's content of one type (a string field, or a hash, set, sorted set or list
//! part), and the per-type dispatch the key envelope needs: liveness, stamps, observed
//! ops, pruning, merge and GC. Several parts coexist in one key after a type clash.

use super::kind::Kind;
use crate::bits::StrPart;
use crate::hash::HashPart;
use crate::ids::Stamp;
use crate::list::ListPart;
use crate::prefetch::prefetch;
use crate::set::SetPart;
use crate::stream::StreamPart;
use crate::tomb::Tomb;
use crate::vv::VersionVector;
use crate::zset::ZSetPart;

/// A key's content of one type.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Str(StrPart),
    /// Inline: a small hash's fields are one vector (a large one's table is boxed).
    Hash(HashPart),
    Set(Box<SetPart>),
    ZSet(Box<ZSetPart>),
    List(Box<ListPart>),
    Stream(Box<StreamPart>),
}

impl Part {
    /// Ask for what a command reads first, behind this part's box.
    pub(super) fn prefetch(&self) {
        match self {
            Part::Str(s) => s.prefetch(),
            Part::Hash(h) => h.prefetch(),
            Part::Set(s) => prefetch(&**s),
            Part::ZSet(z) => prefetch(&**z),
            Part::List(l) => prefetch(&**l),
            Part::Stream(s) => prefetch(&**s),
        }
    }

    pub(super) fn empty(kind: Kind) -> Part {
        match kind {
            Kind::String => Part::Str(StrPart::default()),
            Kind::Hash => Part::Hash(HashPart::default()),
            Kind::Set => Part::Set(Box::default()),
            Kind::ZSet => Part::ZSet(Box::default()),
            Kind::List => Part::List(Box::default()),
            Kind::Stream => Part::Stream(Box::default()),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Part::Str(_) => Kind::String,
            Part::Hash(_) => Kind::Hash,
            Part::Set(_) => Kind::Set,
            Part::ZSet(_) => Kind::ZSet,
            Part::List(_) => Kind::List,
            Part::Stream(_) => Kind::Stream,
        }
    }

    /// Whether it holds content a reader can see.
    #[inline]
    pub fn is_live(&self) -> bool {
        match self {
            Part::Str(f) => f.is_live(),
            Part::Hash(h) => h.is_live(),
            Part::Set(s) => s.is_live(),
            Part::ZSet(z) => z.is_live(),
            Part::List(l) => l.is_live(),
            Part::Stream(x) => x.is_live(),
        }
    }

    /// Whether nothing is left, not even reset records.
    #[inline]
    pub(super) fn is_void(&self) -> bool {
        match self {
            Part::Str(f) => f.is_void(),
            Part::Hash(h) => h.is_void(),
            Part::Set(s) => !s.is_live(),
            Part::ZSet(z) => z.is_void(),
            Part::List(l) => !l.is_live(),
            Part::Stream(x) => x.is_void(),
        }
    }

    pub(super) fn max_stamp(&self) -> Option<Stamp> {
        match self {
            Part::Str(f) => f.max_stamp(),
            Part::Hash(h) => h.max_stamp(),
            Part::Set(s) => s.max_stamp(),
            Part::ZSet(z) => z.max_stamp(),
            Part::List(l) => l.max_stamp(),
            Part::Stream(x) => x.max_stamp(),
        }
    }

    pub(super) fn observe_into(&self, vv: &mut VersionVector) {
        match self {
            Part::Str(f) => f.observe_into(vv),
            Part::Hash(h) => h.observe_into(vv),
            Part::Set(s) => s.observe_into(vv),
            Part::ZSet(z) => z.observe_into(vv),
            Part::List(l) => l.observe_into(vv),
            Part::Stream(x) => x.observe_into(vv),
        }
    }

    pub(super) fn prune(&mut self, tomb: &Tomb) {
        match self {
            Part::Str(f) => f.prune(tomb),
            Part::Hash(h) => h.prune(tomb),
            Part::Set(s) => s.prune(tomb),
            Part::ZSet(z) => z.prune(tomb),
            Part::List(l) => l.prune(tomb),
            Part::Stream(x) => x.prune(tomb),
        }
    }

    pub(super) fn merge(&mut self, other: &Part, tomb: &Tomb) {
        match (self, other) {
            (Part::Str(a), Part::Str(b)) => a.merge(b, tomb),
            (Part::Hash(a), Part::Hash(b)) => a.merge(b, tomb),
            (Part::Set(a), Part::Set(b)) => a.merge(b, tomb),
            (Part::ZSet(a), Part::ZSet(b)) => a.merge(b, tomb),
            (Part::List(a), Part::List(b)) => a.merge(b, tomb),
            (Part::Stream(a), Part::Stream(b)) => a.merge(b, tomb),
            _ => unreachable!("parts are merged with parts of their own kind"),
        }
    }

    pub(super) fn gc(&mut self, stable: &VersionVector) -> bool {
        match self {
            Part::Str(f) => f.gc(stable),
            Part::Hash(h) => h.gc(stable),
            Part::ZSet(z) => z.gc(stable),
            Part::Set(_) | Part::List(_) | Part::Stream(_) => false,
        }
    }
}

impl crate::heap::HeapSize for Part {
    fn heap_bytes(&self) -> usize {
        match self {
            Part::Str(f) => f.heap_bytes(),
            Part::Hash(h) => h.heap_bytes(),
            Part::Set(s) => s.heap_bytes(),
            Part::ZSet(z) => z.heap_bytes(),
            Part::List(l) => l.heap_bytes(),
            Part::Stream(x) => x.heap_bytes(),
        }
    }
}
