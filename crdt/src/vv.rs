//! A version vector: per server-id, the highest op id covered. Stored inline for the common
//! case of one to three origins.

use crate::ids::{Dot, OpId, ServerId};
use smallvec::SmallVec;

/// Per server-id, the highest op id covered; absent means 0. Entries are kept sorted by
/// server-id and never hold 0, so equal vectors are equal values.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct VersionVector {
    entries: SmallVec<[(ServerId, OpId); 3]>,
}

impl VersionVector {
    pub const fn new() -> Self {
        VersionVector {
            entries: SmallVec::new_const(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The op id covered for `server` (0 when none).
    pub fn get(&self, server: ServerId) -> OpId {
        match self.entries.binary_search_by_key(&server, |e| e.0) {
            Ok(i) => self.entries[i].1,
            Err(_) => OpId(0),
        }
    }

    /// The sum of its op ids: it grows whenever a vector that only grows moves.
    pub fn total(&self) -> u64 {
        self.entries.iter().map(|(_, op)| op.0).sum()
    }

    /// Whether the op of `dot` is covered.
    pub fn covers(&self, dot: Dot) -> bool {
        self.get(dot.server) >= dot.op
    }

    /// Raise the entry of `server` to at least `op`.
    pub fn raise(&mut self, server: ServerId, op: OpId) {
        if op.0 == 0 {
            return;
        }
        match self.entries.binary_search_by_key(&server, |e| e.0) {
            Ok(i) => {
                if self.entries[i].1 < op {
                    self.entries[i].1 = op;
                }
            }
            Err(i) => self.entries.insert(i, (server, op)),
        }
    }

    /// Raise to cover `dot`'s op.
    pub fn add(&mut self, dot: Dot) {
        self.raise(dot.server, dot.op);
    }

    /// Pointwise maximum.
    pub fn join(&mut self, other: &VersionVector) {
        for &(s, o) in &other.entries {
            self.raise(s, o);
        }
    }

    /// Pointwise minimum (a server missing on either side is 0).
    pub fn meet(&self, other: &VersionVector) -> VersionVector {
        let mut out = VersionVector::new();
        for &(s, o) in &self.entries {
            out.raise(s, o.min(other.get(s)));
        }
        out
    }

    /// Whether every entry of `other` is covered by `self`.
    pub fn dominates(&self, other: &VersionVector) -> bool {
        other.entries.iter().all(|&(s, o)| self.get(s) >= o)
    }

    pub fn iter(&self) -> impl Iterator<Item = (ServerId, OpId)> + '_ {
        self.entries.iter().copied()
    }
}

impl FromIterator<(ServerId, OpId)> for VersionVector {
    fn from_iter<I: IntoIterator<Item = (ServerId, OpId)>>(iter: I) -> Self {
        let mut v = VersionVector::new();
        for (s, o) in iter {
            v.raise(s, o);
        }
        v
    }
}

impl crate::heap::HeapSize for VersionVector {
    fn heap_bytes(&self) -> usize {
        crate::heap::smallvec_bytes(&self.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vv(e: &[(u32, u64)]) -> VersionVector {
        e.iter().map(|&(s, o)| (ServerId(s), OpId(o))).collect()
    }

    #[test]
    fn join_meet_dominates() {
        let a = vv(&[(1, 5), (2, 1)]);
        let b = vv(&[(2, 3), (3, 4)]);
        let mut j = a.clone();
        j.join(&b);
        assert_eq!(j, vv(&[(1, 5), (2, 3), (3, 4)]));
        assert_eq!(a.meet(&b), vv(&[(2, 1)]));
        assert!(j.dominates(&a) && j.dominates(&b) && !a.dominates(&b));
        assert!(j.covers(Dot::new(ServerId(3), OpId(4), 9)));
        assert!(!j.covers(Dot::new(ServerId(3), OpId(5), 0)));
    }

    #[test]
    fn zero_entries_are_not_stored() {
        let mut a = VersionVector::new();
        a.raise(ServerId(1), OpId(0));
        assert!(a.is_empty());
        assert_eq!(a, vv(&[(1, 0)]));
    }
}
