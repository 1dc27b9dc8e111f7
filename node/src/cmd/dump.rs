//! DUMP and RESTORE: one key's value in Redis's serialization format ([`crate::rdb`]), so
//! values move between redis-server and gdc both ways (migration tools DUMP from one and
//! RESTORE into the other).

use super::keys::{delete_key, whole_of, write_whole};
use super::{CmdResult, Ctx, int_arg, is, syntax_error};
use crate::rdb;
use crate::reply::Reply;
use bytes::Bytes;

/// DUMP key: the value's payload (without its TTL, as in Redis), or nil for a missing key.
pub fn dump(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match whole_of(ctx, &args[1]) {
        None => Reply::Nil,
        Some((whole, _)) => Reply::bulk(rdb::dump(&whole)),
    })
}

/// RESTORE's options after the payload.
#[derive(Debug, Default)]
struct Options {
    replace: bool,
    absttl: bool,
}

/// `[REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]`, checked as Redis checks them
/// (IDLETIME and FREQ exclude each other). IDLETIME and FREQ are validated and dropped: gdc
/// keeps no access times or frequencies.
fn options(args: &[Bytes]) -> Result<Options, Reply> {
    let mut o = Options::default();
    let (mut idle, mut freq) = (false, false);
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let value = args.get(i + 1);
        match value {
            _ if is(a, "replace") => o.replace = true,
            _ if is(a, "absttl") => o.absttl = true,
            Some(v) if is(a, "idletime") && !freq => {
                if int_arg(v)? < 0 {
                    return Err(Reply::err("ERR Invalid IDLETIME value, must be >= 0"));
                }
                idle = true;
                i += 1;
            }
            Some(v) if is(a, "freq") && !idle => {
                if !(0..=255).contains(&int_arg(v)?) {
                    return Err(Reply::err(
                        "ERR Invalid FREQ value, must be >= 0 and <= 255",
                    ));
                }
                freq = true;
                i += 1;
            }
            _ => return Err(syntax_error()),
        }
        i += 1;
    }
    Ok(o)
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
///
/// Checked in Redis's order — options, an existing key (BUSYKEY unless REPLACE), the TTL,
/// the payload's footer, the value — so the same bad request gets the same error, and a
/// refused one changes nothing. The value is then written whole, as COPY ... REPLACE writes
/// its destination, and replicates as that write. A TTL already past (with ABSTTL, or a
/// relative one past the clock's range) creates nothing, and with REPLACE deletes the key.
pub fn restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let o = options(&args[4..])?;
    let key = &args[1];
    let exists = ctx.get(key).is_some();
    if exists && !o.replace {
        return Err(Reply::err("BUSYKEY Target key name already exists."));
    }
    let ttl = int_arg(&args[2])?;
    if ttl < 0 {
        return Err(Reply::err("ERR Invalid TTL value, must be >= 0"));
    }
    let whole = rdb::restore(&args[3]).map_err(|e| match e {
        rdb::Error::Footer => Reply::err("ERR DUMP payload version or checksum are wrong"),
        rdb::Error::Format(_) => Reply::err("ERR Bad data format"),
    })?;
    let now = ctx.now as i64;
    let expire_at = match ttl {
        0 => None,
        t if o.absttl => Some(t),
        // Past i64, Redis's sum wraps negative: the key counts as expired.
        t => Some(t.checked_add(now).unwrap_or(i64::MIN)),
    };
    if expire_at.is_some_and(|at| at <= now) {
        if exists {
            delete_key(ctx, key)?;
            ctx.notify(crate::notify::events::GENERIC, "del", key);
        }
        return Ok(Reply::OK);
    }
    let db = ctx.conn.db;
    write_whole(ctx, db, key, &whole, expire_at.map(|at| at as u64))?;
    // REPLACE deletes the key and adds it again: a `new` key, as in Redis.
    if exists {
        ctx.notify(crate::notify::events::NEW, "new", key);
    }
    ctx.notify(crate::notify::events::GENERIC, "restore", key);
    Ok(Reply::OK)
}
