//! What every script run and every `redis.call` does, on Lua's stack through its C API.
//! Through mlua, each value crossing took a reference of its own and each call a protected
//! call of its own: together more CPU than the command a one-line script runs. The rest of
//! the scripting code (loading, libraries, the hook) stays with mlua.

// Lua's C API. `redis.call` raises its errors with `lua_error`, a long jump: it is called
// only from the native function's own frame, once everything Rust owned there is dropped,
// and a panic is caught before it could unwind through Lua's C frames.
#![allow(unsafe_code)]

use super::api::number_text;
use super::convert::{
    push_bytes, push_error_table, push_reply, push_strings, reply_at, set_named, string_at,
};
use super::current;
use super::errors::COUNTED;
use crate::reply::Reply;
use bytes::Bytes;
use mlua::ffi::{self, lua_State};
use mlua::{Lua, RegistryKey};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::os::raw::c_int;
use std::panic::AssertUnwindSafe;

thread_local! {
    /// A panic inside `redis.call`, carried past Lua's C frames and resumed once the
    /// script's protected call has returned.
    static PANIC: Cell<Option<Box<dyn Any + Send>>> = const { Cell::new(None) };
    /// The vector `redis.call`'s arguments go in, kept for the next call.
    static ARGS: Cell<Vec<Bytes>> = const { Cell::new(Vec::new()) };
    /// The command names scripts called lately (as they spelled them), each copied once.
    static NAMES: RefCell<Vec<Bytes>> = const { RefCell::new(Vec::new()) };
}

/// `redis.call`, `redis.pcall` and `redis.acl_check_cmd`.
pub(super) fn functions(
    lua: &Lua,
) -> mlua::Result<(mlua::Function, mlua::Function, mlua::Function)> {
    // SAFETY: all three are native functions by the C API's rules (see the module's
    // comment).
    unsafe {
        Ok((
            lua.create_c_function(call)?,
            lua.create_c_function(pcall)?,
            lua.create_c_function(acl_check)?,
        ))
    }
}

/// `redis.call`: the command's reply, or its error raised as an error table.
unsafe extern "C-unwind" fn call(state: *mut lua_State) -> c_int {
    unsafe { native(state, true, run_command) }
}

/// `redis.pcall`: the command's reply, or its error table.
unsafe extern "C-unwind" fn pcall(state: *mut lua_State) -> c_int {
    unsafe { native(state, false, run_command) }
}

/// `redis.acl_check_cmd`: whether the caller's user may run the command, or the error
/// raised.
unsafe extern "C-unwind" fn acl_check(state: *mut lua_State) -> c_int {
    unsafe { native(state, true, run_acl_check) }
}

/// A native function's body `run`, its error table raised when `raise`.
///
/// # Safety
/// Called by Lua as a native function, with its arguments on `state`'s stack.
unsafe fn native(
    state: *mut lua_State,
    raise: bool,
    run: unsafe fn(*mut lua_State) -> Pushed,
) -> c_int {
    let pushed = std::panic::catch_unwind(AssertUnwindSafe(|| unsafe { run(state) }));
    match pushed {
        Ok(Pushed::Reply) => return 1,
        Ok(Pushed::Error) if !raise => return 1,
        Ok(Pushed::Error) => {}
        Err(payload) => {
            PANIC.set(Some(payload));
            // The stack may still hold the arguments: room first.
            unsafe {
                ffi::lua_settop(state, 0);
                push_error_table(state, "ERR internal error", false);
            }
        }
    }
    // Nothing this frame owns is left to drop: the long jump skips no destructor.
    unsafe { ffi::lua_error(state) }
}

/// What a native function's body left on the stack.
enum Pushed {
    Reply,
    /// The command's error table.
    Error,
}

const NOT_IN_RUN: &str = "ERR redis.call/pcall can only be called inside a script invocation";

/// Run the command of the arguments on the stack through the run on ([`current`]); push
/// its reply, or its error table, saying whether the command counted the error in the
/// error stats (it did, but for bad arguments to redis.call).
unsafe fn run_command(state: *mut lua_State) -> Pushed {
    let resp = current::resp();
    // The last call's vector, emptied (a nested call, were there one, makes its own).
    let mut args = ARGS.take();
    let read = unsafe { arguments(state, &mut args) };
    // Copied: their slots are free for the reply (a call may fill the stack with them).
    unsafe { ffi::lua_settop(state, 0) };
    let ran = read.map(|()| current::with_run(|run| run.call(&args, resp)));
    args.clear();
    ARGS.set(args);
    let (e, counted) = match ran {
        Err(e) => (e, false),
        Ok(None) => (NOT_IN_RUN.to_string(), false),
        Ok(Some(Err(e))) => (e, true),
        Ok(Some(Ok(reply))) => match unsafe { push_reply(state, reply, resp) } {
            Ok(()) => return Pushed::Reply,
            Err(e) => (e, true),
        },
    };
    unsafe { push_error_table(state, &e, counted) };
    Pushed::Error
}

/// `redis.acl_check_cmd`'s body: the check's boolean, or its error table.
unsafe fn run_acl_check(state: *mut lua_State) -> Pushed {
    let mut args = Vec::new();
    let read = unsafe { arguments(state, &mut args) };
    unsafe { ffi::lua_settop(state, 0) };
    let checked = read.and_then(|()| {
        current::with_run(|run| run.acl_check(&args)).unwrap_or_else(|| Err(NOT_IN_RUN.into()))
    });
    match checked {
        Ok(permitted) => {
            unsafe { ffi::lua_pushboolean(state, c_int::from(permitted)) };
            Pushed::Reply
        }
        Err(e) => {
            unsafe { push_error_table(state, &e, false) };
            Pushed::Error
        }
    }
}

/// A command's arguments from `redis.call`'s: strings, and numbers as C's `%.17g` writes
/// them (Redis's rule: Lua's own number format loses precision).
/// The command's name is shared with earlier calls of it (see [`NAMES`]).
unsafe fn arguments(state: *mut lua_State, args: &mut Vec<Bytes>) -> Result<(), String> {
    let n = unsafe { ffi::lua_gettop(state) };
    if n == 0 {
        return Err("ERR Please specify at least one argument for this redis lib call".into());
    }
    for i in 1..=n {
        args.push(match unsafe { ffi::lua_type(state, i) } {
            ffi::LUA_TNUMBER => Bytes::from(number_text(unsafe { ffi::lua_tonumber(state, i) })),
            ffi::LUA_TSTRING if i == 1 => command_name(unsafe { string_at(state, i) }),
            ffi::LUA_TSTRING => Bytes::copy_from_slice(unsafe { string_at(state, i) }),
            _ => {
                return Err(
                    "ERR Lua redis lib command arguments must be strings or integers".into(),
                );
            }
        });
    }
    Ok(())
}

/// How many command names a thread keeps for its scripts' calls.
const NAMES_MAX: usize = 16;

/// `name` as a shared copy: a script calls few commands, many times.
fn command_name(name: &[u8]) -> Bytes {
    NAMES.with_borrow_mut(|names| {
        if let Some(known) = names.iter().find(|n| n[..] == *name) {
            return known.clone();
        }
        let copy = Bytes::copy_from_slice(name);
        if names.len() == NAMES_MAX {
            names.remove(0);
        }
        names.push(copy.clone());
        copy
    })
}

/// What a run calls: the function in a registry slot, with its keys and arguments, passed
/// as `pass` says.
pub(super) struct Call<'a> {
    pub f: &'a RegistryKey,
    pub keys: &'a [Bytes],
    pub argv: &'a [Bytes],
    pub pass: Pass,
}

/// How a run gives the script its keys and arguments.
pub(super) enum Pass {
    /// As the globals KEYS and ARGV (EVAL).
    Globals,
    /// As its two arguments (a function of FCALL).
    Arguments,
}

/// What a script's run ended with.
pub(super) enum Ran {
    /// It returned this reply (in the protocol it chose).
    Returned(Reply),
    Failed(Failure),
}

/// The error that stopped a script, as the message handler left it.
pub(super) enum Failure {
    /// The handler's error table: `CODE message`, and where in the script.
    Table {
        err: Option<String>,
        source: Option<String>,
        line: Option<String>,
    },
    /// Anything else (the handler failed): its text, if a string.
    Other(Option<String>),
}

/// The registry slots a run uses: its message handler, and the globals KEYS and ARGV go
/// into (the table behind the sandbox's read-only view).
pub(super) struct Slots {
    pub handler: RegistryKey,
    pub globals: RegistryKey,
}

/// Make `call` under the message handler: what it ended with, and whether its error (or the
/// error table it returned) was a command's, counted in the error stats already.
pub(super) fn run(lua: &Lua, slots: &Slots, call: Call<'_>) -> (Ran, bool) {
    let state = lua.state();
    // SAFETY: `state` is this thread's Lua state, not inside any call of it; what this
    // pushes it pops again (`lua_settop`). The calls below cannot raise (no memory limit is
    // set), but `lua_pcall`, which catches what the script raises.
    let (ran, counted) = unsafe {
        let top = ffi::lua_gettop(state);
        if ffi::lua_checkstack(state, 8) == 0 {
            return (Ran::Failed(Failure::Other(None)), false);
        }
        ffi::lua_rawgeti(state, ffi::LUA_REGISTRYINDEX, slots.handler.id().into());
        ffi::lua_rawgeti(state, ffi::LUA_REGISTRYINDEX, call.f.id().into());
        let nargs = match call.pass {
            Pass::Arguments => {
                push_strings(state, call.keys);
                push_strings(state, call.argv);
                2
            }
            Pass::Globals => {
                ffi::lua_rawgeti(state, ffi::LUA_REGISTRYINDEX, slots.globals.id().into());
                set_named(state, "KEYS", |st| push_strings(st, call.keys));
                set_named(state, "ARGV", |st| push_strings(st, call.argv));
                ffi::lua_pop(state, 1);
                0
            }
        };
        let status = ffi::lua_pcall(state, nargs, 1, top + 1);
        let counted = counted_at(state, -1);
        let ran = if status == 0 {
            Ran::Returned(reply_at(state, -1, current::resp()))
        } else {
            Ran::Failed(failure_at(state, -1))
        };
        ffi::lua_settop(state, top);
        (ran, counted)
    };
    if let Some(payload) = PANIC.take() {
        std::panic::resume_unwind(payload);
    }
    (ran, counted)
}

/// Whether the value at `idx` is an error table saying its error was counted already.
unsafe fn counted_at(state: *mut lua_State, idx: c_int) -> bool {
    unsafe {
        if ffi::lua_type(state, idx) != ffi::LUA_TTABLE {
            return false;
        }
        let t = ffi::lua_absindex(state, idx);
        push_bytes(state, COUNTED.as_bytes());
        ffi::lua_rawget(state, t);
        let counted = ffi::lua_toboolean(state, -1) != 0;
        ffi::lua_pop(state, 1);
        counted
    }
}

unsafe fn failure_at(state: *mut lua_State, idx: c_int) -> Failure {
    unsafe {
        match ffi::lua_type(state, idx) {
            ffi::LUA_TTABLE => {
                let t = ffi::lua_absindex(state, idx);
                let text = |name: &str| {
                    push_bytes(state, name.as_bytes());
                    let text = match ffi::lua_rawget(state, t) {
                        ffi::LUA_TSTRING => {
                            Some(String::from_utf8_lossy(string_at(state, -1)).into_owned())
                        }
                        ffi::LUA_TNUMBER => Some((ffi::lua_tonumber(state, -1) as i64).to_string()),
                        _ => None,
                    };
                    ffi::lua_pop(state, 1);
                    text
                };
                Failure::Table {
                    err: text("err"),
                    source: text("source"),
                    line: text("line"),
                }
            }
            ffi::LUA_TSTRING => Failure::Other(Some(
                String::from_utf8_lossy(string_at(state, idx)).into_owned(),
            )),
            _ => Failure::Other(None),
        }
    }
}
