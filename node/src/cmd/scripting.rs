//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT. A script runs under the store lock like
//! any command, so nothing runs between its commands; its writes are logged as one binlog
//! batch, so other regions apply them whole, as EXEC's (docs/semantics.md, "Scripts").

use super::table::{ALLOW_BUSY, DENYOOM, NOSCRIPT, PUBSUB, READONLY as READONLY_FLAG, command_of};
use super::{CmdResult, Conn, Ctx, READONLY, execute, int_arg, is, read_only, write_error};
use crate::engine::store::ScriptingChange;
use crate::reply::Reply;
use crate::script::busy::Running;
use crate::script::functions::Library;
use crate::script::{self, Script, ScriptFlags};
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
    super::monitoring::feed_monitors(ctx, args);
    let numkeys = keys_given(int_arg(&args[2])?, args)?;
    let scripts = script_cache(ctx);
    let script = if by_sha {
        if args[1].len() != 40 {
            return Err(Reply::err(NO_SCRIPT));
        }
        // Lower-cased where it is, not in a new string.
        let mut sha = [0u8; 40];
        sha.copy_from_slice(&args[1]);
        sha.make_ascii_lowercase();
        let sha = std::str::from_utf8(&sha).map_err(|_| Reply::err(NO_SCRIPT))?;
        cached(ctx, sha).ok_or_else(|| Reply::err(NO_SCRIPT))?
    } else {
        script::load(scripts, &args[1]).map_err(Reply::Error)?
    };
    let flags = script.flags;
    check_flags(ctx, flags, ro)?;
    dispatch(ctx, Runs::Eval(script), flags, ro, args, numkeys)
}

/// The script of SHA-1 `sha` (lower case): in this node's cache, or loaded by SCRIPT LOAD
/// in any region (compiled here then, and cached).
fn cached(ctx: &Ctx<'_>, sha: &str) -> Option<Arc<Script>> {
    let scripts = script_cache(ctx);
    if let Some(script) = scripts.get(sha) {
        return Some(script);
    }
    let body = ctx.store.scripting().script(sha)?;
    script::load(scripts, body).ok()
}

/// This node's script cache, flushed first if a SCRIPT FLUSH of any region arrived.
fn script_cache<'a>(ctx: &Ctx<'a>) -> &'a crate::script::Scripts {
    let scripts = ctx.server.scripts();
    scripts.sync_flushes(ctx.store.scripting().script_flushes());
    scripts
}

/// EVAL's and FCALL's `numkeys`, checked against the arguments that follow it.
pub(super) fn keys_given(numkeys: i64, args: &[Bytes]) -> Result<usize, Reply> {
    if numkeys > (args.len() - 3) as i64 {
        return Err(Reply::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(Reply::err("ERR Number of keys can't be negative"));
    }
    Ok(numkeys as usize)
}

/// What a script runs.
#[derive(Debug)]
pub(super) enum Runs {
    Eval(Arc<Script>),
    /// A library's function, by name.
    Function(Arc<Library>, String),
}

/// Run a script where the command runs, holding the store. Outside a transaction it is
/// shown running: SCRIPT KILL and FUNCTION KILL reach it, FUNCTION STATS shows it, other
/// clients wait for it without blocking (and get -BUSY past `busy-reply-threshold`), and
/// the runtime moves off its thread once it runs long ([`crate::script::busy`]). Inside one
/// it is part of EXEC, which runs whole and cannot be stopped halfway.
pub(super) fn dispatch(
    ctx: &mut Ctx<'_>,
    runs: Runs,
    flags: ScriptFlags,
    ro: bool,
    args: &[Bytes],
    numkeys: usize,
) -> CmdResult {
    let (keys, argv) = args[3..].split_at(numkeys);
    let read_only_script = ro || flags.no_writes;
    let scripts = ctx.server.scripts();
    let running = (!ctx.conn.in_exec).then(|| {
        Arc::new(match &runs {
            // A script's name and command are shown by FUNCTION STATS only, which answers
            // -BUSY while a script (not a function) runs: not copied for it.
            Runs::Eval(_) => Running::new(true, String::new(), Vec::new()),
            Runs::Function(_, name) => Running::new(false, name.clone(), args.to_vec()),
        })
    });
    let busy = ctx.server.engine().busy();
    let _shown = running.as_ref().map(|r| busy.show(Arc::clone(r)));
    ctx.in_one_batch(|ctx| {
        run(ctx, flags, read_only_script, running, keys, |calls| {
            run_what(scripts, &runs, keys, argv, calls)
        })
    })
}

fn run_what(
    scripts: &crate::script::Scripts,
    runs: &Runs,
    keys: &[Bytes],
    argv: &[Bytes],
    calls: &mut Calls<'_>,
) -> Reply {
    match runs {
        Runs::Eval(s) => script::run(scripts, s, keys, argv, calls),
        Runs::Function(library, name) => {
            script::run_function(scripts, library, name, keys, argv, calls)
        }
    }
}

/// The checks a script with flags (a shebang, or a function's) passes before it runs, as
/// Redis words their refusals.
pub(super) fn check_flags(ctx: &Ctx<'_>, flags: ScriptFlags, ro: bool) -> Result<(), Reply> {
    if flags.compat {
        return Ok(());
    }
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
    Ok(())
}

/// Run a script (`go`) for the client of `ctx`, its commands on a connection of their own.
fn run(
    ctx: &mut Ctx<'_>,
    flags: ScriptFlags,
    read_only_script: bool,
    running: Option<Arc<Running>>,
    keys: &[Bytes],
    go: impl FnOnce(&mut Calls<'_>) -> Reply,
) -> Reply {
    let mut conn = Conn::for_script(ctx.conn);
    let tracking = ctx.conn.tracking.is_some().then(|| Tracking {
        keys: keys.to_vec(),
        caching: ctx.conn.caching,
        remembered: false,
    });
    let mut calls = Calls {
        ctx: Ctx {
            store: &mut *ctx.store,
            conn: &mut conn,
            server: ctx.server,
            config: ctx.config,
            now: ctx.now,
        },
        read_only: read_only_script,
        allow_oom: flags.allow_oom,
        wrote: false,
        running,
        error_counted: false,
        tracking,
    };
    let reply = go(&mut calls);
    // An error reply is counted once: by the command that failed inside the script, else
    // as the script's (EVAL's) error.
    ctx.conn.error_counted = calls.error_counted && reply.is_error();
    reply
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
    /// The script shown running (SCRIPT KILL reaches it through this).
    running: Option<Arc<Running>>,
    /// The script's error reply is a command's, counted in the error stats already.
    error_counted: bool,
    /// The caller tracks keys (client-side caching): what a read inside the script makes
    /// it remember.
    tracking: Option<Tracking>,
}

/// What a tracking caller remembers once its script runs a read: the keys the script
/// declared (Redis's rule, not the keys of the read itself).
struct Tracking {
    keys: Vec<Bytes>,
    /// CLIENT CACHING YES was given for the script (OPTIN).
    caching: bool,
    remembered: bool,
}

impl script::Run for Calls<'_> {
    fn running(&self) -> Option<Arc<Running>> {
        self.running.clone()
    }

    fn error_counted(&mut self) {
        self.error_counted = true;
    }

    fn acl_check(&mut self, args: &[Bytes]) -> Result<bool, String> {
        let known = command_of(args);
        let Some(command) = known else {
            return Err("ERR Invalid command passed to redis.acl_check_cmd()".into());
        };
        Ok(super::acl::permits(&self.ctx, command, args))
    }

    fn call(&mut self, args: &[Bytes], resp: u8) -> Result<Reply, String> {
        let ctx = &mut self.ctx;
        ctx.conn.resp = resp;
        let known = command_of(args);
        let Some(command) = known else {
            let e = "ERR Unknown Redis command called from script";
            ctx.store.stats.error(e);
            return Err(e.into());
        };
        let refused = |ctx: &mut Ctx<'_>, e: &str| {
            ctx.store.stats.rejected(command.name, e);
            Err(e.to_string())
        };
        let n = args.len() as i32;
        let arity = command.arity;
        if (arity > 0 && n != arity) || (arity < 0 && n < -arity) {
            return refused(
                ctx,
                "ERR Wrong number of args calling Redis command from script",
            );
        }
        if command.has(NOSCRIPT) {
            return refused(ctx, "ERR This Redis command is not allowed from script");
        }
        if let Some(Reply::Error(e)) = super::acl::refusal(ctx, command, args) {
            return refused(ctx, &e);
        }
        if command.is_write() {
            if self.read_only {
                return refused(
                    ctx,
                    "ERR Write commands are not allowed from read-only scripts.",
                );
            }
            if !self.wrote && read_only(ctx) {
                return refused(ctx, READONLY);
            }
        }
        if !self.allow_oom && !self.wrote && ctx.conn.out_of_memory && command.has(DENYOOM) {
            return refused(
                ctx,
                "OOM command not allowed when used memory > 'maxmemory'.",
            );
        }
        if command.is_write() {
            self.wrote = true;
            if let Some(r) = &self.running {
                r.note_write();
            }
        }
        let reply = execute(ctx, args);
        if let Some(t) = &mut self.tracking {
            if !t.remembered && command.has(READONLY_FLAG) && !command.has(PUBSUB) {
                t.remembered = true;
                let keys = t.keys.iter().map(|k| &k[..]);
                let tracking = self.ctx.server.notifier().tracking();
                tracking.remember(self.ctx.conn.id, keys, t.caching);
            }
        }
        match reply {
            Reply::Error(e) => Err(e),
            reply => Ok(reply),
        }
    }
}

/// SCRIPT EXISTS, FLUSH, HELP, LOAD.
pub fn script(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scripts = script_cache(ctx);
    let sub = &args[1];
    if is(sub, "load") {
        let script = script::load(scripts, &args[2]).map_err(Reply::Error)?;
        // Loaded for every region (a read-only node keeps it to itself).
        let known = ctx.store.scripting().script(&script.sha).is_some();
        if !known && !read_only(ctx) {
            let body = script.body.clone();
            let change = ScriptingChange::Script { body };
            ctx.store
                .change_scripting(change, ctx.now)
                .map_err(write_error)?;
        }
        return Ok(Reply::bulk(script.sha.clone()));
    }
    if is(sub, "exists") {
        let found = args[2..]
            .iter()
            .map(|sha| {
                let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                let known = scripts.contains(&sha) || ctx.store.scripting().script(&sha).is_some();
                Reply::Int(i64::from(known))
            })
            .collect();
        return Ok(Reply::Array(found));
    }
    if is(sub, "kill") {
        // A running script is the connections' to kill (`cmd::while_busy`).
        return Err(Reply::err(crate::script::busy::NOT_BUSY));
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
        // Every region forgets the loads this one had seen (and flushes its cache).
        if !ctx.store.scripting().scripts().is_empty() && !read_only(ctx) {
            let cutoff = ctx.store.applied().clone();
            let change = ScriptingChange::FlushScripts { cutoff };
            ctx.store
                .change_scripting(change, ctx.now)
                .map_err(write_error)?;
        }
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
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ]))
}

/// The answer to `args` while another client's script has been running past
/// `busy-reply-threshold`: SCRIPT KILL and FUNCTION KILL, FUNCTION STATS, SHUTDOWN (the
/// process exits: the script's writes, a batch not yet logged, are lost whole), `-BUSY` for
/// the rest; `None` for a command Redis allows while busy (it waits for the script).
pub fn while_busy(
    shared: &crate::shared::Shared,
    conn: &mut Conn,
    running: &crate::script::busy::Running,
    args: &[Bytes],
) -> Option<Reply> {
    use crate::script::busy::{BUSY_EVAL, BUSY_FUNCTION};
    let busy = if running.eval {
        BUSY_EVAL
    } else {
        BUSY_FUNCTION
    };
    let sub = |name: &str| args.len() == 2 && is(&args[1], name);
    let outcome = |r: Result<(), &'static str>| Some(r.map_or_else(Reply::err, |()| Reply::OK));
    if args.is_empty() {
        return None;
    }
    if is(&args[0], "script") && sub("kill") {
        return outcome(shared.engine().busy().kill(true));
    }
    if is(&args[0], "function") && sub("kill") {
        return outcome(shared.engine().busy().kill(false));
    }
    if is(&args[0], "function") && sub("stats") {
        if running.eval {
            return Some(Reply::err(BUSY_EVAL));
        }
        return Some(super::functions::stats(shared, Some(running)));
    }
    if is(&args[0], "shutdown") {
        tracing::warn!("SHUTDOWN while a script runs: exiting at once");
        std::process::exit(0);
    }
    // MULTI and DISCARD change only the connection: they run (a transaction begun while
    // busy has its commands refused, so EXEC aborts it, as in Redis).
    if is(&args[0], "multi") && args.len() == 1 {
        if conn.multi.is_some() {
            return Some(Reply::err("ERR MULTI calls can not be nested"));
        }
        conn.multi = Some(Vec::new());
        return Some(Reply::OK);
    }
    if is(&args[0], "discard") && args.len() == 1 {
        if conn.multi.take().is_none() {
            return Some(Reply::err("ERR DISCARD without MULTI"));
        }
        conn.multi_failed = false;
        conn.watched.clear();
        return Some(Reply::OK);
    }
    match command_of(args) {
        Some(command) if command.has(ALLOW_BUSY) => None,
        // Refused: a transaction it was sent in fails, and an EXEC ends it.
        _ if conn.multi.is_some() && is(&args[0], "exec") => {
            conn.multi = None;
            conn.multi_failed = false;
            conn.watched.clear();
            Some(Reply::err(format!(
                "EXECABORT Transaction discarded because of: {busy}"
            )))
        }
        _ => {
            conn.multi_failed |= conn.multi.is_some();
            Some(Reply::err(busy))
        }
    }
}
