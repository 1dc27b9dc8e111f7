//! The `redis` table scripts see (its native functions and constants), and the
//! `redis.register_function` FUNCTION LOAD's code calls. redis.call and redis.pcall are
//! `vm`'s; error_reply and status_reply are the sandbox's (sandbox.lua).

use super::ScriptFlags;
use super::errors::ScriptError;
use super::sha1_hex;
use mlua::{Function, Lua, MultiValue, Table, Value};
use tracing::{debug, info, warn};

/// A function a library's code registered as it ran.
#[derive(Debug)]
pub struct Registered {
    pub name: String,
    pub description: Option<String>,
    pub flags: ScriptFlags,
    pub(super) callback: Function,
}

/// What `redis.register_function` adds to while FUNCTION LOAD runs a library's code.
pub(super) struct Registering(pub(super) Vec<Registered>);

/// `redis.register_function(name, callback)` or `redis.register_function{function_name =,
/// callback =, flags =, description =}`, as Redis reads them.
pub(super) fn register_function(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
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
                            // Any case here (Redis's strcasecmp), exactly in a shebang.
                            if !flags.set(&flag.to_ascii_lowercase()) {
                                return fail("unknown flag given");
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

/// A Lua number as C's `%.17g` writes it.
pub(super) fn number_text(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    // An integer of up to 17 digits is written as one (and most arguments are).
    if n.fract() == 0.0 && n.abs() < 1e17 && !(n == 0.0 && n.is_sign_negative()) {
        return (n as i64).to_string();
    }
    crate::reply::format_double(n)
}

/// The `redis` table's native functions and constants (redis.call and the reply helpers
/// are the sandbox's, in Lua).
pub(super) fn redis_table(lua: &Lua) -> mlua::Result<Table> {
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
        lua.create_function(|_, args: MultiValue| {
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
            super::current::set_resp(resp as u8);
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
pub(super) fn version_num(version: &str) -> i64 {
    version
        .split('.')
        .take(3)
        .fold(0, |n, part| (n << 8) | part.parse::<i64>().unwrap_or(0))
}
