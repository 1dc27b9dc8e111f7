//! `cjson.encode`: a Lua value into JSON text, walking tables without recursion.

use super::{
    C_STACK_SLOTS, Config, Fail, Res, Scratch, Shared, arg_error, c_double_to_i32, fail, lock,
    type_name,
};
use crate::cnum::format_g;
use mlua::{Lua, MultiValue, Table, Value};

pub(super) fn encode(lua: &Lua, shared: &Shared, args: MultiValue) -> Res<MultiValue> {
    if args.len() != 1 {
        return Err(arg_error(lua, 1, b"expected 1 argument"));
    }
    let value = args.into_iter().next().unwrap_or(Value::Nil);
    // Nothing stays locked while Lua runs: a finalizer could call cjson again.
    let (cfg, mut scratch, mut buf) = {
        let mut state = lock(shared);
        let buf = if state.cfg.keep_buffer != 0 {
            std::mem::take(&mut state.buf)
        } else {
            Vec::new()
        };
        (state.cfg, std::mem::take(&mut state.scratch), buf)
    };
    buf.clear();
    let mut encoder = Encoder {
        lua,
        cfg: &cfg,
        out: &mut buf,
        levels: std::mem::take(&mut scratch.levels),
        depth: 0,
        slots: 1, // the argument
        pending: None,
        pending_top: 0,
        pending_used: 0,
        scratch: &mut scratch,
    };
    let encoded = encoder.run(value);
    let used = encoder.pending_used;
    scratch.levels = encoder.levels;
    let released = scratch.release(used);
    let result = match encoded {
        Ok(()) => released
            .and_then(|()| lua.create_string(&buf))
            .map_err(Fail::from),
        Err(e) => Err(e),
    };
    let mut state = lock(shared);
    state.scratch = scratch;
    if cfg.keep_buffer != 0 && state.cfg.keep_buffer != 0 {
        if buf.capacity() > (1 << 16) && buf.len() < buf.capacity() / 4 {
            buf.shrink_to(buf.len().max(1 << 16));
        }
        state.buf = buf;
    }
    drop(state);
    Ok(MultiValue::from_iter([Value::String(result?)]))
}

/// A table key as read: a number, a string (escaped, a range of `Level::text`), or a key of
/// another type (its type name), which cannot be written.
#[derive(Debug, Clone, Copy)]
enum Key {
    Number(f64),
    Str(usize, usize),
    Bad(&'static str),
}

/// A table value as read: written already (a range of `Level::text`), a table to write when
/// its turn comes (its slot among the pending tables), or an error to raise then.
#[derive(Debug)]
enum Val {
    Text(usize, usize),
    Table(i64),
    Error(String),
}

#[derive(Debug)]
struct Entry {
    key: Key,
    val: Val,
}

/// A table being written: its entries, read in one pass in `next` order (sorted by index for
/// an array), and how far writing them has gone.
#[derive(Debug, Default)]
pub(super) struct Level {
    entries: Vec<Entry>,
    text: Vec<u8>,
    /// The array's length, or 0 for an object.
    array_len: i32,
    /// Array: the next index to write; object: the next entry.
    cursor: i64,
    /// Array: the next entry to match against the index.
    next_entry: usize,
    /// Where this table's pending tables start.
    pending_base: i64,
}

impl Level {
    /// The bytes its buffers hold (see `Scratch::release`).
    pub(super) fn held_bytes(&self) -> usize {
        self.text.capacity() + self.entries.capacity() * std::mem::size_of::<Entry>()
    }

    /// The stack slots lua-cjson holds at this level while it writes an element: the value,
    /// or the key and the value.
    fn slots(&self) -> usize {
        if self.array_len > 0 { 1 } else { 2 }
    }
}

/// What to do after writing some of a table.
enum Step {
    Descend(i64),
    Close,
}

struct Encoder<'a> {
    lua: &'a Lua,
    cfg: &'a Config,
    out: &'a mut Vec<u8>,
    /// `levels[..depth]` are the tables being written, outermost first (deeper ones are kept
    /// for their allocations).
    levels: Vec<Level>,
    depth: usize,
    slots: usize,
    /// The tables met as values and not written yet wait here, in a Lua table (no mlua
    /// reference is held per table, however many there are).
    pending: Option<Table>,
    pending_top: i64,
    /// The highest slot of `pending` used, to clear them all at the end.
    pending_used: i64,
    scratch: &'a mut Scratch,
}

impl Encoder<'_> {
    /// Writes `root` depth first, as lua-cjson does, so the first error met is the one it
    /// reports. Iterative: deep nesting holds no native stack.
    fn run(&mut self, root: Value) -> Res<()> {
        let Value::Table(table) = root else {
            return scalar(self.out, &root, self.cfg).map_err(fail);
        };
        self.open(table)?;
        while self.depth > 0 {
            let step = self.write_some()?;
            match step {
                Step::Descend(slot) => {
                    let table = match &self.pending {
                        Some(pending) => pending.raw_get::<Table>(slot)?,
                        None => return Err(Fail::Lua(mlua::Error::runtime("cjson: lost table"))),
                    };
                    self.open(table)?;
                }
                Step::Close => {
                    self.depth -= 1;
                    let level = &self.levels[self.depth];
                    self.out.push(if level.array_len > 0 { b']' } else { b'}' });
                    self.pending_top = level.pending_base;
                    if let Some(parent) = self.depth.checked_sub(1) {
                        self.slots -= self.levels[parent].slots();
                    }
                }
            }
        }
        Ok(())
    }

    /// Starts writing `table`: checks the nesting, reads its entries, decides array or object.
    fn open(&mut self, table: Table) -> Res<()> {
        let depth = self.depth + 1;
        if let Some(parent) = self.depth.checked_sub(1) {
            self.slots += self.levels[parent].slots();
        }
        if depth > usize::try_from(self.cfg.encode_max_depth).unwrap_or(0)
            || self.slots + 3 > C_STACK_SLOTS
        {
            return Err(fail(format!(
                "Cannot serialise, excessive nesting ({depth})"
            )));
        }
        if self.levels.len() < depth {
            self.levels.push(Level::default());
        }
        let cfg = self.cfg;
        let lua = self.lua;
        let mut level = std::mem::take(&mut self.levels[depth - 1]);
        level.entries.clear();
        level.text.clear();
        level.pending_base = self.pending_top;
        let pending = match &self.pending {
            Some(t) => t.clone(),
            None => self.pending.insert(self.scratch.holding(lua)?).clone(),
        };
        // lua-cjson's array test: every key a positive integer; the largest is kept in a C
        // `int` (a key beyond its range stores INT_MIN there, as x86-64 converts it).
        let mut array = true;
        let mut max: i32 = 0;
        let mut items: i32 = 0;
        let mut top = self.pending_top;
        let mut stopped = false;
        let Level { entries, text, .. } = &mut level;
        let pass = table.for_each::<Value, Value>(|k, v| {
            let key = match k {
                Value::Integer(i) => Key::Number(i as f64),
                Value::Number(n) => Key::Number(n),
                Value::String(s) => {
                    let start = text.len();
                    write_string(text, &s.as_bytes());
                    Key::Str(start, text.len())
                }
                other => Key::Bad(type_name(&other)),
            };
            if array {
                match key {
                    Key::Number(k) if k != 0.0 && k.floor() == k && k >= 1.0 => {
                        if k > f64::from(max) {
                            max = c_double_to_i32(k);
                        }
                        items = items.wrapping_add(1);
                    }
                    _ => array = false,
                }
            }
            let val = match v {
                Value::Table(t) => {
                    top += 1;
                    pending.raw_set(top, t)?;
                    Val::Table(top)
                }
                other => {
                    let start = text.len();
                    match scalar(text, &other, cfg) {
                        Ok(()) => Val::Text(start, text.len()),
                        Err(msg) => Val::Error(msg),
                    }
                }
            };
            entries.push(Entry { key, val });
            if let Key::Bad(_) = key {
                // Writing the object stops at this key: the rest is never needed.
                stopped = true;
                return Err(mlua::Error::runtime(String::new()));
            }
            Ok(())
        });
        self.pending_used = self.pending_used.max(top);
        match pass {
            Err(_) if stopped => {}
            Err(e) => return Err(e.into()),
            Ok(()) => {}
        }
        self.pending_top = top;
        if array
            && cfg.sparse_ratio > 0
            && max > items.wrapping_mul(cfg.sparse_ratio)
            && max > cfg.sparse_safe
        {
            if cfg.sparse_convert == 0 {
                return Err(fail("Cannot serialise table: excessively sparse array"));
            }
            array = false;
        }
        if array && max > 0 {
            level.array_len = max;
            level.entries.sort_unstable_by(|a, b| match (a.key, b.key) {
                (Key::Number(x), Key::Number(y)) => x.total_cmp(&y),
                _ => std::cmp::Ordering::Equal,
            });
            level.cursor = 1;
            level.next_entry = 0;
            self.out.push(b'[');
        } else {
            level.array_len = 0;
            level.cursor = 0;
            self.out.push(b'{');
        }
        self.levels[depth - 1] = level;
        self.depth = depth;
        Ok(())
    }

    /// Writes the innermost table's entries until one is a table or the table is done.
    fn write_some(&mut self) -> Res<Step> {
        let level = &mut self.levels[self.depth - 1];
        let out = &mut *self.out;
        if level.array_len > 0 {
            while level.cursor <= i64::from(level.array_len) {
                let index = level.cursor;
                if index > 1 {
                    out.push(b',');
                }
                level.cursor += 1;
                let entry = level.entries.get(level.next_entry);
                let Some(entry) =
                    entry.filter(|e| matches!(e.key, Key::Number(k) if k == index as f64))
                else {
                    out.extend_from_slice(b"null");
                    continue;
                };
                level.next_entry += 1;
                match &entry.val {
                    Val::Text(a, b) => out.extend_from_slice(&level.text[*a..*b]),
                    Val::Table(slot) => return Ok(Step::Descend(*slot)),
                    Val::Error(msg) => return Err(fail(msg.as_str())),
                }
            }
            return Ok(Step::Close);
        }
        while let Some(entry) = usize::try_from(level.cursor)
            .ok()
            .and_then(|i| level.entries.get(i))
        {
            if level.cursor > 0 {
                out.push(b',');
            }
            level.cursor += 1;
            match entry.key {
                Key::Number(n) => {
                    out.push(b'"');
                    number(out, n, self.cfg).map_err(fail)?;
                    out.extend_from_slice(b"\":");
                }
                Key::Str(a, b) => {
                    out.extend_from_slice(&level.text[a..b]);
                    out.push(b':');
                }
                Key::Bad(type_name) => {
                    return Err(fail(format!(
                        "Cannot serialise {type_name}: table key must be a number or string"
                    )));
                }
            }
            match &entry.val {
                Val::Text(a, b) => out.extend_from_slice(&level.text[*a..*b]),
                Val::Table(slot) => return Ok(Step::Descend(*slot)),
                Val::Error(msg) => return Err(fail(msg.as_str())),
            }
        }
        Ok(Step::Close)
    }
}

/// Writes a value that is not a table, or gives lua-cjson's error for it.
fn scalar(out: &mut Vec<u8>, v: &Value, cfg: &Config) -> Result<(), String> {
    match v {
        Value::String(s) => write_string(out, &s.as_bytes()),
        Value::Integer(i) => number(out, *i as f64, cfg)?,
        Value::Number(n) => number(out, *n, cfg)?,
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                type_name(other)
            ));
        }
    }
    Ok(())
}

fn number(out: &mut Vec<u8>, n: f64, cfg: &Config) -> Result<(), String> {
    if !n.is_finite() {
        match cfg.encode_invalid_numbers {
            0 => return Err("Cannot serialise number: must not be NaN or Inf".to_owned()),
            1 => {
                if n.is_nan() {
                    out.extend_from_slice(b"nan");
                    return Ok(());
                }
            }
            _ => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    let precision = usize::try_from(cfg.number_precision).unwrap_or(14);
    format_g(out, n, precision);
    Ok(())
}

/// A JSON string as lua-cjson writes it: `"`, `\` and `/` escaped, control characters and DEL
/// as `\b \t \n \f \r` or `\u00xx`, every other byte as it is.
fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'/' => b"\\/",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0x00..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s[start..i]);
        start = i + 1;
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
    }
    out.extend_from_slice(&s[start..]);
    out.push(b'"');
}
