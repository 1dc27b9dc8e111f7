//! The coordinator's gRPC services: Raft RPC from other coordinators (`proto/raft.proto`)
//! and the admin API (`proto/coordinator.proto`), kept apart so that operators never reach
//! Raft's internals and Raft never depends on the API's shape.

use crate::health::{self, Health};
use crate::store::StateMachine;
use crate::topology::{Assignment, Change, Proposal, Role};
use crate::{LEADER_METADATA, NodeId, Raft};
use gdc_proto::coordinator::coordinator_server::Coordinator;
use gdc_proto::coordinator::{
    AclRecord as AclRecordMsg, AddMemberRequest, Assignment as AssignmentMsg, ChangeReply,
    ChangeRequest, HeartbeatReply, HeartbeatRequest, Member, MembersReply, MembersRequest,
    RegisterRequest, RemoveMemberRequest, TopologyReply, TopologyRequest, Upstream as UpstreamMsg,
    WatchRequest,
};
use gdc_proto::raft::RaftMessage;
use gdc_proto::raft::raft_server::Raft as RaftRpc;
use gdc_proto::role::AssignedRole;
use openraft::BasicNode;
use openraft::ChangeMembers;
use openraft::TryAsRef;
use openraft::error::{ForwardToLeader, RaftError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

/// Raft RPC from other coordinators, handed to openraft.
#[derive(Clone)]
pub struct RaftService {
    pub raft: Raft,
}

impl std::fmt::Debug for RaftService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RaftService")
    }
}

fn decode<T: DeserializeOwned>(req: Request<RaftMessage>) -> Result<T, Status> {
    serde_json::from_slice(&req.into_inner().json)
        .map_err(|e| Status::invalid_argument(format!("not a Raft message: {e}")))
}

fn encode<T: Serialize>(reply: &T) -> Result<Response<RaftMessage>, Status> {
    serde_json::to_vec(reply)
        .map(|json| Response::new(RaftMessage { json }))
        .map_err(|e| Status::internal(e.to_string()))
}

#[tonic::async_trait]
impl RaftRpc for RaftService {
    async fn append_entries(
        &self,
        req: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        encode(&self.raft.append_entries(decode(req)?).await)
    }

    async fn vote(&self, req: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        encode(&self.raft.vote(decode(req)?).await)
    }

    async fn install_snapshot(
        &self,
        req: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        encode(&self.raft.install_snapshot(decode(req)?).await)
    }
}

/// The admin API: changes and reads of the topology, and the coordinator cluster's members.
#[derive(Clone)]
pub struct AdminService {
    pub raft: Raft,
    pub state: StateMachine,
    pub health: std::sync::Arc<Health>,
}

impl std::fmt::Debug for AdminService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminService")
    }
}

/// FAILED_PRECONDITION naming the leader (in the message and in `gdc-leader` metadata), for
/// a call made to a coordinator that is not the leader.
fn not_leader(fwd: &ForwardToLeader<NodeId, BasicNode>) -> Status {
    let mut metadata = MetadataMap::new();
    let message = match (&fwd.leader_id, &fwd.leader_node) {
        (Some(id), Some(node)) => {
            if let Ok(v) = node.addr.parse() {
                metadata.insert(LEADER_METADATA, v);
            }
            format!("not the leader: coordinator {id} at {} is", node.addr)
        }
        _ => "not the leader, and no leader is known yet (an election may be on)".to_string(),
    };
    Status::with_metadata(tonic::Code::FailedPrecondition, message, metadata)
}

/// A Raft error as a status: a redirect to the leader, or UNAVAILABLE.
fn raft_status<E>(e: RaftError<NodeId, E>) -> Status
where
    E: std::error::Error + TryAsRef<ForwardToLeader<NodeId, BasicNode>>,
{
    match (e.forward_to_leader(), &e) {
        (Some(fwd), _) => not_leader(fwd),
        // Refused for a reason retrying will not change (a membership change in progress,
        // an unknown member...): said once.
        (None, RaftError::APIError(_)) => Status::aborted(e.to_string()),
        (None, RaftError::Fatal(_)) => Status::unavailable(e.to_string()),
    }
}

/// An assignment as sent to a node.
fn assignment_msg(a: &Assignment, index: u64) -> AssignmentMsg {
    AssignmentMsg {
        role: match a.role {
            Role::Primary => AssignedRole::Primary,
            Role::Secondary => AssignedRole::Secondary,
            Role::Fenced => AssignedRole::Fenced,
            Role::Removed => AssignedRole::Removed,
        }
        .as_str()
        .into(),
        epoch: a.epoch,
        upstreams: a
            .upstreams
            .iter()
            .map(|u| UpstreamMsg {
                region: u.region.clone(),
                sync_addr: u.sync_addr.clone(),
                paused: u.paused,
                server_id: u.server_id,
                addr: u.addr.clone(),
            })
            .collect(),
        index,
        acl: Some(AclRecordMsg {
            version: a.acl.version,
            lines: a.acl.lines.clone(),
        }),
    }
}

/// A leader checks, this often, that it still leads while it streams assignments, and
/// sends the assignment again (a node that hears nothing for a few of these calls again).
pub const WATCH_RECHECK: Duration = Duration::from_secs(1);

impl AdminService {
    fn leads_a_quorum(&self) -> bool {
        health::leads_a_quorum(&self.raft, &self.health)
    }

    /// Stream `addr`'s assignment to `tx` whenever it changes, while this coordinator leads.
    async fn stream_assignments(
        self,
        addr: String,
        tx: mpsc::Sender<Result<AssignmentMsg, Status>>,
    ) {
        let mut changed = self.state.subscribe();
        let mut sent: Option<Assignment> = None;
        let mut again = false;
        loop {
            // A deposed leader ends the stream, and so does one cut off from its quorum: the
            // node calls again and finds the leader.
            if !self.leads_a_quorum() {
                let _ = tx
                    .send(Err(Status::unavailable("this coordinator no longer leads")))
                    .await;
                return;
            }
            let (now, index) = {
                let applied = self.state.read().await;
                (
                    applied.topology.assignment(&addr),
                    applied.last_applied.map_or(0, |l| l.index),
                )
            };
            if again || sent.as_ref() != Some(&now) {
                if tx.send(Ok(assignment_msg(&now, index))).await.is_err() {
                    return;
                }
                sent = Some(now);
            }
            again = tokio::select! {
                r = changed.changed() => if r.is_err() { return } else { false },
                _ = tokio::time::sleep(WATCH_RECHECK) => true,
                _ = tx.closed() => return,
            };
        }
    }

    fn members_reply(&self) -> MembersReply {
        let m = self.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        MembersReply {
            members: membership
                .nodes()
                .map(|(id, node)| Member {
                    id: *id,
                    addr: node.addr.clone(),
                    voter: voters.contains(id),
                })
                .collect(),
            leader: m.current_leader.unwrap_or(0),
            term: m.current_term,
            applied: m.last_applied.map_or(0, |l| l.index),
        }
    }
}

#[tonic::async_trait]
impl Coordinator for AdminService {
    async fn change(&self, req: Request<ChangeRequest>) -> Result<Response<ChangeReply>, Status> {
        let ChangeRequest { json, request } = req.into_inner();
        let change: Change = serde_json::from_str(&json)
            .map_err(|e| Status::invalid_argument(format!("not a change: {e}")))?;
        let proposal = Proposal {
            request: (request != 0).then_some(request),
            change,
        };
        let written = self
            .raft
            .client_write(proposal)
            .await
            .map_err(raft_status)?;
        Ok(Response::new(ChangeReply {
            index: written.log_id.index,
            refused: written.data.err().unwrap_or_default(),
        }))
    }

    async fn topology(
        &self,
        _: Request<TopologyRequest>,
    ) -> Result<Response<TopologyReply>, Status> {
        // Linearizable: this coordinator is still the leader and has applied everything
        // committed before the call.
        self.raft.ensure_linearizable().await.map_err(raft_status)?;
        let applied = self.state.read().await;
        let json = serde_json::to_string(&applied.topology)
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(TopologyReply {
            json,
            index: applied.last_applied.map_or(0, |l| l.index),
        }))
    }

    async fn members(&self, _: Request<MembersRequest>) -> Result<Response<MembersReply>, Status> {
        Ok(Response::new(self.members_reply()))
    }

    async fn add_member(
        &self,
        req: Request<AddMemberRequest>,
    ) -> Result<Response<MembersReply>, Status> {
        let AddMemberRequest { id, addr } = req.into_inner();
        if id == 0 {
            return Err(Status::invalid_argument("coordinator ids start at 1"));
        }
        // A learner first, which catches up on the log; then a voter.
        self.raft
            .add_learner(id, BasicNode::new(addr), true)
            .await
            .map_err(raft_status)?;
        self.raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map_err(raft_status)?;
        Ok(Response::new(self.members_reply()))
    }

    async fn register(
        &self,
        req: Request<RegisterRequest>,
    ) -> Result<Response<AssignmentMsg>, Status> {
        let r = req.into_inner();
        let change = Change::RegisterNode {
            instance: r.instance,
            region: r.region,
            addr: r.addr.clone(),
            sync_addr: r.sync_addr,
            server_id: r.server_id,
        };
        let written = self
            .raft
            .client_write(change.into())
            .await
            .map_err(raft_status)?;
        if let Err(why) = written.data {
            return Err(Status::invalid_argument(why));
        }
        let applied = self.state.read().await;
        Ok(Response::new(assignment_msg(
            &applied.topology.assignment(&r.addr),
            written.log_id.index,
        )))
    }

    type WatchStream = ReceiverStream<Result<AssignmentMsg, Status>>;

    async fn watch(
        &self,
        req: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let addr = req.into_inner().addr;
        // Only the leader streams assignments, and it starts from everything committed.
        self.raft.ensure_linearizable().await.map_err(raft_status)?;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(self.clone().stream_assignments(addr, tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn heartbeat(
        &self,
        req: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatReply>, Status> {
        // Only the leader's record decides failovers: others send the node there.
        let m = self.raft.metrics().borrow().clone();
        if m.current_leader != Some(m.id) {
            let leader_node = m
                .current_leader
                .and_then(|id| m.membership_config.membership().get_node(&id).cloned());
            return Err(not_leader(&ForwardToLeader {
                leader_id: m.current_leader,
                leader_node,
            }));
        }
        // A leader cut off from its quorum does not answer for the coordinators: the
        // majority may elect another. The node then counts itself out of their reach (it
        // takes writes all the same), and this one records no heartbeat it cannot act on.
        if !self.leads_a_quorum() {
            return Err(Status::unavailable(
                "this coordinator has not heard from a quorum lately",
            ));
        }
        let r = req.into_inner();
        self.health.heard(&r.addr, r.applied_ops);
        Ok(Response::new(HeartbeatReply {
            contact_ms: self.health.timeout.as_millis() as u64,
        }))
    }

    async fn remove_member(
        &self,
        req: Request<RemoveMemberRequest>,
    ) -> Result<Response<MembersReply>, Status> {
        let id = req.into_inner().id;
        self.raft
            .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
            .await
            .map_err(raft_status)?;
        Ok(Response::new(self.members_reply()))
    }
}
