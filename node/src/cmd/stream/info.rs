//! XINFO STREAM [FULL], GROUPS, CONSUMERS and HELP.

use super::group::container_help;
use super::{entry_reply, estimate_read, first_id, has_tombstones, id_reply, stream};
use crate::cmd::{CmdResult, Ctx, int_arg, is};
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::stream::{Group, StreamId, StreamPart};

const XINFO_HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

fn field(name: &'static str, value: Reply) -> (Reply, Reply) {
    (Reply::bulk(name), value)
}

fn bulk(b: &[u8]) -> Reply {
    Reply::bulk(Bytes::copy_from_slice(b))
}

/// A group's lag: entries added but not read by it, `None` when it cannot be told.
fn lag(x: &StreamPart, g: &Group) -> Option<u64> {
    let added = x.meta().entries_added();
    if added == 0 {
        return Some(0);
    }
    let head = g.head();
    let last = head.last_delivered();
    if let Some(read) = head.entries_read {
        if !has_tombstones(x, last) {
            return Some(added.saturating_sub(read));
        }
    }
    estimate_read(x, last).map(|read| added.saturating_sub(read))
}

fn opt_int(v: Option<u64>) -> Reply {
    v.map_or(Reply::Nil, |n| Reply::Int(n as i64))
}

/// XINFO CONSUMERS | GROUPS | STREAM | HELP
pub fn xinfo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    if sub == "help" {
        return Ok(container_help(args, XINFO_HELP));
    }
    let Some(x) = stream(ctx, &args[2])? else {
        return Ok(Reply::err("ERR no such key"));
    };
    let wrong = || {
        Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
            String::from_utf8_lossy(&args[1])
        ))
    };
    let now = ctx.now;
    let per_consumer = |g: &Group, name: &[u8]| g.pending_of(name, StreamId::ZERO).count() as i64;
    Ok(match sub.as_str() {
        "consumers" => {
            let Some(g) = x.group(&args[3]) else {
                return Ok(Reply::err(format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    String::from_utf8_lossy(&args[3]),
                    String::from_utf8_lossy(&args[2])
                )));
            };
            Reply::Array(
                g.consumers()
                    .into_iter()
                    .map(|(name, seen)| {
                        Reply::Map(vec![
                            field("name", bulk(name)),
                            field("pending", Reply::Int(per_consumer(g, name))),
                            field("idle", Reply::Int(now.saturating_sub(seen) as i64)),
                        ])
                    })
                    .collect(),
            )
        }
        "groups" => Reply::Array(
            x.groups()
                .map(|(name, g)| {
                    let head = g.head();
                    Reply::Map(vec![
                        field("name", bulk(name)),
                        field("consumers", Reply::Int(g.consumers().len() as i64)),
                        field("pending", Reply::Int(g.pending_len() as i64)),
                        field("last-delivered-id", id_reply(head.last_delivered())),
                        field("entries-read", opt_int(head.entries_read)),
                        field("lag", opt_int(lag(x, g))),
                    ])
                })
                .collect(),
        ),
        "stream" => {
            let full = match &args[3..] {
                [] => None,
                [f] if is(f, "full") => Some(10),
                [f, c, n] if is(f, "full") && is(c, "count") => {
                    let n = int_arg(n)?;
                    Some(if n < 0 { 10 } else { n as usize })
                }
                _ => return Ok(wrong()),
            };
            stream_info(x, full.map(|n| if n == 0 { usize::MAX } else { n }))
        }
        _ => wrong(),
    })
}

/// XINFO STREAM: the summary, or with FULL (up to `count` entries and pending entries per
/// list) the entries and every group in detail.
fn stream_info(x: &StreamPart, full: Option<usize>) -> Reply {
    let m = x.meta();
    let nodes = x.layout().nodes().len() as i64;
    let mut out = vec![
        field("length", Reply::Int(x.len() as i64)),
        field("radix-tree-keys", Reply::Int(nodes)),
        field("radix-tree-nodes", Reply::Int(nodes + 1)),
        field("last-generated-id", id_reply(x.last_id())),
        field("max-deleted-entry-id", id_reply(m.max_deleted)),
        field("entries-added", Reply::Int(m.entries_added() as i64)),
        field("recorded-first-entry-id", id_reply(first_id(x))),
    ];
    let Some(count) = full else {
        let edge = |e: Option<(gdc_crdt::stream::StreamId, gdc_crdt::stream::Entry)>| {
            e.map_or(Reply::Nil, |(id, e)| entry_reply(id, e))
        };
        out.push(field("groups", Reply::Int(x.groups().count() as i64)));
        out.push(field("first-entry", edge(x.first())));
        out.push(field("last-entry", edge(x.last())));
        return Reply::Map(out);
    };
    out.push(field(
        "entries",
        Reply::Array(
            x.entries()
                .take(count)
                .map(|(id, e)| entry_reply(id, e))
                .collect(),
        ),
    ));
    let groups = x
        .groups()
        .map(|(name, g)| {
            let head = g.head();
            let pending = g
                .pending()
                .take(count)
                .map(|(id, p)| {
                    Reply::Array(vec![
                        id_reply(id),
                        bulk(&p.consumer),
                        Reply::Int(p.delivered_ms as i64),
                        Reply::Int(p.count as i64),
                    ])
                })
                .collect();
            let consumers = g
                .consumers()
                .into_iter()
                .map(|(cname, seen)| {
                    let mine: Vec<_> = g.pending_of(cname, StreamId::ZERO).collect();
                    Reply::Map(vec![
                        field("name", bulk(cname)),
                        field("seen-time", Reply::Int(seen as i64)),
                        field("pel-count", Reply::Int(mine.len() as i64)),
                        field(
                            "pending",
                            Reply::Array(
                                mine.into_iter()
                                    .take(count)
                                    .map(|(id, p)| {
                                        Reply::Array(vec![
                                            id_reply(id),
                                            Reply::Int(p.delivered_ms as i64),
                                            Reply::Int(p.count as i64),
                                        ])
                                    })
                                    .collect(),
                            ),
                        ),
                    ])
                })
                .collect();
            Reply::Map(vec![
                field("name", bulk(name)),
                field("last-delivered-id", id_reply(head.last_delivered())),
                field("entries-read", opt_int(head.entries_read)),
                field("lag", opt_int(lag(x, g))),
                field("pel-count", Reply::Int(g.pending_len() as i64)),
                field("pending", Reply::Array(pending)),
                field("consumers", Reply::Array(consumers)),
            ])
        })
        .collect();
    out.push(field("groups", Reply::Array(groups)));
    Reply::Map(out)
}
