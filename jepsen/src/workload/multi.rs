//! MULTI batches: clients increment two keys together in MULTI/EXEC (each client by its own
//! amount, so halves of two clients' batches do not add up to equal values), or read both
//! with one MGET. No region may ever show half a batch (every read, and every EXEC's own
//! results, see the two equal), and the final pair is equal and within [acknowledged,
//! acknowledged + unknown] increments.

use super::Verdict;
use crate::client::Client;
use crate::history::Call;
use serde_json::{Value, json};

const A: &str = "jepsen-multi-a";
const B: &str = "jepsen-multi-b";

pub fn step(c: &mut Client<'_>) {
    if c.rng.range(0, 2) == 0 {
        let by = c.id() as i64 + 1;
        c.call(
            "batch",
            json!(by),
            |k| {
                redis::pipe()
                    .atomic()
                    .cmd("INCRBY")
                    .arg(A)
                    .arg(by)
                    .cmd("INCRBY")
                    .arg(B)
                    .arg(by)
                    .query::<(i64, i64)>(k)
            },
            |(a, b)| json!([a, b]),
        );
    } else {
        c.call(
            "read",
            json!(null),
            |k| {
                redis::cmd("MGET")
                    .arg(A)
                    .arg(B)
                    .query::<(Option<i64>, Option<i64>)>(k)
            },
            |(a, b)| json!([a.unwrap_or(0), b.unwrap_or(0)]),
        );
    }
}

pub fn read_final(conn: &mut redis::Connection) -> redis::RedisResult<Value> {
    let (a, b): (Option<i64>, Option<i64>) = redis::cmd("MGET").arg(A).arg(B).query(conn)?;
    Ok(json!([a.unwrap_or(0), b.unwrap_or(0)]))
}

pub fn check(calls: &[Call], finals: &[(String, Value)], v: &mut Verdict) {
    super::count(v, calls, "batch");
    super::count(v, calls, "read");
    let mut halves = 0u64;
    for c in calls.iter().filter(|c| c.ok()) {
        if c.seen[0] != c.seen[1] {
            halves += 1;
            if halves <= 10 {
                v.anomaly(format!(
                    "{} by connection {} at {:.0} ms saw {} and {}: half a batch",
                    c.f, c.process, c.start_ms, c.seen[0], c.seen[1]
                ));
            }
        }
    }
    if halves > 10 {
        v.anomaly(format!("{} operations in all saw half a batch", halves));
    }
    // Sums of the increments (histories from before increments varied say null: 1).
    let by = |c: &Call| c.asked.as_i64().unwrap_or(1) as u64;
    let batches = || calls.iter().filter(|c| c.f == "batch");
    let ok: u64 = batches().filter(|c| c.ok()).map(by).sum();
    let unknown: u64 = batches().filter(|c| c.outcome == "info").map(by).sum();
    for (region, last) in finals {
        let (a, b) = (
            last[0].as_i64().unwrap_or(-1),
            last[1].as_i64().unwrap_or(-1),
        );
        if a != b {
            v.anomaly(format!("{region}: ends with {a} and {b}: half a batch"));
        }
        if a < ok as i64 || a > (ok + unknown) as i64 {
            v.anomaly(format!(
                "{region}: {a} in increments, not within [{ok} acknowledged, {} with the unknown]",
                ok + unknown
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Workload;
    use super::super::fake::{call, finals};
    use serde_json::json;

    #[test]
    fn the_multi_checker_finds_half_batches() {
        let batch = call("0", "batch", json!(null), "ok", json!([1, 1]), (0.0, 1.0));
        let read = |a: i64, b: i64| call("1", "read", json!(null), "ok", json!([a, b]), (2.0, 3.0));
        let check = |calls: &[crate::history::Call], a: i64, b: i64| {
            Workload::Multi.check(calls, &finals(json!([a, b])), 0.0)
        };
        assert!(check(&[batch.clone(), read(1, 1)], 1, 1).valid);
        let v = check(&[batch.clone(), read(1, 0)], 1, 1);
        assert!(v.anomalies[0].contains("half a batch"), "{v:?}");
        let v = check(std::slice::from_ref(&batch), 1, 0);
        assert!(v.anomalies[0].contains("half a batch"), "{v:?}");
        // Clients increment by their own amounts: a from one batch and b from another
        // differ.
        let by2 = call("1", "batch", json!(2), "ok", json!([3, 3]), (4.0, 5.0));
        assert!(check(&[batch.clone(), by2.clone()], 3, 3).valid);
        let v = check(&[batch, by2, read(1, 2)], 3, 3);
        assert!(v.anomalies[0].contains("half a batch"), "{v:?}");
    }
}
