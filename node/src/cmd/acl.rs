//! ACL users as commands see them: the check every command passes ([`check`]), AUTH and
//! HELLO's login ([`authenticate`]), and the ACL command, with Redis 7.0's replies and
//! errors. The users and the ACL LOG are [`crate::accounts::Accounts`]'.

use super::table::command_of;
use super::table::{Command, KeyFlags};
use super::{CmdResult, Ctx, int_arg, is};
use crate::acl::{AclError, ChannelRef, Denied, KeyAccess, KeyRef, LogContext, Request, User};
use crate::reply::Reply;
use bytes::Bytes;
use std::sync::{Arc, Mutex};

/// Whether the connection's user may run `command` with `args` (None: yes). A refusal is
/// logged in ACL LOG and answered with Redis's NOPERM error (inside EXEC, the one that says
/// the rules changed since the command was queued).
/// Inlined: every command asks, and with only the unrestricted default user (the usual
/// case) this check is the answer.
#[inline]
pub(super) fn refusal(ctx: &Ctx<'_>, command: &Command, args: &[Bytes]) -> Option<Reply> {
    if ctx.server.accounts().restricted() {
        checked_refusal(ctx, command, args)
    } else {
        None
    }
}

#[inline(never)]
fn checked_refusal(ctx: &Ctx<'_>, command: &Command, args: &[Bytes]) -> Option<Reply> {
    let accounts = ctx.server.accounts();
    let users = accounts.users();
    let user = users.get(&ctx.conn.user)?;
    let denied = check(user, users.commands(), command, args).err()?;
    let context = if ctx.conn.in_script {
        LogContext::Lua
    } else if ctx.conn.in_exec || ctx.conn.multi.is_some() {
        LogContext::Multi
    } else {
        LogContext::Toplevel
    };
    let client = client_info(ctx, command.name);
    accounts
        .log()
        .add_denied(&denied, context, &ctx.conn.user, client, ctx.now);
    Some(Reply::err(if ctx.conn.in_script {
        denied.script_error()
    } else if ctx.conn.in_exec {
        denied.exec_error()
    } else {
        denied.noperm_error()
    }))
}

/// Whether the connection's user may run `command` with `args`, asked without logging a
/// refusal (`redis.acl_check_cmd`).
pub(super) fn permits(ctx: &Ctx<'_>, command: &Command, args: &[Bytes]) -> bool {
    let accounts = ctx.server.accounts();
    if !accounts.restricted() {
        return true;
    }
    let users = accounts.users();
    users
        .get(&ctx.conn.user)
        .is_some_and(|user| check(user, users.commands(), command, args).is_ok())
}

/// The check itself: the command, its first argument, its keys with how it uses them, the
/// channels it publishes or subscribes to.
fn check(
    user: &User,
    commands: &crate::acl::Commands,
    command: &Command,
    args: &[Bytes],
) -> Result<(), Denied> {
    let Some(id) = commands.lookup(command.name.as_bytes()) else {
        return Ok(());
    };
    let first_arg = args
        .get(if command.name.contains('|') { 2 } else { 1 })
        .map(|a| &a[..]);
    let keys: Vec<KeyRef<'_>> = command
        .find_keys(args)
        .into_iter()
        .map(|(i, flags)| KeyRef {
            name: &args[i],
            access: key_access(flags),
        })
        .collect();
    let channels = channels(command.name, args);
    user.check(
        commands,
        &Request {
            command: id,
            first_arg,
            keys: &keys,
            channels: &channels,
        },
    )
}

fn key_access(flags: KeyFlags) -> KeyAccess {
    use super::table::key_flags::{ACCESS, DELETE, INSERT, UPDATE};
    KeyAccess::from_key_spec(
        flags & ACCESS != 0,
        flags & INSERT != 0,
        flags & DELETE != 0,
        flags & UPDATE != 0,
    )
}

/// The channels a command publishes or subscribes to, as Redis's ACL checks them.
fn channels<'a>(name: &str, args: &'a [Bytes]) -> Vec<ChannelRef<'a>> {
    let of = |args: &'a [Bytes], is_pattern| {
        args.iter()
            .map(|a| ChannelRef {
                name: a,
                is_pattern,
            })
            .collect()
    };
    match name {
        "publish" | "spublish" => of(&args[1..2.min(args.len())], false),
        "subscribe" | "ssubscribe" => of(&args[1..], false),
        "psubscribe" => of(&args[1..], true),
        _ => Vec::new(),
    }
}

/// CLIENT LIST's line of this client running `command` (ACL LOG's `client-info`).
fn client_info(ctx: &Ctx<'_>, command: &'static str) -> String {
    let clients = ctx.server.clients().listing();
    let Some(entry) = clients.get(&ctx.conn.id) else {
        return String::new();
    };
    let mut entry = entry.clone();
    entry.last_cmd = command;
    entry.user.clone_from(&ctx.conn.user);
    entry.line(ctx.conn.id, ctx.now)
}

/// AUTH and HELLO AUTH: log in as `user`, or log the failure (object `AUTH`) and answer
/// WRONGPASS.
pub(super) fn authenticate(ctx: &mut Ctx<'_>, user: &[u8], password: &[u8]) -> Result<(), Reply> {
    let accounts = ctx.server.accounts();
    if accounts.users().authenticate(user, password) {
        ctx.conn.authenticated = true;
        ctx.conn.user = Bytes::copy_from_slice(user);
        return Ok(());
    }
    let entry = crate::acl::LogEntry {
        count: 1,
        reason: crate::acl::LogReason::Auth,
        context: if ctx.conn.multi.is_some() {
            LogContext::Multi
        } else {
            LogContext::Toplevel
        },
        object: b"AUTH".to_vec(),
        username: user.to_vec(),
        time_ms: ctx.now,
        client_info: client_info(ctx, "auth"),
    };
    accounts.log().add(entry);
    Err(Reply::err(
        "WRONGPASS invalid username-password pair or user is disabled.",
    ))
}

/// Whether a new connection starts logged in as `default`: when that user is on and needs
/// no password, as in Redis.
pub fn default_login(server: &crate::shared::Shared) -> bool {
    let users = server.accounts().users();
    users
        .get(crate::acl::DEFAULT_USER)
        .is_some_and(|u| u.enabled() && u.nopass())
}

fn acl_error(e: AclError) -> Reply {
    Reply::err(format!("ERR {e}"))
}

/// ACL <subcommand> ...
pub fn acl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if is(sub, "setuser") {
        setuser(ctx, args)
    } else if is(sub, "deluser") {
        deluser(ctx, args)
    } else if is(sub, "getuser") {
        Ok(getuser(ctx, &args[2]))
    } else if is(sub, "users") {
        let users = ctx.server.accounts().users();
        let names = users
            .names()
            .map(|n| Reply::bulk(Bytes::copy_from_slice(n)));
        Ok(Reply::Array(names.collect()))
    } else if is(sub, "list") {
        let users = ctx.server.accounts().users();
        let lines = users
            .list()
            .into_iter()
            .map(|l| Reply::bulk(Bytes::from(l)));
        Ok(Reply::Array(lines.collect()))
    } else if is(sub, "whoami") {
        Ok(Reply::Bulk(ctx.conn.user.clone()))
    } else if is(sub, "cat") {
        cat(ctx, args)
    } else if is(sub, "genpass") {
        let bits = args.get(2).map(|b| int_arg(b)).transpose()?.unwrap_or(256);
        let password = crate::acl::genpass(bits).map_err(acl_error)?;
        Ok(Reply::bulk(password))
    } else if is(sub, "dryrun") {
        dryrun(ctx, args)
    } else if is(sub, "log") {
        log(ctx, args)
    } else if is(sub, "load") {
        load(ctx, args)
    } else if is(sub, "save") {
        save(ctx)
    } else {
        Ok(super::help(HELP))
    }
}

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];

/// How long a change of users waits for the coordinators to confirm it.
const USERS_CHANGE_WAIT_MS: u64 = 10_000;
/// How many times a change is made again on a newer version of the users when another
/// region changed them first.
const USERS_CHANGE_ATTEMPTS_MAX: u32 = 3;

/// A change of the users made at a node that follows coordinators, on its way to them: the
/// command waits (blocked, without the store lock) until they confirm or refuse it.
#[derive(Debug)]
pub struct UsersChange {
    /// The command that made it (a retry of the same command picks its outcome up).
    args: Vec<Bytes>,
    /// What the command answers once the change is made.
    reply: Reply,
    /// The version of the users it was made on, and the users it makes.
    expected: u64,
    lines: Vec<Vec<u8>>,
    attempts: u32,
    outcome: Arc<Mutex<Option<Result<u64, String>>>>,
}

/// Change the users with `change`. Standalone: at once, kept in the data directory (or
/// the aclfile's users, until ACL SAVE). With coordinators the users are the instance's:
/// the change is made on the users in force and sent to the coordinators, compare-and-set
/// on their version; once confirmed it is in force here (and, as they send it, at every
/// node of every region). When another change got there first, it is made again on the
/// newer users.
fn change_users(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    change: impl Fn(&mut crate::acl::Users) -> Result<Reply, AclError>,
) -> CmdResult {
    let coordinated = ctx.server.replication().coordination().followed().is_some()
        || !ctx.config.coordinators.is_empty();
    let accounts = ctx.server.accounts();
    if !coordinated {
        let reply = accounts.change(ctx.config, change).map_err(acl_error)?;
        ctx.server.users_changed();
        return Ok(reply);
    }
    if ctx.conn.in_exec {
        return Err(Reply::err(
            "ERR the users of a node that follows coordinators cannot be changed inside MULTI",
        ));
    }
    let mut attempts = 0;
    if let Some(pending) = ctx.conn.users_change.take_if(|p| p.args == args) {
        let outcome = pending
            .outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match outcome {
            None => {
                ctx.conn.users_change = Some(pending);
                return Ok(wait_for_coordinators(ctx));
            }
            Some(Ok(version)) => {
                accounts.take_coordinated(ctx.config, version, &pending.lines);
                ctx.server.users_changed();
                return Ok(pending.reply);
            }
            Some(Err(e))
                if e.contains("is at version") && pending.attempts < USERS_CHANGE_ATTEMPTS_MAX =>
            {
                if accounts.version() <= pending.expected {
                    // The newer users are on their way here: wait for them.
                    *pending.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(Err(e));
                    ctx.conn.users_change = Some(pending);
                    return Ok(wait_for_coordinators(ctx));
                }
                attempts = pending.attempts + 1;
            }
            Some(Err(e)) => {
                return Err(Reply::err(format!(
                    "ERR the coordinators did not make the change of users: {e}"
                )));
            }
        }
    }
    let mut next = crate::acl::Users::clone(&accounts.users());
    let reply = change(&mut next).map_err(acl_error)?;
    let lines = next.to_rules_lines();
    let expected = accounts.version();
    let outcome = Arc::new(Mutex::new(None));
    let (replication, engine) = (
        Arc::clone(ctx.server.replication()),
        Arc::clone(ctx.server.engine()),
    );
    let sent: Vec<String> = lines
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    let done = Arc::clone(&outcome);
    ctx.server.replication().tasks().spawn(async move {
        let made = replication.set_acl(expected, sent).await;
        *done.lock().unwrap_or_else(|p| p.into_inner()) = Some(made);
        engine.wake_waiters();
    });
    ctx.conn.users_change = Some(UsersChange {
        args: args.to_vec(),
        reply,
        expected,
        lines,
        attempts,
        outcome,
    });
    Ok(wait_for_coordinators(ctx))
}

fn wait_for_coordinators(ctx: &Ctx<'_>) -> Reply {
    let deadline = super::wait_started(ctx) + USERS_CHANGE_WAIT_MS;
    super::block(
        ctx,
        Some(deadline),
        Reply::err(
            "ERR the coordinators did not confirm the change of users in time (it may still be made)",
        ),
    )
}

fn setuser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (name, rules) = (&args[2], &args[3..]);
    change_users(ctx, args, |users| {
        users.set_user(name, rules).map(|()| Reply::OK)
    })
}

fn deluser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let names = &args[2..];
    let reply = change_users(ctx, args, |users| {
        users.delete(names).map(|n| Reply::Int(n as i64))
    })?;
    // A connection of a deleted user goes, this one after its reply.
    if !matches!(reply, Reply::Block { .. }) && names.contains(&ctx.conn.user) {
        ctx.conn.closing = true;
    }
    Ok(reply)
}

fn getuser(ctx: &Ctx<'_>, name: &[u8]) -> Reply {
    let users = ctx.server.accounts().users();
    let Some(user) = users.get(name) else {
        return Reply::Nil;
    };
    let info = user.info(users.commands());
    let bulk = |b: &[u8]| Reply::bulk(Bytes::copy_from_slice(b));
    let selector = |s: &crate::acl::SelectorInfo| {
        vec![
            (Reply::bulk("commands"), bulk(&s.commands)),
            (Reply::bulk("keys"), bulk(&s.keys)),
            (Reply::bulk("channels"), bulk(&s.channels)),
        ]
    };
    let mut fields = vec![
        (
            Reply::bulk("flags"),
            Reply::Set(info.flags.iter().map(|f| Reply::bulk(*f)).collect()),
        ),
        (
            Reply::bulk("passwords"),
            Reply::Array(
                info.passwords
                    .iter()
                    .map(|p| Reply::bulk(p.clone()))
                    .collect(),
            ),
        ),
    ];
    fields.extend(selector(&info.root));
    let selectors = info
        .selectors
        .iter()
        .map(|s| Reply::Map(selector(s)))
        .collect();
    fields.push((Reply::bulk("selectors"), Reply::Array(selectors)));
    Reply::Map(fields)
}

fn cat(ctx: &Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(super::wrong_arity("acl|cat"));
    }
    let Some(name) = args.get(2) else {
        let names = crate::acl::CATEGORY_NAMES.iter();
        return Ok(Reply::Array(
            names
                .map(|n| Reply::bulk(n.trim_start_matches('@')))
                .collect(),
        ));
    };
    let users = ctx.server.accounts().users();
    let commands = crate::acl::category_commands(users.commands(), name).map_err(acl_error)?;
    Ok(Reply::Array(
        commands
            .into_iter()
            .map(|c| Reply::bulk(c.to_string()))
            .collect(),
    ))
}

/// ACL DRYRUN user command [arg ...]: OK, or why the user may not run it.
fn dryrun(ctx: &Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let users = ctx.server.accounts().users();
    let Some(user) = users.get(&args[2]) else {
        return Err(acl_error(AclError::NoSuchUser(args[2].to_vec())));
    };
    let command_args = &args[3..];
    let Some(command) = command_of(command_args) else {
        return Err(Reply::err(format!(
            "ERR Command '{}' not found",
            String::from_utf8_lossy(&args[3])
        )));
    };
    let n = command_args.len() as i32;
    if (command.arity > 0 && n != command.arity) || (command.arity < 0 && n < -command.arity) {
        return Err(super::wrong_arity(command.name));
    }
    Ok(match check(user, users.commands(), command, command_args) {
        Ok(()) => Reply::OK,
        Err(denied) => Reply::bulk(Bytes::from(denied.dryrun_reply())),
    })
}

/// ACL LOG [count | RESET]
fn log(ctx: &Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let accounts = ctx.server.accounts();
    let count = match args.get(2) {
        None => 10,
        Some(a) if is(a, "reset") && args.len() == 3 => {
            accounts.log().reset();
            return Ok(Reply::OK);
        }
        Some(_) if args.len() > 3 => return Err(super::syntax_error()),
        Some(a) => int_arg(a)?.max(0) as usize,
    };
    let log = accounts.log();
    let entries = log.newest(count).map(|e| {
        let fields = e.fields(ctx.now).into_iter().map(|(name, v)| {
            let value = match v {
                crate::acl::LogValue::Integer(n) => Reply::Int(n as i64),
                crate::acl::LogValue::Bulk(b) => Reply::bulk(Bytes::copy_from_slice(b)),
                crate::acl::LogValue::Double(d) => Reply::Double(d),
            };
            (Reply::bulk(name), value)
        });
        Reply::Map(fields.collect())
    });
    Ok(Reply::Array(entries.collect()))
}

const NO_ACL_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// ACL LOAD: every user replaced by the `aclfile`'s (all or nothing); connections of users
/// that are gone are closed.
fn load(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(path) = ctx.config.acl_file.clone() else {
        return Err(Reply::err(NO_ACL_FILE));
    };
    let text = std::fs::read(&path).map_err(|e| {
        Reply::err(format!(
            "ERR Error loading ACLs, opening file '{}': {e}",
            path.display()
        ))
    })?;
    let name = path.display().to_string();
    change_users(ctx, args, |users| {
        users.load_file(&name, &text).map(|()| Reply::OK)
    })
}

/// ACL SAVE: the users into the `aclfile`, written whole to a new file first.
fn save(ctx: &Ctx<'_>) -> CmdResult {
    let Some(path) = &ctx.config.acl_file else {
        return Err(Reply::err(NO_ACL_FILE));
    };
    let text = ctx.server.accounts().users().file_text();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Reply::err(format!("ERR There was an error trying to save the ACLs. Please check the server logs for more information ({e})")))?;
    Ok(Reply::OK)
}
