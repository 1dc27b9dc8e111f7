//! Hash fields: clients HSET fields of one hash to unique values, HDEL them, and HGETALL.
//! Each field is checked as a register ([`lww`](super::lww)), with deletes: add wins over
//! a concurrent HDEL, and a field its own connection deleted never comes back.

use super::Verdict;
use super::lww::Register;
use crate::client::Client;
use crate::history::Call;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

pub const KEY: &str = "jepsen-hash";
const FIELDS: u64 = 6;

pub fn step(c: &mut Client<'_>) {
    let field = format!("f{}", c.rng.range(0, FIELDS));
    match c.rng.range(0, 10) {
        0..4 => {
            let value = c.unique();
            let asked = json!({ "field": field, "value": value });
            c.call(
                "write",
                asked.clone(),
                |k| {
                    redis::cmd("HSET")
                        .arg(KEY)
                        .arg(&field)
                        .arg(&value)
                        .query::<i64>(k)
                },
                |_| asked,
            );
        }
        4 => {
            let asked = json!({ "field": field });
            c.call(
                "delete",
                asked.clone(),
                |k| redis::cmd("HDEL").arg(KEY).arg(&field).query::<i64>(k),
                |_| asked,
            );
        }
        _ => {
            c.call(
                "read",
                json!(null),
                |k| {
                    redis::cmd("HGETALL")
                        .arg(KEY)
                        .query::<HashMap<String, String>>(k)
                },
                |m| json!(m),
            );
        }
    }
}

pub fn read_final(conn: &mut redis::Connection) -> redis::RedisResult<Value> {
    let m: BTreeMap<String, String> = redis::cmd("HGETALL").arg(KEY).query(conn)?;
    Ok(json!(m))
}

pub fn check(calls: &[Call], finals: &[(String, Value)], slack_ms: f64, v: &mut Verdict) {
    for f in ["write", "delete", "read"] {
        super::count(v, calls, f);
    }
    let mut fields: BTreeMap<String, Register<'_>> = BTreeMap::new();
    for i in 0..FIELDS {
        fields.insert(format!("f{i}"), Register::default());
    }
    for c in calls {
        match c.f.as_str() {
            "write" | "delete" => {
                if let Some(r) = fields.get_mut(super::field(&c.asked, "field")) {
                    let value = (c.f == "write").then(|| super::field(&c.asked, "value").into());
                    r.writes.push((c, value));
                }
            }
            "read" if c.ok() => {
                let seen = c.seen.as_object().cloned().unwrap_or_else(Map::new);
                for (name, r) in fields.iter_mut() {
                    let value = seen.get(name).and_then(Value::as_str).map(str::to_string);
                    r.reads.push((c, value));
                }
            }
            _ => {}
        }
    }
    let Some((_, last)) = finals.first() else {
        return;
    };
    for (name, r) in fields.iter_mut() {
        r.check(&format!("{KEY}.{name}"), last[name].as_str(), slack_ms, v);
    }
}
