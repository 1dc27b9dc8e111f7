//! The counter workload and its checker: clients in every region `INCRBY` one key by 1;
//! after healing, every region must read the same value, within [acknowledged,
//! acknowledged + unknown] (an increment whose reply was lost may or may not have
//! happened; none may happen twice, and none acknowledged may be lost).

use crate::history::{History, Op};
use serde::Serialize;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub const KEY: &str = "jepsen-counter";
/// How long a client waits for a reply before calling the outcome unknown.
const REPLY_TIMEOUT: Duration = Duration::from_millis(1000);

/// One client: increments at the node on `port` until `stop`.
pub fn client(id: usize, port: u16, history: &History, stop: &AtomicBool) {
    let process = id.to_string();
    let mut conn: Option<redis::Connection> = None;
    while !stop.load(Ordering::SeqCst) {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => {
                let opened = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                    .and_then(|c| c.get_connection_with_timeout(REPLY_TIMEOUT))
                    .and_then(|c| c.set_read_timeout(Some(REPLY_TIMEOUT)).map(|()| c));
                match opened {
                    Ok(c) => conn.insert(c),
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                }
            }
        };
        history.record(&process, "invoke", "incr", json!(1));
        match redis::cmd("INCRBY").arg(KEY).arg(1).query::<i64>(c) {
            Ok(_) => history.record(&process, "ok", "incr", json!(1)),
            // The server answered with an error: the increment did not happen.
            Err(e) if e.kind() != redis::ErrorKind::IoError => {
                history.record(&process, "fail", "incr", json!(e.to_string()))
            }
            Err(e) => {
                history.record(&process, "info", "incr", json!(e.to_string()));
                conn = None;
            }
        }
    }
}

/// What the counter checker found.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub valid: bool,
    pub acknowledged: u64,
    pub unknown: u64,
    pub failed: u64,
    /// Each region's final value.
    pub finals: Vec<(String, i64)>,
    pub anomalies: Vec<String>,
}

/// Check the history against each region's final read.
pub fn check(ops: &[Op], finals: Vec<(String, i64)>) -> Verdict {
    let count = |kind: &str| {
        ops.iter()
            .filter(|o| o.f == "incr" && o.kind == kind)
            .count() as u64
    };
    let (acknowledged, unknown, failed) = (count("ok"), count("info"), count("fail"));
    let mut anomalies = Vec::new();
    if finals.windows(2).any(|w| w[0].1 != w[1].1) {
        anomalies.push(format!("regions did not converge: {finals:?}"));
    }
    for (region, v) in &finals {
        if *v < acknowledged as i64 {
            anomalies.push(format!(
                "{region}: {v} < {acknowledged} acknowledged increments (lost writes)"
            ));
        }
        if *v > (acknowledged + unknown) as i64 {
            anomalies.push(format!(
                "{region}: {v} > {acknowledged} acknowledged + {unknown} unknown (double-counted)"
            ));
        }
    }
    Verdict {
        valid: anomalies.is_empty(),
        acknowledged,
        unknown,
        failed,
        finals,
        anomalies,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: &'static str) -> Op {
        Op {
            process: "0".into(),
            kind,
            f: "incr".into(),
            value: json!(1),
            time_ms: 0.0,
        }
    }

    #[test]
    fn the_counter_checker_finds_lost_and_doubled_increments_and_divergence() {
        let ops = vec![
            op("invoke"),
            op("ok"),
            op("invoke"),
            op("ok"),
            op("invoke"),
            op("info"),
        ];
        let at = |v: &[i64]| {
            v.iter()
                .enumerate()
                .map(|(i, &v)| (format!("r{i}"), v))
                .collect::<Vec<_>>()
        };
        assert!(check(&ops, at(&[2, 2])).valid);
        assert!(check(&ops, at(&[3, 3])).valid, "the unknown one happened");
        let lost = check(&ops, at(&[1, 1]));
        assert!(
            !lost.valid && lost.anomalies[0].contains("lost writes"),
            "{lost:?}"
        );
        let doubled = check(&ops, at(&[4, 4]));
        assert!(
            doubled.anomalies[0].contains("double-counted"),
            "{doubled:?}"
        );
        let apart = check(&ops, at(&[2, 3]));
        assert!(apart.anomalies[0].contains("did not converge"), "{apart:?}");
    }
}
