//! ZRANGE and its family: members selected by rank, score or lexicographic range, to
//! read, store or remove.

use super::{bound, read, score_ranks};
use crate::cmd::{CmdResult, Ctx, int_arg, is, syntax_error};
use crate::notify::events::ZSET;
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::zset::ZSetPart;
use gdc_crdt::{Blob, OpError, ops};

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

/// The ranks `from..to` of the members between `lo` and `hi`, each end found in O(log n).
/// Members of one score are in member order; a range by member across several scores is
/// unspecified (as in Redis), and its readers keep only the members inside it.
fn lex_ranks(z: &ZSetPart, lo: &Lex, hi: &Lex) -> (usize, usize) {
    (
        z.position(|_, m| !above(m, lo)),
        z.position(|_, m| below(m, hi)),
    )
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

fn select<'z>(z: &'z ZSetPart, q: &Query) -> Vec<(&'z Blob, f64)> {
    let n = z.len();
    // The ranks the range covers, `from..to`, found in O(log n).
    let (from, to) = match &q.by {
        By::Rank(start, stop) => {
            let r = crate::cmd::index_range(n, *start, *stop);
            // REV counts ranks from the highest score.
            if q.rev {
                (n - r.end, n - r.start)
            } else {
                (r.start, r.end)
            }
        }
        By::Score(min, max) => score_ranks(z, *min, *max),
        By::Lex(lo, hi) => lex_ranks(z, lo, hi),
    };
    if from >= to {
        return Vec::new();
    }
    let (offset, count) = q.limit.unwrap_or((0, usize::MAX));
    if let By::Lex(lo, hi) = &q.by {
        let inside = |&(m, _): &(&Blob, f64)| above(m, lo) && below(m, hi);
        let items: Box<dyn Iterator<Item = (&'z Blob, f64)>> = if q.rev {
            Box::new(z.ranks(from, to).rev().filter(inside))
        } else {
            Box::new(z.ranks(from, to).filter(inside))
        };
        return items.skip(offset).take(count).collect();
    }
    // LIMIT within the ranks, counted from the end the range is read from.
    let skip = offset.min(to - from);
    let keep = count.min(to - from - skip);
    if q.rev {
        z.ranks(to - skip - keep, to - skip).rev().collect()
    } else {
        z.ranks(from + skip, from + skip + keep).collect()
    }
}

pub(super) fn reply_range<B: std::borrow::Borrow<Blob>>(
    ctx: &Ctx<'_>,
    items: Vec<(B, f64)>,
    scores: bool,
) -> Reply {
    let mut out = Vec::with_capacity(items.len() * if scores { 2 } else { 1 });
    for (m, s) in items {
        let m = Reply::bulk(Bytes::copy_from_slice(m.borrow()));
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
pub fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match parse_range(&args[2..], true) {
        Ok((q, scores)) => run_range(ctx, &args[1], &q, scores),
        Err(e) => e,
    })
}

/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (q, _) = parse_range(&args[3..], false)?;
    let items = match read(ctx, &args[2]) {
        Ok(Some(z)) => select(z, &q)
            .into_iter()
            .map(|(m, s)| (m.clone(), s))
            .collect(),
        Ok(None) => Vec::new(),
        Err(e) => return Err(e),
    };
    let n = items.len() as i64;
    let whole = (!items.is_empty()).then(|| ops::Whole::ZSet(items));
    ctx.store_whole(&args[1], whole, (ZSET, "zrangestore"))?;
    Ok(Reply::Int(n))
}

/// The older range commands: options after the bounds are WITHSCORES and LIMIT only
/// (ZRANGE's BYSCORE, BYLEX and REV are a syntax error there).
fn legacy(ctx: &mut Ctx<'_>, args: &[Bytes], kind: &str, rev: bool) -> CmdResult {
    let mut opts: Vec<Bytes> = vec![args[2].clone(), args[3].clone()];
    if kind != "BYRANK" {
        opts.push(Bytes::from(kind.to_string()));
    }
    if rev {
        opts.push(Bytes::from_static(b"REV"));
    }
    let mut limit_args = 0; // LIMIT's offset and count are numbers, never options
    for a in &args[4..] {
        if limit_args > 0 {
            limit_args -= 1;
        } else if is(a, "limit") {
            limit_args = 2;
        } else if ["byscore", "bylex", "rev"].iter().any(|k| is(a, k)) {
            return Ok(syntax_error());
        }
        opts.push(a.clone());
    }
    Ok(match parse_range(&opts, true) {
        Ok((q, scores)) => run_range(ctx, &args[1], &q, scores),
        Err(e) => e,
    })
}

pub fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    legacy(ctx, args, "BYRANK", true)
}

pub fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    legacy(ctx, args, "BYSCORE", false)
}

pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    legacy(ctx, args, "BYSCORE", true)
}

pub fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    legacy(ctx, args, "BYLEX", false)
}

pub fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    legacy(ctx, args, "BYLEX", true)
}

pub fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (lo, hi) = match (lex(&args[2]), lex(&args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return Ok(e),
    };
    Ok(match read(ctx, &args[1]) {
        Ok(z) => Reply::Int(z.map_or(0, |z| {
            let (from, to) = lex_ranks(z, &lo, &hi);
            z.ranks(from, to)
                .filter(|(m, _)| above(m, &lo) && below(m, &hi))
                .count() as i64
        })),
        Err(e) => e,
    })
}

/// ZREMRANGEBYSCORE / ZREMRANGEBYLEX (their keyspace event `event`).
fn remove_selected(ctx: &mut Ctx<'_>, key: &[u8], q: &Query, event: &'static str) -> Reply {
    let members: Vec<Blob> = match read(ctx, key) {
        Ok(Some(z)) => select(z, q).into_iter().map(|(m, _)| m.clone()).collect(),
        Ok(None) => Vec::new(),
        Err(e) => return e,
    };
    if members.is_empty() {
        return Reply::Int(0);
    }
    match ctx.write(key, |k, now, tag| ops::zrem(k, now, tag, &members)) {
        Ok(n) => {
            ctx.notify(ZSET, event, key);
            ctx.notify_if_gone(key);
            Reply::Int(n as i64)
        }
        Err(e) => e,
    }
}

pub fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match (bound(&args[2]), bound(&args[3])) {
        (Ok(a), Ok(b)) => remove_selected(
            ctx,
            &args[1],
            &Query {
                by: By::Score(a, b),
                rev: false,
                limit: None,
            },
            "zremrangebyscore",
        ),
        (Err(e), _) | (_, Err(e)) => e,
    })
}

pub fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match (lex(&args[2]), lex(&args[3])) {
        (Ok(a), Ok(b)) => remove_selected(
            ctx,
            &args[1],
            &Query {
                by: By::Lex(a, b),
                rev: false,
                limit: None,
            },
            "zremrangebylex",
        ),
        (Err(e), _) | (_, Err(e)) => e,
    })
}
