//! The Lua state that runs scripts: one per thread that runs them, made on first use with
//! Redis's libraries and sandbox (`sandbox.lua`), made afresh after SCRIPT FLUSH.

use super::convert::{lua_to_reply, reply_to_lua};
use super::functions::Library;
use super::{Script, ScriptFlags, Scripts, sha1_hex};
use crate::reply::Reply;
use bytes::Bytes;
use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use tracing::{debug, info, warn};

thread_local! {
    static STATE: RefCell<Option<Vm>> = const { RefCell::new(None) };
}

struct Vm {
    lua: Lua,
    /// The [`Scripts`] generation it was made in.
    generation: u64,
    /// The globals behind the sandbox's read-only view (KEYS and ARGV are set there).
    real_globals: Table,
    /// The `redis` table behind its read-only view: a run sets its `call` and `pcall`.
    redis: Table,
    /// `redis.call` and `redis.pcall` outside a run.
    no_run: Function,
    xpcall: Function,
    handler: Function,
    /// Compiled scripts, by SHA-1.
    compiled: HashMap<String, Function>,
    /// Sets what FUNCTION LOAD's code sees as globals (the sandbox's).
    set_load_api: Function,
    /// Those globals: `redis` with register_function, log and the version.
    load_api: Table,
    /// `bind(f, keys, args)`: a function of no arguments calling `f(keys, args)`.
    bind: Function,
    /// Libraries run here: their version, and their functions' callbacks.
    libraries: HashMap<String, (u64, HashMap<String, Function>)>,
}

/// A function a library's code registered as it ran.
#[derive(Debug)]
pub struct Registered {
    pub name: String,
    pub description: Option<String>,
    pub flags: ScriptFlags,
    callback: Function,
}

/// What `redis.register_function` adds to while FUNCTION LOAD runs a library's code.
struct Registering(Vec<Registered>);

/// The protocol version a running script's commands reply in (`redis.setresp`).
struct Resp(u8);

impl Vm {
    fn new(generation: u64) -> mlua::Result<Vm> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        super::libs::open_all(&lua)?;
        let real_globals = lua.globals();
        let redis = redis_table(&lua)?;
        let no_run = lua.create_function(|_, _: MultiValue| -> mlua::Result<()> {
            Err(ScriptError::raise(
                "ERR redis.call/pcall can only be called inside a script invocation",
            ))
        })?;
        redis.set("call", no_run.clone())?;
        redis.set("pcall", no_run.clone())?;
        redis.set("acl_check_cmd", no_run.clone())?;
        real_globals.set("redis", redis.clone())?;
        let xpcall: Function = real_globals.get("xpcall")?;
        let error_text = lua.create_function(|_, e: Value| {
            Ok(match e {
                Value::Error(e) => error_message(&e),
                other => other.to_string().unwrap_or_default(),
            })
        })?;
        let (globals, set_load_api, protect): (Table, Function, Function) = lua
            .load(include_str!("sandbox.lua"))
            .set_name("@gdc_sandbox")
            .call(error_text)?;
        lua.set_globals(globals)?;
        let handler = lua.create_function(|lua, err: Value| error_handler(lua, err))?;
        let load_redis = lua.create_table()?;
        load_redis.set("register_function", lua.create_function(register_function)?)?;
        for name in [
            "log",
            "LOG_DEBUG",
            "LOG_VERBOSE",
            "LOG_NOTICE",
            "LOG_WARNING",
            "REDIS_VERSION",
            "REDIS_VERSION_NUM",
        ] {
            load_redis.set(name, redis.get::<Value>(name)?)?;
        }
        let load_api = lua.create_table()?;
        // Reading a field it lacks (redis.call) is an error, as reading a missing global.
        load_api.set("redis", protect.call::<Table>((load_redis, "strict"))?)?;
        let bind = lua
            .load("local f, keys, args = ...\nreturn function() return f(keys, args) end")
            .set_name("=gdc_bind")
            .into_function()?;
        Ok(Vm {
            lua,
            generation,
            real_globals,
            redis,
            no_run,
            xpcall,
            handler,
            compiled: HashMap::new(),
            set_load_api,
            load_api,
            bind,
            libraries: HashMap::new(),
        })
    }

    /// Compile `body` (its shebang line blanked, its line feed kept, so that line numbers
    /// stay the user's), as Redis's error says when it does not.
    fn compile(&mut self, sha: &str, body: &[u8], shebang: usize) -> Result<Function, String> {
        if let Some(f) = self.compiled.get(sha) {
            return Ok(f.clone());
        }
        let f = self
            .lua
            .load(&body[shebang..])
            .set_name("@user_script")
            .into_function()
            .map_err(|e| format!("ERR Error compiling script (new function): {}", message(&e)))?;
        self.compiled.insert(sha.to_string(), f.clone());
        Ok(f)
    }

    /// Run a library's code (after its shebang line) to have its functions registered,
    /// within FUNCTION LOAD's half-second limit; Redis's errors.
    fn run_library(&mut self, body: &[u8]) -> Result<Vec<Registered>, String> {
        let lua = &self.lua;
        let f = lua
            .load(body)
            .set_name("@user_function")
            .into_function()
            .map_err(|e| format!("ERR Error compiling function: {}", message(&e)))?;
        lua.set_app_data(Registering(Vec::new()));
        let started = std::time::Instant::now();
        let ran = self
            .set_load_api
            .call::<()>(self.load_api.clone())
            .and_then(|()| {
                lua.set_hook(
                    mlua::HookTriggers::new().every_nth_instruction(100_000),
                    move |_, _| {
                        if started.elapsed() > LOAD_TIME_MAX {
                            return Err(ScriptError::raise("ERR FUNCTION LOAD timeout"));
                        }
                        Ok(mlua::VmState::Continue)
                    },
                )?;
                self.xpcall.call::<(bool, Value)>((f, self.handler.clone()))
            });
        lua.remove_hook();
        let _ = self.set_load_api.call::<()>(Value::Nil);
        let registered = lua
            .remove_app_data::<Registering>()
            .map_or_else(Vec::new, |r| r.0);
        match ran {
            Ok((true, _)) => Ok(registered),
            Ok((false, err)) => Err(format!(
                "ERR Error registering functions: {}",
                error_field(&err)
            )),
            Err(e) => Err(format!(
                "ERR Error registering functions: {}",
                error_message(&e)
            )),
        }
    }

    /// The callbacks of `library` here, running its code first if this state has not run
    /// this load of it.
    fn library(&mut self, library: &Library) -> Result<&HashMap<String, Function>, String> {
        let fresh = self
            .libraries
            .get(&library.name)
            .is_some_and(|(v, _)| *v == library.version);
        if !fresh {
            let registered = self.run_library(&library.code[library.body_at..])?;
            let callbacks = registered
                .into_iter()
                .map(|r| (r.name, r.callback))
                .collect();
            self.libraries
                .insert(library.name.clone(), (library.version, callbacks));
        }
        Ok(&self.libraries[&library.name].1)
    }
}

/// How long FUNCTION LOAD lets a library's code run (Redis's 500 ms).
const LOAD_TIME_MAX: std::time::Duration = std::time::Duration::from_millis(500);

/// FUNCTION LOAD's run of a library's code: the functions it registered, or the error.
pub fn run_library(scripts: &Scripts, body: &[u8]) -> Result<Vec<Registered>, String> {
    with_vm(scripts, |vm| vm.run_library(body))?
}

/// Run function `name` of `library` with `keys` and `args`, its commands going to `run`.
pub fn run_function(
    scripts: &Scripts,
    library: &Library,
    name: &str,
    keys: &[Bytes],
    args: &[Bytes],
    run: &mut dyn Run,
) -> Reply {
    let reply = with_vm(scripts, |vm| {
        let callback = match vm.library(library) {
            Ok(callbacks) => match callbacks.get(name) {
                Some(f) => f.clone(),
                None => return Reply::err("ERR Function not found"),
            },
            Err(e) => return Reply::Error(e),
        };
        let lua = vm.lua.clone();
        let bound = strings(&lua, keys)
            .and_then(|k| Ok((k, strings(&lua, args)?)))
            .and_then(|(k, a)| vm.bind.call::<Function>((callback, k, a)));
        let f = match bound {
            Ok(f) => f,
            Err(e) => return Reply::Error(error_message(&e)),
        };
        match call_under_handler(vm, &f, name, run) {
            Ok((reply, counted)) => {
                if counted {
                    run.error_counted();
                }
                reply
            }
            Err(e) => Reply::Error(format!(
                "ERR Error running function {name}, {}",
                message(&e)
            )),
        }
    });
    reply.unwrap_or_else(Reply::Error)
}

/// `redis.register_function(name, callback)` or `redis.register_function{function_name =,
/// callback =, flags =, description =}`, as Redis reads them.
fn register_function(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    if lua.app_data_ref::<Registering>().is_none() {
        return Err(ScriptError::raise(
            "ERR redis.register_function can only be called on FUNCTION LOAD command",
        ));
    }
    let fail = |text: &str| Err(ScriptError::raise(&format!("ERR {text}")));
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.to_string_lossy()),
        Value::Number(n) => Some(number_text(*n)),
        Value::Integer(i) => Some(i.to_string()),
        _ => None,
    };
    let (name, description, callback, flags) = match args.len() {
        2 => {
            let Some(name) = text(&args[0]) else {
                return fail("first argument to redis.register_function must be a string");
            };
            let Value::Function(f) = &args[1] else {
                return fail("second argument to redis.register_function must be a function");
            };
            (name, None, f.clone(), ScriptFlags::default())
        }
        1 => {
            let Value::Table(t) = &args[0] else {
                return fail(
                    "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
                );
            };
            let (mut name, mut description, mut callback) = (None, None, None);
            let mut flags = ScriptFlags::default();
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let Value::String(k) = k else {
                    return fail(
                        "named argument key given to redis.register_function is not a string",
                    );
                };
                match k.to_string_lossy().to_ascii_lowercase().as_str() {
                    "function_name" => match text(&v) {
                        Some(n) => name = Some(n),
                        None => {
                            return fail(
                                "function_name argument given to redis.register_function must be a string",
                            );
                        }
                    },
                    "description" => match text(&v) {
                        Some(d) => description = Some(d),
                        None => {
                            return fail(
                                "description argument given to redis.register_function must be a string",
                            );
                        }
                    },
                    "callback" => match v {
                        Value::Function(f) => callback = Some(f),
                        _ => {
                            return fail(
                                "callback argument given to redis.register_function must be a function",
                            );
                        }
                    },
                    "flags" => {
                        let Value::Table(list) = v else {
                            return fail(
                                "flags argument to redis.register_function must be a table representing function flags",
                            );
                        };
                        for flag in list.sequence_values::<Value>() {
                            let Some(flag) = text(&flag?) else {
                                return fail("unknown flag given");
                            };
                            match flag.to_ascii_lowercase().as_str() {
                                "no-writes" => flags.no_writes = true,
                                "allow-oom" => flags.allow_oom = true,
                                "allow-stale" => flags.allow_stale = true,
                                "no-cluster" => flags.no_cluster = true,
                                "allow-cross-slot-keys" => flags.allow_cross_slot_keys = true,
                                _ => return fail("unknown flag given"),
                            }
                        }
                    }
                    _ => return fail("unknown argument given to redis.register_function"),
                }
            }
            let Some(name) = name else {
                return fail("redis.register_function must get a function name argument");
            };
            let Some(callback) = callback else {
                return fail("redis.register_function must get a callback argument");
            };
            (name, description, callback, flags)
        }
        _ => return fail("wrong number of arguments to redis.register_function"),
    };
    if !super::functions::valid_name(&name) {
        return Err(ScriptError::raise(super::functions::BAD_NAME));
    }
    let mut registering = lua.app_data_mut::<Registering>().ok_or_else(|| {
        ScriptError::raise(
            "ERR redis.register_function can only be called on FUNCTION LOAD command",
        )
    })?;
    if registering.0.iter().any(|r| r.name == name) {
        return fail("Function already exists in the library");
    }
    registering.0.push(Registered {
        name,
        description,
        flags,
        callback,
    });
    Ok(())
}

/// The `err` field of the handler's error table.
fn error_field(err: &Value) -> String {
    match err {
        Value::Table(t) => match t.raw_get::<Value>("err") {
            Ok(Value::String(s)) => s.to_string_lossy(),
            _ => "ERR unknown error".to_string(),
        },
        Value::String(s) => format!("ERR {}", s.to_string_lossy()),
        other => format!("ERR {}", other.to_string().unwrap_or_default()),
    }
}

/// Run `f` with this thread's Lua state, made (again, after SCRIPT FLUSH) as needed.
fn with_vm<T>(scripts: &Scripts, f: impl FnOnce(&mut Vm) -> T) -> Result<T, String> {
    STATE.with(|cell| {
        let mut state = cell.borrow_mut();
        let generation = scripts.generation();
        if state.as_ref().is_none_or(|vm| vm.generation != generation) {
            *state = Some(Vm::new(generation).map_err(|e| {
                warn!(error = %e, "could not make a Lua state");
                format!("ERR could not make a Lua state: {e}")
            })?);
        }
        Ok(f(state.as_mut().expect("made above")))
    })
}

/// EVAL's and SCRIPT LOAD's first step: the script of `body`, compiled here and cached
/// (shared), or the error reply (a bad shebang, a syntax error).
pub fn load(scripts: &Scripts, body: &Bytes) -> Result<Arc<Script>, String> {
    let sha = sha1_hex(body);
    if let Some(s) = scripts.get(&sha) {
        return Ok(s);
    }
    let (flags, shebang) = ScriptFlags::parse(body).map_err(|e| format!("ERR {e}"))?;
    with_vm(scripts, |vm| vm.compile(&sha, body, shebang))??;
    let script = Arc::new(Script {
        sha,
        body: body.clone(),
        flags,
    });
    scripts.add(Arc::clone(&script));
    Ok(script)
}

/// What a running script's `redis.call` and `redis.pcall` do with a command: its reply,
/// or the error they raise or return (`CODE message`).
pub trait Run {
    fn call(&mut self, args: &[Bytes], resp: u8) -> Result<Reply, String>;

    /// The script as the script thread runs it: a KILL stops it through this.
    fn running(&self) -> Option<Arc<super::busy::Running>>;

    /// `redis.acl_check_cmd`: whether the caller's user may run `args`, or the error.
    fn acl_check(&mut self, args: &[Bytes]) -> Result<bool, String>;

    /// The script ended with an error a command counted in the error stats already.
    fn error_counted(&mut self);
}

/// Run `script` with `keys` and `argv` (KEYS and ARGV), its commands going to `run`: its
/// reply, what it returned or the error that stopped it.
pub fn run(
    scripts: &Scripts,
    script: &Script,
    keys: &[Bytes],
    argv: &[Bytes],
    run: &mut dyn Run,
) -> Reply {
    let reply = with_vm(scripts, |vm| {
        let (_, shebang) = ScriptFlags::parse(&script.body).unwrap_or_default();
        let f = match vm.compile(&script.sha, &script.body, shebang) {
            Ok(f) => f,
            Err(e) => return Reply::Error(e),
        };
        match run_compiled(vm, &f, &script.sha, keys, argv, run) {
            Ok((reply, counted)) => {
                if counted {
                    run.error_counted();
                }
                reply
            }
            Err(e) => Reply::Error(format!(
                "ERR Error running script {}, {}",
                script.sha,
                message(&e)
            )),
        }
    });
    reply.unwrap_or_else(Reply::Error)
}

fn run_compiled(
    vm: &mut Vm,
    f: &Function,
    sha: &str,
    keys: &[Bytes],
    argv: &[Bytes],
    run: &mut dyn Run,
) -> mlua::Result<(Reply, bool)> {
    let lua = &vm.lua;
    vm.real_globals.raw_set("KEYS", strings(lua, keys)?)?;
    vm.real_globals.raw_set("ARGV", strings(lua, argv)?)?;
    call_under_handler(vm, f, sha, run)
}

/// Call `f` (a script, or a function bound to its arguments) under the message handler,
/// with redis.call and redis.pcall running commands through `run`; `name` is what an error
/// says ran (a script's SHA-1, a function's name).
fn call_under_handler(
    vm: &mut Vm,
    f: &Function,
    name: &str,
    run: &mut dyn Run,
) -> mlua::Result<(Reply, bool)> {
    let lua = &vm.lua;
    lua.set_app_data(Resp(2));
    if let Some(running) = run.running() {
        // Checked often enough that a script that catches the error (pcall) is stopped
        // again at once.
        lua.set_hook(
            mlua::HookTriggers::new().every_nth_instruction(1000),
            move |_, _| {
                if running.killed() {
                    return Err(ScriptError::raise(
                        "ERR Script killed by user with SCRIPT KILL...",
                    ));
                }
                Ok(mlua::VmState::Continue)
            },
        )?;
    }
    let run = std::cell::RefCell::new(run);
    let ran: mlua::Result<(bool, Value)> = lua.scope(|scope| {
        // What redis.call and redis.pcall share: the command's reply, or its error text and
        // whether the command counted it (it did, but for bad arguments to redis.call).
        let command =
            |lua: &Lua, args: MultiValue| -> mlua::Result<Result<Value, (String, bool)>> {
                let resp = lua.app_data_ref::<Resp>().map_or(2, |r| r.0);
                let args = match command_args(&args) {
                    Ok(args) => args,
                    Err(e) => return Ok(Err((e, false))),
                };
                let reply = run.borrow_mut().call(&args, resp);
                match reply {
                    Ok(reply) => Ok(reply_to_lua(lua, reply, resp)?.map_err(|e| (e, true))),
                    Err(e) => Ok(Err((e, true))),
                }
            };
        let call =
            scope.create_function(move |lua, args: MultiValue| match command(lua, args)? {
                Ok(v) => Ok(v),
                Err((e, counted)) => Err(ScriptError::raise_as(&e, counted)),
            })?;
        let pcall =
            scope.create_function(move |lua, args: MultiValue| match command(lua, args)? {
                Ok(v) => Ok(v),
                Err((e, counted)) => error_table(lua, &e, counted),
            })?;
        let run = &run;
        let acl_check = scope.create_function(move |_, args: MultiValue| {
            let checked = command_args(&args).and_then(|args| run.borrow_mut().acl_check(&args));
            checked.map_err(|e| ScriptError::raise(&e))
        })?;
        vm.redis.raw_set("call", call)?;
        vm.redis.raw_set("pcall", pcall)?;
        vm.redis.raw_set("acl_check_cmd", acl_check)?;
        let out = vm.xpcall.call((f.clone(), vm.handler.clone()));
        vm.redis.raw_set("call", vm.no_run.clone())?;
        vm.redis.raw_set("pcall", vm.no_run.clone())?;
        vm.redis.raw_set("acl_check_cmd", vm.no_run.clone())?;
        out
    });
    lua.remove_hook();
    let (ok, value) = ran?;
    let resp = lua.app_data_ref::<Resp>().map_or(2, |r| r.0);
    lua.remove_app_data::<Resp>();
    let counted = counted(&value);
    if ok {
        return Ok((lua_to_reply(&value, resp), counted));
    }
    Ok((Reply::Error(script_error(&value, name)), counted))
}

/// The error reply of a script stopped by `err` (the handler's table): its message, and
/// where in the script it happened.
fn script_error(err: &Value, sha: &str) -> String {
    let Value::Table(t) = err else {
        let text = match err {
            Value::String(s) => s.to_string_lossy(),
            _ => "execution failure".to_string(),
        };
        return format!("ERR Error running script {sha}, {text}");
    };
    let field = |name: &str| match t.raw_get::<Value>(name) {
        Ok(Value::String(s)) => Some(s.to_string_lossy()),
        Ok(Value::Number(n)) => Some((n as i64).to_string()),
        Ok(Value::Integer(n)) => Some(n.to_string()),
        _ => None,
    };
    let mut text = field("err").unwrap_or_else(|| "ERR unknown error".to_string());
    if let (Some(source), Some(line)) = (field("source"), field("line")) {
        text.push_str(&format!(" script: {sha}, on {source}:{line}."));
    }
    text
}

/// The message handler scripts run under: an error becomes a table `{err = 'CODE message'}`
/// with where it happened — the first frame of the script itself, not of a native function
/// nor of the sandbox's redis.call (Redis's handler looks past the native function too).
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Value> {
    let table = match err {
        Value::Table(t) => t,
        Value::Error(e) if error_counted(&e) => match error_table(lua, &error_message(&e), true)? {
            Value::Table(t) => t,
            _ => unreachable!("error_table makes a table"),
        },
        other => {
            let text = match &other {
                Value::String(s) => format!("ERR {}", s.to_string_lossy()),
                Value::Error(e) => error_message(e),
                Value::Nil => "ERR nil".to_string(),
                v => format!("ERR {}", v.to_string().unwrap_or_default()),
            };
            let t = lua.create_table()?;
            t.raw_set("err", text)?;
            t
        }
    };
    for level in 1..32 {
        let Some(frame) = lua.inspect_stack(level, |d| {
            let source = d.source();
            (
                source.what.to_string(),
                source.source.map(|s| s.to_string()),
                d.current_line(),
            )
        }) else {
            break;
        };
        let (what, source, line) = frame;
        let library = source
            .as_deref()
            .is_some_and(|s| s == "@gdc_sandbox" || super::libs::is_library_chunk(s));
        if what == "C" || library {
            continue;
        }
        if let (Some(source), Some(line)) = (source, line) {
            table.raw_set("source", source)?;
            table.raw_set("line", line)?;
        }
        break;
    }
    Ok(Value::Table(table))
}

/// An error `redis.call` raised: its text is the reply's, `CODE message`; `counted`: the
/// command counted it in the error stats already (the script's reply must not again).
#[derive(Debug)]
struct ScriptError(String, bool);

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScriptError {}

impl ScriptError {
    fn raise(text: &str) -> mlua::Error {
        ScriptError::raise_as(text, false)
    }

    fn raise_as(text: &str, counted: bool) -> mlua::Error {
        let text = text.trim_matches(['\r', '\n']).to_string();
        mlua::Error::external(ScriptError(text, counted))
    }
}

/// The error-table field that says its error was counted already (Redis's name).
const COUNTED: &str = "ignore_error_stats_update";

/// An error as Redis's scripts see it, `{err = 'CODE message'}`; `counted` as
/// [`ScriptError`]'s.
fn error_table(lua: &Lua, text: &str, counted: bool) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 2)?;
    t.raw_set("err", text.trim_matches(['\r', '\n']))?;
    if counted {
        t.raw_set(COUNTED, true)?;
    }
    Ok(Value::Table(t))
}

/// Whether an error table says its error was counted already.
fn counted(v: &Value) -> bool {
    matches!(v, Value::Table(t) if t.raw_get::<bool>(COUNTED).unwrap_or(false))
}

/// A native error's text with its code: a command's error as it was, any other Lua error
/// as an ERR.
fn error_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => error_message(cause),
        mlua::Error::ExternalError(x) => match x.downcast_ref::<ScriptError>() {
            Some(ScriptError(text, _)) => text.clone(),
            None => format!("ERR {x}"),
        },
        other => format!("ERR {}", message(other)),
    }
}

/// Whether a native error is a command's, counted already.
fn error_counted(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::CallbackError { cause, .. } => error_counted(cause),
        mlua::Error::ExternalError(x) => x
            .downcast_ref::<ScriptError>()
            .is_some_and(|ScriptError(_, counted)| *counted),
        _ => false,
    }
}

/// A Lua error's message alone (mlua adds a traceback to some).
fn message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => message(cause),
        other => other.to_string(),
    }
}

/// A command's arguments from `redis.call`'s: strings, and numbers as C's `%.17g` writes
/// them (Redis's rule: Lua's own number format loses precision).
fn command_args(args: &MultiValue) -> Result<Vec<Bytes>, String> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call".into());
    }
    args.iter()
        .map(|v| match v {
            Value::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Number(n) => Ok(Bytes::from(number_text(*n))),
            Value::Integer(i) => Ok(Bytes::from(i.to_string())),
            _ => Err("ERR Lua redis lib command arguments must be strings or integers".into()),
        })
        .collect()
}

/// A Lua number as C's `%.17g` writes it.
fn number_text(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    crate::reply::format_double(n)
}

fn strings(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, b) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(b)?)?;
    }
    Ok(t)
}

/// The `redis` table's native functions and constants (redis.call and the reply helpers
/// are the sandbox's, in Lua).
fn redis_table(lua: &Lua) -> mlua::Result<Table> {
    let redis = lua.create_table()?;
    redis.set(
        "sha1hex",
        lua.create_function(|_, args: MultiValue| {
            let (1, Some(Value::String(s))) = (args.len(), args.front()) else {
                return Err(mlua::Error::runtime("wrong number of arguments"));
            };
            Ok(sha1_hex(&s.as_bytes()))
        })?,
    )?;
    redis.set(
        "log",
        lua.create_function(|_, args: MultiValue| {
            if args.len() < 2 {
                return Err(mlua::Error::runtime(
                    "redis.log() requires two arguments or more.",
                ));
            }
            let level = match &args[0] {
                Value::Number(n) => *n as i64,
                Value::Integer(i) => *i,
                _ => {
                    return Err(mlua::Error::runtime(
                        "First argument must be a number (log level).",
                    ));
                }
            };
            if !(0..=3).contains(&level) {
                return Err(mlua::Error::runtime("Invalid debug level."));
            }
            let text: Vec<String> = args
                .iter()
                .skip(1)
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.to_string_lossy()),
                    Value::Number(n) => Some(number_text(*n)),
                    _ => None,
                })
                .collect();
            let text = text.join(" ");
            match level {
                0 | 1 => debug!(target: "gdc_node::script", "{text}"),
                2 => info!(target: "gdc_node::script", "{text}"),
                _ => warn!(target: "gdc_node::script", "{text}"),
            }
            Ok(())
        })?,
    )?;
    redis.set(
        "setresp",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(mlua::Error::runtime(
                    "redis.setresp() requires one argument.",
                ));
            }
            let resp = match &args[0] {
                Value::Number(n) => *n as i64,
                Value::Integer(i) => *i,
                _ => 0,
            };
            if resp != 2 && resp != 3 {
                return Err(mlua::Error::runtime("RESP version must be 2 or 3."));
            }
            lua.set_app_data(Resp(resp as u8));
            Ok(())
        })?,
    )?;
    // A script's writes always reach every region, as its effects: there is nothing to
    // turn off (docs/semantics.md, "Scripts").
    redis.set(
        "set_repl",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(mlua::Error::runtime(
                    "redis.set_repl() requires two arguments.",
                ));
            }
            Ok(())
        })?,
    )?;
    redis.set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    redis.set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    redis.set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    for (name, level) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
    ] {
        redis.set(name, level)?;
    }
    for (name, flags) in [
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.set(name, flags)?;
    }
    redis.set("REDIS_VERSION", crate::REDIS_VERSION)?;
    redis.set("REDIS_VERSION_NUM", version_num(crate::REDIS_VERSION))?;
    Ok(redis)
}

/// `7.2.0` as Redis's number, 0x070200.
fn version_num(version: &str) -> i64 {
    version
        .split('.')
        .take(3)
        .fold(0, |n, part| (n << 8) | part.parse::<i64>().unwrap_or(0))
}
