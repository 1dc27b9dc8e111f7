//! Set commands.

use super::{Ctx, check_type};
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::set::SetPart;
use gdc_crdt::{Blob, Kind, ops};

fn read<'a>(ctx: &'a Ctx<'_>, key: &[u8]) -> Result<Option<&'a SetPart>, Reply> {
    let k = ctx.get(key);
    check_type(k, Kind::Set)?;
    Ok(k.and_then(|k| k.set()))
}

fn blobs(args: &[Bytes]) -> Vec<Blob> {
    args.iter().map(|a| Blob::from(&a[..])).collect()
}

pub fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let m = blobs(&args[2..]);
    match ctx.write(&args[1], |k, now, tag| {
        ops::sadd(k, now, tag, &m).map(|(e, n)| (Some(e), n))
    }) {
        Ok(n) => Reply::Int(n as i64),
        Err(e) => e,
    }
}

pub fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let m = blobs(&args[2..]);
    match ctx.write(&args[1], |k, now, tag| ops::srem(k, now, tag, &m)) {
        Ok(n) => Reply::Int(n as i64),
        Err(e) => e,
    }
}

pub fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match read(ctx, &args[1]) {
        Ok(s) => Reply::Set(
            s.into_iter()
                .flat_map(|s| s.members())
                .map(|m| Reply::bulk(Bytes::copy_from_slice(m)))
                .collect(),
        ),
        Err(e) => e,
    }
}

pub fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match read(ctx, &args[1]) {
        Ok(s) => Reply::Int(s.is_some_and(|s| s.contains(&args[2])) as i64),
        Err(e) => e,
    }
}

pub fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match read(ctx, &args[1]) {
        Ok(s) => Reply::Array(
            args[2..]
                .iter()
                .map(|m| Reply::Int(s.is_some_and(|s| s.contains(m)) as i64))
                .collect(),
        ),
        Err(e) => e,
    }
}

pub fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match read(ctx, &args[1]) {
        Ok(s) => Reply::Int(s.map_or(0, |s| s.len() as i64)),
        Err(e) => e,
    }
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
pub fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let a = match super::keys::scan_args(&args[2..], false) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let s = match read(ctx, &args[1]) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let items = s
        .into_iter()
        .flat_map(|s| s.members())
        .map(|m| (m.as_slice(), ()));
    let (next, batch) = crate::scan::scan(items, a.cursor, a.count);
    let out = batch
        .into_iter()
        .filter(|(m, ())| {
            a.pattern
                .as_ref()
                .is_none_or(|p| crate::glob::matches(p, m))
        })
        .map(|(m, ())| Reply::bulk(Bytes::copy_from_slice(m)))
        .collect();
    super::keys::scan_reply(next, out)
}
