//! What the coordinators agree on: distributed instances, their child instances (one per
//! region), the nodes that serve them, and the channels between regions. Every change is a [`Change`] committed through
//! Raft and applied here, in log order, by every coordinator; applying is deterministic, so
//! all of them hold the same topology.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole topology (the state machine's data).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    /// Distributed instances by name.
    pub instances: BTreeMap<String, Instance>,
    /// Nodes by client address (`host:port`, their name).
    #[serde(default)]
    pub nodes: BTreeMap<String, NodeInfo>,
    /// Every change of a region's primary, in order: who took writes from which epoch.
    #[serde(default)]
    pub history: Vec<PrimaryEpoch>,
}

/// From `epoch` on, `primary` was the region's primary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryEpoch {
    pub instance: String,
    pub region: String,
    pub epoch: u64,
    pub primary: String,
}

/// A node that has registered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub instance: String,
    pub region: String,
    /// Where its sync port is reached (`host:port`).
    pub sync_addr: String,
    /// Its server-id when it last registered.
    pub server_id: u32,
}

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

/// A node's assignment: its role, its child instance's epoch, and what it receives from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub role: Role,
    pub epoch: u64,
    pub upstreams: Vec<Upstream>,
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

/// A distributed instance: one logical cache, with a child instance in each region.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Child instances by region name.
    pub children: BTreeMap<String, Child>,
    /// Channels between its regions, each one way.
    pub channels: Vec<Channel>,
}

/// A child instance: the nodes that serve one region of an instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Child {
    /// The node that takes writes (none until a node joins).
    pub primary: Option<String>,
    /// Nodes that follow the primary and serve reads.
    pub secondaries: Vec<String>,
    /// Raised at every change of primary; a node with an older epoch is fenced.
    pub epoch: u64,
    /// While a planned switchover is under way the primary takes no writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence: Option<Fence>,
}

/// A switchover's fence: whose it is, and how long the leader lets it stand if the
/// switchover neither finishes nor is called off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    /// Chosen by the switchover; its promote and unfence must name it.
    pub token: u64,
    pub for_ms: u64,
}

/// A one-way channel: every write made in `from` reaches `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub from: String,
    pub to: String,
    pub state: ChannelState,
}

/// What a channel's receiver is told to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelState {
    Running,
    Paused,
}

/// One change to the topology (the Raft log's entries).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Change {
    CreateInstance {
        name: String,
    },
    /// Only an instance with no children left.
    DeleteInstance {
        name: String,
    },
    /// A region joins the instance; with `mesh` (the default), channels both ways between
    /// it and every region already there.
    AddChild {
        instance: String,
        region: String,
        #[serde(default = "yes")]
        mesh: bool,
    },
    /// A region leaves the instance, with every channel to or from it.
    RemoveChild {
        instance: String,
        region: String,
    },
    CreateChannel {
        instance: String,
        from: String,
        to: String,
    },
    SetChannel {
        instance: String,
        from: String,
        to: String,
        state: ChannelState,
    },
    DeleteChannel {
        instance: String,
        from: String,
        to: String,
    },
    /// A secondary leaves its region for good (its machine is gone, or it is to serve
    /// elsewhere): it is told it is removed, and the others stop keeping binlog for it.
    /// A primary is not removed: fail it over first.
    RemoveNode {
        addr: String,
    },
    /// A node joins a region (or, already known, comes back): the region's first node is
    /// its primary, later ones secondaries.
    RegisterNode {
        instance: String,
        region: String,
        addr: String,
        sync_addr: String,
        server_id: u32,
    },
    /// Failover: `node`, a secondary, becomes the region's primary, and the old primary a
    /// secondary; the epoch goes up by one. Refused unless the region is still at `epoch`
    /// (so two decisions about one epoch cannot both apply).
    /// `switchover` (a fence's token): the end of a planned switchover, refused unless the
    /// region still stands behind that fence (it may have been lifted, and the old primary
    /// taken writes again, even if another switchover has fenced it since).
    Promote {
        instance: String,
        region: String,
        node: String,
        epoch: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        switchover: Option<u64>,
    },
    /// A planned switchover begins: the primary stops taking writes so that a secondary
    /// can catch up before it is promoted. The leader lifts the fence after `for_ms` if the
    /// switchover has not ended. Refused unless the region is at `epoch` and not fenced by
    /// another switchover (the same `token` again is a retry, and changes nothing).
    Fence {
        instance: String,
        region: String,
        epoch: u64,
        token: u64,
        for_ms: u64,
    },
    /// The switchover with `token` is called off: the primary takes writes again.
    Unfence {
        instance: String,
        region: String,
        epoch: u64,
        token: u64,
    },
}

fn yes() -> bool {
    true
}

/// Refuse a change decided about another epoch than the region's.
fn at_epoch(child: &Child, region: &str, epoch: u64) -> Outcome {
    if child.epoch == epoch {
        Ok(())
    } else {
        Err(format!(
            "region '{region}' is at epoch {}, not {epoch}",
            child.epoch
        ))
    }
}

/// What applying a change gives: `Err` with the reason when it was refused (the topology is
/// then unchanged).
pub type Outcome = Result<(), String>;

/// A change as the log holds it: with the id of the request that proposed it, if any, so
/// that a retry of a change whose reply was lost (committed, then a timeout or a change of
/// leader) is answered with the first outcome instead of being applied again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "ProposalWire", into = "ProposalWire")]
pub struct Proposal {
    pub request: Option<u64>,
    pub change: Change,
}

impl From<Change> for Proposal {
    fn from(change: Change) -> Proposal {
        Proposal {
            request: None,
            change,
        }
    }
}

/// How a proposal is written: with its request id, or, without one, as a bare change, as
/// logs written before request ids hold it (so a coordinator of that time reads it too).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ProposalWire {
    Proposal {
        #[serde(default)]
        request: Option<u64>,
        change: Change,
    },
    Bare(Change),
}

impl From<Proposal> for ProposalWire {
    fn from(p: Proposal) -> ProposalWire {
        match p.request {
            Some(request) => ProposalWire::Proposal {
                request: Some(request),
                change: p.change,
            },
            None => ProposalWire::Bare(p.change),
        }
    }
}

impl From<ProposalWire> for Proposal {
    fn from(w: ProposalWire) -> Proposal {
        match w {
            ProposalWire::Proposal { request, change } => Proposal { request, change },
            ProposalWire::Bare(change) => change.into(),
        }
    }
}

/// The outcomes of the last requests applied, by request id: a retry is answered from here.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecentRequests(std::collections::VecDeque<(u64, Outcome)>);

impl RecentRequests {
    /// Retries come within seconds; this many requests back is minutes of changes.
    const KEPT: usize = 1024;

    /// Apply `p` to `t`, or answer a retry with its first outcome.
    pub fn apply(&mut self, t: &mut Topology, p: &Proposal) -> Outcome {
        let Some(id) = p.request else {
            return t.apply(&p.change);
        };
        if let Some((_, first)) = self.0.iter().find(|(seen, _)| *seen == id) {
            return first.clone();
        }
        let outcome = t.apply(&p.change);
        if self.0.len() == Self::KEPT {
            self.0.pop_front();
        }
        self.0.push_back((id, outcome.clone()));
        outcome
    }
}

/// Names of instances and regions: what an operator can type and a log line can show.
fn check_name(what: &str, name: &str) -> Outcome {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} name '{name}' must be 1 to 64 letters, digits, '-', '_' or '.'"
        ))
    }
}

impl Topology {
    /// Apply `change`; refused changes leave everything as it was.
    pub fn apply(&mut self, change: &Change) -> Outcome {
        match change {
            Change::CreateInstance { name } => {
                check_name("instance", name)?;
                if self.instances.contains_key(name) {
                    return Err(format!("instance '{name}' already exists"));
                }
                self.instances.insert(name.clone(), Instance::default());
                Ok(())
            }
            Change::DeleteInstance { name } => {
                let inst = self.instance(name)?;
                if !inst.children.is_empty() {
                    let regions: Vec<&str> = inst.children.keys().map(String::as_str).collect();
                    return Err(format!(
                        "instance '{name}' still has regions {}: remove them first",
                        regions.join(", ")
                    ));
                }
                self.instances.remove(name);
                Ok(())
            }
            Change::AddChild {
                instance,
                region,
                mesh,
            } => {
                check_name("region", region)?;
                let inst = self.instance_mut(instance)?;
                if inst.children.contains_key(region) {
                    return Err(format!(
                        "instance '{instance}' already has region '{region}'"
                    ));
                }
                if *mesh {
                    let others: Vec<String> = inst.children.keys().cloned().collect();
                    for other in others {
                        inst.channels.push(Channel::running(&other, region));
                        inst.channels.push(Channel::running(region, &other));
                    }
                }
                inst.children.insert(region.clone(), Child::default());
                Ok(())
            }
            Change::RemoveChild { instance, region } => {
                let inst = self.instance_mut(instance)?;
                if inst.children.remove(region).is_none() {
                    return Err(format!("instance '{instance}' has no region '{region}'"));
                }
                inst.channels
                    .retain(|c| c.from != *region && c.to != *region);
                self.nodes
                    .retain(|_, n| !(n.instance == *instance && n.region == *region));
                Ok(())
            }
            Change::RemoveNode { addr } => {
                let node = self
                    .nodes
                    .get(addr)
                    .ok_or_else(|| format!("no node {addr}"))?;
                let (instance, region) = (node.instance.clone(), node.region.clone());
                let child = self.child_mut(&instance, &region)?;
                if child.primary.as_deref() == Some(addr.as_str()) {
                    return Err(format!(
                        "{addr} is region '{region}'s primary: fail it over first (gdcctl failover)"
                    ));
                }
                child.secondaries.retain(|s| s != addr);
                self.nodes.remove(addr);
                Ok(())
            }
            Change::Promote {
                instance,
                region,
                node,
                epoch,
                switchover,
            } => {
                let child = self.child_mut(instance, region)?;
                at_epoch(child, region, *epoch)?;
                if let Some(token) = switchover {
                    if child.fence.map(|f| f.token) != Some(*token) {
                        return Err(format!(
                            "region '{region}' is no longer behind this switchover's fence: it was called off"
                        ));
                    }
                }
                if !child.secondaries.contains(node) {
                    return Err(format!("{node} is not a secondary of region '{region}'"));
                }
                child.secondaries.retain(|s| s != node);
                if let Some(old) = child.primary.replace(node.clone()) {
                    child.secondaries.push(old);
                }
                child.epoch += 1;
                child.fence = None;
                let epoch = child.epoch;
                self.record_primary(instance, region, epoch, node);
                Ok(())
            }
            Change::Fence {
                instance,
                region,
                epoch,
                token,
                for_ms,
            } => {
                let child = self.child_mut(instance, region)?;
                at_epoch(child, region, *epoch)?;
                if child.primary.is_none() {
                    return Err(format!("region '{region}' has no primary"));
                }
                match child.fence {
                    Some(f) if f.token == *token => {}
                    Some(_) => {
                        return Err(format!("a switchover of region '{region}' is under way"));
                    }
                    None => {
                        child.fence = Some(Fence {
                            token: *token,
                            for_ms: *for_ms,
                        })
                    }
                }
                Ok(())
            }
            Change::Unfence {
                instance,
                region,
                epoch,
                token,
            } => {
                let child = self.child_mut(instance, region)?;
                at_epoch(child, region, *epoch)?;
                if child.fence.map(|f| f.token) != Some(*token) {
                    return Err(format!("region '{region}' is not behind that fence"));
                }
                child.fence = None;
                Ok(())
            }
            Change::RegisterNode {
                instance,
                region,
                addr,
                sync_addr,
                server_id,
            } => {
                if let Some(known) = self.nodes.get(addr) {
                    if known.instance != *instance || known.region != *region {
                        return Err(format!(
                            "node {addr} already serves region '{}' of instance '{}'",
                            known.region, known.instance
                        ));
                    }
                }
                let child = self.child_mut(instance, region)?;
                match &child.primary {
                    None => {
                        child.primary = Some(addr.clone());
                        child.epoch += 1;
                        let epoch = child.epoch;
                        self.record_primary(instance, region, epoch, addr);
                    }
                    Some(p) if p == addr => {}
                    Some(_) => {
                        if !child.secondaries.contains(addr) {
                            child.secondaries.push(addr.clone());
                        }
                    }
                }
                self.nodes.insert(
                    addr.clone(),
                    NodeInfo {
                        instance: instance.clone(),
                        region: region.clone(),
                        sync_addr: sync_addr.clone(),
                        server_id: *server_id,
                    },
                );
                Ok(())
            }
            Change::CreateChannel { instance, from, to } => {
                let inst = self.instance_mut(instance)?;
                for r in [from, to] {
                    if !inst.children.contains_key(r) {
                        return Err(format!("instance '{instance}' has no region '{r}'"));
                    }
                }
                if from == to {
                    return Err("a channel joins two different regions".into());
                }
                if inst.channel(from, to).is_some() {
                    return Err(format!("channel {from} -> {to} already exists"));
                }
                inst.channels.push(Channel::running(from, to));
                Ok(())
            }
            Change::SetChannel {
                instance,
                from,
                to,
                state,
            } => {
                let inst = self.instance_mut(instance)?;
                let at = inst
                    .channel(from, to)
                    .ok_or_else(|| format!("no channel {from} -> {to} in '{instance}'"))?;
                inst.channels[at].state = *state;
                Ok(())
            }
            Change::DeleteChannel { instance, from, to } => {
                let inst = self.instance_mut(instance)?;
                let at = inst
                    .channel(from, to)
                    .ok_or_else(|| format!("no channel {from} -> {to} in '{instance}'"))?;
                inst.channels.remove(at);
                Ok(())
            }
        }
    }

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
            }
        }
    }

    fn child_mut(&mut self, instance: &str, region: &str) -> Result<&mut Child, String> {
        self.instance_mut(instance)?
            .children
            .get_mut(region)
            .ok_or_else(|| format!("instance '{instance}' has no region '{region}'"))
    }

    /// From `epoch` on, `primary` takes the region's writes.
    fn record_primary(&mut self, instance: &str, region: &str, epoch: u64, primary: &str) {
        self.history.push(PrimaryEpoch {
            instance: instance.to_string(),
            region: region.to_string(),
            epoch,
            primary: primary.to_string(),
        });
    }

    fn instance(&self, name: &str) -> Result<&Instance, String> {
        self.instances
            .get(name)
            .ok_or_else(|| format!("no instance '{name}'"))
    }

    fn instance_mut(&mut self, name: &str) -> Result<&mut Instance, String> {
        self.instances
            .get_mut(name)
            .ok_or_else(|| format!("no instance '{name}'"))
    }
}

impl Instance {
    /// Where the channel `from -> to` is in the list.
    fn channel(&self, from: &str, to: &str) -> Option<usize> {
        self.channels
            .iter()
            .position(|c| c.from == from && c.to == to)
    }
}

impl Channel {
    fn running(from: &str, to: &str) -> Channel {
        Channel {
            from: from.to_string(),
            to: to.to_string(),
            state: ChannelState::Running,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(json: &str) -> Change {
        serde_json::from_str(json).expect("a change")
    }

    #[test]
    fn a_retried_request_gets_its_first_outcome_and_is_not_applied_again() {
        let mut t = Topology::default();
        let mut requests = RecentRequests::default();
        let create = |request| Proposal {
            request,
            change: change(r#"{"op":"create-instance","name":"shop"}"#),
        };
        assert_eq!(requests.apply(&mut t, &create(Some(7))), Ok(()));
        assert_eq!(
            requests.apply(&mut t, &create(Some(7))),
            Ok(()),
            "a retry whose first attempt was committed"
        );
        assert_eq!(
            requests.apply(&mut t, &create(Some(8))),
            Err("instance 'shop' already exists".into()),
            "another request"
        );
        assert_eq!(
            requests.apply(&mut t, &create(None)),
            Err("instance 'shop' already exists".into())
        );
        // A refusal is remembered too: the retry is refused for the same reason, even though
        // the change would now pass.
        let delete = |request| Proposal {
            request,
            change: change(r#"{"op":"delete-instance","name":"gone"}"#),
        };
        let refused = requests.apply(&mut t, &delete(Some(9)));
        assert!(refused.is_err());
        t.apply(&change(r#"{"op":"create-instance","name":"gone"}"#))
            .expect("create");
        assert_eq!(requests.apply(&mut t, &delete(Some(9))), refused);
        // Only so many are kept.
        for id in 100..100 + RecentRequests::KEPT as u64 {
            let _ = requests.apply(&mut t, &create(Some(id)));
        }
        assert_eq!(requests.0.len(), RecentRequests::KEPT);
        assert!(requests.0.iter().all(|(id, _)| *id >= 100));
    }

    #[test]
    fn proposals_read_as_written_and_bare_changes_as_older_logs_hold_them() {
        let p = Proposal {
            request: Some(42),
            change: change(r#"{"op":"create-instance","name":"shop"}"#),
        };
        let json = serde_json::to_string(&p).expect("json");
        assert_eq!(
            json,
            r#"{"request":42,"change":{"op":"create-instance","name":"shop"}}"#
        );
        assert_eq!(serde_json::from_str::<Proposal>(&json).expect("read"), p);
        let bare: Proposal =
            serde_json::from_str(r#"{"op":"create-instance","name":"shop"}"#).expect("bare");
        assert_eq!(bare, Proposal::from(p.change.clone()));
        assert_eq!(
            serde_json::to_string(&bare).expect("json"),
            r#"{"op":"create-instance","name":"shop"}"#,
            "without a request id, written as before"
        );
        assert!(serde_json::from_str::<Proposal>(r#"{"op":"no-such-op"}"#).is_err());
    }

    fn pairs(inst: &Instance) -> Vec<(&str, &str)> {
        let mut p: Vec<_> = inst
            .channels
            .iter()
            .map(|c| (c.from.as_str(), c.to.as_str()))
            .collect();
        p.sort();
        p
    }

    #[test]
    fn regions_join_in_a_full_mesh_unless_told_otherwise() {
        let mut t = Topology::default();
        for json in [
            r#"{"op":"create-instance","name":"shop"}"#,
            r#"{"op":"add-child","instance":"shop","region":"eu"}"#,
            r#"{"op":"add-child","instance":"shop","region":"us"}"#,
            r#"{"op":"add-child","instance":"shop","region":"ap"}"#,
            r#"{"op":"add-child","instance":"shop","region":"analytics","mesh":false}"#,
            r#"{"op":"create-channel","instance":"shop","from":"eu","to":"analytics"}"#,
        ] {
            assert_eq!(t.apply(&change(json)), Ok(()), "{json}");
        }
        let shop = &t.instances["shop"];
        assert_eq!(
            pairs(shop),
            vec![
                ("ap", "eu"),
                ("ap", "us"),
                ("eu", "analytics"),
                ("eu", "ap"),
                ("eu", "us"),
                ("us", "ap"),
                ("us", "eu"),
            ]
        );
        assert_eq!(
            t.apply(&change(
                r#"{"op":"set-channel","instance":"shop","from":"eu","to":"us","state":"paused"}"#
            )),
            Ok(())
        );
        let eu_us = shop_channel(&t, "eu", "us");
        assert_eq!(eu_us.state, ChannelState::Paused);
        // Removing a region takes its channels with it.
        assert_eq!(
            t.apply(&change(
                r#"{"op":"remove-child","instance":"shop","region":"eu"}"#
            )),
            Ok(())
        );
        assert_eq!(
            pairs(&t.instances["shop"]),
            vec![("ap", "us"), ("us", "ap")]
        );
    }

    fn shop_channel<'a>(t: &'a Topology, from: &str, to: &str) -> &'a Channel {
        t.instances["shop"]
            .channels
            .iter()
            .find(|c| c.from == from && c.to == to)
            .expect("channel")
    }

    #[test]
    fn refused_changes_say_why_and_change_nothing() {
        let mut t = Topology::default();
        t.apply(&change(r#"{"op":"create-instance","name":"shop"}"#))
            .expect("created");
        t.apply(&change(
            r#"{"op":"add-child","instance":"shop","region":"eu"}"#,
        ))
        .expect("added");
        let before = t.clone();
        for (json, why) in [
            (
                r#"{"op":"create-instance","name":"shop"}"#,
                "already exists",
            ),
            (
                r#"{"op":"create-instance","name":"a b"}"#,
                "must be 1 to 64",
            ),
            (r#"{"op":"create-instance","name":""}"#, "must be 1 to 64"),
            (
                r#"{"op":"delete-instance","name":"shop"}"#,
                "still has regions eu",
            ),
            (
                r#"{"op":"delete-instance","name":"nope"}"#,
                "no instance 'nope'",
            ),
            (
                r#"{"op":"add-child","instance":"shop","region":"eu"}"#,
                "already has region",
            ),
            (
                r#"{"op":"create-channel","instance":"shop","from":"eu","to":"us"}"#,
                "no region 'us'",
            ),
            (
                r#"{"op":"create-channel","instance":"shop","from":"eu","to":"eu"}"#,
                "two different regions",
            ),
            (
                r#"{"op":"delete-channel","instance":"shop","from":"eu","to":"us"}"#,
                "no channel eu -> us",
            ),
        ] {
            let got = t.apply(&change(json));
            assert!(
                got.as_ref().is_err_and(|e| e.contains(why)),
                "{json}: {got:?}"
            );
            assert_eq!(t, before, "{json} changed the topology");
        }
    }

    #[test]
    fn nodes_get_roles_and_channels_from_the_topology() {
        let mut t = Topology::default();
        let register = |region: &str, addr: &str| Change::RegisterNode {
            instance: "shop".into(),
            region: region.into(),
            addr: addr.into(),
            sync_addr: format!("sync-{addr}"),
            server_id: 7,
        };
        for json in [
            r#"{"op":"create-instance","name":"shop"}"#,
            r#"{"op":"add-child","instance":"shop","region":"eu"}"#,
            r#"{"op":"add-child","instance":"shop","region":"us"}"#,
        ] {
            t.apply(&change(json)).expect(json);
        }
        t.apply(&register("eu", "eu1")).expect("eu1");
        t.apply(&register("eu", "eu2")).expect("eu2");
        // Registering again changes nothing.
        t.apply(&register("eu", "eu2")).expect("eu2 again");
        assert_eq!(t.instances["shop"].children["eu"].secondaries, ["eu2"]);
        let eu1 = t.assignment("eu1");
        assert_eq!((eu1.role, eu1.epoch), (Role::Primary, 1));
        // No channel from us yet (no node there), but one from its own secondary.
        let from_eu2 = Upstream {
            region: "eu".into(),
            sync_addr: "sync-eu2".into(),
            paused: false,
            server_id: 7,
            addr: "eu2".into(),
        };
        assert_eq!(eu1.upstreams, std::slice::from_ref(&from_eu2));
        t.apply(&register("us", "us1")).expect("us1");
        let eu1 = t.assignment("eu1");
        assert_eq!(
            eu1.upstreams,
            [
                Upstream {
                    region: "us".into(),
                    sync_addr: "sync-us1".into(),
                    paused: false,
                    server_id: 7,
                    addr: "us1".into(),
                },
                from_eu2
            ]
        );
        let eu2 = t.assignment("eu2");
        assert_eq!(eu2.role, Role::Secondary);
        assert_eq!(eu2.upstreams[0].sync_addr, "sync-eu1");
        assert_eq!(eu2.upstreams[0].addr, "eu1");
        assert_eq!(eu2.upstreams[0].region, "eu");
        t.apply(&change(
            r#"{"op":"set-channel","instance":"shop","from":"us","to":"eu","state":"paused"}"#,
        ))
        .expect("pause");
        assert!(t.assignment("eu1").upstreams[0].paused);
        assert_eq!(
            t.apply(&register("us", "eu1")),
            Err("node eu1 already serves region 'eu' of instance 'shop'".into())
        );
        assert_eq!(
            t.apply(&register("ap", "ap1")),
            Err("instance 'shop' has no region 'ap'".into())
        );
        // A planned switchover fences eu1: it keeps its channels and takes no writes, until
        // the switchover ends or is called off. One at a time.
        let fence = |epoch, token| Change::Fence {
            instance: "shop".into(),
            region: "eu".into(),
            epoch,
            token,
            for_ms: 5000,
        };
        let unfence = |token| Change::Unfence {
            instance: "shop".into(),
            region: "eu".into(),
            epoch: 1,
            token,
        };
        assert_eq!(
            t.apply(&fence(2, 10)),
            Err("region 'eu' is at epoch 1, not 2".into())
        );
        let unfenced = t.assignment("eu1");
        t.apply(&fence(1, 10)).expect("fence");
        t.apply(&fence(1, 10))
            .expect("the same fence again: a retry");
        assert_eq!(
            t.apply(&fence(1, 11)),
            Err("a switchover of region 'eu' is under way".into())
        );
        assert_eq!(
            t.apply(&unfence(11)),
            Err("region 'eu' is not behind that fence".into())
        );
        let fenced = t.assignment("eu1");
        assert_eq!(fenced.role, Role::Fenced);
        assert_eq!(fenced.upstreams, unfenced.upstreams);
        t.apply(&unfence(10)).expect("unfence");
        assert_eq!(t.assignment("eu1").role, Role::Primary);
        // A switchover's promotion once its fence is gone is refused, even behind another
        // switchover's fence: eu1 may have taken writes in between.
        let switch_to_eu2 = |token| Change::Promote {
            instance: "shop".into(),
            region: "eu".into(),
            node: "eu2".into(),
            epoch: 1,
            switchover: Some(token),
        };
        let called_off = Err(
            "region 'eu' is no longer behind this switchover's fence: it was called off".into(),
        );
        assert_eq!(t.apply(&switch_to_eu2(10)), called_off);
        t.apply(&fence(1, 12)).expect("another switchover");
        assert_eq!(t.apply(&switch_to_eu2(10)), called_off);
        // Failover: eu2 takes over at epoch 2; a second decision about epoch 1 is refused.
        let promote = |node: &str, epoch| Change::Promote {
            instance: "shop".into(),
            region: "eu".into(),
            node: node.into(),
            epoch,
            switchover: None,
        };
        t.apply(&switch_to_eu2(12))
            .expect("the switchover ends: eu2 promoted");
        assert_eq!(
            t.apply(&promote("eu1", 1)),
            Err("region 'eu' is at epoch 2, not 1".into())
        );
        assert_eq!(
            (t.assignment("eu2").role, t.assignment("eu2").epoch),
            (Role::Primary, 2)
        );
        assert_eq!(t.assignment("eu1").role, Role::Secondary);
        assert_eq!(t.instances["shop"].children["eu"].fence, None);
        assert_eq!(t.assignment("eu1").upstreams[0].sync_addr, "sync-eu2");
        // The new primary receives from the old one: what it never shipped drains.
        let eu2 = t.assignment("eu2");
        assert_eq!(
            (
                eu2.upstreams[1].region.as_str(),
                eu2.upstreams[1].sync_addr.as_str()
            ),
            ("eu", "sync-eu1")
        );
        assert_eq!(t.assignment("us1").upstreams[0].sync_addr, "sync-eu2");
        let epochs: Vec<(&str, u64, &str)> = t
            .history
            .iter()
            .map(|h| (h.region.as_str(), h.epoch, h.primary.as_str()))
            .collect();
        assert_eq!(
            epochs,
            [("eu", 1, "eu1"), ("us", 1, "us1"), ("eu", 2, "eu2")]
        );
        // eu1, now a secondary, leaves for good; eu2, the primary, cannot.
        assert_eq!(
            t.apply(&change(r#"{"op":"remove-node","addr":"eu2"}"#)),
            Err("eu2 is region 'eu's primary: fail it over first (gdcctl failover)".into())
        );
        t.apply(&change(r#"{"op":"remove-node","addr":"eu1"}"#))
            .expect("remove eu1");
        assert_eq!(t.assignment("eu1").role, Role::Removed);
        assert!(t.instances["shop"].children["eu"].secondaries.is_empty());
        assert!(
            t.assignment("eu2")
                .upstreams
                .iter()
                .all(|u| u.sync_addr != "sync-eu1"),
            "no channel from it"
        );
        assert_eq!(
            t.apply(&change(r#"{"op":"remove-node","addr":"eu1"}"#)),
            Err("no node eu1".into())
        );
        t.apply(&change(
            r#"{"op":"remove-child","instance":"shop","region":"eu"}"#,
        ))
        .expect("remove");
        assert_eq!(t.assignment("eu2").role, Role::Removed);
        assert!(t.assignment("us1").upstreams.is_empty());
    }

    #[test]
    fn changes_and_topologies_round_trip_through_json() {
        let c = change(r#"{"op":"add-child","instance":"shop","region":"eu"}"#);
        assert_eq!(
            c,
            Change::AddChild {
                instance: "shop".into(),
                region: "eu".into(),
                mesh: true
            }
        );
        let back: Change =
            serde_json::from_str(&serde_json::to_string(&c).expect("json")).expect("parses");
        assert_eq!(back, c);
        assert!(serde_json::from_str::<Change>(r#"{"op":"launch-rockets"}"#).is_err());
        assert!(
            serde_json::from_str::<Change>(r#"{"op":"create-instance","name":"x","evil":1}"#)
                .is_err()
        );
    }
}
