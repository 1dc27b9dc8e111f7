//! `gdcctl status`: the topology as the coordinators hold it, beside what each node says of
//! itself (whether it answers, its role and epoch, how far behind its channels are).

use crate::nodes::{self, NodeState};
use crate::topology::{ChannelState, Topology};
use std::time::Duration;

/// How long a node may take to answer: a stopped node must not hold the report up long.
const NODE_TIMEOUT: Duration = Duration::from_secs(2);

/// One node: what the topology makes it, and what it says.
#[derive(Clone, Debug, serde::Serialize)]
pub struct NodeReport {
    pub instance: String,
    pub region: String,
    pub addr: String,
    /// `primary`, `fenced` (a primary during a switchover) or `secondary`.
    pub assigned: &'static str,
    pub epoch: u64,
    /// What it says, or why it did not answer.
    pub seen: Option<NodeState>,
    pub error: Option<String>,
}

impl NodeReport {
    /// `ok` when the node holds the role and epoch it was given.
    pub fn health(&self) -> String {
        match (&self.seen, &self.error) {
            (None, e) => format!("down ({})", e.as_deref().unwrap_or("no answer")),
            (Some(s), _) => {
                let expected = if self.assigned == "primary" {
                    "primary"
                } else {
                    "secondary"
                };
                if s.role == expected && s.epoch == self.epoch {
                    "ok".into()
                } else {
                    format!("says {} at epoch {}", s.role, s.epoch)
                }
            }
        }
    }

    /// The most any of its inbound channels is behind, in ms, and the ops they all lack.
    pub fn behind(&self) -> Option<(u64, u64)> {
        let s = self.seen.as_ref()?;
        Some((
            s.inbound.iter().map(|c| c.ms_behind).max().unwrap_or(0),
            s.inbound.iter().map(|c| c.ops_behind).sum(),
        ))
    }
}

/// Ask every node in the topology (of `only`, if given), all at once, each given
/// [`NODE_TIMEOUT`]. In topology order: each region's primary, then its secondaries.
pub fn probe(t: &Topology, only: Option<&str>, password: Option<&str>) -> Vec<NodeReport> {
    let mut reports: Vec<NodeReport> = t
        .instances
        .iter()
        .filter(|(name, _)| only.is_none_or(|o| o == name.as_str()))
        .flat_map(|(name, inst)| {
            inst.children.iter().flat_map(move |(region, child)| {
                let fenced = child.fence.is_some();
                let primary = child
                    .primary
                    .iter()
                    .map(move |p| (p, if fenced { "fenced" } else { "primary" }));
                let secondaries = child.secondaries.iter().map(|s| (s, "secondary"));
                primary
                    .chain(secondaries)
                    .map(move |(addr, assigned)| NodeReport {
                        instance: name.clone(),
                        region: region.clone(),
                        addr: addr.clone(),
                        assigned,
                        epoch: child.epoch,
                        seen: None,
                        error: None,
                    })
            })
        })
        .collect();
    // A stopped process accepts connections and never answers: ask from threads, and give
    // up on those still silent at the deadline.
    let asked: Vec<_> = reports
        .iter()
        .map(|r| {
            let (tx, rx) = std::sync::mpsc::channel();
            let (addr, password) = (r.addr.clone(), password.map(str::to_string));
            std::thread::spawn(move || {
                let _ = tx.send(nodes::node_state(&addr, password.as_deref(), NODE_TIMEOUT));
            });
            rx
        })
        .collect();
    let deadline = std::time::Instant::now() + NODE_TIMEOUT;
    for (r, rx) in reports.iter_mut().zip(asked) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(Ok(state)) => r.seen = Some(state),
            Ok(Err(e)) => r.error = Some(e),
            Err(_) => r.error = Some(format!("no answer within {NODE_TIMEOUT:?}")),
        }
    }
    reports
}

/// One channel, as its receiver (the `to` region's primary) reports it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ChannelReport {
    pub instance: String,
    pub from: String,
    pub to: String,
    pub desired: ChannelState,
    /// The receiver's view: its state, ms and ops behind; `None` if it did not answer or
    /// has no such channel yet.
    pub state: Option<String>,
    pub ms_behind: Option<u64>,
    pub ops_behind: Option<u64>,
}

/// Every channel (of `only`), with what its receiver said in `reports`.
pub fn channels(t: &Topology, only: Option<&str>, reports: &[NodeReport]) -> Vec<ChannelReport> {
    t.instances
        .iter()
        .filter(|(name, _)| only.is_none_or(|o| o == name.as_str()))
        .flat_map(|(name, inst)| {
            inst.channels.iter().map(move |c| {
                let receiver = inst
                    .children
                    .get(&c.to)
                    .and_then(|child| child.primary.as_ref())
                    .and_then(|p| reports.iter().find(|r| &r.addr == p))
                    .and_then(|r| r.seen.as_ref())
                    .and_then(|s| s.inbound.iter().find(|i| i.peer == c.from));
                ChannelReport {
                    instance: name.clone(),
                    from: c.from.clone(),
                    to: c.to.clone(),
                    desired: c.state,
                    state: receiver.map(|i| i.state.clone()),
                    ms_behind: receiver.map(|i| i.ms_behind),
                    ops_behind: receiver.map(|i| i.ops_behind),
                }
            })
        })
        .collect()
}
