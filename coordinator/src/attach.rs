//! `gdcctl child attach`: a gdc-node that has run on its own joins an instance as a new
//! region's primary, with its data, without a restart.
//!
//! 1. The node is asked its region (INFO); it must be the region named.
//! 2. The region is added to the instance (full-mesh channels unless told otherwise), unless
//!    it is there already with no node.
//! 3. The node is sent `GDC.ATTACH token instance coordinators...` (the members' own
//!    addresses, which nodes can dial). It saves that in its data directory, refuses writes
//!    until it is assigned the primary, and registers.
//! 4. gdcctl waits until the node says it is the region's primary. Its data then flows out
//!    through the region's channels (its binlog, or a full sync where snapshots trimmed it)
//!    and the others' flows in; CRDT merge combines them key by key.
//!
//! If step 3 fails, a region step 2 added is removed again.

use crate::client::AdminClient;
use crate::nodes;
use crate::topology::Change;
use std::time::{Duration, Instant};

/// What an attach did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Attached {
    pub instance: String,
    pub region: String,
    /// The node, as the topology names it (its announced client address).
    pub node: String,
    pub epoch: u64,
    /// Whether the region was added by this attach (false: it was there, without nodes).
    pub region_added: bool,
}

/// How long the node may take to answer one call.
const NODE_TIMEOUT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(50);

/// Attach the node at `addr` to `instance` as region `region`'s primary, within `timeout`.
pub async fn attach(
    admin: &AdminClient,
    token: &str,
    (instance, region): (&str, &str),
    addr: &str,
    mesh: bool,
    password: Option<&str>,
    timeout: Duration,
) -> Result<Attached, String> {
    let deadline = Instant::now() + timeout;
    let serves = node_region(addr, password)?;
    if serves != region {
        return Err(format!(
            "the node at {addr} serves region '{serves}', not '{region}'"
        ));
    }
    let (t, _) = admin.topology().await?;
    let inst = t
        .instances
        .get(instance)
        .ok_or_else(|| format!("no instance '{instance}'"))?;
    let region_added = match inst.children.get(region) {
        None => {
            admin
                .change(&Change::AddChild {
                    instance: instance.into(),
                    region: region.into(),
                    mesh,
                })
                .await?;
            true
        }
        Some(c) if c.primary.is_none() && c.secondaries.is_empty() => false,
        Some(c) => {
            return Err(format!(
                "region '{region}' of '{instance}' already has nodes (primary {}): attach a node to a region of its own",
                c.primary.as_deref().unwrap_or("none")
            ));
        }
    };
    let members = admin.members().await?;
    let coordinators: Vec<String> = members.members.iter().map(|m| m.addr.clone()).collect();
    if let Err(e) = send_attach(addr, password, token, instance, &coordinators) {
        if region_added {
            let undo = admin
                .change(&Change::RemoveChild {
                    instance: instance.into(),
                    region: region.into(),
                })
                .await;
            if let Err(u) = undo {
                return Err(format!(
                    "{e} (and region '{region}', added for it, could not be removed: {u})"
                ));
            }
        }
        return Err(e);
    }
    // Registered and assigned: the node takes writes as the region's primary.
    loop {
        let state = nodes::node_state(addr, password, NODE_TIMEOUT);
        if let Ok(s) = &state {
            if s.role == "primary" && s.assignment_index > 0 {
                let (t, _) = admin.topology().await?;
                let child = t
                    .instances
                    .get(instance)
                    .and_then(|i| i.children.get(region))
                    .ok_or_else(|| format!("region '{region}' left '{instance}' meanwhile"))?;
                return Ok(Attached {
                    instance: instance.into(),
                    region: region.into(),
                    node: child.primary.clone().unwrap_or_default(),
                    epoch: s.epoch,
                    region_added,
                });
            }
        }
        if Instant::now() >= deadline {
            let said = match state {
                Ok(s) => format!("it says {} at epoch {}", s.role, s.epoch),
                Err(e) => e,
            };
            return Err(format!(
                "the node at {addr} was attached but is not yet region '{region}''s primary ({said}); see `gdcctl status {instance}` and its log"
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The region the node at `addr` serves (`gdc_region` in its INFO).
fn node_region(addr: &str, password: Option<&str>) -> Result<String, String> {
    let mut c = nodes::connect(addr, password, NODE_TIMEOUT)?;
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query(&mut c)
        .map_err(|e| format!("{addr}: INFO: {e}"))?;
    info.lines()
        .find_map(|l| l.strip_prefix("gdc_region:"))
        .map(|r| r.trim().to_string())
        .ok_or_else(|| format!("{addr} does not say its region: is it a gdc-node?"))
}

fn send_attach(
    addr: &str,
    password: Option<&str>,
    token: &str,
    instance: &str,
    coordinators: &[String],
) -> Result<(), String> {
    let mut c = nodes::connect(addr, password, NODE_TIMEOUT)?;
    redis::cmd("GDC.ATTACH")
        .arg(token)
        .arg(instance)
        .arg(coordinators)
        .query::<()>(&mut c)
        .map_err(|e| format!("{addr} refused to attach: {e}"))
}
