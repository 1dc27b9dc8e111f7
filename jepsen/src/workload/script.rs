//! Lua scripts: a transfer between two fields of one hash (HINCRBY one down, the other up,
//! by the client's own amount, in one script), reads of both fields (HMGET), and a
//! Redlock-style unlock (a compare-and-delete script) of a lock key each client owns. A
//! script's writes reach every region whole: no read, and no transfer's own result, ever
//! sees the two fields not summing to zero; the final `b` is within [acknowledged,
//! acknowledged + unknown] transfers; an unlock deletes the lock only with its token.

use super::Verdict;
use crate::client::Client;
use crate::history::Call;
use serde_json::{Value, json};

const HASH: &str = "jepsen-script";

/// Move ARGV[1] from field a to field b; answer both after.
const TRANSFER: &str = "local n = tonumber(ARGV[1]) \
    redis.call('hincrby', KEYS[1], 'a', -n) \
    redis.call('hincrby', KEYS[1], 'b', n) \
    return redis.call('hmget', KEYS[1], 'a', 'b')";

/// Delete KEYS[1] if it holds ARGV[1] (Redlock's release).
const UNLOCK: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then \
    return redis.call('del', KEYS[1]) else return 0 end";

fn pair(v: &[Option<i64>]) -> Value {
    json!([
        v.first().copied().flatten().unwrap_or(0),
        v.get(1).copied().flatten().unwrap_or(0)
    ])
}

pub fn step(c: &mut Client<'_>) {
    match c.rng.range(0, 3) {
        0 => {
            let by = c.id() as i64 + 1;
            c.call(
                "transfer",
                json!(by),
                |k| {
                    redis::cmd("EVAL")
                        .arg(TRANSFER)
                        .arg(1)
                        .arg(HASH)
                        .arg(by)
                        .query::<Vec<Option<i64>>>(k)
                },
                |v| pair(v),
            );
        }
        1 => {
            c.call(
                "read",
                json!(null),
                |k| {
                    redis::cmd("HMGET")
                        .arg(HASH)
                        .arg("a")
                        .arg("b")
                        .query::<Vec<Option<i64>>>(k)
                },
                |v| pair(v),
            );
        }
        _ => {
            // Lock, unlock with a wrong token (must keep the lock), unlock with the right
            // one (must delete it): one client's own key, in its own region.
            let key = format!("jepsen-script-lock-{}", c.id());
            let token = format!("{}", c.rng.range(1, 1 << 30));
            c.call(
                "unlock",
                json!(token),
                |k| {
                    let _: () = redis::cmd("SET")
                        .arg(&key)
                        .arg(&token)
                        .arg("PX")
                        .arg(30_000)
                        .query(k)?;
                    let wrong: i64 = redis::cmd("EVAL")
                        .arg(UNLOCK)
                        .arg(1)
                        .arg(&key)
                        .arg("not-the-token")
                        .query(k)?;
                    let kept: Option<String> = redis::cmd("GET").arg(&key).query(k)?;
                    let right: i64 = redis::cmd("EVAL")
                        .arg(UNLOCK)
                        .arg(1)
                        .arg(&key)
                        .arg(&token)
                        .query(k)?;
                    let gone: Option<String> = redis::cmd("GET").arg(&key).query(k)?;
                    Ok((wrong, kept == Some(token.clone()), right, gone.is_none()))
                },
                |(wrong, kept, right, gone)| json!([wrong, kept, right, gone]),
            );
        }
    }
}

pub fn read_final(conn: &mut redis::Connection) -> redis::RedisResult<Value> {
    let v: Vec<Option<i64>> = redis::cmd("HMGET")
        .arg(HASH)
        .arg("a")
        .arg("b")
        .query(conn)?;
    Ok(pair(&v))
}

pub fn check(calls: &[Call], finals: &[(String, Value)], v: &mut Verdict) {
    super::count(v, calls, "transfer");
    super::count(v, calls, "read");
    super::count(v, calls, "unlock");
    let mut halves = 0u64;
    for c in calls
        .iter()
        .filter(|c| c.ok() && (c.f == "transfer" || c.f == "read"))
    {
        let (a, b) = (c.seen[0].as_i64(), c.seen[1].as_i64());
        if a.zip(b).is_none_or(|(a, b)| a + b != 0) {
            halves += 1;
            if halves <= 10 {
                v.anomaly(format!(
                    "{} by connection {} at {:.0} ms saw a = {} and b = {}: not summing to 0, half a script",
                    c.f, c.process, c.start_ms, c.seen[0], c.seen[1]
                ));
            }
        }
    }
    if halves > 10 {
        v.anomaly(format!("{halves} operations in all saw half a script"));
    }
    for c in calls.iter().filter(|c| c.ok() && c.f == "unlock") {
        if c.seen != json!([0, true, 1, true]) {
            v.anomaly(format!(
                "unlock by connection {} at {:.0} ms saw {} (wrong token: 0 and kept; right token: 1 and gone)",
                c.process, c.start_ms, c.seen
            ));
        }
    }
    let by = |c: &Call| c.asked.as_i64().unwrap_or(1);
    let transfers = || calls.iter().filter(|c| c.f == "transfer");
    let ok: i64 = transfers().filter(|c| c.ok()).map(by).sum();
    let unknown: i64 = transfers().filter(|c| c.outcome == "info").map(by).sum();
    for (region, last) in finals {
        let (a, b) = (
            last[0].as_i64().unwrap_or(i64::MIN),
            last[1].as_i64().unwrap_or(i64::MIN),
        );
        if a + b != 0 {
            v.anomaly(format!(
                "{region}: ends with a = {a} and b = {b}: half a script"
            ));
        }
        if b < ok || b > ok + unknown {
            v.anomaly(format!(
                "{region}: {b} transferred, not within [{ok} acknowledged, {} with the unknown]",
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
    fn the_script_checker_finds_half_scripts_and_bad_unlocks() {
        let transfer = call("0", "transfer", json!(1), "ok", json!([-1, 1]), (0.0, 1.0));
        let read = |a: i64, b: i64| call("1", "read", json!(null), "ok", json!([a, b]), (2.0, 3.0));
        let check = |calls: &[crate::history::Call], a: i64, b: i64| {
            Workload::Script.check(calls, &finals(json!([a, b])), 0.0)
        };
        assert!(check(&[transfer.clone(), read(-1, 1)], -1, 1).valid);
        let v = check(&[transfer.clone(), read(-1, 0)], -1, 1);
        assert!(v.anomalies[0].contains("half a script"), "{v:?}");
        let v = check(std::slice::from_ref(&transfer), 0, 1);
        assert!(v.anomalies[0].contains("half a script"), "{v:?}");
        let v = check(std::slice::from_ref(&transfer), -2, 2);
        assert!(v.anomalies[0].contains("not within"), "{v:?}");
        let unlocked = call(
            "2",
            "unlock",
            json!("7"),
            "ok",
            json!([0, true, 1, true]),
            (4.0, 5.0),
        );
        assert!(check(&[transfer.clone(), unlocked], -1, 1).valid);
        let stolen = call(
            "2",
            "unlock",
            json!("7"),
            "ok",
            json!([1, false, 0, true]),
            (4.0, 5.0),
        );
        let v = check(&[transfer, stolen], -1, 1);
        assert!(v.anomalies[0].contains("unlock"), "{v:?}");
    }
}
