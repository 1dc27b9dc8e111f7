//! SORT and SORT_RO: the elements of a list, set or sorted set, ordered by themselves or by
//! other keys (`BY pattern`), optionally replaced by other keys' values (`GET pattern`), and
//! for SORT optionally stored as a list (`STORE`). Redis 7.0's rules throughout, including its
//! corner cases: `BY` without a `*` means "do not sort", numbers are read as C's `strtod` reads
//! them, and equal scores fall back to comparing the elements so the order is deterministic.
//!
//! Across regions SORT reads the region's own data; `STORE` writes the destination whole, as
//! the other *STORE commands do (a concurrent write elsewhere to the destination survives, as
//! with SET), and an empty result deletes it.

use super::{CmdResult, Ctx, int_arg, is, syntax_error};
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::ops::Whole;
use gdc_crdt::{Blob, KeyState, OpError};
use std::cmp::Ordering;

pub fn sort(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run(ctx, args, false)
}

pub fn sort_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run(ctx, args, true)
}

/// The options, as Redis parses them: later ones override earlier ones, except that a `BY`
/// without `*` leaves the sort off for good.
#[derive(Default)]
struct Options<'a> {
    by: Option<&'a [u8]>,
    dont_sort: bool,
    start: i64,
    count: i64,
    gets: Vec<&'a [u8]>,
    desc: bool,
    alpha: bool,
    store: Option<&'a Bytes>,
}

fn parse(args: &[Bytes], read_only: bool) -> Result<Options<'_>, Reply> {
    let mut o = Options {
        count: -1,
        ..Options::default()
    };
    let mut i = 2;
    while i < args.len() {
        let (arg, left) = (&args[i], args.len() - i - 1);
        if is(arg, "asc") {
            o.desc = false;
        } else if is(arg, "desc") {
            o.desc = true;
        } else if is(arg, "alpha") {
            o.alpha = true;
        } else if is(arg, "limit") && left >= 2 {
            o.start = int_arg(&args[i + 1])?;
            o.count = int_arg(&args[i + 2])?;
            i += 2;
        } else if is(arg, "store") && left >= 1 && !read_only {
            o.store = Some(&args[i + 1]);
            i += 1;
        } else if is(arg, "by") && left >= 1 {
            o.by = Some(&args[i + 1]);
            if !args[i + 1].contains(&b'*') {
                o.dont_sort = true;
            }
            i += 1;
        } else if is(arg, "get") && left >= 1 {
            o.gets.push(&args[i + 1]);
            i += 1;
        } else {
            return Err(syntax_error());
        }
        i += 1;
    }
    Ok(o)
}

/// What SORT orders: the elements in the value's own order, and whether that order means
/// anything (lists and sorted sets) or not (sets).
fn elements(k: Option<&KeyState>) -> Result<(Vec<Blob>, bool), Reply> {
    let Some(k) = k else {
        return Ok((Vec::new(), true));
    };
    match Whole::of(k) {
        None => Ok((Vec::new(), true)),
        Some(Whole::List(v)) => Ok((v, true)),
        Some(Whole::ZSet(v)) => Ok((v.into_iter().map(|(m, _)| m).collect(), true)),
        Some(Whole::Set(v)) => Ok((v, false)),
        Some(Whole::Str(_) | Whole::Hash(_) | Whole::Stream(_)) => {
            Err(Reply::err(OpError::WrongType.to_string()))
        }
    }
}

fn run(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> CmdResult {
    let mut o = parse(args, read_only)?;
    let (mut items, ordered) = elements(ctx.get(&args[1]))?;
    if o.dont_sort && !ordered && (o.store.is_some() || ctx.conn.in_script) {
        // A set has no order of its own: what is stored, or what a script sees (Redis 7.0
        // keeps scripts' results deterministic so), must not depend on it.
        (o.dont_sort, o.alpha, o.by) = (false, true, None);
    }
    let (start, end) = window(items.len(), o.start, o.count);
    if o.dont_sort {
        if ordered && o.desc {
            items.reverse();
        }
    } else {
        items = ordered_by_keys(ctx, &o, items)?;
    }
    let picked = items
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .flat_map(|item| output_of(ctx, &o.gets, item));
    let Some(dst) = o.store else {
        return Ok(Reply::Array(
            picked
                .map(|v| v.map_or(Reply::Nil, |v| Reply::bulk(Bytes::from(v))))
                .collect(),
        ));
    };
    let values: Vec<Blob> = picked
        .map(|v| v.map_or_else(|| Blob::from(&b""[..]), |v| Blob::from(&v[..])))
        .collect();
    let n = values.len() as i64;
    let whole = (!values.is_empty()).then_some(Whole::List(values));
    ctx.store_whole(dst, whole, (crate::notify::events::LIST, "sortstore"))?;
    Ok(Reply::Int(n))
}

/// LIMIT's window over `len` elements, as a half-open range: a negative start is 0, a
/// negative count is everything, and a window past the end is empty.
fn window(len: usize, start: i64, count: i64) -> (usize, usize) {
    let start = start.max(0) as usize;
    if start >= len {
        return (0, 0);
    }
    let end = if count < 0 {
        len
    } else {
        start.saturating_add(count as usize).min(len)
    };
    (start, end)
}

/// What one sorted element outputs: itself, or one value per GET pattern.
fn output_of(ctx: &Ctx<'_>, gets: &[&[u8]], item: &Blob) -> Vec<Option<Vec<u8>>> {
    if gets.is_empty() {
        return vec![Some(item.to_vec())];
    }
    gets.iter().map(|p| lookup(ctx, p, item)).collect()
}

/// Sort the elements by themselves or by the values their BY pattern names.
fn ordered_by_keys(ctx: &Ctx<'_>, o: &Options<'_>, items: Vec<Blob>) -> Result<Vec<Blob>, Reply> {
    let by_of = |item: &Blob| match o.by {
        Some(pattern) => lookup(ctx, pattern, item),
        None => Some(item.to_vec()),
    };
    let mut keyed: Vec<(Blob, SortKey)> = Vec::with_capacity(items.len());
    for item in items {
        let by = by_of(&item);
        let key = if o.alpha {
            SortKey::Text(by)
        } else {
            // A missing BY value sorts as 0, as in Redis.
            match by.as_deref().map_or(Some(0.0), crate::cnum::strtod_whole) {
                Some(x) => SortKey::Number(x),
                None => {
                    return Err(Reply::err(
                        "ERR One or more scores can't be converted into double",
                    ));
                }
            }
        };
        keyed.push((item, key));
    }
    keyed.sort_by(|(a, ka), (b, kb)| {
        // Equal keys fall back to the elements themselves, so the order is deterministic.
        let cmp = ka.cmp(kb).then_with(|| a.cmp(b));
        if o.desc { cmp.reverse() } else { cmp }
    });
    Ok(keyed.into_iter().map(|(item, _)| item).collect())
}

/// What an element is sorted by.
enum SortKey {
    Number(f64),
    /// ALPHA: bytes compared as they are; a missing BY value sorts first.
    Text(Option<Vec<u8>>),
}

impl SortKey {
    fn cmp(&self, other: &SortKey) -> Ordering {
        match (self, other) {
            (SortKey::Number(a), SortKey::Number(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            _ => Ordering::Equal,
        }
    }
}

/// The value a BY or GET pattern names for `item`: `#` is the element itself; otherwise the
/// first `*` is replaced by the element, and `->field` after it reads a hash field. A pattern
/// without `*`, a missing key, or a key of the wrong type names nothing.
fn lookup(ctx: &Ctx<'_>, pattern: &[u8], item: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(item.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let (rest, field) = match after.windows(2).position(|w| w == b"->") {
        Some(at) if at + 2 < after.len() => (&after[..at], Some(&after[at + 2..])),
        _ => (after, None),
    };
    let mut name = Vec::with_capacity(star + item.len() + rest.len());
    name.extend_from_slice(&pattern[..star]);
    name.extend_from_slice(item);
    name.extend_from_slice(rest);
    let k = ctx.get(&name)?;
    match field {
        Some(f) => k.hash().and_then(|h| h.get(f)).map(|v| v.value().to_vec()),
        None => k.string_value().map(|v| v.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn limit_windows_as_redis_computes_them() {
        assert_eq!(window(5, 0, -1), (0, 5));
        assert_eq!(window(5, -10, 100), (0, 5));
        assert_eq!(window(5, 1, 2), (1, 3));
        assert_eq!(window(5, 5, 10), (0, 0));
        assert_eq!(window(3, 2, i64::MAX), (2, 3));
        assert_eq!(window(0, 0, -1), (0, 0));
        assert_eq!(window(5, 0, 0), (0, 0));
    }
}
