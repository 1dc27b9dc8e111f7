//! Server commands: DBSIZE, FLUSHDB, FLUSHALL, TIME, CONFIG, SAVE, BGSAVE, LASTSAVE, SHUTDOWN,
//! WAIT.

use super::{CmdResult, Ctx, int_arg, is, syntax_error, write_error};
use crate::config::settings::SetError;
use crate::reply::Reply;
use bytes::Bytes;

pub fn dbsize(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(
        ctx.store.db(ctx.conn.db).live_len(ctx.now) as i64
    ))
}

fn flush_mode_ok(args: &[Bytes]) -> bool {
    args.iter().skip(1).all(|a| is(a, "sync") || is(a, "async")) && args.len() <= 2
}

pub fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if !flush_mode_ok(args) {
        return Ok(syntax_error());
    }
    Ok(match ctx.store.flush(Some(ctx.conn.db), ctx.now) {
        Ok(()) => Reply::OK,
        Err(e) => write_error(e),
    })
}

pub fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if !flush_mode_ok(args) {
        return Ok(syntax_error());
    }
    Ok(match ctx.store.flush(None, ctx.now) {
        Ok(()) => Reply::OK,
        Err(e) => write_error(e),
    })
}

pub fn time(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
        .saturating_add_signed(i128::from(crate::testing::clock_offset_ms()) * 1000);
    Ok(Reply::Array(vec![
        Reply::bulk((us / 1_000_000).to_string()),
        Reply::bulk((us % 1_000_000).to_string()),
    ]))
}

/// CONFIG GET pattern, CONFIG SET (accepted and reported back), CONFIG RESETSTAT.
pub fn config(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    Ok(if is(sub, "get") && args.len() >= 3 {
        let patterns: Vec<&[u8]> = args[2..].iter().map(|a| a.as_ref()).collect();
        let found = ctx.config.matching(&patterns);
        Reply::Map(
            found
                .into_iter()
                .map(|(k, v)| (Reply::bulk(k), Reply::bulk(v)))
                .collect(),
        )
    } else if is(sub, "set") && args.len() >= 4 && args.len() % 2 == 0 {
        let text: Vec<String> = args[2..]
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let pairs: Vec<(&str, &str)> = text
            .chunks(2)
            .map(|kv| (kv[0].as_str(), kv[1].as_str()))
            .collect();
        match ctx.server.change_config(&pairs) {
            Ok(()) => {
                // The store samples conflicts to the log, and evicts (also for effects from
                // other regions, between batches), by settings it keeps: tell it now.
                let config = ctx.server.config();
                ctx.store.set_conflict_log(config.conflict_log);
                ctx.store.set_eviction(config.eviction());
                Reply::OK
            }
            Err((name, e)) => Reply::err(config_set_error(&name, e)),
        }
    } else if is(sub, "rewrite") && args.len() == 2 {
        match rewrite(ctx.config) {
            Ok(()) => Reply::OK,
            Err(why) => Reply::err(why),
        }
    } else if is(sub, "help") && args.len() == 2 {
        super::help(&[
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
            "HELP",
            "    Prints this help.",
        ])
    } else if is(sub, "resetstat") && args.len() == 2 {
        ctx.server.clients().reset_stats();
        ctx.store.stats.reset();
        ctx.store.eviction_stats = Default::default();
        Reply::OK
    } else {
        Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(sub)
        ))
    })
}

/// CONFIG REWRITE: the config file the node started from, with the settings in force. It
/// is written whole to a file beside it, then renamed over it, so a crash midway leaves the
/// old file.
fn rewrite(config: &crate::config::Config) -> Result<(), String> {
    let path = config
        .config_file
        .as_ref()
        .ok_or("ERR The server is running without a config file")?;
    let failed = |e: String| format!("ERR Rewriting config file: {e}");
    // A file removed since the start is written anew, as Redis does.
    let text = match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        read => read.map_err(|e| failed(e.to_string()))?,
    };
    let new = config.rewritten(&text).map_err(failed)?;
    let mut tmp = path.clone().into_os_string();
    tmp.push(".rewrite");
    std::fs::write(&tmp, new)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| failed(e.to_string()))
}

/// CONFIG SET's errors, in Redis 7's words.
fn config_set_error(name: &str, e: SetError) -> String {
    match e {
        SetError::Unknown => {
            format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
        }
        SetError::Duplicate => "ERR CONFIG SET failed - duplicate parameter".into(),
        SetError::AtStartOnly => format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
        ),
        SetError::Value(why) => {
            format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
        }
    }
}

pub fn save(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    if ctx.server.engine().retention().bgsave_running() {
        return Ok(Reply::err("ERR Background save already in progress"));
    }
    Ok(match ctx.store.save() {
        Ok((seq, applied)) => {
            ctx.server.engine().snapshot_written(seq, applied);
            Reply::OK
        }
        Err(e) => Reply::err(format!("ERR {e}")),
    })
}

pub fn bgsave(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 2 || args.get(1).is_some_and(|a| !is(a, "schedule")) {
        return Ok(syntax_error());
    }
    Ok(match ctx.server.engine().start_bgsave(ctx.store) {
        Ok(true) => Reply::Status("Background saving started"),
        Ok(false) => Reply::err("ERR Background save already in progress"),
        Err(e) => Reply::err(format!("ERR {e}")),
    })
}

pub fn lastsave(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(
        ctx.server.engine().retention().last_save_secs() as i64
    ))
}

/// SHUTDOWN [NOSAVE | SAVE]: the binlog is made durable in any case; SAVE also writes a
/// snapshot first. The connection closes without a reply, as with Redis.
pub fn shutdown(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let save = match args.get(1) {
        None => false,
        Some(a) if is(a, "save") => true,
        Some(a) if is(a, "nosave") => false,
        Some(_) => return Ok(syntax_error()),
    };
    if save {
        if ctx.server.engine().retention().bgsave_running() {
            return Ok(Reply::err(
                "ERR Errors trying to SHUTDOWN. Check logs. (a background save is running)",
            ));
        }
        match ctx.store.save() {
            Ok((seq, applied)) => ctx.server.engine().snapshot_written(seq, applied),
            Err(e) => {
                return Ok(Reply::err(format!(
                    "ERR Errors trying to SHUTDOWN. Check logs. ({e})"
                )));
            }
        }
    }
    ctx.server.request_shutdown();
    ctx.conn.closing = true;
    Ok(Reply::Silence)
}

/// WAIT numregions timeout-ms: until the connection's last write has been acknowledged by
/// `numregions` other regions (those that subscribe to this node; not this region's own
/// secondaries), or the timeout (0: no limit). Answers how many have it.
pub fn wait(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (want, timeout) = match (int_arg(&args[1]), int_arg(&args[2])) {
        (Ok(n), Ok(t)) if t >= 0 => (n, t as u64),
        (Ok(_), Ok(_)) => return Ok(Reply::err("ERR timeout is negative")),
        _ => return Ok(Reply::err("ERR value is not an integer or out of range")),
    };
    let own = ctx.store.server();
    let op = ctx.conn.last_write_op;
    // Other regions only: this region's own secondaries are not other child instances.
    let region = &ctx.config.region;
    let have = ctx
        .server
        .engine()
        .acks()
        .table()
        .iter()
        .filter(|(key, (_, acked))| {
            !crate::engine::acks::is_own_region_key(region, key) && acked.get(own).0 >= op
        })
        .count() as i64;
    if have >= want || ctx.conn.in_exec {
        return Ok(Reply::Int(have));
    }
    Ok(Reply::Block {
        // Counted from when it first waited: a wake-up does not push the timeout back.
        deadline_ms: (timeout > 0).then(|| super::wait_started(ctx) + timeout),
        wait: Box::new(crate::reply::Wait {
            on_timeout: Reply::Int(have),
            retry: None,
        }),
    })
}

/// LOLWUT [VERSION v]: Redis draws art for versions 5 and 6 and otherwise prints its
/// version; gdc prints its own and the Redis version it answers as, whatever is asked.
pub fn lolwut(_: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut i = 1;
    while i < args.len() {
        if is(&args[i], "version") && i + 1 < args.len() {
            int_arg(&args[i + 1])?;
            i += 1;
        }
        i += 1;
    }
    Ok(Reply::Text(Bytes::from(format!(
        "gdc ver. {}, answering as Redis ver. {}\n",
        env!("CARGO_PKG_VERSION"),
        crate::REDIS_VERSION
    ))))
}

/// DEBUG: refused unless `enable-debug-command yes`, with Redis's words. gdc has the
/// subcommands tests and client test suites use that make sense for it: SLEEP (the node
/// stops answering, as Redis does) and SET-ACTIVE-EXPIRE. Its own test hooks are GDC.DEBUG.
pub fn debug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if !ctx.config.debug_command {
        return Ok(Reply::err(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        ));
    }
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    Ok(match (sub.as_str(), args.len()) {
        ("help", 2) => super::help(&[
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "HELP",
            "    Print this help.",
        ]),
        ("sleep", 3) => {
            // Read as C's atof reads it: a bad number sleeps 0.
            let secs = leading_float(&args[2]);
            if secs > 0.0 && secs.is_finite() {
                std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
            }
            Reply::OK
        }
        ("set-active-expire", 3) => {
            ctx.server
                .set_active_expire(leading_float(&args[2]) as i64 != 0);
            Reply::OK
        }
        _ => Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(&args[1])
        )),
    })
}

/// The longest number `arg` starts with, as C's atof reads it (0 for none).
fn leading_float(arg: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(arg);
    let text = text.trim_start();
    (1..=text.len())
        .rev()
        .filter(|&n| text.is_char_boundary(n))
        .find_map(|n| text[..n].parse::<f64>().ok())
        .unwrap_or(0.0)
}
