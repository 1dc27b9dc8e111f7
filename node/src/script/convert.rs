//! Replies into Lua values (what `redis.call` returns) and Lua values into replies (what a
//! script returns), by Redis 7.0's rules for RESP2 and RESP3 (`redis.setresp`), on Lua's
//! stack: a script's every command passes through here, and mlua's values would cost a
//! reference each (see [`super::native`]).

// Lua's C API. Each function says what it needs of the stack; none raises a Lua error
// (the state has no memory limit, so an allocation fails only by aborting).
#![allow(unsafe_code)]

use super::errors::COUNTED;
use crate::reply::Reply;
use bytes::Bytes;
use mlua::ffi::{self, lua_State};
use std::os::raw::c_int;

/// How deep a script's returned tables are followed (Redis: the Lua stack's limit).
const DEPTH_MAX: usize = 1000;

/// Push `bytes` as a Lua string.
///
/// # Safety
/// `state` is a live Lua state with a free stack slot.
#[inline]
pub(super) unsafe fn push_bytes(state: *mut lua_State, bytes: &[u8]) {
    unsafe { ffi::lua_pushlstring(state, bytes.as_ptr().cast(), bytes.len()) };
}

/// The string at `idx` (which must be a string: a number would be changed in place).
///
/// # Safety
/// `state` is a live Lua state and the value at `idx` is a string; the slice lives as long
/// as that value stays on the stack.
#[inline]
pub(super) unsafe fn string_at<'a>(state: *mut lua_State, idx: c_int) -> &'a [u8] {
    let mut len = 0;
    unsafe {
        let p = ffi::lua_tolstring(state, idx, &mut len);
        std::slice::from_raw_parts(p.cast(), len)
    }
}

/// Push a table of `items` (KEYS, ARGV): 1, 2, ... as Lua strings.
///
/// # Safety
/// `state` is a live Lua state with two free stack slots.
pub(super) unsafe fn push_strings(state: *mut lua_State, items: &[Bytes]) {
    unsafe {
        ffi::lua_createtable(state, items.len().try_into().unwrap_or(c_int::MAX), 0);
        for (i, b) in items.iter().enumerate() {
            push_bytes(state, b);
            ffi::lua_rawseti(state, -2, i as i64 + 1);
        }
    }
}

/// Push `{err = text}` (CR and LF trimmed at either end), with Redis's field saying the
/// error was counted when `counted`.
///
/// # Safety
/// `state` is a live Lua state with three free stack slots.
pub(super) unsafe fn push_error_table(state: *mut lua_State, text: &str, counted: bool) {
    unsafe {
        ffi::lua_createtable(state, 0, 2);
        set_named(state, "err", |st| {
            push_bytes(st, text.trim_matches(['\r', '\n']).as_bytes())
        });
        if counted {
            set_named(state, COUNTED, |st| ffi::lua_pushboolean(st, 1));
        }
    }
}

/// Set field `name` of the table on top of the stack to what `push` pushes.
///
/// # Safety
/// `state` is a live Lua state with a table on top and two free stack slots besides what
/// `push` needs.
#[inline]
pub(super) unsafe fn set_named(
    state: *mut lua_State,
    name: &str,
    push: impl FnOnce(*mut lua_State),
) {
    unsafe {
        push_bytes(state, name.as_bytes());
        push(state);
        ffi::lua_rawset(state, -3);
    }
}

/// Push a command's reply as `redis.call` returns it, under protocol `resp` (2 or 3). An
/// error is `Err(text)`, nothing pushed, for the caller to raise or return as an error
/// table; an error inside an array or map is its error table.
///
/// # Safety
/// `state` is a live Lua state with four free stack slots.
pub(super) unsafe fn push_reply(
    state: *mut lua_State,
    reply: Reply,
    resp: u8,
) -> Result<(), String> {
    // Each nesting level needs a few slots of its own.
    if unsafe { ffi::lua_checkstack(state, 4) } == 0 {
        return Err("ERR reached lua stack limit".into());
    }
    unsafe {
        match reply {
            Reply::Error(e) => return Err(e),
            Reply::Status(s) => single(state, "ok", |st| push_bytes(st, s.as_bytes())),
            Reply::StatusText(s) => single(state, "ok", |st| push_bytes(st, s.as_bytes())),
            Reply::Int(i) => ffi::lua_pushnumber(state, i as f64),
            Reply::Bulk(b) | Reply::Text(b) | Reply::Verbatim(_, b) if resp < 3 => {
                push_bytes(state, &b)
            }
            Reply::Bulk(b) => push_bytes(state, &b),
            Reply::Value(b) => push_bytes(state, &b[..]),
            Reply::Text(t) => verbatim(state, b"txt", &t),
            Reply::Verbatim(format, t) => verbatim(state, &format, &t),
            Reply::Nil | Reply::NilArray if resp < 3 => ffi::lua_pushboolean(state, 0),
            Reply::Nil | Reply::NilArray => ffi::lua_pushnil(state),
            Reply::Bool(b) if resp < 3 => ffi::lua_pushnumber(state, if b { 1.0 } else { 0.0 }),
            Reply::Bool(b) => ffi::lua_pushboolean(state, c_int::from(b)),
            Reply::Double(d) if resp < 3 => {
                push_bytes(state, crate::reply::format_double(d).as_bytes())
            }
            Reply::Double(d) => single(state, "double", |st| ffi::lua_pushnumber(st, d)),
            Reply::DoubleText(t) if resp < 3 => push_bytes(state, t.as_bytes()),
            Reply::DoubleText(t) => single(state, "double", |st| {
                ffi::lua_pushnumber(st, t.parse().unwrap_or(0.0))
            }),
            Reply::BigNumber(n) if resp < 3 => push_bytes(state, n.as_bytes()),
            Reply::BigNumber(n) => single(state, "big_number", |st| push_bytes(st, n.as_bytes())),
            Reply::Bulks(items) => array(state, items.into_iter().map(Reply::Value), resp),
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) | Reply::Many(items)
                if resp < 3 =>
            {
                array(state, items.into_iter(), resp)
            }
            Reply::Array(items) | Reply::Push(items) | Reply::Many(items) => {
                array(state, items.into_iter(), resp)
            }
            Reply::Set(items) => single(state, "set", |st| {
                ffi::lua_createtable(st, 0, items.len().try_into().unwrap_or(c_int::MAX));
                for it in items {
                    if push_reply(st, it, resp).is_ok() {
                        ffi::lua_pushboolean(st, 1);
                        set_field(st);
                    }
                }
            }),
            Reply::Map(pairs) if resp < 3 => {
                let flat: Vec<Reply> = pairs.into_iter().flat_map(|(k, v)| [k, v]).collect();
                array(state, flat.into_iter(), resp)
            }
            Reply::Map(pairs) => single(state, "map", |st| {
                ffi::lua_createtable(st, 0, pairs.len().try_into().unwrap_or(c_int::MAX));
                for (k, v) in pairs {
                    if push_reply(st, k, resp).is_err() {
                        ffi::lua_pushnil(st);
                    }
                    element(st, v, resp);
                    set_field(st);
                }
            }),
            Reply::Silence | Reply::Block { .. } => ffi::lua_pushboolean(state, 0),
        }
    }
    Ok(())
}

/// Set key (at -2) to value (at -1) in the table below them, and pop both; a nil key (a
/// RESP3 null) is left out, as a table cannot hold it.
unsafe fn set_field(state: *mut lua_State) {
    unsafe {
        if ffi::lua_type(state, -2) == ffi::LUA_TNIL {
            ffi::lua_pop(state, 2);
        } else {
            ffi::lua_rawset(state, -3);
        }
    }
}

/// Push an element of an array or map: an error inside is its error table.
unsafe fn element(state: *mut lua_State, reply: Reply, resp: u8) {
    unsafe {
        if let Err(e) = push_reply(state, reply, resp) {
            single(state, "err", |st| push_bytes(st, e.as_bytes()));
        }
    }
}

unsafe fn array(state: *mut lua_State, items: impl ExactSizeIterator<Item = Reply>, resp: u8) {
    unsafe {
        ffi::lua_createtable(state, items.len().try_into().unwrap_or(c_int::MAX), 0);
        for (i, it) in items.enumerate() {
            element(state, it, resp);
            ffi::lua_rawseti(state, -2, i as i64 + 1);
        }
    }
}

/// Push `{field = v}`, `v` pushed by `push`.
unsafe fn single(state: *mut lua_State, field: &str, push: impl FnOnce(*mut lua_State)) {
    unsafe {
        ffi::lua_createtable(state, 0, 1);
        set_named(state, field, push);
    }
}

unsafe fn verbatim(state: *mut lua_State, format: &[u8], text: &[u8]) {
    unsafe {
        single(state, "verbatim_string", |st| {
            ffi::lua_createtable(st, 0, 2);
            set_named(st, "format", |st| push_bytes(st, format));
            set_named(st, "string", |st| push_bytes(st, text));
        });
    }
}

/// The value at `idx`, a script's return value, as the reply; `resp` is the script's
/// protocol (its `redis.setresp`).
///
/// # Safety
/// `state` is a live Lua state and `idx` a valid index.
pub(super) unsafe fn reply_at(state: *mut lua_State, idx: c_int, resp: u8) -> Reply {
    unsafe { to_reply(state, ffi::lua_absindex(state, idx), resp, 0) }
}

unsafe fn to_reply(state: *mut lua_State, idx: c_int, resp: u8, depth: usize) -> Reply {
    if depth > DEPTH_MAX || unsafe { ffi::lua_checkstack(state, 4) } == 0 {
        return Reply::err("ERR reached lua stack limit");
    }
    unsafe {
        match ffi::lua_type(state, idx) {
            ffi::LUA_TSTRING => Reply::Bulk(Bytes::copy_from_slice(string_at(state, idx))),
            ffi::LUA_TBOOLEAN if resp >= 3 => Reply::Bool(ffi::lua_toboolean(state, idx) != 0),
            ffi::LUA_TBOOLEAN if ffi::lua_toboolean(state, idx) != 0 => Reply::Int(1),
            ffi::LUA_TBOOLEAN => Reply::Nil,
            // Redis casts to a C long long: the fraction goes, and out of range saturates.
            ffi::LUA_TNUMBER => Reply::Int(ffi::lua_tonumber(state, idx) as i64),
            ffi::LUA_TTABLE => table_to_reply(state, idx, resp, depth),
            _ => Reply::Nil,
        }
    }
}

/// Push field `name` of the table at `t` (absolute); its type.
unsafe fn field(state: *mut lua_State, t: c_int, name: &str) -> c_int {
    unsafe {
        push_bytes(state, name.as_bytes());
        ffi::lua_rawget(state, t);
        ffi::lua_type(state, -1)
    }
}

/// Field `name` of the table at `t` if it is a string (lossy UTF-8).
unsafe fn string_field(state: *mut lua_State, t: c_int, name: &str) -> Option<String> {
    unsafe {
        let s = (field(state, t, name) == ffi::LUA_TSTRING)
            .then(|| String::from_utf8_lossy(string_at(state, -1)).into_owned());
        ffi::lua_pop(state, 1);
        s
    }
}

/// Call `f` with the stack indices of each key and value of the table on top of the stack,
/// then pop the table.
unsafe fn drain_pairs(state: *mut lua_State, mut f: impl FnMut(c_int, c_int)) {
    unsafe {
        let t = ffi::lua_gettop(state);
        ffi::lua_pushnil(state);
        while ffi::lua_next(state, t) != 0 {
            f(t + 1, t + 2);
            ffi::lua_pop(state, 1);
        }
        ffi::lua_pop(state, 1);
    }
}

unsafe fn table_to_reply(state: *mut lua_State, t: c_int, resp: u8, depth: usize) -> Reply {
    unsafe {
        if let Some(e) = string_field(state, t, "err") {
            return Reply::Error(e);
        }
        if let Some(ok) = string_field(state, t, "ok") {
            return Reply::StatusText(ok);
        }
        if field(state, t, "double") == ffi::LUA_TNUMBER {
            let d = ffi::lua_tonumber(state, -1);
            ffi::lua_pop(state, 1);
            return Reply::Double(d);
        }
        ffi::lua_pop(state, 1);
        if let Some(n) = string_field(state, t, "big_number") {
            return Reply::BigNumber(n.replace(['\r', '\n'], " "));
        }
        if field(state, t, "verbatim_string") == ffi::LUA_TTABLE {
            let v = ffi::lua_gettop(state);
            let mut found = None;
            if field(state, v, "format") == ffi::LUA_TSTRING
                && field(state, v, "string") == ffi::LUA_TSTRING
            {
                let mut f = [b' '; 3];
                for (i, b) in string_at(state, -2).iter().take(3).enumerate() {
                    f[i] = *b;
                }
                found = Some(Reply::Verbatim(
                    f,
                    Bytes::copy_from_slice(string_at(state, -1)),
                ));
            }
            ffi::lua_settop(state, v - 1);
            if let Some(found) = found {
                return found;
            }
        } else {
            ffi::lua_pop(state, 1);
        }
        if field(state, t, "map") == ffi::LUA_TTABLE {
            let mut pairs = Vec::new();
            drain_pairs(state, |k, v| {
                pairs.push((
                    to_reply(state, k, resp, depth + 1),
                    to_reply(state, v, resp, depth + 1),
                ))
            });
            return Reply::Map(pairs);
        }
        ffi::lua_pop(state, 1);
        if field(state, t, "set") == ffi::LUA_TTABLE {
            let mut items = Vec::new();
            drain_pairs(state, |k, _| {
                items.push(to_reply(state, k, resp, depth + 1))
            });
            return Reply::Set(items);
        }
        ffi::lua_pop(state, 1);
        // An array: 1, 2, ... up to the first nil.
        let mut items = Vec::new();
        for i in 1.. {
            ffi::lua_rawgeti(state, t, i);
            if ffi::lua_type(state, -1) == ffi::LUA_TNIL {
                ffi::lua_pop(state, 1);
                break;
            }
            items.push(to_reply(state, ffi::lua_gettop(state), resp, depth + 1));
            ffi::lua_pop(state, 1);
        }
        Reply::Array(items)
    }
}
