//! List commands.

use super::{CmdResult, Ctx, Mpop, block, check_type, deadline, int_arg};
use crate::notify::events::{GENERIC, LIST};
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::list::ListPart;
use gdc_crdt::ops::{self, End};
use gdc_crdt::{Blob, Kind, OpError};

/// The values one pop took, in pop order.
type Popped = smallvec::SmallVec<[Blob; 1]>;

fn read<'a>(ctx: &'a Ctx<'_>, key: &[u8]) -> Result<Option<&'a ListPart>, Reply> {
    let k = ctx.get(key);
    check_type(k, Kind::List)?;
    Ok(k.and_then(|k| k.list()))
}

fn len(ctx: &Ctx<'_>, key: &[u8]) -> usize {
    ctx.get(key).and_then(|k| k.list()).map_or(0, ListPart::len)
}

fn push(ctx: &mut Ctx<'_>, args: &[Bytes], end: End, only_existing: bool) -> CmdResult {
    // The write finds the key and checks its type itself: only the X forms look first.
    if only_existing && read(ctx, &args[1])?.is_none() {
        return Ok(Reply::Int(0));
    }
    let values = args[2..].iter().map(|a| Blob::from(&a[..]));
    Ok(
        match ctx.write(&args[1], |k, now, tag| {
            ops::list_push(k, now, tag, end, values).map(|(e, len)| (Some(e), len))
        }) {
            Ok(len) => {
                ctx.notify(LIST, push_event(end), &args[1]);
                Reply::Int(len as i64)
            }
            Err(e) => e,
        },
    )
}

pub fn lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, End::Left, false)
}

pub fn rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, End::Right, false)
}

pub fn lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, End::Left, true)
}

pub fn rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, End::Right, true)
}

/// LPOP/RPOP key [count]
fn pop(ctx: &mut Ctx<'_>, args: &[Bytes], end: End) -> CmdResult {
    if args.len() > 3 {
        return Ok(super::wrong_arity(match end {
            End::Left => "lpop",
            End::Right => "rpop",
        }));
    }
    let count = super::pop_count(args.get(2))?;
    let values = pop_from(ctx, &args[1], end, count.unwrap_or(1))?;
    Ok(match (count, values) {
        (None, v) => first(v).map_or(Reply::Nil, Reply::Value),
        (Some(_), None) => Reply::NilArray,
        (Some(_), Some(v)) => replies(v),
    })
}

/// The values popped, as an array reply.
fn replies(values: Popped) -> Reply {
    Reply::Array(values.into_iter().map(Reply::Value).collect())
}

/// The value a pop without a count took, if any.
fn first(values: Option<Popped>) -> Option<Blob> {
    values.and_then(|v| v.into_iter().next())
}

/// Remove up to `count` elements at `end` of list `key` and return them in pop order;
/// `None` when there is no list.
fn pop_from(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    end: End,
    count: usize,
) -> Result<Option<Popped>, Reply> {
    // Read and removed in the write's own lookup of the key, which also checks its type.
    let popped = ctx.write(key, |k, now, tag| ops::list_pop(k, now, tag, end, count))?;
    let Some(ops::Popped { values, emptied }) = popped else {
        return Ok(None);
    };
    if !values.is_empty() {
        ctx.notify(LIST, pop_event(end), key);
        if emptied {
            ctx.notify(GENERIC, "del", key);
        }
    }
    Ok(Some(values))
}

pub fn lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, End::Left)
}

pub fn rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, End::Right)
}

pub fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match read(ctx, &args[1]) {
        Ok(l) => Reply::Int(l.map_or(0, |l| l.len() as i64)),
        Err(e) => e,
    })
}

pub fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (start, stop) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return Ok(Reply::err(OpError::NotInteger.to_string())),
    };
    let Some(l) = read(ctx, &args[1])? else {
        return Ok(Reply::Array(vec![]));
    };
    let r = super::index_range(l.len(), start, stop);
    if r.is_empty() {
        return Ok(Reply::Array(vec![]));
    }
    Ok(Reply::Bulks(
        l.value_range(r.start, r.end).map(Blob::from).collect(),
    ))
}

pub fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let i = int_arg(&args[2])?;
    Ok(match read(ctx, &args[1]) {
        Ok(l) => l
            .and_then(|l| l.get(i))
            .map_or(Reply::Nil, |e| Reply::value(e.value)),
        Err(e) => e,
    })
}

pub fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let i = int_arg(&args[2])?;
    let v = Blob::from(&args[3][..]);
    Ok(
        match ctx.write(&args[1], |k, now, tag| {
            ops::list_set(k, now, tag, i, v).map(|e| (Some(e), ()))
        }) {
            Ok(()) => {
                ctx.notify(LIST, "lset", &args[1]);
                Reply::OK
            }
            Err(e) => e,
        },
    )
}

/// LINSERT key BEFORE|AFTER pivot element
pub fn linsert(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let before = if super::is(&args[2], "before") {
        true
    } else if super::is(&args[2], "after") {
        false
    } else {
        return Ok(super::syntax_error());
    };
    let pivot = match read(ctx, &args[1]) {
        Ok(None) => return Ok(Reply::Int(0)),
        Ok(Some(l)) => l.values().position(|v| v == &args[3][..]),
        Err(e) => return Err(e),
    };
    let Some(pivot) = pivot else {
        return Ok(Reply::Int(-1));
    };
    let v = Blob::from(&args[4][..]);
    Ok(
        match ctx.write(&args[1], |k, now, tag| {
            ops::list_insert(k, now, tag, pivot, before, v).map(|e| (Some(e), ()))
        }) {
            Ok(()) => {
                ctx.notify(LIST, "linsert", &args[1]);
                Reply::Int(len(ctx, &args[1]) as i64)
            }
            Err(e) => e,
        },
    )
}

/// LREM key count element
pub fn lrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let count = int_arg(&args[2])?;
    let Some(l) = read(ctx, &args[1])? else {
        return Ok(Reply::Int(0));
    };
    let hits = l
        .values()
        .enumerate()
        .filter(|(_, v)| *v == &args[3][..])
        .map(|(i, _)| i);
    let idx: Vec<usize> = match count {
        0 => hits.collect(),
        c if c > 0 => hits.take(c as usize).collect(),
        c => {
            let mut all: Vec<usize> = hits.collect();
            all.reverse();
            all.truncate(c.unsigned_abs() as usize);
            all
        }
    };
    let n = idx.len() as i64;
    if n > 0 {
        ctx.write(&args[1], |k, now, tag| {
            ops::list_remove(k, now, tag, &idx).map(|e| (e, ()))
        })?;
        ctx.notify(LIST, "lrem", &args[1]);
        ctx.notify_if_gone(&args[1]);
    }
    Ok(Reply::Int(n))
}

/// LTRIM key start stop
pub fn ltrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (start, stop) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return Ok(Reply::err(OpError::NotInteger.to_string())),
    };
    let n = match read(ctx, &args[1]) {
        Ok(Some(l)) => l.len(),
        Ok(None) => return Ok(Reply::OK),
        Err(e) => return Err(e),
    };
    // What is kept: an empty range when the bounds cross (the list goes).
    let keep = super::index_range(n, start, stop);
    if keep != (0..n) {
        ctx.write(&args[1], |k, now, tag| {
            ops::list_trim(k, now, tag, keep.clone()).map(|e| (e, ()))
        })?;
    }
    // Redis tells of a trim of an existing list, whether or not it removed anything.
    ctx.notify(LIST, "ltrim", &args[1]);
    ctx.notify_if_gone(&args[1]);
    Ok(Reply::OK)
}

fn end_arg(a: &[u8]) -> Option<End> {
    if super::is(a, "left") {
        Some(End::Left)
    } else if super::is(a, "right") {
        Some(End::Right)
    } else {
        None
    }
}

/// Pop from one end of `src`, push to one end of `dst`: LMOVE and RPOPLPUSH.
fn move_one(ctx: &mut Ctx<'_>, src: &Bytes, dst: &Bytes, from: End, to: End) -> Reply {
    let (idx, value, len) = match read(ctx, src) {
        Ok(Some(l)) => {
            let i = match from {
                End::Left => 0,
                End::Right => l.len() - 1,
            };
            match l.get(i as i64) {
                Some(e) => (i, Blob::from(e.value), l.len()),
                None => return Reply::Nil,
            }
        }
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    };
    if let Err(e) = read(ctx, dst) {
        return e;
    }
    if src == dst && len == 1 {
        // A one-element list moved onto itself stays as it is. A pop then a push would
        // delete the key in between, and its TTL with it: it is written whole instead (a
        // write all the same, as WATCH sees it in Redis), TTL kept.
        let Some((whole, expire_at)) = super::keys::whole_of(ctx, src) else {
            return Reply::Nil;
        };
        let db = ctx.conn.db;
        return match super::keys::write_whole(ctx, db, src, &whole, expire_at) {
            Ok(()) => {
                ctx.notify(LIST, push_event(to), dst);
                ctx.notify(LIST, pop_event(from), src);
                Reply::value(&value)
            }
            Err(e) => e,
        };
    }
    let r = ctx
        .write(src, |k, now, tag| {
            ops::list_remove(k, now, tag, &[idx]).map(|e| (e, ()))
        })
        .and_then(|()| {
            ctx.write(dst, |k, now, tag| {
                ops::list_push(k, now, tag, to, [value.clone()]).map(|(e, _)| (Some(e), ()))
            })
        });
    r.map_or_else(
        |e| e,
        |()| {
            // Redis's order: the push, then the pop and the source's removal.
            ctx.notify(LIST, push_event(to), dst);
            ctx.notify(LIST, pop_event(from), src);
            ctx.notify_if_gone(src);
            Reply::value(&value)
        },
    )
}

/// The keyspace events of a push and a pop at `end`.
fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match (end_arg(&args[3]), end_arg(&args[4])) {
        (Some(from), Some(to)) => move_one(ctx, &args[1], &args[2], from, to),
        _ => super::syntax_error(),
    })
}

pub fn rpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(move_one(ctx, &args[1], &args[2], End::Right, End::Left))
}

/// BLPOP/BRPOP key [key ...] timeout: pop from the first non-empty list, or wait.
fn bpop(ctx: &mut Ctx<'_>, args: &[Bytes], end: End) -> CmdResult {
    let until = deadline(ctx, &args[args.len() - 1])?;
    for key in &args[1..args.len() - 1] {
        if super::waited_on(ctx, read(ctx, key))?.is_none() {
            continue;
        }
        let popped = first(pop_from(ctx, key, end, 1)?);
        return Ok(Reply::Array(vec![
            Reply::Bulk(key.clone()),
            popped.map_or(Reply::Nil, Reply::Value),
        ]));
    }
    Ok(block(ctx, until, Reply::NilArray))
}

pub fn blpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bpop(ctx, args, End::Left)
}

pub fn brpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bpop(ctx, args, End::Right)
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub fn blmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let until = deadline(ctx, &args[5])?;
    let (Some(from), Some(to)) = (end_arg(&args[3]), end_arg(&args[4])) else {
        return Ok(super::syntax_error());
    };
    Ok(match super::waited_on(ctx, read(ctx, &args[1])) {
        Ok(Some(_)) => move_one(ctx, &args[1], &args[2], from, to),
        Ok(None) => block(ctx, until, Reply::NilArray),
        Err(e) => e,
    })
}

/// BRPOPLPUSH source destination timeout: BLMOVE source destination RIGHT LEFT timeout.
pub fn brpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let until = deadline(ctx, &args[3])?;
    Ok(match super::waited_on(ctx, read(ctx, &args[1])) {
        Ok(Some(_)) => move_one(ctx, &args[1], &args[2], End::Right, End::Left),
        // Redis answers a timed-out BRPOPLPUSH or BLMOVE with a null array.
        Ok(None) => block(ctx, until, Reply::NilArray),
        Err(e) => e,
    })
}

/// Pop from the first list of `m.keys` that has elements: `[key, [elements]]`, or `None`
/// when none has (a key of another type is WRONGTYPE, as Redis finds it in order).
fn mpop(ctx: &mut Ctx<'_>, m: &Mpop<'_, End>) -> Result<Option<Reply>, Reply> {
    for key in m.keys {
        if super::waited_on(ctx, read(ctx, key))?.is_none() {
            continue;
        }
        let popped = pop_from(ctx, key, m.from, m.count)?.unwrap_or_default();
        return Ok(Some(Reply::Array(vec![
            Reply::Bulk(key.clone()),
            replies(popped),
        ])));
    }
    Ok(None)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn lmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let m = Mpop::parse(&args[1..], end_arg)?;
    Ok(mpop(ctx, &m)?.unwrap_or(Reply::NilArray))
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn blmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let until = deadline(ctx, &args[1])?;
    let m = Mpop::parse(&args[2..], end_arg)?;
    Ok(match mpop(ctx, &m)? {
        Some(reply) => reply,
        None => block(ctx, until, Reply::NilArray),
    })
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub fn lpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<usize>, 0usize);
    let mut i = 3;
    while i < args.len() {
        let Some(v) = args.get(i + 1) else {
            return Ok(super::syntax_error());
        };
        let n = int_arg(v)?;
        if super::is(&args[i], "rank") {
            if n == 0 || n == i64::MIN {
                return Ok(Reply::err(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
            rank = n;
        } else if super::is(&args[i], "count") {
            if n < 0 {
                return Ok(Reply::err("ERR COUNT can't be negative"));
            }
            count = Some(n as usize);
        } else if super::is(&args[i], "maxlen") {
            if n < 0 {
                return Ok(Reply::err("ERR MAXLEN can't be negative"));
            }
            maxlen = n as usize;
        } else {
            return Ok(super::syntax_error());
        }
        i += 2;
    }
    let l = match read(ctx, &args[1]) {
        Ok(Some(l)) => l,
        Ok(None) => {
            return Ok(if count.is_some() {
                Reply::Array(vec![])
            } else {
                Reply::Nil
            });
        }
        Err(e) => return Err(e),
    };
    let n = l.len();
    let scan = if maxlen == 0 { n } else { maxlen.min(n) };
    let elem = &args[2][..];
    let mut idx: Box<dyn Iterator<Item = usize>> = if rank > 0 {
        Box::new(
            l.values()
                .take(scan)
                .enumerate()
                .filter(|(_, v)| *v == elem)
                .map(|(i, _)| i),
        )
    } else {
        Box::new(
            l.values()
                .rev()
                .take(scan)
                .enumerate()
                .filter(|(_, v)| *v == elem)
                .map(move |(i, _)| n - 1 - i),
        )
    };
    let skip = rank.unsigned_abs() as usize - 1;
    Ok(match count {
        None => idx.nth(skip).map_or(Reply::Nil, |i| Reply::Int(i as i64)),
        Some(c) => {
            let take = if c == 0 { usize::MAX } else { c };
            Reply::Array(
                idx.skip(skip)
                    .take(take)
                    .map(|i| Reply::Int(i as i64))
                    .collect(),
            )
        }
    })
}
