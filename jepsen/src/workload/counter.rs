//! The counter: clients in every region `INCRBY` one key by 1. Every region must end with
//! the same value, within [acknowledged, acknowledged + unknown]: an increment whose reply
//! was lost may or may not have happened; none may happen twice, and none acknowledged may
//! be lost.

use super::Verdict;
use crate::client::Client;
use crate::history::Call;
use serde_json::{Value, json};

pub const KEY: &str = "jepsen-counter";

pub fn step(c: &mut Client<'_>) {
    c.call(
        "incr",
        json!(1),
        |k| redis::cmd("INCRBY").arg(KEY).arg(1).query::<i64>(k),
        |_| json!(1),
    );
}

pub fn read_final(conn: &mut redis::Connection) -> redis::RedisResult<Value> {
    let v: Option<i64> = redis::cmd("GET").arg(KEY).query(conn)?;
    Ok(json!(v.unwrap_or(0)))
}

pub fn check(calls: &[Call], finals: &[(String, Value)], v: &mut Verdict) {
    let (ok, unknown, _) = super::outcomes(calls, "incr");
    super::count(v, calls, "incr");
    for (region, value) in finals {
        let value = value.as_i64().unwrap_or(-1);
        if value < ok as i64 {
            v.anomaly(format!(
                "{region}: {value} < {ok} acknowledged increments (lost writes)"
            ));
        }
        if value > (ok + unknown) as i64 {
            v.anomaly(format!(
                "{region}: {value} > {ok} acknowledged + {unknown} unknown (double-counted)"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Workload;
    use crate::history::Call;
    use serde_json::{Value, json};

    fn incr(outcome: &'static str) -> Call {
        Call {
            process: "0".into(),
            f: "incr".into(),
            asked: json!(1),
            outcome,
            seen: json!(1),
            start_ms: 0.0,
            end_ms: 1.0,
        }
    }

    #[test]
    fn the_counter_checker_finds_lost_and_doubled_increments() {
        let calls = vec![incr("ok"), incr("ok"), incr("info"), incr("fail")];
        let at = |v: i64| vec![("r1".to_string(), json!(v)), ("r2".to_string(), json!(v))];
        let check = |v: i64| Workload::Counter.check(&calls, &at(v), 0.0);
        assert!(check(2).valid);
        assert!(check(3).valid, "the unknown one happened");
        let lost = check(1);
        assert!(
            !lost.valid && lost.anomalies[0].contains("lost writes"),
            "{lost:?}"
        );
        let doubled = check(4);
        assert!(
            doubled.anomalies[0].contains("double-counted"),
            "{doubled:?}"
        );
        assert_eq!(doubled.stats["incr_ok"], Value::from(2));
    }
}
