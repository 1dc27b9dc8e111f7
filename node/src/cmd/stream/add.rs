//! XADD, XTRIM, XDEL, XLEN and XSETID.

use super::{INVALID_ID, id_reply, parse_add_or_trim, plan_trim, stream, strict_id};
use crate::cmd::{CmdResult, Ctx, int_arg, is, syntax_error, wrong_arity};
use crate::notify::events::STREAM;
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::stream::{StreamId, next_auto_id};
use gdc_crdt::{Blob, ops};

/// XADD's id argument.
enum NewId {
    /// `*`: made from the clock and this node's server-id.
    Auto,
    /// `ms-*`: the next sequence in that millisecond.
    InMs(u64),
    Given(StreamId),
}

fn new_id(b: &[u8]) -> Result<NewId, Reply> {
    if b == b"*" {
        return Ok(NewId::Auto);
    }
    if let Some(ms) = b.strip_suffix(b"-*") {
        return match super::id_part(ms) {
            Some(ms) if b.len() <= 127 => Ok(NewId::InMs(ms)),
            _ => Err(Reply::err(INVALID_ID)),
        };
    }
    strict_id(b).map(NewId::Given)
}

const NOT_GREATER: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";

/// The id XADD gives an entry after `last`, or the error Redis answers.
fn choose_id(
    want: &NewId,
    last: StreamId,
    now: u64,
    me: gdc_crdt::ServerId,
) -> Result<StreamId, Reply> {
    if last == StreamId::MAX {
        return Err(Reply::err(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let id = match want {
        NewId::Auto => next_auto_id(last, now, me).ok_or_else(|| Reply::err(NOT_GREATER))?,
        NewId::InMs(ms) if *ms == last.ms => StreamId::new(
            *ms,
            last.seq
                .checked_add(1)
                .ok_or_else(|| Reply::err(NOT_GREATER))?,
        ),
        NewId::InMs(ms) => StreamId::new(*ms, 0),
        NewId::Given(id) => *id,
    };
    if id <= last {
        return Err(Reply::err(NOT_GREATER));
    }
    Ok(id)
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
pub fn xadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let a = parse_add_or_trim(args, true)?;
    let want = new_id(args.get(a.id_at).ok_or_else(|| wrong_arity("xadd"))?)?;
    let fields = &args[a.id_at + 1..];
    if fields.len() < 2 || fields.len() % 2 == 1 {
        return Ok(wrong_arity("xadd"));
    }
    if let NewId::Given(StreamId::ZERO) = want {
        return Ok(Reply::err(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    if fields.iter().map(|f| f.len()).sum::<usize>() > 1 << 30 {
        return Ok(Reply::err("ERR Elements are too large to be stored"));
    }
    let x = stream(ctx, &args[1])?;
    if x.is_none() && a.nomkstream {
        return Ok(Reply::Nil);
    }
    let fields: Vec<Blob> = fields.iter().map(|f| Blob::from(&f[..])).collect();
    let now = ctx.now;
    let mut trimmed = 0;
    let made = ctx.write(&args[1], |k, at, tag| {
        let x = k.and_then(|k| k.stream());
        let last = x.map_or(StreamId::ZERO, |x| x.last_id());
        let id = match choose_id(&want, last, now, tag.dot.server) {
            Ok(id) => id,
            Err(e) => return Ok((None, Err(e))),
        };
        let gone = plan_trim(x, Some(id), &a.trim);
        trimmed = gone.len();
        let e = ops::xadd(k, at, tag, id, &fields, &gone)?;
        Ok((Some(e), Ok(id)))
    });
    Ok(match made {
        Ok(Ok(id)) => {
            ctx.notify(STREAM, "xadd", &args[1]);
            if trimmed > 0 {
                ctx.notify(STREAM, "xtrim", &args[1]);
            }
            id_reply(id)
        }
        Ok(Err(e)) | Err(e) => e,
    })
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
pub fn xtrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let a = parse_add_or_trim(args, false)?;
    let Some(x) = stream(ctx, &args[1])? else {
        return Ok(Reply::Int(0));
    };
    let gone = plan_trim(Some(x), None, &a.trim);
    if gone.is_empty() {
        return Ok(Reply::Int(0));
    }
    ctx.write(&args[1], |k, at, tag| {
        ops::xremove(k, at, tag, &gone, false).map(|e| (e, ()))
    })?;
    ctx.notify(STREAM, "xtrim", &args[1]);
    Ok(Reply::Int(gone.len() as i64))
}

/// XDEL key id [id ...]
pub fn xdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(x) = stream(ctx, &args[1])? else {
        return Ok(Reply::Int(0));
    };
    let mut ids = args[2..]
        .iter()
        .map(|a| strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort_unstable();
    ids.dedup();
    ids.retain(|id| x.contains(*id));
    if ids.is_empty() {
        return Ok(Reply::Int(0));
    }
    ctx.write(&args[1], |k, at, tag| {
        ops::xremove(k, at, tag, &ids, true).map(|e| (e, ()))
    })?;
    ctx.notify(STREAM, "xdel", &args[1]);
    Ok(Reply::Int(ids.len() as i64))
}

/// XLEN key
pub fn xlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(
        stream(ctx, &args[1])?.map_or(0, |x| x.len()) as i64
    ))
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
pub fn xsetid(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let last = strict_id(&args[2])?;
    let (mut added, mut max_deleted) = (None, None);
    let mut i = 3;
    while i < args.len() {
        let Some(v) = args.get(i + 1) else {
            return Ok(syntax_error());
        };
        if is(&args[i], "entriesadded") {
            let n = int_arg(v)?;
            if n < 0 {
                return Ok(Reply::err("ERR entries_added must be positive"));
            }
            added = Some(n as u64);
        } else if is(&args[i], "maxdeletedid") {
            let id = strict_id(v)?;
            if last < id {
                return Ok(Reply::err(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            max_deleted = Some(id);
        } else {
            return Ok(syntax_error());
        }
        i += 2;
    }
    let Some(x) = stream(ctx, &args[1])? else {
        return Ok(Reply::err("ERR no such key"));
    };
    if let Some(top) = x.last_entry_id() {
        if last < top {
            return Ok(Reply::err(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if added.is_some_and(|n| n < x.len() as u64) {
            return Ok(Reply::err(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    let max_deleted = max_deleted.filter(|id| *id != StreamId::ZERO);
    ctx.write(&args[1], |k, at, tag| {
        ops::xsetid(k, at, tag, last, max_deleted, added).map(|e| (e, ()))
    })?;
    ctx.notify(STREAM, "xsetid", &args[1]);
    Ok(Reply::OK)
}
