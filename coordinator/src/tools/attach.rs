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
//! If the node refuses step 3, a region step 2 added is removed again. If its answer is
//! lost, gdcctl asks the node whether it now follows the coordinators. Run again for a node
//! it attached, it reports what the node became.

use crate::client::AdminClient;
use crate::tools::nodes::{self, NodeRole};
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
/// Running it again for a node it attached (a lost reply) reports the attachment.
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
    let (serves, coordination) = node_standing(addr, password)?;
    if serves != region {
        return Err(format!(
            "the node at {addr} serves region '{serves}', not '{region}'"
        ));
    }
    let region_added = match coordination.as_str() {
        // Attached already, by an earlier run whose answer was lost, or run by coordinators
        // from its flags: see what it became.
        "following" => false,
        "removed" => {
            return Err(format!(
                "the node at {addr} was removed from its instance: restart it to register again"
            ));
        }
        _ => {
            let added = add_region(admin, instance, region, mesh).await?;
            attach_node(admin, (instance, region), addr, password, token, added).await?;
            added
        }
    };
    wait_until_primary(
        admin,
        (instance, region),
        addr,
        password,
        deadline,
        region_added,
    )
    .await
}

/// Add `region` to `instance` unless it is there without nodes; whether it was added.
async fn add_region(
    admin: &AdminClient,
    instance: &str,
    region: &str,
    mesh: bool,
) -> Result<bool, String> {
    let (t, _) = admin.topology().await?;
    let inst = t
        .instances
        .get(instance)
        .ok_or_else(|| format!("no instance '{instance}'"))?;
    match inst.children.get(region) {
        None => {
            admin
                .change(&Change::AddChild {
                    instance: instance.into(),
                    region: region.into(),
                    mesh,
                })
                .await?;
            Ok(true)
        }
        Some(c) if c.primary.is_none() && c.secondaries.is_empty() => Ok(false),
        Some(c) => Err(format!(
            "region '{region}' of '{instance}' already has nodes (primary {}): attach a node to a region of its own",
            c.primary.as_deref().unwrap_or("none")
        )),
    }
}

/// Send GDC.ATTACH. A refusal takes back the region added for it; a lost answer is settled
/// by asking the node whether it follows the coordinators now.
async fn attach_node(
    admin: &AdminClient,
    (instance, region): (&str, &str),
    addr: &str,
    password: Option<&str>,
    token: &str,
    region_added: bool,
) -> Result<(), String> {
    let members = admin.members().await?;
    let coordinators: Vec<String> = members.members.iter().map(|m| m.addr.clone()).collect();
    let refused = match send_attach(addr, password, token, instance, &coordinators) {
        Ok(()) => return Ok(()),
        Err(e) if e.code().is_some() => format!("{addr} refused to attach: {e}"),
        Err(e) => match node_standing(addr, password) {
            Ok((_, c)) if c == "following" => return Ok(()),
            Ok(_) => format!("{addr} did not attach: {e}"),
            // Attached or not, it cannot be told: leave the region for a second run.
            Err(now) => {
                return Err(format!(
                    "no answer from {addr} to GDC.ATTACH ({e}), nor since ({now}): run the same command again once it answers"
                ));
            }
        },
    };
    if region_added {
        let undo = admin
            .change(&Change::RemoveChild {
                instance: instance.into(),
                region: region.into(),
            })
            .await;
        if let Err(u) = undo {
            return Err(format!(
                "{refused} (and region '{region}', added for it, could not be removed: {u})"
            ));
        }
    }
    Err(refused)
}

/// Wait until the node says it is the region's primary; what it became.
async fn wait_until_primary(
    admin: &AdminClient,
    (instance, region): (&str, &str),
    addr: &str,
    password: Option<&str>,
    deadline: Instant,
    region_added: bool,
) -> Result<Attached, String> {
    loop {
        let state = nodes::node_state(addr, password, NODE_TIMEOUT);
        if let Ok(s) = &state {
            if s.role == NodeRole::Primary && s.assignment_index > 0 {
                let (t, _) = admin.topology().await?;
                let child = t
                    .instances
                    .get(instance)
                    .and_then(|i| i.children.get(region))
                    .ok_or_else(|| format!("region '{region}' is not in '{instance}'"))?;
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

/// The region the node at `addr` serves, and whether coordinators run it (`none`,
/// `following` or `removed`), from GDC.STATUS.
fn node_standing(addr: &str, password: Option<&str>) -> Result<(String, String), String> {
    let s = nodes::node_state(addr, password, NODE_TIMEOUT)
        .map_err(|e| format!("{e}: is it a gdc-node?"))?;
    Ok((s.region, s.coordination))
}

fn send_attach(
    addr: &str,
    password: Option<&str>,
    token: &str,
    instance: &str,
    coordinators: &[String],
) -> Result<(), redis::RedisError> {
    let mut c = nodes::connect(addr, password, NODE_TIMEOUT)
        .map_err(|e| redis::RedisError::from((redis::ErrorKind::IoError, "cannot connect", e)))?;
    redis::cmd("GDC.ATTACH")
        .arg(token)
        .arg(instance)
        .arg(coordinators)
        .query::<()>(&mut c)
}
