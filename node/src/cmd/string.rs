//! String and counter commands.

use super::{CmdResult, Ctx, check_type, int_arg, is, refused, syntax_error};
use crate::notify::events::{GENERIC, STRING};
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::bits::StrWrite;
use gdc_crdt::ops::{self, SetTtl};
use gdc_crdt::{Blob, Kind, OpError};

/// The value of a string key, `Err(WRONGTYPE)` for another type.
fn read(ctx: &Ctx<'_>, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    Ok(value_in_place(ctx, key)?.map(|v| Bytes::copy_from_slice(&v)))
}

/// The string at `key`, where it lies (no copy): what bitmap and HyperLogLog reads look at.
pub(super) fn value_in_place<'a>(
    ctx: &'a Ctx<'_>,
    key: &[u8],
) -> Result<Option<std::borrow::Cow<'a, [u8]>>, Reply> {
    let k = ctx.get(key);
    check_type(k, Kind::String)?;
    Ok(k.and_then(|k| k.string_value()))
}

/// The length of the string at `key` (0: none), told without building its value where it
/// can be; `Err(WRONGTYPE)` for another type.
fn string_len(ctx: &Ctx<'_>, key: &[u8]) -> Result<usize, Reply> {
    let k = ctx.get(key);
    check_type(k, Kind::String)?;
    Ok(k.and_then(|k| k.string_len()).unwrap_or(0))
}

/// Write `w`, some bytes of a string (APPEND, SETRANGE), keeping its TTL: keyspace event
/// `event`. Replicated as the bytes, not the string (see [`ops::write_bytes`]). Returns the
/// string's length after it.
fn write_bytes(ctx: &mut Ctx<'_>, key: &[u8], w: StrWrite, event: &'static str) -> CmdResult {
    let len = ctx.write(key, |k, now, tag| {
        ops::write_bytes(k, now, tag, w).map(|(e, len)| (Some(e), len))
    })?;
    ctx.notify(STRING, event, key);
    Ok(Reply::Int(len as i64))
}

/// The error of a string that would pass proto-max-bulk-len.
fn too_long() -> Reply {
    Reply::err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
}

/// [`read`] by a write that returns the value it replaces (GETSET, GETDEL, GETEX, SET
/// GET): a missing key is told as a `keymiss`, as Redis's read lookup tells it.
fn read_before_write(ctx: &Ctx<'_>, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    super::tracking::notify_miss(ctx, key);
    read(ctx, key)
}

fn bulk_or_nil(v: Option<Bytes>) -> Reply {
    v.map_or(Reply::Nil, Reply::Bulk)
}

pub fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match value_in_place(ctx, &args[1])? {
        None => Reply::Nil,
        Some(std::borrow::Cow::Borrowed(v)) => Reply::value(v),
        Some(std::borrow::Cow::Owned(v)) => Reply::Bulk(Bytes::from(v)),
    })
}

/// Write a string value: keyspace event `event`, and `expire` when it sets an expiry.
fn put_as(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    value: &[u8],
    ttl: SetTtl,
    event: &'static str,
) -> Result<(), Reply> {
    let value = Blob::from(value);
    ctx.write(key, |k, now, tag| {
        Ok((Some(ops::set(k, now, tag, value, ttl)), ()))
    })?;
    ctx.notify(STRING, event, key);
    if matches!(ttl, SetTtl::At(_)) {
        ctx.notify(GENERIC, "expire", key);
    }
    Ok(())
}

/// Write a string's new value, keeping its TTL, as a command that changes a string in place
/// does (PFADD, PFMERGE): keyspace event `event`, if any.
pub(super) fn rewrite(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    value: &[u8],
    event: Option<&'static str>,
) -> Result<(), Reply> {
    let value = Blob::from(value);
    ctx.write(key, |k, now, tag| {
        Ok((Some(ops::set(k, now, tag, value, SetTtl::Keep)), ()))
    })?;
    if let Some(event) = event {
        ctx.notify(STRING, event, key);
    }
    Ok(())
}

fn put(ctx: &mut Ctx<'_>, key: &[u8], value: &[u8], ttl: SetTtl) -> Result<(), Reply> {
    put_as(ctx, key, value, ttl, "set")
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
pub fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx, mut get, mut ttl) = (false, false, false, None::<SetTtl>);
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        let unit = if is(a, "ex") || is(a, "exat") {
            Some(1000)
        } else if is(a, "px") || is(a, "pxat") {
            Some(1)
        } else {
            None
        };
        if let Some(unit) = unit {
            if ttl.is_some() || i + 1 >= args.len() {
                return Ok(syntax_error());
            }
            let n = int_arg(&args[i + 1])?;
            // EXAT and PXAT give a Unix time; EX and PX a time from now.
            let absolute = a.len() == 4;
            let at_ms = n.checked_mul(unit).and_then(|ms| {
                if absolute {
                    Some(ms)
                } else {
                    ms.checked_add(ctx.now as i64)
                }
            });
            let Some(at_ms) = at_ms.filter(|_| n > 0) else {
                return Ok(Reply::err("ERR invalid expire time in 'set' command"));
            };
            ttl = Some(SetTtl::At(at_ms as u64));
            i += 2;
            continue;
        }
        if is(a, "nx") && !xx {
            nx = true;
        } else if is(a, "xx") && !nx {
            xx = true;
        } else if is(a, "get") {
            get = true;
        } else if is(a, "keepttl") && ttl.is_none() {
            ttl = Some(SetTtl::Keep);
        } else {
            return Ok(syntax_error());
        }
        i += 1;
    }
    let key = &args[1];
    let old = if get {
        read_before_write(ctx, key)?
    } else {
        None
    };
    let exists = (nx || xx) && ctx.get(key).is_some();
    if (nx && exists) || (xx && !exists) {
        return Ok(if get { bulk_or_nil(old) } else { Reply::Nil });
    }
    put(ctx, key, &args[2], ttl.unwrap_or(SetTtl::Clear))?;
    Ok(if get { bulk_or_nil(old) } else { Reply::OK })
}

pub fn setnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx.get(&args[1]).is_some() {
        return Ok(Reply::Int(0));
    }
    put(ctx, &args[1], &args[2], SetTtl::Clear).map(|()| Reply::Int(1))
}

fn set_with_ttl(ctx: &mut Ctx<'_>, args: &[Bytes], unit_ms: i64, name: &str) -> CmdResult {
    let n = int_arg(&args[2])?;
    let Some(at) = n
        .checked_mul(unit_ms)
        .and_then(|ms| ms.checked_add(ctx.now as i64))
        .filter(|_| n > 0)
    else {
        return Ok(Reply::err(format!(
            "ERR invalid expire time in '{name}' command"
        )));
    };
    put(ctx, &args[1], &args[3], SetTtl::At(at as u64)).map(|()| Reply::OK)
}

pub fn setex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_with_ttl(ctx, args, 1000, "setex")
}

pub fn psetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_with_ttl(ctx, args, 1, "psetex")
}

pub fn getset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let old = read_before_write(ctx, &args[1])?;
    put(ctx, &args[1], &args[2], SetTtl::Clear).map(|()| bulk_or_nil(old))
}

pub fn getdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let old = match read_before_write(ctx, &args[1]) {
        Ok(Some(v)) => v,
        Ok(None) => return Ok(Reply::Nil),
        Err(e) => return Err(e),
    };
    Ok(
        match ctx.write(&args[1], |k, _, tag| Ok((ops::delete(k, tag), ()))) {
            Ok(()) => {
                ctx.notify(GENERIC, "del", &args[1]);
                Reply::Bulk(old)
            }
            Err(e) => e,
        },
    )
}

pub fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(
        args[1..]
            .iter()
            .map(|k| bulk_or_nil(read(ctx, k).ok().flatten()))
            .collect(),
    ))
}

pub fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() % 2 == 0 {
        return Ok(super::wrong_arity("mset"));
    }
    for kv in args[1..].chunks(2) {
        put(ctx, &kv[0], &kv[1], SetTtl::Clear)?;
    }
    Ok(Reply::OK)
}

pub fn append(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let len = string_len(ctx, &args[1])?;
    if len + args[2].len() > ctx.config.limits.bulk_bytes_max {
        return Ok(too_long());
    }
    let w = StrWrite::Append(Blob::from(&args[2][..]));
    write_bytes(ctx, &args[1], w, "append")
}

pub fn strlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match string_len(ctx, &args[1]) {
        Ok(len) => Reply::Int(len as i64),
        Err(e) => e,
    })
}

fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], by: i64) -> Reply {
    match ctx.write(key, |k, now, tag| {
        ops::incr_by(k, now, tag, by).map(|(e, v)| (Some(e), v))
    }) {
        Ok(v) => {
            ctx.notify(STRING, "incrby", key);
            Reply::Int(v)
        }
        Err(e) => e,
    }
}

pub fn incr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(incr_by(ctx, &args[1], 1))
}

pub fn decr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(incr_by(ctx, &args[1], -1))
}

pub fn incrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match int_arg(&args[2]) {
        Ok(n) => incr_by(ctx, &args[1], n),
        Err(e) => e,
    })
}

pub fn decrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match int_arg(&args[2]) {
        Ok(n) if n != i64::MIN => incr_by(ctx, &args[1], -n),
        Ok(_) => refused(OpError::Overflow),
        Err(e) => e,
    })
}

pub fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let by = match super::increment_arg(&args[2]) {
        Ok(n) if n.as_f64().is_finite() => n,
        Ok(_) => return Ok(refused(OpError::NanOrInfinity)),
        Err(e) => return Err(e),
    };
    ctx.write(&args[1], |k, now, tag| {
        ops::incr_by_float(k, now, tag, by).map(|(e, v)| (Some(e), v))
    })?;
    ctx.notify(STRING, "incrbyfloat", &args[1]);
    get(ctx, &args[..2])
}

/// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]
pub fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(v) = read_before_write(ctx, &args[1])? else {
        return Ok(Reply::Nil);
    };
    let key = &args[1];
    let r = match &args[2..] {
        [] => Ok(()),
        [p] if is(p, "persist") => {
            let had_ttl = ctx.get(key).and_then(|k| k.expire_at()).is_some();
            ctx.write(key, |k, now, tag| Ok((ops::persist(k, now, tag), ())))
                .map(|()| {
                    if had_ttl {
                        ctx.notify(GENERIC, "persist", key);
                    }
                })
        }
        [unit, n] => {
            let ms = match int_arg(n) {
                Ok(n) if n > 0 => n,
                Ok(_) => return Ok(Reply::err("ERR invalid expire time in 'getex' command")),
                Err(e) => return Err(e),
            };
            let at = if is(unit, "ex") {
                ms.checked_mul(1000)
                    .and_then(|m| m.checked_add(ctx.now as i64))
            } else if is(unit, "px") {
                ms.checked_add(ctx.now as i64)
            } else if is(unit, "exat") {
                ms.checked_mul(1000)
            } else if is(unit, "pxat") {
                Some(ms)
            } else {
                return Ok(syntax_error());
            };
            let Some(at) = at else {
                return Ok(Reply::err("ERR invalid expire time in 'getex' command"));
            };
            let event = if at <= ctx.now as i64 {
                ctx.write(key, |k, _, tag| Ok((ops::delete(k, tag), ())))
                    .map(|()| "del")
            } else {
                ctx.write(key, |k, now, tag| {
                    Ok((ops::expire(k, now, tag, at as u64), ()))
                })
                .map(|()| "expire")
            };
            event.map(|e| ctx.notify(GENERIC, e, key))
        }
        _ => return Ok(syntax_error()),
    };
    r.map(|()| Reply::Bulk(v))
}

pub fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (s, e) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(s), Ok(e)) => (s, e),
        _ => return Ok(refused(OpError::NotInteger)),
    };
    // Only the range is copied, not the whole value.
    Ok(match value_in_place(ctx, &args[1]) {
        Ok(v) => {
            let v = v.unwrap_or_default();
            Reply::bulk(Bytes::copy_from_slice(
                &v[super::index_range(v.len(), s, e)],
            ))
        }
        Err(e) => e,
    })
}

pub fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let offset = match int_arg(&args[2]) {
        Ok(o) if o >= 0 => o as usize,
        Ok(_) => return Ok(Reply::err("ERR offset is out of range")),
        Err(e) => return Err(e),
    };
    if offset + args[3].len() > ctx.config.limits.bulk_bytes_max {
        return Ok(too_long());
    }
    let len = string_len(ctx, &args[1])?;
    if args[3].is_empty() {
        return Ok(Reply::Int(len as i64));
    }
    let w = StrWrite::Range {
        offset: offset as u64,
        bytes: Blob::from(&args[3][..]),
    };
    write_bytes(ctx, &args[1], w, "setrange")
}

pub fn msetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() % 2 == 0 {
        return Ok(super::wrong_arity("msetnx"));
    }
    if args[1..].chunks(2).any(|kv| ctx.get(&kv[0]).is_some()) {
        return Ok(Reply::Int(0));
    }
    Ok(match mset(ctx, args)? {
        Reply::Status(_) => Reply::Int(1),
        other => other,
    })
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the longest common
/// subsequence of two strings, its length, or where its runs are in each (Redis's dynamic
/// programming, walked back from the end, so runs come last to first).
pub fn lcs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let string = |key: &[u8]| match ctx.get(key) {
        None => Ok(Bytes::new()),
        Some(k) if k.kind() == Some(gdc_crdt::Kind::String) => {
            Ok(Bytes::from(k.string_value().unwrap_or_default().to_vec()))
        }
        Some(_) => Err(Reply::err(
            "ERR The specified keys must contain string values",
        )),
    };
    let (a, b) = (string(&args[1])?, string(&args[2])?);
    let (mut idx, mut len, mut with_len, mut min_len) = (false, false, false, 0u64);
    let mut i = 3;
    while i < args.len() {
        let opt = &args[i];
        if is(opt, "idx") {
            idx = true;
        } else if is(opt, "len") {
            len = true;
        } else if is(opt, "withmatchlen") {
            with_len = true;
        } else if is(opt, "minmatchlen") && i + 1 < args.len() {
            min_len = int_arg(&args[i + 1])?.max(0) as u64;
            i += 1;
        } else {
            return Ok(syntax_error());
        }
        i += 1;
    }
    if idx && len {
        return Ok(Reply::err(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    if cells.saturating_mul(4) > ctx.config.limits.bulk_bytes_max as u64 {
        return Ok(Reply::err(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let table = LcsTable::new(&a, &b);
    if len {
        return Ok(Reply::Int(i64::from(table.at(a.len(), b.len()))));
    }
    let (common, runs) = table.walk(&a, &b);
    if !idx {
        return Ok(Reply::Bulk(Bytes::from(common)));
    }
    let pair = |s: usize, e: usize| Reply::Array(vec![Reply::Int(s as i64), Reply::Int(e as i64)]);
    let matches = runs
        .into_iter()
        .filter(|r| min_len == 0 || r.len() >= min_len)
        .map(|r| {
            let mut m = vec![pair(r.a.0, r.a.1), pair(r.b.0, r.b.1)];
            if with_len {
                m.push(Reply::Int(r.len() as i64));
            }
            Reply::Array(m)
        })
        .collect();
    Ok(Reply::Map(vec![
        (Reply::bulk("matches"), Reply::Array(matches)),
        (
            Reply::bulk("len"),
            Reply::Int(i64::from(table.at(a.len(), b.len()))),
        ),
    ]))
}

/// LCS lengths of every pair of prefixes of `a` and `b`.
struct LcsTable {
    width: usize,
    cells: Vec<u32>,
}

/// A run of the common subsequence: where it is in each string (first and last index).
struct LcsRun {
    a: (usize, usize),
    b: (usize, usize),
}

impl LcsRun {
    fn len(&self) -> u64 {
        (self.a.1 - self.a.0 + 1) as u64
    }
}

impl LcsTable {
    fn new(a: &[u8], b: &[u8]) -> LcsTable {
        let width = b.len() + 1;
        let mut t = LcsTable {
            width,
            cells: vec![0; (a.len() + 1) * width],
        };
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                t.cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    t.at(i - 1, j - 1) + 1
                } else {
                    t.at(i - 1, j).max(t.at(i, j - 1))
                };
            }
        }
        t
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// The common subsequence, and its runs from last to first, as Redis walks back.
    fn walk(&self, a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<LcsRun>) {
        let mut common = vec![0u8; self.at(a.len(), b.len()) as usize];
        let mut left = common.len();
        let mut runs = Vec::new();
        let mut run: Option<LcsRun> = None;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 && j > 0 {
            let mut emit = false;
            if a[i - 1] == b[j - 1] {
                common[left - 1] = a[i - 1];
                left -= 1;
                match &mut run {
                    None => {
                        run = Some(LcsRun {
                            a: (i - 1, i - 1),
                            b: (j - 1, j - 1),
                        })
                    }
                    // Contiguous with the run: it extends backward.
                    Some(r) if r.a.0 == i && r.b.0 == j => {
                        r.a.0 -= 1;
                        r.b.0 -= 1;
                    }
                    Some(_) => emit = true,
                }
                if run.as_ref().is_some_and(|r| r.a.0 == 0 || r.b.0 == 0) {
                    emit = true;
                }
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit = run.is_some();
            }
            if emit {
                runs.extend(run.take());
            }
        }
        (common, runs)
    }
}
