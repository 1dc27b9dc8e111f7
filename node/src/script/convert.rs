//! Replies into Lua values (what `redis.call` returns) and Lua values into replies (what a
//! script returns), by Redis 7.0's rules for RESP2 and RESP3 (`redis.setresp`).

use crate::reply::Reply;
use mlua::{Lua, Table, Value};

/// How deep a script's returned tables are followed (Redis: the Lua stack's limit).
const DEPTH_MAX: usize = 1000;

/// A command's reply as `redis.call` returns it, under protocol `resp` (2 or 3). An error
/// is `Err(text)`, for the caller to raise or return as an error table.
pub fn reply_to_lua(lua: &Lua, reply: Reply, resp: u8) -> mlua::Result<Result<Value, String>> {
    Ok(Ok(match reply {
        Reply::Error(e) => return Ok(Err(e)),
        Reply::Status(s) => single(lua, "ok", Value::String(lua.create_string(s)?))?,
        Reply::StatusText(s) => single(lua, "ok", Value::String(lua.create_string(s)?))?,
        Reply::Int(i) => Value::Number(i as f64),
        Reply::Bulk(b) | Reply::Text(b) | Reply::Verbatim(_, b) if resp < 3 => {
            Value::String(lua.create_string(&b)?)
        }
        Reply::Bulk(b) => Value::String(lua.create_string(&b)?),
        Reply::Value(b) => Value::String(lua.create_string(&b[..])?),
        Reply::Text(t) => verbatim(lua, b"txt", &t)?,
        Reply::Verbatim(format, t) => verbatim(lua, &format, &t)?,
        Reply::Nil | Reply::NilArray if resp < 3 => Value::Boolean(false),
        Reply::Nil | Reply::NilArray => Value::Nil,
        Reply::Bool(b) if resp < 3 => Value::Number(if b { 1.0 } else { 0.0 }),
        Reply::Bool(b) => Value::Boolean(b),
        Reply::Double(d) if resp < 3 => {
            Value::String(lua.create_string(crate::reply::format_double(d))?)
        }
        Reply::Double(d) => single(lua, "double", Value::Number(d))?,
        Reply::DoubleText(t) if resp < 3 => Value::String(lua.create_string(t)?),
        Reply::DoubleText(t) => single(lua, "double", Value::Number(t.parse().unwrap_or(0.0)))?,
        Reply::BigNumber(n) if resp < 3 => Value::String(lua.create_string(n)?),
        Reply::BigNumber(n) => single(lua, "big_number", Value::String(lua.create_string(n)?))?,
        Reply::Bulks(items) => array(lua, items.into_iter().map(Reply::Value).collect(), resp)?,
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) | Reply::Many(items)
            if resp < 3 =>
        {
            array(lua, items, resp)?
        }
        Reply::Array(items) | Reply::Push(items) | Reply::Many(items) => array(lua, items, resp)?,
        Reply::Set(items) => {
            let set = lua.create_table()?;
            for it in items {
                if let Ok(v) = reply_to_lua(lua, it, resp)? {
                    set.raw_set(v, true)?;
                }
            }
            single(lua, "set", Value::Table(set))?
        }
        Reply::Map(pairs) if resp < 3 => array(
            lua,
            pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            resp,
        )?,
        Reply::Map(pairs) => {
            let map = lua.create_table()?;
            for (k, v) in pairs {
                let k = reply_to_lua(lua, k, resp)?.unwrap_or(Value::Nil);
                let v = element(lua, v, resp)?;
                if !k.is_nil() {
                    map.raw_set(k, v)?;
                }
            }
            single(lua, "map", Value::Table(map))?
        }
        Reply::Silence | Reply::Block { .. } => Value::Boolean(false),
    }))
}

/// An element of an array or map: an error inside is its error table.
fn element(lua: &Lua, reply: Reply, resp: u8) -> mlua::Result<Value> {
    Ok(match reply_to_lua(lua, reply, resp)? {
        Ok(v) => v,
        Err(e) => single(lua, "err", Value::String(lua.create_string(e)?))?,
    })
}

fn array(lua: &Lua, items: Vec<Reply>, resp: u8) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, it) in items.into_iter().enumerate() {
        t.raw_set(i + 1, element(lua, it, resp)?)?;
    }
    Ok(Value::Table(t))
}

fn single(lua: &Lua, field: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(field, v)?;
    Ok(Value::Table(t))
}

fn verbatim(lua: &Lua, format: &[u8], text: &[u8]) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 2)?;
    t.raw_set("format", lua.create_string(format)?)?;
    t.raw_set("string", lua.create_string(text)?)?;
    single(lua, "verbatim_string", Value::Table(t))
}

/// A script's return value as the reply, `resp` being the script's protocol (its
/// `redis.setresp`).
pub fn lua_to_reply(v: &Value, resp: u8) -> Reply {
    to_reply(v, resp, 0)
}

fn to_reply(v: &Value, resp: u8, depth: usize) -> Reply {
    if depth > DEPTH_MAX {
        return Reply::err("ERR reached lua stack limit");
    }
    match v {
        Value::String(s) => Reply::Bulk(bytes::Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) if resp >= 3 => Reply::Bool(*b),
        Value::Boolean(true) => Reply::Int(1),
        Value::Boolean(false) => Reply::Nil,
        // Redis casts to a C long long: the fraction goes, and out of range saturates.
        Value::Number(n) => Reply::Int(*n as i64),
        Value::Integer(i) => Reply::Int(*i),
        Value::Table(t) => table_to_reply(t, resp, depth),
        _ => Reply::Nil,
    }
}

fn table_to_reply(t: &Table, resp: u8, depth: usize) -> Reply {
    let field = |name: &str| t.raw_get::<Value>(name).unwrap_or(Value::Nil);
    if let Value::String(e) = field("err") {
        let text = String::from_utf8_lossy(&e.as_bytes()).into_owned();
        return Reply::Error(text);
    }
    if let Value::String(ok) = field("ok") {
        return Reply::StatusText(String::from_utf8_lossy(&ok.as_bytes()).into_owned());
    }
    if let Value::Number(d) = field("double") {
        return Reply::Double(d);
    }
    if let Value::Integer(d) = field("double") {
        return Reply::Double(d as f64);
    }
    if let Value::String(n) = field("big_number") {
        let text = String::from_utf8_lossy(&n.as_bytes()).replace(['\r', '\n'], " ");
        return Reply::BigNumber(text);
    }
    if let Value::Table(v) = field("verbatim_string") {
        if let (Ok(Value::String(format)), Ok(Value::String(text))) =
            (v.raw_get::<Value>("format"), v.raw_get::<Value>("string"))
        {
            let mut f = [b' '; 3];
            for (i, b) in format.as_bytes().iter().take(3).enumerate() {
                f[i] = *b;
            }
            return Reply::Verbatim(f, bytes::Bytes::copy_from_slice(&text.as_bytes()));
        }
    }
    if let Value::Table(m) = field("map") {
        let pairs = m
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, v)| (to_reply(&k, resp, depth + 1), to_reply(&v, resp, depth + 1)))
            .collect();
        return Reply::Map(pairs);
    }
    if let Value::Table(s) = field("set") {
        let items = s
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| to_reply(&k, resp, depth + 1))
            .collect();
        return Reply::Set(items);
    }
    // An array: 1, 2, ... up to the first nil.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(to_reply(&v, resp, depth + 1)),
        }
    }
    Reply::Array(items)
}
