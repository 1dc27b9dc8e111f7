//! `gdcctl status`: the topology as the coordinators hold it, beside what each node says of
//! itself (whether it answers, its role and epoch, how far behind its channels are).

use crate::tools::nodes::{self, NodeRole, NodeState};
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
                    NodeRole::Primary
                } else {
                    NodeRole::Secondary
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
    /// A primary's channels from its own region's other nodes do not count: they only
    /// drain what a former primary never shipped, and after a failover the one from the
    /// dead old primary would count its silence as lag for ever.
    pub fn behind(&self) -> Option<(u64, u64)> {
        let s = self.seen.as_ref()?;
        let own_region = format!("{}@", self.region);
        let counted = || {
            s.inbound
                .iter()
                .filter(|c| self.assigned == "secondary" || !c.peer.starts_with(&own_region))
        };
        Some((
            counted().map(|c| c.ms_behind).max().unwrap_or(0),
            counted().map(|c| c.ops_behind).sum(),
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
                let primary_state = |region: &str| {
                    inst.children
                        .get(region)
                        .and_then(|child| child.primary.as_ref())
                        .and_then(|p| reports.iter().find(|r| &r.addr == p))
                        .and_then(|r| r.seen.as_ref())
                };
                let receiver = primary_state(&c.to);
                let channel = receiver.and_then(|s| s.inbound.iter().find(|i| i.peer == c.from));
                // A paused channel hears nothing from its sender, so the receiver's count
                // stops where the pause began: what it lacks is what the sender's primary
                // has applied and it has not.
                let ops_behind = match (channel, primary_state(&c.from)) {
                    (Some(i), Some(sender)) if i.state == "paused" => {
                        receiver.map(|r| ops_lacking(&sender.applied, &r.applied))
                    }
                    _ => channel.map(|i| i.ops_behind),
                };
                ChannelReport {
                    instance: name.clone(),
                    from: c.from.clone(),
                    to: c.to.clone(),
                    desired: c.state,
                    state: channel.map(|i| i.state.clone()),
                    ms_behind: channel.map(|i| i.ms_behind),
                    ops_behind,
                }
            })
        })
        .collect()
}

/// `gdcctl status` as a person reads it: a table of nodes (what the topology makes each
/// one, what it says, how far behind it is) and one of channels, of `instance` if given.
pub fn render(
    t: &Topology,
    instance: Option<&str>,
    nodes: &[NodeReport],
    channels: &[ChannelReport],
) -> String {
    let mut out = String::new();
    let behind = |ms: Option<u64>, ops: Option<u64>| match (ms, ops) {
        (Some(ms), Some(ops)) => format!("{ms} ms, {ops} ops"),
        _ => "-".into(),
    };
    let empty_regions = t
        .instances
        .iter()
        .filter(|(name, _)| instance.is_none_or(|i| i == name.as_str()))
        .flat_map(|(name, i)| {
            i.children
                .iter()
                .filter(|(_, c)| c.primary.is_none() && c.secondaries.is_empty())
                .map(move |(region, c)| {
                    [
                        name.as_str(),
                        region,
                        "-",
                        "-",
                        &c.epoch.to_string(),
                        "no nodes",
                        "-",
                    ]
                    .map(str::to_string)
                    .to_vec()
                })
        });
    let rows = nodes
        .iter()
        .map(|n| {
            let b = n.behind();
            vec![
                n.instance.clone(),
                n.region.clone(),
                n.addr.clone(),
                n.assigned.to_string(),
                n.epoch.to_string(),
                n.health(),
                behind(b.map(|b| b.0), b.map(|b| b.1)),
            ]
        })
        .chain(empty_regions)
        .collect();
    out.push_str(&table(
        &[
            "INSTANCE", "REGION", "NODE", "ROLE", "EPOCH", "HEALTH", "BEHIND",
        ],
        rows,
    ));
    out.push('\n');
    let rows = channels
        .iter()
        .map(|c| {
            vec![
                c.instance.clone(),
                c.from.clone(),
                c.to.clone(),
                channel_state(c.desired).to_string(),
                c.state.clone().unwrap_or_else(|| "-".into()),
                behind(c.ms_behind, c.ops_behind),
            ]
        })
        .collect();
    out.push_str(&table(
        &["INSTANCE", "FROM", "TO", "WANTED", "AT RECEIVER", "BEHIND"],
        rows,
    ));
    out
}

/// A channel's wanted state, as gdcctl prints it.
pub fn channel_state(s: ChannelState) -> &'static str {
    match s {
        ChannelState::Running => "running",
        ChannelState::Paused => "paused",
    }
}

/// Columns padded to their widest cell.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Ops `has` covers that `lacks` does not (applied vectors: server-id → op).
fn ops_lacking(
    has: &std::collections::BTreeMap<u32, u64>,
    lacks: &std::collections::BTreeMap<u32, u64>,
) -> u64 {
    has.iter()
        .map(|(id, op)| op.saturating_sub(lacks.get(id).copied().unwrap_or(0)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::nodes::Inbound;
    use crate::topology::{Channel, Child, Instance};
    use std::collections::BTreeMap;

    fn inbound(peer: &str, state: &str, ops_behind: u64, ms_behind: u64) -> Inbound {
        Inbound {
            peer: peer.into(),
            state: state.into(),
            ops_behind,
            ms_behind,
        }
    }

    fn report(region: &str, addr: &str, assigned: &'static str, seen: NodeState) -> NodeReport {
        NodeReport {
            instance: "shop".into(),
            region: region.into(),
            addr: addr.into(),
            assigned,
            epoch: 2,
            seen: Some(seen),
            error: None,
        }
    }

    fn state(applied: &[(u32, u64)], inbound: Vec<Inbound>) -> NodeState {
        NodeState {
            region: "eu".into(),
            coordination: "following".into(),
            role: NodeRole::Primary,
            epoch: 2,
            assignment_index: 0,
            applied: applied.iter().copied().collect(),
            inbound,
        }
    }

    #[test]
    fn a_primary_is_not_behind_for_its_channel_from_a_dead_former_primary() {
        let channels = || {
            vec![
                inbound("us", "streaming", 3, 40),
                inbound("eu@10.0.0.1:7101", "error", 0, 90_000),
            ]
        };
        let primary = report("eu", "10.0.0.2:7001", "primary", state(&[], channels()));
        assert_eq!(primary.behind(), Some((40, 3)));
        // A secondary's channel from its own region's primary is all its lag.
        let secondary = report("eu", "10.0.0.3:7001", "secondary", state(&[], channels()));
        assert_eq!(secondary.behind(), Some((90_000, 3)));
    }

    #[test]
    fn a_paused_channel_counts_what_its_receiver_lacks_of_the_senders_ops() {
        let child = |primary: &str| Child {
            primary: Some(primary.into()),
            epoch: 2,
            ..Child::default()
        };
        let mut t = Topology::default();
        t.instances.insert(
            "shop".into(),
            Instance {
                children: BTreeMap::from([
                    ("eu".into(), child("eu:1")),
                    ("us".into(), child("us:1")),
                ]),
                channels: vec![
                    Channel {
                        from: "us".into(),
                        to: "eu".into(),
                        state: ChannelState::Paused,
                    },
                    Channel {
                        from: "eu".into(),
                        to: "us".into(),
                        state: ChannelState::Running,
                    },
                ],
                ..Instance::default()
            },
        );
        // eu paused its channel from us when it had us's 100 ops; us has 130 by now, and
        // eu's own channel figure still says 0.
        let eu = state(&[(1, 50), (2, 100)], vec![inbound("us", "paused", 0, 0)]);
        let us = state(
            &[(1, 48), (2, 130)],
            vec![inbound("eu", "streaming", 2, 15)],
        );
        let reports = [
            report("eu", "eu:1", "primary", eu),
            report("us", "us:1", "primary", us),
        ];
        let listed = channels(&t, None, &reports);
        let find = |from: &str| listed.iter().find(|c| c.from == from).expect("listed");
        assert_eq!(find("us").ops_behind, Some(30));
        assert_eq!(find("us").state.as_deref(), Some("paused"));
        // A running channel keeps its receiver's own figure.
        assert_eq!(find("eu").ops_behind, Some(2));
        assert_eq!(find("eu").ms_behind, Some(15));
    }
}
