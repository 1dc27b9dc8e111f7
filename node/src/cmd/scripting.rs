//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT. A script runs under the store lock like
//! any command, so nothing runs between its commands; its writes are logged as one binlog
//! batch, so other regions apply them whole, as EXEC's (docs/semantics.md, "Scripts").

use super::table::{DENYOOM, NOSCRIPT, lookup};
use super::{CmdResult, Conn, Ctx, READONLY, execute, int_arg, is, read_only};
use crate::reply::Reply;
use crate::script::{self, Script};
use bytes::Bytes;
use std::sync::Arc;

const NO_SCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

pub fn eval(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    eval_generic(ctx, args, false, false)
}

pub fn eval_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    eval_generic(ctx, args, false, true)
}

pub fn evalsha(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    eval_generic(ctx, args, true, false)
}

pub fn evalsha_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    eval_generic(ctx, args, true, true)
}

/// `EVAL script numkeys key... arg...` (or a SHA-1 for EVALSHA); `ro`: the *_RO form,
/// whose script may not write.
fn eval_generic(ctx: &mut Ctx<'_>, args: &[Bytes], by_sha: bool, ro: bool) -> CmdResult {
    let numkeys = int_arg(&args[2])?;
    if numkeys > (args.len() - 3) as i64 {
        return Err(Reply::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(Reply::err("ERR Number of keys can't be negative"));
    }
    let scripts = ctx.server.scripts();
    let script = if by_sha {
        if args[1].len() != 40 {
            return Err(Reply::err(NO_SCRIPT));
        }
        let sha = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        scripts.get(&sha).ok_or_else(|| Reply::err(NO_SCRIPT))?
    } else {
        script::load(scripts, &args[1]).map_err(Reply::Error)?
    };
    let flags = script.flags;
    if !flags.compat {
        if !flags.no_writes {
            if read_only(ctx) {
                return Err(Reply::err(
                    "READONLY Can not run script with write flag on readonly replica",
                ));
            }
            if ro {
                return Err(Reply::err(
                    "ERR Can not execute a script with write flag using *_ro command.",
                ));
            }
        }
        if ctx.conn.out_of_memory && !flags.allow_oom && !flags.no_writes {
            return Err(Reply::err(
                "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'",
            ));
        }
    }
    let (keys, argv) = args[3..].split_at(numkeys as usize);
    let read_only_script = ro || flags.no_writes;
    let reply = ctx.in_one_batch(|ctx| run(ctx, &script, keys, argv, read_only_script))?;
    Ok(reply)
}

/// Run `script` for the client of `ctx`, its commands on a connection of their own.
fn run(
    ctx: &mut Ctx<'_>,
    script: &Arc<Script>,
    keys: &[Bytes],
    argv: &[Bytes],
    read_only_script: bool,
) -> Reply {
    let mut conn = Conn::for_script(ctx.conn);
    let mut calls = Calls {
        ctx: Ctx {
            store: &mut *ctx.store,
            conn: &mut conn,
            server: ctx.server,
            config: ctx.config,
            now: ctx.now,
        },
        read_only: read_only_script,
        allow_oom: script.flags.allow_oom,
        wrote: false,
    };
    script::run(ctx.server.scripts(), script, keys, argv, &mut calls)
}

/// What a running script's commands run against, and what the script did so far.
struct Calls<'a> {
    ctx: Ctx<'a>,
    /// EVAL_RO, or a script with the `no-writes` flag.
    read_only: bool,
    allow_oom: bool,
    /// The script has run a write: from then on it runs to its end (Redis's rule: a script
    /// is refused only before it changed anything).
    wrote: bool,
}

impl script::Run for Calls<'_> {
    fn call(&mut self, args: &[Bytes], resp: u8) -> Result<Reply, String> {
        let ctx = &mut self.ctx;
        ctx.conn.resp = resp;
        let known = lookup(&args[0]).and_then(|spec| {
            let sub = spec.command.sub(args).ok()?;
            Some(sub.unwrap_or(&spec.command))
        });
        let Some(command) = known else {
            return Err("ERR Unknown Redis command called from script".into());
        };
        let n = args.len() as i32;
        let arity = command.arity;
        if (arity > 0 && n != arity) || (arity < 0 && n < -arity) {
            return Err("ERR Wrong number of args calling Redis command from script".into());
        }
        if command.has(NOSCRIPT) {
            return Err("ERR This Redis command is not allowed from script".into());
        }
        if let Some(Reply::Error(e)) = super::acl::refusal(ctx, command, args) {
            return Err(e);
        }
        if command.is_write() {
            if self.read_only {
                return Err("ERR Write commands are not allowed from read-only scripts.".into());
            }
            if !self.wrote && read_only(ctx) {
                return Err(READONLY.into());
            }
        }
        if !self.allow_oom && !self.wrote && ctx.conn.out_of_memory && command.has(DENYOOM) {
            return Err("OOM command not allowed when used memory > 'maxmemory'.".into());
        }
        if command.is_write() {
            self.wrote = true;
        }
        match execute(ctx, args) {
            Reply::Error(e) => Err(e),
            reply => Ok(reply),
        }
    }
}

/// SCRIPT EXISTS, FLUSH, HELP, LOAD.
pub fn script(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scripts = ctx.server.scripts();
    let sub = &args[1];
    if is(sub, "load") {
        let script = script::load(scripts, &args[2]).map_err(Reply::Error)?;
        return Ok(Reply::bulk(script.sha.clone()));
    }
    if is(sub, "exists") {
        let found = args[2..]
            .iter()
            .map(|sha| {
                let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                Reply::Int(i64::from(scripts.contains(&sha)))
            })
            .collect();
        return Ok(Reply::Array(found));
    }
    if is(sub, "flush") {
        match args.get(2) {
            None => {}
            Some(mode) if args.len() == 3 && (is(mode, "sync") || is(mode, "async")) => {}
            Some(_) => {
                return Err(Reply::err(
                    "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
                ));
            }
        }
        scripts.flush();
        return Ok(Reply::OK);
    }
    Ok(super::help(&[
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ]))
}
