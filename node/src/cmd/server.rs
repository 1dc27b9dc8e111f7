//! Server commands: DBSIZE, FLUSHDB, FLUSHALL, TIME, COMMAND, CONFIG, SAVE, BGSAVE, LASTSAVE,
//! SHUTDOWN, WAIT.

use super::{Ctx, int_arg, is, syntax_error, write_error};
use crate::reply::Reply;
use crate::store::now_ms;
use bytes::Bytes;
use std::sync::atomic::Ordering;

pub fn dbsize(ctx: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    Reply::Int(ctx.store.db(ctx.conn.db).live_len(ctx.now) as i64)
}

fn flush_mode_ok(args: &[Bytes]) -> bool {
    args.iter().skip(1).all(|a| is(a, "sync") || is(a, "async")) && args.len() <= 2
}

pub fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !flush_mode_ok(args) {
        return syntax_error();
    }
    match ctx.store.flush(Some(ctx.conn.db), ctx.now) {
        Ok(()) => Reply::OK,
        Err(e) => write_error(e),
    }
}

pub fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !flush_mode_ok(args) {
        return syntax_error();
    }
    match ctx.store.flush(None, ctx.now) {
        Ok(()) => Reply::OK,
        Err(e) => write_error(e),
    }
}

pub fn time(_: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    let us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
        .saturating_add_signed(i128::from(crate::testing::clock_offset_ms()) * 1000);
    Reply::Array(vec![
        Reply::bulk((us / 1_000_000).to_string()),
        Reply::bulk((us % 1_000_000).to_string()),
    ])
}

/// COMMAND, COMMAND COUNT, COMMAND DOCS: enough for redis-cli and client libraries, which
/// use them only to learn about commands.
pub fn command(_: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match args.get(1) {
        None => Reply::Array(vec![]),
        Some(a) if is(a, "count") => Reply::Int(super::count() as i64),
        Some(a) if is(a, "docs") => Reply::Map(vec![]),
        Some(a) if is(a, "info") => Reply::Array(vec![]),
        Some(a) => Reply::err(format!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(a)
        )),
    }
}

/// CONFIG GET pattern, CONFIG SET (accepted and reported back), CONFIG RESETSTAT.
pub fn config(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let sub = &args[1];
    if is(sub, "get") && args.len() >= 3 {
        let mut out = Vec::new();
        let params = ctx.server.config_params();
        for pat in &args[2..] {
            for (k, v) in &params {
                if crate::glob::matches(pat, k.as_bytes())
                    && !out
                        .iter()
                        .any(|(a, _): &(Reply, Reply)| *a == Reply::bulk(k.clone()))
                {
                    out.push((Reply::bulk(k.clone()), Reply::bulk(v.clone())));
                }
            }
        }
        Reply::Map(out)
    } else if is(sub, "set") && args.len() >= 4 && args.len() % 2 == 0 {
        // maxmemory takes effect at once; other parameters are accepted and reported back.
        let mut memory = None;
        for kv in args[2..].chunks(2) {
            if is(&kv[0], "maxmemory") {
                match crate::config::parse_bytes(&String::from_utf8_lossy(&kv[1])) {
                    Some(v) => memory = Some(v),
                    None => {
                        return Reply::err(
                            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument couldn't be parsed into an integer",
                        );
                    }
                }
            }
        }
        if let Some(v) = memory {
            ctx.server.memory_bytes_max.store(v, Ordering::Relaxed);
        }
        let mut set = ctx
            .server
            .config_overrides
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for kv in args[2..].chunks(2) {
            if !is(&kv[0], "maxmemory") {
                set.insert(
                    String::from_utf8_lossy(&kv[0]).to_ascii_lowercase(),
                    String::from_utf8_lossy(&kv[1]).into_owned(),
                );
            }
        }
        Reply::OK
    } else if is(sub, "resetstat") && args.len() == 2 {
        ctx.server.commands_processed.store(0, Ordering::Relaxed);
        ctx.store.command_stats.clear();
        Reply::OK
    } else {
        Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(sub)
        ))
    }
}

pub fn save(ctx: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    if ctx.server.snapshots.running.load(Ordering::Acquire) {
        return Reply::err("ERR Background save already in progress");
    }
    match ctx.store.save() {
        Ok((seq, applied)) => {
            ctx.server.snapshot_written(seq, applied);
            ctx.server
                .snapshots
                .last_ok_secs
                .store(now_ms() / 1000, Ordering::Relaxed);
            Reply::OK
        }
        Err(e) => Reply::err(format!("ERR {e}")),
    }
}

pub fn bgsave(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 2 || args.get(1).is_some_and(|a| !is(a, "schedule")) {
        return syntax_error();
    }
    match ctx.server.start_bgsave(ctx.store) {
        Ok(true) => Reply::Status("Background saving started"),
        Ok(false) => Reply::err("ERR Background save already in progress"),
        Err(e) => Reply::err(format!("ERR {e}")),
    }
}

pub fn lastsave(ctx: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    Reply::Int(ctx.server.snapshots.last_ok_secs.load(Ordering::Relaxed) as i64)
}

/// SHUTDOWN [NOSAVE | SAVE]: the binlog is made durable in any case; SAVE also writes a
/// snapshot first. The connection closes without a reply, as with Redis.
pub fn shutdown(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let save = match args.get(1) {
        None => false,
        Some(a) if is(a, "save") => true,
        Some(a) if is(a, "nosave") => false,
        Some(_) => return syntax_error(),
    };
    if save {
        if ctx.server.snapshots.running.load(Ordering::Acquire) {
            return Reply::err(
                "ERR Errors trying to SHUTDOWN. Check logs. (a background save is running)",
            );
        }
        match ctx.store.save() {
            Ok((seq, applied)) => ctx.server.snapshot_written(seq, applied),
            Err(e) => {
                return Reply::err(format!("ERR Errors trying to SHUTDOWN. Check logs. ({e})"));
            }
        }
    }
    ctx.server.shutdown.notify_one();
    ctx.conn.closing = true;
    Reply::Silence
}

/// WAIT numregions timeout-ms: until the connection's last write has been acknowledged by
/// `numregions` other regions (those that subscribe to this node; not this region's own
/// secondaries), or the timeout (0: no limit). Answers how many have it.
pub fn wait(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (want, timeout) = match (int_arg(&args[1]), int_arg(&args[2])) {
        (Ok(n), Ok(t)) if t >= 0 => (n, t as u64),
        (Ok(_), Ok(_)) => return Reply::err("ERR timeout is negative"),
        _ => return Reply::err("ERR value is not an integer or out of range"),
    };
    let own = ctx.store.server();
    let op = ctx.conn.last_write_op;
    // Other regions only: this region's own secondaries are not other child instances.
    let region = &ctx.server.config.region;
    let have = ctx
        .server
        .sync
        .acked()
        .iter()
        .filter(|(key, (_, acked))| {
            !crate::sync::is_own_region_key(region, key) && acked.get(own).0 >= op
        })
        .count() as i64;
    if have >= want || ctx.conn.in_exec {
        return Reply::Int(have);
    }
    Reply::Block {
        deadline_ms: (timeout > 0).then(|| ctx.now + timeout),
        on_timeout: Box::new(Reply::Int(have)),
    }
}
