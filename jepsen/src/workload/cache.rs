//! A cache under memory pressure: every node runs with a small `maxmemory` and
//! `allkeys-lru`, and clients `SET` values of 4 KiB over a key space several times
//! larger than that, and `GET` keys, most of them ones they touched lately. So every region
//! evicts all the time, and each eviction replicates as an observed-remove delete of what
//! the evicting region had seen (SEMANTICS.md, the eviction row).
//!
//! Each value names its write (`<client>-<n>`, then filler made from that name up to
//! [`VALUE_BYTES`]), so a read names the write it saw, and a value whose bytes are not all
//! its writer's is caught. The first read of every connection also asks `INFO server` for
//! the node's `run_id`: which node, in which life (a restart gives a new one), served the
//! connection.
//!
//! The checker:
//!
//! 1. **Nothing never written**: every value read, and every value a region holds at the
//!    end, is one a `SET` that may have happened (acknowledged or unknown) wrote, begun
//!    before the read ended, with its bytes intact.
//! 2. **No resurrection after an eviction reached a node**, per *scope*: one life of one
//!    node (every connection whose first read named the same `run_id`), or, where a
//!    connection never learned its node's `run_id`, that connection alone. In a scope, for
//!    a key and a value `v`: once `v` was there (an acknowledged read returned it, or an
//!    acknowledged `SET` wrote it, ending at `t0`), and then a call begun after `t0`
//!    showed it gone from that node — a read that found the key absent, or an acknowledged
//!    `SET` of another value there (a `SET` removes what its node had) — no read begun
//!    after that call ended may return `v`. Why this is sound: a node's state only grows by
//!    joins while it lives; an absent key means every entry the node had of it, `v`
//!    included, was removed by a delete (an eviction here or elsewhere, replicated) that had
//!    observed `v`, and an observed removal is never undone (its dot stays covered by the
//!    node's applied vector and the key's removal context); a read reflects the node's state
//!    at one instant within the call, so calls that do not overlap are ordered.
//!    What the rule leaves out, because it would not be sound:
//!    - *another value read* (`w`) does not count as `v` gone: `w` may be a write made
//!      concurrently elsewhere that only hides `v` (LWW), and an eviction in a region that
//!      had `w` but not yet `v` removes `w` alone, after which `v` is the key's value again,
//!      in every region;
//!    - *across a node's restarts*: an eviction is not a client's write, and nothing says
//!      its record is on disk before a read shows the key absent, so a kill -9 may lose it
//!      (and the node shows `v` again until the deletes of the others arrive), as it may
//!      lose received ops that were applied before their binlog append;
//!    - *across nodes*: another node may not have received the delete yet.
//! 3. **Convergence**: as in every run (equal final reads and digests on every node).
//! 4. **Evictions happened**: the run samples each node's `evicted_keys` (INFO stats) and
//!    the check fails when no node evicted a key: a run that never filled memory proves
//!    nothing about eviction ([`check_evictions`]).
//! 5. **Availability** as in every run; a `SET` refused with `-OOM` (allkeys-lru should
//!    free room instead) is counted (`write_oom`), and a region refused for long fails the
//!    availability bound.

use super::Verdict;
use crate::client::{Client, Reply};
use crate::counters::{Field, Fold};
use crate::history::Call;
use crate::rng::Rng;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

const PREFIX: &str = "jepsen-cache-";
/// Keys written: with [`VALUE_BYTES`], 16 MB of values, some six times the room
/// [`MAXMEMORY`] leaves.
pub const KEYS: u64 = 4096;
/// The size of every value: large enough that even a debug build's few hundred writes a
/// second fill the room within the first seconds of a run.
pub const VALUE_BYTES: usize = 4096;
/// Every node's `maxmemory` (4 MiB of counted memory: used_memory less what eviction leaves
/// out, the metadata store's fixed 28 MB and the channels' and binlog's buffers). A node of
/// a run's cluster counts about 1.5 MB before any key (clients, the key tables), so this
/// leaves room for some 600 values. Not much more: a debug build's run of 6 s writes about
/// a thousand values, and must fill the room within its first seconds.
pub const MAXMEMORY: &str = "4mb";
/// The keys a client keeps reading again: the last ones it wrote or read with a value. Long
/// enough that most are evicted between two reads of them, so reads find keys gone and
/// then look again.
const RECENT: usize = 512;

/// Every node's flags: the memory limit, and eviction by LRU over all keys.
pub fn node_flags() -> Vec<String> {
    [
        "--maxmemory",
        MAXMEMORY,
        "--maxmemory-policy",
        "allkeys-lru",
    ]
    .map(String::from)
    .to_vec()
}

/// What the run samples of every node's INFO: evictions, summed over each node's lives,
/// and the most memory it used.
pub const FIELDS: [Field; 2] = [
    Field {
        name: "evicted_keys",
        fold: Fold::SumOverLives,
    },
    Field {
        name: "used_memory",
        fold: Fold::Max,
    },
];

/// The value written by the write named `id`: the name, `:`, then the name's bytes over
/// and over, up to [`VALUE_BYTES`].
pub fn payload(id: &str) -> Vec<u8> {
    let mut v = format!("{id}:").into_bytes();
    let fill = id.as_bytes().iter().copied().cycle();
    v.extend(fill.take(VALUE_BYTES.saturating_sub(v.len())));
    v
}

/// What a read saw, as the history records it: the writer's name if the bytes are all
/// that write's, else the first bytes, marked corrupt.
fn seen(raw: Option<&[u8]>) -> (Value, bool) {
    let Some(raw) = raw else {
        return (Value::Null, false);
    };
    let text = String::from_utf8_lossy(raw);
    match text.split_once(':') {
        Some((id, _)) if payload(id) == raw => (json!(id), false),
        _ => (json!(text.chars().take(40).collect::<String>()), true),
    }
}

fn read_value(key: &str, raw: Option<&[u8]>) -> Value {
    let (value, corrupt) = seen(raw);
    let mut out = json!({ "key": key, "value": value });
    if corrupt {
        out["corrupt"] = json!(true);
    }
    out
}

/// The `run_id` line of `INFO server`.
fn run_id(info: &str) -> Option<&str> {
    info.lines()
        .find_map(|l| l.strip_prefix("run_id:"))
        .map(str::trim)
}

/// The keys a client reads again: the last [`RECENT`] it wrote or read with a value.
#[derive(Debug, Default)]
struct Recent {
    keys: Vec<String>,
    /// The oldest, replaced next once `keys` is full.
    next: usize,
}

impl Recent {
    fn remember(&mut self, key: String) {
        if self.keys.len() < RECENT {
            self.keys.push(key);
        } else {
            self.keys[self.next] = key;
            self.next = (self.next + 1) % RECENT;
        }
    }

    fn pick(&self, c: &mut Client<'_>) -> Option<String> {
        let n = self.keys.len() as u64;
        (n > 0).then(|| self.keys[c.rng.range(0, n) as usize].clone())
    }
}

pub fn run(c: &mut Client<'_>) {
    // Clients' generators are seeded `seed ^ (id + 1) * γ`, and SplitMix64 steps by that
    // same γ: with a small seed, clients whose ids have one parity draw one sequence a few
    // steps apart, and would write the same keys in the same order. Mix the id in again.
    c.rng = Rng::new(c.rng.next_u64() ^ Rng::new(c.id() as u64).next_u64());
    let mut recent = Recent::default();
    // The connection whose node is known (or was asked and refused): a new one asks first.
    let mut asked: Option<String> = None;
    while !c.stopped() {
        let random = format!("{PREFIX}{}", c.rng.range(0, KEYS));
        if asked.as_deref() != Some(c.process.as_str()) {
            let process = c.process.clone();
            if read(c, random, true, &mut recent) {
                asked = Some(process);
            }
            continue;
        }
        match c.rng.range(0, 20) {
            0..10 => {
                let id = c.unique();
                let value = payload(&id);
                let asked = json!({ "key": random, "value": id });
                let reply = c.call(
                    "write",
                    asked.clone(),
                    |k| redis::cmd("SET").arg(&random).arg(&value).query::<()>(k),
                    |_| asked,
                );
                if matches!(reply, Some(Reply::Ok(()))) {
                    recent.remember(random);
                }
            }
            10..17 => {
                let key = recent.pick(c).unwrap_or(random);
                read(c, key, false, &mut recent);
            }
            _ => {
                read(c, random, false, &mut recent);
            }
        }
    }
}

/// GET `key` (after `INFO server` when `ask_node`, recording the node's `run_id`); whether
/// the node answered (acknowledged or refused).
fn read(c: &mut Client<'_>, key: String, ask_node: bool, recent: &mut Recent) -> bool {
    let reply = c.call(
        "read",
        json!({ "key": key }),
        |k| {
            if ask_node {
                let (info, raw) = redis::pipe()
                    .cmd("INFO")
                    .arg("server")
                    .cmd("GET")
                    .arg(&key)
                    .query::<(String, Option<Vec<u8>>)>(k)?;
                Ok((Some(info), raw))
            } else {
                let raw = redis::cmd("GET").arg(&key).query::<Option<Vec<u8>>>(k)?;
                Ok((None, raw))
            }
        },
        |(info, raw)| {
            let mut v = read_value(&key, raw.as_deref());
            if let Some(id) = info.as_deref().and_then(run_id) {
                v["node"] = json!(id);
            }
            v
        },
    );
    match reply {
        Some(Reply::Ok((_, raw))) => {
            if raw.is_some() {
                recent.remember(key);
            }
            true
        }
        Some(Reply::Fail) => true,
        _ => false,
    }
}

pub fn read_final(conn: &mut redis::Connection) -> redis::RedisResult<Value> {
    let mut out = Map::new();
    let keys = super::keys(conn, &format!("{PREFIX}*"))?;
    for chunk in keys.chunks(256) {
        let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(chunk).query(conn)?;
        for (key, raw) in chunk.iter().zip(values) {
            // A key evicted between KEYS and MGET is not held.
            if let Some(raw) = raw {
                out.insert(key.clone(), read_value(key, Some(&raw)));
            }
        }
    }
    Ok(Value::Object(out))
}

/// What a call did to a key in a scope, for the resurrection rule.
#[derive(Clone, Copy, Debug)]
enum Event<'a> {
    /// An acknowledged read that found this value, or none.
    Read(Option<&'a str>),
    /// An acknowledged SET of this value.
    Write(&'a str),
}

pub fn check(calls: &[Call], finals: &[(String, Value)], v: &mut Verdict) {
    super::count(v, calls, "write");
    super::count(v, calls, "read");
    let oom = calls
        .iter()
        .filter(|c| c.f == "write" && c.outcome == "fail")
        .filter(|c| c.seen.as_str().is_some_and(|e| e.contains("OOM")))
        .count();
    v.stat("write_oom", oom as u64);
    let writer: HashMap<&str, &Call> = calls
        .iter()
        .filter(|c| c.f == "write")
        .map(|c| (super::field(&c.asked, "value"), c))
        .collect();
    // Where each connection's calls ran: its node's life, if it learned it.
    let node: HashMap<&str, &str> = calls
        .iter()
        .filter(|c| c.f == "read" && c.ok())
        .filter_map(|c| Some((c.process.as_str(), c.seen.get("node")?.as_str()?)))
        .collect();
    let scope = |c: &Call| match node.get(c.process.as_str()) {
        Some(id) => format!("node {}", id.chars().take(12).collect::<String>()),
        None => format!("connection {}", c.process),
    };
    let mut events: BTreeMap<(String, &str), Vec<(&Call, Event<'_>)>> = BTreeMap::new();
    let mut absent = 0u64;
    for c in calls.iter().filter(|c| c.ok()) {
        let key = super::field(&c.asked, "key");
        let event = match c.f.as_str() {
            "write" => Event::Write(super::field(&c.asked, "value")),
            "read" => {
                let value = c.seen["value"].as_str();
                match value {
                    Some(value) => written(&writer, key, value, c, "a read", v),
                    None => absent += 1,
                }
                Event::Read(value)
            }
            _ => continue,
        };
        events.entry((scope(c), key)).or_default().push((c, event));
    }
    v.stat("reads_absent", absent);
    let lives: HashSet<&&str> = node.values().collect();
    v.stat("node_lives_seen", lives.len() as u64);
    let mut checked = 0u64;
    for ((scope, key), events) in &events {
        checked += resurrections(scope, key, events, v);
    }
    v.stat("reads_after_a_value_was_gone", checked);
    for (region, last) in finals {
        let empty = Map::new();
        let held = last.as_object().unwrap_or(&empty);
        for (key, r) in held {
            match r["value"].as_str() {
                Some(value) if r.get("corrupt").is_none() => {
                    if !writer.get(value).is_some_and(|w| w.maybe()) {
                        v.anomaly(format!(
                            "{key}: {region}'s final read saw {value:?}, which no SET wrote"
                        ));
                    }
                }
                _ => v.anomaly(format!(
                    "{key}: {region} holds {}, bytes no SET wrote",
                    r["value"]
                )),
            }
        }
        v.stat(&format!("final_keys_{region}"), held.len() as u64);
    }
}

/// Whether `read`, which saw `value` of `key`, saw a write that may have happened, begun
/// before the read ended, with its bytes intact; an anomaly if not.
fn written(
    writer: &HashMap<&str, &Call>,
    key: &str,
    value: &str,
    read: &Call,
    what: &str,
    v: &mut Verdict,
) {
    if read.seen.get("corrupt").is_some() {
        v.anomaly(format!(
            "{key}: {what} at {:.0} ms saw {value:?}..., bytes no SET wrote",
            read.start_ms
        ));
        return;
    }
    match writer.get(value) {
        Some(w) if w.maybe() && w.start_ms < read.end_ms => {}
        Some(w) if w.maybe() => v.anomaly(format!(
            "{key}: {what} at {:.0} ms saw {value:?}, written only later (at {:.0} ms)",
            read.start_ms, w.start_ms
        )),
        Some(_) => v.anomaly(format!(
            "{key}: {what} at {:.0} ms saw {value:?}, whose SET was refused",
            read.start_ms
        )),
        None => v.anomaly(format!(
            "{key}: {what} at {:.0} ms saw {value:?}, which no SET wrote",
            read.start_ms
        )),
    }
}

/// The resurrection rule (module doc, 2) over one key's acknowledged calls in one scope;
/// returns how many reads it applied to (begun after some value was gone there).
fn resurrections(scope: &str, key: &str, events: &[(&Call, Event<'_>)], v: &mut Verdict) -> u64 {
    // When each value was first there: the end of the first read of it or of its SET.
    let mut there: HashMap<&str, f64> = HashMap::new();
    for (c, e) in events {
        if let Event::Read(Some(x)) | Event::Write(x) = e {
            let t = there.entry(x).or_insert(c.end_ms);
            *t = t.min(c.end_ms);
        }
    }
    let mut earliest_gone = f64::INFINITY;
    for (value, t0) in there {
        // The first call, begun after `t0`, that showed `value` gone from the node.
        let gone = events
            .iter()
            .filter(|(c, e)| {
                c.start_ms > t0
                    && match e {
                        Event::Read(None) => true,
                        Event::Write(w) => *w != value,
                        Event::Read(Some(_)) => false,
                    }
            })
            .min_by(|a, b| a.0.end_ms.total_cmp(&b.0.end_ms));
        let Some((g, how)) = gone else { continue };
        earliest_gone = earliest_gone.min(g.end_ms);
        let back = events.iter().find(|(c, e)| {
            c.start_ms > g.end_ms && matches!(e, Event::Read(Some(x)) if *x == value)
        });
        if let Some((r, _)) = back {
            let how = match how {
                Event::Write(w) => format!("a SET of {w:?} by {} replaced it", g.process),
                _ => format!("{} read the key absent", g.process),
            };
            v.anomaly(format!(
                "{key}: {value:?} resurrected at {scope}: there by {t0:.0} ms, gone by {:.0} ms \
                 ({how}), read again by {} at {:.0} ms",
                g.end_ms, r.process, r.start_ms
            ));
        }
    }
    events
        .iter()
        .filter(|(c, e)| matches!(e, Event::Read(_)) && c.start_ms > earliest_gone)
        .count() as u64
}

/// The eviction check (module doc, 4): the run's `evicted_keys`, summed over every node.
pub fn check_evictions(stats: &Map<String, Value>, v: &mut Verdict) {
    match stats.get("evicted_keys").and_then(Value::as_u64) {
        Some(n) if n > 0 => {}
        Some(_) => v.anomaly(
            "no node evicted a key (evicted_keys 0 everywhere): memory never filled, or \
             the nodes did not evict; eviction went untested"
                .to_string(),
        ),
        None => v.anomaly("no node's evicted_keys was read: eviction unverified".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Workload;
    use super::super::fake::{call, finals};
    use super::{check_evictions, payload, read_value, seen};
    use crate::history::Call;
    use crate::workload::Verdict;
    use serde_json::{Value, json};

    fn write(process: &str, key: &str, id: &str, outcome: &'static str, at: f64) -> Call {
        let asked = json!({ "key": key, "value": id });
        call(
            process,
            "write",
            asked.clone(),
            outcome,
            asked,
            (at, at + 1.0),
        )
    }

    /// A read by `process` of `key` that saw `id` (or nothing), on the node life `node` if
    /// given (the connection's first read names it).
    fn read(process: &str, key: &str, id: Option<&str>, node: Option<&str>, at: f64) -> Call {
        let raw = id.map(payload);
        let mut seen = read_value(key, raw.as_deref());
        if let Some(node) = node {
            seen["node"] = json!(node);
        }
        call(
            process,
            "read",
            json!({ "key": key }),
            "ok",
            seen,
            (at, at + 1.0),
        )
    }

    fn check(calls: &[Call]) -> Verdict {
        Workload::Cache.check(calls, &finals(json!({})), 0.0)
    }

    #[test]
    fn values_name_their_write_and_damaged_bytes_are_told_apart() {
        let v = payload("3-17");
        assert_eq!(v.len(), super::VALUE_BYTES);
        assert!(v.starts_with(b"3-17:3-173-17"));
        assert_eq!(seen(Some(&v)), (json!("3-17"), false));
        let mut damaged = v.clone();
        damaged[500] = b'x';
        assert!(seen(Some(&damaged)).1);
        assert!(seen(Some(b"3-17:short")).1);
        assert_eq!(seen(None), (Value::Null, false));
    }

    #[test]
    fn a_clean_history_with_evictions_and_overwrites_passes() {
        let calls = [
            read("0", "k", None, Some("n1"), 0.0),
            write("0", "k", "0-1", "ok", 2.0),
            read("1", "k", Some("0-1"), Some("n1"), 4.0),
            // Evicted: absent, and never "0-1" again there.
            read("1", "k", None, None, 6.0),
            read("0", "k", None, None, 8.0),
            // A write made elsewhere arrives.
            read("0", "k", Some("2-1"), None, 12.0),
            // Another region's concurrent write "2-1" may hide "0-9", and an eviction that
            // had seen "2-1" alone brings "0-9" back: allowed.
            write("0", "j", "0-9", "ok", 12.0),
            read("0", "j", Some("2-2"), None, 14.0),
            read("0", "j", Some("0-9"), None, 16.0),
            // After a restart (a new life of the node), an eviction may have been lost.
            read("0.1", "k", Some("0-1"), Some("n2"), 20.0),
        ];
        let mut all = calls.to_vec();
        all.push(write("4", "k", "2-1", "ok", 9.0));
        all.push(write("4", "j", "2-2", "info", 11.0));
        let v = Workload::Cache.check(
            &all,
            &finals(json!({ "k": read_value("k", Some(&payload("2-1"))) })),
            0.0,
        );
        assert!(v.valid, "{v:?}");
        assert_eq!(v.stats["reads_absent"], json!(3));
        assert_eq!(v.stats["node_lives_seen"], json!(2));
        assert_eq!(v.stats["reads_after_a_value_was_gone"], json!(2));
    }

    #[test]
    fn a_value_never_written_or_damaged_fails() {
        let v = check(&[read("0", "k", Some("7-7"), Some("n1"), 0.0)]);
        assert!(v.anomalies[0].contains("which no SET wrote"), "{v:?}");
        let later = [
            read("0", "k", Some("1-1"), Some("n1"), 0.0),
            write("1", "k", "1-1", "info", 5.0),
        ];
        let v = check(&later);
        assert!(v.anomalies[0].contains("written only later"), "{v:?}");
        let refused = [
            write("1", "k", "1-1", "fail", 0.0),
            read("0", "k", Some("1-1"), Some("n1"), 5.0),
        ];
        let v = check(&refused);
        assert!(v.anomalies[0].contains("refused"), "{v:?}");
        let mut damaged = payload("1-1");
        damaged[100] = b'?';
        let mut bad = read("0", "k", None, Some("n1"), 5.0);
        bad.seen = read_value("k", Some(&damaged));
        let v = check(&[write("1", "k", "1-1", "ok", 0.0), bad]);
        assert!(v.anomalies[0].contains("bytes no SET wrote"), "{v:?}");
        let end = json!({ "k": read_value("k", Some(&payload("5-5"))) });
        let v = Workload::Cache.check(&[], &finals(end), 0.0);
        assert!(v.anomalies[0].contains("final read"), "{v:?}");
    }

    #[test]
    fn a_value_read_again_after_it_was_gone_from_the_node_is_a_resurrection() {
        // Read absent on the same connection after writing it.
        let own = [
            write("0", "k", "0-1", "ok", 0.0),
            read("0", "k", None, Some("n1"), 2.0),
            read("0", "k", Some("0-1"), None, 4.0),
        ];
        let v = check(&own);
        assert!(v.anomalies[0].contains("resurrected at node n1"), "{v:?}");
        assert!(v.anomalies[0].contains("read the key absent"), "{v:?}");
        // Across connections of one node's life: one read it, another found it gone, a
        // third read it again.
        let shared = [
            write("3", "k", "3-1", "ok", 0.0),
            read("0", "k", Some("3-1"), Some("n1"), 2.0),
            read("1", "k", None, Some("n1"), 4.0),
            read("1.1", "k", Some("3-1"), Some("n1"), 6.0),
        ];
        let v = check(&shared);
        assert!(v.anomalies[0].contains("\"3-1\" resurrected"), "{v:?}");
        // Replaced by an acknowledged SET at the node, then read again.
        let replaced = [
            write("3", "k", "3-1", "ok", 0.0),
            read("0", "k", Some("3-1"), Some("n1"), 2.0),
            write("1", "k", "1-1", "ok", 4.0),
            read("1", "k", None, Some("n1"), 1.0),
            read("0", "k", Some("3-1"), None, 6.0),
        ];
        let v = check(&replaced);
        assert!(v.anomalies[0].contains("a SET of \"1-1\""), "{v:?}");
        // A connection that never learned its node is a scope of its own.
        let alone = [
            write("0", "k", "0-1", "ok", 0.0),
            read("0", "k", None, None, 2.0),
            read("0", "k", Some("0-1"), None, 4.0),
        ];
        let v = check(&alone);
        assert!(v.anomalies[0].contains("at connection 0"), "{v:?}");
        // Calls that overlap are not ordered: the absent read may have come first.
        let overlapping = [
            read("0", "k", Some("3-1"), Some("n1"), 2.0),
            read("1", "k", None, Some("n1"), 2.5),
            read("0", "k", Some("3-1"), None, 4.0),
        ];
        let mut calls = overlapping.to_vec();
        calls.push(write("3", "k", "3-1", "ok", 0.0));
        assert!(check(&calls).valid);
    }

    #[test]
    fn refused_writes_for_memory_are_counted_and_a_run_without_evictions_fails() {
        let mut oom = write("0", "k", "0-1", "fail", 0.0);
        oom.seen = json!("OOM: command not allowed when used memory > 'maxmemory'.");
        let v = check(&[oom, write("0", "k", "0-2", "fail", 2.0)]);
        assert_eq!(v.stats["write_oom"], json!(1));
        let judge = |stats: Value| {
            let mut v = Verdict::default();
            check_evictions(stats.as_object().expect("an object"), &mut v);
            v.anomalies
        };
        assert!(judge(json!({ "evicted_keys": 12 })).is_empty());
        assert!(judge(json!({ "evicted_keys": 0 }))[0].contains("eviction went untested"));
        assert!(judge(json!({}))[0].contains("unverified"));
    }
}
