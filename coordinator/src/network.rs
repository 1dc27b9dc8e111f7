//! Raft RPC to other coordinators: openraft's messages as JSON in a gRPC call
//! (`proto/raft.proto`), with the cluster token.

use crate::{NodeId, TypeConfig};
use gdc_proto::auth::BearerToken;
use gdc_proto::raft::RaftMessage;
use gdc_proto::raft::raft_client::RaftClient;
use gdc_proto::tls::ClientTls;
use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The largest Raft message sent or taken (a batch of log entries or a snapshot chunk, as
/// JSON): the limit of the calls made here and of the Raft RPC server every coordinator
/// runs.
pub const RAFT_MESSAGE_BYTES_MAX: usize = 64 << 20;

type Client = RaftClient<InterceptedService<Channel, BearerToken>>;
type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

/// Makes a [`Peer`] for each coordinator openraft talks to.
#[derive(Clone, Debug)]
pub struct Network {
    token: BearerToken,
    tls: Option<ClientTls>,
}

impl Network {
    pub fn new(token: BearerToken, tls: Option<ClientTls>) -> Network {
        Network { token, tls }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Peer {
        // Connects on first use (and again after a failure): a member that is down now
        // may be up by the time it is called.
        let client = gdc_proto::tls::endpoint(&node.addr, self.tls.as_ref()).map(|e| {
            let channel = e.tcp_nodelay(true).connect_lazy();
            RaftClient::with_interceptor(channel, self.token.clone())
                .max_decoding_message_size(RAFT_MESSAGE_BYTES_MAX)
                .max_encoding_message_size(RAFT_MESSAGE_BYTES_MAX)
        });
        Peer { target, client }
    }
}

/// The RPC client of one other coordinator.
#[derive(Debug)]
pub struct Peer {
    target: NodeId,
    client: Result<Client, String>,
}

/// Which RPC.
#[derive(Clone, Copy, Debug)]
enum Rpc {
    AppendEntries,
    Vote,
    InstallSnapshot,
}

impl Peer {
    async fn call<Resp, E>(
        &mut self,
        rpc: Rpc,
        req: &impl Serialize,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let mut client = match &self.client {
            Ok(c) => c.clone(),
            Err(e) => {
                return Err(RPCError::Unreachable(Unreachable::new(
                    &std::io::Error::other(e.clone()),
                )));
            }
        };
        let json = serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let msg = RaftMessage { json };
        let call = async move {
            match rpc {
                Rpc::AppendEntries => client.append_entries(msg).await,
                Rpc::Vote => client.vote(msg).await,
                Rpc::InstallSnapshot => client.install_snapshot(msg).await,
            }
        };
        let reply = match tokio::time::timeout(option.hard_ttl(), call).await {
            Err(elapsed) => return Err(RPCError::Unreachable(Unreachable::new(&elapsed))),
            Ok(Err(status)) if status.code() == tonic::Code::Unavailable => {
                return Err(RPCError::Unreachable(Unreachable::new(&status)));
            }
            Ok(Err(status)) => return Err(RPCError::Network(NetworkError::new(&status))),
            Ok(Ok(reply)) => reply.into_inner(),
        };
        let result: Result<Resp, RaftError<NodeId, E>> = serde_json::from_slice(&reply.json)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        self.call(Rpc::AppendEntries, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.call(Rpc::InstallSnapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>> {
        self.call(Rpc::Vote, &rpc, &option).await
    }
}
