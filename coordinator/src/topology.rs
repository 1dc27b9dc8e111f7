//! What the coordinators agree on: distributed instances, their child instances (one per
//! region), the nodes that serve them, and the channels between regions. Every change is a
//! [`Change`] committed through Raft and applied here, in log order, by every coordinator;
//! applying is deterministic, so all of them hold the same topology.
//!
//! This module holds the data; `change` the changes as the Raft log holds them (and the
//! outcomes of recent requests, for retries); `apply` how each change is made; and
//! `assignment` what the topology tells each node to be.

mod apply;
mod assignment;
mod change;

pub use apply::{ACL_BYTES_MAX, ACL_LINES_MAX};
pub use assignment::{Assignment, Role, Upstream};
pub use change::{Change, Outcome, Proposal, RecentRequests};

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

/// A distributed instance: one logical cache, with a child instance in each region.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Child instances by region name.
    pub children: BTreeMap<String, Child>,
    /// Channels between its regions, each one way.
    pub channels: Vec<Channel>,
    /// Its ACL users, the same at every node. Left out of the JSON until first set, as
    /// topologies from before ACLs were replicated hold it (they read as never set).
    #[serde(default, skip_serializing_if = "AclRecord::never_set")]
    pub acl: AclRecord,
}

/// An instance's ACL users: one ACL LIST line per user (`user default on nopass ~* &*
/// +@all`), which the nodes read and check in full. Changed only by a compare-and-set on
/// `version` (`set-acl`), so a node that read version N and writes N+1 cannot undo a change
/// it never saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclRecord {
    /// Raised by one at every change; 0: never set (the nodes keep their own users).
    #[serde(default)]
    pub version: u64,
    #[serde(default)]
    pub lines: Vec<String>,
}

impl AclRecord {
    fn never_set(&self) -> bool {
        self.version == 0
    }
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

impl Topology {
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

    /// shop with region eu, whose node eu1 has registered.
    fn shop_with_eu1() -> Topology {
        let mut t = Topology::default();
        for json in [
            r#"{"op":"create-instance","name":"shop"}"#,
            r#"{"op":"add-child","instance":"shop","region":"eu"}"#,
            r#"{"op":"register-node","instance":"shop","region":"eu","addr":"eu1","sync_addr":"s1","server_id":1}"#,
        ] {
            t.apply(&change(json)).expect(json);
        }
        t
    }

    fn set_acl(expected_version: u64, lines: &[&str]) -> Change {
        Change::SetAcl {
            instance: "shop".into(),
            expected_version,
            lines: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    fn acl(version: u64, lines: &[&str]) -> AclRecord {
        AclRecord {
            version,
            lines: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn set_acl_applies_only_at_the_expected_version_and_raises_it_by_one() {
        let mut t = shop_with_eu1();
        assert_eq!(t.instances["shop"].acl, acl(0, &[]), "never set");
        let first = [
            "user default on nopass ~* &* +@all",
            "user app on #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 ~app:* +@read",
        ];
        assert_eq!(t.apply(&set_acl(0, &first)), Ok(()));
        assert_eq!(t.instances["shop"].acl, acl(1, &first));
        assert_eq!(t.assignment("eu1").acl, acl(1, &first));
        // A writer that read version 0 (or one that never was) is refused, and nothing
        // changes: it re-reads and tries again.
        let before = t.clone();
        assert_eq!(
            t.apply(&set_acl(0, &["user default off"])),
            Err("the ACL of instance 'shop' is at version 1, not 0".into())
        );
        assert_eq!(
            t.apply(&set_acl(7, &["user default off"])),
            Err("the ACL of instance 'shop' is at version 1, not 7".into())
        );
        assert_eq!(t, before);
        assert_eq!(t.apply(&set_acl(1, &["user default off"])), Ok(()));
        assert_eq!(t.assignment("eu1").acl, acl(2, &["user default off"]));
        // A removed node is told nothing of the users.
        assert_eq!(t.assignment("gone").acl, acl(0, &[]));
    }

    #[test]
    fn set_acl_refuses_unknown_instances_lines_that_are_not_users_and_too_much() {
        let mut t = shop_with_eu1();
        let before = t.clone();
        let too_many: Vec<String> = (0..=ACL_LINES_MAX)
            .map(|i| format!("user u{i} on"))
            .collect();
        let too_long = vec![format!("user big on >{}", "x".repeat(ACL_BYTES_MAX))];
        for (c, why) in [
            (
                Change::SetAcl {
                    instance: "nope".into(),
                    expected_version: 0,
                    lines: vec![],
                },
                "no instance 'nope'".to_string(),
            ),
            (
                set_acl(0, &["user default on", "default on nopass"]),
                "ACL line 2 is not one line starting with 'user ': 'default on nopass'".into(),
            ),
            (
                set_acl(0, &["user a on\nuser b on"]),
                "ACL line 1 is not one line".into(),
            ),
            (
                Change::SetAcl {
                    instance: "shop".into(),
                    expected_version: 0,
                    lines: too_many,
                },
                format!("an ACL holds at most {ACL_LINES_MAX} users"),
            ),
            (
                Change::SetAcl {
                    instance: "shop".into(),
                    expected_version: 0,
                    lines: too_long,
                },
                format!("and {ACL_BYTES_MAX} bytes, not 1 and"),
            ),
        ] {
            let got = t.apply(&c);
            assert!(
                got.as_ref().is_err_and(|e| e.contains(&why)),
                "{why}: {got:?}"
            );
            assert_eq!(t, before);
        }
    }

    #[test]
    fn topologies_from_before_replicated_acls_read_as_never_set_and_are_written_as_before() {
        let old = r#"{"instances":{"shop":{"children":{},"channels":[]}}}"#;
        let mut t: Topology = serde_json::from_str(old).expect("an old topology");
        assert_eq!(t.instances["shop"].acl, acl(0, &[]));
        let written = serde_json::to_string(&t).expect("json");
        assert_eq!(
            written,
            r#"{"instances":{"shop":{"children":{},"channels":[]}},"nodes":{},"history":[]}"#
        );
        t.apply(&change(
            r#"{"op":"set-acl","instance":"shop","expected_version":0,"lines":["user default on nopass ~* &* +@all"]}"#,
        ))
        .expect("set-acl as JSON");
        let written = serde_json::to_string(&t).expect("json");
        assert!(
            written
                .contains(r#""acl":{"version":1,"lines":["user default on nopass ~* &* +@all"]}"#),
            "{written}"
        );
        let back: Topology = serde_json::from_str(&written).expect("read back");
        assert_eq!(back, t);
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
}
