//! The workloads: what the clients do in every region, what is read from each region once
//! the faults are healed, and the checker that judges the history against those reads.

pub mod cache;
pub mod counter;
pub mod hash;
pub mod hll;
pub mod list;
mod lww;
pub mod multi;
pub mod register;
pub mod script;
pub mod set;
pub mod stream;
pub mod ttl;

use crate::client::Client;
use crate::history::Call;
use serde::Serialize;
use serde_json::{Map, Value};

/// Which operations the clients run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// INCRBY of one key: the final value is within [acknowledged, acknowledged + unknown].
    Counter,
    /// SET and GET of a few keys: winners agree with HLC order; read-your-writes and
    /// monotonic reads per connection.
    Register,
    /// SADD, SREM and SMEMBERS: every acknowledged add is kept unless a remove observed it;
    /// a removed element never comes back; read-your-writes and monotonic reads.
    Set,
    /// HSET, HDEL and HGETALL of one hash's fields: as registers, plus no resurrected
    /// deletes.
    Hash,
    /// RPUSH, LPOP and LRANGE: nothing acknowledged lost, nothing popped comes back, each
    /// connection's pushes stay in order.
    List,
    /// SET with and without PX, and PERSIST: keys expire everywhere, persistent ones stay.
    Ttl,
    /// MULTI/EXEC of two increments, and MGET of both: no region ever shows half a batch.
    Multi,
    /// SET of values of 4 KiB over many keys, and GET, with a small maxmemory and
    /// allkeys-lru on every node: nothing read was never written, nothing evicted comes
    /// back at a node, and keys were evicted.
    Cache,
    /// A Lua transfer between two hash fields, HMGET of both, and a Redlock-style
    /// compare-and-delete unlock: no region ever shows half a script, the fields always sum
    /// to zero, an unlock deletes only with its token.
    Script,
    /// XADD in every region, and a consumer group read with XREADGROUP, XACK and XAUTOCLAIM
    /// in every region: no acknowledged XADD lost, one set of ids in one order everywhere,
    /// every entry delivered to the group at least once (duplicates counted).
    Stream,
    /// PFADD of unique elements in every region, and PFCOUNT: the final count equal
    /// everywhere and within HyperLogLog's error of the distinct acknowledged elements.
    Hll,
}

pub const ALL: [Workload; 11] = [
    Workload::Counter,
    Workload::Register,
    Workload::Set,
    Workload::Hash,
    Workload::List,
    Workload::Ttl,
    Workload::Multi,
    Workload::Cache,
    Workload::Script,
    Workload::Stream,
    Workload::Hll,
];

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Counter => "counter",
            Workload::Register => "register",
            Workload::Set => "set",
            Workload::Hash => "hash",
            Workload::List => "list",
            Workload::Ttl => "ttl",
            Workload::Multi => "multi",
            Workload::Cache => "cache",
            Workload::Script => "script",
            Workload::Stream => "stream",
            Workload::Hll => "hll",
        }
    }

    /// The nemeses the full matrix runs it under: all, but the cache only under partitions
    /// and kill -9, what issue 18 asks of eviction (`gdc-jepsen run` takes any pair).
    pub fn runs_under(self, n: crate::nemesis::Nemesis) -> bool {
        use crate::nemesis::Nemesis;
        match self {
            Workload::Cache => matches!(n, Nemesis::Partition | Nemesis::Kill),
            _ => true,
        }
    }

    /// More flags for every node (kept when a node restarts).
    pub fn node_flags(self) -> Vec<String> {
        match self {
            Workload::Cache => cache::node_flags(),
            _ => Vec::new(),
        }
    }

    /// The INFO fields the run samples on every node for this workload's checks.
    pub fn info_fields(self) -> &'static [crate::counters::Field] {
        match self {
            Workload::Cache => &cache::FIELDS,
            _ => &[],
        }
    }

    /// Run one client until the run stops.
    pub fn client(self, c: &mut Client<'_>) {
        c.pace = self.pace();
        let step = match self {
            Workload::Set => return set::run(c),
            Workload::List => return list::run(c),
            Workload::Ttl => return ttl::run(c),
            Workload::Cache => return cache::run(c),
            Workload::Stream => return stream::run(c),
            Workload::Counter => counter::step,
            Workload::Register => register::step,
            Workload::Hash => hash::step,
            Workload::Multi => multi::step,
            Workload::Script => script::step,
            Workload::Hll => hll::step,
        };
        while !c.stopped() {
            step(c);
        }
    }

    /// The pause after each operation of a client: about 500 operations a second per
    /// client for small values, 200 where reads return whole collections or keys pile up.
    pub fn pace(self) -> std::time::Duration {
        let ms = match self {
            Workload::Set | Workload::List | Workload::Ttl => 5,
            _ => 2,
        };
        std::time::Duration::from_millis(ms)
    }

    /// What a region holds of this workload's keys, read once the faults are healed.
    pub fn read_final(self, conn: &mut redis::Connection) -> redis::RedisResult<Value> {
        match self {
            Workload::Counter => counter::read_final(conn),
            Workload::Register => register::read_final(conn),
            Workload::Set => set::read_final(conn),
            Workload::Hash => hash::read_final(conn),
            Workload::List => list::read_final(conn),
            Workload::Ttl => ttl::read_final(conn),
            Workload::Multi => multi::read_final(conn),
            Workload::Cache => cache::read_final(conn),
            Workload::Script => script::read_final(conn),
            Workload::Stream => stream::read_final(conn),
            Workload::Hll => hll::read_final(conn),
        }
    }

    /// What runs once the faults are healed and the regions agree, before the final reads
    /// (which the regions must then agree on again): the stream's drain. Returns whether it
    /// wrote anything.
    pub fn after_settling(
        self,
        conn: &mut redis::Connection,
        history: &crate::history::History,
    ) -> Result<bool, String> {
        match self {
            Workload::Stream => stream::drain(conn, history).map(|()| true),
            _ => Ok(false),
        }
    }

    /// How long after the last operation its final reads must wait, beyond settling: the
    /// longest TTL the workload sets, which must have passed.
    pub fn quiesce_ms(self) -> u64 {
        match self {
            Workload::Ttl => ttl::TTL_MAX_MS,
            _ => 0,
        }
    }

    /// Judge the history. `finals` are each region's final reads (already found equal, or
    /// not: convergence is checked by the run); `slack_ms` is how far apart the nodes'
    /// clocks may be, so how much later in real time a write must start to be sure to
    /// carry a larger HLC than another.
    pub fn check(self, calls: &[Call], finals: &[(String, Value)], slack_ms: f64) -> Verdict {
        let mut v = Verdict::default();
        match self {
            Workload::Counter => counter::check(calls, finals, &mut v),
            Workload::Register => register::check(calls, finals, slack_ms, &mut v),
            Workload::Set => set::check(calls, finals, &mut v),
            Workload::Hash => hash::check(calls, finals, slack_ms, &mut v),
            Workload::List => list::check(calls, finals, &mut v),
            Workload::Ttl => ttl::check(calls, finals, &mut v),
            Workload::Multi => multi::check(calls, finals, &mut v),
            Workload::Cache => cache::check(calls, finals, &mut v),
            Workload::Script => script::check(calls, finals, &mut v),
            Workload::Stream => stream::check(calls, finals, &mut v),
            Workload::Hll => hll::check(calls, finals, &mut v),
        }
        v.valid = v.anomalies.is_empty();
        v
    }

    /// Judge the figures sampled from the nodes' INFO ([`Workload::info_fields`], as
    /// [`crate::counters::totals`] makes them).
    pub fn check_counters(self, counters: &Map<String, Value>, v: &mut Verdict) {
        if self == Workload::Cache {
            cache::check_evictions(counters, v);
        }
    }
}

/// What a checker found: counts for the report, and every anomaly in words.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Verdict {
    pub valid: bool,
    pub stats: Map<String, Value>,
    pub anomalies: Vec<String>,
}

impl Verdict {
    pub fn stat(&mut self, name: &str, value: impl Into<Value>) {
        self.stats.insert(name.to_string(), value.into());
    }

    pub fn anomaly(&mut self, what: String) {
        self.anomalies.push(what);
    }
}

/// How many calls of `f` ended each way: (ok, unknown, failed).
pub fn outcomes(calls: &[Call], f: &str) -> (u64, u64, u64) {
    let mut n = (0, 0, 0);
    for c in calls.iter().filter(|c| c.f == f) {
        match c.outcome {
            "ok" => n.0 += 1,
            "fail" => n.2 += 1,
            _ => n.1 += 1,
        }
    }
    n
}

/// Record `f`'s outcomes as `<f>_ok`, `<f>_unknown` and `<f>_failed`.
pub fn count(v: &mut Verdict, calls: &[Call], f: &str) {
    let (ok, unknown, failed) = outcomes(calls, f);
    v.stat(&format!("{f}_ok"), ok);
    v.stat(&format!("{f}_unknown"), unknown);
    v.stat(&format!("{f}_failed"), failed);
}

/// A string field of a JSON object (empty if absent).
pub fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v.get(name).and_then(Value::as_str).unwrap_or("")
}

/// The key a workload is writing now: a new one every [`PHASE_MS`], so that reads of a
/// whole set or list stay short.
pub fn phase_key(prefix: &str, c: &Client<'_>) -> String {
    format!("{prefix}{}", (c.now_ms() / PHASE_MS) as u64)
}

pub const PHASE_MS: f64 = 1000.0;

/// Every key matching `pattern`, sorted.
pub fn keys(conn: &mut redis::Connection, pattern: &str) -> redis::RedisResult<Vec<String>> {
    let mut keys: Vec<String> = redis::cmd("KEYS").arg(pattern).query(conn)?;
    keys.sort();
    Ok(keys)
}

/// Histories for the checkers' unit tests.
#[cfg(test)]
pub mod fake {
    use crate::history::Call;
    use serde_json::Value;

    /// A call by `process` of `f`, asked `asked`, that ended `outcome` having seen `seen`,
    /// between `start_ms` and `end_ms`.
    pub fn call(
        process: &str,
        f: &str,
        asked: Value,
        outcome: &'static str,
        seen: Value,
        (start_ms, end_ms): (f64, f64),
    ) -> Call {
        Call {
            process: process.into(),
            f: f.into(),
            asked,
            outcome,
            seen,
            start_ms,
            end_ms,
        }
    }

    /// The same final read in regions r1 and r2.
    pub fn finals(v: Value) -> Vec<(String, Value)> {
        vec![("r1".into(), v.clone()), ("r2".into(), v)]
    }
}
