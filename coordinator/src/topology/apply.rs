//! Applying a [`Change`] to the [`Topology`]: each kind of change is checked, then made, by
//! a step of its own; a refused change (an `Err` with the reason) leaves the topology as it
//! was.

use super::change::{Change, Outcome};
use super::{AclRecord, Channel, ChannelState, Child, Fence, Instance, NodeInfo, Topology};

impl Topology {
    /// Apply `change`; refused changes leave everything as it was.
    pub fn apply(&mut self, change: &Change) -> Outcome {
        match change {
            Change::CreateInstance { name } => self.create_instance(name),
            Change::DeleteInstance { name } => self.delete_instance(name),
            Change::AddChild {
                instance,
                region,
                mesh,
            } => self.add_child(instance, region, *mesh),
            Change::RemoveChild { instance, region } => self.remove_child(instance, region),
            Change::RemoveNode { addr } => self.remove_node(addr),
            Change::Promote {
                instance,
                region,
                node,
                epoch,
                switchover,
            } => self.promote(instance, region, node, *epoch, *switchover),
            Change::Fence {
                instance,
                region,
                epoch,
                token,
                for_ms,
            } => {
                let fence = Fence {
                    token: *token,
                    for_ms: *for_ms,
                };
                self.fence(instance, region, *epoch, fence)
            }
            Change::Unfence {
                instance,
                region,
                epoch,
                token,
            } => self.unfence(instance, region, *epoch, *token),
            Change::RegisterNode {
                instance,
                region,
                addr,
                sync_addr,
                server_id,
            } => self.register_node(instance, region, addr, sync_addr, *server_id),
            Change::CreateChannel { instance, from, to } => self.create_channel(instance, from, to),
            Change::SetChannel {
                instance,
                from,
                to,
                state,
            } => self.set_channel(instance, from, to, *state),
            Change::DeleteChannel { instance, from, to } => self.delete_channel(instance, from, to),
            Change::SetAcl {
                instance,
                expected_version,
                lines,
            } => self.set_acl(instance, *expected_version, lines),
        }
    }

    fn create_instance(&mut self, name: &str) -> Outcome {
        check_name("instance", name)?;
        if self.instances.contains_key(name) {
            return Err(format!("instance '{name}' already exists"));
        }
        self.instances.insert(name.to_string(), Instance::default());
        Ok(())
    }

    fn delete_instance(&mut self, name: &str) -> Outcome {
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

    fn add_child(&mut self, instance: &str, region: &str, mesh: bool) -> Outcome {
        check_name("region", region)?;
        let inst = self.instance_mut(instance)?;
        if inst.children.contains_key(region) {
            return Err(format!(
                "instance '{instance}' already has region '{region}'"
            ));
        }
        if mesh {
            let others: Vec<String> = inst.children.keys().cloned().collect();
            for other in others {
                inst.channels.push(Channel::running(&other, region));
                inst.channels.push(Channel::running(region, &other));
            }
        }
        inst.children.insert(region.to_string(), Child::default());
        Ok(())
    }

    fn remove_child(&mut self, instance: &str, region: &str) -> Outcome {
        let inst = self.instance_mut(instance)?;
        if inst.children.remove(region).is_none() {
            return Err(format!("instance '{instance}' has no region '{region}'"));
        }
        inst.channels.retain(|c| c.from != region && c.to != region);
        self.nodes
            .retain(|_, n| !(n.instance == instance && n.region == region));
        Ok(())
    }

    fn remove_node(&mut self, addr: &str) -> Outcome {
        let node = self
            .nodes
            .get(addr)
            .ok_or_else(|| format!("no node {addr}"))?;
        let (instance, region) = (node.instance.clone(), node.region.clone());
        let child = self.child_mut(&instance, &region)?;
        if child.primary.as_deref() == Some(addr) {
            return Err(format!(
                "{addr} is region '{region}'s primary: fail it over first (gdcctl failover)"
            ));
        }
        child.secondaries.retain(|s| s != addr);
        self.nodes.remove(addr);
        Ok(())
    }

    fn promote(
        &mut self,
        instance: &str,
        region: &str,
        node: &str,
        epoch: u64,
        switchover: Option<u64>,
    ) -> Outcome {
        let child = self.child_mut(instance, region)?;
        at_epoch(child, region, epoch)?;
        if let Some(token) = switchover {
            if child.fence.map(|f| f.token) != Some(token) {
                return Err(format!(
                    "region '{region}' is no longer behind this switchover's fence: it was called off"
                ));
            }
        }
        if !child.secondaries.iter().any(|s| s == node) {
            return Err(format!("{node} is not a secondary of region '{region}'"));
        }
        child.secondaries.retain(|s| s != node);
        if let Some(old) = child.primary.replace(node.to_string()) {
            child.secondaries.push(old);
        }
        child.epoch += 1;
        child.fence = None;
        let epoch = child.epoch;
        self.record_primary(instance, region, epoch, node);
        Ok(())
    }

    fn fence(&mut self, instance: &str, region: &str, epoch: u64, fence: Fence) -> Outcome {
        let child = self.child_mut(instance, region)?;
        at_epoch(child, region, epoch)?;
        if child.primary.is_none() {
            return Err(format!("region '{region}' has no primary"));
        }
        match child.fence {
            Some(f) if f.token == fence.token => {}
            Some(_) => {
                return Err(format!("a switchover of region '{region}' is under way"));
            }
            None => child.fence = Some(fence),
        }
        Ok(())
    }

    fn unfence(&mut self, instance: &str, region: &str, epoch: u64, token: u64) -> Outcome {
        let child = self.child_mut(instance, region)?;
        at_epoch(child, region, epoch)?;
        if child.fence.map(|f| f.token) != Some(token) {
            return Err(format!("region '{region}' is not behind that fence"));
        }
        child.fence = None;
        Ok(())
    }

    fn register_node(
        &mut self,
        instance: &str,
        region: &str,
        addr: &str,
        sync_addr: &str,
        server_id: u32,
    ) -> Outcome {
        if let Some(known) = self.nodes.get(addr) {
            if known.instance != instance || known.region != region {
                return Err(format!(
                    "node {addr} already serves region '{}' of instance '{}'",
                    known.region, known.instance
                ));
            }
        }
        let child = self.child_mut(instance, region)?;
        match &child.primary {
            None => {
                child.primary = Some(addr.to_string());
                child.epoch += 1;
                let epoch = child.epoch;
                self.record_primary(instance, region, epoch, addr);
            }
            Some(p) if p == addr => {}
            Some(_) => {
                if !child.secondaries.iter().any(|s| s == addr) {
                    child.secondaries.push(addr.to_string());
                }
            }
        }
        self.nodes.insert(
            addr.to_string(),
            NodeInfo {
                instance: instance.to_string(),
                region: region.to_string(),
                sync_addr: sync_addr.to_string(),
                server_id,
            },
        );
        Ok(())
    }

    fn create_channel(&mut self, instance: &str, from: &str, to: &str) -> Outcome {
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

    fn set_channel(
        &mut self,
        instance: &str,
        from: &str,
        to: &str,
        state: ChannelState,
    ) -> Outcome {
        let inst = self.instance_mut(instance)?;
        let at = inst
            .channel(from, to)
            .ok_or_else(|| format!("no channel {from} -> {to} in '{instance}'"))?;
        inst.channels[at].state = state;
        Ok(())
    }

    /// A compare-and-set: refused unless the ACL is at `expected_version`. The lines are
    /// only checked to be user lines within the limits; the nodes read and check the rules.
    fn set_acl(&mut self, instance: &str, expected_version: u64, lines: &[String]) -> Outcome {
        let acl = &mut self.instance_mut(instance)?.acl;
        if acl.version != expected_version {
            return Err(format!(
                "the ACL of instance '{instance}' is at version {}, not {expected_version}",
                acl.version
            ));
        }
        let bytes: usize = lines.iter().map(String::len).sum();
        if lines.len() > ACL_LINES_MAX || bytes > ACL_BYTES_MAX {
            return Err(format!(
                "an ACL holds at most {ACL_LINES_MAX} users and {ACL_BYTES_MAX} bytes, not {} and {bytes}",
                lines.len()
            ));
        }
        if let Some((n, line)) = lines
            .iter()
            .enumerate()
            .find(|(_, l)| !l.starts_with("user ") || l.contains(['\n', '\r']))
        {
            return Err(format!(
                "ACL line {} is not one line starting with 'user ': '{line}'",
                n + 1
            ));
        }
        let version = expected_version
            .checked_add(1)
            .ok_or("the ACL's version cannot go higher")?;
        *acl = AclRecord {
            version,
            lines: lines.to_vec(),
        };
        Ok(())
    }

    fn delete_channel(&mut self, instance: &str, from: &str, to: &str) -> Outcome {
        let inst = self.instance_mut(instance)?;
        let at = inst
            .channel(from, to)
            .ok_or_else(|| format!("no channel {from} -> {to} in '{instance}'"))?;
        inst.channels.remove(at);
        Ok(())
    }
}

/// An instance's ACL holds at most this many users...
pub const ACL_LINES_MAX: usize = 10_000;
/// ...and this many bytes of lines: every assignment a node of the instance is sent
/// carries them all, and a gRPC message is at most 4 MiB.
pub const ACL_BYTES_MAX: usize = 1 << 20;

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
