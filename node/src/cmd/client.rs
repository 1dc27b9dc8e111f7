//! CLIENT: the connection's own settings (ID, SETNAME, GETNAME, SETINFO, REPLY, NO-EVICT),
//! and the node's clients (LIST, INFO, KILL, UNBLOCK, PAUSE, UNPAUSE), as Redis 7.0 has them.

use super::{CmdResult, Ctx, int_arg, is, syntax_error};
use crate::clients::ClientEntry;
use crate::engine::store::now_ms;
use crate::reply::Reply;
use bytes::Bytes;

pub fn client(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if is(sub, "id") {
        Ok(Reply::Int(ctx.conn.id as i64))
    } else if is(sub, "setname") {
        setname(ctx, &args[2])
    } else if is(sub, "getname") {
        Ok(ctx.conn.name.clone().map_or(Reply::Nil, Reply::Bulk))
    } else if is(sub, "setinfo") {
        Ok(Reply::OK)
    } else if is(sub, "reply") {
        Ok(reply_mode(ctx, &args[2]))
    } else if is(sub, "no-evict") {
        ctx.conn.no_evict = on_off(&args[2])?;
        Ok(Reply::OK)
    } else if is(sub, "list") {
        list(ctx, args)
    } else if is(sub, "info") {
        let me = ctx.conn.id;
        let line = own_entry(ctx, args).map(|e| e.line(me, now_ms()) + "\n");
        Ok(Reply::Text(line.unwrap_or_default().into()))
    } else if is(sub, "unblock") {
        unblock(ctx, args)
    } else if is(sub, "kill") {
        kill(ctx, args)
    } else if is(sub, "pause") {
        pause(ctx, args)
    } else if is(sub, "tracking") {
        super::tracking::tracking(ctx, args)
    } else if is(sub, "caching") {
        super::tracking::caching(ctx, args)
    } else if is(sub, "getredir") {
        super::tracking::getredir(ctx)
    } else if is(sub, "trackinginfo") {
        super::tracking::trackinginfo(ctx)
    } else if is(sub, "help") {
        Ok(super::help(&[
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "    * ID <client-id> [<client-id> ...]",
            "      Return clients of the given ids.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <LIB-NAME|LIB-VER> <value>",
            "    Accepted, as Redis 7.2 accepts it.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "HELP",
            "    Prints this help.",
        ]))
    } else {
        // UNPAUSE (the table admits no other subcommand).
        ctx.server.clients().unpause();
        Ok(Reply::OK)
    }
}

fn on_off(arg: &[u8]) -> Result<bool, Reply> {
    if is(arg, "on") {
        Ok(true)
    } else if is(arg, "off") {
        Ok(false)
    } else {
        Err(syntax_error())
    }
}

/// A name is one word of printable ASCII (or empty: no name).
fn setname(ctx: &mut Ctx<'_>, name: &Bytes) -> CmdResult {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(Reply::err(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    ctx.conn.name = (!name.is_empty()).then(|| name.clone());
    Ok(Reply::OK)
}

/// CLIENT REPLY ON | OFF | SKIP: OFF and SKIP are not answered.
fn reply_mode(ctx: &mut Ctx<'_>, mode: &[u8]) -> Reply {
    use super::Replies;
    if is(mode, "on") {
        ctx.conn.replies = Replies::On;
        Reply::OK
    } else if is(mode, "off") {
        ctx.conn.replies = Replies::Off;
        Reply::Silence
    } else if is(mode, "skip") {
        if ctx.conn.replies == Replies::On {
            ctx.conn.replies = Replies::SkipNext;
        }
        Reply::Silence
    } else {
        syntax_error()
    }
}

/// This connection's listing as it is now, mid-command (the registry has it as of its last
/// batch).
fn own_entry(ctx: &Ctx<'_>, args: &[Bytes]) -> Option<ClientEntry> {
    let mut e = ctx.server.clients().listing().get(&ctx.conn.id)?.clone();
    e.activity = ctx.conn.activity(false);
    e.activity.argv_bytes = args.iter().map(Bytes::len).sum();
    e.db = ctx.conn.db;
    e.name.clone_from(&ctx.conn.name);
    e.resp = ctx.conn.resp;
    e.last_cmd = ctx.conn.last_cmd;
    e.last_ms = now_ms();
    Some(e)
}

/// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id ...]
fn list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut kind, mut ids): (Option<&'static str>, Option<Vec<u64>>) = (None, None);
    match &args[2..] {
        [] => {}
        [t, k] if is(t, "type") => kind = Some(client_type(k)?),
        [i, rest @ ..] if is(i, "id") && !rest.is_empty() => {
            let mut v = Vec::new();
            for a in rest {
                match int_arg(a) {
                    Ok(id) if id > 0 => v.push(id as u64),
                    _ => return Err(Reply::err("ERR Invalid client ID")),
                }
            }
            ids = Some(v);
        }
        _ => return Err(syntax_error()),
    }
    let now = now_ms();
    let me = ctx.conn.id;
    let own = own_entry(ctx, args);
    let clients = ctx.server.clients().listing();
    let mut text = String::new();
    for (id, e) in clients.iter() {
        let e = if *id == me {
            own.as_ref().unwrap_or(e)
        } else {
            e
        };
        if kind.is_some_and(|k| k != e.kind()) || ids.as_ref().is_some_and(|v| !v.contains(id)) {
            continue;
        }
        text.push_str(&e.line(*id, now));
        text.push('\n');
    }
    Ok(Reply::Text(text.into()))
}

/// A client type as CLIENT LIST and KILL name it (`slave` is `replica`).
fn client_type(arg: &[u8]) -> Result<&'static str, Reply> {
    ["normal", "master", "replica", "slave", "pubsub"]
        .into_iter()
        .find(|t| is(arg, t))
        .map(|t| if t == "slave" { "replica" } else { t })
        .ok_or_else(|| {
            Reply::err(format!(
                "ERR Unknown client type '{}'",
                String::from_utf8_lossy(arg)
            ))
        })
}

/// CLIENT UNBLOCK id [TIMEOUT | ERROR]: the reason is checked first, as Redis does.
fn unblock(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 4 {
        return Err(syntax_error());
    }
    let error = match args.get(3) {
        None => false,
        Some(a) if is(a, "timeout") => false,
        Some(a) if is(a, "error") => true,
        Some(_) => {
            return Err(Reply::err(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ));
        }
    };
    let id = int_arg(&args[2])?;
    let clients = ctx.server.clients().listing();
    let unblocked = u64::try_from(id)
        .ok()
        .and_then(|id| clients.get(&id))
        .is_some_and(|e| e.unblock.unblock(error));
    Ok(Reply::Int(i64::from(unblocked)))
}

/// Which clients CLIENT KILL's filters select.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    kind: Option<&'static str>,
    addr: Option<Bytes>,
    laddr: Option<Bytes>,
    user: Option<Bytes>,
    skip_me: bool,
}

impl KillFilter {
    fn parse(args: &[Bytes], users: &crate::acl::Users) -> Result<KillFilter, Reply> {
        let mut f = KillFilter {
            skip_me: true,
            ..KillFilter::default()
        };
        if args.len() % 2 != 0 {
            return Err(syntax_error());
        }
        for pair in args.chunks(2) {
            let (name, v) = (&pair[0], &pair[1]);
            if is(name, "id") {
                match int_arg(v) {
                    Ok(id) if id > 0 => f.id = Some(id as u64),
                    _ => {
                        return Err(Reply::err("ERR client-id should be greater than 0"));
                    }
                }
            } else if is(name, "type") {
                f.kind = Some(client_type(v)?);
            } else if is(name, "addr") {
                f.addr = Some(v.clone());
            } else if is(name, "laddr") {
                f.laddr = Some(v.clone());
            } else if is(name, "user") {
                if users.get(v).is_none() {
                    return Err(Reply::err(format!(
                        "ERR No such user '{}'",
                        String::from_utf8_lossy(v)
                    )));
                }
                f.user = Some(v.clone());
            } else if is(name, "skipme") {
                f.skip_me = if is(v, "yes") {
                    true
                } else if is(v, "no") {
                    false
                } else {
                    return Err(syntax_error());
                };
            } else {
                return Err(syntax_error());
            }
        }
        Ok(f)
    }

    fn selects(&self, id: u64, e: &ClientEntry, me: u64) -> bool {
        !(self.skip_me && id == me)
            && self.id.is_none_or(|want| want == id)
            && self.kind.is_none_or(|k| k == e.kind())
            && self.addr.as_ref().is_none_or(|a| e.addr.as_bytes() == a)
            && self.laddr.as_ref().is_none_or(|a| e.laddr.as_bytes() == a)
            && self.user.as_ref().is_none_or(|u| e.user == u)
    }
}

/// CLIENT KILL ip:port (the old form: OK, or an error when no client has that address) or
/// CLIENT KILL <filter value> ... (how many were killed; by default not this client).
fn kill(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let me = ctx.conn.id;
    let old_form = args.len() == 3;
    let filter = if old_form {
        KillFilter {
            addr: Some(args[2].clone()),
            ..KillFilter::default()
        }
    } else {
        KillFilter::parse(&args[2..], &ctx.server.accounts().users())?
    };
    let clients = ctx.server.clients().listing();
    let mut killed = 0;
    for (id, e) in clients.iter() {
        if !filter.selects(*id, e, me) {
            continue;
        }
        killed += 1;
        if *id == me {
            // This client goes once its reply is sent.
            ctx.conn.closing = true;
        } else {
            e.kill.ask();
        }
    }
    Ok(match (old_form, killed) {
        (true, 0) => Reply::err("ERR No such client"),
        (true, _) => Reply::OK,
        (false, n) => Reply::Int(n),
    })
}

/// CLIENT PAUSE timeout [WRITE | ALL]: for `timeout` ms, this node's clients' commands (or
/// only those that write) wait; CLIENT UNPAUSE ends it early.
fn pause(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 4 {
        return Err(Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&args[1])
        )));
    }
    let writes_only = match args.get(3) {
        None => false,
        Some(a) if is(a, "all") => false,
        Some(a) if is(a, "write") => true,
        Some(_) => return Err(Reply::err("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let ms = int_arg(&args[2])
        .map_err(|_| Reply::err("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(Reply::err("ERR timeout is negative"));
    }
    let until = now_ms().saturating_add(ms as u64);
    ctx.server.clients().pause(until, writes_only);
    Ok(Reply::OK)
}
