//! The libraries Redis gives scripts beside Lua's own, written in Rust to behave as the C
//! libraries Redis 7.0 embeds: cjson, struct, cmsgpack and bit.

mod bit;
mod cjson;
mod cmsgpack;
mod lua_struct;

/// Open every library as a global of `lua` (before the sandbox protects the globals).
pub fn open_all(lua: &mlua::Lua) -> mlua::Result<()> {
    cjson::open(lua)?;
    lua_struct::open(lua)?;
    cmsgpack::open(lua)?;
    bit::open(lua)?;
    Ok(())
}

/// What the libraries' errors share: Lua's wording of a bad argument, and where the script
/// called from. Each library function is a small Lua wrapper (a chunk of its own) in front
/// of its Rust part: an mlua callback can raise only mlua's error userdata, so the Rust part
/// makes the message and the wrapper raises it as a string, as the C function would have.
///
/// Stack levels as the Rust part sees them: the wrapper the script called, and the function
/// that called it.
const LEVEL_WRAPPER: usize = 1;
const LEVEL_CALLER: usize = 2;

/// `lua_typename` of an argument; "no value" for one not passed (`luaL_typename`).
pub(super) fn type_name(value: Option<&mlua::Value>) -> &'static str {
    use mlua::Value;
    match value {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::Number(_) | Value::Integer(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

/// `luaL_where(L, 1)` as the C function would have seen it: `source:line: ` of its caller,
/// nothing where the caller is no Lua function with a line (`pcall`, a tail call).
pub(super) fn caller_position(lua: &mlua::Lua) -> Vec<u8> {
    lua.inspect_stack(LEVEL_CALLER, |debug| {
        let line = debug.current_line().filter(|&line| line > 0)?;
        let source = debug.source().short_src?.into_owned();
        Some(format!("{source}:{line}: ").into_bytes())
    })
    .flatten()
    .unwrap_or_default()
}

/// `luaL_argerror`'s message, without the position: the function named as its caller
/// called it, `self` not counted in a method call.
pub(super) fn arg_message(lua: &mlua::Lua, narg: usize, msg: &[u8]) -> Vec<u8> {
    let (name, is_method) = lua
        .inspect_stack(LEVEL_WRAPPER, |debug| {
            let names = debug.names();
            let name = names.name.map(|n| n.into_owned());
            (name, names.name_what == Some("method"))
        })
        .unwrap_or((None, false));
    let mut full = if is_method && narg == 1 {
        // C prints a missing name with "%s": "(null)".
        let name = name.unwrap_or_else(|| "(null)".to_owned());
        format!("calling '{name}' on bad self (").into_bytes()
    } else {
        let narg = if is_method { narg - 1 } else { narg };
        let name = name.unwrap_or_else(|| "?".to_owned());
        format!("bad argument #{narg} to '{name}' (").into_bytes()
    };
    full.extend_from_slice(msg);
    full.push(b')');
    full
}

/// `luaL_argerror`'s message with the caller's position.
pub(super) fn arg_error(lua: &mlua::Lua, narg: usize, msg: &[u8]) -> Vec<u8> {
    let mut full = caller_position(lua);
    full.extend_from_slice(&arg_message(lua, narg, msg));
    full
}

/// A wrapper keeps the base library's functions it calls: they must be there when it is
/// made.
pub(super) fn require_base_functions(lua: &mlua::Lua, names: &[&str]) -> mlua::Result<()> {
    for name in names {
        if !matches!(
            lua.globals().raw_get::<mlua::Value>(*name)?,
            mlua::Value::Function(_)
        ) {
            return Err(mlua::Error::runtime(format!(
                "open the base library before this one: `{name}` is missing"
            )));
        }
    }
    Ok(())
}

/// Whether a stack frame of this chunk is a library's, not the script's (an error is
/// reported where the script called the library).
pub fn is_library_chunk(source: &str) -> bool {
    matches!(
        source,
        "=cjson" | "=struct" | "=cmsgpack" | "=bit" | "=gdc_bind"
    )
}
