//! The `struct` library that Redis 7.0 gives scripts: lua-struct 0.2 (`struct.pack`,
//! `struct.unpack`, `struct.size`), with the bounds checks Redis added, written in Rust.
//!
//! Results and error messages are the ones Redis 7.0.15 gives on x86-64 Linux, built with GCC:
//! `long`, `size_t` and `double` take 8 bytes, `int` and `float` 4, `short` 2, native order is
//! little-endian and the widest alignment `!` picks is 8. Where the C code converts an out-of-range
//! double to an integer (undefined in C), the conversion here is the one the x86-64 instructions
//! GCC emits perform, so that for example `struct.pack('L', 2^64)` gives eight zero bytes as
//! Redis does.
//!
//! Format options:
//!
//! | option | meaning |
//! | --- | --- |
//! | `>` `<` | big, little endian from here on |
//! | `!n` | align fields to at most `n` bytes (a power of 2); `!` alone means 8 |
//! | `x` | one zero byte |
//! | `b`/`B`, `h`/`H`, `l`/`L`, `T` | signed/unsigned char, short, long; size_t |
//! | `i`/`I`, `in`/`In` | signed/unsigned int, or of `n` bytes (at most 32) |
//! | `f`, `d` | float, double |
//! | `cn` | `n` bytes of a string (default 1) |
//! | `c0` | packing: the whole string; unpacking: as many bytes as the previous result says |
//! | `s` | a zero-terminated string |
//! | space | ignored |
//!
//! Errors are Lua strings, as `luaL_error` and `luaL_argerror` make them: the caller's
//! `source:line: ` first, then the message (`bad argument #2 to 'unpack' (data string too
//! short)`). They are raised by a small Lua function standing in front of each Rust function,
//! because an mlua Rust callback can only raise mlua's error userdata. That function's chunk is
//! named `=struct`; an error handler that reports the script's line should step over its frame.
//! Where it is tail-called (`return struct.pack(...)`) Lua keeps no record of the caller, so such
//! an error names the function `'?'` and has no position, where Redis's has both.

use super::{arg_error, caller_position, require_base_functions, type_name};
use mlua::{Function, IntoLuaMulti, Lua, LuaString, MultiValue, Table, Value};

/// The bytes of the widest integer `i`/`I` may take, as lua-struct limits it.
const INT_SIZE_LIMIT: i32 = 32;
/// What `!` without a number aligns to: the alignment of a double on x86-64.
const DEFAULT_MAX_ALIGN: i32 = 8;
/// The stack slots a C function may use in Lua 5.1 (`LUAI_MAXCSTACK`): `struct.unpack` stops
/// with "too many results" where the C function would run out of them.
const C_STACK_SLOTS: usize = 8000;

const SIZE_CHAR: usize = 1;
const SIZE_SHORT: usize = 2;
const SIZE_INT: i32 = 4;
const SIZE_LONG: usize = 8;
const SIZE_SIZE_T: usize = 8;
const SIZE_FLOAT: usize = 4;
const SIZE_DOUBLE: usize = 8;

/// Raises a core function's failure as a plain Lua string. The core answers `true, results...`,
/// `false, message`, or, for more results than a Rust callback may return, a table holding
/// them (with their count at `n`); only the results ever reach the script.
const RAISER: &str = r#"
local error, unpack = error, unpack
return function(core)
    local function settle(status, ...)
        if status == true then
            return ...
        elseif status == false then
            error((...), 0)
        end
        return status[1], unpack(status, 2, status.n)
    end
    return function(...)
        return settle(core(...))
    end
end
"#;

/// From this many results on, `struct.unpack` hands them over in a table: a Rust callback
/// returns its values on the C stack, whose slots the arguments already share, and
/// `struct.unpack` may return up to 7998 values.
const RESULTS_IN_TABLE: usize = 512;

/// Creates the `struct` table and sets it as a global.
pub fn open(lua: &Lua) -> mlua::Result<()> {
    require_base_functions(lua, &["error", "unpack"])?;
    let raiser: Function = lua.load(RAISER).set_name("=struct").eval()?;
    let table = lua.create_table()?;
    let pack = lua.create_function(|lua, args: MultiValue| settle(lua, pack(lua, &args)))?;
    let unpack = lua.create_function(|lua, args: MultiValue| settle(lua, unpack(lua, &args)))?;
    let size = lua.create_function(|lua, args: MultiValue| settle(lua, size(lua, &args)))?;
    table.set("pack", raiser.call::<Function>(pack)?)?;
    table.set("unpack", raiser.call::<Function>(unpack)?)?;
    table.set("size", raiser.call::<Function>(size)?)?;
    lua.globals().set("struct", table)
}

/// `struct.pack(fmt, ...)`: the values laid out as `fmt` says, as one string.
fn pack(lua: &Lua, args: &MultiValue) -> Result<Answer, Failure> {
    let fmt = check_string(lua, args.front(), 1)?;
    let fmt = fmt.as_bytes();
    let mut fmt = Format::new(&fmt);
    let mut header = Header::default();
    let mut out = Vec::new();
    let mut narg = 2;
    while let Some(opt) = fmt.next_option() {
        let mut size = option_size(opt, &mut fmt)?;
        // The output so far is the offset the next field is aligned from.
        let pad = padding(out.len(), &header, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(lua, packed_arg(args, narg), narg)?;
                narg += 1;
                put_integer(&mut out, n, header.little_endian, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let n = check_number(lua, packed_arg(args, narg), narg)? as f32;
                narg += 1;
                out.extend_from_slice(&if header.little_endian {
                    n.to_le_bytes()
                } else {
                    n.to_be_bytes()
                });
            }
            b'd' => {
                let n = check_number(lua, packed_arg(args, narg), narg)?;
                narg += 1;
                out.extend_from_slice(&if header.little_endian {
                    n.to_le_bytes()
                } else {
                    n.to_be_bytes()
                });
            }
            b'c' | b's' => {
                let s = check_string(lua, packed_arg(args, narg), narg)?;
                let s = s.as_bytes();
                narg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // lua-struct names the argument after the string: it has already moved on.
                    return Err(Failure::Arg(narg, b"string too short".to_vec()));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => control_option(opt, &mut fmt, &mut header)?,
        }
    }
    Ok(Answer::Values(lua.create_string(out)?.into_lua_multi(lua)?))
}

/// `struct.unpack(fmt, s [, pos])`: the values `fmt` describes, read from `s` starting at byte
/// `pos` (1-based), then the position just past them.
fn unpack(lua: &Lua, args: &MultiValue) -> Result<Answer, Failure> {
    let fmt = check_string(lua, args.front(), 1)?;
    let fmt = fmt.as_bytes();
    let mut fmt = Format::new(&fmt);
    let data = check_string(lua, args.get(1), 2)?;
    let data = data.as_bytes();
    let len = data.len();
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1,
        Some(v) => check_integer(lua, v, 3)?,
    };
    // The C code keeps the position in a size_t: a negative start wraps around, and is then
    // refused as being past the end of the data.
    let mut pos = start as usize;
    if pos == 0 {
        return Err(Failure::Arg(3, b"offset must be 1 or greater".to_vec()));
    }
    pos -= 1;
    let mut header = Header::default();
    let mut results: Vec<Value> = Vec::new();
    while let Some(opt) = fmt.next_option() {
        let mut size = option_size(opt, &mut fmt)?;
        pos = pos.wrapping_add(padding(pos, &header, opt, size));
        if !fits(pos, size, len) {
            return Err(data_too_short());
        }
        if args.len() + results.len() + 2 > C_STACK_SLOTS {
            return Err(Failure::Error(
                b"stack overflow (too many results)".to_vec(),
            ));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = get_integer(
                    &data[pos..pos + size],
                    header.little_endian,
                    opt.is_ascii_lowercase(),
                );
                results.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let mut bytes = [0; SIZE_FLOAT];
                bytes.copy_from_slice(&data[pos..pos + size]);
                let n = if header.little_endian {
                    f32::from_le_bytes(bytes)
                } else {
                    f32::from_be_bytes(bytes)
                };
                results.push(Value::Number(f64::from(n)));
            }
            b'd' => {
                let mut bytes = [0; SIZE_DOUBLE];
                bytes.copy_from_slice(&data[pos..pos + size]);
                let n = if header.little_endian {
                    f64::from_le_bytes(bytes)
                } else {
                    f64::from_be_bytes(bytes)
                };
                results.push(Value::Number(n));
            }
            b'c' => {
                if size == 0 {
                    // The length is the previous result, which Lua may read as a number even
                    // when it is a string ("5", "0x10").
                    let previous = match results.last() {
                        Some(v) => to_number(lua, v)?,
                        None => None,
                    };
                    let Some(n) = previous else {
                        return Err(Failure::Error(
                            b"format 'c0' needs a previous size".to_vec(),
                        ));
                    };
                    size = double_to_u64(n) as usize;
                    results.pop();
                    if !fits(pos, size, len) {
                        return Err(data_too_short());
                    }
                }
                results.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(Failure::Error(b"unfinished string in data".to_vec()));
                };
                results.push(Value::String(lua.create_string(&data[pos..pos + end])?));
                size = end + 1;
            }
            _ => control_option(opt, &mut fmt, &mut header)?,
        }
        pos = pos.wrapping_add(size);
    }
    // Pushed as a lua_Integer: a position past 2^63 comes back negative, as in C.
    results.push(Value::Number(pos.wrapping_add(1) as i64 as f64));
    if results.len() < RESULTS_IN_TABLE {
        return Ok(Answer::Values(MultiValue::from_vec(results)));
    }
    let count = results.len();
    let table = lua.create_sequence_from(results)?;
    table.raw_set("n", count)?;
    Ok(Answer::Spread(table))
}

/// `struct.size(fmt)`: the bytes `struct.pack(fmt, ...)` makes. Letters and digits that are no
/// option count nothing and raise no error, as in lua-struct.
fn size(lua: &Lua, args: &MultiValue) -> Result<Answer, Failure> {
    let fmt = check_string(lua, args.front(), 1)?;
    let fmt = fmt.as_bytes();
    let mut fmt = Format::new(&fmt);
    let mut header = Header::default();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next_option() {
        let size = option_size(opt, &mut fmt)?;
        pos = pos.wrapping_add(padding(pos, &header, opt, size));
        if opt == b's' {
            return Err(Failure::Arg(1, b"option 's' has no fixed size".to_vec()));
        }
        if opt == b'c' && size == 0 {
            return Err(Failure::Arg(1, b"option 'c0' has no fixed size".to_vec()));
        }
        if !opt.is_ascii_alphanumeric() {
            control_option(opt, &mut fmt, &mut header)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(Answer::Values(
        Value::Number(pos as i64 as f64).into_lua_multi(lua)?,
    ))
}

/// The byte order and alignment in force at a point of a format.
#[derive(Debug)]
struct Header {
    little_endian: bool,
    max_align: i32,
}

impl Default for Header {
    /// lua-struct starts in the machine's byte order: little-endian here on every machine, so
    /// that a script packs the same bytes on every replica.
    fn default() -> Self {
        Header {
            little_endian: true,
            max_align: 1,
        }
    }
}

/// A format string being read. It ends at its first zero byte, as a C string does.
#[derive(Debug)]
struct Format<'a> {
    rest: &'a [u8],
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8]) -> Self {
        let end = fmt.iter().position(|&b| b == 0).unwrap_or(fmt.len());
        Format { rest: &fmt[..end] }
    }

    fn next_option(&mut self) -> Option<u8> {
        let (&first, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(first)
    }

    /// The decimal number that follows, or `default` when no digit does.
    fn number(&mut self, default: i32) -> Result<i32, Failure> {
        if !self.rest.first().is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut n: i32 = 0;
        while let Some(&b) = self.rest.first().filter(|b| b.is_ascii_digit()) {
            let digit = i32::from(b - b'0');
            if n > i32::MAX / 10 || n * 10 > i32::MAX - digit {
                return Err(Failure::Error(b"integral size overflow".to_vec()));
            }
            n = n * 10 + digit;
            self.rest = &self.rest[1..];
        }
        Ok(n)
    }
}

/// The bytes option `opt` takes (0 for those that take none, and for `s`, whose size depends on
/// the data), reading its number from the format where it has one.
fn option_size(opt: u8, fmt: &mut Format<'_>) -> Result<usize, Failure> {
    Ok(match opt {
        b'b' | b'B' | b'x' => SIZE_CHAR,
        b'h' | b'H' => SIZE_SHORT,
        b'l' | b'L' => SIZE_LONG,
        b'T' => SIZE_SIZE_T,
        b'f' => SIZE_FLOAT,
        b'd' => SIZE_DOUBLE,
        b'c' => non_negative(fmt.number(1)?),
        b'i' | b'I' => {
            let size = fmt.number(SIZE_INT)?;
            if size > INT_SIZE_LIMIT {
                return Err(Failure::Error(
                    format!("integral size {size} is larger than limit of {INT_SIZE_LIMIT}")
                        .into_bytes(),
                ));
            }
            non_negative(size)
        }
        _ => 0,
    })
}

/// A number read from a format is never negative.
fn non_negative(n: i32) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// The zero bytes that align a field of `size` bytes at offset `at`. A size that is no power of
/// 2 gives the odd padding lua-struct gives it; `c` strings are never aligned.
fn padding(at: usize, header: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let align = size.min(non_negative(header.max_align));
    align.wrapping_sub(at & (align - 1)) & (align - 1)
}

/// Options that change the byte order or alignment, and the space; anything else is refused.
fn control_option(opt: u8, fmt: &mut Format<'_>, header: &mut Header) -> Result<(), Failure> {
    match opt {
        b' ' => {}
        b'>' => header.little_endian = false,
        b'<' => header.little_endian = true,
        b'!' => {
            let align = fmt.number(DEFAULT_MAX_ALIGN)?;
            if align <= 0 || align & (align - 1) != 0 {
                return Err(Failure::Error(
                    format!("alignment {align} is not a power of 2").into_bytes(),
                ));
            }
            header.max_align = align;
        }
        _ => {
            let mut msg = b"invalid format option '".to_vec();
            msg.push(opt);
            msg.push(b'\'');
            return Err(Failure::Arg(1, msg));
        }
    }
    Ok(())
}

/// Whether `size` bytes at `pos` lie within data of `len` bytes.
fn fits(pos: usize, size: usize, len: usize) -> bool {
    size <= len && pos <= len - size
}

fn data_too_short() -> Failure {
    Failure::Arg(2, b"data string too short".to_vec())
}

/// Appends `n` as an integer of `size` bytes. The number goes through a 64-bit integer: bytes
/// past the eighth are zero, even for a negative number.
fn put_integer(out: &mut Vec<u8>, n: f64, little_endian: bool, size: usize) {
    let mut value = if n < 0.0 {
        truncate_to_i64(n) as u64
    } else {
        double_to_u64(n)
    };
    let start = out.len();
    out.resize(start + size, 0);
    let field = &mut out[start..];
    for i in 0..size {
        let at = if little_endian { i } else { size - 1 - i };
        field[at] = (value & 0xff) as u8;
        value >>= 8;
    }
}

/// Reads an integer of `bytes.len()` bytes. Only the eight least significant bytes count. The
/// sign bit is found as the C code finds it, shifting by `8 * size - 1` modulo 64 (what x86-64
/// does with an over-wide shift): an `i9` sign-extends from bit 7.
fn get_integer(bytes: &[u8], little_endian: bool, signed: bool) -> f64 {
    let fold = |acc: u64, &b: &u8| (acc << 8) | u64::from(b);
    let value = if little_endian {
        bytes.iter().rev().fold(0, fold)
    } else {
        bytes.iter().fold(0, fold)
    };
    if !signed {
        return value as f64;
    }
    let sign_shift = ((bytes.len() as u32).wrapping_mul(8)).wrapping_sub(1);
    let mask = u64::MAX.wrapping_shl(sign_shift);
    let value = if value & mask != 0 {
        value | mask
    } else {
        value
    };
    value as i64 as f64
}

/// C's conversion of a double to a 64-bit signed integer on x86-64 (`cvttsd2si`): truncation,
/// and `i64::MIN` for NaN and anything out of range.
fn truncate_to_i64(n: f64) -> i64 {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if n.is_nan() || !(-TWO_POW_63..TWO_POW_63).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// C's conversion of a double to an unsigned 64-bit integer as GCC compiles it for x86-64:
/// below 2^63 (and NaN) a signed conversion, from 2^63 up a signed conversion of `n - 2^63`
/// with the top bit flipped; so 2^64 and more give 0, NaN gives 2^63.
fn double_to_u64(n: f64) -> u64 {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if n >= TWO_POW_63 {
        (truncate_to_i64(n - TWO_POW_63) as u64) ^ (1 << 63)
    } else {
        truncate_to_i64(n) as u64
    }
}

/// An argument of `struct.pack`. The C function has pushed a nil just past its arguments, so a
/// missing one reads as nil, not as "no value".
fn packed_arg(args: &MultiValue, narg: usize) -> Option<&Value> {
    Some(args.get(narg - 1).unwrap_or(&Value::Nil))
}

/// `luaL_checklstring`: a string, or a number turned into one as Lua prints it.
fn check_string(lua: &Lua, value: Option<&Value>, narg: usize) -> Result<LuaString, Failure> {
    let converted = match value {
        Some(Value::String(s)) => Some(s.clone()),
        Some(v @ (Value::Number(_) | Value::Integer(_))) => lua.coerce_string(v.clone())?,
        _ => None,
    };
    converted.ok_or_else(|| type_error(narg, "string", value))
}

/// `luaL_checknumber`: a number, or a string Lua reads as one.
fn check_number(lua: &Lua, value: Option<&Value>, narg: usize) -> Result<f64, Failure> {
    let converted = match value {
        Some(v) => to_number(lua, v)?,
        None => None,
    };
    converted.ok_or_else(|| type_error(narg, "number", value))
}

/// `luaL_checkinteger` on Lua 5.1: the number truncated to a 64-bit integer.
fn check_integer(lua: &Lua, value: &Value, narg: usize) -> Result<i64, Failure> {
    match value {
        Value::Integer(i) => Ok(*i),
        v => match to_number(lua, v)? {
            Some(n) => Ok(truncate_to_i64(n)),
            None => Err(type_error(narg, "number", Some(value))),
        },
    }
}

/// `lua_tonumber` where `lua_isnumber` holds, else `None`.
fn to_number(lua: &Lua, value: &Value) -> Result<Option<f64>, Failure> {
    Ok(match value {
        Value::Number(n) => Some(*n),
        Value::Integer(i) => Some(*i as f64),
        v @ Value::String(_) => lua.coerce_number(v.clone())?,
        _ => None,
    })
}

/// `luaL_typerror`'s message: "number expected, got nil".
fn type_error(narg: usize, expected: &str, value: Option<&Value>) -> Failure {
    let got = type_name(value);
    Failure::Arg(narg, format!("{expected} expected, got {got}").into_bytes())
}

/// What a core function gives back.
#[derive(Debug)]
enum Answer {
    /// Its results, few enough to be returned as they are.
    Values(MultiValue),
    /// Its results in a table, their count at `n`, for the raiser to spread out.
    Spread(Table),
}

/// Why a call failed, before the message is given its position and the function its name.
#[derive(Debug)]
enum Failure {
    /// `luaL_argerror`: the argument's number and what is wrong with it.
    Arg(usize, Vec<u8>),
    /// `luaL_error`: the message.
    Error(Vec<u8>),
    /// A failure of mlua itself (memory), passed on as it is.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Failure {
    fn from(e: mlua::Error) -> Self {
        Failure::Lua(e)
    }
}

/// The answer a core function gives the raiser: `true, results...` or `false, message`.
fn settle(lua: &Lua, result: Result<Answer, Failure>) -> mlua::Result<MultiValue> {
    let msg = match result {
        Ok(Answer::Values(mut values)) => {
            values.push_front(Value::Boolean(true));
            return Ok(values);
        }
        Ok(Answer::Spread(table)) => return Value::Table(table).into_lua_multi(lua),
        Err(Failure::Lua(e)) => return Err(e),
        Err(Failure::Arg(narg, msg)) => arg_error(lua, narg, &msg),
        Err(Failure::Error(msg)) => {
            let mut full = caller_position(lua);
            full.extend_from_slice(&msg);
            full
        }
    };
    (false, lua.create_string(msg)?).into_lua_multi(lua)
}

#[cfg(test)]
mod tests {
    use super::open;
    use mlua::{FromLuaMulti, Lua, LuaString};

    /// A Lua state with `struct` opened, running chunks named as Redis names scripts.
    fn lua() -> Lua {
        let lua = Lua::new();
        open(&lua).expect("struct opens");
        lua
    }

    fn eval<T: FromLuaMulti>(lua: &Lua, code: &str) -> T {
        lua.load(code)
            .set_name("@user_script")
            .eval()
            .expect("the chunk runs")
    }

    /// The bytes of the string `expr` evaluates to.
    fn bytes(expr: &str) -> Vec<u8> {
        let lua = lua();
        let s: LuaString = eval(&lua, &format!("return {expr}"));
        s.as_bytes().to_vec()
    }

    /// The numbers `expr` evaluates to.
    fn numbers(expr: &str) -> Vec<f64> {
        let lua = lua();
        let values: mlua::Variadic<f64> = eval(&lua, &format!("return {expr}"));
        values.to_vec()
    }

    /// The error `statement` raises, caught by `pcall` around a function on line 1.
    fn error(statement: &str) -> String {
        let lua = lua();
        let code = format!(
            "local ok, e = pcall(function() {statement} end) assert(not ok, 'no error') return e"
        );
        let e: LuaString = eval(&lua, &code);
        String::from_utf8_lossy(&e.as_bytes()).into_owned()
    }

    #[test]
    fn open_sets_the_struct_global_with_its_three_functions() {
        let kinds: (String, String, String, String) = eval(
            &lua(),
            "return type(struct), type(struct.pack), type(struct.unpack), type(struct.size)",
        );
        assert_eq!(
            kinds,
            (
                "table".to_owned(),
                "function".to_owned(),
                "function".to_owned(),
                "function".to_owned()
            )
        );
    }

    #[test]
    fn open_refuses_a_state_without_the_base_library() {
        let lua = Lua::new();
        lua.globals()
            .set("unpack", mlua::Value::Nil)
            .expect("unpack removed");
        assert!(open(&lua).is_err());
    }

    #[test]
    fn pack_lays_out_integers_in_the_byte_order_asked_for() {
        assert_eq!(bytes("struct.pack('>i2<i2', 1, 1)"), [0, 1, 1, 0]);
        assert_eq!(
            bytes("struct.pack('>I4', 0xdeadbeef)"),
            [0xde, 0xad, 0xbe, 0xef]
        );
        assert_eq!(bytes("struct.pack('b', -1)"), [0xff]);
        assert_eq!(bytes("struct.pack('h', -2)"), [0xfe, 0xff]);
        assert_eq!(bytes("struct.pack('l', 1)"), [1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(bytes("struct.pack('>T', 258)"), [0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(bytes("struct.pack('i', 7)"), [7, 0, 0, 0]);
        assert_eq!(bytes("struct.pack(' > i3 ', -2)"), [0xff, 0xff, 0xfe]);
        assert_eq!(bytes("struct.pack('bxb', 1, 2)"), [1, 0, 2]);
    }

    #[test]
    fn integers_wider_than_eight_bytes_keep_only_eight_bytes_of_value() {
        let mut expected = vec![0xff; 8];
        expected.extend([0; 8]);
        assert_eq!(bytes("struct.pack('<i16', -1)"), expected);
        expected.reverse();
        assert_eq!(bytes("struct.pack('>i16', -1)"), expected);
        assert_eq!(bytes("struct.pack('<i0', 5)"), b"");
        assert_eq!(numbers("struct.unpack('<i0', '')"), [0.0, 1.0]);
        // An i9 takes its sign from bit 7, as the C shift by 71 does on x86-64.
        assert_eq!(
            numbers("struct.unpack('<i9', '\\128' .. string.rep('\\0', 8))"),
            [-128.0, 10.0]
        );
        assert_eq!(
            numbers("struct.unpack('<i10', '\\0\\128' .. string.rep('\\0', 8))"),
            [-32768.0, 11.0]
        );
        assert_eq!(
            numbers("struct.unpack('<i16', string.rep('\\255', 16))"),
            [-1.0, 17.0]
        );
    }

    #[test]
    fn numbers_out_of_integer_range_convert_as_on_x86_64() {
        assert_eq!(bytes("struct.pack('<L', 2^64)"), [0; 8]);
        assert_eq!(bytes("struct.pack('<L', 1/0)"), [0; 8]);
        assert_eq!(
            bytes("struct.pack('<L', 2^63)"),
            [0, 0, 0, 0, 0, 0, 0, 0x80]
        );
        assert_eq!(bytes("struct.pack('<L', 0/0)"), [0, 0, 0, 0, 0, 0, 0, 0x80]);
        assert_eq!(
            bytes("struct.pack('<l', -1e300)"),
            [0, 0, 0, 0, 0, 0, 0, 0x80]
        );
        assert_eq!(bytes("struct.pack('<B', 3.9)"), [3]);
        assert_eq!(bytes("struct.pack('<b', -3.9)"), [0xfd]);
    }

    #[test]
    fn unpack_reads_back_what_pack_wrote_and_the_next_position() {
        let lua = lua();
        let values: (i64, f64, String, String, f64, f64) = eval(
            &lua,
            "local s = struct.pack('>h d s c3 f', -2, 1.25, 'ab', 'xyz', 0.5)
             return struct.unpack('>h d s c3 f', s)",
        );
        assert_eq!(
            values,
            (-2, 1.25, "ab".to_owned(), "xyz".to_owned(), 0.5, 21.0)
        );
        assert_eq!(
            numbers("struct.unpack('L', string.rep('\\255', 8))"),
            [18446744073709551615.0, 9.0]
        );
        assert_eq!(
            numbers("struct.unpack('l', string.rep('\\255', 8))"),
            [-1.0, 9.0]
        );
        assert_eq!(
            numbers("struct.unpack('<f', struct.pack('<f', 0.1))"),
            [0.10000000149011612, 5.0]
        );
        assert_eq!(bytes("struct.pack('>f', 1.5)"), [0x3f, 0xc0, 0, 0]);
        assert_eq!(bytes("struct.pack('<d', -2)"), [0, 0, 0, 0, 0, 0, 0, 0xc0]);
    }

    #[test]
    fn unpack_starts_at_the_offset_given() {
        assert_eq!(numbers("struct.unpack('b', 'abc', 2)"), [98.0, 3.0]);
        assert_eq!(numbers("struct.unpack('b', 'abc', '3')"), [99.0, 4.0]);
        assert_eq!(numbers("struct.unpack('b', 'abc', 2.9)"), [98.0, 3.0]);
        assert_eq!(numbers("struct.unpack('', 'ab', 10)"), [10.0]);
        // The offset is a size_t in C: -1 wraps around and comes back as -1.
        assert_eq!(numbers("struct.unpack('', 'a', -1)"), [-1.0]);
        assert_eq!(
            numbers("struct.unpack('', 'a', 2^63)"),
            [-9223372036854775808.0]
        );
        assert_eq!(
            error("struct.unpack('<', 'ab', 10)"),
            "user_script:1: bad argument #2 to 'unpack' (data string too short)"
        );
        assert_eq!(
            error("struct.unpack('b', 'ab', 0.5)"),
            "user_script:1: bad argument #3 to 'unpack' (offset must be 1 or greater)"
        );
        assert_eq!(
            error("struct.unpack('b', 'ab', {})"),
            "user_script:1: bad argument #3 to 'unpack' (number expected, got table)"
        );
    }

    #[test]
    fn alignment_pads_fields_up_to_the_limit_set_by_bang() {
        assert_eq!(
            bytes("struct.pack('!4 b i', 1, 2)"),
            [1, 0, 0, 0, 2, 0, 0, 0]
        );
        assert_eq!(bytes("struct.pack('!2 b i', 1, 2)"), [1, 0, 2, 0, 0, 0]);
        assert_eq!(bytes("struct.pack('b i', 1, 2)"), [1, 2, 0, 0, 0]);
        assert_eq!(
            bytes("struct.pack('! b d', 1, 0)"),
            [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(numbers("struct.size('!i3d')"), [16.0]);
        assert_eq!(numbers("struct.size('!4 i3 i')"), [12.0]);
        assert_eq!(numbers("struct.size('i3!i')"), [8.0]);
        assert_eq!(numbers("struct.size('!8 b c3 d')"), [16.0]);
        assert_eq!(
            numbers("struct.unpack('!4 b i', struct.pack('!4 b i', 1, 2))"),
            [1.0, 2.0, 9.0]
        );
    }

    #[test]
    fn c_takes_a_fixed_length_or_with_zero_the_whole_string_or_the_previous_result() {
        assert_eq!(bytes("struct.pack('c0', 'abc')"), b"abc");
        assert_eq!(bytes("struct.pack('c2', 'abc')"), b"ab");
        assert_eq!(bytes("struct.pack('c', 'abc')"), b"a");
        let lua = lua();
        let counted: (String, f64) = eval(&lua, "return struct.unpack('b c0', '\\3abcd')");
        assert_eq!(counted, ("abc".to_owned(), 5.0));
        // A previous string result counts too, when Lua reads it as a number.
        let counted: (String, f64) = eval(&lua, "return struct.unpack('c1 c0', '2abc')");
        assert_eq!(counted, ("ab".to_owned(), 4.0));
        let counted: (String, f64) = eval(&lua, "return struct.unpack('c3 c0', '0x2abc')");
        assert_eq!(counted, ("ab".to_owned(), 6.0));
        assert_eq!(
            error("struct.unpack('c0', 'abc')"),
            "user_script:1: format 'c0' needs a previous size"
        );
        assert_eq!(
            error("struct.unpack('b c0', '\\9abc')"),
            "user_script:1: bad argument #2 to 'unpack' (data string too short)"
        );
        assert_eq!(
            error("struct.unpack('d c0', struct.pack('d', -1) .. 'abc')"),
            "user_script:1: bad argument #2 to 'unpack' (data string too short)"
        );
    }

    #[test]
    fn s_is_a_zero_terminated_string() {
        assert_eq!(bytes("struct.pack('s', 'ab')"), b"ab\0");
        assert_eq!(bytes("struct.pack('s', 12.5)"), b"12.5\0");
        assert_eq!(bytes("struct.pack('s', 'a\\0b')"), b"a\0b\0");
        let lua = lua();
        let read: (String, String, f64) = eval(&lua, "return struct.unpack('s s', 'ab\\0\\0x')");
        assert_eq!(read, ("ab".to_owned(), String::new(), 5.0));
        assert_eq!(
            error("struct.unpack('s', 'abc')"),
            "user_script:1: unfinished string in data"
        );
    }

    #[test]
    fn arguments_convert_as_lua_5_1_converts_them() {
        assert_eq!(bytes("struct.pack('i', '0x10')"), [16, 0, 0, 0]);
        assert_eq!(bytes("struct.pack('b', ' 7 ')"), [7]);
        assert_eq!(bytes("struct.pack('c2', 42)"), b"42");
        assert_eq!(numbers("struct.unpack('b', 1)"), [49.0, 2.0]);
        assert_eq!(numbers("struct.size(12)"), [0.0]);
        // The format ends at its first zero byte, as a C string does.
        assert_eq!(bytes("struct.pack('b\\0b', 1, 2)"), [1]);
    }

    #[test]
    fn size_counts_bytes_and_ignores_unknown_letters_and_digits() {
        assert_eq!(numbers("struct.size('bhilTfdx')"), [36.0]);
        assert_eq!(numbers("struct.size('c10 i7')"), [17.0]);
        assert_eq!(numbers("struct.size('b5zQ')"), [1.0]);
        assert_eq!(
            error("struct.size('s')"),
            "user_script:1: bad argument #1 to 'size' (option 's' has no fixed size)"
        );
        assert_eq!(
            error("struct.size('c0')"),
            "user_script:1: bad argument #1 to 'size' (option 'c0' has no fixed size)"
        );
        assert_eq!(
            error("struct.size('b#')"),
            "user_script:1: bad argument #1 to 'size' (invalid format option '#')"
        );
    }

    #[test]
    fn format_errors_carry_lua_struct_messages() {
        assert_eq!(
            error("struct.pack('z')"),
            "user_script:1: bad argument #1 to 'pack' (invalid format option 'z')"
        );
        assert_eq!(
            error("struct.pack('b5', 1)"),
            "user_script:1: bad argument #1 to 'pack' (invalid format option '5')"
        );
        assert_eq!(
            error("struct.unpack('i33', '')"),
            "user_script:1: integral size 33 is larger than limit of 32"
        );
        assert_eq!(
            error("struct.size('i99999999999')"),
            "user_script:1: integral size overflow"
        );
        assert_eq!(
            error("struct.pack('!3')"),
            "user_script:1: alignment 3 is not a power of 2"
        );
        assert_eq!(
            error("struct.pack('!0')"),
            "user_script:1: alignment 0 is not a power of 2"
        );
        assert_eq!(
            error("struct.pack('!2147483648')"),
            "user_script:1: integral size overflow"
        );
        let lua = lua();
        let raw: LuaString = eval(&lua, "local ok, e = pcall(struct.pack, '\\255') return e");
        assert_eq!(
            raw.as_bytes().to_vec(),
            b"bad argument #1 to '?' (invalid format option '\xff')".to_vec()
        );
    }

    #[test]
    fn argument_errors_name_the_argument_and_what_it_was() {
        assert_eq!(
            error("struct.pack('i')"),
            "user_script:1: bad argument #2 to 'pack' (number expected, got nil)"
        );
        assert_eq!(
            error("struct.pack('i', {})"),
            "user_script:1: bad argument #2 to 'pack' (number expected, got table)"
        );
        assert_eq!(
            error("struct.pack('bs', 1, true)"),
            "user_script:1: bad argument #3 to 'pack' (string expected, got boolean)"
        );
        // lua-struct names the argument after the short string.
        assert_eq!(
            error("struct.pack('c5', 'ab')"),
            "user_script:1: bad argument #3 to 'pack' (string too short)"
        );
        assert_eq!(
            error("struct.unpack('b')"),
            "user_script:1: bad argument #2 to 'unpack' (string expected, got no value)"
        );
        assert_eq!(
            error("struct.size()"),
            "user_script:1: bad argument #1 to 'size' (string expected, got no value)"
        );
        assert_eq!(
            error("struct.unpack('i', 'ab')"),
            "user_script:1: bad argument #2 to 'unpack' (data string too short)"
        );
    }

    #[test]
    fn errors_name_the_function_as_its_caller_called_it() {
        assert_eq!(
            error("local pk = struct.pack local x = pk('z')"),
            "user_script:1: bad argument #1 to 'pk' (invalid format option 'z')"
        );
        assert_eq!(
            error("local t = setmetatable({}, {__index = struct}) local x = t:pack(1)"),
            "user_script:1: calling 'pack' on bad self (string expected, got table)"
        );
        assert_eq!(
            error("string.pk = struct.pack local x = ('i'):pk('q')"),
            "user_script:1: bad argument #1 to 'pk' (number expected, got string)"
        );
        let lua = lua();
        let direct: String = eval(
            &lua,
            "local ok, e = pcall(struct.unpack, 'i', 'ab') return e",
        );
        assert_eq!(direct, "bad argument #2 to '?' (data string too short)");
        let in_coroutine: String = eval(
            &lua,
            "local co = coroutine.create(function()\n local x = struct.unpack('i', 'ab')\n end)
             local ok, e = coroutine.resume(co) return e",
        );
        assert_eq!(
            in_coroutine,
            "user_script:2: bad argument #2 to 'unpack' (data string too short)"
        );
        // Known difference: in a tail call Lua has no record of the caller; Redis would say
        // "user_script:1: bad argument #1 to 'pack' (...)".
        let tail: String = eval(
            &lua,
            "local ok, e = pcall(function() return struct.pack('z') end) return e",
        );
        assert_eq!(tail, "bad argument #1 to '?' (invalid format option 'z')");
    }

    #[test]
    fn unpack_returns_as_many_results_as_the_c_stack_allows() {
        let lua = lua();
        let counted: (f64, f64, f64) = eval(
            &lua,
            "local r = {struct.unpack(string.rep('b', 7997), string.rep('\\1', 7997))}
             return #r, r[7997], r[7998]",
        );
        assert_eq!(counted, (7998.0, 1.0, 7998.0));
        let few: (f64, f64) = eval(
            &lua,
            "local r = {struct.unpack(string.rep('B', 600), string.rep('\\2', 600))}
             return #r, r[600]",
        );
        assert_eq!(few, (601.0, 2.0));
        assert_eq!(
            error("struct.unpack(string.rep('b', 7998), string.rep('\\1', 7998))"),
            "user_script:1: stack overflow (too many results)"
        );
        assert_eq!(
            error("struct.unpack(string.rep('b', 7997), string.rep('\\1', 7997), 1)"),
            "user_script:1: stack overflow (too many results)"
        );
    }
}
