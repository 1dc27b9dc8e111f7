//! Sets, checked set-full style: clients SADD unique elements, SREM some of their own
//! acknowledged ones, and SMEMBERS. Every acknowledged add must be in the final set unless
//! a remove was invoked (add-wins: a remove only takes what it observed, and only the
//! adding connection removes); an acknowledged remove must stick (no resurrected delete);
//! nothing appears that was never added; each connection reads its own adds and never
//! loses an element it saw unless it was removed. A new key every few seconds keeps reads
//! short.

use super::Verdict;
use crate::client::Client;
use crate::history::Call;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

const PREFIX: &str = "jepsen-set-";

pub fn run(c: &mut Client<'_>) {
    // This client's acknowledged adds that it has not removed yet: (key, element).
    // Only this connection's: a remove on another node may not see an add made here
    // (add-wins then keeps it), so a new connection starts afresh.
    let mut mine: Vec<(String, String)> = Vec::new();
    let mut process = c.process.clone();
    while !c.stopped() {
        if c.process != process {
            mine.clear();
            process = c.process.clone();
        }
        step(c, &mut mine);
    }
}

fn step(c: &mut Client<'_>, mine: &mut Vec<(String, String)>) {
    let key = super::phase_key(PREFIX, c);
    match c.rng.range(0, 10) {
        0..7 => {
            let element = c.unique();
            let asked = json!({ "key": key, "element": element });
            let reply = c.call(
                "add",
                asked.clone(),
                |k| redis::cmd("SADD").arg(&key).arg(&element).query::<i64>(k),
                |_| asked,
            );
            if matches!(reply, Some(crate::client::Reply::Ok(_))) {
                mine.push((key, element));
            }
        }
        7 => {
            let n = mine.len() as u64;
            let pick = (n > 0).then(|| mine.swap_remove(c.rng.range(0, n) as usize));
            if let Some((key, element)) = pick {
                let asked = json!({ "key": key, "element": element });
                c.call(
                    "remove",
                    asked.clone(),
                    |k| redis::cmd("SREM").arg(&key).arg(&element).query::<i64>(k),
                    |_| asked,
                );
            }
        }
        _ => {
            c.call(
                "read",
                json!({ "key": key }),
                |k| redis::cmd("SMEMBERS").arg(&key).query::<Vec<String>>(k),
                |m| json!({ "key": key, "members": m }),
            );
        }
    }
}

pub fn read_final(conn: &mut redis::Connection) -> redis::RedisResult<Value> {
    let mut out = Map::new();
    for key in super::keys(conn, &format!("{PREFIX}*"))? {
        let mut members: Vec<String> = redis::cmd("SMEMBERS").arg(&key).query(conn)?;
        members.sort();
        out.insert(key, json!(members));
    }
    Ok(Value::Object(out))
}

/// Each key's members in a read or a final value.
fn members(v: &Value) -> HashSet<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

pub fn check(calls: &[Call], finals: &[(String, Value)], v: &mut Verdict) {
    for f in ["add", "remove", "read"] {
        super::count(v, calls, f);
    }
    let el = |c: &Call| {
        (
            super::field(&c.asked, "key").to_string(),
            super::field(&c.asked, "element").to_string(),
        )
    };
    let adds: HashMap<(String, String), &Call> = calls
        .iter()
        .filter(|c| c.f == "add")
        .map(|c| (el(c), c))
        .collect();
    let removes: HashMap<(String, String), &Call> = calls
        .iter()
        .filter(|c| c.f == "remove" && c.maybe())
        .map(|c| (el(c), c))
        .collect();
    let mut own_adds: HashMap<&str, Vec<(&str, &str, &Call)>> = HashMap::new();
    for (k, a) in &adds {
        if a.ok() {
            own_adds
                .entry(a.process.as_str())
                .or_default()
                .push((&k.0, &k.1, a));
        }
    }
    let mut read_ever: HashSet<(String, String)> = HashSet::new();
    // Per connection: the elements of each key seen by its last read.
    let mut last_read: HashMap<(&str, &str), (f64, HashSet<&str>)> = HashMap::new();
    for r in calls.iter().filter(|c| c.f == "read" && c.ok()) {
        let key = super::field(&r.seen, "key");
        let seen = members(&r.seen["members"]);
        for e in &seen {
            read_ever.insert((key.to_string(), e.to_string()));
            match adds.get(&(key.to_string(), e.to_string())) {
                Some(a) if a.maybe() && a.start_ms < r.end_ms => {}
                _ => v.anomaly(format!(
                    "{key}: a read at {:.0} ms saw {e:?}, which was never added",
                    r.start_ms
                )),
            }
        }
        let removed_by = |e: &str, t: f64| {
            removes
                .get(&(key.to_string(), e.to_string()))
                .is_some_and(|d| d.start_ms < t)
        };
        let own = own_adds
            .get(r.process.as_str())
            .map_or(&[][..], Vec::as_slice);
        for &(k, e, a) in own {
            if k == key && a.end_ms < r.start_ms && !seen.contains(e) && !removed_by(e, r.end_ms) {
                v.anomaly(format!(
                    "{key}: connection {} did not read its own add of {e:?} at {:.0} ms \
                     (not read-your-writes)",
                    r.process, r.start_ms
                ));
            }
        }
        if let Some((at, before)) = last_read.get(&(r.process.as_str(), key)) {
            for e in before {
                if !seen.contains(e) && !removed_by(e, r.end_ms) {
                    v.anomaly(format!(
                        "{key}: connection {} saw {e:?} at {at:.0} ms, then not at {:.0} ms, \
                         and nothing removed it (not monotonic)",
                        r.process, r.start_ms
                    ));
                }
            }
        }
        last_read.insert((r.process.as_str(), key), (r.start_ms, seen));
    }
    let mut never_read = 0u64;
    for (region, last) in finals {
        let empty = Map::new();
        let sets = last.as_object().unwrap_or(&empty);
        let present: HashSet<(&str, &str)> = sets
            .iter()
            .flat_map(|(k, m)| members(m).into_iter().map(move |e| (k.as_str(), e)))
            .collect();
        for ((key, e), a) in &adds {
            let here = present.contains(&(key.as_str(), e.as_str()));
            match removes.get(&(key.clone(), e.clone())) {
                None if (a.ok() || read_ever.contains(&(key.clone(), e.clone()))) && !here => v
                    .anomaly(format!(
                        "{region}: {key} lost {e:?}, added at {:.0} ms (acknowledged, or read) \
                         and never removed",
                        a.start_ms
                    )),
                Some(d) if d.ok() && here => v.anomaly(format!(
                    "{region}: {key} still has {e:?}, removed by {} at {:.0} ms (resurrected)",
                    d.process, d.end_ms
                )),
                _ => {}
            }
        }
        for (key, e) in &present {
            let added = adds.get(&(key.to_string(), e.to_string()));
            if !added.is_some_and(|a| a.maybe()) {
                v.anomaly(format!("{region}: {key} has {e:?}, which was never added"));
            }
        }
        never_read = adds
            .iter()
            .filter(|(k, a)| a.ok() && !read_ever.contains(*k))
            .count() as u64;
        let total: usize = sets.values().map(|m| members(m).len()).sum();
        v.stat(&format!("final_elements_{region}"), total as u64);
    }
    v.stat("acknowledged_adds_never_read_before_the_end", never_read);
}

#[cfg(test)]
mod tests {
    use super::super::Workload;
    use super::super::fake::{call, finals};
    use serde_json::json;

    #[test]
    fn the_set_checker_finds_lost_resurrected_and_unread_own_adds() {
        let el = |e: &str| json!({ "key": "s", "element": e });
        let add_a = call("0", "add", el("a"), "ok", el("a"), (0.0, 1.0));
        let add_b = call("0", "add", el("b"), "ok", el("b"), (2.0, 3.0));
        let rem_b = call("0", "remove", el("b"), "ok", el("b"), (4.0, 5.0));
        let read = |members: serde_json::Value, at: f64| {
            let seen = json!({ "key": "s", "members": members });
            call(
                "0",
                "read",
                json!({ "key": "s" }),
                "ok",
                seen,
                (at, at + 1.0),
            )
        };
        let check = |calls: &[crate::history::Call], end: serde_json::Value| {
            Workload::Set.check(calls, &finals(json!({ "s": end })), 0.0)
        };
        let good = [
            add_a.clone(),
            add_b.clone(),
            rem_b.clone(),
            read(json!(["a"]), 6.0),
        ];
        assert!(check(&good, json!(["a"])).valid);
        let lost = check(&good, json!([]));
        assert!(lost.anomalies[0].contains("lost \"a\""), "{lost:?}");
        let back = check(&good, json!(["a", "b"]));
        assert!(back.anomalies[0].contains("resurrected"), "{back:?}");
        let stale = [add_a.clone(), read(json!([]), 2.0)];
        let v = check(&stale, json!(["a"]));
        assert!(v.anomalies[0].contains("not read-your-writes"), "{v:?}");
        let forgot = [add_a, read(json!(["a"]), 2.0), read(json!([]), 4.0)];
        let v = check(&forgot, json!(["a"]));
        assert!(
            v.anomalies.iter().any(|a| a.contains("not monotonic")),
            "{v:?}"
        );
        let v = check(&[], json!(["z"]));
        assert!(v.anomalies[0].contains("never added"), "{v:?}");
    }
}
