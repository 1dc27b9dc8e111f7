//! What the topology tells each node to be: its role, its region's epoch, and the channels
//! into it.

use super::{AclRecord, ChannelState, Topology};
use serde::{Deserialize, Serialize};

/// What a node is told to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Secondary,
    /// The primary while a planned switchover hands its writes to a secondary: it keeps its
    /// channels but takes no writes.
    Fenced,
    /// Not (or no longer) in the topology.
    Removed,
}

/// A node's assignment: its role, its child instance's epoch, what it receives from, and
/// its instance's ACL users.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub role: Role,
    pub epoch: u64,
    pub upstreams: Vec<Upstream>,
    /// Part of the assignment so that a change of the users reaches every node of the
    /// instance at once, as a change of its channels does.
    pub acl: AclRecord,
}

/// One channel into a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstream {
    pub region: String,
    pub sync_addr: String,
    pub paused: bool,
    /// The node's server-id, as it last registered.
    pub server_id: u32,
    /// The node's client address (its name in the topology).
    pub addr: String,
}

impl Topology {
    /// What the node at `addr` is to do: a primary receives from the primaries of the
    /// regions with a channel to its region, and from its own secondaries; a secondary from
    /// its region's primary.
    ///
    /// A secondary normally has nothing its primary lacks. The exception is a former
    /// primary that comes back after a failover holding writes it took but never shipped:
    /// the channel from it is how those reach the new primary, and through it every region.
    ///
    /// A primary fenced for a switchover keeps its channels but is told to take no writes.
    pub fn assignment(&self, addr: &str) -> Assignment {
        let removed = Assignment {
            role: Role::Removed,
            epoch: 0,
            upstreams: Vec::new(),
            acl: AclRecord::default(),
        };
        let Some(node) = self.nodes.get(addr) else {
            return removed;
        };
        let Some(inst) = self.instances.get(&node.instance) else {
            return removed;
        };
        let Some(child) = inst.children.get(&node.region) else {
            return removed;
        };
        let primary_of = |region: &str| {
            let primary = inst.children.get(region)?.primary.as_ref()?;
            Some((primary, self.nodes.get(primary)?))
        };
        if child.primary.as_deref() == Some(addr) {
            let upstreams = inst
                .channels
                .iter()
                .filter(|c| c.to == node.region)
                .filter_map(|c| {
                    let (addr, from) = primary_of(&c.from)?;
                    Some(Upstream {
                        region: c.from.clone(),
                        sync_addr: from.sync_addr.clone(),
                        paused: c.state == ChannelState::Paused,
                        server_id: from.server_id,
                        addr: addr.clone(),
                    })
                })
                .chain(child.secondaries.iter().filter_map(|s| {
                    let secondary = self.nodes.get(s)?;
                    Some(Upstream {
                        region: node.region.clone(),
                        sync_addr: secondary.sync_addr.clone(),
                        paused: false,
                        server_id: secondary.server_id,
                        addr: s.clone(),
                    })
                }))
                .collect();
            Assignment {
                role: if child.fence.is_some() {
                    Role::Fenced
                } else {
                    Role::Primary
                },
                epoch: child.epoch,
                upstreams,
                acl: inst.acl.clone(),
            }
        } else {
            Assignment {
                role: Role::Secondary,
                epoch: child.epoch,
                upstreams: primary_of(&node.region)
                    .map(|(addr, primary)| Upstream {
                        region: node.region.clone(),
                        sync_addr: primary.sync_addr.clone(),
                        paused: false,
                        server_id: primary.server_id,
                        addr: addr.clone(),
                    })
                    .into_iter()
                    .collect(),
                acl: inst.acl.clone(),
            }
        }
    }
}
