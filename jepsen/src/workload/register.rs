//! Registers: clients GET one of a few keys, SET it to a unique value (half the time), and
//! GET it again: the read-modify-write pattern that makes a write follow what its
//! connection saw. Checked by [`lww`](super::lww): the surviving value agrees with HLC
//! order, nothing acknowledged is lost, and every connection reads its writes and reads
//! monotonically.

use super::Verdict;
use super::lww::Register;
use crate::client::Client;
use crate::history::Call;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const KEYS: u64 = 5;
const PREFIX: &str = "jepsen-register-";

pub fn step(c: &mut Client<'_>) {
    let key = format!("{PREFIX}{}", c.rng.range(0, KEYS));
    let read = |c: &mut Client<'_>| {
        c.call(
            "read",
            json!({ "key": key }),
            |k| redis::cmd("GET").arg(&key).query::<Option<String>>(k),
            |v| json!({ "key": key, "value": v }),
        )
    };
    read(c);
    if c.rng.range(0, 2) == 0 {
        let value = c.unique();
        let asked = json!({ "key": key, "value": value });
        c.call(
            "write",
            asked.clone(),
            |k| redis::cmd("SET").arg(&key).arg(&value).query::<()>(k),
            |_| asked,
        );
        read(c);
    }
}

pub fn read_final(conn: &mut redis::Connection) -> redis::RedisResult<Value> {
    let mut out = Map::new();
    for key in super::keys(conn, &format!("{PREFIX}*"))? {
        let v: Option<String> = redis::cmd("GET").arg(&key).query(conn)?;
        out.insert(key, json!(v));
    }
    Ok(Value::Object(out))
}

pub fn check(calls: &[Call], finals: &[(String, Value)], slack_ms: f64, v: &mut Verdict) {
    super::count(v, calls, "write");
    super::count(v, calls, "read");
    let mut registers: BTreeMap<&str, Register<'_>> = BTreeMap::new();
    for c in calls {
        let key = super::field(&c.asked, "key");
        let r = registers.entry(key).or_default();
        match c.f.as_str() {
            "write" => r
                .writes
                .push((c, Some(super::field(&c.asked, "value").to_string()))),
            "read" if c.ok() => r.reads.push((c, value(&c.seen["value"]))),
            _ => {}
        }
    }
    let Some((_, last)) = finals.first() else {
        return;
    };
    for (key, r) in registers.iter_mut() {
        let end = value(&last[*key]);
        r.check(key, end.as_deref(), slack_ms, v);
    }
}

fn value(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}
