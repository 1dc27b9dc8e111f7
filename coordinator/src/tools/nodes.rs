//! Asking nodes about themselves on their client ports (GDC.STATUS, GDC.DIGEST), for
//! gdcctl's `verify`, `switchover`, `attach` and `status`: typed replies, not INFO text.

use std::collections::BTreeMap;
use std::time::Duration;

/// A client connection to the node at `addr` (with its requirepass, if any) whose calls
/// give up after `timeout` rather than hang.
pub(crate) fn connect(
    addr: &str,
    password: Option<&str>,
    timeout: Duration,
) -> Result<redis::Connection, String> {
    let url = match password {
        Some(p) => format!("redis://:{p}@{addr}/"),
        None => format!("redis://{addr}/"),
    };
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let c = client
        .get_connection_with_timeout(timeout)
        .map_err(|e| format!("cannot reach {addr}: {e}"))?;
    c.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    Ok(c)
}

/// One inbound channel of a node, as GDC.STATUS shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Inbound {
    pub peer: String,
    /// connecting, catching-up, streaming, full-sync, paused or error.
    pub state: String,
    pub ops_behind: u64,
    pub ms_behind: u64,
}

/// Whether a node takes writes now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    Primary,
    /// Read-only: a secondary, or a fenced primary.
    Secondary,
}

impl std::fmt::Display for NodeRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NodeRole::Primary => "primary",
            NodeRole::Secondary => "secondary",
        })
    }
}

/// What a node says of itself.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NodeState {
    pub region: String,
    /// Whether coordinators run it: `none`, `following` or `removed`.
    pub coordination: String,
    pub role: NodeRole,
    pub epoch: u64,
    /// The coordinator's log index its assignment was made at (0 without a coordinator).
    pub assignment_index: u64,
    /// Its applied vector: server-id → op.
    pub applied: BTreeMap<u32, u64>,
    pub inbound: Vec<Inbound>,
}

/// Read the node's role, epoch, applied vector and inbound channels (GDC.STATUS).
pub fn node_state(
    addr: &str,
    password: Option<&str>,
    timeout: Duration,
) -> Result<NodeState, String> {
    let mut c = connect(addr, password, timeout)?;
    let status: redis::Value = redis::cmd("GDC.STATUS")
        .query(&mut c)
        .map_err(|e| format!("{addr}: GDC.STATUS: {e}"))?;
    parse_state(status).map_err(|what| format!("{addr} does not report its {what}"))
}

/// A map reply's entries by name (a RESP3 map, or RESP2's flat array of pairs).
fn entries(v: redis::Value) -> Option<BTreeMap<String, redis::Value>> {
    let pairs: Vec<(redis::Value, redis::Value)> = match v {
        redis::Value::Map(m) => m,
        redis::Value::Array(flat) if flat.len() % 2 == 0 => {
            let mut it = flat.into_iter();
            std::iter::from_fn(|| Some((it.next()?, it.next()?))).collect()
        }
        _ => return None,
    };
    pairs
        .into_iter()
        .map(|(k, v)| Some((text(&k)?, v)))
        .collect()
}

fn text(v: &redis::Value) -> Option<String> {
    match v {
        redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        redis::Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

fn number(v: &redis::Value) -> Option<u64> {
    match v {
        redis::Value::Int(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

fn parse_state(status: redis::Value) -> Result<NodeState, &'static str> {
    let mut m = entries(status).ok_or("status")?;
    let mut take = |k: &str| m.remove(k);
    let region = take("region").as_ref().and_then(text).ok_or("region")?;
    let coordination = take("coordination")
        .as_ref()
        .and_then(text)
        .ok_or("coordination")?;
    let role = match take("role").as_ref().and_then(text).as_deref() {
        Some("primary") => NodeRole::Primary,
        Some("secondary") => NodeRole::Secondary,
        _ => return Err("role"),
    };
    let epoch = take("epoch").as_ref().and_then(number).ok_or("epoch")?;
    let assignment_index = take("assignment_index")
        .as_ref()
        .and_then(number)
        .ok_or("assignment index")?;
    let applied = take("applied")
        .and_then(entries)
        .and_then(|e| {
            e.iter()
                .map(|(id, op)| Some((id.parse().ok()?, number(op)?)))
                .collect::<Option<BTreeMap<u32, u64>>>()
        })
        .ok_or("applied vector")?;
    let channels = match take("channels") {
        Some(redis::Value::Array(c)) => c,
        _ => return Err("channels"),
    };
    let mut inbound = Vec::new();
    for c in channels {
        let c = entries(c).ok_or("channels")?;
        let field = |k: &str| c.get(k).ok_or("channels");
        if text(field("direction")?).as_deref() != Some("in") {
            continue;
        }
        inbound.push(Inbound {
            peer: text(field("peer")?).ok_or("channels")?,
            state: text(field("state")?).ok_or("channels")?,
            ops_behind: number(field("ops_behind")?).ok_or("channels")?,
            ms_behind: number(field("ms_behind")?).ok_or("channels")?,
        });
    }
    Ok(NodeState {
        region,
        coordination,
        role,
        epoch,
        assignment_index,
        applied,
        inbound,
    })
}

/// The GDC.DIGEST of each of the node's `databases`.
pub(crate) fn digests(
    addr: &str,
    password: Option<&str>,
    databases: usize,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let mut c = connect(addr, password, timeout)?;
    (0..databases)
        .map(|db| {
            redis::cmd("GDC.DIGEST")
                .arg(db)
                .query::<String>(&mut c)
                .map_err(|e| format!("{addr}: GDC.DIGEST {db}: {e}"))
        })
        .collect()
}

/// The 256 bucket digests of database `db` (`GDC.DIGEST db BUCKETS`).
pub(crate) fn bucket_digests(
    addr: &str,
    password: Option<&str>,
    db: usize,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let mut c = connect(addr, password, timeout)?;
    redis::cmd("GDC.DIGEST")
        .arg(db)
        .arg("BUCKETS")
        .query(&mut c)
        .map_err(|e| format!("{addr}: GDC.DIGEST {db} BUCKETS: {e}"))
}

/// Each key of one bucket of database `db`, with its digest (`GDC.DIGEST db KEYS bucket`;
/// keys shown as text, lossily).
pub(crate) fn bucket_keys(
    addr: &str,
    password: Option<&str>,
    db: usize,
    bucket: usize,
    timeout: Duration,
) -> Result<BTreeMap<String, String>, String> {
    let mut c = connect(addr, password, timeout)?;
    let flat: Vec<Vec<u8>> = redis::cmd("GDC.DIGEST")
        .arg(db)
        .arg("KEYS")
        .arg(bucket)
        .query(&mut c)
        .map_err(|e| format!("{addr}: GDC.DIGEST {db} KEYS {bucket}: {e}"))?;
    Ok(flat
        .chunks(2)
        .filter_map(|pair| match pair {
            [k, d] => Some((
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(d).into_owned(),
            )),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn a_node_state_is_read_from_gdc_status_in_resp2_and_resp3() {
        let channel = |direction: &str| {
            Value::Array(vec![
                bulk("direction"),
                bulk(direction),
                bulk("peer"),
                bulk("us"),
                bulk("state"),
                bulk("streaming"),
                bulk("ops_behind"),
                Value::Int(2),
                bulk("ms_behind"),
                Value::Int(40),
            ])
        };
        let resp2 = Value::Array(vec![
            bulk("region"),
            bulk("eu"),
            bulk("coordination"),
            bulk("following"),
            bulk("role"),
            bulk("primary"),
            bulk("epoch"),
            Value::Int(3),
            bulk("assignment_index"),
            Value::Int(17),
            bulk("applied"),
            Value::Array(vec![bulk("7"), Value::Int(12), bulk("9"), Value::Int(3)]),
            bulk("channels"),
            Value::Array(vec![channel("in"), channel("out")]),
        ]);
        let s = parse_state(resp2).expect("parses");
        assert_eq!(
            (s.role, s.epoch, s.assignment_index),
            (NodeRole::Primary, 3, 17)
        );
        assert_eq!(s.applied, [(7, 12), (9, 3)].into());
        assert_eq!(
            s.inbound,
            [Inbound {
                peer: "us".into(),
                state: "streaming".into(),
                ops_behind: 2,
                ms_behind: 40
            }]
        );
        let resp3 = Value::Map(vec![
            (bulk("region"), bulk("us")),
            (bulk("coordination"), bulk("none")),
            (bulk("role"), bulk("secondary")),
            (bulk("epoch"), Value::Int(1)),
            (bulk("assignment_index"), Value::Int(0)),
            (bulk("applied"), Value::Map(vec![])),
            (bulk("channels"), Value::Array(vec![])),
        ]);
        let s = parse_state(resp3).expect("parses");
        assert_eq!((s.role, s.epoch), (NodeRole::Secondary, 1));
        assert_eq!((s.region.as_str(), s.coordination.as_str()), ("us", "none"));
        let no_epoch = Value::Array(vec![
            bulk("region"),
            bulk("eu"),
            bulk("coordination"),
            bulk("none"),
            bulk("role"),
            bulk("primary"),
        ]);
        assert_eq!(parse_state(no_epoch), Err("epoch"));
    }
}
