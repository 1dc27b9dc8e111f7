//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT. A script runs under the store lock like
//! any command, so nothing runs between its commands; its writes are logged as one binlog
//! batch, so other regions apply them whole, as EXEC's (docs/semantics.md, "Scripts").

use super::table::{DENYOOM, NOSCRIPT, lookup};
use super::{CmdResult, Conn, Ctx, READONLY, execute, int_arg, is, read_only};
use crate::reply::Reply;
use crate::script::busy::Running;
use crate::script::functions::{self, Library, Metadata};
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
    check_flags(ctx, flags, ro)?;
    dispatch(ctx, Runs::Eval(script), flags, ro, args, numkeys as usize)
}

/// What a script job runs.
#[derive(Debug)]
enum Runs {
    Eval(Arc<Script>),
    /// A library's function, by name.
    Function(Arc<Library>, String),
}

/// A script to run on the script thread, that the connection hands over (see
/// [`crate::script::busy`]).
#[derive(Debug)]
pub struct ScriptJob {
    runs: Runs,
    keys: Vec<Bytes>,
    argv: Vec<Bytes>,
    flags: ScriptFlags,
    read_only: bool,
    /// What the script's commands run as (the caller's database and user).
    caller: std::sync::Mutex<Option<Conn>>,
    /// The command that runs it.
    command: Vec<Bytes>,
}

impl ScriptJob {
    /// What the running script is known by (SCRIPT KILL, FUNCTION STATS).
    pub fn running(&self) -> Running {
        match &self.runs {
            Runs::Eval(s) => Running::new(true, s.sha.clone(), self.command.clone()),
            Runs::Function(_, name) => Running::new(false, name.clone(), self.command.clone()),
        }
    }
}

/// Run a script: at once inside a transaction (EXEC runs whole under the lock), else on
/// the script thread, which the connection hands it to (`Reply::Script`).
fn dispatch(
    ctx: &mut Ctx<'_>,
    runs: Runs,
    flags: ScriptFlags,
    ro: bool,
    args: &[Bytes],
    numkeys: usize,
) -> CmdResult {
    let (keys, argv) = args[3..].split_at(numkeys);
    let read_only_script = ro || flags.no_writes;
    if ctx.conn.in_exec {
        let scripts = ctx.server.scripts();
        return ctx.in_one_batch(|ctx| {
            run(ctx, flags, read_only_script, None, |calls| {
                run_what(scripts, &runs, keys, argv, calls)
            })
        });
    }
    Ok(Reply::Script(crate::reply::ScriptRun(Arc::new(
        ScriptJob {
            runs,
            keys: keys.to_vec(),
            argv: argv.to_vec(),
            flags,
            read_only: read_only_script,
            caller: std::sync::Mutex::new(Some(Conn::for_script(ctx.conn))),
            command: args.to_vec(),
        },
    ))))
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

/// Run `job` on this (the script) thread: take the store lock, run the script as one
/// batch, commit it. Returns the reply, and the op id of the script's last write if it
/// wrote (for the caller's WAIT).
pub fn run_job(
    shared: &crate::shared::Shared,
    job: &ScriptJob,
    running: Arc<Running>,
) -> (Reply, Option<u64>) {
    let Some(mut caller) = job.caller.lock().unwrap_or_else(|p| p.into_inner()).take() else {
        return (Reply::err("ERR the script already ran"), None);
    };
    let config = shared.config();
    let mut store = shared.engine().lock_store();
    let writes = store.writes;
    let mut ctx = Ctx {
        store: &mut store,
        conn: &mut caller,
        server: shared,
        config: &config,
        now: crate::engine::store::now_ms(),
    };
    let scripts = shared.scripts();
    let reply = ctx
        .in_one_batch(|ctx| {
            run(ctx, job.flags, job.read_only, Some(running), |calls| {
                run_what(scripts, &job.runs, &job.keys, &job.argv, calls)
            })
        })
        .unwrap_or_else(|e| e);
    let wrote = store.writes != writes;
    let last_write = wrote.then(|| store.applied().get(store.server()).0);
    let reply = match store.commit() {
        Ok(()) => reply,
        Err(e) => {
            tracing::error!(error = %e, "binlog commit failed");
            Reply::err("MISCONF Errors writing to the binlog; writes may not be durable")
        }
    };
    drop(store);
    if wrote {
        shared.engine().wrote();
    }
    (reply, last_write)
}

/// The checks a script with flags (a shebang, or a function's) passes before it runs, as
/// Redis words their refusals.
fn check_flags(ctx: &Ctx<'_>, flags: ScriptFlags, ro: bool) -> Result<(), Reply> {
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
    go: impl FnOnce(&mut Calls<'_>) -> Reply,
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
        allow_oom: flags.allow_oom,
        wrote: false,
        running,
        error_counted: false,
    };
    let reply = go(&mut calls);
    // An error reply is counted once: by the command that failed inside the script, else
    // here (as Redis counts a script's error).
    if let Reply::Error(e) = &reply {
        if !calls.error_counted {
            ctx.store.stats.error(e);
        }
    }
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
    /// The script on the script thread (SCRIPT KILL reaches it through this).
    running: Option<Arc<Running>>,
    /// The script's error reply is a command's, counted in the error stats already.
    error_counted: bool,
}

impl script::Run for Calls<'_> {
    fn running(&self) -> Option<Arc<Running>> {
        self.running.clone()
    }

    fn error_counted(&mut self) {
        self.error_counted = true;
    }

    fn acl_check(&mut self, args: &[Bytes]) -> Result<bool, String> {
        let known = lookup(&args[0]).and_then(|spec| {
            let sub = spec.command.sub(args).ok()?;
            Some(sub.unwrap_or(&spec.command))
        });
        let Some(command) = known else {
            return Err("ERR Invalid command passed to redis.acl_check_cmd()".into());
        };
        Ok(super::acl::permits(&self.ctx, command, args))
    }

    fn call(&mut self, args: &[Bytes], resp: u8) -> Result<Reply, String> {
        let ctx = &mut self.ctx;
        ctx.conn.resp = resp;
        let known = lookup(&args[0]).and_then(|spec| {
            let sub = spec.command.sub(args).ok()?;
            Some(sub.unwrap_or(&spec.command))
        });
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

pub fn fcall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, args, false)
}

pub fn fcall_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, args, true)
}

/// `FCALL function numkeys key... arg...`; `ro`: FCALL_RO.
fn fcall_generic(ctx: &mut Ctx<'_>, args: &[Bytes], ro: bool) -> CmdResult {
    let asked = String::from_utf8_lossy(&args[1]);
    let Some((library, name, meta)) = ctx.server.functions().function(&asked) else {
        return Err(Reply::err("ERR Function not found"));
    };
    let numkeys = gdc_crdt::string::parse_i64(&args[2])
        .ok_or_else(|| Reply::err("ERR Bad number of keys provided"))?;
    if numkeys > (args.len() - 3) as i64 {
        return Err(Reply::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(Reply::err("ERR Number of keys can't be negative"));
    }
    check_flags(ctx, meta.flags, ro)?;
    dispatch(
        ctx,
        Runs::Function(library, name),
        meta.flags,
        ro,
        args,
        numkeys as usize,
    )
}

/// FUNCTION LOAD, LIST, DELETE, FLUSH, STATS, KILL, HELP.
pub fn function(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let functions = ctx.server.functions();
    if is(sub, "load") {
        let mut at = 2;
        let mut replace = false;
        while at < args.len() - 1 {
            if !is(&args[at], "replace") {
                return Err(Reply::err(format!(
                    "ERR Unknown option given: {}",
                    String::from_utf8_lossy(&args[at])
                )));
            }
            replace = true;
            at += 1;
        }
        let Some(code) = args.get(at) else {
            return Err(Reply::err("ERR Function code is missing"));
        };
        let name = load_library(ctx, code, replace).map_err(Reply::Error)?;
        save_functions(ctx);
        return Ok(Reply::bulk(name));
    }
    if is(sub, "list") {
        return function_list(ctx, &args[2..]);
    }
    if is(sub, "delete") {
        let name = String::from_utf8_lossy(&args[2]);
        if !functions.delete(&name) {
            return Err(Reply::err("ERR Library not found"));
        }
        save_functions(ctx);
        return Ok(Reply::OK);
    }
    if is(sub, "flush") {
        if args.len() > 3 {
            return Err(Reply::err(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
                String::from_utf8_lossy(sub)
            )));
        }
        match args.get(2) {
            None => {}
            Some(mode) if is(mode, "sync") || is(mode, "async") => {}
            Some(_) => {
                return Err(Reply::err(
                    "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
                ));
            }
        }
        functions.flush();
        save_functions(ctx);
        return Ok(Reply::OK);
    }
    if is(sub, "dump") {
        let libraries = functions.libraries();
        let payload = crate::rdb::dump_functions(libraries.iter().map(|l| &l.code[..]));
        return Ok(Reply::bulk(payload));
    }
    if is(sub, "restore") {
        function_restore(ctx, args)?;
        save_functions(ctx);
        return Ok(Reply::OK);
    }
    if is(sub, "stats") {
        let (libraries, functions) = functions.counts();
        let engine = Reply::Map(vec![
            (Reply::bulk("libraries_count"), Reply::Int(libraries as i64)),
            (Reply::bulk("functions_count"), Reply::Int(functions as i64)),
        ]);
        return Ok(Reply::Map(vec![
            (Reply::bulk("running_script"), Reply::Nil),
            (
                Reply::bulk("engines"),
                Reply::Map(vec![(Reply::bulk("LUA"), engine)]),
            ),
        ]));
    }
    if is(sub, "kill") {
        // A running function is the connections' to kill (`cmd::while_busy`).
        return Err(Reply::err(crate::script::busy::NOT_BUSY));
    }
    Ok(super::help(&[
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ]))
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: every library of the payload, or none.
fn function_restore(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<(), Reply> {
    if args.len() > 4 {
        return Err(Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
            String::from_utf8_lossy(&args[1])
        )));
    }
    let policy = args.get(3);
    let (flush, replace) = match policy {
        None => (false, false),
        Some(p) if is(p, "append") => (false, false),
        Some(p) if is(p, "replace") => (false, true),
        Some(p) if is(p, "flush") => (true, false),
        Some(_) => {
            return Err(Reply::err(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ));
        }
    };
    let codes =
        crate::rdb::restore_functions(&args[2]).map_err(|e| Reply::err(format!("ERR {e}")))?;
    let mut libraries: Vec<Library> = Vec::new();
    for code in codes {
        let code = Bytes::from(code);
        let library = checked_metadata(&code)
            .and_then(|md| run_library(ctx.server, &code, md))
            .map_err(Reply::Error)?;
        if libraries.iter().any(|l| l.name == library.name) {
            return Err(Reply::err(format!(
                "ERR Library '{}' already exists",
                library.name
            )));
        }
        let clash = library.functions.keys().find(|f| {
            libraries
                .iter()
                .any(|l| l.functions.keys().any(|g| g.eq_ignore_ascii_case(f)))
        });
        if let Some(f) = clash {
            return Err(Reply::err(format!("ERR Function {f} already exists")));
        }
        libraries.push(library);
    }
    let functions = ctx.server.functions();
    if flush {
        functions.set_all(libraries);
        return Ok(());
    }
    functions.join(libraries, replace).map_err(Reply::Error)
}

/// A library's metadata, checked as FUNCTION LOAD checks it: its name, its engine.
fn checked_metadata(code: &[u8]) -> Result<Metadata, String> {
    let md = Metadata::parse(code)?;
    if !functions::valid_name(&md.name) {
        return Err(functions::BAD_NAME.into());
    }
    if !md.engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{}' not found", md.engine));
    }
    Ok(md)
}

/// FUNCTION LOAD's work: run the library's code, check what it registered, keep it.
/// Returns the library's name.
pub fn load_library(ctx: &Ctx<'_>, code: &Bytes, replace: bool) -> Result<String, String> {
    let functions = ctx.server.functions();
    let md = checked_metadata(code)?;
    if !replace && functions.library(&md.name).is_some() {
        return Err(format!("ERR Library '{}' already exists", md.name));
    }
    let name = md.name.clone();
    let library = run_library(ctx.server, code, md)?;
    functions.add(library, replace)?;
    Ok(name)
}

/// A library, made by running its code here; refused if it registers no function.
fn run_library(
    shared: &crate::shared::Shared,
    code: &Bytes,
    md: Metadata,
) -> Result<Library, String> {
    let registered = script::run_library(shared.scripts(), &code[md.body_at..])?;
    if registered.is_empty() {
        return Err("ERR No functions registered".into());
    }
    Ok(Library {
        name: md.name,
        code: code.clone(),
        body_at: md.body_at,
        functions: registered
            .into_iter()
            .map(|r| {
                let meta = functions::FunctionMeta {
                    description: r.description,
                    flags: r.flags,
                };
                (r.name, meta)
            })
            .collect(),
        version: shared.functions().next_version(),
    })
}

/// Keep the libraries in the metadata store, for a restart.
fn save_functions(ctx: &Ctx<'_>) {
    let libraries = ctx.server.functions().libraries();
    let saved = ctx
        .store
        .meta()
        .set_function_libraries(libraries.iter().map(|l| &l.code[..]));
    if let Err(e) = saved {
        tracing::warn!(error = %e, "could not save the function libraries");
    }
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
fn function_list(ctx: &Ctx<'_>, options: &[Bytes]) -> CmdResult {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 0;
    while i < options.len() {
        let arg = &options[i];
        if !with_code && is(arg, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(arg, "libraryname") {
            let Some(p) = options.get(i + 1) else {
                return Err(Reply::err("ERR library name argument was not given"));
            };
            pattern = Some(p.clone());
            i += 1;
        } else {
            return Err(Reply::err(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(arg)
            )));
        }
        i += 1;
    }
    let libraries = ctx.server.functions().libraries();
    let listed = libraries
        .iter()
        .filter(|l| {
            pattern
                .as_ref()
                .is_none_or(|p| crate::glob::matches(p, l.name.as_bytes()))
        })
        .map(|l| {
            let functions = l
                .functions
                .iter()
                .map(|(name, f)| {
                    let flags = flag_names(f.flags).into_iter().map(Reply::Status).collect();
                    Reply::Map(vec![
                        (Reply::bulk("name"), Reply::bulk(name.clone())),
                        (
                            Reply::bulk("description"),
                            f.description.clone().map_or(Reply::Nil, Reply::bulk),
                        ),
                        (Reply::bulk("flags"), Reply::Set(flags)),
                    ])
                })
                .collect();
            let mut fields = vec![
                (Reply::bulk("library_name"), Reply::bulk(l.name.clone())),
                (Reply::bulk("engine"), Reply::bulk("LUA")),
                (Reply::bulk("functions"), Reply::Array(functions)),
            ];
            if with_code {
                fields.push((Reply::bulk("library_code"), Reply::Bulk(l.code.clone())));
            }
            Reply::Map(fields)
        })
        .collect();
    Ok(Reply::Array(listed))
}

/// A function's flags as FUNCTION LIST names them, in Redis's order.
fn flag_names(f: ScriptFlags) -> Vec<&'static str> {
    [
        (f.no_writes, "no-writes"),
        (f.allow_oom, "allow-oom"),
        (f.allow_stale, "allow-stale"),
        (f.no_cluster, "no-cluster"),
        (f.allow_cross_slot_keys, "allow-cross-slot-keys"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

/// Load the libraries the metadata store kept (at start).
pub fn restore_functions(shared: &crate::shared::Shared, meta: &crate::engine::meta::Meta) {
    let saved = match meta.function_libraries() {
        Ok(saved) => saved,
        Err(e) => {
            tracing::error!(error = %e, "could not read the saved function libraries");
            return;
        }
    };
    let mut libraries = Vec::new();
    for code in saved {
        let code = Bytes::from(code);
        let loaded = Metadata::parse(&code).and_then(|md| run_library(shared, &code, md));
        match loaded {
            Ok(l) => libraries.push(l),
            Err(e) => tracing::error!(error = %e, "a saved function library did not load"),
        }
    }
    shared.functions().set_all(libraries);
}
