//! The changes to the topology as the Raft log holds them, and what applying one gives:
//! each entry is a [`Proposal`] (a [`Change`], with the id of the request that proposed it),
//! and [`RecentRequests`] answers a retried request with its first [`Outcome`].

use super::{ChannelState, Topology};
use serde::{Deserialize, Serialize};

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
    /// The instance's ACL users become `lines` (one ACL LIST line each), at version
    /// `expected_version + 1`. Refused unless the instance's ACL is at `expected_version`
    /// (0: never set), so a writer that read an older version re-reads and tries again.
    SetAcl {
        instance: String,
        expected_version: u64,
        lines: Vec<String>,
    },
}

fn yes() -> bool {
    true
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
