//! Streams with a consumer group: clients XADD unique elements with `*` ids, read for the
//! group with XREADGROUP `>` and acknowledge what they read (XACK), and take over entries
//! left pending a while (XAUTOCLAIM), in every region. Once the faults are healed and the
//! regions agree, one more consumer drains what the group has not delivered
//! ([`drain`]). Checked: every acknowledged XADD is in the final stream, once, under the id
//! its XADD answered, and nothing is there that was never added; every region holds the same
//! entries in the same order (the run's convergence check); every entry was delivered to the
//! group at least once; every delivery names a real entry under its real id. Entries a `>`
//! read delivered more than once (two regions reading at once, or a delivery that had not
//! arrived) are counted, not anomalies: delivery is at least once (docs/semantics.md).

use super::Verdict;
use crate::client::Client;
use crate::history::{Call, History};
use serde_json::{Value, json};
use std::collections::HashMap;

const KEY: &str = "jepsen-stream";
const GROUP: &str = "workers";
/// Pending this long (ms), an entry may be claimed by another consumer.
const CLAIM_IDLE_MS: u64 = 2000;

/// An XREADGROUP or XAUTOCLAIM reply's entries: `(id, element)`.
type Entries = Vec<(String, String)>;

/// Entries as the server sends them: `(id, [field, value, ...])`.
type RawEntries = Vec<(String, Vec<String>)>;

fn entries(raw: RawEntries) -> Entries {
    raw.into_iter()
        .map(|(id, fields)| (id, fields.get(1).cloned().unwrap_or_default()))
        .collect()
}

fn read_group(
    k: &mut redis::Connection,
    consumer: &str,
    count: usize,
) -> redis::RedisResult<Entries> {
    let reply: Option<Vec<(String, RawEntries)>> = redis::cmd("XREADGROUP")
        .arg(&["GROUP", GROUP, consumer, "COUNT"])
        .arg(count)
        .arg(&["STREAMS", KEY, ">"])
        .query(k)?;
    Ok(reply
        .into_iter()
        .flatten()
        .flat_map(|(_, e)| entries(e))
        .collect())
}

fn ack(c: &mut Client<'_>, got: &Entries) {
    if got.is_empty() {
        return;
    }
    let ids: Vec<&String> = got.iter().map(|(id, _)| id).collect();
    c.call(
        "ack",
        json!(ids),
        |k| {
            redis::cmd("XACK")
                .arg(KEY)
                .arg(GROUP)
                .arg(&ids)
                .query::<i64>(k)
        },
        |n| json!(n),
    );
}

pub fn run(c: &mut Client<'_>) {
    c.call(
        "create",
        json!(GROUP),
        |k| {
            redis::cmd("XGROUP")
                .arg(&["CREATE", KEY, GROUP, "0", "MKSTREAM"])
                .query::<String>(k)
        },
        |ok| json!(ok),
    );
    let consumer = format!("c{}", c.id());
    while !c.stopped() {
        match c.rng.range(0, 20) {
            0..10 => {
                let element = c.unique();
                c.call(
                    "add",
                    json!(element),
                    |k| {
                        redis::cmd("XADD")
                            .arg(&[KEY, "*", "e", &element])
                            .query::<String>(k)
                    },
                    |id| json!({ "element": element, "id": id }),
                );
            }
            10..18 => {
                let got = c.call(
                    "deliver",
                    json!(consumer),
                    |k| read_group(k, &consumer, 10),
                    |e| json!(e),
                );
                if let Some(crate::client::Reply::Ok(got)) = got {
                    ack(c, &got);
                }
            }
            _ => {
                let got = c.call(
                    "claim",
                    json!(consumer),
                    |k| {
                        let (_, claimed, _): (String, RawEntries, Vec<String>) =
                            redis::cmd("XAUTOCLAIM")
                                .arg(&[KEY, GROUP, &consumer])
                                .arg(CLAIM_IDLE_MS)
                                .arg(&["0-0", "COUNT", "10"])
                                .query(k)?;
                        Ok(entries(claimed))
                    },
                    |e| json!(e),
                );
                if let Some(crate::client::Reply::Ok(got)) = got {
                    ack(c, &got);
                }
            }
        }
    }
}

/// Once the regions agree: one consumer reads for the group, in the first region, until
/// nothing is left that the group has not delivered. Recorded as `drain` calls.
pub fn drain(conn: &mut redis::Connection, history: &History) -> Result<(), String> {
    loop {
        history.record("drain", "invoke", "deliver", json!("drain"));
        let got = read_group(conn, "drain", 1000).map_err(|e| format!("drain: {e}"))?;
        history.record("drain", "ok", "deliver", json!(got));
        if got.is_empty() {
            return Ok(());
        }
    }
}

pub fn read_final(conn: &mut redis::Connection) -> redis::RedisResult<Value> {
    let raw: RawEntries = redis::cmd("XRANGE").arg(&[KEY, "-", "+"]).query(conn)?;
    Ok(json!(entries(raw)))
}

fn pairs(v: &Value) -> Vec<(&str, &str)> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p.get(0)?.as_str()?, p.get(1)?.as_str()?)))
        .collect()
}

pub fn check(calls: &[Call], finals: &[(String, Value)], v: &mut Verdict) {
    for f in ["create", "add", "deliver", "ack", "claim"] {
        super::count(v, calls, f);
    }
    let adds: HashMap<&str, &Call> = calls
        .iter()
        .filter(|c| c.f == "add")
        .filter_map(|c| Some((c.asked.as_str()?, c)))
        .collect();
    let Some((region, last)) = finals.first() else {
        return;
    };
    let in_final = pairs(last);
    v.stat("entries", in_final.len() as u64);
    let mut by_element: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut by_id: HashMap<&str, &str> = HashMap::new();
    for (id, e) in &in_final {
        by_element.entry(e).or_default().push(id);
        by_id.insert(id, e);
        if !adds.get(e).is_some_and(|c| c.maybe()) {
            v.anomaly(format!(
                "{region}: entry {id} holds {e}, which no XADD added"
            ));
        }
    }
    for (e, ids) in by_element.iter().filter(|(_, ids)| ids.len() > 1) {
        v.anomaly(format!(
            "{region}: {e} is in the stream {} times: {ids:?}",
            ids.len()
        ));
    }
    let mut lost = 0;
    for c in calls.iter().filter(|c| c.f == "add" && c.ok()) {
        let e = c.asked.as_str().unwrap_or("");
        let id = super::field(&c.seen, "id");
        match by_element.get(e) {
            None => {
                lost += 1;
                if lost <= 10 {
                    v.anomaly(format!(
                        "{region}: acknowledged XADD of {e} (id {id}) by connection {} is lost",
                        c.process
                    ));
                }
            }
            Some(ids) if !ids.contains(&id) => v.anomaly(format!(
                "{region}: {e} was acknowledged as {id} but the stream holds it as {ids:?}"
            )),
            Some(_) => {}
        }
    }
    if lost > 10 {
        v.anomaly(format!("{region}: {lost} acknowledged XADDs lost in all"));
    }
    // Deliveries: real entries under their real ids; every entry at least once.
    let mut delivered: HashMap<&str, u64> = HashMap::new();
    let mut by_reads: HashMap<&str, u64> = HashMap::new();
    for c in calls
        .iter()
        .filter(|c| c.ok() && (c.f == "deliver" || c.f == "claim"))
    {
        for (id, e) in pairs(&c.seen) {
            if by_id.get(id) != Some(&e) {
                v.anomaly(format!(
                    "{} by {} delivered {e} as {id}, which is no entry",
                    c.f, c.process
                ));
            }
            *delivered.entry(id).or_default() += 1;
            if c.f == "deliver" {
                *by_reads.entry(id).or_default() += 1;
            }
        }
    }
    let never: Vec<&&str> = in_final
        .iter()
        .map(|(id, _)| id)
        .filter(|id| !delivered.contains_key(*id))
        .collect();
    if !never.is_empty() {
        v.anomaly(format!(
            "{} entries were never delivered to the group, e.g. {:?}",
            never.len(),
            &never[..never.len().min(5)]
        ));
    }
    let twice = by_reads.values().filter(|n| **n > 1).count();
    v.stat("delivered_more_than_once_by_reads", twice as u64);
    v.stat(
        "claimed",
        calls
            .iter()
            .filter(|c| c.ok() && c.f == "claim")
            .map(|c| pairs(&c.seen).len() as u64)
            .sum::<u64>(),
    );
}

#[cfg(test)]
mod tests {
    use super::super::Workload;
    use super::super::fake::{call, finals};
    use serde_json::json;

    #[test]
    fn the_stream_checker_finds_lost_adds_phantoms_and_undelivered_entries() {
        let add = |e: &str, id: &str, t: f64| {
            call(
                "0",
                "add",
                json!(e),
                "ok",
                json!({"element": e, "id": id}),
                (t, t + 1.0),
            )
        };
        let deliver =
            |seen: serde_json::Value| call("1", "deliver", json!("c1"), "ok", seen, (10.0, 11.0));
        let check = |calls: &[crate::history::Call], last: serde_json::Value| {
            Workload::Stream.check(calls, &finals(last), 0.0)
        };
        let calls = [
            add("x", "1-1", 0.0),
            add("y", "2-1", 2.0),
            deliver(json!([["1-1", "x"], ["2-1", "y"]])),
        ];
        let good = json!([["1-1", "x"], ["2-1", "y"]]);
        assert!(check(&calls, good.clone()).valid);
        let v = check(&calls, json!([["1-1", "x"]]));
        assert!(v.anomalies[0].contains("lost"), "{v:?}");
        let v = check(&calls, json!([["1-1", "x"], ["2-1", "y"], ["3-1", "z"]]));
        assert!(v.anomalies[0].contains("no XADD added"), "{v:?}");
        let v = check(&calls[..2], good.clone());
        assert!(v.anomalies[0].contains("never delivered"), "{v:?}");
        let v = check(&calls, json!([["1-1", "x"], ["2-2", "y"]]));
        assert!(
            v.anomalies
                .iter()
                .any(|a| a.contains("acknowledged as 2-1")),
            "{v:?}"
        );
        let twice = [
            calls[0].clone(),
            calls[1].clone(),
            calls[2].clone(),
            calls[2].clone(),
        ];
        let v = check(&twice, good);
        assert!(v.valid, "{v:?}");
        assert_eq!(v.stats["delivered_more_than_once_by_reads"], json!(2));
    }
}
