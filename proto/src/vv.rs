//! [`VersionVector`] to and from its protobuf message.

use crate::sync;
use gdc_crdt::{OpId, ServerId, VersionVector};

impl From<&VersionVector> for sync::VersionVector {
    fn from(vv: &VersionVector) -> Self {
        sync::VersionVector {
            entries: vv
                .iter()
                .map(|(s, o)| sync::VersionEntry {
                    server: s.0,
                    op: o.0,
                })
                .collect(),
        }
    }
}

impl From<&sync::VersionVector> for VersionVector {
    /// Entries for server-id 0 (reserved) or op 0 carry nothing and are left out; an origin
    /// listed twice keeps its larger op.
    fn from(m: &sync::VersionVector) -> Self {
        let mut vv = VersionVector::new();
        for e in &m.entries {
            if e.server != 0 && e.op != 0 {
                vv.raise(ServerId(e.server), OpId(e.op));
            }
        }
        vv
    }
}

/// A vector field of a message (absent: the empty vector).
pub fn from_field(field: Option<&sync::VersionVector>) -> VersionVector {
    field.map(VersionVector::from).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vector_survives_the_round_trip() {
        let mut vv = VersionVector::new();
        vv.raise(ServerId(7), OpId(42));
        vv.raise(ServerId(3), OpId(1));
        let m = sync::VersionVector::from(&vv);
        assert_eq!(m.entries.len(), 2);
        assert_eq!(VersionVector::from(&m), vv);
    }

    #[test]
    fn reserved_and_empty_entries_are_dropped() {
        let m = sync::VersionVector {
            entries: vec![
                sync::VersionEntry { server: 0, op: 5 },
                sync::VersionEntry { server: 2, op: 0 },
                sync::VersionEntry { server: 4, op: 9 },
                sync::VersionEntry { server: 4, op: 3 },
            ],
        };
        let vv = VersionVector::from(&m);
        assert_eq!(vv.iter().collect::<Vec<_>>(), vec![(ServerId(4), OpId(9))]);
    }
}
