//! The node admin service (`proto/admin.proto`): open, pause, resume, close and list
//! channels at run time. Served on the sync port behind the cluster token.

use super::Replication;
use super::control::{ChannelError, Desired};
use super::status::ChannelReport;
use crate::config::Peer;
use gdc_proto::admin::node_admin_server::NodeAdmin;
use gdc_proto::admin::{ChannelList, ChannelRef, ListChannelsRequest, OpenChannelRequest};
use std::sync::Arc;
use tonic::{Request, Response, Status};

#[derive(Debug)]
pub struct AdminService {
    pub node: Arc<Replication>,
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
    /// The channels' reports. The store is read once no script holds it, so that a long
    /// script does not block the runtime's thread here.
    async fn list(&self) -> Response<ChannelList> {
        let own = self
            .node
            .engine()
            .lock_store_when_free()
            .await
            .applied()
            .clone();
        let channels = self
            .node
            .reports(&own, crate::engine::store::now_ms())
            .iter()
            .map(ChannelReport::to_proto)
            .collect();
        Response::new(ChannelList { channels })
    }

    async fn steer(
        &self,
        req: Request<ChannelRef>,
        want: Desired,
    ) -> Result<Response<ChannelList>, Status> {
        self.node.steer_channel(&req.into_inner().region, want)?;
        Ok(self.list().await)
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
        if peer.region == self.node.config().region {
            return Err(Status::invalid_argument(
                "a region cannot receive from itself",
            ));
        }
        self.node.open_channel(peer)?;
        Ok(self.list().await)
    }

    async fn pause_channel(
        &self,
        req: Request<ChannelRef>,
    ) -> Result<Response<ChannelList>, Status> {
        self.steer(req, Desired::Paused).await
    }

    async fn resume_channel(
        &self,
        req: Request<ChannelRef>,
    ) -> Result<Response<ChannelList>, Status> {
        self.steer(req, Desired::Running).await
    }

    async fn close_channel(
        &self,
        req: Request<ChannelRef>,
    ) -> Result<Response<ChannelList>, Status> {
        self.steer(req, Desired::Closed).await
    }

    async fn list_channels(
        &self,
        _: Request<ListChannelsRequest>,
    ) -> Result<Response<ChannelList>, Status> {
        Ok(self.list().await)
    }
}
