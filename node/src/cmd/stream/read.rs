//! XRANGE, XREVRANGE and XREAD; the argument grammar XREAD shares with XREADGROUP.

use super::{bound, entry_reply, stream, strict_id};
use crate::cmd::{
    CmdResult, Ctx, block_retrying, int_arg, is, syntax_error, wait_started, waited_on,
};
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::stream::StreamId;

/// XRANGE key start end [COUNT count]
pub fn xrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range(ctx, args, false)
}

/// XREVRANGE key end start [COUNT count]
pub fn xrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range(ctx, args, true)
}

fn range(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult {
    let (start, end) = if rev {
        let start = bound(&args[3], true)?;
        (start, bound(&args[2], false)?)
    } else {
        let start = bound(&args[2], true)?;
        (start, bound(&args[3], false)?)
    };
    let mut count = None;
    let mut i = 4;
    while i < args.len() {
        if is(&args[i], "count") && i + 1 < args.len() {
            count = Some(int_arg(&args[i + 1])?.max(0) as usize);
            i += 2;
        } else {
            return Ok(syntax_error());
        }
    }
    let Some(x) = stream(ctx, &args[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == Some(0) {
        return Ok(Reply::NilArray);
    }
    let n = count.unwrap_or(usize::MAX);
    let entries = x.range(start, end);
    let out: Vec<Reply> = if rev {
        entries
            .rev()
            .take(n)
            .map(|(id, e)| entry_reply(id, e))
            .collect()
    } else {
        entries.take(n).map(|(id, e)| entry_reply(id, e)).collect()
    };
    Ok(Reply::Array(out))
}

/// XREAD's and XREADGROUP's arguments.
pub(super) struct ReadArgs<'a> {
    /// 0: no limit.
    pub count: usize,
    /// BLOCK's milliseconds (0: no limit).
    pub block: Option<u64>,
    pub group: Option<(&'a Bytes, &'a Bytes)>,
    pub noack: bool,
    pub keys: &'a [Bytes],
    pub ids: &'a [Bytes],
    /// Where the ids start in the arguments.
    pub ids_at: usize,
}

/// Parse `[GROUP g c] [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id...` as Redis does.
pub(super) fn parse_read<'a>(
    ctx: &Ctx<'_>,
    args: &'a [Bytes],
    with_group: bool,
) -> Result<ReadArgs<'a>, Reply> {
    let name = if with_group { "XREADGROUP" } else { "XREAD" };
    let mut r = ReadArgs {
        count: 0,
        block: None,
        group: None,
        noack: false,
        keys: &[],
        ids: &[],
        ids_at: 0,
    };
    let mut streams = false;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let a = &args[i];
        if is(a, "block") && more >= 1 {
            if ctx.conn.in_script {
                return Err(Reply::err(format!(
                    "ERR {} command is not allowed with BLOCK option from scripts",
                    String::from_utf8_lossy(&args[0])
                )));
            }
            let ms = gdc_crdt::string::parse_i64(&args[i + 1])
                .ok_or_else(|| Reply::err("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(Reply::err("ERR timeout is negative"));
            }
            r.block = Some(ms as u64);
            i += 2;
        } else if is(a, "count") && more >= 1 {
            r.count = int_arg(&args[i + 1])?.max(0) as usize;
            i += 2;
        } else if is(a, "streams") && more >= 1 {
            let rest = &args[i + 1..];
            if rest.len() % 2 == 1 {
                return Err(Reply::err(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            let half = rest.len() / 2;
            r.keys = &rest[..half];
            r.ids = &rest[half..];
            r.ids_at = i + 1 + half;
            streams = true;
            break;
        } else if is(a, "group") && more >= 2 {
            if !with_group {
                return Err(Reply::err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((&args[i + 1], &args[i + 2]));
            i += 3;
        } else if is(a, "noack") {
            if !with_group {
                return Err(Reply::err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
            i += 1;
        } else {
            return Err(syntax_error());
        }
    }
    if !streams {
        return Err(syntax_error());
    }
    if with_group && r.group.is_none() {
        return Err(Reply::err(format!("ERR Missing GROUP option for {name}")));
    }
    Ok(r)
}

/// The reply of XREAD and XREADGROUP: per stream served, its key and entries (a map in
/// RESP3, pairs in RESP2).
pub(super) fn streams_reply(ctx: &Ctx<'_>, served: Vec<(Bytes, Vec<Reply>)>) -> Reply {
    if ctx.conn.resp >= 3 {
        Reply::Map(
            served
                .into_iter()
                .map(|(k, e)| (Reply::Bulk(k), Reply::Array(e)))
                .collect(),
        )
    } else {
        Reply::Array(
            served
                .into_iter()
                .map(|(k, e)| Reply::Array(vec![Reply::Bulk(k), Reply::Array(e)]))
                .collect(),
        )
    }
}

/// Wait (BLOCK given), retrying `retry` when it differs from the command as given; or
/// answer that nothing was read.
pub(super) fn wait_or_nil(
    ctx: &mut Ctx<'_>,
    block_ms: Option<u64>,
    retry: Option<Vec<Bytes>>,
) -> Reply {
    let Some(ms) = block_ms else {
        return Reply::NilArray;
    };
    let deadline = (ms > 0).then(|| wait_started(ctx) + ms);
    block_retrying(ctx, deadline, Reply::NilArray, retry)
}

/// The most entries a blocked read takes per stream when its COUNT does not say.
pub(super) const BLOCKED_COUNT: usize = 1000;

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
pub fn xread(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let r = parse_read(ctx, args, false)?;
    let retrying = ctx.conn.blocked_since.is_some();
    let mut after = Vec::with_capacity(r.keys.len());
    let mut rewritten: Option<Vec<Bytes>> = None;
    for (i, (key, id)) in r.keys.iter().zip(r.ids).enumerate() {
        let x = waited_on(ctx, stream(ctx, key))?;
        let from = match &id[..] {
            b"$" => {
                let last = x.map_or(StreamId::ZERO, |x| x.last_id());
                rewritten.get_or_insert_with(|| args.to_vec())[r.ids_at + i] =
                    Bytes::from(last.to_string());
                last
            }
            b">" => {
                return Ok(Reply::err(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            _ => strict_id(id)?,
        };
        after.push(from);
    }
    let count = match r.count {
        0 if retrying => BLOCKED_COUNT,
        0 => usize::MAX,
        n => n,
    };
    let mut served = Vec::new();
    for (key, from) in r.keys.iter().zip(after) {
        let Ok(Some(x)) = stream(ctx, key) else {
            continue;
        };
        let Some(start) = from.next() else { continue };
        let entries: Vec<Reply> = x
            .range(start, StreamId::MAX)
            .take(count)
            .map(|(id, e)| entry_reply(id, e))
            .collect();
        if !entries.is_empty() {
            served.push((key.clone(), entries));
        }
    }
    if !served.is_empty() {
        return Ok(streams_reply(ctx, served));
    }
    Ok(wait_or_nil(ctx, r.block, rewritten))
}
