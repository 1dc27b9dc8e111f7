//! Consumer groups: XGROUP, XREADGROUP and XACK (the pending entries' XPENDING, XCLAIM and
//! XAUTOCLAIM: `pending`). Deliveries and acknowledgements are writes replicated to every
//! region (docs/semantics.md, "stream").

use super::read::{BLOCKED_COUNT, parse_read, streams_reply, wait_or_nil};
use super::{entry_reply, estimate_read, has_tombstones, id_reply, parse_id, stream, strict_id};
use crate::cmd::{CmdResult, Ctx, help, int_arg, is};
use crate::notify::events::STREAM;
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::ops::{self, GroupChange};
use gdc_crdt::stream::{Group, GroupHead, Pending, StreamId, StreamPart};
use gdc_crdt::{Blob, ServerId};

/// A name as error texts show it: CR and LF become spaces.
pub(super) fn shown(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace(['\r', '\n'], " ")
}

fn no_key_or_group(key: &[u8], group: &[u8]) -> Reply {
    Reply::err(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        shown(key),
        shown(group)
    ))
}

fn no_group(key: &[u8], group: &[u8]) -> Reply {
    Reply::err(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        shown(group),
        shown(key)
    ))
}

/// Write `change` to group `group` of the stream at `key`.
pub(super) fn change(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    group: &Blob,
    c: &GroupChange,
) -> Result<(), Reply> {
    ctx.write(key, |k, at, tag| {
        ops::group_change(k, at, tag, group, c).map(|e| (e, ()))
    })
}

/// The stream at `key` and its group `group`, or Redis's NOGROUP error.
pub(super) fn stream_and_group<'a>(
    ctx: &'a Ctx<'_>,
    key: &[u8],
    group: &[u8],
) -> Result<(&'a StreamPart, &'a Group), Reply> {
    let x = stream(ctx, key)?.ok_or_else(|| no_key_or_group(key, group))?;
    let g = x.group(group).ok_or_else(|| no_key_or_group(key, group))?;
    Ok((x, g))
}

const XGROUP_HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

/// A container's HELP: its usage line (with the name as typed, upper-cased), then `lines`.
pub(super) fn container_help(args: &[Bytes], lines: &[&'static str]) -> Reply {
    let mut out = vec![Reply::StatusText(format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        String::from_utf8_lossy(&args[0]).to_uppercase()
    ))];
    if let Reply::Array(rest) = help(lines) {
        out.extend(rest);
    }
    Reply::Array(out)
}

/// XGROUP CREATE | SETID | DESTROY | CREATECONSUMER | DELCONSUMER | HELP
pub fn xgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    if sub == "help" {
        return Ok(container_help(args, XGROUP_HELP));
    }
    let wrong = || {
        Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
            shown(&args[1]),
            String::from_utf8_lossy(&args[0]).to_uppercase()
        ))
    };
    let (create, setid) = (sub == "create", sub == "setid");
    let (mut mkstream, mut entries_read) = (false, None::<i64>);
    let mut i = 5;
    while i < args.len() {
        if create && is(&args[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && is(&args[i], "entriesread") && i + 1 < args.len() {
            let n = int_arg(&args[i + 1])?;
            if n < 0 && n != -1 {
                return Ok(Reply::err(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            entries_read = Some(n);
            i += 2;
        } else {
            return Ok(wrong());
        }
    }
    let (key, name) = (&args[2], Blob::from(&args[3][..]));
    let x = stream(ctx, key)?;
    if x.is_none() && !(create && mkstream) {
        return Ok(Reply::err(
            "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        ));
    }
    let g = x.and_then(|x| x.group(&name));
    if matches!(sub.as_str(), "setid" | "createconsumer" | "delconsumer") && g.is_none() {
        return Ok(no_group(key, &name));
    }
    if (create && !(5..=8).contains(&args.len())) || (setid && args.len() != 5 && args.len() != 7) {
        return Ok(wrong());
    }
    let read_count = entries_read.and_then(|n| u64::try_from(n).ok());
    let last = x.map_or(StreamId::ZERO, |x| x.last_id());
    let id_arg = |strict: bool| -> Result<StreamId, Reply> {
        match &args[4][..] {
            b"$" => Ok(last),
            b => parse_id(b, 0, strict),
        }
    };
    Ok(match sub.as_str() {
        "create" => {
            let id = id_arg(true)?;
            if g.is_some() {
                return Ok(Reply::err("BUSYGROUP Consumer Group name already exists"));
            }
            let c = GroupChange {
                make_stream: mkstream,
                head: Some(GroupHead {
                    base: id,
                    entries_read: read_count,
                    ..GroupHead::default()
                }),
                ..GroupChange::default()
            };
            change(ctx, key, &name, &c)?;
            ctx.notify(STREAM, "xgroup-create", key);
            Reply::OK
        }
        "setid" => {
            let id = id_arg(false)?;
            let head = g
                .map(Group::head)
                .unwrap_or_default()
                .restart(id, read_count);
            let c = GroupChange {
                head: Some(head),
                ..GroupChange::default()
            };
            change(ctx, key, &name, &c)?;
            ctx.notify(STREAM, "xgroup-setid", key);
            Reply::OK
        }
        "destroy" => {
            if g.is_none() {
                return Ok(Reply::Int(0));
            }
            let c = GroupChange {
                destroy: true,
                ..GroupChange::default()
            };
            change(ctx, key, &name, &c)?;
            ctx.notify(STREAM, "xgroup-destroy", key);
            Reply::Int(1)
        }
        "createconsumer" => {
            let g = g.expect("checked above");
            if g.has_consumer(&args[4]) {
                return Ok(Reply::Int(0));
            }
            let c = GroupChange {
                consumers: vec![(Blob::from(&args[4][..]), Some(ctx.now))],
                ..GroupChange::default()
            };
            change(ctx, key, &name, &c)?;
            ctx.notify(STREAM, "xgroup-createconsumer", key);
            Reply::Int(1)
        }
        "delconsumer" => {
            let g = g.expect("checked above");
            if !g.has_consumer(&args[4]) {
                return Ok(Reply::Int(0));
            }
            let pending: Vec<(StreamId, Option<Pending>)> = g
                .pending_of(&args[4], StreamId::ZERO)
                .map(|(id, _)| (id, None))
                .collect();
            let n = pending.len();
            let c = GroupChange {
                pending,
                consumers: vec![(Blob::from(&args[4][..]), None)],
                ..GroupChange::default()
            };
            change(ctx, key, &name, &c)?;
            ctx.notify(STREAM, "xgroup-delconsumer", key);
            Reply::Int(n as i64)
        }
        _ => crate::cmd::syntax_error(),
    })
}

/// What XREADGROUP reads of one stream.
enum Wanted {
    /// `>`: entries never delivered to the group.
    New,
    /// An id: the consumer's pending entries after it.
    History(StreamId),
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK]
/// STREAMS key [key ...] id [id ...]
pub fn xreadgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let r = parse_read(ctx, args, true)?;
    let (group, consumer) = r.group.expect("parse_read requires GROUP");
    let group = Blob::from(&group[..]);
    let consumer = Blob::from(&consumer[..]);
    let retrying = ctx.conn.blocked_since.is_some();
    let mut wanted = Vec::with_capacity(r.keys.len());
    for (key, id) in r.keys.iter().zip(r.ids) {
        match stream(ctx, key) {
            Ok(Some(x)) if x.group(&group).is_some() => {}
            Ok(Some(_)) if retrying => {
                return Ok(Reply::err(
                    "NOGROUP the consumer group this client was blocked on no longer exists",
                ));
            }
            Ok(None) | Err(_) if retrying => {
                return Ok(Reply::err("UNBLOCKED the stream key no longer exists"));
            }
            Err(e) => return Ok(e),
            Ok(_) => {
                return Ok(Reply::err(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    shown(key),
                    shown(&group)
                )));
            }
        }
        wanted.push(match &id[..] {
            b"$" => {
                return Ok(Reply::err(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            b">" => Wanted::New,
            _ => Wanted::History(strict_id(id)?),
        });
    }
    let count = match r.count {
        0 if retrying => BLOCKED_COUNT,
        0 => usize::MAX,
        n => n,
    };
    let now = ctx.now;
    let mut served = Vec::new();
    for (key, want) in r.keys.iter().zip(wanted) {
        let (x, g) = stream_and_group(ctx, key, &group)?;
        let created = !g.has_consumer(&consumer);
        let mut c = GroupChange {
            consumers: vec![(consumer.clone(), Some(now))],
            ..GroupChange::default()
        };
        let mut entries = Vec::new();
        match want {
            Wanted::New => {
                let mut head = g.head();
                let m = x.meta();
                let picked: Vec<(StreamId, ServerId, Reply)> = x
                    .undelivered(&head)
                    .take(count)
                    .map(|(id, e)| (id, e.tag.dot.server, entry_reply(id, e)))
                    .collect();
                if picked.is_empty() {
                    continue;
                }
                for (id, origin, reply) in picked {
                    if id > head.last_delivered() {
                        if head.entries_read.is_some() && !has_tombstones(x, id) {
                            head.entries_read = head.entries_read.map(|n| n + 1);
                        } else if m.entries_added() != 0 {
                            head.entries_read = estimate_read(x, id);
                        }
                    }
                    head.deliver(id, origin);
                    if !r.noack {
                        let p = Pending {
                            consumer: consumer.clone(),
                            delivered_ms: now,
                            count: 1,
                        };
                        c.pending.push((id, Some(p)));
                    }
                    entries.push(reply);
                }
                c.head = Some(head);
            }
            Wanted::History(after) => {
                let from = after.next().unwrap_or(StreamId::MAX);
                for (id, p) in g.pending_of(&consumer, from).take(count) {
                    match x.get(id) {
                        Some(e) => {
                            entries.push(entry_reply(id, e));
                            let p = Pending {
                                consumer: consumer.clone(),
                                delivered_ms: now,
                                count: p.count + 1,
                            };
                            c.pending.push((id, Some(p)));
                        }
                        None => entries.push(Reply::Array(vec![id_reply(id), Reply::NilArray])),
                    }
                }
            }
        }
        change(ctx, key, &group, &c)?;
        if created {
            ctx.notify(STREAM, "xgroup-createconsumer", key);
        }
        served.push((key.clone(), entries));
    }
    if !served.is_empty() {
        return Ok(streams_reply(ctx, served));
    }
    Ok(wait_or_nil(ctx, r.block, None))
}

/// XACK key group id [id ...]
pub fn xack(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(x) = stream(ctx, &args[1])? else {
        return Ok(Reply::Int(0));
    };
    let Some(g) = x.group(&args[2]) else {
        return Ok(Reply::Int(0));
    };
    let mut ids = args[3..]
        .iter()
        .map(|a| strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort_unstable();
    ids.dedup();
    ids.retain(|id| g.pending_entry(*id).is_some());
    if ids.is_empty() {
        return Ok(Reply::Int(0));
    }
    let n = ids.len();
    let c = GroupChange {
        pending: ids.into_iter().map(|id| (id, None)).collect(),
        ..GroupChange::default()
    };
    change(ctx, &args[1], &Blob::from(&args[2][..]), &c)?;
    Ok(Reply::Int(n as i64))
}
