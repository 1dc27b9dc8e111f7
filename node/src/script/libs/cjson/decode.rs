//! `cjson.decode`: JSON text into Lua values, building tables without recursion.

use super::{
    C_STACK_SLOTS, Fail, Res, Scratch, Shared, arg_error, check_string, fail, give_back_scratch,
    null, take_scratch,
};
use crate::cnum::strtod;
use mlua::{Lua, MultiValue, Table, Value};

pub(super) fn decode(lua: &Lua, shared: &Shared, args: MultiValue) -> Res<MultiValue> {
    if args.len() != 1 {
        return Err(arg_error(lua, 1, b"expected 1 argument"));
    }
    let arg = args.into_iter().next().unwrap_or(Value::Nil);
    let text = check_string(lua, &arg, 1)?;
    let bytes = text.as_bytes();
    let data: &[u8] = &bytes;
    // Only the first character is sure to be ASCII; a NUL among the first two means UTF-16/32.
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(fail("JSON parser does not support UTF-16 or UTF-32"));
    }
    let (cfg, mut scratch) = take_scratch(shared);
    let mut decoder = Decoder {
        lua,
        data,
        pos: 0,
        text: std::mem::take(&mut scratch.text),
        invalid_numbers: cfg.decode_invalid_numbers != 0,
        max_depth: usize::try_from(cfg.decode_max_depth).unwrap_or(0),
        frames: std::mem::take(&mut scratch.frames),
        depth: 0,
        outer: None,
        outer_used: 0,
    };
    let result = decoder.run(&mut scratch);
    let used = decoder.outer_used;
    scratch.text = decoder.text;
    scratch.frames = decoder.frames;
    let released = scratch.release(used);
    give_back_scratch(shared, scratch);
    let value = result?;
    released?;
    Ok(MultiValue::from_iter([value]))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    /// A string, its bytes in `Decoder::text`.
    Str,
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    /// How a parse error names what it found.
    fn found(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Number(_) => "T_NUMBER",
            Tok::Boolean(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(what) => what,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Token {
    tok: Tok,
    /// Where it starts (or where its error is), from 0.
    index: usize,
}

/// A container being filled: an array with the index of its next element, or an object with
/// the key of the value being read.
#[derive(Debug, Default)]
pub(super) struct DecodeFrame {
    object: bool,
    index: i64,
    key: Vec<u8>,
}

impl DecodeFrame {
    /// The bytes its buffer holds (see `Scratch::release`).
    pub(super) fn held_bytes(&self) -> usize {
        self.key.capacity()
    }

    /// The stack slots lua-cjson holds at this level: the table, and an object's key.
    fn slots(&self) -> usize {
        if self.object { 2 } else { 1 }
    }
}

/// A value read and not stored yet (a string's bytes are in `Decoder::text`).
enum Pending {
    Text,
    Number(f64),
    Boolean(bool),
    Null,
    Table(Table),
}

struct Decoder<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    pos: usize,
    /// The last string token's bytes.
    text: Vec<u8>,
    invalid_numbers: bool,
    max_depth: usize,
    /// `frames[..depth]` are the containers being filled, outermost first (deeper ones are kept
    /// for their allocations).
    frames: Vec<DecodeFrame>,
    depth: usize,
    /// The containers around the one being filled wait here (`outer[d]` at depth d).
    outer: Option<Table>,
    outer_used: i64,
}

/// Stores `value` at `key` in `table`. Strings that are valid UTF-8 (nearly all) are pushed
/// straight from Rust; others are made into Lua strings first.
fn store<K: mlua::IntoLua>(
    lua: &Lua,
    table: &Table,
    key: K,
    value: Pending,
    text: &[u8],
) -> mlua::Result<()> {
    match value {
        Pending::Text => match std::str::from_utf8(text) {
            Ok(s) => table.raw_set(key, s),
            Err(_) => table.raw_set(key, lua.create_string(text)?),
        },
        Pending::Number(n) => table.raw_set(key, n),
        Pending::Boolean(b) => table.raw_set(key, b),
        Pending::Null => table.raw_set(key, Value::LightUserData(null())),
        Pending::Table(t) => table.raw_set(key, t),
    }
}

/// A count printed with C's `%d` from a wider integer: its low 32 bits.
fn c_int(n: usize) -> i32 {
    n as u32 as i32
}

impl Decoder<'_> {
    /// The byte at `i`; 0 past the end, as the C string's terminator reads (a NUL inside the
    /// text ends it as well, as in lua-cjson).
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, i: usize, word: &[u8]) -> bool {
        self.data.get(i..i + word.len()) == Some(word)
    }

    fn starts_with_ignore_case(&self, i: usize, word: &[u8]) -> bool {
        self.data
            .get(i..i + word.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(word))
    }

    fn parse_error(&self, expected: &str, token: &Token) -> Fail {
        fail(format!(
            "Expected {expected} but found {} at character {}",
            token.tok.found(),
            c_int(token.index + 1)
        ))
    }

    /// Reads the document. Values are built depth first, as lua-cjson builds them; the
    /// container being filled is `current`, the ones around it wait in a Lua table (`outer`).
    fn run(&mut self, scratch: &mut Scratch) -> Res<Value> {
        let lua = self.lua;
        let mut slots = 1; // the argument
        let mut current: Option<Table> = None;
        let mut token = self.next_token();
        loop {
            let mut value = match token.tok {
                Tok::Str => Pending::Text,
                Tok::Number(n) => Pending::Number(n),
                Tok::Boolean(b) => Pending::Boolean(b),
                Tok::Null => Pending::Null,
                Tok::ObjBegin | Tok::ArrBegin => {
                    let object = token.tok == Tok::ObjBegin;
                    let depth = self.depth + 1;
                    let needed = if object { 3 } else { 2 };
                    if depth > self.max_depth || slots + needed > C_STACK_SLOTS {
                        return Err(fail(format!(
                            "Found too many nested data structures ({}) at character {}",
                            c_int(depth),
                            c_int(self.pos)
                        )));
                    }
                    let table = lua.create_table()?;
                    token = self.next_token();
                    let closer = if object { Tok::ObjEnd } else { Tok::ArrEnd };
                    if token.tok == closer {
                        Pending::Table(table)
                    } else {
                        if self.frames.len() < depth {
                            self.frames.push(DecodeFrame::default());
                        }
                        if object {
                            self.object_key(&token, depth - 1)?;
                            token = self.next_token();
                        }
                        let frame = &mut self.frames[depth - 1];
                        frame.object = object;
                        frame.index = 1;
                        slots += frame.slots();
                        if let Some(parent) = current.replace(table) {
                            let outer = match &self.outer {
                                Some(t) => t,
                                None => self.outer.insert(scratch.holding(lua)?),
                            };
                            let level = i64::try_from(self.depth).unwrap_or(i64::MAX);
                            outer.raw_set(level, parent)?;
                            self.outer_used = self.outer_used.max(level);
                        }
                        self.depth = depth;
                        continue;
                    }
                }
                _ => return Err(self.parse_error("value", &token)),
            };
            // Store the value in its container; close the containers that end here.
            loop {
                let (Some(depth), Some(table)) = (self.depth.checked_sub(1), current.as_ref())
                else {
                    let value = match value {
                        Pending::Text => Value::String(lua.create_string(&self.text)?),
                        Pending::Number(n) => Value::Number(n),
                        Pending::Boolean(b) => Value::Boolean(b),
                        Pending::Null => Value::LightUserData(null()),
                        Pending::Table(t) => Value::Table(t),
                    };
                    let end = self.next_token();
                    if end.tok != Tok::End {
                        return Err(self.parse_error("the end", &end));
                    }
                    return Ok(value);
                };
                let frame = &self.frames[depth];
                if frame.object {
                    match std::str::from_utf8(&frame.key) {
                        Ok(k) => store(lua, table, k, value, &self.text)?,
                        Err(_) => {
                            let k = lua.create_string(&frame.key)?;
                            store(lua, table, k, value, &self.text)?;
                        }
                    }
                    let after = self.next_token();
                    match after.tok {
                        Tok::ObjEnd => {}
                        Tok::Comma => {
                            let next = self.next_token();
                            self.object_key(&next, depth)?;
                            token = self.next_token();
                            break;
                        }
                        _ => return Err(self.parse_error("comma or object end", &after)),
                    }
                } else {
                    store(lua, table, frame.index, value, &self.text)?;
                    let after = self.next_token();
                    match after.tok {
                        Tok::ArrEnd => {}
                        Tok::Comma => {
                            self.frames[depth].index += 1;
                            token = self.next_token();
                            break;
                        }
                        _ => return Err(self.parse_error("comma or array end", &after)),
                    }
                }
                // The container is complete: it becomes the value to store in its parent.
                slots -= self.frames[depth].slots();
                self.depth = depth;
                value = match current.take() {
                    Some(t) => Pending::Table(t),
                    None => Pending::Null,
                };
                if let (true, Some(outer)) = (depth > 0, &self.outer) {
                    let level = i64::try_from(depth).unwrap_or(i64::MAX);
                    current = Some(outer.raw_get(level)?);
                }
            }
        }
    }

    /// An object's key (the string `token`), kept in `frames[frame]`, and the colon after it.
    fn object_key(&mut self, token: &Token, frame: usize) -> Res<()> {
        if token.tok != Tok::Str {
            return Err(self.parse_error("object key string", token));
        }
        let key = &mut self.frames[frame].key;
        key.clear();
        key.extend_from_slice(&self.text);
        let colon = self.next_token();
        if colon.tok != Tok::Colon {
            return Err(self.parse_error("colon", &colon));
        }
        Ok(())
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let single = |tok| Token { tok, index };
        let tok = match self.at(index) {
            0 => return single(Tok::End),
            b'{' => Tok::ObjBegin,
            b'}' => Tok::ObjEnd,
            b'[' => Tok::ArrBegin,
            b']' => Tok::ArrEnd,
            b',' => Tok::Comma,
            b':' => Tok::Colon,
            b'"' => return self.string_token(),
            b'-' | b'0'..=b'9' => {
                if !self.invalid_numbers && self.is_invalid_number() {
                    return single(Tok::Error("invalid number"));
                }
                return self.number_token();
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                if self.starts_with(index, b"true") {
                    self.pos += 4;
                    return single(Tok::Boolean(true));
                }
                if self.starts_with(index, b"false") {
                    self.pos += 5;
                    return single(Tok::Boolean(false));
                }
                if self.starts_with(index, b"null") {
                    self.pos += 4;
                    return single(Tok::Null);
                }
                if self.invalid_numbers && self.is_invalid_number() {
                    return self.number_token();
                }
                return single(Tok::Error("invalid token"));
            }
            _ => return single(Tok::Error("invalid token")),
        };
        self.pos += 1;
        single(tok)
    }

    /// lua-cjson's test for what strict JSON refuses but `strtod` reads: a leading `+`,
    /// hexadecimal, leading zeros, infinity and NaN.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        match self.at(p) {
            b'+' => return true,
            b'-' => p += 1,
            _ => {}
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        // A signed char: bytes from 0x80 compare below '9'.
        if c <= b'9' || c >= 0x80 {
            return false;
        }
        self.starts_with_ignore_case(p, b"inf") || self.starts_with_ignore_case(p, b"nan")
    }

    fn number_token(&mut self) -> Token {
        let index = self.pos;
        match strtod(self.data, index) {
            Some((n, end)) => {
                self.pos = end;
                Token {
                    tok: Tok::Number(n),
                    index,
                }
            }
            None => Token {
                tok: Tok::Error("invalid number"),
                index,
            },
        }
    }

    fn string_token(&mut self) -> Token {
        let error = |index, what| Token {
            tok: Tok::Error(what),
            index,
        };
        let index = self.pos;
        self.pos += 1;
        self.text.clear();
        loop {
            let c = self.at(self.pos);
            match c {
                b'"' => break,
                0 => return error(self.pos, "unexpected end of string"),
                b'\\' => {
                    let translated = match self.at(self.pos + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 0x0c,
                        b'r' => b'\r',
                        b'u' => {
                            if !self.unicode_escape() {
                                return error(self.pos, "invalid unicode escape code");
                            }
                            continue;
                        }
                        _ => return error(self.pos, "invalid escape code"),
                    };
                    self.text.push(translated);
                    self.pos += 2;
                }
                _ => {
                    // Copy the run of plain bytes at once.
                    let start = self.pos;
                    let run = self.data[start..]
                        .iter()
                        .position(|&b| matches!(b, b'"' | b'\\' | 0))
                        .unwrap_or(self.data.len() - start);
                    self.text.extend_from_slice(&self.data[start..start + run]);
                    self.pos += run;
                }
            }
        }
        self.pos += 1;
        Token {
            tok: Tok::Str,
            index,
        }
    }

    fn hex4(&self, i: usize) -> Option<u32> {
        let mut v = 0;
        for k in 0..4 {
            let d = char::from(self.at(i + k)).to_digit(16)?;
            v = (v << 4) | d;
        }
        Some(v)
    }

    /// `\uXXXX` at `pos` (a UTF-16 code unit, or a surrogate pair as two escapes) appended to
    /// the string as UTF-8; false when it is not a valid escape.
    fn unicode_escape(&mut self) -> bool {
        let Some(mut code) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if code & 0xf800 == 0xd800 {
            // A surrogate: it must be a high one, followed by an escaped low one.
            if code & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xfc00 != 0xdc00 {
                return false;
            }
            code = (((code & 0x3ff) << 10) | (low & 0x3ff)) + 0x10000;
            len = 12;
        }
        let mut utf8 = [0u8; 4];
        let n = if code < 0x80 {
            utf8[0] = code as u8;
            1
        } else if code < 0x800 {
            utf8[0] = 0xc0 | (code >> 6) as u8;
            utf8[1] = 0x80 | (code & 0x3f) as u8;
            2
        } else if code < 0x10000 {
            utf8[0] = 0xe0 | (code >> 12) as u8;
            utf8[1] = 0x80 | ((code >> 6) & 0x3f) as u8;
            utf8[2] = 0x80 | (code & 0x3f) as u8;
            3
        } else {
            utf8[0] = 0xf0 | (code >> 18) as u8;
            utf8[1] = 0x80 | ((code >> 12) & 0x3f) as u8;
            utf8[2] = 0x80 | ((code >> 6) & 0x3f) as u8;
            utf8[3] = 0x80 | (code & 0x3f) as u8;
            4
        };
        self.text.extend_from_slice(&utf8[..n]);
        self.pos += len;
        true
    }
}
