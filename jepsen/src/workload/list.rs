//! Lists: clients RPUSH unique elements, LPOP, and LRANGE the whole list (a new key every
//! few seconds keeps it short). Checked: nothing appears that was never pushed; an element
//! is in a final list at most once, and never after a pop returned it; every acknowledged
//! push is in the final list or was popped (beyond what pops with lost replies explain:
//! lost); each connection's pushes keep their order; each connection reads its own pushes.
//! Two regions popping the same element concurrently both get it (SEMANTICS.md): counted,
//! not an anomaly.

use super::Verdict;
use crate::client::Client;
use crate::history::Call;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

const PREFIX: &str = "jepsen-list-";

pub fn run(c: &mut Client<'_>) {
    while !c.stopped() {
        let key = super::phase_key(PREFIX, c);
        match c.rng.range(0, 20) {
            0..11 => {
                let element = c.unique();
                let asked = json!({ "key": key, "element": element });
                c.call(
                    "push",
                    asked.clone(),
                    |k| redis::cmd("RPUSH").arg(&key).arg(&element).query::<i64>(k),
                    |_| asked,
                );
            }
            11..15 => {
                let node = c.node();
                c.call(
                    "pop",
                    json!({ "key": key }),
                    |k| redis::cmd("LPOP").arg(&key).query::<Option<String>>(k),
                    |e| json!({ "key": key, "element": e, "node": node }),
                );
            }
            _ => {
                c.call(
                    "read",
                    json!({ "key": key }),
                    |k| {
                        redis::cmd("LRANGE")
                            .arg(&key)
                            .arg(0)
                            .arg(-1)
                            .query::<Vec<String>>(k)
                    },
                    |l| json!({ "key": key, "elements": l }),
                );
            }
        }
    }
}

pub fn read_final(conn: &mut redis::Connection) -> redis::RedisResult<Value> {
    let mut out = Map::new();
    for key in super::keys(conn, &format!("{PREFIX}*"))? {
        let l: Vec<String> = redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query(conn)?;
        out.insert(key, json!(l));
    }
    Ok(Value::Object(out))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

pub fn check(calls: &[Call], finals: &[(String, Value)], v: &mut Verdict) {
    for f in ["push", "pop", "read"] {
        super::count(v, calls, f);
    }
    let mut ix = Index {
        pushes: calls
            .iter()
            .filter(|c| c.f == "push")
            .map(|c| (super::field(&c.asked, "element"), c))
            .collect(),
        popped: HashMap::new(),
        lost_pops: HashMap::new(),
        own: HashMap::new(),
    };
    ix.check_pops(calls, v);
    for p in calls.iter().filter(|c| c.f == "push" && c.ok()) {
        ix.own.entry(p.process.as_str()).or_default().push(p);
    }
    for r in calls.iter().filter(|c| c.f == "read" && c.ok()) {
        ix.check_read(r, v);
    }
    for (region, last) in finals {
        let present = ix.check_final_lists(region, last, v);
        ix.check_lost(region, &present, v);
    }
}

/// The history's pushes and pops, as the checks look them up.
struct Index<'a> {
    /// Every push, by its element (elements are unique).
    pushes: HashMap<&'a str, &'a Call>,
    /// Elements popped (acknowledged), and the pops that returned each.
    popped: HashMap<&'a str, Vec<&'a Call>>,
    /// Pops whose reply was lost, by key: each may have taken any element.
    lost_pops: HashMap<&'a str, u64>,
    /// Each connection's acknowledged pushes, in the order it made them.
    own: HashMap<&'a str, Vec<&'a Call>>,
}

impl<'a> Index<'a> {
    /// Whether `e` was pushed by a push that may have happened, begun before `before`.
    fn pushed(&self, e: &str, before: f64) -> bool {
        self.pushes
            .get(e)
            .is_some_and(|p| p.maybe() && p.start_ms < before)
    }

    /// Pops: only pushed elements, recorded with the pops that returned them (and the pops
    /// with lost replies, by key). Two regions may both pop an element they popped
    /// concurrently; one node never twice.
    fn check_pops(&mut self, calls: &'a [Call], v: &mut Verdict) {
        for p in calls.iter().filter(|c| c.f == "pop") {
            let key = super::field(&p.asked, "key");
            match p.outcome {
                "ok" => {
                    if let Some(e) = p.seen["element"].as_str() {
                        if !self.pushed(e, p.end_ms) {
                            v.anomaly(format!("{key}: a pop returned {e:?}, never pushed"));
                        }
                        self.popped.entry(e).or_default().push(p);
                    }
                }
                "info" => *self.lost_pops.entry(key).or_default() += 1,
                _ => {}
            }
        }
        v.stat(
            "elements_popped_twice",
            self.popped.values().filter(|p| p.len() > 1).count() as u64,
        );
        for (e, ps) in &self.popped {
            let mut nodes: Vec<u64> = ps.iter().filter_map(|p| p.seen["node"].as_u64()).collect();
            nodes.sort_unstable();
            if nodes.windows(2).any(|w| w[0] == w[1]) {
                v.anomaly(format!("{e:?} was popped twice at one node"));
            }
        }
    }

    /// A read: only pushed elements; its connection sees its own pushes, in its order.
    fn check_read(&self, r: &Call, v: &mut Verdict) {
        let key = super::field(&r.seen, "key");
        let seen = strings(&r.seen["elements"]);
        let at: HashMap<&str, usize> = seen.iter().enumerate().map(|(i, e)| (*e, i)).collect();
        for e in &seen {
            if !self.pushed(e, r.end_ms) {
                v.anomaly(format!("{key}: a read saw {e:?}, never pushed"));
            }
        }
        let mut last_at = None;
        for p in self.own.get(r.process.as_str()).into_iter().flatten() {
            if super::field(&p.asked, "key") != key || p.end_ms >= r.start_ms {
                continue;
            }
            let e = super::field(&p.asked, "element");
            match at.get(e) {
                Some(&i) => {
                    if last_at.is_some_and(|l| i < l) {
                        v.anomaly(format!(
                            "{key}: connection {} read its pushes out of order at {:.0} ms",
                            r.process, r.start_ms
                        ));
                    }
                    last_at = Some(i);
                }
                None => {
                    let popped_by_then = self
                        .popped
                        .get(e)
                        .is_some_and(|ps| ps.iter().any(|p| p.start_ms < r.end_ms));
                    if !popped_by_then && !self.lost_pops.contains_key(key) {
                        v.anomaly(format!(
                            "{key}: connection {} did not read its own push of {e:?} at {:.0} \
                             ms, and no pop took it (not read-your-writes)",
                            r.process, r.start_ms
                        ));
                    }
                }
            }
        }
    }

    /// A region's final lists: each element at most once, pushed, and not popped; each
    /// connection's acknowledged pushes in the order it made them. The elements present.
    fn check_final_lists<'v>(
        &self,
        region: &str,
        last: &'v Value,
        v: &mut Verdict,
    ) -> HashSet<&'v str> {
        let mut present: HashSet<&str> = HashSet::new();
        // A final read that is not an object holds no lists.
        for (key, l) in last.as_object().into_iter().flatten() {
            let l = strings(l);
            for e in &l {
                if !present.insert(e) {
                    v.anomaly(format!("{region}: {key} holds {e:?} twice"));
                }
                if !self.pushed(e, f64::INFINITY) {
                    v.anomaly(format!("{region}: {key} holds {e:?}, never pushed"));
                }
                if let Some(p) = self.popped.get(e) {
                    v.anomaly(format!(
                        "{region}: {key} still holds {e:?}, popped at {:.0} ms (resurrected)",
                        p[0].end_ms
                    ));
                }
            }
            // Each connection's acknowledged pushes, in the order it made them.
            let at: HashMap<&str, usize> = l.iter().enumerate().map(|(i, e)| (*e, i)).collect();
            for (process, ps) in &self.own {
                let order: Vec<usize> = ps
                    .iter()
                    .filter(|p| super::field(&p.asked, "key") == key)
                    .filter_map(|p| at.get(super::field(&p.asked, "element")).copied())
                    .collect();
                if order.windows(2).any(|w| w[0] > w[1]) {
                    v.anomaly(format!(
                        "{region}: {key} holds connection {process}'s pushes out of order"
                    ));
                }
            }
        }
        present
    }

    /// Acknowledged pushes neither in a region's final lists (`present`) nor popped: lost,
    /// beyond what the pops with lost replies of their key could have taken.
    fn check_lost(&self, region: &str, present: &HashSet<&str>, v: &mut Verdict) {
        let mut missing: HashMap<&str, Vec<&str>> = HashMap::new();
        for (e, p) in &self.pushes {
            if p.ok() && !present.contains(e) && !self.popped.contains_key(e) {
                missing
                    .entry(super::field(&p.asked, "key"))
                    .or_default()
                    .push(e);
            }
        }
        for (key, es) in missing {
            let allowed = self.lost_pops.get(key).copied().unwrap_or(0);
            if es.len() as u64 > allowed {
                v.anomaly(format!(
                    "{region}: {key} lost {} acknowledged pushes (more than the {allowed} pops \
                     with lost replies could take), e.g. {:?}",
                    es.len(),
                    &es[..es.len().min(5)]
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Workload;
    use super::super::fake::{call, finals};
    use serde_json::json;

    #[test]
    fn the_list_checker_finds_lost_pushes_popped_elements_back_and_disorder() {
        let el = |e: &str| json!({ "key": "l", "element": e });
        let push = |p: &str, e: &str, at: f64| call(p, "push", el(e), "ok", el(e), (at, at + 1.0));
        let pop = |e: &str, outcome| {
            call(
                "9",
                "pop",
                json!({ "key": "l" }),
                outcome,
                el(e),
                (10.0, 11.0),
            )
        };
        let check = |calls: &[crate::history::Call], end: serde_json::Value| {
            Workload::List.check(calls, &finals(json!({ "l": end })), 0.0)
        };
        let calls = [push("0", "a", 0.0), push("0", "b", 2.0), pop("a", "ok")];
        assert!(check(&calls, json!(["b"])).valid);
        let v = check(&calls, json!([]));
        assert!(v.anomalies[0].contains("lost 1 acknowledged"), "{v:?}");
        let v = check(&calls, json!(["a", "b"]));
        assert!(v.anomalies[0].contains("popped"), "{v:?}");
        let v = check(&calls, json!(["b", "b"]));
        assert!(v.anomalies[0].contains("twice"), "{v:?}");
        // A pop whose reply was lost may have taken the missing one.
        let unknown = [push("0", "a", 0.0), push("0", "b", 2.0), pop("", "info")];
        assert!(check(&unknown, json!(["b"])).valid);
        let v = check(
            &[push("0", "a", 0.0), push("0", "b", 2.0)],
            json!(["b", "a"]),
        );
        assert!(v.anomalies[0].contains("out of order"), "{v:?}");
        // Two nodes may both pop one element; one node may not pop it twice.
        let pop_at = |node: u64| {
            let seen = json!({ "key": "l", "element": "a", "node": node });
            call("9", "pop", json!({ "key": "l" }), "ok", seen, (10.0, 11.0))
        };
        let both = [push("0", "a", 0.0), pop_at(1), pop_at(2)];
        assert!(check(&both, json!([])).valid);
        let twice = [push("0", "a", 0.0), pop_at(1), pop_at(1)];
        let v = check(&twice, json!([]));
        assert!(v.anomalies[0].contains("twice at one node"), "{v:?}");
    }
}
