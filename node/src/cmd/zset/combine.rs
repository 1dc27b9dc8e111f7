//! ZUNION, ZINTER, ZDIFF and their STORE forms.

use super::range::reply_range;
use crate::cmd::{CmdResult, Ctx, float_arg, int_arg, is, refused, syntax_error};
use crate::reply::Reply;
use bytes::Bytes;
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
/// Redis order) and whether WITHSCORES was given.
fn combine(
    ctx: &Ctx<'_>,
    name: &str,
    args: &[Bytes],
    how: Combine,
    allow_scores: bool,
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
    let mut inputs: Vec<std::collections::HashMap<Blob, f64>> = Vec::with_capacity(n);
    for (j, key) in keys.iter().enumerate() {
        let k = ctx.get(key);
        let m: std::collections::HashMap<Blob, f64> = match k.and_then(|k| k.kind()) {
            None => Default::default(),
            Some(Kind::ZSet) => k
                .and_then(|k| k.zset())
                .map(|z| {
                    z.iter()
                        .map(|(m, s)| (m.clone(), weighted(s, weights[j])))
                        .collect()
                })
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
    Ok(match combine(ctx, &name(args), &args[1..], how, true) {
        Ok((items, scores)) => reply_range(ctx, items, scores),
        Err(e) => e,
    })
}

fn combine_store(ctx: &mut Ctx<'_>, args: &[Bytes], how: Combine) -> CmdResult {
    let items = match combine(ctx, &name(args), &args[2..], how, false) {
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
    let (shared, _) = combine(ctx, "zintercard", &args[1..2 + n], Combine::Inter, false)?;
    let count = if limit > 0 {
        shared.len().min(limit)
    } else {
        shared.len()
    };
    Ok(Reply::Int(count as i64))
}
