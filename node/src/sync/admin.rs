//! The node admin service (`proto/admin.proto`): open, pause, resume, close and list
//! channels at run time. Served on the sync port behind the cluster token.

use super::channel::{ChannelError, Desired};
use crate::config::Peer;
use crate::server::Node;
use gdc_proto::admin::node_admin_server::NodeAdmin;
use gdc_proto::admin::{Channel, ChannelList, ChannelRef, ListChannelsRequest, OpenChannelRequest};
use std::sync::Arc;
use tonic::{Request, Response, Status};

#[derive(Debug)]
pub struct AdminService {
    pub node: Arc<Node>,
}

impl From<ChannelError> for Status {
    fn from(e: ChannelError) -> Status {
        match e {
            ChannelError::Exists(_) => Status::already_exists(e.to_string()),
            ChannelError::NotFound(_) => Status::not_found(e.to_string()),
        }
    }
}

impl AdminService {
    fn list(&self) -> Response<ChannelList> {
        let shared = self.node.shared();
        let now = crate::store::now_ms();
        let own = self.node.lock_store().applied().clone();
        let mut channels: Vec<Channel> = shared
            .sync
            .inbound()
            .values()
            .map(|c| Channel {
                direction: "in".into(),
                peer: c.peer.clone(),
                addr: c.addr.clone(),
                state: c.state.to_string(),
                ops_applied: c.ops_applied,
                ops_behind: c.ops_behind,
                ms_behind: c.ms_behind(now),
                last_error: c.last_error.clone().unwrap_or_default(),
                full_syncs: c.full_syncs,
                repaired_keys: c.repaired_keys,
            })
            .collect();
        channels.extend(shared.sync.outbound().values().map(|s| Channel {
            direction: "out".into(),
            peer: s.region.clone(),
            addr: String::new(),
            state: "streaming".into(),
            ops_applied: 0,
            ops_behind: shared.sync.unacknowledged(&own, s),
            ms_behind: 0,
            last_error: String::new(),
            full_syncs: 0,
            repaired_keys: 0,
        }));
        Response::new(ChannelList { channels })
    }

    fn steer(
        &self,
        req: Request<ChannelRef>,
        want: Desired,
    ) -> Result<Response<ChannelList>, Status> {
        self.node.steer_channel(&req.into_inner().region, want)?;
        Ok(self.list())
    }
}

#[tonic::async_trait]
impl NodeAdmin for AdminService {
    async fn open_channel(
        &self,
        req: Request<OpenChannelRequest>,
    ) -> Result<Response<ChannelList>, Status> {
        let r = req.into_inner();
        let peer: Peer = format!("{}={}", r.region, r.addr)
            .parse()
            .map_err(Status::invalid_argument)?;
        if peer.region == self.node.shared().config.region {
            return Err(Status::invalid_argument(
                "a region cannot receive from itself",
            ));
        }
        self.node.open_channel(peer)?;
        Ok(self.list())
    }

    async fn pause_channel(
        &self,
        req: Request<ChannelRef>,
    ) -> Result<Response<ChannelList>, Status> {
        self.steer(req, Desired::Paused)
    }

    async fn resume_channel(
        &self,
        req: Request<ChannelRef>,
    ) -> Result<Response<ChannelList>, Status> {
        self.steer(req, Desired::Running)
    }

    async fn close_channel(
        &self,
        req: Request<ChannelRef>,
    ) -> Result<Response<ChannelList>, Status> {
        self.steer(req, Desired::Closed)
    }

    async fn list_channels(
        &self,
        _: Request<ListChannelsRequest>,
    ) -> Result<Response<ChannelList>, Status> {
        Ok(self.list())
    }
}
