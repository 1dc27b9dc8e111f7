//! Stream commands (docs/semantics.md, "stream"): `add` (XADD, XTRIM, XDEL, XLEN, XSETID),
//! `read` (XRANGE, XREVRANGE, XREAD), `group` (XGROUP, XREADGROUP, XACK), `pending`
//! (XPENDING, XCLAIM, XAUTOCLAIM) and `info` (XINFO). Here: what they share — stream ids as arguments and in
//! replies, entries in replies, and trimming.

pub mod add;
pub mod group;
pub mod info;
pub mod pending;
pub mod read;

use super::{Ctx, check_type, int_arg, is, syntax_error};
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::Kind;
use gdc_crdt::stream::{Entry, NODE_ENTRIES_MAX, StreamId, StreamPart};
use std::sync::atomic::Ordering;

pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

fn invalid_id() -> Reply {
    Reply::err(INVALID_ID)
}

/// The stream at `key`, if any (WRONGTYPE for another type).
pub(super) fn stream<'a>(ctx: &'a Ctx<'_>, key: &[u8]) -> Result<Option<&'a StreamPart>, Reply> {
    let k = ctx.get(key);
    check_type(k, Kind::Stream)?;
    Ok(k.and_then(|k| k.stream()))
}

/// A number of an id, read as Redis reads it: a canonical integer (not negative), or else
/// what C's `strtoull` accepts of the whole text (leading blanks and zeros, a sign).
pub(super) fn id_part(b: &[u8]) -> Option<u64> {
    if let Some(i) = gdc_crdt::string::parse_i64(b) {
        return u64::try_from(i).ok();
    }
    let s = std::str::from_utf8(b).ok()?;
    let s = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: u64 = digits.parse().ok()?;
    Some(if negative { v.wrapping_neg() } else { v })
}

/// An id argument: `ms-seq`, or `ms` with `missing_seq`. `strict` refuses `-` and `+`.
pub(super) fn parse_id(b: &[u8], missing_seq: u64, strict: bool) -> Result<StreamId, Reply> {
    if b.len() > 127 {
        return Err(invalid_id());
    }
    match b {
        b"-" if !strict => return Ok(StreamId::ZERO),
        b"+" if !strict => return Ok(StreamId::MAX),
        _ => {}
    }
    let (ms, seq) = match b.iter().position(|&c| c == b'-') {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    let ms = id_part(ms).ok_or_else(invalid_id)?;
    let seq = match seq {
        Some(s) => id_part(s).ok_or_else(invalid_id)?,
        None => missing_seq,
    };
    Ok(StreamId::new(ms, seq))
}

/// A strict id with sequence 0 when missing: what most commands take.
pub(super) fn strict_id(b: &[u8]) -> Result<StreamId, Reply> {
    parse_id(b, 0, true)
}

/// A bound of an interval (XRANGE, XPENDING, XAUTOCLAIM): `(` makes it exclusive; a
/// missing sequence is 0 for a start and the largest for an end.
pub(super) fn bound(b: &[u8], start: bool) -> Result<StreamId, Reply> {
    let missing = if start { 0 } else { u64::MAX };
    if b.len() > 1 && b[0] == b'(' {
        let id = parse_id(&b[1..], missing, true)?;
        return if start {
            id.next()
                .ok_or_else(|| Reply::err("ERR invalid start ID for the interval"))
        } else {
            id.prev()
                .ok_or_else(|| Reply::err("ERR invalid end ID for the interval"))
        };
    }
    parse_id(b, missing, false)
}

pub(super) fn id_reply(id: StreamId) -> Reply {
    // `ms-seq` without the formatting machinery: every entry of every read shows its id.
    let (mut ms, mut seq) = ([0; 20], [0; 20]);
    let (ms, seq) = (
        crate::reply::digits(id.ms, &mut ms),
        crate::reply::digits(id.seq, &mut seq),
    );
    let mut text = [0u8; 41];
    text[..ms.len()].copy_from_slice(ms);
    text[ms.len()] = b'-';
    let n = ms.len() + 1 + seq.len();
    text[ms.len() + 1..n].copy_from_slice(seq);
    Reply::Value(gdc_crdt::Blob::from(&text[..n]))
}

/// An entry as every stream reply shows it: `[id, [field, value, ...]]`.
pub(super) fn entry_reply(id: StreamId, e: Entry) -> Reply {
    Reply::Array(vec![
        id_reply(id),
        Reply::Array(e.fields.into_iter().map(Reply::Value).collect()),
    ])
}

/// The first live id of a stream, 0-0 when empty (Redis's recorded-first-entry-id).
pub(super) fn first_id(x: &StreamPart) -> StreamId {
    x.first_entry_id().unwrap_or(StreamId::ZERO)
}

/// Whether a deleted entry may lie at or after `from` (Redis's `streamRangeHasTombstones`
/// to the end of the stream).
pub(super) fn has_tombstones(x: &StreamPart, from: StreamId) -> bool {
    let max_deleted = x.meta().max_deleted;
    if x.is_empty() || max_deleted == StreamId::ZERO || first_id(x) > max_deleted {
        return false;
    }
    from <= max_deleted
}

/// The logical read counter of `id`, `None` when it cannot be told.
pub(super) fn estimate_read(x: &StreamPart, id: StreamId) -> Option<u64> {
    x.counts().estimate_read(id)
}

/// How a stream is trimmed: to a length, or to a smallest id.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Strategy {
    MaxLen(u64),
    MinId(StreamId),
}

/// XADD's and XTRIM's trimming options.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Trim {
    pub strategy: Option<Strategy>,
    /// `~`: only whole nodes go.
    pub approx: bool,
    /// The most entries one trim removes (0: no limit).
    pub limit: u64,
}

/// What XADD's arguments say besides its fields.
#[derive(Debug, Default)]
pub(super) struct AddArgs {
    pub trim: Trim,
    pub nomkstream: bool,
    /// The id argument's index (XADD).
    pub id_at: usize,
}

/// Parse XADD's (`xadd`) or XTRIM's options from `args[2]` on, as Redis does.
pub(super) fn parse_add_or_trim(args: &[Bytes], xadd: bool) -> Result<AddArgs, Reply> {
    let mut out = AddArgs::default();
    let mut limit_given = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let a = &args[i];
        if xadd && &a[..] == b"*" {
            break;
        }
        if (is(a, "maxlen") || is(a, "minid")) && more >= 1 {
            if out.trim.strategy.is_some() {
                return Err(Reply::err(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            let next = &args[i + 1];
            if more >= 2 && (&next[..] == b"~" || &next[..] == b"=") {
                out.trim.approx = &next[..] == b"~";
                i += 1;
            }
            let v = &args[i + 1];
            out.trim.strategy = Some(if is(a, "maxlen") {
                let n = int_arg(v)?;
                if n < 0 {
                    return Err(Reply::err("ERR The MAXLEN argument must be >= 0."));
                }
                Strategy::MaxLen(n as u64)
            } else {
                Strategy::MinId(strict_id(v)?)
            });
            i += 2;
        } else if is(a, "limit") && more >= 1 {
            let n = int_arg(&args[i + 1])?;
            if n < 0 {
                return Err(Reply::err("ERR The LIMIT argument must be >= 0."));
            }
            limit_given = Some(n as u64);
            i += 2;
        } else if xadd && is(a, "nomkstream") {
            out.nomkstream = true;
            i += 1;
        } else if xadd {
            break;
        } else {
            return Err(syntax_error());
        }
    }
    out.id_at = i;
    if limit_given.is_some_and(|n| n > 0) && out.trim.strategy.is_none() {
        return Err(Reply::err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && out.trim.strategy.is_none() {
        return Err(Reply::err(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    match (limit_given, out.trim.approx) {
        (Some(_), false) => {
            return Err(Reply::err(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
        (Some(n), true) => out.trim.limit = n,
        (None, true) => {
            let per_node = NODE_ENTRIES_MAX.load(Ordering::Relaxed) as u64;
            out.trim.limit = match 100u64.saturating_mul(per_node) {
                0 => 10_000,
                n => n.min(1_000_000),
            };
        }
        (None, false) => out.trim.limit = 0,
    }
    Ok(out)
}

/// The ids a trim removes from `x` (with `appended`, an entry XADD is adding at its end,
/// which the trim may remove too), node by node from the head as Redis trims.
pub(super) fn plan_trim(
    x: Option<&StreamPart>,
    appended: Option<StreamId>,
    trim: &Trim,
) -> Vec<StreamId> {
    let Some(strategy) = trim.strategy else {
        return Vec::new();
    };
    // The nodes from the head, read only as far as the trim goes (XADD with MAXLEN reads
    // one or two), with the appended entry where it would go: in the last node if it has
    // room, else in a node of its own.
    let real = x.map(|x| x.layout().nodes());
    let last = real.and_then(|n| n.last_key_value().map(|(f, n)| (*f, n.total)));
    let max = NODE_ENTRIES_MAX.load(Ordering::Relaxed);
    let joins_last = appended.is_some() && last.is_some_and(|(_, total)| max == 0 || total < max);
    let own_node = appended.filter(|_| !joins_last).map(|id| (id, 1, 1));
    let mut nodes = real
        .into_iter()
        .flatten()
        .map(|(f, n)| {
            let grows = joins_last && last.is_some_and(|(l, _)| l == *f);
            (
                *f,
                n.live + usize::from(grows),
                n.total + usize::from(grows),
            )
        })
        .chain(own_node)
        .peekable();
    let mut length = x.map_or(0, |x| x.len()) as u64 + u64::from(appended.is_some());
    // The ids of the node that starts at `from`, the next one starting at `next`.
    let ids_of = |from: StreamId, next: Option<StreamId>| -> Vec<StreamId> {
        let mut ids: Vec<StreamId> = match (x, next) {
            (None, _) => Vec::new(),
            (Some(x), Some(next)) => x.ids(from, next.prev().unwrap_or(StreamId::ZERO)).collect(),
            (Some(x), None) => x.ids(from, StreamId::MAX).collect(),
        };
        if let Some(a) = appended.filter(|a| *a >= from && next.is_none()) {
            ids.push(a);
        }
        ids
    };
    let mut out = Vec::new();
    let mut removed = 0u64;
    while let Some((from, live, _)) = nodes.next() {
        if let Strategy::MaxLen(max) = strategy {
            if length <= max {
                break;
            }
        }
        let live = live as u64;
        if trim.limit != 0 && removed + live > trim.limit {
            break;
        }
        let ids = ids_of(from, nodes.peek().map(|n| n.0));
        let whole = match strategy {
            Strategy::MaxLen(max) => length - live >= max,
            Strategy::MinId(min) => ids.last().is_some_and(|last| *last < min),
        };
        if whole {
            length -= live;
            removed += live;
            out.extend(ids);
            continue;
        }
        if trim.approx {
            break;
        }
        match strategy {
            Strategy::MaxLen(max) => {
                let n = (length - max) as usize;
                out.extend(ids.into_iter().take(n));
            }
            Strategy::MinId(min) => out.extend(ids.into_iter().take_while(|id| *id < min)),
        }
        break;
    }
    out
}
