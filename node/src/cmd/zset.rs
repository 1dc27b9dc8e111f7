//! Sorted-set commands.

use super::refused;
use super::{Ctx, check_type, float_arg, int_arg, is, syntax_error};
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::zset::ZSetPart;
use gdc_crdt::{Blob, Kind, OpError, ops};

fn read<'a>(ctx: &'a Ctx<'_>, key: &[u8]) -> Result<Option<&'a ZSetPart>, Reply> {
    let k = ctx.get(key);
    check_type(k, Kind::ZSet)?;
    Ok(k.and_then(|k| k.zset()))
}

/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
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
        return syntax_error();
    }
    if nx && xx {
        return Reply::err("ERR XX and NX options at the same time are not compatible");
    }
    if (gt && lt) || (nx && (gt || lt)) {
        return Reply::err("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && rest.len() > 2 {
        return Reply::err("ERR INCR option supports a single increment-element pair");
    }
    let mut items = Vec::with_capacity(rest.len() / 2);
    for sm in rest.chunks(2) {
        match float_arg(&sm[0]) {
            Ok(s) => items.push((s, Blob::from(&sm[1][..]))),
            Err(e) => return e,
        }
    }
    let key = &args[1];
    let z = match read(ctx, key) {
        Ok(z) => z,
        Err(e) => return e,
    };
    let allowed = |old: Option<f64>, new: f64| match old {
        None => !xx,
        Some(o) => !nx && (!gt || new > o) && (!lt || new < o),
    };
    if incr {
        let (by, m) = &items[0];
        let old = z.and_then(|z| z.score(m));
        if !allowed(old, old.unwrap_or(0.0) + by) {
            return Reply::Nil;
        }
        return match ctx.write(key, |k, now, tag| {
            ops::zincr_by(k, now, tag, m, *by).map(|(e, v)| (Some(e), v))
        }) {
            Ok(v) => Reply::Double(v),
            Err(e) => e,
        };
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
        if let Err(e) = ctx.write(key, |k, now, tag| {
            ops::zadd(k, now, tag, &writes).map(|(e, n)| (Some(e), n))
        }) {
            return e;
        }
    }
    Reply::Int(if ch { added + changed } else { added })
}

pub fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let by = match float_arg(&args[2]) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let m = Blob::from(&args[3][..]);
    match ctx.write(&args[1], |k, now, tag| {
        ops::zincr_by(k, now, tag, &m, by).map(|(e, v)| (Some(e), v))
    }) {
        Ok(v) => Reply::Double(v),
        Err(e) => e,
    }
}

pub fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let m: Vec<Blob> = args[2..].iter().map(|a| Blob::from(&a[..])).collect();
    match ctx.write(&args[1], |k, now, tag| ops::zrem(k, now, tag, &m)) {
        Ok(n) => Reply::Int(n as i64),
        Err(e) => e,
    }
}

pub fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match read(ctx, &args[1]) {
        Ok(z) => z
            .and_then(|z| z.score(&args[2]))
            .map_or(Reply::Nil, Reply::Double),
        Err(e) => e,
    }
}

pub fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match read(ctx, &args[1]) {
        Ok(z) => Reply::Int(z.map_or(0, |z| z.len() as i64)),
        Err(e) => e,
    }
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
pub fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let a = match super::keys::scan_args(&args[2..], false) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let z = match read(ctx, &args[1]) {
        Ok(z) => z,
        Err(e) => return e,
    };
    let items = z
        .into_iter()
        .flat_map(|z| z.iter())
        .map(|(m, s)| (m.as_slice(), s));
    let (next, batch) = crate::scan::scan(items, a.cursor, a.count);
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
    super::keys::scan_reply(next, out)
}

fn rank(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> Reply {
    let with_score = match args.get(3) {
        None => false,
        Some(a) if is(a, "withscore") => true,
        Some(_) => return syntax_error(),
    };
    let z = match read(ctx, &args[1]) {
        Ok(Some(z)) => z,
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    };
    let Some(score) = z.score(&args[2]) else {
        return Reply::Nil;
    };
    let pos = z
        .iter()
        .position(|(m, _)| m.as_slice() == &args[2][..])
        .unwrap_or(0);
    let r = if rev { z.len() - 1 - pos } else { pos } as i64;
    if with_score {
        Reply::Array(vec![Reply::Int(r), Reply::Double(score)])
    } else {
        Reply::Int(r)
    }
}

pub fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    rank(ctx, args, false)
}

pub fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
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

fn in_range(s: f64, min: (f64, bool), max: (f64, bool)) -> bool {
    (if min.1 { s > min.0 } else { s >= min.0 }) && (if max.1 { s < max.0 } else { s <= max.0 })
}

pub fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (min, max) = match (bound(&args[2]), bound(&args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    match read(ctx, &args[1]) {
        Ok(z) => Reply::Int(z.map_or(0, |z| {
            z.iter().filter(|(_, s)| in_range(*s, min, max)).count() as i64
        })),
        Err(e) => e,
    }
}

pub fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match read(ctx, &args[1]) {
        Ok(z) => Reply::Array(
            args[2..]
                .iter()
                .map(|m| z.and_then(|z| z.score(m)).map_or(Reply::Nil, Reply::Double))
                .collect(),
        ),
        Err(e) => e,
    }
}

fn pop(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> Reply {
    let count = match super::pop_count(args.get(2)) {
        Ok(c) => c.unwrap_or(1),
        Err(e) => return e,
    };
    let picked: Vec<(Blob, f64)> = match read(ctx, &args[1]) {
        Ok(Some(z)) => {
            if max {
                z.iter()
                    .rev()
                    .take(count)
                    .map(|(m, s)| (m.clone(), s))
                    .collect()
            } else {
                z.iter().take(count).map(|(m, s)| (m.clone(), s)).collect()
            }
        }
        Ok(None) => Vec::new(),
        Err(e) => return e,
    };
    if !picked.is_empty() {
        let members: Vec<Blob> = picked.iter().map(|(m, _)| m.clone()).collect();
        if let Err(e) = ctx.write(&args[1], |k, now, tag| ops::zrem(k, now, tag, &members)) {
            return e;
        }
    }
    let mut out = Vec::new();
    for (m, s) in picked {
        out.push(Reply::bulk(Bytes::copy_from_slice(&m)));
        out.push(Reply::Double(s));
    }
    Reply::Array(out)
}

pub fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    pop(ctx, args, false)
}

pub fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    pop(ctx, args, true)
}

pub fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (start, stop) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return Reply::err(OpError::NotInteger.to_string()),
    };
    let members: Vec<Blob> = match read(ctx, &args[1]) {
        Ok(Some(z)) => {
            let n = z.len() as i64;
            let a = if start < 0 { (n + start).max(0) } else { start };
            let b = if stop < 0 { n + stop } else { stop.min(n - 1) };
            if a > b || a >= n {
                Vec::new()
            } else {
                z.iter()
                    .skip(a as usize)
                    .take((b - a + 1) as usize)
                    .map(|(m, _)| m.clone())
                    .collect()
            }
        }
        Ok(None) => Vec::new(),
        Err(e) => return e,
    };
    if members.is_empty() {
        return Reply::Int(0);
    }
    match ctx.write(&args[1], |k, now, tag| ops::zrem(k, now, tag, &members)) {
        Ok(n) => Reply::Int(n as i64),
        Err(e) => e,
    }
}

/// A lexicographic bound: `-`, `+`, `[x` (inclusive), `(x` (exclusive).
#[derive(Clone, Debug)]
enum Lex {
    Min,
    Max,
    Incl(Bytes),
    Excl(Bytes),
}

fn lex(b: &Bytes) -> Result<Lex, Reply> {
    match b.first() {
        Some(b'-') if b.len() == 1 => Ok(Lex::Min),
        Some(b'+') if b.len() == 1 => Ok(Lex::Max),
        Some(b'[') => Ok(Lex::Incl(b.slice(1..))),
        Some(b'(') => Ok(Lex::Excl(b.slice(1..))),
        _ => Err(Reply::err("ERR min or max not valid string range item")),
    }
}

fn above(m: &[u8], lo: &Lex) -> bool {
    match lo {
        Lex::Min => true,
        Lex::Max => false,
        Lex::Incl(x) => m >= &x[..],
        Lex::Excl(x) => m > &x[..],
    }
}

fn below(m: &[u8], hi: &Lex) -> bool {
    match hi {
        Lex::Min => false,
        Lex::Max => true,
        Lex::Incl(x) => m <= &x[..],
        Lex::Excl(x) => m < &x[..],
    }
}

/// What a range selects by.
#[derive(Clone, Debug)]
enum By {
    Rank(i64, i64),
    Score((f64, bool), (f64, bool)),
    Lex(Lex, Lex),
}

/// A range query: the bounds are given low-high (callers swap REV's high-low forms).
struct Query {
    by: By,
    rev: bool,
    limit: Option<(usize, usize)>,
}

fn select(z: &ZSetPart, q: &Query) -> Vec<(Blob, f64)> {
    let all: Box<dyn Iterator<Item = (&Blob, f64)>> = if q.rev {
        Box::new(z.iter().rev())
    } else {
        Box::new(z.iter())
    };
    let picked: Vec<(Blob, f64)> = match &q.by {
        By::Rank(start, stop) => {
            let n = z.len() as i64;
            let a = if *start < 0 {
                (n + start).max(0)
            } else {
                *start
            };
            let b = if *stop < 0 {
                n + stop
            } else {
                (*stop).min(n - 1)
            };
            if a > b || a >= n {
                return Vec::new();
            }
            all.skip(a as usize)
                .take((b - a + 1) as usize)
                .map(|(m, s)| (m.clone(), s))
                .collect()
        }
        By::Score(min, max) => all
            .filter(|(_, s)| in_range(*s, *min, *max))
            .map(|(m, s)| (m.clone(), s))
            .collect(),
        By::Lex(lo, hi) => all
            .filter(|(m, _)| above(m, lo) && below(m, hi))
            .map(|(m, s)| (m.clone(), s))
            .collect(),
    };
    match q.limit {
        Some((offset, count)) => picked.into_iter().skip(offset).take(count).collect(),
        None => picked,
    }
}

fn reply_range(ctx: &Ctx<'_>, items: Vec<(Blob, f64)>, scores: bool) -> Reply {
    let mut out = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        let m = Reply::bulk(Bytes::copy_from_slice(&m));
        match (scores, ctx.conn.resp) {
            (false, _) => out.push(m),
            (true, 3) => out.push(Reply::Array(vec![m, Reply::Double(s)])),
            (true, _) => {
                out.push(m);
                out.push(Reply::Double(s));
            }
        }
    }
    Reply::Array(out)
}

/// Parse `start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]` (ZRANGE's
/// form; `with_scores` false for ZRANGESTORE, which refuses WITHSCORES).
fn parse_range(args: &[Bytes], allow_scores: bool) -> Result<(Query, bool), Reply> {
    let (mut byscore, mut bylex, mut rev, mut scores, mut limit) =
        (false, false, false, false, None);
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "byscore") {
            byscore = true;
        } else if is(a, "bylex") {
            bylex = true;
        } else if is(a, "rev") {
            rev = true;
        } else if is(a, "withscores") && allow_scores {
            scores = true;
        } else if is(a, "limit") && i + 2 < args.len() {
            let (o, c) = (int_arg(&args[i + 1])?, int_arg(&args[i + 2])?);
            limit = Some((
                o.max(0) as usize,
                if c < 0 { usize::MAX } else { c as usize },
            ));
            i += 2;
        } else {
            return Err(syntax_error());
        }
        i += 1;
    }
    if byscore && bylex {
        return Err(syntax_error());
    }
    if limit.is_some() && !byscore && !bylex {
        return Err(Reply::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if scores && bylex {
        return Err(Reply::err(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (lo, hi) = if rev && (byscore || bylex) {
        (&args[1], &args[0])
    } else {
        (&args[0], &args[1])
    };
    let by = if byscore {
        By::Score(bound(lo)?, bound(hi)?)
    } else if bylex {
        By::Lex(lex(lo)?, lex(hi)?)
    } else {
        match (int_arg(&args[0]), int_arg(&args[1])) {
            (Ok(a), Ok(b)) => By::Rank(a, b),
            _ => return Err(Reply::err(OpError::NotInteger.to_string())),
        }
    };
    Ok((Query { by, rev, limit }, scores))
}

fn run_range(ctx: &mut Ctx<'_>, key: &[u8], q: &Query, scores: bool) -> Reply {
    match read(ctx, key) {
        Ok(Some(z)) => reply_range(ctx, select(z, q), scores),
        Ok(None) => Reply::Array(vec![]),
        Err(e) => e,
    }
}

/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match parse_range(&args[2..], true) {
        Ok((q, scores)) => run_range(ctx, &args[1], &q, scores),
        Err(e) => e,
    }
}

/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (q, _) = match parse_range(&args[3..], false) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let items = match read(ctx, &args[2]) {
        Ok(Some(z)) => select(z, &q),
        Ok(None) => Vec::new(),
        Err(e) => return e,
    };
    let n = items.len() as i64;
    let r = if items.is_empty() {
        ctx.write(&args[1], |k, _, tag| Ok((ops::delete(k, tag), ())))
    } else {
        let whole = ops::Whole::ZSet(items);
        ctx.write(&args[1], |k, _, tag| {
            Ok((Some(ops::replace(k, tag, &whole, None)), ()))
        })
    };
    r.map_or_else(|e| e, |()| Reply::Int(n))
}

/// The older range commands: options after the bounds are WITHSCORES and LIMIT only.
fn legacy(ctx: &mut Ctx<'_>, args: &[Bytes], kind: &str, rev: bool) -> Reply {
    let mut opts: Vec<Bytes> = vec![
        args[2].clone(),
        args[3].clone(),
        Bytes::from(kind.to_string()),
    ];
    if rev {
        opts.push(Bytes::from_static(b"REV"));
    }
    for a in &args[4..] {
        if kind == "BYRANK" && !is(a, "withscores") {
            return syntax_error();
        }
        opts.push(a.clone());
    }
    if kind == "BYRANK" {
        opts.remove(2);
    }
    match parse_range(&opts, kind != "BYLEX") {
        Ok((q, scores)) => run_range(ctx, &args[1], &q, scores),
        Err(e) => e,
    }
}

pub fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    legacy(ctx, args, "BYRANK", true)
}

pub fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    legacy(ctx, args, "BYSCORE", false)
}

pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    legacy(ctx, args, "BYSCORE", true)
}

pub fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    legacy(ctx, args, "BYLEX", false)
}

pub fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    legacy(ctx, args, "BYLEX", true)
}

pub fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (lo, hi) = match (lex(&args[2]), lex(&args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    match read(ctx, &args[1]) {
        Ok(z) => Reply::Int(z.map_or(0, |z| {
            z.iter()
                .filter(|(m, _)| above(m, &lo) && below(m, &hi))
                .count() as i64
        })),
        Err(e) => e,
    }
}

fn remove_selected(ctx: &mut Ctx<'_>, key: &[u8], q: &Query) -> Reply {
    let members: Vec<Blob> = match read(ctx, key) {
        Ok(Some(z)) => select(z, q).into_iter().map(|(m, _)| m).collect(),
        Ok(None) => Vec::new(),
        Err(e) => return e,
    };
    if members.is_empty() {
        return Reply::Int(0);
    }
    match ctx.write(key, |k, now, tag| ops::zrem(k, now, tag, &members)) {
        Ok(n) => Reply::Int(n as i64),
        Err(e) => e,
    }
}

pub fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match (bound(&args[2]), bound(&args[3])) {
        (Ok(a), Ok(b)) => remove_selected(
            ctx,
            &args[1],
            &Query {
                by: By::Score(a, b),
                rev: false,
                limit: None,
            },
        ),
        (Err(e), _) | (_, Err(e)) => e,
    }
}

pub fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match (lex(&args[2]), lex(&args[3])) {
        (Ok(a), Ok(b)) => remove_selected(
            ctx,
            &args[1],
            &Query {
                by: By::Lex(a, b),
                rev: false,
                limit: None,
            },
        ),
        (Err(e), _) | (_, Err(e)) => e,
    }
}

#[derive(Copy, Clone, PartialEq)]
enum Combine {
    Union,
    Inter,
    Diff,
}

#[derive(Copy, Clone)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// The members and scores of `numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
/// [WITHSCORES]` combined; sets count as sorted sets with score 1. Returns the result (in
/// Redis order) and whether WITHSCORES was given.
fn combine(
    ctx: &Ctx<'_>,
    args: &[Bytes],
    how: Combine,
    allow_scores: bool,
) -> Result<(Vec<(Blob, f64)>, bool), Reply> {
    let n = match int_arg(&args[0]) {
        Ok(n) if n > 0 => n as usize,
        Ok(_) => {
            return Err(Reply::err(
                "ERR at least 1 input key is needed for 'zunionstore' command",
            ));
        }
        Err(e) => return Err(e),
    };
    if args.len() < 1 + n {
        return Err(syntax_error());
    }
    let keys = &args[1..1 + n];
    let (mut weights, mut agg, mut scores) = (vec![1.0; n], Aggregate::Sum, false);
    let mut i = 1 + n;
    while i < args.len() {
        if is(&args[i], "weights") && how != Combine::Diff && i + n < args.len() {
            for (j, w) in args[i + 1..=i + n].iter().enumerate() {
                weights[j] =
                    float_arg(w).map_err(|_| Reply::err("ERR weight value is not a float"))?;
            }
            i += n + 1;
        } else if is(&args[i], "aggregate") && how != Combine::Diff && i + 1 < args.len() {
            agg = match () {
                _ if is(&args[i + 1], "sum") => Aggregate::Sum,
                _ if is(&args[i + 1], "min") => Aggregate::Min,
                _ if is(&args[i + 1], "max") => Aggregate::Max,
                _ => return Err(syntax_error()),
            };
            i += 2;
        } else if is(&args[i], "withscores") && allow_scores {
            scores = true;
            i += 1;
        } else {
            return Err(syntax_error());
        }
    }
    let mut inputs: Vec<std::collections::HashMap<Blob, f64>> = Vec::with_capacity(n);
    for (j, key) in keys.iter().enumerate() {
        let k = ctx.get(key);
        let m: std::collections::HashMap<Blob, f64> = match k.and_then(|k| k.kind()) {
            None => Default::default(),
            Some(Kind::ZSet) => k
                .and_then(|k| k.zset())
                .map(|z| z.iter().map(|(m, s)| (m.clone(), s * weights[j])).collect())
                .unwrap_or_default(),
            Some(Kind::Set) => k
                .and_then(|k| k.set())
                .map(|s| s.members().map(|m| (m.clone(), weights[j])).collect())
                .unwrap_or_default(),
            Some(_) => return Err(refused(OpError::WrongType)),
        };
        inputs.push(m);
    }
    let fold = |a: f64, b: f64| match agg {
        Aggregate::Sum => {
            let s = a + b;
            if s.is_nan() { 0.0 } else { s }
        }
        Aggregate::Min => a.min(b),
        Aggregate::Max => a.max(b),
    };
    let mut it = inputs.into_iter();
    let mut acc = it.next().unwrap_or_default();
    for m in it {
        match how {
            Combine::Union => {
                for (k, v) in m {
                    let e = acc.entry(k).or_insert(f64::NAN);
                    *e = if e.is_nan() { v } else { fold(*e, v) };
                }
            }
            Combine::Inter => {
                acc.retain(|k, _| m.contains_key(k));
                for (k, v) in acc.iter_mut() {
                    *v = fold(*v, m[k]);
                }
            }
            Combine::Diff => acc.retain(|k, _| !m.contains_key(k)),
        }
    }
    let mut out: Vec<(Blob, f64)> = acc.into_iter().collect();
    out.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    Ok((out, scores))
}

fn combine_reply(ctx: &mut Ctx<'_>, args: &[Bytes], how: Combine) -> Reply {
    match combine(ctx, &args[1..], how, true) {
        Ok((items, scores)) => reply_range(ctx, items, scores),
        Err(e) => e,
    }
}

fn combine_store(ctx: &mut Ctx<'_>, args: &[Bytes], how: Combine) -> Reply {
    let items = match combine(ctx, &args[2..], how, false) {
        Ok((items, _)) => items,
        Err(e) => return e,
    };
    let n = items.len() as i64;
    let r = if items.is_empty() {
        ctx.write(&args[1], |k, _, tag| Ok((ops::delete(k, tag), ())))
    } else {
        let whole = ops::Whole::ZSet(items);
        ctx.write(&args[1], |k, _, tag| {
            Ok((Some(ops::replace(k, tag, &whole, None)), ()))
        })
    };
    r.map_or_else(|e| e, |()| Reply::Int(n))
}

pub fn zunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    combine_reply(ctx, args, Combine::Union)
}

pub fn zinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    combine_reply(ctx, args, Combine::Inter)
}

pub fn zdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    combine_reply(ctx, args, Combine::Diff)
}

pub fn zunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    combine_store(ctx, args, Combine::Union)
}

pub fn zinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    combine_store(ctx, args, Combine::Inter)
}

pub fn zdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    combine_store(ctx, args, Combine::Diff)
}

/// ZRANDMEMBER key [count [WITHSCORES]]: a negative count may repeat members.
pub fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let count = match args.get(2).map(|c| int_arg(c)).transpose() {
        Ok(c) => c,
        Err(e) => return e,
    };
    let scores = match args.get(3) {
        None => false,
        Some(a) if is(a, "withscores") => true,
        Some(_) => return syntax_error(),
    };
    let members: Vec<(Blob, f64)> = match read(ctx, &args[1]) {
        Ok(z) => z
            .into_iter()
            .flat_map(|z| z.iter())
            .map(|(m, s)| (m.clone(), s))
            .collect(),
        Err(e) => return e,
    };
    let Some(count) = count else {
        if members.is_empty() {
            return Reply::Nil;
        }
        return Reply::bulk(Bytes::copy_from_slice(
            &members[super::random_below(members.len())].0,
        ));
    };
    let picks = super::random_picks(members.len(), count);
    let items = picks.into_iter().map(|i| members[i].clone()).collect();
    reply_range(ctx, items, scores)
}
