//! A group's pending entries: XPENDING reads them; XCLAIM and XAUTOCLAIM hand them to
//! another consumer, writes replicated to every region (docs/semantics.md, "stream").

use super::group::{change, shown, stream_and_group};
use super::{bound, entry_reply, id_reply, strict_id};
use crate::cmd::{CmdResult, Ctx, int_arg, is, syntax_error};
use crate::notify::events::STREAM;
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::Blob;
use gdc_crdt::ops::GroupChange;
use gdc_crdt::stream::{Pending, StreamId};
use std::collections::BTreeMap;

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
pub fn xpending(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = args.len();
    if n != 3 && !(6..=9).contains(&n) {
        return Ok(syntax_error());
    }
    let mut extended = None;
    if n >= 6 {
        let mut i = 3;
        let mut min_idle = 0;
        if is(&args[3], "idle") {
            min_idle = int_arg(&args[4])?;
            if n < 8 {
                return Ok(syntax_error());
            }
            i = 5;
        }
        let count = int_arg(&args[i + 2])?.max(0) as usize;
        let start = bound(&args[i], true)?;
        let end = bound(&args[i + 1], false)?;
        extended = Some((min_idle, start, end, count, args.get(i + 3)));
    }
    let (_, g) = stream_and_group(ctx, &args[1], &args[2])?;
    let now = ctx.now as i64;
    let Some((min_idle, start, end, count, consumer)) = extended else {
        let pending: Vec<_> = g.pending().collect();
        let (Some(first), Some(last)) = (pending.first(), pending.last()) else {
            return Ok(Reply::Array(vec![
                Reply::Int(0),
                Reply::Nil,
                Reply::Nil,
                Reply::NilArray,
            ]));
        };
        let mut per: BTreeMap<&Blob, u64> = BTreeMap::new();
        for (_, p) in &pending {
            *per.entry(&p.consumer).or_default() += 1;
        }
        return Ok(Reply::Array(vec![
            Reply::Int(pending.len() as i64),
            id_reply(first.0),
            id_reply(last.0),
            Reply::Array(
                per.into_iter()
                    .map(|(c, n)| {
                        Reply::Array(vec![
                            Reply::bulk(Bytes::copy_from_slice(c)),
                            Reply::bulk(n.to_string()),
                        ])
                    })
                    .collect(),
            ),
        ]));
    };
    if let Some(c) = consumer {
        if !g.has_consumer(c) {
            return Ok(Reply::Array(Vec::new()));
        }
    }
    let out: Vec<Reply> = g
        .pending_from(start)
        .take_while(|(id, _)| *id <= end)
        .filter(|(_, p)| consumer.is_none_or(|c| p.consumer.as_slice() == &c[..]))
        .filter(|(_, p)| min_idle == 0 || now - p.delivered_ms as i64 >= min_idle)
        .take(count)
        .map(|(id, p)| {
            Reply::Array(vec![
                id_reply(id),
                Reply::bulk(Bytes::copy_from_slice(&p.consumer)),
                Reply::Int((now - p.delivered_ms as i64).max(0)),
                Reply::Int(p.count as i64),
            ])
        })
        .collect();
    Ok(Reply::Array(out))
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-ms]
/// [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
pub fn xclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (x, g) = stream_and_group(ctx, &args[1], &args[2])?;
    let min_idle = gdc_crdt::string::parse_i64(&args[4])
        .ok_or_else(|| Reply::err("ERR Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let mut i = 5;
    let mut ids = Vec::new();
    while let Some(a) = args.get(i) {
        match strict_id(a) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        i += 1;
    }
    let now = ctx.now as i64;
    let (mut force, mut justid) = (false, false);
    let (mut time, mut retry, mut last_id) = (None::<i64>, None::<i64>, None);
    while let Some(a) = args.get(i) {
        let value = args.get(i + 1);
        let opt_int = |what: &str| -> Result<i64, Reply> {
            value
                .and_then(|v| gdc_crdt::string::parse_i64(v))
                .ok_or_else(|| Reply::err(format!("ERR Invalid {what} option argument for XCLAIM")))
        };
        if is(a, "force") {
            force = true;
        } else if is(a, "justid") {
            justid = true;
        } else if is(a, "idle") && value.is_some() {
            time = Some(now - opt_int("IDLE")?);
            i += 1;
        } else if is(a, "time") && value.is_some() {
            time = Some(opt_int("TIME")?);
            i += 1;
        } else if is(a, "retrycount") && value.is_some() {
            retry = Some(opt_int("RETRYCOUNT")?);
            i += 1;
        } else if is(a, "lastid") && value.is_some() {
            last_id = Some(strict_id(value.expect("checked"))?);
            i += 1;
        } else {
            return Ok(Reply::err(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                shown(a)
            )));
        }
        i += 1;
    }
    let delivered = match time {
        Some(t) if t >= 0 && t <= now => t as u64,
        _ => now as u64,
    };
    let consumer = Blob::from(&args[3][..]);
    let mut c = GroupChange::default();
    if let Some(l) = last_id {
        let mut head = g.head();
        if l > head.last_delivered() {
            head.base = head.base.max(l);
            c.head = Some(head);
        }
    }
    // The pending entries as this command leaves them (an id may be named twice).
    let mut now_pending: BTreeMap<StreamId, Option<Pending>> = BTreeMap::new();
    let mut out = Vec::new();
    for id in ids {
        let cur = match now_pending.get(&id) {
            Some(p) => p.clone(),
            None => g.pending_entry(id).cloned(),
        };
        let Some(entry) = x.get(id) else {
            if cur.is_some() {
                now_pending.insert(id, None);
            }
            continue;
        };
        let (cur, forced) = match cur {
            Some(p) => (p, false),
            None if force => (
                Pending {
                    consumer: consumer.clone(),
                    delivered_ms: now as u64,
                    count: 1,
                },
                true,
            ),
            None => continue,
        };
        if !forced && min_idle > 0 && now - (cur.delivered_ms as i64) < min_idle {
            continue;
        }
        let count = match retry {
            Some(n) if n >= 0 => n as u64,
            _ if justid => cur.count,
            _ => cur.count + 1,
        };
        now_pending.insert(
            id,
            Some(Pending {
                consumer: consumer.clone(),
                delivered_ms: delivered,
                count,
            }),
        );
        out.push(if justid {
            id_reply(id)
        } else {
            entry_reply(id, entry)
        });
    }
    let created = !out.is_empty() && !g.has_consumer(&consumer);
    if !out.is_empty() {
        c.consumers.push((consumer, Some(ctx.now)));
    }
    c.pending = now_pending.into_iter().collect();
    if c.head.is_some() || !c.pending.is_empty() || !c.consumers.is_empty() {
        change(ctx, &args[1], &Blob::from(&args[2][..]), &c)?;
    }
    if created {
        ctx.notify(STREAM, "xgroup-createconsumer", &args[1]);
    }
    Ok(Reply::Array(out))
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
pub fn xautoclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let min_idle = gdc_crdt::string::parse_i64(&args[4])
        .ok_or_else(|| Reply::err("ERR Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = bound(&args[5], true)?;
    let (mut count, mut justid) = (100usize, false);
    let mut i = 6;
    while let Some(a) = args.get(i) {
        if is(a, "count") && i + 1 < args.len() {
            count = match gdc_crdt::string::parse_i64(&args[i + 1]) {
                Some(n) if (1..=i64::MAX / 16).contains(&n) => n as usize,
                _ => return Ok(Reply::err("ERR COUNT must be > 0")),
            };
            i += 2;
        } else if is(a, "justid") {
            justid = true;
            i += 1;
        } else {
            return Ok(syntax_error());
        }
    }
    let (x, g) = stream_and_group(ctx, &args[1], &args[2])?;
    let now = ctx.now;
    let consumer = Blob::from(&args[3][..]);
    let mut attempts = count.saturating_mul(10);
    let mut c = GroupChange::default();
    let (mut claimed, mut deleted) = (Vec::new(), Vec::new());
    let mut pel = g.pending_from(start).peekable();
    while attempts > 0 && count > 0 {
        let Some((id, p)) = pel.next() else { break };
        attempts -= 1;
        let Some(entry) = x.get(id) else {
            c.pending.push((id, None));
            deleted.push(id_reply(id));
            count -= 1;
            continue;
        };
        if min_idle > 0 && (now as i64 - p.delivered_ms as i64) < min_idle {
            continue;
        }
        let pending = Pending {
            consumer: consumer.clone(),
            delivered_ms: now,
            count: if justid { p.count } else { p.count + 1 },
        };
        c.pending.push((id, Some(pending)));
        claimed.push(if justid {
            id_reply(id)
        } else {
            entry_reply(id, entry)
        });
        count -= 1;
    }
    let cursor = pel.peek().map_or(StreamId::ZERO, |(id, _)| *id);
    drop(pel);
    let created = !claimed.is_empty() && !g.has_consumer(&consumer);
    if !claimed.is_empty() {
        c.consumers.push((consumer, Some(now)));
    }
    if !c.pending.is_empty() {
        change(ctx, &args[1], &Blob::from(&args[2][..]), &c)?;
    }
    if created {
        ctx.notify(STREAM, "xgroup-createconsumer", &args[1]);
    }
    Ok(Reply::Array(vec![
        id_reply(cursor),
        Reply::Array(claimed),
        Reply::Array(deleted),
    ]))
}
