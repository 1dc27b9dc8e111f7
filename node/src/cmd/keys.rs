//! Key commands: DEL, EXISTS, TYPE, the EXPIRE family, TTL, PERSIST, KEYS.

use super::{CmdResult, Ctx, int_arg, is};
use crate::engine::eviction::{Access, Clock};
use crate::notify::events::GENERIC;
use crate::reply::Reply;
use bytes::Bytes;
use gdc_crdt::ops;

pub fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut n = 0;
    for key in &args[1..] {
        let existed = ctx.get(key).is_some();
        let r = ctx.write(key, |k, _, tag| Ok((ops::delete(k, tag), ())));
        r?;
        if existed {
            ctx.notify(GENERIC, "del", key);
        }
        n += existed as i64;
    }
    Ok(Reply::Int(n))
}

/// EXISTS reads without using the keys (their access words stay); TOUCH uses them.
pub fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(
        args[1..].iter().filter(|k| ctx.peek(k).is_some()).count() as i64,
    ))
}

pub fn type_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let name = ctx
        .peek(&args[1])
        .and_then(|k| k.kind())
        .map_or("none", |k| k.name());
    Ok(Reply::Status(name))
}

/// EXPIRE family: `at_ms` computed by the caller; NX XX GT LT judged here, as Redis does.
fn expire_at(ctx: &mut Ctx<'_>, args: &[Bytes], at_ms: Option<i64>) -> CmdResult {
    let Some(at_ms) = at_ms else {
        return Ok(Reply::err(format!(
            "ERR invalid expire time in '{}' command",
            String::from_utf8_lossy(&args[0]).to_ascii_lowercase()
        )));
    };
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &args[3..] {
        match () {
            _ if is(a, "nx") => nx = true,
            _ if is(a, "xx") => xx = true,
            _ if is(a, "gt") => gt = true,
            _ if is(a, "lt") => lt = true,
            _ => {
                return Ok(Reply::err(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(a)
                )));
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Ok(Reply::err(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Ok(Reply::err(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let key = &args[1];
    let Some(k) = ctx.get(key) else {
        return Ok(Reply::Int(0));
    };
    let cur = k.expire_at();
    let ok = match cur {
        None => !xx && !gt,
        Some(t) => !nx && (!gt || at_ms > t as i64) && (!lt || at_ms < t as i64),
    };
    if !ok {
        return Ok(Reply::Int(0));
    }
    let now = ctx.now as i64;
    let r = if at_ms <= now {
        ctx.write(key, |k, _, tag| Ok((ops::delete(k, tag), ())))
            .map(|()| "del")
    } else {
        ctx.write(key, |k, now, tag| {
            Ok((ops::expire(k, now, tag, at_ms as u64), ()))
        })
        .map(|()| "expire")
    };
    Ok(match r {
        Ok(event) => {
            ctx.notify(GENERIC, event, key);
            Reply::Int(1)
        }
        Err(e) => e,
    })
}

fn relative(ctx: &Ctx<'_>, arg: &[u8], unit_ms: i64) -> Result<Option<i64>, Reply> {
    let n = int_arg(arg)?;
    Ok(n.checked_mul(unit_ms)
        .and_then(|ms| ms.checked_add(ctx.now as i64)))
}

fn absolute(arg: &[u8], unit_ms: i64) -> Result<Option<i64>, Reply> {
    let n = int_arg(arg)?;
    Ok(n.checked_mul(unit_ms))
}

pub fn expire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let at = relative(ctx, &args[2], 1000)?;
    expire_at(ctx, args, at)
}

pub fn pexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let at = relative(ctx, &args[2], 1)?;
    expire_at(ctx, args, at)
}

pub fn expireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let at = absolute(&args[2], 1000)?;
    expire_at(ctx, args, at)
}

pub fn pexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let at = absolute(&args[2], 1)?;
    expire_at(ctx, args, at)
}

/// Milliseconds left: -2 when absent, -1 without TTL.
fn ttl_ms(ctx: &Ctx<'_>, key: &[u8]) -> i64 {
    match ctx.peek(key) {
        None => -2,
        Some(k) => k
            .expire_at()
            .map_or(-1, |t| (t as i64 - ctx.now as i64).max(0)),
    }
}

pub fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ms = ttl_ms(ctx, &args[1]);
    Ok(Reply::Int(if ms < 0 { ms } else { (ms + 500) / 1000 }))
}

pub fn pttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ttl_ms(ctx, &args[1])))
}

fn expire_time(ctx: &Ctx<'_>, key: &[u8]) -> i64 {
    match ctx.peek(key) {
        None => -2,
        Some(k) => k.expire_at().map_or(-1, |t| t as i64),
    }
}

pub fn expiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let t = expire_time(ctx, &args[1]);
    Ok(Reply::Int(if t < 0 { t } else { t / 1000 }))
}

pub fn pexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(expire_time(ctx, &args[1])))
}

pub fn persist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let has_ttl = ctx.get(&args[1]).is_some_and(|k| k.expire_at().is_some());
    if !has_ttl {
        return Ok(Reply::Int(0));
    }
    Ok(
        match ctx.write(&args[1], |k, now, tag| Ok((ops::persist(k, now, tag), ()))) {
            Ok(()) => {
                ctx.notify(GENERIC, "persist", &args[1]);
                Reply::Int(1)
            }
            Err(e) => e,
        },
    )
}

pub fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pat = &args[1];
    let out: Vec<Reply> = ctx
        .store
        .db(ctx.conn.db)
        .iter()
        .filter(|(key, k)| k.exists(ctx.now) && crate::glob::matches(pat, key))
        .map(|(key, _)| Reply::bulk(Bytes::copy_from_slice(key)))
        .collect();
    Ok(Reply::Array(out))
}

/// Parsed SCAN-family options.
pub struct ScanArgs {
    pub cursor: u64,
    pub pattern: Option<Bytes>,
    pub count: usize,
    pub kind: Option<Bytes>,
}

/// Parse `cursor [MATCH pattern] [COUNT count] [TYPE type]` (TYPE only when `with_type`).
pub fn scan_args(args: &[Bytes], with_type: bool) -> Result<ScanArgs, Reply> {
    let cursor = std::str::from_utf8(&args[0])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| Reply::err("ERR invalid cursor"))?;
    let mut a = ScanArgs {
        cursor,
        pattern: None,
        count: 10,
        kind: None,
    };
    let mut i = 1;
    while i < args.len() {
        let Some(v) = args.get(i + 1) else {
            return Err(super::syntax_error());
        };
        if is(&args[i], "match") {
            a.pattern = Some(v.clone());
        } else if is(&args[i], "count") {
            a.count = match int_arg(v)? {
                n if n >= 1 => n as usize,
                _ => return Err(super::syntax_error()),
            };
        } else if with_type && is(&args[i], "type") {
            a.kind = Some(v.clone());
        } else {
            return Err(super::syntax_error());
        }
        i += 2;
    }
    Ok(a)
}

/// The reply of the SCAN family: the next cursor and a batch.
pub fn scan_reply(next: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(items)])
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
pub fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let a = scan_args(&args[1..], true)?;
    let now = ctx.now;
    let keys = ctx.store.db(ctx.conn.db);
    let (next, batch) = crate::scan::scan(keys.len(), a.cursor, a.count, |i| {
        let (key, k, _) = keys.at(i)?;
        k.exists(now).then_some((key.as_slice(), k))
    });
    let out = batch
        .into_iter()
        .filter(|(key, _)| {
            a.pattern
                .as_ref()
                .is_none_or(|p| crate::glob::matches(p, key))
        })
        .filter(|(_, k)| {
            a.kind.as_ref().is_none_or(|t| {
                k.kind()
                    .is_some_and(|kind| t.eq_ignore_ascii_case(kind.name().as_bytes()))
            })
        })
        .map(|(key, _)| Reply::bulk(Bytes::copy_from_slice(key)))
        .collect();
    Ok(scan_reply(next, out))
}

pub(super) fn whole_of(ctx: &Ctx<'_>, key: &[u8]) -> Option<(ops::Whole, Option<u64>)> {
    let k = ctx.get(key)?;
    Some((ops::Whole::of(k)?, k.expire_at()))
}

/// Write `whole` over `key` in database `db`.
pub(super) fn write_whole(
    ctx: &mut Ctx<'_>,
    db: usize,
    key: &[u8],
    whole: &ops::Whole,
    expire_at: Option<u64>,
) -> Result<(), Reply> {
    let now = ctx.now;
    ctx.store
        .write(db, key, now, |k, _, tag| {
            Ok((Some(ops::replace(k, tag, whole, expire_at)), ()))
        })
        .map_err(super::write_error)
}

pub(super) fn delete_key(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<(), Reply> {
    let db = ctx.conn.db;
    delete_in(ctx, db, key)
}

/// Delete `key` of database `db`.
fn delete_in(ctx: &mut Ctx<'_>, db: usize, key: &[u8]) -> Result<(), Reply> {
    let now = ctx.now;
    ctx.store
        .write(db, key, now, |k, _, tag| Ok((ops::delete(k, tag), ())))
        .map_err(super::write_error)
}

fn rename_to(ctx: &mut Ctx<'_>, args: &[Bytes], only_if_absent: bool) -> CmdResult {
    let (src, dst) = (&args[1], &args[2]);
    let Some((whole, ttl)) = whole_of(ctx, src) else {
        return Ok(Reply::err("ERR no such key"));
    };
    if only_if_absent && ctx.get(dst).is_some() {
        return Ok(Reply::Int(0));
    }
    if src != dst {
        let db = ctx.conn.db;
        let replaced = ctx.get(dst).is_some();
        write_whole(ctx, db, dst, &whole, ttl).and_then(|()| delete_key(ctx, src))?;
        // Redis deletes the destination and adds it again: a `new` key all the same.
        if replaced {
            ctx.notify(crate::notify::events::NEW, "new", dst);
        }
        ctx.notify(GENERIC, "rename_from", src);
        ctx.notify(GENERIC, "rename_to", dst);
    }
    Ok(if only_if_absent {
        Reply::Int(1)
    } else {
        Reply::OK
    })
}

pub fn rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rename_to(ctx, args, false)
}

pub fn renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rename_to(ctx, args, true)
}

/// MOVE key db: the key into another database of this node, its TTL with it. As RENAME
/// does, it is two effects: the value written whole in the target database, and removed
/// here (so a write made concurrently elsewhere to the key here survives, as with DEL).
/// 0 when the key is missing or the target already holds it.
pub fn move_key(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let db = match int_arg(&args[2])? {
        n if (0..crate::engine::store::DATABASES as i64).contains(&n) => n as usize,
        _ => return Ok(Reply::err("ERR DB index is out of range")),
    };
    if db == ctx.conn.db {
        return Ok(Reply::err(
            "ERR source and destination objects are the same",
        ));
    }
    let Some((whole, ttl)) = whole_of(ctx, &args[1]) else {
        return Ok(Reply::Int(0));
    };
    if ctx.store.get(db, &args[1], ctx.now).is_some() {
        return Ok(Reply::Int(0));
    }
    write_whole(ctx, db, &args[1], &whole, ttl)?;
    delete_key(ctx, &args[1])?;
    ctx.notify(GENERIC, "move_from", &args[1]);
    let notifier = ctx.server.notifier();
    notifier.fire(GENERIC, "move_to", db, &args[1]);
    Ok(Reply::Int(1))
}

/// SWAPDB index1 index2: every key of one database takes the other's value, TTL and all,
/// or is deleted where the other has none. It replicates as those whole-value writes and
/// deletes, in one batch every region applies whole (docs/semantics.md).
pub fn swapdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let index = |arg: &[u8], which: &str| match int_arg(arg) {
        Ok(n) if (0..crate::engine::store::DATABASES as i64).contains(&n) => Ok(n as usize),
        Ok(_) => Err(Reply::err("ERR DB index is out of range")),
        Err(_) => Err(Reply::err(format!("ERR invalid {which} DB index"))),
    };
    let a = index(&args[1], "first")?;
    let b = index(&args[2], "second")?;
    if a == b {
        return Ok(Reply::OK);
    }
    let now = ctx.now;
    let live = |ctx: &Ctx<'_>, db: usize| -> Vec<Bytes> {
        ctx.store
            .db(db)
            .iter()
            .filter(|(_, k)| k.exists(now))
            .map(|(key, _)| Bytes::copy_from_slice(key))
            .collect()
    };
    let mut keys = live(ctx, a);
    keys.extend(live(ctx, b));
    keys.sort_unstable();
    keys.dedup();
    // Each key's value in both databases, read before any is written.
    let values: Vec<_> = keys
        .iter()
        .map(|key| {
            let whole = |db| {
                let k = ctx.store.get(db, key, now)?;
                Some((ops::Whole::of(k)?, k.expire_at()))
            };
            (whole(a), whole(b))
        })
        .collect();
    ctx.in_one_batch(|ctx| {
        keys.iter()
            .zip(&values)
            .try_for_each(|(key, (in_a, in_b))| {
                set_whole(ctx, a, key, in_b.as_ref())?;
                set_whole(ctx, b, key, in_a.as_ref())
            })
    })??;
    Ok(Reply::OK)
}

/// Make `key` of database `db` hold `value` (a whole value and its expiry time), or delete
/// it for `None`.
fn set_whole(
    ctx: &mut Ctx<'_>,
    db: usize,
    key: &[u8],
    value: Option<&(ops::Whole, Option<u64>)>,
) -> Result<(), Reply> {
    match value {
        Some((whole, expire_at)) => write_whole(ctx, db, key, whole, *expire_at),
        None => delete_in(ctx, db, key),
    }
}

/// COPY source destination [DB db] [REPLACE]
pub fn copy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut db, mut replace) = (ctx.conn.db, false);
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "replace") {
            replace = true;
            i += 1;
        } else if is(&args[i], "db") && i + 1 < args.len() {
            match int_arg(&args[i + 1]) {
                Ok(n) if (0..crate::engine::store::DATABASES as i64).contains(&n) => {
                    db = n as usize
                }
                Ok(_) => return Ok(Reply::err("ERR DB index is out of range")),
                Err(e) => return Err(e),
            }
            i += 2;
        } else {
            return Ok(super::syntax_error());
        }
    }
    // Refused before the source is looked at, as Redis does (a missing one included).
    if db == ctx.conn.db && args[1] == args[2] {
        return Ok(Reply::err(
            "ERR source and destination objects are the same",
        ));
    }
    let Some((whole, ttl)) = whole_of(ctx, &args[1]) else {
        return Ok(Reply::Int(0));
    };
    let replaced = ctx.store.get(db, &args[2], ctx.now).is_some();
    if !replace && replaced {
        return Ok(Reply::Int(0));
    }
    Ok(match write_whole(ctx, db, &args[2], &whole, ttl) {
        Ok(()) => {
            let notifier = ctx.server.notifier();
            if replaced {
                notifier.fire(crate::notify::events::NEW, "new", db, &args[2]);
            }
            notifier.fire(GENERIC, "copy_to", db, &args[2]);
            Reply::Int(1)
        }
        Err(e) => e,
    })
}

pub fn touch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(
        args[1..].iter().filter(|k| ctx.get(k).is_some()).count() as i64,
    ))
}

/// Positions RANDOMKEY draws before it walks the keys instead (past keys a reader does not
/// see: expired and not removed yet, or holding only removal knowledge).
const RANDOMKEY_DRAWS: usize = 64;

pub fn randomkey(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let ks = ctx.store.db(ctx.conn.db);
    // A position drawn at random, as Redis draws a bucket: each key a reader sees is as
    // likely, and a draw costs no walk over the keys.
    if !ks.is_empty() {
        for _ in 0..RANDOMKEY_DRAWS {
            if let Some((key, k, _)) = ks.at(super::random_below(ks.len()))
                && k.exists(now)
            {
                return Ok(Reply::bulk(Bytes::copy_from_slice(key)));
            }
        }
    }
    let live = ks.live_len(now);
    if live == 0 {
        return Ok(Reply::Nil);
    }
    let pick = super::random_below(live);
    Ok(ks
        .iter()
        .filter(|(_, k)| k.exists(now))
        .nth(pick)
        .map_or(Reply::Nil, |(key, _)| {
            Reply::bulk(Bytes::copy_from_slice(key))
        }))
}

/// OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key. FREQ and IDLETIME read the key's access
/// word (this region's own: docs/semantics.md, "Eviction"); REFCOUNT answers as Redis's
/// shared small integers would, which Redis keeps only when no policy needs a clock per key.
pub fn object(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if is(sub, "help") {
        return Ok(Reply::Array(vec![Reply::Status(
            "OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT <key>",
        )]));
    }
    let Some(key) = args.get(2) else {
        return Ok(super::wrong_arity("object"));
    };
    let Some(k) = ctx.peek(key) else {
        return Ok(Reply::Nil);
    };
    let eviction = ctx.store.eviction();
    let word = ctx.store.db(ctx.conn.db).access(key).unwrap_or(0);
    let lfu = eviction.policy.clock() == Clock::Frequency;
    const SWITCHING: &str = "Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
    Ok(if is(sub, "encoding") {
        let enc = match k.kind() {
            Some(gdc_crdt::Kind::String) => {
                let v = k.string_value().unwrap_or_default();
                if gdc_crdt::string::parse_i64(&v).is_some() {
                    "int"
                } else if v.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Some(gdc_crdt::Kind::Hash) => "hashtable",
            Some(gdc_crdt::Kind::Set) => "hashtable",
            Some(gdc_crdt::Kind::ZSet) => "skiplist",
            Some(gdc_crdt::Kind::List) => "quicklist",
            Some(gdc_crdt::Kind::Stream) => "stream",
            None => return Ok(Reply::Nil),
        };
        Reply::bulk(enc)
    } else if is(sub, "freq") {
        if !lfu {
            return Ok(Reply::err(format!(
                "ERR An LFU maxmemory policy is not selected, access frequency not tracked. {SWITCHING}"
            )));
        }
        Reply::Int(i64::from(eviction.access.frequency(word, ctx.now)))
    } else if is(sub, "idletime") {
        if lfu {
            return Ok(Reply::err(format!(
                "ERR An LFU maxmemory policy is selected, idle time not tracked. {SWITCHING}"
            )));
        }
        Reply::Int((Access::idle_ms(word, ctx.now) / 1000) as i64)
    } else if is(sub, "refcount") {
        let shared_integers = ctx.config.memory_bytes_max == 0 || !eviction.policy.ranks_by_clock();
        let small_integer = k
            .string_value()
            .and_then(|v| gdc_crdt::string::parse_i64(&v))
            .is_some_and(|n| (0..10_000).contains(&n));
        Reply::Int(if shared_integers && small_integer {
            i64::from(i32::MAX)
        } else {
            1
        })
    } else {
        Reply::err(format!(
            "ERR unknown subcommand '{}'. Try OBJECT HELP.",
            String::from_utf8_lossy(sub)
        ))
    })
}
