//! The `cjson` library of Redis scripts: lua-cjson 2.1.0 as Redis 7.0.15 embeds it, written in
//! Rust over mlua.
//!
//! `cjson.encode` turns a Lua value into JSON text and `cjson.decode` turns JSON text into Lua
//! values; `cjson.encode_sparse_array`, `encode_max_depth`, `decode_max_depth`,
//! `encode_number_precision`, `encode_keep_buffer`, `encode_invalid_numbers` and
//! `decode_invalid_numbers` read and change the settings of the table they belong to;
//! `cjson.new()` makes a table with its own, default, settings (Redis exposes it too);
//! `cjson.null` (a NULL light userdata) stands for JSON `null`; `_NAME` and `_VERSION` are
//! "cjson" and "2.1.0". Outputs and error messages are lua-cjson's, byte for byte:
//!
//! - Numbers are written as glibc's `printf("%.14g")` writes them (the precision is a setting);
//!   NaN and infinity are refused unless allowed. Numbers are read as glibc's `strtod` reads
//!   them, so by default hexadecimal numbers, `inf`, `nan`, leading zeros and a leading `+`
//!   are accepted, as lua-cjson accepts them.
//! - A table is an array when all its keys are positive integers, unless it is excessively
//!   sparse; otherwise it is an object, its number keys written as strings, its keys in the
//!   order `next` gives them. An empty table is `{}`.
//! - Nesting is limited by the depth settings (1000 by default) and, as lua-cjson is by
//!   `lua_checkstack`, by the 8000 Lua stack slots a C function may use (one or two a level).
//! - Errors are raised as Lua strings, as `luaL_error` raises them from a C function: prefixed
//!   with the calling Lua function's `source:line: `, or with nothing when a C function such as
//!   `pcall` called cjson (`pcall(cjson.decode, "x")` gives `false` and
//!   `"Expected value but found invalid token at character 1"`). Wrong arguments give
//!   `luaL_argerror`'s messages (`bad argument #1 to 'encode' (expected 1 argument)`).
//!
//! One difference is known. mlua raises a Rust function's errors as userdata, so each function
//! is a small Lua wrapper (chunk `=cjson`) that raises the message as a string. When a script
//! tail-calls it (`return cjson.decode(s)`), Lua 5.1 drops the script's frame, so the error
//! has no position prefix and a wrong-arguments message names the function `?`; lua-cjson's C
//! function keeps both. Error handlers that inspect the stack also see the wrapper's frame
//! (source `=cjson`) between the script and the error.
//!
//! The work is iterative: neither deep nesting nor large tables use native stack or many mlua
//! references (mlua keeps those on an auxiliary Lua stack of at most 8000 slots); the tables
//! being walked or built wait in a Lua table.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use mlua::{Function, LightUserData, Lua, MultiValue, Table, Value};

mod decode;
mod encode;

use decode::{DecodeFrame, decode};
use encode::{Level, encode};

const MODULE_NAME: &str = "cjson";
const MODULE_VERSION: &str = "2.1.0";

/// How many Lua stack slots a C function may hold (Lua 5.1's `LUAI_MAXCSTACK`). lua-cjson keeps
/// a slot or two per nesting level and reports "excessive nesting" / "too many nested data
/// structures" when `lua_checkstack` refuses more, so the same count is kept here.
const C_STACK_SLOTS: usize = 8000;

/// Lua wrapper around each Rust function: the Rust side returns `nil, results...` or an error
/// message (already prefixed with the caller's position, as `luaL_error` prefixes it), which
/// the wrapper raises as a plain Lua string (mlua raises callback errors as userdata).
const WRAPPER: &str = r#"
local error = ...
local function finish(err, ...)
  if err ~= nil then
    error(err, 0)
  end
  return ...
end
return function(impl)
  return function(...)
    return finish(impl(...))
  end
end
"#;

/// Makes the `cjson` table and sets it as a global, as Redis loads the library.
pub fn open(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    let error = base_function(&globals, "error")?;
    let wrap: Function = lua.load(WRAPPER).set_name("=cjson").call(error)?;
    let lib = Lib { wrap };
    let module = new_module(lua, &lib)?;
    globals.set(MODULE_NAME, module)
}

fn base_function(globals: &Table, name: &str) -> mlua::Result<Function> {
    match globals.raw_get::<Value>(name)? {
        Value::Function(f) => Ok(f),
        _ => Err(mlua::Error::runtime(format!(
            "cjson needs the base library's '{name}'"
        ))),
    }
}

/// What every `cjson` table's functions share: the error-raising wrapper (made with the base
/// library's `error` when the library is opened, so scripts cannot replace it).
#[derive(Clone, Debug)]
struct Lib {
    wrap: Function,
}

/// One `cjson` table's settings, as lua-cjson keeps them (booleans are 0 or 1, as
/// `lua_toboolean` gives them).
#[derive(Clone, Copy, Debug)]
struct Config {
    sparse_convert: i32,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0: refuse NaN and infinity; 1: write them (`nan`, `inf`, `-inf`); 2: write `null`.
    encode_invalid_numbers: i32,
    decode_invalid_numbers: i32,
    keep_buffer: i32,
    number_precision: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: 0,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: 1,
            keep_buffer: 1,
            number_precision: 14,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    cfg: Config,
    /// The encoding buffer kept between calls while `encode_keep_buffer` is on.
    buf: Vec<u8>,
    /// Working memory kept between calls (taken by a call, so a nested call, from a finalizer,
    /// makes its own).
    scratch: Scratch,
}

/// Working memory of encode and decode, reused between calls.
#[derive(Debug, Default)]
struct Scratch {
    /// A Lua table where the tables being walked or built wait, so that neither deep nesting
    /// nor many tables hold mlua references (the auxiliary stack that holds them is small).
    holding: Option<Table>,
    levels: Vec<Level>,
    frames: Vec<DecodeFrame>,
    text: Vec<u8>,
}

impl Scratch {
    fn holding(&mut self, lua: &Lua) -> mlua::Result<Table> {
        match &self.holding {
            Some(t) => Ok(t.clone()),
            None => Ok(self.holding.insert(lua.create_table()?).clone()),
        }
    }

    /// Lets go of the tables held in `holding[1..=used]` and of unusually large buffers (a
    /// holding table grown large is left to the garbage collector).
    fn release(&mut self, used: i64) -> mlua::Result<()> {
        if used > 1024 {
            self.holding = None;
        } else if let Some(holding) = &self.holding {
            for i in 1..=used {
                holding.raw_set(i, Value::Nil)?;
            }
        }
        const KEEP: usize = 1 << 16;
        let size = self.text.capacity()
            + self.levels.iter().map(Level::held_bytes).sum::<usize>()
            + self
                .frames
                .iter()
                .map(DecodeFrame::held_bytes)
                .sum::<usize>();
        if size > KEEP {
            self.levels = Vec::new();
            self.frames = Vec::new();
            self.text = Vec::new();
        }
        Ok(())
    }
}

fn take_scratch(shared: &Shared) -> (Config, Scratch) {
    let mut state = lock(shared);
    (state.cfg, std::mem::take(&mut state.scratch))
}

fn give_back_scratch(shared: &Shared, scratch: Scratch) {
    lock(shared).scratch = scratch;
}

type Shared = Arc<Mutex<State>>;

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a call failed: a lua-cjson error (raised as a Lua string by the wrapper), or an error of
/// mlua itself (memory and the like), passed on as it is.
#[derive(Debug)]
enum Fail {
    Msg(Vec<u8>),
    Lua(mlua::Error),
}

impl From<mlua::Error> for Fail {
    fn from(e: mlua::Error) -> Self {
        Fail::Lua(e)
    }
}

fn fail(msg: impl Into<Vec<u8>>) -> Fail {
    Fail::Msg(msg.into())
}

type Res<T> = std::result::Result<T, Fail>;

/// Registers `imp` under `name`, behind the wrapper that raises its error messages.
fn add_function<F>(lua: &Lua, lib: &Lib, module: &Table, name: &str, imp: F) -> mlua::Result<()>
where
    F: Fn(&Lua, MultiValue) -> Res<MultiValue> + mlua::MaybeSend + 'static,
{
    let raw = lua.create_function(move |lua, args: MultiValue| match imp(lua, args) {
        Ok(mut results) => {
            results.push_front(Value::Nil);
            Ok(results)
        }
        Err(Fail::Msg(msg)) => {
            let mut full = super::caller_position(lua);
            full.extend_from_slice(&msg);
            Ok(MultiValue::from_iter([Value::String(
                lua.create_string(full)?,
            )]))
        }
        Err(Fail::Lua(e)) => Err(e),
    })?;
    let wrapped: Function = lib.wrap.call(raw)?;
    module.raw_set(name, wrapped)
}

fn new_module(lua: &Lua, lib: &Lib) -> mlua::Result<Table> {
    let module = lua.create_table()?;
    // Arc and Mutex keep the functions `Send` when mlua's `send` feature is on (a `Table` is
    // then `Send` too); without it nothing leaves the Lua state's thread.
    #[allow(clippy::arc_with_non_send_sync)]
    let shared: Shared = Arc::new(Mutex::new(State::default()));

    let s = shared.clone();
    add_function(lua, lib, &module, "encode", move |lua, args| {
        encode(lua, &s, args)
    })?;
    let s = shared.clone();
    add_function(lua, lib, &module, "decode", move |lua, args| {
        decode(lua, &s, args)
    })?;
    let s = shared.clone();
    add_function(
        lua,
        lib,
        &module,
        "encode_sparse_array",
        move |lua, args| {
            configure(lua, &s, args, 3, |lua, cfg, v| {
                Ok(MultiValue::from_iter([
                    enum_option(lua, &v[0], 1, &mut cfg.sparse_convert, BOOL_OPTIONS)?,
                    integer_option(lua, &v[1], 2, &mut cfg.sparse_ratio, 0, i32::MAX)?,
                    integer_option(lua, &v[2], 3, &mut cfg.sparse_safe, 0, i32::MAX)?,
                ]))
            })
        },
    )?;
    let s = shared.clone();
    add_function(lua, lib, &module, "encode_max_depth", move |lua, args| {
        configure(lua, &s, args, 1, |lua, cfg, v| {
            let r = integer_option(lua, &v[0], 1, &mut cfg.encode_max_depth, 1, i32::MAX)?;
            Ok(MultiValue::from_iter([r]))
        })
    })?;
    let s = shared.clone();
    add_function(lua, lib, &module, "decode_max_depth", move |lua, args| {
        configure(lua, &s, args, 1, |lua, cfg, v| {
            let r = integer_option(lua, &v[0], 1, &mut cfg.decode_max_depth, 1, i32::MAX)?;
            Ok(MultiValue::from_iter([r]))
        })
    })?;
    let s = shared.clone();
    add_function(
        lua,
        lib,
        &module,
        "encode_number_precision",
        move |lua, args| {
            configure(lua, &s, args, 1, |lua, cfg, v| {
                let r = integer_option(lua, &v[0], 1, &mut cfg.number_precision, 1, 14)?;
                Ok(MultiValue::from_iter([r]))
            })
        },
    )?;
    let s = shared.clone();
    add_function(lua, lib, &module, "encode_keep_buffer", move |lua, args| {
        configure(lua, &s, args, 1, |lua, cfg, v| {
            let r = enum_option(lua, &v[0], 1, &mut cfg.keep_buffer, BOOL_OPTIONS)?;
            Ok(MultiValue::from_iter([r]))
        })
    })?;
    let s = shared.clone();
    add_function(
        lua,
        lib,
        &module,
        "encode_invalid_numbers",
        move |lua, args| {
            configure(lua, &s, args, 1, |lua, cfg, v| {
                let options: &[&str] = &["off", "on", "null"];
                let r = enum_option(lua, &v[0], 1, &mut cfg.encode_invalid_numbers, options)?;
                Ok(MultiValue::from_iter([r]))
            })
        },
    )?;
    let s = shared;
    add_function(
        lua,
        lib,
        &module,
        "decode_invalid_numbers",
        move |lua, args| {
            configure(lua, &s, args, 1, |lua, cfg, v| {
                let r = enum_option(lua, &v[0], 1, &mut cfg.decode_invalid_numbers, BOOL_OPTIONS)?;
                Ok(MultiValue::from_iter([r]))
            })
        },
    )?;
    let l = lib.clone();
    module.raw_set(
        "new",
        lua.create_function(move |lua, _: MultiValue| new_module(lua, &l))?,
    )?;
    module.raw_set("null", Value::LightUserData(null()))?;
    module.raw_set("_NAME", MODULE_NAME)?;
    module.raw_set("_VERSION", MODULE_VERSION)?;
    Ok(module)
}

fn null() -> LightUserData {
    LightUserData(std::ptr::null_mut())
}

// ===== Arguments and settings =====

/// The type name Lua gives a value (`lua_typename`): light and full userdata are both
/// "userdata".
fn type_name(v: &Value) -> &'static str {
    super::type_name(Some(v))
}

/// `luaL_argerror`, its position added when it is raised.
fn arg_error(lua: &Lua, narg: i32, extra: &[u8]) -> Fail {
    Fail::Msg(super::arg_message(lua, narg.max(0) as usize, extra))
}

/// `luaL_typerror`.
fn type_error(lua: &Lua, narg: i32, expected: &str, got: &Value) -> Fail {
    let extra = format!("{expected} expected, got {}", type_name(got));
    arg_error(lua, narg, extra.as_bytes())
}

/// `luaL_checklstring`: a string, or a number converted as Lua converts it.
fn check_string(lua: &Lua, v: &Value, narg: i32) -> Res<mlua::LuaString> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Integer(_) | Value::Number(_) => match lua.coerce_string(v.clone())? {
            Some(s) => Ok(s),
            None => Err(type_error(lua, narg, "string", v)),
        },
        _ => Err(type_error(lua, narg, "string", v)),
    }
}

/// A double converted to a C integer type as x86-64 does it (`cvttsd2si`): truncated toward
/// zero, and the lowest value of the type when out of range or NaN.
fn c_double_to_i64(d: f64) -> i64 {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        d as i64
    } else {
        i64::MIN
    }
}

fn c_double_to_i32(d: f64) -> i32 {
    if (-2_147_483_648.0..2_147_483_648.0).contains(&d.trunc()) {
        d as i32
    } else {
        i32::MIN
    }
}

/// lua-cjson's setting functions: at most `nargs` arguments (missing ones are nil), then `body`
/// reads and changes the settings. Settings changed before an error stay changed, as in
/// lua-cjson. Nothing stays locked while Lua may run (an allocation can run a finalizer that
/// calls cjson again).
fn configure(
    lua: &Lua,
    shared: &Shared,
    args: MultiValue,
    nargs: usize,
    body: impl FnOnce(&Lua, &mut Config, &[Value]) -> Res<MultiValue>,
) -> Res<MultiValue> {
    if args.len() > nargs {
        let narg = i32::try_from(nargs + 1).unwrap_or(i32::MAX);
        return Err(arg_error(lua, narg, b"found too many arguments"));
    }
    let mut values: Vec<Value> = args.into_iter().collect();
    values.resize(nargs, Value::Nil);
    let mut cfg = lock(shared).cfg;
    let result = body(lua, &mut cfg, &values);
    let mut state = lock(shared);
    state.cfg = cfg;
    if cfg.keep_buffer == 0 {
        state.buf = Vec::new();
    }
    drop(state);
    result
}

/// An integer setting: changed when `v` is not nil (a number, or a string Lua converts to one,
/// truncated to a C `int`), then returned. The range error always names argument 1, as in
/// lua-cjson.
fn integer_option(
    lua: &Lua,
    v: &Value,
    narg: i32,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> Res<Value> {
    if !v.is_nil() {
        let number = match v {
            Value::Integer(i) => Some(*i as f64),
            Value::Number(n) => Some(*n),
            Value::String(_) => lua.coerce_number(v.clone())?,
            _ => None,
        };
        let Some(number) = number else {
            return Err(type_error(lua, narg, "number", v));
        };
        // lua_tointeger gives a lua_Integer (64 bits), which lua-cjson stores in an int.
        let value = c_double_to_i64(number) as i32;
        if !(min <= value && value <= max) {
            let extra = format!("expected integer between {min} and {max}");
            return Err(arg_error(lua, 1, extra.as_bytes()));
        }
        *setting = value;
    }
    Ok(Value::Integer(i64::from(*setting)))
}

const BOOL_OPTIONS: &[&str] = &["off", "on"];

/// An option setting: a boolean, or one of `options` by name (`luaL_checkoption`); returned as
/// a boolean when it is off or on, else by name.
fn enum_option(lua: &Lua, v: &Value, narg: i32, setting: &mut i32, options: &[&str]) -> Res<Value> {
    match v {
        Value::Nil => {}
        Value::Boolean(b) => *setting = i32::from(*b),
        _ => {
            let s = check_string(lua, v, narg)?;
            let bytes = s.as_bytes();
            // C compares (and prints) the string up to its first NUL.
            let name = bytes.split(|&b| b == 0).next().unwrap_or_default();
            match options.iter().position(|o| o.as_bytes() == name) {
                Some(i) => *setting = i32::try_from(i).unwrap_or(0),
                None => {
                    let mut extra = b"invalid option '".to_vec();
                    extra.extend_from_slice(name);
                    extra.push(b'\'');
                    return Err(arg_error(lua, narg, &extra));
                }
            }
        }
    }
    if *setting == 0 || *setting == 1 {
        return Ok(Value::Boolean(*setting != 0));
    }
    let name = usize::try_from(*setting)
        .ok()
        .and_then(|i| options.get(i))
        .copied()
        .unwrap_or("");
    Ok(Value::String(lua.create_string(name)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lua() -> Lua {
        let lua = Lua::new();
        open(&lua).expect("open cjson");
        lua
    }

    /// Runs a chunk (named as Redis names scripts) that returns a string.
    fn eval(lua: &Lua, code: &str) -> String {
        match lua
            .load(code)
            .set_name("@user_script")
            .eval::<mlua::LuaString>()
        {
            Ok(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            Err(e) => panic!("{code}: {e}"),
        }
    }

    fn eval_bytes(lua: &Lua, code: &str) -> Vec<u8> {
        match lua
            .load(code)
            .set_name("@user_script")
            .eval::<mlua::LuaString>()
        {
            Ok(s) => s.as_bytes().to_vec(),
            Err(e) => panic!("{code}: {e}"),
        }
    }

    /// The error message `pcall` gives for `call` (a Lua expression calling cjson), checking
    /// that it is a string prefixed with the caller's position, as `luaL_error` prefixes it.
    fn error_of(lua: &Lua, call: &str) -> String {
        let code = format!(
            "local ok, e = pcall(function() local r = {call} return r end) \
             assert(not ok, 'no error') assert(type(e) == 'string', type(e)) return e"
        );
        let e = eval(lua, &code);
        match e.strip_prefix("user_script:1: ") {
            Some(rest) => rest.to_owned(),
            None => panic!("{call}: no position in {e:?}"),
        }
    }

    fn enc(lua: &Lua, expr: &str) -> String {
        eval(lua, &format!("return cjson.encode({expr})"))
    }

    #[test]
    fn module_fields() {
        let lua = lua();
        assert_eq!(eval(&lua, "return cjson._NAME"), "cjson");
        assert_eq!(eval(&lua, "return cjson._VERSION"), "2.1.0");
        assert_eq!(
            eval(
                &lua,
                "return type(cjson.null) .. tostring(cjson.null == cjson.decode('null'))"
            ),
            "userdatatrue"
        );
        for f in [
            "encode",
            "decode",
            "encode_sparse_array",
            "encode_max_depth",
            "decode_max_depth",
            "encode_number_precision",
            "encode_keep_buffer",
            "encode_invalid_numbers",
            "decode_invalid_numbers",
            "new",
        ] {
            assert_eq!(eval(&lua, &format!("return type(cjson.{f})")), "function");
        }
        assert_eq!(eval(&lua, "return tostring(cjson.safe)"), "nil");
    }

    #[test]
    fn encode_scalars() {
        let lua = lua();
        assert_eq!(enc(&lua, "nil"), "null");
        assert_eq!(enc(&lua, "cjson.null"), "null");
        assert_eq!(enc(&lua, "true"), "true");
        assert_eq!(enc(&lua, "false"), "false");
        assert_eq!(enc(&lua, "'hello'"), "\"hello\"");
        assert_eq!(enc(&lua, "''"), "\"\"");
        assert_eq!(enc(&lua, "{}"), "{}");
    }

    #[test]
    fn encode_numbers() {
        let lua = lua();
        let cases = [
            ("1", "1"),
            ("-1", "-1"),
            ("0", "0"),
            ("-0", "-0"),
            ("0.1", "0.1"),
            ("1/3", "0.33333333333333"),
            ("2/3", "0.66666666666667"),
            ("100", "100"),
            ("1e14", "1e+14"),
            ("1e13", "10000000000000"),
            ("123456789012345", "1.2345678901234e+14"),
            ("99999999999999.5", "1e+14"),
            ("2^53", "9.007199254741e+15"),
            ("0.0001", "0.0001"),
            ("0.00001", "1e-05"),
            ("1.5e-7", "1.5e-07"),
            ("1e300", "1e+300"),
            ("-1.7976931348623157e308", "-1.7976931348623e+308"),
            ("5e-324", "4.9406564584125e-324"),
            ("3.14159", "3.14159"),
            ("1023.2", "1023.2"),
        ];
        for (expr, want) in cases {
            assert_eq!(enc(&lua, expr), want, "{expr}");
        }
    }

    #[test]
    fn encode_number_precision() {
        let lua = lua();
        assert_eq!(
            eval(&lua, "return tostring(cjson.encode_number_precision())"),
            "14"
        );
        assert_eq!(
            eval(&lua, "return tostring(cjson.encode_number_precision(3))"),
            "3"
        );
        assert_eq!(enc(&lua, "1/3"), "0.333");
        assert_eq!(enc(&lua, "12345"), "1.23e+04");
        assert_eq!(enc(&lua, "{[1/3] = 1}"), "{\"0.333\":1}");
        eval(&lua, "cjson.encode_number_precision(1) return ''");
        assert_eq!(enc(&lua, "0.25"), "0.2");
        assert_eq!(enc(&lua, "0.35"), "0.3");
        assert_eq!(enc(&lua, "25"), "2e+01");
        assert_eq!(
            error_of(&lua, "cjson.encode_number_precision(15)"),
            "bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode_number_precision(0)"),
            "bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)"
        );
    }

    #[test]
    fn encode_invalid_numbers() {
        let lua = lua();
        let msg = "Cannot serialise number: must not be NaN or Inf";
        assert_eq!(error_of(&lua, "cjson.encode(0/0)"), msg);
        assert_eq!(error_of(&lua, "cjson.encode({1/0})"), msg);
        assert_eq!(error_of(&lua, "cjson.encode({[1/0] = 1, x = 1})"), msg);
        assert_eq!(
            eval(&lua, "return tostring(cjson.encode_invalid_numbers())"),
            "false"
        );
        assert_eq!(
            eval(&lua, "return tostring(cjson.encode_invalid_numbers(true))"),
            "true"
        );
        assert_eq!(enc(&lua, "{0/0, 1/0, -1/0}"), "[nan,inf,-inf]");
        assert_eq!(enc(&lua, "-(0/0)"), "nan");
        assert_eq!(
            eval(&lua, "return cjson.encode_invalid_numbers('null')"),
            "null"
        );
        assert_eq!(enc(&lua, "{0/0, 1/0, -1/0, 2}"), "[null,null,null,2]");
        assert_eq!(
            eval(&lua, "return tostring(cjson.encode_invalid_numbers('on'))"),
            "true"
        );
        assert_eq!(
            eval(&lua, "return tostring(cjson.encode_invalid_numbers('off'))"),
            "false"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode_invalid_numbers('maybe')"),
            "bad argument #1 to 'encode_invalid_numbers' (invalid option 'maybe')"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode_invalid_numbers({})"),
            "bad argument #1 to 'encode_invalid_numbers' (string expected, got table)"
        );
    }

    #[test]
    fn encode_strings() {
        let lua = lua();
        assert_eq!(enc(&lua, r#"'a"b\\c/d'"#), r#""a\"b\\c\/d""#);
        assert_eq!(
            enc(&lua, r"'\8\9\10\11\12\13\0\1\31\127 ~'"),
            r#""\b\t\n\u000b\f\r\u0000\u0001\u001f\u007f ~""#
        );
        assert_eq!(
            eval_bytes(&lua, "return cjson.encode('caf\\195\\169 \\255')"),
            b"\"caf\xc3\xa9 \xff\""
        );
    }

    #[test]
    fn encode_tables() {
        let lua = lua();
        assert_eq!(enc(&lua, "{1, 2, 3}"), "[1,2,3]");
        assert_eq!(
            enc(&lua, "{'a', {'b', {}}, true}"),
            "[\"a\",[\"b\",{}],true]"
        );
        assert_eq!(enc(&lua, "{a = 1}"), "{\"a\":1}");
        assert_eq!(enc(&lua, "{[1] = 'x', [3] = 'y'}"), "[\"x\",null,\"y\"]");
        assert_eq!(
            enc(&lua, "{[10] = 1}"),
            "[null,null,null,null,null,null,null,null,null,1]"
        );
        assert_eq!(enc(&lua, "{[1.5] = 1}"), "{\"1.5\":1}");
        assert_eq!(enc(&lua, "{[0] = 1}"), "{\"0\":1}");
        assert_eq!(enc(&lua, "{[-1] = 1}"), "{\"-1\":1}");
        assert_eq!(enc(&lua, "{cjson.null, nil, 3}"), "[null,null,3]");
        assert_eq!(
            enc(&lua, "{{a = {b = {c = 'd'}}}}"),
            "[{\"a\":{\"b\":{\"c\":\"d\"}}}]"
        );
        let mixed = enc(&lua, "{1, x = 2}");
        assert!(
            mixed == "{\"1\":1,\"x\":2}" || mixed == "{\"x\":2,\"1\":1}",
            "{mixed}"
        );
        // Metatables are ignored: raw contents only.
        assert_eq!(
            enc(
                &lua,
                "setmetatable({}, {__index = function() return 1 end})"
            ),
            "{}"
        );
    }

    #[test]
    fn encode_errors() {
        let lua = lua();
        assert_eq!(
            error_of(&lua, "cjson.encode(print)"),
            "Cannot serialise function: type not supported"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode({coroutine.create(function() end)})"),
            "Cannot serialise thread: type not supported"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode({[true] = 1})"),
            "Cannot serialise boolean: table key must be a number or string"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode({[{}] = 1})"),
            "Cannot serialise table: table key must be a number or string"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode()"),
            "bad argument #1 to 'encode' (expected 1 argument)"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode(1, 2)"),
            "bad argument #1 to 'encode' (expected 1 argument)"
        );
        assert_eq!(
            eval(&lua, "local ok, e = pcall(cjson.encode) return e"),
            "bad argument #1 to '?' (expected 1 argument)"
        );
        assert_eq!(
            eval(
                &lua,
                "local e = cjson.encode local ok, m = pcall(function() e() end) return m"
            ),
            "user_script:1: bad argument #1 to 'e' (expected 1 argument)"
        );
        assert_eq!(
            error_of(&lua, "cjson:encode(1)"),
            "calling 'encode' on bad self (expected 1 argument)"
        );
    }

    #[test]
    fn sparse_arrays() {
        let lua = lua();
        let msg = "Cannot serialise table: excessively sparse array";
        assert_eq!(error_of(&lua, "cjson.encode({[11] = 1})"), msg);
        assert_eq!(enc(&lua, "{[1] = 1, [2] = 2, [4] = 4}"), "[1,2,null,4]");
        assert_eq!(error_of(&lua, "cjson.encode({[1] = 1, [12] = 1})"), msg);
        assert_eq!(
            eval(
                &lua,
                "local a, b, c = cjson.encode_sparse_array() \
                 return tostring(a) .. ' ' .. b .. ' ' .. c"
            ),
            "false 2 10"
        );
        assert_eq!(
            eval(
                &lua,
                "local a, b, c = cjson.encode_sparse_array(true) \
                 return tostring(a) .. ' ' .. b .. ' ' .. c"
            ),
            "true 2 10"
        );
        assert_eq!(enc(&lua, "{[11] = 1}"), "{\"11\":1}");
        eval(&lua, "cjson.encode_sparse_array(false, 0) return ''");
        assert_eq!(
            enc(&lua, "{[12] = 1}"),
            "[null,null,null,null,null,null,null,null,null,null,null,1]"
        );
        eval(&lua, "cjson.encode_sparse_array(false, 1, 0) return ''");
        assert_eq!(error_of(&lua, "cjson.encode({[2] = 1})"), msg);
        assert_eq!(enc(&lua, "{1, 2}"), "[1,2]");
        assert_eq!(
            error_of(&lua, "cjson.encode_sparse_array(nil, -1)"),
            "bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode_sparse_array(nil, 'x')"),
            "bad argument #2 to 'encode_sparse_array' (number expected, got string)"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode_sparse_array(1, 2, 3, 4)"),
            "bad argument #4 to 'encode_sparse_array' (found too many arguments)"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode_sparse_array('yes')"),
            "bad argument #1 to 'encode_sparse_array' (invalid option 'yes')"
        );
        assert_eq!(
            eval(
                &lua,
                "local a, b, c = cjson.encode_sparse_array('on', '3', 4.9) \
                 return tostring(a) .. ' ' .. b .. ' ' .. c"
            ),
            "true 3 4"
        );
    }

    #[test]
    fn huge_integer_keys_follow_c_int_conversion() {
        let lua = lua();
        // A key beyond INT_MAX stores INT_MIN as the largest key: not an array.
        assert_eq!(enc(&lua, "{[2^31] = 1}"), "{\"2147483648\":1}");
        assert_eq!(
            error_of(&lua, "cjson.encode({[2^31 - 1] = 1, [2^31 - 2] = 1})"),
            "Cannot serialise table: excessively sparse array"
        );
    }

    #[test]
    fn encode_depth() {
        let lua = lua();
        let nest = "local t = {} local c = t for i = 1, N do c[1] = {} c = c[1] end";
        assert_eq!(
            eval(
                &lua,
                &format!("{} return cjson.encode(t)", nest.replace('N', "999"))
            )
            .len(),
            2 * 1000
        );
        assert_eq!(
            error_of(
                &lua,
                &format!(
                    "(function() {} local r = cjson.encode(t) return r end)()",
                    nest.replace('N', "1000")
                )
            ),
            "Cannot serialise, excessive nesting (1001)"
        );
        // A table holding itself.
        assert_eq!(
            error_of(
                &lua,
                "(function() local t = {} t.a = t local r = cjson.encode(t) return r end)()"
            ),
            "Cannot serialise, excessive nesting (1001)"
        );
        assert_eq!(
            eval(&lua, "return tostring(cjson.encode_max_depth(2))"),
            "2"
        );
        assert_eq!(enc(&lua, "{{1}}"), "[[1]]");
        assert_eq!(
            error_of(&lua, "cjson.encode({{{1}}})"),
            "Cannot serialise, excessive nesting (3)"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode_max_depth(0)"),
            "bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode_max_depth(1, 2)"),
            "bad argument #2 to 'encode_max_depth' (found too many arguments)"
        );
    }

    #[test]
    fn encode_depth_is_bounded_by_c_stack_slots() {
        let lua = lua();
        eval(&lua, "cjson.encode_max_depth(100000) return ''");
        // lua-cjson holds one slot per array level, two per object level, and needs three
        // free: arrays stop at depth 7998, objects at 4000.
        assert_eq!(
            error_of(
                &lua,
                "(function() local t = {} t[1] = t local r = cjson.encode(t) return r end)()"
            ),
            "Cannot serialise, excessive nesting (7998)"
        );
        assert_eq!(
            error_of(
                &lua,
                "(function() local t = {} t.a = t local r = cjson.encode(t) return r end)()"
            ),
            "Cannot serialise, excessive nesting (4000)"
        );
        let out = eval(
            &lua,
            "local t = {} local c = t for i = 1, 7996 do c[1] = {} c = c[1] end \
             return cjson.encode(t)",
        );
        assert_eq!(out.len(), 2 * 7997);
    }

    #[test]
    fn decode_values() {
        let lua = lua();
        let check = |code: &str, want: &str| assert_eq!(eval(&lua, code), want, "{code}");
        check("return cjson.decode('\"abc\"')", "abc");
        check("return tostring(cjson.decode('true'))", "true");
        check("return tostring(cjson.decode(' false '))", "false");
        check(
            "return tostring(cjson.decode('null') == cjson.null)",
            "true",
        );
        check("return tostring(cjson.decode('123'))", "123");
        check("return tostring(cjson.decode(123))", "123");
        check("return tostring(cjson.decode('-1.5e3'))", "-1500");
        check(
            "return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')",
            "0 -5000 -1 0.0003 1023.2 0",
        );
        check(
            "local d = cjson.decode('{\"keya\": \"a\", \"keyb\": \"b\"}') return d.keya .. d.keyb",
            "ab",
        );
        check(
            "local d = cjson.decode('[1, null, 3]') \
             return #d .. tostring(d[2] == cjson.null) .. d[3]",
            "3true3",
        );
        check(
            "local d = cjson.decode('{\"a\": {\"b\": [1, {\"c\": []}]}, \"a\": 5}') \
             return tostring(d.a)",
            "5",
        );
        check(
            "local d = cjson.decode('{\"a\": {\"b\": [1, {\"c\": [], \"d\": {}}]}}') \
             return type(d.a.b[2].c) .. tostring(next(d.a.b[2].c)) .. type(d.a.b[2].d)",
            "tableniltable",
        );
        check(
            "local d = cjson.decode(' [ [ ] , { } , [ [ 1 ] ] ] ') \
             return #d .. #d[1] .. tostring(next(d[2])) .. d[3][1][1]",
            "30nil1",
        );
    }

    #[test]
    fn decode_strings() {
        let lua = lua();
        assert_eq!(
            eval_bytes(
                &lua,
                r#"return cjson.decode('"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t"')"#
            ),
            b"a\"b\\c/d\x08\x0c\n\r\t"
        );
        assert_eq!(
            eval_bytes(
                &lua,
                r#"return cjson.decode('"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\\u0000"')"#
            ),
            "A\u{e9}\u{20ac}\u{1f600}\0".as_bytes()
        );
        // Raw bytes (control characters, invalid UTF-8) pass unchanged.
        assert_eq!(
            eval_bytes(&lua, "return cjson.decode('\"\\1\\255\\10\"')"),
            b"\x01\xff\n"
        );
        let cases = [
            (
                "'\"abc'",
                "Expected value but found unexpected end of string at character 5",
            ),
            (
                "'\"a\\\\x\"'",
                "Expected value but found invalid escape code at character 3",
            ),
            (
                "'\"\\\\u12\"'",
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                "'\"\\\\udc00\"'",
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                "'\"\\\\ud800\"'",
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                "'\"\\\\ud800\\\\u0041\"'",
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                "'\"a\\0b\"'",
                "Expected value but found unexpected end of string at character 3",
            ),
            (
                "'{\"a\\\\'",
                "Expected object key string but found invalid escape code at character 4",
            ),
        ];
        for (arg, want) in cases {
            assert_eq!(
                error_of(&lua, &format!("cjson.decode({arg})")),
                want,
                "{arg}"
            );
        }
    }

    #[test]
    fn decode_numbers_like_strtod() {
        let lua = lua();
        let cases = [
            ("'0x10'", "16"),
            ("'-0x1p4'", "-16"),
            ("'0x1.8p1'", "3"),
            ("'+5'", "5"),
            ("'007'", "7"),
            ("'1.'", "1"),
            ("'-.5'", "-0.5"),
            ("'inf'", "inf"),
            ("'-Infinity'", "-inf"),
            ("'nan'", "nan"),
            ("'-nan'", "-nan"),
            ("'NaN(123)'", "nan"),
            ("'1e400'", "inf"),
            ("'1e-400'", "0"),
            ("'[1E2,2e+2,3e-2]'", "100 200 0.03"),
            ("'0.1'", "0.1"),
        ];
        for (arg, want) in cases {
            let code = format!(
                "local d = cjson.decode({arg}) \
                 if type(d) == 'table' then return table.concat(d, ' ') end return tostring(d)"
            );
            assert_eq!(eval(&lua, &code), want, "{arg}");
        }
        let errors = [
            (
                "'-'",
                "Expected value but found invalid number at character 1",
            ),
            (
                "'+'",
                "Expected value but found invalid number at character 1",
            ),
            (
                "'- 1'",
                "Expected value but found invalid number at character 1",
            ),
            (
                "'0x'",
                "Expected the end but found invalid token at character 2",
            ),
            (
                "'1e'",
                "Expected the end but found invalid token at character 2",
            ),
            (
                "'infinit'",
                "Expected the end but found invalid token at character 4",
            ),
            (
                "'.5'",
                "Expected value but found invalid token at character 1",
            ),
        ];
        for (arg, want) in errors {
            assert_eq!(
                error_of(&lua, &format!("cjson.decode({arg})")),
                want,
                "{arg}"
            );
        }
    }

    #[test]
    fn decode_invalid_numbers_off() {
        let lua = lua();
        assert_eq!(
            eval(&lua, "return tostring(cjson.decode_invalid_numbers())"),
            "true"
        );
        assert_eq!(
            eval(&lua, "return tostring(cjson.decode_invalid_numbers(false))"),
            "false"
        );
        let errors = [
            (
                "'0x10'",
                "Expected value but found invalid number at character 1",
            ),
            (
                "'-inf'",
                "Expected value but found invalid number at character 1",
            ),
            (
                "'01'",
                "Expected value but found invalid number at character 1",
            ),
            (
                "'[1, +1]'",
                "Expected value but found invalid token at character 5",
            ),
            (
                "'nan'",
                "Expected value but found invalid token at character 1",
            ),
            (
                "'Infinity'",
                "Expected value but found invalid token at character 1",
            ),
        ];
        for (arg, want) in errors {
            assert_eq!(
                error_of(&lua, &format!("cjson.decode({arg})")),
                want,
                "{arg}"
            );
        }
        assert_eq!(eval(&lua, "return tostring(cjson.decode('-0.5e1'))"), "-5");
        assert_eq!(eval(&lua, "return tostring(cjson.decode('-.5'))"), "-0.5");
        assert_eq!(
            eval(&lua, "return tostring(cjson.decode_invalid_numbers('on'))"),
            "true"
        );
    }

    #[test]
    fn decode_errors() {
        let lua = lua();
        let cases = [
            ("''", "Expected value but found T_END at character 1"),
            ("'   '", "Expected value but found T_END at character 4"),
            (
                "'x'",
                "Expected value but found invalid token at character 1",
            ),
            (
                "'[1,]'",
                "Expected value but found T_ARR_END at character 4",
            ),
            (
                "'[1 2]'",
                "Expected comma or array end but found T_NUMBER at character 4",
            ),
            (
                "'{1:2}'",
                "Expected object key string but found T_NUMBER at character 2",
            ),
            (
                "'{,}'",
                "Expected object key string but found T_COMMA at character 2",
            ),
            (
                "'{\"a\" 1}'",
                "Expected colon but found T_NUMBER at character 6",
            ),
            (
                "'{\"a\":1,}'",
                "Expected object key string but found T_OBJ_END at character 8",
            ),
            (
                "'{\"a\":1 \"b\"}'",
                "Expected comma or object end but found T_STRING at character 8",
            ),
            (
                "'[1] [2]'",
                "Expected the end but found T_ARR_BEGIN at character 5",
            ),
            (
                "'1 2'",
                "Expected the end but found T_NUMBER at character 3",
            ),
            (
                "'[1'",
                "Expected comma or array end but found T_END at character 3",
            ),
            ("'{\"a\":'", "Expected value but found T_END at character 6"),
            (
                "'tru'",
                "Expected value but found invalid token at character 1",
            ),
            (
                "'nul'",
                "Expected value but found invalid token at character 1",
            ),
            ("']'", "Expected value but found T_ARR_END at character 1"),
            ("':'", "Expected value but found T_COLON at character 1"),
            ("'\\0\\0'", "JSON parser does not support UTF-16 or UTF-32"),
            ("'[\\0'", "JSON parser does not support UTF-16 or UTF-32"),
            ("'[1]\\0garbage'", "__ok"),
        ];
        for (arg, want) in cases {
            if want == "__ok" {
                assert_eq!(
                    eval(&lua, &format!("return tostring(cjson.decode({arg})[1])")),
                    "1"
                );
                continue;
            }
            assert_eq!(
                error_of(&lua, &format!("cjson.decode({arg})")),
                want,
                "{arg}"
            );
        }
        assert_eq!(
            error_of(&lua, "cjson.decode()"),
            "bad argument #1 to 'decode' (expected 1 argument)"
        );
        assert_eq!(
            error_of(&lua, "cjson.decode('1', 2)"),
            "bad argument #1 to 'decode' (expected 1 argument)"
        );
        assert_eq!(
            error_of(&lua, "cjson.decode(nil)"),
            "bad argument #1 to 'decode' (string expected, got nil)"
        );
        assert_eq!(
            error_of(&lua, "cjson.decode({})"),
            "bad argument #1 to 'decode' (string expected, got table)"
        );
    }

    #[test]
    fn decode_depth() {
        let lua = lua();
        let deep =
            |n: usize, open: &str, close: &str| format!("'{}{}'", open.repeat(n), close.repeat(n));
        assert_eq!(
            eval(
                &lua,
                &format!(
                    "local d = cjson.decode({}) local n = 0 \
                     while type(d) == 'table' do n = n + 1 d = d[1] end return tostring(n)",
                    deep(1000, "[", "]")
                )
            ),
            "1000"
        );
        assert_eq!(
            error_of(&lua, &format!("cjson.decode({})", deep(1001, "[", "]"))),
            "Found too many nested data structures (1001) at character 1001"
        );
        assert_eq!(
            error_of(
                &lua,
                &format!("cjson.decode({})", deep(1001, "{\"a\":", "}"))
            ),
            "Found too many nested data structures (1001) at character 5001"
        );
        assert_eq!(
            eval(&lua, "return tostring(cjson.decode_max_depth(1))"),
            "1"
        );
        assert_eq!(
            error_of(&lua, "cjson.decode('{\"obj\": {\"array\": [1,2,3,4]}}')"),
            "Found too many nested data structures (2) at character 9"
        );
        assert_eq!(
            error_of(&lua, "cjson.decode('[[]]')"),
            "Found too many nested data structures (2) at character 2"
        );
        assert_eq!(eval(&lua, "return cjson.decode('[1]')[1] .. ''"), "1");
        // Raised far, the depth is bounded by the C stack slots lua-cjson may use.
        eval(&lua, "cjson.decode_max_depth(100000) return ''");
        assert_eq!(
            error_of(&lua, &format!("cjson.decode({})", deep(8000, "[", "]"))),
            "Found too many nested data structures (7999) at character 7999"
        );
        assert_eq!(
            error_of(
                &lua,
                &format!("cjson.decode({})", deep(5000, "{\"a\":", "}"))
            ),
            "Found too many nested data structures (4000) at character 19996"
        );
        let ok = eval(
            &lua,
            &format!(
                "local d = cjson.decode({}) local n = 0 \
                 while type(d) == 'table' do n = n + 1 d = d[1] end return tostring(n)",
                deep(7998, "[", "]")
            ),
        );
        assert_eq!(ok, "7998");
    }

    #[test]
    fn round_trips() {
        let lua = lua();
        let out = eval(
            &lua,
            r#"
            local big = {}
            for i = 1, 20000 do big[i] = {id = i, name = 'item' .. i, tags = {'a', 'b'}} end
            local s = cjson.encode(big)
            local d = cjson.decode(s)
            assert(#d == 20000 and d[20000].name == 'item20000' and d[123].tags[2] == 'b')
            assert(cjson.encode(d) == s)
            local map = {}
            for i = 1, 20000 do map['k' .. i] = i end
            local m = cjson.decode(cjson.encode(map))
            for i = 1, 20000 do assert(m['k' .. i] == i) end
            return 'ok'
            "#,
        );
        assert_eq!(out, "ok");
    }

    /// Redis's "EVAL - JSON smoke test" (tests/unit/scripting.tcl).
    #[test]
    fn redis_smoke_test() {
        let lua = lua();
        lua.load(
            r#"
            local some_map = {
                s1="Some string",
                n1=100,
                a1={"Some","String","Array"},
                nil1=nil,
                b1=true,
                b2=false}
            local encoded = cjson.encode(some_map)
            local decoded = cjson.decode(encoded)
            assert(table.concat(some_map) == table.concat(decoded))

            cjson.encode_keep_buffer(false)
            encoded = cjson.encode(some_map)
            decoded = cjson.decode(encoded)
            assert(table.concat(some_map) == table.concat(decoded))

            local table1 = {one="one", [1]="one"}
            encoded = cjson.encode(table1)
            decoded = cjson.decode(encoded)
            assert(decoded["one"] == table1["one"])
            assert(decoded["1"] == table1[1])

            local array1 = {[1]="one", [2]="two"}
            encoded = cjson.encode(array1)
            decoded = cjson.decode(encoded)
            assert(table.concat(array1) == table.concat(decoded))

            local invalid_map = {}
            invalid_map[false] = "false"
            local ok, encoded = pcall(cjson.encode, invalid_map)
            assert(ok == false)

            cjson.encode_max_depth(1)
            ok, encoded = pcall(cjson.encode, some_map)
            assert(ok == false)

            cjson.decode_max_depth(1)
            ok, decoded = pcall(cjson.decode, '{"obj": {"array": [1,2,3,4]}}')
            assert(ok == false)

            ok, encoded = pcall(cjson.encode, {num1=0/0})
            assert(ok == false)
            cjson.encode_invalid_numbers(true)
            ok, encoded = pcall(cjson.encode, {num1=0/0})
            assert(ok == true)

            cjson.decode_max_depth(1000)
            cjson.encode_max_depth(1000)
            cjson.encode_invalid_numbers(false)
            "#,
        )
        .exec()
        .expect("smoke test");
    }

    #[test]
    fn keep_buffer_and_new() {
        let lua = lua();
        assert_eq!(
            eval(&lua, "return tostring(cjson.encode_keep_buffer())"),
            "true"
        );
        assert_eq!(
            eval(&lua, "return tostring(cjson.encode_keep_buffer('off'))"),
            "false"
        );
        assert_eq!(enc(&lua, "{1}"), "[1]");
        assert_eq!(
            eval(&lua, "return tostring(cjson.encode_keep_buffer(1 == 1))"),
            "true"
        );
        assert_eq!(enc(&lua, "{2}"), "[2]");
        assert_eq!(
            error_of(&lua, "cjson.encode_keep_buffer(1)"),
            "bad argument #1 to 'encode_keep_buffer' (invalid option '1')"
        );
        // new() gives a table with its own, default, settings.
        assert_eq!(
            eval(
                &lua,
                "cjson.encode_max_depth(5) local c = cjson.new() \
                 return c.encode_max_depth() .. ' ' .. cjson.encode_max_depth() .. ' ' \
                 .. c.encode({a = {1}}) .. tostring(c.null == cjson.null)"
            ),
            "1000 5 {\"a\":[1]}true"
        );
    }

    #[test]
    fn scripts_cannot_swap_the_base_functions_used() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "next = nil error = nil \
                 local ok, e = pcall(cjson.decode, '[') \
                 return cjson.encode({a = {b = 1}}) .. ' ' .. e"
            ),
            "{\"a\":{\"b\":1}} Expected value but found T_END at character 2"
        );
    }

    #[test]
    fn errors_carry_the_callers_position_as_lual_error_does() {
        let lua = lua();
        assert_eq!(
            eval(&lua, "local ok, e = pcall(cjson.decode, 'x') return e"),
            "Expected value but found invalid token at character 1"
        );
        assert_eq!(
            eval(
                &lua,
                "local ok, e = pcall(function()\n\n local r = cjson.decode('x') end) return e"
            ),
            "user_script:3: Expected value but found invalid token at character 1"
        );
        assert_eq!(
            eval(
                &lua,
                "local ok, e = pcall(cjson.encode_max_depth, 0) return e"
            ),
            "bad argument #1 to '?' (expected integer between 1 and 2147483647)"
        );
        // Inside a coroutine as well.
        assert_eq!(
            eval(
                &lua,
                "local co = coroutine.create(function() local r = cjson.decode('[') end) \
                 local ok, e = coroutine.resume(co) return e"
            ),
            "user_script:1: Expected value but found T_END at character 2"
        );
        // Known difference: a tail call drops the caller's frame before the wrapper runs, so
        // there is no position (lua-cjson gives "user_script:1: ...") and no name ('decode').
        assert_eq!(
            eval(
                &lua,
                "local ok, e = pcall(function() return cjson.decode('x') end) return e"
            ),
            "Expected value but found invalid token at character 1"
        );
        assert_eq!(
            eval(
                &lua,
                "local ok, e = pcall(function() return cjson.decode() end) return e"
            ),
            "bad argument #1 to '?' (expected 1 argument)"
        );
    }

    #[test]
    fn nothing_is_kept_alive_after_a_call() {
        let lua = lua();
        let code = "local w = setmetatable({}, {__mode = 'v'}) \
            do local t = {{1}, {2}, {a = {b = {}}}} w[1] = t[3].a w[2] = t \
               cjson.encode(t) end \
            do local d = cjson.decode('[[[1]], {\"a\": [[2]]}]') w[3] = d[2].a w[4] = d end \
            do local t = {{print}} w[5] = t[1] pcall(cjson.encode, t) end \
            do w[6] = cjson.decode('[[[[1]]]]') pcall(cjson.decode, '[[[[1]]]') end \
            collectgarbage() collectgarbage() \
            local n = 0 for _ in pairs(w) do n = n + 1 end return tostring(n)";
        assert_eq!(eval(&lua, code), "0");
    }

    #[test]
    fn finalizers_may_call_cjson_during_a_call() {
        let lua = lua();
        let code = r#"
            local calls = 0
            local function garbage()
              for i = 1, 50 do
                local p = newproxy(true)
                getmetatable(p).__gc = function()
                  calls = calls + 1
                  local s = cjson.encode({a = {1, {b = 'c'}}})
                  assert(cjson.decode(s).a[2].b == 'c')
                  cjson.encode_number_precision(14)
                end
              end
            end
            collectgarbage('setpause', 100)
            local big = {}
            for i = 1, 3000 do big[i] = {s = string.rep('x', i % 50) .. i, n = {i}} end
            for i = 1, 10 do
              garbage()
              local s = cjson.encode(big)
              local d = cjson.decode(s)
              assert(#d == 3000 and d[3000].n[1] == 3000 and cjson.encode(d) == s)
            end
            collectgarbage()
            return tostring(calls > 0)
        "#;
        assert_eq!(eval(&lua, code), "true");
    }

    #[test]
    fn results_count_as_in_lua_cjson() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "return select('#', cjson.encode(1)) .. select('#', cjson.decode('1')) \
                 .. select('#', cjson.encode_sparse_array()) .. select('#', cjson.encode_max_depth())"
            ),
            "1131"
        );
    }
}
