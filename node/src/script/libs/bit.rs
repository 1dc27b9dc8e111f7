//! The `bit` library that Redis 7.0 gives scripts: LuaBitOp 1.0.2 (`bit.tobit`, `tohex`, `bnot`,
//! `band`, `bor`, `bxor`, `lshift`, `rshift`, `arshift`, `rol`, `ror`, `bswap`), written in Rust.
//!
//! Every argument is taken modulo 2^32 as LuaBitOp takes a Lua 5.1 double: it adds 2^52 + 2^51
//! and keeps the low 32 bits of the sum. Below 2^51 in size a fraction rounds to the nearest
//! integer, ties to even; larger numbers lose low bits in the sum as they do in C
//! (`bit.tobit(2^52)` is 0); NaN and the infinities give 0. Results are signed 32-bit numbers.
//! Shift counts use their low 5 bits. Strings that Lua reads as numbers are accepted; anything
//! else is refused with "bad argument #1 to 'band' (number expected, got string)".
//!
//! One difference from Redis 7.0.15: `bit.tohex(x, -2147483648)` crashes its C code
//! (CVE-2024-31449); here it answers as Redis 7.2.6 and later do, as if the count were
//! -2147483647 (eight upper-case digits).
//!
//! Errors are Lua strings, as `luaL_argerror` makes them: the caller's `source:line: ` first.
//! They are raised by a small Lua function standing in front of each Rust function, because an
//! mlua Rust callback can only raise mlua's error userdata. That function's chunk is named
//! `=bit`; an error handler that reports the script's line should step over its frame. Where it
//! is tail-called (`return bit.band(...)`) Lua keeps no record of the caller, so such an error
//! names the function `'?'` and has no position, where Redis's has both.

use super::{arg_error, require_base_functions, type_name};
use mlua::{Function, Lua, MultiValue, Value};

/// Added to a double so that its low 32 bits land in the low word of its representation:
/// 2^52 + 2^51, as LuaBitOp does.
const TO_BITS_OFFSET: f64 = 6_755_399_441_055_744.0;

/// The digits `bit.tohex` gives when no count is passed.
const DEFAULT_HEX_DIGITS: i32 = 8;

/// Raises a core function's failure as a plain Lua string. The core answers `true, results...`
/// or `false, message`; only the first ever reaches the script.
const RAISER: &str = r#"
local error = error
return function(core)
    local function settle(ok, ...)
        if ok then
            return ...
        end
        error((...), 0)
    end
    return function(...)
        return settle(core(...))
    end
end
"#;

/// One of the library's functions: its arguments in, its 32-bit result out.
type Operation = fn(&Lua, &MultiValue) -> Result<Value, Failure>;

/// Creates the `bit` table and sets it as a global.
pub fn open(lua: &Lua) -> mlua::Result<()> {
    require_base_functions(lua, &["error"])?;
    let raiser: Function = lua.load(RAISER).set_name("=bit").eval()?;
    let table = lua.create_table()?;
    let operations: [(&str, Operation); 12] = [
        ("tobit", tobit),
        ("bnot", bnot),
        ("band", band),
        ("bor", bor),
        ("bxor", bxor),
        ("lshift", lshift),
        ("rshift", rshift),
        ("arshift", arshift),
        ("rol", rol),
        ("ror", ror),
        ("bswap", bswap),
        ("tohex", tohex),
    ];
    for (name, operation) in operations {
        let core =
            lua.create_function(move |lua, args: MultiValue| settle(lua, operation(lua, &args)))?;
        table.set(name, raiser.call::<Function>(core)?)?;
    }
    lua.globals().set("bit", table)
}

fn tobit(lua: &Lua, args: &MultiValue) -> Result<Value, Failure> {
    Ok(result(bits(lua, args, 1)?))
}

fn bnot(lua: &Lua, args: &MultiValue) -> Result<Value, Failure> {
    Ok(result(!bits(lua, args, 1)?))
}

fn band(lua: &Lua, args: &MultiValue) -> Result<Value, Failure> {
    fold(lua, args, |a, b| a & b)
}

fn bor(lua: &Lua, args: &MultiValue) -> Result<Value, Failure> {
    fold(lua, args, |a, b| a | b)
}

fn bxor(lua: &Lua, args: &MultiValue) -> Result<Value, Failure> {
    fold(lua, args, |a, b| a ^ b)
}

fn lshift(lua: &Lua, args: &MultiValue) -> Result<Value, Failure> {
    shift(lua, args, |b, n| b << n)
}

fn rshift(lua: &Lua, args: &MultiValue) -> Result<Value, Failure> {
    shift(lua, args, |b, n| b >> n)
}

fn arshift(lua: &Lua, args: &MultiValue) -> Result<Value, Failure> {
    shift(lua, args, |b, n| ((b as i32) >> n) as u32)
}

fn rol(lua: &Lua, args: &MultiValue) -> Result<Value, Failure> {
    shift(lua, args, u32::rotate_left)
}

fn ror(lua: &Lua, args: &MultiValue) -> Result<Value, Failure> {
    shift(lua, args, u32::rotate_right)
}

fn bswap(lua: &Lua, args: &MultiValue) -> Result<Value, Failure> {
    Ok(result(bits(lua, args, 1)?.swap_bytes()))
}

/// `bit.tohex(x [, n])`: the low `|n|` hex digits of `x` (at most 8), upper-case for a negative
/// `n`.
fn tohex(lua: &Lua, args: &MultiValue) -> Result<Value, Failure> {
    let mut b = bits(lua, args, 1)?;
    let mut n = if args.len() < 2 {
        DEFAULT_HEX_DIGITS
    } else {
        bits(lua, args, 2)? as i32
    };
    // -2^31 has no positive counterpart; Redis 7.2.6 made it -2^31 + 1 (CVE-2024-31449).
    if n == i32::MIN {
        n += 1;
    }
    let digits: &[u8; 16] = if n < 0 {
        n = -n;
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let count = usize::try_from(n.min(8)).unwrap_or(0);
    let mut out = vec![0; count];
    for slot in out.iter_mut().rev() {
        *slot = digits[(b & 0xf) as usize];
        b >>= 4;
    }
    Ok(Value::String(lua.create_string(out)?))
}

/// `band`, `bor`, `bxor`: the first argument, then the others from the last one back, which
/// decides which bad argument is reported first.
fn fold(lua: &Lua, args: &MultiValue, op: fn(u32, u32) -> u32) -> Result<Value, Failure> {
    let mut acc = bits(lua, args, 1)?;
    for narg in (2..=args.len()).rev() {
        acc = op(acc, bits(lua, args, narg)?);
    }
    Ok(result(acc))
}

/// The shifts and rotations: the count is the second argument's low 5 bits.
fn shift(lua: &Lua, args: &MultiValue, op: fn(u32, u32) -> u32) -> Result<Value, Failure> {
    let b = bits(lua, args, 1)?;
    let n = bits(lua, args, 2)? & 31;
    Ok(result(op(b, n)))
}

/// A result as LuaBitOp gives it: a signed 32-bit number.
fn result(b: u32) -> Value {
    Value::Number(f64::from(b as i32))
}

/// Argument `narg` (1-based) as 32 bits.
fn bits(lua: &Lua, args: &MultiValue, narg: usize) -> Result<u32, Failure> {
    let value = args.get(narg - 1);
    let n = match value {
        Some(Value::Number(n)) => Some(*n),
        Some(Value::Integer(i)) => Some(*i as f64),
        Some(v @ Value::String(_)) => lua.coerce_number(v.clone())?,
        _ => None,
    };
    match n {
        Some(n) => Ok((n + TO_BITS_OFFSET).to_bits() as u32),
        None => Err(Failure::Arg(
            narg,
            format!("number expected, got {}", type_name(value)),
        )),
    }
}

/// Why a call failed, before the message is given its position and the function its name.
#[derive(Debug)]
enum Failure {
    /// `luaL_argerror`: the argument's number and what is wrong with it.
    Arg(usize, String),
    /// A failure of mlua itself (memory), passed on as it is.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Failure {
    fn from(e: mlua::Error) -> Self {
        Failure::Lua(e)
    }
}

/// The answer a core function gives the raiser: `true, result` or `false, message`.
fn settle(lua: &Lua, result: Result<Value, Failure>) -> mlua::Result<(bool, Value)> {
    match result {
        Ok(value) => Ok((true, value)),
        Err(Failure::Lua(e)) => Err(e),
        Err(Failure::Arg(narg, msg)) => Ok((
            false,
            Value::String(lua.create_string(arg_error(lua, narg, msg.as_bytes()))?),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::open;
    use mlua::{FromLuaMulti, Lua, LuaString};

    /// A Lua state with `bit` opened, running chunks named as Redis names scripts.
    fn lua() -> Lua {
        let lua = Lua::new();
        open(&lua).expect("bit opens");
        lua
    }

    fn eval<T: FromLuaMulti>(lua: &Lua, code: &str) -> T {
        lua.load(code)
            .set_name("@user_script")
            .eval()
            .expect("the chunk runs")
    }

    /// The number `expr` evaluates to.
    fn number(expr: &str) -> f64 {
        eval(&lua(), &format!("return {expr}"))
    }

    /// The string `expr` evaluates to.
    fn string(expr: &str) -> String {
        let lua = lua();
        let s: LuaString = eval(&lua, &format!("return {expr}"));
        String::from_utf8_lossy(&s.as_bytes()).into_owned()
    }

    /// The error `statement` raises, caught by `pcall` around a function on line 1.
    fn error(statement: &str) -> String {
        string(&format!(
            "select(2, pcall(function() {statement} end)) or 'no error'"
        ))
    }

    #[test]
    fn open_sets_the_bit_global_with_its_twelve_functions() {
        let count: f64 = eval(
            &lua(),
            "local n = 0
             for _, name in ipairs({'tobit', 'tohex', 'bnot', 'band', 'bor', 'bxor', 'lshift',
                                    'rshift', 'arshift', 'rol', 'ror', 'bswap'}) do
                 if type(bit[name]) == 'function' then n = n + 1 end
             end
             return n",
        );
        assert_eq!(count, 12.0);
    }

    #[test]
    fn open_refuses_a_state_without_the_base_library() {
        let lua = Lua::new();
        lua.globals()
            .set("error", mlua::Value::Nil)
            .expect("error removed");
        assert!(open(&lua).is_err());
    }

    /// Redis's "EVAL - Verify minimal bitop functionality".
    #[test]
    fn redis_minimal_bitop_functionality_holds() {
        let ok: bool = eval(
            &lua(),
            "assert(bit.tobit(1) == 1);
             assert(bit.band(1) == 1);
             assert(bit.bxor(1,2) == 3);
             assert(bit.bor(1,2,4,8,16,32,64,128) == 255)
             return true",
        );
        assert!(ok);
    }

    #[test]
    fn tobit_takes_numbers_modulo_2_pow_32_as_signed() {
        assert_eq!(number("bit.tobit(2^32 + 5)"), 5.0);
        assert_eq!(number("bit.tobit(2^31)"), -2147483648.0);
        assert_eq!(number("bit.tobit(-2^31 - 1)"), 2147483647.0);
        assert_eq!(number("bit.tobit(0xffffffff)"), -1.0);
        assert_eq!(number("bit.tobit(-1e300)"), -2013235812.0);
        assert_eq!(number("bit.tobit(' 0x10 ')"), 16.0);
    }

    #[test]
    fn tobit_rounds_fractions_to_even_and_gives_zero_for_nan_and_infinity() {
        assert_eq!(number("bit.tobit(1.5)"), 2.0);
        assert_eq!(number("bit.tobit(2.5)"), 2.0);
        assert_eq!(number("bit.tobit(-0.5)"), 0.0);
        assert_eq!(number("bit.tobit(-1.5)"), -2.0);
        assert_eq!(number("bit.tobit(4294967295.5)"), 0.0);
        assert_eq!(number("bit.tobit(0/0)"), 0.0);
        assert_eq!(number("bit.tobit(1/0)"), 0.0);
        assert_eq!(number("bit.tobit(2^52)"), 0.0);
        assert_eq!(number("bit.tobit(2^53 - 1)"), 0.0);
    }

    #[test]
    fn logic_operations_combine_all_their_arguments() {
        assert_eq!(number("bit.bnot(0)"), -1.0);
        assert_eq!(number("bit.bnot(0x0f0f0f0f)"), -252645136.0);
        assert_eq!(number("bit.band(-1, 0xf0f0f0f0, 0xff00ff00)"), -268374016.0);
        assert_eq!(number("bit.band(0xff, '0x0f')"), 15.0);
        assert_eq!(number("bit.bor(1, 2, 4)"), 7.0);
        assert_eq!(number("bit.bxor(1, 2, 3)"), 0.0);
        assert_eq!(number("bit.bxor(0x80000000, 0)"), -2147483648.0);
    }

    #[test]
    fn shifts_use_the_low_five_bits_of_the_count() {
        assert_eq!(number("bit.lshift(1, 31)"), -2147483648.0);
        assert_eq!(number("bit.lshift(1, 32)"), 1.0);
        assert_eq!(number("bit.lshift(3, -1)"), -2147483648.0);
        assert_eq!(number("bit.rshift(-256, 4)"), 268435440.0);
        assert_eq!(number("bit.rshift(0x80000000, 31)"), 1.0);
        assert_eq!(number("bit.arshift(-256, 4)"), -16.0);
        assert_eq!(number("bit.arshift(0x80000000, 31)"), -1.0);
        assert_eq!(number("bit.rol(0x12345678, 0)"), 305419896.0);
        assert_eq!(number("bit.rol(0x80000001, 1)"), 3.0);
        assert_eq!(number("bit.ror(1, 1)"), -2147483648.0);
        assert_eq!(number("bit.ror(0x12345678, 36)"), -2128394905.0);
    }

    #[test]
    fn bswap_reverses_the_four_bytes() {
        assert_eq!(number("bit.bswap(0x12345678)"), 2018915346.0);
        assert_eq!(number("bit.bswap(1)"), 16777216.0);
        assert_eq!(number("bit.bswap(-1)"), -1.0);
    }

    #[test]
    fn tohex_gives_as_many_digits_as_asked_upper_case_for_a_negative_count() {
        assert_eq!(string("bit.tohex(-1)"), "ffffffff");
        assert_eq!(string("bit.tohex(255, 2)"), "ff");
        assert_eq!(string("bit.tohex(255, -3)"), "0FF");
        assert_eq!(string("bit.tohex(255, 9)"), "000000ff");
        assert_eq!(string("bit.tohex(255, 0)"), "");
        assert_eq!(string("bit.tohex(0x1234abcd, -4)"), "ABCD");
        assert_eq!(string("bit.tohex('0x10')"), "00000010");
        assert_eq!(string("bit.tohex(1, 2, {})"), "01");
    }

    /// Redis 7.2.6's "lua bit.tohex bug" (CVE-2024-31449), where 7.0.15 crashes.
    #[test]
    fn tohex_with_the_most_negative_count_gives_eight_upper_case_digits() {
        assert_eq!(string("bit.tohex(65535, -2147483648)"), "0000FFFF");
    }

    #[test]
    fn bad_arguments_are_refused_as_lua_refuses_them() {
        assert_eq!(
            error("bit.band(1, 'a')"),
            "user_script:1: bad argument #2 to 'band' (number expected, got string)"
        );
        assert_eq!(
            error("bit.lshift(1)"),
            "user_script:1: bad argument #2 to 'lshift' (number expected, got no value)"
        );
        assert_eq!(
            error("bit.band()"),
            "user_script:1: bad argument #1 to 'band' (number expected, got no value)"
        );
        assert_eq!(
            error("bit.bnot(true)"),
            "user_script:1: bad argument #1 to 'bnot' (number expected, got boolean)"
        );
        assert_eq!(
            error("bit.tohex(1, nil)"),
            "user_script:1: bad argument #2 to 'tohex' (number expected, got nil)"
        );
        // LuaBitOp reads the first argument, then the others from the last one back.
        assert_eq!(
            error("bit.bor(1, 'a', {})"),
            "user_script:1: bad argument #3 to 'bor' (number expected, got table)"
        );
        assert_eq!(
            error("bit.bor(1, 2, 'x', nil)"),
            "user_script:1: bad argument #4 to 'bor' (number expected, got nil)"
        );
        // Arguments past those an operation reads are not checked.
        assert_eq!(number("bit.tobit(1, 'x')"), 1.0);
    }

    #[test]
    fn errors_name_the_function_as_its_caller_called_it() {
        assert_eq!(
            error("local f = bit.rol local x = f('q', 1)"),
            "user_script:1: bad argument #1 to 'f' (number expected, got string)"
        );
        assert_eq!(
            error("local t = {f = bit.band} local x = t:f(1, 'a')"),
            "user_script:1: calling 'f' on bad self (number expected, got table)"
        );
        // In a method call the object is not counted: band's second argument is "#1".
        assert_eq!(
            error("string.bb = bit.band local x = ('1'):bb('q')"),
            "user_script:1: bad argument #1 to 'bb' (number expected, got string)"
        );
        assert_eq!(
            string("select(2, pcall(bit.bxor, 1, {}))"),
            "bad argument #2 to '?' (number expected, got table)"
        );
        // Known difference: in a tail call Lua has no record of the caller; Redis would say
        // "user_script:1: bad argument #1 to 'band' (...)".
        assert_eq!(
            string("select(2, pcall(function() return bit.band('a') end))"),
            "bad argument #1 to '?' (number expected, got string)"
        );
    }
}
