//! ZUNION, ZINTER, ZDIFF and their STORE forms.

use super::range::reply_range;
use crate::cmd::{CmdResult, Ctx, float_arg, int_arg, is, refused, syntax_error};
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::set::SetPart;
use gdc_crdt::zset::ZSetPart;
use gdc_crdt::{Blob, Kind, OpError, ops};

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
/// Redis order) and whether WITHSCORES was given. An intersection stops at `limit` members
/// (0: none).
fn combine(
    ctx: &Ctx<'_>,
    name: &str,
    args: &[Bytes],
    how: Combine,
    allow_scores: bool,
    limit: usize,
) -> Result<(Vec<(Blob, f64)>, bool), Reply> {
    let n = numkeys(name, &args[0])?;
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
    let mut sources = Vec::with_capacity(n);
    for key in keys {
        let k = ctx.get(key);
        sources.push(match k.and_then(|k| k.kind()) {
            None => Source::Empty,
            Some(Kind::ZSet) => k.and_then(|k| k.zset()).map_or(Source::Empty, Source::ZSet),
            Some(Kind::Set) => k.and_then(|k| k.set()).map_or(Source::Empty, Source::Set),
            Some(_) => return Err(refused(OpError::WrongType)),
        });
    }
    let fold = |a: f64, b: f64| match agg {
        Aggregate::Sum => {
            let s = a + b;
            if s.is_nan() { 0.0 } else { s }
        }
        Aggregate::Min => a.min(b),
        Aggregate::Max => a.max(b),
    };
    if how == Combine::Inter {
        let mut out = intersect(&sources, &weights, fold, limit);
        out.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        return Ok((out, scores));
    }
    let mut inputs = sources.iter().zip(&weights).map(|(source, &w)| {
        source
            .each()
            .map(|(m, s)| (m.clone(), weighted(s, w)))
            .collect::<std::collections::HashMap<Blob, f64>>()
    });
    let mut acc = inputs.next().unwrap_or_default();
    for m in inputs {
        if how == Combine::Diff {
            acc.retain(|k, _| !m.contains_key(k));
            continue;
        }
        for (k, v) in m {
            let e = acc.entry(k).or_insert(f64::NAN);
            *e = if e.is_nan() { v } else { fold(*e, v) };
        }
    }
    let mut out: Vec<(Blob, f64)> = acc.into_iter().collect();
    out.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    Ok((out, scores))
}

/// An input of these commands: a sorted set, or a set whose members score 1.
#[derive(Clone, Copy)]
enum Source<'a> {
    Empty,
    ZSet(&'a ZSetPart),
    Set(&'a SetPart),
}

impl<'a> Source<'a> {
    fn len(self) -> usize {
        match self {
            Source::Empty => 0,
            Source::ZSet(z) => z.len(),
            Source::Set(s) => s.len(),
        }
    }

    /// A member's score, unweighted.
    fn score(self, m: &[u8]) -> Option<f64> {
        match self {
            Source::Empty => None,
            Source::ZSet(z) => z.score(m),
            Source::Set(s) => s.contains(m).then_some(1.0),
        }
    }

    /// Every member with its score, unweighted.
    fn each(self) -> Box<dyn Iterator<Item = (&'a Blob, f64)> + 'a> {
        match self {
            Source::Empty => Box::new(std::iter::empty()),
            Source::ZSet(z) => Box::new(z.iter()),
            Source::Set(s) => Box::new(s.members().map(|m| (m, 1.0))),
        }
    }
}

/// The members every source holds, with their weighted scores folded, up to `limit` (0:
/// all): the smallest source's members looked up in the others, as Redis does (its time is
/// the smallest's size times the sources), folded in the order of the sources' sizes, as
/// Redis folds them.
fn intersect(
    sources: &[Source<'_>],
    weights: &[f64],
    fold: impl Fn(f64, f64) -> f64,
    limit: usize,
) -> Vec<(Blob, f64)> {
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by_key(|&j| sources[j].len());
    let Some((&first, rest)) = order.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    'members: for (m, s) in sources[first].each() {
        let mut score = weighted(s, weights[first]);
        for &j in rest {
            let Some(s) = sources[j].score(m) else {
                continue 'members;
            };
            score = fold(score, weighted(s, weights[j]));
        }
        out.push((m.clone(), score));
        if out.len() == limit {
            break;
        }
    }
    out
}

/// A score times its key's weight; 0 where that is not a number (an infinite score with
/// weight 0), as Redis has it.
fn weighted(score: f64, weight: f64) -> f64 {
    let w = score * weight;
    if w.is_nan() { 0.0 } else { w }
}

/// `numkeys` of these commands: at least 1.
fn numkeys(name: &str, arg: &[u8]) -> Result<usize, Reply> {
    match int_arg(arg)? {
        n if n > 0 => Ok(n as usize),
        _ => Err(Reply::err(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ))),
    }
}

/// The command's name as Redis's errors spell it.
fn name(args: &[Bytes]) -> String {
    String::from_utf8_lossy(&args[0]).to_ascii_lowercase()
}

fn combine_reply(ctx: &mut Ctx<'_>, args: &[Bytes], how: Combine) -> CmdResult {
    Ok(match combine(ctx, &name(args), &args[1..], how, true, 0) {
        Ok((items, scores)) => reply_range(ctx, items, scores),
        Err(e) => e,
    })
}

fn combine_store(ctx: &mut Ctx<'_>, args: &[Bytes], how: Combine) -> CmdResult {
    let items = match combine(ctx, &name(args), &args[2..], how, false, 0) {
        Ok((items, _)) => items,
        Err(e) => return Err(e),
    };
    let n = items.len() as i64;
    let whole = (!items.is_empty()).then(|| ops::Whole::ZSet(items));
    let event = match how {
        Combine::Union => "zunionstore",
        Combine::Inter => "zinterstore",
        Combine::Diff => "zdiffstore",
    };
    ctx.store_whole(&args[1], whole, (crate::notify::events::ZSET, event))?;
    Ok(Reply::Int(n))
}

pub fn zunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_reply(ctx, args, Combine::Union)
}

pub fn zinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_reply(ctx, args, Combine::Inter)
}

pub fn zdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_reply(ctx, args, Combine::Diff)
}

pub fn zunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_store(ctx, args, Combine::Union)
}

pub fn zinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_store(ctx, args, Combine::Inter)
}

pub fn zdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_store(ctx, args, Combine::Diff)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]: how many members all the keys share
/// (sets count as sorted sets), counting stops at `limit` (0: no limit).
pub fn zintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = numkeys("zintercard", &args[1])?;
    let Some(rest) = args.get(2 + n..) else {
        return Ok(syntax_error());
    };
    let limit = match rest {
        [] => 0,
        [word, l] if is(word, "limit") => match int_arg(l) {
            Ok(l) if l >= 0 => l as usize,
            _ => return Ok(Reply::err("ERR LIMIT can't be negative")),
        },
        _ => return Ok(syntax_error()),
    };
    let (shared, _) = combine(
        ctx,
        "zintercard",
        &args[1..2 + n],
        Combine::Inter,
        false,
        limit,
    )?;
    // The intersection stopped at the limit.
    Ok(Reply::Int(shared.len() as i64))
}
