//! Names repeated in one command: Redis applies them in order, so a builder keeps each name
//! once (the last value for name-value pairs).

use crate::blob::Blob;
use std::collections::{HashMap, HashSet};

/// Keep the last occurrence of each name, in first-seen order (Redis applies repeated names
/// in order, so the last value wins).
pub(super) fn last_wins<T>(items: &[(Blob, T)]) -> Vec<&(Blob, T)> {
    let mut slot: HashMap<&[u8], usize> = HashMap::with_capacity(items.len());
    let mut out: Vec<&(Blob, T)> = Vec::with_capacity(items.len());
    for it in items {
        match slot.get(it.0.as_slice()) {
            Some(&i) => out[i] = it,
            None => {
                slot.insert(&it.0, out.len());
                out.push(it);
            }
        }
    }
    out
}

/// Each name once, in first-seen order.
pub(super) fn dedup(items: &[Blob]) -> Vec<&Blob> {
    let mut seen: HashSet<&[u8]> = HashSet::with_capacity(items.len());
    items.iter().filter(|m| seen.insert(m.as_slice())).collect()
}
