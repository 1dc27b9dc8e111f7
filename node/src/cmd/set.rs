//! Set commands.

use super::{CmdResult, Ctx, check_type};
use crate::notify::events::SET;
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::set::SetPart;
use gdc_crdt::{Blob, Kind, ops};

fn read<'a>(ctx: &'a Ctx<'_>, key: &[u8]) -> Result<Option<&'a SetPart>, Reply> {
    let k = ctx.get(key);
    check_type(k, Kind::Set)?;
    Ok(k.and_then(|k| k.set()))
}

/// Members: one, the common case, without allocating.
fn blobs(args: &[Bytes]) -> smallvec::SmallVec<[Blob; 1]> {
    args.iter().map(|a| Blob::from(&a[..])).collect()
}

pub fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let m = blobs(&args[2..]);
    Ok(
        match ctx.write(&args[1], |k, now, tag| {
            ops::sadd(k, now, tag, &m).map(|(e, n)| (Some(e), n))
        }) {
            Ok(n) => {
                if n > 0 {
                    ctx.notify(SET, "sadd", &args[1]);
                }
                Reply::Int(n as i64)
            }
            Err(e) => e,
        },
    )
}

pub fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let m = blobs(&args[2..]);
    Ok(
        match ctx.write(&args[1], |k, now, tag| ops::srem(k, now, tag, &m)) {
            Ok(n) => {
                if n > 0 {
                    ctx.notify(SET, "srem", &args[1]);
                    ctx.notify_if_gone(&args[1]);
                }
                Reply::Int(n as i64)
            }
            Err(e) => e,
        },
    )
}

pub fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match read(ctx, &args[1]) {
        Ok(s) => Reply::Set(
            s.into_iter()
                .flat_map(|s| s.members())
                .map(|m| Reply::value(m))
                .collect(),
        ),
        Err(e) => e,
    })
}

pub fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match read(ctx, &args[1]) {
        Ok(s) => Reply::Int(s.is_some_and(|s| s.contains(&args[2])) as i64),
        Err(e) => e,
    })
}

pub fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match read(ctx, &args[1]) {
        Ok(s) => Reply::Array(
            args[2..]
                .iter()
                .map(|m| Reply::Int(s.is_some_and(|s| s.contains(m)) as i64))
                .collect(),
        ),
        Err(e) => e,
    })
}

pub fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match read(ctx, &args[1]) {
        Ok(s) => Reply::Int(s.map_or(0, |s| s.len() as i64)),
        Err(e) => e,
    })
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
pub fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let a = super::keys::scan_args(&args[2..], false)?;
    let s = read(ctx, &args[1])?;
    let len = s.map_or(0, |s| s.len());
    let (next, batch) = crate::scan::scan(len, a.cursor, a.count, |i| s?.member_at(i));
    let out = batch
        .into_iter()
        .filter(|m| {
            a.pattern
                .as_ref()
                .is_none_or(|p| crate::glob::matches(p, m))
        })
        .map(|m| Reply::value(m))
        .collect();
    Ok(super::keys::scan_reply(next, out))
}

/// Members of the sets at `keys` (a missing key is an empty set); WRONGTYPE for another type.
fn sets(ctx: &Ctx<'_>, keys: &[Bytes]) -> Result<Vec<Vec<Blob>>, Reply> {
    keys.iter()
        .map(|k| {
            Ok(read(ctx, k)?
                .map(|s| s.members().cloned().collect())
                .unwrap_or_default())
        })
        .collect()
}

#[derive(Copy, Clone)]
enum Algebra {
    Inter,
    Union,
    Diff,
}

/// The union of `sets`, or (`diff`) the first less the others, sorted.
fn union_or_diff(sets: Vec<Vec<Blob>>, diff: bool) -> Vec<Blob> {
    use std::collections::HashSet;
    let mut it = sets.into_iter();
    let Some(first) = it.next() else {
        return Vec::new();
    };
    let mut acc: HashSet<Blob> = first.into_iter().collect();
    for s in it {
        let s: HashSet<Blob> = s.into_iter().collect();
        if diff {
            acc.retain(|m| !s.contains(m));
        } else {
            acc.extend(s);
        }
    }
    let mut v: Vec<Blob> = acc.into_iter().collect();
    v.sort();
    v
}

/// The members every set at `keys` holds (a missing key is an empty set; WRONGTYPE for
/// another type), sorted, up to `limit` (0: all): the smallest set's members looked up in
/// the others, as Redis does, in time of the smallest set's size and not the others'.
fn intersection(ctx: &Ctx<'_>, keys: &[Bytes], limit: usize) -> Result<Vec<Blob>, Reply> {
    let mut sets = Vec::with_capacity(keys.len());
    for k in keys {
        sets.push(read(ctx, k)?);
    }
    let Some(mut sets) = sets.into_iter().collect::<Option<Vec<&SetPart>>>() else {
        return Ok(Vec::new());
    };
    sets.sort_by_key(|s| s.len());
    let Some((smallest, others)) = sets.split_first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for m in smallest.members() {
        if others.iter().all(|s| s.contains(m)) {
            out.push(m.clone());
            if out.len() == limit {
                break;
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The result of `op` over the sets at `keys`.
fn result(ctx: &Ctx<'_>, keys: &[Bytes], op: Algebra) -> Result<Vec<Blob>, Reply> {
    match op {
        Algebra::Inter => intersection(ctx, keys, 0),
        Algebra::Union => Ok(union_or_diff(sets(ctx, keys)?, false)),
        Algebra::Diff => Ok(union_or_diff(sets(ctx, keys)?, true)),
    }
}

fn algebra(ctx: &mut Ctx<'_>, keys: &[Bytes], op: Algebra) -> CmdResult {
    Ok(match result(ctx, keys, op) {
        Ok(members) => Reply::Set(members.iter().map(|m| Reply::value(m)).collect()),
        Err(e) => e,
    })
}

fn algebra_store(ctx: &mut Ctx<'_>, args: &[Bytes], op: Algebra) -> CmdResult {
    let result = result(ctx, &args[2..], op)?;
    let n = result.len() as i64;
    let whole = (!result.is_empty()).then(|| ops::Whole::Set(result));
    let event = match op {
        Algebra::Inter => "sinterstore",
        Algebra::Union => "sunionstore",
        Algebra::Diff => "sdiffstore",
    };
    ctx.store_whole(&args[1], whole, (SET, event))?;
    Ok(Reply::Int(n))
}

pub fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    algebra(ctx, &args[1..], Algebra::Inter)
}

pub fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    algebra(ctx, &args[1..], Algebra::Union)
}

pub fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    algebra(ctx, &args[1..], Algebra::Diff)
}

pub fn sinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    algebra_store(ctx, args, Algebra::Inter)
}

pub fn sunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    algebra_store(ctx, args, Algebra::Union)
}

pub fn sdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    algebra_store(ctx, args, Algebra::Diff)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = match super::int_arg(&args[1]) {
        Ok(n) if n > 0 => n as usize,
        _ => return Ok(Reply::err("ERR numkeys should be greater than 0")),
    };
    if args.len() < 2 + n {
        return Ok(Reply::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let mut limit = 0usize;
    let rest = &args[2 + n..];
    if !rest.is_empty() {
        if rest.len() != 2 || !super::is(&rest[0], "limit") {
            return Ok(super::syntax_error());
        }
        limit = match super::int_arg(&rest[1]) {
            Ok(l) if l >= 0 => l as usize,
            _ => return Ok(Reply::err("ERR LIMIT can't be negative")),
        };
    }
    Ok(match intersection(ctx, &args[2..2 + n], limit) {
        Ok(shared) => Reply::Int(shared.len() as i64),
        Err(e) => e,
    })
}

/// Up to `count` distinct members picked at random.
/// Up to `count` distinct members, at random (in time of `count`, not of the set's size).
fn pick(set: Option<&SetPart>, count: usize) -> Vec<Blob> {
    let Some(set) = set else {
        return Vec::new();
    };
    super::random_picks(set.len(), count as i64)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| set.member_at(i).cloned())
        .collect()
}

/// SPOP key [count]
pub fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let count = super::pop_count(args.get(2))?;
    if args.len() > 3 {
        return Ok(super::syntax_error());
    }
    let popped = pick(read(ctx, &args[1])?, count.unwrap_or(1));
    if !popped.is_empty() {
        ctx.write(&args[1], |k, now, tag| {
            ops::srem(k, now, tag, &popped).map(|(e, _)| (e, ()))
        })?;
        ctx.notify(SET, "spop", &args[1]);
        ctx.notify_if_gone(&args[1]);
    }
    let replies: Vec<Reply> = popped.iter().map(|m| Reply::value(m)).collect();
    Ok(match count {
        None => replies.into_iter().next().unwrap_or(Reply::Nil),
        Some(_) => Reply::Set(replies),
    })
}

/// SRANDMEMBER key [count]: a negative count may repeat members.
pub fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let count = args
        .get(2)
        .map(|c| super::picks_count(c, false))
        .transpose()?;
    if args.len() > 3 {
        return Ok(super::syntax_error());
    }
    let set = read(ctx, &args[1])?;
    let bulk = |m: &Blob| Reply::value(m);
    Ok(match count {
        None => pick(set, 1).first().map_or(Reply::Nil, bulk),
        Some(c) => Reply::Array(
            super::random_picks(set.map_or(0, SetPart::len), c)?
                .into_iter()
                .filter_map(|i| set?.member_at(i))
                .map(bulk)
                .collect(),
        ),
    })
}

/// SMOVE source destination member
pub fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let m = vec![Blob::from(&args[3][..])];
    // Redis looks at the destination's type only once the source exists.
    let present = match read(ctx, &args[1]) {
        Ok(None) => return Ok(Reply::Int(0)),
        Ok(s) => s.is_some_and(|s| s.contains(&args[3])),
        Err(e) => return Err(e),
    };
    let in_destination = read(ctx, &args[2])?.is_some_and(|s| s.contains(&args[3]));
    // Moving a member onto its own set changes nothing (no write: the key keeps its TTL).
    if !present || args[1] == args[2] {
        return Ok(Reply::Int(i64::from(present)));
    }
    ctx.write(&args[1], |k, now, tag| {
        ops::srem(k, now, tag, &m).map(|(e, _)| (e, ()))
    })?;
    // Redis's order: the source's events before the destination is made.
    ctx.notify(SET, "srem", &args[1]);
    ctx.notify_if_gone(&args[1]);
    // Already in the destination: as in Redis, only the source changes (a WATCH of the
    // destination stays clean).
    if !in_destination {
        ctx.write(&args[2], |k, now, tag| {
            ops::sadd(k, now, tag, &m).map(|(e, _)| (Some(e), ()))
        })?;
        ctx.notify(SET, "sadd", &args[2]);
    }
    Ok(Reply::Int(1))
}
