//! HyperLogLog: clients PFADD unique elements to one key in every region, a few at a time,
//! and PFCOUNT it. Checked: the final count is equal everywhere (the run's convergence
//! check) and within HyperLogLog's error of the distinct elements added: at least the
//! acknowledged ones, at most those plus the ones whose PFADD's reply was lost. PFADDs that
//! cross between regions must all count (docs/semantics.md, "hyperloglog"): under last
//! writer wins, a partition loses one side's elements and the count falls short.

use super::Verdict;
use crate::client::Client;
use crate::history::Call;
use serde_json::{Value, json};

const KEY: &str = "jepsen-hll";
/// Elements per PFADD.
const BATCH: usize = 5;
/// The allowed relative error: HyperLogLog's standard error is 0.81% with Redis's 16384
/// registers; 3% is more than three and a half of it.
const ERROR: f64 = 0.03;

pub fn step(c: &mut Client<'_>) {
    if c.rng.range(0, 5) < 4 {
        let elements: Vec<String> = (0..BATCH).map(|_| c.unique()).collect();
        c.call(
            "add",
            json!(elements.len()),
            |k| redis::cmd("PFADD").arg(KEY).arg(&elements).query::<i64>(k),
            |changed| json!(changed),
        );
    } else {
        c.call(
            "read",
            json!(null),
            |k| redis::cmd("PFCOUNT").arg(KEY).query::<u64>(k),
            |n| json!(n),
        );
    }
}

pub fn read_final(conn: &mut redis::Connection) -> redis::RedisResult<Value> {
    let n: u64 = redis::cmd("PFCOUNT").arg(KEY).query(conn)?;
    Ok(json!(n))
}

pub fn check(calls: &[Call], finals: &[(String, Value)], v: &mut Verdict) {
    super::count(v, calls, "add");
    super::count(v, calls, "read");
    let added = |outcome: &str| -> u64 {
        calls
            .iter()
            .filter(|c| c.f == "add" && c.outcome == outcome)
            .filter_map(|c| c.asked.as_u64())
            .sum()
    };
    let (ok, unknown) = (added("ok"), added("info"));
    v.stat("elements_acknowledged", ok);
    v.stat("elements_unknown", unknown);
    let low = (ok as f64 * (1.0 - ERROR)).floor() as u64;
    let high = ((ok + unknown) as f64 * (1.0 + ERROR)).ceil() as u64;
    for (region, last) in finals {
        let n = last.as_u64().unwrap_or(0);
        v.stat(&format!("count_{region}"), n);
        if n < low || n > high {
            v.anomaly(format!(
                "{region}: PFCOUNT {n}, not within [{low}, {high}] ({ok} elements acknowledged, {unknown} unknown, {:.0}% error allowed)",
                ERROR * 100.0
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
    fn the_hll_checker_finds_counts_off_by_more_than_the_error() {
        let adds: Vec<_> = (0..200)
            .map(|i| {
                call(
                    "0",
                    "add",
                    json!(5),
                    "ok",
                    json!(1),
                    (i as f64, i as f64 + 1.0),
                )
            })
            .collect();
        let check = |n: u64| Workload::Hll.check(&adds, &finals(json!(n)), 0.0);
        assert!(check(1000).valid);
        assert!(check(985).valid);
        let v = check(500);
        assert!(v.anomalies[0].contains("not within"), "{v:?}");
        let v = check(1100);
        assert!(v.anomalies[0].contains("not within"), "{v:?}");
    }
}
