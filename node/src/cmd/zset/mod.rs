//! Sorted-set commands.

mod combine;
mod range;

pub use combine::{zdiff, zdiffstore, zinter, zintercard, zinterstore, zunion, zunionstore};
pub use range::{
    zlexcount, zrange, zrangebylex, zrangebyscore, zrangestore, zremrangebylex, zremrangebyscore,
    zrevrange, zrevrangebylex, zrevrangebyscore,
};

use super::{CmdResult, Ctx, check_type, float_arg, int_arg, is, syntax_error};
use crate::notify::events::ZSET;
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::zset::ZSetPart;
use gdc_crdt::{Blob, Kind, OpError, ops};
use range::reply_range;

/// The sorted set at `key` (a geospatial index too).
pub(super) fn read<'a>(ctx: &'a Ctx<'_>, key: &[u8]) -> Result<Option<&'a ZSetPart>, Reply> {
    let k = ctx.get(key);
    check_type(k, Kind::ZSet)?;
    Ok(k.and_then(|k| k.zset()))
}

/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, false);
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        match () {
            _ if is(a, "nx") => nx = true,
            _ if is(a, "xx") => xx = true,
            _ if is(a, "gt") => gt = true,
            _ if is(a, "lt") => lt = true,
            _ if is(a, "ch") => ch = true,
            _ if is(a, "incr") => incr = true,
            _ => break,
        }
        i += 1;
    }
    let rest = &args[i..];
    if rest.is_empty() || rest.len() % 2 == 1 {
        return Ok(syntax_error());
    }
    if nx && xx {
        return Ok(Reply::err(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (gt && lt) || (nx && (gt || lt)) {
        return Ok(Reply::err(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if incr && rest.len() > 2 {
        return Ok(Reply::err(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut items = Vec::with_capacity(rest.len() / 2);
    for sm in rest.chunks(2) {
        match float_arg(&sm[0]) {
            Ok(s) => items.push((s, Blob::from(&sm[1][..]))),
            Err(e) => return Err(e),
        }
    }
    let key = &args[1];
    let z = read(ctx, key)?;
    let allowed = |old: Option<f64>, new: f64| match old {
        None => !xx,
        Some(o) => !nx && (!gt || new > o) && (!lt || new < o),
    };
    if incr {
        let (by, m) = &items[0];
        let old = z.and_then(|z| z.score(m));
        if !allowed(old, old.unwrap_or(0.0) + by) {
            return Ok(Reply::Nil);
        }
        return Ok(
            match ctx.write(key, |k, now, tag| {
                ops::zincr_by(k, now, tag, m, *by).map(|(e, v)| (Some(e), v))
            }) {
                Ok(v) => {
                    ctx.notify(ZSET, "zincr", key);
                    Reply::Double(v)
                }
                Err(e) => e,
            },
        );
    }
    let mut writes: Vec<(Blob, f64)> = Vec::new();
    let (mut added, mut changed) = (0, 0);
    for (s, m) in items {
        let old = z
            .and_then(|z| z.score(&m))
            .or_else(|| writes.iter().rev().find(|w| w.0 == m).map(|w| w.1));
        if !allowed(old, s) {
            continue;
        }
        match old {
            None => added += 1,
            Some(o) if o != s => changed += 1,
            Some(_) => continue,
        }
        writes.push((m, s));
    }
    if !writes.is_empty() {
        ctx.write(key, |k, now, tag| {
            ops::zadd(k, now, tag, &writes).map(|(e, n)| (Some(e), n))
        })?;
        ctx.notify(ZSET, "zadd", key);
    }
    Ok(Reply::Int(if ch { added + changed } else { added }))
}

pub fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let by = float_arg(&args[2])?;
    let m = Blob::from(&args[3][..]);
    Ok(
        match ctx.write(&args[1], |k, now, tag| {
            ops::zincr_by(k, now, tag, &m, by).map(|(e, v)| (Some(e), v))
        }) {
            Ok(v) => {
                ctx.notify(ZSET, "zincr", &args[1]);
                Reply::Double(v)
            }
            Err(e) => e,
        },
    )
}

pub fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let m: Vec<Blob> = args[2..].iter().map(|a| Blob::from(&a[..])).collect();
    Ok(
        match ctx.write(&args[1], |k, now, tag| ops::zrem(k, now, tag, &m)) {
            Ok(n) => {
                if n > 0 {
                    ctx.notify(ZSET, "zrem", &args[1]);
                    ctx.notify_if_gone(&args[1]);
                }
                Reply::Int(n as i64)
            }
            Err(e) => e,
        },
    )
}

pub fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match read(ctx, &args[1]) {
        Ok(z) => z
            .and_then(|z| z.score(&args[2]))
            .map_or(Reply::Nil, Reply::Double),
        Err(e) => e,
    })
}

pub fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match read(ctx, &args[1]) {
        Ok(z) => Reply::Int(z.map_or(0, |z| z.len() as i64)),
        Err(e) => e,
    })
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
pub fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let a = super::keys::scan_args(&args[2..], false)?;
    let z = read(ctx, &args[1])?;
    let held = z.map_or(0, |z| z.held());
    let (next, batch) = crate::scan::scan(held, a.cursor, a.count, |i| z?.member_at(i));
    let mut out = Vec::new();
    for (m, s) in batch {
        if a.pattern
            .as_ref()
            .is_none_or(|p| crate::glob::matches(p, m))
        {
            out.push(Reply::bulk(Bytes::copy_from_slice(m)));
            out.push(Reply::bulk(crate::reply::format_double(s)));
        }
    }
    Ok(super::keys::scan_reply(next, out))
}

fn rank(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult {
    let with_score = match args.get(3) {
        None => false,
        Some(a) if is(a, "withscore") => true,
        Some(_) => return Ok(syntax_error()),
    };
    let Some(z) = read(ctx, &args[1])? else {
        return Ok(Reply::Nil);
    };
    let Some((pos, score)) = z.rank(&args[2]) else {
        return Ok(Reply::Nil);
    };
    let r = if rev { z.len() - 1 - pos } else { pos } as i64;
    Ok(if with_score {
        Reply::Array(vec![Reply::Int(r), Reply::Double(score)])
    } else {
        Reply::Int(r)
    })
}

pub fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rank(ctx, args, false)
}

pub fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rank(ctx, args, true)
}

/// A score bound: `1.5`, `(1.5` (exclusive), `-inf`, `+inf`.
fn bound(b: &[u8]) -> Result<(f64, bool), Reply> {
    let (b, exclusive) = match b.strip_prefix(b"(") {
        Some(rest) => (rest, true),
        None => (b, false),
    };
    float_arg(b)
        .map(|v| (v, exclusive))
        .map_err(|_| Reply::err("ERR min or max is not a float"))
}

/// The ranks `from..to` of the members whose scores lie between `min` and `max` (as
/// [`bound`] reads them), each end found in O(log n).
fn score_ranks(z: &ZSetPart, min: (f64, bool), max: (f64, bool)) -> (usize, usize) {
    let under_min = |s: f64| if min.1 { s <= min.0 } else { s < min.0 };
    let within_max = |s: f64| if max.1 { s < max.0 } else { s <= max.0 };
    (
        z.position(|s, _| under_min(s)),
        z.position(|s, _| within_max(s)),
    )
}

pub fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (min, max) = match (bound(&args[2]), bound(&args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return Ok(e),
    };
    Ok(match read(ctx, &args[1]) {
        Ok(z) => Reply::Int(z.map_or(0, |z| {
            let (from, to) = score_ranks(z, min, max);
            to.saturating_sub(from) as i64
        })),
        Err(e) => e,
    })
}

pub fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match read(ctx, &args[1]) {
        Ok(z) => Reply::Array(
            args[2..]
                .iter()
                .map(|m| z.and_then(|z| z.score(m)).map_or(Reply::Nil, Reply::Double))
                .collect(),
        ),
        Err(e) => e,
    })
}

fn pop(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> CmdResult {
    let count = super::pop_count(args.get(2))?;
    let picked = pop_from(ctx, &args[1], max, count.unwrap_or(1))?;
    let resp3 = ctx.conn.resp == 3;
    let mut out = Vec::new();
    for (m, s) in picked {
        let (m, s) = (Reply::bulk(Bytes::copy_from_slice(&m)), Reply::Double(s));
        // RESP3 with a count: each member with its score, as a pair.
        if count.is_some() && resp3 {
            out.push(Reply::Array(vec![m, s]));
        } else {
            out.extend([m, s]);
        }
    }
    Ok(Reply::Array(out))
}

/// Remove and return up to `count` members of `key` with the lowest (or, `max`, highest)
/// scores, in that order.
fn pop_from(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    max: bool,
    count: usize,
) -> Result<Vec<(Blob, f64)>, Reply> {
    let picked: Vec<(Blob, f64)> = match read(ctx, key)? {
        Some(z) if max => z
            .iter()
            .rev()
            .take(count)
            .map(|(m, s)| (m.clone(), s))
            .collect(),
        Some(z) => z.iter().take(count).map(|(m, s)| (m.clone(), s)).collect(),
        None => Vec::new(),
    };
    if !picked.is_empty() {
        let members: Vec<Blob> = picked.iter().map(|(m, _)| m.clone()).collect();
        ctx.write(key, |k, now, tag| ops::zrem(k, now, tag, &members))?;
        ctx.notify(ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
        ctx.notify_if_gone(key);
    }
    Ok(picked)
}

/// BZPOPMIN / BZPOPMAX key [key ...] timeout: `[key, member, score]` from the first sorted
/// set with members, or wait for one.
fn bpop(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> CmdResult {
    let until = super::deadline(ctx, &args[args.len() - 1])?;
    for key in &args[1..args.len() - 1] {
        if super::waited_on(ctx, read(ctx, key))?.is_none() {
            continue;
        }
        if let Some((m, s)) = pop_from(ctx, key, max, 1)?.pop() {
            return Ok(Reply::Array(vec![
                Reply::Bulk(key.clone()),
                Reply::bulk(Bytes::copy_from_slice(&m)),
                Reply::Double(s),
            ]));
        }
    }
    Ok(super::block(ctx, until, Reply::NilArray))
}

pub fn bzpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bpop(ctx, args, false)
}

pub fn bzpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bpop(ctx, args, true)
}

/// MIN or MAX: whether ZMPOP pops the highest scores.
fn max_arg(a: &[u8]) -> Option<bool> {
    if is(a, "min") {
        Some(false)
    } else if is(a, "max") {
        Some(true)
    } else {
        None
    }
}

/// Pop from the first sorted set of `m.keys` with members: `[key, [[member, score], ...]]`.
fn mpop(ctx: &mut Ctx<'_>, m: &super::Mpop<'_, bool>) -> Result<Option<Reply>, Reply> {
    for key in m.keys {
        if super::waited_on(ctx, read(ctx, key))?.is_none() {
            continue;
        }
        let pairs = pop_from(ctx, key, m.from, m.count)?
            .into_iter()
            .map(|(member, s)| {
                Reply::Array(vec![
                    Reply::bulk(Bytes::copy_from_slice(&member)),
                    Reply::Double(s),
                ])
            })
            .collect();
        return Ok(Some(Reply::Array(vec![
            Reply::Bulk(key.clone()),
            Reply::Array(pairs),
        ])));
    }
    Ok(None)
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
pub fn zmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let m = super::Mpop::parse(&args[1..], max_arg)?;
    Ok(mpop(ctx, &m)?.unwrap_or(Reply::NilArray))
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub fn bzmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let until = super::deadline(ctx, &args[1])?;
    let m = super::Mpop::parse(&args[2..], max_arg)?;
    Ok(match mpop(ctx, &m)? {
        Some(reply) => reply,
        None => super::block(ctx, until, Reply::NilArray),
    })
}

pub fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, false)
}

pub fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, true)
}

pub fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (start, stop) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return Ok(Reply::err(OpError::NotInteger.to_string())),
    };
    let members: Vec<Blob> = match read(ctx, &args[1]) {
        Ok(Some(z)) => {
            let r = super::index_range(z.len(), start, stop);
            z.ranks(r.start, r.end).map(|(m, _)| m.clone()).collect()
        }
        Ok(None) => Vec::new(),
        Err(e) => return Err(e),
    };
    if members.is_empty() {
        return Ok(Reply::Int(0));
    }
    Ok(
        match ctx.write(&args[1], |k, now, tag| ops::zrem(k, now, tag, &members)) {
            Ok(n) => {
                ctx.notify(ZSET, "zremrangebyrank", &args[1]);
                ctx.notify_if_gone(&args[1]);
                Reply::Int(n as i64)
            }
            Err(e) => e,
        },
    )
}

/// ZRANDMEMBER key [count [WITHSCORES]]: a negative count may repeat members.
pub fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scores = match args.get(3) {
        None => false,
        Some(a) if is(a, "withscores") => true,
        Some(_) => return Ok(syntax_error()),
    };
    let count = args
        .get(2)
        .map(|c| super::picks_count(c, scores))
        .transpose()?;
    let z = read(ctx, &args[1])?;
    let n = z.map_or(0, ZSetPart::len);
    // A pick is a rank: found in O(log n), the set is not listed.
    let at = |i: usize| z.and_then(|z| z.ranks(i, i + 1).next());
    let Some(count) = count else {
        return Ok(match at(super::random_below(n.max(1))) {
            Some((m, _)) if n > 0 => Reply::bulk(Bytes::copy_from_slice(m)),
            _ => Reply::Nil,
        });
    };
    let picks = super::random_picks(n, count)?;
    let items = picks.into_iter().filter_map(at).collect();
    Ok(reply_range(ctx, items, scores))
}
