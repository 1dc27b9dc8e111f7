//! MULTI, EXEC, DISCARD, WATCH, UNWATCH. EXEC runs the queued commands back to back under
//! the store lock, so no other client sees or interleaves with half of them, and logs their
//! writes as one binlog batch.

use super::{CmdResult, Ctx, READONLY, execute, is_write, read_only};
use crate::reply::Reply;
use bytes::Bytes;

pub fn multi(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    if ctx.conn.multi.is_some() {
        return Ok(Reply::err("ERR MULTI calls can not be nested"));
    }
    ctx.conn.multi = Some(Vec::new());
    ctx.conn.multi_failed = false;
    Ok(Reply::OK)
}

pub fn discard(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    if ctx.conn.multi.take().is_none() {
        return Ok(Reply::err("ERR DISCARD without MULTI"));
    }
    ctx.conn.watched.clear();
    Ok(Reply::OK)
}

/// A key's version as WATCH sees it: changes with every write to it, and when it expires.
/// An absent or already expired key has none, so removing an expired key does not count as
/// a change (Redis: "WATCH stale keys should not fail EXEC").
fn version(ctx: &Ctx<'_>, db: usize, key: &[u8]) -> Option<gdc_crdt::Hlc> {
    ctx.store
        .get(db, key, ctx.now)
        .map(gdc_crdt::KeyState::max_hlc)
}

pub fn exec(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let Some(queue) = ctx.conn.multi.take() else {
        return Ok(Reply::err("ERR EXEC without MULTI"));
    };
    let watched = std::mem::take(&mut ctx.conn.watched);
    if std::mem::take(&mut ctx.conn.multi_failed) {
        return Ok(Reply::err(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    // Queued while this node took writes, run now that it does not: all or nothing.
    if read_only(ctx) && queue.iter().any(|args| is_write(args)) {
        return Ok(Reply::err(format!(
            "EXECABORT Transaction discarded because of: {READONLY}"
        )));
    }
    if watched
        .iter()
        .any(|(db, key, v)| version(ctx, *db, key) != *v)
    {
        return Ok(Reply::NilArray);
    }
    ctx.conn.in_exec = true;
    let replies = ctx.in_one_batch(|ctx| queue.iter().map(|args| execute(ctx, args)).collect());
    ctx.conn.in_exec = false;
    Ok(replies.map_or_else(|e| e, Reply::Array))
}

pub fn watch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx.conn.multi.is_some() {
        return Ok(Reply::err("ERR WATCH inside MULTI is not allowed"));
    }
    let db = ctx.conn.db;
    for key in &args[1..] {
        let v = version(ctx, db, key);
        ctx.conn.watched.push((db, key.clone(), v));
    }
    Ok(Reply::OK)
}

pub fn unwatch(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.conn.watched.clear();
    Ok(Reply::OK)
}
