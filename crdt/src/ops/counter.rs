//! The counter entry an increment adds (INCRBY, HINCRBY, ZINCRBY and their float forms):
//! it continues the lifetime of the origin's live entry in the field, or starts a new one.

use crate::effect::{Addition, FieldLoc};
use crate::field::{Field, Num};
use crate::ids::Tag;

/// The origin's next counter entry for a field: continues its live entry's lifetime, or
/// starts a new one.
pub(super) fn next_incr(
    f: Option<&Field<impl Clone + PartialEq>>,
    tag: Tag,
    loc: FieldLoc,
    by: Num,
) -> Addition {
    match f.and_then(|f| f.own_entry(tag.dot.server)) {
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
