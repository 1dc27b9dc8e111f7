//! Asking nodes about themselves on their client ports (INFO), for gdcctl's `verify`,
//! `failover` and `status`.

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

/// The value of `field` in an INFO reply.
pub(crate) fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(str::trim)
}

/// One inbound channel of a node, as its INFO shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Inbound {
    pub peer: String,
    pub state: String,
    pub ops_behind: u64,
    pub ms_behind: u64,
}

/// What a node says of itself.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NodeState {
    /// `primary` or `secondary` (read-only: a secondary, or a fenced primary).
    pub role: String,
    pub epoch: u64,
    /// The coordinator's log index its assignment was made at (0 without a coordinator).
    pub assignment_index: u64,
    /// Its applied vector: server-id → op.
    pub applied: BTreeMap<u32, u64>,
    pub inbound: Vec<Inbound>,
}

/// Read the node's role, epoch, applied vector and inbound channels.
pub fn node_state(
    addr: &str,
    password: Option<&str>,
    timeout: Duration,
) -> Result<NodeState, String> {
    let mut c = connect(addr, password, timeout)?;
    let mut info = |section: &str| {
        redis::cmd("INFO")
            .arg(section)
            .query::<String>(&mut c)
            .map_err(|e| format!("{addr}: INFO {section}: {e}"))
    };
    let (replication, gdc) = (info("replication")?, info("gdc")?);
    parse_state(&replication, &gdc).map_err(|what| format!("{addr} does not report its {what}"))
}

fn parse_state(replication: &str, gdc: &str) -> Result<NodeState, &'static str> {
    let applied = info_field(gdc, "applied")
        .ok_or("applied vector")?
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (id, op) = pair.split_once('=')?;
            Some((id.parse().ok()?, op.parse().ok()?))
        })
        .collect::<Option<BTreeMap<u32, u64>>>()
        .ok_or("applied vector")?;
    let inbound = replication
        .lines()
        .filter(|l| l.starts_with("gdc_inbound") && !l.starts_with("gdc_inbound_"))
        .map(|l| {
            let (_, fields) = l.split_once(':')?;
            let fields: BTreeMap<&str, &str> = fields
                .trim()
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .collect();
            Some(Inbound {
                peer: fields.get("peer")?.to_string(),
                state: fields.get("state")?.to_string(),
                ops_behind: fields.get("ops_behind")?.parse().ok()?,
                ms_behind: fields.get("ms_behind")?.parse().ok()?,
            })
        })
        .collect::<Option<Vec<Inbound>>>()
        .ok_or("inbound channels")?;
    Ok(NodeState {
        role: info_field(replication, "gdc_role")
            .ok_or("role")?
            .to_string(),
        epoch: info_field(replication, "gdc_epoch")
            .and_then(|e| e.parse().ok())
            .ok_or("epoch")?,
        assignment_index: info_field(replication, "gdc_assignment_index")
            .and_then(|e| e.parse().ok())
            .ok_or("assignment index")?,
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

    #[test]
    fn a_node_state_is_read_from_info() {
        let replication = "# Replication\r\nrole:master\r\ngdc_region:eu\r\ngdc_role:primary\r\ngdc_epoch:3\r\ngdc_assignment_index:17\r\ngdc_inbound_channels:1\r\ngdc_inbound0:peer=us,addr=h:1,state=streaming,ops_applied=9,ops_behind=2,ms_behind=40,last_error=\r\n";
        let gdc = "# Gdc\r\nserver_id:7\r\napplied:7=12,9=3\r\n";
        let s = parse_state(replication, gdc).expect("parses");
        assert_eq!(
            (s.role.as_str(), s.epoch, s.assignment_index),
            ("primary", 3, 17)
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
        assert_eq!(info_field(gdc, "server"), None, "whole names only");
        assert_eq!(parse_state("gdc_role:primary", gdc), Err("epoch"));
    }
}
