//! TTLs: clients SET keys with a PX expiry, SET keys without one, and PERSIST some of their
//! keys that have one. Once the faults are healed and the longest TTL has passed, every
//! region must hold exactly the keys that should outlive it: an acknowledged SET without
//! expiry (lost if absent), and an acknowledged PERSIST that removed a TTL; a key with an
//! expiry that nothing persisted must be gone everywhere. A SET or PERSIST with a lost
//! reply may go either way.

use super::Verdict;
use crate::client::{Client, Reply};
use crate::history::Call;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

const PREFIX: &str = "jepsen-ttl-";
pub const TTL_MAX_MS: u64 = 1500;
const TTL_MIN_MS: u64 = 200;

pub fn run(c: &mut Client<'_>) {
    // This client's keys with an expiry, acknowledged, not yet persisted.
    let mut expiring: Vec<String> = Vec::new();
    while !c.stopped() {
        match c.rng.range(0, 10) {
            0..4 => {
                let key = format!("{PREFIX}{}", c.unique());
                let ttl = c.rng.range(TTL_MIN_MS, TTL_MAX_MS);
                let asked = json!({ "key": key, "px": ttl });
                let reply = c.call(
                    "set",
                    asked.clone(),
                    |k| {
                        redis::cmd("SET")
                            .arg(&key)
                            .arg(&key)
                            .arg("PX")
                            .arg(ttl)
                            .query::<()>(k)
                    },
                    |_| asked,
                );
                if matches!(reply, Some(Reply::Ok(()))) {
                    expiring.push(key);
                }
            }
            4..8 => {
                let key = format!("{PREFIX}{}", c.unique());
                let asked = json!({ "key": key });
                c.call(
                    "set",
                    asked.clone(),
                    |k| redis::cmd("SET").arg(&key).arg(&key).query::<()>(k),
                    |_| asked,
                );
            }
            _ => {
                let Some(key) = expiring.pop() else { continue };
                c.call(
                    "persist",
                    json!({ "key": key }),
                    |k| redis::cmd("PERSIST").arg(&key).query::<i64>(k),
                    |n| json!({ "key": key, "persisted": n }),
                );
            }
        }
    }
}

pub fn read_final(conn: &mut redis::Connection) -> redis::RedisResult<Value> {
    let mut out = Map::new();
    for key in super::keys(conn, &format!("{PREFIX}*"))? {
        let v: Option<String> = redis::cmd("GET").arg(&key).query(conn)?;
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query(conn)?;
        out.insert(key, json!({ "value": v, "pttl": ttl }));
    }
    Ok(Value::Object(out))
}

pub fn check(calls: &[Call], finals: &[(String, Value)], v: &mut Verdict) {
    for f in ["set", "persist"] {
        super::count(v, calls, f);
    }
    // Per key: its SET, and its PERSIST if one was made.
    let mut sets: HashMap<&str, &Call> = HashMap::new();
    let mut persists: HashMap<&str, &Call> = HashMap::new();
    for c in calls {
        let key = super::field(&c.asked, "key");
        match c.f.as_str() {
            "set" => {
                sets.insert(key, c);
            }
            "persist" => {
                persists.insert(key, c);
            }
            _ => {}
        }
    }
    for (region, last) in finals {
        let empty = Map::new();
        let keys = last.as_object().unwrap_or(&empty);
        let mut expired = 0u64;
        for (key, set) in &sets {
            let held = keys.get(*key);
            let expiring = set.asked.get("px").is_some();
            // Whether it must be there (Some(true)), must be gone (Some(false)), or either.
            let must = match (expiring, persists.get(key)) {
                (false, _) => set.ok().then_some(true),
                (true, None) => Some(false),
                (true, Some(p)) => match (p.outcome, p.seen["persisted"].as_i64()) {
                    ("ok", Some(1)) => Some(true),
                    ("ok", _) | ("fail", _) => Some(false),
                    _ => None,
                },
            };
            match (must, held) {
                (Some(true), None) => v.anomaly(format!(
                    "{region}: {key} is gone, but it was set{} without an expiry (lost)",
                    if expiring { " and persisted" } else { "" }
                )),
                (Some(false), Some(h)) => v.anomaly(format!(
                    "{region}: {key} outlived its {} ms TTL: {h}",
                    set.asked["px"]
                )),
                (_, Some(h)) if h["value"].as_str() != Some(key) || h["pttl"] != json!(-1) => v
                    .anomaly(format!(
                        "{region}: {key} holds {h}, not its name without expiry"
                    )),
                _ => {}
            }
            if expiring && held.is_none() {
                expired += 1;
            }
        }
        for key in keys.keys() {
            if !sets.get(key.as_str()).is_some_and(|s| s.maybe()) {
                v.anomaly(format!("{region}: {key} exists, but was never set"));
            }
        }
        v.stat(&format!("expired_{region}"), expired);
        v.stat(&format!("kept_{region}"), keys.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::super::Workload;
    use super::super::fake::{call, finals};
    use serde_json::json;

    #[test]
    fn the_ttl_checker_finds_keys_that_outlive_their_ttl_and_lost_persistent_keys() {
        let set_px = call(
            "0",
            "set",
            json!({ "key": "t1", "px": 500 }),
            "ok",
            json!(null),
            (0.0, 1.0),
        );
        let set = call(
            "0",
            "set",
            json!({ "key": "t2" }),
            "ok",
            json!(null),
            (0.0, 1.0),
        );
        let kept = json!({ "value": "t2", "pttl": -1 });
        let check = |calls: &[crate::history::Call], end: serde_json::Value| {
            Workload::Ttl.check(calls, &finals(end), 0.0)
        };
        let calls = [set_px.clone(), set.clone()];
        assert!(check(&calls, json!({ "t2": kept })).valid);
        let v = check(&calls, json!({}));
        assert!(v.anomalies[0].contains("t2 is gone"), "{v:?}");
        let v = check(
            &calls,
            json!({ "t1": { "value": "t1", "pttl": -1 }, "t2": kept }),
        );
        assert!(v.anomalies[0].contains("outlived"), "{v:?}");
        let persisted = json!({ "key": "t1", "persisted": 1 });
        let persist = call(
            "0",
            "persist",
            json!({ "key": "t1" }),
            "ok",
            persisted,
            (2.0, 3.0),
        );
        let v = check(&[set_px, set, persist], json!({ "t2": kept }));
        assert!(v.anomalies[0].contains("t1 is gone"), "{v:?}");
    }
}
