//! Client-side caching as commands see it: CLIENT TRACKING, CACHING, GETREDIR and
//! TRACKINGINFO, with Redis 7.0's checks and errors, and what a read tells the tracking
//! table ([`after_command`]). The table and the invalidations are the notifier's
//! ([`crate::notify::tracking`]).

use super::table::{Command, KEY_RO, PUBSUB, READONLY};
use super::{CmdResult, Ctx, is, syntax_error};
use crate::notify::tracking::Options;
use crate::reply::Reply;
use bytes::Bytes;

/// CLIENT TRACKING (ON|OFF) [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
pub fn tracking(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut options = Options::default();
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        let a = &args[i];
        if is(a, "redirect") && more {
            i += 1;
            if options.redirect != 0 {
                return Err(Reply::err(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            let id = super::int_arg(&args[i])?;
            if id <= 0 || !ctx.server.pubsub().is_connected(id as u64) {
                return Err(Reply::err(
                    "ERR The client ID you want redirect to does not exist",
                ));
            }
            options.redirect = id as u64;
        } else if is(a, "bcast") {
            options.bcast = true;
        } else if is(a, "optin") {
            options.optin = true;
        } else if is(a, "optout") {
            options.optout = true;
        } else if is(a, "noloop") {
            options.noloop = true;
        } else if is(a, "prefix") && more {
            i += 1;
            options.prefixes.push(args[i].clone());
        } else {
            return Err(syntax_error());
        }
        i += 1;
    }
    let tracking = ctx.server.notifier().tracking();
    let id = ctx.conn.id;
    if is(&args[2], "on") {
        let redirect = options.redirect;
        tracking.enable(id, options).map_err(Reply::err)?;
        ctx.conn.tracking = Some(redirect);
    } else if is(&args[2], "off") {
        tracking.disable(id);
        ctx.conn.tracking = None;
        ctx.conn.caching = false;
    } else {
        return Err(syntax_error());
    }
    Ok(Reply::OK)
}

/// CLIENT CACHING (YES|NO): track (OPTIN) or not (OPTOUT) the keys of the next command.
pub fn caching(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let info = ctx.server.notifier().tracking().info(ctx.conn.id);
    let Some(info) = info else {
        return Err(Reply::err(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    };
    if is(&args[2], "yes") {
        if !info.options.optin {
            return Err(Reply::err(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(&args[2], "no") {
        if !info.options.optout {
            return Err(Reply::err(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(syntax_error());
    }
    ctx.conn.caching = true;
    Ok(Reply::OK)
}

/// CLIENT GETREDIR: the client invalidations go to (0: this one), -1 when not tracking.
pub fn getredir(ctx: &mut Ctx<'_>) -> CmdResult {
    Ok(Reply::Int(ctx.conn.tracking.map_or(-1, |r| r as i64)))
}

/// CLIENT TRACKINGINFO: flags, redirect and prefixes, as Redis shows them.
pub fn trackinginfo(ctx: &mut Ctx<'_>) -> CmdResult {
    let info = ctx.server.notifier().tracking().info(ctx.conn.id);
    let mut flags = Vec::new();
    let (redirect, prefixes) = match &info {
        None => {
            flags.push("off");
            (-1, Vec::new())
        }
        Some(info) => {
            let o = &info.options;
            let caching = ctx.conn.caching;
            for (on, flag) in [
                (true, "on"),
                (o.bcast, "bcast"),
                (o.optin, "optin"),
                (o.optin && caching, "caching-yes"),
                (o.optout, "optout"),
                (o.optout && caching, "caching-no"),
                (o.noloop, "noloop"),
                (info.broken_redirect, "broken_redirect"),
            ] {
                if on {
                    flags.push(flag);
                }
            }
            (o.redirect as i64, o.prefixes.clone())
        }
    };
    Ok(Reply::Map(vec![
        (
            Reply::bulk("flags"),
            Reply::Set(flags.into_iter().map(Reply::bulk).collect()),
        ),
        (Reply::bulk("redirect"), Reply::Int(redirect)),
        (
            Reply::bulk("prefixes"),
            Reply::Array(prefixes.into_iter().map(Reply::Bulk).collect()),
        ),
    ]))
}

/// Before a command runs: `keymiss` for each key it reads that is missing — every key of
/// a read, the source keys of a write (as Redis's read lookups tell them; OBJECT and
/// MEMORY look without telling; GETDEL, GETEX, GETSET and SET GET tell their own).
pub(super) fn before_command(ctx: &Ctx<'_>, command: &Command, args: &[Bytes]) {
    if !ctx.server.notifier().sends(crate::notify::events::KEY_MISS)
        || command.name.starts_with("object|")
        || command.name.starts_with("memory|")
    {
        return;
    }
    let reads = command.has(READONLY) && !command.has(PUBSUB);
    for (i, flags) in command.find_keys(args) {
        if reads || flags & KEY_RO != 0 {
            notify_miss(ctx, &args[i]);
        }
    }
}

/// After a command ran: a read's keys are remembered for a tracking client, and a key a
/// read found expired is told as expired now if the expiry cycle has not yet (as Redis's
/// lazy expiry tells it). CLIENT CACHING holds for one command (a whole transaction).
pub(super) fn after_command(ctx: &mut Ctx<'_>, command: &Command, args: &[Bytes]) {
    let tracking = ctx.conn.tracking.is_some();
    // A read-only script's keys are remembered by the reads it runs, as Redis's are.
    let script = || matches!(command.name, "eval_ro" | "evalsha_ro" | "fcall_ro");
    let reads = command.has(READONLY) && !command.has(PUBSUB);
    if reads
        && (tracking || ctx.server.notifier().sends(crate::notify::events::EXPIRED))
        && !script()
    {
        let keys = command.find_keys(args);
        let db = ctx.conn.db;
        for &(i, _) in &keys {
            ctx.store.announce_if_expired(db, &args[i], ctx.now);
        }
        if tracking {
            let caching = ctx.conn.caching;
            let keys = keys.iter().map(|&(i, _)| &args[i][..]);
            ctx.server
                .notifier()
                .tracking()
                .remember(ctx.conn.id, keys, caching);
        }
    }
    let in_transaction = ctx.conn.multi.is_some() || ctx.conn.in_exec;
    if ctx.conn.caching && !in_transaction && !command.name.starts_with("client") {
        ctx.conn.caching = false;
    }
}

/// `keymiss` when a command looked for `key` and did not find it.
pub(super) fn notify_miss(ctx: &Ctx<'_>, key: &[u8]) {
    if ctx.get(key).is_none() {
        ctx.notify(crate::notify::events::KEY_MISS, "keymiss", key);
    }
}
