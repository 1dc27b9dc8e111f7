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
#[derive(Clone, Debug)]
pub struct Tomb {
    pub(crate) cutoff: VersionVector,
    /// Per origin, the largest op among the removers that raised `cutoff`.
    pub(crate) cutoff_by: VersionVector,
    /// Removed piece -> the largest (by `Dot` order) op that removed it.
    pub(crate) cloud: BTreeMap<Dot, Dot>,
    /// The stable vector `cloud` was last walked with, by its total ([`Tomb::gc`]);
    /// [`UNWALKED`] when entries may have come since that the vector already covers. No
    /// part of the state (equality, encoding).
    pub(crate) walked_at: u64,
}

/// [`Tomb::walked_at`] of a tomb whose removals must all be looked at by the next
/// collection.
const UNWALKED: u64 = u64::MAX;

impl Default for Tomb {
    fn default() -> Self {
        Tomb {
            cutoff: VersionVector::new(),
            cutoff_by: VersionVector::new(),
            cloud: BTreeMap::new(),
            walked_at: UNWALKED,
        }
    }
}

/// Equal when they hold the same removal knowledge.
impl PartialEq for Tomb {
    fn eq(&self, o: &Tomb) -> bool {
        self.cutoff == o.cutoff && self.cutoff_by == o.cutoff_by && self.cloud == o.cloud
    }
}

impl Eq for Tomb {}

/// No removal knowledge: what a write to a key without a tomb is applied against.
pub(crate) static NO_TOMB: Tomb = Tomb {
    cutoff: VersionVector::new(),
    cutoff_by: VersionVector::new(),
    cloud: BTreeMap::new(),
    walked_at: UNWALKED,
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
        // Its removals may be stable already.
        self.walked_at = UNWALKED;
    }

    /// Drop what no future op or merge can need. `stable` must be causally stable: every
    /// member has applied it, and every op concurrent with it has been applied here. Then no
    /// member still holds a removed piece, and nothing concurrent with a removal is still on
    /// its way, so forgetting the removal cannot bring the piece back. Returns whether
    /// anything was forgotten.
    ///
    /// The removals are walked only when `stable` moved since the last walk: a removal
    /// recorded since was made by an op applied since, which the unmoved vector does not
    /// cover. (Every write to a key with removals collects it: while a region is cut off
    /// and the vector stays still, each pop walked every removal recorded since the cut,
    /// so a queue's writes slowed as the cut went on.) A vector that moved back and forth
    /// to the same total only delays a collection; nothing is forgotten early.
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
        let at = stable.total();
        if self.walked_at == at {
            return changed;
        }
        self.walked_at = at;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{OpId, ServerId};

    fn dot(server: u32, op: u64) -> Dot {
        Dot::new(ServerId(server), OpId(op), 0)
    }

    fn vv(entries: &[(u32, u64)]) -> VersionVector {
        let mut v = VersionVector::new();
        for &(s, op) in entries {
            v.raise(ServerId(s), OpId(op));
        }
        v
    }

    #[test]
    fn removals_are_walked_when_the_stable_vector_moves_or_others_joined() {
        let mut t = Tomb::default();
        t.add_removed(dot(1, 1), dot(1, 5));
        t.add_removed(dot(1, 2), dot(2, 7));
        let stable = vv(&[(1, 5), (2, 3)]);
        assert!(t.gc(&stable), "the first removal's op is stable");
        assert_eq!(t.cloud.len(), 1);
        // Recorded by an op applied since: the unmoved vector does not cover it.
        t.add_removed(dot(1, 3), dot(2, 8));
        assert!(!t.gc(&stable));
        assert_eq!(t.cloud.len(), 2);
        // Joined removals may be stable already: they are looked at.
        let mut other = Tomb::default();
        other.add_removed(dot(1, 4), dot(1, 5));
        t.join(&other);
        assert!(t.gc(&stable));
        assert_eq!(t.cloud.len(), 2);
        // The vector moves: everything it covers goes.
        assert!(t.gc(&vv(&[(1, 5), (2, 8)])));
        assert!(t.is_empty());
        // Equality is the knowledge only.
        let mut fresh = Tomb::default();
        fresh.add_removed(dot(1, 9), dot(1, 9));
        let mut walked = fresh.clone();
        walked.gc(&stable);
        assert_eq!(fresh, walked);
    }
}
