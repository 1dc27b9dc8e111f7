//! The counter entry an increment adds (INCRBY, HINCRBY, ZINCRBY and their float forms):
//! it continues the lifetime of the origin's live entry in the field, or starts a new one.

use crate::effect::{Addition, FieldLoc};
use crate::field::{CounterEntry, Num};
use crate::ids::Tag;

/// The origin's next counter entry for a field: continues the lifetime of `own`, the
/// origin's live entry there, or starts a new one.
pub(super) fn next_incr(own: Option<&CounterEntry>, tag: Tag, loc: FieldLoc, by: Num) -> Addition {
    match own {
        Some(own) => Addition::Incr {
            loc,
            start: own.start,
            total: own.total + by,
        },
        None => Addition::Incr {
            loc,
            start: tag.dot.op,
            total: by,
        },
    }
}
