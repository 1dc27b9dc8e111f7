//! Conflicts: the times a conflict rule of docs/semantics.md decided what a key holds,
//! because an op from another region met content it had not observed. They are counted
//! where that op is applied (see `key/conflicts.rs` for how each is told apart from a write
//! that simply follows another), so that operators can see how often the rules decide
//! instead of guessing. Counting never changes what a merge does.

/// One conflict rule where concurrency decides the outcome: a data type and its rule.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Conflict {
    /// Concurrent string writes: the larger (HLC, server-id) is read, the other is not.
    StringLww,
    /// A SET, DEL, HSET or HDEL reset a counter while another region incremented it: the
    /// increments it had not seen still count.
    CounterResetKeptIncrements,
    /// A delete removed only what it had seen: a concurrent write kept the key.
    KeyDeleteKeptWrite,
    /// Concurrent writes of different types: the key reads as the later one's type, the
    /// other's content is hidden.
    KeyTypeClash,
    /// Concurrent expiries: the later expiry time is the one that holds.
    TtlLaterExpiryWins,
    /// A PERSIST concurrent with an expiry: the key keeps no expiry.
    TtlPersistWins,
    /// A hash field written concurrently with its HDEL stays.
    HashAddWins,
    /// Concurrent writes of one hash field: the larger (HLC, server-id) is read.
    HashFieldLww,
    /// A set member added concurrently with its removal stays.
    SetAddWins,
    /// A sorted-set member added concurrently with its removal stays.
    ZSetAddWins,
    /// Concurrent ZADDs of one member: the larger (HLC, server-id) score is read.
    ZSetScoreLww,
    /// Concurrent inserts at one place in a list: all kept, in the one order every region
    /// agrees on.
    ListInsertsOrdered,
    /// Concurrent pops (or LREM, LTRIM) of one list element: removed once.
    ListRemovedOnce,
    /// Concurrent LSETs of one list element: the larger (HLC, server-id) is read.
    ListSetLww,
    /// Concurrent writes of HyperLogLog strings: the key reads as their union.
    HllUnion,
    /// A bit write (SETBIT, BITFIELD) and a write of the whole string made concurrently:
    /// the bits apply over the whole value.
    BitsOverWholeWrite,
}

impl Conflict {
    /// How many there are: the size of a table indexed by [`Conflict::index`].
    pub const COUNT: usize = 16;

    /// Every conflict, in the order INFO and `/metrics` list them.
    pub const ALL: [Conflict; Conflict::COUNT] = [
        Conflict::StringLww,
        Conflict::CounterResetKeptIncrements,
        Conflict::KeyDeleteKeptWrite,
        Conflict::KeyTypeClash,
        Conflict::TtlLaterExpiryWins,
        Conflict::TtlPersistWins,
        Conflict::HashAddWins,
        Conflict::HashFieldLww,
        Conflict::SetAddWins,
        Conflict::ZSetAddWins,
        Conflict::ZSetScoreLww,
        Conflict::ListInsertsOrdered,
        Conflict::ListRemovedOnce,
        Conflict::ListSetLww,
        Conflict::HllUnion,
        Conflict::BitsOverWholeWrite,
    ];

    pub const fn index(self) -> usize {
        self as usize
    }

    /// The data type the rule belongs to (`/metrics` label `type`).
    pub const fn data_type(self) -> &'static str {
        match self {
            Conflict::StringLww => "string",
            Conflict::CounterResetKeptIncrements => "counter",
            Conflict::KeyDeleteKeptWrite | Conflict::KeyTypeClash => "key",
            Conflict::TtlLaterExpiryWins | Conflict::TtlPersistWins => "ttl",
            Conflict::HashAddWins | Conflict::HashFieldLww => "hash",
            Conflict::SetAddWins => "set",
            Conflict::ZSetAddWins | Conflict::ZSetScoreLww => "zset",
            Conflict::ListInsertsOrdered | Conflict::ListRemovedOnce | Conflict::ListSetLww => {
                "list"
            }
            Conflict::HllUnion => "hyperloglog",
            Conflict::BitsOverWholeWrite => "bitmap",
        }
    }

    /// The rule (`/metrics` label `rule`).
    pub const fn rule(self) -> &'static str {
        match self {
            Conflict::StringLww => "lww",
            Conflict::CounterResetKeptIncrements => "reset_kept_increments",
            Conflict::KeyDeleteKeptWrite => "delete_kept_write",
            Conflict::KeyTypeClash => "type_clash",
            Conflict::TtlLaterExpiryWins => "later_expiry_wins",
            Conflict::TtlPersistWins => "persist_wins",
            Conflict::HashAddWins | Conflict::SetAddWins | Conflict::ZSetAddWins => "add_wins",
            Conflict::HashFieldLww => "field_lww",
            Conflict::ZSetScoreLww => "score_lww",
            Conflict::ListInsertsOrdered => "inserts_ordered",
            Conflict::ListRemovedOnce => "removed_once",
            Conflict::ListSetLww => "lset_lww",
            Conflict::HllUnion => "union",
            Conflict::BitsOverWholeWrite => "bits_over_whole_write",
        }
    }
}

/// The conflicts one op resolved, each at most once: an op that re-adds a hundred members a
/// concurrent SREM removed counts one `set/add_wins`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Conflicts(u16);

const _: () = assert!(Conflict::COUNT <= u16::BITS as usize);

impl Conflicts {
    pub const NONE: Conflicts = Conflicts(0);

    pub fn add(&mut self, c: Conflict) {
        self.0 |= 1 << c.index();
    }

    pub fn join(&mut self, other: Conflicts) {
        self.0 |= other.0;
    }

    pub fn contains(self, c: Conflict) -> bool {
        self.0 & (1 << c.index()) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Conflict> {
        Conflict::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

impl From<Conflict> for Conflicts {
    fn from(c: Conflict) -> Conflicts {
        let mut s = Conflicts::NONE;
        s.add(c);
        s
    }
}

/// Per conflict, how many ops resolved one: a fixed table, so counting costs an add.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConflictCounts([u64; Conflict::COUNT]);

impl ConflictCounts {
    pub fn record(&mut self, found: Conflicts) {
        for c in found.iter() {
            self.0[c.index()] += 1;
        }
    }

    pub fn get(&self, c: Conflict) -> u64 {
        self.0[c.index()]
    }

    /// Every conflict with its count, in [`Conflict::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (Conflict, u64)> + '_ {
        Conflict::ALL.into_iter().map(|c| (c, self.get(c)))
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_conflict_has_its_own_index_and_name() {
        for (i, c) in Conflict::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), i);
        }
        let mut names: Vec<String> = Conflict::ALL
            .iter()
            .map(|c| format!("{}_{}", c.data_type(), c.rule()))
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Conflict::COUNT);
    }

    #[test]
    fn an_op_counts_each_conflict_once() {
        let mut found = Conflicts::NONE;
        found.add(Conflict::SetAddWins);
        found.add(Conflict::SetAddWins);
        found.join(Conflict::KeyTypeClash.into());
        let mut counts = ConflictCounts::default();
        counts.record(found);
        assert_eq!(counts.get(Conflict::SetAddWins), 1);
        assert_eq!(counts.get(Conflict::KeyTypeClash), 1);
        assert_eq!(counts.total(), 2);
    }
}
