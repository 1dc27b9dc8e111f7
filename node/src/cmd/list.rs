//! List commands.

use super::{Ctx, check_type, int_arg};
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::list::ListPart;
use gdc_crdt::ops::{self, End};
use gdc_crdt::{Blob, Kind, OpError};

fn read<'a>(ctx: &'a Ctx<'_>, key: &[u8]) -> Result<Option<&'a ListPart>, Reply> {
    let k = ctx.get(key);
    check_type(k, Kind::List)?;
    Ok(k.and_then(|k| k.list()))
}

fn len(ctx: &Ctx<'_>, key: &[u8]) -> usize {
    ctx.get(key).and_then(|k| k.list()).map_or(0, ListPart::len)
}

fn push(ctx: &mut Ctx<'_>, args: &[Bytes], end: End, only_existing: bool) -> Reply {
    match read(ctx, &args[1]) {
        Ok(None) if only_existing => return Reply::Int(0),
        Ok(_) => {}
        Err(e) => return e,
    }
    let values: Vec<Blob> = args[2..].iter().map(|a| Blob::from(&a[..])).collect();
    match ctx.write(&args[1], |k, now, tag| {
        ops::list_push(k, now, tag, end, &values).map(|e| (Some(e), ()))
    }) {
        Ok(()) => Reply::Int(len(ctx, &args[1]) as i64),
        Err(e) => e,
    }
}

pub fn lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push(ctx, args, End::Left, false)
}

pub fn rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push(ctx, args, End::Right, false)
}

pub fn lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push(ctx, args, End::Left, true)
}

pub fn rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push(ctx, args, End::Right, true)
}

/// LPOP/RPOP key [count]
fn pop(ctx: &mut Ctx<'_>, args: &[Bytes], end: End) -> Reply {
    let count = match args.get(2).map(|c| int_arg(c)) {
        None => None,
        Some(Ok(c)) if c >= 0 => Some(c as usize),
        Some(Ok(_)) => return Reply::err("ERR value is out of range, must be positive"),
        Some(Err(e)) => return e,
    };
    if args.len() > 3 {
        return super::syntax_error();
    }
    let l = match read(ctx, &args[1]) {
        Ok(Some(l)) => l,
        Ok(None) => {
            return if count.is_some() {
                Reply::NilArray
            } else {
                Reply::Nil
            };
        }
        Err(e) => return e,
    };
    let n = count.unwrap_or(1).min(l.len());
    let idx: Vec<usize> = match end {
        End::Left => (0..n).collect(),
        End::Right => (0..n).map(|i| l.len() - 1 - i).collect(),
    };
    let values: Vec<Reply> = idx
        .iter()
        .filter_map(|&i| l.get(i as i64))
        .map(|(_, e)| Reply::bulk(Bytes::copy_from_slice(&e.value)))
        .collect();
    if let Err(e) = ctx.write(&args[1], |k, now, tag| {
        ops::list_remove(k, now, tag, &idx).map(|e| (e, ()))
    }) {
        return e;
    }
    match count {
        None => values.into_iter().next().unwrap_or(Reply::Nil),
        Some(_) => Reply::Array(values),
    }
}

pub fn lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    pop(ctx, args, End::Left)
}

pub fn rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    pop(ctx, args, End::Right)
}

pub fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match read(ctx, &args[1]) {
        Ok(l) => Reply::Int(l.map_or(0, |l| l.len() as i64)),
        Err(e) => e,
    }
}

pub fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (start, stop) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return Reply::err(OpError::NotInteger.to_string()),
    };
    let l = match read(ctx, &args[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::Array(vec![]),
        Err(e) => return e,
    };
    let n = l.len() as i64;
    let a = if start < 0 { (n + start).max(0) } else { start };
    let b = if stop < 0 { n + stop } else { stop.min(n - 1) };
    if a > b || a >= n {
        return Reply::Array(vec![]);
    }
    Reply::Array(
        l.iter()
            .skip(a as usize)
            .take((b - a + 1) as usize)
            .map(|(_, e)| Reply::bulk(Bytes::copy_from_slice(&e.value)))
            .collect(),
    )
}

pub fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let i = match int_arg(&args[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    match read(ctx, &args[1]) {
        Ok(l) => l.and_then(|l| l.get(i)).map_or(Reply::Nil, |(_, e)| {
            Reply::bulk(Bytes::copy_from_slice(&e.value))
        }),
        Err(e) => e,
    }
}

pub fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let i = match int_arg(&args[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let v = Blob::from(&args[3][..]);
    match ctx.write(&args[1], |k, now, tag| {
        ops::list_set(k, now, tag, i, v).map(|e| (Some(e), ()))
    }) {
        Ok(()) => Reply::OK,
        Err(e) => e,
    }
}
