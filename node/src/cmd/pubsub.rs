//! SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB.

use super::{CmdResult, Ctx};
use crate::reply::Reply;
use bytes::Bytes;

fn confirm(kind: &'static str, name: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk(kind),
        name.map_or(Reply::Nil, Reply::Bulk),
        Reply::Int(count as i64),
    ])
}

fn subscribed(ctx: &Ctx<'_>) -> usize {
    ctx.conn.channels.len() + ctx.conn.patterns.len()
}

fn subscribe_to(ctx: &mut Ctx<'_>, args: &[Bytes], pattern: bool) -> CmdResult {
    let Some(tx) = ctx.conn.pubsub_tx.clone() else {
        return Ok(Reply::err("ERR this connection cannot subscribe"));
    };
    let mut out = Vec::new();
    for name in &args[1..] {
        ctx.server
            .pubsub()
            .subscribe(pattern, name, ctx.conn.id, &tx);
        let set = if pattern {
            &mut ctx.conn.patterns
        } else {
            &mut ctx.conn.channels
        };
        set.insert(name.clone());
        let kind = if pattern { "psubscribe" } else { "subscribe" };
        out.push(confirm(kind, Some(name.clone()), subscribed(ctx)));
    }
    Ok(Reply::Many(out))
}

fn unsubscribe_from(ctx: &mut Ctx<'_>, args: &[Bytes], pattern: bool) -> CmdResult {
    let kind = if pattern {
        "punsubscribe"
    } else {
        "unsubscribe"
    };
    let names: Vec<Bytes> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        let set = if pattern {
            &ctx.conn.patterns
        } else {
            &ctx.conn.channels
        };
        let mut v: Vec<Bytes> = set.iter().cloned().collect();
        v.sort();
        v
    };
    if names.is_empty() {
        return Ok(confirm(kind, None, subscribed(ctx)));
    }
    let mut out = Vec::new();
    for name in names {
        ctx.server.pubsub().unsubscribe(pattern, &name, ctx.conn.id);
        let set = if pattern {
            &mut ctx.conn.patterns
        } else {
            &mut ctx.conn.channels
        };
        set.remove(&name);
        out.push(confirm(kind, Some(name), subscribed(ctx)));
    }
    Ok(Reply::Many(out))
}

pub fn subscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    subscribe_to(ctx, args, false)
}

pub fn psubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    subscribe_to(ctx, args, true)
}

pub fn unsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    unsubscribe_from(ctx, args, false)
}

pub fn punsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    unsubscribe_from(ctx, args, true)
}

pub fn publish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(
        ctx.server.pubsub().publish(&args[1], &args[2]) as i64
    ))
}

/// PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT
pub fn pubsub(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let ps = &ctx.server.pubsub();
    Ok(if super::is(sub, "channels") && args.len() <= 3 {
        Reply::Array(
            ps.channels(args.get(2).map(|p| &p[..]))
                .into_iter()
                .map(Reply::Bulk)
                .collect(),
        )
    } else if super::is(sub, "numsub") {
        let mut out = Vec::new();
        for c in &args[2..] {
            out.push(Reply::Bulk(c.clone()));
            out.push(Reply::Int(ps.numsub(c) as i64));
        }
        Reply::Array(out)
    } else if super::is(sub, "numpat") && args.len() == 2 {
        Reply::Int(ps.numpat() as i64)
    } else {
        Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(sub)
        ))
    })
}
