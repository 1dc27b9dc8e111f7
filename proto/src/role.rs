//! The role an assignment gives a node, typed. On the wire (and in the assignment a node
//! saves in its data directory) it stays the `role` string of `coordinator.proto`, so that
//! saved assignments and nodes of the previous version still read it; code on both sides
//! goes through [`AssignedRole`], never through the string.

use crate::coordinator::Assignment;
use std::fmt;

/// What an assignment makes a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignedRole {
    /// Takes its region's writes.
    Primary,
    /// Follows the primary, serves reads, refuses writes.
    Secondary,
    /// The primary during a planned switchover: its channels, no writes.
    Fenced,
    /// No longer in the topology: it keeps its data and stops its coordinated channels.
    Removed,
}

impl AssignedRole {
    /// The role as `coordinator.proto` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AssignedRole::Primary => "primary",
            AssignedRole::Secondary => "secondary",
            AssignedRole::Fenced => "fenced",
            AssignedRole::Removed => "removed",
        }
    }

    /// The role `s` spells; `None` for a role this version does not know.
    pub fn parse(s: &str) -> Option<AssignedRole> {
        [
            AssignedRole::Primary,
            AssignedRole::Secondary,
            AssignedRole::Fenced,
            AssignedRole::Removed,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

impl fmt::Display for AssignedRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Assignment {
    /// The role this assignment gives; `None` for one this version does not know (taken
    /// as no role: the node refuses writes).
    pub fn assigned_role(&self) -> Option<AssignedRole> {
        AssignedRole::parse(&self.role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_reads_back_as_itself_and_an_unknown_one_as_none() {
        for r in [
            AssignedRole::Primary,
            AssignedRole::Secondary,
            AssignedRole::Fenced,
            AssignedRole::Removed,
        ] {
            assert_eq!(AssignedRole::parse(r.as_str()), Some(r));
        }
        assert_eq!(AssignedRole::parse("leader"), None);
        let a = Assignment {
            role: "fenced".into(),
            ..Assignment::default()
        };
        assert_eq!(a.assigned_role(), Some(AssignedRole::Fenced));
    }
}
