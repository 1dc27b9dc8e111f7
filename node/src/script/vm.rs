//! The Lua state that runs scripts: one per thread that runs them, made on first use with
//! Redis's libraries and sandbox (`sandbox.lua`), made afresh after SCRIPT FLUSH.

use super::api::{Registered, Registering, redis_table, register_function};
use super::current;
use super::errors::{
    ScriptError, error_field, error_handler, error_message, message, script_error,
};
use super::functions::Library;
use super::native::{self, Call, Pass, Ran, Slots};
use super::{Script, ScriptFlags, Scripts, sha1_hex};
use crate::reply::Reply;
use bytes::Bytes;
use mlua::{Function, Lua, LuaOptions, RegistryKey, StdLib, Table, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use tracing::warn;

thread_local! {
    static STATE: RefCell<Option<Vm>> = const { RefCell::new(None) };
    /// What the Lua state's hook looks at now.
    static WATCH: RefCell<Watch> = const { RefCell::new(Watch::Idle) };
}

/// The hook's look at a long script: the runtime moves off its thread
/// ([`super::busy::Running::check_long`]).
fn check_long() {
    WATCH.with(|w| {
        if let Watch::Script(r) = &*w.borrow() {
            r.check_long();
        }
    });
}

/// What the hook (every 1000 instructions) stops.
enum Watch {
    Idle,
    /// A script a KILL may stop.
    Script(Arc<super::busy::Running>),
    /// A library's code, FUNCTION LOAD's, begun then.
    Loading(std::time::Instant),
}

fn watch(what: Watch) {
    WATCH.with(|w| *w.borrow_mut() = what);
}

/// The hook's check: the error that stops the running code, if any.
fn stopped() -> Option<mlua::Error> {
    WATCH.with(|w| match &*w.borrow() {
        Watch::Script(r) if r.killed() => Some(ScriptError::raise(
            "ERR Script killed by user with SCRIPT KILL...",
        )),
        Watch::Loading(started) if started.elapsed() > LOAD_TIME_MAX => {
            Some(ScriptError::raise("ERR FUNCTION LOAD timeout"))
        }
        _ => None,
    })
}

struct Vm {
    lua: Lua,
    /// The [`Scripts`] generation it was made in.
    generation: u64,
    /// What every run uses: the message handler, and the globals behind the sandbox's
    /// read-only view (KEYS and ARGV are set there).
    slots: Slots,
    xpcall: Function,
    handler: Function,
    /// Compiled scripts, by SHA-1.
    compiled: HashMap<String, RegistryKey>,
    /// Sets what FUNCTION LOAD's code sees as globals (the sandbox's).
    set_load_api: Function,
    /// Those globals: `redis` with register_function, log and the version.
    load_api: Table,
    /// Libraries run here: their version, and their functions' callbacks.
    libraries: HashMap<String, (u64, HashMap<String, RegistryKey>)>,
}

impl Vm {
    fn new(generation: u64) -> mlua::Result<Vm> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        super::libs::open_all(&lua)?;
        let real_globals = lua.globals();
        let redis = redis_table(&lua)?;
        set_run_functions(&lua, &redis)?;
        real_globals.set("redis", redis.clone())?;
        // Checked often enough that a script that catches the error (pcall) is stopped
        // again at once.
        lua.set_hook(
            mlua::HookTriggers::new().every_nth_instruction(1000),
            |_, _| match stopped() {
                Some(e) => Err(e),
                None => {
                    check_long();
                    Ok(mlua::VmState::Continue)
                }
            },
        )?;
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
        let slots = Slots {
            handler: lua.create_registry_value(&handler)?,
            globals: lua.create_registry_value(real_globals)?,
        };
        Ok(Vm {
            lua,
            generation,
            slots,
            xpcall,
            handler,
            compiled: HashMap::new(),
            set_load_api,
            load_api,
            libraries: HashMap::new(),
        })
    }

    /// Compile `body` (its shebang line blanked, its line feed kept, so that line numbers
    /// stay the user's), as Redis's error says when it does not.
    fn compile(&mut self, sha: &str, body: &[u8], shebang: usize) -> Result<(), String> {
        if !self.compiled.contains_key(sha) {
            let f = self
                .lua
                .load(&body[shebang..])
                .set_name("@user_script")
                .into_function()
                .and_then(|f| self.lua.create_registry_value(f))
                .map_err(|e| {
                    format!("ERR Error compiling script (new function): {}", message(&e))
                })?;
            self.compiled.insert(sha.to_string(), f);
        }
        Ok(())
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
        watch(Watch::Loading(std::time::Instant::now()));
        let ran = self
            .set_load_api
            .call::<()>(self.load_api.clone())
            .and_then(|()| self.xpcall.call::<(bool, Value)>((f, self.handler.clone())));
        watch(Watch::Idle);
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

    /// Have `library`'s callbacks here, running its code first if this state has not run
    /// this load of it.
    fn load_library(&mut self, library: &Library) -> Result<(), String> {
        let fresh = self
            .libraries
            .get(&library.name)
            .is_some_and(|(v, _)| *v == library.version);
        if !fresh {
            let registered = self.run_library(&library.code[library.body_at..])?;
            let callbacks = registered
                .into_iter()
                .map(|r| Ok((r.name, self.lua.create_registry_value(r.callback)?)))
                .collect::<mlua::Result<_>>()
                .map_err(|e| format!("ERR Error registering functions: {}", message(&e)))?;
            self.libraries
                .insert(library.name.clone(), (library.version, callbacks));
        }
        Ok(())
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
        if let Err(e) = vm.load_library(library) {
            return Reply::Error(e);
        }
        let Some(callback) = vm.libraries[&library.name].1.get(name) else {
            return Reply::err("ERR Function not found");
        };
        let call = Call {
            f: callback,
            keys,
            argv: args,
            pass: Pass::Arguments,
        };
        call_under_handler(&vm.lua, &vm.slots, call, name, run)
    });
    reply.unwrap_or_else(Reply::Error)
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
        body_at: shebang,
        flags,
    });
    scripts.add(Arc::clone(&script));
    Ok(script)
}

/// What a running script's `redis.call` and `redis.pcall` do with a command: its reply,
/// or the error they raise or return (`CODE message`).
pub trait Run {
    fn call(&mut self, args: &[Bytes], resp: u8) -> Result<Reply, String>;

    /// The script as shown running (outside a transaction): a KILL stops it through this.
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
        if let Err(e) = vm.compile(&script.sha, &script.body, script.body_at) {
            return Reply::Error(e);
        }
        let call = Call {
            f: &vm.compiled[&script.sha],
            keys,
            argv,
            pass: Pass::Globals,
        };
        call_under_handler(&vm.lua, &vm.slots, call, &script.sha, run)
    });
    reply.unwrap_or_else(Reply::Error)
}

/// Make `call` (of a script, or of a library's function) under the message handler, with redis.call
/// and redis.pcall running commands through `run`; `name` is what an error says ran (a
/// script's SHA-1, a function's name).
fn call_under_handler(
    lua: &Lua,
    slots: &Slots,
    call: Call<'_>,
    name: &str,
    run: &mut dyn Run,
) -> Reply {
    if let Some(running) = run.running() {
        watch(Watch::Script(running));
    }
    let (ran, counted) = current::running(run, || native::run(lua, slots, call));
    watch(Watch::Idle);
    if counted {
        run.error_counted();
    }
    match ran {
        Ran::Returned(reply) => reply,
        Ran::Failed(failure) => Reply::Error(script_error(&failure, name)),
    }
}

/// Set `redis.call`, `redis.pcall` and `redis.acl_check_cmd`: each reaches the run on
/// ([`current`]), and is a native function, so that a script's `return redis.call(...)`
/// keeps the script's frame, and a command of thousands of arguments takes them from the
/// stack once.
fn set_run_functions(lua: &Lua, redis: &Table) -> mlua::Result<()> {
    let (call, pcall, acl_check) = native::functions(lua)?;
    redis.set("call", call)?;
    redis.set("pcall", pcall)?;
    redis.set("acl_check_cmd", acl_check)?;
    Ok(())
}
