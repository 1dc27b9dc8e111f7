//! Builders for the list commands: pushes at either end, LINSERT, LSET and the removals by
//! index (pops, LREM, LTRIM).

use super::observe::{begin, emptied, removal};
use crate::blob::Blob;
use crate::effect::{Addition, Effect, Loc};
use crate::error::OpError;
use crate::ids::Tag;
use crate::key::{KeyState, Kind};
use crate::list::{ListId, ListPart, Pos, pos_between};

/// Which end of a list.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

/// LPUSH, RPUSH, LPUSHX, RPUSHX (the caller checks existence for the X forms), and the
/// pushing half of LMOVE. Values are pushed one by one, so `LPUSH k a b c` reads `c b a`.
/// With the effect, the list's length once it is applied (what the push commands reply).
pub fn list_push(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    end: End,
    values: impl IntoIterator<Item = Blob>,
) -> Result<(Effect, usize), OpError> {
    let mut e = Effect::new(tag);
    let l = begin(key, now_ms, Kind::List, &mut e)?.and_then(KeyState::list);
    let me = tag.dot.server;
    let list_edge: Option<&Pos> = match end {
        End::Left => l.and_then(ListPart::first_id).map(|id| &id.pos),
        End::Right => l.and_then(ListPart::last_id).map(|id| &id.pos),
    };
    // Each element goes beyond the one pushed before it: it is added once the next
    // position is made from it, so no position is copied.
    let mut made: Option<(Pos, Blob)> = None;
    for value in values {
        let edge = made.as_ref().map(|(pos, _)| pos).or(list_edge);
        let pos = match end {
            End::Left => pos_between(None, edge, me),
            End::Right => pos_between(edge, None, me),
        };
        if let Some((pos, value)) = made.replace((pos, value)) {
            e.adds.push(Addition::ListInsert { pos, value });
        }
    }
    if let Some((pos, value)) = made {
        e.adds.push(Addition::ListInsert { pos, value });
    }
    // Every pushed element is new (its dot is fresh), so none merges with one here.
    // (`begin` adds nothing: it observes what the write replaces.)
    let pushed = e.adds.len();
    Ok((e, l.map_or(0, ListPart::len) + pushed))
}

/// LINSERT: a new element right before or after the element at `pivot` (an index the caller
/// found). `Err(NoSuchKey)` when the list does not exist.
pub fn list_insert(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    pivot: usize,
    before: bool,
    value: Blob,
) -> Result<Effect, OpError> {
    let mut e = Effect::new(tag);
    let l = begin(key, now_ms, Kind::List, &mut e)?
        .and_then(KeyState::list)
        .ok_or(OpError::NoSuchKey)?;
    let (lo, hi) = if before {
        (pivot.checked_sub(1), Some(pivot))
    } else {
        (Some(pivot), Some(pivot + 1))
    };
    let at = |i: Option<usize>| i.and_then(|i| l.get(i as i64)).map(|e| e.id.pos);
    let pos = pos_between(at(lo).as_ref(), at(hi).as_ref(), tag.dot.server);
    e.adds.push(Addition::ListInsert { pos, value });
    Ok(e)
}

/// LSET: last writer wins on the element at `index`.
pub fn list_set(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    index: i64,
    value: Blob,
) -> Result<Effect, OpError> {
    let mut e = Effect::new(tag);
    let l = begin(key, now_ms, Kind::List, &mut e)?
        .and_then(KeyState::list)
        .ok_or(OpError::NoSuchKey)?;
    let id = l.get(index).ok_or(OpError::IndexOutOfRange)?.id;
    e.adds.push(Addition::ListSet { id, value });
    Ok(e)
}

/// LREM, LTRIM, the popping half of LMOVE: removes the elements at the given indexes.
/// Concurrent removals of one element remove it once.
pub fn list_remove(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    indexes: &[usize],
) -> Result<Option<Effect>, OpError> {
    let mut e = Effect::new(tag);
    let Some(l) = begin(key, now_ms, Kind::List, &mut e)?.and_then(KeyState::list) else {
        return Ok(None);
    };
    Ok(remove_ids(key, l, ids_at(l, indexes), e).0)
}

/// LTRIM: remove every element outside indexes `keep` (within the list; an empty range
/// removes them all). Only the removed ends are walked, each from its nearer end: a capped
/// list's trim after a push costs what it removes, not the list's length.
pub fn list_trim(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    keep: std::ops::Range<usize>,
) -> Result<Option<Effect>, OpError> {
    let mut e = Effect::new(tag);
    let Some(l) = begin(key, now_ms, Kind::List, &mut e)?.and_then(KeyState::list) else {
        return Ok(None);
    };
    let n = l.len();
    let (a, b) = if keep.is_empty() {
        (n, n)
    } else {
        (keep.start.min(n), keep.end.min(n))
    };
    let ids = l.range(0, a).chain(l.range(b, n)).map(|e| e.id).collect();
    Ok(remove_ids(key, l, ids, e).0)
}

/// The ids of the elements at `indexes` (any order; those past the end left out). A few
/// are each found from the nearer end; more (LTRIM's, LREM's) in one walk over the list,
/// as each search walks into a chunk's entries.
fn ids_at(l: &ListPart, indexes: &[usize]) -> smallvec::SmallVec<[ListId; 2]> {
    if indexes.len() <= 8 {
        return indexes
            .iter()
            .filter_map(|&i| l.get(i as i64).map(|e| e.id))
            .collect();
    }
    let mut wanted = indexes.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut wanted = wanted.into_iter().peekable();
    let mut ids = smallvec::SmallVec::new();
    for (i, e) in l.iter().enumerate() {
        let Some(&next) = wanted.peek() else {
            break;
        };
        if next == i {
            ids.push(e.id);
            wanted.next();
        }
    }
    ids
}

/// What a pop took: the values in pop order, and whether they were the whole list (the key
/// is gone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Popped {
    /// Inline for one value (a pop without a count): no allocation.
    pub values: smallvec::SmallVec<[Blob; 1]>,
    pub emptied: bool,
}

/// LPOP, RPOP, and the pops of LMPOP and BLPOP: up to `count` elements from `end`, read and
/// removed in one look at the key. `None` popped when there is no list.
pub fn list_pop(
    key: Option<&KeyState>,
    now_ms: u64,
    tag: Tag,
    end: End,
    count: usize,
) -> Result<(Option<Effect>, Option<Popped>), OpError> {
    let mut e = Effect::new(tag);
    let Some(l) = begin(key, now_ms, Kind::List, &mut e)?.and_then(KeyState::list) else {
        return Ok((None, None));
    };
    let mut values = smallvec::SmallVec::new();
    let mut ids = smallvec::SmallVec::new();
    let mut take = |el: crate::list::Elem<'_>| {
        values.push(Blob::from(el.value));
        ids.push(el.id);
    };
    match end {
        End::Left => l.iter().take(count).for_each(&mut take),
        End::Right => l.iter().rev().take(count).for_each(&mut take),
    }
    let (effect, emptied) = remove_ids(key, l, ids, e);
    Ok((effect, Some(Popped { values, emptied })))
}

/// The removal of the elements `ids` of list `l` (of `key`), added to `e`: the effect, if it
/// removes any, and whether it removes them all.
fn remove_ids(
    key: Option<&KeyState>,
    l: &ListPart,
    mut ids: smallvec::SmallVec<[ListId; 2]>,
    mut e: Effect,
) -> (Option<Effect>, bool) {
    ids.sort();
    ids.dedup();
    let all = ids.len() == l.len();
    e.removes.reserve(ids.len());
    for id in ids {
        let dot = id.dot;
        e.removes.push(removal(Loc::List(id), dot));
    }
    emptied(key, all, &mut e);
    ((!e.removes.is_empty()).then_some(e), all)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many indexes are found in one walk, and they name the elements each index's own
    /// search finds: in any order, repeated, or past the end.
    #[test]
    fn ids_at_many_indexes_are_the_ones_each_search_finds() {
        let l = crate::list::appended(2000, b"v");
        let indexes: Vec<usize> = (0..3000).rev().step_by(7).chain([5, 5, 1999]).collect();
        let mut expected: Vec<ListId> = indexes
            .iter()
            .filter_map(|&i| l.get(i as i64).map(|e| e.id))
            .collect();
        expected.sort();
        expected.dedup();
        let found = ids_at(&l, &indexes);
        assert!(found.len() > 8 && found.len() < indexes.len());
        assert_eq!(found.to_vec(), expected);
        // A few, each from the nearer end.
        let few = ids_at(&l, &[1999, 0, 4000]);
        assert_eq!(few.len(), 2);
        assert_eq!(Some(&few[0]), l.last_id());
        assert_eq!(Some(&few[1]), l.first_id());
    }
}
