//! `cmsgpack`, the MessagePack library Redis 7.0.15 gives scripts (its vendored lua-cmsgpack
//! 0.4.0), written in Rust for Lua 5.1: `pack`, `unpack`, `unpack_one`, `unpack_limit` and the
//! `_NAME`, `_VERSION`, `_COPYRIGHT`, `_DESCRIPTION` fields, with Redis's bytes, values and
//! error messages.
//!
//! Packing: a number that is a whole number in the 64-bit integer range is the smallest integer
//! form (positive or negative fixint, uint 8..64, int 8..64); any other number is a float 32
//! when converting it to single precision and back gives the same number (so also the
//! infinities), else a float 64. A string is fixstr, str 8 (0xd9), str 16 or str 32. A table
//! whose keys are exactly 1..n is an array (an empty table too), any other table a map. A table
//! inside 16 others is packed as nil, which also ends circular references; functions and other
//! values are nil. Unpacking reads every type but bin and ext (those are "Bad data format in
//! input."); every number becomes a Lua number, a uint 64 above 2^63-1 wrapping to negative as
//! it does in Redis.
//!
//! Errors are raised as Lua strings, as Redis's C functions raise them with `luaL_error`:
//! prefixed with the calling Lua function's `source:line: ` ("user_script:1: Missing bytes in
//! input."), or with nothing when a C function such as `pcall` called cmsgpack. Wrong arguments
//! give `luaL_argerror`'s messages, naming the function as the call site does ("bad argument #2
//! to 'unpack_limit' (number expected, got no value)"). A nil or NaN map key gives Lua's own
//! "table index is nil" / "table index is NaN", without a position, as `lua_settable` raises it
//! inside Redis's C function. Redis's C functions hold their work on the Lua stack, which a C
//! function may use up to 8000 slots of; its use is counted here slot for slot, so the stack
//! runs out where it does in Redis and with its messages ("stack overflow (too many return
//! values at once; use unpack_one or unpack_limit instead.)", "stack overflow (in function
//! mp_encode_lua_table_as_map)", ...).
//!
//! No `unsafe`: each function is a small Lua wrapper (chunk `=cmsgpack`) in front of a safe mlua
//! function. The Rust side computes the results, or the error message with its prefix (found
//! with `Lua::inspect_stack`), and the wrapper returns the former or raises the latter as a
//! plain string with `error(msg, 0)` (mlua would raise a callback's error as userdata). Many
//! results come back in a table that the wrapper unpacks.
//!
//! Known differences, all from the wrapper frame:
//! - When a script tail-calls a function (`return cmsgpack.unpack(s)`), Lua 5.1 drops the
//!   script's frame before the wrapper runs, so an error has no position prefix and an argument
//!   error names the function `?`; Redis's C function keeps both ("user_script:1: ...",
//!   'unpack').
//! - Error handlers and tracebacks see the wrapper's frame (source `=cmsgpack`) between the
//!   script and the error.
//! - An error of mlua itself (out of memory and the like) reaches the script as mlua raises it,
//!   not as Lua's message.
//!
//! Not this module's doing but visible through it: a map is packed in `next` order, which for
//! table keys (hashed by address) and for string keys of 32 bytes or more (Redis's patched Lua
//! hashes every byte of a string, stock Lua 5.1 samples long ones) differs from Redis's.
//!
//! The decoder is iterative: deep nesting uses neither native stack nor many mlua references
//! (mlua keeps those on an auxiliary Lua stack of at most 8000 slots); the tables being filled
//! and their pending keys wait in a Lua table once there are more than a few.

use mlua::{Function, Lua, MultiValue, Table, Value};

/// A table inside this many others is packed as nil (LUACMSGPACK_MAX_NESTING).
const MAX_NESTING: u32 = 16;

/// The stack slots a C function may use in Lua 5.1 (LUAI_MAXCSTACK): `lua_checkstack` refuses
/// past it. Redis's use of them is counted against this limit.
const C_STACK_LIMIT: usize = 8000;

/// The most values `pack` takes: Redis makes room for a copy of every argument on the stack.
/// The wrapper passes no more than this on (it passes the count), so a call with thousands of
/// arguments holds no more mlua references than this.
const MAX_PACK_ARGS: usize = C_STACK_LIMIT / 2;

/// Tables with at most this many pairs are read in one walk (each pair held holds up to two
/// mlua references, and 16 nested tables may be held at once).
const SMALL_TABLE: usize = 16;

/// How many results are returned as they are; more come back in a table.
const NEAR_RESULTS: usize = 32;

/// How many tables being filled and pending keys are held in Rust; more wait in a Lua table.
const NEAR_SLOTS: usize = 64;

const ERR_MISSING_BYTES: &str = "Missing bytes in input.";
const ERR_BAD_FORMAT: &str = "Bad data format in input.";
const TOO_MANY_VALUES: &str =
    "too many return values at once; use unpack_one or unpack_limit instead.";

/// The Lua wrappers. Each Rust function returns `nil, results...`; `false, t, n` for results
/// `t[1..n]`; or an error message, raised as a plain string (already prefixed as `luaL_error`
/// prefixes it). The base functions are the ones there when the library was opened, so scripts
/// cannot replace them. `pack` passes its argument count first (and no arguments when there are
/// too many); the others pass theirs and their first three arguments.
const WRAPPER: &str = r#"
local error, select, unpack = ...
local function finish(status, ...)
  if status == nil then
    return ...
  end
  if status == false then
    local results, n = ...
    if n <= 7997 then
      return unpack(results, 1, n)
    end
    -- unpack gets 8000 stack slots, three of them for its arguments.
    return results[1], results[2], unpack(results, 3, n)
  end
  error(status, 0)
end
local function packer(impl)
  return function(...)
    local n = select('#', ...)
    if n > MAX_PACK_ARGS then
      return finish(impl(n))
    end
    return finish(impl(n, ...))
  end
end
local function unpacker(impl)
  return function(...)
    local s, a, b = ...
    return finish(impl(select('#', ...), s, a, b))
  end
end
return packer, unpacker
"#;

/// Creates the `cmsgpack` table and sets it as a global, as Redis loads the library.
pub fn open(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    let base = (
        base_function(&globals, "error")?,
        base_function(&globals, "select")?,
        base_function(&globals, "unpack")?,
    );
    let source = WRAPPER.replace("MAX_PACK_ARGS", &MAX_PACK_ARGS.to_string());
    let (packer, unpacker): (Function, Function) =
        lua.load(source).set_name("=cmsgpack").call(base)?;
    // Redis's order, which `pairs` shows.
    let module = lua.create_table()?;
    add_function(lua, &module, &packer, "pack", pack)?;
    add_function(lua, &module, &unpacker, "unpack", unpack)?;
    add_function(lua, &module, &unpacker, "unpack_one", unpack_one)?;
    add_function(lua, &module, &unpacker, "unpack_limit", unpack_limit)?;
    module.raw_set("_NAME", "cmsgpack")?;
    module.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    module.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    module.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    globals.set("cmsgpack", module)
}

fn base_function(globals: &Table, name: &str) -> mlua::Result<Function> {
    match globals.raw_get::<Value>(name)? {
        Value::Function(f) => Ok(f),
        _ => Err(mlua::Error::runtime(format!(
            "cmsgpack needs the base library's '{name}'"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Calls, arguments and errors.

/// Why a call failed.
#[derive(Debug)]
enum Fail {
    /// A `luaL_error` message: raised with the caller's position before it.
    Msg(String),
    /// A message Lua raises from inside a C function (`lua_settable`'s): raised as it is.
    Plain(&'static str),
    /// An error of mlua itself (memory and the like), passed on as it is.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Fail {
    fn from(e: mlua::Error) -> Self {
        Fail::Lua(e)
    }
}

type Res<T> = Result<T, Fail>;

/// "stack overflow (`place`)", as `luaL_checkstack` raises it.
fn stack_overflow(place: &str) -> Fail {
    Fail::Msg(format!("stack overflow ({place})"))
}

/// A function's results.
enum Out {
    /// A few, returned as they are.
    Values(Vec<Value>),
    /// Many: `t[1..n]`.
    Table(Table, usize),
}

/// A call's arguments as the wrapper passes them: their count, then (some of) them.
struct Args {
    count: usize,
    values: Vec<Value>,
}

impl Args {
    fn new(args: MultiValue) -> Args {
        let mut values: Vec<Value> = args.into_iter().collect();
        let count = match values.first() {
            Some(Value::Integer(n)) => usize::try_from(*n).unwrap_or(0),
            _ => 0,
        };
        if !values.is_empty() {
            values.remove(0);
        }
        Args { count, values }
    }

    /// Argument `narg` (from 1), or `None` when the call has fewer.
    fn get(&self, narg: i32) -> Option<&Value> {
        let index = usize::try_from(narg).ok()?.checked_sub(1)?;
        if index >= self.count {
            return None;
        }
        Some(self.values.get(index).unwrap_or(&Value::Nil))
    }
}

/// Registers `imp` under `name`, behind a wrapper made by `wrap`.
fn add_function(
    lua: &Lua,
    module: &Table,
    wrap: &Function,
    name: &str,
    imp: fn(&Lua, Args) -> Res<Out>,
) -> mlua::Result<()> {
    let raw = lua.create_function(move |lua, args: MultiValue| {
        let results = match imp(lua, Args::new(args)) {
            Ok(Out::Values(values)) => std::iter::once(Value::Nil).chain(values).collect(),
            Ok(Out::Table(table, n)) => MultiValue::from_iter([
                Value::Boolean(false),
                Value::Table(table),
                Value::Integer(i64::try_from(n).unwrap_or(i64::MAX)),
            ]),
            Err(Fail::Msg(msg)) => {
                let full = caller_position(lua) + &msg;
                MultiValue::from_iter([Value::String(lua.create_string(full)?)])
            }
            Err(Fail::Plain(msg)) => {
                MultiValue::from_iter([Value::String(lua.create_string(msg)?)])
            }
            Err(Fail::Lua(e)) => return Err(e),
        };
        Ok(results)
    })?;
    let wrapped: Function = wrap.call(raw)?;
    module.raw_set(name, wrapped)
}

/// `luaL_where(L, 1)`: the position `luaL_error` puts before a C function's errors.
fn caller_position(lua: &Lua) -> String {
    String::from_utf8_lossy(&super::caller_position(lua)).into_owned()
}

/// `luaL_argerror`'s message (with no position: [`Fail::Msg`] adds it).
fn arg_error(lua: &Lua, narg: i32, extra: &str) -> Fail {
    let narg = usize::try_from(narg).unwrap_or(0);
    let msg = super::arg_message(lua, narg, extra.as_bytes());
    Fail::Msg(String::from_utf8_lossy(&msg).into_owned())
}

/// `luaL_typerror`.
fn type_error(lua: &Lua, narg: i32, expected: &str, got: Option<&Value>) -> Fail {
    let extra = format!("{expected} expected, got {}", super::type_name(got));
    arg_error(lua, narg, &extra)
}

/// `luaL_checklstring`: a string, or a number converted as Lua converts it.
fn check_string(lua: &Lua, args: &Args, narg: i32) -> Res<mlua::LuaString> {
    let v = args.get(narg);
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(n @ (Value::Integer(_) | Value::Number(_))) => match lua.coerce_string(n.clone())? {
            Some(s) => Ok(s),
            None => Err(type_error(lua, narg, "string", v)),
        },
        _ => Err(type_error(lua, narg, "string", v)),
    }
}

/// `luaL_checkinteger`: a number, or a string Lua converts to one, converted to a
/// `lua_Integer` as x86-64 converts a double (`lua_tointeger`).
fn check_integer(lua: &Lua, args: &Args, narg: i32) -> Res<i64> {
    let v = args.get(narg);
    let number = match v {
        Some(Value::Integer(i)) => return Ok(*i),
        Some(Value::Number(n)) => Some(*n),
        Some(s @ Value::String(_)) => lua.coerce_number(s.clone())?,
        _ => None,
    };
    match number {
        Some(n) => Ok(c_double_to_i64(n)),
        None => Err(type_error(lua, narg, "number", v)),
    }
}

/// `luaL_optinteger`: `default` when the argument is nil or missing.
fn opt_integer(lua: &Lua, args: &Args, narg: i32, default: i64) -> Res<i64> {
    match args.get(narg) {
        None | Some(Value::Nil) => Ok(default),
        Some(_) => check_integer(lua, args, narg),
    }
}

/// A double converted to a 64-bit integer as x86-64 does it (`cvttsd2si`): truncated toward
/// zero, and the lowest value when out of range or NaN.
fn c_double_to_i64(d: f64) -> i64 {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        d as i64
    } else {
        i64::MIN
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding of single items.

/// One item's bytes as packed before any payload: at most a tag and 8 bytes.
struct Head {
    bytes: [u8; 9],
    len: usize,
}

impl Head {
    fn tag(tag: u8) -> Head {
        Head {
            bytes: [tag, 0, 0, 0, 0, 0, 0, 0, 0],
            len: 1,
        }
    }

    fn with<const N: usize>(tag: u8, payload: [u8; N]) -> Head {
        let mut head = Head::tag(tag);
        for (slot, byte) in head.bytes[1..].iter_mut().zip(payload) {
            *slot = byte;
        }
        head.len = 1 + N.min(8);
        head
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The number as a 64-bit integer when it is one exactly: what the C library's
/// `(int64_t)n == n` test accepts on x86-64, where a number out of range converts to the
/// lowest integer (so only -2^63 itself passes at the edge) and NaN and the infinities never do.
fn whole_number(n: f64) -> Option<i64> {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if (-TWO_POW_63..TWO_POW_63).contains(&n) && n.trunc() == n {
        Some(n as i64)
    } else {
        None
    }
}

fn int_head(n: i64) -> Head {
    match n {
        0..=0x7f => Head::tag(n as u8),
        0x80..=0xff => Head::with(0xcc, [n as u8]),
        0x100..=0xffff => Head::with(0xcd, (n as u16).to_be_bytes()),
        0x1_0000..=0xffff_ffff => Head::with(0xce, (n as u32).to_be_bytes()),
        0x1_0000_0000.. => Head::with(0xcf, (n as u64).to_be_bytes()),
        -32..=-1 => Head::tag(n as u8),
        -128..=-33 => Head::with(0xd0, (n as i8).to_be_bytes()),
        -32_768..=-129 => Head::with(0xd1, (n as i16).to_be_bytes()),
        -2_147_483_648..=-32_769 => Head::with(0xd2, (n as i32).to_be_bytes()),
        _ => Head::with(0xd3, n.to_be_bytes()),
    }
}

/// A number that is not a whole number: single precision when that loses nothing.
fn float_head(n: f64) -> Head {
    let single = n as f32;
    if f64::from(single) == n {
        Head::with(0xca, single.to_be_bytes())
    } else {
        Head::with(0xcb, n.to_be_bytes())
    }
}

fn number_head(n: f64) -> Head {
    match whole_number(n) {
        Some(n) => int_head(n),
        None => float_head(n),
    }
}

/// The head of a string of `len` bytes. A length past 32 bits keeps its low 32 bits, as in C.
fn str_head(len: usize) -> Head {
    if len < 32 {
        Head::tag(0xa0 | len as u8)
    } else if len <= 0xff {
        Head::with(0xd9, [len as u8])
    } else if len <= 0xffff {
        Head::with(0xda, (len as u16).to_be_bytes())
    } else {
        Head::with(0xdb, (len as u32).to_be_bytes())
    }
}

/// The head of an array (`fix` 0x90, 16-bit 0xdc) or a map (`fix` 0x80, 16-bit 0xde) of `n`
/// items; the 32-bit form's tag follows the 16-bit one.
fn container_head(fix: u8, tag16: u8, n: usize) -> Head {
    if n <= 15 {
        Head::tag(fix | n as u8)
    } else if n <= 0xffff {
        Head::with(tag16, (n as u16).to_be_bytes())
    } else {
        Head::with(tag16 + 1, (n as u32).to_be_bytes())
    }
}

// ---------------------------------------------------------------------------------------------
// pack

/// `cmsgpack.pack(v1, v2, ...)`: the values' encodings, one after the other.
fn pack(lua: &Lua, args: Args) -> Res<Out> {
    if args.count == 0 {
        return Err(arg_error(lua, 0, "MessagePack pack needs input."));
    }
    // Redis makes room for a copy of every argument: 4000 and their copies fill the 8000 slots.
    if args.count > MAX_PACK_ARGS {
        return Err(arg_error(
            lua,
            0,
            "Too many arguments for MessagePack pack.",
        ));
    }
    let mut packer = Packer {
        out: Vec::new(),
        pairs: Vec::new(),
    };
    packer.pairs.resize_with(MAX_NESTING as usize, Vec::new);
    for (i, value) in args.values.iter().take(args.count).enumerate() {
        // Redis keeps each packed argument on the stack until the end and packs a copy of the
        // argument on top of them: argument `i` (from 0) sits at slot `count + i + 1`.
        packer.encode(value, 0, args.count + i + 1)?;
    }
    Ok(Out::Values(vec![Value::String(
        lua.create_string(&packer.out)?,
    )]))
}

struct Packer {
    out: Vec<u8>,
    /// The pairs of the small tables being packed, a list for each nesting level.
    pairs: Vec<Vec<(Value, Value)>>,
}

impl Packer {
    fn put(&mut self, head: Head) {
        self.out.extend_from_slice(head.as_slice());
    }

    /// Packs `value`, a table's member at nesting `level`. `slot` is where Redis's
    /// implementation would hold that value on its stack, for running out of stack where it
    /// does.
    fn encode(&mut self, value: &Value, level: u32, slot: usize) -> Res<()> {
        match value {
            Value::String(s) => {
                let bytes = s.as_bytes();
                self.put(str_head(bytes.len()));
                self.out.extend_from_slice(&bytes);
            }
            Value::Boolean(b) => self.out.push(if *b { 0xc3 } else { 0xc2 }),
            // mlua gives a number that is a whole number as an integer; it converts back
            // exactly.
            Value::Integer(i) => self.put(number_head(*i as f64)),
            Value::Number(n) => self.put(number_head(*n)),
            Value::Table(t) if level < MAX_NESTING => self.encode_table(t, level, slot)?,
            _ => self.out.push(0xc0),
        }
        Ok(())
    }

    fn encode_table(&mut self, table: &Table, level: u32, slot: usize) -> Res<()> {
        // Redis asks for two slots to inspect the keys, then three more to walk a map.
        if slot + 2 > C_STACK_LIMIT {
            return Err(stack_overflow("in function table_is_an_array"));
        }
        // A small table is read in one walk; the list of its pairs is reused (one per level).
        let mut pairs = self
            .pairs
            .get_mut(level as usize)
            .map(std::mem::take)
            .unwrap_or_default();
        let done = match read_small(table, &mut pairs) {
            Ok(true) => self.encode_pairs(&pairs, level, slot),
            Ok(false) => self.encode_large(table, level, slot),
            Err(e) => Err(e.into()),
        };
        pairs.clear();
        if let Some(place) = self.pairs.get_mut(level as usize) {
            *place = pairs;
        }
        done
    }

    /// Packs a table from its pairs, as `lua_next` gave them.
    fn encode_pairs(&mut self, pairs: &[(Value, Value)], level: u32, slot: usize) -> Res<()> {
        let len = pairs.len();
        let mut max = 0;
        let mut array = true;
        for (key, _) in pairs {
            match array_index(key) {
                Some(index) => max = max.max(index),
                None => {
                    array = false;
                    break;
                }
            }
        }
        if array && u64::try_from(len).is_ok_and(|len| len == max) {
            self.put(container_head(0x90, 0xdc, len));
            let nil = Value::Nil;
            for (at, index) in (1..=max).enumerate() {
                // Members in index order; `lua_next` mostly gives them so.
                let value = match pairs.get(at) {
                    Some((key, value)) if array_index(key) == Some(index) => value,
                    _ => pairs
                        .iter()
                        .find(|(key, _)| array_index(key) == Some(index))
                        .map_or(&nil, |(_, value)| value),
                };
                self.encode(value, level + 1, slot + 1)?;
            }
            return Ok(());
        }
        if slot + 3 > C_STACK_LIMIT {
            return Err(stack_overflow("in function mp_encode_lua_table_as_map"));
        }
        self.put(container_head(0x80, 0xde, len));
        for (key, value) in pairs {
            // Redis packs a copy of the key above the value, then the value.
            self.encode(key, level + 1, slot + 3)?;
            self.encode(value, level + 1, slot + 2)?;
        }
        Ok(())
    }

    /// Packs a table too large to hold all its pairs at once (each holds mlua references).
    fn encode_large(&mut self, table: &Table, level: u32, slot: usize) -> Res<()> {
        if let Some(len) = array_len(table)? {
            self.put(container_head(0x90, 0xdc, len));
            for key in 1..=len {
                let value: Value = table.raw_get(key)?;
                self.encode(&value, level + 1, slot + 1)?;
            }
            return Ok(());
        }
        if slot + 3 > C_STACK_LIMIT {
            return Err(stack_overflow("in function mp_encode_lua_table_as_map"));
        }
        // The pairs are packed in one walk, behind room for the longest head, which is then
        // written and the unused room dropped (Redis counts them in a walk of its own first).
        let head_at = self.out.len();
        self.out.extend_from_slice(&[0; 5]);
        let mut len = 0usize;
        // `pairs` rather than `for_each`: the walk nests, and `for_each` would nest a protected
        // call per level.
        for pair in table.pairs::<Value, Value>() {
            let (key, value) = pair?;
            self.encode(&key, level + 1, slot + 3)?;
            self.encode(&value, level + 1, slot + 2)?;
            len += 1;
        }
        let head = container_head(0x80, 0xde, len);
        let head = head.as_slice();
        self.out.drain(head_at + head.len()..head_at + 5);
        if let Some(room) = self.out.get_mut(head_at..head_at + head.len()) {
            room.copy_from_slice(head);
        }
        Ok(())
    }
}

/// Reads the pairs of `table` into `pairs` when it has at most `SMALL_TABLE` of them.
fn read_small(table: &Table, pairs: &mut Vec<(Value, Value)>) -> mlua::Result<bool> {
    let mut small = true;
    let walk = table.for_each(|key: Value, value: Value| {
        if pairs.len() == SMALL_TABLE {
            // Stops the walk.
            small = false;
            return Err(mlua::Error::runtime("large table"));
        }
        pairs.push((key, value));
        Ok(())
    });
    if !small {
        pairs.clear();
        return Ok(false);
    }
    walk?;
    Ok(true)
}

/// The key as an array index, when it can be one: a number that is a whole number from 1 to
/// the largest C `int` (Redis's `table_is_an_array`).
fn array_index(key: &Value) -> Option<u64> {
    let key = match key {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        _ => return None,
    };
    (key >= 1.0 && key <= f64::from(i32::MAX) && key.trunc() == key).then_some(key as u64)
}

/// The length of `table` when it is packed as an array: when its keys are exactly 1..n (n may
/// be 0), that is each key is a number that is a whole number from 1 to the largest C `int`,
/// and their count equals the largest of them.
fn array_len(table: &Table) -> mlua::Result<Option<usize>> {
    let mut count: u64 = 0;
    let mut max: u64 = 0;
    let mut array = true;
    let walk = table.for_each(|key: Value, _: Value| {
        let Some(index) = array_index(&key) else {
            // Stops the walk.
            array = false;
            return Err(mlua::Error::runtime("not an array"));
        };
        max = max.max(index);
        count += 1;
        Ok(())
    });
    if !array {
        return Ok(None);
    }
    walk?;
    Ok((max == count).then(|| usize::try_from(count).unwrap_or(usize::MAX)))
}

// ---------------------------------------------------------------------------------------------
// unpack

/// Why the input could not be decoded.
#[derive(Clone, Copy, Debug)]
enum Malformed {
    /// The input ends inside an item.
    MissingBytes,
    /// An item's first byte is no type the library reads (0xc1, bin, ext).
    BadFormat,
}

impl From<Malformed> for Fail {
    fn from(m: Malformed) -> Self {
        Fail::Msg(
            match m {
                Malformed::MissingBytes => ERR_MISSING_BYTES,
                Malformed::BadFormat => ERR_BAD_FORMAT,
            }
            .to_owned(),
        )
    }
}

/// The input and how far it has been read.
struct Input<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.at..).unwrap_or_default()
    }

    /// The `N` bytes after the item's first byte, without reading them.
    fn header<const N: usize>(&self) -> Result<[u8; N], Malformed> {
        self.rest()
            .get(1..1 + N)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(Malformed::MissingBytes)
    }

    /// Reads an item of `len` bytes.
    fn take(&mut self, len: usize) -> Result<&'a [u8], Malformed> {
        let item = self.rest().get(..len).ok_or(Malformed::MissingBytes)?;
        self.at += len;
        Ok(item)
    }

    /// Reads an item of a head of `head` bytes then `len` bytes, giving the latter.
    fn take_payload(&mut self, head: usize, len: usize) -> Result<&'a [u8], Malformed> {
        let item = self.take(head.saturating_add(len))?;
        Ok(item.get(head..).unwrap_or_default())
    }

    /// Reads an item of a tag and `N` bytes, giving the latter.
    fn take_fixed<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let bytes = self.header::<N>()?;
        self.at += 1 + N;
        Ok(bytes)
    }
}

/// `cmsgpack.unpack(s)`: every value in `s`.
fn unpack(lua: &Lua, args: Args) -> Res<Out> {
    // Redis leaves every argument on the stack.
    let base = args.count;
    unpack_full(lua, &args, 0, 0, base)
}

/// `cmsgpack.unpack_one(s [, offset])`: the next offset (-1 at the end) and one value.
fn unpack_one(lua: &Lua, args: Args) -> Res<Out> {
    let offset = opt_integer(lua, &args, 2, 0)?;
    // Redis drops the arguments after the first before decoding.
    let base = args.count.min(1);
    unpack_full(lua, &args, 1, offset, base)
}

/// `cmsgpack.unpack_limit(s, limit [, offset])`: the next offset (-1 at the end) and up to
/// `limit` values.
fn unpack_limit(lua: &Lua, args: Args) -> Res<Out> {
    let limit = check_integer(lua, &args, 2)?;
    let offset = opt_integer(lua, &args, 3, 0)?;
    let base = args.count.min(1);
    unpack_full(lua, &args, limit, offset, base)
}

/// Decodes up to `limit` values from `offset`, with `base` stack slots taken by arguments.
/// With both 0 it decodes them all and gives only the values; otherwise the next offset comes
/// first (-1 when the input is used up). That includes `unpack_limit(s, 0, 0)`, which is
/// `unpack(s)`, as in Redis.
fn unpack_full(lua: &Lua, args: &Args, limit: i64, offset: i64, base: usize) -> Res<Out> {
    let text = check_string(lua, args, 1)?;
    let bytes = text.as_bytes();
    let len = bytes.len();
    // Redis's messages print C `int`s, and the input's length where one says "limit".
    if offset < 0 || limit < 0 {
        return Err(Fail::Msg(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    let Some(start) = usize::try_from(offset).ok().filter(|&o| o <= len) else {
        return Err(Fail::Msg(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    };
    let everything = limit == 0 && offset == 0;
    let limit = if everything {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut input = Input {
        bytes: &bytes,
        at: start,
    };
    let mut decoder = Decoder {
        lua,
        top: base,
        frames: Vec::new(),
        current: None,
        parked: Parked::default(),
    };
    // Without `everything`, the next offset goes first.
    let mut results = Results::new(usize::from(!everything));
    let mut count: i64 = 0;
    while !input.rest().is_empty() && count < limit {
        let value = decoder.decode(&mut input)?;
        results.push(lua, value)?;
        count += 1;
    }
    if !everything {
        if decoder.top + 1 > C_STACK_LIMIT {
            return Err(stack_overflow("in function mp_unpack_full"));
        }
        let next = if input.rest().is_empty() {
            -1
        } else {
            i64::try_from(input.at).unwrap_or(i64::MAX)
        };
        results.set_first(Value::Integer(next))?;
    }
    Ok(results.finish())
}

/// The results of a call: the first few in Rust, all of them in a Lua table once there are
/// more (each Rust `Value` holds an mlua reference).
struct Results {
    near: Vec<Value>,
    far: Option<Table>,
    /// Results so far, reserved ones included.
    len: usize,
}

impl Results {
    /// Results with the first `reserved` left for later.
    fn new(reserved: usize) -> Results {
        Results {
            near: vec![Value::Nil; reserved],
            far: None,
            len: reserved,
        }
    }

    fn push(&mut self, lua: &Lua, value: Value) -> mlua::Result<()> {
        self.len += 1;
        if self.far.is_none() && self.near.len() < NEAR_RESULTS {
            self.near.push(value);
            return Ok(());
        }
        let far = match &self.far {
            Some(far) => far,
            None => {
                let far = lua.create_table_with_capacity(2 * NEAR_RESULTS, 0)?;
                for (i, v) in self.near.drain(..).enumerate() {
                    far.raw_set(i + 1, v)?;
                }
                self.far.insert(far)
            }
        };
        far.raw_set(self.len, value)
    }

    fn set_first(&mut self, value: Value) -> mlua::Result<()> {
        match (&self.far, self.near.first_mut()) {
            (Some(far), _) => far.raw_set(1, value),
            (None, Some(first)) => {
                *first = value;
                Ok(())
            }
            (None, None) => Ok(()),
        }
    }

    fn finish(self) -> Out {
        match self.far {
            Some(far) => Out::Table(far, self.len),
            None => Out::Values(self.near),
        }
    }
}

/// An array or map being filled.
#[derive(Clone, Copy, Debug)]
enum Frame {
    /// Member `next` is being decoded (above its index); `left` more come after it.
    Array { next: u32, left: u32 },
    /// A pair's key is being decoded, or its value once `has_key`; `left` more pairs after it.
    Map { left: u32, has_key: bool },
}

/// What the item at the input's front is.
enum Item {
    /// A value other than an array or map.
    Value(Value),
    /// The head of an array of this many members, now read.
    Array(u32),
    /// The head of a map of this many pairs, now read.
    Map(u32),
}

/// Where the tables being filled (but the innermost) and the keys waiting for their values
/// are kept, level `d` (from 0) at slots `2d` and `2d + 1`: the first few in Rust, the others
/// in a Lua table.
#[derive(Default)]
struct Parked {
    near: Vec<Value>,
    far: Option<Table>,
}

impl Parked {
    fn put(&mut self, lua: &Lua, slot: usize, value: Value) -> mlua::Result<()> {
        if slot < NEAR_SLOTS {
            if self.near.len() <= slot {
                self.near.resize(slot + 1, Value::Nil);
            }
            if let Some(place) = self.near.get_mut(slot) {
                *place = value;
            }
            return Ok(());
        }
        let far = match &self.far {
            Some(far) => far,
            None => self.far.insert(lua.create_table()?),
        };
        far.raw_set(slot - NEAR_SLOTS + 1, value)
    }

    fn take(&mut self, slot: usize) -> mlua::Result<Value> {
        if slot < NEAR_SLOTS {
            return Ok(self
                .near
                .get_mut(slot)
                .map(|place| std::mem::replace(place, Value::Nil))
                .unwrap_or(Value::Nil));
        }
        match &self.far {
            Some(far) => far.raw_get(slot - NEAR_SLOTS + 1),
            None => Ok(Value::Nil),
        }
    }
}

/// Decodes values as Redis does, counting its stack use to the slot (a value being decoded, a
/// table while it is filled, above it an array member's index or a map's key), so the stack
/// runs out where it does in Redis. Nesting is followed with a list of the open tables rather
/// than by recursion, so deep input needs no deep native stack.
struct Decoder<'a> {
    lua: &'a Lua,
    /// The stack slots Redis would use.
    top: usize,
    frames: Vec<Frame>,
    /// The table of the innermost frame.
    current: Option<Table>,
    parked: Parked,
}

impl Decoder<'_> {
    /// Decodes one value.
    fn decode(&mut self, input: &mut Input<'_>) -> Res<Value> {
        loop {
            let mut value = match self.read_item(input)? {
                Item::Value(value) => value,
                Item::Array(len) => {
                    let table = self.lua.create_table()?;
                    self.top += 1;
                    if self.top + 1 > C_STACK_LIMIT {
                        return Err(stack_overflow("in function mp_decode_to_lua_array"));
                    }
                    match len.checked_sub(1) {
                        None => Value::Table(table),
                        Some(left) => {
                            // The first member's index.
                            self.top += 1;
                            self.open(table, Frame::Array { next: 1, left })?;
                            continue;
                        }
                    }
                }
                Item::Map(len) => {
                    let table = self.lua.create_table()?;
                    self.top += 1;
                    match len.checked_sub(1) {
                        None => Value::Table(table),
                        Some(left) => {
                            self.open(
                                table,
                                Frame::Map {
                                    left,
                                    has_key: false,
                                },
                            )?;
                            continue;
                        }
                    }
                }
            };
            // A whole value: store it, and every table that completes, in its table.
            loop {
                let depth = self.frames.len();
                let Some(frame) = self.frames.last().copied() else {
                    return Ok(value);
                };
                let key_slot = 2 * (depth - 1) + 1;
                let next = match frame {
                    Frame::Map {
                        left,
                        has_key: false,
                    } => {
                        self.parked.put(self.lua, key_slot, value)?;
                        Frame::Map {
                            left,
                            has_key: true,
                        }
                    }
                    Frame::Array { next, left } => {
                        self.store(Value::Integer(i64::from(next)), value)?;
                        if left == 0 {
                            value = self.close()?;
                            continue;
                        }
                        // The next member's index.
                        self.top += 1;
                        Frame::Array {
                            next: next + 1,
                            left: left - 1,
                        }
                    }
                    Frame::Map {
                        left,
                        has_key: true,
                    } => {
                        let key = self.parked.take(key_slot)?;
                        match key {
                            Value::Nil => return Err(Fail::Plain("table index is nil")),
                            Value::Number(n) if n.is_nan() => {
                                return Err(Fail::Plain("table index is NaN"));
                            }
                            _ => {}
                        }
                        self.store(key, value)?;
                        if left == 0 {
                            value = self.close()?;
                            continue;
                        }
                        Frame::Map {
                            left: left - 1,
                            has_key: false,
                        }
                    }
                };
                if let Some(frame) = self.frames.last_mut() {
                    *frame = next;
                }
                break;
            }
        }
    }

    /// Starts filling `table`, parking the table being filled.
    fn open(&mut self, table: Table, frame: Frame) -> Res<()> {
        if let Some(parent) = self.current.replace(table) {
            let slot = 2 * (self.frames.len() - 1);
            self.parked.put(self.lua, slot, Value::Table(parent))?;
        }
        self.frames.push(frame);
        Ok(())
    }

    /// Ends the innermost table, which becomes a whole value, and takes its parent back.
    fn close(&mut self) -> Res<Value> {
        let done = self.current.take();
        self.frames.pop();
        if let Some(depth) = self.frames.len().checked_sub(1) {
            match self.parked.take(2 * depth)? {
                Value::Table(parent) => self.current = Some(parent),
                _ => return Err(lost_table()),
            }
        }
        done.map(Value::Table).ok_or_else(lost_table)
    }

    /// `t[key] = value` in the innermost table, as `lua_settable` does it (the key and the
    /// value leave the stack).
    fn store(&mut self, key: Value, value: Value) -> Res<()> {
        let Some(table) = &self.current else {
            return Err(lost_table());
        };
        table.raw_set(key, value)?;
        self.top -= 2;
        Ok(())
    }

    /// Reads the item at the input's front, after checking there is room for it on the stack:
    /// a value other than an array or map is made (and takes its slot), a container's head is
    /// only read.
    fn read_item(&mut self, input: &mut Input<'_>) -> Res<Item> {
        let Some(&tag) = input.rest().first() else {
            return Err(Malformed::MissingBytes.into());
        };
        if self.top + 1 > C_STACK_LIMIT {
            return Err(stack_overflow(TOO_MANY_VALUES));
        }
        let number = |n: f64| Ok(Value::Number(n));
        let value = match tag {
            0x00..=0x7f => {
                input.at += 1;
                number(f64::from(tag))
            }
            0x80..=0x8f => {
                input.at += 1;
                return Ok(Item::Map(u32::from(tag & 0x0f)));
            }
            0x90..=0x9f => {
                input.at += 1;
                return Ok(Item::Array(u32::from(tag & 0x0f)));
            }
            0xa0..=0xbf => {
                let text = input.take_payload(1, usize::from(tag & 0x1f))?;
                self.string(text)
            }
            0xc0 => {
                input.at += 1;
                Ok(Value::Nil)
            }
            0xc2 | 0xc3 => {
                input.at += 1;
                Ok(Value::Boolean(tag == 0xc3))
            }
            0xca => number(f64::from(f32::from_be_bytes(input.take_fixed()?))),
            0xcb => number(f64::from_be_bytes(input.take_fixed()?)),
            0xcc => number(f64::from(u8::from_be_bytes(input.take_fixed()?))),
            0xcd => number(f64::from(u16::from_be_bytes(input.take_fixed()?))),
            0xce => number(f64::from(u32::from_be_bytes(input.take_fixed()?))),
            // Redis pushes it as a signed 64-bit integer: from 2^63 up it is negative.
            0xcf => number(i64::from_be_bytes(input.take_fixed()?) as f64),
            0xd0 => number(f64::from(i8::from_be_bytes(input.take_fixed()?))),
            0xd1 => number(f64::from(i16::from_be_bytes(input.take_fixed()?))),
            0xd2 => number(f64::from(i32::from_be_bytes(input.take_fixed()?))),
            0xd3 => number(i64::from_be_bytes(input.take_fixed()?) as f64),
            0xd9 => {
                let [len] = input.header()?;
                let text = input.take_payload(2, usize::from(len))?;
                self.string(text)
            }
            0xda => {
                let len = u16::from_be_bytes(input.header()?);
                let text = input.take_payload(3, usize::from(len))?;
                self.string(text)
            }
            0xdb => {
                let len = u32::from_be_bytes(input.header()?);
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                let text = input.take_payload(5, len)?;
                self.string(text)
            }
            0xdc => {
                let len = u16::from_be_bytes(input.take_fixed()?);
                return Ok(Item::Array(u32::from(len)));
            }
            0xdd => return Ok(Item::Array(u32::from_be_bytes(input.take_fixed()?))),
            0xde => {
                let len = u16::from_be_bytes(input.take_fixed()?);
                return Ok(Item::Map(u32::from(len)));
            }
            0xdf => return Ok(Item::Map(u32::from_be_bytes(input.take_fixed()?))),
            0xe0..=0xff => {
                input.at += 1;
                number(f64::from(tag as i8))
            }
            // 0xc1, bin 8/16/32, ext 8/16/32 and fixext.
            _ => return Err(Malformed::BadFormat.into()),
        }?;
        self.top += 1;
        Ok(Item::Value(value))
    }

    fn string(&self, bytes: &[u8]) -> mlua::Result<Value> {
        Ok(Value::String(self.lua.create_string(bytes)?))
    }
}

fn lost_table() -> Fail {
    Fail::Lua(mlua::Error::runtime("cmsgpack: lost track of a table"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Helpers for the snippets: `hex(s)`; `show(v)`, a value as text with table keys sorted;
    /// `all(...)`, the count and every value; `try(f, ...)`, `all` of the results or the error.
    const PRELUDE: &str = r#"
local function hex(s)
  return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end))
end
local function show(v)
  if type(v) == 'number' then
    return v ~= v and 'nan' or string.format('%.17g', v)
  elseif type(v) == 'string' then
    return string.format('%q', v)
  elseif type(v) == 'table' then
    local items = {}
    for k, x in pairs(v) do items[#items + 1] = '[' .. show(k) .. ']=' .. show(x) end
    table.sort(items)
    return '{' .. table.concat(items, ',') .. '}'
  end
  return tostring(v)
end
local function all(...)
  local shown = {}
  for i = 1, select('#', ...) do shown[i] = show((select(i, ...))) end
  return select('#', ...) .. ':' .. table.concat(shown, ' ')
end
local function try(f, ...)
  local results = {pcall(f, ...)}
  if results[1] then return all(unpack(results, 2, table.maxn(results))) end
  return 'error ' .. tostring(results[2])
end
"#;

    /// The line a snippet given to `eval` starts on.
    fn code_line() -> usize {
        PRELUDE.matches('\n').count() + 1
    }

    fn lua() -> mlua::Lua {
        let lua = mlua::Lua::new();
        open(&lua).expect("cmsgpack opens");
        lua
    }

    /// Runs `code` after the prelude, as Redis names a script's chunk.
    fn eval(lua: &mlua::Lua, code: &str) -> String {
        lua.load(format!("{PRELUDE}{code}"))
            .set_name("@user_script")
            .eval()
            .unwrap_or_else(|e| panic!("{code}: {e}"))
    }

    /// The error running `code` (alone, so on line 1) raises, without mlua's traceback.
    fn error(lua: &mlua::Lua, code: &str) -> String {
        match lua.load(code).set_name("@user_script").exec() {
            Ok(()) => panic!("{code}: no error"),
            Err(mlua::Error::RuntimeError(message)) => message
                .split("\nstack traceback")
                .next()
                .unwrap_or_default()
                .to_owned(),
            Err(e) => panic!("{code}: {e:?}"),
        }
    }

    fn packed(lua: &mlua::Lua, values: &str) -> String {
        eval(lua, &format!("return hex(cmsgpack.pack({values}))"))
    }

    #[test]
    fn fields() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "return cmsgpack._NAME .. '|' .. cmsgpack._VERSION .. '|' .. cmsgpack._COPYRIGHT \
                 .. '|' .. cmsgpack._DESCRIPTION"
            ),
            "cmsgpack|lua-cmsgpack 0.4.0|Copyright (C) 2012, Salvatore Sanfilippo|\
             MessagePack C implementation for Lua"
        );
        assert_eq!(
            eval(
                &lua,
                "local names = {} for k, v in pairs(cmsgpack) do names[#names + 1] = k .. '=' \
                 .. type(v) end table.sort(names) return table.concat(names, ' ')"
            ),
            "_COPYRIGHT=string _DESCRIPTION=string _NAME=string _VERSION=string pack=function \
             unpack=function unpack_limit=function unpack_one=function"
        );
    }

    // Redis's own tests (tests/unit/scripting.tcl).

    #[test]
    fn redis_packs_double_and_negative_int64() {
        let lua = lua();
        assert_eq!(packed(&lua, "0.1"), "cb3fb999999999999a");
        assert_eq!(packed(&lua, "-1099511627776"), "d3ffffff0000000000");
    }

    #[test]
    fn redis_packs_and_unpacks_circular_references() {
        let lua = lua();
        let code = r#"
            local a = {x=nil,y=5}
            local b = {x=a}
            a['x'] = b
            local encoded = cmsgpack.pack(a)
            local re = cmsgpack.unpack(encoded)
            assert(re)
            assert(re.x)
            assert(re.x.x.y == re.y)
            assert(re.x.x.x.x.y == re.y)
            assert(re.x.x.x.x.x.x.y == re.y)
            assert(re.x.x.x.x.x.x.x.x.x.x.y == re.y)
            assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y == re.y)
            assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x)
            assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil)
            assert(re.x.x.x.x.x.x.x.x.y == re.y and re.y == 5)
            return hex(encoded)
        "#;
        assert_eq!(
            eval(&lua, code),
            "82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905\
             a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0"
        );
    }

    #[test]
    fn redis_pack_unpack_smoke_test() {
        let lua = lua();
        let code = r#"
            local str_lt_32 = string.rep("x", 30)
            local str_lt_255 = string.rep("x", 250)
            local str_lt_65535 = string.rep("x", 65530)
            local str_long = string.rep("x", 100000)
            local array_lt_15 = {1, 2, 3, 4, 5}
            local array_lt_65535 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}
            local array_big = {}
            for i=1, 100000 do array_big[i] = i end
            local map_lt_15 = {a=1, b=2}
            local map_big = {}
            for i=1, 100000 do map_big[tostring(i)] = i end
            local some_map = {
                s1=str_lt_32, s2=str_lt_255, s3=str_lt_65535, s4=str_long, d1=0.1, i1=1, i2=250,
                i3=65530, i4=100000, i5=2^40, i6=-1, i7=-120, i8=-32000, i9=-100000,
                i10=-3147483648, a1=array_lt_15, a2=array_lt_65535, a3=array_big, m1=map_lt_15,
                m2=map_big, b1=false, b2=true, n=nil
            }
            local encoded = cmsgpack.pack(some_map)
            local decoded = cmsgpack.unpack(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            local offset, decoded_one = cmsgpack.unpack_one(encoded, 0)
            assert(table.concat(some_map) == table.concat(decoded_one))
            assert(offset == -1)
            assert(show(decoded) == show(some_map) and show(decoded_one) == show(some_map))

            local encoded_multiple = cmsgpack.pack(str_lt_32, str_lt_255, str_lt_65535, str_long)
            local offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, 0)
            assert(obj == str_lt_32)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_lt_255)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_lt_65535)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_long)
            assert(offset == -1)
            return #encoded .. ' ' .. #encoded_multiple
        "#;
        assert_eq!(eval(&lua, code), "1491977 165821");
    }

    // Packing.

    #[test]
    fn packs_whole_numbers_in_the_smallest_integer_form() {
        let lua = lua();
        assert_eq!(
            packed(
                &lua,
                "0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 2^53"
            ),
            "007fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000cf0020000000000000"
        );
        assert_eq!(
            packed(
                &lua,
                "-1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -2^63"
            ),
            "ffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffffd38000000000000000"
        );
        // -0 is the integer 0.
        assert_eq!(packed(&lua, "-0.0"), "00");
    }

    #[test]
    fn packs_other_numbers_as_float_32_when_exact_else_float_64() {
        let lua = lua();
        assert_eq!(
            packed(&lua, "0.5, -0.1, 1/0, -1/0, 0/0, 2^63, 2^64, 1e300, 2^-149"),
            "ca3f000000cbbfb999999999999aca7f800000caff800000cbfff8000000000000\
             ca5f000000ca5f800000cb7e37e43c8800759cca00000001"
        );
    }

    #[test]
    fn packs_strings_booleans_and_nil() {
        let lua = lua();
        assert_eq!(
            packed(&lua, "true, false, nil, string.len, '', 'abc'"),
            "c3c2c0c0a0a3616263"
        );
        let heads = eval(
            &lua,
            "local heads = {} for _, n in ipairs({31, 32, 255, 256, 65535, 65536}) do \
             local s = cmsgpack.pack(string.rep('x', n)) heads[#heads + 1] = \
             hex(s:sub(1, #s - n)) .. '/' .. #s end return table.concat(heads, ' ')",
        );
        assert_eq!(
            heads,
            "bf/32 d920/34 d9ff/257 da0100/259 daffff/65538 db00010000/65541"
        );
    }

    #[test]
    fn packs_tables_as_arrays_when_keys_are_1_to_n_else_maps() {
        let lua = lua();
        assert_eq!(
            packed(
                &lua,
                "{}, {1,2,3}, {1,nil,3}, {a=1}, {[0]=1}, {[1.5]=1}, {[2^31]=1}, {{}}"
            ),
            "9093010203820101030381a1610181000181ca3fc000000181ce80000000019190"
        );
        assert_eq!(
            packed(&lua, "{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16}"),
            "dc00100102030405060708090a0b0c0d0e0f10"
        );
        assert_eq!(packed(&lua, "{1,2,a=3}"), "8301010202a16103");
        let big = eval(
            &lua,
            "local a, m = {}, {} for i = 1, 70000 do a[i] = true m['k' .. i] = i end \
             return hex(cmsgpack.pack(a):sub(1, 6)) .. ' ' .. hex(cmsgpack.pack(m):sub(1, 5)) \
             .. ' ' .. hex(cmsgpack.pack({a = {}, b = {}, c = {}, d = {}, e = {}, f = {}, \
             g = {}, h = {}, i = {}, j = {}, k = {}, l = {}, m = {}, n = {}, o = {}, p = {}}):sub(1, 3))",
        );
        assert_eq!(big, "dd00011170c3 df00011170 de0010");
    }

    #[test]
    fn packs_tables_nested_16_deep_and_deeper_as_nil() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end \
                 return hex(cmsgpack.pack(t))"
            ),
            "91919191919191919191919191919191c0"
        );
        assert_eq!(
            eval(&lua, "local t = {} t[1] = t return hex(cmsgpack.pack(t))"),
            "91919191919191919191919191919191c0"
        );
    }

    #[test]
    fn packs_its_arguments_one_after_the_other() {
        let lua = lua();
        assert_eq!(packed(&lua, "1, 'a', {2}, nil"), "01a1619102c0");
    }

    #[test]
    fn pack_errors() {
        let lua = lua();
        assert_eq!(
            error(&lua, "cmsgpack.pack()"),
            "user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)"
        );
        assert_eq!(
            eval(&lua, "return try(cmsgpack.pack)"),
            "error bad argument #0 to '?' (MessagePack pack needs input.)"
        );
        // Redis makes room for a copy of every argument: 4000 arguments at most.
        let many = "local t = {} for i = 1, N do t[i] = i end";
        assert_eq!(
            eval(
                &lua,
                &format!(
                    "{} return #cmsgpack.pack(unpack(t))",
                    many.replace('N', "4000")
                )
            ),
            "11618"
        );
        assert_eq!(
            error(
                &lua,
                &format!("{} cmsgpack.pack(unpack(t))", many.replace('N', "4001"))
            ),
            "user_script:1: bad argument #0 to 'pack' (Too many arguments for MessagePack pack.)"
        );
    }

    #[test]
    fn pack_runs_out_of_stack_where_redis_does() {
        let lua = lua();
        let with = |last: &str| {
            eval(
                &lua,
                &format!(
                    "return try(function() local t = {{}} for i = 1, 4000 do t[i] = i end \
                     t{last} return #cmsgpack.pack(unpack(t)) end)"
                ),
            )
        };
        let line = code_line();
        let map_overflow = format!(
            "error user_script:{line}: stack overflow (in function mp_encode_lua_table_as_map)"
        );
        let array_overflow =
            format!("error user_script:{line}: stack overflow (in function table_is_an_array)");
        assert_eq!(with("[3998] = {a = 1}"), map_overflow);
        assert_eq!(with("[3997] = {a = 1}"), "1:11619");
        assert_eq!(with("[3999] = {1}"), array_overflow);
        assert_eq!(with("[3998] = {1}"), "1:11617");
        assert_eq!(with("[4000] = {}"), array_overflow);
        assert_eq!(with("[3997] = {{a = 1}}"), map_overflow);
        assert_eq!(with("[3996] = {{a = 1}}"), "1:11620");
        assert_eq!(with("[1] = {{{}}}"), "1:11620");
    }

    // Unpacking.

    #[test]
    fn unpacks_every_type() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "return all(cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2}, {a={b={}}}, true, \
                 false, nil, 0.25, -7, 2^40)))"
            ),
            r#"10:1 "a" {[1]=1,[2]=2} {["a"]={["b"]={}}} true false nil 0.25 -7 1099511627776"#
        );
        assert_eq!(
            eval(
                &lua,
                r"return all(cmsgpack.unpack('\202\63\128\0\0\203\63\185\153\153\153\153\153\154\209\131\0\210\255\255\255\254\211\255\255\255\0\0\0\0\0\255\224'))"
            ),
            "7:1 0.10000000000000001 -32000 -2 -1099511627776 -1 -32"
        );
        assert_eq!(
            eval(
                &lua,
                r"return all(cmsgpack.unpack('\222\0\1\161a\1\223\0\0\0\1\1\2\220\0\2\1\2\221\0\0\0\1\192\218\0\3abc\219\0\0\0\3abc\194\195\192\204\255\205\255\255\206\255\255\255\255\208\128\217\1x'))"
            ),
            r#"14:{["a"]=1} {[1]=2} {[1]=1,[2]=2} {} "abc" "abc" false true nil 255 65535 4294967295 -128 "x""#
        );
        // An array's nils are holes.
        assert_eq!(
            eval(
                &lua,
                r"return all(cmsgpack.unpack('\154\1\192\3\192\192\6\7\192\9\192'))"
            ),
            "1:{[1]=1,[3]=3,[6]=6,[7]=7,[9]=9}"
        );
        // Redis pushes a uint 64 as a signed integer.
        assert_eq!(
            eval(
                &lua,
                r"return all(cmsgpack.unpack('\207\255\255\255\255\255\255\255\255'))"
            ),
            "1:-1"
        );
        assert_eq!(eval(&lua, "return all(cmsgpack.unpack(''))"), "0:");
        // A number argument is taken as its string: "5" is the fixint 53.
        assert_eq!(eval(&lua, "return all(cmsgpack.unpack(5))"), "1:53");
    }

    #[test]
    fn unpack_errors() {
        let lua = lua();
        for (input, message) in [
            (r"\196\1a", "Bad data format in input."),
            (r"\199\1\1a", "Bad data format in input."),
            (r"\212\1\1", "Bad data format in input."),
            (r"\193", "Bad data format in input."),
            (r"\1\2\145\193", "Bad data format in input."),
            (r"\146\1", "Missing bytes in input."),
            (r"\217\5abc", "Missing bytes in input."),
            (r"\203\0", "Missing bytes in input."),
            (r"\129\192\1", "table index is nil"),
            (r"\129\203\255\248\0\0\0\0\0\0\1", "table index is NaN"),
        ] {
            assert_eq!(
                eval(&lua, &format!("return try(cmsgpack.unpack, '{input}')")),
                format!("error {message}"),
                "{input}"
            );
        }
        // Called from a script, an error has the script's position, as from Redis.
        assert_eq!(
            error(&lua, r"cmsgpack.unpack('\1\2\145')"),
            "user_script:1: Missing bytes in input."
        );
        assert_eq!(
            error(&lua, "cmsgpack.unpack()"),
            "user_script:1: bad argument #1 to 'unpack' (string expected, got no value)"
        );
        assert_eq!(
            error(&lua, "cmsgpack.unpack_one('abc', 'x')"),
            "user_script:1: bad argument #2 to 'unpack_one' (number expected, got string)"
        );
        assert_eq!(
            error(&lua, "cmsgpack.unpack_limit('abc')"),
            "user_script:1: bad argument #2 to 'unpack_limit' (number expected, got no value)"
        );
    }

    #[test]
    fn unpack_one_and_unpack_limit_give_the_next_offset() {
        let lua = lua();
        let run = |call: &str| {
            eval(
                &lua,
                &format!("local s = cmsgpack.pack(1, 'a', {{1, 2}}) return try({call})"),
            )
        };
        assert_eq!(run("cmsgpack.unpack_one, s"), "2:1 1");
        assert_eq!(run("cmsgpack.unpack_one, s, 1"), r#"2:3 "a""#);
        assert_eq!(run("cmsgpack.unpack_one, s, 3"), "2:-1 {[1]=1,[2]=2}");
        assert_eq!(run("cmsgpack.unpack_one, s, 6"), "1:-1");
        assert_eq!(run("cmsgpack.unpack_limit, s, 2"), r#"3:3 1 "a""#);
        assert_eq!(
            run("cmsgpack.unpack_limit, s, 5, 1"),
            r#"3:-1 "a" {[1]=1,[2]=2}"#
        );
        assert_eq!(run("cmsgpack.unpack_limit, s, 0, 1"), "1:1");
        // A limit and offset of 0 is `unpack`: every value, no offset.
        assert_eq!(
            run("cmsgpack.unpack_limit, s, 0"),
            r#"3:1 "a" {[1]=1,[2]=2}"#
        );
        assert_eq!(
            run("cmsgpack.unpack_one, s, 7"),
            "error Start offset 7 greater than input length 6."
        );
        assert_eq!(
            run("cmsgpack.unpack_one, s, -1"),
            "error Invalid request to unpack with offset of -1 and limit of 6."
        );
        // Redis's message gives the input's length as the limit.
        assert_eq!(
            run("cmsgpack.unpack_limit, s, -1, 2"),
            "error Invalid request to unpack with offset of 2 and limit of 6."
        );
    }

    #[test]
    fn unpack_runs_out_of_stack_where_redis_does() {
        let lua = lua();
        let run = |call: &str| eval(&lua, &format!("return try(function() return {call} end)"));
        let line = code_line();
        let too_many = format!(
            "error user_script:{line}: stack overflow (too many return values at once; use \
             unpack_one or unpack_limit instead.)"
        );
        assert_eq!(
            run(r"select('#', cmsgpack.unpack(string.rep('\1', 7999)))"),
            "1:7999"
        );
        assert_eq!(
            run(r"select('#', cmsgpack.unpack(string.rep('\1', 8000)))"),
            too_many
        );
        assert_eq!(
            run(r"select('#', cmsgpack.unpack_limit(string.rep('\1', 8000), 7998))"),
            "1:7999"
        );
        assert_eq!(
            run(r"select('#', cmsgpack.unpack_limit(string.rep('\1', 8000), 7999))"),
            format!("error user_script:{line}: stack overflow (in function mp_unpack_full)")
        );
        // Nesting: a map holds one slot while its key is decoded, an array two.
        assert_eq!(
            run(
                r"type(cmsgpack.unpack(string.rep('\129', 7997) .. '\1' .. string.rep('\1', 7997)))"
            ),
            r#"1:"table""#
        );
        assert_eq!(
            run(
                r"type(cmsgpack.unpack(string.rep('\129', 7998) .. '\1' .. string.rep('\1', 7998)))"
            ),
            too_many
        );
        assert_eq!(
            run(r"type(cmsgpack.unpack(string.rep('\145', 3999) .. '\1'))"),
            r#"1:"table""#
        );
        assert_eq!(
            run(r"type(cmsgpack.unpack(string.rep('\145', 3999) .. '\144'))"),
            format!(
                "error user_script:{line}: stack overflow (in function mp_decode_to_lua_array)"
            )
        );
    }

    #[test]
    fn deep_input_needs_little_native_stack() {
        // The deepest nesting the Lua stack allows, on a thread with a small stack.
        let thread = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let lua = lua();
                eval(
                    &lua,
                    r"local s = string.rep('\129', 7997) .. '\1' .. string.rep('\1', 7997)
                      local t, depth = cmsgpack.unpack(s), 0
                      while type(t) == 'table' do t, depth = next(t), depth + 1 end
                      return depth",
                )
            })
            .expect("thread starts");
        assert_eq!(thread.join().expect("no stack overflow"), "7997");
    }

    #[test]
    fn round_trips() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                r"return hex(cmsgpack.pack(cmsgpack.unpack('\154\1\192\3\192\192\6\7\192\9\192')))"
            ),
            "8501010606070703030909"
        );
    }

    #[test]
    fn number_heads() {
        assert_eq!(whole_number(-9_223_372_036_854_775_808.0), Some(i64::MIN));
        assert_eq!(whole_number(9_223_372_036_854_775_808.0), None);
        assert_eq!(whole_number(f64::NAN), None);
        assert_eq!(whole_number(f64::INFINITY), None);
        assert_eq!(whole_number(2.5), None);
        assert_eq!(number_head(-0.0).as_slice(), [0]);
        assert_eq!(
            number_head(16_777_217.5).as_slice(),
            [0xcb, 0x41, 0x70, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00]
        );
        assert_eq!(int_head(i64::MAX).as_slice()[0], 0xcf);
        assert_eq!(str_head(1 << 32).as_slice(), [0xdb, 0, 0, 0, 0]);
        assert_eq!(
            container_head(0x80, 0xde, 1 << 16).as_slice(),
            [0xdf, 0, 1, 0, 0]
        );
    }

    // The wrapper in front of each function.

    #[test]
    fn errors_carry_the_callers_position_as_lual_error_does() {
        let lua = lua();
        // Called by pcall, a C function: no position, and no name for the function.
        assert_eq!(
            eval(&lua, r"return try(cmsgpack.unpack, '\193')"),
            "error Bad data format in input."
        );
        assert_eq!(
            eval(&lua, "return try(cmsgpack.unpack_limit, 'a')"),
            "error bad argument #2 to '?' (number expected, got no value)"
        );
        // Called from a Lua function: its line.
        let line = code_line();
        assert_eq!(
            eval(
                &lua,
                "return try(function()\n\n local r = cmsgpack.unpack('\\145') end)"
            ),
            format!("error user_script:{}: Missing bytes in input.", line + 2)
        );
        // Inside a coroutine as well.
        assert_eq!(
            eval(
                &lua,
                "local co = coroutine.create(function() local r = cmsgpack.unpack_one('', 1) end) \
                 local ok, e = coroutine.resume(co) return e"
            ),
            format!("user_script:{line}: Start offset 1 greater than input length 0.")
        );
        // A method call does not count `self`, as luaL_argerror does not.
        assert_eq!(
            error(&lua, "local r = cmsgpack:unpack()"),
            "user_script:1: calling 'unpack' on bad self (string expected, got table)"
        );
        assert_eq!(
            error(&lua, "local r = cmsgpack:unpack_limit()"),
            "user_script:1: bad argument #1 to 'unpack_limit' (number expected, got no value)"
        );
        // lua_tointeger's conversion: infinity is the lowest integer, printed as a C int.
        assert_eq!(
            error(&lua, r"local r = cmsgpack.unpack_limit('\1', 1, 1/0)"),
            "user_script:1: Invalid request to unpack with offset of 0 and limit of 1."
        );
        assert_eq!(
            error(&lua, r"local r = cmsgpack.unpack_one('\1', '2e0')"),
            "user_script:1: Start offset 2 greater than input length 1."
        );
    }

    /// The known, accepted difference: a tail call drops the caller's frame before the
    /// wrapper runs, so the error has no position (Redis gives "user_script:1: ...") and an
    /// argument error names the function '?' (Redis gives 'unpack').
    #[test]
    fn tail_calls_lose_the_position_and_name() {
        let lua = lua();
        assert_eq!(
            error(&lua, r"return cmsgpack.unpack('\145')"),
            "Missing bytes in input."
        );
        assert_eq!(
            error(&lua, "return cmsgpack.unpack()"),
            "bad argument #1 to '?' (string expected, got no value)"
        );
        assert_eq!(
            eval(&lua, "return try(function() return cmsgpack.pack() end)"),
            "error bad argument #0 to '?' (MessagePack pack needs input.)"
        );
        // Anything but a tail call keeps them.
        assert_eq!(
            error(&lua, r"return (cmsgpack.unpack('\145'))"),
            "user_script:1: Missing bytes in input."
        );
        assert_eq!(
            error(&lua, "return (cmsgpack.pack())"),
            "user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)"
        );
    }

    #[test]
    fn nil_and_nan_keys_raise_luas_message_without_a_position() {
        let lua = lua();
        assert_eq!(
            error(&lua, r"local r = cmsgpack.unpack('\129\192\1')"),
            "table index is nil"
        );
        assert_eq!(
            error(
                &lua,
                r"local r = cmsgpack.unpack('\145\129\203\127\248\0\0\0\0\0\0\1')"
            ),
            "table index is NaN"
        );
        // The value is decoded first, as in Redis: its error comes first.
        assert_eq!(
            error(&lua, r"local r = cmsgpack.unpack('\129\192\193')"),
            "user_script:1: Bad data format in input."
        );
        // A nil value leaves a hole.
        assert_eq!(
            eval(&lua, r"return all(cmsgpack.unpack('\130\1\192\2\3'))"),
            "1:{[2]=3}"
        );
    }

    #[test]
    fn scripts_cannot_swap_the_base_functions_used() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                r"error, select, unpack = nil, nil, nil
                  local n = 0
                  for _ in pairs({cmsgpack.unpack(string.rep('\1', 100))}) do n = n + 1 end
                  local ok, e = pcall(cmsgpack.unpack, '\193')
                  return n .. ' ' .. #cmsgpack.pack(1, 2) .. ' ' .. e"
            ),
            "100 2 Bad data format in input."
        );
    }

    #[test]
    fn many_results_come_back_in_order() {
        let lua = lua();
        // Past the few returned directly, the results come back through a table.
        for n in [31, 32, 33, 64, 100, 7997, 7998, 7999] {
            let code = format!(
                r"local s = string.rep('\192', 3) .. string.rep('\1\2\3', {n}) .. '\192\192'
                  local r = {{cmsgpack.unpack(s)}}
                  local count = select('#', cmsgpack.unpack(s:sub(1, {n})))
                  local ok = r[1] == nil and r[4] == 1 and r[5] == 2 and r[3 * {n} + 3] == 3
                  return count .. ' ' .. table.maxn(r) .. ' ' .. tostring(ok)"
            );
            if 3 * n + 5 > 7999 {
                continue;
            }
            assert_eq!(eval(&lua, &code), format!("{n} {} true", 3 * n + 3), "{n}");
        }
        assert_eq!(
            eval(
                &lua,
                r"local s = string.rep('\192', 7999)
                  return select('#', cmsgpack.unpack(s)) .. ' ' .. tostring((cmsgpack.unpack(s)))"
            ),
            "7999 nil"
        );
        // unpack_limit: the offset first.
        assert_eq!(
            eval(
                &lua,
                r"local s = string.rep('\7', 100) .. '\8'
                  local r = {cmsgpack.unpack_limit(s, 100)}
                  local o, last = cmsgpack.unpack_limit(s, 100, 100)
                  return #r .. ' ' .. r[1] .. ' ' .. r[2] .. ' ' .. r[101] .. ' ' .. o .. ' ' .. last"
            ),
            "101 100 7 7 -1 8"
        );
        assert_eq!(
            eval(
                &lua,
                r"return select('#', cmsgpack.unpack_limit(string.rep('\192', 7998), 7998))"
            ),
            "7999"
        );
    }

    #[test]
    fn pack_takes_thousands_of_arguments() {
        let lua = lua();
        // Each string or table argument the Rust side receives holds an mlua reference; the
        // wrapper passes none on when there are too many.
        assert_eq!(
            eval(
                &lua,
                "local t = {} for i = 1, 4000 do t[i] = 'x' .. i end t[1] = {'first'} \
                 local r = {cmsgpack.unpack(cmsgpack.pack(unpack(t)))} \
                 return #r .. ' ' .. r[1][1] .. ' ' .. r[4000]"
            ),
            "4000 first x4000"
        );
        assert_eq!(
            error(
                &lua,
                "local t = {} for i = 1, 7990 do t[i] = 'x' .. i end \
                 local s = cmsgpack.pack(unpack(t))"
            ),
            "user_script:1: bad argument #0 to 'pack' (Too many arguments for MessagePack pack.)"
        );
    }

    #[test]
    fn packs_small_and_large_tables_alike() {
        let lua = lua();
        // Maps are packed in `next` order, arrays in index order however they were built,
        // tables of up to 16 pairs (read in one walk) as larger ones.
        for n in [15, 16, 17, 40] {
            let code = format!(
                r"local m, a = {{}}, {{}}
                  for i = 1, {n} do m['k' .. i] = {{i}} end
                  for i = {n}, 1, -1 do a[i] = 'v' .. i end
                  local parts = {{}}
                  for k, v in pairs(m) do parts[#parts + 1] = cmsgpack.pack(k, v) end
                  local want = hex(table.concat(parts))
                  local got = hex(cmsgpack.pack(m))
                  local ordered = {{}}
                  for i = 1, {n} do ordered[i] = 'v' .. i end
                  return tostring(got:sub(-#want) == want) .. ' ' ..
                    tostring(cmsgpack.pack(a) == cmsgpack.pack(ordered)) .. ' ' ..
                    hex(cmsgpack.pack(a):sub(1, 1))"
            );
            let head = if n < 16 {
                format!("{:02x}", 0x90 + n)
            } else {
                "dc".to_owned()
            };
            assert_eq!(eval(&lua, &code), format!("true true {head}"), "{n}");
        }
        // The one more key that makes a table large, or not an array.
        assert_eq!(
            packed(
                &lua,
                "{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,[18]=18}, \
                 {1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,[17]=17}"
            )
            .len(),
            2 * ((3 + 17 * 2) + (3 + 16 * 2))
        );
    }

    #[test]
    fn deep_input_parks_its_tables_in_order() {
        let lua = lua();
        // Arrays [child, 2] and maps {a = child, b = 2}, deeper than the tables held in Rust.
        assert_eq!(
            eval(
                &lua,
                r"local t = cmsgpack.unpack(string.rep('\146', 500) .. '\1' .. string.rep('\2', 500))
                  local depth = 0
                  while type(t) == 'table' do
                    assert(t[2] == 2) t, depth = t[1], depth + 1
                  end
                  local m = cmsgpack.unpack(string.rep('\130\161a', 500) .. '\1' ..
                    string.rep('\161b\2', 500))
                  local mdepth = 0
                  while type(m) == 'table' do
                    assert(m.b == 2) m, mdepth = m.a, mdepth + 1
                  end
                  return depth .. ' ' .. t .. ' ' .. mdepth .. ' ' .. m"
            ),
            "500 1 500 1"
        );
        // A table as a key, deep.
        assert_eq!(
            eval(
                &lua,
                r"local t = cmsgpack.unpack(string.rep('\129', 300) .. '\161k' .. string.rep('\5', 300))
                  local depth = 0
                  while type(t) == 'table' do
                    local k, v = next(t) assert(v == 5) t, depth = k, depth + 1
                  end
                  return depth .. ' ' .. t"
            ),
            "300 k"
        );
    }

    #[test]
    fn nothing_is_kept_alive_after_a_call() {
        let lua = lua();
        let code = r"local w = setmetatable({}, {__mode = 'v'})
            do local t = {{1}, {2}, {a = {b = {}}}} w[1] = t[3].a w[2] = t
               cmsgpack.pack(t) end
            do local r = {cmsgpack.unpack(string.rep('\145\145\1', 200))}
               w[3] = r[1] w[4] = r[200][1] end
            do local r = cmsgpack.unpack(string.rep('\145', 300) .. '\1') w[5] = r end
            do pcall(cmsgpack.unpack, string.rep('\145', 300) .. '\144\193') end
            do pcall(cmsgpack.unpack, string.rep('\145', 300)) end
            collectgarbage() collectgarbage()
            local n = 0 for _ in pairs(w) do n = n + 1 end return tostring(n)";
        assert_eq!(eval(&lua, code), "0");
    }

    #[test]
    fn finalizers_may_call_cmsgpack_during_a_call() {
        let lua = lua();
        let code = r"
            local calls = 0
            local function garbage()
              for i = 1, 50 do
                local p = newproxy(true)
                getmetatable(p).__gc = function()
                  calls = calls + 1
                  local s = cmsgpack.pack({a = {1, {b = 'c'}}})
                  assert(cmsgpack.unpack(s).a[2].b == 'c')
                end
              end
            end
            collectgarbage('setpause', 100)
            local big = {}
            for i = 1, 3000 do big[i] = {s = string.rep('x', i % 50) .. i, n = {i}} end
            for i = 1, 10 do
              garbage()
              local s = cmsgpack.pack(big)
              local d = cmsgpack.unpack(s)
              assert(#d == 3000 and d[3000].n[1] == 3000 and cmsgpack.pack(d) == s)
            end
            collectgarbage()
            return tostring(calls > 0)
        ";
        assert_eq!(eval(&lua, code), "true");
    }

    #[test]
    fn results_count_as_in_redis() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                r"return select('#', cmsgpack.pack(1, 2)) .. select('#', cmsgpack.unpack('')) ..
                  select('#', cmsgpack.unpack('\1\2')) .. select('#', cmsgpack.unpack_one('\1\2')) ..
                  select('#', cmsgpack.unpack_limit('\1\2', 0, 2)) .. select('#', cmsgpack.unpack('\192'))"
            ),
            "102211"
        );
    }
}
