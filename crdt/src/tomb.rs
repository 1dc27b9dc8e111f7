//! What a key remembers about removals, so that a removed piece that arrives late (from
//! another origin's channel, or inside a full-state merge) stays removed.

use crate::ids::Dot;
use crate::vv::VersionVector;
use std::collections::BTreeMap;

/// Removal knowledge of one key.
///
/// * `cutoff`: every content piece whose op is covered is removed (DEL, SET, and other writes
///   that observed the whole key). Per origin, the vector is the largest op the remover had
///   applied to this key; since ops are applied in per-origin order, the remover had observed
///   every piece the vector covers, so this is exactly an observed-remove. TTL entries are not
///   content: only `cloud` removes them, which lets `SET ... KEEPTTL` keep the TTL.
/// * `cloud`: pieces removed one by one (SREM, HDEL, LPOP, ...), each with the dot of an op
///   that removed it.
///
/// Both stay until causally stable (see [`Tomb::gc`]).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Tomb {
    pub(crate) cutoff: VersionVector,
    /// Per origin, the largest op among the removers that raised `cutoff`.
    pub(crate) cutoff_by: VersionVector,
    /// Removed piece -> the largest (by `Dot` order) op that removed it.
    pub(crate) cloud: BTreeMap<Dot, Dot>,
}

/// No removal knowledge: what a write to a key without a tomb is applied against.
pub(crate) static NO_TOMB: Tomb = Tomb {
    cutoff: VersionVector::new(),
    cutoff_by: VersionVector::new(),
    cloud: BTreeMap::new(),
};

impl Tomb {
    pub fn is_empty(&self) -> bool {
        self.cutoff.is_empty() && self.cloud.is_empty()
    }

    /// Whether a content piece with this dot has been removed.
    pub fn kills(&self, dot: Dot) -> bool {
        self.cutoff.covers(dot) || self.cloud.contains_key(&dot)
    }

    /// Whether a TTL entry with this dot has been removed.
    pub fn kills_ttl(&self, dot: Dot) -> bool {
        self.cloud.contains_key(&dot)
    }

    /// Record that `by` removed everything covered by `cutoff`. Returns whether the cutoff grew.
    pub fn add_cutoff(&mut self, cutoff: &VersionVector, by: Dot) -> bool {
        let grew = !self.cutoff.dominates(cutoff);
        self.cutoff.join(cutoff);
        self.cutoff_by.add(by);
        grew
    }

    /// Record that `by` removed the piece `dot`.
    pub fn add_removed(&mut self, dot: Dot, by: Dot) {
        let e = self.cloud.entry(dot).or_insert(by);
        if *e < by {
            *e = by;
        }
    }

    /// Join with another tomb.
    pub fn join(&mut self, other: &Tomb) {
        self.cutoff.join(&other.cutoff);
        self.cutoff_by.join(&other.cutoff_by);
        for (&d, &by) in &other.cloud {
            self.add_removed(d, by);
        }
    }

    /// Drop what no future op or merge can need. `stable` must be causally stable: every
    /// member has applied it, and every op concurrent with it has been applied here. Then no
    /// member still holds a removed piece, and nothing concurrent with a removal is still on
    /// its way, so forgetting the removal cannot bring the piece back. Returns whether
    /// anything was forgotten.
    pub fn gc(&mut self, stable: &VersionVector) -> bool {
        let mut changed = false;
        if !self.cutoff.is_empty()
            && stable.dominates(&self.cutoff)
            && stable.dominates(&self.cutoff_by)
        {
            self.cutoff = VersionVector::new();
            self.cutoff_by = VersionVector::new();
            changed = true;
        }
        let before = self.cloud.len();
        self.cloud
            .retain(|&d, &mut by| !(stable.covers(d) && stable.covers(by)));
        changed || self.cloud.len() != before
    }
}

impl crate::heap::HeapSize for Tomb {
    fn heap_bytes(&self) -> usize {
        self.cutoff.heap_bytes() + self.cutoff_by.heap_bytes() + self.cloud.heap_bytes()
    }
}
