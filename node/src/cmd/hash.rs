//! Hash commands.

use super::{CmdResult, Ctx, check_type, int_arg, wrong_arity};
use crate::notify::events::HASH;
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::hash::{FieldRef, HashRef};
use gdc_crdt::{Blob, Kind, ops};

fn read<'a>(ctx: &'a Ctx<'_>, key: &[u8]) -> Result<Option<HashRef<'a>>, Reply> {
    let k = ctx.get(key);
    check_type(k, Kind::Hash)?;
    Ok(k.and_then(|k| k.hash()))
}

fn field(h: Option<HashRef<'_>>, f: &[u8]) -> Option<Bytes> {
    h.and_then(|h| h.get(f))
        .map(|f| Bytes::copy_from_slice(&f.value()))
}

/// Field-value pairs: one, the common case, without allocating.
fn pairs(args: &[Bytes]) -> smallvec::SmallVec<[(Blob, Blob); 1]> {
    args.chunks(2)
        .map(|kv| (Blob::from(&kv[0][..]), Blob::from(&kv[1][..])))
        .collect()
}

fn write_fields(ctx: &mut Ctx<'_>, key: &[u8], pairs: &[(Blob, Blob)]) -> Result<usize, Reply> {
    let n = ctx.write(key, |k, now, tag| {
        ops::hset(k, now, tag, pairs).map(|(e, n)| (Some(e), n))
    })?;
    ctx.notify(HASH, "hset", key);
    Ok(n)
}

pub fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() % 2 == 1 {
        return Ok(wrong_arity("hset"));
    }
    write_fields(ctx, &args[1], &pairs(&args[2..])).map(|n| Reply::Int(n as i64))
}

pub fn hmset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() % 2 == 1 {
        return Ok(wrong_arity("hmset"));
    }
    write_fields(ctx, &args[1], &pairs(&args[2..])).map(|_| Reply::OK)
}

pub fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match read(ctx, &args[1]) {
        Ok(h) if h.and_then(|h| h.get(&args[2])).is_some() => Reply::Int(0),
        Ok(_) => {
            write_fields(ctx, &args[1], &pairs(&args[2..4])).map_or_else(|e| e, |_| Reply::Int(1))
        }
        Err(e) => e,
    })
}

pub fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match read(ctx, &args[1]) {
        Ok(h) => field(h, &args[2]).map_or(Reply::Nil, Reply::Bulk),
        Err(e) => e,
    })
}

pub fn hmget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match read(ctx, &args[1]) {
        Ok(h) => Reply::Array(
            args[2..]
                .iter()
                .map(|f| field(h, f).map_or(Reply::Nil, Reply::Bulk))
                .collect(),
        ),
        Err(e) => e,
    })
}

pub fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let names: Vec<Blob> = args[2..].iter().map(|f| Blob::from(&f[..])).collect();
    Ok(
        match ctx.write(&args[1], |k, now, tag| ops::hdel(k, now, tag, &names)) {
            Ok(n) => {
                if n > 0 {
                    ctx.notify(HASH, "hdel", &args[1]);
                    ctx.notify_if_gone(&args[1]);
                }
                Reply::Int(n as i64)
            }
            Err(e) => e,
        },
    )
}

pub fn hexists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match read(ctx, &args[1]) {
        Ok(h) => Reply::Int(h.and_then(|h| h.get(&args[2])).is_some() as i64),
        Err(e) => e,
    })
}

pub fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match read(ctx, &args[1]) {
        Ok(h) => Reply::Int(h.map_or(0, |h| h.len() as i64)),
        Err(e) => e,
    })
}

/// Redis's `hash-max-listpack-entries` default: up to this many fields, its hashes keep
/// the order fields were added in.
const SMALL_HASH_FIELDS: usize = 128;

fn listing(ctx: &Ctx<'_>, key: &[u8], keys: bool, vals: bool) -> Reply {
    let h = match read(ctx, key) {
        Ok(h) => h,
        Err(e) => return e,
    };
    // A small hash lists its fields in the order they were written, as Redis's listpack
    // does; a large one in no set order, as Redis's hash table.
    let fields = match h {
        None => Vec::new(),
        Some(h) if h.len() <= SMALL_HASH_FIELDS => h.fields_in_order(),
        Some(h) => h.fields().collect(),
    };
    let mut out = Vec::new();
    let mut map = Vec::new();
    for (name, f) in fields {
        let n = Reply::value(name);
        let v = Reply::value(&f.value());
        match (keys, vals) {
            (true, true) => map.push((n, v)),
            (true, false) => out.push(n),
            _ => out.push(v),
        }
    }
    if keys && vals {
        Reply::Map(map)
    } else {
        Reply::Array(out)
    }
}

pub fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(listing(ctx, &args[1], true, false))
}

pub fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(listing(ctx, &args[1], false, true))
}

pub fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(listing(ctx, &args[1], true, true))
}

pub fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let by = int_arg(&args[3])?;
    let name = Blob::from(&args[2][..]);
    Ok(
        match ctx.write(&args[1], |k, now, tag| {
            ops::hincr_by(k, now, tag, &name, by).map(|(e, v)| (Some(e), v))
        }) {
            Ok(v) => {
                ctx.notify(HASH, "hincrby", &args[1]);
                Reply::Int(v)
            }
            Err(e) => e,
        },
    )
}

pub fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    // An infinite increment is refused as such (Redis 7.0's words differ from INCRBYFLOAT's).
    let by = super::increment_arg(&args[3])?;
    if !by.as_f64().is_finite() {
        return Ok(Reply::err("ERR value is NaN or Infinity"));
    }
    let name = Blob::from(&args[2][..]);
    ctx.write(&args[1], |k, now, tag| {
        ops::hincr_by_float(k, now, tag, &name, by).map(|(e, v)| (Some(e), v))
    })?;
    ctx.notify(HASH, "hincrbyfloat", &args[1]);
    hget(ctx, &args[..3])
}

pub fn hstrlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match read(ctx, &args[1]) {
        Ok(h) => Reply::Int(
            h.and_then(|h| h.get(&args[2]))
                .map_or(0, |f| f.value().len() as i64),
        ),
        Err(e) => e,
    })
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
pub fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let a = super::keys::scan_args(&args[2..], false)?;
    let h = read(ctx, &args[1])?;
    let held = h.map_or(0, |h| h.held());
    let (next, batch) = crate::scan::scan(held, a.cursor, a.count, |i| h?.live_at(i));
    let mut out = Vec::new();
    for (n, f) in batch {
        if a.pattern
            .as_ref()
            .is_none_or(|p| crate::glob::matches(p, n))
        {
            out.push(Reply::value(n));
            out.push(Reply::value(&f.value()));
        }
    }
    Ok(super::keys::scan_reply(next, out))
}

/// HRANDFIELD key [count [WITHVALUES]]: a negative count may repeat fields.
pub fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let values = match args.get(3) {
        None => false,
        Some(a) if super::is(a, "withvalues") => true,
        Some(_) => return Ok(super::syntax_error()),
    };
    if args.len() > 4 {
        return Ok(super::syntax_error());
    }
    let count = args
        .get(2)
        .map(|c| super::picks_count(c, values))
        .transpose()?;
    let hash = read(ctx, &args[1])?;
    // A pick reads the field at its position in the table, where every field held is live
    // (as usual); else the live ones are listed first.
    let listed: Vec<(&[u8], FieldRef<'_>)> = match hash {
        Some(h) if !h.all_live() => h.fields().collect(),
        _ => Vec::new(),
    };
    let at = |i: usize| match hash {
        Some(h) if h.all_live() => h.live_at(i),
        _ => listed.get(i).copied(),
    };
    let n = hash.map_or(0, HashRef::len);
    let Some(count) = count else {
        return Ok(match at(super::random_below(n.max(1))) {
            Some((name, _)) if n > 0 => Reply::value(name),
            _ => Reply::Nil,
        });
    };
    let picks = super::random_picks(n, count)?;
    let mut out = Vec::new();
    for (name, f) in picks.into_iter().filter_map(at) {
        let (field, value) = (Reply::value(name), Reply::value(&f.value()));
        match (values, ctx.conn.resp) {
            (false, _) => out.push(field),
            // RESP3: each field with its value, as a pair.
            (true, 3) => out.push(Reply::Array(vec![field, value])),
            (true, _) => out.extend([field, value]),
        }
    }
    Ok(Reply::Array(out))
}
