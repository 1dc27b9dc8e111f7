//! SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, the sharded SSUBSCRIBE,
//! SUNSUBSCRIBE and SPUBLISH (one shard per node: a namespace of their own), PUBSUB.

use super::{CmdResult, Ctx};
use crate::pubsub::Kind;
use crate::reply::Reply;
use bytes::Bytes;

fn confirm(kind: &'static str, name: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk(kind),
        name.map_or(Reply::Nil, Reply::Bulk),
        Reply::Int(count as i64),
    ])
}

/// The count a confirmation gives: channels and patterns together; shard channels apart,
/// as Redis 7.0 counts them.
fn subscribed(ctx: &Ctx<'_>, kind: Kind) -> usize {
    match kind {
        Kind::Shard => ctx.conn.shard_channels.len(),
        _ => ctx.conn.channels.len() + ctx.conn.patterns.len(),
    }
}

fn subscribe_to(ctx: &mut Ctx<'_>, args: &[Bytes], kind: Kind) -> CmdResult {
    let Some(tx) = ctx.conn.pubsub_tx.clone() else {
        return Ok(Reply::err("ERR this connection cannot subscribe"));
    };
    let word = match kind {
        Kind::Channel => "subscribe",
        Kind::Pattern => "psubscribe",
        Kind::Shard => "ssubscribe",
    };
    let mut out = Vec::new();
    for name in &args[1..] {
        ctx.server.pubsub().subscribe(kind, name, ctx.conn.id, &tx);
        ctx.conn.subscriptions(kind).insert(name.clone());
        out.push(confirm(word, Some(name.clone()), subscribed(ctx, kind)));
    }
    Ok(Reply::Many(out))
}

fn unsubscribe_from(ctx: &mut Ctx<'_>, args: &[Bytes], kind: Kind) -> CmdResult {
    let word = match kind {
        Kind::Channel => "unsubscribe",
        Kind::Pattern => "punsubscribe",
        Kind::Shard => "sunsubscribe",
    };
    let names: Vec<Bytes> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        let mut v: Vec<Bytes> = ctx.conn.subscriptions(kind).iter().cloned().collect();
        v.sort();
        v
    };
    if names.is_empty() {
        return Ok(confirm(word, None, subscribed(ctx, kind)));
    }
    let mut out = Vec::new();
    for name in names {
        ctx.server.pubsub().unsubscribe(kind, &name, ctx.conn.id);
        ctx.conn.subscriptions(kind).remove(&name);
        out.push(confirm(word, Some(name), subscribed(ctx, kind)));
    }
    Ok(Reply::Many(out))
}

pub fn subscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    subscribe_to(ctx, args, Kind::Channel)
}

pub fn psubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    subscribe_to(ctx, args, Kind::Pattern)
}

pub fn ssubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    subscribe_to(ctx, args, Kind::Shard)
}

pub fn unsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    unsubscribe_from(ctx, args, Kind::Channel)
}

pub fn punsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    unsubscribe_from(ctx, args, Kind::Pattern)
}

pub fn sunsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    unsubscribe_from(ctx, args, Kind::Shard)
}

pub fn publish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(
        ctx.server.pubsub().publish(&args[1], &args[2]) as i64
    ))
}

pub fn spublish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(
        ctx.server.pubsub().spublish(&args[1], &args[2]) as i64
    ))
}

/// PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT | SHARDCHANNELS [pattern] |
/// SHARDNUMSUB [channel ...] | HELP
pub fn pubsub(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let ps = &ctx.server.pubsub();
    let listed = |kind| {
        let names = ps.channels_of(kind, args.get(2).map(|p| &p[..]));
        Reply::Array(names.into_iter().map(Reply::Bulk).collect())
    };
    let counted = |kind| {
        let mut out = Vec::new();
        for c in &args[2..] {
            out.push(Reply::Bulk(c.clone()));
            out.push(Reply::Int(ps.numsub(kind, c) as i64));
        }
        Reply::Array(out)
    };
    Ok(if super::is(sub, "channels") && args.len() <= 3 {
        listed(Kind::Channel)
    } else if super::is(sub, "shardchannels") && args.len() <= 3 {
        listed(Kind::Shard)
    } else if super::is(sub, "numsub") {
        counted(Kind::Channel)
    } else if super::is(sub, "shardnumsub") {
        counted(Kind::Shard)
    } else if super::is(sub, "numpat") && args.len() == 2 {
        Reply::Int(ps.numpat() as i64)
    } else if super::is(sub, "help") && args.len() == 2 {
        super::help(&[
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help.",
        ])
    } else {
        Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(sub)
        ))
    })
}
